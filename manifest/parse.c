/*
 * Parsing of bottle manifests: <name>.md front matter (libyaml events,
 * built into jansson values with an explicit stack) and manifest.json.
 * See manifest.h for the scalar rules.
 */
#include "manifest/manifest.h"
#include "manifest/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "util/names.h"
#include "util/str.h"

void mf_errf(struct buf *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	buf_reset(err);
	va_start(ap, fmt);
	/* A message is best effort (buf_note): one that does not fit is left out. */
	(void)!buf_vprintf(err, fmt, ap);
	va_end(ap);
}

const char *mf_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "map";
	case JSON_ARRAY:
		return "list";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "int";
	case JSON_REAL:
		return "float";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	case JSON_NULL:
		break;
	}
	return "null";
}

int manifest_name_valid(const char *name)
{
	return name && names_valid_bottle(name, strlen(name));
}

void mf_stamp_of(const struct stat *st, struct mf_stamp *out)
{
	*out = (struct mf_stamp){
	    .dev = (uint64_t)st->st_dev,
	    .ino = (uint64_t)st->st_ino,
	    .size = (int64_t)st->st_size,
	    .mt_s = (int64_t)st->st_mtim.tv_sec,
	    .ct_s = (int64_t)st->st_ctim.tv_sec,
	    .mt_ns = (int32_t)st->st_mtim.tv_nsec,
	    .ct_ns = (int32_t)st->st_ctim.tv_nsec,
	    .mode = (uint32_t)st->st_mode,
	    .err = 0,
	};
}

int mf_stat(int dfd, const char *dir, const char *file, struct mf_stamp *out)
{
	struct buf path = BUF_INIT(8192);
	struct stat st;
	int r = 0;

	if (dfd >= 0)
		r = fstatat(dfd, file, &st, 0);
	else if ((r = buf_printf(&path, "%s/%s", dir, file)) == 0)
		r = stat(buf_cstr(&path), &st);
	else
		goto out;
	if (r == 0) {
		mf_stamp_of(&st, out);
	} else if (errno == ENOENT) {
		*out = (struct mf_stamp){.err = -ENOENT};
		r = 0;
	} else {
		r = -errno;
	}
out:
	buf_release(&path);
	return r;
}

bool mf_stamp_equal(const struct mf_stamp *a, const struct mf_stamp *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mt_s == b->mt_s && a->mt_ns == b->mt_ns && a->ct_s == b->ct_s &&
	       a->ct_ns == b->ct_ns && a->mode == b->mode;
}

int mf_read_file(int dfd, const char *dir, const char *file, struct buf *out,
		 struct mf_stamp *stamp, struct buf *err)
{
	struct buf path = BUF_INIT(8192);
	struct stat st;
	char chunk[65536], eb[128]; /* strerror_r (GNU): strerror is not thread-safe */
	int fd = -1, r;

	if (dfd < 0 && buf_printf(&path, "%s/%s", dir, file) < 0) {
		mf_errf(err, "cannot read '%s': path too long", file);
		r = -EIO;
		goto out;
	}
	/* O_NONBLOCK: a FIFO named x.md must not hang the daemon in open(). */
	if (dfd >= 0)
		fd = openat(dfd, file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	else
		fd = open(buf_cstr(&path), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		if (r != -ENOENT) {
			mf_errf(err, "cannot read '%s': %s", file,
				strerror_r(errno, eb, sizeof(eb)));
			r = -EIO;
		}
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		mf_errf(err, "cannot read '%s': %s", file, strerror_r(errno, eb, sizeof(eb)));
		r = -EIO;
		goto out;
	}
	if (stamp)
		mf_stamp_of(&st, stamp);
	if (!S_ISREG(st.st_mode)) {
		mf_errf(err, "'%s' is not a regular file", file);
		r = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > MANIFEST_MAX_FILE)
		goto toobig;
	buf_release(out);
	buf_init(out, MANIFEST_MAX_FILE);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			mf_errf(err, "cannot read '%s': %s", file,
				strerror_r(errno, eb, sizeof(eb)));
			r = -EIO;
			goto out;
		}
		if (n == 0)
			break;
		r = buf_append(out, chunk, (size_t)n);
		if (r == -E2BIG) /* the file grew after fstat */
			goto toobig;
		if (r < 0) {
			mf_errf(err, "cannot read '%s': out of memory", file);
			goto out;
		}
	}
	r = 0;
	goto out;
