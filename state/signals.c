/* state: the done signal that stands per assignment (state.h). */
#include "state/internal.h"
#include "state/pg/pg.h"

#include <errno.h>
#include <time.h>

int state_done_put(struct state *st, const char *owner, const char *repo, uint64_t issue,
		   const char *text)
{
	if (!sq_key_ok(owner, repo, issue) || !text)
		return -EINVAL;
	if (st->pg)
		return pgx_done_put(st, owner, repo, issue, text);
	return sq_run(st, false,
		      "INSERT OR REPLACE INTO done_signals (owner, repo, issue, text, at)"
		      " VALUES (?1, ?2, ?3, ?4, ?5)",
		      "ttiti", owner, repo, (int64_t)issue, text, (int64_t)time(NULL));
}

int state_done_get(struct state *st, const char *owner, const char *repo, uint64_t issue,
		   char **text)
{
	if (!sq_key_ok(owner, repo, issue))
		return -EINVAL;
	if (st->pg)
		return pgx_key_text(
		    st,
		    "SELECT text FROM done_signals WHERE owner = $1 AND repo = $2 AND issue = $3",
		    owner, repo, issue, text);
	return sq_key_text(
	    st, "SELECT text FROM done_signals WHERE owner = ?1 AND repo = ?2 AND issue = ?3",
	    owner, repo, issue, text);
}
