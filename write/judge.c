/*
 * judge: the write-time judgement (write.h, write_judge_*).
 *
 * Each scanner below reads one more byte of content and says whether what
 * was read so far can still become valid by writing more; it mirrors the
 * close-time rule next to which it is named (write_check_field, done_parse,
 * write_check_comment, prnew_parse), and tests/unit/test_judge.c checks the
 * property that matters: every prefix of content the close-time rule
 * accepts is accepted here, written in any pieces.
 */
#include "write/internal.h"

#include <errno.h>
#include <string.h>

#include "util/str.h"

enum judge_what {
	J_NONE,	  /* nothing judged at write (scratch files and the like) */
	J_TEXT,	  /* UTF-8 without NUL: body, labels, comments/new, pulls/new */
	J_TITLE,  /* and one line without control characters (write_check_field) */
	J_STATE,  /* and [ \t]* (open|closed) [ \t]* \r? \n? (write_check_field) */
	J_PSTATE, /* a pull request's state: open|closed|draft|ready, the same way */
	J_DONE,	  /* and a first line with a status, or JSON (done_parse) */
};

/* The title scanner's phases. */
enum { T_EMPTY, T_TEXT, T_CR, T_NL };

/*
 * write_check_field for a title: one trailing "\n" then one "\r" are
 * removed, what is left must be non-empty and have no control character
 * (str_has_control, C1 included). prev is the byte before c (0 at the
 * start), for the C1 controls' two-byte encoding.
 */
static bool title_byte(struct write_judge *j, unsigned char prev, unsigned char c)
{
	char pair[2] = {(char)prev, (char)c};

	switch (j->phase) {
	case T_NL:
		return false; /* nothing may follow the one newline */
	case T_CR:
		if (c != '\n')
			return false;
		j->phase = T_NL;
		return true;
	default:
		break;
	}
	if (c == '\n' || c == '\r') {
		if (j->phase == T_EMPTY)
			return false; /* the title would be empty */
		j->phase = c == '\n' ? T_NL : T_CR;
		return true;
	}
	if (write_title_has_control(pair + 1, 1) ||
	    (prev == 0xc2 && write_title_has_control(pair, 2)))
		return false;
	j->phase = T_TEXT;
	return true;
}

/* The first two for an issue, all four for a pull request. */
static const char *const state_words[] = {"open", "closed", "draft", "ready"};
enum { S_LEAD, S_WORD, S_TRAIL, S_CR, S_NL };

/*
 * write_check_field for state: after one trailing "\n" then one "\r" are
 * removed and spaces and tabs trimmed, "open" or "closed".
 */
static bool state_byte(struct write_judge *j, unsigned char c, size_t words)
{
	bool blank = c == ' ' || c == '\t';
	size_t i;

	switch (j->phase) {
	case S_LEAD:
		if (blank)
			return true;
		for (i = 0; i < words; i++) {
			if (c == (unsigned char)state_words[i][0]) {
				j->phase = S_WORD;
				j->word = (unsigned)i;
				j->k = 1;
				return true;
			}
		}
		return false;
	case S_WORD:
		if (state_words[j->word][j->k]) {
			if (c != (unsigned char)state_words[j->word][j->k])
				return false;
			j->k++;
			return true;
		}
		/* fall through - the word is whole */
	case S_TRAIL:
		if (blank) {
			j->phase = S_TRAIL;
			return true;
		}
		if (c == '\r' || c == '\n') {
			j->phase = c == '\r' ? S_CR : S_NL;
			return true;
		}
		return false;
	case S_CR:
		if (c != '\n')
			return false;
		j->phase = S_NL;
		return true;
	default:
		return false; /* S_NL: nothing may follow */
	}
}

static const char *const done_words[] = {"success", "failure", "blocked"};
enum { D_LEAD, D_LEAD_NL, D_JSON, D_WORD, D_TRAIL, D_REST };

