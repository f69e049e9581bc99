/*
 * ratelimit: how often the daemon may say the same thing, and how much it
 * may say at all, so that nothing an agent does can flood the log (and the
 * disk under it): a failing path stat'ed in a loop, or a different failing
 * path each time.
 *
 * Two rules, both by the caller's clock (milliseconds):
 *  - the same key (a hash of the whole line) is allowed once per
 *    `repeat_ms`; a table of RATELIMIT_SLOTS recent keys remembers them
 *    (the oldest slot is reused, so a key may repeat early once more than
 *    that many distinct lines are live);
 *  - at most `burst` lines, refilled at `per_second`, in all.
 * A refused line is counted; ratelimit_allow hands the count of lines
 * refused since the last allowed one to the caller, who says so in the
 * line it writes ("N similar lines suppressed").
 *
 * Thread-safety: every function may be called from many threads (one
 * mutex, held for a table scan of RATELIMIT_SLOTS entries).
 */
#ifndef BOTTLEFS_UTIL_RATELIMIT_H
#define BOTTLEFS_UTIL_RATELIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_SLOTS 64

struct ratelimit {
	int64_t repeat_ms;
	double per_second;
	double burst;
	pthread_mutex_t lock;
	double tokens;	     /* lock */
	int64_t refilled_ms; /* lock; 0: never */
	uint64_t refused;    /* since the last allowed line; lock */
	struct {
		uint64_t key;
		int64_t ms;
	} slot[RATELIMIT_SLOTS]; /* lock */
};

void ratelimit_init(struct ratelimit *rl, int64_t repeat_ms, double per_second, double burst);
void ratelimit_release(struct ratelimit *rl);

/*
 * True when the line s[0..n) may be written at now_ms; then *refused (may
 * be NULL) gets how many lines were refused since the last allowed one.
 */
bool ratelimit_allow(struct ratelimit *rl, const char *s, size_t n, int64_t now_ms,
		     uint64_t *refused);

#endif
