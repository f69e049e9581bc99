/*
 * Unit tests of forge/git/bundle.c: bundles made by the real `git bundle
 * create` (v2 and v3, whole and thin), cut at every byte, fed in pieces,
 * corrupted, and hand-made headers for every refusal.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "forge/git/bundle.h"
#include "forge/git/sha1.h"

/* Building test input cannot fail quietly. */
#define OK(x) assert_int_equal((x), 0)

static char tmp[] = "/tmp/bfs-bundle-XXXXXX";

/* The largest object of the test repository: the changed big file. */
#define BIG 8901

/* Runs a shell command in tmp with git's user settings isolated; asserts it worked. */
static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	struct buf cmd = BUF_INIT(1 << 16);
	va_list ap;
	int rc;

	OK(buf_printf(&cmd,
		      "cd '%s' && export HOME='%s' GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t "
		      "GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t "
		      "GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' "
		      "GIT_COMMITTER_DATE='2020-01-01T00:00:00Z' && (",
		      tmp, tmp));
	va_start(ap, fmt);
	OK(buf_vprintf(&cmd, fmt, ap));
	va_end(ap);
	OK(buf_puts(&cmd, ") >/dev/null 2>&1"));
	rc = system(buf_cstr(&cmd));
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, buf_cstr(&cmd));
	buf_release(&cmd);
}

