/*
 * gitea/http: the small HTTP layer under the Gitea adapter (libcurl).
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
 * Thread-safety: http_run may be called from many threads on one struct
 * http; the pool and the share are guarded by their own mutexes.
 */
#ifndef BOTTLEFS_FORGE_GITEA_HTTP_H
#define BOTTLEFS_FORGE_GITEA_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

#define HTTP_PARALLEL 8

struct http;

struct http_options {
	const char *base_url;	     /* "http://host:port", no trailing path */
	const char *token;	     /* NULL: anonymous */
	unsigned connect_timeout_ms; /* 0: 5000 */
	size_t max_body;	     /* cap on one response body (0: 32 MiB) */
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
	const char *path; /* appended to base_url, e.g. "/api/v1/version" */
	const char *json; /* request body, or NULL */
	/* Out: filled by http_run even on failure, released by http_req_release. */
	long status; /* last HTTP status, 0 when none arrived */
	struct buf body;
	bool has_total; /* X-Total-Count was sent */
	uint64_t total;
	char content_type[128]; /* "" when absent */
};

/* 0, or -EINVAL / -ENOMEM with a reason in err. *out is new. */
int http_new(const struct http_options *opt, struct http **out, struct buf *err);
/* NULL-safe; wipes the token. */
void http_free(struct http *h);

/* CLOCK_MONOTONIC in milliseconds, the clock deadlines are measured on. */
uint64_t http_now_ms(void);

/*
 * Runs reqs[0..n) and returns 0 when every one got a 2xx answer. Otherwise
 * the first failure as -errno (http_status_errno for an HTTP status, -EIO
 * for transport failures, timeouts and over-large bodies) with a reason
 * naming the method and path in err; the rest of the batch is abandoned.
 */
int http_run(struct http *h, struct http_req *reqs, size_t n, uint64_t deadline_ms,
	     struct buf *err);
void http_req_release(struct http_req *r);

/* The one status -> errno table of the adapter. */
int http_status_errno(long status);

#endif
