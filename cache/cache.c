/*
 * cache: the forge cache (cache.h): its life, one item's issue, comments
 * and diff, an owner's repositories, forgetting. Lists, their `since`
 * revalidation and the repository-wide comments are in lists.c, the
 * persistent store in store.c.
 */
#include "cache/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/map.h"
#include "util/str.h"
#include "util/time.h"

struct repos {
	bool missing; /* the forge said the owner does not exist (404) */
	struct forge_name_list names;
	int64_t ms;
};

static int64_t mono_ms(void *ud)
{
	(void)ud;
	return time_mono_ms();
}

int64_t ch_now(struct cache *c)
{
	return c->opt.now_ms(c->opt.now_ud);
}

bool ch_fresh(struct cache *c, int64_t ms)
{
	return ch_now(c) - ms < c->opt.ttl_ms;
}

bool ch_backing_off(struct cache *c, int64_t failed_ms)
{
	return failed_ms && ch_now(c) - failed_ms < CACHE_FAILED_BACKOFF_MS;
}

uint64_t ch_count(struct cache *c)
{
	return atomic_fetch_add(&c->requests, 1) + 1;
}

void ch_count_not_modified(struct cache *c)
{
	atomic_fetch_add(&c->not_modified, 1);
}

void ch_failed_report(struct cache *c, const char *key, int r, struct buf *err, size_t err_mark)
{
	int64_t *ms = map_get(&c->failed, key);

	if (r != -EIO) {
		free(map_del(&c->failed, key));
		return;
	}
	if (ms && ch_backing_off(c, *ms)) {
		/* Reported already: the same failure again is not news. */
		if (err && err->len > err_mark) {
			err->len = err_mark;
			err->data[err_mark] = '\0';
		}
		return;
	}
	if (!ms) {
		ms = malloc(sizeof(*ms));
		if (!ms || map_put(&c->failed, key, ms, NULL) < 0) {
			free(ms);
			return;
		}
	}
	*ms = ch_now(c);
}

void ch_item_free(struct item *it)
{
	if (!it)
		return;
	forge_issue_release(&it->issue);
	forge_comment_list_release(&it->comments);
	free(it->diff);
	free(it);
}

void ch_list_free(struct list *l)
{
	if (l) {
		free(l->numbers);
		free(l->since);
		free(l->etag);
	}
	free(l);
}

static void repos_free(struct repos *r)
{
	if (r)
		forge_name_list_release(&r->names);
	free(r);
}

static void free_item_cb(void *ud, const char *key, void *val)
{
	(void)ud;
	(void)key;
	ch_item_free(val);
}

static void free_list_cb(void *ud, const char *key, void *val)
{
	(void)ud;
	(void)key;
	ch_list_free(val);
}

static void free_repos_cb(void *ud, const char *key, void *val)
{
	(void)ud;
	(void)key;
	repos_free(val);
}

static void free_plain_cb(void *ud, const char *key, void *val)
{
	(void)ud;
	(void)key;
	free(val);
}

int cache_new(const struct cache_options *opt, struct cache **out)
{
	struct cache *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->opt = *opt;
	if (!c->opt.now_ms)
		c->opt.now_ms = mono_ms;
	if (!c->opt.max_bytes)
		c->opt.max_bytes = CACHE_MEMORY_DEFAULT;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->done, NULL);
	map_init(&c->items);
	map_init(&c->lists);
	map_init(&c->repos);
	map_init(&c->bulks);
	map_init(&c->inflight);
	map_init(&c->failed);
	map_init(&c->branches);
	atomic_init(&c->requests, 0);
	if (opt->state) {
		r = cachestore_new(opt->state, ch_produce, c, &c->store);
		if (r < 0) {
			cache_free(c);
			return r;
		}
	}
	*out = c;
	return 0;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	/* First: its thread reads the maps below. */
	cachestore_free(c->store);
	map_each(&c->items, free_item_cb, NULL);
	map_each(&c->lists, free_list_cb, NULL);
	map_each(&c->repos, free_repos_cb, NULL);
	map_each(&c->bulks, free_plain_cb, NULL);
	map_release(&c->items);
	map_release(&c->lists);
	map_release(&c->repos);
	map_release(&c->bulks);
	map_each(&c->failed, free_plain_cb, NULL);
	map_release(&c->failed);
	map_release(&c->inflight);
	ch_branches_release(c);
	pthread_cond_destroy(&c->done);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

