/*
 * gitea/push: the Gitea adapter's git side: push_branch, repo_bundle and
 * list_branches of the Forge Adapter Contract (forge/branches.h), in files
 * of their own until gitea.c's operation table points at them.
 *
 * Gitea serves git at <root>/<owner>/<repo>.git and takes the token as the
 * basic-auth password (any user name; "bottlefs" is sent). Pushes and
 * repo.bundle go through the daemon's mirrors (forge/git/mirror.h); the
 * branch list is the API's GET /repos/{o}/{r}/branches, every page.
 *
 * Thread-safety: every function may be called from many threads at once
 * (the mirrors and struct http are thread-safe on their own).
 *
 * Where another adapter plugs in (GitHub, not done here): its ops table
 * fills .push_branch and .repo_bundle by calling gitea_git_push and
 * gitea_git_bundle with its own struct gitea_git (base_url its git root,
 * e.g. https://github.com, git_user "x-access-token", its token, and a
 * struct mirrors of its own from gitea_options-like mirror_dir/mirror_max),
 * and .list_branches with its own API call (GET /repos/{o}/{r}/branches,
 * Link paging). Until it does, those slots are NULL and forge.h's
 * forge_push_branch / forge_list_branches / forge_repo_bundle answer
 * -ENOTSUP, which the tree shows as an error on branches/ and repo.bundle.
 */
#ifndef BOTTLEFS_FORGE_GITEA_PUSH_H
#define BOTTLEFS_FORGE_GITEA_PUSH_H

#include <stdbool.h>
#include <stdint.h>

#include "forge/branches.h"
#include "util/buf.h"
#include "util/check.h"

struct http;
struct mirrors;

/*
 * The git side an adapter keeps for its life (gitea_git_init fills it,
 * gitea_git_fini frees it); immutable in between, so any thread may use it.
 */
struct gitea_git {
	char *base_url;		 /* the git root, e.g. "http://127.0.0.1:3000", no slash */
	const char *git_user;	 /* basic-auth user (NULL: "bottlefs"; GitHub: x-access-token) */
	char *token;		 /* a copy for the pushing git; NULL: anonymous; wiped at fini */
	struct mirrors *mirrors; /* NULL without a mirror directory: push and bundle -ENOTSUP */
};

/*
 * Fills g: root (trailing slashes dropped), user (borrowed, static), a
 * copy of token (NULL or "": none), and the mirrors under mirror_dir (NULL:
 * none; at most mirror_max, 0: the default). On failure g holds what was
 * made: gitea_git_fini frees it.
 */
MUST_CHECK int gitea_git_init(struct gitea_git *g, const char *root, const char *user,
			      const char *token, const char *mirror_dir, size_t mirror_max,
			      struct buf *err);
/* Frees what g holds and wipes the token; g is empty afterwards. */
void gitea_git_fini(struct gitea_git *g);

/* "<base_url>/<owner>/<repo>.git", segments percent-encoded (new in out). */
int gitea_git_url(const struct gitea_git *g, const char *owner, const char *repo, struct buf *out);

/* push_branch (forge/branches.h) on Gitea. */
int gitea_git_push(const struct gitea_git *g, const char *owner, const char *repo,
		   const struct forge_push_request *req, struct forge_push_result *out,
		   struct buf *err);

/*
 * repo_bundle: *path (new) is the repository's bundle file, *size its
 * size; with refresh the mirror is brought up to date first (made when
 * missing). -EAGAIN when it is not ready by deadline_ms.
 */
int gitea_git_bundle(const struct gitea_git *g, const char *owner, const char *repo, bool refresh,
		     uint64_t deadline_ms, char **path, uint64_t *size, struct buf *err);

/*
 * list_branches: every branch, every page (limit 50; X-Total-Count says
 * how many; at most 2000 pages), sorted by name, each once. A branch whose
 * name git would refuse or whose commit id is not hex is left out.
 */
int gitea_git_branches(struct http *h, const char *owner, const char *repo, uint64_t deadline_ms,
		       struct forge_branch_list *out, struct buf *err);

#endif
