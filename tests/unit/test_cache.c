/*
 * The forge cache (cache/cache.h, cache/lists.c, cache/store.h), read
 * through the tree as the daemon reads it, against a small fake forge with
 * a fake clock, counted per operation: a `since` request revalidates a
 * whole list after the TTL, comments come in bulk for a listed repository,
 * the state store makes a new cache warm, a failing forge is served stale,
 * and entries survive their JSON round trip.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "forge/forge.h"
#include "cache/store.h"
#include "tree/tree.h"
#include "cache/cache.h"
#include "reader.h"
#include "state/state.h"
#include "util/buf.h"

#define N 12 /* issues 1..N, no pulls; even numbers have two comments */
#define TTL 1000

struct fake {
	struct forge base; /* first: the cache sees a struct forge */
	struct forge_issue items[N + 1];
	struct forge_comment_list comments[N + 1];
	int fail; /* every request answers -fail when set */
	unsigned lists, since_lists, gets, comment_lists, repo_comment_lists, repo_lists;
	unsigned not_modified; /* list_issues_cond answered "not modified" */
	char last_since[64];
	int64_t clock;
};

static struct fake *fk_of(struct forge *f)
{
	return (struct fake *)f;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
	struct buf b = BUF_INIT(0);
	va_list ap;

	va_start(ap, fmt);
	assert_int_equal(buf_vprintf(&b, fmt, ap), 0);
	va_end(ap);
	return buf_steal(&b, NULL);
}

/* Sets item n's version (second s of a fixed minute) and title. */
static void fake_set(struct fake *fk, uint64_t n, int s, const char *title)
{
	struct forge_issue *is = &fk->items[n];

	free(is->title);
	free(is->updated_at);
	free(is->json);
	is->title = xprintf("%s", title);
	is->updated_at = xprintf("2024-05-01T10:00:%02dZ", s);
	is->json = xprintf("{\"number\":%llu}\n", (unsigned long long)n);
}

static int fake_list_issues(struct forge *f, const char *owner, const char *repo,
			    enum forge_kind kind, const char *since, struct forge_issue_list *out,
			    struct buf *err)
{
	struct fake *fk = fk_of(f);
	struct forge_issue_list l = {NULL, 0};
	uint64_t n;

	(void)owner;
	(void)err;
	fk->lists++;
	if (strcmp(repo, "nope") == 0)
		return -ENOENT; /* a repository that does not exist: Gitea's 404 */
	if (since) {
		fk->since_lists++;
		snprintf(fk->last_since, sizeof(fk->last_since), "%s", since);
	}
	if (fk->fail)
		return -fk->fail;
	l.v = calloc(N + 1, sizeof(*l.v));
	assert_non_null(l.v);
	for (n = N; kind == FORGE_ISSUES && n >= 1; n--) {
		/* RFC 3339 in one zone and format: strings compare as times. */
		if (since && strcmp(fk->items[n].updated_at, since) < 0)
			continue;
		assert_int_equal(forge_issue_copy(&l.v[l.n++], &fk->items[n]), 0);
	}
	*out = l;
	return 0;
}

static int fake_get_issue(struct forge *f, const char *owner, const char *repo, uint64_t number,
			  struct forge_issue *out, struct buf *err)
{
	struct fake *fk = fk_of(f);

	(void)owner;
	(void)repo;
	(void)err;
	fk->gets++;
	if (fk->fail)
		return buf_fail(err, -fk->fail, "fake forge fails");
	if (number < 1 || number > N)
		return -ENOENT;
	return forge_issue_copy(out, &fk->items[number]);
}

static int copy_comments(struct forge_comment_list *out, const struct forge_comment_list *src,
			 size_t *at)
{
	size_t i;

	for (i = 0; i < src->n; i++)
		assert_int_equal(forge_comment_copy(&out->v[(*at)++], &src->v[i]), 0);
	out->n = *at;
	return 0;
}

static int fake_list_comments(struct forge *f, const char *owner, const char *repo, uint64_t number,
			      struct forge_comment_list *out, struct buf *err)
{
	struct fake *fk = fk_of(f);
	size_t at = 0;

	(void)owner;
	(void)repo;
	(void)err;
	fk->comment_lists++;
	if (fk->fail)
		return -fk->fail;
	out->v = calloc(fk->comments[number].n + 1, sizeof(*out->v));
	assert_non_null(out->v);
	return copy_comments(out, &fk->comments[number], &at);
}

