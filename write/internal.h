/*
 * write/internal: what the files of the write path share (write.h is the
 * API). Not for other folders.
 */
#ifndef BOTTLEFS_WRITE_INTERNAL_H
#define BOTTLEFS_WRITE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/check.h"
#include "write/done.h"
#include "write/prnew.h"
#include "write/queue.h"
#include "write/write.h"

struct write {
	struct write_options opt;
	pthread_mutex_t lock; /* orders done signals and pull request slots */
	char *done_text;      /* the standing signal as /done shows it; lock */
	unsigned prs_opening; /* pulls/new being sent now (max_prs counts them); lock */
};

/* ---- validate.c ---- */

/* -EINVAL, with fmt (one %s: what) appended to err when given. */
int write_invalid(struct buf *err, const char *fmt, const char *what);
/*
 * The title's character rule, shared by the close-time check and the
 * write-time judge so they cannot disagree: no control character, tab
 * and C1 controls included (str_has_control).
 */
bool write_title_has_control(const char *s, size_t n);
/*
 * Checks what an agent wrote to a field; the text to send in *text (new).
 * A state is one of open, closed, draft, ready: who may use which is
 * write_check_target_field's.
 */
MUST_CHECK int write_check_field(enum write_field field, const char *data, size_t len, char **text,
				 struct buf *err);
/*
 * write_check_field for a target: a pull request's state may also be
 * "draft" or "ready" (write_send_field sends those as update_pr_status);
 * an issue's may not.
 */
MUST_CHECK int write_check_target_field(const struct write_target *t, const char *data, size_t len,
					char **text, struct buf *err);
/* Checks what an agent wrote to comments/new; the comment to post in *text (new). */
MUST_CHECK int write_check_comment(const char *data, size_t len, char **text, struct buf *err);

/* ---- journal.c: one write from journal to outcome ---- */

/*
 * Journals the write, sends it with send(), and records the outcome: the
 * common path of every forge write.
 */
struct job {
	const char *kind, *field, *owner, *repo, *payload;
	uint64_t number;
	uint64_t forge_id; /* what the forge created (comment id, PR number), once known */
	char at[NAMES_OWNER_MAX + NAMES_REPO_MAX + 40];
};

/*
 * Journals the write (committed before this returns) and marks it sending:
 * nothing is sent that could not be journaled first (-EIO).
 */
MUST_CHECK int journal_begin(struct write *w, const struct job *j, int64_t *id, struct buf *err);
/* Marks the entry done or failed with the answer, and logs the provenance. */
void journal_end(struct write *w, const struct job *j, int64_t id, int r, const char *answer,
		 const struct buf *err);
/* "owner/repo/issues/N" or ".../pulls/N": where a write to an item is journaled. */
void journal_place(const char *owner, const char *repo, bool pull, uint64_t number, char *out,
		   size_t size);
/* create_pr's floor callback: journals the floor before the request is sent. */
struct floor_ctx {
	struct state *st;
	int64_t id;
};
/* create_pr's floor callback (forge.h): journals the floor before the request is sent. */
int journal_floor(void *ud, uint64_t max_number);

/* ---- write.c ---- */

/* Sends one journaled field change (field "title", "body", "state" or "labels"). */
MUST_CHECK int write_send_field(struct write *w, const char *owner, const char *repo,
				uint64_t number, const char *field, const char *text,
				struct buf *err);
/* push.c: finishes a journaled push (never pushes again). -ECANCELED: not pushed. */
MUST_CHECK int write_recover_push(struct write *w, const struct journal_entry *e, char *answer,
				  size_t size, struct buf *why);
/* Tells opt.changed (when set) what a write changed on the forge. */
void write_changed(struct write *w, const char *owner, const char *repo, int pull, uint64_t number);

/* ---- signal.c ---- */

/* The /done write: parsed, journaled, queued, standing. w->lock not held. */
MUST_CHECK int write_done(struct write *w, const char *data, size_t len, struct buf *err);
/*
 * Puts a done signal in the queue and makes it the one that stands (what
 * /done shows, kept in the state store across restarts). On success takes
 * *text (what /done shows) and gives the queue file's name in *name (new);
 * *note (may stay NULL) says, for the journal, what could not be recorded.
 * The one path of a signal, for a write and for its recovery. w->lock held.
 */
MUST_CHECK int signal_queue(struct write *w, const struct done_signal *sig, char **text,
			    char **name, char **note, struct buf *err);

/* ---- pull request slots (journal.c) ---- */

/*
 * Takes one of the assignment's max_prs pull request slots (those opened,
 * in the state store, and those being opened now), or -EDQUOT: many
 * writers at once cannot pass the limit together.
 */
MUST_CHECK int pr_slot_take(struct write *w, struct buf *err);
/*
 * Gives the slot back; number, when the pull request was opened, enters
 * the state store in the same critical section, so no count in between
 * sees it twice (in the store and in flight) or not at all. 0, or the
 * state store's -errno for number (the slot is back either way).
 */
MUST_CHECK int pr_slot_give(struct write *w, uint64_t number);

/* ---- lease.c ---- */

/*
 * The write a takeover loads and recovers for (write_new binds it,
 * write_free unbinds it before it is gone). NULL-safe on l.
 */
void lease_bind(struct lease *l, struct write *w);

#endif
