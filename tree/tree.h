/*
 * tree: the namespace of bottlefs (SPEC section 2), where reads and writes
 * meet. fs/ unpacks a FUSE request, asks here, and replies.
 *
 *   path.c     path -> node and node -> path, pure: a name that cannot
 *              exist (`..`, `%2F`, control bytes, leading zeros, over-long)
 *              is -ENOENT before anything is asked
 *   kinds.c    the one table of node kinds: every kind of path, the special
 *              files (done, .bottlefs/..., bottles/..., .../new, the writable
 *              fields) among them, with all its behaviour in one row:
 *              attributes, content, listing, what writing it means
 *   read.c     what forge paths show, read through the cache (cache.h)
 *   content.c  rendering: the files of an item, .bottlefs/scope,
 *              capabilities.json
 *   bottles.c  /bottles, over the manifest cache
 *   files.c    open files and scratch files (files.h): snapshots, write
 *              handles, memory budgets, poisoning
 *   tree.c     the tree itself: its life, the scope of names, sending a
 *              write (a node becomes a write_target for write/, and what a
 *              write changed becomes forgetting in the cache)
 *
 * A write never reaches into the read cache: write/ tells the tree what it
 * changed (write_options.changed), and the tree tells the cache.
 *
 * Errors: 0 or -errno; when err is given, a reason for the caller to log
 * (fs/ logs, once, at the boundary).
 *
 * Thread-safety: the path functions are pure; every function on a struct
 * tree may be called from many threads at once (the modules below it are
 * thread-safe, and an open file has a lock of its own: files.h).
 */
#ifndef BOTTLEFS_TREE_TREE_H
#define BOTTLEFS_TREE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "manifest/manifest.h"
#include "util/buf.h"
#include "util/check.h"
#include "util/names.h"
#include "write/write.h"

/* A file name (Linux NAME_MAX): the longest scratch file name. */
#define TREE_NAME_MAX 255
/* Gitea numbers and ids are int64. */
#define TREE_NUMBER_MAX INT64_MAX

enum node_kind {
	N_ROOT,
	N_FORGE,       /* /forge */
	N_OWNER,       /* /forge/<owner> */
	N_REPO,	       /* /forge/<owner>/<repo> */
	N_LIST,	       /* .../issues or .../pulls */
	N_ITEM,	       /* .../issues/<n> or .../pulls/<n> */
	N_ITEM_FILE,   /* .../<n>/title ... */
	N_COMMENTS,    /* .../<n>/comments */
	N_COMMENT,     /* .../<n>/comments/<id> */
	N_COMMENT_NEW, /* .../<n>/comments/new */
	N_PULLS_NEW,   /* .../pulls/new */
	N_BOTTLES,     /* /bottles */
	N_BOTTLE,      /* /bottles/<name> */
	N_BOTTLE_FILE, /* /bottles/<name>/resolved.json|source|error */
	N_DONE,	       /* /done */
	N_META,	       /* /.bottlefs */
	N_META_FILE,   /* /.bottlefs/scope|capabilities.json|log */
	/*
	 * A name an agent may create beside the fields of an item directory
	 * (.../issues/<n>/<name>, .../pulls/<n>/<name>): a scratch file
	 * (files.c). Only tree_resolve_scratch() gives this kind; whether
	 * the file exists, and whether the directory allows it, is decided
	 * elsewhere.
	 */
	N_SCRATCH,
	N_BRANCHES, /* /forge/<o>/<r>/branches */
	/*
	 * /forge/<o>/<r>/branches/<name>: name (in node.name, at most
	 * TREE_NAME_MAX bytes) is a branch name or a directory of them
	 * ("bottle", "bottle/12-fix"), or a branch name followed by ".lock"
	 * (git's lock file while it writes a bundle there). Whether it is a
	 * file, a directory or nothing is the forge's branch list's answer.
	 */
	N_BRANCH,
	N_REPO_BUNDLE, /* /forge/<o>/<r>/repo.bundle */
};

enum item_file {
	F_TITLE,
	F_BODY,
	F_STATE,
	F_LABELS,
	F_AUTHOR,
	F_ISSUE_JSON,
	F_THREAD,
	F_HEAD,
	F_BASE,
	F_MERGED,
	F_DIFF,
	F_PR_JSON,
};

enum bottle_file { B_RESOLVED, B_SOURCE, B_ERROR };
enum meta_file { M_SCOPE, M_CAPABILITIES, M_LOG };

struct node {
	enum node_kind kind;
	bool pull; /* under pulls/ rather than issues/ */
	char owner[NAMES_OWNER_MAX + 1];
	char repo[NAMES_REPO_MAX + 1];
	uint64_t number;
	uint64_t comment;
	enum item_file file;
	char bottle[NAMES_BOTTLE_MAX + 1];
	enum bottle_file bfile;
	enum meta_file mfile;
	char name[TREE_NAME_MAX + 1]; /* N_SCRATCH: the file's name; N_BRANCH: the branch path */
};

