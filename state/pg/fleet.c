/*
 * pg/fleet: what only a shared database has (state.h): the lease on an
 * assignment, by the database's clock, and the queue of done signals,
 * taken once each (FOR UPDATE SKIP LOCKED) and waited for (LISTEN/NOTIFY).
 */
#include "state/pg/pg.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * One statement: the row is written when it is free, expired or already
 * the holder's; RETURNING says whether it was. Expiry is the database's
 * clock (clock_timestamp), never a machine's.
 */
int pgx_lease_take(struct state *st, const char *owner, const char *repo, uint64_t issue,
		   const char *holder, unsigned ttl_s, char **other, int64_t *left_ms)
{
	char n[24], t[24];
	const char *p[] = {owner, repo, pgx_i64(n, (int64_t)issue), holder,
			   pgx_i64(t, (int64_t)ttl_s)};
	PGresult *res = NULL;
	int r;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	r = pgx_exec(
	    st,
	    "INSERT INTO leases (owner, repo, issue, holder, expires_at)"
	    " VALUES ($1, $2, $3, $4, clock_timestamp() + $5 * interval '1 second')"
	    " ON CONFLICT (owner, repo, issue) DO UPDATE SET holder = excluded.holder,"
	    " expires_at = excluded.expires_at"
	    " WHERE leases.holder = excluded.holder OR leases.expires_at < clock_timestamp()"
	    " RETURNING (extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint",
	    5, p, &res);
	if (r == 0 && PQntuples(res) == 1) {
		if (left_ms)
			*left_ms = pgx_col_i64(res, 0, 0);
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (r == 0)
		r = pgx_exec(st,
			     "SELECT holder, (extract(epoch FROM expires_at - clock_timestamp())"
			     " * 1000)::bigint FROM leases WHERE owner = $1 AND repo = $2"
			     " AND issue = $3",
			     3, p, &res);
	if (r < 0)
		goto out;
	/* Gone between the two statements: free again, the next renewal takes it. */
	r = -EBUSY;
	if (PQntuples(res) == 1) {
		if (left_ms)
			*left_ms = pgx_col_i64(res, 0, 1);
		if (other && !(*other = strdup(PQgetvalue(res, 0, 0))))
			r = -ENOMEM;
	} else {
		if (left_ms)
			*left_ms = 0;
		if (other && !(*other = strdup("?")))
			r = -ENOMEM;
	}
out:
	PQclear(res);
	sq_unlock(st);
	return r;
}

int pgx_lease_release(struct state *st, const char *owner, const char *repo, uint64_t issue,
		      const char *holder)
{
	char n[24];
	const char *p[] = {owner, repo, pgx_i64(n, (int64_t)issue), holder};

	return pgx_run(st, false,
		       "DELETE FROM leases WHERE owner = $1 AND repo = $2 AND issue = $3"
		       " AND holder = $4",
		       4, p);
}

int pgx_lease_check(struct state *st, const char *owner, const char *repo, uint64_t issue,
		    const char *holder, int64_t *left_ms)
{
	static const char sql[] =
	    "SELECT (extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint"
	    " FROM leases WHERE owner = $1 AND repo = $2 AND issue = $3 AND holder = $4"
	    " AND expires_at > clock_timestamp()";
	char n[24];
	const char *p[] = {owner, repo, pgx_i64(n, (int64_t)issue), holder};
	PGresult *res = NULL;
	int r;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	r = pgx_exec(st, sql, 4, p, &res);
	/* A read: after the server restarted, ask again on a new connection. */
	if (r == -EIO && st->pg->broke)
		r = pgx_exec(st, sql, 4, p, &res);
	if (r == 0 && PQntuples(res) != 1)
		r = -ENOENT;
	if (r == 0 && left_ms)
		*left_ms = pgx_col_i64(res, 0, 0);
	PQclear(res);
	sq_unlock(st);
	return r;
}

int pgx_queue_push(struct state *st, const char *owner, const char *repo, uint64_t issue,
		   const char *body, int64_t *id)
{
	char n[24];
	const char *p[] = {owner, repo, pgx_i64(n, (int64_t)issue), body};
	PGresult *res = NULL;
	int r;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	/* The notification is delivered when the insert commits, never before. */
	r = pgx_exec(st,
		     "WITH q AS (INSERT INTO signal_queue (owner, repo, issue, body)"
		     " VALUES ($1, $2, $3, $4) RETURNING id)"
		     " SELECT id, pg_notify('bottlefs_signals', id::text) FROM q",
		     4, p, &res);
	if (r == 0 && PQntuples(res) != 1)
		r = -EIO;
	if (r == 0 && id)
		*id = pgx_col_i64(res, 0, 0);
	PQclear(res);
	sq_unlock(st);
	return r;
}

int pgx_queue_take(struct state *st, int64_t *id, char **body)
{
	PGresult *res = NULL;
	char *b = NULL;
	int r;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	r = pgx_exec(st,
		     "DELETE FROM signal_queue WHERE id = (SELECT id FROM signal_queue"
		     " ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id, body",
		     0, NULL, &res);
	if (r == 0 && PQntuples(res) != 1)
		r = -ENOENT;
	if (r == 0)
		r = pgx_col_dup(res, 0, 1, &b);
	if (r == 0) {
		*id = pgx_col_i64(res, 0, 0);
		*body = b;
	}
	PQclear(res);
	sq_unlock(st);
	return r;
}

int pgx_queue_each(struct state *st, int (*cb)(void *ud, int64_t id, const char *body), void *ud)
{
	PGresult *res = NULL;
	int r, i;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	r = pgx_exec(st, "SELECT id, body FROM signal_queue ORDER BY id", 0, NULL, &res);
	for (i = 0; r == 0 && i < PQntuples(res); i++)
		r = cb(ud, pgx_col_i64(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	sq_unlock(st);
	return r;
}

/* LISTEN first, then look: a signal queued in between is seen either way. */
int pgx_queue_wait(struct state *st, unsigned timeout_ms)
{
	int64_t deadline = timeout_ms ? pgx_now_ms() + timeout_ms : INT64_MAX;
	PGresult *res = NULL;
	PGnotify *note;
	int r;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	r = pgx_exec(st, "LISTEN bottlefs_signals", 0, NULL, NULL);
	if (r == 0)
		r = pgx_exec(st, "SELECT 1 FROM signal_queue LIMIT 1", 0, NULL, &res);
	if (r == 0 && PQntuples(res) > 0)
		goto out;
	while (r == 0) {
		struct pollfd pfd = {.fd = PQsocket(st->pg->conn), .events = POLLIN};
		int64_t left = deadline - pgx_now_ms();

		note = PQnotifies(st->pg->conn);
		if (note) {
			PQfreemem(note);
			break;
		}
		if (left <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) > 0 &&
		    !PQconsumeInput(st->pg->conn)) {
			pgx_drop(st->pg, "the state database connection broke");
			r = -EIO;
		}
	}
out:
	PQclear(res);
	if (st->pg->conn)
		(void)!pgx_exec(st, "UNLISTEN bottlefs_signals", 0, NULL, NULL); /* best effort */
	sq_unlock(st);
	return r;
}
