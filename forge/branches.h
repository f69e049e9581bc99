/*
 * forge/branches: the part of the Forge Adapter Contract that moves
 * commits: listing a repository's branches, its repo.bundle, and pushing
 * an agent's bundle to a branch. A header of its own that forge.h
 * includes: the contract's push_branch, list_branches and repo_bundle
 * are defined in its terms.
 *
 * Errors are the contract's (forge.h), plus, for push_branch, the push
 * refusals of forge/git/mirror.h: -EINVAL malformed or not exactly one
 * branch ref, -ENOENT a commit it needs is not on the forge, -EPERM not a
 * fast-forward, -EFBIG over a cap, -EACCES the forge refused, -EIO the
 * forge failed. A one-line reason goes to err.
 *
 * Ownership: lists are new and released with forge_branch_list_release;
 * request fields are borrowed for the call.
 */
#ifndef BOTTLEFS_FORGE_BRANCHES_H
#define BOTTLEFS_FORGE_BRANCHES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/check.h"

/* Commit ids are 40 hex digits (SHA-1) or 64 (SHA-256, listing only). */
#define FORGE_OID_MAX 64

struct forge_branch {
	char *name;			/* "bottle/12-fix" (refs/heads/ dropped) */
	char commit[FORGE_OID_MAX + 1]; /* its tip, lower-case hex */
};

struct forge_branch_list {
	struct forge_branch *v; /* sorted by name (strcmp), no duplicates */
	size_t n;
};

void forge_branch_list_release(struct forge_branch_list *l);

/*
 * Called by push_branch once every check passed, right before anything is
 * sent, with the branch's tip on the forge ("" when new) and the tip the
 * push sets: the journal records both here. A non-zero return cancels
 * the push (nothing is sent) and is returned.
 */
typedef int (*forge_push_fn)(void *ud, const char *old_tip, const char *new_tip);

struct forge_push_request {
	const char *bundle_path; /* the spool: a complete bundle, the daemon's own file */
	const char *branch;	 /* the forge's branch, without refs/heads/ */
	/*
	 * NULL: push onto whatever the forge has now. "" : the branch must
	 * not exist. An id: the branch must be there (crash recovery pushes
	 * the journaled one). Either way a push the forge already has is
	 * not repeated (already is set).
	 */
	const char *expected_old;
	uint64_t max_bundle;  /* --push-max (0: 200 MiB) */
	uint64_t max_object;  /* --push-max-object (0: 50 MiB) */
	uint64_t deadline_ms; /* CLOCK_MONOTONIC ms: bounds the whole push */
	forge_push_fn before_send;
	void *send_ud;
};

struct forge_push_result {
	char old_tip[FORGE_OID_MAX + 1]; /* "" : the branch was new */
	char new_tip[FORGE_OID_MAX + 1];
	bool already; /* the forge had it: nothing was sent */
};

/*
 * An agent's bundle as it is written: a strict, incremental check of the
 * bytes of a growing spool file (forge/git/bundle.h says what is checked)
 * before any git sees them. Not thread-safe: one owner at a time.
 */
#define FORGE_PUSH_MAX_DEFAULT ((uint64_t)200 << 20)
#define FORGE_PUSH_MAX_OBJECT_DEFAULT ((uint64_t)50 << 20)
enum { FORGE_BUNDLE_INCOMPLETE = 0, FORGE_BUNDLE_COMPLETE = 1 };
struct forge_bundle_check;
/* *out is new (caps 0: the defaults). 0 or -ENOMEM. */
MUST_CHECK int forge_bundle_check_new(uint64_t max_bundle, uint64_t max_object,
				      struct forge_bundle_check **out);
void forge_bundle_check_free(struct forge_bundle_check *c); /* NULL-safe */
/*
 * Feeds fd's bytes up to size (pread; a file cut below what was read
 * starts again): FORGE_BUNDLE_INCOMPLETE, FORGE_BUNDLE_COMPLETE (a valid
 * pack trailer ends it), or -EINVAL (malformed, or not exactly one branch
 * ref once complete) / -EFBIG (over a cap) / -EIO, sticky, with a reason.
 */
MUST_CHECK int forge_bundle_check_fd(struct forge_bundle_check *c, int fd, uint64_t size,
				     struct buf *err);
/* Start again from byte 0 (the caller overwrote bytes it had fed). */
void forge_bundle_check_reset(struct forge_bundle_check *c);

#endif
