/*
 * bench_bottles: throughput of bottle resolution (run by bench/bottles).
 *
 * Generates an N-bottle multi-parent graph of <name>.md files in a fresh
 * temporary directory (layers of 1%, 4%, 20% and 75% of N; each bottle in a
 * layer extends 1-3 bottles of the layer below, so diamonds are common),
 * then times three passes over every bottle:
 *   parse-only  read and parse the bottle's own file once (the floor);
 *   cold        manifest_resolve, first time each file is read by this run;
 *   warm        manifest_resolve again (files in the page cache);
 *   cached      manifest_cache_resolve (what the mount calls) in a new
 *               cache, then again: the second pass stats the files of
 *               each chain and parses nothing.
 * manifest_resolve re-reads every file of the chain on each call by design
 * (edits are seen on the next read), so cold/parse is the price of that;
 * the cache keeps the same promise with a stat per file instead.
 * Usage: bench_bottles [N]
 *        bench_bottles --one DIR NAME   best of 20 manifest_resolve of one bottle, in ms
 */
#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "manifest/manifest.h"
#include "util/str.h"

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

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int write_file(const char *dir, const char *file, const struct buf *b)
{
	char path[512];
	FILE *f;
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	if (fwrite(b->data, 1, b->len, f) != b->len)
		r = -EIO;
	if (fclose(f) != 0)
		r = -EIO;
	return r;
}

/* Writes bottle i, extending 1-3 bottles of [lo, hi) when that is not empty. */
static int gen(const char *dir, struct rng *r, size_t i, size_t lo, size_t hi)
{
	struct buf b = BUF_INIT(1 << 20);
	char file[64];
	int rc, e = 0; /* any append that failed (the text is small) */

	e |= buf_puts(&b, "---\n");
	if (hi > lo) {
		uint32_t np = rnd(r, 3) + 1;

		e |= buf_puts(&b, "extends: [");
		for (uint32_t k = 0; k < np; k++)
			e |= buf_printf(&b, "%sb%zu", k ? ", " : "",
					lo + rnd(r, (uint32_t)(hi - lo)));
		e |= buf_puts(&b, "]\n");
	}
	e |= buf_printf(&b, "env:\n  K%u: v%zu\n  L%u: \"%zu\"\n  OWN_%zu: x\n", rnd(r, 20), i,
			rnd(r, 20), i, i);
	if (!rnd(r, 3))
		e |= buf_printf(&b, "agent_provider: p%u\n", rnd(r, 4));
	if (!rnd(r, 3))
		e |= buf_printf(&b, "supervise: %s\n", rnd(r, 2) ? "true" : "false");
	if (!rnd(r, 2)) {
		unsigned h = rnd(r, 50);

		e |= buf_printf(&b,
				"git-gate:\n  user: {name: u%zu, email: \"\"}\n  repos:\n"
				"    repo%u: {url: \"ssh://git@h/%zu.git\", host_key: k%u}\n",
				i, rnd(r, 30), i, rnd(r, 9));
		e |= buf_printf(&b, "egress:\n  routes:\n    - {host: h%u.example.com, port: %u}\n",
				h, 400 + h);
	}
	e |= buf_printf(&b, "---\n# Bottle b%zu\n\nSome documentation for humans.\n", i);
	snprintf(file, sizeof(file), "b%zu.md", i);
	rc = e ? -ENOMEM : write_file(dir, file, &b);
	buf_release(&b);
	return rc;
}

/* bench_bottles --one DIR NAME: the resolution itself, without starting a process. */
static int one(const char *dir, const char *name)
{
	struct buf err = BUF_INIT(1 << 20);
	double best = 1e9;
	char *json;

	for (int i = 0; i < 20; i++) {
		double t0 = now();

		if (manifest_resolve(dir, name, &json, &err) < 0) {
			fprintf(stderr, "%s\n", buf_cstr(&err));
			buf_release(&err);
			return 1;
		}
		free(json);
		if (now() - t0 < best)
			best = now() - t0;
	}
	printf("%.2f\n", best * 1000);
	buf_release(&err);
	return 0;
}

/* The graph in dir: n bottles in 4 layers (1%, 4%, 20%, 75%, at least one each). */
static int generate(const char *dir, uint64_t *n)
{
	struct rng r = {0x5eed};
	size_t layer[5];

	layer[0] = 0;
	layer[1] = *n / 100 ? *n / 100 : 1;
	layer[2] = layer[1] + (*n * 4 / 100 ? *n * 4 / 100 : 1);
	layer[3] = layer[2] + (*n * 20 / 100 ? *n * 20 / 100 : 1);
	layer[4] = *n > layer[3] ? *n : layer[3] + 1;
	for (int l = 0; l < 4; l++)
		for (size_t i = layer[l]; i < layer[l + 1]; i++)
			if (gen(dir, &r, i, l ? layer[l - 1] : 0, l ? layer[l] : 0) < 0) {
				perror("write");
				return -1;
			}
	*n = layer[4];
	return 0;
}

