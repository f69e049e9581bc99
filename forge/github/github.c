/*
 * github: the GitHub adapter (see github.h): paths and request bodies
 * here, HTTP in forge/gitea/http.c, JSON in decode.c.
 *
 * Every operation takes one deadline, now + timeout_ms, and passes it to
 * each request it makes (page 1, the other pages, a probe, a mutation),
 * so the whole operation, retries and rate-limit waits included, ends by
 * then.
 */
#include "forge/github/github.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "forge/gitea/decode.h"
#include "forge/gitea/http.h"
#include "forge/github/decode.h"
#include "util/str.h"

/* GitHub's limit on an issue, pull request or comment body, in characters. */
#define GITHUB_MAX_DESCRIPTION_LEN 65536
#define GITHUB_PAGE_LIMIT 100
/* 2000 pages of 100: a repository bigger than 200k items is refused. */
#define GITHUB_MAX_PAGES 2000
/* Pages fetched in one parallel batch: bounds the raw text held at once. */
#define PAGE_BATCH 32
#define GITHUB_NAME_MAX 255
/* GitHub's documented limits: requests at once, and the gap between writes. */
#define GITHUB_MAX_INFLIGHT 100
#define GITHUB_WRITE_SPACING_MS 1000
#define ACCEPT_JSON "application/vnd.github+json"
#define ACCEPT_DIFF "application/vnd.github.diff"

struct github {
	struct forge base; /* first: struct forge * <-> struct github * */
	struct http *http; /* thread-safe on its own */
	unsigned timeout_ms;
	char *graphql_url;    /* immutable after github_new */
	pthread_mutex_t lock; /* guards login */
	char *login;	      /* the token's user once GET /user answered; lock */
};

static struct github *G(struct forge *f)
{
	return (struct github *)f;
}

static uint64_t deadline_of(struct github *g)
{
	return http_now_ms() + g->timeout_ms;
}

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
static int check_name(const char *s, const char *what, struct buf *err)
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

/* "/repos/{owner}/{repo}" with both segments escaped. */
static int repo_path(struct buf *b, const char *owner, const char *repo)
{
	int r = buf_puts(b, "/repos/");

	if (!r)
		r = put_escaped(b, owner);
	if (!r)
		r = buf_putc(b, '/');
	if (!r)
		r = put_escaped(b, repo);
	return r;
}

static int add_since(struct buf *b, const char *since)
{
	int r;

	if (!since)
		return 0;
	r = buf_puts(b, "&since=");
	return r ? r : put_escaped(b, since);
}

/* ---- validators ------------------------------------------------------- */

