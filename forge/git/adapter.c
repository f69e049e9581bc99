/*
 * git/adapter: the bare git adapter (git.h).
 */
#include "forge/git/git.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "forge/git/gitrun.h"
#include "forge/git/mirror.h"
#include "forge/gitea/push.h"
#include "util/str.h"

struct bare {
	struct forge base; /* first: struct forge * <-> struct bare * */
	char *root;	   /* the remote root, no trailing '/' */
	char *token;	   /* NULL: anonymous; wiped on free */
	unsigned timeout_ms;
	struct mirrors *mirrors;
	char *home;   /* <mirror_dir>/.home: cwd and HOME of ls-remote */
	char *ls_dir; /* <mirror_dir>/.ls-remote.git: an empty repository for ls-remote */
};

static struct bare *bare_of(struct forge *f)
{
	return (struct bare *)f;
}

static struct gitea_git git_of(struct bare *b)
{
	struct gitea_git g = {b->root, NULL, b->token, b->mirrors};

	return g;
}

static int bare_push(struct forge *f, const char *owner, const char *repo,
		     const struct forge_push_request *req, struct forge_push_result *out,
		     struct buf *err)
{
	struct gitea_git g = git_of(bare_of(f));

	return gitea_git_push(&g, owner, repo, req, out, err);
}

static int bare_bundle(struct forge *f, const char *owner, const char *repo, bool refresh,
		       uint64_t deadline_ms, char **path, uint64_t *size, struct buf *err)
{
	struct gitea_git g = git_of(bare_of(f));

	return gitea_git_bundle(&g, owner, repo, refresh, deadline_ms, path, size, err);
}

static int cmp_branch(const void *a, const void *b)
{
	return strcmp(((const struct forge_branch *)a)->name,
		      ((const struct forge_branch *)b)->name);
}

/* `git ls-remote --heads <url>`, from the mirror directory's empty home. */
static int bare_branches(struct forge *f, const char *owner, const char *repo,
			 struct forge_branch_list *out, struct buf *err)
{
	struct bare *b = bare_of(f);
	struct gitea_git g = git_of(b);
	struct gitrun_auth auth = {"bottlefs", b->token};
	struct gitrun_opts o;
	struct gitrun_result res;
	struct forge_branch_list l = {NULL, 0};
	struct buf url = BUF_INIT(4096);
	const char *p;
	size_t cap = 0;
	int r;

	if (gitea_git_url(&g, owner, repo, &url) < 0)
		return buf_fail(err, -EINVAL, "bad repository name");
	{
		const char *const args[] = {"ls-remote", "--heads", buf_cstr(&url), NULL};

		memset(&o, 0, sizeof(o));
		o.cwd = b->home;
		o.home = b->home;
		o.git_dir = b->ls_dir;
		o.remote_url = buf_cstr(&url);
		o.auth = b->token ? &auth : NULL;
		o.stdin_fd = -1;
		o.deadline_ms = gitrun_now_ms() + b->timeout_ms;
		r = gitrun(args, &o, &res, err);
	}
	if (r == 0 && res.status != 0) {
		r = strstr(buf_cstr(&res.err), "not found") || strstr(buf_cstr(&res.err), "404")
			? -ENOENT
			: -EIO;
		buf_note(err, "git ls-remote: ");
		gitrun_reason(&res, err);
	}
	for (p = buf_cstr(&res.out); r == 0 && *p;) {
		size_t len = strcspn(p, "\n");
		const char *tab = memchr(p, '\t', len);

		if (tab && tab - p == 40 && len > 52 && strncmp(tab + 1, "refs/heads/", 11) == 0 &&
		    str_branch_name_valid(tab + 12, len - (size_t)(tab + 12 - p))) {
			if (l.n == cap) {
				size_t nc = cap ? 2 * cap : 16;
				void *v = realloc(l.v, nc * sizeof(*l.v));

				if (!v) {
					r = -ENOMEM;
					break;
				}
				l.v = v;
				cap = nc;
			}
			l.v[l.n].name = strndup(tab + 12, len - (size_t)(tab + 12 - p));
			if (!l.v[l.n].name) {
				r = -ENOMEM;
				break;
			}
			memcpy(l.v[l.n].commit, p, 40);
			l.v[l.n].commit[40] = '\0';
			l.n++;
		}
		p += len + (p[len] == '\n');
	}
	gitrun_result_release(&res);
	buf_release(&url);
	if (r < 0) {
		forge_branch_list_release(&l);
		return r;
	}
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), cmp_branch);
	*out = l;
	return 0;
}

/* ---- what a bare git remote does not have ---- */

#define NOT_HERE(err) buf_fail(err, -ENOTSUP, "a bare git remote has no issues or pull requests")

static int no_repos(struct forge *f, const char *owner, struct forge_name_list *out,
		    struct buf *err)
{
	(void)f, (void)owner, (void)out;
	return buf_fail(err, -ENOTSUP, "a bare git remote does not list repositories");
}

static int no_list(struct forge *f, const char *o, const char *r, enum forge_kind k,
		   const char *since, struct forge_issue_list *out, struct buf *err)
{
	(void)f, (void)o, (void)r, (void)k, (void)since, (void)out;
	return NOT_HERE(err);
}

static int no_item(struct forge *f, const char *o, const char *r, uint64_t n,
		   struct forge_issue *out, struct buf *err)
{
	(void)f, (void)o, (void)r, (void)n, (void)out;
	return NOT_HERE(err);
}

