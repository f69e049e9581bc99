/*
 * kinds: the one table of node kinds (internal.h). Each row is a kind of
 * path and everything it does: whether it is a directory, whether its
 * content changes without the forge (no page cache), whether a write
 * replaces it whole, its attributes, its content, its listing, what
 * opening it as a directory asks, and what writing it means. SEMANTICS.md
 * "The kinds of path" is this table in words.
 *
 * Defaults for a NULL function: attr, a directory (0555) or a file (0444,
 * its size that of its content) at the time the mount started; read,
 * -EISDIR for a directory, else nothing; list, the fixed children
 * (tree_fixed_children), -ENOTDIR for a file; open_dir, nothing to ask.
 * Mode bits are then made to tell the truth (tree.c): 0644 for a file
 * exactly where a write is in scope.
 */
#include "tree/internal.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* The rows, one per kind of path (row_of maps a node to its row). */
enum row {
	R_ROOT,
	R_FORGE,
	R_OWNER,
	R_REPO,
	R_LIST,
	R_ITEM,
	R_FIELD,
	R_ITEM_FILE,
	R_COMMENTS,
	R_COMMENT,
	R_COMMENT_NEW,
	R_PULLS_NEW,
	R_BOTTLES,
	R_BOTTLE,
	R_BOTTLE_FILE,
	R_DONE,
	R_META,
	R_SCOPE,
	R_CAPABILITIES,
	R_LOG,
	R_SCRATCH,
	R_BRANCHES,
	R_BRANCH,
	R_REPO_BUNDLE,
	R_COUNT,
};

/* ---- attributes ---- */

/* A directory the forge gives no time for: the newest the cache knows below it. */
static int attr_dir_time(struct tree *t, const struct node *n, struct tree_attr *out,
			 struct buf *err)
{
	(void)err;
	tree_dir_attr(out, read_dir_time(t, n));
	return 0;
}

/* An item directory (and comments/): the item must exist; its time is the item's. */
static int attr_item_dir(struct tree *t, const struct node *n, struct tree_attr *out,
			 struct buf *err)
{
	struct node item = *n;
	int64_t mtime = 0;
	int r;

	/* A directory's attributes need the item, not its comments. */
	item.kind = N_ITEM;
	r = read_item(t, &item, NULL, &mtime, err);
	if (r < 0)
		return r;
	tree_dir_attr(out, mtime ? mtime : t->start_s);
	/* Where scratch files may be created, the directory says so. */
	if (n->kind == N_ITEM && tree_scratch_dir(t, n))
		out->mode = 0755;
	return 0;
}

/* A forge file: rendered, for its exact size, at its item's (or comment's) time. */
static int attr_forge_file(struct tree *t, const struct node *n, struct tree_attr *out,
			   struct buf *err)
{
	struct buf content = BUF_INIT(0);
	int64_t mtime = 0;
	int r = read_item(t, n, &content, &mtime, err);

	if (r == 0)
		tree_file_attr(out, content.len, mtime ? mtime : t->start_s, 0444);
	buf_release(&content);
	return r;
}

/* comments/new: empty, and there only while its item is. */
static int attr_comment_new(struct tree *t, const struct node *n, struct tree_attr *out,
			    struct buf *err)
{
	int64_t mtime = 0;
	int r = read_item(t, n, NULL, &mtime, err);

	if (r == 0)
		tree_file_attr(out, 0, mtime ? mtime : t->start_s, 0444);
	return r;
}

static int attr_bottle(struct tree *t, const struct node *n, struct tree_attr *out, struct buf *err)
{
	return bottles_getattr(t->opt.bottles, n, out, err);
}

/* The log: its size now, and now as its time (it changes with every write). */
static int attr_log(struct tree *t, const struct node *n, struct tree_attr *out, struct buf *err)
{
	struct buf content = BUF_INIT(0);
	int r;

	(void)n;
	(void)err;
	r = wlog_text(t->opt.write.log, &content);
	tree_file_attr(out, content.len, time(NULL), 0444);
	out->volatile_content = true;
	buf_release(&content);
	return r;
}

