/*
 * Unit tests of forge_render_description (forge/render.c): the Forge
 * Adapter Contract's invariants, on fixed cases and on many random ones.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <strings.h>
#include <sys/types.h>

#include "forge/forge.h"
#include "util/str.h"

#define BLOCK_OPEN "\n\n<!-- bottlefs:receipt\n"
#define NOTICE_LINE "\n" FORGE_TRUNCATION_NOTICE

/*
 * An HTML5 tokenizer (WHATWG 13.2.5), independent of render.c, reduced to
 * what decides where comments begin and end: data, tags and attributes,
 * comments, bogus comments and doctypes, RCDATA/RAWTEXT, script data with
 * its escapes, and PLAINTEXT. It records the first comment that begins at
 * `at` and where it ends.
 */
enum ostate {
	O_DATA,
	O_TAG_OPEN,
	O_END_TAG_OPEN,
	O_TAG_NAME,
	O_BEFORE_ATTR,
	O_ATTR_NAME,
	O_AFTER_ATTR,
	O_BEFORE_VAL,
	O_VAL_DQ,
	O_VAL_SQ,
	O_VAL_UQ,
	O_AFTER_VAL,
	O_SELF_CLOSE,
	O_BOGUS,
	O_CSTART,
	O_CSTART_DASH,
	O_COMMENT,
	O_CEND_DASH,
	O_CEND,
	O_CEND_BANG,
	O_TEXT,	     /* RCDATA, RAWTEXT or script data: text up to the end tag */
	O_TEXT_LT,   /* after '<' in text */
	O_TEXT_END,  /* after "</" in text: reading a name */
	O_ESC_START, /* script: after "<!" */
	O_ESC_START_DASH,
	O_ESC, /* script data escaped */
	O_ESC_DASH,
	O_ESC_DASH_DASH,
	O_ESC_LT,
	O_ESC_END,   /* script escaped: after "</" */
	O_DBL_START, /* script escaped: after '<' and letters */
	O_DBL,	     /* script data double escaped */
	O_DBL_DASH,
	O_DBL_DASH_DASH,
	O_DBL_LT,
	O_DBL_END,
	O_PLAIN,
};

struct oracle {
	enum ostate st;
	bool end_tag, script;
	char name[32], tmp[32], text_el[32];
	size_t at;	       /* where the comment of interest must begin */
	size_t cstart;	       /* where the current comment began */
	size_t opened, closed; /* the comment at `at`: offsets, SIZE_MAX if none */
};

static bool o_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool o_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static void o_add(char *s, char c)
{
	size_t n = strlen(s);

	if (n + 1 < 32) {
		s[n] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		s[n + 1] = '\0';
	}
}

static void o_emit_tag(struct oracle *o)
{
	static const char *const text[] = {"textarea", "title",	  "style",    "xmp",
					   "iframe",   "noembed", "noframes", "noscript"};
	size_t i;

	o->st = O_DATA;
	if (o->end_tag)
		return;
	if (strcmp(o->name, "plaintext") == 0)
		o->st = O_PLAIN;
	for (i = 0; i < sizeof(text) / sizeof(text[0]); i++)
		if (strcmp(o->name, text[i]) == 0)
			o->st = O_TEXT;
	if (strcmp(o->name, "script") == 0)
		o->st = O_TEXT;
	if (o->st == O_TEXT) {
		o->script = strcmp(o->name, "script") == 0;
		strcpy(o->text_el, o->name);
	}
}

static void o_comment_end(struct oracle *o, size_t i)
{
	if (o->cstart == o->at && o->closed == SIZE_MAX)
		o->closed = i;
	o->st = O_DATA;
}