/* Seconds to read and parse each bottle's own file once, or < 0. */
static double parse_only(const char *dir, uint64_t n)
{
	struct buf err = BUF_INIT(1 << 20), text = BUF_INIT(MANIFEST_MAX_FILE);
	char path[320], name[32], buf[65536];
	double t0 = now(), t = -1;
	size_t got;

	for (size_t i = 0; i < n; i++) {
		json_t *b;
		FILE *f;

		snprintf(path, sizeof(path), "%s/b%zu.md", dir, i);
		f = fopen(path, "rb");
		if (!f)
			goto out;
		buf_reset(&text);
		while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
			if (buf_append(&text, buf, got) < 0)
				break; /* a truncated file fails to parse below, and says so */
		fclose(f);
		snprintf(name, sizeof(name), "b%zu", i);
		if (manifest_parse_md(name, text.data, text.len, &b, &err) < 0) {
			fprintf(stderr, "%s\n", buf_cstr(&err));
			goto out;
		}
		json_decref(b);
	}
	t = now() - t0;
out:
	buf_release(&err);
	buf_release(&text);
	return t;
}

/* Seconds to resolve every bottle once: through cache, or uncached (counted in st when given). */
static double resolve_all(const char *dir, struct manifest_cache *cache, uint64_t n,
			  struct manifest_stats *st)
{
	struct buf err = BUF_INIT(1 << 20);
	double t0 = now(), t = -1;
	char name[32], *json;
	int r;

	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "b%zu", i);
		r = cache ? manifest_cache_resolve(cache, name, &json, NULL, &err)
		    : st  ? manifest_resolve_ex(dir, name, &json, st, &err)
			  : manifest_resolve(dir, name, &json, &err);
		if (r < 0) {
			fprintf(stderr, "%s\n", buf_cstr(&err));
			goto out;
		}
		free(json);
	}
	t = now() - t0;
out:
	buf_release(&err);
	return t;
}

int main(int argc, char **argv)
{
	char dir[256];
	uint64_t n = 2000;
	struct manifest_stats st = {0, 0};
	double t_parse, t_cold, t_warm, t_ccold, t_cwarm;
	struct manifest_cache *cache = NULL;
	struct manifest_cache_stats cs;
	int rc = 1;

	if (argc == 4 && !strcmp(argv[1], "--one"))
		return one(argv[2], argv[3]);
	if (argc > 1 && str_to_u64(argv[1], 1000000, false, &n) < 0) {
		fprintf(stderr, "usage: bench_bottles [N]\n");
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/bottles-bench-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	if (generate(dir, &n) < 0 || (t_parse = parse_only(dir, n)) < 0 ||
	    (t_cold = resolve_all(dir, NULL, n, &st)) < 0 ||
	    (t_warm = resolve_all(dir, NULL, n, NULL)) < 0 ||
	    manifest_cache_new(dir, NULL, &cache) < 0 ||
	    (t_ccold = resolve_all(dir, cache, n, NULL)) < 0 ||
	    (t_cwarm = resolve_all(dir, cache, n, NULL)) < 0)
		goto out;
	manifest_cache_stats(cache, &cs);

	printf("graph: %zu bottles in 4 layers, 1-3 parents each; a resolution reads %.1f files "
	       "and resolves %.1f bottles on average\n",
	       (size_t)n, (double)st.files_read / (double)n, (double)st.resolved / (double)n);
	printf("bottles cold: %.0f/s  warm: %.0f/s  parse-only: %.0f/s  ratio cold/parse: %.3f\n",
	       (double)n / t_cold, (double)n / t_warm, (double)n / t_parse, t_parse / t_cold);
	printf(
	    "files cold: %.0f/s  parse-only: %.0f/s  (per file read, the chain cost taken out)\n",
	    (double)st.files_read / t_cold, (double)n / t_parse);
	printf("cached: cold %.0f/s  warm %.0f/s  ratio warm/parse: %.2f  (%zu KiB held in %zu "
	       "entries; "
	       "%llu files read, %llu bottles resolved)\n",
	       (double)n / t_ccold, (double)n / t_cwarm, t_parse / t_cwarm, cs.bytes >> 10,
	       cs.entries, (unsigned long long)cs.reads, (unsigned long long)cs.resolved);
	rc = 0;
out:
	manifest_cache_free(cache);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
