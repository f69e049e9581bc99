/*
 * main: options, the token, the subcommands, and wiring the modules into
 * one mount. The only file with process-wide state.
 */
#include <errno.h>
#include <limits.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "forge/gitea/gitea.h"
#include "tree/mount.h"
#include "cache/cache.h"
#include "write/write.h"
#include "manifest/manifest.h"
#include "write/queue.h"
#include "state/state.h"
#include "util/buf.h"
#include "util/str.h"

#define TOKEN_MAX 4096

struct options {
	const char *forge_url;
	const char *token_file;
	const char *assign;
	const char *bottles;
	const char *state;
	const char *queue;
	uint64_t cache_ttl_s;
	uint64_t timeout_s;
	double kernel_ttl_s;
	uint64_t write_memory_mib;
	uint64_t read_memory_mib;
	uint64_t max_prs;
	uint64_t max_answer;
	bool debug;
	const char *mountpoint;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bottlefs --forge-url URL [--token-file PATH] [--assign OWNER/REPO#N]\n"
		"                [--bottles DIR] [--state DB] [--queue DIR] [--cache-ttl S]\n"
		"                [--timeout S] [--kernel-ttl S] [--write-memory MIB]\n"
		"                [--read-memory MIB] [--max-prs N] [--max-answer SIZE]\n"
		"                [-f] [-d] [-o OPT,...] MOUNTPOINT\n"
		"       bottlefs resolve DIR NAME\n"
		"       bottlefs state list|get|set|delete|prs|provenance|journal ...\n"
		"                [--state DB]\n"
		"       bottlefs queue list|take DIR\n"
		"       bottlefs --help | --version\n"
		"The token comes from --token-file (mode 0600) or BOTTLEFS_TOKEN, never an "
		"argument. See bottlefs(1).\n");
}

/* "--name value" or "--name=value"; advances *i past what it used. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0' || *i + 1 >= argc)
		return NULL;
	(*i)++;
	return argv[*i];
}

static int parse_seconds(const char *s, const char *what, uint64_t *out)
{
	if (str_to_u64(s, 86400 * 365, true, out) < 0) {
		fprintf(stderr, "bottlefs: %s must be a whole number of seconds (was '%s')\n", what,
			s);
		return -1;
	}
	return 0;
}

/* The answer cap's bounds: well above the write cap, and what one answer may hold. */
#define MAX_ANSWER_MIN ((uint64_t)8 << 20)
#define MAX_ANSWER_MAX ((uint64_t)1 << 30)

/*
 * A byte count: digits, optionally followed by K, M or G (KiB, MiB, GiB),
 * within MAX_ANSWER_MIN..MAX_ANSWER_MAX.
 */
static int parse_size(const char *s, const char *what, uint64_t *out)
{
	size_t n = strlen(s), digits = n;
	unsigned shift = 0;
	uint64_t v;

	if (n > 1 && (s[n - 1] == 'K' || s[n - 1] == 'M' || s[n - 1] == 'G')) {
		shift = s[n - 1] == 'K' ? 10 : s[n - 1] == 'M' ? 20 : 30;
		digits--;
	}
	if (strn_to_u64(s, digits, MAX_ANSWER_MAX, false, &v) < 0 ||
	    v > (MAX_ANSWER_MAX >> shift) || (v << shift) < MAX_ANSWER_MIN) {
		fprintf(stderr,
			"bottlefs: %s must be a size from 8M to 1G (bytes, or with K, M or G; was "
			"'%s')\n",
			what, s);
		return -1;
	}
	*out = v << shift;
	return 0;
}

/*
 * Splits argv into our options and FUSE's (returned in fuse_argv, which
 * keeps argv[0]). Returns 0; 1 when it answered --help or --version on
 * stdout (nothing to mount); or -1 after printing why.
 */