/* Runs s[0..n) through the tokenizer. */
static void oracle_run(struct oracle *o, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		char c = s[i];
		bool again = false; /* reconsume c in the new state */

		switch (o->st) {
		case O_DATA:
			if (c == '<')
				o->st = O_TAG_OPEN;
			break;
		case O_TAG_OPEN:
			if (c == '!') {
				if (n - i >= 3 && s[i + 1] == '-' && s[i + 2] == '-') {
					o->cstart = i - 1;
					if (o->cstart == o->at)
						o->opened = i - 1;
					o->st = O_CSTART;
					i += 2;
				} else {
					o->st = O_BOGUS; /* doctype, cdata, or incorrectly opened */
				}
			} else if (c == '/') {
				o->st = O_END_TAG_OPEN;
			} else if (o_alpha(c)) {
				o->end_tag = false;
				o->name[0] = '\0';
				o->st = O_TAG_NAME;
				again = true;
			} else if (c == '?') {
				o->st = O_BOGUS;
			} else {
				o->st = O_DATA;
				again = true;
			}
			break;
		case O_END_TAG_OPEN:
			if (o_alpha(c)) {
				o->end_tag = true;
				o->name[0] = '\0';
				o->st = O_TAG_NAME;
				again = true;
			} else if (c == '>') {
				o->st = O_DATA;
			} else {
				o->st = O_BOGUS;
			}
			break;
		case O_TAG_NAME:
			if (o_ws(c))
				o->st = O_BEFORE_ATTR;
			else if (c == '/')
				o->st = O_SELF_CLOSE;
			else if (c == '>')
				o_emit_tag(o);
			else
				o_add(o->name, c);
			break;
		case O_BEFORE_ATTR:
			if (o_ws(c))
				break;
			if (c == '/' || c == '>') {
				o->st = O_AFTER_ATTR;
				again = true;
			} else {
				o->st = O_ATTR_NAME; /* '=' here starts a name too */
			}
			break;
		case O_ATTR_NAME:
			if (o_ws(c) || c == '/' || c == '>') {
				o->st = O_AFTER_ATTR;
				again = true;
			} else if (c == '=') {
				o->st = O_BEFORE_VAL;
			}
			break;
		case O_AFTER_ATTR:
			if (o_ws(c))
				break;
			if (c == '/')
				o->st = O_SELF_CLOSE;
			else if (c == '=')
				o->st = O_BEFORE_VAL;
			else if (c == '>')
				o_emit_tag(o);
			else {
				o->st = O_ATTR_NAME;
				again = true;
			}
			break;
		case O_BEFORE_VAL:
			if (o_ws(c))
				break;
			if (c == '"')
				o->st = O_VAL_DQ;
			else if (c == '\'')
				o->st = O_VAL_SQ;
			else if (c == '>')
				o_emit_tag(o);
			else {
				o->st = O_VAL_UQ;
				again = true;
			}
			break;
		case O_VAL_DQ:
			if (c == '"')
				o->st = O_AFTER_VAL;
			break;
		case O_VAL_SQ:
			if (c == '\'')
				o->st = O_AFTER_VAL;
			break;
		case O_VAL_UQ:
			if (o_ws(c))
				o->st = O_BEFORE_ATTR;
			else if (c == '>')
				o_emit_tag(o);
			break;
		case O_AFTER_VAL:
			if (o_ws(c))
				o->st = O_BEFORE_ATTR;
			else if (c == '/')
				o->st = O_SELF_CLOSE;
			else if (c == '>')
				o_emit_tag(o);
			else {
				o->st = O_BEFORE_ATTR;
				again = true;
			}
			break;
		case O_SELF_CLOSE:
			if (c == '>') {
				o_emit_tag(o);
			} else {
				o->st = O_BEFORE_ATTR;
				again = true;
			}
			break;
		case O_BOGUS:
			if (c == '>')
				o->st = O_DATA;
			break;
		case O_CSTART:
			if (c == '-')
				o->st = O_CSTART_DASH;
			else if (c == '>')
				o_comment_end(o, i);
			else {
				o->st = O_COMMENT;
				again = true;
			}
			break;
		case O_CSTART_DASH:
			if (c == '-')
				o->st = O_CEND;
			else if (c == '>')
				o_comment_end(o, i);
			else {
				o->st = O_COMMENT;
				again = true;
			}
			break;
		case O_COMMENT:
			if (c == '-')
				o->st = O_CEND_DASH;
			break;
		case O_CEND_DASH:
			if (c == '-')
				o->st = O_CEND;
			else {
				o->st = O_COMMENT;
				again = true;
			}
			break;
		case O_CEND:
			if (c == '>')
				o_comment_end(o, i);
			else if (c == '!')
				o->st = O_CEND_BANG;
			else if (c != '-') {
				o->st = O_COMMENT;
				again = true;
			}
			break;
		case O_CEND_BANG:
			if (c == '-')
				o->st = O_CEND_DASH;
			else if (c == '>')
				o_comment_end(o, i);
			else {
				o->st = O_COMMENT;
				again = true;
			}
			break;
		case O_TEXT:
			if (c == '<')
				o->st = O_TEXT_LT;
			break;
		case O_TEXT_LT:
			if (c == '/') {
				o->tmp[0] = '\0';
				o->st = O_TEXT_END;
			} else if (c == '!' && o->script) {
				o->st = O_ESC_START;
			} else {
				o->st = O_TEXT;
				again = true;
			}
			break;
		case O_TEXT_END:
		case O_ESC_END: {
			enum ostate back = o->st == O_TEXT_END ? O_TEXT : O_ESC;

			if (o_alpha(c)) {
				o_add(o->tmp, c);
			} else if ((o_ws(c) || c == '/' || c == '>') &&
				   strcmp(o->tmp, o->text_el) == 0) {
				/* The appropriate end tag: back to tags. */
				o->end_tag = true;
				strcpy(o->name, o->tmp);
				o->script = false;
				o->st = c == '>' ? O_DATA : c == '/' ? O_SELF_CLOSE : O_BEFORE_ATTR;
			} else {
				o->st = back;
				again = true;
			}
			break;
		}
		case O_ESC_START:
			if (c == '-') {
				o->st = O_ESC_START_DASH;
			} else {
				o->st = O_TEXT;
				again = true;
			}
			break;
		case O_ESC_START_DASH:
			if (c == '-') {
				o->st = O_ESC_DASH_DASH;
			} else {
				o->st = O_TEXT;
				again = true;
			}
			break;
		case O_ESC:
		case O_ESC_DASH:
		case O_ESC_DASH_DASH:
			if (c == '-')
				o->st = o->st == O_ESC ? O_ESC_DASH : O_ESC_DASH_DASH;
			else if (c == '<')
				o->st = O_ESC_LT;
			else if (c == '>' && o->st == O_ESC_DASH_DASH)
				o->st = O_TEXT;
			else
				o->st = O_ESC;
			break;
		case O_ESC_LT:
			if (c == '/') {
				o->tmp[0] = '\0';
				o->st = O_ESC_END;
			} else if (o_alpha(c)) {
				o->tmp[0] = '\0';
				o->st = O_DBL_START;
				again = true;
			} else {
				o->st = O_ESC;
				again = true;
			}
			break;
		case O_DBL_START:
		case O_DBL_END:
			if (o_ws(c) || c == '/' || c == '>') {
				bool match = strcmp(o->tmp, "script") == 0;

				if (o->st == O_DBL_START)
					o->st = match ? O_DBL : O_ESC;
				else
					o->st = match ? O_ESC : O_DBL;
			} else if (o_alpha(c)) {
				o_add(o->tmp, c);
			} else {
				o->st = o->st == O_DBL_START ? O_ESC : O_DBL;
				again = true;
			}
			break;
		case O_DBL:
		case O_DBL_DASH:
		case O_DBL_DASH_DASH:
			if (c == '-')
				o->st = o->st == O_DBL ? O_DBL_DASH : O_DBL_DASH_DASH;
			else if (c == '<')
				o->st = O_DBL_LT;
			else if (c == '>' && o->st == O_DBL_DASH_DASH)
				o->st = O_TEXT;
			else
				o->st = O_DBL;
			break;
		case O_DBL_LT:
			if (c == '/') {
				o->tmp[0] = '\0';
				o->st = O_DBL_END;
			} else {
				o->st = O_DBL;
				again = true;
			}
			break;
		case O_PLAIN:
			break;
		}
		if (!again)
			i++;
	}
}

/*
 * The property every rendered description has: the daemon's block, which
 * starts at block (its "\n\n"), is one comment of its own, opened by its
 * "<!--" and closed by the final "-->", outside anything the agent opened.
 */
