/*
 * render: the pull request description under the Forge Adapter Contract
 * (ADR-0018). Pure: no I/O, no allocation outside the buffers it is given
 * and a scratch buffer.
 *
 * Layout with a bundle, where every part is bytes and the whole is never
 * longer than caps->max_description_len:
 *
 *   <summary, or its longest prefix that fits, cut on a UTF-8 boundary>
 *   ["\n" FORGE_TRUNCATION_NOTICE]            only when the summary was cut
 *   "\n\n<!-- bottlefs:receipt\n"
 *   "session_id: V\npolicy_bundle_id: V\ntrajectory_hash: V\n"
 *   "verification_passed: true|false\n-->\n"
 *
 * The receipt goes in a hidden HTML comment because a forge without
 * structured PR metadata (Gitea) has nowhere else to keep it; the block is
 * reserved first so the four fields always survive, and the summary gets
 * what is left.
 */
#include "forge/forge.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/str.h"

static void set_err(struct buf *err, const char *msg)
{
	if (err)
		buf_puts(err, msg);
}

/*
 * Appends v so that it cannot end the comment early or break the one-field
 * one-line layout: '%', '<', '>', '!', control bytes, and every '-' next to
 * another '-' become %XX. After this no "--" and no '>' can appear in the
 * value, so neither "-->" nor "--!>" can close the comment.
 */
static int put_value(struct buf *b, const char *v)
{
	size_t i, n = strlen(v);
	int r = 0;

	for (i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)v[i];
		bool dash_run = c == '-' && ((i > 0 && v[i - 1] == '-') || v[i + 1] == '-');

		if (c < 0x20 || c == 0x7f || c == '%' || c == '<' || c == '>' || c == '!' ||
		    dash_run)
			r = buf_printf(b, "%%%02X", c);
		else
			r = buf_putc(b, (char)c);
	}
	return r;
}

static int render_receipt(const struct forge_receipt *rc, struct buf *b)
{
	int r;

	r = buf_puts(b, "\n\n<!-- bottlefs:receipt\nsession_id: ");
	if (!r)
		r = put_value(b, rc->session_id);
	if (!r)
		r = buf_puts(b, "\npolicy_bundle_id: ");
	if (!r)
		r = put_value(b, rc->policy_bundle_id);
	if (!r)
		r = buf_puts(b, "\ntrajectory_hash: ");
	if (!r)
		r = put_value(b, rc->trajectory_hash);
	if (!r)
		r = buf_printf(b, "\nverification_passed: %s\n-->\n",
			       rc->verification_passed ? "true" : "false");
	return r;
}

int forge_render_description_err(const struct forge_capabilities *caps,
				 const struct forge_pr_request *req, struct buf *out,
				 struct buf *err)
{
	static const char notice[] = "\n" FORGE_TRUNCATION_NOTICE;
	const struct forge_receipt *rc = req->receipt;
	struct buf meta = BUF_INIT(BUF_MAX_DEFAULT);
	size_t max = caps->max_description_len, room, keep, slen, old = out->len;
	size_t omax = out->max ? out->max : BUF_MAX_DEFAULT;
	bool cut = false;
	int r;

	if (!req->summary) {
		const char *body = req->body ? req->body : "";

		/* No bundle: the agent's text goes out untouched or not at all. */
		if (strlen(body) > max) {
			set_err(err, "pull request body is longer than the forge allows");
			return -EINVAL;
		}
		r = buf_puts(out, body);
		if (r < 0)
			set_err(err, "out of memory rendering the pull request body");
		return r;
	}
	if (!rc || !rc->session_id || !rc->policy_bundle_id || !rc->trajectory_hash) {
		set_err(err,
			"bundle receipt lacks session_id, policy_bundle_id or trajectory_hash");
		return -EINVAL;
	}
	slen = strlen(req->summary);
	if (!str_utf8_valid(req->summary, slen) ||
	    !str_utf8_valid(rc->session_id, strlen(rc->session_id)) ||
	    !str_utf8_valid(rc->policy_bundle_id, strlen(rc->policy_bundle_id)) ||
	    !str_utf8_valid(rc->trajectory_hash, strlen(rc->trajectory_hash))) {
		set_err(err, "bundle summary or receipt is not valid utf-8");
		return -EINVAL;
	}
	r = render_receipt(rc, &meta);
	if (r < 0) {
		set_err(err, "bundle receipt is too large to render");
		goto out;
	}
	if (meta.len > max) {
		set_err(err, "bundle receipt alone is longer than the forge's description limit");
		r = -EINVAL;
		goto out;
	}
	room = max - meta.len;
	keep = slen;
	if (slen > room) {
		cut = true;
		if (room < sizeof(notice) - 1) {
			set_err(err, "bundle receipt and truncation notice do not fit the forge's "
				     "description limit");
			r = -EINVAL;
			goto out;
		}
		keep = str_utf8_floor(req->summary, room - (sizeof(notice) - 1));
	}
	/* Check the total up front so a failure leaves out unchanged. */
	if (out->len + keep + (cut ? sizeof(notice) - 1 : 0) + meta.len > omax) {
		set_err(err, "description does not fit the output buffer");
		r = -E2BIG;
		goto out;
	}
	r = buf_append(out, req->summary, keep);
	if (!r && cut)
		r = buf_append(out, notice, sizeof(notice) - 1);
	if (!r)
		r = buf_append(out, meta.data, meta.len);
	if (r < 0) {
		/* Undo a partial append: out is written only on success. */
		out->len = old;
		if (out->data)
			out->data[old] = '\0';
		set_err(err, "out of memory rendering the description");
	}
out:
	buf_release(&meta);
	return r;
}

int forge_render_description(const struct forge_capabilities *caps,
			     const struct forge_pr_request *req, struct buf *out)
{
	return forge_render_description_err(caps, req, out, NULL);
}
