/* Path resolution without a mount: what can exist, and what never asks the forge. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tree/tree.h"

static struct node resolve_ok(const char *path)
{
	struct node n;

	assert_int_equal(tree_resolve(path, &n), 0);
	return n;
}

static void test_root_and_top(void **s)
{
	(void)s;
	assert_int_equal(resolve_ok("/").kind, N_ROOT);
	assert_int_equal(resolve_ok("/forge").kind, N_FORGE);
	assert_int_equal(resolve_ok("/bottles").kind, N_BOTTLES);
	assert_int_equal(resolve_ok("/done").kind, N_DONE);
	assert_int_equal(resolve_ok("/.bottlefs").kind, N_META);
	assert_int_equal(resolve_ok("/.bottlefs/scope").mfile, M_SCOPE);
	assert_int_equal(resolve_ok("/.bottlefs/capabilities.json").mfile, M_CAPABILITIES);
	assert_int_equal(resolve_ok("/.bottlefs/log").mfile, M_LOG);
}

static void test_issue_files(void **s)
{
	struct node n = resolve_ok("/forge/alice/dotfiles/issues/12/body");

	(void)s;
	assert_int_equal(n.kind, N_ITEM_FILE);
	assert_string_equal(n.owner, "alice");
	assert_string_equal(n.repo, "dotfiles");
	assert_false(n.pull);
	assert_int_equal(n.number, 12);
	assert_int_equal(n.file, F_BODY);
	assert_int_equal(resolve_ok("/forge/alice/dotfiles/issues/12/issue.json").file,
			 F_ISSUE_JSON);
	assert_int_equal(resolve_ok("/forge/alice/dotfiles/issues/12/thread.md").file, F_THREAD);
	assert_int_equal(resolve_ok("/forge/alice/dotfiles/issues/12").kind, N_ITEM);
	assert_int_equal(resolve_ok("/forge/alice/dotfiles/issues").kind, N_LIST);
	assert_int_equal(resolve_ok("/forge/alice/dotfiles").kind, N_REPO);
	assert_int_equal(resolve_ok("/forge/alice").kind, N_OWNER);
}

static void test_pull_files(void **s)
{
	struct node n = resolve_ok("/forge/acme/widgets/pulls/7/diff");

	(void)s;
	assert_true(n.pull);
	assert_int_equal(n.file, F_DIFF);
	assert_int_equal(resolve_ok("/forge/acme/widgets/pulls/7/pr.json").file, F_PR_JSON);
	assert_int_equal(resolve_ok("/forge/acme/widgets/pulls/7/head").file, F_HEAD);
	assert_int_equal(resolve_ok("/forge/acme/widgets/pulls/new").kind, N_PULLS_NEW);
}

static void test_pull_only_files_absent_on_issues(void **s)
{
	struct node n;

	(void)s;
	assert_int_equal(tree_resolve("/forge/a/b/issues/1/diff", &n), -ENOENT);
	assert_int_equal(tree_resolve("/forge/a/b/issues/1/pr.json", &n), -ENOENT);
	assert_int_equal(tree_resolve("/forge/a/b/issues/new", &n), -ENOENT);
}

static void test_comments(void **s)
{
	struct node n = resolve_ok("/forge/a/b/issues/3/comments/991");

	(void)s;
	assert_int_equal(n.kind, N_COMMENT);
	assert_int_equal(n.comment, 991);
	assert_int_equal(resolve_ok("/forge/a/b/issues/3/comments/new").kind, N_COMMENT_NEW);
	assert_int_equal(resolve_ok("/forge/a/b/pulls/3/comments").kind, N_COMMENTS);
}

static void test_impossible_names(void **s)
{
	static const char *const bad[] = {
	    "/forge/../etc",
	    "/forge/a/b/issues/..",
	    "/forge/a/..",
	    "/forge/a/.",
	    "/forge/a/b/issues/abc",
	    "/forge/a/b/issues/-1",
	    "/forge/a/b/issues/+1",
	    "/forge/a/b/issues/012",
	    "/forge/a/b/issues/0",
	    "/forge/a/b/issues/1e3",
	    "/forge/a/b/issues/99999999999999999999",
	    "/forge/a/b/issues/9223372036854775808",
	    "/forge/a%2Fb/c",
	    "/forge/a/b%2Fc",
	    "/forge/a/b/issues/%2F",
	    "/forge/a\x01/b",
	    "/forge/a/b\x7f",
	    "/forge/-a/b",
	    "/forge/.a/b",
	    "/forge/a b/c",
	    "/forge/a/b/issues/1/comments/0",
	    "/forge/a/b/issues/1/comments/01",
	    "/forge/a/b/issues/1/comments/x",
	    "/forge/a/b/issues/1/body/x",
	    "/forge/a/b/issues/1/comments/1/x",
	    "/forge/a/b/wiki",
	    "/nope",
	    "/done/x",
	    "/.bottlefs/token",
	    "/bottles/../x",
	    "/bottles/.hidden",
	    "/bottles/a/b",
	    "/bottles/a/resolved.json/x",
	    "relative/path",
	};
	struct node n;
	size_t i;

	(void)s;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (tree_resolve(bad[i], &n) != -ENOENT)
			fail_msg("'%s' should be ENOENT", bad[i]);
	}
}

static void test_length_limits(void **s)
{
	char path[512], name[256];
	struct node n;

	(void)s;
	memset(name, 'a', sizeof(name));
	name[40] = '\0';
	snprintf(path, sizeof(path), "/forge/%s", name);
	assert_int_equal(tree_resolve(path, &n), 0);
	name[40] = 'a';
	name[41] = '\0';
	snprintf(path, sizeof(path), "/forge/%s", name);
	assert_int_equal(tree_resolve(path, &n), -ENOENT);
	memset(name, 'a', sizeof(name));
	name[100] = '\0';
	snprintf(path, sizeof(path), "/forge/o/%s", name);
	assert_int_equal(tree_resolve(path, &n), 0);
	name[100] = 'a';
	name[101] = '\0';
	snprintf(path, sizeof(path), "/forge/o/%s", name);
	assert_int_equal(tree_resolve(path, &n), -ENOENT);
	assert_int_equal(tree_resolve("/forge/o/r/issues/9223372036854775807", &n), 0);
	assert_int_equal(n.number, 9223372036854775807ULL);
}

static void test_repo_names(void **s)
{
	(void)s;
	assert_true(names_valid_repo(".profile", 8));
	assert_true(names_valid_repo("a.b-c_d", 7));
	assert_false(names_valid_repo("..", 2));
	assert_false(names_valid_repo(".", 1));
	/* Two dots in a row: no Gitea name, and the adapter would refuse it (EINVAL). */
	assert_false(names_valid_repo("a..b", 4));
	assert_false(names_valid_repo("...", 3));
	assert_false(names_valid_owner("a..b", 4));
	assert_true(names_valid_owner("a.b.c", 5));
	assert_false(names_valid_repo("a/b", 3));
	assert_true(names_valid_owner("acme", 4));
	assert_false(names_valid_owner(".acme", 5));
}

