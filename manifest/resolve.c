/*
 * Multi-parent `extends` resolution (SPEC.md section 4), listing and
 * source text.
 *
 * Resolution is an iterative depth-first walk with an explicit stack, so
 * a 10 000-deep chain costs heap, not C stack. Every bottle resolved in one
 * call is memoized (a diamond's shared ancestor resolves once); a bottle on
 * the stack that is reached again is a cycle. A bottle's resolved form is
 * merge({}, parent1, ..., parentN, own): merging a resolved object into {}
 * gives it back unchanged, which is why resolved.json re-resolves to itself.
 */
#include "manifest/manifest.h"
#include "manifest/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Names listed in "Available bottles: ..." before "(and N more)". */
#define AVAILABLE_MAX 64
/* Longest cycle printed in full; longer ones are elided in the middle. */
#define CYCLE_PRINT_MAX 20

/*
 * Where bottles come from during one call: a directory, the same directory
 * through a cache call (manifest/cache.c: the same files, parsed once
 * while their stamps hold), or an in-memory set.
 */
struct src {
	const char *dir;	  /* NULL for an in-memory set */
	json_t *set;		  /* in-memory: borrowed, name -> raw bottle */
	struct mc_call *mc;	  /* cached: borrowed; dir is its directory */
	struct manifest_json *mj; /* new; NULL when absent or broken */
	json_t *mjv;		  /* name -> raw bottle taken from mj during this call (new) */
	json_t *mjnames;	  /* keys: the names mj defines, once asked for (new) */
	int mj_rc;		  /* < 0 when manifest.json exists but cannot be used */
	struct buf mj_msg;
	json_t *md; /* name -> raw bottle parsed from <name>.md during this call (new) */
	struct manifest_stats *st;
};

static int src_open_dir(struct src *s, const char *dir, struct manifest_stats *st)
{
	struct buf text = BUF_INIT(MANIFEST_MAX_FILE);
	int r;

	memset(s, 0, sizeof(*s));
	s->dir = dir;
	s->st = st;
	buf_init(&s->mj_msg, 4096);
	s->md = json_object();
	s->mjv = json_object();
	if (!s->md || !s->mjv)
		return -ENOMEM;
	r = mf_read_file(-1, dir, "manifest.json", &text, NULL, &s->mj_msg);
	if (r == -ENOENT) {
		r = 0;
		goto out;
	}
	if (st && r != -EIO)
		st->files_read++;
	if (r == 0) {
		size_t len;
		char *t = buf_steal(&text, &len);

		/* Parsed lazily: a bottle's value when it is asked for (mjson.c). */
		r = t ? mf_mj_take(t, len, &s->mj, &s->mj_msg) : -ENOMEM;
	}
	/* A broken manifest.json only hurts bottles that might be defined in it. */
	s->mj_rc = r;
	r = 0;
out:
	buf_release(&text);
	return r;
}

static int src_open_cached(struct src *s, struct mc_call *mc)
{
	memset(s, 0, sizeof(*s));
	s->dir = mc_call_dir(mc);
	s->mc = mc;
	buf_init(&s->mj_msg, 4096);
	s->md = json_object();
	s->mjv = json_object();
	if (!s->md || !s->mjv)
		return -ENOMEM;
	/* A broken manifest.json only hurts bottles that might be defined in it. */
	return mc_call_manifest(mc, &s->mj, &s->mj_rc, &s->mj_msg);
}

static void src_open_set(struct src *s, json_t *set, struct manifest_stats *st)
{
	memset(s, 0, sizeof(*s));
	s->set = set;
	s->st = st;
	buf_init(&s->mj_msg, 4096);
}

static void src_close(struct src *s)
{
	manifest_json_free(s->mj);
	json_decref(s->mjv);
	json_decref(s->mjnames);
	json_decref(s->md);
	buf_release(&s->mj_msg);
}

/* manifest.json's bottle name: 0 and *v (borrowed, NULL when not there), or -ENOMEM. */
static int src_mj(struct src *s, const char *name, json_t **v)
{
	json_t *x;
	int r;

	*v = NULL;
	if (!s->mj)
		return 0;
	x = json_object_get(s->mjv, name);
	if (!x) {
		r = manifest_json_get(s->mj, name, &x);
		if (r == -ENOENT)
			return 0;
		if (r < 0 || json_object_set_new(s->mjv, name, x) < 0)
			return -ENOMEM;
	}
	*v = x;
	return 0;
}

