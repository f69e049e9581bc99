/*
 * http internals: what forge/http.c (requests, retries, the run loop),
 * forge/http_body.c (bodies and headers as they arrive, the streamed JSON
 * reader) and forge/http_limits.c (rate limits, secondary-limit holds,
 * write spacing, the transfer slots) share. Not an API: http.h is.
 * Thread-safety is http.h's: a struct http is shared by every thread (its
 * pool, share and rate state under their locks); a struct xfer belongs to
 * the one http_run that made it.
 */
#ifndef BOTTLEFS_FORGE_HTTP_INTERNAL_H
#define BOTTLEFS_FORGE_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "forge/http.h"

#define POOL_MAX 16
/* Streamed bodies are kept in pieces of this size (curl hands over 16 KiB at most). */
#define CHUNK_SIZE ((size_t)64 << 10)
#define RETRY_AFTER_MAX_S 3600
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000
/* A rate-limit reset is in whole seconds on the forge's clock: wait a little past it. */
#define LIMIT_MARGIN_MS 250
/* GitHub: a secondary limit without retry-after asks for at least a minute. */
#define SECONDARY_WAIT_MS 60000
/* A wait must leave this much of the deadline for the request itself. */
#define WAIT_SLACK_MS 50
#define LINK_MAX ((size_t)16 << 10)
#define BUCKETS 4

/* One rate-limit bucket as the forge last reported it. */
struct bucket {
	char name[16]; /* "" unused */
	bool exhausted;
	int64_t reset; /* epoch seconds, when exhausted */
};

struct http {
	char *base_url;
	char *accept;	   /* the default Accept value */
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

	/* The forge's rate limits and our own pacing; all guarded by rate_lock. */
	pthread_mutex_t rate_lock;
	pthread_cond_t slot_free; /* signalled when a transfer ends (CLOCK_MONOTONIC) */
	unsigned max_inflight;	  /* 0: no cap */
	unsigned inflight;	  /* transfers running over every thread */
	unsigned write_spacing_ms;
	uint64_t next_write_ms;		/* the earliest the next write may start */
	uint64_t hold_until_ms;		/* a secondary limit: nothing starts before */
	char hold_reason[160];		/* why, for a request that cannot wait that long */
	struct bucket buckets[BUCKETS]; /* primary limits by resource */
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
	uint64_t not_before;	 /* ms; a retry waits for this */
	bool too_big;		 /* the write callback refused more body */
	int streaming;		 /* -1 undecided, 0 into body, 1 into chunks (this attempt) */
	long retry_after_s;	 /* from the last response, -1 when absent */
	bool slot;		 /* holds one of h->max_inflight */
	bool spaced;		 /* a write whose start time is reserved (not_before) */
	struct curl_slist *hdrs; /* this request's headers (the token: wiped on free) */
	char errbuf[CURL_ERROR_SIZE];
};

const char *http_method_name(enum http_method m);

/* ---- http_body.c: what an answer brings ---------------------------- */

/* Frees a streamed body's pieces. */
void http_chunks_free(struct http_req *q);
/* Every header-derived output of q, as before any answer. */
void http_forget_headers(struct http_req *q);
/* curl's write and header callbacks; user is the struct xfer. */
size_t http_on_body(char *p, size_t size, size_t nmemb, void *user);
size_t http_on_header(char *p, size_t size, size_t nmemb, void *user);

/* ---- http_limits.c: when a request may start ------------------------ */

/* The wall clock in epoch seconds: what x-ratelimit-reset is measured on. */
int64_t http_wall_s(void);
/* Remembers what an answer said about its bucket (any status). */
void http_note_limits(struct http *h, const struct http_req *q);
/* A secondary limit: nothing of this struct http starts before until_ms. */
void http_hold(struct http *h, uint64_t until_ms, const struct buf *why);
enum gate_verdict {
	GATE_GO,      /* start it now: a slot is taken */
	GATE_WAIT,    /* x->not_before is set */
	GATE_NO_SLOT, /* every transfer slot is busy */
};

/*
 * Whether x may start now: a GATE_*, or -EIO (reason in err, nothing sent)
 * when a known limit lasts past deadline.
 */
int http_gate(struct http *h, struct xfer *x, uint64_t now, uint64_t deadline, struct buf *err);
/* Gives back x's transfer slot, if it holds one. */
void http_slot_put(struct http *h, struct xfer *x);
/* Waits (at most until until_ms) for another thread's transfer to end. */
void http_slot_wait(struct http *h, uint64_t until_ms);
/* GitHub's words for a secondary limit, in an answer's body. */
bool http_secondary_text(const struct buf *body);

#endif
