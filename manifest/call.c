/*
 * call: one question to the manifest cache (mcache.h): the files it stats
 * and reads through the cache, what each bottle of the walk depends on,
 * and the resolutions it stores and reuses.
 */
#include "manifest/mcache.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void mc_call_init(struct mc_call *k, struct manifest_cache *c)
{
	struct timespec ts;

	memset(k, 0, sizeof(*k));
	k->c = c;
	k->mj = -1;
	clock_gettime(CLOCK_REALTIME, &ts);
	k->now_ns = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
	map_init(&k->fidx);
	map_init(&k->nodes);
}

static void free_node(void *ud, const char *key, void *val)
{
	(void)ud;
	(void)key;
	free(val);
}

void mc_call_release(struct mc_call *k)
{
	size_t i;

	for (i = 0; i < k->nfiles; i++)
		free(k->files[i].name);
	free(k->files);
	map_release(&k->fidx);
	map_each(&k->nodes, free_node, NULL);
	map_release(&k->nodes);
	mc_index_unref(k->ix);
	mc_index_unref(k->listing);
	mc_dirh_unref(k->dh);
	for (i = 0; i < k->nown; i++)
		json_decref(k->own[i]);
	free(k->own);
	for (i = 0; i < k->nheld; i++)
		mc_entry_unref(k->held[i]);
	free(k->held);
}

/* The call keeps e (takes the caller's reference) until it ends; -ENOMEM drops it. */
static int call_hold(struct mc_call *k, struct entry *e)
{
	if (k->nheld == k->capheld) {
		size_t cap = k->capheld ? k->capheld * 2 : 8;
		struct entry **v = realloc(k->held, cap * sizeof(*v));

		if (!v) {
			mc_entry_unref(e);
			return -ENOMEM;
		}
		k->held = v;
		k->capheld = cap;
	}
	k->held[k->nheld++] = e;
	return 0;
}

/* The call keeps j (takes the reference) until it ends; -ENOMEM drops it. */
static int call_own(struct mc_call *k, json_t *j)
{
	if (k->nown == k->capown) {
		size_t cap = k->capown ? k->capown * 2 : 8;
		json_t **v = realloc(k->own, cap * sizeof(*v));

		if (!v) {
			json_decref(j);
			return -ENOMEM;
		}
		k->own = v;
		k->capown = cap;
	}
	k->own[k->nown++] = j;
	return 0;
}

const char *mc_call_dir(struct mc_call *k)
{
	return k->c->dir;
}

/*
 * Changed too recently to trust the stamp. A file whose ctime is close to
 * when the call began (racy_ns) may still change within the same tick of
 * the file system's clock without its stamp changing (a same-size rewrite
 * in place): what is read from it is not kept until it is older (git's
 * "racily clean" entries). Ticks are 1-10 ms (jiffies); kernels with
 * multigrain timestamps (6.13+) give a fine-grained ctime to a change
 * that follows a stat anyway. The call's clock is read before any stat,
 * so a change after the stat always gets a later ctime than one that was
 * not racy. A ctime of a whole second most likely comes from a file
 * system that keeps whole seconds (ext3, FAT's 2 s): then the window is
 * 2 s (at worst, a file is read again for 2 s more than needed, once in
 * 10^9 on other file systems).
 */
bool mc_stamp_racy(const struct mc_call *k, const struct mf_stamp *st)
{
	int64_t window = st->ct_ns ? k->c->racy_ns : 2000000000LL;

	return st->err == 0 && st->ct_s * 1000000000LL + st->ct_ns > k->now_ns - window;
}

/*
 * Stamps the directory, once per call and before anything in it, and
 * finds its open descriptor (opened again when the path now names another
 * directory).
 */
