/*
 * The write-time judge (write/write.h: write_judge_*, write_prefix_ok)
 * against the close-time rules (write_validate), and the util predicates
 * it rests on.
 *
 * The property that matters (issue 12 item 8): when the close-time rule
 * accepts X, every prefix of X is accepted at write(), whether judged at
 * once or in any pieces. Checked on a hand-picked corpus and on random
 * content drawn from alphabets that make valid content likely, for every
 * writable kind. Then the other side: what can never become valid is
 * refused at the first write that shows it.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "write/write.h"
#include "util/buf.h"
#include "util/str.h"

static struct write_target field(enum write_kind kind, enum write_field f)
{
	struct write_target t;

	memset(&t, 0, sizeof(t));
	t.kind = kind;
	t.field = f;
	t.owner = "alice";
	t.repo = "dotfiles";
	t.number = 2;
	return t;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Every prefix of data[0, len), judged whole and in random pieces, is accepted. */
static void all_prefixes_accepted(const struct write_target *n, const char *data, size_t len)
{
	struct buf err = BUF_INIT(0);
	struct write_judge j;
	size_t k, at;

	for (k = 0; k <= len; k++) {
		if (write_prefix_ok(n, data, k, &err) != 0)
			fail_msg("prefix %zu of %zu refused (%s): '%.*s'", k, len, buf_cstr(&err),
				 (int)len, data);
	}
	for (k = 0; k < 8; k++) {
		write_judge_init(&j, n);
		for (at = 0; at < len;) {
			size_t piece = 1 + (size_t)(rnd() % 5);

			at = at + piece > len ? len : at + piece;
			if (write_judge_more(&j, data, at, &err) != 0)
				fail_msg("piece ending at %zu refused (%s): '%.*s'", at,
					 buf_cstr(&err), (int)len, data);
			assert_int_equal(j.at, at);
		}
	}
	buf_release(&err);
}

static void corpus_holds(const struct write_target *n, const char *const *valid, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (write_validate(n, valid[i], strlen(valid[i]), NULL) != 0)
			fail_msg("corpus entry not valid at close: '%s'", valid[i]);
		all_prefixes_accepted(n, valid[i], strlen(valid[i]));
	}
}

#define COUNT(a) (sizeof(a) / sizeof(*(a)))

static void test_corpus(void **s)
{
	static const char *const titles[] = {
	    "x",
	    "Bash history is too short",
	    "Bash history\n",
	    "caf\xc3\xa9 au lait\r\n",
	    "euro \xe2\x82\xac\r",
	    "emoji \xf0\x9f\x98\x80\n",
	    "  leading and trailing  ",
	};
	static const char *const states[] = {
	    "open",   "closed",	   "open\n",	"closed\r\n",
	    "  open", "\topen \t", "closed \r", " \t closed\t\n",
	};
	static const char *const texts[] = {
	    "",
	    "\n",
	    "a body\n\nwith lines\n",
	    "tab\tand\x1b[31m escapes are fine in a body",
	    "\xe2\x82\xac\xf0\x9f\x98\x80",
	    "bug\nenhancement\n",
	};
	static const char *const comments[] = {"x", "a comment\n", "two\nlines\r\n", "\xc3\xa9"};
	static const char *const dones[] = {
	    "success",
	    "failure\n",
	    "blocked\nno token for the registry\n",
	    "  success  \r\nsummary with { braces",
	    "\n\n {\"status\": \"success\", \"summary\": \"done\"}",
	    "{\"status\":\"blocked\"}",
	    "success\n\xe2\x82\xac",
	};
	static const char *const pulls[] = {
	    "{\"title\": \"t\", \"head\": \"vim-plugins\", \"base\": \"main\"}",
	    "{\"title\": \"caf\xc3\xa9\", \"head\": \"h\", \"base\": \"main\", \"body\": \"b\"}",
	};
	struct write_target title = field(WRITE_FIELD, WRITE_TITLE),
			    state = field(WRITE_FIELD, WRITE_STATE);
	struct write_target body = field(WRITE_FIELD, WRITE_BODY),
			    labels = field(WRITE_FIELD, WRITE_LABELS);
	struct write_target comment = field(WRITE_COMMENT, 0), done = field(WRITE_DONE, 0);
	struct write_target pull = field(WRITE_PULL, 0);

	(void)s;
	corpus_holds(&title, titles, COUNT(titles));
	corpus_holds(&state, states, COUNT(states));
	corpus_holds(&body, texts, COUNT(texts));
	corpus_holds(&labels, texts, COUNT(texts));
	corpus_holds(&comment, comments, COUNT(comments));
	corpus_holds(&done, dones, COUNT(dones));
	corpus_holds(&pull, pulls, COUNT(pulls));
}

/*
 * Random content from an alphabet: whenever the close-time rule accepts
 * it, every prefix must be accepted. Returns how many were valid, so the
 * test can insist the alphabet produced enough of them to mean something.
 */
