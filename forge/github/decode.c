/*
 * github/decode: see decode.h. Every helper either fills its output
 * completely or leaves it untouched and returns -errno, so a half-decoded
 * object never escapes.
 *
 * The small getters below mirror forge/gitea/decode.c's: the two adapters
 * read the same kind of JSON with the same strictness, but the objects
 * differ (GitHub's merged_at, draft, labels as names), so each adapter
 * keeps its own decoder.
 */
#include "forge/github/decode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "forge/jsonread.h"
#include "util/jsontext.h"
#include "util/str.h"

/* Whether o[key] is a time string (a merge), false when missing or null. */
static int get_time_set(json_t *o, const char *key, bool *out, struct buf *err)
{
	json_t *v = json_object_get(o, key);

	if (v && !json_is_null(v) && !json_is_string(v))
		return buf_fail(err, -EIO, "key '%s' is not a string", key);
	*out = v && json_is_string(v);
	return 0;
}

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

/* labels: objects with a name, or bare names (GitHub accepts and sends both forms). */
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
		if (json_is_string(e)) {
			labels[n] = str_dup(json_string_value(e));
			if (!labels[n]) {
				r = buf_fail(err, -ENOMEM, "out of memory");
				goto out;
			}
		} else if (json_is_object(e)) {
			r = jr_str(e, "name", true, NULL, &labels[n], err);
			if (r < 0)
				goto out;
		} else {
			r = buf_fail(err, -EIO, "label %zu is not an object", i);
			goto out;
		}
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

/* The fields an issue and a pull request share. */
static int decode_common(json_t *o, struct forge_issue *t, struct buf *err)
{
	int r;

	if ((r = jr_u64(o, "number", true, 1, &t->number, err)) < 0 ||
	    (r = jr_str(o, "title", true, NULL, &t->title, err)) < 0 ||
	    (r = jr_str(o, "body", false, "", &t->body, err)) < 0 ||
	    (r = jr_str(o, "state", true, NULL, &t->state, err)) < 0 ||
	    (r = get_nested_str(o, "user", "login", "", &t->author, err)) < 0 ||
	    (r = get_labels(o, &t->labels, &t->n_labels, err)) < 0 ||
	    (r = jr_u64(o, "comments", false, 0, &t->n_comments, err)) < 0 ||
	    (r = jr_str(o, "updated_at", false, "", &t->updated_at, err)) < 0 ||
	    (r = jr_str(o, "created_at", false, "", &t->created_at, err)) < 0)
		return r;
	return 0;
}

static int finish_obj(json_t *o, struct forge_issue *t, struct forge_issue *out, struct buf *err,
		      int r)
{
	if (r == 0) {
		t->json = jsontext_pretty(o);
		if (!t->json)
			r = buf_fail(err, -ENOMEM, "out of memory");
	}
	if (r < 0) {
		if (err && t->number)
			buf_note(err, " (#%llu)", (unsigned long long)t->number);
		forge_issue_release(t);
		return r;
	}
	*out = *t;
	return 0;
}

int github_decode_issue_root(json_t *o, struct forge_issue *out, struct buf *err)
{
	struct forge_issue t;
	json_t *pr = NULL;
	int r;

	memset(&t, 0, sizeof(t));
	if (!json_is_object(o))
		return buf_fail(err, -EIO, "issue is not an object");
	r = decode_common(o, &t, err);
	if (r == 0)
		r = jr_obj(o, "pull_request", &pr, err);
	if (r == 0 && pr) {
		/* The issue list's form of a pull request: merged_at says merged. */
		t.is_pull = true;
		r = get_time_set(pr, "merged_at", &t.merged, err);
		if (r == 0)
			r = jr_bool(o, "draft", &t.draft, NULL, err);
	}
	return finish_obj(o, &t, out, err, r);
}

