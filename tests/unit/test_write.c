/*
 * The write path (write/write.h) against a fake forge and a real state
 * store: one write from journal to outcome (write_commit), and crash
 * recovery (write/recover.c, write_recover): which unfinished journal entries a starting daemon
 * finishes, and which comment or pull request it may claim as a write's
 * result. Each decision has a test that fails if the rule is dropped:
 * another user's PR or comment, a PR that existed before the write (its
 * number is not above the floor), one created too long before, one another
 * entry or assignment already accounts for, one a rival unfinished entry
 * may have opened, entries of another assignment, writes outside the
 * assignment's scope, and rows an older schema left.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "forge/forge.h"
#include "state/state.h"
#include "util/buf.h"
#include "write/write.h"

#define MAX_ITEMS 16

/* A forge with one repository's pull requests and comments, counted per operation. */
struct fake {
	struct forge base; /* first: the code under test sees a struct forge */
	const char *login; /* whoami's answer */
	int whoami_fail;   /* -errno whoami answers instead, when set */
	int list_fail;	   /* -errno the list operations answer, when set */
	int patch_fail;	   /* -errno update_issue answers, when set */
	struct forge_issue prs[MAX_ITEMS];
	size_t n_prs;
	struct forge_comment comments[MAX_ITEMS];
	size_t n_comments;
	uint64_t max; /* the highest issue/PR number */
	uint64_t next_comment_id;
	unsigned whoamis, pr_lists, comment_lists, creates, posts, patches;
	uint64_t patched; /* the number the last patch went to */
	char created_in[64];
};

static struct fake *fk_of(struct forge *f)
{
	return (struct fake *)f;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	assert_non_null(d);
	return d;
}

static char *rfc3339(time_t t)
{
	char s[32];
	struct tm tm;

	assert_non_null(gmtime_r(&t, &tm));
	assert_true(strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0);
	return xstrdup(s);
}

/* Adds pull request number (open) by author, created at time when. */
static void fake_pr(struct fake *fk, uint64_t number, const char *author, const char *title,
		    const char *head, time_t when)
{
	struct forge_issue *p = &fk->prs[fk->n_prs++];

	assert_true(fk->n_prs <= MAX_ITEMS);
	memset(p, 0, sizeof(*p));
	p->number = number;
	p->title = xstrdup(title);
	p->body = xstrdup("");
	p->state = xstrdup("open");
	p->author = xstrdup(author);
	p->updated_at = rfc3339(when);
	p->created_at = rfc3339(when);
	p->is_pull = true;
	p->head = xstrdup(head);
	p->base = xstrdup("main");
	p->json = xstrdup("{}\n");
	if (number > fk->max)
		fk->max = number;
}

static void fake_comment(struct fake *fk, uint64_t issue, const char *author, const char *body,
			 time_t when)
{
	struct forge_comment *c = &fk->comments[fk->n_comments++];

	assert_true(fk->n_comments <= MAX_ITEMS);
	c->id = fk->next_comment_id++;
	c->issue = issue;
	c->body = xstrdup(body);
	c->author = xstrdup(author);
	c->created_at = rfc3339(when);
	c->updated_at = rfc3339(when);
}

static int fake_whoami(struct forge *f, char **login, struct buf *err)
{
	struct fake *fk = fk_of(f);

	fk->whoamis++;
	if (fk->whoami_fail)
		return buf_fail(err, fk->whoami_fail, "whoami refused");
	*login = xstrdup(fk->login);
	return 0;
}

static int fake_list_issues(struct forge *f, const char *owner, const char *repo,
			    enum forge_kind kind, const char *since, struct forge_issue_list *out,
			    struct buf *err)
{
	struct fake *fk = fk_of(f);
	struct forge_issue_list l = {NULL, 0};
	size_t i;

	(void)owner;
	(void)repo;
	(void)since;
	assert_int_equal(kind, FORGE_PULLS);
	fk->pr_lists++;
	if (fk->list_fail)
		return buf_fail(err, fk->list_fail, "list failed");
	l.v = calloc(MAX_ITEMS, sizeof(*l.v));
	assert_non_null(l.v);
	for (i = 0; i < fk->n_prs; i++)
		assert_int_equal(forge_issue_copy(&l.v[l.n++], &fk->prs[i]), 0);
	*out = l;
	return 0;
}

static int fake_list_comments(struct forge *f, const char *owner, const char *repo, uint64_t number,
			      struct forge_comment_list *out, struct buf *err)
{
	struct fake *fk = fk_of(f);
	struct forge_comment_list l = {NULL, 0};
	size_t i;

