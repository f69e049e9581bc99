/*
 * write/push.c against a fake forge and a real state store: the push
 * policy (bottle/<n>-*, --push-branches, PR heads, the assigned
 * repository only), the directories it leads through, and the spool: a
 * bundle written in pieces answers its earlier flushes with success and
 * pushes once at the flush that completes it, a malformed one is EINVAL
 * and never pushed, one past --push-max is EFBIG at the write; the push
 * is journaled before it is sent and recovery never pushes again.
 * Bundles are made by real git in a temporary repository.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "forge/forge.h"
#include "state/state.h"
#include "util/buf.h"
#include "write/write.h"

struct fake {
	struct forge base;
	unsigned pushes; /* push_branch calls */
	unsigned sent;	 /* pushes that reached "sending" (before_send said yes) */
	char last_branch[256];
	char tip[FORGE_OID_MAX + 1]; /* what list_branches says the branch is at */
	const char *pr_head;	     /* get_pull's head */
};

static int fake_push(struct forge *f, const char *owner, const char *repo,
		     const struct forge_push_request *req, struct forge_push_result *out,
		     struct buf *err)
{
	struct fake *fk = (struct fake *)f;
	int r;

	(void)owner;
	(void)repo;
	(void)err;
	fk->pushes++;
	snprintf(fk->last_branch, sizeof(fk->last_branch), "%s", req->branch);
	assert_true(access(req->bundle_path, R_OK) == 0);
	r = req->before_send(req->send_ud, "", "1111111111111111111111111111111111111111");
	if (r)
		return r;
	fk->sent++;
	memset(out, 0, sizeof(*out));
	snprintf(out->new_tip, sizeof(out->new_tip), "%s",
		 "1111111111111111111111111111111111111111");
	return 0;
}

static int fake_branches(struct forge *f, const char *owner, const char *repo,
			 struct forge_branch_list *out, struct buf *err)
{
	struct fake *fk = (struct fake *)f;

	(void)owner;
	(void)repo;
	(void)err;
	out->n = 0;
	out->v = NULL;
	if (!fk->tip[0])
		return 0;
	out->v = calloc(1, sizeof(*out->v));
	out->v[0].name = strdup("bottle/7-x");
	snprintf(out->v[0].commit, sizeof(out->v[0].commit), "%s", fk->tip);
	out->n = 1;
	return 0;
}

static int fake_get_pull(struct forge *f, const char *owner, const char *repo, uint64_t number,
			 struct forge_issue *out, struct buf *err)
{
	struct fake *fk = (struct fake *)f;

	(void)owner;
	(void)repo;
	(void)err;
	memset(out, 0, sizeof(*out));
	out->number = number;
	out->head = strdup(fk->pr_head ? fk->pr_head : "nothing");
	return 0;
}

static void fake_caps(struct forge *f, struct forge_capabilities *out)
{
	(void)f;
	memset(out, 0, sizeof(*out));
	out->name = "fake";
}

static const struct forge_ops fake_ops = {
    .get_pull = fake_get_pull,
    .push_branch = fake_push,
    .list_branches = fake_branches,
    .capabilities = fake_caps,
};

