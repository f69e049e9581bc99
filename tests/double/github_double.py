#!/usr/bin/env python3
"""Stateful GitHub test double for bottlefs (Python 3 standard library only).

It serves the part of GitHub's REST API that a GitHub forge adapter uses,
with GitHub's JSON shapes (checked against the derived OpenAPI subset in
tests/contract/github/) and the documented behaviours: pull requests in the
issue list, Link paging with /repositories/{id} URLs (served too), no total
count, per_page up to 100, ETag + If-None-Match -> 304 (not counted), the
x-ratelimit-* headers with switches to exhaust the primary limit and to send
a secondary-limit 403, GitHub's 422 validation errors, the 65 536-character
description limit, the diff media type and its 406, two GraphQL mutations
(draft <-> ready for review), the User-Agent rule, and git over smart HTTP
at /<owner>/<repo>.git (basic auth, the token as the password).

It shares the Gitea double's machinery (gitea_double.py): the seed format
and Store, the fault rules, the request log and the control API, and the
git module githttp.py; see tests/double/README.md.

Usage:
  python3 github_double.py --seed FILE.json [--port 0] [--port-file PATH]
      [--token-file PATH] [--root-url URL] [--latency-ms N]
      [--generate OWNER/REPO:ISSUES:PULLS:COMMENTS ...] [--git-dir DIR]
      [--rate-limit 5000]

Token file: one token per line, optionally followed by the user it belongs
to and a comma list of classic scopes reported in X-OAuth-Scopes ("TOKEN",
"TOKEN alice", "TOKEN alice repo,read:org"); '#' starts a comment.  Without
a token file every request acts as the seed's default user.  With one, a
request without Authorization is anonymous (public reads only, its own
60-request bucket), a bad token is 401 "Bad credentials".
"""

import argparse
import base64
import hashlib
import json
import os
import re
import signal
import struct
import sys
import threading
import time
import urllib.parse

import gitea_double as gd
import githttp
from gitea_double import HTTPError, Reply, SeedError, fmt_time, parse_time

JSON_CT = "application/json; charset=utf-8"
DIFF_CT = "application/vnd.github.diff; charset=utf-8"
PATCH_CT = "application/vnd.github.patch; charset=utf-8"
DOCS = "https://docs.github.com/rest"
MAX_BODY_CHARS = 65536
UA_TEXT = (b"Request forbidden by administrative rules. Please make sure your request has a "
           b"User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api"
           b"#user-agent-required). Check https://developer.github.com for other possible causes.\n")
RATE_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
SECONDARY_MSG = ("You have exceeded a secondary rate limit. Please wait a few minutes before you "
                 "try again. If you reach out to GitHub Support for help, please include the "
                 "request ID %s.")