	(void)owner;
	(void)repo;
	fk->comment_lists++;
	if (fk->list_fail)
		return buf_fail(err, fk->list_fail, "list failed");
	l.v = calloc(MAX_ITEMS, sizeof(*l.v));
	assert_non_null(l.v);
	for (i = 0; i < fk->n_comments; i++)
		if (fk->comments[i].issue == number)
			assert_int_equal(forge_comment_copy(&l.v[l.n++], &fk->comments[i]), 0);
	*out = l;
	return 0;
}

static int fake_post_comment(struct forge *f, const char *owner, const char *repo, uint64_t number,
			     const char *body, struct forge_comment *out, struct buf *err)
{
	struct fake *fk = fk_of(f);

	(void)owner;
	(void)repo;
	(void)err;
	fk->posts++;
	fake_comment(fk, number, fk->login, body, time(NULL));
	return forge_comment_copy(out, &fk->comments[fk->n_comments - 1]);
}

static int fake_create_pr(struct forge *f, const char *owner, const char *repo,
			  const struct forge_pr_request *req, forge_floor_fn floor_cb,
			  void *floor_ud, uint64_t *number, struct buf *err)
{
	struct fake *fk = fk_of(f);
	int r;

	(void)err;
	fk->creates++;
	snprintf(fk->created_in, sizeof(fk->created_in), "%s/%s", owner, repo);
	if (floor_cb && (r = floor_cb(floor_ud, fk->max)) != 0)
		return r;
	fake_pr(fk, fk->max + 1, fk->login, req->title, req->head, time(NULL));
	*number = fk->max;
	return 0;
}

static int fake_update_issue(struct forge *f, const char *owner, const char *repo, uint64_t number,
			     const struct forge_issue_patch *patch, struct buf *err)
{
	struct fake *fk = fk_of(f);

	(void)owner;
	(void)repo;
	(void)patch;
	fk->patches++;
	fk->patched = number;
	if (fk->patch_fail)
		return buf_fail(err, fk->patch_fail, "patch refused");
	return 0;
}

static const struct forge_ops fake_ops = {
    .list_issues = fake_list_issues,
    .list_comments = fake_list_comments,
    .whoami = fake_whoami,
    .create_pr = fake_create_pr,
    .post_comment = fake_post_comment,
    .update_issue = fake_update_issue,
};

static void fake_release(struct fake *fk)
{
	size_t i;

	for (i = 0; i < fk->n_prs; i++)
		forge_issue_release(&fk->prs[i]);
	for (i = 0; i < fk->n_comments; i++)
		forge_comment_release(&fk->comments[i]);
}

struct fx {
	char dir[64], db[128], queue[128];
	struct state *st;
	struct fake fk;
	struct scope scope;
	bool scope_live;
	struct write *w;
	struct wlog *log;
	char changed[256]; /* what the write path said it changed, "o/r pull n;" each */
};

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

#define PR3_TITLE "Raise bash history limits"
#define PR3_REQUEST                                                                                \
	"{\"title\": \"" PR3_TITLE "\", \"head\": \"bigger-history\", \"base\": \"main\", "        \
	"\"body\": \"x\"}"
#define NEW_REQUEST                                                                                \
	"{\"title\": \"Vim plugins\", \"head\": \"vim-plugins\", \"base\": \"main\", \"body\": "   \
	"\"x\"}"

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct buf err = BUF_INIT(4096);

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/bottlefs-writes-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->db, sizeof(f->db), "%s/state.db", f->dir);
	snprintf(f->queue, sizeof(f->queue), "%s/queue", f->dir);
	assert_int_equal(state_open(f->db, &f->st, &err), 0);
	buf_release(&err);
	/* alice/dotfiles as the demo seed has it: bob's PR #3 is open, #6 the highest number. */
	f->fk.base.ops = &fake_ops;
	f->fk.login = "alice";
	f->fk.next_comment_id = 100;
	fake_pr(&f->fk, 3, "bob", PR3_TITLE, "bigger-history", 1767969000);
	f->fk.max = 6;
	assert_int_equal(wlog_new(&f->log), 0);
	*state = f;
	return 0;
}

