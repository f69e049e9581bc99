/*
 * write: one write through the mount, from the scope check to the outcome
 * (write.h, write_commit): a field change, a comment, a pull request or
 * the done signal (signal.c), each journaled first (journal.c).
 */
#include "write/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int write_new(const struct write_options *opt, struct write **out, struct buf *err)
{
	struct write *w = calloc(1, sizeof(*w));
	struct scope *s = opt->scope;
	uint64_t *prs = NULL;
	size_t n = 0, i;
	char *text;
	int r = 0;

	if (!w)
		return -ENOMEM;
	w->opt = *opt;
	pthread_mutex_init(&w->lock, NULL);
	if (!s->assigned)
		goto out;
	r = state_pr_list(opt->state, s->owner, s->repo, s->issue, &prs, &n);
	if (r < 0) {
		r = buf_fail(err, r, "cannot read the pull requests of the assignment: %s",
			     strerror(-r));
		goto out;
	}
	for (i = 0; i < n && r == 0; i++)
		r = scope_add_pr(s, prs[i]);
	free(prs);
	if (r < 0) {
		r = buf_fail(err, r, "cannot keep the pull requests of the assignment: %s",
			     strerror(-r));
		goto out;
	}
	r = state_done_get(opt->state, s->owner, s->repo, s->issue, &text);
	if (r == 0) {
		w->done_text = text;
		scope_set_done(s);
	} else if (r == -ENOENT) {
		r = 0;
	} else {
		r = buf_fail(err, r, "cannot read the done signal of the assignment: %s",
			     strerror(-r));
	}
out:
	if (r < 0) {
		write_free(w);
		return r;
	}
	/* A takeover of the lease loads and recovers through this write (lease.c). */
	lease_bind(s->lease, w);
	*out = w;
	return 0;
}

void write_free(struct write *w)
{
	if (!w)
		return;
	if (w->opt.scope)
		lease_bind(w->opt.scope->lease, NULL);
	pthread_mutex_destroy(&w->lock);
	free(w->done_text);
	free(w);
}

