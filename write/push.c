/*
 * push: pushing a branch through the mount (write.h): the push policy,
 * the spool an agent's bundle is written to, acting at the flush at which
 * the bundle is complete, journaling the push, and finishing a push a dead
 * daemon left unanswered.
 */
#include "write/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/str.h"

/* ---- the policy ---- */

int scope_add_push_glob(struct scope *s, const char *glob, struct buf *err)
{
	char **v;
	size_t n = glob ? strlen(glob) : 0;

	if (n == 0 || n > 255 || str_has_control(glob, n, false) || glob[0] == '/' ||
	    strncmp(glob, "refs/", 5) == 0)
		return buf_fail(err, -EINVAL,
				"--push-branches takes a branch name pattern such as 'feature/*' "
				"(was '%s')",
				glob ? glob : "");
	v = realloc(s->push_globs, (s->n_push_globs + 1) * sizeof(*v));
	if (!v)
		return buf_fail(err, -ENOMEM, "out of memory");
	s->push_globs = v;
	if (!(v[s->n_push_globs] = strdup(glob)))
		return buf_fail(err, -ENOMEM, "out of memory");
	s->n_push_globs++;
	return 0;
}

void scope_release_push(struct scope *s)
{
	size_t i;

	for (i = 0; i < s->n_push_globs; i++)
		free(s->push_globs[i]);
	free(s->push_globs);
	s->push_globs = NULL;
	s->n_push_globs = 0;
}

int scope_push_patterns(const struct scope *s, struct buf *out)
{
	size_t i;
	int r = 0;

	if (!s->assigned)
		return 0;
	if (s->n_push_globs == 0)
		return buf_printf(out, "bottle/%llu-*\n", (unsigned long long)s->issue);
	for (i = 0; i < s->n_push_globs && r == 0; i++)
		r = buf_printf(out, "%s\n", s->push_globs[i]);
	return r;
}

/* Whether branch matches one of the patterns ('*' matches '/' too). */
static bool pattern_allows(const struct scope *s, const char *branch)
{
	char def[64];
	size_t i;

	if (s->n_push_globs == 0) {
		snprintf(def, sizeof(def), "bottle/%llu-?*", (unsigned long long)s->issue);
		return fnmatch(def, branch, 0) == 0;
	}
	for (i = 0; i < s->n_push_globs; i++)
		if (fnmatch(s->push_globs[i], branch, 0) == 0)
			return true;
	return false;
}

/* Whether branch is the head of a pull request this mount opened (asks the forge). */
static bool pr_head(struct write *w, const char *branch)
{
	struct scope *s = w->opt.scope;
	uint64_t *prs = NULL;
	size_t n = 0, i;
	bool found = false;

	if (scope_prs(s, &prs, &n) < 0)
		return false;
	for (i = 0; i < n && !found; i++) {
		struct forge_issue pr = {0};

		if (w->opt.forge->ops->get_pull(w->opt.forge, s->owner, s->repo, prs[i], &pr,
						NULL) == 0)
			found = pr.head && strcmp(pr.head, branch) == 0;
		forge_issue_release(&pr);
	}
	free(prs);
	return found;
}

int write_push_allowed(struct write *w, const char *owner, const char *repo, const char *branch,
		       struct buf *err)
{
	struct scope *s = w->opt.scope;

	if (!w->opt.spool_dir)
		return buf_fail(err, -EACCES, "pushing is off: the daemon has no spool directory");
	if (!s->assigned)
		return buf_fail(err, -EACCES, "read-only mount: no assignment (--assign)");
	if (strcmp(s->owner, owner) != 0 || strcmp(s->repo, repo) != 0)
		return buf_fail(err, -EACCES, "pushes go only to the assigned repository %s/%s",
				s->owner, s->repo);
	if (!branch || !str_branch_name_valid(branch, strlen(branch)))
		return buf_fail(err, -EACCES, "'%s' is not a valid branch name",
				branch ? branch : "");
	if (pattern_allows(s, branch) || pr_head(w, branch))
		return 0;
	if (s->n_push_globs == 0)
		return buf_fail(err, -EACCES,
				"branch '%s' is outside the push policy: only bottle/%llu-* and "
				"the heads of pull requests this mount opened",
				branch, (unsigned long long)s->issue);
	return buf_fail(err, -EACCES,
			"branch '%s' matches no --push-branches pattern (see .bottlefs/scope)",
			branch);
}

bool write_push_matches(struct write *w, const char *owner, const char *repo, const char *branch)
{
	struct scope *s = w->opt.scope;

	return w->opt.spool_dir && s->assigned && strcmp(s->owner, owner) == 0 &&
	       strcmp(s->repo, repo) == 0 && str_branch_name_valid(branch, strlen(branch)) &&
	       pattern_allows(s, branch);
}

