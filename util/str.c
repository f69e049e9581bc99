#include "util/str.h"

#include <errno.h>
#include <sys/random.h>
#include <stdlib.h>
#include <string.h>

int strn_to_u64(const char *s, size_t n, uint64_t max, bool allow_zero, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s || n == 0 || n > 20)
		return -EINVAL;
	if (s[0] == '0' && (n > 1 || !allow_zero))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int str_to_u64(const char *s, uint64_t max, bool allow_zero, uint64_t *out)
{
	if (!s)
		return -EINVAL;
	return strn_to_u64(s, strlen(s), max, allow_zero, out);
}

/*
 * Length of the valid UTF-8 sequence at p (at most n bytes), or 0; its
 * code point in *cpo.
 */
static size_t utf8_decode(const unsigned char *p, size_t n, uint32_t *cpo)
{
	unsigned char c = p[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80) {
		*cpo = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;
	*cpo = cp;
	return len;
}

static size_t utf8_seq(const unsigned char *p, size_t n)
{
	uint32_t cp;

	return utf8_decode(p, n, &cp);
}

bool str_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t l = utf8_seq(p + i, n - i);

		if (!l)
			return false;
		i += l;
	}
	return true;
}

/*
 * True when the n bytes at p (n >= 1, shorter than the character their
 * lead byte announces) can still be completed into a valid character: the
 * lead byte is a valid lead and every byte so far is allowed where it is
 * (the second byte's range excludes overlongs, surrogates and code points
 * past U+10FFFF, exactly as utf8_seq does once the character is whole).
 */
static bool utf8_incomplete_ok(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return false;
	if (n >= len)
		return false;
	if (c == 0xe0)
		lo = 0xa0; /* overlong below */
	else if (c == 0xed)
		hi = 0x9f; /* surrogates above */
	else if (c == 0xf0)
		lo = 0x90; /* overlong below */
	else if (c == 0xf4)
		hi = 0x8f; /* past U+10FFFF above */
	for (i = 1; i < n; i++) {
		if (i == 1 ? (p[i] < lo || p[i] > hi) : (p[i] & 0xc0) != 0x80)
			return false;
	}
	return true;
}

bool str_utf8_valid_prefix(const char *s, size_t n, size_t *whole)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		size_t l = utf8_seq(p + i, n - i);

		if (!l)
			break;
		i += l;
	}
	if (whole)
		*whole = i;
	return i == n || utf8_incomplete_ok(p + i, n - i);
}

size_t str_utf8_floor(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, back = 0, want;

	if (n == 0)
		return 0;
	/* Find the lead byte of the last (possibly cut) character. */
	i = n - 1;
	while (i > 0 && (p[i] & 0xc0) == 0x80 && back < 3) {
		i--;
		back++;
	}
	want = p[i] < 0xc0 ? 1 : p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : 2;
	return n - i >= want ? n : i;
}

/* C1 controls and the Unicode line and paragraph separators. */
static bool cp_control(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029;
}

/* Code points that change how a line reads without showing themselves. */
static bool cp_bidi(uint32_t cp)
{
	return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

bool str_has_control(const char *s, size_t n, bool allow_newline_tab)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, l;
	uint32_t cp;

	while (i < n) {
		if (p[i] < 0x20 || p[i] == 0x7f) {
			if (!allow_newline_tab || (p[i] != '\n' && p[i] != '\t'))
				return true;
			i++;
			continue;
		}
		l = utf8_decode(p + i, n - i, &cp);
		if (l == 0) {
			i++; /* not UTF-8: not this function's judgement */
			continue;
		}
		if (cp_control(cp))
			return true;
		i += l;
	}
	return false;
}

int str_escape_log(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, l;
	uint32_t cp;
	int r = 0;

	while (s && i < n && r == 0) {
		unsigned char c = p[i];

		if (c == '\\') {
			r = buf_puts(out, "\\\\");
			l = 1;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			char e[2] = {'\\', c == '\n' ? 'n' : c == '\r' ? 'r' : 't'};

			r = buf_append(out, e, 2);
			l = 1;
		} else if (c < 0x20 || c == 0x7f) {
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

			r = buf_append(out, e, 4);
			l = 1;
		} else if ((l = utf8_decode(p + i, n - i, &cp)) == 0) {
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};

			r = buf_append(out, e, 4);
			l = 1;
		} else if (cp_control(cp) || cp_bidi(cp)) {
			r = buf_printf(out, "\\u{%04x}", (unsigned)cp);
		} else {
			r = buf_append(out, s + i, l);
		}
		i += l;
	}
	return r;
}

int str_escape_log_cstr(struct buf *out, const char *s)
{
	return s ? str_escape_log(out, s, strlen(s)) : 0;
}

bool str_branch_name_valid(const char *s, size_t n)
{
	size_t i, comp = 0; /* start of the current component */

	if (!s || n == 0 || n > 255 || s[0] == '-' || s[0] == '/' || s[n - 1] == '/' ||
	    s[n - 1] == '.')
		return false;
	if ((n == 1 && s[0] == '@') || (n == 4 && memcmp(s, "HEAD", 4) == 0) ||
	    str_has_control(s, n, false))
		return false;
	for (i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)s[i] : '/';

		if (c == '/') {
			/* One component ends: not empty, no leading '.', no ".lock" end. */
			if (i == comp || s[comp] == '.' ||
			    (i - comp >= 5 && memcmp(s + i - 5, ".lock", 5) == 0))
				return false;
			comp = i + 1;
			continue;
		}
		if (c < 0x20 || c == 0x7f || c == ' ' || c == '~' || c == '^' || c == ':' ||
		    c == '?' || c == '*' || c == '[' || c == '\\')
			return false;
		if (c == '.' && i + 1 < n && s[i + 1] == '.')
			return false;
		if (c == '@' && i + 1 < n && s[i + 1] == '{')
			return false;
	}
	return true;
}

int str_sanitize(struct buf *out, const char *s, size_t n, const char *bad, bool controls)
{
	size_t i = 0, run;
	int r = 0;

	while (i < n && r == 0) {
		/* The shortest valid run from here is exactly one character. */
		for (run = 1; run <= 4 && i + run <= n; run++)
			if (str_utf8_valid(s + i, run))
				break;
		if (run > 4 || i + run > n ||
		    (controls && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f))) {
			r = buf_puts(out, bad);
			i++;
			continue;
		}
		r = buf_append(out, s + i, run);
		i += run;
	}
	return r;
}

int str_random_hex(char out[17])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[8];
	size_t got = 0;
	ssize_t n;
	int i;

	while (got < sizeof(b)) {
		n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	for (i = 0; i < 8; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[16] = '\0';
	return 0;
}

const char *str_arg_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0' || *i + 1 >= argc)
		return NULL;
	(*i)++;
	return argv[*i];
}

char *str_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void str_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}