static void stop(struct fx *f)
{
	write_free(f->w);
	f->w = NULL;
	if (f->scope_live)
		scope_release(&f->scope);
	f->scope_live = false;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	stop(f);
	wlog_free(f->log);
	state_free(f->st);
	fake_release(&f->fk);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* write_changed_fn: records what the write path says it changed (the tree forgets it). */
static void changed(void *ud, const char *owner, const char *repo, int pull, uint64_t number)
{
	struct fx *f = ud;
	size_t n = strlen(f->changed);

	snprintf(f->changed + n, sizeof(f->changed) - n, "%s/%s %d %llu;", owner, repo, pull,
		 (unsigned long long)number);
}

/* Starts a mount's writes assigned to assign (as --assign spells it). */
static void start(struct fx *f, const char *assign)
{
	struct write_options wo = {0};
	struct buf err = BUF_INIT(4096);

	stop(f);
	scope_init(&f->scope);
	f->scope_live = true;
	assert_int_equal(scope_assign(&f->scope, assign, &err), 0);
	wo.forge = &f->fk.base;
	wo.state = f->st;
	wo.scope = &f->scope;
	wo.queue_dir = f->queue;
	wo.log = f->log;
	wo.changed = changed;
	wo.changed_ud = f;
	assert_int_equal(write_new(&wo, &f->w, &err), 0);
	buf_release(&err);
}

/* Starts a mount assigned assign and runs recovery; returns what it did. */
static int recover(struct fx *f, const char *assign, struct buf *err)
{
	start(f, assign);
	return write_recover(f->w, err);
}

/* Journals an entry as a dead daemon left it (sending). floor < 0: none. */
static int64_t journal(struct fx *f, const char *kind, const char *owner, const char *repo,
		       uint64_t number, const char *field, const char *payload,
		       const char *assign_owner, const char *assign_repo, uint64_t assign_issue,
		       int64_t floor)
{
	struct journal_entry e = {0};
	int64_t id;

	e.kind = (char *)kind;
	e.owner = (char *)owner;
	e.repo = (char *)repo;
	e.number = number;
	e.field = (char *)field;
	e.payload = (char *)payload;
	e.assign_owner = (char *)assign_owner;
	e.assign_repo = (char *)assign_repo;
	e.assign_issue = assign_issue;
	e.has_floor = floor >= 0;
	e.floor = floor >= 0 ? (uint64_t)floor : 0;
	assert_int_equal(state_journal_add(f->st, &e, &id), 0);
	assert_int_equal(state_journal_set(f->st, id, JOURNAL_SENDING, NULL), 0);
	return id;
}

/* A create_pr of alice/dotfiles#2 with the given request and floor. */
static int64_t journal_pull(struct fx *f, const char *request, int64_t floor)
{
	return journal(f, "create_pr", "alice", "dotfiles", 0, NULL, request, "alice", "dotfiles",
		       2, floor);
}

/* Asserts entry id's status, forge id, and that its answer contains want (NULL: any). */
static void expect_entry(struct fx *f, int64_t id, enum journal_status status, uint64_t forge_id,
			 const char *want)
{
	struct journal_entry e;

	assert_int_equal(state_journal_get(f->st, id, &e), 0);
	if (e.status != status || e.forge_id != forge_id ||
	    (want && (!e.answer || !strstr(e.answer, want))))
		fail_msg("entry %lld: status %s, forge_id %llu, answer '%s'; want %s, %llu, '%s'",
			 (long long)id, journal_status_name(e.status),
			 (unsigned long long)e.forge_id, e.answer ? e.answer : "(null)",
			 journal_status_name(status), (unsigned long long)forge_id,
			 want ? want : "(any)");
	state_journal_entry_release(&e);
}

/* The PRs the state store lists for owner/repo#issue, as "7,9" ("" when none). */
static const char *prs_of(struct fx *f, const char *owner, const char *repo, uint64_t issue)
{
	static char out[128];
	uint64_t *v = NULL;
	size_t n = 0, i;
	int at = 0;

	assert_int_equal(state_pr_list(f->st, owner, repo, issue, &v, &n), 0);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		at += snprintf(out + at, sizeof(out) - (size_t)at, "%s%llu", i ? "," : "",
			       (unsigned long long)v[i]);
	free(v);
	return out;
}

static bool in_scope(struct fx *f, uint64_t pr)
{
	struct write_target t = {.kind = WRITE_FIELD,
				 .owner = f->scope.owner,
				 .repo = f->scope.repo,
				 .pull = true,
				 .number = pr,
				 .field = WRITE_BODY};

	return scope_check(&f->scope, &t, NULL) == 0;
}

/* Item 2: bob's open PR #3 has the write's title, head and base; the token is alice's. */
static void test_pull_of_another_user_is_not_claimed(void **state)
{
	struct fx *f = *state;
	int64_t id = journal_pull(f, PR3_REQUEST, 6);

	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_FAILED, 0, "#3 was opened by 'bob', not by the token's user");
	expect_entry(f, id, JOURNAL_FAILED, 0, "none was opened");
	assert_string_equal(prs_of(f, "alice", "dotfiles", 2), "");
	assert_false(in_scope(f, 3));
	/* It is in the way (one open PR per head and base): nothing is posted. */
	assert_int_equal(f->fk.creates, 0);
}

/* The token's own user opened a matching PR, but before the write: its number is the floor. */
static void test_pull_that_existed_before_is_not_claimed(void **state)
{
	struct fx *f = *state;
	int64_t id;

	fake_pr(&f->fk, 7, "alice", "Vim plugins", "vim-plugins", time(NULL));
	/* Journaled after #7 existed: the floor is 7. The clock cannot tell them apart. */
	id = journal_pull(f, NEW_REQUEST, 7);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_FAILED, 0, "#7 existed before this write was sent");
	assert_false(in_scope(f, 7));
	assert_int_equal(f->fk.creates, 0);
}