struct fx {
	char dir[64];
	struct fake fk;
	struct state *st;
	struct scope scope;
	struct wlog *log;
	struct write *w;
	char spool[128];
};

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct write_options wo = {0};
	struct buf err = BUF_INIT(1024);
	char db[128];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_push.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(db, sizeof(db), "%s/state.db", f->dir);
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	f->fk.base.ops = &fake_ops;
	assert_int_equal(state_open(db, &f->st, &err), 0);
	assert_int_equal(wlog_new(&f->log), 0);
	scope_init(&f->scope);
	assert_int_equal(scope_assign(&f->scope, "alice/dotfiles#7", &err), 0);
	wo.forge = &f->fk.base;
	wo.state = f->st;
	wo.scope = &f->scope;
	wo.log = f->log;
	wo.queue_dir = f->dir;
	wo.spool_dir = f->spool;
	wo.push_max = 1 << 20;
	assert_int_equal(write_new(&wo, &f->w, &err), 0);
	/* A repository with two commits, a bundle of each kind. */
	sh("cd %s && export HOME=%s GIT_CONFIG_NOSYSTEM=1 && git init -q -b main r && cd r && "
	   "git -c user.name=t -c user.email=t@t commit -q --allow-empty -m one && "
	   "git bundle create -q ../one.bundle main && git branch other && "
	   "git bundle create -q ../two.bundle main other && head -c 3000 /dev/urandom > "
	   "../garbage",
	   f->dir, f->dir);
	buf_release(&err);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	write_free(f->w);
	wlog_free(f->log);
	scope_release(&f->scope);
	state_free(f->st);
	sh("rm -rf '%s'", f->dir);
	free(f);
	return 0;
}

static void test_policy(void **state)
{
	struct fx *f = *state;
	struct buf err = BUF_INIT(1024);

	assert_int_equal(write_push_allowed(f->w, "alice", "dotfiles", "bottle/7-fix", &err), 0);
	assert_int_equal(write_push_allowed(f->w, "alice", "dotfiles", "bottle/7-a/b", NULL), 0);
	assert_int_equal(write_push_allowed(f->w, "alice", "dotfiles", "bottle/7-", NULL), -EACCES);
	assert_int_equal(write_push_allowed(f->w, "alice", "dotfiles", "bottle/8-x", NULL),
			 -EACCES);
	assert_int_equal(write_push_allowed(f->w, "alice", "dotfiles", "main", &err), -EACCES);
	assert_non_null(strstr(buf_cstr(&err), "outside the push policy"));
	assert_int_equal(write_push_allowed(f->w, "alice", "website", "bottle/7-x", NULL), -EACCES);
	assert_int_equal(write_push_allowed(f->w, "bob", "dotfiles", "bottle/7-x", NULL), -EACCES);
	assert_int_equal(write_push_allowed(f->w, "alice", "dotfiles", "bottle/7-x.lock", NULL),
			 -EACCES);
	assert_true(write_push_matches(f->w, "alice", "dotfiles", "bottle/7-fix"));
	assert_false(write_push_matches(f->w, "alice", "dotfiles", "main"));
	assert_true(write_push_dir(f->w, "alice", "dotfiles", "bottle"));
	assert_true(write_push_dir(f->w, "alice", "dotfiles", ""));
	assert_false(write_push_dir(f->w, "alice", "dotfiles", "feature"));
	assert_false(write_push_dir(f->w, "alice", "website", "bottle"));
	/* The head of a PR this mount opened. */
	f->fk.pr_head = "feature";
	assert_int_equal(write_push_allowed(f->w, "alice", "dotfiles", "feature", NULL), -EACCES);
	assert_int_equal(scope_add_pr(&f->scope, 9), 0);
	assert_int_equal(write_push_allowed(f->w, "alice", "dotfiles", "feature", NULL), 0);
	buf_release(&err);
}

static void test_push_globs_replace_the_default(void **state)
{
	struct fx *f = *state;
	struct buf out = BUF_INIT(1024);

	assert_int_equal(scope_push_patterns(&f->scope, &out), 0);
	assert_string_equal(buf_cstr(&out), "bottle/7-*\n");
	assert_int_equal(scope_add_push_glob(&f->scope, "agent/*", NULL), 0);
	assert_int_equal(scope_add_push_glob(&f->scope, "refs/tags/*", NULL), -EINVAL);
	assert_int_equal(scope_add_push_glob(&f->scope, "", NULL), -EINVAL);
	buf_reset(&out);
	assert_int_equal(scope_push_patterns(&f->scope, &out), 0);
	assert_string_equal(buf_cstr(&out), "agent/*\n");
	assert_int_equal(write_push_allowed(f->w, "alice", "dotfiles", "agent/a/b", NULL), 0);
	assert_int_equal(write_push_allowed(f->w, "alice", "dotfiles", "bottle/7-x", NULL),
			 -EACCES);
	assert_true(write_push_dir(f->w, "alice", "dotfiles", "agent"));
	assert_false(write_push_dir(f->w, "alice", "dotfiles", "bottle"));
	buf_release(&out);
}

