/*
 * github: the GitHub adapter (see github.h): paths and request bodies
 * here, HTTP in forge/http.c, JSON in decode.c.
 *
 * Every operation takes one deadline, now + timeout_ms, and passes it to
 * each request it makes (page 1, the other pages, a probe, a mutation),
 * so the whole operation, retries and rate-limit waits included, ends by
 * then.
 */
#include "forge/github/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "forge/gitea/decode.h"
#include "util/str.h"

/* ---- URLs ------------------------------------------------------------- */

int github_derive_urls(const char *api_url, char **git_url, char **graphql_url, struct buf *err)
{
	static const char ghes[] = "/api/v3";
	const char *host, *path;
	size_t n, i, hlen, klen = sizeof(ghes) - 1;
	char *git = NULL, *gql = NULL;
	struct buf b = BUF_INIT(8192);
	int r = -ENOMEM;

	if (!api_url ||
	    (strncasecmp(api_url, "http://", 7) != 0 && strncasecmp(api_url, "https://", 8) != 0))
		return buf_fail(err, -EINVAL, "forge url must start with http:// or https://");
	n = strlen(api_url);
	for (i = 0; i < n; i++)
		if ((unsigned char)api_url[i] <= 0x20 || api_url[i] == 0x7f)
			return buf_fail(err, -EINVAL, "forge url contains a space or control byte");
	host = strstr(api_url, "://") + 3;
	while (n > (size_t)(host - api_url) && api_url[n - 1] == '/')
		n--;
	path = memchr(host, '/', n - (size_t)(host - api_url));
	hlen = path ? (size_t)(path - host) : n - (size_t)(host - api_url);
	if (hlen == 0)
		return buf_fail(err, -EINVAL, "forge url has no host");
	if (hlen == 14 && strncasecmp(host, "api.github.com", 14) == 0) {
		/* github.com: git on the bare host, GraphQL beside REST. */
		if (buf_append(&b, api_url, (size_t)(host - api_url)) < 0 ||
		    buf_puts(&b, "github.com") < 0 ||
		    buf_append(&b, host + hlen, n - (size_t)(host + hlen - api_url)) < 0)
			goto out;
		git = buf_steal(&b, NULL);
		if (buf_append(&b, api_url, n) < 0 || buf_puts(&b, "/graphql") < 0)
			goto out;
	} else if (path && n - (size_t)(path - api_url) >= klen &&
		   strncasecmp(api_url + n - klen, ghes, klen) == 0) {
		/* Enterprise Server: https://HOST/api/v3 -> https://HOST, https://HOST/api/graphql.
		 */
		if (buf_append(&b, api_url, n - klen) < 0)
			goto out;
		git = buf_steal(&b, NULL);
		if (buf_append(&b, api_url, n - klen) < 0 || buf_puts(&b, "/api/graphql") < 0)
			goto out;
	} else {
		if (buf_append(&b, api_url, n) < 0)
			goto out;
		git = buf_steal(&b, NULL);
		if (buf_append(&b, api_url, n) < 0 || buf_puts(&b, "/graphql") < 0)
			goto out;
	}
	gql = buf_steal(&b, NULL);
	if (!git || !gql)
		goto out;
	*git_url = git;
	*graphql_url = gql;
	git = gql = NULL;
	r = 0;
out:
	if (r < 0)
		buf_fail(err, r, "out of memory");
	free(git);
	free(gql);
	buf_release(&b);
	return r;
}

/* Owner and repository names reach a URL path: refuse what cannot be one. */
int gh_check_name(const char *s, const char *what, struct buf *err)
{
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0)
		return buf_fail(err, -EINVAL, "%s name is empty", what);
	if (n > GITHUB_NAME_MAX)
		return buf_fail(err, -EINVAL, "%s name is too long", what);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f)
			return buf_fail(err, -EINVAL, "%s name contains '/' or a control byte",
					what);
	}
	if (strcmp(s, ".") == 0 || strstr(s, ".."))
		return buf_fail(err, -EINVAL, "%s name '%s' contains '..'", what, s);
	return 0;
}

int gh_check_repo(const char *owner, const char *repo, struct buf *err)
{
	int r = gh_check_name(owner, "owner", err);

	return r < 0 ? r : gh_check_name(repo, "repository", err);
}

