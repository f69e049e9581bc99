/*
 * sync: the parts of the view's cache that work on a whole repository at
 * once: listing, revalidating a list with `since`, filling every item's
 * comments from the repository-wide comment list, and loading what the
 * persistent store kept. See fs/view.h for the behaviour and
 * fs/viewcache.h for the shared structures.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tree/content.h"
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

struct list *vc_list_find(struct view *v, const char *owner, const char *repo, bool pull)
{
	char key[KEY_MAX], skey[KEY_MAX + 8];
	struct list *l;
	char *json = NULL;
	int64_t age;

	vc_list_key(key, sizeof(key), owner, repo, pull);
	l = map_get(&v->lists, key);
	if (l || !v->store)
		return l;
	snprintf(skey, sizeof(skey), "list:%s", key);
	if (cachestore_load(v->store, skey, &json, &age) < 0)
		return NULL;
	l = calloc(1, sizeof(*l));
	if (!l || cs_list_parse(json, &l->numbers, &l->n, &l->since) < 0 ||
	    map_put(&v->lists, key, l, NULL) < 0) {
		free(l);
		l = NULL;
	} else {
		l->ms = vc_now(v) - age;
	}
	free(json);
	return l;
}

struct item *vc_item_find(struct view *v, const char *owner, const char *repo, bool pull,
			  uint64_t number)
{
	char key[KEY_MAX], skey[KEY_MAX + 8];
	struct cs_item ci;
	struct item *it;
	struct list *l;
	char *json = NULL;
	int64_t age, ms;

	vc_item_key(key, sizeof(key), owner, repo, pull, number);
	it = map_get(&v->items, key);
	if (it || !v->store)
		return it;
	snprintf(skey, sizeof(skey), "item:%s", key);
	if (cachestore_load(v->store, skey, &json, &age) < 0)
		return NULL;
	memset(&ci, 0, sizeof(ci));
	if (cs_item_parse(json, &ci) < 0 || ci.issue.number != number) {
		cs_item_release(&ci);
		free(json);
		return NULL;
	}
	free(json);
	it = calloc(1, sizeof(*it));
	if (!it || map_put(&v->items, key, it, NULL) < 0) {
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
	ms = vc_now(v) - age;
	l = vc_list_find(v, owner, repo, pull);
	if (l && !it->stale && l->ms > ms)
		ms = l->ms;
	it->issue_ms = it->comments_ms = it->diff_ms = ms;
	return it;
}

int vc_produce(void *ud, const char *key, struct buf *out, int64_t *age_ms)
{
	struct view *v = ud;
	struct item *it;
	struct list *l;
	int r = -ENOENT;

	pthread_mutex_lock(&v->lock);
	if (strncmp(key, "item:", 5) == 0) {
		it = map_get(&v->items, key + 5);
		if (it && !it->missing) {
			r = cs_item_dump(&it->issue, it->have_comments ? &it->comments : NULL,
					 it->diff, it->stale, out);
			*age_ms = vc_now(v) - it->issue_ms;
		}
	} else if (strncmp(key, "list:", 5) == 0) {
		l = map_get(&v->lists, key + 5);
		if (l && !l->missing) {
			r = cs_list_dump(l->numbers, l->n, l->since, out);
			*age_ms = vc_now(v) - l->ms;
		}
	}
	pthread_mutex_unlock(&v->lock);
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
static int apply_full(struct view *v, const char *key, const char *owner, const char *repo,
		      bool pull, struct forge_issue_list *il)
{
	char ikey[KEY_MAX];
	struct list *l, *old = NULL;
	int64_t t = vc_now(v);
	size_t i;

	l = calloc(1, sizeof(*l));
	if (l)
		l->numbers = calloc(il->n ? il->n : 1, sizeof(*l->numbers));
	if (!l || !l->numbers) {
		vc_list_free(l);
		return -ENOMEM;
	}
	for (i = 0; i < il->n; i++) {
		l->numbers[l->n++] = il->v[i].number;
		note_newest(&l->since, il->v[i].updated_at);
		vc_item_key(ikey, sizeof(ikey), owner, repo, pull, il->v[i].number);
		vc_item_store(v, ikey, &il->v[i], t);
	}
	/* Newest first, as Gitea sends them; list_has relies on the order. */
	qsort(l->numbers, l->n, sizeof(*l->numbers), desc);
	l->ms = t;
	if (map_put(&v->lists, key, l, (void **)&old) < 0) {
		vc_list_free(l);
		return -ENOMEM;
	}
	vc_list_free(old);
	vc_mark(v, "list:", key);
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
static int apply_since(struct view *v, struct list *l, const char *key, const char *owner,
		       const char *repo, bool pull, struct forge_issue_list *il)
{
	char ikey[KEY_MAX];
	int64_t t = vc_now(v);
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
		it = vc_item_find(v, owner, repo, pull, x->number);
		if (it && !it->missing && !it->stale && vc_same_version(&it->issue, x))
			continue; /* inside the skew margin, unchanged */
		vc_item_key(ikey, sizeof(ikey), owner, repo, pull, x->number);
		if (!pull) {
			vc_item_store(v, ikey, x, t);
		} else if (it && !it->missing) {
			/* The issue list's PR lacks head/base: fetch it on use. */
			it->stale = true;
			vc_mark(v, "item:", ikey);
		}
	}
	if (added) {
		l->n += added;
		qsort(l->numbers, l->n, sizeof(*l->numbers), desc);
	}
	for (i = 0; i < l->n; i++) {
		vc_item_key(ikey, sizeof(ikey), owner, repo, pull, l->numbers[i]);
		it = map_get(&v->items, ikey);
		if (!it || it->missing || it->stale)
			continue;
		it->issue_ms = t;
		if (it->have_comments)
			it->comments_ms = t;
		if (it->diff)
			it->diff_ms = t;
	}
	l->ms = t;
	vc_mark(v, "list:", key);
	return 0;
}