static void assert_block_is_own_comment(const char *s, size_t n, size_t block)
{
	struct oracle o;

	memset(&o, 0, sizeof(o));
	o.at = block + 2;
	o.opened = o.closed = o.cstart = SIZE_MAX;
	oracle_run(&o, s, n);
	if (o.opened != block + 2 || o.closed != n - 2)
		fprintf(stderr, "%.*s\n", (int)n, s);
	if (o.opened != block + 2 || o.closed != n - 2)
		fail_msg("the receipt block at %zu is not a comment of its own (opened %zd, "
			 "closed %zd, length %zu)",
			 block, (ssize_t)o.opened, (ssize_t)o.closed, n);
	assert_int_equal(o.st, O_DATA);
}

static size_t count(const char *s, const char *needle)
{
	size_t k = 0;

	for (; (s = strstr(s, needle)) != NULL; s++)
		k++;
	return k;
}

static bool has_nocase(const char *s, const char *needle)
{
	size_t k = strlen(needle);

	for (; *s; s++)
		if (strncasecmp(s, needle, k) == 0)
			return true;
	return false;
}

static struct forge_capabilities caps_of(size_t max)
{
	struct forge_capabilities c = {"gitea", max, false, false, true, 50, false};

	return c;
}

/* Reverses the %XX escaping of one value. */
static char *unescape(const char *s, size_t n)
{
	char *o = malloc(n + 1);
	size_t i, k = 0;

	assert_non_null(o);
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			char hex[3] = {s[i + 1], s[i + 2], 0};

			assert_true(i + 2 < n);
			o[k++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			o[k++] = s[i];
		}
	}
	o[k] = '\0';
	return o;
}

/* Checks "key: <escaped value>\n" at *p and that it unescapes to want. */
static void expect_field(const char **p, const char *end, const char *key, const char *want)
{
	size_t kl = strlen(key);
	const char *nl;
	char *v;

	assert_true((size_t)(end - *p) > kl + 2);
	assert_memory_equal(*p, key, kl);
	assert_memory_equal(*p + kl, ": ", 2);
	*p += kl + 2;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	assert_non_null(nl);
	v = unescape(*p, (size_t)(nl - *p));
	assert_string_equal(v, want);
	free(v);
	*p = nl + 1;
}

/*
 * Every invariant of a successful render with a bundle: the length bound,
 * UTF-8, the summary whole or cut on a boundary, then what closes anything
 * the kept part left open, the notice exactly when cut, and the four
 * receipt fields recoverable from a comment nobody can close early, which
 * is the only place the marker appears and which the agent's text cannot
 * have swallowed.
 */
static void check_rendered(const struct forge_capabilities *caps,
			   const struct forge_pr_request *req, const struct buf *out)
{
	const char *s = buf_cstr(out), *block = NULL, *q, *end = s + out->len, *p;
	size_t slen = strlen(req->summary), body_len, kept, nl = strlen(NOTICE_LINE);
	bool cut;

	assert_true(out->len <= caps->max_description_len);
	assert_true(str_utf8_valid(s, out->len));
	assert_int_equal(count(s, FORGE_RECEIPT_MARKER), 1);
	assert_true(count(s, FORGE_TRUNCATION_NOTICE) <= 1);
	block = strstr(s, BLOCK_OPEN);
	assert_non_null(block);
	body_len = (size_t)(block - s);
	cut = body_len >= nl && memcmp(s + body_len - nl, NOTICE_LINE, nl) == 0;
	if (cut)
		body_len -= nl;
	/* The summary's longest common prefix, then at most a closer. */
	for (kept = 0; kept < body_len && kept < slen && s[kept] == req->summary[kept]; kept++)
		;
	assert_true(body_len - kept <= 32);
	if (!cut) {
		assert_int_equal(kept, slen);
	} else {
		assert_true(kept < slen || body_len > kept);
		/* Cut on a character boundary. */
		while (kept > 0 && ((unsigned char)req->summary[kept] & 0xc0) == 0x80)
			kept--;
		/* No more than needed (a closer may need more room: only without '<'). */
		if (body_len == kept && !strchr(req->summary, '<'))
			assert_true(caps->max_description_len - out->len < 4);
	}
	/* The closer holds nothing but the punctuation and names that close. */
	for (q = s + kept; q < s + body_len; q++)
		assert_non_null(strchr("-<>/\"'abcdefghijklmnopqrstuvwxyz", *q));
	assert_block_is_own_comment(s, out->len, (size_t)(block - s));
	p = block + strlen(BLOCK_OPEN);
	/* Inside the comment: no "--" and no '>' before the closing "-->". */
	{
		const char *close = end - 4;

		assert_memory_equal(close, "-->\n", 4);
		for (q = p; q < close; q++) {
			assert_int_not_equal(*q, '>');
			assert_false(q + 1 < close && q[0] == '-' && q[1] == '-');
		}
	}
	expect_field(&p, end, "session_id", req->receipt->session_id);
	expect_field(&p, end, "policy_bundle_id", req->receipt->policy_bundle_id);
	expect_field(&p, end, "trajectory_hash", req->receipt->trajectory_hash);
	expect_field(&p, end, "verification_passed",
		     req->receipt->verification_passed ? "true" : "false");
	assert_string_equal(p, "-->\n");
}

static const struct forge_receipt RECEIPT = {"sess-1234", "bundle-7", "sha256:abcdef", true};

static void test_no_bundle_is_body_exactly(void **state)
{
	struct forge_capabilities caps = caps_of(65536);
	struct forge_pr_request req = {"t", "h", "b", "My body\n<!-- x -->", NULL, &RECEIPT};
	struct buf out = BUF_INIT(0);

	(void)state;
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_string_equal(buf_cstr(&out), "My body\n<!-- x -->");
	buf_reset(&out);
	req.body = NULL;
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_int_equal(out.len, 0);
	/* Appends to what out held. */
	assert_int_equal(buf_puts(&out, "pre:"), 0);
	req.body = "x";
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_string_equal(buf_cstr(&out), "pre:x");
	buf_release(&out);
}

static void test_no_bundle_too_long(void **state)
{
	struct forge_capabilities caps = caps_of(10);
	struct forge_pr_request req = {"t", "h", "b", "0123456789A", NULL, NULL};
	struct buf out = BUF_INIT(0), err = BUF_INIT(1024);

	(void)state;
	assert_int_equal(forge_render_description_err(&caps, &req, &out, &err), -EINVAL);
	assert_int_equal(out.len, 0);
	assert_non_null(strstr(buf_cstr(&err), "longer than the forge allows"));
	req.body = "0123456789";
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_string_equal(buf_cstr(&out), "0123456789");
	buf_release(&out);
	buf_release(&err);
}

