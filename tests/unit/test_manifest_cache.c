/*
 * Unit tests for the manifest cache (manifest.h, manifest/cache.c).
 *
 * The cache must give exactly what the uncached functions give (rc, text,
 * error message, byte for byte), see every edit on the next call, parse a
 * file once while it does not change, resolve a shared parent once, stay
 * within its limits, and hold up under many threads while files change
 * (run this program under TSan: scripts/sanitize).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "manifest/manifest.h"

/* ---- helpers ---- */

struct tdir {
	char path[64];
};

static const char *tmp_root(void)
{
	return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static void tdir_new(struct tdir *d)
{
	snprintf(d->path, sizeof(d->path), "%s/mcache-test-XXXXXX", tmp_root());
	assert_non_null(mkdtemp(d->path));
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void tdir_free(struct tdir *d)
{
	assert_int_equal(nftw(d->path, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void path_of(const struct tdir *d, const char *file, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", d->path, file);
}

/*
 * A distinct mtime for every write of the test, so that two same-size
 * versions of a file written within one tick of the clock still differ in
 * their stamp (the cache's documented blind spot is exactly that case).
 */
static time_t next_mtime = 1000000000;

static void stamp_distinct(const char *path)
{
	struct timespec ts[2] = {{next_mtime, 0}, {next_mtime, 0}};

	next_mtime++;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Rewrites file in place (same inode), as `cat > file` does. */
static void put_inplace(struct tdir *d, const char *file, const char *text)
{
	char path[512];
	FILE *f;

	path_of(d, file, path, sizeof(path));
	f = fopen(path, "r+b");
	if (!f)
		f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), 0), 0);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	stamp_distinct(path);
}

/* Writes file by rename, as editors do (a new inode). */
static void put(struct tdir *d, const char *file, const char *text)
{
	char path[512], tmp[560];
	FILE *f;

	path_of(d, file, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp~", path);
	f = fopen(tmp, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	stamp_distinct(tmp);
	assert_int_equal(rename(tmp, path), 0);
}

static void putf(struct tdir *d, const char *file, const char *fmt, ...)
{
	char text[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	put(d, file, text);
}

static void del(struct tdir *d, const char *file)
{
	char path[512];

	path_of(d, file, path, sizeof(path));
	assert_int_equal(unlink(path), 0);
}

/*
 * A cache that keeps what it reads at once (racy_ns 1): the tests write a
 * file and read it in the same millisecond, and give every write its own
 * mtime (stamp_distinct), so the racy rule is not what makes them pass.
 * test_racy_files_read_again checks the rule itself.
 */
static struct manifest_cache *cache_new(struct tdir *d, size_t max_bytes)
{
	struct manifest_cache_options opt = {.max_bytes = max_bytes, .racy_ns = 1};
	struct manifest_cache *c = NULL;

	assert_int_equal(manifest_cache_new(d->path, &opt, &c), 0);
	return c;
}

static struct manifest_cache_stats stats(struct manifest_cache *c)
{
	struct manifest_cache_stats s;

	manifest_cache_stats(c, &s);
	return s;
}

/*
 * The cached answer of name (text, or "!<rc> <message>"); new. No cmocka
 * assertion, so threads may call it: a length that is not the text's is
 * an answer of its own ("!len").
 */
static char *cres(struct manifest_cache *c, const char *name)
{
	struct buf err = BUF_INIT(1 << 20), out = BUF_INIT(0);
	char *text = NULL;
	size_t len = 0;
	int r = manifest_cache_resolve(c, name, &text, &len, &err);

	if (r == 0 && len != strlen(text))
		assert_int_equal(buf_puts(&out, "!len"), 0);
	else if (r == 0)
		assert_int_equal(buf_puts(&out, text), 0);
	else
		assert_int_equal(
		    buf_printf(&out, "!%d %s%s", r, buf_cstr(&err), text ? " (and a text)" : ""),
		    0);
	free(text);
	buf_release(&err);
	return buf_steal(&out, NULL);
}

/* The uncached answer, in the same form. */
static char *ures(const char *dir, const char *name)
{
	struct buf err = BUF_INIT(1 << 20), out = BUF_INIT(0);
	char *text = NULL;
	int r = manifest_resolve(dir, name, &text, &err);

	if (r == 0)
		assert_int_equal(buf_puts(&out, text), 0);
	else
		assert_int_equal(buf_printf(&out, "!%d %s", r, buf_cstr(&err)), 0);
	free(text);
	buf_release(&err);
	return buf_steal(&out, NULL);
}

/* Asserts the cache answers name exactly as the uncached functions do. */
static void same(struct manifest_cache *c, struct tdir *d, const char *name)
{
	struct buf e1 = BUF_INIT(1 << 20), e2 = BUF_INIT(1 << 20);
	char *a = ures(d->path, name), *b = cres(c, name), *s1 = NULL, *s2 = NULL;
	size_t l1 = 0, l2 = 0;
	int r1, r2;

	if (strcmp(a, b))
		fail_msg("'%s': uncached:\n%s\ncached:\n%s", name, a, b);
	free(a);
	free(b);
	r1 = manifest_source(d->path, name, &s1, &l1, &e1);
	r2 = manifest_cache_source(c, name, &s2, &l2, &e2);
	if (r1 != r2 || (r1 == 0 && (l1 != l2 || memcmp(s1, s2, l1))) ||
	    strcmp(buf_cstr(&e1), buf_cstr(&e2)))
		fail_msg("'%s': source differs: %d '%s' / %d '%s'", name, r1, buf_cstr(&e1), r2,
			 buf_cstr(&e2));
	free(s1);
	free(s2);
	buf_release(&e1);
	buf_release(&e2);
}

/* Asserts the listing and manifest_cache_defined agree with manifest_list; returns the names. */
static void same_list(struct manifest_cache *c, struct tdir *d, char ***names, size_t *n)
{
	struct buf e1 = BUF_INIT(1 << 20), e2 = BUF_INIT(1 << 20);
	char **a = NULL, **b = NULL;
	size_t na = 0, nb = 0, i;
	int r1, r2;

	r1 = manifest_list(d->path, &a, &na, &e1);
	r2 = manifest_cache_list(c, &b, &nb, &e2);
	assert_int_equal(r1, r2);
	assert_string_equal(buf_cstr(&e1), buf_cstr(&e2));
	assert_int_equal(na, nb);
	for (i = 0; i < na; i++) {
		assert_string_equal(a[i], b[i]);
		assert_int_equal(manifest_cache_defined(c, a[i], NULL), 1);
	}
	assert_int_equal(manifest_cache_defined(c, "no-such-bottle-here", NULL), 0);
	manifest_names_free(b, nb);
	buf_release(&e1);
	buf_release(&e2);
	*names = a;
	*n = na;
}

/* Every listed name, some that are not defined, and some that are no names at all. */
static void same_all(struct manifest_cache *c, struct tdir *d)
{
	static const char *const extra[] = {"ghost", "x", "..", ".hidden", "a/b", "", NULL};
	char **names;
	size_t n, i;

	same_list(c, d, &names, &n);
	for (i = 0; i < n; i++)
		same(c, d, names[i]);
	for (i = 0; extra[i]; i++)
		same(c, d, extra[i]);
	manifest_names_free(names, n);
}

/* ---- the answers are the same ---- */

static void test_same_answers_as_uncached(void **state)
{
	struct manifest_cache *c;
	struct tdir d;

	(void)state;
	tdir_new(&d);
	put(&d, "base.md", "---\nenv: {A: '1'}\negress: {routes: [{host: a.com}]}\n---\n# base\n");
	put(&d, "net.md", "---\nextends: base\negress: {routes: [{host: b.com, port: 1}]}\n---\n");
	put(&d, "dev.md", "---\nextends: [net, base]\nsupervise: true\n---\n");
	put(&d, "loop-a.md", "---\nextends: loop-b\n---\n");
	put(&d, "loop-b.md", "---\nextends: [base, loop-a]\n---\n");
	put(&d, "selfish.md", "---\nextends: selfish\n---\n");
	put(&d, "orphan.md", "---\nextends: [base, ghost]\n---\n");
	put(&d, "broken.md", "---\nenv: [unclosed\n---\n");
	put(&d, "nofront.md", "just text\n");
	put(&d, "typed.md", "---\nextends: 7\n---\n");
	put(&d, "twice.md", "---\n---\n");
	put(&d, "conflict.md",
	    "---\nextends: net\negress: {routes: [{host: b.com, port: 2}]}\n---\n");
	put(&d, "manifest.json",
	    "{\"bottles\": {\"ci\": {\"extends\": [\"dev\"], \"env\": {\"CI\": 1}},"
	    " \"twice\": {}, \"bad\": 3, \"deep\": {\"extends\": \"broken\"},"
	    " \"../x\": {}}}");
	c = cache_new(&d, 0);
	same_all(c, &d);
	same_all(c, &d); /* the second time from memory */
	assert_true(stats(c).hits > 0);
	manifest_cache_free(c);
	tdir_free(&d);
}

/* xorshift64*: deterministic per seed, so a failure names its seed. */
struct rng {
	uint64_t s;
};

static uint32_t rnd(struct rng *r, uint32_t n)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (uint32_t)((r->s * 2685821657736338717ULL) >> 33) % n;
}

#define NB 60

/* A random bottle i: mostly good, extending lower bottles; sometimes an error of some kind. */
static json_t *gen_bottle(struct rng *r, int i)
{
	json_t *b = json_object(), *env = json_object(), *ext = json_array();
	int np = (int)rnd(r, 4);

	for (int k = 0; k < np; k++) {
		char p[16];
		uint32_t kind = rnd(r, 60);

		if (kind == 0)
			snprintf(p, sizeof(p), "ghost%u", rnd(r, 3));
		else if (kind == 2)
			snprintf(p, sizeof(p), "%s", rnd(r, 2) ? "dir" : "link");
		else if (kind == 1 || i == 0)
			snprintf(p, sizeof(p), "b%u", rnd(r, NB)); /* may close a cycle */
		else
			snprintf(p, sizeof(p), "b%u", rnd(r, (uint32_t)i));
		json_array_append_new(ext, json_string(p));
	}
	if (np == 1 && rnd(r, 2))
		json_object_set(b, "extends", json_array_get(ext, 0));
	else if (np)
		json_object_set(b, "extends", ext);
	if (!rnd(r, 40))
		json_object_set_new(b, "extends", json_integer(3));
	for (uint32_t k = 0, ne = rnd(r, 4); k < ne; k++) {
		char key[16], val[16];

		snprintf(key, sizeof(key), "K%u", rnd(r, 6));
		snprintf(val, sizeof(val), "v%d_%u", i, rnd(r, 100));
		json_object_set_new(env, key, json_string(val));
	}
	json_object_set_new(b, "env", env);
	if (!rnd(r, 3))
		json_object_set_new(b, "supervise", json_boolean(rnd(r, 2)));
	if (!rnd(r, 3)) {
		char p[16];

		snprintf(p, sizeof(p), "p%u", rnd(r, 3));
		json_object_set_new(b, "agent_provider", json_string(p));
	}
	if (!rnd(r, 50))
		json_object_set_new(b, "agent_provider", json_integer(1));
	if (!rnd(r, 2)) {
		char host[32];
		uint32_t h = rnd(r, 8);

		snprintf(host, sizeof(host), "h%u.example.com", h);
		/* usually the same port for a host (kept once), now and then another (an error) */
		json_object_set_new(b, "egress",
				    json_pack("{s:[{s:s, s:i}]}", "routes", "host", host, "port",
					      (int)(400 + h + (rnd(r, 25) ? 0 : 1))));
	}
	if (!rnd(r, 3))
		json_object_set_new(b, "git-gate",
				    json_pack("{s:{s:s, s:s}, s:{s:{s:s}}}", "user", "name", "u",
					      "email", rnd(r, 2) ? "" : "e@x", "repos", "r", "url",
					      "ssh://x"));
	json_decref(ext);
	return b;
}

/* Writes bottle i of the model: as .md (rarely broken) or into manifest.json. */
static void write_model(struct tdir *d, struct rng *r, json_t *mj, int i, bool md, bool inplace)
{
	char file[32], name[16];
	json_t *b = gen_bottle(r, i);

	snprintf(name, sizeof(name), "b%d", i);
	snprintf(file, sizeof(file), "b%d.md", i);
	if (md) {
		char *y = json_dumps(b, JSON_PRESERVE_ORDER);
		struct buf t = BUF_INIT(0);
		uint32_t k = rnd(r, 30);

		if (k == 0)
			assert_int_equal(buf_puts(&t, "---\nenv: [unclosed\n---\n"), 0);
		else if (k == 1)
			assert_int_equal(buf_puts(&t, "no front matter\n"), 0);
		else
			assert_int_equal(buf_printf(&t, "---\n%s\n---\n# %s\n", y, name), 0);
		if (inplace)
			put_inplace(d, file, buf_cstr(&t));
		else
			put(d, file, buf_cstr(&t));
		free(y);
		buf_release(&t);
		json_object_del(mj, name);
	} else {
		char path[512];

		json_object_set(mj, name, b);
		path_of(d, file, path, sizeof(path));
		unlink(path);
	}
	json_decref(b);
}

static void write_mj(struct tdir *d, json_t *mj, bool broken)
{
	json_t *root = json_pack("{s:O}", "bottles", mj);
	char *text = json_dumps(root, JSON_PRESERVE_ORDER);

	if (broken)
		text[strlen(text) / 2] = '\0';
	put(d, "manifest.json", text);
	free(text);
	json_decref(root);
}

/*
 * The property: on random directories (cycles, undefined parents, broken
 * YAML, type errors, route conflicts, bottles defined twice, non-regular
 * and symlinked .md entries), through rounds of random edits (in place
 * and by rename, deletions, new bottles, manifest.json rewritten or
 * broken, a symlink retargeted), the cache answers every name exactly as
 * the uncached functions do, with plenty of room and with a limit so
 * small that it evicts all the time.
 */
static void run_edits(uint64_t seed, size_t max_bytes, int64_t racy_ns)
{
	struct manifest_cache_options opt = {.max_bytes = max_bytes, .racy_ns = racy_ns};
	struct rng r = {seed};
	struct manifest_cache *c;
	struct tdir d;
	json_t *mj = json_object();
	char path[512], target[512];

	tdir_new(&d);
	for (int i = 0; i < NB; i++)
		write_model(&d, &r, mj, i, rnd(&r, 2), false);
	write_mj(&d, mj, false);
	/* a directory named like a bottle, and a symlinked bottle whose target moves */
	path_of(&d, "dir.md", path, sizeof(path));
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(target, sizeof(target), "%s.target", d.path);
	unlink(target);
	{
		FILE *f = fopen(target, "wb");

		assert_non_null(f);
		fputs("---\nextends: b1\n---\n", f);
		fclose(f);
	}
	path_of(&d, "link.md", path, sizeof(path));
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(manifest_cache_new(d.path, &opt, &c), 0);
	for (int round = 0; round < 12; round++) {
		same_all(c, &d);
		for (uint32_t e = 0, ne = 1 + rnd(&r, 5); e < ne; e++) {
			int i = (int)rnd(&r, NB + 3); /* now and then a new bottle */
			uint32_t what = rnd(&r, 10);

			if (what < 5) {
				write_model(&d, &r, mj, i, true, rnd(&r, 2));
			} else if (what < 7) {
				write_model(&d, &r, mj, i, false, false);
				write_mj(&d, mj, false);
			} else if (what == 7) {
				write_mj(&d, mj, rnd(&r, 3) == 0);
			} else if (what == 8) {
				char file[32];

				snprintf(file, sizeof(file), "b%d.md", i);
				path_of(&d, file, path, sizeof(path));
				unlink(path);
			} else {
				/* the link's target becomes a directory, or a file again */
				struct stat st;

				if (stat(target, &st) == 0 && S_ISDIR(st.st_mode)) {
					assert_int_equal(rmdir(target), 0);
					FILE *f = fopen(target, "wb");

					assert_non_null(f);
					fputs("---\nextends: b2\n---\n", f);
					fclose(f);
				} else {
					unlink(target);
					assert_int_equal(mkdir(target, 0755), 0);
				}
			}
		}
	}
	same_all(c, &d);
	if (max_bytes) {
		struct manifest_cache_stats s = stats(c);

		assert_true(s.bytes <= max_bytes);
		assert_true(s.evictions > 0);
	}
	manifest_cache_free(c);
	json_decref(mj);
	rm_one(target, NULL, 0, NULL);
	tdir_free(&d);
}

static void test_random_edits_same_as_uncached(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 6; seed++)
		run_edits(seed * 0x9E3779B97F4A7C15ULL, 0, 1);
	/* with the racy rule as in the daemon: fresh files are read again */
	run_edits(10 * 0x9E3779B97F4A7C15ULL, 0, 0);
}

static void test_random_edits_tiny_cache(void **state)
{
	(void)state;
	for (uint64_t seed = 7; seed <= 9; seed++)
		run_edits(seed * 0x9E3779B97F4A7C15ULL, 24 << 10, 1);
}

/*
 * A parent first read on its own keeps only its text; a child then takes
 * it back from the text, except when it holds a real: 0.1234567890123456789
 * prints as 0.123456789012346, which reads back as another double, and the
 * child's identical route would then look different from the parent's.
 */
static void test_parent_with_reals(void **state)
{
	struct manifest_cache *c;
	struct tdir d;

	(void)state;
	tdir_new(&d);
	put(&d, "p.md", "---\negress: {routes: [{host: a.com, w: 0.1234567890123456789}]}\n---\n");
	put(&d, "c.md",
	    "---\nextends: p\negress: {routes: [{host: a.com, w: 0.1234567890123456789}]}\n---\n");
	put(&d, "q.md", "---\nenv: {Q: '1'}\n---\n");
	put(&d, "r.md", "---\nextends: q\n---\n");
	c = cache_new(&d, 0);
	same(c, &d, "p");
	same(c, &d, "c");
	/* p, then c (p again: its text holds a real) */
	assert_int_equal(stats(c).resolved, 3);
	assert_int_equal(stats(c).reused, 0);
	/* without reals the text is taken back, not resolved again */
	same(c, &d, "q");
	same(c, &d, "r");
	assert_int_equal(stats(c).resolved, 5);
	assert_int_equal(stats(c).reused, 1);
	manifest_cache_free(c);
	tdir_free(&d);
}

/* ---- liveness ---- */

static void assert_has(struct manifest_cache *c, const char *name, const char *want)
{
	char *got = cres(c, name);

	if (!strstr(got, want))
		fail_msg("'%s' should contain '%s':\n%s", name, want, got);
	free(got);
}

static void test_edit_seen_on_next_read(void **state)
{
	struct manifest_cache *c;
	struct tdir d;
	char path[512];
	struct stat st;
	struct timespec ts[2];

	(void)state;
	tdir_new(&d);
	put(&d, "p.md", "---\nenv: {V: one}\n---\n");
	put(&d, "c.md", "---\nextends: p\n---\n");
	c = cache_new(&d, 0);
	assert_has(c, "c", "\"one\"");
	/* a parent rewritten in place, same size: its stamp changed, the child sees it */
	put_inplace(&d, "p.md", "---\nenv: {V: two}\n---\n");
	assert_has(c, "c", "\"two\"");
	assert_has(c, "p", "\"two\"");
	/* replaced by rename with the same size and the old mtime: a new inode */
	path_of(&d, "p.md", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	put(&d, "p.md", "---\nenv: {V: six}\n---\n");
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_has(c, "c", "\"six\"");
	/* broken, then mended */
	put(&d, "p.md", "---\nenv: [\n---\n");
	assert_has(c, "c", "!-22 bottle 'p': front matter is not valid YAML");
	put(&d, "p.md", "---\nenv: {V: one}\n---\n");
	assert_has(c, "c", "\"one\"");
	/* a parent deleted: the child names it; a new bottle appears in the list at once */
	del(&d, "p.md");
	assert_has(c, "c", "extends 'p' which is not defined. Available bottles: c");
	assert_int_equal(manifest_cache_defined(c, "p", NULL), 0);
	put(&d, "p.md", "---\nenv: {V: back}\n---\n");
	assert_int_equal(manifest_cache_defined(c, "p", NULL), 1);
	assert_has(c, "c", "\"back\"");
	/* defined in manifest.json, then also as .md: defined twice, then not */
	put(&d, "manifest.json", "{\"bottles\": {\"j\": {\"extends\": \"p\"}}}");
	assert_has(c, "j", "\"back\"");
	put(&d, "j.md", "---\n---\n");
	assert_has(c, "j", "!-22 bottle 'j' is defined twice");
	del(&d, "j.md");
	put(&d, "manifest.json", "{\"bottles\": {\"j\": {\"env\": {\"J\": \"x\"}}}}");
	assert_has(c, "j", "\"J\": \"x\"");
	manifest_cache_free(c);
	tdir_free(&d);
}

/* An undefined parent's message lists the directory: a new bottle changes it. */
static void test_available_list_follows_directory(void **state)
{
	struct manifest_cache *c;
	struct tdir d;

	(void)state;
	tdir_new(&d);
	put(&d, "a.md", "---\nextends: ghost\n---\n");
	c = cache_new(&d, 0);
	assert_has(c, "a", "Available bottles: a");
	put(&d, "zz.md", "---\n---\n");
	assert_has(c, "a", "Available bottles: a, zz");
	manifest_cache_free(c);
	tdir_free(&d);
}

/* ---- work done once ---- */

static void test_parse_once_resolve_once(void **state)
{
	struct manifest_cache_stats s0, s1;
	struct manifest_cache *c;
	struct tdir d;
	char name[16];
	char *t;

	(void)state;
	tdir_new(&d);
	/* one shared base, 10 middles, 100 leaves with 2 middle parents each */
	put(&d, "base.md", "---\nenv: {B: '1'}\n---\n");
	{
		struct buf mj = BUF_INIT(0);

		assert_int_equal(buf_puts(&mj, "{\"bottles\": {"), 0);
		for (int i = 0; i < 10; i++)
			assert_int_equal(
			    buf_printf(
				&mj,
				"%s\"m%d\": {\"extends\": \"base\", \"env\": {\"M%d\": \"x\"}}",
				i ? ", " : "", i, i),
			    0);
		assert_int_equal(buf_puts(&mj, "}}"), 0);
		put(&d, "manifest.json", buf_cstr(&mj));
		buf_release(&mj);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "l%d.md", i);
		putf(&d, name, "---\nextends: [m%d, m%d]\n---\n", i % 10, (i + 3) % 10);
	}
	c = cache_new(&d, 0);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		free(cres(c, name));
	}
	s0 = stats(c);
	/* every file read once: 100 leaves, manifest.json, base.md */
	assert_int_equal(s0.reads, 102);
	/* every bottle resolved once: the shared base and middles are not resolved again */
	assert_int_equal(s0.resolved, 111);
	/* asked again: nothing read, nothing resolved, every answer from memory */
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		free(cres(c, name));
	}
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		free(cres(c, name));
	}
	s1 = stats(c);
	assert_int_equal(s1.reads, s0.reads);
	assert_int_equal(s1.resolved, s0.resolved);
	assert_int_equal(s1.hits, s0.hits + 110);
	/* base changes: it is read again (once), and each bottle resolved once more */
	put(&d, "base.md", "---\nenv: {B: '2'}\n---\n");
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "l%d", i);
		t = cres(c, name);
		assert_non_null(strstr(t, "\"B\": \"2\""));
		free(t);
	}
	s0 = stats(c);
	assert_int_equal(s0.reads, s1.reads + 1);
	assert_int_equal(s0.resolved, s1.resolved + 111);
	manifest_cache_free(c);
	tdir_free(&d);
}