static int fake_list_repo_comments(struct forge *f, const char *owner, const char *repo,
				   const char *since, struct forge_comment_list *out,
				   struct buf *err)
{
	struct fake *fk = fk_of(f);
	size_t at = 0, n;

	(void)owner;
	(void)repo;
	(void)since;
	(void)err;
	fk->repo_comment_lists++;
	if (fk->fail)
		return -fk->fail;
	out->v = calloc(2 * N + 1, sizeof(*out->v));
	assert_non_null(out->v);
	for (n = 1; n <= N; n++)
		copy_comments(out, &fk->comments[n], &at);
	return 0;
}

/* Owners: "nobody" does not exist; everyone else has "dotfiles". */
static int fake_list_repos(struct forge *f, const char *owner, struct forge_name_list *out,
			   struct buf *err)
{
	struct fake *fk = fk_of(f);

	(void)err;
	fk->repo_lists++;
	if (strcmp(owner, "nobody") == 0)
		return -ENOENT;
	out->v = calloc(1, sizeof(*out->v));
	assert_non_null(out->v);
	out->v[0] = xprintf("dotfiles");
	out->n = 1;
	return 0;
}

static void fake_capabilities(struct forge *f, struct forge_capabilities *out)
{
	(void)f;
	memset(out, 0, sizeof(*out));
	out->name = "fake";
	out->max_page_size = 50;
}

/*
 * A forge with validators (like GitHub's ETag): a list's validator names
 * its request (since) and the newest version in the repository, so it
 * matches again exactly while nothing changed.
 */
static int fake_list_issues_cond(struct forge *f, const char *owner, const char *repo,
				 enum forge_kind kind, const char *since,
				 struct forge_validator *val, struct forge_issue_list *out,
				 struct buf *err)
{
	struct fake *fk = fk_of(f);
	const char *newest = "";
	char *etag;
	uint64_t n;
	int r;

	for (n = 1; n <= N; n++)
		if (strcmp(fk->items[n].updated_at, newest) > 0)
			newest = fk->items[n].updated_at;
	etag = xprintf("W/\"%d:%s:%s\"", (int)kind, since ? since : "-", newest);
	if (val->etag_in && strcmp(val->etag_in, etag) == 0 && !fk->fail) {
		fk->lists++;
		fk->since_lists += since != NULL;
		fk->not_modified++;
		val->not_modified = true;
		val->etag_out = etag;
		memset(out, 0, sizeof(*out));
		return 0;
	}
	r = fake_list_issues(f, owner, repo, kind, since, out, err);
	if (r == 0)
		val->etag_out = etag;
	else
		free(etag);
	return r;
}

static const struct forge_ops fake_ops = {
    .list_repos = fake_list_repos,
    .list_issues = fake_list_issues,
    .get_issue = fake_get_issue,
    .list_comments = fake_list_comments,
    .list_repo_comments = fake_list_repo_comments,
    .capabilities = fake_capabilities,
};

static const struct forge_ops fake_cond_ops = {
    .list_repos = fake_list_repos,
    .list_issues = fake_list_issues,
    .list_issues_cond = fake_list_issues_cond,
    .get_issue = fake_get_issue,
    .list_comments = fake_list_comments,
    .list_repo_comments = fake_list_repo_comments,
    .capabilities = fake_capabilities,
};

static struct fake *fake_new(void)
{
	struct fake *fk = calloc(1, sizeof(*fk));
	uint64_t n;
	size_t k;

	assert_non_null(fk);
	fk->base.ops = &fake_ops;
	for (n = 1; n <= N; n++) {
		struct forge_issue *is = &fk->items[n];
		struct forge_comment_list *cl = &fk->comments[n];

		is->number = n;
		is->body = xprintf("body of %llu\n", (unsigned long long)n);
		is->state = xprintf("open");
		is->author = xprintf("alice");
		is->labels = calloc(1, sizeof(*is->labels));
		is->n_comments = n % 2 ? 0 : 2;
		fake_set(fk, n, (int)n, "first");
		cl->v = calloc(2, sizeof(*cl->v));
		for (k = 0; k < is->n_comments; k++, cl->n++) {
			cl->v[k].id = n * 10 + k;
			cl->v[k].issue = n;
			cl->v[k].body = xprintf("comment %zu on %llu", k, (unsigned long long)n);
			cl->v[k].author = xprintf("bob");
			cl->v[k].created_at = xprintf("2024-05-01T09:00:00Z");
			cl->v[k].updated_at = xprintf("2024-05-01T09:00:00Z");
		}
	}
	return fk;
}

