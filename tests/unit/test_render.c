/*
 * Unit tests of forge_render_description (forge/render.c): the Forge
 * Adapter Contract's invariants, on fixed cases and on many random ones.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "forge/forge.h"
#include "util/str.h"

#define BLOCK_OPEN "\n\n<!-- bottlefs:receipt\n"
#define NOTICE_LINE "\n" FORGE_TRUNCATION_NOTICE

static struct forge_capabilities caps_of(size_t max)
{
	struct forge_capabilities c = {"gitea", max, false, false, true, 50};

	return c;
}

/* Reverses the %XX escaping of one value. */
static char *unescape(const char *s, size_t n)
{
	char *o = malloc(n + 1);
	size_t i, k = 0;

	assert_non_null(o);
	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			char hex[3] = {s[i + 1], s[i + 2], 0};

			assert_true(i + 2 < n);
			o[k++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			o[k++] = s[i];
		}
	}
	o[k] = '\0';
	return o;
}

/* Checks "key: <escaped value>\n" at *p and that it unescapes to want. */
static void expect_field(const char **p, const char *end, const char *key, const char *want)
{
	size_t kl = strlen(key);
	const char *nl;
	char *v;

	assert_true((size_t)(end - *p) > kl + 2);
	assert_memory_equal(*p, key, kl);
	assert_memory_equal(*p + kl, ": ", 2);
	*p += kl + 2;
	nl = memchr(*p, '\n', (size_t)(end - *p));
	assert_non_null(nl);
	v = unescape(*p, (size_t)(nl - *p));
	assert_string_equal(v, want);
	free(v);
	*p = nl + 1;
}

/*
 * Every invariant of a successful render with a bundle: the length bound,
 * UTF-8, the summary whole or cut on a boundary with the notice exactly
 * then, and the four receipt fields recoverable from a comment nobody can
 * close early.
 */
static void check_rendered(const struct forge_capabilities *caps,
			   const struct forge_pr_request *req, const struct buf *out)
{
	const char *s = buf_cstr(out), *block = NULL, *q, *end = s + out->len, *p;
	size_t slen = strlen(req->summary), body_len;

	assert_true(out->len <= caps->max_description_len);
	assert_true(str_utf8_valid(s, out->len));
	for (q = s; (q = strstr(q, BLOCK_OPEN)) != NULL; q++)
		block = q;
	assert_non_null(block);
	body_len = (size_t)(block - s);
	if (body_len == slen && memcmp(s, req->summary, slen) == 0) {
		/* Whole: no notice was added. */
	} else {
		size_t nl = strlen(NOTICE_LINE), kept;

		assert_true(body_len >= nl);
		assert_memory_equal(s + body_len - nl, NOTICE_LINE, nl);
		kept = body_len - nl;
		assert_true(kept < slen);
		assert_memory_equal(s, req->summary, kept);
		/* Cut on a character boundary, and no more than needed. */
		assert_true(((unsigned char)req->summary[kept] & 0xc0) != 0x80);
		assert_true(caps->max_description_len - out->len < 4);
	}
	p = block + strlen(BLOCK_OPEN);
	/* Inside the comment: no "--" and no '>' before the closing "-->". */
	{
		const char *close = end - 4;

		assert_memory_equal(close, "-->\n", 4);
		for (q = p; q < close; q++) {
			assert_int_not_equal(*q, '>');
			assert_false(q + 1 < close && q[0] == '-' && q[1] == '-');
		}
	}
	expect_field(&p, end, "session_id", req->receipt->session_id);
	expect_field(&p, end, "policy_bundle_id", req->receipt->policy_bundle_id);
	expect_field(&p, end, "trajectory_hash", req->receipt->trajectory_hash);
	expect_field(&p, end, "verification_passed",
		     req->receipt->verification_passed ? "true" : "false");
	assert_string_equal(p, "-->\n");
}

static const struct forge_receipt RECEIPT = {"sess-1234", "bundle-7", "sha256:abcdef", true};

static void test_no_bundle_is_body_exactly(void **state)
{
	struct forge_capabilities caps = caps_of(65536);
	struct forge_pr_request req = {"t", "h", "b", "My body\n<!-- x -->", NULL, &RECEIPT};
	struct buf out = BUF_INIT(0);

	(void)state;
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_string_equal(buf_cstr(&out), "My body\n<!-- x -->");
	buf_reset(&out);
	req.body = NULL;
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_int_equal(out.len, 0);
	/* Appends to what out held. */
	buf_puts(&out, "pre:");
	req.body = "x";
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_string_equal(buf_cstr(&out), "pre:x");
	buf_release(&out);
}

