/*
 * Unit tests of forge/gitea/decode.c: Gitea JSON text -> forge structs,
 * including what a broken or hostile server can send.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forge/forge.h"
#include "forge/gitea/decode.h"

/* A string literal and its length, for decoders that take bytes. */
#define L(s) s, sizeof(s) - 1

/* Every key Gitea 1.26 sends for an issue (abridged nested objects). */
static const char ISSUE_FULL[] =
    "{\"id\":101,\"url\":\"http://h/api/v1/repos/alice/dot/issues/7\","
    "\"html_url\":\"http://h/alice/dot/issues/7\",\"number\":7,"
    "\"user\":{\"id\":1,\"login\":\"alice\",\"full_name\":\"\"},"
    "\"original_author\":\"\",\"original_author_id\":0,\"title\":\"Fix the frob\","
    "\"body\":\"It is broken.\\nBadly.\",\"ref\":\"\",\"assets\":[],"
    "\"labels\":[{\"id\":1,\"name\":\"bug\",\"color\":\"ee0701\"},"
    "{\"id\":2,\"name\":\"good first issue\",\"color\":\"00ff00\"}],"
    "\"milestone\":null,\"assignee\":null,\"assignees\":null,\"state\":\"open\","
    "\"is_locked\":false,\"comments\":3,\"created_at\":\"2025-01-02T03:04:05Z\","
    "\"updated_at\":\"2025-01-03T03:04:05Z\",\"closed_at\":null,\"due_date\":null,"
    "\"time_estimate\":0,\"pull_request\":null,\"repository\":{\"id\":5,\"name\":\"dot\","
    "\"owner\":\"alice\",\"full_name\":\"alice/dot\"},\"pin_order\":0}";

static int decode_issue_str(const char *s, struct forge_issue *out)
{
	return gitea_decode_issue(s, strlen(s), out, NULL);
}

static void test_issue_every_key(void **state)
{
	struct forge_issue it;
	struct buf err = BUF_INIT(4096);

	(void)state;
	assert_int_equal(gitea_decode_issue(ISSUE_FULL, strlen(ISSUE_FULL), &it, &err), 0);
	assert_int_equal(it.number, 7);
	assert_string_equal(it.title, "Fix the frob");
	assert_string_equal(it.body, "It is broken.\nBadly.");
	assert_string_equal(it.state, "open");
	assert_string_equal(it.author, "alice");
	assert_int_equal(it.n_labels, 2);
	assert_string_equal(it.labels[0], "bug");
	assert_string_equal(it.labels[1], "good first issue");
	assert_int_equal(it.n_comments, 3);
	assert_string_equal(it.updated_at, "2025-01-03T03:04:05Z");
	assert_string_equal(it.created_at, "2025-01-02T03:04:05Z");
	assert_false(it.is_pull);
	assert_null(it.head);
	assert_null(it.base);
	assert_false(it.merged);
	/* Re-serialised with 2-space indent, in the order sent, ending "\n". */
	assert_non_null(it.json);
	assert_true(strncmp(it.json, "{\n  \"id\": 101,\n  \"url\": ", 24) == 0);
	assert_int_equal(it.json[strlen(it.json) - 1], '\n');
	assert_int_not_equal(it.json[strlen(it.json) - 2], '\n');
	assert_non_null(strstr(it.json, "\"pin_order\": 0\n}\n"));
	assert_int_equal(err.len, 0);
	forge_issue_release(&it);
	buf_release(&err);
}

static void test_issue_nulls(void **state)
{
	struct forge_issue it;

	(void)state;
	assert_int_equal(decode_issue_str("{\"number\":3,\"title\":\"t\",\"state\":\"closed\","
					  "\"body\":null,\"user\":null,\"labels\":null,"
					  "\"assignees\":null,\"comments\":null,"
					  "\"updated_at\":null,\"pull_request\":null}",
					  &it),
			 0);
	assert_string_equal(it.body, "");
	assert_string_equal(it.author, "");
	assert_int_equal(it.n_labels, 0);
	assert_null(it.labels);
	assert_int_equal(it.n_comments, 0);
	assert_string_equal(it.updated_at, "");
	assert_false(it.is_pull);
	forge_issue_release(&it);
}

