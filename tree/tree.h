/*
 * tree: path -> node, the shape of the bottlefs tree (SPEC section 2).
 *
 * Pure: no I/O, no FUSE, no forge. tree_resolve() decides from the path
 * alone whether a name can exist; a name that cannot (`..`, `%2F`, control
 * bytes, leading zeros, over-long) is -ENOENT here, so no forge request is
 * ever sent for it. Whether a name that can exist does exist is for the
 * view (fs/view.h) to find out.
 *
 * Thread-safe: everything here is a pure function of its arguments.
 */
#ifndef BOTTLEFS_FS_TREE_H
#define BOTTLEFS_FS_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/names.h"

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
	 * (fs/files.h). Only tree_resolve_scratch() gives this kind; whether
	 * the file exists, and whether the directory allows it, is decided
	 * elsewhere.
	 */
	N_SCRATCH,
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
	char name[TREE_NAME_MAX + 1]; /* N_SCRATCH: the file's name */
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

#endif
