/*
 * Unit tests of the GitHub adapter's pure parts: forge/github/decode.c on
 * answers captured from the GitHub double (tests/unit/github/NAME.json, see
 * tests/double/README.md), GitHub's Link header, the URL derivation of
 * github_derive_urls, and the rate-limit rule of the shared transport
 * (http_limit_decide) on a fake clock.
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

#include "forge/forge.h"
#include "forge/http.h"
#include "forge/github/decode.h"
#include "forge/github/github.h"

#define L(s) s, sizeof(s) - 1

/* A captured answer, tests/unit/github/<name>.json (new). */
static char *answer(const char *name, size_t *len)
{
	char path[4096];
	struct buf b = BUF_INIT(0);
	char chunk[4096];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/unit/github/%s.json", SOURCE_ROOT, name);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(buf_append(&b, chunk, n), 0);
	fclose(f);
	return buf_steal(&b, len);
}

static void test_issue(void **state)
{
	struct forge_issue it;
	size_t n;
	char *t = answer("issue", &n);

	(void)state;
	assert_int_equal(github_decode_issue(t, n, &it, NULL), 0);
	assert_int_equal(it.number, 1);
	assert_string_equal(it.title, "vim: colorscheme not loaded in tmux");
	assert_string_equal(it.state, "closed");
	assert_string_equal(it.author, "bob");
	assert_int_equal(it.n_labels, 1);
	assert_string_equal(it.labels[0], "bug");
	assert_int_equal(it.n_comments, 3);
	assert_string_equal(it.created_at, "2026-01-05T10:00:00Z");
	assert_string_equal(it.updated_at, "2026-01-07T16:20:00Z");
	assert_false(it.is_pull);
	assert_false(it.draft);
	assert_null(it.head);
	assert_non_null(strstr(it.body, "tmux"));
	assert_int_equal(it.json[strlen(it.json) - 1], '\n');
	forge_issue_release(&it);
	free(t);
}

/* A pull request through the issue endpoint: is_pull, merged from pull_request.merged_at. */
static void test_issue_of_pull(void **state)
{
	struct forge_issue it;
	size_t n;
	char *t = answer("issue_of_pull", &n);

	(void)state;
	assert_int_equal(github_decode_issue(t, n, &it, NULL), 0);
	assert_int_equal(it.number, 3);
	assert_true(it.is_pull);
	assert_false(it.merged);
	assert_false(it.draft);
	assert_int_equal(it.n_comments, 1);
	assert_null(it.head); /* the issue form has no head: get_pull has it */
	forge_issue_release(&it);
	free(t);
}

static void test_pull_merged(void **state)
{
	struct forge_issue it;
	size_t n;
	char *t = answer("pull_merged", &n), *id = NULL;

	(void)state;
	assert_int_equal(github_decode_pull(t, n, &it, NULL), 0);
	assert_int_equal(it.number, 4);
	assert_true(it.is_pull);
	assert_true(it.merged);
	assert_string_equal(it.state, "closed");
	assert_string_equal(it.head, "install-script");
	assert_string_equal(it.base, "main");
	assert_string_equal(it.author, "alice");
	assert_string_equal(it.body, "A small `install.sh` that symlinks everything.");
	forge_issue_release(&it);
	assert_int_equal(github_decode_node_id(t, n, &id, NULL), 0);
	assert_true(strncmp(id, "PR_", 3) == 0);
	free(id);
	free(t);
}

/* The issue list holds issues and pull requests; the adapter filters, the decoder marks. */
static void test_issue_list(void **state)
{
	struct forge_issue_list l;
	static const uint64_t want[] = {6, 5, 4, 3, 2, 1};
	static const bool pull[] = {false, false, true, true, false, false};
	size_t n, i;
	char *t = answer("issue_list", &n);

	(void)state;
	assert_int_equal(github_decode_issue_list(t, n, false, &l, NULL), 0);
	assert_int_equal(l.n, 6);
	for (i = 0; i < l.n; i++) {
		assert_int_equal(l.v[i].number, want[i]);
		assert_int_equal(l.v[i].is_pull, pull[i]);
	}
	/* #4 is merged: the list's pull_request.merged_at says so. */
	assert_true(l.v[2].merged);
	assert_false(l.v[3].merged);
	forge_issue_list_release(&l);
	free(t);
}

