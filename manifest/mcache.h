/*
 * mcache: the inside of the manifest cache (manifest.h, "the cache"),
 * shared by cache.c (entries, life, the public calls), call.c (one call)
 * and index.c (the name index). Not for other folders.
 *
 * The manifest cache: the answers of
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
#ifndef BOTTLEFS_MANIFEST_MCACHE_H
#define BOTTLEFS_MANIFEST_MCACHE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/check.h"
#include "manifest/internal.h"
#include "manifest/manifest.h"
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

/* ---- cache.c: entries ---- */

void mc_count(uint64_t *c); /* one more of a statistic (atomic) */
/* What malloc gives for n bytes, and for a string; the byte estimate. */
size_t mc_chunk(size_t n);
size_t mc_str_bytes(const char *s);
void mc_entry_free(struct entry *e);
void mc_entry_ref(struct entry *e);
void mc_entry_unref(struct entry *e);
/* Under c->lock: e was just used. */
void mc_touch(struct manifest_cache *c, struct entry *e);
/* Under c->lock: takes entries out past the limits; *dead gets them for mc_unref_chain. */
void mc_evict(struct manifest_cache *c, struct entry **dead);
/* Drops the entries taken out under the lock (after it is released). */
void mc_unref_chain(struct manifest_cache *c, struct entry *dead);
/* Under c->lock: lists e (the cache takes the caller's reference), replacing its key's entry. */
void mc_list_entry(struct manifest_cache *c, struct entry *e, struct entry **dead);
/* A new entry's common part; NULL when out of memory. */
void *mc_entry_new(size_t size, enum ekind kind, const char *key);
void mc_dirh_unref(struct dirh *d);
void mc_index_unref(struct mindex *ix);

/* ---- call.c: one call ---- */

void mc_call_init(struct mc_call *k, struct manifest_cache *c);
void mc_call_release(struct mc_call *k);
/* The directory, stamped and opened once per call. */
void mc_call_open_dir(struct mc_call *k);
/* The index of file in k->files, stamped (once per call); -errno when it cannot be. */
MUST_CHECK int mc_call_stat(struct mc_call *k, const char *file);
/* The answer depends on file i. */
void mc_call_use(struct mc_call *k, int i);
/* True when a stamp is too recent to keep (racy_ns). */
bool mc_stamp_racy(const struct mc_call *k, const struct mf_stamp *st);
/* True while every file e's answer read stats the same. */
bool mc_entry_valid(struct mc_call *k, const struct rentry *e);
struct rentry *mc_result_new(struct mc_call *k, const char *name, const uint32_t *idx, size_t n);
void mc_result_store(struct manifest_cache *c, struct rentry *e, bool json_if_parent);

/* bsearch comparison of a name (key) with an element of a sorted array of names. */
int mc_cmp_name(const void *key, const void *elem);

/* ---- index.c: the name index ---- */

/* True while every .md symlink's target stats as when ix was built. */
bool mc_links_hold(struct mc_call *k, const struct mindex *ix);
/* The index valid now (a new reference in *out), built when need be. */
MUST_CHECK int mc_call_index(struct mc_call *k, struct mindex **out, struct buf *err);

#endif
