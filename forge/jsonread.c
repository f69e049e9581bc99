/*
 * forge/jsonread: see jsonread.h.
 */
#include "forge/jsonread.h"

#include <errno.h>
#include <string.h>

#include "util/str.h"

/*
 * Counts the values in text the cheap way (separators and openers outside
 * strings) so the parse is refused before jansson allocates for them.
 */
static size_t count_values(const char *text, size_t len)
{
	size_t i, n = 1;
	bool in_str = false, esc = false;

	for (i = 0; i < len; i++) {
		char c = text[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == ',' || c == '[' || c == '{') {
			n++;
		}
	}
	return n;
}

int jr_load(const char *text, size_t len, size_t max_values, json_t **root, struct buf *err)
{
	json_error_t je;
	json_t *j;

	if (len == 0)
		return buf_fail(err, -EIO, "empty response where json was expected");
	if (count_values(text, len) > max_values)
		return buf_fail(err, -EIO, "response has more than %zu json values", max_values);
	/*
	 * jansson rejects invalid UTF-8, lone surrogates, \u0000 and nesting
	 * deeper than its parser limit, so every string we keep is clean text.
	 */
	j = json_loadb(text, len, 0, &je);
	if (!j) {
		if (len && (text[0] == '<' || (unsigned char)text[0] > 0x7f))
			return buf_fail(err, -EIO, "response is not json (html or binary?)");
		/* jansson may quote the offending input: keep the reason one printable line. */
		for (char *c = je.text; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
				*c = '?';
		return buf_fail(err, -EIO, "response is not valid json: %s at byte %d", je.text,
				je.position);
	}
	*root = j;
	return 0;
}

int jr_str(json_t *o, const char *key, bool required, const char *dflt, char **out, struct buf *err)
{
	json_t *v = json_object_get(o, key);
	const char *s;
	char *d;

	if (!v || json_is_null(v)) {
		if (required)
			return buf_fail(err, -EIO, "key '%s' is missing", key);
		s = dflt;
	} else if (!json_is_string(v)) {
		return buf_fail(err, -EIO, "key '%s' is not a string", key);
	} else {
		s = json_string_value(v);
	}
	d = str_dup(s);
	if (s && !d)
		return buf_fail(err, -ENOMEM, "out of memory");
	*out = d;
	return 0;
}

int jr_u64(json_t *o, const char *key, bool required, uint64_t min, uint64_t *out, struct buf *err)
{
	json_t *v = json_object_get(o, key);
	json_int_t x;

	if (!v || json_is_null(v)) {
		if (required)
			return buf_fail(err, -EIO, "key '%s' is missing", key);
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v))
		return buf_fail(err, -EIO, "key '%s' is not an integer", key);
	x = json_integer_value(v);
	if (x < 0 || (uint64_t)x < min)
		return buf_fail(err, -EIO, "key '%s' is out of range", key);
	*out = (uint64_t)x;
	return 0;
}

int jr_bool(json_t *o, const char *key, bool *out, bool *present, struct buf *err)
{
	json_t *v = json_object_get(o, key);

	if (present)
		*present = v && !json_is_null(v);
	if (!v || json_is_null(v)) {
		*out = false;
		return 0;
	}
	if (!json_is_boolean(v))
		return buf_fail(err, -EIO, "key '%s' is not a boolean", key);
	*out = json_is_true(v);
	return 0;
}

int jr_obj(json_t *o, const char *key, json_t **out, struct buf *err)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v)) {
		*out = NULL;
		return 0;
	}
	if (!json_is_object(v))
		return buf_fail(err, -EIO, "key '%s' is not an object", key);
	*out = v;
	return 0;
}
