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
#include "fs/notify.h"
#include "fs/tree.h"
#include "fs/view.h"
#include "util/buf.h"
#include "util/str.h"

/* Content an agent may write to one file before close(). */
#define WRITE_MAX ((size_t)8 << 20)

/*
 * What one open file holds: the bytes it reads, or, opened for writing,
 * what has been written so far (sent at flush, the close() of the agent).
 */
struct handle {
	char *data; /* read snapshot, or what reading shows after a commit */
	size_t len;
	bool writable;
	struct node node;
	struct buf wbuf;	    /* written content (writable handles) */
	bool dirty;		    /* written since the last commit */
	char *path;		    /* for the log, when unmounting finishes the write */
	struct handle *prev, *next; /* mount_ctx.handles; handles_lock */
};

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
static int fail(const char *op, const char *path, int r, const struct buf *err)
{
	struct buf line = BUF_INIT(16384);

	if ((err && err->len) || ctx()->debug) {
		buf_printf(&line, "bottlefs: %s '", op);
		str_escape_log_cstr(&line, path);
		buf_puts(&line, "': ");
		if (err && err->len)
			str_escape_log(&line, err->data, err->len);
		else
			buf_puts(&line, strerror(-r));
		fprintf(stderr, "%s\n", buf_cstr(&line));
	}
	buf_release(&line);
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

static struct handle *handle_of(struct fuse_file_info *fi)
{
	return (struct handle *)(uintptr_t)fi->fh;
}

static void handle_free(struct handle *h)
{
	if (!h)
		return;
	free(h->data);
	free(h->path);
	buf_release(&h->wbuf);
	free(h);
}

/* Every open file is on the mount's list until release (or unmount). */
static void handle_link(struct mount_ctx *c, struct handle *h, struct fuse_file_info *fi)
{
	pthread_mutex_lock(&c->handles_lock);
	h->next = c->handles;
	if (c->handles)
		c->handles->prev = h;
	c->handles = h;
	pthread_mutex_unlock(&c->handles_lock);
	fi->fh = (uint64_t)(uintptr_t)h;
}

static void handle_unlink(struct mount_ctx *c, struct handle *h)
{
	pthread_mutex_lock(&c->handles_lock);
	if (h->prev)
		h->prev->next = h->next;
	else
		c->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&c->handles_lock);
}

static int open_write(const char *path, const struct node *n, struct fuse_file_info *fi)
{
	struct buf err = BUF_INIT(4096);
	struct handle *h = calloc(1, sizeof(*h));
	int r;

	if (!h)
		return -ENOMEM;
	buf_init(&h->wbuf, WRITE_MAX);
	r = mount_open_write(ctx(), n, (fi->flags & O_TRUNC) != 0, &h->wbuf, &err);
	if (r < 0) {
		/* A refused write is the agent's business; say why only under -d. */
		if (r != -EACCES || ctx()->debug)
			fail("open for writing", path, r, &err);
		handle_free(h);
		goto out;
	}
	h->writable = true;
	h->node = *n;
	h->path = strdup(path);
	/* Truncating a whole-file field is a write of nothing (`: > title`). */
	h->dirty = (fi->flags & O_TRUNC) && n->kind == N_ITEM_FILE;
	handle_link(ctx(), h, fi);
	/* Written content never sits in the page cache: reads see this handle. */
	fi->direct_io = 1;
out:
	buf_release(&err);
	return r;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
	struct buf err = BUF_INIT(4096);
	struct buf data = BUF_INIT(0);
	struct handle *h;
	struct node n;
	int r;

	r = tree_resolve(path, &n);
	if (r < 0)
		return r;
	if (wants_write(fi->flags))
		return open_write(path, &n, fi);
	/* The kernel looked the file up just before: no second render for its size. */
	r = mount_read(ctx(), &n, &data, &err);
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
	handle_link(ctx(), h, fi);
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

/* Sends what a writable handle holds; the answer is close()'s. */
static int commit(const char *path, struct handle *h)
{
	struct buf err = BUF_INIT(4096), reply = BUF_INIT(4096);
	char paths[16][320];
	const char *ptrs[16];
	size_t n, i;
	int r;

	if (!h->dirty)
		return 0;
	h->dirty = false;
	r = writes_commit(ctx()->writes, &h->node, h->wbuf.data ? h->wbuf.data : "", h->wbuf.len,
			  &reply, &err);
	if (r < 0) {
		fail("write", path, r, &err);
	} else {
		free(h->data);
		h->data = buf_steal(&reply, &h->len);
	}
	/* The kernel forgets the old content before close() returns. */
	n = stale_paths(&h->node, paths, 16);
	for (i = 0; i < n; i++)
		ptrs[i] = paths[i];
	if (ctx()->notifier)
		notifier_wait(ctx()->notifier, notifier_push(ctx()->notifier, ptrs, n), 1000);
	buf_release(&reply);
	buf_release(&err);
	return r;
}

static int op_read(const char *path, char *out, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);
	const char *data;
	size_t len;
	int r;

	if (off < 0)
		return -EINVAL;
	/* pulls/new: reading after writing opens the PR, then shows its number. */
	if (h->writable && h->node.kind == N_PULLS_NEW && h->dirty && (r = commit(path, h)) < 0)
		return r;
	data = h->data;
	len = h->len;
	if (h->writable) {
		if (h->node.kind != N_PULLS_NEW) {
			data = buf_cstr(&h->wbuf);
			len = h->wbuf.len;
		}
	}
	if ((size_t)off >= len)
		return 0;
	if (size > len - (size_t)off)
		size = len - (size_t)off;
	memcpy(out, data + off, size);
	return (int)size;
}

