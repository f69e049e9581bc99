/*
 * git/mirror: running git in a mirror, updating it and reading its refs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "forge/git/mirror_int.h"
#include "util/str.h"

/* ---- running git -------------------------------------------------------- */

int mi_run_git(struct mirrors *m, const char *git_dir, const struct quarantine *q,
	       const struct mirror_remote *remote, const char *const *args, int stdin_fd,
	       const char *stdin_data, uint64_t deadline, struct gitrun_result *res,
	       struct buf *err)
{
	struct gitrun_opts o;

	memset(&o, 0, sizeof(o));
	o.keep_fd = mi_held_lock_fd;
	o.keep_fd_set = mi_held_lock_fd >= 0;
	o.cwd = m->home;
	o.home = m->home;
	o.git_dir = git_dir;
	if (q) {
		o.object_dir = q->dir;
		o.alternates = q->alternates;
	}
	if (remote) {
		o.remote_url = remote->url;
		o.auth = remote->auth;
	}
	o.stdin_fd = stdin_fd;
	o.stdin_data = stdin_data;
	o.stdin_len = stdin_data ? strlen(stdin_data) : 0;
	o.deadline_ms = deadline;
	return gitrun(args, &o, res, err);
}

/* "git <cmd>: <git's line>" appended to err. */
void mi_git_reason(struct buf *err, const char *cmd, const struct gitrun_result *res)
{
	if (!err)
		return;
	buf_note(err, "git %s: ", cmd);
	gitrun_reason(res, err);
}

bool mi_err_has(const struct gitrun_result *res, const char *s)
{
	return res->err.data && strstr(res->err.data, s);
}

/* The one table from what a network git said to errno. */
int mi_network_errno(const struct gitrun_result *res)
{
	if (mi_err_has(res, "returned error: 401") || mi_err_has(res, "returned error: 403") ||
	    mi_err_has(res, "Authentication failed") ||
	    mi_err_has(res, "could not read Username") ||
	    mi_err_has(res, "could not read Password"))
		return -EACCES;
	if (mi_err_has(res, "returned error: 404") || mi_err_has(res, "not found"))
		return -ENOENT;
	return -EIO;
}

/* A git that does not talk to the forge: 0 on exit status 0, else -EIO with git's reason. */
int mi_local_git(struct mirrors *m, const char *git_dir, const struct quarantine *q,
		 const char *const *args, const char *stdin_data, uint64_t deadline,
		 struct gitrun_result *res, struct buf *err)
{
	int r = mi_run_git(m, git_dir, q, NULL, args, -1, stdin_data, deadline, res, err);

	if (r == -ETIMEDOUT)
		return -EIO;
	if (r < 0)
		return r;
	if (res->status != 0) {
		mi_git_reason(err, args[0], res);
		return -EIO;
	}
	return 0;
}

/* ---- update ------------------------------------------------------------- */

int mi_fetch_locked(struct mirrors *m, const struct held *h, const struct mirror_remote *r,
		    uint64_t deadline, struct buf *err)
{
	const char *const args[] = {"fetch",
				    "--prune",
				    "--no-tags",
				    "--quiet",
				    "--update-head-ok",
				    "--no-write-fetch-head",
				    "--no-recurse-submodules",
				    r->url,
				    "+refs/heads/*:refs/heads/*",
				    NULL};
	struct gitrun_result res;
	int rc = mi_run_git(m, h->git_dir, NULL, r, args, -1, NULL, deadline, &res, err);

	if (rc == 0 && res.status != 0) {
		rc = mi_network_errno(&res);
		mi_git_reason(err, "fetch", &res);
	}
	gitrun_result_release(&res);
	return rc;
}

int mirror_update(struct mirrors *m, const char *owner, const char *repo,
		  const struct mirror_remote *r, uint64_t deadline, struct buf *err)
{
	struct held h;
	int rc = mi_hold(m, owner, repo, true, deadline, &h, err);

	if (rc == -ETIMEDOUT)
		return -EIO;
	if (rc < 0)
		return rc;
	rc = mi_fetch_locked(m, &h, r, deadline, err);
	mi_held_release(&h);
	return rc == -ETIMEDOUT ? -EIO : rc;
}

/* ---- reading refs ------------------------------------------------------- */

/* The first line of s (up to n bytes) is an oid: copy it. */
static bool first_oid(const struct buf *b, char out[BUNDLE_OID_HEX + 1])
{
	if (b->len < BUNDLE_OID_HEX || !bundle_oid_valid(b->data, BUNDLE_OID_HEX) ||
	    (b->len > BUNDLE_OID_HEX && b->data[BUNDLE_OID_HEX] != '\n' &&
	     b->data[BUNDLE_OID_HEX] != '\t' && b->data[BUNDLE_OID_HEX] != ' '))
		return false;
	memcpy(out, b->data, BUNDLE_OID_HEX);
	out[BUNDLE_OID_HEX] = '\0';
	return true;
}

/* refs/heads/<branch> in the mirror: 0, -ENOENT, -EIO. */
int mi_tip_locked(struct mirrors *m, const struct held *h, const char *ref, uint64_t deadline,
		  char out[BUNDLE_OID_HEX + 1], struct buf *err)
{
	const char *const args[] = {"rev-parse", "--quiet", "--verify", ref, NULL};
	struct gitrun_result res;
	int r = mi_run_git(m, h->git_dir, NULL, NULL, args, -1, NULL, deadline, &res, err);

	if (r == 0) {
		if (res.status == 1)
			r = -ENOENT;
		else if (res.status != 0 || !first_oid(&res.out, out))
			r = buf_fail(err, -EIO, "git rev-parse: unexpected answer");
	}
	gitrun_result_release(&res);
	return r == -ETIMEDOUT ? -EIO : r;
}

int mirror_tip(struct mirrors *m, const char *owner, const char *repo, const char *branch,
	       uint64_t deadline, char out[BUNDLE_OID_HEX + 1], struct buf *err)
{
	struct held h;
	char *ref;
	int r;

	if (!branch || !str_branch_name_valid(branch, strlen(branch)))
		return buf_fail(err, -EINVAL, "'%s' is not a valid branch name",
				branch ? branch : "");
	r = mi_hold(m, owner, repo, false, deadline, &h, err);
	if (r < 0)
		return r == -ETIMEDOUT ? -EIO : r;
	ref = mi_path("refs/heads/%s", branch);
	r = ref ? mi_tip_locked(m, &h, ref, deadline, out, err) : -ENOMEM;
	free(ref);
	mi_held_release(&h);
	return r;
}
