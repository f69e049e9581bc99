/* util: the bounded buffer, strict numbers, UTF-8 and the map. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/jsontext.h"
#include "util/map.h"
#include "util/str.h"

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
	t = json_text(j);
	/* Insertion order, two spaces, and the final newline every file has. */
	assert_string_equal(t, "{\n  \"b\": 1,\n  \"a\": \"x\"\n}\n");
	free(t);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_max), cmocka_unit_test(test_buf_printf_steal),
	    cmocka_unit_test(test_numbers), cmocka_unit_test(test_utf8),
	    cmocka_unit_test(test_map), cmocka_unit_test(test_json_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
