/*
 * map: a string-keyed hash table of borrowed void pointers (chained, grows
 * at load 1). Keys are copied. The map never frees values: the owner walks
 * them with map_each before map_release.
 *
 * Not thread-safe: the owner holds its own lock around every call.
 */
#ifndef BOTTLEFS_UTIL_MAP_H
#define BOTTLEFS_UTIL_MAP_H

#include "util/check.h"
#include <stddef.h>

struct map_node;

struct map {
	struct map_node **slots;
	size_t n_slots;
	size_t count;
};

void map_init(struct map *m);
/* Frees the table and keys, not the values. */
void map_release(struct map *m);
/* Borrowed value, or NULL. */
void *map_get(const struct map *m, const char *key);
/* Sets key to val; *old (may be NULL) gets the previous value or NULL. 0 or -ENOMEM. */
MUST_CHECK int map_put(struct map *m, const char *key, void *val, void **old);
/* Removes key; returns the value it had, or NULL. */
void *map_del(struct map *m, const char *key);
/* Calls fn for every entry; fn must not change the map. */
void map_each(const struct map *m, void (*fn)(void *ud, const char *key, void *val), void *ud);

#endif