static int parse_args(int argc, char **argv, struct options *o, struct fuse_args *fargs)
{
	int i;
	const char *v;

	o->cache_ttl_s = 30;
	o->timeout_s = 10;
	o->kernel_ttl_s = 1.0;
	o->write_memory_mib = FILES_WRITE_MEMORY_DEFAULT >> 20;
	o->read_memory_mib = FILES_READ_MEMORY_DEFAULT >> 20;
	o->max_prs = WRITES_MAX_PRS_DEFAULT;
	o->max_answer = (uint64_t)64 << 20;
	fuse_opt_add_arg(fargs, argv[0]);
	for (i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--forge-url"))) {
			o->forge_url = v;
		} else if ((v = opt_value(argc, argv, &i, "--token-file"))) {
			o->token_file = v;
		} else if ((v = opt_value(argc, argv, &i, "--assign"))) {
			o->assign = v;
		} else if ((v = opt_value(argc, argv, &i, "--bottles"))) {
			o->bottles = v;
		} else if ((v = opt_value(argc, argv, &i, "--state"))) {
			o->state = v;
		} else if ((v = opt_value(argc, argv, &i, "--queue"))) {
			o->queue = v;
		} else if ((v = opt_value(argc, argv, &i, "--cache-ttl"))) {
			if (parse_seconds(v, "--cache-ttl", &o->cache_ttl_s) < 0)
				return -1;
		} else if ((v = opt_value(argc, argv, &i, "--timeout"))) {
			if (parse_seconds(v, "--timeout", &o->timeout_s) < 0)
				return -1;
			if (o->timeout_s == 0) {
				fprintf(stderr, "bottlefs: --timeout must be at least 1 second\n");
				return -1;
			}
		} else if ((v = opt_value(argc, argv, &i, "--kernel-ttl"))) {
			uint64_t s;

			if (parse_seconds(v, "--kernel-ttl", &s) < 0)
				return -1;
			o->kernel_ttl_s = (double)s;
		} else if ((v = opt_value(argc, argv, &i, "--write-memory"))) {
			/* MiB for what all open files and scratch files hold together. */
			if (str_to_u64(v, (uint64_t)1 << 20, false, &o->write_memory_mib) < 0) {
				fprintf(stderr,
					"bottlefs: --write-memory must be a whole number of MiB, "
					"1 to 1048576 (was '%s')\n",
					v);
				return -1;
			}
		} else if ((v = opt_value(argc, argv, &i, "--read-memory"))) {
			/* MiB for what all read snapshots held open hold together. */
			if (str_to_u64(v, (uint64_t)1 << 20, false, &o->read_memory_mib) < 0) {
				fprintf(stderr,
					"bottlefs: --read-memory must be a whole number of MiB, "
					"1 to 1048576 (was '%s')\n",
					v);
				return -1;
			}
		} else if ((v = opt_value(argc, argv, &i, "--max-prs"))) {
			if (str_to_u64(v, 10000, false, &o->max_prs) < 0) {
				fprintf(
				    stderr,
				    "bottlefs: --max-prs must be a whole number from 1 to 10000 "
				    "(was '%s')\n",
				    v);
				return -1;
			}
		} else if ((v = opt_value(argc, argv, &i, "--max-answer"))) {
			if (parse_size(v, "--max-answer", &o->max_answer) < 0)
				return -1;
		} else if (strcmp(argv[i], "--token") == 0 ||
			   strncmp(argv[i], "--token=", 8) == 0) {
			fprintf(stderr,
				"bottlefs: the token is never an argument; use --token-file "
				"or BOTTLEFS_TOKEN\n");
			return -1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 1;
		} else if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("bottlefs %s\n", BOTTLEFS_VERSION);
			return 1;
		} else if (strncmp(argv[i], "--", 2) == 0) {
			fprintf(stderr, "bottlefs: unknown option '%s'\n", argv[i]);
			return -1;
		} else {
			if (strcmp(argv[i], "-d") == 0)
				o->debug = true;
			if (argv[i][0] != '-' && (i == 1 || strcmp(argv[i - 1], "-o") != 0))
				o->mountpoint = argv[i];
			fuse_opt_add_arg(fargs, argv[i]);
		}
	}
	if (!o->forge_url) {
		fprintf(stderr, "bottlefs: --forge-url is required\n");
		return -1;
	}
	if (!o->mountpoint) {
		fprintf(stderr, "bottlefs: no mountpoint given\n");
		return -1;
	}
	return 0;
}

