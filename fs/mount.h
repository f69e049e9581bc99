/*
 * mount: the one context of a mounted bottlefs, and the files that depend
 * on more than the view (scope, done, write modes). No FUSE types: fs/ops.c
 * reaches the context through fuse_get_context()->private_data (STYLE
 * habit 3) and calls the functions below.
 *
 * Everything in mount_ctx is set up by main.c before the FUSE loop starts
 * and torn down after it ends; the modules it points to are thread-safe.
 */
#ifndef BOTTLEFS_FS_MOUNT_H
#define BOTTLEFS_FS_MOUNT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "forge/forge.h"
#include "fs/scope.h"
#include "fs/view.h"
#include "fs/writes.h"
#include "state/state.h"
#include "util/buf.h"

struct mount_ctx {
	struct forge *forge;
	struct view *view;
	struct state *state;
	struct scope scope;
	struct writes *writes;
	double kernel_ttl_s;	   /* entry and attribute timeouts given to the kernel */
	bool debug;		   /* log every failed operation, not only forge failures */
	struct notifier *notifier; /* kernel cache invalidation (fs/ops.c) */
	/*
	 * Open files (fs/ops.c), so that unmounting can finish the writes
	 * still held in them and free them. handles_lock guards the list.
	 */
	pthread_mutex_t handles_lock;
	struct handle *handles; /* handles_lock */
};

/* fs/ops.c's open file; opaque elsewhere. */
struct handle;

/* Attributes, with write permission bits exactly where a write is in scope. */
int mount_getattr(struct mount_ctx *m, const struct node *n, struct view_attr *out,
		  struct buf *err);
/* True for files whose content changes without the forge (bottles, done, scope). */
bool mount_volatile(const struct node *n);

/* The bytes of a file. */
int mount_read(struct mount_ctx *m, const struct node *n, struct buf *out, struct buf *err);

/*
 * Opening n for writing: -EACCES (why in err) outside the scope; otherwise
 * 0, with initial set to what the file holds before the first write
 * (nothing when truncating, and always nothing for comments/new, pulls/new
 * and done).
 */
int mount_open_write(struct mount_ctx *m, const struct node *n, bool truncate, struct buf *initial,
		     struct buf *err);

/* The FUSE operations table (fs/ops.c). */
struct fuse_operations;
const struct fuse_operations *ops_table(void);

#endif
