#include "write/write.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tree/content.h"
#include "write/prnew.h"
#include "write/done.h"
#include "write/queue.h"
#include "util/str.h"
#include "util/time.h"

/* Content an agent may write to one file (a body is the largest). */
#define WRITE_MAX ((size_t)8 << 20)
/* How far a forge's clock may be behind ours when matching a comment. */
#define CLOCK_SLACK_S 120

struct writes {
	struct writes_options opt;
	pthread_mutex_t lock; /* orders done signals and pull request slots */
	char *done_text;      /* the standing signal as /done shows it; lock */
	unsigned prs_opening; /* pulls/new being sent now (max_prs counts them); lock */
};

int writes_new(const struct writes_options *opt, struct writes **out, struct buf *err)
{
	struct writes *w = calloc(1, sizeof(*w));
	uint64_t *prs = NULL;
	size_t n = 0, i;
	char *text;
	int r;

	if (!w)
		return -ENOMEM;
	w->opt = *opt;
	pthread_mutex_init(&w->lock, NULL);
	if (opt->scope->assigned) {
		r = state_pr_list(opt->state, opt->scope->owner, opt->scope->repo,
				  opt->scope->issue, &prs, &n);
		if (r < 0) {
			if (err)
				buf_printf(err,
					   "cannot read the pull requests of the assignment: %s",
					   strerror(-r));
			writes_free(w);
			return r;
		}
		for (i = 0; i < n; i++)
			scope_add_pr(opt->scope, prs[i]);
		free(prs);
		if (state_done_get(opt->state, opt->scope->owner, opt->scope->repo,
				   opt->scope->issue, &text) == 0) {
			w->done_text = text;
			scope_set_done(opt->scope);
		}
	}
	*out = w;
	return 0;
}

void writes_free(struct writes *w)
{
	if (!w)
		return;
	pthread_mutex_destroy(&w->lock);
	free(w->done_text);
	free(w);
}

/* Text without the one trailing newline `echo` adds: what the forge stores. */
static char *strip_newline(const char *data, size_t len)
{
	char *s;

	if (len && data[len - 1] == '\n')
		len--;
	if (len && data[len - 1] == '\r')
		len--;
	s = malloc(len + 1);
	if (s) {
		memcpy(s, data, len);
		s[len] = '\0';
	}
	return s;
}

static int invalid(struct buf *err, const char *fmt, const char *what)
{
	if (err)
		buf_printf(err, fmt, what);
	return -EINVAL;
}

static void where(const struct node *n, char *out, size_t size)
{
	snprintf(out, size, "%s/%s/%s/%llu", n->owner, n->repo, n->pull ? "pulls" : "issues",
		 (unsigned long long)n->number);
}

/* One line in the provenance log: what, where, and the forge's answer. */
static void provenance(struct writes *w, const char *what, const char *at, int r,
		       const char *answer, const struct buf *err)
{
	struct buf a = BUF_INIT(4096);

	if (r == 0)
		buf_printf(&a, "ok: %s", answer ? answer : "");
	else
		buf_printf(&a, "error %s: %s", strerrorname_np(-r) ? strerrorname_np(-r) : "?",
			   err && err->len ? buf_cstr(err) : strerror(-r));
	state_provenance_add(w->opt.state, what, at, buf_cstr(&a));
	buf_release(&a);
}

