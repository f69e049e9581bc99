/*
 * scope: what this mount may write (SPEC section 3). Pure decisions, no
 * FUSE, no forge: the callbacks and access() ask here, and the unit tests
 * ask the same functions.
 *
 * Writable, and nothing else: the assigned issue's title, body, state,
 * labels and comments/new; pulls/new of the assigned repository; the same
 * files of every pull request opened through this mount for the
 * assignment; /done while no signal stands. Without an assignment nothing
 * is writable.
 *
 * Thread-safety: the PR set grows while the mount runs; scope.lock guards
 * it. Every function may be called from many threads.
 */
#ifndef BOTTLEFS_FS_SCOPE_H
#define BOTTLEFS_FS_SCOPE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree/tree.h"
#include "util/buf.h"

struct scope {
	bool assigned;
	char owner[NAMES_OWNER_MAX + 1];
	char repo[NAMES_REPO_MAX + 1];
	uint64_t issue;
	pthread_mutex_t lock;
	uint64_t *prs; /* opened through this mount; lock */
	size_t n_prs;  /* lock */
	bool done;     /* a done signal stands; lock */
};

/* An unassigned (read-only) scope. */
void scope_init(struct scope *s);
void scope_release(struct scope *s);

/* Parses "OWNER/REPO#N" into s. 0, or -EINVAL with the reason in err. */
int scope_assign(struct scope *s, const char *assign, struct buf *err);

/* Adds a pull request opened for the assignment (idempotent). 0 or -ENOMEM. */
int scope_add_pr(struct scope *s, uint64_t pr);
/* Copies the PR numbers (new array, may be NULL when *n is 0). 0 or -ENOMEM. */
int scope_prs(struct scope *s, uint64_t **prs, size_t *n);
void scope_set_done(struct scope *s);
bool scope_is_done(struct scope *s);

/*
 * 0 when a write to n is in scope; otherwise -EACCES, with why (one
 * lower-case line) appended to err when given.
 */
int scope_check(struct scope *s, const struct node *n, struct buf *err);

/* True when n is the assigned issue or a PR of the assignment. */
bool scope_item_in_scope(struct scope *s, const struct node *n);

/* The text of .bottlefs/scope (appended to out). */
int scope_describe(struct scope *s, struct buf *out);

#endif
