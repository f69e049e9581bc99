/*
 * git/mirror's inside: what mirror.c, mirror_git.c, mirror_bundle.c,
 * mirror_import.c and mirror_push.c share. Not an API: only the files of
 * the mirror module include it (mirror.h is the module's API).
 *
 * Ownership and locking are as mirror.h says: a struct held is one
 * operation's hold of one mirror (its flock, made by mi_hold, dropped by
 * mi_held_release); every git child of that operation gets the flock as
 * its fd 3 (mi_held_lock_fd, per thread), so a git that outlives the
 * daemon keeps the mirror locked until it ends.
 */
#ifndef BOTTLEFS_FORGE_GIT_MIRROR_INT_H
#define BOTTLEFS_FORGE_GIT_MIRROR_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "forge/git/mirror.h"
#include "util/check.h"

#define META "bottlefs"

struct lru_entry {
	char *key; /* "<enc owner>/<enc repo>.git", relative to dir */
	uint64_t used;
};

struct mirrors {
	char *dir;
	char *home; /* <dir>/.home */
	size_t max;
	pthread_mutex_t lock; /* guards v, n, cap, clock */
	struct lru_entry *v;
	size_t n, cap;
	uint64_t clock;
	unsigned trash_seq; /* lock */
};

/* One operation's hold of one mirror. */
struct held {
	char *key;
	char *git_dir; /* <dir>/<key> */
	char *meta;    /* <git_dir>/bottlefs */
	int fd;	       /* the flock */
};

/* A quarantine: an objects directory whose alternate is the mirror's. */
struct quarantine {
	char *dir;	  /* <repo>.git/bottlefs/q-XXXXXX: the new objects */
	char *alternates; /* <repo>.git/objects */
};

/* The flock held by this thread's operation (-1: none). */
extern __thread int mi_held_lock_fd;

/* mirror.c */
char *mi_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mi_remove_tree(const char *path);
/*
 * Locks owner/repo's mirror, creating it when create is set: 0, -ENOENT
 * (absent and not created), -ETIMEDOUT, -EINVAL (names), -EIO.
 */
MUST_CHECK int mi_hold(struct mirrors *m, const char *owner, const char *repo, bool create,
		       uint64_t deadline, struct held *h, struct buf *err);
void mi_held_release(struct held *h);

/* mirror_git.c */
MUST_CHECK int mi_run_git(struct mirrors *m, const char *git_dir, const struct quarantine *q,
			  const struct mirror_remote *remote, const char *const *args, int stdin_fd,
			  const char *stdin_data, uint64_t deadline, struct gitrun_result *res,
			  struct buf *err);
void mi_git_reason(struct buf *err, const char *cmd, const struct gitrun_result *res);
bool mi_err_has(const struct gitrun_result *res, const char *s);
int mi_network_errno(const struct gitrun_result *res);
MUST_CHECK int mi_local_git(struct mirrors *m, const char *git_dir, const struct quarantine *q,
			    const char *const *args, const char *stdin_data, uint64_t deadline,
			    struct gitrun_result *res, struct buf *err);
MUST_CHECK int mi_fetch_locked(struct mirrors *m, const struct held *h,
			       const struct mirror_remote *r, uint64_t deadline, struct buf *err);
MUST_CHECK int mi_tip_locked(struct mirrors *m, const struct held *h, const char *ref,
			     uint64_t deadline, char out[BUNDLE_OID_HEX + 1], struct buf *err);

/* mirror_import.c */
void mi_quarantine_release(struct quarantine *q);
MUST_CHECK int mi_quarantine_new(const struct held *h, struct quarantine *q, struct buf *err);
MUST_CHECK int mi_check_prereqs(struct mirrors *m, const struct held *h,
				const struct bundle_header *bh, uint64_t deadline, struct buf *err);
MUST_CHECK int mi_import_pack(struct mirrors *m, const struct held *h, const struct quarantine *q,
			      const char *bundle_path, uint64_t pack_offset, uint64_t deadline,
			      struct buf *err);
MUST_CHECK int mi_check_tip(struct mirrors *m, const struct held *h, const struct quarantine *q,
			    const char *tip, uint64_t deadline, struct buf *err);
MUST_CHECK int mi_check_ff(struct mirrors *m, const struct held *h, const struct quarantine *q,
			   const char *branch, const char *old, const char *tip, uint64_t deadline,
			   struct buf *err);

#endif