/* pull-request-simple: no merged key and no comments: merged from merged_at. */
static void test_pull_list(void **state)
{
	struct forge_issue_list l;
	size_t n;
	char *t = answer("pull_list", &n);

	(void)state;
	assert_int_equal(github_decode_issue_list(t, n, true, &l, NULL), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(l.v[0].number, 4);
	assert_true(l.v[0].merged);
	assert_string_equal(l.v[0].head, "install-script");
	assert_int_equal(l.v[1].number, 3);
	assert_false(l.v[1].merged);
	assert_string_equal(l.v[1].head, "bigger-history");
	assert_string_equal(l.v[1].base, "main");
	assert_int_equal(l.v[1].n_comments, 0);
	forge_issue_list_release(&l);
	free(t);
}

static void test_comments(void **state)
{
	struct forge_comment_list l;
	size_t n;
	char *t = answer("comments", &n), *rc;

	(void)state;
	assert_int_equal(github_decode_comment_list(t, n, 1, &l, NULL), 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.v[0].id, 1);
	assert_int_equal(l.v[0].issue, 1);
	assert_string_equal(l.v[1].author, "bob");
	assert_non_null(strstr(l.v[0].body, "TERM"));
	forge_comment_list_release(&l);
	free(t);
	/* Repository-wide: the number comes from issue_url. */
	rc = answer("repo_comments", &n);
	assert_int_equal(github_decode_comment_list(rc, n, 0, &l, NULL), 0);
	assert_int_equal(l.n, 5);
	assert_int_equal(l.v[0].issue, 1);
	assert_int_equal(l.v[3].issue, 2);
	assert_int_equal(l.v[4].issue, 3);
	forge_comment_list_release(&l);
	free(rc);
}

static void test_user_and_account(void **state)
{
	size_t n;
	char *t = answer("user", &n), *login = NULL;
	bool org = true;

	(void)state;
	assert_int_equal(github_decode_user(t, n, &login, NULL), 0);
	assert_string_equal(login, "alice");
	assert_int_equal(github_decode_account_is_org(t, n, &org, NULL), 0);
	assert_false(org);
	free(login);
	free(t);
	t = answer("org", &n);
	assert_int_equal(github_decode_account_is_org(t, n, &org, NULL), 0);
	assert_true(org);
	free(t);
}

static void test_errors(void **state)
{
	size_t n;
	char *t = answer("pull_exists_422", &n), *m;

	(void)state;
	assert_true(github_decode_pull_exists(t, n));
	m = github_decode_message(t, n);
	assert_string_equal(m, "A pull request already exists for alice:bigger-history.");
	free(m);
	free(t);
	t = answer("diff_406", &n);
	assert_false(github_decode_pull_exists(t, n));
	m = github_decode_message(t, n);
	assert_non_null(strstr(m, "the diff exceeded the maximum number of lines"));
	free(m);
	free(t);
	assert_false(github_decode_pull_exists(L("<html>")));
	assert_null(github_decode_message(L("{}")));
}

static void test_graphql(void **state)
{
	struct buf err = BUF_INIT(1024);
	bool d = false;
	size_t n;
	char *t = answer("graphql_draft", &n);

	(void)state;
	assert_int_equal(github_decode_draft_mutation(t, n, "convertPullRequestToDraft", &d, NULL),
			 0);
	assert_true(d);
	/* The answer of the other mutation does not answer this one. */
	assert_int_equal(
	    github_decode_draft_mutation(t, n, "markPullRequestReadyForReview", &d, NULL), -EIO);
	free(t);
	t = answer("graphql_ready", &n);
	assert_int_equal(
	    github_decode_draft_mutation(t, n, "markPullRequestReadyForReview", &d, NULL), 0);
	assert_false(d);
	free(t);
	t = answer("graphql_not_found", &n);
	assert_int_equal(github_decode_draft_mutation(t, n, "convertPullRequestToDraft", &d, &err),
			 -ENOENT);
	assert_non_null(strstr(buf_cstr(&err), "Could not resolve"));
	free(t);
	t = answer("graphql_closed", &n);
	assert_int_equal(github_decode_draft_mutation(t, n, "convertPullRequestToDraft", &d, NULL),
			 -EINVAL);
	free(t);
	assert_int_equal(github_decode_draft_mutation(L("{\"errors\":[{\"type\":\"FORBIDDEN\"}]}"),
						      "x", &d, NULL),
			 -EACCES);
	assert_int_equal(github_decode_draft_mutation(L("{\"errors\":[]}"), "x", &d, NULL), -EIO);
	assert_int_equal(github_decode_draft_mutation(L("[]"), "x", &d, NULL), -EIO);
	buf_release(&err);
}

/* What a broken or hostile server may send instead. */
static void test_decode_garbage(void **state)
{
	struct forge_issue it;
	struct forge_issue_list l;
	struct forge_comment c;
	struct buf err = BUF_INIT(1024);
	char *s;

	(void)state;
	assert_int_equal(github_decode_issue(L("<html>rate limited</html>"), &it, &err), -EIO);
	assert_non_null(strstr(buf_cstr(&err), "not json"));
	assert_int_equal(github_decode_issue(L(""), &it, NULL), -EIO);
	assert_int_equal(github_decode_issue(L("{\"number\":1,\"title\":\"t\"}"), &it, NULL), -EIO);
	assert_int_equal(
	    github_decode_issue(L("{\"number\":0,\"title\":\"t\",\"state\":\"open\"}"), &it, NULL),
	    -EIO);
	assert_int_equal(github_decode_issue(L("{\"number\":1,\"title\":\"t\",\"state\":\"open\","
					       "\"pull_request\":[]}"),
					     &it, NULL),
			 -EIO);
	assert_int_equal(github_decode_issue(L("{\"number\":1,\"title\":\"t\",\"state\":\"open\","
					       "\"pull_request\":{\"merged_at\":5}}"),
					     &it, NULL),
			 -EIO);
	assert_int_equal(github_decode_pull(L("{\"number\":1,\"title\":\"t\",\"state\":\"open\","
					      "\"draft\":\"yes\"}"),
					    &it, NULL),
			 -EIO);
	assert_int_equal(github_decode_issue_list(L("{}"), false, &l, NULL), -EIO);
	assert_int_equal(github_decode_issue_list(L("[1]"), false, &l, NULL), -EIO);
	assert_int_equal(github_decode_comment(L("{\"id\":\"1\"}"), 0, &c, NULL), -EIO);
	/* Bare label names, a null body and a null user are fine. */
	assert_int_equal(github_decode_issue(L("{\"number\":9,\"title\":\"t\",\"state\":\"open\","
					       "\"labels\":[\"bug\"],\"body\":null,\"user\":null}"),
					     &it, NULL),
			 0);
	assert_string_equal(it.labels[0], "bug");
	assert_string_equal(it.body, "");
	assert_string_equal(it.author, "");
	forge_issue_release(&it);
	/* More values than the bound: refused before jansson builds them. */
	s = malloc(2 * GITHUB_DECODE_MAX_VALUES + 3);
	assert_non_null(s);
	s[0] = '[';
	for (size_t i = 0; i < GITHUB_DECODE_MAX_VALUES + 1; i++) {
		s[1 + 2 * i] = '1';
		s[2 + 2 * i] = ',';
	}
	s[2 * GITHUB_DECODE_MAX_VALUES + 2] = ']';
	assert_int_equal(
	    github_decode_issue_list(s, 2 * GITHUB_DECODE_MAX_VALUES + 3, false, &l, NULL), -EIO);
	free(s);
	buf_release(&err);
}

static void test_number_from_url(void **state)
{
	(void)state;
	assert_int_equal(github_number_from_url("https://api.github.com/repos/a/b/issues/12"), 12);
	assert_int_equal(github_number_from_url("https://h/repos/issues/issues/issues/7"), 7);
	assert_int_equal(github_number_from_url("https://h/repos/a/b/pulls/3"), 3);
	assert_int_equal(github_number_from_url("https://h/repos/a/b/issues/x"), 0);
	assert_int_equal(github_number_from_url(NULL), 0);
}

/* ---- Link ---------------------------------------------------------- */

static int link(const char *s, struct github_links *l)
{
	return github_parse_link(s, strlen(s), l, NULL);
}

static void test_link_github_forms(void **state)
{
	struct github_links l;

	(void)state;
	/* What GitHub (and the double) send: /repositories/{id} URLs, ", " between. */
	assert_int_equal(
	    link("<https://api.github.com/repositories/1300192/issues?state=all&per_page=100"
		 "&page=2>; rel=\"next\", <https://api.github.com/repositories/1300192/issues?"
		 "state=all&per_page=100&page=34>; rel=\"last\"",
		 &l),
	    0);
	assert_int_equal(l.next, 2);
	assert_int_equal(l.last, 34);
	assert_int_equal(l.prev, 0);
	assert_int_equal(l.first, 0);
	/* The /repos/{o}/{r} form, page not the last parameter, all four relations. */
	assert_int_equal(
	    link("<https://api.github.com/repos/o/r/issues?page=3&per_page=100>; rel=\"prev\", "
		 "<https://api.github.com/repos/o/r/issues?page=5&per_page=100>; rel=\"next\", "
		 "<https://api.github.com/repos/o/r/issues?page=9&per_page=100>; rel=\"last\", "
		 "<https://api.github.com/repos/o/r/issues?page=1&per_page=100>; rel=\"first\"",
		 &l),
	    0);
	assert_int_equal(l.prev, 3);
	assert_int_equal(l.next, 5);
	assert_int_equal(l.last, 9);
	assert_int_equal(l.first, 1);
	/* Unquoted rel, several relations in one value, no space after ',', other params. */
	assert_int_equal(link("<http://h/x?since=2025-01-01T00%3A00%3A00Z&page=2>;rel=next;"
			      "title=\"a,b\",<http://h/x?page=2>; rel=\"next last\"",
			      &l),
			 0);
	assert_int_equal(l.next, 2);
	assert_int_equal(l.last, 2);
	/* The last page: only prev and first. */
	assert_int_equal(
	    link("<http://h/x?page=3>; rel=\"prev\", <http://h/x?page=1>; rel=\"first\"", &l), 0);
	assert_int_equal(l.next, 0);
	assert_int_equal(l.last, 0);
	assert_int_equal(l.prev, 3);
	/* No header: no relations. */
	assert_int_equal(github_parse_link("", 0, &l, NULL), 0);
	assert_int_equal(l.next, 0);
	/* Relations we do not use, without a page, are fine. */
	assert_int_equal(link("<http://h/doc>; rel=\"help\"", &l), 0);
}

static void test_link_garbage(void **state)
{
	static const char *const bad[] = {
	    "http://h/x?page=2; rel=\"next\"",		       /* no <> */
	    "<http://h/x?page=2; rel=\"next\"",		       /* unterminated < */
	    "<http://h/x?page=2> rel=\"next\"",		       /* no ; */
	    "<http://h/x?page=2>; rel=\"next",		       /* unterminated quote */
	    "<http://h/x>; rel=\"next\"",		       /* next without a page */
	    "<http://h/x?page=0>; rel=\"next\"",	       /* page 0 */
	    "<http://h/x?page=abc>; rel=\"last\"",	       /* not a number */
	    "<http://h/x?page=-1>; rel=\"last\"",	       /* negative */
	    "<http://h/x?page=99999999999>; rel=\"last\"",     /* past UINT32_MAX */
	    "<http://h/x?pages=2&xpage=3>; rel=\"next\"",      /* only look-alikes */
	    "<http://h/x?after=Y3Vyc29y>; rel=\"next\"",       /* a cursor, not a page */
	    "<http://h/x?page=2>; rel=\"next\", garbage",      /* trailing junk */
	    "<http://h/x?page=2>; rel=\"next\"; <http://h/y>", /* ; then < */
	};
	struct github_links l = {7, 7, 7, 7};
	struct buf err = BUF_INIT(1024);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_reset(&err);
		assert_int_equal(github_parse_link(bad[i], strlen(bad[i]), &l, &err), -EIO);
		assert_true(err.len > 0);
		/* Out-parameters are written only on success. */
		assert_int_equal(l.next, 7);
	}
	buf_release(&err);
}

