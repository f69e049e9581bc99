/*
 * Concurrency of the read side (cache/cache.h read through tree/tree.h)
 * against a fake in-memory forge.
 *
 * Eight threads read random nodes (getattr, read, list) for about two
 * seconds while another thread keeps forgetting items and lists, as the
 * write path does after a write. Every answer must be exactly what
 * rendering the fake's data gives: a cache that mixed two items, served a
 * half-built entry or lost an item that exists would show up as wrong bytes
 * or a wrong errno. scripts/sanitize runs this program under ThreadSanitizer
 * (build-tsan), which must stay silent.
 *
 * A second test checks the cache itself: with a long TTL, a pass over every
 * node after a warm-up sends no request to the forge, from many threads.
 *
 * Worker threads never call cmocka (its asserts are not thread-safe): they
 * count failures and keep the first message, the main thread asserts.
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

#include "forge/forge.h"
#include "tree/tree.h"
#include "cache/cache.h"
#include "reader.h"
#include "tree/internal.h"
#include "util/buf.h"

#define OWNER "alice"
#define REPO "dotfiles"
#define N_ITEMS 10 /* numbers 1..N_ITEMS; the last three are pulls */
#define FIRST_PULL 8
#define ABSENT 99 /* a number the forge does not have */
#define READERS 8
#define RUN_MS 2000

/* ---- the fake forge: immutable data after fake_init, atomic counters ---- */

struct fake_item {
	struct forge_issue issue;
	struct forge_comment_list comments;
	char *diff; /* pulls only */
};

struct fake {
	struct forge base;		     /* first: the cache sees a struct forge */
	struct fake_item items[N_ITEMS + 1]; /* [number]; [0] unused */
	atomic_uint requests;
	atomic_uint in_flight;
	atomic_uint max_in_flight;
	atomic_uint sleep_us; /* each request sleeps this long (0: none) */
	/*
	 * Called inside a request for the item, as a write from another thread
	 * would land while the request is in flight (NULL: nothing). Set
	 * before any thread starts.
	 */
	void (*during)(void *ud, uint64_t number);
	void *during_ud;
};

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	assert_non_null(p);
	return p;
}

static char *xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xprintf(const char *fmt, ...)
{
	struct buf b = BUF_INIT(0);
	va_list ap;

	va_start(ap, fmt);
	assert_int_equal(buf_vprintf(&b, fmt, ap), 0);
	va_end(ap);
	return buf_steal(&b, NULL);
}

static struct fake *fake_of(struct forge *f)
{
	return (struct fake *)f;
}

/* Counts one request, tracks how many run at once, and maybe sleeps. */
static void fake_enter(struct fake *fk)
{
	unsigned now = atomic_fetch_add(&fk->in_flight, 1) + 1;
	unsigned max = atomic_load(&fk->max_in_flight);
	unsigned us = atomic_load(&fk->sleep_us);

	atomic_fetch_add(&fk->requests, 1);
	while (now > max && !atomic_compare_exchange_weak(&fk->max_in_flight, &max, now))
		;
	if (us)
		usleep(us);
}

static void fake_during(struct fake *fk, uint64_t number)
{
	if (fk->during)
		fk->during(fk->during_ud, number);
}

static void fake_leave(struct fake *fk)
{
	atomic_fetch_sub(&fk->in_flight, 1);
}

static bool is_ours(const char *owner, const char *repo)
{
	return strcmp(owner, OWNER) == 0 && strcmp(repo, REPO) == 0;
}

static int fake_list_repos(struct forge *f, const char *owner, struct forge_name_list *out,
			   struct buf *err)
{
	struct fake *fk = fake_of(f);
	int r = 0;

	(void)err;
	fake_enter(fk);
	if (strcmp(owner, OWNER) != 0) {
		r = -ENOENT;
		goto out;
	}
	out->v = calloc(1, sizeof(*out->v));
	if (!out->v || !(out->v[0] = strdup(REPO))) {
		free(out->v);
		r = -ENOMEM;
		goto out;
	}
	out->n = 1;
out:
	fake_leave(fk);
	return r;
}

static int fake_list_issues(struct forge *f, const char *owner, const char *repo,
			    enum forge_kind kind, const char *since, struct forge_issue_list *out,
			    struct buf *err)
{
	struct fake *fk = fake_of(f);
	struct forge_issue_list l = {NULL, 0};
	uint64_t n;
	int r = 0;