/* A scratch file: there when the directory allows scratch files and one has the name. */
static int attr_scratch(struct tree *t, const struct node *n, struct tree_attr *out,
			struct buf *err)
{
	struct files_stat st;
	int r;

	(void)err;
	r = tree_scratch_dir(t, n) ? files_scratch_stat(t->files, n, &st) : -ENOENT;
	if (r == 0)
		tree_file_attr(out, st.size, st.mtime, 0644);
	return r;
}

/* ---- content ---- */

static int read_forge_file(struct tree *t, const struct node *n, struct buf *out, struct buf *err)
{
	int64_t mtime;

	return read_item(t, n, out, &mtime, err);
}

static int read_bottle(struct tree *t, const struct node *n, struct buf *out, struct buf *err)
{
	return bottles_read(t->opt.bottles, n, out, err);
}

static int read_done(struct tree *t, const struct node *n, struct buf *out, struct buf *err)
{
	(void)n;
	(void)err;
	return write_done_text(t->write, out);
}

static int read_scope(struct tree *t, const struct node *n, struct buf *out, struct buf *err)
{
	(void)n;
	(void)err;
	return content_scope(t->scope, out);
}

static int read_capabilities(struct tree *t, const struct node *n, struct buf *out, struct buf *err)
{
	struct forge_capabilities caps;

	(void)n;
	(void)err;
	memset(&caps, 0, sizeof(caps));
	cache_capabilities(t->cache, &caps);
	return content_capabilities(&caps, out);
}

static int read_log(struct tree *t, const struct node *n, struct buf *out, struct buf *err)
{
	(void)n;
	(void)err;
	return wlog_text(t->opt.write.log, out);
}

/* A scratch file is read through its open file (files.c), never rendered. */
static int read_scratch(struct tree *t, const struct node *n, struct buf *out, struct buf *err)
{
	(void)t;
	(void)n;
	(void)out;
	(void)err;
	return -ENOENT;
}

/* ---- listings ---- */

/* /forge lists nothing: owners are looked up by name. */
static int list_nothing(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
			struct buf *err)
{
	(void)t;
	(void)dir;
	(void)fill;
	(void)ud;
	(void)err;
	return 0;
}

static int list_bottles(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
			struct buf *err)
{
	return bottles_list(t->opt.bottles, dir, fill, ud, err);
}

int tree_list_fixed(const struct node *dir, tree_fill_fn fill, void *ud)
{
	const char *const *names;
	int n = tree_fixed_children(dir, &names), i;

	if (n < 0)
		return -ENOTDIR;
	for (i = 0; i < n; i++)
		if (fill(ud, names[i], NULL) != 0)
			break;
	return 0;
}

/* An item directory: the item must exist; its fixed files, then its scratch files. */
static int list_item(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
		     struct buf *err)
{
	int64_t mtime;
	int r = read_item(t, dir, NULL, &mtime, err);

	if (r == 0)
		r = tree_list_fixed(dir, fill, ud);
	if (r == 0 && tree_scratch_dir(t, dir))
		r = tree_list_scratch(t, dir, fill, ud);
	return r;
}

/* A repository: issues/ and pulls/ unless the forge is bare git, branches/, repo.bundle. */
static int list_repo(struct tree *t, const struct node *dir, tree_fill_fn fill, void *ud,
		     struct buf *err)
{
	struct forge_capabilities caps;
	const char *const *names;
	int n = tree_fixed_children(dir, &names), i;

	(void)err;
	memset(&caps, 0, sizeof(caps));
	cache_capabilities(t->cache, &caps);
	for (i = 0; i < n; i++) {
		if (caps.git_only &&
		    (strcmp(names[i], "issues") == 0 || strcmp(names[i], "pulls") == 0))
			continue;
		if (fill(ud, names[i], NULL) != 0)
			break;
	}
	return 0;
}

/* ---- opening a directory: the request its listing makes ---- */

