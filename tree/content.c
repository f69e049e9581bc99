/* content: what each file of the tree shows, rendered (internal.h). Pure. */
#include "tree/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/str.h"

int content_text(struct buf *out, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	int r;

	if (n == 0)
		return 0;
	r = buf_append(out, s, n);
	if (r == 0 && s[n - 1] != '\n')
		r = buf_putc(out, '\n');
	return r;
}

static int labels(const struct forge_issue *i, struct buf *out, const char *sep)
{
	size_t k;
	int r = 0;

	for (k = 0; k < i->n_labels && r == 0; k++) {
		r = buf_puts(out, i->labels[k]);
		if (r == 0)
			r = buf_puts(out, sep);
	}
	return r;
}

static int thread(const struct forge_issue *i, const struct forge_comment_list *c, struct buf *out)
{
	size_t k;
	int r;

	r = buf_printf(out, "# %s\n\n", i->title);
	if (r == 0)
		r = buf_printf(out, "%s #%llu · %s · opened by %s\n", i->is_pull ? "pull" : "issue",
			       (unsigned long long)i->number, i->state, i->author);
	if (r == 0 && i->is_pull && i->head && i->base)
		r = buf_printf(out, "%s -> %s · merged: %s\n", i->head, i->base,
			       i->merged ? "true" : "false");
	if (r == 0 && i->n_labels) {
		r = buf_puts(out, "labels: ");
		for (k = 0; k < i->n_labels && r == 0; k++)
			r = buf_printf(out, "%s%s", k ? ", " : "", i->labels[k]);
		if (r == 0)
			r = buf_putc(out, '\n');
	}
	if (r == 0 && i->body && *i->body) {
		r = buf_putc(out, '\n');
		if (r == 0)
			r = content_text(out, i->body);
	}
	for (k = 0; c && k < c->n && r == 0; k++) {
		const struct forge_comment *cm = &c->v[k];

		r = buf_printf(out, "\n---\n\n## %s commented at %s (comment %llu)\n", cm->author,
			       cm->created_at ? cm->created_at : "", (unsigned long long)cm->id);
		if (r == 0 && cm->body && *cm->body) {
			r = buf_putc(out, '\n');
			if (r == 0)
				r = content_text(out, cm->body);
		}
	}
	return r;
}

int content_item_file(enum item_file f, const struct forge_issue *i,
		      const struct forge_comment_list *comments, const char *diff, struct buf *out)
{
	switch (f) {
	case F_TITLE:
		return content_text(out, i->title);
	case F_BODY:
		return content_text(out, i->body);
	case F_STATE:
		/* An open pull request that is a draft reads "draft" (both forges). */
		if (i->is_pull && i->draft && i->state && strcmp(i->state, "open") == 0)
			return content_text(out, "draft");
		return content_text(out, i->state);
	case F_LABELS:
		return labels(i, out, "\n");
	case F_AUTHOR:
		return content_text(out, i->author);
	case F_ISSUE_JSON:
	case F_PR_JSON:
		return content_text(out, i->json);
	case F_THREAD:
		return thread(i, comments, out);
	case F_HEAD:
		return i->is_pull ? content_text(out, i->head) : -ENOENT;
	case F_BASE:
		return i->is_pull ? content_text(out, i->base) : -ENOENT;
	case F_MERGED:
		return i->is_pull ? buf_puts(out, i->merged ? "true\n" : "false\n") : -ENOENT;
	case F_DIFF:
		return i->is_pull ? content_text(out, diff) : -ENOENT;
	}
	return -ENOENT;
}

int content_comment(const struct forge_comment *c, struct buf *out)
{
	return content_text(out, c->body);
}

bool content_needs_comments(enum item_file f)
{
	return f == F_THREAD;
}

int content_capabilities(const struct forge_capabilities *caps, struct buf *out)
{
	char *json = forge_capabilities_json(caps);
	int r;

	if (!json)
		return -ENOMEM;
	r = buf_puts(out, json);
	free(json);
	return r;
}

/*
 * What the scope says, as the paths of the tree: the one text of
 * .bottlefs/scope.
 */
/*
 * The push policy's lines: one per branch pattern, and the heads of the
 * pull requests the mount opened.
 */
static int content_push_scope(struct scope *s, struct buf *out)
{
	struct buf pats = BUF_INIT(0);
	const char *p;
	int r = scope_push_patterns(s, &pats);

	for (p = buf_cstr(&pats); r == 0 && *p;) {
		size_t len = strcspn(p, "\n");

		r = buf_printf(
		    out, "pushable: forge/%s/%s/branches/%.*s (a git bundle, fast-forward only)\n",
		    s->owner, s->repo, (int)len, p);
		p += len + (p[len] == '\n');
	}
	if (r == 0)
		r = buf_printf(
		    out,
		    "pushable: forge/%s/%s/branches/<head of a pull request opened through "
		    "this mount>\n",
		    s->owner, s->repo);
	buf_release(&pats);
	return r;
}

int content_scope(struct scope *s, struct buf *out)
{
	uint64_t *prs = NULL;
	size_t n = 0, i;
	int r;

	if (!s->assigned)
		return buf_puts(out, "read-only: this mount has no assignment (--assign); "
				     "every write fails with EACCES\n");
	r = scope_prs(s, &prs, &n);
	if (r < 0)
		return r;
	r = buf_printf(out, "assigned: %s/%s#%llu\n", s->owner, s->repo,
		       (unsigned long long)s->issue);
	if (r == 0)
		r = lease_describe(s->lease, out); /* a shared state store: who writes */
	if (r == 0)
		r = buf_printf(out,
			       "writable: forge/%s/%s/issues/%llu/{title,body,state,labels,"
			       "comments/new}\n",
			       s->owner, s->repo, (unsigned long long)s->issue);
	if (r == 0)
		r = buf_printf(out, "writable: forge/%s/%s/pulls/new\n", s->owner, s->repo);
	for (i = 0; i < n && r == 0; i++)
		r = buf_printf(out,
			       "writable: forge/%s/%s/pulls/%llu/{title,body,state,labels,"
			       "comments/new} (opened through this mount)\n",
			       s->owner, s->repo, (unsigned long long)prs[i]);
	if (r == 0)
		r = content_push_scope(s, out);
	if (r == 0)
		r = buf_printf(out, "writable: done%s\n",
			       scope_is_done(s) ? " (no: a signal already stands)" : "");
	if (r == 0)
		r = buf_puts(out, "everything else is read-only: a write, create, mkdir, unlink, "
				  "rmdir, rename, link, symlink, truncate, chmod, chown, utimens "
				  "or setxattr fails with EACCES and sends nothing to the forge\n");
	free(prs);
	return r;
}
