/*
 * ops: the FUSE callbacks. Each one unpacks the request, asks the tree and
 * the view, and replies (STYLE habit 4): no forge, manifest or state logic
 * lives here.
 *
 * Files are served from a snapshot taken at open(), so one open file never
 * changes under its reader and read() never waits on the forge. getattr()
 * renders the same bytes, so st_size is exact. Everything an open file
 * holds, and every call on it from any number of threads, is fs/files.h's
 * business; which names may be created, unlinked or renamed is mount.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "tree/files.h"
#include "tree/mount.h"
#include "fs/notify.h"
#include "tree/tree.h"
#include "cache/cache.h"
#include "util/buf.h"
#include "util/str.h"
#include "util/time.h"

static struct mount_ctx *ctx(void)
{
	return fuse_get_context()->private_data;
}

/*
 * Log once, at the boundary (STYLE habit 8): what failed, on what, why.
 * The path and the reason may hold what an agent wrote or a forge sent:
 * their control bytes and invalid UTF-8 are escaped, so a line cannot be
 * split, recoloured or rewritten on a terminal.
 */
static int fail_in(struct mount_ctx *c, const char *op, const char *path, int r,
		   const struct buf *err)
{
	struct buf line = BUF_INIT(16384);

	uint64_t refused = 0;

	if ((err && err->len) || c->debug) {
		buf_printf(&line, "bottlefs: %s '", op);
		str_escape_log_cstr(&line, path);
		buf_puts(&line, "': ");
		if (err && err->len)
			str_escape_log(&line, err->data, err->len);
		else
			buf_puts(&line, strerror(-r));
		if (c->debug ||
		    ratelimit_allow(&c->log_limit, line.data, line.len, time_mono_ms(), &refused)) {
			if (refused)
				fprintf(stderr, "bottlefs: %llu similar log lines suppressed\n",
					(unsigned long long)refused);
			fprintf(stderr, "%s\n", buf_cstr(&line));
		}
	}
	buf_release(&line);
	return r;
}

static int fail(const char *op, const char *path, int r, const struct buf *err)
{
	return fail_in(ctx(), op, path, r, err);
}

static void fill_stat(struct stat *st, const struct view_attr *a)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = (a->dir ? S_IFDIR : S_IFREG) | a->mode;
	st->st_nlink = a->dir ? 2 : 1;
	st->st_size = (off_t)a->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_mtim.tv_sec = a->mtime;
	st->st_ctim.tv_sec = a->mtime;
	st->st_atim.tv_sec = a->mtime;
}

static struct fh *handle_of(struct fuse_file_info *fi)
{
	return fi ? (struct fh *)(uintptr_t)fi->fh : NULL;
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct buf err = BUF_INIT(4096);
	struct files_stat fs;
	struct view_attr a;
	struct fh *h = handle_of(fi);
	struct node n;
	int r;

	/* A scratch file answers through its fd, also once its name is gone. */
	if (h && files_fh_is_scratch(h) && files_fh_stat(ctx()->files, h, &fs) == 0) {
		memset(&a, 0, sizeof(a));
		a.mode = 0644;
		a.size = fs.size;
		a.mtime = fs.mtime;
		fill_stat(st, &a);
		st->st_nlink = fs.linked ? 1 : 0;
		return 0;
	}
	r = mount_resolve(path, &n);
	if (r == 0)
		r = mount_getattr(ctx(), &n, &a, &err);
	if (r == 0)
		fill_stat(st, &a);
	else if (r != -ENOENT)
		fail("stat", path, r, &err);
	buf_release(&err);
	return r;
}

struct fill_args {
	void *buf;
	fuse_fill_dir_t filler;
};

static int fill_one(void *ud, const char *name, const struct view_attr *a)
{
	struct fill_args *fa = ud;
	struct stat st;

	if (!a)
		return fa->filler(fa->buf, name, NULL, 0, 0);
	fill_stat(&st, a);
	return fa->filler(fa->buf, name, &st, 0, FUSE_FILL_DIR_PLUS);
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct fill_args fa = {buf, filler};
	struct buf err = BUF_INIT(4096);
	struct node n;
	int r;

	(void)off;
	(void)fi;
	(void)flags;
	r = tree_resolve(path, &n);
	if (r < 0)
		return r;
	filler(buf, ".", NULL, 0, 0);
	filler(buf, "..", NULL, 0, 0);
	r = mount_list(ctx(), &n, fill_one, &fa, &err);
	if (r < 0)
		fail("list", path, r, &err);
	buf_release(&err);
	return r;
}

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_APPEND | O_CREAT));
}