static char *slurp(const char *dir, const char *name, size_t *n)
{
	char path[256];
	struct stat st;
	char *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0 && fstat(fd, &st) == 0);
	p = malloc((size_t)st.st_size);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	close(fd);
	*n = (size_t)st.st_size;
	return p;
}

static void test_spool_pushes_once_at_the_complete_flush(void **state)
{
	struct fx *f = *state;
	struct write_spool *sp = NULL;
	struct buf err = BUF_INIT(1024);
	size_t n, half;
	char *b = slurp(f->dir, "one.bundle", &n);

	assert_int_equal(write_spool_new(f->w, "alice", "dotfiles", "bottle/7-x", &sp, &err), 0);
	/* git writes the header, closes, and pack-objects appends the pack. */
	half = n / 2;
	assert_int_equal(write_spool_write(f->w, sp, b, half, 0, false), (int)half);
	assert_int_equal(
	    write_spool_flush(f->w, sp, "alice", "dotfiles", "bottle/7-x", "/p", true, &err), 0);
	assert_int_equal(f->fk.pushes, 0);
	assert_false(write_spool_pushed(sp));
	assert_int_equal(write_spool_write(f->w, sp, b + half, n - half, 0, true), (int)(n - half));
	assert_int_equal(write_spool_size(sp), n);
	assert_int_equal(
	    write_spool_flush(f->w, sp, "alice", "dotfiles", "bottle/7-x", "/p", true, &err), 0);
	assert_int_equal(f->fk.pushes, 1);
	assert_string_equal(f->fk.last_branch, "bottle/7-x");
	/* Later flushes repeat the answer; nothing is pushed twice. */
	assert_int_equal(
	    write_spool_flush(f->w, sp, "alice", "dotfiles", "bottle/7-x", "/p", true, &err), 0);
	assert_int_equal(f->fk.pushes, 1);
	write_spool_free(f->w, sp, "/p");
	free(b);
	buf_release(&err);
}