static int op_write(const char *path, const char *in, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	static const char zeros[4096];
	struct handle *h = handle_of(fi);
	size_t end;
	int r;

	(void)path;
	if (!h || !h->writable)
		return -EBADF;
	if (fi->flags & O_APPEND)
		off = (off_t)h->wbuf.len;
	if (off < 0 || (size_t)off > WRITE_MAX || size > WRITE_MAX - (size_t)off)
		return -EFBIG;
	end = (size_t)off + size;
	/* Grow to the end of this write (a hole reads as zeros, as on any file). */
	while (h->wbuf.len < end) {
		size_t k = end - h->wbuf.len;

		r = buf_append(&h->wbuf, zeros, k < sizeof(zeros) ? k : sizeof(zeros));
		if (r < 0)
			return r == -E2BIG ? -EFBIG : r;
	}
	memcpy(h->wbuf.data + off, in, size);
	h->dirty = true;
	return (int)size;
}

static int op_flush(const char *path, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	return h && h->writable ? commit(path, h) : 0;
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	return op_flush(path, fi);
}

static int op_release(const char *path, struct fuse_file_info *fi)
{
	struct handle *h = handle_of(fi);

	/* Normally flush already sent it; a handle closed without one is sent now. */
	if (h && h->writable)
		commit(path, h);
	if (h)
		handle_unlink(ctx(), h);
	handle_free(h);
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
	r = tree_resolve(path, &n);
	return r < 0 ? r : scope_check(&ctx()->scope, &n, NULL);
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

/*
 * Truncating is part of replacing a writable file's content (`echo >` may
 * truncate before it writes); anywhere else it is refused like any write.
 */
static int op_truncate(const char *p, off_t size, struct fuse_file_info *fi)
{
	struct handle *h = fi ? handle_of(fi) : NULL;
	struct node n;

	if (h && h->writable) {
		if (size < 0 || (size_t)size > h->wbuf.len)
			return size < 0 ? -EINVAL : 0;
		h->wbuf.len = (size_t)size;
		if (h->wbuf.data)
			h->wbuf.data[size] = '\0';
		h->dirty = true;
		return 0;
	}
	if (size == 0 && tree_resolve(p, &n) == 0 && scope_check(&ctx()->scope, &n, NULL) == 0)
		return 0;
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
	struct handle *h, *next;

	notifier_stop(c->notifier);
	c->notifier = NULL;
	pthread_mutex_lock(&c->handles_lock);
	for (h = c->handles; h; h = next) {
		next = h->next;
		if (h->writable && h->dirty)
			commit(h->path ? h->path : "?", h);
		handle_free(h);
	}
	c->handles = NULL;
	pthread_mutex_unlock(&c->handles_lock);
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
