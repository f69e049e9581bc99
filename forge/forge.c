/*
 * forge: the adapter-independent half of the Forge Adapter Contract:
 * releasing and copying what operations return, and capabilities.json.
 * The description rendering lives in render.c.
 */
#include "forge/forge.h"
#include "util/jsontext.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/str.h"

void forge_free(struct forge *f)
{
	if (f && f->ops && f->ops->free)
		f->ops->free(f);
}

void forge_issue_release(struct forge_issue *i)
{
	size_t k;

	if (!i)
		return;
	free(i->title);
	free(i->body);
	free(i->state);
	free(i->author);
	for (k = 0; k < i->n_labels; k++)
		free(i->labels[k]);
	free(i->labels);
	free(i->updated_at);
	free(i->created_at);
	free(i->head);
	free(i->base);
	free(i->json);
	memset(i, 0, sizeof(*i));
}

void forge_issue_list_release(struct forge_issue_list *l)
{
	size_t k;

	if (!l)
		return;
	for (k = 0; k < l->n; k++)
		forge_issue_release(&l->v[k]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void forge_comment_release(struct forge_comment *c)
{
	if (!c)
		return;
	free(c->body);
	free(c->author);
	free(c->created_at);
	free(c->updated_at);
	memset(c, 0, sizeof(*c));
}

void forge_comment_list_release(struct forge_comment_list *l)
{
	size_t k;

	if (!l)
		return;
	for (k = 0; k < l->n; k++)
		forge_comment_release(&l->v[k]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void forge_name_list_release(struct forge_name_list *l)
{
	size_t k;

	if (!l)
		return;
	for (k = 0; k < l->n; k++)
		free(l->v[k]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Copies s into *dst; NULL stays NULL. False only when out of memory. */
static bool dup_field(char **dst, const char *s)
{
	*dst = str_dup(s);
	return !s || *dst;
}

int forge_issue_copy(struct forge_issue *dst, const struct forge_issue *src)
{
	struct forge_issue t;
	size_t k;

	memset(&t, 0, sizeof(t));
	t.number = src->number;
	t.n_comments = src->n_comments;
	t.is_pull = src->is_pull;
	t.merged = src->merged;
	t.draft = src->draft;
	if (!dup_field(&t.title, src->title) || !dup_field(&t.body, src->body) ||
	    !dup_field(&t.state, src->state) || !dup_field(&t.author, src->author) ||
	    !dup_field(&t.updated_at, src->updated_at) ||
	    !dup_field(&t.created_at, src->created_at) || !dup_field(&t.head, src->head) ||
	    !dup_field(&t.base, src->base) || !dup_field(&t.json, src->json))
		goto fail;
	if (src->n_labels) {
		t.labels = calloc(src->n_labels, sizeof(*t.labels));
		if (!t.labels)
			goto fail;
		for (k = 0; k < src->n_labels; k++) {
			if (!dup_field(&t.labels[k], src->labels[k]))
				goto fail;
			t.n_labels = k + 1;
		}
	}
	*dst = t;
	return 0;
fail:
	/* n_labels counts only the copied labels, so release frees exactly those. */
	forge_issue_release(&t);
	return -ENOMEM;
}

int forge_comment_copy(struct forge_comment *dst, const struct forge_comment *src)
{
	struct forge_comment t;

	memset(&t, 0, sizeof(t));
	t.id = src->id;
	t.issue = src->issue;
	if (!dup_field(&t.body, src->body) || !dup_field(&t.author, src->author) ||
	    !dup_field(&t.created_at, src->created_at) ||
	    !dup_field(&t.updated_at, src->updated_at)) {
		forge_comment_release(&t);
		return -ENOMEM;
	}
	*dst = t;
	return 0;
}

char *forge_capabilities_json(const struct forge_capabilities *caps)
{
	json_t *o;
	char *out;

	/*
	 * Keys in a fixed order so the file is byte-stable across mounts; the
	 * fields a mount showed before come first, ADR-0018's after them.
	 */
	o = json_pack("{s:s, s:I, s:s, s:b, s:b, s:b, s:I, s:b, s:b, s:b, s:b}", "name",
		      caps->name ? caps->name : "", "max_description_len",
		      (json_int_t)caps->max_description_len, "max_description_unit",
		      caps->description_unit == FORGE_LEN_CHARS ? "characters" : "bytes",
		      "structured_metadata", caps->structured_metadata, "push_branch",
		      caps->push_branch, "update_pr_status", caps->update_pr_status,
		      "max_page_size", (json_int_t)caps->max_page_size, "trajectory_linking",
		      caps->trajectory_linking, "agent_identity", caps->agent_identity, "bounties",
		      caps->bounties, "conditional_reads", caps->conditional_reads);
	if (!o)
		return NULL;
	/* A bare git remote says what it does not do (other adapters' files are unchanged). */
	if (caps->git_only && (json_object_set_new(o, "issues", json_false()) < 0 ||
			       json_object_set_new(o, "create_pr", json_false()) < 0 ||
			       json_object_set_new(o, "post_comment", json_false()) < 0)) {
		json_decref(o);
		return NULL;
	}
	out = jsontext_pretty(o);
	json_decref(o);
	return out;
}

void forge_validator_release(struct forge_validator *v)
{
	if (!v)
		return;
	free(v->etag_out);
	v->etag_out = NULL;
}

/* The plain read was asked: nothing to validate next time. */
static void unconditional(struct forge_validator *val)
{
	if (val) {
		val->etag_out = NULL;
		val->not_modified = false;
	}
}

int forge_list_issues_cond(struct forge *f, const char *owner, const char *repo,
			   enum forge_kind kind, const char *since, struct forge_validator *val,
			   struct forge_issue_list *out, struct buf *err)
{
	int r;

	if (val && f->ops->list_issues_cond)
		return f->ops->list_issues_cond(f, owner, repo, kind, since, val, out, err);
	r = f->ops->list_issues(f, owner, repo, kind, since, out, err);
	if (r == 0)
		unconditional(val);
	return r;
}

int forge_get_issue_cond(struct forge *f, const char *owner, const char *repo, uint64_t number,
			 struct forge_validator *val, struct forge_issue *out, struct buf *err)
{
	int r;

	if (val && f->ops->get_issue_cond)
		return f->ops->get_issue_cond(f, owner, repo, number, val, out, err);
	r = f->ops->get_issue(f, owner, repo, number, out, err);
	if (r == 0)
		unconditional(val);
	return r;
}

int forge_get_pull_cond(struct forge *f, const char *owner, const char *repo, uint64_t number,
			struct forge_validator *val, struct forge_issue *out, struct buf *err)
{
	int r;

	if (val && f->ops->get_pull_cond)
		return f->ops->get_pull_cond(f, owner, repo, number, val, out, err);
	r = f->ops->get_pull(f, owner, repo, number, out, err);
	if (r == 0)
		unconditional(val);
	return r;
}

int forge_list_comments_cond(struct forge *f, const char *owner, const char *repo, uint64_t number,
			     struct forge_validator *val, struct forge_comment_list *out,
			     struct buf *err)
{
	int r;

	if (val && f->ops->list_comments_cond)
		return f->ops->list_comments_cond(f, owner, repo, number, val, out, err);
	r = f->ops->list_comments(f, owner, repo, number, out, err);
	if (r == 0)
		unconditional(val);
	return r;
}

int forge_list_repo_comments_cond(struct forge *f, const char *owner, const char *repo,
				  const char *since, struct forge_validator *val,
				  struct forge_comment_list *out, struct buf *err)
{
	int r;

	if (val && f->ops->list_repo_comments_cond)
		return f->ops->list_repo_comments_cond(f, owner, repo, since, val, out, err);
	if (!f->ops->list_repo_comments)
		return buf_fail(err, -ENOTSUP, "the adapter cannot list a repository's comments");
	r = f->ops->list_repo_comments(f, owner, repo, since, out, err);
	if (r == 0)
		unconditional(val);
	return r;
}

int forge_get_diff_cond(struct forge *f, const char *owner, const char *repo, uint64_t number,
			struct forge_validator *val, struct buf *out, struct buf *err)
{
	int r;

	if (val && f->ops->get_diff_cond)
		return f->ops->get_diff_cond(f, owner, repo, number, val, out, err);
	r = f->ops->get_diff(f, owner, repo, number, out, err);
	if (r == 0)
		unconditional(val);
	return r;
}
