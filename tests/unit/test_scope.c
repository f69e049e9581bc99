/*
 * The scope policy (write/scope.c): what a mount may write, decided on
 * write targets, without a mount or a forge. Each rule of SEMANTICS.md
 * "Writes: read anywhere, write scoped" has a check that fails if the rule
 * is dropped: nothing without an assignment, only the assigned issue and
 * the pull requests opened for it, pulls/new only in the assigned
 * repository, /done until a signal stands, and every refusal says why.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "write/write.h"

static struct write_target field(const char *owner, const char *repo, bool pull, uint64_t number,
				 enum write_field f)
{
	struct write_target t = {.kind = WRITE_FIELD,
				 .owner = owner,
				 .repo = repo,
				 .pull = pull,
				 .number = number,
				 .field = f};

	return t;
}

static struct write_target comment(const char *owner, const char *repo, bool pull, uint64_t number)
{
	struct write_target t = {
	    .kind = WRITE_COMMENT, .owner = owner, .repo = repo, .pull = pull, .number = number};

	return t;
}

static struct write_target pulls_new(const char *owner, const char *repo)
{
	struct write_target t = {.kind = WRITE_PULL, .owner = owner, .repo = repo};

	return t;
}

static const struct write_target done = {.kind = WRITE_DONE};

/* Asserts scope_check's answer for t, and that a refusal's reason contains why. */
static void expect(struct scope *s, const struct write_target *t, int want, const char *why)
{
	struct buf err = BUF_INIT(4096);
	int r = scope_check(s, t, &err);

	if (r != want || (why && !strstr(buf_cstr(&err), why)))
		fail_msg("scope_check: %d '%s'; want %d '%s'", r, buf_cstr(&err), want,
			 why ? why : "");
	if (r == 0 && err.len)
		fail_msg("an accepted write gave a reason: '%s'", buf_cstr(&err));
	buf_release(&err);
}

static void test_unassigned_writes_nothing(void **state)
{
	struct scope s;
	struct write_target t[] = {field("alice", "dotfiles", false, 2, WRITE_TITLE),
				   comment("alice", "dotfiles", false, 2),
				   pulls_new("alice", "dotfiles"), done};
	size_t i;

	(void)state;
	scope_init(&s);
	for (i = 0; i < sizeof(t) / sizeof(*t); i++)
		expect(&s, &t[i], -EACCES, "read-only mount: no assignment (--assign)");
	assert_false(scope_item_writable(&s, "alice", "dotfiles", false, 2));
	scope_release(&s);
}

static void test_assign_parses_owner_repo_number(void **state)
{
	static const char *const bad[] = {
	    "alice/dotfiles",
	    "alice#2",
	    "/dotfiles#2",
	    "alice/#2",
	    "alice/dotfiles#",
	    "alice/dotfiles#0",
	    "alice/dotfiles#-1",
	    "alice/dotfiles#02",
	    "al ice/x#2",
	    "alice/dot..files#2",
	    "../x#2",
	    "alice/x#9223372036854775808",
	};
	struct buf err = BUF_INIT(4096);
	struct scope s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		scope_init(&s);
		buf_reset(&err);
		if (scope_assign(&s, bad[i], &err) != -EINVAL || s.assigned)
			fail_msg("--assign '%s' was accepted", bad[i]);
		assert_non_null(strstr(buf_cstr(&err), "--assign must be OWNER/REPO#N"));
		scope_release(&s);
	}
	scope_init(&s);
	assert_int_equal(scope_assign(&s, "alice/.profile#9223372036854775807", &err), 0);
	assert_true(s.assigned);
	assert_string_equal(s.owner, "alice");
	assert_string_equal(s.repo, ".profile");
	assert_int_equal(s.issue, 9223372036854775807ull);
	scope_release(&s);
	buf_release(&err);
}

static void test_only_the_assigned_issue(void **state)
{
	enum write_field f[] = {WRITE_TITLE, WRITE_BODY, WRITE_STATE, WRITE_LABELS};
	struct write_target t;
	struct scope s;
	size_t i;

	(void)state;
	scope_init(&s);
	assert_int_equal(scope_assign(&s, "alice/dotfiles#2", NULL), 0);
	for (i = 0; i < 4; i++) {
		t = field("alice", "dotfiles", false, 2, f[i]);
		expect(&s, &t, 0, NULL);
	}
	t = comment("alice", "dotfiles", false, 2);
	expect(&s, &t, 0, NULL);
	/* Another issue, the pull request of the same number, another repository or owner. */
	t = field("alice", "dotfiles", false, 3, WRITE_BODY);
	expect(&s, &t, -EACCES, "outside the assignment");
	t = field("alice", "dotfiles", true, 2, WRITE_BODY);
	expect(&s, &t, -EACCES, "outside the assignment");
	t = comment("alice", "other", false, 2);
	expect(&s, &t, -EACCES, "outside the assignment");
	t = comment("bob", "dotfiles", false, 2);
	expect(&s, &t, -EACCES, "outside the assignment");
	assert_true(scope_item_writable(&s, "alice", "dotfiles", false, 2));
	assert_false(scope_item_writable(&s, "alice", "dotfiles", true, 2));
	assert_false(scope_item_writable(&s, "alice", "dotfiles", false, 3));
	scope_release(&s);
}