static void test_issue_missing_optional_keys(void **state)
{
	struct forge_issue it;

	(void)state;
	assert_int_equal(decode_issue_str("{\"number\":4,\"title\":\"t\",\"state\":\"open\"}", &it),
			 0);
	assert_int_equal(it.number, 4);
	assert_string_equal(it.body, "");
	assert_string_equal(it.author, "");
	assert_string_equal(it.created_at, "");
	assert_int_equal(it.n_labels, 0);
	assert_string_equal(it.json,
			    "{\n  \"number\": 4,\n  \"title\": \"t\",\n  \"state\": \"open\"\n}\n");
	forge_issue_release(&it);
}

static void expect_eio(const char *s, const char *reason)
{
	struct forge_issue it;
	struct buf err = BUF_INIT(4096);

	memset(&it, 0x5a, sizeof(it));
	assert_int_equal(gitea_decode_issue(s, strlen(s), &it, &err), -EIO);
	/* Out-parameters are untouched on failure. */
	assert_int_equal(it.number, 0x5a5a5a5a5a5a5a5aULL);
	assert_non_null(strstr(buf_cstr(&err), reason));
	buf_release(&err);
}

static void test_issue_missing_required_keys(void **state)
{
	(void)state;
	expect_eio("{\"title\":\"t\",\"state\":\"open\"}", "'number' is missing");
	expect_eio("{\"number\":1,\"state\":\"open\"}", "'title' is missing");
	expect_eio("{\"number\":1,\"title\":\"t\"}", "'state' is missing");
	expect_eio("{\"number\":1,\"title\":null,\"state\":\"open\"}", "'title' is missing");
}

static void test_issue_wrong_types(void **state)
{
	(void)state;
	expect_eio("{\"number\":1,\"title\":5,\"state\":\"open\"}", "'title' is not a string");
	expect_eio("{\"number\":\"1\",\"title\":\"t\",\"state\":\"open\"}",
		   "'number' is not an integer");
	expect_eio("{\"number\":1.5,\"title\":\"t\",\"state\":\"open\"}",
		   "'number' is not an integer");
	expect_eio("{\"number\":-1,\"title\":\"t\",\"state\":\"open\"}",
		   "'number' is out of range");
	expect_eio("{\"number\":0,\"title\":\"t\",\"state\":\"open\"}", "'number' is out of range");
	expect_eio("{\"number\":1,\"title\":\"t\",\"state\":\"open\",\"labels\":{\"name\":\"x\"}}",
		   "'labels' is not an array");
	expect_eio("{\"number\":1,\"title\":\"t\",\"state\":\"open\",\"labels\":[\"bug\"]}",
		   "label 0 is not an object");
	expect_eio("{\"number\":1,\"title\":\"t\",\"state\":\"open\",\"labels\":[{\"name\":1}]}",
		   "'name' is not a string");
	expect_eio("{\"number\":1,\"title\":\"t\",\"state\":\"open\",\"user\":\"alice\"}",
		   "'user' is not an object");
	expect_eio("{\"number\":1,\"title\":\"t\",\"state\":\"open\",\"pull_request\":true}",
		   "'pull_request' is not an object");
	expect_eio("{\"number\":1,\"title\":\"t\",\"state\":\"open\",\"comments\":\"3\"}",
		   "'comments' is not an integer");
	expect_eio("[{\"number\":1,\"title\":\"t\",\"state\":\"open\"}]", "issue is not an object");
	expect_eio("{\"number\":1,\"title\":\"t\",\"state\":\"open\",\"created_at\":5}",
		   "'created_at' is not a string");
}

