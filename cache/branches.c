/*
 * cache/branches: a repository's branches and its repo.bundle, cached
 * (cache.h): the branch list is kept ttl_ms like every other list, served
 * stale while the forge fails, forgotten after a push; repo.bundle's
 * mirror is brought up to date at most once per ttl_ms (the bundle file
 * itself is the adapter's, on disk). Not persisted: a restart lists again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/internal.h"

/* What is cached of one repository's branches: "o/r" in cache.branches. */
struct branches {
	bool have;		    /* l holds a listing */
	bool missing;		    /* the forge said the repository does not exist */
	struct forge_branch_list l; /* sorted by name */
	int64_t ms;		    /* when l (or missing) was fetched */
	int64_t failed_ms;	    /* last -EIO of a listing (0: none) */
	int64_t bundle_ms;	    /* last update of the mirror for repo.bundle (0: never) */
};

static void branches_free(struct branches *b)
{
	if (!b)
		return;
	forge_branch_list_release(&b->l);
	free(b);
}

static void free_cb(void *ud, const char *key, void *val)
{
	(void)ud;
	(void)key;
	branches_free(val);
}

void ch_branches_release(struct cache *c)
{
	map_each(&c->branches, free_cb, NULL);
	map_release(&c->branches);
}

/* Drops what a call appended to err after mark (a failure already reported). */
static void err_cut(struct buf *err, size_t mark)
{
	if (err && err->data && err->len > mark) {
		err->len = mark;
		err->data[mark] = '\0';
	}
}

static void repo_key(char *key, size_t size, const char *owner, const char *repo)
{
	snprintf(key, size, "%s/%s", owner, repo);
}

/* The entry of key, made when missing (lock held); NULL without memory. */
static struct branches *slot(struct cache *c, const char *key)
{
	struct branches *b = map_get(&c->branches, key);

	if (b)
		return b;
	b = calloc(1, sizeof(*b));
	if (b && map_put(&c->branches, key, b, NULL) < 0) {
		free(b);
		b = NULL;
	}
	return b;
}

static int copy_list(struct forge_branch_list *dst, const struct forge_branch_list *src)
{
	size_t i;

	dst->v = NULL;
	dst->n = 0;
	if (src->n == 0)
		return 0;
	dst->v = calloc(src->n, sizeof(*dst->v));
	if (!dst->v)
		return -ENOMEM;
	for (i = 0; i < src->n; i++, dst->n++) {
		dst->v[i] = src->v[i];
		if (!(dst->v[i].name = strdup(src->v[i].name))) {
			forge_branch_list_release(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

int cache_list_branches(struct cache *c, const char *owner, const char *repo,
			struct forge_branch_list *out, struct buf *err)
{
	struct forge_branch_list fresh = {NULL, 0};
	char key[KEY_MAX];
	struct branches *b;
	size_t mark = err ? err->len : 0;
	int r;

	repo_key(key, sizeof(key), owner, repo);
	pthread_mutex_lock(&c->lock);
	b = map_get(&c->branches, key);
	if (b && (b->have || b->missing) &&
	    (ch_fresh(c, b->ms) || (b->have && ch_backing_off(c, b->failed_ms))))
		goto answer;
	pthread_mutex_unlock(&c->lock);

	ch_count(c);
	r = forge_list_branches(c->opt.forge, owner, repo, &fresh, err);

	pthread_mutex_lock(&c->lock);
	b = slot(c, key);
	if (!b) {
		pthread_mutex_unlock(&c->lock);
		forge_branch_list_release(&fresh);
		return -ENOMEM;
	}
	if (r == 0 || r == -ENOENT) {
		forge_branch_list_release(&b->l);
		b->l = fresh;
		b->have = r == 0;
		b->missing = r == -ENOENT;
		b->ms = ch_now(c);
		b->failed_ms = 0;
	} else if (r == -EIO && b->have) {
		/* The forge failed: the list we have is served stale, reported once. */
		if (!ch_backing_off(c, b->failed_ms))
			b->failed_ms = ch_now(c);
		else
			err_cut(err, mark);
	} else {
		if (r == -EIO)
			b->failed_ms = ch_now(c);
		pthread_mutex_unlock(&c->lock);
		return r;
	}
answer:
	r = b->missing ? -ENOENT : 0;
	if (r == 0 && out)
		r = copy_list(out, &b->l);
	pthread_mutex_unlock(&c->lock);
	return r;
}

int cache_repo_bundle(struct cache *c, const char *owner, const char *repo, uint64_t deadline_ms,
		      char **path, uint64_t *size, struct buf *err)
{
	char key[KEY_MAX];
	struct branches *b;
	bool refresh;
	int r;

	repo_key(key, sizeof(key), owner, repo);
	pthread_mutex_lock(&c->lock);
	b = slot(c, key);
	refresh = !b || !b->bundle_ms || !ch_fresh(c, b->bundle_ms);
	pthread_mutex_unlock(&c->lock);
	if (refresh)
		ch_count(c);
	r = forge_repo_bundle(c->opt.forge, owner, repo, refresh, deadline_ms, path, size, err);
	if (r == -EIO && refresh) {
		/* The forge failed: the mirror as it is serves a stale bundle, if it has one. */
		size_t mark = err ? err->len : 0;

		if (forge_repo_bundle(c->opt.forge, owner, repo, false, deadline_ms, path, size,
				      NULL) == 0) {
			err_cut(err, mark);
			return 0;
		}
	}
	if (r == 0 && refresh) {
		pthread_mutex_lock(&c->lock);
		if ((b = slot(c, key)))
			b->bundle_ms = ch_now(c);
		pthread_mutex_unlock(&c->lock);
	}
	return r;
}

void cache_forget_branches(struct cache *c, const char *owner, const char *repo)
{
	char key[KEY_MAX];
	struct branches *b;

	repo_key(key, sizeof(key), owner, repo);
	pthread_mutex_lock(&c->lock);
	b = map_get(&c->branches, key);
	if (b) {
		b->ms = 0;
		b->have = b->missing = false;
		forge_branch_list_release(&b->l);
		b->bundle_ms = 0;
	}
	pthread_mutex_unlock(&c->lock);
}