static void test_pull_created_long_before_is_not_claimed(void **state)
{
	struct fx *f = *state;
	int64_t id;

	/* The number is above the floor (say the clock of the forge is far behind). */
	fake_pr(&f->fk, 7, "alice", "Vim plugins", "vim-plugins", time(NULL) - 3600);
	id = journal_pull(f, NEW_REQUEST, 6);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_FAILED, 0, "before this write");
	assert_false(in_scope(f, 7));
}

static void test_pull_without_floor_is_not_claimed(void **state)
{
	struct fx *f = *state;
	int64_t id;

	fake_pr(&f->fk, 7, "alice", "Vim plugins", "vim-plugins", time(NULL));
	id = journal_pull(f, NEW_REQUEST, -1);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_FAILED, 0, "cannot be shown to be this write's");
	assert_false(in_scope(f, 7));
}

/* Everything holds: the PR is the write's, recorded under its assignment, and in scope. */
static void test_pull_that_is_ours_is_claimed(void **state)
{
	struct fx *f = *state;
	int64_t id;

	fake_pr(&f->fk, 7, "alice", "Vim plugins", "vim-plugins", time(NULL));
	id = journal_pull(f, NEW_REQUEST, 6);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_DONE, 7, "pull 7 (found on the forge)");
	assert_string_equal(prs_of(f, "alice", "dotfiles", 2), "7");
	assert_true(in_scope(f, 7));
	assert_int_equal(f->fk.creates, 0);
	/* Finished: a second start does nothing more. */
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 0);
	assert_true(in_scope(f, 7));
}

static void test_pull_claimed_by_another_entry_is_not_claimed(void **state)
{
	struct fx *f = *state;
	int64_t other, id;

	fake_pr(&f->fk, 7, "alice", "Vim plugins", "vim-plugins", time(NULL));
	other = journal_pull(f, NEW_REQUEST, 6);
	assert_int_equal(state_journal_finish(f->st, other, JOURNAL_DONE, "pull 7", 7), 0);
	id = journal_pull(f, NEW_REQUEST, 6);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_FAILED, 0, "already the result of journal entry");
	assert_int_equal(f->fk.creates, 0);
}

static void test_pull_of_another_assignment_is_not_claimed(void **state)
{
	struct fx *f = *state;
	int64_t id;

	fake_pr(&f->fk, 7, "alice", "Vim plugins", "vim-plugins", time(NULL));
	assert_int_equal(state_pr_add(f->st, "alice", "dotfiles", 5, 7), 0);
	id = journal_pull(f, NEW_REQUEST, 6);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_FAILED, 0, "#7 was opened for alice/dotfiles#5");
	assert_false(in_scope(f, 7));
	assert_string_equal(prs_of(f, "alice", "dotfiles", 2), "");
}

/* Two runs (same bot user) died sending the same head and base: neither takes it on a guess. */
static void test_pull_a_rival_entry_may_have_opened_is_not_claimed(void **state)
{
	struct fx *f = *state;
	int64_t rival, id;

	fake_pr(&f->fk, 7, "alice", "Vim plugins", "vim-plugins", time(NULL));
	rival = journal(f, "create_pr", "alice", "dotfiles", 0, NULL, NEW_REQUEST, "alice",
			"dotfiles", 5, 6);
	id = journal_pull(f, NEW_REQUEST, 6);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_FAILED, 0, "may as well be the result of journal entry");
	/* The rival is another assignment's: left as it was. */
	expect_entry(f, rival, JOURNAL_SENDING, 0, NULL);
}

/* Nothing on the forge: the PR is opened, its floor journaled just before the request. */
static void test_pull_absent_is_opened_once(void **state)
{
	struct fx *f = *state;
	struct journal_entry e;
	int64_t id = journal_pull(f, NEW_REQUEST, -1);

	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	assert_int_equal(f->fk.creates, 1);
	expect_entry(f, id, JOURNAL_DONE, 7, "pull 7");
	assert_int_equal(state_journal_get(f->st, id, &e), 0);
	assert_true(e.has_floor);
	assert_int_equal(e.floor, 6);
	state_journal_entry_release(&e);
	assert_string_equal(prs_of(f, "alice", "dotfiles", 2), "7");
	assert_true(in_scope(f, 7));
}

/*
 * Item 3: a run assigned acme/widgets#2 starts on the database a run of
 * alice/dotfiles#2 left an unanswered pulls/new in. It must not touch it;
 * the run of alice/dotfiles#2 finishes it later, under its own assignment.
 */
