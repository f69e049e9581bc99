/*
 * Open files and scratch files (tree/files.h) without a mount: a fake commit
 * function stands in for the tree's send and counts what would be sent.
 *
 * The threaded tests are the point (issue 12 item 1): one handle, a
 * writer, three readers, a truncater and a committer at once; every byte a
 * reader or a commit sees must be a byte that was written at that offset
 * (or a zero of a hole), the daemon must not crash, and every byte of the
 * budget must come back. scripts/sanitize runs this program under
 * ThreadSanitizer and AddressSanitizer.
 *
 * Worker threads never call cmocka (its asserts are not thread-safe): they
 * count failures and keep the first message; the main thread asserts.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tree/files.h"
#include "tree/tree.h"
#include "write/write.h"
#include "util/buf.h"

/* ---- the fake commit ---- */

struct fake {
	atomic_uint commits;
	atomic_int answer;    /* what the commit returns */
	atomic_uint sleep_us; /* how long a commit takes */
	pthread_mutex_t lock;
	char last[64]; /* the first bytes of the last content sent; lock */
	size_t last_len;
	/* Threaded tests: content must be pattern bytes (or zeros). */
	bool check_pattern;
	atomic_uint bad;
};

static struct fake fake;

static bool pattern_ok(const char *data, size_t len, uint64_t off);

static int fake_commit(void *ud, const struct node *n, const char *data, size_t len,
		       struct buf *reply, struct buf *err)
{
	struct fake *f = ud;
	int r = atomic_load(&f->answer);

	atomic_fetch_add(&f->commits, 1);
	if (atomic_load(&f->sleep_us))
		usleep(atomic_load(&f->sleep_us));
	if (f->check_pattern && !pattern_ok(data, len, 0))
		atomic_fetch_add(&f->bad, 1);
	pthread_mutex_lock(&f->lock);
	f->last_len = len;
	memcpy(f->last, data, len < sizeof(f->last) ? len : sizeof(f->last));
	pthread_mutex_unlock(&f->lock);
	if (r < 0) {
		assert_int_equal(buf_puts(err, "the fake forge says no"), 0);
		return r;
	}
	if (n->kind == N_PULLS_NEW && reply)
		assert_int_equal(buf_puts(reply, "7\n"), 0);
	return 0;
}

static struct files *new_files_read(size_t memory, size_t read_memory, struct wlog *log)
{
	struct files_options o = {0};
	struct files *f;

	memset(&fake, 0, sizeof(fake));
	pthread_mutex_init(&fake.lock, NULL);
	o.write_memory = memory;
	o.read_memory = read_memory;
	o.log = log;
	o.commit = fake_commit;
	o.commit_ud = &fake;
	assert_int_equal(files_new(&o, &f), 0);
	return f;
}

static struct files *new_files(size_t memory, struct wlog *log)
{
	return new_files_read(memory, 0, log);
}

static void free_files(struct files *f)
{
	assert_int_equal(files_memory_used(f), 0);
	assert_int_equal(files_read_memory_used(f), 0);
	files_free(f);
	pthread_mutex_destroy(&fake.lock);
}

static struct node node_of(enum node_kind kind, enum item_file file, const char *name)
{
	struct node n;

	memset(&n, 0, sizeof(n));
	n.kind = kind;
	n.file = file;
	strcpy(n.owner, "alice");
	strcpy(n.repo, "dotfiles");
	n.number = 2;
	if (name)
		strcpy(n.name, name);
	return n;
}

static struct fh *open_field(struct files *f, enum node_kind kind, enum item_file file,
			     const char *initial, bool trunc)
{
	struct buf b = BUF_INIT(0);
	struct node n = node_of(kind, file, NULL);
	struct fh *h;

	if (initial)
		assert_int_equal(buf_puts(&b, initial), 0);
	assert_int_equal(files_open_write(f, &n, &b, trunc, &h), 0);
	buf_release(&b);
	return h;
}

static void read_is(struct files *f, struct fh *h, const char *want)
{
	char out[256];
	int r = files_read(f, h, out, sizeof(out), 0);

	assert_int_equal(r, (int)strlen(want));
	assert_memory_equal(out, want, strlen(want));
}

/* ---- single-threaded behaviour ---- */