/* The output of a shell command in tmp, trailing newline dropped (new). */
static char *sh_out(const char *cmd)
{
	struct buf b = BUF_INIT(1 << 20);
	char chunk[4096];
	size_t n;
	FILE *p;

	OK(buf_printf(&b, "cd '%s' && %s", tmp, cmd));
	p = popen(buf_cstr(&b), "r");
	assert_non_null(p);
	buf_reset(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		OK(buf_append(&b, chunk, n));
	assert_int_equal(pclose(p), 0);
	while (b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	return buf_steal(&b, NULL);
}

struct blob {
	unsigned char *p;
	size_t n;
};

static struct blob slurp(const char *name)
{
	struct buf path = BUF_INIT(4096), b = BUF_INIT((size_t)1 << 30);
	struct blob out;
	char chunk[65536];
	ssize_t n;
	int fd;

	OK(buf_printf(&path, "%s/%s", tmp, name));
	fd = open(buf_cstr(&path), O_RDONLY);
	assert_true(fd >= 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		OK(buf_append(&b, chunk, (size_t)n));
	close(fd);
	buf_release(&path);
	out.p = (unsigned char *)buf_steal(&b, &out.n);
	return out;
}

/* Feeds p[0..n) whole to a fresh checker with lim; returns the answer, reason in why. */
static int check_lim(const void *p, size_t n, const struct bundle_limits *lim, struct buf *why)
{
	struct bundle_check *c;
	int r;

	assert_int_equal(bundle_check_new(lim, &c), 0);
	r = bundle_check_feed(c, p, n, why);
	bundle_check_free(c);
	return r;
}

static int check(const void *p, size_t n, struct buf *why)
{
	return check_lim(p, n, NULL, why);
}

static int check_str(const char *s, struct buf *why)
{
	return check(s, strlen(s), why);
}

#define assert_has(b, s)                                                                           \
	do {                                                                                       \
		if (!strstr(buf_cstr(b), (s)))                                                     \
			fail_msg("reason '%s' lacks '%s'", buf_cstr(b), (s));                      \
	} while (0)

/* Bundles made once for every test. */
static struct blob full_v2, thin_v3, two_refs, tag, sha256;
static char *main_oid, *main1_oid, *tag_oid;
static unsigned long n_objects_full;

static int setup(void **state)
{
	char *n;

	(void)state;
	assert_non_null(mkdtemp(tmp));
	/* A repository whose second commit changes a large file a little: a thin delta. */
	sh("git init -q -b main r && cd r && echo one > a && git add a && git commit -q -m one "
	   "&& seq 1 2000 > big && git add big && git commit -q -m two && sed -i "
	   "'s/^1000$/one thousand/' big && git commit -q -am three && git tag -a -m v1 v1");
	sh("cd r && git bundle create ../full_v2.bundle main");
	sh("cd r && git bundle create --version=3 ../thin_v3.bundle main~1..main");
	sh("cd r && git bundle create ../two.bundle HEAD main");
	sh("cd r && git bundle create ../tag.bundle v1");
	sh("git init -q --object-format=sha256 s && cd s && git commit -q --allow-empty -m x && "
	   "git bundle create ../sha256.bundle HEAD");
	full_v2 = slurp("full_v2.bundle");
	thin_v3 = slurp("thin_v3.bundle");
	two_refs = slurp("two.bundle");
	tag = slurp("tag.bundle");
	sha256 = slurp("sha256.bundle");
	main_oid = sh_out("git -C r rev-parse main");
	main1_oid = sh_out("git -C r rev-parse main~1");
	tag_oid = sh_out("git -C r rev-parse v1");
	n = sh_out("git -C r rev-list --objects main | wc -l");
	n_objects_full = strtoul(n, NULL, 10);
	free(n);
	return 0;
}

static int teardown(void **state)
{
	struct buf cmd = BUF_INIT(4096);

	(void)state;
	OK(buf_printf(&cmd, "rm -rf '%s'", tmp));
	assert_int_equal(system(buf_cstr(&cmd)), 0);
	buf_release(&cmd);
	free(full_v2.p);
	free(thin_v3.p);
	free(two_refs.p);
	free(tag.p);
	free(sha256.p);
	free(main_oid);
	free(main1_oid);
	free(tag_oid);
	return 0;
}

static void test_sha1_vectors(void **state)
{
	struct sha1_ctx c;
	unsigned char d[SHA1_LEN];
	char hex[41];
	char million[1001];
	int i;

	(void)state;
	sha1_init(&c);
	sha1_update(&c, "abc", 3);
	sha1_final(&c, d);
	sha1_hex(d, hex);
	assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	sha1_init(&c);
	sha1_final(&c, d);
	sha1_hex(d, hex);
	assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	/* A million 'a's in uneven pieces (FIPS 180 example). */
	memset(million, 'a', sizeof(million));
	sha1_init(&c);
	for (i = 0; i < 1000; i++)
		sha1_update(&c, million, i % 2 ? 999 : 1001);
	sha1_final(&c, d);
	sha1_hex(d, hex);
	assert_string_equal(hex, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void test_full_v2_complete(void **state)
{
	struct bundle_check *c;
	const struct bundle_header *h;
	const char *tip, *ref;
	struct buf why = BUF_INIT(4096);

	(void)state;
	assert_int_equal(bundle_check_new(NULL, &c), 0);
	assert_null(bundle_check_header(c));
	assert_int_equal(bundle_check_feed(c, full_v2.p, full_v2.n, &why), BUNDLE_COMPLETE);
	assert_int_equal(bundle_check_finish(c, &why), 0);
	h = bundle_check_header(c);
	assert_non_null(h);
	assert_int_equal(h->version, 2);
	assert_int_equal(h->n_prereqs, 0);
	assert_int_equal(h->n_refs, 1);
	assert_string_equal(h->refs[0].name, "refs/heads/main");
	assert_string_equal(h->refs[0].oid, main_oid);
	assert_int_equal(h->n_objects, n_objects_full);
	assert_int_equal(h->objects_seen, n_objects_full);
	/* The changed big file (seq 1 2000 is 8893 bytes; +8) is the largest object. */
	assert_int_equal(h->max_object, BIG);
	assert_int_equal(bundle_check_offset(c), full_v2.n);
	assert_int_equal(bundle_push_tip(c, &tip, &ref, &why), 0);
	assert_string_equal(tip, main_oid);
	assert_string_equal(ref, "refs/heads/main");
	assert_int_equal(why.len, 0);
	bundle_check_free(c);
	buf_release(&why);
}

static void test_thin_v3_prerequisite(void **state)
{
	struct bundle_check *c;
	const struct bundle_header *h;
	struct buf why = BUF_INIT(4096);

	(void)state;
	assert_int_equal(bundle_check_new(NULL, &c), 0);
	assert_int_equal(bundle_check_feed(c, thin_v3.p, thin_v3.n, &why), BUNDLE_COMPLETE);
	h = bundle_check_header(c);
	assert_int_equal(h->version, 3);
	assert_int_equal(h->n_prereqs, 1);
	assert_string_equal(h->prereqs[0], main1_oid);
	assert_int_equal(h->n_refs, 1);
	assert_string_equal(h->refs[0].oid, main_oid);
	/*
	 * The changed file is a delta (the bundle is far smaller than the
	 * file compressed) whose result is the whole file.
	 */
	assert_true(thin_v3.n < 1000);
	assert_int_equal(h->max_object, BIG);
	bundle_check_free(c);
	buf_release(&why);
}

/* Every prefix is incomplete (never an error); only the whole is complete. */
static void every_prefix(const struct blob *b)
{
	struct buf why = BUF_INIT(4096);
	size_t cut;

	for (cut = 0; cut < b->n; cut++) {
		struct bundle_check *c;

		assert_int_equal(bundle_check_new(NULL, &c), 0);
		if (bundle_check_feed(c, b->p, cut, &why) != BUNDLE_INCOMPLETE)
			fail_msg("prefix of %zu of %zu bytes: %s", cut, b->n, buf_cstr(&why));
		assert_int_equal(bundle_check_finish(c, &why), -EINVAL);
		assert_has(&why, "bundle ends early");
		buf_reset(&why);
		bundle_check_free(c);
	}
	buf_release(&why);
}

static void test_every_prefix_v2(void **state)
{
	(void)state;
	every_prefix(&full_v2);
}

static void test_every_prefix_v3(void **state)
{
	(void)state;
	every_prefix(&thin_v3);
}

/* Byte by byte, and in uneven pieces: complete exactly at the last byte. */
static void test_pieces(void **state)
{
	struct bundle_check *c;
	struct buf why = BUF_INIT(4096);
	size_t i, step;

	(void)state;
	assert_int_equal(bundle_check_new(NULL, &c), 0);
	for (i = 0; i + 1 < full_v2.n; i++)
		assert_int_equal(bundle_check_feed(c, full_v2.p + i, 1, &why), BUNDLE_INCOMPLETE);
	assert_int_equal(bundle_check_feed(c, full_v2.p + i, 1, &why), BUNDLE_COMPLETE);
	for (step = 2; step < 700; step += 97) {
		bundle_check_reset(c);
		for (i = 0; i < thin_v3.n; i += step) {
			size_t k = thin_v3.n - i < step ? thin_v3.n - i : step;
			int r = bundle_check_feed(c, thin_v3.p + i, k, &why);

			assert_int_equal(r,
					 i + k == thin_v3.n ? BUNDLE_COMPLETE : BUNDLE_INCOMPLETE);
		}
	}
	bundle_check_free(c);
	buf_release(&why);
}

/* As git writes it: the header, then the pack appended to the same file. */
static void test_growing_file(void **state)
{
	struct bundle_check *c;
	struct buf why = BUF_INIT(4096), path = BUF_INIT(4096);
	const struct bundle_header *h;
	size_t head;
	int fd;

	(void)state;
	OK(buf_printf(&path, "%s/spool", tmp));
	fd = open(buf_cstr(&path), O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(bundle_check_new(NULL, &c), 0);
	head =
	    (size_t)((unsigned char *)memmem(thin_v3.p, thin_v3.n, "\n\nPACK", 6) - thin_v3.p) + 2;
	assert_int_equal(write(fd, thin_v3.p, head), (ssize_t)head);
	assert_int_equal(bundle_check_fd(c, fd, head, &why), BUNDLE_INCOMPLETE);
	h = bundle_check_header(c);
	assert_non_null(h);
	assert_int_equal(h->pack_offset, head);
	assert_false(h->have_pack_header);
	assert_int_equal(write(fd, thin_v3.p + head, 100), 100);
	assert_int_equal(bundle_check_fd(c, fd, head + 100, &why), BUNDLE_INCOMPLETE);
	/* The file was cut (rewritten from the start): the checker starts over. */
	assert_int_equal(ftruncate(fd, 10), 0);
	assert_int_equal(bundle_check_fd(c, fd, 10, &why), BUNDLE_INCOMPLETE);
	assert_int_equal(bundle_check_offset(c), 10);
	assert_int_equal(pwrite(fd, thin_v3.p, thin_v3.n, 0), (ssize_t)thin_v3.n);
	assert_int_equal(bundle_check_fd(c, fd, thin_v3.n, &why), BUNDLE_COMPLETE);
	/* A size beyond the file is a read error, not a hang or a guess. */
	bundle_check_reset(c);
	assert_int_equal(bundle_check_fd(c, fd, thin_v3.n + 5, &why), -EIO);
	close(fd);
	unlink(buf_cstr(&path));
	bundle_check_free(c);
	buf_release(&why);
	buf_release(&path);
}

static void test_corrupt_trailer(void **state)
{
	struct buf why = BUF_INIT(4096);
	unsigned char *p = malloc(full_v2.n);

	(void)state;
	memcpy(p, full_v2.p, full_v2.n);
	p[full_v2.n - 1] ^= 1;
	assert_int_equal(check(p, full_v2.n, &why), -EINVAL);
	assert_has(&why, "pack checksum does not match");
	free(p);
	buf_release(&why);
}

static void test_corrupt_pack_data(void **state)
{
	struct buf why = BUF_INIT(4096);
	unsigned char *p = malloc(full_v2.n);
	size_t i, refused = 0;

	(void)state;
	/* Flip a byte anywhere in the pack: never complete. */
	for (i = (size_t)((unsigned char *)memmem(full_v2.p, full_v2.n, "PACK", 4) - full_v2.p);
	     i < full_v2.n; i += 7) {
		int r;

		memcpy(p, full_v2.p, full_v2.n);
		p[i] ^= 0x40;
		buf_reset(&why);
		r = check(p, full_v2.n, &why);
		if (r == BUNDLE_COMPLETE)
			fail_msg("byte %zu flipped and still complete", i);
		refused += r < 0;
	}
	assert_true(refused > 0);
	free(p);
	buf_release(&why);
}

static void test_data_after_trailer(void **state)
{
	struct bundle_check *c;
	struct buf why = BUF_INIT(4096);

	(void)state;
	assert_int_equal(bundle_check_new(NULL, &c), 0);
	assert_int_equal(bundle_check_feed(c, full_v2.p, full_v2.n, &why), BUNDLE_COMPLETE);
	assert_int_equal(bundle_check_feed(c, "x", 1, &why), -EINVAL);
	assert_has(&why, "data after the pack's trailer");
	/* Sticky, with its reason. */
	buf_reset(&why);
	assert_int_equal(bundle_check_finish(c, &why), -EINVAL);
	assert_has(&why, "data after the pack's trailer");
	assert_null(bundle_check_header(c));
	bundle_check_free(c);
	buf_release(&why);
}

static void test_two_refs(void **state)
{
	struct bundle_check *c;
	struct buf why = BUF_INIT(4096);
	const char *tip = NULL, *ref = NULL;

	(void)state;
	assert_int_equal(bundle_check_new(NULL, &c), 0);
	assert_int_equal(bundle_check_feed(c, two_refs.p, two_refs.n, &why), BUNDLE_COMPLETE);
	assert_int_equal(bundle_check_header(c)->n_refs, 2);
	assert_int_equal(bundle_push_tip(c, &tip, &ref, &why), -EINVAL);
	assert_has(&why, "bundle carries 2 refs (HEAD, refs/heads/main); exactly one is needed");
	assert_null(tip);
	assert_null(ref);
	bundle_check_free(c);
	buf_release(&why);
}

static void test_zero_refs(void **state)
{
	struct bundle_check *c;
	struct buf why = BUF_INIT(4096), b = BUF_INIT(1 << 24);
	const unsigned char *pack =
	    (const unsigned char *)memmem(full_v2.p, full_v2.n, "\n\nPACK", 6) + 2;
	const char *tip, *ref;

	(void)state;
	OK(buf_puts(&b, "# v2 git bundle\n\n"));
	OK(buf_append(&b, pack, full_v2.n - (size_t)(pack - full_v2.p)));
	assert_int_equal(bundle_check_new(NULL, &c), 0);
	assert_int_equal(bundle_check_feed(c, b.data, b.len, &why), BUNDLE_COMPLETE);
	assert_int_equal(bundle_push_tip(c, &tip, &ref, &why), -EINVAL);
	assert_has(&why, "bundle carries no ref; exactly one is needed");
	bundle_check_free(c);
	buf_release(&why);
	buf_release(&b);
}

static void test_tag_ref(void **state)
{
	struct bundle_check *c;
	struct buf why = BUF_INIT(4096);
	const char *tip, *ref;

	(void)state;
	assert_int_equal(bundle_check_new(NULL, &c), 0);
	assert_int_equal(bundle_check_feed(c, tag.p, tag.n, &why), BUNDLE_COMPLETE);
	assert_string_equal(bundle_check_header(c)->refs[0].name, "refs/tags/v1");
	assert_string_equal(bundle_check_header(c)->refs[0].oid, tag_oid);
	assert_int_equal(bundle_push_tip(c, &tip, &ref, &why), -EINVAL);
	assert_has(&why, "refs/tags/v1 is a tag; only branches are pushed");
	bundle_check_free(c);
	buf_release(&why);
}

static void test_sha256_refused(void **state)
{
	struct buf why = BUF_INIT(4096);

	(void)state;
	assert_int_equal(check(sha256.p, sha256.n, &why), -EINVAL);
	assert_has(&why, "bundle uses object format 'sha256'; only sha1 is supported");
	buf_reset(&why);
	/* Refused at the capability line, before any pack byte. */
	assert_int_equal(check_str("# v3 git bundle\n@object-format=sha256\n", &why), -EINVAL);
	buf_reset(&why);
	assert_int_equal(check_str("# v3 git bundle\n@object-format=sha1\n", &why),
			 BUNDLE_INCOMPLETE);
	buf_release(&why);
}

static void test_garbage(void **state)
{
	struct buf why = BUF_INIT(4096);
	unsigned char junk[4096];
	size_t i;

	(void)state;
	/* Refused on its first wrong byte, without waiting for a newline. */
	assert_int_equal(check_str("hello", &why), -EINVAL);
	assert_has(&why, "not a git bundle");
	buf_reset(&why);
	assert_int_equal(check_str("# v2 git bundlex", &why), -EINVAL);
	buf_reset(&why);
	assert_int_equal(check_str("# v4 git bundle\n", &why), -EINVAL);
	buf_reset(&why);
	assert_int_equal(check_str("# v2 git bundle\r\n", &why), -EINVAL);
	buf_reset(&why);
	assert_int_equal(check_str("# v2 git", &why), BUNDLE_INCOMPLETE);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	assert_int_equal(check(junk, sizeof(junk), &why), -EINVAL);
	buf_release(&why);
}

#define OID_A "4a31b28c60a9fa3504e8d5348473f6c816b5c142"
#define OID_B "c742ab03d014770d04c19596dac352da54c966ab"

/* A literal and its length, NULs included. */
#define LIT(s) s, sizeof(s) - 1

static void test_header_refusals(void **state)
{
	static const struct {
		const char *text;
		size_t n;
		const char *reason;
	} cases[] = {
	    {LIT("# v2 git bundle\n@object-format=sha1\n"), "v2 cannot have capability"},
	    {LIT("# v3 git bundle\n-" OID_A "\n@object-format=sha1\n"),
	     "comes after a prerequisite"},
	    {LIT("# v3 git bundle\n@object-format=sha1\n@object-format=sha1\n"), "twice"},
	    {LIT("# v3 git bundle\n@filter=blob:none\n"), "filtered"},
	    {LIT("# v3 git bundle\n@frobnicate\n"), "unknown capability 'frobnicate'"},
	    {LIT("# v3 git bundle\n@\n"), "has no name"},
	    {LIT("# v3 git bundle\n@a_b=1\n"), "malformed"},
	    {LIT("# v2 git bundle\n" OID_B " refs/heads/main\n-" OID_A "\n"),
	     "prerequisite after a ref"},
	    {LIT("# v2 git bundle\n-" OID_A "x\n"), "prerequisite"},
	    {LIT("# v2 git bundle\n-4A31B28C60A9FA3504E8D5348473F6C816B5C142\n"), "prerequisite"},
	    {LIT("# v2 git bundle\n-4a31b28c\n"), "prerequisite"},
	    {LIT("# v2 git bundle\n" OID_B "\n"), "not a prerequisite or a ref"},
	    {LIT("# v2 git bundle\n" OID_B "  refs/heads/main\n"), "not valid"},
	    {LIT("# v2 git bundle\n" OID_B " refs/heads/main \n"), "not valid"},
	    {LIT("# v2 git bundle\n" OID_B " refs/heads/main\r\n"), "holds a CR"},
	    {LIT("# v2 git bundle\n" OID_B " refs/heads/a..b\n"), "not valid"},
	    {LIT("# v2 git bundle\n" OID_B " refs/heads/x.lock\n"), "not valid"},
	    {LIT("# v2 git bundle\n" OID_B " main\n"), "not valid"},
	    {LIT("# v2 git bundle\n" OID_B " refs/\n"), "not valid"},
	    {LIT("# v2 git bundle\nhello\n"), "not a prerequisite or a ref"},
	    {LIT("# v2 git bundle\n\0\n"), "NUL"},
	    {LIT("# v2 git bundle\n\nPACK\0\0\0\4\0\0\0\1"), "pack version 4"},
	    {LIT("# v2 git bundle\n\nPACX"), "no pack after its header"},
	    {LIT("# v2 git bundle\n\nPACK\0\0\0\2\xff\xff\xff\xff"),
	     "announces 4294967295 objects"},
	    {LIT("# v2 git bundle\n" OID_B " HEAD\n\nPACK\0\0\0\2\0\0\0\1"
		 "\x3b"
		 "not zlib at all"),
	     "corrupt zlib data"},
	    {LIT("# v2 git bundle\n" OID_B " HEAD\n\nPACK\0\0\0\2\0\0\0\1"
		 "\xbf\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
	     "size header too long"},
	};
	struct buf why = BUF_INIT(4096);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		buf_reset(&why);
		r = check(cases[i].text, cases[i].n, &why);
		if (r >= 0 || !strstr(buf_cstr(&why), cases[i].reason))
			fail_msg("case %zu: %d '%s' (wanted '%s')", i, r, buf_cstr(&why),
				 cases[i].reason);
	}
	/* A prerequisite's comment is any text (a commit subject), CR included. */
	buf_reset(&why);
	assert_int_equal(check_str("# v2 git bundle\n-" OID_A "\n-" OID_B " a subject\r\xff\n" OID_B
				   " HEAD\n" OID_A " refs/heads/bottle/12-fix\n",
				   &why),
			 BUNDLE_INCOMPLETE);
	buf_release(&why);
}

static void test_header_bounds(void **state)
{
	struct buf why = BUF_INIT(4096), b = BUF_INIT((size_t)4 << 20);
	size_t i;

	(void)state;
	/* One line over BUNDLE_MAX_LINE, without its newline yet. */
	OK(buf_puts(&b, "# v2 git bundle\n-" OID_A " "));
	for (i = 0; i < BUNDLE_MAX_LINE; i++)
		OK(buf_putc(&b, 'x'));
	assert_int_equal(check(b.data, b.len, &why), -EINVAL);
	assert_has(&why, "line is longer than");
	/* Refs past BUNDLE_MAX_REFS. */
	buf_reset(&b);
	buf_reset(&why);
	OK(buf_puts(&b, "# v2 git bundle\n"));
	for (i = 0; i <= BUNDLE_MAX_REFS; i++)
		OK(buf_printf(&b, OID_A " refs/heads/b%zu\n", i));
	assert_int_equal(check(b.data, b.len, &why), -EINVAL);
	assert_has(&why, "more than 256 refs");
	/* Prerequisites past BUNDLE_MAX_PREREQS. */
	buf_reset(&b);
	buf_reset(&why);
	OK(buf_puts(&b, "# v2 git bundle\n"));
	for (i = 0; i <= BUNDLE_MAX_PREREQS; i++)
		OK(buf_puts(&b, "-" OID_A " c\n"));
	assert_int_equal(check(b.data, b.len, &why), -EINVAL);
	assert_has(&why, "more than 4096 prerequisites");
	/* A header past BUNDLE_MAX_HEADER made of lines each within bounds. */
	buf_reset(&b);
	buf_reset(&why);
	OK(buf_puts(&b, "# v2 git bundle\n"));
	while (b.len <= BUNDLE_MAX_HEADER) {
		OK(buf_puts(&b, "-" OID_A " "));
		for (i = 0; i < 60000; i++)
			OK(buf_putc(&b, 'c'));
		OK(buf_putc(&b, '\n'));
	}
	assert_int_equal(check(b.data, b.len, &why), -EINVAL);
	assert_has(&why, "header is longer than");
	buf_release(&why);
	buf_release(&b);
}

static void test_caps(void **state)
{
	struct buf why = BUF_INIT(4096);
	struct bundle_limits lim = {0};

	(void)state;
	/* The bundle cap. */
	lim.max_bundle = full_v2.n - 1;
	assert_int_equal(check_lim(full_v2.p, full_v2.n, &lim, &why), -EFBIG);
	assert_has(&why, "bundle is larger than the cap");
	lim.max_bundle = full_v2.n;
	assert_int_equal(check_lim(full_v2.p, full_v2.n, &lim, &why), BUNDLE_COMPLETE);
	/* The object cap. */
	buf_reset(&why);
	lim.max_bundle = 0;
	lim.max_object = BIG - 1;
	assert_int_equal(check_lim(full_v2.p, full_v2.n, &lim, &why), -EFBIG);
	assert_has(&why, "is 8901 bytes, over the cap of 8900 bytes an object");
	lim.max_object = BIG;
	assert_int_equal(check_lim(full_v2.p, full_v2.n, &lim, &why), BUNDLE_COMPLETE);
	/*
	 * On a delta: its data is a few bytes, its result the whole file;
	 * the result is what counts.
	 */
	buf_reset(&why);
	lim.max_object = BIG - 1;
	assert_int_equal(check_lim(thin_v3.p, thin_v3.n, &lim, &why), -EFBIG);
	assert_has(&why, "is 8901 bytes, over the cap of 8900 bytes an object");
	lim.max_object = BIG;
	assert_int_equal(check_lim(thin_v3.p, thin_v3.n, &lim, &why), BUNDLE_COMPLETE);
	/* The total inflated. */
	buf_reset(&why);
	lim.max_object = 0;
	lim.max_inflated = 5000;
	assert_int_equal(check_lim(full_v2.p, full_v2.n, &lim, &why), -EFBIG);
	assert_has(&why, "inflate to more than 5000 bytes");
	buf_release(&why);
}

/* A one-object pack made by hand: header, an entry, the trailer. */
static void hand_pack(struct buf *b, unsigned char type_size0, const unsigned char *extra,
		      size_t n_extra, const void *data, size_t n_data)
{
	unsigned char z[1024], trailer[SHA1_LEN];
	uLongf zn = sizeof(z);
	struct sha1_ctx c;
	size_t pack;

	OK(buf_puts(b, "# v2 git bundle\n" OID_B " HEAD\n\n"));
	pack = b->len;
	OK(buf_append(b, "PACK\0\0\0\2\0\0\0\1", 12));
	OK(buf_putc(b, (char)type_size0));
	OK(buf_append(b, extra, n_extra));
	assert_int_equal(compress(z, &zn, data, n_data), Z_OK);
	OK(buf_append(b, z, zn));
	sha1_init(&c);
	sha1_update(&c, b->data + pack, b->len - pack);
	sha1_final(&c, trailer);
	OK(buf_append(b, trailer, SHA1_LEN));
}

static void test_hand_made_entries(void **state)
{
	struct buf why = BUF_INIT(4096), b = BUF_INIT(1 << 20);
	static const unsigned char zero_ofs[] = {0x00};
	static const unsigned char far_ofs[] = {0x20};
	static const unsigned char delta[] = {0x05, 0xff, 0xff, 0xff, 0x7f};
	struct bundle_limits lim = {0};

	(void)state;
	/* A blob of 11 bytes declared as 11: complete. */
	hand_pack(&b, 0x30 | 11, NULL, 0, "hello world", 11);
	assert_int_equal(check(b.data, b.len, &why), BUNDLE_COMPLETE);
	/* Over the object cap: refused at its header, before it is inflated. */
	lim.max_object = 10;
	assert_int_equal(check_lim(b.data, b.len, &lim, &why), -EFBIG);
	assert_has(&why, "pack object 1 is 11 bytes, over the cap of 10 bytes an object");
	lim.max_object = 11;
	assert_int_equal(check_lim(b.data, b.len, &lim, &why), BUNDLE_COMPLETE);
	/* Declared as 5: refused while inflating, before any trailer. */
	buf_reset(&b);
	hand_pack(&b, 0x30 | 5, NULL, 0, "hello world", 11);
	assert_int_equal(check(b.data, b.len, &why), -EINVAL);
	assert_has(&why, "inflates past the 5 bytes its header declares");
	/* Declared as 12: one byte short. */
	buf_reset(&b);
	buf_reset(&why);
	hand_pack(&b, 0x30 | 12, NULL, 0, "hello world", 11);
	assert_int_equal(check(b.data, b.len, &why), -EINVAL);
	assert_has(&why, "inflates to 11 bytes, not the 12");
	/* Type 5 does not exist. */
	buf_reset(&b);
	buf_reset(&why);
	hand_pack(&b, 0x50 | 11, NULL, 0, "hello world", 11);
	assert_int_equal(check(b.data, b.len, &why), -EINVAL);
	assert_has(&why, "invalid type 5");
	/* An ofs-delta against itself, and against a place before the pack. */
	buf_reset(&b);
	buf_reset(&why);
	hand_pack(&b, 0x60 | 5, zero_ofs, 1, delta, 5);
	assert_int_equal(check(b.data, b.len, &why), -EINVAL);
	assert_has(&why, "offset outside the pack");
	buf_reset(&b);
	buf_reset(&why);
	hand_pack(&b, 0x60 | 5, far_ofs, 1, delta, 5);
	assert_int_equal(check(b.data, b.len, &why), -EINVAL);
	assert_has(&why, "offset outside the pack");
	/* A ref-delta whose result would be 4 GiB: refused, nothing applied. */
	buf_reset(&b);
	buf_reset(&why);
	{
		unsigned char base[SHA1_LEN] = {1};

		hand_pack(&b, 0x70 | 5, base, SHA1_LEN, delta, 5);
	}
	assert_int_equal(check(b.data, b.len, &why), -EFBIG);
	assert_has(&why, "is 268435455 bytes, over the cap");
	buf_release(&why);
	buf_release(&b);
}

static void test_empty_pack(void **state)
{
	struct buf why = BUF_INIT(4096), b = BUF_INIT(4096);
	unsigned char trailer[SHA1_LEN];
	struct sha1_ctx c;

	(void)state;
	/* A bundle whose tip is its prerequisite: a pack of no objects. */
	OK(buf_puts(&b, "# v2 git bundle\n-" OID_A " x\n" OID_A " refs/heads/main\n\n"));
	OK(buf_append(&b, "PACK\0\0\0\2\0\0\0\0", 12));
	sha1_init(&c);
	sha1_update(&c, "PACK\0\0\0\2\0\0\0\0", 12);
	sha1_final(&c, trailer);
	OK(buf_append(&b, trailer, SHA1_LEN));
	assert_int_equal(check(b.data, b.len, &why), BUNDLE_COMPLETE);
	assert_int_equal(check(b.data, b.len - 1, &why), BUNDLE_INCOMPLETE);
	buf_release(&why);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sha1_vectors),
	    cmocka_unit_test(test_full_v2_complete),
	    cmocka_unit_test(test_thin_v3_prerequisite),
	    cmocka_unit_test(test_every_prefix_v2),
	    cmocka_unit_test(test_every_prefix_v3),
	    cmocka_unit_test(test_pieces),
	    cmocka_unit_test(test_growing_file),
	    cmocka_unit_test(test_corrupt_trailer),
	    cmocka_unit_test(test_corrupt_pack_data),
	    cmocka_unit_test(test_data_after_trailer),
	    cmocka_unit_test(test_two_refs),
	    cmocka_unit_test(test_zero_refs),
	    cmocka_unit_test(test_tag_ref),
	    cmocka_unit_test(test_sha256_refused),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_header_refusals),
	    cmocka_unit_test(test_header_bounds),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_hand_made_entries),
	    cmocka_unit_test(test_empty_pack),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
