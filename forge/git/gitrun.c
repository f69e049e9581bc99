/*
 * git/gitrun: git child processes (see gitrun.h).
 *
 * The child is watched through a pidfd: the loop polls its stdout, its
 * stderr, its stdin (while there is data to give it) and its exit, up to
 * the deadline. Once the child has exited, what is already in the pipes is
 * read and the rest of its process group (a helper that outlived it) is
 * killed before the child is reaped, so the group id cannot have been
 * reused by then.
 */
#include "forge/git/gitrun.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/str.h"

#define SCRUBBED "[token]"
#define REASON_MAX 200
#define ENV_MAX 64

uint64_t gitrun_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void gitrun_result_release(struct gitrun_result *res)
{
	if (!res)
		return;
	buf_release(&res->out);
	buf_release(&res->err);
}

void gitrun_scrub(struct buf *b, const char *secret, size_t n)
{
	struct buf clean = BUF_INIT(b->max);
	size_t i = 0;
	char *hit;

	if (!secret || n == 0 || b->len < n || !memmem(b->data, b->len, secret, n))
		return;
	while (i < b->len && (hit = memmem(b->data + i, b->len - i, secret, n))) {
		/* What does not fit is cut off, never left unscrubbed. */
		(void)!buf_append(&clean, b->data + i, (size_t)(hit - (b->data + i)));
		(void)!buf_puts(&clean, SCRUBBED);
		i = (size_t)(hit - b->data) + n;
	}
	(void)!buf_append(&clean, b->data + i, b->len - i);
	str_wipe(b->data, b->len);
	buf_release(b);
	*b = clean;
}

static int base64(struct buf *out, const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;
	int r = 0;

	for (i = 0; i + 2 < n; i += 3) {
		char q[4] = {tab[p[i] >> 2], tab[(p[i] & 3) << 4 | p[i + 1] >> 4],
			     tab[(p[i + 1] & 15) << 2 | p[i + 2] >> 6], tab[p[i + 2] & 63]};

		if ((r = buf_append(out, q, 4)) < 0)
			return r;
	}
	if (n - i == 1) {
		char q[4] = {tab[p[i] >> 2], tab[(p[i] & 3) << 4], '=', '='};

		r = buf_append(out, q, 4);
	} else if (n - i == 2) {
		char q[4] = {tab[p[i] >> 2], tab[(p[i] & 3) << 4 | p[i + 1] >> 4],
			     tab[(p[i + 1] & 15) << 2], '='};

		r = buf_append(out, q, 4);
	}
	return r;
}

/* "http", "https" or "file" for a URL gitrun allows, else NULL. */
static const char *remote_scheme(const char *url)
{
	static const char *const schemes[] = {"http", "https", "file"};
	size_t i, n;

	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		n = strlen(schemes[i]);
		if (strncmp(url, schemes[i], n) == 0 && strncmp(url + n, "://", 3) == 0)
			break;
	}
	if (i == sizeof(schemes) / sizeof(schemes[0]))
		return NULL;
	/* No credentials in a URL: "user:pass@" before the first '/' of the authority. */
	{
		const char *auth = url + n + 3;
		size_t alen = strcspn(auth, "/?#");

		if (memchr(auth, '@', alen))
			return NULL;
	}
	if (str_has_control(url, strlen(url), false) || strchr(url, ' '))
		return NULL;
	return schemes[i];
}

/*
 * The child's environment: strings in *store (one buffer, NUL-separated),
 * pointers in envp. The token, when any, is in store only: the caller
 * wipes it after the spawn.
 */
struct env {
	struct buf store;
	size_t offs[ENV_MAX];
	size_t n;
	unsigned n_config;
};