/* Labels: one name a line, blank lines and surrounding spaces ignored. */
static int split_labels(char *text, const char ***out, size_t *n)
{
	const char **v = NULL;
	size_t k = 0;
	char *line = text, *end;

	while (line && *line) {
		const char **nv;

		end = strchr(line, '\n');
		if (end)
			*end = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		for (char *t = line + strlen(line);
		     t > line && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r');)
			*--t = '\0';
		if (*line) {
			nv = realloc(v, (k + 1) * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			v[k++] = line;
		}
		line = end ? end + 1 : NULL;
	}
	*out = v;
	*n = k;
	return 0;
}

int write_send_field(struct write *w, const char *owner, const char *repo, uint64_t number,
		     const char *field, const char *text, struct buf *err)
{
	struct forge *f = w->opt.forge;
	struct forge_issue_patch p = {0};
	const char **labels = NULL;
	char *copy = NULL;
	int r;

	if (strcmp(field, "title") == 0) {
		p.title = text;
	} else if (strcmp(field, "body") == 0) {
		p.body = text;
	} else if (strcmp(field, "state") == 0) {
		/* Only a pull request's state passes as draft or ready (write_check_target_field).
		 */
		if (strcmp(text, "draft") == 0 || strcmp(text, "ready") == 0)
			return f->ops->update_pr_status(f, owner, repo, number, text, err);
		p.state = text;
	} else {
		copy = strdup(text);
		if (!copy)
			return -ENOMEM;
		r = split_labels(copy, &labels, &p.n_labels);
		if (r < 0) {
			free(copy);
			return r;
		}
		p.labels = labels;
		p.has_labels = true;
	}
	r = f->ops->update_issue(f, owner, repo, number, &p, err);
	free(labels);
	free(copy);
	return r;
}

/*
 * A pull request's body is a description the daemon sends: the receipt it
 * wrote there is kept and the agent's text may not forge one, whatever
 * path the text came by (forge/forge.h, forge_render_pr_body). *text is
 * replaced by what is to be sent.
 */
static int pr_description(struct write *w, const struct write_target *t, char **text,
			  struct buf *err)
{
	struct forge *f = w->opt.forge;
	struct buf out = BUF_INIT(0), why = BUF_INIT(4096);
	struct forge_capabilities caps;
	struct forge_issue pr;
	int r;

	r = f->ops->get_pull(f, t->owner, t->repo, t->number, &pr, &why);
	if (r < 0) {
		if (err)
			buf_note(err, "cannot read the description to keep its receipt: %s",
				 buf_cstr(&why));
		goto out;
	}
	memset(&caps, 0, sizeof(caps));
	f->ops->capabilities(f, &caps);
	r = forge_render_pr_body(&caps, pr.body, *text, &out, err);
	forge_issue_release(&pr);
	if (r == 0) {
		free(*text);
		*text = buf_steal(&out, NULL);
		r = *text ? 0 : -ENOMEM;
	}
out:
	buf_release(&out);
	buf_release(&why);
	return r;
}

static int commit_field(struct write *w, const struct write_target *t, const char *data, size_t len,
			struct buf *err)
{
	struct job j = {.kind = "patch", .owner = t->owner, .repo = t->repo, .number = t->number};
	char *text = NULL;
	int64_t id;
	int r;

	r = write_check_target_field(t, data, len, &text, err);
	if (r == 0 && t->pull && t->field == WRITE_BODY &&
	    (r = pr_description(w, t, &text, err)) < 0)
		free(text);
	if (r < 0)
		return r;
	j.field = write_field_name(t->field);
	j.payload = text;
	journal_place(t->owner, t->repo, t->pull, t->number, j.at, sizeof(j.at));
	r = journal_begin(w, &j, &id, err);
	if (r == 0) {
		r = write_send_field(w, t->owner, t->repo, t->number, j.field, text, err);
		journal_end(w, &j, id, r, j.field, err);
		write_changed(w, t->owner, t->repo, t->pull, t->number);
	}
	free(text);
	return r;
}

static int commit_comment(struct write *w, const struct write_target *t, const char *data,
			  size_t len, char *created, size_t created_size, struct buf *err)
{
	struct job j = {.kind = "comment", .owner = t->owner, .repo = t->repo, .number = t->number};
	struct forge *f = w->opt.forge;
	struct forge_comment c;
	char *text, answer[64];
	int64_t id;
	int r;

	r = write_check_comment(data, len, &text, err);
	if (r < 0)
		return r;
	j.payload = text;
	journal_place(t->owner, t->repo, t->pull, t->number, j.at, sizeof(j.at));
	strncat(j.at, "/comments/new", sizeof(j.at) - strlen(j.at) - 1);
	r = journal_begin(w, &j, &id, err);
	if (r == 0) {
		r = f->ops->post_comment(f, t->owner, t->repo, t->number, text, &c, err);
		if (r == 0) {
			snprintf(answer, sizeof(answer), "comment %llu", (unsigned long long)c.id);
			j.forge_id = c.id;
			snprintf(created, created_size, "%s", answer);
			forge_comment_release(&c);
		}
		journal_end(w, &j, id, r, answer, err);
		write_changed(w, t->owner, t->repo, t->pull, t->number);
	}
	free(text);
	return r;
}

/*
 * The pull request is opened; it enters the state store (pr_slot_give)
 * and this run's scope. Either failing does not undo it: the agent is
 * told the number, and the journal's answer (in *answer) says what could
 * not be kept.
 */
static void keep_pull(struct write *w, uint64_t number, char *answer, size_t size)
{
	int r = pr_slot_give(w, number);

	if (r == 0)
		r = scope_add_pr(w->opt.scope, number);
	if (r < 0)
		snprintf(answer, size, "pull %llu (not kept in scope: %s)",
			 (unsigned long long)number, strerror(-r));
}

static int commit_pull(struct write *w, const struct write_target *t, const char *data, size_t len,
		       struct buf *reply, char *created, size_t created_size, struct buf *err)
{
	struct job j = {.kind = "create_pr", .owner = t->owner, .repo = t->repo};
	struct forge *f = w->opt.forge;
	struct prnew p;
	char answer[128];
	uint64_t number = 0;
	bool given = false; /* the slot is back */
	int64_t id;
	int r;

	r = prnew_parse(data, len, &p, err);
	if (r < 0)
		return r;
	r = pr_slot_take(w, err);
	if (r < 0) {
		prnew_release(&p);
		return r;
	}
	j.payload = strndup(data, len);
	if (!j.payload) {
		/* Nothing was opened: giving the slot back touches no store. */
		(void)!pr_slot_give(w, 0);
		prnew_release(&p);
		return -ENOMEM;
	}
	snprintf(j.at, sizeof(j.at), "%s/%s/pulls/new", t->owner, t->repo);
	r = journal_begin(w, &j, &id, err);
	if (r == 0) {
		struct floor_ctx fc = {w->opt.state, id};

		r = f->ops->create_pr(f, t->owner, t->repo, &p.req, journal_floor, &fc, &number,
				      err);
		if (r == 0) {
			snprintf(answer, sizeof(answer), "pull %llu", (unsigned long long)number);
			snprintf(created, created_size, "pull %llu", (unsigned long long)number);
			j.forge_id = number;
			/* In scope from now on, and after a restart (the store). */
			keep_pull(w, number, answer, sizeof(answer));
			given = true;
			if (reply && buf_printf(reply, "%llu\n", (unsigned long long)number) < 0)
				buf_reset(reply); /* a read then shows nothing; the PR is open */
		}
		journal_end(w, &j, id, r, answer, err);
		write_changed(w, t->owner, t->repo, -1, 0);
	}
	if (!given)
		(void)!pr_slot_give(w, 0); /* nothing was opened: no store to touch */
	free((char *)j.payload);
	prnew_release(&p);
	return r;
}

/*
 * One line in the mount's outcome log (/.bottlefs/log): the path, ok with
 * what the forge created, or the errno and the reason.
 */
static void record_outcome(struct write *w, const struct write_target *t, int r, const char *id,
			   const struct buf *err)
{
	wlog_add(w->opt.log, t->path ? t->path : "?", r,
		 r == 0 ? id : (err && err->len ? buf_cstr(err) : strerror(-r)));
}

int write_commit(struct write *w, const struct write_target *t, const char *data, size_t len,
		 struct buf *reply, struct buf *err)
{
	char id[64] = "";
	int r = scope_check(w->opt.scope, t, err);

	/* One writer per assignment: on a shared store, only the lease's holder (lease.c). */
	if (r == 0)
		r = lease_may_write(w->opt.scope->lease, err);
	if (r == 0) {
		switch (t->kind) {
		case WRITE_FIELD:
			r = commit_field(w, t, data, len, err);
			break;
		case WRITE_COMMENT:
			r = commit_comment(w, t, data, len, id, sizeof(id), err);
			break;
		case WRITE_PULL:
			r = commit_pull(w, t, data, len, reply, id, sizeof(id), err);
			break;
		case WRITE_DONE:
			r = write_done(w, data, len, err);
			break;
		default:
			r = -EACCES;
		}
	}
	record_outcome(w, t, r, id, err);
	return r;
}

void write_changed(struct write *w, const char *owner, const char *repo, int pull, uint64_t number)
{
	if (w->opt.changed)
		w->opt.changed(w->opt.changed_ud, owner, repo, pull, number);
}
