/*
 * Unit tests for state/state.h on PostgreSQL: the same contract as the
 * SQLite store (test_state.c), plus the lease and the signal queue, and a
 * database that is away. Needs a database: the URL of an empty one is the
 * first argument (tests/fleet.bats starts PostgreSQL and runs this); it is
 * not a meson test for that reason.
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

#include <cmocka.h>

#include "state/state.h"

static const char *url;

static struct state *open_pg(void)
{
	struct buf err = BUF_INIT(4096);
	struct state *st = NULL;
	int r = state_open_url(url, 3000, &st, &err);

	if (r < 0)
		fail_msg("state_open_url: %d %s", r, buf_cstr(&err));
	buf_release(&err);
	assert_true(state_shared(st));
	return st;
}

static void test_url_kinds(void **unused)
{
	(void)unused;
	assert_true(state_url_is_pg("postgresql://u@h/db"));
	assert_true(state_url_is_pg("postgres://h/db"));
	assert_false(state_url_is_pg("/tmp/x.db"));
	assert_false(state_url_is_pg("postgresql:/x"));
	assert_false(state_url_is_pg(NULL));
}

static void test_records_prs_done(void **unused)
{
	struct state *st = open_pg();
	uint64_t *v = NULL;
	size_t n = 0;
	char *text = NULL;

	(void)unused;
	assert_int_equal(state_record_upsert(st, "o", "r", 1, "{\"a\": 1}"), 0);
	assert_int_equal(state_record_upsert(st, "o", "r", 1, "{\"a\": 2}"), 0);
	assert_int_equal(state_record_get(st, "o", "r", 1, &text), 0);
	assert_string_equal(text, "{\"a\": 2}");
	free(text);
	assert_int_equal(state_record_upsert(st, "o", "r", 1, "{bad"), -EINVAL);
	assert_int_equal(state_record_delete(st, "o", "r", 1), 0);
	assert_int_equal(state_record_delete(st, "o", "r", 1), -ENOENT);
	assert_int_equal(state_record_get(st, "o", "r", 1, &text), -ENOENT);

	assert_int_equal(state_pr_add(st, "o", "r", 7, 12), 0);
	assert_int_equal(state_pr_add(st, "o", "r", 7, 12), 0);
	assert_int_equal(state_pr_add(st, "o", "r", 7, 9), 0);
	assert_int_equal(state_pr_list(st, "o", "r", 7, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0], 9);
	assert_int_equal(v[1], 12);
	free(v);
	assert_int_equal(state_pr_holders(st, "o", "r", 12, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0], 7);
	free(v);

	assert_int_equal(state_done_get(st, "o", "r", 7, &text), -ENOENT);
	assert_int_equal(state_done_put(st, "o", "r", 7, "success\n"), 0);
	assert_int_equal(state_done_get(st, "o", "r", 7, &text), 0);
	assert_string_equal(text, "success\n");
	free(text);
	/* The content cache stays on each machine. */
	assert_int_equal(state_cache_put(st, "k", "v", 1, 0, NULL), -ENOTSUP);
	state_free(st);
}

static int count_cb(void *ud, const struct journal_entry *e)
{
	(void)e;
	(*(int *)ud)++;
	return 0;
}