static void test_non_json_html(void **state)
{
	(void)state;
	expect_eio("<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "not json");
}

static void test_empty_body(void **state)
{
	struct forge_issue_list l;

	(void)state;
	expect_eio("", "empty response");
	assert_int_equal(gitea_decode_issue_list(L(""), false, &l, NULL), -EIO);
	/* An empty array is a valid empty page. */
	assert_int_equal(gitea_decode_issue_list(L("[]"), false, &l, NULL), 0);
	assert_int_equal(l.n, 0);
	forge_issue_list_release(&l);
}

static void test_truncated_json(void **state)
{
	struct forge_issue_list l;
	size_t n;

	(void)state;
	/* Every proper prefix of a valid object must be refused. */
	for (n = 1; n < strlen(ISSUE_FULL); n++) {
		struct forge_issue it;

		assert_int_equal(gitea_decode_issue(ISSUE_FULL, n, &it, NULL), -EIO);
	}
	assert_int_equal(gitea_decode_issue_list(L("[{\"number\":1,"), false, &l, NULL), -EIO);
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	expect_eio("{\"number\":1,\"title\":\"bad \xc3\x28\",\"state\":\"open\"}",
		   "not valid json");
	expect_eio("{\"number\":1,\"title\":\"\xed\xa0\x80\",\"state\":\"open\"}",
		   "not valid json");
	/* A lone surrogate escape and an escaped NUL are refused too. */
	expect_eio("{\"number\":1,\"title\":\"\\ud800\",\"state\":\"open\"}", "not valid json");
	expect_eio("{\"number\":1,\"title\":\"a\\u0000b\",\"state\":\"open\"}", "not valid json");
}

static void test_pr_via_issue_endpoint(void **state)
{
	struct forge_issue it;

	(void)state;
	assert_int_equal(decode_issue_str("{\"number\":9,\"title\":\"PR\",\"state\":\"closed\","
					  "\"body\":\"b\",\"pull_request\":{\"merged\":true,"
					  "\"merged_at\":\"2025-01-01T00:00:00Z\",\"draft\":false,"
					  "\"html_url\":\"http://h/a/b/pulls/9\"}}",
					  &it),
			 0);
	assert_true(it.is_pull);
	assert_true(it.merged);
	/* The issue endpoint does not say which branches. */
	assert_null(it.head);
	assert_null(it.base);
	forge_issue_release(&it);
}

static const char PULL[] =
    "{\"id\":555,\"number\":12,\"title\":\"Add frob\",\"body\":null,\"state\":\"open\","
    "\"user\":{\"login\":\"bob\"},\"labels\":[],\"comments\":1,"
    "\"updated_at\":\"2025-02-02T00:00:00Z\",\"merged\":false,\"merged_at\":null,"
    "\"head\":{\"label\":\"feature\",\"ref\":\"feature\",\"sha\":\"abc\"},"
    "\"base\":{\"label\":\"main\",\"ref\":\"main\",\"sha\":\"def\"}}";

static void test_pull_object(void **state)
{
	struct forge_issue it;
	struct forge_issue_list l;
	char arr[sizeof(PULL) + 2];

	(void)state;
	assert_int_equal(gitea_decode_pull(PULL, strlen(PULL), &it, NULL), 0);
	assert_int_equal(it.number, 12);
	assert_true(it.is_pull);
	assert_string_equal(it.head, "feature");
	assert_string_equal(it.base, "main");
	assert_false(it.merged);
	assert_string_equal(it.body, "");
	assert_string_equal(it.author, "bob");
	forge_issue_release(&it);

	assert_int_equal(gitea_decode_pull(L("{\"number\":1,\"title\":\"t\",\"state\":\"closed\","
					     "\"merged\":true,\"head\":{\"ref\":\"x\"},"
					     "\"base\":{\"ref\":\"y\"}}"),
					   &it, NULL),
			 0);
	assert_true(it.merged);
	forge_issue_release(&it);

	assert_int_equal(gitea_decode_pull(L("{\"number\":1,\"title\":\"t\",\"state\":\"open\","
					     "\"merged\":\"no\"}"),
					   &it, NULL),
			 -EIO);
	assert_int_equal(gitea_decode_pull(L("{\"number\":1,\"title\":\"t\",\"state\":\"open\","
					     "\"head\":{\"ref\":7}}"),
					   &it, NULL),
			 -EIO);

	arr[0] = '[';
	memcpy(arr + 1, PULL, sizeof(PULL) - 1);
	arr[sizeof(PULL)] = ']';
	arr[sizeof(PULL) + 1] = '\0';
	assert_int_equal(gitea_decode_issue_list(arr, strlen(arr), true, &l, NULL), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].head, "feature");
	assert_true(l.v[0].is_pull);
	forge_issue_list_release(&l);
}

static void test_issue_list(void **state)
{
	static const char s[] = "[{\"number\":3,\"title\":\"a\",\"state\":\"open\"},"
				"{\"number\":2,\"title\":\"b\",\"state\":\"closed\","
				"\"pull_request\":{\"merged\":false}}]";
	struct forge_issue_list l;

	(void)state;
	assert_int_equal(gitea_decode_issue_list(s, strlen(s), false, &l, NULL), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[0].number, 3);
	assert_false(l.v[0].is_pull);
	assert_int_equal(l.v[1].number, 2);
	assert_true(l.v[1].is_pull);
	assert_string_equal(l.v[1].json, "{\n  \"number\": 2,\n  \"title\": \"b\",\n  \"state\": "
					 "\"closed\",\n  \"pull_request\": {\n    \"merged\": "
					 "false\n  }\n}\n");
	forge_issue_list_release(&l);
	/* One bad element spoils the page. */
	assert_int_equal(
	    gitea_decode_issue_list(L("[{\"number\":3,\"title\":\"a\",\"state\":\"open\"},"
				      "{\"number\":\"x\"}]"),
				    false, &l, NULL),
	    -EIO);
	assert_int_equal(gitea_decode_issue_list(L("{\"message\":\"not found\"}"), false, &l, NULL),
			 -EIO);
}

