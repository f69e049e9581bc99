/*
 * libFuzzer target for prnew_parse (fs/prnew.h), the JSON an agent writes
 * to pulls/new.
 *
 * Besides "no crash, no leak, no UB" it checks the parser's promises:
 * - rejected: -EINVAL, *out untouched (out-params are written only on
 *   success), and a reason that is one printable UTF-8 line starting with
 *   "pulls/new: " (it reaches the daemon log, so a quoted key must not
 *   smuggle a newline or half a UTF-8 sequence into it);
 * - accepted: title, head and base non-empty UTF-8 without NUL; body and
 *   bundle exclusive; req borrows from *out (req.receipt == &out->receipt,
 *   set exactly when there is a summary); and the request, written back as
 *   JSON, parses again to the same request (idempotence).
 *
 * Run: scripts/fuzz 30 (builds build-fuzz, seeds from tests/fuzz/prnew/).
 */
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "write/prnew.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, bool nonempty)
{
	size_t n;

	if (!s)
		abort();
	n = strlen(s);
	if ((nonempty && n == 0) || !str_utf8_valid(s, n))
		abort();
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The request p describes, as the JSON an agent would write. */
static char *write_back(const struct prnew *p)
{
	json_t *o = json_object(), *b, *rc;
	char *s;

	json_object_set_new(o, "title", json_string(p->title));
	json_object_set_new(o, "head", json_string(p->head));
	json_object_set_new(o, "base", json_string(p->base));
	if (p->body)
		json_object_set_new(o, "body", json_string(p->body));
	if (p->summary) {
		b = json_object();
		rc = json_object();
		json_object_set_new(rc, "session_id", json_string(p->session_id));
		json_object_set_new(rc, "policy_bundle_id", json_string(p->policy_bundle_id));
		json_object_set_new(rc, "trajectory_hash", json_string(p->trajectory_hash));
		json_object_set_new(rc, "verification_passed",
				    json_boolean(p->verification_passed));
		json_object_set_new(b, "summary", json_string(p->summary));
		json_object_set_new(b, "receipt", rc);
		json_object_set_new(o, "bundle", b);
	}
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void check_accepted(const struct prnew *p, size_t size)
{
	struct prnew back;
	char *text;

	check_text(p->title, true);
	check_text(p->head, true);
	check_text(p->base, true);
	if (strlen(p->title) > size || strlen(p->head) > size || strlen(p->base) > size)
		abort();
	if (p->body && p->summary)
		abort();
	if (p->body)
		check_text(p->body, false);
	if (p->req.title != p->title || p->req.head != p->head || p->req.base != p->base)
		abort();
	if (!p->req.body || (p->body && p->req.body != p->body) || (!p->body && p->req.body[0]))
		abort();
	if (p->summary) {
		check_text(p->summary, false);
		check_text(p->session_id, true);
		check_text(p->policy_bundle_id, true);
		check_text(p->trajectory_hash, true);
		if (p->req.summary != p->summary || p->req.receipt != &p->receipt ||
		    p->receipt.session_id != p->session_id ||
		    p->receipt.policy_bundle_id != p->policy_bundle_id ||
		    p->receipt.trajectory_hash != p->trajectory_hash ||
		    p->receipt.verification_passed != p->verification_passed)
			abort();
	} else if (p->req.summary || p->req.receipt || p->session_id) {
		abort();
	}

	text = write_back(p);
	if (!text)
		abort();
	if (prnew_parse(text, strlen(text), &back, NULL) != 0)
		abort();
	if (!same(back.title, p->title) || !same(back.head, p->head) || !same(back.base, p->base) ||
	    !same(back.body, p->body) || !same(back.summary, p->summary) ||
	    !same(back.session_id, p->session_id) ||
	    !same(back.policy_bundle_id, p->policy_bundle_id) ||
	    !same(back.trajectory_hash, p->trajectory_hash) ||
	    back.verification_passed != p->verification_passed)
		abort();
	prnew_release(&back);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prnew p, untouched;
	struct buf err = BUF_INIT(4096);
	size_t n;
	int r;

	memset(&p, 0xa5, sizeof(p));
	memcpy(&untouched, &p, sizeof(p));
	r = prnew_parse((const char *)data, size, &p, &err);
	if (r != 0) {
		if (r != -EINVAL || memcmp(&p, &untouched, sizeof(p)) != 0)
			abort();
		if (err.len == 0 || strlen(buf_cstr(&err)) != err.len ||
		    !str_utf8_valid(err.data, err.len) || strncmp(err.data, "pulls/new: ", 11) != 0)
			abort();
		for (n = 0; n < err.len; n++)
			if ((unsigned char)err.data[n] < 0x20 || err.data[n] == 0x7f)
				abort();
		buf_release(&err);
		return 0;
	}
	if (err.len != 0)
		abort();
	check_accepted(&p, size);
	prnew_release(&p);
	buf_release(&err);
	return 0;
}
