/*
 * reader: the read side of a mount, for the unit tests that drive it with
 * a fake forge (test_cache.c, test_concurrency.c): a cache over the forge
 * and a tree over the cache, unassigned (nothing is writable), as
 * fs/main.c wires them.
 */
#ifndef BOTTLEFS_TESTS_READER_H
#define BOTTLEFS_TESTS_READER_H

#include <errno.h>
#include <stdlib.h>

#include "cache/cache.h"
#include "tree/tree.h"
#include "write/write.h"

struct reader {
	struct cache *cache;
	struct tree *tree;
	struct scope scope;
};

static inline void reader_free(struct reader *r)
{
	if (!r)
		return;
	tree_free(r->tree);
	cache_free(r->cache);
	scope_release(&r->scope);
	free(r);
}

/* 0 and *out, or -errno. */
static inline int reader_new(const struct cache_options *co, struct reader **out)
{
	struct reader *r = calloc(1, sizeof(*r));
	struct tree_options to = {0};
	int e;

	if (!r)
		return -ENOMEM;
	scope_init(&r->scope);
	e = cache_new(co, &r->cache);
	if (e == 0) {
		to.cache = r->cache;
		to.write.forge = co->forge;
		to.write.state = co->state;
		to.write.scope = &r->scope;
		e = tree_new(&to, &r->tree, NULL);
	}
	if (e < 0) {
		reader_free(r);
		return e;
	}
	*out = r;
	return 0;
}

#endif
