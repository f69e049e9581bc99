/*
 * gitea/decode: Gitea API JSON text -> forge.h structs. Pure (jansson
 * only, no curl), so the unit tests and the fuzzer drive it directly.
 *
 * Every decoder takes the response body as bytes (no NUL needed) and
 * returns 0, -EIO when the text is not the JSON promised (not JSON, HTML,
 * truncated, invalid UTF-8, too deeply nested, too many values, a present
 * key of the wrong type, a required key missing), or -ENOMEM. A reason is
 * appended to err (may be NULL). Out-parameters are written only on
 * success and are new (release them with the forge.h _release functions).
 *
 * Required keys: issue and pull: number (integer >= 1), title, state;
 * comment: id (integer >= 1); repository: name; user: login (non-empty). Every other key may be
 * missing or null: body/title strings become "", user becomes author "",
 * labels and assignees become empty, comments 0.
 *
 * Thread-safety: no shared state; call from any thread.
 */
#ifndef BOTTLEFS_FORGE_GITEA_DECODE_H
#define BOTTLEFS_FORGE_GITEA_DECODE_H

#include "util/check.h"
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "forge/forge.h"

/*
 * Bound on the number of JSON values in one body, checked before parsing so
 * a hostile 10 MB "[1,1,1,...]" cannot make jansson allocate gigabytes. A
 * page of 50 issues is a few thousand values; a long comment thread a few
 * hundred thousand.
 */
#define GITEA_DECODE_MAX_VALUES ((size_t)1 << 20)

/* One object from GET /issues/{n}: is_pull when pull_request is an object. */
MUST_CHECK int gitea_decode_issue(const char *text, size_t len, struct forge_issue *out,
				  struct buf *err);
/* One object from GET /pulls/{n} or POST /pulls: head/base/merged filled. */
MUST_CHECK int gitea_decode_pull(const char *text, size_t len, struct forge_issue *out,
				 struct buf *err);
/*
 * An array from GET /issues (pulls_endpoint false) or GET /pulls
 * (pulls_endpoint true).
 */
MUST_CHECK int gitea_decode_issue_list(const char *text, size_t len, bool pulls_endpoint,
				       struct forge_issue_list *out, struct buf *err);
/*
 * One comment (POST /issues/{n}/comments) or an array of them. issue is
 * the number the caller asked about, or 0 to learn it from issue_url
 * (".../issues/N") or pull_request_url (".../pulls/N"); 0 stays when
 * neither names one.
 */
MUST_CHECK int gitea_decode_comment(const char *text, size_t len, uint64_t issue,
				    struct forge_comment *out, struct buf *err);
MUST_CHECK int gitea_decode_comment_list(const char *text, size_t len, uint64_t issue,
					 struct forge_comment_list *out, struct buf *err);
/* One user from GET /user: its login (new, non-empty; required). */
MUST_CHECK int gitea_decode_user(const char *text, size_t len, char **login, struct buf *err);
/* An array from GET /users/{owner}/repos: the repositories' names. */
MUST_CHECK int gitea_decode_repo_list(const char *text, size_t len, struct forge_name_list *out,
				      struct buf *err);

/*
 * The same decoders on a parsed root (borrowed), for answers parsed as
 * they arrived (forge/http.h, http_req_json). A list's elements are
 * replaced by null in root as they are decoded, so the tree shrinks while
 * the structs grow. pull: the object came from GET /pulls/{n} or POST
 * /pulls (gitea_decode_pull), else GET /issues/{n} (gitea_decode_issue).
 */
MUST_CHECK int gitea_decode_issue_root(json_t *root, bool pull, struct forge_issue *out,
				       struct buf *err);
MUST_CHECK int gitea_decode_issue_list_root(json_t *root, bool pulls_endpoint,
					    struct forge_issue_list *out, struct buf *err);
MUST_CHECK int gitea_decode_comment_list_root(json_t *root, uint64_t issue,
					      struct forge_comment_list *out, struct buf *err);
MUST_CHECK int gitea_decode_repo_list_root(json_t *root, struct forge_name_list *out,
					   struct buf *err);

/*
 * An integer member of the top-level object that text[0..len) begins, read
 * from a prefix of the answer (the end may be cut off: a write's echo
 * longer than the answer cap): 0 and *out when key's value is complete in
 * the prefix, -ENOENT otherwise.
 */
MUST_CHECK int gitea_decode_prefix_u64(const char *text, size_t len, const char *key,
				       uint64_t *out);

/* The number at the end of ".../issues/N" or ".../pulls/N", or 0. */
uint64_t gitea_number_from_url(const char *url);

#endif