/* FNV-1a over what identifies a request: kind (one byte), path, Accept. */
static uint64_t request_tag(char kind, const char *path, const char *accept)
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
static const char *etag_for(const struct forge_validator *val, uint64_t tag)
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
static int validator_out(struct forge_validator *val, uint64_t tag, const struct http_req *q,
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

static size_t max_values(struct github *g)
{
	size_t v = http_max_body(g->http) / 16;

	return v > GITHUB_DECODE_MAX_VALUES ? v : GITHUB_DECODE_MAX_VALUES;
}

static int decode_fail(struct buf *err, const struct http_req *q, struct buf *why, int r)
{
	if (err)
		buf_note(err, "decoding '%s': %s", q->path, buf_cstr(why));
	return r;
}

/* GitHub's answers where the shared status table says too little. */
static int github_errno(int r, const struct http_req *q)
{
	if (r >= 0)
		return r;
	if (q->status == 410) /* gone: deleted, or issues turned off */
		return -ENOENT;
	if (q->status == 422 && github_decode_pull_exists(q->body.data, q->body.len))
		return -EEXIST;
	return r;
}

static int run(struct github *g, struct http_req *q, uint64_t deadline, struct buf *err)
{
	int r = http_run(g->http, q, 1, deadline, err);

	return github_errno(r, q);
}

static void req_init(struct http_req *q, enum http_method m, const char *path, const char *json)
{
	memset(q, 0, sizeof(*q));
	q->method = m;
	q->path = path;
	q->json = json;
}

/* A JSON GET parsed as it is read (streamed); etag may be NULL. */
static void get_init(struct http_req *q, const char *path, const char *etag)
{
	req_init(q, HTTP_GET, path, NULL);
	q->stream = true;
	q->etag_in = etag;
}

/* ---- paging ----------------------------------------------------------- */

/* Decodes one page's root into acc; *n_items the items it held. */
typedef int (*page_fn)(void *acc, json_t *root, size_t *n_items, struct buf *err);

/* One page's answer given to fn; *n_items (may be NULL) the items it held. */
static int take_page(struct github *g, struct http_req *q, page_fn fn, void *acc, size_t *n_items,
		     struct buf *err)
{
	struct buf why = BUF_INIT(4096);
	json_t *root = NULL;
	size_t n = 0;
	int r = http_req_json(q, max_values(g), &root, &why);

	if (r == 0)
		r = fn(acc, root, &n, &why);
	if (r == 0 && n_items)
		*n_items = n;
	json_decref(root);
	if (r < 0)
		decode_fail(err, q, &why, r);
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
static int fetch_pages(struct github *g, char kind, const char *prefix, page_fn fn, void *acc,
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
	tag = request_tag(kind, path1.data, ACCEPT_JSON);
	get_init(&first, path1.data, etag_for(val, tag));
	r = run(g, &first, deadline, err);
	if (r < 0)
		goto out;
	if (first.not_modified) {
		r = validator_out(val, tag, &first, true, err);
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
		r = validator_out(val, tag, &first, n1 < GITHUB_PAGE_LIMIT, err);
		goto out;
	}
	r = validator_out(val, tag, &first, false, err);
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
			get_init(&qs[i], paths[i], NULL);
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
		get_init(&q, path.data, NULL);
		r = run(g, &q, deadline, err);
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

struct issue_acc {
	struct forge_issue_list l;
	bool pulls_endpoint;
	enum forge_kind want;
};

static int by_number(const void *a, const void *b)
{
	const struct forge_issue *x = a, *y = b;

	return x->number < y->number ? -1 : x->number > y->number;
}

/* The item numbered n in the sorted l, or NULL. */
static struct forge_issue *find_sorted(struct forge_issue_list *l, uint64_t n)
{
	struct forge_issue key;

	key.number = n;
	return l->n ? bsearch(&key, l->v, l->n, sizeof(*l->v), by_number) : NULL;
}

static int issue_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
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
static void dedup(struct forge_issue_list *l)
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

struct comment_acc {
	struct forge_comment_list l;
	uint64_t issue;
};

static int comment_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
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

struct name_acc {
	struct forge_name_list l;
};

static int name_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
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

/* ---- reads ------------------------------------------------------------ */

static int github_list_repos(struct forge *f, const char *owner, struct forge_name_list *out,
			     struct buf *err)
{
	struct github *g = G(f);
	uint64_t deadline = deadline_of(g);
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct name_acc acc;
	struct http_req q;
	bool org = false;
	int r = check_name(owner, "owner", err);

	if (r < 0)
		return r;
	memset(&acc, 0, sizeof(acc));
	r = buf_puts(&path, "/users/");
	if (!r)
		r = put_escaped(&path, owner);
	if (r < 0)
		return buf_fail(err, -ENOMEM, "out of memory");
	req_init(&q, HTTP_GET, path.data, NULL);
	r = run(g, &q, deadline, err);
	if (r == 0 && github_decode_account_is_org(q.body.data, q.body.len, &org, &why) < 0)
		r = decode_fail(err, &q, &why, -EIO);
	http_req_release(&q);
	if (r < 0)
		goto out;
	buf_reset(&path);
	r = buf_puts(&path, org ? "/orgs/" : "/users/");
	if (!r)
		r = put_escaped(&path, owner);
	if (!r)
		r = buf_printf(&path, "/repos?per_page=%d", GITHUB_PAGE_LIMIT);
	if (r < 0) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = fetch_pages(g, 'r', path.data, name_page, &acc, NULL, deadline, err);
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
	int r = repo_path(b, owner, repo);

	if (!r)
		r = buf_printf(b, "/issues?state=all&sort=created&direction=asc&per_page=%d",
			       GITHUB_PAGE_LIMIT);
	if (!r)
		r = add_since(b, since);
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
	uint64_t deadline = deadline_of(g);
	struct buf prefix = BUF_INIT(4096);
	struct issue_acc counts, pulls;
	size_t i;
	int r;

	memset(&counts, 0, sizeof(counts));
	memset(&pulls, 0, sizeof(pulls));
	counts.want = pulls.want = FORGE_PULLS;
	pulls.pulls_endpoint = true;
	if (issues_prefix(&prefix, owner, repo, NULL) < 0) {
		r = buf_fail(err, -EINVAL, "list query for '%s/%s' is too long", owner, repo);
		goto out;
	}
	r = fetch_pages(g, 'c', prefix.data, issue_page, &counts, NULL, deadline, err);
	if (r < 0)
		goto out;
	dedup(&counts.l);
	buf_reset(&prefix);
	if (repo_path(&prefix, owner, repo) < 0 ||
	    buf_printf(&prefix, "/pulls?state=all&sort=created&direction=asc&per_page=%d",
		       GITHUB_PAGE_LIMIT) < 0) {
		r = buf_fail(err, -EINVAL, "list query for '%s/%s' is too long", owner, repo);
		goto out;
	}
	r = fetch_pages(g, 'p', prefix.data, issue_page, &pulls, NULL, deadline, err);
	if (r < 0)
		goto out;
	dedup(&pulls.l);
	for (i = 0; i < pulls.l.n; i++) {
		struct forge_issue *c = find_sorted(&counts.l, pulls.l.v[i].number);

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

static int github_list_issues_cond(struct forge *f, const char *owner, const char *repo,
				   enum forge_kind kind, const char *since,
				   struct forge_validator *val, struct forge_issue_list *out,
				   struct buf *err)
{
	struct github *g = G(f);
	struct buf prefix = BUF_INIT(4096);
	struct issue_acc acc;
	int r = check_repo(owner, repo, err);

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
	r = fetch_pages(g, kind == FORGE_PULLS ? 'P' : 'I', prefix.data, issue_page, &acc, val,
			deadline_of(g), err);
	if (r == 0) {
		dedup(&acc.l);
		*out = acc.l;
		acc.l.v = NULL;
		acc.l.n = 0;
	}
out:
	forge_issue_list_release(&acc.l);
	buf_release(&prefix);
	return r;
}

static int github_list_issues(struct forge *f, const char *owner, const char *repo,
			      enum forge_kind kind, const char *since, struct forge_issue_list *out,
			      struct buf *err)
{
	return github_list_issues_cond(f, owner, repo, kind, since, NULL, out, err);
}

/* "/repos/{o}/{r}/{kind}/{n}{suffix}" into path. */
static int numbered_path(struct buf *path, const char *owner, const char *repo, const char *kind,
			 uint64_t number, const char *suffix, struct buf *err)
{
	int r;

	if (number == 0)
		return buf_fail(err, -EINVAL, "number 0 in '%s/%s'", owner, repo);
	r = repo_path(path, owner, repo);
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
	int r = check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	if (r < 0)
		return r;
	r = numbered_path(&path, owner, repo, pull ? "pulls" : "issues", number, "", err);
	if (r < 0)
		goto out;
	tag = request_tag(pull ? 'p' : 'i', path.data, ACCEPT_JSON);
	get_init(&q, path.data, etag_for(val, tag));
	r = run(g, &q, deadline_of(g), err);
	if (r < 0)
		goto out;
	if (q.not_modified) {
		r = validator_out(val, tag, &q, true, err);
		if (r == 0)
			memset(out, 0, sizeof(*out));
		goto out;
	}
	r = http_req_json(&q, max_values(g), &root, &why);
	if (r == 0)
		r = pull ? github_decode_pull_root(root, &it, &why)
			 : github_decode_issue_root(root, &it, &why);
	json_decref(root);
	if (r < 0) {
		r = decode_fail(err, &q, &why, r);
		goto out;
	}
	if (!pull && it.is_pull) {
		/* Issues and pull requests are different objects in the tree. */
		forge_issue_release(&it);
		r = buf_fail(err, -ENOENT, "'%s/%s#%llu' is a pull request, not an issue", owner,
			     repo, (unsigned long long)number);
		goto out;
	}
	r = validator_out(val, tag, &q, true, err);
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

static int github_get_issue_cond(struct forge *f, const char *owner, const char *repo,
				 uint64_t number, struct forge_validator *val,
				 struct forge_issue *out, struct buf *err)
{
	return get_one(G(f), owner, repo, number, false, val, out, err);
}

static int github_get_issue(struct forge *f, const char *owner, const char *repo, uint64_t number,
			    struct forge_issue *out, struct buf *err)
{
	return get_one(G(f), owner, repo, number, false, NULL, out, err);
}

static int github_get_pull_cond(struct forge *f, const char *owner, const char *repo,
				uint64_t number, struct forge_validator *val,
				struct forge_issue *out, struct buf *err)
{
	return get_one(G(f), owner, repo, number, true, val, out, err);
}

static int github_get_pull(struct forge *f, const char *owner, const char *repo, uint64_t number,
			   struct forge_issue *out, struct buf *err)
{
	return get_one(G(f), owner, repo, number, true, NULL, out, err);
}

static int list_comments_of(struct github *g, const char *owner, const char *repo, uint64_t number,
			    const char *since, struct forge_validator *val,
			    struct forge_comment_list *out, struct buf *err)
{
	struct buf prefix = BUF_INIT(4096);
	struct comment_acc acc;
	int r = check_repo(owner, repo, err);

	if (r < 0)
		return r;
	memset(&acc, 0, sizeof(acc));
	acc.issue = number;
	if (number) {
		r = numbered_path(&prefix, owner, repo, "issues", number, "/comments", err);
		if (r < 0)
			goto out;
		r = buf_printf(&prefix, "?per_page=%d", GITHUB_PAGE_LIMIT);
	} else {
		r = repo_path(&prefix, owner, repo);
		if (!r)
			r = buf_printf(&prefix,
				       "/issues/comments?sort=created&direction=asc&per_page=%d",
				       GITHUB_PAGE_LIMIT);
		if (!r)
			r = add_since(&prefix, since);
	}
	if (r < 0) {
		r = buf_fail(err, -EINVAL, "comment query for '%s/%s' is too long", owner, repo);
		goto out;
	}
	r = fetch_pages(g, number ? 'k' : 'K', prefix.data, comment_page, &acc, val, deadline_of(g),
			err);
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

static int github_list_comments_cond(struct forge *f, const char *owner, const char *repo,
				     uint64_t number, struct forge_validator *val,
				     struct forge_comment_list *out, struct buf *err)
{
	if (number == 0)
		return buf_fail(err, -EINVAL, "issue number 0 in '%s/%s'", owner, repo);
	return list_comments_of(G(f), owner, repo, number, NULL, val, out, err);
}

static int github_list_comments(struct forge *f, const char *owner, const char *repo,
				uint64_t number, struct forge_comment_list *out, struct buf *err)
{
	return github_list_comments_cond(f, owner, repo, number, NULL, out, err);
}

static int github_list_repo_comments_cond(struct forge *f, const char *owner, const char *repo,
					  const char *since, struct forge_validator *val,
					  struct forge_comment_list *out, struct buf *err)
{
	return list_comments_of(G(f), owner, repo, 0, since, val, out, err);
}

static int github_list_repo_comments(struct forge *f, const char *owner, const char *repo,
				     const char *since, struct forge_comment_list *out,
				     struct buf *err)
{
	return list_comments_of(G(f), owner, repo, 0, since, NULL, out, err);
}

static int github_get_diff_cond(struct forge *f, const char *owner, const char *repo,
				uint64_t number, struct forge_validator *val, struct buf *out,
				struct buf *err)
{
	struct github *g = G(f);
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct http_req q;
	uint64_t tag;
	char *m;
	int r = check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	if (r < 0)
		return r;
	r = numbered_path(&path, owner, repo, "pulls", number, "", err);
	if (r < 0)
		goto out;
	tag = request_tag('d', path.data, ACCEPT_DIFF);
	req_init(&q, HTTP_GET, path.data, NULL);
	q.accept = ACCEPT_DIFF;
	q.etag_in = etag_for(val, tag);
	/* The reason waits in why: a 406 is an answer of its own, not the transport's failure. */
	r = http_run(g->http, &q, 1, deadline_of(g), &why);
	if (r == 0 && q.not_modified) {
		r = validator_out(val, tag, &q, true, err);
	} else if (r == 0) {
		r = buf_append(out, q.body.data, q.body.len);
		if (r == -E2BIG)
			r = buf_fail(err, -EFBIG, "the diff is over %zu bytes, more than is shown",
				     out->max ? out->max : BUF_MAX_DEFAULT);
		else if (r < 0)
			r = buf_fail(err, r, "out of memory");
		else
			r = validator_out(val, tag, &q, true, err);
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
		r = github_errno(r, &q);
		if (err)
			buf_note(err, "%s", buf_cstr(&why));
	}
out:
	http_req_release(&q);
	buf_release(&path);
	buf_release(&why);
	return r;
}

static int github_get_diff(struct forge *f, const char *owner, const char *repo, uint64_t number,
			   struct buf *out, struct buf *err)
{
	return github_get_diff_cond(f, owner, repo, number, NULL, out, err);
}

/* GET /user once: a token belongs to one user for the adapter's whole life. */
static int github_whoami(struct forge *f, char **login, struct buf *err)
{
	struct github *g = G(f);
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
	req_init(&q, HTTP_GET, "/user", NULL);
	r = run(g, &q, deadline_of(g), err);
	if (r == 0) {
		r = github_decode_user(q.body.data, q.body.len, &l, &why);
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

static int github_post_comment(struct forge *f, const char *owner, const char *repo,
			       uint64_t number, const char *body, struct forge_comment *out,
			       struct buf *err)
{
	struct github *g = G(f);
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct http_req q;
	char *text = NULL;
	int r = check_repo(owner, repo, err);

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
	r = numbered_path(&path, owner, repo, "issues", number, "/comments", err);
	if (r < 0)
		goto out;
	req_init(&q, HTTP_POST, path.data, text);
	r = run(g, &q, deadline_of(g), err);
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

static int github_update_issue(struct forge *f, const char *owner, const char *repo,
			       uint64_t number, const struct forge_issue_patch *patch,
			       struct buf *err)
{
	struct github *g = G(f);
	struct buf path = BUF_INIT(4096);
	uint64_t deadline = deadline_of(g);
	struct http_req q;
	json_t *o = NULL, *labels = NULL;
	char *text = NULL;
	size_t i;
	int r = check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	if (r < 0)
		return r;
	if (patch->state && !valid_state(patch->state))
		return buf_fail(err, -EINVAL, "state must be 'open' or 'closed'");
	r = numbered_path(&path, owner, repo, "issues", number, "", err);
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
		req_init(&q, HTTP_PATCH, path.data, text);
		r = run(g, &q, deadline, err);
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
		req_init(&q, HTTP_PUT, path.data, text);
		r = run(g, &q, deadline, err);
		http_req_release(&q);
	}
out:
	json_decref(o);
	json_decref(labels);
	free(text);
	buf_release(&path);
	return r;
}

static void github_capabilities(struct forge *f, struct forge_capabilities *out)
{
	(void)f;
	memset(out, 0, sizeof(*out));
	out->name = "github";
	out->max_description_len = GITHUB_MAX_DESCRIPTION_LEN;
	out->description_unit = FORGE_LEN_CHARS;
	out->structured_metadata = false; /* the receipt goes in an HTML comment */
	out->push_branch = false;
	out->update_pr_status = true;
	out->max_page_size = GITHUB_PAGE_LIMIT;
	/* ADR-0018: none native; with a personal token the agent acts as its user. */
	out->trajectory_linking = false;
	out->agent_identity = false;
	out->bounties = false;
	out->conditional_reads = true;
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
	r = repo_path(&path, owner, repo);
	if (!r)
		r = buf_puts(&path, "/issues?state=all&sort=created&direction=desc&per_page=1");
	if (r < 0)
		return buf_fail(err, -ENOMEM, "out of memory");
	req_init(&q, HTTP_GET, path.data, NULL);
	r = run(g, &q, deadline, err);
	if (r == 0) {
		r = github_decode_issue_list(q.body.data, q.body.len, false, &l, &why);
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

static int github_create_pr(struct forge *f, const char *owner, const char *repo,
			    const struct forge_pr_request *req, forge_floor_fn floor_cb,
			    void *floor_ud, uint64_t *number, struct buf *err)
{
	struct github *g = G(f);
	uint64_t deadline = deadline_of(g), max = 0;
	/* 65 536 characters of up to 4 bytes each. */
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096),
		   desc = BUF_INIT(4 * GITHUB_MAX_DESCRIPTION_LEN + 1);
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
	r = text ? repo_path(&path, owner, repo) : -ENOMEM;
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
	req_init(&q, HTTP_POST, path.data, text);
	r = run(g, &q, deadline, err);
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

static int github_push_branch(struct forge *f, const char *owner, const char *repo,
			      const char *branch, struct buf *err)
{
	(void)f;
	(void)owner;
	(void)repo;
	(void)branch;
	return buf_fail(err, -ENOTSUP, "the github adapter does not push branches");
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
	req_init(&q, HTTP_POST, "/graphql", text);
	q.url = g->graphql_url;
	q.bucket = "graphql";
	r = run(g, &q, deadline, err);
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

static int github_update_pr_status(struct forge *f, const char *owner, const char *repo,
				   uint64_t number, const char *state, struct buf *err)
{
	struct github *g = G(f);
	uint64_t deadline = deadline_of(g);
	struct buf path = BUF_INIT(4096), why = BUF_INIT(4096);
	struct forge_issue pr;
	struct http_req q;
	char *text = NULL, *node_id = NULL;
	bool want_draft, is_draft = false;
	int r = check_repo(owner, repo, err);

	memset(&q, 0, sizeof(q));
	memset(&pr, 0, sizeof(pr));
	if (r < 0)
		return r;
	if (!state ||
	    (!valid_state(state) && strcmp(state, "draft") != 0 && strcmp(state, "ready") != 0))
		return buf_fail(err, -EINVAL, "state must be 'open', 'closed', 'draft' or 'ready'");
	r = numbered_path(&path, owner, repo, "pulls", number, "", err);
	if (r < 0)
		return r;
	if (valid_state(state)) {
		json_t *o = json_pack("{s:s}", "state", state);

		text = json_compact(o);
		if (!text) {
			r = buf_fail(err, -ENOMEM, "out of memory");
			goto out;
		}
		req_init(&q, HTTP_PATCH, path.data, text);
		r = run(g, &q, deadline, err);
		goto out;
	}
	/* REST cannot change draft after creation: GraphQL, on the pull request's node id. */
	want_draft = strcmp(state, "draft") == 0;
	req_init(&q, HTTP_GET, path.data, NULL);
	r = run(g, &q, deadline, err);
	if (r == 0 && (github_decode_pull(q.body.data, q.body.len, &pr, &why) < 0 ||
		       github_decode_node_id(q.body.data, q.body.len, &node_id, &why) < 0))
		r = decode_fail(err, &q, &why, -EIO);
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

static void github_free(struct forge *f)
{
	struct github *g = G(f);

	http_free(g->http);
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
	free(git); /* the git root is for pushing, which is not the adapter's */
	g = calloc(1, sizeof(*g));
	if (!g) {
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
	return &g->base;
fail:
	pthread_mutex_destroy(&g->lock);
	free(g->graphql_url);
	free(g);
	return NULL;
}
