/* wlog: the outcome log of one mount (write.h). */
#include "write/write.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"
#include "util/time.h"

struct wlog {
	pthread_mutex_t lock;
	char *lines[WLOG_LINES]; /* ring; lock */
	size_t next;		 /* where the next line goes; lock */
};

int wlog_new(struct wlog **out)
{
	struct wlog *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	pthread_mutex_init(&l->lock, NULL);
	*out = l;
	return 0;
}

void wlog_free(struct wlog *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < WLOG_LINES; i++)
		free(l->lines[i]);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/*
 * Appends s escaped: printable ASCII and whole valid UTF-8 characters
 * (other than C1 controls) as they are; '\\', '\n', '\t' and '\r' as
 * two-character escapes; every other byte as \xNN. A field never holds a
 * raw tab, so the tab separators stay unambiguous.
 */
static void put_escaped(struct buf *b, const char *s)
{
	size_t n = strlen(s), i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t len = 1, whole;

		if (c >= 0x80) {
			len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			if (i + len > n || !str_utf8_valid_prefix(s + i, len, &whole) ||
			    whole != len || str_has_control(s + i, len, false))
				len = 0;
		}
		if (len > 1) {
			buf_note(b, "%.*s", (int)len, s + i);
			i += len;
			continue;
		}
		if (c == '\\')
			buf_note(b, "\\\\");
		else if (c == '\n')
			buf_note(b, "\\n");
		else if (c == '\t')
			buf_note(b, "\\t");
		else if (c == '\r')
			buf_note(b, "\\r");
		else if (c < 0x20 || c >= 0x7f)
			buf_note(b, "\\x%02x", c);
		else
			buf_note(b, "%c", (char)c);
		i++;
	}
}

void wlog_add_at(struct wlog *l, time_t when, const char *path, int r, const char *detail)
{
	struct buf b = BUF_INIT(WLOG_LINE_MAX * 4 + 64);
	const char *name = r ? strerrorname_np(-r) : "ok";
	char stamp[TIME_RFC3339_SIZE];
	size_t len;
	char *line;

	if (!l)
		return;
	/* A time gmtime cannot give stays a number: the line is written all the same. */
	(void)!time_to_rfc3339((int64_t)when, stamp, sizeof(stamp));
	buf_note(&b, "%s\t", stamp);
	put_escaped(&b, path ? path : "?");
	buf_note(&b, "\t%s\t", name ? name : "?");
	put_escaped(&b, detail ? detail : "");
	/* Whatever the escapes did, a line is one line of bounded length. */
	len = str_utf8_floor(buf_cstr(&b), b.len < WLOG_LINE_MAX - 1 ? b.len : WLOG_LINE_MAX - 1);
	if (!b.data) {
		buf_release(&b);
		return;
	}
	b.len = len;
	b.data[len] = '\0';
	if (buf_putc(&b, '\n') < 0) {
		buf_release(&b);
		return;
	}
	line = buf_steal(&b, NULL);
	if (!line)
		return;
	pthread_mutex_lock(&l->lock);
	free(l->lines[l->next]);
	l->lines[l->next] = line;
	l->next = (l->next + 1) % WLOG_LINES;
	pthread_mutex_unlock(&l->lock);
}

void wlog_add(struct wlog *l, const char *path, int r, const char *detail)
{
	wlog_add_at(l, time(NULL), path, r, detail);
}

int wlog_text(struct wlog *l, struct buf *out)
{
	size_t i;
	int r = 0;

	pthread_mutex_lock(&l->lock);
	for (i = 0; i < WLOG_LINES && r == 0; i++) {
		const char *line = l->lines[(l->next + i) % WLOG_LINES];

		if (line)
			r = buf_puts(out, line);
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}