uint64_t cache_requests(struct cache *c)
{
	return atomic_load(&c->requests);
}

uint64_t cache_requests_not_modified(struct cache *c)
{
	return atomic_load(&c->not_modified);
}

int cache_flush(struct cache *c, int64_t timeout_ms)
{
	return cachestore_flush(c->store, timeout_ms);
}

void cache_capabilities(struct cache *c, struct forge_capabilities *out)
{
	c->opt.forge->ops->capabilities(c->opt.forge, out);
}

void ch_item_key(char *key, size_t size, const char *owner, const char *repo, bool pull,
		 uint64_t number)
{
	snprintf(key, size, "%c:%s/%s#%llu", pull ? 'p' : 'i', owner, repo,
		 (unsigned long long)number);
}

void ch_list_key(char *key, size_t size, const char *owner, const char *repo, bool pull)
{
	snprintf(key, size, "%c:%s/%s", pull ? 'p' : 'i', owner, repo);
}

void ch_mark(struct cache *c, const char *prefix, const char *key)
{
	char skey[KEY_MAX + 8];

	if (!c->store)
		return;
	if (strcmp(prefix, "item:") == 0) {
		struct item *it = map_get(&c->items, key);

		if (it)
			it->dirty = true; /* kept in memory until the store has it */
	}
	snprintf(skey, sizeof(skey), "%s%s", prefix, key);
	cachestore_mark(c->store, skey);
}

bool ch_same_version(const struct forge_issue *a, const struct forge_issue *b)
{
	return a->updated_at && b->updated_at && strcmp(a->updated_at, b->updated_at) == 0;
}

/* The item under key, created empty if absent. */
static struct item *item_slot(struct cache *c, const char *key)
{
	struct item *it = map_get(&c->items, key);

	if (it)
		return it;
	it = calloc(1, sizeof(*it));
	if (!it)
		return NULL;
	if (map_put(&c->items, key, it, NULL) < 0) {
		free(it);
		return NULL;
	}
	return it;
}

int ch_item_store(struct cache *c, const char *key, struct forge_issue *issue, int64_t ms)
{
	struct item *it = item_slot(c, key);
	bool changed;

	if (!it)
		return -ENOMEM;
	changed = it->missing || !ch_same_version(&it->issue, issue);
	forge_issue_release(&it->issue);
	it->issue = *issue;
	memset(issue, 0, sizeof(*issue));
	it->missing = false;
	it->stale = false;
	it->issue_ms = ms;
	it->failed_ms = 0;
	if (changed) {
		forge_comment_list_release(&it->comments);
		it->have_comments = false;
		free(it->diff);
		it->diff = NULL;
	}
	ch_item_sized(c, it);
	ch_mark(c, "item:", key);
	return 0;
}

static void item_store_missing(struct cache *c, const char *key, int64_t ms)
{
	struct item *it = item_slot(c, key);
	size_t bytes;

	if (!it)
		return;
	forge_issue_release(&it->issue);
	forge_comment_list_release(&it->comments);
	free(it->diff);
	bytes = it->bytes; /* as counted: ch_item_sized takes it off */
	memset(it, 0, sizeof(*it));
	it->bytes = bytes;
	it->missing = true;
	it->issue_ms = ms;
	ch_item_sized(c, it);
	ch_mark(c, "item:", key); /* a tombstone: a restart asks again */
}

