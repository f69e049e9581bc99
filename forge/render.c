/*
 * render: the pull request description under the Forge Adapter Contract
 * (ADR-0018). Pure: no I/O, no allocation outside the buffers it is given
 * and scratch buffers.
 *
 * Layout with a bundle, the whole never longer than
 * caps->max_description_len, counted in caps->description_unit (bytes for
 * Gitea, characters for GitHub, whose limit is 65 536 characters whatever
 * their size in UTF-8):
 *
 *   <summary, or its longest prefix that fits, cut on a UTF-8 boundary>
 *   <closer: what ends anything the kept summary left open>
 *   ["\n" FORGE_TRUNCATION_NOTICE]            only when the summary was cut
 *   "\n\n<!-- bottlefs:receipt\n"
 *   "session_id: V\npolicy_bundle_id: V\ntrajectory_hash: V\n"
 *   "verification_passed: true|false\n-->\n"
 *
 * The receipt goes in a hidden HTML comment because a forge without
 * structured PR metadata (Gitea) has nowhere else to keep it; the block is
 * reserved first so the four fields always survive, and the summary gets
 * what is left.
 *
 * Nobody but the daemon may write the receipt or the notice, or a reader
 * could not tell a forged "verification_passed: true" from the real one:
 * an agent's text holding the marker or the notice is refused, and the
 * comment, tag or raw-text element it leaves open is closed before the
 * daemon's block, so the block is never inside something the agent
 * opened (an unclosed "<!--" would otherwise turn the receipt into the
 * tail of the agent's comment).
 */
#include "forge/forge.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/str.h"

#define RECEIPT_OPEN "\n\n" FORGE_RECEIPT_MARKER "\n"
#define RECEIPT_CLOSE "\n-->\n"
/* The longest closer: a quote, ">", then "--></script>" (or "</noframes>"). */
#define CLOSER_MAX 16

static const char notice_line[] = "\n" FORGE_TRUNCATION_NOTICE;
#define NOTICE_LEN (sizeof(notice_line) - 1)

static void set_err(struct buf *err, const char *msg)
{
	if (err)
		buf_note(err, "%s", msg);
}

/* First occurrence of needle in s[0..n) ignoring ASCII case, or NULL. */
static const char *find_nocase(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	for (i = 0; k <= n && i <= n - k; i++)
		if (strncasecmp(s + i, needle, k) == 0)
			return s + i;
	return NULL;
}

static const char *find(const char *s, size_t n, const char *needle)
{
	return memmem(s, n, needle, strlen(needle));
}

int forge_description_check(const char *text, size_t n, const char *what, struct buf *err)
{
	if (find_nocase(text, n, "bottlefs:receipt"))
		return buf_fail(err, -EINVAL,
				"%s holds 'bottlefs:receipt': only bottlefs writes the receipt",
				what);
	if (find_nocase(text, n, "[summary truncated."))
		return buf_fail(err, -EINVAL,
				"%s holds '[Summary truncated.': only bottlefs writes that notice",
				what);
	return 0;
}

/* ---- what an agent's HTML leaves open -------------------------------- */

enum hstate {
	H_DATA,
	H_COMMENT, /* after "<!--", until "-->" or "--!>" */
	H_BOGUS,   /* "<!x", "<?", "</1": until '>' */
	H_TAG,	   /* a start or end tag, until '>' outside a quoted value */
	H_RAW,	   /* inside a raw-text element, until its end tag */
	H_PLAIN,   /* inside <plaintext>: until the end of the document */
};

/* Script data's escape states (HTML5 8.2.4): "<!--" and "<script" nest. */
enum script_state { S_DATA, S_ESCAPED, S_DOUBLE };

/* Inside a tag (HTML5 13.2.5.8 to 13.2.5.40, attributes kept abstract). */
enum tag_state {
	T_NAME,
	T_BEFORE_ATTR,
	T_ATTR_NAME,
	T_AFTER_ATTR,
	T_BEFORE_VALUE,
	T_VALUE_QUOTED,
	T_VALUE, /* unquoted */
	T_AFTER_VALUE,
	T_SELF_CLOSE,
};