static void test_write_read_holes(void **s)
{
	struct files *f = new_files(0, NULL);
	struct fh *h = open_field(f, N_ITEM_FILE, F_BODY, NULL, true);
	char out[32];

	(void)s;
	assert_int_equal(files_write(f, h, "abc", 3, 0, false), 3);
	assert_int_equal(files_write(f, h, "xy", 2, 6, false), 2);
	assert_int_equal(files_read(f, h, out, sizeof(out), 0), 8);
	assert_memory_equal(out, "abc\0\0\0xy", 8);
	assert_int_equal(files_write(f, h, "!", 1, 0, true), 1);
	assert_int_equal(files_read(f, h, out, sizeof(out), 8), 1);
	assert_int_equal(files_truncate(f, h, 2), 0);
	read_is(f, h, "ab");
	assert_int_equal(files_truncate(f, h, 4), 0);
	assert_int_equal(files_read(f, h, out, sizeof(out), 0), 4);
	assert_memory_equal(out, "ab\0\0", 4);
	assert_int_equal(files_read(f, h, out, sizeof(out), 100), 0);
	files_release(f, h);
	free_files(f);
}

static void test_flush_sends_once(void **s)
{
	struct files *f = new_files(0, NULL);
	struct fh *h;

	(void)s;
	/* bash's `echo x > body`: O_TRUNC, close of a dup, write, close. */
	h = open_field(f, N_ITEM_FILE, F_BODY, NULL, true);
	assert_int_equal(files_flush(f, h), 0);
	assert_int_equal(atomic_load(&fake.commits), 0);
	assert_int_equal(files_write(f, h, "x\n", 2, 0, false), 2);
	assert_int_equal(files_flush(f, h), 0);
	assert_int_equal(atomic_load(&fake.commits), 1);
	assert_int_equal(fake.last_len, 2);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 1);
	/* `: > body`: the empty value is sent once, at the last close. */
	h = open_field(f, N_ITEM_FILE, F_BODY, NULL, true);
	assert_int_equal(files_flush(f, h), 0);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 2);
	assert_int_equal(fake.last_len, 0);
	/* `: > title` would be refused: refused at the close itself. */
	atomic_store(&fake.answer, -EINVAL);
	h = open_field(f, N_ITEM_FILE, F_TITLE, NULL, true);
	assert_int_equal(files_flush(f, h), -EINVAL);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 3);
	/* A handle opened without writing sends nothing. */
	h = open_field(f, N_ITEM_FILE, F_TITLE, "Title\n", false);
	read_is(f, h, "Title\n");
	assert_int_equal(files_flush(f, h), 0);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 3);
	/* A failed send is close()'s answer, and the next close's too. */
	h = open_field(f, N_COMMENT_NEW, 0, NULL, false);
	assert_int_equal(files_write(f, h, "hi\n", 3, 0, false), 3);
	atomic_store(&fake.answer, -EIO);
	assert_int_equal(files_flush(f, h), -EIO);
	assert_int_equal(files_flush(f, h), -EIO);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 4);
	free_files(f);
}

