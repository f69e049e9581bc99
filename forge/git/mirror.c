/*
 * git/mirror: the mirrors' lifecycle: names, the lock, creation, the LRU
 * table and eviction, the scan at start (see mirror.h; the rest of the
 * module is in mirror_git.c, mirror_bundle.c, mirror_import.c and
 * mirror_push.c, sharing mirror_int.h).
 *
 * Every git child runs with cwd and HOME = <dir>/.home and GIT_DIR = the
 * mirror; only fetch, ls-remote and push get the remote's auth. The
 * per-repository lock is a flock on <repo>.git/bottlefs/lock taken by
 * polling up to the operation's deadline; after taking it the holder
 * checks that the lock file it holds is still the one at that path (an
 * eviction renames the whole directory away while holding the lock), and
 * starts again if not.
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "forge/git/mirror_int.h"
#include "util/str.h"

#define NAME_MAX_BYTES 255
#define LOCK_POLL_MS 10

__thread int mi_held_lock_fd = -1;

/* ---- small helpers ------------------------------------------------------ */

char *mi_path(const char *fmt, ...)
{
	struct buf b = BUF_INIT(8192);
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* rm -rf of a directory of ours (never follows a symlink out). */
void mi_remove_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * A validated name percent-encoded into a file name: [A-Za-z0-9_-] and a
 * '.' that is not first are kept, everything else is %XX. Injective, so two
 * names never share a mirror, and never "", ".", ".." or starting with '.'.
 */
static int enc_name(struct buf *out, const char *s, const char *what, struct buf *err)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = s ? strlen(s) : 0;

	if (n == 0 || n > NAME_MAX_BYTES)
		return buf_fail(err, -EINVAL, "%s name is empty or longer than %d bytes", what,
				NAME_MAX_BYTES);
	if (strchr(s, '/') || str_has_control(s, n, false) || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return buf_fail(err, -EINVAL, "%s name holds '/' or a control byte, or is a dot",
				what);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int r;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-' || (c == '.' && i > 0))
			r = buf_putc(out, (char)c);
		else
			r = buf_printf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
		if (r < 0)
			return buf_fail(err, r, "%s name too long", what);
	}
	return 0;
}

/* "<enc owner>/<enc repo>.git" (new in *key). */
static int repo_key(const char *owner, const char *repo, char **key, struct buf *err)
{
	struct buf b = BUF_INIT(4096);
	int r = enc_name(&b, owner, "owner", err);

	if (r == 0)
		r = buf_putc(&b, '/');
	if (r == 0)
		r = enc_name(&b, repo, "repository", err);
	if (r == 0)
		r = buf_puts(&b, ".git");
	if (r < 0) {
		buf_release(&b);
		return r == -EINVAL ? r : buf_fail(err, -ENOMEM, "out of memory");
	}
	*key = buf_steal(&b, NULL);
	return *key ? 0 : buf_fail(err, -ENOMEM, "out of memory");
}

char *mirror_path(struct mirrors *m, const char *owner, const char *repo)
{
	char *key = NULL, *p;

	if (repo_key(owner, repo, &key, NULL) < 0)
		return NULL;
	p = mi_path("%s/%s", m->dir, key);
	free(key);
	return p;
}

/* ---- the LRU table ------------------------------------------------------ */

static struct lru_entry *lru_find(struct mirrors *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (strcmp(m->v[i].key, key) == 0)
			return &m->v[i];
	return NULL;
}

/* Marks key used now (adding it); 0 or -ENOMEM. Caller holds m->lock. */
static int lru_touch_locked(struct mirrors *m, const char *key)
{
	struct lru_entry *e = lru_find(m, key);

	if (!e) {
		if (m->n == m->cap) {
			size_t cap = m->cap ? 2 * m->cap : 16;
			void *v = realloc(m->v, cap * sizeof(*m->v));

			if (!v)
				return -ENOMEM;
			m->v = v;
			m->cap = cap;
		}
		e = &m->v[m->n];
		e->key = strdup(key);
		if (!e->key)
			return -ENOMEM;
		m->n++;
	}
	e->used = ++m->clock;
	return 0;
}

static void lru_remove_locked(struct mirrors *m, struct lru_entry *e)
{
	free(e->key);
	*e = m->v[--m->n];
}

