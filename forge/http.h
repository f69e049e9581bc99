/*
 * http: the small HTTP layer under the forge adapters (libcurl), shared by
 * forge/gitea/ and forge/github/.
 *
 * One struct http per adapter holds the base URL, the Authorization header
 * (token wiped on free, never logged, never in err), a pool of idle easy
 * handles and a CURLSH sharing connections and DNS between them, so
 * keep-alive connections are reused by every thread and every batch.
 *
 * http_run() runs a batch of requests on one curl multi handle, at most
 * HTTP_PARALLEL at once, all bounded by one absolute deadline (retries
 * included). Idempotent requests (GET, PUT, PATCH) are retried with
 * backoff on 429/502/503/504, refused or reset connections, empty replies,
 * truncated bodies and timeouts, honouring Retry-After, as long as the
 * deadline leaves time; a POST is never resent.
 *
 * Rate limits (GitHub's, and any forge that sends the same headers): an
 * answer's x-ratelimit-remaining/-reset are remembered per bucket
 * (http_req.bucket), so once a bucket is exhausted no request of it is
 * sent until its reset: a request waits for the reset when that is before
 * its deadline and fails at once with -EIO otherwise, err naming the
 * reset time. A 403 or 429 that is a rate-limit refusal (remaining 0, a
 * retry-after, or GitHub's "secondary rate limit" text) is waited out and
 * retried the same way, whatever the method: the forge refused it without
 * acting. A secondary limit holds every request of the struct http until
 * its retry-after. http_limit_decide is that rule, pure, for the tests.
 * With http_options.max_inflight at most that many transfers run at once
 * over all threads, and with write_spacing_ms the starts of two writes
 * (POST, PATCH, PUT) are that far apart (GitHub asks for a second between
 * content-creating requests); a write that could not start before its
 * deadline fails with -EIO before anything is sent.
 *
 * Conditional GETs: a request with etag_in sends If-None-Match, and a 304
 * then counts as answered (not_modified set, no body). Every answer's
 * ETag and Link headers are kept in the request.
 *
 * Answers are capped at max_body bytes. A request marked stream keeps a
 * 2xx body in pieces that http_req_json hands to jansson one at a time,
 * freeing each once read: a large answer never stands as raw text and as
 * a parsed tree at full size at once. A write (POST, PATCH, PUT) answered
 * 2xx with a body over the cap still succeeded on the forge: http_run
 * reports it as done, with too_large set and the body's first bytes kept.
 *
 * Thread-safety: http_run may be called from many threads on one struct
 * http; the pool, the share and the rate-limit state are guarded by their
 * own mutexes.
 */
#ifndef BOTTLEFS_FORGE_HTTP_H
#define BOTTLEFS_FORGE_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/check.h"

#define HTTP_PARALLEL 8
/* The answer cap when http_options.max_body is 0. */
#define HTTP_MAX_BODY_DEFAULT ((size_t)64 << 20)

struct http;
struct http_chunk;
struct json_t;

/* The User-Agent when http_options.user_agent is NULL (GitHub refuses requests without one). */
#define HTTP_USER_AGENT "bottlefs/" BOTTLEFS_VERSION

struct http_options {
	const char *base_url;	     /* "http://host:port", no trailing slash */
	const char *token;	     /* NULL: anonymous */
	unsigned connect_timeout_ms; /* 0: 5000 */
	size_t max_body;	     /* cap on one response body (0: HTTP_MAX_BODY_DEFAULT) */
	/* Zero or NULL below keeps the behaviour the Gitea adapter was built on. */
	const char *auth_scheme;    /* "Authorization: <scheme> <token>" (NULL: "token") */
	const char *user_agent;	    /* NULL: HTTP_USER_AGENT */
	const char *accept;	    /* the default Accept (NULL: "application/json") */
	const char *const *headers; /* more header lines for every request, NULL-terminated */
	unsigned max_inflight;	    /* transfers at once over every thread (0: no cap) */
	unsigned write_spacing_ms;  /* least time between the starts of two writes (0: none) */
};

enum http_method {
	HTTP_GET,
	HTTP_POST,
	HTTP_PATCH,
	HTTP_PUT,
};

