/*
 * write: everything a write through the mount does, without FUSE and
 * without the namespace (SPEC sections 3, 5 and 6): what may be written
 * (the scope), what a write may hold (validation at close, judgement at
 * write), the journal, sending, crash recovery, the done signal and its
 * queue, and the log of outcomes /.bottlefs/log shows.
 *
 * write/ does not know the tree's nodes: the tree translates a node into a
 * write_target (what is written where) and asks here. A write never
 * touches the read cache either: what it changed on the forge is told to
 * write_options.changed, which the tree turns into forgetting.
 *
 *   scope.c     the scope policy: which targets are writable
 *   validate.c  the close-time rules (fields, comments, pulls/new, done)
 *   judge.c     the write-time judgement (can this prefix still be valid?)
 *   write.c     write_new, write_commit: one write from journal to outcome
 *   journal.c   journaling, provenance, the pull request slots
 *   recover.c   finishing what a dead daemon left unanswered
 *   signal.c    the done signal: queueing it, the one that stands
 *   prnew.c, done.c, queue.c   the pulls/new request, the done parser, the
 *               queue directory (internal headers, for tests too)
 *   wlog.c      the outcome log
 *
 * Ownership: strings in a target are borrowed for the call. Errors are 0
 * or -errno with one lower-case line in err (may be NULL).
 */
#ifndef BOTTLEFS_WRITE_WRITE_H
#define BOTTLEFS_WRITE_WRITE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "forge/forge.h"
#include "state/state.h"
#include "util/buf.h"
#include "util/check.h"
#include "util/names.h"

/* ---- targets: what is written where ---- */

enum write_kind {
	WRITE_NONE,    /* nothing writable: why_not says why */
	WRITE_FIELD,   /* title, body, state or labels of an issue or pull request */
	WRITE_COMMENT, /* comments/new of an issue or pull request: a new comment */
	WRITE_PULL,    /* pulls/new of a repository: a new pull request */
	WRITE_DONE,    /* the done signal of the assignment */
};

enum write_field { WRITE_TITLE, WRITE_BODY, WRITE_STATE, WRITE_LABELS };

struct write_target {
	enum write_kind kind;
	const char *owner, *repo; /* FIELD, COMMENT, PULL */
	bool pull;		  /* FIELD, COMMENT: of a pull request, not an issue */
	uint64_t number;	  /* FIELD, COMMENT */
	enum write_field field;	  /* FIELD */
	const char *path;	  /* the file written, as /.bottlefs/log shows it */
	const char *why_not;	  /* NONE: why nothing may be written there (static) */
};

/* "title", "body", "state", "labels". */
const char *write_field_name(enum write_field f);

/* What one open file may hold before it is sent (pulls/new is larger: a summary is cut later). */
#define WRITE_FILE_MAX ((size_t)1 << 20)
#define WRITE_PULL_MAX ((size_t)4 << 20)
/* The cap for a target: WRITE_PULL_MAX for pulls/new, else WRITE_FILE_MAX. */
size_t write_target_max(const struct write_target *t);

/* ---- the scope: what this mount may write ---- */

/*
 * Writable, and nothing else: the assigned issue's title, body, state,
 * labels and comments/new; pulls/new of the assigned repository; the same
 * files of every pull request opened through this mount for the
 * assignment; the done signal while none stands. Without an assignment
 * nothing is writable. Pure decisions: the tree, access() and the unit
 * tests ask the same functions.
 *
 * Thread-safety: the PR set grows while the mount runs; scope.lock guards
 * it. Every function may be called from many threads; the assignment is
 * set once, before any other call.
 */
struct scope {
	bool assigned;
	char owner[NAMES_OWNER_MAX + 1];
	char repo[NAMES_REPO_MAX + 1];
	uint64_t issue;
	pthread_mutex_t lock;
	uint64_t *prs; /* opened through this mount; lock */
	size_t n_prs;  /* lock */
	bool done;     /* a done signal stands; lock */
	/* --push-branches patterns (set before any other call; none: bottle/<issue>-*). */
	char **push_globs;
	size_t n_push_globs;
	/*
	 * The lease on the assignment (below), set once before any write;
	 * NULL: this mount always holds it (a SQLite state store: one machine).
	 */
	struct lease *lease;
};