/* Takes key's flock without waiting: the fd, or -1 when it is busy or gone. */
static int try_lock_key(struct mirrors *m, const char *key)
{
	char *p = mi_path("%s/%s/" META "/lock", m->dir, key);
	int fd = p ? open(p, O_RDWR | O_CLOEXEC) : -1;

	free(p);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int cmp_used(const void *a, const void *b)
{
	const struct lru_entry *const *x = a, *const *y = b;

	return (*x)->used < (*y)->used ? -1 : (*x)->used > (*y)->used;
}

/*
 * Deletes least recently used mirrors, never keep and never one in use,
 * until at most max remain. The directory is renamed away while its lock
 * is held (a waiter then finds its lock file gone and starts over), then
 * removed outside the table's mutex.
 */
static void evict(struct mirrors *m, const char *keep)
{
	for (;;) {
		struct lru_entry **order = NULL, *victim = NULL;
		char *from = NULL, *to = NULL;
		size_t i, k = 0;
		int fd = -1;
		bool moved = false;

		pthread_mutex_lock(&m->lock);
		if (m->n <= m->max || !(order = calloc(m->n, sizeof(*order)))) {
			pthread_mutex_unlock(&m->lock);
			return;
		}
		for (i = 0; i < m->n; i++)
			if (strcmp(m->v[i].key, keep) != 0)
				order[k++] = &m->v[i];
		qsort(order, k, sizeof(*order), cmp_used);
		/* Oldest first; one that is in use is skipped. */
		for (i = 0; i < k && fd < 0; i++) {
			fd = try_lock_key(m, order[i]->key);
			if (fd >= 0)
				victim = order[i];
		}
		free(order);
		if (victim) {
			from = mi_path("%s/%s", m->dir, victim->key);
			to = mi_path("%s/.trash-%d-%u", m->dir, (int)getpid(), m->trash_seq++);
			moved = from && to && rename(from, to) == 0;
			if (moved)
				lru_remove_locked(m, victim);
		}
		pthread_mutex_unlock(&m->lock);
		if (fd >= 0)
			close(fd);
		if (moved)
			mi_remove_tree(to);
		free(from);
		free(to);
		if (!moved)
			return; /* everything else is in use: over max for now */
	}
}

/* ---- creating and locking a mirror -------------------------------------- */

void mi_held_release(struct held *h)
{
	if (h->fd >= 0 && mi_held_lock_fd == h->fd)
		mi_held_lock_fd = -1;
	if (h->fd >= 0)
		close(h->fd); /* drops the flock */
	h->fd = -1;
	free(h->key);
	free(h->git_dir);
	free(h->meta);
	h->key = h->git_dir = h->meta = NULL;
}

/* Removes the entries of dir whose names start with one of prefixes or end with suffix. */
static void clear_matching(const char *dir, const char *const *prefixes, const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		size_t i, len = strlen(e->d_name), sl = suffix ? strlen(suffix) : 0;
		bool hit = sl && len > sl && strcmp(e->d_name + len - sl, suffix) == 0;

		for (i = 0; prefixes && prefixes[i] && !hit; i++)
			hit = strncmp(e->d_name, prefixes[i], strlen(prefixes[i])) == 0;
		if (hit && strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			char *p = mi_path("%s/%s", dir, e->d_name);

			if (p)
				mi_remove_tree(p);
			free(p);
		}
	}
	if (d)
		closedir(d);
}

static int rm_lock_file(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	size_t len = strlen(path);

	(void)st;
	(void)ftw;
	if (flag == FTW_F && len > 5 && strcmp(path + len - 5, ".lock") == 0)
		unlink(path);
	return 0;
}

/*
 * What a git killed at its deadline, or a daemon killed outright, left in
 * the mirror: quarantines and temporary files of ours, git's *.lock files
 * (which would make every later fetch fail) and its temporary packs. Only
 * called with the flock held, and every git of ours holds the flock while
 * it runs (fd 3), so none of these belongs to a git still at work.
 */
static void clear_stale(const struct held *h)
{
	static const char *const ours[] = {"q-", "tmp-", NULL};
	static const char *const packs[] = {"tmp_", ".tmp-", NULL};
	static const char *const objects[] = {"incoming-", "tmp_objdir", NULL};
	char *p;

	clear_matching(h->meta, ours, NULL);
	clear_matching(h->git_dir, NULL, ".lock");
	if ((p = mi_path("%s/refs", h->git_dir))) {
		nftw(p, rm_lock_file, 16, FTW_PHYS);
		free(p);
	}
	if ((p = mi_path("%s/objects/pack", h->git_dir))) {
		clear_matching(p, packs, NULL);
		free(p);
	}
	if ((p = mi_path("%s/objects", h->git_dir))) {
		clear_matching(p, objects, NULL);
		free(p);
	}
}

/*
 * Takes the lock of an existing mirror, polling up to deadline: 0,
 * -ENOENT when the mirror does not exist, -ETIMEDOUT.
 */
