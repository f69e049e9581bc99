#include "tree/files.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tree/internal.h"

struct scratch {
	pthread_mutex_t lock;
	struct blob content;  /* lock */
	int poison;	      /* -EFBIG or -ENOMEM until truncated to 0; lock */
	int64_t mtime;	      /* lock */
	struct node node;     /* item and name; files.lock */
	unsigned refs;	      /* the table's (while linked) and each handle's; files.lock */
	bool linked;	      /* in the table under its name; files.lock */
	struct scratch *next; /* files.scratches; files.lock */
};

enum fh_kind { FH_READ, FH_WRITE, FH_SCRATCH, FH_EXT };

struct fh {
	pthread_mutex_t lock;
	enum fh_kind kind;
	struct node node; /* immutable after open */
	size_t max;	  /* what the content may hold */
	/* FH_READ: the snapshot; FH_WRITE: what reading shows after a commit (pulls/new). lock */
	char *data;
	size_t len;
	/* FH_WRITE, all under lock: */
	struct blob content;
	struct write_judge judge;
	bool judging; /* the content is judged at write(); see files_write */
	bool dirty;   /* changed since the last send */
	bool wrote;   /* write() since the last send (not only a truncation) */
	int poison;   /* 0 or the -errno of a refused write: nothing is ever sent */
	int result;   /* the last send's answer */
	/* FH_SCRATCH: */
	struct scratch *s; /* a reference, dropped at release */
	/* FH_EXT: another module's handle, freed with ext_free(ext) (files_open_ext). */
	void *ext;
	void (*ext_free)(void *ext);
	struct fh *prev, *next; /* files.handles; files.lock */
};

struct files {
	struct files_options opt;
	pthread_mutex_t lock;
	struct fh *handles;	   /* every open file; lock */
	struct scratch *scratches; /* linked scratch files; lock */
	unsigned n_scratch;	   /* lock */
	struct budget mem;	   /* what write handles, scratch files and read snapshots hold */
};

size_t files_memory_used(struct files *f)
{
	return budget_used(&f->mem, false);
}

size_t files_read_memory_used(struct files *f)
{
	return budget_used(&f->mem, true);
}

/* ---- refusals, in /.bottlefs/log ---- */

static void note(struct files *f, const struct node *n, int r, const char *reason)
{
	struct buf path = BUF_INIT(4096);

	if (!f->opt.log)
		return;
	if (tree_node_path(n, &path) < 0) /* out of memory: the line says less */
		buf_reset(&path);
	wlog_add(f->opt.log, path.len ? buf_cstr(&path) : "?", r, reason);
	buf_release(&path);
}

/* Why a write past a cap was refused, in words. */
static void refusal(struct files *f, const struct node *n, int r, size_t max)
{
	char why[200];

	if (r == -EFBIG)
		snprintf(why, sizeof(why),
			 "a file open for writing holds at most %zu bytes; nothing is sent", max);
	else if (r == -ENOMEM)
		snprintf(why, sizeof(why),
			 "open files hold the mount's write memory (--write-memory, %zu MiB); "
			 "nothing is sent",
			 f->opt.write_memory >> 20);
	else
		snprintf(why, sizeof(why), "%s; nothing is sent", strerror(-r));
	note(f, n, r, why);
}

/* ---- lifecycle ---- */

int files_new(const struct files_options *opt, struct files **out)
{
	struct files *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->opt = *opt;
	if (!f->opt.write_memory)
		f->opt.write_memory = TREE_WRITE_MEMORY_DEFAULT;
	if (!f->opt.read_memory)
		f->opt.read_memory = TREE_READ_MEMORY_DEFAULT;
	if (!f->opt.scratch_max)
		f->opt.scratch_max = FILES_SCRATCH_DEFAULT;
	pthread_mutex_init(&f->lock, NULL);
	budget_init(&f->mem, f->opt.write_memory, f->opt.read_memory);
	*out = f;
	return 0;
}

