/* Unit tests for write/done.h (the done parser) and write/queue.h (writing the queue). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "write/done.h"
#include "write/queue.h"

/* Parses a string literal (without its NUL) and checks the outcome. */
static void parse_ok(const char *text, size_t len, enum done_status want, const char *summary)
{
	struct done_signal s = {DONE_FAILURE, NULL};
	struct buf err = BUF_INIT(4096);
	int r = done_parse(text, len, &s, &err);

	if (r != 0)
		fail_msg("done_parse rejected: %s", buf_cstr(&err));
	assert_int_equal(s.status, want);
	assert_non_null(s.summary);
	assert_string_equal(s.summary, summary);
	assert_int_equal(err.len, 0);
	done_signal_release(&s);
	buf_release(&err);
}

/* Checks rejection, that *out was left alone, and that the reason contains want. */
static void parse_bad(const char *text, size_t len, const char *want)
{
	struct done_signal s = {DONE_BLOCKED, (char *)"untouched"};
	struct buf err = BUF_INIT(4096);

	assert_int_equal(done_parse(text, len, &s, &err), -EINVAL);
	assert_int_equal(s.status, DONE_BLOCKED);
	assert_string_equal(s.summary, "untouched");
	if (!strstr(buf_cstr(&err), want))
		fail_msg("reason '%s' lacks '%s'", buf_cstr(&err), want);
	for (const char *p = buf_cstr(&err); *p; p++)
		if ((unsigned char)*p < 0x20)
			fail_msg("reason '%s' has a control byte", buf_cstr(&err));
	buf_release(&err);
}

#define OK(lit, st, sum) parse_ok(lit, sizeof(lit) - 1, st, sum)
#define BAD(lit, want) parse_bad(lit, sizeof(lit) - 1, want)

static void test_done_json_ok(void **state)
{
	(void)state;
	OK("{\"status\": \"success\", \"summary\": \"all tests pass\"}", DONE_SUCCESS,
	   "all tests pass");
	OK("  \n{\"summary\": \"line1\\nline2\\n\", \"status\": \"blocked\"}\n", DONE_BLOCKED,
	   "line1\nline2\n");
	OK("{\"status\":\"failure\"}", DONE_FAILURE, "");
	OK("{\"status\":\"success\",\"summary\":\"caf\\u00e9 \xe2\x9c\x93\"}", DONE_SUCCESS,
	   "caf\xc3\xa9 \xe2\x9c\x93");
}

static void test_done_json_bad_status(void **state)
{
	(void)state;
	BAD("{\"status\": \"ok\"}", "done: status must be success, failure or blocked (was 'ok')");
	BAD("{\"status\": \"Success\"}", "(was 'Success')");
	BAD("{\"status\": 1}", "done: status must be a string (was integer)");
	BAD("{\"status\": null}", "(was null)");
	BAD("{\"status\": \" success\"}", "(was ' success')");
}

static void test_done_json_missing_status(void **state)
{
	(void)state;
	BAD("{\"summary\": \"did it\"}", "JSON needs a \"status\"");
	BAD("{}", "JSON needs a \"status\"");
}

static void test_done_json_wrong_types_and_shape(void **state)
{
	(void)state;
	BAD("{\"status\": \"success\", \"summary\": 5}", "summary must be a string (was integer)");
	BAD("{\"status\": \"success\", \"summary\": null}", "summary must be a string (was null)");
	BAD("{\"status\": \"success\", \"summary\": [\"a\"]}", "(was array)");
	BAD("{\"status\": \"success\"", "invalid JSON");
	BAD("{\"status\": \"success\"} trailing", "invalid JSON");
	BAD("{\"status\": \"success\", \"status\": \"failure\"}", "invalid JSON");
	BAD("{\"status\": \"success\", \"summary\": \"a\\u0000b\"}", "invalid JSON");
	/* jansson quotes the input near an error; the reason stays one printable line. */
	BAD("{\"summary\": \"x\\\n\n\x1b\"}", "done: invalid JSON: ");
}

/* Decision: extra keys are refused, so that a typo never silently drops the summary. */
static void test_done_json_extra_keys_refused(void **state)
{
	(void)state;
	BAD("{\"status\": \"success\", \"sumary\": \"typo\"}",
	    "done: unknown key 'sumary' (expected status and summary)");
	BAD("{\"status\": \"success\", \"prs\": [1]}", "unknown key 'prs'");
}

static void test_done_text_ok(void **state)
{
	(void)state;
	OK("success\nall tests pass\n", DONE_SUCCESS, "all tests pass");
	OK("success\nline one\nline two\n\n", DONE_SUCCESS, "line one\nline two\n");
	OK("failure\r\nwindows\r\n", DONE_FAILURE, "windows");
	OK("  blocked  \n", DONE_BLOCKED, "");
	OK("blocked", DONE_BLOCKED, "");
	OK("\tsuccess\t\n  indented summary kept", DONE_SUCCESS, "  indented summary kept");
	OK("success\n\n", DONE_SUCCESS, "");
}

