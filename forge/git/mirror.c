/*
 * git/mirror: bare mirrors, repo.bundle and the push (see mirror.h).
 *
 * Every git child runs with cwd and HOME = <dir>/.home and GIT_DIR = the
 * mirror; only fetch, ls-remote and push get the remote's auth. The
 * per-repository lock is a flock on <repo>.git/bottlefs/lock taken by
 * polling up to the operation's deadline; after taking it the holder
 * checks that the lock file it holds is still the one at that path (an
 * eviction renames the whole directory away while holding the lock), and
 * starts again if not.
 */
#include "forge/git/mirror.h"

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

#include "util/str.h"

#define NAME_MAX_BYTES 255
#define LOCK_POLL_MS 10
#define META "bottlefs"

struct lru_entry {
	char *key; /* "<enc owner>/<enc repo>.git", relative to dir */
	uint64_t used;
};

struct mirrors {
	char *dir;
	char *home; /* <dir>/.home */
	size_t max;
	pthread_mutex_t lock; /* guards v, n, cap, clock */
	struct lru_entry *v;
	size_t n, cap;
	uint64_t clock;
	unsigned trash_seq; /* lock */
};

/* ---- small helpers ------------------------------------------------------ */

static char *path_of(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *path_of(const char *fmt, ...)
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
static void remove_tree(const char *path)
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
	p = path_of("%s/%s", m->dir, key);
	free(key);
	return p;
}

/* ---- running git -------------------------------------------------------- */

struct quarantine {
	char *dir;	  /* <repo>.git/bottlefs/q-XXXXXX: the new objects */
	char *alternates; /* <repo>.git/objects */
};

/*
 * The flock held by this thread's operation, handed to each git child as
 * its fd 3: a git that outlives the daemon (kill -9) keeps the mirror
 * locked until it ends, so the next daemon never clears the lock files of
 * a git still at work. One operation holds one mirror at a time.
 */
static __thread int held_lock_fd = -1;

static int run_git(struct mirrors *m, const char *git_dir, const struct quarantine *q,
		   const struct mirror_remote *remote, const char *const *args, int stdin_fd,
		   const char *stdin_data, uint64_t deadline, struct gitrun_result *res,
		   struct buf *err)
{
	struct gitrun_opts o;

	memset(&o, 0, sizeof(o));
	o.keep_fd = held_lock_fd;
	o.keep_fd_set = held_lock_fd >= 0;
	o.cwd = m->home;
	o.home = m->home;
	o.git_dir = git_dir;
	if (q) {
		o.object_dir = q->dir;
		o.alternates = q->alternates;
	}
	if (remote) {
		o.remote_url = remote->url;
		o.auth = remote->auth;
	}
	o.stdin_fd = stdin_fd;
	o.stdin_data = stdin_data;
	o.stdin_len = stdin_data ? strlen(stdin_data) : 0;
	o.deadline_ms = deadline;
	return gitrun(args, &o, res, err);
}

/* "git <cmd>: <git's line>" appended to err. */
static void git_reason(struct buf *err, const char *cmd, const struct gitrun_result *res)
{
	if (!err)
		return;
	buf_printf(err, "git %s: ", cmd);
	gitrun_reason(res, err);
}

static bool err_has(const struct gitrun_result *res, const char *s)
{
	return res->err.data && strstr(res->err.data, s);
}

/* The one table from what a network git said to errno. */
static int network_errno(const struct gitrun_result *res)
{
	if (err_has(res, "returned error: 401") || err_has(res, "returned error: 403") ||
	    err_has(res, "Authentication failed") || err_has(res, "could not read Username") ||
	    err_has(res, "could not read Password"))
		return -EACCES;
	if (err_has(res, "returned error: 404") || err_has(res, "not found"))
		return -ENOENT;
	return -EIO;
}

/* A git that does not talk to the forge: 0 on exit status 0, else -EIO with git's reason. */
static int local_git(struct mirrors *m, const char *git_dir, const struct quarantine *q,
		     const char *const *args, const char *stdin_data, uint64_t deadline,
		     struct gitrun_result *res, struct buf *err)
{
	int r = run_git(m, git_dir, q, NULL, args, -1, stdin_data, deadline, res, err);

