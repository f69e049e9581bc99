/* state: the write journal (state.h). */
#include "state/internal.h"
#include "state/pg/pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const status_names[] = {"pending", "sending", "done", "failed"};

const char *journal_status_name(enum journal_status s)
{
	if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
		return NULL;
	return status_names[s];
}

int sq_status_from_name(const char *name, enum journal_status *out)
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
		if (!sq_key_ok(e->assign_owner, e->assign_repo, e->assign_issue))
			return -EINVAL;
	}
	if (st->pg)
		return pgx_journal_add(st, e, id);
	sq_lock(st);
	r = sq_prepare(
	    st,
	    "INSERT INTO journal (kind, owner, repo, number, field, payload, marker, status,"
	    " answer, created, updated, assign_owner, assign_repo, assign_issue, forge_id, floor)"
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', NULL, ?8, ?9, ?10, ?11, ?12, ?13, "
	    "?14)",
	    &s);
	if (r == 0)
		r = sq_bind_text(st, s, 1, e->kind);
	if (r == 0)
		r = sq_bind_text(st, s, 2, e->owner);
	if (r == 0)
		r = sq_bind_text(st, s, 3, e->repo);
	if (r == 0)
		r = sq_bind_i64(st, s, 4, (int64_t)e->number);
	if (r == 0)
		r = sq_bind_text(st, s, 5, e->field);
	if (r == 0)
		r = sq_bind_text(st, s, 6, e->payload);
	if (r == 0)
		r = sq_bind_text(st, s, 7, e->marker);
	if (r == 0)
		r = sq_bind_i64(st, s, 8, e->created ? e->created : now);
	if (r == 0)
		r = sq_bind_i64(st, s, 9, now);
	if (r == 0)
		r = sq_bind_text(st, s, 10, e->assign_owner);
	if (r == 0)
		r = sq_bind_text(st, s, 11, e->assign_repo);
	if (r == 0 && e->assign_owner)
		r = sq_bind_i64(st, s, 12, (int64_t)e->assign_issue);
	if (r == 0 && e->forge_id)
		r = sq_bind_i64(st, s, 13, (int64_t)e->forge_id);
	if (r == 0 && e->has_floor)
		r = sq_bind_i64(st, s, 14, (int64_t)e->floor);
	/* Autocommit with synchronous=FULL: the WAL is fsynced before step returns. */
	if (r == 0)
		r = sq_step_done(st, s);
	if (r == 0 && id)
		*id = sqlite3_last_insert_rowid(st->db);
	sqlite3_finalize(s);
	sq_unlock(st);
	return r;
}

/* One UPDATE of entry id; forge_id 0 leaves the column as it is. */
static int journal_update(struct state *st, int64_t id, enum journal_status status,
			  const char *answer, uint64_t forge_id)
{
	static const char sql[] = "UPDATE journal SET status = ?2, answer = ?3, updated = ?4,"
				  " forge_id = coalesce(?5, forge_id) WHERE id = ?1";
	const char *name = journal_status_name(status);
	int64_t now = (int64_t)time(NULL);

	if (!name || forge_id > INT64_MAX)
		return -EINVAL;
	if (st->pg)
		return pgx_journal_update(st, id, name, answer, forge_id);
	if (forge_id)
		return sq_run(st, true, sql, "ittii", id, name, answer, now, (int64_t)forge_id);
	return sq_run(st, true, sql, "ittin", id, name, answer, now);
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
	if (floor > INT64_MAX)
		return -EINVAL;
	if (st->pg)
		return pgx_journal_set_floor(st, id, floor);
	return sq_run(st, true, "UPDATE journal SET floor = ?2 WHERE id = ?1", "ii", id,
		      (int64_t)floor);
}

