/*
 * content: what each forge file of the tree shows, rendered from the
 * adapter's structs. Pure: no I/O, no locks, no FUSE.
 *
 * Every text file ends with a newline (an empty text stays empty), so the
 * length of what is rendered here is the file's exact st_size.
 */
#ifndef BOTTLEFS_FS_CONTENT_H
#define BOTTLEFS_FS_CONTENT_H

#include <stdint.h>

#include "forge/forge.h"
#include "tree/tree.h"
#include "util/buf.h"

/*
 * Appends the file f of issue (and, for thread.md, its comments) to out.
 * diff is only used for F_DIFF. 0 or -errno (-ENOENT for a file the item
 * does not have, such as head on an issue).
 */
int content_item_file(enum item_file f, const struct forge_issue *issue,
		      const struct forge_comment_list *comments, const char *diff, struct buf *out);

/* One comment file: its body. */
int content_comment(const struct forge_comment *c, struct buf *out);

/* Appends s, then a newline when s is non-empty and does not end in one. */
int content_text(struct buf *out, const char *s);

/* True when the file needs the item's comments (thread.md). */
static inline int content_needs_comments(enum item_file f)
{
	return f == F_THREAD;
}

#endif