struct html {
	enum hstate st;
	enum tag_state tag; /* H_TAG */
	bool end_tag;	    /* H_TAG: an end tag */
	char quote;	    /* T_VALUE_QUOTED: its quote */
	char name[12];	    /* H_TAG, H_RAW: the element, lower case */
	size_t name_len;    /* its real length (may exceed the array: then no match) */
	enum script_state script;
	size_t dashes; /* H_RAW script, escaped: the run of '-' just read */
};

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Elements whose content is text up to their own end tag. */
static bool raw_element(const char *name)
{
	static const char *const raw[] = {"script", "style",   "textarea", "title",    "xmp",
					  "iframe", "noembed", "noframes", "noscript", NULL};
	size_t i;

	for (i = 0; raw[i]; i++)
		if (strcmp(name, raw[i]) == 0)
			return true;
	return false;
}

static bool starts(const char *s, size_t n, size_t i, const char *lit)
{
	size_t k = strlen(lit);

	return n - i >= k && strncasecmp(s + i, lit, k) == 0;
}

/*
 * At s[i] == '<' inside a raw-text element: the length of "</name" when an
 * end tag of the element begins here (followed by a space, '/', '>' or the
 * end of the text), else 0.
 */
static size_t raw_end_tag(const struct html *h, const char *s, size_t n, size_t i)
{
	size_t k = h->name_len;

	if (n - i < 2 + k || s[i + 1] != '/' || strncasecmp(s + i + 2, h->name, k) != 0)
		return 0;
	if (i + 2 + k < n && !is_space(s[i + 2 + k]) && s[i + 2 + k] != '/' && s[i + 2 + k] != '>')
		return 0;
	return 2 + k;
}

static void begin_tag(struct html *h, bool end_tag)
{
	h->st = H_TAG;
	h->tag = T_NAME;
	h->end_tag = end_tag;
	h->quote = 0;
	h->name_len = 0;
	h->name[0] = '\0';
}

static void end_of_tag(struct html *h)
{
	h->st = H_DATA;
	if (h->end_tag || h->name_len >= sizeof(h->name))
		return;
	if (strcmp(h->name, "plaintext") == 0) {
		h->st = H_PLAIN;
	} else if (raw_element(h->name)) {
		h->st = H_RAW;
		h->script = S_DATA;
	}
}

/* One step in the data state at s[i] == '<'; returns how many bytes it used. */
static size_t data_lt(struct html *h, const char *s, size_t n, size_t i)
{
	size_t left = n - i;

	if (left == 1)
		return 1; /* "<" then a newline: text */
	if (s[i + 1] == '!') {
		if (starts(s, n, i, "<!--")) {
			i += 4;
			/* "<!-->" and "<!--->" are whole (empty) comments. */
			if (i < n && s[i] == '>')
				return 5;
			if (n - i >= 2 && s[i] == '-' && s[i + 1] == '>')
				return 6;
			h->st = H_COMMENT;
			return 4;
		}
		h->st = H_BOGUS; /* "<!", "<!-" at the end, "<!DOCTYPE", "<![CDATA[" */
		return 2;
	}
	if (s[i + 1] == '?') {
		h->st = H_BOGUS;
		return 2;
	}
	if (s[i + 1] == '/') {
		if (left == 2) {
			h->st = H_BOGUS; /* "</" then what follows would open a bogus comment */
			return 2;
		}
		if (is_alpha(s[i + 2])) {
			begin_tag(h, true);
			return 2;
		}
		if (s[i + 2] == '>')
			return 3;
		h->st = H_BOGUS;
		return 2;
	}
	if (is_alpha(s[i + 1])) {
		begin_tag(h, false);
		return 1;
	}
	return 1;
}

