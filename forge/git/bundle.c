/*
 * git/bundle: the incremental bundle checker (see bundle.h).
 *
 * One state machine, fed bytes in order: the signature and header lines
 * are gathered a line at a time (bounded), the pack is walked entry by
 * entry (entry headers a byte at a time, the zlib data through one inflate
 * stream per object into a fixed scratch buffer), the pack's bytes are
 * hashed as they pass, and the trailer is compared with that hash. Nothing
 * is ever read twice, so checking a bundle written in a thousand pieces
 * costs what checking it whole does.
 */
#include "forge/git/bundle.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "forge/git/sha1.h"
#include "util/str.h"

#define SIG_V2 "# v2 git bundle"
#define SIG_V3 "# v3 git bundle"
#define SIG_LEN (sizeof(SIG_V2) - 1)
#define PACK_HEADER_LEN 12
#define SCRATCH_LEN 65536
/* The longest entry header: 10 size bytes, then 10 offset bytes or a 20-byte id. */
#define ENTRY_HEADER_MAX 30
/* A delta starts with two sizes of at most 10 bytes each. */
#define DELTA_HEAD_MAX 20
/* Untrusted text quoted in a reason is cut to this many bytes. */
#define QUOTE_MAX 64

enum phase {
	PH_SIG,
	PH_HEADER,
	PH_PACK_HEADER,
	PH_ENTRY_HEADER,
	PH_ENTRY_DATA,
	PH_TRAILER,
	PH_DONE,
	PH_FAILED,
};

enum obj_type {
	OBJ_COMMIT = 1,
	OBJ_TREE = 2,
	OBJ_BLOB = 3,
	OBJ_TAG = 4,
	OBJ_OFS_DELTA = 6,
	OBJ_REF_DELTA = 7,
};

struct bundle_check {
	struct bundle_limits lim;
	enum phase phase;
	uint64_t offset; /* bytes fed so far */

	/* The header. */
	struct buf line; /* the header line being gathered, without its LF */
	bool seen_format, seen_prereq, seen_ref;
	size_t cap_prereqs, cap_refs;
	struct bundle_header h;

	/* The failure, repeated by every later call. */
	int fail;
	struct buf why;

	/* The pack. */
	struct sha1_ctx sha;	 /* every pack byte before the trailer */
	unsigned char small[32]; /* pack header, entry header or trailer so far */
	size_t small_len;
	uint64_t entry_offset; /* the current entry's offset in the pack */
	unsigned type;	       /* the current entry's */
	uint64_t size;	       /* its declared (inflated) size */
	uint64_t out_len;      /* inflated so far */
	unsigned char delta_head[DELTA_HEAD_MAX];
	size_t delta_head_len;
	z_stream z;
	bool z_live;
	unsigned char *scratch; /* SCRATCH_LEN: inflate output, then pread input */
	unsigned char *readbuf; /* SCRATCH_LEN */
};

