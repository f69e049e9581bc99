/*
 * Unit tests of forge/git/gitrun.c: what a git child sees (its argv, its
 * environment, its descriptors and directory, read from /proc while it
 * waits), that the token reaches only a child given auth and never argv
 * or output, that no hook or user configuration runs, deadlines and caps.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "forge/git/gitrun.h"

/* Building test input cannot fail quietly. */
#define OK(x) assert_int_equal((x), 0)

#define TOKEN "tok-5ecret-do-not-leak"
/* base64("bottlefs:" TOKEN) */
#define TOKEN_B64 "Ym90dGxlZnM6dG9rLTVlY3JldC1kby1ub3QtbGVhaw=="

static char tmp[] = "/tmp/bfs-gitrun-XXXXXX";
static char repo[4096], home[4096];
/* A file the test holds open without close-on-exec: no child may have it. */
static char marker[4096];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	struct buf cmd = BUF_INIT(1 << 16);
	va_list ap;
	int rc;

	/* No user's git configuration, and an identity for commits (a fresh machine has none). */
	OK(buf_printf(&cmd,
		      "cd '%s' && export HOME='%s' GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t "
		      "GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t && (",
		      tmp, tmp));
	va_start(ap, fmt);
	OK(buf_vprintf(&cmd, fmt, ap));
	va_end(ap);
	OK(buf_puts(&cmd, ") >/dev/null 2>&1"));
	rc = system(buf_cstr(&cmd));
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, buf_cstr(&cmd));
	buf_release(&cmd);
}

/* The whole of a small file (new, NUL-terminated; NULs inside kept), or NULL. */
static char *slurp(const char *path, size_t *len)
{
	struct buf b = BUF_INIT(1 << 22);
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		OK(buf_append(&b, chunk, (size_t)n));
	close(fd);
	return buf_steal(&b, len);
}

static bool has(const char *p, size_t n, const char *s)
{
	return memmem(p, n, s, strlen(s)) != NULL;
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(tmp));
	snprintf(repo, sizeof(repo), "%s/repo.git", tmp);
	snprintf(home, sizeof(home), "%s/home", tmp);
	sh("mkdir -m 700 home && git init -q --bare repo.git && touch marker");
	snprintf(marker, sizeof(marker), "%s/marker", tmp);
	/* Things a child must never pick up from the daemon's environment. */
	setenv("GIT_TRACE_CURL", "1", 1);
	setenv("GIT_TRACE", "1", 1);
	setenv("GIT_CONFIG_PARAMETERS", "'core.hookspath'='/nonexistent'", 1);
	setenv("BFS_TEST_LEAK", "leak", 1);
	return 0;
}

static int teardown(void **state)
{
	struct buf cmd = BUF_INIT(4096);

	(void)state;
	OK(buf_printf(&cmd, "rm -rf '%s'", tmp));
	assert_int_equal(system(buf_cstr(&cmd)), 0);
	buf_release(&cmd);
	return 0;
}

static struct gitrun_opts base_opts(void)
{
	struct gitrun_opts o;

	memset(&o, 0, sizeof(o));
	o.cwd = tmp;
	o.home = home;
	o.git_dir = repo;
	o.stdin_fd = -1;
	o.deadline_ms = gitrun_now_ms() + 60000;
	return o;
}

/* What a child looked like in /proc while it waited. */
struct seen {
	char *cmdline, *environ;
	size_t cmdline_n, environ_n;
	char cwd[4096];
	bool has_std;	 /* descriptors 0, 1 and 2 are there */
	bool has_marker; /* a descriptor of the test's leaked to it */
	char fd3[4096];	 /* what its fd 3 is ("" : none) */
};

