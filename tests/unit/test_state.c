/* Unit tests for state/state.h: the SQLite state store (`bottlefs state` is test_cli.c). */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "state/state.h"

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

/* A second, plain SQLite connection to look at what is really on disk. */
static int64_t pragma_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void test_open_creates_dirs_and_wal(void **state)
{
	struct fixture *f = *state;
	char sub[128], journal_mode[16] = "";
	struct stat sb;
	sqlite3 *db;
	sqlite3_stmt *s;

	open_ok(f);
	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	assert_int_equal(stat(sub, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 0077, 0);
	snprintf(sub, sizeof(sub), "%s/sub/dir", f->dir);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0700);

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	snprintf(journal_mode, sizeof(journal_mode), "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
	assert_string_equal(journal_mode, "wal");
	assert_int_equal(pragma_int(f->path, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
}

static void test_open_file_mode_0600(void **state)
{
	struct fixture *f = *state;
	struct stat sb;
	mode_t old = umask(0);

	open_ok(f);
	umask(old);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_open_tightens_loose_mode(void **state)
{
	struct fixture *f = *state;
	struct stat sb;
	FILE *fp;

	snprintf(f->path, sizeof(f->path), "%s/loose.db", f->dir);
	fp = fopen(f->path, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(chmod(f->path, 0644), 0);
	open_ok(f);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_open_refuses_newer_schema(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT(4096);
	struct state *st = NULL;
	sqlite3 *db;

	snprintf(f->path, sizeof(f->path), "%s/future.db", f->dir);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(state_open(f->path, &st, &err), -EPROTO);
	assert_null(st);
	assert_non_null(strstr(buf_cstr(&err), "schema version 99"));
	buf_release(&err);
}

static void test_open_not_a_database(void **state)
{
	struct fixture *f = *state;
	struct buf err = BUF_INIT(4096);
	struct state *st = NULL;
	FILE *fp;
	int i;

	snprintf(f->path, sizeof(f->path), "%s/garbage.db", f->dir);
	fp = fopen(f->path, "w");
	assert_non_null(fp);
	for (i = 0; i < 200; i++)
		fputs("this is not an sqlite database at all. ", fp);
	fclose(fp);
	assert_int_equal(state_open(f->path, &st, &err), -EBADMSG);
	assert_null(st);
	assert_non_null(strstr(buf_cstr(&err), f->path));
	buf_release(&err);
}

static void test_record_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	char *json = NULL;

	assert_int_equal(state_record_get(st, "alice", "dotfiles", 12, &json), -ENOENT);
	assert_null(json);
	assert_int_equal(state_record_upsert(st, "alice", "dotfiles", 12, "{\"phase\":\"run\"}"),
			 0);
	assert_int_equal(state_record_get(st, "alice", "dotfiles", 12, &json), 0);
	assert_string_equal(json, "{\"phase\":\"run\"}");
	free(json);
	assert_int_equal(state_record_upsert(st, "alice", "dotfiles", 12, "{\"phase\":\"done\"}"),
			 0);
	assert_int_equal(state_record_get(st, "alice", "dotfiles", 12, &json), 0);
	assert_string_equal(json, "{\"phase\":\"done\"}");
	free(json);
	/* A different issue is a different record. */
	assert_int_equal(state_record_get(st, "alice", "dotfiles", 13, &json), -ENOENT);
	assert_int_equal(state_record_delete(st, "alice", "dotfiles", 12), 0);
	assert_int_equal(state_record_get(st, "alice", "dotfiles", 12, &json), -ENOENT);
	assert_int_equal(state_record_delete(st, "alice", "dotfiles", 12), -ENOENT);
}

static void test_record_rejects_bad_input(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	char *json = NULL;

	assert_int_equal(state_record_upsert(st, "a", "b", 1, "{not json"), -EINVAL);
	assert_int_equal(state_record_upsert(st, "a", "b", 1, "{\"k\":1,\"k\":2}"), -EINVAL);
	assert_int_equal(state_record_upsert(st, "a", "b", 1, NULL), -EINVAL);
	assert_int_equal(state_record_upsert(st, "", "b", 1, "{}"), -EINVAL);
	assert_int_equal(state_record_upsert(st, "a", "", 1, "{}"), -EINVAL);
	assert_int_equal(state_record_upsert(st, "a", "b", 0, "{}"), -EINVAL);
	assert_int_equal(state_record_upsert(st, "a", "b", (uint64_t)INT64_MAX + 1, "{}"), -EINVAL);
	assert_int_equal(state_record_get(st, "a", "b", 1, &json), -ENOENT);
	/* Any JSON value is a record, not only objects. */
	assert_int_equal(state_record_upsert(st, "a", "b", (uint64_t)INT64_MAX, "[1,2]"), 0);
	assert_int_equal(state_record_get(st, "a", "b", (uint64_t)INT64_MAX, &json), 0);
	assert_string_equal(json, "[1,2]");
	free(json);
}

struct collected {
	char lines[16][256];
	int n;
};

static int collect_record(void *ud, const char *owner, const char *repo, uint64_t issue,
			  const char *json)
{
	struct collected *c = ud;

	if (c->n >= 16)
		return -ENOSPC;
	snprintf(c->lines[c->n++], 256, "%s|%s|%" PRIu64 "|%s", owner, repo, issue, json);
	return 0;
}

static int stop_after_one(void *ud, const char *owner, const char *repo, uint64_t issue,
			  const char *json)
{
	(void)owner;
	(void)repo;
	(void)issue;
	(void)json;
	++*(int *)ud;
	return 42;
}

static void test_record_all_ordered(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	struct collected c = {0};
	int calls = 0;

	assert_int_equal(state_record_upsert(st, "bob", "x", 2, "2"), 0);
	assert_int_equal(state_record_upsert(st, "alice", "y", 10, "10"), 0);
	assert_int_equal(state_record_upsert(st, "alice", "y", 9, "9"), 0);
	assert_int_equal(state_record_upsert(st, "alice", "x", 100, "100"), 0);
	assert_int_equal(state_record_all(st, collect_record, &c), 0);
	assert_int_equal(c.n, 4);
	assert_string_equal(c.lines[0], "alice|x|100|100");
	assert_string_equal(c.lines[1], "alice|y|9|9");
	assert_string_equal(c.lines[2], "alice|y|10|10");
	assert_string_equal(c.lines[3], "bob|x|2|2");
	/* A callback's non-zero return stops the walk and comes back. */
	assert_int_equal(state_record_all(st, stop_after_one, &calls), 42);
	assert_int_equal(calls, 1);
}

static void test_record_odd_keys(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	const char *owners[] = {"o'brien", "a\"b",	"semi;colon -- DROP TABLE records",
				"ünïcødé", "tab\there", "%_like"};
	struct collected c = {0};
	char *json = NULL;
	size_t i;

	for (i = 0; i < sizeof(owners) / sizeof(owners[0]); i++)
		assert_int_equal(state_record_upsert(st, owners[i], "r/e/p/o", i + 1, "true"), 0);
	for (i = 0; i < sizeof(owners) / sizeof(owners[0]); i++) {
		assert_int_equal(state_record_get(st, owners[i], "r/e/p/o", i + 1, &json), 0);
		assert_string_equal(json, "true");
		free(json);
		/* The key is exact: no wildcard, no case folding. */
		assert_int_equal(state_record_get(st, owners[i], "R/E/P/O", i + 1, &json), -ENOENT);
	}
	assert_int_equal(state_record_get(st, "%", "r/e/p/o", 6, &json), -ENOENT);
	assert_int_equal(state_record_all(st, collect_record, &c), 0);
	assert_int_equal(c.n, 6);
}

static void test_pr_add_list(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	uint64_t *prs = NULL;
	size_t n = 99;

	assert_int_equal(state_pr_list(st, "alice", "dotfiles", 12, &prs, &n), 0);
	assert_int_equal(n, 0);
	assert_null(prs);
	assert_int_equal(state_pr_add(st, "alice", "dotfiles", 12, 31), 0);
	assert_int_equal(state_pr_add(st, "alice", "dotfiles", 12, 7), 0);
	assert_int_equal(state_pr_add(st, "alice", "dotfiles", 12, 31), 0); /* idempotent */
	assert_int_equal(state_pr_add(st, "alice", "dotfiles", 13, 40), 0);
	assert_int_equal(state_pr_add(st, "alice", "dotfiles", 12, 0), -EINVAL);
	assert_int_equal(state_pr_list(st, "alice", "dotfiles", 12, &prs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(prs[0], 7);
	assert_int_equal(prs[1], 31);
	free(prs);
	assert_int_equal(state_pr_list(st, "alice", "dotfiles", 13, &prs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(prs[0], 40);
	free(prs);
}

static int64_t add_entry(struct state *st, const char *kind, uint64_t number, const char *payload)
{
	struct journal_entry e = {0};
	int64_t id = -1;

	e.kind = (char *)kind;
	e.owner = "alice";
	e.repo = "dotfiles";
	e.number = number;
	e.field = strcmp(kind, "patch") == 0 ? "title" : NULL;
	e.payload = (char *)payload;
	e.marker = strcmp(kind, "comment") == 0 ? "<!-- bottlefs:abc -->" : NULL;
	e.status = JOURNAL_DONE; /* ignored: a new entry is pending */
	assert_int_equal(state_journal_add(st, &e, &id), 0);
	assert_true(id > 0);
	return id;
}

static void test_journal_lifecycle(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	struct journal_entry *v = NULL, e;
	size_t n = 0;
	int64_t a, b, c;

	a = add_entry(st, "comment", 12, "first comment\n");
	b = add_entry(st, "patch", 12, "New title");
	c = add_entry(st, "create_pr", 0, "{\"title\":\"x\"}");
	assert_true(a < b && b < c);

	assert_int_equal(state_journal_unfinished(st, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].id, a);
	assert_string_equal(v[0].kind, "comment");
	assert_string_equal(v[0].owner, "alice");
	assert_string_equal(v[0].repo, "dotfiles");
	assert_int_equal(v[0].number, 12);
	assert_null(v[0].field);
	assert_string_equal(v[0].payload, "first comment\n");
	assert_string_equal(v[0].marker, "<!-- bottlefs:abc -->");
	assert_int_equal(v[0].status, JOURNAL_PENDING);
	assert_null(v[0].answer);
	assert_true(v[0].created > 1600000000);
	assert_string_equal(v[1].field, "title");
	assert_int_equal(v[2].number, 0);
	state_journal_list_free(v, n);

	assert_int_equal(state_journal_set(st, a, JOURNAL_SENDING, NULL), 0);
	assert_int_equal(state_journal_set(st, b, JOURNAL_DONE, "200 ok"), 0);
	assert_int_equal(state_journal_set(st, c, JOURNAL_FAILED, "422 head missing"), 0);
	assert_int_equal(state_journal_unfinished(st, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, a);
	assert_int_equal(v[0].status, JOURNAL_SENDING);
	state_journal_list_free(v, n);

	assert_int_equal(state_journal_get(st, b, &e), 0);
	assert_int_equal(e.status, JOURNAL_DONE);
	assert_string_equal(e.answer, "200 ok");
	assert_string_equal(e.payload, "New title");
	state_journal_entry_release(&e);

	assert_int_equal(state_journal_set(st, a, JOURNAL_DONE, "201 created"), 0);
	assert_int_equal(state_journal_unfinished(st, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
}

static void test_journal_bad_input(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	struct journal_entry e = {0}, out;
	int64_t id = -7;

	assert_int_equal(state_journal_add(st, &e, &id), -EINVAL);
	assert_int_equal(id, -7);
	assert_int_equal(state_journal_set(st, 12345, JOURNAL_DONE, NULL), -ENOENT);
	id = add_entry(st, "labels", 3, "bug\n");
	assert_int_equal(state_journal_set(st, id, (enum journal_status)9, NULL), -EINVAL);
	assert_int_equal(state_journal_get(st, id + 1, &out), -ENOENT);
	assert_string_equal(journal_status_name(JOURNAL_FAILED), "failed");
	assert_null(journal_status_name((enum journal_status)4));
}

static void test_journal_survives_restart(void **state)
{
	struct fixture *f = *state;
	struct journal_entry *v = NULL;
	uint64_t *prs = NULL;
	size_t n = 0;
	int64_t a, b;

	open_ok(f);
	a = add_entry(f->st, "comment", 12, "kept across restart");
	b = add_entry(f->st, "comment", 12, "already sent");
	assert_int_equal(state_journal_set(f->st, b, JOURNAL_DONE, "201"), 0);
	assert_int_equal(state_pr_add(f->st, "alice", "dotfiles", 12, 5), 0);
	state_free(f->st);
	f->st = NULL;

	open_ok(f);
	assert_int_equal(state_journal_unfinished(f->st, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, a);
	assert_string_equal(v[0].payload, "kept across restart");
	state_journal_list_free(v, n);
	/* Ids keep growing after a restart: an old id is never reused. */
	assert_true(add_entry(f->st, "comment", 12, "later") > b);
	assert_int_equal(state_pr_list(f->st, "alice", "dotfiles", 12, &prs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(prs[0], 5);
	free(prs);
}

/* The columns schema 2 added: the assignment, what the forge created, the floor. */
static void test_journal_assignment_forge_id_floor(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	struct journal_entry e = {0}, out;
	int64_t a, b, c, by = -1;

	e.kind = "create_pr";
	e.owner = "alice";
	e.repo = "dotfiles";
	e.payload = "{}";
	e.assign_owner = "alice";
	e.assign_repo = "dotfiles";
	e.assign_issue = 2;
	assert_int_equal(state_journal_add(st, &e, &a), 0);
	assert_int_equal(state_journal_get(st, a, &out), 0);
	assert_string_equal(out.assign_owner, "alice");
	assert_string_equal(out.assign_repo, "dotfiles");
	assert_int_equal(out.assign_issue, 2);
	assert_int_equal(out.forge_id, 0);
	assert_false(out.has_floor);
	state_journal_entry_release(&out);

	/* A floor of 0 (an empty repository) is a floor, not "unknown". */
	assert_int_equal(state_journal_set_floor(st, a, 0), 0);
	assert_int_equal(state_journal_get(st, a, &out), 0);
	assert_true(out.has_floor);
	assert_int_equal(out.floor, 0);
	state_journal_entry_release(&out);
	assert_int_equal(state_journal_set_floor(st, a, 6), 0);
	assert_int_equal(state_journal_set_floor(st, a + 100, 6), -ENOENT);

	/* finish records the status, the answer and the forge's id at once. */
	assert_int_equal(state_journal_finish(st, a, JOURNAL_DONE, "pull 13", 13), 0);
	assert_int_equal(state_journal_get(st, a, &out), 0);
	assert_int_equal(out.status, JOURNAL_DONE);
	assert_string_equal(out.answer, "pull 13");
	assert_int_equal(out.forge_id, 13);
	assert_int_equal(out.floor, 6);
	state_journal_entry_release(&out);
	/* set (and finish with 0) keep the recorded id. */
	assert_int_equal(state_journal_set(st, a, JOURNAL_DONE, "pull 13 (again)"), 0);
	assert_int_equal(state_journal_finish(st, a, JOURNAL_DONE, "pull 13", 0), 0);
	assert_int_equal(state_journal_get(st, a, &out), 0);
	assert_int_equal(out.forge_id, 13);
	state_journal_entry_release(&out);

	/* Claims: by kind and repository, never counting the entry that asks. */
	b = add_entry(st, "comment", 2, "hello");
	assert_int_equal(state_journal_finish(st, b, JOURNAL_DONE, "comment 13", 13), 0);
	c = add_entry(st, "create_pr", 0, "{}");
	assert_int_equal(state_journal_claims(st, "create_pr", "alice", "dotfiles", 13, c, &by), 1);
	assert_int_equal(by, a);
	assert_int_equal(state_journal_claims(st, "create_pr", "alice", "dotfiles", 13, a, &by), 0);
	assert_int_equal(by, 0);
	assert_int_equal(state_journal_claims(st, "comment", "alice", "dotfiles", 13, c, NULL), 1);
	assert_int_equal(state_journal_claims(st, "create_pr", "alice", "website", 13, c, NULL), 0);
	assert_int_equal(state_journal_claims(st, "create_pr", "alice", "dotfiles", 14, c, NULL),
			 0);
	assert_int_equal(state_journal_claims(st, "create_pr", "alice", "dotfiles", 0, c, NULL),
			 -EINVAL);

	/* An assignment is whole or absent. */
	memset(&e, 0, sizeof(e));
	e.kind = "comment";
	e.owner = "alice";
	e.repo = "dotfiles";
	e.number = 2;
	e.payload = "x";
	e.assign_owner = "alice";
	assert_int_equal(state_journal_add(st, &e, &c), -EINVAL);
	e.assign_repo = "dotfiles";
	assert_int_equal(state_journal_add(st, &e, &c), -EINVAL);
	e.assign_owner = NULL;
	e.assign_repo = NULL;
	e.assign_issue = 2;
	assert_int_equal(state_journal_add(st, &e, &c), -EINVAL);
}

static void test_pr_holders(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	uint64_t *v = NULL;
	size_t n = 9;

	assert_int_equal(state_pr_holders(st, "acme", "widgets", 13, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);
	assert_int_equal(state_pr_add(st, "acme", "widgets", 2, 13), 0);
	assert_int_equal(state_pr_add(st, "acme", "widgets", 1, 13), 0);
	assert_int_equal(state_pr_add(st, "acme", "widgets", 1, 14), 0);
	assert_int_equal(state_pr_add(st, "acme", "gadgets", 3, 13), 0);
	assert_int_equal(state_pr_holders(st, "acme", "widgets", 13, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0], 1);
	assert_int_equal(v[1], 2);
	free(v);
	assert_int_equal(state_pr_holders(st, "acme", "widgets", 0, &v, &n), -EINVAL);
}

/* What a version 1 file looked like on disk (state.c schema_v1), with rows in it. */
static const char v1_file[] =
    "CREATE TABLE records (owner TEXT NOT NULL, repo TEXT NOT NULL, issue INTEGER NOT NULL,"
    " json TEXT NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (owner, repo, issue));"
    "CREATE TABLE pulls (owner TEXT NOT NULL, repo TEXT NOT NULL, issue INTEGER NOT NULL,"
    " pr INTEGER NOT NULL, added INTEGER NOT NULL, PRIMARY KEY (owner, repo, issue, pr));"
    "CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind TEXT NOT NULL, owner TEXT NOT NULL, repo TEXT NOT NULL,"
    " number INTEGER NOT NULL, field TEXT, payload TEXT NOT NULL, marker TEXT,"
    " status TEXT NOT NULL CHECK (status IN ('pending','sending','done','failed')),"
    " answer TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE INDEX journal_unfinished ON journal (id) WHERE status IN ('pending','sending');"
    "CREATE TABLE provenance (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,"
    " what TEXT NOT NULL, place TEXT NOT NULL, answer TEXT);"
    "CREATE TABLE cache (key TEXT PRIMARY KEY, data BLOB NOT NULL, fetched_ms INTEGER NOT NULL,"
    " tag TEXT);"
    "PRAGMA user_version = 1;"
    "INSERT INTO records VALUES ('alice', 'dotfiles', 2, '{\"k\":1}', 1700000000);"
    "INSERT INTO pulls VALUES ('acme', 'widgets', 2, 13, 1700000000);"
    "INSERT INTO provenance (at, what, place, answer) VALUES (1700000000, 'body', 'x', 'ok');"
    "INSERT INTO cache VALUES ('k', x'00ff', 5, NULL);"
    /* 1..4 finished: their answers name what the forge created. */
    "INSERT INTO journal (kind, owner, repo, number, payload, status, answer, created, updated)"
    " VALUES ('comment', 'alice', 'dotfiles', 2, 'old', 'done', 'comment 41', 1, 1),"
    " ('create_pr', 'acme', 'widgets', 0, '{}', 'done', 'pull 13', 1, 1),"
    " ('comment', 'alice', 'dotfiles', 2, 'odd', 'done', 'comment 0', 1, 1),"
    " ('comment', 'alice', 'dotfiles', 2, 'odd', 'done', 'comment 12x', 1, 1);"
    /* 5..10 unfinished: whose are they? */
    "INSERT INTO journal (kind, owner, repo, number, field, payload, status, created, updated)"
    " VALUES ('comment', 'alice', 'dotfiles', 2, NULL, 'on the issue', 'pending', 1, 1),"
    " ('patch', 'alice', 'dotfiles', 2, 'title', 'T', 'sending', 1, 1),"
    " ('done', 'alice', 'dotfiles', 2, NULL, 'success', 'pending', 1, 1),"
    " ('patch', 'acme', 'widgets', 13, 'body', 'on a pull request', 'sending', 1, 1),"
    " ('create_pr', 'acme', 'widgets', 0, NULL, '{}', 'pending', 1, 1),"
    " ('comment', 'acme', 'widgets', 13, NULL, 'on a pull request', 'pending', 1, 1);";

static void test_migrate_v1(void **state)
{
	struct fixture *f = *state;
	struct journal_entry e;
	struct state *st;
	char *json = NULL;
	uint64_t *prs = NULL;
	size_t n = 0;
	sqlite3 *db;
	int64_t id;

	snprintf(f->path, sizeof(f->path), "%s/v1.db", f->dir);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1_file, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	st = open_ok(f);
	assert_int_equal(pragma_int(f->path, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
	/* Everything version 1 held is still there. */
	assert_int_equal(state_record_get(st, "alice", "dotfiles", 2, &json), 0);
	assert_string_equal(json, "{\"k\":1}");
	free(json);
	assert_int_equal(state_pr_list(st, "acme", "widgets", 2, &prs, &n), 0);
	assert_int_equal(n, 1);
	free(prs);
	assert_int_equal(pragma_int(f->path, "SELECT count(*) FROM journal"), 10);
	assert_int_equal(pragma_int(f->path, "SELECT count(*) FROM provenance"), 1);
	assert_int_equal(pragma_int(f->path, "SELECT count(*) FROM cache"), 1);

	/* The ids finished rows created, from their answers (only well-formed ones). */
	assert_int_equal(state_journal_claims(st, "comment", "alice", "dotfiles", 41, 0, &id), 1);
	assert_int_equal(id, 1);
	assert_int_equal(state_journal_claims(st, "create_pr", "acme", "widgets", 13, 0, &id), 1);
	assert_int_equal(id, 2);
	for (id = 3; id <= 4; id++) {
		assert_int_equal(state_journal_get(st, id, &e), 0);
		assert_int_equal(e.forge_id, 0);
		assert_null(e.assign_owner);
		state_journal_entry_release(&e);
	}
	/* A write to an issue no assignment lists as a PR: that issue's assignment. */
	for (id = 5; id <= 7; id++) {
		assert_int_equal(state_journal_get(st, id, &e), 0);
		assert_true(e.status == JOURNAL_PENDING || e.status == JOURNAL_SENDING);
		assert_string_equal(e.assign_owner, "alice");
		assert_string_equal(e.assign_repo, "dotfiles");
		assert_int_equal(e.assign_issue, 2);
		assert_false(e.has_floor);
		state_journal_entry_release(&e);
	}
	/* A pull request, or a write to one: failed, with the reason, never sent. */
	for (id = 8; id <= 10; id++) {
		assert_int_equal(state_journal_get(st, id, &e), 0);
		assert_int_equal(e.status, JOURNAL_FAILED);
		assert_string_equal(e.answer, STATE_LEGACY_UNATTRIBUTED);
		assert_null(e.assign_owner);
		state_journal_entry_release(&e);
	}
	/* Opening again is a no-op: the version is the current one now. */
	state_free(st);
	f->st = NULL;
	st = open_ok(f);
	assert_int_equal(
	    pragma_int(f->path, "SELECT count(*) FROM journal WHERE status = 'failed'"), 3);
}

static int collect_provenance(void *ud, int64_t id, int64_t when, const char *what,
			      const char *where, const char *answer)
{
	struct collected *c = ud;

	if (c->n >= 16)
		return -ENOSPC;
	if (id <= 0 || when < 1600000000)
		return -EINVAL;
	snprintf(c->lines[c->n++], 256, "%s|%s|%s", what, where, answer ? answer : "(null)");
	return 0;
}

static void test_provenance_order(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	struct collected c = {0};

	assert_int_equal(state_provenance_add(st, "comment", "alice/dotfiles#12", "201 #c99"), 0);
	assert_int_equal(state_provenance_add(st, "patch title", "alice/dotfiles#12", NULL), 0);
	assert_int_equal(state_provenance_add(st, "create_pr", "alice/dotfiles", "201 #31"), 0);
	assert_int_equal(state_provenance_add(st, NULL, "x", NULL), -EINVAL);
	assert_int_equal(state_provenance_each(st, collect_provenance, &c), 0);
	assert_int_equal(c.n, 3);
	assert_string_equal(c.lines[0], "comment|alice/dotfiles#12|201 #c99");
	assert_string_equal(c.lines[1], "patch title|alice/dotfiles#12|(null)");
	assert_string_equal(c.lines[2], "create_pr|alice/dotfiles|201 #31");
}

static void test_cache(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	const char bin[] = {'a', '\0', 'b', '\xff'};
	void *data = NULL;
	size_t len = 0;
	int64_t ms = 0;
	char *tag = NULL;

	assert_int_equal(state_cache_get(st, "issue/1", &data, &len, &ms, &tag), -ENOENT);
	assert_int_equal(
	    state_cache_put(st, "issue/1", bin, sizeof(bin), 1700000000123, "W/\"e1\""), 0);
	assert_int_equal(state_cache_get(st, "issue/1", &data, &len, &ms, &tag), 0);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(data, bin, sizeof(bin));
	assert_int_equal(((char *)data)[len], '\0');
	assert_int_equal(ms, 1700000000123);
	assert_string_equal(tag, "W/\"e1\"");
	free(data);
	free(tag);

	/* Overwrite: new data, no tag. Empty blobs are fine. */
	assert_int_equal(state_cache_put(st, "issue/1", "", 0, 5, NULL), 0);
	assert_int_equal(state_cache_get(st, "issue/1", &data, &len, &ms, &tag), 0);
	assert_int_equal(len, 0);
	assert_non_null(data);
	assert_int_equal(ms, 5);
	assert_null(tag);
	free(data);
	/* Out-params are optional. */
	assert_int_equal(state_cache_get(st, "issue/1", NULL, NULL, NULL, NULL), 0);

	assert_int_equal(state_cache_put(st, "alice/x/issues/1", "a", 1, 1, NULL), 0);
	assert_int_equal(state_cache_put(st, "alice/x/issues/2", "b", 1, 1, NULL), 0);
	assert_int_equal(state_cache_put(st, "alice/xy/issues/1", "c", 1, 1, NULL), 0);
	assert_int_equal(state_cache_put(st, "alice/x0", "d", 1, 1, NULL), 0);
	assert_int_equal(state_cache_put(st, "\xff\xff", "e", 1, 1, NULL), 0);
	assert_int_equal(state_cache_delete_prefix(st, "alice/x/"), 2);
	assert_int_equal(state_cache_get(st, "alice/x/issues/1", NULL, NULL, NULL, NULL), -ENOENT);
	assert_int_equal(state_cache_get(st, "alice/x/issues/2", NULL, NULL, NULL, NULL), -ENOENT);
	assert_int_equal(state_cache_get(st, "alice/xy/issues/1", NULL, NULL, NULL, NULL), 0);
	assert_int_equal(state_cache_get(st, "alice/x0", NULL, NULL, NULL, NULL), 0);
	/* A prefix ending in 0xff bytes has no upper bound to increment. */
	assert_int_equal(state_cache_delete_prefix(st, "\xff"), 1);
	assert_int_equal(state_cache_get(st, "\xff\xff", NULL, NULL, NULL, NULL), -ENOENT);
	assert_int_equal(state_cache_delete_prefix(st, ""), 3);
	assert_int_equal(state_cache_get(st, "issue/1", NULL, NULL, NULL, NULL), -ENOENT);
}

#define THREADS 4
#define PER_THREAD 50

struct worker {
	struct state *st;
	int index;
	int failures;
};

static void *journal_worker(void *arg)
{
	struct worker *w = arg;
	struct journal_entry e = {0};
	char payload[64];
	int64_t id;
	int i;

	e.kind = "comment";
	e.owner = "alice";
	e.repo = "dotfiles";
	e.number = 12;
	e.payload = payload;
	for (i = 0; i < PER_THREAD; i++) {
		snprintf(payload, sizeof(payload), "thread %d entry %d", w->index, i);
		if (state_journal_add(w->st, &e, &id) != 0)
			w->failures++;
		if (state_provenance_add(w->st, "comment", payload, NULL) != 0)
			w->failures++;
	}
	return NULL;
}

static void test_concurrent_journal(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct journal_entry *v = NULL;
	bool seen[THREADS][PER_THREAD] = {{false}};
	size_t n = 0, k;
	int i, ti, ei;

	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){st, i, 0};
		assert_int_equal(pthread_create(&t[i], NULL, journal_worker, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(state_journal_unfinished(st, &v, &n), 0);
	assert_int_equal(n, THREADS * PER_THREAD);
	for (k = 0; k < n; k++) {
		assert_int_equal(sscanf(v[k].payload, "thread %d entry %d", &ti, &ei), 2);
		assert_false(seen[ti][ei]);
		seen[ti][ei] = true;
		if (k > 0)
			assert_true(v[k].id > v[k - 1].id);
	}
	state_journal_list_free(v, n);
}

/* Two connections to one file (the daemon and `bottlefs state`) wait for each other. */
static void test_two_connections(void **state)
{
	struct fixture *f = *state;
	struct state *other = NULL;
	struct worker w[2];
	pthread_t t[2];
	struct journal_entry *v = NULL;
	size_t n = 0;
	int i;

	open_ok(f);
	assert_int_equal(state_open(f->path, &other, NULL), 0);
	w[0] = (struct worker){f->st, 0, 0};
	w[1] = (struct worker){other, 1, 0};
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, journal_worker, &w[i]), 0);
	for (i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(state_journal_unfinished(other, &v, &n), 0);
	assert_int_equal(n, 2 * PER_THREAD);
	state_journal_list_free(v, n);
	state_free(other);
}

static void test_done_signal(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	char *text = NULL;

	assert_int_equal(state_done_get(st, "alice", "dotfiles", 2, &text), -ENOENT);
	assert_int_equal(state_done_put(st, "alice", "dotfiles", 2, "{\"status\": \"success\"}\n"),
			 0);
	assert_int_equal(state_done_get(st, "alice", "dotfiles", 2, &text), 0);
	assert_string_equal(text, "{\"status\": \"success\"}\n");
	free(text);
	/* One per assignment: another issue has none. */
	assert_int_equal(state_done_get(st, "alice", "dotfiles", 3, &text), -ENOENT);
	assert_int_equal(state_done_put(st, "alice", "dotfiles", 0, "x"), -EINVAL);
	assert_int_equal(state_done_put(st, "", "dotfiles", 2, "x"), -EINVAL);
	assert_int_equal(state_done_put(st, "alice", "dotfiles", 2, NULL), -EINVAL);
	/* Not in the content cache any more. */
	assert_int_equal(pragma_int(f->path, "SELECT count(*) FROM cache"), 0);
}

/*
 * Version 2 kept the done signal in the cache table under "done:o/r#n",
 * NUL included; version 3 moves it to its own table.
 */
static void test_migrate_v2_done(void **state)
{
	struct fixture *f = *state;
	struct state *st = open_ok(f);
	char *text = NULL;
	sqlite3 *db;

	state_free(st);
	f->st = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(db,
			 "DROP TABLE done_signals;"
			 "INSERT INTO cache VALUES ('done:alice/dotfiles#12',"
			 " CAST('{\"status\": \"blocked\"}' AS BLOB) || x'00', 0, NULL);"
			 "INSERT INTO cache VALUES ('done:a.b/c-d_e#7', CAST('x' AS BLOB), 0,"
			 " NULL);"
			 "INSERT INTO cache VALUES ('item:i:alice/dotfiles#12', x'7b7d', 5, NULL);"
			 "PRAGMA user_version = 2;",
			 NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	st = open_ok(f);
	assert_int_equal(pragma_int(f->path, "PRAGMA user_version"), STATE_SCHEMA_VERSION);
	assert_int_equal(state_done_get(st, "alice", "dotfiles", 12, &text), 0);
	assert_string_equal(text, "{\"status\": \"blocked\"}");
	free(text);
	assert_int_equal(state_done_get(st, "a.b", "c-d_e", 7, &text), 0);
	assert_string_equal(text, "x");
	free(text);
	/* The rest of the cache stays; the done rows left it. */
	assert_int_equal(pragma_int(f->path, "SELECT count(*) FROM cache"), 1);
	assert_int_equal(pragma_int(f->path, "SELECT count(*) FROM cache WHERE key GLOB 'done:*'"),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_open_creates_dirs_and_wal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_file_mode_0600, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_tightens_loose_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_refuses_newer_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_not_a_database, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record_rejects_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record_all_ordered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_record_odd_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pr_add_list, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal_bad_input, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal_survives_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal_assignment_forge_id_floor, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pr_holders, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_done_signal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v2_done, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_provenance_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_journal, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_two_connections, setup, teardown),
	};

	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