/* Labels: one name a line, blank lines and surrounding spaces ignored. */
static int split_labels(char *text, const char ***out, size_t *n)
{
	const char **v = NULL;
	size_t k = 0;
	char *line = text, *end;

	while (line && *line) {
		const char **nv;

		end = strchr(line, '\n');
		if (end)
			*end = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		for (char *t = line + strlen(line);
		     t > line && (t[-1] == ' ' || t[-1] == '\t' || t[-1] == '\r');)
			*--t = '\0';
		if (*line) {
			nv = realloc(v, (k + 1) * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			v[k++] = line;
		}
		line = end ? end + 1 : NULL;
	}
	*out = v;
	*n = k;
	return 0;
}

/* Sends one journaled patch (title, body, state or labels). */
static int send_patch(struct writes *w, const char *owner, const char *repo, uint64_t number,
		      const char *field, const char *text, struct buf *err)
{
	struct forge *f = w->opt.forge;
	struct forge_issue_patch p = {0};
	const char **labels = NULL;
	char *copy = NULL;
	int r;

	if (strcmp(field, "title") == 0) {
		p.title = text;
	} else if (strcmp(field, "body") == 0) {
		p.body = text;
	} else if (strcmp(field, "state") == 0) {
		p.state = text;
	} else {
		copy = strdup(text);
		if (!copy)
			return -ENOMEM;
		r = split_labels(copy, &labels, &p.n_labels);
		if (r < 0) {
			free(copy);
			return r;
		}
		p.labels = labels;
		p.has_labels = true;
	}
	r = f->ops->update_issue(f, owner, repo, number, &p, err);
	free(labels);
	free(copy);
	return r;
}

/*
 * The title's character rule, shared by validate_patch (close) and
 * title_byte (write) so they cannot disagree: no control character, tab
 * and C1 controls included (str_has_control).
 */
static bool title_has_control(const char *s, size_t n)
{
	return str_has_control(s, n, false);
}

/* Checks what an agent wrote to a patchable file; new text to send in *text. */
static int validate_patch(enum item_file file, const char *data, size_t len, char **text,
			  struct buf *err)
{
	char *t;

	if (len > WRITE_MAX)
		return invalid(err, "%s: content too large", "write");
	if (!str_utf8_valid(data, len) || memchr(data, '\0', len))
		return invalid(err, "%s: content is not UTF-8 text", tree_item_file_name(file));
	t = strip_newline(data, len);
	if (!t)
		return -ENOMEM;
	if (file == F_STATE) {
		char *s = t, *e;

		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (strcmp(s, "open") != 0 && strcmp(s, "closed") != 0) {
			free(t);
			return invalid(err, "state must be 'open' or 'closed'%s", "");
		}
		memmove(t, s, strlen(s) + 1);
	}
	/* One line of text: no \n, and no \r, ESC, tab or other control either. */
	if (file == F_TITLE && (t[0] == '\0' || title_has_control(t, strlen(t)))) {
		free(t);
		return invalid(err, "title must be one non-empty line without control characters%s",
			       "");
	}
	*text = t;
	return 0;
}

/*
 * Journals the write, sends it with send(), and records the outcome: the
 * common path of every forge write.
 */
struct job {
	const char *kind, *field, *owner, *repo, *payload;
	uint64_t number;
	uint64_t forge_id; /* what the forge created (comment id, PR number), once known */
	char at[NAMES_OWNER_MAX + NAMES_REPO_MAX + 40];
};

static int journal_begin(struct writes *w, const struct job *j, int64_t *id, struct buf *err)
{
	struct scope *s = w->opt.scope;
	struct journal_entry e = {0};
	int r;

	e.kind = (char *)j->kind;
	e.owner = (char *)j->owner;
	e.repo = (char *)j->repo;
	e.number = j->number;
	e.field = (char *)j->field;
	e.payload = (char *)j->payload;
	/*
	 * The assignment the write is made under: only a daemon holding it
	 * finishes the write if this one dies (writes_recover). Every write
	 * passed scope_check, so the mount is assigned.
	 */
	if (s->assigned) {
		e.assign_owner = s->owner;
		e.assign_repo = s->repo;
		e.assign_issue = s->issue;
	}
	r = state_journal_add(w->opt.state, &e, id);
	if (r < 0) {
		/* Nothing is sent that could not be journaled first. */
		if (err)
			buf_printf(err, "cannot journal the write: %s", strerror(-r));
		return -EIO;
	}
	state_journal_set(w->opt.state, *id, JOURNAL_SENDING, NULL);
	return 0;
}

static void journal_end(struct writes *w, const struct job *j, int64_t id, int r,
			const char *answer, const struct buf *err)
{
	state_journal_finish(w->opt.state, id, r == 0 ? JOURNAL_DONE : JOURNAL_FAILED,
			     r == 0 ? answer : (err && err->len ? buf_cstr(err) : strerror(-r)),
			     r == 0 ? j->forge_id : 0);
	provenance(w, j->field ? j->field : j->kind, j->at, r, answer, err);
}

/* create_pr's floor callback: journals the floor before the request is sent. */
struct floor_ctx {
	struct state *st;
	int64_t id;
};

static int record_floor(void *ud, uint64_t max_number)
{
	struct floor_ctx *fc = ud;

	/* Nothing is sent that could not be journaled first. */
	return state_journal_set_floor(fc->st, fc->id, max_number) < 0 ? -EIO : 0;
}

/*
 * A pull request's body is a description the daemon sends: the receipt it
 * wrote there is kept and the agent's text may not forge one, whatever
 * path the text came by (forge/forge.h, forge_render_pr_body). *text is
 * replaced by what is to be sent.
 */
static int pr_description(struct writes *w, const struct node *n, char **text, struct buf *err)
{
	struct forge *f = w->opt.forge;
	struct buf out = BUF_INIT(0), why = BUF_INIT(4096);
	struct forge_capabilities caps;
	struct forge_issue pr;
	int r;

	r = f->ops->get_pull(f, n->owner, n->repo, n->number, &pr, &why);
	if (r < 0) {
		if (err)
			buf_printf(err, "cannot read the description to keep its receipt: %s",
				   buf_cstr(&why));
		goto out;
	}
	memset(&caps, 0, sizeof(caps));
	f->ops->capabilities(f, &caps);
	r = forge_render_pr_body(&caps, pr.body, *text, &out, err);
	forge_issue_release(&pr);
	if (r == 0) {
		free(*text);
		*text = buf_steal(&out, NULL);
		r = *text ? 0 : -ENOMEM;
	}
out:
	buf_release(&out);
	buf_release(&why);
	return r;
}

static int commit_patch(struct writes *w, const struct node *n, const char *data, size_t len,
			struct buf *err)
{
	struct job j = {.kind = "patch", .owner = n->owner, .repo = n->repo, .number = n->number};
	char *text = NULL;
	int64_t id;
	int r;

	r = validate_patch(n->file, data, len, &text, err);
	if (r == 0 && n->pull && n->file == F_BODY && (r = pr_description(w, n, &text, err)) < 0)
		free(text);
	if (r < 0)
		return r;
	j.field = tree_item_file_name(n->file);
	j.payload = text;
	where(n, j.at, sizeof(j.at));
	r = journal_begin(w, &j, &id, err);
	if (r == 0) {
		r = send_patch(w, n->owner, n->repo, n->number, j.field, text, err);
		journal_end(w, &j, id, r, j.field, err);
		view_forget_item(w->opt.view, n->owner, n->repo, n->pull, n->number);
	}
	free(text);
	return r;
}

/* Checks what an agent wrote to comments/new; the comment to post in *text. */
static int validate_comment(const char *data, size_t len, char **text, struct buf *err)
{
	char *t;

	if (len > WRITE_MAX)
		return invalid(err, "%s: content too large", "comments/new");
	if (!str_utf8_valid(data, len) || memchr(data, '\0', len))
		return invalid(err, "%s: content is not UTF-8 text", "comments/new");
	t = strip_newline(data, len);
	if (!t)
		return -ENOMEM;
	if (!*t) {
		free(t);
		return invalid(err, "%s: an empty comment is not posted", "comments/new");
	}
	*text = t;
	return 0;
}

static int commit_comment(struct writes *w, const struct node *n, const char *data, size_t len,
			  char *created, size_t created_size, struct buf *err)
{
	struct job j = {.kind = "comment", .owner = n->owner, .repo = n->repo, .number = n->number};
	struct forge *f = w->opt.forge;
	struct forge_comment c;
	char *text, answer[64];
	int64_t id;
	int r;

	r = validate_comment(data, len, &text, err);
	if (r < 0)
		return r;
	j.payload = text;
	where(n, j.at, sizeof(j.at));
	strncat(j.at, "/comments/new", sizeof(j.at) - strlen(j.at) - 1);
	r = journal_begin(w, &j, &id, err);
	if (r == 0) {
		r = f->ops->post_comment(f, n->owner, n->repo, n->number, text, &c, err);
		if (r == 0) {
			snprintf(answer, sizeof(answer), "comment %llu", (unsigned long long)c.id);
			j.forge_id = c.id;
			snprintf(created, created_size, "%s", answer);
			forge_comment_release(&c);
		}
		journal_end(w, &j, id, r, answer, err);
		view_forget_item(w->opt.view, n->owner, n->repo, n->pull, n->number);
	}
	free(text);
	return r;
}

/*
 * Takes one of the assignment's max_prs pull request slots (those opened,
 * in the state store, and those being opened now), or -EDQUOT: many
 * writers at once cannot pass the limit together.
 */
static int pr_slot_take(struct writes *w, struct buf *err)
{
	struct scope *s = w->opt.scope;
	unsigned max = w->opt.max_prs ? w->opt.max_prs : WRITES_MAX_PRS_DEFAULT;
	uint64_t *prs = NULL;
	size_t n = 0;
	int r;

	pthread_mutex_lock(&w->lock);
	r = state_pr_list(w->opt.state, s->owner, s->repo, s->issue, &prs, &n);
	if (r < 0)
		r = buf_fail(err, -EIO,
			     "pulls/new: cannot count the assignment's pull requests: %s",
			     strerror(-r));
	else if (n + w->prs_opening >= max)
		r = buf_fail(err, -EDQUOT,
			     "pulls/new: the assignment has opened %zu pull request(s)%s; "
			     "--max-prs allows %u",
			     n, w->prs_opening ? " and is opening more" : "", max);
	else
		w->prs_opening++;
	pthread_mutex_unlock(&w->lock);
	free(prs);
	return r;
}

/*
 * Gives the slot back; number, when the pull request was opened, enters
 * the state store in the same critical section, so no count in between
 * sees it twice (in the store and in flight) or not at all.
 */
static void pr_slot_give(struct writes *w, uint64_t number)
{
	struct scope *s = w->opt.scope;

	pthread_mutex_lock(&w->lock);
	if (number)
		state_pr_add(w->opt.state, s->owner, s->repo, s->issue, number);
	w->prs_opening--;
	pthread_mutex_unlock(&w->lock);
}

static int commit_pull(struct writes *w, const struct node *n, const char *data, size_t len,
		       struct buf *reply, char *created, size_t created_size, struct buf *err)
{
	struct scope *s = w->opt.scope;
	struct job j = {.kind = "create_pr", .owner = n->owner, .repo = n->repo};
	struct forge *f = w->opt.forge;
	struct prnew p;
	char answer[64];
	uint64_t number = 0;
	bool given = false; /* the slot is back */
	int64_t id;
	int r;

	r = prnew_parse(data, len, &p, err);
	if (r < 0)
		return r;
	r = pr_slot_take(w, err);
	if (r < 0) {
		prnew_release(&p);
		return r;
	}
	j.payload = strndup(data, len);
	if (!j.payload) {
		pr_slot_give(w, 0);
		prnew_release(&p);
		return -ENOMEM;
	}
	snprintf(j.at, sizeof(j.at), "%s/%s/pulls/new", n->owner, n->repo);
	r = journal_begin(w, &j, &id, err);
	if (r == 0) {
		struct floor_ctx fc = {w->opt.state, id};

		r = f->ops->create_pr(f, n->owner, n->repo, &p.req, record_floor, &fc, &number,
				      err);
		if (r == 0) {
			snprintf(answer, sizeof(answer), "pull %llu", (unsigned long long)number);
			j.forge_id = number;
			snprintf(created, created_size, "%s", answer);
			/* In scope from now on, and after a restart (the store). */
			pr_slot_give(w, number);
			given = true;
			scope_add_pr(s, number);
			if (reply)
				buf_printf(reply, "%llu\n", (unsigned long long)number);
		}
		journal_end(w, &j, id, r, answer, err);
		view_forget_lists(w->opt.view, n->owner, n->repo);
	}
	if (!given)
		pr_slot_give(w, 0);
	free((char *)j.payload);
	prnew_release(&p);
	return r;
}

/*
 * Puts a done signal in the queue and makes it the one that stands (what
 * /done shows, kept in the state store across restarts). On success takes
 * *text (what /done shows) and gives the queue file's name in *name (new).
 * The one path of a signal, for a write and for its recovery. w->lock held.
 */
static int queue_done(struct writes *w, const struct done_signal *sig, char **text, char **name,
		      struct buf *err)
{
	struct scope *s = w->opt.scope;
	struct queue_item item = {0};
	uint64_t *prs = NULL;
	int r;

	r = scope_prs(s, &prs, &item.n_prs);
	if (r < 0)
		return r;
	item.owner = s->owner;
	item.repo = s->repo;
	item.issue = s->issue;
	item.sig = sig;
	item.prs = prs;
	item.time = time(NULL);
	r = queue_write(w->opt.queue_dir, &item, name, err);
	if (r == 0) {
		state_done_put(w->opt.state, s->owner, s->repo, s->issue, *text);
		w->done_text = *text;
		*text = NULL;
		scope_set_done(s);
	} else if (r != -EINVAL) {
		r = -EIO;
	}
	free(prs);
	return r;
}

static int commit_done(struct writes *w, const struct node *n, const char *data, size_t len,
		       struct buf *err)
{
	struct scope *s = w->opt.scope;
	struct job j = {.kind = "done", .owner = s->owner, .repo = s->repo, .number = s->issue};
	struct done_signal sig;
	char *text = NULL, *name = NULL;
	int64_t id;
	int r;

	(void)n;
	r = done_parse(data, len, &sig, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&w->lock);
	if (w->done_text) {
		if (err)
			buf_puts(err, "done: a signal already stands; it cannot be changed");
		r = -EACCES;
		goto out;
	}
	j.payload = text = done_signal_text(&sig);
	snprintf(j.at, sizeof(j.at), "%s/%s#%llu done", s->owner, s->repo,
		 (unsigned long long)s->issue);
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	r = journal_begin(w, &j, &id, err);
	if (r < 0)
		goto out;
	r = queue_done(w, &sig, &text, &name, err);
	journal_end(w, &j, id, r, name, err);
out:
	pthread_mutex_unlock(&w->lock);
	free(text);
	free(name);
	done_signal_release(&sig);
	return r;
}

/*
 * One line in the mount's outcome log (/.bottlefs/log): the path, ok with
 * what the forge created, or the errno and the reason.
 */
static void record_outcome(struct writes *w, const struct node *n, int r, const char *id,
			   const struct buf *err)
{
	struct buf path = BUF_INIT(4096);

	if (!w->opt.log)
		return;
	tree_node_path(n, &path);
	wlog_add(w->opt.log, buf_cstr(&path), r,
		 r == 0 ? id : (err && err->len ? buf_cstr(err) : strerror(-r)));
	buf_release(&path);
}

int writes_commit(struct writes *w, const struct node *n, const char *data, size_t len,
		  struct buf *reply, struct buf *err)
{
	char id[64] = "";
	int r = scope_check(w->opt.scope, n, err);

	if (r == 0) {
		switch (n->kind) {
		case N_ITEM_FILE:
			r = commit_patch(w, n, data, len, err);
			break;
		case N_COMMENT_NEW:
			r = commit_comment(w, n, data, len, id, sizeof(id), err);
			break;
		case N_PULLS_NEW:
			r = commit_pull(w, n, data, len, reply, id, sizeof(id), err);
			break;
		case N_DONE:
			r = commit_done(w, n, data, len, err);
			break;
		default:
			r = -EACCES;
		}
	}
	record_outcome(w, n, r, id, err);
	return r;
}

int writes_validate(const struct node *n, const char *data, size_t len, struct buf *err)
{
	struct done_signal sig;
	struct prnew p;
	char *text = NULL;
	int r;

	switch (n->kind) {
	case N_ITEM_FILE:
		r = validate_patch(n->file, data, len, &text, err);
		break;
	case N_COMMENT_NEW:
		r = validate_comment(data, len, &text, err);
		break;
	case N_PULLS_NEW:
		r = prnew_parse(data, len, &p, err);
		if (r == 0)
			prnew_release(&p);
		break;
	case N_DONE:
		r = done_parse(data, len, &sig, err);
		if (r == 0)
			done_signal_release(&sig);
		break;
	default:
		r = -EACCES;
	}
	free(text);
	return r;
}

/*
 * ---- write-time judgement ----
 *
 * Each scanner below reads one more byte of content and says whether what
 * was read so far can still become valid by writing more; it mirrors the
 * close-time rule next to which it is named (validate_patch, done_parse,
 * validate_comment, prnew_parse), and tests/unit/test_judge.c checks the
 * property that matters: every prefix of content the close-time rule
 * accepts is accepted here, written in any pieces.
 */
enum judge_what {
	J_NONE,	 /* nothing judged at write (scratch files and the like) */
	J_TEXT,	 /* UTF-8 without NUL: body, labels, comments/new, pulls/new */
	J_TITLE, /* and one line without control characters (validate_patch) */
	J_STATE, /* and [ \t]* (open|closed) [ \t]* \r? \n? (validate_patch) */
	J_DONE,	 /* and a first line with a status, or JSON (done_parse) */
};

/* The title scanner's phases. */
enum { T_EMPTY, T_TEXT, T_CR, T_NL };

/*
 * validate_patch for a title: one trailing "\n" then one "\r" are
 * removed, what is left must be non-empty and have no control character
 * (str_has_control, C1 included). prev is the byte before c (0 at the
 * start), for the C1 controls' two-byte encoding.
 */
static bool title_byte(struct writes_judge *j, unsigned char prev, unsigned char c)
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
	if (title_has_control(pair + 1, 1) || (prev == 0xc2 && title_has_control(pair, 2)))
		return false;
	j->phase = T_TEXT;
	return true;
}

