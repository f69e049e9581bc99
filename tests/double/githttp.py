"""Git over smart HTTP for the forge doubles (Python 3 standard library only).

A `GitForge` owns one directory of bare repositories, `<root>/<owner>/<repo>.git`
(owner and name lower-cased, as both forges match them case-insensitively).
It builds each repository from a double's seeded store with deterministic
commits (fixed authors and dates, so commit ids are the same on every run),
keeps a cache of each repository's refs for the API answers, creates commits
server-side for the control API, and serves `git http-backend` as a CGI
child with streamed request and response bodies.

Who owns what: the double creates one GitForge at start and calls cleanup()
at exit; the directory is removed only when the GitForge made it (a temp
dir), never a --git-dir the caller gave.  Thread-safety: every method may be
called from any handler thread; git itself serialises ref updates, and the
ref cache is guarded by `self.lock`.

What is built for one seeded repository (see plan_repo):
  - the default branch: one "Initial commit" by the owner at the repo's
    creation time with README.md and the seed's `files` for that branch;
  - every merged pull request, in merge order: its head branch forks from
    the default branch's tip, gets one commit applying the PR's diff, and
    is merged into the default branch with a merge commit (so a merged head
    is an ancestor of the default branch and `merge_commit_sha` is real);
  - every other branch (open or closed PR heads, branches without a PR):
    one commit on top of its base's final tip applying the branch's diff
    (the seed's branch or PR diff, else a generated one), so a PR's head is
    always a descendant of its base;
  - `refs/pull/<n>/head` for every pull request, as both forges have.
A diff that does not apply to the base's files is committed as the file
`.double/<branch>.diff` instead (the seed stays loadable).
"""

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

GIT = shutil.which("git") or "git"
ZERO = "0" * 40
_GIT_PATH_RE = re.compile(r"^/([^/]+)/([^/]+)\.git(/.*)?$")
_BRANCH_RE = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)(?!.*\.lock(/|$))"
                        r"[^\x00-\x20\x7f~^:?*\[\\]+(?<!/)(?<!\.)$")


class GitError(Exception):
    pass


def split_git_path(path):
    """'/owner/repo.git/info/refs' -> (owner, repo, '/info/refs'), else None."""
    m = _GIT_PATH_RE.match(path)
    if not m:
        return None
    return m.group(1), m.group(2), m.group(3) or ""


def is_receive_pack(rest, query):
    return rest == "/git-receive-pack" or (
        rest == "/info/refs" and "service=git-receive-pack" in query)


def valid_branch_name(name):
    """git check-ref-format's rules for a branch name, without a subprocess."""
    return isinstance(name, str) and bool(_BRANCH_RE.match(name))


