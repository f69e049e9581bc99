/* `bottlefs state ...`: the state store from the command line (state.h). */
#include "cli/cli.h"

#include "state/state.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/str.h"
#include "util/time.h"

#define STDIN_MAX ((size_t)16 << 20)

static const char usage_text[] = "usage: bottlefs state list\n"
				 "       bottlefs state get OWNER REPO ISSUE\n"
				 "       bottlefs state set OWNER REPO ISSUE JSON|-\n"
				 "       bottlefs state delete OWNER REPO ISSUE\n"
				 "       bottlefs state prs OWNER REPO ISSUE\n"
				 "       bottlefs state provenance\n"
				 "       bottlefs state journal [--unfinished]\n";

static int usage(FILE *f)
{
	fputs(usage_text, f);
	return 2;
}

/*
 * A JSON string for text that may not be UTF-8 (a journal payload is
 * whatever the agent wrote): invalid bytes become U+FFFD, so a line of
 * output is always valid JSON. New reference; JSON null for NULL.
 */
static json_t *json_lossy(const char *s)
{
	struct buf b = BUF_INIT(0);
	size_t n;
	json_t *j;

	if (!s)
		return json_null();
	n = strlen(s);
	if (str_utf8_valid(s, n))
		return json_stringn(s, n);
	/* What fits of an over-long text is shown: the buffer keeps it. */
	(void)!str_sanitize(&b, s, n, "\xef\xbf\xbd", false);
	j = json_stringn(buf_cstr(&b), b.len);
	buf_release(&b);
	return j;
}

/* A time gmtime cannot give is printed as the number it is. */
static void rfc3339(int64_t t, char *out, size_t n)
{
	(void)!time_to_rfc3339(t, out, n);
}

/* Prints j compact on one line; consumes j. */
static int print_json(FILE *out, json_t *j)
{
	char *s;

	if (!j)
		return -ENOMEM;
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!s)
		return -ENOMEM;
	fputs(s, out);
	fputc('\n', out);
	free(s);
	return 0;
}

/* Stored JSON re-serialised compact; a row edited by hand into non-JSON prints as is. */
static void print_record_json(FILE *out, const char *json)
{
	json_t *j = json_loads(json, JSON_DECODE_ANY, NULL);
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER) : NULL;

	fputs(s ? s : json, out);
	fputc('\n', out);
	free(s);
	json_decref(j);
}

static int list_cb(void *ud, const char *owner, const char *repo, uint64_t issue, const char *json)
{
	FILE *out = ud;

	fprintf(out, "%s/%s#%" PRIu64 "\t", owner, repo, issue);
	print_record_json(out, json);
	return 0;
}

static int provenance_cb(void *ud, int64_t id, int64_t when, const char *what, const char *where,
			 const char *answer)
{
	char t[64];
	json_t *j;

	rfc3339(when, t, sizeof(t));
	j = json_pack("{s:I, s:s, s:o, s:o, s:o}", "id", (json_int_t)id, "time", t, "what",
		      json_lossy(what), "where", json_lossy(where), "answer", json_lossy(answer));
	return print_json(ud, j);
}

struct journal_walk {
	FILE *out;
	bool unfinished;
};

/* A number, or JSON null when it is not set. New reference. */
static json_t *json_number_or_null(bool set, uint64_t v)
{
	return set ? json_integer((json_int_t)v) : json_null();
}

static int journal_cb(void *ud, const struct journal_entry *e)
{
	struct journal_walk *w = ud;
	struct buf assign = BUF_INIT(0);
	char t[64];
	json_t *j;

	if (w->unfinished && e->status != JOURNAL_PENDING && e->status != JOURNAL_SENDING)
		return 0;
	rfc3339(e->created, t, sizeof(t));
	/* The assignment as --assign spells it (null: a schema 1 row that has none). */
	if (e->assign_owner && buf_printf(&assign, "%s/%s#%" PRIu64, e->assign_owner,
					  e->assign_repo, e->assign_issue) < 0)
		return -ENOMEM;
	j = json_pack("{s:I, s:s, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o}",
		      "id", (json_int_t)e->id, "status", journal_status_name(e->status), "kind",
		      json_lossy(e->kind), "owner", json_lossy(e->owner), "repo",
		      json_lossy(e->repo), "number", (json_int_t)e->number, "field",
		      json_lossy(e->field), "payload", json_lossy(e->payload), "marker",
		      json_lossy(e->marker), "answer", json_lossy(e->answer), "created", t,
		      "assign", json_lossy(e->assign_owner ? buf_cstr(&assign) : NULL), "forge_id",
		      json_number_or_null(e->forge_id != 0, e->forge_id), "floor",
		      json_number_or_null(e->has_floor, e->floor));
	buf_release(&assign);
	return print_json(w->out, j);
}

/* Reads all of in, at most STDIN_MAX bytes. New string. */
static int read_all(FILE *in, char **out)
{
	struct buf b = BUF_INIT(STDIN_MAX);
	char chunk[8192];
	size_t n;
	int r = 0;

	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0) {
		r = buf_append(&b, chunk, n);
		if (r < 0)
			goto out;
	}
	if (ferror(in)) {
		r = -EIO;
		goto out;
	}
	*out = buf_steal(&b, NULL);
	if (!*out)
		r = -ENOMEM;
out:
	buf_release(&b);
	return r;
}

static int parse_key(char **argv, uint64_t *issue, FILE *errf)
{
	if (!*argv[0] || !*argv[1]) {
		fputs("state: owner and repo must not be empty\n", errf);
		return -EINVAL;
	}
	if (str_to_u64(argv[2], INT64_MAX, false, issue) < 0) {
		fprintf(errf, "state: issue must be a number from 1 (was '%s')\n", argv[2]);
		return -EINVAL;
	}
	return 0;
}

