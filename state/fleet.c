/*
 * state: the lease and the queue of done signals (state.h). They belong to
 * a shared database (state/pg/fleet.c); on SQLite one machine holds every
 * lease and the queue is a directory (write/queue.c), so these answer
 * without touching the file.
 */
#include "state/internal.h"

#include <errno.h>
#include <stdint.h>

#include "state/pg/pg.h"

int state_lease_take(struct state *st, const char *owner, const char *repo, uint64_t issue,
		     const char *holder, unsigned ttl_s, char **other, int64_t *left_ms)
{
	if (!sq_key_ok(owner, repo, issue) || !holder || !*holder || ttl_s < 1)
		return -EINVAL;
	if (st->pg)
		return pgx_lease_take(st, owner, repo, issue, holder, ttl_s, other, left_ms);
	if (left_ms)
		*left_ms = INT64_MAX;
	return 0;
}

int state_lease_release(struct state *st, const char *owner, const char *repo, uint64_t issue,
			const char *holder)
{
	if (!sq_key_ok(owner, repo, issue) || !holder)
		return -EINVAL;
	return st->pg ? pgx_lease_release(st, owner, repo, issue, holder) : 0;
}

int state_lease_check(struct state *st, const char *owner, const char *repo, uint64_t issue,
		      const char *holder, int64_t *left_ms)
{
	if (!sq_key_ok(owner, repo, issue) || !holder)
		return -EINVAL;
	if (st->pg)
		return pgx_lease_check(st, owner, repo, issue, holder, left_ms);
	if (left_ms)
		*left_ms = INT64_MAX;
	return 0;
}

int state_queue_push(struct state *st, const char *owner, const char *repo, uint64_t issue,
		     const char *body, int64_t *id)
{
	if (!sq_key_ok(owner, repo, issue) || !body)
		return -EINVAL;
	return st->pg ? pgx_queue_push(st, owner, repo, issue, body, id) : -ENOTSUP;
}

int state_queue_take(struct state *st, int64_t *id, char **body)
{
	if (!id || !body)
		return -EINVAL;
	return st->pg ? pgx_queue_take(st, id, body) : -ENOTSUP;
}

int state_queue_each(struct state *st, int (*cb)(void *ud, int64_t id, const char *body), void *ud)
{
	if (!cb)
		return -EINVAL;
	return st->pg ? pgx_queue_each(st, cb, ud) : -ENOTSUP;
}

int state_queue_wait(struct state *st, unsigned timeout_ms)
{
	return st->pg ? pgx_queue_wait(st, timeout_ms) : -ENOTSUP;
}