toobig:
	mf_errf(err, "'%s' is larger than %zu MiB; split it or trim it", file,
		MANIFEST_MAX_FILE >> 20);
	r = -EINVAL;
out:
	if (fd >= 0)
		close(fd);
	buf_release(&path);
	return r;
}

static int is_one_of(const char *s, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && memcmp(s, *words, n) == 0)
			return 1;
	return 0;
}

/*
 * Length of the JSON number at s[0..n) when all of it is one (0 otherwise);
 * *is_int says whether it has neither fraction nor exponent.
 */
static int json_number_syntax(const char *s, size_t n, int *is_int)
{
	size_t i = 0;

	*is_int = 1;
	if (i < n && s[i] == '-')
		i++;
	if (i >= n || s[i] < '0' || s[i] > '9')
		return 0;
	if (s[i] == '0')
		i++;
	else
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	if (i < n && s[i] == '.') {
		*is_int = 0;
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		*is_int = 0;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == n;
}

/* A plain scalar that is a JSON number becomes that number, so YAML and JSON agree. */
static json_t *plain_number(const char *s, size_t n)
{
	int is_int, neg = s[0] == '-';
	uint64_t u;

	if (!json_number_syntax(s, n, &is_int))
		return NULL;
	if (is_int) {
		if (strn_to_u64(s + neg, n - (size_t)neg, (uint64_t)INT64_MAX + (uint64_t)neg, true,
				&u) < 0)
			return NULL; /* out of int64 range: stays a string */
		if (!neg)
			return json_integer((json_int_t)u);
		if (u == (uint64_t)INT64_MAX + 1)
			return json_integer(INT64_MIN);
		return json_integer(-(json_int_t)u);
	} else {
		/* libyaml NUL-terminates scalar values, so strtod stops at n. */
		char *end;
		double d = strtod(s, &end);

		if (end != s + n || !isfinite(d))
			return NULL;
		return json_real(d);
	}
}

static json_t *yaml_scalar_value(const yaml_event_t *ev)
{
	static const char *const nulls[] = {"~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	json_t *v;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || (tag && !strcmp(tag, YAML_STR_TAG)))
		return json_stringn(s, n);
	if (n == 0 || is_one_of(s, n, nulls))
		return json_null();
	if (is_one_of(s, n, trues))
		return json_true();
	if (is_one_of(s, n, falses))
		return json_false();
	v = plain_number(s, n);
	return v ? v : json_stringn(s, n);
}

struct yframe {
	json_t *c; /* borrowed: owned by its parent (or by root) */
	char *key; /* pending mapping key (new) or NULL */
};

struct ybuild {
	struct yframe st[MANIFEST_MAX_NEST + 1];
	size_t depth;
	json_t *root; /* new */
	int have_root;
};

/* Adds v (stolen) where the YAML stream puts it. */
static int yb_add(struct ybuild *b, json_t *v, const char *name, size_t line, struct buf *err)
{
	struct yframe *f;
	int r;

	if (!v) {
		mf_errf(err, "bottle '%s': out of memory at line %zu", name, line);
		return -ENOMEM;
	}
	if (b->depth == 0) {
		json_decref(b->root);
		b->root = v;
		b->have_root = 1;
		return 0;
	}
	f = &b->st[b->depth - 1];
	if (json_is_array(f->c))
		return json_array_append_new(f->c, v) < 0 ? -ENOMEM : 0;
	if (!f->key) {
		/* Only a scalar can be a key; containers come here from mapping/sequence start. */
		json_decref(v);
		mf_errf(err, "bottle '%s': mapping keys must be plain strings (line %zu)", name,
			line);
		return -EINVAL;
	}
	r = json_object_set_new(f->c, f->key, v);
	free(f->key);
	f->key = NULL;
	return r < 0 ? -ENOMEM : 0;
}

static void yb_release(struct ybuild *b)
{
	size_t i;

	for (i = 0; i < b->depth; i++)
		free(b->st[i].key);
	json_decref(b->root);
	b->root = NULL;
	b->depth = 0;
}

/* One scalar event: a key when the top is a mapping waiting for one, else a value. */
static int yb_scalar(struct ybuild *b, const yaml_event_t *ev, const char *name, size_t line,
		     struct buf *err)
{
	struct yframe *f = b->depth ? &b->st[b->depth - 1] : NULL;
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;

	/* jansson keys and our output cannot carry NUL; refuse it everywhere. */
	if (memchr(s, '\0', n)) {
		mf_errf(err, "bottle '%s': NUL character in a string at line %zu", name, line);
		return -EINVAL;
	}
	if (f && json_is_object(f->c) && !f->key) {
		if (json_object_get(f->c, s)) {
			mf_errf(err, "bottle '%s': duplicate key '%s' at line %zu", name, s, line);
			return -EINVAL;
		}
		f->key = strndup(s, n);
		if (!f->key)
			return -ENOMEM;
		return 0;
	}
	return yb_add(b, yaml_scalar_value(ev), name, line, err);
}

static int yb_open(struct ybuild *b, json_t *c, const char *name, size_t line, struct buf *err)
{
	int r;

	if (!c)
		return -ENOMEM;
	if (b->depth >= MANIFEST_MAX_NEST) {
		json_decref(c);
		mf_errf(err, "bottle '%s': values nest deeper than %d levels at line %zu", name,
			MANIFEST_MAX_NEST, line);
		return -EINVAL;
	}
	r = yb_add(b, json_incref(c), name, line, err);
	if (r < 0) {
		json_decref(c);
		return r;
	}
	/* The parent (or root) holds the reference now; the stack borrows it. */
	json_decref(c);
	b->st[b->depth].c = c;
	b->st[b->depth].key = NULL;
	b->depth++;
	return 0;
}

/* Parses YAML text (the front matter) into a value; *out is new, NULL for an empty stream. */
static int yaml_to_json(const char *name, const char *text, size_t len, json_t **out,
			struct buf *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ybuild b = {.depth = 0, .root = NULL, .have_root = 0};
	int r = 0, docs = 0, done = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done) {
		size_t line;

		if (!yaml_parser_parse(&parser, &ev)) {
			/* +2: the front matter starts on the file's second line. */
			mf_errf(err,
				"bottle '%s': front matter is not valid YAML: %s%s%s at line %zu, "
				"column %zu",
				name, parser.problem ? parser.problem : "syntax error",
				parser.context ? " " : "", parser.context ? parser.context : "",
				(size_t)parser.problem_mark.line + 2,
				(size_t)parser.problem_mark.column + 1);
			r = -EINVAL;
			goto out;
		}
		line = (size_t)ev.start_mark.line + 2;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				mf_errf(err,
					"bottle '%s': front matter must be one YAML document "
					"(second one at line %zu)",
					name, line);
				r = -EINVAL;
			}
			break;
		case YAML_ALIAS_EVENT:
			mf_errf(err, "bottle '%s': YAML aliases (*%s) are not supported (line %zu)",
				name, (const char *)ev.data.alias.anchor, line);
			r = -EINVAL;
			break;
		case YAML_SCALAR_EVENT:
			r = yb_scalar(&b, &ev, name, line, err);
			break;
		case YAML_MAPPING_START_EVENT:
			r = yb_open(&b, json_object(), name, line, err);
			break;
		case YAML_SEQUENCE_START_EVENT:
			r = yb_open(&b, json_array(), name, line, err);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (b.depth)
				b.depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (r < 0)
			goto out;
	}
	*out = b.root;
	b.root = NULL;
out:
	yb_release(&b);
	yaml_parser_delete(&parser);
	return r;
}

