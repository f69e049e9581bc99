#include "write/done.h"
#include "util/jsontext.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

static const char *const names[] = {"success", "failure", "blocked"};

const char *done_status_name(enum done_status s)
{
	if ((unsigned)s >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[s];
}

static int status_from(const char *s, size_t n, enum done_status *out)
{
	unsigned i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) == n && memcmp(s, names[i], n) == 0) {
			*out = (enum done_status)i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Appends at most 40 bytes of s quoted for an error message; control bytes
 * become '?', so a reason is always one printable line.
 */
static void quote(struct buf *err, const char *s, size_t n)
{
	size_t i, lim = str_utf8_floor(s, n > 40 ? 40 : n);

	buf_note(err, "%c", '\'');
	for (i = 0; i < lim; i++)
		buf_note(err, "%c", (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i]);
	if (lim < n)
		buf_note(err, "...");
	buf_note(err, "%c", '\'');
}

/*
 * Appends text that came from the input (jansson quotes the input "near"
 * an error) as one printable line: control bytes and bytes that are not
 * part of valid UTF-8 (the quote may cut a character) become '?'.
 */
static void put_clean(struct buf *err, const char *s)
{
	/* A reason is best effort: what fits is kept. */
	(void)!str_sanitize(err, s, strlen(s), "?", true);
}

static int fail(struct buf *err, const char *msg)
{
	if (err)
		buf_note(err, "done: %s", msg);
	return -EINVAL;
}

static int bad_status(struct buf *err, const char *s, size_t n)
{
	if (err) {
		buf_note(err, "done: status must be success, failure or blocked (was ");
		quote(err, s, n);
		buf_note(err, "%c", ')');
	}
	return -EINVAL;
}

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static int parse_json(const char *data, size_t len, struct done_signal *out, struct buf *err)
{
	json_error_t jerr;
	json_t *root, *status, *summary, *v;
	const char *key;
	char *sum = NULL;
	enum done_status st;
	int r = -EINVAL;

	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (err) {
			buf_note(err, "done: invalid JSON: ");
			put_clean(err, jerr.text);
			buf_note(err, " (line %d, column %d)", jerr.line, jerr.column);
		}
		return -EINVAL;
	}
	json_object_foreach(root, key, v)
	{
		if (strcmp(key, "status") != 0 && strcmp(key, "summary") != 0) {
			if (err) {
				buf_note(err, "done: unknown key ");
				quote(err, key, strlen(key));
				buf_note(err, " (expected status and summary)");
			}
			goto out;
		}
	}
	status = json_object_get(root, "status");
	if (!status) {
		fail(err, "JSON needs a \"status\": success, failure or blocked");
		goto out;
	}
	if (!json_is_string(status)) {
		if (err)
			buf_note(err, "done: status must be a string (was %s)", type_name(status));
		goto out;
	}
	if (status_from(json_string_value(status), json_string_length(status), &st) < 0) {
		bad_status(err, json_string_value(status), json_string_length(status));
		goto out;
	}
	summary = json_object_get(root, "summary");
	if (summary && !json_is_string(summary)) {
		if (err)
			buf_note(err, "done: summary must be a string (was %s)",
				 type_name(summary));
		goto out;
	}
	sum = str_dup(summary ? json_string_value(summary) : "");
	if (!sum) {
		r = -ENOMEM;
		goto out;
	}
	out->status = st;
	out->summary = sum;
	r = 0;
out:
	json_decref(root);
	return r;
}

static int parse_text(const char *data, size_t len, struct done_signal *out, struct buf *err)
{
	const char *nl = memchr(data, '\n', len);
	size_t line = nl ? (size_t)(nl - data) : len;
	size_t a = 0, b = line, slen = 0;
	const char *sum = "";
	enum done_status st;
	char *copy;

	while (a < b && is_space(data[a]))
		a++;
	while (b > a && is_space(data[b - 1]))
		b--;
	if (status_from(data + a, b - a, &st) < 0)
		return bad_status(err, data + a, b - a);
	if (nl) {
		sum = nl + 1;
		slen = len - line - 1;
		if (slen > 0 && sum[slen - 1] == '\n') {
			slen--;
			if (slen > 0 && sum[slen - 1] == '\r')
				slen--;
		}
	}
	copy = malloc(slen + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, sum, slen);
	copy[slen] = '\0';
	out->status = st;
	out->summary = copy;
	return 0;
}

int done_parse(const char *data, size_t len, struct done_signal *out, struct buf *err)
{
	size_t i = 0;

	if (!data && len)
		return fail(err, "no data");
	if (len > DONE_MAX_LEN) {
		if (err)
			buf_note(err, "done: signal too long (%zu bytes, at most %zu)", len,
				 DONE_MAX_LEN);
		return -EINVAL;
	}
	while (i < len && is_space(data[i]))
		i++;
	if (i == len)
		return fail(err, "empty signal; write success, failure or blocked");
	if (memchr(data, '\0', len))
		return fail(err, "signal contains a NUL byte");
	if (!str_utf8_valid(data, len))
		return fail(err, "signal is not valid UTF-8");
	if (data[i] == '{')
		return parse_json(data, len, out, err);
	return parse_text(data, len, out, err);
}

void done_signal_release(struct done_signal *s)
{
	if (!s)
		return;
	free(s->summary);
	s->summary = NULL;
}

char *done_signal_text(const struct done_signal *s)
{
	json_t *j;
	char *text;

	if (!s || (unsigned)s->status > DONE_BLOCKED)
		return NULL;
	j = json_pack("{s:s, s:s}", "status", done_status_name(s->status), "summary",
		      s->summary ? s->summary : "");
	if (!j)
		return NULL;
	text = jsontext_pretty(j);
	json_decref(j);
	return text;
}