static int no_comments(struct forge *f, const char *o, const char *r, uint64_t n,
		       struct forge_comment_list *out, struct buf *err)
{
	(void)f, (void)o, (void)r, (void)n, (void)out;
	return NOT_HERE(err);
}

static int no_repo_comments(struct forge *f, const char *o, const char *r, const char *since,
			    struct forge_comment_list *out, struct buf *err)
{
	(void)f, (void)o, (void)r, (void)since, (void)out;
	return NOT_HERE(err);
}

static int no_diff(struct forge *f, const char *o, const char *r, uint64_t n, struct buf *out,
		   struct buf *err)
{
	(void)f, (void)o, (void)r, (void)n, (void)out;
	return NOT_HERE(err);
}

static int no_whoami(struct forge *f, char **login, struct buf *err)
{
	(void)f, (void)login;
	return buf_fail(err, -ENOTSUP, "a bare git remote has no users");
}

static int no_pr(struct forge *f, const char *o, const char *r, const struct forge_pr_request *req,
		 forge_floor_fn cb, void *ud, uint64_t *number, struct buf *err)
{
	(void)f, (void)o, (void)r, (void)req, (void)cb, (void)ud, (void)number;
	return NOT_HERE(err);
}

static int no_post(struct forge *f, const char *o, const char *r, uint64_t n, const char *body,
		   struct forge_comment *out, struct buf *err)
{
	(void)f, (void)o, (void)r, (void)n, (void)body, (void)out;
	return NOT_HERE(err);
}

static int no_update(struct forge *f, const char *o, const char *r, uint64_t n,
		     const struct forge_issue_patch *patch, struct buf *err)
{
	(void)f, (void)o, (void)r, (void)n, (void)patch;
	return NOT_HERE(err);
}

static int no_status(struct forge *f, const char *o, const char *r, uint64_t n, const char *state,
		     struct buf *err)
{
	(void)f, (void)o, (void)r, (void)n, (void)state;
	return NOT_HERE(err);
}

static void bare_caps(struct forge *f, struct forge_capabilities *out)
{
	memset(out, 0, sizeof(*out));
	out->name = "git";
	out->push_branch = bare_of(f)->mirrors != NULL;
	out->git_only = true;
}

static void bare_free(struct forge *f)
{
	struct bare *b = bare_of(f);

	mirrors_free(b->mirrors);
	if (b->token)
		str_wipe(b->token, strlen(b->token));
	free(b->token);
	free(b->root);
	free(b->home);
	free(b->ls_dir);
	free(b);
}

static const struct forge_ops bare_ops = {
    .list_repos = no_repos,
    .list_issues = no_list,
    .get_issue = no_item,
    .get_pull = no_item,
    .list_comments = no_comments,
    .list_repo_comments = no_repo_comments,
    .get_diff = no_diff,
    .whoami = no_whoami,
    .create_pr = no_pr,
    .push_branch = bare_push,
    .post_comment = no_post,
    .update_issue = no_update,
    .update_pr_status = no_status,
    .capabilities = bare_caps,
    .free = bare_free,
    .list_branches = bare_branches,
    .repo_bundle = bare_bundle,
};

struct forge *git_forge_new(const struct gitea_options *opt, struct buf *err)
{
	struct bare *b = calloc(1, sizeof(*b));
	size_t n = opt->base_url ? strlen(opt->base_url) : 0;

	if (!b) {
		buf_note(err, "out of memory");
		return NULL;
	}
	b->base.ops = &bare_ops;
	b->timeout_ms = opt->timeout_ms ? opt->timeout_ms : 10000;
	while (n > 0 && opt->base_url[n - 1] == '/')
		n--;
	b->root = strndup(opt->base_url ? opt->base_url : "", n);
	if (opt->token && *opt->token)
		b->token = strdup(opt->token);
	if (!b->root || (opt->token && *opt->token && !b->token)) {
		buf_note(err, "out of memory");
		bare_free(&b->base);
		return NULL;
	}
	if (!opt->mirror_dir) {
		buf_note(err, "a bare git forge needs a mirror directory");
		bare_free(&b->base);
		return NULL;
	}
	{
		struct mirror_opts mo = {opt->mirror_dir, opt->mirror_max};

		const char *const init[] = {"init", "--bare", "--quiet", NULL};
		struct buf p = BUF_INIT(8192), q = BUF_INIT(8192);
		struct gitrun_opts o;
		struct gitrun_result res;
		int r = mirrors_new(&mo, &b->mirrors, err);

		if (r == 0 && (buf_printf(&p, "%s/.home", opt->mirror_dir) < 0 ||
			       buf_printf(&q, "%s/.ls-remote.git", opt->mirror_dir) < 0))
			r = buf_fail(err, -ENOMEM, "out of memory");
		if (r == 0) {
			b->home = buf_steal(&p, NULL);
			b->ls_dir = buf_steal(&q, NULL);
			memset(&o, 0, sizeof(o));
			o.cwd = o.home = b->home;
			o.git_dir = b->ls_dir;
			o.stdin_fd = -1;
			o.deadline_ms = gitrun_now_ms() + b->timeout_ms;
			r = gitrun(init, &o, &res, err);
			if (r == 0 && res.status != 0)
				r = buf_fail(err, -EIO,
					     "git init of the ls-remote repository failed");
			gitrun_result_release(&res);
		}
		buf_release(&p);
		buf_release(&q);
		if (r < 0) {
			bare_free(&b->base);
			return NULL;
		}
	}
	return &b->base;
}
