/*
 * cache: the manifest cache's entries and their life (mcache.h): reference
 * counts, the LRU list and eviction, the byte estimate, making and freeing
 * the cache, its statistics; and the public calls (manifest.h), each one
 * call (call.c) over the name index (index.c).
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

void mc_count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* ---- how many bytes a value holds (an estimate of what malloc gave jansson) ---- */

size_t mc_chunk(size_t n)
{
	/* glibc: 8 bytes of header, 16-byte granules, 32 at least */
	n = (n + 8 + 15) & ~(size_t)15;
	return n < 32 ? 32 : n;
}

static size_t pow2_at_least(size_t n, size_t min)
{
	size_t p = min;

	while (p < n)
		p *= 2;
	return p;
}

/* Values nest at most MANIFEST_MAX_NEST + 2 levels (parse.c), so the recursion is bounded. */
size_t mf_json_bytes(const json_t *v)
{
	const char *k;
	json_t *x;
	size_t i, b;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		/* the object, its buckets (16 bytes each, at least 8), a pair per key */
		b = mc_chunk(88) + mc_chunk(16 * pow2_at_least(json_object_size(v), 8));
		json_object_foreach((json_t *)v, k, x) b +=
		    mc_chunk(48 + strlen(k) + 1) + mf_json_bytes(x);
		return b;
	case JSON_ARRAY:
		b = mc_chunk(40) + mc_chunk(8 * pow2_at_least(json_array_size(v), 8));
		json_array_foreach(v, i, x) b += mf_json_bytes(x);
		return b;
	case JSON_STRING:
		return mc_chunk(32) + mc_chunk(json_string_length(v) + 1);
	case JSON_INTEGER:
	case JSON_REAL:
		return mc_chunk(24);
	default:
		return 0; /* true, false and null are shared singletons */
	}
}

size_t mc_str_bytes(const char *s)
{
	return s ? mc_chunk(strlen(s) + 1) : 0;
}

/* ---- entry lifetime ---- */

void mc_entry_free(struct entry *e)
{
	if (e->kind == E_FILE) {
		struct fentry *f = (struct fentry *)e;

		json_decref(f->val);
		manifest_json_free(f->mj);
		free(f->msg);
	} else {
		struct rentry *r = (struct rentry *)e;

		free(r->msg);
		free(r->text);
		json_decref(r->resolved);
		free(r->deps);
	}
	free(e->key);
	free(e);
}

void mc_entry_ref(struct entry *e)
{
	__atomic_fetch_add(&e->refs, 1, __ATOMIC_RELAXED);
}

void mc_entry_unref(struct entry *e)
{
	if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
		mc_entry_free(e);
}

static struct map *map_of(struct manifest_cache *c, const struct entry *e)
{
	return e->kind == E_FILE ? &c->files : &c->results;
}

/* Under c->lock: takes e out of the LRU and the byte count (not out of its map). */
static void lru_remove(struct manifest_cache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
	e->listed = false;
	c->bytes -= e->bytes;
	c->count--;
}

/* Under c->lock: takes e out of its map and the LRU; the caller drops the cache's reference. */
static void unlist(struct manifest_cache *c, struct entry *e)
{
	map_del(map_of(c, e), e->key);
	lru_remove(c, e);
}