/* True when a fresh list of the repository says number is not in it. */
static bool listed_absent(struct cache *c, const char *owner, const char *repo, bool pull,
			  uint64_t number)
{
	struct list *l = ch_list_find(c, owner, repo, pull);
	size_t i;

	if (!l || !ch_fresh(c, l->ms))
		return false;
	for (i = 0; i < l->n; i++)
		if (l->numbers[i] == number)
			return false;
	return true;
}

static int comments_copy(struct forge_comment_list *dst, const struct forge_comment_list *src)
{
	size_t i;

	dst->n = 0;
	dst->v = calloc(src->n ? src->n : 1, sizeof(*dst->v));
	if (!dst->v)
		return -ENOMEM;
	for (i = 0; i < src->n; i++, dst->n++)
		if (forge_comment_copy(&dst->v[i], &src->v[i]) < 0) {
			forge_comment_list_release(dst);
			return -ENOMEM;
		}
	return 0;
}

static bool item_fresh(struct cache *c, const struct item *it)
{
	return it && !it->stale && ch_fresh(c, it->issue_ms);
}

/*
 * An item's issue: cached when fresh, else fetched (or stale on -EIO). An
 * expired item is asked for on its own, one request, even in a listed
 * repository: a walk revalidates through its directory listing first (one
 * `since` request for the whole list, ch_list_ensure), so the items it
 * then reads are fresh already.
 */
static int get_item(struct cache *c, const char *owner, const char *repo, bool pull,
		    uint64_t number, struct forge_issue *out, struct buf *err)
{
	struct forge *f = c->opt.forge;
	struct forge_issue fetched, copy, got;
	size_t mark = err ? err->len : 0;
	char key[KEY_MAX];
	struct item *it;
	int r;

	ch_item_key(key, sizeof(key), owner, repo, pull, number);
	pthread_mutex_lock(&c->lock);
	it = ch_item_find(c, owner, repo, pull, number);
	if (item_fresh(c, it) || (it && !it->missing && ch_backing_off(c, it->failed_ms))) {
		r = it->missing ? -ENOENT : forge_issue_copy(&got, &it->issue);
		goto out;
	}
	if (!it && listed_absent(c, owner, repo, pull, number)) {
		r = -ENOENT;
		goto out;
	}
	pthread_mutex_unlock(&c->lock);

	ch_count(c);
	r = pull ? f->ops->get_pull(f, owner, repo, number, &fetched, err)
		 : f->ops->get_issue(f, owner, repo, number, &fetched, err);
	pthread_mutex_lock(&c->lock);
	if (r != -EIO || !(it = map_get(&c->items, key)) || it->missing)
		ch_failed_report(c, key, r, err, mark);
	if (r == -ENOENT) {
		item_store_missing(c, key, ch_now(c));
	} else if (r == -EIO) {
		/* A forge that fails: what was read before is served, stale. */
		it = map_get(&c->items, key);
		if (it && !it->missing) {
			it->failed_ms = ch_now(c);
			r = forge_issue_copy(&got, &it->issue);
		}
	} else if (r == 0) {
		if (forge_issue_copy(&copy, &fetched) == 0 &&
		    ch_item_store(c, key, &copy, ch_now(c)) < 0)
			forge_issue_release(&copy);
		got = fetched;
	}
out:
	ch_trim(c);
	pthread_mutex_unlock(&c->lock);
	if (r == 0)
		*out = got;
	return r;
}

int cache_get_issue(struct cache *c, const char *owner, const char *repo, uint64_t number,
		    struct forge_issue *out, struct buf *err)
{
	return get_item(c, owner, repo, false, number, out, err);
}

int cache_get_pull(struct cache *c, const char *owner, const char *repo, uint64_t number,
		   struct forge_issue *out, struct buf *err)
{
	return get_item(c, owner, repo, true, number, out, err);
}

/* The cached comments of the item under key for the version of, if fresh (lock held). */
static bool comments_cached(struct cache *c, const char *key, const struct forge_issue *of,
			    struct forge_comment_list *out, int *r)
{
	struct item *it = map_get(&c->items, key);

