/*
 * pg/tables: records, pull requests, provenance and the standing done
 * signal on PostgreSQL (the same calls of state.h as state/records.c,
 * prs.c, provenance.c and signals.c, which check the arguments first).
 */
#include "state/pg/pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int pgx_record_upsert(struct state *st, const char *owner, const char *repo, uint64_t issue,
		      const char *json)
{
	char n[24], t[24];
	const char *p[] = {owner, repo, pgx_i64(n, (int64_t)issue), json,
			   pgx_i64(t, (int64_t)time(NULL))};

	return pgx_run(st, false,
		       "INSERT INTO records (owner, repo, issue, json, updated)"
		       " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner, repo, issue)"
		       " DO UPDATE SET json = excluded.json, updated = excluded.updated",
		       5, p);
}

int pgx_key_text(struct state *st, const char *sql, const char *owner, const char *repo,
		 uint64_t issue, char **out)
{
	char n[24];
	const char *p[] = {owner, repo, pgx_i64(n, (int64_t)issue)};

	return pgx_text(st, sql, 3, p, out);
}

int pgx_record_delete(struct state *st, const char *owner, const char *repo, uint64_t issue)
{
	char n[24];
	const char *p[] = {owner, repo, pgx_i64(n, (int64_t)issue)};

	return pgx_run(st, true,
		       "DELETE FROM records WHERE owner = $1 AND repo = $2 AND issue = $3", 3, p);
}

int pgx_record_all(struct state *st,
		   int (*cb)(void *ud, const char *owner, const char *repo, uint64_t issue,
			     const char *json),
		   void *ud)
{
	PGresult *res = NULL;
	int r, i;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	r = pgx_exec(st,
		     "SELECT owner, repo, issue, json FROM records"
		     " ORDER BY owner COLLATE \"C\", repo COLLATE \"C\", issue",
		     0, NULL, &res);
	for (i = 0; r == 0 && i < PQntuples(res); i++)
		r = cb(ud, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
		       (uint64_t)pgx_col_i64(res, i, 2), PQgetvalue(res, i, 3));
	PQclear(res);
	sq_unlock(st);
	return r;
}

int pgx_pr_add(struct state *st, const char *owner, const char *repo, uint64_t issue, uint64_t pr)
{
	char n[24], k[24], t[24];
	const char *p[] = {owner, repo, pgx_i64(n, (int64_t)issue), pgx_i64(k, (int64_t)pr),
			   pgx_i64(t, (int64_t)time(NULL))};

	return pgx_run(st, false,
		       "INSERT INTO pulls (owner, repo, issue, pr, added)"
		       " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
		       5, p);
}

int pgx_numbers(struct state *st, const char *sql, const char *owner, const char *repo, uint64_t k,
		uint64_t **out, size_t *n)
{
	PGresult *res = NULL;
	uint64_t *v = NULL;
	char num[24];
	const char *p[] = {owner, repo, pgx_i64(num, (int64_t)k)};
	int r, i, rows = 0;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	r = pgx_exec(st, sql, 3, p, &res);
	if (r == 0)
		rows = PQntuples(res);
	if (r == 0 && rows > 0 && !(v = calloc((size_t)rows, sizeof(*v))))
		r = -ENOMEM;
	for (i = 0; r == 0 && i < rows; i++)
		v[i] = (uint64_t)pgx_col_i64(res, i, 0);
	PQclear(res);
	sq_unlock(st);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = (size_t)rows;
	return 0;
}

int pgx_provenance_add(struct state *st, const char *what, const char *where, const char *answer)
{
	char t[24];
	const char *p[] = {pgx_i64(t, (int64_t)time(NULL)), what, where, answer};

	return pgx_run(st, false,
		       "INSERT INTO provenance (at, what, place, answer) VALUES ($1, $2, $3, $4)",
		       4, p);
}

int pgx_provenance_each(struct state *st,
			int (*cb)(void *ud, int64_t id, int64_t when, const char *what,
				  const char *where, const char *answer),
			void *ud)
{
	PGresult *res = NULL;
	int r, i;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	r = pgx_exec(st, "SELECT id, at, what, place, answer FROM provenance ORDER BY id", 0, NULL,
		     &res);
	for (i = 0; r == 0 && i < PQntuples(res); i++)
		r = cb(ud, pgx_col_i64(res, i, 0), pgx_col_i64(res, i, 1), PQgetvalue(res, i, 2),
		       PQgetvalue(res, i, 3),
		       PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4));
	PQclear(res);
	sq_unlock(st);
	return r;
}

int pgx_done_put(struct state *st, const char *owner, const char *repo, uint64_t issue,
		 const char *text)
{
	char n[24], t[24];
	const char *p[] = {owner, repo, pgx_i64(n, (int64_t)issue), text,
			   pgx_i64(t, (int64_t)time(NULL))};

	return pgx_run(st, false,
		       "INSERT INTO done_signals (owner, repo, issue, text, at)"
		       " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (owner, repo, issue)"
		       " DO UPDATE SET text = excluded.text, at = excluded.at",
		       5, p);
}
