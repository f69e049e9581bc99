#include "state/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state/pg/pg.h"
#include "util/dir.h"
#include "util/str.h"

#define BUSY_TIMEOUT_MS 5000

/*
 * Version 1. Issue and PR numbers are stored as INTEGER (int64), which is
 * why the API refuses numbers above INT64_MAX. Journal statuses are stored
 * as words so that `sqlite3 bot-bottle.db` stays readable by a person.
 */
static const char schema_v1[] =
    "CREATE TABLE records ("
    " owner TEXT NOT NULL, repo TEXT NOT NULL, issue INTEGER NOT NULL,"
    " json TEXT NOT NULL, updated INTEGER NOT NULL,"
    " PRIMARY KEY (owner, repo, issue));"
    "CREATE TABLE pulls ("
    " owner TEXT NOT NULL, repo TEXT NOT NULL, issue INTEGER NOT NULL,"
    " pr INTEGER NOT NULL, added INTEGER NOT NULL,"
    " PRIMARY KEY (owner, repo, issue, pr));"
    "CREATE TABLE journal ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind TEXT NOT NULL, owner TEXT NOT NULL, repo TEXT NOT NULL,"
    " number INTEGER NOT NULL, field TEXT, payload TEXT NOT NULL, marker TEXT,"
    " status TEXT NOT NULL CHECK (status IN ('pending','sending','done','failed')),"
    " answer TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE INDEX journal_unfinished ON journal (id)"
    " WHERE status IN ('pending','sending');"
    "CREATE TABLE provenance ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,"
    " what TEXT NOT NULL, place TEXT NOT NULL, answer TEXT);"
    "CREATE TABLE cache ("
    " key TEXT PRIMARY KEY, data BLOB NOT NULL, fetched_ms INTEGER NOT NULL, tag TEXT);";

/*
 * Version 2: a journal entry says which assignment it was made under (so a
 * daemon finishes only its own assignment's writes), what the forge created
 * for it (forge_id: comment id or PR number, instead of parsing the answer
 * text), and for a pull request the highest number the repository had
 * before it was sent (floor). A fresh file gets version 1 and then this, so
 * a new and a migrated database have the same schema.
 *
 * Rows written by version 1 keep everything they had. forge_id is filled
 * from the answers version 1 wrote ("comment N", "pull N") so the comments
 * and pull requests they account for stay claimed. An unfinished version 1
 * row has no assignment; it gets one only when its target says whose it is
 * without doubt: a patch, comment or done on an item that no assignment
 * lists as one of its pull requests can only have been written by a mount
 * assigned that very issue (scope allowed nothing else). Every other
 * unfinished version 1 row (a pull request, whose repository many
 * assignments share, or a write to a pull request) is marked failed with
 * the reason, and never sent.
 */
static const char migrate_v2[] =
    "ALTER TABLE journal ADD COLUMN assign_owner TEXT;"
    "ALTER TABLE journal ADD COLUMN assign_repo TEXT;"
    "ALTER TABLE journal ADD COLUMN assign_issue INTEGER;"
    "ALTER TABLE journal ADD COLUMN forge_id INTEGER;"
    "ALTER TABLE journal ADD COLUMN floor INTEGER;"
    "CREATE INDEX journal_forge_id ON journal (owner, repo, kind, forge_id)"
    " WHERE forge_id IS NOT NULL;"
    "CREATE INDEX pulls_pr ON pulls (owner, repo, pr);"
    "UPDATE journal SET forge_id = CAST(substr(answer, 9) AS INTEGER)"
    " WHERE status = 'done' AND kind = 'comment' AND answer GLOB 'comment [1-9]*'"
    " AND substr(answer, 9) NOT GLOB '*[^0-9]*' AND length(answer) <= 26;"
    "UPDATE journal SET forge_id = CAST(substr(answer, 6) AS INTEGER)"
    " WHERE status = 'done' AND kind = 'create_pr' AND answer GLOB 'pull [1-9]*'"
    " AND substr(answer, 6) NOT GLOB '*[^0-9]*' AND length(answer) <= 23;"
    "UPDATE journal SET assign_owner = owner, assign_repo = repo, assign_issue = number"
    " WHERE status IN ('pending','sending') AND kind IN ('patch','comment','done')"
    " AND number >= 1 AND NOT EXISTS (SELECT 1 FROM pulls p"
    " WHERE p.owner = journal.owner AND p.repo = journal.repo AND p.pr = journal.number);"
    "UPDATE journal SET status = 'failed', updated = CAST(strftime('%s','now') AS INTEGER),"
    " answer = '" STATE_LEGACY_UNATTRIBUTED "'"
    " WHERE status IN ('pending','sending') AND assign_owner IS NULL;";