static void look(void *ud, pid_t pid)
{
	struct seen *s = ud;
	char path[64];
	DIR *d;
	struct dirent *e;
	ssize_t n;
	int tries;

	/*
	 * posix_spawn returns while execve is still setting up the new
	 * image (its argv is empty until then): wait for it, bounded.
	 */
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	for (tries = 0; tries < 10000; tries++) {
		s->cmdline = slurp(path, &s->cmdline_n);
		if (!s->cmdline || s->cmdline_n)
			break;
		free(s->cmdline);
		s->cmdline = NULL;
		usleep(1000);
	}
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	s->environ = slurp(path, &s->environ_n);
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)pid);
	n = readlink(path, s->cwd, sizeof(s->cwd) - 1);
	s->cwd[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	s->has_marker = false;
	s->has_std = true;
	while (d && (e = readdir(d))) {
		char link[sizeof(path) + 300], target[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = '\0';
		if (strcmp(target, marker) == 0)
			s->has_marker = true;
		if (strcmp(e->d_name, "3") == 0)
			snprintf(s->fd3, sizeof(s->fd3), "%s", target);
	}
	if (d)
		closedir(d);
	for (tries = 0; tries < 3; tries++) {
		char fd[sizeof(path) + 16];
		struct stat st;

		snprintf(fd, sizeof(fd), "%s/%d", path, tries);
		s->has_std = s->has_std && stat(fd, &st) == 0;
	}
}

static void seen_release(struct seen *s)
{
	free(s->cmdline);
	free(s->environ);
}

/*
 * `git cat-file --batch-check` waits on its stdin until we write: long
 * enough to read its /proc entries from the spawned callback.
 */
static void run_waiting(const struct gitrun_auth *auth, struct seen *s, struct gitrun_result *res)
{
	static const char *const args[] = {"cat-file", "--batch-check", NULL};
	struct gitrun_opts o = base_opts();
	struct buf err = BUF_INIT(4096);

	o.remote_url = "http://127.0.0.1:9/alice/dotfiles.git";
	o.auth = auth;
	o.stdin_data = "HEAD\n";
	o.stdin_len = 5;
	o.spawned = look;
	o.spawned_ud = s;
	assert_int_equal(gitrun(args, &o, res, &err), 0);
	assert_int_equal(res->status, 0);
	assert_string_equal(buf_cstr(&res->out), "HEAD missing\n");
	buf_release(&err);
}

static void test_child_with_auth(void **state)
{
	const struct gitrun_auth auth = {"bottlefs", TOKEN};
	struct gitrun_result res;
	struct seen s = {0};

	(void)state;
	run_waiting(&auth, &s, &res);
	assert_non_null(s.cmdline);
	assert_non_null(s.environ);
	/* argv is exactly what was asked for, and holds no secret. */
	assert_int_equal(s.cmdline_n, sizeof("/usr/bin/git\0cat-file\0--batch-check"));
	assert_memory_equal(s.cmdline, "/usr/bin/git\0cat-file\0--batch-check\0", s.cmdline_n);
	assert_false(has(s.cmdline, s.cmdline_n, TOKEN));
	/* The token is in this child's environment, as the header only. */
	assert_true(has(s.environ, s.environ_n, "=Authorization: Basic " TOKEN_B64));
	assert_false(has(s.environ, s.environ_n, TOKEN));
	assert_true(has(s.environ, s.environ_n, "http.extraHeader"));
	assert_true(has(s.environ, s.environ_n, "http.followRedirects"));
	assert_true(has(s.environ, s.environ_n, "protocol.http.allow"));
	/* Nothing of the daemon's environment came along. */
	assert_false(has(s.environ, s.environ_n, "GIT_TRACE"));
	assert_false(has(s.environ, s.environ_n, "GIT_CONFIG_PARAMETERS"));
	assert_false(has(s.environ, s.environ_n, "BFS_TEST_LEAK"));
	assert_true(has(s.environ, s.environ_n, "PATH=/usr/bin:/bin"));
	assert_true(has(s.environ, s.environ_n, "GIT_CONFIG_GLOBAL=/dev/null"));
	assert_true(has(s.environ, s.environ_n, "GIT_CONFIG_NOSYSTEM=1"));
	assert_true(has(s.environ, s.environ_n, "GIT_TERMINAL_PROMPT=0"));
	assert_true(has(s.environ, s.environ_n, "=core.hooksPath"));
	/* Its own directory, and none of our descriptors but 0, 1, 2. */
	assert_string_equal(s.cwd, tmp);
	assert_true(s.has_std);
	assert_false(s.has_marker);
	gitrun_result_release(&res);
	seen_release(&s);
}

static void test_child_without_auth(void **state)
{
	struct gitrun_result res;
	struct seen s = {0};
	int leak = open(marker, O_RDONLY); /* not close-on-exec */

	(void)state;
	assert_true(leak >= 0);
	run_waiting(NULL, &s, &res);
	assert_non_null(s.environ);
	assert_false(has(s.environ, s.environ_n, "Authorization"));
	assert_false(has(s.environ, s.environ_n, TOKEN_B64));
	assert_false(has(s.environ, s.environ_n, "extraHeader"));
	assert_true(s.has_std);
	assert_false(s.has_marker);
	close(leak);
	gitrun_result_release(&res);
	seen_release(&s);
}

static void test_token_never_in_argv(void **state)
{
	const struct gitrun_auth auth = {"bottlefs", TOKEN};
	const char *const args[] = {"ls-remote", "http://x:" TOKEN "@127.0.0.1:9/a.git", NULL};
	const char *const args2[] = {"ls-remote", "--", "http://127.0.0.1:9/a.git?" TOKEN, NULL};
	struct gitrun_opts o = base_opts();
	struct gitrun_result res;
	struct buf err = BUF_INIT(4096);
	struct seen s = {0};

	(void)state;
	o.remote_url = "http://127.0.0.1:9/a.git";
	o.auth = &auth;
	o.spawned = look;
	o.spawned_ud = &s;
	assert_int_equal(gitrun(args, &o, &res, &err), -EINVAL);
	gitrun_result_release(&res);
	assert_int_equal(gitrun(args2, &o, &res, &err), -EINVAL);
	assert_true(strstr(buf_cstr(&err), "refusing to put the token in argv") != NULL);
	assert_false(strstr(buf_cstr(&err), TOKEN));
	gitrun_result_release(&res);
	assert_null(s.cmdline); /* no child was started */
	buf_release(&err);
}

static void test_remote_refusals(void **state)
{
	static const char *const args[] = {"ls-remote", "x", NULL};
	static const char *const bad[] = {
	    "ssh://git@127.0.0.1/a.git",  "git@127.0.0.1:a.git",  "ext::sh -c id",
	    "http://u:p@127.0.0.1/a.git", "http://127.0.0.1/a b", "/tmp/a.git",
	};
	const struct gitrun_auth auth = {"u:x", TOKEN};
	struct gitrun_opts o = base_opts();
	struct gitrun_result res;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		o.remote_url = bad[i];
		assert_int_equal(gitrun(args, &o, &res, NULL), -EINVAL);
		gitrun_result_release(&res);
	}
	/* Auth only over http(s), with a user name that cannot split the pair. */
	o.remote_url = "file:///tmp/a.git";
	o.auth = &auth;
	assert_int_equal(gitrun(args, &o, &res, NULL), -EINVAL);
	gitrun_result_release(&res);
	o.remote_url = "http://127.0.0.1:9/a.git";
	assert_int_equal(gitrun(args, &o, &res, NULL), -EINVAL);
	gitrun_result_release(&res);
	/* No deadline, no git_dir: refused, nothing started. */
	o = base_opts();
	o.deadline_ms = 0;
	assert_int_equal(gitrun(args, &o, &res, NULL), -EINVAL);
	gitrun_result_release(&res);
	o = base_opts();
	o.git_dir = NULL;
	assert_int_equal(gitrun(args, &o, &res, NULL), -EINVAL);
	gitrun_result_release(&res);
}

