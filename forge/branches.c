/*
 * forge/branches: releasing what the branch operations return, and the
 * operations through an adapter's table (forge.h).
 */
#include "forge/branches.h"

#include <errno.h>
#include <stdlib.h>

#include "forge/forge.h"

void forge_branch_list_release(struct forge_branch_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int forge_push_branch(struct forge *f, const char *owner, const char *repo,
		      const struct forge_push_request *req, struct forge_push_result *out,
		      struct buf *err)
{
	if (!f->ops->push_branch)
		return buf_fail(err, -ENOTSUP, "this forge does not take pushes");
	return f->ops->push_branch(f, owner, repo, req, out, err);
}

int forge_list_branches(struct forge *f, const char *owner, const char *repo,
			struct forge_branch_list *out, struct buf *err)
{
	if (!f->ops->list_branches)
		return buf_fail(err, -ENOTSUP, "this forge does not list branches");
	return f->ops->list_branches(f, owner, repo, out, err);
}

int forge_repo_bundle(struct forge *f, const char *owner, const char *repo, bool refresh,
		      uint64_t deadline_ms, char **path, uint64_t *size, struct buf *err)
{
	if (!f->ops->repo_bundle)
		return buf_fail(err, -ENOTSUP, "this forge has no repo.bundle");
	return f->ops->repo_bundle(f, owner, repo, refresh, deadline_ms, path, size, err);
}
