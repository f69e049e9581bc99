/*
 * queue: writing a done signal into the orchestrator's queue directory
 * (queue.h; cli/queue.c reads and takes them).
 */
#include "write/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/dir.h"
#include "util/jsontext.h"
#include "util/str.h"

#define NAME_PART_MAX 64

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

/* Times of an item: "when" (RFC 3339) for the JSON, "stamp" for the file name. */
static int item_times(const struct queue_item *item, char when[32], char stamp[32], struct buf *err)
{
	time_t t = (time_t)item->time;
	struct tm tm;

	if (!item->owner || !*item->owner || !item->repo || !*item->repo || item->issue == 0 ||
	    item->issue > INT64_MAX || !item->sig || (item->n_prs && !item->prs) ||
	    (unsigned)item->sig->status > DONE_BLOCKED)
		return buf_fail(err, -EINVAL,
				"queue: incomplete item (owner, repo, issue and signal needed)");
	if (item->time < 0 || item->time > 253402300799 || !gmtime_r(&t, &tm))
		return buf_fail(err, -EINVAL, "queue: time %" PRId64 " is out of range",
				item->time);
	strftime(when, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	strftime(stamp, 32, "%Y%m%dT%H%M%SZ", &tm);
	return 0;
}

/* text into dfd/.tmp-<rnd>, fsynced and closed; *made says whether the file exists. */
static int write_temp(int dfd, const char *tmp, const char *text, bool *made)
{
	int fd, r;

	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	*made = true;
	r = write_all(fd, text, strlen(text));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

/* "<stamp>-<owner>-<repo>-<issue>-<rnd>.json", owner and repo made safe for a file name. */
static int final_name(struct buf *b, const char *stamp, const struct queue_item *item,
		      const char *rnd)
{
	int r = buf_printf(b, "%s-", stamp);

	if (r == 0)
		r = name_part(b, item->owner);
	if (r == 0)
		r = buf_putc(b, '-');
	if (r == 0)
		r = name_part(b, item->repo);
	if (r == 0)
		r = buf_printf(b, "-%" PRIu64 "-%s.json", item->issue, rnd);
	return r;
}

/* The temporary file under its final name, durably: the rename, then the directory fsynced. */
static int publish(int dfd, const char *tmp, const char *name)
{
	int r = rename_noreplace(dfd, tmp, name);

	if (r == 0 && fsync(dfd) < 0)
		r = -errno;
	return r;
}

int queue_push(struct state *st, const struct queue_item *item, char **name, struct buf *err)
{
	struct buf b = BUF_INIT(64);
	char when[32], stamp[32], *text;
	int64_t id = 0;
	int r;

	r = item_times(item, when, stamp, err);
	if (r < 0)
		return r;
	text = item_json(item, when);
	if (!text)
		return -ENOMEM;
	r = state_queue_push(st, item->owner, item->repo, item->issue, text, &id);
	free(text);
	if (r < 0)
		return buf_fail(err, r, "queue: cannot queue the signal in the state database: %s",
				strerror(-r));
	if (name) {
		r = buf_printf(&b, "signal %" PRId64, id);
		*name = r == 0 ? buf_steal(&b, NULL) : NULL;
	}
	buf_release(&b);
	return 0;
}

int queue_write(const char *dir, const struct queue_item *item, char **name, struct buf *err)
{
	struct buf fname = BUF_INIT(1024);
	char when[32], stamp[32], rnd[17], tmp[32];
	const char *what = "create";
	bool tmp_made = false;
	char *text = NULL;
	int dfd = -1, r;

	if (!dir || !*dir || !item)
		return buf_fail(err, -EINVAL,
				"queue: incomplete item (owner, repo, issue and signal needed)");
	r = item_times(item, when, stamp, err);
	if (r < 0)
		return r;
	text = item_json(item, when);
	if (!text)
		return buf_fail(
		    err, -ENOMEM,
		    "queue: cannot encode the item (summary not UTF-8, or out of memory)");
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
	r = str_random_hex(rnd);
	if (r == 0) {
		snprintf(tmp, sizeof(tmp), ".tmp-%s", rnd);
		r = write_temp(dfd, tmp, text, &tmp_made);
	}
	if (r == 0)
		r = final_name(&fname, stamp, item, rnd);
	if (r == 0)
		r = publish(dfd, tmp, buf_cstr(&fname));
	if (r < 0)
		goto out;
	tmp_made = false;
	if (name) {
		*name = buf_steal(&fname, NULL);
		if (!*name)
			r = -ENOMEM;
	}
out:
	if (r < 0 && err)
		buf_note(err, "queue: cannot %s '%s': %s", what, dir, strerror(-r));
	if (tmp_made)
		unlinkat(dfd, tmp, 0);
	if (dfd >= 0)
		close(dfd);
	free(text);
	buf_release(&fname);
	return r;
}