/* ---- URL derivation ------------------------------------------------ */

static void expect_urls(const char *api, const char *git, const char *gql)
{
	char *g = NULL, *q = NULL;

	assert_int_equal(github_derive_urls(api, &g, &q, NULL), 0);
	assert_string_equal(g, git);
	assert_string_equal(q, gql);
	free(g);
	free(q);
}

static void test_derive_urls(void **state)
{
	char *g = (char *)"x", *q = (char *)"y";
	struct buf err = BUF_INIT(256);

	(void)state;
	expect_urls("https://api.github.com", "https://github.com",
		    "https://api.github.com/graphql");
	expect_urls("https://api.github.com/", "https://github.com",
		    "https://api.github.com/graphql");
	expect_urls("https://API.GitHub.com", "https://github.com",
		    "https://API.GitHub.com/graphql");
	expect_urls("https://ghe.example.com/api/v3", "https://ghe.example.com",
		    "https://ghe.example.com/api/graphql");
	expect_urls("https://ghe.example.com/api/v3/", "https://ghe.example.com",
		    "https://ghe.example.com/api/graphql");
	expect_urls("https://ghe.example.com:8443/api/v3", "https://ghe.example.com:8443",
		    "https://ghe.example.com:8443/api/graphql");
	expect_urls("https://ghe.example.com/prefix/api/v3", "https://ghe.example.com/prefix",
		    "https://ghe.example.com/prefix/api/graphql");
	/* Any other root: git and GraphQL beside it (the double). */
	expect_urls("http://127.0.0.1:8080", "http://127.0.0.1:8080",
		    "http://127.0.0.1:8080/graphql");
	expect_urls("http://proxy.local/github/", "http://proxy.local/github",
		    "http://proxy.local/github/graphql");
	/* A host that only looks like GitHub's is any other root. */
	expect_urls("https://api.github.com.evil.example", "https://api.github.com.evil.example",
		    "https://api.github.com.evil.example/graphql");
	/* Bad roots: refused, and the out-parameters untouched. */
	assert_int_equal(github_derive_urls("ftp://api.github.com", &g, &q, &err), -EINVAL);
	assert_int_equal(github_derive_urls("https://api.github.com/ x", &g, &q, &err), -EINVAL);
	assert_int_equal(github_derive_urls("https://", &g, &q, &err), -EINVAL);
	assert_int_equal(github_derive_urls("https:///api/v3", &g, &q, &err), -EINVAL);
	assert_int_equal(github_derive_urls(NULL, &g, &q, &err), -EINVAL);
	assert_string_equal(g, "x");
	assert_string_equal(q, "y");
	buf_release(&err);
}