static void test_caps_poison(void **s)
{
	struct wlog *log;
	struct files *f;
	struct buf text = BUF_INIT(0);
	struct fh *h, *h2;
	char *mib = calloc(1, WRITE_FILE_MAX);
	char out[8];

	(void)s;
	assert_int_equal(wlog_new(&log), 0);
	f = new_files(3 * WRITE_FILE_MAX, log);
	memset(mib, 'a', WRITE_FILE_MAX);
	/* 1 MiB fits; one byte more is EFBIG and poisons the handle. */
	h = open_field(f, N_COMMENT_NEW, 0, NULL, false);
	assert_int_equal(files_write(f, h, mib, WRITE_FILE_MAX, 0, false), (int)WRITE_FILE_MAX);
	assert_int_equal(files_write(f, h, "b", 1, 0, true), -EFBIG);
	assert_int_equal(files_write(f, h, "c", 1, 0, false), -EFBIG);
	assert_int_equal(files_truncate(f, h, 0), -EFBIG);
	assert_int_equal(files_read(f, h, out, sizeof(out), 0), -EFBIG);
	assert_int_equal(files_flush(f, h), -EFBIG);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 0);
	/* A write at 8 MiB - 1 never allocates 8 MiB. */
	h = open_field(f, N_COMMENT_NEW, 0, NULL, false);
	assert_int_equal(files_write(f, h, "x", 1, (8 << 20) - 1, false), -EFBIG);
	assert_true(files_memory_used(f) < 4096);
	files_release(f, h);
	/* pulls/new may hold more (its JSON carries a summary). */
	h = open_field(f, N_PULLS_NEW, 0, NULL, false);
	assert_int_equal(files_write(f, h, "{", 1, WRITE_FILE_MAX + 10, false), 1);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 1);
	/* The total: two full handles fit in 3 MiB, a third's write is ENOMEM. */
	h = open_field(f, N_ITEM_FILE, F_BODY, NULL, true);
	h2 = open_field(f, N_ITEM_FILE, F_BODY, NULL, true);
	assert_int_equal(files_write(f, h, mib, WRITE_FILE_MAX, 0, false), (int)WRITE_FILE_MAX);
	assert_int_equal(files_write(f, h2, mib, WRITE_FILE_MAX, 0, false), (int)WRITE_FILE_MAX);
	{
		struct fh *h3 = open_field(f, N_ITEM_FILE, F_BODY, NULL, true);

		assert_int_equal(files_write(f, h3, mib, WRITE_FILE_MAX, 0, false), -ENOMEM);
		assert_int_equal(files_flush(f, h3), -ENOMEM);
		files_release(f, h3);
	}
	assert_int_equal(files_truncate(f, h, 0), 0);
	assert_int_equal(files_truncate(f, h2, 0), 0);
	files_release(f, h);
	files_release(f, h2);
	/* Every refusal is in the log. */
	assert_int_equal(wlog_text(log, &text), 0);
	assert_non_null(
	    strstr(buf_cstr(&text), "\t/forge/alice/dotfiles/issues/2/comments/new\tEFBIG\t"));
	assert_non_null(strstr(buf_cstr(&text), "\t/forge/alice/dotfiles/issues/2/body\tENOMEM\t"));
	buf_release(&text);
	free(mib);
	free_files(f);
	wlog_free(log);
}

static void test_judged_at_write(void **s)
{
	struct wlog *log;
	struct files *f;
	struct buf text = BUF_INIT(0);
	struct fh *h;

	(void)s;
	assert_int_equal(wlog_new(&log), 0);
	f = new_files(0, log);
	/* echo sideways > state: refused at write, nothing sent, close says so. */
	h = open_field(f, N_ITEM_FILE, F_STATE, NULL, true);
	assert_int_equal(files_write(f, h, "sideways\n", 9, 0, false), -EINVAL);
	assert_int_equal(files_flush(f, h), -EINVAL);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 0);
	/* ope + n\n: each piece accepted. */
	h = open_field(f, N_ITEM_FILE, F_STATE, NULL, true);
	assert_int_equal(files_write(f, h, "ope", 3, 0, false), 3);
	assert_int_equal(files_write(f, h, "n\n", 2, 0, true), 2);
	assert_int_equal(files_flush(f, h), 0);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 1);
	/* >> onto what the field holds: judged from its start. */
	h = open_field(f, N_ITEM_FILE, F_TITLE, "Title\n", false);
	assert_int_equal(files_write(f, h, "more\n", 5, 0, true), -EINVAL);
	files_release(f, h);
	/* Rewriting in place stops the judge: close judges the whole. */
	h = open_field(f, N_ITEM_FILE, F_TITLE, "A long title\n", false);
	assert_int_equal(files_write(f, h, "New\n", 4, 0, false), 4);
	assert_int_equal(files_truncate(f, h, 4), 0);
	assert_int_equal(files_flush(f, h), 0);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 2);
	/* A hole: judged at close only. */
	h = open_field(f, N_ITEM_FILE, F_STATE, NULL, true);
	assert_int_equal(files_write(f, h, "x", 1, 10, false), 1);
	assert_int_equal(files_truncate(f, h, 0), 0);
	assert_int_equal(files_write(f, h, "closed", 6, 0, false), 6);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 3);
	assert_int_equal(wlog_text(log, &text), 0);
	assert_non_null(
	    strstr(buf_cstr(&text), "/state\tEINVAL\tstate must be 'open' or 'closed'"));
	buf_release(&text);
	free_files(f);
	wlog_free(log);
}