/*
 * The repository is gone (404): an empty tombstone replaces the list, so
 * its items are absent without a request while it is fresh. Marked so
 * the persistent store drops what it had (vc_produce skips tombstones).
 */
static void list_store_missing(struct view *v, const char *key)
{
	struct list *l = calloc(1, sizeof(*l)), *old = NULL;

	if (!l)
		return;
	l->missing = true;
	l->ms = vc_now(v);
	if (map_put(&v->lists, key, l, (void **)&old) < 0) {
		free(l);
		return;
	}
	vc_list_free(old);
	vc_mark(v, "list:", key);
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

int vc_list_ensure(struct view *v, const char *owner, const char *repo, bool pull,
		   uint64_t **numbers, size_t *count, struct buf *err)
{
	struct forge *f = v->opt.forge;
	struct forge_issue_list il;
	char key[KEY_MAX], *since = NULL;
	size_t mark = err ? err->len : 0;
	struct list *l;
	int r;

	vc_list_key(key, sizeof(key), owner, repo, pull);
	pthread_mutex_lock(&v->lock);
again:
	for (;;) {
		l = vc_list_find(v, owner, repo, pull);
		if (l && l->missing && vc_fresh(v, l->ms)) {
			pthread_mutex_unlock(&v->lock);
			return -ENOENT;
		}
		if (l && !l->missing && (vc_fresh(v, l->ms) || vc_backing_off(v, l->failed_ms))) {
			r = copy_out(l, numbers, count);
			pthread_mutex_unlock(&v->lock);
			return r;
		}

		/* One thread lists; the others wait for its answer. */
		if (!map_get(&v->inflight, key))
			break;
		pthread_cond_wait(&v->done, &v->lock);
	}
	if (map_put(&v->inflight, key, (void *)1, NULL) < 0) {
		pthread_mutex_unlock(&v->lock);
		return -ENOMEM;
	}
	free(since);
	since = l && l->since ? since_query(l->since) : NULL;
	pthread_mutex_unlock(&v->lock);

	atomic_fetch_add(&v->requests, 1);
	r = f->ops->list_issues(f, owner, repo, pull ? FORGE_PULLS : FORGE_ISSUES, since, &il, err);
	pthread_mutex_lock(&v->lock);
	map_del(&v->inflight, key);
	pthread_cond_broadcast(&v->done);
	if (r == 0) {
		l = since ? vc_list_find(v, owner, repo, pull) : NULL;
		if (since && !l) {
			/* A forget (after a write) dropped the list meanwhile: list it whole. */
			forge_issue_list_release(&il);
			goto again;
		}
		r = l ? apply_since(v, l, key, owner, repo, pull, &il)
		      : apply_full(v, key, owner, repo, pull, &il);
		forge_issue_list_release(&il);
	}
	if (r == -ENOENT)
		list_store_missing(v, key);
	l = vc_list_find(v, owner, repo, pull);
	if (r != -EIO || !l || l->missing)
		vc_failed_report(v, key, r, err, mark);
	if (r == -EIO && l && !l->missing) {
		l->failed_ms = vc_now(v);
		r = 0; /* stale while the forge is down */
	} else if (r == 0 && l) {
		l->failed_ms = 0;
	}
	if (r == 0)
		r = l ? copy_out(l, numbers, count) : -EIO;
	pthread_mutex_unlock(&v->lock);
	free(since);
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

int64_t vc_newest(struct view *v, const char *owner, const char *repo, int pull)
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
			vc_list_key(key, sizeof(key), owner, repo, k == 1);
			if (list_newest(map_get(&v->lists, key)) > a.newest)
				a.newest = list_newest(map_get(&v->lists, key));
			continue;
		}
		snprintf(a.prefix[k], sizeof(a.prefix[k]), "%c:%s/", k ? 'p' : 'i', owner);
		a.len[k] = strlen(a.prefix[k]);
	}
	if (!repo)
		map_each(&v->lists, newest_cb, &a);
	return a.newest;
}

