/*
 * git/gitrun: running Debian's git as a child process, safely.
 *
 * libgit2 1.5 (Debian 12's) has no bundle support, so the push path runs
 * /usr/bin/git. Every child is started the same way:
 *
 * - posix_spawn of GITRUN_GIT with an argv the caller fixes (no shell), in
 *   its own process group, signals at their defaults, no descriptor but
 *   0, 1 and 2 (closefrom; and 3 with keep_fd), in a working directory
 *   the caller names (a
 *   directory of the daemon's, never one the agent can write);
 * - an environment built from nothing: PATH=GITRUN_PATH, HOME (a private
 *   directory), LC_ALL=C, GIT_CONFIG_NOSYSTEM=1, GIT_CONFIG_GLOBAL=
 *   /dev/null (so neither /etc/gitconfig nor any ~/.gitconfig is read),
 *   GIT_TERMINAL_PROMPT=0, GIT_ASKPASS and SSH_ASKPASS empty,
 *   GIT_NO_REPLACE_OBJECTS=1, GIT_DIR always (git never discovers a
 *   repository from the working directory), GIT_OBJECT_DIRECTORY and
 *   GIT_ALTERNATE_OBJECT_DIRECTORIES when given, and configuration only
 *   through GIT_CONFIG_COUNT/KEY/VALUE: core.hooksPath=/dev/null (no hook
 *   runs), credential.helper and core.askPass empty (no helper, no prompt),
 *   core.fsmonitor=false, gc.auto=0 and maintenance.auto=false (nothing
 *   left running in the background), protocol.allow=never with only the
 *   remote's own scheme allowed (http, https or file), and
 *   http.followRedirects=false (a header is never replayed to another
 *   host);
 * - the token only for a child given auth, and only as
 *   `http.extraHeader=Authorization: Basic base64(user:token)` in that
 *   environment: never in argv (gitrun refuses an argv holding it), never
 *   for a child without auth (index-pack, init, ...). The environment of a
 *   process is readable only by its own user and root (/proc/PID/environ
 *   is 0400), and git's own helpers (git-remote-http) inherit it: that is
 *   the one place the token leaves the daemon's memory;
 * - a deadline: past it the whole process group is killed (SIGKILL) and
 *   the call answers -ETIMEDOUT;
 * - stdout and stderr captured, each up to its cap (the rest is read and
 *   dropped so the child never blocks), with every occurrence of the token
 *   and of its base64 header form replaced by "[token]".
 *
 * Thread-safety: gitrun may be called from many threads at once (every
 * descriptor it makes is close-on-exec until the child's own dup2). It
 * never touches signal dispositions of the daemon; the daemon must not
 * ignore SIGCHLD (children must be waitable).
 */
#ifndef BOTTLEFS_FORGE_GIT_GITRUN_H
#define BOTTLEFS_FORGE_GIT_GITRUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/buf.h"

#define GITRUN_GIT "/usr/bin/git"
#define GITRUN_PATH "/usr/bin:/bin"
#define GITRUN_MAX_ARGS 32
#define GITRUN_MAX_OUT_DEFAULT ((size_t)1 << 20)
#define GITRUN_MAX_ERR_DEFAULT ((size_t)64 << 10)

/* Basic auth for one remote; both borrowed. */
struct gitrun_auth {
	const char *user;  /* Gitea: any; GitHub: "x-access-token" */
	const char *token; /* the secret */
};

struct gitrun_opts {
	const char *cwd;	/* required: a directory of the daemon's */
	const char *home;	/* required: HOME, a private directory */
	const char *git_dir;	/* required: GIT_DIR (also for `init`) */
	const char *object_dir; /* GIT_OBJECT_DIRECTORY, or NULL */
	const char *alternates; /* GIT_ALTERNATE_OBJECT_DIRECTORIES, or NULL */
	/*
	 * The remote this child talks to, or NULL for none (then every
	 * protocol is refused). "http://", "https://" or "file://" only;
	 * never with credentials in it.
	 */
	const char *remote_url;
	const struct gitrun_auth *auth; /* NULL: the child gets no credential */
	int stdin_fd;			/* read end for the child's stdin; -1: see stdin_data */
	/*
	 * Written to the child's stdin (a socket, so a child that stops
	 * reading is no SIGPIPE for the daemon); NULL (and stdin_fd -1):
	 * /dev/null.
	 */
	const void *stdin_data;
	size_t stdin_len;
	/*
	 * A descriptor the child keeps as its fd 3 (every other one is
	 * closed), when keep_fd_set: the mirror's flock, so that a git
	 * outliving the daemon (kill -9) still holds the lock until it ends.
	 */
	int keep_fd;
	bool keep_fd_set;
	size_t max_out;	      /* stdout kept (0: GITRUN_MAX_OUT_DEFAULT) */
	size_t max_err;	      /* stderr kept (0: GITRUN_MAX_ERR_DEFAULT) */
	uint64_t deadline_ms; /* required: CLOCK_MONOTONIC milliseconds (gitrun_now_ms) */
	/* Tests: called right after the child started (exec done). May be NULL. */
	void (*spawned)(void *ud, pid_t pid);
	void *spawned_ud;
};

struct gitrun_result {
	int status;	       /* exit status, or 128 + the signal that ended it */
	bool timed_out;	       /* the deadline killed it */
	struct buf out;	       /* stdout, scrubbed */
	struct buf err;	       /* stderr, scrubbed */
	bool out_cut, err_cut; /* more was written than kept */
};

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t gitrun_now_ms(void);

/*
 * Runs `git args...` (args NULL-terminated, without "git") and waits for
 * it. res is initialised here and must be released with
 * gitrun_result_release whatever the return. 0 when the child ran to its
 * end (whatever its status: see res->status); -ETIMEDOUT when the
 * deadline killed it; -EINVAL for options gitrun refuses (no cwd, home or
 * git_dir, a remote it does not allow, the token in args, too many args);
 * -EIO or -ENOMEM when it could not be started. A reason is appended to
 * err (may be NULL) on failure.
 */
int gitrun(const char *const *args, const struct gitrun_opts *o, struct gitrun_result *res,
	   struct buf *err);

void gitrun_result_release(struct gitrun_result *res);

/*
 * Appends to out the one line that says why git failed: the last line of
 * stderr starting "fatal: ", "error: " or "remote: error" (else the last
 * non-empty line, else "exit status N"), escaped for a log line and cut
 * to 200 bytes. Already scrubbed of the token.
 */
void gitrun_reason(const struct gitrun_result *res, struct buf *out);

/* Replaces every occurrence of secret (n bytes, n > 0) in b with "[token]". */
void gitrun_scrub(struct buf *b, const char *secret, size_t n);

#endif