static void test_no_bundle_too_long(void **state)
{
	struct forge_capabilities caps = caps_of(10);
	struct forge_pr_request req = {"t", "h", "b", "0123456789A", NULL, NULL};
	struct buf out = BUF_INIT(0), err = BUF_INIT(1024);

	(void)state;
	assert_int_equal(forge_render_description_err(&caps, &req, &out, &err), -EINVAL);
	assert_int_equal(out.len, 0);
	assert_non_null(strstr(buf_cstr(&err), "longer than the forge allows"));
	req.body = "0123456789";
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_string_equal(buf_cstr(&out), "0123456789");
	buf_release(&out);
	buf_release(&err);
}

static void test_bundle_fits(void **state)
{
	struct forge_capabilities caps = caps_of(65536);
	struct forge_pr_request req = {"t", "h", "b", "ignored", "Did the thing.\n", &RECEIPT};
	struct buf out = BUF_INIT(0);

	(void)state;
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_string_equal(buf_cstr(&out), "Did the thing.\n"
					    "\n\n<!-- bottlefs:receipt\n"
					    "session_id: sess-1234\n"
					    "policy_bundle_id: bundle-7\n"
					    "trajectory_hash: sha256:abcdef\n"
					    "verification_passed: true\n"
					    "-->\n");
	assert_null(strstr(buf_cstr(&out), FORGE_TRUNCATION_NOTICE));
	check_rendered(&caps, &req, &out);
	buf_release(&out);
}

static size_t meta_len(const struct forge_receipt *rc)
{
	struct forge_capabilities caps = caps_of(SIZE_MAX / 4);
	struct forge_pr_request req = {"t", "h", "b", NULL, "", rc};
	struct buf out = BUF_INIT(0);
	size_t n;

	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	n = out.len;
	buf_release(&out);
	return n;
}

static void test_bundle_truncated_exact_fit(void **state)
{
	size_t m = meta_len(&RECEIPT), nl = strlen(NOTICE_LINE);
	struct forge_capabilities caps;
	char sum[101];
	struct forge_pr_request req = {"t", "h", "b", NULL, sum, &RECEIPT};
	struct buf out = BUF_INIT(0);

	(void)state;
	memset(sum, 'a', 100);
	memcpy(sum, "abc", 3);
	sum[100] = '\0';
	/* Exactly enough for the whole summary: not truncated. */
	caps = caps_of(m + 100);
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_int_equal(out.len, m + 100);
	assert_null(strstr(buf_cstr(&out), FORGE_TRUNCATION_NOTICE));
	buf_reset(&out);
	/* One byte less: cut, with the notice, exactly at the limit. */
	caps = caps_of(m + 99);
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_int_equal(out.len, m + 99);
	assert_memory_equal(buf_cstr(&out) + 99 - nl, NOTICE_LINE BLOCK_OPEN, nl + 5);
	check_rendered(&caps, &req, &out);
	buf_reset(&out);
	/* Room for the notice and 3 summary bytes. */
	caps = caps_of(m + nl + 3);
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_true(strncmp(buf_cstr(&out), "abc" NOTICE_LINE BLOCK_OPEN, 3 + nl + 5) == 0);
	check_rendered(&caps, &req, &out);
	buf_release(&out);
}

