/*
 * github/git: the GitHub adapter's git side (push_branch, repo_bundle,
 * list_branches of forge/branches.h). GitHub serves git over the same
 * smart HTTP as Gitea, at <git root>/<owner>/<repo>.git (github.com, or
 * the Enterprise host), and takes the token as the basic-auth password
 * with the user name x-access-token; so pushes and repo.bundle go through
 * the git side forge/gitea/push.h keeps for any adapter, with GitHub's
 * root and user. The branch list is GET /repos/{o}/{r}/branches, Link
 * paging like every GitHub list.
 */
#include "forge/github/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

int github_push_branch(struct forge *f, const char *owner, const char *repo,
		       const struct forge_push_request *req, struct forge_push_result *out,
		       struct buf *err)
{
	int r = gh_check_repo(owner, repo, err);

	return r < 0 ? r : gitea_git_push(&github_of(f)->git, owner, repo, req, out, err);
}

int github_repo_bundle(struct forge *f, const char *owner, const char *repo, bool refresh,
		       uint64_t deadline_ms, char **path, uint64_t *size, struct buf *err)
{
	int r = gh_check_repo(owner, repo, err);

	return r < 0 ? r
		     : gitea_git_bundle(&github_of(f)->git, owner, repo, refresh, deadline_ms, path,
					size, err);
}

struct branch_acc {
	struct forge_branch_list l;
	size_t cap;
};

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

/* One page: [{"name": ..., "commit": {"sha": ...}}, ...]; odd entries are left out. */
static int branch_page(void *accp, json_t *root, size_t *n_items, struct buf *err)
{
	struct branch_acc *acc = accp;
	size_t i;
	json_t *it;

	if (!json_is_array(root))
		return buf_fail(err, -EIO, "the branch list is not a JSON array");
	*n_items = json_array_size(root);
	json_array_foreach(root, i, it)
	{
		const char *name = json_string_value(json_object_get(it, "name"));
		const char *id =
		    json_string_value(json_object_get(json_object_get(it, "commit"), "sha"));
		struct forge_branch *b;

		if (!name || !id || !str_branch_name_valid(name, strlen(name)) || !hex_id(id))
			continue;
		if (acc->l.n == acc->cap) {
			size_t nc = acc->cap ? 2 * acc->cap : 64;
			void *v = realloc(acc->l.v, nc * sizeof(*acc->l.v));

			if (!v)
				return buf_fail(err, -ENOMEM, "out of memory");
			acc->l.v = v;
			acc->cap = nc;
		}
		b = &acc->l.v[acc->l.n];
		if (!(b->name = strdup(name)))
			return buf_fail(err, -ENOMEM, "out of memory");
		memcpy(b->commit, id, strlen(id) + 1);
		acc->l.n++;
	}
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct forge_branch *)a)->name,
		      ((const struct forge_branch *)b)->name);
}

int github_list_branches(struct forge *f, const char *owner, const char *repo,
			 struct forge_branch_list *out, struct buf *err)
{
	struct github *g = github_of(f);
	struct buf prefix = BUF_INIT(4096);
	struct branch_acc acc;
	size_t i, k = 0;
	int r = gh_check_repo(owner, repo, err);

	if (r < 0)
		return r;
	memset(&acc, 0, sizeof(acc));
	r = gh_repo_path(&prefix, owner, repo);
	if (!r)
		r = buf_printf(&prefix, "/branches?per_page=%d", GITHUB_PAGE_LIMIT);
	if (r < 0) {
		r = buf_fail(err, -EINVAL, "branch query for '%s/%s' is too long", owner, repo);
		goto out;
	}
	r = gh_fetch_pages(g, 'b', prefix.data, branch_page, &acc, NULL, gh_deadline_of(g), err);
	if (r < 0)
		goto out;
	/* Sorted by name, each once (a branch that moved between pages is seen twice). */
	if (acc.l.n)
		qsort(acc.l.v, acc.l.n, sizeof(*acc.l.v), by_name);
	for (i = 1; i < acc.l.n; i++) {
		if (strcmp(acc.l.v[i].name, acc.l.v[k].name) == 0)
			free(acc.l.v[i].name);
		else
			acc.l.v[++k] = acc.l.v[i];
	}
	if (acc.l.n)
		acc.l.n = k + 1;
	*out = acc.l;
	acc.l.v = NULL;
	acc.l.n = 0;
out:
	forge_branch_list_release(&acc.l);
	buf_release(&prefix);
	return r;
}