bool write_push_dir(struct write *w, const char *owner, const char *repo, const char *dir)
{
	struct scope *s = w->opt.scope;
	char def[64];
	const char *one[1] = {def};
	const char *const *globs = one;
	size_t n = 1, i, depth = 1;
	const char *p;

	if (!w->opt.spool_dir || !s->assigned || strcmp(s->owner, owner) != 0 ||
	    strcmp(s->repo, repo) != 0)
		return false;
	if (!*dir)
		return true; /* branches/ itself */
	for (p = dir; *p; p++)
		depth += *p == '/';
	snprintf(def, sizeof(def), "bottle/%llu-*", (unsigned long long)s->issue);
	if (s->n_push_globs) {
		globs = (const char *const *)s->push_globs;
		n = s->n_push_globs;
	}
	/* dir is a directory when the first depth components of a pattern match it. */
	for (i = 0; i < n; i++) {
		char prefix[256];
		size_t k = 0, seen = 0;

		while (globs[i][k] && k + 1 < sizeof(prefix)) {
			if (globs[i][k] == '/' && ++seen == depth)
				break;
			prefix[k] = globs[i][k];
			k++;
		}
		prefix[k] = '\0';
		if (seen == depth && fnmatch(prefix, dir, FNM_PATHNAME) == 0)
			return true;
	}
	return false;
}

/* ---- the spool ---- */

struct write_spool {
	pthread_mutex_t lock;
	int fd;
	char *path;
	uint64_t size;
	struct forge_bundle_check *check;
	bool written;		     /* bytes were written */
	bool acted;		     /* the push was made (or refused): its answer stands */
	int result;		     /* with acted */
	int poison;		     /* a write refused (-EFBIG): nothing is ever pushed */
	char *owner, *repo, *branch; /* where it is written (the journal's) */
};

int write_spool_new(struct write *w, const char *owner, const char *repo, const char *branch,
		    struct write_spool **out, struct buf *err)
{
	struct write_spool *sp;
	struct buf path = BUF_INIT(4096);
	int r;

	if (!w->opt.spool_dir)
		return buf_fail(err, -EACCES, "pushing is off: the daemon has no spool directory");
	if (mkdir(w->opt.spool_dir, 0700) < 0 && errno != EEXIST)
		return buf_fail(err, -EIO, "cannot make the spool directory: %s", strerror(errno));
	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return buf_fail(err, -ENOMEM, "out of memory");
	sp->fd = -1;
	pthread_mutex_init(&sp->lock, NULL);
	sp->owner = strdup(owner);
	sp->repo = strdup(repo);
	sp->branch = strdup(branch);
	if (!sp->owner || !sp->repo || !sp->branch) {
		r = buf_fail(err, -ENOMEM, "out of memory");
		goto fail;
	}
	r = buf_printf(&path, "%s/push-XXXXXX", w->opt.spool_dir);
	if (r == 0)
		sp->path = buf_steal(&path, NULL);
	if (!sp->path || (sp->fd = mkostemp(sp->path, O_CLOEXEC)) < 0) {
		r = buf_fail(err, -EIO, "cannot make a spool file: %s", strerror(errno));
		goto fail;
	}
	r = forge_bundle_check_new(w->opt.push_max, w->opt.push_max_object, &sp->check);
	if (r < 0) {
		r = buf_fail(err, r, "out of memory");
		goto fail;
	}
	*out = sp;
	return 0;
fail:
	buf_release(&path);
	if (sp->fd >= 0) {
		close(sp->fd);
		unlink(sp->path);
	}
	pthread_mutex_destroy(&sp->lock);
	free(sp->path);
	free(sp->owner);
	free(sp->repo);
	free(sp->branch);
	free(sp);
	return r;
}

int write_spool_write(struct write *w, struct write_spool *sp, const char *in, size_t size,
		      uint64_t off, bool append)
{
	uint64_t max = w->opt.push_max ? w->opt.push_max : FORGE_PUSH_MAX_DEFAULT;
	ssize_t n;
	int r;

	pthread_mutex_lock(&sp->lock);
	if (append)
		off = sp->size;
	if (sp->poison || sp->acted) {
		r = sp->poison ? sp->poison : -EBADF;
		goto out;
	}
	if (off > max || size > max - off) {
		r = sp->poison = -EFBIG;
		goto out;
	}
	n = pwrite(sp->fd, in, size, (off_t)off);
	if (n < 0) {
		r = -EIO;
		goto out;
	}
	if (off < sp->size)
		forge_bundle_check_reset(sp->check); /* bytes it read were overwritten */
	if (off + (uint64_t)n > sp->size)
		sp->size = off + (uint64_t)n;
	sp->written = true;
	r = (int)n;
out:
	pthread_mutex_unlock(&sp->lock);
	return r;
}

