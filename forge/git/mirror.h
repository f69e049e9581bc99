/*
 * git/mirror: the daemon's bare mirrors of forge repositories, repo.bundle
 * made from them, and pushing an agent's bundle through them.
 *
 * Layout under the mirror directory (--mirror-dir, created 0700; local to
 * the daemon, never a directory the agent can write):
 *
 *   .home/                       HOME of every git child (empty)
 *   <owner>/<repo>.git/          a bare repository: refs/heads/ and HEAD
 *                                as the forge has them, nothing else
 *   <owner>/<repo>.git/bottlefs/ lock (flock), used (LRU stamp),
 *                                repo.bundle and its refs stamp, and q-*
 *                                quarantines while a push is checked
 *
 * Owner and repository names are validated (1..255 bytes, no '/', no
 * control byte, not "." or "..") and percent-encoded into file names
 * (anything but [A-Za-z0-9_-] and a non-leading '.'), so no name can reach
 * outside its place. Names are used as given: "Alice" and "alice" are two
 * mirrors.
 *
 * Bounds: at most max_count mirrors (--mirror-max, a count, default 32:
 * a count because sizes would mean walking every object directory). When
 * a new mirror would pass it, the least recently used mirrors that no
 * operation holds are deleted. Every operation takes one absolute deadline
 * (CLOCK_MONOTONIC ms, gitrun_now_ms) that bounds its waits for the lock
 * and every git child it runs.
 *
 * Concurrency: operations on one repository are serialised by a flock on
 * its lock file (taken by polling, up to the deadline); operations on
 * different repositories never wait for each other. The LRU table is
 * guarded by a mutex of its own. All functions may be called from many
 * threads at once.
 *
 * The token: only the children that talk to the forge (fetch, ls-remote,
 * push) get auth (see gitrun.h); init, index-pack, rev-list, merge-base,
 * bundle and update-ref never do.
 *
 * Errors (0 or -errno, a one-line reason appended to err):
 *   -EINVAL  a name or branch is not valid; the bundle is malformed, does
 *            not carry exactly one branch ref, its tip is not a commit, or
 *            git's strict check of its objects failed
 *   -EFBIG   the bundle or one of its objects is over its cap
 *   -ENOENT  the repository is not on the forge; a commit the bundle needs
 *            (a prerequisite, a delta base, a parent) is not on the forge;
 *            (mirror_bundle) the repository has no branch
 *   -EPERM   the bundle's tip is not a fast-forward of the branch (or the
 *            branch moved on the forge while pushing)
 *   -EACCES  the forge refused the credentials or the push (401, 403, a
 *            rejected update)
 *   -EAGAIN  (mirror_bundle) the mirror was not ready within the deadline
 *   -EIO     the forge failed, timed out or could not be reached; a local
 *            git or file failure
 */
#ifndef BOTTLEFS_FORGE_GIT_MIRROR_H
#define BOTTLEFS_FORGE_GIT_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "forge/git/bundle.h"
#include "forge/git/gitrun.h"
#include "util/buf.h"

#define MIRROR_MAX_DEFAULT 32

struct mirror_opts {
	const char *dir;  /* --mirror-dir; created (0700) when missing */
	size_t max_count; /* --mirror-max (0: MIRROR_MAX_DEFAULT) */
};

/* Where a repository lives on the forge (both borrowed). */
struct mirror_remote {
	const char *url;		/* e.g. "http://127.0.0.1:3000/alice/dotfiles.git" */
	const struct gitrun_auth *auth; /* NULL: anonymous */
};

struct mirrors;

/* *out is new. The directory is created and scanned for existing mirrors. */
int mirrors_new(const struct mirror_opts *o, struct mirrors **out, struct buf *err);
/* NULL-safe. Leaves the mirrors on disk. */
void mirrors_free(struct mirrors *m);

/*
 * Makes the mirror of owner/repo the forge's current state: created when
 * missing (git init --bare), then `git fetch --prune` of every refs/heads/ ref with
 * the remote's auth.
 */
int mirror_update(struct mirrors *m, const char *owner, const char *repo,
		  const struct mirror_remote *r, uint64_t deadline, struct buf *err);

/*
 * repo.bundle of owner/repo: every branch and HEAD (the forge's default
 * branch). With fetch, the mirror is updated first (and created when
 * missing); without, a mirror that does not exist yet is -EAGAIN. The
 * bundle is made again only when the mirror's refs changed since the last
 * one (written beside, then renamed over it: a reader that opened the old
 * one keeps reading it). *path is new: the file to serve (read-only, the
 * daemon's), *size its size. A lock or fetch that does not finish by the
 * deadline is -EAGAIN ("not ready").
 */