int github_decode_pull_root(json_t *o, struct forge_issue *out, struct buf *err)
{
	struct forge_issue t;
	bool has_merged = false;
	int r;

	memset(&t, 0, sizeof(t));
	if (!json_is_object(o))
		return buf_fail(err, -EIO, "pull request is not an object");
	t.is_pull = true;
	r = decode_common(o, &t, err);
	if (r == 0)
		r = get_nested_str(o, "head", "ref", NULL, &t.head, err);
	if (r == 0)
		r = get_nested_str(o, "base", "ref", NULL, &t.base, err);
	if (r == 0)
		r = jr_bool(o, "merged", &t.merged, &has_merged, err);
	if (r == 0 && !has_merged) /* pull-request-simple has merged_at only */
		r = get_time_set(o, "merged_at", &t.merged, err);
	if (r == 0)
		r = jr_bool(o, "draft", &t.draft, NULL, err);
	return finish_obj(o, &t, out, err, r);
}

int github_decode_issue_list_root(json_t *root, bool pulls, struct forge_issue_list *out,
				  struct buf *err)
{
	struct forge_issue_list l = {NULL, 0};
	json_t *e;
	size_t i;
	int r = 0;

	if (!json_is_array(root))
		return buf_fail(err, -EIO, "response is not a json array");
	if (json_array_size(root)) {
		l.v = calloc(json_array_size(root), sizeof(*l.v));
		if (!l.v)
			return buf_fail(err, -ENOMEM, "out of memory");
	}
	json_array_foreach(root, i, e)
	{
		r = pulls ? github_decode_pull_root(e, &l.v[l.n], err)
			  : github_decode_issue_root(e, &l.v[l.n], err);
		if (r < 0)
			goto out;
		l.n++;
		json_array_set_new(root, i, json_null());
	}
	*out = l;
	l.v = NULL;
	l.n = 0;
out:
	forge_issue_list_release(&l);
	return r;
}

static int decode_one(const char *text, size_t len, bool pull, struct forge_issue *out,
		      struct buf *err)
{
	json_t *root;
	int r = jr_load(text, len, GITHUB_DECODE_MAX_VALUES, &root, err);

	if (r < 0)
		return r;
	r = pull ? github_decode_pull_root(root, out, err)
		 : github_decode_issue_root(root, out, err);
	json_decref(root);
	return r;
}

int github_decode_issue(const char *text, size_t len, struct forge_issue *out, struct buf *err)
{
	return decode_one(text, len, false, out, err);
}

int github_decode_pull(const char *text, size_t len, struct forge_issue *out, struct buf *err)
{
	return decode_one(text, len, true, out, err);
}

int github_decode_issue_list(const char *text, size_t len, bool pulls, struct forge_issue_list *out,
			     struct buf *err)
{
	json_t *root;
	int r = jr_load(text, len, GITHUB_DECODE_MAX_VALUES, &root, err);

	if (r < 0)
		return r;
	r = github_decode_issue_list_root(root, pulls, out, err);
	json_decref(root);
	return r;
}

