#include "write/prnew.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

static int bad(struct buf *err, const char *msg)
{
	if (err)
		buf_note(err, "pulls/new: %s", msg);
	return -EINVAL;
}

/*
 * Appends at most 64 bytes of an agent's key to a reason: printable ASCII
 * and whole UTF-8 characters only, anything else as '?', so a key can
 * neither inject a log line nor leave half a character.
 */
static void put_key(struct buf *err, const char *k)
{
	size_t n = strlen(k), i = 0, used = 0;

	while (i < n && used < 64) {
		unsigned char c = (unsigned char)k[i];
		size_t len = 1;

		if (c >= 0x80) {
			len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
			if (i + len > n || !str_utf8_valid(k + i, len))
				len = 1;
		}
		if (len > 1 && used + len <= 64) {
			buf_note(err, "%.*s", (int)len, k + i);
		} else if (len == 1 && c >= 0x20 && c < 0x7f && c != '\'') {
			buf_note(err, "%c", (char)c);
		} else {
			buf_note(err, "%c", '?');
			len = len > 1 ? len : 1;
		}
		used += len;
		i += len;
	}
}

/* Only the keys in allowed[] may appear in o. */
static int only_keys(json_t *o, const char *const *allowed, struct buf *err)
{
	const char *k;
	json_t *v;
	size_t i;

	json_object_foreach(o, k, v)
	{
		bool ok = false;

		for (i = 0; allowed[i] && !ok; i++)
			ok = strcmp(k, allowed[i]) == 0;
		if (!ok) {
			if (err) {
				buf_note(err, "pulls/new: unknown key '");
				put_key(err, k);
				buf_note(err, "%c", '\'');
			}
			return -EINVAL;
		}
	}
	return 0;
}

/* A required (or optional) string member, copied. */
static int string_at(json_t *o, const char *key, bool required, char **out, struct buf *err)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		if (!required)
			return 0;
		if (err)
			buf_note(err, "pulls/new: '%s' is required", key);
		return -EINVAL;
	}
	if (!json_is_string(v) || (required && json_string_length(v) == 0) ||
	    memchr(json_string_value(v), '\0', json_string_length(v))) {
		if (err)
			buf_note(err, "pulls/new: '%s' must be a non-empty string", key);
		return -EINVAL;
	}
	*out = strdup(json_string_value(v));
	return *out ? 0 : -ENOMEM;
}

/*
 * The values a pull request is opened with must be what they claim: a
 * title is one line of text, head and base are branches of the assigned
 * repository (a fork's "owner:branch" head would open a pull request from
 * code outside it), and a text that becomes the description must not carry
 * the daemon's own receipt marker or truncation notice.
 */
static int check_values(const struct prnew *p, struct buf *err)
{
	struct buf why = BUF_INIT(256);
	int r = 0;

	if (str_has_control(p->title, strlen(p->title), false))
		return bad(err, "'title' must be one line without control characters");
	if (!str_branch_name_valid(p->head, strlen(p->head)))
		return bad(err, "'head' must be a branch name of the repository (git branch "
				"rules; an 'owner:branch' head on another fork is refused)");
	if (!str_branch_name_valid(p->base, strlen(p->base)))
		return bad(err, "'base' must be a branch name of the repository (git branch "
				"rules)");
	if (p->body)
		r = forge_description_check(p->body, strlen(p->body), "'body'", &why);
	if (r == 0 && p->summary)
		r = forge_description_check(p->summary, strlen(p->summary), "'bundle.summary'",
					    &why);
	if (r < 0)
		r = bad(err, buf_cstr(&why));
	buf_release(&why);
	return r;
}

