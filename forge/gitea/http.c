/*
 * gitea/http: see http.h.
 *
 * Why a multi handle even for one request: one code path gives every
 * request the same deadline, retry and size rules, and the parallel page
 * fetches of the list operations are just batches with n > 1.
 */
#include "forge/gitea/http.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "util/str.h"

#define POOL_MAX 16
/* Streamed bodies are kept in pieces of this size (curl hands over 16 KiB at most). */
#define CHUNK_SIZE ((size_t)64 << 10)
#define RETRY_AFTER_MAX_S 3600
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000

struct http {
	char *base_url;
	char *auth_header; /* "Authorization: token T"; wiped on free */
	struct curl_slist *headers;
	unsigned connect_timeout_ms;
	size_t max_body;

	CURLSH *share;
	/* One lock per curl_lock_data, as libcurl asks for a shared handle. */
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];

	pthread_mutex_t pool_lock;
	CURL *pool[POOL_MAX]; /* idle easy handles, guarded by pool_lock */
	size_t n_pool;	      /* guarded by pool_lock */
};

/* One piece of a streamed body. */
struct http_chunk {
	struct http_chunk *next;
	size_t len; /* bytes in data */
	size_t off; /* bytes already handed to jansson */
	char data[];
};

enum xfer_state {
	XFER_PENDING,
	XFER_RUNNING,
	XFER_DONE,
};

struct xfer {
	struct http *h;
	struct http_req *req;
	CURL *easy;
	enum xfer_state st;
	unsigned attempts;
	uint64_t not_before; /* ms; a retry waits for this */
	bool too_big;	     /* the write callback refused more body */
	int streaming;	     /* -1 undecided, 0 into body, 1 into chunks (this attempt) */
	long retry_after_s;  /* from the last response, -1 when absent */
	char errbuf[CURL_ERROR_SIZE];
};

static const char *method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET:
		return "GET";
	case HTTP_POST:
		return "POST";
	case HTTP_PATCH:
		return "PATCH";
	case HTTP_PUT:
		return "PUT";
	}
	return "GET";
}

/* PUT of labels and PATCH of fields set state; resending them is harmless. */
static bool idempotent(enum http_method m)
{
	return m != HTTP_POST;
}

uint64_t http_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int http_status_errno(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 404:
		return -ENOENT;
	case 401:
	case 403:
		return -EACCES;
	case 409:
		return -EEXIST;
	case 400:
	case 412:
	case 422:
		return -EINVAL;
	default:
		/* 5xx, and anything else we did not ask for. */
		return -EIO;
	}
}

static const char *status_words(long status)
{
	switch (status) {
	case 400:
		return "bad request";
	case 401:
		return "unauthorized";
	case 403:
		return "forbidden";
	case 404:
		return "not found";
	case 409:
		return "conflict";
	case 412:
		return "precondition failed";
	case 422:
		return "unprocessable";
	case 429:
		return "too many requests";
	case 500:
		return "internal server error";
	case 502:
		return "bad gateway";
	case 503:
		return "service unavailable";
	case 504:
		return "gateway timeout";
	default:
		return "unexpected status";
	}
}

static void share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *user)
{
	struct http *h = user;

	(void)c;
	(void)access;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&h->share_locks[data]);
}

static void share_unlock(CURL *c, curl_lock_data data, void *user)
{
	struct http *h = user;

	(void)c;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&h->share_locks[data]);
}

static void set_err(struct buf *err, const char *msg)
{
	if (err)
		buf_note(err, "%s", msg);
}

