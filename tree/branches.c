/*
 * branches: forge/<o>/<r>/branches/ and forge/<o>/<r>/repo.bundle
 * (internal.h): the rows of kinds.c for them, and the open files they
 * need, which files.c holds as FH_EXT handles and this file serves:
 *
 *  - repo.bundle read: a descriptor on the adapter's bundle file on disk
 *    (cache_repo_bundle), never its bytes in memory;
 *  - a branch opened or created for writing: a spool (write.h,
 *    write_spool_*) that pushes at the flush at which its bundle is
 *    complete; the answer is that close()'s;
 *  - <branch>.lock, created the way git writes a file: a spool with a
 *    name in this directory (stat, open, unlink work on it) until it is
 *    renamed over <branch>, which pushes; the answer is rename()'s.
 *
 * Locks: gitfiles.lock guards the table of .lock names and every spool
 * reference count; a spool has its own lock (write/push.c), never taken
 * under gitfiles.lock.
 */
#include "tree/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One spool, shared by the handles that write it and a .lock name. */
struct spool_ref {
	struct write_spool *sp;
	struct node node; /* the name it was written at (N_BRANCH; may end in .lock) */
	unsigned refs;	  /* handles and the name; gitfiles.lock */
	bool linked;	  /* its .lock name is in the table; gitfiles.lock */
	int64_t mtime; /* the last write's; read and written with __atomic (any handle's thread) */
	struct spool_ref *next; /* gitfiles.locks; gitfiles.lock */
};

struct gitfiles {
	pthread_mutex_t lock;
	struct spool_ref *locks; /* linked .lock names */
};

/* An FH_EXT handle of this file. */
struct gitfh {
	struct tree *t;
	int fd;		       /* repo.bundle: the bundle file; else -1 */
	struct spool_ref *ref; /* a branch written */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool is_lock(const struct node *n)
{
	size_t len = strlen(n->name);

	return n->kind == N_BRANCH && len > 5 && strcmp(n->name + len - 5, ".lock") == 0;
}

static bool same_name(const struct node *a, const struct node *b)
{
	return strcmp(a->owner, b->owner) == 0 && strcmp(a->repo, b->repo) == 0 &&
	       strcmp(a->name, b->name) == 0;
}

int branches_new(struct tree *t)
{
	t->git = calloc(1, sizeof(*t->git));
	if (!t->git)
		return -ENOMEM;
	pthread_mutex_init(&t->git->lock, NULL);
	return 0;
}

/* Drops one reference (gitfiles.lock not held); the last frees the spool. */
static void ref_put(struct tree *t, struct spool_ref *r, bool record)
{
	struct buf path = BUF_INIT(4096);
	bool last;

	pthread_mutex_lock(&t->git->lock);
	last = --r->refs == 0;
	pthread_mutex_unlock(&t->git->lock);
	if (!last)
		return;
	(void)!tree_node_path(&r->node, &path); /* the log line's path: best effort */
	write_spool_free(t->write, r->sp, record ? buf_cstr(&path) : NULL);
	buf_release(&path);
	free(r);
}

void branches_free(struct tree *t)
{
	struct spool_ref *r, *next;

	if (!t->git)
		return;
	for (r = t->git->locks; r; r = next) {
		next = r->next;
		r->linked = false;
		ref_put(t, r, false);
	}
	pthread_mutex_destroy(&t->git->lock);
	free(t->git);
	t->git = NULL;
}

/* The linked .lock spool named n, with a reference taken; NULL when none. */
static struct spool_ref *lock_get(struct tree *t, const struct node *n)
{
	struct spool_ref *r;