/*
 * The racy rule (git's "racily clean"): a file changed within racy_ns of
 * a call is not kept, since a same-size rewrite in the same clock tick
 * would not change its stamp; once it is older it is kept.
 */
static void test_racy_files_read_again(void **state)
{
	struct manifest_cache_options opt = {.racy_ns = 0}; /* the daemon's 50 ms */
	struct timespec pause = {0, 120 * 1000000L};
	struct manifest_cache *c = NULL;
	struct tdir d;
	uint64_t r0;

	(void)state;
	tdir_new(&d);
	put(&d, "a.md", "---\nenv: {A: '1'}\n---\n");
	assert_int_equal(manifest_cache_new(d.path, &opt, &c), 0);
	assert_has(c, "a", "\"A\": \"1\"");
	r0 = stats(c).reads;
	assert_has(c, "a", "\"A\": \"1\"");
	assert_int_equal(stats(c).reads, r0 + 1); /* just written: read again */
	assert_int_equal(stats(c).hits, 0);
	/* older than the window (a sleep only makes time pass; nothing waits on a result) */
	nanosleep(&pause, NULL);
	assert_has(c, "a", "\"A\": \"1\"");
	r0 = stats(c).reads;
	assert_has(c, "a", "\"A\": \"1\"");
	assert_int_equal(stats(c).reads, r0);
	assert_int_equal(stats(c).hits, 1);
	manifest_cache_free(c);
	tdir_free(&d);
}

