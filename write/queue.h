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
 * Readers ignore every name that starts with '.' or does not end in ".json".
 * Order is oldest first: by the time in the name, then by the file's mtime,
 * then by name. Taking renames the item to ".claimed-<random>-<name>" first,
 * so two takers never get the same item; a taker that dies between the
 * claim and the unlink leaves the hidden claimed file for a person to look
 * at. A file that is not valid JSON is renamed to ".bad-<name>" with a
 * warning and skipped.
 *
 * Thread-safety: no shared state; concurrent writers and takers (threads or
 * processes) are safe through the file system's atomic renames.
 */
#ifndef BOTTLEFS_STATE_QUEUE_H
#define BOTTLEFS_STATE_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "write/done.h"
#include "util/buf.h"

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
int queue_write(const char *dir, const struct queue_item *item, char **name, struct buf *err);

/*
 * `bottlefs queue list DIR`: each ready item "name<TAB>compact JSON", oldest
 * first (a missing DIR is an empty queue).
 * `bottlefs queue take DIR`: prints the oldest item as compact JSON and
 * removes it; exit 1 with "queue: queue empty" on errf when there is none.
 * argv[0] is "queue". Exit codes: 0 ok, 1 error or empty, 2 usage.
 */
int queue_cli(int argc, char **argv, FILE *out, FILE *errf);

#endif