static void test_comment_list_urls(void **state)
{
	static const char s[] =
	    "[{\"id\":10,\"body\":\"first\",\"user\":{\"login\":\"carol\"},"
	    "\"created_at\":\"2025-01-01T00:00:00Z\",\"updated_at\":\"2025-01-01T00:00:01Z\","
	    "\"issue_url\":\"http://h/alice/dot/issues/4\",\"pull_request_url\":\"\","
	    "\"html_url\":\"http://h/alice/dot/issues/4#issuecomment-10\"},"
	    "{\"id\":11,\"body\":null,\"user\":null,\"issue_url\":\"\","
	    "\"pull_request_url\":\"http://h/alice/dot/pulls/9\"},"
	    "{\"id\":12,\"body\":\"x\",\"issue_url\":\"\",\"pull_request_url\":\"\"},"
	    "{\"id\":13,\"body\":\"y\",\"issue_url\":\"http://h/issues/issues/x\"}]";
	struct forge_comment_list l;

	(void)state;
	assert_int_equal(gitea_decode_comment_list(s, strlen(s), 0, &l, NULL), 0);
	assert_int_equal(l.n, 4);
	assert_int_equal(l.v[0].id, 10);
	assert_int_equal(l.v[0].issue, 4);
	assert_string_equal(l.v[0].body, "first");
	assert_string_equal(l.v[0].author, "carol");
	assert_string_equal(l.v[0].created_at, "2025-01-01T00:00:00Z");
	assert_string_equal(l.v[0].updated_at, "2025-01-01T00:00:01Z");
	assert_int_equal(l.v[1].issue, 9);
	assert_string_equal(l.v[1].body, "");
	assert_string_equal(l.v[1].author, "");
	assert_int_equal(l.v[2].issue, 0);
	assert_int_equal(l.v[3].issue, 0);
	forge_comment_list_release(&l);

	/* A per-issue list: the caller's number wins. */
	assert_int_equal(gitea_decode_comment_list(s, strlen(s), 77, &l, NULL), 0);
	assert_int_equal(l.v[0].issue, 77);
	assert_int_equal(l.v[1].issue, 77);
	forge_comment_list_release(&l);

	assert_int_equal(gitea_number_from_url("http://h/o/r/pulls/123"), 123);
	assert_int_equal(gitea_number_from_url("http://h/o/r/issues/0"), 0);
	assert_int_equal(gitea_number_from_url("http://h/o/r/issues/12#x"), 0);
	assert_int_equal(gitea_number_from_url(NULL), 0);

	assert_int_equal(gitea_decode_comment_list(L("[{\"body\":\"no id\"}]"), 0, &l, NULL), -EIO);
	assert_int_equal(gitea_decode_comment_list(L("[{\"id\":1,\"issue_url\":5}]"), 0, &l, NULL),
			 -EIO);
}

static void test_single_comment(void **state)
{
	static const char s[] = "{\"id\":99,\"body\":\"hi\",\"user\":{\"login\":\"d\"},"
				"\"issue_url\":\"http://h/o/r/issues/5\"}";
	struct forge_comment c;

	(void)state;
	assert_int_equal(gitea_decode_comment(s, strlen(s), 0, &c, NULL), 0);
	assert_int_equal(c.id, 99);
	assert_int_equal(c.issue, 5);
	assert_string_equal(c.body, "hi");
	forge_comment_release(&c);
	assert_int_equal(gitea_decode_comment(L("[]"), 0, &c, NULL), -EIO);
}

