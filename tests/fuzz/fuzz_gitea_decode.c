/*
 * libFuzzer target for the Gitea decoders (forge/gitea/decode.h) and the
 * description renderer (forge_render_description).
 *
 * The first byte picks the target, the rest is the response body. Besides
 * "no crash, no leak, no UB", it checks the decoders' promises on every
 * accepted input (every string present and valid UTF-8, numbers non-zero
 * where required, issue.json text ending in exactly one "\n") and that a
 * rejected input leaves a reason of one printable line. The renderer gets
 * the bytes as a summary and must stay within its limit.
 *
 * Build and run:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     tests/fuzz/fuzz_gitea_decode.c forge/gitea/decode.c forge/forge.c \
 *     forge/render.c util/buf.c util/str.c -ljansson -o fuzz_gitea_decode
 *   ./fuzz_gitea_decode -max_total_time=30 tests/fuzz/gitea
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forge/forge.h"
#include "forge/gitea/decode.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void text_ok(const char *s)
{
	if (!s || !str_utf8_valid(s, strlen(s)))
		abort();
}

static void reason_ok(const struct buf *err)
{
	size_t i;

	if (err->len == 0)
		abort();
	for (i = 0; i < err->len; i++) {
		unsigned char c = (unsigned char)err->data[i];

		if (c < 0x20 || c == 0x7f)
			abort();
	}
}

static void issue_ok(const struct forge_issue *it, bool pull)
{
	size_t i, n;

	if (it->number == 0 || (pull && !it->is_pull))
		abort();
	text_ok(it->title);
	text_ok(it->body);
	text_ok(it->state);
	text_ok(it->author);
	text_ok(it->updated_at);
	for (i = 0; i < it->n_labels; i++)
		text_ok(it->labels[i]);
	if (it->head)
		text_ok(it->head);
	if (it->base)
		text_ok(it->base);
	text_ok(it->json);
	n = strlen(it->json);
	if (n < 2 || it->json[n - 1] != '\n' || it->json[n - 2] == '\n')
		abort();
}

static void comment_ok(const struct forge_comment *c)
{
	if (c->id == 0)
		abort();
	text_ok(c->body);
	text_ok(c->author);
	text_ok(c->created_at);
	text_ok(c->updated_at);
}

static void render(const char *s, size_t n, uint8_t knob)
{
	struct forge_receipt rc = {"s--->", "p", "sha256:x", true};
	struct forge_capabilities caps = {"gitea", 150 + (size_t)knob * 8, false, false, true, 50,
					  false};
	struct forge_pr_request req = {"t", "h", "b", NULL, NULL, &rc};
	struct buf out = BUF_INIT(0);
	char *z = malloc(n + 1);

	if (!z)
		return;
	memcpy(z, s, n);
	z[n] = '\0';
	req.summary = z;
	if (forge_render_description(&caps, &req, &out) == 0) {
		if (out.len > caps.max_description_len || !str_utf8_valid(out.data, out.len) ||
		    !strstr(out.data, "trajectory_hash: sha256:x\n"))
			abort();
	}
	buf_release(&out);
	free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf err = BUF_INIT(4096);
	const char *s;
	size_t n, i;
	int r = 0;

	if (size < 1)
		return 0;
	s = (const char *)data + 1;
	n = size - 1;
	switch (data[0] % 7) {
	case 0:
	case 1: {
		struct forge_issue it;

		r = data[0] % 7 ? gitea_decode_pull(s, n, &it, &err)
				: gitea_decode_issue(s, n, &it, &err);
		if (r == 0) {
			issue_ok(&it, data[0] % 7 == 1);
			forge_issue_release(&it);
		}
		break;
	}
	case 2: {
		struct forge_issue_list l;

		r = gitea_decode_issue_list(s, n, data[0] & 0x80, &l, &err);
		if (r == 0) {
			for (i = 0; i < l.n; i++)
				issue_ok(&l.v[i], data[0] & 0x80);
			forge_issue_list_release(&l);
		}
		break;
	}
	case 3: {
		struct forge_comment_list l;

		r = gitea_decode_comment_list(s, n, data[0] & 0x80 ? 7 : 0, &l, &err);
		if (r == 0) {
			for (i = 0; i < l.n; i++)
				comment_ok(&l.v[i]);
			forge_comment_list_release(&l);
		}
		break;
	}
	case 4: {
		struct forge_comment c;

		r = gitea_decode_comment(s, n, 0, &c, &err);
		if (r == 0) {
			comment_ok(&c);
			forge_comment_release(&c);
		}
		break;
	}
	case 5: {
		struct forge_name_list l;

		r = gitea_decode_repo_list(s, n, &l, &err);
		if (r == 0) {
			for (i = 0; i < l.n; i++)
				text_ok(l.v[i]);
			forge_name_list_release(&l);
		}
		break;
	}
	default:
		render(s, n, data[0]);
		break;
	}
	if (r < 0)
		reason_ok(&err);
	buf_release(&err);
	return 0;
}
