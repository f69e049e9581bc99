/*
 * cache/internal: the inside of struct cache, shared by cache.c (items,
 * repositories, the public API) and lists.c (lists and their revalidation
 * with `since`, repository-wide comments, loading from the persistent
 * store). Not for other folders: they use cache/cache.h.
 *
 * Every function here is called with cache.lock held unless it says it
 * takes the lock itself.
 */
#ifndef BOTTLEFS_CACHE_INTERNAL_H
#define BOTTLEFS_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/check.h"
#include "forge/forge.h"
#include "cache/cache.h"
#include "cache/store.h"
#include "util/map.h"
#include "util/names.h"

/* One issue or pull request, with what has been fetched about it. */
struct item {
	bool missing; /* the forge said it does not exist */
	/*
	 * A revalidation said the item changed but did not bring its new
	 * content (pull requests: the `since` list lacks head/base): the old
	 * content is served only while the forge is down.
	 */
	bool stale;
	struct forge_issue issue;
	int64_t issue_ms; /* when issue (or missing) was fetched or last revalidated */
	/* Comments and diff belong to the version issue.updated_at names. */
	bool have_comments;
	struct forge_comment_list comments;
	int64_t comments_ms;
	char *diff; /* NULL until fetched */
	int64_t diff_ms;
	/*
	 * When a request for this item last failed with -EIO (0: never). For
	 * CACHE_FAILED_BACKOFF_MS after that, what is cached is served stale
	 * without asking again: one cat is several FUSE operations, and each
	 * waiting out the forge's timeout would break the bound.
	 */
	int64_t failed_ms;
	/* The memory budget (budget.c): */
	size_t bytes;  /* what this item holds, as last counted */
	uint64_t used; /* c->tick at its last use: the least recently used go first */
	/*
	 * Marked for the persistent store and not yet written: never evicted
	 * (the store would take its absence for a tombstone).
	 */
	bool dirty;
};

/* The numbers of a repository's issues or pulls, newest first. */
struct list {
	/*
	 * The forge said the repository does not exist (404 on the list): a
	 * tombstone, empty, answered -ENOENT without asking while fresh, and
	 * never persisted (a restart asks again).
	 */
	bool missing;
	uint64_t *numbers;
	size_t n;
	int64_t ms; /* last full listing or revalidation */
	/* The newest updated_at seen (RFC 3339, as sent): the next `since`. */
	char *since;
	/*
	 * The validator of the answer that last listed or revalidated it
	 * (forge.h, struct forge_validator; NULL: none), passed back on the
	 * next revalidation: a forge that answers "not modified" (GitHub's
	 * 304) costs no body and no rate limit. Persisted with the list.
	 */
	char *etag;
	int64_t failed_ms; /* as item.failed_ms */
};

struct cache {
	struct cache_options opt;
	pthread_mutex_t lock;
	pthread_cond_t done; /* broadcast when a shared fetch (inflight) ends */
	struct map items;    /* "i:o/r#n" or "p:o/r#n" -> struct item; lock */
	struct map lists;    /* "i:o/r" or "p:o/r" -> struct list; lock */
	struct map repos;    /* owner -> struct repos; lock */
	struct map bulks;    /* "o/r" -> int64_t *: when its comments were bulk-fetched; lock */
	struct map inflight; /* list key or "c:o/r" being fetched by one thread; lock */
	/*
	 * Item or list key -> int64_t *: when a failure (-EIO) of its fetch
	 * with nothing cached to serve was last reported. The same failure
	 * within CACHE_FAILED_BACKOFF_MS is answered -EIO again (the forge is
	 * asked each time, as before) but without a reason: a failure is
	 * logged once, not once per call. lock.
	 */
	struct map failed;
	struct map branches;	  /* "o/r" -> struct branches (branches.c); lock */
	struct cachestore *store; /* NULL without opt.state */
	/* Requests sent to the forge: every one is counted by ch_count, nowhere else. */
	atomic_uint_fast64_t requests;
	/* The memory budget (budget.c); lock. */
	size_t bytes;	    /* what the items hold together */
	size_t trim_floor;  /* a trim could not go below this: wait for more before the next */
	uint64_t tick;	    /* advanced at each use of an item */
	uint64_t evictions; /* items evicted so far */
	/* Of those, the ones the forge answered "not modified" (ch_count_not_modified). */
	atomic_uint_fast64_t not_modified;
};

