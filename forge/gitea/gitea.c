/*
 * gitea: the Gitea adapter (see gitea.h): paths and request bodies here,
 * HTTP in http.c, JSON in decode.c.
 *
 * Every operation takes one deadline, now + timeout_ms, and passes it to
 * each request it makes (page 1, the other pages, a probe), so the whole
 * operation, retries included, ends by then.
 */
#include "forge/gitea/gitea.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "forge/gitea/decode.h"
#include "forge/gitea/http.h"
#include "util/str.h"

/*
 * Gitea keeps a pull request body in a LONGTEXT column, so the database
 * would take far more; 64 KiB is our conservative limit, the size of
 * GitHub's PR body limit, so descriptions stay portable and readable.
 */
#define GITEA_MAX_DESCRIPTION_LEN 65536
#define GITEA_PAGE_LIMIT 50
/* 2000 pages of 50: a repository bigger than 100k items is refused. */
#define GITEA_MAX_PAGES 2000
#define GITEA_NAME_MAX 255

struct gitea {
	struct forge base; /* first: struct forge * <-> struct gitea * */
	struct http *http; /* thread-safe on its own */
	unsigned timeout_ms;
	pthread_mutex_t lock; /* guards login */
	char *login;	      /* the token's user once GET /user answered; lock */
};

static struct gitea *G(struct forge *f)
{
	return (struct gitea *)f;
}

static uint64_t deadline_of(struct gitea *g)
{
	return http_now_ms() + g->timeout_ms;
}

/* Owner and repository names reach a URL path: refuse what cannot be one. */
static int check_name(const char *s, const char *what, struct buf *err)
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

static int check_repo(const char *owner, const char *repo, struct buf *err)
{
	int r = check_name(owner, "owner", err);

	return r < 0 ? r : check_name(repo, "repository", err);
}

/* Percent-encodes everything but RFC 3986 unreserved bytes. */
static int put_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int r = 0;

	for (; *s && r == 0; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			r = buf_putc(b, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			r = buf_append(b, e, 3);
		}
	}
	return r;
}

/* "&since=T" for a list query when since is given (FACTS.md: updated_at >= T). */
static int add_since(struct buf *b, const char *since)
{
	int r;

	if (!since)
		return 0;
	r = buf_puts(b, "&since=");
	return r ? r : put_escaped(b, since);
}

/* "/api/v1/repos/{owner}/{repo}" with both segments escaped. */
static int repo_path(struct buf *b, const char *owner, const char *repo)
{
	int r = buf_puts(b, "/api/v1/repos/");

	if (!r)
		r = put_escaped(b, owner);
	if (!r)
		r = buf_putc(b, '/');
	if (!r)
		r = put_escaped(b, repo);
	return r;
}