/* An unassigned (read-only) scope. */
void scope_init(struct scope *s);
void scope_release(struct scope *s);

/* Parses "OWNER/REPO#N" into s. 0, or -EINVAL with the reason in err. */
MUST_CHECK int scope_assign(struct scope *s, const char *assign, struct buf *err);

/* Adds a pull request opened for the assignment (idempotent). 0 or -ENOMEM. */
MUST_CHECK int scope_add_pr(struct scope *s, uint64_t pr);
/* Copies the PR numbers (new array, may be NULL when *n is 0). 0 or -ENOMEM. */
MUST_CHECK int scope_prs(struct scope *s, uint64_t **prs, size_t *n);
void scope_set_done(struct scope *s);
bool scope_is_done(struct scope *s);

/*
 * 0 when a write to t is in scope; otherwise -EACCES, with why (one
 * lower-case line) appended to err when given.
 */
MUST_CHECK int scope_check(struct scope *s, const struct write_target *t, struct buf *err);

/* True when owner/repo's issue (pull false) or pull request number is writable. */
bool scope_item_writable(struct scope *s, const char *owner, const char *repo, bool pull,
			 uint64_t number);

/* ---- the lease: one writer per assignment (lease.c) ---- */

/*
 * On a shared state store (PostgreSQL) a daemon writes its assignment only
 * while it holds the assignment's lease (state_lease_take: expiry by the
 * database's clock). lease_new takes it once; lease_start renews it every
 * ttl/3 from a thread of its own (call it after the daemon forked into
 * the background). A daemon that finds the lease held by another is
 * read-only until that lease expires; it then takes it over, loads what
 * the other left (the pull requests, a standing done signal) and finishes
 * the assignment's unanswered writes (write_recover). A daemon that
 * learns the lease was taken stops writing at once. A daemon that cannot
 * reach the database judges by its own clock: its writes fail EIO (the
 * journal cannot be written) until its lease would have expired, then
 * EROFS until it takes the lease again.
 *
 * Thread-safety: every function may be called from many threads once
 * lease_new returned; lease_free is called once, after the last write.
 */
#define WRITE_LEASE_DEFAULT 30

struct lease;

struct lease_options {
	struct state *state; /* borrowed: the shared store */
	struct scope *scope; /* borrowed: assigned; its lease is set to the new lease */
	unsigned ttl_s;	     /* 0: WRITE_LEASE_DEFAULT */
	struct wlog *log;    /* borrowed, may be NULL: taking over and losing are logged */
};

/* Takes the lease once (held or not); 0, -EINVAL unassigned, -ENOMEM. */
MUST_CHECK int lease_new(const struct lease_options *o, struct lease **out, struct buf *err);
/* The renewing thread. 0 or -errno. */
MUST_CHECK int lease_start(struct lease *l);
/* Stops the thread and gives the lease up when held. NULL-safe. */
void lease_free(struct lease *l);
/*
 * May this mount write now? 0; -EROFS (another holds the lease, or it
 * expired while the database was away) or -EIO (the database cannot be
 * reached to confirm it), with the reason in err. NULL: 0. Renews the
 * lease while asking, so it is bounded by the store's timeout.
 */
MUST_CHECK int lease_may_write(struct lease *l, struct buf *err);
/* True when this mount holds the lease (NULL: true). */
bool lease_held(struct lease *l);
/* One or two lines for .bottlefs/scope: who holds the lease, what that means. NULL: nothing. */
MUST_CHECK int lease_describe(struct lease *l, struct buf *out);

/* ---- the outcome log (/.bottlefs/log) ---- */

