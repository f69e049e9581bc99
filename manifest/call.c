/*
 * The manifest cache (manifest.h, "the cache"): the answers of
 * manifest_list, manifest_resolve and manifest_source for one directory,
 * computed once and given again while no file they read has changed.
 *
 * Three parts, one lock:
 * - Parsed files, keyed by file name, each with the stamp (mf_stamp) of
 *   the file it was read from. A file is read again only when a stat
 *   disagrees with the stamp.
 * - Resolutions, keyed by bottle name: the rendered text or the error,
 *   the resolved object when another bottle needed it as a parent, and
 *   the stamp of every file the resolution consulted (a file that did not
 *   exist counts too: NAME.md appearing beside a manifest.json bottle
 *   changes the answer). An answer is valid while every one of those stats
 *   the same, so a read costs a stat per file of the chain.
 * - The name index: the sorted names of the directory, with the stamps of
 *   the directory itself, manifest.json, and the target of every .md
 *   symlink (a symlink's target can change without the directory
 *   changing). Rebuilt only when one of those changes.
 *
 * One call (struct mc_call) is one question: it stats each file at most
 * once, remembers which files the answer used, and which stamps; a
 * resolution computed in a call is stored only if nothing in the call
 * moved under it (a file read with another stamp than its stat gave, or a
 * file that could not be stamped), so a stored answer always belongs to
 * the stamps stored with it.
 *
 * Inside a resolution, every bottle the walk resolves (not only the one
 * asked for) is stored with its own files when there are at most
 * DEPSET_MAX of them; a later walk that reaches it takes it as it is
 * (mc_call_shortcut) after checking its stamps. Only successes are reused
 * that way: an error depends on the path the walk took (a cycle is named
 * from where the walk entered it), so errors are stored only for the
 * bottle that was asked for.
 *
 * Locking: c->lock guards the maps, the LRU list, the byte count and the
 * index pointer; it is never held across a stat, a read, a parse, a
 * resolution or a dump. Entries are reference-counted (acquire-release),
 * so one evicted while a call uses it stays alive until that call lets go.
 * A stored json_t belongs to its entry alone and is immutable once stored
 * (text and the resolved object may be added once, under the lock). A
 * call borrows it, holding the entry until the call ends, and only reads
 * it: no jansson reference is ever taken or dropped on a stored value by
 * another thread. jansson's decrement is release-only, so a value freed
 * through a shared jansson reference would not be ordered after another
 * thread's last read of it; the entry's own count (acquire-release) is.
 */
#include "manifest/manifest.h"
#include "manifest/internal.h"

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

#include "util/map.h"

/* A bottle resolved inside another's walk is stored when its chain has at most this many files. */
#define DEPSET_MAX 64

/*
 * After this many bytes evicted, free memory goes back to the system
 * (malloc_trim): the FUSE threads allocate from several glibc arenas,
 * which otherwise keep what an evicted entry freed. A 100 000-bottle read
 * peaked 20% lower with it, at no cost in time (BENCHMARKS.md).
 */
#define TRIM_EVERY ((uint64_t)16 << 20)

#define MJ_FILE "manifest.json"

/* ---- entries ---- */

enum ekind { E_FILE, E_RESULT };

struct entry {
	struct entry *prev, *next; /* LRU, most recent first; c->lock */
	int refs;		   /* atomic; the cache holds one while listed */
	bool listed;		   /* in its map and the LRU; c->lock */
	enum ekind kind;
	size_t bytes; /* accounted while listed; c->lock */
	char *key;    /* file name (E_FILE) or bottle name (E_RESULT) */
};

/* A file read and parsed. */
struct fentry {
	struct entry e;
	struct mf_stamp st;
	int read_rc;		  /* 0 or -EINVAL (msg) */
	int parse_rc;		  /* when read_rc is 0: 0 (val) or -EINVAL (msg) */
	json_t *val;		  /* NAME.md: the raw bottle */
	struct manifest_json *mj; /* manifest.json (NULL if broken) */
	char *msg;
};