/* The paths whose kernel cache a write to n makes stale. */
static size_t stale_paths(const struct node *n, char paths[][320], size_t max)
{
	const char *const *names;
	size_t k = 0;
	int i, count;

	if (n->kind == N_DONE || n->kind == N_PULLS_NEW) {
		snprintf(paths[k++], 320, "/done");
		snprintf(paths[k++], 320, "/.bottlefs/scope");
		if (n->kind == N_PULLS_NEW)
			snprintf(paths[k++], 320, "/forge/%s/%s/pulls", n->owner, n->repo);
		return k;
	}
	{
		struct node item = *n;

		item.kind = N_ITEM;
		snprintf(paths[k++], 320, "/forge/%s/%s/%s/%llu", n->owner, n->repo,
			 n->pull ? "pulls" : "issues", (unsigned long long)n->number);
		count = tree_fixed_children(&item, &names);
	}
	for (i = 0; i < count && k < max; i++)
		snprintf(paths[k++], 320, "/forge/%s/%s/%s/%llu/%s", n->owner, n->repo,
			 n->pull ? "pulls" : "issues", (unsigned long long)n->number, names[i]);
	return k;
}

/* Waits (bounded) until the kernel forgot what it cached for these paths. */
static void invalidate(struct mount_ctx *c, const char *const *paths, size_t n)
{
	if (c->notifier)
		notifier_wait(c->notifier, notifier_push(c->notifier, paths, n), 1000);
}

/*
 * files_commit_fn (fs/files.h): sends a write, logs a failure, and makes
 * the kernel forget the old content before close() returns.
 */
int ops_commit(void *ud, const struct node *n, const char *data, size_t len, struct buf *reply,
	       struct buf *err)
{
	struct mount_ctx *c = ud;
	struct buf path = BUF_INIT(4096);
	char paths[16][320];
	const char *ptrs[16];
	size_t k, i;
	int r;

	r = writes_commit(c->writes, n, data, len, reply, err);
	if (r < 0) {
		tree_node_path(n, &path);
		fail_in(c, "write", buf_cstr(&path), r, err);
	}
	k = stale_paths(n, paths, 16);
	for (i = 0; i < k; i++)
		ptrs[i] = paths[i];
	invalidate(c, ptrs, k);
	buf_release(&path);
	return r;
}

static int open_write(const char *path, const struct node *n, struct fuse_file_info *fi)
{
	struct buf err = BUF_INIT(4096), initial = BUF_INIT(0);
	bool truncate = (fi->flags & O_TRUNC) != 0;
	struct fh *h;
	int r;

	r = mount_open_write(ctx(), n, truncate, &initial, &err);
	if (r < 0) {
		/* A refused write is the agent's business; say why only under -d. */
		if (r != -EACCES || ctx()->debug)
			fail("open for writing", path, r, &err);
		goto out;
	}
	r = files_open_write(ctx()->files, n, &initial, truncate, &h);
	if (r < 0)
		goto out;
	fi->fh = (uint64_t)(uintptr_t)h;
	/* Written content never sits in the page cache: reads see this handle. */
	fi->direct_io = 1;
out:
	buf_release(&initial);
	buf_release(&err);
	return r;
}

