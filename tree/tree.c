#include "tree/mount.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static bool whole_file_write(const struct node *n)
{
	return n->kind == N_COMMENT_NEW || n->kind == N_PULLS_NEW || n->kind == N_DONE;
}

static bool is_log(const struct node *n)
{
	return n->kind == N_META_FILE && n->mfile == M_LOG;
}

int mount_resolve(const char *path, struct node *out)
{
	if (tree_resolve(path, out) == 0)
		return 0;
	return tree_resolve_scratch(path, out);
}

bool mount_volatile(const struct node *n)
{
	return n->kind == N_BOTTLE_FILE || n->kind == N_DONE || is_log(n) ||
	       (n->kind == N_META_FILE && n->mfile == M_SCOPE);
}

int mount_read(struct mount_ctx *m, const struct node *n, struct buf *out, struct buf *err)
{
	if (n->kind == N_DONE)
		return writes_done_text(m->writes, out);
	if (n->kind == N_META_FILE && n->mfile == M_SCOPE)
		return scope_describe(&m->scope, out);
	if (is_log(n))
		return wlog_text(m->log, out);
	if (n->kind == N_SCRATCH)
		return -ENOENT; /* opened through files_open_scratch */
	return view_read(m->view, n, out, err);
}

/* A directory where an agent may create scratch files: an item it may write. */
static bool scratch_dir(struct mount_ctx *m, const struct node *n)
{
	return (n->kind == N_ITEM || n->kind == N_SCRATCH) && scope_item_in_scope(&m->scope, n);
}

static void file_attr(struct view_attr *a, uint64_t size, int64_t mtime, unsigned mode)
{
	memset(a, 0, sizeof(*a));
	a->mode = mode;
	a->size = size;
	a->mtime = mtime;
}

int mount_getattr(struct mount_ctx *m, const struct node *n, struct view_attr *out, struct buf *err)
{
	struct buf content = BUF_INIT(0);
	struct files_stat st;
	int r;

	if (n->kind == N_SCRATCH) {
		r = scratch_dir(m, n) ? files_scratch_stat(m->files, n, &st) : -ENOENT;
		if (r == 0)
			file_attr(out, st.size, st.mtime, 0644);
		return r;
	}
	if (is_log(n)) {
		r = wlog_text(m->log, &content);
		file_attr(out, content.len, time(NULL), 0444);
		out->volatile_content = true;
		buf_release(&content);
		return r;
	}
	r = view_getattr(m->view, n, out, err);
	if (r < 0)
		return r;
	if (n->kind == N_DONE || (n->kind == N_META_FILE && n->mfile == M_SCOPE)) {
		r = mount_read(m, n, &content, err);
		out->size = content.len;
		out->volatile_content = mount_volatile(n);
		buf_release(&content);
	}
	/* Mode bits tell the truth: writable exactly where a write is in scope. */
	if (r == 0 && !out->dir && scope_check(&m->scope, n, NULL) == 0)
		out->mode = 0644;
	if (r == 0 && n->kind == N_ITEM && scratch_dir(m, n))
		out->mode = 0755;
	return r;
}

struct list_args {
	view_fill_fn fill;
	void *ud;
};

static int fill_scratch(void *ud, const char *name, const struct files_stat *st)
{
	struct list_args *la = ud;
	struct view_attr a;

	file_attr(&a, st->size, st->mtime, 0644);
	return la->fill(la->ud, name, &a);
}

int mount_list(struct mount_ctx *m, const struct node *dir, view_fill_fn fill, void *ud,
	       struct buf *err)
{
	struct list_args la = {fill, ud};
	int r = view_list(m->view, dir, fill, ud, err);

	if (r == 0 && dir->kind == N_ITEM && scratch_dir(m, dir))
		r = files_scratch_list(m->files, dir, fill_scratch, &la);
	return r;
}

int mount_access_write(struct mount_ctx *m, const struct node *n)
{
	struct files_stat st;

	if (n->kind == N_ITEM)
		return scratch_dir(m, n) ? 0 : -EACCES;
	if (n->kind == N_SCRATCH)
		return scratch_dir(m, n) ? files_scratch_stat(m->files, n, &st) : -ENOENT;
	return scope_check(&m->scope, n, NULL);
}

int mount_open_write(struct mount_ctx *m, const struct node *n, bool truncate, struct buf *initial,
		     struct buf *err)
{
	struct view_attr a;
	int r;

	r = scope_check(&m->scope, n, err);
	/* A second done is a refused write: the agent can find it in the log. */
	if (r == -EACCES && n->kind == N_DONE && scope_is_done(&m->scope))
		wlog_add(m->log, "/done", r, "a done signal already stands; it cannot be changed");
	if (r < 0)
		return r;
	/* The object must exist (the issue, or the PR) before it is written. */
	r = view_getattr(m->view, n, &a, err);
	if (r < 0 || truncate || whole_file_write(n))
		return r;
	return view_read(m->view, n, initial, err);
}

int mount_create(struct mount_ctx *m, const struct node *n, bool excl, bool truncate,
		 struct fh **out)
{
	struct node dir;

	if (n->kind == N_SCRATCH)
		return scratch_dir(m, n)
			   ? files_open_scratch(m->files, n, true, excl, truncate, out)
			   : -EACCES;
	/* A fixed name beside writable fields exists already; elsewhere nothing is created. */
	dir = *n;
	dir.kind = N_ITEM;
	if ((n->kind == N_ITEM_FILE || n->kind == N_COMMENTS) && scratch_dir(m, &dir))
		return -EEXIST;
	return -EACCES;
}

int mount_unlink(struct mount_ctx *m, const struct node *n)
{
	if (n->kind == N_SCRATCH && scratch_dir(m, n))
		return files_scratch_unlink(m->files, n);
	return -EACCES;
}

int mount_setattr(struct mount_ctx *m, const struct node *n)
{
	struct files_stat st;

	if (n->kind == N_SCRATCH && scratch_dir(m, n))
		return files_scratch_stat(m->files, n, &st);
	return -EACCES;
}

int mount_truncate(struct mount_ctx *m, const struct node *n, uint64_t size)
{
	if (n->kind == N_SCRATCH && scratch_dir(m, n))
		return files_scratch_truncate(m->files, n, size);
	/* `echo >` may truncate by path before it writes: accepted, nothing sent. */
	if (size == 0 && scope_check(&m->scope, n, NULL) == 0)
		return 0;
	return -EACCES;
}

int mount_rename(struct mount_ctx *m, const struct node *from, const struct node *to,
		 unsigned flags, struct buf *err)
{
	struct files_stat st;
	int r;

	if (from->kind != N_SCRATCH || !scratch_dir(m, from) || !tree_same_item(from, to))
		return -EACCES;
	r = files_scratch_stat(m->files, from, &st);
	if (r < 0)
		return r;
	/* RENAME_NOREPLACE (1) is understood; RENAME_EXCHANGE and the rest are not. */
	if (flags & ~1u)
		return -EINVAL;
	if (to->kind == N_SCRATCH)
		return files_scratch_rename(m->files, from, to, flags & 1u);
	if (to->kind != N_ITEM_FILE || scope_check(&m->scope, to, NULL) < 0)
		return -EACCES;
	if (flags & 1u)
		return -EEXIST;
	return files_scratch_replace(m->files, from, to, err);
}
