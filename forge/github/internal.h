/*
 * github internals: what the GitHub adapter's files share (github.c: the
 * adapter, its requests and validators; pages.c: Link paging and the list
 * sinks; reads.c and writes.c: the operations). Not an API: github.h is.
 * Thread-safety is the adapter's (github.h): struct github is immutable
 * after github_new but for login, under its lock.
 */
#ifndef BOTTLEFS_FORGE_GITHUB_INTERNAL_H
#define BOTTLEFS_FORGE_GITHUB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "forge/branches.h"
#include "forge/forge.h"
#include "forge/gitea/push.h"
#include "forge/github/decode.h"
#include "forge/github/github.h"
#include "forge/http.h"
#include "util/buf.h"
#include "util/check.h"

/* GitHub's limit on an issue, pull request or comment body, in characters. */
#define GITHUB_MAX_DESCRIPTION_LEN 65536
#define GITHUB_PAGE_LIMIT 100
/* GitHub's git takes a token as the password of this user. */
#define GITHUB_GIT_USER "x-access-token"
/* 2000 pages of 100: a repository bigger than 200k items is refused. */
#define GITHUB_MAX_PAGES 2000
/* Pages fetched in one parallel batch: bounds the raw text held at once. */
#define PAGE_BATCH 32
#define GITHUB_NAME_MAX 255
/* GitHub's documented limits: requests at once, and the gap between writes. */
#define GITHUB_MAX_INFLIGHT 100
#define GITHUB_WRITE_SPACING_MS 1000
#define ACCEPT_JSON "application/vnd.github+json"
#define ACCEPT_DIFF "application/vnd.github.diff"

struct github {
	struct forge base; /* first: struct forge * <-> struct github * */
	struct http *http; /* thread-safe on its own */
	unsigned timeout_ms;
	char *graphql_url;    /* immutable after github_new */
	pthread_mutex_t lock; /* guards login */
	char *login;	      /* the token's user once GET /user answered; lock */
	struct gitea_git git; /* the git side (forge/gitea/push.h), user x-access-token */
};

static inline struct github *github_of(struct forge *f)
{
	return (struct github *)f;
}

static inline uint64_t gh_deadline_of(struct github *g)
{
	return http_now_ms() + g->timeout_ms;
}

/* Decodes one page's root into acc; *n_items the items it held. */
typedef int (*page_fn)(void *acc, json_t *root, size_t *n_items, struct buf *err);

/* The list sinks (pages.c): what a list operation's pages are gathered in. */
struct issue_acc {
	struct forge_issue_list l;
	bool pulls_endpoint;
	enum forge_kind want;
};

struct comment_acc {
	struct forge_comment_list l;
	uint64_t issue;
};

struct name_acc {
	struct forge_name_list l;
};

/* ---- github.c ---- */

MUST_CHECK int gh_check_name(const char *s, const char *what, struct buf *err);
MUST_CHECK int gh_check_repo(const char *owner, const char *repo, struct buf *err);
MUST_CHECK int gh_repo_path(struct buf *b, const char *owner, const char *repo);
MUST_CHECK int gh_add_since(struct buf *b, const char *since);
uint64_t gh_request_tag(char kind, const char *path, const char *accept);
const char *gh_etag_for(const struct forge_validator *val, uint64_t tag);
MUST_CHECK int gh_validator_out(struct forge_validator *val, uint64_t tag, const struct http_req *q,
				bool whole, struct buf *err);
size_t gh_max_values(struct github *g);
MUST_CHECK int gh_decode_fail(struct buf *err, const struct http_req *q, struct buf *why, int r);
MUST_CHECK int gh_errno(int r, const struct http_req *q);
MUST_CHECK int gh_run(struct github *g, struct http_req *q, uint64_t deadline, struct buf *err);
void gh_req_init(struct http_req *q, enum http_method m, const char *path, const char *json);
void gh_get_init(struct http_req *q, const char *path, const char *etag);
void github_capabilities(struct forge *f, struct forge_capabilities *out);

/* ---- pages.c ---- */

MUST_CHECK int gh_fetch_pages(struct github *g, char kind, const char *prefix, page_fn fn,
			      void *acc, struct forge_validator *val, uint64_t deadline,
			      struct buf *err);