static int env_add(struct env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int env_add(struct env *e, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (e->n == ENV_MAX)
		return -E2BIG;
	e->offs[e->n] = e->store.len;
	va_start(ap, fmt);
	r = buf_vprintf(&e->store, fmt, ap);
	va_end(ap);
	if (r == 0)
		r = buf_putc(&e->store, '\0');
	if (r == 0)
		e->n++;
	return r;
}

static int env_config(struct env *e, const char *key, const char *value)
{
	int r = env_add(e, "GIT_CONFIG_KEY_%u=%s", e->n_config, key);

	if (r == 0)
		r = env_add(e, "GIT_CONFIG_VALUE_%u=%s", e->n_config, value);
	if (r == 0)
		e->n_config++;
	return r;
}

static int build_env(struct env *e, const struct gitrun_opts *o, const char *scheme,
		     struct buf *secret_b64)
{
	int r = 0;

	r = r ? r : env_add(e, "PATH=%s", GITRUN_PATH);
	r = r ? r : env_add(e, "HOME=%s", o->home);
	r = r ? r : env_add(e, "LC_ALL=C");
	r = r ? r : env_add(e, "GIT_CONFIG_NOSYSTEM=1");
	r = r ? r : env_add(e, "GIT_CONFIG_GLOBAL=/dev/null");
	r = r ? r : env_add(e, "GIT_TERMINAL_PROMPT=0");
	r = r ? r : env_add(e, "GIT_ASKPASS=");
	r = r ? r : env_add(e, "SSH_ASKPASS=");
	r = r ? r : env_add(e, "GIT_NO_REPLACE_OBJECTS=1");
	r = r ? r : env_add(e, "GIT_PROTOCOL_FROM_USER=0");
	r = r ? r : env_add(e, "GIT_DIR=%s", o->git_dir);
	if (o->object_dir)
		r = r ? r : env_add(e, "GIT_OBJECT_DIRECTORY=%s", o->object_dir);
	if (o->alternates)
		r = r ? r : env_add(e, "GIT_ALTERNATE_OBJECT_DIRECTORIES=%s", o->alternates);
	r = r ? r : env_config(e, "core.hooksPath", "/dev/null");
	r = r ? r : env_config(e, "credential.helper", "");
	r = r ? r : env_config(e, "core.askPass", "");
	r = r ? r : env_config(e, "core.fsmonitor", "false");
	r = r ? r : env_config(e, "gc.auto", "0");
	r = r ? r : env_config(e, "maintenance.auto", "false");
	r = r ? r : env_config(e, "protocol.allow", "never");
	if (scheme) {
		struct buf key = BUF_INIT(64);

		if (buf_printf(&key, "protocol.%s.allow", scheme) == 0)
			r = r ? r : env_config(e, buf_cstr(&key), "always");
		buf_release(&key);
		r = r ? r : env_config(e, "http.followRedirects", "false");
		/*
		 * A stalled transfer ends by itself by the deadline: the
		 * daemon kills its children then, but a git orphaned by a
		 * kill -9 of the daemon would otherwise hold its mirror's
		 * lock for ever.
		 */
		if (r == 0) {
			uint64_t now = gitrun_now_ms();
			unsigned secs = o->deadline_ms > now
					    ? (unsigned)((o->deadline_ms - now) / 1000) + 1
					    : 1;
			char v[24];

			snprintf(v, sizeof(v), "%u", secs);
			r = env_config(e, "http.lowSpeedLimit", "1");
			r = r ? r : env_config(e, "http.lowSpeedTime", v);
		}
	}
	if (o->auth && secret_b64->len) {
		struct buf hdr = BUF_INIT(8192);

		if (buf_puts(&hdr, "Authorization: Basic ") == 0 &&
		    buf_append(&hdr, secret_b64->data, secret_b64->len) == 0)
			r = r ? r : env_config(e, "http.extraHeader", buf_cstr(&hdr));
		else
			r = r ? r : -E2BIG;
		str_wipe(hdr.data, hdr.len);
		buf_release(&hdr);
	}
	r = r ? r : env_add(e, "GIT_CONFIG_COUNT=%u", e->n_config);
	return r;
}

static void env_wipe(struct env *e)
{
	if (e->store.data)
		str_wipe(e->store.data, e->store.len);
	buf_release(&e->store);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -errno : 0;
}

/* Reads what fd has now into b (up to its cap, the rest dropped): 1 at EOF, 0, -errno. */
static int drain(int fd, struct buf *b, bool *cut)
{
	char chunk[16384];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n == 0)
			return 1;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0
			       : errno == EINTR			       ? 0
								       : -errno;
		if (buf_append(b, chunk, (size_t)n) < 0) {
			size_t room = b->max > b->len ? b->max - b->len : 0;

			if (room)
				(void)!buf_append(
				    b, chunk, room < (size_t)n ? room : (size_t)n); /* fits: room */
			*cut = true;
		}
	}
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Is the token (or its header form) anywhere in args? */
static bool args_hold(const char *const *args, const char *s)
{
	size_t i;

	if (!s || !*s)
		return false;
	for (i = 0; args[i]; i++)
		if (strstr(args[i], s))
			return true;
	return false;
}

