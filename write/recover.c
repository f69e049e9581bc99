/*
 * recover: what a daemon that starts may do with the journal entries a dead one
 * left unanswered (SEMANTICS.md, "Never lost, never twice"):
 *
 * - Only its own assignment's. An entry carries the assignment it was
 *   made under; the entries of any other assignment are left as they are
 *   for a daemon holding that assignment, and a finished write is recorded
 *   under its own entry's assignment.
 * - Only inside that assignment's scope: a patch or comment on the
 *   assigned issue or on one of the pull requests the state store lists
 *   for the assignment, a pull request in the assigned repository, the
 *   assignment's done signal. Anything else is marked failed, unsent.
 * - A comment or pull request found on the forge is claimed as the
 *   write's only when it is provably the write's result (pull_verdict,
 *   comment_is_ours); otherwise a comment is posted, and a pull request
 *   is opened only if no open one with the same head and base is in the
 *   way (the forge would refuse it: 409), else the write is marked failed
 *   with the reason.
 */
#include "write/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/time.h"

/*
 * How far the forge's clock may be behind ours. A comment or pull request
 * created more than this before its write was journaled is not the
 * write's. The time alone cannot tell two objects apart within the
 * allowance, so a pull request must also have a number above the entry's
 * floor, and anything another journal entry or assignment accounts for is
 * never claimed.
 */
#define CLOCK_SLACK_S 120

/* One recovery pass: what it learns once and shares between entries. */
struct recovery {
	struct write *w;
	const struct journal_entry *v; /* every unfinished entry, oldest first */
	size_t n;
	bool asked;	   /* whoami was asked */
	int login_r;	   /* its result */
	char *login;	   /* the token's user when login_r is 0 */
	struct buf why_no; /* why not otherwise */
};

/* The login of the token's user (borrowed from rc), asked once per pass. */
static int recovery_login(struct recovery *rc, const char **login, struct buf *why)
{
	struct forge *f = rc->w->opt.forge;

	if (!rc->asked) {
		rc->asked = true;
		rc->login_r = f->ops->whoami ? f->ops->whoami(f, &rc->login, &rc->why_no)
					     : buf_fail(&rc->why_no, -ENOTSUP,
							"the forge adapter cannot tell");
	}
	if (rc->login_r < 0)
		return buf_fail(why, rc->login_r,
				"cannot learn which user the token belongs to: %s",
				buf_cstr(&rc->why_no));
	*login = rc->login;
	return 0;
}

static bool own_entry(const struct scope *s, const struct journal_entry *e)
{
	return s->assigned && e->assign_owner && strcmp(e->assign_owner, s->owner) == 0 &&
	       strcmp(e->assign_repo, s->repo) == 0 && e->assign_issue == s->issue;
}

static bool same_assignment(const struct journal_entry *a, const struct journal_entry *b)
{
	return a->assign_owner && b->assign_owner &&
	       strcmp(a->assign_owner, b->assign_owner) == 0 &&
	       strcmp(a->assign_repo, b->assign_repo) == 0 && a->assign_issue == b->assign_issue;
}

/*
 * 0 when e's target is in its assignment's scope: the assigned issue, or a
 * pull request the state store lists for the assignment. -EACCES (with
 * the reason) when not. A state store that fails is -EIO, like a forge
 * that does: the entry waits for the next start instead of being failed.
 */
static int target_in_scope(struct write *w, const struct journal_entry *e, struct buf *why)
{
	uint64_t *prs = NULL;
	size_t n = 0, i;
	int r;

	if (strcmp(e->owner, e->assign_owner) == 0 && strcmp(e->repo, e->assign_repo) == 0) {
		if (e->number == e->assign_issue)
			return 0;
		r = state_pr_list(w->opt.state, e->assign_owner, e->assign_repo, e->assign_issue,
				  &prs, &n);
		if (r < 0)
			return buf_fail(why, -EIO, "cannot read the assignment's pull requests: %s",
					strerror(-r));
		for (i = 0; i < n && prs[i] != e->number; i++)
			;
		free(prs);
		if (i < n)
			return 0;
	}
	return buf_fail(why, -EACCES,
			"%s/%s#%llu is neither the assigned issue %s/%s#%llu nor one of its pull "
			"requests: not sent",
			e->owner, e->repo, (unsigned long long)e->number, e->assign_owner,
			e->assign_repo, (unsigned long long)e->assign_issue);
}

