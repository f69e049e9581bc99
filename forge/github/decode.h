/*
 * github/decode: GitHub REST (and the two GraphQL mutations') JSON ->
 * forge.h structs, and GitHub's Link header. Pure (jansson only, no curl),
 * so the unit tests and a fuzzer drive it directly.
 *
 * Every decoder returns 0, -EIO when the text is not the JSON promised
 * (not JSON, HTML, invalid UTF-8, too deeply nested, more than
 * GITHUB_DECODE_MAX_VALUES values, a present key of the wrong type, a
 * required key missing), or -ENOMEM, with a reason appended to err (may be
 * NULL). Out-parameters are written only on success and are new (release
 * them with the forge.h _release functions).
 *
 * What GitHub sends and how it maps (tests/double/README.md, "GitHub
 * double", and GitHub's REST reference):
 * - an issue (GET /issues/{n}, an element of GET /issues): number >= 1,
 *   title and state required; body null is ""; user null is author "";
 *   labels are objects with a name (or bare names); a pull request in the
 *   issue list carries a pull_request object: is_pull, merged when its
 *   merged_at is not null, draft from the item's draft;
 * - a pull request (GET /pulls/{n}, POST /pulls, an element of GET
 *   /pulls): head and base from head.ref and base.ref; merged from merged
 *   (the full object) or from merged_at not null (the list's
 *   pull-request-simple, which has no merged and no comments: n_comments
 *   is then 0); draft;
 * - a comment: id >= 1; its issue number from issue_url (".../issues/N")
 *   unless the caller knows it.
 *
 * Thread-safety: no shared state; call from any thread.
 */
#ifndef BOTTLEFS_FORGE_GITHUB_DECODE_H
#define BOTTLEFS_FORGE_GITHUB_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "forge/forge.h"

/* Bound on the JSON values of one answer, checked before jansson allocates. */
#define GITHUB_DECODE_MAX_VALUES ((size_t)1 << 20)

/*
 * On a parsed root (borrowed). A list's elements are replaced by null in
 * root as they are decoded, so the tree shrinks while the structs grow.
 * pulls: the array came from GET /pulls (pull request objects), else from
 * GET /issues (issue objects, pull requests among them).
 */
int github_decode_issue_root(json_t *root, struct forge_issue *out, struct buf *err);
int github_decode_pull_root(json_t *root, struct forge_issue *out, struct buf *err);
int github_decode_issue_list_root(json_t *root, bool pulls, struct forge_issue_list *out,
				  struct buf *err);
int github_decode_comment_list_root(json_t *root, uint64_t issue, struct forge_comment_list *out,
				    struct buf *err);
int github_decode_repo_list_root(json_t *root, struct forge_name_list *out, struct buf *err);

/* The same on text[0..len) (no NUL needed). */
int github_decode_issue(const char *text, size_t len, struct forge_issue *out, struct buf *err);
int github_decode_pull(const char *text, size_t len, struct forge_issue *out, struct buf *err);
int github_decode_issue_list(const char *text, size_t len, bool pulls, struct forge_issue_list *out,
			     struct buf *err);
/* issue: the number the caller asked about, or 0 to read it from issue_url. */
int github_decode_comment(const char *text, size_t len, uint64_t issue, struct forge_comment *out,
			  struct buf *err);
int github_decode_comment_list(const char *text, size_t len, uint64_t issue,
			       struct forge_comment_list *out, struct buf *err);
/* GET /user: the login (new, non-empty). */
int github_decode_user(const char *text, size_t len, char **login, struct buf *err);
/* GET /users/{u}: whether the account is an organization. */
int github_decode_account_is_org(const char *text, size_t len, bool *is_org, struct buf *err);
/* A pull request's GraphQL global id, node_id (new, non-empty). */
int github_decode_node_id(const char *text, size_t len, char **node_id, struct buf *err);

/*
 * The answer of one of the draft mutations (convertPullRequestToDraft,
 * markPullRequestReadyForReview), named field, selecting pullRequest {
 * isDraft }: 0 and *is_draft; GraphQL's errors (sent with HTTP 200) by
 * their type: NOT_FOUND -ENOENT, FORBIDDEN -EACCES, UNPROCESSABLE -EINVAL,
 * anything else -EIO, err holding the first error's message.
 */
int github_decode_draft_mutation(const char *text, size_t len, const char *field, bool *is_draft,
				 struct buf *err);

/*
 * Whether a 422 answer says the pull request exists already ("A pull
 * request already exists for owner:head.", in message or in an element of
 * errors). Pure; false for anything unreadable.
 */
bool github_decode_pull_exists(const char *text, size_t len);

/* The first error message of a GitHub error answer (new), or NULL. */
char *github_decode_message(const char *text, size_t len);

/*
 * The pages a Link header names (0 for a relation it does not have): the
 * page query parameter of each URL, whatever the URL's form
 * (/repos/{o}/{r}/... or /repositories/{id}/...), so the adapter builds
 * the next URLs from its own API root and never sends the token to a host
 * a header named. An empty header has no relations. -EIO with a reason
 * when the header is not a Link list, or names next or last without a
 * page number in 1..UINT32_MAX.
 */
struct github_links {
	uint64_t next, last, prev, first;
};
int github_parse_link(const char *link, size_t n, struct github_links *out, struct buf *err);

/* The number at the end of ".../issues/N" or ".../pulls/N", or 0. */
uint64_t github_number_from_url(const char *url);

#endif
