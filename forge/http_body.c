/* http_body: an answer's body and headers as they arrive, and the streamed JSON reader (http.h). */
#include "forge/http_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "util/str.h"

void http_chunks_free(struct http_req *q)
{
	struct http_chunk *c, *next;

	for (c = q->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	q->chunks = q->chunks_tail = NULL;
	q->chunks_len = 0;
}

/* Appends to a streamed body: 0, -E2BIG past max, -ENOMEM. */
static int chunks_append(struct http_req *q, const char *p, size_t n, size_t max)
{
	if (n > max || q->chunks_len > max - n)
		return -E2BIG;
	while (n > 0) {
		struct http_chunk *t = q->chunks_tail;
		size_t k;

		if (!t || t->len == CHUNK_SIZE) {
			t = malloc(sizeof(*t) + CHUNK_SIZE);
			if (!t)
				return -ENOMEM;
			t->next = NULL;
			t->len = t->off = 0;
			if (q->chunks_tail)
				q->chunks_tail->next = t;
			else
				q->chunks = t;
			q->chunks_tail = t;
		}
		k = CHUNK_SIZE - t->len < n ? CHUNK_SIZE - t->len : n;
		memcpy(t->data + t->len, p, k);
		t->len += k;
		q->chunks_len += k;
		p += k;
		n -= k;
	}
	return 0;
}

size_t http_on_body(char *p, size_t size, size_t nmemb, void *user)
{
	struct xfer *x = user;
	struct http_req *q = x->req;
	size_t n = size * nmemb;
	int r;

	if (x->streaming < 0) {
		/* The headers are in: only a 2xx body is worth streaming to jansson. */
		long status = 0;

		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		x->streaming = q->stream && status >= 200 && status < 300;
	}
	if (x->streaming)
		r = chunks_append(q, p, n, x->h->max_body);
	else
		r = buf_append(&q->body, p, n);
	if (r < 0) {
		/* Returning short aborts the transfer with CURLE_WRITE_ERROR. */
		x->too_big = r == -E2BIG;
		return 0;
	}
	return n;
}

/* Every header-derived output of q, as before any answer. */
void http_forget_headers(struct http_req *q)
{
	q->has_total = false;
	q->total = 0;
	q->content_type[0] = '\0';
	q->length = -1;
	q->etag[0] = '\0';
	buf_reset(&q->link);
	q->link_over = false;
	q->rl_remaining = q->rl_reset = -1;
	q->retry_after = -1;
}

/* Value of header line "name: value" when the name matches, else NULL. */
static const char *header_value(const char *line, size_t n, const char *name, size_t *vlen)
{
	size_t k = strlen(name);
	const char *v, *end = line + n;

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return NULL;
	v = line + k + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

size_t http_on_header(char *p, size_t size, size_t nmemb, void *user)
{
	struct xfer *x = user;
	struct http_req *q = x->req;
	size_t n = size * nmemb, vlen;
	const char *v;
	uint64_t u;

	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new response (after a 100 Continue, say): forget the old headers. */
		http_forget_headers(q);
		x->retry_after_s = -1;
		return n;
	}
	if ((v = header_value(p, n, "content-length", &vlen)) != NULL) {
		/* Kept by hand: curl does not report it when it refused the size. */
		if (strn_to_u64(v, vlen, INT64_MAX, true, &u) == 0)
			q->length = (int64_t)u;
		return n;
	}
	if ((v = header_value(p, n, "x-total-count", &vlen)) != NULL) {
		if (strn_to_u64(v, vlen, UINT64_MAX, true, &u) == 0) {
			q->has_total = true;
			q->total = u;
		}
	} else if ((v = header_value(p, n, "content-type", &vlen)) != NULL) {
		if (vlen >= sizeof(q->content_type))
			vlen = sizeof(q->content_type) - 1;
		memcpy(q->content_type, v, vlen);
		q->content_type[vlen] = '\0';
	} else if ((v = header_value(p, n, "retry-after", &vlen)) != NULL) {
		/* Only the delta-seconds form; an HTTP date falls back to backoff. */
		if (strn_to_u64(v, vlen, RETRY_AFTER_MAX_S, true, &u) == 0)
			x->retry_after_s = q->retry_after = (long)u;
	} else if ((v = header_value(p, n, "etag", &vlen)) != NULL) {
		/* Kept only whole: a cut validator would never match. */
		if (vlen < sizeof(q->etag)) {
			memcpy(q->etag, v, vlen);
			q->etag[vlen] = '\0';
		}
	} else if ((v = header_value(p, n, "link", &vlen)) != NULL) {
		if (q->link.len && buf_puts(&q->link, ", ") < 0)
			q->link_over = true;
		if (!q->link_over && buf_append(&q->link, v, vlen) < 0)
			q->link_over = true;
		if (q->link_over)
			buf_reset(&q->link);
	} else if ((v = header_value(p, n, "x-ratelimit-remaining", &vlen)) != NULL) {
		if (strn_to_u64(v, vlen, INT64_MAX, true, &u) == 0)
			q->rl_remaining = (int64_t)u;
	} else if ((v = header_value(p, n, "x-ratelimit-reset", &vlen)) != NULL) {
		if (strn_to_u64(v, vlen, INT64_MAX, true, &u) == 0)
			q->rl_reset = (int64_t)u;
	}
	return n;
}

/* What jansson's reader needs to pull a streamed body piece by piece. */
struct json_feed {
	struct http_req *q;
	size_t values, max_values;
	bool in_str, esc, over;
};

/*
 * Counts JSON values the cheap way (separators and openers outside
 * strings), carrying the string state from one piece to the next.
 */
static void count_values(struct json_feed *f, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (f->in_str) {
			if (f->esc)
				f->esc = false;
			else if (c == '\\')
				f->esc = true;
			else if (c == '"')
				f->in_str = false;
		} else if (c == '"') {
			f->in_str = true;
		} else if (c == ',' || c == '[' || c == '{') {
			f->values++;
		}
	}
}