	if (!it || !it->have_comments ||
	    !(ch_fresh(c, it->comments_ms) || ch_backing_off(c, it->failed_ms)) ||
	    !ch_same_version(&it->issue, of))
		return false;
	ch_item_used(c, it);
	*r = comments_copy(out, &it->comments);
	return true;
}

/*
 * The comments of the version of an item the caller holds: cached for that
 * version, else fetched, for the whole repository at once when many listed
 * items need theirs (lists.c).
 */
int cache_list_comments(struct cache *c, const char *owner, const char *repo, enum forge_kind kind,
			const struct forge_issue *of, struct forge_comment_list *out,
			struct buf *err)
{
	struct forge *f = c->opt.forge;
	struct forge_comment_list cl, copy, got = {NULL, 0};
	char key[KEY_MAX];
	struct item *it;
	bool bulk;
	int r;

	if (of->n_comments == 0) { /* the item says it has none: nothing to ask */
		r = comments_copy(&got, &(struct forge_comment_list){NULL, 0});
		goto done;
	}
	ch_item_key(key, sizeof(key), owner, repo, kind == FORGE_PULLS, of->number);
	pthread_mutex_lock(&c->lock);
	if (comments_cached(c, key, of, &got, &r))
		goto out;
	bulk = ch_bulk_worth(c, owner, repo);
	pthread_mutex_unlock(&c->lock);
	if (bulk && ch_bulk_comments(c, owner, repo, err) == 0) {
		pthread_mutex_lock(&c->lock);
		if (comments_cached(c, key, of, &got, &r))
			goto out;
		pthread_mutex_unlock(&c->lock);
	}

	ch_count(c);
	r = f->ops->list_comments(f, owner, repo, of->number, &cl, err);
	pthread_mutex_lock(&c->lock);
	it = map_get(&c->items, key);
	if (r == 0) {
		if (it && !it->missing && ch_same_version(&it->issue, of) &&
		    comments_copy(&copy, &cl) == 0) {
			forge_comment_list_release(&it->comments);
			it->comments = copy;
			it->have_comments = true;
			it->comments_ms = ch_now(c);
			ch_item_sized(c, it);
			ch_mark(c, "item:", key);
		}
		got = cl;
	} else if (r == -EIO && it && it->have_comments) {
		it->failed_ms = ch_now(c);
		r = comments_copy(&got, &it->comments);
	}
out:
	ch_trim(c);
	pthread_mutex_unlock(&c->lock);
done:
	if (r == 0)
		*out = got;
	return r;
}

/*
 * The diff of the version of a pull request the caller holds. A diff too
 * large to hold is an answer, not a failure: out gets one line saying so
 * ("bottlefs: <why>"), cached like a diff, so the forge is not asked for
 * the whole thing at every stat.
 */
int cache_get_diff(struct cache *c, const char *owner, const char *repo,
		   const struct forge_issue *of, struct buf *out, struct buf *err)
{
	struct forge *f = c->opt.forge;
	struct buf d = BUF_INIT(0), why = BUF_INIT(4096);
	char key[KEY_MAX];
	struct item *it;
	int r;

	ch_item_key(key, sizeof(key), owner, repo, true, of->number);
	pthread_mutex_lock(&c->lock);
	it = map_get(&c->items, key);
	if (it && it->diff && (ch_fresh(c, it->diff_ms) || ch_backing_off(c, it->failed_ms)) &&
	    ch_same_version(&it->issue, of)) {
		ch_item_used(c, it);
		r = buf_puts(out, it->diff);
		pthread_mutex_unlock(&c->lock);
		return r;
	}
	pthread_mutex_unlock(&c->lock);

	ch_count(c);
	r = f->ops->get_diff(f, owner, repo, of->number, &d, &why);
	if (r == -EFBIG) {
		buf_reset(&d);
		r = buf_printf(&d, "bottlefs: %s\n", buf_cstr(&why));
	} else if (r < 0 && err) {
		/* The reason is best effort: what fits of it is kept. */
		(void)!buf_puts(err, buf_cstr(&why));
	}
	buf_release(&why);
	pthread_mutex_lock(&c->lock);
	it = map_get(&c->items, key);
	if (r == 0) {
		r = buf_append(out, d.data ? d.data : "", d.len);
		if (r == 0 && it && !it->missing && ch_same_version(&it->issue, of)) {
			char *copy = str_dup(buf_cstr(&d));

			if (copy) {
				free(it->diff);
				it->diff = copy;
				it->diff_ms = ch_now(c);
				ch_item_sized(c, it);
				ch_mark(c, "item:", key);
			}
		}
	} else if (r == -EIO && it && it->diff) {
		it->failed_ms = ch_now(c);
		r = buf_puts(out, it->diff);
	}
	ch_trim(c);
	pthread_mutex_unlock(&c->lock);
	buf_release(&d);
	return r;
}

