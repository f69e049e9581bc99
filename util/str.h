/*
 * str: small, strict string helpers shared by every module (no atoi, no
 * strtok: see STYLE.md).
 */
#ifndef BOTTLEFS_UTIL_STR_H
#define BOTTLEFS_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/check.h"

/*
 * Parses a canonical decimal: digits only, no sign, no leading zero, no
 * surrounding space, value in 1..max (or 0..max when allow_zero). Returns
 * 0 and writes *out, or -EINVAL / -ERANGE.
 */
MUST_CHECK int str_to_u64(const char *s, uint64_t max, bool allow_zero, uint64_t *out);

/* Like str_to_u64 but on the first n bytes of s (which need no NUL). */
MUST_CHECK int strn_to_u64(const char *s, size_t n, uint64_t max, bool allow_zero, uint64_t *out);

/* True when [s, s+n) is valid UTF-8 (no overlongs, no surrogates). */
bool str_utf8_valid(const char *s, size_t n);

/*
 * Length of the longest prefix of s[0..n) that ends on a UTF-8 character
 * boundary, never more than n.
 */
size_t str_utf8_floor(const char *s, size_t n);

/*
 * True when [s, s+n) can still be the start of valid UTF-8: every
 * character is valid except, possibly, the last one, cut short, which more
 * bytes could complete (a lead byte and valid continuation bytes so far).
 * *whole (may be NULL) gets the length of the part made of whole
 * characters. Used to judge content while it is still being written.
 */
bool str_utf8_valid_prefix(const char *s, size_t n, size_t *whole);

/*
 * True when [s, s+n) holds a control character: a byte below 0x20, DEL
 * (0x7f), a C1 control (U+0080..U+009F) or a Unicode line or paragraph
 * separator (U+2028, U+2029). With allow_newline_tab, '\n' and '\t' are
 * not counted. Bytes that are not valid UTF-8 are not judged here (check
 * str_utf8_valid first).
 */
bool str_has_control(const char *s, size_t n, bool allow_newline_tab);

/*
 * Appends s[0..n) to out so that it fits on one log line and shows what
 * it holds: printable UTF-8 as is; a backslash doubled; newline, carriage
 * return and tab as \n, \r, \t; every other control byte and every byte
 * that is not part of valid UTF-8 as \xHH; C1 controls, the line and
 * paragraph separators and the bidirectional controls (which can make a
 * line read differently from what it holds) as \u{HHHH}. s may be NULL
 * (nothing appended). 0, or -E2BIG / -ENOMEM from out (what fit is kept).
 */
MUST_CHECK int str_escape_log(struct buf *out, const char *s, size_t n);

/* str_escape_log of a NUL-terminated string (NULL: nothing). */
MUST_CHECK int str_escape_log_cstr(struct buf *out, const char *s);

/*
 * True when [s, s+n) is a valid git branch name (`git check-ref-format
 * --branch`): not empty, at most 255 bytes, no control byte, space, '~',
 * '^', ':', '?', '*', '[', backslash, no "..", no "@{", not "@", not "HEAD",
 * not starting with '-', no component that is empty, starts with '.' or
 * ends with ".lock", and not ending with '.' or '/'. A ':' is what names a
 * branch on someone else's fork ("owner:branch"), so it is never valid.
 */
bool str_branch_name_valid(const char *s, size_t n);

/*
 * Appends s[0..n) to out with every byte that is not part of valid UTF-8
 * replaced by bad (and, with controls, every byte below 0x20 and DEL as
 * well), so what an agent or a forge wrote can go into one line of a
 * message, or into a JSON string. 0, or -E2BIG / -ENOMEM from out (what
 * fit is kept).
 */
MUST_CHECK int str_sanitize(struct buf *out, const char *s, size_t n, const char *bad,
			    bool controls);

/* 16 hex digits from the kernel's random source, and a NUL. 0 or -errno. */
MUST_CHECK int str_random_hex(char out[17]);

/*
 * A command-line option with a value, "--name value" or "--name=value", at
 * argv[*i]: the value (borrowed), with *i advanced past what it used, or
 * NULL when argv[*i] is not that option (or its value is missing).
 */
const char *str_arg_value(int argc, char **argv, int *i, const char *name);

/* strdup that returns NULL for NULL. New. */
char *str_dup(const char *s);

/* Wipes n bytes so the compiler cannot drop the stores (for secrets). */
void str_wipe(void *p, size_t n);

#endif