static void test_pulls_new_read(void **s)
{
	struct files *f = new_files(0, NULL);
	struct fh *h = open_field(f, N_PULLS_NEW, 0, NULL, false);

	(void)s;
	read_is(f, h, "");
	assert_int_equal(atomic_load(&fake.commits), 0);
	assert_int_equal(files_write(f, h, "{}", 2, 0, false), 2);
	read_is(f, h, "7\n");
	read_is(f, h, "7\n");
	assert_int_equal(files_flush(f, h), 0);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 1);
	/* A failed open is every reader's answer, and close()'s. */
	h = open_field(f, N_PULLS_NEW, 0, NULL, false);
	assert_int_equal(files_write(f, h, "{}", 2, 0, false), 2);
	atomic_store(&fake.answer, -EEXIST);
	{
		char out[8];

		assert_int_equal(files_read(f, h, out, sizeof(out), 0), -EEXIST);
		assert_int_equal(files_read(f, h, out, sizeof(out), 0), -EEXIST);
	}
	assert_int_equal(files_flush(f, h), -EEXIST);
	files_release(f, h);
	assert_int_equal(atomic_load(&fake.commits), 2);
	free_files(f);
}

static void test_scratch(void **s)
{
	struct files *f = new_files(0, NULL);
	struct node a = node_of(N_SCRATCH, 0, "a"), b = node_of(N_SCRATCH, 0, "b");
	struct node body = node_of(N_ITEM_FILE, F_BODY, NULL);
	struct node other = node_of(N_SCRATCH, 0, "a");
	struct files_stat st;
	struct fh *h, *h2;
	char name[8];
	int i;

	(void)s;
	other.number = 1;
	assert_int_equal(files_open_scratch(f, &a, false, false, false, &h), -ENOENT);
	assert_int_equal(files_open_scratch(f, &a, true, true, false, &h), 0);
	assert_int_equal(files_open_scratch(f, &a, true, true, false, &h2), -EEXIST);
	assert_int_equal(files_open_scratch(f, &a, false, false, false, &h2), 0);
	assert_int_equal(files_write(f, h, "hello ", 6, 0, false), 6);
	assert_int_equal(files_write(f, h2, "world", 5, 0, true), 5);
	read_is(f, h, "hello world");
	assert_int_equal(files_scratch_stat(f, &a, &st), 0);
	assert_int_equal(st.size, 11);
	assert_true(st.linked);
	assert_int_equal(files_scratch_stat(f, &other, &st), -ENOENT);
	/* Renamed: same content under the new name, the old one gone. */
	assert_int_equal(files_scratch_rename(f, &a, &b, false), 0);
	assert_int_equal(files_scratch_stat(f, &a, &st), -ENOENT);
	assert_int_equal(files_scratch_rename(f, &b, &other, false), -EXDEV);
	/* A failed send leaves it; a good one takes its name away. */
	atomic_store(&fake.answer, -EIO);
	assert_int_equal(files_scratch_replace(f, &b, &body, NULL), -EIO);
	assert_int_equal(files_scratch_stat(f, &b, &st), 0);
	atomic_store(&fake.answer, 0);
	assert_int_equal(files_scratch_replace(f, &b, &body, NULL), 0);
	assert_int_equal(fake.last_len, 11);
	assert_int_equal(files_scratch_stat(f, &b, &st), -ENOENT);
	/* Its fds keep it; nothing more is sent when they close. */
	read_is(f, h2, "hello world");
	assert_int_equal(files_fh_stat(f, h2, &st), 0);
	assert_false(st.linked);
	assert_int_equal(files_flush(f, h), 0);
	files_release(f, h);
	files_release(f, h2);
	assert_int_equal(atomic_load(&fake.commits), 2);
	/* At most FILES_SCRATCH_DEFAULT; an unlink frees a slot. */
	for (i = 0; i < FILES_SCRATCH_DEFAULT; i++) {
		struct node n;

		snprintf(name, sizeof(name), "s%d", i);
		n = node_of(N_SCRATCH, 0, name);
		assert_int_equal(files_open_scratch(f, &n, true, false, false, &h), 0);
		files_release(f, h);
	}
	assert_int_equal(files_open_scratch(f, &a, true, false, false, &h), -ENOSPC);
	{
		struct node s0 = node_of(N_SCRATCH, 0, "s0");

		assert_int_equal(files_scratch_unlink(f, &s0), 0);
		assert_int_equal(files_scratch_unlink(f, &s0), -ENOENT);
	}
	assert_int_equal(files_open_scratch(f, &a, true, false, false, &h), 0);
	/* A scratch file past 1 MiB is poisoned: its rename sends nothing. */
	assert_int_equal(files_write(f, h, "x", 1, FILES_SCRATCH_MAX, false), -EFBIG);
	assert_int_equal(files_write(f, h, "x", 1, 0, false), -EFBIG);
	assert_int_equal(files_scratch_replace(f, &a, &body, NULL), -EFBIG);
	assert_int_equal(atomic_load(&fake.commits), 2);
	/* ... until it is truncated to 0. */
	assert_int_equal(files_truncate(f, h, 0), 0);
	assert_int_equal(files_write(f, h, "ok", 2, 0, false), 2);
	files_release(f, h);
	assert_int_equal(files_scratch_replace(f, &a, &body, NULL), 0);
	assert_int_equal(atomic_load(&fake.commits), 3);
	files_finish(f);
	files_free(f);
	pthread_mutex_destroy(&fake.lock);
}

