/*
 * wlog: the last write outcomes of one mount, which /.bottlefs/log shows
 * to the agent (SEMANTICS.md "Errors"), so that a refusal a shell never
 * reported (close() errors are ignored by `echo >`) can still be found.
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
 * The module never sees the token: callers pass paths and reasons, which
 * never hold it (STYLE habit 8).
 *
 * Thread-safety: every function may be called from many threads (one
 * mutex, held only to copy lines in or out).
 */
#ifndef BOTTLEFS_FS_WLOG_H
#define BOTTLEFS_FS_WLOG_H

#include <time.h>

#include "util/buf.h"

#define WLOG_LINES 100
#define WLOG_LINE_MAX 1024

struct wlog;

/* 0 and *out, or -ENOMEM. */
int wlog_new(struct wlog **out);
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
int wlog_text(struct wlog *l, struct buf *out);

#endif