static void test_bundle_fits(void **state)
{
	struct forge_capabilities caps = caps_of(65536);
	struct forge_pr_request req = {"t", "h", "b", "ignored", "Did the thing.\n", &RECEIPT};
	struct buf out = BUF_INIT(0);

	(void)state;
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_string_equal(buf_cstr(&out), "Did the thing.\n"
					    "\n\n<!-- bottlefs:receipt\n"
					    "session_id: sess-1234\n"
					    "policy_bundle_id: bundle-7\n"
					    "trajectory_hash: sha256:abcdef\n"
					    "verification_passed: true\n"
					    "-->\n");
	assert_null(strstr(buf_cstr(&out), FORGE_TRUNCATION_NOTICE));
	check_rendered(&caps, &req, &out);
	buf_release(&out);
}

static size_t meta_len(const struct forge_receipt *rc)
{
	struct forge_capabilities caps = caps_of(SIZE_MAX / 4);
	struct forge_pr_request req = {"t", "h", "b", NULL, "", rc};
	struct buf out = BUF_INIT(0);
	size_t n;

	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	n = out.len;
	buf_release(&out);
	return n;
}

static void test_bundle_truncated_exact_fit(void **state)
{
	size_t m = meta_len(&RECEIPT), nl = strlen(NOTICE_LINE);
	struct forge_capabilities caps;
	char sum[101];
	struct forge_pr_request req = {"t", "h", "b", NULL, sum, &RECEIPT};
	struct buf out = BUF_INIT(0);

	(void)state;
	memset(sum, 'a', 100);
	memcpy(sum, "abc", 3);
	sum[100] = '\0';
	/* Exactly enough for the whole summary: not truncated. */
	caps = caps_of(m + 100);
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_int_equal(out.len, m + 100);
	assert_null(strstr(buf_cstr(&out), FORGE_TRUNCATION_NOTICE));
	buf_reset(&out);
	/* One byte less: cut, with the notice, exactly at the limit. */
	caps = caps_of(m + 99);
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_int_equal(out.len, m + 99);
	assert_memory_equal(buf_cstr(&out) + 99 - nl, NOTICE_LINE BLOCK_OPEN, nl + 5);
	check_rendered(&caps, &req, &out);
	buf_reset(&out);
	/* Room for the notice and 3 summary bytes. */
	caps = caps_of(m + nl + 3);
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_true(strncmp(buf_cstr(&out), "abc" NOTICE_LINE BLOCK_OPEN, 3 + nl + 5) == 0);
	check_rendered(&caps, &req, &out);
	buf_release(&out);
}

static void test_truncation_never_splits_utf8(void **state)
{
	/* "é" is 2 bytes, "€" 3, "😀" 4. */
	static const char sum[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
				  "and enough ascii after it that it never fits whole here";
	size_t m = meta_len(&RECEIPT), nl = strlen(NOTICE_LINE), room;
	struct forge_pr_request req = {"t", "h", "b", NULL, sum, &RECEIPT};
	static const size_t want[] = {0, 0, 2, 2, 2, 5, 5, 5, 5, 9, 9, 9, 9};
	struct buf out = BUF_INIT(0);

	(void)state;
	for (room = 0; room < 13; room++) {
		struct forge_capabilities caps = caps_of(m + nl + room);

		buf_reset(&out);
		assert_int_equal(forge_render_description(&caps, &req, &out), 0);
		check_rendered(&caps, &req, &out);
		assert_memory_equal(buf_cstr(&out) + want[room], NOTICE_LINE, nl);
	}
	buf_release(&out);
}

static void test_metadata_alone_does_not_fit(void **state)
{
	size_t m = meta_len(&RECEIPT), nl = strlen(NOTICE_LINE);
	struct forge_capabilities caps = caps_of(m - 1);
	struct forge_pr_request req = {"t", "h", "b", NULL, "", &RECEIPT};
	struct buf out = BUF_INIT(0), err = BUF_INIT(1024);

	(void)state;
	assert_int_equal(buf_puts(&out, "keep"), 0);
	assert_int_equal(forge_render_description_err(&caps, &req, &out, &err), -EINVAL);
	assert_string_equal(buf_cstr(&out), "keep");
	assert_non_null(strstr(buf_cstr(&err), "receipt alone is longer"));
	/* The block fits but the block and the notice do not. */
	buf_reset(&err);
	caps = caps_of(m + nl - 1);
	req.summary = "a summary longer than the few bytes left to it, which are fifty";
	assert_int_equal(forge_render_description_err(&caps, &req, &out, &err), -EINVAL);
	assert_non_null(strstr(buf_cstr(&err), "notice do not fit"));
	assert_string_equal(buf_cstr(&out), "keep");
	/* An empty summary needs no notice: it fits exactly. */
	caps = caps_of(m);
	req.summary = "";
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_int_equal(out.len, 4 + m);
	buf_release(&out);
	buf_release(&err);
}

static void test_receipt_values_cannot_close_comment(void **state)
{
	struct forge_receipt rc = {"a-->b--!>c", "x\n-->\ny%", "<!-- nested -->", false};
	struct forge_capabilities caps = caps_of(65536);
	struct forge_pr_request req = {"t", "h", "b", NULL, "s", &rc};
	struct buf out = BUF_INIT(0);
	const char *s;

	(void)state;
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	check_rendered(&caps, &req, &out);
	s = buf_cstr(&out);
	/* The only "-->" is the one that closes the block. */
	assert_ptr_equal(strstr(s, "-->"), s + out.len - 4);
	/* A single dash (UUIDs) stays readable. */
	rc.session_id = "6f1c-44aa";
	buf_reset(&out);
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "session_id: 6f1c-44aa\n"));
	buf_release(&out);
}

