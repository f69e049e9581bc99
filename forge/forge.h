/*
 * forge: the Forge Adapter Contract.
 *
 * A forge adapter is a table of operations (struct forge_ops) behind an
 * opaque struct forge. Its callers, the cache (cache/, for reads) and the
 * write path (write/), speak only this interface; they never speak HTTP,
 * and an adapter knows nothing of caching. forge/gitea/ and forge/github/
 * are the adapters; they share the HTTP transport (forge/http.h).
 *
 * Errors: every operation returns 0 or -errno, mapped in one table per
 * adapter:
 *   -ENOENT  the object does not exist (Gitea 404). Gitea answers 500, not
 *            404, for the comments of a number that does not exist; an
 *            adapter reports that as -ENOENT only after checking the
 *            number is missing, and as -EIO otherwise.
 *   -EACCES  the forge refused (401, 403)
 *   -EINVAL  the request is malformed: the forge rejected it (400, 412,
 *            422) or the adapter did before sending it
 *   -EEXIST  conflict (409; GitHub: 422 "A pull request already exists")
 *   -EIO     the forge did not answer in time, dropped the connection,
 *            answered 5xx, or answered something that is not the JSON
 *            promised (HTML, truncated, too big, wrong types), or its
 *            rate limit stands until after the operation's deadline (err
 *            names the time it resets)
 *   -ENOTSUP the adapter cannot do this
 *   -EFBIG   (get_diff) the answer is larger than the adapter reads
 * When err is non-NULL a one-line, lower-case reason is appended to it
 * (never containing the token). Out-parameters are written only on success.
 *
 * Ownership: every struct filled by an operation is new and is released
 * with its _release function; strings in it are owned by it. Strings passed
 * in are borrowed for the duration of the call.
 *
 * Thread-safety: every operation may be called from many threads at once on
 * one struct forge.
 */
#ifndef BOTTLEFS_FORGE_H
#define BOTTLEFS_FORGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "forge/branches.h"
#include "util/buf.h"
#include "util/check.h"

struct forge;

/* One issue or pull request as the tree needs it. */
struct forge_issue {
	uint64_t number;
	char *title;
	char *body;   /* "" when the forge sent null */
	char *state;  /* "open" or "closed" */
	char *author; /* login */
	char **labels;
	size_t n_labels;
	uint64_t n_comments; /* the object's own comment count */
	char *updated_at;    /* RFC 3339, as sent */
	char *created_at;    /* RFC 3339, as sent ("" when the forge sent none) */
	bool is_pull;	     /* a pull request (true for every get_pull result) */
	/* Pull requests only (NULL/false otherwise). */
	char *head;
	char *base;
	bool merged;
	/* The whole object as the forge sent it, re-serialised, ending "\n". */
	char *json;
	/*
	 * Pull requests only: a draft (GitHub's draft, Gitea's work-in-progress
	 * title prefix). false for issues.
	 */
	bool draft;
};

struct forge_issue_list {
	struct forge_issue *v;
	size_t n;
};

struct forge_comment {
	uint64_t id;
	uint64_t issue; /* the issue or PR number it belongs to (0 if unknown) */
	char *body;
	char *author;
	char *created_at;
	char *updated_at;
};

struct forge_comment_list {
	struct forge_comment *v;
	size_t n;
};

struct forge_name_list {
	char **v;
	size_t n;
};

enum forge_kind {
	FORGE_ISSUES,
	FORGE_PULLS,
};

/* A change to an issue or PR: NULL fields are left as they are. */
struct forge_issue_patch {
	const char *title;
	const char *body;
	const char *state;	   /* "open" or "closed" */
	const char *const *labels; /* label names; set has_labels to apply */
	size_t n_labels;
	bool has_labels;
};

/* Bundle receipt (SPEC section 3): the fields that must always survive. */
struct forge_receipt {
	const char *session_id;
	const char *policy_bundle_id;
	const char *trajectory_hash;
	bool verification_passed;
};

struct forge_pr_request {
	const char *title;
	const char *head;
	const char *base;
	const char *body;		     /* used when there is no bundle */
	const char *summary;		     /* bundle summary (PR_SUMMARY.md); NULL = no bundle */
	const struct forge_receipt *receipt; /* with summary */
	bool draft;			     /* open it as a draft */
};