/* Length of the line at s (without its "\n" or "\r\n") and where the next one starts. */
static size_t line_len(const char *s, size_t n, size_t *next)
{
	const char *nl = memchr(s, '\n', n);
	size_t l = nl ? (size_t)(nl - s) : n;

	*next = nl ? l + 1 : n;
	if (l && s[l - 1] == '\r')
		l--;
	return l;
}

/* A "---" line, trailing blanks allowed. */
static int is_fence(const char *s, size_t l)
{
	if (l < 3 || memcmp(s, "---", 3))
		return 0;
	for (size_t i = 3; i < l; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

int manifest_parse_md(const char *name, const char *text, size_t len, json_t **bottle,
		      struct buf *err)
{
	size_t pos = 0, next, l, fm_start, fm_end = 0;
	int closed = 0, r;
	json_t *v = NULL;

	if (len > MANIFEST_MAX_FILE) {
		mf_errf(err, "bottle '%s': '%s.md' is larger than %zu MiB", name, name,
			MANIFEST_MAX_FILE >> 20);
		return -EINVAL;
	}
	if (!str_utf8_valid(text, len)) {
		mf_errf(err, "bottle '%s': '%s.md' is not valid UTF-8", name, name);
		return -EINVAL;
	}
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		pos = 3; /* a UTF-8 byte order mark some editors add */
	l = line_len(text + pos, len - pos, &next);
	if (!is_fence(text + pos, l)) {
		mf_errf(err,
			"bottle '%s': '%s.md' has no front matter (its first line must be ---)",
			name, name);
		return -EINVAL;
	}
	pos += next;
	fm_start = pos;
	while (pos < len) {
		l = line_len(text + pos, len - pos, &next);
		if (is_fence(text + pos, l)) {
			fm_end = pos;
			closed = 1;
			break;
		}
		pos += next;
	}
	if (!closed) {
		mf_errf(err, "bottle '%s': front matter of '%s.md' is not closed by a --- line",
			name, name);
		return -EINVAL;
	}
	r = yaml_to_json(name, text + fm_start, fm_end - fm_start, &v, err);
	if (r < 0)
		return r;
	if (!v || json_is_null(v)) {
		json_decref(v);
		v = json_object();
		if (!v)
			return -ENOMEM;
	}
	if (!json_is_object(v)) {
		mf_errf(err, "bottle '%s': front matter must be a YAML mapping (was %s)", name,
			mf_kind(v));
		json_decref(v);
		return -EINVAL;
	}
	*bottle = v;
	return 0;
}

/*
 * Nesting depth of v, giving up past limit. jansson already caps parsing at
 * JSON_PARSER_MAX_DEPTH, so this recursion is bounded.
 */
static size_t json_depth(const json_t *v, size_t limit)
{
	size_t d = 0, i;
	const char *k;
	json_t *c;

	if (limit == 0)
		return 1;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, c)
		{
			size_t cd = json_depth(c, limit - 1);
			if (cd > d)
				d = cd;
		}
		return d + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, c)
		{
			size_t cd = json_depth(c, limit - 1);
			if (cd > d)
				d = cd;
		}
		return d + 1;
	}
	return 0;
}

