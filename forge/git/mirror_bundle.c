/*
 * git/mirror: repo.bundle, made from the mirror when its refs changed.
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

/* ---- repo.bundle -------------------------------------------------------- */

/* Points the mirror's HEAD where the forge's does (ls-remote --symref). */
static int follow_head(struct mirrors *m, const struct held *h, const struct mirror_remote *r,
		       uint64_t deadline, struct buf *err)
{
	const char *const args[] = {"ls-remote", "--symref", r->url, "HEAD", NULL};
	struct gitrun_result res;
	int rc = mi_run_git(m, h->git_dir, NULL, r, args, -1, NULL, deadline, &res, err);
	const char *p, *tab;

	if (rc == 0 && res.status != 0) {
		rc = mi_network_errno(&res);
		mi_git_reason(err, "ls-remote", &res);
	}
	if (rc == 0 && (p = buf_cstr(&res.out), strncmp(p, "ref: refs/heads/", 16) == 0) &&
	    (tab = strchr(p, '\t')) && str_branch_name_valid(p + 16, (size_t)(tab - p - 16))) {
		char *target = strndup(p + 5, (size_t)(tab - p - 5));
		const char *const set[] = {"symbolic-ref", "HEAD", target, NULL};
		struct gitrun_result res2;

		if (target)
			rc = mi_local_git(m, h->git_dir, NULL, set, NULL, deadline, &res2, err);
		if (target)
			gitrun_result_release(&res2);
		free(target);
	}
	gitrun_result_release(&res);
	return rc;
}

/* What repo.bundle depends on: every branch and where HEAD points (new text). */
static int refs_stamp(struct mirrors *m, const struct held *h, uint64_t deadline, struct buf *out,
		      bool *has_head, size_t *n_branches, struct buf *err)
{
	const char *const refs[] = {"for-each-ref", "--format=%(objectname) %(refname)",
				    "refs/heads/", NULL};
	const char *const head[] = {"rev-parse", "--quiet", "--verify", "--symbolic-full-name",
				    "HEAD",	 NULL};
	struct gitrun_result res;
	size_t i;
	int r = mi_local_git(m, h->git_dir, NULL, refs, NULL, deadline, &res, err);

	*n_branches = 0;
	if (r == 0) {
		for (i = 0; i < res.out.len; i++)
			*n_branches += res.out.data[i] == '\n';
		r = buf_append(out, res.out.data, res.out.len);
	}
	gitrun_result_release(&res);
	if (r < 0)
		return r;
	r = mi_run_git(m, h->git_dir, NULL, NULL, head, -1, NULL, deadline, &res, err);
	if (r == 0) {
		*has_head = res.status == 0;
		r = buf_puts(out, "HEAD ");
		if (r == 0)
			r = buf_append(out, res.out.data, res.out.len);
	}
	gitrun_result_release(&res);
	return r == -ETIMEDOUT ? -EIO : r;
}

static char *slurp_small(const char *path)
{
	struct buf b = BUF_INIT(BUNDLE_MAX_HEADER);
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(&b, chunk, (size_t)n) < 0)
			break;
	close(fd);
	return buf_steal(&b, NULL);
}

static int write_small(const char *path, const struct buf *b)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t w = fd >= 0 ? write(fd, b->data ? b->data : "", b->len) : -1;

	if (fd >= 0)
		close(fd);
	return w == (ssize_t)b->len ? 0 : -EIO;
}

int mirror_bundle(struct mirrors *m, const char *owner, const char *repo,
		  const struct mirror_remote *r, bool fetch, uint64_t deadline, char **path,
		  uint64_t *size, struct buf *err)
{
	struct buf stamp = BUF_INIT(BUNDLE_MAX_HEADER);
	struct gitrun_result res;
	struct held h;
	char *bundle = NULL, *tmp = NULL, *stamp_path = NULL, *old = NULL;
	bool has_head = false;
	size_t n_branches = 0;
	struct stat st;
	int rc;

	rc = mi_hold(m, owner, repo, fetch, deadline, &h, err);
	if (rc == -ENOENT && !fetch)
		return buf_fail(err, -EAGAIN, "the mirror of '%s/%s' is not made yet", owner, repo);
	if (rc == -ETIMEDOUT)
		return -EAGAIN;
	if (rc < 0)
		return rc;
	if (fetch) {
		rc = mi_fetch_locked(m, &h, r, deadline, err);
		if (rc == 0)
			rc = follow_head(m, &h, r, deadline, err);
		if (rc < 0)
			goto out;
	}
	rc = refs_stamp(m, &h, deadline, &stamp, &has_head, &n_branches, err);
	if (rc < 0)
		goto out;
	if (n_branches == 0) {
		rc = buf_fail(err, -ENOENT, "'%s/%s' has no branch", owner, repo);
		goto out;
	}
	bundle = mi_path("%s/repo.bundle", h.meta);
	stamp_path = mi_path("%s/repo.bundle.refs", h.meta);
	tmp = mi_path("%s/tmp-repo.bundle", h.meta);
	if (!bundle || !stamp_path || !tmp) {
		rc = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	old = slurp_small(stamp_path);
	if (!old || strcmp(old, buf_cstr(&stamp)) != 0 || stat(bundle, &st) < 0) {
		const char *const with_head[] = {"bundle",     "create", "--quiet", tmp,
						 "--branches", "HEAD",	 NULL};
		const char *const branches[] = {"bundle", "create",	"--quiet",
						tmp,	  "--branches", NULL};

		rc = mi_local_git(m, h.git_dir, NULL, has_head ? with_head : branches, NULL,
				  deadline, &res, err);
		gitrun_result_release(&res);
		if (rc == 0 && (chmod(tmp, 0600) < 0 || rename(tmp, bundle) < 0))
			rc = buf_fail(err, -EIO, "cannot install repo.bundle: %s", strerror(errno));
		if (rc == 0 && write_small(stamp_path, &stamp) < 0)
			unlink(stamp_path); /* made again next time */
		if (rc < 0) {
			unlink(tmp);
			goto out;
		}
	}
	if (stat(bundle, &st) < 0) {
		rc = buf_fail(err, -EIO, "repo.bundle vanished: %s", strerror(errno));
		goto out;
	}
	*size = (uint64_t)st.st_size;
	*path = bundle;
	bundle = NULL;
out:
	mi_held_release(&h);
	buf_release(&stamp);
	free(bundle);
	free(tmp);
	free(stamp_path);
	free(old);
	return rc == -ETIMEDOUT ? -EAGAIN : rc;
}
