/*
 * git/git: the bare git adapter of the Forge Adapter Contract (ADR-0018's
 * third forge, "bare git (branches, commits)"): `--forge git --forge-url
 * ROOT` mounts a plain git remote that has no issue API. Each
 * forge/<o>/<r>/ is the repository ROOT/<o>/<r>.git and shows branches/
 * and repo.bundle only; pushes work as on any forge (forge/git/mirror.h).
 *
 * Operations: list_branches is `git ls-remote --heads` (no API to page);
 * repo_bundle and push_branch go through the adapter's mirrors, with the
 * token (when given) as the basic-auth password of the git child that
 * talks to the remote, exactly as the Gitea adapter's git side
 * (forge/gitea/push.h). Every other operation answers -ENOTSUP, and
 * capabilities say git_only: the tree shows no issues/, pulls/ or
 * comments, and capabilities.json says create_pr and post_comment are
 * not supported.
 *
 * Thread-safety: as forge.h: every operation may be called from many
 * threads at once.
 */
#ifndef BOTTLEFS_FORGE_GIT_GIT_H
#define BOTTLEFS_FORGE_GIT_GIT_H

#include "forge/gitea/gitea.h"

/*
 * A new bare git adapter from the same options as Gitea's (base_url is
 * the remote root, git_url ignored; mirror_dir is required), or NULL with
 * a reason in err.
 */
struct forge *git_forge_new(const struct gitea_options *opt, struct buf *err);

#endif