struct dep {
	struct mf_stamp st;
	const char *file; /* points into the entry's own block */
};

/* One bottle's answer. */
struct rentry {
	struct entry e;
	int rc;		    /* 0, or -EINVAL with msg */
	char *msg;	    /* immutable */
	char *text;	    /* rendered; added once under c->lock */
	size_t len;	    /* of text */
	json_t *resolved;   /* kept when a walk needed it as a parent; added once under c->lock */
	uint64_t index_gen; /* nonzero: msg lists the names of that index */
	size_t ndeps;
	struct dep *deps; /* sorted by file; immutable; one block with the names */
};

struct ilink {
	char *file;
	bool regular;
};

/* The bottles directory, open, for stats and reads relative to it (no path walk). */
struct dirh {
	int refs; /* atomic */
	int fd;
	uint64_t dev, ino;
};

/* The name index (immutable once built; reference-counted). */
struct mindex {
	int refs; /* atomic */
	uint64_t gen;
	struct mf_stamp dir_st, mj_st;
	char **names; /* sorted, unique */
	size_t n;
	int mj_rc; /* manifest.json could not be used: the message manifest_list gives */
	char *mj_msg;
	/*
	 * Every entry a stamp could be taken of (NAME.md of a valid NAME, of
	 * any type, and manifest.json), sorted: while the directory's stamp
	 * holds, a file not among them does not exist, without a stat.
	 */
	char **entries;
	size_t nentries;
	struct ilink *links;
	size_t nlinks;
	size_t bytes;
};

struct manifest_cache {
	char *dir;
	size_t max_bytes, max_entries;
	int64_t racy_ns;
	pthread_mutex_t lock;
	struct map files;	   /* lock: file name -> struct fentry */
	struct map results;	   /* lock: bottle name -> struct rentry */
	struct entry *head, *tail; /* lock: LRU */
	size_t bytes, count;	   /* lock */
	struct mindex *index;	   /* lock; NULL until the first listing */
	struct dirh *dirh;	   /* lock; NULL until the first call */
	uint64_t next_gen;	   /* lock */
	/* atomic counters (manifest_cache_stats) */
	uint64_t n_reads, n_resolved, n_hits, n_reused, n_index_builds, n_evictions;
	uint64_t evicted_bytes; /* atomic: since the last malloc_trim */
};

static void count(uint64_t *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

/* ---- how many bytes a value holds (an estimate of what malloc gave jansson) ---- */

static size_t chunk(size_t n)
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
		b = chunk(88) + chunk(16 * pow2_at_least(json_object_size(v), 8));
		json_object_foreach((json_t *)v, k, x) b +=
		    chunk(48 + strlen(k) + 1) + mf_json_bytes(x);
		return b;
	case JSON_ARRAY:
		b = chunk(40) + chunk(8 * pow2_at_least(json_array_size(v), 8));
		json_array_foreach(v, i, x) b += mf_json_bytes(x);
		return b;
	case JSON_STRING:
		return chunk(32) + chunk(json_string_length(v) + 1);
	case JSON_INTEGER:
	case JSON_REAL:
		return chunk(24);
	default:
		return 0; /* true, false and null are shared singletons */
	}
}

static size_t str_bytes(const char *s)
{
	return s ? chunk(strlen(s) + 1) : 0;
}

/* ---- entry lifetime ---- */

static void entry_free(struct entry *e)
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

static void entry_ref(struct entry *e)
{
	__atomic_fetch_add(&e->refs, 1, __ATOMIC_RELAXED);
}

static void entry_unref(struct entry *e)
{
	if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0)
		entry_free(e);
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
static void touch(struct manifest_cache *c, struct entry *e)
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
static void evict(struct manifest_cache *c, struct entry **dead)
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
static void unref_chain(struct manifest_cache *c, struct entry *dead)
{
	uint64_t b = 0;

	while (dead) {
		struct entry *next = dead->next;

		b += dead->bytes;
		entry_unref(dead);
		dead = next;
	}
	if (b && __atomic_add_fetch(&c->evicted_bytes, b, __ATOMIC_RELAXED) >= TRIM_EVERY) {
		__atomic_store_n(&c->evicted_bytes, 0, __ATOMIC_RELAXED);
		malloc_trim(0);
	}
}

