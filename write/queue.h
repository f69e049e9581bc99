/*
 * queue: the orchestrator's queue directory of done signals (SPEC section 5).
 *
 * One accepted signal is one file "<YYYYMMDDTHHMMSSZ>-<owner>-<repo>-<issue>-
 * <16 hex>.json" holding one JSON object
 *   {"owner", "repo", "issue", "status", "summary", "time" (RFC 3339 UTC),
 *    "pull_requests": [n, ...]}
 * It is written to ".tmp-<random>" in the same directory, fsynced, renamed
 * into place without replacing anything, and the directory is fsynced: a
 * reader never sees a partial file and a crash after queue_write returned
 * never loses the signal. In the file name, bytes of owner and repo outside
 * [A-Za-z0-9._-] become '_' and each is cut to 64 bytes (the JSON keeps them
 * exactly).
 *
 * The orchestrator reads and takes them with `bottlefs queue` (cli/queue.c).
 * Internal to write/ (and its tests).
 *
 * Thread-safety: no shared state; concurrent writers and takers (threads or
 * processes) are safe through the file system's atomic renames.
 */
#ifndef BOTTLEFS_WRITE_QUEUE_H
#define BOTTLEFS_WRITE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "state/state.h"
#include "util/buf.h"
#include "util/check.h"
#include "write/done.h"

/* Every pointer is borrowed. prs may be NULL when n_prs is 0. time is unix seconds. */
struct queue_item {
	const char *owner, *repo;
	uint64_t issue;
	const struct done_signal *sig;
	const uint64_t *prs;
	size_t n_prs;
	int64_t time;
};

/*
 * Writes item into dir (created with mode 0700, parents too, if missing;
 * the file is 0600). *name (optional) gets the final file name (new).
 * -EINVAL for an empty owner/repo, issue 0, a missing signal or a time
 * outside years 1970..9999; other -errno from the file system. err
 * (optional) gets one line quoting the directory.
 */
MUST_CHECK int queue_write(const char *dir, const struct queue_item *item, char **name,
			   struct buf *err);

/*
 * The same item, as the same JSON, into the queue table of a shared state
 * store (state_queue_push: `bottlefs queue take URL` hands it out once).
 * *name (optional) gets "signal <id>" (new).
 */
MUST_CHECK int queue_push(struct state *st, const struct queue_item *item, char **name,
			  struct buf *err);

#endif
