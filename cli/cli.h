/*
 * cli: the subcommands of `bottlefs` that need no mount, and the front
 * that runs them: `bottlefs resolve`, `bottlefs state`, `bottlefs queue`
 * (main.c). Anything else, a mount, is the daemon's (bottlefs-mount, in
 * fs/), which the front executes.
 *
 * Each subcommand prints results to out and errors to errf ("state: ...",
 * "queue: ...") and returns the exit code: 0 ok, 1 error, 2 usage. No
 * shared state: call from any thread, one call at a time per stream.
 */
#ifndef BOTTLEFS_CLI_CLI_H
#define BOTTLEFS_CLI_CLI_H

#include <stdio.h>

/*
 * `bottlefs state ...`: argv[0] is "state". Exit 1 for a missing record,
 * bad input or a database failure.
 *   list                              owner/repo#issue<TAB>compact JSON, a line each
 *   get OWNER REPO ISSUE              the record as compact JSON
 *   set OWNER REPO ISSUE JSON|-       - reads the JSON from stdin (at most 16 MiB)
 *   delete OWNER REPO ISSUE
 *   prs OWNER REPO ISSUE              pull request numbers, a line each
 *   provenance                        one compact JSON object a line
 *                                     {id, time (RFC 3339 UTC), what, where, answer}
 *   journal [--unfinished]            one compact JSON object a line (every field)
 *   help                              usage on out, exit 0
 */
int state_cli(int argc, char **argv, const char *db_path, FILE *out, FILE *errf);
/* state_cli with an explicit input stream for `set ... -` (tests use it). */
int state_cli_io(int argc, char **argv, const char *db_path, FILE *in, FILE *out, FILE *errf);

/*
 * `bottlefs queue list DIR`: each ready item "name<TAB>compact JSON", oldest
 * first (a missing DIR is an empty queue).
 * `bottlefs queue take DIR`: prints the oldest item as compact JSON and
 * removes it; exit 1 with "queue: queue empty" on errf when there is none.
 * argv[0] is "queue".
 */
int queue_cli(int argc, char **argv, FILE *out, FILE *errf);

#endif