int http_new(const struct http_options *opt, struct http **out, struct buf *err)
{
	struct http *h;
	struct buf hdr = BUF_INIT(8192);
	size_t n, i;
	int r = -ENOMEM;

	if (!opt->base_url || (strncmp(opt->base_url, "http://", 7) != 0 &&
			       strncmp(opt->base_url, "https://", 8) != 0)) {
		set_err(err, "base url must start with http:// or https://");
		return -EINVAL;
	}
	n = strlen(opt->base_url);
	for (i = 0; i < n; i++) {
		if ((unsigned char)opt->base_url[i] <= 0x20 || opt->base_url[i] == 0x7f) {
			set_err(err, "base url contains a space or control byte");
			return -EINVAL;
		}
	}
	if (opt->token) {
		/* A CR or LF would let the token inject headers. */
		for (i = 0; opt->token[i]; i++) {
			unsigned char c = (unsigned char)opt->token[i];

			if (c < 0x20 || c == 0x7f) {
				set_err(err, "token contains a control byte");
				return -EINVAL;
			}
		}
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		set_err(err, "curl initialisation failed");
		return -ENOMEM;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		goto fail_global;
	while (n > 0 && opt->base_url[n - 1] == '/')
		n--;
	h->base_url = strndup(opt->base_url, n);
	h->connect_timeout_ms = opt->connect_timeout_ms ? opt->connect_timeout_ms : 5000;
	h->max_body = opt->max_body ? opt->max_body : HTTP_MAX_BODY_DEFAULT;
	pthread_mutex_init(&h->pool_lock, NULL);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_locks[i], NULL);
	if (!h->base_url)
		goto fail;
	if (opt->token && opt->token[0]) {
		if (buf_printf(&hdr, "Authorization: token %s", opt->token) < 0)
			goto fail;
		h->auth_header = buf_steal(&hdr, NULL);
		if (!h->auth_header)
			goto fail;
		h->headers = curl_slist_append(NULL, h->auth_header);
		if (!h->headers)
			goto fail;
	}
	{
		/* No 100-continue round trip; JSON both ways. */
		static const char *const fixed[] = {"Expect:", "Content-Type: application/json",
						    "Accept: application/json"};
		for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
			struct curl_slist *s = curl_slist_append(h->headers, fixed[i]);

			if (!s)
				goto fail;
			h->headers = s;
		}
	}
	h->share = curl_share_init();
	if (!h->share)
		goto fail;
	if (curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_USERDATA, h) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK ||
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
		CURLSHE_OK) {
		set_err(err, "curl connection sharing is unavailable");
		r = -EINVAL;
		goto fail;
	}
	*out = h;
	return 0;
fail:
	if (r == -ENOMEM)
		set_err(err, "out of memory");
	if (hdr.data)
		str_wipe(hdr.data, hdr.len);
	buf_release(&hdr);
	http_free(h);
	return r;
fail_global:
	set_err(err, "out of memory");
	curl_global_cleanup();
	return -ENOMEM;
}

void http_free(struct http *h)
{
	struct curl_slist *s;
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->n_pool; i++)
		curl_easy_cleanup(h->pool[i]);
	/* Every easy handle is gone, so nothing holds the share any more. */
	if (h->share)
		curl_share_cleanup(h->share);
	for (s = h->headers; s; s = s->next)
		str_wipe(s->data, strlen(s->data));
	curl_slist_free_all(h->headers);
	if (h->auth_header) {
		str_wipe(h->auth_header, strlen(h->auth_header));
		free(h->auth_header);
	}
	free(h->base_url);
	pthread_mutex_destroy(&h->pool_lock);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_locks[i]);
	free(h);
	curl_global_cleanup();
}

static CURL *pool_get(struct http *h)
{
	CURL *c = NULL;

	pthread_mutex_lock(&h->pool_lock);
	if (h->n_pool)
		c = h->pool[--h->n_pool];
	pthread_mutex_unlock(&h->pool_lock);
	return c ? c : curl_easy_init();
}

static void pool_put(struct http *h, CURL *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&h->pool_lock);
	if (h->n_pool < POOL_MAX) {
		h->pool[h->n_pool++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&h->pool_lock);
	if (c)
		curl_easy_cleanup(c);
}

static void chunks_free(struct http_req *q)
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

static size_t on_body(char *p, size_t size, size_t nmemb, void *user)
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

static size_t on_header(char *p, size_t size, size_t nmemb, void *user)
{
	struct xfer *x = user;
	struct http_req *q = x->req;
	size_t n = size * nmemb, vlen;
	const char *v;
	uint64_t u;

	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* A new response (after a 100 Continue, say): forget the old headers. */
		q->has_total = false;
		q->total = 0;
		q->content_type[0] = '\0';
		q->length = -1;
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
			x->retry_after_s = (long)u;
	}
	return n;
}