int write_spool_truncate(struct write_spool *sp, uint64_t size)
{
	int r = 0;

	pthread_mutex_lock(&sp->lock);
	if (sp->acted || sp->poison) {
		r = sp->poison ? sp->poison : -EBADF;
	} else if (size != sp->size) {
		if (ftruncate(sp->fd, (off_t)size) < 0) {
			r = -EIO;
		} else {
			if (size < sp->size)
				forge_bundle_check_reset(sp->check);
			sp->size = size;
		}
	}
	pthread_mutex_unlock(&sp->lock);
	return r;
}

int write_spool_read(struct write_spool *sp, char *out, size_t size, uint64_t off)
{
	ssize_t n;

	pthread_mutex_lock(&sp->lock);
	n = off >= sp->size ? 0 : pread(sp->fd, out, size, (off_t)off);
	pthread_mutex_unlock(&sp->lock);
	return n < 0 ? -EIO : (int)n;
}

uint64_t write_spool_size(struct write_spool *sp)
{
	uint64_t n;

	pthread_mutex_lock(&sp->lock);
	n = sp->size;
	pthread_mutex_unlock(&sp->lock);
	return n;
}

/* ---- the push ---- */

struct push_ctx {
	struct write *w;
	struct job *j;
	int64_t id;
	bool journaled;
	char payload[2 * FORGE_OID_MAX + 4];
	struct buf *err;
};

/* Right before anything is sent: the journal's entry ("<old or -> <new>"). */
static int push_journal(void *ud, const char *old_tip, const char *new_tip)
{
	struct push_ctx *pc = ud;

	snprintf(pc->payload, sizeof(pc->payload), "%s %s\n", old_tip[0] ? old_tip : "-", new_tip);
	pc->j->payload = pc->payload;
	if (journal_begin(pc->w, pc->j, &pc->id, pc->err) < 0)
		return -EIO;
	pc->journaled = true;
	return 0;
}

