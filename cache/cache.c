#include "cache/cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tree/bottles.h"
#include "tree/content.h"
#include "cache/internal.h"
#include "util/map.h"
#include "util/str.h"
#include "util/time.h"

struct repos {
	bool missing; /* the forge said the owner does not exist (404) */
	struct forge_name_list names;
	int64_t ms;
};

enum need {
	NEED_ISSUE = 1,
	NEED_COMMENTS = 2,
	NEED_DIFF = 4,
};

static int64_t mono_ms(void *ud)
{
	(void)ud;
	return time_mono_ms();
}

int64_t vc_now(struct view *v)
{
	return v->opt.now_ms(v->opt.now_ud);
}

bool vc_fresh(struct view *v, int64_t ms)
{
	return vc_now(v) - ms < v->opt.cache_ttl_ms;
}

bool vc_backing_off(struct view *v, int64_t failed_ms)
{
	return failed_ms && vc_now(v) - failed_ms < VC_FAILED_BACKOFF_MS;
}

void vc_failed_report(struct view *v, const char *key, int r, struct buf *err, size_t err_mark)
{
	int64_t *ms = map_get(&v->failed, key);

	if (r != -EIO) {
		free(map_del(&v->failed, key));
		return;
	}
	if (ms && vc_backing_off(v, *ms)) {
		/* Reported already: the same failure again is not news. */
		if (err && err->len > err_mark) {
			err->len = err_mark;
			err->data[err_mark] = '\0';
		}
		return;
	}
	if (!ms) {
		ms = malloc(sizeof(*ms));
		if (!ms || map_put(&v->failed, key, ms, NULL) < 0) {
			free(ms);
			return;
		}
	}
	*ms = vc_now(v);
}

#define now vc_now
#define fresh vc_fresh

void vc_item_free(struct item *it)
{
	if (!it)
		return;
	forge_issue_release(&it->issue);
	forge_comment_list_release(&it->comments);
	free(it->diff);
	free(it);
}