	pthread_mutex_lock(&t->git->lock);
	for (r = t->git->locks; r && !same_name(&r->node, n); r = r->next)
		;
	if (r)
		r->refs++;
	pthread_mutex_unlock(&t->git->lock);
	return r;
}

/* Takes a linked .lock spool out of the table; its name's reference is the caller's. */
static bool lock_unlink(struct tree *t, struct spool_ref *r)
{
	struct spool_ref **p;
	bool found = false;

	pthread_mutex_lock(&t->git->lock);
	for (p = &t->git->locks; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			r->linked = false;
			found = true;
			break;
		}
	pthread_mutex_unlock(&t->git->lock);
	return found;
}

/* ---- the branch list ---- */

/* The branch whose name is exactly name, its commit copied to out: 0, -ENOENT, -errno. */
static int branch_tip(struct tree *t, const struct node *n, const char *name, char *out,
		      size_t size, bool *has_below, struct buf *err)
{
	struct forge_branch_list l = {NULL, 0};
	size_t i, len = strlen(name);
	int r = cache_list_branches(t->cache, n->owner, n->repo, &l, err);

	*has_below = false;
	if (r < 0)
		return r;
	r = -ENOENT;
	for (i = 0; i < l.n; i++) {
		if (strcmp(l.v[i].name, name) == 0) {
			snprintf(out, size, "%s", l.v[i].commit);
			r = 0;
		} else if (strncmp(l.v[i].name, name, len) == 0 && l.v[i].name[len] == '/') {
			*has_below = true;
		}
	}
	forge_branch_list_release(&l);
	return r;
}

/* branches/bottle/ always exists in the assigned repository. */
static bool always_dir(struct tree *t, const struct node *n, const char *name)
{
	return t->scope->assigned && strcmp(t->scope->owner, n->owner) == 0 &&
	       strcmp(t->scope->repo, n->repo) == 0 && strcmp(name, "bottle") == 0;
}

/* Whether the policy lets an agent push to name (patterns only, no forge request). */
static bool pushable(struct tree *t, const struct node *n, const char *name)
{
	return write_push_matches(t->write, n->owner, n->repo, name);
}

int branches_attr(struct tree *t, const struct node *n, struct tree_attr *out, struct buf *err)
{
	char tip[FORGE_OID_MAX + 1];
	struct spool_ref *ref;
	bool below;
	int r;

	if (n->kind == N_BRANCHES) {
		r = cache_list_branches(t->cache, n->owner, n->repo, NULL, err);
		if (r < 0)
			return r;
		tree_dir_attr(out, t->start_s);
		if (write_push_dir(t->write, n->owner, n->repo, ""))
			out->mode = 0755;
		return 0;
	}
	if (is_lock(n)) {
		if (!(ref = lock_get(t, n)))
			return -ENOENT;
		tree_file_attr(out, write_spool_size(ref->sp),
			       __atomic_load_n(&ref->mtime, __ATOMIC_RELAXED), 0644);
		out->volatile_content = true;
		ref_put(t, ref, false);
		return 0;
	}
	r = branch_tip(t, n, n->name, tip, sizeof(tip), &below, err);
	if (r == 0) {
		tree_file_attr(out, strlen(tip) + 1, t->start_s,
			       pushable(t, n, n->name) ? 0644 : 0444);
		return 0;
	}
	if (r != -ENOENT)
		return r;
	if (below || always_dir(t, n, n->name) ||
	    write_push_dir(t->write, n->owner, n->repo, n->name)) {
		tree_dir_attr(out, t->start_s);
		if (write_push_dir(t->write, n->owner, n->repo, n->name))
			out->mode = 0755;
		return 0;
	}
	return -ENOENT;
}

int branches_read(struct tree *t, const struct node *n, struct buf *out, struct buf *err)
{
	char tip[FORGE_OID_MAX + 1];
	bool below;
	int r;

	if (n->kind != N_BRANCH || is_lock(n))
		return -EISDIR;
	r = branch_tip(t, n, n->name, tip, sizeof(tip), &below, err);
	if (r == -ENOENT && (below || always_dir(t, n, n->name) ||
			     write_push_dir(t->write, n->owner, n->repo, n->name)))
		return -EISDIR;
	return r < 0 ? r : buf_printf(out, "%s\n", tip);
}

int branches_open_dir(struct tree *t, const struct node *dir, struct buf *err)
{
	struct tree_attr a;
	int r = branches_attr(t, dir, &a, err);

	return r == 0 && !a.dir ? -ENOTDIR : r;
}

/* One entry of a listing: a name and whether it is a directory. */
struct entry {
	char *name;
	bool dir;
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

static int add_entry(struct entries *e, const char *name, size_t len, bool dir)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		if (strlen(e->v[i].name) == len && memcmp(e->v[i].name, name, len) == 0) {
			e->v[i].dir |= dir;
			return 0;
		}
	if (e->n == e->cap) {
		size_t nc = e->cap ? 2 * e->cap : 16;
		struct entry *v = realloc(e->v, nc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		e->v = v;
		e->cap = nc;
	}
	if (!(e->v[e->n].name = strndup(name, len)))
		return -ENOMEM;
	e->v[e->n++].dir = dir;
	return 0;
}

/* The policy's directories right below prefix (literal pattern components only). */
static int policy_dirs(struct tree *t, const struct node *dir, const char *prefix,
		       struct entries *e)
{
	struct buf pats = BUF_INIT(0), cand = BUF_INIT(4096);
	size_t plen = strlen(prefix);
	const char *p;
	int r = scope_push_patterns(t->scope, &pats);

