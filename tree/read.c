/*
 * read: what the forge paths of the tree show (internal.h), read through
 * the cache (cache.h) and rendered (content.c).
 *
 * One call renders from a snapshot of its own (struct snap), assembled from
 * what the cache gives: a forget (after a write) landing between a fetch
 * and the render can never take what was just fetched.
 */
#include "tree/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/time.h"

enum need {
	NEED_ISSUE = 1,
	NEED_COMMENTS = 2,
	NEED_DIFF = 4,
};

/* What one call knows about an item: its own copies. */
struct snap {
	struct forge_issue issue;
	struct forge_comment_list comments;
	struct buf diff;
};

static void snap_release(struct snap *s)
{
	forge_issue_release(&s->issue);
	forge_comment_list_release(&s->comments);
	buf_release(&s->diff);
}

static unsigned need_for(const struct node *n)
{
	switch (n->kind) {
	case N_ITEM_FILE:
		if (n->file == F_DIFF)
			return NEED_ISSUE | NEED_DIFF;
		return content_needs_comments(n->file) ? NEED_ISSUE | NEED_COMMENTS : NEED_ISSUE;
	case N_COMMENTS:
	case N_COMMENT:
		return NEED_ISSUE | NEED_COMMENTS;
	default:
		return NEED_ISSUE;
	}
}

/*
 * A snapshot of the item under n with what need asks for: from the cache
 * while fresh, from the forge otherwise. 0 or -errno; release with
 * snap_release either way.
 */
static int item_get(struct tree *t, const struct node *n, unsigned need, struct snap *s,
		    struct buf *err)
{
	enum forge_kind kind = n->pull ? FORGE_PULLS : FORGE_ISSUES;
	int r;

	memset(s, 0, sizeof(*s));
	buf_init(&s->diff, 0);
	r = n->pull ? cache_get_pull(t->cache, n->owner, n->repo, n->number, &s->issue, err)
		    : cache_get_issue(t->cache, n->owner, n->repo, n->number, &s->issue, err);
	if (r == 0 && (need & NEED_COMMENTS))
		r = cache_list_comments(t->cache, n->owner, n->repo, kind, &s->issue, &s->comments,
					err);
	if (r == 0 && (need & NEED_DIFF))
		r = cache_get_diff(t->cache, n->owner, n->repo, &s->issue, &s->diff, err);
	return r;
}

static int item_render(const struct snap *s, const struct node *n, struct buf *out, int64_t *mtime)
{
	size_t i;
	int r;

	if (n->kind == N_COMMENT) {
		for (i = 0; i < s->comments.n; i++) {
			const struct forge_comment *c = &s->comments.v[i];

			if (c->id == n->comment) {
				*mtime = time_from_rfc3339(c->updated_at);
				r = out ? content_comment(c, out) : 0;
				return r == -E2BIG ? -EFBIG : r;
			}
		}
		return -ENOENT;
	}
	*mtime = time_from_rfc3339(s->issue.updated_at);
	if (n->kind != N_ITEM_FILE || !out)
		return 0;
	r = content_item_file(n->file, &s->issue, &s->comments, buf_cstr(&s->diff), out);
	/* A file longer than a buffer may hold (64 MiB) is "file too large". */
	return r == -E2BIG ? -EFBIG : r;
}

int read_item(struct tree *t, const struct node *n, struct buf *out, int64_t *mtime,
	      struct buf *err)
{
	struct snap s;
	int r;

	r = item_get(t, n, need_for(n), &s, err);
	if (r == 0)
		r = item_render(&s, n, out, mtime);
	snap_release(&s);
	return r;
}

int64_t read_dir_time(struct tree *t, const struct node *n)
{
	int64_t time = 0;

	if (n->kind == N_OWNER)
		time = cache_newest(t->cache, n->owner, NULL, -1);
	else if (n->kind == N_REPO)
		time = cache_newest(t->cache, n->owner, n->repo, -1);
	else if (n->kind == N_LIST)
		time =
		    cache_newest(t->cache, n->owner, n->repo, n->pull ? FORGE_PULLS : FORGE_ISSUES);
	return time ? time : t->start_s;
}

int read_list_items(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
		    struct buf *err)
{
	struct cache_listing l;
	struct tree_attr a;
	char name[24];
	size_t i;
	int r;

	r = cache_list_issues(t->cache, dir->owner, dir->repo,
			      dir->pull ? FORGE_PULLS : FORGE_ISSUES, &l, err);
	if (r < 0)
		return r;
	if (dir->pull && fill(ud, "new", NULL) != 0)
		goto out;
	for (i = 0; i < l.n; i++) {
		tree_dir_attr(&a, l.v[i].updated ? l.v[i].updated : t->start_s);
		snprintf(name, sizeof(name), "%llu", (unsigned long long)l.v[i].number);
		if (fill(ud, name, &a) != 0)
			break;
	}
out:
	cache_listing_release(&l);
	return 0;
}

int read_list_comments(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
		       struct buf *err)
{
	char name[24];
	struct snap s;
	size_t i;
	int r;

	r = item_get(t, dir, NEED_ISSUE | NEED_COMMENTS, &s, err);
	if (r == 0 && fill(ud, "new", NULL) == 0)
		for (i = 0; i < s.comments.n; i++) {
			snprintf(name, sizeof(name), "%llu",
				 (unsigned long long)s.comments.v[i].id);
			if (fill(ud, name, NULL) != 0)
				break;
		}
	snap_release(&s);
	return r;
}

int read_list_repos(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
		    struct buf *err)
{
	struct forge_name_list names;
	struct tree_attr a;
	size_t i;
	int r;

	r = cache_list_repos(t->cache, dir->owner, &names, err);
	if (r < 0)
		return r;
	for (i = 0; i < names.n; i++) {
		int64_t time = cache_newest(t->cache, dir->owner, names.v[i], -1);

		tree_dir_attr(&a, time ? time : t->start_s);
		if (fill(ud, names.v[i], &a) != 0)
			break;
	}
	forge_name_list_release(&names);
	return 0;
}