static void test_repo_list(void **state)
{
	static const char s[] = "[{\"id\":1,\"name\":\"dot\",\"full_name\":\"alice/dot\"},"
				"{\"id\":2,\"name\":\"web\",\"owner\":{\"login\":\"alice\"}}]";
	struct forge_name_list l;

	(void)state;
	assert_int_equal(gitea_decode_repo_list(s, strlen(s), &l, NULL), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "dot");
	assert_string_equal(l.v[1], "web");
	forge_name_list_release(&l);
	assert_int_equal(gitea_decode_repo_list(L("[{\"id\":1}]"), &l, NULL), -EIO);
	assert_int_equal(gitea_decode_repo_list(L("[\"dot\"]"), &l, NULL), -EIO);
	assert_int_equal(gitea_decode_repo_list(L("[]"), &l, NULL), 0);
	assert_int_equal(l.n, 0);
	forge_name_list_release(&l);
}

/* GET /user: the login of the token's user, which must be there and not empty. */
static void test_user(void **state)
{
	struct buf err = BUF_INIT(4096);
	char *login = (char *)"untouched";

	(void)state;
	assert_int_equal(gitea_decode_user(L("{\"id\":2,\"login\":\"bob\",\"full_name\":\"B\","
					     "\"email\":\"bob@example.com\",\"is_admin\":false}"),
					   &login, &err),
			 0);
	assert_string_equal(login, "bob");
	free(login);
	login = (char *)"untouched";
	assert_int_equal(gitea_decode_user(L("{\"id\":2}"), &login, &err), -EIO);
	assert_non_null(strstr(buf_cstr(&err), "'login' is missing"));
	assert_int_equal(gitea_decode_user(L("{\"login\":\"\"}"), &login, NULL), -EIO);
	assert_int_equal(gitea_decode_user(L("{\"login\":null}"), &login, NULL), -EIO);
	assert_int_equal(gitea_decode_user(L("{\"login\":7}"), &login, NULL), -EIO);
	assert_int_equal(gitea_decode_user(L("[{\"login\":\"bob\"}]"), &login, NULL), -EIO);
	assert_int_equal(gitea_decode_user(L("<html>"), &login, NULL), -EIO);
	assert_string_equal(login, "untouched");
	buf_release(&err);
}

/* A 10 MB array of tiny values: refused before jansson allocates for it. */
static void test_huge_array_of_values(void **state)
{
	size_t n = 10u << 20, i;
	char *s = malloc(n);
	struct forge_issue_list l;
	struct buf err = BUF_INIT(4096);

	(void)state;
	assert_non_null(s);
	s[0] = '[';
	for (i = 1; i + 1 < n; i += 2) {
		s[i] = '1';
		s[i + 1] = ',';
	}
	s[n - 1] = ']';
	if (s[n - 2] == ',')
		s[n - 2] = '1';
	assert_int_equal(gitea_decode_issue_list(s, n, false, &l, &err), -EIO);
	assert_non_null(strstr(buf_cstr(&err), "json values"));
	free(s);
	buf_release(&err);
}

/* A 10 MB array of few, big issues: handled. */
static void test_huge_array_of_issues(void **state)
{
	size_t body = 100000, count = 100, i;
	struct buf s = BUF_INIT(BUF_MAX_DEFAULT);
	char *big = malloc(body + 1);
	struct forge_issue_list l;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', body);
	big[body] = '\0';
	assert_int_equal(buf_putc(&s, '['), 0);
	for (i = 0; i < count; i++)
		assert_int_equal(buf_printf(&s,
					    "%s{\"number\":%zu,\"title\":\"t\",\"state\":\"open\","
					    "\"body\":\"%s\"}",
					    i ? "," : "", i + 1, big),
				 0);
	assert_int_equal(buf_putc(&s, ']'), 0);
	assert_true(s.len > 10000000);
	assert_int_equal(gitea_decode_issue_list(s.data, s.len, false, &l, NULL), 0);
	assert_int_equal(l.n, count);
	assert_int_equal(strlen(l.v[99].body), body);
	forge_issue_list_release(&l);
	free(big);
	buf_release(&s);
}

