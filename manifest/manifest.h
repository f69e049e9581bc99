/*
 * manifest: bottle manifests and their multi-parent `extends` resolution
 * (SPEC.md section 4). Pure: no FUSE, no forge, no state.
 *
 * A bottles directory holds <name>.md files (YAML front matter between a
 * first line "---" and the next "---" line, then markdown) and/or a
 * manifest.json ({"bottles": {"<name>": {...}}}). manifest_list,
 * manifest_resolve and manifest_source re-read the files they need from
 * disk on every call; only manifest.json (when present) and the .md files
 * of the requested bottle's extends chain are read, and of manifest.json
 * only the bottles of the chain are parsed (struct manifest_json, below).
 *
 * The cache (struct manifest_cache, below) gives the same answers, byte for
 * byte, for a daemon that asks many times: a file is parsed once until its
 * stamp (device, inode, type, size, mtime, ctime, with nanoseconds)
 * changes; a bottle's answer is kept with the stamps of every file its
 * chain read and given again while each of them stats the same; the names
 * of the directory are kept with the stamps of the directory and
 * manifest.json. So an edit is seen on the next call, at the price of a
 * stat per file of the chain. A file changed within racy_ns of a call
 * is not kept (below), so a same-size rewrite within one tick of the
 * file system's clock shows too; what it cannot see is a change that
 * leaves every stamp identical (the clock set back to the same instant).
 *
 * Decisions the SPEC leaves open (tested in tests/unit/test_manifest.c):
 * - Bottle names are [A-Za-z0-9._-]+, not starting with '.', at most 128
 *   bytes; anything else is not a bottle and no path is ever built from it.
 * - YAML scalars: quoted and block scalars (and !!str) are strings; plain
 *   true/True/TRUE/false/False/FALSE are booleans; plain null/Null/NULL/~
 *   and empty are null; a plain scalar in JSON number syntax is a number
 *   (an integer when it has no fraction or exponent and fits int64);
 *   everything else (yes, 0x1F, 1_000, 007) is the string as written.
 *   Aliases are refused (no billion laughs); anchors and tags are ignored.
 *   Floats print with 15 significant digits (0.1 stays 0.1), which is
 *   stable from the first resolution on.
 * - A null value at the top of a bottle (and inside git-gate, egress and a
 *   repo) means "not set". Empty strings in git-gate.user are "not set".
 * - Unknown keys are kept: later wins (whole value), the child wins last.
 *   Unknown keys inside git-gate and egress behave the same.
 * - Known keys are type-checked: env, git-gate, git-gate.user,
 *   git-gate.repos and each repo are maps; agent_provider a string;
 *   supervise true/false; egress.routes a list of maps with a string host.
 * - Resolution is iterative (explicit stack), so extends chains of any
 *   depth resolve without recursion; values may nest at most
 *   MANIFEST_MAX_NEST levels; a file is at most MANIFEST_MAX_FILE bytes.
 * - An error in a parent is the child's error (same text, naming the
 *   parent), so `resolve c` says exactly what to fix.
 * - The "Available bottles" list names at most 64 bottles, then
 *   "(and N more)".
 *
 * Ownership: every char * / json_t * handed out is new (the caller frees
 * it with free() / json_decref()) unless marked borrowed.
 * Thread-safety: the uncached functions share no state and may run
 * concurrently on the same directory. A manifest_cache may be used from
 * any number of threads at once (one internal lock, never held while a
 * file is read, parsed or resolved).
 */
#ifndef BOTTLEFS_MANIFEST_MANIFEST_H
#define BOTTLEFS_MANIFEST_MANIFEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/check.h"

#define MANIFEST_MAX_NAME 128
#define MANIFEST_MAX_FILE ((size_t)16 << 20)
#define MANIFEST_MAX_NEST 64

/* Names of every bottle defined in dir (.md files and manifest.json keys), sorted, new.
 * A manifest.json that cannot be parsed contributes no names; then err (if given)
 * says why and the .md bottles are still listed (a broken bottle never hides a
 * good one). -ENOENT / -EIO when dir itself cannot be listed. */
MUST_CHECK int manifest_list(const char *dir, char ***names, size_t *n, struct buf *err);
void manifest_names_free(char **names, size_t n);

/* Resolve one bottle. On success *json is new text (pretty JSON, 2-space indent, ending "\n").
 * -ENOENT: no bottle of that name (err says so); -EINVAL: resolution error, err holds the
 * SPEC message (e.g. "bottle 'c' extends itself; remove the self-reference");
 * -EIO: a file could not be read. */
MUST_CHECK int manifest_resolve(const char *dir, const char *name, char **json, struct buf *err);

/* The manifest text the bottle came from: the whole <name>.md file, or for manifest.json
 * the bottle's own object pretty-printed with a trailing newline. New. Errors as
 * manifest_resolve (a bottle defined twice is -EINVAL). */
MUST_CHECK int manifest_source(const char *dir, const char *name, char **text, size_t *len,
			       struct buf *err);

/* ---- the cache: the same answers, computed once while the files do not change ---- */

struct manifest_cache;

/*
 * What the cache may hold. Parsed files and answers are kept in one LRU
 * list; past either limit the least recently used go. Bytes are an
 * estimate of what malloc gave for them (values, text, stamps, keys). The
 * name index is not part of the list (it is needed for every lookup): it
 * holds one name per bottle beside the limit (manifest_cache_stats).
 * After every 16 MiB evicted the cache calls malloc_trim(0), which hands
 * free memory of the whole process back to the system.
 *
 * racy_ns: a file whose ctime is less than this before a call began is
 * read again by the next call, not kept: a rewrite within one tick of the
 * file system's clock would not change its stamp (git's "racily clean"
 * entries). A ctime of whole seconds (ext3, FAT) gets 2 s instead. 0
 * means MANIFEST_CACHE_RACY_NS; tests that write files and read them at
 * once set 1.
 */
