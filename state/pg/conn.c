/*
 * pg/conn: the libpq connection of a PostgreSQL store (pg.h): connecting,
 * every statement bounded by the store's timeout, the error table.
 */
#include "state/pg/pg.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/time.h"

int64_t pgx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *pgx_i64(char *buf, int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

int64_t pgx_col_i64(const PGresult *res, int row, int col)
{
	const char *v;
	char *end;
	long long n;

	if (PQgetisnull(res, row, col))
		return 0;
	v = PQgetvalue(res, row, col);
	errno = 0;
	n = strtoll(v, &end, 10);
	return errno || end == v ? 0 : (int64_t)n;
}

int pgx_col_dup(const PGresult *res, int row, int col, char **out)
{
	char *v;

	if (PQgetisnull(res, row, col)) {
		*out = NULL;
		return 0;
	}
	v = strdup(PQgetvalue(res, row, col));
	if (!v)
		return -ENOMEM;
	*out = v;
	return 0;
}

/* The first line of a libpq message, lower-case words as they come. */
static void keep_why(struct pgx *p, const char *what, const char *msg)
{
	size_t n;

	snprintf(p->why, sizeof(p->why), "%s%s%s", what, msg && *msg ? ": " : "", msg ? msg : "");
	n = strcspn(p->why, "\n");
	p->why[n] = '\0';
}

/*
 * After the server could not be reached, or did not answer in time, calls
 * fail at once for a moment instead of each waiting out the timeout again
 * (many writers must not queue up behind one another).
 */
#define DOWN_MS 1000

/* The server closed the connection (a restart): the next call connects at once. */
static void broke(struct pgx *p)
{
	keep_why(p, "the state database connection broke",
		 p->conn ? PQerrorMessage(p->conn) : NULL);
	if (p->conn)
		PQfinish(p->conn);
	p->conn = NULL;
	p->broke = true;
}

void pgx_drop(struct pgx *p, const char *why)
{
	if (why) {
		keep_why(p, why, p->conn ? PQerrorMessage(p->conn) : NULL);
		p->down_until_ms = pgx_now_ms() + DOWN_MS;
	}
	if (p->conn)
		PQfinish(p->conn);
	p->conn = NULL;
}

/* The server's notices ("already exists, skipping") are not for a person. */
static void quiet(void *ud, const char *msg)
{
	(void)ud;
	(void)msg;
}

int pgx_conn(struct state *st, PGconn **out)
{
	struct pgx *p = st->pg;
	char timeout[24];
	const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *vals[] = {p->url, timeout, "bottlefs", NULL};
	unsigned s = (p->timeout_ms + 999) / 1000;

	if (p->conn && PQstatus(p->conn) == CONNECTION_OK) {
		*out = p->conn;
		return 0;
	}
	pgx_drop(p, NULL);
	if (pgx_now_ms() < p->down_until_ms)
		return -EIO; /* p->why still says why */
	/* libpq waits at least 2 s for a connection whatever is asked. */
	snprintf(timeout, sizeof(timeout), "%u", s < 2 ? 2 : s);
	p->conn = PQconnectdbParams(keys, vals, 1);
	if (!p->conn)
		return -ENOMEM;
	if (PQstatus(p->conn) != CONNECTION_OK) {
		pgx_drop(p, "cannot connect to the state database");
		return -EIO;
	}
	PQsetNoticeProcessor(p->conn, quiet, NULL);
	if (PQsetnonblocking(p->conn, 1) != 0) {
		pgx_drop(p, "cannot use the state database connection");
		return -EIO;
	}
	*out = p->conn;
	return 0;
}

int pgx_wait_input(struct state *st, int64_t deadline_ms)
{
	struct pgx *p = st->pg;
	struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLIN};
	int64_t left = deadline_ms - pgx_now_ms();
	int n;

	if (left <= 0) {
		pgx_drop(p, "the state database did not answer in time");
		return -EIO;
	}
	n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
	if (n < 0 && errno != EINTR) {
		pgx_drop(p, "the state database connection failed");
		return -EIO;
	}
	if (n > 0 && !PQconsumeInput(p->conn)) {
		broke(p);
		return -EIO;
	}
	return 0;
}