static void fake_free(struct fake *fk)
{
	uint64_t n;

	for (n = 1; n <= N; n++) {
		forge_issue_release(&fk->items[n]);
		forge_comment_list_release(&fk->comments[n]);
	}
	free(fk);
}

static int64_t fake_now(void *ud)
{
	return ((struct fake *)ud)->clock;
}

static struct reader *reader_for_max(struct fake *fk, struct state *st, size_t max_bytes)
{
	struct cache_options o = {0};
	struct reader *v = NULL;

	o.forge = &fk->base;
	o.ttl_ms = TTL;
	o.max_bytes = max_bytes;
	o.now_ms = fake_now;
	o.now_ud = fk;
	o.state = st;
	assert_int_equal(reader_new(&o, &v), 0);
	return v;
}

static struct reader *reader_for(struct fake *fk, struct state *st)
{
	return reader_for_max(fk, st, 0);
}

static int read_path(struct reader *v, const char *path, struct buf *out)
{
	struct node n;

	buf_reset(out);
	assert_int_equal(tree_resolve(path, &n), 0);
	return tree_read(v->tree, &n, out, NULL);
}

static int count_fill(void *ud, const char *name, const struct tree_attr *a)
{
	(void)name;
	(void)a;
	(*(int *)ud)++;
	return 0;
}

static int list_path(struct reader *v, const char *path)
{
	struct node n;
	int count = 0;

	assert_int_equal(tree_resolve(path, &n), 0);
	assert_int_equal(tree_list(v->tree, &n, count_fill, &count, NULL), 0);
	return count;
}

#define ISSUES "/forge/alice/dotfiles/issues"

static void test_since_revalidates_the_list(void **state)
{
	struct fake *fk = fake_new();
	struct reader *v = reader_for(fk, NULL);
	struct buf b = BUF_INIT(0);

	(void)state;
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(fk->lists, 1);
	assert_int_equal(fk->since_lists, 0);
	/* Item 3 changes; after the TTL one since request (the listing) tells. */
	fake_set(fk, 3, 40, "second");
	fk->clock += TTL + 1;
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(fk->lists, 2);
	assert_int_equal(fk->since_lists, 1);
	assert_int_equal(read_path(v, ISSUES "/3/title", &b), 0);
	assert_string_equal(buf_cstr(&b), "second\n");
	/* since = the newest updated_at seen (item 12, second 12) minus the skew. */
	assert_string_equal(fk->last_since, "2024-05-01T10:00:10Z");
	assert_int_equal(fk->gets, 0);
	/* Every other item is fresh again without a request. */
	assert_int_equal(read_path(v, ISSUES "/5/title", &b), 0);
	assert_string_equal(buf_cstr(&b), "first\n");
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(fk->lists, 2);
	assert_int_equal(fk->gets, 0);
	/* An expired item read on its own is one request for it alone. */
	fk->clock += TTL + 1;
	assert_int_equal(read_path(v, ISSUES "/5/title", &b), 0);
	assert_int_equal(fk->gets, 1);
	assert_int_equal(fk->lists, 2);
	/* The next since starts from the change just seen. */
	fk->clock += TTL + 1;
	assert_int_equal(list_path(v, ISSUES), N);
	assert_string_equal(fk->last_since, "2024-05-01T10:00:38Z");
	assert_int_equal(fk->since_lists, 2);
	buf_release(&b);
	reader_free(v);
	fake_free(fk);
}

