/*
 * jsontext: a JSON value as the tree and the queue show it: two-space
 * indent, keys in insertion order, and a final newline (every text file
 * ends with one). The one place that spelling is decided.
 */
#ifndef BOTTLEFS_UTIL_JSONTEXT_H
#define BOTTLEFS_UTIL_JSONTEXT_H

#include <jansson.h>

/* New text ending "\n", or NULL when out of memory. j is borrowed. */
char *jsontext_pretty(const json_t *j);

#endif