static size_t json_feed_cb(void *buffer, size_t buflen, void *data)
{
	struct json_feed *f = data;
	struct http_req *q = f->q;
	struct http_chunk *c = q->chunks;
	size_t k;

	while (c && c->off == c->len) {
		/* Read: gone, so the text shrinks while the tree grows. */
		q->chunks = c->next;
		free(c);
		c = q->chunks;
	}
	if (!c) {
		q->chunks_tail = NULL;
		return 0; /* the end */
	}
	k = c->len - c->off < buflen ? c->len - c->off : buflen;
	count_values(f, c->data + c->off, k);
	if (f->values > f->max_values) {
		f->over = true;
		return (size_t)-1;
	}
	memcpy(buffer, c->data + c->off, k);
	c->off += k;
	return k;
}

int http_req_json(struct http_req *q, size_t max_values, struct json_t **root, struct buf *err)
{
	struct json_feed f = {q, 1, max_values, false, false, false};
	json_error_t je;
	json_t *j;
	char first = q->chunks && q->chunks->len ? q->chunks->data[0] : '\0';

	if (!q->chunks_len) {
		http_chunks_free(q);
		return buf_fail(err, -EIO, "empty response where json was expected");
	}
	/*
	 * jansson rejects invalid UTF-8, lone surrogates, \u0000 and nesting
	 * deeper than its parser limit, so every string kept is clean text.
	 */
	j = json_load_callback(json_feed_cb, &f, 0, &je);
	http_chunks_free(q);
	if (f.over)
		return buf_fail(err, -EIO, "response has more than %zu json values", max_values);
	if (!j) {
		if (first == '<' || (unsigned char)first > 0x7f)
			return buf_fail(err, -EIO, "response is not json (html or binary?)");
		/* jansson may quote the offending input: keep the reason one printable line. */
		for (char *c = je.text; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
				*c = '?';
		return buf_fail(err, -EIO, "response is not valid json: %s at byte %d", je.text,
				je.position);
	}
	if (!json_is_array(j) && !json_is_object(j)) {
		json_decref(j);
		return buf_fail(err, -EIO, "response is not a json array or object");
	}
	*root = j;
	return 0;
}