static void test_validator_revalidates_for_nothing(void **state)
{
	char dir[] = "/tmp/test_cache_XXXXXX", *db;
	struct fake *fk = fake_new();
	struct state *st;
	struct reader *v;
	struct buf b = BUF_INIT(0);

	(void)state;
	fk->base.ops = &fake_cond_ops;
	assert_non_null(mkdtemp(dir));
	db = xprintf("%s/state.db", dir);
	assert_int_equal(state_open(db, &st, NULL), 0);
	v = reader_for(fk, st);
	assert_int_equal(list_path(v, ISSUES), N);
	/* The first since request has no validator of its own yet: a body. */
	fk->clock += TTL + 1;
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(fk->not_modified, 0);
	/* Nothing changed: the same since with its validator is "not modified". */
	fk->clock += TTL + 1;
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(fk->since_lists, 2);
	assert_int_equal(fk->not_modified, 1);
	assert_int_equal(cache_requests(v->cache), 3);
	assert_int_equal(cache_requests_not_modified(v->cache), 1);
	/* The items are fresh again without a request, and read as before. */
	assert_int_equal(read_path(v, ISSUES "/5/title", &b), 0);
	assert_string_equal(buf_cstr(&b), "first\n");
	assert_int_equal(fk->gets, 0);
	/* A change: the validator no longer matches, the answer brings it. */
	fake_set(fk, 3, 40, "second");
	fk->clock += TTL + 1;
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(fk->not_modified, 1);
	assert_int_equal(read_path(v, ISSUES "/3/title", &b), 0);
	assert_string_equal(buf_cstr(&b), "second\n");
	/* The change moved since: its first request has a body, the next not. */
	fk->clock += TTL + 1;
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(fk->not_modified, 1);
	fk->clock += TTL + 1;
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(fk->not_modified, 2);
	/* The validator is kept with the list across a restart. */
	assert_int_equal(cache_flush(v->cache, 5000), 0);
	reader_free(v);
	v = reader_for(fk, st);
	assert_int_equal(list_path(v, ISSUES), N); /* loaded from the store, fresh */
	assert_int_equal(fk->lists, 6);
	fk->clock += TTL + 1;
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(fk->not_modified, 3);
	assert_int_equal(cache_requests_not_modified(v->cache), 1);
	assert_int_equal(read_path(v, ISSUES "/3/title", &b), 0);
	assert_string_equal(buf_cstr(&b), "second\n");
	assert_int_equal(fk->gets, 0);
	reader_free(v);
	state_free(st);
	unlink(db);
	free(db);
	db = xprintf("rm -rf %s", dir);
	assert_int_equal(system(db), 0);
	free(db);
	buf_release(&b);
	fake_free(fk);
}

static void test_comments_in_bulk(void **state)
{
	struct fake *fk = fake_new();
	struct reader *v = reader_for(fk, NULL);
	struct buf b = BUF_INIT(0);
	char path[128];
	uint64_t n;

	(void)state;
	assert_int_equal(list_path(v, ISSUES), N);
	for (n = 1; n <= N; n++) {
		snprintf(path, sizeof(path), ISSUES "/%llu/thread.md", (unsigned long long)n);
		assert_int_equal(read_path(v, path, &b), 0);
		if (n % 2 == 0)
			assert_non_null(strstr(buf_cstr(&b), "comment 1 on"));
	}
	/* Six items have comments: one repository-wide list instead of six. */
	assert_int_equal(fk->repo_comment_lists, 1);
	assert_int_equal(fk->comment_lists, 0);
	assert_int_equal(fk->gets, 0);
	/* A single item of an unlisted repository asks for its own. */
	buf_release(&b);
	reader_free(v);
	v = reader_for(fk, NULL);
	assert_int_equal(read_path(v, ISSUES "/4/thread.md", &b), 0);
	assert_int_equal(fk->comment_lists, 1);
	assert_int_equal(fk->repo_comment_lists, 1);
	buf_release(&b);
	reader_free(v);
	fake_free(fk);
}

static void test_store_makes_a_new_view_warm(void **state)
{
	char dir[] = "/tmp/test_cache_XXXXXX", *db;
	struct fake *fk = fake_new();
	struct state *st;
	struct reader *v;
	struct buf b = BUF_INIT(0), want = BUF_INIT(0);
	unsigned before;

	(void)state;
	assert_non_null(mkdtemp(dir));
	db = xprintf("%s/state.db", dir);
	assert_int_equal(state_open(db, &st, NULL), 0);
	v = reader_for(fk, st);
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(read_path(v, ISSUES "/6/thread.md", &want), 0);
	assert_int_equal(cache_flush(v->cache, 5000), 0);
	reader_free(v);

	/* A new view (a restart): the item, its comments and the list are warm. */
	before = fk->lists + fk->gets + fk->comment_lists + fk->repo_comment_lists;
	v = reader_for(fk, st);
	assert_int_equal(read_path(v, ISSUES "/6/thread.md", &b), 0);
	assert_string_equal(buf_cstr(&b), buf_cstr(&want));
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(fk->lists + fk->gets + fk->comment_lists + fk->repo_comment_lists, before);
	/* A forgotten item (a write) does not come back after a restart. */
	cache_forget_item(v->cache, "alice", "dotfiles", (false) ? FORGE_PULLS : FORGE_ISSUES, 6);
	assert_int_equal(cache_flush(v->cache, 5000), 0);
	reader_free(v);
	v = reader_for(fk, st);
	assert_int_equal(read_path(v, ISSUES "/6/title", &b), 0);
	assert_int_equal(fk->gets, 1);
	reader_free(v);

	state_free(st);
	unlink(db);
	free(db);
	db = xprintf("%s/state.db-wal", dir);
	unlink(db);
	free(db);
	db = xprintf("%s/state.db-shm", dir);
	unlink(db);
	free(db);
	rmdir(dir);
	buf_release(&b);
	buf_release(&want);
	fake_free(fk);
}