static int spawn_child(const char *const *argv, char *const *envp, const struct gitrun_opts *o,
		       int in_fd, int out_fd, int err_fd, pid_t *pid, struct buf *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	int r;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return buf_fail(err, -ENOMEM, "out of memory");
	if (posix_spawnattr_init(&at) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return buf_fail(err, -ENOMEM, "out of memory");
	}
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	r = posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
	r = r ? r : posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	r = r ? r : posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
	if (o->keep_fd_set && o->keep_fd >= 0)
		r = r ? r : posix_spawn_file_actions_adddup2(&fa, o->keep_fd, 3);
	r = r ? r
	      : posix_spawn_file_actions_addclosefrom_np(&fa,
							 o->keep_fd_set && o->keep_fd >= 0 ? 4 : 3);
	r = r ? r : posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
	r = r ? r : posix_spawnattr_setpgroup(&at, 0);
	r = r ? r : posix_spawnattr_setsigmask(&at, &none);
	r = r ? r : posix_spawnattr_setsigdefault(&at, &all);
	r = r ? r
	      : posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						  POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = posix_spawn(pid, GITRUN_GIT, &fa, &at, (char *const *)argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r != 0)
		return buf_fail(err, r == ENOMEM ? -ENOMEM : -EIO, "cannot start git %s: %s",
				argv[1], strerror(r));
	return 0;
}

/* The exit status of a child that has exited (reaps it). */
static int reap(pid_t pid)
{
	int st = 0;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return 255;
}

int gitrun(const char *const *args, const struct gitrun_opts *o, struct gitrun_result *res,
	   struct buf *err)
{
	const char *argv[GITRUN_MAX_ARGS + 2];
	struct env env = {.store = BUF_INIT(1 << 16)};
	struct buf cred = BUF_INIT(8192), b64 = BUF_INIT(16384);
	char *envp[ENV_MAX + 1];
	const char *scheme = NULL;
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, inp[2] = {-1, -1};
	int in_fd = -1, pidfd = -1;
	size_t i, nargs, written = 0;
	bool out_eof = false, err_eof = false, exited = false;
	pid_t pid = -1;
	int r;

