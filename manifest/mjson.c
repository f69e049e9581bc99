/*
 * manifest.json read lazily (manifest.h, "struct manifest_json").
 *
 * Resolving one bottle used to parse all of manifest.json with jansson
 * (7 ms for 1 000 bottles, 331 KiB). A strict scanner checks the whole
 * text instead, without building anything, and notes where each bottle's
 * value is; a bottle is parsed (by jansson, from its own bytes) when it is
 * asked for. The scanner only says "sure" for text that jansson accepts
 * with JSON_REJECT_DUPLICATES and that manifest_parse_json accepts: an
 * object whose "bottles" (when present) is an object nesting no deeper
 * than allowed. Anything it is not sure about (escaped keys, surrogate or
 * NUL escapes, numbers out of range, deep nesting, any syntax error) goes
 * to manifest_parse_json, which gives the same values or the same error
 * as before. tests/fuzz/fuzz_manifest.c holds the two to agreeing.
 */
#include "manifest/manifest.h"
#include "manifest/internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

/* Nesting the scanner follows (root 1, bottles 2); deeper is for manifest_parse_json. */
#define SCAN_MAX_DEPTH (MANIFEST_MAX_NEST + 2)

struct mjent {
	const char *key; /* into text; no escapes, so these are the key's bytes */
	size_t klen;
	size_t off, len; /* the value's bytes */
};

struct manifest_json {
	int refs;   /* atomic */
	char *text; /* owned */
	size_t len;
	struct mjent *ents; /* valid bottle names, sorted; NULL with all */
	size_t n;
	json_t *all; /* the scanner was not sure: manifest_parse_json's "bottles" */
};

/* ---- the scanner: 0 sure so far, 1 not sure, -ENOMEM ---- */

struct skey {
	const char *s;
	size_t n;
};

struct scan {
	const char *p, *end, *base;
	struct skey *keys; /* keys of the objects open now, for duplicates */
	size_t nkeys, capkeys;
	struct mjent *ents;
	size_t n, cap;
};

enum role { R_ROOT, R_BOTTLES, R_OTHER };

static int scan_value(struct scan *s, int depth);

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* At '"'. Keys with escapes are not for the scanner (jansson compares them decoded). */
static int scan_string(struct scan *s, bool key, const char **start, size_t *len)
{
	s->p++;
	*start = s->p;
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p;

		if (c == '"') {
			*len = (size_t)(s->p - *start);
			s->p++;
			return 0;
		}
		if (c < 0x20)
			return 1;
		if (c != '\\') {
			s->p++; /* UTF-8 was checked for the whole text */
			continue;
		}
		if (key || ++s->p >= s->end)
			return 1;
		switch (*s->p) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			s->p++;
			break;
		case 'u': {
			unsigned cp = 0;

			if (s->end - s->p < 5)
				return 1;
			for (int i = 1; i <= 4; i++) {
				int h = hexval(s->p[i]);

				if (h < 0)
					return 1;
				cp = cp * 16 + (unsigned)h;
			}
			/* \u0000 and surrogate pairs: jansson's own rules decide */
			if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff))
				return 1;
			s->p += 5;
			break;
		}
		default:
			return 1;
		}
	}
	return 1;
}

static bool isdig(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

/* jansson's number grammar; integers must fit int64, reals must not overflow. */
static int scan_number(struct scan *s)
{
	const char *start = s->p, *digits;
	bool real = false, neg = false;
	char tok[80];
	size_t n;

	if (*s->p == '-') {
		neg = true;
		s->p++;
	}
	digits = s->p;
	if (!isdig(s->p, s->end))
		return 1;
	if (*s->p == '0') {
		s->p++;
		if (isdig(s->p, s->end))
			return 1;
	} else {
		while (isdig(s->p, s->end))
			s->p++;
	}
	if (s->p < s->end && *s->p == '.') {
		real = true;
		s->p++;
		if (!isdig(s->p, s->end))
			return 1;
		while (isdig(s->p, s->end))
			s->p++;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		real = true;
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!isdig(s->p, s->end))
			return 1;
		while (isdig(s->p, s->end))
			s->p++;
	}
	n = (size_t)(s->p - start);
	if (!real) {
		const char *lim = neg ? "9223372036854775808" : "9223372036854775807";
		size_t nd = (size_t)(s->p - digits);

		/* no leading zeros, so longer means larger */
		return nd > 19 || (nd == 19 && memcmp(digits, lim, 19) > 0);
	}
	if (n >= sizeof(tok))
		return 1;
	memcpy(tok, start, n);
	tok[n] = '\0';
	return !isfinite(strtod(tok, NULL));
}

