/*
 * blob: the memory budget of a mount's open files, and the bytes of one
 * open file or scratch file charged to it (internal.h). Read snapshots
 * have a budget of their own: an agent holding many opens of one large
 * file (a diff) cannot grow the daemon past it, and reading cannot starve
 * what is being written.
 */
#include "tree/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void budget_init(struct budget *m, size_t write_max, size_t read_max)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
	m->write_max = write_max;
	m->read_max = read_max;
}

void budget_release(struct budget *m)
{
	pthread_mutex_destroy(&m->lock);
}

int budget_charge(struct budget *m, size_t n)
{
	int r = 0;

	pthread_mutex_lock(&m->lock);
	if (n > m->write_max - m->write_used)
		r = -ENOMEM;
	else
		m->write_used += n;
	pthread_mutex_unlock(&m->lock);
	return r;
}

/*
 * Read snapshots have a budget of their own: an agent holding many opens
 * of one large file (a diff) cannot grow the daemon past it, and reading
 * cannot starve what is being written.
 */
int budget_charge_read(struct budget *m, size_t n)
{
	int r = 0;

	pthread_mutex_lock(&m->lock);
	if (n > m->read_max - m->read_used)
		r = -ENOMEM;
	else
		m->read_used += n;
	pthread_mutex_unlock(&m->lock);
	return r;
}

void budget_refund_read(struct budget *m, size_t n)
{
	pthread_mutex_lock(&m->lock);
	m->read_used -= n < m->read_used ? n : m->read_used;
	pthread_mutex_unlock(&m->lock);
}

void budget_refund(struct budget *m, size_t n)
{
	pthread_mutex_lock(&m->lock);
	m->write_used -= n < m->write_used ? n : m->write_used;
	pthread_mutex_unlock(&m->lock);
}

size_t budget_used(struct budget *m, bool read)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = read ? m->read_used : m->write_used;
	pthread_mutex_unlock(&m->lock);
	return n;
}

/* Room for need bytes, charged first: 0, -EFBIG past max, -ENOMEM. */
int blob_reserve(struct budget *m, struct blob *b, size_t need, size_t max)
{
	size_t cap;
	char *p;

	if (need > max)
		return -EFBIG;
	if (need <= b->cap)
		return 0;
	/* Doubling, but never past max: a handle's memory stays <= max. */
	cap = b->cap < 4096 ? 4096 : b->cap * 2;
	if (cap > max)
		cap = max;
	if (cap < need)
		cap = need;
	if (budget_charge(m, cap - b->cap) < 0) {
		/* Short of the budget: exactly what is needed may still fit. */
		cap = need;
		if (budget_charge(m, cap - b->cap) < 0)
			return -ENOMEM;
	}
	p = realloc(b->data, cap);
	if (!p) {
		budget_refund(m, cap - b->cap);
		return -ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

void blob_free(struct budget *m, struct blob *b)
{
	budget_refund(m, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int blob_write(struct budget *m, struct blob *b, uint64_t off, const char *in, size_t size,
	       size_t max)
{
	size_t end;
	int r;

	if (off > max || size > max - off)
		return -EFBIG;
	end = (size_t)off + size;
	r = blob_reserve(m, b, end, max);
	if (r < 0)
		return r;
	if (off > b->len)
		memset(b->data + b->len, 0, (size_t)off - b->len);
	if (size)
		memcpy(b->data + off, in, size);
	if (end > b->len)
		b->len = end;
	return 0;
}

/* To 0 the memory is given back; growing fills with zeros. */
int blob_truncate(struct budget *m, struct blob *b, uint64_t size, size_t max)
{
	int r;

	if (size > max)
		return -EFBIG;
	if (size == 0) {
		blob_free(m, b);
		return 0;
	}
	if (size > b->len) {
		r = blob_reserve(m, b, (size_t)size, max);
		if (r < 0)
			return r;
		memset(b->data + b->len, 0, (size_t)size - b->len);
	}
	b->len = (size_t)size;
	return 0;
}

int blob_read(const char *data, size_t len, char *out, size_t size, uint64_t off)
{
	if (off >= len)
		return 0;
	if (size > len - off)
		size = len - (size_t)off;
	if (size > (size_t)INT32_MAX)
		size = (size_t)INT32_MAX;
	memcpy(out, data + off, size);
	return (int)size;
}