static void test_slashes_folded(void **s)
{
	struct node n = resolve_ok("//forge///a//b/issues/5/");

	(void)s;
	assert_int_equal(n.kind, N_ITEM);
	assert_int_equal(n.number, 5);
}

static void test_fixed_children(void **s)
{
	const char *const *names;
	struct node n = resolve_ok("/forge/a/b/pulls/1");
	int k, i, has_diff = 0, has_issue_json = 0;

	(void)s;
	k = tree_fixed_children(&n, &names);
	assert_true(k > 0);
	for (i = 0; i < k; i++) {
		has_diff |= strcmp(names[i], "diff") == 0;
		has_issue_json |= strcmp(names[i], "issue.json") == 0;
	}
	assert_true(has_diff);
	assert_false(has_issue_json);
	n = resolve_ok("/forge/a/b/issues");
	assert_int_equal(tree_fixed_children(&n, &names), -1);
	assert_true(tree_is_dir(&n));
	n = resolve_ok("/done");
	assert_false(tree_is_dir(&n));
}

static void test_bottles(void **s)
{
	struct node n = resolve_ok("/bottles/web-dev.v2/resolved.json");

	(void)s;
	assert_int_equal(n.kind, N_BOTTLE_FILE);
	assert_string_equal(n.bottle, "web-dev.v2");
	assert_int_equal(n.bfile, B_RESOLVED);
	assert_int_equal(resolve_ok("/bottles/x/error").bfile, B_ERROR);
	assert_int_equal(resolve_ok("/bottles/x/source").bfile, B_SOURCE);
}

