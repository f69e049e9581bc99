/* github/pages: Link-header paging, parallel once rel="last" is known, and the list sinks
 * (github.h). */
#include "forge/github/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "forge/gitea/decode.h"
#include "util/str.h"

/* ---- paging ----------------------------------------------------------- */

/* One page's answer given to fn; *n_items (may be NULL) the items it held. */
static int take_page(struct github *g, struct http_req *q, page_fn fn, void *acc, size_t *n_items,
		     struct buf *err)
{
	struct buf why = BUF_INIT(4096);
	json_t *root = NULL;
	size_t n = 0;
	int r = http_req_json(q, gh_max_values(g), &root, &why);

	if (r == 0)
		r = fn(acc, root, &n, &why);
	if (r == 0 && n_items)
		*n_items = n;
	json_decref(root);
	if (r < 0)
		r = gh_decode_fail(err, q, &why, r);
	buf_release(&why);
	return r;
}

static int links_of(const struct http_req *q, struct github_links *l, struct buf *err)
{
	struct buf why = BUF_INIT(1024);
	int r = 0;

	if (q->link_over)
		r = buf_fail(&why, -EIO, "link header is too long");
	else
		r = github_parse_link(q->link.data ? q->link.data : "", q->link.len, l, &why);
	if (r < 0 && err)
		buf_note(err, "'%s': %s", q->path, buf_cstr(&why));
	buf_release(&why);
	return r;
}

static int page_path(struct buf *b, const char *prefix, uint64_t page)
{
	buf_reset(b);
	return buf_printf(b, "%s&page=%llu", prefix, (unsigned long long)page);
}

/*
 * Fetches every page of prefix ("...?...&per_page=100", no page) into acc:
 * page 1 (conditional when val holds a validator made for it), then, once
 * rel="last" is known, the others in parallel batches, or rel="next" one
 * by one. A 304 on page 1 is "not modified" and nothing is added to acc.
 */
int gh_fetch_pages(struct github *g, char kind, const char *prefix, page_fn fn, void *acc,
		   struct forge_validator *val, uint64_t deadline, struct buf *err)
{
	struct buf path1 = BUF_INIT(65536), path = BUF_INIT(65536);
	struct http_req first, qs[PAGE_BATCH];
	char *paths[PAGE_BATCH];
	struct github_links l;
	uint64_t tag, next, last, page, i, batch = 0;
	size_t n1 = 0;
	int r;

	memset(&first, 0, sizeof(first));
	memset(qs, 0, sizeof(qs));
	memset(paths, 0, sizeof(paths));
	if ((r = page_path(&path1, prefix, 1)) < 0)
		goto out;
	tag = gh_request_tag(kind, path1.data, ACCEPT_JSON);
	gh_get_init(&first, path1.data, gh_etag_for(val, tag));
	r = gh_run(g, &first, deadline, err);
	if (r < 0)
		goto out;
	if (first.not_modified) {
		r = gh_validator_out(val, tag, &first, true, err);
		goto out;
	}
	if ((r = take_page(g, &first, fn, acc, &n1, err)) < 0 ||
	    (r = links_of(&first, &l, err)) < 0)
		goto out;
	if (!l.next) {
		/*
		 * One page: its ETag validates the whole list, unless it is full.
		 * Then an item added later goes to a page 2 and leaves page 1's
		 * body, and so its ETag, as it was: a 304 would hide it.
		 */
		r = gh_validator_out(val, tag, &first, n1 < GITHUB_PAGE_LIMIT, err);
		goto out;
	}
	r = gh_validator_out(val, tag, &first, false, err);
	if (r < 0)
		goto out;
	last = l.last;
	next = 2;
	if (l.next != 2 || last > GITHUB_MAX_PAGES || (last && last < 2)) {
		r = buf_fail(err, -EIO, "'%s': page 1 links to pages %llu and %llu", prefix,
			     (unsigned long long)l.next, (unsigned long long)last);
		goto out;
	}
	/* Known last page: the rest in parallel, PAGE_BATCH at a time. */
	while (last && next <= last) {
		batch = last - next + 1 < PAGE_BATCH ? last - next + 1 : PAGE_BATCH;
		for (i = 0; i < batch; i++) {
			if ((r = page_path(&path, prefix, next + i)) < 0)
				goto out;
			paths[i] = buf_steal(&path, NULL);
			if (!paths[i]) {
				r = -ENOMEM;
				goto out;
			}
			gh_get_init(&qs[i], paths[i], NULL);
		}
		r = http_run(g->http, qs, batch, deadline, err);
		for (i = 0; r == 0 && i < batch; i++)
			r = take_page(g, &qs[i], fn, acc, NULL, err);
		if (r == 0 && next + batch > last) {
			/* The last page says whether pages were added while we read. */
			r = links_of(&qs[batch - 1], &l, err);
		}
		for (i = 0; i < batch; i++) {
			http_req_release(&qs[i]);
			free(paths[i]);
			paths[i] = NULL;
		}
		if (r < 0)
			goto out;
		next += batch;
	}
	batch = 0;
	/* Unknown last page, or one that grew: rel="next", one page at a time. */
	page = next - 1;
	while (l.next) {
		struct http_req q;

		if (l.next <= page || l.next > GITHUB_MAX_PAGES) {
			r = buf_fail(err, -EIO, "'%s': page %llu links to page %llu as next",
				     prefix, (unsigned long long)page, (unsigned long long)l.next);
			goto out;
		}
		page = l.next;
		if ((r = page_path(&path, prefix, page)) < 0)
			goto out;
		gh_get_init(&q, path.data, NULL);
		r = gh_run(g, &q, deadline, err);
		if (r == 0)
			r = take_page(g, &q, fn, acc, NULL, err);
		if (r == 0)
			r = links_of(&q, &l, err);
		http_req_release(&q);
		if (r < 0)
			goto out;
	}
out:
	if (r == -E2BIG)
		r = buf_fail(err, -EIO, "'%s': path too long", prefix);
	else if (r == -ENOMEM)
		buf_fail(err, r, "out of memory");
	for (i = 0; i < PAGE_BATCH; i++) {
		http_req_release(&qs[i]);
		free(paths[i]);
	}
	if (r < 0)
		forge_validator_release(val);
	http_req_release(&first);
	buf_release(&path1);
	buf_release(&path);
	return r;
}

