/*
 * libFuzzer target for manifest/: every input is tried as <name>.md text
 * and as manifest.json text. Whatever parses is resolved (in memory), and
 * each resolved form must re-resolve to the same bytes (SPEC section 4:
 * resolved.json is itself a valid bottle) -- a difference aborts.
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
	if (manifest_parse_json(text, size, &bottles, &err) == 0) {
		json_object_foreach(bottles, k, v) check(bottles, k);
		json_decref(bottles);
	}
	buf_release(&err);
	return 0;
}
