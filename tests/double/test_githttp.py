"""Tests for git over smart HTTP in the Gitea double (githttp.py): seeded
bare repositories, clone and push with the token, git's own fast-forward
rules, the branch API reading refs, POST /pulls with a pushed head, fault
rules and the request log on git paths, and the git control API.

Run: python3 -m unittest discover -s tests/double -v
"""

import base64
import gzip
import json
import os
import subprocess
import sys
import time
import unittest

import githttp
from prismcheck import PrismProxy
from test_double import PRISM_SPEC, DoubleTest, prism_spec

GIT_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
           "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false",
           "GIT_AUTHOR_NAME": "Agent", "GIT_AUTHOR_EMAIL": "agent@example.com",
           "GIT_COMMITTER_NAME": "Agent", "GIT_COMMITTER_EMAIL": "agent@example.com"}


def wait_until(pred, timeout=20.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("condition not met within %.0f s" % timeout)


class GitTest(DoubleTest):
    token = "alice-token alice\ncarol-token carol\nread-token alice read:repository\n"

    def setUp(self):
        super().setUp()
        self.work = os.path.join(self.tmp, "work")
        os.makedirs(self.work)

    def url(self, repo="alice/dotfiles", token="alice-token", user="anyone", d=None):
        d = d or self.d
        cred = "%s:%s@" % (user, token) if token is not None else ""
        return "http://%s127.0.0.1:%d/%s.git" % (cred, d.port, repo)

    def git(self, *args, cwd=None, check=True, env=None):
        e = dict(GIT_ENV, HOME=self.tmp)
        e.update(env or {})
        p = subprocess.run(["git"] + list(args), cwd=cwd or self.work, capture_output=True,
                           text=True, env=e, timeout=60)
        if check and p.returncode != 0:
            self.fail("git %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
        return p

    def clone(self, repo="alice/dotfiles", name="c", **kw):
        self.git("clone", "-q", self.url(repo, **kw), name)
        return os.path.join(self.work, name)

    def commit_file(self, cwd, path, text, msg="change"):
        with open(os.path.join(cwd, path), "w") as f:
            f.write(text)
        self.git("add", path, cwd=cwd)
        self.git("commit", "-q", "-m", msg, cwd=cwd)
        return self.git("rev-parse", "HEAD", cwd=cwd).stdout.strip()

    def refs(self, repo="alice/dotfiles", d=None):
        st, refs = (d or self.d).control("GET", "/_double/git/%s/refs" % repo)
        self.assertEqual(st, 200)
        return refs

    def log(self):
        return self.d.control("GET", "/_double/log")[1]

    def api(self, method, path, body=None, token="alice-token"):
        st, r, raw = self.d.req(method, "/api/v1/repos/alice/dotfiles" + path, body=body,
                                headers={"Authorization": "token " + token})
        return st, r, (json.loads(raw) if raw.strip() else None)


class SeededRepoTest(GitTest):
    def test_branches_per_seeded_pull_request_and_deterministic_ids(self):
        refs = self.refs()
        for b in ("main", "bigger-history", "install-script", "vim-plugins"):
            self.assertIn("refs/heads/" + b, refs)
        self.assertIn("refs/pull/3/head", refs)
        self.assertIn("refs/pull/4/head", refs)
        # generated pull requests get their head branches too
        widgets = self.refs("acme/widgets")
        st, _, pulls = self.d.get_json("/api/v1/repos/acme/widgets/pulls?state=all&limit=50",
                                       headers={"Authorization": "token alice-token"})
        self.assertEqual(len(pulls), 30)
        for p in pulls:
            self.assertIn("refs/heads/" + p["head"]["ref"], widgets)
            self.assertEqual(p["head"]["sha"], widgets["refs/pull/%d/head" % p["number"]])
        # same seed, same commit ids (fixed authors and dates)
        d2 = self.start(token=self.token)
        self.assertEqual(self.refs(d=d2), refs)
        self.assertEqual(self.refs("acme/widgets", d=d2), widgets)

    def test_head_descends_from_base_and_merged_head_is_merged(self):
        c = self.clone()
        self.git("fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*", cwd=c)
        main = self.git("rev-parse", "origin/main", cwd=c).stdout.strip()
        for b in ("bigger-history", "vim-plugins"):  # open heads fork from main's tip
            p = self.git("merge-base", "--is-ancestor", main, "origin/" + b, cwd=c, check=False)
            self.assertEqual(p.returncode, 0, b)
        # a merged head is in main (merged with a merge commit), main is not in it
        p = self.git("merge-base", "--is-ancestor", "origin/install-script", main, cwd=c, check=False)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(self.git("rev-parse", "origin/main^2", cwd=c).stdout.strip(),
                         self.git("rev-parse", "origin/install-script", cwd=c).stdout.strip())
        # the seeded diffs applied to the seeded files
        bashrc = self.git("show", "origin/bigger-history:.bashrc", cwd=c).stdout
        self.assertIn("HISTSIZE=100000\n", bashrc)
        self.assertNotIn("HISTSIZE=1000\n", bashrc)
        self.assertIn("echo \"linked\"", self.git("show", "origin/main:install.sh", cwd=c).stdout)
        # the PR JSON agrees with git
        st, _, pr4 = self.api("GET", "/pulls/4")
        self.assertEqual(pr4["merge_commit_sha"], main)
        self.assertEqual(pr4["head"]["sha"],
                         self.git("rev-parse", "origin/install-script", cwd=c).stdout.strip())
        st, _, pr3 = self.api("GET", "/pulls/3")
        self.assertEqual(pr3["base"]["sha"], main)
        self.assertEqual(pr3["merge_base"], main)

    def test_undiffable_seed_branch_still_loads(self):
        seed = self.write_seed({
            "users": [{"login": "alice"}],
            "repos": [{"owner": "alice", "name": "r",
                       "branches": {"main": {}, "odd": {"diff": "diff --git a/x b/x\n"
                                                        "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"}},
                       "issues": [{"title": "p", "pull": {"head": "odd"}}]}]})
        d = self.start(seed=seed)
        refs = self.refs("alice/r", d=d)
        self.assertIn("refs/heads/odd", refs)
        self.assertEqual(refs["refs/pull/1/head"], refs["refs/heads/odd"])

    def test_temp_git_dir_removed_at_exit_and_git_dir_option_kept(self):
        def root_dir():
            with open(self.d.err.name) as f:
                return next((l.split(" in ", 1)[1].strip() for l in f
                             if "git repositories in" in l), None)
        root = wait_until(root_dir)
        self.refs()  # the build runs in the background: wait for it
        self.assertTrue(os.path.isdir(os.path.join(root, "alice", "dotfiles.git")))
        self.d.stop()
        self.assertFalse(os.path.exists(root))
        kept = os.path.join(self.tmp, "kept-git")
        d = self.start(args=("--git-dir", kept))
        self.refs(d=d)
        d.stop()
        self.assertTrue(os.path.isdir(os.path.join(kept, "alice", "dotfiles.git")))


class CloneAndPushTest(GitTest):
    def test_clone_with_token_and_push_new_branch(self):
        c = self.clone()
        self.assertTrue(os.path.exists(os.path.join(c, ".bashrc")))
        self.git("checkout", "-q", "-b", "feature/pushed", cwd=c)
        sha = self.commit_file(c, "notes.txt", "pushed over smart HTTP\n")
        self.git("push", "-q", "origin", "feature/pushed", cwd=c)
        self.assertEqual(self.refs()["refs/heads/feature/pushed"], sha)
        log = self.log()
        self.assertIn(("POST", "/alice/dotfiles.git/git-receive-pack", 200),
                      [(e["method"], e["path"], e["status"]) for e in log])
        self.assertIn(("GET", "/alice/dotfiles.git/info/refs", "service=git-upload-pack"),
                      [(e["method"], e["path"], e["query"]) for e in log])

    def test_push_without_token_is_401_and_nothing_sent(self):
        c = self.clone()  # a public repository clones without credentials
        self.commit_file(c, "x.txt", "x\n")
        before = self.refs()
        self.d.control("POST", "/_double/log/reset")
        p = self.git("push", self.url(token=None), "HEAD:refs/heads/anon", cwd=c, check=False)
        self.assertNotEqual(p.returncode, 0)
        log = self.log()
        self.assertEqual([(e["path"], e["query"], e["status"]) for e in log],
                         [("/alice/dotfiles.git/info/refs", "service=git-receive-pack", 401)])
        self.assertEqual(self.refs(), before)
        # the challenge git needs to ask for credentials
        st, r, raw = self.d.req("GET", "/alice/dotfiles.git/info/refs?service=git-receive-pack")
        self.assertEqual(st, 401)
        self.assertEqual(r.getheader("WWW-Authenticate"), 'Basic realm="."')

    def test_wrong_token_is_401(self):
        c = self.clone()
        self.commit_file(c, "x.txt", "x\n")
        self.d.control("POST", "/_double/log/reset")
        p = self.git("push", self.url(token="wrong"), "HEAD:refs/heads/w", cwd=c, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Authentication failed", p.stderr)
        # git asks anonymously first, then with the (wrong) credentials
        self.assertEqual([(e["path"], e["status"]) for e in self.log()],
                         [("/alice/dotfiles.git/info/refs", 401)] * 2)
        self.assertNotIn("refs/heads/w", self.refs())
        st, _, _ = self.d.req("GET", "/alice/dotfiles.git/info/refs?service=git-upload-pack",
                              headers={"Authorization": "Basic " +
                                       base64.b64encode(b"x:wrong").decode()})
        self.assertEqual(st, 401)
        # a public repository clones anonymously, as on Gitea; a wrong token
        # in the URL is never sent because no challenge asks for it
        self.clone(token="wrong", name="anon")

    def test_token_forms_gitea_accepts(self):
        path = "/alice/dotfiles.git/info/refs?service=git-receive-pack"
        for auth in ["Basic " + base64.b64encode(b"whoever:alice-token").decode(),
                     "Basic " + base64.b64encode(b"alice-token:").decode(),
                     "Basic " + base64.b64encode(b"alice-token:x-oauth-basic").decode(),
                     "token alice-token", "Bearer alice-token"]:
            st, r, raw = self.d.req("GET", path, headers={"Authorization": auth})
            self.assertEqual(st, 200, auth)
            self.assertEqual(r.getheader("Content-Type"),
                             "application/x-git-receive-pack-advertisement")

    def test_push_without_write_access_or_scope_403(self):
        c = self.clone()
        self.commit_file(c, "x.txt", "x\n")
        for token in ("carol-token", "read-token"):
            p = self.git("push", self.url(token=token), "HEAD:refs/heads/nope", cwd=c, check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("403", p.stderr)
        self.assertNotIn("refs/heads/nope", self.refs())
        self.assertNotIn("/alice/dotfiles.git/git-receive-pack", [e["path"] for e in self.log()])

    def test_private_repo_needs_token(self):
        seed = self.write_seed({"users": [{"login": "alice"}, {"login": "carol"}],
                                "repos": [{"owner": "alice", "name": "secret", "private": True}]})
        self.d = self.start(seed=seed, token=self.token)
        p = self.git("clone", "-q", self.url("alice/secret", token=None), "anon", check=False)
        self.assertNotEqual(p.returncode, 0)
        p = self.git("clone", "-q", self.url("alice/secret", token="carol-token"), "carol",
                     check=False)
        self.assertNotEqual(p.returncode, 0)
        c = self.clone("alice/secret", name="alice")
        self.assertTrue(os.path.exists(os.path.join(c, "README.md")))
        st, _, _ = self.d.req("GET", "/alice/nope.git/info/refs?service=git-upload-pack",
                              headers={"Authorization": "token alice-token"})
        self.assertEqual(st, 404)

    def test_fast_forward_accepted_non_fast_forward_refused(self):
        c = self.clone()
        self.git("checkout", "-q", "bigger-history", cwd=c)
        first = self.commit_file(c, "ff.txt", "one\n")
        self.git("push", "-q", "origin", "bigger-history", cwd=c)
        self.assertEqual(self.refs()["refs/heads/bigger-history"], first)
        # the branch moves on the forge: the local branch no longer contains it
        st, moved = self.d.control("POST", "/_double/git/alice/dotfiles/commit",
                                   {"branch": "bigger-history", "message": "from the web UI",
                                    "files": {"web.txt": "edited on the forge\n"}})
        self.assertEqual(st, 200, moved)
        mine = self.commit_file(c, "ff.txt", "two\n")
        self.d.control("POST", "/_double/log/reset")
        p = self.git("push", "origin", "bigger-history", cwd=c, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("rejected", p.stderr)
        self.assertEqual(self.refs()["refs/heads/bigger-history"], moved["id"])
        # git refused before sending any pack
        self.assertNotIn("/alice/dotfiles.git/git-receive-pack", [e["path"] for e in self.log()])
        # after a fetch and rebase it is a fast-forward again
        self.git("pull", "-q", "--rebase", "origin", "bigger-history", cwd=c)
        self.git("push", "-q", "origin", "bigger-history", cwd=c)
        tip = self.refs()["refs/heads/bigger-history"]
        self.assertNotEqual(tip, mine)
        self.assertEqual(self.git("rev-parse", "HEAD^", cwd=c).stdout.strip(), moved["id"])

    def test_large_push_chunked_and_gzip_negotiation(self):
        c = self.clone()
        self.git("checkout", "-q", "-b", "big", cwd=c)
        with open(os.path.join(c, "blob.bin"), "wb") as f:
            f.write(os.urandom(300000))
        self.git("add", "blob.bin", cwd=c)
        self.git("commit", "-q", "-m", "big", cwd=c)
        # a post buffer smaller than the pack makes git send it chunked
        self.git("-c", "http.postBuffer=65536", "push", "-q", "origin", "big", cwd=c)
        self.assertEqual(self.refs()["refs/heads/big"],
                         self.git("rev-parse", "HEAD", cwd=c).stdout.strip())
        # a gzip request body is inflated (git gzips large negotiations)
        req = b"0014command=ls-refs\n0000"
        plain = self.d.req("POST", "/alice/dotfiles.git/git-upload-pack", body=req,
                           headers={"Content-Type": "application/x-git-upload-pack-request",
                                    "Git-Protocol": "version=2",
                                    "Authorization": "token alice-token"})
        zipped = self.d.req("POST", "/alice/dotfiles.git/git-upload-pack", body=gzip.compress(req),
                            headers={"Content-Type": "application/x-git-upload-pack-request",
                                     "Content-Encoding": "gzip", "Git-Protocol": "version=2",
                                     "Authorization": "token alice-token"})
        self.assertEqual(plain[0], 200)
        self.assertIn(b"refs/heads/main", plain[2])
        self.assertEqual(zipped[0], 200)
        self.assertEqual(zipped[2], plain[2])

    def test_dumb_protocol_and_other_paths_refused(self):
        for path in ("/alice/dotfiles.git/HEAD", "/alice/dotfiles.git/objects/info/packs",
                     "/alice/dotfiles.git/info/refs"):
            st, _, _ = self.d.req("GET", path, headers={"Authorization": "token alice-token"})
            self.assertEqual(st, 404, path)


class BranchApiTest(GitTest):
    def test_branch_list_follows_pushes_and_paging(self):
        st, r, branches = self.api("GET", "/branches")
        self.assertEqual(st, 200)
        names = [b["name"] for b in branches]
        self.assertEqual(sorted(names), ["bigger-history", "install-script", "main", "vim-plugins"])
        self.assertEqual(r.getheader("X-Total-Count"), "4")
        refs = self.refs()
        for b in branches:
            self.assertEqual(b["commit"]["id"], refs["refs/heads/" + b["name"]])
            self.assertEqual(set(b), {"name", "commit", "protected", "required_approvals",
                                      "enable_status_check", "status_check_contexts",
                                      "user_can_push", "user_can_merge",
                                      "effective_branch_protection_name"})
        # newest commit first
        stamps = [b["commit"]["timestamp"] for b in branches]
        self.assertEqual(stamps, sorted(stamps, reverse=True))
        c = self.clone()
        self.git("checkout", "-q", "-b", "topic/new", cwd=c)
        sha = self.commit_file(c, "t.txt", "t\n")
        self.git("push", "-q", "origin", "topic/new", cwd=c)
        st, r, branches = self.api("GET", "/branches?limit=2&page=1")
        self.assertEqual(len(branches), 2)
        self.assertEqual(r.getheader("X-Total-Count"), "5")
        self.assertIn('rel="next"', r.getheader("Link"))
        self.assertEqual(branches[0]["name"], "topic/new")  # the newest commit
        st, _, one = self.api("GET", "/branches/topic/new")
        self.assertEqual((st, one["commit"]["id"], one["commit"]["message"]), (200, sha, "change\n"))
        self.assertEqual(one["commit"]["author"]["email"], "agent@example.com")
        st, _, body = self.api("GET", "/branches/no-such")
        self.assertEqual(st, 404)
        st, _, main = self.api("GET", "/branches/main")
        self.assertEqual(main["commit"]["author"]["username"], "alice")

    def test_post_pulls_with_pushed_head(self):
        body = {"head": "pushed-head", "base": "main", "title": "From a push"}
        st, _, err = self.api("POST", "/pulls", body)
        self.assertEqual(st, 422)
        self.assertEqual(err["message"], "head branch pushed-head does not exist")
        c = self.clone()
        self.git("checkout", "-q", "-b", "pushed-head", cwd=c)
        sha = self.commit_file(c, "feature.txt", "a feature\n", msg="Add a feature")
        self.git("push", "-q", "origin", "pushed-head", cwd=c)
        st, _, pr = self.api("POST", "/pulls", body)
        self.assertEqual(st, 201, pr)
        self.assertEqual((pr["head"]["ref"], pr["head"]["sha"]), ("pushed-head", sha))
        self.assertEqual(pr["base"]["sha"], self.refs()["refs/heads/main"])
        self.assertEqual(self.refs()["refs/pull/%d/head" % pr["number"]], sha)
        st, _, raw = self.d.req("GET", "/api/v1/repos/alice/dotfiles/pulls/%d.diff" % pr["number"],
                                headers={"Authorization": "token alice-token"})
        self.assertIn(b"+++ b/feature.txt\n@@ -0,0 +1 @@\n+a feature\n", raw)
        self.assertEqual(pr["additions"], 1)
        # a new push updates the PR's head and diff
        sha2 = self.commit_file(c, "feature.txt", "a feature\nand more\n")
        self.git("push", "-q", "origin", "pushed-head", cwd=c)
        st, _, pr = self.api("GET", "/pulls/%d" % pr["number"])
        self.assertEqual(pr["head"]["sha"], sha2)
        self.assertEqual(pr["additions"], 2)
        # a tag or a commit id is not a branch
        st, _, _ = self.api("POST", "/pulls", dict(body, head=sha2))
        self.assertEqual(st, 422)


class GitFaultTest(GitTest):
    def faults(self, rules):
        st, body = self.d.control("POST", "/_double/faults", rules)
        self.assertEqual(st, 200, body)

    def pushable(self):
        c = self.clone()
        self.git("checkout", "-q", "-b", "f", cwd=c)
        self.commit_file(c, "f.txt", "f\n")
        return c

    def test_status_on_receive_pack(self):
        c = self.pushable()
        self.faults([{"path": "git-receive-pack$", "method": "POST", "status": 503, "times": 1}])
        p = self.git("push", "origin", "f", cwd=c, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn("refs/heads/f", self.refs())
        self.assertIn(("POST", "/alice/dotfiles.git/git-receive-pack", 503, True),
                      [(e["method"], e["path"], e["status"], e["fault"]) for e in self.log()])
        self.git("push", "-q", "origin", "f", cwd=c)  # times used up
        self.assertIn("refs/heads/f", self.refs())

    def test_hang_on_receive_pack_kills_push_midway(self):
        c = self.pushable()
        self.faults([{"path": "git-receive-pack$", "method": "POST", "hang": True}])
        env = dict(GIT_ENV, HOME=self.tmp)
        proc = subprocess.Popen(["git", "push", "origin", "f"], cwd=c, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: any(e["status"] == "hang" and e["path"].endswith("git-receive-pack")
                                   for e in self.log()))
            self.assertIsNone(proc.poll())  # still waiting for an answer
        finally:
            proc.kill()
            proc.wait()
        self.assertNotIn("refs/heads/f", self.refs())

    def test_drop_and_hang_after_apply(self):
        c = self.pushable()
        # (curl retries a request dropped on a reused connection, so every
        # receive-pack is dropped here, not just one)
        self.faults([{"path": "git-receive-pack$", "method": "POST", "drop": True}])
        p = self.git("push", "origin", "f", cwd=c, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn("refs/heads/f", self.refs())
        self.assertIn("drop", [e["status"] for e in self.log()])
        # the push lands, the answer never comes
        self.faults([{"path": "git-receive-pack$", "method": "POST", "hang_after_apply": True}])
        proc = subprocess.Popen(["git", "push", "origin", "f"], cwd=c, env=dict(GIT_ENV, HOME=self.tmp),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: any(e["status"] == "hang" for e in self.log()))
        finally:
            proc.kill()
            proc.wait()
        self.assertEqual(self.refs()["refs/heads/f"],
                         self.git("rev-parse", "HEAD", cwd=c).stdout.strip())

    def test_truncate_on_upload_pack(self):
        self.faults([{"path": "git-upload-pack$", "truncate": True, "times": 1}])
        p = self.git("clone", "-q", self.url(), "broken", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.clone(name="fine")


class GitControlTest(GitTest):
    def test_commit_ref_put_delete_and_errors(self):
        refs = self.refs()
        st, c = self.d.control("POST", "/_double/git/alice/dotfiles/commit",
                               {"branch": "server-side", "from": "main", "message": "made here",
                                "author": "bob", "files": {"a.txt": "a\n", "README.md": None}})
        self.assertEqual(st, 200, c)
        st, info = self.d.control("GET", "/_double/git/alice/dotfiles/commits/server-side")
        self.assertEqual(info["id"], c["id"])
        self.assertEqual(info["parents"], [refs["refs/heads/main"]])
        self.assertEqual(info["author"]["email"], "bob@example.com")
        self.assertEqual(info["message"], "made here\n")
        st, _, br = self.api("GET", "/branches/server-side")
        self.assertEqual(br["commit"]["id"], c["id"])
        clone = self.clone()
        self.git("fetch", "-q", "origin", "server-side", cwd=clone)
        files = self.git("ls-tree", "--name-only", "FETCH_HEAD", cwd=clone).stdout.split()
        self.assertIn("a.txt", files)
        self.assertNotIn("README.md", files)
        # force a branch back, then delete it
        st, _ = self.d.control("PUT", "/_double/git/alice/dotfiles/refs/heads/server-side",
                               {"sha": refs["refs/heads/main"]})
        self.assertEqual(st, 200)
        self.assertEqual(self.refs()["refs/heads/server-side"], refs["refs/heads/main"])
        st, _ = self.d.control("DELETE", "/_double/git/alice/dotfiles/refs/heads/server-side")
        self.assertEqual(st, 200)
        self.assertNotIn("refs/heads/server-side", self.refs())
        for method, path, body, want in [
                ("POST", "commit", {"branch": "nope", "files": {}}, 422),  # no "from"
                ("POST", "commit", {"branch": "a..b", "from": "main"}, 400),
                ("POST", "commit", {"branch": "x", "from": "main", "files": {"p": 1}}, 400),
                ("POST", "commit", {"branch": "x", "from": "main", "author": "ghost"}, 400),
                ("POST", "commit", {"branch": "x", "from": "no-such-branch"}, 422),
                ("PUT", "refs/heads/x", {"sha": "f" * 40}, 422),
                ("PUT", "refs/heads/x", {}, 400),
                ("GET", "nothing", None, 404)]:
            st, body = self.d.control(method, "/_double/git/alice/dotfiles/" + path, body)
            self.assertEqual(st, want, (method, path, body))
        st, _ = self.d.control("GET", "/_double/git/alice/nope/refs")
        self.assertEqual(st, 404)
        st, _ = self.d.control("POST", "/_double/git/alice/dotfiles/commit", b"{not json")
        self.assertEqual(st, 400)

    def test_reset_rebuilds_repositories(self):
        before = self.refs()
        c = self.clone()
        self.git("checkout", "-q", "-b", "gone-after-reset", cwd=c)
        self.commit_file(c, "g.txt", "g\n")
        self.git("push", "-q", "origin", "gone-after-reset", cwd=c)
        self.assertEqual(self.d.control("POST", "/_double/reset")[0], 200)
        self.assertEqual(self.refs(), before)


class GiteaBranchPrismTest(GitTest):
    def test_branch_endpoints_conform(self):
        PrismProxy.require(self, prism_spec())
        c = self.clone()
        self.git("checkout", "-q", "-b", "for-pr", cwd=c)
        self.commit_file(c, "p.txt", "p\n")
        self.git("push", "-q", "origin", "for-pr", cwd=c)
        auth = {"Authorization": "token alice-token"}
        R = "/api/v1/repos/alice/dotfiles"
        with PrismProxy(PRISM_SPEC, "http://127.0.0.1:%d" % self.d.port, self.tmp) as prism:
            for method, path, body, want in [
                    ("GET", R + "/branches", None, 200),
                    ("GET", "/api/v1/repos/acme/widgets/branches?limit=5&page=2", None, 200),
                    ("GET", R + "/branches/main", None, 200),
                    ("GET", R + "/branches/no-such", None, 404),
                    ("POST", R + "/pulls", {"head": "for-pr", "base": "main", "title": "t"}, 201),
                    ("GET", R + "/pulls/7", None, 200)]:
                st, r, raw = self.d.req(method, path, body=body, headers=auth, port=prism.port)
                self.assertEqual(st, want, "%s %s: %s" % (method, path, raw[:300]))
                self.assertIsNone(r.getheader("sl-violations"),
                                  "%s %s: %s" % (method, path, r.getheader("sl-violations")))
            self.assertEqual(prism.violation_lines(), [])


class ApplyDiffTest(unittest.TestCase):
    def test_modify_new_delete_and_offset(self):
        files = {"a.txt": ("100644", b"1\n2\n3\n4\n5\n"), "gone.txt": ("100644", b"x\n")}
        diff = ("diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -9,2 +9,2 @@\n 3\n-4\n+four\n"
                "diff --git a/new.sh b/new.sh\nnew file mode 100755\n--- /dev/null\n+++ b/new.sh\n"
                "@@ -0,0 +1 @@\n+echo\n"
                "diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n"
                "+++ /dev/null\n@@ -1 +0,0 @@\n-x\n")
        out = githttp.apply_diff(files, diff)
        self.assertEqual(out, {"a.txt": ("100644", b"1\n2\n3\nfour\n5\n"),
                               "new.sh": ("100755", b"echo\n")})
        with self.assertRaises(ValueError):
            githttp.apply_diff(files, "diff --git a/a.txt b/a.txt\n@@ -1 +1 @@\n-nope\n+x\n")
        with self.assertRaises(ValueError):
            githttp.apply_diff(files, "not a diff\n")

    def test_branch_names(self):
        for ok in ("main", "feature/x", "a.b-c_d"):
            self.assertTrue(githttp.valid_branch_name(ok), ok)
        for bad in ("", "a..b", "/a", "a/", "a b", "a~1", "x.lock", "a//b", None, "a."):
            self.assertFalse(githttp.valid_branch_name(bad), bad)


if __name__ == "__main__":
    unittest.main()