static void push_front(struct manifest_cache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

/* Under c->lock: e was just used. */
void mc_touch(struct manifest_cache *c, struct entry *e)
{
	if (!e->listed || c->head == e)
		return;
	e->prev->next = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	push_front(c, e);
}

/*
 * Under c->lock: evicts from the cold end until within the limits; the
 * evicted are chained on *dead (through next) to be unreferenced after
 * the lock is released.
 */
void mc_evict(struct manifest_cache *c, struct entry **dead)
{
	while (c->tail && (c->bytes > c->max_bytes || c->count > c->max_entries)) {
		struct entry *e = c->tail;

		unlist(c, e);
		e->next = *dead;
		*dead = e;
		c->n_evictions++;
	}
}

/* Drops the entries taken out under the lock (after it is released). */
void mc_unref_chain(struct manifest_cache *c, struct entry *dead)
{
	uint64_t b = 0;

	while (dead) {
		struct entry *next = dead->next;

		b += dead->bytes;
		mc_entry_unref(dead);
		dead = next;
	}
	if (b && __atomic_add_fetch(&c->evicted_bytes, b, __ATOMIC_RELAXED) >= TRIM_EVERY) {
		__atomic_store_n(&c->evicted_bytes, 0, __ATOMIC_RELAXED);
		malloc_trim(0);
	}
}

/* Under c->lock: lists e (the cache takes the caller's reference), replacing its key's entry. */
void mc_list_entry(struct manifest_cache *c, struct entry *e, struct entry **dead)
{
	void *old = NULL;

	if (map_put(map_of(c, e), e->key, e, &old) < 0) {
		e->next = *dead; /* out of memory: not kept */
		*dead = e;
		return;
	}
	if (old) {
		/* replaced in the map already */
		lru_remove(c, old);
		((struct entry *)old)->next = *dead;
		*dead = old;
	}
	e->listed = true;
	push_front(c, e);
	c->bytes += e->bytes;
	c->count++;
	mc_evict(c, dead);
}

/* A new entry's common part; NULL when out of memory. */
void *mc_entry_new(size_t size, enum ekind kind, const char *key)
{
	struct entry *e = calloc(1, size);

	if (!e)
		return NULL;
	e->key = strdup(key);
	if (!e->key) {
		free(e);
		return NULL;
	}
	e->kind = kind;
	e->refs = 1;
	e->bytes = mc_chunk(size) + mc_chunk(strlen(key) + 1) + 64; /* + its map node */
	return e;
}

void mc_dirh_unref(struct dirh *d)
{
	if (d && __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		close(d->fd);
		free(d);
	}
}

void mc_index_unref(struct mindex *ix)
{
	size_t i;

	if (!ix || __atomic_sub_fetch(&ix->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	manifest_names_free(ix->names, ix->n);
	manifest_names_free(ix->entries, ix->nentries);
	for (i = 0; i < ix->nlinks; i++)
		free(ix->links[i].file);
	free(ix->links);
	free(ix->mj_msg);
	free(ix);
}

/* ---- the cache ---- */

int manifest_cache_new(const char *dir, const struct manifest_cache_options *opt,
		       struct manifest_cache **out)
{
	struct manifest_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->dir = strdup(dir);
	if (!c->dir) {
		free(c);
		return -ENOMEM;
	}
	c->max_bytes = opt && opt->max_bytes ? opt->max_bytes : MANIFEST_CACHE_BYTES;
	c->max_entries = opt && opt->max_entries ? opt->max_entries : MANIFEST_CACHE_ENTRIES;
	c->racy_ns = opt && opt->racy_ns ? opt->racy_ns : MANIFEST_CACHE_RACY_NS;
	pthread_mutex_init(&c->lock, NULL);
	map_init(&c->files);
	map_init(&c->results);
	*out = c;
	return 0;
}

void manifest_cache_free(struct manifest_cache *c)
{
	struct entry *e, *next;

	if (!c)
		return;
	for (e = c->head; e; e = next) {
		next = e->next;
		mc_entry_unref(e);
	}
	map_release(&c->files);
	map_release(&c->results);
	mc_index_unref(c->index);
	mc_dirh_unref(c->dirh);
	pthread_mutex_destroy(&c->lock);
	free(c->dir);
	free(c);
}

const char *manifest_cache_dir(const struct manifest_cache *c)
{
	return c->dir;
}

void manifest_cache_stats(struct manifest_cache *c, struct manifest_cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	out->entries = c->count;
	out->bytes = c->bytes;
	if (c->index) {
		out->index_names = c->index->n;
		out->index_bytes = c->index->bytes;
	}
	out->evictions = c->n_evictions;
	for (struct entry *e = c->head; e; e = e->next)
		if (e->kind == E_FILE) {
			out->files++;
			out->file_bytes += e->bytes;
		}
	pthread_mutex_unlock(&c->lock);
	out->reads = __atomic_load_n(&c->n_reads, __ATOMIC_RELAXED);
	out->resolved = __atomic_load_n(&c->n_resolved, __ATOMIC_RELAXED);
	out->hits = __atomic_load_n(&c->n_hits, __ATOMIC_RELAXED);
	out->reused = __atomic_load_n(&c->n_reused, __ATOMIC_RELAXED);
	out->index_builds = __atomic_load_n(&c->n_index_builds, __ATOMIC_RELAXED);
}

/* ---- the public calls ---- */

int manifest_cache_list(struct manifest_cache *c, char ***names, size_t *n, struct buf *err)
{
	struct mc_call k;
	struct mindex *ix;
	char **v = NULL;
	size_t i = 0;
	int r;

	mc_call_init(&k, c);
	r = mc_call_index(&k, &ix, err);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	v = calloc(ix->n ? ix->n : 1, sizeof(*v));
	if (!v)
		goto out;
	for (i = 0; i < ix->n; i++)
		if (!(v[i] = strdup(ix->names[i])))
			goto out;
	if (ix->mj_rc < 0)
		mf_errf(err, "%s", ix->mj_msg);
	*names = v;
	*n = ix->n;
	v = NULL;
	r = 0;
out:
	manifest_names_free(v, i);
	mc_call_release(&k);
	return r;
}

int manifest_cache_defined(struct manifest_cache *c, const char *name, struct buf *err)
{
	struct mc_call k;
	struct mindex *ix;
	int r;

	mc_call_init(&k, c);
	r = mc_call_index(&k, &ix, err);
	if (r == 0) {
		r = bsearch(name, ix->names, ix->n, sizeof(char *), mc_cmp_name) != NULL;
		if (ix->mj_rc < 0)
			mf_errf(err, "%s", ix->mj_msg);
	}
	mc_call_release(&k);
	return r;
}

int manifest_cache_source(struct manifest_cache *c, const char *name, char **text, size_t *len,
			  struct buf *err)
{
	struct mc_call k;
	int r;

	mc_call_init(&k, c);
	r = mf_source_cached(&k, name, text, len, err);
	mc_call_release(&k);
	return r;
}

/* The answer of a valid entry the caller holds: a copy of its text, or its error. */
static int result_answer(struct manifest_cache *c, struct rentry *e, char **json, size_t *len,
			 struct buf *err)
{
	struct entry *dead = NULL;
	json_t *j = NULL;
	char *text = NULL;
	size_t l = 0;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	mc_touch(c, &e->e);
	if (e->rc < 0) {
		mf_errf(err, "%s", e->msg);
		r = e->rc;
	} else if (e->text) {
		text = malloc(e->len + 1);
		if (text) {
			memcpy(text, e->text, e->len + 1);
			l = e->len;
		}
	} else {
		j = e->resolved; /* fixed once set; the caller holds e */
	}
	pthread_mutex_unlock(&c->lock);
	if (r < 0)
		return r;
	if (j) {
		/* resolved inside another bottle's walk: rendered the first time it is read */
		r = manifest_dump(j, &text, &l);
		if (r < 0) {
			mf_errf(err, "bottle '%s': resolved form is too large", e->e.key);
			return r;
		}
		pthread_mutex_lock(&c->lock);
		if (!e->text && e->e.listed) {
			e->text = malloc(l + 1);
			if (e->text) {
				memcpy(e->text, text, l + 1);
				e->len = l;
				e->e.bytes += mc_chunk(l + 1);
				c->bytes += mc_chunk(l + 1);
				mc_evict(c, &dead);
			}
		}
		pthread_mutex_unlock(&c->lock);
		mc_unref_chain(c, dead);
	}
	if (!text)
		return -ENOMEM;
	*json = text;
	if (len)
		*len = l;
	return 0;
}

/* Stores the answer for the bottle asked for, with every file the call used. */
static void root_store(struct mc_call *k, const char *name, int r, const char *text, size_t len,
		       json_t **res, struct buf *err)
{
	uint32_t *idx;
	struct rentry *e;
	size_t i, n = 0;

	idx = malloc((k->nfiles + 1) * sizeof(*idx));
	if (!idx)
		return;
	for (i = 0; i < k->nfiles; i++)
		if (k->files[i].used)
			idx[n++] = (uint32_t)i;
	e = mc_result_new(k, name, idx, n);
	free(idx);
	if (!e)
		return;
	e->rc = r;
	e->index_gen = k->index_gen;
	if (r < 0) {
		e->msg = strdup(buf_cstr(err));
		if (!e->msg)
			goto fail;
	} else {
		e->text = malloc(len + 1);
		if (!e->text)
			goto fail;
		memcpy(e->text, text, len + 1);
		e->len = len;
		e->resolved = *res; /* taken: nobody else holds it */
		*res = NULL;
	}
	mc_result_store(k->c, e, true);
	return;
fail:
	mc_entry_free(&e->e);
}

int manifest_cache_resolve(struct manifest_cache *c, const char *name, char **json, size_t *len,
			   struct buf *err)
{
	struct buf why = BUF_INIT(1 << 20);
	struct rentry *e = NULL;
	struct mc_call k;
	json_t *res = NULL;
	char *text = NULL;
	size_t l = 0;
	bool valid = manifest_name_valid(name);
	int r;

	mc_call_init(&k, c);
	if (valid) {
		pthread_mutex_lock(&c->lock);
		e = map_get(&c->results, name);
		if (e)
			mc_entry_ref(&e->e);
		pthread_mutex_unlock(&c->lock);
	}
	if (e && mc_entry_valid(&k, e)) {
		r = result_answer(c, e, &text, &l, err);
		mc_entry_unref(&e->e);
		if (r != -ENOMEM) {
			mc_count(&c->n_hits);
			goto out;
		}
	} else if (e) {
		mc_entry_unref(&e->e);
	}
	r = mf_resolve_cached(&k, name, &res, &why);
	if (r == 0) {
		r = manifest_dump(res, &text, &l);
		if (r < 0)
			mf_errf(&why, "bottle '%s': resolved form is too large", name);
	}
	/* -ENOENT (not defined) and -EIO (may pass) are not kept. */
	if (valid && (r == 0 || r == -EINVAL) && !k.nocache)
		root_store(&k, name, r, text, l, &res, &why);
	if (r < 0 && err)
		mf_errf(err, "%s", buf_cstr(&why));
out:
	json_decref(res);
	mc_call_release(&k);
	buf_release(&why);
	if (r < 0) {
		free(text);
		return r;
	}
	*json = text;
	if (len)
		*len = l;
	return 0;
}
