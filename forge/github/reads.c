/* github/reads: the read operations of the GitHub adapter (github.h, internal.h). */
#include "forge/github/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "forge/gitea/decode.h"
#include "util/str.h"

/* ---- reads ------------------------------------------------------------ */

int github_list_repos(struct forge *f, const char *owner, struct forge_name_list *out,
		      struct buf *err)
{
	struct github *g = github_of(f);
	uint64_t deadline = gh_deadline_of(g);
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct name_acc acc;
	struct http_req q;
	bool org = false;
	int r = gh_check_name(owner, "owner", err);

	if (r < 0)
		return r;
	memset(&acc, 0, sizeof(acc));
	r = buf_puts(&path, "/users/");
	if (!r)
		r = http_put_escaped(&path, owner);
	if (r < 0)
		return buf_fail(err, -ENOMEM, "out of memory");
	gh_req_init(&q, HTTP_GET, path.data, NULL);
	r = gh_run(g, &q, deadline, err);
	if (r == 0 && github_decode_account_is_org(q.body.data, q.body.len, &org, &why) < 0)
		r = gh_decode_fail(err, &q, &why, -EIO);
	http_req_release(&q);
	if (r < 0)
		goto out;
	buf_reset(&path);
	r = buf_puts(&path, org ? "/orgs/" : "/users/");
	if (!r)
		r = http_put_escaped(&path, owner);
	if (!r)
		r = buf_printf(&path, "/repos?per_page=%d", GITHUB_PAGE_LIMIT);
	if (r < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = gh_fetch_pages(g, 'r', path.data, gh_name_page, &acc, NULL, deadline, err);
	if (r == 0) {
		*out = acc.l;
		acc.l.v = NULL;
		acc.l.n = 0;
	}
out:
	forge_name_list_release(&acc.l);
	buf_release(&path);
	buf_release(&why);
	return r;
}

/* The issue list's query (issues and pull requests, oldest first). */
static int issues_prefix(struct buf *b, const char *owner, const char *repo, const char *since)
{
	int r = gh_repo_path(b, owner, repo);

	if (!r)
		r = buf_printf(b, "/issues?state=all&sort=created&direction=asc&per_page=%d",
			       GITHUB_PAGE_LIMIT);
	if (!r)
		r = gh_add_since(b, since);
	return r;
}

/*
 * Every pull request with head and base: /pulls, each given its comment
 * count from the issue list (which /pulls lacks). A pull request created
 * between the two reads is only in /pulls: it is brand new, 0 comments.
 */
static int list_all_pulls(struct github *g, const char *owner, const char *repo,
			  struct forge_issue_list *out, struct buf *err)
{
	uint64_t deadline = gh_deadline_of(g);
	struct buf prefix = BUF_INIT(4096);
	struct issue_acc counts, pulls;
	size_t i;
	int r;

	memset(&counts, 0, sizeof(counts));
	memset(&pulls, 0, sizeof(pulls));
	counts.want = pulls.want = FORGE_PULLS;
	pulls.pulls_endpoint = true;
	/*
	 * /pulls first: a repository that does not exist is one 404, and one
	 * without pull requests needs no comment counts.
	 */
	if (gh_repo_path(&prefix, owner, repo) < 0 ||
	    buf_printf(&prefix, "/pulls?state=all&sort=created&direction=asc&per_page=%d",
		       GITHUB_PAGE_LIMIT) < 0) {
		r = buf_fail(err, -EINVAL, "list query for '%s/%s' is too long", owner, repo);
		goto out;
	}
	r = gh_fetch_pages(g, 'p', prefix.data, gh_issue_page, &pulls, NULL, deadline, err);
	if (r < 0)
		goto out;
	gh_dedup(&pulls.l);
	buf_reset(&prefix);
	if (pulls.l.n > 0) {
		if (issues_prefix(&prefix, owner, repo, NULL) < 0) {
			r = buf_fail(err, -EINVAL, "list query for '%s/%s' is too long", owner,
				     repo);
			goto out;
		}
		r = gh_fetch_pages(g, 'c', prefix.data, gh_issue_page, &counts, NULL, deadline,
				   err);
		if (r < 0)
			goto out;
		gh_dedup(&counts.l);
	}
	for (i = 0; i < pulls.l.n; i++) {
		struct forge_issue *c = gh_find_sorted(&counts.l, pulls.l.v[i].number);

		pulls.l.v[i].n_comments = c ? c->n_comments : 0;
	}
	*out = pulls.l;
	pulls.l.v = NULL;
	pulls.l.n = 0;
out:
	forge_issue_list_release(&counts.l);
	forge_issue_list_release(&pulls.l);
	buf_release(&prefix);
	return r;
}

int github_list_issues_cond(struct forge *f, const char *owner, const char *repo,
			    enum forge_kind kind, const char *since, struct forge_validator *val,
			    struct forge_issue_list *out, struct buf *err)
{
	struct github *g = github_of(f);
	struct buf prefix = BUF_INIT(4096);
	struct issue_acc acc;
	int r = gh_check_repo(owner, repo, err);

