/*
 * tree/internal: what the files of the tree share (tree.h is the API).
 * Not for other folders.
 */
#ifndef BOTTLEFS_TREE_INTERNAL_H
#define BOTTLEFS_TREE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/check.h"
#include "tree/files.h"
#include "tree/tree.h"

struct tree {
	struct tree_options opt;
	struct cache *cache; /* opt.cache */
	struct write *write; /* made by tree_new */
	struct scope *scope; /* opt.write.scope */
	struct files *files; /* open files and scratch files */
	int64_t
	    start_s; /* when the tree was made (epoch seconds): times the forge gives none for */
	/* branches/ .lock names and spools (branches.c) */
	struct gitfiles *git;
};

/* ---- blob.c: the open files' memory ---- */

/* What all open files of a mount may hold, charged before it is allocated. */
struct budget {
	pthread_mutex_t lock;
	size_t write_max, write_used; /* write handles and scratch files; lock */
	size_t read_max, read_used;   /* read snapshots; lock */
};
void budget_init(struct budget *m, size_t write_max, size_t read_max);
void budget_release(struct budget *m);
/* 0, or -ENOMEM when n more would pass the maximum (nothing is charged then). */
MUST_CHECK int budget_charge(struct budget *m, size_t n);
MUST_CHECK int budget_charge_read(struct budget *m, size_t n);
void budget_refund(struct budget *m, size_t n);
void budget_refund_read(struct budget *m, size_t n);
/* Bytes handed out for reading (read) or for writing. */
size_t budget_used(struct budget *m, bool read);

/*
 * The bytes of one open file or scratch file. Not a struct buf: its
 * memory is charged to the mount's budget before it is allocated (so the
 * growth policy must be ours), writes land at any offset, and a hole
 * reads as zeros. Bytes [0, len) are always initialised: nothing
 * the agent did not write (or zeros) can ever be read back. The caller
 * serialises calls on one blob.
 */
struct blob {
	char *data;
	size_t len, cap;
};
/* Room for need bytes, charged first: 0, -EFBIG past max, -ENOMEM. */
MUST_CHECK int blob_reserve(struct budget *m, struct blob *b, size_t need, size_t max);
/* Frees the bytes and refunds them. */
void blob_free(struct budget *m, struct blob *b);
/* size bytes of in at off (a hole before it reads as zeros): 0, -EFBIG past max, -ENOMEM. */
MUST_CHECK int blob_write(struct budget *m, struct blob *b, uint64_t off, const char *in,
			  size_t size, size_t max);
/* To 0 the memory is given back; growing fills with zeros. */
MUST_CHECK int blob_truncate(struct budget *m, struct blob *b, uint64_t size, size_t max);
/* Up to size bytes of data[0, len) from off into out: the count. */
MUST_CHECK int blob_read(const char *data, size_t len, char *out, size_t size, uint64_t off);

/* ---- kinds.c: the table ---- */

/*
 * One row per kind of path: everything a path of that kind does. A NULL
 * function is the default written beside it in kinds.c.
 */
struct kind {
	const char *what; /* for a reader of the table */
	bool dir;
	bool volatile_content; /* changes without the forge: served with direct_io */
	bool whole_file;       /* a write replaces it whole: a handle starts empty */
	int (*attr)(struct tree *t, const struct node *n, struct tree_attr *out, struct buf *err);
	int (*read)(struct tree *t, const struct node *n, struct buf *out, struct buf *err);
	int (*list)(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
		    struct buf *err);
	int (*open_dir)(struct tree *t, const struct node *dir, struct buf *err);
	/* What writing n means (write.h); NULL: nothing (why_not). */
	enum write_kind writes;
	const char *why_not;
};

/* The row of n's kind. */
const struct kind *tree_kind(const struct node *n);

/*
 * The write target of n (it borrows n's strings): what writing n means
 * for write/. path (may be NULL) gets n's path, which the target borrows
 * for the outcome log.
 */
void tree_target(const struct node *n, struct write_target *out, struct buf *path);

/* ---- tree.c ---- */

/* A bare git forge's issue and pull request paths (they do not exist). */
bool tree_no_items(struct tree *t, const struct node *n);
/* A directory where an agent may create scratch files: an item it may write. */
bool tree_scratch_dir(struct tree *t, const struct node *n);
/* A directory's fixed children (tree_fixed_children) as entries; -ENOTDIR for a file. */
MUST_CHECK int tree_list_fixed(const struct node *dir, tree_fill_fn fill, void *ud);
/* An item directory's scratch files, as directory entries. */
MUST_CHECK int tree_list_scratch(struct tree *t, const struct node *dir, tree_fill_fn fill,
				 void *ud);

void tree_dir_attr(struct tree_attr *a, int64_t mtime);
void tree_file_attr(struct tree_attr *a, uint64_t size, int64_t mtime, unsigned mode);

/* ---- read.c: forge paths, through the cache ---- */

/*
 * Gets and renders item node n (an item directory, one of its files,
 * comments/, a comment, comments/new); out may be NULL for attributes
 * only. *mtime gets its time (0: unknown).
 */
