#include "util/time.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Two ASCII digits as a number, or -1. */
static int two_digits(const char *p)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

int64_t time_from_rfc3339(const char *s)
{
	struct tm tm;
	const char *p;
	int64_t off = 0;

	if (!s)
		return 0;
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return 0;
	if (*p == '.')
		while (*++p >= '0' && *p <= '9')
			;
	if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int h = two_digits(p + 1), m = two_digits(p + 4);

		if (h < 0 || h > 23 || m < 0 || m > 59)
			return 0;
		off = (int64_t)h * 3600 + m * 60;
		if (*p == '-')
			off = -off;
	} else if (strcmp(p, "Z") != 0 && *p != '\0') {
		return 0;
	}
	return (int64_t)timegm(&tm) - off;
}

int time_to_rfc3339(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) && strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		return 0;
	snprintf(out, size, "%" PRId64, t);
	return -EINVAL;
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t time_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}
