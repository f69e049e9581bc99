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
#include "tree/files.h"
#include "write/scope.h"
#include "cache/cache.h"
#include "write/wlog.h"
#include "write/write.h"
#include "state/state.h"
#include "util/buf.h"
#include "util/ratelimit.h"

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
	 * Open files and scratch files (fs/files.h): unmounting finishes the
	 * writes still held in them (files_finish) and frees them.
	 */
	struct files *files;
	struct wlog *log; /* the last write outcomes, /.bottlefs/log */
	/*
	 * What fs/ops.c may write to the daemon's log: the same line once per
	 * 10 s, at most 5 lines a second in all, so no loop of an agent's can
	 * fill the log (or the disk under it).
	 */
	struct ratelimit log_limit;
};

/*
 * A path: what tree_resolve() says, or else a scratch file's name in an
 * item directory (N_SCRATCH, which may or may not exist). 0 or -ENOENT.
 */
int mount_resolve(const char *path, struct node *out);

/*
 * Attributes, with write permission bits exactly where a write is in
 * scope (an item directory where scratch files may be created is 0755).
 */
int mount_getattr(struct mount_ctx *m, const struct node *n, struct view_attr *out,
		  struct buf *err);
/* True for files whose content changes without the forge (bottles, done, scope, log). */
bool mount_volatile(const struct node *n);

/* Directory entries: the view's, and an item directory's scratch files. */
int mount_list(struct mount_ctx *m, const struct node *dir, view_fill_fn fill, void *ud,
	       struct buf *err);

/* access(W_OK): 0 exactly where writing (or creating, in a directory) is accepted. */
int mount_access_write(struct mount_ctx *m, const struct node *n);

/*
 * Scratch files (SEMANTICS.md "Scratch files"): only in an item directory
 * whose fields are writable; never in comments/. Everything else keeps the
 * scope's answer: EACCES, or EEXIST for a field's own name.
 */
int mount_create(struct mount_ctx *m, const struct node *n, bool excl, bool truncate,
		 struct fh **out);
int mount_unlink(struct mount_ctx *m, const struct node *n);
/* chmod, chown, utimens: accepted on a scratch file, changing nothing; else -EACCES. */
int mount_setattr(struct mount_ctx *m, const struct node *n);
/* truncate(path): a scratch file, or a writable field to 0 (changes nothing by itself). */
int mount_truncate(struct mount_ctx *m, const struct node *n, uint64_t size);
/*
 * rename(from, to) with RENAME_* flags: a scratch file onto another name in
 * its directory, or onto a writable field there (its content is sent as a
 * whole-file write; the answer is rename()'s, why in err). Anything else
 * is -EACCES: no rename of a field, none across directories.
 */
int mount_rename(struct mount_ctx *m, const struct node *from, const struct node *to,
		 unsigned flags, struct buf *err);

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
/*
 * files_commit_fn for m->files (fs/ops.c): writes_commit, a log line on
 * failure, and the kernel told to forget the old content (ud: the mount_ctx).
 */
int ops_commit(void *ud, const struct node *n, const char *data, size_t len, struct buf *reply,
	       struct buf *err);

#endif