/*
 * A comment is the write's when it has exactly the write's body, the
 * token's user posted it, no earlier than CLOCK_SLACK_S before the write
 * was journaled, and no other journal entry accounts for it. 1, 0, or
 * -errno.
 */
static int comment_is_ours(struct recovery *rc, const struct journal_entry *e,
			   const struct forge_comment *c, const char *login)
{
	int r;

	if (strcmp(c->body ? c->body : "", e->payload) != 0 ||
	    strcmp(c->author ? c->author : "", login) != 0 ||
	    time_from_rfc3339(c->created_at) < e->created - CLOCK_SLACK_S)
		return 0;
	r = state_journal_claims(rc->w->opt.state, "comment", e->owner, e->repo, c->id, e->id,
				 NULL);
	return r < 0 ? -EIO : r == 0;
}

/* A comment whose answer never came: claimed when it is there (above), else posted. */
static int recover_comment(struct recovery *rc, const struct journal_entry *e, uint64_t *forge_id,
			   char *answer, size_t size, struct buf *why)
{
	struct forge *f = rc->w->opt.forge;
	struct forge_comment_list cl = {NULL, 0};
	struct forge_comment c;
	const char *login;
	size_t i;
	int r;

	r = target_in_scope(rc->w, e, why);
	if (r == 0)
		r = recovery_login(rc, &login, why);
	if (r == 0)
		r = f->ops->list_comments(f, e->owner, e->repo, e->number, &cl, why);
	if (r < 0)
		return r;
	for (i = 0; i < cl.n; i++) {
		r = comment_is_ours(rc, e, &cl.v[i], login);
		if (r < 0) {
			r = buf_fail(why, r, "cannot read the journal");
			goto out;
		}
		if (r == 1) {
			*forge_id = cl.v[i].id;
			snprintf(answer, size, "comment %llu (found on the forge)",
				 (unsigned long long)cl.v[i].id);
			r = 0;
			goto out;
		}
	}
	r = f->ops->post_comment(f, e->owner, e->repo, e->number, e->payload, &c, why);
	if (r == 0) {
		*forge_id = c.id;
		snprintf(answer, size, "comment %llu", (unsigned long long)c.id);
		forge_comment_release(&c);
	}
out:
	forge_comment_list_release(&cl);
	return r;
}

/*
 * Whether pull request pr (same repository, head, base and title as the
 * write) is the one entry e opened. It must be:
 * - opened by the token's user (someone else's PR is never claimed);
 * - numbered above the entry's floor, the highest number the repository
 *   had just before the request was sent: Gitea numbers issues and PRs
 *   from one sequence that only grows, so a PR that existed before the
 *   write, even one opened by the same user a second earlier, fails here
 *   whatever the clocks say (an entry without a floor claims nothing);
 * - created no earlier than CLOCK_SLACK_S before the write was journaled;
 * - not already the result of another journal entry, nor in another
 *   assignment's list of PRs;
 * - not possibly the result of another assignment's unfinished entry for
 *   the same head and base whose own floor is below its number (two runs
 *   that died sending the same PR: neither may take it on a guess).
 * 1 when all hold, 0 with the first that fails in why_not, or -errno.
 */
