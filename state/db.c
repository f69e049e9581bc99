#include "state/state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/dir.h"
#include "util/str.h"

#define BUSY_TIMEOUT_MS 5000

struct state {
	sqlite3 *db;	      /* guarded by lock */
	pthread_mutex_t lock; /* recursive: callbacks may re-enter from the walking thread */
};

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

/* The one table from SQLite primary result codes to errno. */
static const struct {
	int rc;
	int err;
} rc_errno[] = {
    {SQLITE_PERM, EACCES},	 {SQLITE_ABORT, ECANCELED}, {SQLITE_BUSY, EBUSY},
    {SQLITE_LOCKED, EBUSY},	 {SQLITE_NOMEM, ENOMEM},    {SQLITE_READONLY, EROFS},
    {SQLITE_INTERRUPT, EINTR},	 {SQLITE_IOERR, EIO},	    {SQLITE_CORRUPT, EBADMSG},
    {SQLITE_NOTFOUND, ENOENT},	 {SQLITE_FULL, ENOSPC},	    {SQLITE_CANTOPEN, EACCES},
    {SQLITE_PROTOCOL, EPROTO},	 {SQLITE_SCHEMA, EAGAIN},   {SQLITE_TOOBIG, E2BIG},
    {SQLITE_CONSTRAINT, EEXIST}, {SQLITE_MISMATCH, EINVAL}, {SQLITE_MISUSE, EINVAL},
    {SQLITE_NOLFS, EFBIG},	 {SQLITE_AUTH, EACCES},	    {SQLITE_RANGE, EINVAL},
    {SQLITE_NOTADB, EBADMSG},
};

/*
 * For I/O and open failures the operating system's errno (when SQLite kept
 * one) says more than the generic mapping: ENOSPC, EACCES, ENOTDIR...
 */
static int state_errno(sqlite3 *db, int rc)
{
	int primary = rc & 0xff;
	size_t i;

	if (db && (primary == SQLITE_IOERR || primary == SQLITE_CANTOPEN)) {
		int sys = sqlite3_system_errno(db);
		if (sys > 0)
			return -sys;
	}
	for (i = 0; i < sizeof(rc_errno) / sizeof(rc_errno[0]); i++)
		if (rc_errno[i].rc == primary)
			return -rc_errno[i].err;
	return -EIO;
}

static void lock(struct state *st)
{
	pthread_mutex_lock(&st->lock);
}

static void unlock(struct state *st)
{
	pthread_mutex_unlock(&st->lock);
}

static int prepare(struct state *st, const char *sql, sqlite3_stmt **stmt)
{
	int rc = sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL);

	if (rc != SQLITE_OK) {
		*stmt = NULL;
		return state_errno(st->db, rc);
	}
	return 0;
}

/* Binds text that is borrowed until the statement is finalized. */
static int bind_text(struct state *st, sqlite3_stmt *s, int i, const char *v)
{
	int rc = v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);

	return rc == SQLITE_OK ? 0 : state_errno(st->db, rc);
}

static int bind_i64(struct state *st, sqlite3_stmt *s, int i, int64_t v)
{
	int rc = sqlite3_bind_int64(s, i, v);

	return rc == SQLITE_OK ? 0 : state_errno(st->db, rc);
}

/* Steps a statement that returns no rows. */
static int step_done(struct state *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return state_errno(st->db, rc);
}

static bool key_ok(const char *owner, const char *repo, uint64_t issue)
{
	return owner && *owner && repo && *repo && issue >= 1 && issue <= INT64_MAX;
}

/* Binds owner, repo, issue to ?1..?3. */
static int bind_key(struct state *st, sqlite3_stmt *s, const char *owner, const char *repo,
		    uint64_t issue)
{
	int r = bind_text(st, s, 1, owner);

	if (r == 0)
		r = bind_text(st, s, 2, repo);
	if (r == 0)
		r = bind_i64(st, s, 3, (int64_t)issue);
	return r;
}

