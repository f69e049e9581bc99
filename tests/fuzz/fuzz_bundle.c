/*
 * libFuzzer target for the bundle checker (forge/git/bundle.h).
 *
 * Besides "no crash, no leak, no UB", it checks the checker's promises on
 * every input: fed whole or in pieces (sizes drawn from the input itself)
 * it gives the same answer and the same reason; a failure is sticky and
 * its reason is one printable line; a complete bundle read every object it
 * announced and ends exactly at its last byte; bundle_push_tip succeeds
 * only for exactly one branch-like ref.
 *
 * Build and run: scripts/fuzz (builds build-fuzz), or
 *   ./build-fuzz/tests/fuzz/fuzz_bundle -max_total_time=30 tests/fuzz/bundle
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forge/git/bundle.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct bundle_limits lim = {
    .max_bundle = (uint64_t)4 << 20,
    .max_object = (uint64_t)64 << 10,
    .max_inflated = (uint64_t)1 << 20,
};

static void one_line(const struct buf *b)
{
	size_t i;

	if (b->len == 0 || strlen(b->data) != b->len || !str_utf8_valid(b->data, b->len))
		abort();
	for (i = 0; i < b->len; i++)
		if ((unsigned char)b->data[i] < 0x20 || b->data[i] == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle_check *whole, *pieces;
	struct buf why1 = BUF_INIT(4096), why2 = BUF_INIT(4096), again = BUF_INIT(4096);
	const struct bundle_header *h;
	const char *tip, *ref;
	size_t off = 0, k = 0;
	int r1, r2 = BUNDLE_INCOMPLETE;

	if (bundle_check_new(&lim, &whole) || bundle_check_new(&lim, &pieces))
		abort();
	r1 = bundle_check_feed(whole, data, size, &why1);
	while (off < size && r2 >= 0) {
		size_t n = 1 + (data[k++ % size] % 97);

		n = n < size - off ? n : size - off;
		r2 = bundle_check_feed(pieces, data + off, n, &why2);
		off += n;
	}
	if (r1 != r2 || strcmp(buf_cstr(&why1), buf_cstr(&why2)) != 0)
		abort();
	if (r1 < 0) {
		if (r1 != -EINVAL && r1 != -EFBIG)
			abort();
		one_line(&why1);
		/* Sticky, with the same reason. */
		if (bundle_check_finish(whole, &again) != r1 ||
		    strcmp(buf_cstr(&again), buf_cstr(&why1)) != 0)
			abort();
		if (bundle_check_header(whole))
			abort();
	} else if (r1 == BUNDLE_COMPLETE) {
		h = bundle_check_header(whole);
		if (!h || !h->have_pack_header || h->objects_seen != h->n_objects ||
		    bundle_check_offset(whole) != size || h->max_object > lim.max_object)
			abort();
		if (bundle_check_finish(whole, NULL) != 0)
			abort();
		if (bundle_push_tip(whole, &tip, &ref, &again) == 0) {
			if (h->n_refs != 1 || !bundle_oid_valid(tip, strlen(tip)) ||
			    (strcmp(ref, "HEAD") != 0 && strncmp(ref, "refs/heads/", 11) != 0))
				abort();
		} else {
			one_line(&again);
		}
	} else {
		if (bundle_check_offset(whole) != size)
			abort();
		if (bundle_check_finish(whole, &again) != -EINVAL)
			abort();
		one_line(&again);
	}
	bundle_check_free(whole);
	bundle_check_free(pieces);
	buf_release(&why1);
	buf_release(&why2);
	buf_release(&again);
	return 0;
}
