/*
 * Integration tests of forge/git/mirror.c against the Gitea double (real
 * git over smart HTTP): mirrors made and updated, repo.bundle cloned with
 * real git, pushes of bundles made by real git, every refusal with its
 * errno and no git-receive-pack request for those decided before sending,
 * the token in no child's argv and only in the environment of children
 * that talk to the forge, eviction, and a push whose answer is lost.
 *
 * The double is started once (python3 tests/double/gitea_double.py, port
 * 0, a token file) and stopped by its PID; every wait is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "forge/git/mirror.h"
#include "forge/http.h"
#include "forge/gitea/push.h"

/* Building test input cannot fail quietly. */
#define OK(x) assert_int_equal((x), 0)

#define TOKEN "tok-mirror-5ecret"
#define CAROL "tok-carol-5ecret"
/* base64("bottlefs:" TOKEN): the form the token has in a child's environment */
#define TOKEN_B64 "Ym90dGxlZnM6dG9rLW1pcnJvci01ZWNyZXQ="

extern char **environ;

static char tmp[] = "/tmp/bfs-mirror-XXXXXX";
static char root[4096]; /* the repository's root */
static char base[256];	/* http://127.0.0.1:PORT */
static char url[512];	/* base/alice/dotfiles.git */
static char mdir[4096]; /* the mirror directory */
static pid_t double_pid = -1;
static struct mirrors *M;

static const struct gitrun_auth AUTH = {"bottlefs", TOKEN};
static const struct gitrun_auth CAROL_AUTH = {"bottlefs", CAROL};

/* ---- helpers ------------------------------------------------------------ */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	struct buf cmd = BUF_INIT(1 << 16);
	va_list ap;
	int rc;

	OK(buf_printf(&cmd,
		      "cd '%s' && export HOME='%s' GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t "
		      "GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t && (",
		      tmp, tmp));
	va_start(ap, fmt);
	OK(buf_vprintf(&cmd, fmt, ap));
	va_end(ap);
	OK(buf_puts(&cmd, ") >/dev/null 2>&1"));
	rc = system(buf_cstr(&cmd));
	if (rc != 0)
		fail_msg("command failed (%d): %s", rc, buf_cstr(&cmd));
	buf_release(&cmd);
}

/* The output of a shell command in tmp (new), trailing newlines dropped. */
static char *sh_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sh_out(const char *fmt, ...)
{
	struct buf b = BUF_INIT(1 << 24);
	char chunk[4096];
	va_list ap;
	size_t n;
	FILE *p;

	OK(buf_printf(&b, "cd '%s' && export HOME='%s' GIT_CONFIG_NOSYSTEM=1 && ", tmp, tmp));
	va_start(ap, fmt);
	OK(buf_vprintf(&b, fmt, ap));
	va_end(ap);
	p = popen(buf_cstr(&b), "r");
	assert_non_null(p);
	buf_reset(&b);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		OK(buf_append(&b, chunk, n));
	assert_int_equal(pclose(p), 0);
	while (b.len && b.data[b.len - 1] == '\n')
		b.data[--b.len] = '\0';
	return buf_steal(&b, NULL);
}

/* The double's control API: METHOD path [json body] -> parsed answer (new). */
static json_t *ctl(const char *method, const char *path, const char *body)
{
	char *out = body ? sh_out("curl -sS -f -X %s -H 'Content-Type: application/json' "
				  "--data-binary '%s' '%s%s'",
				  method, body, base, path)
			 : sh_out("curl -sS -f -X %s '%s%s'", method, base, path);
	json_t *j = json_loads(out, JSON_DECODE_ANY, NULL);

	free(out);
	return j;
}

static void ctl_do(const char *method, const char *path, const char *body)
{
	json_decref(ctl(method, path, body));
}

/* The double's tip of a branch of alice/dotfiles (new), or NULL. */
static char *forge_tip(const char *branch)
{
	json_t *refs = ctl("GET", "/_double/git/alice/dotfiles/refs", NULL);
	struct buf ref = BUF_INIT(1024);
	json_t *v;
	char *s;

	OK(buf_printf(&ref, "refs/heads/%s", branch));
	v = json_object_get(refs, buf_cstr(&ref));
	s = json_is_string(v) ? strdup(json_string_value(v)) : NULL;
	json_decref(refs);
	buf_release(&ref);
	return s;
}

/* git-receive-pack requests (advertisement or POST) in the double's log. */
static size_t receive_packs(void)
{
	json_t *log = ctl("GET", "/_double/log", NULL), *e;
	size_t i, n = 0;

	json_array_foreach(log, i, e)
	{
		const char *p = json_string_value(json_object_get(e, "path"));
		const char *q = json_string_value(json_object_get(e, "query"));

		if ((p && strstr(p, "git-receive-pack")) || (q && strstr(q, "git-receive-pack")))
			n++;
	}
	json_decref(log);
	return n;
}

static void wait_for_file(const char *path, int seconds)
{
	struct stat st;
	int i;

	for (i = 0; i < seconds * 100; i++) {
		if (stat(path, &st) == 0 && st.st_size > 0)
			return;
		usleep(10000);
	}
	fail_msg("'%s' did not appear within %d s", path, seconds);
}

/* The repository root: up from this program until tests/double/ is there. */
static void find_root(void)
{
	ssize_t n = readlink("/proc/self/exe", root, sizeof(root) - 1);
	struct stat st;

	assert_true(n > 0);
	root[n] = '\0';
	while (strrchr(root, '/') && strrchr(root, '/') != root) {
		struct buf p = BUF_INIT(8192);

		*strrchr(root, '/') = '\0';
		OK(buf_printf(&p, "%s/tests/double/gitea_double.py", root));
		if (stat(buf_cstr(&p), &st) == 0) {
			buf_release(&p);
			return;
		}
		buf_release(&p);
	}
	fail_msg("cannot find tests/double/gitea_double.py above this program");
}