/* Prepares x->easy for one attempt with what is left of the deadline. */
static int setup(struct http *h, struct xfer *x, uint64_t now, uint64_t deadline, struct buf *url)
{
	struct http_req *q = x->req;
	CURL *c = x->easy;
	uint64_t left = deadline > now ? deadline - now : 1;
	uint64_t conn = left < h->connect_timeout_ms ? left : h->connect_timeout_ms;
	CURLcode rc = CURLE_OK;

	buf_reset(url);
	if (buf_puts(url, h->base_url) < 0 || buf_puts(url, q->path) < 0)
		return -ENOMEM;
	curl_easy_reset(c);
	x->too_big = false;
	x->streaming = -1;
	chunks_free(q);
	q->too_large = false;
	q->length = -1;
	x->retry_after_s = -1;
	x->errbuf[0] = '\0';
	buf_reset(&q->body);
	q->status = 0;
	q->has_total = false;
	q->content_type[0] = '\0';

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(c, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, url->data);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_SHARE, h->share);
	SET(CURLOPT_HTTPHEADER, h->headers);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)conn);
	SET(CURLOPT_TIMEOUT_MS, (long)left);
	/*
	 * A read is refused at the headers when Content-Length already says
	 * too much; a write's answer is read up to the cap instead, so its
	 * first bytes (the new object's id) can still be read.
	 */
	if (q->method == HTTP_GET)
		SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)h->max_body);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_PRIVATE, x);
	if (q->method != HTTP_GET || q->json) {
		const char *body = q->json ? q->json : "";

		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		SET(CURLOPT_COPYPOSTFIELDS, body);
	}
	if (q->method == HTTP_PATCH || q->method == HTTP_PUT)
		SET(CURLOPT_CUSTOMREQUEST, method_name(q->method));
#undef SET
	return rc == CURLE_OK ? 0 : -ENOMEM;
}

static bool transient_status(long s)
{
	return s == 429 || s == 502 || s == 503 || s == 504;
}

static bool transient_code(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
		return true;
	default:
		return false;
	}
}

/* Appends Gitea's {"message": ...} (printable part, bounded) to err. */
static void append_message(struct buf *err, const struct buf *body)
{
	json_t *j;
	const char *m;
	size_t i, n;

	if (!err || !body->len || body->len > 65536)
		return;
	j = json_loadb(body->data, body->len, 0, NULL);
	if (!j)
		return;
	m = json_string_value(json_object_get(j, "message"));
	if (m && m[0]) {
		n = strlen(m);
		buf_note(err, ": ");
		for (i = 0; i < n && i < 200; i++)
			buf_note(err, "%c", (unsigned char)m[i] < 0x20 ? ' ' : m[i]);
	}
	json_decref(j);
}

/*
 * Decides what a finished attempt means: 0 done, 1 retry later (x is
 * PENDING again), or -errno with the reason in err.
 */
static int finish(struct http *h, struct xfer *x, CURLcode code, uint64_t now, uint64_t deadline,
		  struct buf *err)
{
	struct http_req *q = x->req;
	const char *m = method_name(q->method);
	bool transient;
	uint64_t delay;
	long status = 0;

	int64_t clen = q->length; /* from the headers (on_header) */

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	q->status = status;
	if ((code == CURLE_WRITE_ERROR && x->too_big) || code == CURLE_FILESIZE_EXCEEDED) {
		q->too_large = true;
		/* The forge did what a write asked: that its echo is long changes nothing. */
		if (q->method != HTTP_GET && status >= 200 && status < 300)
			return 0;
		if (err && clen >= 0)
			buf_note(err, "%s '%s': response too large (%lld bytes, over %zu)", m,
				 q->path, (long long)clen, h->max_body);
		else if (err)
			buf_note(err, "%s '%s': response too large (over %zu bytes)", m, q->path,
				 h->max_body);
		return -EIO;
	}
	if (code == CURLE_OK && status >= 200 && status < 300)
		return 0;
	transient = code == CURLE_OK ? transient_status(status) : transient_code(code);
	if (transient && idempotent(q->method)) {
		x->attempts++;
		if (x->retry_after_s >= 0) {
			delay = (uint64_t)x->retry_after_s * 1000;
		} else {
			unsigned sh = x->attempts > 5 ? 5 : x->attempts - 1;

			delay = (uint64_t)BACKOFF_FIRST_MS << sh;
			if (delay > BACKOFF_MAX_MS)
				delay = BACKOFF_MAX_MS;
		}
		/* A retry must still have time to do something useful. */
		if (now + delay + 50 < deadline) {
			x->not_before = now + delay;
			x->st = XFER_PENDING;
			return 1;
		}
	}
	if (err) {
		buf_note(err, "%s '%s': ", m, q->path);
		if (code == CURLE_OK) {
			buf_note(err, "%ld %s", status, status_words(status));
			append_message(err, &q->body);
		} else if (code == CURLE_OPERATION_TIMEDOUT) {
			buf_note(err, "timed out");
		} else {
			buf_note(err, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(code));
		}
		if (transient && !idempotent(q->method))
			buf_note(err, " (not retried: the request may have been applied)");
		else if (transient)
			buf_note(err, " (no time left to retry)");
	}
	return code == CURLE_OK ? http_status_errno(status) : -EIO;
}