/* ---- bounded ---- */

static void test_limits_hold(void **state)
{
	struct manifest_cache_options opt = {.max_entries = 50, .racy_ns = 1};
	struct manifest_cache_stats s;
	struct manifest_cache *c = NULL;
	struct tdir d;
	char name[16];

	(void)state;
	tdir_new(&d);
	put(&d, "base.md", "---\nenv: {B: '1'}\n---\n");
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "x%d.md", i);
		putf(&d, name, "---\nextends: base\nenv: {X: '%d'}\n---\n", i);
	}
	assert_int_equal(manifest_cache_new(d.path, &opt, &c), 0);
	assert_int_equal(manifest_cache_defined(c, "x0", NULL), 1);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "x%d", i);
		same(c, &d, name);
		s = stats(c);
		assert_true(s.entries <= 50);
	}
	assert_true(s.evictions >= 300);
	assert_int_equal(s.index_names, 301);
	manifest_cache_free(c);
	/* by bytes: never more than the limit after a call */
	c = cache_new(&d, 16 << 10);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "x%d", i % 40);
		same(c, &d, name);
		s = stats(c);
		assert_true(s.bytes <= 16 << 10);
		assert_true(s.bytes > 0);
	}
	manifest_cache_free(c);
	tdir_free(&d);
}

