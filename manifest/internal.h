/*
 * Internal helpers shared by the manifest module's files (parse.c,
 * resolve.c). Not part of the public API; nothing outside manifest/
 * includes this.
 */
#ifndef BOTTLEFS_MANIFEST_INTERNAL_H
#define BOTTLEFS_MANIFEST_INTERNAL_H

#include <jansson.h>

#include "util/buf.h"

/* Replaces err's contents with the message (err may be NULL). */
void mf_errf(struct buf *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "map", "list", "string", "int", "float", "bool" or "null". */
const char *mf_kind(const json_t *v);

/*
 * Reads the regular file dir/file (at most MANIFEST_MAX_FILE bytes) into out.
 * -ENOENT silently when it does not exist; -EINVAL (not a regular file, too
 * big) or -EIO with err otherwise.
 */
int mf_read_file(const char *dir, const char *file, struct buf *out, struct buf *err);

#endif
