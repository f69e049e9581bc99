/*
 * The GitHub adapter end to end against the GitHub double
 * (tests/double/github_double.py), started by this program on port 0 and
 * stopped by its PID: paging and its request counts, pull requests kept
 * out of issues, conditional reads answered 304, 422 as EEXIST, the 406
 * diff, the draft mutations, rate limits, spaced writes, a 70 000-character
 * description, the User-Agent. And update_pr_status of the Gitea adapter
 * (its work-in-progress title prefix) against the Gitea double, the other
 * half of issue 11's pull request status.
 *
 * The double's request log (/_double/log) is what the counts are read
 * from; nothing here asserts on time.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "forge/branches.h"
#include "forge/forge.h"
#include "forge/gitea/gitea.h"
#include "forge/github/github.h"
#include "util/str.h"

extern char **environ;

#define TOKEN "tok-github-test-4f1c9a"

static char tmpdir[] = "/tmp/bfs-github-XXXXXX";
static pid_t double_pid = -1;
static char base_url[64];

/* ---- the double ------------------------------------------------------- */

static size_t on_data(char *p, size_t size, size_t nmemb, void *user)
{
	return buf_append(user, p, size * nmemb) == 0 ? size * nmemb : 0;
}

/* One request to the double (control API or REST); its status, the body in out (may be NULL). */
static long ctl(const char *method, const char *path, const char *json, struct buf *out)
{
	struct buf url = BUF_INIT(0), sink = BUF_INIT(0);
	struct curl_slist *h = NULL;
	CURL *c = curl_easy_init();
	long status = 0;

	assert_non_null(c);
	assert_int_equal(buf_printf(&url, "%s%s", base_url, path), 0);
	h = curl_slist_append(h, "User-Agent: test_github");
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Authorization: Bearer " TOKEN);
	curl_easy_setopt(c, CURLOPT_URL, url.data);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out ? out : &sink);
	if (json)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	buf_release(&url);
	buf_release(&sink);
	return status;
}

static void log_reset(void)
{
	assert_int_equal(ctl("POST", "/_double/log/reset", NULL, NULL), 200);
}

/*
 * Requests in the double's log with this method and path, and with this
 * status (0: any) and a query holding q (NULL: any).
 */
static size_t log_count(const char *method, const char *path, long status, const char *q)
{
	struct buf b = BUF_INIT(0);
	json_t *log, *e;
	size_t i, n = 0;

	assert_int_equal(ctl("GET", "/_double/log", NULL, &b), 200);
	log = json_loadb(b.data, b.len, 0, NULL);
	assert_non_null(log);
	json_array_foreach(log, i, e)
	{
		const char *m = json_string_value(json_object_get(e, "method"));
		const char *p = json_string_value(json_object_get(e, "path"));
		const char *qs = json_string_value(json_object_get(e, "query"));
		json_t *st = json_object_get(e, "status");

		if (m && p && strcmp(m, method) == 0 && strcmp(p, path) == 0 &&
		    (!status || json_integer_value(st) == status) && (!q || (qs && strstr(qs, q))))
			n++;
	}
	json_decref(log);
	buf_release(&b);
	return n;
}

/* Starts tests/double/<name> with the demo seed (and generate, may be NULL). */
static int start_double_named(const char *name, const char *generate)
{
	char port_file[256], token_file[256], log_file[256], seed[1024], script[1024];
	char *argv[] = {"python3",
			script,
			"--seed",
			seed,
			"--port",
			"0",
			"--port-file",
			port_file,
			"--token-file",
			token_file,
			generate ? "--generate" : NULL,
			(char *)generate,
			"--generate", /* with generate only: argv ends before it otherwise */
			"big/hundred:100:0:0",
			NULL};
	posix_spawn_file_actions_t fa;
	FILE *f;
	int i, port = 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	memcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX", 6);
	assert_non_null(mkdtemp(tmpdir));
	snprintf(port_file, sizeof(port_file), "%s/port", tmpdir);
	snprintf(token_file, sizeof(token_file), "%s/token", tmpdir);
	snprintf(log_file, sizeof(log_file), "%s/double.log", tmpdir);
	snprintf(seed, sizeof(seed), "%s/tests/double/seed/demo.json", SOURCE_ROOT);
	snprintf(script, sizeof(script), "%s/tests/double/%s", SOURCE_ROOT, name);
	f = fopen(token_file, "w");
	assert_non_null(f);
	fprintf(f, "%s alice\n", TOKEN);
	fclose(f);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, log_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	assert_int_equal(posix_spawnp(&double_pid, "python3", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	/* Bounded wait for the port, then for the double to answer. */
	for (i = 0; i < 300 && port == 0; i++) {
		f = fopen(port_file, "r");
		if (f) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port == 0)
			usleep(100 * 1000);
	}
	assert_true(port > 0);
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", port);
	for (i = 0; i < 300 && ctl("GET", "/_double/health", NULL, NULL) != 200; i++)
		usleep(100 * 1000);
	assert_int_equal(ctl("GET", "/_double/health", NULL, NULL), 200);
	return 0;
}

static int start_double(void **state)
{
	(void)state;
	return start_double_named("github_double.py", "big/many:250:60:1");
}

static int start_gitea_double(void **state)
{
	(void)state;
	return start_double_named("gitea_double.py", NULL);
}

static int stop_double(void **state)
{
	char cmd[512];
	int i, st;

	(void)state;
	if (double_pid > 0) {
		kill(double_pid, SIGTERM);
		for (i = 0; i < 100 && waitpid(double_pid, &st, WNOHANG) == 0; i++)
			usleep(100 * 1000);
		if (i == 100) {
			kill(double_pid, SIGKILL);
			waitpid(double_pid, &st, 0);
		}
	}
	double_pid = -1;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	curl_global_cleanup();
	return 0;
}

/* An adapter on the double (timeout_ms 0: 10 s). */
static struct forge *adapter(const char *token, unsigned timeout_ms, const char *ua)
{
	struct github_options o = {
	    .api_url = base_url, .token = token, .timeout_ms = timeout_ms, .user_agent = ua};
	struct buf err = BUF_INIT(1024);
	struct forge *f = github_new(&o, &err);

	if (!f)
		fail_msg("github_new: %s", buf_cstr(&err));
	buf_release(&err);
	return f;
}

static bool has_number(const struct forge_issue_list *l, uint64_t n)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].number == n)
			return true;
	return false;
}