static int scan_literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n))
		return 1;
	s->p += n;
	/* jansson reads a run of letters as one token */
	if (s->p < s->end && ((*s->p >= 'a' && *s->p <= 'z') || (*s->p >= 'A' && *s->p <= 'Z')))
		return 1;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct skey *x = a, *y = b;
	int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);

	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* Whether keys[from..] hold the same key twice (jansson would refuse it). */
static int dup_keys(struct scan *s, size_t from)
{
	size_t k = s->nkeys - from, i, j;
	struct skey *v = s->keys + from;

	if (k <= 8) {
		for (i = 0; i < k; i++)
			for (j = i + 1; j < k; j++)
				if (!key_cmp(&v[i], &v[j]))
					return 1;
		return 0;
	}
	qsort(v, k, sizeof(*v), key_cmp);
	for (i = 1; i < k; i++)
		if (!key_cmp(&v[i - 1], &v[i]))
			return 1;
	return 0;
}

static int push_key(struct scan *s, const char *k, size_t n)
{
	if (s->nkeys == s->capkeys) {
		size_t cap = s->capkeys ? s->capkeys * 2 : 64;
		struct skey *v = realloc(s->keys, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->keys = v;
		s->capkeys = cap;
	}
	s->keys[s->nkeys++] = (struct skey){k, n};
	return 0;
}

static int add_ent(struct scan *s, const char *k, size_t kn, const char *v, size_t vn)
{
	char name[MANIFEST_MAX_NAME + 1];

	if (kn > MANIFEST_MAX_NAME)
		return 0; /* not a bottle name: never a bottle */
	memcpy(name, k, kn);
	name[kn] = '\0';
	if (strlen(name) != kn || !manifest_name_valid(name))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct mjent *e = realloc(s->ents, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		s->ents = e;
		s->cap = cap;
	}
	s->ents[s->n++] = (struct mjent){k, kn, (size_t)(v - s->base), vn};
	return 0;
}

/* At '{' of an object at depth. */
static int scan_object(struct scan *s, int depth, enum role role)
{
	size_t from = s->nkeys;
	int r;

	if (depth > SCAN_MAX_DEPTH)
		return 1;
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return 0;
	}
	for (;;) {
		const char *k, *v;
		size_t kn;

		ws(s);
		if (s->p >= s->end || *s->p != '"')
			return 1;
		r = scan_string(s, true, &k, &kn);
		if (r == 0)
			r = push_key(s, k, kn);
		if (r)
			return r;
		ws(s);
		if (s->p >= s->end || *s->p != ':')
			return 1;
		s->p++;
		ws(s);
		v = s->p;
		if (role == R_ROOT && kn == 7 && !memcmp(k, "bottles", 7)) {
			/* not an object: manifest_parse_json says so */
			if (s->p >= s->end || *s->p != '{')
				return 1;
			r = scan_object(s, depth + 1, R_BOTTLES);
		} else {
			r = scan_value(s, depth);
		}
		if (r == 0 && role == R_BOTTLES)
			r = add_ent(s, k, kn, v, (size_t)(s->p - v));
		if (r)
			return r;
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == '}') {
			s->p++;
			break;
		}
		return 1;
	}
	r = dup_keys(s, from);
	s->nkeys = from;
	return r;
}

static int scan_array(struct scan *s, int depth)
{
	int r;

	if (depth > SCAN_MAX_DEPTH)
		return 1;
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return 0;
	}
	for (;;) {
		ws(s);
		r = scan_value(s, depth);
		if (r)
			return r;
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == ']') {
			s->p++;
			return 0;
		}
		return 1;
	}
}

/* A value inside a container at depth. */
static int scan_value(struct scan *s, int depth)
{
	const char *a;
	size_t n;

	if (s->p >= s->end)
		return 1;
	switch (*s->p) {
	case '{':
		return scan_object(s, depth + 1, R_OTHER);
	case '[':
		return scan_array(s, depth + 1);
	case '"':
		return scan_string(s, false, &a, &n);
	case 't':
		return scan_literal(s, "true");
	case 'f':
		return scan_literal(s, "false");
	case 'n':
		return scan_literal(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s);
		return 1;
	}
}