static void test_deep_nesting(void **state)
{
	size_t depth = 100000, i;
	char *s = malloc(2 * depth + 1);
	struct forge_issue it;
	struct forge_issue_list l;

	(void)state;
	assert_non_null(s);
	for (i = 0; i < depth; i++) {
		s[i] = '[';
		s[depth + i] = ']';
	}
	s[2 * depth] = '\0';
	assert_int_equal(gitea_decode_issue_list(s, 2 * depth, false, &l, NULL), -EIO);
	free(s);
	/* Deep, but inside an ignored key: jansson's depth limit still holds. */
	{
		struct buf b = BUF_INIT(BUF_MAX_DEFAULT);

		assert_int_equal(
		    buf_puts(&b, "{\"number\":1,\"title\":\"t\",\"state\":\"open\",\"x\":"), 0);
		for (i = 0; i < 5000; i++)
			assert_int_equal(buf_puts(&b, "{\"a\":"), 0);
		assert_int_equal(buf_puts(&b, "1"), 0);
		for (i = 0; i < 5000; i++)
			assert_int_equal(buf_putc(&b, '}'), 0);
		assert_int_equal(buf_putc(&b, '}'), 0);
		assert_int_equal(gitea_decode_issue(b.data, b.len, &it, NULL), -EIO);
		buf_release(&b);
	}
}

/* A write's echo cut off at the answer cap: the id or number from its first bytes. */
static void test_prefix_u64(void **state)
{
	static const char pr[] = "{\"id\": 77, \"url\": \"http://x/pulls/9\", \"number\": 9, "
				 "\"user\": {\"id\": 3, \"number\": 4}, \"body\": \"aaaa";
	static const char cm[] = "{\"id\":123,\"html_url\":\"x\",\"body\":\"\\\"id\\\": 5";
	uint64_t v = 0;

	(void)state;
	assert_int_equal(gitea_decode_prefix_u64(pr, strlen(pr), "number", &v), 0);
	assert_int_equal(v, 9);
	assert_int_equal(gitea_decode_prefix_u64(pr, strlen(pr), "id", &v), 0);
	assert_int_equal(v, 77);
	assert_int_equal(gitea_decode_prefix_u64(cm, strlen(cm), "id", &v), 0);
	assert_int_equal(v, 123);
	v = 42;
	/* Cut inside the number, only nested, in a string, or not an object: unknown. */
	assert_int_equal(gitea_decode_prefix_u64("{\"id\": 12", 9, "id", &v), -ENOENT);
	assert_int_equal(gitea_decode_prefix_u64("{\"user\": {\"id\": 1}}", 19, "id", &v), -ENOENT);
	assert_int_equal(gitea_decode_prefix_u64("{\"body\": \"id\": 3\"}", 19, "id", &v), -ENOENT);
	assert_int_equal(gitea_decode_prefix_u64("[{\"id\": 3}]", 11, "id", &v), -ENOENT);
	assert_int_equal(gitea_decode_prefix_u64("{\"id\": \"3\"}", 11, "id", &v), -ENOENT);
	assert_int_equal(v, 42);
}

/* The root decoders free a list's elements as they go, and agree with the text ones. */
static void test_root_decoders(void **state)
{
	static const char list[] = "[{\"id\": 1, \"body\": \"a\"}, {\"id\": 2, \"body\": \"b\"}]";
	struct forge_comment_list l;
	json_t *root = json_loads(list, 0, NULL);

	(void)state;
	assert_non_null(root);
	assert_int_equal(gitea_decode_comment_list_root(root, 7, &l, NULL), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[1].body, "b");
	assert_int_equal(l.v[0].issue, 7);
	assert_true(json_is_null(json_array_get(root, 0)));
	assert_true(json_is_null(json_array_get(root, 1)));
	forge_comment_list_release(&l);
	json_decref(root);
	root = json_loads("{\"id\": 1}", 0, NULL);
	assert_int_equal(gitea_decode_comment_list_root(root, 7, &l, NULL), -EIO);
	json_decref(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_issue_every_key),
	    cmocka_unit_test(test_issue_nulls),
	    cmocka_unit_test(test_issue_missing_optional_keys),
	    cmocka_unit_test(test_issue_missing_required_keys),
	    cmocka_unit_test(test_issue_wrong_types),
	    cmocka_unit_test(test_non_json_html),
	    cmocka_unit_test(test_empty_body),
	    cmocka_unit_test(test_truncated_json),
	    cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_pr_via_issue_endpoint),
	    cmocka_unit_test(test_pull_object),
	    cmocka_unit_test(test_issue_list),
	    cmocka_unit_test(test_comment_list_urls),
	    cmocka_unit_test(test_single_comment),
	    cmocka_unit_test(test_repo_list),
	    cmocka_unit_test(test_user),
	    cmocka_unit_test(test_huge_array_of_values),
	    cmocka_unit_test(test_huge_array_of_issues),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_prefix_u64),
	    cmocka_unit_test(test_root_decoders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
