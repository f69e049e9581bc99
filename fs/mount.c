#include "fs/mount.h"

#include <errno.h>

static bool whole_file_write(const struct node *n)
{
	return n->kind == N_COMMENT_NEW || n->kind == N_PULLS_NEW || n->kind == N_DONE;
}

bool mount_volatile(const struct node *n)
{
	return n->kind == N_BOTTLE_FILE || n->kind == N_DONE ||
	       (n->kind == N_META_FILE && n->mfile == M_SCOPE);
}

int mount_read(struct mount_ctx *m, const struct node *n, struct buf *out, struct buf *err)
{
	if (n->kind == N_DONE)
		return writes_done_text(m->writes, out);
	if (n->kind == N_META_FILE && n->mfile == M_SCOPE)
		return scope_describe(&m->scope, out);
	return view_read(m->view, n, out, err);
}

int mount_getattr(struct mount_ctx *m, const struct node *n, struct view_attr *out, struct buf *err)
{
	struct buf content = BUF_INIT(0);
	int r;

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
	return r;
}

int mount_open_write(struct mount_ctx *m, const struct node *n, bool truncate, struct buf *initial,
		     struct buf *err)
{
	struct view_attr a;
	int r;

	r = scope_check(&m->scope, n, err);
	if (r < 0)
		return r;
	/* The object must exist (the issue, or the PR) before it is written. */
	r = view_getattr(m->view, n, &a, err);
	if (r < 0 || truncate || whole_file_write(n))
		return r;
	return view_read(m->view, n, initial, err);
}