/* ---- tests ------------------------------------------------------------ */

/* GitHub refuses a request without a User-Agent; the adapter always sends one. */
static void test_user_agent_and_whoami(void **state)
{
	struct forge *f = adapter(TOKEN, 0, NULL), *bad;
	struct buf err = BUF_INIT(1024);
	char *login = NULL;

	(void)state;
	log_reset();
	assert_int_equal(f->ops->whoami(f, &login, &err), 0);
	assert_string_equal(login, "alice");
	free(login);
	/* Kept: the second answer costs no request. */
	assert_int_equal(f->ops->whoami(f, &login, NULL), 0);
	free(login);
	assert_int_equal(log_count("GET", "/user", 200, NULL), 1);
	forge_free(f);
	/* The double's rule, shown: the same request without the header is refused. */
	bad = adapter(TOKEN, 0, "");
	assert_int_equal(bad->ops->whoami(bad, &login, &err), -EACCES);
	assert_int_equal(log_count("GET", "/user", 403, NULL), 1);
	forge_free(bad);
	/* A wrong token: EACCES, and the reason never holds it. */
	bad = adapter("tok-wrong-secret", 0, NULL);
	buf_reset(&err);
	assert_int_equal(bad->ops->whoami(bad, &login, &err), -EACCES);
	assert_null(strstr(buf_cstr(&err), "tok-wrong-secret"));
	assert_non_null(strstr(buf_cstr(&err), "Bad credentials"));
	forge_free(bad);
	buf_release(&err);
}

/*
 * 310 items (250 issues, 60 pull requests): the issue listing reads
 * pages 1 to 4 once each, ceil(310/100) requests, following GitHub's
 * /repositories/{id} Link URLs by their page numbers, and keeps the issues.
 */
static void test_paging_counts(void **state)
{
	struct forge *f = adapter(TOKEN, 0, NULL);
	struct forge_issue_list l;
	struct buf err = BUF_INIT(1024);
	size_t i;

	(void)state;
	log_reset();
	assert_int_equal(f->ops->list_issues(f, "big", "many", FORGE_ISSUES, NULL, &l, &err), 0);
	assert_int_equal(l.n, 250);
	for (i = 0; i < l.n; i++) {
		assert_false(l.v[i].is_pull);
		assert_true(i == 0 || l.v[i].number > l.v[i - 1].number);
	}
	assert_int_equal(log_count("GET", "/repos/big/many/issues", 0, NULL), 4);
	for (i = 1; i <= 4; i++) {
		char page[32];

		snprintf(page, sizeof(page), "per_page=100&page=%zu", i);
		assert_int_equal(log_count("GET", "/repos/big/many/issues", 200, page), 1);
	}
	/* Nothing was asked by the /repositories/{id} URLs the Link header named. */
	assert_int_equal(log_count("GET", "/repositories/4/issues", 0, NULL), 0);
	forge_issue_list_release(&l);

	/* Pull requests: head and base from /pulls, comment counts from the issue list. */
	log_reset();
	assert_int_equal(f->ops->list_issues(f, "big", "many", FORGE_PULLS, NULL, &l, &err), 0);
	assert_int_equal(l.n, 60);
	for (i = 0; i < l.n; i++) {
		assert_true(l.v[i].is_pull);
		assert_non_null(l.v[i].head);
		assert_true(strncmp(l.v[i].head, "gen-", 4) == 0);
		assert_string_equal(l.v[i].base, "main");
		assert_int_equal(l.v[i].n_comments, 1);
	}
	assert_int_equal(log_count("GET", "/repos/big/many/issues", 0, NULL), 4);
	assert_int_equal(log_count("GET", "/repos/big/many/pulls", 0, NULL), 1);
	forge_issue_list_release(&l);

	/* With since, the issue list's pull requests (head and base NULL: get_pull has them). */
	assert_int_equal(
	    f->ops->list_issues(f, "big", "many", FORGE_PULLS, "2000-01-01T00:00:00Z", &l, &err),
	    0);
	assert_int_equal(l.n, 60);
	assert_null(l.v[0].head);
	assert_int_equal(l.v[0].n_comments, 1);
	forge_issue_list_release(&l);
	forge_free(f);
	buf_release(&err);
}

