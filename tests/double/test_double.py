"""Tests for the Gitea test double: every FACTS.md behaviour the spec cannot
express, every fault switch, the control API, and (when Prism is available)
a contract check of one request per endpoint.

Run: python3 -m unittest discover -s tests/double -v
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

from prismcheck import PrismProxy

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "gitea_double.py")
DEMO = os.path.join(HERE, "seed", "demo.json")
REPO = os.path.dirname(os.path.dirname(HERE))
# Gitea's description as released, kept in the repository, and the copy
# Prism checks against: derived from it into .cache/ (as the bats helpers
# do), unless GITEA_SPEC_DIR names a directory that already holds one.
SWAGGER = os.path.join(REPO, "tests", "contract", "gitea", "swagger.v1.json")
DERIVE = os.path.join(REPO, "tests", "contract", "derive_prism.py")
DERIVED_DIR = os.path.join(REPO, ".cache", "contract", "gitea")
SPEC_DIR = os.environ.get("GITEA_SPEC_DIR") or DERIVED_DIR
PRISM_SPEC = os.path.join(SPEC_DIR, "swagger.v1.prism.json")
PRISM_JS = os.environ.get(
    "PRISM_JS",
    os.path.join(REPO, ".cache", "prism", "node_modules", "@stoplight", "prism-cli", "dist",
                 "index.js"))


def prism_spec():
    """The Prism copy of the description, derived when missing or stale."""
    if SPEC_DIR == DERIVED_DIR and (
            not os.path.exists(PRISM_SPEC)
            or os.path.getmtime(PRISM_SPEC) < max(os.path.getmtime(SWAGGER),
                                                  os.path.getmtime(DERIVE))):
        subprocess.run([sys.executable, DERIVE, SWAGGER, PRISM_SPEC], check=True)
    return PRISM_SPEC

ISSUE_KEYS = {"id", "url", "html_url", "number", "user", "original_author",
              "original_author_id", "title", "body", "ref", "assets", "labels",
              "milestone", "assignee", "assignees", "state", "is_locked", "comments",
              "created_at", "updated_at", "closed_at", "due_date", "time_estimate",
              "pull_request", "repository", "pin_order", "content_version"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def wait_for_file(path, proc, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path):
            with open(path) as f:
                text = f.read().strip()
            if text:
                return text
        if proc.poll() is not None:
            raise RuntimeError("process exited with %s" % proc.returncode)
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for %s" % path)


class Double:
    """One double subprocess on an ephemeral port."""

    def __init__(self, tmp, seed=DEMO, args=(), token=None):
        self.tmp = tmp
        port_file = os.path.join(tmp, "port.%d" % id(self))
        cmd = [sys.executable, DOUBLE, "--seed", seed, "--port", "0",
               "--port-file", port_file] + list(args)
        if token:
            tf = os.path.join(tmp, "tokens.%d" % id(self))
            with open(tf, "w") as f:
                f.write(token)
            cmd += ["--token-file", tf]
        self.err = open(os.path.join(tmp, "double.%d.err" % id(self)), "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self.err)
        self.port = int(wait_for_file(port_file, self.proc))

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.err.close()

    def req(self, method, path, body=None, headers=None, timeout=10, port=None):
        conn = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            raw = r.read()
            return r.status, r, raw
        finally:
            conn.close()

    def get_json(self, path, headers=None):
        st, r, raw = self.req("GET", path, headers=headers)
        return st, r, (json.loads(raw) if raw.strip() else None)

    def control(self, method, path, body=None):
        st, _, raw = self.req(method, path, body=body)
        return st, (json.loads(raw) if raw.strip().startswith((b"[", b"{")) else raw)


class DoubleTest(unittest.TestCase):
    args = ()
    token = None
    seed = DEMO

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="double-test-")
        self.doubles = []
        self.d = self.start(seed=self.seed, args=self.args, token=self.token)

    def start(self, seed=DEMO, args=(), token=None):
        d = Double(self.tmp, seed=seed, args=args, token=token)
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

    def all_pages(self, path):
        out, page = [], 1
        while True:
            sep = "&" if "?" in path else "?"
            st, r, items = self.d.get_json("%s%slimit=50&page=%d" % (path, sep, page))
            self.assertEqual(st, 200)
            out.extend(items)
            if len(items) < 50:
                return out, int(r.getheader("X-Total-Count"))
            page += 1


class PagingTest(DoubleTest):
    args = ("--root-url", "http://forge.example:3000/")

    def test_settings_api(self):
        st, _, s = self.d.get_json("/api/v1/settings/api")
        self.assertEqual(st, 200)
        self.assertEqual(s["max_response_items"], 50)
        self.assertEqual(s["default_paging_num"], 30)

    def test_limit_clamped_to_50_and_default_30(self):
        st, r, items = self.d.get_json("/api/v1/repos/acme/widgets/issues?state=all&limit=100")
        self.assertEqual(st, 200)
        self.assertEqual(len(items), 50)
        self.assertEqual(r.getheader("X-Total-Count"), "130")
        self.assertIn("page=3", r.getheader("Link"))  # 130/50 -> 3 pages
        st, r, items = self.d.get_json("/api/v1/repos/acme/widgets/issues?state=all")
        self.assertEqual(len(items), 30)

    def test_total_count_on_every_paginated_list(self):
        for path in ["/api/v1/repos/acme/widgets/issues?state=all",
                     "/api/v1/repos/acme/widgets/pulls?state=all",
                     "/api/v1/repos/acme/widgets/issues/comments",
                     "/api/v1/repos/alice/dotfiles/issues/1/comments",
                     "/api/v1/users/alice/repos", "/api/v1/orgs/acme/repos",
                     "/api/v1/repos/alice/dotfiles/labels"]:
            st, r, items = self.d.get_json(path)
            self.assertEqual(st, 200, path)
            self.assertIsNotNone(r.getheader("X-Total-Count"), path)
            self.assertGreaterEqual(int(r.getheader("X-Total-Count")), len(items), path)
        st, r, items = self.d.get_json("/api/v1/repos/acme/widgets/pulls?state=all&limit=50")
        self.assertEqual(r.getheader("X-Total-Count"), "30")

    def test_link_only_with_more_than_one_page(self):
        st, r, items = self.d.get_json("/api/v1/repos/alice/dotfiles/issues?state=all")
        self.assertEqual(len(items), 6)
        self.assertIsNone(r.getheader("Link"))
        st, r, items = self.d.get_json("/api/v1/repos/acme/widgets/issues?state=all&limit=50")
        self.assertIsNotNone(r.getheader("Link"))

    def test_link_rels_format_and_root_url(self):
        base = "http://forge.example:3000/api/v1/repos/acme/widgets/issues"
        st, r, _ = self.d.get_json("/api/v1/repos/acme/widgets/issues?state=all&limit=50&page=2")
        link = r.getheader("Link")
        self.assertNotIn(", ", link)
        parts = link.split(",")
        rels = [re.search(r'rel="(\w+)"', p).group(1) for p in parts]
        self.assertEqual(rels, ["next", "last", "first", "prev"])
        urls = [re.match(r"^<([^>]+)>; rel=", p).group(1) for p in parts]
        for u, page in zip(urls, ["3", "3", "1", "1"]):
            self.assertTrue(u.startswith(base + "?"), u)
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(u).query)
            self.assertEqual(q["page"], [page])
            self.assertEqual(q["limit"], ["50"])
            self.assertEqual(q["state"], ["all"])
        st, r, _ = self.d.get_json("/api/v1/repos/acme/widgets/issues?state=all&limit=50")
        self.assertEqual([re.search(r'rel="(\w+)"', p).group(1)
                          for p in r.getheader("Link").split(",")], ["next", "last"])
        st, r, _ = self.d.get_json("/api/v1/repos/acme/widgets/issues?state=all&limit=50&page=3")
        self.assertEqual([re.search(r'rel="(\w+)"', p).group(1)
                          for p in r.getheader("Link").split(",")], ["first", "prev"])
        # the JSON URLs come from ROOT_URL too, not from the address used
        st, _, issue = self.d.get_json("/api/v1/repos/acme/widgets/issues/1")
        self.assertTrue(issue["url"].startswith("http://forge.example:3000/api/v1/"))

    def test_link_from_host_header_without_root_url(self):
        d = self.start()
        st, r, _ = d.get_json("/api/v1/repos/acme/widgets/issues?state=all&limit=50",
                              headers={"Host": "proxy.test:8080"})
        self.assertTrue(r.getheader("Link").startswith(
            "<http://proxy.test:8080/api/v1/repos/acme/widgets/issues?"))

    def test_issue_comments_not_paginated(self):
        d = self.start(args=("--generate", "bench/many:1:0:70"))
        st, r, items = d.get_json("/api/v1/repos/bench/many/issues/1/comments?limit=10&page=2")
        self.assertEqual(st, 200)
        self.assertEqual(len(items), 70)
        self.assertEqual(r.getheader("X-Total-Count"), "70")
        self.assertIsNone(r.getheader("Link"))
        created = [(c["created_at"], c["id"]) for c in items]
        self.assertEqual(created, sorted(created))

    def test_repo_comments_paginated_ordered_with_urls(self):
        st, r, first = self.d.get_json("/api/v1/repos/acme/widgets/issues/comments?limit=100")
        self.assertEqual(len(first), 50)
        self.assertIn('rel="next"', r.getheader("Link"))
        comments, total = self.all_pages("/api/v1/repos/acme/widgets/issues/comments")
        self.assertEqual(len(comments), total)
        self.assertGreater(total, 50)
        keys = [(c["created_at"], c["id"]) for c in comments]
        self.assertEqual(keys, sorted(keys))
        pulls, _ = self.all_pages("/api/v1/repos/acme/widgets/issues?state=all&type=pulls")
        pull_urls = {p["html_url"] for p in pulls}
        seen_pr = seen_issue = False
        for c in comments:
            if c["pull_request_url"]:
                seen_pr = True
                self.assertEqual(c["issue_url"], "")
                self.assertRegex(c["pull_request_url"],
                                 r"^http://forge.example:3000/acme/widgets/pulls/\d+$")
                self.assertIn(c["pull_request_url"], pull_urls)
                self.assertEqual(c["html_url"], c["pull_request_url"] + "#issuecomment-%d" % c["id"])
            else:
                seen_issue = True
                self.assertRegex(c["issue_url"],
                                 r"^http://forge.example:3000/acme/widgets/issues/\d+$")
                self.assertNotIn(c["issue_url"].replace("/issues/", "/pulls/"), pull_urls)
                self.assertEqual(c["html_url"], c["issue_url"] + "#issuecomment-%d" % c["id"])
        self.assertTrue(seen_pr and seen_issue)
        # since/before on the repository-wide list
        mid = comments[len(comments) // 2]["updated_at"]
        after, n_after = self.all_pages("/api/v1/repos/acme/widgets/issues/comments?since=" + mid)
        self.assertEqual(n_after, sum(1 for c in comments if c["updated_at"] >= mid))
        before, n_before = self.all_pages("/api/v1/repos/acme/widgets/issues/comments?before=" + mid)
        self.assertEqual(n_before, sum(1 for c in comments if c["updated_at"] <= mid))

    def test_since_filter_on_updated_at(self):
        everything, total = self.all_pages("/api/v1/repos/acme/widgets/issues?state=all")
        self.assertEqual(total, 130)
        cut = sorted(i["updated_at"] for i in everything)[100]
        got, n = self.all_pages("/api/v1/repos/acme/widgets/issues?state=all&since=" + cut)
        self.assertEqual(n, sum(1 for i in everything if i["updated_at"] >= cut))
        self.assertTrue(all(i["updated_at"] >= cut for i in got))
        # a write makes an old issue show up in "what changed since T"
        st, _, latest = self.d.get_json("/api/v1/repos/acme/widgets/issues?state=all&limit=1")
        t = latest[0]["updated_at"]
        st, _, _ = self.d.req("POST", "/api/v1/repos/acme/widgets/issues/2/comments", {"body": "bump"})
        self.assertEqual(st, 201)
        st, _, _ = self.d.get_json("/api/v1/repos/acme/widgets/issues/2")
        got, n = self.all_pages("/api/v1/repos/acme/widgets/issues?state=all&since=%s" % t)
        self.assertIn(2, [i["number"] for i in got])
        st, _, e = self.d.get_json("/api/v1/repos/acme/widgets/issues?since=yesterday")
        self.assertEqual(st, 422)

    def test_state_default_open_and_all(self):
        open_, n_open = self.all_pages("/api/v1/repos/acme/widgets/issues")
        self.assertTrue(all(i["state"] == "open" for i in open_))
        closed, n_closed = self.all_pages("/api/v1/repos/acme/widgets/issues?state=closed")
        self.assertTrue(all(i["state"] == "closed" for i in closed))
        self.assertGreater(n_closed, 0)
        _, n_all = self.all_pages("/api/v1/repos/acme/widgets/issues?state=all")
        self.assertEqual(n_open + n_closed, n_all)

    def test_type_filter_and_mixed(self):
        pulls, n_pulls = self.all_pages("/api/v1/repos/acme/widgets/issues?state=all&type=pulls")
        issues, n_issues = self.all_pages("/api/v1/repos/acme/widgets/issues?state=all&type=issues")
        self.assertEqual((n_pulls, n_issues), (30, 100))
        self.assertTrue(all(i["pull_request"] is not None for i in pulls))
        self.assertTrue(all(i["pull_request"] is None for i in issues))
        mixed, _ = self.all_pages("/api/v1/repos/acme/widgets/issues?state=all")
        kinds = {i["pull_request"] is None for i in mixed[:50]}
        self.assertEqual(kinds, {True, False})

    def test_newest_created_first(self):
        items, _ = self.all_pages("/api/v1/repos/acme/widgets/issues?state=all")
        numbers = [i["number"] for i in items]
        self.assertEqual(numbers, sorted(numbers, reverse=True))
        created = [i["created_at"] for i in items]
        self.assertEqual(created, sorted(created, reverse=True))

    def test_labels_filter(self):
        items, n = self.all_pages("/api/v1/repos/acme/widgets/issues?state=all&labels=docs")
        self.assertGreater(n, 0)
        self.assertTrue(all("docs" in [l["name"] for l in i["labels"]] for i in items))

    def test_pulls_without_state_returns_all(self):
        st, r, items = self.d.get_json("/api/v1/repos/alice/dotfiles/pulls")
        self.assertEqual(sorted(p["state"] for p in items), ["closed", "open"])
        st, r, items = self.d.get_json("/api/v1/repos/alice/dotfiles/pulls?state=open")
        self.assertEqual([p["number"] for p in items], [3])


class ShapeTest(DoubleTest):
    def test_issue_on_pr_has_pull_request_object(self):
        st, _, i = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/4")
        self.assertEqual(st, 200)
        pr = i["pull_request"]
        self.assertEqual(set(pr), {"merged", "merged_at", "draft", "html_url"})
        self.assertTrue(pr["merged"])
        self.assertEqual(pr["merged_at"], "2026-01-12T08:00:00Z")
        self.assertFalse(pr["draft"])
        self.assertTrue(pr["html_url"].endswith("/alice/dotfiles/pulls/4"))
        self.assertTrue(i["html_url"].endswith("/pulls/4"))
        st, _, plain = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/2")
        self.assertIn("pull_request", plain)
        self.assertIsNone(plain["pull_request"])
        self.assertTrue(plain["html_url"].endswith("/issues/2"))

    def test_draft_follows_the_title_prefix(self):
        # Gitea reads "draft" off the work-in-progress title prefix, on
        # creation and after every edit of the title.
        R = "/api/v1/repos/alice/dotfiles"
        st, _, raw = self.d.req("PATCH", R + "/pulls/3", {"title": "WIP: bigger history"})
        self.assertEqual(st, 201, raw)
        st, _, pr = self.d.get_json(R + "/pulls/3")
        self.assertTrue(pr["draft"])
        st, _, i = self.d.get_json(R + "/issues/3")
        self.assertTrue(i["pull_request"]["draft"])
        st, _, raw = self.d.req("PATCH", R + "/issues/3", {"title": "bigger history"})
        self.assertEqual(st, 201, raw)
        st, _, pr = self.d.get_json(R + "/pulls/3")
        self.assertFalse(pr["draft"])
        st, _, raw = self.d.req("PATCH", R + "/pulls/3", {"title": "[wip] again"})
        st, _, pr = self.d.get_json(R + "/pulls/3")
        self.assertTrue(pr["draft"])

    def test_pulls_on_plain_issue_is_404(self):
        st, _, body = self.d.get_json("/api/v1/repos/alice/dotfiles/pulls/2")
        self.assertEqual(st, 404)
        st, _, _ = self.d.req("GET", "/api/v1/repos/alice/dotfiles/pulls/2.diff")
        self.assertEqual(st, 404)
        st, r, raw = self.d.req("GET", "/api/v1/repos/alice/dotfiles/pulls/3.diff")
        self.assertEqual(st, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/plain"))
        self.assertTrue(raw.startswith(b"diff --git a/.bashrc b/.bashrc\n"))

    def test_pr_id_differs_from_issue_id(self):
        for n in (3, 4):
            st, _, issue = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/%d" % n)
            st, _, pull = self.d.get_json("/api/v1/repos/alice/dotfiles/pulls/%d" % n)
            self.assertEqual(issue["number"], pull["number"])
            self.assertNotEqual(issue["id"], pull["id"])
        pulls, _ = self.all_pages("/api/v1/repos/acme/widgets/pulls?state=all")
        for p in pulls:
            st, _, i = self.d.get_json("/api/v1/repos/acme/widgets/issues/%d" % p["number"])
            self.assertNotEqual(i["id"], p["id"])

    def test_issue_keys_labels_array_assignees_null(self):
        st, _, i = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/5")
        self.assertEqual(set(i), ISSUE_KEYS)
        self.assertEqual([l["name"] for l in i["labels"]], ["question"])
        self.assertIsNone(i["assignees"])
        self.assertIsNone(i["assignee"])
        self.assertIsNone(i["milestone"])
        self.assertIsNone(i["closed_at"])
        self.assertIsNone(i["due_date"])
        self.assertEqual(i["assets"], [])
        self.assertRegex(i["created_at"], RFC3339)
        st, _, i = self.d.get_json("/api/v1/repos/acme/widgets/issues/4")
        self.assertEqual(i["labels"], [])  # empty labels: [] never null
        st, _, i = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/1")
        self.assertEqual([a["login"] for a in i["assignees"]], ["alice"])
        self.assertEqual(i["assignee"]["login"], "alice")
        self.assertEqual(i["closed_at"], "2026-01-07T16:20:00Z")
        self.assertEqual(i["comments"], 3)

    def test_keys_cover_swagger_definitions(self):
        if not os.path.exists(SWAGGER):
            self.skipTest("no swagger at %s" % SWAGGER)
        with open(SWAGGER) as f:
            defs = json.load(f)["definitions"]
        st, _, issue = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/1")
        st, _, pull = self.d.get_json("/api/v1/repos/alice/dotfiles/pulls/4")
        st, _, comment = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/comments/1")
        st, _, repo = self.d.get_json("/api/v1/repos/alice/dotfiles")
        # keys Gitea leaves out (omitempty) when unset
        omitted = {"Repository": {"parent", "repo_transfer", "external_tracker", "external_wiki"},
                   "PullRequest": {"review_comments"}}
        for name, obj in [("Issue", issue), ("PullRequest", pull), ("Comment", comment),
                          ("Repository", repo), ("User", issue["user"]),
                          ("Label", issue["labels"][0]), ("PullRequestMeta", pull and
                                                          self.d.get_json("/api/v1/repos/alice/dotfiles/issues/4")[2]["pull_request"]),
                          ("PRBranchInfo", pull["head"]), ("RepositoryMeta", issue["repository"])]:
            want = set(defs[name]["properties"]) - omitted.get(name, set())
            self.assertEqual(set(obj) - set(defs[name]["properties"]), set(), name)
            self.assertEqual(want - set(obj), set(), name)

    def test_cache_control_and_no_validators(self):
        for path in ["/api/v1/repos/alice/dotfiles/issues/1", "/api/v1/repos/alice/nope",
                     "/api/v1/repos/alice/dotfiles/pulls/3.diff"]:
            st, r, _ = self.d.req("GET", path)
            self.assertEqual(r.getheader("Cache-Control"), "max-age=0, private, must-revalidate")
            self.assertIsNone(r.getheader("ETag"))
            self.assertIsNone(r.getheader("Last-Modified"))
        st, r, _ = self.d.req("GET", "/api/v1/repos/alice/dotfiles/issues/1",
                              headers={"If-None-Match": "*"})
        self.assertEqual(st, 200)

    def test_not_found_shape(self):
        url = "http://127.0.0.1:%d/api/swagger" % self.d.port
        for path in ["/api/v1/repos/alice/nope", "/api/v1/repos/alice/dotfiles/issues/99",
                     "/api/v1/repos/nobody/x/issues", "/api/v1/users/nobody",
                     "/api/v1/orgs/alice/repos", "/api/v1/repos/alice/dotfiles/issues/comments/999999"]:
            st, _, raw = self.d.req("GET", path)
            self.assertEqual(st, 404, path)
            self.assertEqual(json.loads(raw), {"message": "not found", "url": url, "errors": None})

    def test_comments_of_missing_number_is_500(self):
        st, _, raw = self.d.req("GET", "/api/v1/repos/alice/dotfiles/issues/99/comments")
        self.assertEqual(st, 500)
        st, _, raw = self.d.req("POST", "/api/v1/repos/alice/dotfiles/issues/99/comments", {"body": "x"})
        self.assertEqual(st, 500)
        # a missing repository is still a plain 404
        st, _, raw = self.d.req("GET", "/api/v1/repos/alice/nope/issues/1/comments")
        self.assertEqual(st, 404)

    def test_keep_alive(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=5)
        try:
            for _ in range(3):
                conn.request("GET", "/api/v1/repos/alice/dotfiles")
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                json.loads(r.read())
                self.assertFalse(r.will_close)
        finally:
            conn.close()

    def test_generate_is_deterministic(self):
        d2 = self.start()
        a = self.d.req("GET", "/api/v1/repos/acme/widgets/issues?state=all&limit=50&page=2")[2]
        b = d2.req("GET", "/api/v1/repos/acme/widgets/issues?state=all&limit=50&page=2")[2]
        self.assertEqual(a.replace(str(self.d.port).encode(), b"P"),
                         b.replace(str(d2.port).encode(), b"P"))

    def test_bad_seed_is_a_clear_error(self):
        bad = self.write_seed({"users": [{"login": "a"}], "repos": [{"owner": "ghost", "name": "x"}]})
        p = subprocess.run([sys.executable, DOUBLE, "--seed", bad], capture_output=True,
                           text=True, timeout=20)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown user 'ghost'", p.stderr)


class AuthTest(DoubleTest):
    token = ("good-token alice\ncarol-token carol\n"
             "narrow-token alice read:repository\nwide-token alice write:issue,read:repository\n")

    def seed_private(self):
        return self.write_seed({
            "users": [{"login": "alice"}, {"login": "carol"}],
            "repos": [{"owner": "alice", "name": "secret", "private": True,
                       "issues": [{"title": "hidden"}]},
                      {"owner": "alice", "name": "open",
                       "issues": [{"title": "visible"}]}]})

    def test_bad_and_missing_token_401(self):
        url = "http://127.0.0.1:%d/api/swagger" % self.d.port
        st, _, raw = self.d.req("GET", "/api/v1/repos/alice/dotfiles",
                                headers={"Authorization": "token wrong"})
        self.assertEqual(st, 401)
        self.assertEqual(json.loads(raw),
                         {"message": "invalid username, password or token", "url": url})
        st, _, raw = self.d.req("GET", "/api/v1/repos/alice/dotfiles")
        self.assertEqual(st, 401)
        self.assertEqual(set(json.loads(raw)), {"message", "url"})

    def test_token_and_bearer_accepted(self):
        for h in ("token good-token", "Bearer good-token"):
            st, _, _ = self.d.req("GET", "/api/v1/repos/alice/dotfiles", headers={"Authorization": h})
            self.assertEqual(st, 200, h)

    def test_missing_scope_403(self):
        narrow = {"Authorization": "token narrow-token"}
        st, _, raw = self.d.req("GET", "/api/v1/repos/alice/dotfiles", headers=narrow)
        self.assertEqual(st, 200)
        st, _, raw = self.d.req("GET", "/api/v1/repos/alice/dotfiles/issues/1", headers=narrow)
        self.assertEqual(st, 403)
        body = json.loads(raw)
        self.assertTrue(body["message"].startswith(
            "token does not have at least one of required scope(s), required=[read:issue]"), body)
        self.assertEqual(set(body), {"message", "url"})
        wide = {"Authorization": "token wide-token"}  # write implies read
        st, _, raw = self.d.req("GET", "/api/v1/repos/alice/dotfiles/issues/1", headers=wide)
        self.assertEqual(st, 200)
        st, _, raw = self.d.req("POST", "/api/v1/repos/alice/dotfiles/issues/1/comments",
                                {"body": "x"}, headers=wide)
        self.assertEqual(st, 201)
        st, _, raw = self.d.req("POST", "/api/v1/repos/alice/dotfiles/pulls",
                                {"head": "vim-plugins", "base": "main", "title": "t"}, headers=wide)
        self.assertEqual(st, 403)

    def test_private_repo_is_404_without_access(self):
        d = self.start(seed=self.seed_private(), token=self.token)
        carol = {"Authorization": "token carol-token"}
        alice = {"Authorization": "token good-token"}
        st, _, raw = d.req("GET", "/api/v1/repos/alice/secret", headers=carol)
        self.assertEqual(st, 404)
        self.assertEqual(json.loads(raw)["message"], "not found")
        self.assertEqual(json.loads(raw)["errors"], None)
        st, _, raw = d.req("GET", "/api/v1/repos/alice/secret/issues/1", headers=carol)
        self.assertEqual(st, 404)
        st, _, raw = d.req("GET", "/api/v1/repos/alice/secret", headers=alice)
        self.assertEqual(st, 200)
        self.assertTrue(json.loads(raw)["private"])
        st, r, raw = d.req("GET", "/api/v1/users/alice/repos", headers=carol)
        self.assertEqual([x["name"] for x in json.loads(raw)], ["open"])
        self.assertEqual(r.getheader("X-Total-Count"), "1")

    def test_patch_without_write_access_is_403_empty(self):
        d = self.start(seed=self.seed_private(), token=self.token)
        st, _, raw = d.req("PATCH", "/api/v1/repos/alice/open/issues/1", {"title": "x"},
                           headers={"Authorization": "token carol-token"})
        self.assertEqual(st, 403)
        self.assertEqual(raw, b"")
        st, _, raw = d.req("PATCH", "/api/v1/repos/alice/open/issues/1", {"title": "x"},
                           headers={"Authorization": "token good-token"})
        self.assertEqual(st, 201)

    def test_user_is_the_token_user(self):
        # GET /user answers for the token's own user, as its owner sees it
        for tok, login in (("good-token", "alice"), ("carol-token", "carol")):
            st, _, u = self.d.get_json("/api/v1/user", headers={"Authorization": "token " + tok})
            self.assertEqual(st, 200)
            self.assertEqual(u["login"], login)
            self.assertEqual(u["email"], "%s@example.com" % login)
            self.assertTrue(u["active"])
        if os.path.exists(SWAGGER):
            with open(SWAGGER) as f:
                props = set(json.load(f)["definitions"]["User"]["properties"])
            self.assertEqual(set(u), props)
        st, _, _ = self.d.req("GET", "/api/v1/user", headers={"Authorization": "token wrong"})
        self.assertEqual(st, 401)
        st, _, _ = self.d.req("GET", "/api/v1/user")
        self.assertEqual(st, 401)
        # the /user route group needs read:user
        st, _, raw = self.d.req("GET", "/api/v1/user",
                                headers={"Authorization": "token narrow-token"})
        self.assertEqual(st, 403)
        self.assertIn("required=[read:user]", json.loads(raw)["message"])
        st, _, _ = self.d.req("POST", "/api/v1/user", {},
                              headers={"Authorization": "token good-token"})
        self.assertEqual(st, 405)

    def test_comment_author_is_token_user(self):
        st, _, raw = self.d.req("POST", "/api/v1/repos/alice/dotfiles/issues/2/comments",
                                {"body": "from bob's collaborator"},
                                headers={"Authorization": "Bearer good-token"})
        self.assertEqual(st, 201)
        self.assertEqual(json.loads(raw)["user"]["login"], "alice")


class WriteTest(DoubleTest):
    def test_patch_issue_201_and_state(self):
        st, _, before = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/2")
        st, _, raw = self.d.req("PATCH", "/api/v1/repos/alice/dotfiles/issues/2",
                                {"title": "History: raise limits", "body": "new body",
                                 "state": "closed"})
        self.assertEqual(st, 201)
        i = json.loads(raw)
        self.assertEqual(i["title"], "History: raise limits")
        self.assertEqual(i["body"], "new body")
        self.assertEqual(i["state"], "closed")
        self.assertRegex(i["closed_at"], RFC3339)
        self.assertGreater(i["updated_at"], before["updated_at"])
        self.assertEqual(i["content_version"], before["content_version"] + 1)
        st, _, raw = self.d.req("PATCH", "/api/v1/repos/alice/dotfiles/issues/2", {"state": "open"})
        self.assertEqual(st, 201)
        self.assertIsNone(json.loads(raw)["closed_at"])

    def test_patch_bad_state_412_and_nothing_changes(self):
        st, _, raw = self.d.req("PATCH", "/api/v1/repos/alice/dotfiles/issues/2",
                                {"state": "merged", "title": "should not land"})
        self.assertEqual(st, 412)
        self.assertEqual(json.loads(raw)["message"], "unknown state: merged")
        st, _, i = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/2")
        self.assertEqual(i["title"], "Bash history is too short")

    def test_patch_stale_content_version_409(self):
        st, _, i = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/5")
        v = i["content_version"]
        st, _, raw = self.d.req("PATCH", "/api/v1/repos/alice/dotfiles/issues/5",
                                {"body": "one", "content_version": v})
        self.assertEqual(st, 201)
        st, _, raw = self.d.req("PATCH", "/api/v1/repos/alice/dotfiles/issues/5",
                                {"body": "two", "content_version": v})
        self.assertEqual(st, 409)
        st, _, i = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/5")
        self.assertEqual(i["body"], "one")

    def test_post_comment_201(self):
        st, _, before = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/5")
        st, _, raw = self.d.req("POST", "/api/v1/repos/alice/dotfiles/issues/5/comments",
                                {"body": "Native packages, `:h packages`."})
        self.assertEqual(st, 201)
        c = json.loads(raw)
        self.assertEqual(c["body"], "Native packages, `:h packages`.")
        self.assertTrue(c["issue_url"].endswith("/alice/dotfiles/issues/5"))
        self.assertEqual(c["pull_request_url"], "")
        st, _, after = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/5")
        self.assertEqual(after["comments"], before["comments"] + 1)
        self.assertEqual(after["updated_at"], c["created_at"])
        st, _, lst = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/5/comments")
        self.assertEqual(lst[-1]["id"], c["id"])
        st, _, one = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/comments/%d" % c["id"])
        self.assertEqual(one, c)
        st, _, raw = self.d.req("POST", "/api/v1/repos/alice/dotfiles/issues/5/comments", {})
        self.assertEqual(st, 422)
        self.assertEqual(json.loads(raw)["message"], "[Body]: Required")

    def test_comment_on_pr_has_pull_request_url(self):
        st, _, raw = self.d.req("POST", "/api/v1/repos/alice/dotfiles/issues/3/comments", {"body": "ok"})
        c = json.loads(raw)
        self.assertEqual(c["issue_url"], "")
        self.assertTrue(c["pull_request_url"].endswith("/alice/dotfiles/pulls/3"))
        self.assertTrue(c["html_url"].endswith("/pulls/3#issuecomment-%d" % c["id"]))

    def test_put_labels(self):
        st, _, lab = self.d.get_json("/api/v1/repos/alice/dotfiles/labels")
        by_name = {l["name"]: l["id"] for l in lab}
        st, _, raw = self.d.req("PUT", "/api/v1/repos/alice/dotfiles/issues/5/labels",
                                {"labels": ["bug", by_name["enhancement"]]})
        self.assertEqual(st, 200)
        self.assertEqual([l["name"] for l in json.loads(raw)], ["bug", "enhancement"])
        st, _, i = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/5")
        self.assertEqual([l["name"] for l in i["labels"]], ["bug", "enhancement"])
        st, _, raw = self.d.req("PUT", "/api/v1/repos/alice/dotfiles/issues/5/labels", {"labels": []})
        self.assertEqual(json.loads(raw), [])
        st, _, raw = self.d.req("PUT", "/api/v1/repos/alice/dotfiles/issues/5/labels",
                                {"labels": [{"x": 1}]})
        self.assertEqual(st, 400)

    def test_post_pulls_201_409_422(self):
        path = "/api/v1/repos/alice/dotfiles/pulls"
        st, _, raw = self.d.req("POST", path, {"head": "vim-plugins", "base": "main",
                                               "title": "Add vim plugins", "body": "see #5"})
        self.assertEqual(st, 201)
        pr = json.loads(raw)
        self.assertEqual(pr["number"], 7)  # one number sequence: after issue #6
        self.assertEqual(pr["head"]["ref"], "vim-plugins")
        self.assertEqual(pr["base"]["ref"], "main")
        self.assertEqual(pr["state"], "open")
        st, _, i = self.d.get_json("/api/v1/repos/alice/dotfiles/issues/7")
        self.assertIsNotNone(i["pull_request"])
        self.assertNotEqual(i["id"], pr["id"])
        st, _, raw = self.d.req("POST", path, {"head": "vim-plugins", "base": "main", "title": "again"})
        self.assertEqual(st, 409)
        for body, field in [({"base": "main", "title": "t"}, "Head"),
                            ({"head": "vim-plugins", "title": "t"}, "Base"),
                            ({"head": "vim-plugins", "base": "main"}, "Title")]:
            st, _, raw = self.d.req("POST", path, body)
            self.assertEqual(st, 422, body)
            self.assertEqual(json.loads(raw)["message"], "[%s]: Required" % field)
        st, _, raw = self.d.req("POST", path, {"head": "no-such", "base": "main", "title": "t"})
        self.assertEqual(st, 422)
        st, _, raw = self.d.req("POST", path, {"head": "vim-plugins", "base": "nope", "title": "t"})
        self.assertEqual(st, 422)
        st, _, raw = self.d.req("POST", path, {"head": "main", "base": "main", "title": "t"})
        self.assertEqual(st, 422)
        # once the first one is closed the same head/base may be proposed again
        st, _, raw = self.d.req("PATCH", path + "/7", {"state": "closed"})
        self.assertEqual(st, 201)
        self.assertEqual(json.loads(raw)["state"], "closed")
        st, _, raw = self.d.req("POST", path, {"head": "vim-plugins", "base": "main", "title": "again"})
        self.assertEqual(st, 201)
        self.assertEqual(json.loads(raw)["number"], 8)

    def test_comment_on_locked_issue_403(self):
        seed = self.write_seed({"users": [{"login": "alice"}, {"login": "bob"}],
                                "repos": [{"owner": "alice", "name": "r", "collaborators": ["bob"],
                                           "issues": [{"title": "locked", "locked": True}]}]})
        d = self.start(seed=seed, token="bob-token bob\n")
        st, _, raw = d.req("POST", "/api/v1/repos/alice/r/issues/1/comments", {"body": "x"},
                           headers={"Authorization": "token bob-token"})
        self.assertEqual((st, raw), (403, b""))
        st, s = d.control("GET", "/_double/state/alice/r/issues/1")
        self.assertEqual(s["comments"], [])

    def test_patch_merged_pull_state_412(self):
        st, _, raw = self.d.req("PATCH", "/api/v1/repos/alice/dotfiles/pulls/4", {"state": "open"})
        self.assertEqual(st, 412)

    def test_state_endpoint_and_reset(self):
        self.d.req("POST", "/api/v1/repos/alice/dotfiles/issues/2/comments", {"body": "once"})
        st, s = self.d.control("GET", "/_double/state/alice/dotfiles/issues/2")
        self.assertEqual(st, 200)
        self.assertEqual([c["body"] for c in s["comments"]][-1], "once")
        self.assertEqual(s["labels"], ["enhancement"])
        self.assertEqual(len(s["comments"]), 2)
        st, _ = self.d.control("POST", "/_double/reset")
        self.assertEqual(st, 200)
        st, s = self.d.control("GET", "/_double/state/alice/dotfiles/issues/2")
        self.assertEqual(len(s["comments"]), 1)
        st, s = self.d.control("GET", "/_double/state/alice/dotfiles/issues/99")
        self.assertEqual(st, 404)


class FaultTest(DoubleTest):
    def faults(self, rules):
        st, body = self.d.control("POST", "/_double/faults", rules)
        self.assertEqual(st, 200, body)

    def raw_request(self, path, method="GET", body=b"", timeout=5):
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=timeout)
        req = ("%s %s HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n"
               "Content-Type: application/json\r\n\r\n" % (method, path, len(body))).encode() + body
        s.sendall(req)
        return s

    def read_all(self, s):
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)

    def test_health(self):
        st, body = self.d.control("GET", "/_double/health")
        self.assertEqual((st, body), (200, b"ok"))

    def test_bad_rules_rejected(self):
        for rules in [{"path": "x"}, [{"path": "("}], [{"nope": 1}], [{"times": -1}]]:
            st, body = self.d.control("POST", "/_double/faults", rules)
            self.assertEqual(st, 400, rules)

    def test_percent_fails_that_share_reproducibly(self):
        def run():
            self.d.control("POST", "/_double/log/reset", {})
            self.faults([{"path": r"/issues/1$", "status": 503, "percent": 10, "seed": 7}])
            got = [self.d.req("GET", "/api/v1/repos/alice/dotfiles/issues/1")[0]
                   for _ in range(400)]
            return got
        first = run()
        self.assertEqual(set(first), {200, 503})
        # about 10%: far from 0 and from 100 of 400
        self.assertTrue(15 <= first.count(503) <= 70, first.count(503))
        # the same seed gives the same sequence
        self.assertEqual(run(), first)
        # unmatched paths are never failed, and a skipped request keeps `times`
        self.faults([{"path": r"/issues/1$", "status": 503, "percent": 0, "times": 1}])
        st, _, _ = self.d.req("GET", "/api/v1/repos/alice/dotfiles/issues/1")
        self.assertEqual(st, 200)
        st, rules = self.d.control("GET", "/_double/faults")
        self.assertEqual(rules[0]["times"], 1)
        self.assertNotIn("_rng", rules[0])
        for bad in ([{"percent": 101}], [{"percent": -1}], [{"seed": "x"}]):
            st, _ = self.d.control("POST", "/_double/faults", bad)
            self.assertEqual(st, 400, bad)

    def test_hang_does_not_block_others_or_shutdown(self):
        self.faults([{"path": r"/issues/1$", "hang": True}])
        hung = self.raw_request("/api/v1/repos/alice/dotfiles/issues/1", timeout=0.5)
        t0 = time.monotonic()
        st, _, _ = self.d.req("GET", "/api/v1/repos/alice/dotfiles/issues/2", timeout=3)
        self.assertEqual(st, 200)
        self.assertLess(time.monotonic() - t0, 2)
        with self.assertRaises(socket.timeout):
            hung.recv(100)
        st, log = self.d.control("GET", "/_double/log")
        self.assertIn(("/api/v1/repos/alice/dotfiles/issues/1", "hang"),
                      [(e["path"], e["status"]) for e in log])
        t0 = time.monotonic()
        os.kill(self.d.proc.pid, signal.SIGTERM)
        self.d.proc.wait(5)
        self.assertLess(time.monotonic() - t0, 4)
        hung.close()

    def test_drop(self):
        self.faults([{"method": "GET", "path": "/repos/alice/dotfiles$", "drop": True}])
        s = self.raw_request("/api/v1/repos/alice/dotfiles")
        self.assertEqual(self.read_all(s), b"")
        s.close()
        st, log = self.d.control("GET", "/_double/log")
        self.assertEqual(log[-1]["status"], "drop")

    def test_truncate(self):
        self.faults([{"path": "/issues/1$", "truncate": True}])
        s = self.raw_request("/api/v1/repos/alice/dotfiles/issues/1")
        data = self.read_all(s)
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        self.assertTrue(head.startswith(b"HTTP/1.1 200"))
        self.assertEqual(len(body), length // 2)
        self.assertGreater(length, 100)

    def test_status_with_html_body_and_retry_after_and_times(self):
        self.faults([{"path": "/repos/alice/dotfiles$", "status": 200, "times": 1,
                      "body": "<html>login</html>", "content_type": "text/html"},
                     {"path": "/repos/alice/website$", "status": 503, "retry_after": 7, "times": 2}])
        st, r, raw = self.d.req("GET", "/api/v1/repos/alice/dotfiles")
        self.assertEqual((st, raw, r.getheader("Content-Type")), (200, b"<html>login</html>", "text/html"))
        st, r, raw = self.d.req("GET", "/api/v1/repos/alice/dotfiles")
        self.assertEqual(json.loads(raw)["name"], "dotfiles")  # times exhausted
        for _ in range(2):
            st, r, raw = self.d.req("GET", "/api/v1/repos/alice/website")
            self.assertEqual(st, 503)
            self.assertEqual(r.getheader("Retry-After"), "7")
        st, r, raw = self.d.req("GET", "/api/v1/repos/alice/website")
        self.assertEqual(st, 200)
        st, log = self.d.control("GET", "/_double/log")
        self.assertEqual([e["status"] for e in log if e["path"].endswith("website")], [503, 503, 200])

    def test_latency_rule_and_clear(self):
        self.faults([{"path": ".*", "latency_ms": 300}])
        t0 = time.monotonic()
        st, _, _ = self.d.req("GET", "/api/v1/settings/api")
        self.assertEqual(st, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.assertEqual(self.d.control("DELETE", "/_double/faults")[0], 200)
        t0 = time.monotonic()
        self.d.req("GET", "/api/v1/settings/api")
        self.assertLess(time.monotonic() - t0, 0.25)

    def test_latency_flag(self):
        d = self.start(args=("--latency-ms", "250"))
        t0 = time.monotonic()
        st, _, _ = d.req("GET", "/api/v1/settings/api")
        self.assertEqual(st, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.25)

    def test_trickle(self):
        self.faults([{"path": "settings", "status": 200, "body": "0123456789", "trickle_ms": 50}])
        t0 = time.monotonic()
        st, _, raw = self.d.req("GET", "/api/v1/settings/api")
        self.assertEqual(raw, b"0123456789")
        self.assertGreaterEqual(time.monotonic() - t0, 0.45)

    def test_big(self):
        self.faults([{"path": "/issues$", "big": 200000}])
        st, r, raw = self.d.req("GET", "/api/v1/repos/alice/dotfiles/issues")
        self.assertEqual(st, 200)
        self.assertEqual(len(raw), 200000)
        self.assertIsInstance(json.loads(raw), list)

    def test_hang_after_apply_applies_write_once(self):
        self.faults([{"method": "POST", "path": "/issues/5/comments$", "hang_after_apply": True,
                      "times": 1}])
        s = self.raw_request("/api/v1/repos/alice/dotfiles/issues/5/comments", "POST",
                             json.dumps({"body": "exactly once"}).encode(), timeout=0.7)
        with self.assertRaises(socket.timeout):
            s.recv(100)
        s.close()
        st, state = self.d.control("GET", "/_double/state/alice/dotfiles/issues/5")
        self.assertEqual([c["body"] for c in state["comments"]], ["exactly once"])
        st, log = self.d.control("GET", "/_double/log")
        self.assertEqual((log[-1]["method"], log[-1]["status"]), ("POST", "hang"))

    def test_request_log(self):
        self.d.control("POST", "/_double/log/reset")
        self.d.req("GET", "/api/v1/repos/alice/dotfiles/issues?state=all&limit=5")
        self.d.req("PATCH", "/api/v1/repos/alice/dotfiles/issues/2", {"state": "bogus"})
        self.d.req("GET", "/_double/health")
        st, log = self.d.control("GET", "/_double/log")
        self.assertEqual(len(log), 2)  # control calls are not logged
        self.assertEqual((log[0]["method"], log[0]["path"], log[0]["query"], log[0]["status"]),
                         ("GET", "/api/v1/repos/alice/dotfiles/issues", "state=all&limit=5", 200))
        self.assertEqual((log[1]["method"], log[1]["status"]), ("PATCH", 412))
        self.assertRegex(log[0]["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        self.d.control("POST", "/_double/log/reset")
        self.assertEqual(self.d.control("GET", "/_double/log")[1], [])


class PrismTest(DoubleTest):
    token = "prism-token alice\n"

    def test_every_endpoint_conforms(self):
        PrismProxy.require(self, prism_spec())
        with PrismProxy(PRISM_SPEC, "http://127.0.0.1:%d" % self.d.port, self.tmp) as prism:
            pport = prism.port
            auth = {"Authorization": "token prism-token"}
            R = "/api/v1/repos/alice/dotfiles"
            calls = [
                ("GET", "/api/v1/settings/api", None, 200),
                ("GET", "/api/v1/users/alice/repos", None, 200),
                ("GET", "/api/v1/orgs/acme/repos", None, 200),
                ("GET", "/api/v1/users/acme", None, 200),
                ("GET", R, None, 200),
                ("GET", "/api/v1/users/alice", None, 200),
                ("GET", "/api/v1/user", None, 200),
                ("GET", R + "/issues?state=all&limit=50&page=1", None, 200),
                ("GET", "/api/v1/repos/acme/widgets/issues?state=all&limit=50&page=2", None, 200),
                ("GET", "/api/v1/repos/acme/widgets/issues?type=pulls&since=2026-01-01T00:00:00Z", None, 200),
                ("GET", R + "/issues?labels=bug&state=closed&type=issues", None, 200),
                ("GET", R + "/issues/1", None, 200),
                ("GET", R + "/issues/4", None, 200),
                ("PATCH", R + "/issues/2", {"title": "t", "body": "b", "state": "closed"}, 201),
                ("PATCH", R + "/issues/2", {"state": "bogus"}, 412),
                ("GET", R + "/issues/1/comments", None, 200),
                ("POST", R + "/issues/1/comments", {"body": "hi"}, 201),
                ("GET", R + "/issues/comments?limit=2", None, 200),
                ("GET", "/api/v1/repos/acme/widgets/issues/comments?page=2&limit=50", None, 200),
                ("GET", R + "/issues/comments/1", None, 200),
                ("PUT", R + "/issues/5/labels", {"labels": ["bug", 2]}, 200),
                ("GET", R + "/issues/5/labels", None, 200),
                ("GET", R + "/labels", None, 200),
                ("GET", R + "/pulls?state=all", None, 200),
                ("GET", "/api/v1/repos/acme/widgets/pulls?state=open&limit=50", None, 200),
                ("GET", R + "/pulls/3", None, 200),
                ("GET", R + "/pulls/4", None, 200),
                ("GET", R + "/pulls/3.diff", None, 200),
                ("POST", R + "/pulls", {"head": "vim-plugins", "base": "main", "title": "p"}, 201),
                ("POST", R + "/pulls", {"head": "vim-plugins", "base": "main", "title": "p"}, 409),
                ("POST", R + "/pulls", {"head": "nope", "base": "main", "title": "p"}, 422),
                ("PATCH", R + "/pulls/7", {"state": "closed"}, 201),
                ("GET", "/api/v1/repos/alice/nope", None, 404),
                ("GET", R + "/issues/99", None, 404),
                ("GET", R + "/pulls/2", None, 404),
            ]
            # statuses Gitea sends that the spec does not declare: Prism may
            # only warn about the status code, never about the shape
            undeclared = [("GET", R + "/issues/99/comments", None, 500),
                          ("PATCH", R + "/issues/5", {"body": "x", "content_version": 99}, 409)]
            for method, path, body, want in calls + undeclared:
                st, r, raw = self.d.req(method, path, body=body, headers=auth, port=pport)
                self.assertEqual(st, want, "%s %s: %s" % (method, path, raw[:300]))
                viol = r.getheader("sl-violations")
                if (method, path, body, want) in undeclared:
                    if viol:
                        for v in json.loads(viol):
                            self.assertEqual(v["severity"], "Warning", viol)
                            self.assertIn("status code", v["message"])
                else:
                    self.assertIsNone(viol, "%s %s: %s" % (method, path, viol))
            self.assertEqual(prism.violation_lines(allow="Unable to match the returned status code"), [])

if __name__ == "__main__":
    unittest.main()
