#include "fs/bottles.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "manifest/manifest.h"

static bool defined(const char *dir, const char *name, struct buf *err)
{
	char **names;
	size_t n, i;
	bool found = false;

	if (!dir || manifest_list(dir, &names, &n, err) < 0)
		return false;
	for (i = 0; i < n && !found; i++)
		found = strcmp(names[i], name) == 0;
	manifest_names_free(names, n);
	return found;
}

/*
 * The bytes of one bottle file. For B_ERROR, -ENOENT when the bottle
 * resolves; for B_RESOLVED, -EIO when it does not (the reason in err).
 */
static int render(const char *dir, const struct node *n, struct buf *out, struct buf *err)
{
	struct buf why = BUF_INIT(64 << 10);
	char *text = NULL;
	size_t len;
	int r;

	if (!dir)
		return -ENOENT;
	if (n->bfile == B_SOURCE) {
		r = manifest_source(dir, n->bottle, &text, &len, err);
		if (r == 0)
			r = buf_append(out, text, len);
		free(text);
		return r == -EINVAL ? 0 : r;
	}
	r = manifest_resolve(dir, n->bottle, &text, &why);
	if (n->bfile == B_RESOLVED) {
		if (r == 0)
			r = buf_puts(out, text);
		else if (r == -EINVAL)
			r = -EIO;
		if (r < 0 && err)
			buf_puts(err, buf_cstr(&why));
	} else if (r == 0) {
		r = -ENOENT; /* a good bottle has no error file */
	} else if (r == -EINVAL || r == -EIO) {
		r = buf_printf(out, "%s\n", buf_cstr(&why));
	}
	free(text);
	buf_release(&why);
	return r;
}

int bottles_getattr(const char *dir, const struct node *n, struct view_attr *out, struct buf *err)
{
	struct buf content = BUF_INIT(MANIFEST_MAX_FILE * 2);
	int r;

	if (!defined(dir, n->bottle, err))
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->mtime = time(NULL);
	out->volatile_content = true;
	if (n->kind == N_BOTTLE) {
		out->dir = true;
		out->mode = 0555;
		return 0;
	}
	out->mode = 0444;
	r = render(dir, n, &content, NULL);
	/* A broken bottle's resolved.json exists; reading it is what fails. */
	if (r == -EIO && n->bfile == B_RESOLVED)
		r = 0;
	out->size = content.len;
	buf_release(&content);
	return r;
}

int bottles_read(const char *dir, const struct node *n, struct buf *out, struct buf *err)
{
	return render(dir, n, out, err);
}

int bottles_list(const char *dir, const struct node *n, view_fill_fn fill, void *ud,
		 struct buf *err)
{
	struct view_attr a = {.dir = true, .mode = 0555, .volatile_content = true};
	struct buf content = BUF_INIT(MANIFEST_MAX_FILE * 2);
	char **names;
	size_t count, i;
	int r;

	if (!dir)
		return 0;
	if (n->kind == N_BOTTLES) {
		r = manifest_list(dir, &names, &count, err);
		if (r < 0)
			return r;
		a.mtime = time(NULL);
		for (i = 0; i < count; i++)
			if (fill(ud, names[i], &a) != 0)
				break;
		manifest_names_free(names, count);
		return 0;
	}
	if (!defined(dir, n->bottle, err))
		return -ENOENT;
	fill(ud, "resolved.json", NULL);
	fill(ud, "source", NULL);
	{
		struct node e = *n;

		e.kind = N_BOTTLE_FILE;
		e.bfile = B_ERROR;
		if (render(dir, &e, &content, NULL) == 0)
			fill(ud, "error", NULL);
	}
	buf_release(&content);
	return 0;
}
