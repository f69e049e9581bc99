/*
 * state/internal: what the tables of the state store share (state.h is the
 * API). Not for other folders.
 *
 * Every function here is called with st->lock held (sq_lock) unless it says
 * otherwise; each table file takes the lock for a whole public call.
 */
#ifndef BOTTLEFS_STATE_INTERNAL_H
#define BOTTLEFS_STATE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "state/state.h"
#include "util/check.h"

struct pgx;

/*
 * One store on one engine: SQLite (db) or PostgreSQL (pg, state/pg/pg.h).
 * Each public function of a table file starts with the engine switch: when
 * pg is set it hands the call to the PostgreSQL side (state/pg/ files).
 */
struct state {
	sqlite3 *db;	      /* guarded by lock; NULL on PostgreSQL */
	struct pgx *pg;	      /* guarded by lock; NULL on SQLite */
	pthread_mutex_t lock; /* recursive: callbacks may re-enter from the walking thread */
};

/* The one table from SQLite result codes to -errno (sq.c). Any thread. */
int sq_errno(sqlite3 *db, int rc);

void sq_lock(struct state *st);
void sq_unlock(struct state *st);

MUST_CHECK int sq_prepare(struct state *st, const char *sql, sqlite3_stmt **stmt);
/* Binds text that is borrowed until the statement is finalized; NULL binds SQL NULL. */
MUST_CHECK int sq_bind_text(struct state *st, sqlite3_stmt *s, int i, const char *v);
MUST_CHECK int sq_bind_i64(struct state *st, sqlite3_stmt *s, int i, int64_t v);
/* Binds owner, repo, issue to ?1..?3. */
MUST_CHECK int sq_bind_key(struct state *st, sqlite3_stmt *s, const char *owner, const char *repo,
			   uint64_t issue);
/* Steps a statement that returns no rows. */
MUST_CHECK int sq_step_done(struct state *st, sqlite3_stmt *s);
/* Runs sql text (no parameters, any number of statements). */
MUST_CHECK int sq_exec(struct state *st, const char *sql);

/*
 * Runs one statement that returns no rows, taking the lock itself. Its
 * parameters ?1, ?2, ... are bound from the arguments as spec says, one
 * letter each: 't' text (const char *, NULL binds NULL), 'i' an int64_t,
 * 'n' SQL NULL (no argument). With must_change, a statement that changed
 * no row is -ENOENT.
 */
MUST_CHECK int sq_run(struct state *st, bool must_change, const char *sql, const char *spec, ...);

/*
 * Runs sql, which selects one NOT NULL text column of at most one row,
 * with owner, repo, issue bound to ?1..?3; takes the lock itself. *out is
 * new. -ENOENT when there is no row.
 */
MUST_CHECK int sq_key_text(struct state *st, const char *sql, const char *owner, const char *repo,
			   uint64_t issue, char **out);

/* owner and repo non-empty, issue in 1..INT64_MAX (the column is int64). Pure. */
bool sq_key_ok(const char *owner, const char *repo, uint64_t issue);

/* "pending" ... "failed" to the status; -EBADMSG for anything else (journal.c). Pure. */
MUST_CHECK int sq_status_from_name(const char *name, enum journal_status *out);

/* A new copy of a text column; *out NULL for SQL NULL. */
MUST_CHECK int sq_col_dup(sqlite3_stmt *s, int i, char **out);
/* A borrowed text column (valid until the next step), NULL for SQL NULL. */
const char *sq_col_str(sqlite3_stmt *s, int i);

#endif