static int lock_existing(struct mirrors *m, struct held *h, uint64_t deadline, struct buf *err)
{
	char *lock = mi_path("%s/lock", h->meta);
	int r = 0;

	if (!lock)
		return buf_fail(err, -ENOMEM, "out of memory");
	for (;;) {
		struct stat a, b;
		int fd = open(lock, O_RDWR | O_CLOEXEC);

		if (fd < 0) {
			r = errno == ENOENT
				? -ENOENT
				: buf_fail(err, -EIO, "cannot open the mirror's lock: %s",
					   strerror(errno));
			break;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			close(fd);
			if (gitrun_now_ms() + LOCK_POLL_MS >= deadline) {
				r = buf_fail(
				    err, -ETIMEDOUT,
				    "timed out waiting for another operation on the mirror");
				break;
			}
			sleep_ms(LOCK_POLL_MS);
			continue;
		}
		/* Still the lock at that path (not a mirror evicted meanwhile)? */
		if (fstat(fd, &a) == 0 && stat(lock, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			h->fd = fd;
			mi_held_lock_fd = fd;
			clear_stale(h);
			break;
		}
		close(fd);
	}
	free(lock);
	(void)m;
	return r;
}

/* Makes the mirror (git init --bare in a temporary place, then rename): 0 or -errno. */
static int create_mirror(struct mirrors *m, struct held *h, uint64_t deadline, struct buf *err)
{
	static const char *const init[] = {"init", "--bare", "--quiet", NULL};
	struct gitrun_result res;
	char *owner_dir = NULL, *tmp = NULL, *meta = NULL, *lock = NULL, *slash;
	int r = 0, fd;

	owner_dir = strdup(h->git_dir);
	if (!owner_dir)
		return buf_fail(err, -ENOMEM, "out of memory");
	slash = strrchr(owner_dir, '/');
	*slash = '\0';
	if (mkdir(owner_dir, 0700) < 0 && errno != EEXIST) {
		r = buf_fail(err, -EIO, "cannot create the mirror directory: %s", strerror(errno));
		goto out;
	}
	tmp = mi_path("%s/.new-XXXXXX", owner_dir);
	if (!tmp || !mkdtemp(tmp)) {
		r = buf_fail(err, -EIO, "cannot create a mirror: %s", strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	r = mi_local_git(m, tmp, NULL, init, NULL, deadline, &res, err);
	gitrun_result_release(&res);
	if (r < 0)
		goto out;
	meta = mi_path("%s/" META, tmp);
	lock = mi_path("%s/" META "/lock", tmp);
	if (!meta || !lock || mkdir(meta, 0700) < 0 ||
	    (fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		r = buf_fail(err, -EIO, "cannot create the mirror's lock: %s", strerror(errno));
		goto out;
	}
	close(fd);
	if (rename(tmp, h->git_dir) < 0) {
		/* Someone else made it first: theirs is as good. */
		if (errno != EEXIST && errno != ENOTEMPTY)
			r = buf_fail(err, -EIO, "cannot create a mirror: %s", strerror(errno));
		mi_remove_tree(tmp);
	}
out:
	free(owner_dir);
	free(tmp);
	free(meta);
	free(lock);
	return r;
}

/*
 * Locks owner/repo's mirror, creating it when create is set: 0, -ENOENT
 * (absent and not created), -ETIMEDOUT, -EINVAL (names), -EIO.
 */
int mi_hold(struct mirrors *m, const char *owner, const char *repo, bool create, uint64_t deadline,
	    struct held *h, struct buf *err)
{
	char *used;
	int r, tries;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	if ((r = repo_key(owner, repo, &h->key, err)) < 0)
		return r;
	h->git_dir = mi_path("%s/%s", m->dir, h->key);
	h->meta = mi_path("%s/%s/" META, m->dir, h->key);
	if (!h->git_dir || !h->meta) {
		mi_held_release(h);
		return buf_fail(err, -ENOMEM, "out of memory");
	}
	for (tries = 0; tries < 8; tries++) {
		r = lock_existing(m, h, deadline, err);
		if (r != -ENOENT || !create)
			break;
		if ((r = create_mirror(m, h, deadline, err)) < 0)
			break;
		r = -ENOENT; /* evicted between creating and locking: go again */
	}
	if (r < 0) {
		mi_held_release(h);
		return r;
	}
	pthread_mutex_lock(&m->lock);
	r = lru_touch_locked(m, h->key);
	pthread_mutex_unlock(&m->lock);
	used = mi_path("%s/used", h->meta);
	if (used) {
		int fd = open(used, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		if (fd >= 0) {
			futimens(fd, NULL);
			close(fd);
		}
	}
	free(used);
	if (r < 0) {
		mi_held_release(h);
		return buf_fail(err, -ENOMEM, "out of memory");
	}
	evict(m, h->key);
	return 0;
}

/* ---- the table at start ------------------------------------------------- */

struct found {
	char *key;
	struct timespec used;
};

static int cmp_found(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	if (x->used.tv_nsec != y->used.tv_nsec)
		return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
	return strcmp(x->key, y->key);
}

/* Seeds the LRU table from the mirrors on disk, oldest use first; clears leftovers. */
static int scan(struct mirrors *m)
{
	struct found *f = NULL;
	size_t n = 0, cap = 0, i;
	DIR *top = opendir(m->dir);
	struct dirent *o;
	int r = 0;

	if (!top)
		return -errno;
	while ((o = readdir(top))) {
		DIR *d;
		struct dirent *e;
		char *od;

		if (o->d_name[0] == '.') {
			if (strncmp(o->d_name, ".trash-", 7) == 0) {
				char *p = mi_path("%s/%s", m->dir, o->d_name);

				if (p)
					mi_remove_tree(p);
				free(p);
			}
			continue;
		}
		od = mi_path("%s/%s", m->dir, o->d_name);
		d = od ? opendir(od) : NULL;
		while (d && (e = readdir(d))) {
			size_t len = strlen(e->d_name);
			struct stat st;
			char *used;

			if (strncmp(e->d_name, ".new-", 5) == 0) {
				char *p = mi_path("%s/%s", od, e->d_name);

				if (p)
					mi_remove_tree(p);
				free(p);
				continue;
			}
			if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".git"))
				continue;
			used = mi_path("%s/%s/" META "/used", od, e->d_name);
			if (n == cap) {
				void *v = realloc(f, (cap ? 2 * cap : 16) * sizeof(*f));

				if (!v) {
					free(used);
					r = -ENOMEM;
					break;
				}
				f = v;
				cap = cap ? 2 * cap : 16;
			}
			memset(&f[n], 0, sizeof(f[n]));
			if (used && stat(used, &st) == 0)
				f[n].used = st.st_mtim;
			free(used);
			f[n].key = mi_path("%s/%s", o->d_name, e->d_name);
			if (f[n].key)
				n++;
		}
		if (d)
			closedir(d);
		free(od);
	}
	closedir(top);
	if (n)
		qsort(f, n, sizeof(*f), cmp_found);
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < n; i++) {
		if (r == 0)
			r = lru_touch_locked(m, f[i].key);
		free(f[i].key);
	}
	pthread_mutex_unlock(&m->lock);
	free(f);
	return r;
}

int mirrors_new(const struct mirror_opts *o, struct mirrors **out, struct buf *err)
{
	struct mirrors *m;
	int r;

	if (!o->dir || o->dir[0] != '/')
		return buf_fail(err, -EINVAL, "the mirror directory must be an absolute path");
	m = calloc(1, sizeof(*m));
	if (!m)
		return buf_fail(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&m->lock, NULL);
	m->max = o->max_count ? o->max_count : MIRROR_MAX_DEFAULT;
	m->dir = strdup(o->dir);
	m->home = mi_path("%s/.home", o->dir);
	if (!m->dir || !m->home) {
		mirrors_free(m);
		return buf_fail(err, -ENOMEM, "out of memory");
	}
	if ((mkdir(m->dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(m->home, 0700) < 0 && errno != EEXIST)) {
		r = buf_fail(err, -EIO, "cannot create the mirror directory '%s': %s", m->dir,
			     strerror(errno));
		mirrors_free(m);
		return r;
	}
	/* Ours alone, whatever it was before (git reads nothing there but ours). */
	if (chmod(m->dir, 0700) < 0 || chmod(m->home, 0700) < 0) {
		r = buf_fail(err, -EIO, "cannot restrict the mirror directory '%s': %s", m->dir,
			     strerror(errno));
		mirrors_free(m);
		return r;
	}
	if ((r = scan(m)) < 0) {
		r = buf_fail(err, r, "cannot read the mirror directory '%s': %s", m->dir,
			     strerror(-r));
		mirrors_free(m);
		return r;
	}
	evict(m, "");
	*out = m;
	return 0;
}

void mirrors_free(struct mirrors *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++)
		free(m->v[i].key);
	free(m->v);
	free(m->dir);
	free(m->home);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

size_t mirrors_count(struct mirrors *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->n;
	pthread_mutex_unlock(&m->lock);
	return n;
}