/* 0 and *out, or -ENOENT for a path that cannot name anything. */
int tree_resolve(const char *path, struct node *out);

/*
 * A path that tree_resolve() refuses, read as a scratch file: 0 and *out
 * (kind N_SCRATCH, the item's owner, repo, pull and number, and name) when
 * the parent is an item directory and the last component is a file name
 * (not "." or "..", at most TREE_NAME_MAX bytes) that is not one of the
 * directory's fixed children; -ENOENT otherwise.
 */
int tree_resolve_scratch(const char *path, struct node *out);

/* True when a and b are in the same item directory (same owner, repo, kind of item, number). */
bool tree_same_item(const struct node *a, const struct node *b);

/*
 * The path of file node n inside the mount ("/forge/o/r/issues/2/title",
 * "/done", ".../<scratch name>"), appended to out. 0 or -errno; -EINVAL
 * for a kind that has no such path here (directories, bottles).
 */
int tree_node_path(const struct node *n, struct buf *out);

bool tree_is_dir(const struct node *n);

/* The name of an item file, bottle file or meta file ("title", ...). */
const char *tree_item_file_name(enum item_file f);
const char *tree_bottle_file_name(enum bottle_file f);
const char *tree_meta_file_name(enum meta_file f);

/*
 * The fixed children of a directory whose contents do not depend on the
 * forge: root, /.bottlefs, an item directory (without its comments), a
 * repository. Returns the count and sets *names (borrowed, static), or -1
 * when the directory's contents come from elsewhere.
 */
int tree_fixed_children(const struct node *dir, const char *const **names);

/* ---- the tree of a mount ---- */

struct tree;
struct fh; /* an open file (files.c) */

struct tree_attr {
	bool dir;
	unsigned mode;	       /* permission bits */
	uint64_t size;	       /* exact length of what tree_read gives */
	int64_t mtime;	       /* seconds since the epoch */
	bool volatile_content; /* changes without the forge (bottles, done, ...): no page cache */
};

/* Called once per directory entry; attr is NULL when it would cost work to know. */
typedef int (*tree_fill_fn)(void *ud, const char *name, const struct tree_attr *attr);

/*
 * After every write the tree sent (a close, an fsync, a rename onto a
 * field, the read of pulls/new, unmounting): n what was written, r its
 * outcome (why in err). fs/ logs a failure and makes the kernel forget
 * what it cached (tree_changed_paths). ud is tree_options.sent_ud.
 */
typedef void (*tree_sent_fn)(void *ud, const struct node *n, int r, const struct buf *err);

/* The open files' budgets when tree_options gives 0 (--write-memory, --read-memory). */
#define TREE_WRITE_MEMORY_DEFAULT ((size_t)256 << 20)
#define TREE_READ_MEMORY_DEFAULT ((size_t)1 << 30)

struct tree_options {
	struct cache *cache;		/* borrowed: every forge read */
	struct manifest_cache *bottles; /* borrowed, may be NULL: /bottles is empty */
	/*
	 * The write path: the tree makes it (write_new) with these options,
	 * after setting changed to its own forgetting. forge, state, scope,
	 * queue_dir and log are borrowed and outlive the tree; log is also
	 * where the open files note their refusals, and what
	 * /.bottlefs/log shows.
	 */
	struct write_options write;
	size_t write_memory; /* bytes for all files open for writing; 0: default */
	size_t read_memory;  /* bytes for all read snapshots held open; 0: default */
	tree_sent_fn sent;   /* may be NULL */
	void *sent_ud;
	/* The bound on making repo.bundle ready (0: 10 s); past it, EAGAIN. */
	unsigned git_timeout_ms;
};

/* 0 and *out, or -errno with the reason in err. */
MUST_CHECK int tree_new(const struct tree_options *opt, struct tree **out, struct buf *err);
/* Frees every open file (sending nothing) and the write path. NULL-safe. */
void tree_free(struct tree *t);

/* Finishes the writes an earlier run left unanswered (write_recover). */
MUST_CHECK int tree_recover(struct tree *t, struct buf *err);
/*
 * Unmounting: sends what every file still open for writing holds (not
 * poisoned), then frees every open file and scratch file. Call with no
 * request running.
 */
void tree_finish(struct tree *t);

/*
 * A path: what tree_resolve() says, or else a scratch file's name in an
 * item directory (N_SCRATCH, which may or may not exist). 0 or -ENOENT.
 */
MUST_CHECK int tree_lookup(const char *path, struct node *out);