/* Reads the token file's first line; refuses a file others can read. */
static int token_from_file(const char *path, char **out)
{
	struct buf b = BUF_INIT(TOKEN_MAX);
	struct stat st;
	char chunk[512];
	size_t n;
	FILE *f;
	int r = 0;

	f = fopen(path, "re");
	if (!f) {
		fprintf(stderr, "bottlefs: cannot read token file '%s': %s\n", path,
			strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || (st.st_mode & 077)) {
		fprintf(stderr,
			"bottlefs: token file '%s' is readable by group or others; "
			"run chmod 600 on it\n",
			path);
		fclose(f);
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && r == 0)
		r = buf_append(&b, chunk, n);
	fclose(f);
	str_wipe(chunk, sizeof(chunk));
	if (r < 0) {
		fprintf(stderr, "bottlefs: token file '%s' is too long\n", path);
		str_wipe(b.data, b.len);
		buf_release(&b);
		return -1;
	}
	/* The first line, without surrounding white space. */
	n = strcspn(buf_cstr(&b), "\r\n");
	while (n > 0 && (b.data[n - 1] == ' ' || b.data[n - 1] == '\t'))
		n--;
	if (b.data)
		b.data[n] = '\0';
	*out = buf_steal(&b, NULL);
	return 0;
}

/*
 * BOTTLEFS_TOKEN: copied, then its bytes in the environment block are
 * overwritten (unsetenv alone leaves them readable in /proc/PID/environ).
 */
static char *token_from_env(void)
{
	char *v = getenv("BOTTLEFS_TOKEN"), *copy;

	if (!v)
		return NULL;
	copy = strdup(v);
	str_wipe(v, strlen(v));
	unsetenv("BOTTLEFS_TOKEN");
	return copy;
}

/*
 * After a kill -9 the mountpoint is a dead FUSE mount (ENOTCONN): detach it
 * lazily so the new daemon can mount on the same path.
 */
static void clear_dead_mount(const char *mountpoint)
{
	char *const argv[] = {"fusermount3", "-u", "-z", (char *)mountpoint, NULL};
	char *const envp[] = {"PATH=/usr/bin:/bin:/usr/sbin:/sbin", NULL};
	struct stat st;
	pid_t pid;
	int status;

	if (stat(mountpoint, &st) == 0 || errno != ENOTCONN)
		return;
	fprintf(stderr, "bottlefs: '%s' is a dead mount; unmounting it first\n", mountpoint);
	if (posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, envp) == 0)
		waitpid(pid, &status, 0);
}

/*
 * The daemon changes directory to / once mounted (fuse_daemonize), so a
 * relative path given on the command line is made absolute first (new).
 */
