/*
 * bottles: the /bottles part of the tree, over manifest/ (SPEC section 4).
 *
 * Nothing is cached: every call asks manifest/, which re-reads the files a
 * bottle needs, so an edited manifest is seen on the next read. The files
 * are marked volatile so fs/ops.c keeps them out of the page cache.
 *
 * A bottle whose resolution fails has an `error` file with the message, and
 * its resolved.json fails to read with -EIO; a good bottle has no `error`.
 * Thread-safe (no state of its own).
 */
#ifndef BOTTLEFS_FS_BOTTLES_H
#define BOTTLEFS_FS_BOTTLES_H

#include "fs/tree.h"
#include "fs/view.h"
#include "util/buf.h"

/* dir may be NULL (no --bottles): /bottles is empty. */
int bottles_getattr(const char *dir, const struct node *n, struct view_attr *out, struct buf *err);
int bottles_read(const char *dir, const struct node *n, struct buf *out, struct buf *err);
int bottles_list(const char *dir, const struct node *n, view_fill_fn fill, void *ud,
		 struct buf *err);

#endif
