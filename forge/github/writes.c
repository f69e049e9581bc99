/* github/writes: the write operations of the GitHub adapter, the GraphQL draft mutations among them
 * (github.h). */
#include "forge/github/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "forge/gitea/decode.h"
#include "util/str.h"

/* ---- writes ----------------------------------------------------------- */

/* Compact JSON text of o (new), or NULL. Takes o. */
static char *json_compact(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

/* json_string refuses invalid UTF-8: that is the caller's malformed input. */
static int add_str(json_t *o, const char *key, const char *v, struct buf *err)
{
	json_t *s;

	if (!v)
		return 0;
	s = json_string(v);
	if (!s)
		return buf_fail(err, -EINVAL, "'%s' is not valid utf-8", key);
	if (json_object_set_new(o, key, s) < 0)
		return buf_fail(err, -ENOMEM, "out of memory");
	return 0;
}

static bool valid_state(const char *s)
{
	return strcmp(s, "open") == 0 || strcmp(s, "closed") == 0;
}

int github_post_comment(struct forge *f, const char *owner, const char *repo, uint64_t number,
			const char *body, struct forge_comment *out, struct buf *err)
{
	struct github *g = github_of(f);
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct http_req q;
	char *text = NULL;
	int r = gh_check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	if (r < 0)
		return r;
	if (number == 0 || !body)
		return buf_fail(err, -EINVAL, "comment needs an issue number and a body");
	{
		json_t *o = json_object();

		if (!o)
			return buf_fail(err, -ENOMEM, "out of memory");
		if ((r = add_str(o, "body", body, err)) < 0) {
			json_decref(o);
			return r;
		}
		text = json_compact(o);
	}
	if (!text)
		return buf_fail(err, -ENOMEM, "out of memory");
	r = gh_numbered_path(&path, owner, repo, "issues", number, "/comments", err);
	if (r < 0)
		goto out;
	gh_req_init(&q, HTTP_POST, path.data, text);
	r = gh_run(g, &q, gh_deadline_of(g), err);
	if (r < 0 || !out)
		goto out;
	if (github_decode_comment(q.body.data, q.body.len, number, out, &why) < 0) {
		/*
		 * The comment is on the forge (201) but its echo is unreadable (or
		 * over the answer cap): report what was sent, with the id when the
		 * echo's first bytes hold it, so the caller never posts it twice.
		 */
		struct forge_comment c = {0,	       number,	    str_dup(body),
					  str_dup(""), str_dup(""), str_dup("")};

		(void)!gitea_decode_prefix_u64(q.body.data, q.body.len, "id", &c.id);
		if (!c.body || !c.author || !c.created_at || !c.updated_at) {
			forge_comment_release(&c);
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		*out = c;
	}
out:
	free(text);
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	return r;
}

int github_update_issue(struct forge *f, const char *owner, const char *repo, uint64_t number,
			const struct forge_issue_patch *patch, struct buf *err)
{
	struct github *g = github_of(f);
	struct buf path = BUF_INIT(4096);
	uint64_t deadline = gh_deadline_of(g);
	struct http_req q;
	json_t *o = NULL, *labels = NULL;
	char *text = NULL;
	size_t i;
	int r = gh_check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	if (r < 0)
		return r;
	if (patch->state && !valid_state(patch->state))
		return buf_fail(err, -EINVAL, "state must be 'open' or 'closed'");
	r = gh_numbered_path(&path, owner, repo, "issues", number, "", err);
	if (r < 0)
		return r;
	if (patch->title || patch->body || patch->state) {
		o = json_object();
		if (!o) {
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		if ((r = add_str(o, "title", patch->title, err)) < 0 ||
		    (r = add_str(o, "body", patch->body, err)) < 0 ||
		    (r = add_str(o, "state", patch->state, err)) < 0)
			goto out;
		text = json_compact(o);
		o = NULL;
		if (!text) {
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		gh_req_init(&q, HTTP_PATCH, path.data, text);
		r = gh_run(g, &q, deadline, err);
		http_req_release(&q);
		free(text);
		text = NULL;
		if (r < 0)
			goto out;
	}
	if (patch->has_labels) {
		/* PUT replaces the whole set; GitHub creates a label it does not know. */
		labels = json_array();
		o = json_object();
		if (!labels || !o) {
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < patch->n_labels; i++) {
			json_t *s = patch->labels[i] ? json_string(patch->labels[i]) : NULL;

			if (!s) {
				r = buf_fail(err, -EINVAL,
					     "label %zu is missing or not valid utf-8", i);
				goto out;
			}
			json_array_append_new(labels, s);
		}
		json_object_set_new(o, "labels", labels);
		labels = NULL;
		text = json_compact(o);
		o = NULL;
		if (!text || buf_puts(&path, "/labels") < 0) {
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		gh_req_init(&q, HTTP_PUT, path.data, text);
		r = gh_run(g, &q, deadline, err);
		http_req_release(&q);
	}
out:
	json_decref(o);
	json_decref(labels);
	free(text);
	buf_release(&path);
	return r;
}

/*
 * The highest issue or pull request number: the newest created item of
 * the issue list (issues and pull requests share one sequence that only
 * grows), 0 when there is none.
 */
static int max_number(struct github *g, const char *owner, const char *repo, uint64_t deadline,
		      uint64_t *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct forge_issue_list l = {NULL, 0};
	struct http_req q;
	uint64_t max = 0;
	size_t i;
	int r;

	memset(&q, 0, sizeof(q));
	r = gh_repo_path(&path, owner, repo);
	if (!r)
		r = buf_puts(&path, "/issues?state=all&sort=created&direction=desc&per_page=1");
	if (r < 0)
		return buf_fail(err, -ENOMEM, "out of memory");
	gh_req_init(&q, HTTP_GET, path.data, NULL);
	r = gh_run(g, &q, deadline, err);
	if (r == 0) {
		r = github_decode_issue_list(q.body.data, q.body.len, false, &l, &why);
		if (r < 0)
			r = gh_decode_fail(err, &q, &why, r);
	}
	for (i = 0; r == 0 && i < l.n; i++)
		if (l.v[i].number > max)
			max = l.v[i].number;
	if (r == 0)
		*out = max;
	forge_issue_list_release(&l);
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	return r;
}

int github_create_pr(struct forge *f, const char *owner, const char *repo,
		     const struct forge_pr_request *req, forge_floor_fn floor_cb, void *floor_ud,
		     uint64_t *number, struct buf *err)
{
	struct github *g = github_of(f);
	uint64_t deadline = gh_deadline_of(g), max = 0;
	/* 65 536 characters of up to 4 bytes each. */
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096),
		   desc = BUF_INIT(4 * GITHUB_MAX_DESCRIPTION_LEN + 1);
	struct forge_capabilities caps;
	struct forge_issue pr;
	struct http_req q;
	json_t *o = NULL;
	char *text = NULL;
	int r = gh_check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	if (r < 0)
		return r;
	if (!req->title || !req->head || !req->base || !req->title[0] || !req->head[0] ||
	    !req->base[0])
		return buf_fail(err, -EINVAL, "pull request needs a title, head and base");
	github_capabilities(f, &caps);
	r = forge_render_description_err(&caps, req, &desc, err);
	if (r < 0)
		goto out;
	o = json_object();
	if (!o) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	if ((r = add_str(o, "title", req->title, err)) < 0 ||
	    (r = add_str(o, "head", req->head, err)) < 0 ||
	    (r = add_str(o, "base", req->base, err)) < 0 ||
	    (r = add_str(o, "body", buf_cstr(&desc), err)) < 0)
		goto out;
	if (json_object_set_new(o, "draft", json_boolean(req->draft)) < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	text = json_compact(o);
	o = NULL;
	r = text ? gh_repo_path(&path, owner, repo) : -ENOMEM;
	if (!r)
		r = buf_puts(&path, "/pulls");
	if (r < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* The floor comes from the same deadline: the whole call stays within timeout_ms. */
	if (floor_cb && max_number(g, owner, repo, deadline, &max, NULL) == 0) {
		r = floor_cb(floor_ud, max);
		if (r != 0)
			goto out;
	}
	gh_req_init(&q, HTTP_POST, path.data, text);
	r = gh_run(g, &q, deadline, err);
	if (r < 0)
		goto out;
	r = github_decode_pull(q.body.data, q.body.len, &pr, &why);
	if (r < 0 && gitea_decode_prefix_u64(q.body.data, q.body.len, "number", number) == 0) {
		/* Created; the echo is unreadable past the number (too long?): enough. */
		r = 0;
		goto out;
	}
	if (r < 0) {
		/* Created, but we cannot say which number: a resend gets EEXIST. */
		r = buf_fail(err, -EIO,
			     "pull request created in '%s/%s' but its number is unreadable: %s",
			     owner, repo, buf_cstr(&why));
		goto out;
	}
	*number = pr.number;
	forge_issue_release(&pr);
out:
	json_decref(o);
	free(text);
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	buf_release(&desc);
	return r;
}

/* One of the two draft mutations on the pull request node_id; *is_draft after it. */
static int draft_mutation(struct github *g, const char *node_id, bool draft, uint64_t deadline,
			  bool *is_draft, struct buf *err)
{
	const char *field = draft ? "convertPullRequestToDraft" : "markPullRequestReadyForReview";
	struct buf query = BUF_INIT(1024), why = BUF_INIT(1024);
	struct http_req q;
	char *text = NULL;
	json_t *o;
	int r;

	memset(&q, 0, sizeof(q));
	/* The id goes in a variable: nothing of the forge's is spliced into the query. */
	if (buf_printf(&query,
		       "mutation($id: ID!) { %s(input: {pullRequestId: $id}) "
		       "{ pullRequest { isDraft } } }",
		       field) < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	o = json_pack("{s:s, s:{s:s}}", "query", query.data, "variables", "id", node_id);
	text = json_compact(o);
	if (!text) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	gh_req_init(&q, HTTP_POST, "/graphql", text);
	q.url = g->graphql_url;
	q.bucket = "graphql";
	r = gh_run(g, &q, deadline, err);
	if (r == 0) {
		r = github_decode_draft_mutation(q.body.data, q.body.len, field, is_draft, &why);
		if (r < 0 && err)
			buf_note(err, "%s: %s", field, buf_cstr(&why));
	}
out:
	free(text);
	http_req_release(&q);
	buf_release(&query);
	buf_release(&why);
	return r;
}

int github_update_pr_status(struct forge *f, const char *owner, const char *repo, uint64_t number,
			    const char *state, struct buf *err)
{
	struct github *g = github_of(f);
	uint64_t deadline = gh_deadline_of(g);
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct forge_issue pr;
	struct http_req q;
	char *text = NULL, *node_id = NULL;
	bool want_draft, is_draft = false;
	int r = gh_check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	memset(&pr, 0, sizeof(pr));
	if (r < 0)
		return r;
	if (!state ||
	    (!valid_state(state) && strcmp(state, "draft") != 0 && strcmp(state, "ready") != 0))
		return buf_fail(err, -EINVAL, "state must be 'open', 'closed', 'draft' or 'ready'");
	r = gh_numbered_path(&path, owner, repo, "pulls", number, "", err);
	if (r < 0)
		return r;
	if (valid_state(state)) {
		json_t *o = json_pack("{s:s}", "state", state);

		text = json_compact(o);
		if (!text) {
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		gh_req_init(&q, HTTP_PATCH, path.data, text);
		r = gh_run(g, &q, deadline, err);
		goto out;
	}
	/* REST cannot change draft after creation: GraphQL, on the pull request's node id. */
	want_draft = strcmp(state, "draft") == 0;
	gh_req_init(&q, HTTP_GET, path.data, NULL);
	r = gh_run(g, &q, deadline, err);
	if (r == 0 && (github_decode_pull(q.body.data, q.body.len, &pr, &why) < 0 ||
		       github_decode_node_id(q.body.data, q.body.len, &node_id, &why) < 0))
		r = gh_decode_fail(err, &q, &why, -EIO);
	if (r < 0)
		goto out;
	if (strcmp(pr.state, "open") != 0) {
		r = buf_fail(err, -EINVAL,
			     "'%s/%s#%llu' is %s: only an open pull request can be %s", owner, repo,
			     (unsigned long long)number, pr.merged ? "merged" : "closed",
			     want_draft ? "a draft" : "marked ready");
		goto out;
	}
	if (pr.draft == want_draft)
		goto out; /* already so: nothing to send */
	r = draft_mutation(g, node_id, want_draft, deadline, &is_draft, err);
	if (r == 0 && is_draft != want_draft)
		r = buf_fail(err, -EIO, "'%s/%s#%llu' is still %s after the mutation", owner, repo,
			     (unsigned long long)number, is_draft ? "a draft" : "not a draft");
out:
	free(text);
	free(node_id);
	forge_issue_release(&pr);
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	return r;
}
