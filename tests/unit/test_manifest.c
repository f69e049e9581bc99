/*
 * Unit tests for manifest/: parsing and multi-parent extends resolution
 * (SPEC.md section 4). Fold rules run on in-memory sets; file handling
 * runs on bottles written to a fresh mkdtemp directory per test.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "manifest/manifest.h"

/* ---- helpers ---- */

struct tdir {
	char path[64];
};

/* tmpfs when there is one: the 10 000-file tests are then fast. */
static const char *tmp_root(void)
{
	return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static void tdir_new(struct tdir *d)
{
	snprintf(d->path, sizeof(d->path), "%s/bottles-test-XXXXXX", tmp_root());
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

static void put_bytes(struct tdir *d, const char *file, const char *text, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", d->path, file);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void put(struct tdir *d, const char *file, const char *text)
{
	put_bytes(d, file, text, strlen(text));
}

static void putf(struct tdir *d, const char *file, const char *fmt, ...)
{
	char text[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	put(d, file, text);
}

/* Resolves name in dir; asserts success; returns the parsed output (new). */
static json_t *dres(struct tdir *d, const char *name, struct manifest_stats *st)
{
	struct buf err = BUF_INIT(1 << 20);
	json_error_t je;
	char *text = NULL;
	json_t *v;
	int r = manifest_resolve_ex(d->path, name, &text, st, &err);

	if (r != 0)
		fail_msg("resolve '%s' failed (%d): %s", name, r, buf_cstr(&err));
	assert_non_null(text);
	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	v = json_loads(text, 0, &je);
	assert_non_null(v);
	free(text);
	buf_release(&err);
	return v;
}

/* Resolves name in dir; asserts rc; returns the error text (new). */
static char *dres_err(struct tdir *d, const char *name, int want)
{
	struct buf err = BUF_INIT(1 << 20);
	char *text = NULL;
	int r = manifest_resolve(d->path, name, &text, &err);

	if (r != want)
		fail_msg("resolve '%s' gave %d, wanted %d: %s", name, r, want, buf_cstr(&err));
	assert_null(text);
	return buf_steal(&err, NULL);
}

static json_t *load(const char *json)
{
	json_error_t je;
	json_t *v = json_loads(json, JSON_REJECT_DUPLICATES, &je);

	if (!v)
		fail_msg("bad test JSON: %s (line %d)", je.text, je.line);
	return v;
}

/* Resolves name from an in-memory set given as JSON text; asserts success. */
static json_t *mres(const char *set, const char *name, struct manifest_stats *st)
{
	struct buf err = BUF_INIT(1 << 20);
	json_t *s = load(set), *out = NULL;
	int r = manifest_resolve_set(s, name, &out, st, &err);

	if (r != 0)
		fail_msg("resolve '%s' failed (%d): %s", name, r, buf_cstr(&err));
	json_decref(s);
	buf_release(&err);
	return out;
}

static char *mres_err(const char *set, const char *name, int want)
{
	struct buf err = BUF_INIT(1 << 20);
	json_t *s = load(set), *out = NULL;
	int r = manifest_resolve_set(s, name, &out, NULL, &err);

	if (r != want)
		fail_msg("resolve '%s' gave %d, wanted %d: %s", name, r, want, buf_cstr(&err));
	assert_null(out);
	json_decref(s);
	return buf_steal(&err, NULL);
}

/* Asserts v equals the JSON text, including key order (compared as canonical dumps). */
static void assert_json(json_t *v, const char *want)
{
	json_t *w = load(want);
	char *a = NULL, *b = NULL;

	assert_int_equal(manifest_dump(v, &a, NULL), 0);
	assert_int_equal(manifest_dump(w, &b, NULL), 0);
	if (strcmp(a, b))
		fail_msg("got:\n%s\nwanted:\n%s", a, b);
	free(a);
	free(b);
	json_decref(w);
}

/* ---- fold rules ---- */

static void test_single_element_list_same_as_string(void **state)
{
	const char *set = "{\"a\": {\"env\": {\"A\": \"1\"}, \"supervise\": true},"
			  " \"b\": {\"extends\": \"a\", \"env\": {\"B\": \"2\"}},"
			  " \"c\": {\"extends\": [\"a\"], \"env\": {\"B\": \"2\"}}}";
	json_t *b = mres(set, "b", NULL), *c = mres(set, "c", NULL);

	(void)state;
	assert_json(b, "{\"env\": {\"A\": \"1\", \"B\": \"2\"}, \"supervise\": true}");
	assert_true(json_equal(b, c));
	json_decref(b);
	json_decref(c);
}

static void test_two_parents_env_union(void **state)
{
	json_t *c = mres("{\"a\": {\"env\": {\"A\": \"1\"}}, \"b\": {\"env\": {\"B\": \"2\"}},"
			 " \"c\": {\"extends\": [\"a\", \"b\"]}}",
			 "c", NULL);

	(void)state;
	assert_json(c, "{\"env\": {\"A\": \"1\", \"B\": \"2\"}}");
	json_decref(c);
}

static void test_env_later_wins(void **state)
{
	const char *set =
	    "{\"a\": {\"env\": {\"X\": \"a\", \"A\": \"1\"}},"
	    " \"b\": {\"env\": {\"B\": \"2\", \"X\": \"b\"}},"
	    " \"ab\": {\"extends\": [\"a\", \"b\"]}, \"ba\": {\"extends\": [\"b\", \"a\"]}}";
	json_t *ab = mres(set, "ab", NULL), *ba = mres(set, "ba", NULL);

	(void)state;
	/* value from the later parent, position from the first appearance */
	assert_json(ab, "{\"env\": {\"X\": \"b\", \"A\": \"1\", \"B\": \"2\"}}");
	assert_json(ba, "{\"env\": {\"B\": \"2\", \"X\": \"a\", \"A\": \"1\"}}");
	json_decref(ab);
	json_decref(ba);
}

static void test_child_wins_over_all_parents(void **state)
{
	json_t *c = mres("{\"a\": {\"env\": {\"X\": \"a\"}, \"agent_provider\": \"pa\", "
			 "\"egress\": {\"log\": \"la\"},"
			 "         \"extra\": [1]},"
			 " \"b\": {\"env\": {\"X\": \"b\"}, \"agent_provider\": \"pb\", "
			 "\"egress\": {\"log\": \"lb\"},"
			 "         \"extra\": [2]},"
			 " \"c\": {\"extends\": [\"a\", \"b\"], \"env\": {\"X\": \"c\"}, "
			 "\"agent_provider\": \"pc\","
			 "         \"egress\": {\"log\": \"lc\"}, \"extra\": {\"mine\": true}}}",
			 "c", NULL);

	(void)state;
	/* unknown keys (extra) are kept and the child wins them too */
	assert_json(c, "{\"env\": {\"X\": \"c\"}, \"agent_provider\": \"pc\","
		       " \"egress\": {\"log\": \"lc\"}, \"extra\": {\"mine\": true}}");
	json_decref(c);
}

static void test_supervise_later_wins(void **state)
{
	const char *set =
	    "{\"t\": {\"supervise\": true}, \"f\": {\"supervise\": false},"
	    " \"n\": {\"env\": {\"A\": \"1\"}},"
	    " \"tf\": {\"extends\": [\"t\", \"f\"]}, \"ft\": {\"extends\": [\"f\", \"t\"]},"
	    " \"tn\": {\"extends\": [\"t\", \"n\"]}}";
	json_t *tf = mres(set, "tf", NULL), *ft = mres(set, "ft", NULL),
	       *tn = mres(set, "tn", NULL);

	(void)state;
	assert_true(json_is_false(json_object_get(tf, "supervise")));
	assert_true(json_is_true(json_object_get(ft, "supervise")));
	/* n does not set supervise, so it does not reset t's */
	assert_true(json_is_true(json_object_get(tn, "supervise")));
	json_decref(tf);
	json_decref(ft);
	json_decref(tn);
}

static void test_child_supervise_overrides_all(void **state)
{
	json_t *c = mres("{\"t\": {\"supervise\": true}, \"u\": {\"supervise\": true},"
			 " \"c\": {\"extends\": [\"t\", \"u\"], \"supervise\": false}}",
			 "c", NULL);

	(void)state;
	assert_json(c, "{\"supervise\": false}");
	json_decref(c);
}

static void test_routes_concatenated(void **state)
{
	json_t *c = mres(
	    "{\"a\": {\"egress\": {\"routes\": [{\"host\": \"a.com\"}, {\"host\": \"a2.com\"}]}},"
	    " \"b\": {\"egress\": {\"routes\": [{\"host\": \"b.com\", \"port\": 443}]}},"
	    " \"c\": {\"extends\": [\"a\", \"b\"]}}",
	    "c", NULL);

	(void)state;
	assert_json(c, "{\"egress\": {\"routes\": [{\"host\": \"a.com\"}, {\"host\": \"a2.com\"},"
		       " {\"host\": \"b.com\", \"port\": 443}]}}");
	json_decref(c);
}

static void test_child_routes_after_parents(void **state)
{
	json_t *c = mres("{\"a\": {\"egress\": {\"routes\": [{\"host\": \"a.com\"}]}},"
			 " \"b\": {\"egress\": {\"routes\": [{\"host\": \"b.com\"}]}},"
			 " \"c\": {\"egress\": {\"routes\": [{\"host\": \"c.com\"}]},"
			 "         \"extends\": [\"a\", \"b\"]}}",
			 "c", NULL);

	(void)state;
	assert_json(c, "{\"egress\": {\"routes\": [{\"host\": \"a.com\"}, {\"host\": \"b.com\"},"
		       " {\"host\": \"c.com\"}]}}");
	json_decref(c);
}

static void test_git_repos_union(void **state)
{
	json_t *c = mres("{\"a\": {\"git-gate\": {\"repos\": {\"r1\": {\"url\": \"u1\"}}}},"
			 " \"b\": {\"git-gate\": {\"repos\": {\"r2\": {\"url\": \"u2\", \"key\": "
			 "{\"provider\": \"vault\"}}}}},"
			 " \"c\": {\"extends\": [\"a\", \"b\"], \"git-gate\": {\"repos\": {\"r3\": "
			 "{\"url\": \"u3\"}}}}}",
			 "c", NULL);

	(void)state;
	assert_json(c, "{\"git-gate\": {\"repos\": {\"r1\": {\"url\": \"u1\"},"
		       " \"r2\": {\"url\": \"u2\", \"key\": {\"provider\": \"vault\"}},"
		       " \"r3\": {\"url\": \"u3\"}}}}");
	json_decref(c);
}

static void test_same_name_repo_per_field_later_wins(void **state)
{
	json_t *c = mres(
	    "{\"a\": {\"git-gate\": {\"repos\": {\"r\": {\"url\": \"u1\", \"host_key\": \"k1\"}}}},"
	    " \"b\": {\"git-gate\": {\"repos\": {\"r\": {\"url\": \"u2\", \"extra\": 1}}}},"
	    " \"c\": {\"extends\": [\"a\", \"b\"]}}",
	    "c", NULL);

	(void)state;
	assert_json(c, "{\"git-gate\": {\"repos\": {\"r\": {\"url\": \"u2\", \"host_key\": \"k1\","
		       " \"extra\": 1}}}}");
	json_decref(c);
}

static void test_earlier_parent_repos_kept(void **state)
{
	json_t *c = mres("{\"a\": {\"git-gate\": {\"repos\": {\"r\": {\"url\": \"u1\"}}}},"
			 " \"b\": {\"git-gate\": {\"user\": {\"name\": \"bob\"}}},"
			 " \"c\": {\"extends\": [\"a\", \"b\"]}}",
			 "c", NULL);

	(void)state;
	assert_json(c, "{\"git-gate\": {\"repos\": {\"r\": {\"url\": \"u1\"}},"
		       " \"user\": {\"name\": \"bob\"}}}");
	json_decref(c);
}

static void test_diamond_resolved_once(void **state)
{
	struct manifest_stats st = {0, 0};
	struct tdir d;
	json_t *v;

	(void)state;
	v = mres("{\"base\": {\"env\": {\"B\": \"1\"}}, \"l\": {\"extends\": \"base\"},"
		 " \"r\": {\"extends\": \"base\"}, \"top\": {\"extends\": [\"l\", \"r\"]}}",
		 "top", &st);
	assert_int_equal(st.resolved, 4); /* base, l, r, top: base once */
	assert_json(v, "{\"env\": {\"B\": \"1\"}}");
	json_decref(v);

	/* the same from files: base.md is read once too */
	tdir_new(&d);
	put(&d, "base.md", "---\nenv: {B: '1'}\n---\n");
	put(&d, "l.md", "---\nextends: base\n---\n");
	put(&d, "r.md", "---\nextends: base\n---\n");
	put(&d, "top.md", "---\nextends: [l, r]\n---\n");
	st = (struct manifest_stats){0, 0};
	v = dres(&d, "top", &st);
	assert_int_equal(st.resolved, 4);
	assert_int_equal(st.files_read, 4);
	json_decref(v);
	tdir_free(&d);
}

static void test_three_parents_fold_order(void **state)
{
	json_t *d =
	    mres("{\"a\": {\"env\": {\"X\": \"a\", \"Y\": \"a\", \"Z\": \"a\"}, "
		 "\"agent_provider\": \"a\"},"
		 " \"b\": {\"env\": {\"Y\": \"b\", \"Z\": \"b\"}, \"agent_provider\": \"b\"},"
		 " \"c\": {\"env\": {\"Z\": \"c\", \"W\": \"c\"}},"
		 " \"d\": {\"extends\": [\"a\", \"b\", \"c\"]}}",
		 "d", NULL);

	(void)state;
	assert_json(d, "{\"env\": {\"X\": \"a\", \"Y\": \"b\", \"Z\": \"c\", \"W\": \"c\"},"
		       " \"agent_provider\": \"b\"}");
	json_decref(d);
}

static void test_unset_agent_provider_does_not_reset(void **state)
{
	const char *set =
	    "{\"a\": {\"agent_provider\": \"p\"}, \"b\": {\"env\": {\"B\": \"1\"}},"
	    " \"q\": {\"agent_provider\": \"q\"}, \"bq\": {\"extends\": \"q\"},"
	    " \"c\": {\"extends\": [\"a\", \"b\"]}, \"d\": {\"extends\": [\"a\", \"bq\"]},"
	    " \"e\": {\"extends\": [\"a\", \"b\"], \"agent_provider\": null}}";
	json_t *c = mres(set, "c", NULL), *d = mres(set, "d", NULL), *e = mres(set, "e", NULL);

	(void)state;
	assert_string_equal(json_string_value(json_object_get(c, "agent_provider")), "p");
	/* bq's ancestor set it, so bq counts as setting it */
	assert_string_equal(json_string_value(json_object_get(d, "agent_provider")), "q");
	/* an explicit null is "not set", not a reset */
	assert_string_equal(json_string_value(json_object_get(e, "agent_provider")), "p");
	json_decref(c);
	json_decref(d);
	json_decref(e);
}

static void test_identical_inherited_routes_kept_once(void **state)
{
	json_t *t = mres(
	    "{\"base\": {\"egress\": {\"routes\": [{\"host\": \"h.com\", \"port\": 1}]}},"
	    " \"l\": {\"extends\": \"base\", \"egress\": {\"routes\": [{\"host\": \"l.com\"}]}},"
	    " \"r\": {\"extends\": \"base\"},"
	    " \"t\": {\"extends\": [\"l\", \"r\"],"
	    "         \"egress\": {\"routes\": [{\"port\": 1, \"host\": \"h.com\"}]}}}",
	    "t", NULL);

	(void)state;
	assert_json(t, "{\"egress\": {\"routes\": [{\"host\": \"h.com\", \"port\": 1},"
		       " {\"host\": \"l.com\"}]}}");
	json_decref(t);
}

static void test_two_routes_one_host_error(void **state)
{
	const char *set =
	    "{\"a\": {\"egress\": {\"routes\": [{\"host\": \"h.com\", \"port\": 1}]}},"
	    " \"b\": {\"egress\": {\"routes\": [{\"host\": \"h.com\", \"port\": 2}]}},"
	    " \"c\": {\"extends\": [\"a\", \"b\"]},"
	    " \"d\": {\"extends\": \"a\", \"egress\": {\"routes\": [{\"host\": \"h.com\"}]}}}";
	char *e;
	json_t *ok;

	(void)state;
	e = mres_err(set, "c", -EINVAL);
	assert_string_equal(e, "bottle 'c' has two different routes for host 'h.com'; keep one");
	free(e);
	e = mres_err(set, "d", -EINVAL);
	assert_string_equal(e, "bottle 'd' has two different routes for host 'h.com'; keep one");
	free(e);
	/* errors are per bottle */
	ok = mres(set, "a", NULL);
	json_decref(ok);
}

/* ---- errors ---- */

static void test_undefined_parent(void **state)
{
	struct tdir d;
	char *e;

	(void)state;
	tdir_new(&d);
	put(&d, "a.md", "---\n---\n");
	put(&d, "b.md", "---\nenv: {B: x}\n---\n");
	put(&d, "c.md", "---\nextends: [a, ghost]\n---\n");
	e = dres_err(&d, "c", -EINVAL);
	assert_string_equal(
	    e, "bottle 'c' extends 'ghost' which is not defined. Available bottles: a, b, c");
	free(e);
	e = dres_err(&d, "nope", -ENOENT);
	assert_string_equal(e, "bottle 'nope' is not defined. Available bottles: a, b, c");
	free(e);
	/* a name that is not a bottle name is never a path */
	e = dres_err(&d, "../c", -ENOENT);
	free(e);
	put(&d, "x.md", "---\nextends: ../c\n---\n");
	e = dres_err(&d, "x", -EINVAL);
	assert_string_equal(
	    e, "bottle 'x' extends '../c' which is not defined. Available bottles: a, b, c, x");
	free(e);
	tdir_free(&d);
}

static void test_self_reference(void **state)
{
	char *e = mres_err("{\"a\": {}, \"c\": {\"extends\": [\"a\", \"c\"]}}", "c", -EINVAL);

	(void)state;
	assert_string_equal(e, "bottle 'c' extends itself; remove the self-reference");
	free(e);
	e = mres_err("{\"c\": {\"extends\": \"c\"}}", "c", -EINVAL);
	assert_string_equal(e, "bottle 'c' extends itself; remove the self-reference");
	free(e);
}

static void test_non_string_extends(void **state)
{
	char *e = mres_err("{\"c\": {\"extends\": 5}}", "c", -EINVAL);

	(void)state;
	assert_string_equal(e, "bottle 'c' extends must be a string or list of strings (was int)");
	free(e);
	e = mres_err("{\"c\": {\"extends\": {\"a\": 1}}}", "c", -EINVAL);
	assert_string_equal(e, "bottle 'c' extends must be a string or list of strings (was map)");
	free(e);
}

static void test_non_string_list_entry(void **state)
{
	char *e = mres_err("{\"a\": {}, \"c\": {\"extends\": [5]}}", "c", -EINVAL);

	(void)state;
	assert_string_equal(e, "bottle 'c' extends[0] must be a string (was int)");
	free(e);
	e = mres_err("{\"a\": {}, \"c\": {\"extends\": [\"a\", [\"b\"]]}}", "c", -EINVAL);
	assert_string_equal(e, "bottle 'c' extends[1] must be a string (was list)");
	free(e);
}

static void test_cycle_through_multi_parent_edge(void **state)
{
	const char *set = "{\"x\": {\"env\": {\"X\": \"1\"}},"
			  " \"a\": {\"extends\": [\"x\", \"b\"]}, \"b\": {\"extends\": \"a\"},"
			  " \"c\": {\"extends\": [\"x\", \"a\"]}}";
	char *e;
	json_t *x;

	(void)state;
	e = mres_err(set, "a", -EINVAL);
	assert_string_equal(e, "bottle 'a' is in an extends cycle: a -> b -> a");
	free(e);
	e = mres_err(set, "b", -EINVAL);
	assert_string_equal(e, "bottle 'b' is in an extends cycle: b -> a -> b");
	free(e);
	e = mres_err(set, "c", -EINVAL);
	assert_string_equal(e, "bottle 'a' is in an extends cycle: a -> b -> a");
	free(e);
	x = mres(set, "x", NULL);
	json_decref(x);
}

/* ---- files ---- */

static const char *yaml_bottle = "---\n"
				 "# a comment\n"
				 "extends: [base]\n"
				 "env:\n"
				 "  PLAIN: hello world\n"
				 "  QUOTED: \"8080\"\n"
				 "  SINGLE: 'it''s'\n"
				 "  PORT: 8080\n"
				 "  NEG: -3\n"
				 "  RATIO: 0.5\n"
				 "  YES: yes\n"
				 "  HEX: 0x1F\n"
				 "  BLOCK: |\n"
				 "    line one\n"
				 "    line two\n"
				 "agent_provider: claude\n"
				 "supervise: true\n"
				 "git-gate:\n"
				 "  user: {name: Bot, email: bot@example.com}\n"
				 "  repos:\n"
				 "    dotfiles:\n"
				 "      url: ssh://git@example.com/dotfiles.git\n"
				 "      host_key: \"ssh-ed25519 AAAA\"\n"
				 "      key: {provider: vault, path: secret/x}\n"
				 "egress:\n"
				 "  routes:\n"
				 "    - host: api.example.com\n"
				 "      port: 443\n"
				 "    - {host: \"pypi.org\"}\n"
				 "  log: full\n"
				 "---\n"
				 "# Bottle\n\nMarkdown body with --- inside a line.\n";

static const char *json_manifest =
    "{\"bottles\": {\"base\": {\"env\": {\"BASE\": \"b\"}},\n"
    " \"x\": {\"extends\": [\"base\"], \"env\": {\"PLAIN\": \"hello world\", \"QUOTED\": \"8080\","
    " \"SINGLE\": \"it's\", \"PORT\": 8080, \"NEG\": -3, \"RATIO\": 0.5, \"YES\": \"yes\","
    " \"HEX\": \"0x1F\", \"BLOCK\": \"line one\\nline two\\n\"},"
    " \"agent_provider\": \"claude\", \"supervise\": true,"
    " \"git-gate\": {\"user\": {\"name\": \"Bot\", \"email\": \"bot@example.com\"},"
    " \"repos\": {\"dotfiles\": {\"url\": \"ssh://git@example.com/dotfiles.git\","
    " \"host_key\": \"ssh-ed25519 AAAA\", \"key\": {\"provider\": \"vault\", \"path\": "
    "\"secret/x\"}}}},"
    " \"egress\": {\"routes\": [{\"host\": \"api.example.com\", \"port\": 443},"
    " {\"host\": \"pypi.org\"}], \"log\": \"full\"}}}}\n";

static char *resolve_text(const char *dir, const char *name)
{
	struct buf err = BUF_INIT(1 << 20);
	char *text = NULL;
	int r = manifest_resolve(dir, name, &text, &err);

	if (r != 0)
		fail_msg("resolve '%s' failed (%d): %s", name, r, buf_cstr(&err));
	buf_release(&err);
	return text;
}

static void test_yaml_and_json_identical(void **state)
{
	struct tdir y, j;
	char *a, *b;

	(void)state;
	tdir_new(&y);
	tdir_new(&j);
	put(&y, "x.md", yaml_bottle);
	put(&y, "base.md", "---\nenv:\n  BASE: b\n---\n");
	put(&j, "manifest.json", json_manifest);
	a = resolve_text(y.path, "x");
	b = resolve_text(j.path, "x");
	assert_string_equal(a, b);
	/* and it is what the SPEC says: extends gone, parent first */
	assert_non_null(strstr(a, "{\n  \"env\": {\n    \"BASE\": \"b\",\n    \"PLAIN\""));
	assert_null(strstr(a, "extends"));
	free(a);
	free(b);
	tdir_free(&y);
	tdir_free(&j);
}

static void test_idempotent(void **state)
{
	struct tdir y, j, m;
	struct buf mj = BUF_INIT(1 << 20);
	char *a, *b, *c;

	(void)state;
	tdir_new(&y);
	tdir_new(&j);
	tdir_new(&m);
	put(&y, "x.md", yaml_bottle);
	put(&y, "base.md", "---\nenv:\n  BASE: b\n  R: 0.1\n---\n");
	a = resolve_text(y.path, "x");
	/* fed back as JSON ... */
	assert_int_equal(buf_printf(&mj, "{\"bottles\": {\"x\": %s}}", a), 0);
	put(&j, "manifest.json", buf_cstr(&mj));
	b = resolve_text(j.path, "x");
	assert_string_equal(a, b);
	/* ... and as YAML front matter (JSON is flow YAML) */
	putf(&m, "x.md", "---\n%s---\n", a);
	c = resolve_text(m.path, "x");
	assert_string_equal(a, c);
	free(a);
	free(b);
	free(c);
	buf_release(&mj);
	tdir_free(&y);
	tdir_free(&j);
	tdir_free(&m);
}

static void test_duplicate_definition(void **state)
{
	struct tdir d;
	char *e;
	json_t *v;

	(void)state;
	tdir_new(&d);
	put(&d, "a.md", "---\nenv: {A: md}\n---\n");
	put(&d, "b.md", "---\nextends: a\n---\n");
	put(&d, "manifest.json", "{\"bottles\": {\"a\": {\"env\": {\"A\": \"json\"}}, \"j\": {}}}");
	e = dres_err(&d, "a", -EINVAL);
	assert_string_equal(e, "bottle 'a' is defined twice: a.md and manifest.json; remove one");
	free(e);
	e = dres_err(&d, "b", -EINVAL);
	assert_string_equal(e, "bottle 'a' is defined twice: a.md and manifest.json; remove one");
	free(e);
	v = dres(&d, "j", NULL); /* a broken bottle never hides a good one */
	assert_json(v, "{}");
	json_decref(v);
	tdir_free(&d);
}

static void test_invalid_yaml(void **state)
{
	struct tdir d;
	char *e;
	json_t *v;

	(void)state;
	tdir_new(&d);
	put(&d, "bad.md", "---\nenv: {A: [1, 2}\n---\n");
	put(&d, "list.md", "---\n- a\n- b\n---\n");
	put(&d, "nofm.md", "# just markdown\n");
	put(&d, "open.md", "---\nenv: {}\n");
	put(&d, "alias.md", "---\nbase: &b {A: 1}\nenv: *b\n---\n");
	put(&d, "dupkey.md", "---\nenv: {A: 1}\nenv: {B: 2}\n---\n");
	put(&d, "good.md", "---\nenv: {A: '1'}\n---\n");
	e = dres_err(&d, "bad", -EINVAL);
	assert_non_null(strstr(e, "bottle 'bad': front matter is not valid YAML: "));
	assert_non_null(strstr(e, "line 2"));
	free(e);
	e = dres_err(&d, "list", -EINVAL);
	assert_string_equal(e, "bottle 'list': front matter must be a YAML mapping (was list)");
	free(e);
	e = dres_err(&d, "nofm", -EINVAL);
	assert_string_equal(
	    e, "bottle 'nofm': 'nofm.md' has no front matter (its first line must be ---)");
	free(e);
	e = dres_err(&d, "open", -EINVAL);
	assert_string_equal(e,
			    "bottle 'open': front matter of 'open.md' is not closed by a --- line");
	free(e);
	e = dres_err(&d, "alias", -EINVAL);
	assert_string_equal(e, "bottle 'alias': YAML aliases (*b) are not supported (line 3)");
	free(e);
	e = dres_err(&d, "dupkey", -EINVAL);
	assert_string_equal(e, "bottle 'dupkey': duplicate key 'env' at line 3");
	free(e);
	v = dres(&d, "good", NULL);
	assert_json(v, "{\"env\": {\"A\": \"1\"}}");
	json_decref(v);
	tdir_free(&d);
}

static void test_non_utf8(void **state)
{
	struct tdir d;
	char *e;
	json_t *v;

	static const char bin[] = "---\nenv: {A: \"\xff\xfe\"}\n---\n";
	static const char mj[] = "{\"bottles\": {\"j\": {\"env\": {\"A\": \"\xc3\x28\"}}}}";

	(void)state;
	tdir_new(&d);

	put_bytes(&d, "bin.md", bin, sizeof(bin) - 1);
	put_bytes(&d, "manifest.json", mj, sizeof(mj) - 1);
	put(&d, "ok.md", "---\nenv: {A: \"gr\xc3\xbc\xc3\x9f\"}\n---\n");
	e = dres_err(&d, "bin", -EINVAL);
	assert_string_equal(e, "bottle 'bin': 'bin.md' is not valid UTF-8");
	free(e);
	e = dres_err(&d, "j", -EINVAL);
	assert_string_equal(e, "bottle 'j': 'manifest.json' is not valid UTF-8");
	free(e);
	/* the broken manifest.json does not hide a good .md bottle */
	v = dres(&d, "ok", NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(v, "env"), "A")),
			    "gr\xc3\xbc\xc3\x9f");
	json_decref(v);
	tdir_free(&d);
}

static void test_oversize_file(void **state)
{
	struct tdir d;
	char path[512], *e;
	int fd;
	json_t *v;

	(void)state;
	tdir_new(&d);
	snprintf(path, sizeof(path), "%s/big.md", d.path);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "---\n", 4), 4);
	assert_int_equal(ftruncate(fd, (off_t)50 << 20), 0); /* a 50 MB manifest, sparse */
	close(fd);
	put(&d, "child.md", "---\nextends: big\n---\n");
	put(&d, "small.md", "---\n---\n");
	e = dres_err(&d, "big", -EINVAL);
	assert_string_equal(e, "bottle 'big': 'big.md' is larger than 16 MiB; split it or trim it");
	free(e);
	e = dres_err(&d, "child", -EINVAL);
	assert_string_equal(e, "bottle 'big': 'big.md' is larger than 16 MiB; split it or trim it");
	free(e);
	v = dres(&d, "small", NULL);
	json_decref(v);
	tdir_free(&d);
}