int mirror_bundle(struct mirrors *m, const char *owner, const char *repo,
		  const struct mirror_remote *r, bool fetch, uint64_t deadline, char **path,
		  uint64_t *size, struct buf *err);

/*
 * The tip of refs/heads/<branch> in the mirror (as of its last update)
 * into out: 0, -ENOENT when the branch (or the mirror) does not exist,
 * -EIO (with the lock not free by the deadline, too).
 */
int mirror_tip(struct mirrors *m, const char *owner, const char *repo, const char *branch,
	       uint64_t deadline, char out[BUNDLE_OID_HEX + 1], struct buf *err);

/*
 * Called once every check passed, right before `git push` is started:
 * old is the branch's tip on the forge ("" when the branch is new), new
 * the tip the push sets. A non-zero return cancels the push (nothing is
 * sent) and is returned.
 */
typedef int (*mirror_send_fn)(void *ud, const char *old, const char *new_tip);

struct mirror_push_req {
	const char *bundle_path; /* the spool: a complete bundle (the daemon's file) */
	const char *branch;	 /* pushed as refs/heads/<branch> */
	/*
	 * NULL: the branch's tip on the forge now (read by the update)
	 * is the base. Otherwise the tip the caller expects ("" : the branch
	 * must not exist): when the forge's tip differs, the push is refused
	 * with -EPERM, unless the forge already has the bundle's tip there.
	 */
	const char *expected_old;
	struct bundle_limits limits; /* zeros: the defaults */
	mirror_send_fn before_send;  /* may be NULL */
	void *send_ud;
};

struct mirror_push_result {
	char old_tip[BUNDLE_OID_HEX + 1]; /* the forge's tip before ("" : no branch) */
	char new_tip[BUNDLE_OID_HEX + 1]; /* the bundle's tip, now the forge's */
	bool already;			  /* the forge had it already: nothing was sent */
};

/*
 * Pushes the bundle at req->bundle_path to refs/heads/<branch> of the
 * forge, in this order, stopping at the first refusal (nothing is sent
 * for any refusal before step 8):
 *  1. the branch name is valid (git check-ref-format --branch);
 *  2. the bundle is checked whole (bundle.h): complete, within the caps,
 *     exactly one ref (HEAD or a branch) whose oid is the new tip;
 *  3. the forge's tip of the branch is read (ls-remote; the lock held from
 *     here on); when it already is the new tip, the call succeeds with
 *     already set;
 *  4. the mirror is fetched when it lacks that tip (and, once, when a
 *     check of step 5 or 6 finds a commit missing, which are then run
 *     again), so every check runs against the forge's current state;
 *  5. every prerequisite is a commit in the mirror (-ENOENT otherwise);
 *  6. the pack goes through `git index-pack --stdin --fix-thin --strict`
 *     into a quarantine (a fresh objects directory whose alternate is the
 *     mirror's), then `git rev-list --objects <tip> --not --all` proves
 *     everything the tip needs is there (-ENOENT), and the tip must be a
 *     commit (-EINVAL);
 *  7. the tip must descend from the forge's tip (`git merge-base
 *     --is-ancestor`; -EPERM);
 *  8. before_send, then `git push --force-with-lease=refs/heads/<b>:<old>
 *     <url> <tip>:refs/heads/<b>` from the mirror with the quarantine's
 *     objects: the forge takes it only if the branch is still at old, so a
 *     change that raced the checks is never overwritten;
 *  9. when the push's outcome is unknown (timeout, dropped connection),
 *     the forge's branch is read again (ls-remote) while the deadline
 *     allows: at the new tip it succeeded;
 * 10. the quarantine's pack moves into the mirror and its ref is set, or
 *     on failure the quarantine is deleted.
 * *out is written on success only.
 */
int mirror_push(struct mirrors *m, const char *owner, const char *repo,
		const struct mirror_remote *r, const struct mirror_push_req *req, uint64_t deadline,
		struct mirror_push_result *out, struct buf *err);

/* How many mirrors exist now (tests, .bottlefs/ status). */
size_t mirrors_count(struct mirrors *m);

/* The directory of owner/repo's mirror (new), whether or not it exists; NULL for bad names. */
char *mirror_path(struct mirrors *m, const char *owner, const char *repo);

#endif
