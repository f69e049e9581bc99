/*
 * lists: the parts of the cache that work on a whole repository at once:
 * listing, revalidating a list with `since`, filling every item's comments
 * from the repository-wide comment list, and loading what the persistent
 * store kept. See cache/cache.h for the behaviour and cache/internal.h for
 * the shared structures.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/internal.h"
#include "util/str.h"
#include "util/time.h"

/*
 * `since` is the newest updated_at seen minus this. Gitea compares
 * updated_at >= since to the second and stamps changes with its own clock,
 * so anything changed after a listing has updated_at >= the newest one the
 * listing saw; the margin only covers a clock that stepped back a little.
 * The few items inside it come back every time and are recognised as
 * unchanged by their updated_at.
 */
#define SINCE_SKEW_S 2

/* The forge's page size for the bulk estimate, when it does not say. */
#define DEFAULT_PAGE 50

/* ---- lazy loading from the persistent store --------------------------- */

struct list *ch_list_find(struct cache *c, const char *owner, const char *repo, bool pull)
{
	char key[KEY_MAX], skey[KEY_MAX + 8];
	struct list *l;
	char *json = NULL;
	int64_t age;

	ch_list_key(key, sizeof(key), owner, repo, pull);
	l = map_get(&c->lists, key);
	if (l || !c->store)
		return l;
	snprintf(skey, sizeof(skey), "list:%s", key);
	if (cachestore_load(c->store, skey, &json, &age) < 0)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l || cs_list_parse(json, &l->numbers, &l->n, &l->since, &l->etag) < 0 ||
	    map_put(&c->lists, key, l, NULL) < 0) {
		free(l);
		l = NULL;
	} else {
		l->ms = ch_now(c) - age;
	}
	free(json);
	return l;
}

struct item *ch_item_find(struct cache *c, const char *owner, const char *repo, bool pull,
			  uint64_t number)
{
	char key[KEY_MAX], skey[KEY_MAX + 8];
	struct cs_item ci;
	struct item *it;
	struct list *l;
	char *json = NULL;
	int64_t age, ms;

	ch_item_key(key, sizeof(key), owner, repo, pull, number);
	it = map_get(&c->items, key);
	if (it)
		ch_item_used(c, it);
	if (it || !c->store)
		return it;
	snprintf(skey, sizeof(skey), "item:%s", key);
	if (cachestore_load(c->store, skey, &json, &age) < 0)
		return NULL;
	memset(&ci, 0, sizeof(ci));
	if (cs_item_parse(json, &ci) < 0 || ci.issue.number != number) {
		cs_item_release(&ci);
		free(json);
		return NULL;
	}
	free(json);
	it = calloc(1, sizeof(*it));
	if (!it || map_put(&c->items, key, it, NULL) < 0) {
		free(it);
		cs_item_release(&ci);
		return NULL;
	}
	it->issue = ci.issue;
	it->have_comments = ci.have_comments;
	it->comments = ci.comments;
	it->diff = ci.diff;
	it->stale = ci.stale;
	/*
	 * A revalidation of the list refreshes its unchanged items without
	 * writing each of them again: what the list's time vouches for, the
	 * item's own time need not.
	 */
	ms = ch_now(c) - age;
	l = ch_list_find(c, owner, repo, pull);
	if (l && !it->stale && l->ms > ms)
		ms = l->ms;
	it->issue_ms = it->comments_ms = it->diff_ms = ms;
	ch_item_sized(c, it);
	return it;
}