static int ent_cmp(const void *a, const void *b)
{
	const struct mjent *x = a, *y = b;
	int c = memcmp(x->key, y->key, x->klen < y->klen ? x->klen : y->klen);

	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* 0 (sure: mj->ents set), 1 (not sure), -ENOMEM. */
static int scan_all(struct manifest_json *mj)
{
	struct scan s = {.p = mj->text, .end = mj->text + mj->len, .base = mj->text};
	int r;

	ws(&s);
	if (s.p >= s.end || *s.p != '{') {
		r = 1;
		goto out;
	}
	r = scan_object(&s, 1, R_ROOT);
	if (r)
		goto out;
	ws(&s);
	if (s.p != s.end) {
		r = 1;
		goto out;
	}
	if (s.n)
		qsort(s.ents, s.n, sizeof(*s.ents), ent_cmp);
	mj->ents = s.ents;
	mj->n = s.n;
	s.ents = NULL;
out:
	free(s.keys);
	free(s.ents);
	return r;
}

/* ---- the object ---- */

int mf_mj_take(char *text, size_t len, struct manifest_json **out, struct buf *err)
{
	struct manifest_json *mj = calloc(1, sizeof(*mj));
	int r;

	if (!mj) {
		free(text);
		return -ENOMEM;
	}
	mj->refs = 1;
	mj->text = text;
	mj->len = len;
	if (len > MANIFEST_MAX_FILE || !str_utf8_valid(text, len)) {
		r = 1; /* manifest_parse_json says what is wrong */
	} else {
		r = scan_all(mj);
		if (r < 0) {
			manifest_json_free(mj);
			return r;
		}
	}
	if (r == 1) {
		r = manifest_parse_json(text, len, &mj->all, err);
		free(mj->text);
		mj->text = NULL;
		mj->len = 0;
		if (r < 0) {
			manifest_json_free(mj);
			return r;
		}
	}
	*out = mj;
	return 0;
}

int manifest_json_parse(const char *text, size_t len, struct manifest_json **out, struct buf *err)
{
	char *copy = malloc(len + 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	return mf_mj_take(copy, len, out, err);
}

void manifest_json_free(struct manifest_json *mj)
{
	if (!mj || __atomic_sub_fetch(&mj->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(mj->text);
	free(mj->ents);
	json_decref(mj->all);
	free(mj);
}

struct manifest_json *mf_mj_ref(struct manifest_json *mj)
{
	if (mj)
		__atomic_fetch_add(&mj->refs, 1, __ATOMIC_RELAXED);
	return mj;
}

bool manifest_json_lazy(const struct manifest_json *mj)
{
	return !mj->all;
}

int manifest_json_get(const struct manifest_json *mj, const char *name, json_t **out)
{
	struct mjent key = {name, strlen(name), 0, 0}, *e;
	json_t *v;

	if (mj->all) {
		/* a copy: values are not shared between threads by reference (cache.c) */
		v = json_object_get(mj->all, name);
		if (!v)
			return -ENOENT;
		*out = json_deep_copy(v);
		return *out ? 0 : -ENOMEM;
	}
	e = mj->n ? bsearch(&key, mj->ents, mj->n, sizeof(*e), ent_cmp) : NULL;
	if (!e)
		return -ENOENT;
	/* The scanner checked these bytes: jansson reads the same value from them. */
	v = json_loadb(mj->text + e->off, e->len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	if (!v)
		return -ENOMEM;
	*out = v;
	return 0;
}

json_t *manifest_json_names(const struct manifest_json *mj)
{
	json_t *o, *v;
	size_t i;

	o = json_object();
	if (mj->all) {
		const char *k;

		json_object_foreach(mj->all, k,
				    v) if (json_object_set_new_nocheck(o, k, json_true()) < 0)
		{
			json_decref(o);
			return NULL;
		}
		return o;
	}
	for (i = 0; o && i < mj->n; i++)
		if (json_object_setn_new_nocheck(o, mj->ents[i].key, mj->ents[i].klen,
						 json_true()) < 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

size_t mf_mj_bytes(const struct manifest_json *mj)
{
	if (mj->all)
		return sizeof(*mj) + 64 + mf_json_bytes(mj->all);
	return sizeof(*mj) + 64 + mj->len + 1 + mj->n * sizeof(struct mjent);
}
