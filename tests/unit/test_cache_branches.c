/*
 * cache/branches.c: a repository's branches and repo.bundle through the
 * cache, against a fake forge with a fake clock: the list is asked once
 * per TTL, served stale while the forge fails, -ENOENT remembered,
 * forgotten after a push; repo.bundle updates its mirror at most once per
 * TTL and falls back to the mirror as it is when the forge fails; an
 * adapter without the operations is -ENOTSUP.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cache/cache.h"
#include "forge/forge.h"
#include "util/buf.h"

#define TTL 1000

struct fake {
	struct forge base;
	int fail;	    /* every request answers -fail when set */
	unsigned lists;	    /* list_branches calls */
	unsigned refreshes; /* repo_bundle calls with refresh */
	unsigned bundles;   /* repo_bundle calls */
	const char *tip;    /* main's commit */
	int64_t clock;
};

static int fake_list_branches(struct forge *f, const char *owner, const char *repo,
			      struct forge_branch_list *out, struct buf *err)
{
	struct fake *fk = (struct fake *)f;

	fk->lists++;
	if (fk->fail)
		return buf_fail(err, -fk->fail, "the fake forge fails");
	if (strcmp(repo, "gone") == 0)
		return buf_fail(err, -ENOENT, "no repository %s/%s", owner, repo);
	out->n = 1;
	out->v = calloc(1, sizeof(*out->v));
	assert_non_null(out->v);
	out->v[0].name = strdup("main");
	snprintf(out->v[0].commit, sizeof(out->v[0].commit), "%s", fk->tip);
	return 0;
}

static int fake_repo_bundle(struct forge *f, const char *owner, const char *repo, bool refresh,
			    uint64_t deadline_ms, char **path, uint64_t *size, struct buf *err)
{
	struct fake *fk = (struct fake *)f;

	(void)owner;
	(void)repo;
	(void)deadline_ms;
	fk->bundles++;
	if (refresh) {
		fk->refreshes++;
		if (fk->fail)
			return buf_fail(err, -fk->fail, "the fake forge fails");
	}
	*path = strdup("/mirror/repo.bundle");
	*size = 123;
	return 0;
}

static void fake_capabilities(struct forge *f, struct forge_capabilities *out)
{
	(void)f;
	memset(out, 0, sizeof(*out));
	out->name = "fake";
}

static const struct forge_ops fake_ops = {
    .capabilities = fake_capabilities,
    .list_branches = fake_list_branches,
    .repo_bundle = fake_repo_bundle,
};
static const struct forge_ops bare_ops = {
    .capabilities = fake_capabilities,
};

static int64_t fake_now(void *ud)
{
	return ((struct fake *)ud)->clock;
}

static struct cache *cache_of(struct fake *fk)
{
	struct cache_options o = {0};
	struct cache *c = NULL;

	o.forge = &fk->base;
	o.ttl_ms = TTL;
	o.now_ms = fake_now;
	o.now_ud = fk;
	assert_int_equal(cache_new(&o, &c), 0);
	return c;
}

static const char *tip_of(struct cache *c, const char *repo, int *r)
{
	static char tip[FORGE_OID_MAX + 1];
	struct forge_branch_list l = {NULL, 0};
	struct buf err = BUF_INIT(1024);

	tip[0] = '\0';
	*r = cache_list_branches(c, "alice", repo, &l, &err);
	if (*r == 0) {
		assert_int_equal(l.n, 1);
		assert_string_equal(l.v[0].name, "main");
		snprintf(tip, sizeof(tip), "%s", l.v[0].commit);
	}
	forge_branch_list_release(&l);
	buf_release(&err);
	return tip;
}

#define OID1 "1111111111111111111111111111111111111111"
#define OID2 "2222222222222222222222222222222222222222"

static void test_list_cached_for_ttl(void **state)
{
	struct fake fk = {.base.ops = &fake_ops, .tip = OID1, .clock = 1};
	struct cache *c = cache_of(&fk);
	int r;

	(void)state;
	assert_string_equal(tip_of(c, "r", &r), OID1);
	assert_int_equal(r, 0);
	fk.tip = OID2;
	fk.clock += TTL / 2;
	assert_string_equal(tip_of(c, "r", &r), OID1); /* cached */
	assert_int_equal(fk.lists, 1);
	assert_int_equal(cache_list_branches(c, "alice", "r", NULL, NULL), 0);
	assert_int_equal(fk.lists, 1);
	fk.clock += TTL;
	assert_string_equal(tip_of(c, "r", &r), OID2); /* expired: asked again */
	assert_int_equal(fk.lists, 2);
	cache_free(c);
}