def _env(extra=None):
    """A clean environment for git: no user or system config, fixed locale."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": "/nonexistent", "LC_ALL": "C", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_TERMINAL_PROMPT": "0"}
    if extra:
        env.update(extra)
    return env


def run_git(args, git_dir=None, data=None, env=None, ok=(0,)):
    cmd = [GIT]
    if git_dir:
        cmd += ["--git-dir", git_dir]
    p = subprocess.run(cmd + list(args), input=data, capture_output=True, env=_env(env))
    if p.returncode not in ok:
        raise GitError("git %s: %s" % (" ".join(args[:2]), p.stderr.decode(errors="replace").strip()))
    return p.stdout


# ------------------------------------------------------------ diff apply ----

def parse_diff(text):
    """A unified git diff -> list of file patches
    {"old": path|None, "new": path|None, "mode": "100644"|"100755", "hunks": [...]},
    each hunk {"start": old start line, "old": [lines], "new": [lines]}."""
    files = []
    cur = None
    hunk = None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        if line.startswith("diff --git "):
            m = re.match(r"^diff --git a/(.+) b/(.+)$", line)
            if not m:
                raise ValueError("bad diff header %r" % line)
            cur = {"old": m.group(1), "new": m.group(2), "mode": None, "hunks": []}
            files.append(cur)
            hunk = None
            continue
        if cur is None:
            raise ValueError("diff does not start with 'diff --git'")
        if hunk is None:
            if line.startswith("new file mode "):
                cur["old"] = None
                cur["mode"] = line.split()[-1]
            elif line.startswith("deleted file mode "):
                cur["new"] = None
            elif line.startswith("new mode "):
                cur["mode"] = line.split()[-1]
            elif line.startswith("--- ") or line.startswith("+++ ") or \
                    line.startswith("index ") or line.startswith("old mode ") or \
                    line.startswith("similarity ") or line.startswith("rename "):
                pass
            elif line.startswith("@@ "):
                pass
            elif line.startswith("Binary files"):
                raise ValueError("binary patches are not supported")
            else:
                raise ValueError("unexpected line %r" % line)
        if line.startswith("@@ "):
            m = re.match(r"^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@", line)
            if not m:
                raise ValueError("bad hunk header %r" % line)
            hunk = {"start": int(m.group(1)), "old": [], "new": []}
            cur["hunks"].append(hunk)
            continue
        if hunk is None:
            continue
        if line.startswith("\\"):
            continue  # "\ No newline at end of file"
        tag, body = line[:1], line[1:]
        if tag == " " or line == "":
            hunk["old"].append(body)
            hunk["new"].append(body)
        elif tag == "-":
            hunk["old"].append(body)
        elif tag == "+":
            hunk["new"].append(body)
        else:
            raise ValueError("unexpected hunk line %r" % line)
    return files


def apply_diff(files, text):
    """Apply a unified diff to {path: (mode, bytes)}; returns the new dict.
    A hunk is looked for at its line number first, then anywhere (like
    patch's offset search).  ValueError when something does not apply."""
    out = dict(files)
    for fp in parse_diff(text):
        if fp["old"] is None:
            if fp["new"] in out:
                raise ValueError("%s already exists" % fp["new"])
            body = "\n".join(l for h in fp["hunks"] for l in h["new"])
            out[fp["new"]] = (fp["mode"] or "100644", (body + "\n").encode() if body else b"")
            continue
        if fp["old"] not in out:
            raise ValueError("%s does not exist" % fp["old"])
        mode, data = out.pop(fp["old"])
        if fp["new"] is None:
            continue
        try:
            lines = data.decode().split("\n")
        except UnicodeDecodeError:
            raise ValueError("%s is not text" % fp["old"])
        trailing = lines and lines[-1] == ""
        if trailing:
            lines.pop()
        shift = 0
        for h in fp["hunks"]:
            want = h["old"]
            at = max(h["start"] - 1 + shift, 0) if want else h["start"] + shift
            if lines[at:at + len(want)] != want:
                at = next((i for i in range(len(lines) - len(want) + 1)
                           if lines[i:i + len(want)] == want), None)
                if at is None:
                    raise ValueError("a hunk of %s does not apply" % fp["old"])
            lines[at:at + len(want)] = h["new"]
            shift += len(h["new"]) - len(want)
        body = "\n".join(lines)
        out[fp["new"]] = (fp["mode"] or mode, (body + "\n").encode() if (body or trailing) else b"")
    return out


# --------------------------------------------------------------- planning ----

def _ident(user):
    return (user.get("full_name") or user["login"], user["email"])


def generated_branch_diff(repo_name, branch):
    path = "%s/change.txt" % branch
    return ("diff --git a/{p} b/{p}\nnew file mode 100644\n--- /dev/null\n+++ b/{p}\n"
            "@@ -0,0 +1,2 @@\n+change on {b}\n+in {r}\n").format(p=path, b=branch, r=repo_name)


def plan_repo(store, repo):
    """The commits of one seeded repository, from a double's Store (the store
    format both doubles load).  Returns a list of steps for build()."""
    default = repo["default_branch"]
    owner = repo["owner"]
    created = repo["created"]
    files = {"README.md": ("100644", ("# %s\n\n%s\n" % (repo["name"], repo["description"])).encode())}
    for path, content in sorted((repo["branches"].get(default, {}).get("files") or {}).items()):
        files[path] = ("100644", content.encode())
    steps = [{"ref": "refs/heads/" + default, "mark": "main", "parents": [], "files": files,
              "ident": _ident(owner), "time": created, "message": "Initial commit\n"}]
    pulls = sorted((i for i in repo["issues"].values() if i["pull"]),
                   key=lambda i: i["number"])
    pr_for_head = {}
    for i in pulls:
        pr_for_head[i["pull"]["head"]] = i  # the newest PR on a head wins
    merged = sorted((i for i in pulls if i["pull"]["merged"] and i["pull"]["base"] == default),
                    key=lambda i: (i["pull"]["merged_at"] or 0, i["number"]))
    tips = {default: "main"}
    tip_files = {default: files}
    tip_time = {default: created}
    n = 0
    merged_heads = set()
    for i in merged:
        p = i["pull"]
        n += 1
        head_mark = "m%d" % n
        hfiles = _apply_or_keep(tip_files[default], p["diff"], p["head"])
        steps.append({"ref": "refs/heads/" + p["head"], "mark": head_mark,
                      "parents": [tips[default]], "files": hfiles,
                      "ident": _ident(i["user"]), "time": i["created"],
                      "message": "%s\n" % i["title"]})
        merge_mark = "merge%d" % i["number"]
        who = p["merged_by"] or owner
        steps.append({"ref": "refs/heads/" + default, "mark": merge_mark,
                      "parents": [tips[default], head_mark], "files": hfiles,
                      "ident": _ident(who), "time": p["merged_at"] or i["created"],
                      "message": "Merge pull request '%s' (#%d) from %s into %s\n" % (
                          i["title"], i["number"], p["head"], default),
                      "merge_of": i["number"]})
        tips[default] = merge_mark
        tip_files[default] = hfiles
        tip_time[default] = max(tip_time[default], steps[-1]["time"])
        merged_heads.add(p["head"])
    rest = [b for b in repo["branches"] if b != default and b not in merged_heads]
    # branches other PRs are based on first, so their tips exist
    bases = {pr_for_head[b]["pull"]["base"] for b in rest if b in pr_for_head}
    rest.sort(key=lambda b: (0 if b in bases else 1, b))
    for b in rest:
        i = pr_for_head.get(b)
        base = i["pull"]["base"] if i else default
        if base not in tips:
            base = default
        diff = repo["branches"][b].get("diff") or (i["pull"]["diff"] if i else None) \
            or generated_branch_diff(repo["name"], b)
        bfiles = _apply_or_keep(tip_files[base], diff, b)
        mark = "b%d" % len(steps)
        who = i["user"] if i else owner
        when = i["created"] if i else tip_time[base] + 3600
        steps.append({"ref": "refs/heads/" + b, "mark": mark, "parents": [tips[base]],
                      "files": bfiles, "ident": _ident(who), "time": when,
                      "message": "%s\n" % (i["title"] if i else "Work on " + b)})
        tips[b] = mark
        tip_files[b] = bfiles
        tip_time[b] = when
    for i in pulls:
        head = i["pull"]["head"]
        mark = tips.get(head)
        if head in merged_heads:
            mark = next(s["mark"] for s in steps if s["ref"] == "refs/heads/" + head)
        if mark:
            steps.append({"ref": "refs/pull/%d/head" % i["number"], "reset": mark})
    return steps


def _apply_or_keep(files, diff, branch):
    try:
        return apply_diff(files, diff)
    except ValueError:
        out = dict(files)
        out[".double/%s.diff" % branch] = ("100644", diff.encode())
        return out


def fast_import_stream(steps):
    """The fast-import commands for plan_repo's steps (bytes)."""
    out = []
    marks = {}
    files_at = {}  # mark -> that commit's files
    for s in steps:
        if "reset" in s:
            out.append(b"reset %s\nfrom :%d\n\n" % (s["ref"].encode(), marks[s["reset"]]))
            continue
        marks[s["mark"]] = len(marks) + 1
        name, email = s["ident"]
        who = b"%s <%s> %d +0000" % (name.encode(), email.encode(), s["time"])
        msg = s["message"].encode()
        out.append(b"commit %s\nmark :%d\nauthor %s\ncommitter %s\ndata %d\n%s\n" % (
            s["ref"].encode(), marks[s["mark"]], who, who, len(msg), msg))
        for k, parent in enumerate(s["parents"]):
            out.append(b"%s :%d\n" % (b"from" if k == 0 else b"merge", marks[parent]))
        # only what differs from the first parent (the tree starts as its tree)
        before = files_at.get(s["parents"][0], {}) if s["parents"] else {}
        for path in sorted(set(before) - set(s["files"])):
            out.append(b"D %s\n" % path.encode())
        for path, (mode, data) in sorted(s["files"].items()):
            if before.get(path) != (mode, data):
                out.append(b"M %s inline %s\ndata %d\n%s\n" % (mode.encode(), path.encode(),
                                                            len(data), data))
        files_at[s["mark"]] = s["files"]
        out.append(b"\n")
    return b"".join(out), marks


# ------------------------------------------------------------------ forge ----

class GitForge:
    """The bare repositories of one double."""

    def __init__(self, root=None):
        self.owned = root is None
        self.root = root or tempfile.mkdtemp(prefix="double-git-")
        os.makedirs(self.root, exist_ok=True)
        self.lock = threading.Lock()
        # all guarded by self.lock:
        self.refs_cache = {}     # git dir -> {ref: sha}
        self.times = {}          # commit id -> committer time (from for-each-ref)
        self.merge_commits = {}  # (git dir, PR number) -> merge commit id
        self.info_cache = {}     # commit id -> commit_info() (commits never change)
        self.mb_cache = {}       # (git dir, a, b) -> merge base
        # set when no build is running; every reader waits for it
        self.built = threading.Event()
        self.built.set()
        self.build_error = None

    def cleanup(self):
        """Remove the repositories (only a temp dir this GitForge made),
        after a build still running in the background ends."""
        self.built.wait(30)
        if self.owned:
            shutil.rmtree(self.root, ignore_errors=True)

    def git_dir(self, owner, name):
        return os.path.join(self.root, owner.lower(), name.lower() + ".git")

    def exists(self, owner, name):
        self.wait_built()
        return os.path.isdir(self.git_dir(owner, name))

    # -- building
    def wait_built(self):
        """Block until the repositories exist (a build runs at most ~1 s)."""
        if not self.built.wait(120):
            raise GitError("building the git repositories timed out")
        if self.build_error is not None:
            raise GitError("building the git repositories failed: %s" % self.build_error)

    def build_all_in_background(self, store):
        """Plan now (under the caller's store lock, so the seed cannot change
        under it), run git in a thread: a double answers API requests that
        need no git while its repositories are still being written."""
        self.wait_built()
        plans = self._plans(store)
        self.built.clear()

        def run():
            try:
                self._build_plans(plans)
            except (OSError, GitError) as e:
                self.build_error = e
            finally:
                self.built.set()
        threading.Thread(target=run, name="git-build", daemon=True).start()

    def _plans(self, store):
        return [(r["owner"]["login"], r["name"], r["default_branch"], plan_repo(store, r))
                for r in store.repos.values()]

    def build_all(self, store):
        """(Re)create every repository of the store now; a reset calls it."""
        self.wait_built()
        self._build_plans(self._plans(store))

    def _build_plans(self, plans):
        for key in list(os.listdir(self.root)):
            shutil.rmtree(os.path.join(self.root, key), ignore_errors=True)
        with self.lock:
            self.refs_cache.clear()
            self.merge_commits.clear()
            self.mb_cache.clear()
        for owner, name, default_branch, steps in plans:
            self.build(owner, name, default_branch, steps)

    def build(self, owner, name, default_branch, steps):
        """One bare repository from plan_repo's steps with a single git
        process (fast-import): the skeleton `git init --bare` would make is
        written directly, since a double starts once per test."""
        gd = self.git_dir(owner, name)
        for sub in ("objects/info", "objects/pack", "refs/heads", "refs/tags", "info"):
            os.makedirs(os.path.join(gd, sub), exist_ok=True)
        with open(os.path.join(gd, "HEAD"), "w") as f:
            f.write("ref: refs/heads/%s\n" % default_branch)
        with open(os.path.join(gd, "config"), "w") as f:
            f.write("[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n"
                    "\tbare = true\n\tlogallrefupdates = false\n"
                    "[http]\n\treceivepack = true\n"
                    "[receive]\n\tdenyNonFastForwards = false\n"
                    "[gc]\n\tauto = 0\n")
        stream, marks = fast_import_stream(steps)
        marks_file = os.path.join(gd, "double-marks")
        # every branch stays loaded: fast-import's default of 5 makes a seed
        # with a thousand pull requests take seconds instead of a fraction
        active = max(5, len({st["ref"] for st in steps}))
        run_git(["fast-import", "--quiet", "--active-branches=%d" % active,
                 "--export-marks=" + marks_file], git_dir=gd, data=stream)
        by_mark = {}
        with open(marks_file) as f:
            for line in f:
                m, sha = line.split()
                by_mark[int(m[1:])] = sha
        os.unlink(marks_file)
        refs, times = {}, {}
        for s in steps:  # the last step naming a ref sets it, as in the stream
            mark = marks[s.get("reset") or s["mark"]]
            refs[s["ref"]] = by_mark[mark]
            if "time" in s:
                times[by_mark[mark]] = s["time"]
        with self.lock:
            for s in steps:
                if s.get("merge_of"):
                    self.merge_commits[(gd, s["merge_of"])] = by_mark[marks[s["mark"]]]
            self.refs_cache[gd] = refs
            self.times.update(times)

    # -- reading
    def refresh(self, owner, name):
        self.wait_built()
        gd = self.git_dir(owner, name)
        out = run_git(["for-each-ref", "--format=%(objectname) %(committerdate:unix) %(refname)"],
                      git_dir=gd)
        refs = {}
        times = {}
        for line in out.decode().splitlines():
            sha, t, ref = line.split(" ", 2)
            refs[ref] = sha
            times[sha] = int(t or 0)
        with self.lock:
            self.refs_cache[gd] = refs
            self.times.update(times)
        return dict(refs)

    def commit_time(self, sha):
        with self.lock:
            return self.times.get(sha, 0)

    def refs(self, owner, name):
        self.wait_built()
        gd = self.git_dir(owner, name)
        with self.lock:
            cached = self.refs_cache.get(gd)
        if cached is None:
            if not os.path.isdir(gd):
                return {}
            cached = self.refresh(owner, name)
        return dict(cached)

    def branches(self, owner, name):
        return {r[len("refs/heads/"):]: sha for r, sha in self.refs(owner, name).items()
                if r.startswith("refs/heads/")}

    def merge_commit(self, owner, name, number):
        self.wait_built()
        with self.lock:
            return self.merge_commits.get((self.git_dir(owner, name), number))

    def commit_info(self, owner, name, sha):
        """{id, tree, parents, author{name,email,time}, committer{...}, message}."""
        self.wait_built()
        with self.lock:
            if sha in self.info_cache:
                return self.info_cache[sha]
        raw = run_git(["cat-file", "commit", sha], git_dir=self.git_dir(owner, name)).decode(
            errors="replace")
        head, _, message = raw.partition("\n\n")
        info = {"id": sha, "parents": [], "message": message}
        for line in head.split("\n"):
            key, _, val = line.partition(" ")
            if key == "tree":
                info["tree"] = val
            elif key == "parent":
                info["parents"].append(val)
            elif key in ("author", "committer"):
                m = re.match(r"^(.*) <(.*)> (\d+) ([+-]\d{4})$", val)
                if m:
                    info[key] = {"name": m.group(1), "email": m.group(2),
                                 "time": int(m.group(3)), "tz": m.group(4)}
        if len(sha) == 40:
            with self.lock:
                self.info_cache[sha] = info
        return info

    def changed_files(self, owner, name, sha):
        """(added, removed, modified) paths of a commit against its first parent."""
        self.wait_built()
        out = run_git(["diff-tree", "--no-commit-id", "-r", "--root", "--name-status", sha],
                      git_dir=self.git_dir(owner, name)).decode(errors="replace")
        added, removed, modified = [], [], []
        for line in out.splitlines():
            st, _, path = line.partition("\t")
            {"A": added, "D": removed}.get(st[:1], modified).append(path)
        return added, removed, modified

    def diff(self, owner, name, base, head):
        """`git diff base...head` (what a PR shows), '' if either is missing."""
        b = self.branches(owner, name)
        if base not in b or head not in b:
            return ""
        return run_git(["diff", "--no-color", "--no-ext-diff", "%s...%s" % (b[base], b[head])],
                       git_dir=self.git_dir(owner, name)).decode(errors="replace")

    def ahead(self, owner, name, base, head):
        """How many commits head has that base lacks (`git rev-list --count
        base..head`), 0 if either is missing."""
        b = self.branches(owner, name)
        if base not in b or head not in b:
            return 0
        out = run_git(["rev-list", "--count", "%s..%s" % (b[base], b[head])],
                      git_dir=self.git_dir(owner, name))
        return int(out.decode().strip() or "0")

    def merge_base(self, owner, name, a, b):
        self.wait_built()
        key = (self.git_dir(owner, name), a, b)
        with self.lock:
            if key in self.mb_cache:
                return self.mb_cache[key]
        out = run_git(["merge-base", a, b], git_dir=key[0], ok=(0, 1))
        mb = out.decode().strip() or None
        with self.lock:
            self.mb_cache[key] = mb
        return mb

    def pull_shas(self, owner, name, number, base, head):
        """(base tip, head commit, merge base) of a pull request, or Nones:
        the head is refs/pull/<n>/head (kept after the branch moves on or
        is deleted, as the forges do)."""
        refs = self.refs(owner, name)
        b = refs.get("refs/heads/" + base)
        h = refs.get("refs/pull/%d/head" % number) or refs.get("refs/heads/" + head)
        mb = self.merge_base(owner, name, b, h) if b and h else None
        return b, h, mb

    def sync_pull_refs(self, owner, name, pulls):
        """Point refs/pull/<n>/head at the head branch's tip for each open
        (number, head) in pulls, as a forge does after a push."""
        gd = self.git_dir(owner, name)
        refs = self.refs(owner, name)
        changed = False
        for number, head in pulls:
            tip = refs.get("refs/heads/" + head)
            ref = "refs/pull/%d/head" % number
            if tip and refs.get(ref) != tip:
                run_git(["update-ref", ref, tip], git_dir=gd)
                changed = True
        if changed:
            self.refresh(owner, name)

    # -- writing (control API)
    def commit(self, owner, name, branch, files, message, ident, when, start=None):
        """One commit on `branch` (created from `start`, a branch or commit
        id, when it does not exist), with `files` {path: text or None to
        delete}.  Returns the new commit id."""
        self.wait_built()
        gd = self.git_dir(owner, name)
        if not os.path.isdir(gd):
            raise GitError("no repository %s/%s" % (owner, name))
        if not valid_branch_name(branch):
            raise GitError("bad branch name %r" % branch)
        refs = self.refresh(owner, name)
        old = refs.get("refs/heads/" + branch)
        parent = old
        if parent is None:
            if start is None:
                raise GitError("branch %r does not exist; give \"from\"" % branch)
            parent = refs.get("refs/heads/" + start) or start
            parent = run_git(["rev-parse", "--verify", "--quiet", parent + "^{commit}"],
                             git_dir=gd).decode().strip()
        idx = tempfile.NamedTemporaryFile(prefix="double-index-", delete=False)
        idx.close()
        os.unlink(idx.name)
        env = {"GIT_INDEX_FILE": idx.name}
        try:
            run_git(["read-tree", parent], git_dir=gd, env=env)
            lines = []
            for path, content in sorted(files.items()):
                if "\n" in path or "\t" in path:
                    raise GitError("bad path %r" % path)
                if content is None:  # mode 0 removes the entry
                    lines.append("0 %s\t%s\n" % (ZERO, path))
                    continue
                blob = run_git(["hash-object", "-w", "--stdin"], git_dir=gd,
                               data=content.encode()).decode().strip()
                lines.append("100644 %s\t%s\n" % (blob, path))
            if lines:
                run_git(["update-index", "--index-info"], git_dir=gd, env=env,
                        data="".join(lines).encode())
            tree = run_git(["write-tree"], git_dir=gd, env=env).decode().strip()
        finally:
            if os.path.exists(idx.name):
                os.unlink(idx.name)
        date = "%d +0000" % when
        cenv = {"GIT_AUTHOR_NAME": ident[0], "GIT_AUTHOR_EMAIL": ident[1],
                "GIT_COMMITTER_NAME": ident[0], "GIT_COMMITTER_EMAIL": ident[1],
                "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        sha = run_git(["commit-tree", tree, "-p", parent], git_dir=gd, env=cenv,
                      data=message.encode()).decode().strip()
        run_git(["update-ref", "refs/heads/" + branch, sha, old or ZERO], git_dir=gd)
        self.refresh(owner, name)
        return sha

    def set_ref(self, owner, name, ref, sha):
        """Point ref at sha (None deletes it); no fast-forward check."""
        self.wait_built()
        gd = self.git_dir(owner, name)
        if sha is None:
            run_git(["update-ref", "-d", ref], git_dir=gd)
        else:
            full = run_git(["rev-parse", "--verify", "--quiet", sha + "^{commit}"],
                           git_dir=gd).decode().strip()
            run_git(["update-ref", ref, full], git_dir=gd)
        self.refresh(owner, name)

    # -- serving
    def serve(self, handler, owner, name, rest, query, remote_user, on_done=None,
              hold_output=False):
        """Run `git http-backend` for one request on handler's connection.

        The request body is streamed from handler.rfile into the CGI (chunked
        bodies de-chunked; gzip bodies passed on with HTTP_CONTENT_ENCODING,
        which http-backend inflates itself), the answer streamed back with
        chunked transfer encoding.  With hold_output the answer is collected
        and returned as (status, headers, body) instead of being sent (for
        the truncate, trickle and hang_after_apply faults).  Returns the
        status sent (or collected)."""
        self.wait_built()
        path_info = "/%s/%s.git%s" % (owner.lower(), name.lower(), rest)
        hdr = handler.headers
        env = _env({
            "GIT_PROJECT_ROOT": self.root, "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": remote_user or "", "REMOTE_ADDR": "127.0.0.1",
            "PATH_INFO": path_info, "QUERY_STRING": query or "",
            "REQUEST_METHOD": handler.command,
            "CONTENT_TYPE": hdr.get("Content-Type", ""),
            "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
        })
        if hdr.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = hdr["Git-Protocol"]
        enc = (hdr.get("Content-Encoding") or "").strip().lower()
        chunked = (hdr.get("Transfer-Encoding") or "").lower() == "chunked"
        length = None
        if not chunked and hdr.get("Content-Length") is not None:
            length = int(hdr["Content-Length"])
            env["CONTENT_LENGTH"] = str(length)
        if enc in ("gzip", "x-gzip"):
            env["HTTP_CONTENT_ENCODING"] = enc
        verbose = bool(os.environ.get("GITEA_DOUBLE_VERBOSE"))
        proc = subprocess.Popen([GIT, "http-backend"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=None if verbose else subprocess.DEVNULL, env=env)
        feeder = threading.Thread(target=_feed, args=(handler.rfile, proc.stdin, chunked, length),
                                  daemon=True)
        feeder.start()
        try:
            status, headers = _read_cgi_headers(proc.stdout)
            if hold_output:
                body = proc.stdout.read()
                proc.wait()
                feeder.join(5)
                if rest == "/git-receive-pack" and on_done:
                    on_done()
                return status, headers, body
            handler.send_response(status)
            for k, v in headers:
                handler.send_header(k, v)
            head_only = handler.command == "HEAD"
            if not head_only:
                handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            while not head_only:
                chunk = proc.stdout.read1(65536)
                if not chunk:
                    break
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                handler.wfile.flush()
            proc.wait()
            feeder.join(5)
            # before the answer ends, so a client's next request sees the push
            if rest == "/git-receive-pack" and on_done:
                on_done()
            if not head_only:
                handler.wfile.write(b"0\r\n\r\n")
            return status
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()


def _feed(rfile, stdin, chunked, length):
    """Copy the request body into the CGI's stdin, then close it."""
    try:
        if chunked:
            while True:
                line = rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                while size > 0:
                    data = rfile.read(min(size, 65536))
                    if not data:
                        return
                    stdin.write(data)
                    size -= len(data)
                rfile.readline(1024)
        elif length:
            left = length
            while left > 0:
                data = rfile.read(min(left, 65536))
                if not data:
                    return
                stdin.write(data)
                left -= len(data)
    except (OSError, ValueError):
        pass
    finally:
        try:
            stdin.close()
        except OSError:
            pass


def _read_cgi_headers(out):
    status = 200
    headers = []
    while True:
        line = out.readline(8192)
        if not line or line in (b"\r\n", b"\n"):
            break
        k, _, v = line.decode("latin-1").rstrip("\r\n").partition(":")
        v = v.strip()
        if k.lower() == "status":
            status = int(v.split()[0])
        else:
            headers.append((k, v))
    return status, headers


# ------------------------------------------------------------ one request ----

def git_request(h, forge, owner, name, rest, query, authorize, on_push=None):
    """Serve one git smart-HTTP request on handler h (a double's Handler).

    The double's fault rules apply first (h.fault_prelude: latency, hang,
    drop, status...), then authorize(write) names the user or raises an
    exception carrying a `.reply` (401/403/404), then http-backend runs.
    Every request lands in the double's request log with its path, so a test
    can assert that no git-receive-pack was sent.  on_push() runs after a
    receive-pack finished (the double refreshes what it derives from refs)."""
    d = h.d
    method = h.command
    path = "/%s/%s.git%s" % (owner, name, rest)
    rule = h.fault_prelude(method, path, query)
    if rule is None:
        return
    write = is_receive_pack(rest, query)
    try:
        if rest != "/git-upload-pack" and rest != "/git-receive-pack" and \
                not (rest == "/info/refs" and query in ("service=git-upload-pack",
                                                        "service=git-receive-pack")):
            raise _Refused(h, 404, "only the smart protocol is served\n")
        if method not in ("GET", "HEAD", "POST"):
            raise _Refused(h, 405, "method not allowed\n")
        user = authorize(write)
    except Exception as e:
        if not hasattr(e, "reply"):
            raise
        _drain(h)
        d.record(method, path, query, e.reply.status, bool(rule))
        h.send_reply(e.reply)
        return
    hold = bool(rule.get("truncate") or rule.get("trickle_ms") or rule.get("hang_after_apply"))
    try:
        got = forge.serve(h, owner, name, rest, query, user, on_done=on_push, hold_output=hold)
    except (OSError, ValueError) as e:
        h.close_connection = True
        d.record(method, path, query, "drop", bool(rule))
        sys.stderr.write("double: git %s %s failed: %r\n" % (method, path, e))
        return
    if not hold:
        d.record(method, path, query, got, bool(rule))
        return
    status, headers, body = got
    if rule.get("hang_after_apply"):
        d.record(method, path, query, "hang", True)
        h.hang()
        return
    d.record(method, path, query, status, True)
    ctype = next((v for k, v in headers if k.lower() == "content-type"), None)
    extra = [(k, v) for k, v in headers if k.lower() != "content-type"]
    h.send_reply(_Reply(status, body, ctype, extra), truncate=bool(rule.get("truncate")),
                 trickle_ms=rule.get("trickle_ms") or 0)


class _Reply:
    """The shape of a double's Reply (status, body, ctype, headers)."""

    def __init__(self, status, body, ctype, headers=None):
        self.status, self.body, self.ctype, self.headers = status, body, ctype, headers or []


class _Refused(Exception):
    def __init__(self, h, status, text, headers=None):
        super().__init__(status)
        self.reply = _Reply(status, text.encode(), "text/plain; charset=utf-8", headers)


def refuse(status, text, headers=None):
    """An exception for authorize() to raise: a plain-text refusal."""
    return _Refused(None, status, text, headers)


def _drain(h):
    """Read a small unread request body so the connection stays usable;
    anything else closes the connection after the answer."""
    cl = h.headers.get("Content-Length")
    if h.headers.get("Transfer-Encoding") or (cl and not cl.isdigit()):
        h.close_connection = True
        return
    n = int(cl or 0)
    if n > 1024 * 1024:
        h.close_connection = True
        return
    while n > 0:
        data = h.rfile.read(min(n, 65536))
        if not data:
            break
        n -= len(data)


def basic_password(header):
    """(user, password) from an 'Authorization: Basic ...' value, else None."""
    scheme, _, cred = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(cred.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


# ------------------------------------------------------------ control API ----

def control(forge, method, path, body, ident_for, now):
    """/_double/git/{o}/{r}/... -> (status, JSON value).

    GET  refs                          {ref: commit id} of every ref
    GET  commits/{id or ref}           the commit (id, parents, tree, author...)
    POST commit  {"branch", "message", "files": {path: text|null},
                  "from": branch|id (to create the branch), "author": login}
                                       a commit on top of the branch
    PUT  refs/heads/{b} {"sha": id}    point a branch anywhere (force)
    DELETE refs/heads/{b}              delete a branch
    ident_for(login or None, owner) gives (name, email); now() the time."""
    m = re.match(r"^/_double/git/([^/]+)/([^/]+)/(.+)$", path)
    if not m:
        return 404, {"message": "unknown git control endpoint"}
    owner, name, what = m.group(1), m.group(2), m.group(3)
    if not forge.exists(owner, name):
        return 404, {"message": "no repository %s/%s" % (owner, name)}
    try:
        obj = json.loads(body) if body and body.strip() else {}
    except ValueError as e:
        return 400, {"message": "body is not JSON: %s" % e}
    if not isinstance(obj, dict):
        return 400, {"message": "body must be a JSON object"}
    try:
        if what == "refs" and method == "GET":
            return 200, forge.refresh(owner, name)
        if what.startswith("commits/") and method == "GET":
            ref = what[len("commits/"):]
            sha = forge.refs(owner, name).get(ref) or forge.refs(owner, name).get(
                "refs/heads/" + ref) or ref
            return 200, forge.commit_info(owner, name, sha)
        if what == "commit" and method == "POST":
            files = obj.get("files") or {}
            if not isinstance(files, dict) or not all(
                    isinstance(k, str) and k and (v is None or isinstance(v, str))
                    for k, v in files.items()):
                return 400, {"message": "files must map paths to text or null"}
            branch = obj.get("branch")
            if not valid_branch_name(branch):
                return 400, {"message": "branch must be a valid branch name"}
            message = obj.get("message") or "Commit on the forge"
            if not isinstance(message, str):
                return 400, {"message": "message must be a string"}
            ident = ident_for(obj.get("author"), owner)
            if ident is None:
                return 400, {"message": "unknown author %r" % obj.get("author")}
            sha = forge.commit(owner, name, branch, files, message.rstrip("\n") + "\n",
                               ident, now(), start=obj.get("from"))
            return 200, {"id": sha, "ref": "refs/heads/" + branch}
        if what.startswith("refs/heads/") and method in ("PUT", "DELETE"):
            branch = what[len("refs/heads/"):]
            if not valid_branch_name(branch):
                return 400, {"message": "bad branch name"}
            sha = None
            if method == "PUT":
                sha = obj.get("sha")
                if not isinstance(sha, str) or not sha:
                    return 400, {"message": "sha is required"}
            forge.set_ref(owner, name, what, sha)
            return 200, {"ok": True}
    except GitError as e:
        return 422, {"message": str(e)}
    return 404, {"message": "unknown git control endpoint %s %s" % (method, path)}