struct http_req {
	/* In (borrowed). */
	enum http_method method;
	const char *path;    /* appended to base_url, e.g. "/api/v1/version" */
	const char *json;    /* request body, or NULL */
	bool stream;	     /* a 2xx body is kept in pieces for http_req_json, not in body */
	const char *url;     /* an absolute URL instead of base_url + path (path names it in err) */
	const char *accept;  /* Accept for this request (NULL: the default) */
	const char *etag_in; /* GET only: sent as If-None-Match (ignored unless printable) */
	const char *bucket;  /* the rate-limit bucket it counts against (NULL: "core") */
	/* Out: filled by http_run even on failure, released by http_req_release. */
	long status;	 /* last HTTP status, 0 when none arrived */
	struct buf body; /* the body (with stream: only a non-2xx answer's) */
	bool has_total;	 /* X-Total-Count was sent */
	uint64_t total;
	char content_type[128]; /* "" when absent */
	bool too_large;		/* the body passed max_body; body holds its first bytes */
	int64_t length;		/* Content-Length as sent, -1 when absent */
	bool not_modified;	/* 304 to etag_in: the answer is the one it names */
	char etag[256];		/* ETag as sent ("" when absent or longer) */
	struct buf link;	/* Link as sent (several Link headers joined by ", ") */
	bool link_over;		/* Link was longer than link holds (link is then empty) */
	int64_t rl_remaining;	/* x-ratelimit-remaining, -1 when absent */
	int64_t rl_reset;	/* x-ratelimit-reset (epoch seconds), -1 when absent */
	long retry_after;	/* Retry-After in seconds, -1 when absent (or a date) */
	/* Private to http.c: a streamed body's pieces, oldest first. */
	struct http_chunk *chunks, *chunks_tail;
	size_t chunks_len;
};

/* 0, or -EINVAL / -ENOMEM with a reason in err. *out is new. */
MUST_CHECK int http_new(const struct http_options *opt, struct http **out, struct buf *err);
/* NULL-safe; wipes the token. */
void http_free(struct http *h);

/* CLOCK_MONOTONIC in milliseconds, the clock deadlines are measured on. */
uint64_t http_now_ms(void);

/*
 * Runs reqs[0..n) and returns 0 when every one got a 2xx answer. Otherwise
 * the first failure as -errno (http_status_errno for an HTTP status, -EIO
 * for transport failures, timeouts and a GET's over-large body) with a
 * reason naming the method and path in err; the rest of the batch is
 * abandoned. A write answered 2xx whose body is over the cap counts as
 * answered (too_large set): the forge applied it.
 */
MUST_CHECK int http_run(struct http *h, struct http_req *reqs, size_t n, uint64_t deadline_ms,
			struct buf *err);
void http_req_release(struct http_req *r);

/* The cap on one answer's body, in bytes. */
size_t http_max_body(const struct http *h);

/*
 * Parses the streamed 2xx body of q (q->stream) as one JSON array or
 * object; *root is new. The pieces are handed to jansson in order and each
 * is freed once read, so the pieces are gone afterwards. More than
 * max_values JSON values (counted as the text is handed over, before
 * jansson allocates for them), invalid JSON, invalid UTF-8 or an empty
 * body: -EIO with a reason in err. -ENOMEM.
 */
MUST_CHECK int http_req_json(struct http_req *q, size_t max_values, struct json_t **root,
			     struct buf *err);

/* The one status -> errno table of the adapter. */
int http_status_errno(long status);

/* Appends s percent-encoded but for RFC 3986's unreserved bytes (a URL path segment). */
MUST_CHECK int http_put_escaped(struct buf *b, const char *s);

/* What a refused answer said about the forge's rate limit. */
struct http_limit {
	long status;	     /* the answer's status */
	int64_t remaining;   /* x-ratelimit-remaining, -1 when absent */
	int64_t reset;	     /* x-ratelimit-reset (epoch seconds), -1 when absent */
	long retry_after;    /* retry-after (seconds), -1 when absent */
	bool secondary_text; /* the body names a secondary rate limit */
};

/*
 * Whether an answer is a rate-limit refusal and what to do about it, at
 * now_s (wall clock, epoch seconds) and now_ms (http_now_ms) with the
 * request's deadline. Only a 403 or 429 can be one: with remaining 0 the
 * primary limit stands until reset; else a retry-after says how long; else
 * a "secondary rate limit" text asks for a minute. Returns 0 when it is no
 * rate-limit refusal, 1 with *until_ms (on http_now_ms's clock) when the
 * wait ends before the deadline, -EIO with a reason in why (may be NULL)
 * naming the reset time or the wait otherwise. Pure.
 */
int http_limit_decide(const struct http_limit *l, int64_t now_s, uint64_t now_ms,
		      uint64_t deadline_ms, uint64_t *until_ms, struct buf *why);

#endif
