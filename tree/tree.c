/*
 * tree: the tree of a mount (tree.h): its life, the calls fs/ makes, each
 * dispatched through the table of node kinds (kinds.c), and where reads
 * and writes meet: a node becomes a write_target for write/, what a write
 * changed becomes forgetting in the cache, and a sent write is told to
 * fs/ (tree_options.sent).
 */
#include "tree/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- what a write changed: the cache forgets it (write_changed_fn) ---- */

static void forget(void *ud, const char *owner, const char *repo, int pull, uint64_t number)
{
	struct tree *t = ud;

	if (!number) {
		cache_forget_lists(t->cache, owner, repo);
		return;
	}
	if (pull != 1)
		cache_forget_item(t->cache, owner, repo, FORGE_ISSUES, number);
	if (pull != 0)
		cache_forget_item(t->cache, owner, repo, FORGE_PULLS, number);
}

/*
 * Sends what was written to n (files_commit_fn): n becomes a write target,
 * write_commit journals and sends it, and fs/ hears of it (sent).
 */
static int send(void *ud, const struct node *n, const char *data, size_t len, struct buf *reply,
		struct buf *err)
{
	struct tree *t = ud;
	struct buf path = BUF_INIT(4096);
	struct write_target target;
	int r;

	tree_target(n, &target, &path);
	r = write_commit(t->write, &target, data, len, reply, err);
	if (t->opt.sent)
		t->opt.sent(t->opt.sent_ud, n, r, err);
	buf_release(&path);
	return r;
}

/* ---- life ---- */

int tree_new(const struct tree_options *opt, struct tree **out, struct buf *err)
{
	struct tree *t = calloc(1, sizeof(*t));
	struct files_options fo = {0};
	struct write_options wo;
	int r;

	if (!t)
		return buf_fail(err, -ENOMEM, "out of memory");
	t->opt = *opt;
	t->cache = opt->cache;
	t->scope = opt->write.scope;
	t->start_s = (int64_t)time(NULL);
	wo = opt->write;
	wo.changed = forget;
	wo.changed_ud = t;
	r = write_new(&wo, &t->write, err);
	if (r < 0)
		goto fail;
	fo.write_memory = opt->write_memory;
	fo.read_memory = opt->read_memory;
	fo.log = opt->write.log;
	fo.commit = send;
	fo.commit_ud = t;
	r = files_new(&fo, &t->files);
	if (r == 0)
		r = branches_new(t);
	if (r < 0) {
		r = buf_fail(err, r, "out of memory");
		goto fail;
	}
	*out = t;
	return 0;
fail:
	tree_free(t);
	return r;
}

void tree_free(struct tree *t)
{
	if (!t)
		return;
	files_free(t->files);
	branches_free(t);
	write_free(t->write);
	free(t);
}

int tree_recover(struct tree *t, struct buf *err)
{
	return write_recover(t->write, err);
}

void tree_finish(struct tree *t)
{
	files_finish(t->files);
}

/* ---- attributes and listings ---- */

void tree_dir_attr(struct tree_attr *a, int64_t mtime)
{
	memset(a, 0, sizeof(*a));
	a->dir = true;
	a->mode = 0555;
	a->mtime = mtime;
}

void tree_file_attr(struct tree_attr *a, uint64_t size, int64_t mtime, unsigned mode)
{
	memset(a, 0, sizeof(*a));
	a->mode = mode;
	a->size = size;
	a->mtime = mtime;
}

bool tree_scratch_dir(struct tree *t, const struct node *n)
{
	return (n->kind == N_ITEM || n->kind == N_SCRATCH) &&
	       scope_item_writable(t->scope, n->owner, n->repo, n->pull, n->number);
}

/* 0 when a write to n is in scope (why in err otherwise). */
static int in_scope(struct tree *t, const struct node *n, struct buf *err)
{
	struct write_target target;

	tree_target(n, &target, NULL);
	return scope_check(t->scope, &target, err);
}

/*
 * A bare git forge (capabilities git_only) has no issues or pull
 * requests: every path of theirs does not exist.
 */
bool tree_no_items(struct tree *t, const struct node *n)
{
	struct forge_capabilities caps;

	switch (n->kind) {
	case N_LIST:
	case N_ITEM:
	case N_ITEM_FILE:
	case N_COMMENTS:
	case N_COMMENT:
	case N_COMMENT_NEW:
	case N_PULLS_NEW:
	case N_SCRATCH:
		break;
	default:
		return false;
	}
	memset(&caps, 0, sizeof(caps));
	cache_capabilities(t->cache, &caps);
	return caps.git_only;
}