void vc_list_free(struct list *l)
{
	if (l) {
		free(l->numbers);
		free(l->since);
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
	vc_item_free(val);
}

static void free_list_cb(void *ud, const char *key, void *val)
{
	(void)ud;
	(void)key;
	vc_list_free(val);
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

int view_new(const struct view_options *opt, struct view **out)
{
	struct view *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	v->opt = *opt;
	if (!v->opt.now_ms)
		v->opt.now_ms = mono_ms;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->done, NULL);
	map_init(&v->items);
	map_init(&v->lists);
	map_init(&v->repos);
	map_init(&v->bulks);
	map_init(&v->inflight);
	map_init(&v->failed);
	atomic_init(&v->requests, 0);
	v->start_s = (int64_t)time(NULL);
	if (opt->state) {
		r = cachestore_new(opt->state, vc_produce, v, &v->store);
		if (r < 0) {
			view_free(v);
			return r;
		}
	}
	*out = v;
	return 0;
}

void view_free(struct view *v)
{
	if (!v)
		return;
	/* First: its thread reads the maps below. */
	cachestore_free(v->store);
	map_each(&v->items, free_item_cb, NULL);
	map_each(&v->lists, free_list_cb, NULL);
	map_each(&v->repos, free_repos_cb, NULL);
	map_each(&v->bulks, free_plain_cb, NULL);
	map_release(&v->items);
	map_release(&v->lists);
	map_release(&v->repos);
	map_release(&v->bulks);
	map_each(&v->failed, free_plain_cb, NULL);
	map_release(&v->failed);
	map_release(&v->inflight);
	pthread_cond_destroy(&v->done);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

uint64_t view_requests(struct view *v)
{
	return atomic_load(&v->requests);
}

int view_flush(struct view *v, int64_t timeout_ms)
{
	return cachestore_flush(v->store, timeout_ms);
}

void vc_item_key(char *key, size_t size, const char *owner, const char *repo, bool pull,
		 uint64_t number)
{
	snprintf(key, size, "%c:%s/%s#%llu", pull ? 'p' : 'i', owner, repo,
		 (unsigned long long)number);
}

void vc_list_key(char *key, size_t size, const char *owner, const char *repo, bool pull)
{
	snprintf(key, size, "%c:%s/%s", pull ? 'p' : 'i', owner, repo);
}

void vc_mark(struct view *v, const char *prefix, const char *key)
{
	char skey[KEY_MAX + 8];

	if (!v->store)
		return;
	snprintf(skey, sizeof(skey), "%s%s", prefix, key);
	cachestore_mark(v->store, skey);
}

bool vc_same_version(const struct forge_issue *a, const struct forge_issue *b)
{
	return a->updated_at && b->updated_at && strcmp(a->updated_at, b->updated_at) == 0;
}

/* The item under key, created empty if absent. */
static struct item *item_slot(struct view *v, const char *key)
{
	struct item *it = map_get(&v->items, key);

	if (it)
		return it;
	it = calloc(1, sizeof(*it));
	if (!it)
		return NULL;
	if (map_put(&v->items, key, it, NULL) < 0) {
		free(it);
		return NULL;
	}
	return it;
}

int vc_item_store(struct view *v, const char *key, struct forge_issue *issue, int64_t ms)
{
	struct item *it = item_slot(v, key);
	bool changed;

	if (!it)
		return -ENOMEM;
	changed = it->missing || !vc_same_version(&it->issue, issue);
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
	vc_mark(v, "item:", key);
	return 0;
}

static void item_store_missing(struct view *v, const char *key, int64_t ms)
{
	struct item *it = item_slot(v, key);

	if (!it)
		return;
	forge_issue_release(&it->issue);
	forge_comment_list_release(&it->comments);
	free(it->diff);
	memset(it, 0, sizeof(*it));
	it->missing = true;
	it->issue_ms = ms;
	vc_mark(v, "item:", key); /* a tombstone: a restart asks again */
}

/* True when a fresh list of the repository says number is not in it. */
static bool listed_absent(struct view *v, const char *owner, const char *repo, bool pull,
			  uint64_t number)
{
	struct list *l = vc_list_find(v, owner, repo, pull);
	size_t i;

	if (!l || !fresh(v, l->ms))
		return false;
	for (i = 0; i < l->n; i++)
		if (l->numbers[i] == number)
			return false;
	return true;
}

/*
 * What one call knows about an item: its own copies, assembled from the
 * cache and from what the call fetched. Rendering from a snapshot, not
 * from the cache, means a forget (after a write) landing between the fetch
 * and the render can never take what was just fetched.
 */
struct snap {
	struct forge_issue issue;
	struct forge_comment_list comments;
	char *diff;
};

static void snap_release(struct snap *s)
{
	forge_issue_release(&s->issue);
	forge_comment_list_release(&s->comments);
	free(s->diff);
	memset(s, 0, sizeof(*s));
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

static bool item_fresh(struct view *v, const struct item *it)
{
	return it && !it->stale && fresh(v, it->issue_ms);
}

/* The cached issue of a fresh item into s (-ENOENT when missing). */
static int from_cache(struct item *it, struct snap *s)
{
	return it->missing ? -ENOENT : forge_issue_copy(&s->issue, &it->issue);
}

/*
 * The issue part of a snapshot: cached when fresh, else fetched (or stale
 * on -EIO). An expired item is asked for on its own, one request, even in
 * a listed repository: a walk revalidates through its directory listing
 * first (one `since` request for the whole list, vc_list_ensure), so the
 * items it then reads are fresh already.
 */
static int snap_issue(struct view *v, const char *key, const struct node *n, struct snap *s,
		      struct buf *err)
{
	struct forge *f = v->opt.forge;
	struct forge_issue fetched, copy;
	size_t mark = err ? err->len : 0;
	struct item *it;
	int r;

	pthread_mutex_lock(&v->lock);
	it = vc_item_find(v, n->owner, n->repo, n->pull, n->number);
	if (item_fresh(v, it) || (it && !it->missing && vc_backing_off(v, it->failed_ms)))
		goto cached;
	if (!it && listed_absent(v, n->owner, n->repo, n->pull, n->number))
		goto absent;
	pthread_mutex_unlock(&v->lock);

	atomic_fetch_add(&v->requests, 1);
	r = n->pull ? f->ops->get_pull(f, n->owner, n->repo, n->number, &fetched, err)
		    : f->ops->get_issue(f, n->owner, n->repo, n->number, &fetched, err);
	pthread_mutex_lock(&v->lock);
	if (r != -EIO || !(it = map_get(&v->items, key)) || it->missing)
		vc_failed_report(v, key, r, err, mark);
	if (r == -ENOENT) {
		item_store_missing(v, key, now(v));
	} else if (r == -EIO) {
		/* A forge that fails: what was read before is served, stale. */
		it = map_get(&v->items, key);
		if (it && !it->missing) {
			it->failed_ms = now(v);
			r = forge_issue_copy(&s->issue, &it->issue);
		}
	} else if (r == 0) {
		r = forge_issue_copy(&copy, &fetched);
		if (r == 0 && vc_item_store(v, key, &copy, now(v)) < 0)
			forge_issue_release(&copy);
		s->issue = fetched;
		r = 0;
	}
	pthread_mutex_unlock(&v->lock);
	return r;
cached:
	r = from_cache(it, s);
	pthread_mutex_unlock(&v->lock);
	return r;
absent:
	pthread_mutex_unlock(&v->lock);
	return -ENOENT;
}

/* The cached comments of the item under key for the version s holds, if fresh. */
static bool comments_cached(struct view *v, const char *key, struct snap *s, int *r)
{
	struct item *it = map_get(&v->items, key);

	if (!it || !it->have_comments ||
	    !(fresh(v, it->comments_ms) || vc_backing_off(v, it->failed_ms)) ||
	    !vc_same_version(&it->issue, &s->issue))
		return false;
	*r = comments_copy(&s->comments, &it->comments);
	return true;
}

/*
 * The comments part: cached for this version of the item, else fetched,
 * for the whole repository at once when many listed items need theirs.
 */
static int snap_comments(struct view *v, const char *key, const struct node *n, struct snap *s,
			 struct buf *err)
{
	struct forge *f = v->opt.forge;
	struct forge_comment_list cl, copy;
	struct item *it;
	bool bulk;
	int r;

	if (s->issue.n_comments == 0) /* the item says it has none: nothing to ask */
		return comments_copy(&s->comments, &(struct forge_comment_list){NULL, 0});
	pthread_mutex_lock(&v->lock);
	if (comments_cached(v, key, s, &r))
		goto out;
	bulk = vc_bulk_worth(v, n->owner, n->repo);
	pthread_mutex_unlock(&v->lock);
	if (bulk && vc_bulk_comments(v, n->owner, n->repo, err) == 0) {
		pthread_mutex_lock(&v->lock);
		if (comments_cached(v, key, s, &r))
			goto out;
		pthread_mutex_unlock(&v->lock);
	}

	atomic_fetch_add(&v->requests, 1);
	r = f->ops->list_comments(f, n->owner, n->repo, n->number, &cl, err);
	pthread_mutex_lock(&v->lock);
	it = map_get(&v->items, key);
	if (r == 0) {
		if (it && !it->missing && vc_same_version(&it->issue, &s->issue) &&
		    comments_copy(&copy, &cl) == 0) {
			forge_comment_list_release(&it->comments);
			it->comments = copy;
			it->have_comments = true;
			it->comments_ms = now(v);
			vc_mark(v, "item:", key);
		}
		s->comments = cl;
	} else if (r == -EIO && it && it->have_comments) {
		it->failed_ms = now(v);
		r = comments_copy(&s->comments, &it->comments);
	}
out:
	pthread_mutex_unlock(&v->lock);
	return r;
}

/* The diff part (pull requests). */
static int snap_diff(struct view *v, const char *key, const struct node *n, struct snap *s,
		     struct buf *err)
{
	struct forge *f = v->opt.forge;
	struct buf d = BUF_INIT(0), why = BUF_INIT(4096);
	struct item *it;
	int r;

	pthread_mutex_lock(&v->lock);
	it = map_get(&v->items, key);
	if (it && it->diff && (fresh(v, it->diff_ms) || vc_backing_off(v, it->failed_ms)) &&
	    vc_same_version(&it->issue, &s->issue)) {
		s->diff = strdup(it->diff);
		pthread_mutex_unlock(&v->lock);
		return s->diff ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&v->lock);

	atomic_fetch_add(&v->requests, 1);
	r = f->ops->get_diff(f, n->owner, n->repo, n->number, &d, &why);
	if (r == -EFBIG) {
		/*
		 * Too large to hold is an answer, not a failure: the file says so
		 * in one line, and that line is cached like a diff so the forge
		 * is not asked for the whole thing at every stat.
		 */
		buf_reset(&d);
		r = buf_printf(&d, "bottlefs: %s\n", buf_cstr(&why));
	} else if (r < 0 && err) {
		buf_puts(err, buf_cstr(&why));
	}
	buf_release(&why);
	pthread_mutex_lock(&v->lock);
	it = map_get(&v->items, key);
	if (r == 0) {
		s->diff = buf_steal(&d, NULL);
		if (s->diff && it && !it->missing && vc_same_version(&it->issue, &s->issue)) {
			free(it->diff);
			it->diff = strdup(s->diff);
			it->diff_ms = now(v);
			vc_mark(v, "item:", key);
		}
		if (!s->diff)
			r = -ENOMEM;
	} else if (r == -EIO && it && it->diff) {
		it->failed_ms = now(v);
		s->diff = strdup(it->diff);
		r = s->diff ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&v->lock);
	buf_release(&d);
	return r;
}

static unsigned need_for(const struct node *n)
{
	switch (n->kind) {
	case N_ITEM_FILE:
		if (n->file == F_DIFF)
			return NEED_ISSUE | NEED_DIFF;
		return content_needs_comments(n->file) ? NEED_ISSUE | NEED_COMMENTS : NEED_ISSUE;
	case N_COMMENTS:
	case N_COMMENT:
		return NEED_ISSUE | NEED_COMMENTS;
	default:
		return NEED_ISSUE;
	}
}

/*
 * A snapshot of the item under n with what need asks for: from the cache
 * while fresh, from the forge otherwise. 0 or -errno; release with
 * snap_release.
 */
static int item_get(struct view *v, const struct node *n, unsigned need, struct snap *s,
		    struct buf *err)
{
	char key[KEY_MAX];
	int r;

	memset(s, 0, sizeof(*s));
	vc_item_key(key, sizeof(key), n->owner, n->repo, n->pull, n->number);
	r = snap_issue(v, key, n, s, err);
	if (r == 0 && (need & NEED_COMMENTS))
		r = snap_comments(v, key, n, s, err);
	if (r == 0 && (need & NEED_DIFF))
		r = snap_diff(v, key, n, s, err);
	if (r < 0)
		snap_release(s);
	return r;
}

static int item_render(const struct snap *s, const struct node *n, struct buf *out, int64_t *mtime)
{
	size_t i;
	int r;

	if (n->kind == N_COMMENT) {
		for (i = 0; i < s->comments.n; i++) {
			const struct forge_comment *c = &s->comments.v[i];

			if (c->id == n->comment) {
				*mtime = time_from_rfc3339(c->updated_at);
				r = out ? content_comment(c, out) : 0;
				return r == -E2BIG ? -EFBIG : r;
			}
		}
		return -ENOENT;
	}
	*mtime = time_from_rfc3339(s->issue.updated_at);
	if (n->kind != N_ITEM_FILE || !out)
		return 0;
	r = content_item_file(n->file, &s->issue, &s->comments, s->diff, out);
	/* A file longer than a buffer may hold (64 MiB) is "file too large". */
	return r == -E2BIG ? -EFBIG : r;
}

/* Gets and renders an item node; out may be NULL for attributes only. */
static int item_node(struct view *v, const struct node *n, struct buf *out, int64_t *mtime,
		     struct buf *err)
{
	struct snap s;
	int r;

	r = item_get(v, n, need_for(n), &s, err);
	if (r < 0)
		return r;
	r = item_render(&s, n, out, mtime);
	snap_release(&s);
	return r;
}

static int repos_ensure(struct view *v, const char *owner, struct buf *err)
{
	struct forge *f = v->opt.forge;
	struct repos *rp, *old = NULL;
	bool have;
	int r;

	pthread_mutex_lock(&v->lock);
	rp = map_get(&v->repos, owner);
	have = rp != NULL && !rp->missing;
	if (rp && fresh(v, rp->ms)) {
		r = rp->missing ? -ENOENT : 0;
		pthread_mutex_unlock(&v->lock);
		return r;
	}
	pthread_mutex_unlock(&v->lock);
	rp = calloc(1, sizeof(*rp));
	if (!rp)
		return -ENOMEM;
	atomic_fetch_add(&v->requests, 1);
	r = f->ops->list_repos(f, owner, &rp->names, err);
	if (r < 0 && r != -ENOENT) {
		free(rp);
		return (r == -EIO && have) ? 0 : r;
	}
	/* A missing owner is remembered for the TTL too: no request per ls. */
	rp->missing = r == -ENOENT;
	pthread_mutex_lock(&v->lock);
	rp->ms = now(v);
	r = map_put(&v->repos, owner, rp, (void **)&old);
	pthread_mutex_unlock(&v->lock);
	repos_free(old);
	if (r < 0) {
		repos_free(rp);
		return r;
	}
	return rp->missing ? -ENOENT : 0;
}

static void dir_attr(struct view_attr *a, int64_t mtime)
{
	memset(a, 0, sizeof(*a));
	a->dir = true;
	a->mode = 0555;
	a->mtime = mtime;
}

static void file_attr(struct view_attr *a, uint64_t size, int64_t mtime)
{
	memset(a, 0, sizeof(*a));
	a->mode = 0444;
	a->size = size;
	a->mtime = mtime;
}

/*
 * A directory the forge gives no time for: the newest item time the cache
 * knows below it, else the mount's start (never 1970).
 */
static int64_t dir_time(struct view *v, const struct node *n)
{
	int64_t t = 0;

	pthread_mutex_lock(&v->lock);
	if (n->kind == N_OWNER)
		t = vc_newest(v, n->owner, NULL, -1);
	else if (n->kind == N_REPO)
		t = vc_newest(v, n->owner, n->repo, -1);
	else if (n->kind == N_LIST)
		t = vc_newest(v, n->owner, n->repo, n->pull ? 1 : 0);
	pthread_mutex_unlock(&v->lock);
	return t ? t : v->start_s;
}

static int meta_read(struct view *v, const struct node *n, struct buf *out)
{
	struct forge_capabilities caps;
	char *json;
	int r;

	if (n->mfile == M_SCOPE)
		return buf_puts(out, "read-only: this mount has no assignment (--assign)\n");
	v->opt.forge->ops->capabilities(v->opt.forge, &caps);
	json = forge_capabilities_json(&caps);
	if (!json)
		return -ENOMEM;
	r = buf_puts(out, json);
	free(json);
	return r;
}

int view_read(struct view *v, const struct node *n, struct buf *out, struct buf *err)
{
	int64_t mtime;

	switch (n->kind) {
	case N_ITEM_FILE:
	case N_COMMENT:
		return item_node(v, n, out, &mtime, err);
	case N_COMMENT_NEW:
	case N_PULLS_NEW:
	case N_DONE:
		return 0;
	case N_BOTTLE_FILE:
		return bottles_read(v->opt.bottles, n, out, err);
	case N_META_FILE:
		return meta_read(v, n, out);
	default:
		return -EISDIR;
	}
}

int view_getattr(struct view *v, const struct node *n, struct view_attr *out, struct buf *err)
{
	struct buf content = BUF_INIT(0);
	int64_t mtime = 0;
	int r = 0;

	switch (n->kind) {
	case N_ROOT:
	case N_FORGE:
	case N_OWNER:
	case N_REPO:
	case N_LIST:
	case N_BOTTLES:
	case N_META:
		/* Looked up by name without asking the forge (SEMANTICS.md). */
		dir_attr(out, dir_time(v, n));
		return 0;
	case N_ITEM:
	case N_COMMENTS: {
		/* A directory's attributes need the item, not its comments. */
		struct node item = *n;

		item.kind = N_ITEM;
		r = item_node(v, &item, NULL, &mtime, err);
		if (r == 0)
			dir_attr(out, mtime ? mtime : v->start_s);
		return r;
	}
	case N_COMMENT_NEW:
		r = item_node(v, n, NULL, &mtime, err);
		if (r == 0)
			file_attr(out, 0, mtime ? mtime : v->start_s);
		return r;
	case N_PULLS_NEW:
	case N_DONE:
		file_attr(out, 0, v->start_s);
		return 0;
	case N_BOTTLE:
	case N_BOTTLE_FILE:
		return bottles_getattr(v->opt.bottles, n, out, err);
	default:
		break;
	}
	if (n->kind == N_META_FILE) {
		r = meta_read(v, n, &content);
		mtime = v->start_s;
	} else {
		r = item_node(v, n, &content, &mtime, err);
	}
	if (r == 0)
		file_attr(out, content.len, mtime ? mtime : v->start_s);
	buf_release(&content);
	return r;
}

static int list_children(struct view *v, const struct node *dir, view_fill_fn fill, void *ud,
			 struct buf *err)
{
	char name[24];
	struct view_attr a;
	uint64_t *numbers;
	size_t count, i;
	int r;

	r = vc_list_ensure(v, dir->owner, dir->repo, dir->pull, &numbers, &count, err);
	if (r < 0)
		return r;
	if (dir->pull && fill(ud, "new", NULL) != 0)
		goto out;
	for (i = 0; i < count; i++) {
		struct item *it;

		pthread_mutex_lock(&v->lock);
		it = vc_item_find(v, dir->owner, dir->repo, dir->pull, numbers[i]);
		dir_attr(&a, it && !it->missing && time_from_rfc3339(it->issue.updated_at)
				 ? time_from_rfc3339(it->issue.updated_at)
				 : v->start_s);
		pthread_mutex_unlock(&v->lock);
		snprintf(name, sizeof(name), "%llu", (unsigned long long)numbers[i]);
		if (fill(ud, name, &a) != 0)
			break;
	}
out:
	free(numbers);
	return 0;
}

static int list_comments_dir(struct view *v, const struct node *dir, view_fill_fn fill, void *ud,
			     struct buf *err)
{
	char name[24];
	struct snap s;
	size_t i;
	int r;

	r = item_get(v, dir, NEED_ISSUE | NEED_COMMENTS, &s, err);
	if (r < 0)
		return r;
	if (fill(ud, "new", NULL) == 0)
		for (i = 0; i < s.comments.n; i++) {
			snprintf(name, sizeof(name), "%llu",
				 (unsigned long long)s.comments.v[i].id);
			if (fill(ud, name, NULL) != 0)
				break;
		}
	snap_release(&s);
	return 0;
}

static int list_repos(struct view *v, const struct node *dir, view_fill_fn fill, void *ud,
		      struct buf *err)
{
	struct view_attr a;
	struct repos *rp;
	size_t i;
	int r;

	r = repos_ensure(v, dir->owner, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&v->lock);
	rp = map_get(&v->repos, dir->owner);
	for (i = 0; rp && i < rp->names.n; i++) {
		int64_t t = vc_newest(v, dir->owner, rp->names.v[i], -1);

		dir_attr(&a, t ? t : v->start_s);
		if (fill(ud, rp->names.v[i], &a) != 0)
			break;
	}
	pthread_mutex_unlock(&v->lock);
	return 0;
}

int view_list(struct view *v, const struct node *dir, view_fill_fn fill, void *ud, struct buf *err)
{
	const char *const *names;
	int n, i, r;

	switch (dir->kind) {
	case N_FORGE:
		return 0;
	case N_OWNER:
		return list_repos(v, dir, fill, ud, err);
	case N_LIST:
		return list_children(v, dir, fill, ud, err);
	case N_COMMENTS:
		return list_comments_dir(v, dir, fill, ud, err);
	case N_BOTTLES:
	case N_BOTTLE:
		return bottles_list(v->opt.bottles, dir, fill, ud, err);
	case N_ITEM: {
		/* The item must exist before its fixed files are listed. */
		int64_t mtime;

		r = item_node(v, dir, NULL, &mtime, err);
		if (r < 0)
			return r;
		break;
	}
	default:
		break;
	}
	n = tree_fixed_children(dir, &names);
	if (n < 0)
		return -ENOTDIR;
	for (i = 0; i < n; i++)
		if (fill(ud, names[i], NULL) != 0)
			break;
	return 0;
}

int view_open_dir(struct view *v, const struct node *dir, struct buf *err)
{
	int64_t mtime;

	switch (dir->kind) {
	case N_OWNER:
		return repos_ensure(v, dir->owner, err);
	case N_LIST:
		return vc_list_ensure(v, dir->owner, dir->repo, dir->pull, NULL, NULL, err);
	case N_ITEM:
	case N_COMMENTS:
		return item_node(v, dir, NULL, &mtime, err);
	default:
		return 0;
	}
}

void view_forget_item(struct view *v, const char *owner, const char *repo, bool pull,
		      uint64_t number)
{
	char key[KEY_MAX];

	vc_item_key(key, sizeof(key), owner, repo, pull, number);
	pthread_mutex_lock(&v->lock);
	vc_item_free(map_del(&v->items, key));
	vc_mark(v, "item:", key); /* a tombstone, so a restart does not bring it back */
	pthread_mutex_unlock(&v->lock);
}

void view_forget_lists(struct view *v, const char *owner, const char *repo)
{
	char key[KEY_MAX];

	pthread_mutex_lock(&v->lock);
	vc_list_key(key, sizeof(key), owner, repo, false);
	vc_list_free(map_del(&v->lists, key));
	vc_mark(v, "list:", key);
	vc_list_key(key, sizeof(key), owner, repo, true);
	vc_list_free(map_del(&v->lists, key));
	vc_mark(v, "list:", key);
	pthread_mutex_unlock(&v->lock);
}