void mc_call_open_dir(struct mc_call *k)
{
	struct manifest_cache *c = k->c;
	struct dirh *d, *old;
	struct stat st, fst;
	int fd;

	if (k->dir_state)
		return;
	if (stat(c->dir, &st) < 0) {
		k->dir_state = -errno;
		return;
	}
	mf_stamp_of(&st, &k->dir_st);
	k->dir_state = 1;
	pthread_mutex_lock(&c->lock);
	d = c->dirh;
	if (d && d->dev == (uint64_t)st.st_dev && d->ino == (uint64_t)st.st_ino) {
		__atomic_fetch_add(&d->refs, 1, __ATOMIC_RELAXED);
		k->dh = d;
	}
	pthread_mutex_unlock(&c->lock);
	if (k->dh)
		return;
	fd = open(c->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = calloc(1, sizeof(*d));
	if (!d || fstat(fd, &fst) < 0 || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino) {
		free(d); /* replaced in between: paths for this call */
		close(fd);
		return;
	}
	d->fd = fd;
	d->dev = (uint64_t)st.st_dev;
	d->ino = (uint64_t)st.st_ino;
	d->refs = 2; /* the cache's and this call's */
	pthread_mutex_lock(&c->lock);
	old = c->dirh;
	c->dirh = d;
	pthread_mutex_unlock(&c->lock);
	mc_dirh_unref(old);
	k->dh = d;
}

int mc_call_dirfd(struct mc_call *k)
{
	mc_call_open_dir(k);
	return k->dh ? k->dh->fd : -1;
}

int mc_cmp_name(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

/*
 * Whether file is certainly absent without a stat: the stored index was
 * listed from this very directory state (its stamp, taken before the
 * listing, still holds) and has no entry of that name.
 */
static bool known_absent(struct mc_call *k, const char *file)
{
	struct manifest_cache *c = k->c;
	struct mindex *ix = NULL;

	if (!k->listing_known) {
		k->listing_known = true;
		mc_call_open_dir(k);
		if (k->dir_state != 1)
			return false;
		pthread_mutex_lock(&c->lock);
		if (c->index && mf_stamp_equal(&c->index->dir_st, &k->dir_st)) {
			ix = c->index;
			__atomic_fetch_add(&ix->refs, 1, __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(&c->lock);
		if (ix && !mc_links_hold(k, ix)) {
			mc_index_unref(ix);
			ix = NULL;
		}
		k->listing = ix;
	}
	return k->listing && !bsearch(file, k->listing->entries, k->listing->nentries,
				      sizeof(char *), mc_cmp_name);
}

static int call_find(struct mc_call *k, const char *file)
{
	size_t i;

	if (k->nfiles > CALL_LINEAR)
		return (int)(uintptr_t)map_get(&k->fidx, file) - 1;
	for (i = 0; i < k->nfiles; i++)
		if (!strcmp(k->files[i].name, file))
			return (int)i;
	return -1;
}

/* The index of file in k->files, stat'ed once per call; -ENOMEM. */
int mc_call_stat(struct mc_call *k, const char *file)
{
	struct cfile *f;
	int i = call_find(k, file);
	size_t j;

	if (i >= 0)
		return i;
	if (k->nfiles == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 16;
		struct cfile *n = realloc(k->files, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		k->files = n;
		k->cap = cap;
	}
	f = &k->files[k->nfiles];
	memset(f, 0, sizeof(*f));
	f->name = strdup(file);
	if (!f->name)
		return -ENOMEM;
	if (k->nfiles == CALL_LINEAR) /* from now on through the map */
		for (j = 0; j < k->nfiles; j++)
			if (map_put(&k->fidx, k->files[j].name, (void *)(uintptr_t)(j + 1), NULL) <
			    0)
				goto nomem;
	if (k->nfiles >= CALL_LINEAR &&
	    map_put(&k->fidx, file, (void *)(uintptr_t)(k->nfiles + 1), NULL) < 0)
		goto nomem;
	if (known_absent(k, file))
		f->st = (struct mf_stamp){.err = -ENOENT};
	else
		f->serr = mf_stat(mc_call_dirfd(k), k->c->dir, file, &f->st);
	f->racy = mc_stamp_racy(k, &f->st);
	return (int)k->nfiles++;
nomem:
	free(f->name);
	return -ENOMEM;
}

/* The answer depends on file i: what cannot be trusted keeps it from being stored. */
void mc_call_use(struct mc_call *k, int i)
{
	k->files[i].used = true;
	if (k->files[i].serr || k->files[i].racy)
		k->nocache = true;
}

/* The walk's record of bottle name, created empty; NULL when out of memory. */
static struct knode *call_node(struct mc_call *k, const char *name)
{
	struct knode *n = map_get(&k->nodes, name);

	if (n)
		return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->md = -1;
	if (map_put(&k->nodes, name, n, NULL) < 0) {
		free(n);
		return NULL;
	}
	return n;
}

static void set_add(struct knode *n, int i)
{
	size_t j;

	if (i < 0 || n->over)
		return;
	for (j = 0; j < n->n; j++)
		if (n->set[j] == (uint32_t)i)
			return;
	if (n->n == DEPSET_MAX) {
		n->over = true;
		return;
	}
	n->set[n->n++] = (uint32_t)i;
}

/* Does every file e depends on still stat the same (and its index, if it lists one)? */

/* ---- files through the cache ---- */

/*
 * Looks file up in the cache with the call's stamp for it: 1 (a hit: the
 * outcome, the parsed value borrowed, the entry held by the call, and a
 * reference to the parsed manifest.json) or 0; -ENOMEM.
 */
static int file_lookup(struct mc_call *k, int i, int *read_rc, json_t **val,
		       struct manifest_json **mj, int *pr, struct buf *err)
{
	struct manifest_cache *c = k->c;
	struct fentry *f;

	pthread_mutex_lock(&c->lock);
	f = map_get(&c->files, k->files[i].name);
	if (!f || !mf_stamp_equal(&f->st, &k->files[i].st)) {
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	mc_touch(c, &f->e);
	mc_entry_ref(&f->e);
	pthread_mutex_unlock(&c->lock);
	/* f's fields never change once it is stored; holding it keeps them */
	if (val)
		*val = f->val;
	if (mj)
		*mj = mf_mj_ref(f->mj);
	*read_rc = f->read_rc;
	if (pr)
		*pr = f->parse_rc;
	if (f->msg)
		mf_errf(err, "%s", f->msg);
	return call_hold(k, &f->e) < 0 ? -ENOMEM : 1;
}

/*
 * Stores what reading file gave: read_rc, and when it is 0, parse_rc with
 * a value or msg. val is taken: stored with the entry (which the call then
 * holds) or kept by the call, so the caller may go on borrowing it until
 * the call ends. -ENOMEM (val dropped).
 */
static int file_store(struct mc_call *k, int i, int read_rc, int parse_rc, json_t *val,
		      struct manifest_json *mj, const struct buf *msg)
{
	struct manifest_cache *c = k->c;
	struct entry *dead = NULL;
	struct fentry *f = NULL;

	/* Kept even when the call stores no answer: its stamp is that of what was read. */
	if (!k->files[i].serr && !k->files[i].racy && read_rc != -ENOMEM && parse_rc != -ENOMEM)
		f = mc_entry_new(sizeof(*f), E_FILE, k->files[i].name);
	if (f && (read_rc < 0 || parse_rc < 0) && !(f->msg = strdup(msg ? buf_cstr(msg) : ""))) {
		mc_entry_free(&f->e);
		f = NULL;
	}
	if (!f)
		return val ? call_own(k, val) : 0;
	f->st = k->files[i].st;
	f->read_rc = read_rc;
	f->parse_rc = parse_rc;
	f->mj = mf_mj_ref(mj); /* immutable, its own atomic count (mjson.c) */
	f->val = val;
	f->e.bytes +=
	    (val ? mf_json_bytes(val) : 0) + (mj ? mf_mj_bytes(mj) : 0) + mc_str_bytes(f->msg);
	mc_entry_ref(&f->e); /* the call's, taken before another thread can see it */
	pthread_mutex_lock(&c->lock);
	mc_list_entry(c, &f->e, &dead);
	pthread_mutex_unlock(&c->lock);
	mc_unref_chain(c, dead);
	return call_hold(k, &f->e);
}

/*
 * Reads file (index i of the call) from disk. The stamp of what was read
 * replaces the call's; when they differ the file changed during the call,
 * and nothing the call computes is stored.
 */
static int file_read(struct mc_call *k, int i, struct buf *text, struct buf *err)
{
	struct mf_stamp st = {.err = -ENOENT};
	int r;

	r = mf_read_file(mc_call_dirfd(k), k->c->dir, k->files[i].name, text, &st, err);
	mc_count(&k->c->n_reads);
	if (r == -ENOENT)
		st = (struct mf_stamp){.err = -ENOENT};
	if (r == 0 || r == -EINVAL || r == -ENOENT) {
		if (!k->files[i].serr && !mf_stamp_equal(&st, &k->files[i].st))
			k->nocache = true;
		k->files[i].st = st;
		k->files[i].racy = mc_stamp_racy(k, &st);
	} else {
		k->nocache = true; /* -EIO: may be gone next time */
	}
	if (k->files[i].used && k->files[i].racy)
		k->nocache = true;
	return r;
}

int mc_call_manifest(struct mc_call *k, struct manifest_json **mj, int *rc, struct buf *msg)
{
	struct buf text = BUF_INIT(MANIFEST_MAX_FILE);
	struct manifest_json *m = NULL;
	int i, r, pr = 0, read_rc;

	*mj = NULL;
	*rc = 0;
	i = mc_call_stat(k, MJ_FILE);
	if (i < 0)
		return i;
	k->mj = i;
	mc_call_use(k, i);
	if (k->files[i].serr)
		(void)0; /* read it to say why */
	else if (k->files[i].st.err == -ENOENT)
		return 0;
	else if ((r = file_lookup(k, i, &read_rc, NULL, &m, &pr, msg)) != 0) {
		if (r < 0) {
			manifest_json_free(m);
			return r;
		}
		*mj = m;
		*rc = read_rc < 0 ? read_rc : pr;
		return 0;
	}
	r = file_read(k, i, &text, msg);
	if (r == -ENOENT) {
		r = 0;
		goto out;
	}
	if (r == 0) {
		size_t len;
		char *t = buf_steal(&text, &len);

		pr = t ? mf_mj_take(t, len, &m, msg) : -ENOMEM;
	}
	*mj = m;
	*rc = r < 0 ? r : pr;
	r = r == 0 || r == -EINVAL ? file_store(k, i, r, pr, NULL, m, msg) : 0;
out:
	buf_release(&text);
	return r;
}

int mc_call_md(struct mc_call *k, const char *name, json_t **raw, int *pr, struct buf *err)
{
	struct buf text = BUF_INIT(MANIFEST_MAX_FILE);
	char file[MANIFEST_MAX_NAME + 4];
	size_t l = strlen(name);
	struct knode *n;
	json_t *val = NULL;
	int i, r, read_rc;

	if (l > MANIFEST_MAX_NAME)
		return -ENOENT; /* not a bottle name; src_get checked already */
	n = call_node(k, name);
	if (!n)
		return -ENOMEM;
	*pr = 0;
	if (n->raw) { /* given before in this call */
		*raw = n->raw;
		return 0;
	}
	memcpy(file, name, l);
	memcpy(file + l, ".md", 4);
	i = mc_call_stat(k, file);
	if (i < 0)
		return i;
	n->md = i;
	mc_call_use(k, i);
	if (k->files[i].serr)
		(void)0; /* read it to say why */
	else if (k->files[i].st.err == -ENOENT)
		return -ENOENT;
	else if ((r = file_lookup(k, i, &read_rc, &val, NULL, pr, err)) != 0) {
		if (r < 0)
			return r;
		if (read_rc == 0 && *pr == 0)
			*raw = n->raw = val;
		return read_rc;
	}
	r = file_read(k, i, &text, err);
	if (r == 0) {
		*pr = manifest_parse_md(name, text.data ? text.data : "", text.len, &val, err);
		if (*pr == 0)
			*raw = n->raw = val;
	}
	buf_release(&text);
	if ((r == 0 || r == -EINVAL) && file_store(k, i, r, *pr, val, NULL, err) < 0)
		return -ENOMEM;
	return r;
}

/* ---- resolutions ---- */

static int dep_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dep *)a)->file, ((const struct dep *)b)->file);
}

/* A new result entry for name depending on the files idx[0..n) of the call. */
struct rentry *mc_result_new(struct mc_call *k, const char *name, const uint32_t *idx, size_t n)
{
	struct rentry *e = mc_entry_new(sizeof(*e), E_RESULT, name);
	size_t i, names = 0, off;
	char *p;

	if (!e)
		return NULL;
	for (i = 0; i < n; i++)
		names += strlen(k->files[idx[i]].name) + 1;
	e->deps = malloc(n * sizeof(*e->deps) + names + 1);
	if (!e->deps) {
		mc_entry_free(&e->e);
		return NULL;
	}
	p = (char *)(e->deps + n);
	for (i = 0, off = 0; i < n; i++) {
		const struct cfile *f = &k->files[idx[i]];
		size_t l = strlen(f->name) + 1;

		memcpy(p + off, f->name, l);
		e->deps[i].st = f->st;
		e->deps[i].file = p + off;
		off += l;
	}
	e->ndeps = n;
	qsort(e->deps, n, sizeof(*e->deps), dep_cmp);
	e->e.bytes += mc_chunk(n * sizeof(*e->deps) + names + 1);
	return e;
}

static bool deps_equal(const struct rentry *a, const struct rentry *b)
{
	size_t i;

	if (a->ndeps != b->ndeps || a->index_gen != b->index_gen)
		return false;
	for (i = 0; i < a->ndeps; i++)
		if (strcmp(a->deps[i].file, b->deps[i].file) ||
		    !mf_stamp_equal(&a->deps[i].st, &b->deps[i].st))
			return false;
	return true;
}

/*
 * Stores e (taking the caller's reference). When the entry it replaces
 * answers for the same stamps, that one is completed instead (it may lack
 * the text or the resolved object), so no answer is lost. keep_json: keep
 * e's resolved object only when the old entry had one (the bottle is known
 * to be a parent).
 */
void mc_result_store(struct manifest_cache *c, struct rentry *e, bool json_if_parent)
{
	struct entry *dead = NULL;
	struct rentry *old;
	json_t *drop = NULL;

	pthread_mutex_lock(&c->lock);
	old = map_get(&c->results, e->e.key);
	if (json_if_parent && !(old && old->resolved)) {
		drop = e->resolved;
		e->resolved = NULL;
	}
	if (old && old->rc == e->rc && deps_equal(old, e)) {
		if (!old->text && e->text) {
			old->text = e->text;
			old->len = e->len;
			e->text = NULL;
			old->e.bytes += mc_chunk(old->len + 1);
			c->bytes += mc_chunk(old->len + 1);
		}
		if (!old->resolved && e->resolved) {
			size_t b = mf_json_bytes(e->resolved);

			old->resolved = e->resolved;
			e->resolved = NULL;
			old->e.bytes += b;
			c->bytes += b;
		}
		mc_touch(c, &old->e);
		mc_evict(c, &dead);
		e->e.next = dead;
		dead = &e->e;
	} else {
		e->e.bytes += mc_str_bytes(e->msg) + (e->text ? mc_chunk(e->len + 1) : 0) +
			      (e->resolved ? mf_json_bytes(e->resolved) : 0);
		mc_list_entry(c, &e->e, &dead);
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(drop);
	mc_unref_chain(c, dead);
}

/* Whether v holds a real anywhere (values nest boundedly: parse.c). */
static bool has_real(const json_t *v)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_real(v))
		return true;
	if (json_is_object(v))
		json_object_foreach((json_t *)v, k, x) if (has_real(x)) return true;
	if (json_is_array(v))
		json_array_foreach(v, i, x) if (has_real(x)) return true;
	return false;
}

/*
 * The resolved object of a stored answer that was only rendered: its text
 * read back. That is the same object (keys in order, strings, integers,
 * booleans) unless it holds a real: %.15g reads back as another double,
 * which a route compared for equality would notice. Then NULL.
 */
/*
 * The resolved object of an answer that was only rendered, read back from
 * its text, which the entry e (held by the call) keeps from now on when
 * it is still listed; else the call does. Borrowed; NULL when it holds a
 * real (see has_real) or out of memory.
 */
static json_t *from_text(struct mc_call *k, struct rentry *e, const char *text, size_t len)
{
	struct manifest_cache *c = k->c;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL), *v;
	size_t b;

	if (!j || has_real(j)) {
		json_decref(j);
		return NULL;
	}
	b = mf_json_bytes(j);
	pthread_mutex_lock(&c->lock);
	if (!e->resolved && e->e.listed) {
		/* a parent from now on: keep it */
		e->resolved = j;
		j = NULL;
		e->e.bytes += b;
		c->bytes += b;
	}
	v = e->resolved; /* ours, or one another call put there first */
	pthread_mutex_unlock(&c->lock);
	if (j)
		return call_own(k, j) < 0 ? NULL : j;
	return v;
}

