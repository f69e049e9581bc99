/*
 * time: the one spelling of times bottlefs reads and writes (RFC 3339 in
 * UTC, as the forge sends them and as the queue, the journal and the logs
 * show them), and the clocks it measures with.
 *
 * Pure and thread-safe: no state, gmtime_r/timegm only.
 */
#ifndef BOTTLEFS_UTIL_TIME_H
#define BOTTLEFS_UTIL_TIME_H

#include <stddef.h>
#include <stdint.h>

#include "util/check.h"

/* Room for "YYYY-MM-DDTHH:MM:SSZ" and its NUL, or a fallback decimal of any int64. */
#define TIME_RFC3339_SIZE 32

/*
 * Seconds since the epoch of an RFC 3339 time ("2025-01-31T12:00:00Z",
 * fractions ignored, a "+HH:MM"/"-HH:MM" offset applied), or 0 when s is
 * NULL or cannot be read.
 */
int64_t time_from_rfc3339(const char *s);

/*
 * t (seconds since the epoch) as "YYYY-MM-DDTHH:MM:SSZ" in out (size at
 * least TIME_RFC3339_SIZE). 0, or -EINVAL when t is no calendar time
 * gmtime can give: then out holds t in decimal, so a log line still says
 * something.
 */
MUST_CHECK int time_to_rfc3339(int64_t t, char *out, size_t size);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in milliseconds. */
int64_t time_mono_ms(void);
int64_t time_wall_ms(void);

#endif
