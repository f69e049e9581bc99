#include "util/dir.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "util/buf.h"

/* Every directory on the way to path, and path itself when self. */
static int make(const char *path, mode_t mode, bool self)
{
	struct buf b = BUF_INIT(PATH_MAX);
	size_t i, end;
	int r;

	r = buf_puts(&b, path);
	if (r < 0 || b.len == 0)
		goto out;
	end = self ? b.len : b.len - 1;
	for (i = 1; i <= end; i++) {
		if (i < b.len && b.data[i] != '/')
			continue;
		b.data[i] = '\0';
		if (mkdir(b.data, mode) < 0 && errno != EEXIST) {
			r = -errno;
			goto out;
		}
		if (i < b.len)
			b.data[i] = '/';
	}
	r = 0;
out:
	buf_release(&b);
	return r;
}

int dir_make(const char *dir, mode_t mode)
{
	return make(dir, mode, true);
}

int dir_make_parents(const char *path, mode_t mode)
{
	return make(path, mode, false);
}

char *dir_default(const char *name)
{
	const char *home = getenv("HOME");
	struct buf b = BUF_INIT(4096);

	if (!home || !*home)
		home = "/root";
	if (buf_printf(&b, "%s/.bot-bottle/%s", home, name) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}