static void scratch_free(struct files *f, struct scratch *s)
{
	blob_free(&f->mem, &s->content);
	budget_refund(&f->mem, sizeof(*s));
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Drops one reference; files.lock held. */
static void scratch_put_locked(struct files *f, struct scratch *s)
{
	if (--s->refs == 0)
		scratch_free(f, s);
}

static void scratch_put(struct files *f, struct scratch *s)
{
	pthread_mutex_lock(&f->lock);
	scratch_put_locked(f, s);
	pthread_mutex_unlock(&f->lock);
}

/* Takes s off the table (its name is gone); files.lock held. */
static void scratch_unlink_locked(struct files *f, struct scratch *s)
{
	struct scratch **p;

	for (p = &f->scratches; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			break;
		}
	}
	s->linked = false;
	s->next = NULL;
	f->n_scratch--;
	scratch_put_locked(f, s);
}

static void fh_free(struct files *f, struct fh *h)
{
	if (!h)
		return;
	if (h->kind != FH_READ)
		budget_refund(&f->mem, sizeof(*h));
	else
		budget_refund_read(&f->mem, sizeof(*h) + h->len);
	blob_free(&f->mem, &h->content);
	free(h->data);
	if (h->s)
		scratch_put(f, h->s);
	if (h->ext && h->ext_free)
		h->ext_free(h->ext);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static void fh_link(struct files *f, struct fh *h)
{
	pthread_mutex_lock(&f->lock);
	h->next = f->handles;
	if (f->handles)
		f->handles->prev = h;
	f->handles = h;
	pthread_mutex_unlock(&f->lock);
}

static void fh_unlink_locked(struct files *f, struct fh *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		f->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->prev = h->next = NULL;
}

/* A new handle; write and scratch handles are charged to the budget. */
static int fh_new(struct files *f, enum fh_kind kind, const struct node *n, struct fh **out)
{
	struct fh *h;

	if (kind != FH_READ && budget_charge(&f->mem, sizeof(*h)) < 0)
		return -ENOMEM;
	h = calloc(1, sizeof(*h));
	if (!h) {
		if (kind != FH_READ)
			budget_refund(&f->mem, sizeof(*h));
		return -ENOMEM;
	}
	pthread_mutex_init(&h->lock, NULL);
	h->kind = kind;
	h->node = *n;
	*out = h;
	return 0;
}

void files_free(struct files *f)
{
	struct fh *h, *hn;
	struct scratch *s, *sn;

	if (!f)
		return;
	for (h = f->handles; h; h = hn) {
		hn = h->next;
		fh_free(f, h);
	}
	for (s = f->scratches; s; s = sn) {
		sn = s->next;
		scratch_free(f, s);
	}
	pthread_mutex_destroy(&f->lock);
	budget_release(&f->mem);
	free(f);
}

/* ---- opening ---- */

int files_open_read(struct files *f, const struct node *n, char *data, size_t len, struct fh **out)
{
	struct fh *h;
	int r;

	if (!data)
		len = 0;
	if (budget_charge_read(&f->mem, sizeof(*h) + len) < 0) {
		free(data);
		return -ENOMEM;
	}
	r = fh_new(f, FH_READ, n, &h);
	if (r < 0) {
		budget_refund_read(&f->mem, sizeof(*h) + len);
		free(data);
		return r;
	}
	h->data = data;
	h->len = len;
	fh_link(f, h);
	*out = h;
	return 0;
}

int files_open_ext(struct files *f, const struct node *n, void *ext, void (*ext_free)(void *ext),
		   struct fh **out)
{
	struct fh *h;
	int r = fh_new(f, FH_EXT, n, &h);

	if (r < 0)
		return r;
	h->ext = ext;
	h->ext_free = ext_free;
	fh_link(f, h);
	*out = h;
	return 0;
}

void *files_fh_ext(const struct fh *h)
{
	return h->kind == FH_EXT ? h->ext : NULL;
}

int files_open_write(struct files *f, const struct node *n, const struct buf *initial,
		     bool truncated, struct fh **out)
{
	struct write_target target;
	struct fh *h;
	int r = fh_new(f, FH_WRITE, n, &h);

	if (r < 0) {
		refusal(f, n, r, 0);
		return r;
	}
	tree_target(n, &target, NULL);
	h->max = write_target_max(&target);
	r = blob_write(&f->mem, &h->content, 0, initial ? initial->data : NULL,
		       initial ? initial->len : 0, h->max);
	if (r < 0) {
		refusal(f, n, r, h->max);
		fh_free(f, h);
		return r;
	}
	/*
	 * The content is judged from its start as the agent appends to it
	 * (`>>`). What the forge holds may already be beyond the rules (a
	 * title with a tab): then it is judged at close only.
	 */
	write_judge_init(&h->judge, &target);
	h->judging = write_judge_more(&h->judge, h->content.data, h->content.len, NULL) == 0;
	/* Truncating a whole-file field is a write of nothing (`: > title`). */
	h->dirty = truncated && n->kind == N_ITEM_FILE;
	fh_link(f, h);
	*out = h;
	return 0;
}

static struct scratch *scratch_find_locked(struct files *f, const struct node *n)
{
	struct scratch *s;

	for (s = f->scratches; s; s = s->next)
		if (tree_same_item(&s->node, n) && strcmp(s->node.name, n->name) == 0)
			return s;
	return NULL;
}

/* A reference to scratch file n, or NULL. */
static struct scratch *scratch_get(struct files *f, const struct node *n)
{
	struct scratch *s;

	pthread_mutex_lock(&f->lock);
	s = scratch_find_locked(f, n);
	if (s)
		s->refs++;
	pthread_mutex_unlock(&f->lock);
	return s;
}

/* Empties s and lifts its poison: a new content begins. s.lock held. */
static int scratch_truncate_locked(struct files *f, struct scratch *s, uint64_t size)
{
	int r;

	if (s->poison && size != 0)
		return s->poison;
	r = blob_truncate(&f->mem, &s->content, size, FILES_SCRATCH_MAX);
	if (r == 0) {
		s->poison = 0;
		s->mtime = time(NULL);
	}
	return r;
}

int files_open_scratch(struct files *f, const struct node *n, bool create, bool excl, bool truncate,
		       struct fh **out)
{
	struct scratch *s;
	struct fh *h;
	int r;

	r = fh_new(f, FH_SCRATCH, n, &h);
	if (r < 0)
		return r;
	pthread_mutex_lock(&f->lock);
	s = scratch_find_locked(f, n);
	if (s && create && excl) {
		r = -EEXIST;
	} else if (s) {
		s->refs++;
	} else if (!create) {
		r = -ENOENT;
	} else if (f->n_scratch >= f->opt.scratch_max) {
		r = -ENOSPC;
	} else if ((r = budget_charge(&f->mem, sizeof(*s))) == 0) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			budget_refund(&f->mem, sizeof(*s));
			r = -ENOMEM;
		} else {
			pthread_mutex_init(&s->lock, NULL);
			s->node = *n;
			s->mtime = time(NULL);
			s->linked = true;
			s->refs = 2; /* the table's and this handle's */
			s->next = f->scratches;
			f->scratches = s;
			f->n_scratch++;
			truncate = false;
		}
	}
	pthread_mutex_unlock(&f->lock);
	if (r < 0) {
		fh_free(f, h);
		return r;
	}
	h->s = s;
	h->max = FILES_SCRATCH_MAX;
	if (truncate) {
		pthread_mutex_lock(&s->lock);
		scratch_truncate_locked(f, s, 0);
		pthread_mutex_unlock(&s->lock);
	}
	fh_link(f, h);
	*out = h;
	return 0;
}