static int parse_bundle(json_t *b, struct prnew *p, struct buf *err)
{
	static const char *const bundle_keys[] = {"summary", "receipt", NULL};
	static const char *const receipt_keys[] = {"session_id",      "policy_bundle_id",
						   "trajectory_hash", "verification_passed",
						   "confidence",      NULL};
	json_t *rc, *vp, *conf;
	int r;

	if (!json_is_object(b))
		return bad(err, "'bundle' must be an object");
	if ((r = only_keys(b, bundle_keys, err)) < 0)
		return r;
	if ((r = string_at(b, "summary", false, &p->summary, err)) < 0)
		return r;
	if (!p->summary)
		return bad(err, "'bundle.summary' is required");
	rc = json_object_get(b, "receipt");
	if (!json_is_object(rc))
		return bad(err, "'bundle.receipt' must be an object");
	if ((r = only_keys(rc, receipt_keys, err)) < 0 ||
	    (r = string_at(rc, "session_id", true, &p->session_id, err)) < 0 ||
	    (r = string_at(rc, "policy_bundle_id", true, &p->policy_bundle_id, err)) < 0 ||
	    (r = string_at(rc, "trajectory_hash", true, &p->trajectory_hash, err)) < 0)
		return r;
	vp = json_object_get(rc, "verification_passed");
	if (!json_is_boolean(vp))
		return bad(err, "'bundle.receipt.verification_passed' must be true or false");
	p->verification_passed = json_is_true(vp);
	conf = json_object_get(rc, "confidence");
	if (conf && !json_is_number(conf))
		return bad(err, "'bundle.receipt.confidence' must be a number");
	return 0;
}

int prnew_parse(const char *data, size_t len, struct prnew *out, struct buf *err)
{
	static const char *const keys[] = {"title",  "head",  "base", "body",
					   "bundle", "draft", NULL};
	struct prnew p;
	json_error_t je;
	json_t *root = NULL, *bundle, *draft;
	int r;

	memset(&p, 0, sizeof(p));
	if (len > WRITE_PULL_MAX)
		return bad(err, "request too large");
	if (!str_utf8_valid(data, len) || memchr(data, '\0', len))
		return bad(err, "request is not UTF-8 text");
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		r = bad(err, "request is not valid JSON");
		goto out;
	}
	if (!json_is_object(root)) {
		r = bad(err, "request must be a JSON object");
		goto out;
	}
	if ((r = only_keys(root, keys, err)) < 0 ||
	    (r = string_at(root, "title", true, &p.title, err)) < 0 ||
	    (r = string_at(root, "head", true, &p.head, err)) < 0 ||
	    (r = string_at(root, "base", true, &p.base, err)) < 0)
		goto out;
	if (json_object_get(root, "body") && !json_is_string(json_object_get(root, "body"))) {
		r = bad(err, "'body' must be a string");
		goto out;
	}
	if ((r = string_at(root, "body", false, &p.body, err)) < 0)
		goto out;
	draft = json_object_get(root, "draft");
	if (draft && !json_is_boolean(draft)) {
		r = bad(err, "'draft' must be true or false");
		goto out;
	}
	p.draft = json_is_true(draft);
	bundle = json_object_get(root, "bundle");
	if (bundle && p.body) {
		r = bad(err, "'body' and 'bundle' are alternatives; give one");
		goto out;
	}
	if (bundle && (r = parse_bundle(bundle, &p, err)) < 0)
		goto out;
	if ((r = check_values(&p, err)) < 0)
		goto out;
	p.receipt.session_id = p.session_id;
	p.receipt.policy_bundle_id = p.policy_bundle_id;
	p.receipt.trajectory_hash = p.trajectory_hash;
	p.receipt.verification_passed = p.verification_passed;
	p.req.title = p.title;
	p.req.head = p.head;
	p.req.base = p.base;
	p.req.body = p.body ? p.body : "";
	p.req.summary = p.summary;
	p.req.receipt = p.summary ? &p.receipt : NULL;
	p.req.draft = p.draft;
	*out = p;
	/* The request borrows from *out, not from the local copy. */
	out->receipt = p.receipt;
	out->req.receipt = p.summary ? &out->receipt : NULL;
	memset(&p, 0, sizeof(p));
	r = 0;
out:
	json_decref(root);
	prnew_release(&p);
	return r;
}

void prnew_release(struct prnew *p)
{
	free(p->title);
	free(p->head);
	free(p->base);
	free(p->body);
	free(p->summary);
	free(p->session_id);
	free(p->policy_bundle_id);
	free(p->trajectory_hash);
	memset(p, 0, sizeof(*p));
}
