/*
 * lease: one writer per assignment on a shared state store (write.h).
 *
 * The lease is a row in the database (state_lease_take), its expiry by the
 * database's clock. Here is the daemon's view of it: HELD until a local
 * deadline (the time the last renewal was sent plus what the database
 * said was left, so a renewal that answered late only shortens it),
 * WAITING while another daemon holds it, LOST once the database said
 * another took it. The renewing thread and every write (lease_may_write)
 * update the view; a takeover (not held, then held) loads the assignment
 * again and finishes its unanswered writes.
 */
#include "write/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/time.h"

enum lease_status { LEASE_HELD, LEASE_WAITING, LEASE_LOST };

struct lease {
	struct lease_options o;
	char holder[160]; /* this daemon: host, pid and a random part */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool running, stop;	   /* lock */
	enum lease_status status;  /* lock */
	int64_t until_ms;	   /* HELD: local monotonic deadline; lock */
	char other[160];	   /* WAITING, LOST: who holds it; lock */
	int64_t other_left_ms;	   /* WAITING: its time left when last asked; lock */
	bool unreachable;	   /* the last renewal could not reach the database; lock */
	pthread_mutex_t bind_lock; /* held while a takeover runs */
	struct write *w;	   /* bind_lock */
};

static unsigned ttl(const struct lease *l)
{
	return l->o.ttl_s ? l->o.ttl_s : WRITE_LEASE_DEFAULT;
}

static void make_holder(struct lease *l)
{
	char host[64] = "?";
	uint64_t r = 0;
	FILE *f = fopen("/dev/urandom", "re");

	if (f) {
		if (fread(&r, sizeof(r), 1, f) != 1)
			r = (uint64_t)time_wall_ms();
		fclose(f);
	}
	if (gethostname(host, sizeof(host) - 1) < 0)
		snprintf(host, sizeof(host), "?");
	snprintf(l->holder, sizeof(l->holder), "%s pid %ld %016" PRIx64, host, (long)getpid(), r);
}

static void say(struct lease *l, int r, const char *what)
{
	fprintf(stderr, "bottlefs: %s\n", what);
	wlog_add(l->o.log, ".bottlefs/scope", r, what);
}

/*
 * Loads what the holder before left: its pull requests (in scope from
 * now on) and a done signal that stands. w->lock orders it with writes.
 */
static void reload(struct write *w)
{
	struct scope *s = w->opt.scope;
	uint64_t *prs = NULL;
	size_t n = 0, i;
	char *text = NULL;

	if (state_pr_list(w->opt.state, s->owner, s->repo, s->issue, &prs, &n) == 0)
		for (i = 0; i < n; i++)
			(void)!scope_add_pr(s, prs[i]); /* -ENOMEM: that PR stays out of scope */
	free(prs);
	pthread_mutex_lock(&w->lock);
	if (!w->done_text &&
	    state_done_get(w->opt.state, s->owner, s->repo, s->issue, &text) == 0) {
		w->done_text = text;
		scope_set_done(s);
	}
	pthread_mutex_unlock(&w->lock);
}

/* After taking the lease over: the other's pull requests, signal and unanswered writes. */
static void take_over(struct lease *l)
{
	struct buf err = BUF_INIT(4096), line = BUF_INIT(4096);
	int r;

	pthread_mutex_lock(&l->bind_lock);
	if (l->w) {
		reload(l->w);
		r = write_recover(l->w, &err);
		if (buf_printf(&line, "lease taken over: finished %d unanswered write(s)%s%s",
			       r < 0 ? 0 : r, err.len ? "; still unfinished: " : "",
			       buf_cstr(&err)) == 0)
			say(l, 0, buf_cstr(&line));
	}
	pthread_mutex_unlock(&l->bind_lock);
	buf_release(&err);
	buf_release(&line);
}

/*
 * Asks the database once and updates the view. 0 held; -EBUSY another
 * holds it; -EIO unreachable. *taken is set when this call turned a lease
 * that was not held into one that is.
 */
