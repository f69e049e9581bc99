/*
 * queue: `bottlefs queue list|take DIR`, the orchestrator's side of the
 * queue directory the daemon writes done signals into (write.h describes
 * the directory).
 *
 * Readers ignore every name that starts with '.' or does not end in ".json".
 * Order is oldest first: by the time in the name, then by the file's mtime,
 * then by name. Taking renames the item to ".claimed-<random>-<name>" first,
 * so two takers never get the same item; a taker that dies between the
 * claim and the unlink leaves the hidden claimed file for a person to look
 * at. A file that is not valid JSON is renamed to ".bad-<name>" with a
 * warning and skipped. Concurrent takers (threads or processes) are safe
 * through the file system's atomic renames.
 */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "state/state.h"
#include "util/buf.h"
#include "util/str.h"
#include "util/time.h"

#define ITEM_MAX BUF_MAX_DEFAULT

/* What follows the queue: --timeout for wait, --loop for take. */
struct queue_args {
	unsigned timeout_ms; /* 0: no bound */
	bool loop;
};

struct entry {
	char *name;
	struct timespec mtime;
};

static bool ready_name(const char *n)
{
	size_t len = strlen(n);

	return n[0] != '.' && len > 5 && strcmp(n + len - 5, ".json") == 0;
}

/* Oldest first: time stamp in the name (up to the first '-'), then mtime, then name. */
static int entry_cmp(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	size_t la = strcspn(a->name, "-"), lb = strcspn(b->name, "-");
	int c = memcmp(a->name, b->name, la < lb ? la : lb);

	if (c == 0 && la != lb)
		c = la < lb ? -1 : 1;
	if (c != 0)
		return c;
	if (a->mtime.tv_sec != b->mtime.tv_sec)
		return a->mtime.tv_sec < b->mtime.tv_sec ? -1 : 1;
	if (a->mtime.tv_nsec != b->mtime.tv_nsec)
		return a->mtime.tv_nsec < b->mtime.tv_nsec ? -1 : 1;
	return strcmp(a->name, b->name);
}

static void entries_free(struct entry *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* The ready items of dfd, sorted oldest first. New array. */
static int scan(int dfd, struct entry **out, size_t *count)
{
	struct entry *v = NULL, *nv;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd, r = 0;

	fd = dup(dfd);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!ready_name(de->d_name))
			continue;
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
			continue; /* taken meanwhile, or not ours */
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		v[n].name = str_dup(de->d_name);
		if (!v[n].name) {
			r = -ENOMEM;
			goto out;
		}
		v[n].mtime = sb.st_mtim;
		n++;
	}
	if (errno != 0)
		r = -errno;
out:
	closedir(d);
	if (r < 0) {
		entries_free(v, n);
		return r;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), entry_cmp);
	*out = v;
	*count = n;
	return 0;
}

/* Reads a whole file relative to dfd. New string in *out. */
static int read_file_at(int dfd, const char *name, char **out, size_t *len)
{
	struct buf b = BUF_INIT(ITEM_MAX);
	char chunk[8192];
	ssize_t n;
	int fd, r = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		r = buf_append(&b, chunk, (size_t)n);
		if (r < 0)
			break;
	}
	close(fd);
	if (r == 0) {
		*out = buf_steal(&b, len);
		if (!*out)
			r = -ENOMEM;
	}
	buf_release(&b);
	return r;
}

/* Compact JSON for a file's content; NULL when it is not one JSON object. New. */
static char *compact(const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	char *s = NULL;

	if (j && json_is_object(j))
		s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return s;
}

static int cmd_list(int dfd, FILE *out, FILE *errf)
{
	struct entry *v = NULL;
	size_t n = 0, i, len;
	char *text, *line;
	int r;

	r = scan(dfd, &v, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n; i++) {
		r = read_file_at(dfd, v[i].name, &text, &len);
		if (r == -ENOENT)
			continue; /* taken between the scan and now */
		if (r < 0) {
			fprintf(errf, "queue: cannot read '%s': %s\n", v[i].name, strerror(-r));
			continue;
		}
		line = compact(text, len);
		if (line)
			fprintf(out, "%s\t%s\n", v[i].name, line);
		else
			fprintf(errf, "queue: skipping '%s': not a JSON object\n", v[i].name);
		free(line);
		free(text);
	}
	entries_free(v, n);
	return 0;
}