static void tag_byte(struct html *h, char c)
{
	for (;;) { /* a `continue` reconsumes c in the new state */
		switch (h->tag) {
		case T_NAME:
			if (is_space(c)) {
				h->tag = T_BEFORE_ATTR;
			} else if (c == '/') {
				h->tag = T_SELF_CLOSE;
			} else if (c == '>') {
				end_of_tag(h);
			} else {
				if (h->name_len + 1 < sizeof(h->name)) {
					h->name[h->name_len] = lower(c);
					h->name[h->name_len + 1] = '\0';
				}
				h->name_len++;
			}
			return;
		case T_BEFORE_ATTR:
			if (c == '/' || c == '>') {
				h->tag = T_AFTER_ATTR;
				continue;
			}
			if (!is_space(c))
				h->tag = T_ATTR_NAME; /* even '=' starts a name here */
			return;
		case T_ATTR_NAME:
			if (is_space(c) || c == '/' || c == '>') {
				h->tag = T_AFTER_ATTR;
				continue;
			}
			if (c == '=')
				h->tag = T_BEFORE_VALUE;
			return;
		case T_AFTER_ATTR:
			if (c == '/')
				h->tag = T_SELF_CLOSE;
			else if (c == '=')
				h->tag = T_BEFORE_VALUE;
			else if (c == '>')
				end_of_tag(h);
			else if (!is_space(c))
				h->tag = T_ATTR_NAME;
			return;
		case T_BEFORE_VALUE:
			if (c == '"' || c == '\'') {
				h->quote = c;
				h->tag = T_VALUE_QUOTED;
			} else if (c == '>') {
				end_of_tag(h);
			} else if (!is_space(c)) {
				h->tag = T_VALUE; /* quotes and '=' in it are just bytes */
			}
			return;
		case T_VALUE_QUOTED:
			if (c == h->quote) {
				h->quote = 0;
				h->tag = T_AFTER_VALUE;
			}
			return;
		case T_VALUE:
			if (is_space(c))
				h->tag = T_BEFORE_ATTR;
			else if (c == '>')
				end_of_tag(h);
			return;
		case T_AFTER_VALUE:
		case T_SELF_CLOSE:
			if (c == '>') {
				end_of_tag(h);
				return;
			}
			if (h->tag == T_AFTER_VALUE && is_space(c)) {
				h->tag = T_BEFORE_ATTR;
				return;
			}
			if (h->tag == T_AFTER_VALUE && c == '/') {
				h->tag = T_SELF_CLOSE;
				return;
			}
			h->tag = T_BEFORE_ATTR;
			continue;
		}
		return;
	}
}

/*
 * Inside <script>: the escape states, and the end tag that ends it.
 * "<!--" escapes (with its two dashes already counted, so "<!-->" ends
 * the escape at once), "-->" (any run of two dashes or more, then '>')
 * leaves it, "<script" inside the escape nests once more, and only an
 * unnested "</script" ends the element.
 */
static size_t script_step(struct html *h, const char *s, size_t n, size_t i)
{
	char c = s[i];
	size_t k;

	if (h->script == S_DATA) {
		if (c == '<' && (k = raw_end_tag(h, s, n, i)) > 0) {
			begin_tag(h, true);
			h->tag = T_BEFORE_ATTR;
			return k;
		}
		if (starts(s, n, i, "<!--")) {
			h->script = S_ESCAPED;
			h->dashes = 2;
			return 4;
		}
		return 1;
	}
	if (c == '-') {
		h->dashes++;
		return 1;
	}
	if (c == '>' && h->dashes >= 2) {
		h->script = S_DATA;
		h->dashes = 0;
		return 1;
	}
	h->dashes = 0;
	if (c != '<')
		return 1;
	if (h->script == S_ESCAPED && (k = raw_end_tag(h, s, n, i)) > 0) {
		begin_tag(h, true);
		h->tag = T_BEFORE_ATTR;
		return k;
	}
	if (h->script == S_ESCAPED && starts(s, n, i, "<script") &&
	    (i + 7 == n || is_space(s[i + 7]) || s[i + 7] == '/' || s[i + 7] == '>')) {
		h->script = S_DOUBLE;
		return 7;
	}
	if (h->script == S_DOUBLE && (k = raw_end_tag(h, s, n, i)) > 0) {
		h->script = S_ESCAPED;
		return k;
	}
	return 1;
}