/* The names manifest.json defines, as keys (borrowed; NULL when none or out of memory). */
static json_t *src_mj_names(struct src *s)
{
	if (s->mj && !s->mjnames)
		s->mjnames = manifest_json_names(s->mj);
	return s->mjnames;
}

/*
 * Reads and parses NAME.md: returns what reading gave (0, -ENOENT, -EINVAL
 * or -EIO, the reason in err); when 0, *pr is what parsing gave (0 with
 * *raw, or -errno with the reason in err). *raw is new, or in cache mode
 * borrowed until the call ends (shared: it is only read).
 */
static int src_md(struct src *s, const char *name, json_t **raw, int *pr, struct buf *err)
{
	struct buf text = BUF_INIT(MANIFEST_MAX_FILE);
	struct buf file = BUF_INIT(MANIFEST_MAX_NAME + 8);
	int r;

	if (s->mc)
		return mc_call_md(s->mc, name, raw, pr, err);
	if (buf_printf(&file, "%s.md", name) < 0)
		return -ENOMEM;
	r = mf_read_file(-1, s->dir, buf_cstr(&file), &text, NULL, err);
	if (r == 0) {
		if (s->st)
			s->st->files_read++;
		*pr = manifest_parse_md(name, text.data ? text.data : "", text.len, raw, err);
	}
	buf_release(&text);
	buf_release(&file);
	return r;
}

/*
 * The raw bottle called name (borrowed, valid until src_close).
 * -ENOENT (no message) when not defined; -EINVAL / -EIO with err.
 */
static int src_get(struct src *s, const char *name, json_t **raw, struct buf *err)
{
	json_t *v = NULL, *j;
	int r, pr = 0;

	if (!manifest_name_valid(name))
		return -ENOENT;
	if (s->set) {
		v = json_object_get(s->set, name);
		if (!v)
			return -ENOENT;
		if (!json_is_object(v)) {
			mf_errf(err, "bottle '%s' must be a map (was %s)", name, mf_kind(v));
			return -EINVAL;
		}
		*raw = v;
		return 0;
	}
	/* (in cache mode the cache call remembers what it gave) */
	v = s->mc ? NULL : json_object_get(s->md, name);
	if (v) {
		*raw = v;
		return 0;
	}
	if (src_mj(s, name, &j) < 0)
		return -ENOMEM;
	v = NULL;
	r = src_md(s, name, &v, &pr, err);
	if (r == 0) {
		if (j) {
			if (!s->mc)
				json_decref(v);
			mf_errf(err,
				"bottle '%s' is defined twice: %s.md and manifest.json; remove one",
				name, name);
			return -EINVAL;
		}
		if (pr < 0)
			return pr;
		if (!s->mc && json_object_set_new(s->md, name, v) < 0)
			return -ENOMEM;
		*raw = v;
		return 0;
	}
	if (r == -EINVAL) {
		/* e.g. too big: name the bottle so a parent's problem is findable */
		struct buf m = BUF_INIT(4096);

		buf_note(&m, "bottle '%s': %s", name, err ? buf_cstr(err) : "");
		mf_errf(err, "%s", buf_cstr(&m));
		buf_release(&m);
		return r;
	}
	if (r != -ENOENT)
		return r;
	if (s->mj_rc < 0) {
		/* name may be defined in the manifest.json we could not use */
		mf_errf(err, "bottle '%s': %s", name, buf_cstr(&s->mj_msg));
		return s->mj_rc == -EIO ? -EIO : -EINVAL;
	}
	if (!j)
		return -ENOENT;
	if (!json_is_object(j)) {
		mf_errf(err, "bottle '%s' in manifest.json must be a map (was %s)", name,
			mf_kind(j));
		return -EINVAL;
	}
	*raw = j;
	return 0;
}

int manifest_list(const char *dir, char ***names, size_t *n, struct buf *err)
{
	struct src s;
	json_t *md = NULL;
	int r;

	r = mf_list_md(dir, &md, NULL, NULL, err);
	if (r < 0)
		return r;
	r = src_open_dir(&s, dir, NULL);
	if (r < 0)
		goto out;
	if (s.mj_rc < 0)
		mf_errf(err, "%s", buf_cstr(&s.mj_msg));
	r = mf_names_from(md, src_mj_names(&s), names, n);
	src_close(&s);
out:
	json_decref(md);
	return r;
}

