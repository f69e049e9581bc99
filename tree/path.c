/*
 * path: path -> node and node -> path (tree.h), pure: a name that cannot
 * name anything is -ENOENT here, before anything is asked.
 */
#include "tree/internal.h"

#include <errno.h>
#include <string.h>

#include "util/str.h"

static const char *const item_file_names[] = {
    [F_TITLE] = "title",      [F_BODY] = "body",     [F_STATE] = "state",
    [F_LABELS] = "labels",    [F_AUTHOR] = "author", [F_ISSUE_JSON] = "issue.json",
    [F_THREAD] = "thread.md", [F_HEAD] = "head",     [F_BASE] = "base",
    [F_MERGED] = "merged",    [F_DIFF] = "diff",     [F_PR_JSON] = "pr.json",
};

static const char *const root_children[] = {"forge", "bottles", "done", ".bottlefs"};
static const char *const repo_children[] = {"issues", "pulls", "branches", "repo.bundle"};
static const char *const meta_children[] = {"scope", "capabilities.json", "log"};
static const char *const issue_children[] = {"title",  "body",	     "state",	  "labels",
					     "author", "issue.json", "thread.md", "comments"};
static const char *const pull_children[] = {"title",  "body",	 "state",     "labels",
					    "author", "head",	 "base",      "merged",
					    "diff",   "pr.json", "thread.md", "comments"};
static const char *const bottle_file_names[] = {"resolved.json", "source", "error"};

const char *tree_item_file_name(enum item_file f)
{
	return item_file_names[f];
}

const char *tree_bottle_file_name(enum bottle_file f)
{
	return bottle_file_names[f];
}

const char *tree_meta_file_name(enum meta_file f)
{
	return meta_children[f];
}

/* Splits a path into at most max components; -ENOENT if there are more. */
struct comp {
	const char *s;
	size_t n;
};

static int split(const char *path, struct comp *c, size_t max, size_t *count)
{
	size_t k = 0;
	const char *p = path;

	if (*p != '/')
		return -ENOENT;
	while (*p) {
		const char *start;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && *p != '/')
			p++;
		if (k == max)
			return -ENOENT;
		c[k].s = start;
		c[k].n = (size_t)(p - start);
		k++;
	}
	*count = k;
	return 0;
}

static bool eq(const struct comp *c, const char *lit)
{
	return c->n == strlen(lit) && memcmp(c->s, lit, c->n) == 0;
}

static int lookup_name(const struct comp *c, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (eq(c, names[i]))
			return (int)i;
	return -1;
}

static int resolve_item_file(const struct comp *c, struct node *out)
{
	const char *const *names = out->pull ? pull_children : issue_children;
	size_t n = out->pull ? sizeof(pull_children) / sizeof(*pull_children)
			     : sizeof(issue_children) / sizeof(*issue_children);
	int i = lookup_name(c, names, n), f;

	if (i < 0)
		return -ENOENT;
	if (eq(c, "comments")) {
		out->kind = N_COMMENTS;
		return 0;
	}
	f = lookup_name(c, item_file_names, sizeof(item_file_names) / sizeof(*item_file_names));
	out->kind = N_ITEM_FILE;
	out->file = (enum item_file)f;
	return 0;
}

/*
 * branches/<c...>: the components joined with '/' must be a valid branch
 * name (git check-ref-format), or one followed by ".lock", or a directory
 * of them (every prefix of a valid name is one: the listing decides).
 */
static int resolve_branch(const struct comp *c, size_t k, struct node *out)
{
	size_t i, len = 0;

	out->kind = N_BRANCHES;
	if (k == 0)
		return 0;
	for (i = 0; i < k; i++) {
		if (len + c[i].n + 1 > TREE_NAME_MAX)
			return -ENOENT;
		if (i)
			out->name[len++] = '/';
		memcpy(out->name + len, c[i].s, c[i].n);
		len += c[i].n;
	}
	out->name[len] = '\0';
	if (!str_branch_name_valid(out->name, len) &&
	    !(len > 5 && strcmp(out->name + len - 5, ".lock") == 0 &&
	      str_branch_name_valid(out->name, len - 5)))
		return -ENOENT;
	out->kind = N_BRANCH;
	return 0;
}