static void test_stale_while_the_forge_fails(void **state)
{
	struct fake *fk = fake_new();
	struct reader *v = reader_for(fk, NULL);
	struct buf b = BUF_INIT(0);

	(void)state;
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(read_path(v, ISSUES "/2/thread.md", &b), 0);
	fk->fail = EIO;
	fk->clock += TTL + 1;
	assert_int_equal(read_path(v, ISSUES "/2/thread.md", &b), 0);
	assert_non_null(strstr(buf_cstr(&b), "comment 0 on 2"));
	assert_int_equal(list_path(v, ISSUES), N);
	/* Nothing cached: the failure shows. */
	assert_int_equal(read_path(v, "/forge/bob/other/issues/1/title", &b), -EIO);
	buf_release(&b);
	reader_free(v);
	fake_free(fk);
}

static int open_dir(struct reader *v, const char *path)
{
	struct node n;

	assert_int_equal(tree_resolve(path, &n), 0);
	return tree_open_dir(v->tree, &n, NULL);
}

static int64_t mtime_of(struct reader *v, const char *path)
{
	struct tree_attr a;
	struct node n;

	assert_int_equal(tree_resolve(path, &n), 0);
	assert_int_equal(tree_getattr(v->tree, &n, &a, NULL), 0);
	return a.mtime;
}

/*
 * A missing repository or owner is ENOENT when its directory is opened
 * (a readdir's ENOENT reads as an empty directory), asked for once per
 * TTL, and its items are absent without a request.
 */
static void test_missing_is_enoent_at_open_and_remembered(void **state)
{
	struct fake *fk = fake_new();
	struct reader *v = reader_for(fk, NULL);
	struct buf b = BUF_INIT(0);

	(void)state;
	assert_int_equal(open_dir(v, "/forge/alice/nope/issues"), -ENOENT);
	assert_int_equal(open_dir(v, "/forge/alice/nope/issues"), -ENOENT);
	assert_int_equal(fk->lists, 1);
	assert_int_equal(read_path(v, "/forge/alice/nope/issues/3/title", &b), -ENOENT);
	assert_int_equal(fk->gets, 0);
	assert_int_equal(open_dir(v, "/forge/nobody"), -ENOENT);
	assert_int_equal(open_dir(v, "/forge/nobody"), -ENOENT);
	assert_int_equal(fk->repo_lists, 1);
	/* After the TTL it is asked again (it may have been created). */
	fk->clock += TTL + 1;
	assert_int_equal(open_dir(v, "/forge/alice/nope/issues"), -ENOENT);
	assert_int_equal(fk->lists, 2);
	/* A directory that exists opens, and its listing costs nothing more. */
	assert_int_equal(open_dir(v, ISSUES), 0);
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(fk->lists, 3);
	assert_int_equal(open_dir(v, "/forge/alice"), 0);
	assert_int_equal(open_dir(v, ISSUES "/4/comments"), 0);
	assert_int_equal(open_dir(v, "/forge/alice/dotfiles"), 0);
	assert_int_equal(fk->gets, 0);
	buf_release(&b);
	reader_free(v);
	fake_free(fk);
}

/*
 * A failure with nothing cached is asked again at every call (the forge
 * may be back), but only the first in a backoff window has a reason to
 * log: a stat loop against a dead forge is one log line, not one a call.
 */