static void test_pulls_are_not_issues(void **state)
{
	struct forge *f = adapter(TOKEN, 0, NULL);
	struct forge_issue_list l;
	struct forge_issue it;
	struct buf err = BUF_INIT(1024);

	(void)state;
	assert_int_equal(f->ops->list_issues(f, "alice", "dotfiles", FORGE_ISSUES, NULL, &l, &err),
			 0);
	assert_true(has_number(&l, 1) && has_number(&l, 2) && has_number(&l, 5) &&
		    has_number(&l, 6));
	assert_false(has_number(&l, 3) || has_number(&l, 4));
	forge_issue_list_release(&l);
	assert_int_equal(f->ops->get_issue(f, "alice", "dotfiles", 3, &it, &err), -ENOENT);
	assert_int_equal(f->ops->get_pull(f, "alice", "dotfiles", 1, &it, NULL), -ENOENT);
	assert_int_equal(f->ops->get_pull(f, "alice", "dotfiles", 3, &it, &err), 0);
	assert_string_equal(it.head, "bigger-history");
	assert_int_equal(it.n_comments, 1);
	assert_false(it.merged);
	forge_issue_release(&it);
	assert_int_equal(f->ops->get_pull(f, "alice", "dotfiles", 4, &it, &err), 0);
	assert_true(it.merged);
	forge_issue_release(&it);
	assert_int_equal(f->ops->get_issue(f, "alice", "nothere", 1, &it, NULL), -ENOENT);
	assert_int_equal(f->ops->get_issue(f, "alice", "..", 1, &it, NULL), -EINVAL);
	forge_free(f);
	buf_release(&err);
}

static void test_comments_and_repos(void **state)
{
	struct forge *f = adapter(TOKEN, 0, NULL);
	struct forge_comment_list cl;
	struct forge_name_list nl;
	struct buf err = BUF_INIT(1024);
	size_t i;
	bool widgets = false;

	(void)state;
	assert_int_equal(f->ops->list_comments(f, "alice", "dotfiles", 1, &cl, &err), 0);
	assert_int_equal(cl.n, 3);
	assert_int_equal(cl.v[2].issue, 1);
	forge_comment_list_release(&cl);
	assert_int_equal(f->ops->list_comments(f, "alice", "dotfiles", 999, &cl, NULL), -ENOENT);
	assert_int_equal(f->ops->list_repo_comments(f, "big", "many", NULL, &cl, &err), 0);
	assert_int_equal(cl.n, 310);
	for (i = 0; i < cl.n; i++)
		assert_true(cl.v[i].issue >= 1 && cl.v[i].issue <= 310);
	forge_comment_list_release(&cl);
	assert_int_equal(f->ops->list_repos(f, "acme", &nl, &err), 0);
	for (i = 0; i < nl.n; i++)
		widgets |= strcmp(nl.v[i], "widgets") == 0;
	assert_true(widgets);
	forge_name_list_release(&nl);
	assert_int_equal(f->ops->list_repos(f, "alice", &nl, &err), 0);
	assert_true(nl.n >= 2);
	forge_name_list_release(&nl);
	forge_free(f);
	buf_release(&err);
}

/* Core requests the double has counted against the signed-in bucket. */
static long core_used(void)
{
	struct buf b = BUF_INIT(0);
	json_t *j;
	long used;

	assert_int_equal(ctl("GET", "/_double/ratelimit", NULL, &b), 200);
	j = json_loadb(b.data, b.len, 0, NULL);
	assert_non_null(j);
	used = (long)json_integer_value(
	    json_object_get(json_object_get(json_object_get(j, "buckets"), "core"), "used"));
	json_decref(j);
	buf_release(&b);
	return used;
}

/*
 * Revalidation with the validator of the last answer: 304, "not
 * modified", nothing to decode and nothing counted against the limit; a
 * validator of another request is not sent; a change answers anew.
 */
