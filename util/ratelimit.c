#include "util/ratelimit.h"

#include <string.h>

void ratelimit_init(struct ratelimit *rl, int64_t repeat_ms, double per_second, double burst)
{
	memset(rl, 0, sizeof(*rl));
	rl->repeat_ms = repeat_ms;
	rl->per_second = per_second;
	rl->burst = burst;
	rl->tokens = burst;
	pthread_mutex_init(&rl->lock, NULL);
}

void ratelimit_release(struct ratelimit *rl)
{
	pthread_mutex_destroy(&rl->lock);
}

/* FNV-1a, 64 bits: a key per line; a collision only drops a line early. */
static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h | 1; /* 0 marks an empty slot */
}

/* The key's slot, or the one to reuse (an empty one, else the oldest). lock held. */
static size_t slot_of(struct ratelimit *rl, uint64_t key, bool *found)
{
	size_t i, oldest = 0, empty = RATELIMIT_SLOTS;

	*found = false;
	for (i = 0; i < RATELIMIT_SLOTS; i++) {
		if (rl->slot[i].key == key) {
			*found = true;
			return i;
		}
		if (!rl->slot[i].key) {
			if (empty == RATELIMIT_SLOTS)
				empty = i;
		} else if (rl->slot[i].ms < rl->slot[oldest].ms) {
			oldest = i;
		}
	}
	return empty < RATELIMIT_SLOTS ? empty : oldest;
}

bool ratelimit_allow(struct ratelimit *rl, const char *s, size_t n, int64_t now_ms,
		     uint64_t *refused)
{
	uint64_t key = hash(s, n);
	bool found, ok = true;
	size_t i;

	pthread_mutex_lock(&rl->lock);
	if (rl->refilled_ms && now_ms > rl->refilled_ms) {
		rl->tokens += (double)(now_ms - rl->refilled_ms) * rl->per_second / 1000.0;
		if (rl->tokens > rl->burst)
			rl->tokens = rl->burst;
	}
	rl->refilled_ms = now_ms;
	i = slot_of(rl, key, &found);
	if (found && now_ms - rl->slot[i].ms < rl->repeat_ms)
		ok = false;
	else if (rl->tokens < 1.0)
		ok = false;
	if (ok) {
		rl->tokens -= 1.0;
		rl->slot[i].key = key;
		rl->slot[i].ms = now_ms;
		if (refused)
			*refused = rl->refused;
		rl->refused = 0;
	} else {
		rl->refused++;
	}
	pthread_mutex_unlock(&rl->lock);
	return ok;
}
