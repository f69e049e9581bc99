/*
 * cache: the forge, cached. A wrapper with the contract of forge/forge.h
 * (the way sshfs's cache.c wraps the operations it serves): the same read
 * operations with the same error contract, so the tree reads through it as
 * it would from an adapter, plus what only a cache has (forgetting,
 * flushing to the store, counting requests). The tree never calls the
 * adapter; the adapter knows nothing of caching; every request to the
 * forge is made, and counted, here.
 *
 * Caching: every forge answer is kept with the time it was fetched and
 * served without a request for ttl_ms. After that the next access asks
 * the forge again; if the forge does not answer (-EIO) the old answer is
 * served stale, if it says the object is gone (-ENOENT) it is dropped. A
 * list answer fills the cache of every item in it, so walking a listed
 * directory costs no request per item. An item whose comment count is 0
 * never needs a comment request. Once a request for an item or a list
 * failed with -EIO, what is cached is served for CACHE_FAILED_BACKOFF_MS
 * without asking again, and the same failure of something not cached is
 * reported (in err) once in that time.
 *
 * Revalidation (lists.c): an expired list is asked again with one `since`
 * request (Gitea has no ETag): items it names as changed are replaced
 * (pull requests are refetched on use, the `since` list lacks head and
 * base), every other listed item, its comments and diff are fresh again.
 * An expired item read on its own is asked for on its own (one request);
 * a walk lists its directory first, which revalidates every item in it.
 *
 * Comments in bulk: when several listed items of a repository need their
 * comments and the repository-wide comment list is fewer pages than that,
 * it is fetched once (pages in parallel) and fills every listed item.
 *
 * Persistence: with opt.state, items and lists are kept in the state
 * store's cache (store.c), written from a thread of its own and loaded
 * lazily on a miss, so a restarted daemon answers warm.
 *
 * Memory (budget.c): the items held in memory are bounded by
 * opt.max_bytes; the least recently used are evicted past it, once the
 * store has them. An agent reading everything it can cannot grow the
 * daemon past the budget; it only makes the cache colder.
 *
 * Where the shape differs from forge.h, and why:
 * - cache_list_issues gives what the tree lists (numbers, newest first,
 *   with each item's updated_at in seconds) rather than whole issues: a
 *   readdir of 5 000 items copies 5 000 pairs, not 5 000 issues. The items
 *   themselves are in the cache for the cache_get_* that follow.
 * - cache_list_comments and cache_get_diff take the item the caller holds
 *   (its number, and its updated_at as the version): comments and a diff
 *   belong to a version of their item, and a caller rendering version A
 *   must not get the comments cached for a version B that a revalidation
 *   brought meanwhile. cache_list_comments also takes the kind: the cache
 *   keeps issues and pull requests apart.
 * - cache_get_diff's -EFBIG is an answer: one line saying so (below).
 * - out may be NULL for cache_list_repos and cache_list_issues: only make
 *   sure it is cached (opendir asks, readdir reads).
 *
 * The types are forge.h's (this header includes it): an upper folder uses
 * them, and their _release and _copy helpers, through this header.
 *
 * Thread-safety: every function may be called from many threads at once.
 * One mutex (cache.lock) guards the cache; forge requests are made without
 * holding it, and one thread lists a repository while the others wait for
 * its answer.
 */
#ifndef BOTTLEFS_CACHE_CACHE_H
#define BOTTLEFS_CACHE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "forge/forge.h"
#include "util/buf.h"
#include "util/check.h"

struct state;
struct cache;

/* How long after a failure (-EIO) what is cached is served without asking again. */
#define CACHE_FAILED_BACKOFF_MS 10000

/* The default of cache_options.max_bytes. */
#define CACHE_MEMORY_DEFAULT ((size_t)256 << 20)

struct cache_options {
	struct forge *forge; /* borrowed; outlives the cache */
	int64_t ttl_ms;	     /* how long an answer is served without asking */
	/*
	 * What the cached items (issues, pull requests, their comments and
	 * diffs) may hold in memory together; 0: CACHE_MEMORY_DEFAULT. Past
	 * it the least recently used are evicted (the persistent store keeps
	 * them). Lists (8 bytes an item number) and owners' repository names
	 * are not counted: they grow with the forge, not with what is read.
	 */
	size_t max_bytes;
	/* Borrowed; outlives the cache; NULL: nothing persists across restarts. */
	struct state *state;
	/* Clock for tests; NULL: CLOCK_MONOTONIC-based milliseconds. */
	int64_t (*now_ms)(void *ud);
	void *now_ud;
};

/* 0 and *out, or -errno. */
MUST_CHECK int cache_new(const struct cache_options *opt, struct cache **out);
/* Writes what is queued for the store (for at most about 2 s) and frees. NULL-safe. */
void cache_free(struct cache *c);