	(void)since;
	(void)err;
	fake_enter(fk);
	if (!is_ours(owner, repo)) {
		r = -ENOENT;
		goto out;
	}
	l.v = calloc(N_ITEMS, sizeof(*l.v));
	if (!l.v) {
		r = -ENOMEM;
		goto out;
	}
	/* Newest first, as Gitea lists them. */
	for (n = N_ITEMS; n >= 1; n--) {
		const struct forge_issue *src = &fk->items[n].issue;

		if (src->is_pull != (kind == FORGE_PULLS))
			continue;
		r = forge_issue_copy(&l.v[l.n], src);
		if (r < 0) {
			forge_issue_list_release(&l);
			goto out;
		}
		l.n++;
	}
	*out = l;
out:
	fake_leave(fk);
	return r;
}

static int fake_get(struct forge *f, const char *owner, const char *repo, uint64_t number,
		    bool pull, struct forge_issue *out)
{
	struct fake *fk = fake_of(f);
	int r;

	fake_enter(fk);
	if (!is_ours(owner, repo) || number < 1 || number > N_ITEMS ||
	    fk->items[number].issue.is_pull != pull)
		r = -ENOENT;
	else
		r = forge_issue_copy(out, &fk->items[number].issue);
	fake_during(fk, number);
	fake_leave(fk);
	return r;
}

static int fake_get_issue(struct forge *f, const char *owner, const char *repo, uint64_t number,
			  struct forge_issue *out, struct buf *err)
{
	(void)err;
	return fake_get(f, owner, repo, number, false, out);
}

static int fake_get_pull(struct forge *f, const char *owner, const char *repo, uint64_t number,
			 struct forge_issue *out, struct buf *err)
{
	(void)err;
	return fake_get(f, owner, repo, number, true, out);
}

static int fake_list_comments(struct forge *f, const char *owner, const char *repo, uint64_t number,
			      struct forge_comment_list *out, struct buf *err)
{
	struct fake *fk = fake_of(f);
	const struct forge_comment_list *src;
	struct forge_comment_list l = {NULL, 0};
	int r = 0;

	(void)err;
	fake_enter(fk);
	if (!is_ours(owner, repo) || number < 1 || number > N_ITEMS) {
		r = -ENOENT;
		goto out;
	}
	src = &fk->items[number].comments;
	l.v = calloc(src->n ? src->n : 1, sizeof(*l.v));
	if (!l.v) {
		r = -ENOMEM;
		goto out;
	}
	for (; l.n < src->n; l.n++) {
		r = forge_comment_copy(&l.v[l.n], &src->v[l.n]);
		if (r < 0) {
			forge_comment_list_release(&l);
			goto out;
		}
	}
	fake_during(fk, number);
	*out = l;
out:
	fake_leave(fk);
	return r;
}

static int fake_get_diff(struct forge *f, const char *owner, const char *repo, uint64_t number,
			 struct buf *out, struct buf *err)
{
	struct fake *fk = fake_of(f);
	int r;

	(void)err;
	fake_enter(fk);
	if (!is_ours(owner, repo) || number < 1 || number > N_ITEMS || !fk->items[number].diff)
		r = -ENOENT;
	else
		r = buf_puts(out, fk->items[number].diff);
	fake_during(fk, number);
	fake_leave(fk);
	return r;
}

static void fake_capabilities(struct forge *f, struct forge_capabilities *out)
{
	(void)f;
	memset(out, 0, sizeof(*out));
	out->name = "fake";
	out->max_description_len = 65536;
	out->max_page_size = 50;
}

static const struct forge_ops fake_ops = {
    .list_repos = fake_list_repos,
    .list_issues = fake_list_issues,
    .get_issue = fake_get_issue,
    .get_pull = fake_get_pull,
    .list_comments = fake_list_comments,
    .get_diff = fake_get_diff,
    .capabilities = fake_capabilities,
};