struct forge_issue *gh_find_sorted(struct forge_issue_list *l, uint64_t n);
MUST_CHECK int gh_issue_page(void *accp, json_t *root, size_t *n_items, struct buf *err);
void gh_dedup(struct forge_issue_list *l);
MUST_CHECK int gh_comment_page(void *accp, json_t *root, size_t *n_items, struct buf *err);
MUST_CHECK int gh_name_page(void *accp, json_t *root, size_t *n_items, struct buf *err);

/* ---- reads.c ---- */

MUST_CHECK int github_list_repos(struct forge *f, const char *owner, struct forge_name_list *out,
				 struct buf *err);
MUST_CHECK int github_list_issues_cond(struct forge *f, const char *owner, const char *repo,
				       enum forge_kind kind, const char *since,
				       struct forge_validator *val, struct forge_issue_list *out,
				       struct buf *err);
MUST_CHECK int github_list_issues(struct forge *f, const char *owner, const char *repo,
				  enum forge_kind kind, const char *since,
				  struct forge_issue_list *out, struct buf *err);
MUST_CHECK int gh_numbered_path(struct buf *path, const char *owner, const char *repo,
				const char *kind, uint64_t number, const char *suffix,
				struct buf *err);
MUST_CHECK int github_get_issue_cond(struct forge *f, const char *owner, const char *repo,
				     uint64_t number, struct forge_validator *val,
				     struct forge_issue *out, struct buf *err);
MUST_CHECK int github_get_issue(struct forge *f, const char *owner, const char *repo,
				uint64_t number, struct forge_issue *out, struct buf *err);
MUST_CHECK int github_get_pull_cond(struct forge *f, const char *owner, const char *repo,
				    uint64_t number, struct forge_validator *val,
				    struct forge_issue *out, struct buf *err);
MUST_CHECK int github_get_pull(struct forge *f, const char *owner, const char *repo,
			       uint64_t number, struct forge_issue *out, struct buf *err);
MUST_CHECK int github_list_comments_cond(struct forge *f, const char *owner, const char *repo,
					 uint64_t number, struct forge_validator *val,
					 struct forge_comment_list *out, struct buf *err);
MUST_CHECK int github_list_comments(struct forge *f, const char *owner, const char *repo,
				    uint64_t number, struct forge_comment_list *out,
				    struct buf *err);
MUST_CHECK int github_list_repo_comments_cond(struct forge *f, const char *owner, const char *repo,
					      const char *since, struct forge_validator *val,
					      struct forge_comment_list *out, struct buf *err);
MUST_CHECK int github_list_repo_comments(struct forge *f, const char *owner, const char *repo,
					 const char *since, struct forge_comment_list *out,
					 struct buf *err);
MUST_CHECK int github_get_diff_cond(struct forge *f, const char *owner, const char *repo,
				    uint64_t number, struct forge_validator *val, struct buf *out,
				    struct buf *err);
MUST_CHECK int github_get_diff(struct forge *f, const char *owner, const char *repo,
			       uint64_t number, struct buf *out, struct buf *err);
MUST_CHECK int github_whoami(struct forge *f, char **login, struct buf *err);

/* ---- git.c ---- */

MUST_CHECK int github_push_branch(struct forge *f, const char *owner, const char *repo,
				  const struct forge_push_request *req,
				  struct forge_push_result *out, struct buf *err);
MUST_CHECK int github_repo_bundle(struct forge *f, const char *owner, const char *repo,
				  bool refresh, uint64_t deadline_ms, char **path, uint64_t *size,
				  struct buf *err);
MUST_CHECK int github_list_branches(struct forge *f, const char *owner, const char *repo,
				    struct forge_branch_list *out, struct buf *err);

/* ---- writes.c ---- */

MUST_CHECK int github_post_comment(struct forge *f, const char *owner, const char *repo,
				   uint64_t number, const char *body, struct forge_comment *out,
				   struct buf *err);
MUST_CHECK int github_update_issue(struct forge *f, const char *owner, const char *repo,
				   uint64_t number, const struct forge_issue_patch *patch,
				   struct buf *err);
MUST_CHECK int github_create_pr(struct forge *f, const char *owner, const char *repo,
				const struct forge_pr_request *req, forge_floor_fn floor_cb,
				void *floor_ud, uint64_t *number, struct buf *err);
MUST_CHECK int github_update_pr_status(struct forge *f, const char *owner, const char *repo,
				       uint64_t number, const char *state, struct buf *err);

#endif
