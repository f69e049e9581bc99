/*
 * files: the open files and scratch files of one mount, without FUSE.
 *
 * An open file (struct fh) is one of
 *  - a read snapshot: the bytes the file showed at open(), immutable;
 *  - a write handle on a writable field, comments/new, pulls/new or done:
 *    what the agent wrote, sent through opt.commit (the tree's send:
 *    write_commit, then the kernel told) at flush, at release when only a
 *    truncation is pending, and for pulls/new at the first read after a
 *    write;
 *  - a handle on a scratch file: a small file an agent creates beside the
 *    fields of an item directory (editors' temporary files), held here,
 *    never sent by itself. Renaming it onto a field sends its content as
 *    one whole-file write (files_scratch_replace).
 *
 * Memory an agent can make the daemon hold is bounded (SEMANTICS.md):
 * a write handle holds at most write_target_max() bytes (WRITE_FILE_MAX,
 * pulls/new WRITE_PULL_MAX), a scratch file FILES_SCRATCH_MAX, and all of
 * them together, with their
 * bookkeeping, at most opt.write_memory. The write (or truncate) that
 * would pass a cap fails with EFBIG (per file) or ENOMEM (the total) and
 * poisons the handle: it sends nothing, ever, and every later write and its
 * close() report the same errno. A scratch file is poisoned the same way
 * until it is truncated to 0. A write() whose content can no longer become
 * valid (write_judge_more) fails with EINVAL and poisons the handle too.
 * Each such refusal is one line in opt.log. Read snapshots held open have
 * a budget of their own, opt.read_memory: the open() that would pass it
 * fails with ENOMEM (many opens of one large diff cannot grow the daemon
 * without bound, and reading cannot starve what is being written).
 *
 * Thread-safety: every function may be called from many threads, on the
 * same handle too (the kernel does not serialise reads and writes of a
 * direct_io file). Locks, always taken in this order:
 *   fh.lock       one open file: its content, judge and state; held
 *                 across opt.commit, so concurrent readers of pulls/new
 *                 wait for the number and a close() waits for a read;
 *   scratch.lock  one scratch file's content; held across opt.commit of a
 *                 rename onto a field;
 *   files.lock    the handle list, the scratch table, names, refcounts;
 *   files.mem_lock  the memory budget (a leaf).
 * files.lock is never held while taking fh.lock or scratch.lock.
 *
 * Internal to tree/ (and its tests): fs/ reaches open files through
 * tree.h. Ownership: files_open_* hand out an fh that files_release frees; the
 * module owns scratch files (freed when unlinked and no handle is left,
 * or by files_free).
 */
#ifndef BOTTLEFS_TREE_FILES_H
#define BOTTLEFS_TREE_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tree/tree.h"
#include "util/buf.h"
#include "util/check.h"
#include "write/write.h"

/* What one scratch file may hold: what a field may (write.h). */
#define FILES_SCRATCH_MAX WRITE_FILE_MAX
#define FILES_SCRATCH_DEFAULT 32

struct files;
struct fh;

/*
 * Sends content written to n (the whole new content); 0 or -errno, with
 * why in err. reply (may be NULL) gets what reading the same open file
 * shows afterwards (pulls/new: the new number).
 */
typedef int (*files_commit_fn)(void *ud, const struct node *n, const char *data, size_t len,
			       struct buf *reply, struct buf *err);

struct files_options {
	size_t write_memory;  /* bytes for all write handles and scratch files; 0: default */
	size_t read_memory;   /* bytes for all read snapshots held open; 0: default */
	unsigned scratch_max; /* scratch files per mount; 0: FILES_SCRATCH_DEFAULT */
	struct wlog *log;     /* borrowed, may be NULL: local refusals */
	files_commit_fn commit;
	void *commit_ud;
};

struct files_stat {
	uint64_t size;
	int64_t mtime; /* seconds since the epoch */
	bool linked;   /* false once the name was unlinked (open fds keep it) */
};

/* 0 and *out, or -ENOMEM. */
MUST_CHECK int files_new(const struct files_options *opt, struct files **out);
/* Frees every handle and scratch file still there, sending nothing. NULL-safe. */
void files_free(struct files *f);

/*
 * A read snapshot of n: takes data (new, may be NULL when len is 0). 0, or
 * -ENOMEM (data freed) when the snapshots held open would pass
 * opt.read_memory.
 */
MUST_CHECK int files_open_read(struct files *f, const struct node *n, char *data, size_t len,
			       struct fh **out);