static void test_conditional_reads(void **state)
{
	struct forge *f = adapter(TOKEN, 0, NULL);
	struct forge_validator v = {NULL, NULL, false}, w = {NULL, NULL, false};
	struct forge_issue_list l;
	struct forge_issue it;
	struct forge_comment_list cl;
	struct forge_comment c;
	struct buf err = BUF_INIT(1024), diff = BUF_INIT(0);
	long used;

	(void)state;
	log_reset();
	assert_int_equal(
	    forge_list_issues_cond(f, "alice", "website", FORGE_ISSUES, NULL, &v, &l, &err), 0);
	assert_non_null(v.etag_out);
	assert_false(v.not_modified);
	assert_true(l.n >= 2);
	forge_issue_list_release(&l);
	used = core_used();
	w.etag_in = v.etag_out;
	assert_int_equal(
	    forge_list_issues_cond(f, "alice", "website", FORGE_ISSUES, NULL, &w, &l, &err), 0);
	assert_true(w.not_modified);
	assert_int_equal(l.n, 0);
	assert_string_equal(w.etag_out, v.etag_out);
	assert_int_equal(core_used(), used); /* a 304 is free */
	assert_int_equal(log_count("GET", "/repos/alice/website/issues", 304, NULL), 1);
	forge_validator_release(&w);
	/* The same validator for the pull request listing of the same URL: not sent. */
	w.etag_in = v.etag_out;
	assert_int_equal(forge_list_issues_cond(f, "alice", "website", FORGE_PULLS,
						"2000-01-01T00:00:00Z", &w, &l, &err),
			 0);
	assert_false(w.not_modified);
	forge_issue_list_release(&l);
	forge_validator_release(&w);

	/* One issue: 304; the validator of #1 for #2 is not sent (a full answer). */
	forge_validator_release(&v);
	assert_int_equal(forge_get_issue_cond(f, "alice", "website", 1, &v, &it, &err), 0);
	assert_int_equal(it.number, 1);
	forge_issue_release(&it);
	w.etag_in = v.etag_out;
	assert_int_equal(forge_get_issue_cond(f, "alice", "website", 1, &w, &it, &err), 0);
	assert_true(w.not_modified);
	assert_null(it.title);
	forge_validator_release(&w);
	w.etag_in = v.etag_out;
	assert_int_equal(forge_get_issue_cond(f, "alice", "website", 2, &w, &it, &err), 0);
	assert_false(w.not_modified);
	assert_int_equal(it.number, 2);
	forge_issue_release(&it);
	forge_validator_release(&w);

	/* A change: the old validator no longer matches. */
	assert_int_equal(f->ops->post_comment(f, "alice", "website", 1, "a change", &c, &err), 0);
	forge_comment_release(&c);
	w.etag_in = v.etag_out;
	assert_int_equal(forge_get_issue_cond(f, "alice", "website", 1, &w, &it, &err), 0);
	assert_false(w.not_modified);
	assert_non_null(w.etag_out);
	assert_string_not_equal(w.etag_out, v.etag_out);
	forge_issue_release(&it);
	forge_validator_release(&w);
	forge_validator_release(&v);

	/* A pull request, its comments, its diff, the repository's comments since T. */
	assert_int_equal(forge_get_pull_cond(f, "alice", "dotfiles", 3, &v, &it, &err), 0);
	forge_issue_release(&it);
	w.etag_in = v.etag_out;
	assert_int_equal(forge_get_pull_cond(f, "alice", "dotfiles", 3, &w, &it, &err), 0);
	assert_true(w.not_modified);
	forge_validator_release(&w);
	forge_validator_release(&v);
	assert_int_equal(forge_list_comments_cond(f, "alice", "dotfiles", 1, &v, &cl, &err), 0);
	assert_int_equal(cl.n, 3);
	forge_comment_list_release(&cl);
	w.etag_in = v.etag_out;
	assert_int_equal(forge_list_comments_cond(f, "alice", "dotfiles", 1, &w, &cl, &err), 0);
	assert_true(w.not_modified);
	assert_int_equal(cl.n, 0);
	forge_validator_release(&w);
	forge_validator_release(&v);
	assert_int_equal(forge_get_diff_cond(f, "alice", "dotfiles", 3, &v, &diff, &err), 0);
	assert_non_null(strstr(buf_cstr(&diff), "diff --git"));
	buf_reset(&diff);
	w.etag_in = v.etag_out;
	assert_int_equal(forge_get_diff_cond(f, "alice", "dotfiles", 3, &w, &diff, &err), 0);
	assert_true(w.not_modified);
	assert_int_equal(diff.len, 0);
	forge_validator_release(&w);
	forge_validator_release(&v);
	assert_int_equal(forge_list_repo_comments_cond(f, "alice", "dotfiles",
						       "2000-01-01T00:00:00Z", &v, &cl, &err),
			 0);
	forge_comment_list_release(&cl);
	w.etag_in = v.etag_out;
	assert_int_equal(forge_list_repo_comments_cond(f, "alice", "dotfiles",
						       "2000-01-01T00:00:00Z", &w, &cl, &err),
			 0);
	assert_true(w.not_modified);
	forge_validator_release(&w);
	forge_validator_release(&v);
	assert_int_equal(log_count("GET", "/repos/alice/dotfiles/pulls/3", 304, NULL), 2);

	/* A list of several pages gives no validator: a 304 on page 1 would prove nothing. */
	assert_int_equal(forge_list_issues_cond(f, "big", "many", FORGE_ISSUES, NULL, &v, &l, &err),
			 0);
	assert_null(v.etag_out);
	forge_issue_list_release(&l);
	/* Nor does one full page: a 101st item would go to page 2 and leave page 1 as it is. */
	assert_int_equal(
	    forge_list_issues_cond(f, "big", "hundred", FORGE_ISSUES, NULL, &v, &l, &err), 0);
	assert_int_equal(l.n, 100);
	assert_null(v.etag_out);
	forge_issue_list_release(&l);
	assert_int_equal(log_count("GET", "/repos/big/hundred/issues", 200, NULL), 1);
	forge_free(f);
	buf_release(&err);
	buf_release(&diff);
}

struct reader {
	struct forge *f;
	int failures;
};