/* protocol.allow=never: only the remote's own scheme may be used. */
static void test_protocols_limited(void **state)
{
	struct gitrun_opts o = base_opts();
	struct gitrun_result res;
	struct buf url = BUF_INIT(4096);
	const char *args[] = {"ls-remote", NULL, NULL};

	(void)state;
	OK(buf_printf(&url, "file://%s", repo));
	args[1] = buf_cstr(&url);
	/* The remote is http: a file:// URL in the command is refused by git. */
	o.remote_url = "http://127.0.0.1:9/a.git";
	assert_int_equal(gitrun(args, &o, &res, NULL), 0);
	assert_int_not_equal(res.status, 0);
	assert_non_null(strstr(buf_cstr(&res.err), "transport 'file' not allowed"));
	gitrun_result_release(&res);
	/* With the file remote it is allowed (the control). */
	o.remote_url = buf_cstr(&url);
	assert_int_equal(gitrun(args, &o, &res, NULL), 0);
	assert_int_equal(res.status, 0);
	gitrun_result_release(&res);
	/* Without a remote, nothing at all. */
	o.remote_url = NULL;
	assert_int_equal(gitrun(args, &o, &res, NULL), 0);
	assert_int_not_equal(res.status, 0);
	gitrun_result_release(&res);
	buf_release(&url);
}