int manifest_parse_json(const char *text, size_t len, json_t **bottles, struct buf *err)
{
	json_error_t je;
	json_t *root, *b, *out = NULL, *v;
	const char *k;

	if (len > MANIFEST_MAX_FILE) {
		mf_errf(err, "'manifest.json' is larger than %zu MiB", MANIFEST_MAX_FILE >> 20);
		return -EINVAL;
	}
	if (!str_utf8_valid(text, len)) {
		mf_errf(err, "'manifest.json' is not valid UTF-8");
		return -EINVAL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		mf_errf(err, "'manifest.json' is not valid JSON: %s at line %d, column %d", je.text,
			je.line, je.column);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		mf_errf(err, "'manifest.json' must be an object {\"bottles\": {...}} (was %s)",
			mf_kind(root));
		goto fail;
	}
	b = json_object_get(root, "bottles");
	if (b && !json_is_object(b)) {
		mf_errf(err, "'manifest.json' \"bottles\" must be an object (was %s)", mf_kind(b));
		goto fail;
	}
	/* bottles is level 1; a bottle's keys are relative to the bottle, like front matter. */
	if (b && json_depth(b, MANIFEST_MAX_NEST + 2) > MANIFEST_MAX_NEST + 1) {
		mf_errf(err, "'manifest.json' values nest deeper than %d levels",
			MANIFEST_MAX_NEST);
		goto fail;
	}
	out = json_object();
	if (!out)
		goto fail;
	if (b)
		json_object_foreach(b, k, v)
		{
			if (!manifest_name_valid(k))
				continue; /* not a bottle name: never a bottle */
			if (json_object_set(out, k, v) < 0)
				goto fail;
		}
	json_decref(root);
	*bottles = out;
	return 0;
fail:
	json_decref(out);
	json_decref(root);
	return -EINVAL;
}
