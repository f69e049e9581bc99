/*
 * github: the GitHub adapter of the Forge Adapter Contract (libcurl +
 * jansson, over the transport of forge/http.h), for github.com and
 * GitHub Enterprise Server.
 *
 * The token (a fine-grained or classic personal access token) is copied
 * into the transport, sent only as "Authorization: Bearer", wiped on free
 * and never put in an error message. Every request carries a User-Agent
 * (GitHub refuses requests without one), Accept:
 * application/vnd.github+json and X-GitHub-Api-Version: 2022-11-28.
 *
 * How the forge_ops map onto GitHub's REST API:
 * - Lists are read 100 a page. Page 1 first; once its Link header names
 *   rel="last" the other pages are fetched in parallel, else rel="next" is
 *   followed page by page; a last page that names a next one (items were
 *   created meanwhile) is followed too. Link URLs are read for their page
 *   numbers only (either URL form, /repos/{o}/{r}/... or
 *   /repositories/{id}/...): every URL is built from the API root, so the
 *   token never goes to a host a header named. A cold list of N items is
 *   ceil(N/100) requests (one for none).
 * - list_issues: GET /issues?state=all&sort=created&direction=asc (oldest
 *   first, so items created while the pages are read land on the last
 *   page rather than shifting the others). GitHub's issue list holds the
 *   pull requests too (they carry pull_request): FORGE_ISSUES keeps the
 *   issues only, and FORGE_PULLS with since keeps the pull requests only
 *   (head and base NULL, as from Gitea; call get_pull for them).
 *   FORGE_PULLS without since reads GET /pulls?state=all (head, base,
 *   draft, merged_at) and takes each pull request's comment count from
 *   the issue list, which /pulls lacks: ceil(N/100) + ceil(P/100)
 *   requests.
 * - get_issue on a pull request's number is -ENOENT; get_pull on an
 *   issue's number is GitHub's own 404. 410 (deleted) is -ENOENT.
 * - list_comments: GET /issues/{n}/comments, every page, oldest first.
 *   list_repo_comments: GET /issues/comments?sort=created&direction=asc
 *   [&since=T], every page; the issue number from issue_url.
 * - get_diff: GET /pulls/{n} with Accept: application/vnd.github.diff. A
 *   diff GitHub will not render (406: more than 300 files or 20 000
 *   lines) is -EFBIG with GitHub's reason in err, the one line the tree
 *   shows in the diff file.
 * - Conditional reads (forge.h, struct forge_validator): list_issues,
 *   get_issue, get_pull, list_comments, list_repo_comments and get_diff
 *   send If-None-Match with the ETag of the answer the caller kept; a 304
 *   is not_modified and costs nothing against the rate limit. The
 *   validator is "<16 hex digits>:<ETag>", the digits a hash of the
 *   request's kind and path, so a validator of another request is not
 *   sent. A list gives one only when it was one page that is not full
 *   (an item added to a full page 1 goes to page 2 and leaves page 1's
 *   ETag as it was), and never for FORGE_PULLS without since (two
 *   requests).
 * - whoami: GET /user once; the login is kept for the adapter's life.
 * - list_repos: GET /users/{owner}; an organization's repositories from
 *   GET /orgs/{owner}/repos (the private ones the token may read too), a
 *   user's from GET /users/{owner}/repos (public ones).
 * - create_pr: POST /pulls {title, head, base, body, draft}, the body
 *   rendered under the contract with the limit in characters (65 536).
 *   422 "A pull request already exists" is -EEXIST, any other 422
 *   -EINVAL. With a floor callback, the highest issue or pull request
 *   number first: GET /issues?state=all&sort=created&direction=desc
 *   &per_page=1 (GitHub numbers issues and pull requests in one sequence).
 * - post_comment: POST /issues/{n}/comments. update_issue: PATCH
 *   /issues/{n} (title, body, state), then, with has_labels, PUT
 *   /issues/{n}/labels {"labels": [names]}.
 * - update_pr_status: "open"/"closed" PATCH /pulls/{n}; "draft"/"ready"
 *   read the pull request (its node_id, state and draft) and send the
 *   GraphQL mutation convertPullRequestToDraft or
 *   markPullRequestReadyForReview to the GraphQL URL; nothing is sent when
 *   it already is what was asked.
 * - push_branch, repo_bundle: through the daemon's bare mirrors under
 *   mirror_dir (forge/git/mirror.h), git talking to
 *   <git root>/<owner>/<repo>.git with the token as the basic-auth
 *   password of the user x-access-token, in the pushing child's
 *   environment only; without a mirror_dir both are -ENOTSUP.
 * - list_branches: GET /repos/{o}/{r}/branches?per_page=100, Link paging.
 * - Rate limits (http.h): an exhausted bucket (core, or graphql for the
 *   mutations) sends nothing until its reset; a request waits for it
 *   within its deadline, else -EIO naming the reset time. At most 100
 *   requests at once, and writes at least a second apart (GitHub's
 *   secondary limits); a write the timeout leaves no room for is -EIO
 *   before anything is sent.
 * - Owner and repository names: non-empty, at most 255 bytes, no '/',
 *   '\', "..", or control bytes (-EINVAL); every path segment is
 *   percent-encoded.
 * Transient failures are retried within timeout_ms like Gitea's (http.h);
 * a POST never is, except after a rate-limit refusal.
 */
#ifndef BOTTLEFS_FORGE_GITHUB_H
#define BOTTLEFS_FORGE_GITHUB_H

#include "forge/forge.h"

#define GITHUB_API_URL "https://api.github.com"

struct github_options {
	const char *api_url;	 /* API root; NULL: GITHUB_API_URL */
	const char *graphql_url; /* NULL: derived from api_url (github_derive_urls) */
	const char *token;	 /* may be NULL: anonymous (reads of public repositories) */
	unsigned timeout_ms;	 /* bound on one whole operation, retries included */
	size_t max_body;	 /* cap on one response body (0: 64 MiB) */
	const char *user_agent;	 /* NULL: "bottlefs/VERSION" */
	/* Pushing and repo.bundle (forge/git/mirror.h); NULL mirror_dir: -ENOTSUP. */
	const char *mirror_dir;
	size_t mirror_max;   /* mirrors kept (0: the default) */
	const char *git_url; /* the git root; NULL: derived from api_url */
};

/* New adapter, or NULL with a reason in err. */
struct forge *github_new(const struct github_options *opt, struct buf *err);

/*
 * The git root and the GraphQL URL of an API root (both new, no trailing
 * slash): "https://api.github.com" gives "https://github.com" and
 * "https://api.github.com/graphql"; "https://HOST/api/v3" (GitHub
 * Enterprise Server) gives "https://HOST" and "https://HOST/api/graphql";
 * any other root R gives R and "R/graphql". Trailing slashes of api_url
 * are ignored; the host is compared without regard to case. -EINVAL with
 * a reason when api_url is not an http(s) URL or holds a space or a
 * control byte; -ENOMEM. Pure.
 */
MUST_CHECK int github_derive_urls(const char *api_url, char **git_url, char **graphql_url,
				  struct buf *err);

#endif