/* Reads of one adapter from many threads at once: every one answered. */
static void *read_many(void *arg)
{
	struct reader *rd = arg;
	struct forge_validator v = {NULL, NULL, false}, w = {NULL, NULL, false};
	struct forge_issue it;
	struct forge_comment_list cl;
	int i;

	for (i = 0; i < 5; i++) {
		if (rd->f->ops->get_issue(rd->f, "alice", "dotfiles", 1 + (uint64_t)(i % 2) * 4,
					  &it, NULL) != 0)
			rd->failures++;
		else
			forge_issue_release(&it);
		if (rd->f->ops->list_comments(rd->f, "alice", "dotfiles", 1, &cl, NULL) != 0 ||
		    cl.n != 3)
			rd->failures++;
		forge_comment_list_release(&cl);
		if (forge_get_pull_cond(rd->f, "alice", "dotfiles", 3, &v, &it, NULL) != 0)
			rd->failures++;
		forge_issue_release(&it);
		w.etag_in = v.etag_out;
		if (forge_get_pull_cond(rd->f, "alice", "dotfiles", 3, &w, &it, NULL) != 0 ||
		    !w.not_modified)
			rd->failures++;
		forge_validator_release(&w);
		forge_validator_release(&v);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct forge *f = adapter(TOKEN, 30000, NULL);
	struct reader rd[16];
	pthread_t t[16];
	int i;

	(void)state;
	for (i = 0; i < 16; i++) {
		rd[i].f = f;
		rd[i].failures = 0;
		assert_int_equal(pthread_create(&t[i], NULL, read_many, &rd[i]), 0);
	}
	for (i = 0; i < 16; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(rd[i].failures, 0);
	}
	forge_free(f);
}

/* An adapter without conditional reads: the plain read, no validator. */
static int plain_list(struct forge *f, const char *o, const char *r, enum forge_kind k,
		      const char *since, struct forge_issue_list *out, struct buf *err)
{
	(void)f;
	(void)o;
	(void)r;
	(void)k;
	(void)since;
	(void)err;
	out->v = NULL;
	out->n = 0;
	return 0;
}

static void test_cond_fallback(void **state)
{
	static const struct forge_ops ops = {.list_issues = plain_list};
	struct forge f = {&ops};
	struct forge_validator v = {"0123456789abcdef:W/\"x\"", (char *)"junk", true};
	struct forge_issue_list l;

	(void)state;
	assert_int_equal(forge_list_issues_cond(&f, "o", "r", FORGE_ISSUES, NULL, &v, &l, NULL), 0);
	assert_null(v.etag_out);
	assert_false(v.not_modified);
	assert_int_equal(forge_list_issues_cond(&f, "o", "r", FORGE_ISSUES, NULL, NULL, &l, NULL),
			 0);
}

struct floor_seen {
	int calls;
	uint64_t max;
	size_t posts_before; /* POST /pulls already logged when the callback ran */
};

static int on_floor(void *ud, uint64_t max)
{
	struct floor_seen *s = ud;

	s->calls++;
	s->max = max;
	s->posts_before = log_count("POST", "/repos/alice/dotfiles/pulls", 0, NULL);
	return 0;
}

/* A second pull request for the same head and base: 422 "already exists", EEXIST. */
static void test_create_pr_exists(void **state)
{
	struct forge *f = adapter(TOKEN, 0, NULL);
	struct forge_pr_request req = {"Again", "bigger-history", "main", "b", NULL, NULL, false};
	struct floor_seen seen = {0, 0, 0};
	struct buf err = BUF_INIT(1024);
	uint64_t n = 0;

	(void)state;
	log_reset();
	assert_int_equal(f->ops->create_pr(f, "alice", "dotfiles", &req, on_floor, &seen, &n, &err),
			 -EEXIST);
	assert_non_null(strstr(buf_cstr(&err), "already exists"));
	/* The floor was learnt and given before the POST was sent. */
	assert_int_equal(seen.calls, 1);
	assert_true(seen.max >= 6);
	assert_int_equal(seen.posts_before, 0);
	assert_int_equal(log_count("POST", "/repos/alice/dotfiles/pulls", 422, NULL), 1);
	/* A head that is no branch: EINVAL, not EEXIST. */
	req.head = "no-such-branch";
	assert_int_equal(f->ops->create_pr(f, "alice", "dotfiles", &req, NULL, NULL, &n, NULL),
			 -EINVAL);
	forge_free(f);
	buf_release(&err);
}

/* Characters in s[0..n) (lead bytes). */
static size_t chars(const char *s, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xc0) != 0x80;
	return k;
}

/*
 * The issue's case on the double: a 70 000-character summary of
 * multi-byte text opens a draft pull request whose body is at most 65 536
 * characters (more than 65 536 bytes) with the notice and the four
 * fields; then ready, draft, closed, draft refused, reopened.
 */