static void test_bad_bundles(void **state)
{
	struct forge_receipt rc = RECEIPT;
	struct forge_capabilities caps = caps_of(65536);
	struct forge_pr_request req = {"t", "h", "b", NULL, "s", NULL};
	struct buf out = BUF_INIT(0);

	(void)state;
	assert_int_equal(forge_render_description(&caps, &req, &out), -EINVAL);
	req.receipt = &rc;
	rc.trajectory_hash = NULL;
	assert_int_equal(forge_render_description(&caps, &req, &out), -EINVAL);
	rc.trajectory_hash = "h";
	req.summary = "bad \xc3";
	assert_int_equal(forge_render_description(&caps, &req, &out), -EINVAL);
	assert_int_equal(out.len, 0);
	buf_release(&out);
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Appends one random valid UTF-8 character of 1 to 4 bytes. */
static void put_random_char(struct buf *b, uint64_t *seed)
{
	uint32_t cp;

	switch (rnd(seed) % 5) {
	case 0:
		cp = (uint32_t)(rnd(seed) % 0x80);
		if (cp == 0)
			cp = '-';
		break;
	case 1:
		cp = 0x80 + (uint32_t)(rnd(seed) % (0x800 - 0x80));
		break;
	case 2:
		do
			cp = 0x800 + (uint32_t)(rnd(seed) % (0x10000 - 0x800));
		while (cp >= 0xd800 && cp <= 0xdfff);
		break;
	case 3:
		cp = 0x10000 + (uint32_t)(rnd(seed) % (0x110000 - 0x10000));
		break;
	default: {
		static const char *const bits[] = {"--", ">", "-->", "\n", "%", "<!--", " "};

		assert_int_equal(buf_puts(b, bits[rnd(seed) % 7]), 0);
		return;
	}
	}
	if (cp < 0x80) {
		assert_int_equal(buf_putc(b, (char)cp), 0);
	} else if (cp < 0x800) {
		assert_int_equal(buf_putc(b, (char)(0xc0 | (cp >> 6))), 0);
		assert_int_equal(buf_putc(b, (char)(0x80 | (cp & 0x3f))), 0);
	} else if (cp < 0x10000) {
		assert_int_equal(buf_putc(b, (char)(0xe0 | (cp >> 12))), 0);
		assert_int_equal(buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f))), 0);
		assert_int_equal(buf_putc(b, (char)(0x80 | (cp & 0x3f))), 0);
	} else {
		assert_int_equal(buf_putc(b, (char)(0xf0 | (cp >> 18))), 0);
		assert_int_equal(buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f))), 0);
		assert_int_equal(buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f))), 0);
		assert_int_equal(buf_putc(b, (char)(0x80 | (cp & 0x3f))), 0);
	}
}

static void random_text(struct buf *b, uint64_t *seed, size_t approx)
{
	buf_reset(b);
	assert_int_equal(buf_puts(b, ""), 0);
	while (b->len < approx)
		put_random_char(b, seed);
}

static void test_randomized(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	struct buf sum = BUF_INIT(0), v1 = BUF_INIT(0), v2 = BUF_INIT(0), v3 = BUF_INIT(0);
	struct buf out = BUF_INIT(0);
	size_t iter, ok = 0, cut = 0, refused = 0;

	(void)state;
	for (iter = 0; iter < 3000; iter++) {
		struct forge_receipt rc;
		struct forge_capabilities caps;
		struct forge_pr_request req;
		size_t slen, m, max, nl = strlen(NOTICE_LINE);
		int r;

		/* Mostly small, sometimes huge (up to 1 MB) summaries. */
		slen = iter % 50 == 0 ? (size_t)(rnd(&seed) % (1u << 20))
				      : (size_t)(rnd(&seed) % 3000);
		random_text(&sum, &seed, slen);
		random_text(&v1, &seed, (size_t)(rnd(&seed) % 60));
		random_text(&v2, &seed, (size_t)(rnd(&seed) % 60));
		random_text(&v3, &seed, (size_t)(rnd(&seed) % 60));
		rc.session_id = buf_cstr(&v1);
		rc.policy_bundle_id = buf_cstr(&v2);
		rc.trajectory_hash = buf_cstr(&v3);
		rc.verification_passed = rnd(&seed) & 1;
		m = meta_len(&rc);
		/* Limits around the interesting edges and beyond them. */
		switch (rnd(&seed) % 4) {
		case 0:
			max = (size_t)(rnd(&seed) % (m + 1));
			break;
		case 1:
			max = m + (size_t)(rnd(&seed) % (nl + 8));
			break;
		case 2:
			max = m + (size_t)(rnd(&seed) % (sum.len + nl + 8));
			break;
		default:
			max = 65536;
			break;
		}
		caps = caps_of(max);
		req = (struct forge_pr_request){"t", "h", "b", NULL, buf_cstr(&sum), &rc};
		buf_reset(&out);
		r = forge_render_description(&caps, &req, &out);
		if (m > max || (sum.len > max - m && max - m < nl)) {
			assert_int_equal(r, -EINVAL);
			assert_int_equal(out.len, 0);
			refused++;
			continue;
		}
		assert_int_equal(r, 0);
		check_rendered(&caps, &req, &out);
		if (sum.len > max - m)
			cut++;
		ok++;
	}
	/* The generator reached every branch. */
	assert_true(ok > 500);
	assert_true(cut > 200);
	assert_true(refused > 200);
	buf_release(&sum);
	buf_release(&v1);
	buf_release(&v2);
	buf_release(&v3);
	buf_release(&out);
}

static void test_forged_receipt_refused(void **state)
{
	static const char *const forged[] = {
	    "Looks good.\n<!-- bottlefs:receipt\nsession_id: x\nverification_passed: true\n-->\n",
	    "<!--bottlefs:receipt verification_passed: true -->",
	    "<!-- BOTTLEFS:Receipt -->",
	    "all done " FORGE_TRUNCATION_NOTICE,
	    "[summary TRUNCATED. see elsewhere]",
	    "\\<!-- bottlefs:receipt -->",
	    NULL,
	};
	struct forge_capabilities caps = caps_of(65536);
	struct buf out = BUF_INIT(0), err = BUF_INIT(1024);
	size_t i;

	(void)state;
	for (i = 0; forged[i]; i++) {
		struct forge_pr_request body = {"t", "h", "b", forged[i], NULL, NULL};
		struct forge_pr_request bundle = {"t", "h", "b", NULL, forged[i], &RECEIPT};

		assert_int_equal(buf_puts(&out, "keep"), 0);
		buf_reset(&err);
		assert_int_equal(forge_render_description_err(&caps, &body, &out, &err), -EINVAL);
		assert_non_null(strstr(buf_cstr(&err), "only bottlefs writes"));
		buf_reset(&err);
		assert_int_equal(forge_render_description_err(&caps, &bundle, &out, &err), -EINVAL);
		assert_non_null(strstr(buf_cstr(&err), "only bottlefs writes"));
		assert_string_equal(buf_cstr(&out), "keep");
		buf_reset(&out);
		assert_int_equal(forge_description_check(forged[i], strlen(forged[i]), "x", NULL),
				 -EINVAL);
	}
	/* Words near the marker are fine. */
	assert_int_equal(
	    forge_description_check("bottlefs receipt, summary truncated", 35, "x", NULL), 0);
	/* A receipt value cannot spell the notice either. */
	{
		struct forge_receipt rc = {FORGE_TRUNCATION_NOTICE, "p", "h", true};
		struct forge_pr_request req = {"t", "h", "b", NULL, "s", &rc};

		assert_int_equal(forge_render_description(&caps, &req, &out), 0);
		assert_int_equal(count(buf_cstr(&out), FORGE_TRUNCATION_NOTICE), 0);
		check_rendered(&caps, &req, &out);
	}
	buf_release(&out);
	buf_release(&err);
}

