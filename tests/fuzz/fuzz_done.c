/*
 * libFuzzer target for done_parse (state/done.h).
 *
 * Besides "no crash, no leak, no UB", it checks the parser's promises on
 * every accepted input: a known status, a summary that is valid UTF-8
 * without NUL, and that what reading /done shows (done_signal_text) parses
 * back to the same signal. A rejected input must leave an error reason of
 * one printable UTF-8 line (no control bytes, even when it quotes input).
 *
 * Build and run (see the closing note of the state module):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. \
 *     tests/fuzz/fuzz_done.c state/done.c util/buf.c util/str.c -ljansson -o fuzz_done
 *   ./fuzz_done -max_total_time=30 tests/fuzz/done
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "write/done.h"
#include "util/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct done_signal s, back;
	struct buf err = BUF_INIT(4096);
	size_t n;
	char *text;

	if (done_parse((const char *)data, size, &s, &err) != 0) {
		if (err.len == 0 || strlen(err.data) != err.len ||
		    !str_utf8_valid(err.data, err.len))
			abort();
		for (n = 0; n < err.len; n++)
			if ((unsigned char)err.data[n] < 0x20 || err.data[n] == 0x7f)
				abort();
		buf_release(&err);
		return 0;
	}
	if (err.len != 0 || (unsigned)s.status > DONE_BLOCKED || !s.summary)
		abort();
	n = strlen(s.summary);
	if (n >= size + 1 || !str_utf8_valid(s.summary, n))
		abort();
	text = done_signal_text(&s);
	if (!text)
		abort();
	if (done_parse(text, strlen(text), &back, NULL) != 0)
		abort();
	if (back.status != s.status || strcmp(back.summary, s.summary) != 0)
		abort();
	done_signal_release(&back);
	free(text);
	done_signal_release(&s);
	buf_release(&err);
	return 0;
}