static void test_deep_chain_10000(void **state)
{
	struct manifest_stats st = {0, 0};
	struct tdir d;
	char file[64];
	json_t *v, *env;
	char *e;

	(void)state;
	tdir_new(&d);
	put(&d, "b0.md", "---\nenv: {ROOT: r, LAST: '0'}\n---\n");
	for (int i = 1; i < 10000; i++) {
		snprintf(file, sizeof(file), "b%d.md", i);
		putf(&d, file, "---\nextends: b%d\nenv: {LAST: '%d'}\n---\n", i - 1, i);
	}
	v = dres(&d, "b9999", &st);
	env = json_object_get(v, "env");
	assert_string_equal(json_string_value(json_object_get(env, "ROOT")), "r");
	assert_string_equal(json_string_value(json_object_get(env, "LAST")), "9999");
	assert_int_equal(st.resolved, 10000);
	json_decref(v);
	/* close it into a 10 000-long cycle: a clear, bounded message */
	put(&d, "b0.md", "---\nextends: b9999\n---\n");
	e = dres_err(&d, "b0", -EINVAL);
	assert_non_null(strstr(e, "bottle 'b0' is in an extends cycle: b0 -> b9999 -> b9998"));
	assert_non_null(strstr(e, "more) -> "));
	assert_true(strlen(e) < 1000);
	free(e);
	tdir_free(&d);
}