struct manifest_cache_options {
	size_t max_bytes;   /* 0: MANIFEST_CACHE_BYTES */
	size_t max_entries; /* 0: MANIFEST_CACHE_ENTRIES */
	int64_t racy_ns;    /* 0: MANIFEST_CACHE_RACY_NS */
};
#define MANIFEST_CACHE_BYTES ((size_t)64 << 20)
#define MANIFEST_CACHE_ENTRIES ((size_t)1 << 17)
#define MANIFEST_CACHE_RACY_NS (50 * 1000000LL)

/* A cache of dir (copied); opt may be NULL. 0 and *out, or -ENOMEM. */
MUST_CHECK int manifest_cache_new(const char *dir, const struct manifest_cache_options *opt,
				  struct manifest_cache **out);
void manifest_cache_free(struct manifest_cache *c); /* NULL-safe */
/* Borrowed. */
const char *manifest_cache_dir(const struct manifest_cache *c);

/* manifest_list, manifest_resolve and manifest_source of the cache's directory. */
MUST_CHECK int manifest_cache_list(struct manifest_cache *c, char ***names, size_t *n,
				   struct buf *err);
/* len (may be NULL) gets strlen(*json). */
MUST_CHECK int manifest_cache_resolve(struct manifest_cache *c, const char *name, char **json,
				      size_t *len, struct buf *err);
MUST_CHECK int manifest_cache_source(struct manifest_cache *c, const char *name, char **text,
				     size_t *len, struct buf *err);
/* 1 when manifest_list would name name, 0 when not; errors (and err) as manifest_list. */
MUST_CHECK int manifest_cache_defined(struct manifest_cache *c, const char *name, struct buf *err);

struct manifest_cache_stats {
	size_t entries;	    /* parsed files and answers held now */
	size_t bytes;	    /* their accounted bytes (<= max_bytes after every call) */
	size_t files;	    /* of which parsed files */
	size_t file_bytes;  /* and their bytes */
	size_t index_names; /* names in the name index */
	size_t index_bytes; /* its accounted bytes */
	uint64_t reads;	    /* files read from disk (parse cache misses) */
	uint64_t resolved;  /* bottles whose resolved form was computed (merged) */
	uint64_t hits;	    /* answers given again from memory */
	uint64_t reused;    /* parents taken whole, inside another bottle's resolution */
	uint64_t index_builds;
	uint64_t evictions;
};
void manifest_cache_stats(struct manifest_cache *c, struct manifest_cache_stats *out);

/* ---- lower level: tests, fuzzer, benchmark ---- */

/* Counters for one resolution (to prove memoization and lazy reading). */
struct manifest_stats {
	size_t resolved;   /* bottles whose resolved form was computed */
	size_t files_read; /* files opened and read (.md and manifest.json) */
};

/* True when name is a valid bottle name (see above). */
int manifest_name_valid(const char *name);

/*
 * Parses the text of <name>.md into the bottle's raw object (new, `extends`
 * still in it; {} for empty front matter). name is only used in messages.
 * -EINVAL with err on bad input (no front matter, invalid YAML or UTF-8,
 * not a mapping, too deep, too big).
 */
MUST_CHECK int manifest_parse_md(const char *name, const char *text, size_t len, json_t **bottle,
				 struct buf *err);

/*
 * Parses manifest.json text; *bottles is its "bottles" object (new; {} when
 * absent), entries with invalid names dropped. -EINVAL with err.
 */
MUST_CHECK int manifest_parse_json(const char *text, size_t len, json_t **bottles, struct buf *err);

/*
 * Resolves name from an in-memory set: bottles maps name -> raw bottle
 * (borrowed). *resolved is the resolved object (new). stats may be NULL
 * and is added to. Errors as manifest_resolve.
 */
MUST_CHECK int manifest_resolve_set(json_t *bottles, const char *name, json_t **resolved,
				    struct manifest_stats *stats, struct buf *err);

/* manifest_resolve with counters (stats may be NULL; it is added to). */
MUST_CHECK int manifest_resolve_ex(const char *dir, const char *name, char **json,
				   struct manifest_stats *stats, struct buf *err);

/*
 * manifest.json read lazily (mjson.c): the same bottles as
 * manifest_parse_json, each parsed when it is asked for. The text is
 * checked whole first (by a scanner that builds nothing); whenever that
 * scanner is not sure, it is parsed whole by manifest_parse_json, so the
 * values and the errors are exactly manifest_parse_json's. Immutable once
 * made: any number of threads may read it.
 */
struct manifest_json;
/* Errors as manifest_parse_json (text is copied). */
MUST_CHECK int manifest_json_parse(const char *text, size_t len, struct manifest_json **out,
				   struct buf *err);
void manifest_json_free(struct manifest_json *mj); /* NULL-safe */
/* 0 and *out (new), -ENOENT when mj does not define name, -ENOMEM. */
MUST_CHECK int manifest_json_get(const struct manifest_json *mj, const char *name, json_t **out);
/* New object whose keys are the names mj defines (values unspecified); NULL: out of memory. */
json_t *manifest_json_names(const struct manifest_json *mj);
/* True when the scanner was sure (nothing parsed yet); for tests. */
bool manifest_json_lazy(const struct manifest_json *mj);

/* The canonical text of a resolved object: 2-space indent, key order kept, "\n". New. */
MUST_CHECK int manifest_dump(const json_t *obj, char **text, size_t *len);

#endif
