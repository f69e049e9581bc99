/*
 * http: see http.h (and http_internal.h for how its three files divide it).
 *
 * Why a multi handle even for one request: one code path gives every
 * request the same deadline, retry and size rules, and the parallel page
 * fetches of the list operations are just batches with n > 1.
 */
#include "forge/http_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "util/str.h"

const char *http_method_name(enum http_method m)
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

/* A header line we send must not carry a CR or LF (header injection) or other controls. */
static bool header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

int http_new(const struct http_options *opt, struct http **out, struct buf *err)
{
	struct http *h;
	struct buf hdr = BUF_INIT(8192);
	const char *scheme = opt->auth_scheme ? opt->auth_scheme : "token";
	const char *ua = opt->user_agent ? opt->user_agent : HTTP_USER_AGENT;
	pthread_condattr_t ca;
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
	if (!header_safe(scheme) || !header_safe(ua) ||
	    (opt->accept && !header_safe(opt->accept))) {
		set_err(err, "auth scheme, user agent or accept contains a control byte");
		return -EINVAL;
	}
	for (i = 0; opt->headers && opt->headers[i]; i++) {
		if (!header_safe(opt->headers[i]) || !strchr(opt->headers[i], ':')) {
			set_err(err, "an extra header is not one 'name: value' line");
			return -EINVAL;
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
	h->max_inflight = opt->max_inflight;
	h->write_spacing_ms = opt->write_spacing_ms;
	pthread_mutex_init(&h->pool_lock, NULL);
	pthread_mutex_init(&h->rate_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->slot_free, &ca);
	pthread_condattr_destroy(&ca);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_locks[i], NULL);
	if (!h->base_url)
		goto fail;
	if (opt->token && opt->token[0]) {
		if (buf_printf(&hdr, "Authorization: %s %s", scheme, opt->token) < 0)
			goto fail;
		h->auth_header = buf_steal(&hdr, NULL);
		if (!h->auth_header)
			goto fail;
		h->headers = curl_slist_append(NULL, h->auth_header);
		if (!h->headers)
			goto fail;
	}
	{
		/* No 100-continue round trip; JSON both ways (Accept is per request). */
		static const char *const fixed[] = {"Expect:", "Content-Type: application/json"};
		for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
			struct curl_slist *s = curl_slist_append(h->headers, fixed[i]);

			if (!s)
				goto fail;
			h->headers = s;
		}
		for (i = 0; opt->headers && opt->headers[i]; i++) {
			struct curl_slist *s = curl_slist_append(h->headers, opt->headers[i]);

			if (!s)
				goto fail;
			h->headers = s;
		}
	}
	buf_reset(&hdr);
	if (buf_printf(&hdr, "User-Agent: %s", ua) < 0)
		goto fail;
	{
		struct curl_slist *s = curl_slist_append(h->headers, hdr.data);

		if (!s)
			goto fail;
		h->headers = s;
	}
	h->accept = str_dup(opt->accept ? opt->accept : "application/json");
	if (!h->accept)
		goto fail;
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
	buf_release(&hdr); /* the User-Agent line, copied into the list */
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
	free(h->accept);
	pthread_mutex_destroy(&h->pool_lock);
	pthread_mutex_destroy(&h->rate_lock);
	pthread_cond_destroy(&h->slot_free);
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

static void slist_wipe_free(struct curl_slist *l)
{
	struct curl_slist *s;

	for (s = l; s; s = s->next)
		str_wipe(s->data, strlen(s->data));
	curl_slist_free_all(l);
}

/* An ETag we may send back: printable ASCII, bounded. */
static bool etag_sendable(const char *e)
{
	size_t i;

	for (i = 0; e[i]; i++)
		if ((unsigned char)e[i] < 0x20 || (unsigned char)e[i] > 0x7e || i >= 512)
			return false;
	return i > 0;
}

/* The request's own header list: the shared lines, its Accept, its If-None-Match. */
static int build_headers(struct http *h, struct xfer *x)
{
	struct http_req *q = x->req;
	struct buf line = BUF_INIT(1024);
	struct curl_slist *l = NULL, *s;
	const struct curl_slist *k;
	const char *accept = q->accept && header_safe(q->accept) ? q->accept : h->accept;
	int r = -ENOMEM;

	for (k = h->headers; k; k = k->next) {
		if (!(s = curl_slist_append(l, k->data)))
			goto out;
		l = s;
	}
	if (buf_printf(&line, "Accept: %s", accept) < 0 || !(s = curl_slist_append(l, line.data)))
		goto out;
	l = s;
	if (q->method == HTTP_GET && q->etag_in && etag_sendable(q->etag_in)) {
		buf_reset(&line);
		if (buf_printf(&line, "If-None-Match: %s", q->etag_in) < 0 ||
		    !(s = curl_slist_append(l, line.data)))
			goto out;
		l = s;
	}
	x->hdrs = l;
	l = NULL;
	r = 0;
out:
	slist_wipe_free(l);
	buf_release(&line);
	return r;
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
	if (q->url ? buf_puts(url, q->url) < 0
		   : buf_puts(url, h->base_url) < 0 || buf_puts(url, q->path) < 0)
		return -ENOMEM;
	if (!x->hdrs && build_headers(h, x) < 0)
		return -ENOMEM;
	curl_easy_reset(c);
	x->too_big = false;
	x->streaming = -1;
	http_chunks_free(q);
	q->too_large = false;
	x->retry_after_s = -1;
	x->errbuf[0] = '\0';
	buf_reset(&q->body);
	q->status = 0;
	q->not_modified = false;
	http_forget_headers(q);

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(c, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, url->data);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_SHARE, h->share);
	SET(CURLOPT_HTTPHEADER, x->hdrs);
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
	SET(CURLOPT_WRITEFUNCTION, http_on_body);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HEADERFUNCTION, http_on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_PRIVATE, x);
	if (q->method != HTTP_GET || q->json) {
		const char *body = q->json ? q->json : "";

		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
		SET(CURLOPT_COPYPOSTFIELDS, body);
	}
	if (q->method == HTTP_PATCH || q->method == HTTP_PUT)
		SET(CURLOPT_CUSTOMREQUEST, http_method_name(q->method));
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