static void test_thousand_parent_list(void **state)
{
	struct manifest_stats st = {0, 0};
	struct tdir d;
	struct buf c = BUF_INIT(1 << 20);
	char file[64], key[32];
	json_t *v, *env;

	(void)state;
	tdir_new(&d);
	assert_int_equal(buf_puts(&c, "---\nextends:\n"), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(file, sizeof(file), "p%d.md", i);
		putf(&d, file, "---\nenv: {K%d: v%d, LAST: p%d}\n---\n", i, i, i);
		assert_int_equal(buf_printf(&c, "  - p%d\n", i), 0);
	}
	assert_int_equal(buf_puts(&c, "---\n"), 0);
	put(&d, "c.md", buf_cstr(&c));
	v = dres(&d, "c", &st);
	env = json_object_get(v, "env");
	assert_int_equal(json_object_size(env), 1001);
	assert_string_equal(json_string_value(json_object_get(env, "LAST")), "p999");
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "K%d", i);
		assert_non_null(json_object_get(env, key));
	}
	assert_string_equal(json_object_iter_key(json_object_iter(env)), "K0");
	assert_int_equal(st.resolved, 1001);
	json_decref(v);
	buf_release(&c);
	tdir_free(&d);
}

static void test_only_needed_files_read(void **state)
{
	struct manifest_stats st = {0, 0};
	struct tdir d;
	json_t *v;
	char *e;

	(void)state;
	tdir_new(&d);
	put(&d, "broken.md", "---\nenv: [unclosed\n---\n");
	put(&d, "base.md", "---\nenv: {A: '1'}\n---\n");
	put(&d, "good.md", "---\nextends: base\n---\n");
	v = dres(&d, "good", &st);
	assert_int_equal(st.files_read, 2); /* good.md, base.md */
	json_decref(v);
	put(&d, "manifest.json", "{\"bottles\": {\"j\": {\"extends\": \"base\"}}}");
	st = (struct manifest_stats){0, 0};
	v = dres(&d, "j", &st);
	assert_int_equal(st.files_read, 2); /* manifest.json, base.md */
	assert_json(v, "{\"env\": {\"A\": \"1\"}}");
	json_decref(v);
	e = dres_err(&d, "broken", -EINVAL);
	free(e);
	tdir_free(&d);
}