static void test_other_assignment_waits_for_its_own_run(void **state)
{
	struct fx *f = *state;
	int64_t id;

	fake_pr(&f->fk, 7, "alice", "Vim plugins", "vim-plugins", time(NULL));
	id = journal_pull(f, NEW_REQUEST, 6);
	assert_int_equal(recover(f, "acme/widgets#2", NULL), 0);
	expect_entry(f, id, JOURNAL_SENDING, 0, NULL);
	assert_int_equal(f->fk.whoamis + f->fk.pr_lists + f->fk.creates, 0);
	assert_string_equal(prs_of(f, "acme", "widgets", 2), "");
	assert_false(in_scope(f, 7));

	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_DONE, 7, NULL);
	assert_string_equal(prs_of(f, "alice", "dotfiles", 2), "7");
	assert_string_equal(prs_of(f, "acme", "widgets", 2), "");
	assert_true(in_scope(f, 7));
}

/* Another issue of the same repository is another assignment too. */
static void test_same_repository_other_issue_waits(void **state)
{
	struct fx *f = *state;
	int64_t id =
	    journal(f, "comment", "alice", "dotfiles", 5, NULL, "mine", "alice", "dotfiles", 5, -1);

	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 0);
	expect_entry(f, id, JOURNAL_SENDING, 0, NULL);
	assert_int_equal(f->fk.posts + f->fk.comment_lists, 0);
	assert_int_equal(recover(f, "alice/dotfiles#5", NULL), 1);
	expect_entry(f, id, JOURNAL_DONE, 100, "comment 100");
}

/* A pull request in a repository other than the assignment's is never sent. */
static void test_pull_outside_the_assigned_repository_fails(void **state)
{
	struct fx *f = *state;
	int64_t id = journal(f, "create_pr", "alice", "website", 0, NULL, NEW_REQUEST, "alice",
			     "dotfiles", 2, 6);

	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_FAILED, 0, "outside the assignment");
	assert_int_equal(f->fk.creates + f->fk.pr_lists, 0);
}

/* A comment with the same body, posted by someone else, is not the write's. */
static void test_comment_of_another_user_is_not_claimed(void **state)
{
	struct fx *f = *state;
	int64_t id;

	fake_comment(&f->fk, 2, "bob", "same words", time(NULL));
	id = journal(f, "comment", "alice", "dotfiles", 2, NULL, "same words", "alice", "dotfiles",
		     2, -1);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	assert_int_equal(f->fk.posts, 1);
	expect_entry(f, id, JOURNAL_DONE, 101, "comment 101");
}

static void test_comment_that_is_ours_is_claimed_once(void **state)
{
	struct fx *f = *state;
	int64_t a, b;

	fake_comment(&f->fk, 2, "alice", "twice", time(NULL));
	/* Two writes of the same text; the forge holds one: the older claims it. */
	a = journal(f, "comment", "alice", "dotfiles", 2, NULL, "twice", "alice", "dotfiles", 2,
		    -1);
	b = journal(f, "comment", "alice", "dotfiles", 2, NULL, "twice", "alice", "dotfiles", 2,
		    -1);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 2);
	expect_entry(f, a, JOURNAL_DONE, 100, "comment 100 (found on the forge)");
	expect_entry(f, b, JOURNAL_DONE, 101, "comment 101");
	assert_int_equal(f->fk.posts, 1);
}

static void test_comment_from_before_the_write_is_not_claimed(void **state)
{
	struct fx *f = *state;
	int64_t id;

	fake_comment(&f->fk, 2, "alice", "again", time(NULL) - 3600);
	id = journal(f, "comment", "alice", "dotfiles", 2, NULL, "again", "alice", "dotfiles", 2,
		     -1);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_DONE, 101, NULL);
	assert_int_equal(f->fk.posts, 1);
}

/* A patch or comment goes only to the assigned issue or one of the assignment's pull requests. */
static void test_patch_only_inside_the_assignment(void **state)
{
	struct fx *f = *state;
	int64_t issue, pr, other, comment;

	assert_int_equal(state_pr_add(f->st, "alice", "dotfiles", 2, 9), 0);
	assert_int_equal(state_pr_add(f->st, "alice", "dotfiles", 5, 11), 0);
	issue =
	    journal(f, "patch", "alice", "dotfiles", 2, "title", "T", "alice", "dotfiles", 2, -1);
	other =
	    journal(f, "patch", "alice", "dotfiles", 11, "body", "B", "alice", "dotfiles", 2, -1);
	pr = journal(f, "patch", "alice", "dotfiles", 9, "body", "B", "alice", "dotfiles", 2, -1);
	comment =
	    journal(f, "comment", "alice", "dotfiles", 11, NULL, "C", "alice", "dotfiles", 2, -1);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 4);
	expect_entry(f, issue, JOURNAL_DONE, 0, "title");
	expect_entry(f, pr, JOURNAL_DONE, 0, "body");
	expect_entry(f, other, JOURNAL_FAILED, 0,
		     "alice/dotfiles#11 is neither the assigned issue alice/dotfiles#2 nor");
	expect_entry(f, comment, JOURNAL_FAILED, 0, "is neither the assigned issue");
	assert_int_equal(f->fk.patches, 2);
	assert_int_equal(f->fk.patched, 9);
	assert_int_equal(f->fk.posts + f->fk.comment_lists, 0);
}