/*
 * A write handle on n starting with initial (copied; empty when the open
 * truncated, and always for comments/new, pulls/new and done). truncated:
 * the open was O_TRUNC, which on a field is itself a write of nothing
 * (`: > title`). -EFBIG when initial is larger than the handle may hold,
 * -ENOMEM past the total.
 */
MUST_CHECK int files_open_write(struct files *f, const struct node *n, const struct buf *initial,
				bool truncated, struct fh **out);

/*
 * Opens scratch file n (kind N_SCRATCH; the caller checked the directory
 * is writable). With create, a missing one is created (-ENOSPC past
 * opt.scratch_max), and with excl an existing one is -EEXIST; without
 * create a missing one is -ENOENT. truncate empties it.
 */
MUST_CHECK int files_open_scratch(struct files *f, const struct node *n, bool create, bool excl,
				  bool truncate, struct fh **out);

/*
 * A handle another module of the tree serves itself (the bundles of
 * branches/ and repo.bundle: branches.c): ext is its state, freed with
 * ext_free(ext) when the handle is (the last close, files_free). The tree
 * asks files_fh_ext first and calls that module for every operation on
 * such a handle; files_read and the rest answer nothing for it.
 */
MUST_CHECK int files_open_ext(struct files *f, const struct node *n, void *ext,
			      void (*ext_free)(void *ext), struct fh **out);
/* The ext of an FH_EXT handle, else NULL. */
void *files_fh_ext(const struct fh *h);

/* Reads into out; the count or -errno. */
MUST_CHECK int files_read(struct files *f, struct fh *h, char *out, size_t size, uint64_t off);
/* Writes in at off (at the end with append); size or -errno. */
MUST_CHECK int files_write(struct files *f, struct fh *h, const char *in, size_t size, uint64_t off,
			   bool append);
/* ftruncate; 0 or -errno. */
MUST_CHECK int files_truncate(struct files *f, struct fh *h, uint64_t size);
/*
 * close() (FUSE flush) and fsync: sends what a write handle holds when it
 * was written since the last send; 0 or -errno (the send's, or the
 * poison). A change made only by truncating is sent at release instead,
 * so a shell's `echo x > f` (open O_TRUNC, dup2, close, write, close)
 * sends x once, not an empty value first; this close() still answers
 * what the close-time rule says of it (an empty title: -EINVAL).
 */
MUST_CHECK int files_flush(struct files *f, struct fh *h);
/* The last close: sends what is still pending (no one hears the answer) and frees h. */
void files_release(struct files *f, struct fh *h);

/* What a handle is. */
const struct node *files_fh_node(const struct fh *h); /* borrowed, lives with h */
bool files_fh_is_scratch(const struct fh *h);
/* Attributes of a scratch handle's file (it may be unlinked): 0, or -EINVAL for others. */
MUST_CHECK int files_fh_stat(struct files *f, struct fh *h, struct files_stat *out);

/* A scratch file by name: -ENOENT when there is none. */
MUST_CHECK int files_scratch_stat(struct files *f, const struct node *n, struct files_stat *out);
MUST_CHECK int files_scratch_truncate(struct files *f, const struct node *n, uint64_t size);
MUST_CHECK int files_scratch_unlink(struct files *f, const struct node *n);
/*
 * Renames scratch file from to scratch name to in the same directory
 * (replacing one there unless noreplace: -EEXIST). -EXDEV across
 * directories.
 */
MUST_CHECK int files_scratch_rename(struct files *f, const struct node *from, const struct node *to,
				    bool noreplace);
/*
 * Renaming scratch file from onto field (a writable N_ITEM_FILE of the same
 * item): its whole content is sent through opt.commit, as a close() of the
 * field would. On success the scratch file's name is gone; on failure it
 * stays, and the errno is returned (a poisoned scratch file sends nothing).
 */
MUST_CHECK int files_scratch_replace(struct files *f, const struct node *from,
				     const struct node *field, struct buf *err);

/* Calls fill for each scratch file in item directory dir; stops when fill returns non-zero. */
typedef int (*files_fill_fn)(void *ud, const char *name, const struct files_stat *st);
MUST_CHECK int files_scratch_list(struct files *f, const struct node *dir, files_fill_fn fill,
				  void *ud);

/*
 * Unmounting: sends what every write handle still holds (not poisoned),
 * then frees every handle and scratch file. Call with no request running.
 */
void files_finish(struct files *f);

/* Bytes the budgets have handed out (tests). */
size_t files_memory_used(struct files *f);
size_t files_read_memory_used(struct files *f);

#endif