int state_journal_claims(struct state *st, const char *kind, const char *owner, const char *repo,
			 uint64_t forge_id, int64_t except_id, int64_t *by)
{
	sqlite3_stmt *s = NULL;
	int64_t first = 0;
	int r, rc, count = 0;

	if (!kind || !owner || !repo || forge_id < 1 || forge_id > INT64_MAX)
		return -EINVAL;
	if (st->pg)
		return pgx_journal_claims(st, kind, owner, repo, forge_id, except_id, by);
	sq_lock(st);
	r = sq_prepare(st,
		       "SELECT count(*), min(id) FROM journal WHERE owner = ?1 AND repo = ?2"
		       " AND kind = ?3 AND forge_id = ?4 AND id != ?5",
		       &s);
	if (r == 0)
		r = sq_bind_text(st, s, 1, owner);
	if (r == 0)
		r = sq_bind_text(st, s, 2, repo);
	if (r == 0)
		r = sq_bind_text(st, s, 3, kind);
	if (r == 0)
		r = sq_bind_i64(st, s, 4, (int64_t)forge_id);
	if (r == 0)
		r = sq_bind_i64(st, s, 5, except_id);
	if (r == 0) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			count = sqlite3_column_int(s, 0);
			first = sqlite3_column_int64(s, 1);
		} else {
			r = sq_errno(st->db, rc);
		}
	}
	sqlite3_finalize(s);
	sq_unlock(st);
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
	r = sq_col_dup(s, 1, &t.kind);
	if (r == 0)
		r = sq_col_dup(s, 2, &t.owner);
	if (r == 0)
		r = sq_col_dup(s, 3, &t.repo);
	if (r == 0)
		r = sq_col_dup(s, 5, &t.field);
	if (r == 0)
		r = sq_col_dup(s, 6, &t.payload);
	if (r == 0)
		r = sq_col_dup(s, 7, &t.marker);
	if (r == 0)
		r = sq_status_from_name(sq_col_str(s, 8), &t.status);
	if (r == 0)
		r = sq_col_dup(s, 9, &t.answer);
	if (r == 0)
		r = sq_col_dup(s, 11, &t.assign_owner);
	if (r == 0)
		r = sq_col_dup(s, 12, &t.assign_repo);
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

/* One entry of a PostgreSQL store by id. */
static int pg_journal_get(struct state *st, int64_t id, struct journal_entry *out)
{
	struct journal_entry *v = NULL;
	size_t n = 0;
	char num[24];
	int r = pgx_journal_list(st, "WHERE id = $1", pgx_i64(num, id), &v, &n);

	if (r == 0 && n == 0)
		r = -ENOENT;
	if (r == 0) {
		*out = v[0];
		memset(&v[0], 0, sizeof(v[0]));
	}
	state_journal_list_free(v, n);
	return r;
}

/* Every entry of a PostgreSQL store, read first, then walked (no lock held in cb). */
static int pg_journal_each(struct state *st, int (*cb)(void *ud, const struct journal_entry *e),
			   void *ud)
{
	struct journal_entry *v = NULL;
	size_t n = 0, i;
	int r = pgx_journal_list(st, "ORDER BY id", NULL, &v, &n);

	for (i = 0; r == 0 && i < n; i++)
		r = cb(ud, &v[i]);
	state_journal_list_free(v, n);
	return r;
}

int state_journal_unfinished(struct state *st, struct journal_entry **v, size_t *n)
{
	struct journal_entry *list = NULL, *nl;
	size_t len = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	int r, rc;

	if (st->pg)
		return pgx_journal_list(st, "WHERE status IN ('pending','sending') ORDER BY id",
					NULL, v, n);
	sq_lock(st);
	r = sq_prepare(st,
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
		r = sq_errno(st->db, rc);
	sqlite3_finalize(s);
	sq_unlock(st);
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

	if (st->pg)
		return pg_journal_get(st, id, out);
	sq_lock(st);
	r = sq_prepare(st, "SELECT " JOURNAL_COLUMNS " FROM journal WHERE id = ?1", &s);
	if (r == 0)
		r = sq_bind_i64(st, s, 1, id);
	if (r == 0) {
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			r = journal_row(s, out);
		else if (rc == SQLITE_DONE)
			r = -ENOENT;
		else
			r = sq_errno(st->db, rc);
	}
	sqlite3_finalize(s);
	sq_unlock(st);
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
	if (st->pg)
		return pg_journal_each(st, cb, ud);
	sq_lock(st);
	r = sq_prepare(st, "SELECT " JOURNAL_COLUMNS " FROM journal ORDER BY id", &s);
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		r = journal_row(s, &e);
		if (r < 0)
			break;
		r = cb(ud, &e);
		state_journal_entry_release(&e);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_errno(st->db, rc);
	sqlite3_finalize(s);
	sq_unlock(st);
	return r;
}