/* A new copy of a text column; *out NULL for SQL NULL. */
static int col_dup(sqlite3_stmt *s, int i, char **out)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	int n;
	char *p;

	if (!t) {
		*out = NULL;
		return sqlite3_column_type(s, i) == SQLITE_NULL ? 0 : -ENOMEM;
	}
	n = sqlite3_column_bytes(s, i);
	p = malloc((size_t)n + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, t, (size_t)n);
	p[n] = '\0';
	*out = p;
	return 0;
}

static const char *col_str(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

static int exec(struct state *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : state_errno(st->db, rc);
}

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
	int r = prepare(st, "PRAGMA user_version", &s);

	if (r < 0)
		return r;
	if (sqlite3_step(s) == SQLITE_ROW)
		*v = sqlite3_column_int64(s, 0);
	else
		r = state_errno(st->db, sqlite3_errcode(st->db));
	sqlite3_finalize(s);
	return r;
}

/* *found is the version in the file, for the error message. */
static int migrate(struct state *st, int64_t *found)
{
	int64_t v = 0;
	int r;

	/* IMMEDIATE: two processes opening a fresh file must not both create tables. */
	r = exec(st, "BEGIN IMMEDIATE");
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
	if (v == 0) {
		r = exec(st, schema_v1);
		if (r == 0)
			r = exec(st, "PRAGMA user_version = 1");
		if (r < 0)
			goto out;
		v = 1;
	}
	if (v == 1) {
		r = exec(st, migrate_v2);
		if (r == 0)
			r = exec(st, "PRAGMA user_version = 2");
		if (r < 0)
			goto out;
	}
	r = exec(st, "COMMIT");
out:
	if (r < 0)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static int set_wal(struct state *st)
{
	sqlite3_stmt *s;
	const char *mode;
	int r = prepare(st, "PRAGMA journal_mode = WAL", &s);

	if (r < 0)
		return r;
	if (sqlite3_step(s) != SQLITE_ROW)
		r = state_errno(st->db, sqlite3_errcode(st->db));
	else if (!(mode = col_str(s, 0)) || strcmp(mode, "wal") != 0)
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
			buf_puts(err, "state: no database path given");
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
		r = state_errno(st->db, rc);
		goto out;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	what = "set up";
	r = set_wal(st);
	if (r == 0)
		r = exec(st, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON");
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
		buf_printf(err,
			   "state: cannot open '%s': schema version %" PRId64
			   " is newer than this bottlefs knows (%d)",
			   path, version, STATE_SCHEMA_VERSION);
	else if (err)
		buf_printf(err, "state: cannot %s '%s': %s", what, path,
			   st->db && sqlite3_errcode(st->db) != SQLITE_OK ? sqlite3_errmsg(st->db)
									  : strerror(-r));
	state_free(st);
	return r;
}

void state_free(struct state *st)
{
	if (!st)
		return;
	sqlite3_close_v2(st->db);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static int json_check(const char *json)
{
	json_error_t jerr;
	json_t *j;

	if (!json)
		return -EINVAL;
	j = json_loads(json, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return -EINVAL;
	json_decref(j);
	return 0;
}

int state_record_upsert(struct state *st, const char *owner, const char *repo, uint64_t issue,
			const char *json)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (!key_ok(owner, repo, issue) || json_check(json) < 0)
		return -EINVAL;
	lock(st);
	r = prepare(
	    st,
	    "INSERT INTO records (owner, repo, issue, json, updated) VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (owner, repo, issue) DO UPDATE SET json = excluded.json,"
	    " updated = excluded.updated",
	    &s);
	if (r == 0)
		r = bind_key(st, s, owner, repo, issue);
	if (r == 0)
		r = bind_text(st, s, 4, json);
	if (r == 0)
		r = bind_i64(st, s, 5, (int64_t)time(NULL));
	if (r == 0)
		r = step_done(st, s);
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

int state_record_get(struct state *st, const char *owner, const char *repo, uint64_t issue,
		     char **json)
{
	sqlite3_stmt *s = NULL;
	char *v = NULL;
	int r, rc;

	if (!key_ok(owner, repo, issue))
		return -EINVAL;
	lock(st);
	r = prepare(st, "SELECT json FROM records WHERE owner = ?1 AND repo = ?2 AND issue = ?3",
		    &s);
	if (r == 0)
		r = bind_key(st, s, owner, repo, issue);
	if (r < 0)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r = col_dup(s, 0, &v);
	else if (rc == SQLITE_DONE)
		r = -ENOENT;
	else
		r = state_errno(st->db, rc);
	if (r == 0 && !v)
		r = -EBADMSG; /* NOT NULL column: only a hand-edited file gets here */
	if (r == 0)
		*json = v;
out:
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

int state_record_delete(struct state *st, const char *owner, const char *repo, uint64_t issue)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (!key_ok(owner, repo, issue))
		return -EINVAL;
	lock(st);
	r = prepare(st, "DELETE FROM records WHERE owner = ?1 AND repo = ?2 AND issue = ?3", &s);
	if (r == 0)
		r = bind_key(st, s, owner, repo, issue);
	if (r == 0)
		r = step_done(st, s);
	if (r == 0 && sqlite3_changes(st->db) == 0)
		r = -ENOENT;
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

int state_record_all(struct state *st,
		     int (*cb)(void *ud, const char *owner, const char *repo, uint64_t issue,
			       const char *json),
		     void *ud)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	if (!cb)
		return -EINVAL;
	lock(st);
	r = prepare(st, "SELECT owner, repo, issue, json FROM records ORDER BY owner, repo, issue",
		    &s);
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *o = col_str(s, 0), *p = col_str(s, 1), *j = col_str(s, 3);
		int64_t n = sqlite3_column_int64(s, 2);

		if (!o || !p || !j) {
			r = -ENOMEM;
			break;
		}
		r = cb(ud, o, p, (uint64_t)n, j);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = state_errno(st->db, rc);
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

int state_pr_add(struct state *st, const char *owner, const char *repo, uint64_t issue, uint64_t pr)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (!key_ok(owner, repo, issue) || pr < 1 || pr > INT64_MAX)
		return -EINVAL;
	lock(st);
	r = prepare(st,
		    "INSERT OR IGNORE INTO pulls (owner, repo, issue, pr, added)"
		    " VALUES (?1, ?2, ?3, ?4, ?5)",
		    &s);
	if (r == 0)
		r = bind_key(st, s, owner, repo, issue);
	if (r == 0)
		r = bind_i64(st, s, 4, (int64_t)pr);
	if (r == 0)
		r = bind_i64(st, s, 5, (int64_t)time(NULL));
	if (r == 0)
		r = step_done(st, s);
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

/* Runs sql (owner, repo, k bound to ?1..?3) and collects its one integer column. */
static int select_numbers(struct state *st, const char *sql, const char *owner, const char *repo,
			  uint64_t k, uint64_t **out, size_t *n)
{
	sqlite3_stmt *s = NULL;
	uint64_t *v = NULL, *nv;
	size_t len = 0, cap = 0;
	int r, rc;

	if (!key_ok(owner, repo, k))
		return -EINVAL;
	lock(st);
	r = prepare(st, sql, &s);
	if (r == 0)
		r = bind_key(st, s, owner, repo, k);
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[len++] = (uint64_t)sqlite3_column_int64(s, 0);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = state_errno(st->db, rc);
	sqlite3_finalize(s);
	unlock(st);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = len;
	return 0;
}

int state_pr_list(struct state *st, const char *owner, const char *repo, uint64_t issue,
		  uint64_t **prs, size_t *n)
{
	return select_numbers(
	    st, "SELECT pr FROM pulls WHERE owner = ?1 AND repo = ?2 AND issue = ?3 ORDER BY pr",
	    owner, repo, issue, prs, n);
}

int state_pr_holders(struct state *st, const char *owner, const char *repo, uint64_t pr,
		     uint64_t **issues, size_t *n)
{
	return select_numbers(
	    st, "SELECT issue FROM pulls WHERE owner = ?1 AND repo = ?2 AND pr = ?3 ORDER BY issue",
	    owner, repo, pr, issues, n);
}

static const char *const status_names[] = {"pending", "sending", "done", "failed"};

const char *journal_status_name(enum journal_status s)
{
	if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
		return NULL;
	return status_names[s];
}

static int status_from_name(const char *name, enum journal_status *out)
{
	unsigned i;

	for (i = 0; name && i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (strcmp(name, status_names[i]) == 0) {
			*out = (enum journal_status)i;
			return 0;
		}
	}
	return -EBADMSG;
}

int state_journal_add(struct state *st, const struct journal_entry *e, int64_t *id)
{
	sqlite3_stmt *s = NULL;
	int64_t now = (int64_t)time(NULL);
	int r;

	if (!e || !e->kind || !*e->kind || !e->owner || !e->repo || !e->payload ||
	    e->number > INT64_MAX || e->forge_id > INT64_MAX ||
	    (e->has_floor && e->floor > INT64_MAX))
		return -EINVAL;
	/* An assignment is all three parts or none. */
	if (e->assign_owner || e->assign_repo || e->assign_issue) {
		if (!key_ok(e->assign_owner, e->assign_repo, e->assign_issue))
			return -EINVAL;
	}
	lock(st);
	r = prepare(
	    st,
	    "INSERT INTO journal (kind, owner, repo, number, field, payload, marker, status,"
	    " answer, created, updated, assign_owner, assign_repo, assign_issue, forge_id, floor)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', NULL, ?8, ?9, ?10, ?11, ?12, ?13, "
	    "?14)",
	    &s);
	if (r == 0)
		r = bind_text(st, s, 1, e->kind);
	if (r == 0)
		r = bind_text(st, s, 2, e->owner);
	if (r == 0)
		r = bind_text(st, s, 3, e->repo);
	if (r == 0)
		r = bind_i64(st, s, 4, (int64_t)e->number);
	if (r == 0)
		r = bind_text(st, s, 5, e->field);
	if (r == 0)
		r = bind_text(st, s, 6, e->payload);
	if (r == 0)
		r = bind_text(st, s, 7, e->marker);
	if (r == 0)
		r = bind_i64(st, s, 8, e->created ? e->created : now);
	if (r == 0)
		r = bind_i64(st, s, 9, now);
	if (r == 0)
		r = bind_text(st, s, 10, e->assign_owner);
	if (r == 0)
		r = bind_text(st, s, 11, e->assign_repo);
	if (r == 0 && e->assign_owner)
		r = bind_i64(st, s, 12, (int64_t)e->assign_issue);
	if (r == 0 && e->forge_id)
		r = bind_i64(st, s, 13, (int64_t)e->forge_id);
	if (r == 0 && e->has_floor)
		r = bind_i64(st, s, 14, (int64_t)e->floor);
	/* Autocommit with synchronous=FULL: the WAL is fsynced before step returns. */
	if (r == 0)
		r = step_done(st, s);
	if (r == 0 && id)
		*id = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

/* One UPDATE of entry id; forge_id 0 leaves the column as it is. */
static int journal_update(struct state *st, int64_t id, enum journal_status status,
			  const char *answer, uint64_t forge_id)
{
	const char *name = journal_status_name(status);
	sqlite3_stmt *s = NULL;
	int r;

	if (!name || forge_id > INT64_MAX)
		return -EINVAL;
	lock(st);
	r = prepare(st,
		    "UPDATE journal SET status = ?2, answer = ?3, updated = ?4,"
		    " forge_id = coalesce(?5, forge_id) WHERE id = ?1",
		    &s);
	if (r == 0)
		r = bind_i64(st, s, 1, id);
	if (r == 0)
		r = bind_text(st, s, 2, name);
	if (r == 0)
		r = bind_text(st, s, 3, answer);
	if (r == 0)
		r = bind_i64(st, s, 4, (int64_t)time(NULL));
	if (r == 0 && forge_id)
		r = bind_i64(st, s, 5, (int64_t)forge_id);
	if (r == 0)
		r = step_done(st, s);
	if (r == 0 && sqlite3_changes(st->db) == 0)
		r = -ENOENT;
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

int state_journal_set(struct state *st, int64_t id, enum journal_status status, const char *answer)
{
	return journal_update(st, id, status, answer, 0);
}

int state_journal_finish(struct state *st, int64_t id, enum journal_status status,
			 const char *answer, uint64_t forge_id)
{
	return journal_update(st, id, status, answer, forge_id);
}

int state_journal_set_floor(struct state *st, int64_t id, uint64_t floor)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (floor > INT64_MAX)
		return -EINVAL;
	lock(st);
	r = prepare(st, "UPDATE journal SET floor = ?2 WHERE id = ?1", &s);
	if (r == 0)
		r = bind_i64(st, s, 1, id);
	if (r == 0)
		r = bind_i64(st, s, 2, (int64_t)floor);
	if (r == 0)
		r = step_done(st, s);
	if (r == 0 && sqlite3_changes(st->db) == 0)
		r = -ENOENT;
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

int state_journal_claims(struct state *st, const char *kind, const char *owner, const char *repo,
			 uint64_t forge_id, int64_t except_id, int64_t *by)
{
	sqlite3_stmt *s = NULL;
	int64_t first = 0;
	int r, rc, count = 0;

	if (!kind || !owner || !repo || forge_id < 1 || forge_id > INT64_MAX)
		return -EINVAL;
	lock(st);
	r = prepare(st,
		    "SELECT count(*), min(id) FROM journal WHERE owner = ?1 AND repo = ?2"
		    " AND kind = ?3 AND forge_id = ?4 AND id != ?5",
		    &s);
	if (r == 0)
		r = bind_text(st, s, 1, owner);
	if (r == 0)
		r = bind_text(st, s, 2, repo);
	if (r == 0)
		r = bind_text(st, s, 3, kind);
	if (r == 0)
		r = bind_i64(st, s, 4, (int64_t)forge_id);
	if (r == 0)
		r = bind_i64(st, s, 5, except_id);
	if (r == 0) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			count = sqlite3_column_int(s, 0);
			first = sqlite3_column_int64(s, 1);
		} else {
			r = state_errno(st->db, rc);
		}
	}
	sqlite3_finalize(s);
	unlock(st);
	if (r < 0)
		return r;
	if (by)
		*by = first;
	return count;
}

void state_journal_entry_release(struct journal_entry *e)
{
	if (!e)
		return;
	free(e->kind);
	free(e->owner);
	free(e->repo);
	free(e->field);
	free(e->payload);
	free(e->marker);
	free(e->answer);
	free(e->assign_owner);
	free(e->assign_repo);
	memset(e, 0, sizeof(*e));
}

void state_journal_list_free(struct journal_entry *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		state_journal_entry_release(&v[i]);
	free(v);
}

#define JOURNAL_COLUMNS                                                                            \
	"id, kind, owner, repo, number, field, payload, marker, status, answer, created,"          \
	" assign_owner, assign_repo, assign_issue, forge_id, floor"

/* Fills *e from a row of JOURNAL_COLUMNS; on failure e holds nothing. */
static int journal_row(sqlite3_stmt *s, struct journal_entry *e)
{
	struct journal_entry t = {0};
	int r;

	t.id = sqlite3_column_int64(s, 0);
	t.number = (uint64_t)sqlite3_column_int64(s, 4);
	t.created = sqlite3_column_int64(s, 10);
	r = col_dup(s, 1, &t.kind);
	if (r == 0)
		r = col_dup(s, 2, &t.owner);
	if (r == 0)
		r = col_dup(s, 3, &t.repo);
	if (r == 0)
		r = col_dup(s, 5, &t.field);
	if (r == 0)
		r = col_dup(s, 6, &t.payload);
	if (r == 0)
		r = col_dup(s, 7, &t.marker);
	if (r == 0)
		r = status_from_name(col_str(s, 8), &t.status);
	if (r == 0)
		r = col_dup(s, 9, &t.answer);
	if (r == 0)
		r = col_dup(s, 11, &t.assign_owner);
	if (r == 0)
		r = col_dup(s, 12, &t.assign_repo);
	t.assign_issue = (uint64_t)sqlite3_column_int64(s, 13);
	t.forge_id = (uint64_t)sqlite3_column_int64(s, 14);
	t.has_floor = sqlite3_column_type(s, 15) != SQLITE_NULL;
	t.floor = t.has_floor ? (uint64_t)sqlite3_column_int64(s, 15) : 0;
	if (r == 0 && (!t.kind || !t.owner || !t.repo || !t.payload))
		r = -EBADMSG;
	/* An assignment is all three parts or none (a hand-edited row may break that). */
	if (r == 0 && (!t.assign_owner != !t.assign_repo || (t.assign_owner && !t.assign_issue)))
		r = -EBADMSG;
	if (r < 0) {
		state_journal_entry_release(&t);
		return r;
	}
	*e = t;
	return 0;
}

int state_journal_unfinished(struct state *st, struct journal_entry **v, size_t *n)
{
	struct journal_entry *list = NULL, *nl;
	size_t len = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	int r, rc;

	lock(st);
	r = prepare(st,
		    "SELECT " JOURNAL_COLUMNS " FROM journal"
		    " WHERE status IN ('pending','sending') ORDER BY id",
		    &s);
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8;
			nl = realloc(list, cap * sizeof(*list));
			if (!nl) {
				r = -ENOMEM;
				break;
			}
			list = nl;
		}
		r = journal_row(s, &list[len]);
		if (r == 0)
			len++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = state_errno(st->db, rc);
	sqlite3_finalize(s);
	unlock(st);
	if (r < 0) {
		state_journal_list_free(list, len);
		return r;
	}
	*v = list;
	*n = len;
	return 0;
}

int state_journal_get(struct state *st, int64_t id, struct journal_entry *out)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	lock(st);
	r = prepare(st, "SELECT " JOURNAL_COLUMNS " FROM journal WHERE id = ?1", &s);
	if (r == 0)
		r = bind_i64(st, s, 1, id);
	if (r == 0) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			r = journal_row(s, out);
		else if (rc == SQLITE_DONE)
			r = -ENOENT;
		else
			r = state_errno(st->db, rc);
	}
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

int state_journal_each(struct state *st, int (*cb)(void *ud, const struct journal_entry *e),
		       void *ud)
{
	struct journal_entry e;
	sqlite3_stmt *s = NULL;
	int r, rc;

	if (!cb)
		return -EINVAL;
	lock(st);
	r = prepare(st, "SELECT " JOURNAL_COLUMNS " FROM journal ORDER BY id", &s);
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		r = journal_row(s, &e);
		if (r < 0)
			break;
		r = cb(ud, &e);
		state_journal_entry_release(&e);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = state_errno(st->db, rc);
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

int state_provenance_add(struct state *st, const char *what, const char *where, const char *answer)
{
	sqlite3_stmt *s = NULL;
	int r;

	if (!what || !where)
		return -EINVAL;
	lock(st);
	r = prepare(st, "INSERT INTO provenance (at, what, place, answer) VALUES (?1, ?2, ?3, ?4)",
		    &s);
	if (r == 0)
		r = bind_i64(st, s, 1, (int64_t)time(NULL));
	if (r == 0)
		r = bind_text(st, s, 2, what);
	if (r == 0)
		r = bind_text(st, s, 3, where);
	if (r == 0)
		r = bind_text(st, s, 4, answer);
	if (r == 0)
		r = step_done(st, s);
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

int state_provenance_each(struct state *st,
			  int (*cb)(void *ud, int64_t id, int64_t when, const char *what,
				    const char *where, const char *answer),
			  void *ud)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	if (!cb)
		return -EINVAL;
	lock(st);
	r = prepare(st, "SELECT id, at, what, place, answer FROM provenance ORDER BY id", &s);
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *what = col_str(s, 2), *where = col_str(s, 3), *answer = col_str(s, 4);

		if (!what || !where) {
			r = -ENOMEM;
			break;
		}
		r = cb(ud, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), what, where,
		       answer);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = state_errno(st->db, rc);
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

int state_cache_put(struct state *st, const char *key, const void *data, size_t len,
		    int64_t fetched_ms, const char *tag)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	if (!key || (!data && len))
		return -EINVAL;
	lock(st);
	r = prepare(
	    st, "INSERT OR REPLACE INTO cache (key, data, fetched_ms, tag) VALUES (?1, ?2, ?3, ?4)",
	    &s);
	if (r == 0)
		r = bind_text(st, s, 1, key);
	if (r == 0) {
		/* A NULL pointer would bind SQL NULL; an empty blob is a zeroblob. */
		rc = len ? sqlite3_bind_blob64(s, 2, data, len, SQLITE_STATIC)
			 : sqlite3_bind_zeroblob(s, 2, 0);
		if (rc != SQLITE_OK)
			r = state_errno(st->db, rc);
	}
	if (r == 0)
		r = bind_i64(st, s, 3, fetched_ms);
	if (r == 0)
		r = bind_text(st, s, 4, tag);
	if (r == 0)
		r = step_done(st, s);
	sqlite3_finalize(s);
	unlock(st);
	return r;
}

int state_cache_get(struct state *st, const char *key, void **data, size_t *len,
		    int64_t *fetched_ms, char **tag)
{
	sqlite3_stmt *s = NULL;
	char *d = NULL, *t = NULL;
	size_t n = 0;
	int64_t ms = 0;
	int r, rc;

	if (!key)
		return -EINVAL;
	lock(st);
	r = prepare(st, "SELECT data, fetched_ms, tag FROM cache WHERE key = ?1", &s);
	if (r == 0)
		r = bind_text(st, s, 1, key);
	if (r < 0)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		r = -ENOENT;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = state_errno(st->db, rc);
		goto out;
	}
	ms = sqlite3_column_int64(s, 1);
	if (data) {
		const void *p = sqlite3_column_blob(s, 0);

		n = (size_t)sqlite3_column_bytes(s, 0);
		d = malloc(n + 1);
		if (!d || (n && !p)) {
			r = -ENOMEM;
			goto out;
		}
		if (n)
			memcpy(d, p, n);
		d[n] = '\0';
	} else {
		n = (size_t)sqlite3_column_bytes(s, 0);
	}
	if (tag)
		r = col_dup(s, 2, &t);
out:
	sqlite3_finalize(s);
	unlock(st);
	if (r < 0) {
		free(d);
		free(t);
		return r;
	}
	if (data)
		*data = d;
	if (len)
		*len = n;
	if (fetched_ms)
		*fetched_ms = ms;
	if (tag)
		*tag = t;
	return 0;
}

int state_cache_delete_prefix(struct state *st, const char *prefix)
{
	sqlite3_stmt *s = NULL;
	char *upper = NULL;
	size_t n;
	int r, changes;

	if (!prefix)
		return -EINVAL;
	/*
	 * A range on the primary key instead of LIKE or substr(): keys compare
	 * with memcmp (BINARY collation), so [prefix, prefix with its last
	 * non-0xff byte incremented) is exactly the keys starting with prefix,
	 * and it uses the index.
	 */
	n = strlen(prefix);
	upper = str_dup(prefix);
	if (!upper)
		return -ENOMEM;
	while (n > 0 && (unsigned char)upper[n - 1] == 0xff)
		n--;
	upper[n] = '\0';
	if (n > 0)
		upper[n - 1] = (char)((unsigned char)upper[n - 1] + 1);
	lock(st);
	r = prepare(st,
		    n ? "DELETE FROM cache WHERE key >= ?1 AND key < ?2"
		      : "DELETE FROM cache WHERE key >= ?1",
		    &s);
	if (r == 0)
		r = bind_text(st, s, 1, prefix);
	if (r == 0 && n)
		r = bind_text(st, s, 2, upper);
	if (r == 0)
		r = step_done(st, s);
	changes = r == 0 ? sqlite3_changes(st->db) : 0;
	sqlite3_finalize(s);
	unlock(st);
	free(upper);
	return r < 0 ? r : changes;
}
