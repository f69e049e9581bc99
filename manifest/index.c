/*
 * index: the name index of the manifest cache (mcache.h): the sorted
 * names of the directory, with the stamps of the directory, manifest.json
 * and every .md symlink's target, rebuilt only when one of those changes.
 */
#include "manifest/mcache.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- the name index ---- */

bool mc_links_hold(struct mc_call *k, const struct mindex *ix)
{
	struct mf_stamp st;
	size_t i;

	for (i = 0; i < ix->nlinks; i++) {
		if (mf_stat(mc_call_dirfd(k), k->c->dir, ix->links[i].file, &st) < 0)
			return false;
		if ((st.err == 0 && S_ISREG(st.mode)) != ix->links[i].regular)
			return false;
	}
	return true;
}

/* The keys of o, sorted, as new strings. */
static int keys_sorted(json_t *o, char ***out, size_t *n)
{
	char **v = calloc(json_object_size(o) + 1, sizeof(*v));
	const char *key;
	json_t *x;
	size_t i = 0;

	if (!v)
		return -ENOMEM;
	json_object_foreach(o, key, x)
	{
		(void)x;
		if (!(v[i] = strdup(key))) {
			manifest_names_free(v, i);
			return -ENOMEM;
		}
		i++;
	}
	qsort(v, i, sizeof(*v), mf_cmp_str);
	*out = v;
	*n = i;
	return 0;
}

/*
 * Lists the directory into a new index. Kept (gen != 0) only when the
 * call's stamps of the directory and manifest.json can be trusted: taken
 * before the listing, not racy, not moved during the call.
 */
static int index_build(struct mc_call *k, struct mindex **out, struct buf *err)
{
	struct manifest_cache *c = k->c;
	struct buf msg = BUF_INIT(4096);
	json_t *md = NULL, *links = NULL, *all = NULL, *mjn = NULL, *v;
	struct manifest_json *mj = NULL;
	struct mindex *ix = NULL, *old = NULL;
	const char *key;
	size_t i;
	int r, mj_rc = 0;

	r = mf_list_md(c->dir, &md, &links, &all, err);
	if (r < 0)
		goto out;
	r = mc_call_manifest(k, &mj, &mj_rc, &msg);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	if (mj && !(mjn = manifest_json_names(mj)))
		goto out;
	ix = calloc(1, sizeof(*ix));
	if (!ix || mf_names_from(md, mjn, &ix->names, &ix->n) < 0 ||
	    keys_sorted(all, &ix->entries, &ix->nentries) < 0)
		goto out;
	ix->refs = 1;
	ix->dir_st = k->dir_st;
	ix->mj_st = k->files[k->mj].st;
	ix->mj_rc = mj_rc;
	if (mj_rc < 0 && !(ix->mj_msg = strdup(buf_cstr(&msg))))
		goto out;
	ix->links = calloc(json_object_size(links) + 1, sizeof(*ix->links));
	if (!ix->links)
		goto out;
	json_object_foreach(links, key, v)
	{
		struct buf f = BUF_INIT(MANIFEST_MAX_NAME + 8);

		ix->links[ix->nlinks].regular = json_is_true(v);
		ix->links[ix->nlinks].file =
		    buf_printf(&f, "%s.md", key) == 0 ? buf_steal(&f, NULL) : NULL;
		buf_release(&f);
		if (!ix->links[ix->nlinks].file)
			goto out;
		ix->nlinks++;
	}
	ix->bytes = mc_chunk(sizeof(*ix)) + mc_chunk((ix->n + 1) * sizeof(char *)) +
		    mc_chunk((ix->nentries + 1) * sizeof(char *)) + mc_str_bytes(ix->mj_msg);
	for (i = 0; i < ix->n; i++)
		ix->bytes += mc_str_bytes(ix->names[i]);
	for (i = 0; i < ix->nentries; i++)
		ix->bytes += mc_str_bytes(ix->entries[i]);
	mc_count(&c->n_index_builds);
	r = 0;
	/* gen 0: not kept, so no answer may depend on it */
	if (k->dir_state == 1 && !mc_stamp_racy(k, &k->dir_st) && !k->nocache &&
	    !k->files[k->mj].serr && !k->files[k->mj].racy) {
		__atomic_fetch_add(&ix->refs, 1, __ATOMIC_RELAXED);
		pthread_mutex_lock(&c->lock);
		ix->gen = ++c->next_gen;
		old = c->index;
		c->index = ix;
		pthread_mutex_unlock(&c->lock);
		mc_index_unref(old);
	}
	*out = ix;
	ix = NULL;
out:
	if (r == -ENOMEM)
		mf_errf(err, "cannot list bottles directory '%s': out of memory", c->dir);
	mc_index_unref(ix);
	json_decref(md);
	json_decref(links);
	json_decref(all);
	json_decref(mjn);
	manifest_json_free(mj);
	buf_release(&msg);
	return r;
}

/*
 * The name index, valid now (built again when the directory, manifest.json
 * or a symlink's target changed): borrowed until call_release. Errors as
 * manifest_list.
 */
int mc_call_index(struct mc_call *k, struct mindex **out, struct buf *err)
{
	struct manifest_cache *c = k->c;
	struct mindex *ix = NULL;
	int i, r;

	if (k->ix) {
		*out = k->ix;
		return 0;
	}
	mc_call_open_dir(k); /* stamped before any listing: a change during it shows next time */
	i = mc_call_stat(k, MJ_FILE);
	if (i < 0)
		return i;
	if (k->dir_state == 1 && !k->files[i].serr) {
		pthread_mutex_lock(&c->lock);
		if (c->index && mf_stamp_equal(&c->index->dir_st, &k->dir_st) &&
		    mf_stamp_equal(&c->index->mj_st, &k->files[i].st)) {
			ix = c->index;
			__atomic_fetch_add(&ix->refs, 1, __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(&c->lock);
		if (ix && !mc_links_hold(k, ix)) {
			mc_index_unref(ix);
			ix = NULL;
		}
	}
	if (ix) {
		/* What the index says about manifest.json is what this call would read. */
		mc_call_use(k, i);
		k->mj = i;
	} else {
		r = index_build(k, &ix, err);
		if (r < 0)
			return r;
	}
	k->ix = ix;
	*out = ix;
	return 0;
}

void mc_call_available(struct mc_call *k, struct buf *out)
{
	struct buf msg = BUF_INIT(4096);
	struct manifest_json *mj = NULL;
	struct mindex *ix;
	char **names = NULL;
	size_t n = 0;
	json_t *mjn = NULL, *md;
	int r, rc;

	if (mc_call_index(k, &ix, NULL) == 0) {
		mf_put_names(out, ix->names, ix->n);
		if (ix->gen)
			k->index_gen = ix->gen;
		else
			k->nocache = true;
		return;
	}
	/* The directory cannot be listed: as manifest_list does, without storing. */
	k->nocache = true;
	r = mf_list_md(k->c->dir, &md, NULL, NULL, NULL);
	if (r == -ENOENT) {
		md = json_object();
		r = md ? 0 : -ENOMEM;
	}
	if (r == 0) {
		r = mc_call_manifest(k, &mj, &rc, &msg);
		if (r == 0 && mj && !(mjn = manifest_json_names(mj)))
			r = -ENOMEM;
		if (r == 0)
			r = mf_names_from(md, mjn, &names, &n);
		json_decref(md);
	}
	if (r < 0)
		buf_note(out, " Available bottles: (could not list them)");
	else
		mf_put_names(out, names, n);
	manifest_names_free(names, n);
	json_decref(mjn);
	manifest_json_free(mj);
	buf_release(&msg);
}
