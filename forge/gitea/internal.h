/*
 * gitea/internal: what the files of the Gitea adapter share (gitea.h is
 * its API). Not for other folders; an adapter beside it (forge/github/)
 * shares only the transport, forge/http.h.
 *
 * Thread-safety: as gitea.h: every function may be called from many
 * threads; struct gitea's login is guarded by its lock.
 */
#ifndef BOTTLEFS_FORGE_GITEA_INTERNAL_H
#define BOTTLEFS_FORGE_GITEA_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "forge/gitea/gitea.h"
#include "forge/gitea/push.h"
#include "forge/http.h"
#include "util/buf.h"
#include "util/check.h"

/*
 * Gitea keeps a pull request body in a LONGTEXT column, so the database
 * would take far more; 64 KiB is our conservative limit, the size of
 * GitHub's PR body limit, so descriptions stay portable and readable.
 */
#define GITEA_MAX_DESCRIPTION_LEN 65536
#define GITEA_PAGE_LIMIT 50
/* 2000 pages of 50: a repository bigger than 100k items is refused. */
#define GITEA_MAX_PAGES 2000
#define GITEA_NAME_MAX 255

struct gitea {
	struct forge base; /* first: struct forge * <-> struct gitea * */
	struct http *http; /* thread-safe on its own */
	unsigned timeout_ms;
	pthread_mutex_t lock; /* guards login */
	char *login;	      /* the token's user once GET /user answered; lock */
	struct gitea_git git; /* the git side (push.h): root, token copy, mirrors */
};

/* The adapter behind a struct forge of gitea_new. */
struct gitea *gitea_of(struct forge *f);
/* now + timeout_ms: the one deadline of an operation. */
uint64_t gt_deadline(struct gitea *g);

/* Owner and repository names reach a URL path: refuse what cannot be one (-EINVAL, why in err). */
MUST_CHECK int gt_check_name(const char *s, const char *what, struct buf *err);
MUST_CHECK int gt_check_repo(const char *owner, const char *repo, struct buf *err);
/* Percent-encodes everything but RFC 3986 unreserved bytes. */
/* "&since=T" for a list query when since is given (FACTS.md: updated_at >= T). */
MUST_CHECK int gt_add_since(struct buf *b, const char *since);
/* "/api/v1/repos/{owner}/{repo}" with both segments escaped. */
MUST_CHECK int gt_repo_path(struct buf *b, const char *owner, const char *repo);

/* One request; the response stays in *q for the caller to read and release. */
MUST_CHECK int gt_run_one(struct gitea *g, struct http_req *q, enum http_method m, const char *path,
			  const char *json, uint64_t deadline, struct buf *err);
/* Like gt_run_one, for a GET whose JSON answer is parsed as it is read (gt_answer_json). */
MUST_CHECK int gt_run_stream(struct gitea *g, struct http_req *q, const char *path,
			     uint64_t deadline, struct buf *err);
/* A streamed 2xx answer in q parsed into *root (new), the reason in why. */
MUST_CHECK int gt_answer_json(struct gitea *g, struct http_req *q, json_t **root, struct buf *why);
/* "decoding '<path>': <why>" appended to err; returns r. */
int gt_decode_fail(struct buf *err, const struct http_req *q, struct buf *why, int r);
/* GET {repo}/{kind}/{n}{suffix} into q; a JSON answer is streamed (gt_answer_json). */
MUST_CHECK int gt_get_numbered(struct gitea *g, const char *owner, const char *repo,
			       const char *kind, uint64_t number, const char *suffix,
			       struct http_req *q, struct buf *path, uint64_t deadline,
			       struct buf *err);
/*
 * Gitea answers 500 instead of 404 for the comments of a number that does
 * not exist: r becomes -ENOENT only when the issue itself answers 404.
 */
MUST_CHECK int gt_comments_500(struct gitea *g, const char *owner, const char *repo,
			       uint64_t number, int r, long status, uint64_t deadline,
			       struct buf *err);

