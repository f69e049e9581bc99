/*
 * names: what an owner, a repository and a bottle may be called. The tree
 * refuses a path with any other name before anything is asked (no forge
 * object can have it), the scope parses --assign with the same rules, and
 * the bottles directory lists only files with a bottle's name.
 *
 * Pure and thread-safe.
 */
#ifndef BOTTLEFS_UTIL_NAMES_H
#define BOTTLEFS_UTIL_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAMES_OWNER_MAX 40
#define NAMES_REPO_MAX 100
#define NAMES_BOTTLE_MAX 128

/* Gitea: alphanumerics, '-', '_', '.', starting with a word character, no "..", 1..40 bytes. */
bool names_valid_owner(const char *s, size_t n);
/* Gitea: [-.\w]+ but never "." and no "..", 1..100 bytes (".profile" is a real repository). */
bool names_valid_repo(const char *s, size_t n);
/* [A-Za-z0-9._-]+, not starting with '.', 1..128 bytes. */
bool names_valid_bottle(const char *s, size_t n);

#endif