static void html_scan(struct html *h, const char *s, size_t n)
{
	size_t i = 0, k;
	const char *p;

	memset(h, 0, sizeof(*h));
	while (i < n) {
		switch (h->st) {
		case H_DATA:
			p = memchr(s + i, '<', n - i);
			if (!p)
				return;
			i = (size_t)(p - s);
			i += data_lt(h, s, n, i);
			break;
		case H_COMMENT:
			/* The first "-->" or "--!>": each '-' is looked at once. */
			p = memchr(s + i, '-', n - i);
			if (!p)
				return;
			i = (size_t)(p - s);
			if (starts(s, n, i, "-->")) {
				i += 3;
				h->st = H_DATA;
			} else if (starts(s, n, i, "--!>")) {
				i += 4;
				h->st = H_DATA;
			} else {
				i++;
			}
			break;
		case H_BOGUS:
			p = memchr(s + i, '>', n - i);
			if (!p)
				return;
			i = (size_t)(p - s) + 1;
			h->st = H_DATA;
			break;
		case H_TAG:
			tag_byte(h, s[i++]);
			break;
		case H_RAW:
			if (strcmp(h->name, "script") == 0) {
				i += script_step(h, s, n, i);
			} else if (s[i] == '<' && (k = raw_end_tag(h, s, n, i)) > 0) {
				begin_tag(h, true);
				h->tag = T_BEFORE_ATTR;
				i += k;
			} else {
				i++;
			}
			break;
		case H_PLAIN:
			return;
		}
	}
}

int forge_description_closer(const char *text, size_t n, struct buf *out)
{
	struct html h;
	int r = 0;

	html_scan(&h, text, n);
	switch (h.st) {
	case H_DATA:
		return 0;
	case H_COMMENT:
		return buf_puts(out, "-->");
	case H_BOGUS:
		return buf_puts(out, ">");
	case H_PLAIN:
		return -EINVAL;
	case H_TAG:
		if (h.tag == T_VALUE_QUOTED)
			r = buf_putc(out, h.quote);
		if (!r)
			r = buf_putc(out, '>');
		end_of_tag(&h);
		if (r || h.st == H_DATA)
			return r;
		if (h.st == H_PLAIN)
			return -EINVAL;
		break;
	case H_RAW:
		break;
	}
	/* Inside a raw-text element: "-->" first leaves a script's escapes. */
	if (strcmp(h.name, "script") == 0)
		r = buf_puts(out, "-->");
	if (!r)
		r = buf_printf(out, "</%s>", h.name);
	return r;
}

/* ---- the receipt block ------------------------------------------------ */

/*
 * Appends v so that it cannot end the comment early, break the one-field
 * one-line layout or spell the notice: '%', '<', '>', '!', '[', ']',
 * control bytes, and every '-' next to another '-' become %XX. After this
 * no "--" and no '>' can appear in the value, so neither "-->" nor "--!>"
 * can close the comment.
 */
static int put_value(struct buf *b, const char *v)
{
	size_t i, n = strlen(v);
	int r = 0;

	for (i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)v[i];
		bool dash_run = c == '-' && ((i > 0 && v[i - 1] == '-') || v[i + 1] == '-');

		if (c < 0x20 || c == 0x7f || c == '%' || c == '<' || c == '>' || c == '!' ||
		    c == '[' || c == ']' || dash_run)
			r = buf_printf(b, "%%%02X", c);
		else
			r = buf_putc(b, (char)c);
	}
	return r;
}

static int render_receipt(const struct forge_receipt *rc, struct buf *b)
{
	int r;

	r = buf_puts(b, RECEIPT_OPEN "session_id: ");
	if (!r)
		r = put_value(b, rc->session_id);
	if (!r)
		r = buf_puts(b, "\npolicy_bundle_id: ");
	if (!r)
		r = put_value(b, rc->policy_bundle_id);
	if (!r)
		r = buf_puts(b, "\ntrajectory_hash: ");
	if (!r)
		r = put_value(b, rc->trajectory_hash);
	if (!r)
		r = buf_printf(b, "\nverification_passed: %s" RECEIPT_CLOSE,
			       rc->verification_passed ? "true" : "false");
	return r;
}

