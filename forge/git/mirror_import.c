/*
 * git/mirror: checking an agent's bundle against the mirror: its
 * prerequisites, a strict import into a quarantine, its tip, the
 * fast-forward test.
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

/* ---- the push ----------------------------------------------------------- */

void mi_quarantine_release(struct quarantine *q)
{
	if (q->dir)
		mi_remove_tree(q->dir);
	free(q->dir);
	free(q->alternates);
	q->dir = q->alternates = NULL;
}

int mi_quarantine_new(const struct held *h, struct quarantine *q, struct buf *err)
{
	char *pack;

	memset(q, 0, sizeof(*q));
	q->dir = mi_path("%s/q-XXXXXX", h->meta);
	q->alternates = mi_path("%s/objects", h->git_dir);
	if (!q->dir || !q->alternates || !mkdtemp(q->dir)) {
		free(q->dir);
		free(q->alternates);
		q->dir = q->alternates = NULL;
		return buf_fail(err, -EIO, "cannot make a quarantine: %s", strerror(errno));
	}
	pack = mi_path("%s/pack", q->dir);
	if (!pack || mkdir(pack, 0700) < 0) {
		free(pack);
		mi_quarantine_release(q);
		return buf_fail(err, -EIO, "cannot make a quarantine: %s", strerror(errno));
	}
	free(pack);
	return 0;
}

/* Every prerequisite is a commit of the mirror's: 0, -ENOENT naming the first that is not. */
int mi_check_prereqs(struct mirrors *m, const struct held *h, const struct bundle_header *bh,
		     uint64_t deadline, struct buf *err)
{
	const char *const args[] = {"cat-file", "--batch-check=%(objectname) %(objecttype)", NULL};
	struct buf in = BUF_INIT((size_t)BUNDLE_MAX_PREREQS * 42 + 1);
	struct gitrun_result res;
	const char *p;
	size_t i;
	int r;

	if (bh->n_prereqs == 0)
		return 0;
	for (i = 0; i < bh->n_prereqs; i++)
		if (buf_printf(&in, "%s\n", bh->prereqs[i]) < 0) {
			buf_release(&in);
			return buf_fail(err, -ENOMEM, "out of memory");
		}
	r = mi_local_git(m, h->git_dir, NULL, args, buf_cstr(&in), deadline, &res, err);
	p = buf_cstr(&res.out);
	for (i = 0; r == 0 && i < bh->n_prereqs; i++) {
		const char *nl = strchr(p, '\n');

		if (!nl)
			r = buf_fail(err, -EIO, "git cat-file: short answer");
		else if (strncmp(p, bh->prereqs[i], BUNDLE_OID_HEX) != 0 ||
			 strncmp(p + BUNDLE_OID_HEX, " commit\n", 8) != 0)
			r = buf_fail(err, -ENOENT,
				     "commit %s, which the bundle needs, is not on the forge",
				     bh->prereqs[i]);
		else
			p = nl + 1;
	}
	gitrun_result_release(&res);
	buf_release(&in);
	return r;
}

/* The pack of the bundle, from its offset, through index-pack into the quarantine. */
int mi_import_pack(struct mirrors *m, const struct held *h, const struct quarantine *q,
		   const char *bundle_path, uint64_t pack_offset, uint64_t deadline,
		   struct buf *err)
{
	const char *const args[] = {"index-pack", "--stdin", "--fix-thin", "--strict", NULL};
	struct gitrun_result res;
	int fd = open(bundle_path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return buf_fail(err, -EIO, "cannot open the bundle: %s", strerror(errno));
	if (lseek(fd, (off_t)pack_offset, SEEK_SET) < 0) {
		close(fd);
		return buf_fail(err, -EIO, "cannot read the bundle: %s", strerror(errno));
	}
	r = mi_run_git(m, h->git_dir, q, NULL, args, fd, NULL, deadline, &res, err);
	close(fd);
	if (r == 0 && res.status != 0) {
		/* A base or a linked object nobody has vs. objects that are broken. */
		if (mi_err_has(&res, "unresolved delta") ||
		    mi_err_has(&res, "did not receive expected") || mi_err_has(&res, "missing ")) {
			r = -ENOENT;
			if (err)
				buf_note(err, "%s",
					 "the bundle needs objects that are not on the forge: ");
		} else {
			r = -EINVAL;
			if (err)
				buf_note(err, "%s", "the bundle's objects are not valid: ");
		}
		if (err)
			gitrun_reason(&res, err);
	}
	gitrun_result_release(&res);
	return r == -ETIMEDOUT ? -EIO : r;
}

/* Everything the tip needs is in the quarantine or the mirror, and the tip is a commit. */
int mi_check_tip(struct mirrors *m, const struct held *h, const struct quarantine *q,
		 const char *tip, uint64_t deadline, struct buf *err)
{
	const char *const type[] = {"cat-file", "-t", tip, NULL};
	const char *const walk[] = {"rev-list", "--objects", "--quiet", tip,
				    "--not",	"--all",     NULL};
	struct gitrun_result res;
	int r = mi_run_git(m, h->git_dir, q, NULL, type, -1, NULL, deadline, &res, err);

	if (r == 0 && res.status != 0)
		r = buf_fail(err, -ENOENT, "the bundle's tip %s is neither in it nor on the forge",
			     tip);
	else if (r == 0 && strcmp(buf_cstr(&res.out), "commit\n") != 0)
		r = buf_fail(err, -EINVAL, "the bundle's tip %s is not a commit", tip);
	gitrun_result_release(&res);
	if (r < 0)
		return r == -ETIMEDOUT ? -EIO : r;
	r = mi_run_git(m, h->git_dir, q, NULL, walk, -1, NULL, deadline, &res, err);
	if (r == 0 && res.status != 0) {
		r = -ENOENT;
		if (err) {
			buf_note(err, "%s", "the bundle needs objects that are not on the forge: ");
			gitrun_reason(&res, err);
		}
	}
	gitrun_result_release(&res);
	return r == -ETIMEDOUT ? -EIO : r;
}

/* old is an ancestor of tip: 0, -EPERM, -EIO. */
int mi_check_ff(struct mirrors *m, const struct held *h, const struct quarantine *q,
		const char *branch, const char *old, const char *tip, uint64_t deadline,
		struct buf *err)
{
	const char *const args[] = {"merge-base", "--is-ancestor", old, tip, NULL};
	struct gitrun_result res;
	int r = mi_run_git(m, h->git_dir, q, NULL, args, -1, NULL, deadline, &res, err);

	if (r == 0 && res.status == 1)
		r = buf_fail(err, -EPERM,
			     "not a fast-forward: %s does not descend from %s, the tip of '%s' on "
			     "the forge",
			     tip, old, branch);
	else if (r == 0 && res.status != 0) {
		r = -EIO;
		mi_git_reason(err, "merge-base", &res);
	}
	gitrun_result_release(&res);
	return r == -ETIMEDOUT ? -EIO : r;
}