static int renew(struct lease *l, bool *taken)
{
	struct scope *s = l->o.scope;
	int64_t sent = time_mono_ms(), left = 0;
	char *other = NULL;
	bool lost = false;
	int r;

	*taken = false;
	r = state_lease_take(l->o.state, s->owner, s->repo, s->issue, l->holder, ttl(l), &other,
			     &left);
	pthread_mutex_lock(&l->lock);
	if (r == 0) {
		if (left > (int64_t)ttl(l) * 1000)
			left = (int64_t)ttl(l) * 1000;
		*taken = l->status != LEASE_HELD || sent >= l->until_ms;
		l->status = LEASE_HELD;
		l->until_ms = sent + left;
		l->unreachable = false;
	} else if (r == -EBUSY) {
		lost = l->status == LEASE_HELD;
		l->status = lost ? LEASE_LOST : l->status;
		snprintf(l->other, sizeof(l->other), "%s", other ? other : "?");
		l->other_left_ms = left;
		l->unreachable = false;
	} else {
		l->unreachable = true;
		r = -EIO;
	}
	pthread_mutex_unlock(&l->lock);
	if (lost) {
		struct buf why = BUF_INIT(512);

		if (buf_printf(&why, "lease lost: %s took over %s/%s#%llu; writes fail with EROFS",
			       other ? other : "?", s->owner, s->repo,
			       (unsigned long long)s->issue) == 0)
			say(l, -EROFS, buf_cstr(&why));
		buf_release(&why);
	}
	free(other);
	return r;
}

int lease_new(const struct lease_options *o, struct lease **out, struct buf *err)
{
	struct lease *l;
	bool taken;

	if (!o->state || !o->scope || !o->scope->assigned)
		return buf_fail(err, -EINVAL, "a lease needs an assignment and a state store");
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->o = *o;
	pthread_mutex_init(&l->lock, NULL);
	pthread_mutex_init(&l->bind_lock, NULL);
	pthread_cond_init(&l->wake, NULL);
	make_holder(l);
	l->status = LEASE_WAITING;
	/* Held or not, the mount starts: read-only until the lease is this daemon's. */
	(void)!renew(l, &taken);
	o->scope->lease = l;
	*out = l;
	return 0;
}

static void *run(void *ud)
{
	struct lease *l = ud;
	int64_t every = (int64_t)ttl(l) * 1000 / 3;
	bool taken;

	if (every < 100)
		every = 100;
	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		struct timespec ts;
		int64_t at = time_wall_ms() + every;

		ts.tv_sec = at / 1000;
		ts.tv_nsec = (at % 1000) * 1000000;
		pthread_cond_timedwait(&l->wake, &l->lock, &ts);
		if (l->stop)
			break;
		pthread_mutex_unlock(&l->lock);
		if (renew(l, &taken) == 0 && taken)
			take_over(l);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int lease_start(struct lease *l)
{
	int r;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->lock);
	r = l->running ? 0 : -pthread_create(&l->thread, NULL, run, l);
	if (r == 0)
		l->running = true;
	pthread_mutex_unlock(&l->lock);
	return r;
}

void lease_bind(struct lease *l, struct write *w)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->bind_lock);
	l->w = w;
	pthread_mutex_unlock(&l->bind_lock);
}

void lease_free(struct lease *l)
{
	struct scope *s;
	bool running;

	if (!l)
		return;
	s = l->o.scope;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	running = l->running;
	pthread_cond_broadcast(&l->wake);
	pthread_mutex_unlock(&l->lock);
	if (running)
		pthread_join(l->thread, NULL);
	/* Given up only when held: a successor need not wait for it to expire. */
	if (l->status == LEASE_HELD)
		(void)!state_lease_release(l->o.state, s->owner, s->repo, s->issue, l->holder);
	s->lease = NULL;
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->bind_lock);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

bool lease_held(struct lease *l)
{
	bool held;

	if (!l)
		return true;
	pthread_mutex_lock(&l->lock);
	held = l->status == LEASE_HELD && time_mono_ms() < l->until_ms;
	pthread_mutex_unlock(&l->lock);
	return held;
}

