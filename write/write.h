/*
 * writes: everything a write through the mount does once the file is
 * closed (SPEC sections 3, 5 and 6), without FUSE.
 *
 * Every write is journaled in the state store before it is sent, with
 * the assignment it is made under, marked sending, then done or failed
 * with the forge's answer and what the forge created (comment id, PR
 * number), and logged in the provenance log. A journal entry still pending
 * or sending when the daemon starts was never answered to the agent:
 * writes_recover() finishes the entries of this mount's assignment, and
 * only those, exactly once, looking on the forge first for a comment or
 * pull request that may have landed before the daemon died and claiming
 * it only when it is provably the write's (the token's own user made it,
 * after the write, and nothing else accounts for it: see writes.c). A
 * write whose failure was reported at close() is marked failed and never
 * resent (the agent owns the retry); its content stays in the journal.
 *
 * Thread-safety: writes_commit may run on many threads; the modules below
 * are thread-safe and w->lock orders done signals.
 */
#ifndef BOTTLEFS_FS_WRITES_H
#define BOTTLEFS_FS_WRITES_H

#include <stddef.h>

#include "forge/forge.h"
#include "write/scope.h"
#include "tree/tree.h"
#include "cache/cache.h"
#include "write/wlog.h"
#include "state/state.h"
#include "util/buf.h"

struct writes;

/* Pull requests one assignment may open when writes_options.max_prs is 0. */
#define WRITES_MAX_PRS_DEFAULT 10

struct writes_options {
	struct forge *forge;   /* borrowed */
	struct state *state;   /* borrowed */
	struct view *view;     /* borrowed: forgotten items are fetched again */
	struct scope *scope;   /* borrowed: grows with opened PRs */
	const char *queue_dir; /* borrowed */
	struct wlog *log;      /* borrowed, may be NULL: every commit's outcome */
	/*
	 * The most pull requests the assignment may have opened through the
	 * mount (the state store's list, in flight ones counted): the next
	 * pulls/new is -EDQUOT and sends nothing. 0: WRITES_MAX_PRS_DEFAULT.
	 */
	unsigned max_prs;
};

/* Loads what earlier runs left (PRs in scope, a standing done signal). */
int writes_new(const struct writes_options *opt, struct writes **out, struct buf *err);
void writes_free(struct writes *w); /* NULL-safe */

/*
 * Sends what was written to n (the whole new content). 0 or -errno:
 * -EINVAL malformed (nothing sent), -EACCES out of scope or refused by the
 * forge, -EIO the forge failed, -EEXIST the forge reports a conflict,
 * -EDQUOT pulls/new past max_prs (nothing sent). A pull request's body
 * keeps the receipt the daemon wrote (forge_render_pr_body).
 * reply (may be NULL) gets what reading the same open file shows after
 * (pulls/new: the new number and a newline).
 */
int writes_commit(struct writes *w, const struct node *n, const char *data, size_t len,
		  struct buf *reply, struct buf *err);

/*
 * The close-time check of what writes_commit would send to n, without
 * sending: 0, or -EINVAL with why in err (the reason writes_commit gives).
 * Pure; for tests and for judging content before it is committed.
 */
int writes_validate(const struct node *n, const char *data, size_t len, struct buf *err);

/*
 * Write-time judgement: can content that begins with what was written so
 * far still become valid by writing more at its end? A write() that makes
 * the answer "no" is refused at once (SEMANTICS.md "Errors at write()"),
 * so a shell sees the error that close() would only report to programs
 * that check it. Never refuses a prefix of content writes_validate
 * accepts: an incomplete UTF-8 character at the end, `ope` (may become
 * `open`), `{` (may start a JSON done signal), `succ` are all fine. What is
 * judged: UTF-8 and NUL bytes everywhere; title one line without control
 * characters; state open or closed; the first line of a text done signal.
 * JSON (pulls/new, a JSON done) is judged at close only.
 *
 * Incremental, so judging costs O(bytes written), not O(content) per
 * write: the judge remembers how far it got and its scanner state. Pure,
 * no locks: the caller serialises calls on one judge.
 */
struct writes_judge {
	int what;	/* which rules apply (writes.c) */
	size_t at;	/* data[0, at) was judged: it can still become valid */
	size_t whole;	/* data[0, whole) is whole UTF-8 characters */
	unsigned phase; /* the field's scanner state */
	unsigned word;	/* the status or state word being matched */
	unsigned k;	/* how many of its letters were matched */
};

/* A judge for content written to n from empty. */
void writes_judge_init(struct writes_judge *j, const struct node *n);
/*
 * Judges data[j->at, len): data[0, j->at) must be what the previous call
 * judged (unchanged) and len >= j->at. 0 and j->at = len, or -EINVAL with
 * why in err (j is then left as it was).
 */
int writes_judge_more(struct writes_judge *j, const char *data, size_t len, struct buf *err);
/* Judges data[0, len) from scratch: writes_judge_init + writes_judge_more. */
int writes_prefix_ok(const struct node *n, const char *data, size_t len, struct buf *err);

/*
 * Finishes the journal entries a run of this mount's assignment left
 * unanswered (done, or failed with the reason). Entries of other
 * assignments are left for a daemon holding theirs; entries the forge
 * could not be asked about (-EIO) stay for the next start, each named in
 * err. Returns how many were finished, or -errno.
 */
int writes_recover(struct writes *w, struct buf *err);

/* What /done shows: the signal that stands, or nothing. */
int writes_done_text(struct writes *w, struct buf *out);

#endif