/* What a forge's length limits count. */
enum forge_len_unit {
	FORGE_LEN_BYTES = 0, /* UTF-8 bytes (Gitea) */
	FORGE_LEN_CHARS,     /* Unicode code points (GitHub) */
};

/*
 * What the adapter can do, as capabilities.json shows it (ADR-0018). New
 * fields are added at the end, so a zeroed struct means "no" and "bytes".
 */
struct forge_capabilities {
	const char *name;	    /* "gitea", "github" */
	size_t max_description_len; /* in description_unit */
	bool structured_metadata;   /* false: metadata goes in an HTML comment */
	bool push_branch;
	bool update_pr_status;
	size_t max_page_size; /* the forge's page limit (Gitea: 50, GitHub: 100) */
	/* What max_description_len counts; the rendering counts the same. */
	enum forge_len_unit description_unit;
	/* ADR-0018: the forge links a pull request to its agent trajectory natively. */
	bool trajectory_linking;
	/* ADR-0018: the forge shows an agent as an identity of its own, not its token's user. */
	bool agent_identity;
	/* ADR-0018: the forge can attach a bounty to an issue. */
	bool bounties;
	/* The read operations take a validator and answer "not modified" (see forge_validator). */
	bool conditional_reads;
	/*
	 * A bare git remote (forge/git/git.h): branches and repo.bundle only;
	 * no issues, pull requests or comments (the tree shows none of them).
	 */
	bool git_only;
};

/*
 * Conditional reads. A cache that keeps an answer keeps the validator that
 * came with it (etag_out, opaque text) and passes it back (etag_in) when it
 * asks the same operation with the same arguments again after its TTL. An
 * adapter whose forge can say "unchanged" (GitHub: If-None-Match and 304,
 * which costs nothing against the rate limit) then sets not_modified and
 * returns 0 without filling the answer: the cache keeps what it has and
 * restarts its TTL. An adapter that cannot (Gitea) never sets not_modified;
 * forge_*_cond below call the plain operation for it.
 *
 * The validator is bound to the request: an adapter embeds in etag_out
 * what identifies the request, and ignores an etag_in that was made for
 * another one (it asks unconditionally), so passing a stale or foreign
 * validator costs a full answer, never a wrong "not modified". A list
 * operation gives a validator only when a 304 to its one request proves
 * the whole list unchanged (GitHub: one page that is not full). For
 * list_issues and list_repo_comments with since, the same since must be
 * passed again for the validator to match: a cache that revalidates with
 * since=T keeps T while nothing changes (a re-read of an unchanged
 * repository is then one free 304 per list).
 *
 * Before the call: etag_in borrowed (or NULL), etag_out NULL, not_modified
 * any. After a successful call: etag_out new (or NULL when the forge gave
 * none; release with forge_validator_release), not_modified set when the
 * answer is the one etag_in validated, in which case *out is written
 * empty (a zeroed struct, an empty list, nothing appended) and etag_out
 * is a copy of etag_in. On failure neither is written.
 */
struct forge_validator {
	const char *etag_in; /* borrowed; NULL: ask unconditionally */
	char *etag_out;	     /* new; NULL when the forge gave no validator */
	bool not_modified;
};

/* Frees etag_out; NULL-safe. */
void forge_validator_release(struct forge_validator *v);

/* See create_pr. */
typedef int (*forge_floor_fn)(void *ud, uint64_t max_number);