/* ---- comments in bulk --------------------------------------------------- */

static size_t page_size(struct view *v)
{
	struct forge_capabilities caps;

	memset(&caps, 0, sizeof(caps));
	v->opt.forge->ops->capabilities(v->opt.forge, &caps);
	return caps.max_page_size ? caps.max_page_size : DEFAULT_PAGE;
}

bool vc_bulk_worth(struct view *v, const char *owner, const char *repo)
{
	char key[KEY_MAX], ikey[KEY_MAX];
	uint64_t total = 0, needing = 0;
	int64_t *bulk_ms;
	struct item *it;
	struct list *l;
	size_t i;
	int k;

	if (!v->opt.forge->ops->list_repo_comments)
		return false;
	snprintf(key, sizeof(key), "%s/%s", owner, repo);
	bulk_ms = map_get(&v->bulks, key);
	if (bulk_ms && vc_fresh(v, *bulk_ms))
		return false; /* what it could fill is filled: the rest is asked one by one */
	for (k = 0; k < 2; k++) {
		vc_list_key(key, sizeof(key), owner, repo, k == 1);
		l = map_get(&v->lists, key);
		for (i = 0; l && i < l->n; i++) {
			vc_item_key(ikey, sizeof(ikey), owner, repo, k == 1, l->numbers[i]);
			it = map_get(&v->items, ikey);
			if (!it || it->missing || !it->issue.n_comments)
				continue;
			total += it->issue.n_comments;
			if (!it->have_comments || !vc_fresh(v, it->comments_ms))
				needing++;
		}
	}
	return needing >= 2 && (total + page_size(v) - 1) / page_size(v) < needing;
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
static void distribute(struct view *v, const char *owner, const char *repo,
		       struct forge_comment **sorted, size_t n)
{
	char lkey[KEY_MAX], ikey[KEY_MAX];
	int64_t t = vc_now(v);
	struct item *it;
	struct list *l;
	size_t i, lo, hi, j;
	int k;

	for (k = 0; k < 2; k++) {
		vc_list_key(lkey, sizeof(lkey), owner, repo, k == 1);
		l = map_get(&v->lists, lkey);
		for (i = 0; l && i < l->n; i++) {
			struct forge_comment_list cl = {NULL, 0};

			vc_item_key(ikey, sizeof(ikey), owner, repo, k == 1, l->numbers[i]);
			it = map_get(&v->items, ikey);
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
			vc_mark(v, "item:", ikey);
		}
	}
}

int vc_bulk_comments(struct view *v, const char *owner, const char *repo, struct buf *err)
{
	struct forge *f = v->opt.forge;
	struct forge_comment_list cl = {NULL, 0};
	struct forge_comment **sorted = NULL;
	char key[KEY_MAX], fkey[KEY_MAX + 2];
	int64_t *bulk_ms, *old = NULL;
	size_t i;
	int r;

	snprintf(key, sizeof(key), "%s/%s", owner, repo);
	snprintf(fkey, sizeof(fkey), "c:%s", key);
	pthread_mutex_lock(&v->lock);
	while (map_get(&v->inflight, fkey))
		pthread_cond_wait(&v->done, &v->lock);
	bulk_ms = map_get(&v->bulks, key);
	if (bulk_ms && vc_fresh(v, *bulk_ms)) {
		pthread_mutex_unlock(&v->lock);
		return 0; /* another thread just did it */
	}
	if (map_put(&v->inflight, fkey, (void *)1, NULL) < 0) {
		pthread_mutex_unlock(&v->lock);
		return -ENOMEM;
	}
	pthread_mutex_unlock(&v->lock);

	/*
	 * The answer holds the comments of issues and pulls alike, and only
	 * listed items can take theirs: both lists first (a walk that needs
	 * comments in bulk will list both anyway).
	 */
	(void)vc_list_ensure(v, owner, repo, false, NULL, NULL, NULL);
	(void)vc_list_ensure(v, owner, repo, true, NULL, NULL, NULL);
	atomic_fetch_add(&v->requests, 1);
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
	pthread_mutex_lock(&v->lock);
	if (r == 0) {
		distribute(v, owner, repo, sorted, cl.n);
		if (bulk_ms) {
			*bulk_ms = vc_now(v);
			if (map_put(&v->bulks, key, bulk_ms, (void **)&old) < 0)
				free(bulk_ms);
			free(old);
		}
	}
	map_del(&v->inflight, fkey);
	pthread_cond_broadcast(&v->done);
	pthread_mutex_unlock(&v->lock);
	free(sorted);
	forge_comment_list_release(&cl);
	return r;
}