void mf_put_names(struct buf *out, char **names, size_t n)
{
	size_t i;

	buf_note(out, " Available bottles: ");
	if (n == 0)
		buf_note(out, "(none)");
	for (i = 0; i < n && i < AVAILABLE_MAX; i++)
		buf_note(out, "%s%s", i ? ", " : "", names[i]);
	if (n > AVAILABLE_MAX)
		buf_note(out, " (and %zu more)", n - AVAILABLE_MAX);
}

/* "Available bottles: a, b, c" for an undefined-name message. */

static void put_available(struct src *s, struct buf *out)
{
	char **names = NULL;
	size_t n = 0;
	json_t *md = NULL;
	int r;

	if (s->mc) {
		mc_call_available(s->mc, out);
		return;
	}
	if (s->set)
		r = mf_names_from(s->set, NULL, &names, &n);
	else {
		r = mf_list_md(s->dir, &md, NULL, NULL, NULL);
		if (r == -ENOENT) {
			md = json_object();
			r = md ? 0 : -ENOMEM;
		}
		if (r == 0)
			r = mf_names_from(md, src_mj_names(s), &names, &n);
		json_decref(md);
	}
	if (r < 0) {
		buf_note(out, " Available bottles: (could not list them)");
		return;
	}
	mf_put_names(out, names, n);
	manifest_names_free(names, n);
}

/* ---- the walk ---- */

struct frame {
	const char *name; /* borrowed from the caller or from a raw bottle */
	json_t *raw;	  /* borrowed from the src */
	json_t *parents;  /* borrowed list of names (strings), or NULL */
	size_t next;	  /* next parent to visit */
};

struct walk {
	struct src *s;
	struct frame *st;
	size_t depth, cap;
	json_t *memo;	 /* name -> resolved (new) */
	json_t *onstack; /* name -> index in st */
	json_t *single;	 /* a one-string extends as a list (new), per frame; freed at end */
};

/* A resolved bottle of this walk, or one the cache call took whole (borrowed). */
static json_t *memo_get(struct walk *w, const char *name)
{
	json_t *v = json_object_get(w->memo, name);

	return v || !w->s->mc ? v : mc_call_taken(w->s->mc, name);
}

