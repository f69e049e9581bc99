/*
 * prnew: the JSON an agent writes to pulls/new (SPEC section 3). Pure.
 * Internal to write/ (and its tests): the tree sees write_validate.
 *
 *   {"title": "...", "head": "branch", "base": "main", "body": "...", "draft": false,
 *    "bundle": {"summary": "...",
 *               "receipt": {"session_id": "...", "policy_bundle_id": "...",
 *                           "trajectory_hash": "...",
 *                           "verification_passed": true, "confidence": 0.9}}}
 *
 * title, head and base are required non-empty strings; draft, optional, is
 * true or false (the pull request is opened as a draft); body and bundle are
 * alternatives (both is an error); a bundle needs a summary string and a
 * receipt with the four fields (confidence, a number, is optional). An
 * unknown key is refused, so a typo is reported instead of dropped. Input
 * must be valid UTF-8 without NUL bytes, at most WRITE_PULL_MAX bytes.
 *
 * Values: the title is one line without control characters
 * (str_has_control; a tab counts); head and base are branch names
 * (str_branch_name_valid: no "owner:branch" on another fork); body and
 * summary pass forge_description_check (no receipt marker, no truncation
 * notice: only the daemon writes those).
 */
#ifndef BOTTLEFS_WRITE_PRNEW_H
#define BOTTLEFS_WRITE_PRNEW_H

#include <stddef.h>

#include "forge/forge.h"
#include "util/buf.h"
#include "util/check.h"
#include "write/write.h"

struct prnew {
	char *title, *head, *base, *body, *summary;
	char *session_id, *policy_bundle_id, *trajectory_hash;
	bool verification_passed;
	bool draft;		      /* "draft": true: opened as a draft */
	struct forge_receipt receipt; /* points into the strings above */
	struct forge_pr_request req;  /* ready for forge->create_pr; borrows the above */
};

/* 0 and *out (release with prnew_release), or -EINVAL with one line in err. */
MUST_CHECK int prnew_parse(const char *data, size_t len, struct prnew *out, struct buf *err);
void prnew_release(struct prnew *p);

#endif