/*
 * Claims the oldest item by renaming it to a hidden name of our own; a
 * rename that fails with ENOENT means another taker won that item, so we
 * move on to the next. Returns 1 when the queue is empty.
 */
static int cmd_take(int dfd, FILE *out, FILE *errf)
{
	struct buf claimed = BUF_INIT(1024), bad = BUF_INIT(1024);
	struct entry *v = NULL;
	size_t n = 0, i, len;
	char rnd[17], *text = NULL, *line = NULL;
	int r;

	r = scan(dfd, &v, &n);
	if (r < 0)
		goto out;
	r = 1;
	for (i = 0; i < n; i++) {
		buf_reset(&claimed);
		if (str_random_hex(rnd) < 0 ||
		    buf_printf(&claimed, ".claimed-%s-%s", rnd, v[i].name) < 0) {
			r = -EIO;
			goto out;
		}
		if (renameat(dfd, v[i].name, dfd, buf_cstr(&claimed)) < 0) {
			if (errno == ENOENT)
				continue;
			r = -errno;
			goto out;
		}
		r = read_file_at(dfd, buf_cstr(&claimed), &text, &len);
		if (r < 0) {
			renameat(dfd, buf_cstr(&claimed), dfd, v[i].name);
			goto out;
		}
		line = compact(text, len);
		free(text);
		text = NULL;
		if (!line) {
			buf_reset(&bad);
			if (buf_printf(&bad, ".bad-%s", v[i].name) < 0) {
				r = -ENOMEM;
				goto out;
			}
			renameat(dfd, buf_cstr(&claimed), dfd, buf_cstr(&bad));
			fprintf(errf, "queue: set aside '%s' as '%s': not a JSON object\n",
				v[i].name, buf_cstr(&bad));
			r = 1;
			continue;
		}
		/* Print before unlinking: output that cannot be written puts the item back. */
		fprintf(out, "%s\n", line);
		if (fflush(out) != 0 || ferror(out)) {
			r = -EIO;
			renameat(dfd, buf_cstr(&claimed), dfd, v[i].name);
			goto out;
		}
		unlinkat(dfd, buf_cstr(&claimed), 0);
		fsync(dfd);
		r = 0;
		goto out;
	}
out:
	free(line);
	free(text);
	entries_free(v, n);
	buf_release(&claimed);
	buf_release(&bad);
	return r;
}

/* ---- a queue in a shared state store (postgresql://...) ---- */

static int pg_list_cb(void *ud, int64_t id, const char *body)
{
	char *line = compact(body, strlen(body));

	fprintf(ud, "%lld\t%s\n", (long long)id, line ? line : body);
	free(line);
	return 0;
}

/* One signal, printed as compact JSON; 1 when the queue is empty. */
static int pg_take_one(struct state *st, FILE *out)
{
	char *body = NULL, *line;
	int64_t id;
	int r = state_queue_take(st, &id, &body);

	if (r == -ENOENT)
		return 1;
	if (r < 0)
		return r;
	line = compact(body, strlen(body));
	fprintf(out, "%s\n", line ? line : body);
	free(line);
	free(body);
	return fflush(out) != 0 ? -EIO : 0;
}

static int pg_queue(const char *cmd, const char *url, const struct queue_args *a, FILE *out,
		    FILE *errf)
{
	struct buf err = BUF_INIT(4096);
	struct state *st = NULL;
	int r;

	/* wait is bounded by its own --timeout; each statement by 10 s. */
	r = state_open_url(url, 10000, &st, &err);
	if (r < 0) {
		fprintf(errf, "queue: %s\n", buf_cstr(&err));
		buf_release(&err);
		return 1;
	}
	if (strcmp(cmd, "list") == 0) {
		r = state_queue_each(st, pg_list_cb, out);
	} else if (strcmp(cmd, "wait") == 0) {
		r = state_queue_wait(st, a->timeout_ms);
		if (r == -ETIMEDOUT)
			fputs("queue: no signal before the timeout\n", errf);
		r = r == -ETIMEDOUT ? 1 : r;
	} else {
		r = pg_take_one(st, out);
		/* --loop: every signal there is, over this one connection. */
		while (a->loop && r == 0)
			r = pg_take_one(st, out);
		if (a->loop && r == 1)
			r = 0;
		else if (r == 1)
			fputs("queue: queue empty\n", errf);
	}
	if (r < 0)
		fprintf(errf, "queue: cannot %s the state database's queue: %s\n", cmd,
			strerror(-r));
	state_free(st);
	buf_release(&err);
	return r == 0 ? 0 : 1;
}

