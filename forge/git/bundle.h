/*
 * git/bundle: a strict, incremental checker of git bundles (the format of
 * git's Documentation/gitformat-bundle.txt, versions 2 and 3, SHA-1 only).
 *
 * An agent pushes by writing a bundle into the mount, and git writes one in
 * two goes: `git bundle create -` writes the header, closes its stdout, and
 * `pack-objects` (holding a copy of the descriptor) appends the pack. So
 * the bytes arrive in order but in pieces, and the checker is fed them as
 * they come (bundle_check_feed, or bundle_check_fd on a growing spool
 * file). After every piece it answers:
 *
 *   BUNDLE_INCOMPLETE (0)  nothing is wrong yet, more bytes are needed;
 *   BUNDLE_COMPLETE (1)    the bundle ends here: its header is valid, its
 *                          pack holds exactly the objects its header
 *                          announced, and the 20-byte trailer is the SHA-1
 *                          of the pack before it;
 *   -EINVAL                malformed, with a one-line reason in err;
 *   -EFBIG                 over a cap (the bundle, one object, the total
 *                          the objects inflate to), with a reason;
 *   -ENOMEM.
 *
 * A failure is sticky: every later call repeats it (with the same reason).
 *
 * What is checked, before any git process sees the bytes:
 * - the signature line, "# v2 git bundle" or "# v3 git bundle";
 * - v3 capabilities: "@object-format=sha1" only (sha256 and any other
 *   format, "@filter=" and unknown capabilities are refused, as git itself
 *   refuses unknown ones), before any other line, each at most once;
 * - prerequisites "-<oid>[ <comment>]" then refs "<oid> <refname>" (in that
 *   order, as git writes them; oids are 40 lower-case hex digits; the
 *   comment is any bytes but NUL; a ref is "HEAD" or "refs/..." passing
 *   git's check-ref-format rules), then one empty line;
 * - every header line ends with LF alone and holds no NUL or CR (but a
 *   comment may hold a CR); at most BUNDLE_MAX_LINE bytes a line,
 *   BUNDLE_MAX_HEADER bytes in all, BUNDLE_MAX_REFS refs and
 *   BUNDLE_MAX_PREREQS prerequisites;
 * - the pack: "PACK", version 2 or 3, the object count (at most what the
 *   bundle cap can hold at BUNDLE_MIN_ENTRY bytes an object), then every
 *   object: a valid type (commit, tree, blob, tag, ofs-delta, ref-delta),
 *   a size that fits 64 bits, an ofs-delta base offset inside the pack
 *   before the object, a zlib stream that inflates to exactly the size its
 *   header declares, and a delta's result size (read from the first bytes
 *   of the delta) within the object cap; then the trailer.
 *
 * The object cap applies to the size an object has once inflated and, for
 * a delta, once applied: that is what `git index-pack` would allocate, so a
 * small bundle cannot make it allocate gigabytes. The checker inflates every
 * object once into a fixed scratch buffer: its memory does not grow with
 * the bundle (the header and its refs are kept: at most BUNDLE_MAX_HEADER).
 *
 * Not checked here (git does it, see forge/git/mirror.h): that objects
 * parse, that hashes match, that deltas apply, that ofs-delta bases are
 * object starts, connectivity. Whether the refs suit a push is
 * bundle_push_tip's question, not the parser's.
 *
 * Ownership: a struct bundle_check is owned by its creator (new from
 * bundle_check_new, freed with bundle_check_free). Everything it hands out
 * (bundle_check_header) is borrowed and valid until the next feed, reset
 * or free. Not thread-safe: one owner at a time.
 */
#ifndef BOTTLEFS_FORGE_GIT_BUNDLE_H
#define BOTTLEFS_FORGE_GIT_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define BUNDLE_OID_HEX 40
#define BUNDLE_MAX_LINE 65536
#define BUNDLE_MAX_HEADER ((size_t)1 << 20)
#define BUNDLE_MAX_REFS 256
#define BUNDLE_MAX_PREREQS 4096
/*
 * The smallest a pack entry can be: one header byte and a zlib stream
 * (2 bytes of header, at least 2 of deflate data, 4 of Adler-32).
 */