static const char *const state_words[] = {"open", "closed"};
enum { S_LEAD, S_WORD, S_TRAIL, S_CR, S_NL };

/*
 * validate_patch for state: after one trailing "\n" then one "\r" are
 * removed and spaces and tabs trimmed, "open" or "closed".
 */
static bool state_byte(struct writes_judge *j, unsigned char c)
{
	bool blank = c == ' ' || c == '\t';
	size_t i;

	switch (j->phase) {
	case S_LEAD:
		if (blank)
			return true;
		for (i = 0; i < 2; i++) {
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
static bool done_byte(struct writes_judge *j, unsigned char c)
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

void writes_judge_init(struct writes_judge *j, const struct node *n)
{
	memset(j, 0, sizeof(*j));
	switch (n->kind) {
	case N_ITEM_FILE:
		j->what = n->file == F_TITLE ? J_TITLE : n->file == F_STATE ? J_STATE : J_TEXT;
		break;
	case N_COMMENT_NEW:
	case N_PULLS_NEW:
		j->what = J_TEXT;
		break;
	case N_DONE:
		j->what = J_DONE;
		break;
	default:
		j->what = J_NONE;
	}
}

static int judge_refuse(const struct writes_judge *j, struct buf *err)
{
	switch (j->what) {
	case J_TITLE:
		return invalid(err, "title must be one non-empty line without control characters%s",
			       "");
	case J_STATE:
		return invalid(err, "state must be 'open' or 'closed'%s", "");
	default:
		return invalid(err, "done: the first line must be success, failure or blocked%s",
			       "");
	}
}

int writes_judge_more(struct writes_judge *j, const char *data, size_t len, struct buf *err)
{
	const unsigned char *p = (const unsigned char *)data;
	struct writes_judge next = *j;
	size_t i, whole;

	if (j->what == J_NONE || len <= j->at) {
		if (len > j->at)
			j->at = len;
		return 0;
	}
	/* Text: NUL-free and UTF-8, except for a last character still cut short. */
	if (memchr(data + j->at, '\0', len - j->at) ||
	    !str_utf8_valid_prefix(data + j->whole, len - j->whole, &whole))
		return invalid(err, "%s", "content is not UTF-8 text (or holds a NUL byte)");
	next.whole = j->whole + whole;
	for (i = j->at; i < len && j->what != J_TEXT; i++) {
		bool ok;

		if (j->what == J_TITLE)
			ok = title_byte(&next, i ? p[i - 1] : 0, p[i]);
		else if (j->what == J_STATE)
			ok = state_byte(&next, p[i]);
		else
			ok = done_byte(&next, p[i]);
		if (!ok)
			return judge_refuse(j, err);
	}
	next.at = len;
	*j = next;
	return 0;
}

int writes_prefix_ok(const struct node *n, const char *data, size_t len, struct buf *err)
{
	struct writes_judge j;

	writes_judge_init(&j, n);
	return writes_judge_more(&j, data, len, err);
}

int writes_done_text(struct writes *w, struct buf *out)
{
	int r = 0;

	pthread_mutex_lock(&w->lock);
	if (w->done_text)
		r = buf_puts(out, w->done_text);
	pthread_mutex_unlock(&w->lock);
	return r;
}

/* ---- recovery ---- */

/*
 * What a daemon that starts may do with the journal entries a dead one
 * left unanswered (SEMANTICS.md, "Never lost, never twice"):
 *
 * - Only its own assignment's. An entry carries the assignment it was
 *   made under; the entries of any other assignment are left as they are
 *   for a daemon holding that assignment, and a finished write is recorded
 *   under its own entry's assignment.
 * - Only inside that assignment's scope: a patch or comment on the
 *   assigned issue or on one of the pull requests the state store lists
 *   for the assignment, a pull request in the assigned repository, the
 *   assignment's done signal. Anything else is marked failed, unsent.
 * - A comment or pull request found on the forge is claimed as the
 *   write's only when it is provably the write's result (pull_verdict,
 *   comment_is_ours); otherwise a comment is posted, and a pull request
 *   is opened only if no open one with the same head and base is in the
 *   way (the forge would refuse it: 409), else the write is marked failed
 *   with the reason.
 */

/*
 * How far the forge's clock may be behind ours. A comment or pull request
 * created more than this before its write was journaled is not the
 * write's. The time alone cannot tell two objects apart within the
 * allowance, so a pull request must also have a number above the entry's
 * floor, and anything another journal entry or assignment accounts for is
 * never claimed.
 */
#define CLOCK_SLACK_S 120

/* One recovery pass: what it learns once and shares between entries. */
struct recovery {
	struct writes *w;
	const struct journal_entry *v; /* every unfinished entry, oldest first */
	size_t n;
	bool asked;	   /* whoami was asked */
	int login_r;	   /* its result */
	char *login;	   /* the token's user when login_r is 0 */
	struct buf why_no; /* why not otherwise */
};

/* The login of the token's user (borrowed from rc), asked once per pass. */
static int recovery_login(struct recovery *rc, const char **login, struct buf *why)
{
	struct forge *f = rc->w->opt.forge;

	if (!rc->asked) {
		rc->asked = true;
		rc->login_r = f->ops->whoami ? f->ops->whoami(f, &rc->login, &rc->why_no)
					     : buf_fail(&rc->why_no, -ENOTSUP,
							"the forge adapter cannot tell");
	}
	if (rc->login_r < 0)
		return buf_fail(why, rc->login_r,
				"cannot learn which user the token belongs to: %s",
				buf_cstr(&rc->why_no));
	*login = rc->login;
	return 0;
}

static bool own_entry(const struct scope *s, const struct journal_entry *e)
{
	return s->assigned && e->assign_owner && strcmp(e->assign_owner, s->owner) == 0 &&
	       strcmp(e->assign_repo, s->repo) == 0 && e->assign_issue == s->issue;
}

static bool same_assignment(const struct journal_entry *a, const struct journal_entry *b)
{
	return a->assign_owner && b->assign_owner &&
	       strcmp(a->assign_owner, b->assign_owner) == 0 &&
	       strcmp(a->assign_repo, b->assign_repo) == 0 && a->assign_issue == b->assign_issue;
}

/*
 * 0 when e's target is in its assignment's scope: the assigned issue, or a
 * pull request the state store lists for the assignment. -EACCES (with
 * the reason) when not. A state store that fails is -EIO, like a forge
 * that does: the entry waits for the next start instead of being failed.
 */
static int target_in_scope(struct writes *w, const struct journal_entry *e, struct buf *why)
{
	uint64_t *prs = NULL;
	size_t n = 0, i;
	int r;

	if (strcmp(e->owner, e->assign_owner) == 0 && strcmp(e->repo, e->assign_repo) == 0) {
		if (e->number == e->assign_issue)
			return 0;
		r = state_pr_list(w->opt.state, e->assign_owner, e->assign_repo, e->assign_issue,
				  &prs, &n);
		if (r < 0)
			return buf_fail(why, -EIO, "cannot read the assignment's pull requests: %s",
					strerror(-r));
		for (i = 0; i < n && prs[i] != e->number; i++)
			;
		free(prs);
		if (i < n)
			return 0;
	}
	return buf_fail(why, -EACCES,
			"%s/%s#%llu is neither the assigned issue %s/%s#%llu nor one of its pull "
			"requests: not sent",
			e->owner, e->repo, (unsigned long long)e->number, e->assign_owner,
			e->assign_repo, (unsigned long long)e->assign_issue);
}

/*
 * A comment is the write's when it has exactly the write's body, the
 * token's user posted it, no earlier than CLOCK_SLACK_S before the write
 * was journaled, and no other journal entry accounts for it. 1, 0, or
 * -errno.
 */
static int comment_is_ours(struct recovery *rc, const struct journal_entry *e,
			   const struct forge_comment *c, const char *login)
{
	int r;

	if (strcmp(c->body ? c->body : "", e->payload) != 0 ||
	    strcmp(c->author ? c->author : "", login) != 0 ||
	    time_from_rfc3339(c->created_at) < e->created - CLOCK_SLACK_S)
		return 0;
	r = state_journal_claims(rc->w->opt.state, "comment", e->owner, e->repo, c->id, e->id,
				 NULL);
	return r < 0 ? -EIO : r == 0;
}

/* A comment whose answer never came: claimed when it is there (above), else posted. */
static int recover_comment(struct recovery *rc, const struct journal_entry *e, uint64_t *forge_id,
			   char *answer, size_t size, struct buf *why)
{
	struct forge *f = rc->w->opt.forge;
	struct forge_comment_list cl = {NULL, 0};
	struct forge_comment c;
	const char *login;
	size_t i;
	int r;

	r = target_in_scope(rc->w, e, why);
	if (r == 0)
		r = recovery_login(rc, &login, why);
	if (r == 0)
		r = f->ops->list_comments(f, e->owner, e->repo, e->number, &cl, why);
	if (r < 0)
		return r;
	for (i = 0; i < cl.n; i++) {
		r = comment_is_ours(rc, e, &cl.v[i], login);
		if (r < 0) {
			r = buf_fail(why, r, "cannot read the journal");
			goto out;
		}
		if (r == 1) {
			*forge_id = cl.v[i].id;
			snprintf(answer, size, "comment %llu (found on the forge)",
				 (unsigned long long)cl.v[i].id);
			r = 0;
			goto out;
		}
	}
	r = f->ops->post_comment(f, e->owner, e->repo, e->number, e->payload, &c, why);
	if (r == 0) {
		*forge_id = c.id;
		snprintf(answer, size, "comment %llu", (unsigned long long)c.id);
		forge_comment_release(&c);
	}
out:
	forge_comment_list_release(&cl);
	return r;
}

/*
 * Whether pull request pr (same repository, head, base and title as the
 * write) is the one entry e opened. It must be:
 * - opened by the token's user (someone else's PR is never claimed);
 * - numbered above the entry's floor, the highest number the repository
 *   had just before the request was sent: Gitea numbers issues and PRs
 *   from one sequence that only grows, so a PR that existed before the
 *   write, even one opened by the same user a second earlier, fails here
 *   whatever the clocks say (an entry without a floor claims nothing);
 * - created no earlier than CLOCK_SLACK_S before the write was journaled;
 * - not already the result of another journal entry, nor in another
 *   assignment's list of PRs;
 * - not possibly the result of another assignment's unfinished entry for
 *   the same head and base whose own floor is below its number (two runs
 *   that died sending the same PR: neither may take it on a guess).
 * 1 when all hold, 0 with the first that fails in why_not, or -errno.
 */
static int pull_verdict(struct recovery *rc, const struct journal_entry *e,
			const struct forge_issue *pr, const char *login, struct buf *why_not)
{
	struct state *st = rc->w->opt.state;
	uint64_t *holders = NULL;
	size_t n = 0, i;
	int64_t by = 0;
	int r;

	if (strcmp(pr->author ? pr->author : "", login) != 0)
		return buf_fail(
		    why_not, 0, "#%llu was opened by '%s', not by the token's user '%s'",
		    (unsigned long long)pr->number, pr->author ? pr->author : "", login);
	if (!e->has_floor)
		return buf_fail(why_not, 0,
				"#%llu cannot be shown to be this write's: the number the "
				"repository had reached when it was sent is unknown",
				(unsigned long long)pr->number);
	if (pr->number <= e->floor)
		return buf_fail(why_not, 0,
				"#%llu existed before this write was sent (the repository had "
				"reached #%llu)",
				(unsigned long long)pr->number, (unsigned long long)e->floor);
	if (time_from_rfc3339(pr->created_at) < e->created - CLOCK_SLACK_S)
		return buf_fail(why_not, 0, "#%llu was created at %s, before this write",
				(unsigned long long)pr->number,
				pr->created_at && *pr->created_at ? pr->created_at
								  : "an unknown time");
	r = state_journal_claims(st, "create_pr", e->owner, e->repo, pr->number, e->id, &by);
	if (r < 0)
		return r;
	if (r > 0)
		return buf_fail(why_not, 0, "#%llu is already the result of journal entry %lld",
				(unsigned long long)pr->number, (long long)by);
	r = state_pr_holders(st, e->owner, e->repo, pr->number, &holders, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n && holders[i] == e->assign_issue; i++)
		;
	if (i < n) {
		r = buf_fail(why_not, 0, "#%llu was opened for %s/%s#%llu",
			     (unsigned long long)pr->number, e->owner, e->repo,
			     (unsigned long long)holders[i]);
		free(holders);
		return r;
	}
	free(holders);
	for (i = 0; i < rc->n; i++) {
		const struct journal_entry *o = &rc->v[i];
		struct prnew op;
		bool rival;

		if (o->id == e->id || strcmp(o->kind, "create_pr") != 0 ||
		    strcmp(o->owner, e->owner) != 0 || strcmp(o->repo, e->repo) != 0 ||
		    same_assignment(o, e) || (o->has_floor && o->floor >= pr->number) ||
		    prnew_parse(o->payload, strlen(o->payload), &op, NULL) < 0)
			continue;
		rival = strcmp(op.head, pr->head) == 0 && strcmp(op.base, pr->base) == 0;
		prnew_release(&op);
		if (rival)
			return buf_fail(why_not, 0,
					"#%llu may as well be the result of journal entry %lld of "
					"%s/%s#%llu, also unfinished",
					(unsigned long long)pr->number, (long long)o->id,
					o->assign_owner ? o->assign_owner : "?",
					o->assign_repo ? o->assign_repo : "?",
					(unsigned long long)o->assign_issue);
	}
	return 1;
}

/*
 * A pull request whose answer never came: claimed when exactly one PR is
 * provably its result (pull_verdict); else opened, unless an open PR with
 * the same head and base is in the way (then failed, with the reason).
 * Recorded under the entry's own assignment.
 */
static int recover_pull(struct recovery *rc, const struct journal_entry *e, uint64_t *forge_id,
			char *answer, size_t size, struct buf *why)
{
	struct writes *w = rc->w;
	struct forge *f = w->opt.forge;
	struct forge_issue_list pl = {NULL, 0};
	struct buf why_not = BUF_INIT(4096), in_way = BUF_INIT(4096);
	uint64_t number = 0;
	size_t i, claimable = 0;
	const char *login;
	struct prnew p;
	int r;

	r = prnew_parse(e->payload, strlen(e->payload), &p, why);
	if (r < 0)
		return r;
	if (strcmp(e->owner, e->assign_owner) != 0 || strcmp(e->repo, e->assign_repo) != 0) {
		r = buf_fail(
		    why, -EACCES,
		    "a pull request in %s/%s is outside the assignment %s/%s#%llu: not sent",
		    e->owner, e->repo, e->assign_owner, e->assign_repo,
		    (unsigned long long)e->assign_issue);
		goto out;
	}
	r = recovery_login(rc, &login, why);
	if (r == 0)
		r = f->ops->list_issues(f, e->owner, e->repo, FORGE_PULLS, NULL, &pl, why);
	for (i = 0; r == 0 && i < pl.n; i++) {
		const struct forge_issue *x = &pl.v[i];
		int v;

		if (!x->head || !x->base || strcmp(x->head, p.head) != 0 ||
		    strcmp(x->base, p.base) != 0)
			continue;
		buf_reset(&why_not);
		v = strcmp(x->title, p.title) == 0 ? pull_verdict(rc, e, x, login, &why_not) : 0;
		if (v < 0) {
			r = buf_fail(why, -EIO, "cannot read the journal: %s", strerror(-v));
		} else if (v == 1) {
			claimable++;
			number = x->number;
		} else if (strcmp(x->state, "open") == 0 && !in_way.len) {
			/* Gitea keeps one open PR per head and base: a new one would be refused. */
			if (why_not.len)
				buf_puts(&in_way, buf_cstr(&why_not));
			else
				buf_printf(&in_way, "#%llu ('%s') is open with this head and base",
					   (unsigned long long)x->number, x->title);
		}
	}
	if (r < 0)
		goto out;
	if (claimable > 1) {
		r = buf_fail(why, -EEXIST,
			     "more than one pull request could be this write's; none is claimed");
		goto out;
	}
	if (!claimable && in_way.len) {
		r = buf_fail(why, -EEXIST,
			     "not claimed: %s; the forge allows one open pull request per head "
			     "and base, so none was opened",
			     buf_cstr(&in_way));
		goto out;
	}
	if (claimable) {
		snprintf(answer, size, "pull %llu (found on the forge)",
			 (unsigned long long)number);
	} else {
		struct floor_ctx fc = {w->opt.state, e->id};

		r = f->ops->create_pr(f, e->owner, e->repo, &p.req, record_floor, &fc, &number,
				      why);
		if (r < 0)
			goto out;
		snprintf(answer, size, "pull %llu", (unsigned long long)number);
	}
	*forge_id = number;
	/* Under the entry's own assignment (which is this mount's: own_entry). */
	r = state_pr_add(w->opt.state, e->assign_owner, e->assign_repo, e->assign_issue, number);
	if (r < 0) {
		r = buf_fail(why, -EIO, "pull %llu opened, but it cannot be recorded: %s",
			     (unsigned long long)number, strerror(-r));
		goto out;
	}
	if (own_entry(w->opt.scope, e))
		scope_add_pr(w->opt.scope, number);
out:
	forge_issue_list_release(&pl);
	buf_release(&why_not);
	buf_release(&in_way);
	prnew_release(&p);
	return r;
}

/*
 * A done signal whose answer never came: if it stands, it reached the
 * queue and only the entry was left behind; else it is queued now. (The
 * daemon cannot tell "queued but not yet recorded", a window of one
 * SQLite write, from "never queued": the orchestrator may then see the
 * signal twice, never zero times.)
 */
static int recover_done(struct recovery *rc, const struct journal_entry *e, char *answer,
			size_t size, struct buf *why)
{
	struct writes *w = rc->w;
	struct scope *s = w->opt.scope;
	struct done_signal sig;
	char *text = NULL, *name = NULL;
	int r;

	if (strcmp(e->owner, s->owner) != 0 || strcmp(e->repo, s->repo) != 0 ||
	    e->number != s->issue)
		return buf_fail(why, -EACCES,
				"a done signal for %s/%s#%llu is not this assignment's", e->owner,
				e->repo, (unsigned long long)e->number);
	r = done_parse(e->payload, strlen(e->payload), &sig, why);
	if (r < 0)
		return r;
	pthread_mutex_lock(&w->lock);
	if (w->done_text) {
		snprintf(answer, size, "the signal stands");
	} else {
		text = done_signal_text(&sig);
		r = text ? queue_done(w, &sig, &text, &name, why) : -ENOMEM;
		if (r == 0)
			snprintf(answer, size, "%s", name);
	}
	pthread_mutex_unlock(&w->lock);
	free(text);
	free(name);
	done_signal_release(&sig);
	return r;
}

/* Finishes one entry of this mount's assignment; -EIO leaves it for the next start. */
static int recover_one(struct recovery *rc, const struct journal_entry *e, uint64_t *forge_id,
		       char *answer, size_t size, struct buf *why)
{
	int r;

	if (strcmp(e->kind, "comment") == 0)
		return recover_comment(rc, e, forge_id, answer, size, why);
	if (strcmp(e->kind, "create_pr") == 0)
		return recover_pull(rc, e, forge_id, answer, size, why);
	if (strcmp(e->kind, "done") == 0)
		return recover_done(rc, e, answer, size, why);
	if (strcmp(e->kind, "patch") == 0) {
		/* A field change is idempotent: sent again. */
		r = target_in_scope(rc->w, e, why);
		if (r == 0)
			r = send_patch(rc->w, e->owner, e->repo, e->number,
				       e->field ? e->field : "", e->payload, why);
		if (r == 0)
			snprintf(answer, size, "%s", e->field ? e->field : "patch");
		return r;
	}
	return buf_fail(why, -EINVAL, "unknown kind of write '%s'", e->kind);
}

int writes_recover(struct writes *w, struct buf *err)
{
	struct recovery rc = {.w = w, .why_no = BUF_INIT(4096)};
	struct journal_entry *v = NULL;
	size_t n = 0, i, done = 0;
	int r;

	r = state_journal_unfinished(w->opt.state, &v, &n);
	if (r < 0)
		return r;
	rc.v = v;
	rc.n = n;
	for (i = 0; i < n; i++) {
		const struct journal_entry *e = &v[i];
		struct buf why = BUF_INIT(4096);
		struct job j = {.kind = e->kind,
				.field = e->field,
				.owner = e->owner,
				.repo = e->repo,
				.number = e->number};
		char answer[96] = "";

		/* Another assignment's write waits for a daemon holding that assignment. */
		if (!own_entry(w->opt.scope, e))
			continue;
		if (strcmp(e->kind, "create_pr") == 0)
			snprintf(j.at, sizeof(j.at), "%s/%s/pulls/new (recovered)", e->owner,
				 e->repo);
		else
			snprintf(j.at, sizeof(j.at), "%s/%s#%llu (recovered)", e->owner, e->repo,
				 (unsigned long long)e->number);
		r = recover_one(&rc, e, &j.forge_id, answer, sizeof(answer), &why);
		if (r == -EIO) {
			/* The forge is still away: leave it for the next start. */
			if (err)
				buf_printf(err, "%s%s %s: %s", err->len ? "; " : "", e->kind, j.at,
					   buf_cstr(&why));
			buf_release(&why);
			continue;
		}
		journal_end(w, &j, e->id, r, answer[0] ? answer : e->kind, &why);
		if (strcmp(e->kind, "create_pr") == 0) {
			view_forget_lists(w->opt.view, e->owner, e->repo);
		} else if (e->number) {
			view_forget_item(w->opt.view, e->owner, e->repo, false, e->number);
			view_forget_item(w->opt.view, e->owner, e->repo, true, e->number);
		}
		buf_release(&why);
		done++;
	}
	state_journal_list_free(v, n);
	free(rc.login);
	buf_release(&rc.why_no);
	return (int)done;
}