/* The forge is away: the entry waits for the next start, and err says which. */
static void test_forge_away_leaves_the_entry(void **state)
{
	struct fx *f = *state;
	struct buf err = BUF_INIT(4096);
	int64_t id;

	f->fk.whoami_fail = -EIO;
	id = journal_pull(f, NEW_REQUEST, 6);
	assert_int_equal(recover(f, "alice/dotfiles#2", &err), 0);
	expect_entry(f, id, JOURNAL_SENDING, 0, NULL);
	assert_non_null(strstr(buf_cstr(&err), "create_pr alice/dotfiles/pulls/new (recovered)"));
	assert_non_null(strstr(buf_cstr(&err), "cannot learn which user the token belongs to"));
	buf_release(&err);
	/* A token the forge refuses to name: nothing can be claimed; failed with the reason. */
	f->fk.whoami_fail = -EACCES;
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_FAILED, 0, "cannot learn which user the token belongs to");
	assert_int_equal(f->fk.creates, 0);
}

/* done: queued again unless it stands; either way it stands afterwards. */
static void test_done_is_queued_once(void **state)
{
	struct fx *f = *state;
	struct buf text = BUF_INIT(4096);
	int64_t id;

	id = journal(f, "done", "alice", "dotfiles", 2, NULL,
		     "{\"status\": \"success\", \"summary\": \"all good\"}", "alice", "dotfiles", 2,
		     -1);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_DONE, 0, "-alice-dotfiles-2-");
	assert_int_equal(write_done_text(f->w, &text), 0);
	assert_non_null(strstr(buf_cstr(&text), "all good"));
	buf_release(&text);
	/* Left unfinished again with the signal standing: only marked done. */
	assert_int_equal(state_journal_set(f->st, id, JOURNAL_SENDING, NULL), 0);
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, id, JOURNAL_DONE, 0, "the signal stands");
}

/*
 * The path of a write through write_commit records the floor and what the
 * forge created, and tells what it changed: the repository's lists for a
 * new pull request, the item for a comment.
 */
static void test_commit_records_floor_and_forge_id(void **state)
{
	struct fx *f = *state;
	struct buf reply = BUF_INIT(64), err = BUF_INIT(4096);
	struct journal_entry e;
	struct write_target pull = {.kind = WRITE_PULL,
				    .owner = "alice",
				    .repo = "dotfiles",
				    .path = "/forge/alice/dotfiles/pulls/new"};
	struct write_target comment = {.kind = WRITE_COMMENT,
				       .owner = "alice",
				       .repo = "dotfiles",
				       .number = 2,
				       .path = "/forge/alice/dotfiles/issues/2/comments/new"};

	start(f, "alice/dotfiles#2");
	assert_int_equal(write_commit(f->w, &pull, NEW_REQUEST, strlen(NEW_REQUEST), &reply, &err),
			 0);
	assert_string_equal(buf_cstr(&reply), "7\n");
	assert_int_equal(state_journal_get(f->st, 1, &e), 0);
	assert_string_equal(e.kind, "create_pr");
	assert_string_equal(e.assign_owner, "alice");
	assert_string_equal(e.assign_repo, "dotfiles");
	assert_int_equal(e.assign_issue, 2);
	assert_true(e.has_floor);
	assert_int_equal(e.floor, 6);
	assert_int_equal(e.forge_id, 7);
	state_journal_entry_release(&e);

	assert_int_equal(write_commit(f->w, &comment, "hi\n", 3, NULL, &err), 0);
	assert_int_equal(state_journal_get(f->st, 2, &e), 0);
	assert_int_equal(e.forge_id, 100);
	assert_int_equal(e.assign_issue, 2);
	state_journal_entry_release(&e);
	assert_string_equal(f->changed, "alice/dotfiles -1 0;alice/dotfiles 0 2;");
	buf_release(&reply);
	buf_release(&err);
}