/* Under c->lock: lists e (the cache takes the caller's reference), replacing its key's entry. */
static void list_entry(struct manifest_cache *c, struct entry *e, struct entry **dead)
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
	evict(c, dead);
}

/* A new entry's common part; NULL when out of memory. */
static void *entry_new(size_t size, enum ekind kind, const char *key)
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
	e->bytes = chunk(size) + chunk(strlen(key) + 1) + 64; /* + its map node */
	return e;
}

static void dirh_unref(struct dirh *d)
{
	if (d && __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		close(d->fd);
		free(d);
	}
}

static void index_unref(struct mindex *ix)
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
		entry_unref(e);
	}
	map_release(&c->files);
	map_release(&c->results);
	index_unref(c->index);
	dirh_unref(c->dirh);
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

/* ---- one call ---- */

/* A file this call looked at. */
struct cfile {
	char *name;
	struct mf_stamp st;
	int serr;  /* stat failed otherwise than ENOENT: nothing about it can be stored */
	bool racy; /* changed too recently to be kept (racy_ns) */
	bool used; /* the answer depends on it */
};

/* What one bottle of the walk depends on (indices into k->files). */
struct knode {
	int md;	       /* NAME.md, or -1 */
	bool done;     /* resolved (or taken whole) in this call: set is final */
	bool over;     /* more than DEPSET_MAX files */
	json_t *raw;   /* NAME.md parsed, once given (borrowed: held or owned by the call) */
	json_t *taken; /* the resolution taken whole (borrowed likewise) */
	size_t n;
	uint32_t set[DEPSET_MAX];
};

/* Files of a call found by linear search up to this many, then through fidx. */
#define CALL_LINEAR 24

struct mc_call {
	struct manifest_cache *c;
	int64_t now_ns;		/* CLOCK_REALTIME when the call began, before any stat */
	int dir_state;		/* 0: not looked at yet; 1: dir_st (and dh) set; -errno */
	struct mf_stamp dir_st; /* of the directory, taken first */
	struct dirh *dh;	/* a reference, or NULL: paths */
	bool listing_known;	/* listing has been looked for */
	struct mindex *listing; /* an index whose entries hold now (a reference), or NULL */
	struct cfile *files;
	size_t nfiles, cap;
	struct map fidx;     /* file name -> index + 1, once nfiles > CALL_LINEAR */
	struct map nodes;    /* bottle name -> struct knode */
	int mj;		     /* index of manifest.json in files, -1 until looked at */
	bool nocache;	     /* store no answer computed by this call */
	uint64_t index_gen;  /* the answer lists the names of this index */
	struct mindex *ix;   /* validated index (a reference), or NULL */
	struct entry **held; /* entries whose values the call borrows, until it ends */
	size_t nheld, capheld;
	json_t **own; /* values the call made and keeps (not stored), until it ends */
	size_t nown, capown;
};

static void call_init(struct mc_call *k, struct manifest_cache *c)
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

static void call_release(struct mc_call *k)
{
	size_t i;

	for (i = 0; i < k->nfiles; i++)
		free(k->files[i].name);
	free(k->files);
	map_release(&k->fidx);
	map_each(&k->nodes, free_node, NULL);
	map_release(&k->nodes);
	index_unref(k->ix);
	index_unref(k->listing);
	dirh_unref(k->dh);
	for (i = 0; i < k->nown; i++)
		json_decref(k->own[i]);
	free(k->own);
	for (i = 0; i < k->nheld; i++)
		entry_unref(k->held[i]);
	free(k->held);
}