static int open_owner(struct tree *t, const struct node *dir, struct buf *err)
{
	return cache_list_repos(t->cache, dir->owner, NULL, err);
}

static int open_list(struct tree *t, const struct node *dir, struct buf *err)
{
	return cache_list_issues(t->cache, dir->owner, dir->repo,
				 dir->pull ? FORGE_PULLS : FORGE_ISSUES, NULL, err);
}

static int open_item(struct tree *t, const struct node *dir, struct buf *err)
{
	int64_t mtime;

	return read_item(t, dir, NULL, &mtime, err);
}

/* ---- the table ---- */

#define READ_ONLY "this part of the tree is read-only"

static const struct kind kinds[R_COUNT] = {
    [R_ROOT] = {"/", .dir = true, .attr = attr_dir_time, .writes = WRITE_NONE,
		.why_not = READ_ONLY},
    [R_FORGE] = {"/forge: owners by name, lists nothing", .dir = true, .attr = attr_dir_time,
		 .list = list_nothing, .why_not = READ_ONLY},
    [R_OWNER] = {"/forge/<owner>: its repositories", .dir = true, .attr = attr_dir_time,
		 .list = read_list_repos, .open_dir = open_owner, .why_not = READ_ONLY},
    [R_REPO] = {"/forge/<o>/<r>: issues, pulls, branches, repo.bundle", .dir = true,
		.attr = attr_dir_time, .list = list_repo, .why_not = READ_ONLY},
    [R_LIST] = {".../issues, .../pulls: the items", .dir = true, .attr = attr_dir_time,
		.list = read_list_items, .open_dir = open_list, .why_not = READ_ONLY},
    [R_ITEM] = {".../<n>: one item; scratch files where writable", .dir = true,
		.attr = attr_item_dir, .list = list_item, .open_dir = open_item,
		.why_not = READ_ONLY},
    [R_FIELD] = {".../<n>/{title,body,state,labels}: a field, writable in scope",
		 .attr = attr_forge_file, .read = read_forge_file, .writes = WRITE_FIELD},
    [R_ITEM_FILE] = {".../<n>/{author,issue.json,pr.json,thread.md,head,base,merged,diff}",
		     .attr = attr_forge_file, .read = read_forge_file,
		     .why_not = "only title, body, state, labels and comments/new are writable"},
    [R_COMMENTS] = {".../<n>/comments: new and one file per comment", .dir = true,
		    .attr = attr_item_dir, .list = read_list_comments, .open_dir = open_item,
		    .why_not = READ_ONLY},
    [R_COMMENT] = {".../comments/<id>: one comment's body", .attr = attr_forge_file,
		   .read = read_forge_file, .why_not = READ_ONLY},
    [R_COMMENT_NEW] = {".../comments/new: each write posts a comment", .whole_file = true,
		       .attr = attr_comment_new, .writes = WRITE_COMMENT},
    [R_PULLS_NEW] = {".../pulls/new: a write opens a pull request", .whole_file = true,
		     .writes = WRITE_PULL},
    [R_BOTTLES] = {"/bottles: the bottles of --bottles", .dir = true, .attr = attr_dir_time,
		   .list = list_bottles, .why_not = READ_ONLY},
    [R_BOTTLE] = {"/bottles/<name>", .dir = true, .attr = attr_bottle, .list = list_bottles,
		  .why_not = READ_ONLY},
    [R_BOTTLE_FILE] = {"/bottles/<name>/{resolved.json,source,error}", .volatile_content = true,
		       .attr = attr_bottle, .read = read_bottle, .why_not = READ_ONLY},
    [R_DONE] = {"/done: the done signal; reads as the one that stands", .volatile_content = true,
		.whole_file = true, .read = read_done, .writes = WRITE_DONE},
    [R_META] = {"/.bottlefs", .dir = true, .attr = attr_dir_time, .why_not = READ_ONLY},
    [R_SCOPE] = {"/.bottlefs/scope: what this mount may write", .volatile_content = true,
		 .read = read_scope, .why_not = READ_ONLY},
    [R_CAPABILITIES] = {"/.bottlefs/capabilities.json: the adapter's", .read = read_capabilities,
			.why_not = READ_ONLY},
    [R_LOG] = {"/.bottlefs/log: the last write outcomes", .volatile_content = true,
	       .attr = attr_log, .read = read_log, .why_not = READ_ONLY},
    [R_SCRATCH] = {".../<n>/<other name>: a scratch file (files.c)", .attr = attr_scratch,
		   .read = read_scratch, .why_not = READ_ONLY},
    [R_BRANCHES] = {"/forge/<o>/<r>/branches: the branches, nested like refs/heads", .dir = true,
		    .attr = branches_attr, .list = branches_list, .open_dir = branches_open_dir,
		    .why_not = READ_ONLY},
    /* A directory or a file as the branch list says; writing pushes (branches.c). */
    [R_BRANCH] = {".../branches/<name>: \"<commit>\\n\", or a directory; a bundle written "
		  "pushes",
		  .volatile_content = true, .attr = branches_attr, .read = branches_read,
		  .list = branches_list, .open_dir = branches_open_dir,
		  .why_not = "a branch is pushed by writing a git bundle to it, in policy only"},
    [R_REPO_BUNDLE] = {"/forge/<o>/<r>/repo.bundle: a git bundle, from a file on disk",
		       .volatile_content = true, .attr = bundle_attr, .why_not = READ_ONLY},
};

