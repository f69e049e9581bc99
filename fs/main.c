/*
 * main: bottlefs-mount, the daemon. Options, the token, and wiring the
 * parts into one mount: forge (the adapter), state, cache, the write path
 * and the tree, then the FUSE session. The only file with process-wide
 * state.
 *
 * Users run `bottlefs` (cli/main.c), which answers --help, --version and
 * the subcommands itself and executes this program for a mount, with the
 * same arguments and environment.
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

#include "cache/cache.h"
#include "forge/git/git.h"
#include "forge/gitea/gitea.h"
#include "forge/github/github.h"
#include "fs/fs.h"
#include "manifest/manifest.h"
#include "state/state.h"
#include "tree/tree.h"
#include "util/buf.h"
#include "util/dir.h"
#include "util/str.h"
#include "write/write.h"

#define TOKEN_MAX 4096
#define PUSH_GLOBS_MAX 64

struct options {
	const char *forge;     /* "gitea" (the default) or "github" */
	const char *forge_url; /* github: GITHUB_API_URL when not given */
	const char *git_url;   /* NULL: derived from forge_url */
	const char *token_file;
	const char *assign;
	const char *bottles;
	const char *state;
	const char *queue;
	const char *cache; /* --cache: the content cache's SQLite file */
	uint64_t lease_s;  /* --lease */
	uint64_t cache_ttl_s;
	uint64_t timeout_s;
	double kernel_ttl_s;
	uint64_t write_memory_mib;
	uint64_t read_memory_mib;
	uint64_t cache_memory_mib;
	uint64_t max_prs;
	uint64_t max_answer;
	/* Pushing and repo.bundle (forge/git/): */
	const char *mirror_dir;
	uint64_t mirror_max;
	uint64_t push_max, push_max_object;
	uint64_t push_timeout_s;
	const char *push_branches[PUSH_GLOBS_MAX]; /* --push-branches, in order */
	size_t n_push_branches;
	bool debug;
	const char *mountpoint;
};

/*
 * After an option error: bottlefs --help (cli/main.c) has the usage, and
 * bottlefs(1) every option.
 */