/* One request; the response stays in *q for the caller to read and release. */
static int run_one(struct gitea *g, struct http_req *q, enum http_method m, const char *path,
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
static size_t max_values(struct gitea *g)
{
	size_t v = http_max_body(g->http) / 16;

	return v > GITEA_DECODE_MAX_VALUES ? v : GITEA_DECODE_MAX_VALUES;
}

/* A streamed 2xx answer in q parsed into *root (new), the reason in why. */
static int answer_json(struct gitea *g, struct http_req *q, json_t **root, struct buf *why)
{
	return http_req_json(q, max_values(g), root, why);
}

static int decode_fail(struct buf *err, const struct http_req *q, struct buf *why, int r)
{
	if (err)
		buf_printf(err, "decoding '%s': %s", q->path, buf_cstr(why));
	return r;
}

/* ---- paging ---------------------------------------------------------- */

/*
 * A list operation's page sink: decodes one page's body, appends its items
 * to acc and says how many there were.
 */
typedef int (*page_fn)(void *acc, json_t *root, size_t *n_items, struct buf *err);

/* A page's answer (streamed) parsed and given to fn; the tree is freed after. */
static int take_page(struct gitea *g, struct http_req *q, page_fn fn, void *acc, size_t *n_items,
		     struct buf *why)
{
	json_t *root = NULL;
	int r = answer_json(g, q, &root, why);

	if (r == 0)
		r = fn(acc, root, n_items, why);
	json_decref(root);
	return r;
}

/* Like run_one, for a GET whose JSON answer is parsed as it is read. */
static int run_stream(struct gitea *g, struct http_req *q, const char *path, uint64_t deadline,
		      struct buf *err)
{
	memset(q, 0, sizeof(*q));
	q->method = HTTP_GET;
	q->path = path;
	q->stream = true;
	return http_run(g->http, q, 1, deadline, err);
}

static int page_path(struct buf *b, const char *prefix, size_t page)
{
	buf_reset(b);
	return buf_printf(b, "%s&page=%zu", prefix, page);
}

/*
 * Fetches every page of prefix ("...?...&limit=50", no page) into acc.
 * Page 1 first; its X-Total-Count and the number of items it actually held
 * (the limit may have been clamped) give the page count, and the other
 * pages are fetched in parallel. Page URLs are always built from our base
 * URL, never from Link (its host is Gitea's ROOT_URL, which may differ).
 * If a later page reports a larger total (items were created meanwhile),
 * the missing pages are fetched too. Without X-Total-Count, pages are read
 * one by one until a short page.
 */
static int fetch_all_pages(struct gitea *g, const char *prefix, page_fn fn, void *acc,
			   uint64_t deadline, struct buf *err)
{
	struct buf path = BUF_INIT(65536), why = BUF_INIT(4096);
	struct http_req first, *qs = NULL;
	char **paths = NULL;
	size_t per_page, got, pages, next, i, batch = 0;
	uint64_t total;
	int r;

	memset(&first, 0, sizeof(first));
	if ((r = page_path(&path, prefix, 1)) < 0)
		goto out;
	r = run_stream(g, &first, path.data, deadline, err);
	if (r < 0)
		goto out;
	r = take_page(g, &first, fn, acc, &per_page, &why);
	if (r < 0) {
		r = decode_fail(err, &first, &why, r);
		goto out;
	}
	if (!first.has_total) {
		/* Sequential fallback: stop at the first page shorter than page 1. */
		got = per_page;
		for (next = 2; got > 0 && got >= per_page && next <= GITEA_MAX_PAGES; next++) {
			struct http_req q;

			if ((r = page_path(&path, prefix, next)) < 0)
				goto out;
			r = run_stream(g, &q, path.data, deadline, err);
			if (r == 0) {
				r = take_page(g, &q, fn, acc, &got, &why);
				if (r < 0)
					r = decode_fail(err, &q, &why, r);
			}
			http_req_release(&q);
			if (r < 0)
				goto out;
		}
		if (got && next > GITEA_MAX_PAGES)
			r = buf_fail(err, -EIO, "'%s': more than %d pages", prefix,
				     GITEA_MAX_PAGES);
		goto out;
	}
	total = first.total;
	if (total <= per_page)
		goto out;
	if (per_page == 0) {
		r = buf_fail(err, -EIO, "'%s': page 1 is empty but x-total-count is %llu", prefix,
			     (unsigned long long)total);
		goto out;
	}
	next = 2;
	for (;;) {
		uint64_t want = (total + per_page - 1) / per_page;

		if (want > GITEA_MAX_PAGES) {
			r = buf_fail(err, -EIO, "'%s': %llu items is more than %d pages", prefix,
				     (unsigned long long)total, GITEA_MAX_PAGES);
			goto out;
		}
		pages = (size_t)want;
		if (next > pages)
			break;
		batch = pages - next + 1;
		qs = calloc(batch, sizeof(*qs));
		paths = calloc(batch, sizeof(*paths));
		if (!qs || !paths) {
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < batch; i++) {
			if ((r = page_path(&path, prefix, next + i)) < 0)
				goto out;
			paths[i] = buf_steal(&path, NULL);
			if (!paths[i]) {
				r = buf_fail(err, -ENOMEM, "out of memory");
				goto out;
			}
			qs[i].method = HTTP_GET;
			qs[i].path = paths[i];
			qs[i].stream = true;
		}
		r = http_run(g->http, qs, batch, deadline, err);
		for (i = 0; r == 0 && i < batch; i++) {
			r = take_page(g, &qs[i], fn, acc, &got, &why);
			if (r < 0)
				r = decode_fail(err, &qs[i], &why, r);
			else if (qs[i].has_total && qs[i].total > total)
				total = qs[i].total;
		}
		for (i = 0; i < batch; i++) {
			http_req_release(&qs[i]);
			free(paths[i]);
		}
		free(qs);
		free(paths);
		qs = NULL;
		paths = NULL;
		if (r < 0)
			goto out;
		next = pages + 1;
	}
out:
	if (r == -E2BIG)
		r = buf_fail(err, -EIO, "'%s': path too long", prefix);
	for (i = 0; qs && paths && i < batch; i++) {
		http_req_release(&qs[i]);
		free(paths[i]);
	}
	free(qs);
	free(paths);
	http_req_release(&first);
	buf_release(&path);
	buf_release(&why);
	return r;
}

/* ---- list sinks ------------------------------------------------------ */

struct issue_acc {
	struct forge_issue_list l;
	bool pulls_endpoint;
	enum forge_kind want;
};

static bool has_issue(const struct forge_issue_list *l, uint64_t number)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].number == number)
			return true;
	return false;
}