int tree_lookup(const char *path, struct node *out)
{
	if (tree_resolve(path, out) == 0)
		return 0;
	return tree_resolve_scratch(path, out);
}

int tree_read(struct tree *t, const struct node *n, struct buf *out, struct buf *err)
{
	const struct kind *k = tree_kind(n);

	if (tree_no_items(t, n))
		return -ENOENT;
	if (k->read)
		return k->read(t, n, out, err);
	return k->dir ? -EISDIR : 0;
}

int tree_getattr(struct tree *t, const struct node *n, struct tree_attr *out, struct buf *err)
{
	const struct kind *k = tree_kind(n);
	struct buf content = BUF_INIT(0);
	int r = 0;

	if (tree_no_items(t, n))
		return -ENOENT;
	if (k->attr) {
		r = k->attr(t, n, out, err);
	} else if (k->dir) {
		tree_dir_attr(out, t->start_s);
	} else {
		r = tree_read(t, n, &content, err);
		tree_file_attr(out, content.len, t->start_s, 0444);
		out->volatile_content = k->volatile_content;
	}
	buf_release(&content);
	/*
	 * Mode bits tell the truth: writable exactly where a write is in
	 * scope, and while this mount holds its assignment's lease.
	 */
	if (r == 0 && !out->dir && in_scope(t, n, NULL) == 0 && lease_held(t->scope->lease))
		out->mode = 0644;
	return r;
}

struct list_args {
	tree_fill_fn fill;
	void *ud;
};

static int fill_scratch(void *ud, const char *name, const struct files_stat *st)
{
	struct list_args *la = ud;
	struct tree_attr a;

	tree_file_attr(&a, st->size, st->mtime, 0644);
	return la->fill(la->ud, name, &a);
}

int tree_list_scratch(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud)
{
	struct list_args la = {fill, ud};

	return files_scratch_list(t->files, dir, fill_scratch, &la);
}

int tree_list(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud, struct buf *err)
{
	const struct kind *k = tree_kind(dir);

	if (tree_no_items(t, dir))
		return -ENOENT;
	return k->list ? k->list(t, dir, fill, ud, err) : tree_list_fixed(dir, fill, ud);
}

int tree_open_dir(struct tree *t, const struct node *dir, struct buf *err)
{
	const struct kind *k = tree_kind(dir);

	if (tree_no_items(t, dir))
		return -ENOENT;
	return k->open_dir ? k->open_dir(t, dir, err) : 0;
}

/* ---- writing ---- */

int tree_access_write(struct tree *t, const struct node *n)
{
	struct files_stat st;

	if (tree_no_items(t, n))
		return -ENOENT;
	/* Another daemon holds the assignment: this mount is read-only (SEMANTICS.md). */
	if (!lease_held(t->scope->lease))
		return -EROFS;
	if (n->kind == N_ITEM)
		return tree_scratch_dir(t, n) ? 0 : -EACCES;
	if (n->kind == N_SCRATCH)
		return tree_scratch_dir(t, n) ? files_scratch_stat(t->files, n, &st) : -ENOENT;
	if (n->kind == N_BRANCH || n->kind == N_BRANCHES) {
		struct tree_attr a;
		int r = branches_attr(t, n, &a, NULL);

		return r < 0 ? r : (a.mode & 0200) ? 0 : -EACCES;
	}
	return in_scope(t, n, NULL);
}

/*
 * Opening n for writing: -EACCES (why in err) outside the scope; otherwise
 * 0, with initial set to what the file holds before the first write.
 */
static int open_write_check(struct tree *t, const struct node *n, bool truncate,
			    struct buf *initial, struct buf *err)
{
	struct tree_attr a;
	int r;

	r = in_scope(t, n, err);
	/* A second done is a refused write: the agent can find it in the log. */
	if (r == -EACCES && n->kind == N_DONE && scope_is_done(t->scope))
		wlog_add(t->opt.write.log, "/done", r,
			 "a done signal already stands; it cannot be changed");
	if (r < 0)
		return r;
	/* The object must exist (the issue, or the PR) before it is written. */
	r = tree_getattr(t, n, &a, err);
	if (r < 0 || truncate || tree_kind(n)->whole_file)
		return r;
	return tree_read(t, n, initial, err);
}

static void props_for_writing(struct tree_open_props *props)
{
	/* Several fds share a scratch file, and written content is the handle's: no page cache. */
	props->direct_io = true;
	props->keep_cache = false;
	props->noflush = false;
}