/*
 * The last write outcomes of one mount, which /.bottlefs/log shows to the
 * agent (SEMANTICS.md), so that a refusal a shell never reported (close()
 * errors are ignored by `echo >`) can still be found.
 *
 * A ring of WLOG_LINES lines, oldest first, one line per outcome:
 *
 *     TIME<TAB>PATH<TAB>RESULT<TAB>DETAIL<LF>
 *
 * TIME is UTC (2025-01-31T12:00:00Z), PATH the file written in the mount,
 * RESULT "ok" or the errno name ("EINVAL"), DETAIL what the forge created
 * ("comment 42", "pull 7"; may be empty) or, for an error, the reason in
 * words. Every field is escaped: control bytes, backslashes and bytes that
 * are not valid UTF-8 become visible escapes (\n, \t, \\, \x1b), so no
 * content an agent chose can split a line or reach a terminal as an escape
 * sequence. A line is cut at WLOG_LINE_MAX bytes on a character boundary.
 * The log never sees the token: callers pass paths and reasons, which
 * never hold it (STYLE habit 8).
 *
 * Thread-safety: every function may be called from many threads (one
 * mutex, held only to copy lines in or out).
 */
#define WLOG_LINES 100
#define WLOG_LINE_MAX 1024

struct wlog;

/* 0 and *out, or -ENOMEM. */
MUST_CHECK int wlog_new(struct wlog **out);
void wlog_free(struct wlog *l); /* NULL-safe */

/*
 * Records one outcome: r is 0 or -errno; detail (may be NULL) is the
 * forge's id of what was created, or the reason for an error. l may be
 * NULL (nothing is recorded). Never fails: a line that cannot be built is
 * dropped.
 */
void wlog_add(struct wlog *l, const char *path, int r, const char *detail);
/* The same at a given time (tests). */
void wlog_add_at(struct wlog *l, time_t when, const char *path, int r, const char *detail);

/* Appends every line, oldest first. 0 or -errno. */
MUST_CHECK int wlog_text(struct wlog *l, struct buf *out);

/* ---- the write path ---- */

/*
 * Every write is journaled in the state store before it is sent, with
 * the assignment it is made under, marked sending, then done or failed
 * with the forge's answer and what the forge created (comment id, PR
 * number), and logged in the provenance log and the outcome log. A
 * journal entry still pending or sending when the daemon starts was never
 * answered to the agent: write_recover() finishes the entries of this
 * mount's assignment, and only those, exactly once, looking on the forge
 * first for a comment or pull request that may have landed before the
 * daemon died and claiming it only when it is provably the write's (the
 * token's own user made it, after the write, and nothing else accounts
 * for it: see recover.c). A write whose failure was reported at close()
 * is marked failed and never resent (the agent owns the retry); its
 * content stays in the journal.
 *
 * Thread-safety: write_commit may run on many threads; the modules below
 * are thread-safe and write.lock orders done signals and pull request
 * slots.
 */
struct write;

/* Pull requests one assignment may open when write_options.max_prs is 0. */
#define WRITE_MAX_PRS_DEFAULT 10

/*
 * What a write changed on the forge, told after it was sent: the issue
 * (pull 0), the pull request (pull 1) or either (pull -1: recovery does not
 * know which) numbered number in owner/repo, or with number 0 the lists of
 * owner/repo (a new item). ud is write_options.changed_ud.
 */
typedef void (*write_changed_fn)(void *ud, const char *owner, const char *repo, int pull,
				 uint64_t number);

struct write_options {
	struct forge *forge; /* borrowed */
	struct state *state; /* borrowed */
	struct scope *scope; /* borrowed: grows with opened PRs */
	/*
	 * Borrowed. The orchestrator's queue directory (cli/queue.c reads it):
	 * one accepted done signal is one file
	 * "<YYYYMMDDTHHMMSSZ>-<owner>-<repo>-<issue>-<16 hex>.json" holding
	 * {"owner", "repo", "issue", "status", "summary", "time",
	 * "pull_requests"}, written to a hidden ".tmp-" name, fsynced and
	 * renamed; names starting with '.' are not ready items.
	 */
	const char *queue_dir;
	/*
	 * Borrowed, may be NULL. A queue in a shared state store (--queue
	 * postgresql://...): each signal is one row of the same JSON
	 * (queue_push), and queue_dir is not used.
	 */
	struct state *queue_state;
	struct wlog *log; /* borrowed, may be NULL: every commit's outcome */
	/*
	 * The most pull requests the assignment may have opened through the
	 * mount (the state store's list, in flight ones counted): the next
	 * pulls/new is -EDQUOT and sends nothing. 0: WRITE_MAX_PRS_DEFAULT.
	 */
	unsigned max_prs;
	write_changed_fn changed; /* may be NULL */
	void *changed_ud;
	/*
	 * Pushing (push.c). spool_dir: the daemon's own directory where
	 * bundles being written are spooled (made 0700; NULL: pushing is
	 * off, every branch is read-only). push_max: what one bundle may
	 * hold (--push-max, 0: 200 MiB); push_max_object: one object once
	 * inflated (--push-max-object, 0: 50 MiB); push_timeout_ms: the bound
	 * on one push (0: 60 s).
	 */
	const char *spool_dir;
	uint64_t push_max, push_max_object;
	unsigned push_timeout_ms;
};

