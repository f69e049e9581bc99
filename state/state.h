/*
 * state: the durable records of bottlefs (SPEC section 6), on one of two
 * engines: a SQLite file (state_open, the default) or a PostgreSQL
 * database many daemons share (state_open_url with a postgresql:// URL;
 * the engine is libpq, in state/pg/). Every function below works on both
 * unless it says otherwise; the content cache is SQLite only (it stays on
 * each machine). PostgreSQL adds two tables the fleet needs: the lease on
 * an assignment and the queue of done signals.
 *
 * On PostgreSQL every call is bounded by the timeout given at open: a
 * database that is away or does not answer makes the call -EIO within
 * it (never a hang), and the next call connects again. The schema is kept
 * in a table bottlefs_schema with the same version numbers as SQLite's.
 *
 * Storage only, one table a file: the orchestrator's forge state records
 * (records.c), the pull requests each assignment opened (prs.c), the write
 * journal (journal.c: every write is journaled before it is sent, so
 * nothing an agent wrote is lost and nothing is posted twice), the
 * provenance log of every write made through the mount, never the token
 * (provenance.c), the done signal that stands per assignment (signals.c),
 * and a persistent content cache for the forge cache (cache.c); db.c opens
 * and migrates the file. What the rows mean is the writers' business
 * (write/, cache/); this module keeps them.
 *
 * On disk: WAL mode, synchronous=FULL (a committed transaction survives a
 * crash or power loss, which the journal's "durably committed before
 * return" relies on), foreign keys on, busy_timeout 5 s (the `bottlefs
 * state` subcommand may open the same file while the daemon runs), schema
 * versioned with PRAGMA user_version (STATE_SCHEMA_VERSION; a newer file is
 * refused with -EPROTO; an older one is migrated in place, in one
 * transaction, keeping its rows). state_open creates missing parent directories with
 * mode 0700 and the database file with mode 0600; an existing file with
 * group or world bits is tightened to 0600, because the journal keeps what
 * the agent wrote. SQLite gives the -wal and -shm files the database's mode.
 *
 * Errors: every function returns 0 (or a count where said) or -errno; SQLite
 * result codes are mapped to errno in one table (state.c, state_errno):
 *   -ENOENT  the row does not exist
 *   -EINVAL  a bad argument (NULL/empty key, issue 0 or > INT64_MAX,
 *            invalid JSON, unknown status)
 *   -EBUSY   the database stayed locked past busy_timeout
 *   -EEXIST  a constraint was violated
 *   -EIO/-ENOSPC/-EROFS/-EACCES/-ENOMEM  as the names say
 *   -EBADMSG the file is not a database or is corrupt
 *   -EPROTO  the schema version is newer than this build knows
 * Out-parameters are written only on success.
 *
 * Ownership: strings passed in are borrowed for the call. Every string or
 * array handed out is new (free() it, or use the _release/_free helpers).
 * Strings given to callbacks are borrowed for the duration of the callback.
 *
 * Thread-safety: one struct state is one SQLite connection (opened with
 * SQLITE_OPEN_NOMUTEX) guarded by one recursive mutex, st->lock; every
 * function takes it for its whole duration, so any function may be called
 * from many threads at once. Callbacks (state_record_all,
 * state_provenance_each, state_journal_each) run with the lock held: they
 * may call back into the same store from the same thread, but they stall
 * other threads meanwhile, so keep them short. A non-zero return from a
 * callback stops the walk and is returned.
 */
#ifndef BOTTLEFS_STATE_H
#define BOTTLEFS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/check.h"

#define STATE_SCHEMA_VERSION 4

/*
 * The answer of an unfinished journal row written by schema version 1 that
 * the migration to version 2 marks failed: it had no assignment and its
 * target does not tell whose it was without doubt (state.c, migrate_v2).
 */
#define STATE_LEGACY_UNATTRIBUTED                                                                  \
	"not finished: journaled by a bottlefs that did not record the assignment of a write,"     \
	" and this write cannot be attributed to one without doubt; nothing was sent again"

struct state;

/*
 * Opens (creating if missing) the database at path. On failure a one-line
 * reason quoting the path is appended to err (may be NULL).
 */
MUST_CHECK int state_open(const char *path, struct state **out, struct buf *err);
/*
 * Opens url: a postgresql:// (or postgres://) URL is a PostgreSQL store
 * (connected, schema created or migrated; every later call bounded by
 * timeout_ms, 0 meaning 10 s); anything else is a SQLite path
 * (state_open). The reason of a failure goes to err, never the password.
 */
MUST_CHECK int state_open_url(const char *url, unsigned timeout_ms, struct state **out,
			      struct buf *err);
void state_free(struct state *st); /* NULL-safe */
/* True for a postgresql:// or postgres:// URL. Pure. */
bool state_url_is_pg(const char *url);
/* True when the store is shared between machines (PostgreSQL). */
bool state_shared(const struct state *st);

