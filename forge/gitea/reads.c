/* gitea/reads: the read operations of the adapter (gitea.h, internal.h). */
#include "forge/gitea/internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "forge/gitea/decode.h"
#include "util/str.h"

/* ---- reads ----------------------------------------------------------- */

int gitea_list_repos(struct forge *f, const char *owner, struct forge_name_list *out,
		     struct buf *err)
{
	struct buf prefix = BUF_INIT(4096);
	struct forge_name_list acc = {NULL, 0};
	int r = gt_check_name(owner, "owner", err);

	if (r < 0)
		return r;
	/* Organisations are users in Gitea, so one endpoint serves both. */
	r = buf_puts(&prefix, "/api/v1/users/");
	if (!r)
		r = http_put_escaped(&prefix, owner);
	if (!r)
		r = buf_printf(&prefix, "/repos?limit=%d", GITEA_PAGE_LIMIT);
	if (r < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = gt_fetch_all_pages(gitea_of(f), prefix.data, gt_name_page, &acc,
			       gt_deadline(gitea_of(f)), err);
	if (r == 0) {
		*out = acc;
		acc.v = NULL;
		acc.n = 0;
	}
out:
	forge_name_list_release(&acc);
	buf_release(&prefix);
	return r;
}

int gitea_list_issues(struct forge *f, const char *owner, const char *repo, enum forge_kind kind,
		      const char *since, struct forge_issue_list *out, struct buf *err)
{
	struct buf prefix = BUF_INIT(4096);
	struct issue_acc acc;
	int r = gt_check_repo(owner, repo, err);

	if (r < 0)
		return r;
	memset(&acc, 0, sizeof(acc));
	acc.want = kind;
	/*
	 * /pulls carries head, base and merged but has no `since`; the issue
	 * list with type=pulls has `since` but not those fields. So a full
	 * listing of pulls uses /pulls and a since-query uses /issues (its
	 * items have head/base NULL: see gitea.h).
	 */
	acc.pulls_endpoint = kind == FORGE_PULLS && !since;
	r = gt_repo_path(&prefix, owner, repo);
	if (!r && acc.pulls_endpoint)
		r = buf_printf(&prefix, "/pulls?state=all&limit=%d", GITEA_PAGE_LIMIT);
	else if (!r)
		r = buf_printf(&prefix, "/issues?state=all&type=%s&limit=%d",
			       kind == FORGE_PULLS ? "pulls" : "issues", GITEA_PAGE_LIMIT);
	if (!r)
		r = gt_add_since(&prefix, since);
	if (r < 0) {
		r = buf_fail(err, -EINVAL, "list query for '%s/%s' is too long", owner, repo);
		goto out;
	}
	r = gt_fetch_all_pages(gitea_of(f), prefix.data, gt_issue_page, &acc,
			       gt_deadline(gitea_of(f)), err);
	if (r == 0) {
		*out = acc.l;
		acc.l.v = NULL;
		acc.l.n = 0;
	}
out:
	forge_issue_list_release(&acc.l);
	buf_release(&prefix);
	return r;
}

/* GET {repo}/{kind}/{n}{suffix} into q; a JSON answer is streamed (answer_json). */
int gt_get_numbered(struct gitea *g, const char *owner, const char *repo, const char *kind,
		    uint64_t number, const char *suffix, struct http_req *q, struct buf *path,
		    uint64_t deadline, struct buf *err)
{
	bool json = strcmp(suffix, ".diff") != 0;
	int r;

	memset(q, 0, sizeof(*q));
	if (number == 0)
		return buf_fail(err, -EINVAL, "issue number 0 in '%s/%s'", owner, repo);
	r = gt_repo_path(path, owner, repo);
	if (!r)
		r = buf_printf(path, "/%s/%llu%s", kind, (unsigned long long)number, suffix);
	if (r < 0)
		return buf_fail(err, -ENOMEM, "out of memory");
	if (json)
		return gt_run_stream(g, q, path->data, deadline, err);
	return gt_run_one(g, q, HTTP_GET, path->data, NULL, deadline, err);
}

int gitea_get_issue(struct forge *f, const char *owner, const char *repo, uint64_t number,
		    struct forge_issue *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct forge_issue it;
	struct http_req q;
	json_t *root = NULL;
	int r = gt_check_repo(owner, repo, err);

	if (r < 0)
		return r;
	r = gt_get_numbered(gitea_of(f), owner, repo, "issues", number, "", &q, &path,
			    gt_deadline(gitea_of(f)), err);
	if (r < 0)
		goto out;
	r = gt_answer_json(gitea_of(f), &q, &root, &why);
	if (r == 0)
		r = gitea_decode_issue_root(root, false, &it, &why);
	json_decref(root);
	if (r < 0) {
		r = gt_decode_fail(err, &q, &why, r);
		goto out;
	}
	if (it.is_pull) {
		/* Issues and pull requests are different objects in the tree. */
		forge_issue_release(&it);
		r = buf_fail(err, -ENOENT, "'%s/%s#%llu' is a pull request, not an issue", owner,
			     repo, (unsigned long long)number);
		goto out;
	}
	*out = it;
out:
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	return r;
}

int gitea_get_pull(struct forge *f, const char *owner, const char *repo, uint64_t number,
		   struct forge_issue *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct http_req q;
	int r = gt_check_repo(owner, repo, err);

	if (r < 0)
		return r;
	r = gt_get_numbered(gitea_of(f), owner, repo, "pulls", number, "", &q, &path,
			    gt_deadline(gitea_of(f)), err);
	if (r == 0) {
		json_t *root = NULL;

		r = gt_answer_json(gitea_of(f), &q, &root, &why);
		if (r == 0)
			r = gitea_decode_issue_root(root, true, out, &why);
		json_decref(root);
		if (r < 0)
			r = gt_decode_fail(err, &q, &why, r);
	}
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	return r;
}

/*
 * Gitea answers 500 instead of 404 for the comments of a number that does
 * not exist. A 500 can also be a real server fault, so ask for the issue
 * itself: only its 404 proves the number is missing.
 */
int gt_comments_500(struct gitea *g, const char *owner, const char *repo, uint64_t number, int r,
		    long status, uint64_t deadline, struct buf *err)
{
	struct buf path = BUF_INIT(4096);
	struct http_req probe;
	int pr;

	if (status != 500)
		return r;
	pr = gt_get_numbered(g, owner, repo, "issues", number, "", &probe, &path, deadline, NULL);
	http_req_release(&probe);
	buf_release(&path);
	if (pr == -ENOENT)
		return buf_fail(err, -ENOENT, " ('%s/%s#%llu' does not exist)", owner, repo,
				(unsigned long long)number);
	return r;
}

int gitea_list_comments(struct forge *f, const char *owner, const char *repo, uint64_t number,
			struct forge_comment_list *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	uint64_t deadline = gt_deadline(gitea_of(f));
	struct http_req q;
	int r = gt_check_repo(owner, repo, err);

	if (r < 0)
		return r;
	/* Not paginated: every plain comment, oldest first (FACTS.md). */
	r = gt_get_numbered(gitea_of(f), owner, repo, "issues", number, "/comments", &q, &path,
			    deadline, err);
	if (r < 0) {
		r = gt_comments_500(gitea_of(f), owner, repo, number, r, q.status, deadline, err);
	} else {
		json_t *root = NULL;

		r = gt_answer_json(gitea_of(f), &q, &root, &why);
		if (r == 0)
			r = gitea_decode_comment_list_root(root, number, out, &why);
		json_decref(root);
		if (r < 0)
			r = gt_decode_fail(err, &q, &why, r);
	}
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	return r;
}

int gitea_list_repo_comments(struct forge *f, const char *owner, const char *repo,
			     const char *since, struct forge_comment_list *out, struct buf *err)
{
	struct buf prefix = BUF_INIT(4096);
	struct comment_acc acc;
	int r = gt_check_repo(owner, repo, err);

	if (r < 0)
		return r;
	memset(&acc, 0, sizeof(acc));
	r = gt_repo_path(&prefix, owner, repo);
	if (!r)
		r = buf_printf(&prefix, "/issues/comments?limit=%d", GITEA_PAGE_LIMIT);
	if (!r)
		r = gt_add_since(&prefix, since);
	if (r < 0) {
		r = buf_fail(err, -EINVAL, "comment query for '%s/%s' is too long", owner, repo);
		goto out;
	}
	r = gt_fetch_all_pages(gitea_of(f), prefix.data, gt_comment_page, &acc,
			       gt_deadline(gitea_of(f)), err);
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

int gitea_get_diff(struct forge *f, const char *owner, const char *repo, uint64_t number,
		   struct buf *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct http_req q;
	int r = gt_check_repo(owner, repo, err);

	if (r < 0)
		return r;
	r = gt_get_numbered(gitea_of(f), owner, repo, "pulls", number, ".diff", &q, &path,
			    gt_deadline(gitea_of(f)), &why);
	if (r == 0) {
		r = buf_append(out, q.body.data, q.body.len);
		if (r == -E2BIG)
			r = buf_fail(err, -EFBIG, "the diff is over %zu bytes, more than is shown",
				     out->max ? out->max : BUF_MAX_DEFAULT);
		else if (r < 0)
			r = buf_fail(err, r, "out of memory");
	} else if (q.too_large && q.length >= 0) {
		/* The diff is there, just too large to hold: say so, not "the forge failed". */
		r = buf_fail(err, -EFBIG,
			     "the diff is %lld bytes, more than the %zu bytes read (--max-answer)",
			     (long long)q.length, http_max_body(gitea_of(f)->http));
	} else if (q.too_large) {
		r = buf_fail(err, -EFBIG,
			     "the diff is over %zu bytes, more than is read (--max-answer)",
			     http_max_body(gitea_of(f)->http));
	} else if (err) {
		buf_note(err, "%s", buf_cstr(&why));
	}
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	return r;
}

/*
 * GET /user once: a token belongs to one user for the adapter's whole
 * life, so the answer is kept. Two threads asking first may both ask; the
 * first answer stored wins (they are the same).
 */
int gitea_whoami(struct forge *f, char **login, struct buf *err)
{
	struct gitea *g = gitea_of(f);
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
	r = gt_run_one(g, &q, HTTP_GET, "/api/v1/user", NULL, gt_deadline(g), err);
	if (r == 0) {
		r = gitea_decode_user(q.body.data, q.body.len, &l, &why);
		if (r < 0)
			r = gt_decode_fail(err, &q, &why, r);
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