static void fake_init(struct fake *fk)
{
	uint64_t n, k;

	memset(fk, 0, sizeof(*fk));
	fk->base.ops = &fake_ops;
	for (n = 1; n <= N_ITEMS; n++) {
		struct fake_item *it = &fk->items[n];
		struct forge_issue *is = &it->issue;
		/* 0..3 comments, so some items never need a comment request. */
		size_t nc = n % 4;

		is->number = n;
		is->is_pull = n >= FIRST_PULL;
		is->title = xprintf("title of #%llu", (unsigned long long)n);
		is->body = n == 3 ? xstrdup("")
				  : xprintf("body of #%llu\nsecond line", (unsigned long long)n);
		is->state = xstrdup(n % 3 ? "open" : "closed");
		is->author = xprintf("user%llu", (unsigned long long)n % 3);
		is->n_labels = n % 3;
		is->labels = calloc(is->n_labels ? is->n_labels : 1, sizeof(*is->labels));
		assert_non_null(is->labels);
		for (k = 0; k < is->n_labels; k++)
			is->labels[k] = xprintf("label-%llu", (unsigned long long)k);
		is->n_comments = nc;
		is->updated_at = xprintf("2024-01-%02lluT10:00:00Z", (unsigned long long)n);
		if (is->is_pull) {
			is->head = xprintf("feature-%llu", (unsigned long long)n);
			is->base = xstrdup("main");
			is->merged = n % 2;
			it->diff = xprintf("diff --git a/f%llu b/f%llu\n+line\n",
					   (unsigned long long)n, (unsigned long long)n);
		}
		is->json = xprintf("{\"number\": %llu}\n", (unsigned long long)n);
		it->comments.v = calloc(nc ? nc : 1, sizeof(*it->comments.v));
		assert_non_null(it->comments.v);
		for (k = 0; k < nc; k++) {
			struct forge_comment *c = &it->comments.v[k];

			c->id = n * 100 + k;
			c->issue = n;
			c->body = xprintf("comment %llu on #%llu", (unsigned long long)k,
					  (unsigned long long)n);
			c->author = xstrdup("bob");
			c->created_at = xprintf("2024-02-%02lluT0%llu:00:00Z",
						(unsigned long long)n, (unsigned long long)k);
			c->updated_at = xstrdup(c->created_at);
		}
		it->comments.n = nc;
	}
}

static void fake_release(struct fake *fk)
{
	uint64_t n;

	for (n = 1; n <= N_ITEMS; n++) {
		forge_issue_release(&fk->items[n].issue);
		forge_comment_list_release(&fk->items[n].comments);
		free(fk->items[n].diff);
	}
}

/* ---- probes: a node, the operation on it, and the exact expected answer ---- */

enum probe_kind {
	P_FILE, /* view_read + view_getattr */
	P_DIR,	/* view_list + view_getattr */
	P_GONE, /* view_getattr is -ENOENT */
};

struct probe {
	char path[160];
	struct node node;
	enum probe_kind kind;
	char *bytes; /* P_FILE: the content; P_DIR: names joined by "/" in list order */
	size_t len;
};

struct probes {
	struct probe v[256];
	size_t n;
};