uint64_t github_number_from_url(const char *url)
{
	static const char *const marks[] = {"/issues/", "/pulls/"};
	uint64_t n;
	size_t k;

	if (!url)
		return 0;
	for (k = 0; k < sizeof(marks) / sizeof(marks[0]); k++) {
		/* The last occurrence: an owner or repository may itself be "issues". */
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
	char *issue_url = NULL;
	int r;

	memset(&t, 0, sizeof(t));
	if (!json_is_object(o))
		return buf_fail(err, -EIO, "comment is not an object");
	if ((r = jr_u64(o, "id", true, 1, &t.id, err)) < 0 ||
	    (r = jr_str(o, "body", false, "", &t.body, err)) < 0 ||
	    (r = get_nested_str(o, "user", "login", "", &t.author, err)) < 0 ||
	    (r = jr_str(o, "created_at", false, "", &t.created_at, err)) < 0 ||
	    (r = jr_str(o, "updated_at", false, "", &t.updated_at, err)) < 0 ||
	    (r = jr_str(o, "issue_url", false, NULL, &issue_url, err)) < 0) {
		if (err && t.id)
			buf_note(err, " (comment %llu)", (unsigned long long)t.id);
		forge_comment_release(&t);
		return r;
	}
	t.issue = issue ? issue : github_number_from_url(issue_url);
	free(issue_url);
	*out = t;
	return 0;
}

int github_decode_comment(const char *text, size_t len, uint64_t issue, struct forge_comment *out,
			  struct buf *err)
{
	json_t *root;
	int r = jr_load(text, len, GITHUB_DECODE_MAX_VALUES, &root, err);

	if (r < 0)
		return r;
	r = decode_comment_obj(root, issue, out, err);
	json_decref(root);
	return r;
}

int github_decode_comment_list_root(json_t *root, uint64_t issue, struct forge_comment_list *out,
				    struct buf *err)
{
	struct forge_comment_list l = {NULL, 0};
	json_t *e;
	size_t i;
	int r = 0;

	if (!json_is_array(root))
		return buf_fail(err, -EIO, "response is not a json array");
	if (json_array_size(root)) {
		l.v = calloc(json_array_size(root), sizeof(*l.v));
		if (!l.v)
			return buf_fail(err, -ENOMEM, "out of memory");
	}
	json_array_foreach(root, i, e)
	{
		r = decode_comment_obj(e, issue, &l.v[l.n], err);
		if (r < 0)
			goto out;
		l.n++;
		json_array_set_new(root, i, json_null());
	}
	*out = l;
	l.v = NULL;
	l.n = 0;
out:
	forge_comment_list_release(&l);
	return r;
}

int github_decode_comment_list(const char *text, size_t len, uint64_t issue,
			       struct forge_comment_list *out, struct buf *err)
{
	json_t *root;
	int r = jr_load(text, len, GITHUB_DECODE_MAX_VALUES, &root, err);

	if (r < 0)
		return r;
	r = github_decode_comment_list_root(root, issue, out, err);
	json_decref(root);
	return r;
}

/* A required, non-empty string member of the top-level object of text. */
static int top_str(const char *text, size_t len, const char *key, const char *what, char **out,
		   struct buf *err)
{
	json_t *root;
	char *s = NULL;
	int r = jr_load(text, len, GITHUB_DECODE_MAX_VALUES, &root, err);

	if (r < 0)
		return r;
	if (!json_is_object(root))
		r = buf_fail(err, -EIO, "%s is not an object", what);
	else
		r = jr_str(root, key, true, NULL, &s, err);
	if (r == 0 && !*s) {
		free(s);
		r = buf_fail(err, -EIO, "key '%s' is empty", key);
	}
	json_decref(root);
	if (r == 0)
		*out = s;
	return r;
}

int github_decode_user(const char *text, size_t len, char **login, struct buf *err)
{
	return top_str(text, len, "login", "user", login, err);
}

int github_decode_node_id(const char *text, size_t len, char **node_id, struct buf *err)
{
	return top_str(text, len, "node_id", "pull request", node_id, err);
}

int github_decode_account_is_org(const char *text, size_t len, bool *is_org, struct buf *err)
{
	char *type = NULL;
	int r = top_str(text, len, "type", "account", &type, err);

	if (r < 0)
		return r;
	*is_org = strcmp(type, "Organization") == 0;
	free(type);
	return 0;
}

int github_decode_repo_list_root(json_t *root, struct forge_name_list *out, struct buf *err)
{
	struct forge_name_list l = {NULL, 0};
	json_t *e;
	size_t i;
	int r = 0;

	if (!json_is_array(root))
		return buf_fail(err, -EIO, "response is not a json array");
	if (json_array_size(root)) {
		l.v = calloc(json_array_size(root), sizeof(*l.v));
		if (!l.v)
			return buf_fail(err, -ENOMEM, "out of memory");
	}
	json_array_foreach(root, i, e)
	{
		if (!json_is_object(e)) {
			r = buf_fail(err, -EIO, "repository %zu is not an object", i);
			goto out;
		}
		r = jr_str(e, "name", true, NULL, &l.v[l.n], err);
		if (r < 0)
			goto out;
		l.n++;
	}
	*out = l;
	l.v = NULL;
	l.n = 0;
out:
	forge_name_list_release(&l);
	return r;
}

/* GraphQL's error types as errno. */
static int graphql_errno(const char *type)
{
	if (!type)
		return -EIO;
	if (strcmp(type, "NOT_FOUND") == 0)
		return -ENOENT;
	if (strcmp(type, "FORBIDDEN") == 0)
		return -EACCES;
	if (strcmp(type, "UNPROCESSABLE") == 0)
		return -EINVAL;
	return -EIO;
}

/* Appends s bounded, C0 controls as spaces (one line; the log escapes the rest). */
static void put_line(struct buf *err, const char *s)
{
	size_t i;

	for (i = 0; s && s[i] && i < 200; i++)
		buf_note(err, "%c", (unsigned char)s[i] < 0x20 ? ' ' : s[i]);
}

int github_decode_draft_mutation(const char *text, size_t len, const char *field, bool *is_draft,
				 struct buf *err)
{
	json_t *root, *errors, *e, *pr, *d;
	int r = jr_load(text, len, GITHUB_DECODE_MAX_VALUES, &root, err);

	if (r < 0)
		return r;
	if (!json_is_object(root)) {
		r = buf_fail(err, -EIO, "graphql answer is not an object");
		goto out;
	}
	errors = json_object_get(root, "errors");
	if (errors && !json_is_null(errors)) {
		e = json_array_get(errors, 0);
		if (!json_is_object(e)) {
			r = buf_fail(err, -EIO, "graphql answer has errors, none readable");
			goto out;
		}
		r = graphql_errno(json_string_value(json_object_get(e, "type")));
		if (err) {
			buf_note(err, "%s", "graphql: ");
			put_line(err, json_string_value(json_object_get(e, "message")));
		}
		goto out;
	}
	pr = json_object_get(json_object_get(json_object_get(root, "data"), field), "pullRequest");
	d = json_object_get(pr, "isDraft");
	if (!json_is_boolean(d)) {
		r = buf_fail(err, -EIO, "graphql answer lacks data.%s.pullRequest.isDraft", field);
		goto out;
	}
	*is_draft = json_is_true(d);
out:
	json_decref(root);
	return r;
}

char *github_decode_message(const char *text, size_t len)
{
	json_t *root = NULL, *e;
	const char *m = NULL;
	char *out;

	if (jr_load(text, len, GITHUB_DECODE_MAX_VALUES, &root, NULL) < 0)
		return NULL;
	e = json_array_get(json_object_get(root, "errors"), 0);
	m = json_string_value(json_object_get(e, "message"));
	if (!m || !m[0])
		m = json_string_value(json_object_get(root, "message"));
	out = m && m[0] ? str_dup(m) : NULL;
	json_decref(root);
	return out;
}

bool github_decode_pull_exists(const char *text, size_t len)
{
	static const char needle[] = "a pull request already exists";
	json_t *root = NULL, *errors, *e;
	const char *m;
	bool found = false;
	size_t i;

	if (jr_load(text, len, GITHUB_DECODE_MAX_VALUES, &root, NULL) < 0)
		return false;
	m = json_string_value(json_object_get(root, "message"));
	found = m && strncasecmp(m, needle, sizeof(needle) - 1) == 0;
	errors = json_object_get(root, "errors");
	json_array_foreach(errors, i, e)
	{
		m = json_string_value(json_object_get(e, "message"));
		if (m && strncasecmp(m, needle, sizeof(needle) - 1) == 0)
			found = true;
	}
	json_decref(root);
	return found;
}

/* ---- Link ----------------------------------------------------------- */

static bool lws(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 tchar: what a parameter name is made of. */
static bool token_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The page parameter of url[0..n): 0 when there is none, -1 when it is not a page number. */
static int64_t page_of(const char *url, size_t n)
{
	const char *q = memchr(url, '?', n), *end = url + n, *p, *amp, *eq;
	uint64_t v;

	if (!q)
		return 0;
	for (p = q + 1; p < end; p = amp + 1) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (!amp)
			amp = end;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq && eq - p == 4 && memcmp(p, "page", 4) == 0) {
			if (strn_to_u64(eq + 1, (size_t)(amp - eq - 1), UINT32_MAX, false, &v) < 0)
				return -1;
			return (int64_t)v;
		}
		if (amp == end)
			break;
	}
	return 0;
}