	memset(res, 0, sizeof(*res));
	buf_init(&res->out, o->max_out ? o->max_out : GITRUN_MAX_OUT_DEFAULT);
	buf_init(&res->err, o->max_err ? o->max_err : GITRUN_MAX_ERR_DEFAULT);
	for (nargs = 0; args[nargs]; nargs++)
		if (nargs == GITRUN_MAX_ARGS)
			return buf_fail(err, -EINVAL, "internal: too many git arguments");
	if (nargs == 0 || !o->cwd || !o->home || !o->git_dir || !o->deadline_ms)
		return buf_fail(err, -EINVAL,
				"internal: git needs a command, cwd, home, git_dir and a deadline");
	if (gitrun_now_ms() >= o->deadline_ms) {
		res->timed_out = true;
		return buf_fail(err, -ETIMEDOUT, "git %s timed out", args[0]);
	}
	if (o->remote_url && !(scheme = remote_scheme(o->remote_url)))
		return buf_fail(err, -EINVAL,
				"git remote is not an http, https or file url without credentials");
	if (o->auth) {
		if (!scheme || strcmp(scheme, "file") == 0 || !o->auth->token || !*o->auth->token ||
		    !o->auth->user || strchr(o->auth->user, ':'))
			return buf_fail(err, -EINVAL, "internal: git auth needs an http(s) remote");
		/* The token never goes in argv, whatever the caller built. */
		if (args_hold(args, o->auth->token))
			return buf_fail(err, -EINVAL,
					"internal: refusing to put the token in argv");
		if (buf_printf(&cred, "%s:%s", o->auth->user, o->auth->token) < 0)
			return buf_fail(err, -E2BIG, "git credentials too long");
		r = base64(&b64, (const unsigned char *)cred.data, cred.len);
		str_wipe(cred.data, cred.len);
		buf_release(&cred);
		if (r < 0) {
			str_wipe(b64.data, b64.len);
			buf_release(&b64);
			return buf_fail(err, -E2BIG, "git credentials too long");
		}
	}
	argv[0] = GITRUN_GIT;
	for (i = 0; i < nargs; i++)
		argv[i + 1] = args[i];
	argv[nargs + 1] = NULL;

	r = build_env(&env, o, scheme, &b64);
	if (r < 0) {
		r = buf_fail(err, r == -ENOMEM ? -ENOMEM : -EINVAL, "git environment too large");
		goto out;
	}
	for (i = 0; i < env.n; i++)
		envp[i] = env.store.data + env.offs[i];
	envp[env.n] = NULL;

	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		r = buf_fail(err, -errno, "cannot make a pipe: %s", strerror(errno));
		goto out;
	}
	if (o->stdin_fd >= 0) {
		in_fd = o->stdin_fd;
	} else if (o->stdin_data) {
		/* A socket, not a pipe: a child that stops reading is EPIPE, never SIGPIPE. */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, inp) < 0) {
			r = buf_fail(err, -errno, "cannot make a pipe: %s", strerror(errno));
			goto out;
		}
		in_fd = inp[0];
	} else {
		in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (in_fd < 0) {
			r = buf_fail(err, -errno, "cannot open /dev/null: %s", strerror(errno));
			goto out;
		}
	}
	r = spawn_child(argv, envp, o, in_fd, outp[1], errp[1], &pid, err);
	/* The child has its own copy: the header leaves our memory now. */
	env_wipe(&env);
	if (o->stdin_fd < 0 && !o->stdin_data)
		close(in_fd);
	close_fd(&inp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[1]);
	if (r < 0)
		goto out;
	if (o->spawned)
		o->spawned(o->spawned_ud, pid);
	pidfd = pidfd_open(pid, 0);
	if (set_nonblock(outp[0]) < 0 || set_nonblock(errp[0]) < 0 ||
	    (inp[1] >= 0 && set_nonblock(inp[1]) < 0)) {
		r = buf_fail(err, -EIO, "cannot set up git's pipes");
		kill(-pid, SIGKILL);
		res->status = reap(pid);
		goto out;
	}
	if (inp[1] >= 0 && o->stdin_len == 0)
		close_fd(&inp[1]);

	while (!(exited && out_eof && err_eof)) {
		struct pollfd pf[4];
		nfds_t n = 0;
		uint64_t now = gitrun_now_ms();
		int timeout, k;

		if (now >= o->deadline_ms) {
			kill(-pid, SIGKILL);
			res->status = reap(pid);
			exited = true;
			res->timed_out = true;
			drain(outp[0], &res->out, &res->out_cut);
			drain(errp[0], &res->err, &res->err_cut);
			r = buf_fail(err, -ETIMEDOUT, "git %s timed out", args[0]);
			goto out;
		}
		timeout = o->deadline_ms - now > 60000 ? 60000 : (int)(o->deadline_ms - now);
		if (!out_eof)
			pf[n++] = (struct pollfd){.fd = outp[0], .events = POLLIN};
		if (!err_eof)
			pf[n++] = (struct pollfd){.fd = errp[0], .events = POLLIN};
		if (inp[1] >= 0)
			pf[n++] = (struct pollfd){.fd = inp[1], .events = POLLOUT};
		if (pidfd >= 0)
			pf[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		else if (timeout > 20)
			timeout = 20; /* no pidfd: look again soon */
		k = poll(pf, n, timeout);
		if (k < 0 && errno != EINTR) {
			r = buf_fail(err, -EIO, "waiting for git: %s", strerror(errno));
			kill(-pid, SIGKILL);
			res->status = reap(pid);
			goto out;
		}
		if (!out_eof && (k = drain(outp[0], &res->out, &res->out_cut)) != 0)
			out_eof = true;
		if (!err_eof && (k = drain(errp[0], &res->err, &res->err_cut)) != 0)
			err_eof = true;
		if (inp[1] >= 0) {
			const char *d = o->stdin_data;
			ssize_t w = send(inp[1], d + written, o->stdin_len - written,
					 MSG_NOSIGNAL | MSG_DONTWAIT);

			if (w > 0)
				written += (size_t)w;
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == o->stdin_len)
				close_fd(&inp[1]); /* done, or the child stopped reading */
		}
		if (!exited) {
			siginfo_t si;

			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
			    si.si_pid == pid)
				exited = true;
		}
		if (exited && !(out_eof && err_eof)) {
			/* A helper of git's still holds a pipe: take what is there and stop. */
			drain(outp[0], &res->out, &res->out_cut);
			drain(errp[0], &res->err, &res->err_cut);
			break;
		}
	}
	/* Whatever git left behind in its group goes with it, before the pid is freed. */
	kill(-pid, SIGKILL);
	res->status = reap(pid);
	r = 0;