static void test_gitgate_user_nonempty_overlay(void **state)
{
	json_t *c = mres(
	    "{\"a\": {\"git-gate\": {\"user\": {\"name\": \"A\", \"email\": \"a@x\"}}},"
	    " \"b\": {\"git-gate\": {\"user\": {\"name\": \"\", \"email\": \"b@x\"}}},"
	    " \"c\": {\"extends\": [\"a\", \"b\"], \"git-gate\": {\"user\": {\"name\": null}}},"
	    " \"e\": {\"git-gate\": {\"user\": {\"name\": \"\"}}}}",
	    "c", NULL);
	json_t *e;

	(void)state;
	assert_json(c, "{\"git-gate\": {\"user\": {\"name\": \"A\", \"email\": \"b@x\"}}}");
	json_decref(c);
	/* only empty fields: nothing set, nothing shown (no empty maps) */
	e = mres("{\"e\": {\"git-gate\": {\"user\": {\"name\": \"\"}}, \"env\": {}}}", "e", NULL);
	assert_json(e, "{}");
	json_decref(e);
}

static void test_egress_log_later_wins_only_where_set(void **state)
{
	const char *set =
	    "{\"a\": {\"egress\": {\"log\": \"full\"}},"
	    " \"b\": {\"egress\": {\"routes\": [{\"host\": \"b.com\"}]}},"
	    " \"n\": {\"egress\": {\"log\": \"none\"}},"
	    " \"ab\": {\"extends\": [\"a\", \"b\"]}, \"an\": {\"extends\": [\"a\", \"n\"]},"
	    " \"abn\": {\"extends\": [\"ab\", \"b\"], \"egress\": {\"log\": null}}}";
	json_t *ab = mres(set, "ab", NULL), *an = mres(set, "an", NULL),
	       *abn = mres(set, "abn", NULL);

	(void)state;
	assert_json(ab, "{\"egress\": {\"log\": \"full\", \"routes\": [{\"host\": \"b.com\"}]}}");
	assert_json(an, "{\"egress\": {\"log\": \"none\"}}");
	assert_json(abn, "{\"egress\": {\"log\": \"full\", \"routes\": [{\"host\": \"b.com\"}]}}");
	json_decref(ab);
	json_decref(an);
	json_decref(abn);
}