static bool done_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/*
 * done_parse: JSON when the first non-space byte is '{' (judged at close);
 * otherwise the first line, trimmed of spaces, is exactly a status, and
 * anything may follow its newline. A newline before anything else leaves
 * only JSON possible (the first line would be blank).
 */
static bool done_byte(struct write_judge *j, unsigned char c)
{
	size_t i;

	switch (j->phase) {
	case D_JSON:
	case D_REST:
		return true;
	case D_LEAD:
	case D_LEAD_NL:
		if (c == '{') {
			j->phase = D_JSON;
			return true;
		}
		if (done_space(c)) {
			if (c == '\n')
				j->phase = D_LEAD_NL;
			return true;
		}
		if (j->phase == D_LEAD_NL)
			return false;
		for (i = 0; i < 3; i++) {
			if (c == (unsigned char)done_words[i][0]) {
				j->phase = D_WORD;
				j->word = (unsigned)i;
				j->k = 1;
				return true;
			}
		}
		return false;
	case D_WORD:
		if (done_words[j->word][j->k]) {
			if (c != (unsigned char)done_words[j->word][j->k])
				return false;
			j->k++;
			return true;
		}
		/* fall through - the status is whole */
	default: /* D_TRAIL */
		if (c == '\n') {
			j->phase = D_REST;
			return true;
		}
		if (done_space(c)) {
			j->phase = D_TRAIL;
			return true;
		}
		return false;
	}
}

void write_judge_init(struct write_judge *j, const struct write_target *t)
{
	memset(j, 0, sizeof(*j));
	switch (t->kind) {
	case WRITE_FIELD:
		j->what = t->field == WRITE_TITLE   ? J_TITLE
			  : t->field == WRITE_STATE ? (t->pull ? J_PSTATE : J_STATE)
						    : J_TEXT;
		break;
	case WRITE_COMMENT:
	case WRITE_PULL:
		j->what = J_TEXT;
		break;
	case WRITE_DONE:
		j->what = J_DONE;
		break;
	default:
		j->what = J_NONE;
	}
}

static int judge_refuse(const struct write_judge *j, struct buf *err)
{
	switch (j->what) {
	case J_TITLE:
		return write_invalid(
		    err, "title must be one non-empty line without control characters%s", "");
	case J_STATE:
		return write_invalid(err, "state must be 'open' or 'closed'%s", "");
	case J_PSTATE:
		return write_invalid(err, "state must be 'open', 'closed', 'draft' or 'ready'%s",
				     "");
	default:
		return write_invalid(
		    err, "done: the first line must be success, failure or blocked%s", "");
	}
}

int write_judge_more(struct write_judge *j, const char *data, size_t len, struct buf *err)
{
	const unsigned char *p = (const unsigned char *)data;
	struct write_judge next = *j;
	size_t i, whole;

	if (j->what == J_NONE || len <= j->at) {
		if (len > j->at)
			j->at = len;
		return 0;
	}
	/* Text: NUL-free and UTF-8, except for a last character still cut short. */
	if (memchr(data + j->at, '\0', len - j->at) ||
	    !str_utf8_valid_prefix(data + j->whole, len - j->whole, &whole))
		return write_invalid(err, "%s", "content is not UTF-8 text (or holds a NUL byte)");
	next.whole = j->whole + whole;
	for (i = j->at; i < len && j->what != J_TEXT; i++) {
		bool ok;

		if (j->what == J_TITLE)
			ok = title_byte(&next, i ? p[i - 1] : 0, p[i]);
		else if (j->what == J_STATE || j->what == J_PSTATE)
			ok = state_byte(&next, p[i], j->what == J_PSTATE ? 4 : 2);
		else
			ok = done_byte(&next, p[i]);
		if (!ok)
			return judge_refuse(j, err);
	}
	next.at = len;
	*j = next;
	return 0;
}

int write_prefix_ok(const struct write_target *t, const char *data, size_t len, struct buf *err)
{
	struct write_judge j;

	write_judge_init(&j, t);
	return write_judge_more(&j, data, len, err);
}
