/*
 * dir: making the directories bottlefs keeps its files in (the state
 * store's, the queue). Thread-safe: no state.
 */
#ifndef BOTTLEFS_UTIL_DIR_H
#define BOTTLEFS_UTIL_DIR_H

#include <sys/types.h>

#include "util/check.h"

/*
 * mkdir -p: makes dir and every missing directory above it with mode
 * (existing ones are left as they are). 0 or -errno (-E2BIG past
 * PATH_MAX).
 */
MUST_CHECK int dir_make(const char *dir, mode_t mode);

/* The same for the directories above path only (the file's own directory included). */
MUST_CHECK int dir_make_parents(const char *path, mode_t mode);

/*
 * ~/.bot-bottle/<name> ($HOME, else /root): where the state store and the
 * queue are kept by default. New, NULL when out of memory.
 */
char *dir_default(const char *name);

#endif
