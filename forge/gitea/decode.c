/*
 * gitea/decode: see decode.h. Every helper here either fills its output
 * completely or leaves it untouched and returns -errno, so a half-decoded
 * object never escapes.
 */
#include "forge/gitea/decode.h"
#include "forge/jsonread.h"
#include "util/jsontext.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/str.h"

/* obj[key][sub] as a string, NULL (or dflt) when either level is absent. */
static int get_nested_str(json_t *o, const char *key, const char *sub, const char *dflt, char **out,
			  struct buf *err)
{
	json_t *inner = NULL;
	int r = jr_obj(o, key, &inner, err);

	if (r < 0)
		return r;
	if (!inner) {
		*out = str_dup(dflt);
		return dflt && !*out ? buf_fail(err, -ENOMEM, "out of memory") : 0;
	}
	r = jr_str(inner, sub, false, dflt, out, err);
	if (r < 0 && err)
		buf_note(err, " in '%s'", key);
	return r;
}

static int get_labels(json_t *o, char ***out, size_t *n_out, struct buf *err)
{
	json_t *v = json_object_get(o, "labels"), *e;
	char **labels = NULL;
	size_t i, n = 0;
	int r = 0;

	if (!v || json_is_null(v)) {
		*out = NULL;
		*n_out = 0;
		return 0;
	}
	if (!json_is_array(v))
		return buf_fail(err, -EIO, "key 'labels' is not an array");
	if (json_array_size(v)) {
		labels = calloc(json_array_size(v), sizeof(*labels));
		if (!labels)
			return buf_fail(err, -ENOMEM, "out of memory");
	}
	json_array_foreach(v, i, e)
	{
		if (!json_is_object(e)) {
			r = buf_fail(err, -EIO, "label %zu is not an object", i);
			goto out;
		}
		r = jr_str(e, "name", true, NULL, &labels[n], err);
		if (r < 0)
			goto out;
		n++;
	}
	*out = labels;
	*n_out = n;
	labels = NULL;
out:
	if (labels) {
		for (i = 0; i < n; i++)
			free(labels[i]);
		free(labels);
	}
	return r;
}

/* The object re-serialised for issue.json / pr.json, ending "\n". */
static int dump(json_t *o, char **out, struct buf *err)
{
	char *text = jsontext_pretty(o);

	if (!text)
		return buf_fail(err, -ENOMEM, "out of memory");
	*out = text;
	return 0;
}