int ch_produce(void *ud, const char *key, struct buf *out, int64_t *age_ms)
{
	struct cache *c = ud;
	struct item *it;
	struct list *l;
	int r = -ENOENT;

	pthread_mutex_lock(&c->lock);
	if (strncmp(key, "item:", 5) == 0) {
		it = map_get(&c->items, key + 5);
		if (it)
			it->dirty = false; /* the store has what it holds now: it may go */
		if (it && !it->missing) {
			r = cs_item_dump(&it->issue, it->have_comments ? &it->comments : NULL,
					 it->diff, it->stale, out);
			*age_ms = ch_now(c) - it->issue_ms;
		}
	} else if (strncmp(key, "list:", 5) == 0) {
		l = map_get(&c->lists, key + 5);
		if (l && !l->missing) {
			r = cs_list_dump(l->numbers, l->n, l->since, l->etag, out);
			*age_ms = ch_now(c) - l->ms;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* ---- lists ------------------------------------------------------------ */

/* Keeps in *newest whichever of it and t is later (both RFC 3339). */
static void note_newest(char **newest, const char *t)
{
	char *c;

	if (!t || (*newest && time_from_rfc3339(t) <= time_from_rfc3339(*newest)))
		return;
	c = str_dup(t);
	if (c) {
		free(*newest);
		*newest = c;
	}
}

/* The `since` to ask after seeing newest (new), NULL when it cannot be read. */
static char *since_query(const char *newest)
{
	int64_t t = time_from_rfc3339(newest);
	char s[TIME_RFC3339_SIZE];

	if (t <= SINCE_SKEW_S || time_to_rfc3339(t - SINCE_SKEW_S, s, sizeof(s)) < 0)
		return NULL;
	return str_dup(s);
}

static int desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* A full listing replaces the list and fills every item in it. */
static int apply_full(struct cache *c, const char *key, const char *owner, const char *repo,
		      bool pull, struct forge_issue_list *il)
{
	char ikey[KEY_MAX];
	struct list *l, *old = NULL;
	int64_t t = ch_now(c);
	size_t i;

	l = calloc(1, sizeof(*l));
	if (l)
		l->numbers = calloc(il->n ? il->n : 1, sizeof(*l->numbers));
	if (!l || !l->numbers) {
		ch_list_free(l);
		return -ENOMEM;
	}
	for (i = 0; i < il->n; i++) {
		l->numbers[l->n++] = il->v[i].number;
		note_newest(&l->since, il->v[i].updated_at);
		ch_item_key(ikey, sizeof(ikey), owner, repo, pull, il->v[i].number);
		/* Out of memory, the item is not kept: it is asked for when it is read. */
		(void)!ch_item_store(c, ikey, &il->v[i], t);
	}
	/* Newest first, as Gitea sends them; list_has relies on the order. */
	qsort(l->numbers, l->n, sizeof(*l->numbers), desc);
	l->ms = t;
	if (map_put(&c->lists, key, l, (void **)&old) < 0) {
		ch_list_free(l);
		return -ENOMEM;
	}
	ch_list_free(old);
	ch_mark(c, "list:", key);
	return 0;
}

static bool list_has(const struct list *l, uint64_t number)
{
	return bsearch(&number, l->numbers, l->n, sizeof(*l->numbers), desc) != NULL;
}

/*
 * A `since` answer: what it names changed (or is new); everything else
 * the list holds is as it was, and is fresh again from now.
 */
static int apply_since(struct cache *c, struct list *l, const char *key, const char *owner,
		       const char *repo, bool pull, struct forge_issue_list *il)
{
	char ikey[KEY_MAX];
	int64_t t = ch_now(c);
	uint64_t *grown;
	struct item *it;
	size_t i, added = 0;

	grown = realloc(l->numbers, (l->n + il->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	l->numbers = grown;
	for (i = 0; i < il->n; i++) {
		struct forge_issue *x = &il->v[i];

		note_newest(&l->since, x->updated_at);
		if (!list_has(l, x->number))
			l->numbers[l->n + added++] = x->number;
		it = ch_item_find(c, owner, repo, pull, x->number);
		if (it && !it->missing && !it->stale && ch_same_version(&it->issue, x))
			continue; /* inside the skew margin, unchanged */
		ch_item_key(ikey, sizeof(ikey), owner, repo, pull, x->number);
		if (!pull) {
			/* Out of memory, the item is not kept: it is asked for when it is read. */
			(void)!ch_item_store(c, ikey, x, t);
		} else if (it && !it->missing) {
			/* The issue list's PR lacks head/base: fetch it on use. */
			it->stale = true;
			ch_mark(c, "item:", ikey);
		}
	}
	if (added) {
		l->n += added;
		qsort(l->numbers, l->n, sizeof(*l->numbers), desc);
	}
	for (i = 0; i < l->n; i++) {
		ch_item_key(ikey, sizeof(ikey), owner, repo, pull, l->numbers[i]);
		it = map_get(&c->items, ikey);
		if (!it || it->missing || it->stale)
			continue;
		it->issue_ms = t;
		if (it->have_comments)
			it->comments_ms = t;
		if (it->diff)
			it->diff_ms = t;
	}
	l->ms = t;
	ch_mark(c, "list:", key);
	return 0;
}

/*
 * The repository is gone (404): an empty tombstone replaces the list, so
 * its items are absent without a request while it is fresh. Marked so
 * the persistent store drops what it had (ch_produce skips tombstones).
 */
static void list_store_missing(struct cache *c, const char *key)
{
	struct list *l = calloc(1, sizeof(*l)), *old = NULL;

	if (!l)
		return;
	l->missing = true;
	l->ms = ch_now(c);
	if (map_put(&c->lists, key, l, (void **)&old) < 0) {
		free(l);
		return;
	}
	ch_list_free(old);
	ch_mark(c, "list:", key);
}

/* A copy of l's numbers into *numbers (new) when numbers is not NULL. */
static int copy_out(const struct list *l, uint64_t **numbers, size_t *count)
{
	if (!numbers)
		return 0;
	*numbers = malloc((l->n ? l->n : 1) * sizeof(**numbers));
	if (!*numbers)
		return -ENOMEM;
	memcpy(*numbers, l->numbers, l->n * sizeof(**numbers));
	*count = l->n;
	return 0;
}

int ch_list_ensure(struct cache *c, const char *owner, const char *repo, bool pull,
		   uint64_t **numbers, size_t *count, struct buf *err)
{
	struct forge *f = c->opt.forge;
	struct forge_validator val = {0};
	struct forge_issue_list il;
	char key[KEY_MAX], *since = NULL, *etag = NULL;
	size_t mark = err ? err->len : 0;
	struct list *l;
	int r;

	ch_list_key(key, sizeof(key), owner, repo, pull);
	pthread_mutex_lock(&c->lock);
again:
	for (;;) {
		l = ch_list_find(c, owner, repo, pull);
		if (l && l->missing && ch_fresh(c, l->ms)) {
			pthread_mutex_unlock(&c->lock);
			return -ENOENT;
		}
		if (l && !l->missing && (ch_fresh(c, l->ms) || ch_backing_off(c, l->failed_ms))) {
			r = copy_out(l, numbers, count);
			pthread_mutex_unlock(&c->lock);
			return r;
		}

		/* One thread lists; the others wait for its answer. */
		if (!map_get(&c->inflight, key))
			break;
		pthread_cond_wait(&c->done, &c->lock);
	}
	if (map_put(&c->inflight, key, (void *)1, NULL) < 0) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	free(since);
	free(etag);
	since = l && l->since ? since_query(l->since) : NULL;
	/* The list's validator, for a revalidation (the adapter ignores one of another request). */
	etag = since && l->etag ? str_dup(l->etag) : NULL;
	pthread_mutex_unlock(&c->lock);

	forge_validator_release(&val);
	memset(&val, 0, sizeof(val));
	val.etag_in = etag;
	memset(&il, 0, sizeof(il));
	ch_count(c);
	r = forge_list_issues_cond(f, owner, repo, pull ? FORGE_PULLS : FORGE_ISSUES, since, &val,
				   &il, err);
	pthread_mutex_lock(&c->lock);
	map_del(&c->inflight, key);
	pthread_cond_broadcast(&c->done);
	if (r == 0 && val.not_modified) {
		/* Unchanged since the answer the validator names: fresh again, no body. */
		ch_count_not_modified(c);
		forge_issue_list_release(&il); /* written empty */
		l = ch_list_find(c, owner, repo, pull);
		if (!l) {
			/* A forget (after a write) dropped the list meanwhile: list it whole. */
			goto again;
		}
		r = apply_since(c, l, key, owner, repo, pull, &il);
	} else if (r == 0) {
		l = since ? ch_list_find(c, owner, repo, pull) : NULL;
		if (since && !l) {
			/* A forget (after a write) dropped the list meanwhile: list it whole. */
			forge_issue_list_release(&il);
			goto again;
		}
		r = l ? apply_since(c, l, key, owner, repo, pull, &il)
		      : apply_full(c, key, owner, repo, pull, &il);
		forge_issue_list_release(&il);
		l = r == 0 ? ch_list_find(c, owner, repo, pull) : NULL;
		if (l) {
			/* The new answer's validator (or none) replaces the old one. */
			free(l->etag);
			l->etag = val.etag_out;
			val.etag_out = NULL;
		}
	}
	if (r == -ENOENT)
		list_store_missing(c, key);
	l = ch_list_find(c, owner, repo, pull);
	if (r != -EIO || !l || l->missing)
		ch_failed_report(c, key, r, err, mark);
	if (r == -EIO && l && !l->missing) {
		l->failed_ms = ch_now(c);
		r = 0; /* stale while the forge is down */
	} else if (r == 0 && l) {
		l->failed_ms = 0;
	}
	if (r == 0)
		r = l ? copy_out(l, numbers, count) : -EIO;
	ch_trim(c);
	pthread_mutex_unlock(&c->lock);
	free(since);
	free(etag);
	forge_validator_release(&val);
	return r;
}

struct newest_args {
	char prefix[2][KEY_MAX]; /* "i:o/" and "p:o/" */
	size_t len[2];
	int64_t newest;
};

static int64_t list_newest(const struct list *l)
{
	return l && !l->missing && l->since ? time_from_rfc3339(l->since) : 0;
}

static void newest_cb(void *ud, const char *key, void *val)
{
	struct newest_args *a = ud;
	int64_t t = list_newest(val);
	int k;

	for (k = 0; k < 2; k++)
		if (a->len[k] && strncmp(key, a->prefix[k], a->len[k]) == 0 && t > a->newest)
			a->newest = t;
}

int64_t ch_newest(struct cache *c, const char *owner, const char *repo, int pull)
{
	struct newest_args a;
	char key[KEY_MAX];
	int k;

	memset(&a, 0, sizeof(a));
	for (k = 0; k < 2; k++) {
		if (pull >= 0 && pull != k)
			continue;
		if (repo) {
			/* One repository: its lists are looked up, not walked. */
			ch_list_key(key, sizeof(key), owner, repo, k == 1);
			if (list_newest(map_get(&c->lists, key)) > a.newest)
				a.newest = list_newest(map_get(&c->lists, key));
			continue;
		}
		snprintf(a.prefix[k], sizeof(a.prefix[k]), "%c:%s/", k ? 'p' : 'i', owner);
		a.len[k] = strlen(a.prefix[k]);
	}
	if (!repo)
		map_each(&c->lists, newest_cb, &a);
	return a.newest;
}

/* ---- comments in bulk --------------------------------------------------- */

static size_t page_size(struct cache *c)
{
	struct forge_capabilities caps;

	memset(&caps, 0, sizeof(caps));
	c->opt.forge->ops->capabilities(c->opt.forge, &caps);
	return caps.max_page_size ? caps.max_page_size : DEFAULT_PAGE;
}

bool ch_bulk_worth(struct cache *c, const char *owner, const char *repo)
{
	char key[KEY_MAX], ikey[KEY_MAX];
	uint64_t total = 0, needing = 0;
	int64_t *bulk_ms;
	struct item *it;
	struct list *l;
	size_t i;
	int k;

	if (!c->opt.forge->ops->list_repo_comments)
		return false;
	snprintf(key, sizeof(key), "%s/%s", owner, repo);
	bulk_ms = map_get(&c->bulks, key);
	if (bulk_ms && ch_fresh(c, *bulk_ms))
		return false; /* what it could fill is filled: the rest is asked one by one */
	for (k = 0; k < 2; k++) {
		ch_list_key(key, sizeof(key), owner, repo, k == 1);
		l = map_get(&c->lists, key);
		for (i = 0; l && i < l->n; i++) {
			ch_item_key(ikey, sizeof(ikey), owner, repo, k == 1, l->numbers[i]);
			it = map_get(&c->items, ikey);
			if (!it || it->missing || !it->issue.n_comments)
				continue;
			total += it->issue.n_comments;
			if (!it->have_comments || !ch_fresh(c, it->comments_ms))
				needing++;
		}
	}
	return needing >= 2 && (total + page_size(c) - 1) / page_size(c) < needing;
}

static int by_issue(const void *a, const void *b)
{
	const struct forge_comment *x = *(struct forge_comment *const *)a;
	const struct forge_comment *y = *(struct forge_comment *const *)b;

	if (x->issue != y->issue)
		return x->issue < y->issue ? -1 : 1;
	return x < y ? -1 : x > y; /* keep the forge's order (oldest first) */
}

/*
 * Gives every listed item of the repository its comments out of cl (they
 * are moved, not copied). sorted: pointers into cl ordered by issue.
 */
static void distribute(struct cache *c, const char *owner, const char *repo,
		       struct forge_comment **sorted, size_t n)
{
	char lkey[KEY_MAX], ikey[KEY_MAX];
	int64_t t = ch_now(c);
	struct item *it;
	struct list *l;
	size_t i, lo, hi, j;
	int k;

	for (k = 0; k < 2; k++) {
		ch_list_key(lkey, sizeof(lkey), owner, repo, k == 1);
		l = map_get(&c->lists, lkey);
		for (i = 0; l && i < l->n; i++) {
			struct forge_comment_list cl = {NULL, 0};

			ch_item_key(ikey, sizeof(ikey), owner, repo, k == 1, l->numbers[i]);
			it = map_get(&c->items, ikey);
			if (!it || it->missing || it->stale)
				continue;
			/* The first comment of this number, by binary search. */
			for (lo = 0, hi = n; lo < hi;) {
				size_t mid = lo + (hi - lo) / 2;

				if (sorted[mid]->issue < l->numbers[i])
					lo = mid + 1;
				else
					hi = mid;
			}
			for (hi = lo; hi < n && sorted[hi]->issue == l->numbers[i]; hi++)
				;
			if (hi == lo && it->issue.n_comments == 0)
				continue;
			cl.v = calloc(hi - lo + 1, sizeof(*cl.v));
			if (!cl.v)
				continue; /* this one is asked for on its own later */
			for (j = lo; j < hi; j++) {
				struct forge_comment *c = sorted[j];

				cl.v[cl.n++] = *c;
				/* Moved: only the strings go; issue keeps the array sorted. */
				c->body = c->author = c->created_at = c->updated_at = NULL;
			}
			forge_comment_list_release(&it->comments);
			it->comments = cl;
			it->have_comments = true;
			it->comments_ms = t;
			ch_item_sized(c, it);
			ch_mark(c, "item:", ikey);
		}
	}
}

int ch_bulk_comments(struct cache *c, const char *owner, const char *repo, struct buf *err)
{
	struct forge *f = c->opt.forge;
	struct forge_comment_list cl = {NULL, 0};
	struct forge_comment **sorted = NULL;
	char key[KEY_MAX], fkey[KEY_MAX + 2];
	int64_t *bulk_ms, *old = NULL;
	size_t i;
	int r;

	snprintf(key, sizeof(key), "%s/%s", owner, repo);
	snprintf(fkey, sizeof(fkey), "c:%s", key);
	pthread_mutex_lock(&c->lock);
	while (map_get(&c->inflight, fkey))
		pthread_cond_wait(&c->done, &c->lock);
	bulk_ms = map_get(&c->bulks, key);
	if (bulk_ms && ch_fresh(c, *bulk_ms)) {
		pthread_mutex_unlock(&c->lock);
		return 0; /* another thread just did it */
	}
	if (map_put(&c->inflight, fkey, (void *)1, NULL) < 0) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	pthread_mutex_unlock(&c->lock);

	/*
	 * The answer holds the comments of issues and pulls alike, and only
	 * listed items can take theirs: both lists first (a walk that needs
	 * comments in bulk will list both anyway). A list that cannot be had
	 * only means its items take their comments one by one.
	 */
	(void)!ch_list_ensure(c, owner, repo, false, NULL, NULL, NULL);
	(void)!ch_list_ensure(c, owner, repo, true, NULL, NULL, NULL);
	ch_count(c);
	r = f->ops->list_repo_comments(f, owner, repo, NULL, &cl, err);
	if (r == 0) {
		sorted = malloc((cl.n + 1) * sizeof(*sorted));
		if (!sorted)
			r = -ENOMEM;
		for (i = 0; sorted && i < cl.n; i++)
			sorted[i] = &cl.v[i];
		if (sorted)
			qsort(sorted, cl.n, sizeof(*sorted), by_issue);
	}
	bulk_ms = r == 0 ? malloc(sizeof(*bulk_ms)) : NULL;
	pthread_mutex_lock(&c->lock);
	if (r == 0) {
		distribute(c, owner, repo, sorted, cl.n);
		if (bulk_ms) {
			*bulk_ms = ch_now(c);
			if (map_put(&c->bulks, key, bulk_ms, (void **)&old) < 0)
				free(bulk_ms);
			free(old);
		}
	}
	map_del(&c->inflight, fkey);
	pthread_cond_broadcast(&c->done);
	ch_trim(c);
	pthread_mutex_unlock(&c->lock);
	free(sorted);
	forge_comment_list_release(&cl);
	return r;
}

/* ---- the public listing ------------------------------------------------ */

void cache_listing_release(struct cache_listing *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int cache_list_issues(struct cache *c, const char *owner, const char *repo, enum forge_kind kind,
		      struct cache_listing *out, struct buf *err)
{
	bool pull = kind == FORGE_PULLS;
	struct cache_listing l = {NULL, 0};
	uint64_t *numbers;
	size_t count, i;
	int r;

	if (!out)
		return ch_list_ensure(c, owner, repo, pull, NULL, NULL, err);
	r = ch_list_ensure(c, owner, repo, pull, &numbers, &count, err);
	if (r < 0)
		return r;
	l.v = calloc(count ? count : 1, sizeof(*l.v));
	if (!l.v) {
		free(numbers);
		return -ENOMEM;
	}
	/* One item at a time: a cold start loads each from the store, others go between. */
	for (i = 0; i < count; i++) {
		struct item *it;

		pthread_mutex_lock(&c->lock);
		it = ch_item_find(c, owner, repo, pull, numbers[i]);
		l.v[i].number = numbers[i];
		l.v[i].updated = it && !it->missing ? time_from_rfc3339(it->issue.updated_at) : 0;
		ch_trim(c);
		pthread_mutex_unlock(&c->lock);
	}
	l.n = count;
	free(numbers);
	*out = l;
	return 0;
}

int64_t cache_newest(struct cache *c, const char *owner, const char *repo, int kind)
{
	int64_t t;

	pthread_mutex_lock(&c->lock);
	t = ch_newest(c, owner, repo, kind);
	pthread_mutex_unlock(&c->lock);
	return t;
}