	if (r < 0)
		return r;
	if (kind == FORGE_PULLS && !since) {
		r = list_all_pulls(g, owner, repo, out, err);
		if (r == 0 && val) {
			val->etag_out = NULL;
			val->not_modified = false;
		}
		return r;
	}
	memset(&acc, 0, sizeof(acc));
	acc.want = kind;
	r = issues_prefix(&prefix, owner, repo, since);
	if (r < 0) {
		r = buf_fail(err, -EINVAL, "list query for '%s/%s' is too long", owner, repo);
		goto out;
	}
	r = gh_fetch_pages(g, kind == FORGE_PULLS ? 'P' : 'I', prefix.data, gh_issue_page, &acc,
			   val, gh_deadline_of(g), err);
	if (r == 0) {
		gh_dedup(&acc.l);
		*out = acc.l;
		acc.l.v = NULL;
		acc.l.n = 0;
	}
out:
	forge_issue_list_release(&acc.l);
	buf_release(&prefix);
	return r;
}

int github_list_issues(struct forge *f, const char *owner, const char *repo, enum forge_kind kind,
		       const char *since, struct forge_issue_list *out, struct buf *err)
{
	return github_list_issues_cond(f, owner, repo, kind, since, NULL, out, err);
}

/* "/repos/{o}/{r}/{kind}/{n}{suffix}" into path. */
int gh_numbered_path(struct buf *path, const char *owner, const char *repo, const char *kind,
		     uint64_t number, const char *suffix, struct buf *err)
{
	int r;

	if (number == 0)
		return buf_fail(err, -EINVAL, "number 0 in '%s/%s'", owner, repo);
	r = gh_repo_path(path, owner, repo);
	if (!r)
		r = buf_printf(path, "/%s/%llu%s", kind, (unsigned long long)number, suffix);
	return r < 0 ? buf_fail(err, -ENOMEM, "out of memory") : 0;
}

/* GET of one issue or pull request object, conditional. */
static int get_one(struct github *g, const char *owner, const char *repo, uint64_t number,
		   bool pull, struct forge_validator *val, struct forge_issue *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct forge_issue it;
	struct http_req q;
	json_t *root = NULL;
	uint64_t tag = 0;
	int r = gh_check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	if (r < 0)
		return r;
	r = gh_numbered_path(&path, owner, repo, pull ? "pulls" : "issues", number, "", err);
	if (r < 0)
		goto out;
	tag = gh_request_tag(pull ? 'p' : 'i', path.data, ACCEPT_JSON);
	gh_get_init(&q, path.data, gh_etag_for(val, tag));
	r = gh_run(g, &q, gh_deadline_of(g), err);
	if (r < 0)
		goto out;
	if (q.not_modified) {
		r = gh_validator_out(val, tag, &q, true, err);
		if (r == 0)
			memset(out, 0, sizeof(*out));
		goto out;
	}
	r = http_req_json(&q, gh_max_values(g), &root, &why);
	if (r == 0)
		r = pull ? github_decode_pull_root(root, &it, &why)
			 : github_decode_issue_root(root, &it, &why);
	json_decref(root);
	if (r < 0) {
		r = gh_decode_fail(err, &q, &why, r);
		goto out;
	}
	if (!pull && it.is_pull) {
		/* Issues and pull requests are different objects in the tree. */
		forge_issue_release(&it);
		r = buf_fail(err, -ENOENT, "'%s/%s#%llu' is a pull request, not an issue", owner,
			     repo, (unsigned long long)number);
		goto out;
	}
	r = gh_validator_out(val, tag, &q, true, err);
	if (r < 0) {
		forge_issue_release(&it);
		goto out;
	}
	*out = it;
out:
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	return r;
}

int github_get_issue_cond(struct forge *f, const char *owner, const char *repo, uint64_t number,
			  struct forge_validator *val, struct forge_issue *out, struct buf *err)
{
	return get_one(github_of(f), owner, repo, number, false, val, out, err);
}

int github_get_issue(struct forge *f, const char *owner, const char *repo, uint64_t number,
		     struct forge_issue *out, struct buf *err)
{
	return get_one(github_of(f), owner, repo, number, false, NULL, out, err);
}

int github_get_pull_cond(struct forge *f, const char *owner, const char *repo, uint64_t number,
			 struct forge_validator *val, struct forge_issue *out, struct buf *err)
{
	return get_one(github_of(f), owner, repo, number, true, val, out, err);
}

int github_get_pull(struct forge *f, const char *owner, const char *repo, uint64_t number,
		    struct forge_issue *out, struct buf *err)
{
	return get_one(github_of(f), owner, repo, number, true, NULL, out, err);
}

static int list_comments_of(struct github *g, const char *owner, const char *repo, uint64_t number,
			    const char *since, struct forge_validator *val,
			    struct forge_comment_list *out, struct buf *err)
{
	struct buf prefix = BUF_INIT(4096);
	struct comment_acc acc;
	int r = gh_check_repo(owner, repo, err);