static void test_journal(void **unused)
{
	struct state *st = open_pg();
	struct journal_entry e = {0}, got;
	struct journal_entry *v = NULL;
	int64_t id, id2, by = -1;
	size_t n = 0;
	int walked = 0;

	(void)unused;
	e.kind = "comment";
	e.owner = "alice";
	e.repo = "dotfiles";
	e.number = 2;
	e.payload = "it's \"quoted\"\n\ttabbed";
	e.assign_owner = "alice";
	e.assign_repo = "dotfiles";
	e.assign_issue = 2;
	assert_int_equal(state_journal_add(st, &e, &id), 0);
	assert_int_equal(state_journal_get(st, id, &got), 0);
	assert_string_equal(got.payload, e.payload);
	assert_int_equal(got.status, JOURNAL_PENDING);
	assert_string_equal(got.assign_owner, "alice");
	assert_int_equal(got.assign_issue, 2);
	assert_false(got.has_floor);
	assert_null(got.field);
	state_journal_entry_release(&got);

	assert_int_equal(state_journal_set(st, id, JOURNAL_SENDING, NULL), 0);
	assert_int_equal(state_journal_unfinished(st, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, id);
	state_journal_list_free(v, n);

	assert_int_equal(state_journal_finish(st, id, JOURNAL_DONE, "comment 41", 41), 0);
	assert_int_equal(state_journal_set_floor(st, id, 40), 0);
	assert_int_equal(state_journal_get(st, id, &got), 0);
	assert_int_equal(got.status, JOURNAL_DONE);
	assert_int_equal(got.forge_id, 41);
	assert_true(got.has_floor);
	assert_int_equal(got.floor, 40);
	assert_string_equal(got.answer, "comment 41");
	state_journal_entry_release(&got);
	/* forge_id 0 keeps the one recorded. */
	assert_int_equal(state_journal_finish(st, id, JOURNAL_DONE, "again", 0), 0);
	assert_int_equal(state_journal_get(st, id, &got), 0);
	assert_int_equal(got.forge_id, 41);
	state_journal_entry_release(&got);

	assert_int_equal(state_journal_add(st, &e, &id2), 0);
	assert_int_equal(state_journal_claims(st, "comment", "alice", "dotfiles", 41, id2, &by), 1);
	assert_int_equal(by, id);
	assert_int_equal(state_journal_claims(st, "comment", "alice", "dotfiles", 41, id, &by), 0);
	assert_int_equal(state_journal_set(st, 999999, JOURNAL_DONE, NULL), -ENOENT);
	assert_int_equal(state_journal_get(st, 999999, &got), -ENOENT);
	assert_int_equal(state_journal_each(st, count_cb, &walked), 0);
	assert_int_equal(walked, 2);
	state_free(st);
}

static void test_lease(void **unused)
{
	struct state *a = open_pg(), *b = open_pg();
	char *other = NULL;
	int64_t left = 0;

	(void)unused;
	assert_int_equal(state_lease_take(a, "o", "r", 1, "daemon a", 30, &other, &left), 0);
	assert_true(left > 25000 && left <= 30000);
	/* Renewing one's own lease is taking it again. */
	assert_int_equal(state_lease_take(a, "o", "r", 1, "daemon a", 30, &other, &left), 0);
	assert_int_equal(state_lease_take(b, "o", "r", 1, "daemon b", 30, &other, &left), -EBUSY);
	assert_string_equal(other, "daemon a");
	free(other);
	other = NULL;
	assert_true(left > 25000);
	assert_int_equal(state_lease_check(a, "o", "r", 1, "daemon a", &left), 0);
	assert_true(left > 25000);
	assert_int_equal(state_lease_check(b, "o", "r", 1, "daemon b", &left), -ENOENT);
	/* Another assignment is another lease. */
	assert_int_equal(state_lease_take(b, "o", "r", 2, "daemon b", 30, NULL, NULL), 0);
	/* Released, it is free at once. */
	assert_int_equal(state_lease_release(a, "o", "r", 1, "daemon a"), 0);
	assert_int_equal(state_lease_take(b, "o", "r", 1, "daemon b", 1, NULL, NULL), 0);
	/* Expired (by the database's clock), anyone takes it. */
	{
		struct timespec ts = {1, 200000000};

		nanosleep(&ts, NULL);
	}
	assert_int_equal(state_lease_take(a, "o", "r", 1, "daemon a", 30, NULL, NULL), 0);
	assert_int_equal(state_lease_take(b, "o", "r", 1, "daemon b", 30, &other, NULL), -EBUSY);
	free(other);
	assert_int_equal(state_lease_take(a, "o", "r", 1, "", 30, NULL, NULL), -EINVAL);
	state_free(a);
	state_free(b);
}

static int list_cb(void *ud, int64_t id, const char *body)
{
	(void)id;
	(void)body;
	(*(int *)ud)++;
	return 0;
}

static void test_queue(void **unused)
{
	struct state *st = open_pg();
	char *body = NULL;
	int64_t id = 0, first = 0;
	int listed = 0;

	(void)unused;
	assert_int_equal(state_queue_take(st, &id, &body), -ENOENT);
	assert_int_equal(state_queue_wait(st, 200), -ETIMEDOUT);
	assert_int_equal(state_queue_push(st, "o", "r", 3, "{\"n\": 1}", &first), 0);
	assert_int_equal(state_queue_push(st, "o", "r", 3, "{\"n\": 2}", NULL), 0);
	assert_int_equal(state_queue_wait(st, 200), 0);
	assert_int_equal(state_queue_each(st, list_cb, &listed), 0);
	assert_int_equal(listed, 2);
	assert_int_equal(state_queue_take(st, &id, &body), 0);
	assert_int_equal(id, first);
	assert_string_equal(body, "{\"n\": 1}");
	free(body);
	assert_int_equal(state_queue_take(st, &id, &body), 0);
	free(body);
	assert_int_equal(state_queue_take(st, &id, &body), -ENOENT);
	assert_int_equal(state_queue_push(st, "", "r", 3, "{}", NULL), -EINVAL);
	state_free(st);
}

/* A server that is not there: -EIO with the reason, soon, never a hang. */
static void test_away(void **unused)
{
	struct buf err = BUF_INIT(4096);
	struct state *st = NULL;
	time_t t0 = time(NULL);

	(void)unused;
	assert_int_equal(
	    state_open_url("postgresql://nobody@/x?host=/nonexistent&port=1", 2000, &st, &err),
	    -EIO);
	assert_null(st);
	assert_non_null(strstr(buf_cstr(&err), "cannot connect to the state database"));
	assert_true(time(NULL) - t0 < 10);
	buf_release(&err);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url_kinds), cmocka_unit_test(test_records_prs_done),
	    cmocka_unit_test(test_journal),   cmocka_unit_test(test_lease),
	    cmocka_unit_test(test_queue),     cmocka_unit_test(test_away),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_state_pg URL (of an empty database)\n");
		return 2;
	}
	url = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
