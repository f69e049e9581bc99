/* Unit tests for state/done.h and state/queue.h. */
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
static int run_queue(const char *cmd, const char *dir, char **out_text, char **err_text)
{
	char *argv[] = {(char *)"queue", (char *)cmd, (char *)dir, NULL};
	FILE *out = tmpfile(), *errf = tmpfile();
	int code, i, argc = dir ? 3 : 2;
	long n;

	assert_non_null(out);
	assert_non_null(errf);
	code = queue_cli(argc, argv, out, errf);
	for (i = 0; i < 2; i++) {
		FILE *fp = i ? errf : out;
		char **dst = i ? err_text : out_text;

		fflush(fp);
		n = ftell(fp);
		*dst = calloc(1, (size_t)n + 1);
		assert_non_null(*dst);
		rewind(fp);
		assert_int_equal(fread(*dst, 1, (size_t)n, fp), (size_t)n);
	}
	fclose(out);
	fclose(errf);
	return code;
}

static void test_queue_list_and_take_order(void **state)
{
	struct qfix *f = *state;
	char *n1, *n2, *n3, *out, *err, names[2048], want[1024], tmp[256];
	FILE *fp;

	/* Written out of order: the queue answers by time. */
	write_item(f->qdir, "carol", "c", 3, DONE_BLOCKED, "needs creds", 1700000300, &n3);
	write_item(f->qdir, "alice", "a", 1, DONE_SUCCESS, "first", 1700000100, &n1);
	write_item(f->qdir, "bob", "b", 2, DONE_FAILURE, "second", 1700000200, &n2);
	/* Temp files and other strays are ignored. */
	snprintf(tmp, sizeof(tmp), "%s/.tmp-0123456789abcdef", f->qdir);
	fp = fopen(tmp, "w");
	assert_non_null(fp);
	fputs("{\"owner\":\"partial", fp);
	fclose(fp);
	snprintf(tmp, sizeof(tmp), "%s/README", f->qdir);
	fp = fopen(tmp, "w");
	assert_non_null(fp);
	fclose(fp);

	assert_int_equal(run_queue("list", f->qdir, &out, &err), 0);
	snprintf(want, sizeof(want),
		 "%s\t{\"owner\":\"alice\",\"repo\":\"a\",\"issue\":1,\"status\":\"success\","
		 "\"summary\":\"first\",\"time\":\"2023-11-14T22:15:00Z\",\"pull_requests\":[31]}\n"
		 "%s\t{\"owner\":\"bob\",\"repo\":\"b\",\"issue\":2,\"status\":\"failure\","
		 "\"summary\":\"second\",\"time\":\"2023-11-14T22:16:40Z\","
		 "\"pull_requests\":[31,40]}\n"
		 "%s\t{\"owner\":\"carol\",\"repo\":\"c\",\"issue\":3,\"status\":\"blocked\","
		 "\"summary\":\"needs creds\",\"time\":\"2023-11-14T22:18:20Z\","
		 "\"pull_requests\":[]}\n",
		 n1, n2, n3);
	assert_string_equal(out, want);
	assert_string_equal(err, "");
	free(out);
	free(err);

	assert_int_equal(run_queue("take", f->qdir, &out, &err), 0);
	assert_non_null(strstr(out, "\"owner\":\"alice\""));
	assert_int_equal(strchr(out, '\n') - out + 1, (long)strlen(out)); /* one line */
	free(out);
	free(err);
	assert_int_equal(run_queue("take", f->qdir, &out, &err), 0);
	assert_non_null(strstr(out, "\"owner\":\"bob\""));
	free(out);
	free(err);
	dir_names(f->qdir, names, sizeof(names));
	snprintf(want, sizeof(want), ".tmp-0123456789abcdef %s README", n3);
	assert_string_equal(names, want); /* taken items are gone, no claimed files left */
	assert_int_equal(run_queue("take", f->qdir, &out, &err), 0);
	assert_non_null(strstr(out, "\"owner\":\"carol\""));
	free(out);
	free(err);
	assert_int_equal(run_queue("take", f->qdir, &out, &err), 1);
	assert_string_equal(out, "");
	assert_string_equal(err, "queue: queue empty\n");
	free(out);
	free(err);
	assert_int_equal(run_queue("list", f->qdir, &out, &err), 0);
	assert_string_equal(out, "");
	free(out);
	free(err);
	free(n1);
	free(n2);
	free(n3);
}

static void test_queue_same_second_by_mtime(void **state)
{
	struct qfix *f = *state;
	char *first, *second, *out, *err, path[512];
	struct timespec ts[2] = {{1000, 0}, {1000, 0}};

	write_item(f->qdir, "zed", "z", 1, DONE_SUCCESS, "earlier", 1700000000, &first);
	write_item(f->qdir, "amy", "a", 2, DONE_SUCCESS, "later", 1700000000, &second);
	/* Same time stamp in the name: the older file (mtime) goes first, not the name. */
	snprintf(path, sizeof(path), "%s/%s", f->qdir, first);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	ts[0].tv_sec = ts[1].tv_sec = 2000;
	snprintf(path, sizeof(path), "%s/%s", f->qdir, second);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	assert_int_equal(run_queue("take", f->qdir, &out, &err), 0);
	assert_non_null(strstr(out, "\"summary\":\"earlier\""));
	free(out);
	free(err);
	free(first);
	free(second);
}