static enum row row_of(const struct node *n)
{
	switch (n->kind) {
	case N_ROOT:
		return R_ROOT;
	case N_FORGE:
		return R_FORGE;
	case N_OWNER:
		return R_OWNER;
	case N_REPO:
		return R_REPO;
	case N_LIST:
		return R_LIST;
	case N_ITEM:
		return R_ITEM;
	case N_ITEM_FILE:
		return n->file == F_TITLE || n->file == F_BODY || n->file == F_STATE ||
			       n->file == F_LABELS
			   ? R_FIELD
			   : R_ITEM_FILE;
	case N_COMMENTS:
		return R_COMMENTS;
	case N_COMMENT:
		return R_COMMENT;
	case N_COMMENT_NEW:
		return R_COMMENT_NEW;
	case N_PULLS_NEW:
		return R_PULLS_NEW;
	case N_BOTTLES:
		return R_BOTTLES;
	case N_BOTTLE:
		return R_BOTTLE;
	case N_BOTTLE_FILE:
		return R_BOTTLE_FILE;
	case N_DONE:
		return R_DONE;
	case N_META:
		return R_META;
	case N_META_FILE:
		return n->mfile == M_SCOPE ? R_SCOPE : n->mfile == M_LOG ? R_LOG : R_CAPABILITIES;
	case N_SCRATCH:
		return R_SCRATCH;
	case N_BRANCHES:
		return R_BRANCHES;
	case N_BRANCH:
		return R_BRANCH;
	case N_REPO_BUNDLE:
		return R_REPO_BUNDLE;
	}
	return R_ROOT;
}

const struct kind *tree_kind(const struct node *n)
{
	return &kinds[row_of(n)];
}

void tree_target(const struct node *n, struct write_target *out, struct buf *path)
{
	const struct kind *k = tree_kind(n);
	static const enum write_field fields[] = {
	    [F_TITLE] = WRITE_TITLE,
	    [F_BODY] = WRITE_BODY,
	    [F_STATE] = WRITE_STATE,
	    [F_LABELS] = WRITE_LABELS,
	};

	memset(out, 0, sizeof(*out));
	out->kind = k->writes;
	out->why_not = k->why_not ? k->why_not : READ_ONLY;
	out->owner = n->owner;
	out->repo = n->repo;
	out->pull = n->pull;
	out->number = n->number;
	if (k->writes == WRITE_FIELD)
		out->field = fields[n->file];
	if (path && tree_node_path(n, path) == 0)
		out->path = buf_cstr(path);
}