static int pull_verdict(struct recovery *rc, const struct journal_entry *e,
			const struct forge_issue *pr, const char *login, struct buf *why_not)
{
	struct state *st = rc->w->opt.state;
	uint64_t *holders = NULL;
	size_t n = 0, i;
	int64_t by = 0;
	int r;

	if (strcmp(pr->author ? pr->author : "", login) != 0)
		return buf_fail(
		    why_not, 0, "#%llu was opened by '%s', not by the token's user '%s'",
		    (unsigned long long)pr->number, pr->author ? pr->author : "", login);
	if (!e->has_floor)
		return buf_fail(why_not, 0,
				"#%llu cannot be shown to be this write's: the number the "
				"repository had reached when it was sent is unknown",
				(unsigned long long)pr->number);
	if (pr->number <= e->floor)
		return buf_fail(why_not, 0,
				"#%llu existed before this write was sent (the repository had "
				"reached #%llu)",
				(unsigned long long)pr->number, (unsigned long long)e->floor);
	if (time_from_rfc3339(pr->created_at) < e->created - CLOCK_SLACK_S)
		return buf_fail(why_not, 0, "#%llu was created at %s, before this write",
				(unsigned long long)pr->number,
				pr->created_at && *pr->created_at ? pr->created_at
								  : "an unknown time");
	r = state_journal_claims(st, "create_pr", e->owner, e->repo, pr->number, e->id, &by);
	if (r < 0)
		return r;
	if (r > 0)
		return buf_fail(why_not, 0, "#%llu is already the result of journal entry %lld",
				(unsigned long long)pr->number, (long long)by);
	r = state_pr_holders(st, e->owner, e->repo, pr->number, &holders, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n && holders[i] == e->assign_issue; i++)
		;
	if (i < n) {
		r = buf_fail(why_not, 0, "#%llu was opened for %s/%s#%llu",
			     (unsigned long long)pr->number, e->owner, e->repo,
			     (unsigned long long)holders[i]);
		free(holders);
		return r;
	}
	free(holders);
	for (i = 0; i < rc->n; i++) {
		const struct journal_entry *o = &rc->v[i];
		struct prnew op;
		bool rival;

		if (o->id == e->id || strcmp(o->kind, "create_pr") != 0 ||
		    strcmp(o->owner, e->owner) != 0 || strcmp(o->repo, e->repo) != 0 ||
		    same_assignment(o, e) || (o->has_floor && o->floor >= pr->number) ||
		    prnew_parse(o->payload, strlen(o->payload), &op, NULL) < 0)
			continue;
		rival = strcmp(op.head, pr->head) == 0 && strcmp(op.base, pr->base) == 0;
		prnew_release(&op);
		if (rival)
			return buf_fail(why_not, 0,
					"#%llu may as well be the result of journal entry %lld of "
					"%s/%s#%llu, also unfinished",
					(unsigned long long)pr->number, (long long)o->id,
					o->assign_owner ? o->assign_owner : "?",
					o->assign_repo ? o->assign_repo : "?",
					(unsigned long long)o->assign_issue);
	}
	return 1;
}

/* What the forge's pull requests say about a create_pr entry: see find_pull. */
struct pull_search {
	size_t claimable;  /* how many are provably the write's result */
	uint64_t number;   /* the last of them */
	struct buf in_way; /* why an open one with the same head and base is not (the first) */
};

/*
 * Looks through the repository's pull requests for the one entry e (the
 * request p) opened: those with its head and base, judged by pull_verdict
 * when the title matches too. An open one that is not the write's is in
 * the way (the forge keeps one open pull request per head and base).
 */
static int find_pull(struct recovery *rc, const struct journal_entry *e, const struct prnew *p,
		     struct pull_search *ps, struct buf *why)
{
	struct forge *f = rc->w->opt.forge;
	struct forge_issue_list pl = {NULL, 0};
	struct buf why_not = BUF_INIT(4096);
	const char *login;
	size_t i;
	int r;

	r = recovery_login(rc, &login, why);
	if (r == 0)
		r = f->ops->list_issues(f, e->owner, e->repo, FORGE_PULLS, NULL, &pl, why);
	for (i = 0; r == 0 && i < pl.n; i++) {
		const struct forge_issue *x = &pl.v[i];
		int v;

		if (!x->head || !x->base || strcmp(x->head, p->head) != 0 ||
		    strcmp(x->base, p->base) != 0)
			continue;
		buf_reset(&why_not);
		v = strcmp(x->title, p->title) == 0 ? pull_verdict(rc, e, x, login, &why_not) : 0;
		if (v < 0) {
			r = buf_fail(why, -EIO, "cannot read the journal: %s", strerror(-v));
		} else if (v == 1) {
			ps->claimable++;
			ps->number = x->number;
		} else if (strcmp(x->state, "open") == 0 && !ps->in_way.len) {
			if (why_not.len)
				r = buf_puts(&ps->in_way, buf_cstr(&why_not));
			else
				r = buf_printf(&ps->in_way,
					       "#%llu ('%s') is open with this head and base",
					       (unsigned long long)x->number, x->title);
			if (r < 0)
				r = buf_fail(why, -ENOMEM, "out of memory");
		}
	}
	forge_issue_list_release(&pl);
	buf_release(&why_not);
	return r;
}

