/* state: the pull requests each assignment opened (state.h). */
#include "state/internal.h"
#include "state/pg/pg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int state_pr_add(struct state *st, const char *owner, const char *repo, uint64_t issue, uint64_t pr)
{
	if (!sq_key_ok(owner, repo, issue) || pr < 1 || pr > INT64_MAX)
		return -EINVAL;
	if (st->pg)
		return pgx_pr_add(st, owner, repo, issue, pr);
	return sq_run(st, false,
		      "INSERT OR IGNORE INTO pulls (owner, repo, issue, pr, added)"
		      " VALUES (?1, ?2, ?3, ?4, ?5)",
		      "ttiii", owner, repo, (int64_t)issue, (int64_t)pr, (int64_t)time(NULL));
}

/*
 * The same statement for PostgreSQL: these two select statements are
 * written with ?1..?3, which PostgreSQL spells $1..$3.
 */
static const char *sql_pg(const char *sql)
{
	static const char *const pairs[][2] = {
	    {"SELECT pr FROM pulls WHERE owner = ?1 AND repo = ?2 AND issue = ?3 ORDER BY pr",
	     "SELECT pr FROM pulls WHERE owner = $1 AND repo = $2 AND issue = $3 ORDER BY pr"},
	    {"SELECT issue FROM pulls WHERE owner = ?1 AND repo = ?2 AND pr = ?3 ORDER BY issue",
	     "SELECT issue FROM pulls WHERE owner = $1 AND repo = $2 AND pr = $3 ORDER BY issue"},
	};
	size_t i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (strcmp(sql, pairs[i][0]) == 0)
			return pairs[i][1];
	return sql;
}

/* Runs sql (owner, repo, k bound to ?1..?3) and collects its one integer column. */
static int select_numbers(struct state *st, const char *sql, const char *owner, const char *repo,
			  uint64_t k, uint64_t **out, size_t *n)
{
	sqlite3_stmt *s = NULL;
	uint64_t *v = NULL, *nv;
	size_t len = 0, cap = 0;
	int r, rc;

	if (!sq_key_ok(owner, repo, k))
		return -EINVAL;
	if (st->pg)
		return pgx_numbers(st, sql_pg(sql), owner, repo, k, out, n);
	sq_lock(st);
	r = sq_prepare(st, sql, &s);
	if (r == 0)
		r = sq_bind_key(st, s, owner, repo, k);
	while (r == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == cap) {
			cap = cap ? cap * 2 : 8;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[len++] = (uint64_t)sqlite3_column_int64(s, 0);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = sq_errno(st->db, rc);
	sqlite3_finalize(s);
	sq_unlock(st);
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = len;
	return 0;
}

int state_pr_list(struct state *st, const char *owner, const char *repo, uint64_t issue,
		  uint64_t **prs, size_t *n)
{
	return select_numbers(
	    st, "SELECT pr FROM pulls WHERE owner = ?1 AND repo = ?2 AND issue = ?3 ORDER BY pr",
	    owner, repo, issue, prs, n);
}

int state_pr_holders(struct state *st, const char *owner, const char *repo, uint64_t pr,
		     uint64_t **issues, size_t *n)
{
	return select_numbers(
	    st, "SELECT issue FROM pulls WHERE owner = ?1 AND repo = ?2 AND pr = ?3 ORDER BY issue",
	    owner, repo, pr, issues, n);
}
