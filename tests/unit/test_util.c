/* util: the bounded buffer, strict numbers, UTF-8 and the map. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/dir.h"
#include "util/jsontext.h"
#include "util/map.h"
#include "util/ratelimit.h"
#include "util/str.h"
#include "util/time.h"

static void test_buf_max(void **s)
{
	struct buf b = BUF_INIT(8);

	(void)s;
	assert_int_equal(buf_puts(&b, "12345678"), 0);
	assert_int_equal(buf_putc(&b, 'x'), -E2BIG);
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_cstr(&b), "12345678");
	buf_release(&b);
}

static void test_buf_printf_steal(void **s)
{
	struct buf b = BUF_INIT(0);
	size_t len;
	char *p;

	(void)s;
	assert_string_equal(buf_cstr(&b), "");
	assert_int_equal(buf_printf(&b, "%s-%d", "a", 42), 0);
	p = buf_steal(&b, &len);
	assert_string_equal(p, "a-42");
	assert_int_equal(len, 4);
	assert_null(b.data);
	free(p);
	p = buf_steal(&b, &len);
	assert_string_equal(p, "");
	free(p);
}

static void test_numbers(void **s)
{
	uint64_t v;

	(void)s;
	assert_int_equal(str_to_u64("42", 100, false, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(str_to_u64("042", 100, false, &v), -EINVAL);
	assert_int_equal(str_to_u64("0", 100, false, &v), -EINVAL);
	assert_int_equal(str_to_u64("0", 100, true, &v), 0);
	assert_int_equal(str_to_u64("101", 100, false, &v), -ERANGE);
	assert_int_equal(str_to_u64("-1", 100, false, &v), -EINVAL);
	assert_int_equal(str_to_u64(" 1", 100, false, &v), -EINVAL);
	assert_int_equal(str_to_u64("", 100, false, &v), -EINVAL);
	assert_int_equal(str_to_u64("18446744073709551616", UINT64_MAX, false, &v), -ERANGE);
	assert_int_equal(str_to_u64("18446744073709551615", UINT64_MAX, false, &v), 0);
	assert_true(v == UINT64_MAX);
}

static void test_utf8(void **s)
{
	const char *e = "h\xc3\xa9";	    /* "hé" */
	const char *euro = "a\xe2\x82\xac"; /* "a€" */

	(void)s;
	assert_true(str_utf8_valid(e, 3));
	assert_false(str_utf8_valid("\xc3", 1));
	assert_false(str_utf8_valid("\xc0\x80", 2));	 /* overlong */
	assert_false(str_utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
	assert_int_equal(str_utf8_floor(e, 3), 3);
	assert_int_equal(str_utf8_floor(e, 2), 1);
	assert_int_equal(str_utf8_floor(euro, 4), 4);
	assert_int_equal(str_utf8_floor(euro, 3), 1);
	assert_int_equal(str_utf8_floor(euro, 2), 1);
	assert_int_equal(str_utf8_floor(euro, 1), 1);
	assert_int_equal(str_utf8_floor(euro, 0), 0);
}

static void test_map(void **s)
{
	struct map m;
	char key[32];
	int vals[1000], i;
	void *old;

	(void)s;
	map_init(&m);
	for (i = 0; i < 1000; i++) {
		vals[i] = i;
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(map_put(&m, key, &vals[i], &old), 0);
		assert_null(old);
	}
	assert_int_equal(m.count, 1000);
	assert_ptr_equal(map_get(&m, "k500"), &vals[500]);
	assert_int_equal(map_put(&m, "k500", &vals[1], &old), 0);
	assert_ptr_equal(old, &vals[500]);
	assert_ptr_equal(map_del(&m, "k500"), &vals[1]);
	assert_null(map_get(&m, "k500"));
	assert_null(map_del(&m, "k500"));
	assert_int_equal(m.count, 999);
	map_release(&m);
}

static void test_json_text(void **s)
{
	json_t *j = json_pack("{s:i, s:s}", "b", 1, "a", "x");
	char *t;

	(void)s;
	t = jsontext_pretty(j);
	/* Insertion order, two spaces, and the final newline every file has. */
	assert_string_equal(t, "{\n  \"b\": 1,\n  \"a\": \"x\"\n}\n");
	free(t);
	json_decref(j);
}

static void test_has_control(void **s)
{
	(void)s;
	assert_false(str_has_control("Fix the parser", 14, false));
	assert_false(str_has_control("caf\xc3\xa9 \xe2\x82\xac", 9, false));
	assert_true(str_has_control("a\nb", 3, false));
	assert_false(str_has_control("a\nb\tc", 5, true));
	assert_true(str_has_control("a\rb", 3, true));
	assert_true(str_has_control("\x1b[31mred", 8, true));
	assert_true(str_has_control("del\x7f", 4, false));
	/* C1 CSI (U+009B) and the line separator (U+2028) are controls too. */
	assert_true(str_has_control("x\xc2\x9b"
				    "31m",
				    6, false));
	assert_true(str_has_control("x\xe2\x80\xa8y", 5, true));
	/* A NUL inside the length counts. */
	assert_true(str_has_control("a\0b", 3, true));
	/* Invalid UTF-8 is str_utf8_valid's business, not a control. */
	assert_false(str_has_control("\xff\xfe", 2, false));
	assert_false(str_has_control("", 0, false));
}