static int cmd_set(struct state *st, char **argv, FILE *in, FILE *errf)
{
	char *text = NULL;
	json_error_t jerr;
	json_t *j = NULL;
	uint64_t issue;
	int r, code = 1;

	if (parse_key(argv, &issue, errf) < 0)
		return 1;
	if (strcmp(argv[3], "-") == 0) {
		r = read_all(in, &text);
		if (r < 0) {
			fprintf(errf, "state: cannot read JSON from stdin: %s\n",
				r == -E2BIG ? "larger than 16 MiB" : strerror(-r));
			goto out;
		}
	} else {
		text = str_dup(argv[3]);
		if (!text)
			goto out;
	}
	if (strlen(text) == 0) {
		fputs("state: invalid JSON: empty input\n", errf);
		goto out;
	}
	j = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		/* jansson quotes the input near the error: keep the message one line. */
		for (size_t i = 0; jerr.text[i]; i++)
			if ((unsigned char)jerr.text[i] < 0x20 || jerr.text[i] == 0x7f)
				jerr.text[i] = '?';
		fprintf(errf,
			"state: invalid JSON for '%s/%s#%" PRIu64 "': %s (line %d, column %d)\n",
			argv[0], argv[1], issue, jerr.text, jerr.line, jerr.column);
		goto out;
	}
	r = state_record_upsert(st, argv[0], argv[1], issue, text);
	if (r < 0) {
		fprintf(errf, "state: cannot set '%s/%s#%" PRIu64 "': %s\n", argv[0], argv[1],
			issue, strerror(-r));
		goto out;
	}
	code = 0;
out:
	json_decref(j);
	free(text);
	return code;
}

static int cmd_key(struct state *st, const char *cmd, char **argv, FILE *out, FILE *errf)
{
	uint64_t issue, *prs = NULL;
	char *json = NULL;
	size_t n = 0, i;
	int r;

	if (parse_key(argv, &issue, errf) < 0)
		return 1;
	if (strcmp(cmd, "get") == 0) {
		r = state_record_get(st, argv[0], argv[1], issue, &json);
		if (r == 0)
			print_record_json(out, json);
		free(json);
	} else if (strcmp(cmd, "delete") == 0) {
		r = state_record_delete(st, argv[0], argv[1], issue);
	} else {
		r = state_pr_list(st, argv[0], argv[1], issue, &prs, &n);
		for (i = 0; r == 0 && i < n; i++)
			fprintf(out, "%" PRIu64 "\n", prs[i]);
		free(prs);
	}
	if (r == -ENOENT) {
		fprintf(errf, "state: no record for '%s/%s#%" PRIu64 "'\n", argv[0], argv[1],
			issue);
		return 1;
	}
	if (r < 0) {
		fprintf(errf, "state: cannot %s '%s/%s#%" PRIu64 "': %s\n", cmd, argv[0], argv[1],
			issue, strerror(-r));
		return 1;
	}
	return 0;
}

int state_cli_io(int argc, char **argv, const char *db_path, FILE *in, FILE *out, FILE *errf)
{
	struct buf err = BUF_INIT(4096);
	struct journal_walk walk = {out, false};
	struct state *st = NULL;
	const char *cmd;
	int r, code = 1;

	if (argc < 2)
		return usage(errf);
	cmd = argv[1];
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(usage_text, out);
		return 0;
	}
	/* Check the shape before opening, so a typo never creates a database. */
	if (strcmp(cmd, "list") == 0 || strcmp(cmd, "provenance") == 0) {
		if (argc != 2)
			return usage(errf);
	} else if (strcmp(cmd, "journal") == 0) {
		if (argc == 3 && strcmp(argv[2], "--unfinished") == 0)
			walk.unfinished = true;
		else if (argc != 2)
			return usage(errf);
	} else if (strcmp(cmd, "get") == 0 || strcmp(cmd, "delete") == 0 ||
		   strcmp(cmd, "prs") == 0) {
		if (argc != 5)
			return usage(errf);
	} else if (strcmp(cmd, "set") == 0) {
		if (argc != 6)
			return usage(errf);
	} else {
		fprintf(errf, "state: unknown command '%s'\n", cmd);
		return usage(errf);
	}

	r = state_open_url(db_path, 0, &st, &err);
	if (r < 0) {
		fprintf(errf, "%s\n", err.len ? buf_cstr(&err) : strerror(-r));
		goto out;
	}
	if (strcmp(cmd, "list") == 0)
		r = state_record_all(st, list_cb, out);
	else if (strcmp(cmd, "provenance") == 0)
		r = state_provenance_each(st, provenance_cb, out);
	else if (strcmp(cmd, "journal") == 0)
		r = state_journal_each(st, journal_cb, &walk);
	else if (strcmp(cmd, "set") == 0) {
		code = cmd_set(st, argv + 2, in, errf);
		goto out;
	} else {
		code = cmd_key(st, cmd, argv + 2, out, errf);
		goto out;
	}
	if (r < 0) {
		fprintf(errf, "state: cannot %s '%s': %s\n", cmd,
			state_url_is_pg(db_path) ? "the state database" : db_path, strerror(-r));
		goto out;
	}
	code = 0;
out:
	if (code == 0 && fflush(out) != 0) {
		fprintf(errf, "state: cannot write output: %s\n", strerror(errno));
		code = 1;
	}
	state_free(st);
	buf_release(&err);
	return code;
}

int state_cli(int argc, char **argv, const char *db_path, FILE *out, FILE *errf)
{
	return state_cli_io(argc, argv, db_path, stdin, out, errf);
}
