#include "write/queue.h"
#include "util/jsontext.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/dir.h"
#include "util/str.h"

#define NAME_PART_MAX 64
#define ITEM_MAX BUF_MAX_DEFAULT

/* 16 hex digits from the kernel's random source. */
static int random_hex(char out[17])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[8];
	size_t got = 0;
	ssize_t n;
	int i;

	while (got < sizeof(b)) {
		n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	for (i = 0; i < 8; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[16] = '\0';
	return 0;
}

static int name_part(struct buf *b, const char *s)
{
	size_t i;
	int r = 0;

	for (i = 0; s[i] && i < NAME_PART_MAX && r == 0; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		r = buf_putc(b, ok ? c : '_');
	}
	return r;
}

static int write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The item as pretty JSON ending "\n". New. */
static char *item_json(const struct queue_item *it, const char *when)
{
	json_t *j, *prs;
	char *text;
	size_t i;

	prs = json_array();
	for (i = 0; prs && i < it->n_prs; i++) {
		if (json_array_append_new(prs, json_integer((json_int_t)it->prs[i])) < 0) {
			json_decref(prs);
			prs = NULL;
		}
	}
	if (!prs)
		return NULL;
	j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:o}", "owner", it->owner, "repo", it->repo,
		      "issue", (json_int_t)it->issue, "status", done_status_name(it->sig->status),
		      "summary", it->sig->summary ? it->sig->summary : "", "time", when,
		      "pull_requests", prs);
	if (!j)
		return NULL;
	text = jsontext_pretty(j);
	json_decref(j);
	return text;
}

/* Renames without replacing; falls back to link+unlink where RENAME_NOREPLACE is unknown. */
static int rename_noreplace(int dfd, const char *from, const char *to)
{
	if (renameat2(dfd, from, dfd, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (linkat(dfd, from, dfd, to, 0) < 0)
		return -errno;
	unlinkat(dfd, from, 0);
	return 0;
}

int queue_write(const char *dir, const struct queue_item *item, char **name, struct buf *err)
{
	struct buf fname = BUF_INIT(1024);
	char when[32], stamp[32], rnd[17], tmp[32];
	const char *what = "write to";
	char *text = NULL;
	int dfd = -1, fd = -1, r;
	bool tmp_made = false;
	struct tm tm;
	time_t t;

	if (!dir || !*dir || !item || !item->owner || !*item->owner || !item->repo ||
	    !*item->repo || item->issue == 0 || item->issue > INT64_MAX || !item->sig ||
	    (item->n_prs && !item->prs) || (unsigned)item->sig->status > DONE_BLOCKED) {
		if (err)
			buf_puts(err,
				 "queue: incomplete item (owner, repo, issue and signal needed)");
		return -EINVAL;
	}
	t = (time_t)item->time;
	if (item->time < 0 || item->time > 253402300799 || !gmtime_r(&t, &tm)) {
		if (err)
			buf_printf(err, "queue: time %" PRId64 " is out of range", item->time);
		return -EINVAL;
	}
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);

	text = item_json(item, when);
	if (!text) {
		r = -ENOMEM;
		if (err)
			buf_puts(
			    err,
			    "queue: cannot encode the item (summary not UTF-8, or out of memory)");
		goto out_quiet;
	}
	what = "create";
	r = dir_make(dir, 0700);
	if (r < 0)
		goto out;
	what = "open";
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		goto out;
	}
	what = "write to";
	r = random_hex(rnd);
	if (r < 0)
		goto out;
	snprintf(tmp, sizeof(tmp), ".tmp-%s", rnd);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	tmp_made = true;
	r = write_all(fd, text, strlen(text));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	fd = -1;
	if (r < 0)
		goto out;

	r = buf_printf(&fname, "%s-", stamp);
	if (r == 0)
		r = name_part(&fname, item->owner);
	if (r == 0)
		r = buf_putc(&fname, '-');
	if (r == 0)
		r = name_part(&fname, item->repo);
	if (r == 0)
		r = buf_printf(&fname, "-%" PRIu64 "-%s.json", item->issue, rnd);
	if (r < 0)
		goto out;
	r = rename_noreplace(dfd, tmp, buf_cstr(&fname));
	if (r < 0)
		goto out;
	tmp_made = false;
	/* The rename is durable only once the directory itself is on disk. */
	if (fsync(dfd) < 0) {
		r = -errno;
		goto out;
	}
	if (name) {
		*name = buf_steal(&fname, NULL);
		if (!*name)
			r = -ENOMEM;
	}
out:
	if (r < 0 && err)
		buf_printf(err, "queue: cannot %s '%s': %s", what, dir, strerror(-r));
out_quiet:
	if (fd >= 0)
		close(fd);
	if (tmp_made)
		unlinkat(dfd, tmp, 0);
	if (dfd >= 0)
		close(dfd);
	free(text);
	buf_release(&fname);
	return r;
}

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
		if (random_hex(rnd) < 0 ||
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
			buf_printf(&bad, ".bad-%s", v[i].name);
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

int queue_cli(int argc, char **argv, FILE *out, FILE *errf)
{
	const char *dir;
	int dfd, r;
	bool take;

	if (argc == 2 && (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs("usage: bottlefs queue list DIR\n       bottlefs queue take DIR\n", out);
		return 0;
	}
	if (argc != 3 || (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "take") != 0)) {
		fputs("usage: bottlefs queue list DIR\n       bottlefs queue take DIR\n", errf);
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
