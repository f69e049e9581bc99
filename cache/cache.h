/*
 * view: the forge and bottles as the tree shows them, with a cache.
 *
 * The view answers "what is at this node" (attributes, file bytes,
 * directory entries) for fs/ops.c, which only unpacks FUSE requests and
 * replies. It holds no FUSE types, so the unit tests drive it with a fake
 * forge and count the requests.
 *
 * Caching: every forge answer is kept with the time it was fetched and
 * served without a request for cache_ttl_ms. After that the next access
 * asks the forge again; if the forge does not answer (-EIO) the old answer
 * is served stale, if it says the object is gone (-ENOENT) it is dropped.
 * A list answer fills the cache of every item in it, so walking a listed
 * directory costs no request per item. An item whose comment count is 0
 * never needs a comment request.
 *
 * Revalidation (fs/sync.c): an expired list is asked again with one
 * `since` request (Gitea has no ETag): items it names as changed are
 * replaced (pull requests are refetched on use, the `since` list lacks
 * head and base), every other listed item, its comments and diff are
 * fresh again. An expired item read on its own is asked for on its own
 * (one request); a walk lists its directory first, which revalidates
 * every item in it.
 *
 * Comments in bulk: when several listed items of a repository need their
 * comments and the repository-wide comment list is fewer pages than that,
 * it is fetched once (pages in parallel) and fills every listed item.
 * Comments belong to the item version (updated_at) they were fetched for.
 *
 * Persistence: with opt.state, items and lists are kept in the state
 * store's cache (fs/cachestore.h), written from a thread of its own and
 * loaded lazily on a miss, so a restarted daemon answers warm.
 *
 * Thread-safety: every function may be called from many threads at once.
 * One mutex (view.lock) guards the cache; forge requests are made without
 * holding it.
 */
#ifndef BOTTLEFS_FS_VIEW_H
#define BOTTLEFS_FS_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "forge/forge.h"
#include "tree/tree.h"
#include "util/buf.h"

struct manifest_cache;
struct state;
struct view;

struct view_options {
	struct forge *forge;		/* borrowed; outlives the view */
	int64_t cache_ttl_ms;		/* how long an answer is served without asking */
	struct manifest_cache *bottles; /* borrowed; NULL: /bottles is empty */
	/* Borrowed; outlives the view; NULL: nothing persists across restarts. */
	struct state *state;
	/* Clock for tests; NULL: CLOCK_MONOTONIC-based milliseconds. */
	int64_t (*now_ms)(void *ud);
	void *now_ud;
};

struct view_attr {
	bool dir;
	unsigned mode;	       /* permission bits */
	uint64_t size;	       /* exact length of what view_read gives */
	int64_t mtime;	       /* seconds since the epoch */
	bool volatile_content; /* changes without the forge (bottles): no page cache */
};

/* 0 and *out, or -errno. */
int view_new(const struct view_options *opt, struct view **out);
void view_free(struct view *v); /* NULL-safe */

/*
 * Errors: -ENOENT (no such object), -EACCES (the forge refused), -EIO (the
 * forge failed and nothing was cached). When err is non-NULL the reason is
 * appended to it for the caller to log.
 */
int view_getattr(struct view *v, const struct node *n, struct view_attr *out, struct buf *err);

/* Appends the whole content of file node n to out. */
int view_read(struct view *v, const struct node *n, struct buf *out, struct buf *err);

/* Called once per entry; attr is NULL when it would cost work to know. */
typedef int (*view_fill_fn)(void *ud, const char *name, const struct view_attr *attr);
int view_list(struct view *v, const struct node *dir, view_fill_fn fill, void *ud, struct buf *err);

/*
 * Opening directory dir for listing: -ENOENT when what it lists does not
 * exist (a missing owner, repository, issue or pull request), found out
 * with the request the listing makes anyway (its answer is cached for the
 * readdir that follows), so `ls` of a missing repository's issues/ fails
 * at opendir (a readdir's ENOENT reads as an empty directory to glibc).
 * 0 for directories whose content needs no request.
 */
int view_open_dir(struct view *v, const struct node *dir, struct buf *err);

/* Forget everything cached about one item (after a write). */
void view_forget_item(struct view *v, const char *owner, const char *repo, bool pull,
		      uint64_t number);
/* Forget the lists of a repository (after a new item appeared). */
void view_forget_lists(struct view *v, const char *owner, const char *repo);

/* Requests sent to the forge through this view (for tests and stats). */
uint64_t view_requests(struct view *v);

/* Waits until what the cache queued for the state store is written; 0 or -ETIMEDOUT. */
int view_flush(struct view *v, int64_t timeout_ms);

#endif