static int resolve_forge(const struct comp *c, size_t k, struct node *out)
{
	out->kind = N_FORGE;
	if (k == 1)
		return 0;
	if (!names_valid_owner(c[1].s, c[1].n))
		return -ENOENT;
	memcpy(out->owner, c[1].s, c[1].n);
	out->owner[c[1].n] = '\0';
	out->kind = N_OWNER;
	if (k == 2)
		return 0;
	if (!names_valid_repo(c[2].s, c[2].n))
		return -ENOENT;
	memcpy(out->repo, c[2].s, c[2].n);
	out->repo[c[2].n] = '\0';
	out->kind = N_REPO;
	if (k == 3)
		return 0;
	if (eq(&c[3], "repo.bundle")) {
		out->kind = N_REPO_BUNDLE;
		return k == 4 ? 0 : -ENOENT;
	}
	if (eq(&c[3], "branches"))
		return resolve_branch(c + 4, k - 4, out);
	if (eq(&c[3], "issues"))
		out->pull = false;
	else if (eq(&c[3], "pulls"))
		out->pull = true;
	else
		return -ENOENT;
	out->kind = N_LIST;
	if (k == 4)
		return 0;
	if (out->pull && eq(&c[4], "new")) {
		out->kind = N_PULLS_NEW;
		return k == 5 ? 0 : -ENOENT;
	}
	if (strn_to_u64(c[4].s, c[4].n, TREE_NUMBER_MAX, false, &out->number) < 0)
		return -ENOENT;
	out->kind = N_ITEM;
	if (k == 5)
		return 0;
	if (resolve_item_file(&c[5], out) < 0)
		return -ENOENT;
	if (k == 6)
		return 0;
	if (out->kind != N_COMMENTS || k > 7)
		return -ENOENT;
	if (eq(&c[6], "new")) {
		out->kind = N_COMMENT_NEW;
		return 0;
	}
	if (strn_to_u64(c[6].s, c[6].n, TREE_NUMBER_MAX, false, &out->comment) < 0)
		return -ENOENT;
	out->kind = N_COMMENT;
	return 0;
}

static int resolve_bottles(const struct comp *c, size_t k, struct node *out)
{
	int f;

	out->kind = N_BOTTLES;
	if (k == 1)
		return 0;
	if (!names_valid_bottle(c[1].s, c[1].n))
		return -ENOENT;
	memcpy(out->bottle, c[1].s, c[1].n);
	out->bottle[c[1].n] = '\0';
	out->kind = N_BOTTLE;
	if (k == 2)
		return 0;
	f = lookup_name(&c[2], bottle_file_names, 3);
	if (k > 3 || f < 0)
		return -ENOENT;
	out->kind = N_BOTTLE_FILE;
	out->bfile = (enum bottle_file)f;
	return 0;
}

#define COUNT(a) ((int)(sizeof(a) / sizeof(*(a))))
/* forge/o/r/branches/ and a branch name of at most TREE_NAME_MAX bytes. */
#define TREE_PATH_COMPONENTS (4 + TREE_NAME_MAX / 2 + 1)

int tree_resolve(const char *path, struct node *out)
{
	struct comp c[TREE_PATH_COMPONENTS];
	struct node n;
	size_t k;
	int f;

	if (!path || split(path, c, TREE_PATH_COMPONENTS, &k) < 0)
		return -ENOENT;
	memset(&n, 0, sizeof(n));
	n.kind = N_ROOT;
	if (k == 0)
		goto ok;
	if (eq(&c[0], "forge")) {
		if (resolve_forge(c, k, &n) < 0)
			return -ENOENT;
	} else if (eq(&c[0], "bottles")) {
		if (resolve_bottles(c, k, &n) < 0)
			return -ENOENT;
	} else if (eq(&c[0], "done")) {
		if (k != 1)
			return -ENOENT;
		n.kind = N_DONE;
	} else if (eq(&c[0], ".bottlefs")) {
		n.kind = N_META;
		if (k == 1)
			goto ok;
		f = lookup_name(&c[1], meta_children, COUNT(meta_children));
		if (k > 2 || f < 0)
			return -ENOENT;
		n.kind = N_META_FILE;
		n.mfile = (enum meta_file)f;
	} else {
		return -ENOENT;
	}
ok:
	*out = n;
	return 0;
}