static void test_spool_refusals(void **state)
{
	struct fx *f = *state;
	struct write_spool *sp = NULL;
	struct buf text = BUF_INIT(0);
	size_t n;
	char *b;

	/* Two refs: EINVAL once complete, never pushed. */
	b = slurp(f->dir, "two.bundle", &n);
	assert_int_equal(write_spool_new(f->w, "alice", "dotfiles", "bottle/7-x", &sp, NULL), 0);
	assert_int_equal(write_spool_write(f->w, sp, b, n, 0, false), (int)n);
	assert_int_equal(
	    write_spool_flush(f->w, sp, "alice", "dotfiles", "bottle/7-x", "/two", true, NULL),
	    -EINVAL);
	write_spool_free(f->w, sp, "/two");
	free(b);
	/* Garbage: EINVAL at the first flush. */
	b = slurp(f->dir, "garbage", &n);
	assert_int_equal(write_spool_new(f->w, "alice", "dotfiles", "bottle/7-x", &sp, NULL), 0);
	assert_int_equal(write_spool_write(f->w, sp, b, n, 0, false), (int)n);
	assert_int_equal(
	    write_spool_flush(f->w, sp, "alice", "dotfiles", "bottle/7-x", "/bad", true, NULL),
	    -EINVAL);
	write_spool_free(f->w, sp, "/bad");
	/* Past --push-max: EFBIG at the write, and the spool is poisoned. */
	assert_int_equal(write_spool_new(f->w, "alice", "dotfiles", "bottle/7-x", &sp, NULL), 0);
	assert_int_equal(write_spool_write(f->w, sp, b, 10, (1 << 20) - 5, false), -EFBIG);
	assert_int_equal(write_spool_write(f->w, sp, b, 10, 0, false), -EFBIG);
	write_spool_free(f->w, sp, "/big");
	free(b);
	/* Incomplete at the last reference: recorded, not pushed. */
	b = slurp(f->dir, "one.bundle", &n);
	assert_int_equal(write_spool_new(f->w, "alice", "dotfiles", "bottle/7-x", &sp, NULL), 0);
	assert_int_equal(write_spool_write(f->w, sp, b, n - 1, 0, false), (int)(n - 1));
	assert_int_equal(
	    write_spool_flush(f->w, sp, "alice", "dotfiles", "bottle/7-x", "/cut", true, NULL), 0);
	write_spool_free(f->w, sp, "/cut");
	free(b);
	assert_int_equal(f->fk.pushes, 0);
	assert_int_equal(wlog_text(f->log, &text), 0);
	assert_non_null(strstr(buf_cstr(&text), "/two\tEINVAL"));
	assert_non_null(strstr(buf_cstr(&text), "/bad\tEINVAL"));
	assert_non_null(strstr(buf_cstr(&text), "/big\tEFBIG"));
	assert_non_null(strstr(buf_cstr(&text), "/cut\tEINVAL\tthe last close came with the bundle "
						"incomplete"));
	/* The journal says so too: failed push entries, nothing left unfinished. */
	{
		struct journal_entry *v = NULL;
		size_t k = 0;

		assert_int_equal(state_journal_unfinished(f->st, &v, &k), 0);
		assert_int_equal(k, 0);
		state_journal_list_free(v, k);
	}
	buf_release(&text);
}

static void test_journal_and_recovery(void **state)
{
	struct fx *f = *state;
	struct journal_entry *v = NULL;
	struct buf err = BUF_INIT(1024);
	char bundle[128];
	size_t n = 0, i;
	int64_t id = 0;

	snprintf(bundle, sizeof(bundle), "%s/one.bundle", f->dir);
	assert_int_equal(write_push(f->w, "alice", "dotfiles", "bottle/7-x", bundle, NULL, &err),
			 0);
	assert_int_equal(f->fk.sent, 1);
	assert_int_equal(state_journal_unfinished(f->st, &v, &n), 0);
	assert_int_equal(n, 0);
	state_journal_list_free(v, n);
	/* A push a dead daemon left sending: the forge has it, or it does not. */
	for (i = 0; i < 2; i++) {
		struct journal_entry e = {0}, got = {0};

		e.kind = "push";
		e.owner = "alice";
		e.repo = "dotfiles";
		e.field = "bottle/7-x";
		e.payload = "- 2222222222222222222222222222222222222222\n";
		e.assign_owner = "alice";
		e.assign_repo = "dotfiles";
		e.assign_issue = 7;
		assert_int_equal(state_journal_add(f->st, &e, &id), 0);
		assert_int_equal(state_journal_set(f->st, id, JOURNAL_SENDING, NULL), 0);
		snprintf(f->fk.tip, sizeof(f->fk.tip), "%s",
			 i == 0 ? "2222222222222222222222222222222222222222"
				: "3333333333333333333333333333333333333333");
		assert_int_equal(write_recover(f->w, &err), 1);
		assert_int_equal(state_journal_get(f->st, id, &got), 0);
		assert_int_equal(got.status, i == 0 ? JOURNAL_DONE : JOURNAL_FAILED);
		assert_non_null(strstr(got.answer, i == 0 ? "found on the forge" : "not pushed"));
		state_journal_entry_release(&got);
	}
	/* Never pushed again by recovery. */
	assert_int_equal(f->fk.pushes, 1);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_policy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_push_globs_replace_the_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_spool_pushes_once_at_the_complete_flush, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_spool_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_journal_and_recovery, setup, teardown),
	};

	return cmocka_run_group_tests_name("push", tests, NULL, NULL);
}