/* Checks extends, then pushes a frame for name. */
static int walk_push(struct walk *w, const char *name, json_t *raw, struct buf *err)
{
	json_t *ext = json_object_get(raw, "extends"), *x, *parents = NULL;
	size_t i;

	if (ext && !json_is_null(ext)) {
		if (json_is_string(ext)) {
			parents = json_array();
			/* a copy of the string: raw may be shared (cache mode) and is only read */
			if (!parents ||
			    json_array_append_new(
				parents, json_stringn_nocheck(json_string_value(ext),
							      json_string_length(ext))) < 0 ||
			    json_array_append_new(w->single, parents) < 0) {
				json_decref(parents);
				return -ENOMEM;
			}
		} else if (json_is_array(ext)) {
			parents = ext;
		} else {
			mf_errf(err,
				"bottle '%s' extends must be a string or list of strings (was %s)",
				name, mf_kind(ext));
			return -EINVAL;
		}
		json_array_foreach(parents, i, x)
		{
			if (!json_is_string(x)) {
				mf_errf(err, "bottle '%s' extends[%zu] must be a string (was %s)",
					name, i, mf_kind(x));
				return -EINVAL;
			}
		}
		json_array_foreach(parents, i, x)
		{
			if (!strcmp(json_string_value(x), name)) {
				mf_errf(err,
					"bottle '%s' extends itself; remove the self-reference",
					name);
				return -EINVAL;
			}
		}
	}
	if (w->depth == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct frame *n = realloc(w->st, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		w->st = n;
		w->cap = cap;
	}
	if (json_object_set_new(w->onstack, name, json_integer((json_int_t)w->depth)) < 0)
		return -ENOMEM;
	w->st[w->depth++] = (struct frame){name, raw, parents, 0};
	return 0;
}

static void cycle_error(struct walk *w, const char *p, size_t from, struct buf *err)
{
	struct buf m = BUF_INIT(8192);
	size_t n = w->depth - from, i;

	buf_note(&m, "bottle '%s' is in an extends cycle: ", p);
	for (i = from; i < w->depth; i++) {
		size_t k = i - from;

		if (n > CYCLE_PRINT_MAX && k == CYCLE_PRINT_MAX / 2) {
			buf_note(&m, "... (%zu more) -> ", n - CYCLE_PRINT_MAX + 1);
			i = w->depth - CYCLE_PRINT_MAX / 2;
		}
		buf_note(&m, "%s -> ", w->st[i].name);
	}
	buf_note(&m, "%s", p);
	mf_errf(err, "%s", buf_cstr(&m));
	buf_release(&m);
}

/* err gets the message of a bottle that is not defined, and the names that are. */
static void not_defined(struct walk *w, const char *child, const char *name, struct buf *err)
{
	struct buf m = BUF_INIT(16384);

	if (child)
		buf_note(&m, "bottle '%s' extends '%s' which is not defined.", child, name);
	else
		buf_note(&m, "bottle '%s' is not defined.", name);
	put_available(w->s, &m);
	mf_errf(err, "%s", buf_cstr(&m));
	buf_release(&m);
}

/*
 * The top frame's next parent: passed over when it is resolved already
 * (in this walk, or taken whole from the cache), else pushed. 0 or -errno
 * (-EINVAL for a cycle or a parent that is not defined).
 */
static int walk_descend(struct walk *w, struct frame *f, struct buf *err)
{
	const char *p = json_string_value(json_array_get(f->parents, f->next));
	json_t *raw = NULL, *x;
	int r;

	if (memo_get(w, p)) {
		f->next++;
		return 0;
	}
	x = json_object_get(w->onstack, p);
	if (x) {
		cycle_error(w, p, (size_t)json_integer_value(x), err);
		return -EINVAL;
	}
	/*
	 * A parent that resolved before (in another call) and whose files did
	 * not change since: its resolution cannot depend on this walk (a
	 * resolved bottle reaches no bottle that reaches it), so it is taken
	 * as it is, and none of its ancestors are read.
	 */
	if (w->s->mc && mc_call_shortcut(w->s->mc, p) == 1) {
		f->next++;
		return 0;
	}
	r = src_get(w->s, p, &raw, err);
	if (r == -ENOENT) {
		not_defined(w, f->name, p, err);
		return -EINVAL;
	}
	if (r < 0)
		return r;
	/* f may move when the stack grows; it is not used after this */
	return walk_push(w, p, raw, err);
}

/* Every parent of the top frame resolved: fold them left to right, the child on top, and pop. */
static int walk_fold(struct walk *w, struct frame *f, struct buf *err)
{
	json_t *acc = json_object(), *x;
	size_t i;
	int r = 0;

	if (!acc)
		return -ENOMEM;
	if (f->parents)
		json_array_foreach(f->parents, i, x)
		{
			r = mf_merge(acc, memo_get(w, json_string_value(x)), f->name, err);
			if (r < 0)
				goto fail;
		}
	r = mf_merge(acc, f->raw, f->name, err);
	if (r == 0 && w->s->mc)
		r = mc_call_done(w->s->mc, f->name, acc, f->parents, w->depth == 1);
	if (r < 0)
		goto fail;
	if (w->s->st)
		w->s->st->resolved++;
	json_object_del(w->onstack, f->name);
	if (json_object_set_new(w->memo, f->name, acc) < 0)
		return -ENOMEM;
	w->depth--;
	return 0;
fail:
	json_decref(acc);
	return r;
}

static int walk_run(struct walk *w, const char *root, json_t **resolved, struct buf *err)
{
	json_t *raw = NULL;
	int r;

	r = src_get(w->s, root, &raw, err);
	if (r == -ENOENT)
		not_defined(w, NULL, root, err);
	if (r == 0)
		r = walk_push(w, root, raw, err);
	while (r == 0 && w->depth) {
		struct frame *f = &w->st[w->depth - 1];

		r = f->parents && f->next < json_array_size(f->parents) ? walk_descend(w, f, err)
									: walk_fold(w, f, err);
	}
	if (r < 0)
		return r;
	*resolved = json_incref(json_object_get(w->memo, root));
	return 0;
}

static int resolve_src(struct src *s, const char *name, json_t **resolved, struct buf *err)
{
	struct walk w = {.s = s};
	int r = -ENOMEM;

	w.memo = json_object();
	w.onstack = json_object();
	w.single = json_array();
	if (w.memo && w.onstack && w.single)
		r = walk_run(&w, name, resolved, err);
	if (r == -ENOMEM)
		mf_errf(err, "bottle '%s': out of memory", name);
	free(w.st);
	json_decref(w.memo);
	json_decref(w.onstack);
	json_decref(w.single);
	return r;
}

static int dump_cb(const char *p, size_t n, void *data)
{
	return buf_append(data, p, n) < 0 ? -1 : 0;
}

int manifest_dump(const json_t *obj, char **text, size_t *len)
{
	struct buf b = BUF_INIT(BUF_MAX_DEFAULT);

	if (json_dump_callback(obj, dump_cb, &b,
			       JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)) <
		0 ||
	    buf_putc(&b, '\n') < 0) {
		buf_release(&b);
		return -E2BIG;
	}
	*text = buf_steal(&b, len);
	return *text ? 0 : -ENOMEM;
}

