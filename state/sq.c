/*
 * sq: the SQLite helpers every table of the state store uses (internal.h):
 * the one rc -> errno table, binding, stepping, reading columns.
 */
#include "state/internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
int sq_errno(sqlite3 *db, int rc)
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

void sq_lock(struct state *st)
{
	pthread_mutex_lock(&st->lock);
}

void sq_unlock(struct state *st)
{
	pthread_mutex_unlock(&st->lock);
}

int sq_prepare(struct state *st, const char *sql, sqlite3_stmt **stmt)
{
	int rc = sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL);

	if (rc != SQLITE_OK) {
		*stmt = NULL;
		return sq_errno(st->db, rc);
	}
	return 0;
}

/* Binds text that is borrowed until the statement is finalized. */
int sq_bind_text(struct state *st, sqlite3_stmt *s, int i, const char *v)
{
	int rc = v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);

	return rc == SQLITE_OK ? 0 : sq_errno(st->db, rc);
}

int sq_bind_i64(struct state *st, sqlite3_stmt *s, int i, int64_t v)
{
	int rc = sqlite3_bind_int64(s, i, v);

	return rc == SQLITE_OK ? 0 : sq_errno(st->db, rc);
}

/* Steps a statement that returns no rows. */
int sq_step_done(struct state *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	return sq_errno(st->db, rc);
}

bool sq_key_ok(const char *owner, const char *repo, uint64_t issue)
{
	return owner && *owner && repo && *repo && issue >= 1 && issue <= INT64_MAX;
}

/* Binds owner, repo, issue to ?1..?3. */
int sq_bind_key(struct state *st, sqlite3_stmt *s, const char *owner, const char *repo,
		uint64_t issue)
{
	int r = sq_bind_text(st, s, 1, owner);

	if (r == 0)
		r = sq_bind_text(st, s, 2, repo);
	if (r == 0)
		r = sq_bind_i64(st, s, 3, (int64_t)issue);
	return r;
}

/* A new copy of a text column; *out NULL for SQL NULL. */
int sq_col_dup(sqlite3_stmt *s, int i, char **out)
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

const char *sq_col_str(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}

int sq_exec(struct state *st, const char *sql)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sq_errno(st->db, rc);
}

int sq_run(struct state *st, bool must_change, const char *sql, const char *spec, ...)
{
	sqlite3_stmt *s = NULL;
	va_list ap;
	int r, i;

	sq_lock(st);
	r = sq_prepare(st, sql, &s);
	va_start(ap, spec);
	for (i = 0; r == 0 && spec[i]; i++) {
		if (spec[i] == 't') {
			r = sq_bind_text(st, s, i + 1, va_arg(ap, const char *));
		} else if (spec[i] == 'i') {
			r = sq_bind_i64(st, s, i + 1, va_arg(ap, int64_t));
		} else if (spec[i] == 'n') {
			int rc = sqlite3_bind_null(s, i + 1);

			r = rc == SQLITE_OK ? 0 : sq_errno(st->db, rc);
		} else {
			r = -EINVAL;
		}
	}
	va_end(ap);
	if (r == 0)
		r = sq_step_done(st, s);
	if (r == 0 && must_change && sqlite3_changes(st->db) == 0)
		r = -ENOENT;
	sqlite3_finalize(s);
	sq_unlock(st);
	return r;
}

int sq_key_text(struct state *st, const char *sql, const char *owner, const char *repo,
		uint64_t issue, char **out)
{
	sqlite3_stmt *s = NULL;
	char *v = NULL;
	int r, rc;

	sq_lock(st);
	r = sq_prepare(st, sql, &s);
	if (r == 0)
		r = sq_bind_key(st, s, owner, repo, issue);
	if (r < 0)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		r = sq_col_dup(s, 0, &v);
	else if (rc == SQLITE_DONE)
		r = -ENOENT;
	else
		r = sq_errno(st->db, rc);
	if (r == 0 && !v)
		r = -EBADMSG; /* NOT NULL column: only a hand-edited file gets here */
	if (r == 0)
		*out = v;
out:
	sqlite3_finalize(s);
	sq_unlock(st);
	return r;
}
