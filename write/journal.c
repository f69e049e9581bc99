/*
 * journal: one write from journal to outcome (internal.h): journaled
 * before it is sent, finished with the forge's answer, logged in the
 * provenance log; and the pull request slots that keep --max-prs.
 */
#include "write/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void journal_place(const char *owner, const char *repo, bool pull, uint64_t number, char *out,
		   size_t size)
{
	snprintf(out, size, "%s/%s/%s/%llu", owner, repo, pull ? "pulls" : "issues",
		 (unsigned long long)number);
}

/* One line in the provenance log: what, where, and the forge's answer. */
static void provenance(struct write *w, const char *what, const char *at, int r, const char *answer,
		       const struct buf *err)
{
	struct buf a = BUF_INIT(4096);

	if (r == 0)
		buf_note(&a, "ok: %s", answer ? answer : "");
	else
		buf_note(&a, "error %s: %s", strerrorname_np(-r) ? strerrorname_np(-r) : "?",
			 err && err->len ? buf_cstr(err) : strerror(-r));
	/*
	 * The provenance log is a record for people: the write's outcome does
	 * not depend on it, and the journal holds the same facts.
	 */
	(void)!state_provenance_add(w->opt.state, what, at, buf_cstr(&a));
	buf_release(&a);
}

int journal_begin(struct write *w, const struct job *j, int64_t *id, struct buf *err)
{
	struct scope *s = w->opt.scope;
	struct journal_entry e = {0};
	int r;

	e.kind = (char *)j->kind;
	e.owner = (char *)j->owner;
	e.repo = (char *)j->repo;
	e.number = j->number;
	e.field = (char *)j->field;
	e.payload = (char *)j->payload;
	/*
	 * The assignment the write is made under: only a daemon holding it
	 * finishes the write if this one dies (write_recover). Every write
	 * passed scope_check, so the mount is assigned.
	 */
	if (s->assigned) {
		e.assign_owner = s->owner;
		e.assign_repo = s->repo;
		e.assign_issue = s->issue;
	}
	r = state_journal_add(w->opt.state, &e, id);
	if (r < 0) {
		/* Nothing is sent that could not be journaled first. */
		if (err)
			buf_note(err, "cannot journal the write: %s", strerror(-r));
		return -EIO;
	}
	/*
	 * Pending and sending are alike to recovery (both are finished at the
	 * next start), so an entry left pending loses nothing.
	 */
	(void)!state_journal_set(w->opt.state, *id, JOURNAL_SENDING, NULL);
	return 0;
}

void journal_end(struct write *w, const struct job *j, int64_t id, int r, const char *answer,
		 const struct buf *err)
{
	/*
	 * An entry that cannot be finished stays sending: the next start
	 * finishes it as a write never answered (recover.c), which sends a
	 * field again and claims a comment or pull request found on the forge
	 * instead of sending it twice.
	 */
	(void)!state_journal_finish(w->opt.state, id, r == 0 ? JOURNAL_DONE : JOURNAL_FAILED,
				    r == 0 ? answer
					   : (err && err->len ? buf_cstr(err) : strerror(-r)),
				    r == 0 ? j->forge_id : 0);
	provenance(w, j->field ? j->field : j->kind, j->at, r, answer, err);
}

int journal_floor(void *ud, uint64_t max_number)
{
	struct floor_ctx *fc = ud;

	/* Nothing is sent that could not be journaled first. */
	return state_journal_set_floor(fc->st, fc->id, max_number) < 0 ? -EIO : 0;
}

int pr_slot_take(struct write *w, struct buf *err)
{
	struct scope *s = w->opt.scope;
	unsigned max = w->opt.max_prs ? w->opt.max_prs : WRITE_MAX_PRS_DEFAULT;
	uint64_t *prs = NULL;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&w->lock);
	r = state_pr_list(w->opt.state, s->owner, s->repo, s->issue, &prs, &n);
	if (r < 0)
		r = buf_fail(err, -EIO,
			     "pulls/new: cannot count the assignment's pull requests: %s",
			     strerror(-r));
	else if (n + w->prs_opening >= max)
		r = buf_fail(err, -EDQUOT,
			     "pulls/new: the assignment has opened %zu pull request(s)%s; "
			     "--max-prs allows %u",
			     n, w->prs_opening ? " and is opening more" : "", max);
	else
		w->prs_opening++;
	pthread_mutex_unlock(&w->lock);
	free(prs);
	return r;
}

int pr_slot_give(struct write *w, uint64_t number)
{
	struct scope *s = w->opt.scope;
	int r = 0;

	pthread_mutex_lock(&w->lock);
	if (number)
		r = state_pr_add(w->opt.state, s->owner, s->repo, s->issue, number);
	w->prs_opening--;
	pthread_mutex_unlock(&w->lock);
	return r;
}