static int open_scratch(const struct node *n, struct fuse_file_info *fi, bool create)
{
	bool trunc = (fi->flags & O_TRUNC) != 0;
	struct fh *h;
	int r;

	if (create)
		r = mount_create(ctx(), n, (fi->flags & O_EXCL) != 0, trunc, &h);
	else if (wants_write(fi->flags) && mount_access_write(ctx(), n) < 0)
		r = -EACCES;
	else
		r = files_open_scratch(ctx()->files, n, false, false, trunc, &h);
	if (r < 0)
		return r;
	fi->fh = (uint64_t)(uintptr_t)h;
	/* Several fds share the file's content: every read asks the daemon. */
	fi->direct_io = 1;
	return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct buf err = BUF_INIT(4096);
	struct buf data = BUF_INIT(0);
	struct fh *h;
	struct node n;
	char *bytes;
	size_t len;
	int r;

	r = mount_resolve(path, &n);
	if (r < 0)
		return r;
	if (n.kind == N_SCRATCH)
		return open_scratch(&n, fi, false);
	if (wants_write(fi->flags))
		return open_write(path, &n, fi);
	/* The kernel looked the file up just before: no second render for its size. */
	r = mount_read(ctx(), &n, &data, &err);
	if (r < 0) {
		fail("open", path, r, &err);
		goto out;
	}
	bytes = buf_steal(&data, &len);
	r = files_open_read(ctx()->files, &n, bytes, len, &h);
	if (r < 0)
		goto out;
	fi->fh = (uint64_t)(uintptr_t)h;
	/*
	 * Content that changes without the forge never sits in the page cache.
	 * Forge content keeps its pages across opens: the kernel drops them
	 * itself when a refreshed mtime (the forge's updated_at) or size
	 * differs (FUSE_CAP_AUTO_INVAL_DATA), and writes through the mount
	 * invalidate explicitly.
	 */
	fi->direct_io = mount_volatile(&n);
	fi->keep_cache = !fi->direct_io;
	/* A read-only file has nothing to send at close: spare the FLUSH round trip. */
	fi->noflush = 1;
out:
	buf_release(&data);
	buf_release(&err);
	return r;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct node n;

	(void)mode;
	if (mount_resolve(path, &n) < 0)
		return -EACCES;
	return open_scratch(&n, fi, true);
}

static int op_read(const char *path, char *out, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fh *h = handle_of(fi);

	(void)path;
	if (!h)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	return files_read(ctx()->files, h, out, size, (uint64_t)off);
}

static int op_write(const char *path, const char *in, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fh *h = handle_of(fi);

	(void)path;
	if (!h)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	return files_write(ctx()->files, h, in, size, (uint64_t)off, (fi->flags & O_APPEND) != 0);
}

static int op_flush(const char *path, struct fuse_file_info *fi)
{
	struct fh *h = handle_of(fi);

	(void)path;
	return h ? files_flush(ctx()->files, h) : 0;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	return op_flush(path, fi);
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	/* Normally flush already sent it; what is still pending is sent now. */
	files_release(ctx()->files, handle_of(fi));
	return 0;
}

/* A directory whose object is missing fails here: readdir's ENOENT reads as empty. */
static int op_opendir(const char *path, struct fuse_file_info *fi)
{
	struct buf err = BUF_INIT(4096);
	struct node n;
	int r;

	(void)fi;
	r = tree_resolve(path, &n);
	if (r == 0)
		r = view_open_dir(ctx()->view, &n, &err);
	if (r < 0 && r != -ENOENT)
		fail("list", path, r, &err);
	buf_release(&err);
	return r;
}

/* access(W_OK) is true exactly where a write would be accepted (SPEC 1). */
static int op_access(const char *path, int mask)
{
	struct stat st;
	struct node n;
	int r = op_getattr(path, &st, NULL);

	if (r < 0)
		return r;
	if (!(mask & W_OK))
		return 0;
	r = mount_resolve(path, &n);
	return r < 0 ? r : mount_access_write(ctx(), &n);
}

/* Every write-type operation outside the scope: refused, nothing sent. */
static int deny_path(const char *path)
{
	(void)path;
	return -EACCES;
}

static int op_mknod(const char *p, mode_t m, dev_t d)
{
	(void)m;
	(void)d;
	return deny_path(p);
}

static int op_mkdir(const char *p, mode_t m)
{
	(void)m;
	return deny_path(p);
}

static int op_unlink(const char *p)
{
	struct node n;

	return mount_resolve(p, &n) < 0 ? deny_path(p) : mount_unlink(ctx(), &n);
}

static int op_rmdir(const char *p)
{
	return deny_path(p);
}

static int op_symlink(const char *from, const char *to)
{
	(void)from;
	return deny_path(to);
}

/*
 * Only a scratch file is renamed (mount_rename): onto another name, or onto
 * a field, which sends its content. Before the reply the kernel forgets the
 * scratch file's attributes: the inode it names becomes the field's.
 */
static int op_rename(const char *from, const char *to, unsigned int flags)
{
	struct buf err = BUF_INIT(4096);
	struct node a, b;
	int r;

	if (mount_resolve(from, &a) < 0 || mount_resolve(to, &b) < 0)
		return deny_path(from);
	r = mount_rename(ctx(), &a, &b, flags, &err);
	if (r == 0 && b.kind == N_ITEM_FILE)
		invalidate(ctx(), &from, 1);
	buf_release(&err);
	return r;
}

static int op_link(const char *from, const char *to)
{
	(void)from;
	return deny_path(to);
}

