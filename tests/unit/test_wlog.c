/*
 * The outcome log behind /.bottlefs/log (write/wlog.c): its line format, the
 * ring of WLOG_LINES, and escaping: no agent-chosen byte may split a line,
 * hide in a tab-separated field, or reach a terminal as an escape.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "write/write.h"
#include "util/buf.h"

/* 2025-01-31T12:00:00Z */
#define T0 ((time_t)1738324800)

static char *text_of(struct wlog *l)
{
	struct buf b = BUF_INIT(0);

	assert_int_equal(wlog_text(l, &b), 0);
	return buf_steal(&b, NULL);
}

static void test_format(void **s)
{
	struct wlog *l;
	char *t;

	(void)s;
	assert_int_equal(wlog_new(&l), 0);
	t = text_of(l);
	assert_string_equal(t, "");
	free(t);
	wlog_add_at(l, T0, "/forge/a/b/issues/2/comments/new", 0, "comment 42");
	wlog_add_at(l, T0 + 1, "/done", -EINVAL,
		    "done: status must be success, failure or blocked");
	wlog_add_at(l, T0 + 2, "/forge/a/b/issues/2/body", 0, NULL);
	t = text_of(l);
	assert_string_equal(
	    t, "2025-01-31T12:00:00Z\t/forge/a/b/issues/2/comments/new\tok\tcomment 42\n"
	       "2025-01-31T12:00:01Z\t/done\tEINVAL\tdone: status must be success, "
	       "failure or blocked\n"
	       "2025-01-31T12:00:02Z\t/forge/a/b/issues/2/body\tok\t\n");
	free(t);
	wlog_add(NULL, "/done", 0, "nothing happens");
	wlog_free(l);
	wlog_free(NULL);
}

static void test_escapes(void **s)
{
	struct wlog *l;
	char *t;

	(void)s;
	assert_int_equal(wlog_new(&l), 0);
	wlog_add_at(l, T0, "/forge/a/b/issues/2/evil\nname\t\x1b[31m", -EFBIG,
		    "caf\xc3\xa9 \xc2\x9b \xff back\\slash \r\x7f");
	t = text_of(l);
	assert_string_equal(t, "2025-01-31T12:00:00Z\t/forge/a/b/issues/2/evil\\nname\\t\\x1b[31m"
			       "\tEFBIG\tcaf\xc3\xa9 \\xc2\\x9b \\xff back\\\\slash \\r\\x7f\n");
	free(t);
	wlog_free(l);
}

static void test_ring_and_cap(void **s)
{
	struct wlog *l;
	char path[32], *t, *p, *big = malloc(8 * WLOG_LINE_MAX);
	int i, lines = 0;

	(void)s;
	assert_int_equal(wlog_new(&l), 0);
	for (i = 0; i < WLOG_LINES + 20; i++) {
		snprintf(path, sizeof(path), "/p%d", i);
		wlog_add_at(l, T0, path, 0, NULL);
	}
	t = text_of(l);
	for (p = t; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, WLOG_LINES);
	/* The oldest kept is the 21st, the newest the last. */
	assert_true(strncmp(t, "2025-01-31T12:00:00Z\t/p20\t", 26) == 0);
	assert_non_null(strstr(t, "\t/p119\tok\t\n"));
	free(t);
	/* A line is bounded, and still one line. */
	memset(big, '\n', 8 * WLOG_LINE_MAX - 1);
	big[8 * WLOG_LINE_MAX - 1] = '\0';
	wlog_add_at(l, T0, "/big", -EINVAL, big);
	t = text_of(l);
	p = strstr(t, "\t/big\t");
	assert_non_null(p);
	assert_true(strlen(strchr(p, '\t')) < WLOG_LINE_MAX);
	/* Its only newline is its end. */
	assert_string_equal(strchr(p, '\n'), "\n");
	free(t);
	free(big);
	wlog_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format),
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_ring_and_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
