/*
 * writes: everything a write through the mount does once the file is
 * closed (SPEC sections 3, 5 and 6), without FUSE.
 *
 * Every write is journaled in the state store before it is sent, marked
 * sending, then done or failed with the forge's answer, and logged in the
 * provenance log. A journal entry still pending or sending when the daemon
 * starts was never answered to the agent: writes_recover() finishes it
 * exactly once, looking on the forge first for a comment or pull request
 * that may have landed before the daemon died. A write whose failure was
 * reported at close() is marked failed and never resent (the agent owns
 * the retry); its content stays in the journal.
 *
 * Thread-safety: writes_commit may run on many threads; the modules below
 * are thread-safe and w->lock orders done signals.
 */
#ifndef BOTTLEFS_FS_WRITES_H
#define BOTTLEFS_FS_WRITES_H

#include <stddef.h>

#include "forge/forge.h"
#include "fs/scope.h"
#include "fs/tree.h"
#include "fs/view.h"
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

/* Finishes journal entries left by a run that died. Returns how many, or -errno. */
int writes_recover(struct writes *w, struct buf *err);

/* What /done shows: the signal that stands, or nothing. */
int writes_done_text(struct writes *w, struct buf *out);

#endif