/*
 * Version 3: the done signal that stands for an assignment has a table of
 * its own. Versions 1 and 2 kept it in the content cache under the key
 * "done:OWNER/REPO#ISSUE" (the text /done shows, with its NUL byte);
 * those rows move here and leave the cache. Owner and repository names
 * never hold '/' or '#' (the tree refuses them), so the key splits at the
 * first of each.
 */
static const char migrate_v3[] =
    "CREATE TABLE done_signals ("
    " owner TEXT NOT NULL, repo TEXT NOT NULL, issue INTEGER NOT NULL,"
    " text TEXT NOT NULL, at INTEGER NOT NULL,"
    " PRIMARY KEY (owner, repo, issue));"
    "INSERT OR REPLACE INTO done_signals (owner, repo, issue, text, at)"
    " SELECT substr(key, 6, instr(key, '/') - 6),"
    " substr(key, instr(key, '/') + 1, instr(key, '#') - instr(key, '/') - 1),"
    " CAST(substr(key, instr(key, '#') + 1) AS INTEGER),"
    " CAST(CASE WHEN hex(substr(data, -1)) = '00' THEN substr(data, 1, length(data) - 1)"
    " ELSE data END AS TEXT), 0"
    " FROM cache WHERE key GLOB 'done:?*/?*#[1-9]*' AND key NOT GLOB '*#*[^0-9]*';"
    "DELETE FROM cache WHERE key GLOB 'done:*';";

/*
 * Version 4: the lease on an assignment and the queue of done signals.
 * They matter on PostgreSQL, where many daemons share one database
 * (state/pg/schema.c); a SQLite file gets the same tables so that both
 * engines number their schemas alike. On SQLite the lease is always held
 * (one machine) and the queue is a directory (write/queue.c).
 */
static const char migrate_v4[] =
    "CREATE TABLE IF NOT EXISTS leases (owner TEXT NOT NULL, repo TEXT NOT NULL, issue INTEGER NOT "
    "NULL,"
    " holder TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (owner, repo, issue));"
    "CREATE TABLE IF NOT EXISTS signal_queue (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT "
    "NULL,"
    " repo TEXT NOT NULL, issue INTEGER NOT NULL, body TEXT NOT NULL,"
    " queued_at INTEGER NOT NULL);";

/* Each step from version i to i + 1; a fresh file takes every one. */
static const char *const migrations[] = {schema_v1, migrate_v2, migrate_v3, migrate_v4};
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == STATE_SCHEMA_VERSION,
	       "one migration per schema version");

/*
 * Creates the file ourselves so that it is born 0600 whatever the umask,
 * without touching the process-wide umask (other threads may create files).
 */