/*
 * RFC 8288: link-value = "<" URI ">" *( OWS ";" OWS link-param ), values
 * separated by ",". The rel parameter may be quoted and may hold several
 * relation types separated by spaces.
 */
int github_parse_link(const char *s, size_t n, struct github_links *out, struct buf *err)
{
	struct github_links l = {0, 0, 0, 0};
	size_t i = 0;

	for (;;) {
		const char *url;
		size_t ulen;
		int64_t page;

		while (i < n && (lws(s[i]) || s[i] == ','))
			i++;
		if (i == n)
			break;
		if (s[i] != '<')
			return buf_fail(err, -EIO, "link header: '<' expected at byte %zu", i);
		url = s + ++i;
		while (i < n && s[i] != '>')
			i++;
		if (i == n)
			return buf_fail(err, -EIO, "link header: unterminated '<'");
		ulen = (size_t)(s + i - url);
		page = page_of(url, ulen);
		i++;
		/* The parameters, up to the next ',' outside quotes. */
		while (i < n && s[i] != ',') {
			size_t name, name_len, val, val_len;

			while (i < n && lws(s[i]))
				i++;
			if (i == n || s[i] == ',')
				break;
			if (s[i] != ';')
				return buf_fail(err, -EIO, "link header: ';' expected at byte %zu",
						i);
			i++;
			while (i < n && lws(s[i]))
				i++;
			name = i;
			while (i < n && s[i] != '=' && s[i] != ';' && s[i] != ',' && !lws(s[i]))
				i++;
			name_len = i - name;
			for (size_t k = name; k < i; k++)
				if (!token_char(s[k]))
					name_len = 0;
			if (name_len == 0)
				return buf_fail(err, -EIO,
						"link header: parameter name expected at byte %zu",
						name);
			while (i < n && lws(s[i]))
				i++;
			val = val_len = 0;
			if (i < n && s[i] == '=') {
				i++;
				while (i < n && lws(s[i]))
					i++;
				if (i < n && s[i] == '"') {
					val = ++i;
					while (i < n && s[i] != '"')
						i++;
					if (i == n)
						return buf_fail(err, -EIO,
								"link header: unterminated quote");
					val_len = i - val;
					i++;
				} else {
					val = i;
					while (i < n && s[i] != ';' && s[i] != ',' && !lws(s[i]))
						i++;
					val_len = i - val;
				}
			}
			if (name_len != 3 || strncasecmp(s + name, "rel", 3) != 0)
				continue;
			/* Each relation type of the value. */
			for (size_t k = val; k < val + val_len;) {
				size_t t = k, tl;
				uint64_t *slot = NULL;

				while (t < val + val_len && s[t] != ' ')
					t++;
				tl = t - k;
				if (tl == 4 && strncasecmp(s + k, "next", 4) == 0)
					slot = &l.next;
				else if (tl == 4 && strncasecmp(s + k, "last", 4) == 0)
					slot = &l.last;
				else if (tl == 4 && strncasecmp(s + k, "prev", 4) == 0)
					slot = &l.prev;
				else if (tl == 5 && strncasecmp(s + k, "first", 5) == 0)
					slot = &l.first;
				if (slot && (slot == &l.next || slot == &l.last) && page <= 0)
					return buf_fail(
					    err, -EIO,
					    "link header: rel=\"%.*s\" has no page number", (int)tl,
					    s + k);
				if (slot && page > 0)
					*slot = (uint64_t)page;
				k = t + 1;
			}
		}
	}
	*out = l;
	return 0;
}