/* The token never shows in what git prints, even when it fails on the network. */
static void test_no_token_in_output(void **state)
{
	static const char *const args[] = {"ls-remote", "http://127.0.0.1:9/alice/dotfiles.git",
					   NULL};
	const struct gitrun_auth auth = {"bottlefs", TOKEN};
	struct gitrun_opts o = base_opts();
	struct gitrun_result res;
	struct buf why = BUF_INIT(4096);

	(void)state;
	o.remote_url = "http://127.0.0.1:9/alice/dotfiles.git";
	o.auth = &auth;
	assert_int_equal(gitrun(args, &o, &res, NULL), 0);
	assert_int_not_equal(res.status, 0);
	assert_non_null(strstr(buf_cstr(&res.err), "127.0.0.1"));
	/* GIT_TRACE_CURL is set in our environment: it would print the header. */
	assert_null(strstr(buf_cstr(&res.err), "Authorization"));
	assert_null(strstr(buf_cstr(&res.err), TOKEN));
	assert_null(strstr(buf_cstr(&res.err), TOKEN_B64));
	gitrun_reason(&res, &why);
	assert_true(strncmp(buf_cstr(&why), "fatal: unable to access", 23) == 0);
	gitrun_result_release(&res);
	buf_release(&why);
}

static void test_scrub(void **state)
{
	struct buf b = BUF_INIT(4096);

	(void)state;
	OK(buf_puts(&b, "a " TOKEN " b " TOKEN TOKEN "\n" TOKEN));
	gitrun_scrub(&b, TOKEN, strlen(TOKEN));
	assert_string_equal(buf_cstr(&b), "a [token] b [token][token]\n[token]");
	gitrun_scrub(&b, "", 0);
	assert_string_equal(buf_cstr(&b), "a [token] b [token][token]\n[token]");
	buf_release(&b);
}

/* No hook runs, even one the repository's own configuration names. */
static void test_no_hooks(void **state)
{
	struct gitrun_opts o = base_opts();
	struct gitrun_result res;
	struct buf marker = BUF_INIT(4096), oid = BUF_INIT(4096);
	const char *args[] = {"update-ref", "refs/heads/x", NULL, NULL};
	struct stat st;

	(void)state;
	OK(buf_printf(&marker, "%s/hook-ran", tmp));
	sh("mkdir -p hooks && printf '#!/bin/sh\\ntouch %s\\n' > hooks/reference-transaction && "
	   "chmod +x hooks/reference-transaction && git -C repo.git config core.hooksPath %s/hooks "
	   "&& git -C repo.git commit-tree -m x $(git -C repo.git mktree </dev/null) > oid",
	   buf_cstr(&marker), tmp);
	{
		struct buf p = BUF_INIT(4096);
		char *s;

		OK(buf_printf(&p, "%s/oid", tmp));
		s = slurp(buf_cstr(&p), NULL);
		assert_non_null(s);
		s[40] = '\0';
		OK(buf_puts(&oid, s));
		free(s);
		buf_release(&p);
	}
	args[2] = buf_cstr(&oid);
	assert_int_equal(gitrun(args, &o, &res, NULL), 0);
	assert_int_equal(res.status, 0);
	assert_int_equal(stat(buf_cstr(&marker), &st), -1);
	gitrun_result_release(&res);
	/* The control: plain git runs that hook. */
	sh("unset GIT_CONFIG_PARAMETERS; git -C repo.git update-ref refs/heads/y %s",
	   buf_cstr(&oid));
	assert_int_equal(stat(buf_cstr(&marker), &st), 0);
	sh("git -C repo.git config --unset core.hooksPath");
	buf_release(&marker);
	buf_release(&oid);
}

/* A ~/.gitconfig in the child's HOME is not read either. */
static void test_no_user_config(void **state)
{
	static const char *const args[] = {"config", "--get", "user.name", NULL};
	struct gitrun_opts o = base_opts();
	struct gitrun_result res;

	(void)state;
	sh("printf '[user]\\n\\tname = leaked\\n' > home/.gitconfig && mkdir -p home/.config/git "
	   "&& cp home/.gitconfig home/.config/git/config");
	assert_int_equal(gitrun(args, &o, &res, NULL), 0);
	assert_int_equal(res.status, 1);
	assert_int_equal(res.out.len, 0);
	gitrun_result_release(&res);
	sh("rm -rf home/.gitconfig home/.config");
}

