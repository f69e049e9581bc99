/* gitea/writes: the write operations of the adapter (gitea.h, internal.h). */
#include "forge/gitea/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "forge/gitea/decode.h"
#include "util/str.h"

/* ---- writes ---------------------------------------------------------- */

/* Compact JSON text of o (new), or NULL. Takes o. */
static char *json_body_take(json_t *o)
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

int gitea_post_comment(struct forge *f, const char *owner, const char *repo, uint64_t number,
		       const char *body, struct forge_comment *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	uint64_t deadline = gt_deadline(gitea_of(f));
	struct http_req q;
	json_t *o = NULL;
	char *text = NULL;
	int r = gt_check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	if (r < 0)
		return r;
	if (number == 0 || !body)
		return buf_fail(err, -EINVAL, "comment needs an issue number and a body");
	o = json_object();
	if (!o) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	if ((r = add_str(o, "body", body, err)) < 0)
		goto out;
	text = json_body_take(o);
	o = NULL;
	if (!text) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = gt_repo_path(&path, owner, repo);
	if (!r)
		r = buf_printf(&path, "/issues/%llu/comments", (unsigned long long)number);
	if (r < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = gt_run_one(gitea_of(f), &q, HTTP_POST, path.data, text, deadline, err);
	if (r < 0) {
		r = gt_comments_500(gitea_of(f), owner, repo, number, r, q.status, deadline, err);
		goto out;
	}
	if (!out)
		goto out;
	if (gitea_decode_comment(q.body.data, q.body.len, number, out, &why) < 0) {
		/*
		 * The comment is on the forge (201), but its echo is not JSON we
		 * can read (or longer than the answer cap: q.too_large). Failing
		 * now would make the agent post it again, so report what we sent,
		 * with the id when the echo's first bytes hold it, else 0.
		 */
		struct forge_comment c = {0,	       number,	    str_dup(body),
					  str_dup(""), str_dup(""), str_dup("")};

		/* No id in the echo's first bytes: it stays 0 (journaled as "comment 0"). */
		(void)!gitea_decode_prefix_u64(q.body.data, q.body.len, "id", &c.id);
		if (!c.body || !c.author || !c.created_at || !c.updated_at) {
			forge_comment_release(&c);
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		*out = c;
	}
out:
	json_decref(o);
	free(text);
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	return r;
}

/* PATCH {path} with the title, body and state the patch changes (Gitea answers 201). */
static int patch_fields(struct gitea *g, const char *path, const struct forge_issue_patch *patch,
			uint64_t deadline, struct buf *err)
{
	json_t *o = json_object();
	struct http_req q;
	char *text;
	int r;

	if (!o)
		return buf_fail(err, -ENOMEM, "out of memory");
	if ((r = add_str(o, "title", patch->title, err)) < 0 ||
	    (r = add_str(o, "body", patch->body, err)) < 0 ||
	    (r = add_str(o, "state", patch->state, err)) < 0) {
		json_decref(o);
		return r;
	}
	text = json_body_take(o);
	if (!text)
		return buf_fail(err, -ENOMEM, "out of memory");
	/* Any 2xx is success. */
	r = gt_run_one(g, &q, HTTP_PATCH, path, text, deadline, err);
	http_req_release(&q);
	free(text);
	return r;
}

/* PUT {path}/labels with the label names: it replaces the whole set (names or ids). */
static int put_labels(struct gitea *g, const char *path, const struct forge_issue_patch *patch,
		      uint64_t deadline, struct buf *err)
{
	struct buf lpath = BUF_INIT(4096);
	json_t *labels = json_array(), *o = NULL;
	struct http_req q;
	char *text = NULL;
	size_t i;
	int r = 0;

	if (!labels || buf_printf(&lpath, "%s/labels", path) < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < patch->n_labels; i++) {
		json_t *s = patch->labels[i] ? json_string(patch->labels[i]) : NULL;

		if (!s) {
			r = buf_fail(err, -EINVAL, "label %zu is missing or not valid utf-8", i);
			goto out;
		}
		if (json_array_append_new(labels, s) < 0) {
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
	}
	o = json_object();
	if (!o) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = json_object_set_new(o, "labels", labels);
	labels = NULL; /* json_object_set_new takes it, even when it fails */
	if (r < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	text = json_body_take(o);
	o = NULL;
	if (!text) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = gt_run_one(g, &q, HTTP_PUT, lpath.data, text, deadline, err);
	http_req_release(&q);
out:
	json_decref(o);
	json_decref(labels);
	free(text);
	buf_release(&lpath);
	return r;
}

int gitea_update_issue(struct forge *f, const char *owner, const char *repo, uint64_t number,
		       const struct forge_issue_patch *patch, struct buf *err)
{
	struct buf path = BUF_INIT(4096);
	uint64_t deadline = gt_deadline(gitea_of(f));
	int r = gt_check_repo(owner, repo, err);

	if (r < 0)
		return r;
	if (number == 0)
		return buf_fail(err, -EINVAL, "issue number 0 in '%s/%s'", owner, repo);
	if (patch->state && !valid_state(patch->state))
		return buf_fail(err, -EINVAL, "state must be 'open' or 'closed'");
	r = gt_repo_path(&path, owner, repo);
	if (!r)
		r = buf_printf(&path, "/issues/%llu", (unsigned long long)number);
	if (r < 0) {
		buf_release(&path);
		return buf_fail(err, -ENOMEM, "out of memory");
	}
	if (patch->title || patch->body || patch->state)
		r = patch_fields(gitea_of(f), path.data, patch, deadline, err);
	if (r == 0 && patch->has_labels)
		r = put_labels(gitea_of(f), path.data, patch, deadline, err);
	buf_release(&path);
	return r;
}

/*
 * The issue list without a type is issues and pull requests together,
 * newest created first (FACTS.md), so its first page holds the highest
 * number; the maximum of the page is taken rather than its first item, in
 * case an imported item was created out of order.
 */
static int max_number(struct gitea *g, const char *owner, const char *repo, uint64_t deadline,
		      uint64_t *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct forge_issue_list l = {NULL, 0};
	struct http_req q;
	uint64_t max = 0;
	size_t i;
	int r;

	memset(&q, 0, sizeof(q));
	r = gt_repo_path(&path, owner, repo);
	if (!r)
		r = buf_printf(&path, "/issues?state=all&limit=%d&page=1", GITEA_PAGE_LIMIT);
	if (r < 0)
		return buf_fail(err, -ENOMEM, "out of memory");
	r = gt_run_one(g, &q, HTTP_GET, path.data, NULL, deadline, err);
	if (r == 0) {
		r = gitea_decode_issue_list(q.body.data, q.body.len, false, &l, &why);
		if (r < 0)
			r = gt_decode_fail(err, &q, &why, r);
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

/*
 * Gitea's default WORK_IN_PROGRESS_PREFIXES: a pull request whose title
 * starts with one (case aside) is a draft. The server's own list is not
 * readable over the API.
 */
static const char *const wip_prefixes[] = {"WIP:", "[WIP]"};
#define WIP_NEW "WIP: "

/*
 * The length of the work-in-progress prefix title starts with, spaces after
 * it included; 0: none.
 */
static size_t wip_prefix_len(const char *title)
{
	size_t i, k, n;

	for (i = 0; i < sizeof(wip_prefixes) / sizeof(wip_prefixes[0]); i++) {
		n = strlen(wip_prefixes[i]);
		if (strncasecmp(title, wip_prefixes[i], n) == 0) {
			for (k = n; title[k] == ' ' || title[k] == '\t'; k++)
				;
			return k;
		}
	}
	return 0;
}

int gitea_create_pr(struct forge *f, const char *owner, const char *repo,
		    const struct forge_pr_request *req, forge_floor_fn floor_cb, void *floor_ud,
		    uint64_t *number, struct buf *err)
{
	uint64_t deadline = gt_deadline(gitea_of(f)), max = 0;
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096),
		   desc = BUF_INIT(GITEA_MAX_DESCRIPTION_LEN + 1), title = BUF_INIT(65536);
	struct forge_capabilities caps;
	struct forge_issue pr;
	struct http_req q;
	json_t *o = NULL;
	char *text = NULL;
	int r = gt_check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	if (r < 0)
		return r;
	if (!req->title || !req->head || !req->base || !req->title[0] || !req->head[0] ||
	    !req->base[0])
		return buf_fail(err, -EINVAL, "pull request needs a title, head and base");
	gitea_capabilities(f, &caps);
	r = forge_render_description_err(&caps, req, &desc, err);
	if (r < 0)
		goto out;
	o = json_object();
	if (!o) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* Gitea's draft is its work-in-progress title prefix. */
	if (req->draft && !wip_prefix_len(req->title) &&
	    (buf_puts(&title, WIP_NEW) < 0 || buf_puts(&title, req->title) < 0)) {
		r = buf_fail(err, -EINVAL, "pull request title is too long");
		goto out;
	}
	if ((r = add_str(o, "title", title.len ? title.data : req->title, err)) < 0 ||
	    (r = add_str(o, "head", req->head, err)) < 0 ||
	    (r = add_str(o, "base", req->base, err)) < 0 ||
	    (r = add_str(o, "body", buf_cstr(&desc), err)) < 0)
		goto out;
	text = json_body_take(o);
	o = NULL;
	r = text ? gt_repo_path(&path, owner, repo) : -ENOMEM;
	if (!r)
		r = buf_puts(&path, "/pulls");
	if (r < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* The floor comes from the same deadline: the whole call stays within timeout_ms. */
	if (floor_cb && max_number(gitea_of(f), owner, repo, deadline, &max, NULL) == 0) {
		r = floor_cb(floor_ud, max);
		if (r != 0)
			goto out;
	}
	r = gt_run_one(gitea_of(f), &q, HTTP_POST, path.data, text, deadline, err);
	if (r < 0)
		goto out;
	r = gitea_decode_pull(q.body.data, q.body.len, &pr, &why);
	if (r < 0 && gitea_decode_prefix_u64(q.body.data, q.body.len, "number", number) == 0) {
		/* Created; the echo is unreadable past the number (too long?): enough. */
		r = 0;
		goto out;
	}
	if (r < 0) {
		/* Created, but we cannot say which number: a resend gets 409. */
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
	buf_release(&title);
	return r;
}

/* PATCH /pulls/{n} with one string field. */
static int patch_pull(struct gitea *g, const char *path, const char *key, const char *value,
		      uint64_t deadline, struct buf *err)
{
	struct http_req q;
	json_t *o = json_object();
	char *text = NULL;
	int r;

	memset(&q, 0, sizeof(q));
	if (!o)
		return buf_fail(err, -ENOMEM, "out of memory");
	r = add_str(o, key, value, err);
	if (r == 0) {
		text = json_body_take(o);
		o = NULL;
		r = text ? gt_run_one(g, &q, HTTP_PATCH, path, text, deadline, err)
			 : buf_fail(err, -ENOMEM, "out of memory");
	}
	json_decref(o);
	free(text);
	http_req_release(&q);
	return r;
}

int gitea_update_pr_status(struct forge *f, const char *owner, const char *repo, uint64_t number,
			   const char *state, struct buf *err)
{
	struct gitea *g = gitea_of(f);
	uint64_t deadline = gt_deadline(g);
	struct buf path = BUF_INIT(4096), gpath = BUF_INIT(4096), why = BUF_INIT(4096),
		   title = BUF_INIT(65536);
	struct forge_issue pr;
	struct http_req q;
	json_t *root = NULL;
	bool want_draft;
	size_t k;
	int r = gt_check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	memset(&pr, 0, sizeof(pr));
	if (r < 0)
		return r;
	if (number == 0)
		return buf_fail(err, -EINVAL, "pull request number 0 in '%s/%s'", owner, repo);
	if (!state ||
	    (!valid_state(state) && strcmp(state, "draft") != 0 && strcmp(state, "ready") != 0))
		return buf_fail(err, -EINVAL, "state must be 'open', 'closed', 'draft' or 'ready'");
	r = gt_repo_path(&path, owner, repo);
	if (!r)
		r = buf_printf(&path, "/pulls/%llu", (unsigned long long)number);
	if (r < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (valid_state(state)) {
		r = patch_pull(g, path.data, "state", state, deadline, err);
		goto out;
	}
	/* Draft or ready: the title says which it is now (as Gitea decides it). */
	want_draft = strcmp(state, "draft") == 0;
	r = gt_get_numbered(g, owner, repo, "pulls", number, "", &q, &gpath, deadline, err);
	if (r == 0) {
		r = gt_answer_json(g, &q, &root, &why);
		if (r == 0)
			r = gitea_decode_issue_root(root, true, &pr, &why);
		json_decref(root);
		if (r < 0)
			r = gt_decode_fail(err, &q, &why, r);
	}
	if (r < 0)
		goto out;
	if (strcmp(pr.state, "open") != 0) {
		r = buf_fail(err, -EINVAL,
			     "'%s/%s#%llu' is %s: only an open pull request can be %s", owner, repo,
			     (unsigned long long)number, pr.merged ? "merged" : "closed",
			     want_draft ? "a draft" : "marked ready");
		goto out;
	}
	k = wip_prefix_len(pr.title);
	if ((k > 0) == want_draft)
		goto out; /* already so: nothing to send */
	if (want_draft)
		r = buf_puts(&title, WIP_NEW) < 0 || buf_puts(&title, pr.title) < 0 ? -E2BIG : 0;
	else if (!pr.title[k])
		r = buf_fail(err, -EINVAL,
			     "'%s/%s#%llu' has no title but its work-in-progress prefix", owner,
			     repo, (unsigned long long)number);
	else
		r = buf_puts(&title, pr.title + k) < 0 ? -E2BIG : 0;
	if (r == -E2BIG)
		r = buf_fail(err, -EINVAL, "the title of '%s/%s#%llu' is too long", owner, repo,
			     (unsigned long long)number);
	if (r == 0)
		r = patch_pull(g, path.data, "title", title.data, deadline, err);
out:
	forge_issue_release(&pr);
	http_req_release(&q);
	buf_release(&path);
	buf_release(&gpath);
	buf_release(&why);
	buf_release(&title);
	return r;
}
