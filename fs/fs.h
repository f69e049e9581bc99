/*
 * fs: the FUSE side of the daemon, the only folder that knows FUSE. main.c
 * parses the options and wires the parts into one struct mount; ops.c
 * holds the FUSE callbacks, which unpack a request, ask the tree
 * (tree/tree.h) and reply; notify.c runs the kernel-invalidation thread.
 *
 * Everything in struct mount is set up by main.c before the FUSE loop
 * starts and torn down after it ends; the parts it points to are
 * thread-safe. ops.c reaches it through fuse_get_context()->private_data
 * (STYLE habit 3).
 */
#ifndef BOTTLEFS_FS_FS_H
#define BOTTLEFS_FS_FS_H

#include <stdbool.h>

#include "tree/tree.h"
#include "util/ratelimit.h"

struct notifier;

struct mount {
	struct tree *tree;
	double kernel_ttl_s;	   /* entry and attribute timeouts given to the kernel */
	bool debug;		   /* log every failed operation, not only forge failures */
	struct notifier *notifier; /* kernel cache invalidation (notify.c), from init on */
	/*
	 * What ops.c may write to the daemon's log: the same line once per
	 * 10 s, at most 5 lines a second in all, so no loop of an agent's can
	 * fill the log (or the disk under it).
	 */
	struct ratelimit log_limit;
};

/* The FUSE operations table (ops.c). */
struct fuse_operations;
const struct fuse_operations *ops_table(void);

/*
 * tree_sent_fn for the tree (ud: the struct mount): a failed write is one
 * log line, and the kernel forgets what the write made stale before the
 * writer's close() returns.
 */
void ops_sent(void *ud, const struct node *n, int r, const struct buf *err);

#endif