/* ---- list sinks ------------------------------------------------------- */

static int by_number(const void *a, const void *b)
{
	const struct forge_issue *x = a, *y = b;

	return x->number < y->number ? -1 : x->number > y->number;
}

/* The item numbered n in the sorted l, or NULL. */
struct forge_issue *gh_find_sorted(struct forge_issue_list *l, uint64_t n)
{
	struct forge_issue key;

	key.number = n;
	return l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), by_number) : NULL;
}

int gh_issue_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
{
	struct issue_acc *acc = accp;
	struct forge_issue_list page;
	struct forge_issue *v;
	size_t i;
	int r = github_decode_issue_list_root(root, acc->pulls_endpoint, &page, err);

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

		/* GitHub's issue list holds pull requests too: keep the kind asked for. */
		if (it->is_pull == (acc->want == FORGE_PULLS)) {
			acc->l.v[acc->l.n++] = *it;
			memset(it, 0, sizeof(*it));
		} else {
			forge_issue_release(it);
		}
	}
	free(page.v);
	return 0;
}

/*
 * Sorts l by number and keeps one item per number: an item that moved
 * between pages while they were read (one before it was deleted) arrives
 * twice, read moments apart.
 */
void gh_dedup(struct forge_issue_list *l)
{
	size_t i, k = 0;

	if (l->n < 2)
		return;
	qsort(l->v, l->n, sizeof(*l->v), by_number);
	for (i = 0; i < l->n; i++) {
		if (k > 0 && l->v[k - 1].number == l->v[i].number)
			forge_issue_release(&l->v[i]);
		else
			l->v[k++] = l->v[i];
	}
	l->n = k;
}

int gh_comment_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
{
	struct comment_acc *acc = accp;
	struct forge_comment_list page;
	struct forge_comment *v;
	size_t i, j;
	int r = github_decode_comment_list_root(root, acc->issue, &page, err);

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

		/* Pages are in id order: a duplicate can only sit near the end. */
		for (j = acc->l.n; j > 0 && j + 2 * GITHUB_PAGE_LIMIT > acc->l.n && !dup; j--)
			dup = acc->l.v[j - 1].id == page.v[i].id;
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

int gh_name_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
{
	struct name_acc *acc = accp;
	struct forge_name_list page;
	char **v;
	size_t i;
	int r = github_decode_repo_list_root(root, &page, err);

	if (r < 0)
		return r;
	*n_items = page.n;
	v = realloc(acc->l.v, (acc->l.n + page.n + 1) * sizeof(*v));
	if (!v) {
		forge_name_list_release(&page);
		return buf_fail(err, -ENOMEM, "out of memory");
	}
	acc->l.v = v;
	for (i = 0; i < page.n; i++)
		acc->l.v[acc->l.n++] = page.v[i];
	free(page.v);
	return 0;
}