def jbody(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def jr(status, obj, headers=None):
    return Reply(status, jbody(obj), JSON_CT, headers)


def error(status, message, doc=DOCS, errors=None):
    """GitHub's error body: message, documentation_url, status (a string)."""
    body = {"message": message, "documentation_url": doc}
    if errors is not None:
        body["errors"] = errors
    body["status"] = str(status)
    return HTTPError(jr(status, body))


def validation(doc, *errors):
    return error(422, "Validation Failed", doc, list(errors))


def node_id(prefix, *ids):
    """An opaque, stable GraphQL global id (GitHub's new-style prefix)."""
    raw = b"\x93" + b"".join(struct.pack(">Q", i) for i in ids)
    return prefix + "_kwDO" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


# ------------------------------------------------------------- rate limits ----

class RateLimits:
    """Primary limits per (resource, signed-in) bucket and the secondary
    limit switch.  All fields guarded by self.lock."""

    def __init__(self, limit):
        self.lock = threading.Lock()
        self.default_limit = limit
        self.reset_all()

    def reset_all(self):
        with self.lock:
            self.buckets = {}
            self.status = 403
            self.secondary = None

    def bucket(self, resource, signed):
        key = (resource, signed)
        now = int(time.time())
        b = self.buckets.get(key)
        if b is None or now >= b["reset"]:
            limit = (self.default_limit if signed else 60) if b is None else b["limit"]
            b = self.buckets[key] = {"limit": limit, "used": 0, "reset": now + 3600}
        return b

    def headers(self, b, resource):
        return [("x-ratelimit-limit", str(b["limit"])),
                ("x-ratelimit-remaining", str(max(b["limit"] - b["used"], 0))),
                ("x-ratelimit-reset", str(b["reset"])),
                ("x-ratelimit-used", str(b["used"])),
                ("x-ratelimit-resource", resource)]

    def state(self):
        with self.lock:
            out = {}
            for (res, signed), b in self.buckets.items():
                out["%s%s" % (res, "" if signed else ":anonymous")] = {
                    "limit": b["limit"], "used": b["used"],
                    "remaining": max(b["limit"] - b["used"], 0), "reset": b["reset"]}
            return {"buckets": out, "status": self.status, "secondary": self.secondary}

    def configure(self, obj):
        """The control API's switches; ValueError on bad input."""
        if not isinstance(obj, dict):
            raise ValueError("body must be a JSON object")
        bad = set(obj) - {"resource", "anonymous", "limit", "remaining", "reset", "reset_in",
                          "status", "secondary"}
        if bad:
            raise ValueError("unknown keys %s" % sorted(bad))
        for k in ("limit", "remaining", "reset", "reset_in"):
            v = obj.get(k)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise ValueError("%s must be a non-negative integer" % k)
        if obj.get("status") not in (None, 403, 429):
            raise ValueError("status must be 403 or 429")
        sec = obj.get("secondary")
        if sec is not None:
            if not isinstance(sec, dict) or set(sec) - {"times", "retry_after", "status"}:
                raise ValueError("secondary wants {times, retry_after, status}")
            if sec.get("status", 403) not in (403, 429):
                raise ValueError("secondary status must be 403 or 429")
            for k in ("times", "retry_after"):
                v = sec.get(k)
                if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                    raise ValueError("secondary %s must be a non-negative integer" % k)
        resource = obj.get("resource", "core")
        if resource not in ("core", "graphql"):
            raise ValueError("resource must be core or graphql")
        with self.lock:
            b = self.bucket(resource, not obj.get("anonymous", False))
            if obj.get("limit") is not None:
                b["limit"] = obj["limit"]
            if obj.get("remaining") is not None:
                b["used"] = max(b["limit"] - obj["remaining"], 0)
            if obj.get("reset") is not None:
                b["reset"] = obj["reset"]
            if obj.get("reset_in") is not None:
                b["reset"] = int(time.time()) + obj["reset_in"]
            if obj.get("status") is not None:
                self.status = obj["status"]
            if "secondary" in obj:
                self.secondary = None if sec is None else {
                    "times": sec.get("times"), "retry_after": sec.get("retry_after", 60),
                    "status": sec.get("status", 403)}


# ------------------------------------------------------------------ double ----

def load_github_tokens(path, store):
    """TOKEN [USER [SCOPES]] -> {token: (login, scopes text)}."""
    tokens = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            where = "%s:%d" % (path, n)
            if len(parts) > 3:
                raise SeedError("%s: want TOKEN [USER [SCOPES]]" % where)
            user = store.users.get(parts[1].lower()) if len(parts) >= 2 else store.default_user
            if user is None:
                raise SeedError("%s: unknown user %r" % (where, parts[1] if len(parts) > 1 else ""))
            scopes = parts[2].replace(",", ", ") if len(parts) == 3 else "repo"
            tokens[parts[0]] = (user["login"].lower(), scopes)
    if not tokens:
        raise SeedError("%s: no tokens" % path)
    return tokens


class Double(gd.Double):
    """Server-wide state: the Gitea double's (store, log, faults, git) plus
    rate limits and the diff size limits."""

    def __init__(self, args, seed):
        self.args = args
        self.store = gd.Store(seed, args.generate or [])
        self.tokens = load_github_tokens(args.token_file, self.store) if args.token_file else None
        self.log = []
        self.log_lock = threading.Lock()
        self.faults = []
        self.fault_lock = threading.Lock()
        self.stopping = threading.Event()
        if args.latency_ms:
            self.faults = gd.compile_faults([{"path": ".*", "latency_ms": args.latency_ms}])
        self.rate = RateLimits(args.rate_limit)
        self.diff_limits = {"lines": 20000, "files": 300}
        self.request_no = 0
        self.apply_github_seed()
        self.git = githttp.GitForge(args.git_dir)
        self.store.git = self.git
        self.git.build_all_in_background(self.store)

    def apply_github_seed(self):
        """Seed keys only GitHub has: "diff_too_large" on a pull request
        (its diff answers 406)."""
        for r in self.store.seed.get("repos", []):
            repo = self.store.repo(r.get("owner", ""), r.get("name", ""))
            for i in r.get("issues", []):
                p = i.get("pull") if isinstance(i, dict) else None
                if repo and isinstance(p, dict) and p.get("diff_too_large"):
                    issue = repo["issues"].get(i.get("number")) or next(
                        (x for x in repo["issues"].values() if x["title"] == i.get("title")
                         and x["pull"]), None)
                    if issue and issue["pull"]:
                        issue["pull"]["diff_too_large"] = True

    def reload(self):
        with self.store.lock:
            self.store.load()
            self.apply_github_seed()
            self.git.build_all(self.store)


# -------------------------------------------------------------- rendering ----

class View:
    """GitHub's JSON for the store's objects, for one request."""

    def __init__(self, store, root, viewer):
        self.s = store
        self.root = root          # API base, ends with "/"
        self.viewer = viewer      # store user dict or None (anonymous)

    def api(self, path):
        return self.root + path

    def html(self, path):
        return self.root + path

    def user(self, u):
        if u is None:
            return None
        login = u["login"]
        a = self.api("users/" + login)
        return {
            "login": login, "id": u["id"], "node_id": node_id("U", u["id"]),
            "avatar_url": "https://avatars.example/u/%d?v=4" % u["id"], "gravatar_id": "",
            "url": a, "html_url": self.html(login),
            "followers_url": a + "/followers",
            "following_url": a + "/following{/other_user}",
            "gists_url": a + "/gists{/gist_id}",
            "starred_url": a + "/starred{/owner}{/repo}",
            "subscriptions_url": a + "/subscriptions",
            "organizations_url": a + "/orgs", "repos_url": a + "/repos",
            "events_url": a + "/events{/privacy}",
            "received_events_url": a + "/received_events",
            "type": "Organization" if u["type"] == "org" else "User",
            "user_view_type": "public", "site_admin": False,
        }

    def public_user(self, u):
        out = self.user(u)
        n_public = sum(1 for r in self.s.repos.values() if r["owner"] is u and not r["private"])
        out.update({
            "name": u["full_name"] or None, "company": None, "blog": u["website"],
            "location": u["location"] or None, "email": None, "hireable": None,
            "bio": u["description"] or None, "twitter_username": None,
            "public_repos": n_public, "public_gists": 0, "followers": 0, "following": 0,
            "created_at": fmt_time(u["created"]), "updated_at": fmt_time(u["created"]),
        })
        return out

    def private_user(self, u):
        out = self.public_user(u)
        owned = [r for r in self.s.repos.values() if r["owner"] is u]
        private = sum(1 for r in owned if r["private"])
        out.update({"email": u["email"], "notification_email": u["email"],
                    "private_gists": 0, "total_private_repos": private,
                    "owned_private_repos": private, "disk_usage": 42, "collaborators": 0,
                    "two_factor_authentication": True,
                    "plan": {"name": "free", "space": 976562499, "collaborators": 0,
                             "private_repos": 10000}})
        return out

    def association(self, repo, u):
        if u is None:
            return "NONE"
        key = u["login"].lower()
        owner = repo["owner"]
        if owner["login"].lower() == key:
            return "OWNER"
        if owner["type"] == "org" and key in owner["members"]:
            return "MEMBER"
        if key in repo["collaborators"]:
            return "COLLABORATOR"
        return "NONE"

    def repo(self, r, full=True):
        owner = r["owner"]["login"]
        fn = "%s/%s" % (owner, r["name"])
        a = self.api("repos/" + fn)
        oi = sum(1 for i in r["issues"].values() if i["state"] == "open")
        write = self.s.can_write(r, self.viewer)
        admin = bool(self.viewer and (self.viewer.get("_superuser")
                                      or self.viewer["id"] == r["owner"]["id"]))
        host = urllib.parse.urlsplit(self.root).hostname or "localhost"
        out = {
            "id": r["id"], "node_id": node_id("R", r["id"]), "name": r["name"],
            "full_name": fn, "private": r["private"], "owner": self.user(r["owner"]),
            "html_url": self.html(fn), "description": r["description"] or None,
            "fork": False, "url": a,
            "forks_url": a + "/forks", "keys_url": a + "/keys{/key_id}",
            "collaborators_url": a + "/collaborators{/collaborator}",
            "teams_url": a + "/teams", "hooks_url": a + "/hooks",
            "issue_events_url": a + "/issues/events{/number}", "events_url": a + "/events",
            "assignees_url": a + "/assignees{/user}", "branches_url": a + "/branches{/branch}",
            "tags_url": a + "/tags", "blobs_url": a + "/git/blobs{/sha}",
            "git_tags_url": a + "/git/tags{/sha}", "git_refs_url": a + "/git/refs{/sha}",
            "trees_url": a + "/git/trees{/sha}", "statuses_url": a + "/statuses/{sha}",
            "languages_url": a + "/languages", "stargazers_url": a + "/stargazers",
            "contributors_url": a + "/contributors", "subscribers_url": a + "/subscribers",
            "subscription_url": a + "/subscription", "commits_url": a + "/commits{/sha}",
            "git_commits_url": a + "/git/commits{/sha}", "comments_url": a + "/comments{/number}",
            "issue_comment_url": a + "/issues/comments{/number}",
            "contents_url": a + "/contents/{+path}",
            "compare_url": a + "/compare/{base}...{head}", "merges_url": a + "/merges",
            "archive_url": a + "/{archive_format}{/ref}", "downloads_url": a + "/downloads",
            "issues_url": a + "/issues{/number}", "pulls_url": a + "/pulls{/number}",
            "milestones_url": a + "/milestones{/number}",
            "notifications_url": a + "/notifications{?since,all,participating}",
            "labels_url": a + "/labels{/name}", "releases_url": a + "/releases{/id}",
            "deployments_url": a + "/deployments",
            "created_at": fmt_time(r["created"]), "updated_at": fmt_time(r["updated"]),
            "pushed_at": fmt_time(r["updated"]),
            "git_url": "git://%s/%s.git" % (host, fn), "ssh_url": "git@%s:%s.git" % (host, fn),
            "clone_url": self.html(fn + ".git"), "svn_url": self.html(fn),
            "homepage": r["website"] or None, "size": 42, "stargazers_count": 0,
            "watchers_count": 0, "language": None, "has_issues": True, "has_projects": True,
            "has_downloads": True, "has_wiki": True, "has_pages": False,
            "has_discussions": False, "forks_count": 0, "mirror_url": None,
            "archived": False, "disabled": False, "open_issues_count": oi, "license": None,
            "allow_forking": True, "is_template": False, "web_commit_signoff_required": False,
            "topics": [], "visibility": "private" if r["private"] else "public",
            "forks": 0, "open_issues": oi, "watchers": 0,
            "default_branch": r["default_branch"],
            "permissions": {"admin": admin, "maintain": admin, "push": write,
                            "triage": write, "pull": True},
        }
        if full:
            out.update({
                "temp_clone_token": None, "allow_squash_merge": True, "allow_merge_commit": True,
                "allow_rebase_merge": True, "allow_auto_merge": False,
                "delete_branch_on_merge": False, "allow_update_branch": False,
                "use_squash_pr_title_as_default": False,
                "squash_merge_commit_message": "COMMIT_MESSAGES",
                "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
                "merge_commit_message": "PR_TITLE", "merge_commit_title": "MERGE_MESSAGE",
                "network_count": 0, "subscribers_count": 1,
            })
            if r["owner"]["type"] == "org":
                out["organization"] = self.user(r["owner"])
        return out

    def label(self, lab):
        r = lab["repo"]
        return {"id": lab["id"], "node_id": node_id("LA", lab["id"]),
                "url": self.api("repos/%s/%s/labels/%s" % (
                    r["owner"]["login"], r["name"], urllib.parse.quote(lab["name"], safe=""))),
                "name": lab["name"], "color": lab["color"],
                "default": False, "description": lab["description"] or None}

    def reactions(self, url):
        return {"url": url + "/reactions", "total_count": 0, "+1": 0, "-1": 0, "laugh": 0,
                "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0}

    def issue(self, i, single=False):
        r = i["repo"]
        fn = "%s/%s" % (r["owner"]["login"], r["name"])
        a = self.api("repos/%s/issues/%d" % (fn, i["number"]))
        assignees = [self.user(u) for u in i["assignees"]]
        out = {
            "url": a, "repository_url": self.api("repos/" + fn),
            "labels_url": a + "/labels{/name}", "comments_url": a + "/comments",
            "events_url": a + "/events",
            "html_url": self.html("%s/%s/%d" % (fn, "pull" if i["pull"] else "issues",
                                                i["number"])),
            "id": i["id"], "node_id": node_id("I", r["id"], i["id"]), "number": i["number"],
            "title": i["title"], "user": self.user(i["user"]),
            "labels": [self.label(l) for l in self.s.issue_labels(i)],
            "state": i["state"], "locked": i["locked"],
            "assignee": assignees[0] if assignees else None, "assignees": assignees,
            "milestone": None, "comments": len(i["comment_ids"]),
            "created_at": fmt_time(i["created"]), "updated_at": fmt_time(i["updated"]),
            "closed_at": fmt_time(i["closed"]) if i["state"] == "closed" else None,
            "author_association": self.association(r, i["user"]),
            "active_lock_reason": None, "body": i["body"] or None,
            "reactions": self.reactions(a), "timeline_url": a + "/timeline",
            "performed_via_github_app": None,
            "state_reason": i.get("state_reason") or (
                "completed" if i["state"] == "closed" and not i["pull"] else None),
        }
        if i["pull"]:
            p = i["pull"]
            pa = self.api("repos/%s/pulls/%d" % (fn, i["number"]))
            ph = self.html("%s/pull/%d" % (fn, i["number"]))
            out["draft"] = p["draft"]
            out["pull_request"] = {"url": pa, "html_url": ph, "diff_url": ph + ".diff",
                                   "patch_url": ph + ".patch",
                                   "merged_at": fmt_time(p["merged_at"])}
        if single:
            out["closed_by"] = self.user(i.get("closed_by") or (
                i["repo"]["owner"] if i["state"] == "closed" else None))
        return out

    def pull(self, i, full=True):
        p = i["pull"]
        r = i["repo"]
        owner, name = r["owner"]["login"], r["name"]
        fn = "%s/%s" % (owner, name)
        a = self.api("repos/%s/pulls/%d" % (fn, i["number"]))
        ia = self.api("repos/%s/issues/%d" % (fn, i["number"]))
        h = self.html("%s/pull/%d" % (fn, i["number"]))
        base_sha, head_sha, _ = self.s.git.pull_shas(owner, name, i["number"], p["base"],
                                                     p["head"])
        merge_sha = self.s.git.merge_commit(owner, name, i["number"])
        repo_json = self.repo(r, full=False)
        owner_json = self.user(r["owner"])
        assignees = [self.user(u) for u in i["assignees"]]
        statuses = self.api("repos/%s/statuses/%s" % (fn, head_sha or ""))
        out = {
            "url": a, "id": p["id"], "node_id": node_id("PR", r["id"], p["id"]),
            "html_url": h, "diff_url": h + ".diff", "patch_url": h + ".patch",
            "issue_url": ia, "number": i["number"], "state": i["state"],
            "locked": i["locked"], "title": i["title"], "user": self.user(i["user"]),
            "body": i["body"] or None,
            "created_at": fmt_time(i["created"]), "updated_at": fmt_time(i["updated"]),
            "closed_at": fmt_time(i["closed"]) if i["state"] == "closed" else None,
            "merged_at": fmt_time(p["merged_at"]),
            "merge_commit_sha": merge_sha if p["merged"] else None,
            "assignee": assignees[0] if assignees else None, "assignees": assignees,
            "requested_reviewers": [], "requested_teams": [],
            "labels": [self.label(l) for l in self.s.issue_labels(i)], "milestone": None,
            "draft": p["draft"], "commits_url": a + "/commits",
            "review_comments_url": a + "/comments",
            "review_comment_url": self.api("repos/%s/pulls/comments{/number}" % fn),
            "comments_url": ia + "/comments", "statuses_url": statuses,
            "head": {"label": "%s:%s" % (owner, p["head"]), "ref": p["head"],
                     "sha": head_sha or "", "user": owner_json, "repo": repo_json},
            "base": {"label": "%s:%s" % (owner, p["base"]), "ref": p["base"],
                     "sha": base_sha or "", "user": owner_json, "repo": repo_json},
            "_links": {"self": {"href": a}, "html": {"href": h}, "issue": {"href": ia},
                       "comments": {"href": ia + "/comments"},
                       "review_comments": {"href": a + "/comments"},
                       "review_comment": {"href": self.api(
                           "repos/%s/pulls/comments{/number}" % fn)},
                       "commits": {"href": a + "/commits"}, "statuses": {"href": statuses}},
            "author_association": self.association(r, i["user"]),
            "auto_merge": None, "active_lock_reason": None,
        }
        if full:
            add, dele, files = gd.diff_stats(p["diff"])
            is_open = i["state"] == "open"
            out.update({
                "merged": p["merged"], "mergeable": True if is_open else None,
                "rebaseable": True if is_open else None,
                "mergeable_state": "clean" if is_open else "unknown",
                "merged_by": self.user(p["merged_by"]) if p["merged"] else None,
                "comments": len(i["comment_ids"]), "review_comments": 0,
                "maintainer_can_modify": p["allow_maintainer_edit"],
                "commits": 1, "additions": add, "deletions": dele, "changed_files": files,
            })
        return out

    def comment(self, c):
        i = c["issue"]
        r = i["repo"]
        fn = "%s/%s" % (r["owner"]["login"], r["name"])
        a = self.api("repos/%s/issues/comments/%d" % (fn, c["id"]))
        kind = "pull" if i["pull"] else "issues"
        return {
            "url": a,
            "html_url": self.html("%s/%s/%d#issuecomment-%d" % (fn, kind, i["number"], c["id"])),
            "issue_url": self.api("repos/%s/issues/%d" % (fn, i["number"])),
            "id": c["id"], "node_id": node_id("IC", r["id"], c["id"]),
            "user": self.user(c["user"]),
            "created_at": fmt_time(c["created"]), "updated_at": fmt_time(c["updated"]),
            "author_association": self.association(r, c["user"]), "body": c["body"],
            "reactions": self.reactions(a), "performed_via_github_app": None,
        }

    def branch_short(self, repo, name, sha):
        fn = "%s/%s" % (repo["owner"]["login"], repo["name"])
        return {"name": name, "commit": {"sha": sha, "url": self.api(
            "repos/%s/commits/%s" % (fn, sha))}, "protected": False}

    def commit(self, repo, sha):
        owner, name = repo["owner"]["login"], repo["name"]
        fn = "%s/%s" % (owner, name)
        info = self.s.git.commit_info(owner, name, sha)
        by_email = {u["email"].lower(): u for u in self.s.users.values()}

        def git_user(x):
            return {"name": x["name"], "email": x["email"], "date": fmt_time(x["time"])}

        def gh_user(x):
            u = by_email.get(x["email"].lower())
            return self.user(u) if u else None
        a = self.api("repos/%s/commits/%s" % (fn, sha))
        return {
            "sha": sha, "node_id": node_id("C", repo["id"], int(sha[:12], 16)), "url": a,
            "html_url": self.html("%s/commit/%s" % (fn, sha)), "comments_url": a + "/comments",
            "commit": {
                "url": self.api("repos/%s/git/commits/%s" % (fn, sha)),
                "author": git_user(info["author"]), "committer": git_user(info["committer"]),
                "message": info["message"].rstrip("\n"), "comment_count": 0,
                "tree": {"sha": info["tree"], "url": self.api("repos/%s/git/trees/%s" % (
                    fn, info["tree"]))},
                "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                 "payload": None, "verified_at": None},
            },
            "author": gh_user(info["author"]), "committer": gh_user(info["committer"]),
            "parents": [{"sha": p, "url": self.api("repos/%s/commits/%s" % (fn, p)),
                         "html_url": self.html("%s/commit/%s" % (fn, p))}
                        for p in info["parents"]],
        }

    def branch(self, repo, name, sha):
        fn = "%s/%s" % (repo["owner"]["login"], repo["name"])
        a = self.api("repos/%s/branches/%s" % (fn, name))
        return {"name": name, "commit": self.commit(repo, sha),
                "_links": {"self": a, "html": self.html("%s/tree/%s" % (fn, name))},
                "protected": False,
                "protection": {"enabled": False, "required_status_checks": {
                    "enforcement_level": "off", "contexts": [], "checks": []}},
                "protection_url": a + "/protection"}


# ----------------------------------------------------------------- handler ----

class Handler(gd.Handler):
    server_version = "GitHub.com"
    STANDARD_HEADERS = (("X-Content-Type-Options", "nosniff"),
                        ("X-Frame-Options", "deny"))

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if os.environ.get("GITEA_DOUBLE_VERBOSE"):
            sys.stderr.write("github double: " + (fmt % args) + "\n")

    def fault_payload(self, status):
        return jbody({"message": "injected fault %d" % status, "documentation_url": DOCS,
                      "status": str(status)})

    def root_url(self):
        if self.d.args.root_url:
            r = self.d.args.root_url
            return r if r.endswith("/") else r + "/"
        host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
        return "http://%s/" % host

    def dispatch(self):
        if self.dispatch_git():
            return
        split = urllib.parse.urlsplit(self.path)
        path, query = split.path, split.query
        try:
            body = self.read_body()
        except HTTPError as e:
            self.close_connection = True
            self.send_reply(e.reply)
            return
        if path.startswith("/_double/") or path == "/_double":
            try:
                reply = self.control(self.command, path, body)
            except HTTPError as e:
                reply = e.reply
            self.send_reply(reply)
            return
        self.api_request(path, query, body)

    # -- git
    def git_authorize(self, owner, name, write):
        """GitHub: HTTP basic auth with the token as the password (user name
        x-access-token for app tokens, any user name for personal tokens).
        Anonymous fetches of public repositories work; a push or a private
        repository without credentials is 401 with a Basic challenge; a push
        without write access is 403."""
        d = self.d
        ask = githttp.refuse(401, "Invalid username or token. Password authentication is not "
                                  "supported for Git operations.\n",
                             [("WWW-Authenticate", 'Basic realm="GitHub"')])
        auth = self.headers.get("Authorization")
        viewer = None
        if auth:
            basic = githttp.basic_password(auth)
            if basic is None or not basic[1]:
                raise ask
            if d.tokens is None:
                viewer = dict(d.store.default_user, _superuser=True)
            else:
                entry = d.tokens.get(basic[1])
                if entry is None or entry[0] not in d.store.users:
                    raise ask
                viewer = d.store.users[entry[0]]
        elif d.tokens is None and d.store.default_user:
            viewer = dict(d.store.default_user, _superuser=True)
        with d.store.lock:
            repo = d.store.repo(owner, name)
            if repo is None or not d.git.exists(owner, name) or \
                    (viewer is not None and not d.store.can_read(repo, viewer)):
                if viewer is None:
                    raise ask
                raise githttp.refuse(404, "Repository not found.\n")
            if viewer is None and (write or repo["private"]):
                raise ask
            if write and not d.store.can_write(repo, viewer):
                raise githttp.refuse(403, "Permission to %s/%s.git denied to %s.\n" % (
                    repo["owner"]["login"], repo["name"], viewer["login"]))
        return viewer["login"] if viewer else ""

    # -- control API
    def control(self, method, path, body):
        d = self.d
        if path == "/_double/ratelimit":
            if method == "GET":
                return jr(200, d.rate.state())
            if method == "DELETE":
                d.rate.reset_all()
                return jr(200, {"ok": True})
            if method == "POST":
                try:
                    d.rate.configure(json.loads(body or b"null"))
                except ValueError as e:
                    return jr(400, {"message": str(e)})
                return jr(200, d.rate.state())
        if path == "/_double/diff-limit":
            if method == "GET":
                return jr(200, d.diff_limits)
            if method == "POST":
                try:
                    obj = json.loads(body or b"null")
                    if not isinstance(obj, dict) or set(obj) - {"lines", "files"} or not all(
                            isinstance(v, int) and not isinstance(v, bool) and v >= 0
                            for v in obj.values()):
                        raise ValueError("want {lines, files}: non-negative integers")
                except ValueError as e:
                    return jr(400, {"message": str(e)})
                d.diff_limits.update(obj)
                return jr(200, d.diff_limits)
        return super().control(method, path, body)

    # -- the API
    def authenticate(self):
        """(viewer or None, token scopes) or HTTPError 401."""
        d = self.d
        if d.tokens is None:
            u = d.store.default_user
            return (dict(u, _superuser=True) if u else None), "repo"
        auth = self.headers.get("Authorization")
        if not auth:
            return None, None
        scheme, _, cred = auth.partition(" ")
        entry = d.tokens.get(cred.strip()) if scheme.lower() in ("token", "bearer") else None
        if entry is None or entry[0] not in d.store.users:
            raise error(401, "Bad credentials", DOCS)
        return d.store.users[entry[0]], entry[1]

    def api(self, method, path, query, body):
        d = self.d
        if not self.headers.get("User-Agent"):
            return Reply(403, UA_TEXT, "text/plain; charset=utf-8")
        with d.log_lock:
            d.request_no += 1
            request_id = "D0B1:%04X:%06X" % (os.getpid() & 0xFFFF, d.request_no)
        common = [("X-GitHub-Request-Id", request_id),
                  ("X-GitHub-Api-Version-Selected", "2022-11-28")]
        resource = "graphql" if path == "/graphql" else "core"
        try:
            viewer, scopes = self.authenticate()
        except HTTPError as e:  # not counted, but it shows the anonymous bucket
            with d.rate.lock:
                e.reply.headers = common + e.reply.headers + d.rate.headers(
                    d.rate.bucket(resource, False), resource)
            return e.reply
        signed = viewer is not None
        if scopes is not None:
            common.append(("X-OAuth-Scopes", scopes))
            common.append(("X-Accepted-OAuth-Scopes", ""))
        rate = d.rate
        with rate.lock:
            bucket = rate.bucket(resource, signed)
            sec = rate.secondary
            if sec is not None and sec["times"] != 0:
                if sec["times"] is not None:
                    sec["times"] -= 1
                    if sec["times"] == 0:
                        rate.secondary = None
                hdrs = rate.headers(bucket, resource) + [("retry-after", str(sec["retry_after"]))]
                return jr(sec["status"], {"message": SECONDARY_MSG % request_id,
                                          "documentation_url": RATE_DOCS +
                                          "#about-secondary-rate-limits",
                                          "status": str(sec["status"])}, common + hdrs)
            if bucket["used"] >= bucket["limit"]:
                who = ("user ID %d" % viewer["id"]) if signed else "127.0.0.1"
                msg = "API rate limit exceeded for %s." % who
                if signed:
                    msg += (" If you reach out to GitHub Support for help, please include the "
                            "request ID %s and timestamp %s." % (
                                request_id, time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())))
                else:
                    msg += (" (But here's the good news: Authenticated requests get a higher rate "
                            "limit. Check out the documentation for more details.)")
                return jr(rate.status, {"message": msg, "documentation_url": RATE_DOCS +
                                        "#about-the-primary-rate-limit",
                                        "status": str(rate.status)},
                          common + rate.headers(bucket, resource))
        s = d.store
        try:
            with s.lock:
                view = View(s, self.root_url(), viewer)
                reply = GitHubApi(self, view, s, method, path, query, body).route()
        except HTTPError as e:
            reply = e.reply
        reply.headers = common + list(reply.headers)
        if 200 <= reply.status < 300 and reply.body:
            digest = hashlib.sha256(reply.body).hexdigest()[:32]
            etag = ('W/"%s"' if reply.ctype == JSON_CT else '"%s"') % digest
            reply.headers.append(("ETag", etag))
            if method in ("GET", "HEAD") and reply.status == 200 and \
                    etag_matches(self.headers.get("If-None-Match"), etag):
                with rate.lock:
                    hdrs = rate.headers(rate.bucket(resource, signed), resource)
                return Reply(304, b"", None, common + [("ETag", etag)] + hdrs +
                             cache_headers(signed))
        with rate.lock:
            b = rate.bucket(resource, signed)
            # /rate_limit does not count (documented); a 401 counts nowhere
            if reply.status != 401 and path != "/rate_limit":
                b["used"] += 1
            reply.headers += rate.headers(b, resource)
        if method in ("GET", "HEAD"):
            reply.headers += cache_headers(signed)
        if reply.ctype == JSON_CT:
            reply.headers.append(("X-GitHub-Media-Type", "github.v3; format=json"))
        return reply


def cache_headers(signed):
    return [("Cache-Control", "private, max-age=60, s-maxage=60" if signed
             else "public, max-age=60, s-maxage=60"),
            ("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding")]


def etag_matches(header, etag):
    """If-None-Match against our ETag with the weak comparison (RFC 9110)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    mine = etag[2:] if etag.startswith("W/") else etag
    for tag in header.split(","):
        tag = tag.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == mine:
            return True
    return False


# -------------------------------------------------------------------- API ----

class GitHubApi:
    """One REST (or GraphQL) request against the store (store lock held)."""

    def __init__(self, h, view, store, method, path, query, body):
        self.h, self.v, self.s = h, view, store
        self.method = "GET" if method == "HEAD" else method
        self.path, self.query, self.body = path, query, body
        self.params = urllib.parse.parse_qsl(query, keep_blank_values=True)
        self.q = {}
        for k, v in self.params:
            self.q.setdefault(k, v)
        self.link_base = None

    # -- helpers
    def arg(self, name, default=""):
        return self.q.get(name, default)

    def not_found(self, doc=DOCS):
        return error(404, "Not Found", doc)

    def need_auth(self, doc=DOCS):
        if self.v.viewer is None:
            raise error(401, "Requires authentication", doc)

    def forbid(self, doc=DOCS):
        return error(403, "Resource not accessible by personal access token", doc)

    def json_body(self, doc=DOCS):
        if not self.body:
            return {}
        try:
            obj = json.loads(self.body)
        except ValueError:
            raise error(400, "Problems parsing JSON", doc)
        if not isinstance(obj, dict):
            raise error(400, "Problems parsing JSON", doc)
        return obj

    def paging(self):
        def num(name, default):
            try:
                return int(self.arg(name, str(default)))
            except ValueError:
                return default
        per = num("per_page", 30)
        if per <= 0:
            per = 30
        per = min(per, 100)
        page = max(num("page", 1), 1)
        return page, per

    def paged(self, items, render, base):
        """One page and GitHub's Link header: rels prev, next, last, first
        (only those that apply), ", " between them, the request's query with
        page replaced, URLs in the /repositories/{id} form.  No total count."""
        page, per = self.paging()
        total = len(items)
        last = max(1, -(-total // per))
        chunk = items[(page - 1) * per: page * per]
        headers = []
        if last > 1:
            kept = [(k, v) for k, v in self.params if k != "page"]

            def url(p):
                return "<%s?%s>" % (base, urllib.parse.urlencode(kept + [("page", str(p))]))
            links = []
            if page > 1:
                links.append('%s; rel="prev"' % url(min(page - 1, last)))
            if page < last:
                links.append('%s; rel="next"' % url(page + 1))
                links.append('%s; rel="last"' % url(last))
            if page > 1:
                links.append('%s; rel="first"' % url(1))
            headers.append(("Link", ", ".join(links)))
        return jr(200, [render(x) for x in chunk], headers)

    def time_arg(self, name, resource, doc):
        v = self.arg(name, "")
        if not v:
            return None
        try:
            return parse_time(v)
        except ValueError:
            raise validation(doc, {"resource": resource, "field": name, "code": "invalid"})

    def repo_base(self, repo, rest):
        return self.v.api("repositories/%d%s" % (repo["id"], rest))

    # -- router
    def route(self):
        p, m = self.path, self.method
        if p == "/graphql":
            if m != "POST":
                raise self.not_found()
            return GraphQL(self).run()
        if p == "/rate_limit" and m == "GET":
            return self.rate_limit()
        mt = re.match(r"^/repositories/(\d+)(/.*)?$", p)
        if mt:
            repo = next((r for r in self.s.repos.values() if r["id"] == int(mt.group(1))), None)
            if repo is None or not self.s.can_read(repo, self.v.viewer):
                raise self.not_found()
            return self.repo_routes(repo, mt.group(2) or "")
        mt = re.match(r"^/(user|organizations)/(\d+)/repos$", p)
        if mt:
            u = next((u for u in self.s.users.values() if u["id"] == int(mt.group(2))), None)
            if u is None:
                raise self.not_found()
            return self.owner_repos("users" if mt.group(1) == "user" else "orgs", u)
        if p == "/user":
            if m != "GET":
                raise self.not_found()
            self.need_auth(DOCS + "/users/users#get-the-authenticated-user")
            u = self.s.users[self.v.viewer["login"].lower()]
            return jr(200, self.v.private_user(u))
        mt = re.match(r"^/users/([^/]+)$", p)
        if mt and m == "GET":
            u = self.s.users.get(urllib.parse.unquote(mt.group(1)).lower())
            if u is None:
                raise self.not_found(DOCS + "/users/users#get-a-user")
            return jr(200, self.v.public_user(u))
        mt = re.match(r"^/(users|orgs)/([^/]+)/repos$", p)
        if mt and m == "GET":
            u = self.s.users.get(urllib.parse.unquote(mt.group(2)).lower())
            if u is None or (mt.group(1) == "orgs" and u["type"] != "org"):
                raise self.not_found()
            return self.owner_repos(mt.group(1), u)
        mt = re.match(r"^/repos/([^/]+)/([^/]+)(/.*)?$", p)
        if mt:
            repo = self.s.repo(urllib.parse.unquote(mt.group(1)), urllib.parse.unquote(mt.group(2)))
            if repo is None or not self.s.can_read(repo, self.v.viewer):
                raise self.not_found(DOCS + "/repos/repos#get-a-repository")
            return self.repo_routes(repo, mt.group(3) or "")
        raise self.not_found()

    def rate_limit(self):
        rate = self.h.d.rate
        signed = self.v.viewer is not None
        with rate.lock:
            res = {}
            for name in ("core", "graphql"):
                b = rate.bucket(name, signed)
                res[name] = {"limit": b["limit"], "used": b["used"],
                             "remaining": max(b["limit"] - b["used"], 0), "reset": b["reset"]}
        # not modelled: the search bucket is always full
        res["search"] = {"limit": 30, "used": 0, "remaining": 30, "reset": int(time.time()) + 60}
        return jr(200, {"resources": res, "rate": res["core"]})

    def owner_repos(self, kind, u):
        viewer = self.v.viewer
        if kind == "users":  # "Lists public repositories for the specified user."
            repos = [r for r in self.s.repos.values() if r["owner"] is u and not r["private"]]
            sort, default_dir = self.arg("sort", "full_name"), "asc"
            base = self.v.api("user/%d/repos" % u["id"])
        else:
            repos = [r for r in self.s.repos.values()
                     if r["owner"] is u and self.s.can_read(r, viewer)]
            sort, default_dir = self.arg("sort", "created"), "desc"
            base = self.v.api("organizations/%d/repos" % u["id"])
        if sort == "full_name":
            default_dir = "asc"
            key = lambda r: ("%s/%s" % (r["owner"]["login"], r["name"])).lower()
        elif sort in ("updated", "pushed"):
            key = lambda r: (r["updated"], r["id"])
        else:
            key = lambda r: (r["created"], r["id"])
        repos.sort(key=key, reverse=self.arg("direction", default_dir) == "desc")
        return self.paged(repos, lambda r: self.v.repo(r, full=False), base)

    def repo_routes(self, repo, rest):
        m = self.method
        if rest == "":
            if m != "GET":
                raise self.not_found()
            return jr(200, self.v.repo(repo))
        if rest == "/issues" and m == "GET":
            return self.list_issues(repo)
        if rest == "/issues/comments" and m == "GET":
            return self.list_repo_comments(repo)
        mt = re.match(r"^/issues/comments/(\d+)$", rest)
        if mt and m == "GET":
            c = self.s.comments.get(int(mt.group(1)))
            if c is None or c["issue"]["repo"] is not repo:
                raise self.not_found(DOCS + "/issues/comments#get-an-issue-comment")
            return jr(200, self.v.comment(c))
        mt = re.match(r"^/issues/(\d+)(/comments|/labels)?$", rest)
        if mt:
            issue = repo["issues"].get(int(mt.group(1)))
            if issue is None:
                raise self.not_found(DOCS + "/issues/issues#get-an-issue")
            sub = mt.group(2)
            if sub is None and m == "GET":
                return jr(200, self.v.issue(issue, single=True))
            if sub is None and m == "PATCH":
                return self.edit(repo, issue, pull=False)
            if sub == "/comments" and m == "GET":
                return self.list_issue_comments(repo, issue)
            if sub == "/comments" and m == "POST":
                return self.create_comment(repo, issue)
            if sub == "/labels" and m == "GET":
                return self.paged(self.s.issue_labels(issue), self.v.label,
                                  self.repo_base(repo, rest))
            if sub == "/labels" and m == "PUT":
                return self.set_labels(repo, issue)
            raise self.not_found()
        if rest == "/labels" and m == "GET":
            labs = sorted(repo["labels"], key=lambda l: (l["name"].lower(), l["id"]))
            return self.paged(labs, self.v.label, self.repo_base(repo, rest))
        if rest == "/pulls":
            if m == "GET":
                return self.list_pulls(repo)
            if m == "POST":
                return self.create_pull(repo)
        mt = re.match(r"^/pulls/(\d+)$", rest)
        if mt:
            issue = repo["issues"].get(int(mt.group(1)))
            if issue is None or not issue["pull"]:
                raise self.not_found(DOCS + "/pulls/pulls#get-a-pull-request")
            if m == "GET":
                return self.get_pull(repo, issue)
            if m == "PATCH":
                return self.edit(repo, issue, pull=True)
        if rest == "/branches" and m == "GET":
            git = self.s.git
            heads = git.branches(repo["owner"]["login"], repo["name"])
            items = sorted(heads.items())
            if self.arg("protected") == "true":
                items = []
            return self.paged(items, lambda x: self.v.branch_short(repo, x[0], x[1]),
                              self.repo_base(repo, rest))
        mt = re.match(r"^/branches/(.+)$", rest)
        if mt and m == "GET":
            b = urllib.parse.unquote(mt.group(1))
            heads = self.s.git.branches(repo["owner"]["login"], repo["name"])
            if b not in heads:
                raise error(404, "Branch not found", DOCS + "/branches/branches#get-a-branch")
            return jr(200, self.v.branch(repo, b, heads[b]))
        raise self.not_found()

    # -- lists
    def list_issues(self, repo):
        doc = DOCS + "/issues/issues#list-repository-issues"
        state = self.arg("state", "open")
        if state not in ("open", "closed", "all"):
            raise validation(doc, {"resource": "Issue", "field": "state", "code": "invalid"})
        since = self.time_arg("since", "Issue", doc)
        labels = [n.strip() for n in self.arg("labels", "").split(",") if n.strip()]
        creator = self.arg("creator", "").lower()
        assignee = self.arg("assignee", "")
        items = []
        for i in repo["issues"].values():
            if state != "all" and i["state"] != state:
                continue
            if since is not None and i["updated"] < since:
                continue
            if labels:
                names = {l["name"].lower() for l in self.s.issue_labels(i)}
                if not all(n.lower() in names for n in labels):
                    continue
            if creator and i["user"]["login"].lower() != creator:
                continue
            if assignee == "none" and i["assignees"]:
                continue
            if assignee not in ("", "*", "none") and assignee.lower() not in \
                    [a["login"].lower() for a in i["assignees"]]:
                continue
            if assignee == "*" and not i["assignees"]:
                continue
            items.append(i)
        sort = self.arg("sort", "created")
        if sort == "updated":
            key = lambda i: (i["updated"], i["id"])
        elif sort == "comments":
            key = lambda i: (len(i["comment_ids"]), i["id"])
        else:
            key = lambda i: (i["created"], i["id"])
        items.sort(key=key, reverse=self.arg("direction", "desc") != "asc")
        return self.paged(items, self.v.issue, self.repo_base(repo, "/issues"))

    def list_repo_comments(self, repo):
        doc = DOCS + "/issues/comments#list-issue-comments-for-a-repository"
        since = self.time_arg("since", "IssueComment", doc)
        items = [c for i in repo["issues"].values() for c in
                 (self.s.comments[cid] for cid in i["comment_ids"])
                 if since is None or c["updated"] >= since]
        sort = self.arg("sort", "")
        if sort == "updated":
            key = lambda c: (c["updated"], c["id"])
        else:
            key = lambda c: (c["created"], c["id"])
        desc = bool(sort) and self.arg("direction", "desc") == "desc"
        items.sort(key=key, reverse=desc)
        return self.paged(items, self.v.comment, self.repo_base(repo, "/issues/comments"))

    def list_issue_comments(self, repo, issue):
        since = self.time_arg("since", "IssueComment",
                              DOCS + "/issues/comments#list-issue-comments")
        items = [self.s.comments[cid] for cid in issue["comment_ids"]]
        items = [c for c in items if since is None or c["updated"] >= since]
        items.sort(key=lambda c: c["id"])
        return self.paged(items, self.v.comment,
                          self.repo_base(repo, "/issues/%d/comments" % issue["number"]))

    def list_pulls(self, repo):
        doc = DOCS + "/pulls/pulls#list-pull-requests"
        state = self.arg("state", "open")
        if state not in ("open", "closed", "all"):
            raise validation(doc, {"resource": "PullRequest", "field": "state", "code": "invalid"})
        head = self.arg("head", "")
        base = self.arg("base", "")
        items = []
        for i in repo["issues"].values():
            p = i["pull"]
            if not p or (state != "all" and i["state"] != state):
                continue
            if head:
                who, _, ref = head.partition(":")
                if (ref and (who.lower() != repo["owner"]["login"].lower() or ref != p["head"])) \
                        or (not ref and who.lower() != repo["owner"]["login"].lower()):
                    continue
            if base and p["base"] != base:
                continue
            items.append(i)
        sort = self.arg("sort", "created")
        if sort == "updated":
            key = lambda i: (i["updated"], i["id"])
        elif sort == "long-running":
            key = lambda i: (-i["created"], i["id"])
        else:
            key = lambda i: (i["created"], i["id"])
        default_dir = "desc" if sort in ("created", "") else "asc"
        items.sort(key=key, reverse=self.arg("direction", default_dir) == "desc")
        return self.paged(items, lambda i: self.v.pull(i, full=False),
                          self.repo_base(repo, "/pulls"))

    def get_pull(self, repo, issue):
        doc = DOCS + "/pulls/pulls#get-a-pull-request"
        accept = (self.h.headers.get("Accept") or "").lower()
        kinds = [a.split(";")[0].strip() for a in accept.split(",")]
        kind = next((k for k in kinds if k in ("application/vnd.github.diff",
                                                "application/vnd.github.v3.diff",
                                                "application/vnd.github.patch",
                                                "application/vnd.github.v3.patch")), None)
        if kind is None:
            return jr(200, self.v.pull(issue))
        p = issue["pull"]
        lines = p["diff"].count("\n")
        _, _, files = gd.diff_stats(p["diff"])
        lim = self.h.d.diff_limits
        if p.get("diff_too_large") or files > lim["files"]:
            raise error(406, "Sorry, the diff exceeded the maximum number of files (%d). Consider "
                             "using 'List pull requests files' API or locally cloning the "
                             "repository instead." % lim["files"], doc,
                        [{"resource": "PullRequest", "field": "diff", "code": "too_large"}])
        if lines > lim["lines"]:
            raise error(406, "Sorry, the diff exceeded the maximum number of lines (%d). Consider "
                             "using 'List pull requests files' API or locally cloning the "
                             "repository instead." % lim["lines"], doc,
                        [{"resource": "PullRequest", "field": "diff", "code": "too_large"}])
        if kind.endswith("patch"):
            u = issue["user"]
            text = ("From %s Mon Sep 17 00:00:00 2001\nFrom: %s <%s>\nDate: %s\n"
                    "Subject: [PATCH] %s\n\n---\n" % (
                        gd.sha_of("patch:%d" % issue["id"]), u["full_name"] or u["login"],
                        u["email"], time.strftime("%a, %d %b %Y %H:%M:%S +0000",
                                                  time.gmtime(issue["created"])),
                        issue["title"])) + p["diff"]
            return Reply(200, text.encode(), PATCH_CT)
        return Reply(200, p["diff"].encode(), DIFF_CT)

    # -- writes
    def check_body(self, body, resource, doc):
        if body is not None and not isinstance(body, str):
            raise validation(doc, {"resource": resource, "field": "body", "code": "invalid"})
        if body is not None and len(body) > MAX_BODY_CHARS:  # characters, not bytes
            raise validation(doc, {"resource": resource, "code": "custom", "field": "body",
                                   "message": "body is too long (maximum is %d characters)"
                                   % MAX_BODY_CHARS})

    def may_edit(self, repo, issue):
        viewer = self.v.viewer
        if self.s.can_write(repo, viewer):
            return True
        return viewer is not None and issue["user"]["login"].lower() == viewer["login"].lower()

    def edit(self, repo, issue, pull):
        doc = DOCS + ("/pulls/pulls#update-a-pull-request" if pull
                      else "/issues/issues#update-an-issue")
        resource = "PullRequest" if pull else "Issue"
        self.need_auth(doc)
        form = self.json_body(doc)
        if not self.may_edit(repo, issue):
            raise self.forbid(doc)
        title = form.get("title")
        if title is not None and (not isinstance(title, str) or (pull and not title.strip())):
            raise validation(doc, {"resource": resource, "field": "title", "code": "invalid"})
        body = form.get("body")
        self.check_body(body, resource, doc)
        state = form.get("state")
        if state is not None and state not in ("open", "closed"):
            raise validation(doc, {"resource": resource, "field": "state", "code": "invalid"})
        reason = form.get("state_reason")
        if reason is not None and reason not in ("completed", "not_planned", "reopened",
                                                 "duplicate"):
            raise validation(doc, {"resource": resource, "field": "state_reason",
                                   "code": "invalid"})
        if pull and state == "open" and issue["pull"]["merged"]:
            raise validation(doc, {"resource": resource, "code": "custom", "field": "state",
                                   "message": "state cannot be changed. The pull request "
                                              "has been merged."})
        labels = form.get("labels") if not pull else None
        now = self.s.now()
        changed = False
        if title is not None and title != issue["title"]:
            issue["title"] = title
            changed = True
        if body is not None and body != issue["body"]:
            issue["body"] = body
            issue["content_version"] += 1
            changed = True
        if state is not None and state != issue["state"]:
            issue["state"] = state
            issue["closed"] = now if state == "closed" else None
            issue["closed_by"] = self.s.users[self.v.viewer["login"].lower()] \
                if state == "closed" else None
            issue["state_reason"] = (reason or "completed") if state == "closed" else "reopened"
            changed = True
        if labels is not None:
            changed = self.apply_labels(repo, issue, labels, doc) or changed
        if changed:
            self.s.touch(issue, now)
        return jr(200, self.v.pull(issue) if pull else self.v.issue(issue, single=True))

    def apply_labels(self, repo, issue, names, doc):
        """Replace the labels by names (GitHub creates unknown ones)."""
        if not isinstance(names, list):
            raise validation(doc, {"resource": "Issue", "field": "labels", "code": "invalid"})
        ids = []
        for n in names:
            if isinstance(n, dict):
                n = n.get("name")
            if not isinstance(n, str) or not n.strip():
                raise validation(doc, {"resource": "Label", "field": "name", "code": "invalid"})
            lab = next((l for l in repo["labels"] if l["name"].lower() == n.lower()), None)
            if lab is None:
                lab = self.s.add_label(repo, {"name": n})
            if lab["id"] not in ids:
                ids.append(lab["id"])
        if sorted(ids) == sorted(issue["labels"]):
            return False
        issue["labels"] = ids
        return True

    def set_labels(self, repo, issue):
        doc = DOCS + "/issues/labels#set-labels-for-an-issue"
        self.need_auth(doc)
        if not self.s.can_write(repo, self.v.viewer):
            raise self.forbid(doc)
        try:
            obj = json.loads(self.body) if self.body else {}
        except ValueError:
            raise error(400, "Problems parsing JSON", doc)
        names = obj.get("labels", []) if isinstance(obj, dict) else obj
        if self.apply_labels(repo, issue, names, doc):
            self.s.touch(issue, self.s.now())
        return jr(200, [self.v.label(l) for l in self.s.issue_labels(issue)])

    def create_comment(self, repo, issue):
        doc = DOCS + "/issues/comments#create-an-issue-comment"
        self.need_auth(doc)
        form = self.json_body(doc)
        body = form.get("body")
        if not isinstance(body, str) or not body:
            raise validation(doc, {"resource": "IssueComment", "code": "missing_field",
                                   "field": "body"})
        self.check_body(body, "IssueComment", doc)
        if issue["locked"] and not self.s.can_write(repo, self.v.viewer):
            raise self.forbid(doc)
        now = self.s.now()
        author = self.s.users[self.v.viewer["login"].lower()]
        c = self.s.new_comment(issue, author, body, now, now)
        self.s.touch(issue, now)
        return jr(201, self.v.comment(c))

    def create_pull(self, repo):
        doc = DOCS + "/pulls/pulls#create-a-pull-request"
        self.need_auth(doc)
        form = self.json_body(doc)
        if not self.s.can_read(repo, self.v.viewer):
            raise self.not_found(doc)
        for f in ("head", "base"):
            if not isinstance(form.get(f), str) or not form.get(f):
                raise validation(doc, {"resource": "PullRequest", "code": "missing_field",
                                       "field": f})
        title = form.get("title")
        if not isinstance(title, str) or not title.strip():
            raise validation(doc, {"resource": "PullRequest", "code": "missing_field",
                                   "field": "title"})
        body = form.get("body")
        self.check_body(body, "PullRequest", doc)
        draft = form.get("draft", False)
        if not isinstance(draft, bool):
            raise validation(doc, {"resource": "PullRequest", "field": "draft", "code": "invalid"})
        owner, name = repo["owner"]["login"], repo["name"]
        head = form["head"]
        if ":" in head:
            who, _, head = head.partition(":")
            if who.lower() != owner.lower():
                raise validation(doc, {"resource": "PullRequest", "field": "head",
                                       "code": "invalid"})
        base = form["base"]
        heads = self.s.git.branches(owner, name)
        if head not in heads:
            raise validation(doc, {"resource": "PullRequest", "field": "head", "code": "invalid"})
        if base not in heads:
            raise validation(doc, {"resource": "PullRequest", "field": "base", "code": "invalid"})
        for i in repo["issues"].values():
            p = i["pull"]
            if p and i["state"] == "open" and p["head"] == head and p["base"] == base:
                raise validation(doc, {"resource": "PullRequest", "code": "custom",
                                       "message": "A pull request already exists for %s:%s."
                                       % (owner, head)})
        diff = self.s.git.diff(owner, name, base, head)
        # GitHub counts commits, not changes: an empty commit is one.
        if head == base or not self.s.git.ahead(owner, name, base, head):
            raise validation(doc, {"resource": "PullRequest", "code": "custom",
                                   "message": "No commits between %s and %s" % (base, head)})
        now = self.s.now()
        number = repo["next_number"]
        repo["next_number"] += 1
        author = self.s.users[self.v.viewer["login"].lower()]
        issue = {
            "id": self.s.next_issue_id, "number": number, "repo": repo, "title": title,
            "body": body or "", "user": author, "state": "open", "created": now,
            "updated": now, "closed": None, "labels": [], "assignees": [], "locked": False,
            "due_date": None, "content_version": 0, "comment_ids": [], "pull": None,
        }
        self.s.next_issue_id += 1
        issue["pull"] = {
            "id": self.s.alloc_pr_id(issue["id"]), "head": head, "base": base,
            "merged": False, "merged_at": None, "merged_by": None, "draft": draft,
            "diff": diff, "git_diff": True,
            "allow_maintainer_edit": bool(form.get("maintainer_can_modify", True)),
        }
        repo["issues"][number] = issue
        self.s.git.sync_pull_refs(owner, name, [(number, head)])
        self.s.touch(issue, now)
        return jr(201, self.v.pull(issue), [("Location", self.v.api(
            "repos/%s/%s/pulls/%d" % (owner, name, number)))])


# ---------------------------------------------------------------- GraphQL ----

class GraphQLError(Exception):
    def __init__(self, message, line=1, column=1, **extra):
        super().__init__(message)
        self.body = {"message": message, "locations": [{"line": line, "column": column}]}
        self.body.update(extra)


_TOKEN_RE = re.compile(r'\s+|,|#[^\n]*|(?P<p>[{}()\[\]:!$=@])|(?P<s>"(?:[^"\\]|\\.)*")'
                       r'|(?P<n>-?\d+(?:\.\d+)?)|(?P<i>[_A-Za-z][_0-9A-Za-z]*)|(?P<dots>\.\.\.)')


def gql_tokens(text):
    out = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            line = text.count("\n", 0, pos) + 1
            col = pos - (text.rfind("\n", 0, pos) + 1) + 1
            raise GraphQLError("Parse error on \"%s\" (error) at [%d, %d]" % (
                text[pos], line, col), line, col)
        kind = m.lastgroup
        if kind:
            line = text.count("\n", 0, pos) + 1
            col = pos - (text.rfind("\n", 0, pos) + 1) + 1
            out.append((kind, m.group(kind), line, col))
        pos = m.end()
    return out


class GQLParser:
    """Just enough GraphQL: one operation, fields with aliases, arguments
    (variables, strings, numbers, booleans, null, enums, objects, lists)
    and nested selection sets.  Fragments and directives are parse errors."""

    def __init__(self, text):
        self.t = gql_tokens(text)
        self.k = 0

    def peek(self):
        return self.t[self.k] if self.k < len(self.t) else ("eof", "", 1, 1)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if tok[0] == "eof" or (kind and tok[0] != kind) or (value and tok[1] != value):
            shown = "end of file" if tok[0] == "eof" else tok[1]
            label = {"p": "PUNCT", "s": "STRING", "n": "INT", "i": "IDENTIFIER"}.get(tok[0], "EOF")
            raise GraphQLError('Parse error on "%s" (%s) at [%d, %d]' % (
                shown, label, tok[2], tok[3]), tok[2], tok[3])
        self.k += 1
        return tok

    def document(self):
        tok = self.peek()
        op = "query"
        if tok[0] == "i" and tok[1] in ("query", "mutation", "subscription"):
            op = self.take()[1]
            if self.peek()[0] == "i":
                self.take()
            if self.peek()[1] == "(":
                self.take("p", "(")
                while self.peek()[1] != ")":
                    self.take("p", "$")
                    self.take("i")
                    self.take("p", ":")
                    self.type_ref()
                    if self.peek()[1] == "=":
                        self.take()
                        self.value()
                self.take("p", ")")
        sel = self.selection_set()
        if self.peek()[0] != "eof":
            self.take("eof")
        return op, sel

    def type_ref(self):
        if self.peek()[1] == "[":
            self.take()
            self.type_ref()
            self.take("p", "]")
        else:
            self.take("i")
        if self.peek()[1] == "!":
            self.take()

    def selection_set(self):
        self.take("p", "{")
        out = []
        while self.peek()[1] != "}":
            tok = self.take("i")
            alias, name = tok[1], tok[1]
            if self.peek()[1] == ":":
                self.take()
                name = self.take("i")[1]
            args = {}
            if self.peek()[1] == "(":
                self.take()
                while self.peek()[1] != ")":
                    an = self.take("i")[1]
                    self.take("p", ":")
                    args[an] = self.value()
                self.take("p", ")")
            sub = self.selection_set() if self.peek()[1] == "{" else None
            out.append({"alias": alias, "name": name, "args": args, "sel": sub,
                        "line": tok[2], "col": tok[3]})
        self.take("p", "}")
        return out

    def value(self):
        tok = self.peek()
        if tok[1] == "$":
            self.take()
            return ("var", self.take("i")[1])
        if tok[0] == "s":
            self.take()
            return json.loads(tok[1])
        if tok[0] == "n":
            self.take()
            return float(tok[1]) if "." in tok[1] else int(tok[1])
        if tok[0] == "i":
            self.take()
            return {"true": True, "false": False, "null": None}.get(tok[1], tok[1])
        if tok[1] == "{":
            self.take()
            obj = {}
            while self.peek()[1] != "}":
                k = self.take("i")[1]
                self.take("p", ":")
                obj[k] = self.value()
            self.take()
            return obj
        if tok[1] == "[":
            self.take()
            arr = []
            while self.peek()[1] != "]":
                arr.append(self.value())
            self.take()
            return arr
        return self.take("eof")


def gql_resolve(value, variables):
    if isinstance(value, tuple) and value[0] == "var":
        return variables.get(value[1])
    if isinstance(value, dict):
        return {k: gql_resolve(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [gql_resolve(v, variables) for v in value]
    return value


class GraphQL:
    """POST /graphql serving exactly convertPullRequestToDraft and
    markPullRequestReadyForReview; anything else is the error GitHub gives
    for a field that does not exist."""

    MUTATIONS = ("convertPullRequestToDraft", "markPullRequestReadyForReview")
    DOC = "https://docs.github.com/graphql"

    def __init__(self, api):
        self.a = api

    def run(self):
        a = self.a
        if a.v.viewer is None:
            raise HTTPError(jr(401, {"message": "This endpoint requires you to be authenticated.",
                                     "documentation_url": "https://docs.github.com/graphql/"
                                     "guides/forming-calls-with-graphql#authenticating-with-graphql"}))
        try:
            req = json.loads(a.body or b"")
        except ValueError:
            raise HTTPError(jr(400, {"message": "Problems parsing JSON",
                                     "documentation_url": self.DOC}))
        if not isinstance(req, dict) or not isinstance(req.get("query"), str):
            return jr(200, {"errors": [{"message": "A query attribute must be specified and "
                                                   "must be a string."}]})
        variables = req.get("variables") or {}
        if not isinstance(variables, dict):
            return jr(200, {"errors": [{"message": "Variables are invalid JSON."}]})
        try:
            op, sel = GQLParser(req["query"]).document()
        except GraphQLError as e:
            return jr(200, {"errors": [e.body]})
        type_name = {"query": "Query", "mutation": "Mutation"}.get(op, "Subscription")
        errors = []
        for f in sel:
            if op != "mutation" or f["name"] not in self.MUTATIONS:
                errors.append({"path": [op, f["alias"]],
                               "extensions": {"code": "undefinedField", "typeName": type_name,
                                              "fieldName": f["name"]},
                               "locations": [{"line": f["line"], "column": f["col"]}],
                               "message": "Field '%s' doesn't exist on type '%s'" % (
                                   f["name"], type_name)})
        if errors:
            return jr(200, {"errors": errors})
        data = {}
        for f in sel:
            try:
                data[f["alias"]] = self.mutation(f, variables)
            except GraphQLError as e:
                data[f["alias"]] = None
                errors.append(e.body)
        out = {"data": data}
        if errors:
            out["errors"] = errors
        return jr(200, out)

    def mutation(self, f, variables):
        args = gql_resolve(f["args"], variables)
        inp = args.get("input")
        loc = {"line": f["line"], "column": f["col"]}
        if not isinstance(inp, dict) or not isinstance(inp.get("pullRequestId"), str):
            raise GraphQLError("Argument 'input' on Field '%s' has an invalid value. Expected "
                               "type '%sInput!'." % (f["name"], f["name"][0].upper() + f["name"][1:]),
                               loc["line"], loc["column"], path=[f["alias"]],
                               extensions={"code": "argumentLiteralsIncompatible"})
        pid = inp["pullRequestId"]
        a = self.a
        found = None
        for r in a.s.repos.values():
            for i in r["issues"].values():
                if i["pull"] and node_id("PR", r["id"], i["pull"]["id"]) == pid:
                    found = i
        if found is None or not a.s.can_read(found["repo"], a.v.viewer):
            raise GraphQLError("Could not resolve to a node with the global id of '%s'" % pid,
                               loc["line"], loc["column"], type="NOT_FOUND", path=[f["alias"]])
        if not a.s.can_write(found["repo"], a.v.viewer) and \
                found["user"]["login"].lower() != a.v.viewer["login"].lower():
            raise GraphQLError("%s does not have permission to update this pull request." %
                               a.v.viewer["login"], loc["line"], loc["column"],
                               type="FORBIDDEN", path=[f["alias"]])
        want = f["name"] == "convertPullRequestToDraft"
        if found["state"] != "open":
            raise GraphQLError("Pull request is closed", loc["line"], loc["column"],
                               type="UNPROCESSABLE", path=[f["alias"]])
        if found["pull"]["draft"] != want:
            found["pull"]["draft"] = want
            a.s.touch(found, a.s.now())
        return self.select(found, f["sel"] or [], args, inp)

    def select(self, issue, sel, args, inp):
        out = {}
        for f in sel:
            if f["name"] == "clientMutationId":
                out[f["alias"]] = inp.get("clientMutationId")
            elif f["name"] == "pullRequest":
                out[f["alias"]] = self.pr_fields(issue, f["sel"] or [])
            elif f["name"] == "__typename":
                out[f["alias"]] = "ConvertPullRequestToDraftPayload"
            else:
                raise GraphQLError("Field '%s' doesn't exist on type 'Payload'" % f["name"],
                                   f["line"], f["col"])
        return out

    def pr_fields(self, issue, sel):
        v = self.a.v
        r = issue["repo"]
        values = {"id": node_id("PR", r["id"], issue["pull"]["id"]), "isDraft": issue["pull"]["draft"],
                  "number": issue["number"], "title": issue["title"], "state": (
                      "MERGED" if issue["pull"]["merged"] else issue["state"].upper()),
                  "url": v.html("%s/%s/pull/%d" % (r["owner"]["login"], r["name"], issue["number"])),
                  "__typename": "PullRequest"}
        out = {}
        for f in sel:
            if f["name"] not in values:
                raise GraphQLError("Field '%s' doesn't exist on type 'PullRequest'" % f["name"],
                                   f["line"], f["col"])
            out[f["alias"]] = values[f["name"]]
        return out


# -------------------------------------------------------------------- main ----

def parse_args(argv):
    ap = argparse.ArgumentParser(description="Stateful GitHub REST API test double")
    ap.add_argument("--seed", required=True, help="seed JSON file (the Gitea double's format)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--token-file")
    ap.add_argument("--root-url", help="base of every URL the double prints (API, html, git)")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--generate", action="append", metavar="OWNER/REPO:ISSUES:PULLS:COMMENTS")
    ap.add_argument("--git-dir", help="where the bare repositories go (default: a temp dir "
                                      "removed at exit)")
    ap.add_argument("--rate-limit", type=int, default=5000,
                    help="primary limit per hour for signed-in requests")
    args = ap.parse_args(argv)
    if args.latency_ms < 0 or args.rate_limit < 0:
        ap.error("numbers must not be negative")
    return args


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    try:
        with open(args.seed, encoding="utf-8") as f:
            seed = json.load(f)
        double = Double(args, seed)
    except (OSError, ValueError, SeedError, githttp.GitError) as e:
        sys.stderr.write("github_double: %s\n" % e)
        return 2
    try:
        server = gd.Server(("127.0.0.1", args.port), Handler)
    except OSError as e:
        double.git.cleanup()
        sys.stderr.write("github_double: %s\n" % e)
        return 2
    server.double = double

    def stop(signum, frame):
        double.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    port = server.server_address[1]
    if args.port_file:
        gd.write_port_file(args.port_file, port)
    sys.stderr.write("github_double: listening on 127.0.0.1:%d\n" % port)
    sys.stderr.write("github_double: git repositories in %s\n" % double.git.root)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        double.stopping.set()
        server.server_close()
        double.git.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