/* Sends what libpq holds in non-blocking mode, within the deadline. */
static int flush_all(struct state *st, int64_t deadline_ms)
{
	struct pgx *p = st->pg;
	int f;

	while ((f = PQflush(p->conn)) == 1) {
		struct pollfd pfd = {.fd = PQsocket(p->conn), .events = POLLOUT | POLLIN};
		int64_t left = deadline_ms - pgx_now_ms();

		if (left <= 0) {
			pgx_drop(p, "the state database did not take the request in time");
			return -EIO;
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			break;
		if ((pfd.revents & POLLIN) && !PQconsumeInput(p->conn))
			break;
	}
	if (f != 0) {
		pgx_drop(p, "cannot send to the state database");
		return -EIO;
	}
	return 0;
}

/* SQLSTATE class 23 (integrity) is -EEXIST; any other failure -EIO. */
static int result_errno(struct pgx *p, PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	keep_why(p, "the state database refused a statement",
		 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	if (state && strncmp(state, "23", 2) == 0)
		return -EEXIST;
	return -EIO;
}

int pgx_exec(struct state *st, const char *sql, int n, const char *const *params, PGresult **res)
{
	struct pgx *p = st->pg;
	int64_t deadline = pgx_now_ms() + p->timeout_ms;
	PGresult *one, *keep = NULL;
	PGconn *c;
	int r, sent;

	p->broke = false;
	r = pgx_conn(st, &c);
	if (r < 0)
		return r;
	sent =
	    n > 0 ? PQsendQueryParams(c, sql, n, NULL, params, NULL, NULL, 0) : PQsendQuery(c, sql);
	if (!sent) {
		/* A connection the server closed shows here first: try once more. */
		broke(p);
		r = pgx_conn(st, &c);
		if (r < 0)
			return r;
		sent = n > 0 ? PQsendQueryParams(c, sql, n, NULL, params, NULL, NULL, 0)
			     : PQsendQuery(c, sql);
		if (!sent) {
			pgx_drop(p, "cannot send to the state database");
			return -EIO;
		}
	}
	r = flush_all(st, deadline);
	if (r < 0)
		return r;
	for (;;) {
		while (PQisBusy(p->conn)) {
			r = pgx_wait_input(st, deadline);
			if (r < 0)
				goto out;
		}
		one = PQgetResult(p->conn);
		if (!one)
			break;
		if (PQresultStatus(one) == PGRES_FATAL_ERROR && r == 0)
			r = result_errno(p, one);
		PQclear(keep);
		keep = one;
	}
	if (r == 0 && !keep)
		r = -EIO;
	if (PQstatus(p->conn) != CONNECTION_OK)
		broke(p);
out:
	if (r < 0 || !res)
		PQclear(keep);
	else
		*res = keep;
	return r;
}

int pgx_lock(struct state *st)
{
	int64_t at = time_wall_ms() + st->pg->timeout_ms;
	struct timespec ts = {.tv_sec = at / 1000, .tv_nsec = (at % 1000) * 1000000};

	if (pthread_mutex_timedlock(&st->lock, &ts) != 0) {
		/* The one in front waits for a database that does not answer. */
		snprintf(st->pg->why, sizeof(st->pg->why),
			 "the state database did not answer in time");
		return -EIO;
	}
	return 0;
}

int pgx_run(struct state *st, bool must_change, const char *sql, int n, const char *const *params)
{
	PGresult *res = NULL;
	int r;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	r = pgx_exec(st, sql, n, params, &res);
	if (r == 0 && must_change && strcmp(PQcmdTuples(res), "0") == 0)
		r = -ENOENT;
	PQclear(res);
	sq_unlock(st);
	return r;
}

int pgx_text(struct state *st, const char *sql, int n, const char *const *params, char **out)
{
	PGresult *res = NULL;
	char *v = NULL;
	int r;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	r = pgx_exec(st, sql, n, params, &res);
	if (r == 0 && PQntuples(res) < 1)
		r = -ENOENT;
	if (r == 0)
		r = pgx_col_dup(res, 0, 0, &v);
	if (r == 0 && !v)
		r = -EBADMSG;
	if (r == 0)
		*out = v;
	PQclear(res);
	sq_unlock(st);
	return r;
}

void pgx_close(struct pgx *p)
{
	if (!p)
		return;
	pgx_drop(p, NULL);
	free(p->url);
	free(p);
}

int pgx_open(struct state *st, const char *url, unsigned timeout_ms, struct buf *err)
{
	int64_t found = 0;
	int r;

	st->pg = calloc(1, sizeof(*st->pg));
	if (!st->pg || !(st->pg->url = strdup(url)))
		return -ENOMEM;
	st->pg->timeout_ms = timeout_ms ? timeout_ms : 10000;
	sq_lock(st);
	r = pgx_migrate(st, &found);
	sq_unlock(st);
	if (r == -EPROTO && err)
		buf_note(err,
			 "state: the state database's schema version %" PRId64
			 " is newer than this bottlefs knows (%d)",
			 found, STATE_SCHEMA_VERSION);
	else if (r < 0 && err)
		buf_note(err, "state: cannot open the state database: %s",
			 st->pg->why[0] ? st->pg->why : strerror(-r));
	return r;
}