/* ---- threads ---- */

struct tctx {
	struct manifest_cache *c;
	struct tdir *d;
	const char *want[2]; /* c's answer with version 0 and 1 of p.md */
	const char *want_q[2];
	int stop;
	int bad;
};

static void *reader(void *arg)
{
	struct tctx *t = arg;
	uint64_t n = 0;

	while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE) || n < 200) {
		const char *name = n % 3 == 0 ? "q" : "c";
		const char *const *want = n % 3 == 0 ? t->want_q : t->want;
		char *got = cres(t->c, name);

		if (strcmp(got, want[0]) && strcmp(got, want[1]))
			__atomic_store_n(&t->bad, 1, __ATOMIC_RELEASE);
		if (n % 7 == 0) {
			char **names;
			size_t k;

			if (manifest_cache_list(t->c, &names, &k, NULL) == 0)
				manifest_names_free(names, k);
		}
		free(got);
		n++;
	}
	return NULL;
}

/*
 * Eight readers resolve while the main thread swaps a parent between two
 * versions (by rename, so no reader ever sees half a file), with a limit
 * so small that entries are evicted under the readers' feet. Every answer
 * is one of the two versions; the last one after the swaps stop is the
 * last version written. Under TSan this is the cache's race test.
 */
static void test_threads_while_editing(void **state)
{
	static const char *const versions[2] = {"---\nenv: {V: aaa}\n---\n",
						"---\nenv: {V: bbbbbb}\n---\n"};
	struct tctx t = {0};
	pthread_t th[8];
	struct tdir d;
	char *want[2], *want_q[2];
	int i, v = 0;

	(void)state;
	tdir_new(&d);
	put(&d, "c.md", "---\nextends: [m1, m2]\n---\n");
	put(&d, "m1.md", "---\nextends: p\nenv: {M: '1'}\n---\n");
	put(&d, "m2.md", "---\nextends: p\nenv: {M: '2'}\n---\n");
	put(&d, "manifest.json", "{\"bottles\": {\"q\": {\"extends\": [\"m2\", \"p\"]}}}");
	for (i = 0; i < 2; i++) {
		put(&d, "p.md", versions[i]);
		want[i] = ures(d.path, "c");
		want_q[i] = ures(d.path, "q");
	}
	assert_string_not_equal(want[0], want[1]);
	t.c = cache_new(&d, 4 << 10);
	t.d = &d;
	t.want[0] = want[0];
	t.want[1] = want[1];
	t.want_q[0] = want_q[0];
	t.want_q[1] = want_q[1];
	for (i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &t), 0);
	for (int k = 0; k < 300; k++) {
		v = k % 2;
		put(&d, "p.md", versions[v]);
		usleep(200);
	}
	__atomic_store_n(&t.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(t.bad, 0);
	{
		char *last = cres(t.c, "c");

		assert_string_equal(last, want[v]);
		free(last);
	}
	manifest_cache_free(t.c);
	for (i = 0; i < 2; i++) {
		free(want[i]);
		free(want_q[i]);
	}
	tdir_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_answers_as_uncached),
	    cmocka_unit_test(test_random_edits_same_as_uncached),
	    cmocka_unit_test(test_random_edits_tiny_cache),
	    cmocka_unit_test(test_parent_with_reals),
	    cmocka_unit_test(test_edit_seen_on_next_read),
	    cmocka_unit_test(test_available_list_follows_directory),
	    cmocka_unit_test(test_parse_once_resolve_once),
	    cmocka_unit_test(test_racy_files_read_again),
	    cmocka_unit_test(test_limits_hold),
	    cmocka_unit_test(test_threads_while_editing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