size_t forge_text_len(const struct forge_capabilities *caps, const char *s, size_t n)
{
	size_t i, k = 0;

	if (caps->description_unit != FORGE_LEN_CHARS)
		return n;
	/* One character per byte that does not continue a sequence. */
	for (i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xc0) != 0x80;
	return k;
}

/*
 * The length in bytes of the longest prefix of s[0..n) that is at most
 * limit long in caps' unit and ends on a UTF-8 character boundary.
 */
static size_t prefix_within(const struct forge_capabilities *caps, const char *s, size_t n,
			    size_t limit)
{
	size_t i, k = 0;

	if (caps->description_unit != FORGE_LEN_CHARS)
		return str_utf8_floor(s, n < limit ? n : limit);
	for (i = 0; i < n; i++) {
		/* s[i] begins character k + 1: keeping it would pass the limit. */
		if (((unsigned char)s[i] & 0xc0) != 0x80 && k++ == limit)
			return i;
	}
	return str_utf8_floor(s, n);
}

/*
 * Appends text (its longest prefix that fits, cut on a UTF-8 boundary),
 * the closer of what that prefix leaves open, the notice when text was cut
 * or notice is set, and tail: never more than caps->max_description_len
 * together, counted in caps' unit (the closer and the notice are ASCII, so
 * their bytes are their characters). On failure out is as it was.
 */
static int compose(const struct forge_capabilities *caps, const char *text, size_t tlen,
		   bool notice, const char *tail, size_t tail_len, struct buf *out, struct buf *err)
{
	struct buf closer = BUF_INIT(CLOSER_MAX);
	size_t max = caps->max_description_len, tail_units = forge_text_len(caps, tail, tail_len);
	size_t room, keep = tlen, budget, old = out->len;
	size_t omax = out->max ? out->max : BUF_MAX_DEFAULT;
	int r;

	if (tail_units > max) {
		set_err(err, "bundle receipt alone is longer than the forge's description limit");
		return -EINVAL;
	}
	room = max - tail_units;
	r = forge_description_closer(text, tlen, &closer);
	if (r == 0 &&
	    forge_text_len(caps, text, tlen) + closer.len + (notice ? NOTICE_LEN : 0) > room) {
		/* Cut: the notice is shown, and the closer of the kept part must fit too. */
		notice = true;
		if (room < NOTICE_LEN) {
			set_err(err, "bundle receipt and truncation notice do not fit the forge's "
				     "description limit");
			r = -EINVAL;
			goto out;
		}
		budget = room - NOTICE_LEN;
		keep = prefix_within(caps, text, tlen, budget);
		buf_reset(&closer);
		r = forge_description_closer(text, keep, &closer);
		if (r == 0 && forge_text_len(caps, text, keep) + closer.len > budget) {
			/*
			 * The closer did not fit: keep less by the longest a closer can
			 * be, and the one that prefix needs fits for sure (two scans of
			 * the text, never one per byte given back).
			 */
			keep = prefix_within(caps, text, tlen,
					     budget > CLOSER_MAX ? budget - CLOSER_MAX : 0);
			buf_reset(&closer);
			r = forge_description_closer(text, keep, &closer);
		}
	}
	if (r == -EINVAL) {
		set_err(err, "the text opens <plaintext>, which nothing can close before the "
			     "receipt");
		goto out;
	}
	if (r < 0)
		goto out;
	/* Check the total up front so a failure leaves out unchanged. */
	if (out->len + keep + closer.len + (notice ? NOTICE_LEN : 0) + tail_len > omax) {
		set_err(err, "description does not fit the output buffer");
		r = -E2BIG;
		goto out;
	}
	r = buf_append(out, text, keep);
	if (!r)
		r = buf_append(out, closer.data, closer.len);
	if (!r && notice)
		r = buf_append(out, notice_line, NOTICE_LEN);
	if (!r)
		r = buf_append(out, tail, tail_len);
	if (r < 0) {
		/* Undo a partial append: out is written only on success. */
		out->len = old;
		if (out->data)
			out->data[old] = '\0';
		set_err(err, "out of memory rendering the description");
	}
out:
	buf_release(&closer);
	return r;
}