static int open_scratch(struct tree *t, const struct node *n, bool write, bool truncate,
			struct fh **out, struct tree_open_props *props)
{
	int r;

	if (write && tree_access_write(t, n) < 0)
		return -EACCES;
	r = files_open_scratch(t->files, n, false, false, truncate, out);
	if (r == 0)
		props_for_writing(props);
	return r;
}

int tree_open(struct tree *t, const struct node *n, bool write, bool truncate, struct fh **out,
	      struct tree_open_props *props, struct buf *err)
{
	struct buf data = BUF_INIT(0);
	char *bytes;
	size_t len;
	int r;

	if (tree_no_items(t, n))
		return -ENOENT;
	if (n->kind == N_SCRATCH)
		return open_scratch(t, n, write, truncate, out, props);
	if (n->kind == N_REPO_BUNDLE || (n->kind == N_BRANCH && write))
		return branches_open(t, n, write, truncate, out, props, err);
	if (write) {
		r = open_write_check(t, n, truncate, &data, err);
		if (r == 0)
			r = files_open_write(t->files, n, &data, truncate, out);
		if (r == 0)
			props_for_writing(props);
		buf_release(&data);
		return r;
	}
	/* The kernel looked the file up just before: no second render for its size. */
	r = tree_read(t, n, &data, err);
	if (r < 0)
		goto out;
	bytes = buf_steal(&data, &len);
	r = files_open_read(t->files, n, bytes, len, out);
	if (r < 0)
		goto out;
	/*
	 * Content that changes without the forge never sits in the page cache.
	 * Forge content keeps its pages across opens: the kernel drops them
	 * itself when a refreshed mtime (the forge's updated_at) or size
	 * differs, and writes through the mount invalidate explicitly.
	 */
	props->direct_io = tree_kind(n)->volatile_content;
	props->keep_cache = !props->direct_io;
	/* A read-only file has nothing to send at close: spare the FLUSH round trip. */
	props->noflush = true;
out:
	buf_release(&data);
	return r;
}

int tree_create(struct tree *t, const struct node *n, bool excl, bool truncate, struct fh **out,
		struct tree_open_props *props)
{
	struct node dir;
	int r;

	if (tree_no_items(t, n))
		return -EACCES;
	if (n->kind == N_SCRATCH) {
		if (!tree_scratch_dir(t, n))
			return -EACCES;
		r = files_open_scratch(t->files, n, true, excl, truncate, out);
		if (r == 0)
			props_for_writing(props);
		return r;
	}
	if (n->kind == N_BRANCH)
		return branches_create(t, n, excl, truncate, out, props, NULL);
	/* A fixed name beside writable fields exists already; elsewhere nothing is created. */
	dir = *n;
	dir.kind = N_ITEM;
	if ((n->kind == N_ITEM_FILE || n->kind == N_COMMENTS) && tree_scratch_dir(t, &dir))
		return -EEXIST;
	return -EACCES;
}

int tree_unlink(struct tree *t, const struct node *n)
{
	if (n->kind == N_SCRATCH && tree_scratch_dir(t, n))
		return files_scratch_unlink(t->files, n);
	if (n->kind == N_BRANCH)
		return branches_unlink(t, n);
	return -EACCES;
}

int tree_setattr(struct tree *t, const struct node *n)
{
	struct files_stat st;

	if (n->kind == N_SCRATCH && tree_scratch_dir(t, n))
		return files_scratch_stat(t->files, n, &st);
	if (n->kind == N_BRANCH)
		return branches_setattr(t, n);
	return -EACCES;
}

int tree_truncate(struct tree *t, const struct node *n, uint64_t size)
{
	if (n->kind == N_SCRATCH && tree_scratch_dir(t, n))
		return files_scratch_truncate(t->files, n, size);
	if (n->kind == N_BRANCH)
		return branches_truncate(t, n, size);
	/* `echo >` may truncate by path before it writes: accepted, nothing sent. */
	if (size == 0 && in_scope(t, n, NULL) == 0)
		return 0;
	return -EACCES;
}

int tree_rename(struct tree *t, const struct node *from, const struct node *to, unsigned flags,
		struct buf *err)
{
	struct files_stat st;
	int r;