/*
 * chmod, chown, utimens: on a scratch file (by name or by fd, also once
 * unlinked) accepted and changing nothing, so `sed -i` copying the
 * original's mode stays silent; refused everywhere else.
 */
static int setattr(const char *p, struct fuse_file_info *fi)
{
	struct fh *h = handle_of(fi);
	struct node n;

	if (h && files_fh_is_scratch(h))
		return 0;
	if (!p || mount_resolve(p, &n) < 0)
		return deny_path(p);
	return mount_setattr(ctx(), &n);
}

static int op_chmod(const char *p, mode_t m, struct fuse_file_info *fi)
{
	(void)m;
	return setattr(p, fi);
}

static int op_chown(const char *p, uid_t u, gid_t g, struct fuse_file_info *fi)
{
	(void)u;
	(void)g;
	return setattr(p, fi);
}

/*
 * Truncating is part of replacing a writable file's content (`echo >` may
 * truncate before it writes); anywhere else it is refused like any write.
 */
static int op_truncate(const char *p, off_t size, struct fuse_file_info *fi)
{
	struct fh *h = handle_of(fi);
	struct node n;

	if (size < 0)
		return -EINVAL;
	if (h)
		return files_truncate(ctx()->files, h, (uint64_t)size);
	if (!p || mount_resolve(p, &n) < 0)
		return deny_path(p);
	return mount_truncate(ctx(), &n, (uint64_t)size);
}

static int op_utimens(const char *p, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)tv;
	return setattr(p, fi);
}

static int op_setxattr(const char *p, const char *name, const char *v, size_t size, int flags)
{
	(void)name;
	(void)v;
	(void)size;
	(void)flags;
	return deny_path(p);
}

static int op_removexattr(const char *p, const char *name)
{
	(void)name;
	return deny_path(p);
}

static int op_getxattr(const char *p, const char *name, char *v, size_t size)
{
	(void)p;
	(void)name;
	(void)v;
	(void)size;
	return -ENODATA;
}

static int op_listxattr(const char *p, char *list, size_t size)
{
	(void)p;
	(void)list;
	(void)size;
	return 0;
}

static int op_statfs(const char *p, struct statvfs *st)
{
	(void)p;
	memset(st, 0, sizeof(*st));
	st->f_bsize = 4096;
	st->f_frsize = 4096;
	st->f_namemax = 255;
	return 0;
}

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct mount_ctx *c = ctx();

	/*
	 * Names and attributes may be kept by the kernel for kernel_ttl_s. A
	 * file's pages are kept across opens (keep_cache in op_open) and
	 * dropped by the kernel when its size or mtime (the forge's
	 * updated_at) changes. See SEMANTICS.md.
	 */
	cfg->entry_timeout = c->kernel_ttl_s;
	cfg->attr_timeout = c->kernel_ttl_s;
	/* Negative entries are not kept: a new PR must show up at once. */
	cfg->negative_timeout = 0;
	cfg->auto_cache = 0;
	cfg->use_ino = 0;
	cfg->hard_remove = 1;
	conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (notifier_start(fuse_get_context()->fuse, &c->notifier) < 0)
		fprintf(stderr,
			"bottlefs: cannot start the cache notifier; reads after a "
			"write may be stale for up to %.0f s\n",
			c->kernel_ttl_s);
	return c;
}

/*
 * Unmounting: files still open get no release. What was written to them
 * and not yet sent is sent now (journaled first, like every write), so
 * SIGTERM or fusermount3 -u loses nothing an agent wrote.
 */
static void op_destroy(void *data)
{
	struct mount_ctx *c = data;

	notifier_stop(c->notifier);
	c->notifier = NULL;
	files_finish(c->files);
}

static const struct fuse_operations ops = {
    .init = op_init,
    .destroy = op_destroy,
    .write = op_write,
    .flush = op_flush,
    .fsync = op_fsync,
    .getattr = op_getattr,
    .readdir = op_readdir,
    .opendir = op_opendir,
    .open = op_open,
    .read = op_read,
    .release = op_release,
    .access = op_access,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .chmod = op_chmod,
    .chown = op_chown,
    .truncate = op_truncate,
    .utimens = op_utimens,
    .create = op_create,
    .setxattr = op_setxattr,
    .removexattr = op_removexattr,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .statfs = op_statfs,
};

const struct fuse_operations *ops_table(void)
{
	return &ops;
}