struct forge_ops {
	/* Reads. */
	MUST_CHECK int (*list_repos)(struct forge *f, const char *owner,
				     struct forge_name_list *out, struct buf *err);
	/*
	 * Every issue (FORGE_ISSUES) or every pull request (FORGE_PULLS),
	 * open and closed, every page; since (RFC 3339) or NULL limits it to
	 * those updated at or after since.
	 */
	MUST_CHECK int (*list_issues)(struct forge *f, const char *owner, const char *repo,
				      enum forge_kind kind, const char *since,
				      struct forge_issue_list *out, struct buf *err);
	/* A true issue; -ENOENT when the number is a pull request. */
	MUST_CHECK int (*get_issue)(struct forge *f, const char *owner, const char *repo,
				    uint64_t number, struct forge_issue *out, struct buf *err);
	MUST_CHECK int (*get_pull)(struct forge *f, const char *owner, const char *repo,
				   uint64_t number, struct forge_issue *out, struct buf *err);
	/* Plain comments of one issue or PR, oldest first. */
	MUST_CHECK int (*list_comments)(struct forge *f, const char *owner, const char *repo,
					uint64_t number, struct forge_comment_list *out,
					struct buf *err);
	/* Every plain comment of a repository, oldest first (since may be NULL). */
	MUST_CHECK int (*list_repo_comments)(struct forge *f, const char *owner, const char *repo,
					     const char *since, struct forge_comment_list *out,
					     struct buf *err);
	/*
	 * The unified diff of a PR, appended to out. -EFBIG when it is
	 * larger than the adapter reads or out holds: err then says how
	 * large when the forge said so, in one line a reader can be shown.
	 */
	MUST_CHECK int (*get_diff)(struct forge *f, const char *owner, const char *repo,
				   uint64_t number, struct buf *out, struct buf *err);
	/*
	 * The same reads, conditional (struct forge_validator); optional:
	 * NULL in an adapter that cannot answer "not modified". Call them
	 * through forge_*_cond, which fall back to the plain operation.
	 */
	MUST_CHECK int (*list_issues_cond)(struct forge *f, const char *owner, const char *repo,
					   enum forge_kind kind, const char *since,
					   struct forge_validator *val,
					   struct forge_issue_list *out, struct buf *err);
	MUST_CHECK int (*get_issue_cond)(struct forge *f, const char *owner, const char *repo,
					 uint64_t number, struct forge_validator *val,
					 struct forge_issue *out, struct buf *err);
	MUST_CHECK int (*get_pull_cond)(struct forge *f, const char *owner, const char *repo,
					uint64_t number, struct forge_validator *val,
					struct forge_issue *out, struct buf *err);
	MUST_CHECK int (*list_comments_cond)(struct forge *f, const char *owner, const char *repo,
					     uint64_t number, struct forge_validator *val,
					     struct forge_comment_list *out, struct buf *err);
	MUST_CHECK int (*list_repo_comments_cond)(struct forge *f, const char *owner,
						  const char *repo, const char *since,
						  struct forge_validator *val,
						  struct forge_comment_list *out, struct buf *err);
	MUST_CHECK int (*get_diff_cond)(struct forge *f, const char *owner, const char *repo,
					uint64_t number, struct forge_validator *val,
					struct buf *out, struct buf *err);
	/*
	 * The login of the user the adapter acts as (its token's), in *login
	 * (new). Learned from the forge once and kept. -EACCES without a
	 * token the forge accepts.
	 */
	MUST_CHECK int (*whoami)(struct forge *f, char **login, struct buf *err);

	/*
	 * Writes (the Forge Adapter Contract).
	 *
	 * create_pr: when floor_cb is not NULL, the adapter first learns the
	 * highest issue or pull request number the repository has (0 when
	 * none) and calls floor_cb(floor_ud, that number) just before it sends the
	 * request, all under the operation's one deadline. Issues and pull
	 * requests share one number sequence that only grows, so the pull
	 * request this call opens has a greater number: crash recovery uses
	 * that to tell it from one that existed before (write/recover.c). A
	 * non-zero return from floor_cb cancels the request (nothing is
	 * sent) and is returned. When the number cannot be learnt, floor_cb
	 * is not called and the request is sent anyway.
	 */
	MUST_CHECK int (*create_pr)(struct forge *f, const char *owner, const char *repo,
				    const struct forge_pr_request *req, forge_floor_fn floor_cb,
				    void *floor_ud, uint64_t *number, struct buf *err);
	/*
	 * push_branch: makes the tip of the complete, one-ref bundle at
	 * req->bundle_path the forge's req->branch, checked first (header,
	 * objects, caps, fast-forward against req->expected_old; see
	 * forge/branches.h) and bounded by req->deadline_ms. req->before_send
	 * runs right before anything is sent (the journal's entry). *out:
	 * the old and new tips, or already when the forge had it. Errors as
	 * forge/branches.h lists them, with a one-line reason. NULL in an
	 * adapter's table: -ENOTSUP (forge_push_branch).
	 */
	MUST_CHECK int (*push_branch)(struct forge *f, const char *owner, const char *repo,
				      const struct forge_push_request *req,
				      struct forge_push_result *out, struct buf *err);
	MUST_CHECK int (*post_comment)(struct forge *f, const char *owner, const char *repo,
				       uint64_t number, const char *body, struct forge_comment *out,
				       struct buf *err);
	MUST_CHECK int (*update_issue)(struct forge *f, const char *owner, const char *repo,
				       uint64_t number, const struct forge_issue_patch *patch,
				       struct buf *err);
	/*
	 * state: "open" (reopen; a draft stays a draft), "closed", "draft"
	 * (an open pull request becomes a draft), "ready" (a draft becomes
	 * ready for review). "draft" or "ready" on a closed or merged pull
	 * request is -EINVAL; asking for what already is succeeds without
	 * a change. GitHub: PATCH for open/closed, its GraphQL mutations for
	 * draft/ready; Gitea: PATCH state, and its work-in-progress title
	 * prefix for draft/ready.
	 */
	MUST_CHECK int (*update_pr_status)(struct forge *f, const char *owner, const char *repo,
					   uint64_t number, const char *state, struct buf *err);
	void (*capabilities)(struct forge *f, struct forge_capabilities *out);