static void test_closer(void **state)
{
	static const struct {
		const char *text, *closer;
	} cases[] = {
	    {"plain", ""},
	    {"a <!-- b --> c", ""},
	    {"a <!-- b", "-->"},
	    {"a <!--", "-->"},
	    {"a <!-->", ""},
	    {"a <!--->", ""},
	    {"a <!-- b --!> c", ""},
	    {"a <!-- b --", "-->"},
	    {"a <!-- b -- > c", "-->"},
	    {"<!", ">"},
	    {"<!-", ">"},
	    {"<!DOCTYPE html", ">"},
	    {"<![CDATA[ x", ">"},
	    {"<?php echo 1", ">"},
	    {"</", ">"},
	    {"</1 x", ">"},
	    {"</>", ""},
	    {"a < b", ""},
	    {"<a", ">"},
	    {"<a href=\"x", "\">"},
	    {"<a title='it\"s", "'>"},
	    {"<a title=x\"y", ">"},
	    {"<a b=\"<!--\">", ""},
	    {"<textarea>", "</textarea>"},
	    {"<TEXTAREA rows=2>x</textarea>", ""},
	    {"<textarea>x</textarea", ">"},
	    {"<textarea", "></textarea>"},
	    {"<style>a{}</style >", ""},
	    {"<title>x</titlex", "</title>"},
	    {"<script>if (a<b)", "--></script>"},
	    {"<script><!--", "--></script>"},
	    {"<script><!--<script></script>", "--></script>"},
	    {"<script><!--<script></script>--></script>", ""},
	    {"<scripts>", ""},
	    {"<textareas>", ""},
	};
	struct buf out = BUF_INIT(64);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&out);
		assert_int_equal(
		    forge_description_closer(cases[i].text, strlen(cases[i].text), &out), 0);
		if (strcmp(buf_cstr(&out), cases[i].closer) != 0)
			fail_msg("closer of '%s' is '%s', want '%s'", cases[i].text, buf_cstr(&out),
				 cases[i].closer);
	}
	assert_int_equal(forge_description_closer("<plaintext>", 11, &out), -EINVAL);
	assert_int_equal(forge_description_closer("<plaintext", 10, &out), -EINVAL);
	buf_release(&out);
}

static void test_unclosed_comment_cannot_swallow(void **state)
{
	struct forge_capabilities caps = caps_of(65536);
	struct forge_pr_request req = {
	    "t", "h", "b", NULL, "Ready.\n<!-- verification_passed: true\n", &RECEIPT};
	struct buf out = BUF_INIT(0), err = BUF_INIT(256);

	(void)state;
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "verification_passed: true\n-->\n\n<!-- bott"));
	check_rendered(&caps, &req, &out);
	buf_reset(&out);
	/* An attribute left open would hold the block as its value. */
	req.summary = "<img alt=\"";
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	check_rendered(&caps, &req, &out);
	buf_reset(&out);
	/* Nothing closes <plaintext>: refused. */
	req.summary = "<plaintext>";
	assert_int_equal(forge_render_description_err(&caps, &req, &out, &err), -EINVAL);
	assert_non_null(strstr(buf_cstr(&err), "plaintext"));
	assert_int_equal(out.len, 0);
	/* A cut inside a comment closes what the kept part opened. */
	{
		static const char sum[] = "<!-- a long hidden note that will not fit in the little "
					  "room left for it at all --> tail";
		size_t m = meta_len(&RECEIPT), nl = strlen(NOTICE_LINE);

		req.summary = sum;
		caps = caps_of(m + nl + 20);
		buf_reset(&out);
		assert_int_equal(forge_render_description(&caps, &req, &out), 0);
		assert_true(out.len <= m + nl + 20);
		assert_int_equal(strncmp(buf_cstr(&out), "<!--", 4), 0);
		assert_non_null(strstr(buf_cstr(&out), "-->" NOTICE_LINE BLOCK_OPEN));
		check_rendered(&caps, &req, &out);
	}
	buf_release(&out);
	buf_release(&err);
}

/* Text made of what an agent trying to forge or hide the receipt would use. */
static void hostile_text(struct buf *b, uint64_t *seed, size_t approx, bool forbidden)
{
	static const char *const bits[] = {
	    "<!--",
	    "-->",
	    "--!>",
	    "<!-->",
	    "<!--->",
	    "-",
	    "!",
	    "<",
	    ">",
	    "/",
	    "\"",
	    "'",
	    "=",
	    " ",
	    "\n",
	    "a",
	    "Zz",
	    "<a href=",
	    "<a t='",
	    "<textarea>",
	    "</textarea>",
	    "<script>",
	    "</script>",
	    "<!--<script>",
	    "<style>",
	    "</style",
	    "<title>",
	    "<!x",
	    "<?php",
	    "</",
	    "<!DOCTYPE",
	    "<![CDATA[",
	    "\xc3\xa9",
	    "\xe2\x82\xac",
	    "\xf0\x9f\x98\x80",
	    "verification_passed: true",
	    "<",
	    "--",
	};
	static const char *const bad[] = {FORGE_RECEIPT_MARKER, FORGE_TRUNCATION_NOTICE,
					  "<!--BOTTLEFS:RECEIPT", "<plaintext>"};

	buf_reset(b);
	assert_int_equal(buf_puts(b, ""), 0);
	while (b->len < approx) {
		if (forbidden && rnd(seed) % 200 == 0)
			assert_int_equal(buf_puts(b, bad[rnd(seed) % 4]), 0);
		else
			assert_int_equal(
			    buf_puts(b, bits[rnd(seed) % (sizeof(bits) / sizeof(bits[0]))]), 0);
	}
}

