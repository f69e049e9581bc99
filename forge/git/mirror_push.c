/*
 * git/mirror: the push itself, with an old-value lease, learning the
 * outcome when the answer is lost, and the mirror keeping the result.
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

/* The forge's tip of ref now (ls-remote): 0 (out "" when absent) or -errno. */
static int remote_tip(struct mirrors *m, const struct held *h, const struct mirror_remote *rm,
		      const char *ref, uint64_t deadline, char out[BUNDLE_OID_HEX + 1],
		      struct buf *err)
{
	const char *const args[] = {"ls-remote", rm->url, ref, NULL};
	struct gitrun_result res;
	int r = mi_run_git(m, h->git_dir, NULL, rm, args, -1, NULL, deadline, &res, err);
	const char *p;
	size_t rl = strlen(ref);

	out[0] = '\0';
	if (r == 0 && res.status != 0) {
		r = mi_network_errno(&res);
		mi_git_reason(err, "ls-remote", &res);
	}
	for (p = buf_cstr(&res.out); r == 0 && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len == BUNDLE_OID_HEX + 1 + rl && p[BUNDLE_OID_HEX] == '\t' &&
		    memcmp(p + BUNDLE_OID_HEX + 1, ref, rl) == 0 &&
		    bundle_oid_valid(p, BUNDLE_OID_HEX)) {
			memcpy(out, p, BUNDLE_OID_HEX);
			out[BUNDLE_OID_HEX] = '\0';
		}
		p += len + (nl ? 1 : 0);
	}
	gitrun_result_release(&res);
	return r == -ETIMEDOUT ? -EIO : r;
}

/* Whether the mirror has commit oid. */
static bool have_commit(struct mirrors *m, const struct held *h, const char *oid, uint64_t deadline)
{
	struct buf spec = BUF_INIT(128);
	struct gitrun_result res;
	bool have = false;

	if (buf_printf(&spec, "%s^{commit}", oid) == 0) {
		const char *const args[] = {"cat-file", "-e", buf_cstr(&spec), NULL};

		have = mi_run_git(m, h->git_dir, NULL, NULL, args, -1, NULL, deadline, &res,
				  NULL) == 0 &&
		       res.status == 0;
		gitrun_result_release(&res);
	}
	buf_release(&spec);
	return have;
}