static void test_done_text_bad(void **state)
{
	(void)state;
	BAD("ok", "done: status must be success, failure or blocked (was 'ok')");
	BAD("ok\nsummary", "(was 'ok')");
	BAD("success!\n", "(was 'success!')");
	BAD("success all good\n", "(was 'success all good')");
	BAD("\nsuccess\n", "(was '')");
	BAD("status: success", "(was 'status: success')");
	/* A long first line is quoted short, and control bytes never reach the message. */
	BAD("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
	    "(was 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...')");
	BAD("su\x1b[31mccess", "(was 'su?[31mccess')");
}

/* Decision: the status is lower case only. */
static void test_done_uppercase_rejected(void **state)
{
	(void)state;
	BAD("SUCCESS\n", "(was 'SUCCESS')");
	BAD("Failure", "(was 'Failure')");
}

static void test_done_empty(void **state)
{
	(void)state;
	BAD("", "empty signal");
	BAD(" \n\t\n", "empty signal");
	parse_bad(NULL, 0, "empty signal");
}

static void test_done_nul_byte(void **state)
{
	(void)state;
	BAD("success\nsum\0mary", "NUL byte");
	BAD("success\0", "NUL byte");
}

static void test_done_not_utf8(void **state)
{
	(void)state;
	BAD("success\nbad \xff byte", "not valid UTF-8");
	BAD("success\n\xc0\xaf", "not valid UTF-8"); /* overlong '/' */
	BAD("{\"status\":\"success\",\"summary\":\"\xed\xa0\x80\"}",
	    "not valid UTF-8"); /* surrogate */
}

static void test_done_huge_summary(void **state)
{
	size_t n = (size_t)1 << 20, i;
	char *text = malloc(n + 9);
	struct done_signal s;
	struct buf err = BUF_INIT(4096);

	(void)state;
	assert_non_null(text);
	memcpy(text, "failure\n", 8);
	for (i = 0; i < n; i++)
		text[8 + i] = (char)('a' + i % 26);
	assert_int_equal(done_parse(text, n + 8, &s, &err), 0);
	assert_int_equal(s.status, DONE_FAILURE);
	assert_int_equal(strlen(s.summary), n);
	assert_memory_equal(s.summary, text + 8, n);
	done_signal_release(&s);
	assert_null(s.summary);
	free(text);

	/* Past the limit it is refused, without reading it all first. */
	text = calloc(1, DONE_MAX_LEN + 1);
	assert_non_null(text);
	memcpy(text, "success\n", 8);
	assert_int_equal(done_parse(text, DONE_MAX_LEN + 1, &s, &err), -EINVAL);
	assert_non_null(strstr(buf_cstr(&err), "too long"));
	free(text);
	buf_release(&err);
}

static void test_done_names_and_text(void **state)
{
	struct done_signal s = {DONE_BLOCKED, (char *)"needs \"creds\"\n"}, back;
	char *text;

	(void)state;
	assert_string_equal(done_status_name(DONE_SUCCESS), "success");
	assert_string_equal(done_status_name(DONE_FAILURE), "failure");
	assert_string_equal(done_status_name(DONE_BLOCKED), "blocked");
	assert_string_equal(done_status_name((enum done_status)7), "unknown");
	text = done_signal_text(&s);
	assert_non_null(text);
	assert_string_equal(text, "{\n  \"status\": \"blocked\",\n  \"summary\": \"needs "
				  "\\\"creds\\\"\\n\"\n}\n");
	/* What /done shows parses back to the same signal. */
	assert_int_equal(done_parse(text, strlen(text), &back, NULL), 0);
	assert_int_equal(back.status, DONE_BLOCKED);
	assert_string_equal(back.summary, s.summary);
	done_signal_release(&back);
	free(text);
	s.status = (enum done_status)9;
	assert_null(done_signal_text(&s));
}

/* ---- queue ---- */

struct qfix {
	char dir[64];
	char qdir[128];
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int qsetup(void **state)
{
	struct qfix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/bottlefs-queue-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->qdir, sizeof(f->qdir), "%s/a/queue", f->dir);
	*state = f;
	return 0;
}

static int qteardown(void **state)
{
	struct qfix *f = *state;

	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Names in dir (sorted), at most 16, joined by ' '. */
static void dir_names(const char *dir, char *out, size_t n)
{
	struct dirent **list;
	int count, i;
	size_t used = 0;

	out[0] = '\0';
	count = scandir(dir, &list, NULL, alphasort);
	assert_true(count >= 0);
	for (i = 0; i < count; i++) {
		if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, ".."))
			used += (size_t)snprintf(out + used, n - used, "%s%s", used ? " " : "",
						 list[i]->d_name);
		free(list[i]);
	}
	free(list);
	assert_true(used < n);
}