	/*
	 * The branch reads (additive; NULL in an adapter's table: -ENOTSUP
	 * through forge_list_branches / forge_repo_bundle).
	 *
	 * list_branches: every branch of the repository, every page, sorted
	 * by name.
	 *
	 * repo_bundle: *path (new) names a git bundle of the repository's
	 * branches and HEAD, a file on the daemon's disk that stays readable
	 * while open (a newer one is renamed over it), *size its size. With
	 * refresh, the adapter's mirror is brought up to date first (made
	 * when missing). -EAGAIN with a reason when the mirror is not ready
	 * by deadline_ms (CLOCK_MONOTONIC ms); -ENOENT when the repository
	 * has no branch.
	 */
	MUST_CHECK int (*list_branches)(struct forge *f, const char *owner, const char *repo,
					struct forge_branch_list *out, struct buf *err);
	MUST_CHECK int (*repo_bundle)(struct forge *f, const char *owner, const char *repo,
				      bool refresh, uint64_t deadline_ms, char **path,
				      uint64_t *size, struct buf *err);

	void (*free)(struct forge *f);
};

/* Every adapter's struct starts with this. */
struct forge {
	const struct forge_ops *ops;
};

/* NULL-safe. */
void forge_free(struct forge *f);

/* The branch operations through f's table, -ENOTSUP where it has none. */
MUST_CHECK int forge_push_branch(struct forge *f, const char *owner, const char *repo,
				 const struct forge_push_request *req,
				 struct forge_push_result *out, struct buf *err);
MUST_CHECK int forge_list_branches(struct forge *f, const char *owner, const char *repo,
				   struct forge_branch_list *out, struct buf *err);
MUST_CHECK int forge_repo_bundle(struct forge *f, const char *owner, const char *repo, bool refresh,
				 uint64_t deadline_ms, char **path, uint64_t *size,
				 struct buf *err);

void forge_issue_release(struct forge_issue *i);
void forge_issue_list_release(struct forge_issue_list *l);
void forge_comment_release(struct forge_comment *c);
void forge_comment_list_release(struct forge_comment_list *l);
void forge_name_list_release(struct forge_name_list *l);

/* Deep copy; 0 or -ENOMEM. */
MUST_CHECK int forge_issue_copy(struct forge_issue *dst, const struct forge_issue *src);
MUST_CHECK int forge_comment_copy(struct forge_comment *dst, const struct forge_comment *src);

/* capabilities.json as the tree shows it (new, ends with "\n"). */
char *forge_capabilities_json(const struct forge_capabilities *caps);

/*
 * The conditional reads: ops->X_cond when the adapter has it, else ops->X
 * with val->etag_out NULL and val->not_modified false. val may be NULL
 * (the plain read). Same errors and ownership as the plain operations.
 */
MUST_CHECK int forge_list_issues_cond(struct forge *f, const char *owner, const char *repo,
				      enum forge_kind kind, const char *since,
				      struct forge_validator *val, struct forge_issue_list *out,
				      struct buf *err);
MUST_CHECK int forge_get_issue_cond(struct forge *f, const char *owner, const char *repo,
				    uint64_t number, struct forge_validator *val,
				    struct forge_issue *out, struct buf *err);
MUST_CHECK int forge_get_pull_cond(struct forge *f, const char *owner, const char *repo,
				   uint64_t number, struct forge_validator *val,
				   struct forge_issue *out, struct buf *err);
