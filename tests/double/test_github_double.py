"""Tests for the GitHub double: every documented GitHub behaviour it
reproduces (pull requests in the issue list, Link paging with
/repositories/{id} URLs, ETag/304 not counted, rate limits, 422s, the
65 536-character limit, the diff media type and its 406, draft mutations
over GraphQL, the User-Agent rule), git over smart HTTP with GitHub's basic
auth, the shared fault/log/control machinery, and a Prism contract check of
one request per endpoint against tests/contract/github/.

Run: python3 -m unittest discover -s tests/double -v
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

from prismcheck import PrismProxy
from test_double import DEMO, wait_for_file

HERE = os.path.dirname(os.path.abspath(__file__))
GITHUB = os.path.join(HERE, "github_double.py")
SPEC = os.path.join(HERE, "..", "contract", "github", "api.github.com.subset.json")
UA = "bottlefs-test/1"
TOKENS = "alice-token alice repo,read:org\ncarol-token carol\nbob-token bob\n"
GIT_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
           "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false",
           "GIT_AUTHOR_NAME": "Agent", "GIT_AUTHOR_EMAIL": "agent@example.com",
           "GIT_COMMITTER_NAME": "Agent", "GIT_COMMITTER_EMAIL": "agent@example.com"}


class GitHubDouble:
    """One github_double.py subprocess on an ephemeral port."""

    def __init__(self, tmp, seed=DEMO, args=(), tokens=TOKENS):
        port_file = os.path.join(tmp, "gh-port.%d" % id(self))
        cmd = [sys.executable, GITHUB, "--seed", seed, "--port", "0",
               "--port-file", port_file] + list(args)
        if tokens:
            tf = os.path.join(tmp, "gh-tokens.%d" % id(self))
            with open(tf, "w") as f:
                f.write(tokens)
            cmd += ["--token-file", tf]
        self.err = open(os.path.join(tmp, "gh.%d.err" % id(self)), "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.err)
        try:
            self.port = int(wait_for_file(port_file, self.proc))
        except RuntimeError:
            self.stop()
            with open(self.err.name) as f:
                raise RuntimeError("github double did not start: " + f.read()[-500:])

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.err.close()

    def req(self, method, path, body=None, headers=None, token="alice-token", ua=UA,
            port=None, timeout=10):
        """(status, response, raw body); token None sends no Authorization."""
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        hdrs = {}
        if ua is not None:
            hdrs["User-Agent"] = ua
        if token is not None:
            hdrs["Authorization"] = "Bearer " + token
        hdrs.update(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            return r.status, r, r.read()
        finally:
            conn.close()

    def json(self, method, path, body=None, **kw):
        st, r, raw = self.req(method, path, body, **kw)
        return st, r, (json.loads(raw) if raw.strip() else None)

    def control(self, method, path, body=None):
        st, _, raw = self.req(method, path, body, token=None, ua=None)
        return st, (json.loads(raw) if raw.strip()[:1] in (b"[", b"{") else raw)


class GitHubTest(unittest.TestCase):
    args = ()
    tokens = TOKENS

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gh-double-test-")
        self.doubles = []
        self.d = self.start(args=self.args, tokens=self.tokens)

    def start(self, seed=DEMO, args=(), tokens=TOKENS):
        d = GitHubDouble(self.tmp, seed=seed, args=args, tokens=tokens)
        self.doubles.append(d)
        return d

    def tearDown(self):
        for d in self.doubles:
            d.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_seed(self, obj):
        path = os.path.join(self.tmp, "seed-%d.json" % len(os.listdir(self.tmp)))
        with open(path, "w") as f:
            json.dump(obj, f)
        return path

    def links(self, r):
        """Link header -> {rel: url}, in header order."""
        out = {}
        for part in (r.getheader("Link") or "").split(", "):
            if part:
                m = re.match(r'^<([^>]+)>; rel="(\w+)"$', part)
                self.assertIsNotNone(m, part)
                out[m.group(2)] = m.group(1)
        return out

    def follow(self, path):
        """Every item of a list, following rel="next" as a client does."""
        items, pages = [], 0
        while path:
            st, r, got = self.d.json("GET", path)
            self.assertEqual(st, 200, path)
            items.extend(got)
            pages += 1
            nxt = self.links(r).get("next")
            path = None
            if nxt:
                u = urllib.parse.urlsplit(nxt)
                path = u.path + "?" + u.query
        return items, pages

    def remaining(self, r):
        return int(r.getheader("x-ratelimit-remaining"))


class ListTest(GitHubTest):
    args = ("--root-url", "https://api.forge.example/")

    def test_pull_requests_in_issue_list(self):
        st, _, items = self.d.json("GET", "/repos/alice/dotfiles/issues?state=all")
        self.assertEqual(st, 200)
        by_number = {i["number"]: i for i in items}
        self.assertEqual(sorted(by_number), [1, 2, 3, 4, 5, 6])
        for n in (3, 4):
            pr = by_number[n]["pull_request"]
            self.assertEqual(pr["url"], "https://api.forge.example/repos/alice/dotfiles/pulls/%d" % n)
            self.assertTrue(pr["diff_url"].endswith("/pull/%d.diff" % n))
        self.assertEqual(by_number[4]["pull_request"]["merged_at"], "2026-01-12T08:00:00Z")
        for n in (1, 2, 5, 6):
            self.assertNotIn("pull_request", by_number[n])
        # GET issues/{n} of a PR number is the issue with pull_request
        st, _, i = self.d.json("GET", "/repos/alice/dotfiles/issues/3")
        self.assertIn("pull_request", i)
        st, _, body = self.d.json("GET", "/repos/alice/dotfiles/pulls/2")
        self.assertEqual(st, 404)
        self.assertEqual(body["message"], "Not Found")
        self.assertEqual(body["status"], "404")

    def test_per_page_default_30_max_100_no_total_count(self):
        st, r, items = self.d.json("GET", "/repos/acme/widgets/issues?state=all")
        self.assertEqual(len(items), 30)
        self.assertIsNone(r.getheader("X-Total-Count"))
        st, r, items = self.d.json("GET", "/repos/acme/widgets/issues?state=all&per_page=500")
        self.assertEqual(len(items), 100)
        st, r, items = self.d.json("GET", "/repos/acme/widgets/issues?state=all&per_page=100&page=2")
        self.assertEqual(len(items), 30)

    def test_link_paging_uses_repositories_form_and_is_served(self):
        st, _, repo = self.d.json("GET", "/repos/acme/widgets")
        base = "https://api.forge.example/repositories/%d/issues" % repo["id"]
        st, r, first = self.d.json("GET", "/repos/acme/widgets/issues?state=all&per_page=50")
        links = self.links(r)
        self.assertEqual(list(links), ["next", "last"])
        self.assertEqual(links["next"], base + "?state=all&per_page=50&page=2")
        self.assertEqual(links["last"], base + "?state=all&per_page=50&page=3")
        self.assertIn('>; rel="next", <', r.getheader("Link"))
        st, r, mid = self.d.json("GET", "/repositories/%d/issues?state=all&per_page=50&page=2"
                                 % repo["id"])
        self.assertEqual(st, 200)
        self.assertEqual(list(self.links(r)), ["prev", "next", "last", "first"])
        st, r, last = self.d.json("GET", "/repos/acme/widgets/issues?state=all&per_page=50&page=3")
        self.assertEqual(list(self.links(r)), ["prev", "first"])
        self.assertEqual(len(last), 30)
        # a client that only follows rel="next" gets every item once
        items, pages = self.follow("/repos/acme/widgets/issues?state=all&per_page=50")
        self.assertEqual(pages, 3)
        self.assertEqual(sorted(i["number"] for i in items), list(range(1, 131)))
        self.assertEqual(sum(1 for i in items if "pull_request" in i), 30)
        # one page only: no Link at all
        st, r, _ = self.d.json("GET", "/repos/alice/dotfiles/issues?state=all")
        self.assertIsNone(r.getheader("Link"))
        st, _, _ = self.d.json("GET", "/repositories/999999/issues")
        self.assertEqual(st, 404)

    def test_since_state_sort_direction(self):
        everything, _ = self.follow("/repos/acme/widgets/issues?state=all&per_page=100")
        cut = sorted(i["updated_at"] for i in everything)[100]
        got, _ = self.follow("/repos/acme/widgets/issues?state=all&per_page=100&since=" + cut)
        self.assertEqual(len(got), sum(1 for i in everything if i["updated_at"] >= cut))
        opened, _ = self.follow("/repos/acme/widgets/issues?per_page=100")
        self.assertTrue(all(i["state"] == "open" for i in opened))
        closed, _ = self.follow("/repos/acme/widgets/issues?state=closed&per_page=100")
        self.assertEqual(len(opened) + len(closed), 130)
        asc, _ = self.follow("/repos/acme/widgets/issues?state=all&per_page=100&direction=asc")
        self.assertEqual([i["number"] for i in asc], list(range(1, 131)))
        st, _, err = self.d.json("GET", "/repos/acme/widgets/issues?since=yesterday")
        self.assertEqual(st, 422)
        self.assertEqual(err["errors"][0]["field"], "since")

    def test_repo_comments_since_sort_direction(self):
        comments, pages = self.follow("/repos/acme/widgets/issues/comments?per_page=20")
        self.assertGreater(pages, 1)
        ids = [c["id"] for c in comments]
        self.assertEqual(ids, sorted(ids))
        mid = sorted(c["updated_at"] for c in comments)[len(comments) // 2]
        after, _ = self.follow("/repos/acme/widgets/issues/comments?per_page=100&since=" + mid)
        self.assertEqual(len(after), sum(1 for c in comments if c["updated_at"] >= mid))
        desc, _ = self.follow("/repos/acme/widgets/issues/comments?per_page=100&sort=created"
                              "&direction=desc")
        self.assertEqual([c["id"] for c in desc], sorted(ids, reverse=True))
        st, r, _ = self.d.json("GET", "/repos/acme/widgets/issues/comments?per_page=20")
        self.assertTrue(self.links(r)["next"].startswith(
            "https://api.forge.example/repositories/"))

    def test_issue_comments_paginated(self):
        d = self.d = self.start(args=("--generate", "bench/many:1:0:70"))
        st, r, items = d.json("GET", "/repos/bench/many/issues/1/comments")
        self.assertEqual(len(items), 30)
        self.assertIn("next", self.links(r))
        items, pages = self.follow("/repos/bench/many/issues/1/comments")
        self.assertEqual((len(items), pages), (70, 3))
        self.assertEqual([c["id"] for c in items], sorted(c["id"] for c in items))
        since = items[60]["updated_at"]
        tail, _ = self.follow("/repos/bench/many/issues/1/comments?since=" + since)
        self.assertEqual(len(tail), sum(1 for c in items if c["updated_at"] >= since))

    def test_pulls_list_state_and_paging(self):
        st, r, open_ = self.d.json("GET", "/repos/alice/dotfiles/pulls")
        self.assertEqual([p["number"] for p in open_], [3])
        st, r, all_ = self.d.json("GET", "/repos/alice/dotfiles/pulls?state=all")
        self.assertEqual(sorted(p["number"] for p in all_), [3, 4])
        self.assertNotIn("merged", all_[0])  # the list has pull-request-simple items
        pulls, pages = self.follow("/repos/acme/widgets/pulls?state=all&per_page=10")
        self.assertEqual((len(pulls), pages), (30, 3))
        st, r, _ = self.d.json("GET", "/repos/acme/widgets/pulls?state=all&per_page=10")
        self.assertRegex(self.links(r)["next"], r"/repositories/\d+/pulls\?state=all&per_page=10&page=2$")
        st, _, one = self.d.json("GET", "/repos/alice/dotfiles/pulls?head=alice:bigger-history")
        self.assertEqual([p["number"] for p in one], [3])


class ConditionalTest(GitHubTest):
    def test_etag_304_not_counted(self):
        path = "/repos/alice/dotfiles/issues/5"
        st, r, raw = self.d.req("GET", path)
        etag = r.getheader("ETag")
        self.assertRegex(etag, r'^W/"[0-9a-f]+"$')
        left = self.remaining(r)
        for tag in (etag, etag[2:], '"other", ' + etag):
            st, r, raw = self.d.req("GET", path, headers={"If-None-Match": tag})
            self.assertEqual((st, raw), (304, b""), tag)
            self.assertEqual(r.getheader("ETag"), etag)
            self.assertEqual(self.remaining(r), left)  # not counted
            self.assertEqual(r.getheader("x-ratelimit-resource"), "core")
        st, r, _ = self.d.req("GET", path, headers={"If-None-Match": '"stale"'})
        self.assertEqual(st, 200)
        self.assertEqual(self.remaining(r), left - 1)
        # a change gives a new ETag
        self.assertEqual(self.d.req("POST", path + "/comments", {"body": "new"})[0], 201)
        st, r, _ = self.d.req("GET", path, headers={"If-None-Match": etag})
        self.assertEqual(st, 200)
        self.assertNotEqual(r.getheader("ETag"), etag)
        # writes carry one too
        st, r, _ = self.d.req("POST", path + "/comments", {"body": "again"})
        self.assertEqual(st, 201)
        self.assertRegex(r.getheader("ETag"), r'^W/"[0-9a-f]+"$')
        # the diff gets a strong validator
        st, r, _ = self.d.req("GET", "/repos/alice/dotfiles/pulls/3",
                              headers={"Accept": "application/vnd.github.diff"})
        self.assertRegex(r.getheader("ETag"), r'^"[0-9a-f]+"$')


class RateLimitTest(GitHubTest):
    def test_headers_on_every_answer(self):
        t0 = int(time.time())
        for method, path, want in [("GET", "/repos/alice/dotfiles", 200),
                                   ("GET", "/repos/alice/nope", 404),
                                   ("PATCH", "/repos/alice/dotfiles/issues/2", 200)]:
            body = {"title": "t"} if method == "PATCH" else None
            st, r, _ = self.d.req(method, path, body)
            self.assertEqual(st, want)
            for h in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-used",
                      "x-ratelimit-reset"):
                self.assertRegex(r.getheader(h) or "", r"^\d+$", (path, h))
            self.assertEqual(r.getheader("x-ratelimit-resource"), "core")
            self.assertEqual(int(r.getheader("x-ratelimit-limit")),
                             int(r.getheader("x-ratelimit-remaining")) +
                             int(r.getheader("x-ratelimit-used")))
            self.assertGreaterEqual(int(r.getheader("x-ratelimit-reset")), t0)
        st, r, _ = self.d.req("GET", "/repos/alice/dotfiles")
        self.assertEqual(r.getheader("x-ratelimit-used"), "4")
        st, r, _ = self.d.req("POST", "/graphql", {"query": "{ viewer { login } }"})
        self.assertEqual(r.getheader("x-ratelimit-resource"), "graphql")
        self.assertEqual(r.getheader("x-ratelimit-used"), "1")
        st, r, _ = self.d.req("GET", "/repos/alice/dotfiles", token=None)
        self.assertEqual(r.getheader("x-ratelimit-limit"), "60")

    def test_exhausted_then_reset(self):
        st, state = self.d.control("POST", "/_double/ratelimit", {"remaining": 2})
        self.assertEqual(st, 200, state)
        for left in (1, 0):
            st, r, _ = self.d.req("GET", "/repos/alice/dotfiles")
            self.assertEqual((st, self.remaining(r)), (200, left))
        st, r, raw = self.d.req("GET", "/repos/alice/dotfiles")
        self.assertEqual(st, 403)
        self.assertEqual(self.remaining(r), 0)
        body = json.loads(raw)
        self.assertTrue(body["message"].startswith("API rate limit exceeded for user ID 1."), body)
        self.assertIn("rate-limits-for-the-rest-api", body["documentation_url"])
        # a conditional request does not get around it
        st, r, _ = self.d.req("GET", "/repos/alice/dotfiles", headers={"If-None-Match": "*"})
        self.assertEqual(st, 403)
        # 429 instead of 403
        self.d.control("POST", "/_double/ratelimit", {"status": 429})
        st, r, _ = self.d.req("GET", "/repos/alice/dotfiles")
        self.assertEqual(st, 429)
        # once x-ratelimit-reset has passed, the limit is full again
        self.d.control("POST", "/_double/ratelimit", {"reset": int(time.time()) - 1})
        st, r, _ = self.d.req("GET", "/repos/alice/dotfiles")
        self.assertEqual(st, 200)
        self.assertEqual(self.remaining(r), 4999)
        for bad in ({"remaining": -1}, {"status": 500}, {"nope": 1}, {"resource": "search"}):
            self.assertEqual(self.d.control("POST", "/_double/ratelimit", bad)[0], 400, bad)

    def test_anonymous_limit(self):
        self.d.control("POST", "/_double/ratelimit", {"anonymous": True, "remaining": 0})
        st, r, raw = self.d.req("GET", "/repos/alice/dotfiles", token=None)
        self.assertEqual(st, 403)
        self.assertIn("API rate limit exceeded for 127.0.0.1.", json.loads(raw)["message"])
        st, r, _ = self.d.req("GET", "/repos/alice/dotfiles")  # signed-in bucket is separate
        self.assertEqual(st, 200)

    def test_secondary_limit(self):
        self.d.control("POST", "/_double/ratelimit",
                       {"secondary": {"times": 2, "retry_after": 42}})
        for _ in range(2):
            st, r, raw = self.d.req("POST", "/repos/alice/dotfiles/issues/2/comments", {"body": "x"})
            self.assertEqual(st, 403)
            self.assertEqual(r.getheader("retry-after"), "42")
            self.assertIn("secondary rate limit", json.loads(raw)["message"])
        st, r, raw = self.d.req("POST", "/repos/alice/dotfiles/issues/2/comments", {"body": "x"})
        self.assertEqual(st, 201)
        st, s = self.d.control("GET", "/_double/state/alice/dotfiles/issues/2")
        self.assertEqual([c["body"] for c in s["comments"]].count("x"), 1)


class WriteTest(GitHubTest):
    def test_comment_patch_labels(self):
        st, _, c = self.d.json("POST", "/repos/alice/dotfiles/issues/5/comments", {"body": "hi"})
        self.assertEqual(st, 201)
        self.assertEqual((c["body"], c["user"]["login"]), ("hi", "alice"))
        self.assertTrue(c["issue_url"].endswith("/repos/alice/dotfiles/issues/5"))
        st, _, err = self.d.json("POST", "/repos/alice/dotfiles/issues/5/comments", {})
        self.assertEqual(st, 422)
        self.assertEqual(err["message"], "Validation Failed")
        st, _, i = self.d.json("PATCH", "/repos/alice/dotfiles/issues/5",
                               {"title": "T", "body": "B", "state": "closed"})
        self.assertEqual(st, 200)
        self.assertEqual((i["title"], i["body"], i["state"], i["state_reason"]),
                         ("T", "B", "closed", "completed"))
        self.assertIsNotNone(i["closed_at"])
        st, _, err = self.d.json("PATCH", "/repos/alice/dotfiles/issues/5", {"state": "merged"})
        self.assertEqual(st, 422)
        self.assertEqual(err["errors"], [{"resource": "Issue", "field": "state", "code": "invalid"}])
        st, _, labs = self.d.json("PUT", "/repos/alice/dotfiles/issues/5/labels",
                                  {"labels": ["bug", "brand-new"]})
        self.assertEqual(st, 200)
        self.assertEqual([l["name"] for l in labs], ["brand-new", "bug"])
        st, _, i = self.d.json("GET", "/repos/alice/dotfiles/issues/5")
        self.assertEqual(sorted(l["name"] for l in i["labels"]), ["brand-new", "bug"])
        # carol is no collaborator: she may comment on a public repo, not edit
        st, _, _ = self.d.json("PATCH", "/repos/alice/dotfiles/issues/2", {"title": "x"},
                               token="carol-token")
        self.assertEqual(st, 403)
        st, _, _ = self.d.json("POST", "/repos/alice/dotfiles/issues/2/comments", {"body": "me"},
                               token="carol-token")
        self.assertEqual(st, 201)
        # ... and edit her own issue
        st, _, _ = self.d.json("PATCH", "/repos/alice/dotfiles/issues/5", {"title": "mine"},
                               token="carol-token")
        self.assertEqual(st, 200)

    def test_create_pull_422s(self):
        path = "/repos/alice/dotfiles/pulls"
        st, r, pr = self.d.json("POST", path, {"head": "vim-plugins", "base": "main",
                                               "title": "Vim plugins", "body": "see #5"})
        self.assertEqual(st, 201, pr)
        self.assertEqual((pr["number"], pr["state"], pr["draft"], pr["head"]["ref"]),
                         (7, "open", False, "vim-plugins"))
        self.assertTrue(r.getheader("Location").endswith("/repos/alice/dotfiles/pulls/7"))
        st, _, err = self.d.json("POST", path, {"head": "vim-plugins", "base": "main", "title": "x"})
        self.assertEqual(st, 422)
        self.assertEqual(err["message"], "Validation Failed")
        self.assertEqual(err["errors"], [{"resource": "PullRequest", "code": "custom",
                                          "message": "A pull request already exists for "
                                                     "alice:vim-plugins."}])
        self.assertEqual(err["status"], "422")
        self.assertIn("documentation_url", err)
        st, _, err = self.d.json("POST", path, {"head": "no-such", "base": "main", "title": "x"})
        self.assertEqual(st, 422)
        self.assertEqual(err["errors"], [{"resource": "PullRequest", "field": "head",
                                          "code": "invalid"}])
        st, _, err = self.d.json("POST", path, {"head": "bigger-history", "base": "nope",
                                                "title": "x"})
        self.assertEqual(err["errors"][0]["field"], "base")
        st, _, err = self.d.json("POST", path, {"head": "main", "base": "main", "title": "x"})
        self.assertEqual(st, 422)
        self.assertEqual(err["errors"][0]["message"], "No commits between main and main")
        st, _, err = self.d.json("POST", path, {"head": "x", "base": "main"})
        self.assertEqual(err["errors"][0]["field"], "title")
        # PATCH the PR
        st, _, pr = self.d.json("PATCH", path + "/7", {"title": "New", "body": "b", "state": "closed"})
        self.assertEqual((st, pr["title"], pr["body"], pr["state"]), (200, "New", "b", "closed"))
        st, _, err = self.d.json("PATCH", path + "/4", {"state": "open"})  # merged
        self.assertEqual(st, 422)

    def test_body_limit_counts_characters(self):
        ok_2byte = "é" * 65536          # 131 072 bytes, 65 536 characters
        ok_4byte = "😀" * 65536         # 262 144 bytes
        too_long = "a" * 65537
        msg = "body is too long (maximum is 65536 characters)"
        R = "/repos/alice/dotfiles"
        for body in (ok_2byte, ok_4byte):
            st, _, i = self.d.json("PATCH", R + "/issues/2", {"body": body})
            self.assertEqual(st, 200)
            self.assertEqual(i["body"], body)
        st, _, err = self.d.json("PATCH", R + "/issues/2", {"body": too_long})
        self.assertEqual(st, 422)
        self.assertEqual(err["errors"], [{"resource": "Issue", "code": "custom", "field": "body",
                                          "message": msg}])
        st, _, i = self.d.json("GET", R + "/issues/2")
        self.assertEqual(i["body"], ok_4byte)  # unchanged by the refused edit
        st, _, err = self.d.json("POST", R + "/pulls", {"head": "vim-plugins", "base": "main",
                                                        "title": "t", "body": too_long})
        self.assertEqual((st, err["errors"][0]["resource"]), (422, "PullRequest"))
        st, _, pr = self.d.json("POST", R + "/pulls", {"head": "vim-plugins", "base": "main",
                                                       "title": "t", "body": ok_4byte})
        self.assertEqual(st, 201)
        st, _, _ = self.d.json("PATCH", R + "/pulls/%d" % pr["number"], {"body": too_long + "é"})
        self.assertEqual(st, 422)
        st, _, err = self.d.json("POST", R + "/issues/2/comments", {"body": "é" * 65537})
        self.assertEqual((st, err["errors"][0]["message"]), (422, msg))
        st, _, _ = self.d.json("POST", R + "/issues/2/comments", {"body": "é" * 65536})
        self.assertEqual(st, 201)


class DiffTest(GitHubTest):
    def test_diff_media_types(self):
        for accept in ("application/vnd.github.diff", "application/vnd.github.v3.diff"):
            st, r, raw = self.d.req("GET", "/repos/alice/dotfiles/pulls/3", headers={"Accept": accept})
            self.assertEqual(st, 200)
            self.assertEqual(r.getheader("Content-Type"), "application/vnd.github.diff; charset=utf-8")
            self.assertTrue(raw.startswith(b"diff --git a/.bashrc b/.bashrc\n"))
        st, r, raw = self.d.req("GET", "/repos/alice/dotfiles/pulls/3",
                                headers={"Accept": "application/vnd.github.v3.patch"})
        self.assertTrue(raw.startswith(b"From "))
        st, _, pr = self.d.json("GET", "/repos/alice/dotfiles/pulls/3")
        self.assertEqual(pr["number"], 3)

    def test_too_large_is_406(self):
        seed = self.write_seed({"users": [{"login": "alice"}],
                                "repos": [{"owner": "alice", "name": "r", "issues": [
                                    {"title": "huge", "pull": {"head": "huge",
                                                               "diff_too_large": True}}]}]})
        d = self.start(seed=seed, tokens="alice-token alice\n")
        st, r, raw = d.req("GET", "/repos/alice/r/pulls/1",
                           headers={"Accept": "application/vnd.github.diff"})
        self.assertEqual(st, 406)
        body = json.loads(raw)
        self.assertTrue(body["message"].startswith("Sorry, the diff exceeded the maximum number"))
        self.assertEqual(body["errors"], [{"resource": "PullRequest", "field": "diff",
                                           "code": "too_large"}])
        self.assertEqual(d.json("GET", "/repos/alice/r/pulls/1")[0], 200)  # JSON still works
        # the switch: a lines limit below PR 3's diff
        st, _ = self.d.control("POST", "/_double/diff-limit", {"lines": 5})
        self.assertEqual(st, 200)
        st, r, raw = self.d.req("GET", "/repos/alice/dotfiles/pulls/3",
                                headers={"Accept": "application/vnd.github.diff"})
        self.assertEqual(st, 406)
        self.assertIn("maximum number of lines (5)", json.loads(raw)["message"])
        self.assertEqual(self.d.control("POST", "/_double/diff-limit", {"lines": -1})[0], 400)


class GraphQLDraftTest(GitHubTest):
    def gql(self, query, variables=None, **kw):
        return self.d.json("POST", "/graphql", {"query": query, "variables": variables or {}}, **kw)

    def test_draft_round_trip(self):
        st, _, pr = self.d.json("POST", "/repos/alice/dotfiles/pulls",
                                {"head": "vim-plugins", "base": "main", "title": "WIP",
                                 "draft": True})
        self.assertEqual((st, pr["draft"]), (201, True))
        self.assertRegex(pr["node_id"], r"^PR_")
        st, _, issue = self.d.json("GET", "/repos/alice/dotfiles/issues/%d" % pr["number"])
        self.assertTrue(issue["draft"])
        q = ("mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) "
             "{ pullRequest { id isDraft number } } }")
        st, r, out = self.gql(q, {"id": pr["node_id"]})
        self.assertEqual(st, 200)
        self.assertEqual(out, {"data": {"markPullRequestReadyForReview": {
            "pullRequest": {"id": pr["node_id"], "isDraft": False, "number": pr["number"]}}}})
        st, _, now = self.d.json("GET", "/repos/alice/dotfiles/pulls/%d" % pr["number"])
        self.assertFalse(now["draft"])
        q = ('mutation { toDraft: convertPullRequestToDraft(input: {pullRequestId: "%s", '
             'clientMutationId: "c1"}) { clientMutationId pullRequest { isDraft } } }'
             % pr["node_id"])
        st, _, out = self.gql(q)
        self.assertEqual(out, {"data": {"toDraft": {"clientMutationId": "c1",
                                                    "pullRequest": {"isDraft": True}}}})
        st, _, now = self.d.json("GET", "/repos/alice/dotfiles/pulls/%d" % pr["number"])
        self.assertTrue(now["draft"])

    def test_anything_else_is_an_error(self):
        st, _, out = self.gql("{ viewer { login } }")
        self.assertEqual(st, 200)
        self.assertEqual(out["errors"][0]["message"], "Field 'viewer' doesn't exist on type 'Query'")
        self.assertEqual(out["errors"][0]["extensions"]["code"], "undefinedField")
        self.assertNotIn("data", out)
        st, _, out = self.gql("mutation { mergePullRequest(input: {pullRequestId: \"x\"}) "
                              "{ clientMutationId } }")
        self.assertEqual(out["errors"][0]["message"],
                         "Field 'mergePullRequest' doesn't exist on type 'Mutation'")
        st, _, out = self.gql("mutation { convertPullRequestToDraft(input: {pullRequestId: "
                              "\"PR_nope\"}) { pullRequest { id } } }")
        self.assertEqual(out["data"], {"convertPullRequestToDraft": None})
        self.assertEqual(out["errors"][0]["type"], "NOT_FOUND")
        self.assertEqual(out["errors"][0]["message"],
                         "Could not resolve to a node with the global id of 'PR_nope'")
        st, _, out = self.gql("mutation { convertPullRequestToDraft(")
        self.assertTrue(out["errors"][0]["message"].startswith("Parse error on"), out)
        st, _, out = self.d.json("POST", "/graphql", b"{not json")
        self.assertEqual(st, 400)
        st, _, out = self.gql("{ viewer { login } }", token=None)
        self.assertEqual(st, 401)
        self.assertEqual(out["message"], "This endpoint requires you to be authenticated.")
        st, _, pr = self.d.json("GET", "/repos/alice/dotfiles/pulls/3")
        st, _, out = self.gql("mutation($id: ID!) { convertPullRequestToDraft(input: "
                              "{pullRequestId: $id}) { pullRequest { id } } }",
                              {"id": pr["node_id"]}, token="carol-token")
        self.assertEqual(out["errors"][0]["type"], "FORBIDDEN")
        st, _, now = self.d.json("GET", "/repos/alice/dotfiles/pulls/3")
        self.assertFalse(now["draft"])


class AuthTest(GitHubTest):
    def test_bearer_and_token_schemes(self):
        for h in ("Bearer alice-token", "token alice-token"):
            st, _, _ = self.d.req("GET", "/user", token=None, headers={"Authorization": h})
            self.assertEqual(st, 200, h)
        st, r, raw = self.d.req("GET", "/user", token="wrong")
        self.assertEqual(st, 401)
        self.assertEqual(r.getheader("x-ratelimit-limit"), "60")
        body = json.loads(raw)
        self.assertEqual(body["message"], "Bad credentials")
        self.assertEqual(set(body), {"message", "documentation_url", "status"})
        st, _, raw = self.d.req("GET", "/repos/alice/dotfiles", token=None,
                                headers={"Authorization": "Basic " + base64.b64encode(
                                    b"x:alice-token").decode()})
        self.assertEqual(st, 401)

    def test_user_agent_required(self):
        self.d.control("POST", "/_double/log/reset")
        st, r, raw = self.d.req("GET", "/repos/alice/dotfiles", ua=None)
        self.assertEqual(st, 403)
        self.assertIn(b"User-Agent", raw)
        self.assertEqual(self.d.control("GET", "/_double/log")[1][0]["status"], 403)
        st, r, _ = self.d.req("GET", "/repos/alice/dotfiles", ua="curl/8")
        self.assertEqual(st, 200)

    def test_anonymous_reads_public_only(self):
        st, _, _ = self.d.req("GET", "/repos/alice/dotfiles/issues", token=None)
        self.assertEqual(st, 200)
        st, _, raw = self.d.req("POST", "/repos/alice/dotfiles/issues/1/comments", {"body": "x"},
                                token=None)
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(raw)["message"], "Requires authentication")
        st, _, raw = self.d.req("GET", "/user", token=None)
        self.assertEqual(st, 401)
        seed = self.write_seed({"users": [{"login": "alice"}, {"login": "carol"}],
                                "repos": [{"owner": "alice", "name": "secret", "private": True}]})
        d = self.start(seed=seed, tokens="alice-token alice\ncarol-token carol\n")
        self.assertEqual(d.req("GET", "/repos/alice/secret", token=None)[0], 404)
        self.assertEqual(d.req("GET", "/repos/alice/secret", token="carol-token")[0], 404)
        st, _, repo = d.json("GET", "/repos/alice/secret")
        self.assertEqual((st, repo["private"], repo["visibility"]), (200, True, "private"))


class RepoTest(GitHubTest):
    def test_user_repos_orgs_branches(self):
        st, r, me = self.d.json("GET", "/user")
        self.assertEqual((me["login"], me["email"], me["type"]), ("alice", "alice@example.com", "User"))
        self.assertEqual(r.getheader("X-OAuth-Scopes"), "repo, read:org")
        st, _, repos = self.d.json("GET", "/users/alice/repos")
        self.assertEqual([x["full_name"] for x in repos], ["alice/dotfiles", "alice/website"])
        st, _, repos = self.d.json("GET", "/orgs/acme/repos")
        self.assertEqual([x["full_name"] for x in repos], ["acme/widgets"])
        self.assertEqual(self.d.json("GET", "/orgs/alice/repos")[0], 404)
        st, _, repo = self.d.json("GET", "/repos/alice/dotfiles")
        self.assertEqual((repo["default_branch"], repo["permissions"]["push"]), ("main", True))
        self.assertTrue(repo["clone_url"].endswith("/alice/dotfiles.git"))
        st, r, branches = self.d.json("GET", "/repos/acme/widgets/branches?per_page=10")
        self.assertEqual(len(branches), 10)
        all_branches, pages = self.follow("/repos/acme/widgets/branches?per_page=10")
        self.assertEqual((len(all_branches), pages), (31, 4))
        names = [b["name"] for b in all_branches]
        self.assertEqual(names, sorted(names))
        st, refs = self.d.control("GET", "/_double/git/acme/widgets/refs")
        for b in all_branches:
            self.assertEqual(b["commit"]["sha"], refs["refs/heads/" + b["name"]])
        st, _, main = self.d.json("GET", "/repos/alice/dotfiles/branches/main")
        self.assertEqual(main["commit"]["sha"], self.d.control(
            "GET", "/_double/git/alice/dotfiles/refs")[1]["refs/heads/main"])
        self.assertEqual(len(main["commit"]["parents"]), 2)  # the merge of PR #4
        self.assertEqual(main["commit"]["author"]["login"], "alice")
        st, _, err = self.d.json("GET", "/repos/alice/dotfiles/branches/nope")
        self.assertEqual((st, err["message"]), (404, "Branch not found"))


class GitTest(GitHubTest):
    def git(self, *args, cwd=None, check=True):
        p = subprocess.run(["git"] + list(args), cwd=cwd or self.tmp, capture_output=True,
                           text=True, env=dict(GIT_ENV, HOME=self.tmp), timeout=60)
        if check and p.returncode != 0:
            self.fail("git %s: %s" % (" ".join(args), p.stderr))
        return p

    def url(self, cred):
        return "http://%s127.0.0.1:%d/alice/dotfiles.git" % (cred, self.d.port)

    def test_clone_push_with_x_access_token_and_pr(self):
        c = os.path.join(self.tmp, "c")
        self.git("clone", "-q", self.url("x-access-token:alice-token@"), c)
        self.git("checkout", "-q", "-b", "agent/work", cwd=c)
        with open(os.path.join(c, "w.txt"), "w") as f:
            f.write("work\n")
        self.git("add", "w.txt", cwd=c)
        self.git("commit", "-q", "-m", "work", cwd=c)
        self.git("push", "-q", "origin", "agent/work", cwd=c)
        sha = self.git("rev-parse", "HEAD", cwd=c).stdout.strip()
        st, _, br = self.d.json("GET", "/repos/alice/dotfiles/branches/agent/work")
        self.assertEqual((st, br["commit"]["sha"]), (200, sha))
        st, _, pr = self.d.json("POST", "/repos/alice/dotfiles/pulls",
                                {"head": "alice:agent/work", "base": "main", "title": "From git"})
        self.assertEqual(st, 201, pr)
        self.assertEqual(pr["head"]["sha"], sha)
        st, _, raw = self.d.req("GET", "/repos/alice/dotfiles/pulls/%d" % pr["number"],
                                headers={"Accept": "application/vnd.github.diff"})
        self.assertIn(b"+++ b/w.txt", raw)
        log = self.d.control("GET", "/_double/log")[1]
        self.assertIn(("POST", "/alice/dotfiles.git/git-receive-pack", 200),
                      [(e["method"], e["path"], e["status"]) for e in log])

    def test_push_refused_without_or_with_wrong_token(self):
        c = os.path.join(self.tmp, "c")
        self.git("clone", "-q", self.url(""), c)  # public: anonymous clone works
        self.git("commit", "-q", "--allow-empty", "-m", "x", cwd=c)
        for cred in ("", "x-access-token:wrong@"):
            p = self.git("push", self.url(cred), "HEAD:refs/heads/nope", cwd=c, check=False)
            self.assertNotEqual(p.returncode, 0)
        st, r, _ = self.d.req("GET", "/alice/dotfiles.git/info/refs?service=git-receive-pack",
                              token=None)
        self.assertEqual((st, r.getheader("WWW-Authenticate")), (401, 'Basic realm="GitHub"'))
        # Bearer is not how git authenticates to GitHub
        st, _, _ = self.d.req("GET", "/alice/dotfiles.git/info/refs?service=git-receive-pack")
        self.assertEqual(st, 401)
        p = self.git("push", self.url("carol:carol-token@"), "HEAD:refs/heads/nope", cwd=c,
                     check=False)
        self.assertIn("Permission to alice/dotfiles.git denied to carol.", p.stderr)
        refs = self.d.control("GET", "/_double/git/alice/dotfiles/refs")[1]
        self.assertNotIn("refs/heads/nope", refs)
        log = self.d.control("GET", "/_double/log")[1]
        self.assertNotIn("/alice/dotfiles.git/git-receive-pack", [e["path"] for e in log])


class SharedMachineryTest(GitHubTest):
    def test_faults_log_reset_state(self):
        st, _ = self.d.control("POST", "/_double/faults",
                               [{"path": "/issues/1$", "status": 503, "times": 1,
                                 "retry_after": 3}])
        self.assertEqual(st, 200)
        st, r, raw = self.d.req("GET", "/repos/alice/dotfiles/issues/1")
        self.assertEqual((st, r.getheader("Retry-After")), (503, "3"))
        self.assertEqual(json.loads(raw)["status"], "503")
        self.assertEqual(self.d.req("GET", "/repos/alice/dotfiles/issues/1")[0], 200)
        log = self.d.control("GET", "/_double/log")[1]
        self.assertEqual([(e["path"], e["status"], e["fault"]) for e in log][-2:],
                         [("/repos/alice/dotfiles/issues/1", 503, True),
                          ("/repos/alice/dotfiles/issues/1", 200, False)])
        self.d.req("POST", "/repos/alice/dotfiles/issues/2/comments", {"body": "gone after reset"})
        self.assertEqual(self.d.control("POST", "/_double/reset")[0], 200)
        st, s = self.d.control("GET", "/_double/state/alice/dotfiles/issues/2")
        self.assertNotIn("gone after reset", [c["body"] for c in s["comments"]])
        self.assertEqual(self.d.control("GET", "/_double/health"), (200, b"ok"))

    def test_same_seed_same_numbers_as_gitea(self):
        # the demo seed loads into both doubles with the same numbers and branches
        st, refs = self.d.control("GET", "/_double/git/alice/dotfiles/refs")
        sys.path.insert(0, HERE)
        from test_double import Double
        g = Double(self.tmp)
        try:
            st2, gitea_refs = g.control("GET", "/_double/git/alice/dotfiles/refs")
            self.assertEqual(refs, gitea_refs)
            st, _, gh = self.d.json("GET", "/repos/alice/dotfiles/issues?state=all")
            st, _, gt = g.get_json("/api/v1/repos/alice/dotfiles/issues?state=all")
            self.assertEqual([(i["number"], i["title"], i["state"]) for i in gh],
                             [(i["number"], i["title"], i["state"]) for i in gt])
        finally:
            g.stop()

    def test_bad_seed_and_token_file(self):
        bad = self.write_seed({"users": [{"login": "a"}], "repos": [{"owner": "ghost", "name": "x"}]})
        p = subprocess.run([sys.executable, GITHUB, "--seed", bad], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown user 'ghost'", p.stderr)
        tf = os.path.join(self.tmp, "bad-tokens")
        with open(tf, "w") as f:
            f.write("t nobody\n")
        p = subprocess.run([sys.executable, GITHUB, "--seed", DEMO, "--token-file", tf],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown user 'nobody'", p.stderr)


class GitHubPrismTest(GitHubTest):
    def test_every_endpoint_conforms(self):
        PrismProxy.require(self, SPEC)
        st, _, repo = self.d.json("GET", "/repos/acme/widgets")
        R = "/repos/alice/dotfiles"
        calls = [
            ("GET", "/user", None, 200, {}),
            ("GET", "/users/alice", None, 200, {}),
            ("GET", "/users/alice/repos", None, 200, {}),
            ("GET", "/orgs/acme/repos", None, 200, {}),
            ("GET", "/rate_limit", None, 200, {}),
            ("GET", R, None, 200, {}),
            ("GET", "/repos/acme/widgets", None, 200, {}),
            ("GET", "/repos/acme/widgets/issues?state=all&per_page=100", None, 200, {}),
            ("GET", "/repositories/%d/issues?state=all&per_page=50&page=2" % repo["id"], None, 200, {}),
            ("GET", R + "/issues?state=closed&since=2026-01-01T00:00:00Z", None, 200, {}),
            ("GET", R + "/issues/1", None, 200, {}),
            ("GET", R + "/issues/4", None, 200, {}),
            ("PATCH", R + "/issues/2", {"title": "t", "body": "b", "state": "closed"}, 200, {}),
            ("PATCH", R + "/issues/2", {"state": "bogus"}, 422, {}),
            ("GET", R + "/issues/1/comments", None, 200, {}),
            ("POST", R + "/issues/1/comments", {"body": "hi"}, 201, {}),
            ("POST", R + "/issues/1/comments", {"body": "a" * 65537}, 422, {}),
            ("GET", R + "/issues/comments?sort=created&direction=desc", None, 200, {}),
            ("GET", "/repos/acme/widgets/issues/comments?per_page=10&page=2", None, 200, {}),
            ("GET", R + "/issues/comments/1", None, 200, {}),
            ("PUT", R + "/issues/5/labels", {"labels": ["bug", "new-one"]}, 200, {}),
            ("GET", R + "/issues/5/labels", None, 200, {}),
            ("GET", R + "/labels", None, 200, {}),
            ("GET", R + "/pulls?state=all", None, 200, {}),
            ("GET", "/repos/acme/widgets/pulls?state=all&per_page=10", None, 200, {}),
            ("GET", R + "/pulls/3", None, 200, {}),
            ("GET", R + "/pulls/4", None, 200, {}),
            ("GET", R + "/pulls/3", None, 200, {"Accept": "application/vnd.github.diff"}),
            ("POST", R + "/pulls", {"head": "vim-plugins", "base": "main", "title": "p",
                                    "draft": True}, 201, {}),
            ("POST", R + "/pulls", {"head": "vim-plugins", "base": "main", "title": "p"}, 422, {}),
            ("POST", R + "/pulls", {"head": "nope", "base": "main", "title": "p"}, 422, {}),
            ("PATCH", R + "/pulls/7", {"state": "closed", "body": "x"}, 200, {}),
            ("GET", R + "/branches", None, 200, {}),
            ("GET", "/repos/acme/widgets/branches?per_page=10&page=2", None, 200, {}),
            ("GET", R + "/branches/main", None, 200, {}),
            ("GET", R + "/branches/nope", None, 404, {}),
            ("GET", "/repos/alice/nope", None, 404, {}),
            ("GET", R + "/issues/99", None, 404, {}),
            ("GET", R + "/pulls/2", None, 404, {}),
        ]
        with PrismProxy(SPEC, "http://127.0.0.1:%d" % self.d.port, self.tmp) as prism:
            for method, path, body, want, headers in calls:
                st, r, raw = self.d.req(method, path, body, headers=headers, port=prism.port)
                self.assertEqual(st, want, "%s %s: %s" % (method, path, raw[:300]))
                self.assertIsNone(r.getheader("sl-violations"),
                                  "%s %s: %s" % (method, path, r.getheader("sl-violations")))
                if method == "GET" and want == 200:  # and the conditional 304
                    st, r, raw = self.d.req(method, path, headers=dict(
                        headers, **{"If-None-Match": r.getheader("ETag")}), port=prism.port)
                    self.assertEqual(st, 304, path)
                    self.assertIsNone(r.getheader("sl-violations"), path)
            self.assertEqual(prism.violation_lines(), [])


if __name__ == "__main__":
    unittest.main()
