/*
 * done: parsing and rendering the done signal (SPEC section 5). Pure: no
 * I/O, no state; every function may be called from any thread. Internal
 * to write/ (and its tests): the tree sees write_validate and write_commit.
 *
 * Accepted content (at most DONE_MAX_LEN bytes, valid UTF-8, no NUL byte):
 *
 *  - JSON, when the first non-whitespace byte is '{': one object with
 *    "status" (required, a string) and "summary" (optional, a string; absent
 *    means ""). Nothing else: an unknown key is refused rather than ignored,
 *    so that a typo such as "sumary" is reported instead of silently losing
 *    the summary. Duplicate keys, trailing content and "\u0000" are refused.
 *    The summary is kept exactly.
 *  - Text: the first line (up to the first '\n') with surrounding spaces,
 *    tabs and '\r' trimmed is the status; the summary is everything after
 *    that '\n', exactly, except that one trailing "\n" (or "\r\n") is
 *    stripped, since `echo` adds one. "success" alone means an empty summary.
 *
 * The status is exactly "success", "failure" or "blocked", lower case:
 * "SUCCESS" is refused (the contract names the words; one spelling keeps
 * orchestrators simple). Anything else is -EINVAL with one lower-case line
 * in err, e.g. "done: status must be success, failure or blocked (was 'ok')".
 */
#ifndef BOTTLEFS_WRITE_DONE_H
#define BOTTLEFS_WRITE_DONE_H

#include <stddef.h>

#include "util/buf.h"
#include "util/check.h"

#define DONE_MAX_LEN ((size_t)8 << 20)

enum done_status { DONE_SUCCESS, DONE_FAILURE, DONE_BLOCKED };
struct done_signal {
	enum done_status status;
	char *summary; /* new, never NULL after a successful parse, valid UTF-8 */
};

/* data need not be NUL-terminated. *out is written only on success. */
MUST_CHECK int done_parse(const char *data, size_t len, struct done_signal *out, struct buf *err);
void done_signal_release(struct done_signal *s); /* NULL-safe, frees summary */
/* "success", "failure", "blocked" (static), or "unknown" when out of range. */
const char *done_status_name(enum done_status s);

/*
 * What reading /done shows once a signal stands: the JSON object
 * {"status": ..., "summary": ...} indented by 2 spaces, ending with "\n"
 * (it parses back to the same signal with done_parse). New string, NULL
 * when out of memory or s is invalid.
 */
char *done_signal_text(const struct done_signal *s);

#endif