/* A text that goes out as written (no receipt after it): checked, bounded. */
static int as_written(const struct forge_capabilities *caps, const char *body, struct buf *out,
		      struct buf *err)
{
	size_t n = strlen(body);
	int r;

	r = forge_description_check(body, n, "pull request body", err);
	if (r < 0)
		return r;
	if (forge_text_len(caps, body, n) > caps->max_description_len) {
		set_err(err, "pull request body is longer than the forge allows");
		return -EINVAL;
	}
	r = buf_append(out, body, n);
	if (r < 0)
		set_err(err, "out of memory rendering the pull request body");
	return r;
}

int forge_render_description_err(const struct forge_capabilities *caps,
				 const struct forge_pr_request *req, struct buf *out,
				 struct buf *err)
{
	const struct forge_receipt *rc = req->receipt;
	struct buf meta = BUF_INIT(BUF_MAX_DEFAULT);
	size_t slen;
	int r;

	if (!req->summary) /* No bundle: the agent's text goes out untouched or not at all. */
		return as_written(caps, req->body ? req->body : "", out, err);
	if (!rc || !rc->session_id || !rc->policy_bundle_id || !rc->trajectory_hash) {
		set_err(err,
			"bundle receipt lacks session_id, policy_bundle_id or trajectory_hash");
		return -EINVAL;
	}
	slen = strlen(req->summary);
	if (!str_utf8_valid(req->summary, slen) ||
	    !str_utf8_valid(rc->session_id, strlen(rc->session_id)) ||
	    !str_utf8_valid(rc->policy_bundle_id, strlen(rc->policy_bundle_id)) ||
	    !str_utf8_valid(rc->trajectory_hash, strlen(rc->trajectory_hash))) {
		set_err(err, "bundle summary or receipt is not valid utf-8");
		return -EINVAL;
	}
	r = forge_description_check(req->summary, slen, "bundle summary", err);
	if (r < 0)
		return r;
	r = render_receipt(rc, &meta);
	if (r < 0)
		set_err(err, "bundle receipt is too large to render");
	else
		r = compose(caps, req->summary, slen, false, meta.data, meta.len, out, err);
	buf_release(&meta);
	return r;
}

int forge_render_description(const struct forge_capabilities *caps,
			     const struct forge_pr_request *req, struct buf *out)
{
	return forge_render_description_err(caps, req, out, NULL);
}

/* True when s[0..n) ends with t[0..k). */
static bool ends_with(const char *s, size_t n, const char *t, size_t k)
{
	return n >= k && memcmp(s + n - k, t, k) == 0;
}

int forge_render_pr_body(const struct forge_capabilities *caps, const char *current,
			 const char *text, struct buf *out, struct buf *err)
{
	size_t clen = current ? strlen(current) : 0, tlen = strlen(text), blen;
	const char *block, *end;
	bool notice;

	if (!str_utf8_valid(text, tlen)) {
		set_err(err, "pull request body is not valid utf-8");
		return -EINVAL;
	}
	block = current ? find(current, clen, RECEIPT_OPEN) : NULL;
	end = block ? find(block, clen - (size_t)(block - current), RECEIPT_CLOSE) : NULL;
	if (!end) /* No receipt to keep: the body goes out as written. */
		return as_written(caps, text, out, err);
	blen = (size_t)(end - block) + strlen(RECEIPT_CLOSE);
	/* The notice is the daemon's when it sits right before its block. */
	notice = ends_with(current, (size_t)(block - current), notice_line, NOTICE_LEN);
	/* What the agent read back ends with the block (its last newline may be gone). */
	if (ends_with(text, tlen, block, blen))
		tlen -= blen;
	else if (ends_with(text, tlen, block, blen - 1))
		tlen -= blen - 1;
	else
		notice = false;
	if (notice && ends_with(text, tlen, notice_line, NOTICE_LEN))
		tlen -= NOTICE_LEN;
	else
		notice = false;
	if (forge_description_check(text, tlen, "pull request body", err) < 0)
		return -EINVAL;
	return compose(caps, text, tlen, notice, block, blen, out, err);
}