int write_push(struct write *w, const char *owner, const char *repo, const char *branch,
	       const char *bundle_path, const char *at, struct buf *err)
{
	struct job j = {.kind = "push", .field = branch, .owner = owner, .repo = repo};
	struct push_ctx pc = {.w = w, .j = &j};
	struct forge_push_request req = {0};
	struct forge_push_result res = {0};
	struct buf why = BUF_INIT(4096);
	char detail[2 * FORGE_OID_MAX + 64] = "";
	unsigned timeout = w->opt.push_timeout_ms ? w->opt.push_timeout_ms : 60000;
	struct timespec now;
	int r;

	snprintf(j.at, sizeof(j.at), "%s/%s/branches/%s", owner, repo, branch);
	r = write_push_allowed(w, owner, repo, branch, &why);
	if (r == 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		req.bundle_path = bundle_path;
		req.branch = branch;
		req.max_bundle = w->opt.push_max;
		req.max_object = w->opt.push_max_object;
		req.deadline_ms =
		    (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000 + timeout;
		req.before_send = push_journal;
		req.send_ud = &pc;
		pc.err = &why;
		r = forge_push_branch(w->opt.forge, owner, repo, &req, &res, &why);
	}
	if (r == 0)
		snprintf(detail, sizeof(detail), "%s %s (was %s)",
			 res.already ? "already at" : "pushed", res.new_tip,
			 res.old_tip[0] ? res.old_tip : "a new branch");
	if (pc.journaled)
		journal_end(w, &j, pc.id, r, detail, &why);
	wlog_add(w->opt.log, at ? at : j.at, r, r == 0 ? detail : buf_cstr(&why));
	if (r < 0 && err)
		buf_note(err, "push to '%s': %s", branch, buf_cstr(&why));
	buf_release(&why);
	return r;
}

int write_spool_flush(struct write *w, struct write_spool *sp, const char *owner, const char *repo,
		      const char *branch, const char *at, bool push, struct buf *err)
{
	struct buf why = BUF_INIT(4096);
	int r;

	pthread_mutex_lock(&sp->lock);
	if (sp->acted) {
		r = sp->result;
		goto out;
	}
	if (sp->poison) {
		r = sp->poison;
		goto out;
	}
	if (!sp->written) {
		r = 0; /* nothing written: nothing to push, nothing refused */
		goto out;
	}
	r = forge_bundle_check_fd(sp->check, sp->fd, sp->size, &why);
	if (r == FORGE_BUNDLE_INCOMPLETE || (r == FORGE_BUNDLE_COMPLETE && !push)) {
		/* An earlier flush of a bundle still being written: success. */
		r = 0;
		goto out;
	}
	sp->acted = true;
	if (r < 0) {
		/* Malformed or over a cap: refused now, recorded once. */
		wlog_add(w->opt.log, at, r, buf_cstr(&why));
		if (err)
			buf_note(err, "push to '%s': %s", branch, buf_cstr(&why));
	} else {
		r = write_push(w, owner, repo, branch, sp->path, at, err);
	}
	sp->result = r;
out:
	pthread_mutex_unlock(&sp->lock);
	buf_release(&why);
	return r;
}

bool write_spool_pushed(struct write_spool *sp)
{
	bool acted;

	pthread_mutex_lock(&sp->lock);
	acted = sp->acted;
	pthread_mutex_unlock(&sp->lock);
	return acted;
}

/* A push that never was: one failed journal entry, so the journal says why too. */
static void record_failed(struct write *w, struct write_spool *sp, int r, const struct buf *why)
{
	struct job j = {.kind = "push", .field = sp->branch, .owner = sp->owner, .repo = sp->repo};
	char payload[64];
	int64_t id;

	snprintf(payload, sizeof(payload), "not sent: %llu bytes written\n",
		 (unsigned long long)sp->size);
	j.payload = payload;
	snprintf(j.at, sizeof(j.at), "%s/%s/branches/%s", sp->owner, sp->repo, sp->branch);
	/* A record for people: what the agent was told is already in the log. */
	if (journal_begin(w, &j, &id, NULL) == 0)
		journal_end(w, &j, id, r, NULL, why);
}

void write_spool_free(struct write *w, struct write_spool *sp, const char *at)
{
	if (!sp)
		return;
	if ((sp->written || sp->poison) && !sp->acted && at) {
		struct buf why = BUF_INIT(1024);
		int r = sp->poison;

		if (!r) {
			r = forge_bundle_check_fd(sp->check, sp->fd, sp->size, &why);
			if (r >= 0)
				buf_note(&why,
					 "the last close came with the bundle incomplete "
					 "(%llu bytes, no valid pack trailer): nothing pushed",
					 (unsigned long long)sp->size);
			r = r < 0 ? r : -EINVAL;
		} else {
			buf_note(&why, "the bundle is over --push-max: nothing pushed");
		}
		wlog_add(w->opt.log, at, r, buf_cstr(&why));
		record_failed(w, sp, r, &why);
		buf_release(&why);
	}
	if (sp->fd >= 0)
		close(sp->fd);
	if (sp->path)
		unlink(sp->path);
	forge_bundle_check_free(sp->check);
	pthread_mutex_destroy(&sp->lock);
	free(sp->path);
	free(sp->owner);
	free(sp->repo);
	free(sp->branch);
	free(sp);
}

/* ---- recovery ---- */

int write_recover_push(struct write *w, const struct journal_entry *e, char *answer, size_t size,
		       struct buf *why)
{
	struct forge_branch_list l = {NULL, 0};
	char old[FORGE_OID_MAX + 1] = "", new_tip[FORGE_OID_MAX + 1] = "";
	const char *at = NULL;
	struct timespec now;
	char *bundle = NULL;
	uint64_t bsize;
	size_t i;
	int r;

	if (!e->field || !e->payload || sscanf(e->payload, "%64s %64s", old, new_tip) != 2)
		return buf_fail(why, -EINVAL, "the journaled push is not readable");
	/*
	 * A git push the dead daemon started may still be running: it holds
	 * the mirror's lock, and bringing the mirror up to date waits for it
	 * (bounded), so the forge is read after it ended.
	 */
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (forge_repo_bundle(w->opt.forge, e->owner, e->repo, true,
			      (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000 +
				  (w->opt.push_timeout_ms ? w->opt.push_timeout_ms : 60000),
			      &bundle, &bsize, NULL) == 0)
		free(bundle);
	r = forge_list_branches(w->opt.forge, e->owner, e->repo, &l, why);
	if (r < 0)
		return r == -ENOENT ? buf_fail(why, -ECANCELED, "the repository is gone") : r;
	for (i = 0; i < l.n; i++)
		if (strcmp(l.v[i].name, e->field) == 0)
			at = l.v[i].commit;
	if (at && strcmp(at, new_tip) == 0) {
		snprintf(answer, size, "pushed %.12s (found on the forge)", new_tip);
		r = 0;
	} else {
		/* Never pushed again: the agent owns the retry. */
		r = buf_fail(why, -ECANCELED,
			     "not pushed: the daemon stopped during the push and '%s' is at %s on "
			     "the forge, not %s",
			     e->field, at ? at : "(no branch)", new_tip);
	}
	forge_branch_list_release(&l);
	return r;
}