	if (r < 0)
		return r;
	memset(&acc, 0, sizeof(acc));
	acc.issue = number;
	if (number) {
		r = gh_numbered_path(&prefix, owner, repo, "issues", number, "/comments", err);
		if (r < 0)
			goto out;
		r = buf_printf(&prefix, "?per_page=%d", GITHUB_PAGE_LIMIT);
	} else {
		r = gh_repo_path(&prefix, owner, repo);
		if (!r)
			r = buf_printf(&prefix,
				       "/issues/comments?sort=created&direction=asc&per_page=%d",
				       GITHUB_PAGE_LIMIT);
		if (!r)
			r = gh_add_since(&prefix, since);
	}
	if (r < 0) {
		r = buf_fail(err, -EINVAL, "comment query for '%s/%s' is too long", owner, repo);
		goto out;
	}
	r = gh_fetch_pages(g, number ? 'k' : 'K', prefix.data, gh_comment_page, &acc, val,
			   gh_deadline_of(g), err);
	if (r == 0) {
		*out = acc.l;
		acc.l.v = NULL;
		acc.l.n = 0;
	}
out:
	forge_comment_list_release(&acc.l);
	buf_release(&prefix);
	return r;
}

int github_list_comments_cond(struct forge *f, const char *owner, const char *repo, uint64_t number,
			      struct forge_validator *val, struct forge_comment_list *out,
			      struct buf *err)
{
	if (number == 0)
		return buf_fail(err, -EINVAL, "issue number 0 in '%s/%s'", owner, repo);
	return list_comments_of(github_of(f), owner, repo, number, NULL, val, out, err);
}

int github_list_comments(struct forge *f, const char *owner, const char *repo, uint64_t number,
			 struct forge_comment_list *out, struct buf *err)
{
	return github_list_comments_cond(f, owner, repo, number, NULL, out, err);
}

int github_list_repo_comments_cond(struct forge *f, const char *owner, const char *repo,
				   const char *since, struct forge_validator *val,
				   struct forge_comment_list *out, struct buf *err)
{
	return list_comments_of(github_of(f), owner, repo, 0, since, val, out, err);
}

int github_list_repo_comments(struct forge *f, const char *owner, const char *repo,
			      const char *since, struct forge_comment_list *out, struct buf *err)
{
	return list_comments_of(github_of(f), owner, repo, 0, since, NULL, out, err);
}

int github_get_diff_cond(struct forge *f, const char *owner, const char *repo, uint64_t number,
			 struct forge_validator *val, struct buf *out, struct buf *err)
{
	struct github *g = github_of(f);
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct http_req q;
	uint64_t tag;
	char *m;
	int r = gh_check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	if (r < 0)
		return r;
	r = gh_numbered_path(&path, owner, repo, "pulls", number, "", err);
	if (r < 0)
		goto out;
	tag = gh_request_tag('d', path.data, ACCEPT_DIFF);
	gh_req_init(&q, HTTP_GET, path.data, NULL);
	q.accept = ACCEPT_DIFF;
	q.etag_in = gh_etag_for(val, tag);
	/* The reason waits in why: a 406 is an answer of its own, not the transport's failure. */
	r = http_run(g->http, &q, 1, gh_deadline_of(g), &why);
	if (r == 0 && q.not_modified) {
		r = gh_validator_out(val, tag, &q, true, err);
	} else if (r == 0) {
		r = buf_append(out, q.body.data, q.body.len);
		if (r == -E2BIG)
			r = buf_fail(err, -EFBIG, "the diff is over %zu bytes, more than is shown",
				     out->max ? out->max : BUF_MAX_DEFAULT);
		else if (r < 0)
			r = buf_fail(err, r, "out of memory");
		else
			r = gh_validator_out(val, tag, &q, true, err);
	} else if (q.status == 406) {
		/* GitHub will not render it (files or lines over its limit): say so in one line. */
		m = github_decode_message(q.body.data, q.body.len);
		r = buf_fail(err, -EFBIG, "github does not show this diff: %s",
			     m ? m : "it is too large");
		free(m);
	} else if (q.too_large && q.length >= 0) {
		r = buf_fail(err, -EFBIG,
			     "the diff is %lld bytes, more than the %zu bytes read (--max-answer)",
			     (long long)q.length, http_max_body(g->http));
	} else if (q.too_large) {
		r = buf_fail(err, -EFBIG,
			     "the diff is over %zu bytes, more than is read (--max-answer)",
			     http_max_body(g->http));
	} else {
		r = gh_errno(r, &q);
		if (err)
			buf_note(err, "%s", buf_cstr(&why));
	}
out:
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	return r;
}

int github_get_diff(struct forge *f, const char *owner, const char *repo, uint64_t number,
		    struct buf *out, struct buf *err)
{
	return github_get_diff_cond(f, owner, repo, number, NULL, out, err);
}

/* GET /user once: a token belongs to one user for the adapter's whole life. */
int github_whoami(struct forge *f, char **login, struct buf *err)
{
	struct github *g = github_of(f);
	struct buf why = BUF_INIT(4096);
	struct http_req q;
	char *l = NULL, *copy = NULL;
	int r;

	pthread_mutex_lock(&g->lock);
	if (g->login)
		copy = str_dup(g->login);
	pthread_mutex_unlock(&g->lock);
	if (copy) {
		*login = copy;
		return 0;
	}
	gh_req_init(&q, HTTP_GET, "/user", NULL);
	r = gh_run(g, &q, gh_deadline_of(g), err);
	if (r == 0) {
		r = github_decode_user(q.body.data, q.body.len, &l, &why);
		if (r < 0)
			r = gh_decode_fail(err, &q, &why, r);
	}
	http_req_release(&q);
	buf_release(&why);
	if (r < 0)
		return r;
	pthread_mutex_lock(&g->lock);
	if (!g->login) {
		g->login = l;
		l = NULL;
	}
	copy = str_dup(g->login);
	pthread_mutex_unlock(&g->lock);
	free(l);
	if (!copy)
		return buf_fail(err, -ENOMEM, "out of memory");
	*login = copy;
	return 0;
}
