/*
 * Unit tests for cli/: `bottlefs state` against a real state store, and
 * `bottlefs queue list|take` against a queue directory written by the
 * daemon's own writer (write/queue.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <sqlite3.h>
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

#include "cli/cli.h"
#include "state/state.h"
#include "write/done.h"
#include "write/queue.h"

struct fixture {
	char dir[64];
	char path[128];
	struct state *st;
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/bottlefs-state-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/sub/dir/state.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	state_free(f->st);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct state *open_ok(struct fixture *f)
{
	struct buf err = BUF_INIT(4096);
	int r = state_open(f->path, &f->st, &err);

	if (r != 0)
		fail_msg("state_open: %d %s", r, buf_cstr(&err));
	buf_release(&err);
	return f->st;
}

/* Runs the CLI with captured streams; *out_text and *err_text are new. */
static int run_cli(const char *db, const char *stdin_text, char **out_text, char **err_text,
		   int argc, ...)
{
	char *argv[16];
	FILE *in = tmpfile(), *out = tmpfile(), *errf = tmpfile();
	va_list ap;
	long n;
	int i, code;

	assert_non_null(in);
	assert_non_null(out);
	assert_non_null(errf);
	assert_true(argc < 16);
	va_start(ap, argc);
	for (i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	if (stdin_text)
		fputs(stdin_text, in);
	rewind(in);
	code = state_cli_io(argc, argv, db, in, out, errf);
	for (i = 0; i < 2; i++) {
		FILE *fp = i ? errf : out;
		char **dst = i ? err_text : out_text;

		fflush(fp);
		n = ftell(fp);
		assert_true(n >= 0);
		*dst = calloc(1, (size_t)n + 1);
		assert_non_null(*dst);
		rewind(fp);
		assert_int_equal(fread(*dst, 1, (size_t)n, fp), (size_t)n);
	}
	fclose(in);
	fclose(out);
	fclose(errf);
	return code;
}

static void test_cli_records(void **state)
{
	struct fixture *f = *state;
	char *out, *err;

	assert_int_equal(run_cli(f->path, NULL, &out, &err, 6, "state", "set", "alice", "dotfiles",
				 "12", "{ \"phase\" : \"run\", \"n\" : 1 }"),
			 0);
	assert_string_equal(out, "");
	free(out);
	free(err);
	assert_int_equal(run_cli(f->path, "{\"phase\":\"review\"}\n", &out, &err, 6, "state", "set",
				 "bob", "x", "3", "-"),
			 0);
	free(out);
	free(err);

	assert_int_equal(run_cli(f->path, NULL, &out, &err, 2, "state", "list"), 0);
	assert_string_equal(out, "alice/dotfiles#12\t{\"phase\":\"run\",\"n\":1}\n"
				 "bob/x#3\t{\"phase\":\"review\"}\n");
	free(out);
	free(err);

	assert_int_equal(run_cli(f->path, NULL, &out, &err, 5, "state", "get", "bob", "x", "3"), 0);
	assert_string_equal(out, "{\"phase\":\"review\"}\n");
	free(out);
	free(err);

	assert_int_equal(run_cli(f->path, NULL, &out, &err, 5, "state", "delete", "bob", "x", "3"),
			 0);
	free(out);
	free(err);
	assert_int_equal(run_cli(f->path, NULL, &out, &err, 5, "state", "get", "bob", "x", "3"), 1);
	assert_string_equal(out, "");
	assert_string_equal(err, "state: no record for 'bob/x#3'\n");
	free(out);
	free(err);
	assert_int_equal(run_cli(f->path, NULL, &out, &err, 5, "state", "delete", "bob", "x", "3"),
			 1);
	free(out);
	free(err);
}

static void test_cli_bad_json(void **state)
{
	struct fixture *f = *state;
	char *out, *err;

	assert_int_equal(run_cli(f->path, NULL, &out, &err, 6, "state", "set", "a", "b", "1",
				 "{\"phase\": run}"),
			 1);
	assert_non_null(strstr(err, "state: invalid JSON for 'a/b#1'"));
	assert_non_null(strstr(err, "column"));
	free(out);
	free(err);
	assert_int_equal(run_cli(f->path, "", &out, &err, 6, "state", "set", "a", "b", "1", "-"),
			 1);
	assert_string_equal(err, "state: invalid JSON: empty input\n");
	free(out);
	free(err);
	assert_int_equal(
	    run_cli(f->path, NULL, &out, &err, 6, "state", "set", "a", "b", "x1", "{}"), 1);
	assert_non_null(strstr(err, "issue must be a number"));
	free(out);
	free(err);
	/* Nothing was stored by the failures. */
	assert_int_equal(run_cli(f->path, NULL, &out, &err, 2, "state", "list"), 0);
	assert_string_equal(out, "");
	free(out);
	free(err);
}

static void test_cli_usage(void **state)
{
	struct fixture *f = *state;
	char *out, *err;
	struct stat sb;

	snprintf(f->path, sizeof(f->path), "%s/never.db", f->dir);
	assert_int_equal(run_cli(f->path, NULL, &out, &err, 1, "state"), 2);
	assert_non_null(strstr(err, "usage: bottlefs state"));
	free(out);
	free(err);
	assert_int_equal(run_cli(f->path, NULL, &out, &err, 2, "state", "frobnicate"), 2);
	assert_non_null(strstr(err, "unknown command 'frobnicate'"));
	free(out);
	free(err);
	assert_int_equal(run_cli(f->path, NULL, &out, &err, 3, "state", "get", "a"), 2);
	free(out);
	free(err);
	assert_int_equal(run_cli(f->path, NULL, &out, &err, 3, "state", "list", "extra"), 2);
	free(out);
	free(err);
	/* A usage error never creates the database. */
	assert_int_equal(stat(f->path, &sb), -1);
	assert_int_equal(run_cli(f->path, NULL, &out, &err, 2, "state", "help"), 0);
	assert_non_null(strstr(out, "usage: bottlefs state"));
	free(out);
	free(err);
}

static void test_cli_provenance_and_journal(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	struct journal_entry e = {0};
	char *out, *err;
	int64_t id;

	assert_int_equal(state_provenance_add(st, "comment", "alice/dotfiles#12", "201"), 0);
	e.kind = "comment";
	e.owner = "alice";
	e.repo = "dotfiles";
	e.number = 12;
	e.payload = "bad \xff byte\n";
	assert_int_equal(state_journal_add(st, &e, &id), 0);
	e.payload = "sent";
	e.assign_owner = "alice";
	e.assign_repo = "dotfiles";
	e.assign_issue = 12;
	assert_int_equal(state_journal_add(st, &e, &id), 0);
	assert_int_equal(state_journal_finish(st, id, JOURNAL_DONE, "201", 77), 0);

	assert_int_equal(run_cli(f->path, NULL, &out, &err, 2, "state", "provenance"), 0);
	assert_non_null(strstr(out, "\"what\":\"comment\",\"where\":\"alice/dotfiles#12\","
				    "\"answer\":\"201\"}\n"));
	assert_non_null(strstr(out, "{\"id\":1,\"time\":\"20"));
	free(out);
	free(err);

	assert_int_equal(run_cli(f->path, NULL, &out, &err, 2, "state", "journal"), 0);
	assert_non_null(strstr(out, "\"status\":\"pending\""));
	assert_non_null(strstr(out, "\"status\":\"done\""));
	/* Invalid UTF-8 in a payload still gives valid JSON. */
	assert_non_null(strstr(out, "\"payload\":\"bad \xef\xbf\xbd byte\\n\""));
	/* The assignment, the forge's id and the floor, or null. */
	assert_non_null(strstr(out, "\"assign\":null,\"forge_id\":null,\"floor\":null}\n"));
	assert_non_null(
	    strstr(out, "\"assign\":\"alice/dotfiles#12\",\"forge_id\":77,\"floor\":null}\n"));
	free(out);
	free(err);
	assert_int_equal(run_cli(f->path, NULL, &out, &err, 3, "state", "journal", "--unfinished"),
			 0);
	assert_non_null(strstr(out, "\"status\":\"pending\""));
	assert_null(strstr(out, "\"status\":\"done\""));
	free(out);
	free(err);
}

/* ---- bottlefs queue ---- */

struct qfix {
	char dir[64];
	char qdir[128];
};

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
	    cmocka_unit_test_setup_teardown(test_cli_records, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_bad_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_usage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cli_provenance_and_journal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_queue_list_and_take_order, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_queue_same_second_by_mtime, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_queue_take_empty_and_missing, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_queue_bad_item_set_aside, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_queue_cli_usage, qsetup, qteardown),
	    cmocka_unit_test_setup_teardown(test_queue_concurrent_takers, qsetup, qteardown),
	};

	return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