static int make_db_file(const char *path)
{
	struct stat sb;
	int fd, r = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0)
		r = -errno;
	else if (!S_ISREG(sb.st_mode))
		r = -EINVAL;
	else if ((sb.st_mode & 077) && fchmod(fd, 0600) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int user_version(struct state *st, int64_t *v)
{
	sqlite3_stmt *s;
	int r = sq_prepare(st, "PRAGMA user_version", &s);

	if (r < 0)
		return r;
	if (sqlite3_step(s) == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	else
		r = sq_errno(st->db, sqlite3_errcode(st->db));
	sqlite3_finalize(s);
	return r;
}

/* *found is the version in the file, for the error message. */
static int migrate(struct state *st, int64_t *found)
{
	int64_t v = 0;
	int r;

	/* IMMEDIATE: two processes opening a fresh file must not both create tables. */
	r = sq_exec(st, "BEGIN IMMEDIATE");
	if (r < 0)
		return r;
	r = user_version(st, &v);
	if (r < 0)
		goto out;
	*found = v;
	if (v > STATE_SCHEMA_VERSION) {
		r = -EPROTO;
		goto out;
	}
	for (; v < STATE_SCHEMA_VERSION; v++) {
		char pragma[48];

		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", (int)v + 1);
		r = sq_exec(st, migrations[v]);
		if (r == 0)
			r = sq_exec(st, pragma);
		if (r < 0)
			goto out;
	}
	r = sq_exec(st, "COMMIT");
out:
	if (r < 0)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static int set_wal(struct state *st)
{
	sqlite3_stmt *s;
	const char *mode;
	int r = sq_prepare(st, "PRAGMA journal_mode = WAL", &s);

	if (r < 0)
		return r;
	if (sqlite3_step(s) != SQLITE_ROW)
		r = sq_errno(st->db, sqlite3_errcode(st->db));
	else if (!(mode = sq_col_str(s, 0)) || strcmp(mode, "wal") != 0)
		r = -ENOTSUP; /* e.g. a filesystem without shared memory */
	sqlite3_finalize(s);
	return r;
}

int state_open(const char *path, struct state **out, struct buf *err)
{
	pthread_mutexattr_t attr;
	struct state *st;
	const char *what = "open";
	int64_t version = 0;
	int rc, r;

	if (!path || !*path) {
		if (err)
			buf_note(err, "state: no database path given");
		return -EINVAL;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&st->lock, &attr);
	pthread_mutexattr_destroy(&attr);

	what = "create the directory of";
	r = dir_make_parents(path, 0700);
	if (r < 0)
		goto out;
	what = "create";
	r = make_db_file(path);
	if (r < 0)
		goto out;
	what = "open";
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = sq_errno(st->db, rc);
		goto out;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	what = "set up";
	r = set_wal(st);
	if (r == 0)
		r = sq_exec(st, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON");
	if (r < 0)
		goto out;
	what = "migrate";
	r = migrate(st, &version);
	if (r < 0)
		goto out;
	*out = st;
	return 0;
out:
	if (err && r == -EPROTO && version > STATE_SCHEMA_VERSION)
		buf_note(err,
			 "state: cannot open '%s': schema version %" PRId64
			 " is newer than this bottlefs knows (%d)",
			 path, version, STATE_SCHEMA_VERSION);
	else if (err)
		buf_note(err, "state: cannot %s '%s': %s", what, path,
			 st->db && sqlite3_errcode(st->db) != SQLITE_OK ? sqlite3_errmsg(st->db)
									: strerror(-r));
	state_free(st);
	return r;
}

bool state_url_is_pg(const char *url)
{
	return url &&
	       (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0);
}

bool state_shared(const struct state *st)
{
	return st && st->pg;
}

int state_open_url(const char *url, unsigned timeout_ms, struct state **out, struct buf *err)
{
	pthread_mutexattr_t attr;
	struct state *st;
	int r;

	if (!state_url_is_pg(url))
		return state_open(url, out, err);
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&st->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	r = pgx_open(st, url, timeout_ms, err);
	if (r < 0) {
		state_free(st);
		return r;
	}
	*out = st;
	return 0;
}

void state_free(struct state *st)
{
	if (!st)
		return;
	pgx_close(st->pg);
	sqlite3_close_v2(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st);
}