/* ---- reading, writing, sending ---- */

/* Sends what h holds; h.lock held. */
static int commit_locked(struct files *f, struct fh *h)
{
	struct buf reply = BUF_INIT(4096), err = BUF_INIT(4096);
	int r;

	if (h->poison)
		return h->poison;
	h->dirty = false;
	h->wrote = false;
	r = f->opt.commit(f->opt.commit_ud, &h->node, h->content.data ? h->content.data : "",
			  h->content.len, &reply, &err);
	if (r == 0 && h->node.kind == N_PULLS_NEW) {
		free(h->data);
		h->data = buf_steal(&reply, &h->len);
		if (!h->data)
			h->len = 0;
	}
	h->result = r;
	buf_release(&reply);
	buf_release(&err);
	return r;
}

/* Poisons h with r (a refused write): its content goes, nothing is ever sent. */
static int poison_locked(struct files *f, struct fh *h, int r, const char *reason)
{
	h->poison = r;
	h->dirty = false;
	blob_free(&f->mem, &h->content);
	if (reason)
		note(f, &h->node, r, reason);
	else
		refusal(f, &h->node, r, h->max);
	return r;
}

static int scratch_read(struct scratch *s, char *out, size_t size, uint64_t off)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = blob_read(s->content.data, s->content.len, out, size, off);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int files_read(struct files *f, struct fh *h, char *out, size_t size, uint64_t off)
{
	int r;

	pthread_mutex_lock(&h->lock);
	switch (h->kind) {
	case FH_READ:
		r = blob_read(h->data, h->len, out, size, off);
		break;
	case FH_SCRATCH:
		r = scratch_read(h->s, out, size, off);
		break;
	default:
		if (h->poison) {
			r = h->poison;
		} else if (h->node.kind == N_PULLS_NEW) {
			/*
			 * Reading after writing opens the pull request; every
			 * concurrent reader waits here (h.lock) and sees the
			 * number, or the error.
			 */
			r = h->dirty ? commit_locked(f, h) : h->result;
			if (r == 0)
				r = blob_read(h->data, h->len, out, size, off);
		} else {
			r = blob_read(h->content.data, h->content.len, out, size, off);
		}
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}

static void scratch_note(struct files *f, struct scratch *s, int r)
{
	struct node n;

	pthread_mutex_lock(&f->lock);
	n = s->node; /* its name may change under files.lock */
	pthread_mutex_unlock(&f->lock);
	refusal(f, &n, r, FILES_SCRATCH_MAX);
}

static int scratch_write(struct files *f, struct scratch *s, const char *in, size_t size,
			 uint64_t off, bool append)
{
	int r;

	pthread_mutex_lock(&s->lock);
	r = s->poison;
	if (r == 0) {
		r = blob_write(&f->mem, &s->content, append ? s->content.len : off, in, size,
			       FILES_SCRATCH_MAX);
		if (r < 0) {
			s->poison = r;
			blob_free(&f->mem, &s->content);
			scratch_note(f, s, r);
		}
		s->mtime = time(NULL);
	}
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : (int)size;
}

int files_write(struct files *f, struct fh *h, const char *in, size_t size, uint64_t off,
		bool append)
{
	struct buf why = BUF_INIT(1024);
	int r;

	if (size > (size_t)INT32_MAX)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	if (h->kind == FH_READ) {
		r = -EBADF;
		goto out;
	}
	if (h->kind == FH_SCRATCH) {
		r = scratch_write(f, h->s, in, size, off, append);
		goto out;
	}
	r = h->poison;
	if (r < 0)
		goto out;
	if (append)
		off = h->content.len;
	/*
	 * The judge reads the content in order. A write over bytes it
	 * already judged (an editor rewriting in place, to truncate after)
	 * stops judging at write() for this handle: close() judges the
	 * whole. A write past the judged end (a hole) is judged at close.
	 */
	if (h->judging && off < h->judge.at)
		h->judging = false;
	r = blob_write(&f->mem, &h->content, off, in, size, h->max);
	if (r < 0) {
		r = poison_locked(f, h, r, NULL);
		goto out;
	}
	if (h->judging && off == h->judge.at &&
	    write_judge_more(&h->judge, h->content.data, (size_t)off + size, &why) < 0) {
		buf_note(&why, " (refused at write; nothing is sent)");
		r = poison_locked(f, h, -EINVAL, buf_cstr(&why));
		goto out;
	}
	h->dirty = true;
	h->wrote = true;
	r = (int)size;
out:
	pthread_mutex_unlock(&h->lock);
	buf_release(&why);
	return r;
}

int files_truncate(struct files *f, struct fh *h, uint64_t size)
{
	int r;

	pthread_mutex_lock(&h->lock);
	switch (h->kind) {
	case FH_READ:
		r = -EBADF;
		break;
	case FH_SCRATCH:
		pthread_mutex_lock(&h->s->lock);
		r = scratch_truncate_locked(f, h->s, size);
		if (r == -EFBIG || r == -ENOMEM) {
			h->s->poison = r;
			blob_free(&f->mem, &h->s->content);
			scratch_note(f, h->s, r);
		}
		pthread_mutex_unlock(&h->s->lock);
		break;
	default:
		r = h->poison;
		if (r < 0)
			break;
		r = blob_truncate(&f->mem, &h->content, size, h->max);
		if (r < 0) {
			r = poison_locked(f, h, r, NULL);
			break;
		}
		/* From empty the judge starts again; a cut into what it judged stops it. */
		if (size == 0) {
			struct write_target target;

			tree_target(&h->node, &target, NULL);
			write_judge_init(&h->judge, &target);
			h->judging = true;
		} else if (size < h->judge.at) {
			h->judging = false;
		}
		h->dirty = true;
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}

/* The close-time rule on what h holds, without sending; h.lock held. */
static int validate_locked(struct fh *h)
{
	struct write_target target;

	tree_target(&h->node, &target, NULL);
	return write_validate(&target, h->content.data ? h->content.data : "", h->content.len,
			      NULL);
}

int files_flush(struct files *f, struct fh *h)
{
	int r = 0;

	pthread_mutex_lock(&h->lock);
	if (h->kind == FH_WRITE) {
		if (h->poison)
			r = h->poison;
		else if (h->dirty && h->wrote)
			r = commit_locked(f, h);
		/*
		 * Only truncated: a write may still follow on a dup (bash's
		 * `echo x > title` closes one before it writes), so nothing
		 * is sent or logged before the last close (release). This
		 * close() still says what the close-time rule would answer
		 * (`: > title` is EINVAL).
		 */
		else if (h->dirty)
			r = validate_locked(h);
		else
			r = h->result;
	}
	pthread_mutex_unlock(&h->lock);
	return r;
}

void files_release(struct files *f, struct fh *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&f->lock);
	fh_unlink_locked(f, h);
	pthread_mutex_unlock(&f->lock);
	pthread_mutex_lock(&h->lock);
	if (h->kind == FH_WRITE && h->dirty && !h->poison)
		commit_locked(f, h);
	pthread_mutex_unlock(&h->lock);
	fh_free(f, h);
}

const struct node *files_fh_node(const struct fh *h)
{
	return &h->node;
}

bool files_fh_is_scratch(const struct fh *h)
{
	return h->kind == FH_SCRATCH;
}

static void scratch_stat(struct files *f, struct scratch *s, struct files_stat *out)
{
	pthread_mutex_lock(&s->lock);
	out->size = s->content.len;
	out->mtime = s->mtime;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&f->lock);
	out->linked = s->linked;
	pthread_mutex_unlock(&f->lock);
}