int mc_call_shortcut(struct mc_call *k, const char *name)
{
	struct manifest_cache *c = k->c;
	struct entry *dead = NULL;
	struct rentry *e;
	struct knode *n;
	json_t *j = NULL, *src = NULL;
	const char *text = NULL;
	size_t len = 0, i;

	pthread_mutex_lock(&c->lock);
	e = map_get(&c->results, name);
	if (e && e->rc == 0 && (e->resolved || e->text)) {
		mc_touch(c, &e->e); /* a parent used again: what a scan of leaves should keep */
		mc_entry_ref(&e->e);
		/* set once and then fixed: safe to read after the lock while e is held */
		src = e->resolved;
		text = src ? NULL : e->text;
		len = e->len;
	}
	pthread_mutex_unlock(&c->lock);
	if (!src && !text)
		return 0;
	n = call_node(k, name);
	if (!n || !mc_entry_valid(k, e)) {
		mc_entry_unref(&e->e);
		return 0;
	}
	if (call_hold(k, &e->e) < 0)
		return 0;
	/* e is held by the call from here on */
	j = src ? src : from_text(k, e, text, len);
	if (!j)
		return 0;
	/* The answer now depends on every file that resolution depended on. */
	for (i = 0; i < e->ndeps; i++) {
		int f = mc_call_stat(k, e->deps[i].file); /* found: entry_valid looked */

		mc_call_use(k, f);
		set_add(n, f);
	}
	n->over = n->over || e->ndeps > DEPSET_MAX;
	n->done = true;
	n->taken = j;
	if (!src) {
		pthread_mutex_lock(&c->lock);
		mc_evict(c, &dead); /* the object read back may have passed the limit */
		pthread_mutex_unlock(&c->lock);
		mc_unref_chain(c, dead);
	}
	mc_count(&c->n_reused);
	return 1;
}

