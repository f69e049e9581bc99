/* scope: what this mount may write (write.h). */
#include "write/write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/str.h"

void scope_init(struct scope *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
}

void scope_release(struct scope *s)
{
	scope_release_push(s);
	free(s->prs);
	s->prs = NULL;
	s->n_prs = 0;
	pthread_mutex_destroy(&s->lock);
}

int scope_assign(struct scope *s, const char *assign, struct buf *err)
{
	const char *slash = strchr(assign, '/'), *hash = strrchr(assign, '#');
	uint64_t n;

	if (!slash || !hash || hash < slash ||
	    !names_valid_owner(assign, (size_t)(slash - assign)) ||
	    !names_valid_repo(slash + 1, (size_t)(hash - slash - 1)) ||
	    str_to_u64(hash + 1, INT64_MAX, false, &n) < 0) {
		if (err)
			buf_note(err, "--assign must be OWNER/REPO#N (was '%s')", assign);
		return -EINVAL;
	}
	memcpy(s->owner, assign, (size_t)(slash - assign));
	s->owner[slash - assign] = '\0';
	memcpy(s->repo, slash + 1, (size_t)(hash - slash - 1));
	s->repo[hash - slash - 1] = '\0';
	s->issue = n;
	s->assigned = true;
	return 0;
}

int scope_add_pr(struct scope *s, uint64_t pr)
{
	uint64_t *p;
	size_t i;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->n_prs; i++)
		if (s->prs[i] == pr)
			goto out;
	p = realloc(s->prs, (s->n_prs + 1) * sizeof(*p));
	if (!p) {
		r = -ENOMEM;
		goto out;
	}
	p[s->n_prs++] = pr;
	s->prs = p;
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

int scope_prs(struct scope *s, uint64_t **prs, size_t *n)
{
	uint64_t *copy = NULL;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (s->n_prs) {
		copy = malloc(s->n_prs * sizeof(*copy));
		if (!copy)
			r = -ENOMEM;
		else
			memcpy(copy, s->prs, s->n_prs * sizeof(*copy));
	}
	if (r == 0) {
		*prs = copy;
		*n = s->n_prs;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

void scope_set_done(struct scope *s)
{
	pthread_mutex_lock(&s->lock);
	s->done = true;
	pthread_mutex_unlock(&s->lock);
}

bool scope_is_done(struct scope *s)
{
	bool d;

	pthread_mutex_lock(&s->lock);
	d = s->done;
	pthread_mutex_unlock(&s->lock);
	return d;
}

static bool same_repo(const struct scope *s, const char *owner, const char *repo)
{
	return strcmp(s->owner, owner) == 0 && strcmp(s->repo, repo) == 0;
}

static bool has_pr(struct scope *s, uint64_t pr)
{
	bool found = false;
	size_t i;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->n_prs && !found; i++)
		found = s->prs[i] == pr;
	pthread_mutex_unlock(&s->lock);
	return found;
}

bool scope_item_writable(struct scope *s, const char *owner, const char *repo, bool pull,
			 uint64_t number)
{
	if (!s->assigned || !same_repo(s, owner, repo))
		return false;
	return pull ? has_pr(s, number) : number == s->issue;
}

static int deny(struct buf *err, const char *why)
{
	if (err)
		buf_note(err, "%s", why);
	return -EACCES;
}

int scope_check(struct scope *s, const struct write_target *t, struct buf *err)
{
	if (!s->assigned)
		return deny(err, "read-only mount: no assignment (--assign)");
	switch (t->kind) {
	case WRITE_FIELD:
	case WRITE_COMMENT:
		if (!scope_item_writable(s, t->owner, t->repo, t->pull, t->number))
			return deny(err, "outside the assignment: only the assigned issue and the "
					 "pull requests opened for it are writable");
		return 0;
	case WRITE_PULL:
		if (!same_repo(s, t->owner, t->repo))
			return deny(err,
				    "pull requests can only be opened in the assigned repository");
		return 0;
	case WRITE_DONE:
		if (scope_is_done(s))
			return deny(err, "a done signal already stands");
		return 0;
	default:
		return deny(err, t->why_not ? t->why_not : "this part of the tree is read-only");
	}
}