int files_fh_stat(struct files *f, struct fh *h, struct files_stat *out)
{
	if (h->kind != FH_SCRATCH)
		return -EINVAL;
	scratch_stat(f, h->s, out);
	return 0;
}

/* ---- scratch files by name ---- */

int files_scratch_stat(struct files *f, const struct node *n, struct files_stat *out)
{
	struct scratch *s = scratch_get(f, n);

	if (!s)
		return -ENOENT;
	scratch_stat(f, s, out);
	scratch_put(f, s);
	return 0;
}

int files_scratch_truncate(struct files *f, const struct node *n, uint64_t size)
{
	struct scratch *s = scratch_get(f, n);
	int r;

	if (!s)
		return -ENOENT;
	pthread_mutex_lock(&s->lock);
	r = scratch_truncate_locked(f, s, size);
	pthread_mutex_unlock(&s->lock);
	scratch_put(f, s);
	return r;
}

int files_scratch_unlink(struct files *f, const struct node *n)
{
	struct scratch *s;
	int r = -ENOENT;

	pthread_mutex_lock(&f->lock);
	s = scratch_find_locked(f, n);
	if (s) {
		scratch_unlink_locked(f, s);
		r = 0;
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

int files_scratch_rename(struct files *f, const struct node *from, const struct node *to,
			 bool noreplace)
{
	struct scratch *s, *old;
	int r = 0;

	if (!tree_same_item(from, to))
		return -EXDEV;
	pthread_mutex_lock(&f->lock);
	s = scratch_find_locked(f, from);
	old = scratch_find_locked(f, to);
	if (!s) {
		r = -ENOENT;
	} else if (old == s) {
		r = 0;
	} else if (old && noreplace) {
		r = -EEXIST;
	} else {
		if (old)
			scratch_unlink_locked(f, old);
		memcpy(s->node.name, to->name, sizeof(s->node.name));
	}
	pthread_mutex_unlock(&f->lock);
	return r;
}

int files_scratch_replace(struct files *f, const struct node *from, const struct node *field,
			  struct buf *err)
{
	struct buf why = BUF_INIT(4096);
	struct scratch *s;
	int r;

	if (!tree_same_item(from, field) || field->kind != N_ITEM_FILE)
		return -EXDEV;
	s = scratch_get(f, from);
	if (!s)
		return -ENOENT;
	pthread_mutex_lock(&s->lock);
	if (s->poison) {
		r = s->poison;
		note(f, field, r,
		     "the file renamed onto it was refused a write before (too large); "
		     "nothing is sent");
	} else {
		r = f->opt.commit(f->opt.commit_ud, field, s->content.data ? s->content.data : "",
				  s->content.len, NULL, err ? err : &why);
	}
	if (r == 0) {
		/* Sent: the name is the field's now; the file lives on for its fds. */
		pthread_mutex_lock(&f->lock);
		if (s->linked)
			scratch_unlink_locked(f, s);
		pthread_mutex_unlock(&f->lock);
	}
	pthread_mutex_unlock(&s->lock);
	scratch_put(f, s);
	buf_release(&why);
	return r;
}

int files_scratch_list(struct files *f, const struct node *dir, files_fill_fn fill, void *ud)
{
	char(*names)[TREE_NAME_MAX + 1] = NULL;
	struct scratch **v = NULL, *s;
	size_t n = 0, i, max;
	int r = 0;

	/* References and names first, attributes without files.lock (lock order). */
	pthread_mutex_lock(&f->lock);
	max = f->n_scratch ? f->n_scratch : 1;
	names = malloc(sizeof(*names) * max);
	v = malloc(sizeof(*v) * max);
	for (s = f->scratches; names && v && s && n < max; s = s->next) {
		if (!tree_same_item(&s->node, dir))
			continue;
		s->refs++;
		memcpy(names[n], s->node.name, sizeof(names[n]));
		v[n++] = s;
	}
	pthread_mutex_unlock(&f->lock);
	if (!names || !v) {
		free(names);
		free(v);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct files_stat st;

		scratch_stat(f, v[i], &st);
		if (r == 0)
			r = fill(ud, names[i], &st);
		scratch_put(f, v[i]);
	}
	free(names);
	free(v);
	return 0;
}

void files_finish(struct files *f)
{
	struct fh *h, *next;

	pthread_mutex_lock(&f->lock);
	h = f->handles;
	f->handles = NULL;
	/* Scratch files are gone with the mount; open handles free theirs below. */
	while (f->scratches)
		scratch_unlink_locked(f, f->scratches);
	pthread_mutex_unlock(&f->lock);
	for (; h; h = next) {
		next = h->next;
		pthread_mutex_lock(&h->lock);
		if (h->kind == FH_WRITE && h->dirty && !h->poison)
			commit_locked(f, h);
		pthread_mutex_unlock(&h->lock);
		h->prev = h->next = NULL;
		fh_free(f, h);
	}
}