int manifest_resolve_set(json_t *bottles, const char *name, json_t **resolved,
			 struct manifest_stats *stats, struct buf *err)
{
	struct src s;
	int r;

	src_open_set(&s, bottles, stats);
	r = resolve_src(&s, name, resolved, err);
	src_close(&s);
	return r;
}

int manifest_resolve_ex(const char *dir, const char *name, char **json,
			struct manifest_stats *stats, struct buf *err)
{
	struct src s;
	json_t *res = NULL;
	int r;

	r = src_open_dir(&s, dir, stats);
	if (r < 0) {
		mf_errf(err, "bottle '%s': out of memory", name);
		src_close(&s);
		return r;
	}
	r = resolve_src(&s, name, &res, err);
	if (r == 0) {
		r = manifest_dump(res, json, NULL);
		if (r < 0)
			mf_errf(err, "bottle '%s': resolved form is too large", name);
	}
	json_decref(res);
	src_close(&s);
	return r;
}

int manifest_resolve(const char *dir, const char *name, char **json, struct buf *err)
{
	return manifest_resolve_ex(dir, name, json, NULL, err);
}

/* The manifest text name came from (see manifest_source), from an open source. */
static int source_src(struct src *s, const char *name, char **text, size_t *len, struct buf *err)
{
	struct buf file = BUF_INIT(MANIFEST_MAX_NAME + 8);
	struct buf t = BUF_INIT(MANIFEST_MAX_FILE);
	json_t *j;
	int r;

	/* The text is shown even when it does not parse: that is when it is needed most. */
	r = buf_printf(&file, "%s.md", name);
	if (r < 0)
		goto out;
	r = mf_read_file(s->mc ? mc_call_dirfd(s->mc) : -1, s->dir, buf_cstr(&file), &t, NULL, err);
	if (r == 0) {
		if (src_mj(s, name, &j) < 0) {
			r = -ENOMEM;
			goto out;
		}
		if (j) {
			mf_errf(err,
				"bottle '%s' is defined twice: %s.md and manifest.json; remove one",
				name, name);
			r = -EINVAL;
			goto out;
		}
		*text = buf_steal(&t, len);
		r = *text ? 0 : -ENOMEM;
		goto out;
	}
	if (r != -ENOENT)
		goto out;
	if (src_mj(s, name, &j) < 0) {
		r = -ENOMEM;
		goto out;
	}
	if (!j && s->mj_rc < 0) {
		mf_errf(err, "bottle '%s': %s", name, buf_cstr(&s->mj_msg));
		r = s->mj_rc == -EIO ? -EIO : -EINVAL;
		goto out;
	}
	if (!j) {
		mf_errf(err, "bottle '%s' is not defined", name);
		r = -ENOENT;
		goto out;
	}
	r = manifest_dump(j, text, len);
out:
	buf_release(&file);
	buf_release(&t);
	return r;
}

int manifest_source(const char *dir, const char *name, char **text, size_t *len, struct buf *err)
{
	struct src s;
	int r;

	if (!manifest_name_valid(name)) {
		mf_errf(err, "bottle '%s' is not defined", name);
		return -ENOENT;
	}
	r = src_open_dir(&s, dir, NULL);
	if (r == 0)
		r = source_src(&s, name, text, len, err);
	src_close(&s);
	return r;
}

int mf_source_cached(struct mc_call *k, const char *name, char **text, size_t *len, struct buf *err)
{
	struct src s;
	int r;

	if (!manifest_name_valid(name)) {
		mf_errf(err, "bottle '%s' is not defined", name);
		return -ENOENT;
	}
	r = src_open_cached(&s, k);
	if (r == 0)
		r = source_src(&s, name, text, len, err);
	src_close(&s);
	return r;
}

int mf_resolve_cached(struct mc_call *k, const char *name, json_t **resolved, struct buf *err)
{
	struct src s;
	int r;

	r = src_open_cached(&s, k);
	if (r < 0)
		mf_errf(err, "bottle '%s': out of memory", name);
	else
		r = resolve_src(&s, name, resolved, err);
	src_close(&s);
	return r;
}
