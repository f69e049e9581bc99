/*
 * ops: the FUSE callbacks. Each one unpacks the request, asks the tree and
 * the view, and replies (STYLE habit 4): no forge, manifest or state logic
 * lives here.
 *
 * Files are served from a snapshot taken at open(), so one open file never
 * changes under its reader and read() never waits on the forge. getattr()
 * renders the same bytes, so st_size is exact.
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
#include <unistd.h>

#include "fs/mount.h"
#include "fs/tree.h"
#include "fs/view.h"
#include "util/buf.h"

/* What one open file holds: the bytes it reads. */
struct handle {
	char *data;
	size_t len;
};

static struct mount_ctx *ctx(void)
{
	return fuse_get_context()->private_data;
}

/* Log once, at the boundary (STYLE habit 8): what failed, on what, why. */
static int fail(const char *op, const char *path, int r, const struct buf *err)
{
	if (err && err->len)
		fprintf(stderr, "bottlefs: %s '%s': %s\n", op, path, buf_cstr(err));
	else if (ctx()->debug)
		fprintf(stderr, "bottlefs: %s '%s': %s\n", op, path, strerror(-r));
	return r;
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

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct buf err = BUF_INIT(4096);
	struct view_attr a;
	struct node n;
	int r;

	(void)fi;
	r = tree_resolve(path, &n);
	if (r == 0)
		r = view_getattr(ctx()->view, &n, &a, &err);
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
	r = view_list(ctx()->view, &n, fill_one, &fa, &err);
	if (r < 0)
		fail("list", path, r, &err);
	buf_release(&err);
	return r;
}

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_APPEND | O_CREAT));
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct buf err = BUF_INIT(4096);
	struct buf data = BUF_INIT(0);
	struct view_attr a;
	struct handle *h;
	struct node n;
	int r;

	r = tree_resolve(path, &n);
	if (r < 0)
		return r;
	if (wants_write(fi->flags))
		return -EACCES;
	r = view_getattr(ctx()->view, &n, &a, &err);
	if (r == 0)
		r = view_read(ctx()->view, &n, &data, &err);
	if (r < 0) {
		fail("open", path, r, &err);
		goto out;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		r = -ENOMEM;
		goto out;
	}
	h->data = buf_steal(&data, &h->len);
	fi->fh = (uint64_t)(uintptr_t)h;
	/* Content that changes without the forge never sits in the page cache. */
	fi->direct_io = a.volatile_content;
out:
	buf_release(&data);
	buf_release(&err);
	return r;
}

static int op_read(const char *path, char *out, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)path;
	if (off < 0)
		return -EINVAL;
	if ((size_t)off >= h->len)
		return 0;
	if (size > h->len - (size_t)off)
		size = h->len - (size_t)off;
	memcpy(out, h->data + off, size);
	return (int)size;
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	(void)path;
	if (h) {
		free(h->data);
		free(h);
	}
	return 0;
}

static int op_opendir(const char *path, struct fuse_file_info *fi)
{
	struct node n;

	(void)fi;
	return tree_resolve(path, &n);
}

static int op_access(const char *path, int mask)
{
	struct stat st;
	int r = op_getattr(path, &st, NULL);

	if (r < 0)
		return r;
	return (mask & W_OK) ? -EACCES : 0;
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
	return deny_path(p);
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

static int op_rename(const char *from, const char *to, unsigned int flags)
{
	(void)to;
	(void)flags;
	return deny_path(from);
}

static int op_link(const char *from, const char *to)
{
	(void)from;
	return deny_path(to);
}

static int op_chmod(const char *p, mode_t m, struct fuse_file_info *fi)
{
	(void)m;
	(void)fi;
	return deny_path(p);
}

static int op_chown(const char *p, uid_t u, gid_t g, struct fuse_file_info *fi)
{
	(void)u;
	(void)g;
	(void)fi;
	return deny_path(p);
}

static int op_truncate(const char *p, off_t size, struct fuse_file_info *fi)
{
	(void)size;
	(void)fi;
	return deny_path(p);
}

static int op_utimens(const char *p, const struct timespec tv[2], struct fuse_file_info *fi)
{
	(void)tv;
	(void)fi;
	return deny_path(p);
}

static int op_create(const char *p, mode_t m, struct fuse_file_info *fi)
{
	(void)m;
	(void)fi;
	return deny_path(p);
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
	 * Names and attributes may be kept by the kernel for kernel_ttl_s;
	 * auto_cache keeps a file's pages across opens only while its size
	 * and mtime (the forge's updated_at) are unchanged. See SEMANTICS.md.
	 */
	cfg->entry_timeout = c->kernel_ttl_s;
	cfg->attr_timeout = c->kernel_ttl_s;
	cfg->negative_timeout = c->kernel_ttl_s;
	cfg->auto_cache = 1;
	cfg->use_ino = 0;
	cfg->hard_remove = 1;
	conn->want |= FUSE_CAP_READDIRPLUS;
	return c;
}

static const struct fuse_operations ops = {
	.init = op_init,
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