/* ---- rate limits on a fake clock ----------------------------------- */

#define NOW_S 1700000000LL
#define NOW_MS 5000000ULL

static int decide(long status, int64_t remaining, int64_t reset, long retry_after, bool secondary,
		  uint64_t deadline_ms, uint64_t *until, struct buf *why)
{
	struct http_limit l = {status, remaining, reset, retry_after, secondary};

	return http_limit_decide(&l, NOW_S, NOW_MS, deadline_ms, until, why);
}

static void test_limit_decide(void **state)
{
	struct buf why = BUF_INIT(1024);
	uint64_t until = 0, ten_s = NOW_MS + 10000;

	(void)state;
	/* Not a refusal, or a refusal that is no rate limit (permissions): nothing to wait for. */
	assert_int_equal(decide(200, 0, NOW_S + 5, -1, false, ten_s, &until, &why), 0);
	assert_int_equal(decide(404, 0, NOW_S + 5, 3, true, ten_s, &until, &why), 0);
	assert_int_equal(decide(403, 4999, NOW_S + 5, -1, false, ten_s, &until, &why), 0);
	assert_int_equal(decide(403, -1, -1, -1, false, ten_s, &until, &why), 0);
	assert_int_equal(decide(429, -1, -1, -1, false, ten_s, &until, &why), 0);
	/* Primary limit, reset in 2 s, 10 s left: wait until just past the reset. */
	assert_int_equal(decide(403, 0, NOW_S + 2, -1, false, ten_s, &until, &why), 1);
	assert_true(until >= NOW_MS + 2000 && until < NOW_MS + 3000);
	assert_int_equal(decide(429, 0, NOW_S + 2, -1, false, ten_s, &until, &why), 1);
	/* A reset the forge's clock has passed already: a short wait only. */
	assert_int_equal(decide(403, 0, NOW_S - 30, -1, false, ten_s, &until, &why), 1);
	assert_true(until > NOW_MS && until < NOW_MS + 1000);
	/* Reset in an hour: fail at once, naming the reset time in UTC. */
	assert_int_equal(decide(403, 0, NOW_S + 3600, -1, false, ten_s, &until, &why), -EIO);
	assert_non_null(strstr(buf_cstr(&why), "rate limit exhausted until 2023-11-14T23:13:20Z"));
	assert_non_null(strstr(buf_cstr(&why), "in 3600 s"));
	/* Reset exactly at the deadline: no time left for the request itself. */
	buf_reset(&why);
	assert_int_equal(decide(403, 0, NOW_S + 10, -1, false, ten_s, &until, &why), -EIO);
	/* remaining 0 without a reset: nothing to wait for. */
	buf_reset(&why);
	assert_int_equal(decide(403, 0, -1, -1, false, ten_s, &until, &why), -EIO);
	assert_non_null(strstr(buf_cstr(&why), "no reset time"));
	/* Secondary limit with retry-after: wait it out when it fits, else fail. */
	assert_int_equal(decide(403, 4000, NOW_S + 3000, 3, true, ten_s, &until, &why), 1);
	assert_int_equal(until, NOW_MS + 3000);
	buf_reset(&why);
	assert_int_equal(decide(429, -1, -1, 60, false, ten_s, &until, &why), -EIO);
	assert_non_null(strstr(buf_cstr(&why), "retry after 60 s"));
	/* Secondary limit without retry-after: GitHub asks for a minute. */
	buf_reset(&why);
	assert_int_equal(decide(403, 4000, NOW_S + 3000, -1, true, ten_s, &until, &why), -EIO);
	assert_non_null(strstr(buf_cstr(&why), "secondary rate limited: retry after 60 s"));
	assert_int_equal(decide(403, 4000, NOW_S + 3000, -1, true, NOW_MS + 120000, &until, &why),
			 1);
	assert_int_equal(until, NOW_MS + 60000);
	/* Out-parameter untouched when failing. */
	until = 42;
	assert_int_equal(decide(403, 0, NOW_S + 3600, -1, false, ten_s, &until, NULL), -EIO);
	assert_int_equal(until, 42);
	buf_release(&why);
}