static size_t random_property(const struct write_target *n, const char *const *alphabet, size_t na,
			      size_t tries, size_t max_pieces)
{
	char data[256];
	size_t t, valid = 0;

	for (t = 0; t < tries; t++) {
		size_t len = 0, pieces = (size_t)(rnd() % (max_pieces + 1)), i;

		for (i = 0; i < pieces; i++) {
			const char *a = alphabet[rnd() % na];
			size_t l = strlen(a);

			if (len + l >= sizeof(data))
				break;
			memcpy(data + len, a, l);
			len += l;
		}
		if (write_validate(n, data, len, NULL) != 0)
			continue;
		valid++;
		all_prefixes_accepted(n, data, len);
	}
	return valid;
}

static void test_random_property(void **s)
{
	static const char *const state_abc[] = {" ", "\t", "\r",  "\n",	 "open", "closed",
						"o", "x",  "pen", "clo", "sed"};
	static const char *const title_abc[] = {"a",	"b",	" ",	"\t",	"\r",	"\n",
						"\xc3", "\xa9", "\xc2", "\x85", "\x1b", "\x7f"};
	static const char *const done_abc[] = {
	    "success",	   "failure",	  "blocked", " ",	    "\t", "\r",
	    "\n",	   "{",		  "}",	     "\"",	    "s",  "x",
	    "\"status\":", "\"success\"", ",",	     "\xe2\x82\xac"};
	static const char *const text_abc[] = {"a",
					       "\n",
					       "\r",
					       "\t",
					       "\xe2",
					       "\x82",
					       "\xac",
					       "\xf0\x9f\x98\x80",
					       "\xed\xa0\x80",
					       "\xc0\xaf",
					       "\xff"};
	struct write_target state = field(WRITE_FIELD, WRITE_STATE),
			    title = field(WRITE_FIELD, WRITE_TITLE);
	struct write_target done = field(WRITE_DONE, 0), body = field(WRITE_FIELD, WRITE_BODY);
	struct write_target comment = field(WRITE_COMMENT, 0);

	(void)s;
	assert_true(random_property(&state, state_abc, COUNT(state_abc), 40000, 5) > 200);
	assert_true(random_property(&title, title_abc, COUNT(title_abc), 40000, 6) > 200);
	assert_true(random_property(&done, done_abc, COUNT(done_abc), 40000, 6) > 200);
	assert_true(random_property(&body, text_abc, COUNT(text_abc), 20000, 8) > 200);
	assert_true(random_property(&comment, text_abc, COUNT(text_abc), 20000, 8) > 200);
}

/* refused(n, data, at): data is refused, and its first at bytes were not. */
static void refused_at(const struct write_target *n, const char *data, size_t len, size_t at)
{
	struct buf err = BUF_INIT(0);

	if (write_prefix_ok(n, data, at - 1, NULL) != 0)
		fail_msg("'%.*s' refused before byte %zu", (int)len, data, at);
	if (write_prefix_ok(n, data, at, &err) != -EINVAL)
		fail_msg("'%.*s' not refused at byte %zu", (int)len, data, at);
	assert_true(err.len > 0);
	if (write_validate(n, data, len, NULL) == 0)
		fail_msg("'%.*s' is valid at close but refused at write", (int)len, data);
	buf_release(&err);
}

#define REFUSED_AT(n, lit, at) refused_at(n, lit, sizeof(lit) - 1, at)

static void test_refusals(void **s)
{
	struct write_target state = field(WRITE_FIELD, WRITE_STATE),
			    title = field(WRITE_FIELD, WRITE_TITLE);
	struct write_target done = field(WRITE_DONE, 0), body = field(WRITE_FIELD, WRITE_BODY);
	struct write_target comment = field(WRITE_COMMENT, 0), pull = field(WRITE_PULL, 0);

	(void)s;
	REFUSED_AT(&state, "sideways\n", 1);
	REFUSED_AT(&state, "opened\n", 5);
	REFUSED_AT(&state, "open\nx", 6);
	REFUSED_AT(&state, "open\r\r", 6);
	REFUSED_AT(&state, "op en", 3);
	REFUSED_AT(&title, "two\nlines\n", 5);
	REFUSED_AT(&title, "\n", 1);
	REFUSED_AT(&title, "\r\n", 1);
	REFUSED_AT(&title, "red \x1b[31m", 5);
	REFUSED_AT(&title, "tab\there", 4);
	REFUSED_AT(&title, "c1 \xc2\x9b", 5);
	REFUSED_AT(&title, "cr\rx", 4);
	REFUSED_AT(&done, "maybe\n", 1);
	REFUSED_AT(&done, "successful\n", 8);
	REFUSED_AT(&done, "succ ess", 5);
	REFUSED_AT(&done, "success x\n", 9);
	REFUSED_AT(&done, "\nsuccess", 2);
	REFUSED_AT(&body, "bad \xff byte", 5);
	REFUSED_AT(&body, "a NUL \0 byte", 7);
	REFUSED_AT(&body, "surrogate \xed\xa0\x80", 12);
	REFUSED_AT(&body, "overlong \xc0\xaf", 10);
	REFUSED_AT(&comment, "\xe2\x82x", 3);
	REFUSED_AT(&pull, "{\"title\": \"\xfe\"}", 12);
}

