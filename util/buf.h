/*
 * buf: the one growable byte buffer of bottlefs (after curl's dynbuf and
 * git's strbuf).
 *
 * A buffer has a hard maximum set at init: anything a remote can inflate is
 * read into a buf, and an append that would pass the maximum fails with
 * -E2BIG instead of growing. The contents are always NUL-terminated once
 * anything was appended, so buf_cstr() is safe for text.
 *
 * Ownership: the buffer owns data until buf_steal() hands it to the caller
 * (new). Not thread-safe: one owner at a time.
 */
#ifndef BOTTLEFS_UTIL_BUF_H
#define BOTTLEFS_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "util/check.h"

struct buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* hard limit on len */
};

#define BUF_MAX_DEFAULT ((size_t)64 << 20)
#define BUF_INIT(maxlen)                                                                           \
	{                                                                                          \
		NULL, 0, 0, (maxlen)                                                               \
	}

void buf_init(struct buf *b, size_t max);
/* Frees the contents; the buffer can be used again with the same max. */
void buf_release(struct buf *b);
/* Empties without freeing. */
void buf_reset(struct buf *b);

/* 0, -ENOMEM, or -E2BIG when the result would be longer than max. */
MUST_CHECK int buf_append(struct buf *b, const void *p, size_t n);
MUST_CHECK int buf_puts(struct buf *b, const char *s);
MUST_CHECK int buf_putc(struct buf *b, char c);
MUST_CHECK int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
MUST_CHECK int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/*
 * Appends a reason to err when err is not NULL, best effort: a reason that
 * does not fit (err's maximum, or memory) is left out; what err held is
 * kept. For the words that accompany an error, where nothing better can be
 * done about a reason that does not fit than to give a shorter one.
 */
void buf_note(struct buf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The optional-reason idiom (STYLE habit 2): appends the formatted reason
 * to err when err is not NULL, and returns r, so a caller can write
 * `return buf_fail(err, -EIO, "...", ...);`.
 */
int buf_fail(struct buf *err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Borrowed view, always NUL-terminated ("" when empty). */
const char *buf_cstr(const struct buf *b);

/*
 * Hands the contents to the caller (new, NUL-terminated, never NULL unless
 * out of memory) and leaves the buffer empty. *len may be NULL.
 */
char *buf_steal(struct buf *b, size_t *len);

#endif
