/*
 * main: options, the token, the subcommands, and wiring the modules into
 * one mount. The only file with process-wide state.
 */
#include <errno.h>
#include <fuse.h>
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
#include "fs/mount.h"
#include "fs/view.h"
#include "manifest/manifest.h"
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
	bool debug;
	const char *mountpoint;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bottlefs --forge-url URL [--token-file PATH] [--assign OWNER/REPO#N]\n"
		"                [--bottles DIR] [--state DB] [--queue DIR] [--cache-ttl S]\n"
		"                [--timeout S] [--kernel-ttl S] [-f] [-d] [-o OPT,...] MOUNTPOINT\n"
		"       bottlefs resolve DIR NAME\n"
		"       bottlefs state list|get|set|delete|provenance|journal ... [--state DB]\n"
		"       bottlefs queue list|take DIR\n"
		"The token comes from --token-file (mode 0600) or BOTTLEFS_TOKEN, never an argument.\n");
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

/*
 * Splits argv into our options and FUSE's (returned in fuse_argv, which
 * keeps argv[0]). Returns 0, or -1 after printing why.
 */
static int parse_args(int argc, char **argv, struct options *o, struct fuse_args *fargs)
{
	int i;
	const char *v;

	o->cache_ttl_s = 30;
	o->timeout_s = 10;
	o->kernel_ttl_s = 1.0;
	fuse_opt_add_arg(fargs, argv[0]);
	/*
	 * Each forge request blocks one FUSE worker; bound the pool (libfuse
	 * 3.14 warns when max_threads is left unset).
	 */
	fuse_opt_add_arg(fargs, "-omax_threads=64");
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
		} else if (strcmp(argv[i], "--token") == 0 ||
			   strncmp(argv[i], "--token=", 8) == 0) {
			fprintf(stderr, "bottlefs: the token is never an argument; use --token-file "
					"or BOTTLEFS_TOKEN\n");
			return -1;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			exit(0);
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
	struct mount_ctx mc = {0};
	char *token = NULL;
	int r = 1;

	if (parse_args(argc, argv, &o, &fargs) < 0) {
		usage(stderr);
		goto out;
	}
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
	vo.bottles_dir = o.bottles;
	if (view_new(&vo, &mc.view) < 0) {
		fprintf(stderr, "bottlefs: out of memory\n");
		goto out;
	}
	mc.kernel_ttl_s = o.kernel_ttl_s;
	mc.debug = o.debug;
	clear_dead_mount(o.mountpoint);
	r = fuse_main(fargs.argc, fargs.argv, ops_table(), &mc);
out:
	view_free(mc.view);
	forge_free(mc.forge);
	fuse_opt_free_args(&fargs);
	buf_release(&err);
	return r;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "resolve") == 0)
		return cmd_resolve(argc, argv);
	return run_mount(argc, argv);
}