/* git push's porcelain line for ref: its flag and summary, or 0 when none. */
static char push_flag(const struct gitrun_result *res, const char *ref, const char **summary)
{
	const char *p = buf_cstr(&res->out);
	size_t rl = strlen(ref);

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *t1 = len > 2 && p[1] == '\t' ? memchr(p + 2, '\t', len - 2) : NULL;

		if (t1 && (size_t)(t1 - p) > rl + 1 && t1[-(long)rl - 1] == ':' &&
		    memcmp(t1 - rl, ref, rl) == 0) {
			*summary = t1 + 1;
			return p[0];
		}
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

/* The summary up to its line's end, for a reason. */
static void put_summary(struct buf *err, const char *s)
{
	if (err)
		(void)!str_escape_log(err, s, strcspn(s, "\n")); /* a reason: best effort */
}

static int send_push(struct mirrors *m, const struct held *h, const struct quarantine *q,
		     const struct mirror_remote *rm, const char *ref, const char *old,
		     const char *tip, uint64_t deadline, struct buf *err)
{
	struct buf lease = BUF_INIT(1024), spec = BUF_INIT(1024);
	struct gitrun_result res;
	const char *summary = "";
	uint64_t now = gitrun_now_ms(), reserve, push_deadline;
	char flag, seen[BUNDLE_OID_HEX + 1];
	int r;

	/* Keep a little time to learn the outcome if the push's answer is lost. */
	reserve = deadline > now ? (deadline - now) / 5 : 0;
	reserve = reserve > 3000 ? 3000 : reserve;
	push_deadline = deadline - reserve;
	if (buf_printf(&lease, "--force-with-lease=%s:%s", ref, old) < 0 ||
	    buf_printf(&spec, "%s:%s", tip, ref) < 0) {
		r = buf_fail(err, -EINVAL, "branch name too long");
		goto out;
	}
	{
		const char *const args[] = {
		    "push",	      "--porcelain", "--no-verify",   "--no-recurse-submodules",
		    buf_cstr(&lease), rm->url,	     buf_cstr(&spec), NULL};

		r = mi_run_git(m, h->git_dir, q, rm, args, -1, NULL, push_deadline, &res, NULL);
	}
	flag = push_flag(&res, ref, &summary);
	if (r == 0 && res.status == 0 && flag && strchr(" *+=", flag)) {
		r = 0;
	} else if (flag == '!') {
		if (strstr(summary, "stale info") || strstr(summary, "fetch first") ||
		    strstr(summary, "non-fast-forward")) {
			r = -EPERM;
			if (err)
				buf_note(err,
					 "'%s' moved on the forge during the push: ", ref + 11);
		} else if (strstr(summary, "remote rejected")) {
			r = -EACCES;
			if (err)
				buf_note(err, "%s", "the forge refused the push: ");
		} else {
			r = -EIO;
			if (err)
				buf_note(err, "%s", "the push failed: ");
		}
		put_summary(err, summary);
	} else if (r == 0 && mi_network_errno(&res) == -EACCES) {
		r = -EACCES;
		mi_git_reason(err, "push", &res);
	} else {
		/* Timed out, cut off, or the forge failed: did it take the push anyway? */
		int r2 = remote_tip(m, h, rm, ref, deadline, seen, NULL);

		if (r2 == 0 && strcmp(seen, tip) == 0) {
			r = 0;
		} else {
			if (err) {
				if (r == -ETIMEDOUT)
					buf_note(err, "%s", "git push timed out");
				else if (r == 0)
					mi_git_reason(err, "push", &res);
				if (r2 < 0)
					buf_note(err, "%s",
						 "; the branch on the forge could not be read "
						 "after it");
			}
			r = -EIO;
		}
	}
	gitrun_result_release(&res);
out:
	buf_release(&lease);
	buf_release(&spec);
	return r;
}

/* After a push: the quarantine's packs join the mirror and its ref follows the forge. */
static void adopt(struct mirrors *m, const struct held *h, const struct quarantine *q,
		  const char *ref, const char *tip, uint64_t deadline)
{
	char *from_dir = mi_path("%s/pack", q->dir);
	DIR *d = from_dir ? opendir(from_dir) : NULL;
	struct dirent *e;
	bool ok = d != NULL;
	int pass;

	/* .pack files before .idx: git finds a pack by its index. */
	for (pass = 0; d && pass < 2; pass++) {
		rewinddir(d);
		while ((e = readdir(d))) {
			size_t len = strlen(e->d_name);
			const char *ext = pass == 0 ? ".pack" : ".idx";
			size_t el = strlen(ext);
			char *from, *to;

			if (len <= el || strcmp(e->d_name + len - el, ext) != 0)
				continue;
			from = mi_path("%s/%s", from_dir, e->d_name);
			to = mi_path("%s/pack/%s", q->alternates, e->d_name);
			if (!from || !to || rename(from, to) < 0)
				ok = false;
			free(from);
			free(to);
		}
	}
	if (d)
		closedir(d);
	free(from_dir);
	if (ok) {
		const char *const args[] = {"update-ref", ref, tip, NULL};
		struct gitrun_result res;

		/* The next update sets it anyway. */
		(void)!mi_local_git(m, h->git_dir, NULL, args, NULL, deadline, &res, NULL);
		gitrun_result_release(&res);
	}
}

int mirror_push(struct mirrors *m, const char *owner, const char *repo,
		const struct mirror_remote *rm, const struct mirror_push_req *req,
		uint64_t deadline, struct mirror_push_result *out, struct buf *err)
{
	struct bundle_check *c = NULL;
	const struct bundle_header *bh;
	struct quarantine q = {0};
	struct held h = {.fd = -1};
	const char *tip = NULL, *bref = NULL;
	char old[BUNDLE_OID_HEX + 1] = "", *ref = NULL;
	bool fetched = false;
	struct stat st;
	int fd = -1, r;

	/* 1. The branch. */
	if (!req->branch || !str_branch_name_valid(req->branch, strlen(req->branch)))
		return buf_fail(err, -EINVAL, "'%s' is not a valid branch name",
				req->branch ? req->branch : "");
	if (req->expected_old && req->expected_old[0] &&
	    !bundle_oid_valid(req->expected_old, strlen(req->expected_old)))
		return buf_fail(err, -EINVAL, "internal: expected tip is not an object id");
	ref = mi_path("refs/heads/%s", req->branch);
	if (!ref)
		return buf_fail(err, -ENOMEM, "out of memory");

	/* 2. The bundle, whole. */
	if ((r = bundle_check_new(&req->limits, &c)) < 0) {
		r = buf_fail(err, r, "out of memory");
		goto out;
	}
	fd = open(req->bundle_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = buf_fail(err, -EIO, "cannot open the bundle: %s", strerror(errno));
		goto out;
	}
	r = bundle_check_fd(c, fd, (uint64_t)st.st_size, err);
	if (r >= 0)
		r = bundle_check_finish(c, err);
	if (r == 0)
		r = bundle_push_tip(c, &tip, &bref, err);
	if (r < 0)
		goto out;
	bh = bundle_check_header(c);

	/*
	 * 3, 4. The forge's tip of the branch now (ls-remote), under the
	 * mirror's lock from here on. The mirror is fetched only when it
	 * lacks that tip, or below when it lacks a commit the bundle needs:
	 * either way every check runs against the forge's current state.
	 */
	r = mi_hold(m, owner, repo, true, deadline, &h, err);
	if (r == 0)
		r = remote_tip(m, &h, rm, ref, deadline, old, err);
	if (r == 0 && old[0] && !have_commit(m, &h, old, deadline)) {
		r = mi_fetch_locked(m, &h, rm, deadline, err);
		fetched = true;
	}
	if (r < 0) {
		r = r == -ETIMEDOUT ? -EIO : r;
		goto out;
	}
	if (strcmp(old, tip) == 0) {
		memcpy(out->old_tip, old, sizeof(old));
		memcpy(out->new_tip, old, sizeof(old));
		out->already = true;
		goto out;
	}
	if (req->expected_old && strcmp(req->expected_old, old) != 0) {
		r = buf_fail(err, -EPERM, "'%s' is at %s on the forge, not at %s as expected",
			     req->branch, old[0] ? old : "(no branch)",
			     req->expected_old[0] ? req->expected_old : "(no branch)");
		goto out;
	}

	/*
	 * 5, 6. What the bundle needs, and what it holds, checked by git. A
	 * commit it needs that the mirror lacks may be on the forge: the
	 * mirror is fetched once and the checks run again.
	 */
	for (;;) {
		size_t mark = err ? err->len : 0;

		r = mi_check_prereqs(m, &h, bh, deadline, err);
		if (r == 0)
			r = mi_quarantine_new(&h, &q, err);
		if (r == 0)
			r = mi_import_pack(m, &h, &q, req->bundle_path, bh->pack_offset, deadline,
					   err);
		if (r == 0)
			r = mi_check_tip(m, &h, &q, tip, deadline, err);
		if (r != -ENOENT || fetched)
			break;
		if (q.dir)
			mi_quarantine_release(&q);
		if (err && err->data) {
			err->len = mark;
			err->data[mark] = '\0';
		}
		fetched = true;
		if ((r = mi_fetch_locked(m, &h, rm, deadline, err)) < 0)
			break;
	}
	if (r < 0) {
		r = r == -ETIMEDOUT ? -EIO : r;
		goto out;
	}

	/* 7. A fast-forward only. */
	if (old[0] && (r = mi_check_ff(m, &h, &q, req->branch, old, tip, deadline, err)) < 0)
		goto out;

	/* 8, 9. Send. */
	if (req->before_send && (r = req->before_send(req->send_ud, old, tip)) != 0)
		goto out;
	r = send_push(m, &h, &q, rm, ref, old, tip, deadline, err);
	if (r < 0)
		goto out;

	/* 10. The mirror keeps what the forge now has. */
	adopt(m, &h, &q, ref, tip, deadline);
	memcpy(out->old_tip, old, sizeof(old));
	memcpy(out->new_tip, tip, BUNDLE_OID_HEX + 1);
	out->already = false;
out:
	if (q.dir)
		mi_quarantine_release(&q);
	if (fd >= 0)
		close(fd);
	mi_held_release(&h);
	bundle_check_free(c);
	free(ref);
	(void)bref;
	return r;
}