static void usage_hint(void)
{
	fputs("Try 'bottlefs --help' for more information.\n", stderr);
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

/* The options that take a value ("--name value" or "--name=value"). */
static const char *const value_options[] = {
    "--forge",	      "--git-url",	"--forge-url",	 "--token-file", "--assign",
    "--bottles",      "--state",	"--queue",	 "--cache-ttl",	 "--timeout",
    "--kernel-ttl",   "--write-memory", "--read-memory", "--max-prs",	 "--max-answer",
    "--cache-memory", "--cache",	"--lease",
};

/* The options of pushing and repo.bundle (push_option). */
static const char *const push_value_options[] = {
    "--mirror-dir",	 "--mirror-max",   "--push-max",
    "--push-max-object", "--push-timeout", "--push-branches",
};

/*
 * A byte count for the push caps: digits, optionally followed by K, M or
 * G (KiB, MiB, GiB), from 1K to 4G.
 */
static int parse_bytes(const char *s, const char *what, uint64_t *out)
{
	size_t n = strlen(s), digits = n;
	unsigned shift = 0;
	uint64_t v, max = (uint64_t)4 << 30;

	if (n > 1 && (s[n - 1] == 'K' || s[n - 1] == 'M' || s[n - 1] == 'G')) {
		shift = s[n - 1] == 'K' ? 10 : s[n - 1] == 'M' ? 20 : 30;
		digits--;
	}
	if (strn_to_u64(s, digits, max, false, &v) < 0 || v > (max >> shift) ||
	    (v << shift) < 1024) {
		fprintf(stderr,
			"bottlefs: %s must be a size from 1K to 4G (bytes, or with K, M or G; was "
			"'%s')\n",
			what, s);
		return -1;
	}
	*out = v << shift;
	return 0;
}

/* Sets push or mirror option name to v; 0, or -1 after saying why. */
static int push_option(struct options *o, const char *name, const char *v)
{
	if (strcmp(name, "--mirror-dir") == 0) {
		o->mirror_dir = v;
	} else if (strcmp(name, "--mirror-max") == 0) {
		if (str_to_u64(v, 10000, false, &o->mirror_max) < 0) {
			fprintf(
			    stderr,
			    "bottlefs: --mirror-max must be a whole number from 1 to 10000 (was "
			    "'%s')\n",
			    v);
			return -1;
		}
	} else if (strcmp(name, "--push-max") == 0) {
		return parse_bytes(v, name, &o->push_max);
	} else if (strcmp(name, "--push-max-object") == 0) {
		return parse_bytes(v, name, &o->push_max_object);
	} else if (strcmp(name, "--push-timeout") == 0) {
		if (parse_seconds(v, name, &o->push_timeout_s) < 0)
			return -1;
		if (o->push_timeout_s == 0) {
			fprintf(stderr, "bottlefs: --push-timeout must be at least 1 second\n");
			return -1;
		}
	} else if (strcmp(name, "--push-branches") == 0) {
		if (o->n_push_branches == PUSH_GLOBS_MAX) {
			fprintf(stderr, "bottlefs: at most %d --push-branches\n", PUSH_GLOBS_MAX);
			return -1;
		}
		o->push_branches[o->n_push_branches++] = v;
	}
	return 0;
}

/* A whole number of MiB from 1 to 1048576. */
static int parse_mib(const char *v, const char *what, uint64_t *out)
{
	if (str_to_u64(v, (uint64_t)1 << 20, false, out) < 0) {
		fprintf(stderr,
			"bottlefs: %s must be a whole number of MiB, 1 to 1048576 (was '%s')\n",
			what, v);
		return -1;
	}
	return 0;
}

/* Sets option name to v; 0, or -1 after saying why. */
static int value_option(struct options *o, const char *name, const char *v)
{
	uint64_t s;

	if (strcmp(name, "--forge") == 0) {
		if (strcmp(v, "gitea") != 0 && strcmp(v, "github") != 0 && strcmp(v, "git") != 0) {
			fprintf(stderr,
				"bottlefs: --forge must be 'gitea', 'github' or 'git' (was '%s')\n",
				v);
			return -1;
		}
		o->forge = v;
	} else if (strcmp(name, "--git-url") == 0) {
		o->git_url = v;
	} else if (strcmp(name, "--forge-url") == 0)
		o->forge_url = v;
	else if (strcmp(name, "--token-file") == 0)
		o->token_file = v;
	else if (strcmp(name, "--assign") == 0)
		o->assign = v;
	else if (strcmp(name, "--bottles") == 0)
		o->bottles = v;
	else if (strcmp(name, "--state") == 0)
		o->state = v;
	else if (strcmp(name, "--queue") == 0)
		o->queue = v;
	else if (strcmp(name, "--cache") == 0)
		o->cache = v;
	else if (strcmp(name, "--lease") == 0) {
		if (parse_seconds(v, name, &o->lease_s) < 0)
			return -1;
		if (o->lease_s < 3) {
			fprintf(stderr, "bottlefs: --lease must be at least 3 seconds\n");
			return -1;
		}
	} else if (strcmp(name, "--cache-ttl") == 0)
		return parse_seconds(v, name, &o->cache_ttl_s);
	else if (strcmp(name, "--timeout") == 0) {
		if (parse_seconds(v, name, &o->timeout_s) < 0)
			return -1;
		if (o->timeout_s == 0) {
			fprintf(stderr, "bottlefs: --timeout must be at least 1 second\n");
			return -1;
		}
	} else if (strcmp(name, "--kernel-ttl") == 0) {
		if (parse_seconds(v, name, &s) < 0)
			return -1;
		o->kernel_ttl_s = (double)s;
	} else if (strcmp(name, "--write-memory") == 0) {
		/* MiB for what all open files and scratch files hold together. */
		return parse_mib(v, name, &o->write_memory_mib);
	} else if (strcmp(name, "--read-memory") == 0) {
		/* MiB for what all read snapshots held open hold together. */
		return parse_mib(v, name, &o->read_memory_mib);
	} else if (strcmp(name, "--cache-memory") == 0) {
		/* MiB for what the cached issues, comments and diffs hold in memory. */
		return parse_mib(v, name, &o->cache_memory_mib);
	} else if (strcmp(name, "--max-prs") == 0) {
		if (str_to_u64(v, 10000, false, &o->max_prs) < 0) {
			fprintf(stderr,
				"bottlefs: --max-prs must be a whole number from 1 to 10000 (was "
				"'%s')\n",
				v);
			return -1;
		}
	} else {
		return parse_size(v, name, &o->max_answer);
	}
	return 0;
}

/*
 * An argument without a value: -h, -V, a FUSE option or the mountpoint
 * (kept for FUSE in fargs). 0, 1 when it answered --help or --version, -1
 * after saying why.
 */
static int plain_argument(int i, char **argv, struct options *o, struct fuse_args *fargs)
{
	const char *a = argv[i];

	if (strcmp(a, "--token") == 0 || strncmp(a, "--token=", 8) == 0) {
		fprintf(stderr, "bottlefs: the token is never an argument; use --token-file "
				"or BOTTLEFS_TOKEN\n");
		return -1;
	}
	if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
		/* bottlefs answers --help itself; run directly, say where it is. */
		puts("bottlefs-mount is the daemon bottlefs starts for a mount; "
		     "see bottlefs --help and bottlefs(1)");
		return 1;
	}
	if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
		printf("bottlefs %s\n", BOTTLEFS_VERSION);
		return 1;
	}
	if (strncmp(a, "--", 2) == 0) {
		fprintf(stderr, "bottlefs: unknown option '%s'\n", a);
		return -1;
	}
	if (strcmp(a, "-d") == 0)
		o->debug = true;
	if (a[0] != '-' && (i == 1 || strcmp(argv[i - 1], "-o") != 0))
		o->mountpoint = a;
	fuse_opt_add_arg(fargs, a);
	return 0;
}