static void test_failure_with_nothing_cached_is_reported_once(void **state)
{
	struct fake *fk = fake_new();
	struct reader *v = reader_for(fk, NULL);
	struct buf err = BUF_INIT(1024), out = BUF_INIT(0);
	struct node n;
	int i;

	(void)state;
	fk->clock = 5000; /* a failure time of 0 means "never" */
	fk->fail = EIO;
	assert_int_equal(tree_resolve(ISSUES "/3/title", &n), 0);
	for (i = 0; i < 5; i++) {
		buf_reset(&err);
		assert_int_equal(tree_read(v->tree, &n, &out, &err), -EIO);
		assert_int_equal(err.len == 0, i > 0);
	}
	assert_int_equal(fk->gets, 5);
	/* After the backoff the failure is news again. */
	fk->clock += 10001;
	buf_reset(&err);
	assert_int_equal(tree_read(v->tree, &n, &out, &err), -EIO);
	assert_true(err.len > 0);
	/* A success ends it at once. */
	fk->fail = 0;
	assert_int_equal(tree_read(v->tree, &n, &out, NULL), 0);
	fk->fail = EIO;
	fk->clock += TTL + 1;
	buf_reset(&err);
	/* Cached now: served stale, nothing to report. */
	assert_int_equal(tree_read(v->tree, &n, &out, &err), 0);
	buf_release(&err);
	buf_release(&out);
	reader_free(v);
	fake_free(fk);
}

/* No directory shows 1970: the forge's newest time below it, or the view's start. */
static void test_directory_times(void **state)
{
	struct fake *fk = fake_new();
	struct reader *v;
	time_t before = time(NULL);
	int64_t newest = 1714557612; /* 2024-05-01T10:00:12Z, item 12 */

	(void)state;
	v = reader_for(fk, NULL);
	assert_true(mtime_of(v, "/") >= before);
	assert_true(mtime_of(v, ISSUES) >= before);
	assert_int_equal(list_path(v, ISSUES), N);
	assert_int_equal(mtime_of(v, ISSUES), newest);
	assert_int_equal(mtime_of(v, "/forge/alice/dotfiles"), newest);
	assert_int_equal(mtime_of(v, "/forge/alice"), newest);
	assert_true(mtime_of(v, "/forge/bob") >= before);
	assert_true(mtime_of(v, "/forge/alice/dotfiles/pulls/new") >= before);
	assert_true(mtime_of(v, "/forge") >= before);
	/* A comments/ directory's attributes cost no comment request. */
	assert_int_equal(mtime_of(v, ISSUES "/2/comments"), 1714557602);
	assert_int_equal(fk->comment_lists + fk->repo_comment_lists, 0);
	reader_free(v);
	fake_free(fk);
}

static void test_entries_round_trip(void **state)
{
	struct fake *fk = fake_new();
	struct buf j = BUF_INIT(0);
	struct cs_item it;
	uint64_t *numbers, in[] = {9, 4, 1};
	size_t n;
	char *since, *etag;

	(void)state;
	assert_int_equal(cs_item_dump(&fk->items[2], &fk->comments[2], "diff --git\n", true, &j),
			 0);
	assert_int_equal(cs_item_parse(buf_cstr(&j), &it), 0);
	assert_int_equal(it.issue.number, 2);
	assert_string_equal(it.issue.title, fk->items[2].title);
	assert_string_equal(it.issue.updated_at, fk->items[2].updated_at);
	assert_true(it.have_comments && it.stale);
	assert_int_equal(it.comments.n, 2);
	assert_string_equal(it.comments.v[1].body, "comment 1 on 2");
	assert_string_equal(it.diff, "diff --git\n");
	cs_item_release(&it);
	assert_int_equal(cs_item_parse("{\"number\":\"x\"}", &it), -EINVAL);
	assert_int_equal(cs_item_parse("not json", &it), -EINVAL);

	buf_reset(&j);
	assert_int_equal(cs_list_dump(in, 3, "2024-05-01T10:00:00Z", "W/\"e1\"", &j), 0);
	assert_int_equal(cs_list_parse(buf_cstr(&j), &numbers, &n, &since, &etag), 0);
	assert_int_equal(n, 3);
	assert_int_equal(numbers[0], 9);
	assert_string_equal(since, "2024-05-01T10:00:00Z");
	assert_string_equal(etag, "W/\"e1\"");
	free(numbers);
	free(since);
	free(etag);
	/* An entry stored before validators has none. */
	assert_int_equal(
	    cs_list_parse("{\"numbers\":[3],\"since\":null}", &numbers, &n, &since, &etag), 0);
	assert_null(etag);
	free(numbers);
	free(since);
	assert_int_equal(cs_list_parse("{\"numbers\":[0]}", &numbers, &n, &since, &etag), -EINVAL);
	buf_release(&j);
	fake_free(fk);
}