	if (from->kind == N_BRANCH)
		return branches_rename(t, from, to, flags, err);
	if (from->kind != N_SCRATCH || !tree_scratch_dir(t, from) || !tree_same_item(from, to))
		return -EACCES;
	r = files_scratch_stat(t->files, from, &st);
	if (r < 0)
		return r;
	/* RENAME_NOREPLACE (1) is understood; RENAME_EXCHANGE and the rest are not. */
	if (flags & ~1u)
		return -EINVAL;
	if (to->kind == N_SCRATCH)
		return files_scratch_rename(t->files, from, to, flags & 1u);
	if (to->kind != N_ITEM_FILE || in_scope(t, to, NULL) < 0)
		return -EACCES;
	if (flags & 1u)
		return -EEXIST;
	return files_scratch_replace(t->files, from, to, err);
}

/* ---- open files ---- */

/* Handles of branches/ and repo.bundle are served by branches.c (files_fh_ext). */
int tree_fh_read(struct tree *t, struct fh *h, char *out, size_t size, uint64_t off)
{
	struct gitfh *g = files_fh_ext(h);

	return g ? branches_fh_read(g, out, size, off) : files_read(t->files, h, out, size, off);
}

int tree_fh_write(struct tree *t, struct fh *h, const char *in, size_t size, uint64_t off,
		  bool append)
{
	struct gitfh *g = files_fh_ext(h);

	return g ? branches_fh_write(g, in, size, off, append)
		 : files_write(t->files, h, in, size, off, append);
}

int tree_fh_truncate(struct tree *t, struct fh *h, uint64_t size)
{
	struct gitfh *g = files_fh_ext(h);

	return g ? branches_fh_truncate(g, size) : files_truncate(t->files, h, size);
}

int tree_fh_flush(struct tree *t, struct fh *h)
{
	struct gitfh *g = files_fh_ext(h);

	return g ? branches_fh_flush(g) : files_flush(t->files, h);
}

void tree_fh_release(struct tree *t, struct fh *h)
{
	files_release(t->files, h);
}

int tree_fh_stat(struct tree *t, struct fh *h, struct tree_attr *out, bool *linked)
{
	struct gitfh *g = files_fh_ext(h);
	struct files_stat st;
	int r;

	if (g)
		return branches_fh_stat(g, out, linked);
	if (!files_fh_is_scratch(h))
		return -EINVAL;
	r = files_fh_stat(t->files, h, &st);
	if (r < 0)
		return r;
	tree_file_attr(out, st.size, st.mtime, 0644);
	*linked = st.linked;
	return 0;
}

/* ---- what the kernel must forget after a write ---- */

int tree_changed_paths(const struct node *n, void (*fn)(void *ud, const char *path), void *ud)
{
	const char *list = n->pull ? "pulls" : "issues";
	unsigned long long num = (unsigned long long)n->number;
	struct buf p = BUF_INIT(4096);
	const char *const *names;
	struct node item = *n;
	int r = 0, count, i;

	if (n->kind == N_BRANCH) {
		/* The branch, every directory above it, and repo.bundle. */
		size_t i, len = strlen(n->name);

		r = buf_printf(&p, "/forge/%s/%s/repo.bundle", n->owner, n->repo);
		if (r == 0)
			fn(ud, buf_cstr(&p));
		for (i = 0; r == 0 && i <= len; i++) {
			if (i < len && n->name[i] != '/')
				continue;
			buf_reset(&p);
			r = buf_printf(&p, "/forge/%s/%s/branches/%.*s", n->owner, n->repo, (int)i,
				       n->name);
			if (r == 0)
				fn(ud, buf_cstr(&p));
		}
		goto out;
	}
	if (n->kind == N_DONE || n->kind == N_PULLS_NEW) {
		fn(ud, "/done");
		fn(ud, "/.bottlefs/scope");
		if (n->kind == N_PULLS_NEW) {
			r = buf_printf(&p, "/forge/%s/%s/pulls", n->owner, n->repo);
			if (r == 0)
				fn(ud, buf_cstr(&p));
		}
		goto out;
	}
	/* The item directory and its files: a write changes what several of them show. */
	r = buf_printf(&p, "/forge/%s/%s/%s/%llu", n->owner, n->repo, list, num);
	if (r < 0)
		goto out;
	fn(ud, buf_cstr(&p));
	item.kind = N_ITEM;
	count = tree_fixed_children(&item, &names);
	for (i = 0; i < count && r == 0; i++) {
		buf_reset(&p);
		r = buf_printf(&p, "/forge/%s/%s/%s/%llu/%s", n->owner, n->repo, list, num,
			       names[i]);
		if (r == 0)
			fn(ud, buf_cstr(&p));
	}
out:
	buf_release(&p);
	return r;
}
