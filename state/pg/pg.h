/*
 * state/pg: the PostgreSQL engine of the state store (state.h is the API;
 * internal to state/). One struct pgx is one libpq connection, guarded by
 * the store's lock (st->lock) like the SQLite connection is.
 *
 * Every statement runs with a deadline (the store's timeout): the query is
 * sent without blocking and its answer is waited for with poll(); past the
 * deadline the connection is dropped and the call is -EIO, so a database
 * that is away or hung never holds a caller longer than the timeout. A
 * dropped or broken connection is made again by the next call (connecting
 * is bounded by libpq's connect_timeout, the same timeout).
 *
 * Errors: a server that cannot be reached, a broken connection or a
 * deadline passed are -EIO (with the reason kept for pgx_why); a unique
 * or check violation (SQLSTATE class 23) is -EEXIST; anything else the
 * server refuses is -EIO.
 */
#ifndef BOTTLEFS_STATE_PG_H
#define BOTTLEFS_STATE_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "state/internal.h"
#include "util/buf.h"
#include "util/check.h"

struct pgx {
	char *url;	       /* the connection URL as given */
	unsigned timeout_ms;   /* every call's bound */
	PGconn *conn;	       /* NULL while not connected */
	char why[256];	       /* the last failure, lower-case, for messages */
	int64_t down_until_ms; /* unreachable a moment ago: fail at once until then */
	bool broke;	       /* the last call found the connection closed by the server */
};

/* Connects and migrates. On failure a one-line reason is noted in err. st->lock not held. */
MUST_CHECK int pgx_open(struct state *st, const char *url, unsigned timeout_ms, struct buf *err);
void pgx_close(struct pgx *p);

/*
 * Runs sql with n text parameters ($1..$n; a NULL element is SQL NULL).
 * *res (may be NULL: the result is dropped) gets the result, which the
 * caller PQclear()s. With must_change, a command that changed no row is
 * -ENOENT. st->lock held.
 */
MUST_CHECK int pgx_exec(struct state *st, const char *sql, int n, const char *const *params,
			PGresult **res);
/* The same taking st->lock itself, for one statement whose result is not wanted. */
MUST_CHECK int pgx_run(struct state *st, bool must_change, const char *sql, int n,
		       const char *const *params);
/* A text column of row 0 as a new string, or -ENOENT without a row. st->lock taken. */
MUST_CHECK int pgx_text(struct state *st, const char *sql, int n, const char *const *params,
			char **out);

/*
 * st->lock, waited for at most the timeout (a caller in front may be
 * waiting out a database that does not answer): 0, or -EIO. Every public
 * call of the PostgreSQL side takes the lock this way, so none waits
 * longer than about the timeout, however many run at once.
 */
MUST_CHECK int pgx_lock(struct state *st);
/* Number to text for a parameter: buf holds at least 24 bytes. */
const char *pgx_i64(char *buf, int64_t v);
/* A column as int64 (0 for NULL or garbage). */
int64_t pgx_col_i64(const PGresult *res, int row, int col);
/* A column as a new string (*out NULL for SQL NULL). */
MUST_CHECK int pgx_col_dup(const PGresult *res, int row, int col, char **out);

/* The connection, made when missing; -EIO when it cannot be. st->lock held. */
MUST_CHECK int pgx_conn(struct state *st, PGconn **out);
/* Waits for input on the connection until deadline_ms (monotonic). -EIO after it. */
MUST_CHECK int pgx_wait_input(struct state *st, int64_t deadline_ms);
/* Drops the connection (after a timeout or a broken socket) with the reason. */
void pgx_drop(struct pgx *p, const char *why);
int64_t pgx_now_ms(void);

/* ---- the tables (state/pg/ files), each the PostgreSQL side of state.h ---- */
MUST_CHECK int pgx_migrate(struct state *st, int64_t *found);
/* tables.c */
MUST_CHECK int pgx_record_upsert(struct state *st, const char *owner, const char *repo,
				 uint64_t issue, const char *json);
/* sql selects one text column, owner, repo, issue bound to $1..$3. */
MUST_CHECK int pgx_key_text(struct state *st, const char *sql, const char *owner, const char *repo,
			    uint64_t issue, char **out);
MUST_CHECK int pgx_record_delete(struct state *st, const char *owner, const char *repo,
				 uint64_t issue);
MUST_CHECK int pgx_record_all(struct state *st,
			      int (*cb)(void *ud, const char *owner, const char *repo,
					uint64_t issue, const char *json),
			      void *ud);
MUST_CHECK int pgx_pr_add(struct state *st, const char *owner, const char *repo, uint64_t issue,
			  uint64_t pr);
/* sql selects one integer column, owner, repo, k bound to $1..$3. */
MUST_CHECK int pgx_numbers(struct state *st, const char *sql, const char *owner, const char *repo,
			   uint64_t k, uint64_t **out, size_t *n);
MUST_CHECK int pgx_provenance_add(struct state *st, const char *what, const char *where,
				  const char *answer);
MUST_CHECK int pgx_provenance_each(struct state *st,
				   int (*cb)(void *ud, int64_t id, int64_t when, const char *what,
					     const char *where, const char *answer),
				   void *ud);
MUST_CHECK int pgx_done_put(struct state *st, const char *owner, const char *repo, uint64_t issue,
			    const char *text);
/* journal.c */
MUST_CHECK int pgx_journal_add(struct state *st, const struct journal_entry *e, int64_t *id);
MUST_CHECK int pgx_journal_update(struct state *st, int64_t id, const char *status,
				  const char *answer, uint64_t forge_id);
MUST_CHECK int pgx_journal_set_floor(struct state *st, int64_t id, uint64_t floor);
MUST_CHECK int pgx_journal_claims(struct state *st, const char *kind, const char *owner,
				  const char *repo, uint64_t forge_id, int64_t except_id,
				  int64_t *by);
/* fleet.c: the lease and the queue (state.h) */
MUST_CHECK int pgx_lease_take(struct state *st, const char *owner, const char *repo, uint64_t issue,
			      const char *holder, unsigned ttl_s, char **other, int64_t *left_ms);
MUST_CHECK int pgx_lease_release(struct state *st, const char *owner, const char *repo,
				 uint64_t issue, const char *holder);
MUST_CHECK int pgx_lease_check(struct state *st, const char *owner, const char *repo,
			       uint64_t issue, const char *holder, int64_t *left_ms);
MUST_CHECK int pgx_queue_push(struct state *st, const char *owner, const char *repo, uint64_t issue,
			      const char *body, int64_t *id);
MUST_CHECK int pgx_queue_take(struct state *st, int64_t *id, char **body);
MUST_CHECK int pgx_queue_each(struct state *st, int (*cb)(void *ud, int64_t id, const char *body),
			      void *ud);
MUST_CHECK int pgx_queue_wait(struct state *st, unsigned timeout_ms);
/*
 * The entries after "SELECT columns FROM journal" and tail (a WHERE and
 * ORDER BY clause with $1 bound to arg, or none when arg is NULL), in *v
 * (new; NULL when *n is 0).
 */
MUST_CHECK int pgx_journal_list(struct state *st, const char *tail, const char *arg,
				struct journal_entry **v, size_t *n);

#endif
