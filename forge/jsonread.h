/*
 * forge/jsonread: reading a forge's JSON answers with one strictness, for
 * every adapter's decoder. A root is parsed only after a cheap count of
 * its values says it stays under the adapter's bound; a member has the
 * type it must have or the read fails with -EIO and the key's name (the
 * forge answered something its description does not allow). Missing and
 * null members are the same. Strings are copied (new); objects borrowed.
 * Pure functions: any thread.
 */
#ifndef BOTTLEFS_FORGE_JSONREAD_H
#define BOTTLEFS_FORGE_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/check.h"

/*
 * *root (new) from text: -EIO with a one-line reason when text is empty,
 * holds more than max_values values, or is not JSON (invalid UTF-8, lone
 * surrogates and \u0000 are not JSON to jansson either).
 */
MUST_CHECK int jr_load(const char *text, size_t len, size_t max_values, json_t **root,
		       struct buf *err);
/* o[key], a string: missing or null gives dflt (which may be NULL), or -EIO when required. */
MUST_CHECK int jr_str(json_t *o, const char *key, bool required, const char *dflt, char **out,
		      struct buf *err);
/* o[key], an integer of at least min: missing or null gives 0, or -EIO when required. */
MUST_CHECK int jr_u64(json_t *o, const char *key, bool required, uint64_t min, uint64_t *out,
		      struct buf *err);
/* o[key], a boolean: missing or null gives false; *present (may be NULL) says whether it was there.
 */
MUST_CHECK int jr_bool(json_t *o, const char *key, bool *out, bool *present, struct buf *err);
/* o[key], an object: *out NULL when missing or null, borrowed otherwise. */
MUST_CHECK int jr_obj(json_t *o, const char *key, json_t **out, struct buf *err);

#endif