	for (p = buf_cstr(&pats); r == 0 && *p;) {
		size_t len = strcspn(p, "\n");
		const char *comp = p + plen, *slash;

		/* The pattern goes on below prefix with a literal directory name. */
		if (len > plen && (plen == 0 || (strncmp(p, prefix, plen) == 0)) &&
		    (slash = memchr(comp, '/', len - plen)) && !memchr(comp, '*', slash - comp) &&
		    !memchr(comp, '?', slash - comp) && !memchr(comp, '[', slash - comp)) {
			buf_reset(&cand);
			r = buf_append(&cand, p, (size_t)(slash - p));
			if (r == 0 &&
			    write_push_dir(t->write, dir->owner, dir->repo, buf_cstr(&cand)))
				r = add_entry(e, comp, (size_t)(slash - comp), true);
		}
		p += len + (p[len] == '\n');
	}
	buf_release(&pats);
	buf_release(&cand);
	return r;
}

int branches_list(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
		  struct buf *err)
{
	struct forge_branch_list l = {NULL, 0};
	struct entries e = {NULL, 0, 0};
	struct buf prefix = BUF_INIT(4096);
	struct spool_ref *sr;
	size_t i, plen;
	int r;

	if (dir->kind == N_BRANCH && (r = branches_open_dir(t, dir, err)) < 0)
		return r;
	r = dir->kind == N_BRANCH ? buf_printf(&prefix, "%s/", dir->name) : 0;
	if (r == 0)
		r = cache_list_branches(t->cache, dir->owner, dir->repo, &l, err);
	plen = prefix.len;
	for (i = 0; r == 0 && i < l.n; i++) {
		const char *name = l.v[i].name, *rest, *slash;

		if (strncmp(name, buf_cstr(&prefix), plen) != 0)
			continue;
		rest = name + plen;
		slash = strchr(rest, '/');
		r = add_entry(&e, rest, slash ? (size_t)(slash - rest) : strlen(rest),
			      slash != NULL);
	}
	if (r == 0)
		r = policy_dirs(t, dir, buf_cstr(&prefix), &e);
	if (r == 0 && dir->kind == N_BRANCHES && always_dir(t, dir, "bottle"))
		r = add_entry(&e, "bottle", 6, true);
	/* .lock files being written here. */
	pthread_mutex_lock(&t->git->lock);
	for (sr = t->git->locks; r == 0 && sr; sr = sr->next) {
		const char *rest = sr->node.name + plen;

		if (strcmp(sr->node.owner, dir->owner) == 0 &&
		    strcmp(sr->node.repo, dir->repo) == 0 &&
		    strncmp(sr->node.name, buf_cstr(&prefix), plen) == 0 && !strchr(rest, '/'))
			r = add_entry(&e, rest, strlen(rest), false);
	}
	pthread_mutex_unlock(&t->git->lock);
	for (i = 0; r == 0 && i < e.n; i++) {
		struct tree_attr a;

		if (e.v[i].dir)
			tree_dir_attr(&a, t->start_s);
		if (fill(ud, e.v[i].name, e.v[i].dir ? &a : NULL) != 0)
			break;
	}
	for (i = 0; i < e.n; i++)
		free(e.v[i].name);
	free(e.v);
	forge_branch_list_release(&l);
	buf_release(&prefix);
	return r;
}

/* ---- repo.bundle ---- */

int bundle_attr(struct tree *t, const struct node *n, struct tree_attr *out, struct buf *err)
{
	char *path = NULL;
	uint64_t size = 0;
	int r = cache_repo_bundle(t->cache, n->owner, n->repo, now_ms() + t->opt.git_timeout_ms,
				  &path, &size, err);

	free(path);
	if (r < 0)
		return r;
	tree_file_attr(out, size, t->start_s, 0444);
	/* Made again when the branches move: never from the page cache. */
	out->volatile_content = true;
	return 0;
}

/* ---- open files ---- */

static void gitfh_free(void *ext)
{
	struct gitfh *g = ext;

	if (g->fd >= 0)
		close(g->fd);
	if (g->ref)
		ref_put(g->t, g->ref, true);
	free(g);
}

static int open_ext(struct tree *t, const struct node *n, struct gitfh *g, struct fh **out,
		    struct tree_open_props *props)
{
	int r = files_open_ext(t->files, n, g, gitfh_free, out);