out:
	env_wipe(&env);
	if (o->auth) {
		gitrun_scrub(&res->out, o->auth->token, strlen(o->auth->token));
		gitrun_scrub(&res->err, o->auth->token, strlen(o->auth->token));
		gitrun_scrub(&res->out, b64.data, b64.len);
		gitrun_scrub(&res->err, b64.data, b64.len);
	}
	if (b64.data)
		str_wipe(b64.data, b64.len);
	buf_release(&b64);
	close_fd(&pidfd);
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&inp[0]);
	close_fd(&inp[1]);
	return r;
}

static bool starts(const char *s, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);

	return n >= k && memcmp(s, prefix, k) == 0;
}

void gitrun_reason(const struct gitrun_result *res, struct buf *out)
{
	const char *s = res->err.data ? res->err.data : "";
	const char *best = NULL, *last = NULL;
	size_t best_n = 0, last_n = 0, i = 0, n = res->err.len;

	while (i < n) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (s + i)) : n - i;

		while (len && (s[i + len - 1] == '\r' || s[i + len - 1] == ' '))
			len--;
		if (len) {
			last = s + i;
			last_n = len;
			if (starts(s + i, len, "fatal: ") || starts(s + i, len, "error: ") ||
			    starts(s + i, len, "remote: error")) {
				best = s + i;
				best_n = len;
			}
		}
		i += (nl ? (size_t)(nl - (s + i)) + 1 : n - i);
	}
	if (!best) {
		best = last;
		best_n = last_n;
	}
	if (!best) {
		buf_note(out, "exit status %d", res->status);
		return;
	}
	best_n = str_utf8_floor(best, best_n < REASON_MAX ? best_n : REASON_MAX);
	(void)!str_escape_log(out, best, best_n); /* a reason: best effort */
}
