#include "fs/notify.h"

#include <errno.h>
#include <fuse.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct notifier {
	struct fuse *fuse;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work; /* signalled when paths are queued or on stop */
	pthread_cond_t sent; /* signalled when a batch was sent */
	char **paths;	     /* lock */
	size_t n, cap;	     /* lock */
	uint64_t queued;     /* tickets handed out; lock */
	uint64_t processed;  /* tickets sent; lock */
	bool stop;	     /* lock */
};

static void *run(void *arg)
{
	struct notifier *nt = arg;

	pthread_mutex_lock(&nt->lock);
	while (!nt->stop) {
		char **batch;
		size_t n, i;
		uint64_t upto;

		if (nt->n == 0) {
			pthread_cond_wait(&nt->work, &nt->lock);
			continue;
		}
		batch = nt->paths;
		n = nt->n;
		upto = nt->queued;
		nt->paths = NULL;
		nt->n = nt->cap = 0;
		pthread_mutex_unlock(&nt->lock);
		/* -ENOENT only means the kernel holds nothing for that path. */
		for (i = 0; i < n; i++) {
			fuse_invalidate_path(nt->fuse, batch[i]);
			free(batch[i]);
		}
		free(batch);
		pthread_mutex_lock(&nt->lock);
		nt->processed = upto;
		pthread_cond_broadcast(&nt->sent);
	}
	pthread_mutex_unlock(&nt->lock);
	return NULL;
}

int notifier_start(struct fuse *fuse, struct notifier **out)
{
	struct notifier *nt = calloc(1, sizeof(*nt));
	pthread_condattr_t ca;

	if (!nt)
		return -ENOMEM;
	nt->fuse = fuse;
	pthread_mutex_init(&nt->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&nt->work, NULL);
	pthread_cond_init(&nt->sent, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&nt->thread, NULL, run, nt) != 0) {
		free(nt);
		return -EAGAIN;
	}
	*out = nt;
	return 0;
}

void notifier_stop(struct notifier *nt)
{
	size_t i;

	if (!nt)
		return;
	pthread_mutex_lock(&nt->lock);
	nt->stop = true;
	pthread_cond_broadcast(&nt->work);
	pthread_mutex_unlock(&nt->lock);
	pthread_join(nt->thread, NULL);
	for (i = 0; i < nt->n; i++)
		free(nt->paths[i]);
	free(nt->paths);
	pthread_cond_destroy(&nt->work);
	pthread_cond_destroy(&nt->sent);
	pthread_mutex_destroy(&nt->lock);
	free(nt);
}

uint64_t notifier_push(struct notifier *nt, const char *const *paths, size_t count)
{
	uint64_t ticket = 0;
	size_t i;

	pthread_mutex_lock(&nt->lock);
	if (nt->n + count > nt->cap) {
		size_t cap = (nt->n + count) * 2;
		char **p = realloc(nt->paths, cap * sizeof(*p));

		if (!p)
			goto out;
		nt->paths = p;
		nt->cap = cap;
	}
	for (i = 0; i < count; i++) {
		char *copy = strdup(paths[i]);

		if (copy)
			nt->paths[nt->n++] = copy;
	}
	ticket = ++nt->queued;
	pthread_cond_signal(&nt->work);
out:
	pthread_mutex_unlock(&nt->lock);
	return ticket;
}

void notifier_wait(struct notifier *nt, uint64_t ticket, unsigned timeout_ms)
{
	struct timespec until;

	if (!ticket)
		return;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&nt->lock);
	while (nt->processed < ticket &&
	       pthread_cond_timedwait(&nt->sent, &nt->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&nt->lock);
}