static char *escaped(const char *in, size_t n)
{
	struct buf b = BUF_INIT(0);

	assert_int_equal(str_escape_log(&b, in, n), 0);
	return buf_steal(&b, NULL);
}

#define C(in, want)                                                                                \
	{                                                                                          \
		in, sizeof(in) - 1, want                                                           \
	}
static void test_escape_log(void **s)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} cases[] = {
	    C("plain text", "plain text"),
	    C("two\nlines\r\n", "two\\nlines\\r\\n"),
	    C("tab\there", "tab\\there"),
	    C("\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07"),
	    C("back\\slash", "back\\\\slash"),
	    C("nul\0x", "nul\\x00x"),
	    C("del\x7f", "del\\x7f"),
	    C("caf\xc3\xa9", "caf\xc3\xa9"),
	    C("bad \xff\xc3(", "bad \\xff\\xc3("),
	    C("cut \xe2\x82", "cut \\xe2\\x82"),
	    C("csi \xc2\x9b", "csi \\u{009b}"),
	    C("rtl \xe2\x80\xaegnp.exe", "rtl \\u{202e}gnp.exe"),
	    C("ls \xe2\x80\xa8x", "ls \\u{2028}x"),
	};
	size_t i;

	(void)s;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = escaped(cases[i].in, cases[i].n);

		assert_string_equal(got, cases[i].want);
		free(got);
	}
#undef C
	/* Whatever the input, the output is one line of printable UTF-8. */
	{
		unsigned char all[256];
		char *got;
		size_t k;

		for (k = 0; k < 256; k++)
			all[k] = (unsigned char)k;
		got = escaped((const char *)all, sizeof(all));
		assert_true(str_utf8_valid(got, strlen(got)));
		assert_false(str_has_control(got, strlen(got), false));
		free(got);
	}
	{
		struct buf b = BUF_INIT(0);

		assert_int_equal(str_escape_log(&b, NULL, 5), 0);
		assert_int_equal(str_escape_log_cstr(&b, NULL), 0);
		assert_int_equal(b.len, 0);
		buf_release(&b);
	}
}

static void test_branch_names(void **s)
{
	static const char *const good[] = {
	    "main",	   "feature/x", "fix-12", "v1.2.3",   "a/b/c", "release_2025",
	    "caf\xc3\xa9", "a.b",	"x@y",	  "lock.d/x", NULL,
	};
	static const char *const bad[] = {
	    "",	       "mallory:evil", "a..b",	 "-x",	       "/x",	  "x/",		"a//b",
	    ".hidden", "a/.b",	       "x.lock", "a/b.lock/c", "x.",	  "@",		"HEAD",
	    "a b",     "a~1",	       "a^",	 "a?",	       "a*",	  "a[b",	"a\\b",
	    "a@{1}",   "tab\t",	       "nl\n",	 "esc\x1b",    "del\x7f", "c1\xc2\x85", NULL,
	};
	char longname[300];
	size_t i;

	(void)s;
	for (i = 0; good[i]; i++)
		assert_true(str_branch_name_valid(good[i], strlen(good[i])));
	for (i = 0; bad[i]; i++) {
		if (str_branch_name_valid(bad[i], strlen(bad[i])))
			fail_msg("'%s' was accepted as a branch", bad[i]);
	}
	memset(longname, 'a', sizeof(longname));
	assert_true(str_branch_name_valid(longname, 255));
	assert_false(str_branch_name_valid(longname, 256));
	assert_false(str_branch_name_valid(NULL, 0));
}

