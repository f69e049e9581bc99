/* state: the provenance log of every write (state.h). */
#include "state/internal.h"
#include "state/pg/pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int state_provenance_add(struct state *st, const char *what, const char *where, const char *answer)
{
	if (!what || !where)
		return -EINVAL;
	if (st->pg)
		return pgx_provenance_add(st, what, where, answer);
	return sq_run(st, false,
		      "INSERT INTO provenance (at, what, place, answer) VALUES (?1, ?2, ?3, ?4)",
		      "ittt", (int64_t)time(NULL), what, where, answer);
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
	if (st->pg)
		return pgx_provenance_each(st, cb, ud);
	sq_lock(st);
	r = sq_prepare(st, "SELECT id, at, what, place, answer FROM provenance ORDER BY id", &s);
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *what = sq_col_str(s, 2), *where = sq_col_str(s, 3),
			   *answer = sq_col_str(s, 4);

		if (!what || !where) {
			r = -ENOMEM;
			break;
		}
		r = cb(ud, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), what, where,
		       answer);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_errno(st->db, rc);
	sqlite3_finalize(s);
	sq_unlock(st);
	return r;
}