/* Scratch files: any file name in an item directory that is not one of its own. */
static void test_scratch_names(void **s)
{
	char long_name[300];
	struct node n;

	(void)s;
	assert_int_equal(tree_resolve_scratch("/forge/a/b/issues/2/tmpXyz.1", &n), 0);
	assert_int_equal(n.kind, N_SCRATCH);
	assert_string_equal(n.name, "tmpXyz.1");
	assert_string_equal(n.owner, "a");
	assert_int_equal(n.number, 2);
	assert_false(n.pull);
	assert_int_equal(tree_resolve_scratch("/forge/a/b/pulls/3/.body.swp", &n), 0);
	assert_true(n.pull);
	/* A file name may hold what forge names may not. */
	assert_int_equal(tree_resolve_scratch("/forge/a/b/issues/2/new file \x1b", &n), 0);
	/* diff is an issue's scratch name, a pull request's own file. */
	assert_int_equal(tree_resolve_scratch("/forge/a/b/issues/2/diff", &n), 0);
	assert_int_equal(tree_resolve_scratch("/forge/a/b/pulls/2/diff", &n), -ENOENT);
	assert_int_equal(tree_resolve_scratch("/forge/a/b/issues/2/title", &n), -ENOENT);
	assert_int_equal(tree_resolve_scratch("/forge/a/b/issues/2/comments", &n), -ENOENT);
	assert_int_equal(tree_resolve_scratch("/forge/a/b/issues/2/comments/x", &n), -ENOENT);
	assert_int_equal(tree_resolve_scratch("/forge/a/b/issues/x", &n), -ENOENT);
	assert_int_equal(tree_resolve_scratch("/forge/a/b/pulls/new/x", &n), -ENOENT);
	assert_int_equal(tree_resolve_scratch("/forge/a/b/x", &n), -ENOENT);
	assert_int_equal(tree_resolve_scratch("/x", &n), -ENOENT);
	assert_int_equal(tree_resolve_scratch("/.bottlefs/x", &n), -ENOENT);
	assert_int_equal(tree_resolve_scratch("/forge/a/b/issues/2/..", &n), -ENOENT);
	assert_int_equal(tree_resolve_scratch("/forge/a/b/issues/2/.", &n), -ENOENT);
	assert_int_equal(tree_resolve_scratch("/forge/a/b/issues/2/", &n), -ENOENT);
	memset(long_name, 'x', sizeof(long_name));
	memcpy(long_name, "/forge/a/b/issues/2/", 20);
	long_name[20 + 255] = '\0';
	assert_int_equal(tree_resolve_scratch(long_name, &n), 0);
	long_name[20 + 255] = 'x';
	long_name[20 + 256] = '\0';
	assert_int_equal(tree_resolve_scratch(long_name, &n), -ENOENT);
}

static void test_node_path(void **s)
{
	struct buf b = BUF_INIT(0);
	struct node n, m;

	(void)s;
	n = resolve_ok("/forge/a/b/pulls/7/title");
	assert_int_equal(tree_node_path(&n, &b), 0);
	assert_string_equal(buf_cstr(&b), "/forge/a/b/pulls/7/title");
	buf_reset(&b);
	n = resolve_ok("/forge/a/b/issues/2/comments/new");
	assert_int_equal(tree_node_path(&n, &b), 0);
	assert_string_equal(buf_cstr(&b), "/forge/a/b/issues/2/comments/new");
	buf_reset(&b);
	n = resolve_ok("/done");
	assert_int_equal(tree_node_path(&n, &b), 0);
	assert_string_equal(buf_cstr(&b), "/done");
	buf_reset(&b);
	assert_int_equal(tree_resolve_scratch("/forge/a/b/issues/2/t", &n), 0);
	assert_int_equal(tree_node_path(&n, &b), 0);
	assert_string_equal(buf_cstr(&b), "/forge/a/b/issues/2/t");
	m = resolve_ok("/forge/a/b/issues/2/body");
	assert_true(tree_same_item(&n, &m));
	m = resolve_ok("/forge/a/b/pulls/2/body");
	assert_false(tree_same_item(&n, &m));
	n = resolve_ok("/forge/a/b");
	assert_int_equal(tree_node_path(&n, &b), -EINVAL);
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_root_and_top),
	    cmocka_unit_test(test_issue_files),
	    cmocka_unit_test(test_pull_files),
	    cmocka_unit_test(test_pull_only_files_absent_on_issues),
	    cmocka_unit_test(test_comments),
	    cmocka_unit_test(test_impossible_names),
	    cmocka_unit_test(test_length_limits),
	    cmocka_unit_test(test_repo_names),
	    cmocka_unit_test(test_slashes_folded),
	    cmocka_unit_test(test_fixed_children),
	    cmocka_unit_test(test_bottles),
	    cmocka_unit_test(test_scratch_names),
	    cmocka_unit_test(test_node_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