/* pulls: o came from the /pulls endpoint (head, base, merged at top level). */
static int decode_issue_obj(json_t *o, bool pulls, struct forge_issue *out, struct buf *err)
{
	struct forge_issue t;
	json_t *pr;
	int r;

	memset(&t, 0, sizeof(t));
	if (!json_is_object(o))
		return buf_fail(err, -EIO, "%s is not an object", pulls ? "pull request" : "issue");
	if ((r = jr_u64(o, "number", true, 1, &t.number, err)) < 0 ||
	    (r = jr_str(o, "title", true, NULL, &t.title, err)) < 0 ||
	    (r = jr_str(o, "body", false, "", &t.body, err)) < 0 ||
	    (r = jr_str(o, "state", true, NULL, &t.state, err)) < 0 ||
	    (r = get_nested_str(o, "user", "login", "", &t.author, err)) < 0 ||
	    (r = get_labels(o, &t.labels, &t.n_labels, err)) < 0 ||
	    (r = jr_u64(o, "comments", false, 0, &t.n_comments, err)) < 0 ||
	    (r = jr_str(o, "updated_at", false, "", &t.updated_at, err)) < 0 ||
	    (r = jr_str(o, "created_at", false, "", &t.created_at, err)) < 0)
		goto fail;
	if (pulls) {
		t.is_pull = true;
		if ((r = get_nested_str(o, "head", "ref", NULL, &t.head, err)) < 0 ||
		    (r = get_nested_str(o, "base", "ref", NULL, &t.base, err)) < 0 ||
		    (r = jr_bool(o, "merged", &t.merged, NULL, err)) < 0 ||
		    (r = jr_bool(o, "draft", &t.draft, NULL, err)) < 0)
			goto fail;
	} else {
		if ((r = jr_obj(o, "pull_request", &pr, err)) < 0)
			goto fail;
		if (pr) {
			t.is_pull = true;
			r = jr_bool(pr, "merged", &t.merged, NULL, err);
			if (r == 0)
				r = jr_bool(pr, "draft", &t.draft, NULL, err);
			if (r < 0)
				goto fail;
		}
	}
	if ((r = dump(o, &t.json, err)) < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	if (err && t.number)
		buf_note(err, " (#%llu)", (unsigned long long)t.number);
	forge_issue_release(&t);
	return r;
}

int gitea_decode_issue_root(json_t *root, bool pull, struct forge_issue *out, struct buf *err)
{
	return decode_issue_obj(root, pull, out, err);
}

static int decode_one_issue(const char *text, size_t len, bool pulls, struct forge_issue *out,
			    struct buf *err)
{
	json_t *root;
	int r = jr_load(text, len, GITEA_DECODE_MAX_VALUES, &root, err);

	if (r < 0)
		return r;
	r = decode_issue_obj(root, pulls, out, err);
	json_decref(root);
	return r;
}

int gitea_decode_issue(const char *text, size_t len, struct forge_issue *out, struct buf *err)
{
	return decode_one_issue(text, len, false, out, err);
}

int gitea_decode_pull(const char *text, size_t len, struct forge_issue *out, struct buf *err)
{
	return decode_one_issue(text, len, true, out, err);
}

/*
 * Decodes a JSON array element by element with one (its index given, for
 * the message) into a new array of n structs of size bytes. Each element
 * is replaced by null in root once decoded, so the tree and the structs
 * are never both whole. On failure the structs decoded so far are released.
 */
typedef int (*one_fn)(json_t *o, size_t i, void *out, const void *arg, struct buf *err);

static int decode_array(json_t *root, size_t size, one_fn one, const void *arg,
			void (*release)(void *), void **v, size_t *n, struct buf *err)
{
	char *a = NULL;
	size_t k = 0, i;
	json_t *e;
	int r = 0;

	if (!json_is_array(root))
		return buf_fail(err, -EIO, "response is not a json array");
	if (json_array_size(root)) {
		a = calloc(json_array_size(root), size);
		if (!a)
			return buf_fail(err, -ENOMEM, "out of memory");
	}
	json_array_foreach(root, i, e)
	{
		r = one(e, i, a + k * size, arg, err);
		if (r < 0)
			break;
		k++;
		json_array_set_new(root, i, json_null());
	}
	if (r < 0) {
		for (i = 0; i < k; i++)
			release(a + i * size);
		free(a);
		return r;
	}
	*v = a;
	*n = k;
	return 0;
}

static int issue_one(json_t *o, size_t i, void *out, const void *pulls, struct buf *err)
{
	(void)i;
	return decode_issue_obj(o, *(const bool *)pulls, out, err);
}

static void issue_release(void *p)
{
	forge_issue_release(p);
}

int gitea_decode_issue_list_root(json_t *root, bool pulls_endpoint, struct forge_issue_list *out,
				 struct buf *err)
{
	void *v;
	size_t n;
	int r = decode_array(root, sizeof(*out->v), issue_one, &pulls_endpoint, issue_release, &v,
			     &n, err);

	if (r == 0) {
		out->v = v;
		out->n = n;
	}
	return r;
}

int gitea_decode_issue_list(const char *text, size_t len, bool pulls_endpoint,
			    struct forge_issue_list *out, struct buf *err)
{
	json_t *root;
	int r = jr_load(text, len, GITEA_DECODE_MAX_VALUES, &root, err);

	if (r < 0)
		return r;
	r = gitea_decode_issue_list_root(root, pulls_endpoint, out, err);
	json_decref(root);
	return r;
}

uint64_t gitea_number_from_url(const char *url)
{
	static const char *const marks[] = {"/issues/", "/pulls/"};
	uint64_t n;
	size_t k;

	if (!url)
		return 0;
	for (k = 0; k < sizeof(marks) / sizeof(marks[0]); k++) {
		/* The last occurrence: an owner or repo may itself be "issues". */
		const char *p = NULL, *q = url;

		while ((q = strstr(q, marks[k])) != NULL) {
			p = q;
			q++;
		}
		if (p && str_to_u64(p + strlen(marks[k]), UINT64_MAX, false, &n) == 0)
			return n;
	}
	return 0;
}

static int decode_comment_obj(json_t *o, uint64_t issue, struct forge_comment *out, struct buf *err)
{
	struct forge_comment t;
	char *issue_url = NULL, *pr_url = NULL;
	int r;

	memset(&t, 0, sizeof(t));
	if (!json_is_object(o))
		return buf_fail(err, -EIO, "comment is not an object");
	if ((r = jr_u64(o, "id", true, 1, &t.id, err)) < 0 ||
	    (r = jr_str(o, "body", false, "", &t.body, err)) < 0 ||
	    (r = get_nested_str(o, "user", "login", "", &t.author, err)) < 0 ||
	    (r = jr_str(o, "created_at", false, "", &t.created_at, err)) < 0 ||
	    (r = jr_str(o, "updated_at", false, "", &t.updated_at, err)) < 0 ||
	    (r = jr_str(o, "issue_url", false, NULL, &issue_url, err)) < 0 ||
	    (r = jr_str(o, "pull_request_url", false, NULL, &pr_url, err)) < 0)
		goto fail;
	t.issue = issue;
	if (!t.issue)
		t.issue = gitea_number_from_url(issue_url);
	if (!t.issue)
		t.issue = gitea_number_from_url(pr_url);
	free(issue_url);
	free(pr_url);
	*out = t;
	return 0;
fail:
	if (err && t.id)
		buf_note(err, " (comment %llu)", (unsigned long long)t.id);
	free(issue_url);
	free(pr_url);
	forge_comment_release(&t);
	return r;
}

int gitea_decode_comment(const char *text, size_t len, uint64_t issue, struct forge_comment *out,
			 struct buf *err)
{
	json_t *root;
	int r = jr_load(text, len, GITEA_DECODE_MAX_VALUES, &root, err);

	if (r < 0)
		return r;
	r = decode_comment_obj(root, issue, out, err);
	json_decref(root);
	return r;
}

static int comment_one(json_t *o, size_t i, void *out, const void *issue, struct buf *err)
{
	(void)i;
	return decode_comment_obj(o, *(const uint64_t *)issue, out, err);
}

static void comment_release(void *p)
{
	forge_comment_release(p);
}

int gitea_decode_comment_list_root(json_t *root, uint64_t issue, struct forge_comment_list *out,
				   struct buf *err)
{
	void *v;
	size_t n;
	int r =
	    decode_array(root, sizeof(*out->v), comment_one, &issue, comment_release, &v, &n, err);

	if (r == 0) {
		out->v = v;
		out->n = n;
	}
	return r;
}

int gitea_decode_comment_list(const char *text, size_t len, uint64_t issue,
			      struct forge_comment_list *out, struct buf *err)
{
	json_t *root;
	int r = jr_load(text, len, GITEA_DECODE_MAX_VALUES, &root, err);

	if (r < 0)
		return r;
	r = gitea_decode_comment_list_root(root, issue, out, err);
	json_decref(root);
	return r;
}

int gitea_decode_user(const char *text, size_t len, char **login, struct buf *err)
{
	json_t *root;
	char *l = NULL;
	int r = jr_load(text, len, GITEA_DECODE_MAX_VALUES, &root, err);

	if (r < 0)
		return r;
	if (!json_is_object(root))
		r = buf_fail(err, -EIO, "user is not an object");
	else
		r = jr_str(root, "login", true, NULL, &l, err);
	if (r == 0 && !*l) {
		free(l);
		r = buf_fail(err, -EIO, "key 'login' is empty");
	}
	json_decref(root);
	if (r == 0)
		*login = l;
	return r;
}

static int name_one(json_t *o, size_t i, void *out, const void *arg, struct buf *err)
{
	(void)arg;
	if (!json_is_object(o))
		return buf_fail(err, -EIO, "repository %zu is not an object", i);
	return jr_str(o, "name", true, NULL, out, err);
}

static void name_release(void *p)
{
	free(*(char **)p);
}

int gitea_decode_repo_list_root(json_t *root, struct forge_name_list *out, struct buf *err)
{
	void *v;
	size_t n;
	int r = decode_array(root, sizeof(*out->v), name_one, NULL, name_release, &v, &n, err);

	if (r == 0) {
		out->v = v;
		out->n = n;
	}
	return r;
}

int gitea_decode_repo_list(const char *text, size_t len, struct forge_name_list *out,
			   struct buf *err)
{
	json_t *root;
	int r = jr_load(text, len, GITEA_DECODE_MAX_VALUES, &root, err);

	if (r < 0)
		return r;
	r = gitea_decode_repo_list_root(root, out, err);
	json_decref(root);
	return r;
}

/*
 * The integer member key of the top-level object that text[0..len) begins,
 * read from a prefix of the JSON (the rest may be missing): 0 and *out
 * when the member is complete in the prefix, -ENOENT otherwise.
 */
int gitea_decode_prefix_u64(const char *text, size_t len, const char *key, uint64_t *out)
{
	size_t i = 0, depth = 0, klen = strlen(key), start = 0;
	bool in_str = false, esc = false, expect_key = false, this_key = false, want = false;

	for (; i < len; i++) {
		char c = text[i];

		if (in_str) {
			if (esc) {
				esc = false;
			} else if (c == '\\') {
				esc = true;
			} else if (c == '"') {
				in_str = false;
				want = this_key && i - start == klen &&
				       memcmp(text + start, key, klen) == 0;
			}
			continue;
		}
		switch (c) {
		case '"':
			in_str = true;
			start = i + 1;
			this_key = depth == 1 && expect_key;
			expect_key = false;
			break;
		case '{':
		case '[':
			if (depth == 0 && c != '{')
				return -ENOENT;
			depth++;
			expect_key = depth == 1;
			want = false;
			break;
		case '}':
		case ']':
			if (depth-- <= 1)
				return -ENOENT;
			break;
		case ',':
			expect_key = depth == 1;
			want = false;
			break;
		case ':':
			if (want && depth == 1) {
				size_t j = i + 1, k;

				while (j < len && (text[j] == ' ' || text[j] == '\t' ||
						   text[j] == '\n' || text[j] == '\r'))
					j++;
				for (k = j; k < len && text[k] >= '0' && text[k] <= '9'; k++)
					;
				/* Complete only when something follows the digits. */
				if (k == j || k == len ||
				    strn_to_u64(text + j, k - j, UINT64_MAX, false, out) < 0)
					return -ENOENT;
				return 0;
			}
			want = false;
			break;
		default:
			if (depth == 0 && c != ' ' && c != '\t' && c != '\n' && c != '\r')
				return -ENOENT;
			break;
		}
	}
	return -ENOENT;
}