void http_req_release(struct http_req *r)
{
	if (!r)
		return;
	buf_release(&r->body);
	chunks_free(r);
}

size_t http_max_body(const struct http *h)
{
	return h->max_body;
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
		chunks_free(q);
		return buf_fail(err, -EIO, "empty response where json was expected");
	}
	/*
	 * jansson rejects invalid UTF-8, lone surrogates, \u0000 and nesting
	 * deeper than its parser limit, so every string kept is clean text.
	 */
	j = json_load_callback(json_feed_cb, &f, 0, &je);
	chunks_free(q);
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

int http_run(struct http *h, struct http_req *reqs, size_t n, uint64_t deadline_ms, struct buf *err)
{
	struct buf url = BUF_INIT(65536);
	struct xfer *xs = NULL;
	CURLM *multi = NULL;
	size_t i, done = 0, running = 0;
	int r = 0;

	for (i = 0; i < n; i++) {
		reqs[i].status = 0;
		reqs[i].has_total = false;
		reqs[i].total = 0;
		reqs[i].content_type[0] = '\0';
		reqs[i].too_large = false;
		reqs[i].length = -1;
		reqs[i].chunks = reqs[i].chunks_tail = NULL;
		reqs[i].chunks_len = 0;
		buf_init(&reqs[i].body, h->max_body);
	}
	if (n == 0)
		return 0;
	xs = calloc(n, sizeof(*xs));
	multi = curl_multi_init();
	if (!xs || !multi) {
		set_err(err, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		xs[i].h = h;
		xs[i].req = &reqs[i];
		xs[i].retry_after_s = -1;
		xs[i].streaming = -1;
	}
	while (done < n) {
		uint64_t now = http_now_ms(), wake = deadline_ms;
		CURLMsg *msg;
		int still, left;

		if (now >= deadline_ms) {
			for (i = 0; i < n && err; i++) {
				if (xs[i].st != XFER_DONE) {
					buf_note(err, "%s '%s': timed out",
						 method_name(reqs[i].method), reqs[i].path);
					break;
				}
			}
			r = -EIO;
			goto out;
		}
		for (i = 0; i < n && running < HTTP_PARALLEL; i++) {
			struct xfer *x = &xs[i];

			if (x->st != XFER_PENDING || x->not_before > now)
				continue;
			if (!x->easy)
				x->easy = pool_get(h);
			if (!x->easy || setup(h, x, now, deadline_ms, &url) < 0 ||
			    curl_multi_add_handle(multi, x->easy) != CURLM_OK) {
				set_err(err, "out of memory starting a transfer");
				r = -ENOMEM;
				goto out;
			}
			x->st = XFER_RUNNING;
			running++;
		}
		curl_multi_perform(multi, &still);
		while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
			struct xfer *x = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			curl_multi_remove_handle(multi, x->easy);
			running--;
			x->st = XFER_DONE;
			r = finish(h, x, msg->data.result, http_now_ms(), deadline_ms, err);
			if (r < 0)
				goto out;
			if (r == 0)
				done++;
			r = 0;
		}
		if (done == n)
			break;
		for (i = 0; i < n; i++) {
			if (xs[i].st == XFER_PENDING && xs[i].not_before < wake)
				wake = xs[i].not_before;
		}
		now = http_now_ms();
		/*
		 * Sleep until a socket is ready, a retry is due or the deadline
		 * passes, whichever comes first; a second at most so curl's own
		 * timers are serviced.
		 */
		{
			uint64_t wait = wake > now ? wake - now : 0;

			if (wait > 1000)
				wait = 1000;
			if (running || wait)
				curl_multi_poll(multi, NULL, 0, (int)wait, NULL);
		}
	}
out:
	for (i = 0; xs && i < n; i++) {
		if (xs[i].st == XFER_RUNNING)
			curl_multi_remove_handle(multi, xs[i].easy);
		pool_put(h, xs[i].easy);
	}
	curl_multi_cleanup(multi);
	free(xs);
	buf_release(&url);
	return r;
}
