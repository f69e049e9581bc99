/* state: the orchestrator's forge state records (state.h). */
#include "state/internal.h"
#include "state/pg/pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

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
	if (!sq_key_ok(owner, repo, issue) || json_check(json) < 0)
		return -EINVAL;
	if (st->pg)
		return pgx_record_upsert(st, owner, repo, issue, json);
	return sq_run(
	    st, false,
	    "INSERT INTO records (owner, repo, issue, json, updated) VALUES (?1, ?2, ?3, ?4, ?5)"
	    " ON CONFLICT (owner, repo, issue) DO UPDATE SET json = excluded.json,"
	    " updated = excluded.updated",
	    "ttiti", owner, repo, (int64_t)issue, json, (int64_t)time(NULL));
}

int state_record_get(struct state *st, const char *owner, const char *repo, uint64_t issue,
		     char **json)
{
	if (!sq_key_ok(owner, repo, issue))
		return -EINVAL;
	if (st->pg)
		return pgx_key_text(
		    st, "SELECT json FROM records WHERE owner = $1 AND repo = $2 AND issue = $3",
		    owner, repo, issue, json);
	return sq_key_text(st,
			   "SELECT json FROM records WHERE owner = ?1 AND repo = ?2 AND issue = ?3",
			   owner, repo, issue, json);
}

int state_record_delete(struct state *st, const char *owner, const char *repo, uint64_t issue)
{
	if (!sq_key_ok(owner, repo, issue))
		return -EINVAL;
	if (st->pg)
		return pgx_record_delete(st, owner, repo, issue);
	return sq_run(st, true, "DELETE FROM records WHERE owner = ?1 AND repo = ?2 AND issue = ?3",
		      "tti", owner, repo, (int64_t)issue);
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
	if (st->pg)
		return pgx_record_all(st, cb, ud);
	sq_lock(st);
	r = sq_prepare(
	    st, "SELECT owner, repo, issue, json FROM records ORDER BY owner, repo, issue", &s);
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *o = sq_col_str(s, 0), *p = sq_col_str(s, 1), *j = sq_col_str(s, 3);
		int64_t n = sqlite3_column_int64(s, 2);

		if (!o || !p || !j) {
			r = -ENOMEM;
			break;
		}
		r = cb(ud, o, p, (uint64_t)n, j);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_errno(st->db, rc);
	sqlite3_finalize(s);
	sq_unlock(st);
	return r;
}