/* ---- further decisions ---- */

static void test_fields_nobody_set_left_out(void **state)
{
	json_t *v = mres("{\"a\": {\"env\": null, \"git-gate\": {}, \"egress\": {\"routes\": []}},"
			 " \"b\": {\"extends\": [\"a\"]}}",
			 "b", NULL);

	(void)state;
	assert_json(v, "{}");
	json_decref(v);
}

static void test_type_errors(void **state)
{
	char *e;

	(void)state;
	e = mres_err("{\"c\": {\"env\": [\"A=1\"]}}", "c", -EINVAL);
	assert_string_equal(e, "bottle 'c' env must be a map (was list)");
	free(e);
	e = mres_err("{\"c\": {\"supervise\": \"yes\"}}", "c", -EINVAL);
	assert_string_equal(e, "bottle 'c' supervise must be true or false (was string)");
	free(e);
	e = mres_err("{\"c\": {\"agent_provider\": 1}}", "c", -EINVAL);
	assert_string_equal(e, "bottle 'c' agent_provider must be a string (was int)");
	free(e);
	e = mres_err("{\"c\": {\"egress\": {\"routes\": [{\"port\": 1}]}}}", "c", -EINVAL);
	assert_string_equal(
	    e, "bottle 'c' egress.routes[0] must be a map with a string host (was map)");
	free(e);
	e = mres_err("{\"c\": {\"git-gate\": {\"repos\": {\"r\": \"url\"}}}}", "c", -EINVAL);
	assert_string_equal(e, "bottle 'c' git-gate.repos.r must be a map (was string)");
	free(e);
	/* a parent's error is the child's, naming the parent */
	e = mres_err("{\"p\": {\"env\": 1}, \"c\": {\"extends\": \"p\"}}", "c", -EINVAL);
	assert_string_equal(e, "bottle 'p' env must be a map (was int)");
	free(e);
}