/* capabilities.json of the GitHub adapter: characters, and ADR-0018's fields. */
static void test_capabilities(void **state)
{
	struct github_options o = {.api_url = "http://127.0.0.1:9", .token = "t"};
	struct forge_capabilities c;
	struct forge *f = github_new(&o, NULL);
	char *s;

	(void)state;
	assert_non_null(f);
	f->ops->capabilities(f, &c);
	s = forge_capabilities_json(&c);
	assert_string_equal(s, "{\n"
			       "  \"name\": \"github\",\n"
			       "  \"max_description_len\": 65536,\n"
			       "  \"max_description_unit\": \"characters\",\n"
			       "  \"structured_metadata\": false,\n"
			       "  \"push_branch\": false,\n"
			       "  \"update_pr_status\": true,\n"
			       "  \"max_page_size\": 100,\n"
			       "  \"trajectory_linking\": false,\n"
			       "  \"agent_identity\": false,\n"
			       "  \"bounties\": false,\n"
			       "  \"conditional_reads\": true\n"
			       "}\n");
	free(s);
	forge_free(f);
	/* A bad root or a token that could inject a header: no adapter. */
	o.api_url = "gopher://x";
	assert_null(github_new(&o, NULL));
	o.api_url = "http://127.0.0.1:9";
	o.token = "t\r\nX-Evil: 1";
	assert_null(github_new(&o, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_issue),
	    cmocka_unit_test(test_issue_of_pull),
	    cmocka_unit_test(test_pull_merged),
	    cmocka_unit_test(test_issue_list),
	    cmocka_unit_test(test_pull_list),
	    cmocka_unit_test(test_comments),
	    cmocka_unit_test(test_user_and_account),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_graphql),
	    cmocka_unit_test(test_decode_garbage),
	    cmocka_unit_test(test_number_from_url),
	    cmocka_unit_test(test_link_github_forms),
	    cmocka_unit_test(test_link_garbage),
	    cmocka_unit_test(test_derive_urls),
	    cmocka_unit_test(test_limit_decide),
	    cmocka_unit_test(test_capabilities),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