	if (r == -ETIMEDOUT)
		return -EIO;
	if (r < 0)
		return r;
	if (res->status != 0) {
		git_reason(err, args[0], res);
		return -EIO;
	}
	return 0;
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
	char *p = path_of("%s/%s/" META "/lock", m->dir, key);
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
			from = path_of("%s/%s", m->dir, victim->key);
			to = path_of("%s/.trash-%d-%u", m->dir, (int)getpid(), m->trash_seq++);
			moved = from && to && rename(from, to) == 0;
			if (moved)
				lru_remove_locked(m, victim);
		}
		pthread_mutex_unlock(&m->lock);
		if (fd >= 0)
			close(fd);
		if (moved)
			remove_tree(to);
		free(from);
		free(to);
		if (!moved)
			return; /* everything else is in use: over max for now */
	}
}

/* ---- creating and locking a mirror -------------------------------------- */

struct held {
	char *key;
	char *git_dir; /* <dir>/<key> */
	char *meta;    /* <git_dir>/bottlefs */
	int fd;	       /* the flock */
};

static void held_release(struct held *h)
{
	if (h->fd >= 0 && held_lock_fd == h->fd)
		held_lock_fd = -1;
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
			char *p = path_of("%s/%s", dir, e->d_name);

			if (p)
				remove_tree(p);
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
	if ((p = path_of("%s/refs", h->git_dir))) {
		nftw(p, rm_lock_file, 16, FTW_PHYS);
		free(p);
	}
	if ((p = path_of("%s/objects/pack", h->git_dir))) {
		clear_matching(p, packs, NULL);
		free(p);
	}
	if ((p = path_of("%s/objects", h->git_dir))) {
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
	char *lock = path_of("%s/lock", h->meta);
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
			held_lock_fd = fd;
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
	tmp = path_of("%s/.new-XXXXXX", owner_dir);
	if (!tmp || !mkdtemp(tmp)) {
		r = buf_fail(err, -EIO, "cannot create a mirror: %s", strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	r = local_git(m, tmp, NULL, init, NULL, deadline, &res, err);
	gitrun_result_release(&res);
	if (r < 0)
		goto out;
	meta = path_of("%s/" META, tmp);
	lock = path_of("%s/" META "/lock", tmp);
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
		remove_tree(tmp);
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
static int hold(struct mirrors *m, const char *owner, const char *repo, bool create,
		uint64_t deadline, struct held *h, struct buf *err)
{
	char *used;
	int r, tries;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	if ((r = repo_key(owner, repo, &h->key, err)) < 0)
		return r;
	h->git_dir = path_of("%s/%s", m->dir, h->key);
	h->meta = path_of("%s/%s/" META, m->dir, h->key);
	if (!h->git_dir || !h->meta) {
		held_release(h);
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
		held_release(h);
		return r;
	}
	pthread_mutex_lock(&m->lock);
	r = lru_touch_locked(m, h->key);
	pthread_mutex_unlock(&m->lock);
	used = path_of("%s/used", h->meta);
	if (used) {
		int fd = open(used, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

		if (fd >= 0) {
			futimens(fd, NULL);
			close(fd);
		}
	}
	free(used);
	if (r < 0) {
		held_release(h);
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
				char *p = path_of("%s/%s", m->dir, o->d_name);

				if (p)
					remove_tree(p);
				free(p);
			}
			continue;
		}
		od = path_of("%s/%s", m->dir, o->d_name);
		d = od ? opendir(od) : NULL;
		while (d && (e = readdir(d))) {
			size_t len = strlen(e->d_name);
			struct stat st;
			char *used;

			if (strncmp(e->d_name, ".new-", 5) == 0) {
				char *p = path_of("%s/%s", od, e->d_name);

				if (p)
					remove_tree(p);
				free(p);
				continue;
			}
			if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".git"))
				continue;
			used = path_of("%s/%s/" META "/used", od, e->d_name);
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
			f[n].key = path_of("%s/%s", o->d_name, e->d_name);
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
	m->home = path_of("%s/.home", o->dir);
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

/* ---- update ------------------------------------------------------------- */

static int fetch_locked(struct mirrors *m, const struct held *h, const struct mirror_remote *r,
			uint64_t deadline, struct buf *err)
{
	const char *const args[] = {"fetch",
				    "--prune",
				    "--no-tags",
				    "--quiet",
				    "--update-head-ok",
				    "--no-write-fetch-head",
				    "--no-recurse-submodules",
				    r->url,
				    "+refs/heads/*:refs/heads/*",
				    NULL};
	struct gitrun_result res;
	int rc = run_git(m, h->git_dir, NULL, r, args, -1, NULL, deadline, &res, err);

	if (rc == 0 && res.status != 0) {
		rc = network_errno(&res);
		git_reason(err, "fetch", &res);
	}
	gitrun_result_release(&res);
	return rc;
}

int mirror_update(struct mirrors *m, const char *owner, const char *repo,
		  const struct mirror_remote *r, uint64_t deadline, struct buf *err)
{
	struct held h;
	int rc = hold(m, owner, repo, true, deadline, &h, err);

	if (rc == -ETIMEDOUT)
		return -EIO;
	if (rc < 0)
		return rc;
	rc = fetch_locked(m, &h, r, deadline, err);
	held_release(&h);
	return rc == -ETIMEDOUT ? -EIO : rc;
}

/* ---- reading refs ------------------------------------------------------- */

/* The first line of s (up to n bytes) is an oid: copy it. */
static bool first_oid(const struct buf *b, char out[BUNDLE_OID_HEX + 1])
{
	if (b->len < BUNDLE_OID_HEX || !bundle_oid_valid(b->data, BUNDLE_OID_HEX) ||
	    (b->len > BUNDLE_OID_HEX && b->data[BUNDLE_OID_HEX] != '\n' &&
	     b->data[BUNDLE_OID_HEX] != '\t' && b->data[BUNDLE_OID_HEX] != ' '))
		return false;
	memcpy(out, b->data, BUNDLE_OID_HEX);
	out[BUNDLE_OID_HEX] = '\0';
	return true;
}

/* refs/heads/<branch> in the mirror: 0, -ENOENT, -EIO. */
static int tip_locked(struct mirrors *m, const struct held *h, const char *ref, uint64_t deadline,
		      char out[BUNDLE_OID_HEX + 1], struct buf *err)
{
	const char *const args[] = {"rev-parse", "--quiet", "--verify", ref, NULL};
	struct gitrun_result res;
	int r = run_git(m, h->git_dir, NULL, NULL, args, -1, NULL, deadline, &res, err);

	if (r == 0) {
		if (res.status == 1)
			r = -ENOENT;
		else if (res.status != 0 || !first_oid(&res.out, out))
			r = buf_fail(err, -EIO, "git rev-parse: unexpected answer");
	}
	gitrun_result_release(&res);
	return r == -ETIMEDOUT ? -EIO : r;
}

int mirror_tip(struct mirrors *m, const char *owner, const char *repo, const char *branch,
	       uint64_t deadline, char out[BUNDLE_OID_HEX + 1], struct buf *err)
{
	struct held h;
	char *ref;
	int r;

	if (!branch || !str_branch_name_valid(branch, strlen(branch)))
		return buf_fail(err, -EINVAL, "'%s' is not a valid branch name",
				branch ? branch : "");
	r = hold(m, owner, repo, false, deadline, &h, err);
	if (r < 0)
		return r == -ETIMEDOUT ? -EIO : r;
	ref = path_of("refs/heads/%s", branch);
	r = ref ? tip_locked(m, &h, ref, deadline, out, err) : -ENOMEM;
	free(ref);
	held_release(&h);
	return r;
}

/* ---- repo.bundle -------------------------------------------------------- */

/* Points the mirror's HEAD where the forge's does (ls-remote --symref). */
static int follow_head(struct mirrors *m, const struct held *h, const struct mirror_remote *r,
		       uint64_t deadline, struct buf *err)
{
	const char *const args[] = {"ls-remote", "--symref", r->url, "HEAD", NULL};
	struct gitrun_result res;
	int rc = run_git(m, h->git_dir, NULL, r, args, -1, NULL, deadline, &res, err);
	const char *p, *tab;

	if (rc == 0 && res.status != 0) {
		rc = network_errno(&res);
		git_reason(err, "ls-remote", &res);
	}
	if (rc == 0 && (p = buf_cstr(&res.out), strncmp(p, "ref: refs/heads/", 16) == 0) &&
	    (tab = strchr(p, '\t')) && str_branch_name_valid(p + 16, (size_t)(tab - p - 16))) {
		char *target = strndup(p + 5, (size_t)(tab - p - 5));
		const char *const set[] = {"symbolic-ref", "HEAD", target, NULL};
		struct gitrun_result res2;

		if (target)
			rc = local_git(m, h->git_dir, NULL, set, NULL, deadline, &res2, err);
		if (target)
			gitrun_result_release(&res2);
		free(target);
	}
	gitrun_result_release(&res);
	return rc;
}

/* What repo.bundle depends on: every branch and where HEAD points (new text). */
static int refs_stamp(struct mirrors *m, const struct held *h, uint64_t deadline, struct buf *out,
		      bool *has_head, size_t *n_branches, struct buf *err)
{
	const char *const refs[] = {"for-each-ref", "--format=%(objectname) %(refname)",
				    "refs/heads/", NULL};
	const char *const head[] = {"rev-parse", "--quiet", "--verify", "--symbolic-full-name",
				    "HEAD",	 NULL};
	struct gitrun_result res;
	size_t i;
	int r = local_git(m, h->git_dir, NULL, refs, NULL, deadline, &res, err);

	*n_branches = 0;
	if (r == 0) {
		for (i = 0; i < res.out.len; i++)
			*n_branches += res.out.data[i] == '\n';
		r = buf_append(out, res.out.data, res.out.len);
	}
	gitrun_result_release(&res);
	if (r < 0)
		return r;
	r = run_git(m, h->git_dir, NULL, NULL, head, -1, NULL, deadline, &res, err);
	if (r == 0) {
		*has_head = res.status == 0;
		buf_puts(out, "HEAD ");
		r = buf_append(out, res.out.data, res.out.len);
	}
	gitrun_result_release(&res);
	return r == -ETIMEDOUT ? -EIO : r;
}

static char *slurp_small(const char *path)
{
	struct buf b = BUF_INIT(BUNDLE_MAX_HEADER);
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(&b, chunk, (size_t)n) < 0)
			break;
	close(fd);
	return buf_steal(&b, NULL);
}

static int write_small(const char *path, const struct buf *b)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t w = fd >= 0 ? write(fd, b->data ? b->data : "", b->len) : -1;

	if (fd >= 0)
		close(fd);
	return w == (ssize_t)b->len ? 0 : -EIO;
}

int mirror_bundle(struct mirrors *m, const char *owner, const char *repo,
		  const struct mirror_remote *r, bool fetch, uint64_t deadline, char **path,
		  uint64_t *size, struct buf *err)
{
	struct buf stamp = BUF_INIT(BUNDLE_MAX_HEADER);
	struct gitrun_result res;
	struct held h;
	char *bundle = NULL, *tmp = NULL, *stamp_path = NULL, *old = NULL;
	bool has_head = false;
	size_t n_branches = 0;
	struct stat st;
	int rc;

	rc = hold(m, owner, repo, fetch, deadline, &h, err);
	if (rc == -ENOENT && !fetch)
		return buf_fail(err, -EAGAIN, "the mirror of '%s/%s' is not made yet", owner, repo);
	if (rc == -ETIMEDOUT)
		return -EAGAIN;
	if (rc < 0)
		return rc;
	if (fetch) {
		rc = fetch_locked(m, &h, r, deadline, err);
		if (rc == 0)
			rc = follow_head(m, &h, r, deadline, err);
		if (rc < 0)
			goto out;
	}
	rc = refs_stamp(m, &h, deadline, &stamp, &has_head, &n_branches, err);
	if (rc < 0)
		goto out;
	if (n_branches == 0) {
		rc = buf_fail(err, -ENOENT, "'%s/%s' has no branch", owner, repo);
		goto out;
	}
	bundle = path_of("%s/repo.bundle", h.meta);
	stamp_path = path_of("%s/repo.bundle.refs", h.meta);
	tmp = path_of("%s/tmp-repo.bundle", h.meta);
	if (!bundle || !stamp_path || !tmp) {
		rc = buf_fail(err, -ENOMEM, "out of memory");
		goto out;
	}
	old = slurp_small(stamp_path);
	if (!old || strcmp(old, buf_cstr(&stamp)) != 0 || stat(bundle, &st) < 0) {
		const char *const with_head[] = {"bundle",     "create", "--quiet", tmp,
						 "--branches", "HEAD",	 NULL};
		const char *const branches[] = {"bundle", "create",	"--quiet",
						tmp,	  "--branches", NULL};

		rc = local_git(m, h.git_dir, NULL, has_head ? with_head : branches, NULL, deadline,
			       &res, err);
		gitrun_result_release(&res);
		if (rc == 0 && (chmod(tmp, 0600) < 0 || rename(tmp, bundle) < 0))
			rc = buf_fail(err, -EIO, "cannot install repo.bundle: %s", strerror(errno));
		if (rc == 0 && write_small(stamp_path, &stamp) < 0)
			unlink(stamp_path); /* made again next time */
		if (rc < 0) {
			unlink(tmp);
			goto out;
		}
	}
	if (stat(bundle, &st) < 0) {
		rc = buf_fail(err, -EIO, "repo.bundle vanished: %s", strerror(errno));
		goto out;
	}
	*size = (uint64_t)st.st_size;
	*path = bundle;
	bundle = NULL;
out:
	held_release(&h);
	buf_release(&stamp);
	free(bundle);
	free(tmp);
	free(stamp_path);
	free(old);
	return rc == -ETIMEDOUT ? -EAGAIN : rc;
}

/* ---- the push ----------------------------------------------------------- */

static void quarantine_release(struct quarantine *q)
{
	if (q->dir)
		remove_tree(q->dir);
	free(q->dir);
	free(q->alternates);
	q->dir = q->alternates = NULL;
}

static int quarantine_new(const struct held *h, struct quarantine *q, struct buf *err)
{
	char *pack;

	memset(q, 0, sizeof(*q));
	q->dir = path_of("%s/q-XXXXXX", h->meta);
	q->alternates = path_of("%s/objects", h->git_dir);
	if (!q->dir || !q->alternates || !mkdtemp(q->dir)) {
		free(q->dir);
		free(q->alternates);
		q->dir = q->alternates = NULL;
		return buf_fail(err, -EIO, "cannot make a quarantine: %s", strerror(errno));
	}
	pack = path_of("%s/pack", q->dir);
	if (!pack || mkdir(pack, 0700) < 0) {
		free(pack);
		quarantine_release(q);
		return buf_fail(err, -EIO, "cannot make a quarantine: %s", strerror(errno));
	}
	free(pack);
	return 0;
}

/* Every prerequisite is a commit of the mirror's: 0, -ENOENT naming the first that is not. */
static int check_prereqs(struct mirrors *m, const struct held *h, const struct bundle_header *bh,
			 uint64_t deadline, struct buf *err)
{
	const char *const args[] = {"cat-file", "--batch-check=%(objectname) %(objecttype)", NULL};
	struct buf in = BUF_INIT((size_t)BUNDLE_MAX_PREREQS * 42 + 1);
	struct gitrun_result res;
	const char *p;
	size_t i;
	int r;

	if (bh->n_prereqs == 0)
		return 0;
	for (i = 0; i < bh->n_prereqs; i++)
		buf_printf(&in, "%s\n", bh->prereqs[i]);
	r = local_git(m, h->git_dir, NULL, args, buf_cstr(&in), deadline, &res, err);
	p = buf_cstr(&res.out);
	for (i = 0; r == 0 && i < bh->n_prereqs; i++) {
		const char *nl = strchr(p, '\n');

		if (!nl)
			r = buf_fail(err, -EIO, "git cat-file: short answer");
		else if (strncmp(p, bh->prereqs[i], BUNDLE_OID_HEX) != 0 ||
			 strncmp(p + BUNDLE_OID_HEX, " commit\n", 8) != 0)
			r = buf_fail(err, -ENOENT,
				     "commit %s, which the bundle needs, is not on the forge",
				     bh->prereqs[i]);
		else
			p = nl + 1;
	}
	gitrun_result_release(&res);
	buf_release(&in);
	return r;
}

/* The pack of the bundle, from its offset, through index-pack into the quarantine. */
static int import_pack(struct mirrors *m, const struct held *h, const struct quarantine *q,
		       const char *bundle_path, uint64_t pack_offset, uint64_t deadline,
		       struct buf *err)
{
	const char *const args[] = {"index-pack", "--stdin", "--fix-thin", "--strict", NULL};
	struct gitrun_result res;
	int fd = open(bundle_path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return buf_fail(err, -EIO, "cannot open the bundle: %s", strerror(errno));
	if (lseek(fd, (off_t)pack_offset, SEEK_SET) < 0) {
		close(fd);
		return buf_fail(err, -EIO, "cannot read the bundle: %s", strerror(errno));
	}
	r = run_git(m, h->git_dir, q, NULL, args, fd, NULL, deadline, &res, err);
	close(fd);
	if (r == 0 && res.status != 0) {
		/* A base or a linked object nobody has vs. objects that are broken. */
		if (err_has(&res, "unresolved delta") ||
		    err_has(&res, "did not receive expected") || err_has(&res, "missing ")) {
			r = -ENOENT;
			if (err)
				buf_puts(err,
					 "the bundle needs objects that are not on the forge: ");
		} else {
			r = -EINVAL;
			if (err)
				buf_puts(err, "the bundle's objects are not valid: ");
		}
		if (err)
			gitrun_reason(&res, err);
	}
	gitrun_result_release(&res);
	return r == -ETIMEDOUT ? -EIO : r;
}

/* Everything the tip needs is in the quarantine or the mirror, and the tip is a commit. */
static int check_tip(struct mirrors *m, const struct held *h, const struct quarantine *q,
		     const char *tip, uint64_t deadline, struct buf *err)
{
	const char *const type[] = {"cat-file", "-t", tip, NULL};
	const char *const walk[] = {"rev-list", "--objects", "--quiet", tip,
				    "--not",	"--all",     NULL};
	struct gitrun_result res;
	int r = run_git(m, h->git_dir, q, NULL, type, -1, NULL, deadline, &res, err);

	if (r == 0 && res.status != 0)
		r = buf_fail(err, -ENOENT, "the bundle's tip %s is neither in it nor on the forge",
			     tip);
	else if (r == 0 && strcmp(buf_cstr(&res.out), "commit\n") != 0)
		r = buf_fail(err, -EINVAL, "the bundle's tip %s is not a commit", tip);
	gitrun_result_release(&res);
	if (r < 0)
		return r == -ETIMEDOUT ? -EIO : r;
	r = run_git(m, h->git_dir, q, NULL, walk, -1, NULL, deadline, &res, err);
	if (r == 0 && res.status != 0) {
		r = -ENOENT;
		if (err) {
			buf_puts(err, "the bundle needs objects that are not on the forge: ");
			gitrun_reason(&res, err);
		}
	}
	gitrun_result_release(&res);
	return r == -ETIMEDOUT ? -EIO : r;
}

/* old is an ancestor of tip: 0, -EPERM, -EIO. */
static int check_ff(struct mirrors *m, const struct held *h, const struct quarantine *q,
		    const char *branch, const char *old, const char *tip, uint64_t deadline,
		    struct buf *err)
{
	const char *const args[] = {"merge-base", "--is-ancestor", old, tip, NULL};
	struct gitrun_result res;
	int r = run_git(m, h->git_dir, q, NULL, args, -1, NULL, deadline, &res, err);

	if (r == 0 && res.status == 1)
		r = buf_fail(err, -EPERM,
			     "not a fast-forward: %s does not descend from %s, the tip of '%s' on "
			     "the forge",
			     tip, old, branch);
	else if (r == 0 && res.status != 0) {
		r = -EIO;
		git_reason(err, "merge-base", &res);
	}
	gitrun_result_release(&res);
	return r == -ETIMEDOUT ? -EIO : r;
}

/* The forge's tip of ref now (ls-remote): 0 (out "" when absent) or -errno. */
static int remote_tip(struct mirrors *m, const struct held *h, const struct mirror_remote *rm,
		      const char *ref, uint64_t deadline, char out[BUNDLE_OID_HEX + 1],
		      struct buf *err)
{
	const char *const args[] = {"ls-remote", rm->url, ref, NULL};
	struct gitrun_result res;
	int r = run_git(m, h->git_dir, NULL, rm, args, -1, NULL, deadline, &res, err);
	const char *p;
	size_t rl = strlen(ref);

	out[0] = '\0';
	if (r == 0 && res.status != 0) {
		r = network_errno(&res);
		git_reason(err, "ls-remote", &res);
	}
	for (p = buf_cstr(&res.out); r == 0 && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len == BUNDLE_OID_HEX + 1 + rl && p[BUNDLE_OID_HEX] == '\t' &&
		    memcmp(p + BUNDLE_OID_HEX + 1, ref, rl) == 0 &&
		    bundle_oid_valid(p, BUNDLE_OID_HEX)) {
			memcpy(out, p, BUNDLE_OID_HEX);
			out[BUNDLE_OID_HEX] = '\0';
		}
		p += len + (nl ? 1 : 0);
	}
	gitrun_result_release(&res);
	return r == -ETIMEDOUT ? -EIO : r;
}

/* git push's porcelain line for ref: its flag and summary, or 0 when none. */
static char push_flag(const struct gitrun_result *res, const char *ref, const char **summary)
{
	const char *p = buf_cstr(&res->out);
	size_t rl = strlen(ref);

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *t1 = len > 2 && p[1] == '\t' ? memchr(p + 2, '\t', len - 2) : NULL;

		if (t1 && (size_t)(t1 - p) > rl + 1 && t1[-(long)rl - 1] == ':' &&
		    memcmp(t1 - rl, ref, rl) == 0) {
			*summary = t1 + 1;
			return p[0];
		}
		p += len + (nl ? 1 : 0);
	}
	return 0;
}

/* The summary up to its line's end, for a reason. */
static void put_summary(struct buf *err, const char *s)
{
	if (err)
		str_escape_log(err, s, strcspn(s, "\n"));
}

static int send_push(struct mirrors *m, const struct held *h, const struct quarantine *q,
		     const struct mirror_remote *rm, const char *ref, const char *old,
		     const char *tip, uint64_t deadline, struct buf *err)
{
	struct buf lease = BUF_INIT(1024), spec = BUF_INIT(1024);
	struct gitrun_result res;
	const char *summary = "";
	uint64_t now = gitrun_now_ms(), reserve, push_deadline;
	char flag, seen[BUNDLE_OID_HEX + 1];
	int r;

	/* Keep a little time to learn the outcome if the push's answer is lost. */
	reserve = deadline > now ? (deadline - now) / 5 : 0;
	reserve = reserve > 3000 ? 3000 : reserve;
	push_deadline = deadline - reserve;
	if (buf_printf(&lease, "--force-with-lease=%s:%s", ref, old) < 0 ||
	    buf_printf(&spec, "%s:%s", tip, ref) < 0) {
		r = buf_fail(err, -EINVAL, "branch name too long");
		goto out;
	}
	{
		const char *const args[] = {
		    "push",	      "--porcelain", "--no-verify",   "--no-recurse-submodules",
		    buf_cstr(&lease), rm->url,	     buf_cstr(&spec), NULL};

		r = run_git(m, h->git_dir, q, rm, args, -1, NULL, push_deadline, &res, NULL);
	}
	flag = push_flag(&res, ref, &summary);
	if (r == 0 && res.status == 0 && flag && strchr(" *+=", flag)) {
		r = 0;
	} else if (flag == '!') {
		if (strstr(summary, "stale info") || strstr(summary, "fetch first") ||
		    strstr(summary, "non-fast-forward")) {
			r = -EPERM;
			if (err)
				buf_printf(err,
					   "'%s' moved on the forge during the push: ", ref + 11);
		} else if (strstr(summary, "remote rejected")) {
			r = -EACCES;
			if (err)
				buf_puts(err, "the forge refused the push: ");
		} else {
			r = -EIO;
			if (err)
				buf_puts(err, "the push failed: ");
		}
		put_summary(err, summary);
	} else if (r == 0 && network_errno(&res) == -EACCES) {
		r = -EACCES;
		git_reason(err, "push", &res);
	} else {
		/* Timed out, cut off, or the forge failed: did it take the push anyway? */
		int r2 = remote_tip(m, h, rm, ref, deadline, seen, NULL);

		if (r2 == 0 && strcmp(seen, tip) == 0) {
			r = 0;
		} else {
			if (err) {
				if (r == -ETIMEDOUT)
					buf_puts(err, "git push timed out");
				else if (r == 0)
					git_reason(err, "push", &res);
				if (r2 < 0)
					buf_puts(err, "; the branch on the forge could not be read "
						      "after it");
			}
			r = -EIO;
		}
	}
	gitrun_result_release(&res);
out:
	buf_release(&lease);
	buf_release(&spec);
	return r;
}

/* After a push: the quarantine's packs join the mirror and its ref follows the forge. */
static void adopt(struct mirrors *m, const struct held *h, const struct quarantine *q,
		  const char *ref, const char *tip, uint64_t deadline)
{
	char *from_dir = path_of("%s/pack", q->dir);
	DIR *d = from_dir ? opendir(from_dir) : NULL;
	struct dirent *e;
	bool ok = d != NULL;
	int pass;

	/* .pack files before .idx: git finds a pack by its index. */
	for (pass = 0; d && pass < 2; pass++) {
		rewinddir(d);
		while ((e = readdir(d))) {
			size_t len = strlen(e->d_name);
			const char *ext = pass == 0 ? ".pack" : ".idx";
			size_t el = strlen(ext);
			char *from, *to;

			if (len <= el || strcmp(e->d_name + len - el, ext) != 0)
				continue;
			from = path_of("%s/%s", from_dir, e->d_name);
			to = path_of("%s/pack/%s", q->alternates, e->d_name);
			if (!from || !to || rename(from, to) < 0)
				ok = false;
			free(from);
			free(to);
		}
	}
	if (d)
		closedir(d);
	free(from_dir);
	if (ok) {
		const char *const args[] = {"update-ref", ref, tip, NULL};
		struct gitrun_result res;

		local_git(m, h->git_dir, NULL, args, NULL, deadline, &res, NULL);
		gitrun_result_release(&res);
	}
}

int mirror_push(struct mirrors *m, const char *owner, const char *repo,
		const struct mirror_remote *rm, const struct mirror_push_req *req,
		uint64_t deadline, struct mirror_push_result *out, struct buf *err)
{
	struct bundle_check *c = NULL;
	const struct bundle_header *bh;
	struct quarantine q = {0};
	struct held h = {.fd = -1};
	const char *tip = NULL, *bref = NULL;
	char old[BUNDLE_OID_HEX + 1] = "", *ref = NULL;
	struct stat st;
	int fd = -1, r;

	/* 1. The branch. */
	if (!req->branch || !str_branch_name_valid(req->branch, strlen(req->branch)))
		return buf_fail(err, -EINVAL, "'%s' is not a valid branch name",
				req->branch ? req->branch : "");
	if (req->expected_old && req->expected_old[0] &&
	    !bundle_oid_valid(req->expected_old, strlen(req->expected_old)))
		return buf_fail(err, -EINVAL, "internal: expected tip is not an object id");
	ref = path_of("refs/heads/%s", req->branch);
	if (!ref)
		return buf_fail(err, -ENOMEM, "out of memory");

	/* 2. The bundle, whole. */
	if ((r = bundle_check_new(&req->limits, &c)) < 0) {
		r = buf_fail(err, r, "out of memory");
		goto out;
	}
	fd = open(req->bundle_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = buf_fail(err, -EIO, "cannot open the bundle: %s", strerror(errno));
		goto out;
	}
	r = bundle_check_fd(c, fd, (uint64_t)st.st_size, err);
	if (r >= 0)
		r = bundle_check_finish(c, err);
	if (r == 0)
		r = bundle_push_tip(c, &tip, &bref, err);
	if (r < 0)
		goto out;
	bh = bundle_check_header(c);

	/* 3. The forge's state, under the mirror's lock from here on. */
	r = hold(m, owner, repo, true, deadline, &h, err);
	if (r == 0)
		r = fetch_locked(m, &h, rm, deadline, err);
	if (r < 0) {
		r = r == -ETIMEDOUT ? -EIO : r;
		goto out;
	}

	/* 4. Where the branch is. */
	r = tip_locked(m, &h, ref, deadline, old, err);
	if (r == -ENOENT) {
		old[0] = '\0';
		r = 0;
	}
	if (r < 0)
		goto out;
	if (strcmp(old, tip) == 0) {
		memcpy(out->old_tip, old, sizeof(old));
		memcpy(out->new_tip, old, sizeof(old));
		out->already = true;
		goto out;
	}
	if (req->expected_old && strcmp(req->expected_old, old) != 0) {
		r = buf_fail(err, -EPERM, "'%s' is at %s on the forge, not at %s as expected",
			     req->branch, old[0] ? old : "(no branch)",
			     req->expected_old[0] ? req->expected_old : "(no branch)");
		goto out;
	}

	/* 5, 6. What the bundle needs, and what it holds, checked by git. */
	if ((r = check_prereqs(m, &h, bh, deadline, err)) < 0)
		goto out;
	if ((r = quarantine_new(&h, &q, err)) < 0)
		goto out;
	if ((r = import_pack(m, &h, &q, req->bundle_path, bh->pack_offset, deadline, err)) < 0)
		goto out;
	if ((r = check_tip(m, &h, &q, tip, deadline, err)) < 0)
		goto out;

	/* 7. A fast-forward only. */
	if (old[0] && (r = check_ff(m, &h, &q, req->branch, old, tip, deadline, err)) < 0)
		goto out;

	/* 8, 9. Send. */
	if (req->before_send && (r = req->before_send(req->send_ud, old, tip)) != 0)
		goto out;
	r = send_push(m, &h, &q, rm, ref, old, tip, deadline, err);
	if (r < 0)
		goto out;

	/* 10. The mirror keeps what the forge now has. */
	adopt(m, &h, &q, ref, tip, deadline);
	memcpy(out->old_tip, old, sizeof(old));
	memcpy(out->new_tip, tip, BUNDLE_OID_HEX + 1);
	out->already = false;
out:
	if (q.dir)
		quarantine_release(&q);
	if (fd >= 0)
		close(fd);
	held_release(&h);
	bundle_check_free(c);
	free(ref);
	(void)bref;
	return r;
}