/*
 * Appends s, its first max bytes, line breaks and other C0 controls as
 * spaces so the reason stays one line; the rest is escaped where it is
 * logged (str_escape_log), which shows what the forge sent.
 */
static void put_printable(struct buf *err, const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] && i < max; i++)
		buf_note(err, "%c", (unsigned char)s[i] < 0x20 ? ' ' : s[i]);
}

/*
 * Appends the forge's {"message": ...} (printable part, bounded) to err,
 * and the first of GitHub's "errors" ([{"message"} or {"field", "code"}])
 * in parentheses: "Validation Failed" alone says nothing.
 */
static void append_message(struct buf *err, const struct buf *body)
{
	json_t *j, *e;
	const char *m, *f, *c;

	if (!err || !body->len || body->len > 65536)
		return;
	j = json_loadb(body->data, body->len, 0, NULL);
	if (!j)
		return;
	m = json_string_value(json_object_get(j, "message"));
	if (m && m[0]) {
		buf_note(err, ": ");
		put_printable(err, m, 200);
	}
	e = json_array_get(json_object_get(j, "errors"), 0);
	m = json_string_value(json_object_get(e, "message"));
	f = json_string_value(json_object_get(e, "field"));
	c = json_string_value(json_object_get(e, "code"));
	if ((m && m[0]) || (f && c)) {
		buf_note(err, " (");
		if (m && m[0]) {
			put_printable(err, m, 200);
		} else {
			put_printable(err, f, 64);
			buf_note(err, ": ");
			put_printable(err, c, 64);
		}
		buf_note(err, ")");
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
	const char *m = http_method_name(q->method);
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
	if (code == CURLE_OK)
		http_note_limits(h, q);
	if (code == CURLE_OK && status >= 200 && status < 300)
		return 0;
	if (code == CURLE_OK && status == 304 && q->method == HTTP_GET && q->etag_in) {
		q->not_modified = true;
		return 0;
	}
	if (code == CURLE_OK) {
		struct http_limit lim = {status, q->rl_remaining, q->rl_reset, x->retry_after_s,
					 http_secondary_text(&q->body)};
		struct buf why = BUF_INIT(512);
		uint64_t until = 0;
		int lr = http_limit_decide(&lim, http_wall_s(), now, deadline, &until, &why);

		/* Primary limits are remembered by note_limits; a secondary one holds everyone. */
		if (lr != 0 && lim.remaining != 0)
			http_hold(h,
				  lr > 0 ? until
					 : now + (uint64_t)(lim.retry_after >= 0
								? lim.retry_after * 1000
								: SECONDARY_WAIT_MS),
				  &why);
		if (lr > 0) {
			/* The forge refused without acting: any method may be sent again. */
			x->attempts++;
			x->not_before = until;
			x->st = XFER_PENDING;
		} else if (lr < 0 && err) {
			buf_note(err, "%s '%s': %ld %s: %s", m, q->path, status,
				 status_words(status), buf_cstr(&why));
		}
		buf_release(&why);
		if (lr != 0)
			return lr;
	}
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
	buf_release(&r->link);
	http_chunks_free(r);
}

size_t http_max_body(const struct http *h)
{
	return h->max_body;
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
		reqs[i].not_modified = false;
		buf_init(&reqs[i].body, h->max_body);
		buf_init(&reqs[i].link, LINK_MAX);
		http_forget_headers(&reqs[i]);
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
		bool starved = false; /* a transfer is due but no slot was free */
		CURLMsg *msg;
		int still, left;

		if (now >= deadline_ms) {
			for (i = 0; i < n && err; i++) {
				if (xs[i].st != XFER_DONE) {
					buf_note(err, "%s '%s': timed out",
						 http_method_name(reqs[i].method), reqs[i].path);
					break;
				}
			}
			r = -EIO;
			goto out;
		}
		for (i = 0; i < n && running < HTTP_PARALLEL; i++) {
			struct xfer *x = &xs[i];
			int g;

			if (x->st != XFER_PENDING || x->not_before > now)
				continue;
			g = http_gate(h, x, now, deadline_ms, err);
			if (g < 0) {
				r = g;
				goto out;
			}
			if (g == GATE_WAIT)
				continue;
			if (g == GATE_NO_SLOT) {
				/* Other threads hold every slot: wait for one if this batch has
				 * none. */
				if (!running)
					http_slot_wait(h, now + 50 < deadline_ms ? now + 50
										 : deadline_ms);
				starved = true;
				break;
			}
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
			http_slot_put(h, x);
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
			if (starved && !running)
				wait = 0; /* slot_wait did the waiting */
			if (running || wait)
				curl_multi_poll(multi, NULL, 0, (int)wait, NULL);
		}
	}
out:
	for (i = 0; xs && i < n; i++) {
		if (xs[i].st == XFER_RUNNING)
			curl_multi_remove_handle(multi, xs[i].easy);
		http_slot_put(h, &xs[i]);
		pool_put(h, xs[i].easy);
		slist_wipe_free(xs[i].hdrs);
	}
	curl_multi_cleanup(multi);
	free(xs);
	buf_release(&url);
	return r;
}

int http_put_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;

	for (; *s && r == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			r = buf_putc(b, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			r = buf_append(b, e, 3);
		}
	}
	return r;
}
