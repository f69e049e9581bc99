/*
 * store: the cache kept in the state store (state_cache_*), so a
 * restarted daemon is warm. Internal to cache/ (and its tests).
 *
 * Entries are JSON: an item ("item:" + cache key) holds the issue, its
 * comments when known and a PR's diff; a list ("list:" + cache key) holds
 * the numbers and the newest updated_at seen (the next `since`). Times in
 * the store are wall-clock milliseconds; the cache keeps its own clock, so
 * loads report an age, not a time.
 *
 * Writes are made by a thread of its own: a committed SQLite transaction
 * costs about half a millisecond, and a list of 5 000 items must not wait
 * for 5 000 of them. cachestore_mark queues a key (once, however often it
 * is marked); the thread asks the owner for the key's current content
 * (produce) and writes it, or an empty blob (a tombstone) when produce
 * says the key is gone. Keys are small and deduplicated, so the queue is
 * bounded by the number of cached objects.
 *
 * Ownership: keys are copied. Strings handed out are new.
 *
 * Thread-safety: every function may be called from many threads at once.
 * produce runs on the writer thread with no cachestore lock held; it may
 * take the owner's locks.
 */
#ifndef BOTTLEFS_CACHE_STORE_H
#define BOTTLEFS_CACHE_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "forge/forge.h"
#include "util/buf.h"
#include "util/check.h"

struct state;
struct cachestore;

/*
 * The current content of key appended to out and how old it is (ms);
 * -ENOENT when the key is no longer cached (a tombstone is written).
 */
typedef int (*cachestore_produce_fn)(void *ud, const char *key, struct buf *out, int64_t *age_ms);

/* st borrowed, outlives the store. 0 and *out, or -errno. */
MUST_CHECK int cachestore_new(struct state *st, cachestore_produce_fn produce, void *ud,
			      struct cachestore **out);
/* Writes what is queued (for at most about 2 s), stops the thread, frees. NULL-safe. */
void cachestore_free(struct cachestore *cs);
/* Queues key to be written. NULL-safe (no store: nothing to do). */
void cachestore_mark(struct cachestore *cs, const char *key);
/* Waits until nothing is queued or timeout_ms passed; 0 or -ETIMEDOUT. */
MUST_CHECK int cachestore_flush(struct cachestore *cs, int64_t timeout_ms);
/* *json (new, NUL-terminated) and its age; -ENOENT when absent or a tombstone. */
MUST_CHECK int cachestore_load(struct cachestore *cs, const char *key, char **json,
			       int64_t *age_ms);

/* What an item entry holds. */
struct cs_item {
	struct forge_issue issue;
	bool have_comments;
	struct forge_comment_list comments;
	char *diff; /* NULL when not cached */
	bool stale; /* the forge said it changed; refetch before use */
};
void cs_item_release(struct cs_item *it);
/* Appends the JSON of an item to out. comments may be NULL (not known). */
MUST_CHECK int cs_item_dump(const struct forge_issue *issue,
			    const struct forge_comment_list *comments, const char *diff, bool stale,
			    struct buf *out);
/* 0 and *out, -EINVAL when json is not an item entry. */
MUST_CHECK int cs_item_parse(const char *json, struct cs_item *out);

/* Appends the JSON of a list to out; since may be NULL. */
MUST_CHECK int cs_list_dump(const uint64_t *numbers, size_t n, const char *since, const char *etag,
			    struct buf *out);
/* *numbers (new) and *since (new or NULL); -EINVAL when json is not a list entry. */
MUST_CHECK int cs_list_parse(const char *json, uint64_t **numbers, size_t *n, char **since,
			     char **etag);

#endif