#define BUNDLE_MIN_ENTRY 9
/* --push-max and --push-max-object defaults (the issue's). */
#define BUNDLE_MAX_DEFAULT ((uint64_t)200 << 20)
#define BUNDLE_MAX_OBJECT_DEFAULT ((uint64_t)50 << 20)

enum {
	BUNDLE_INCOMPLETE = 0,
	BUNDLE_COMPLETE = 1,
};

struct bundle_limits {
	uint64_t max_bundle;   /* bytes of the whole bundle (0: BUNDLE_MAX_DEFAULT) */
	uint64_t max_object;   /* one object, inflated (0: BUNDLE_MAX_OBJECT_DEFAULT) */
	uint64_t max_inflated; /* all objects inflated together (0: 8 x max_bundle) */
};

struct bundle_ref {
	char oid[BUNDLE_OID_HEX + 1];
	char *name; /* "HEAD" or "refs/..." */
};

/* What the header said, and what the pack held so far. */
struct bundle_header {
	unsigned version; /* 2 or 3 */
	size_t n_prereqs;
	char (*prereqs)[BUNDLE_OID_HEX + 1]; /* oids only; the comments are dropped */
	size_t n_refs;
	struct bundle_ref *refs;
	uint64_t pack_offset; /* where "PACK" begins */
	bool have_pack_header;
	uint32_t pack_version; /* with have_pack_header */
	uint32_t n_objects;    /* with have_pack_header: announced */
	uint32_t objects_seen; /* objects fully read so far */
	uint64_t max_object;   /* the largest object (inflated, deltas applied) so far */
	uint64_t inflated;     /* bytes inflated so far */
};

struct bundle_check;

/* *out is new; lim may be NULL (defaults). 0 or -ENOMEM. */
int bundle_check_new(const struct bundle_limits *lim, struct bundle_check **out);
/* NULL-safe. */
void bundle_check_free(struct bundle_check *c);
/* Back to the first byte, failure forgotten, limits kept. */
void bundle_check_reset(struct bundle_check *c);

/*
 * Feeds the next n bytes. BUNDLE_INCOMPLETE, BUNDLE_COMPLETE or -errno as
 * above; a reason is appended to err (may be NULL) on failure. Bytes after
 * a complete bundle are -EINVAL ("data after the pack's trailer").
 */
int bundle_check_feed(struct bundle_check *c, const void *p, size_t n, struct buf *err);

/*
 * Feeds fd's bytes from where the checker stands up to size (read with
 * pread, so fd's offset is not used or moved). The checker only reads
 * forward: when size is below what it already read, the file was cut and
 * it starts again from byte 0. A caller that overwrites bytes it already
 * fed must call bundle_check_reset itself. -EIO when a read fails or the
 * file is shorter than size.
 */
int bundle_check_fd(struct bundle_check *c, int fd, uint64_t size, struct buf *err);

/*
 * The last byte was written: 0 when the bundle is complete; else the
 * failure, or -EINVAL with "bundle ends early: ..." saying where.
 */
int bundle_check_finish(struct bundle_check *c, struct buf *err);

/* Bytes read so far. */
uint64_t bundle_check_offset(const struct bundle_check *c);

/* The header once its empty line was read (borrowed), else NULL. */
const struct bundle_header *bundle_check_header(const struct bundle_check *c);

/*
 * The commit a push of this bundle makes a branch's tip: the bundle must be
 * complete and carry exactly one ref, "HEAD" or a branch ("refs/heads/..."):
 * *tip (the ref's oid) and *ref (its name) are borrowed from c. -EINVAL with
 * a reason otherwise: incomplete, no ref, more than one ref ("bundle carries
 * 2 refs (HEAD, refs/heads/main); exactly one is needed"), a tag ("refs/
 * tags/v1 is a tag; only branches are pushed"), another kind of ref.
 */
int bundle_push_tip(const struct bundle_check *c, const char **tip, const char **ref,
		    struct buf *err);

/* True when s[0..n) is 40 lower-case hex digits. */
bool bundle_oid_valid(const char *s, size_t n);

#endif
