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
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

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
