/*
 * http_limits: when a request may start: the forge's rate limits (primary
 * buckets, secondary holds), spaced writes and the transfer slots (http.h).
 */
#include "forge/http_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The wall clock in epoch seconds: what x-ratelimit-reset is measured on. */
int64_t http_wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

/* Appends "2025-01-31T12:00:00Z" for the epoch second t. */
static void put_utc(struct buf *b, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char s[32];

	if (gmtime_r(&tt, &tm) && strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		buf_note(b, "%s", s);
	else
		buf_note(b, "epoch %lld", (long long)t);
}

int http_limit_decide(const struct http_limit *l, int64_t now_s, uint64_t now_ms,
		      uint64_t deadline_ms, uint64_t *until_ms, struct buf *why)
{
	uint64_t wait;

	if (l->status != 403 && l->status != 429)
		return 0;
	if (l->remaining == 0) {
		if (l->reset < 0)
			return buf_fail(why, -EIO,
					"rate limit exhausted (the forge sent no reset time)");
		/* A reset already past on our clock: the forge's clock is behind; a little more. */
		wait =
		    (l->reset > now_s ? (uint64_t)(l->reset - now_s) * 1000 : 0) + LIMIT_MARGIN_MS;
		if (now_ms + wait + WAIT_SLACK_MS < deadline_ms) {
			*until_ms = now_ms + wait;
			return 1;
		}
		if (why) {
			buf_note(why, "%s", "rate limit exhausted until ");
			put_utc(why, l->reset);
			buf_note(why, " (in %lld s), past the timeout",
				 (long long)(l->reset > now_s ? l->reset - now_s : 0));
		}
		return -EIO;
	}
	if (l->retry_after >= 0)
		wait = (uint64_t)l->retry_after * 1000;
	else if (l->secondary_text)
		wait = SECONDARY_WAIT_MS;
	else
		return 0;
	if (now_ms + wait + WAIT_SLACK_MS < deadline_ms) {
		*until_ms = now_ms + wait;
		return 1;
	}
	return buf_fail(why, -EIO, "%srate limited: retry after %llu s, past the timeout",
			l->secondary_text ? "secondary " : "", (unsigned long long)(wait / 1000));
}

static struct bucket *bucket_of(struct http *h, const char *name, bool add)
{
	size_t i;

	for (i = 0; i < BUCKETS; i++)
		if (h->buckets[i].name[0] && strcmp(h->buckets[i].name, name) == 0)
			return &h->buckets[i];
	for (i = 0; add && i < BUCKETS; i++) {
		if (!h->buckets[i].name[0] && strlen(name) < sizeof(h->buckets[i].name)) {
			memcpy(h->buckets[i].name, name, strlen(name) + 1);
			return &h->buckets[i];
		}
	}
	return NULL;
}

static const char *bucket_name(const struct http_req *q)
{
	return q->bucket ? q->bucket : "core";
}

/* Remembers what an answer said about its bucket (any status). */
void http_note_limits(struct http *h, const struct http_req *q)
{
	struct bucket *b;

	if (q->rl_remaining < 0)
		return;
	pthread_mutex_lock(&h->rate_lock);
	b = bucket_of(h, bucket_name(q), q->rl_remaining == 0);
	if (b) {
		b->exhausted = q->rl_remaining == 0 && q->rl_reset >= 0;
		b->reset = q->rl_reset;
	}
	pthread_mutex_unlock(&h->rate_lock);
}

/* A secondary limit: nothing of this struct http starts before until_ms. */
void http_hold(struct http *h, uint64_t until_ms, const struct buf *why)
{
	pthread_mutex_lock(&h->rate_lock);
	if (until_ms > h->hold_until_ms) {
		h->hold_until_ms = until_ms;
		snprintf(h->hold_reason, sizeof(h->hold_reason), "%s", buf_cstr(why));
	}
	pthread_mutex_unlock(&h->rate_lock);
}

/*
 * Whether x may start now: a known exhausted bucket or a secondary limit
 * makes it wait when that ends before deadline and fails it (-EIO,
 * reason in err) otherwise, without sending anything; a write waits for
 * its spaced start; then it takes a transfer slot when one is free.
 */
int http_gate(struct http *h, struct xfer *x, uint64_t now, uint64_t deadline, struct buf *err)
{
	struct http_req *q = x->req;
	struct buf why = BUF_INIT(512);
	struct bucket *b;
	uint64_t until = 0;
	int64_t ws;
	int r = GATE_GO;

	pthread_mutex_lock(&h->rate_lock);
	b = bucket_of(h, bucket_name(q), false);
	if (b && b->exhausted) {
		ws = http_wall_s();
		if (b->reset <= ws) {
			b->exhausted = false; /* a new window: the next answer tells */
		} else {
			until = now + (uint64_t)(b->reset - ws) * 1000 + LIMIT_MARGIN_MS;
			buf_note(&why, "%s", "rate limit exhausted until ");
			put_utc(&why, b->reset);
			buf_note(&why, " (in %lld s), past the timeout",
				 (long long)(b->reset - ws));
		}
	}
	if (h->hold_until_ms > now && h->hold_until_ms > until) {
		until = h->hold_until_ms;
		buf_reset(&why);
		buf_note(&why, "%s", h->hold_reason);
	}
	if (until > now) {
		if (until + WAIT_SLACK_MS >= deadline) {
			if (err)
				buf_note(err, "%s '%s': not sent: %s", http_method_name(q->method),
					 q->path, buf_cstr(&why));
			r = -EIO;
		} else {
			x->not_before = until;
			r = GATE_WAIT;
		}
		goto out;
	}
	if (h->write_spacing_ms && q->method != HTTP_GET && !x->spaced) {
		uint64_t start = h->next_write_ms > now ? h->next_write_ms : now;

		if (start + WAIT_SLACK_MS >= deadline) {
			if (err)
				buf_note(err,
					 "%s '%s': not sent: writes are spaced %u ms apart and the "
					 "timeout leaves no room",
					 http_method_name(q->method), q->path, h->write_spacing_ms);
			r = -EIO;
			goto out;
		}
		h->next_write_ms = start + h->write_spacing_ms;
		x->spaced = true;
		if (start > now) {
			x->not_before = start;
			r = GATE_WAIT;
			goto out;
		}
	}
	if (h->max_inflight && h->inflight >= h->max_inflight) {
		r = GATE_NO_SLOT;
		goto out;
	}
	h->inflight++;
	x->slot = true;
	x->spaced = false; /* used: a retry of this write is spaced again */
out:
	pthread_mutex_unlock(&h->rate_lock);
	buf_release(&why);
	return r;
}

void http_slot_put(struct http *h, struct xfer *x)
{
	if (!x->slot)
		return;
	pthread_mutex_lock(&h->rate_lock);
	h->inflight--;
	pthread_cond_signal(&h->slot_free);
	pthread_mutex_unlock(&h->rate_lock);
	x->slot = false;
}

/* Waits (at most until until_ms) for another thread's transfer to end. */
void http_slot_wait(struct http *h, uint64_t until_ms)
{
	struct timespec ts;

	pthread_mutex_lock(&h->rate_lock);
	if (h->max_inflight && h->inflight >= h->max_inflight) {
		ts.tv_sec = (time_t)(until_ms / 1000);
		ts.tv_nsec = (long)(until_ms % 1000) * 1000000;
		pthread_cond_timedwait(&h->slot_free, &h->rate_lock, &ts);
	}
	pthread_mutex_unlock(&h->rate_lock);
}

/* GitHub's words for a secondary limit, in an answer's body. */
bool http_secondary_text(const struct buf *body)
{
	static const char needle[] = "secondary rate limit";
	size_t i, k = sizeof(needle) - 1;

	for (i = 0; body->len >= k && i <= body->len - k; i++)
		if (strncasecmp(body->data + i, needle, k) == 0)
			return true;
	return false;
}