/* Gives every issue a body of size bytes. */
static void fake_big_bodies(struct fake *fk, size_t size)
{
	uint64_t n;

	for (n = 1; n <= N; n++) {
		free(fk->items[n].body);
		fk->items[n].body = malloc(size + 1);
		assert_non_null(fk->items[n].body);
		memset(fk->items[n].body, 'a' + (int)(n % 26), size);
		fk->items[n].body[size] = '\0';
	}
}

static void remove_db(char *dir)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	size_t i;

	for (i = 0; i < 3; i++) {
		char *p = xprintf("%s/state.db%s", dir, suffix[i]);

		unlink(p);
		free(p);
	}
	rmdir(dir);
}

/*
 * What an agent reads cannot grow the cache past its budget: the least
 * recently used items go, the most recent stay, and an evicted item comes
 * back from the state store without a request when there is one.
 */
static void test_memory_is_bounded(void **state)
{
	char dir[] = "/tmp/test_cache_XXXXXX", *db, path[128];
	struct fake *fk = fake_new();
	const size_t body = 16 << 10, max = 64 << 10;
	struct buf b = BUF_INIT(0);
	struct state *st;
	struct reader *v;
	unsigned gets;
	uint64_t n;

	(void)state;
	fake_big_bodies(fk, body);
	v = reader_for_max(fk, NULL, max);
	for (n = 1; n <= N; n++) {
		snprintf(path, sizeof(path), ISSUES "/%llu/body", (unsigned long long)n);
		assert_int_equal(read_path(v, path, &b), 0);
		assert_int_equal(b.len, body + 1); /* the body file ends with a newline */
		assert_true(cache_memory_used(v->cache) <= max);
	}
	/* 12 bodies of 16 KiB in a budget of 64 KiB: most were evicted. */
	assert_true(cache_evictions(v->cache) >= N - 4);
	assert_true(cache_memory_used(v->cache) >= body);
	/* The most recent is still there; the first is not: asked again. */
	gets = fk->gets;
	assert_int_equal(read_path(v, ISSUES "/12/body", &b), 0);
	assert_int_equal(fk->gets, gets);
	assert_int_equal(read_path(v, ISSUES "/1/body", &b), 0);
	assert_int_equal(b.len, body + 1); /* the body file ends with a newline */
	assert_int_equal(fk->gets, gets + 1);
	reader_free(v);

	/* With a store, an evicted item is loaded back, not asked for. */
	assert_non_null(mkdtemp(dir));
	db = xprintf("%s/state.db", dir);
	assert_int_equal(state_open(db, &st, NULL), 0);
	v = reader_for_max(fk, st, max);
	for (n = 1; n <= N; n++) {
		snprintf(path, sizeof(path), ISSUES "/%llu/body", (unsigned long long)n);
		assert_int_equal(read_path(v, path, &b), 0);
		/* Items the store has not written are kept: let it write. */
		assert_int_equal(cache_flush(v->cache, 5000), 0);
	}
	assert_true(cache_evictions(v->cache) >= N - 4);
	assert_true(cache_memory_used(v->cache) <= max + body + 4096);
	gets = fk->gets;
	assert_int_equal(read_path(v, ISSUES "/1/body", &b), 0);
	assert_int_equal(b.len, body + 1); /* the body file ends with a newline */
	assert_int_equal(b.data[0], 'a' + 1);
	assert_int_equal(fk->gets, gets);
	reader_free(v);
	state_free(st);
	free(db);
	remove_db(dir);
	buf_release(&b);
	fake_free(fk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_since_revalidates_the_list),
	    cmocka_unit_test(test_validator_revalidates_for_nothing),
	    cmocka_unit_test(test_comments_in_bulk),
	    cmocka_unit_test(test_store_makes_a_new_view_warm),
	    cmocka_unit_test(test_stale_while_the_forge_fails),
	    cmocka_unit_test(test_entries_round_trip),
	    cmocka_unit_test(test_missing_is_enoent_at_open_and_remembered),
	    cmocka_unit_test(test_directory_times),
	    cmocka_unit_test(test_failure_with_nothing_cached_is_reported_once),
	    cmocka_unit_test(test_memory_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
