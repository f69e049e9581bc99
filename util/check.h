/*
 * check: the compiler enforces that errors are looked at.
 *
 * MUST_CHECK marks every API function that returns 0 or -errno (or a
 * count or -errno): a caller that drops the result is a warning, and CI
 * builds with -Werror. Where dropping it is right, the call says so with
 * an explicit cast and a comment saying why:
 *
 *     // the provenance log is for people; the journal holds the same facts
 *     (void)!state_provenance_add(st, what, where, answer);
 *
 * The "!" is needed because GCC does not let a plain (void) cast silence
 * warn_unused_result (GCC bug 66425); clang accepts either.
 */
#ifndef BOTTLEFS_UTIL_CHECK_H
#define BOTTLEFS_UTIL_CHECK_H

#define MUST_CHECK __attribute__((warn_unused_result))

#endif