	if (r < 0) {
		gitfh_free(g);
		return r;
	}
	props->direct_io = true;
	props->keep_cache = false;
	props->noflush = g->ref == NULL;
	return 0;
}

static struct gitfh *gitfh_new(struct tree *t)
{
	struct gitfh *g = calloc(1, sizeof(*g));

	if (g) {
		g->t = t;
		g->fd = -1;
	}
	return g;
}

/* The policy at open(): -EACCES with the reason in /.bottlefs/log. */
static int policy(struct tree *t, const struct node *n, const char *branch, struct buf *err)
{
	struct buf why = BUF_INIT(1024), path = BUF_INIT(4096);
	int r = write_push_allowed(t->write, n->owner, n->repo, branch, &why);

	if (r < 0) {
		(void)!tree_node_path(n, &path); /* the log line's path: best effort */
		wlog_add(t->opt.write.log, buf_cstr(&path), r, buf_cstr(&why));
		buf_note(err, "%s", buf_cstr(&why));
	}
	buf_release(&why);
	buf_release(&path);
	return r;
}

/* A new spool for n, with one reference (the handle's); linked (a .lock) takes a second. */
static int spool_new(struct tree *t, const struct node *n, bool linked, struct spool_ref **out,
		     struct buf *err)
{
	struct spool_ref *r = calloc(1, sizeof(*r));
	char branch[TREE_NAME_MAX + 1];
	size_t len = strlen(n->name);
	int rc;

	if (!r)
		return -ENOMEM;
	/* A .lock's spool is journaled under the branch it is for. */
	snprintf(branch, sizeof(branch), "%.*s", (int)(is_lock(n) ? len - 5 : len), n->name);
	rc = write_spool_new(t->write, n->owner, n->repo, branch, &r->sp, err);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->node = *n;
	r->refs = 1;
	r->mtime = (int64_t)time(NULL);
	if (linked) {
		pthread_mutex_lock(&t->git->lock);
		r->refs++;
		r->linked = true;
		r->next = t->git->locks;
		t->git->locks = r;
		pthread_mutex_unlock(&t->git->lock);
	}
	*out = r;
	return 0;
}

int branches_open(struct tree *t, const struct node *n, bool write, bool truncate, struct fh **out,
		  struct tree_open_props *props, struct buf *err)
{
	struct gitfh *g;
	char *path = NULL;
	uint64_t size;
	int r;

