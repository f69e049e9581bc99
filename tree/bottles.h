/*
 * bottles: the /bottles part of the tree, over manifest/ (SPEC section 4).
 *
 * A thin adapter over the manifest cache (manifest.h): it keeps parsed
 * files and resolved bottles while the files they came from stat the
 * same, so an edited manifest is seen on the next read and a bottle read
 * again costs a stat per file of its chain. The files are marked volatile
 * so fs/ops.c keeps them out of the page cache.
 *
 * A bottle whose resolution fails has an `error` file with the message, and
 * its resolved.json fails to read with -EIO; a good bottle has no `error`.
 * Thread-safe (the cache is).
 */
#ifndef BOTTLEFS_FS_BOTTLES_H
#define BOTTLEFS_FS_BOTTLES_H

#include "tree/tree.h"
#include "cache/cache.h"
#include "manifest/manifest.h"
#include "util/buf.h"

/* mc (borrowed) may be NULL (no --bottles): /bottles is empty. */
int bottles_getattr(struct manifest_cache *mc, const struct node *n, struct view_attr *out,
		    struct buf *err);
int bottles_read(struct manifest_cache *mc, const struct node *n, struct buf *out, struct buf *err);
int bottles_list(struct manifest_cache *mc, const struct node *n, view_fill_fn fill, void *ud,
		 struct buf *err);

#endif