static void test_truncation_never_splits_utf8(void **state)
{
	/* "é" is 2 bytes, "€" 3, "😀" 4. */
	static const char sum[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf0\x9f\x98\x80"
				  "and enough ascii after it that it never fits whole here";
	size_t m = meta_len(&RECEIPT), nl = strlen(NOTICE_LINE), room;
	struct forge_pr_request req = {"t", "h", "b", NULL, sum, &RECEIPT};
	static const size_t want[] = {0, 0, 2, 2, 2, 5, 5, 5, 5, 9, 9, 9, 9};
	struct buf out = BUF_INIT(0);

	(void)state;
	for (room = 0; room < 13; room++) {
		struct forge_capabilities caps = caps_of(m + nl + room);

		buf_reset(&out);
		assert_int_equal(forge_render_description(&caps, &req, &out), 0);
		check_rendered(&caps, &req, &out);
		assert_memory_equal(buf_cstr(&out) + want[room], NOTICE_LINE, nl);
	}
	buf_release(&out);
}

static void test_metadata_alone_does_not_fit(void **state)
{
	size_t m = meta_len(&RECEIPT), nl = strlen(NOTICE_LINE);
	struct forge_capabilities caps = caps_of(m - 1);
	struct forge_pr_request req = {"t", "h", "b", NULL, "", &RECEIPT};
	struct buf out = BUF_INIT(0), err = BUF_INIT(1024);

	(void)state;
	buf_puts(&out, "keep");
	assert_int_equal(forge_render_description_err(&caps, &req, &out, &err), -EINVAL);
	assert_string_equal(buf_cstr(&out), "keep");
	assert_non_null(strstr(buf_cstr(&err), "receipt alone is longer"));
	/* The block fits but the block and the notice do not. */
	buf_reset(&err);
	caps = caps_of(m + nl - 1);
	req.summary = "a summary longer than the few bytes left to it, which are fifty";
	assert_int_equal(forge_render_description_err(&caps, &req, &out, &err), -EINVAL);
	assert_non_null(strstr(buf_cstr(&err), "notice do not fit"));
	assert_string_equal(buf_cstr(&out), "keep");
	/* An empty summary needs no notice: it fits exactly. */
	caps = caps_of(m);
	req.summary = "";
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_int_equal(out.len, 4 + m);
	buf_release(&out);
	buf_release(&err);
}

static void test_receipt_values_cannot_close_comment(void **state)
{
	struct forge_receipt rc = {"a-->b--!>c", "x\n-->\ny%", "<!-- nested -->", false};
	struct forge_capabilities caps = caps_of(65536);
	struct forge_pr_request req = {"t", "h", "b", NULL, "s", &rc};
	struct buf out = BUF_INIT(0);
	const char *s;

	(void)state;
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	check_rendered(&caps, &req, &out);
	s = buf_cstr(&out);
	/* The only "-->" is the one that closes the block. */
	assert_ptr_equal(strstr(s, "-->"), s + out.len - 4);
	/* A single dash (UUIDs) stays readable. */
	rc.session_id = "6f1c-44aa";
	buf_reset(&out);
	assert_int_equal(forge_render_description(&caps, &req, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "session_id: 6f1c-44aa\n"));
	buf_release(&out);
}

static void test_bad_bundles(void **state)
{
	struct forge_receipt rc = RECEIPT;
	struct forge_capabilities caps = caps_of(65536);
	struct forge_pr_request req = {"t", "h", "b", NULL, "s", NULL};
	struct buf out = BUF_INIT(0);

	(void)state;
	assert_int_equal(forge_render_description(&caps, &req, &out), -EINVAL);
	req.receipt = &rc;
	rc.trajectory_hash = NULL;
	assert_int_equal(forge_render_description(&caps, &req, &out), -EINVAL);
	rc.trajectory_hash = "h";
	req.summary = "bad \xc3";
	assert_int_equal(forge_render_description(&caps, &req, &out), -EINVAL);
	assert_int_equal(out.len, 0);
	buf_release(&out);
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Appends one random valid UTF-8 character of 1 to 4 bytes. */
static void put_random_char(struct buf *b, uint64_t *seed)
{
	uint32_t cp;

	switch (rnd(seed) % 5) {
	case 0:
		cp = (uint32_t)(rnd(seed) % 0x80);
		if (cp == 0)
			cp = '-';
		break;
	case 1:
		cp = 0x80 + (uint32_t)(rnd(seed) % (0x800 - 0x80));
		break;
	case 2:
		do
			cp = 0x800 + (uint32_t)(rnd(seed) % (0x10000 - 0x800));
		while (cp >= 0xd800 && cp <= 0xdfff);
		break;
	case 3:
		cp = 0x10000 + (uint32_t)(rnd(seed) % (0x110000 - 0x10000));
		break;
	default: {
		static const char *const bits[] = {"--", ">", "-->", "\n", "%", "<!--", " "};

		buf_puts(b, bits[rnd(seed) % 7]);
		return;
	}
	}
	if (cp < 0x80) {
		buf_putc(b, (char)cp);
	} else if (cp < 0x800) {
		buf_putc(b, (char)(0xc0 | (cp >> 6)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		buf_putc(b, (char)(0xe0 | (cp >> 12)));
		buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		buf_putc(b, (char)(0xf0 | (cp >> 18)));
		buf_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
		buf_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		buf_putc(b, (char)(0x80 | (cp & 0x3f)));
	}
}

static void random_text(struct buf *b, uint64_t *seed, size_t approx)
{
	buf_reset(b);
	buf_puts(b, "");
	while (b->len < approx)
		put_random_char(b, seed);
}

static void test_randomized(void **state)
{
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	struct buf sum = BUF_INIT(0), v1 = BUF_INIT(0), v2 = BUF_INIT(0), v3 = BUF_INIT(0);
	struct buf out = BUF_INIT(0);
	size_t iter, ok = 0, cut = 0, refused = 0;

	(void)state;
	for (iter = 0; iter < 3000; iter++) {
		struct forge_receipt rc;
		struct forge_capabilities caps;
		struct forge_pr_request req;
		size_t slen, m, max, nl = strlen(NOTICE_LINE);
		int r;

		/* Mostly small, sometimes huge (up to 1 MB) summaries. */
		slen = iter % 50 == 0 ? (size_t)(rnd(&seed) % (1u << 20))
				      : (size_t)(rnd(&seed) % 3000);
		random_text(&sum, &seed, slen);
		random_text(&v1, &seed, (size_t)(rnd(&seed) % 60));
		random_text(&v2, &seed, (size_t)(rnd(&seed) % 60));
		random_text(&v3, &seed, (size_t)(rnd(&seed) % 60));
		rc.session_id = buf_cstr(&v1);
		rc.policy_bundle_id = buf_cstr(&v2);
		rc.trajectory_hash = buf_cstr(&v3);
		rc.verification_passed = rnd(&seed) & 1;
		m = meta_len(&rc);
		/* Limits around the interesting edges and beyond them. */
		switch (rnd(&seed) % 4) {
		case 0:
			max = (size_t)(rnd(&seed) % (m + 1));
			break;
		case 1:
			max = m + (size_t)(rnd(&seed) % (nl + 8));
			break;
		case 2:
			max = m + (size_t)(rnd(&seed) % (sum.len + nl + 8));
			break;
		default:
			max = 65536;
			break;
		}
		caps = caps_of(max);
		req = (struct forge_pr_request){"t", "h", "b", NULL, buf_cstr(&sum), &rc};
		buf_reset(&out);
		r = forge_render_description(&caps, &req, &out);
		if (m > max || (sum.len > max - m && max - m < nl)) {
			assert_int_equal(r, -EINVAL);
			assert_int_equal(out.len, 0);
			refused++;
			continue;
		}
		assert_int_equal(r, 0);
		check_rendered(&caps, &req, &out);
		if (sum.len > max - m)
			cut++;
		ok++;
	}
	/* The generator reached every branch. */
	assert_true(ok > 500);
	assert_true(cut > 200);
	assert_true(refused > 200);
	buf_release(&sum);
	buf_release(&v1);
	buf_release(&v2);
	buf_release(&v3);
	buf_release(&out);
}

static void test_capabilities_json(void **state)
{
	struct forge_capabilities caps = caps_of(65536);
	char *s = forge_capabilities_json(&caps);

	(void)state;
	assert_non_null(s);
	assert_string_equal(s, "{\n"
			       "  \"name\": \"gitea\",\n"
			       "  \"max_description_len\": 65536,\n"
			       "  \"structured_metadata\": false,\n"
			       "  \"push_branch\": false,\n"
			       "  \"update_pr_status\": true,\n"
			       "  \"max_page_size\": 50\n"
			       "}\n");
	free(s);
}

static void test_copy_and_release(void **state)
{
	char *labels[] = {"bug", "ui"};
	struct forge_issue src = {5,	  "title", "body", "open", "me",   labels, 2,	  3,
				  "2025", "2024",  true,   "feat", "main", true,   "{}\n"};
	struct forge_issue dst;
	struct forge_comment c = {1, 5, "b", "a", "c", "u"}, cd;

	(void)state;
	assert_int_equal(forge_issue_copy(&dst, &src), 0);
	assert_ptr_not_equal(dst.title, src.title);
	assert_string_equal(dst.title, "title");
	assert_int_equal(dst.n_labels, 2);
	assert_string_equal(dst.labels[1], "ui");
	assert_string_equal(dst.head, "feat");
	assert_string_equal(dst.created_at, "2024");
	assert_true(dst.merged);
	assert_string_equal(dst.json, "{}\n");
	forge_issue_release(&dst);
	assert_null(dst.title);
	assert_int_equal(forge_comment_copy(&cd, &c), 0);
	assert_string_equal(cd.updated_at, "u");
	assert_int_equal(cd.issue, 5);
	forge_comment_release(&cd);
	forge_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_bundle_is_body_exactly),
	    cmocka_unit_test(test_no_bundle_too_long),
	    cmocka_unit_test(test_bundle_fits),
	    cmocka_unit_test(test_bundle_truncated_exact_fit),
	    cmocka_unit_test(test_truncation_never_splits_utf8),
	    cmocka_unit_test(test_metadata_alone_does_not_fit),
	    cmocka_unit_test(test_receipt_values_cannot_close_comment),
	    cmocka_unit_test(test_bad_bundles),
	    cmocka_unit_test(test_randomized),
	    cmocka_unit_test(test_capabilities_json),
	    cmocka_unit_test(test_copy_and_release),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
