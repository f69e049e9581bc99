/* bottles: /bottles over the manifest cache (internal.h). */
#include "tree/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool defined(struct manifest_cache *mc, const char *name, struct buf *err)
{
	return mc && manifest_cache_defined(mc, name, err) == 1;
}

/*
 * The bytes of one bottle file (new, in *text and *len). For B_ERROR,
 * -ENOENT when the bottle resolves; for B_RESOLVED, -EIO when it does not
 * (the reason in err).
 */
static int render(struct manifest_cache *mc, const struct node *n, char **text, size_t *len,
		  struct buf *err)
{
	struct buf why = BUF_INIT(64 << 10);
	struct buf out = BUF_INIT(MANIFEST_MAX_FILE * 2);
	char *json = NULL;
	int r;

	if (!mc)
		return -ENOENT;
	if (n->bfile == B_SOURCE) {
		r = manifest_cache_source(mc, n->bottle, text, len, err);
		if (r == -EINVAL) { /* defined twice: the file is empty, the error says why */
			*text = NULL;
			*len = 0;
			r = 0;
		}
		return r;
	}
	r = manifest_cache_resolve(mc, n->bottle, &json, len, &why);
	if (n->bfile == B_RESOLVED) {
		if (r == 0) {
			*text = json;
			json = NULL;
		} else if (r == -EINVAL) {
			r = -EIO;
		}
		if (r < 0 && err)
			buf_note(err, "%s", buf_cstr(&why));
	} else if (r == 0) {
		r = -ENOENT; /* a good bottle has no error file */
	} else if (r == -EINVAL || r == -EIO) {
		r = buf_printf(&out, "%s\n", buf_cstr(&why));
		if (r == 0)
			*text = buf_steal(&out, len);
		if (r == 0 && !*text)
			r = -ENOMEM;
	}
	free(json);
	buf_release(&out);
	buf_release(&why);
	return r;
}

int bottles_getattr(struct manifest_cache *mc, const struct node *n, struct tree_attr *out,
		    struct buf *err)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!defined(mc, n->bottle, err))
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
	r = render(mc, n, &text, &len, NULL);
	/* A broken bottle's resolved.json exists; reading it is what fails. */
	if (r == -EIO && n->bfile == B_RESOLVED) {
		r = 0;
		len = 0;
	}
	/* The size of what a read shows, which holds at most this much. */
	if (r == 0 && len > MANIFEST_MAX_FILE * 2)
		r = -E2BIG;
	out->size = r == 0 ? len : 0;
	free(text);
	return r;
}

int bottles_read(struct manifest_cache *mc, const struct node *n, struct buf *out, struct buf *err)
{
	char *text = NULL;
	size_t len = 0;
	int r = render(mc, n, &text, &len, err);

	if (r == 0 && len)
		r = buf_append(out, text, len);
	free(text);
	return r;
}

int bottles_list(struct manifest_cache *mc, const struct node *n, tree_fill_fn fill, void *ud,
		 struct buf *err)
{
	struct tree_attr a = {.dir = true, .mode = 0555, .volatile_content = true};
	char **names, *text = NULL;
	size_t count, i, len;
	int r;

	if (!mc)
		return 0;
	if (n->kind == N_BOTTLES) {
		r = manifest_cache_list(mc, &names, &count, err);
		if (r < 0)
			return r;
		a.mtime = time(NULL);
		for (i = 0; i < count; i++)
			if (fill(ud, names[i], &a) != 0)
				break;
		manifest_names_free(names, count);
		return 0;
	}
	if (!defined(mc, n->bottle, err))
		return -ENOENT;
	fill(ud, "resolved.json", NULL);
	fill(ud, "source", NULL);
	{
		struct node e = *n;

		e.kind = N_BOTTLE_FILE;
		e.bfile = B_ERROR;
		if (render(mc, &e, &text, &len, NULL) == 0)
			fill(ud, "error", NULL);
		free(text);
	}
	return 0;
}
