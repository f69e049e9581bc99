/*
 * gitea/pages: reading every page of a list, and the sinks that collect
 * the items of each page (internal.h).
 */
#include "forge/gitea/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "forge/gitea/decode.h"
#include "util/str.h"

/* ---- paging ---------------------------------------------------------- */

/* A page's answer (streamed) parsed and given to fn; the tree is freed after. */
static int take_page(struct gitea *g, struct http_req *q, page_fn fn, void *acc, size_t *n_items,
		     struct buf *why)
{
	json_t *root = NULL;
	int r = gt_answer_json(g, q, &root, why);

	if (r == 0)
		r = fn(acc, root, n_items, why);
	json_decref(root);
	return r;
}

/* Like run_one, for a GET whose JSON answer is parsed as it is read. */
int gt_run_stream(struct gitea *g, struct http_req *q, const char *path, uint64_t deadline,
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

/* One listing: what every strategy below reads and writes. */
struct pager {
	struct gitea *g;
	const char *prefix; /* "...?...&limit=50", no page */
	page_fn fn;
	void *acc;
	uint64_t deadline;
	struct buf path; /* scratch for one page's path */
	struct buf why;	 /* a decoder's reason */
};

/* One page, alone: its items into the sink; *got how many it held. */
static int page_one(struct pager *p, size_t page, size_t *got, struct buf *err)
{
	struct http_req q;
	int r;

	memset(&q, 0, sizeof(q));
	r = page_path(&p->path, p->prefix, page);
	if (r == 0)
		r = gt_run_stream(p->g, &q, p->path.data, p->deadline, err);
	if (r == 0) {
		r = take_page(p->g, &q, p->fn, p->acc, got, &p->why);
		if (r < 0)
			r = gt_decode_fail(err, &q, &p->why, r);
	}
	http_req_release(&q);
	return r;
}

/*
 * Without X-Total-Count: page after page, until one is shorter than page
 * 1 (per_page items) or GITEA_MAX_PAGES were read.
 */
static int pages_one_by_one(struct pager *p, size_t per_page, struct buf *err)
{
	size_t got = per_page, next;
	int r = 0;

	for (next = 2; got > 0 && got >= per_page && next <= GITEA_MAX_PAGES; next++) {
		r = page_one(p, next, &got, err);
		if (r < 0)
			return r;
	}
	if (got && next > GITEA_MAX_PAGES)
		r = buf_fail(err, -EIO, "'%s': more than %d pages", p->prefix, GITEA_MAX_PAGES);
	return r;
}

/*
 * Pages from..to in one batch (http_run: HTTP_PARALLEL at a time, one
 * deadline); a page that reports a larger total raises *total.
 */
static int pages_batch(struct pager *p, size_t from, size_t to, uint64_t *total, struct buf *err)
{
	size_t batch = to - from + 1, i, got;
	struct http_req *qs = calloc(batch, sizeof(*qs));
	char **paths = calloc(batch, sizeof(*paths));
	int r = 0;

	if (!qs || !paths) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < batch; i++) {
		if ((r = page_path(&p->path, p->prefix, from + i)) < 0)
			goto out;
		paths[i] = buf_steal(&p->path, NULL);
		if (!paths[i]) {
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		qs[i].method = HTTP_GET;
		qs[i].path = paths[i];
		qs[i].stream = true;
	}
	r = http_run(p->g->http, qs, batch, p->deadline, err);
	for (i = 0; r == 0 && i < batch; i++) {
		r = take_page(p->g, &qs[i], p->fn, p->acc, &got, &p->why);
		if (r < 0)
			r = gt_decode_fail(err, &qs[i], &p->why, r);
		else if (qs[i].has_total && qs[i].total > *total)
			*total = qs[i].total;
	}
out:
	for (i = 0; qs && paths && i < batch; i++) {
		http_req_release(&qs[i]);
		free(paths[i]);
	}
	free(qs);
	free(paths);
	return r;
}

/*
 * With X-Total-Count (total items, per_page of them on page 1): the other
 * pages in parallel, and again for the pages a larger total reported
 * meanwhile adds (items were created while we read).
 */
static int pages_by_total(struct pager *p, uint64_t total, size_t per_page, struct buf *err)
{
	size_t next = 2, pages;
	int r;

	if (total <= per_page)
		return 0;
	if (per_page == 0)
		return buf_fail(err, -EIO, "'%s': page 1 is empty but x-total-count is %llu",
				p->prefix, (unsigned long long)total);
	for (;;) {
		uint64_t want = (total + per_page - 1) / per_page;

		if (want > GITEA_MAX_PAGES)
			return buf_fail(err, -EIO, "'%s': %llu items is more than %d pages",
					p->prefix, (unsigned long long)total, GITEA_MAX_PAGES);
		pages = (size_t)want;
		if (next > pages)
			return 0;
		r = pages_batch(p, next, pages, &total, err);
		if (r < 0)
			return r;
		next = pages + 1;
	}
}

/*
 * Fetches every page of prefix into acc. Page 1 first; its X-Total-Count
 * and the number of items it actually held (the limit may have been
 * clamped) give the page count, and the other pages are fetched in
 * parallel (pages_by_total). Page URLs are always built from our base URL,
 * never from Link (its host is Gitea's ROOT_URL, which may differ).
 * Without X-Total-Count, pages are read one by one until a short page
 * (pages_one_by_one).
 */
int gt_fetch_all_pages(struct gitea *g, const char *prefix, page_fn fn, void *acc,
		       uint64_t deadline, struct buf *err)
{
	struct pager p = {g, prefix, fn, acc, deadline, BUF_INIT(65536), BUF_INIT(4096)};
	struct http_req first;
	size_t per_page = 0;
	int r;

	memset(&first, 0, sizeof(first));
	r = page_path(&p.path, prefix, 1);
	if (r == 0)
		r = gt_run_stream(g, &first, p.path.data, deadline, err);
	if (r == 0) {
		r = take_page(g, &first, fn, acc, &per_page, &p.why);
		if (r < 0)
			r = gt_decode_fail(err, &first, &p.why, r);
	}
	if (r == 0)
		r = first.has_total ? pages_by_total(&p, first.total, per_page, err)
				    : pages_one_by_one(&p, per_page, err);
	if (r == -E2BIG)
		r = buf_fail(err, -EIO, "'%s': path too long", prefix);
	http_req_release(&first);
	buf_release(&p.path);
	buf_release(&p.why);
	return r;
}

/* ---- list sinks ------------------------------------------------------ */

static bool has_issue(const struct forge_issue_list *l, uint64_t number)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (l->v[i].number == number)
			return true;
	return false;
}

int gt_issue_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
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

int gt_comment_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
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

int gt_name_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
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