/* Loads what earlier runs left (PRs in scope, a standing done signal). */
MUST_CHECK int write_new(const struct write_options *opt, struct write **out, struct buf *err);
void write_free(struct write *w); /* NULL-safe */

/*
 * Sends what was written to t (the whole new content). 0 or -errno:
 * -EINVAL malformed (nothing sent), -EACCES out of scope or refused by the
 * forge, -EIO the forge failed, -EEXIST the forge reports a conflict,
 * -EDQUOT pulls/new past max_prs (nothing sent). A pull request's body
 * keeps the receipt the daemon wrote (forge_render_pr_body). reply (may be
 * NULL) gets what reading the same open file shows after (pulls/new: the
 * new number and a newline). The outcome is one line in opt.log.
 */
MUST_CHECK int write_commit(struct write *w, const struct write_target *t, const char *data,
			    size_t len, struct buf *reply, struct buf *err);

/*
 * The close-time check of what write_commit would send to t, without
 * sending: 0, or -EINVAL with why in err (the reason write_commit gives);
 * -EACCES for a target that is not written. Pure.
 */
MUST_CHECK int write_validate(const struct write_target *t, const char *data, size_t len,
			      struct buf *err);

/*
 * Write-time judgement: can content that begins with what was written so
 * far still become valid by writing more at its end? A write() that makes
 * the answer "no" is refused at once (SEMANTICS.md "Errors at write()"),
 * so a shell sees the error that close() would only report to programs
 * that check it. Never refuses a prefix of content write_validate
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
struct write_judge {
	int what;	/* which rules apply (judge.c) */
	size_t at;	/* data[0, at) was judged: it can still become valid */
	size_t whole;	/* data[0, whole) is whole UTF-8 characters */
	unsigned phase; /* the field's scanner state */
	unsigned word;	/* the status or state word being matched */
	unsigned k;	/* how many of its letters were matched */
};

/* A judge for content written to t from empty (nothing is judged for WRITE_NONE). */
void write_judge_init(struct write_judge *j, const struct write_target *t);
/*
 * Judges data[j->at, len): data[0, j->at) must be what the previous call
 * judged (unchanged) and len >= j->at. 0 and j->at = len, or -EINVAL with
 * why in err (j is then left as it was).
 */
MUST_CHECK int write_judge_more(struct write_judge *j, const char *data, size_t len,
				struct buf *err);
/* Judges data[0, len) from scratch: write_judge_init + write_judge_more. */
MUST_CHECK int write_prefix_ok(const struct write_target *t, const char *data, size_t len,
			       struct buf *err);

/*
 * Finishes the journal entries a run of this mount's assignment left
 * unanswered (done, or failed with the reason). Entries of other
 * assignments are left for a daemon holding theirs; entries the forge
 * could not be asked about (-EIO) stay for the next start, each named in
 * err. Returns how many were finished, or -errno.
 */
MUST_CHECK int write_recover(struct write *w, struct buf *err);

/* What /done shows: the signal that stands, or nothing. 0 or -errno from out. */
MUST_CHECK int write_done_text(struct write *w, struct buf *out);

/* ---- pushing a branch (push.c) ---- */

/*
 * The push policy: only the assigned repository; only branches matching
 * bottle/<issue>-* (at least one character after the dash) or, with
 * --push-branches, one of those patterns instead (fnmatch, '*' matching
 * '/' too); or the head branch of a pull request this mount opened
 * (asked of the forge). Never tags or other refs (only branch names reach
 * here), never a delete, never a non-fast-forward (the adapter's check).
 * scope_add_push_glob adds a --push-branches pattern (-EINVAL for one that
 * is empty, over 255 bytes, holds a control byte, or starts with '/' or
 * refs/); call before the mount serves.
 */
