/*
 * gitea/branches: list_branches on Gitea (see push.h): GET
 * /api/v1/repos/{o}/{r}/branches?limit=50&page=N, one page after another
 * until X-Total-Count is reached or a page comes back short.
 */
#include "forge/gitea/push.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "forge/http.h"
#include "util/str.h"

#define PAGE_LIMIT 50
#define MAX_PAGES 2000
/* A page of 50 branches is far below this many JSON values. */
#define MAX_VALUES ((size_t)1 << 20)

static bool hex_id(const char *s)
{
	size_t i, n = strlen(s);

	if (n != 40 && n != 64)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static int cmp_branch(const void *a, const void *b)
{
	return strcmp(((const struct forge_branch *)a)->name,
		      ((const struct forge_branch *)b)->name);
}

/* One page's array appended to l; *n_items is how many the page held. */
static int take_page(json_t *root, struct forge_branch_list *l, size_t *cap, size_t *n_items,
		     struct buf *err)
{
	size_t i;
	json_t *it;

	if (!json_is_array(root))
		return buf_fail(err, -EIO, "the branch list is not a JSON array");
	*n_items = json_array_size(root);
	json_array_foreach(root, i, it)
	{
		const char *name = json_string_value(json_object_get(it, "name"));
		const char *id =
		    json_string_value(json_object_get(json_object_get(it, "commit"), "id"));
		struct forge_branch *b;

		if (!name || !id || !str_branch_name_valid(name, strlen(name)) || !hex_id(id))
			continue;
		if (l->n == *cap) {
			size_t nc = *cap ? 2 * *cap : 64;
			void *v = realloc(l->v, nc * sizeof(*l->v));

			if (!v)
				return buf_fail(err, -ENOMEM, "out of memory");
			l->v = v;
			*cap = nc;
		}
		b = &l->v[l->n];
		b->name = strdup(name);
		if (!b->name)
			return buf_fail(err, -ENOMEM, "out of memory");
		memcpy(b->commit, id, strlen(id) + 1);
		l->n++;
	}
	return 0;
}

/* Sorts and drops a name seen twice (a branch that moved between pages). */
static void sort_unique(struct forge_branch_list *l)
{
	size_t i, k = 0;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(*l->v), cmp_branch);
	for (i = 1; i < l->n; i++) {
		if (strcmp(l->v[i].name, l->v[k].name) == 0)
			free(l->v[i].name);
		else
			l->v[++k] = l->v[i];
	}
	l->n = k + 1;
}

int gitea_git_branches(struct http *h, const char *owner, const char *repo, uint64_t deadline_ms,
		       struct forge_branch_list *out, struct buf *err)
{
	struct forge_branch_list l = {NULL, 0};
	struct buf path = BUF_INIT(4096);
	size_t cap = 0, page, got = 0, per_page = 0;
	uint64_t total = 0;
	bool has_total = false;
	int r = 0;

	if (!owner || !*owner || !repo || !*repo || strchr(owner, '/') || strchr(repo, '/') ||
	    strstr(owner, "..") || strstr(repo, ".."))
		return buf_fail(err, -EINVAL, "bad repository name");
	for (page = 1; page <= MAX_PAGES; page++) {
		struct http_req q;
		json_t *root = NULL;
		const char *parts[2] = {owner, repo};
		size_t i;

		buf_reset(&path);
		r = buf_puts(&path, "/api/v1/repos");
		for (i = 0; r == 0 && i < 2; i++) {
			const char *s = parts[i];

			r = buf_putc(&path, '/');
			for (; *s && r == 0; s++) {
				unsigned char c = (unsigned char)*s;

				if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
				    c == '~')
					r = buf_putc(&path, (char)c);
				else
					r = buf_printf(&path, "%%%02X", c);
			}
		}
		if (r == 0)
			r = buf_printf(&path, "/branches?limit=%d&page=%zu", PAGE_LIMIT, page);
		if (r < 0) {
			r = buf_fail(err, -EINVAL, "repository name too long");
			break;
		}
		memset(&q, 0, sizeof(q));
		q.method = HTTP_GET;
		q.path = buf_cstr(&path);
		q.stream = true;
		r = http_run(h, &q, 1, deadline_ms, err);
		if (r == 0)
			r = http_req_json(&q, MAX_VALUES, &root, err);
		if (r == 0) {
			if (q.has_total) {
				has_total = true;
				total = q.total;
			}
			r = take_page(root, &l, &cap, &got, err);
		}
		json_decref(root);
		http_req_release(&q);
		if (r < 0)
			break;
		/*
		 * Page 1 says how many a page holds (the forge may clamp the
		 * limit). Done when everything counted is read, or a page
		 * comes back short.
		 */
		if (page == 1)
			per_page = got;
		if (got == 0 || got < per_page || (has_total && (uint64_t)page * per_page >= total))
			break;
	}
	if (r == 0 && page > MAX_PAGES)
		r = buf_fail(err, -EIO, "more than %d pages of branches", MAX_PAGES);
	buf_release(&path);
	if (r < 0) {
		forge_branch_list_release(&l);
		return r;
	}
	sort_unique(&l);
	*out = l;
	return 0;
}