	if (!(g = gitfh_new(t)))
		return -ENOMEM;
	if (n->kind == N_REPO_BUNDLE) {
		if (write) {
			free(g);
			return -EACCES;
		}
		r = cache_repo_bundle(t->cache, n->owner, n->repo, now_ms() + t->opt.git_timeout_ms,
				      &path, &size, err);
		if (r == 0 && (g->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			r = buf_fail(err, -EIO, "cannot open repo.bundle: %s", strerror(errno));
		free(path);
		if (r < 0) {
			free(g);
			return r;
		}
		return open_ext(t, n, g, out, props);
	}
	if (is_lock(n)) {
		g->ref = lock_get(t, n);
		if (!g->ref) {
			free(g);
			return -ENOENT;
		}
		if (truncate && (r = write_spool_truncate(g->ref->sp, 0)) < 0) {
			gitfh_free(g);
			return r;
		}
		return open_ext(t, n, g, out, props);
	}
	/* A branch opened for writing: the policy first, then a spool of its own. */
	r = policy(t, n, n->name, err);
	if (r == 0)
		r = spool_new(t, n, false, &g->ref, err);
	if (r < 0) {
		free(g);
		return r;
	}
	return open_ext(t, n, g, out, props);
}

int branches_create(struct tree *t, const struct node *n, bool excl, bool truncate, struct fh **out,
		    struct tree_open_props *props, struct buf *err)
{
	char target[TREE_NAME_MAX + 1];
	struct tree_attr a;
	struct gitfh *g;
	int r;

	if (n->kind != N_BRANCH)
		return -EACCES;
	snprintf(target, sizeof(target), "%s", n->name);
	if (is_lock(n))
		target[strlen(target) - 5] = '\0';
	r = policy(t, n, target, err);
	if (r < 0)
		return r;
	if (is_lock(n)) {
		struct spool_ref *old = lock_get(t, n);

		if (old) {
			ref_put(t, old, false);
			if (excl)
				return -EEXIST;
			return branches_open(t, n, true, truncate, out, props, err);
		}
	} else if (excl && branches_attr(t, n, &a, NULL) == 0) {
		return -EEXIST;
	}
	if (!(g = gitfh_new(t)))
		return -ENOMEM;
	r = spool_new(t, n, is_lock(n), &g->ref, err);
	if (r < 0) {
		free(g);
		return r;
	}
	return open_ext(t, n, g, out, props);
}

int branches_unlink(struct tree *t, const struct node *n)
{
	struct spool_ref *r;

	if (!is_lock(n))
		return -EACCES; /* never a delete of a branch */
	if (!(r = lock_get(t, n)))
		return -ENOENT;
	if (lock_unlink(t, r))
		ref_put(t, r, false); /* the name's reference: deleted, not recorded */
	ref_put(t, r, false);
	return 0;
}

int branches_truncate(struct tree *t, const struct node *n, uint64_t size)
{
	struct spool_ref *r;
	int rc;

	if (is_lock(n)) {
		if (!(r = lock_get(t, n)))
			return -ENOENT;
		rc = write_spool_truncate(r->sp, size);
		ref_put(t, r, false);
		return rc;
	}
	/* `git bundle create - > branch` truncates by path before it writes: nothing sent. */
	if (n->kind == N_BRANCH && size == 0 && pushable(t, n, n->name))
		return 0;
	return -EACCES;
}

int branches_setattr(struct tree *t, const struct node *n)
{
	struct spool_ref *r;

	if (!is_lock(n))
		return -EACCES;
	if (!(r = lock_get(t, n)))
		return -ENOENT;
	ref_put(t, r, false);
	return 0;
}

/* After a push: the cache forgets the branches, fs/ hears of it (the kernel forgets too). */
static void pushed(struct tree *t, const struct node *n, int r, struct buf *err)
{
	cache_forget_branches(t->cache, n->owner, n->repo);
	if (t->opt.sent)
		t->opt.sent(t->opt.sent_ud, n, r, err);
}

int branches_rename(struct tree *t, const struct node *from, const struct node *to, unsigned flags,
		    struct buf *err)
{
	struct buf at = BUF_INIT(4096);
	struct spool_ref *r;
	int rc;

	if (!is_lock(from) || to->kind != N_BRANCH || is_lock(to) ||
	    strcmp(from->owner, to->owner) != 0 || strcmp(from->repo, to->repo) != 0)
		return -EACCES;
	if (flags & ~1u)
		return -EINVAL;
	rc = policy(t, to, to->name, err);
	if (rc < 0)
		return rc;
	if (!(r = lock_get(t, from)))
		return -ENOENT;
	(void)!tree_node_path(to, &at); /* the log line's path: best effort */
	rc = write_spool_flush(t->write, r->sp, to->owner, to->repo, to->name, buf_cstr(&at), true,
			       err);
	if (rc == 0 && !write_spool_pushed(r->sp)) {
		rc = -EINVAL;
		wlog_add(t->opt.write.log, buf_cstr(&at), rc,
			 "renamed with the bundle incomplete (no valid pack trailer): nothing "
			 "pushed");
		buf_note(err, "the bundle is incomplete");
	}
	if (write_spool_pushed(r->sp)) {
		/* Pushed or refused, the .lock name is gone (git would remove it anyway). */
		if (lock_unlink(t, r))
			ref_put(t, r, false);
		pushed(t, to, rc, err);
	}
	ref_put(t, r, false);
	buf_release(&at);
	return rc;
}

/* ---- operations on an open file ---- */

int branches_fh_read(struct gitfh *g, char *out, size_t size, uint64_t off)
{
	ssize_t n;

	if (g->ref)
		return write_spool_read(g->ref->sp, out, size, off);
	n = pread(g->fd, out, size, (off_t)off);
	return n < 0 ? -EIO : (int)n;
}

int branches_fh_write(struct gitfh *g, const char *in, size_t size, uint64_t off, bool append)
{
	int r;

	if (!g->ref)
		return -EBADF;
	r = write_spool_write(g->t->write, g->ref->sp, in, size, off, append);
	if (r > 0)
		__atomic_store_n(&g->ref->mtime, (int64_t)time(NULL), __ATOMIC_RELAXED);
	return r;
}

int branches_fh_truncate(struct gitfh *g, uint64_t size)
{
	return g->ref ? write_spool_truncate(g->ref->sp, size) : -EBADF;
}

int branches_fh_flush(struct gitfh *g)
{
	struct buf at = BUF_INIT(4096), err = BUF_INIT(4096);
	struct tree *t = g->t;
	const struct node *n;
	bool was;
	int r;

	if (!g->ref)
		return 0;
	n = &g->ref->node;
	was = write_spool_pushed(g->ref->sp);
	(void)!tree_node_path(n, &at); /* the log line's path: best effort */
	/* A .lock is pushed by its rename; its flushes only check what is there so far. */
	r = write_spool_flush(t->write, g->ref->sp, n->owner, n->repo, n->name, buf_cstr(&at),
			      !is_lock(n), &err);
	if (!was && write_spool_pushed(g->ref->sp) && !is_lock(n))
		pushed(t, n, r, &err);
	buf_release(&at);
	buf_release(&err);
	return r;
}

int branches_fh_stat(struct gitfh *g, struct tree_attr *out, bool *linked)
{
	if (!g->ref)
		return -EINVAL;
	tree_file_attr(out, write_spool_size(g->ref->sp),
		       __atomic_load_n(&g->ref->mtime, __ATOMIC_RELAXED), 0644);
	pthread_mutex_lock(&g->t->git->lock);
	*linked = !is_lock(&g->ref->node) || g->ref->linked;
	pthread_mutex_unlock(&g->t->git->lock);
	return 0;
}