static struct probe *probe_add(struct probes *ps, enum probe_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct probe *probe_add(struct probes *ps, enum probe_kind kind, const char *fmt, ...)
{
	struct probe *p;
	va_list ap;
	int n;

	assert_true(ps->n < sizeof(ps->v) / sizeof(ps->v[0]));
	p = &ps->v[ps->n++];
	memset(p, 0, sizeof(*p));
	va_start(ap, fmt);
	n = vsnprintf(p->path, sizeof(p->path), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(p->path));
	assert_int_equal(tree_resolve(p->path, &p->node), 0);
	p->kind = kind;
	return p;
}

static void probe_set(struct probe *p, struct buf *b)
{
	p->bytes = buf_steal(b, &p->len);
	assert_non_null(p->bytes);
}

/* Every node under the fake repository, with what the view must answer. */
static void probes_init(struct probes *ps, const struct fake *fk)
{
	const char *const *names;
	struct buf b = BUF_INIT(0);
	struct probe *p;
	uint64_t n;
	size_t k;
	int i, nn;

	memset(ps, 0, sizeof(*ps));
	for (i = 0; i < 2; i++) {
		bool pull = i == 1;

		p = probe_add(ps, P_DIR, "/forge/" OWNER "/" REPO "/%s", pull ? "pulls" : "issues");
		if (pull)
			assert_int_equal(buf_puts(&b, "new/"), 0);
		for (n = N_ITEMS; n >= 1; n--)
			if (fk->items[n].issue.is_pull == pull)
				assert_int_equal(buf_printf(&b, "%llu/", (unsigned long long)n), 0);
		probe_set(p, &b);
	}
	p = probe_add(ps, P_DIR, "/forge/" OWNER);
	assert_int_equal(buf_puts(&b, REPO "/"), 0);
	probe_set(p, &b);

	for (n = 1; n <= N_ITEMS; n++) {
		const struct fake_item *it = &fk->items[n];
		const char *dir = it->issue.is_pull ? "pulls" : "issues";
		unsigned long long un = (unsigned long long)n;

		p = probe_add(ps, P_DIR, "/forge/" OWNER "/" REPO "/%s/%llu", dir, un);
		nn = tree_fixed_children(&p->node, &names);
		assert_true(nn > 0);
		for (i = 0; i < nn; i++)
			assert_int_equal(buf_printf(&b, "%s/", names[i]), 0);
		probe_set(p, &b);
		for (i = 0; i < nn; i++) {
			if (strcmp(names[i], "comments") == 0)
				continue;
			p = probe_add(ps, P_FILE, "/forge/" OWNER "/" REPO "/%s/%llu/%s", dir, un,
				      names[i]);
			assert_int_equal(p->node.kind, N_ITEM_FILE);
			assert_int_equal(content_item_file(p->node.file, &it->issue, &it->comments,
							   it->diff, &b),
					 0);
			probe_set(p, &b);
		}
		p = probe_add(ps, P_DIR, "/forge/" OWNER "/" REPO "/%s/%llu/comments", dir, un);
		assert_int_equal(buf_puts(&b, "new/"), 0);
		for (k = 0; k < it->comments.n; k++)
			assert_int_equal(
			    buf_printf(&b, "%llu/", (unsigned long long)it->comments.v[k].id), 0);
		probe_set(p, &b);
		for (k = 0; k < it->comments.n; k++) {
			p = probe_add(ps, P_FILE, "/forge/" OWNER "/" REPO "/%s/%llu/comments/%llu",
				      dir, un, (unsigned long long)it->comments.v[k].id);
			assert_int_equal(content_comment(&it->comments.v[k], &b), 0);
			probe_set(p, &b);
		}
	}
	/* Absent: a number the forge lacks, an issue asked for as a pull, a comment id. */
	probe_add(ps, P_GONE, "/forge/" OWNER "/" REPO "/issues/%d", ABSENT);
	probe_add(ps, P_GONE, "/forge/" OWNER "/" REPO "/pulls/%d/title", 1);
	probe_add(ps, P_GONE, "/forge/" OWNER "/" REPO "/issues/%d/comments/%d", 1, 7);
	buf_release(&b);
}

static void probes_release(struct probes *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		free(ps->v[i].bytes);
}

/* ---- running probes, from any thread ---- */

struct shared {
	struct reader *view;
	struct fake *fake;
	const struct probes *probes;
	atomic_bool stop;
	atomic_uint ops;
	atomic_uint failures;
	pthread_mutex_t msg_lock;
	const char *seen[8]; /* kinds of failure already described; msg_lock */
	struct buf msg;	     /* the first failure of each kind; msg_lock */
};

static void note_failure(struct shared *sh, const struct probe *p, const char *what, int r)
{
	size_t i;

	atomic_fetch_add(&sh->failures, 1);
	pthread_mutex_lock(&sh->msg_lock);
	for (i = 0; i < sizeof(sh->seen) / sizeof(sh->seen[0]); i++) {
		if (sh->seen[i] == what)
			break;
		if (!sh->seen[i]) {
			sh->seen[i] = what;
			/* The first failures are kept for the message; more may not fit. */
			(void)!buf_printf(&sh->msg, "\n  %s: %s (%d)", p->path, what, r);
			break;
		}
	}
	pthread_mutex_unlock(&sh->msg_lock);
}

static int collect(void *ud, const char *name, const struct tree_attr *attr)
{
	struct buf *b = ud;

	(void)attr;
	return buf_printf(b, "%s/", name) == 0 ? 0 : 1;
}

/* One operation on one probe, checked. */
static void run_probe(struct shared *sh, const struct probe *p, int op)
{
	struct buf out = BUF_INIT(0);
	struct tree_attr a;
	int r;

	if (p->kind == P_GONE) {
		r = tree_getattr(sh->view->tree, &p->node, &a, NULL);
		if (r != -ENOENT)
			note_failure(sh, p, "getattr of an absent node is not -ENOENT", r);
		goto out;
	}
	if (op == 0) {
		r = tree_getattr(sh->view->tree, &p->node, &a, NULL);
		if (r != 0)
			note_failure(sh, p, "getattr failed", r);
		else if (a.dir != (p->kind == P_DIR))
			note_failure(sh, p, "getattr: wrong type", 0);
		else if (p->kind == P_FILE && a.size != p->len)
			note_failure(sh, p, "getattr: size is not the content's length",
				     (int)a.size);
		goto out;
	}
	if (p->kind == P_FILE)
		r = tree_read(sh->view->tree, &p->node, &out, NULL);
	else
		r = tree_list(sh->view->tree, &p->node, collect, &out, NULL);
	if (r != 0)
		note_failure(sh, p, p->kind == P_FILE ? "read failed" : "list failed", r);
	else if (out.len != p->len || memcmp(buf_cstr(&out), p->bytes, p->len) != 0)
		note_failure(sh, p, p->kind == P_FILE ? "read: wrong bytes" : "list: wrong names",
			     (int)out.len);
out:
	atomic_fetch_add(&sh->ops, 1);
	buf_release(&out);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *reader(void *arg)
{
	struct shared *sh = arg;
	unsigned seed = (unsigned)(uintptr_t)pthread_self() ^ (unsigned)mono_ms();

	while (!atomic_load(&sh->stop)) {
		const struct probe *p = &sh->probes->v[rand_r(&seed) % sh->probes->n];

		run_probe(sh, p, rand_r(&seed) % 2);
	}
	return NULL;
}

/* What a write does afterwards: drop one item, and now and then the lists. */
static void *forgetter(void *arg)
{
	struct shared *sh = arg;
	unsigned seed = 12345;
	unsigned i = 0;

	while (!atomic_load(&sh->stop)) {
		uint64_t n = 1 + rand_r(&seed) % N_ITEMS;

		cache_forget_item(sh->view->cache, OWNER, REPO,
				  (n >= FIRST_PULL) ? FORGE_PULLS : FORGE_ISSUES, n);
		if (++i % 4 == 0)
			cache_forget_lists(sh->view->cache, OWNER, REPO);
		usleep(500);
	}
	return NULL;
}

struct rig {
	struct fake fake;
	struct probes probes;
	struct shared sh;
};

static struct rig *rig_new(int64_t ttl_ms)
{
	struct cache_options opt;
	struct rig *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	fake_init(&g->fake);
	probes_init(&g->probes, &g->fake);
	memset(&opt, 0, sizeof(opt));
	opt.forge = &g->fake.base;
	opt.ttl_ms = ttl_ms;
	assert_int_equal(reader_new(&opt, &g->sh.view), 0);
	g->sh.fake = &g->fake;
	g->sh.probes = &g->probes;
	pthread_mutex_init(&g->sh.msg_lock, NULL);
	buf_init(&g->sh.msg, 64 * 1024);
	return g;
}

static void rig_free(struct rig *g)
{
	if (!g)
		return;
	reader_free(g->sh.view);
	pthread_mutex_destroy(&g->sh.msg_lock);
	buf_release(&g->sh.msg);
	probes_release(&g->probes);
	fake_release(&g->fake);
	free(g);
}

static void assert_no_failures(struct shared *sh)
{
	unsigned n = atomic_load(&sh->failures);

	if (n != 0)
		fail_msg("%u wrong answers; the first of each kind:%s", n, buf_cstr(&sh->msg));
}

/* The expected answers themselves are right (a sanity check of the rig). */
static void test_probes_render_the_fake(void **state)
{
	struct rig *g = *state;
	size_t i;
	int found = 0;

	for (i = 0; i < g->probes.n; i++) {
		const struct probe *p = &g->probes.v[i];

		if (strcmp(p->path, "/forge/" OWNER "/" REPO "/issues/2/title") == 0) {
			assert_string_equal(p->bytes, "title of #2\n");
			found++;
		} else if (strcmp(p->path, "/forge/" OWNER "/" REPO "/pulls/10/comments/1001") ==
			   0) {
			assert_string_equal(p->bytes, "comment 1 on #10\n");
			found++;
		} else if (strcmp(p->path, "/forge/" OWNER "/" REPO "/pulls") == 0) {
			assert_string_equal(p->bytes, "new/10/9/8/");
			found++;
		}
	}
	assert_int_equal(found, 3);
	/* One pass, one thread: every answer right. */
	for (i = 0; i < g->probes.n; i++) {
		run_probe(&g->sh, &g->probes.v[i], 0);
		run_probe(&g->sh, &g->probes.v[i], 1);
	}
	assert_no_failures(&g->sh);
}

/*
 * Eight readers and a forgetter for RUN_MS, the fake sleeping a little in
 * every request so requests overlap each other and the forgets.
 */
static void test_readers_and_forgetter(void **state)
{
	struct rig *g = *state;
	pthread_t t[READERS + 1];
	int i;

	atomic_store(&g->fake.sleep_us, 200);
	for (i = 0; i < READERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, &g->sh), 0);
	assert_int_equal(pthread_create(&t[READERS], NULL, forgetter, &g->sh), 0);
	usleep(RUN_MS * 1000);
	atomic_store(&g->sh.stop, true);
	for (i = 0; i <= READERS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	print_message("# %u operations, %u forge requests, up to %u at once\n",
		      atomic_load(&g->sh.ops), atomic_load(&g->fake.requests),
		      atomic_load(&g->fake.max_in_flight));
	assert_no_failures(&g->sh);
	/* The forgets made the view ask again, and requests ran in parallel. */
	assert_true(atomic_load(&g->sh.ops) > 1000);
	assert_true(atomic_load(&g->fake.requests) > 10);
	assert_int_equal(cache_requests(g->sh.view->cache), atomic_load(&g->fake.requests));
}

struct pass {
	struct shared *sh;
	size_t first, step;
};

static void *pass_thread(void *arg)
{
	struct pass *ps = arg;
	size_t i;

	for (i = ps->first; i < ps->sh->probes->n; i += ps->step) {
		run_probe(ps->sh, &ps->sh->probes->v[i], 0);
		run_probe(ps->sh, &ps->sh->probes->v[i], 1);
	}
	return NULL;
}

/* Every probe once from each of READERS threads, concurrently. */
static void parallel_pass(struct shared *sh)
{
	pthread_t t[READERS];
	struct pass ps[READERS];
	int i;

	for (i = 0; i < READERS; i++) {
		ps[i].sh = sh;
		ps[i].first = (size_t)i % 3;
		ps[i].step = 1 + (size_t)i % 3;
		assert_int_equal(pthread_create(&t[i], NULL, pass_thread, &ps[i]), 0);
	}
	for (i = 0; i < READERS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
}

/* With a long TTL, the second pass is served from the cache alone. */
static void test_warm_cache_sends_nothing(void **state)
{
	struct rig *g = *state;
	unsigned warm;

	atomic_store(&g->fake.sleep_us, 100);
	parallel_pass(&g->sh);
	warm = atomic_load(&g->fake.requests);
	assert_no_failures(&g->sh);
	assert_true(warm > 0);
	parallel_pass(&g->sh);
	parallel_pass(&g->sh);
	assert_no_failures(&g->sh);
	print_message("# warm-up: %u forge requests; two more passes: %u\n", warm,
		      atomic_load(&g->fake.requests) - warm);
	assert_int_equal(atomic_load(&g->fake.requests), warm);
	assert_int_equal(cache_requests(g->sh.view->cache), warm);
}

static void forget_now(void *ud, uint64_t number)
{
	struct shared *sh = ud;

	cache_forget_item(sh->view->cache, OWNER, REPO,
			  (number >= FIRST_PULL) ? FORGE_PULLS : FORGE_ISSUES, number);
}

/*
 * The same race made deterministic: the item is forgotten (as after a
 * write) while its request is in flight. The read must still give the
 * item's bytes, never -ENOENT for an item that exists.
 */
static void test_forget_during_request(void **state)
{
	struct rig *g = *state;
	size_t i;

	g->fake.during = forget_now;
	g->fake.during_ud = &g->sh;
	for (i = 0; i < g->probes.n; i++) {
		run_probe(&g->sh, &g->probes.v[i], 1);
		run_probe(&g->sh, &g->probes.v[i], 0);
	}
	assert_no_failures(&g->sh);
}

/* Fixtures, so a failed assert does not leak the rig into the leak report. */
static int rig_setup_short(void **state)
{
	*state = rig_new(60000);
	return 0;
}

static int rig_setup_long(void **state)
{
	*state = rig_new((int64_t)24 * 3600 * 1000);
	return 0;
}

static int rig_teardown(void **state)
{
	rig_free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_probes_render_the_fake, rig_setup_short,
					    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_forget_during_request, rig_setup_short,
					    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_readers_and_forgetter, rig_setup_short,
					    rig_teardown),
	    cmocka_unit_test_setup_teardown(test_warm_cache_sends_nothing, rig_setup_long,
					    rig_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