/*
 * Splits argv into our options and FUSE's (returned in fuse_argv, which
 * keeps argv[0]). Returns 0; 1 when it answered --help or --version on
 * stdout (nothing to mount); or -1 after printing why.
 */
static int parse_args(int argc, char **argv, struct options *o, struct fuse_args *fargs)
{
	size_t n = sizeof(value_options) / sizeof(value_options[0]), k;
	size_t np = sizeof(push_value_options) / sizeof(push_value_options[0]), kp = np;
	const char *v = NULL;
	int i, r;

	o->forge = "gitea";
	o->cache_ttl_s = 30;
	o->timeout_s = 10;
	o->lease_s = WRITE_LEASE_DEFAULT;
	o->kernel_ttl_s = 1.0;
	o->write_memory_mib = TREE_WRITE_MEMORY_DEFAULT >> 20;
	o->read_memory_mib = TREE_READ_MEMORY_DEFAULT >> 20;
	o->cache_memory_mib = CACHE_MEMORY_DEFAULT >> 20;
	o->max_prs = WRITE_MAX_PRS_DEFAULT;
	o->max_answer = (uint64_t)64 << 20;
	o->push_max = (uint64_t)200 << 20;
	o->push_max_object = (uint64_t)50 << 20;
	fuse_opt_add_arg(fargs, argv[0]);
	for (i = 1; i < argc; i++) {
		for (k = 0; k < n && !(v = str_arg_value(argc, argv, &i, value_options[k])); k++)
			;
		for (kp = 0; k == n && kp < np &&
			     !(v = str_arg_value(argc, argv, &i, push_value_options[kp]));
		     kp++)
			;
		r = k < n     ? value_option(o, value_options[k], v)
		    : kp < np ? push_option(o, push_value_options[kp], v)
			      : plain_argument(i, argv, o, fargs);
		if (r != 0)
			return r;
	}
	if (!o->forge_url && strcmp(o->forge, "github") == 0)
		o->forge_url = GITHUB_API_URL;
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
static int serve(struct fuse_args *fargs, struct mount *mc, struct lease *lease)
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
	/* The lease's renewing thread, in the process that serves (after the fork). */
	if (lease_start(lease) < 0) {
		fprintf(stderr, "bottlefs: cannot start the lease thread\n");
		goto signals;
	}
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

/* Everything a mount is made of, owned by main. */
struct parts {
	struct forge *forge;
	struct state *state;
	struct state *local; /* the content cache on a shared --state: SQLite, --cache */
	struct state *queue; /* a --queue postgresql://...: its own connection */
	struct lease *lease; /* a shared --state: the assignment's lease */
	struct cache *cache;
	struct manifest_cache *bottles;
	struct scope scope;
	struct wlog *log;
	char *state_path, *queue_path, *bottles_path, *cache_path;
	/* Where the forge serves git: --git-url, else derived from --forge-url. */
	char *git_url;
	char *mirror_path, *spool_path;
};

static void parts_release(struct parts *p)
{
	cache_free(p->cache);
	manifest_cache_free(p->bottles);
	lease_free(p->lease);
	state_free(p->queue);
	state_free(p->local);
	state_free(p->state);
	wlog_free(p->log);
	scope_release(&p->scope);
	forge_free(p->forge);
	free(p->state_path);
	free(p->queue_path);
	free(p->bottles_path);
	free(p->git_url);
	free(p->mirror_path);
	free(p->spool_path);
	free(p->cache_path);
}

/*
 * The git root: --git-url when given (an http(s) URL), else derived from
 * --forge-url: for GitHub as github_derive_urls says (api.github.com ->
 * github.com, HOST/api/v3 -> HOST), for Gitea the forge's own root.
 */
static int git_root(const struct options *o, struct parts *p, struct buf *err)
{
	char *gql = NULL;
	const char *u = o->git_url;

	if (u) {
		if ((strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0) ||
		    strpbrk(u, " \t\r\n")) {
			fprintf(stderr, "bottlefs: --git-url must be an http(s) URL (was '%s')\n",
				u);
			return -1;
		}
		p->git_url = str_dup(u);
	} else if (strcmp(o->forge, "github") == 0) {
		if (github_derive_urls(o->forge_url, &p->git_url, &gql, err) < 0) {
			fprintf(stderr, "bottlefs: cannot use forge '%s': %s\n", o->forge_url,
				buf_cstr(err));
			return -1;
		}
		free(gql);
	} else {
		p->git_url = str_dup(o->forge_url);
	}
	if (!p->git_url) {
		fprintf(stderr, "bottlefs: out of memory\n");
		return -1;
	}
	return 0;
}

/* The token (BOTTLEFS_TOKEN or --token-file), into the adapter, then wiped. */
static int open_forge(const struct options *o, struct parts *p, struct buf *err)
{
	struct gitea_options go = {0};
	struct github_options hub = {0};
	char *token = token_from_env();

	if (o->token_file) {
		if (token) {
			str_wipe(token, strlen(token));
			free(token);
			token = NULL;
		}
		if (token_from_file(o->token_file, &token) < 0)
			return -1;
	}
	/*
	 * The daemon's own bare mirrors (repo.bundle, pushing): local even
	 * when the state lives elsewhere, never a directory the agent writes.
	 */
	p->mirror_path = o->mirror_dir ? absolute(o->mirror_dir) : dir_default("mirrors");
	if (!p->mirror_path || dir_make(p->mirror_path, 0700) < 0) {
		fprintf(stderr, "bottlefs: cannot make the mirror directory '%s'\n",
			p->mirror_path ? p->mirror_path : "?");
		goto fail;
	}
	if (git_root(o, p, err) < 0)
		goto fail;
	/*
	 * One answer larger than max_body is refused (EIO; a diff shows a
	 * one-line notice instead): nothing a forge sends may inflate the
	 * daemon without bound (SEMANTICS.md). It sits far above what a write
	 * may hold, so what was written can always be read back.
	 */
	if (strcmp(o->forge, "github") == 0) {
		hub.api_url = o->forge_url;
		hub.token = token;
		hub.timeout_ms = (unsigned)(o->timeout_s * 1000);
		hub.max_body = (size_t)o->max_answer;
		hub.mirror_dir = p->mirror_path;
		hub.git_url = p->git_url;
		hub.mirror_max = (size_t)o->mirror_max;
		p->forge = github_new(&hub, err);
	} else {
		go.base_url = o->forge_url;
		go.token = token;
		go.timeout_ms = (unsigned)(o->timeout_s * 1000);
		go.max_body = (size_t)o->max_answer;
		go.mirror_dir = p->mirror_path;
		go.git_url = p->git_url;
		go.mirror_max = (size_t)o->mirror_max;
		/* --forge git: a bare git remote, branches and repo.bundle only (forge/git/git.h).
		 */
		p->forge =
		    strcmp(o->forge, "git") == 0 ? git_forge_new(&go, err) : gitea_new(&go, err);
	}
fail:
	if (token) {
		str_wipe(token, strlen(token));
		free(token);
	}
	if (!p->forge) {
		if (p->mirror_path && p->git_url)
			fprintf(stderr, "bottlefs: cannot use forge '%s': %s\n", o->forge_url,
				buf_cstr(err));
		return -1;
	}
	return 0;
}

/* A URL is kept as given (it may hold a password: never printed); a path made absolute. */
static char *url_or_path(const char *v, const char *dflt)
{
	if (!v)
		return dir_default(dflt);
	return state_url_is_pg(v) ? strdup(v) : absolute(v);
}

/*
 * The state store (a path: SQLite, the cache in the same file, as ever;
 * a postgresql:// URL: the durable records there and the content cache
 * in a local SQLite file, --cache), the queue (a directory or a URL) and,
 * on a shared store, the assignment's lease.
 */
static int open_stores(const struct options *o, struct parts *p, struct buf *err)
{
	unsigned timeout_ms = (unsigned)(o->timeout_s * 1000);
	bool shared = state_url_is_pg(o->state);

	p->state_path = url_or_path(o->state, "bot-bottle.db");
	p->queue_path = url_or_path(o->queue, "queue");
	p->cache_path = o->cache || shared ? url_or_path(o->cache, "bot-bottle.db") : NULL;
	if (!p->state_path || !p->queue_path || ((o->cache || shared) && !p->cache_path)) {
		fprintf(stderr, "bottlefs: out of memory\n");
		return -1;
	}
	if (state_open_url(p->state_path, timeout_ms, &p->state, err) < 0) {
		fprintf(stderr, "bottlefs: cannot open the state store '%s': %s\n",
			shared ? "postgresql://..." : p->state_path, buf_cstr(err));
		return -1;
	}
	if (p->cache_path && state_url_is_pg(p->cache_path)) {
		fprintf(stderr,
			"bottlefs: --cache must be a file (the cache stays on this machine)\n");
		return -1;
	}
	if (p->cache_path && state_open(p->cache_path, &p->local, err) < 0) {
		fprintf(stderr, "bottlefs: cannot open the cache '%s': %s\n", p->cache_path,
			buf_cstr(err));
		return -1;
	}
	if (state_url_is_pg(p->queue_path) &&
	    state_open_url(p->queue_path, timeout_ms, &p->queue, err) < 0) {
		fprintf(stderr, "bottlefs: cannot open the queue 'postgresql://...': %s\n",
			buf_cstr(err));
		return -1;
	}
	if (shared && p->scope.assigned) {
		struct lease_options lo = {.state = p->state,
					   .scope = &p->scope,
					   .ttl_s = (unsigned)o->lease_s,
					   .log = p->log};

		if (lease_new(&lo, &p->lease, err) < 0) {
			fprintf(stderr, "bottlefs: %s\n", buf_cstr(err));
			return -1;
		}
	}
	return 0;
}

/* The bottles, the scope, the state store, the cache and the outcome log. */
static int open_parts(const struct options *o, struct parts *p, struct buf *err)
{
	struct cache_options co = {0};

	if (o->bottles && !(p->bottles_path = absolute(o->bottles)))
		return -1;
	if (p->bottles_path && manifest_cache_new(p->bottles_path, NULL, &p->bottles) < 0) {
		fprintf(stderr, "bottlefs: out of memory\n");
		return -1;
	}
	if (o->assign && scope_assign(&p->scope, o->assign, err) < 0) {
		fprintf(stderr, "bottlefs: %s\n", buf_cstr(err));
		return -1;
	}
	for (size_t i = 0; i < o->n_push_branches; i++)
		if (scope_add_push_glob(&p->scope, o->push_branches[i], err) < 0) {
			fprintf(stderr, "bottlefs: %s\n", buf_cstr(err));
			return -1;
		}
	/* The write outcomes /.bottlefs/log shows (the lease logs there too). */
	if (wlog_new(&p->log) < 0) {
		fprintf(stderr, "bottlefs: out of memory\n");
		return -1;
	}
	if (open_stores(o, p, err) < 0)
		return -1;
	co.forge = p->forge;
	co.ttl_ms = (int64_t)o->cache_ttl_s * 1000;
	co.max_bytes = (size_t)(o->cache_memory_mib << 20);
	co.state = p->local ? p->local : p->state;
	if (cache_new(&co, &p->cache) < 0) {
		fprintf(stderr, "bottlefs: out of memory\n");
		return -1;
	}
	return 0;
}

/* The tree over the parts, and the writes a previous run left unanswered finished once. */
static int open_tree(const struct options *o, struct parts *p, struct mount *m, struct buf *err)
{
	struct tree_options to = {0};
	int r;

	to.cache = p->cache;
	to.bottles = p->bottles;
	to.write.forge = p->forge;
	to.write.state = p->state;
	to.write.scope = &p->scope;
	to.write.queue_dir = p->queue_path;
	to.write.queue_state = p->queue;
	to.write.log = p->log;
	to.write.max_prs = (unsigned)o->max_prs;
	/* Bundles being pushed are spooled beside the mirrors: the daemon's, 0700. */
	{
		struct buf sp = BUF_INIT(8192);

		if (buf_printf(&sp, "%s/.spool", p->mirror_path) < 0) {
			buf_release(&sp);
			fprintf(stderr, "bottlefs: out of memory\n");
			return -1;
		}
		p->spool_path = buf_steal(&sp, NULL);
	}
	to.write.spool_dir = p->spool_path;
	to.write.push_max = o->push_max;
	to.write.push_max_object = o->push_max_object;
	/* A push has --timeout, or the larger --push-timeout (at least 60 s). */
	{
		uint64_t push_s =
		    o->push_timeout_s > o->timeout_s ? o->push_timeout_s : o->timeout_s;

		if (!o->push_timeout_s && push_s < 60)
			push_s = 60;
		to.write.push_timeout_ms = (unsigned)(push_s * 1000);
	}
	to.git_timeout_ms = (unsigned)(o->timeout_s * 1000);
	to.write_memory = (size_t)(o->write_memory_mib << 20);
	to.read_memory = (size_t)(o->read_memory_mib << 20);
	to.sent = ops_sent;
	to.sent_ud = m;
	if (tree_new(&to, &m->tree, err) < 0) {
		fprintf(stderr, "bottlefs: %s\n", buf_cstr(err));
		return -1;
	}
	buf_reset(err);
	r = tree_recover(m->tree, err);
	if (r > 0)
		fprintf(stderr, "bottlefs: finished %d write(s) left by a previous run\n", r);
	if (err->len) {
		/* The reasons quote the forge and the journal: escaped like every log line. */
		struct buf line = BUF_INIT(0);

		/* What fits of the reasons is shown; they are for a person. */
		(void)!str_escape_log(&line, err->data, err->len);
		fprintf(stderr, "bottlefs: writes still unfinished (forge unreachable): %s\n",
			buf_cstr(&line));
		buf_release(&line);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fuse_args fargs = FUSE_ARGS_INIT(0, NULL);
	struct options o = {0};
	struct buf err = BUF_INIT(4096);
	struct parts p = {0};
	struct mount m = {0};
	int r;

	scope_init(&p.scope);
	ratelimit_init(&m.log_limit, 10000, 5.0, 20.0);
	r = parse_args(argc, argv, &o, &fargs);
	if (r != 0) {
		if (r < 0)
			usage_hint();
		r = r < 0 ? 1 : 0;
		goto out;
	}
	r = 1;
	/* Nobody else may read the token out of this process's memory. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (open_forge(&o, &p, &err) < 0 || open_parts(&o, &p, &err) < 0 ||
	    open_tree(&o, &p, &m, &err) < 0)
		goto out;
	m.kernel_ttl_s = o.kernel_ttl_s;
	m.debug = o.debug;
	r = serve(&fargs, &m, p.lease);
out:
	tree_free(m.tree);
	parts_release(&p);
	ratelimit_release(&m.log_limit);
	fuse_opt_free_args(&fargs);
	buf_release(&err);
	return r;
}