bool bundle_oid_valid(const char *s, size_t n)
{
	size_t i;

	if (n != BUNDLE_OID_HEX)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Untrusted bytes for a reason: escaped, cut to QUOTE_MAX, "..." when cut. */
static void quote(struct buf *out, const char *s, size_t n)
{
	size_t keep = str_utf8_floor(s, n < QUOTE_MAX ? n : QUOTE_MAX);

	/* The words of a reason: best effort (buf_note). */
	if (str_escape_log(out, s, keep) == 0 && keep < n)
		buf_note(out, "...");
}

static int failv(struct bundle_check *c, struct buf *err, int r, const char *fmt, va_list ap)
{
	buf_reset(&c->why);
	(void)!buf_vprintf(&c->why, fmt, ap); /* the reason: best effort */
	c->fail = r;
	c->phase = PH_FAILED;
	buf_note(err, "%s", buf_cstr(&c->why));
	return r;
}

static int failf(struct bundle_check *c, struct buf *err, int r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int failf(struct bundle_check *c, struct buf *err, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r = failv(c, err, r, fmt, ap);
	va_end(ap);
	return r;
}

/* Like failf, with untrusted text quoted where the format has "%s". */
static int fail_quoting(struct bundle_check *c, struct buf *err, int r, const char *fmt,
			const char *s, size_t n)
{
	struct buf q = BUF_INIT(4 * QUOTE_MAX + 8);

	quote(&q, s, n);
	r = failf(c, err, r, fmt, buf_cstr(&q));
	buf_release(&q);
	return r;
}

static void release_header(struct bundle_header *h)
{
	size_t i;

	for (i = 0; i < h->n_refs; i++)
		free(h->refs[i].name);
	free(h->refs);
	free(h->prereqs);
	memset(h, 0, sizeof(*h));
}

static void end_inflate(struct bundle_check *c)
{
	if (c->z_live)
		inflateEnd(&c->z);
	c->z_live = false;
}

int bundle_check_new(const struct bundle_limits *lim, struct bundle_check **out)
{
	struct bundle_check *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->scratch = malloc(SCRATCH_LEN);
	c->readbuf = malloc(SCRATCH_LEN);
	if (!c->scratch || !c->readbuf) {
		bundle_check_free(c);
		return -ENOMEM;
	}
	if (lim)
		c->lim = *lim;
	if (!c->lim.max_bundle)
		c->lim.max_bundle = BUNDLE_MAX_DEFAULT;
	if (!c->lim.max_object)
		c->lim.max_object = BUNDLE_MAX_OBJECT_DEFAULT;
	if (!c->lim.max_inflated)
		c->lim.max_inflated =
		    c->lim.max_bundle > UINT64_MAX / 8 ? UINT64_MAX : 8 * c->lim.max_bundle;
	buf_init(&c->line, BUNDLE_MAX_LINE);
	buf_init(&c->why, 512);
	c->phase = PH_SIG;
	*out = c;
	return 0;
}

void bundle_check_free(struct bundle_check *c)
{
	if (!c)
		return;
	end_inflate(c);
	release_header(&c->h);
	buf_release(&c->line);
	buf_release(&c->why);
	free(c->scratch);
	free(c->readbuf);
	free(c);
}

void bundle_check_reset(struct bundle_check *c)
{
	end_inflate(c);
	release_header(&c->h);
	buf_reset(&c->line);
	buf_reset(&c->why);
	c->seen_format = c->seen_prereq = c->seen_ref = false;
	c->cap_prereqs = c->cap_refs = 0;
	c->fail = 0;
	c->offset = 0;
	c->small_len = 0;
	c->phase = PH_SIG;
}

uint64_t bundle_check_offset(const struct bundle_check *c)
{
	return c->offset;
}

const struct bundle_header *bundle_check_header(const struct bundle_check *c)
{
	return c->phase >= PH_PACK_HEADER && c->phase != PH_FAILED ? &c->h : NULL;
}

/* ---- the header --------------------------------------------------------- */

/*
 * A ref name git would write: "HEAD", or "refs/" and a name that passes
 * check-ref-format (the branch rules apply to every component path).
 */
static bool refname_valid(const char *s, size_t n)
{
	if (n == 4 && memcmp(s, "HEAD", 4) == 0)
		return true;
	return n > 5 && memcmp(s, "refs/", 5) == 0 && str_branch_name_valid(s + 5, n - 5);
}

static int capability(struct bundle_check *c, const char *s, size_t n, struct buf *err)
{
	static const char fmt[] = "object-format=";
	const size_t fl = sizeof(fmt) - 1;
	size_t i;

	if (c->h.version != 3)
		return fail_quoting(c, err, -EINVAL, "bundle v2 cannot have capability line '%s'",
				    s, n);
	if (c->seen_prereq || c->seen_ref)
		return fail_quoting(c, err, -EINVAL,
				    "bundle capability '%s' comes after a prerequisite or a ref", s,
				    n);
	for (i = 1; i < n && s[i] != '='; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return fail_quoting(c, err, -EINVAL, "bundle capability '%s' is malformed",
					    s, n);
	if (i == 1)
		return fail_quoting(c, err, -EINVAL, "bundle capability '%s' has no name", s, n);
	if (n - 1 >= fl && memcmp(s + 1, fmt, fl) == 0) {
		if (c->seen_format)
			return failf(c, err, -EINVAL, "bundle names its object format twice");
		c->seen_format = true;
		if (n - 1 - fl == 4 && memcmp(s + 1 + fl, "sha1", 4) == 0)
			return 0;
		return fail_quoting(c, err, -EINVAL,
				    "bundle uses object format '%s'; only sha1 is supported",
				    s + 1 + fl, n - 1 - fl);
	}
	if (i == 7 && memcmp(s + 1, "filter", 6) == 0)
		return failf(
		    c, err, -EINVAL,
		    "bundle is filtered (a partial bundle); only whole bundles are pushed");
	return fail_quoting(c, err, -EINVAL, "bundle has unknown capability '%s'", s + 1, n - 1);
}

static int prerequisite(struct bundle_check *c, const char *s, size_t n, struct buf *err)
{
	if (c->seen_ref)
		return failf(c, err, -EINVAL, "bundle lists a prerequisite after a ref");
	if (n < 1 + BUNDLE_OID_HEX || !bundle_oid_valid(s + 1, BUNDLE_OID_HEX) ||
	    (n > 1 + BUNDLE_OID_HEX && s[1 + BUNDLE_OID_HEX] != ' '))
		return fail_quoting(c, err, -EINVAL, "bundle prerequisite '%s' is malformed", s, n);
	if (c->h.n_prereqs == BUNDLE_MAX_PREREQS)
		return failf(c, err, -EINVAL, "bundle has more than %d prerequisites",
			     BUNDLE_MAX_PREREQS);
	if (c->h.n_prereqs == c->cap_prereqs) {
		size_t cap = c->cap_prereqs ? 2 * c->cap_prereqs : 4;
		void *v = realloc(c->h.prereqs, cap * sizeof(*c->h.prereqs));

		if (!v)
			return failf(c, err, -ENOMEM, "out of memory");
		c->h.prereqs = v;
		c->cap_prereqs = cap;
	}
	memcpy(c->h.prereqs[c->h.n_prereqs], s + 1, BUNDLE_OID_HEX);
	c->h.prereqs[c->h.n_prereqs][BUNDLE_OID_HEX] = '\0';
	c->h.n_prereqs++;
	c->seen_prereq = true;
	return 0;
}

static int reference(struct bundle_check *c, const char *s, size_t n, struct buf *err)
{
	struct bundle_ref *r;
	const char *name = s + BUNDLE_OID_HEX + 1;
	size_t nn = n > BUNDLE_OID_HEX + 1 ? n - BUNDLE_OID_HEX - 1 : 0;

	if (n <= BUNDLE_OID_HEX + 1 || !bundle_oid_valid(s, BUNDLE_OID_HEX) ||
	    s[BUNDLE_OID_HEX] != ' ')
		return fail_quoting(c, err, -EINVAL,
				    "bundle header line '%s' is not a prerequisite or a ref", s, n);
	if (!refname_valid(name, nn))
		return fail_quoting(c, err, -EINVAL, "bundle ref name '%s' is not valid", name, nn);
	if (c->h.n_refs == BUNDLE_MAX_REFS)
		return failf(c, err, -EINVAL, "bundle carries more than %d refs", BUNDLE_MAX_REFS);
	if (c->h.n_refs == c->cap_refs) {
		size_t cap = c->cap_refs ? 2 * c->cap_refs : 2;
		void *v = realloc(c->h.refs, cap * sizeof(*c->h.refs));

		if (!v)
			return failf(c, err, -ENOMEM, "out of memory");
		c->h.refs = v;
		c->cap_refs = cap;
	}
	r = &c->h.refs[c->h.n_refs];
	r->name = strndup(name, nn);
	if (!r->name)
		return failf(c, err, -ENOMEM, "out of memory");
	memcpy(r->oid, s, BUNDLE_OID_HEX);
	r->oid[BUNDLE_OID_HEX] = '\0';
	c->h.n_refs++;
	c->seen_ref = true;
	return 0;
}

/* One whole header line, without its LF. */
static int header_line(struct bundle_check *c, const char *s, size_t n, struct buf *err)
{
	if (memchr(s, '\0', n))
		return failf(c, err, -EINVAL, "bundle header holds a NUL byte");
	if (n == 0) {
		c->phase = PH_PACK_HEADER;
		c->h.pack_offset = c->offset;
		c->small_len = 0;
		sha1_init(&c->sha);
		return 0;
	}
	if (s[0] == '-')
		return prerequisite(c, s, n, err);
	/* CR is allowed in a prerequisite's comment only (a commit subject). */
	if (memchr(s, '\r', n))
		return fail_quoting(c, err, -EINVAL, "bundle header line '%s' holds a CR", s, n);
	if (s[0] == '@')
		return capability(c, s, n, err);
	return reference(c, s, n, err);
}

/*
 * Header bytes: gathered into lines; returns how many of p[0..n) were used
 * (the rest belongs to the pack) or -errno.
 */
static ssize_t feed_header(struct bundle_check *c, const unsigned char *p, size_t n,
			   struct buf *err)
{
	size_t used = 0;

	while (used < n && (c->phase == PH_SIG || c->phase == PH_HEADER)) {
		const unsigned char *nl = memchr(p + used, '\n', n - used);
		size_t take = nl ? (size_t)(nl - (p + used)) : n - used;
		int r;

		if (c->offset + take >= BUNDLE_MAX_HEADER)
			return failf(c, err, -EINVAL, "bundle header is longer than %zu bytes",
				     BUNDLE_MAX_HEADER);
		r = buf_append(&c->line, p + used, take);
		if (r == -E2BIG)
			return failf(c, err, -EINVAL, "bundle header line is longer than %d bytes",
				     BUNDLE_MAX_LINE);
		if (r < 0)
			return failf(c, err, r, "out of memory");
		c->offset += take;
		used += take;
		if (c->phase == PH_SIG) {
			size_t k = c->line.len < SIG_LEN ? c->line.len : SIG_LEN;

			/* Refuse garbage at once, not after a line's worth of it. */
			if (c->line.len > SIG_LEN || (k && memcmp(c->line.data, SIG_V2, k) != 0 &&
						      memcmp(c->line.data, SIG_V3, k) != 0))
				return failf(c, err, -EINVAL,
					     "not a git bundle (no v2 or v3 "
					     "signature)");
		}
		if (!nl)
			break;
		used++;
		c->offset++;
		if (c->phase == PH_SIG) {
			if (c->line.len != SIG_LEN)
				return failf(c, err, -EINVAL,
					     "not a git bundle (no v2 or v3 "
					     "signature)");
			c->h.version = c->line.data[3] == '3' ? 3 : 2;
			c->phase = PH_HEADER;
			r = 0;
		} else {
			r = header_line(c, c->line.len ? c->line.data : "", c->line.len, err);
		}
		buf_reset(&c->line);
		if (r < 0)
			return r;
	}
	return (ssize_t)used;
}

/* ---- the pack ----------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The pack header so far (small_len bytes): each part is judged as soon as it is there. */
static int pack_header(struct bundle_check *c, struct buf *err)
{
	const unsigned char *p = c->small;
	uint64_t room;
	uint32_t version;

	if (memcmp(p, "PACK", c->small_len < 4 ? c->small_len : 4) != 0)
		return failf(c, err, -EINVAL, "bundle has no pack after its header");
	if (c->small_len < 8)
		return 0;
	version = be32(p + 4);
	if (version != 2 && version != 3)
		return failf(c, err, -EINVAL, "pack version %u is not 2 or 3", (unsigned)version);
	if (c->small_len < PACK_HEADER_LEN)
		return 0;
	c->h.pack_version = version;
	c->h.n_objects = be32(p + 8);
	c->h.have_pack_header = true;
	/* Objects the bundle cap could hold at all: a count beyond is a lie or too big. */
	room =
	    c->lim.max_bundle > c->offset + SHA1_LEN ? c->lim.max_bundle - c->offset - SHA1_LEN : 0;
	if (c->h.n_objects > room / BUNDLE_MIN_ENTRY)
		return failf(c, err, -EFBIG,
			     "pack announces %u objects, more than a bundle of at most %llu bytes "
			     "can hold",
			     (unsigned)c->h.n_objects, (unsigned long long)c->lim.max_bundle);
	c->small_len = 0;
	c->entry_offset = PACK_HEADER_LEN;
	c->phase = c->h.n_objects ? PH_ENTRY_HEADER : PH_TRAILER;
	return 0;
}

/*
 * Tries to read the entry header in small[0..small_len): 1 when whole
 * (type and size set), 0 when more bytes are needed, -errno.
 */
static int entry_header(struct bundle_check *c, struct buf *err)
{
	const unsigned char *p = c->small;
	size_t i = 1, n = c->small_len;
	unsigned shift = 4;
	uint64_t size;
	unsigned char b = p[0];
	uint32_t obj = c->h.objects_seen + 1;

	c->type = (b >> 4) & 7;
	if (c->type == 0 || c->type == 5)
		return failf(c, err, -EINVAL, "pack object %u has invalid type %u", (unsigned)obj,
			     c->type);
	size = b & 15;
	while (b & 0x80) {
		if (i >= n)
			return 0;
		if (shift > 57)
			return failf(c, err, -EINVAL, "pack object %u has a size header too long",
				     (unsigned)obj);
		b = p[i++];
		size += (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	}
	if (c->type == OBJ_OFS_DELTA) {
		uint64_t ofs;

		if (i >= n)
			return 0;
		b = p[i++];
		ofs = b & 0x7f;
		while (b & 0x80) {
			if (i >= n)
				return 0;
			ofs += 1;
			if (ofs >> 57)
				return failf(c, err, -EINVAL,
					     "pack object %u has a bad delta offset",
					     (unsigned)obj);
			b = p[i++];
			ofs = (ofs << 7) + (b & 0x7f);
		}
		if (ofs == 0 || ofs > c->entry_offset - PACK_HEADER_LEN)
			return failf(c, err, -EINVAL,
				     "pack object %u is a delta against an offset outside the pack",
				     (unsigned)obj);
	} else if (c->type == OBJ_REF_DELTA) {
		if (n < i + SHA1_LEN)
			return 0;
		i += SHA1_LEN;
	}
	if (i != n)
		return failf(c, err, -EINVAL, "pack object %u has a malformed header",
			     (unsigned)obj);
	c->size = size;
	if (c->type == OBJ_OFS_DELTA || c->type == OBJ_REF_DELTA) {
		/*
		 * A delta is its two sizes (at most 20 bytes) and instructions
		 * that each make at least one byte and take at most 8 (a copy
		 * of one byte: command, 4 offset bytes, 3 size bytes): one of d
		 * bytes makes at least (d - 20) / 8, so a larger one is refused
		 * before it is inflated.
		 */
		if (size / 8 > c->lim.max_object + DELTA_HEAD_MAX)
			return failf(c, err, -EFBIG,
				     "pack object %u is a delta of %llu bytes, too large for an "
				     "object of at most %llu",
				     (unsigned)obj, (unsigned long long)size,
				     (unsigned long long)c->lim.max_object);
	} else if (size > c->lim.max_object) {
		return failf(c, err, -EFBIG,
			     "pack object %u is %llu bytes, over the cap of %llu bytes an object",
			     (unsigned)obj, (unsigned long long)size,
			     (unsigned long long)c->lim.max_object);
	} else if (size > c->h.max_object) {
		c->h.max_object = size;
	}
	return 1;
}

/* A git varint of a delta's header (7 bits a byte, least significant first). */
static int delta_size(const unsigned char *p, size_t n, size_t *pos, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	unsigned char b;

	do {
		if (*pos >= n || shift > 63)
			return -1;
		b = p[(*pos)++];
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	*out = v;
	return 0;
}

/* The current object's zlib stream ended. */
static int entry_done(struct bundle_check *c, struct buf *err)
{
	uint32_t obj = c->h.objects_seen + 1;

	end_inflate(c);
	if (c->out_len != c->size)
		return failf(c, err, -EINVAL,
			     "pack object %u inflates to %llu bytes, not the %llu its header "
			     "declares",
			     (unsigned)obj, (unsigned long long)c->out_len,
			     (unsigned long long)c->size);
	if (c->type == OBJ_OFS_DELTA || c->type == OBJ_REF_DELTA) {
		size_t pos = 0;
		uint64_t base, result;

		if (delta_size(c->delta_head, c->delta_head_len, &pos, &base) < 0 ||
		    delta_size(c->delta_head, c->delta_head_len, &pos, &result) < 0)
			return failf(c, err, -EINVAL, "pack object %u is a malformed delta",
				     (unsigned)obj);
		if (result > c->lim.max_object)
			return failf(c, err, -EFBIG,
				     "pack object %u is %llu bytes, over the cap of %llu bytes an "
				     "object",
				     (unsigned)obj, (unsigned long long)result,
				     (unsigned long long)c->lim.max_object);
		if (result > c->h.max_object)
			c->h.max_object = result;
	}
	c->h.objects_seen++;
	c->small_len = 0;
	c->phase = c->h.objects_seen == c->h.n_objects ? PH_TRAILER : PH_ENTRY_HEADER;
	return 0;
}

/* zlib data of the current object; returns how many of p[0..n) it used. */
static ssize_t feed_data(struct bundle_check *c, const unsigned char *p, size_t n, struct buf *err)
{
	uint32_t obj = c->h.objects_seen + 1;
	z_stream *z = &c->z;
	int zr;

	n = n < ((size_t)1 << 30) ? n : (size_t)1 << 30; /* what avail_in can hold */
	z->next_in = (unsigned char *)p;
	z->avail_in = (uInt)n;
	for (;;) {
		size_t made;

		z->next_out = c->scratch;
		z->avail_out = SCRATCH_LEN;
		zr = inflate(z, Z_NO_FLUSH);
		made = SCRATCH_LEN - z->avail_out;
		if (made && c->delta_head_len < DELTA_HEAD_MAX) {
			size_t k = DELTA_HEAD_MAX - c->delta_head_len;

			k = k < made ? k : made;
			memcpy(c->delta_head + c->delta_head_len, c->scratch, k);
			c->delta_head_len += k;
		}
		c->out_len += made;
		c->h.inflated += made;
		if (c->out_len > c->size)
			return failf(c, err, -EINVAL,
				     "pack object %u inflates past the %llu bytes its header "
				     "declares",
				     (unsigned)obj, (unsigned long long)c->size);
		if (c->h.inflated > c->lim.max_inflated)
			return failf(c, err, -EFBIG,
				     "the bundle's objects inflate to more than %llu bytes",
				     (unsigned long long)c->lim.max_inflated);
		if (zr == Z_STREAM_END)
			break;
		if (zr == Z_BUF_ERROR || (zr == Z_OK && z->avail_in == 0 && z->avail_out != 0))
			break; /* needs more input */
		if (zr != Z_OK)
			return failf(c, err, -EINVAL, "pack object %u holds corrupt zlib data",
				     (unsigned)obj);
	}
	n -= z->avail_in;
	sha1_update(&c->sha, p, n);
	c->offset += n;
	if (zr == Z_STREAM_END) {
		int r = entry_done(c, err);

		if (r < 0)
			return r;
	}
	return (ssize_t)n;
}

static int start_entry(struct bundle_check *c, struct buf *err)
{
	memset(&c->z, 0, sizeof(c->z));
	if (inflateInit(&c->z) != Z_OK)
		return failf(c, err, -ENOMEM, "out of memory");
	c->z_live = true;
	c->out_len = 0;
	c->delta_head_len = 0;
	c->phase = PH_ENTRY_DATA;
	return 0;
}

static ssize_t feed_pack(struct bundle_check *c, const unsigned char *p, size_t n, struct buf *err)
{
	size_t used = 0;
	int r;

	while (used < n) {
		switch (c->phase) {
		case PH_PACK_HEADER: {
			size_t k = PACK_HEADER_LEN - c->small_len;

			k = k < n - used ? k : n - used;
			memcpy(c->small + c->small_len, p + used, k);
			sha1_update(&c->sha, p + used, k);
			c->small_len += k;
			c->offset += k;
			used += k;
			if ((r = pack_header(c, err)) < 0)
				return r;
			break;
		}
		case PH_ENTRY_HEADER:
			if (c->small_len == 0)
				c->entry_offset = c->offset - c->h.pack_offset;
			if (c->small_len == ENTRY_HEADER_MAX)
				return failf(c, err, -EINVAL,
					     "pack object %u has a malformed header",
					     (unsigned)(c->h.objects_seen + 1));
			c->small[c->small_len++] = p[used];
			sha1_update(&c->sha, p + used, 1);
			c->offset++;
			used++;
			r = entry_header(c, err);
			if (r < 0)
				return r;
			if (r == 1 && (r = start_entry(c, err)) < 0)
				return r;
			break;
		case PH_ENTRY_DATA: {
			ssize_t k = feed_data(c, p + used, n - used, err);

			if (k < 0)
				return (int)k;
			if (k == 0 && c->phase == PH_ENTRY_DATA)
				return failf(c, err, -EINVAL,
					     "pack object %u: zlib made no progress",
					     (unsigned)(c->h.objects_seen + 1));
			used += (size_t)k;
			break;
		}
		case PH_TRAILER: {
			size_t k = SHA1_LEN - c->small_len;
			unsigned char want[SHA1_LEN];
			struct sha1_ctx end;

			k = k < n - used ? k : n - used;
			memcpy(c->small + c->small_len, p + used, k);
			c->small_len += k;
			c->offset += k;
			used += k;
			if (c->small_len < SHA1_LEN)
				break;
			end = c->sha;
			sha1_final(&end, want);
			if (memcmp(want, c->small, SHA1_LEN) != 0)
				return failf(c, err, -EINVAL,
					     "pack checksum does not match its contents");
			c->phase = PH_DONE;
			break;
		}
		case PH_DONE:
			return failf(c, err, -EINVAL, "data after the pack's trailer");
		default:
			return failf(c, err, -EINVAL, "internal: bad phase");
		}
	}
	return (ssize_t)used;
}

int bundle_check_feed(struct bundle_check *c, const void *data, size_t n, struct buf *err)
{
	const unsigned char *p = data;

	if (c->phase == PH_FAILED) {
		if (err)
			buf_note(err, "%s", buf_cstr(&c->why));
		return c->fail;
	}
	if (n > c->lim.max_bundle || c->offset > c->lim.max_bundle - n)
		return failf(c, err, -EFBIG, "bundle is larger than the cap of %llu bytes",
			     (unsigned long long)c->lim.max_bundle);
	while (n) {
		ssize_t k;

		if (c->phase == PH_SIG || c->phase == PH_HEADER)
			k = feed_header(c, p, n, err);
		else
			k = feed_pack(c, p, n, err);
		if (k < 0)
			return (int)k;
		p += k;
		n -= (size_t)k;
	}
	return c->phase == PH_DONE ? BUNDLE_COMPLETE : BUNDLE_INCOMPLETE;
}

int bundle_check_fd(struct bundle_check *c, int fd, uint64_t size, struct buf *err)
{
	int r = c->phase == PH_DONE ? BUNDLE_COMPLETE : BUNDLE_INCOMPLETE;

	if (c->phase == PH_FAILED)
		return bundle_check_feed(c, "", 0, err);
	if (size < c->offset)
		bundle_check_reset(c);
	while (c->offset < size) {
		uint64_t want = size - c->offset;
		ssize_t got = pread(fd, c->readbuf, want < SCRATCH_LEN ? (size_t)want : SCRATCH_LEN,
				    (off_t)c->offset);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return buf_fail(err, -EIO, "reading the bundle at byte %llu: %s",
					(unsigned long long)c->offset,
					got < 0 ? strerror(errno) : "the file is shorter");
		r = bundle_check_feed(c, c->readbuf, (size_t)got, err);
		if (r < 0)
			return r;
	}
	return r;
}

int bundle_check_finish(struct bundle_check *c, struct buf *err)
{
	const struct bundle_header *h = &c->h;

	switch (c->phase) {
	case PH_DONE:
		return 0;
	case PH_FAILED:
		return bundle_check_feed(c, "", 0, err);
	case PH_SIG:
		return failf(c, err, -EINVAL, "bundle ends early: %s",
			     c->offset ? "in its signature" : "it is empty");
	case PH_HEADER:
		return failf(c, err, -EINVAL, "bundle ends early: in its header");
	case PH_PACK_HEADER:
		return failf(c, err, -EINVAL, "bundle ends early: before its pack");
	case PH_TRAILER:
		return failf(c, err, -EINVAL, "bundle ends early: in the pack's trailer");
	default:
		return failf(c, err, -EINVAL, "bundle ends early: after %u of %u objects",
			     (unsigned)h->objects_seen, (unsigned)h->n_objects);
	}
}

int bundle_push_tip(const struct bundle_check *c, const char **tip, const char **ref,
		    struct buf *err)
{
	const struct bundle_header *h = &c->h;
	const char *name;
	size_t i;

	if (c->phase != PH_DONE)
		return buf_fail(err, -EINVAL, "bundle is not complete");
	if (h->n_refs == 0)
		return buf_fail(err, -EINVAL, "bundle carries no ref; exactly one is needed");
	if (h->n_refs > 1) {
		if (err) {
			buf_note(err, "bundle carries %zu refs (", h->n_refs);
			for (i = 0; i < h->n_refs && i < 3; i++) {
				if (i)
					buf_note(err, "%s", ", ");
				quote(err, h->refs[i].name, strlen(h->refs[i].name));
			}
			buf_note(err, "%s",
				 h->n_refs > 3 ? ", ...); exactly one is needed"
					       : "); exactly one is needed");
		}
		return -EINVAL;
	}
	name = h->refs[0].name;
	if (strncmp(name, "refs/tags/", 10) == 0) {
		if (err) {
			quote(err, name, strlen(name));
			buf_note(err, "%s", " is a tag; only branches are pushed");
		}
		return -EINVAL;
	}
	if (strcmp(name, "HEAD") != 0 && strncmp(name, "refs/heads/", 11) != 0) {
		if (err) {
			quote(err, name, strlen(name));
			buf_note(err, "%s",
				 " is not a branch; a bundle to push carries HEAD or "
				 "refs/heads/<name>");
		}
		return -EINVAL;
	}
	*tip = h->refs[0].oid;
	*ref = name;
	return 0;
}
