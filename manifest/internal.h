/*
 * Internal helpers shared by the manifest module's files (parse.c,
 * resolve.c, cache.c). Not part of the public API; nothing outside
 * manifest/ includes this.
 */
#ifndef BOTTLEFS_MANIFEST_INTERNAL_H
#define BOTTLEFS_MANIFEST_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "util/check.h"
#include "util/buf.h"

/* Replaces err's contents with the message (err may be NULL). */
void mf_errf(struct buf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "map", "list", "string", "int", "float", "bool" or "null". */
const char *mf_kind(const json_t *v);

/*
 * What stat() says about one file, enough to tell that it changed: its
 * identity (device, inode), type, size, and both change times with their
 * nanoseconds. err is 0, or -ENOENT when the file does not exist (every
 * other field is then 0). A file rewritten in place with the same size
 * within one timestamp tick keeps its stamp (see SEMANTICS.md).
 */
struct mf_stamp {
	uint64_t dev, ino;
	int64_t size;
	int64_t mt_s, ct_s;
	int32_t mt_ns, ct_ns;
	uint32_t mode; /* type and permission bits */
	int32_t err;
};

/*
 * Stamps file in the directory dfd (when >= 0, an open descriptor of it)
 * or dir (following symlinks, as opening it does). 0 with *st set
 * (st->err is 0 or -ENOENT); another -errno when the file cannot be looked
 * at (then nothing about it can be remembered).
 */
MUST_CHECK int mf_stat(int dfd, const char *dir, const char *file, struct mf_stamp *st);
/* The stamp of what stat() gave. */
void mf_stamp_of(const struct stat *st, struct mf_stamp *out);
bool mf_stamp_equal(const struct mf_stamp *a, const struct mf_stamp *b);

/*
 * Reads the regular file file of the directory dfd (when >= 0) or dir (at
 * most MANIFEST_MAX_FILE bytes) into out.
 * -ENOENT silently when it does not exist; -EINVAL (not a regular file, too
 * big) or -EIO with err otherwise. st (may be NULL) gets the stamp of the
 * file that was opened, taken before reading, whenever it could be taken
 * (also with -EINVAL): what was read is at least as new as that stamp.
 */
MUST_CHECK int mf_read_file(int dfd, const char *dir, const char *file, struct buf *out,
			    struct mf_stamp *st, struct buf *err);

/* An estimate of the bytes malloc gave for v (cache.c's accounting). */
size_t mf_json_bytes(const json_t *v);

/* ---- mjson.c ---- */

struct manifest_json;

/* manifest_json_parse on text it takes (freed with the object, or on failure). */
MUST_CHECK int mf_mj_take(char *text, size_t len, struct manifest_json **out, struct buf *err);
/* Another reference (the object is immutable and may be shared by threads). */
struct manifest_json *mf_mj_ref(struct manifest_json *mj);
/* Bytes it holds. */
size_t mf_mj_bytes(const struct manifest_json *mj);

/* ---- merge.c ---- */

/*
 * Merges later (a parent's resolved form, or a bottle's own values) into
 * acc; b names the bottle for a type error's message (-EINVAL with err).
 */
MUST_CHECK int mf_merge(json_t *acc, json_t *later, const char *b, struct buf *err);

/* ---- list.c and resolve.c, for cache.c ---- */

/*
 * The .md bottles of dir as keys of *out (new); links (may be NULL) gets
 * the names whose .md is a symlink, mapped to whether its target counted;
 * all (may be NULL) the file name of every NAME.md entry of a valid NAME
 * (any type) and of manifest.json.
 */
MUST_CHECK int mf_list_md(const char *dir, json_t **out, json_t **links, json_t **all,
			  struct buf *err);
/* qsort comparison of two elements of an array of strings. */
int mf_cmp_str(const void *a, const void *b);
/* Sorted, unique names from the keys of a and b (b may be NULL); new. */
MUST_CHECK int mf_names_from(json_t *a, json_t *b, char ***names, size_t *n);
/* " Available bottles: a, b, c" (at most 64 names, then "(and N more)"). */
void mf_put_names(struct buf *out, char **names, size_t n);

struct mc_call;

/* manifest_resolve_ex / manifest_source with the files taken through a cache call. */
MUST_CHECK int mf_resolve_cached(struct mc_call *k, const char *name, json_t **resolved,
				 struct buf *err);
MUST_CHECK int mf_source_cached(struct mc_call *k, const char *name, char **text, size_t *len,
				struct buf *err);

/* ---- cache.c, for resolve.c: one call's view of the files (see cache.c) ---- */

/* The bottles directory of the call (borrowed), and a descriptor of it or -1. */
const char *mc_call_dir(struct mc_call *k);
int mc_call_dirfd(struct mc_call *k);
/*
 * manifest.json as src_open_dir sees it: *mj new (NULL when absent or
 * broken), *rc 0 or the -errno of reading or parsing it, with msg.
 */
MUST_CHECK int mc_call_manifest(struct mc_call *k, struct manifest_json **mj, int *rc,
				struct buf *msg);
/*
 * NAME.md: returns what reading it gave (0, -ENOENT, -EINVAL or -EIO, the
 * reason in err); when 0, *pr is what parsing gave (0 with *raw, or -errno
 * with the reason in err). *raw is borrowed until the call ends and may
 * be shared with other threads: it must only be read (no reference taken).
 */
MUST_CHECK int mc_call_md(struct mc_call *k, const char *name, json_t **raw, int *pr,
			  struct buf *err);
/*
 * 1 when name has a valid memoised resolution, which the call takes whole
 * (mc_call_taken gives it from then on); else 0.
 */
MUST_CHECK int mc_call_shortcut(struct mc_call *k, const char *name);
/* What mc_call_shortcut took for name (borrowed like mc_call_md's raw), or NULL. */
json_t *mc_call_taken(struct mc_call *k, const char *name);
/* name resolved to resolved (borrowed) from parents (borrowed list of names or NULL). */
MUST_CHECK int mc_call_done(struct mc_call *k, const char *name, json_t *resolved, json_t *parents,
			    bool root);
/* Appends " Available bottles: ..." from the name index. */
void mc_call_available(struct mc_call *k, struct buf *out);

#endif
