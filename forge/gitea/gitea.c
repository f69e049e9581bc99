/*
 * gitea: the Gitea adapter (see gitea.h): the adapter itself, its
 * operation table and what every operation shares. Reads are in reads.c,
 * writes in writes.c, paging in pages.c, HTTP in http.c, JSON in decode.c.
 *
 * Every operation takes one deadline, now + timeout_ms, and passes it to
 * each request it makes (page 1, the other pages, a probe), so the whole
 * operation, retries included, ends by then.
 */
#include "forge/gitea/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "forge/gitea/decode.h"
#include "util/str.h"

struct gitea *gitea_of(struct forge *f)
{
	return (struct gitea *)f;
}

uint64_t gt_deadline(struct gitea *g)
{
	return http_now_ms() + g->timeout_ms;
}

/* Owner and repository names reach a URL path: refuse what cannot be one. */
int gt_check_name(const char *s, const char *what, struct buf *err)
{
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0)
		return buf_fail(err, -EINVAL, "%s name is empty", what);
	if (n > GITEA_NAME_MAX)
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

int gt_check_repo(const char *owner, const char *repo, struct buf *err)
{
	int r = gt_check_name(owner, "owner", err);

	return r < 0 ? r : gt_check_name(repo, "repository", err);
}

/* "&since=T" for a list query when since is given (FACTS.md: updated_at >= T). */
int gt_add_since(struct buf *b, const char *since)
{
	int r;

	if (!since)
		return 0;
	r = buf_puts(b, "&since=");
	return r ? r : http_put_escaped(b, since);
}

/* "/api/v1/repos/{owner}/{repo}" with both segments escaped. */
int gt_repo_path(struct buf *b, const char *owner, const char *repo)
{
	int r = buf_puts(b, "/api/v1/repos/");

	if (!r)
		r = http_put_escaped(b, owner);
	if (!r)
		r = buf_putc(b, '/');
	if (!r)
		r = http_put_escaped(b, repo);
	return r;
}

/* One request; the response stays in *q for the caller to read and release. */
int gt_run_one(struct gitea *g, struct http_req *q, enum http_method m, const char *path,
	       const char *json, uint64_t deadline, struct buf *err)
{
	memset(q, 0, sizeof(*q));
	q->method = m;
	q->path = path;
	q->json = json;
	return http_run(g->http, q, 1, deadline, err);
}

/*
 * The bound on JSON values in one answer: the decoder's, or more for a
 * larger answer cap (16 bytes a value at least: "[1,1,1,...]" at the cap
 * stays a tree of bounded size).
 */
static size_t gt_max_values(struct gitea *g)
{
	size_t v = http_max_body(g->http) / 16;

	return v > GITEA_DECODE_MAX_VALUES ? v : GITEA_DECODE_MAX_VALUES;
}

/* A streamed 2xx answer in q parsed into *root (new), the reason in why. */
int gt_answer_json(struct gitea *g, struct http_req *q, json_t **root, struct buf *why)
{
	return http_req_json(q, gt_max_values(g), root, why);
}

int gt_decode_fail(struct buf *err, const struct http_req *q, struct buf *why, int r)
{
	if (err)
		buf_note(err, "decoding '%s': %s", q->path, buf_cstr(why));
	return r;
}

void gitea_capabilities(struct forge *f, struct forge_capabilities *out)
{
	/* Every field a later contract adds is "no" until set here. */
	memset(out, 0, sizeof(*out));
	out->name = "gitea";
	out->description_unit = FORGE_LEN_BYTES;
	out->max_description_len = GITEA_MAX_DESCRIPTION_LEN;
	out->structured_metadata = false;
	out->push_branch = gitea_of(f)->git.mirrors != NULL;
	out->update_pr_status = true;
	out->max_page_size = GITEA_PAGE_LIMIT;
}

static void gitea_free(struct forge *f)
{
	struct gitea *g = gitea_of(f);

	http_free(g->http);
	gitea_git_fini(&g->git);
	pthread_mutex_destroy(&g->lock);
	free(g->login);
	free(g);
}

static const struct forge_ops gitea_ops = {
    .list_repos = gitea_list_repos,
    .list_issues = gitea_list_issues,
    .get_issue = gitea_get_issue,
    .get_pull = gitea_get_pull,
    .list_comments = gitea_list_comments,
    .list_repo_comments = gitea_list_repo_comments,
    .get_diff = gitea_get_diff,
    .whoami = gitea_whoami,
    .create_pr = gitea_create_pr,
    .push_branch = gitea_push_branch,
    .post_comment = gitea_post_comment,
    .update_issue = gitea_update_issue,
    .update_pr_status = gitea_update_pr_status,
    .capabilities = gitea_capabilities,
    .list_branches = gitea_list_branches,
    .repo_bundle = gitea_repo_bundle,
    .free = gitea_free,
};

struct forge *gitea_new(const struct gitea_options *opt, struct buf *err)
{
	struct http_options ho;
	struct gitea *g;
	unsigned timeout = opt->timeout_ms ? opt->timeout_ms : 10000;

	g = calloc(1, sizeof(*g));
	if (!g) {
		buf_fail(err, -ENOMEM, "out of memory");
		return NULL;
	}
	g->base.ops = &gitea_ops;
	g->timeout_ms = timeout;
	pthread_mutex_init(&g->lock, NULL);
	memset(&ho, 0, sizeof(ho));
	ho.base_url = opt->base_url;
	ho.token = opt->token;
	/* Half the budget at most, so a refused connect still leaves time to retry. */
	ho.connect_timeout_ms = timeout / 2 < 5000 ? timeout / 2 : 5000;
	if (ho.connect_timeout_ms == 0)
		ho.connect_timeout_ms = 1;
	ho.max_body = opt->max_body;
	if (http_new(&ho, &g->http, err) < 0) {
		pthread_mutex_destroy(&g->lock);
		free(g);
		return NULL;
	}
	if (gitea_git_init(&g->git, opt->git_url ? opt->git_url : opt->base_url, NULL, opt->token,
			   opt->mirror_dir, opt->mirror_max, err) < 0) {
		gitea_free(&g->base);
		return NULL;
	}
	return &g->base;
}