/* ---- paging (pages.c) ---- */

/*
 * A list operation's page sink: decodes one page's body, appends its items
 * to acc and says how many there were.
 */
typedef int (*page_fn)(void *acc, json_t *root, size_t *n_items, struct buf *err);

/*
 * Every page of prefix ("...?...&limit=50", no page) into acc, through fn,
 * within deadline (pages.c says how).
 */
MUST_CHECK int gt_fetch_all_pages(struct gitea *g, const char *prefix, page_fn fn, void *acc,
				  uint64_t deadline, struct buf *err);

/* The sinks: issues (or pulls) once each, comments once each, repository names once each. */
struct issue_acc {
	struct forge_issue_list l;
	bool pulls_endpoint;
	enum forge_kind want;
};
struct comment_acc {
	struct forge_comment_list l;
};
int gt_issue_page(void *acc, json_t *root, size_t *n_items, struct buf *err);
int gt_comment_page(void *acc, json_t *root, size_t *n_items, struct buf *err);
int gt_name_page(void *acc, json_t *root, size_t *n_items, struct buf *err);

/* ---- the operations (reads.c, writes.c, gitea.c), as forge.h describes them ---- */

MUST_CHECK int gitea_list_repos(struct forge *f, const char *owner, struct forge_name_list *out,
				struct buf *err);
MUST_CHECK int gitea_list_issues(struct forge *f, const char *owner, const char *repo,
				 enum forge_kind kind, const char *since,
				 struct forge_issue_list *out, struct buf *err);
MUST_CHECK int gitea_get_issue(struct forge *f, const char *owner, const char *repo,
			       uint64_t number, struct forge_issue *out, struct buf *err);
MUST_CHECK int gitea_get_pull(struct forge *f, const char *owner, const char *repo, uint64_t number,
			      struct forge_issue *out, struct buf *err);
MUST_CHECK int gitea_list_comments(struct forge *f, const char *owner, const char *repo,
				   uint64_t number, struct forge_comment_list *out,
				   struct buf *err);
MUST_CHECK int gitea_list_repo_comments(struct forge *f, const char *owner, const char *repo,
					const char *since, struct forge_comment_list *out,
					struct buf *err);
MUST_CHECK int gitea_get_diff(struct forge *f, const char *owner, const char *repo, uint64_t number,
			      struct buf *out, struct buf *err);
MUST_CHECK int gitea_whoami(struct forge *f, char **login, struct buf *err);
MUST_CHECK int gitea_create_pr(struct forge *f, const char *owner, const char *repo,
			       const struct forge_pr_request *req, forge_floor_fn floor_cb,
			       void *floor_ud, uint64_t *number, struct buf *err);
MUST_CHECK int gitea_push_branch(struct forge *f, const char *owner, const char *repo,
				 const struct forge_push_request *req,
				 struct forge_push_result *out, struct buf *err);
MUST_CHECK int gitea_list_branches(struct forge *f, const char *owner, const char *repo,
				   struct forge_branch_list *out, struct buf *err);
MUST_CHECK int gitea_repo_bundle(struct forge *f, const char *owner, const char *repo, bool refresh,
				 uint64_t deadline_ms, char **path, uint64_t *size,
				 struct buf *err);
MUST_CHECK int gitea_post_comment(struct forge *f, const char *owner, const char *repo,
				  uint64_t number, const char *body, struct forge_comment *out,
				  struct buf *err);
MUST_CHECK int gitea_update_issue(struct forge *f, const char *owner, const char *repo,
				  uint64_t number, const struct forge_issue_patch *patch,
				  struct buf *err);
MUST_CHECK int gitea_update_pr_status(struct forge *f, const char *owner, const char *repo,
				      uint64_t number, const char *state, struct buf *err);
void gitea_capabilities(struct forge *f, struct forge_capabilities *out);

#endif