/* Once judged, a judge only looks at what is new (it does not rescan). */
static void test_incremental(void **s)
{
	struct write_target state = field(WRITE_FIELD, WRITE_STATE);
	struct buf err = BUF_INIT(0);
	struct write_judge j;
	char big[8192];

	(void)s;
	memset(big, ' ', sizeof(big));
	write_judge_init(&j, &state);
	assert_int_equal(write_judge_more(&j, big, 4096, &err), 0);
	memcpy(big + 4096, "open", 4);
	assert_int_equal(write_judge_more(&j, big, 4100, &err), 0);
	assert_int_equal(j.at, 4100);
	/* A refusal leaves the judge as it was. */
	big[4100] = 'x';
	assert_int_equal(write_judge_more(&j, big, 4101, &err), -EINVAL);
	assert_int_equal(j.at, 4100);
	big[4100] = '\n';
	assert_int_equal(write_judge_more(&j, big, 4101, &err), 0);
	/* Scratch files and other kinds are not judged at write. */
	{
		struct write_target scratch = field(WRITE_NONE, 0);

		assert_int_equal(write_prefix_ok(&scratch, "\0\xff", 2, NULL), 0);
	}
	buf_release(&err);
}

/* A pull request's state takes draft and ready too, at write() and at close(); an issue's not. */
static void test_pull_state_words(void **s)
{
	struct write_target issue = field(WRITE_FIELD, WRITE_STATE), pull = issue;
	static const char *const words[] = {"draft\n", "ready", " open ", "closed\r\n"};
	size_t i;

	(void)s;
	pull.pull = true;
	for (i = 0; i < 4; i++) {
		all_prefixes_accepted(&pull, words[i], strlen(words[i]));
		assert_int_equal(write_validate(&pull, words[i], strlen(words[i]), NULL), 0);
	}
	assert_int_equal(write_prefix_ok(&issue, "d", 1, NULL), -EINVAL);
	assert_int_equal(write_prefix_ok(&issue, "r", 1, NULL), -EINVAL);
	assert_int_equal(write_validate(&issue, "draft", 5, NULL), -EINVAL);
	assert_int_equal(write_validate(&issue, "ready\n", 6, NULL), -EINVAL);
	assert_int_equal(write_prefix_ok(&pull, "drafty", 6, NULL), -EINVAL);
	assert_int_equal(write_validate(&pull, "merged", 6, NULL), -EINVAL);
}

static void test_str_predicates(void **s)
{
	size_t whole;

	(void)s;
	assert_true(str_utf8_valid_prefix("", 0, &whole));
	assert_int_equal(whole, 0);
	assert_true(str_utf8_valid_prefix("ab\xe2\x82", 4, &whole));
	assert_int_equal(whole, 2);
	assert_true(str_utf8_valid_prefix("\xf0\x9f\x98", 3, NULL));
	assert_true(str_utf8_valid_prefix("\xf4\x8f", 2, NULL));
	assert_false(str_utf8_valid_prefix("\xf4\x90", 2, NULL)); /* past U+10FFFF */
	assert_false(str_utf8_valid_prefix("\xe0\x80", 2, NULL)); /* overlong */
	assert_false(str_utf8_valid_prefix("\xed\xa0", 2, NULL)); /* surrogate */
	assert_false(str_utf8_valid_prefix("\xc0", 1, NULL));
	assert_false(str_utf8_valid_prefix("\xe2\x82x", 3, NULL));
	assert_false(str_utf8_valid_prefix("\x80", 1, NULL));
	assert_false(str_utf8_valid_prefix("\xf0\x9f\x98\x80\x80", 5, NULL));
	assert_false(str_has_control("plain text", 10, false));
	assert_true(str_has_control("a\tb", 3, false));
	assert_false(str_has_control("a\tb\nc", 5, true));
	assert_true(str_has_control("a\rb", 3, true));
	assert_true(str_has_control("\x1b[31m", 5, true));
	assert_true(str_has_control("\x7f", 1, true));
	assert_true(str_has_control("\xc2\x9b", 2, true));
	assert_false(str_has_control("\xc2\xa9", 2, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corpus),	     cmocka_unit_test(test_random_property),
	    cmocka_unit_test(test_refusals),	     cmocka_unit_test(test_incremental),
	    cmocka_unit_test(test_pull_state_words), cmocka_unit_test(test_str_predicates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
