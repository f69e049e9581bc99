#include "cache/store.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state/state.h"
#include "util/map.h"
#include "util/str.h"
#include "util/time.h"

/* An entry larger than this is not kept (a huge diff, say): it is refetched. */
#define CS_ENTRY_MAX ((size_t)16 << 20)

struct cachestore {
	struct state *st;
	cachestore_produce_fn produce;
	void *ud;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* signalled when a key is queued, written, or stop is set */
	struct map queued;   /* key -> (void *)1 while in the queue; lock */
	char **fifo;	     /* queued keys in order; lock */
	size_t head, n, cap; /* fifo[head .. head+n) live; lock */
	bool busy;	     /* the thread is writing a key it took; lock */
	bool stop;	     /* lock */
	int64_t stop_by;     /* wall ms after which queued keys are dropped; lock */
};

static void write_one(struct cachestore *cs, const char *key)
{
	struct buf out = BUF_INIT(CS_ENTRY_MAX);
	int64_t age = 0;
	int r = cs->produce(cs->ud, key, &out, &age);

	/* A failed write loses nothing but warmth after a restart: not reported. */
	if (r == 0)
		(void)!state_cache_put(cs->st, key, out.data, out.len, time_wall_ms() - age, NULL);
	else if (r == -ENOENT || r == -E2BIG)
		(void)!state_cache_put(cs->st, key, "", 0, time_wall_ms(), NULL);
	buf_release(&out);
}

static void *writer(void *arg)
{
	struct cachestore *cs = arg;
	char *key;

	pthread_mutex_lock(&cs->lock);
	for (;;) {
		while (!cs->n && !cs->stop)
			pthread_cond_wait(&cs->cond, &cs->lock);
		if (!cs->n || (cs->stop && time_wall_ms() > cs->stop_by))
			break;
		key = cs->fifo[cs->head];
		cs->head++;
		cs->n--;
		map_del(&cs->queued, key);
		cs->busy = true;
		pthread_mutex_unlock(&cs->lock);
		write_one(cs, key);
		free(key);
		pthread_mutex_lock(&cs->lock);
		cs->busy = false;
		pthread_cond_broadcast(&cs->cond);
	}
	pthread_mutex_unlock(&cs->lock);
	return NULL;
}

int cachestore_new(struct state *st, cachestore_produce_fn produce, void *ud,
		   struct cachestore **out)
{
	struct cachestore *cs = calloc(1, sizeof(*cs));

	if (!cs)
		return -ENOMEM;
	cs->st = st;
	cs->produce = produce;
	cs->ud = ud;
	pthread_mutex_init(&cs->lock, NULL);
	pthread_cond_init(&cs->cond, NULL);
	map_init(&cs->queued);
	if (pthread_create(&cs->thread, NULL, writer, cs) != 0) {
		map_release(&cs->queued);
		pthread_cond_destroy(&cs->cond);
		pthread_mutex_destroy(&cs->lock);
		free(cs);
		return -EAGAIN;
	}
	*out = cs;
	return 0;
}

void cachestore_free(struct cachestore *cs)
{
	size_t i;

	if (!cs)
		return;
	pthread_mutex_lock(&cs->lock);
	cs->stop = true;
	cs->stop_by = time_wall_ms() + 2000;
	pthread_cond_broadcast(&cs->cond);
	pthread_mutex_unlock(&cs->lock);
	pthread_join(cs->thread, NULL);
	for (i = 0; i < cs->n; i++)
		free(cs->fifo[cs->head + i]);
	free(cs->fifo);
	map_release(&cs->queued);
	pthread_cond_destroy(&cs->cond);
	pthread_mutex_destroy(&cs->lock);
	free(cs);
}

void cachestore_mark(struct cachestore *cs, const char *key)
{
	char *k;

	if (!cs)
		return;
	pthread_mutex_lock(&cs->lock);
	if (cs->stop || map_get(&cs->queued, key))
		goto out;
	if (cs->head + cs->n == cs->cap) {
		if (cs->head > cs->cap / 2) { /* reuse the consumed front */
			memmove(cs->fifo, cs->fifo + cs->head, cs->n * sizeof(*cs->fifo));
			cs->head = 0;
		} else {
			size_t cap = cs->cap ? cs->cap * 2 : 256;
			char **f = realloc(cs->fifo, cap * sizeof(*f));

			if (!f)
				goto out; /* not kept: only warmth is lost */
			cs->fifo = f;
			cs->cap = cap;
		}
	}
	k = str_dup(key);
	if (!k || map_put(&cs->queued, key, (void *)1, NULL) < 0) {
		free(k);
		goto out;
	}
	cs->fifo[cs->head + cs->n++] = k;
	pthread_cond_broadcast(&cs->cond);
out:
	pthread_mutex_unlock(&cs->lock);
}