/* ---- wait on a directory: inotify, then a look ---- */

static bool dir_has_ready(int dfd)
{
	struct entry *v = NULL;
	size_t n = 0;

	if (scan(dfd, &v, &n) < 0)
		return false;
	entries_free(v, n);
	return n > 0;
}

static int dir_wait(const char *dir, unsigned timeout_ms, FILE *errf)
{
	int64_t deadline = time_mono_ms() + (timeout_ms ? timeout_ms : 0);
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), dfd, r = 1;
	char ev[4096];

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || dfd < 0 ||
	    inotify_add_watch(fd, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE) < 0) {
		fprintf(errf, "queue: cannot watch '%s': %s\n", dir, strerror(errno));
		goto out;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = timeout_ms ? deadline - time_mono_ms() : 1000;

		if (dir_has_ready(dfd)) {
			r = 0;
			break;
		}
		if (left <= 0) {
			fputs("queue: no signal before the timeout\n", errf);
			break;
		}
		if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) > 0)
			while (read(fd, ev, sizeof(ev)) > 0)
				;
	}
out:
	if (dfd >= 0)
		close(dfd);
	if (fd >= 0)
		close(fd);
	return r;
}

static const char queue_usage[] = "usage: bottlefs queue list DIR|URL\n"
				  "       bottlefs queue take DIR|URL [--loop]\n"
				  "       bottlefs queue wait DIR|URL [--timeout S]\n";

/* argv[3..]: --timeout S, --loop. 0, or -1 after saying why. */
static int parse_queue_args(int argc, char **argv, struct queue_args *a, FILE *errf)
{
	uint64_t s;
	int i;

	for (i = 3; i < argc; i++) {
		const char *v;

		if ((v = str_arg_value(argc, argv, &i, "--timeout"))) {
			if (str_to_u64(v, 86400 * 365, false, &s) < 0) {
				fprintf(errf,
					"queue: --timeout must be a whole number of seconds "
					"(was '%s')\n",
					v);
				return -1;
			}
			a->timeout_ms = (unsigned)(s * 1000);
		} else if (strcmp(argv[i], "--loop") == 0) {
			a->loop = true;
		} else {
			fprintf(errf, "queue: unknown argument '%s'\n", argv[i]);
			return -1;
		}
	}
	return 0;
}

int queue_cli(int argc, char **argv, FILE *out, FILE *errf)
{
	struct queue_args a = {0};
	const char *dir;
	int dfd, r;
	bool take;

	if (argc == 2 && (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(queue_usage, out);
		return 0;
	}
	if (argc < 3 || (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "take") != 0 &&
			 strcmp(argv[1], "wait") != 0)) {
		fputs(queue_usage, errf);
		return 2;
	}
	if (parse_queue_args(argc, argv, &a, errf) < 0 ||
	    (a.loop && strcmp(argv[1], "take") != 0) ||
	    (a.timeout_ms && strcmp(argv[1], "wait") != 0)) {
		fputs(queue_usage, errf);
		return 2;
	}
	if (state_url_is_pg(argv[2]))
		return pg_queue(argv[1], argv[2], &a, out, errf);
	if (strcmp(argv[1], "wait") == 0)
		return dir_wait(argv[2], a.timeout_ms, errf);
	if (a.loop) {
		fputs("queue: --loop needs a postgresql:// queue\n", errf);
		return 2;
	}
	take = strcmp(argv[1], "take") == 0;
	dir = argv[2];
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT) {
		if (!take)
			return 0;
		fputs("queue: queue empty\n", errf);
		return 1;
	}
	if (dfd < 0) {
		fprintf(errf, "queue: cannot open '%s': %s\n", dir, strerror(errno));
		return 1;
	}
	r = take ? cmd_take(dfd, out, errf) : cmd_list(dfd, out, errf);
	close(dfd);
	if (r == 1) {
		fputs("queue: queue empty\n", errf);
		return 1;
	}
	if (r < 0) {
		fprintf(errf, "queue: cannot %s '%s': %s\n", argv[1], dir, strerror(-r));
		return 1;
	}
	if (fflush(out) != 0) {
		fprintf(errf, "queue: cannot write output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}