/*
 * Forge state records of the orchestrator, keyed (owner, repo, issue);
 * the value is any JSON text (validated with jansson: invalid or duplicate
 * keys -> -EINVAL) and is stored as given. Owner and repo are any
 * non-empty strings; issue is 1..INT64_MAX.
 */
MUST_CHECK int state_record_upsert(struct state *st, const char *owner, const char *repo,
				   uint64_t issue, const char *json);
/* *json is new. -ENOENT when absent. */
MUST_CHECK int state_record_get(struct state *st, const char *owner, const char *repo,
				uint64_t issue, char **json);
/* -ENOENT when absent. */
MUST_CHECK int state_record_delete(struct state *st, const char *owner, const char *repo,
				   uint64_t issue);
/* Ordered by owner, repo, issue. */
MUST_CHECK int state_record_all(struct state *st,
				int (*cb)(void *ud, const char *owner, const char *repo,
					  uint64_t issue, const char *json),
				void *ud);

/*
 * Pull requests opened per assignment (owner/repo#issue). Adding the same
 * number twice is not an error and keeps one row.
 */
MUST_CHECK int state_pr_add(struct state *st, const char *owner, const char *repo, uint64_t issue,
			    uint64_t pr);
/* *prs is a new array (NULL when *n is 0), ascending. */
MUST_CHECK int state_pr_list(struct state *st, const char *owner, const char *repo, uint64_t issue,
			     uint64_t **prs, size_t *n);
/*
 * The assignments (their issue numbers in owner/repo) whose lists hold pull
 * request pr: who opened it, as far as this store knows. *issues is a new
 * array (NULL when *n is 0), ascending.
 */
MUST_CHECK int state_pr_holders(struct state *st, const char *owner, const char *repo, uint64_t pr,
				uint64_t **issues, size_t *n);

/* The write journal: each write is journaled before it is sent. */
enum journal_status { JOURNAL_PENDING, JOURNAL_SENDING, JOURNAL_DONE, JOURNAL_FAILED };
struct journal_entry {
	int64_t id;
	char *kind; /* "comment", "patch", "labels", "create_pr", ... */
	char *owner, *repo;
	uint64_t number; /* issue/PR number (0 for create_pr) */
	char *field;	 /* "title", "body", ... or NULL */
	char *payload;	 /* what the agent wrote (exact bytes as text) */
	char *marker; /* an idempotency marker the sender can look for on the forge, may be NULL */
	enum journal_status status;
	char *answer;	 /* forge's answer summary, may be NULL */
	int64_t created; /* unix seconds */
	/*
	 * The assignment (owner/repo#issue) the write was made under: only a
	 * daemon holding that assignment finishes it. NULL/NULL/0 for a row
	 * nobody may finish (finished rows from schema version 1).
	 */
	char *assign_owner, *assign_repo;
	uint64_t assign_issue;
	/* What the forge created for the write: comment id or PR number; 0 none (yet). */
	uint64_t forge_id;
	/*
	 * create_pr: the highest issue or PR number the repository had just
	 * before the request was sent (has_floor false: unknown). A pull
	 * request this write opened has a greater number.
	 */
	bool has_floor;
	uint64_t floor;
};
/*
 * Journals e (kind, owner, repo, payload required; the assignment is all
 * of assign_owner, assign_repo, assign_issue >= 1 or none of them; e->id
 * and e->status are ignored: the new entry is PENDING; e->created 0 means
 * now) and writes the new id. The transaction is committed with
 * synchronous=FULL before this returns, so the entry survives a crash
 * right after.
 */
MUST_CHECK int state_journal_add(struct state *st, const struct journal_entry *e, int64_t *id);
/* Any status may follow any other; answer (may be NULL) replaces the old one. -ENOENT. */
MUST_CHECK int state_journal_set(struct state *st, int64_t id, enum journal_status status,
				 const char *answer);
/* The same, and records forge_id (0 keeps the one recorded) in the same statement. */
MUST_CHECK int state_journal_finish(struct state *st, int64_t id, enum journal_status status,
				    const char *answer, uint64_t forge_id);
/* Records the floor of entry id (see struct journal_entry). -ENOENT. */
MUST_CHECK int state_journal_set_floor(struct state *st, int64_t id, uint64_t floor);
/*
 * How many entries of this kind in owner/repo, other than except_id,
 * recorded forge_id as what the forge created for them: a forge object
 * with a count above 0 is accounted for and may not be claimed again.
 * *by (may be NULL) gets the oldest such entry's id, 0 when none.
 */
MUST_CHECK int state_journal_claims(struct state *st, const char *kind, const char *owner,
				    const char *repo, uint64_t forge_id, int64_t except_id,
				    int64_t *by);
