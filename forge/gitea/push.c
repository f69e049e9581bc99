/*
 * gitea/push: push_branch and repo_bundle on Gitea, through the mirrors
 * (see push.h).
 */
#include "forge/gitea/push.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "forge/git/mirror.h"
#include "forge/gitea/internal.h"
#include "util/str.h"

#define GIT_USER_DEFAULT "bottlefs"

int gitea_git_url(const struct gitea_git *g, const char *owner, const char *repo, struct buf *out)
{
	int r;

	if (!owner || !*owner || !repo || !*repo)
		return -EINVAL;
	r = buf_puts(out, g->base_url);
	if (r == 0)
		r = buf_putc(out, '/');
	if (r == 0)
		r = http_put_escaped(out, owner);
	if (r == 0)
		r = buf_putc(out, '/');
	if (r == 0)
		r = http_put_escaped(out, repo);
	if (r == 0)
		r = buf_puts(out, ".git");
	return r;
}

int gitea_git_push(const struct gitea_git *g, const char *owner, const char *repo,
		   const struct forge_push_request *req, struct forge_push_result *out,
		   struct buf *err)
{
	struct gitrun_auth auth = {g->git_user ? g->git_user : GIT_USER_DEFAULT, g->token};
	struct mirror_remote rm = {NULL, g->token ? &auth : NULL};
	struct mirror_push_req mr;
	struct mirror_push_result res;
	struct buf url = BUF_INIT(4096);
	int r;

	if (!g->mirrors)
		return buf_fail(err, -ENOTSUP, "pushing needs a mirror directory");
	if ((r = gitea_git_url(g, owner, repo, &url)) < 0)
		return buf_fail(err, -EINVAL, "bad repository name");
	rm.url = buf_cstr(&url);
	memset(&mr, 0, sizeof(mr));
	mr.bundle_path = req->bundle_path;
	mr.branch = req->branch;
	mr.expected_old = req->expected_old;
	mr.limits.max_bundle = req->max_bundle;
	mr.limits.max_object = req->max_object;
	mr.before_send = req->before_send;
	mr.send_ud = req->send_ud;
	r = mirror_push(g->mirrors, owner, repo, &rm, &mr, req->deadline_ms, &res, err);
	if (r == 0) {
		memcpy(out->old_tip, res.old_tip, sizeof(res.old_tip));
		memcpy(out->new_tip, res.new_tip, sizeof(res.new_tip));
		out->already = res.already;
	}
	buf_release(&url);
	return r;
}

int gitea_git_bundle(const struct gitea_git *g, const char *owner, const char *repo, bool refresh,
		     uint64_t deadline_ms, char **path, uint64_t *size, struct buf *err)
{
	struct gitrun_auth auth = {g->git_user ? g->git_user : GIT_USER_DEFAULT, g->token};
	struct mirror_remote rm = {NULL, g->token ? &auth : NULL};
	struct buf url = BUF_INIT(4096);
	int r;

	if (!g->mirrors)
		return buf_fail(err, -ENOTSUP, "repo.bundle needs a mirror directory");
	if (gitea_git_url(g, owner, repo, &url) < 0)
		return buf_fail(err, -EINVAL, "bad repository name");
	rm.url = buf_cstr(&url);
	r = mirror_bundle(g->mirrors, owner, repo, &rm, refresh, deadline_ms, path, size, err);
	buf_release(&url);
	return r;
}

/* ---- the adapter's operations (gitea.c's table) ------------------------- */

int gitea_git_init(struct gitea_git *g, const char *root, const char *user, const char *token,
		   const char *mirror_dir, size_t mirror_max, struct buf *err)
{
	size_t n = root ? strlen(root) : 0;

	memset(g, 0, sizeof(*g));
	g->git_user = user;
	while (n > 0 && root[n - 1] == '/')
		n--;
	g->base_url = strndup(root ? root : "", n);
	if (!g->base_url)
		return buf_fail(err, -ENOMEM, "out of memory");
	if (token && *token && !(g->token = strdup(token)))
		return buf_fail(err, -ENOMEM, "out of memory");
	if (mirror_dir) {
		struct mirror_opts mo = {mirror_dir, mirror_max};

		return mirrors_new(&mo, &g->mirrors, err);
	}
	return 0;
}

void gitea_git_fini(struct gitea_git *g)
{
	mirrors_free(g->mirrors);
	if (g->token)
		str_wipe(g->token, strlen(g->token));
	free(g->token);
	free(g->base_url);
	memset(g, 0, sizeof(*g));
}

int gitea_push_branch(struct forge *f, const char *owner, const char *repo,
		      const struct forge_push_request *req, struct forge_push_result *out,
		      struct buf *err)
{
	int r = gt_check_repo(owner, repo, err);

	return r < 0 ? r : gitea_git_push(&gitea_of(f)->git, owner, repo, req, out, err);
}

int gitea_repo_bundle(struct forge *f, const char *owner, const char *repo, bool refresh,
		      uint64_t deadline_ms, char **path, uint64_t *size, struct buf *err)
{
	int r = gt_check_repo(owner, repo, err);

	return r < 0 ? r
		     : gitea_git_bundle(&gitea_of(f)->git, owner, repo, refresh, deadline_ms, path,
					size, err);
}

int gitea_list_branches(struct forge *f, const char *owner, const char *repo,
			struct forge_branch_list *out, struct buf *err)
{
	struct gitea *g = gitea_of(f);
	int r = gt_check_repo(owner, repo, err);

	return r < 0 ? r : gitea_git_branches(g->http, owner, repo, gt_deadline(g), out, err);
}
