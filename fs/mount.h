/*
 * mount: the one context of a mounted bottlefs, reached from every FUSE
 * callback through fuse_get_context()->private_data (STYLE habit 3).
 *
 * Everything in it is set up by main.c before the FUSE loop starts and torn
 * down after it ends; the callbacks only read the pointers. The modules it
 * points to are thread-safe on their own.
 */
#ifndef BOTTLEFS_FS_MOUNT_H
#define BOTTLEFS_FS_MOUNT_H

#include <stdbool.h>
#include <stdint.h>

#include "forge/forge.h"
#include "fs/view.h"

struct mount_ctx {
	struct forge *forge;
	struct view *view;
	double kernel_ttl_s; /* entry and attribute timeouts given to the kernel */
	bool debug;          /* log every failed operation, not only forge failures */
};

/* The FUSE operations table (fs/ops.c). */
struct fuse_operations;
const struct fuse_operations *ops_table(void);

#endif