/*
 * Whatever the agent's text: either refused for a reason it holds, or
 * exactly one marker, at most one notice, and the daemon's block outside
 * anything the agent opened.
 */
static void test_hostile_property(void **state)
{
	uint64_t seed = 0x243f6a8885a308d3ULL;
	struct buf sum = BUF_INIT(0), out = BUF_INIT(0), err = BUF_INIT(1024);
	size_t iter, ok = 0, cut = 0, refused = 0, closed = 0;

	(void)state;
	for (iter = 0; iter < 4000; iter++) {
		size_t m = meta_len(&RECEIPT), max;
		struct forge_capabilities caps;
		struct forge_pr_request req;
		bool forbidden;
		int r;

		hostile_text(&sum, &seed, (size_t)(rnd(&seed) % 400), iter % 3 == 0);
		max = rnd(&seed) % 2 ? 65536 : m + (size_t)(rnd(&seed) % (sum.len + 80));
		caps = caps_of(max);
		forbidden = has_nocase(buf_cstr(&sum), "bottlefs:receipt") ||
			    has_nocase(buf_cstr(&sum), "[summary truncated.");
		req = (struct forge_pr_request){"t", "h", "b", NULL, buf_cstr(&sum), &RECEIPT};
		buf_reset(&out);
		buf_reset(&err);
		r = forge_render_description_err(&caps, &req, &out, &err);
		if (r < 0) {
			assert_int_equal(r, -EINVAL);
			assert_int_equal(out.len, 0);
			assert_true(forbidden || has_nocase(buf_cstr(&sum), "<plaintext") ||
				    strstr(buf_cstr(&err), "do not fit"));
			refused++;
			continue;
		}
		assert_false(forbidden);
		check_rendered(&caps, &req, &out);
		if (strstr(buf_cstr(&out), FORGE_TRUNCATION_NOTICE))
			cut++;
		if (!strstr(buf_cstr(&out), BLOCK_OPEN) ||
		    strncmp(buf_cstr(&out), buf_cstr(&sum), sum.len) != 0)
			closed++;
		ok++;
		/* The same text as a plain body: refused for the same reasons, else as is. */
		req.summary = NULL;
		req.body = buf_cstr(&sum);
		buf_reset(&out);
		r = forge_render_description(&caps, &req, &out);
		if (sum.len <= max) {
			assert_int_equal(r, 0);
			assert_string_equal(buf_cstr(&out), buf_cstr(&sum));
		}
	}
	assert_true(ok > 1000);
	assert_true(cut > 200);
	assert_true(refused > 200);
	assert_true(closed > 200);
	buf_release(&sum);
	buf_release(&out);
	buf_release(&err);
}

/* The description a PR opened with RECEIPT and summary has on the forge. */
static char *opened_with(const char *summary, size_t max)
{
	struct forge_capabilities caps = caps_of(max);
	struct forge_pr_request req = {"t", "h", "b", NULL, summary, &RECEIPT};
	struct buf out = BUF_INIT(0);

	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	return buf_steal(&out, NULL);
}

static void test_pr_body_keeps_receipt(void **state)
{
	struct forge_capabilities caps = caps_of(65536);
	struct buf out = BUF_INIT(0), err = BUF_INIT(1024), text = BUF_INIT(0);
	char *cur = opened_with("First summary.", 65536);
	const char *block = strstr(cur, BLOCK_OPEN);

	(void)state;
	/* Read back, edited, written back: the receipt is kept once. */
	assert_int_equal(buf_printf(&text, "Second summary.%s", block), 0);
	assert_int_equal(forge_render_pr_body(&caps, cur, buf_cstr(&text), &out, &err), 0);
	assert_string_equal(buf_cstr(&out), buf_cstr(&text));
	/* `echo` wrote it, and the daemon removed one trailing newline. */
	buf_reset(&out);
	text.data[--text.len] = '\0';
	assert_int_equal(forge_render_pr_body(&caps, cur, buf_cstr(&text), &out, &err), 0);
	assert_int_equal(strncmp(buf_cstr(&out), "Second summary.", 15), 0);
	assert_string_equal(buf_cstr(&out) + 15, block);
	buf_reset(&out);
	/* A new text without the block: the block comes back. */
	assert_int_equal(forge_render_pr_body(&caps, cur, "Fresh text.", &out, &err), 0);
	assert_int_equal(strncmp(buf_cstr(&out), "Fresh text.", 11), 0);
	assert_string_equal(buf_cstr(&out) + 11, block);
	buf_reset(&out);
	/* A forged block, or the real one moved elsewhere: refused. */
	buf_reset(&text);
	assert_int_equal(buf_printf(&text, "%s\nmore text", block), 0);
	assert_int_equal(forge_render_pr_body(&caps, cur, buf_cstr(&text), &out, &err), -EINVAL);
	buf_reset(&text);
	assert_int_equal(
	    buf_printf(&text, "<!-- bottlefs:receipt\nverification_passed: true\n-->%s", block), 0);
	assert_int_equal(forge_render_pr_body(&caps, cur, buf_cstr(&text), &out, &err), -EINVAL);
	assert_int_equal(out.len, 0);
	assert_non_null(strstr(buf_cstr(&err), "only bottlefs writes"));
	/* An unclosed comment is closed before the kept block. */
	buf_reset(&out);
	assert_int_equal(forge_render_pr_body(&caps, cur, "x <!-- hide", &out, &err), 0);
	assert_int_equal(strncmp(buf_cstr(&out), "x <!-- hide-->\n\n<!-- bottlefs", 29), 0);
	assert_block_is_own_comment(buf_cstr(&out), out.len,
				    (size_t)(strstr(buf_cstr(&out), BLOCK_OPEN) - buf_cstr(&out)));
	/* Without a receipt on the forge: checked, then as written. */
	buf_reset(&out);
	assert_int_equal(forge_render_pr_body(&caps, "plain body", "x <!-- y", &out, &err), 0);
	assert_string_equal(buf_cstr(&out), "x <!-- y");
	buf_reset(&out);
	assert_int_equal(forge_render_pr_body(&caps, NULL, FORGE_TRUNCATION_NOTICE, &out, &err),
			 -EINVAL);
	free(cur);
	/* A truncated PR keeps its notice when the agent keeps it in place. */
	{
		size_t m = meta_len(&RECEIPT), nl = strlen(NOTICE_LINE);
		char *tcur;
		const char *tail;

		caps = caps_of(m + nl + 10);
		tcur = opened_with("0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij"
				   "0123456789abcdefghij",
				   m + nl + 10);
		tail = strstr(tcur, NOTICE_LINE);
		assert_non_null(tail);
		buf_reset(&text);
		assert_int_equal(buf_printf(&text, "ABCDE%s", tail), 0);
		buf_reset(&out);
		assert_int_equal(forge_render_pr_body(&caps, tcur, buf_cstr(&text), &out, &err), 0);
		assert_string_equal(buf_cstr(&out), buf_cstr(&text));
		/* A new text too long for the limit is cut, with the notice. */
		buf_reset(&out);
		assert_int_equal(
		    forge_render_pr_body(&caps, tcur,
					 "a new and much longer text, longer than the notice and "
					 "the ten bytes of room left beside it",
					 &out, &err),
		    0);
		assert_int_equal(count(buf_cstr(&out), FORGE_TRUNCATION_NOTICE), 1);
		assert_true(out.len <= m + nl + 10);
		free(tcur);
	}
	buf_release(&out);
	buf_release(&err);
	buf_release(&text);
}