MUST_CHECK int forge_list_comments_cond(struct forge *f, const char *owner, const char *repo,
					uint64_t number, struct forge_validator *val,
					struct forge_comment_list *out, struct buf *err);
MUST_CHECK int forge_list_repo_comments_cond(struct forge *f, const char *owner, const char *repo,
					     const char *since, struct forge_validator *val,
					     struct forge_comment_list *out, struct buf *err);
MUST_CHECK int forge_get_diff_cond(struct forge *f, const char *owner, const char *repo,
				   uint64_t number, struct forge_validator *val, struct buf *out,
				   struct buf *err);

/*
 * The length of s[0..n) in caps->description_unit: n for bytes, the number
 * of UTF-8 characters (lead bytes) for characters. Pure.
 */
size_t forge_text_len(const struct forge_capabilities *caps, const char *s, size_t n);

/*
 * The pull request description under the Forge Adapter Contract: without a
 * summary, body unchanged; with one, the summary truncated to fit
 * caps->max_description_len, counted in caps->description_unit (bytes or
 * characters; never splitting a UTF-8 sequence), closed
 * (forge_description_closer) so nothing it opened can swallow what
 * follows, followed by the truncation notice when truncated, and the
 * receipt's four fields in the adapter's metadata form. Pure. 0 or -errno;
 * out is appended to.
 *
 * The receipt marker and the notice are the daemon's: a body or summary
 * holding either is refused (forge_description_check), so in any
 * description the daemon sends the marker appears exactly once, in the
 * block it wrote, and the notice at most once, where it wrote it.
 */
#define FORGE_TRUNCATION_NOTICE "[Summary truncated. Full summary in PR_SUMMARY.md]"
#define FORGE_RECEIPT_MARKER "<!-- bottlefs:receipt"
MUST_CHECK int forge_render_description(const struct forge_capabilities *caps,
					const struct forge_pr_request *req, struct buf *out);
/*
 * The same, appending a one-line reason to err (may be NULL) on failure:
 * -EINVAL when the receipt is missing a field, a text is not UTF-8 or
 * holds the marker or the notice, the summary opens <plaintext>, the
 * receipt block (or it plus the notice) alone exceeds the limit, or, with
 * no bundle, the body exceeds it; -E2BIG when out's own maximum is hit.
 */
MUST_CHECK int forge_render_description_err(const struct forge_capabilities *caps,
					    const struct forge_pr_request *req, struct buf *out,
					    struct buf *err);

/*
 * Whether an agent's text may go into a pull request description: 0, or
 * -EINVAL with "<what> holds ..." appended to err (may be NULL) when it
 * holds the receipt marker or the truncation notice, which only the daemon
 * writes. Compared on their distinctive parts without regard to ASCII case
 * ("bottlefs:receipt", "[summary truncated."), so "<!--bottlefs:receipt"
 * and "<!-- BOTTLEFS:RECEIPT" are refused as well. Pure.
 */
MUST_CHECK int forge_description_check(const char *text, size_t n, const char *what,
				       struct buf *err);

/*
 * What must follow text[0..n) so that nothing it opened is still open
 * where the daemon's text begins, read as HTML: an HTML comment ("-->"), a
 * bogus comment or declaration such as "<!x" or "<?" (">"), a tag or a
 * quoted attribute value (the quote and ">"), a raw-text element such as
 * <textarea>, <style> or <script> (its end tag). Appended to out; nothing
 * when text leaves nothing open. -EINVAL when text opens <plaintext>,
 * which nothing closes; -E2BIG/-ENOMEM from out. Pure.
 */
MUST_CHECK int forge_description_closer(const char *text, size_t n, struct buf *out);

/*
 * The description to send when an agent replaces the description of an
 * existing pull request with text, current being the description on the
 * forge now (NULL: none). The daemon's tail of current - its receipt block,
 * with the truncation notice right before it when there is one - is kept:
 * the receipt survives every edit. An exact copy of that tail at the end
 * of text (the agent wrote back what it read) is dropped first, then text
 * is checked like a summary, cut to fit with the notice, closed, and the
 * tail appended. When current holds no receipt, text is checked and sent
 * as written. Pure. 0 or -errno (-EINVAL with a reason in err); out is
 * appended to.
 */
MUST_CHECK int forge_render_pr_body(const struct forge_capabilities *caps, const char *current,
				    const char *text, struct buf *out, struct buf *err);

#endif
