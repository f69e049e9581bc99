/*
 * cache/budget: the memory the cached items hold, counted against
 * opt.max_bytes, and the eviction of the least recently used past it
 * (cache/internal.h). Everything here runs with cache.lock held.
 *
 * A trim evicts down to three quarters of the budget, so the sort it
 * costs is paid once per quarter of the budget read, not per item. Items
 * the persistent store has not written yet are kept (the store would take
 * their absence for a tombstone); when those alone keep the cache over
 * the budget, the next trim waits until an eighth more has been read.
 */
#include "cache/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t str_bytes(const char *s)
{
	return s ? strlen(s) + 1 : 0;
}

/* What an item holds: its strings, its comments, its diff and itself. */
static size_t item_bytes(const struct item *it)
{
	const struct forge_issue *is = &it->issue;
	size_t n = sizeof(*it) + KEY_MAX, i;

	n += str_bytes(is->title) + str_bytes(is->body) + str_bytes(is->state) +
	     str_bytes(is->author) + str_bytes(is->created_at) + str_bytes(is->updated_at) +
	     str_bytes(is->head) + str_bytes(is->base) + str_bytes(is->json);
	for (i = 0; i < is->n_labels; i++)
		n += sizeof(char *) + str_bytes(is->labels[i]);
	for (i = 0; i < it->comments.n; i++) {
		const struct forge_comment *cm = &it->comments.v[i];

		n += sizeof(*cm) + str_bytes(cm->body) + str_bytes(cm->author) +
		     str_bytes(cm->created_at) + str_bytes(cm->updated_at);
	}
	return n + str_bytes(it->diff);
}

void ch_item_used(struct cache *c, struct item *it)
{
	it->used = ++c->tick;
}

void ch_item_sized(struct cache *c, struct item *it)
{
	size_t n = item_bytes(it);

	c->bytes -= it->bytes < c->bytes ? it->bytes : c->bytes;
	c->bytes += n;
	it->bytes = n;
	ch_item_used(c, it);
}

void ch_item_drop(struct cache *c, const char *key)
{
	struct item *it = map_del(&c->items, key);

	if (!it)
		return;
	c->bytes -= it->bytes < c->bytes ? it->bytes : c->bytes;
	ch_item_free(it);
}

struct victim {
	const char *key; /* the map's own copy: valid until the item is dropped */
	uint64_t used;
};

struct victims {
	struct victim *v;
	size_t n;
};

static void collect(void *ud, const char *key, void *val)
{
	struct victims *vs = ud;
	struct item *it = val;

	if (it->dirty)
		return;
	vs->v[vs->n].key = key;
	vs->v[vs->n].used = it->used;
	vs->n++;
}

static int by_use(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;

	return x->used < y->used ? -1 : x->used > y->used;
}

void ch_trim(struct cache *c)
{
	size_t max = c->opt.max_bytes, goal = max / 4 * 3, i;
	struct victims vs = {NULL, 0};
	char key[KEY_MAX];

	if (c->bytes <= max || c->bytes < c->trim_floor)
		return;
	vs.v = malloc((c->items.count + 1) * sizeof(*vs.v));
	if (!vs.v)
		return; /* tried again at the next operation */
	map_each(&c->items, collect, &vs);
	qsort(vs.v, vs.n, sizeof(*vs.v), by_use);
	for (i = 0; i < vs.n && c->bytes > goal; i++) {
		/* The key is the map's: copy it before the entry goes. */
		snprintf(key, sizeof(key), "%s", vs.v[i].key);
		ch_item_drop(c, key);
		c->evictions++;
	}
	free(vs.v);
	c->trim_floor = c->bytes > max ? c->bytes + max / 8 : 0;
}

size_t cache_memory_used(struct cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->bytes;
	pthread_mutex_unlock(&c->lock);
	return n;
}

uint64_t cache_evictions(struct cache *c)
{
	uint64_t n;

	pthread_mutex_lock(&c->lock);
	n = c->evictions;
	pthread_mutex_unlock(&c->lock);
	return n;
}
