/*
 * validate: the close-time rules of what a write may hold (write.h,
 * write_validate): fields, comments, pulls/new (prnew.c) and the done
 * signal (done.c). What the judge checks at write() mirrors these
 * (judge.c).
 */
#include "write/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

/* Content an agent may write to one file (a body is the largest). */
#define WRITE_MAX ((size_t)8 << 20)

static const char *const field_names[] = {
    [WRITE_TITLE] = "title",
    [WRITE_BODY] = "body",
    [WRITE_STATE] = "state",
    [WRITE_LABELS] = "labels",
};

const char *write_field_name(enum write_field f)
{
	return field_names[f];
}

size_t write_target_max(const struct write_target *t)
{
	return t->kind == WRITE_PULL ? WRITE_PULL_MAX : WRITE_FILE_MAX;
}

/* Text without the one trailing newline `echo` adds: what the forge stores. */
static char *strip_newline(const char *data, size_t len)
{
	char *s;

	if (len && data[len - 1] == '\n')
		len--;
	if (len && data[len - 1] == '\r')
		len--;
	s = malloc(len + 1);
	if (s) {
		memcpy(s, data, len);
		s[len] = '\0';
	}
	return s;
}

int write_invalid(struct buf *err, const char *fmt, const char *what)
{
	if (err)
		buf_note(err, fmt, what);
	return -EINVAL;
}

bool write_title_has_control(const char *s, size_t n)
{
	return str_has_control(s, n, false);
}

int write_check_field(enum write_field file, const char *data, size_t len, char **text,
		      struct buf *err)
{
	char *t;

	if (len > WRITE_MAX)
		return write_invalid(err, "%s: content too large", "write");
	if (!str_utf8_valid(data, len) || memchr(data, '\0', len))
		return write_invalid(err, "%s: content is not UTF-8 text", write_field_name(file));
	t = strip_newline(data, len);
	if (!t)
		return -ENOMEM;
	if (file == WRITE_STATE) {
		char *s = t, *e;

		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (strcmp(s, "open") != 0 && strcmp(s, "closed") != 0 && strcmp(s, "draft") != 0 &&
		    strcmp(s, "ready") != 0) {
			free(t);
			return write_invalid(err, "state must be 'open' or 'closed'%s", "");
		}
		memmove(t, s, strlen(s) + 1);
	}
	/* One line of text: no \n, and no \r, ESC, tab or other control either. */
	if (file == WRITE_TITLE && (t[0] == '\0' || write_title_has_control(t, strlen(t)))) {
		free(t);
		return write_invalid(
		    err, "title must be one non-empty line without control characters%s", "");
	}
	*text = t;
	return 0;
}

int write_check_target_field(const struct write_target *t, const char *data, size_t len,
			     char **text, struct buf *err)
{
	int r = write_check_field(t->field, data, len, text, err);

	/* draft and ready are a pull request's (update_pr_status), never an issue's. */
	if (r == 0 && t->field == WRITE_STATE && !t->pull &&
	    (strcmp(*text, "draft") == 0 || strcmp(*text, "ready") == 0)) {
		free(*text);
		*text = NULL;
		return write_invalid(err, "state must be 'open' or 'closed'%s", "");
	}
	return r;
}

int write_check_comment(const char *data, size_t len, char **text, struct buf *err)
{
	char *t;

	if (len > WRITE_MAX)
		return write_invalid(err, "%s: content too large", "comments/new");
	if (!str_utf8_valid(data, len) || memchr(data, '\0', len))
		return write_invalid(err, "%s: content is not UTF-8 text", "comments/new");
	t = strip_newline(data, len);
	if (!t)
		return -ENOMEM;
	if (!*t) {
		free(t);
		return write_invalid(err, "%s: an empty comment is not posted", "comments/new");
	}
	*text = t;
	return 0;
}

int write_validate(const struct write_target *t, const char *data, size_t len, struct buf *err)
{
	struct done_signal sig;
	struct prnew p;
	char *text = NULL;
	int r;

	switch (t->kind) {
	case WRITE_FIELD:
		r = write_check_target_field(t, data, len, &text, err);
		break;
	case WRITE_COMMENT:
		r = write_check_comment(data, len, &text, err);
		break;
	case WRITE_PULL:
		r = prnew_parse(data, len, &p, err);
		if (r == 0)
			prnew_release(&p);
		break;
	case WRITE_DONE:
		r = done_parse(data, len, &sig, err);
		if (r == 0)
			done_signal_release(&sig);
		break;
	default:
		r = -EACCES;
	}
	free(text);
	return r;
}