/* The outcome log's text without its time stamps, one "path\tRESULT\tdetail" a line. */
static void log_lines(struct fx *f, struct buf *out)
{
	struct buf all = BUF_INIT(0);
	const char *p;

	assert_int_equal(wlog_text(f->log, &all), 0);
	for (p = buf_cstr(&all); *p;) {
		const char *tab = strchr(p, '\t'), *nl = strchr(p, '\n');

		assert_non_null(tab);
		assert_non_null(nl);
		assert_int_equal(buf_append(out, tab + 1, (size_t)(nl - tab)), 0);
		p = nl + 1;
	}
	buf_release(&all);
}

static struct write_target title_of(uint64_t number)
{
	struct write_target t = {.kind = WRITE_FIELD,
				 .owner = "alice",
				 .repo = "dotfiles",
				 .number = number,
				 .field = WRITE_TITLE,
				 .path = "/forge/alice/dotfiles/issues/2/title"};

	return t;
}

/* A field change: journaled, sent once, finished, logged, and the item forgotten. */
static void test_commit_field_is_journaled_sent_and_logged(void **state)
{
	struct fx *f = *state;
	struct write_target t = title_of(2);
	struct buf err = BUF_INIT(4096), lines = BUF_INIT(0);
	struct journal_entry e;

	start(f, "alice/dotfiles#2");
	assert_int_equal(write_commit(f->w, &t, "Shorter history\n", 16, NULL, &err), 0);
	assert_int_equal(f->fk.patches, 1);
	assert_int_equal(f->fk.patched, 2);
	assert_int_equal(state_journal_get(f->st, 1, &e), 0);
	assert_string_equal(e.kind, "patch");
	assert_string_equal(e.field, "title");
	/* What the forge was sent: without the newline echo added. */
	assert_string_equal(e.payload, "Shorter history");
	assert_int_equal(e.status, JOURNAL_DONE);
	assert_string_equal(e.assign_repo, "dotfiles");
	state_journal_entry_release(&e);
	log_lines(f, &lines);
	assert_string_equal(buf_cstr(&lines), "/forge/alice/dotfiles/issues/2/title\tok\t\n");
	assert_string_equal(f->changed, "alice/dotfiles 0 2;");
	buf_release(&lines);
	buf_release(&err);
}

/*
 * A send the forge refuses: close() hears the error, the entry is failed
 * with the reason and never sent again (not even by recovery), and the
 * outcome log says why. A malformed write is refused before anything is
 * journaled.
 */
static void test_commit_failure_is_failed_not_resent(void **state)
{
	struct fx *f = *state;
	struct write_target t = title_of(2);
	struct buf err = BUF_INIT(4096), lines = BUF_INIT(0);

	start(f, "alice/dotfiles#2");
	f->fk.patch_fail = -EIO;
	assert_int_equal(write_commit(f->w, &t, "T", 1, NULL, &err), -EIO);
	assert_non_null(strstr(buf_cstr(&err), "patch refused"));
	expect_entry(f, 1, JOURNAL_FAILED, 0, "patch refused");
	f->fk.patch_fail = 0;
	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 0);
	assert_int_equal(f->fk.patches, 1);
	/* Two lines: no title is EINVAL before the journal. */
	buf_reset(&err);
	assert_int_equal(write_commit(f->w, &t, "a\nb", 3, NULL, &err), -EINVAL);
	assert_int_equal(f->fk.patches, 1);
	assert_int_equal(state_journal_get(f->st, 2, &(struct journal_entry){0}), -ENOENT);
	log_lines(f, &lines);
	assert_non_null(strstr(buf_cstr(&lines), "\tEIO\tpatch refused\n"));
	assert_non_null(strstr(buf_cstr(&lines), "\tEINVAL\ttitle must be one non-empty line"));
	buf_release(&lines);
	buf_release(&err);
}

/* Outside the scope nothing is journaled or sent, and the log says so. */
static void test_commit_outside_scope_sends_nothing(void **state)
{
	struct fx *f = *state;
	struct write_target t = title_of(3);
	struct buf err = BUF_INIT(4096);

	start(f, "alice/dotfiles#2");
	assert_int_equal(write_commit(f->w, &t, "T", 1, NULL, &err), -EACCES);
	assert_non_null(strstr(buf_cstr(&err), "outside the assignment"));
	assert_int_equal(f->fk.patches, 0);
	assert_int_equal(state_journal_get(f->st, 1, &(struct journal_entry){0}), -ENOENT);
	assert_string_equal(f->changed, "");
	buf_release(&err);
}