json_t *mc_call_taken(struct mc_call *k, const char *name)
{
	struct knode *n = map_get(&k->nodes, name);

	return n ? n->taken : NULL;
}

int mc_call_done(struct mc_call *k, const char *name, json_t *resolved, json_t *parents, bool root)
{
	struct knode *n = call_node(k, name), *p;
	struct rentry *e;
	json_t *x;
	size_t i, j;

	if (!n)
		return -ENOMEM;
	mc_count(&k->c->n_resolved);
	set_add(n, k->mj);
	set_add(n, n->md);
	json_array_foreach(parents, i, x)
	{
		p = map_get(&k->nodes, json_string_value(x));
		if (!p || !p->done) {
			n->over = true; /* cannot happen: every parent is resolved first */
			break;
		}
		n->over = n->over || p->over;
		for (j = 0; j < p->n; j++)
			set_add(n, (int)p->set[j]);
	}
	n->done = true;
	/* The root is stored by manifest_cache_resolve, with all the call used. */
	if (root || n->over || k->nocache)
		return 0;
	e = mc_result_new(k, name, n->set, n->n);
	if (!e)
		return 0;
	/* the walk goes on merging resolved into children: the entry gets a copy */
	e->resolved = json_deep_copy(resolved);
	if (!e->resolved) {
		mc_entry_free(&e->e);
		return 0;
	}
	mc_result_store(k->c, e, false);
	return 0;
}

bool mc_entry_valid(struct mc_call *k, const struct rentry *e)
{
	struct mindex *ix;
	size_t i;

	for (i = 0; i < e->ndeps; i++) {
		int f = mc_call_stat(k, e->deps[i].file);

		if (f < 0 || k->files[f].serr || !mf_stamp_equal(&k->files[f].st, &e->deps[i].st))
			return false;
	}
	return !e->index_gen || (mc_call_index(k, &ix, NULL) == 0 && ix->gen == e->index_gen);
}