MUST_CHECK int scope_add_push_glob(struct scope *s, const char *glob, struct buf *err);
void scope_release_push(struct scope *s);
/* The patterns, one a line ("bottle/12-*"), appended to out; nothing when unassigned. */
MUST_CHECK int scope_push_patterns(const struct scope *s, struct buf *out);
/* 0 when a push to owner/repo's branch is in policy, else -EACCES with why. */
MUST_CHECK int write_push_allowed(struct write *w, const char *owner, const char *repo,
				  const char *branch, struct buf *err);
/*
 * Whether dir ("bottle", "feature/x") is a directory the policy lets an
 * agent push into (a pattern's leading components match it), so the tree
 * shows it even with no branch there yet.
 */
bool write_push_dir(struct write *w, const char *owner, const char *repo, const char *dir);
/* Whether branch matches the policy's patterns (no forge request; mode bits). */
bool write_push_matches(struct write *w, const char *owner, const char *repo, const char *branch);

/*
 * The spool: what an agent writes to branches/<name> (or <name>.lock),
 * held in a file under opt.spool_dir, not in memory, bounded by push_max
 * (a write past it is -EFBIG and poisons the spool: nothing is ever
 * pushed), with no text checks. Its bundle is checked as it grows
 * (forge_bundle_check_fd). One lock a spool: any thread, any handle.
 * write_spool_free deletes the file.
 */
struct write_spool;
/* owner/repo/branch: where it is written (a .lock's branch without .lock), for the journal. */
MUST_CHECK int write_spool_new(struct write *w, const char *owner, const char *repo,
			       const char *branch, struct write_spool **out, struct buf *err);
/* A write at off (at the end with append): the count, or -EFBIG / -EIO / the poison. */
MUST_CHECK int write_spool_write(struct write *w, struct write_spool *sp, const char *in,
				 size_t size, uint64_t off, bool append);
MUST_CHECK int write_spool_truncate(struct write_spool *sp, uint64_t size);
MUST_CHECK int write_spool_read(struct write_spool *sp, char *out, size_t size, uint64_t off);
uint64_t write_spool_size(struct write_spool *sp);
/*
 * A flush (close(), fsync) of the spool: 0 while the bundle is incomplete
 * (git writes it in two goes), or, once, at the first flush that finds it
 * complete (a valid pack trailer) with push set, the push's answer
 * (write_push), which every later flush repeats. A malformed bundle or
 * one over a cap is answered at once (-EINVAL, -EFBIG) and never pushed.
 * at is the path /.bottlefs/log shows.
 */
MUST_CHECK int write_spool_flush(struct write *w, struct write_spool *sp, const char *owner,
				 const char *repo, const char *branch, const char *at, bool push,
				 struct buf *err);
/* Whether the spool's push was made or refused (its answer stands). */
bool write_spool_pushed(struct write_spool *sp);
/*
 * The last reference is gone: a bundle written but never pushed (still
 * incomplete, or poisoned) is recorded as a failed push in the journal and
 * in /.bottlefs/log under at (NULL: not recorded: the agent deleted it).
 * NULL-safe.
 */
void write_spool_free(struct write *w, struct write_spool *sp, const char *at);

/*
 * Pushes the complete bundle at bundle_path to owner/repo's branch: the
 * policy again, then the adapter's push_branch (forge.h: its checks, the
 * old-value lease, within push_timeout_ms), journaled ("push", the branch,
 * "<old or -> <new>") right before anything is sent, the outcome in the
 * journal and /.bottlefs/log (under at, NULL: the branch's path). 0, or
 * -EACCES (policy, forge refused), -EINVAL (malformed, not one branch
 * ref), -ENOENT (a commit it needs is not on the forge), -EPERM (not a
 * fast-forward), -EFBIG (a cap), -EIO (the forge failed).
 */
MUST_CHECK int write_push(struct write *w, const char *owner, const char *repo, const char *branch,
			  const char *bundle_path, const char *at, struct buf *err);

#endif