static void test_create_pr_70000_chars_and_drafts(void **state)
{
	static const char *const ch[] = {"a", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80"};
	struct forge *f = adapter(TOKEN, 30000, NULL);
	struct forge_receipt rc = {"sess-1", "policy-7", "sha256:abcd", true};
	struct forge_pr_request req = {"Vim plugins", "vim-plugins", "main", NULL, NULL, &rc, true};
	struct buf sum = BUF_INIT(0), err = BUF_INIT(1024), st = BUF_INIT(0), path = BUF_INIT(0);
	struct forge_issue it;
	json_t *j;
	const char *body;
	uint64_t n = 0;
	size_t i;

	(void)state;
	for (i = 0; i < 70000; i++)
		assert_int_equal(buf_puts(&sum, ch[i % 4]), 0);
	req.summary = buf_cstr(&sum);
	log_reset();
	assert_int_equal(f->ops->create_pr(f, "alice", "dotfiles", &req, NULL, NULL, &n, &err), 0);
	assert_true(n > 6);
	assert_int_equal(
	    buf_printf(&path, "/_double/state/alice/dotfiles/issues/%llu", (unsigned long long)n),
	    0);
	assert_int_equal(ctl("GET", path.data, NULL, &st), 200);
	j = json_loadb(st.data, st.len, 0, NULL);
	assert_non_null(j);
	body = json_string_value(json_object_get(j, "body"));
	assert_non_null(body);
	assert_true(chars(body, strlen(body)) <= 65536);
	assert_true(strlen(body) > 65536);
	assert_non_null(strstr(body, FORGE_TRUNCATION_NOTICE));
	assert_non_null(strstr(body, "session_id: sess-1\n"));
	assert_non_null(strstr(body, "policy_bundle_id: policy-7\n"));
	assert_non_null(strstr(body, "trajectory_hash: sha256:abcd\n"));
	assert_non_null(strstr(body, "verification_passed: true\n"));
	json_decref(j);

	/* Opened as a draft; ready through GraphQL; ready again sends no mutation. */
	assert_int_equal(f->ops->get_pull(f, "alice", "dotfiles", n, &it, &err), 0);
	assert_true(it.draft);
	forge_issue_release(&it);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", n, "ready", &err), 0);
	assert_int_equal(log_count("POST", "/graphql", 200, NULL), 1);
	assert_int_equal(f->ops->get_pull(f, "alice", "dotfiles", n, &it, &err), 0);
	assert_false(it.draft);
	assert_string_equal(it.state, "open");
	forge_issue_release(&it);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", n, "ready", &err), 0);
	assert_int_equal(log_count("POST", "/graphql", 0, NULL), 1);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", n, "draft", &err), 0);
	assert_int_equal(log_count("POST", "/graphql", 200, NULL), 2);
	assert_int_equal(f->ops->get_pull(f, "alice", "dotfiles", n, &it, &err), 0);
	assert_true(it.draft);
	forge_issue_release(&it);
	/* Closed: no draft any more; reopened, still a draft. */
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", n, "closed", &err), 0);
	buf_reset(&err);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", n, "ready", &err),
			 -EINVAL);
	assert_non_null(strstr(buf_cstr(&err), "closed"));
	assert_int_equal(log_count("POST", "/graphql", 0, NULL), 2);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", n, "open", &err), 0);
	assert_int_equal(f->ops->get_pull(f, "alice", "dotfiles", n, &it, &err), 0);
	assert_string_equal(it.state, "open");
	assert_true(it.draft);
	forge_issue_release(&it);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", n, "merged", NULL),
			 -EINVAL);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", 1, "draft", NULL),
			 -ENOENT);
	forge_free(f);
	buf_release(&sum);
	buf_release(&err);
	buf_release(&st);
	buf_release(&path);
}

/* A diff GitHub will not render (406) is EFBIG with GitHub's reason in one line. */
static void test_diff_406(void **state)
{
	struct forge *f = adapter(TOKEN, 0, NULL);
	struct buf d = BUF_INIT(0), err = BUF_INIT(1024);

	(void)state;
	assert_int_equal(ctl("POST", "/_double/diff-limit", "{\"lines\": 1}", NULL), 200);
	assert_int_equal(f->ops->get_diff(f, "alice", "dotfiles", 3, &d, &err), -EFBIG);
	assert_non_null(strstr(buf_cstr(&err), "github does not show this diff"));
	assert_non_null(strstr(buf_cstr(&err), "maximum number of lines (1)"));
	assert_null(strchr(buf_cstr(&err), '\n'));
	assert_int_equal(d.len, 0);
	assert_int_equal(ctl("POST", "/_double/diff-limit", "{\"lines\": 20000}", NULL), 200);
	assert_int_equal(f->ops->get_diff(f, "alice", "dotfiles", 3, &d, &err), 0);
	assert_non_null(strstr(buf_cstr(&d), "diff --git"));
	forge_free(f);
	buf_release(&d);
	buf_release(&err);
}

static void test_rate_limits(void **state)
{
	struct forge *f = adapter(TOKEN, 0, NULL);
	struct forge_issue it;
	struct forge_comment c;
	struct buf err = BUF_INIT(1024), st = BUF_INIT(0);
	json_t *j;
	size_t before;

	(void)state;
	/* Exhausted for an hour: EIO naming the reset, and then nothing is sent at all. */
	assert_int_equal(
	    ctl("POST", "/_double/ratelimit", "{\"remaining\": 0, \"reset_in\": 3600}", NULL), 200);
	log_reset();
	assert_int_equal(f->ops->get_issue(f, "alice", "website", 1, &it, &err), -EIO);
	assert_non_null(strstr(buf_cstr(&err), "rate limit exhausted until"));
	buf_reset(&err);
	assert_int_equal(f->ops->get_issue(f, "alice", "website", 2, &it, &err), -EIO);
	assert_non_null(strstr(buf_cstr(&err), "not sent"));
	assert_int_equal(log_count("GET", "/repos/alice/website/issues/1", 403, NULL), 1);
	assert_int_equal(log_count("GET", "/repos/alice/website/issues/2", 0, NULL), 0);
	forge_free(f);

	/* Exhausted until a second from now: waited out within the timeout. */
	assert_int_equal(ctl("DELETE", "/_double/ratelimit", NULL, NULL), 200);
	f = adapter(TOKEN, 0, NULL);
	assert_int_equal(
	    ctl("POST", "/_double/ratelimit", "{\"remaining\": 0, \"reset_in\": 1}", NULL), 200);
	log_reset();
	assert_int_equal(f->ops->get_issue(f, "alice", "website", 1, &it, &err), 0);
	forge_issue_release(&it);
	assert_int_equal(log_count("GET", "/repos/alice/website/issues/1", 403, NULL), 1);
	assert_int_equal(log_count("GET", "/repos/alice/website/issues/1", 200, NULL), 1);

	/* A secondary limit with retry-after: waited out, even for a POST, posted once. */
	assert_int_equal(buf_printf(&st, "%s", ""), 0);
	assert_int_equal(ctl("GET", "/_double/state/alice/website/issues/2", NULL, &st), 200);
	j = json_loadb(st.data, st.len, 0, NULL);
	before = json_array_size(json_object_get(j, "comments"));
	json_decref(j);
	assert_int_equal(ctl("POST", "/_double/ratelimit",
			     "{\"secondary\": {\"times\": 1, \"retry_after\": 1}}", NULL),
			 200);
	log_reset();
	assert_int_equal(f->ops->post_comment(f, "alice", "website", 2, "once", &c, &err), 0);
	forge_comment_release(&c);
	assert_int_equal(log_count("POST", "/repos/alice/website/issues/2/comments", 403, NULL), 1);
	assert_int_equal(log_count("POST", "/repos/alice/website/issues/2/comments", 201, NULL), 1);
	buf_reset(&st);
	assert_int_equal(ctl("GET", "/_double/state/alice/website/issues/2", NULL, &st), 200);
	j = json_loadb(st.data, st.len, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(j, "comments")), before + 1);
	json_decref(j);

	/* A secondary limit longer than the timeout: EIO at once, saying how long. */
	assert_int_equal(ctl("POST", "/_double/ratelimit",
			     "{\"secondary\": {\"times\": 1, \"retry_after\": 60}}", NULL),
			 200);
	buf_reset(&err);
	assert_int_equal(f->ops->get_issue(f, "alice", "website", 1, &it, &err), -EIO);
	assert_non_null(strstr(buf_cstr(&err), "retry after 60 s"));
	assert_int_equal(ctl("DELETE", "/_double/ratelimit", NULL, NULL), 200);
	forge_free(f);
	buf_release(&err);
	buf_release(&st);
}