int tree_resolve_scratch(const char *path, struct node *out)
{
	char parent[4096];
	const char *slash, *name;
	const char *const *names;
	struct node n;
	size_t len;
	int i, count;

	if (!path || !(slash = strrchr(path, '/')))
		return -ENOENT;
	name = slash + 1;
	len = strlen(name);
	if (len == 0 || len > TREE_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -ENOENT;
	if ((size_t)(slash - path) >= sizeof(parent))
		return -ENOENT;
	memcpy(parent, path, (size_t)(slash - path));
	parent[slash - path] = '\0';
	if (tree_resolve(parent[0] ? parent : "/", &n) < 0 || n.kind != N_ITEM)
		return -ENOENT;
	count = tree_fixed_children(&n, &names);
	for (i = 0; i < count; i++)
		if (strcmp(names[i], name) == 0)
			return -ENOENT;
	n.kind = N_SCRATCH;
	memcpy(n.name, name, len + 1);
	*out = n;
	return 0;
}

bool tree_same_item(const struct node *a, const struct node *b)
{
	return a->pull == b->pull && a->number == b->number && strcmp(a->owner, b->owner) == 0 &&
	       strcmp(a->repo, b->repo) == 0;
}

int tree_node_path(const struct node *n, struct buf *out)
{
	const char *list = n->pull ? "pulls" : "issues";
	unsigned long long num = (unsigned long long)n->number;

	switch (n->kind) {
	case N_ITEM_FILE:
		return buf_printf(out, "/forge/%s/%s/%s/%llu/%s", n->owner, n->repo, list, num,
				  item_file_names[n->file]);
	case N_COMMENT_NEW:
		return buf_printf(out, "/forge/%s/%s/%s/%llu/comments/new", n->owner, n->repo, list,
				  num);
	case N_COMMENT:
		return buf_printf(out, "/forge/%s/%s/%s/%llu/comments/%llu", n->owner, n->repo,
				  list, num, (unsigned long long)n->comment);
	case N_PULLS_NEW:
		return buf_printf(out, "/forge/%s/%s/pulls/new", n->owner, n->repo);
	case N_SCRATCH:
		return buf_printf(out, "/forge/%s/%s/%s/%llu/%s", n->owner, n->repo, list, num,
				  n->name);
	case N_BRANCH:
		return buf_printf(out, "/forge/%s/%s/branches/%s", n->owner, n->repo, n->name);
	case N_REPO_BUNDLE:
		return buf_printf(out, "/forge/%s/%s/repo.bundle", n->owner, n->repo);
	case N_DONE:
		return buf_puts(out, "/done");
	case N_META_FILE:
		return buf_printf(out, "/.bottlefs/%s", meta_children[n->mfile]);
	default:
		return -EINVAL;
	}
}

bool tree_is_dir(const struct node *n)
{
	return tree_kind(n)->dir; /* the table of node kinds says (kinds.c) */
}

int tree_fixed_children(const struct node *dir, const char *const **names)
{
	switch (dir->kind) {
	case N_ROOT:
		*names = root_children;
		return COUNT(root_children);
	case N_REPO:
		*names = repo_children;
		return COUNT(repo_children);
	case N_META:
		*names = meta_children;
		return COUNT(meta_children);
	case N_ITEM:
		if (dir->pull) {
			*names = pull_children;
			return COUNT(pull_children);
		}
		*names = issue_children;
		return COUNT(issue_children);
	default:
		return -1;
	}
}