static void write_item(const char *dir, const char *owner, const char *repo, uint64_t issue,
		       enum done_status status, const char *summary, int64_t when, char **name)
{
	struct done_signal sig = {status, (char *)summary};
	uint64_t prs[] = {31, 40};
	struct queue_item it = {owner, repo, issue, &sig, prs, issue % 3, when};
	struct buf err = BUF_INIT(4096);
	int r = queue_write(dir, &it, name, &err);

	if (r != 0)
		fail_msg("queue_write: %d %s", r, buf_cstr(&err));
	buf_release(&err);
}

static void test_queue_write_one_file(void **state)
{
	struct qfix *f = *state;
	char names[1024], path[512], *name = NULL;
	json_error_t jerr;
	json_t *j;
	struct stat sb;

	write_item(f->qdir, "alice", "dot files/..", 14, DONE_SUCCESS, "done \xe2\x9c\x93\n",
		   1700000000, &name);
	dir_names(f->qdir, names, sizeof(names));
	assert_string_equal(names, name); /* exactly one file, no temp left */
	assert_int_equal(strncmp(name, "20231114T221320Z-alice-dot_files_..-14-", 39), 0);
	assert_int_equal(strlen(name), 39 + 16 + 5);
	assert_string_equal(name + strlen(name) - 5, ".json");

	assert_int_equal(stat(f->qdir, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/%s", f->qdir, name);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	j = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 7);
	assert_string_equal(json_string_value(json_object_get(j, "owner")), "alice");
	assert_string_equal(json_string_value(json_object_get(j, "repo")), "dot files/..");
	assert_int_equal(json_integer_value(json_object_get(j, "issue")), 14);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "success");
	assert_string_equal(json_string_value(json_object_get(j, "summary")),
			    "done \xe2\x9c\x93\n");
	assert_string_equal(json_string_value(json_object_get(j, "time")), "2023-11-14T22:13:20Z");
	assert_int_equal(json_array_size(json_object_get(j, "pull_requests")), 2);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "pull_requests"), 0)),
			 31);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "pull_requests"), 1)),
			 40);
	json_decref(j);
	free(name);
}

static void test_queue_write_rejects(void **state)
{
	struct qfix *f = *state;
	struct done_signal sig = {DONE_SUCCESS, (char *)"x"};
	struct queue_item it = {"alice", "repo", 0, &sig, NULL, 0, 1700000000};
	struct buf err = BUF_INIT(4096);
	char *name = (char *)"untouched";
	struct stat sb;

	assert_int_equal(queue_write(f->qdir, &it, &name, &err), -EINVAL);
	assert_string_equal(name, "untouched");
	assert_non_null(strstr(buf_cstr(&err), "queue: "));
	it.issue = 1;
	it.owner = "";
	assert_int_equal(queue_write(f->qdir, &it, &name, NULL), -EINVAL);
	it.owner = "alice";
	it.sig = NULL;
	assert_int_equal(queue_write(f->qdir, &it, &name, NULL), -EINVAL);
	it.sig = &sig;
	it.time = -1;
	assert_int_equal(queue_write(f->qdir, &it, &name, NULL), -EINVAL);
	it.time = 1700000000;
	it.n_prs = 2; /* with prs NULL */
	assert_int_equal(queue_write(f->qdir, &it, &name, NULL), -EINVAL);
	/* None of the refusals created anything. */
	assert_int_equal(stat(f->qdir, &sb), -1);
	/* A directory that cannot be created is a clear error. */
	snprintf(f->qdir, sizeof(f->qdir), "/proc/version/queue");
	it.n_prs = 0;
	buf_reset(&err);
	assert_true(queue_write(f->qdir, &it, &name, &err) < 0);
	assert_non_null(strstr(buf_cstr(&err), "'/proc/version/queue'"));
	buf_release(&err);
}

/* Runs queue_cli; *out_text and *err_text are new. */
int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_done_json_ok),
	    cmocka_unit_test(test_done_json_bad_status),
	    cmocka_unit_test(test_done_json_missing_status),
	    cmocka_unit_test(test_done_json_wrong_types_and_shape),
	    cmocka_unit_test(test_done_json_extra_keys_refused),
	    cmocka_unit_test(test_done_text_ok),
	    cmocka_unit_test(test_done_text_bad),
	    cmocka_unit_test(test_done_uppercase_rejected),
	    cmocka_unit_test(test_done_empty),
	    cmocka_unit_test(test_done_nul_byte),
	    cmocka_unit_test(test_done_not_utf8),
	    cmocka_unit_test(test_done_huge_summary),
	    cmocka_unit_test(test_done_names_and_text),
	    cmocka_unit_test_setup_teardown(test_queue_write_one_file, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_queue_write_rejects, qsetup, qteardown),
	};

	return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
