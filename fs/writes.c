#include "fs/writes.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/content.h"
#include "fs/prnew.h"
#include "state/done.h"
#include "state/queue.h"
#include "util/str.h"

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

static void assignment_key(const struct scope *s, char *key, size_t size)
{
	snprintf(key, size, "done:%s/%s#%llu", s->owner, s->repo, (unsigned long long)s->issue);
}

int writes_new(const struct writes_options *opt, struct writes **out, struct buf *err)
{
	struct writes *w = calloc(1, sizeof(*w));
	char key[TREE_OWNER_MAX + TREE_REPO_MAX + 40];
	uint64_t *prs = NULL;
	size_t n = 0, i;
	void *data;
	size_t len;
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
		assignment_key(opt->scope, key, sizeof(key));
		if (state_cache_get(opt->state, key, &data, &len, NULL, NULL) == 0) {
			w->done_text = data;
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
	if (file == F_TITLE && (t[0] == '\0' || str_has_control(t, strlen(t), false))) {
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
	char at[TREE_OWNER_MAX + TREE_REPO_MAX + 40];
};

static int journal_begin(struct writes *w, const struct job *j, int64_t *id, struct buf *err)
{
	struct journal_entry e = {0};
	int r;

	e.kind = (char *)j->kind;
	e.owner = (char *)j->owner;
	e.repo = (char *)j->repo;
	e.number = j->number;
	e.field = (char *)j->field;
	e.payload = (char *)j->payload;
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
	state_journal_set(w->opt.state, id, r == 0 ? JOURNAL_DONE : JOURNAL_FAILED,
			  r == 0 ? answer : (err && err->len ? buf_cstr(err) : strerror(-r)));
	provenance(w, j->field ? j->field : j->kind, j->at, r, answer, err);
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

static int commit_comment(struct writes *w, const struct node *n, const char *data, size_t len,
			  struct buf *err)
{
	struct job j = {.kind = "comment", .owner = n->owner, .repo = n->repo, .number = n->number};
	struct forge *f = w->opt.forge;
	struct forge_comment c;
	char *text, answer[64];
	int64_t id;
	int r;

	if (len > WRITE_MAX)
		return invalid(err, "%s: content too large", "comments/new");
	if (!str_utf8_valid(data, len) || memchr(data, '\0', len))
		return invalid(err, "%s: content is not UTF-8 text", "comments/new");
	text = strip_newline(data, len);
	if (!text)
		return -ENOMEM;
	if (!*text) {
		free(text);
		return invalid(err, "%s: an empty comment is not posted", "comments/new");
	}
	j.payload = text;
	where(n, j.at, sizeof(j.at));
	strncat(j.at, "/comments/new", sizeof(j.at) - strlen(j.at) - 1);
	r = journal_begin(w, &j, &id, err);
	if (r == 0) {
		r = f->ops->post_comment(f, n->owner, n->repo, n->number, text, &c, err);
		if (r == 0) {
			snprintf(answer, sizeof(answer), "comment %llu", (unsigned long long)c.id);
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
		       struct buf *reply, struct buf *err)
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
		r = f->ops->create_pr(f, n->owner, n->repo, &p.req, &number, err);
		if (r == 0) {
			snprintf(answer, sizeof(answer), "pull %llu", (unsigned long long)number);
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

static int commit_done(struct writes *w, const struct node *n, const char *data, size_t len,
		       struct buf *err)
{
	struct scope *s = w->opt.scope;
	struct job j = {.kind = "done", .owner = s->owner, .repo = s->repo, .number = s->issue};
	char key[TREE_OWNER_MAX + TREE_REPO_MAX + 40];
	struct done_signal sig;
	struct queue_item item = {0};
	uint64_t *prs = NULL;
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
	if (!text || (r = scope_prs(s, &prs, &item.n_prs)) < 0) {
		r = -ENOMEM;
		goto out;
	}
	r = journal_begin(w, &j, &id, err);
	if (r < 0)
		goto out;
	item.owner = s->owner;
	item.repo = s->repo;
	item.issue = s->issue;
	item.sig = &sig;
	item.prs = prs;
	item.time = time(NULL);
	r = queue_write(w->opt.queue_dir, &item, &name, err);
	if (r == 0) {
		assignment_key(s, key, sizeof(key));
		state_cache_put(w->opt.state, key, text, strlen(text) + 1, 0, NULL);
		w->done_text = text;
		text = NULL;
		scope_set_done(s);
	} else if (r != -EINVAL) {
		r = -EIO;
	}
	journal_end(w, &j, id, r, name, err);
out:
	pthread_mutex_unlock(&w->lock);
	free(text);
	free(name);
	free(prs);
	done_signal_release(&sig);
	return r;
}

int writes_commit(struct writes *w, const struct node *n, const char *data, size_t len,
		  struct buf *reply, struct buf *err)
{
	int r = scope_check(w->opt.scope, n, err);

	if (r < 0)
		return r;
	switch (n->kind) {
	case N_ITEM_FILE:
		return commit_patch(w, n, data, len, err);
	case N_COMMENT_NEW:
		return commit_comment(w, n, data, len, err);
	case N_PULLS_NEW:
		return commit_pull(w, n, data, len, reply, err);
	case N_DONE:
		return commit_done(w, n, data, len, err);
	default:
		return -EACCES;
	}
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

struct claimed {
	uint64_t *ids;
	size_t n;
};

/* Collects the comment ids that finished journal entries already account for. */
static int collect_claimed(void *ud, const struct journal_entry *e)
{
	struct claimed *c = ud;
	unsigned long long id;
	uint64_t *v;

	if (e->status != JOURNAL_DONE || strcmp(e->kind, "comment") != 0 || !e->answer ||
	    sscanf(e->answer, "comment %llu", &id) != 1)
		return 0;
	v = realloc(c->ids, (c->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->ids = v;
	c->ids[c->n++] = id;
	return 0;
}

static bool is_claimed(const struct claimed *c, uint64_t id)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->ids[i] == id)
			return true;
	return false;
}

/*
 * A comment whose answer never came: posted only if the forge does not
 * have it. It is there when a comment with exactly this body appeared
 * since the write was journaled and no other journaled write claims it.
 */
static int recover_comment(struct writes *w, const struct journal_entry *e, char *answer,
			   size_t size, struct buf *err)
{
	struct forge *f = w->opt.forge;
	struct forge_comment_list cl;
	struct forge_comment c;
	struct claimed cm = {0};
	size_t i;
	int r;

	r = f->ops->list_comments(f, e->owner, e->repo, e->number, &cl, err);
	if (r < 0)
		return r;
	r = state_journal_each(w->opt.state, collect_claimed, &cm);
	for (i = 0; r == 0 && i < cl.n; i++) {
		const struct forge_comment *x = &cl.v[i];

		if (strcmp(x->body ? x->body : "", e->payload) == 0 && !is_claimed(&cm, x->id) &&
		    content_time(x->created_at) >= e->created - CLOCK_SLACK_S) {
			snprintf(answer, size, "comment %llu", (unsigned long long)x->id);
			goto out;
		}
	}
	if (r == 0)
		r = f->ops->post_comment(f, e->owner, e->repo, e->number, e->payload, &c, err);
	if (r == 0) {
		snprintf(answer, size, "comment %llu", (unsigned long long)c.id);
		forge_comment_release(&c);
	}
out:
	free(cm.ids);
	forge_comment_list_release(&cl);
	return r;
}

/* A pull request whose answer never came: found by head and base, or opened. */
static int recover_pull(struct writes *w, const struct journal_entry *e, char *answer, size_t size,
			struct buf *err)
{
	struct forge *f = w->opt.forge;
	struct scope *s = w->opt.scope;
	struct forge_issue_list pl;
	uint64_t number = 0;
	struct prnew p;
	size_t i;
	int r;

	r = prnew_parse(e->payload, strlen(e->payload), &p, err);
	if (r < 0)
		return r;
	r = f->ops->list_issues(f, e->owner, e->repo, FORGE_PULLS, NULL, &pl, err);
	for (i = 0; r == 0 && i < pl.n && !number; i++)
		if (pl.v[i].head && pl.v[i].base && strcmp(pl.v[i].head, p.head) == 0 &&
		    strcmp(pl.v[i].base, p.base) == 0 && strcmp(pl.v[i].title, p.title) == 0 &&
		    strcmp(pl.v[i].state, "open") == 0)
			number = pl.v[i].number;
	if (r == 0)
		forge_issue_list_release(&pl);
	if (r == 0 && !number)
		r = f->ops->create_pr(f, e->owner, e->repo, &p.req, &number, err);
	if (r == 0) {
		snprintf(answer, size, "pull %llu", (unsigned long long)number);
		if (s->assigned) {
			state_pr_add(w->opt.state, s->owner, s->repo, s->issue, number);
			scope_add_pr(s, number);
		}
	}
	prnew_release(&p);
	return r;
}

int writes_recover(struct writes *w, struct buf *err)
{
	struct journal_entry *v = NULL;
	size_t n = 0, i, done = 0;
	int r;

	r = state_journal_unfinished(w->opt.state, &v, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		const struct journal_entry *e = &v[i];
		struct buf why = BUF_INIT(4096);
		struct job j = {.kind = e->kind,
				.field = e->field,
				.owner = e->owner,
				.repo = e->repo,
				.number = e->number};
		char answer[64] = "";

		snprintf(j.at, sizeof(j.at), "%s/%s#%llu (recovered)", e->owner, e->repo,
			 (unsigned long long)e->number);
		if (strcmp(e->kind, "comment") == 0)
			r = recover_comment(w, e, answer, sizeof(answer), &why);
		else if (strcmp(e->kind, "patch") == 0)
			r = send_patch(w, e->owner, e->repo, e->number, e->field, e->payload, &why);
		else if (strcmp(e->kind, "create_pr") == 0)
			r = recover_pull(w, e, answer, sizeof(answer), &why);
		else
			r = 0; /* done: the queue write is local and finished or never began */
		if (r == -EIO) {
			/* The forge is still away: leave it for the next start. */
			if (err)
				buf_printf(err, "%s%s %s: %s", err->len ? "; " : "", e->kind, j.at,
					   buf_cstr(&why));
			buf_release(&why);
			continue;
		}
		journal_end(w, &j, e->id, r, answer[0] ? answer : e->kind, &why);
		view_forget_item(w->opt.view, e->owner, e->repo, false, e->number);
		buf_release(&why);
		done++;
	}
	state_journal_list_free(v, n);
	return (int)done;
}