/*
 * Writes are a second apart: with half a second of timeout, the PATCH of
 * an update goes and its label PUT is not sent at all.
 */
static void test_writes_spaced(void **state)
{
	static const char *const labels[] = {"question"};
	struct forge *f = adapter(TOKEN, 500, NULL);
	struct forge_issue_patch p = {"Renamed", NULL, NULL, labels, 1, true};
	struct forge_issue it;
	struct buf err = BUF_INIT(1024);
	size_t i;
	bool found = false;

	(void)state;
	log_reset();
	assert_int_equal(f->ops->update_issue(f, "alice", "website", 2, &p, &err), -EIO);
	assert_int_equal(log_count("PUT", "/repos/alice/website/issues/2/labels", 0, NULL), 0);
	assert_true(log_count("PATCH", "/repos/alice/website/issues/2", 0, NULL) <= 1);
	forge_free(f);
	/* With time for both: title and labels. */
	f = adapter(TOKEN, 0, NULL);
	assert_int_equal(f->ops->update_issue(f, "alice", "website", 2, &p, &err), 0);
	assert_int_equal(log_count("PUT", "/repos/alice/website/issues/2/labels", 200, NULL), 1);
	assert_int_equal(f->ops->get_issue(f, "alice", "website", 2, &it, &err), 0);
	assert_string_equal(it.title, "Renamed");
	for (i = 0; i < it.n_labels; i++)
		found |= strcmp(it.labels[i], "question") == 0;
	assert_true(found);
	forge_issue_release(&it);
	forge_free(f);
	buf_release(&err);
}

/* ---- Gitea: draft is the work-in-progress title prefix ------------- */

static struct forge *gitea_adapter(void)
{
	struct gitea_options o = {.base_url = base_url, .token = TOKEN, .timeout_ms = 10000};
	struct buf err = BUF_INIT(1024);
	struct forge *f = gitea_new(&o, &err);

	if (!f)
		fail_msg("gitea_new: %s", buf_cstr(&err));
	buf_release(&err);
	return f;
}

/* The title of alice/dotfiles#n (new). */
static char *gitea_title(struct forge *f, uint64_t n)
{
	struct forge_issue it;
	char *t;

	assert_int_equal(f->ops->get_pull(f, "alice", "dotfiles", n, &it, NULL), 0);
	t = strdup(it.title);
	forge_issue_release(&it);
	return t;
}

static void test_gitea_draft_ready(void **state)
{
	static const char *path = "/api/v1/repos/alice/dotfiles/pulls/3";
	struct forge *f = gitea_adapter();
	struct forge_issue_patch p = {"[wip]  Raise the limits", NULL, NULL, NULL, 0, false};
	struct buf err = BUF_INIT(1024);
	char *t;

	(void)state;
	log_reset();
	t = gitea_title(f, 3);
	assert_string_equal(t, "Raise bash history limits");
	free(t);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", 3, "draft", &err), 0);
	t = gitea_title(f, 3);
	assert_string_equal(t, "WIP: Raise bash history limits");
	free(t);
	assert_int_equal(log_count("PATCH", path, 0, NULL), 1);
	/* Already a draft: nothing sent. */
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", 3, "draft", &err), 0);
	assert_int_equal(log_count("PATCH", path, 0, NULL), 1);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", 3, "ready", &err), 0);
	t = gitea_title(f, 3);
	assert_string_equal(t, "Raise bash history limits");
	free(t);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", 3, "ready", &err), 0);
	assert_int_equal(log_count("PATCH", path, 0, NULL), 2);
	/* Gitea's other prefix, in any case, and the spaces after it. */
	assert_int_equal(f->ops->update_issue(f, "alice", "dotfiles", 3, &p, &err), 0);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", 3, "ready", &err), 0);
	t = gitea_title(f, 3);
	assert_string_equal(t, "Raise the limits");
	free(t);
	/* Closed: neither draft nor ready; open and closed as before. */
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", 3, "closed", &err), 0);
	buf_reset(&err);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", 3, "draft", &err),
			 -EINVAL);
	assert_non_null(strstr(buf_cstr(&err), "closed"));
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", 3, "open", &err), 0);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", 3, "merged", NULL),
			 -EINVAL);
	assert_int_equal(f->ops->update_pr_status(f, "alice", "dotfiles", 4, "draft", NULL),
			 -EINVAL);
	forge_free(f);
	buf_release(&err);
}