/* PENDING or SENDING entries, oldest first; *v new (NULL when *n is 0). */
MUST_CHECK int state_journal_unfinished(struct state *st, struct journal_entry **v, size_t *n);
/* Fills *out (new strings; release with state_journal_entry_release). -ENOENT. */
MUST_CHECK int state_journal_get(struct state *st, int64_t id, struct journal_entry *out);
/* Every entry, oldest first; e is borrowed for the callback. */
MUST_CHECK int state_journal_each(struct state *st,
				  int (*cb)(void *ud, const struct journal_entry *e), void *ud);
void state_journal_entry_release(struct journal_entry *e); /* NULL-safe, frees the strings */
void state_journal_list_free(struct journal_entry *v, size_t n);
/* "pending", "sending", "done", "failed" (static), or NULL when out of range. */
const char *journal_status_name(enum journal_status s);

/*
 * Provenance log: every write through the mount (what, where, the forge's
 * answer; when is set to now, unix seconds). Never give it the token.
 * what and where are required, answer may be NULL.
 */
MUST_CHECK int state_provenance_add(struct state *st, const char *what, const char *where,
				    const char *answer);
/* Oldest first (by id). answer may be NULL in the callback. */
MUST_CHECK int state_provenance_each(struct state *st,
				     int (*cb)(void *ud, int64_t id, int64_t when, const char *what,
					       const char *where, const char *answer),
				     void *ud);

/*
 * The done signal that stands for an assignment (owner/repo#issue): text is
 * what /done shows. put replaces; get is -ENOENT when none stands.
 */
MUST_CHECK int state_done_put(struct state *st, const char *owner, const char *repo, uint64_t issue,
			      const char *text);
/* *text is new. */
MUST_CHECK int state_done_get(struct state *st, const char *owner, const char *repo, uint64_t issue,
			      char **text);

/*
 * A persistent content cache for the forge cache: key -> blob + fetched time
 * (unix ms) + a tag string (may be NULL, e.g. an ETag). put replaces.
 */
MUST_CHECK int state_cache_put(struct state *st, const char *key, const void *data, size_t len,
			       int64_t fetched_ms, const char *tag);
/*
 * -ENOENT when absent. *data is new and has a NUL byte after its len bytes
 * (so text can be used directly); *tag is new or NULL. Any out-param may be
 * NULL when the caller does not want it.
 */
MUST_CHECK int state_cache_get(struct state *st, const char *key, void **data, size_t *len,
			       int64_t *fetched_ms, char **tag);
/* Deletes every key starting with prefix (byte-wise; "" deletes all). Returns the count. */
MUST_CHECK int state_cache_delete_prefix(struct state *st, const char *prefix);

/*
 * The lease on an assignment (owner/repo#issue): who may write it now.
 * take gives it to holder, or renews it, for ttl_s seconds by the
 * database's clock, when it is free, expired or already holder's: 0, with
 * *left_ms (may be NULL) the time it now has. When another holds it,
 * -EBUSY, *other (may be NULL; new) naming the holder and *left_ms its
 * time left. A SQLite store has one machine: take is always 0 (left
 * INT64_MAX). release gives it up when holder has it (0 either way).
 */
MUST_CHECK int state_lease_take(struct state *st, const char *owner, const char *repo,
				uint64_t issue, const char *holder, unsigned ttl_s, char **other,
				int64_t *left_ms);
MUST_CHECK int state_lease_release(struct state *st, const char *owner, const char *repo,
				   uint64_t issue, const char *holder);
/*
 * Does holder hold the lease, unexpired, now? 0 with *left_ms (may be
 * NULL) its time left; -ENOENT when not (expired, another's, or none:
 * take it to learn which). A read, no commit: cheap enough for every
 * write. SQLite: always 0.
 */
MUST_CHECK int state_lease_check(struct state *st, const char *owner, const char *repo,
				 uint64_t issue, const char *holder, int64_t *left_ms);

/*
 * The queue of done signals on PostgreSQL (a SQLite store: -ENOTSUP; its
 * queue is a directory, write/queue.c). push adds body (the signal's JSON)
 * for owner/repo#issue and wakes every waiter (NOTIFY bottlefs_signals);
 * *id (may be NULL) its number. take removes the oldest signal and gives
 * it: each signal is given to exactly one taker however many take at once
 * (FOR UPDATE SKIP LOCKED); -ENOENT when none is queued. each walks the
 * queue oldest first without taking. wait returns 0 as soon as a signal is
 * queued (at once when one already is), -ETIMEDOUT after timeout_ms (0:
 * no bound); it holds the store's lock meanwhile, so give it a store of
 * its own.
 */
MUST_CHECK int state_queue_push(struct state *st, const char *owner, const char *repo,
				uint64_t issue, const char *body, int64_t *id);
MUST_CHECK int state_queue_take(struct state *st, int64_t *id, char **body);
MUST_CHECK int state_queue_each(struct state *st, int (*cb)(void *ud, int64_t id, const char *body),
				void *ud);
MUST_CHECK int state_queue_wait(struct state *st, unsigned timeout_ms);

#endif