/* "/repos/{owner}/{repo}" with both segments escaped. */
int gh_repo_path(struct buf *b, const char *owner, const char *repo)
{
	int r = buf_puts(b, "/repos/");

	if (!r)
		r = http_put_escaped(b, owner);
	if (!r)
		r = buf_putc(b, '/');
	if (!r)
		r = http_put_escaped(b, repo);
	return r;
}

int gh_add_since(struct buf *b, const char *since)
{
	int r;

	if (!since)
		return 0;
	r = buf_puts(b, "&since=");
	return r ? r : http_put_escaped(b, since);
}

/* ---- validators ------------------------------------------------------- */

/* FNV-1a over what identifies a request: kind (one byte), path, Accept. */
uint64_t gh_request_tag(char kind, const char *path, const char *accept)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *parts[3] = {&kind, path, accept};
	size_t lens[3] = {1, strlen(path), strlen(accept)};
	size_t i, k;

	for (k = 0; k < 3; k++) {
		for (i = 0; i < lens[k]; i++) {
			h ^= (unsigned char)parts[k][i];
			h *= 0x100000001b3ULL;
		}
		h ^= 0xff; /* a separator no byte of a path is */
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The ETag to send for a request tagged tag: val's when it was made for it, else NULL. */
const char *gh_etag_for(const struct forge_validator *val, uint64_t tag)
{
	char want[18];
	uint64_t t = tag;
	int i;

	if (!val || !val->etag_in || strlen(val->etag_in) < 18 || val->etag_in[16] != ':')
		return NULL;
	for (i = 15; i >= 0; i--, t >>= 4)
		want[i] = "0123456789abcdef"[t & 15];
	want[16] = ':';
	want[17] = '\0';
	return memcmp(val->etag_in, want, 17) == 0 ? val->etag_in + 17 : NULL;
}

/* val's answer: "not modified" (its own etag_in again) or a new validator (may be none). */
int gh_validator_out(struct forge_validator *val, uint64_t tag, const struct http_req *q,
		     bool whole, struct buf *err)
{
	struct buf b = BUF_INIT(512);

	if (!val)
		return 0;
	val->etag_out = NULL;
	val->not_modified = q->not_modified;
	if (q->not_modified) {
		val->etag_out = str_dup(val->etag_in);
		return val->etag_out ? 0 : buf_fail(err, -ENOMEM, "out of memory");
	}
	if (!whole || !q->etag[0])
		return 0;
	if (buf_printf(&b, "%016llx:%s", (unsigned long long)tag, q->etag) < 0)
		return buf_fail(err, -ENOMEM, "out of memory");
	val->etag_out = buf_steal(&b, NULL);
	return val->etag_out ? 0 : buf_fail(err, -ENOMEM, "out of memory");
}

/* ---- requests --------------------------------------------------------- */

size_t gh_max_values(struct github *g)
{
	size_t v = http_max_body(g->http) / 16;

	return v > GITHUB_DECODE_MAX_VALUES ? v : GITHUB_DECODE_MAX_VALUES;
}

int gh_decode_fail(struct buf *err, const struct http_req *q, struct buf *why, int r)
{
	if (err)
		buf_note(err, "decoding '%s': %s", q->path, buf_cstr(why));
	return r;
}

/* GitHub's answers where the shared status table says too little. */
int gh_errno(int r, const struct http_req *q)
{
	if (r >= 0)
		return r;
	if (q->status == 410) /* gone: deleted, or issues turned off */
		return -ENOENT;
	if (q->status == 422 && github_decode_pull_exists(q->body.data, q->body.len))
		return -EEXIST;
	return r;
}

int gh_run(struct github *g, struct http_req *q, uint64_t deadline, struct buf *err)
{
	int r = http_run(g->http, q, 1, deadline, err);

	return gh_errno(r, q);
}

void gh_req_init(struct http_req *q, enum http_method m, const char *path, const char *json)
{
	memset(q, 0, sizeof(*q));
	q->method = m;
	q->path = path;
	q->json = json;
}

/* A JSON GET parsed as it is read (streamed); etag may be NULL. */
void gh_get_init(struct http_req *q, const char *path, const char *etag)
{
	gh_req_init(q, HTTP_GET, path, NULL);
	q->stream = true;
	q->etag_in = etag;
}

void github_capabilities(struct forge *f, struct forge_capabilities *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "github";
	out->max_description_len = GITHUB_MAX_DESCRIPTION_LEN;
	out->description_unit = FORGE_LEN_CHARS;
	out->structured_metadata = false; /* the receipt goes in an HTML comment */
	out->push_branch = github_of(f)->git.mirrors != NULL;
	out->update_pr_status = true;
	out->max_page_size = GITHUB_PAGE_LIMIT;
	/* ADR-0018: none native; with a personal token the agent acts as its user. */
	out->trajectory_linking = false;
	out->agent_identity = false;
	out->bounties = false;
	out->conditional_reads = true;
}
static void github_free(struct forge *f)
{
	struct github *g = github_of(f);

	http_free(g->http);
	gitea_git_fini(&g->git);
	pthread_mutex_destroy(&g->lock);
	free(g->login);
	free(g->graphql_url);
	free(g);
}

static const struct forge_ops github_ops = {
    .list_repos = github_list_repos,
    .list_issues = github_list_issues,
    .get_issue = github_get_issue,
    .get_pull = github_get_pull,
    .list_comments = github_list_comments,
    .list_repo_comments = github_list_repo_comments,
    .get_diff = github_get_diff,
    .list_issues_cond = github_list_issues_cond,
    .get_issue_cond = github_get_issue_cond,
    .get_pull_cond = github_get_pull_cond,
    .list_comments_cond = github_list_comments_cond,
    .list_repo_comments_cond = github_list_repo_comments_cond,
    .get_diff_cond = github_get_diff_cond,
    .whoami = github_whoami,
    .create_pr = github_create_pr,
    .push_branch = github_push_branch,
    .list_branches = github_list_branches,
    .repo_bundle = github_repo_bundle,
    .post_comment = github_post_comment,
    .update_issue = github_update_issue,
    .update_pr_status = github_update_pr_status,
    .capabilities = github_capabilities,
    .free = github_free,
};

struct forge *github_new(const struct github_options *opt, struct buf *err)
{
	static const char *const headers[] = {"X-GitHub-Api-Version: 2022-11-28", NULL};
	const char *api = opt->api_url ? opt->api_url : GITHUB_API_URL;
	unsigned timeout = opt->timeout_ms ? opt->timeout_ms : 10000;
	struct http_options ho;
	struct github *g;
	char *git = NULL, *gql = NULL;

	if (github_derive_urls(api, &git, &gql, err) < 0)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g) {
		free(git);
		free(gql);
		buf_fail(err, -ENOMEM, "out of memory");
		return NULL;
	}
	g->base.ops = &github_ops;
	g->timeout_ms = timeout;
	g->graphql_url = opt->graphql_url ? str_dup(opt->graphql_url) : gql;
	if (opt->graphql_url)
		free(gql);
	pthread_mutex_init(&g->lock, NULL);
	memset(&ho, 0, sizeof(ho));
	ho.base_url = api;
	ho.token = opt->token;
	ho.connect_timeout_ms = timeout / 2 < 5000 ? timeout / 2 : 5000;
	if (ho.connect_timeout_ms == 0)
		ho.connect_timeout_ms = 1;
	ho.max_body = opt->max_body;
	ho.auth_scheme = "Bearer";
	ho.user_agent = opt->user_agent;
	ho.accept = ACCEPT_JSON;
	ho.headers = headers;
	ho.max_inflight = GITHUB_MAX_INFLIGHT;
	ho.write_spacing_ms = GITHUB_WRITE_SPACING_MS;
	if (!g->graphql_url) {
		buf_fail(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (http_new(&ho, &g->http, err) < 0)
		goto fail;
	if (gitea_git_init(&g->git, opt->git_url ? opt->git_url : git, GITHUB_GIT_USER, opt->token,
			   opt->mirror_dir, opt->mirror_max, err) < 0) {
		http_free(g->http);
		goto fail;
	}
	free(git);
	return &g->base;
fail:
	free(git);
	gitea_git_fini(&g->git);
	pthread_mutex_destroy(&g->lock);
	free(g->graphql_url);
	free(g);
	return NULL;
}