static int count_fill(void *ud, const char *name, const struct files_stat *st)
{
	(void)name;
	(void)st;
	(*(int *)ud)++;
	return 0;
}

static void test_scratch_list_finish(void **s)
{
	struct files *f = new_files(0, NULL);
	struct node a = node_of(N_SCRATCH, 0, "a"), b = node_of(N_SCRATCH, 0, "b");
	struct node dir = node_of(N_ITEM, 0, NULL), other = dir;
	struct fh *h, *w;
	int count = 0;

	(void)s;
	other.number = 9;
	assert_int_equal(files_open_scratch(f, &a, true, false, false, &h), 0);
	files_release(f, h);
	assert_int_equal(files_open_scratch(f, &b, true, false, false, &h), 0);
	assert_int_equal(files_scratch_list(f, &dir, count_fill, &count), 0);
	assert_int_equal(count, 2);
	count = 0;
	assert_int_equal(files_scratch_list(f, &other, count_fill, &count), 0);
	assert_int_equal(count, 0);
	/* Unmounting sends what write handles hold, and frees everything. */
	w = open_field(f, N_COMMENT_NEW, 0, NULL, false);
	assert_int_equal(files_write(f, w, "left open", 9, 0, false), 9);
	files_finish(f);
	assert_int_equal(atomic_load(&fake.commits), 1);
	files_free(f);
	pthread_mutex_destroy(&fake.lock);
}

/* ---- threads on one handle ---- */

#define PIECE 4096
#define PIECES 16
#define RUN_MS 1500

/* Content at offset p is 'a' + (p / PIECE) % 26, or a zero (a hole). */
static bool pattern_ok(const char *data, size_t len, uint64_t off)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char want = (char)('a' + ((off + i) / PIECE) % 26);

		if (data[i] != want && data[i] != 0)
			return false;
	}
	return true;
}

struct run {
	struct files *f;
	struct fh *h;
	atomic_bool stop;
	atomic_uint bad, ops;
	char first[160]; /* the first failure; written once under lock */
	pthread_mutex_t lock;
};