static void test_queue_take_empty_and_missing(void **state)
{
	struct qfix *f = *state;
	char *out, *err;

	/* A directory that does not exist is an empty queue. */
	assert_int_equal(run_queue("take", f->qdir, &out, &err), 1);
	assert_string_equal(err, "queue: queue empty\n");
	free(out);
	free(err);
	assert_int_equal(run_queue("list", f->qdir, &out, &err), 0);
	assert_string_equal(out, "");
	free(out);
	free(err);
	assert_int_equal(mkdir(f->dir, 0700) == 0 || errno == EEXIST, 1);
	assert_int_equal(run_queue("take", f->dir, &out, &err), 1);
	free(out);
	free(err);
}

static void test_queue_bad_item_set_aside(void **state)
{
	struct qfix *f = *state;
	char *good, *out, *err, path[512], names[1024], want[512];
	FILE *fp;

	write_item(f->qdir, "bob", "b", 2, DONE_SUCCESS, "good", 1700000200, &good);
	snprintf(path, sizeof(path), "%s/20000101T000000Z-x-y-1-0000000000000000.json", f->qdir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("not json", fp);
	fclose(fp);

	assert_int_equal(run_queue("list", f->qdir, &out, &err), 0);
	assert_null(strstr(out, "20000101T"));
	assert_non_null(strstr(err, "skipping '20000101T000000Z-x-y-1-0000000000000000.json'"));
	free(out);
	free(err);
	assert_int_equal(run_queue("take", f->qdir, &out, &err), 0);
	assert_non_null(strstr(out, "\"summary\":\"good\""));
	assert_non_null(strstr(err, "set aside"));
	free(out);
	free(err);
	dir_names(f->qdir, names, sizeof(names));
	snprintf(want, sizeof(want), ".bad-20000101T000000Z-x-y-1-0000000000000000.json");
	assert_string_equal(names, want);
	free(good);
}

static void test_queue_cli_usage(void **state)
{
	struct qfix *f = *state;
	char *out, *err;

	assert_int_equal(run_queue("list", NULL, &out, &err), 2);
	assert_non_null(strstr(err, "usage: bottlefs queue"));
	free(out);
	free(err);
	assert_int_equal(run_queue("peek", f->qdir, &out, &err), 2);
	free(out);
	free(err);
	assert_int_equal(run_queue("list", "/proc/version", &out, &err), 1);
	assert_non_null(strstr(err, "queue: cannot open '/proc/version'"));
	free(out);
	free(err);
}

/* Several processes take at once: every item is taken exactly once. */
static void test_queue_concurrent_takers(void **state)
{
	struct qfix *f = *state;
	enum { ITEMS = 40, TAKERS = 4 };
	char path[512], *name, line[4096];
	int seen[ITEMS + 1] = {0};
	pid_t pids[TAKERS];
	int i, status, total = 0;
	FILE *fp;

	for (i = 1; i <= ITEMS; i++) {
		write_item(f->qdir, "o", "r", (uint64_t)i, DONE_SUCCESS, "s", 1700000000 + i,
			   &name);
		free(name);
	}
	for (i = 0; i < TAKERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			FILE *out, *errf = fopen("/dev/null", "w");
			int code;

			snprintf(path, sizeof(path), "%s/taken-%d", f->dir, i);
			out = fopen(path, "w");
			if (!out || !errf)
				_exit(3);
			do {
				char *argv[] = {(char *)"queue", (char *)"take", f->qdir, NULL};
				code = queue_cli(3, argv, out, errf);
			} while (code == 0);
			fclose(out);
			_exit(code == 1 ? 0 : 4);
		}
	}
	for (i = 0; i < TAKERS; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	for (i = 0; i < TAKERS; i++) {
		snprintf(path, sizeof(path), "%s/taken-%d", f->dir, i);
		fp = fopen(path, "r");
		assert_non_null(fp);
		while (fgets(line, sizeof(line), fp)) {
			json_t *j = json_loads(line, 0, NULL);
			json_int_t issue;

			assert_non_null(j);
			issue = json_integer_value(json_object_get(j, "issue"));
			assert_true(issue >= 1 && issue <= ITEMS);
			seen[issue]++;
			total++;
			json_decref(j);
		}
		fclose(fp);
	}
	assert_int_equal(total, ITEMS);
	for (i = 1; i <= ITEMS; i++)
		assert_int_equal(seen[i], 1);
	dir_names(f->qdir, line, sizeof(line));
	assert_string_equal(line, "");
}

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
	    cmocka_unit_test_setup_teardown(test_queue_list_and_take_order, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_queue_same_second_by_mtime, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_queue_take_empty_and_missing, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_queue_bad_item_set_aside, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_queue_cli_usage, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_queue_concurrent_takers, qsetup, qteardown),
	};

	return cmocka_run_group_tests_name("queue", tests, NULL, NULL);
}