/*
 * A pull request whose answer never came: claimed when exactly one PR is
 * provably its result (find_pull, pull_verdict); else opened, unless an
 * open PR with the same head and base is in the way (then failed, with
 * the reason). Recorded under the entry's own assignment.
 */
static int recover_pull(struct recovery *rc, const struct journal_entry *e, uint64_t *forge_id,
			char *answer, size_t size, struct buf *why)
{
	struct write *w = rc->w;
	struct forge *f = w->opt.forge;
	struct pull_search ps = {0, 0, BUF_INIT(4096)};
	uint64_t number = 0;
	struct prnew p;
	int r;

	r = prnew_parse(e->payload, strlen(e->payload), &p, why);
	if (r < 0)
		return r;
	if (strcmp(e->owner, e->assign_owner) != 0 || strcmp(e->repo, e->assign_repo) != 0) {
		r = buf_fail(
		    why, -EACCES,
		    "a pull request in %s/%s is outside the assignment %s/%s#%llu: not sent",
		    e->owner, e->repo, e->assign_owner, e->assign_repo,
		    (unsigned long long)e->assign_issue);
		goto out;
	}
	r = find_pull(rc, e, &p, &ps, why);
	if (r < 0)
		goto out;
	if (ps.claimable > 1) {
		r = buf_fail(why, -EEXIST,
			     "more than one pull request could be this write's; none is claimed");
		goto out;
	}
	if (!ps.claimable && ps.in_way.len) {
		r = buf_fail(why, -EEXIST,
			     "not claimed: %s; the forge allows one open pull request per head "
			     "and base, so none was opened",
			     buf_cstr(&ps.in_way));
		goto out;
	}
	if (ps.claimable) {
		number = ps.number;
		snprintf(answer, size, "pull %llu (found on the forge)",
			 (unsigned long long)number);
	} else {
		struct floor_ctx fc = {w->opt.state, e->id};

		r = f->ops->create_pr(f, e->owner, e->repo, &p.req, journal_floor, &fc, &number,
				      why);
		if (r < 0)
			goto out;
		snprintf(answer, size, "pull %llu", (unsigned long long)number);
	}
	*forge_id = number;
	/* Under the entry's own assignment (which is this mount's: own_entry). */
	r = state_pr_add(w->opt.state, e->assign_owner, e->assign_repo, e->assign_issue, number);
	if (r < 0) {
		r = buf_fail(why, -EIO, "pull %llu opened, but it cannot be recorded: %s",
			     (unsigned long long)number, strerror(-r));
		goto out;
	}
	/*
	 * Only memory can fail here; the pull request is in the state store,
	 * so the next start has it in scope all the same.
	 */
	if (own_entry(w->opt.scope, e))
		(void)!scope_add_pr(w->opt.scope, number);
out:
	buf_release(&ps.in_way);
	prnew_release(&p);
	return r;
}

/*
 * A done signal whose answer never came: if it stands, it reached the
 * queue and only the entry was left behind; else it is queued now. (The
 * daemon cannot tell "queued but not yet recorded", a window of one
 * SQLite write, from "never queued": the orchestrator may then see the
 * signal twice, never zero times.)
 */
static int recover_done(struct recovery *rc, const struct journal_entry *e, char *answer,
			size_t size, struct buf *why)
{
	struct write *w = rc->w;
	struct scope *s = w->opt.scope;
	struct done_signal sig;
	char *text = NULL, *name = NULL, *note = NULL;
	int r;

	if (strcmp(e->owner, s->owner) != 0 || strcmp(e->repo, s->repo) != 0 ||
	    e->number != s->issue)
		return buf_fail(why, -EACCES,
				"a done signal for %s/%s#%llu is not this assignment's", e->owner,
				e->repo, (unsigned long long)e->number);
	r = done_parse(e->payload, strlen(e->payload), &sig, why);
	if (r < 0)
		return r;
	pthread_mutex_lock(&w->lock);
	if (w->done_text) {
		snprintf(answer, size, "the signal stands");
	} else {
		text = done_signal_text(&sig);
		r = text ? signal_queue(w, &sig, &text, &name, &note, why) : -ENOMEM;
		if (r == 0)
			snprintf(answer, size, "%s", note ? note : name);
	}
	pthread_mutex_unlock(&w->lock);
	free(text);
	free(name);
	free(note);
	done_signal_release(&sig);
	return r;
}