#define KEY_MAX (NAMES_OWNER_MAX + NAMES_REPO_MAX + 32)

int64_t ch_now(struct cache *c);
/* branches.c: frees cache.branches (cache_free). */
void ch_branches_release(struct cache *c);
/* Counts one request to the forge (cache_requests); call it right before each. Any lock. */
uint64_t ch_count(struct cache *c);
/* Counts one request (already counted by ch_count) answered "not modified". Any lock. */
void ch_count_not_modified(struct cache *c);
bool ch_fresh(struct cache *c, int64_t ms);
void ch_item_key(char *key, size_t size, const char *owner, const char *repo, bool pull,
		 uint64_t number);
void ch_list_key(char *key, size_t size, const char *owner, const char *repo, bool pull);
bool ch_same_version(const struct forge_issue *a, const struct forge_issue *b);
/* True while a failure at failed_ms says to serve stale without asking. */
bool ch_backing_off(struct cache *c, int64_t failed_ms);
/*
 * After a fetch of key answered r with nothing cached to serve: for -EIO,
 * whether this failure is news (then it is recorded) or was reported
 * within the backoff (then the reason the fetch appended to err after
 * err_mark is dropped, so nobody logs it again); any other r forgets key.
 */
void ch_failed_report(struct cache *c, const char *key, int r, struct buf *err, size_t err_mark);

/* The cached item (loaded from the store if need be), or NULL. */
struct item *ch_item_find(struct cache *c, const char *owner, const char *repo, bool pull,
			  uint64_t number);
/* The cached list (loaded from the store if need be), or NULL. */
struct list *ch_list_find(struct cache *c, const char *owner, const char *repo, bool pull);
/*
 * Stores a freshly fetched issue, taking its contents; comments and diff
 * are kept only if the version did not change. Queues it for the store.
 */
MUST_CHECK int ch_item_store(struct cache *c, const char *key, struct forge_issue *issue,
			     int64_t ms);
void ch_item_free(struct item *it);
void ch_list_free(struct list *l);
/*
 * budget.c: what the items hold is counted against opt.max_bytes; past it
 * the least recently used items are evicted (the persistent store keeps
 * them: a read loads one back instead of asking the forge).
 *
 * ch_item_used: it was used now. ch_item_sized: its contents changed
 * (count them again). ch_item_drop: remove key's item from the map and
 * free it. ch_trim: evict until the items fit; call it only where no
 * struct item pointer is held across it (at the end of an operation).
 */
void ch_item_used(struct cache *c, struct item *it);
void ch_item_sized(struct cache *c, struct item *it);
void ch_item_drop(struct cache *c, const char *key);
void ch_trim(struct cache *c);

/* Queue an item or list key for the persistent store (no-op without one). */
void ch_mark(struct cache *c, const char *prefix, const char *key);

/*
 * The newest updated_at (epoch seconds) any cached list of owner's
 * repositories has seen (repo NULL: every repository of owner; pull < 0:
 * issues and pulls), or 0 when none is known.
 */
int64_t ch_newest(struct cache *c, const char *owner, const char *repo, int pull);

/*
 * lists.c. Both take and release the lock themselves (call them unlocked).
 *
 * ch_list_ensure: afterwards the list is in the cache, fresh, or stale
 * when the forge failed (-EIO is returned only when nothing was cached).
 * A repository the forge says does not exist is -ENOENT, remembered for
 * the cache TTL (no request while it lasts).
 * An expired list is revalidated with one `since` request. When numbers
 * is not NULL it gets a copy (new) of the list's numbers, newest first.
 */
MUST_CHECK int ch_list_ensure(struct cache *c, const char *owner, const char *repo, bool pull,
			      uint64_t **numbers, size_t *count, struct buf *err);
/*
 * Whether to fetch the whole repository's comments rather than one item's
 * (lock held): several listed items still need theirs, and fewer pages
 * than items would be asked for.
 */
bool ch_bulk_worth(struct cache *c, const char *owner, const char *repo);
/* Fills the comments of every listed item of the repository. */
MUST_CHECK int ch_bulk_comments(struct cache *c, const char *owner, const char *repo,
				struct buf *err);

/* The persistent store's view of the cache (cachestore_produce_fn). */
int ch_produce(void *ud, const char *key, struct buf *out, int64_t *age_ms);

#endif