static char *absolute(const char *path)
{
	struct buf b = BUF_INIT(8192);
	char cwd[4096];

	if (path[0] == '/')
		return strdup(path);
	if (!getcwd(cwd, sizeof(cwd)) || buf_printf(&b, "%s/%s", cwd, path) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

/*
 * The FUSE session: mount, serve on a bounded pool of threads until
 * unmounted or signalled (SIGINT, SIGTERM, SIGHUP), unmount. A worker in
 * the middle of a request finishes it before the loop returns, so a write
 * in flight is sent or journaled first.
 */
static int serve(struct fuse_args *fargs, struct mount_ctx *mc)
{
	struct fuse_cmdline_opts co;
	struct fuse_loop_config *lc = NULL;
	struct fuse *f = NULL;
	int r = 1;

	if (fuse_parse_cmdline(fargs, &co) != 0)
		return 1;
	if (!co.mountpoint) {
		fprintf(stderr, "bottlefs: no mountpoint given\n");
		goto out;
	}
	clear_dead_mount(co.mountpoint);
	f = fuse_new(fargs, ops_table(), sizeof(struct fuse_operations), mc);
	if (!f)
		goto out;
	if (fuse_mount(f, co.mountpoint) != 0)
		goto out;
	if (fuse_daemonize(co.foreground) != 0 ||
	    fuse_set_signal_handlers(fuse_get_session(f)) != 0)
		goto unmount;
	if (co.singlethread) {
		r = fuse_loop(f);
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc)
			goto signals;
		fuse_loop_cfg_set_clone_fd(lc, (unsigned)co.clone_fd);
		/* UINT_MAX means unset; passing it on makes libfuse 3.14 warn. */
		if (co.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, co.max_idle_threads);
		/* Each forge request blocks one worker; bound the pool. */
		fuse_loop_cfg_set_max_threads(lc, 64);
		r = fuse_loop_mt(f, lc);
	}
      signals:
	fuse_remove_signal_handlers(fuse_get_session(f));
unmount:
	fuse_unmount(f);
out:
	fuse_loop_cfg_destroy(lc);
	if (f)
		fuse_destroy(f);
	free(co.mountpoint);
	return r ? 1 : 0;
}

/* ~/.bot-bottle/<name>, the default home of the state and the queue (new). */
static char *default_path(const char *name)
{
	const char *home = getenv("HOME");
	struct buf b = BUF_INIT(4096);

	if (!home || !*home)
		home = "/root";
	if (buf_printf(&b, "%s/.bot-bottle/%s", home, name) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

/* `bottlefs state ... [--state DB]` */
static int cmd_state(int argc, char **argv)
{
	char *db = NULL, **args;
	int i, n = 0, r;

	args = calloc((size_t)argc + 1, sizeof(*args));
	if (!args)
		return 1;
	for (i = 1; i < argc; i++) {
		const char *v;

		if ((v = opt_value(argc, argv, &i, "--state"))) {
			free(db);
			db = strdup(v);
		} else {
			args[n++] = argv[i];
		}
	}
	if (!db)
		db = default_path("bot-bottle.db");
	r = db ? state_cli(n, args, db, stdout, stderr) : 1;
	free(db);
	free(args);
	return r;
}

static int cmd_resolve(int argc, char **argv)
{
	struct buf err = BUF_INIT(1 << 20);
	char *json = NULL;
	int r;

	if (argc != 4) {
		fprintf(stderr, "usage: bottlefs resolve DIR NAME\n");
		return 2;
	}
	r = manifest_resolve(argv[2], argv[3], &json, &err);
	if (r < 0) {
		fprintf(stderr, "bottlefs: %s\n", err.len ? buf_cstr(&err) : strerror(-r));
		buf_release(&err);
		return 1;
	}
	fputs(json, stdout);
	free(json);
	buf_release(&err);
	return 0;
}

static int run_mount(int argc, char **argv)
{
	struct fuse_args fargs = FUSE_ARGS_INIT(0, NULL);
	struct options o = {0};
	struct buf err = BUF_INIT(4096);
	struct gitea_options go = {0};
	struct view_options vo = {0};
	struct writes_options wo = {0};
	struct files_options fo = {0};
	struct mount_ctx mc = {0};
	char *token = NULL, *state_path = NULL, *queue_path = NULL, *bottles_path = NULL;
	struct manifest_cache *bottles = NULL;
	int r = 1;

	scope_init(&mc.scope);
	ratelimit_init(&mc.log_limit, 10000, 5.0, 20.0);
	r = parse_args(argc, argv, &o, &fargs);
	if (r != 0) {
		if (r < 0)
			usage(stderr);
		r = r < 0 ? 1 : 0;
		goto out;
	}
	r = 1;
	/* Nobody else may read the token out of this process's memory. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	token = token_from_env();
	if (o.token_file) {
		if (token) {
			str_wipe(token, strlen(token));
			free(token);
			token = NULL;
		}
		if (token_from_file(o.token_file, &token) < 0)
			goto out;
	}
	go.base_url = o.forge_url;
	go.token = token;
	go.timeout_ms = (unsigned)(o.timeout_s * 1000);
	/*
	 * One answer larger than this is refused (EIO; a diff shows a one-line
	 * notice instead): nothing a forge sends may inflate the daemon without
	 * bound (SEMANTICS.md). It sits far above what a write may hold, so
	 * what was written can always be read back.
	 */
	go.max_body = (size_t)o.max_answer;
	mc.forge = gitea_new(&go, &err);
	if (token) {
		str_wipe(token, strlen(token));
		free(token);
		token = NULL;
	}
	if (!mc.forge) {
		fprintf(stderr, "bottlefs: cannot use forge '%s': %s\n", o.forge_url,
			buf_cstr(&err));
		goto out;
	}
	vo.forge = mc.forge;
	vo.cache_ttl_ms = (int64_t)o.cache_ttl_s * 1000;
	if (o.bottles && !(bottles_path = absolute(o.bottles)))
		goto out;
	if (bottles_path && manifest_cache_new(bottles_path, NULL, &bottles) < 0) {
		fprintf(stderr, "bottlefs: out of memory\n");
		goto out;
	}
	vo.bottles = bottles;
	if (o.assign && scope_assign(&mc.scope, o.assign, &err) < 0) {
		fprintf(stderr, "bottlefs: %s\n", buf_cstr(&err));
		goto out;
	}
	state_path = o.state ? absolute(o.state) : default_path("bot-bottle.db");
	queue_path = o.queue ? absolute(o.queue) : default_path("queue");
	if (!state_path || !queue_path || state_open(state_path, &mc.state, &err) < 0) {
		fprintf(stderr, "bottlefs: cannot open the state store '%s': %s\n",
			state_path ? state_path : "?", buf_cstr(&err));
		goto out;
	}
	vo.state = mc.state;
	if (view_new(&vo, &mc.view) < 0) {
		fprintf(stderr, "bottlefs: out of memory\n");
		goto out;
	}
	/* The write outcomes /.bottlefs/log shows, and the open files' state. */
	if (wlog_new(&mc.log) < 0) {
		fprintf(stderr, "bottlefs: out of memory\n");
		goto out;
	}
	fo.write_memory = (size_t)(o.write_memory_mib << 20);
	fo.read_memory = (size_t)(o.read_memory_mib << 20);
	fo.log = mc.log;
	fo.commit = ops_commit;
	fo.commit_ud = &mc;
	if (files_new(&fo, &mc.files) < 0) {
		fprintf(stderr, "bottlefs: out of memory\n");
		goto out;
	}
	wo.forge = mc.forge;
	wo.state = mc.state;
	wo.view = mc.view;
	wo.scope = &mc.scope;
	wo.queue_dir = queue_path;
	wo.log = mc.log;
	wo.max_prs = (unsigned)o.max_prs;
	if (writes_new(&wo, &mc.writes, &err) < 0) {
		fprintf(stderr, "bottlefs: %s\n", buf_cstr(&err));
		goto out;
	}
	/* Writes a previous run journaled but never saw answered: finish them once. */
	buf_reset(&err);
	r = writes_recover(mc.writes, &err);
	if (r > 0)
		fprintf(stderr, "bottlefs: finished %d write(s) left by a previous run\n", r);
	if (err.len) {
		/* The reasons quote the forge and the journal: escaped like every log line. */
		struct buf line = BUF_INIT(0);

		str_escape_log(&line, err.data, err.len);
		fprintf(stderr, "bottlefs: writes still unfinished (forge unreachable): %s\n",
			buf_cstr(&line));
		buf_release(&line);
	}
	mc.kernel_ttl_s = o.kernel_ttl_s;
	mc.debug = o.debug;
	r = serve(&fargs, &mc);
out:
	files_free(mc.files);
	wlog_free(mc.log);
	writes_free(mc.writes);
	view_free(mc.view);
	manifest_cache_free(bottles);
	state_free(mc.state);
	scope_release(&mc.scope);
	ratelimit_release(&mc.log_limit);
	forge_free(mc.forge);
	free(state_path);
	free(queue_path);
	free(bottles_path);
	fuse_opt_free_args(&fargs);
	buf_release(&err);
	return r;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "resolve") == 0)
		return cmd_resolve(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "state") == 0)
		return cmd_state(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "queue") == 0)
		return queue_cli(argc - 1, argv + 1, stdout, stderr);
	return run_mount(argc, argv);
}