int cachestore_flush(struct cachestore *cs, int64_t timeout_ms)
{
	struct timespec until;
	int r = 0;

	if (!cs)
		return 0;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&cs->lock);
	while ((cs->n || cs->busy) && r == 0)
		if (pthread_cond_timedwait(&cs->cond, &cs->lock, &until) == ETIMEDOUT)
			r = -ETIMEDOUT;
	pthread_mutex_unlock(&cs->lock);
	return r;
}

int cachestore_load(struct cachestore *cs, const char *key, char **json, int64_t *age_ms)
{
	void *data = NULL;
	size_t len = 0;
	int64_t ms = 0;
	int r;

	if (!cs)
		return -ENOENT;
	r = state_cache_get(cs->st, key, &data, &len, &ms, NULL);
	if (r < 0)
		return r;
	if (len == 0) {
		free(data);
		return -ENOENT;
	}
	*json = data;
	*age_ms = time_wall_ms() - ms < 0 ? 0 : time_wall_ms() - ms;
	return 0;
}

/* ---- JSON ------------------------------------------------------------ */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* A copy of a string member, NULL when absent or null; -EINVAL when not a string. */
static int get_str(json_t *o, const char *k, bool required, char **out)
{
	json_t *v = json_object_get(o, k);

	*out = NULL;
	if (!v || json_is_null(v))
		return required ? -EINVAL : 0;
	if (!json_is_string(v))
		return -EINVAL;
	*out = str_dup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

static int get_u64(json_t *o, const char *k, uint64_t *out)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EINVAL;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int dump(json_t *o, struct buf *out)
{
	char *s;
	int r;

	if (!o)
		return -ENOMEM;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return -ENOMEM;
	r = buf_puts(out, s);
	free(s);
	return r;
}

int cs_item_dump(const struct forge_issue *is, const struct forge_comment_list *comments,
		 const char *diff, bool stale, struct buf *out)
{
	json_t *o = json_object(), *labels = json_array(), *cl = NULL;
	size_t i;

	if (!o || !labels) {
		json_decref(o);
		json_decref(labels);
		return -ENOMEM;
	}
	for (i = 0; i < is->n_labels; i++)
		json_array_append_new(labels, json_string(is->labels[i]));
	json_object_set_new(o, "number", json_integer((json_int_t)is->number));
	json_object_set_new(o, "title", str_or_null(is->title));
	json_object_set_new(o, "body", str_or_null(is->body));
	json_object_set_new(o, "state", str_or_null(is->state));
	json_object_set_new(o, "author", str_or_null(is->author));
	json_object_set_new(o, "labels", labels);
	json_object_set_new(o, "n_comments", json_integer((json_int_t)is->n_comments));
	json_object_set_new(o, "updated_at", str_or_null(is->updated_at));
	json_object_set_new(o, "is_pull", json_boolean(is->is_pull));
	json_object_set_new(o, "head", str_or_null(is->head));
	json_object_set_new(o, "base", str_or_null(is->base));
	json_object_set_new(o, "merged", json_boolean(is->merged));
	json_object_set_new(o, "draft", json_boolean(is->draft));
	json_object_set_new(o, "json", str_or_null(is->json));
	json_object_set_new(o, "stale", json_boolean(stale));
	if (diff)
		json_object_set_new(o, "diff", json_string(diff));
	if (comments) {
		cl = json_array();
		for (i = 0; cl && i < comments->n; i++) {
			const struct forge_comment *c = &comments->v[i];

			json_array_append_new(
			    cl, json_pack("{s:I,s:I,s:o,s:o,s:o,s:o}", "id", (json_int_t)c->id,
					  "issue", (json_int_t)c->issue, "body",
					  str_or_null(c->body), "author", str_or_null(c->author),
					  "created_at", str_or_null(c->created_at), "updated_at",
					  str_or_null(c->updated_at)));
		}
		if (!cl) {
			json_decref(o);
			return -ENOMEM;
		}
		json_object_set_new(o, "comments", cl);
	}
	return dump(o, out);
}

void cs_item_release(struct cs_item *it)
{
	forge_issue_release(&it->issue);
	forge_comment_list_release(&it->comments);
	free(it->diff);
	memset(it, 0, sizeof(*it));
}

static int parse_comments(json_t *a, struct forge_comment_list *out)
{
	size_t i;
	int r = 0;

	out->n = 0;
	out->v = calloc(json_array_size(a) + 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	for (i = 0; i < json_array_size(a) && r == 0; i++) {
		json_t *c = json_array_get(a, i);
		struct forge_comment *d = &out->v[out->n];

		if (!json_is_object(c)) {
			r = -EINVAL;
			break;
		}
		r = get_u64(c, "id", &d->id);
		if (!r)
			r = get_u64(c, "issue", &d->issue);
		if (!r)
			r = get_str(c, "body", false, &d->body);
		if (!r)
			r = get_str(c, "author", false, &d->author);
		if (!r)
			r = get_str(c, "created_at", false, &d->created_at);
		if (!r)
			r = get_str(c, "updated_at", false, &d->updated_at);
		out->n++; /* partly filled entries are released with the list */
	}
	if (r < 0)
		forge_comment_list_release(out);
	return r;
}

int cs_item_parse(const char *json, struct cs_item *out)
{
	json_t *o = json_loads(json, 0, NULL), *labels, *cl;
	struct cs_item t;
	size_t i;
	int r = -EINVAL;

	memset(&t, 0, sizeof(t));
	if (!json_is_object(o))
		goto out;
	labels = json_object_get(o, "labels");
	if (!json_is_array(labels))
		goto out;
	if ((r = get_u64(o, "number", &t.issue.number)) < 0 ||
	    (r = get_u64(o, "n_comments", &t.issue.n_comments)) < 0 ||
	    (r = get_str(o, "title", false, &t.issue.title)) < 0 ||
	    (r = get_str(o, "body", false, &t.issue.body)) < 0 ||
	    (r = get_str(o, "state", false, &t.issue.state)) < 0 ||
	    (r = get_str(o, "author", false, &t.issue.author)) < 0 ||
	    (r = get_str(o, "updated_at", false, &t.issue.updated_at)) < 0 ||
	    (r = get_str(o, "head", false, &t.issue.head)) < 0 ||
	    (r = get_str(o, "base", false, &t.issue.base)) < 0 ||
	    (r = get_str(o, "json", false, &t.issue.json)) < 0 ||
	    (r = get_str(o, "diff", false, &t.diff)) < 0)
		goto out;
	t.issue.is_pull = json_is_true(json_object_get(o, "is_pull"));
	t.issue.merged = json_is_true(json_object_get(o, "merged"));
	t.issue.draft = json_is_true(json_object_get(o, "draft"));
	t.stale = json_is_true(json_object_get(o, "stale"));
	t.issue.labels = calloc(json_array_size(labels) + 1, sizeof(*t.issue.labels));
	if (!t.issue.labels) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < json_array_size(labels); i++) {
		json_t *l = json_array_get(labels, i);

		if (!json_is_string(l)) {
			r = -EINVAL;
			goto out;
		}
		t.issue.labels[t.issue.n_labels] = str_dup(json_string_value(l));
		if (!t.issue.labels[t.issue.n_labels++]) {
			r = -ENOMEM;
			goto out;
		}
	}
	cl = json_object_get(o, "comments");
	if (cl) {
		if (!json_is_array(cl)) {
			r = -EINVAL;
			goto out;
		}
		if ((r = parse_comments(cl, &t.comments)) < 0)
			goto out;
		t.have_comments = true;
	}
	*out = t;
	memset(&t, 0, sizeof(t));
	r = 0;
out:
	cs_item_release(&t);
	json_decref(o);
	return r;
}

int cs_list_dump(const uint64_t *numbers, size_t n, const char *since, const char *etag,
		 struct buf *out)
{
	json_t *o = json_object(), *a = json_array();
	size_t i;

	if (!o || !a) {
		json_decref(o);
		json_decref(a);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)numbers[i]));
	json_object_set_new(o, "numbers", a);
	json_object_set_new(o, "since", str_or_null(since));
	/* The validator rides in the stored blob: no schema change (absent before). */
	if (etag)
		json_object_set_new(o, "etag", json_string(etag));
	return dump(o, out);
}

int cs_list_parse(const char *json, uint64_t **numbers, size_t *n, char **since, char **etag)
{
	json_t *o = json_loads(json, 0, NULL), *a;
	uint64_t *v = NULL;
	char *s = NULL, *e = NULL;
	size_t i;
	int r = -EINVAL;

	a = json_object_get(o, "numbers");
	if (!json_is_object(o) || !json_is_array(a))
		goto out;
	v = calloc(json_array_size(a) + 1, sizeof(*v));
	if (!v) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < json_array_size(a); i++) {
		json_t *x = json_array_get(a, i);

		if (!json_is_integer(x) || json_integer_value(x) <= 0)
			goto out;
		v[i] = (uint64_t)json_integer_value(x);
	}
	if ((r = get_str(o, "since", false, &s)) < 0 || (r = get_str(o, "etag", false, &e)) < 0)
		goto out;
	*numbers = v;
	*n = json_array_size(a);
	*since = s;
	*etag = e;
	v = NULL;
	s = e = NULL;
	r = 0;
out:
	free(v);
	free(s);
	free(e);
	json_decref(o);
	return r;
}
