/*
 * main: `bottlefs`, the command a user runs. It answers --help, --version
 * and the subcommands that need no mount itself (resolve, state, queue:
 * cli.h), linking only cli/, write/, state/, manifest/ and util/ (jansson,
 * libyaml, SQLite), so `bottlefs resolve` starts in a few milliseconds.
 * Anything else is a mount: it executes the daemon, bottlefs-mount, with
 * the same arguments and environment (the daemon reads and wipes
 * BOTTLEFS_TOKEN; this program never reads the token).
 *
 * The daemon is looked for beside this program first (/proc/self/exe: the
 * build directory keeps both together), then where meson installs it
 * (BOTTLEFS_LIBEXECDIR); never on PATH.
 */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "manifest/manifest.h"
#include "util/buf.h"
#include "util/dir.h"
#include "util/str.h"

#define DAEMON "bottlefs-mount"

static void usage(FILE *f)
{
	fprintf(f, "usage: bottlefs --forge-url URL [--token-file PATH] [--assign OWNER/REPO#N]\n"
		   "                [--forge gitea|github|git] [--git-url URL]\n"
		   "                [--bottles DIR] [--state DB|URL] [--queue DIR|URL]\n"
		   "                [--cache PATH] [--lease S] [--cache-ttl S]\n"
		   "                [--timeout S] [--kernel-ttl S] [--write-memory MIB]\n"
		   "                [--read-memory MIB] [--cache-memory MIB] [--max-prs N]\n"
		   "                [--max-answer SIZE] [--mirror-dir DIR] [--mirror-max N]\n"
		   "                [--push-branches GLOB] [--push-max SIZE]\n"
		   "                [--push-max-object SIZE] [--push-timeout S]\n"
		   "                [-f] [-d] [-o OPT,...] MOUNTPOINT\n"
		   "       bottlefs resolve DIR NAME\n"
		   "       bottlefs state list|get|set|delete|prs|provenance|journal ...\n"
		   "                [--state DB|URL]\n"
		   "       bottlefs queue list|take|wait DIR|URL [--loop] [--timeout S]\n"
		   "URL: postgresql://USER@HOST/DB, a state store and queue many machines share.\n"
		   "       bottlefs --help | --version\n"
		   "The token comes from --token-file (mode 0600) or BOTTLEFS_TOKEN, never an "
		   "argument. See bottlefs(1).\n");
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

		if ((v = str_arg_value(argc, argv, &i, "--state"))) {
			free(db);
			db = strdup(v);
		} else {
			args[n++] = argv[i];
		}
	}
	if (!db)
		db = dir_default("bot-bottle.db");
	r = db ? state_cli(n, args, db, stdout, stderr) : 1;
	free(db);
	free(args);
	return r;
}

/* `bottlefs resolve DIR NAME`: one resolved bottle, or why not (exit 1). */
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

/* The daemon beside this program ("" when it cannot be told where this program is). */
static void beside_self(char *out, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	out[0] = '\0';
	if (n <= 0)
		return;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return;
	slash[1] = '\0';
	if ((size_t)snprintf(out, size, "%s%s", self, DAEMON) >= size)
		out[0] = '\0';
}

/* Executes the daemon with argv and the environment as they are; returns only on failure. */
static int exec_daemon(char **argv)
{
	char beside[PATH_MAX];
	const char *path = BOTTLEFS_LIBEXECDIR "/" DAEMON;

	beside_self(beside, sizeof(beside));
	if (beside[0] && access(beside, X_OK) == 0)
		path = beside;
	execv(path, argv);
	fprintf(stderr, "bottlefs: cannot start the daemon '%s': %s\n", path, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	int i;

	if (argc >= 2 && strcmp(argv[1], "resolve") == 0)
		return cmd_resolve(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "state") == 0)
		return cmd_state(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "queue") == 0)
		return queue_cli(argc - 1, argv + 1, stdout, stderr);
	for (i = 1; i < argc; i++) {
		if (i > 1 && strcmp(argv[i - 1], "-o") == 0)
			continue; /* a FUSE option's value */
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0) {
			printf("bottlefs %s\n", BOTTLEFS_VERSION);
			return 0;
		}
	}
	return exec_daemon(argv);
}