static void test_pull_requests_opened_for_the_assignment(void **state)
{
	struct write_target t = field("alice", "dotfiles", true, 7, WRITE_TITLE);
	uint64_t *prs = NULL;
	size_t n = 0;
	struct scope s;

	(void)state;
	scope_init(&s);
	assert_int_equal(scope_assign(&s, "alice/dotfiles#2", NULL), 0);
	expect(&s, &t, -EACCES, "outside the assignment");
	assert_int_equal(scope_add_pr(&s, 7), 0);
	assert_int_equal(scope_add_pr(&s, 7), 0); /* idempotent */
	assert_int_equal(scope_add_pr(&s, 9), 0);
	expect(&s, &t, 0, NULL);
	t = comment("alice", "dotfiles", true, 9);
	expect(&s, &t, 0, NULL);
	/* The issue of that number is not the pull request. */
	t = field("alice", "dotfiles", false, 7, WRITE_TITLE);
	expect(&s, &t, -EACCES, "outside the assignment");
	/* Nor is a pull request of that number in another repository. */
	t = field("alice", "other", true, 7, WRITE_TITLE);
	expect(&s, &t, -EACCES, "outside the assignment");
	assert_int_equal(scope_prs(&s, &prs, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(prs[0], 7);
	assert_int_equal(prs[1], 9);
	free(prs);
	scope_release(&s);
}

static void test_pulls_new_only_in_the_assigned_repository(void **state)
{
	struct write_target t = pulls_new("alice", "dotfiles");
	struct scope s;

	(void)state;
	scope_init(&s);
	assert_int_equal(scope_assign(&s, "alice/dotfiles#2", NULL), 0);
	expect(&s, &t, 0, NULL);
	t = pulls_new("alice", "other");
	expect(&s, &t, -EACCES, "pull requests can only be opened in the assigned repository");
	t = pulls_new("mallory", "dotfiles");
	expect(&s, &t, -EACCES, "pull requests can only be opened in the assigned repository");
	scope_release(&s);
}

static void test_done_until_a_signal_stands(void **state)
{
	struct scope s;

	(void)state;
	scope_init(&s);
	assert_int_equal(scope_assign(&s, "alice/dotfiles#2", NULL), 0);
	assert_false(scope_is_done(&s));
	expect(&s, &done, 0, NULL);
	scope_set_done(&s);
	assert_true(scope_is_done(&s));
	expect(&s, &done, -EACCES, "a done signal already stands");
	scope_release(&s);
}

/* What is no write target keeps the reason the tree gives, or a plain one. */
static void test_no_target_says_why(void **state)
{
	struct write_target t = {.kind = WRITE_NONE,
				 .why_not = "only title, body, state, labels and comments/new are "
					    "writable"};
	struct scope s;

	(void)state;
	scope_init(&s);
	assert_int_equal(scope_assign(&s, "alice/dotfiles#2", NULL), 0);
	expect(&s, &t, -EACCES, "only title, body, state, labels and comments/new are writable");
	t.why_not = NULL;
	expect(&s, &t, -EACCES, "this part of the tree is read-only");
	/* A NULL err is fine. */
	assert_int_equal(scope_check(&s, &t, NULL), -EACCES);
	scope_release(&s);
}

struct adder {
	struct scope *s;
	uint64_t base;
};

static void *add_many(void *arg)
{
	struct adder *a = arg;
	uint64_t i;

	for (i = 0; i < 200; i++)
		if (scope_add_pr(a->s, a->base + i) != 0)
			return (void *)1;
	return NULL;
}

/* The PR set grows while the mount runs: many threads add and ask at once. */
static void test_prs_grow_from_many_threads(void **state)
{
	struct adder a[4];
	pthread_t t[4];
	uint64_t *prs = NULL;
	size_t n = 0, i;
	struct scope s;
	void *res;

	(void)state;
	scope_init(&s);
	assert_int_equal(scope_assign(&s, "alice/dotfiles#2", NULL), 0);
	for (i = 0; i < 4; i++) {
		/* Overlapping ranges: each number is kept once. */
		a[i].s = &s;
		a[i].base = 100 + 100 * i;
		assert_int_equal(pthread_create(&t[i], NULL, add_many, &a[i]), 0);
	}
	for (i = 0; i < 1000; i++)
		(void)scope_item_writable(&s, "alice", "dotfiles", true, 150);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &res), 0);
		assert_null(res);
	}
	assert_int_equal(scope_prs(&s, &prs, &n), 0);
	assert_int_equal(n, 500); /* 100..599 */
	free(prs);
	assert_true(scope_item_writable(&s, "alice", "dotfiles", true, 599));
	assert_false(scope_item_writable(&s, "alice", "dotfiles", true, 600));
	scope_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unassigned_writes_nothing),
	    cmocka_unit_test(test_assign_parses_owner_repo_number),
	    cmocka_unit_test(test_only_the_assigned_issue),
	    cmocka_unit_test(test_pull_requests_opened_for_the_assignment),
	    cmocka_unit_test(test_pulls_new_only_in_the_assigned_repository),
	    cmocka_unit_test(test_done_until_a_signal_stands),
	    cmocka_unit_test(test_no_target_says_why),
	    cmocka_unit_test(test_prs_grow_from_many_threads),
	};

	return cmocka_run_group_tests_name("scope", tests, NULL, NULL);
}