static uint64_t deadline(unsigned s)
{
	return gitrun_now_ms() + (uint64_t)s * 1000;
}

static struct mirror_remote remote(void)
{
	struct mirror_remote r = {url, &AUTH};

	return r;
}

/* A push of tmp/<bundle> to branch with default limits. */
static int push(const char *bundle, const char *branch, struct mirror_push_result *out,
		struct buf *why)
{
	struct mirror_push_req req;
	struct mirror_remote r = remote();
	struct buf path = BUF_INIT(8192);
	int rc;

	memset(&req, 0, sizeof(req));
	OK(buf_printf(&path, "%s/%s", tmp, bundle));
	req.bundle_path = buf_cstr(&path);
	req.branch = branch;
	rc = mirror_push(M, "alice", "dotfiles", &r, &req, deadline(60), out, why);
	buf_release(&path);
	return rc;
}

/* ---- setup -------------------------------------------------------------- */

static int setup(void **state)
{
	struct buf seed = BUF_INIT(8192), script = BUF_INIT(8192), pf = BUF_INIT(8192),
		   tf = BUF_INIT(8192), log = BUF_INIT(8192);
	struct mirror_opts o = {0};
	struct buf err = BUF_INIT(4096);
	posix_spawn_file_actions_t fa;
	char *port;
	const char *argv[16];

	(void)state;
	find_root();
	assert_non_null(mkdtemp(tmp));
	OK(buf_printf(&seed, "%s/tests/double/seed/demo.json", root));
	OK(buf_printf(&script, "%s/tests/double/gitea_double.py", root));
	OK(buf_printf(&pf, "%s/double.port", tmp));
	OK(buf_printf(&tf, "%s/tokens", tmp));
	OK(buf_printf(&log, "%s/double.log", tmp));
	sh("printf '%s alice\\n%s carol\\n' > tokens && chmod 600 tokens", TOKEN, CAROL);
	/*
	 * Through setpriv --pdeathsig: should this program die without its
	 * teardown (a sanitizer's abort, a timeout's kill), the double gets
	 * SIGTERM too instead of running on.
	 */
	argv[0] = "setpriv";
	argv[1] = "--pdeathsig";
	argv[2] = "TERM";
	argv[3] = "--";
	argv[4] = "python3";
	argv[5] = buf_cstr(&script);
	argv[6] = "--seed";
	argv[7] = buf_cstr(&seed);
	argv[8] = "--port";
	argv[9] = "0";
	argv[10] = "--port-file";
	argv[11] = buf_cstr(&pf);
	argv[12] = "--token-file";
	argv[13] = buf_cstr(&tf);
	argv[14] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, buf_cstr(&log), O_WRONLY | O_CREAT | O_TRUNC,
					 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	assert_int_equal(
	    posix_spawnp(&double_pid, "setpriv", &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	wait_for_file(buf_cstr(&pf), 30);
	port = sh_out("cat '%s'", buf_cstr(&pf));
	snprintf(base, sizeof(base), "http://127.0.0.1:%s", port);
	snprintf(url, sizeof(url), "%s/alice/dotfiles.git", base);
	free(port);
	snprintf(mdir, sizeof(mdir), "%s/mirrors", tmp);
	o.dir = mdir;
	o.max_count = 8;
	assert_int_equal(mirrors_new(&o, &M, &err), 0);
	buf_release(&seed);
	buf_release(&script);
	buf_release(&pf);
	buf_release(&tf);
	buf_release(&log);
	buf_release(&err);
	return 0;
}

static int teardown(void **state)
{
	struct buf cmd = BUF_INIT(4096);
	int st;

	(void)state;
	mirrors_free(M);
	if (double_pid > 0) {
		kill(double_pid, SIGTERM);
		waitpid(double_pid, &st, 0);
	}
	OK(buf_printf(&cmd, "rm -rf '%s'", tmp));
	assert_int_equal(system(buf_cstr(&cmd)), 0);
	buf_release(&cmd);
	return 0;
}

/* ---- mirrors and repo.bundle -------------------------------------------- */

static void test_update_and_clone(void **state)
{
	struct mirror_remote r = remote();
	struct buf why = BUF_INIT(4096);
	char tip[BUNDLE_OID_HEX + 1], *main_tip, *cloned, *path = NULL, *path2 = NULL;
	uint64_t size = 0, size2 = 0;
	struct stat a, b;

	(void)state;
	/* Without fetch, a mirror not made yet is not ready. */
	assert_int_equal(
	    mirror_bundle(M, "alice", "dotfiles", &r, false, deadline(30), &path, &size, &why),
	    -EAGAIN);
	assert_int_equal(mirror_tip(M, "alice", "dotfiles", "main", deadline(30), tip, &why),
			 -ENOENT);
	assert_int_equal(mirror_update(M, "alice", "dotfiles", &r, deadline(60), &why), 0);
	main_tip = forge_tip("main");
	assert_non_null(main_tip);
	assert_int_equal(mirror_tip(M, "alice", "dotfiles", "main", deadline(30), tip, &why), 0);
	assert_string_equal(tip, main_tip);
	assert_int_equal(mirror_tip(M, "alice", "dotfiles", "no-such", deadline(30), tip, &why),
			 -ENOENT);

	/* repo.bundle clones with plain git, with every branch and HEAD on main. */
	assert_int_equal(
	    mirror_bundle(M, "alice", "dotfiles", &r, true, deadline(60), &path, &size, &why), 0);
	assert_non_null(path);
	assert_int_equal(stat(path, &a), 0);
	assert_int_equal((uint64_t)a.st_size, size);
	assert_int_equal(a.st_mode & 0777, 0600);
	sh("rm -rf work && git clone -q '%s' work", path);
	cloned = sh_out("git -C work rev-parse HEAD");
	assert_string_equal(cloned, main_tip);
	free(cloned);
	cloned = sh_out("git -C work branch -r | wc -l");
	assert_string_equal(cloned, "5"); /* origin/HEAD and the 4 branches */
	free(cloned);

	/* Nothing moved: the same file, not made again. */
	assert_int_equal(
	    mirror_bundle(M, "alice", "dotfiles", &r, true, deadline(60), &path2, &size2, &why), 0);
	assert_int_equal(stat(path2, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	free(path2);

	/* A branch moves on the forge: made again, and `git fetch` from it sees it. */
	ctl_do("POST", "/_double/git/alice/dotfiles/commit",
	       "{\"branch\":\"main\",\"message\":\"moved\",\"files\":{\"moved.txt\":\"x\"}}");
	free(main_tip);
	main_tip = forge_tip("main");
	assert_int_equal(
	    mirror_bundle(M, "alice", "dotfiles", &r, true, deadline(60), &path2, &size2, &why), 0);
	assert_int_equal(stat(path2, &b), 0);
	assert_int_not_equal(a.st_ino, b.st_ino);
	sh("git -C work fetch -q origin");
	cloned = sh_out("git -C work rev-parse origin/main");
	assert_string_equal(cloned, main_tip);
	free(cloned);
	free(path);
	free(path2);
	free(main_tip);
	buf_release(&why);
}

static void test_unknown_repo_and_bad_names(void **state)
{
	struct mirror_remote r = {NULL, &AUTH};
	struct buf why = BUF_INIT(4096), u = BUF_INIT(1024);
	char *path = NULL;
	uint64_t size;

	(void)state;
	OK(buf_printf(&u, "%s/alice/nope.git", base));
	r.url = buf_cstr(&u);
	assert_int_equal(mirror_update(M, "alice", "nope", &r, deadline(30), &why), -ENOENT);
	buf_reset(&why);
	assert_int_equal(mirror_update(M, "..", "x", &r, deadline(30), &why), -EINVAL);
	assert_int_equal(mirror_update(M, "a/b", "x", &r, deadline(30), &why), -EINVAL);
	assert_int_equal(mirror_update(M, "a", "", &r, deadline(30), &why), -EINVAL);
	assert_int_equal(mirror_bundle(M, "a\n", "x", &r, true, deadline(30), &path, &size, &why),
			 -EINVAL);
	/* A name with odd bytes gets a file name of safe ones. */
	path = mirror_path(M, ".hidden", "a b%");
	assert_non_null(path);
	assert_non_null(strstr(path, "/%2Ehidden/a%20b%25.git"));
	free(path);
	buf_release(&why);
	buf_release(&u);
}

/* A git killed mid-update leaves lock files and temporary packs: cleared. */
static void test_stale_locks_cleared(void **state)
{
	static const char *const left[] = {"packed-refs.lock",	      "refs/heads/main.lock",
					   "objects/pack/tmp_pack_x", "refs/heads/bottle/x.lock",
					   "bottlefs/q-stale",	      "bottlefs/tmp-x"};
	struct mirror_remote r = remote();
	struct buf why = BUF_INIT(4096);
	char *dir = mirror_path(M, "alice", "dotfiles"), *main_tip;
	char tip[BUNDLE_OID_HEX + 1];
	struct stat st;
	size_t i;

	(void)state;
	assert_non_null(dir);
	sh("cd '%s' && mkdir -p refs/heads/bottle bottlefs/q-stale && touch packed-refs.lock "
	   "refs/heads/main.lock objects/pack/tmp_pack_x refs/heads/bottle/x.lock bottlefs/tmp-x",
	   dir);
	ctl_do("POST", "/_double/git/alice/dotfiles/commit",
	       "{\"branch\":\"main\",\"message\":\"again\",\"files\":{\"again.txt\":\"x\"}}");
	assert_int_equal(mirror_update(M, "alice", "dotfiles", &r, deadline(60), &why), 0);
	main_tip = forge_tip("main");
	assert_int_equal(mirror_tip(M, "alice", "dotfiles", "main", deadline(30), tip, &why), 0);
	assert_string_equal(tip, main_tip);
	for (i = 0; i < sizeof(left) / sizeof(left[0]); i++) {
		struct buf p = BUF_INIT(8192);

		OK(buf_printf(&p, "%s/%s", dir, left[i]));
		if (stat(buf_cstr(&p), &st) == 0)
			fail_msg("%s was left", left[i]);
		buf_release(&p);
	}
	free(main_tip);
	free(dir);
	buf_release(&why);
}

/* ---- pushing ------------------------------------------------------------ */

/* A clone of the forge (work/) with branch bottle/12-fix one commit past main. */
static void make_work_branch(void)
{
	sh("rm -rf work && git clone -q '%s' work && cd work && git checkout -q -b bottle/12-fix "
	   "&& echo fix > fix.txt && git add fix.txt && git commit -q -m fix",
	   url);
}

static void test_push_new_branch_then_ff(void **state)
{
	struct mirror_push_result res;
	struct buf why = BUF_INIT(4096);
	char *tip, *on_forge;
	size_t before;

	(void)state;
	make_work_branch();
	/* As an agent writes it: `git bundle create - main..bottle/12-fix > file`. */
	sh("git -C work bundle create - main..bottle/12-fix > new.bundle");
	tip = sh_out("git -C work rev-parse bottle/12-fix");
	before = receive_packs();
	assert_int_equal(push("new.bundle", "bottle/12-fix", &res, &why), 0);
	assert_string_equal(res.old_tip, "");
	assert_string_equal(res.new_tip, tip);
	assert_false(res.already);
	on_forge = forge_tip("bottle/12-fix");
	assert_string_equal(on_forge, tip);
	assert_true(receive_packs() > before);
	free(on_forge);

	/* The same bundle again: the forge has it, nothing is sent. */
	before = receive_packs();
	assert_int_equal(push("new.bundle", "bottle/12-fix", &res, &why), 0);
	assert_true(res.already);
	assert_int_equal(receive_packs(), before);

	/* A fast-forward on top, with the path form (git bundle create FILE). */
	sh("cd work && echo more >> fix.txt && git commit -q -am more && git bundle create "
	   "../ff.bundle bottle/12-fix~1..bottle/12-fix");
	free(tip);
	tip = sh_out("git -C work rev-parse bottle/12-fix");
	assert_int_equal(push("ff.bundle", "bottle/12-fix", &res, &why), 0);
	on_forge = forge_tip("bottle/12-fix");
	assert_string_equal(on_forge, tip);
	assert_string_equal(res.new_tip, tip);
	assert_int_not_equal(res.old_tip[0], '\0');
	free(on_forge);
	free(tip);
	buf_release(&why);
}

/* Refused before anything is sent: errno, reason, and no receive-pack request. */
static void refused(const char *bundle, const char *branch, const struct bundle_limits *lim,
		    const char *expected_old, int want, const char *reason)
{
	struct mirror_push_req req;
	struct mirror_push_result res;
	struct mirror_remote r = remote();
	struct buf why = BUF_INIT(4096), path = BUF_INIT(8192);
	size_t before = receive_packs();
	int rc;

	memset(&req, 0, sizeof(req));
	OK(buf_printf(&path, "%s/%s", tmp, bundle));
	req.bundle_path = buf_cstr(&path);
	req.branch = branch;
	req.expected_old = expected_old;
	if (lim)
		req.limits = *lim;
	rc = mirror_push(M, "alice", "dotfiles", &r, &req, deadline(60), &res, &why);
	if (rc != want || !strstr(buf_cstr(&why), reason))
		fail_msg("%s: %d '%s' (wanted %d '%s')", bundle, rc, buf_cstr(&why), want, reason);
	assert_null(strchr(buf_cstr(&why), '\n'));
	assert_int_equal(receive_packs(), before);
	buf_release(&why);
	buf_release(&path);
}

static void test_refusals(void **state)
{
	struct bundle_limits lim;
	char *size;

	(void)state;
	make_work_branch();
	/* Malformed: cut short; garbage. */
	sh("git -C work bundle create ../whole.bundle main..bottle/12-fix && head -c 200 "
	   "whole.bundle > cut.bundle && echo hello > garbage.bundle");
	refused("cut.bundle", "bottle/12-fix", NULL, NULL, -EINVAL, "bundle ends early");
	refused("garbage.bundle", "bottle/12-fix", NULL, NULL, -EINVAL, "not a git bundle");
	/* Two refs; a tag. */
	sh("git -C work bundle create ../two.bundle main..HEAD main..bottle/12-fix");
	refused("two.bundle", "bottle/12-fix", NULL, NULL, -EINVAL, "carries 2 refs");
	sh("cd work && git tag -a -m t t1 && git bundle create ../tag.bundle main..t1");
	refused("tag.bundle", "bottle/12-fix", NULL, NULL, -EINVAL, "is a tag");
	/* A bad branch name. */
	refused("whole.bundle", "bottle/../x", NULL, NULL, -EINVAL, "not a valid branch name");
	/* A prerequisite the forge does not have. */
	sh("cd work && git checkout -q -b local && echo a > a && git add a && git commit -q -m a "
	   "&& echo b > b && git add b && git commit -q -m b && git bundle create "
	   "../missing.bundle local~1..local");
	refused("missing.bundle", "bottle/12-fix", NULL, NULL, -ENOENT, "is not on the forge");
	/* Over the object cap (a 5000-byte file) and over the bundle cap. */
	sh("cd work && git checkout -q bottle/12-fix && head -c 5000 /dev/zero | tr '\\0' x > "
	   "big && git add big && git commit -q -m big && git bundle create ../big.bundle "
	   "main..bottle/12-fix");
	memset(&lim, 0, sizeof(lim));
	lim.max_object = 4999;
	refused("big.bundle", "bottle/12-fix", &lim, NULL, -EFBIG, "over the cap of 4999 bytes");
	size = sh_out("stat -c %%s big.bundle");
	memset(&lim, 0, sizeof(lim));
	lim.max_bundle = strtoull(size, NULL, 10) - 1;
	free(size);
	refused("big.bundle", "bottle/12-fix", &lim, NULL, -EFBIG, "larger than the cap");
	/* Not a fast-forward: the forge's branch moved on meanwhile. */
	sh("cd work && git checkout -q -b bottle/13-x main && echo 1 > one && git add one && git "
	   "commit -q -m one && git bundle create ../b13.bundle main..bottle/13-x");
	{
		struct mirror_push_result res;
		struct buf why = BUF_INIT(4096);

		assert_int_equal(push("b13.bundle", "bottle/13-x", &res, &why), 0);
		buf_release(&why);
	}
	ctl_do("POST", "/_double/git/alice/dotfiles/commit",
	       "{\"branch\":\"bottle/13-x\",\"message\":\"on the forge\",\"files\":{\"f\":\"y\"}}");
	sh("cd work && echo 2 > two && git add two && git commit -q -m two && git bundle create "
	   "../nonff.bundle bottle/13-x~1..bottle/13-x");
	refused("nonff.bundle", "bottle/13-x", NULL, NULL, -EPERM, "not a fast-forward");
	/* A push that expects another starting point. */
	sh("cd work && git checkout -q -b bottle/14-y main && echo 3 > three && git add three && "
	   "git commit -q -m three && git bundle create ../b14.bundle main..bottle/14-y");
	refused("b14.bundle", "bottle/14-y", NULL, "0123456789abcdef0123456789abcdef01234567",
		-EPERM, "not at 0123456789abcdef0123456789abcdef01234567 as expected");
}

static int cancel(void *ud, const char *old, const char *new_tip)
{
	char *tip = ud;

	assert_string_equal(old, "");
	assert_string_equal(new_tip, tip);
	return -ECANCELED;
}

static void test_before_send_cancels(void **state)
{
	struct mirror_push_req req;
	struct mirror_push_result res;
	struct mirror_remote r = remote();
	struct buf why = BUF_INIT(4096), path = BUF_INIT(8192);
	size_t before;
	char *tip, *on_forge;

	(void)state;
	sh("rm -rf work && git clone -q '%s' work && cd work && git checkout -q -b bottle/15-z && "
	   "echo z > z && git add z && git commit -q -m z && git bundle create ../b15.bundle "
	   "main..bottle/15-z",
	   url);
	tip = sh_out("git -C work rev-parse bottle/15-z");
	memset(&req, 0, sizeof(req));
	OK(buf_printf(&path, "%s/b15.bundle", tmp));
	req.bundle_path = buf_cstr(&path);
	req.branch = "bottle/15-z";
	req.before_send = cancel;
	req.send_ud = tip;
	before = receive_packs();
	assert_int_equal(mirror_push(M, "alice", "dotfiles", &r, &req, deadline(60), &res, &why),
			 -ECANCELED);
	assert_int_equal(receive_packs(), before);
	on_forge = forge_tip("bottle/15-z");
	assert_null(on_forge);
	free(tip);
	buf_release(&why);
	buf_release(&path);
}

static void test_forge_refuses(void **state)
{
	struct mirror_push_req req;
	struct mirror_push_result res;
	struct mirror_remote r = {url, &CAROL_AUTH};
	struct buf why = BUF_INIT(4096), path = BUF_INIT(8192);

	(void)state;
	sh("rm -rf work && git clone -q '%s' work && cd work && git checkout -q -b bottle/16-c && "
	   "echo c > c && git add c && git commit -q -m c && git bundle create ../b16.bundle "
	   "main..bottle/16-c",
	   url);
	memset(&req, 0, sizeof(req));
	OK(buf_printf(&path, "%s/b16.bundle", tmp));
	req.bundle_path = buf_cstr(&path);
	req.branch = "bottle/16-c";
	/* carol may read the public repository but not push to it: 403. */
	assert_int_equal(mirror_push(M, "alice", "dotfiles", &r, &req, deadline(60), &res, &why),
			 -EACCES);
	assert_non_null(strstr(buf_cstr(&why), "403"));
	assert_null(strstr(buf_cstr(&why), CAROL));
	buf_release(&why);
	buf_release(&path);
}

/* ---- the token ---------------------------------------------------------- */

struct watch {
	atomic_int stop;    /* set by the test: look no more */
	atomic_int found;   /* set by find_pusher: the pushing git was seen */
	int bad_argv;	    /* a process whose argv held the token */
	int with_header;    /* processes whose environment held the header */
	int header_not_net; /* ... that were not a git talking to the forge */
	bool holds_lock;    /* the pushing git had the mirror\'s lock as its fd 3 */
	char why[512];
};

/* A literal with its length, NULs included. */
#define L(s) s, sizeof(s) - 1

/* Does /proc/<pid>/<what> contain needle (needle_len bytes)? first gets the start, NULs as spaces.
 */
static bool proc_has(const char *pid, const char *what, const char *needle, size_t needle_len,
		     char *first, size_t first_len)
{
	char path[300], data[65536];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/%s", pid, what);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return false;
	n = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (n <= 0)
		return false;
	data[n] = '\0';
	if (first) {
		size_t i, k = (size_t)n < first_len - 1 ? (size_t)n : first_len - 1;

		memcpy(first, data, k);
		first[k] = '\0';
		for (i = 0; i + 1 < k; i++)
			if (first[i] == '\0')
				first[i] = ' ';
	}
	return memmem(data, (size_t)n, needle, needle_len) != NULL;
}

/* The parent of a process ("" when gone). */
static void parent_of(const char *pid, char *out, size_t n)
{
	char path[300], data[1024], *p;
	ssize_t k;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return;
	k = read(fd, data, sizeof(data) - 1);
	close(fd);
	if (k <= 0)
		return;
	data[k] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything but ends at the last ')'. */
	p = strrchr(data, ')');
	if (p && p[1] == ' ' && p[2] && p[3] == ' ')
		snprintf(out, n, "%ld", strtol(p + 4, NULL, 10));
}

/*
 * Is pid a git of ours that talks to the forge (fetch, push, ls-remote:
 * the children mirror.c gives auth), or a helper git started below one
 * (remote-http, send-pack, fetch-pack, index-pack), which inherits its
 * environment? Walks up the parents to this test process.
 */
static bool under_network_git(const char *pid)
{
	char cur[256], up[256], me[32];
	int depth;

	snprintf(cur, sizeof(cur), "%s", pid);
	snprintf(me, sizeof(me), "%d", (int)getpid());
	for (depth = 0; depth < 8; depth++) {
		parent_of(cur, up, sizeof(up));
		if (!up[0])
			return false;
		if (strcmp(up, me) == 0)
			return proc_has(cur, "cmdline", L("/usr/bin/git\0push\0"), NULL, 0) ||
			       proc_has(cur, "cmdline", L("/usr/bin/git\0fetch\0"), NULL, 0) ||
			       proc_has(cur, "cmdline", L("/usr/bin/git\0ls-remote\0"), NULL, 0);
		snprintf(cur, sizeof(cur), "%s", up);
	}
	return false;
}

static void *watcher(void *p)
{
	struct watch *w = p;

	while (!atomic_load(&w->stop)) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		while (d && (e = readdir(d))) {
			char cmd[256] = "";

			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			if (proc_has(e->d_name, "cmdline", L(TOKEN), NULL, 0) ||
			    proc_has(e->d_name, "cmdline", L(TOKEN_B64), NULL, 0))
				w->bad_argv++;
			if (proc_has(e->d_name, "environ", L(TOKEN_B64), NULL, 0)) {
				proc_has(e->d_name, "cmdline", L(""), cmd, sizeof(cmd));
				w->with_header++;
				if (!under_network_git(e->d_name) && cmd[0]) {
					w->header_not_net++;
					snprintf(w->why, sizeof(w->why), "%s", cmd);
				}
			}
		}
		if (d)
			closedir(d);
		usleep(2000);
	}
	return NULL;
}

/* Opens /proc/<pid>/environ as another user: must fail. */
static void other_user_cannot_read(pid_t pid)
{
	pid_t c = fork();
	int st;

	assert_true(c >= 0);
	if (c == 0) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		_exit(open(path, O_RDONLY) < 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(c, &st, 0), c);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void *find_pusher(void *p)
{
	struct watch *w = p;
	int i;

	/* The push (slowed down by the double) holds the header: find it. */
	for (i = 0; i < 20000 && !atomic_load(&w->stop) && !atomic_load(&w->found); i++) {
		DIR *d = opendir("/proc");
		struct dirent *e;

		while (d && (e = readdir(d))) {
			char cmd[256] = "";

			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			if (proc_has(e->d_name, "environ", L(TOKEN_B64), NULL, 0) &&
			    proc_has(e->d_name, "cmdline", L("/usr/bin/git\0push\0"), cmd,
				     sizeof(cmd))) {
				char fd3[300], target[4096];
				ssize_t n;

				if (geteuid() == 0)
					other_user_cannot_read((pid_t)strtol(e->d_name, NULL, 10));
				/* It holds the mirror's lock while it runs. */
				snprintf(fd3, sizeof(fd3), "/proc/%s/fd/3", e->d_name);
				n = readlink(fd3, target, sizeof(target) - 1);
				target[n > 0 ? n : 0] = '\0';
				w->holds_lock = n > 0 && strstr(target, "/bottlefs/lock") != NULL;
				atomic_store(&w->found, 1);
				break;
			}
		}
		if (d)
			closedir(d);
		usleep(1000);
	}
	return NULL;
}

static void test_token_only_where_it_must_be(void **state)
{
	struct watch w = {0}, f = {0};
	pthread_t t, t2;
	struct mirror_push_result res;
	struct buf why = BUF_INIT(4096);

	(void)state;
	sh("rm -rf work && git clone -q '%s' work && cd work && git checkout -q -b bottle/17-t && "
	   "echo t > t && git add t && git commit -q -m t && git bundle create ../b17.bundle "
	   "main..bottle/17-t",
	   url);
	/* Slow the push down so that it can be seen while it runs. */
	ctl_do("POST", "/_double/faults",
	       "[{\"path\":\"git-receive-pack$\",\"method\":\"POST\",\"latency_ms\":1500}]");
	assert_int_equal(pthread_create(&t, NULL, watcher, &w), 0);
	assert_int_equal(pthread_create(&t2, NULL, find_pusher, &f), 0);
	assert_int_equal(push("b17.bundle", "bottle/17-t", &res, &why), 0);
	atomic_store(&w.stop, 1);
	pthread_join(t, NULL);
	atomic_store(&f.stop, 1);
	pthread_join(t2, NULL);
	ctl_do("DELETE", "/_double/faults", NULL);
	assert_int_equal(atomic_load(&f.found), 1); /* the pushing git was seen with the header */
	assert_true(f.holds_lock);
	assert_int_equal(w.bad_argv, 0);
	assert_true(w.with_header > 0);
	if (w.header_not_net)
		fail_msg("the header was in the environment of '%s'", w.why);
	buf_release(&why);
}

/* ---- locking, eviction and a lost answer --------------------------------- */

struct worker {
	const char *repo;
	bool bundle;
	int rc[3];
};

static void *work(void *p)
{
	struct worker *w = p;
	struct buf u = BUF_INIT(1024), why = BUF_INIT(4096);
	struct mirror_remote r = {NULL, &AUTH};
	int i;

	OK(buf_printf(&u, "%s/alice/%s.git", base, w->repo));
	r.url = buf_cstr(&u);
	for (i = 0; i < 3; i++) {
		char *path = NULL;
		uint64_t size;

		if (w->bundle)
			w->rc[i] = mirror_bundle(M, "alice", w->repo, &r, true, deadline(60), &path,
						 &size, &why);
		else
			w->rc[i] = mirror_update(M, "alice", w->repo, &r, deadline(60), &why);
		free(path);
	}
	buf_release(&u);
	buf_release(&why);
	return NULL;
}

/*
 * Operations on one repository wait for each other (bounded), never for
 * another repository's; a mirror held past the deadline is "not ready".
 */
static void test_locking(void **state)
{
	struct worker w[4] = {{"dotfiles", true, {0}},
			      {"dotfiles", false, {0}},
			      {"website", true, {0}},
			      {"website", false, {0}}};
	pthread_t t[4];
	struct mirror_remote r = remote(), web = {NULL, &AUTH};
	struct buf why = BUF_INIT(4096), lock = BUF_INIT(8192), u = BUF_INIT(1024);
	char *dir = mirror_path(M, "alice", "dotfiles"), *path = NULL;
	uint64_t size, t0;
	size_t i, k;
	int fd;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		for (k = 0; k < 3; k++)
			if (w[i].rc[k] != 0)
				fail_msg("worker %zu call %zu: %d", i, k, w[i].rc[k]);
	}
	/* Someone else holds dotfiles: its bundle is not ready in time, website is. */
	OK(buf_printf(&lock, "%s/bottlefs/lock", dir));
	fd = open(buf_cstr(&lock), O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	t0 = gitrun_now_ms();
	assert_int_equal(
	    mirror_bundle(M, "alice", "dotfiles", &r, true, t0 + 300, &path, &size, &why), -EAGAIN);
	assert_non_null(strstr(buf_cstr(&why), "timed out waiting"));
	assert_int_equal(mirror_update(M, "alice", "dotfiles", &r, gitrun_now_ms() + 300, &why),
			 -EIO);
	OK(buf_printf(&u, "%s/alice/website.git", base));
	web.url = buf_cstr(&u);
	assert_int_equal(
	    mirror_bundle(M, "alice", "website", &web, true, deadline(60), &path, &size, &why), 0);
	free(path);
	path = NULL;
	close(fd);
	/* Released: dotfiles is ready again. */
	assert_int_equal(
	    mirror_bundle(M, "alice", "dotfiles", &r, true, deadline(60), &path, &size, &why), 0);
	free(path);
	free(dir);
	buf_release(&why);
	buf_release(&lock);
	buf_release(&u);
}

static void test_eviction(void **state)
{
	struct mirror_opts o = {0};
	struct mirrors *m2;
	struct buf why = BUF_INIT(4096), d = BUF_INIT(8192), u = BUF_INIT(1024);
	struct mirror_remote r = {NULL, &AUTH};
	char *dot, *web, *wid;
	struct stat st;
	int fd;

	(void)state;
	OK(buf_printf(&d, "%s/small", tmp));
	o.dir = buf_cstr(&d);
	o.max_count = 2;
	assert_int_equal(mirrors_new(&o, &m2, &why), 0);
	r.url = url;
	assert_int_equal(mirror_update(m2, "alice", "dotfiles", &r, deadline(60), &why), 0);
	OK(buf_printf(&u, "%s/alice/website.git", base));
	r.url = buf_cstr(&u);
	assert_int_equal(mirror_update(m2, "alice", "website", &r, deadline(60), &why), 0);
	assert_int_equal(mirrors_count(m2), 2);
	dot = mirror_path(m2, "alice", "dotfiles");
	web = mirror_path(m2, "alice", "website");
	wid = mirror_path(m2, "acme", "widgets");
	/* dotfiles is the least recently used, but in use: website goes instead. */
	{
		struct buf lock = BUF_INIT(8192);

		OK(buf_printf(&lock, "%s/bottlefs/lock", dot));
		fd = open(buf_cstr(&lock), O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(flock(fd, LOCK_EX), 0);
		buf_release(&lock);
	}
	buf_reset(&u);
	OK(buf_printf(&u, "%s/acme/widgets.git", base));
	r.url = buf_cstr(&u);
	assert_int_equal(mirror_update(m2, "acme", "widgets", &r, deadline(60), &why), 0);
	assert_int_equal(mirrors_count(m2), 2);
	assert_int_equal(stat(dot, &st), 0);
	assert_int_equal(stat(web, &st), -1);
	assert_int_equal(stat(wid, &st), 0);
	close(fd);
	/* Free again, dotfiles is the oldest: website comes back, dotfiles goes. */
	buf_reset(&u);
	OK(buf_printf(&u, "%s/alice/website.git", base));
	r.url = buf_cstr(&u);
	assert_int_equal(mirror_update(m2, "alice", "website", &r, deadline(60), &why), 0);
	assert_int_equal(stat(dot, &st), -1);
	assert_int_equal(stat(web, &st), 0);
	mirrors_free(m2);
	/* A new start finds them on disk, in the same order. */
	o.max_count = 1;
	assert_int_equal(mirrors_new(&o, &m2, &why), 0);
	assert_int_equal(mirrors_count(m2), 1);
	assert_int_equal(stat(web, &st), 0);
	assert_int_equal(stat(wid, &st), -1);
	mirrors_free(m2);
	free(dot);
	free(web);
	free(wid);
	buf_release(&why);
	buf_release(&d);
	buf_release(&u);
}

static void test_lost_answer(void **state)
{
	struct mirror_push_req req;
	struct mirror_push_result res;
	struct mirror_remote r = remote();
	struct buf why = BUF_INIT(4096), path = BUF_INIT(8192);
	char *tip, *on_forge;

	(void)state;
	sh("rm -rf work && git clone -q '%s' work && cd work && git checkout -q -b bottle/18-l && "
	   "echo l > l && git add l && git commit -q -m l && git bundle create ../b18.bundle "
	   "main..bottle/18-l",
	   url);
	tip = sh_out("git -C work rev-parse bottle/18-l");
	/* The push lands on the forge, and its answer never comes. */
	ctl_do("POST", "/_double/faults",
	       "[{\"path\":\"git-receive-pack$\",\"method\":\"POST\",\"hang_after_apply\":true,"
	       "\"times\":1}]");
	memset(&req, 0, sizeof(req));
	OK(buf_printf(&path, "%s/b18.bundle", tmp));
	req.bundle_path = buf_cstr(&path);
	req.branch = "bottle/18-l";
	assert_int_equal(mirror_push(M, "alice", "dotfiles", &r, &req, deadline(8), &res, &why), 0);
	ctl_do("DELETE", "/_double/faults", NULL);
	assert_string_equal(res.new_tip, tip);
	on_forge = forge_tip("bottle/18-l");
	assert_string_equal(on_forge, tip);
	free(on_forge);
	free(tip);
	buf_release(&why);
	buf_release(&path);
}

/* ---- the Gitea adapter's git side ---------------------------------------- */

static void test_gitea_git_url(void **state)
{
	const struct gitea_git g = {"http://h:1", NULL, NULL, NULL};
	struct buf u = BUF_INIT(1024);

	(void)state;
	assert_int_equal(gitea_git_url(&g, "alice", "dot.files", &u), 0);
	assert_string_equal(buf_cstr(&u), "http://h:1/alice/dot.files.git");
	buf_reset(&u);
	assert_int_equal(gitea_git_url(&g, "a b", "x?y#z", &u), 0);
	assert_string_equal(buf_cstr(&u), "http://h:1/a%20b/x%3Fy%23z.git");
	buf_reset(&u);
	assert_int_equal(gitea_git_url(&g, "", "x", &u), -EINVAL);
	buf_release(&u);
}

static void test_gitea_push_and_bundle(void **state)
{
	const struct gitea_git g = {base, NULL, TOKEN, M};
	const struct gitea_git anon = {base, NULL, NULL, M};
	struct forge_push_request req;
	struct forge_push_result res;
	struct buf why = BUF_INIT(4096), path = BUF_INIT(8192);
	char *tip, *on_forge, *bundle = NULL, *heads;
	uint64_t size = 0;

	(void)state;
	sh("rm -rf work && git clone -q '%s' work && cd work && git checkout -q -b bottle/20-g && "
	   "echo g > g && git add g && git commit -q -m g && git bundle create ../b20.bundle "
	   "main..bottle/20-g",
	   url);
	tip = sh_out("git -C work rev-parse bottle/20-g");
	memset(&req, 0, sizeof(req));
	OK(buf_printf(&path, "%s/b20.bundle", tmp));
	req.bundle_path = buf_cstr(&path);
	req.branch = "bottle/20-g";
	req.deadline_ms = deadline(60);
	/* Without a token the forge asks for one: refused, nothing pushed. */
	assert_int_equal(gitea_git_push(&anon, "alice", "dotfiles", &req, &res, &why), -EACCES);
	on_forge = forge_tip("bottle/20-g");
	assert_null(on_forge);
	buf_reset(&why);
	req.deadline_ms = deadline(60);
	assert_int_equal(gitea_git_push(&g, "alice", "dotfiles", &req, &res, &why), 0);
	assert_string_equal(res.new_tip, tip);
	assert_string_equal(res.old_tip, "");
	on_forge = forge_tip("bottle/20-g");
	assert_string_equal(on_forge, tip);
	/* repo.bundle has the pushed branch. */
	assert_int_equal(
	    gitea_git_bundle(&g, "alice", "dotfiles", true, deadline(60), &bundle, &size, &why), 0);
	heads = sh_out("git bundle list-heads '%s' refs/heads/bottle/20-g", bundle);
	assert_non_null(strstr(heads, tip));
	free(heads);
	free(bundle);
	free(on_forge);
	free(tip);
	buf_release(&why);
	buf_release(&path);
}

static void test_gitea_git_branches(void **state)
{
	struct http_options ho = {0};
	struct http *h = NULL;
	struct forge_branch_list l = {0};
	struct buf why = BUF_INIT(4096);
	json_t *refs;
	size_t i, heads = 0;

	(void)state;
	/* More branches than one page holds (50). */
	sh("for i in $(seq 1 55); do curl -sS -f -X PUT -H 'Content-Type: application/json' "
	   "--data '{\"sha\": \"'$(git -C work rev-parse main)'\"}' "
	   "'%s/_double/git/alice/dotfiles/refs/heads/many/b'$i >/dev/null || exit 1; done",
	   base);
	ho.base_url = base;
	ho.token = TOKEN;
	assert_int_equal(http_new(&ho, &h, &why), 0);
	assert_int_equal(gitea_git_branches(h, "alice", "dotfiles", deadline(60), &l, &why), 0);
	refs = ctl("GET", "/_double/git/alice/dotfiles/refs", NULL);
	{
		const char *k;
		json_t *v;

		json_object_foreach(refs, k, v)
		{
			bool found = false;

			if (strncmp(k, "refs/heads/", 11) != 0)
				continue;
			heads++;
			for (i = 0; i < l.n && !found; i++)
				if (strcmp(l.v[i].name, k + 11) == 0) {
					found = true;
					assert_string_equal(l.v[i].commit, json_string_value(v));
				}
			if (!found)
				fail_msg("branch %s is missing from the list", k + 11);
		}
	}
	assert_true(heads > 55);
	assert_int_equal(l.n, heads);
	for (i = 1; i < l.n; i++)
		assert_true(strcmp(l.v[i - 1].name, l.v[i].name) < 0);
	json_decref(refs);
	forge_branch_list_release(&l);
	assert_int_equal(gitea_git_branches(h, "alice", "nope", deadline(30), &l, &why), -ENOENT);
	assert_int_equal(gitea_git_branches(h, "..", "x", deadline(30), &l, &why), -EINVAL);
	http_free(h);
	buf_release(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_update_and_clone),
	    cmocka_unit_test(test_unknown_repo_and_bad_names),
	    cmocka_unit_test(test_stale_locks_cleared),
	    cmocka_unit_test(test_push_new_branch_then_ff),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_before_send_cancels),
	    cmocka_unit_test(test_forge_refuses),
	    cmocka_unit_test(test_token_only_where_it_must_be),
	    cmocka_unit_test(test_locking),
	    cmocka_unit_test(test_eviction),
	    cmocka_unit_test(test_lost_answer),
	    cmocka_unit_test(test_gitea_git_url),
	    cmocka_unit_test(test_gitea_push_and_bundle),
	    cmocka_unit_test(test_gitea_git_branches),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
