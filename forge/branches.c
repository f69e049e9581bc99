/*
 * forge/branches: releasing what the branch operations return, and the
 * operations through an adapter's table (forge.h).
 */
#include "forge/branches.h"

#include <errno.h>
#include <stdlib.h>

#include "forge/forge.h"
#include "forge/git/bundle.h"

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

/* ---- the incremental bundle check, for the write path ---- */

struct forge_bundle_check {
	struct bundle_check *c;
	int done; /* the sticky answer once complete or failed; 0 while incomplete */
};

int forge_bundle_check_new(uint64_t max_bundle, uint64_t max_object,
			   struct forge_bundle_check **out)
{
	struct bundle_limits lim = {max_bundle, max_object, 0};
	struct forge_bundle_check *fc = calloc(1, sizeof(*fc));

	if (!fc || bundle_check_new(&lim, &fc->c) < 0) {
		free(fc);
		return -ENOMEM;
	}
	*out = fc;
	return 0;
}

void forge_bundle_check_free(struct forge_bundle_check *c)
{
	if (!c)
		return;
	bundle_check_free(c->c);
	free(c);
}

void forge_bundle_check_reset(struct forge_bundle_check *c)
{
	bundle_check_reset(c->c);
	c->done = 0;
}

int forge_bundle_check_fd(struct forge_bundle_check *c, int fd, uint64_t size, struct buf *err)
{
	const char *tip, *ref;
	int r;

	if (c->done == FORGE_BUNDLE_COMPLETE && size == bundle_check_offset(c->c))
		return FORGE_BUNDLE_COMPLETE;
	r = bundle_check_fd(c->c, fd, size, err);
	/* Complete: it must also be something a push can take (one branch ref). */
	if (r == BUNDLE_COMPLETE && bundle_push_tip(c->c, &tip, &ref, err) < 0)
		r = -EINVAL;
	c->done = r == BUNDLE_COMPLETE ? FORGE_BUNDLE_COMPLETE : 0;
	return r;
}