static int issue_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
{
	struct issue_acc *acc = accp;
	struct forge_issue_list page;
	struct forge_issue *v;
	size_t i;
	int r = gitea_decode_issue_list_root(root, acc->pulls_endpoint, &page, err);

	if (r < 0)
		return r;
	*n_items = page.n;
	v = realloc(acc->l.v, (acc->l.n + page.n + 1) * sizeof(*v));
	if (!v) {
		forge_issue_list_release(&page);
		return buf_fail(err, -ENOMEM, "out of memory");
	}
	acc->l.v = v;
	for (i = 0; i < page.n; i++) {
		struct forge_issue *it = &page.v[i];
		bool keep = it->is_pull == (acc->want == FORGE_PULLS);

		/*
		 * The type filter is the forge's job, but one number must never
		 * show up as both; an item that moved between pages while we
		 * read them arrives twice and is kept once.
		 */
		if (keep && !has_issue(&acc->l, it->number)) {
			acc->l.v[acc->l.n++] = *it;
			memset(it, 0, sizeof(*it));
		} else {
			forge_issue_release(it);
		}
	}
	free(page.v);
	return 0;
}

struct comment_acc {
	struct forge_comment_list l;
};

static int comment_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
{
	struct comment_acc *acc = accp;
	struct forge_comment_list page;
	struct forge_comment *v;
	size_t i, j;
	int r = gitea_decode_comment_list_root(root, 0, &page, err);

	if (r < 0)
		return r;
	*n_items = page.n;
	v = realloc(acc->l.v, (acc->l.n + page.n + 1) * sizeof(*v));
	if (!v) {
		forge_comment_list_release(&page);
		return buf_fail(err, -ENOMEM, "out of memory");
	}
	acc->l.v = v;
	for (i = 0; i < page.n; i++) {
		bool dup = false;

		for (j = 0; j < acc->l.n && !dup; j++)
			dup = acc->l.v[j].id == page.v[i].id;
		if (dup) {
			forge_comment_release(&page.v[i]);
		} else {
			acc->l.v[acc->l.n++] = page.v[i];
			memset(&page.v[i], 0, sizeof(page.v[i]));
		}
	}
	free(page.v);
	return 0;
}