static void bad(struct run *r, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->lock);
	if (atomic_fetch_add(&r->bad, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(r->first, sizeof(r->first), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->lock);
}

static void *writer(void *arg)
{
	struct run *r = arg;
	char piece[PIECE];
	unsigned k = 0;

	while (!atomic_load(&r->stop)) {
		uint64_t off = (uint64_t)(k % PIECES) * PIECE;
		int w;

		memset(piece, 'a' + (int)((off / PIECE) % 26), sizeof(piece));
		w = files_write(r->f, r->h, piece, sizeof(piece), off, false);
		if (w != PIECE)
			bad(r, "write at %llu: %d", (unsigned long long)off, w);
		k++;
		atomic_fetch_add(&r->ops, 1);
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct run *r = arg;
	char out[3 * PIECE];
	unsigned seed = (unsigned)(uintptr_t)&out;

	while (!atomic_load(&r->stop)) {
		uint64_t off = (uint64_t)(rand_r(&seed) % (PIECES * PIECE));
		int n = files_read(r->f, r->h, out, sizeof(out), off);

		if (n < 0)
			bad(r, "read at %llu: %d", (unsigned long long)off, n);
		else if (!pattern_ok(out, (size_t)n, off))
			bad(r, "foreign bytes read at %llu", (unsigned long long)off);
		atomic_fetch_add(&r->ops, 1);
	}
	return NULL;
}

static void *truncater(void *arg)
{
	struct run *r = arg;
	unsigned seed = 7;

	while (!atomic_load(&r->stop)) {
		uint64_t size = (uint64_t)(rand_r(&seed) % 3) * (PIECES * PIECE / 3);
		int t = files_truncate(r->f, r->h, size);

		if (t != 0)
			bad(r, "truncate to %llu: %d", (unsigned long long)size, t);
		usleep(200);
		atomic_fetch_add(&r->ops, 1);
	}
	return NULL;
}

static void *committer(void *arg)
{
	struct run *r = arg;

	while (!atomic_load(&r->stop)) {
		int c = files_flush(r->f, r->h);

		/* EINVAL: only truncated to empty, which no comment may be. */
		if (c != 0 && c != -EINVAL)
			bad(r, "flush: %d", c);
		usleep(500);
		atomic_fetch_add(&r->ops, 1);
	}
	return NULL;
}

static void run_threads(struct run *r, void *(*const fns[])(void *), size_t n)
{
	pthread_t t[8];
	struct timespec ts = {RUN_MS / 1000, (RUN_MS % 1000) * 1000000L};
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(pthread_create(&t[i], NULL, fns[i], r), 0);
	nanosleep(&ts, NULL);
	atomic_store(&r->stop, true);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	if (atomic_load(&r->bad))
		fail_msg("%u failures, the first: %s", atomic_load(&r->bad), r->first);
	assert_true(atomic_load(&r->ops) > 100);
}

static void test_threads_one_write_handle(void **s)
{
	static void *(*const fns[])(void *) = {writer, reader,	  reader,
					       reader, truncater, committer};
	struct run r;

	(void)s;
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.lock, NULL);
	r.f = new_files(0, NULL);
	fake.check_pattern = true;
	/* comments/new: the body field would judge; a comment takes any text. */
	r.h = open_field(r.f, N_COMMENT_NEW, 0, NULL, false);
	run_threads(&r, fns, sizeof(fns) / sizeof(*fns));
	files_release(r.f, r.h);
	assert_int_equal(atomic_load(&fake.bad), 0);
	assert_true(atomic_load(&fake.commits) > 0);
	free_files(r.f);
	pthread_mutex_destroy(&r.lock);
}

static void test_threads_one_scratch(void **s)
{
	static void *(*const fns[])(void *) = {writer, reader, reader, truncater};
	struct node a = node_of(N_SCRATCH, 0, "tmp"), b = node_of(N_SCRATCH, 0, "tmp2");
	struct node body = node_of(N_ITEM_FILE, F_BODY, NULL);
	struct run r;
	struct fh *opener;
	int i;

	(void)s;
	memset(&r, 0, sizeof(r));
	pthread_mutex_init(&r.lock, NULL);
	r.f = new_files(0, NULL);
	fake.check_pattern = true;
	assert_int_equal(files_open_scratch(r.f, &a, true, false, false, &r.h), 0);
	/* Meanwhile, by name: stat, rename back and forth, send onto body, recreate. */
	{
		pthread_t t;
		struct timespec ts = {0, 2000000L};

		assert_int_equal(pthread_create(&t, NULL, writer, &r), 0);
		for (i = 0; i < 200; i++) {
			struct files_stat st;

			/* Racing the writer: any answer will do, only the bytes are checked. */
			(void)!files_scratch_stat(r.f, &a, &st);
			(void)!files_scratch_rename(r.f, &a, &b, false);
			(void)!files_scratch_rename(r.f, &b, &a, false);
			if (i % 20 == 0 && files_scratch_replace(r.f, &a, &body, NULL) == 0 &&
			    files_open_scratch(r.f, &a, true, false, false, &opener) == 0)
				files_release(r.f, opener);
			nanosleep(&ts, NULL);
		}
		atomic_store(&r.stop, true);
		pthread_join(t, NULL);
		atomic_store(&r.stop, false);
	}
	run_threads(&r, fns, sizeof(fns) / sizeof(*fns));
	files_release(r.f, r.h);
	assert_int_equal(atomic_load(&fake.bad), 0);
	files_finish(r.f);
	free_files(r.f);
	pthread_mutex_destroy(&r.lock);
}

/* Four readers of a fresh pulls/new: one send, four numbers (item 7). */
struct pr_reader {
	struct files *f;
	struct fh *h;
	pthread_barrier_t *go;
	char got[8];
	int n;
};

static void *pr_read(void *arg)
{
	struct pr_reader *p = arg;

	pthread_barrier_wait(p->go);
	p->n = files_read(p->f, p->h, p->got, sizeof(p->got), 0);
	return NULL;
}

static void test_threads_pulls_new(void **s)
{
	struct files *f = new_files(0, NULL);
	struct fh *h = open_field(f, N_PULLS_NEW, 0, NULL, false);
	struct pr_reader p[4];
	pthread_barrier_t go;
	pthread_t t[4];
	int i;

	(void)s;
	atomic_store(&fake.sleep_us, 200000);
	assert_int_equal(files_write(f, h, "{}", 2, 0, false), 2);
	pthread_barrier_init(&go, NULL, 4);
	for (i = 0; i < 4; i++) {
		p[i] = (struct pr_reader){.f = f, .h = h, .go = &go};
		assert_int_equal(pthread_create(&t[i], NULL, pr_read, &p[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 4; i++) {
		assert_int_equal(p[i].n, 2);
		assert_memory_equal(p[i].got, "7\n", 2);
	}
	assert_int_equal(atomic_load(&fake.commits), 1);
	pthread_barrier_destroy(&go);
	files_release(f, h);
	free_files(f);
}

/*
 * Read snapshots have a budget of their own: many opens of one large file
 * cannot grow the daemon past it, and a release gives the room back.
 */
static void test_read_budget(void **state)
{
	struct node n = node_of(N_ITEM_FILE, F_DIFF, NULL);
	struct files *f = new_files_read(1 << 20, 3 << 20, NULL);
	struct fh *h[4];
	size_t big = (size_t)1 << 20;
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		char *d = malloc(big);

		assert_non_null(d);
		memset(d, 'x', big);
		assert_int_equal(files_open_read(f, &n, d, big, &h[i]), 0);
	}
	assert_true(files_read_memory_used(f) > 2 * big);
	/* A third 1 MiB snapshot and its bookkeeping still fit under 3 MiB... */
	{
		char *d = malloc(big - 4096);

		assert_non_null(d);
		assert_int_equal(files_open_read(f, &n, d, big - 4096, &h[2]), 0);
	}
	/* ...a fourth does not: ENOMEM, and the bytes it was given are freed. */
	{
		char *d = malloc(big);

		assert_non_null(d);
		assert_int_equal(files_open_read(f, &n, d, big, &h[3]), -ENOMEM);
	}
	/* The write budget is untouched by reading. */
	assert_int_equal(files_memory_used(f), 0);
	files_release(f, h[0]);
	{
		char *d = malloc(big);

		assert_non_null(d);
		assert_int_equal(files_open_read(f, &n, d, big, &h[0]), 0);
	}
	for (i = 0; i < 3; i++)
		files_release(f, h[i]);
	free_files(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_write_read_holes),
	    cmocka_unit_test(test_flush_sends_once),
	    cmocka_unit_test(test_caps_poison),
	    cmocka_unit_test(test_read_budget),
	    cmocka_unit_test(test_judged_at_write),
	    cmocka_unit_test(test_pulls_new_read),
	    cmocka_unit_test(test_scratch),
	    cmocka_unit_test(test_scratch_list_finish),
	    cmocka_unit_test(test_threads_one_write_handle),
	    cmocka_unit_test(test_threads_one_scratch),
	    cmocka_unit_test(test_threads_pulls_new),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
