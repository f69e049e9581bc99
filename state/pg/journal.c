/*
 * pg/journal: the write journal on PostgreSQL (state.h; state/journal.c
 * checks the arguments and hands calls here). Every statement commits
 * before it returns (synchronous_commit as the server has it, on by
 * default), which the journal's "durably committed before return" needs.
 */
#include "state/pg/pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int pgx_journal_add(struct state *st, const struct journal_entry *e, int64_t *id)
{
	char num[24], created[24], now[24], ai[24], fid[24], fl[24];
	int64_t t = (int64_t)time(NULL);
	const char *p[] = {e->kind,
			   e->owner,
			   e->repo,
			   pgx_i64(num, (int64_t)e->number),
			   e->field,
			   e->payload,
			   e->marker,
			   pgx_i64(created, e->created ? e->created : t),
			   pgx_i64(now, t),
			   e->assign_owner,
			   e->assign_repo,
			   e->assign_owner ? pgx_i64(ai, (int64_t)e->assign_issue) : NULL,
			   e->forge_id ? pgx_i64(fid, (int64_t)e->forge_id) : NULL,
			   e->has_floor ? pgx_i64(fl, (int64_t)e->floor) : NULL};
	PGresult *res = NULL;
	int r;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	r = pgx_exec(st,
		     "INSERT INTO journal (kind, owner, repo, number, field, payload, marker,"
		     " status, answer, created, updated, assign_owner, assign_repo, assign_issue,"
		     " forge_id, floor) VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', NULL, $8,"
		     " $9, $10, $11, $12, $13, $14) RETURNING id",
		     14, p, &res);
	if (r == 0 && PQntuples(res) != 1)
		r = -EIO;
	if (r == 0 && id)
		*id = pgx_col_i64(res, 0, 0);
	PQclear(res);
	sq_unlock(st);
	return r;
}

int pgx_journal_update(struct state *st, int64_t id, const char *status, const char *answer,
		       uint64_t forge_id)
{
	char i[24], now[24], fid[24];
	const char *p[] = {pgx_i64(i, id), status, answer, pgx_i64(now, (int64_t)time(NULL)),
			   forge_id ? pgx_i64(fid, (int64_t)forge_id) : NULL};

	return pgx_run(st, true,
		       "UPDATE journal SET status = $2, answer = $3, updated = $4,"
		       " forge_id = coalesce($5::bigint, forge_id) WHERE id = $1",
		       5, p);
}

int pgx_journal_set_floor(struct state *st, int64_t id, uint64_t floor)
{
	char i[24], f[24];
	const char *p[] = {pgx_i64(i, id), pgx_i64(f, (int64_t)floor)};

	return pgx_run(st, true, "UPDATE journal SET floor = $2 WHERE id = $1", 2, p);
}

int pgx_journal_claims(struct state *st, const char *kind, const char *owner, const char *repo,
		       uint64_t forge_id, int64_t except_id, int64_t *by)
{
	char f[24], e[24];
	const char *p[] = {owner, repo, kind, pgx_i64(f, (int64_t)forge_id), pgx_i64(e, except_id)};
	PGresult *res = NULL;
	int64_t count = 0, first = 0;
	int r;

	r = pgx_lock(st);
	if (r < 0)
		return r;
	r = pgx_exec(st,
		     "SELECT count(*), coalesce(min(id), 0) FROM journal WHERE owner = $1"
		     " AND repo = $2 AND kind = $3 AND forge_id = $4 AND id != $5",
		     5, p, &res);
	if (r == 0 && PQntuples(res) == 1) {
		count = pgx_col_i64(res, 0, 0);
		first = pgx_col_i64(res, 0, 1);
	}
	PQclear(res);
	sq_unlock(st);
	if (r < 0)
		return r;
	if (by)
		*by = first;
	return (int)count;
}

#define COLUMNS                                                                                    \
	"id, kind, owner, repo, number, field, payload, marker, status, answer, created,"          \
	" assign_owner, assign_repo, assign_issue, forge_id, floor"

/* Row i of a COLUMNS result into *e; on failure e holds nothing. */
static int entry_of(const PGresult *res, int i, struct journal_entry *e)
{
	struct journal_entry t = {0};
	int r;

	t.id = pgx_col_i64(res, i, 0);
	t.number = (uint64_t)pgx_col_i64(res, i, 4);
	t.created = pgx_col_i64(res, i, 10);
	t.assign_issue = (uint64_t)pgx_col_i64(res, i, 13);
	t.forge_id = (uint64_t)pgx_col_i64(res, i, 14);
	t.has_floor = !PQgetisnull(res, i, 15);
	t.floor = (uint64_t)pgx_col_i64(res, i, 15);
	r = pgx_col_dup(res, i, 1, &t.kind);
	if (r == 0)
		r = pgx_col_dup(res, i, 2, &t.owner);
	if (r == 0)
		r = pgx_col_dup(res, i, 3, &t.repo);
	if (r == 0)
		r = pgx_col_dup(res, i, 5, &t.field);
	if (r == 0)
		r = pgx_col_dup(res, i, 6, &t.payload);
	if (r == 0)
		r = pgx_col_dup(res, i, 7, &t.marker);
	if (r == 0)
		r = sq_status_from_name(PQgetvalue(res, i, 8), &t.status);
	if (r == 0)
		r = pgx_col_dup(res, i, 9, &t.answer);
	if (r == 0)
		r = pgx_col_dup(res, i, 11, &t.assign_owner);
	if (r == 0)
		r = pgx_col_dup(res, i, 12, &t.assign_repo);
	if (r == 0 && (!t.assign_owner != !t.assign_repo || (t.assign_owner && !t.assign_issue)))
		r = -EBADMSG;
	if (r < 0) {
		state_journal_entry_release(&t);
		return r;
	}
	*e = t;
	return 0;
}

int pgx_journal_list(struct state *st, const char *tail, const char *arg, struct journal_entry **v,
		     size_t *n)
{
	struct buf sql = BUF_INIT(0);
	struct journal_entry *list = NULL;
	PGresult *res = NULL;
	const char *p[] = {arg};
	int r, i, rows = 0;

	r = buf_printf(&sql, "SELECT " COLUMNS " FROM journal %s", tail);
	if (r == 0)
		r = pgx_lock(st);
	if (r < 0) {
		buf_release(&sql);
		return r;
	}
	r = pgx_exec(st, buf_cstr(&sql), arg ? 1 : 0, arg ? p : NULL, &res);
	if (r == 0)
		rows = PQntuples(res);
	if (r == 0 && rows > 0 && !(list = calloc((size_t)rows, sizeof(*list))))
		r = -ENOMEM;
	for (i = 0; r == 0 && i < rows; i++)
		r = entry_of(res, i, &list[i]);
	PQclear(res);
	sq_unlock(st);
	buf_release(&sql);
	if (r < 0) {
		state_journal_list_free(list, (size_t)rows);
		return r;
	}
	*v = list;
	*n = (size_t)rows;
	return 0;
}