/* pulls/new's "draft": Gitea opens it with the prefix, and reads it back as a draft. */
static void test_gitea_create_draft(void **state)
{
	struct forge *f = gitea_adapter();
	struct forge_pr_request req = {"Vim plugins", "vim-plugins", "main", "b", NULL, NULL, true};
	struct forge_issue it;
	struct buf err = BUF_INIT(1024);
	uint64_t n = 0;

	(void)state;
	assert_int_equal(f->ops->create_pr(f, "alice", "dotfiles", &req, NULL, NULL, &n, &err), 0);
	assert_int_equal(f->ops->get_pull(f, "alice", "dotfiles", n, &it, &err), 0);
	assert_string_equal(it.title, "WIP: Vim plugins");
	assert_true(it.draft);
	forge_issue_release(&it);
	forge_free(f);
	buf_release(&err);
}

/*
 * One group per run (a TAP stream has one plan): no argument runs the
 * GitHub group, "gitea" the Gitea adapter's draft group.
 */
/*
 * The git side: branches listed from GET /repos/{o}/{r}/branches as the
 * forge's refs say, and repo.bundle made from a mirror fetched over git
 * with the token (the double refuses git without it).
 */
static void test_branches_and_bundle(void **state)
{
	char mirrors[300], head[16] = "";
	struct github_options o = {.api_url = base_url, .token = TOKEN, .git_url = base_url};
	struct forge_capabilities caps;
	struct forge_branch_list l = {NULL, 0};
	struct buf err = BUF_INIT(1024), refs = BUF_INIT(0);
	struct forge *f;
	json_t *want, *sha;
	char *path = NULL;
	uint64_t size = 0, deadline;
	struct timespec ts;
	size_t i;
	FILE *b;

	(void)state;
	snprintf(mirrors, sizeof(mirrors), "%s/mirrors", tmpdir);
	assert_int_equal(mkdir(mirrors, 0700), 0);
	o.mirror_dir = mirrors;
	f = github_new(&o, &err);
	assert_non_null(f);
	f->ops->capabilities(f, &caps);
	assert_true(caps.push_branch);
	log_reset();
	assert_int_equal(forge_list_branches(f, "alice", "dotfiles", &l, &err), 0);
	assert_int_equal(log_count("GET", "/repos/alice/dotfiles/branches", 200, NULL), 1);
	assert_int_equal(ctl("GET", "/_double/git/alice/dotfiles/refs", NULL, &refs), 200);
	want = json_loadb(refs.data, refs.len, 0, NULL);
	assert_non_null(want);
	assert_true(l.n >= 1);
	for (i = 0; i < l.n; i++) {
		char ref[512];

		if (i > 0)
			assert_true(strcmp(l.v[i - 1].name, l.v[i].name) < 0);
		snprintf(ref, sizeof(ref), "refs/heads/%s", l.v[i].name);
		sha = json_object_get(want, ref);
		assert_non_null(sha);
		assert_string_equal(l.v[i].commit, json_string_value(sha));
	}
	json_decref(want);
	forge_branch_list_release(&l);

	clock_gettime(CLOCK_MONOTONIC, &ts);
	deadline = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 30000;
	assert_int_equal(
	    forge_repo_bundle(f, "alice", "dotfiles", true, deadline, &path, &size, &err), 0);
	assert_true(size > 0);
	b = fopen(path, "r");
	assert_non_null(b);
	assert_non_null(fgets(head, sizeof(head), b));
	fclose(b);
	assert_true(strncmp(head, "# v2 git bundle", 15) == 0 ||
		    strncmp(head, "# v3 git bundle", 15) == 0);
	/* git fetched the mirror over the double's git paths. */
	assert_true(log_count("GET", "/alice/dotfiles.git/info/refs", 0, NULL) +
			log_count("POST", "/alice/dotfiles.git/git-upload-pack", 0, NULL) >=
		    1);
	free(path);
	buf_release(&refs);
	buf_release(&err);
	forge_free(f);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cond_fallback),
	    cmocka_unit_test(test_user_agent_and_whoami),
	    cmocka_unit_test(test_paging_counts),
	    cmocka_unit_test(test_pulls_are_not_issues),
	    cmocka_unit_test(test_comments_and_repos),
	    cmocka_unit_test(test_conditional_reads),
	    cmocka_unit_test(test_threads),
	    cmocka_unit_test(test_create_pr_exists),
	    cmocka_unit_test(test_create_pr_70000_chars_and_drafts),
	    cmocka_unit_test(test_diff_406),
	    cmocka_unit_test(test_rate_limits),
	    cmocka_unit_test(test_writes_spaced),
	    cmocka_unit_test(test_branches_and_bundle),
	};

	const struct CMUnitTest gitea_tests[] = {
	    cmocka_unit_test(test_gitea_draft_ready),
	    cmocka_unit_test(test_gitea_create_draft),
	};
	if (argc > 1 && strcmp(argv[1], "gitea") == 0)
		return cmocka_run_group_tests_name("gitea", gitea_tests, start_gitea_double,
						   stop_double);
	return cmocka_run_group_tests_name("github", tests, start_double, stop_double);
}