/* The call keeps e (takes the caller's reference) until it ends; -ENOMEM drops it. */
static int call_hold(struct mc_call *k, struct entry *e)
{
	if (k->nheld == k->capheld) {
		size_t cap = k->capheld ? k->capheld * 2 : 8;
		struct entry **v = realloc(k->held, cap * sizeof(*v));

		if (!v) {
			entry_unref(e);
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
static bool stamp_racy(const struct mc_call *k, const struct mf_stamp *st)
{
	int64_t window = st->ct_ns ? k->c->racy_ns : 2000000000LL;

	return st->err == 0 && st->ct_s * 1000000000LL + st->ct_ns > k->now_ns - window;
}

/*
 * Stamps the directory, once per call and before anything in it, and
 * finds its open descriptor (opened again when the path now names another
 * directory).
 */
static void call_dir(struct mc_call *k)
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
	dirh_unref(old);
	k->dh = d;
}

int mc_call_dirfd(struct mc_call *k)
{
	call_dir(k);
	return k->dh ? k->dh->fd : -1;
}

static bool links_hold(struct mc_call *k, const struct mindex *ix);

static int cmp_name(const void *key, const void *elem)
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
		call_dir(k);
		if (k->dir_state != 1)
			return false;
		pthread_mutex_lock(&c->lock);
		if (c->index && mf_stamp_equal(&c->index->dir_st, &k->dir_st)) {
			ix = c->index;
			__atomic_fetch_add(&ix->refs, 1, __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(&c->lock);
		if (ix && !links_hold(k, ix)) {
			index_unref(ix);
			ix = NULL;
		}
		k->listing = ix;
	}
	return k->listing &&
	       !bsearch(file, k->listing->entries, k->listing->nentries, sizeof(char *), cmp_name);
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
static int call_stat(struct mc_call *k, const char *file)
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
	f->racy = stamp_racy(k, &f->st);
	return (int)k->nfiles++;
nomem:
	free(f->name);
	return -ENOMEM;
}

/* The answer depends on file i: what cannot be trusted keeps it from being stored. */
static void call_use(struct mc_call *k, int i)
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
static bool entry_valid(struct mc_call *k, const struct rentry *e);

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
	touch(c, &f->e);
	entry_ref(&f->e);
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
		f = entry_new(sizeof(*f), E_FILE, k->files[i].name);
	if (f && (read_rc < 0 || parse_rc < 0) && !(f->msg = strdup(msg ? buf_cstr(msg) : ""))) {
		entry_free(&f->e);
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
	    (val ? mf_json_bytes(val) : 0) + (mj ? mf_mj_bytes(mj) : 0) + str_bytes(f->msg);
	entry_ref(&f->e); /* the call's, taken before another thread can see it */
	pthread_mutex_lock(&c->lock);
	list_entry(c, &f->e, &dead);
	pthread_mutex_unlock(&c->lock);
	unref_chain(c, dead);
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
	count(&k->c->n_reads);
	if (r == -ENOENT)
		st = (struct mf_stamp){.err = -ENOENT};
	if (r == 0 || r == -EINVAL || r == -ENOENT) {
		if (!k->files[i].serr && !mf_stamp_equal(&st, &k->files[i].st))
			k->nocache = true;
		k->files[i].st = st;
		k->files[i].racy = stamp_racy(k, &st);
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
	i = call_stat(k, MJ_FILE);
	if (i < 0)
		return i;
	k->mj = i;
	call_use(k, i);
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
	i = call_stat(k, file);
	if (i < 0)
		return i;
	n->md = i;
	call_use(k, i);
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
static struct rentry *result_new(struct mc_call *k, const char *name, const uint32_t *idx, size_t n)
{
	struct rentry *e = entry_new(sizeof(*e), E_RESULT, name);
	size_t i, names = 0, off;
	char *p;

	if (!e)
		return NULL;
	for (i = 0; i < n; i++)
		names += strlen(k->files[idx[i]].name) + 1;
	e->deps = malloc(n * sizeof(*e->deps) + names + 1);
	if (!e->deps) {
		entry_free(&e->e);
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
	e->e.bytes += chunk(n * sizeof(*e->deps) + names + 1);
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
static void result_store(struct manifest_cache *c, struct rentry *e, bool json_if_parent)
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
			old->e.bytes += chunk(old->len + 1);
			c->bytes += chunk(old->len + 1);
		}
		if (!old->resolved && e->resolved) {
			size_t b = mf_json_bytes(e->resolved);

			old->resolved = e->resolved;
			e->resolved = NULL;
			old->e.bytes += b;
			c->bytes += b;
		}
		touch(c, &old->e);
		evict(c, &dead);
		e->e.next = dead;
		dead = &e->e;
	} else {
		e->e.bytes += str_bytes(e->msg) + (e->text ? chunk(e->len + 1) : 0) +
			      (e->resolved ? mf_json_bytes(e->resolved) : 0);
		list_entry(c, &e->e, &dead);
	}
	pthread_mutex_unlock(&c->lock);
	json_decref(drop);
	unref_chain(c, dead);
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
		touch(c, &e->e); /* a parent used again: what a scan of leaves should keep */
		entry_ref(&e->e);
		/* set once and then fixed: safe to read after the lock while e is held */
		src = e->resolved;
		text = src ? NULL : e->text;
		len = e->len;
	}
	pthread_mutex_unlock(&c->lock);
	if (!src && !text)
		return 0;
	n = call_node(k, name);
	if (!n || !entry_valid(k, e)) {
		entry_unref(&e->e);
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
		int f = call_stat(k, e->deps[i].file); /* found: entry_valid looked */

		call_use(k, f);
		set_add(n, f);
	}
	n->over = n->over || e->ndeps > DEPSET_MAX;
	n->done = true;
	n->taken = j;
	if (!src) {
		pthread_mutex_lock(&c->lock);
		evict(c, &dead); /* the object read back may have passed the limit */
		pthread_mutex_unlock(&c->lock);
		unref_chain(c, dead);
	}
	count(&c->n_reused);
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
	count(&k->c->n_resolved);
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
	e = result_new(k, name, n->set, n->n);
	if (!e)
		return 0;
	/* the walk goes on merging resolved into children: the entry gets a copy */
	e->resolved = json_deep_copy(resolved);
	if (!e->resolved) {
		entry_free(&e->e);
		return 0;
	}
	result_store(k->c, e, false);
	return 0;
}

/* ---- the name index ---- */

static bool links_hold(struct mc_call *k, const struct mindex *ix)
{
	struct mf_stamp st;
	size_t i;

	for (i = 0; i < ix->nlinks; i++) {
		if (mf_stat(mc_call_dirfd(k), k->c->dir, ix->links[i].file, &st) < 0)
			return false;
		if ((st.err == 0 && S_ISREG(st.mode)) != ix->links[i].regular)
			return false;
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The keys of o, sorted, as new strings. */
static int keys_sorted(json_t *o, char ***out, size_t *n)
{
	char **v = calloc(json_object_size(o) + 1, sizeof(*v));
	const char *key;
	json_t *x;
	size_t i = 0;

	if (!v)
		return -ENOMEM;
	json_object_foreach(o, key, x)
	{
		(void)x;
		if (!(v[i] = strdup(key))) {
			manifest_names_free(v, i);
			return -ENOMEM;
		}
		i++;
	}
	qsort(v, i, sizeof(*v), cmp_str);
	*out = v;
	*n = i;
	return 0;
}

/*
 * Lists the directory into a new index. Kept (gen != 0) only when the
 * call's stamps of the directory and manifest.json can be trusted: taken
 * before the listing, not racy, not moved during the call.
 */
static int index_build(struct mc_call *k, struct mindex **out, struct buf *err)
{
	struct manifest_cache *c = k->c;
	struct buf msg = BUF_INIT(4096);
	json_t *md = NULL, *links = NULL, *all = NULL, *mjn = NULL, *v;
	struct manifest_json *mj = NULL;
	struct mindex *ix = NULL, *old = NULL;
	const char *key;
	size_t i;
	int r, mj_rc = 0;

	r = mf_list_md(c->dir, &md, &links, &all, err);
	if (r < 0)
		goto out;
	r = mc_call_manifest(k, &mj, &mj_rc, &msg);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	if (mj && !(mjn = manifest_json_names(mj)))
		goto out;
	ix = calloc(1, sizeof(*ix));
	if (!ix || mf_names_from(md, mjn, &ix->names, &ix->n) < 0 ||
	    keys_sorted(all, &ix->entries, &ix->nentries) < 0)
		goto out;
	ix->refs = 1;
	ix->dir_st = k->dir_st;
	ix->mj_st = k->files[k->mj].st;
	ix->mj_rc = mj_rc;
	if (mj_rc < 0 && !(ix->mj_msg = strdup(buf_cstr(&msg))))
		goto out;
	ix->links = calloc(json_object_size(links) + 1, sizeof(*ix->links));
	if (!ix->links)
		goto out;
	json_object_foreach(links, key, v)
	{
		struct buf f = BUF_INIT(MANIFEST_MAX_NAME + 8);

		buf_printf(&f, "%s.md", key);
		ix->links[ix->nlinks].regular = json_is_true(v);
		ix->links[ix->nlinks].file = buf_steal(&f, NULL);
		if (!ix->links[ix->nlinks].file)
			goto out;
		ix->nlinks++;
	}
	ix->bytes = chunk(sizeof(*ix)) + chunk((ix->n + 1) * sizeof(char *)) +
		    chunk((ix->nentries + 1) * sizeof(char *)) + str_bytes(ix->mj_msg);
	for (i = 0; i < ix->n; i++)
		ix->bytes += str_bytes(ix->names[i]);
	for (i = 0; i < ix->nentries; i++)
		ix->bytes += str_bytes(ix->entries[i]);
	count(&c->n_index_builds);
	r = 0;
	/* gen 0: not kept, so no answer may depend on it */
	if (k->dir_state == 1 && !stamp_racy(k, &k->dir_st) && !k->nocache &&
	    !k->files[k->mj].serr && !k->files[k->mj].racy) {
		__atomic_fetch_add(&ix->refs, 1, __ATOMIC_RELAXED);
		pthread_mutex_lock(&c->lock);
		ix->gen = ++c->next_gen;
		old = c->index;
		c->index = ix;
		pthread_mutex_unlock(&c->lock);
		index_unref(old);
	}
	*out = ix;
	ix = NULL;
out:
	if (r == -ENOMEM)
		mf_errf(err, "cannot list bottles directory '%s': out of memory", c->dir);
	index_unref(ix);
	json_decref(md);
	json_decref(links);
	json_decref(all);
	json_decref(mjn);
	manifest_json_free(mj);
	buf_release(&msg);
	return r;
}

/*
 * The name index, valid now (built again when the directory, manifest.json
 * or a symlink's target changed): borrowed until call_release. Errors as
 * manifest_list.
 */
static int call_index(struct mc_call *k, struct mindex **out, struct buf *err)
{
	struct manifest_cache *c = k->c;
	struct mindex *ix = NULL;
	int i, r;

	if (k->ix) {
		*out = k->ix;
		return 0;
	}
	call_dir(k); /* stamped before any listing: a change during it shows next time */
	i = call_stat(k, MJ_FILE);
	if (i < 0)
		return i;
	if (k->dir_state == 1 && !k->files[i].serr) {
		pthread_mutex_lock(&c->lock);
		if (c->index && mf_stamp_equal(&c->index->dir_st, &k->dir_st) &&
		    mf_stamp_equal(&c->index->mj_st, &k->files[i].st)) {
			ix = c->index;
			__atomic_fetch_add(&ix->refs, 1, __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(&c->lock);
		if (ix && !links_hold(k, ix)) {
			index_unref(ix);
			ix = NULL;
		}
	}
	if (ix) {
		/* What the index says about manifest.json is what this call would read. */
		call_use(k, i);
		k->mj = i;
	} else {
		r = index_build(k, &ix, err);
		if (r < 0)
			return r;
	}
	k->ix = ix;
	*out = ix;
	return 0;
}

void mc_call_available(struct mc_call *k, struct buf *out)
{
	struct buf msg = BUF_INIT(4096);
	struct manifest_json *mj = NULL;
	struct mindex *ix;
	char **names = NULL;
	size_t n = 0;
	json_t *mjn = NULL, *md;
	int r, rc;

	if (call_index(k, &ix, NULL) == 0) {
		mf_put_names(out, ix->names, ix->n);
		if (ix->gen)
			k->index_gen = ix->gen;
		else
			k->nocache = true;
		return;
	}
	/* The directory cannot be listed: as manifest_list does, without storing. */
	k->nocache = true;
	r = mf_list_md(k->c->dir, &md, NULL, NULL, NULL);
	if (r == -ENOENT) {
		md = json_object();
		r = md ? 0 : -ENOMEM;
	}
	if (r == 0) {
		r = mc_call_manifest(k, &mj, &rc, &msg);
		if (r == 0 && mj && !(mjn = manifest_json_names(mj)))
			r = -ENOMEM;
		if (r == 0)
			r = mf_names_from(md, mjn, &names, &n);
		json_decref(md);
	}
	if (r < 0)
		buf_puts(out, " Available bottles: (could not list them)");
	else
		mf_put_names(out, names, n);
	manifest_names_free(names, n);
	json_decref(mjn);
	manifest_json_free(mj);
	buf_release(&msg);
}

static bool entry_valid(struct mc_call *k, const struct rentry *e)
{
	struct mindex *ix;
	size_t i;

	for (i = 0; i < e->ndeps; i++) {
		int f = call_stat(k, e->deps[i].file);

		if (f < 0 || k->files[f].serr || !mf_stamp_equal(&k->files[f].st, &e->deps[i].st))
			return false;
	}
	return !e->index_gen || (call_index(k, &ix, NULL) == 0 && ix->gen == e->index_gen);
}

/* ---- the public calls ---- */

int manifest_cache_list(struct manifest_cache *c, char ***names, size_t *n, struct buf *err)
{
	struct mc_call k;
	struct mindex *ix;
	char **v = NULL;
	size_t i = 0;
	int r;

	call_init(&k, c);
	r = call_index(&k, &ix, err);
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
	call_release(&k);
	return r;
}

int manifest_cache_defined(struct manifest_cache *c, const char *name, struct buf *err)
{
	struct mc_call k;
	struct mindex *ix;
	int r;

	call_init(&k, c);
	r = call_index(&k, &ix, err);
	if (r == 0) {
		r = bsearch(name, ix->names, ix->n, sizeof(char *), cmp_name) != NULL;
		if (ix->mj_rc < 0)
			mf_errf(err, "%s", ix->mj_msg);
	}
	call_release(&k);
	return r;
}

int manifest_cache_source(struct manifest_cache *c, const char *name, char **text, size_t *len,
			  struct buf *err)
{
	struct mc_call k;
	int r;

	call_init(&k, c);
	r = mf_source_cached(&k, name, text, len, err);
	call_release(&k);
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
	touch(c, &e->e);
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
				e->e.bytes += chunk(l + 1);
				c->bytes += chunk(l + 1);
				evict(c, &dead);
			}
		}
		pthread_mutex_unlock(&c->lock);
		unref_chain(c, dead);
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
	e = result_new(k, name, idx, n);
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
	result_store(k->c, e, true);
	return;
fail:
	entry_free(&e->e);
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

	call_init(&k, c);
	if (valid) {
		pthread_mutex_lock(&c->lock);
		e = map_get(&c->results, name);
		if (e)
			entry_ref(&e->e);
		pthread_mutex_unlock(&c->lock);
	}
	if (e && entry_valid(&k, e)) {
		r = result_answer(c, e, &text, &l, err);
		entry_unref(&e->e);
		if (r != -ENOMEM) {
			count(&c->n_hits);
			goto out;
		}
	} else if (e) {
		entry_unref(&e->e);
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
	call_release(&k);
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