static void test_list_and_names(void **state)
{
	struct tdir d;
	struct buf err = BUF_INIT(4096);
	char **names = NULL;
	size_t n = 0;

	(void)state;
	tdir_new(&d);
	put(&d, "b.md", "---\n---\n");
	put(&d, "a.md", "not even front matter");
	put(&d, ".hidden.md", "---\n---\n");
	put(&d, "sp ace.md", "---\n---\n");
	put(&d, "notes.txt", "x");
	put(&d, "manifest.json", "{\"bottles\": {\"j\": {}, \"b\": {}, \"../up\": {}, \"\": {}}}");
	assert_int_equal(manifest_list(d.path, &names, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "a");
	assert_string_equal(names[1], "b");
	assert_string_equal(names[2], "j");
	manifest_names_free(names, n);
	/* a broken manifest.json: the .md bottles are still listed, err says why */
	put(&d, "manifest.json", "{\"bottles\": ");
	assert_int_equal(manifest_list(d.path, &names, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_non_null(strstr(buf_cstr(&err), "'manifest.json' is not valid JSON"));
	manifest_names_free(names, n);
	assert_int_equal(manifest_list("/nonexistent-bottles-dir", &names, &n, &err), -ENOENT);
	assert_false(manifest_name_valid("../x"));
	assert_false(manifest_name_valid(".x"));
	assert_false(manifest_name_valid("a/b"));
	assert_false(manifest_name_valid(""));
	assert_true(manifest_name_valid("a.b_c-9"));
	{
		char longname[MANIFEST_MAX_NAME + 2];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[MANIFEST_MAX_NAME] = '\0';
		assert_true(manifest_name_valid(longname));
		longname[MANIFEST_MAX_NAME] = 'a';
		longname[MANIFEST_MAX_NAME + 1] = '\0';
		assert_false(manifest_name_valid(longname));
	}
	buf_release(&err);
	tdir_free(&d);
}

static void test_source(void **state)
{
	struct tdir d;
	struct buf err = BUF_INIT(4096);
	char *text = NULL;
	size_t len = 0;

	(void)state;
	tdir_new(&d);
	put(&d, "m.md", yaml_bottle);
	put(&d, "broken.md", "---\n: : :\n---\n");
	put(&d, "manifest.json",
	    "{\"bottles\": {\"j\": {\"extends\": \"m\", \"env\": {\"A\": 1}}}}");
	assert_int_equal(manifest_source(d.path, "m", &text, &len, &err), 0);
	assert_string_equal(text, yaml_bottle);
	assert_int_equal(len, strlen(yaml_bottle));
	free(text);
	assert_int_equal(manifest_source(d.path, "j", &text, &len, &err), 0);
	assert_string_equal(text, "{\n  \"extends\": \"m\",\n  \"env\": {\n    \"A\": 1\n  }\n}\n");
	free(text);
	/* the source of a bottle that does not parse is still shown */
	assert_int_equal(manifest_source(d.path, "broken", &text, &len, &err), 0);
	free(text);
	assert_int_equal(manifest_source(d.path, "ghost", &text, &len, &err), -ENOENT);
	assert_string_equal(buf_cstr(&err), "bottle 'ghost' is not defined");
	buf_release(&err);
	tdir_free(&d);
}

static void test_edits_seen_on_next_read(void **state)
{
	struct tdir d;
	json_t *v;

	(void)state;
	tdir_new(&d);
	put(&d, "a.md", "---\nenv: {A: one}\n---\n");
	v = dres(&d, "a", NULL);
	assert_json(v, "{\"env\": {\"A\": \"one\"}}");
	json_decref(v);
	put(&d, "a.md", "---\nenv: {A: two}\n---\n");
	v = dres(&d, "a", NULL);
	assert_json(v, "{\"env\": {\"A\": \"two\"}}");
	json_decref(v);
	tdir_free(&d);
}

static void test_yaml_scalars_and_nesting(void **state)
{
	struct buf err = BUF_INIT(4096);
	struct buf deep = BUF_INIT(1 << 20);
	json_t *v = NULL;
	const char *md = "---\r\n"
			 "x: {a: TRUE, b: False, c: ~, d: '', e: 007, f: 1e3, g: -0.25,"
			 " h: 99999999999999999999, i: !!str 12, j: \"true\", k: .inf}\r\n"
			 "---\r\n";

	(void)state;
	assert_int_equal(manifest_parse_md("s", md, strlen(md), &v, &err), 0);
	assert_json(v, "{\"x\": {\"a\": true, \"b\": false, \"c\": null, \"d\": \"\","
		       " \"e\": \"007\", \"f\": 1000.0, \"g\": -0.25,"
		       " \"h\": \"99999999999999999999\", \"i\": \"12\", \"j\": \"true\","
		       " \"k\": \".inf\"}}");
	json_decref(v);
	/* empty front matter is an empty bottle */
	assert_int_equal(manifest_parse_md("e", "---\n---\n", 8, &v, &err), 0);
	assert_json(v, "{}");
	json_decref(v);
	/* nesting is capped with a clear error, not a deep recursion */
	assert_int_equal(buf_puts(&deep, "---\nx: "), 0);
	for (int i = 0; i < 100000; i++)
		assert_int_equal(buf_putc(&deep, '['), 0);
	assert_int_equal(buf_puts(&deep, "\n---\n"), 0);
	assert_int_equal(manifest_parse_md("deep", deep.data, deep.len, &v, &err), -EINVAL);
	assert_non_null(strstr(buf_cstr(&err), "bottle 'deep': values nest deeper than 64 levels"));
	buf_release(&deep);
	buf_release(&err);
}

/*
 * manifest.json read lazily gives exactly what manifest_parse_json gives:
 * the same error text, or the same value for every name. The scanner must
 * be sure (lazy) for ordinary files, and hand over whatever it cannot
 * vouch for.
 */
static void check_mj_same(const char *text, int want_lazy)
{
	struct buf e1 = BUF_INIT(1 << 20), e2 = BUF_INIT(1 << 20);
	struct manifest_json *mj = NULL;
	json_t *all = NULL, *v, *w, *names;
	const char *k;
	size_t len = strlen(text), count = 0;
	int r1 = manifest_parse_json(text, len, &all, &e1);
	int r2 = manifest_json_parse(text, len, &mj, &e2);

	if (r1 != r2 || strcmp(buf_cstr(&e1), buf_cstr(&e2)))
		fail_msg("%s: full %d '%s', lazy %d '%s'", text, r1, buf_cstr(&e1), r2,
			 buf_cstr(&e2));
	if (r1 == 0) {
		if (want_lazy >= 0 && manifest_json_lazy(mj) != want_lazy)
			fail_msg("%s: lazy should be %d", text, want_lazy);
		json_object_foreach(all, k, v)
		{
			char *a = NULL, *b = NULL;

			assert_int_equal(manifest_json_get(mj, k, &w), 0);
			a = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
			b = json_dumps(w, JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
			assert_non_null(a);
			assert_non_null(b);
			if (strcmp(a, b) || !json_equal(v, w))
				fail_msg("%s: '%s' differs:\n%s\n%s", text, k, a, b);
			free(a);
			free(b);
			json_decref(w);
		}
		names = manifest_json_names(mj);
		json_object_foreach(names, k, v)
		{
			assert_non_null(json_object_get(all, k));
			count++;
		}
		assert_int_equal(count, json_object_size(all));
		assert_int_equal(manifest_json_get(mj, "no-such", &w), -ENOENT);
		json_decref(names);
	}
	json_decref(all);
	manifest_json_free(mj);
	buf_release(&e1);
	buf_release(&e2);
}

static void test_manifest_json_lazy_same(void **state)
{
	struct buf deep = BUF_INIT(0);

	(void)state;
	/* ordinary files: the scanner is sure */
	check_mj_same("{}", 1);
	check_mj_same("{\"bottles\": {}}", 1);
	check_mj_same(" {\"x\": [1, {\"a\": null}], \"bottles\": {\"a\": {\"env\": {\"K\": \"v\"}, "
		      "\"extends\": [\"b\"], \"supervise\": true, \"n\": -0.5e-3, "
		      "\"i\": -9223372036854775808, \"j\": 9223372036854775807},"
		      " \"b\": 3, \"../x\": {}, \"\": {}, \"s\": \"\\u00e9\\n\\\"\\/\"}}\r\n",
		      1);
	check_mj_same(
	    "{\"bottles\": {\"a\": {}}, \"other\": {\"a\": 1, \"b\": 2, \"c\": 3, \"d\": 4, "
	    "\"e\": 5, \"f\": 6, \"g\": 7, \"h\": 8, \"i\": 9, \"j\": 10}}",
	    1);
	/* what jansson refuses, and what manifest_parse_json refuses */
	check_mj_same("", -1);
	check_mj_same("{\"bottles\": {\"a\": {}}", -1);
	check_mj_same("{\"bottles\": {\"a\": {}}} x", -1);
	check_mj_same("{\"bottles\": {\"a\": {}, \"a\": {}}}", -1);
	check_mj_same("{\"bottles\": {\"a\": {\"k\": 1, \"k\": 2}}}", -1);
	check_mj_same(
	    "{\"o\": {\"1\": 1, \"2\": 1, \"3\": 1, \"4\": 1, \"5\": 1, \"6\": 1, \"7\": 1, "
	    "\"8\": 1, \"9\": 1, \"3\": 2}}",
	    -1);
	check_mj_same("{\"bottles\": {\"a\": 01}}", -1);
	check_mj_same("{\"bottles\": {\"a\": 1.}}", -1);
	check_mj_same("{\"bottles\": {\"a\": -}}", -1);
	check_mj_same("{\"bottles\": {\"a\": 9223372036854775808}}", -1);
	check_mj_same("{\"bottles\": {\"a\": -9223372036854775809}}", -1);
	check_mj_same("{\"bottles\": {\"a\": 1e999}}", -1);
	check_mj_same("{\"bottles\": {\"a\": truex}}", -1);
	check_mj_same("{\"bottles\": {\"a\": [1,]}}", -1);
	check_mj_same("{\"bottles\": {\"a\": \"\x01\"}}", -1);
	check_mj_same("{\"bottles\": {\"a\": \"\\u0000\"}}", -1);
	check_mj_same("{\"bottles\": {\"a\": \"\\ud83d\\ude00\"}}", 0);
	check_mj_same("{\"bottles\": {\"a\": \"\\ud83d\"}}", -1);
	check_mj_same("{\"bottles\": {\"a\": \"\\x\"}}", -1);
	check_mj_same("{\"bottles\": {\"\\u0061\": {}, \"a\": {}}}", -1);
	check_mj_same("{\"bottles\": {\"\\u0062\": {}}}", 0);
	check_mj_same("{\"bottles\": []}", -1);
	check_mj_same("{\"bottles\": null}", -1);
	check_mj_same("[]", -1);
	check_mj_same("\xEF\xBB\xBF{}", -1);
	check_mj_same("{\"bottles\": {\"a\": \"\xC3\"}}", -1);
	/* nesting: the limit of manifest.json, and deeper elsewhere */
	assert_int_equal(buf_puts(&deep, "{\"bottles\": {\"a\": "), 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(buf_putc(&deep, '['), 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(buf_putc(&deep, ']'), 0);
	assert_int_equal(buf_puts(&deep, "}}"), 0);
	check_mj_same(buf_cstr(&deep), 1);
	buf_reset(&deep);
	assert_int_equal(buf_puts(&deep, "{\"bottles\": {\"a\": "), 0);
	for (int i = 0; i < 65; i++)
		assert_int_equal(buf_putc(&deep, '['), 0);
	for (int i = 0; i < 65; i++)
		assert_int_equal(buf_putc(&deep, ']'), 0);
	assert_int_equal(buf_puts(&deep, "}}"), 0);
	check_mj_same(buf_cstr(&deep), -1);
	buf_reset(&deep);
	assert_int_equal(buf_puts(&deep, "{\"x\": "), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_putc(&deep, '['), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(buf_putc(&deep, ']'), 0);
	assert_int_equal(buf_puts(&deep, "}"), 0);
	check_mj_same(buf_cstr(&deep), 0);
	buf_release(&deep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_single_element_list_same_as_string),
	    cmocka_unit_test(test_two_parents_env_union),
	    cmocka_unit_test(test_env_later_wins),
	    cmocka_unit_test(test_child_wins_over_all_parents),
	    cmocka_unit_test(test_supervise_later_wins),
	    cmocka_unit_test(test_child_supervise_overrides_all),
	    cmocka_unit_test(test_routes_concatenated),
	    cmocka_unit_test(test_child_routes_after_parents),
	    cmocka_unit_test(test_git_repos_union),
	    cmocka_unit_test(test_same_name_repo_per_field_later_wins),
	    cmocka_unit_test(test_earlier_parent_repos_kept),
	    cmocka_unit_test(test_diamond_resolved_once),
	    cmocka_unit_test(test_three_parents_fold_order),
	    cmocka_unit_test(test_unset_agent_provider_does_not_reset),
	    cmocka_unit_test(test_identical_inherited_routes_kept_once),
	    cmocka_unit_test(test_two_routes_one_host_error),
	    cmocka_unit_test(test_undefined_parent),
	    cmocka_unit_test(test_self_reference),
	    cmocka_unit_test(test_non_string_extends),
	    cmocka_unit_test(test_non_string_list_entry),
	    cmocka_unit_test(test_cycle_through_multi_parent_edge),
	    cmocka_unit_test(test_yaml_and_json_identical),
	    cmocka_unit_test(test_idempotent),
	    cmocka_unit_test(test_duplicate_definition),
	    cmocka_unit_test(test_invalid_yaml),
	    cmocka_unit_test(test_non_utf8),
	    cmocka_unit_test(test_oversize_file),
	    cmocka_unit_test(test_deep_chain_10000),
	    cmocka_unit_test(test_thousand_parent_list),
	    cmocka_unit_test(test_only_needed_files_read),
	    cmocka_unit_test(test_gitgate_user_nonempty_overlay),
	    cmocka_unit_test(test_egress_log_later_wins_only_where_set),
	    cmocka_unit_test(test_fields_nobody_set_left_out),
	    cmocka_unit_test(test_type_errors),
	    cmocka_unit_test(test_list_and_names),
	    cmocka_unit_test(test_source),
	    cmocka_unit_test(test_edits_seen_on_next_read),
	    cmocka_unit_test(test_yaml_scalars_and_nesting),
	    cmocka_unit_test(test_manifest_json_lazy_same),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