/* Why this mount may not write now, or 0 (lock held). */
static int refusal(struct lease *l, struct buf *err)
{
	struct scope *s = l->o.scope;
	unsigned long long n = (unsigned long long)s->issue;

	if (l->status == LEASE_WAITING)
		return buf_fail(err, -EROFS,
				"read-only: another daemon (%s) holds the lease on %s/%s#%llu",
				l->other, s->owner, s->repo, n);
	if (l->status == LEASE_LOST)
		return buf_fail(err, -EROFS,
				"read-only: the lease on %s/%s#%llu was taken over by %s", s->owner,
				s->repo, n, l->other);
	if (time_mono_ms() >= l->until_ms)
		return buf_fail(err, -EROFS,
				"read-only: the lease on %s/%s#%llu expired while the state "
				"database could not be reached",
				s->owner, s->repo, n);
	return 0;
}

/* The database says this daemon holds the lease: 0 (the view updated), -ENOENT, -EIO. */
static int confirm(struct lease *l)
{
	struct scope *s = l->o.scope;
	int64_t sent = time_mono_ms(), left = 0;
	int r = state_lease_check(l->o.state, s->owner, s->repo, s->issue, l->holder, &left);

	if (r != 0 && r != -ENOENT)
		return -EIO;
	if (r == 0) {
		pthread_mutex_lock(&l->lock);
		if (l->status == LEASE_HELD && left <= (int64_t)ttl(l) * 1000)
			l->until_ms = sent + left;
		l->unreachable = false;
		pthread_mutex_unlock(&l->lock);
	}
	return r;
}

int lease_may_write(struct lease *l, struct buf *err)
{
	bool taken;
	int r;

	if (!l)
		return 0;
	pthread_mutex_lock(&l->lock);
	r = refusal(l, err);
	pthread_mutex_unlock(&l->lock);
	if (r < 0)
		return r;
	/*
	 * Asked on every write: a lease another took is seen before anything
	 * is sent. A read while it is held; a renewal when it is not sure.
	 */
	r = confirm(l);
	if (r == -ENOENT)
		r = renew(l, &taken);
	if (r == -EIO)
		return buf_fail(
		    err, -EIO,
		    "the state database cannot be reached: nothing was journaled or sent");
	pthread_mutex_lock(&l->lock);
	r = refusal(l, err);
	pthread_mutex_unlock(&l->lock);
	return r;
}

int lease_describe(struct lease *l, struct buf *out)
{
	struct scope *s;
	int r;

	if (!l)
		return 0;
	s = l->o.scope;
	pthread_mutex_lock(&l->lock);
	if (l->status == LEASE_HELD && time_mono_ms() < l->until_ms)
		r = buf_printf(out, "lease: held by this mount (%s), %u s, renewed every %u s%s\n",
			       l->holder, ttl(l), ttl(l) / 3 ? ttl(l) / 3 : 1,
			       l->unreachable ? " (the state database is away now)" : "");
	else if (l->status == LEASE_WAITING)
		r = buf_printf(
		    out,
		    "read-only: another daemon (%s) holds the lease on %s/%s#%llu; every "
		    "write fails with EROFS until this mount takes it over\n",
		    l->other, s->owner, s->repo, (unsigned long long)s->issue);
	else if (l->status == LEASE_LOST)
		r = buf_printf(
		    out,
		    "read-only: the lease on %s/%s#%llu was taken over by %s; every write "
		    "fails with EROFS\n",
		    s->owner, s->repo, (unsigned long long)s->issue, l->other);
	else
		r = buf_printf(
		    out,
		    "read-only: the lease on %s/%s#%llu expired while the state database "
		    "could not be reached; every write fails with EROFS until it is "
		    "renewed\n",
		    s->owner, s->repo, (unsigned long long)s->issue);
	pthread_mutex_unlock(&l->lock);
	return r;
}