/* The done signal: queued, kept as the one that stands (across a restart), a second refused. */
static void test_commit_done_stands(void **state)
{
	struct fx *f = *state;
	struct write_target t = {.kind = WRITE_DONE, .path = "/done"};
	struct buf err = BUF_INIT(4096), text = BUF_INIT(4096);
	char *saved = NULL;

	start(f, "alice/dotfiles#2");
	assert_int_equal(write_commit(f->w, &t, "success\nall good\n", 17, NULL, &err), 0);
	assert_int_equal(state_done_get(f->st, "alice", "dotfiles", 2, &saved), 0);
	assert_non_null(strstr(saved, "all good"));
	free(saved);
	expect_entry(f, 1, JOURNAL_DONE, 0, "-alice-dotfiles-2-");
	assert_int_equal(write_commit(f->w, &t, "failure\n", 8, NULL, &err), -EACCES);
	/* A restart: the signal stands, /done reads as it, and the scope knows. */
	start(f, "alice/dotfiles#2");
	assert_true(scope_is_done(&f->scope));
	assert_int_equal(write_done_text(f->w, &text), 0);
	assert_non_null(strstr(buf_cstr(&text), "\"summary\": \"all good\""));
	buf_release(&text);
	buf_release(&err);
}

/* A version 1 database: attributable rows are finished, the others stay failed. */
static void test_legacy_rows(void **state)
{
	static const char v1[] =
	    "CREATE TABLE records (owner TEXT NOT NULL, repo TEXT NOT NULL, issue INTEGER NOT NULL,"
	    " json TEXT NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY (owner, repo, issue));"
	    "CREATE TABLE pulls (owner TEXT NOT NULL, repo TEXT NOT NULL, issue INTEGER NOT NULL,"
	    " pr INTEGER NOT NULL, added INTEGER NOT NULL, PRIMARY KEY (owner, repo, issue, pr));"
	    "CREATE TABLE journal (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " kind TEXT NOT NULL, owner TEXT NOT NULL, repo TEXT NOT NULL,"
	    " number INTEGER NOT NULL, field TEXT, payload TEXT NOT NULL, marker TEXT,"
	    " status TEXT NOT NULL CHECK (status IN ('pending','sending','done','failed')),"
	    " answer TEXT, created INTEGER NOT NULL, updated INTEGER NOT NULL);"
	    "CREATE TABLE provenance (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,"
	    " what TEXT NOT NULL, place TEXT NOT NULL, answer TEXT);"
	    "CREATE TABLE cache (key TEXT PRIMARY KEY, data BLOB NOT NULL,"
	    " fetched_ms INTEGER NOT NULL, tag TEXT);"
	    "PRAGMA user_version = 1;"
	    "INSERT INTO pulls VALUES ('alice', 'dotfiles', 5, 9, 1);"
	    "INSERT INTO journal (kind, owner, repo, number, field, payload, status, created,"
	    " updated) VALUES"
	    " ('comment', 'alice', 'dotfiles', 2, NULL, 'legacy', 'sending', 1, 1),"
	    " ('create_pr', 'alice', 'dotfiles', 0, NULL, '" NEW_REQUEST "', 'sending', 1, 1),"
	    " ('patch', 'alice', 'dotfiles', 9, 'body', 'legacy', 'pending', 1, 1);";
	struct fx *f = *state;
	struct buf err = BUF_INIT(4096);
	char path[160];
	sqlite3 *db;

	state_free(f->st);
	snprintf(path, sizeof(path), "%s/v1.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(state_open(path, &f->st, &err), 0);
	buf_release(&err);

	assert_int_equal(recover(f, "alice/dotfiles#2", NULL), 1);
	expect_entry(f, 1, JOURNAL_DONE, 100, "comment 100");
	expect_entry(f, 2, JOURNAL_FAILED, 0, STATE_LEGACY_UNATTRIBUTED);
	expect_entry(f, 3, JOURNAL_FAILED, 0, STATE_LEGACY_UNATTRIBUTED);
	assert_int_equal(f->fk.creates + f->fk.patches, 0);
	assert_int_equal(recover(f, "alice/dotfiles#5", NULL), 0);
	assert_int_equal(f->fk.patches, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pull_of_another_user_is_not_claimed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pull_that_existed_before_is_not_claimed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pull_created_long_before_is_not_claimed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pull_without_floor_is_not_claimed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pull_that_is_ours_is_claimed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pull_claimed_by_another_entry_is_not_claimed,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pull_of_another_assignment_is_not_claimed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pull_a_rival_entry_may_have_opened_is_not_claimed,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pull_absent_is_opened_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_other_assignment_waits_for_its_own_run, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_same_repository_other_issue_waits, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pull_outside_the_assigned_repository_fails, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_comment_of_another_user_is_not_claimed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_comment_that_is_ours_is_claimed_once, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_comment_from_before_the_write_is_not_claimed,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_patch_only_inside_the_assignment, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forge_away_leaves_the_entry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_done_is_queued_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_commit_records_floor_and_forge_id, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_commit_field_is_journaled_sent_and_logged, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_commit_failure_is_failed_not_resent, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_commit_outside_scope_sends_nothing, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_commit_done_stands, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_legacy_rows, setup, teardown),
	};

	return cmocka_run_group_tests_name("write", tests, NULL, NULL);
}
