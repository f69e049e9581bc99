/*
 * tree/path.c for branches/ and repo.bundle: which paths name a branch
 * (nested like refs/heads, git's .lock beside one), which cannot (names
 * git refuses: ENOENT before anything is asked), and the way back from a
 * node to its path; a repository lists branches/ and repo.bundle.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tree/tree.h"
#include "util/buf.h"

static void test_resolve(void **state)
{
	struct node n;
	char deep[600];
	size_t i;

	(void)state;
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/repo.bundle", &n), 0);
	assert_int_equal(n.kind, N_REPO_BUNDLE);
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/repo.bundle/x", &n), -ENOENT);
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches", &n), 0);
	assert_int_equal(n.kind, N_BRANCHES);
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches/main", &n), 0);
	assert_int_equal(n.kind, N_BRANCH);
	assert_string_equal(n.name, "main");
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches/bottle/12-fix/x", &n), 0);
	assert_string_equal(n.name, "bottle/12-fix/x");
	assert_string_equal(n.owner, "alice");
	assert_string_equal(n.repo, "dotfiles");
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches/bottle/12-fix.lock", &n), 0);
	assert_string_equal(n.name, "bottle/12-fix.lock");
	/* Names git refuses. */
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches/a..b", &n), -ENOENT);
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches/.hidden", &n), -ENOENT);
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches/a.lock/b", &n), -ENOENT);
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches/x.lock.lock", &n), -ENOENT);
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches/a b", &n), -ENOENT);
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches/HEAD", &n), -ENOENT);
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches/a:b", &n), -ENOENT);
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches/-x", &n), -ENOENT);
	/* Past TREE_NAME_MAX bytes. */
	for (i = 0; i + 2 < sizeof(deep); i += 2)
		memcpy(deep + i, "a/", 2);
	deep[i] = '\0';
	{
		char path[700];

		snprintf(path, sizeof(path), "/forge/alice/dotfiles/branches/%sz", deep);
		assert_int_equal(tree_resolve(path, &n), -ENOENT);
	}
}

static void test_path_round_trip(void **state)
{
	const char *paths[] = {"/forge/alice/dotfiles/branches/bottle/12-fix",
			       "/forge/alice/dotfiles/branches/bottle/12-fix.lock",
			       "/forge/alice/dotfiles/repo.bundle"};
	struct buf b = BUF_INIT(0);
	struct node n;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		buf_reset(&b);
		assert_int_equal(tree_resolve(paths[i], &n), 0);
		assert_int_equal(tree_node_path(&n, &b), 0);
		assert_string_equal(buf_cstr(&b), paths[i]);
	}
	buf_release(&b);
}

static void test_repository_lists_them(void **state)
{
	const char *const *names;
	struct node n;
	int count, i, found = 0;

	(void)state;
	assert_int_equal(tree_resolve("/forge/alice/dotfiles", &n), 0);
	count = tree_fixed_children(&n, &names);
	for (i = 0; i < count; i++)
		found += strcmp(names[i], "branches") == 0 || strcmp(names[i], "repo.bundle") == 0;
	assert_int_equal(found, 2);
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/branches", &n), 0);
	assert_true(tree_is_dir(&n));
	assert_int_equal(tree_resolve("/forge/alice/dotfiles/repo.bundle", &n), 0);
	assert_false(tree_is_dir(&n));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_resolve),
	    cmocka_unit_test(test_path_round_trip),
	    cmocka_unit_test(test_repository_lists_them),
	};

	return cmocka_run_group_tests_name("tree_branches", tests, NULL, NULL);
}