/* Edits of a PR description, whatever the agent writes, keep the property. */
static void test_pr_body_property(void **state)
{
	uint64_t seed = 0x13198a2e03707344ULL;
	struct buf sum = BUF_INIT(0), text = BUF_INIT(0), out = BUF_INIT(0);
	size_t iter, ok = 0, kept_block = 0;

	(void)state;
	for (iter = 0; iter < 2000; iter++) {
		struct forge_capabilities caps = caps_of(rnd(&seed) % 2 ? 65536 : 800);
		char *cur = NULL;
		const char *block;
		int r;

		hostile_text(&sum, &seed, (size_t)(rnd(&seed) % 300), false);
		if (forge_description_check(sum.data, sum.len, "x", NULL) < 0 ||
		    !(cur = opened_with(buf_cstr(&sum), caps.max_description_len)))
			continue;
		block = strstr(cur, BLOCK_OPEN);
		hostile_text(&text, &seed, (size_t)(rnd(&seed) % 300), iter % 4 == 0);
		if (rnd(&seed) % 2) /* written back after an edit */
			assert_int_equal(buf_puts(&text, strstr(cur, NOTICE_LINE)
							     ? strstr(cur, NOTICE_LINE)
							     : block),
					 0);
		buf_reset(&out);
		r = forge_render_pr_body(&caps, cur, buf_cstr(&text), &out, NULL);
		if (r == 0) {
			const char *b = strstr(buf_cstr(&out), BLOCK_OPEN);

			assert_true(out.len <= caps.max_description_len);
			assert_int_equal(count(buf_cstr(&out), FORGE_RECEIPT_MARKER), 1);
			assert_true(count(buf_cstr(&out), FORGE_TRUNCATION_NOTICE) <= 1);
			assert_non_null(b);
			assert_string_equal(b, block);
			assert_block_is_own_comment(buf_cstr(&out), out.len,
						    (size_t)(b - buf_cstr(&out)));
			kept_block++;
			ok++;
		} else {
			assert_int_equal(r, -EINVAL);
		}
		free(cur);
	}
	assert_true(ok > 500);
	assert_true(kept_block > 500);
	buf_release(&sum);
	buf_release(&text);
	buf_release(&out);
}

static void test_capabilities_json(void **state)
{
	struct forge_capabilities caps = caps_of(65536);
	char *s = forge_capabilities_json(&caps);

	(void)state;
	assert_non_null(s);
	assert_string_equal(s, "{\n"
			       "  \"name\": \"gitea\",\n"
			       "  \"max_description_len\": 65536,\n"
			       "  \"structured_metadata\": false,\n"
			       "  \"push_branch\": false,\n"
			       "  \"update_pr_status\": true,\n"
			       "  \"max_page_size\": 50\n"
			       "}\n");
	free(s);
}

static void test_copy_and_release(void **state)
{
	char *labels[] = {"bug", "ui"};
	struct forge_issue src = {5,	  "title", "body", "open", "me",   labels, 2,	  3,
				  "2025", "2024",  true,   "feat", "main", true,   "{}\n"};
	struct forge_issue dst;
	struct forge_comment c = {1, 5, "b", "a", "c", "u"}, cd;

	(void)state;
	assert_int_equal(forge_issue_copy(&dst, &src), 0);
	assert_ptr_not_equal(dst.title, src.title);
	assert_string_equal(dst.title, "title");
	assert_int_equal(dst.n_labels, 2);
	assert_string_equal(dst.labels[1], "ui");
	assert_string_equal(dst.head, "feat");
	assert_string_equal(dst.created_at, "2024");
	assert_true(dst.merged);
	assert_string_equal(dst.json, "{}\n");
	forge_issue_release(&dst);
	assert_null(dst.title);
	assert_int_equal(forge_comment_copy(&cd, &c), 0);
	assert_string_equal(cd.updated_at, "u");
	assert_int_equal(cd.issue, 5);
	forge_comment_release(&cd);
	forge_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_bundle_is_body_exactly),
	    cmocka_unit_test(test_no_bundle_too_long),
	    cmocka_unit_test(test_bundle_fits),
	    cmocka_unit_test(test_bundle_truncated_exact_fit),
	    cmocka_unit_test(test_truncation_never_splits_utf8),
	    cmocka_unit_test(test_metadata_alone_does_not_fit),
	    cmocka_unit_test(test_receipt_values_cannot_close_comment),
	    cmocka_unit_test(test_bad_bundles),
	    cmocka_unit_test(test_randomized),
	    cmocka_unit_test(test_forged_receipt_refused),
	    cmocka_unit_test(test_closer),
	    cmocka_unit_test(test_unclosed_comment_cannot_swallow),
	    cmocka_unit_test(test_hostile_property),
	    cmocka_unit_test(test_pr_body_keeps_receipt),
	    cmocka_unit_test(test_pr_body_property),
	    cmocka_unit_test(test_capabilities_json),
	    cmocka_unit_test(test_copy_and_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