static int name_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
{
	struct forge_name_list *acc = accp, page;
	char **v;
	size_t i, j;
	int r = gitea_decode_repo_list_root(root, &page, err);

	if (r < 0)
		return r;
	*n_items = page.n;
	v = realloc(acc->v, (acc->n + page.n + 1) * sizeof(*v));
	if (!v) {
		forge_name_list_release(&page);
		return buf_fail(err, -ENOMEM, "out of memory");
	}
	acc->v = v;
	for (i = 0; i < page.n; i++) {
		bool dup = false;

		for (j = 0; j < acc->n && !dup; j++)
			dup = strcmp(acc->v[j], page.v[i]) == 0;
		if (dup) {
			free(page.v[i]);
		} else {
			acc->v[acc->n++] = page.v[i];
		}
		page.v[i] = NULL;
	}
	free(page.v);
	return 0;
}

/* ---- reads ----------------------------------------------------------- */

static int gitea_list_repos(struct forge *f, const char *owner, struct forge_name_list *out,
			    struct buf *err)
{
	struct buf prefix = BUF_INIT(4096);
	struct forge_name_list acc = {NULL, 0};
	int r = check_name(owner, "owner", err);

	if (r < 0)
		return r;
	/* Organisations are users in Gitea, so one endpoint serves both. */
	r = buf_puts(&prefix, "/api/v1/users/");
	if (!r)
		r = put_escaped(&prefix, owner);
	if (!r)
		r = buf_printf(&prefix, "/repos?limit=%d", GITEA_PAGE_LIMIT);
	if (r < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = fetch_all_pages(G(f), prefix.data, name_page, &acc, deadline_of(G(f)), err);
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

static int gitea_list_issues(struct forge *f, const char *owner, const char *repo,
			     enum forge_kind kind, const char *since, struct forge_issue_list *out,
			     struct buf *err)
{
	struct buf prefix = BUF_INIT(4096);
	struct issue_acc acc;
	int r = check_repo(owner, repo, err);

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
	r = repo_path(&prefix, owner, repo);
	if (!r && acc.pulls_endpoint)
		r = buf_printf(&prefix, "/pulls?state=all&limit=%d", GITEA_PAGE_LIMIT);
	else if (!r)
		r = buf_printf(&prefix, "/issues?state=all&type=%s&limit=%d",
			       kind == FORGE_PULLS ? "pulls" : "issues", GITEA_PAGE_LIMIT);
	if (!r)
		r = add_since(&prefix, since);
	if (r < 0) {
		r = buf_fail(err, -EINVAL, "list query for '%s/%s' is too long", owner, repo);
		goto out;
	}
	r = fetch_all_pages(G(f), prefix.data, issue_page, &acc, deadline_of(G(f)), err);
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
static int get_numbered(struct gitea *g, const char *owner, const char *repo, const char *kind,
			uint64_t number, const char *suffix, struct http_req *q, struct buf *path,
			uint64_t deadline, struct buf *err)
{
	bool json = strcmp(suffix, ".diff") != 0;
	int r;

	memset(q, 0, sizeof(*q));
	if (number == 0)
		return buf_fail(err, -EINVAL, "issue number 0 in '%s/%s'", owner, repo);
	r = repo_path(path, owner, repo);
	if (!r)
		r = buf_printf(path, "/%s/%llu%s", kind, (unsigned long long)number, suffix);
	if (r < 0)
		return buf_fail(err, -ENOMEM, "out of memory");
	if (json)
		return run_stream(g, q, path->data, deadline, err);
	return run_one(g, q, HTTP_GET, path->data, NULL, deadline, err);
}

static int gitea_get_issue(struct forge *f, const char *owner, const char *repo, uint64_t number,
			   struct forge_issue *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct forge_issue it;
	struct http_req q;
	json_t *root = NULL;
	int r = check_repo(owner, repo, err);

	if (r < 0)
		return r;
	r = get_numbered(G(f), owner, repo, "issues", number, "", &q, &path, deadline_of(G(f)),
			 err);
	if (r < 0)
		goto out;
	r = answer_json(G(f), &q, &root, &why);
	if (r == 0)
		r = gitea_decode_issue_root(root, false, &it, &why);
	json_decref(root);
	if (r < 0) {
		r = decode_fail(err, &q, &why, r);
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

static int gitea_get_pull(struct forge *f, const char *owner, const char *repo, uint64_t number,
			  struct forge_issue *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct http_req q;
	int r = check_repo(owner, repo, err);

	if (r < 0)
		return r;
	r = get_numbered(G(f), owner, repo, "pulls", number, "", &q, &path, deadline_of(G(f)), err);
	if (r == 0) {
		json_t *root = NULL;

		r = answer_json(G(f), &q, &root, &why);
		if (r == 0)
			r = gitea_decode_issue_root(root, true, out, &why);
		json_decref(root);
		if (r < 0)
			r = decode_fail(err, &q, &why, r);
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
static int comments_500(struct gitea *g, const char *owner, const char *repo, uint64_t number,
			int r, long status, uint64_t deadline, struct buf *err)
{
	struct buf path = BUF_INIT(4096);
	struct http_req probe;
	int pr;

	if (status != 500)
		return r;
	pr = get_numbered(g, owner, repo, "issues", number, "", &probe, &path, deadline, NULL);
	http_req_release(&probe);
	buf_release(&path);
	if (pr == -ENOENT)
		return buf_fail(err, -ENOENT, " ('%s/%s#%llu' does not exist)", owner, repo,
				(unsigned long long)number);
	return r;
}

static int gitea_list_comments(struct forge *f, const char *owner, const char *repo,
			       uint64_t number, struct forge_comment_list *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	uint64_t deadline = deadline_of(G(f));
	struct http_req q;
	int r = check_repo(owner, repo, err);

	if (r < 0)
		return r;
	/* Not paginated: every plain comment, oldest first (FACTS.md). */
	r = get_numbered(G(f), owner, repo, "issues", number, "/comments", &q, &path, deadline,
			 err);
	if (r < 0) {
		r = comments_500(G(f), owner, repo, number, r, q.status, deadline, err);
	} else {
		json_t *root = NULL;

		r = answer_json(G(f), &q, &root, &why);
		if (r == 0)
			r = gitea_decode_comment_list_root(root, number, out, &why);
		json_decref(root);
		if (r < 0)
			r = decode_fail(err, &q, &why, r);
	}
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	return r;
}

static int gitea_list_repo_comments(struct forge *f, const char *owner, const char *repo,
				    const char *since, struct forge_comment_list *out,
				    struct buf *err)
{
	struct buf prefix = BUF_INIT(4096);
	struct comment_acc acc;
	int r = check_repo(owner, repo, err);

	if (r < 0)
		return r;
	memset(&acc, 0, sizeof(acc));
	r = repo_path(&prefix, owner, repo);
	if (!r)
		r = buf_printf(&prefix, "/issues/comments?limit=%d", GITEA_PAGE_LIMIT);
	if (!r)
		r = add_since(&prefix, since);
	if (r < 0) {
		r = buf_fail(err, -EINVAL, "comment query for '%s/%s' is too long", owner, repo);
		goto out;
	}
	r = fetch_all_pages(G(f), prefix.data, comment_page, &acc, deadline_of(G(f)), err);
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

static int gitea_get_diff(struct forge *f, const char *owner, const char *repo, uint64_t number,
			  struct buf *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct http_req q;
	int r = check_repo(owner, repo, err);

	if (r < 0)
		return r;
	r = get_numbered(G(f), owner, repo, "pulls", number, ".diff", &q, &path, deadline_of(G(f)),
			 &why);
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
			     (long long)q.length, http_max_body(G(f)->http));
	} else if (q.too_large) {
		r = buf_fail(err, -EFBIG,
			     "the diff is over %zu bytes, more than is read (--max-answer)",
			     http_max_body(G(f)->http));
	} else if (err) {
		buf_puts(err, buf_cstr(&why));
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
static int gitea_whoami(struct forge *f, char **login, struct buf *err)
{
	struct gitea *g = G(f);
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
	r = run_one(g, &q, HTTP_GET, "/api/v1/user", NULL, deadline_of(g), err);
	if (r == 0) {
		r = gitea_decode_user(q.body.data, q.body.len, &l, &why);
		if (r < 0)
			r = decode_fail(err, &q, &why, r);
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

/* ---- writes ---------------------------------------------------------- */

/* Compact JSON text of o (new), or NULL. Takes o. */
static char *json_text(json_t *o)
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

static int gitea_post_comment(struct forge *f, const char *owner, const char *repo, uint64_t number,
			      const char *body, struct forge_comment *out, struct buf *err)
{
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	uint64_t deadline = deadline_of(G(f));
	struct http_req q;
	json_t *o = NULL;
	char *text = NULL;
	int r = check_repo(owner, repo, err);

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
	text = json_text(o);
	o = NULL;
	if (!text) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = repo_path(&path, owner, repo);
	if (!r)
		r = buf_printf(&path, "/issues/%llu/comments", (unsigned long long)number);
	if (r < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = run_one(G(f), &q, HTTP_POST, path.data, text, deadline, err);
	if (r < 0) {
		r = comments_500(G(f), owner, repo, number, r, q.status, deadline, err);
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

		gitea_decode_prefix_u64(q.body.data, q.body.len, "id", &c.id);
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

static int gitea_update_issue(struct forge *f, const char *owner, const char *repo, uint64_t number,
			      const struct forge_issue_patch *patch, struct buf *err)
{
	struct buf path = BUF_INIT(4096);
	uint64_t deadline = deadline_of(G(f));
	struct http_req q;
	json_t *o = NULL, *labels = NULL;
	char *text = NULL;
	size_t i;
	int r = check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	if (r < 0)
		return r;
	if (number == 0)
		return buf_fail(err, -EINVAL, "issue number 0 in '%s/%s'", owner, repo);
	if (patch->state && !valid_state(patch->state))
		return buf_fail(err, -EINVAL, "state must be 'open' or 'closed'");
	r = repo_path(&path, owner, repo);
	if (!r)
		r = buf_printf(&path, "/issues/%llu", (unsigned long long)number);
	if (r < 0)
		return buf_fail(err, -ENOMEM, "out of memory");
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
		text = json_text(o);
		o = NULL;
		if (!text) {
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		/* Gitea answers 201 with the issue; any 2xx is success. */
		r = run_one(G(f), &q, HTTP_PATCH, path.data, text, deadline, err);
		http_req_release(&q);
		free(text);
		text = NULL;
		if (r < 0)
			goto out;
	}
	if (patch->has_labels) {
		/* PUT replaces the whole set; label names are accepted as well as ids. */
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
		text = json_text(o);
		o = NULL;
		if (!text || buf_puts(&path, "/labels") < 0) {
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		r = run_one(G(f), &q, HTTP_PUT, path.data, text, deadline, err);
		http_req_release(&q);
	}
out:
	json_decref(o);
	json_decref(labels);
	free(text);
	buf_release(&path);
	return r;
}

static void gitea_capabilities(struct forge *f, struct forge_capabilities *out)
{
	(void)f;
	/* Every field a later contract adds is "no" until set here. */
	memset(out, 0, sizeof(*out));
	out->name = "gitea";
	out->description_unit = FORGE_LEN_BYTES;
	out->max_description_len = GITEA_MAX_DESCRIPTION_LEN;
	out->structured_metadata = false;
	out->push_branch = false;
	out->update_pr_status = true;
	out->max_page_size = GITEA_PAGE_LIMIT;
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
	r = repo_path(&path, owner, repo);
	if (!r)
		r = buf_printf(&path, "/issues?state=all&limit=%d&page=1", GITEA_PAGE_LIMIT);
	if (r < 0)
		return buf_fail(err, -ENOMEM, "out of memory");
	r = run_one(g, &q, HTTP_GET, path.data, NULL, deadline, err);
	if (r == 0) {
		r = gitea_decode_issue_list(q.body.data, q.body.len, false, &l, &why);
		if (r < 0)
			r = decode_fail(err, &q, &why, r);
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

/* The length of the work-in-progress prefix title starts with, spaces after it included; 0: none.
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

static int gitea_create_pr(struct forge *f, const char *owner, const char *repo,
			   const struct forge_pr_request *req, forge_floor_fn floor_cb,
			   void *floor_ud, uint64_t *number, struct buf *err)
{
	uint64_t deadline = deadline_of(G(f)), max = 0;
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096),
		   desc = BUF_INIT(GITEA_MAX_DESCRIPTION_LEN + 1), title = BUF_INIT(65536);
	struct forge_capabilities caps;
	struct forge_issue pr;
	struct http_req q;
	json_t *o = NULL;
	char *text = NULL;
	int r = check_repo(owner, repo, err);

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
	text = json_text(o);
	o = NULL;
	r = text ? repo_path(&path, owner, repo) : -ENOMEM;
	if (!r)
		r = buf_puts(&path, "/pulls");
	if (r < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* The floor comes from the same deadline: the whole call stays within timeout_ms. */
	if (floor_cb && max_number(G(f), owner, repo, deadline, &max, NULL) == 0) {
		r = floor_cb(floor_ud, max);
		if (r != 0)
			goto out;
	}
	r = run_one(G(f), &q, HTTP_POST, path.data, text, deadline, err);
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

static int gitea_push_branch(struct forge *f, const char *owner, const char *repo,
			     const char *branch, struct buf *err)
{
	(void)f;
	(void)owner;
	(void)repo;
	(void)branch;
	/* Branches arrive by git push, which is outside this adapter. */
	return buf_fail(err, -ENOTSUP, "the gitea adapter does not push branches");
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
		text = json_text(o);
		o = NULL;
		r = text ? run_one(g, &q, HTTP_PATCH, path, text, deadline, err)
			 : buf_fail(err, -ENOMEM, "out of memory");
	}
	json_decref(o);
	free(text);
	http_req_release(&q);
	return r;
}

static int gitea_update_pr_status(struct forge *f, const char *owner, const char *repo,
				  uint64_t number, const char *state, struct buf *err)
{
	struct gitea *g = G(f);
	uint64_t deadline = deadline_of(g);
	struct buf path = BUF_INIT(4096), gpath = BUF_INIT(4096), why = BUF_INIT(4096),
		   title = BUF_INIT(65536);
	struct forge_issue pr;
	struct http_req q;
	json_t *root = NULL;
	bool want_draft;
	size_t k;
	int r = check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	memset(&pr, 0, sizeof(pr));
	if (r < 0)
		return r;
	if (number == 0)
		return buf_fail(err, -EINVAL, "pull request number 0 in '%s/%s'", owner, repo);
	if (!state ||
	    (!valid_state(state) && strcmp(state, "draft") != 0 && strcmp(state, "ready") != 0))
		return buf_fail(err, -EINVAL, "state must be 'open', 'closed', 'draft' or 'ready'");
	r = repo_path(&path, owner, repo);
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
	r = get_numbered(g, owner, repo, "pulls", number, "", &q, &gpath, deadline, err);
	if (r == 0) {
		r = answer_json(g, &q, &root, &why);
		if (r == 0)
			r = gitea_decode_issue_root(root, true, &pr, &why);
		json_decref(root);
		if (r < 0)
			r = decode_fail(err, &q, &why, r);
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

static void gitea_free(struct forge *f)
{
	struct gitea *g = G(f);

	http_free(g->http);
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
	return &g->base;
}
