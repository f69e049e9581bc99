/*
 * libFuzzer target for manifest/: every input is tried as <name>.md text
 * and as manifest.json text. Whatever parses is resolved (in memory), and
 * each resolved form must re-resolve to the same bytes (SPEC section 4:
 * resolved.json is itself a valid bottle) -- a difference aborts. The
 * manifest.json text is also read lazily (manifest_json_parse, whose
 * scanner must never vouch for text jansson would read otherwise): the
 * error, or every bottle's value and the set of names, must be the same.
 *
 * Seed corpus: tests/fuzz/manifest/. Build and run: see tests/fuzz/README
 * or the manifest section of the handover (clang -fsanitize=fuzzer).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest/manifest.h"

/* The resolved form of name in set, as canonical text (new), or NULL on a resolution error. */
static char *resolve_text(json_t *set, const char *name)
{
	struct buf err = BUF_INIT(1 << 20);
	json_t *res = NULL;
	char *text = NULL;

	if (manifest_resolve_set(set, name, &res, NULL, &err) == 0) {
		if (manifest_dump(res, &text, NULL) < 0)
			text = NULL;
		json_decref(res);
	} else if (err.len == 0) {
		abort(); /* every error must say something */
	}
	buf_release(&err);
	return text;
}

/* Resolves name, feeds the output back as a bottle without extends, and compares. */
static void check(json_t *set, const char *name)
{
	char *a = resolve_text(set, name), *b;
	json_t *again, *set2;

	if (!a)
		return;
	again = json_loads(a, 0, NULL);
	if (!again)
		abort(); /* our own output must be JSON */
	set2 = json_object();
	json_object_set_new(set2, "r", again);
	b = resolve_text(set2, "r");
	if (!b || strcmp(a, b)) {
		fprintf(stderr, "not idempotent:\n%s\nthen\n%s\n", a, b ? b : "(error)");
		abort();
	}
	free(a);
	free(b);
	json_decref(set2);
}

/* The lazy reading of manifest.json agrees with the whole one. */
static void check_lazy(const char *text, size_t size)
{
	struct buf e1 = BUF_INIT(1 << 20), e2 = BUF_INIT(1 << 20);
	struct manifest_json *mj = NULL;
	json_t *all = NULL, *v, *w, *names;
	const char *k;
	int r1 = manifest_parse_json(text, size, &all, &e1);
	int r2 = manifest_json_parse(text, size, &mj, &e2);

	if (r1 != r2 || strcmp(buf_cstr(&e1), buf_cstr(&e2))) {
		fprintf(stderr, "lazy manifest.json differs: %d '%s' / %d '%s'\n", r1,
			buf_cstr(&e1), r2, buf_cstr(&e2));
		abort();
	}
	if (r1 == 0) {
		json_object_foreach(all, k, v)
		{
			char *a, *b;

			if (manifest_json_get(mj, k, &w) != 0)
				abort();
			a = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
			b = json_dumps(w, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
			if (!a || !b || strcmp(a, b) || !json_equal(v, w)) {
				fprintf(stderr, "lazy manifest.json: '%s' differs\n", k);
				abort();
			}
			free(a);
			free(b);
			json_decref(w);
		}
		names = manifest_json_names(mj);
		if (!names || json_object_size(names) != json_object_size(all))
			abort();
		json_object_foreach(names, k, v) if (!json_object_get(all, k)) abort();
		json_decref(names);
	}
	json_decref(all);
	manifest_json_free(mj);
	buf_release(&e1);
	buf_release(&e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf err = BUF_INIT(1 << 20);
	json_t *bottle = NULL, *bottles = NULL, *set, *v;
	const char *text = (const char *)data, *k;

	if (manifest_parse_md("x", text, size, &bottle, &err) == 0) {
		/* x may extend base or other, and other extends x: cycles are reachable */
		set = json_pack("{s:o, s:{s:{s:s}, s:{s:[{s:s}]}}, s:{s:[s, s]}}", "x", bottle,
				"base", "env", "B", "1", "egress", "routes", "host", "h", "other",
				"extends", "base", "x");
		if (set) {
			check(set, "x");
			check(set, "other");
			json_decref(set);
		}
	}
	check_lazy(text, size);
	if (manifest_parse_json(text, size, &bottles, &err) == 0) {
		json_object_foreach(bottles, k, v) check(bottles, k);
		json_decref(bottles);
	}
	buf_release(&err);
	return 0;
}