/* The same line once per repeat window; all lines within the rate; counts of the refused. */
static void test_ratelimit(void **state)
{
	struct ratelimit rl;
	uint64_t refused = 99;
	char line[32];
	int i, allowed = 0;

	(void)state;
	ratelimit_init(&rl, 10000, 5.0, 20.0);
	assert_true(ratelimit_allow(&rl, "a", 1, 1000, &refused));
	assert_int_equal(refused, 0);
	/* The same line again within 10 s: refused, however often. */
	for (i = 0; i < 50; i++)
		assert_false(ratelimit_allow(&rl, "a", 1, 1000 + i * 100, NULL));
	/* After 10 s it may be said once more, with the count of what was refused. */
	assert_true(ratelimit_allow(&rl, "a", 1, 11001, &refused));
	assert_int_equal(refused, 50);
	/* Distinct lines: what is left of the burst (20 less the line just said), then nothing. */
	for (i = 0; i < 100; i++) {
		snprintf(line, sizeof(line), "line %d", i);
		allowed += ratelimit_allow(&rl, line, strlen(line), 11001, NULL);
	}
	assert_int_equal(allowed, 19);
	/* One second later, five more (the rate refills the bucket). */
	allowed = 0;
	for (i = 100; i < 200; i++) {
		snprintf(line, sizeof(line), "line %d", i);
		allowed += ratelimit_allow(&rl, line, strlen(line), 12001, NULL);
	}
	assert_int_equal(allowed, 5);
	/* More distinct live lines than slots: every line is still bounded by the rate. */
	allowed = 0;
	for (i = 0; i < 10000; i++) {
		snprintf(line, sizeof(line), "x %d", i % 200);
		allowed += ratelimit_allow(&rl, line, strlen(line), 100000 + i, NULL);
	}
	assert_true(allowed <= 20 + 50 + 1);
	ratelimit_release(&rl);
}

static void test_time(void **s)
{
	char t[TIME_RFC3339_SIZE];

	(void)s;
	assert_int_equal(time_from_rfc3339("2025-01-31T12:00:00Z"), 1738324800);
	assert_int_equal(time_from_rfc3339("2025-01-31T12:00:00.123Z"), 1738324800);
	assert_int_equal(time_from_rfc3339("2025-01-31T13:30:00+01:30"), 1738324800);
	assert_int_equal(time_from_rfc3339("2025-01-31T10:00:00-02:00"), 1738324800);
	assert_int_equal(time_from_rfc3339("2025-01-31T12:00:00+25:00"), 0);
	assert_int_equal(time_from_rfc3339("yesterday"), 0);
	assert_int_equal(time_from_rfc3339(NULL), 0);
	assert_int_equal(time_to_rfc3339(1738324800, t, sizeof(t)), 0);
	assert_string_equal(t, "2025-01-31T12:00:00Z");
	/* No calendar time: the number, so a line still says something. */
	assert_int_equal(time_to_rfc3339(INT64_MAX, t, sizeof(t)), -EINVAL);
	assert_string_equal(t, "9223372036854775807");
	assert_true(time_mono_ms() > 0);
	assert_true(time_wall_ms() > 1738324800000LL);
}

static void test_dir_make(void **s)
{
	char base[] = "/tmp/bottlefs-dir-XXXXXX", path[256];
	struct stat st;

	(void)s;
	assert_non_null(mkdtemp(base));
	snprintf(path, sizeof(path), "%s/a/b/c.db", base);
	assert_int_equal(dir_make_parents(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/a/b", base);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/a/b/c.db", base);
	assert_int_equal(stat(path, &st), -1);
	snprintf(path, sizeof(path), "%s/q/r/", base);
	assert_int_equal(dir_make(path, 0700), 0);
	assert_int_equal(dir_make(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/q/r", base);
	assert_int_equal(stat(path, &st), 0);
	/* A file in the way is the file system's answer. */
	snprintf(path, sizeof(path), "%s/f", base);
	fclose(fopen(path, "w"));
	snprintf(path, sizeof(path), "%s/f/x", base);
	assert_int_equal(dir_make(path, 0700), -ENOTDIR);
	snprintf(path, sizeof(path), "rm -rf '%s'", base);
	assert_int_equal(system(path), 0);
}

static void test_sanitize(void **s)
{
	struct buf b = BUF_INIT(0);

	(void)s;
	assert_int_equal(str_sanitize(&b,
				      "a\xff"
				      "b\x01"
				      "c\xc3\xa9",
				      7, "?", true),
			 0);
	assert_string_equal(buf_cstr(&b), "a?b?c\xc3\xa9");
	buf_reset(&b);
	assert_int_equal(str_sanitize(&b,
				      "a\xff"
				      "b\x01"
				      "c",
				      5, "\xef\xbf\xbd", false),
			 0);
	assert_string_equal(buf_cstr(&b), "a\xef\xbf\xbd"
					  "b\x01"
					  "c");
	buf_reset(&b);
	/* A character cut at the end is not UTF-8. */
	assert_int_equal(str_sanitize(&b, "x\xe2\x82", 3, "?", true), 0);
	assert_string_equal(buf_cstr(&b), "x??");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_max),	 cmocka_unit_test(test_buf_printf_steal),
	    cmocka_unit_test(test_numbers),	 cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_map),		 cmocka_unit_test(test_json_text),
	    cmocka_unit_test(test_has_control),	 cmocka_unit_test(test_escape_log),
	    cmocka_unit_test(test_branch_names), cmocka_unit_test(test_ratelimit),
	    cmocka_unit_test(test_time),	 cmocka_unit_test(test_dir_make),
	    cmocka_unit_test(test_sanitize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