static void test_list_forgotten_after_push(void **state)
{
	struct fake fk = {.base.ops = &fake_ops, .tip = OID1, .clock = 1};
	struct cache *c = cache_of(&fk);
	int r;

	(void)state;
	assert_string_equal(tip_of(c, "r", &r), OID1);
	fk.tip = OID2;
	cache_forget_branches(c, "alice", "r");
	assert_string_equal(tip_of(c, "r", &r), OID2);
	assert_int_equal(fk.lists, 2);
	cache_free(c);
}

static void test_list_stale_and_missing(void **state)
{
	struct fake fk = {.base.ops = &fake_ops, .tip = OID1, .clock = 1};
	struct cache *c = cache_of(&fk);
	struct buf err = BUF_INIT(1024);
	int r;

	(void)state;
	/* Nothing cached and the forge fails: -EIO with the reason. */
	fk.fail = EIO;
	assert_int_equal(cache_list_branches(c, "alice", "r", NULL, &err), -EIO);
	assert_non_null(strstr(buf_cstr(&err), "fails"));
	fk.fail = 0;
	fk.clock += 2 * CACHE_FAILED_BACKOFF_MS;
	assert_string_equal(tip_of(c, "r", &r), OID1);
	/* Cached, expired, the forge fails: the old list, stale. */
	fk.fail = EIO;
	fk.clock += 2 * TTL;
	assert_string_equal(tip_of(c, "r", &r), OID1);
	assert_int_equal(r, 0);
	/* A repository that does not exist: -ENOENT, remembered for the TTL. */
	fk.fail = 0;
	assert_int_equal(cache_list_branches(c, "alice", "gone", NULL, NULL), -ENOENT);
	r = (int)fk.lists;
	assert_int_equal(cache_list_branches(c, "alice", "gone", NULL, NULL), -ENOENT);
	assert_int_equal(fk.lists, (unsigned)r);
	buf_release(&err);
	cache_free(c);
}

static void test_bundle_refresh_once_per_ttl(void **state)
{
	struct fake fk = {.base.ops = &fake_ops, .tip = OID1, .clock = 1};
	struct cache *c = cache_of(&fk);
	char *path = NULL;
	uint64_t size = 0;

	(void)state;
	assert_int_equal(cache_repo_bundle(c, "alice", "r", 0, &path, &size, NULL), 0);
	assert_string_equal(path, "/mirror/repo.bundle");
	assert_int_equal(size, 123);
	free(path);
	assert_int_equal(cache_repo_bundle(c, "alice", "r", 0, &path, &size, NULL), 0);
	free(path);
	assert_int_equal(fk.refreshes, 1);
	assert_int_equal(fk.bundles, 2);
	fk.clock += TTL;
	/* Expired and the forge fails: the mirror as it is. */
	fk.fail = EIO;
	assert_int_equal(cache_repo_bundle(c, "alice", "r", 0, &path, &size, NULL), 0);
	free(path);
	assert_int_equal(fk.refreshes, 2);
	fk.fail = 0;
	cache_forget_branches(c, "alice", "r");
	assert_int_equal(cache_repo_bundle(c, "alice", "r", 0, &path, &size, NULL), 0);
	free(path);
	assert_int_equal(fk.refreshes, 3);
	cache_free(c);
}

static void test_adapter_without_branches(void **state)
{
	struct fake fk = {.base.ops = &bare_ops, .tip = OID1, .clock = 1};
	struct cache *c = cache_of(&fk);
	struct buf err = BUF_INIT(1024);
	char *path = NULL;
	uint64_t size;

	(void)state;
	assert_int_equal(cache_list_branches(c, "alice", "r", NULL, &err), -ENOTSUP);
	assert_int_equal(cache_repo_bundle(c, "alice", "r", 0, &path, &size, &err), -ENOTSUP);
	assert_null(path);
	buf_release(&err);
	cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_cached_for_ttl),
	    cmocka_unit_test(test_list_forgotten_after_push),
	    cmocka_unit_test(test_list_stale_and_missing),
	    cmocka_unit_test(test_bundle_refresh_once_per_ttl),
	    cmocka_unit_test(test_adapter_without_branches),
	};

	return cmocka_run_group_tests_name("cache_branches", tests, NULL, NULL);
}
