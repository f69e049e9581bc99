/*
 * signal: the done signal (write.h): a /done write or its recovery puts it
 * in the orchestrator's queue (queue.c) and makes it the one that stands,
 * kept in the state store, so /done reads as it and refuses another.
 */
#include "write/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int signal_queue(struct write *w, const struct done_signal *sig, char **text, char **name,
		 char **note, struct buf *err)
{
	struct scope *s = w->opt.scope;
	struct queue_item item = {0};
	struct buf why = BUF_INIT(1024);
	uint64_t *prs = NULL;
	int r, saved;

	r = scope_prs(s, &prs, &item.n_prs);
	if (r < 0)
		return r;
	item.owner = s->owner;
	item.repo = s->repo;
	item.issue = s->issue;
	item.sig = sig;
	item.prs = prs;
	item.time = time(NULL);
	r = w->opt.queue_state ? queue_push(w->opt.queue_state, &item, name, err)
			       : queue_write(w->opt.queue_dir, &item, name, err);
	if (r == 0) {
		/*
		 * The signal is in the queue: it was given, and stands for this
		 * run whatever the store says. A store that cannot keep it lets
		 * a later run accept another, which the orchestrator sees as a
		 * second signal (as after a crash between queueing and
		 * recording: twice, never zero times); the journal says so.
		 */
		saved = state_done_put(w->opt.state, s->owner, s->repo, s->issue, *text);
		if (saved < 0 && buf_printf(&why, "%s (not recorded as standing: %s)",
					    *name ? *name : "queued", strerror(-saved)) == 0)
			*note = buf_steal(&why, NULL);
		w->done_text = *text;
		*text = NULL;
		scope_set_done(s);
	} else if (r != -EINVAL) {
		r = -EIO;
	}
	buf_release(&why);
	free(prs);
	return r;
}

int write_done(struct write *w, const char *data, size_t len, struct buf *err)
{
	struct scope *s = w->opt.scope;
	struct job j = {.kind = "done", .owner = s->owner, .repo = s->repo, .number = s->issue};
	struct done_signal sig;
	char *text = NULL, *name = NULL, *note = NULL;
	int64_t id;
	int r;

	r = done_parse(data, len, &sig, err);
	if (r < 0)
		return r;
	pthread_mutex_lock(&w->lock);
	if (w->done_text) {
		if (err)
			buf_note(err, "done: a signal already stands; it cannot be changed");
		r = -EACCES;
		goto out;
	}
	j.payload = text = done_signal_text(&sig);
	snprintf(j.at, sizeof(j.at), "%s/%s#%llu done", s->owner, s->repo,
		 (unsigned long long)s->issue);
	if (!text) {
		r = -ENOMEM;
		goto out;
	}
	r = journal_begin(w, &j, &id, err);
	if (r < 0)
		goto out;
	r = signal_queue(w, &sig, &text, &name, &note, err);
	journal_end(w, &j, id, r, note ? note : name, err);
out:
	pthread_mutex_unlock(&w->lock);
	free(text);
	free(name);
	free(note);
	done_signal_release(&sig);
	return r;
}

int write_done_text(struct write *w, struct buf *out)
{
	int r = 0;

	pthread_mutex_lock(&w->lock);
	if (w->done_text)
		r = buf_puts(out, w->done_text);
	pthread_mutex_unlock(&w->lock);
	return r;
}