MUST_CHECK int read_item(struct tree *t, const struct node *n, struct buf *out, int64_t *mtime,
			 struct buf *err);
/* The time of a directory the forge gives none for: the newest the cache knows below it. */
int64_t read_dir_time(struct tree *t, const struct node *n);
/* Listings: an owner's repositories, a list's items, a comments directory. */
MUST_CHECK int read_list_repos(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
			       struct buf *err);
MUST_CHECK int read_list_items(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
			       struct buf *err);
MUST_CHECK int read_list_comments(struct tree *t, const struct node *dir, tree_fill_fn fill,
				  void *ud, struct buf *err);

/* ---- branches.c: branches/ and repo.bundle ---- */

struct gitfh; /* an FH_EXT handle of branches.c (files_fh_ext) */
MUST_CHECK int branches_new(struct tree *t);
void branches_free(struct tree *t);
/* Rows of kinds.c: branches/, branches/<name>, repo.bundle. */
MUST_CHECK int branches_attr(struct tree *t, const struct node *n, struct tree_attr *out,
			     struct buf *err);
MUST_CHECK int branches_read(struct tree *t, const struct node *n, struct buf *out,
			     struct buf *err);
MUST_CHECK int branches_list(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
			     struct buf *err);
MUST_CHECK int branches_open_dir(struct tree *t, const struct node *dir, struct buf *err);
MUST_CHECK int bundle_attr(struct tree *t, const struct node *n, struct tree_attr *out,
			   struct buf *err);
/* tree.c's calls for N_BRANCH and N_REPO_BUNDLE (tree.h says what each answers). */
MUST_CHECK int branches_open(struct tree *t, const struct node *n, bool write, bool truncate,
			     struct fh **out, struct tree_open_props *props, struct buf *err);
MUST_CHECK int branches_create(struct tree *t, const struct node *n, bool excl, bool truncate,
			       struct fh **out, struct tree_open_props *props, struct buf *err);
MUST_CHECK int branches_unlink(struct tree *t, const struct node *n);
MUST_CHECK int branches_truncate(struct tree *t, const struct node *n, uint64_t size);
MUST_CHECK int branches_setattr(struct tree *t, const struct node *n);
MUST_CHECK int branches_rename(struct tree *t, const struct node *from, const struct node *to,
			       unsigned flags, struct buf *err);
MUST_CHECK int branches_fh_read(struct gitfh *g, char *out, size_t size, uint64_t off);
MUST_CHECK int branches_fh_write(struct gitfh *g, const char *in, size_t size, uint64_t off,
				 bool append);
MUST_CHECK int branches_fh_truncate(struct gitfh *g, uint64_t size);
MUST_CHECK int branches_fh_flush(struct gitfh *g);
MUST_CHECK int branches_fh_stat(struct gitfh *g, struct tree_attr *out, bool *linked);

/* ---- content.c: rendering ---- */

/*
 * Appends the file f of issue (and, for thread.md, its comments) to out.
 * diff is only used for F_DIFF. 0 or -errno (-ENOENT for a file the item
 * does not have, such as head on an issue). Every text file ends with a
 * newline (an empty text stays empty), so the length of what is rendered
 * is the file's exact st_size. Pure.
 */
MUST_CHECK int content_item_file(enum item_file f, const struct forge_issue *issue,
				 const struct forge_comment_list *comments, const char *diff,
				 struct buf *out);
/* One comment file: its body. */
MUST_CHECK int content_comment(const struct forge_comment *c, struct buf *out);
/* Appends s, then a newline when s is non-empty and does not end in one. */
MUST_CHECK int content_text(struct buf *out, const char *s);
/* True when the file needs the item's comments (thread.md). */
bool content_needs_comments(enum item_file f);
/* The text of .bottlefs/scope: what this mount may write, as paths. */
MUST_CHECK int content_scope(struct scope *s, struct buf *out);
/* capabilities.json (forge_capabilities_json). */
MUST_CHECK int content_capabilities(const struct forge_capabilities *caps, struct buf *out);

/* ---- bottles.c: /bottles over manifest/ ---- */

/*
 * A thin adapter over the manifest cache (manifest.h): it keeps parsed
 * files and resolved bottles while the files they came from stat the
 * same, so an edited manifest is seen on the next read and a bottle read
 * again costs a stat per file of its chain. The files are volatile (no
 * page cache). A bottle whose resolution fails has an `error` file with
 * the message, and its resolved.json fails to read with -EIO; a good
 * bottle has no `error`. mc (borrowed) may be NULL (no --bottles):
 * /bottles is empty. Thread-safe (the cache is).
 */
MUST_CHECK int bottles_getattr(struct manifest_cache *mc, const struct node *n,
			       struct tree_attr *out, struct buf *err);
MUST_CHECK int bottles_read(struct manifest_cache *mc, const struct node *n, struct buf *out,
			    struct buf *err);
MUST_CHECK int bottles_list(struct manifest_cache *mc, const struct node *n, tree_fill_fn fill,
			    void *ud, struct buf *err);

#endif