/*
 * Attributes, with write permission bits exactly where a write is in
 * scope (an item directory where scratch files may be created is 0755).
 * -ENOENT (no such object), -EACCES (the forge refused), -EIO (the forge
 * failed and nothing was cached).
 */
MUST_CHECK int tree_getattr(struct tree *t, const struct node *n, struct tree_attr *out,
			    struct buf *err);
/* The bytes of file n, appended to out. */
MUST_CHECK int tree_read(struct tree *t, const struct node *n, struct buf *out, struct buf *err);
/* Directory entries: what the directory lists, and an item directory's scratch files. */
MUST_CHECK int tree_list(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
			 struct buf *err);
/*
 * Opening directory dir for listing: -ENOENT when what it lists does not
 * exist (a missing owner, repository, issue or pull request), found out
 * with the request the listing makes anyway (its answer is cached for the
 * readdir that follows), so `ls` of a missing repository's issues/ fails
 * at opendir (a readdir's ENOENT reads as an empty directory to glibc).
 * 0 for directories whose content needs no request.
 */
MUST_CHECK int tree_open_dir(struct tree *t, const struct node *dir, struct buf *err);

/* access(W_OK): 0 exactly where writing (or creating, in a directory) is accepted. */
MUST_CHECK int tree_access_write(struct tree *t, const struct node *n);

/* How an open file is to be served to the kernel. */
struct tree_open_props {
	bool direct_io;	 /* every read asks the daemon (content changes under the page cache) */
	bool keep_cache; /* the kernel may keep pages across opens */
	bool noflush;	 /* nothing to send at close */
};

/*
 * open(): a read snapshot of n, a write handle (write: the open asked for
 * writing; truncate: O_TRUNC), or a scratch file. Writing outside the scope
 * is -EACCES (why in err); a write handle starts with what the file holds
 * (nothing when truncating, and always nothing for comments/new, pulls/new
 * and done). 0 and *out, with *props.
 */
MUST_CHECK int tree_open(struct tree *t, const struct node *n, bool write, bool truncate,
			 struct fh **out, struct tree_open_props *props, struct buf *err);
/*
 * create(): scratch files (SEMANTICS.md "Scratch files"), only in an item
 * directory whose fields are writable, never in comments/. Everything else
 * keeps the scope's answer: -EACCES, or -EEXIST for a field's own name.
 */
MUST_CHECK int tree_create(struct tree *t, const struct node *n, bool excl, bool truncate,
			   struct fh **out, struct tree_open_props *props);
MUST_CHECK int tree_unlink(struct tree *t, const struct node *n);
/* chmod, chown, utimens: accepted on a scratch file, changing nothing; else -EACCES. */
MUST_CHECK int tree_setattr(struct tree *t, const struct node *n);
/* truncate(path): a scratch file, or a writable field to 0 (changes nothing by itself). */
MUST_CHECK int tree_truncate(struct tree *t, const struct node *n, uint64_t size);
/*
 * rename(from, to) with RENAME_* flags: a scratch file onto another name in
 * its directory, or onto a writable field there (its content is sent as a
 * whole-file write; the answer is rename()'s, why in err). Anything else
 * is -EACCES: no rename of a field, none across directories.
 */
MUST_CHECK int tree_rename(struct tree *t, const struct node *from, const struct node *to,
			   unsigned flags, struct buf *err);

/* An open file: read, write (at the end with append), ftruncate; a count or -errno. */
MUST_CHECK int tree_fh_read(struct tree *t, struct fh *h, char *out, size_t size, uint64_t off);
MUST_CHECK int tree_fh_write(struct tree *t, struct fh *h, const char *in, size_t size,
			     uint64_t off, bool append);
MUST_CHECK int tree_fh_truncate(struct tree *t, struct fh *h, uint64_t size);
/* close() (FUSE flush) and fsync: sends what a write handle holds (files.h, files_flush). */
MUST_CHECK int tree_fh_flush(struct tree *t, struct fh *h);
/* The last close: sends what is still pending (no one hears the answer) and frees h. */
void tree_fh_release(struct tree *t, struct fh *h);
/*
 * Attributes of a scratch file through its handle, also once its name is
 * gone (*linked false): 0, or -EINVAL for any other handle.
 */
MUST_CHECK int tree_fh_stat(struct tree *t, struct fh *h, struct tree_attr *out, bool *linked);

/*
 * The paths whose kernel cache a write to n made stale (the item directory
 * and its files; for pulls/new and done, /done, /.bottlefs/scope and the
 * pull request list): fn is called with each. 0 or -ENOMEM.
 */
MUST_CHECK int tree_changed_paths(const struct node *n, void (*fn)(void *ud, const char *path),
				  void *ud);

#endif
