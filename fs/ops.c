/*
 * ops: the FUSE callbacks. Each one unpacks the request, asks the tree
 * (tree/tree.h), and replies (STYLE habit 4): no forge, cache, write,
 * manifest or state logic lives here, and no path is built here.
 *
 * Files are served from a snapshot taken at open(), so one open file never
 * changes under its reader and read() never waits on the forge. getattr()
 * renders the same bytes, so st_size is exact. Everything an open file
 * holds, and every call on it from any number of threads, is the tree's
 * business (tree/files.c), as is which names may be created, unlinked or
 * renamed.
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

#include "fs/fs.h"
#include "fs/notify.h"
#include "tree/tree.h"
#include "util/buf.h"
#include "util/str.h"
#include "util/time.h"

static struct mount *ctx(void)
{
	return fuse_get_context()->private_data;
}

/*
 * Log once, at the boundary (STYLE habit 8): what failed, on what, why.
 * The path and the reason may hold what an agent wrote or a forge sent:
 * their control bytes and invalid UTF-8 are escaped, so a line cannot be
 * split, recoloured or rewritten on a terminal.
 */
static int fail_in(struct mount *c, const char *op, const char *path, int r, const struct buf *err)
{
	struct buf line = BUF_INIT(16384);
	uint64_t refused = 0;

	/* A line is best effort (buf_note): what does not fit in 16 KiB is cut. */
	if ((err && err->len) || c->debug) {
		buf_note(&line, "bottlefs: %s '", op);
		(void)!str_escape_log_cstr(&line, path);
		buf_note(&line, "': ");
		if (err && err->len)
			(void)!str_escape_log(&line, err->data, err->len);
		else
			buf_note(&line, "%s", strerror(-r));
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

static void fill_stat(struct stat *st, const struct tree_attr *a)
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
	struct tree_attr a;
	struct fh *h = handle_of(fi);
	struct node n;
	bool linked;
	int r;

	/* A scratch file answers through its fd, also once its name is gone. */
	if (h && tree_fh_stat(ctx()->tree, h, &a, &linked) == 0) {
		fill_stat(st, &a);
		st->st_nlink = linked ? 1 : 0;
		return 0;
	}
	r = tree_lookup(path, &n);
	if (r == 0)
		r = tree_getattr(ctx()->tree, &n, &a, &err);
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

static int fill_one(void *ud, const char *name, const struct tree_attr *a)
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
	r = tree_list(ctx()->tree, &n, fill_one, &fa, &err);
	if (r < 0)
		fail("list", path, r, &err);
	buf_release(&err);
	return r;
}

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_APPEND | O_CREAT));
}

/* The paths a write made stale, gathered for one push to the notifier. */
struct stale {
	char *paths[16];
	size_t n;
};

static void stale_add(void *ud, const char *path)
{
	struct stale *st = ud;

	if (st->n < sizeof(st->paths) / sizeof(st->paths[0]) && (st->paths[st->n] = strdup(path)))
		st->n++;
}

/* Waits (bounded) until the kernel forgot what it cached for these paths. */
static void invalidate(struct mount *c, const char *const *paths, size_t n)
{
	if (c->notifier)
		notifier_wait(c->notifier, notifier_push(c->notifier, paths, n), 1000);
}

void ops_sent(void *ud, const struct node *n, int r, const struct buf *err)
{
	struct mount *c = ud;
	struct buf path = BUF_INIT(4096);
	struct stale st = {{NULL}, 0};
	size_t i;

	if (r < 0) {
		/* A path that cannot be built (out of memory) is logged as what was built. */
		(void)!tree_node_path(n, &path);
		fail_in(c, "write", buf_cstr(&path), r, err);
	}
	/* Paths it could not gather stay cached for --kernel-ttl at most. */
	(void)!tree_changed_paths(n, stale_add, &st);
	invalidate(c, (const char *const *)st.paths, st.n);
	for (i = 0; i < st.n; i++)
		free(st.paths[i]);
	buf_release(&path);
}

static void set_props(struct fuse_file_info *fi, struct fh *h, const struct tree_open_props *p)
{
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = p->direct_io;
	fi->keep_cache = p->keep_cache;
	fi->noflush = p->noflush;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct buf err = BUF_INIT(4096);
	bool write = wants_write(fi->flags);
	struct tree_open_props props;
	struct fh *h;
	struct node n;
	int r;

	r = tree_lookup(path, &n);
	if (r < 0)
		return r;
	r = tree_open(ctx()->tree, &n, write, (fi->flags & O_TRUNC) != 0, &h, &props, &err);
	if (r == 0)
		set_props(fi, h, &props);
	/* A refused write is the agent's business; say why only under -d. */
	else if (n.kind != N_SCRATCH && (!write || r != -EACCES || ctx()->debug))
		fail(write ? "open for writing" : "open", path, r, &err);
	buf_release(&err);
	return r;
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct tree_open_props props;
	struct fh *h;
	struct node n;
	int r;

	(void)mode;
	if (tree_lookup(path, &n) < 0)
		return -EACCES;
	r = tree_create(ctx()->tree, &n, (fi->flags & O_EXCL) != 0, (fi->flags & O_TRUNC) != 0, &h,
			&props);
	if (r == 0)
		set_props(fi, h, &props);
	return r;
}

static int op_read(const char *path, char *out, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fh *h = handle_of(fi);

	(void)path;
	if (!h)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	return tree_fh_read(ctx()->tree, h, out, size, (uint64_t)off);
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
	return tree_fh_write(ctx()->tree, h, in, size, (uint64_t)off, (fi->flags & O_APPEND) != 0);
}

static int op_flush(const char *path, struct fuse_file_info *fi)
{
	struct fh *h = handle_of(fi);

	(void)path;
	return h ? tree_fh_flush(ctx()->tree, h) : 0;
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
	if (handle_of(fi))
		tree_fh_release(ctx()->tree, handle_of(fi));
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
		r = tree_open_dir(ctx()->tree, &n, &err);
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
	r = tree_lookup(path, &n);
	return r < 0 ? r : tree_access_write(ctx()->tree, &n);
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

	return tree_lookup(p, &n) < 0 ? deny_path(p) : tree_unlink(ctx()->tree, &n);
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

	if (tree_lookup(from, &a) < 0 || tree_lookup(to, &b) < 0)
		return deny_path(from);
	r = tree_rename(ctx()->tree, &a, &b, flags, &err);
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
	struct tree_attr a;
	struct node n;
	bool linked;

	if (h && tree_fh_stat(ctx()->tree, h, &a, &linked) == 0)
		return 0;
	if (!p || tree_lookup(p, &n) < 0)
		return deny_path(p);
	return tree_setattr(ctx()->tree, &n);
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
		return tree_fh_truncate(ctx()->tree, h, (uint64_t)size);
	if (!p || tree_lookup(p, &n) < 0)
		return deny_path(p);
	return tree_truncate(ctx()->tree, &n, (uint64_t)size);
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
	struct mount *c = ctx();

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
	struct mount *c = data;

	notifier_stop(c->notifier);
	c->notifier = NULL;
	tree_finish(c->tree);
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
