/*
 * list: the .md bottles of a directory, and sorted names from JSON keys
 * (manifest_list, in resolve.c, adds manifest.json's).
 */
#include "manifest/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "manifest/manifest.h"

int mf_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of json object keys plus extra (may be NULL); duplicates removed. */
int mf_names_from(json_t *a, json_t *b, char ***names, size_t *n)
{
	size_t cap = json_object_size(a) + (b ? json_object_size(b) : 0), k = 0, i, w;
	char **v = calloc(cap ? cap : 1, sizeof(*v));
	json_t *objs[2] = {a, b}, *x;
	const char *key;

	if (!v)
		return -ENOMEM;
	for (i = 0; i < 2; i++) {
		if (!objs[i])
			continue;
		json_object_foreach(objs[i], key, x)
		{
			if (!manifest_name_valid(key))
				continue;
			v[k] = strdup(key);
			if (!v[k]) {
				manifest_names_free(v, k);
				return -ENOMEM;
			}
			k++;
		}
	}
	qsort(v, k, sizeof(*v), mf_cmp_str);
	for (i = 0, w = 0; i < k; i++) {
		if (w && !strcmp(v[w - 1], v[i])) {
			free(v[i]);
			continue;
		}
		v[w++] = v[i];
	}
	*names = v;
	*n = w;
	return 0;
}

void manifest_names_free(char **names, size_t n)
{
	size_t i;

	if (!names)
		return;
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * Whether the directory entry de of d is a regular file, following symlinks
 * (a linked bottle is a bottle; a directory is not). *link says whether
 * the entry itself is a symlink, whose target may change without the
 * directory changing.
 */
static bool entry_regular(DIR *d, const struct dirent *de, bool *link)
{
	struct stat st;

	*link = false;
	switch (de->d_type) {
	case DT_REG:
		return true;
	case DT_LNK:
		*link = true;
		break;
	case DT_UNKNOWN:
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return false;
		if (S_ISREG(st.st_mode))
			return true;
		if (!S_ISLNK(st.st_mode))
			return false;
		*link = true;
		break;
	default:
		return false;
	}
	return fstatat(dirfd(d), de->d_name, &st, 0) == 0 && S_ISREG(st.st_mode);
}

/*
 * Names of the .md bottles in dir as keys of a new object. links (may be
 * NULL) gets every valid name whose .md entry is a symlink, mapped to
 * whether it counted (its target was a regular file). all (may be NULL)
 * gets the file name of every entry NAME.md of a valid NAME, whatever its
 * type, and manifest.json when there is such an entry.
 */
int mf_list_md(const char *dir, json_t **out, json_t **links, json_t **all, struct buf *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	json_t *o, *l = NULL, *a = NULL;
	char stem[MANIFEST_MAX_NAME + 1], eb[128];
	int r = 0;

	if (!d) {
		r = -errno;
		mf_errf(err, "cannot list bottles directory '%s': %s", dir,
			strerror_r(errno, eb, sizeof(eb)));
		return r == -ENOENT || r == -ENOTDIR ? -ENOENT : -EIO;
	}
	o = json_object();
	if (links)
		l = json_object();
	if (all)
		a = json_object();
	if (!o || (links && !l) || (all && !a)) {
		r = -ENOMEM;
		goto out;
	}
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		bool regular, link;

		if (a && !strcmp(de->d_name, "manifest.json") &&
		    json_object_set_new(a, de->d_name, json_true()) < 0) {
			r = -ENOMEM;
			break;
		}
		if (len <= 3 || len - 3 > MANIFEST_MAX_NAME || strcmp(de->d_name + len - 3, ".md"))
			continue;
		memcpy(stem, de->d_name, len - 3);
		stem[len - 3] = '\0';
		if (!manifest_name_valid(stem))
			continue;
		if (a && json_object_set_new(a, de->d_name, json_true()) < 0) {
			r = -ENOMEM;
			break;
		}
		regular = entry_regular(d, de, &link);
		if (link && l && json_object_set_new(l, stem, json_boolean(regular)) < 0) {
			r = -ENOMEM;
			break;
		}
		if (regular && json_object_set_new(o, stem, json_true()) < 0) {
			r = -ENOMEM;
			break;
		}
	}
out:
	closedir(d);
	if (r < 0) {
		json_decref(o);
		json_decref(l);
		json_decref(a);
		return r;
	}
	*out = o;
	if (links)
		*links = l;
	if (all)
		*all = a;
	return 0;
}
