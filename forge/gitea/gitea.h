/*
 * gitea: the Gitea adapter of the Forge Adapter Contract (libcurl +
 * jansson), honouring what Gitea really does: tests/contract/gitea/FACTS.md.
 *
 * The token is copied into the adapter and wiped on free; it is sent only
 * in the Authorization header and never appears in an error message.
 *
 * How the forge_ops map onto Gitea 1.26 (see FACTS.md):
 * - list_issues(FORGE_ISSUES): GET /issues?state=all&type=issues, every
 *   page. list_issues(FORGE_PULLS, since NULL): GET /pulls?state=all (head,
 *   base, merged filled). /pulls has no `since`, so list_issues(FORGE_PULLS,
 *   since) uses GET /issues?type=pulls&since=T instead: those items have
 *   is_pull and merged but head and base are NULL; call get_pull for them.
 *   Page 1 is read first; its X-Total-Count and the number of items it
 *   really held give the page count; the other pages are fetched in
 *   parallel (at most 8 at once) from our own base URL, never from Link.
 *   Items seen twice (they moved between pages) are kept once.
 * - get_issue on a PR number is -ENOENT; get_pull on an issue number is
 *   Gitea's own 404.
 * - list_comments / post_comment: Gitea answers 500 for a number that does
 *   not exist. That 500 becomes -ENOENT only when a follow-up
 *   GET /issues/{n} answers 404; otherwise it stays -EIO (a real fault).
 * - post_comment: when the forge answered 201 but its body cannot be
 *   decoded (not JSON, or longer than max_body), the comment is on the
 *   forge; the call succeeds with out->body the text sent and out->id read
 *   from the echo's first bytes when they hold it (else 0), so a caller
 *   never posts it twice. create_pr likewise succeeds when the echo's
 *   first bytes hold the number; a PATCH or PUT answered 2xx succeeds
 *   whatever its echo.
 * - JSON answers are parsed as they are read (http_req_json): the raw
 *   text is freed piece by piece while the tree grows, and list elements
 *   are freed as they are decoded. get_diff keeps the diff as text; a diff
 *   longer than max_body (or than out's own maximum) is -EFBIG with its
 *   size in err when the forge sent Content-Length.
 * - update_issue: PATCH /issues/{n} (title, body, state), then, with
 *   has_labels, PUT /issues/{n}/labels with the label names.
 * - create_pr: POST /pulls with the body from forge_render_description;
 *   never retried (a request's draft opens it with Gitea's "WIP: " title
 *   prefix).
 * - update_pr_status: "open"/"closed" PATCH /pulls/{n} with the state.
 *   Gitea has no draft flag of its own: a pull request is a draft while
 *   its title starts with a work-in-progress prefix (Gitea's default
 *   WORK_IN_PROGRESS_PREFIXES "WIP:" and "[WIP]", compared without regard
 *   to case; the server's configured list is not readable over the API).
 *   "draft" reads the pull request and PATCHes its title to "WIP: " +
 *   title, "ready" PATCHes it without its prefix; nothing is sent when it
 *   already is what was asked, and a closed or merged pull request is
 *   -EINVAL. A pull request's draft is read from Gitea's draft field.
 * - push_branch, repo_bundle: through the adapter's bare mirrors
 *   (forge/git/mirror.h) under mirror_dir, with Debian's git talking to
 *   <base_url>/<owner>/<repo>.git, the token as the basic-auth password in
 *   the pushing child's environment only (gitea/push.h). Without a
 *   mirror_dir both are -ENOTSUP.
 * - list_branches: GET /repos/{o}/{r}/branches, every page (gitea/push.h).
 * - whoami: GET /user once (scope read:user); the login is kept for the
 *   adapter's life.
 * - create_pr with a floor callback: first the highest number on page 1
 *   of GET /issues?state=all (no type: issues and pull requests, newest
 *   created first), then the callback, then the POST, in one deadline.
 * - Owner and repository names must be non-empty, at most 255 bytes, and
 *   free of '/', '\', "..", and control bytes (-EINVAL otherwise); every
 *   path segment is percent-encoded anyway.
 * Transient failures (502/503/504/429, refused or reset connections,
 * truncated bodies, timeouts) are retried with backoff for GET, PUT and
 * PATCH within timeout_ms, honouring Retry-After; POST never is.
 */
#ifndef BOTTLEFS_FORGE_GITEA_H
#define BOTTLEFS_FORGE_GITEA_H

#include "forge/forge.h"

struct gitea_options {
	const char *base_url;	/* e.g. "http://127.0.0.1:3000" (no /api/v1) */
	const char *token;	/* may be NULL: anonymous */
	unsigned timeout_ms;	/* bound on one whole operation, retries included */
	size_t max_body;	/* cap on one response body (0: HTTP_MAX_BODY_DEFAULT, 64 MiB) */
	const char *mirror_dir; /* --mirror-dir: the git mirrors (NULL: no push, no repo.bundle) */
	const char *git_url;	/* --git-url: where git is served (NULL: base_url) */
	size_t mirror_max;	/* --mirror-max (0: the default, 32) */
};

/* New adapter, or NULL with a reason in err. */
struct forge *gitea_new(const struct gitea_options *opt, struct buf *err);

#endif