static int repos_ensure(struct cache *c, const char *owner, struct buf *err)
{
	struct forge *f = c->opt.forge;
	struct repos *rp, *old = NULL;
	bool have;
	int r;

	pthread_mutex_lock(&c->lock);
	rp = map_get(&c->repos, owner);
	have = rp != NULL && !rp->missing;
	if (rp && ch_fresh(c, rp->ms)) {
		r = rp->missing ? -ENOENT : 0;
		pthread_mutex_unlock(&c->lock);
		return r;
	}
	pthread_mutex_unlock(&c->lock);
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	ch_count(c);
	r = f->ops->list_repos(f, owner, &rp->names, err);
	if (r < 0 && r != -ENOENT) {
		free(rp);
		return (r == -EIO && have) ? 0 : r;
	}
	/* A missing owner is remembered for the TTL too: no request per ls. */
	rp->missing = r == -ENOENT;
	pthread_mutex_lock(&c->lock);
	rp->ms = ch_now(c);
	r = map_put(&c->repos, owner, rp, (void **)&old);
	pthread_mutex_unlock(&c->lock);
	repos_free(old);
	if (r < 0) {
		repos_free(rp);
		return r;
	}
	return rp->missing ? -ENOENT : 0;
}

int cache_list_repos(struct cache *c, const char *owner, struct forge_name_list *out,
		     struct buf *err)
{
	struct forge_name_list l = {NULL, 0};
	struct repos *rp;
	size_t i;
	int r = repos_ensure(c, owner, err);

	if (r < 0 || !out)
		return r;
	pthread_mutex_lock(&c->lock);
	rp = map_get(&c->repos, owner);
	if (rp && rp->names.n) {
		l.v = calloc(rp->names.n, sizeof(*l.v));
		r = l.v ? 0 : -ENOMEM;
		for (i = 0; r == 0 && i < rp->names.n; i++, l.n++)
			if (!(l.v[i] = str_dup(rp->names.v[i])))
				r = -ENOMEM;
	}
	pthread_mutex_unlock(&c->lock);
	if (r < 0) {
		forge_name_list_release(&l);
		return r;
	}
	*out = l;
	return 0;
}

void cache_forget_item(struct cache *c, const char *owner, const char *repo, enum forge_kind kind,
		       uint64_t number)
{
	char key[KEY_MAX];

	ch_item_key(key, sizeof(key), owner, repo, kind == FORGE_PULLS, number);
	pthread_mutex_lock(&c->lock);
	ch_item_drop(c, key);
	ch_mark(c, "item:", key); /* a tombstone, so a restart does not bring it back */
	pthread_mutex_unlock(&c->lock);
}

void cache_forget_lists(struct cache *c, const char *owner, const char *repo)
{
	char key[KEY_MAX];

	pthread_mutex_lock(&c->lock);
	ch_list_key(key, sizeof(key), owner, repo, false);
	ch_list_free(map_del(&c->lists, key));
	ch_mark(c, "list:", key);
	ch_list_key(key, sizeof(key), owner, repo, true);
	ch_list_free(map_del(&c->lists, key));
	ch_mark(c, "list:", key);
	pthread_mutex_unlock(&c->lock);
}