/* Finishes one entry of this mount's assignment; -EIO leaves it for the next start. */
static int recover_one(struct recovery *rc, const struct journal_entry *e, uint64_t *forge_id,
		       char *answer, size_t size, struct buf *why)
{
	int r;

	if (strcmp(e->kind, "comment") == 0)
		return recover_comment(rc, e, forge_id, answer, size, why);
	if (strcmp(e->kind, "create_pr") == 0)
		return recover_pull(rc, e, forge_id, answer, size, why);
	if (strcmp(e->kind, "done") == 0)
		return recover_done(rc, e, answer, size, why);
	if (strcmp(e->kind, "push") == 0)
		return write_recover_push(rc->w, e, answer, size, why);
	if (strcmp(e->kind, "patch") == 0) {
		/* A field change is idempotent: sent again. */
		r = target_in_scope(rc->w, e, why);
		if (r == 0)
			r = write_send_field(rc->w, e->owner, e->repo, e->number,
					     e->field ? e->field : "", e->payload, why);
		if (r == 0)
			snprintf(answer, size, "%s", e->field ? e->field : "patch");
		return r;
	}
	return buf_fail(why, -EINVAL, "unknown kind of write '%s'", e->kind);
}

int write_recover(struct write *w, struct buf *err)
{
	struct recovery rc = {.w = w, .why_no = BUF_INIT(4096)};
	struct journal_entry *v = NULL;
	size_t n = 0, i, done = 0;
	int r;

	/* Only the lease's holder finishes the assignment's writes (lease.c). */
	if (!lease_held(w->opt.scope->lease))
		return 0;
	r = state_journal_unfinished(w->opt.state, &v, &n);
	if (r < 0)
		return r;
	rc.v = v;
	rc.n = n;
	for (i = 0; i < n; i++) {
		const struct journal_entry *e = &v[i];
		struct buf why = BUF_INIT(4096);
		struct job j = {.kind = e->kind,
				.field = e->field,
				.owner = e->owner,
				.repo = e->repo,
				.number = e->number};
		char answer[96] = "";

		/* Another assignment's write waits for a daemon holding that assignment. */
		if (!own_entry(w->opt.scope, e))
			continue;
		if (strcmp(e->kind, "create_pr") == 0)
			snprintf(j.at, sizeof(j.at), "%s/%s/pulls/new (recovered)", e->owner,
				 e->repo);
		else if (strcmp(e->kind, "push") == 0)
			snprintf(j.at, sizeof(j.at), "%s/%s/branches/%s (recovered)", e->owner,
				 e->repo, e->field ? e->field : "?");
		else
			snprintf(j.at, sizeof(j.at), "%s/%s#%llu (recovered)", e->owner, e->repo,
				 (unsigned long long)e->number);
		r = recover_one(&rc, e, &j.forge_id, answer, sizeof(answer), &why);
		if (r == -EIO) {
			/* The forge is still away: leave it for the next start. */
			if (err)
				buf_note(err, "%s%s %s: %s", err->len ? "; " : "", e->kind, j.at,
					 buf_cstr(&why));
			buf_release(&why);
			continue;
		}
		journal_end(w, &j, e->id, r, answer[0] ? answer : e->kind, &why);
		if (strcmp(e->kind, "create_pr") == 0)
			write_changed(w, e->owner, e->repo, -1, 0);
		else if (e->number)
			write_changed(w, e->owner, e->repo, -1, e->number);
		buf_release(&why);
		done++;
	}
	state_journal_list_free(v, n);
	free(rc.login);
	buf_release(&rc.why_no);
	return (int)done;
}