/* ---- forge.h's reads, cached ---- */

/* list_repos; out may be NULL. A missing owner is -ENOENT, remembered for ttl_ms. */
MUST_CHECK int cache_list_repos(struct cache *c, const char *owner, struct forge_name_list *out,
				struct buf *err);

/* One listed item: its number and its updated_at in seconds (0 when unknown). */
struct cache_entry {
	uint64_t number;
	int64_t updated;
};
struct cache_listing {
	struct cache_entry *v; /* newest first */
	size_t n;
};
void cache_listing_release(struct cache_listing *l);

/*
 * list_issues of kind, every issue or every pull request, open and
 * closed; out (may be NULL) gets the listing. A repository the forge says
 * does not exist is -ENOENT, remembered for ttl_ms; -EIO only when
 * nothing was cached (else the stale list is served).
 */
MUST_CHECK int cache_list_issues(struct cache *c, const char *owner, const char *repo,
				 enum forge_kind kind, struct cache_listing *out, struct buf *err);
/* get_issue (a true issue) and get_pull. */
MUST_CHECK int cache_get_issue(struct cache *c, const char *owner, const char *repo,
			       uint64_t number, struct forge_issue *out, struct buf *err);
MUST_CHECK int cache_get_pull(struct cache *c, const char *owner, const char *repo, uint64_t number,
			      struct forge_issue *out, struct buf *err);
/* list_comments of the version of the item of that kind the caller holds (of, borrowed). */
MUST_CHECK int cache_list_comments(struct cache *c, const char *owner, const char *repo,
				   enum forge_kind kind, const struct forge_issue *of,
				   struct forge_comment_list *out, struct buf *err);
/*
 * get_diff of the version of the pull request the caller holds, appended
 * to out. A diff larger than the adapter reads is not an error: out gets
 * one line "bottlefs: <the adapter's reason>", cached like a diff.
 */
MUST_CHECK int cache_get_diff(struct cache *c, const char *owner, const char *repo,
			      const struct forge_issue *of, struct buf *out, struct buf *err);
/*
 * list_branches (forge.h), cached like a list: kept ttl_ms, served stale
 * while the forge fails (-EIO only with nothing cached), -ENOENT for a
 * repository the forge says does not exist (remembered ttl_ms). out may be
 * NULL (only make sure it is cached). Not persisted across restarts.
 */
MUST_CHECK int cache_list_branches(struct cache *c, const char *owner, const char *repo,
				   struct forge_branch_list *out, struct buf *err);
/*
 * repo_bundle (forge.h): *path (new) and *size of the repository's bundle
 * file. The adapter's mirror is brought up to date at most once per
 * ttl_ms (otherwise the bundle is made from the mirror as it is), and when
 * the forge fails the mirror as it is serves. -EAGAIN with a reason when
 * it is not ready by deadline_ms (CLOCK_MONOTONIC ms).
 */
MUST_CHECK int cache_repo_bundle(struct cache *c, const char *owner, const char *repo,
				 uint64_t deadline_ms, char **path, uint64_t *size,
				 struct buf *err);
/* Forget a repository's branches and bring its mirror up to date next time (after a push). */
void cache_forget_branches(struct cache *c, const char *owner, const char *repo);
/* The adapter's capabilities (nothing to cache). */
void cache_capabilities(struct cache *c, struct forge_capabilities *out);

/* ---- what only a cache has ---- */

/*
 * The newest updated_at (epoch seconds) any cached list of owner's
 * repositories has seen (repo NULL: every repository of owner; kind -1:
 * issues and pulls, else FORGE_ISSUES or FORGE_PULLS), 0 when none is known.
 */
int64_t cache_newest(struct cache *c, const char *owner, const char *repo, int kind);

/* Forget everything cached about one item (after a write). */
void cache_forget_item(struct cache *c, const char *owner, const char *repo, enum forge_kind kind,
		       uint64_t number);
/* Forget the lists of a repository (after a new item appeared). */
void cache_forget_lists(struct cache *c, const char *owner, const char *repo);

/* Requests sent to the forge through this cache (for tests and stats). */
uint64_t cache_requests(struct cache *c);
/*
 * Of cache_requests, those the forge answered "not modified" (a list
 * revalidated with its validator: GitHub's 304, which costs nothing
 * against its rate limit); the others were answered with a body.
 */
uint64_t cache_requests_not_modified(struct cache *c);

/* What the cached items hold now, and how many were evicted so far (tests and stats). */
size_t cache_memory_used(struct cache *c);
uint64_t cache_evictions(struct cache *c);

/* Waits until what the cache queued for the state store is written; 0 or -ETIMEDOUT. */
MUST_CHECK int cache_flush(struct cache *c, int64_t timeout_ms);

#endif
