/* state: the persistent content cache of the forge cache (cache/; state.h). */
#include "state/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/str.h"

int state_cache_put(struct state *st, const char *key, const void *data, size_t len,
		    int64_t fetched_ms, const char *tag)
{
	sqlite3_stmt *s = NULL;
	int r, rc;

	if (!key || (!data && len))
		return -EINVAL;
	if (st->pg)
		return -ENOTSUP;
	sq_lock(st);
	r = sq_prepare(
	    st, "INSERT OR REPLACE INTO cache (key, data, fetched_ms, tag) VALUES (?1, ?2, ?3, ?4)",
	    &s);
	if (r == 0)
		r = sq_bind_text(st, s, 1, key);
	if (r == 0) {
		/* A NULL pointer would bind SQL NULL; an empty blob is a zeroblob. */
		rc = len ? sqlite3_bind_blob64(s, 2, data, len, SQLITE_STATIC)
			 : sqlite3_bind_zeroblob(s, 2, 0);
		if (rc != SQLITE_OK)
			r = sq_errno(st->db, rc);
	}
	if (r == 0)
		r = sq_bind_i64(st, s, 3, fetched_ms);
	if (r == 0)
		r = sq_bind_text(st, s, 4, tag);
	if (r == 0)
		r = sq_step_done(st, s);
	sqlite3_finalize(s);
	sq_unlock(st);
	return r;
}

int state_cache_get(struct state *st, const char *key, void **data, size_t *len,
		    int64_t *fetched_ms, char **tag)
{
	sqlite3_stmt *s = NULL;
	char *d = NULL, *t = NULL;
	size_t n = 0;
	int64_t ms = 0;
	int r, rc;

	if (!key)
		return -EINVAL;
	if (st->pg)
		return -ENOTSUP;
	sq_lock(st);
	r = sq_prepare(st, "SELECT data, fetched_ms, tag FROM cache WHERE key = ?1", &s);
	if (r == 0)
		r = sq_bind_text(st, s, 1, key);
	if (r < 0)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		r = -ENOENT;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = sq_errno(st->db, rc);
		goto out;
	}
	ms = sqlite3_column_int64(s, 1);
	if (data) {
		const void *p = sqlite3_column_blob(s, 0);

		n = (size_t)sqlite3_column_bytes(s, 0);
		d = malloc(n + 1);
		if (!d || (n && !p)) {
			r = -ENOMEM;
			goto out;
		}
		if (n)
			memcpy(d, p, n);
		d[n] = '\0';
	} else {
		n = (size_t)sqlite3_column_bytes(s, 0);
	}
	if (tag)
		r = sq_col_dup(s, 2, &t);
out:
	sqlite3_finalize(s);
	sq_unlock(st);
	if (r < 0) {
		free(d);
		free(t);
		return r;
	}
	if (data)
		*data = d;
	if (len)
		*len = n;
	if (fetched_ms)
		*fetched_ms = ms;
	if (tag)
		*tag = t;
	return 0;
}

int state_cache_delete_prefix(struct state *st, const char *prefix)
{
	sqlite3_stmt *s = NULL;
	char *upper = NULL;
	size_t n;
	int r, changes;

	if (!prefix)
		return -EINVAL;
	/*
	 * A range on the primary key instead of LIKE or substr(): keys compare
	 * with memcmp (BINARY collation), so [prefix, prefix with its last
	 * non-0xff byte incremented) is exactly the keys starting with prefix,
	 * and it uses the index.
	 */
	n = strlen(prefix);
	upper = str_dup(prefix);
	if (!upper)
		return -ENOMEM;
	while (n > 0 && (unsigned char)upper[n - 1] == 0xff)
		n--;
	upper[n] = '\0';
	if (n > 0)
		upper[n - 1] = (char)((unsigned char)upper[n - 1] + 1);
	if (st->pg)
		return -ENOTSUP; /* the content cache stays on each machine (SQLite) */
	sq_lock(st);
	r = sq_prepare(st,
		       n ? "DELETE FROM cache WHERE key >= ?1 AND key < ?2"
			 : "DELETE FROM cache WHERE key >= ?1",
		       &s);
	if (r == 0)
		r = sq_bind_text(st, s, 1, prefix);
	if (r == 0 && n)
		r = sq_bind_text(st, s, 2, upper);
	if (r == 0)
		r = sq_step_done(st, s);
	changes = r == 0 ? sqlite3_changes(st->db) : 0;
	sqlite3_finalize(s);
	sq_unlock(st);
	free(upper);
	return r < 0 ? r : changes;
}