/* keep_fd: the one descriptor a child keeps besides 0, 1, 2, as its fd 3. */
static void test_keep_fd(void **state)
{
	static const char *const args[] = {"cat-file", "--batch-check", NULL};
	struct gitrun_opts o = base_opts();
	struct gitrun_result res;
	struct seen s = {0};
	int fd = open(marker, O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	o.keep_fd = fd;
	o.keep_fd_set = true;
	o.stdin_data = "HEAD\n";
	o.stdin_len = 5;
	o.spawned = look;
	o.spawned_ud = &s;
	assert_int_equal(gitrun(args, &o, &res, NULL), 0);
	assert_true(s.has_marker);
	assert_string_equal(s.fd3, marker);
	close(fd);
	gitrun_result_release(&res);
	seen_release(&s);
}

static void test_deadline_kills(void **state)
{
	static const char *const args[] = {"cat-file", "--batch", NULL};
	struct gitrun_opts o = base_opts();
	struct gitrun_result res;
	struct buf err = BUF_INIT(4096);
	struct seen s = {0};
	int p[2];

	(void)state;
	/* Its stdin never ends: it would wait forever. */
	assert_int_equal(pipe(p), 0);
	o.stdin_fd = p[0];
	o.deadline_ms = gitrun_now_ms() + 300;
	o.spawned = look;
	o.spawned_ud = &s;
	assert_int_equal(gitrun(args, &o, &res, &err), -ETIMEDOUT);
	assert_true(res.timed_out);
	assert_int_equal(res.status, 128 + SIGKILL);
	assert_non_null(strstr(buf_cstr(&err), "git cat-file timed out"));
	assert_non_null(s.cmdline); /* it did start */
	gitrun_result_release(&res);
	seen_release(&s);
	memset(&s, 0, sizeof(s));
	/* A deadline already past: refused without starting anything. */
	o.deadline_ms = gitrun_now_ms() - 1;
	assert_int_equal(gitrun(args, &o, &res, NULL), -ETIMEDOUT);
	assert_null(s.cmdline);
	seen_release(&s);
	close(p[0]);
	close(p[1]);
	gitrun_result_release(&res);
	buf_release(&err);
}

static void test_output_capped(void **state)
{
	static const char *const args[] = {"cat-file", "--batch-check", NULL};
	struct gitrun_opts o = base_opts();
	struct gitrun_result res;
	struct buf in = BUF_INIT(1 << 22);
	size_t i;

	(void)state;
	for (i = 0; i < 50000; i++)
		OK(buf_puts(&in, "nothing\n"));
	o.stdin_data = in.data;
	o.stdin_len = in.len;
	o.max_out = 1000;
	assert_int_equal(gitrun(args, &o, &res, NULL), 0);
	assert_int_equal(res.status, 0);
	assert_true(res.out_cut);
	assert_int_equal(res.out.len, 1000);
	assert_true(strncmp(buf_cstr(&res.out), "nothing missing\nnothing missing\n", 32) == 0);
	gitrun_result_release(&res);
	buf_release(&in);
}

static void test_reason(void **state)
{
	struct gitrun_result res;
	struct buf why = BUF_INIT(4096);

	(void)state;
	memset(&res, 0, sizeof(res));
	buf_init(&res.err, 4096);
	OK(buf_puts(&res.err,
		    "hint: a\nerror: first\nfatal: the \x1b[31mreal\x1b[0m one\r\nhint: b\n"));
	gitrun_reason(&res, &why);
	assert_string_equal(buf_cstr(&why), "fatal: the \\x1b[31mreal\\x1b[0m one");
	buf_reset(&why);
	buf_reset(&res.err);
	OK(buf_puts(&res.err, "something odd\n\n"));
	gitrun_reason(&res, &why);
	assert_string_equal(buf_cstr(&why), "something odd");
	buf_reset(&why);
	buf_reset(&res.err);
	res.status = 3;
	gitrun_reason(&res, &why);
	assert_string_equal(buf_cstr(&why), "exit status 3");
	gitrun_result_release(&res);
	buf_release(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_child_with_auth),
	    cmocka_unit_test(test_child_without_auth),
	    cmocka_unit_test(test_token_never_in_argv),
	    cmocka_unit_test(test_remote_refusals),
	    cmocka_unit_test(test_protocols_limited),
	    cmocka_unit_test(test_no_token_in_output),
	    cmocka_unit_test(test_scrub),
	    cmocka_unit_test(test_no_hooks),
	    cmocka_unit_test(test_no_user_config),
	    cmocka_unit_test(test_keep_fd),
	    cmocka_unit_test(test_deadline_kills),
	    cmocka_unit_test(test_output_capped),
	    cmocka_unit_test(test_reason),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
