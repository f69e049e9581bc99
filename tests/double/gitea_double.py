#!/usr/bin/env python3
"""Stateful Gitea 1.26 test double for bottlefs (Python 3 standard library only).

It serves the part of Gitea's REST API v1 that bottlefs uses, with the JSON
shapes Gitea sends and the behaviours listed in tests/contract/gitea/FACTS.md
(paging clamp, X-Total-Count, Link only with more than one page, the 500 quirk
on comments of a missing number, 201 on PATCH, ...), plus a control API under
/_double/ for tests: request log, fault injection, stored state, reset.

Usage:
  python3 gitea_double.py --seed FILE.json [--port 0] [--port-file PATH]
      [--token-file PATH] [--root-url URL] [--latency-ms N]
      [--generate OWNER/REPO:ISSUES:PULLS:COMMENTS_PER_ISSUE ...]
      [--git-dir DIR]

Seed file (JSON object; every key optional except where noted):

  {
    "default_user": "alice",           # who acts when there is no token file
                                       # (default: first user); acts as admin
    "epoch": "2026-01-01T00:00:00Z",   # base time for items without times
    "users": [
      {"login": "alice",               # required
       "full_name": "Alice", "email": "alice@example.com",
       "type": "user" | "org",         # default "user"
       "members": ["alice"],           # org only: who may read/write its repos
       "is_admin": false, "created": "2025-12-01T00:00:00Z",
       "description": "", "location": "", "website": ""}
    ],
    "repos": [
      {"owner": "alice", "name": "dotfiles",        # required; owner must exist
       "private": false, "description": "", "default_branch": "main",
       "created": "...", "collaborators": ["bob"],
       "branches": ["main", "fix-x"] | {"main": {"files": {"README.md": "..."}},
                                        "fix-x": {"diff": "..."}},
       "labels": [{"name": "bug", "color": "ee0701", "description": "",
                   "exclusive": false}],
       "issues": [                       # issues AND pull requests, one
         {"number": 1,                   # number sequence (default: next)
          "title": "...", "body": "...", "user": "alice",
          "state": "open" | "closed", "created": "...", "updated": "...",
          "closed": "...", "labels": ["bug"], "assignees": ["bob"],
          "locked": false, "due_date": null,
          "comments": [{"user": "bob", "body": "...", "created": "...",
                        "updated": "..."}],
          "pull": {"head": "fix-x", "base": "main", "merged": false,
                   "merged_at": null, "merged_by": null, "draft": false,
                   "diff": "diff --git ..."}}   # present => a pull request
       ],
       "generate": {"issues": 100, "pulls": 30, "comments_per_issue": 2,
                    "comment_every": 1, "closed_every": 4}
      }
    ]
  }

Times are RFC 3339; missing times are derived from "epoch" so the data is
deterministic.  "updated" defaults to the latest of created, closed and the
last comment.  A branch listed by name only gets a synthetic diff.  A repo
named by --generate (or a seed "generate" block) gets synthetic issues and
pull requests appended after the seeded numbers: item k is a pull request
when it falls on an evenly spaced slot, closed when k % closed_every == 0,
and gets comments_per_issue comments when k % comment_every == 0.

Token file: one token per line, optionally followed by a user login and a
scope list ("TOKEN", "TOKEN alice", "TOKEN alice read:issue,read:repository";
default scope "all"); '#' starts a comment.  With a token file every
/api/v1 request needs "Authorization: token T" or "Bearer T"; a private
repository is readable only by its owner, collaborators, org members and
admins; a write without write access is 403 with an empty body.

Git over smart HTTP (githttp.py): every repository is also a bare git
repository served at ROOT/<owner>/<repo>.git (the default branch with its
"files", one commit per other branch applying its diff); the branch API
and POST /pulls read its refs.

Control API (not under /api/v1): see tests/double/README.md.
"""

import argparse
import calendar
import copy
import hashlib
import json
import os
import random
import re
import select
import signal
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import githttp

MAX_BODY = 8 * 1024 * 1024
CACHE_CONTROL = "max-age=0, private, must-revalidate"
JSON_CT = "application/json;charset=utf-8"



# Gitea's default [repository.pull-request] WORK_IN_PROGRESS_PREFIXES.
WIP_PREFIX = re.compile(r"^\s*(WIP:|\[WIP\])", re.I)

class SeedError(Exception):
    pass


# ---------------------------------------------------------------- times ----

def fmt_time(ts):
    """Epoch seconds -> RFC 3339 in UTC with 'Z' (how Gitea prints in UTC)."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


_TIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"([Zz]|[+-]\d{2}:\d{2})$")


def parse_time(text):
    """RFC 3339 -> epoch seconds (fraction dropped); ValueError if malformed."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    m = _TIME_RE.match(text)
    if not m:
        raise ValueError("parsing time %r as RFC 3339 failed" % text)
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61):
        raise ValueError("time %r out of range" % text)
    ts = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    tz = m.group(8)
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        ts -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return ts


def sha_of(text):
    return hashlib.sha1(text.encode()).hexdigest()


# ---------------------------------------------------------------- store ----

class Store:
    """All forge state. Callers hold self.lock around every access."""

    def __init__(self, seed, generate):
        self.lock = threading.RLock()
        self.seed = seed
        self.generate = list(generate)
        self.load()

    # -- loading ------------------------------------------------------------
    def load(self):
        seed = self.seed
        if not isinstance(seed, dict):
            raise SeedError("seed must be a JSON object")
        self.users = {}        # login.lower() -> user dict
        self.repos = {}        # (owner.lower(), name.lower()) -> repo dict
        self.comments = {}     # id -> comment dict
        self.labels = {}       # id -> label dict
        self.next_user_id = 1
        self.next_repo_id = 1
        self.next_issue_id = 1
        self.next_pr_id = 1
        self.next_comment_id = 1
        self.next_label_id = 1
        self.clock = 0
        try:
            self.epoch = parse_time(seed.get("epoch", "2026-01-01T00:00:00Z"))
        except ValueError as e:
            raise SeedError("seed epoch: %s" % e)
        for u in seed.get("users", []):
            self.add_user(u)
        for r in seed.get("repos", []):
            self.add_repo(r)
        for g in self.generate:
            self.apply_generate_arg(g)
        du = seed.get("default_user")
        if du is not None:
            if du.lower() not in self.users:
                raise SeedError("default_user %r is not a user" % du)
            self.default_user = self.users[du.lower()]
        else:
            self.default_user = next(iter(self.users.values()), None)
        self.clock = max(self.clock, self.epoch)

    def _time(self, obj, key, default):
        v = obj.get(key)
        if v is None:
            return default
        try:
            ts = parse_time(v)
        except ValueError as e:
            raise SeedError("%s: %s" % (key, e))
        return ts

    def _see(self, ts):
        if ts is not None and ts > self.clock:
            self.clock = ts

    def add_user(self, u):
        if not isinstance(u, dict) or not isinstance(u.get("login"), str) \
                or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", u["login"]):
            raise SeedError("user needs a valid \"login\": %r" % (u,))
        key = u["login"].lower()
        if key in self.users:
            raise SeedError("duplicate user %r" % u["login"])
        kind = u.get("type", "user")
        if kind not in ("user", "org"):
            raise SeedError("user %r: type must be user or org" % u["login"])
        user = {
            "id": self.next_user_id, "login": u["login"],
            "full_name": u.get("full_name", ""),
            # Prism checks the email format, so an empty one gets Gitea's placeholder
            "email": u.get("email") or "%s@noreply.localhost" % key,
            "type": kind, "members": [m.lower() for m in u.get("members", [])],
            "is_admin": bool(u.get("is_admin", False)),
            "created": self._time(u, "created", self.epoch - 86400 * 30),
            "description": u.get("description", ""),
            "location": u.get("location", ""),
            "website": u.get("website", ""),
        }
        self.next_user_id += 1
        self.users[key] = user
        return user

    def user(self, login, where):
        if not isinstance(login, str) or login.lower() not in self.users:
            raise SeedError("%s: unknown user %r" % (where, login))
        return self.users[login.lower()]

    def add_repo(self, r):
        if not isinstance(r, dict) or not isinstance(r.get("name"), str) \
                or not re.match(r"^[A-Za-z0-9_.-]+$", r["name"]):
            raise SeedError("repo needs a valid \"name\": %r" % (r,))
        owner = self.user(r.get("owner"), "repo %r owner" % r["name"])
        key = (owner["login"].lower(), r["name"].lower())
        if key in self.repos:
            raise SeedError("duplicate repo %s/%s" % (owner["login"], r["name"]))
        default_branch = r.get("default_branch", "main")
        branches = {}
        rb = r.get("branches", [default_branch])
        if isinstance(rb, list):
            for b in rb:
                branches[b] = {}
        elif isinstance(rb, dict):
            for b, v in rb.items():
                branches[b] = dict(v or {})
        else:
            raise SeedError("repo %s: branches must be a list or object" % r["name"])
        branches.setdefault(default_branch, {})
        created = self._time(r, "created", self.epoch - 86400 * 7)
        repo = {
            "id": self.next_repo_id, "owner": owner, "name": r["name"],
            "private": bool(r.get("private", False)),
            "description": r.get("description", ""),
            "website": r.get("website", ""),
            "default_branch": default_branch, "branches": branches,
            "collaborators": [c.lower() for c in r.get("collaborators", [])],
            "created": created, "updated": created,
            "labels": [], "issues": {}, "next_number": 1,
        }
        self.next_repo_id += 1
        self.repos[key] = repo
        for lab in r.get("labels", []):
            self.add_label(repo, lab)
        for i in r.get("issues", []):
            self.add_issue(repo, i)
        g = r.get("generate")
        if g:
            self.generate_items(repo, int(g.get("issues", 0)), int(g.get("pulls", 0)),
                                int(g.get("comments_per_issue", 0)),
                                int(g.get("comment_every", 1)),
                                int(g.get("closed_every", 4)))
        return repo

    def add_label(self, repo, lab):
        if not isinstance(lab, dict) or not isinstance(lab.get("name"), str):
            raise SeedError("label needs a name: %r" % (lab,))
        color = str(lab.get("color", "ededed")).lstrip("#").lower()
        label = {"id": self.next_label_id, "name": lab["name"],
                 "exclusive": bool(lab.get("exclusive", False)),
                 "is_archived": False, "color": color,
                 "description": lab.get("description", ""),
                 "repo": repo}
        self.next_label_id += 1
        repo["labels"].append(label)
        self.labels[label["id"]] = label
        return label

    def label_by_name(self, repo, name):
        for lab in repo["labels"]:
            if lab["name"] == name:
                return lab
        return None

    def alloc_pr_id(self, issue_id):
        pid = self.next_pr_id
        if pid == issue_id:  # a PR's id must differ from its issue's id
            pid += 1
        self.next_pr_id = pid + 1
        return pid

    def add_issue(self, repo, i):
        where = "%s/%s issue" % (repo["owner"]["login"], repo["name"])
        if not isinstance(i, dict) or not isinstance(i.get("title"), str):
            raise SeedError("%s needs a title: %r" % (where, i))
        number = i.get("number", repo["next_number"])
        if not isinstance(number, int) or number < 1 or number in repo["issues"]:
            raise SeedError("%s: bad or duplicate number %r" % (where, number))
        repo["next_number"] = max(repo["next_number"], number + 1)
        created = self._time(i, "created", self.epoch + number * 3600)
        state = i.get("state", "open")
        if state not in ("open", "closed"):
            raise SeedError("%s #%d: state must be open or closed" % (where, number))
        closed = None
        if state == "closed":
            closed = self._time(i, "closed", created + 1800)
        issue = {
            "id": self.next_issue_id, "number": number, "repo": repo,
            "title": i["title"], "body": i.get("body", ""),
            "user": self.user(i.get("user", repo["owner"]["login"]), where),
            "state": state, "created": created, "closed": closed,
            "labels": [], "assignees": [], "locked": bool(i.get("locked", False)),
            "due_date": self._time(i, "due_date", None),
            "content_version": 0, "comment_ids": [], "pull": None,
        }
        self.next_issue_id += 1
        for name in i.get("labels", []):
            lab = self.label_by_name(repo, name)
            if lab is None:
                raise SeedError("%s #%d: unknown label %r" % (where, number, name))
            issue["labels"].append(lab["id"])
        for a in i.get("assignees", []):
            issue["assignees"].append(self.user(a, where))
        last = max(created, closed or 0)
        for j, c in enumerate(i.get("comments", [])):
            ct = self._time(c, "created", created + 600 * (j + 1))
            cm = self.new_comment(issue, self.user(c.get("user", issue["user"]["login"]), where),
                                  str(c.get("body", "")), ct, self._time(c, "updated", ct))
            last = max(last, cm["updated"])
        p = i.get("pull")
        if p is not None:
            if not isinstance(p, dict):
                raise SeedError("%s #%d: pull must be an object" % (where, number))
            head = p.get("head", "pr-%d" % number)
            base = p.get("base", repo["default_branch"])
            repo["branches"].setdefault(head, {})
            repo["branches"].setdefault(base, {})
            merged = bool(p.get("merged", False))
            merged_at = None
            if merged:
                merged_at = self._time(p, "merged_at", closed or created + 1800)
                if issue["state"] != "closed":
                    issue["state"] = "closed"
                    issue["closed"] = merged_at
                last = max(last, merged_at)
            diff = p.get("diff")
            if diff is None:
                diff = repo["branches"][head].get("diff") or synth_diff(repo, head, number)
            issue["pull"] = {
                "id": self.alloc_pr_id(issue["id"]), "head": head, "base": base,
                "merged": merged, "merged_at": merged_at,
                "merged_by": self.user(p["merged_by"], where) if p.get("merged_by")
                else (repo["owner"] if merged else None),
                "draft": bool(p.get("draft", False)), "diff": diff,
                "allow_maintainer_edit": bool(p.get("allow_maintainer_edit", False)),
            }
        issue["updated"] = self._time(i, "updated", last)
        repo["issues"][number] = issue
        repo["updated"] = max(repo["updated"], issue["updated"])
        self._see(issue["updated"])
        return issue

    def new_comment(self, issue, user, body, created, updated):
        cm = {"id": self.next_comment_id, "issue": issue, "user": user,
              "body": body, "created": created, "updated": updated}
        self.next_comment_id += 1
        self.comments[cm["id"]] = cm
        issue["comment_ids"].append(cm["id"])
        self._see(updated)
        return cm

    def apply_generate_arg(self, spec):
        m = re.match(r"^([^/:]+)/([^/:]+):(\d+):(\d+):(\d+)$", spec)
        if not m:
            raise SeedError("--generate wants OWNER/REPO:ISSUES:PULLS:COMMENTS_PER_ISSUE, got %r" % spec)
        owner, name = m.group(1), m.group(2)
        if owner.lower() not in self.users:
            self.add_user({"login": owner})
        repo = self.repos.get((owner.lower(), name.lower()))
        if repo is None:
            repo = self.add_repo({"owner": owner, "name": name})
        self.generate_items(repo, int(m.group(3)), int(m.group(4)), int(m.group(5)), 1, 4)

    def generate_items(self, repo, n_issues, n_pulls, per_issue, comment_every, closed_every):
        total = n_issues + n_pulls
        if total > 1000000 or per_issue > 1000:
            raise SeedError("generate: too many items")
        comment_every = max(1, comment_every)
        closed_every = max(1, closed_every)
        logins = [u["login"] for u in self.users.values() if u["type"] == "user"] \
            or [repo["owner"]["login"]]
        base_t = max(self.clock, self.epoch, repo["created"]) + 60
        made_pulls = 0
        for k in range(1, total + 1):
            # spread the pulls evenly over the sequence
            is_pull = made_pulls < n_pulls and (k * n_pulls) // total > made_pulls
            created = base_t + k * 600
            item = {
                "title": "%s %d: %s" % ("Pull" if is_pull else "Issue", k,
                                        "generated item for %s" % repo["name"]),
                "body": "Generated body of item %d.\n\n- point one\n- point two\n" % k,
                "user": logins[k % len(logins)],
                "created": fmt_time(created),
                "state": "closed" if k % closed_every == 0 else "open",
            }
            if repo["labels"] and k % (len(repo["labels"]) + 1):
                item["labels"] = [repo["labels"][k % (len(repo["labels"]) + 1) - 1]["name"]]
            if k % comment_every == 0 and per_issue:
                item["comments"] = [
                    {"user": logins[(k + j) % len(logins)],
                     "body": "Comment %d on item %d." % (j + 1, k),
                     "created": fmt_time(created + 60 * (j + 1))}
                    for j in range(per_issue)]
            if is_pull:
                made_pulls += 1
                head = "gen-%d" % k
                repo["branches"].setdefault(head, {})
                item["pull"] = {"head": head, "base": repo["default_branch"],
                                "merged": item["state"] == "closed" and k % 2 == 0}
            self.add_issue(repo, item)

    # -- queries and writes ---------------------------------------------------
    def now(self):
        """Wall clock, but never before the newest seeded time and never
        going backwards, so writes always look newer than the seed."""
        t = max(int(time.time()), self.clock)
        self.clock = t
        return t

    def repo(self, owner, name):
        return self.repos.get((owner.lower(), name.lower()))

    def issue_labels(self, issue):
        labs = [self.labels[i] for i in issue["labels"] if i in self.labels]
        return sorted(labs, key=lambda l: (l["name"], l["id"]))

    def touch(self, issue, ts):
        issue["updated"] = ts
        issue["repo"]["updated"] = max(issue["repo"]["updated"], ts)

    def counts(self, repo):
        oi = op = 0
        for i in repo["issues"].values():
            if i["state"] == "open":
                if i["pull"]:
                    op += 1
                else:
                    oi += 1
        return oi, op

    def can_read(self, repo, viewer):
        if not repo["private"]:
            return True
        return self.can_write(repo, viewer)

    def can_write(self, repo, viewer):
        if viewer is None:
            return False
        if viewer.get("is_admin") or viewer.get("_superuser"):
            return True
        key = viewer["login"].lower()
        owner = repo["owner"]
        if owner["login"].lower() == key or key in repo["collaborators"]:
            return True
        return owner["type"] == "org" and key in owner["members"]


def synth_diff(repo, branch, number):
    path = "%s/%s.txt" % (branch, "change")
    return ("diff --git a/{p} b/{p}\nnew file mode 100644\nindex 0000000..{s}\n"
            "--- /dev/null\n+++ b/{p}\n@@ -0,0 +1,2 @@\n+change for #{n}\n+in {r}\n"
            ).format(p=path, s=sha_of(branch)[:7], n=number, r=repo["name"])


def diff_stats(diff):
    add = dele = files = 0
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            files += 1
        elif line.startswith("+") and not line.startswith("+++"):
            add += 1
        elif line.startswith("-") and not line.startswith("---"):
            dele += 1
    return add, dele, files


# ------------------------------------------------------------ rendering ----

class View:
    """Per-request rendering context: root URL and who is asking."""

    def __init__(self, store, root, viewer, signed):
        self.s = store
        self.root = root            # ends with "/"
        self.viewer = viewer
        self.signed = signed
        self._repo_cache = {}   # a PR list embeds its repo twice per item

    def api(self, path):
        return self.root + "api/v1/" + path

    def user(self, u):
        if u is None:
            return None
        authed = self.signed and self.viewer is not None and (
            self.viewer.get("is_admin") or self.viewer["id"] == u["id"])
        email = "%s@noreply.localhost" % u["login"].lower()
        if self.signed:
            email = u["email"]
        return {
            "id": u["id"], "login": u["login"],
            "login_name": "",
            "source_id": 0, "full_name": u["full_name"], "email": email,
            "avatar_url": self.root + "avatars/" + hashlib.md5(u["login"].lower().encode()).hexdigest(),
            "html_url": self.root + urllib.parse.quote(u["login"]),
            "language": "", "is_admin": bool(authed and u["is_admin"]),
            "last_login": fmt_time(u["created"]) if authed else "0001-01-01T00:00:00Z",
            "created": fmt_time(u["created"]), "restricted": False,
            "active": bool(authed), "prohibit_login": False,
            "location": u["location"], "website": u["website"],
            "description": u["description"], "visibility": "public",
            "followers_count": 0, "following_count": 0, "starred_repos_count": 0,
        }

    def label(self, lab):
        r = lab["repo"]
        return {
            "id": lab["id"], "name": lab["name"], "exclusive": lab["exclusive"],
            "is_archived": lab["is_archived"], "color": lab["color"],
            "description": lab["description"],
            "url": self.api("repos/%s/%s/labels/%d" % (r["owner"]["login"], r["name"], lab["id"])),
        }

    def repo(self, r):
        cached = self._repo_cache.get(r["id"])
        if cached is None:
            cached = self._repo_cache[r["id"]] = self._repo(r)
        return copy.deepcopy(cached)

    def _repo(self, r):
        owner = r["owner"]["login"]
        full = "%s/%s" % (owner, r["name"])
        host = urllib.parse.urlsplit(self.root).hostname or "localhost"
        oi, op = self.s.counts(r)
        write = self.s.can_write(r, self.viewer)
        admin = bool(self.viewer and (self.viewer.get("is_admin") or self.viewer.get("_superuser")
                                      or self.viewer["id"] == r["owner"]["id"]))
        return {
            "id": r["id"], "owner": self.user(r["owner"]), "name": r["name"],
            "full_name": full, "description": r["description"], "empty": False,
            "private": r["private"], "fork": False, "template": False,
            "mirror": False, "size": 42, "language": "",
            "languages_url": self.api("repos/%s/languages" % full),
            "html_url": self.root + full, "url": self.api("repos/" + full),
            "link": "", "ssh_url": "git@%s:%s.git" % (host, full),
            "clone_url": self.root + full + ".git", "original_url": "",
            "website": r["website"], "stars_count": 0, "forks_count": 0,
            "watchers_count": 1, "open_issues_count": oi, "open_pr_counter": op,
            "release_counter": 0, "default_branch": r["default_branch"],
            "archived": False, "created_at": fmt_time(r["created"]),
            "updated_at": fmt_time(r["updated"]),
            "archived_at": "1970-01-01T00:00:00Z",
            "permissions": {"admin": admin, "push": write, "pull": True},
            "has_code": True, "has_issues": True,
            "internal_tracker": {"enable_time_tracker": True,
                                 "allow_only_contributors_to_track_time": True,
                                 "enable_issue_dependencies": True},
            "has_wiki": True, "has_pull_requests": True, "has_projects": True,
            "projects_mode": "all", "has_releases": True, "has_packages": True,
            "has_actions": True, "ignore_whitespace_conflicts": False,
            "allow_merge_commits": True, "allow_rebase": True,
            "allow_rebase_explicit": True, "allow_squash_merge": True,
            "allow_fast_forward_only_merge": True, "allow_rebase_update": True,
            "allow_manual_merge": False, "autodetect_manual_merge": False,
            "default_delete_branch_after_merge": False,
            "default_merge_style": "merge", "default_allow_maintainer_edit": False,
            "default_target_branch": r["default_branch"],
            "branch_count": len(self.s.git.branches(owner, r["name"])) or len(r["branches"]),
            "avatar_url": "", "internal": False, "mirror_interval": "",
            "object_format_name": "sha1",
            "mirror_updated": "0001-01-01T00:00:00Z",
            "topics": [], "licenses": [],
        }

    def branch(self, repo, name, sha):
        """Gitea's Branch (convert.ToBranch) for a branch at commit sha."""
        info = self.s.git.commit_info(repo["owner"]["login"], repo["name"], sha)
        by_email = {u["email"].lower(): u["login"] for u in self.s.users.values()}

        def who(x):
            return {"name": x["name"], "email": x["email"],
                    "username": by_email.get(x["email"].lower(), "")}
        write = self.s.can_write(repo, self.viewer)
        return {
            "name": name,
            "commit": {
                "id": sha, "message": info["message"],
                "url": self.root + "%s/%s/commit/%s" % (repo["owner"]["login"], repo["name"], sha),
                "author": who(info["author"]), "committer": who(info["committer"]),
                "verification": {"verified": False, "reason": "gpg.error.not_signed_commit",
                                 "signature": "", "signer": None, "payload": ""},
                "timestamp": fmt_time(info["committer"]["time"]),
                "added": None, "removed": None, "modified": None,
            },
            "protected": False, "required_approvals": 0, "enable_status_check": False,
            "status_check_contexts": [], "user_can_push": write, "user_can_merge": write,
            "effective_branch_protection_name": "",
        }

    def issue_html(self, issue):
        r = issue["repo"]
        kind = "pulls" if issue["pull"] else "issues"
        return self.root + "%s/%s/%s/%d" % (r["owner"]["login"], r["name"], kind, issue["number"])

    def issue(self, issue):
        r = issue["repo"]
        assignees = [self.user(a) for a in issue["assignees"]] or None
        pr = None
        if issue["pull"]:
            p = issue["pull"]
            pr = {"merged": p["merged"], "merged_at": fmt_time(p["merged_at"]),
                  "draft": p["draft"], "html_url": self.issue_html(issue)}
        return {
            "id": issue["id"],
            "url": self.api("repos/%s/%s/issues/%d" % (r["owner"]["login"], r["name"], issue["number"])),
            "html_url": self.issue_html(issue), "number": issue["number"],
            "user": self.user(issue["user"]), "original_author": "",
            "original_author_id": 0, "title": issue["title"], "body": issue["body"],
            "ref": "", "assets": [],
            "labels": [self.label(l) for l in self.s.issue_labels(issue)],
            "milestone": None, "assignee": assignees[0] if assignees else None,
            "assignees": assignees, "state": issue["state"],
            "is_locked": issue["locked"], "comments": len(issue["comment_ids"]),
            "created_at": fmt_time(issue["created"]),
            "updated_at": fmt_time(issue["updated"]),
            "closed_at": fmt_time(issue["closed"]) if issue["state"] == "closed" else None,
            "due_date": fmt_time(issue["due_date"]), "time_estimate": 0,
            "pull_request": pr,
            "repository": {"id": r["id"], "name": r["name"], "owner": r["owner"]["login"],
                           "full_name": "%s/%s" % (r["owner"]["login"], r["name"])},
            "pin_order": 0, "content_version": issue["content_version"],
        }

    def pull(self, issue):
        p = issue["pull"]
        r = issue["repo"]
        base = self.issue(issue)
        add, dele, files = diff_stats(p["diff"])
        repo_json = self.repo(r)
        full = "%s/%s" % (r["owner"]["login"], r["name"])
        base_sha, head_sha, merge_base = self.s.git.pull_shas(
            r["owner"]["login"], r["name"], issue["number"], p["base"], p["head"])
        merge_sha = self.s.git.merge_commit(r["owner"]["login"], r["name"], issue["number"])
        out = {
            "id": p["id"], "url": base["html_url"], "number": issue["number"],
            "user": base["user"], "title": base["title"], "body": base["body"],
            "labels": base["labels"], "milestone": None,
            "assignee": base["assignee"], "assignees": base["assignees"],
            "requested_reviewers": [], "requested_reviewers_teams": [],
            "state": issue["state"], "draft": p["draft"],
            "is_locked": issue["locked"], "comments": base["comments"],
            "additions": add, "deletions": dele, "changed_files": files,
            "html_url": base["html_url"], "diff_url": base["html_url"] + ".diff",
            "patch_url": base["html_url"] + ".patch",
            "mergeable": not p["merged"] and issue["state"] == "open",
            "merged": p["merged"], "merged_at": fmt_time(p["merged_at"]),
            "merge_commit_sha": (merge_sha or sha_of("merge:%s:%d" % (full, issue["number"])))
            if p["merged"] else None,
            "merged_by": self.user(p["merged_by"]) if p["merged"] else None,
            "allow_maintainer_edit": p["allow_maintainer_edit"],
            "base": {"label": p["base"], "ref": p["base"],
                     "sha": base_sha or sha_of("%s:%s" % (full, p["base"])),
                     "repo_id": r["id"], "repo": repo_json},
            "head": {"label": p["head"], "ref": p["head"],
                     "sha": head_sha or sha_of("%s:%s:%d" % (full, p["head"], issue["number"])),
                     "repo_id": r["id"], "repo": repo_json},
            "merge_base": merge_base or sha_of("%s:%s" % (full, p["base"])),
            "due_date": base["due_date"], "created_at": base["created_at"],
            "updated_at": base["updated_at"], "closed_at": base["closed_at"],
            "pin_order": 0, "content_version": issue["content_version"],
        }
        return out

    def comment(self, cm):
        issue = cm["issue"]
        page = self.issue_html(issue)
        return {
            "id": cm["id"], "html_url": page + "#issuecomment-%d" % cm["id"],
            "pull_request_url": page if issue["pull"] else "",
            "issue_url": "" if issue["pull"] else page,
            "user": self.user(cm["user"]), "original_author": "",
            "original_author_id": 0, "body": cm["body"], "assets": [],
            "created_at": fmt_time(cm["created"]), "updated_at": fmt_time(cm["updated"]),
        }


# --------------------------------------------------------------- faults ----

FAULT_KEYS = {"method", "path", "accept", "times", "latency_ms", "status", "body", "content_type",
              "hang", "drop", "truncate", "trickle_ms", "hang_after_apply", "big",
              "retry_after", "percent", "seed"}
ACTION_KEYS = ("status", "hang", "drop", "truncate", "trickle_ms", "hang_after_apply", "big")


def compile_faults(rules):
    if not isinstance(rules, list):
        raise ValueError("faults must be a JSON list of rules")
    out = []
    for i, r in enumerate(rules):
        if not isinstance(r, dict):
            raise ValueError("rule %d is not an object" % i)
        bad = set(r) - FAULT_KEYS
        if bad:
            raise ValueError("rule %d: unknown keys %s" % (i, sorted(bad)))
        rule = dict(r)
        try:
            rule["_re"] = re.compile(r.get("path") or ".*")
            rule["_accept"] = re.compile(r["accept"]) if r.get("accept") else None
        except (re.error, TypeError) as e:
            raise ValueError("rule %d: bad path or accept regex: %s" % (i, e))
        for k in ("times", "latency_ms", "status", "trickle_ms", "big", "retry_after",
                  "percent", "seed"):
            v = r.get(k)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                raise ValueError("rule %d: %s must be a non-negative integer" % (i, k))
        if r.get("percent") is not None and r["percent"] > 100:
            raise ValueError("rule %d: percent must be 0..100" % i)
        # percent: the rule matches that share of its requests, drawn from a
        # PRNG seeded by "seed" (default 0), so a run is reproducible.
        rule["_rng"] = random.Random(r.get("seed") or 0)
        if r.get("status") is not None and not 100 <= r["status"] <= 599:
            raise ValueError("rule %d: status out of range" % i)
        if (r.get("big") or 0) > 4 * 1024 * 1024 * 1024:
            raise ValueError("rule %d: big is limited to 4 GiB" % i)
        if r.get("method") is not None and not isinstance(r["method"], str):
            raise ValueError("rule %d: method must be a string or null" % i)
        out.append(rule)
    return out


# -------------------------------------------------------------- handler ----

class Reply:
    def __init__(self, status, body=b"", ctype=JSON_CT, headers=None):
        self.status = status
        self.body = body
        self.ctype = ctype
        self.headers = headers or []


def jreply(status, obj, headers=None):
    return Reply(status, json.dumps(obj, separators=(",", ":")).encode() + b"\n",
                 headers=headers)


class HTTPError(Exception):
    def __init__(self, reply):
        super().__init__(reply.status)
        self.reply = reply


class Double:
    """Server-wide state shared by the handler threads."""

    def __init__(self, args, seed):
        self.args = args
        self.store = Store(seed, args.generate or [])
        self.tokens = load_tokens(args.token_file, self.store) if args.token_file else None
        self.log = []
        self.log_lock = threading.Lock()
        self.faults = []
        self.fault_lock = threading.Lock()
        self.stopping = threading.Event()
        if args.latency_ms:
            self.faults = compile_faults([{"path": ".*", "latency_ms": args.latency_ms}])
        self.git = githttp.GitForge(getattr(args, "git_dir", None))
        self.store.git = self.git
        self.git.build_all_in_background(self.store)

    def reload(self):
        """The control API's reset: the seed again, git repositories too."""
        with self.store.lock:
            self.store.load()
            self.git.build_all(self.store)

    def record(self, method, path, query, status, fault):
        entry = {"method": method, "path": path, "query": query, "status": status,
                 "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
                 + ".%03dZ" % int((time.time() % 1) * 1000),
                 "fault": fault}
        with self.log_lock:
            self.log.append(entry)
            if len(self.log) > 200000:  # bounded memory for long benchmarks
                del self.log[:100000]
            traffic = os.environ.get("GITEA_DOUBLE_TRAFFIC")
            if traffic:
                # One line per API request for scripts/traffic, appended so that
                # every double of a test suite adds to the same file.
                with open(traffic, "a") as f:
                    f.write("%s %s%s\n" % (method, path, "?" + query if query else ""))

    def match_faults(self, method, path, accept=None):
        """Consume every matching rule; return (total latency, action rule).
        accept: the request's Accept header, for rules that name one."""
        latency = 0
        action = None
        with self.fault_lock:
            for rule in self.faults:
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if not rule["_re"].search(path):
                    continue
                if rule.get("_accept") and not rule["_accept"].search(accept or ""):
                    continue
                if rule.get("percent") is not None and \
                        rule["_rng"].randrange(100) >= rule["percent"]:
                    continue
                is_action = any(rule.get(k) not in (None, False, 0) for k in ACTION_KEYS)
                if is_action and action is not None:
                    continue
                if rule.get("times") is not None:
                    if rule["times"] <= 0:
                        continue
                    rule["times"] -= 1
                latency += rule.get("latency_ms") or 0
                if is_action:
                    action = rule
        return latency, action


SCOPE_CATEGORIES = ("activitypub", "admin", "issue", "misc", "notification",
                    "organization", "package", "repository", "user")


def parse_scopes(text, where):
    """"all" or a comma list of read:CAT / write:CAT -> set of scope strings."""
    scopes = set()
    for sc in text.split(","):
        sc = sc.strip()
        if sc == "all":
            scopes.add("all")
            continue
        level, _, cat = sc.partition(":")
        if level not in ("read", "write") or cat not in SCOPE_CATEGORIES:
            raise SeedError("%s: bad scope %r" % (where, sc))
        scopes.add(sc)
    return scopes


def load_tokens(path, store):
    """Token file lines: TOKEN [USER [SCOPES]] -> {token: (login, scopes)}."""
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
            if len(parts) >= 2:
                user = store.users.get(parts[1].lower())
                if user is None:
                    raise SeedError("%s: unknown user %r" % (where, parts[1]))
            else:
                user = store.default_user
                if user is None:
                    raise SeedError("%s: no user to attach the token to" % where)
            scopes = parse_scopes(parts[2], where) if len(parts) == 3 else {"all"}
            tokens[parts[0]] = (user["login"].lower(), scopes)
    if not tokens:
        raise SeedError("%s: no tokens" % path)
    return tokens


def required_scope(method, path):
    """The scope Gitea's route groups ask for (routers/api/v1/api.go)."""
    level = "read" if method in ("GET", "HEAD") else "write"
    if path.startswith("/api/v1/settings/"):
        return None
    if path.startswith("/api/v1/users/") or path == "/api/v1/user" or path.startswith("/api/v1/user/"):
        return level + ":user"
    if path.startswith("/api/v1/orgs/"):
        return level + ":organization"
    if re.match(r"^/api/v1/repos/[^/]+/[^/]+/(issues|labels)(/|$)", path):
        return level + ":issue"
    return level + ":repository"


def scope_ok(scopes, need):
    if need is None or "all" in scopes or need in scopes:
        return True
    return need.startswith("read:") and "write:" + need[5:] in scopes


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, a kept-alive
    # client waits ~40 ms for the delayed ACK on every request.
    disable_nagle_algorithm = True
    server_version = "GiteaDouble/1.26"
    sys_version = ""
    STANDARD_HEADERS = (("Cache-Control", CACHE_CONTROL), ("X-Content-Type-Options", "nosniff"))

    def log_message(self, fmt, *args):  # quiet: the request log is /_double/log
        if os.environ.get("GITEA_DOUBLE_VERBOSE"):
            sys.stderr.write("double: " + (fmt % args) + "\n")

    # all methods go through one entry point
    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    @property
    def d(self):
        return self.server.double

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise HTTPError(Reply(400, b"bad chunk\n", "text/plain"))
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise HTTPError(Reply(413, b"body too large\n", "text/plain"))
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        cl = self.headers.get("Content-Length")
        if cl is None:
            return b""
        try:
            n = int(cl)
        except ValueError:
            raise HTTPError(Reply(400, b"bad content-length\n", "text/plain"))
        if n < 0 or n > MAX_BODY:
            raise HTTPError(Reply(413, b"body too large\n", "text/plain"))
        return self.rfile.read(n)

    def root_url(self):
        if self.d.args.root_url:
            r = self.d.args.root_url
            return r if r.endswith("/") else r + "/"
        host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_address[1]
        return "http://%s/" % host

    # -- output -------------------------------------------------------------
    def send_reply(self, reply, truncate=False, trickle_ms=0):
        body = b"" if self.command == "HEAD" else reply.body
        self.send_response(reply.status)
        if reply.ctype is not None:
            self.send_header("Content-Type", reply.ctype)
        for k, v in self.STANDARD_HEADERS:
            self.send_header(k, v)
        for k, v in reply.headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(reply.body)))
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        if truncate:
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if trickle_ms:
            for i in range(len(body)):
                if self.d.stopping.is_set():
                    self.close_connection = True
                    return
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(trickle_ms / 1000.0)
            return
        self.wfile.write(body)

    def send_big(self, n):
        """200 with a JSON array of one string, exactly n bytes, streamed so
        a huge size does not need huge memory."""
        self.send_response(200)
        self.send_header("Content-Type", JSON_CT)
        self.send_header("Cache-Control", CACHE_CONTROL)
        self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        if n < 5:
            self.wfile.write(b"[]\n "[:n])
            return
        self.wfile.write(b'["')
        left = n - 5
        chunk = b"x" * 65536
        while left > 0 and not self.d.stopping.is_set():
            self.wfile.write(chunk[:left])
            left -= min(left, len(chunk))
        self.wfile.write(b'"]\n')

    def hang(self):
        """Hold the connection without answering until the client closes it
        or the server stops; never blocks other handler threads."""
        self.close_connection = True
        sock = self.connection
        while not self.d.stopping.is_set():
            try:
                r, _, _ = select.select([sock], [], [], 0.2)
                if r and not sock.recv(65536):
                    break
            except OSError:
                break

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- dispatch -------------------------------------------------------------
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
        if not path.startswith("/api/v1/") and path != "/api/v1":
            self.send_reply(Reply(404, b"Not found.\n", "text/plain; charset=utf-8"))
            return
        self.api_request(path, query, body)

    def dispatch_git(self):
        """Git over smart HTTP at /{owner}/{repo}.git/...: handled before the
        body is read, so it streams.  True when the path was a git path."""
        split = urllib.parse.urlsplit(self.path)
        parts = githttp.split_git_path(split.path)
        if parts is None:
            return False
        owner, name, rest = parts
        githttp.git_request(self, self.d.git, owner, name, rest, split.query,
                            lambda write: self.git_authorize(owner, name, write),
                            lambda: self.git_pushed(owner, name))
        return True

    def api_request(self, path, query, body):
        d = self.d
        method = self.command
        rule = self.fault_prelude(method, path, query)
        if rule is None:
            return
        try:
            reply = self.api(method, path, query, body)
        except HTTPError as e:
            reply = e.reply
        except Exception as e:  # a bug in the double must not kill the connection
            sys.stderr.write("double: internal error on %s %s: %r\n" % (method, path, e))
            reply = jreply(500, {"message": "", "url": self.root_url() + "api/swagger"})
        if rule.get("hang_after_apply"):
            d.record(method, path, query, "hang", True)
            self.hang()
            return
        d.record(method, path, query, reply.status, bool(rule))
        self.send_reply(reply, truncate=bool(rule.get("truncate")),
                        trickle_ms=rule.get("trickle_ms") or 0)

    def fault_payload(self, status):
        """The body of an injected status without a "body" of its own."""
        return json.dumps({"message": "injected fault %d" % status,
                           "url": self.root_url() + "api/swagger"}).encode()

    def fault_prelude(self, method, path, query):
        """Apply the fault rules matching this request: wait their latency,
        and answer it when a rule's action is hang, drop, big or status.
        Returns None when the request was answered that way, else the
        action rule (or {}) whose truncate/trickle/hang_after_apply apply to
        the real answer.  Shared by the API and the git paths."""
        d = self.d
        latency, rule = d.match_faults(method, path, self.headers.get("Accept"))
        if latency:
            end = time.monotonic() + latency / 1000.0
            while not d.stopping.is_set() and time.monotonic() < end:
                time.sleep(min(0.05, end - time.monotonic()) if end > time.monotonic() else 0)
        rule = rule or {}
        if rule.get("hang"):
            d.record(method, path, query, "hang", True)
            self.hang()
            return None
        if rule.get("drop"):
            d.record(method, path, query, "drop", True)
            self.drop()
            return None
        if rule.get("big"):
            d.record(method, path, query, 200, True)
            self.send_big(max(rule["big"], 4))
            return None
        if rule.get("status") is not None:
            st = rule["status"]
            headers = []
            if rule.get("retry_after") is not None:
                headers.append(("Retry-After", str(rule["retry_after"])))
            if "body" in rule and rule["body"] is not None:
                b = rule["body"]
                payload = b.encode() if isinstance(b, str) else \
                    json.dumps(b, separators=(",", ":")).encode()
                ctype = rule.get("content_type") or \
                    (JSON_CT if not isinstance(b, str) else "text/plain; charset=utf-8")
            else:
                payload = self.fault_payload(st)
                ctype = rule.get("content_type") or JSON_CT
            d.record(method, path, query, st, True)
            self.send_reply(Reply(st, payload, ctype, headers),
                            truncate=bool(rule.get("truncate")),
                            trickle_ms=rule.get("trickle_ms") or 0)
            return None
        return rule

    # -- control API ------------------------------------------------------------
    def control(self, method, path, body):
        d = self.d
        if path == "/_double/health" and method == "GET":
            return Reply(200, b"ok", "text/plain; charset=utf-8")
        if path == "/_double/log" and method == "GET":
            with d.log_lock:
                return jreply(200, list(d.log))
        if path == "/_double/log/reset" and method == "POST":
            with d.log_lock:
                d.log.clear()
            return jreply(200, {"ok": True})
        if path == "/_double/faults":
            if method == "DELETE":
                with d.fault_lock:
                    d.faults = []
                return jreply(200, {"ok": True})
            if method == "GET":
                with d.fault_lock:
                    return jreply(200, [{k: v for k, v in r.items() if not k.startswith("_")}
                                        for r in d.faults])
            if method == "POST":
                try:
                    rules = compile_faults(json.loads(body or b"null"))
                except ValueError as e:
                    return jreply(400, {"message": str(e)})
                with d.fault_lock:
                    d.faults = rules
                return jreply(200, {"ok": True, "rules": len(rules)})
        if path == "/_double/reset" and method == "POST":
            d.reload()
            return jreply(200, {"ok": True})
        if path.startswith("/_double/git/"):
            return self.git_control(method, path, body)
        m = re.match(r"^/_double/state/([^/]+)/([^/]+)/issues/(\d+)$", path)
        if m and method == "GET":
            s = d.store
            with s.lock:
                repo = s.repo(m.group(1), m.group(2))
                issue = repo and repo["issues"].get(int(m.group(3)))
                if not issue:
                    return jreply(404, {"message": "no such issue"})
                return jreply(200, stored_issue(s, issue))
        return jreply(404, {"message": "unknown control endpoint %s %s" % (method, path)})

    # -- git over smart HTTP ----------------------------------------------------
    def git_authorize(self, owner, name, write):
        """Gitea's rules for git over HTTP: the token as the basic-auth
        password (any user name; or as the user name with an empty password
        or "x-oauth-basic"), or "token"/"Bearer" like the API.  Anonymous
        fetches of a public repository are allowed; a push or a private
        repository without credentials is 401 with a Basic challenge; a push
        without write access is 403.  Returns the user's login."""
        d = self.d
        ask = githttp.refuse(401, "Unauthorized\n", [("WWW-Authenticate", 'Basic realm="."')])
        auth = self.headers.get("Authorization")
        viewer = None
        if auth:
            token = None
            basic = githttp.basic_password(auth)
            if basic:
                token = basic[0] if basic[1] in ("", "x-oauth-basic") else basic[1]
            else:
                scheme, _, cred = auth.partition(" ")
                if scheme.lower() in ("token", "bearer"):
                    token = cred.strip()
            if d.tokens is None:  # no token file: everyone is the default user
                viewer = dict(d.store.default_user, _superuser=True) \
                    if d.store.default_user else None
            else:
                entry = d.tokens.get(token) if token else None
                if entry is None or entry[0] not in d.store.users:
                    raise ask
                login, scopes = entry
                need = ("write:" if write else "read:") + "repository"
                if not scope_ok(scopes, need):
                    raise githttp.refuse(403, "token does not have at least one of required "
                                              "scope(s), required=[%s]\n" % need)
                viewer = d.store.users[login]
        elif d.tokens is None and d.store.default_user:
            viewer = dict(d.store.default_user, _superuser=True)
        with d.store.lock:
            repo = d.store.repo(owner, name)
            if repo is None or not d.git.exists(owner, name):
                raise githttp.refuse(404, "Repository not found\n")
            if viewer is None and (write or repo["private"]):
                raise ask
            if not d.store.can_read(repo, viewer):
                raise githttp.refuse(404, "Repository not found\n")
            if write and not d.store.can_write(repo, viewer):
                raise githttp.refuse(403, "User permission denied\n")
        return viewer["login"] if viewer else ""

    def git_pushed(self, owner, name):
        """After a push (or a control-API commit): new refs, and the diff of
        every pull request whose diff comes from git."""
        d = self.d
        d.git.refresh(owner, name)
        with d.store.lock:
            repo = d.store.repo(owner, name)
            pulls = [i for i in (repo["issues"].values() if repo else ())
                     if i["pull"] and i["state"] == "open"]
            d.git.sync_pull_refs(owner, name, [(i["number"], i["pull"]["head"]) for i in pulls])
            for issue in pulls:
                p = issue["pull"]
                if p.get("git_diff"):
                    p["diff"] = d.git.diff(owner, name, p["base"], p["head"]) or p["diff"]

    def git_control(self, method, path, body):
        d = self.d

        def ident_for(login, owner):
            u = d.store.users.get((login or owner).lower())
            return (u["full_name"] or u["login"], u["email"]) if u else None
        with d.store.lock:
            st, obj = githttp.control(d.git, method, path, body, ident_for, d.store.now)
        if st == 200 and method != "GET":
            m = re.match(r"^/_double/git/([^/]+)/([^/]+)/", path)
            self.git_pushed(m.group(1), m.group(2))
        return jreply(st, obj)

    # -- Gitea API ------------------------------------------------------------
    def err(self, status, message, errors=False):
        url = self.root_url() + "api/swagger"
        if errors:  # Gitea's not-found helper builds a map: sorted keys
            return HTTPError(jreply(status, {"errors": None, "message": message, "url": url}))
        return HTTPError(jreply(status, {"message": message, "url": url}))

    def not_found(self):
        return self.err(404, "not found", errors=True)

    def authenticate(self):
        d = self.d
        if d.tokens is None:
            u = d.store.default_user
            if u is None:
                return None, False
            viewer = dict(u)
            viewer["_superuser"] = True
            return viewer, True
        auth = self.headers.get("Authorization")
        if not auth:
            raise self.err(401, "token is required")
        parts = auth.split(None, 1)
        if len(parts) != 2 or parts[0].lower() not in ("token", "bearer"):
            raise self.err(401, "invalid username, password or token")
        entry = d.tokens.get(parts[1].strip())
        if entry is None or entry[0] not in d.store.users:
            raise self.err(401, "invalid username, password or token")
        login, scopes = entry
        need = required_scope(self.command, urllib.parse.urlsplit(self.path).path)
        if not scope_ok(scopes, need):
            raise self.err(403, "token does not have at least one of required scope(s), "
                                "required=[%s], token scope=%s" % (need, ",".join(sorted(scopes))))
        return d.store.users[login], True

    def api(self, method, path, query, body):
        viewer, signed = self.authenticate()
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        s = self.d.store
        with s.lock:
            view = View(s, self.root_url(), viewer, signed)
            return Api(self, view, s, method, path, query, q, body).route()

    def page_links(self, path, query, total, page_size, page):
        """Gitea's genAPILinks: next,last,first,prev; only when >1 page."""
        pages = max(1, -(-total // page_size)) if page_size > 0 else 1
        cur = min(max(page, 1), pages)
        links = []

        def link(p, rel):
            q = urllib.parse.parse_qs(query, keep_blank_values=True)
            q["page"] = [str(p)]
            enc = urllib.parse.urlencode(sorted((k, v) for k, vs in q.items() for v in vs))
            links.append('<%s%s?%s>; rel="%s"' % (self.root_url(), path[1:], enc, rel))
        if cur < pages:
            link(cur + 1, "next")
        if cur != pages:
            link(pages, "last")
        if cur != 1:
            link(1, "first")
        if cur > 1:
            link(cur - 1, "prev")
        return ",".join(links)


def stored_issue(s, issue):
    def u(x):
        return x["login"] if x else None
    out = {k: v for k, v in issue.items() if k not in ("repo", "comment_ids", "pull")}
    out["user"] = u(issue["user"])
    out["assignees"] = [u(a) for a in issue["assignees"]]
    out["labels"] = [l["name"] for l in s.issue_labels(issue)]
    out["repo"] = "%s/%s" % (issue["repo"]["owner"]["login"], issue["repo"]["name"])
    out["created_at"] = fmt_time(issue["created"])
    out["updated_at"] = fmt_time(issue["updated"])
    if issue["pull"]:
        p = dict(issue["pull"])
        p["merged_by"] = u(p["merged_by"])
        out["pull"] = p
    else:
        out["pull"] = None
    out["comments"] = [{"id": c["id"], "user": c["user"]["login"], "body": c["body"],
                        "created_at": fmt_time(c["created"]),
                        "updated_at": fmt_time(c["updated"])}
                       for c in (s.comments[i] for i in issue["comment_ids"])]
    return out


class Api:
    """One API request against the store (store lock held)."""

    REPO = r"^/api/v1/repos/([^/]+)/([^/]+)"

    def __init__(self, h, view, store, method, path, query, q, body):
        self.h, self.v, self.s = h, view, store
        self.method, self.path, self.query, self.q, self.body = method, path, query, q, body

    # -- helpers
    def arg(self, name, default=""):
        vals = self.q.get(name)
        return vals[0] if vals else default

    def int_arg(self, name, default=0):
        v = self.arg(name, "")
        try:
            return int(v)
        except ValueError:
            return default

    def paging(self):
        page = self.int_arg("page", 1)
        if page <= 0:
            page = 1
        limit = self.int_arg("limit", 0)
        if limit <= 0:
            limit = self.h.server.double.args.default_paging_num
        limit = min(limit, self.h.server.double.args.max_response_items)
        return page, limit

    def paged(self, items, render, link=True):
        page, limit = self.paging()
        total = len(items)
        chunk = items[(page - 1) * limit: page * limit]
        headers = [("X-Total-Count", str(total))]
        expose = "X-Total-Count"
        if link:
            lk = self.h.page_links(self.path, self.query, total, limit, page)
            if lk:
                headers.append(("Link", lk))
                expose = "Link, X-Total-Count"
        headers.append(("Access-Control-Expose-Headers", expose))
        return jreply(200, [render(x) for x in chunk], headers)

    def time_arg(self, name):
        v = self.arg(name, "")
        if not v:
            return None
        try:
            return parse_time(v)
        except ValueError as e:
            raise self.h.err(422, str(e))

    def json_body(self):
        if not self.body:
            return {}
        try:
            obj = json.loads(self.body)
        except ValueError as e:
            raise self.h.err(422, "[]: %s" % e)
        if not isinstance(obj, dict):
            raise self.h.err(422, "[]: request body must be a JSON object")
        return obj

    def get_repo(self, owner, name):
        repo = self.s.repo(urllib.parse.unquote(owner), urllib.parse.unquote(name))
        if repo is None or not self.s.can_read(repo, self.v.viewer):
            raise self.h.not_found()
        return repo

    def need_write(self, repo):
        if not self.s.can_write(repo, self.v.viewer):
            raise HTTPError(Reply(403, b"", None))

    def get_issue(self, repo, index):
        try:
            n = int(index)
        except ValueError:
            raise self.h.not_found()
        issue = repo["issues"].get(n)
        if issue is None:
            raise self.h.not_found()
        return issue

    def method_not_allowed(self):
        return HTTPError(Reply(405, b"", None))

    # -- router
    def route(self):
        p, m = self.path, self.method
        if m == "HEAD":
            m = "GET"
        if p == "/api/v1/settings/api":
            if m != "GET":
                raise self.method_not_allowed()
            a = self.h.server.double.args
            return jreply(200, {"max_response_items": a.max_response_items,
                                "default_paging_num": a.default_paging_num,
                                "default_git_trees_per_page": 1000,
                                "default_max_blob_size": 10485760,
                                "default_max_response_size": 52428800})
        if p == "/api/v1/user":
            # the token's own user, with the fields only its owner sees
            if m != "GET":
                raise self.method_not_allowed()
            if self.v.viewer is None:
                raise self.h.err(401, "token is required")
            return jreply(200, self.v.user(self.s.users[self.v.viewer["login"].lower()]))
        mt = re.match(r"^/api/v1/users/([^/]+)$", p)
        if mt:
            if m != "GET":
                raise self.method_not_allowed()
            u = self.s.users.get(urllib.parse.unquote(mt.group(1)).lower())
            if u is None:
                raise self.h.not_found()
            return jreply(200, self.v.user(u))
        mt = re.match(r"^/api/v1/(users|orgs)/([^/]+)/repos$", p)
        if mt:
            if m != "GET":
                raise self.method_not_allowed()
            u = self.s.users.get(urllib.parse.unquote(mt.group(2)).lower())
            if u is None or (mt.group(1) == "orgs" and u["type"] != "org"):
                raise self.h.not_found()
            repos = sorted((r for r in self.s.repos.values()
                            if r["owner"] is u and self.s.can_read(r, self.v.viewer)),
                           key=lambda r: r["id"])
            return self.paged(repos, self.v.repo)
        mt = re.match(self.REPO + r"(/.*)?$", p)
        if not mt:
            raise self.h.not_found()
        repo = self.get_repo(mt.group(1), mt.group(2))
        rest = mt.group(3) or ""
        if rest == "":
            if m != "GET":
                raise self.method_not_allowed()
            return jreply(200, self.v.repo(repo))
        if rest == "/issues":
            if m != "GET":
                raise self.method_not_allowed()
            return self.list_issues(repo)
        if rest == "/issues/comments":
            if m != "GET":
                raise self.method_not_allowed()
            return self.list_repo_comments(repo)
        mt = re.match(r"^/issues/comments/([^/]+)$", rest)
        if mt:
            if m != "GET":
                raise self.method_not_allowed()
            try:
                cid = int(mt.group(1))
            except ValueError:
                raise self.h.not_found()
            cm = self.s.comments.get(cid)
            if cm is None or cm["issue"]["repo"] is not repo:
                raise self.h.not_found()
            return jreply(200, self.v.comment(cm))
        mt = re.match(r"^/issues/([^/]+)$", rest)
        if mt:
            if m == "GET":
                return jreply(200, self.v.issue(self.get_issue(repo, mt.group(1))))
            if m == "PATCH":
                return self.edit_issue(repo, self.get_issue(repo, mt.group(1)), pull=False)
            raise self.method_not_allowed()
        mt = re.match(r"^/issues/([^/]+)/comments$", rest)
        if mt:
            if m not in ("GET", "POST"):
                raise self.method_not_allowed()
            try:
                issue = self.get_issue(repo, mt.group(1))
            except HTTPError as e:
                if e.reply.status == 404:  # Gitea quirk: 500, not 404
                    raise self.h.err(500, "")
                raise
            if m == "GET":
                return self.list_issue_comments(issue)
            return self.create_comment(repo, issue)
        mt = re.match(r"^/issues/([^/]+)/labels$", rest)
        if mt:
            issue = self.get_issue(repo, mt.group(1))
            if m == "GET":
                return jreply(200, [self.v.label(l) for l in self.s.issue_labels(issue)])
            if m == "PUT":
                return self.replace_labels(repo, issue)
            raise self.method_not_allowed()
        if rest == "/labels":
            if m != "GET":
                raise self.method_not_allowed()
            labs = sorted(repo["labels"], key=lambda l: (l["name"], l["id"]))
            return self.paged(labs, self.v.label, link=False)
        if rest == "/branches" or rest.startswith("/branches/"):
            if m != "GET":
                raise self.method_not_allowed()
            return self.branches(repo, rest)
        if rest == "/pulls":
            if m == "GET":
                return self.list_pulls(repo)
            if m == "POST":
                return self.create_pull(repo)
            raise self.method_not_allowed()
        mt = re.match(r"^/pulls/([^/.]+)\.(diff|patch)$", rest)
        if mt:
            if m != "GET":
                raise self.method_not_allowed()
            issue = self.get_issue(repo, mt.group(1))
            if not issue["pull"]:
                raise self.h.not_found()
            text = issue["pull"]["diff"]
            if mt.group(2) == "patch":
                text = ("From %s Mon Sep 17 00:00:00 2001\nFrom: %s <%s>\nDate: %s\n"
                        "Subject: [PATCH] %s\n\n---\n" % (
                            sha_of("patch:%d" % issue["id"]), issue["user"]["full_name"] or issue["user"]["login"],
                            issue["user"]["email"], fmt_time(issue["created"]), issue["title"])) + text
            return Reply(200, text.encode(), "text/plain; charset=utf-8")
        mt = re.match(r"^/pulls/([^/]+)$", rest)
        if mt:
            issue = self.get_issue(repo, mt.group(1))
            if not issue["pull"]:
                raise self.h.not_found()
            if m == "GET":
                return jreply(200, self.v.pull(issue))
            if m == "PATCH":
                return self.edit_issue(repo, issue, pull=True)
            raise self.method_not_allowed()
        raise self.h.not_found()

    # -- lists
    def branches(self, repo, rest):
        """From the bare repository's refs: newest commit first, then name
        (Gitea's FindBranchOptions order), paginated like every list."""
        git = self.s.git
        owner, name = repo["owner"]["login"], repo["name"]
        heads = git.branches(owner, name)
        if rest == "/branches":
            items = sorted(heads.items(), key=lambda x: (-git.commit_time(x[1]), x[0]))
            return self.paged(items, lambda x: self.v.branch(repo, x[0], x[1]))
        b = urllib.parse.unquote(rest[len("/branches/"):])
        if b not in heads:
            raise self.h.not_found()
        return jreply(200, self.v.branch(repo, b, heads[b]))

    def list_issues(self, repo):
        state = self.arg("state", "open")
        kind = self.arg("type", "")
        since, before = self.time_arg("since"), self.time_arg("before")
        want_labels = None
        if self.arg("labels", ""):
            names = [n.strip() for n in self.arg("labels").split(",") if n.strip()]
            want_labels = set()
            for n in names:
                lab = self.s.label_by_name(repo, n)
                if lab is None:
                    try:
                        lab = self.s.labels.get(int(n))
                    except ValueError:
                        lab = None
                if lab is not None and lab["repo"] is repo:
                    want_labels.add(lab["id"])
        items = []
        for i in repo["issues"].values():
            if state == "closed" and i["state"] != "closed":
                continue
            if state not in ("closed", "all") and i["state"] != "open":
                continue
            if kind == "pulls" and not i["pull"]:
                continue
            if kind == "issues" and i["pull"]:
                continue
            if since is not None and i["updated"] < since:
                continue
            if before is not None and i["updated"] > before:
                continue
            if want_labels and not want_labels.issubset(i["labels"]):
                continue
            items.append(i)
        items.sort(key=lambda i: (i["created"], i["id"]), reverse=True)
        return self.paged(items, self.v.issue)

    def list_repo_comments(self, repo):
        since, before = self.time_arg("since"), self.time_arg("before")
        items = []
        for i in repo["issues"].values():
            for cid in i["comment_ids"]:
                c = self.s.comments[cid]
                if since is not None and c["updated"] < since:
                    continue
                if before is not None and c["updated"] > before:
                    continue
                items.append(c)
        items.sort(key=lambda c: (c["created"], c["id"]))
        return self.paged(items, self.v.comment)

    def list_issue_comments(self, issue):
        since, before = self.time_arg("since"), self.time_arg("before")
        items = []
        for cid in issue["comment_ids"]:
            c = self.s.comments[cid]
            if since is not None and c["updated"] < since:
                continue
            if before is not None and c["updated"] > before:
                continue
            items.append(c)
        items.sort(key=lambda c: (c["created"], c["id"]))
        return jreply(200, [self.v.comment(c) for c in items],
                      [("X-Total-Count", str(len(items))),
                       ("Access-Control-Expose-Headers", "X-Total-Count")])

    def list_pulls(self, repo):
        state = self.arg("state", "")
        items = [i for i in repo["issues"].values() if i["pull"]
                 and (state in ("", "all") or i["state"] == state)]
        sort = self.arg("sort", "")
        if sort == "oldest":
            items.sort(key=lambda i: (i["created"], i["id"]))
        elif sort == "recentupdate":
            items.sort(key=lambda i: (i["updated"], i["id"]), reverse=True)
        elif sort == "leastupdate":
            items.sort(key=lambda i: (i["updated"], i["id"]))
        else:
            items.sort(key=lambda i: (i["created"], i["id"]), reverse=True)
        return self.paged(items, self.v.pull)

    # -- writes
    def edit_issue(self, repo, issue, pull):
        form = self.json_body()
        self.need_write(repo)
        state = form.get("state")
        if state is not None:
            if not isinstance(state, str):
                raise self.h.err(422, "[State]: must be a string")
            if not pull and state not in ("open", "closed"):
                raise self.h.err(412, "unknown state: %s" % state)
            if pull:
                state = "closed" if state == "closed" else "open"
            if issue["pull"] and issue["pull"]["merged"] and state != issue["state"]:
                raise self.h.err(412, "cannot change state of this pull request, it was already merged")
        title = form.get("title")
        if title is not None and not isinstance(title, str):
            raise self.h.err(422, "[Title]: must be a string")
        body = form.get("body")
        if body is not None and not isinstance(body, str):
            raise self.h.err(422, "[Body]: must be a string")
        cv = form.get("content_version")
        if body is not None and cv is not None:
            if not isinstance(cv, int) or cv != issue["content_version"]:
                raise self.h.err(409, "the issue has been changed by someone else, "
                                      "please reload and try again")
        now = self.s.now()
        changed = False
        if title and title != issue["title"]:
            issue["title"] = title
            if issue["pull"]:
                # Gitea derives "draft" from the title's work-in-progress
                # prefix whenever it reads a pull request, so an edited title
                # is an edited draft state.
                issue["pull"]["draft"] = bool(WIP_PREFIX.match(title))
            changed = True
        if body is not None and body != issue["body"]:
            issue["body"] = body
            issue["content_version"] += 1
            changed = True
        if state is not None and state != issue["state"]:
            issue["state"] = state
            issue["closed"] = now if state == "closed" else None
            changed = True
        if changed:
            self.s.touch(issue, now)
        return jreply(201, self.v.pull(issue) if pull else self.v.issue(issue))

    def create_comment(self, repo, issue):
        form = self.json_body()
        self.need_write(repo)
        body = form.get("body")
        if not isinstance(body, str) or body == "":
            raise self.h.err(422, "[Body]: Required")
        viewer = self.v.viewer
        if issue["locked"] and not (viewer.get("is_admin") or viewer.get("_superuser")):
            raise HTTPError(Reply(403, b"", None))
        now = self.s.now()
        author = self.s.users[viewer["login"].lower()]
        cm = self.s.new_comment(issue, author, body, now, now)
        self.s.touch(issue, now)
        return jreply(201, self.v.comment(cm))

    def replace_labels(self, repo, issue):
        form = self.json_body()
        self.need_write(repo)
        want = form.get("labels")
        if want is None:
            want = []
        if not isinstance(want, list):
            raise self.h.err(422, "[Labels]: must be an array")
        ids = []
        for item in want:
            if isinstance(item, bool) or not isinstance(item, (int, float, str)):
                raise self.h.err(400, "a label must be an integer or a string")
            lab = None
            if isinstance(item, str):
                lab = self.s.label_by_name(repo, item)
            else:
                lab = self.s.labels.get(int(item))
                if lab is not None and lab["repo"] is not repo:
                    lab = None
            if lab is not None and lab["id"] not in ids:
                ids.append(lab["id"])
        if sorted(ids) != sorted(issue["labels"]):
            issue["labels"] = ids
            self.s.touch(issue, self.s.now())
        return jreply(200, [self.v.label(l) for l in self.s.issue_labels(issue)])

    def create_pull(self, repo):
        form = self.json_body()
        missing = [f for f in ("head", "base", "title")
                   if not isinstance(form.get(f), str) or not form.get(f)]
        if missing:
            raise self.h.err(422, ", ".join("[%s]: Required" % f.capitalize() for f in missing))
        self.need_write(repo)
        head, base = form["head"], form["base"]
        if ":" in head:
            owner, _, branch = head.partition(":")
            if owner.lower() != repo["owner"]["login"].lower():
                raise self.h.err(422, "head repository %s does not exist" % owner)
            head = branch
        known = self.s.git.branches(repo["owner"]["login"], repo["name"])
        if head not in known:
            raise self.h.err(422, "head branch %s does not exist" % head)
        if base not in known:
            raise self.h.err(422, "base branch %s does not exist" % base)
        if head == base:
            raise self.h.err(422, "there are no changes between the head and the base")
        for i in repo["issues"].values():
            p = i["pull"]
            if p and i["state"] == "open" and p["head"] == head and p["base"] == base:
                raise self.h.err(409, "pull request already exists for these targets "
                                      "[id: %d, issue_id: %d, head_repo_id: %d, base_repo_id: %d, "
                                      "head_branch: %s, base_branch: %s]" % (
                                          p["id"], i["id"], repo["id"], repo["id"], head, base))
        now = self.s.now()
        number = repo["next_number"]
        repo["next_number"] += 1
        author = self.s.users[self.v.viewer["login"].lower()]
        issue = {
            "id": self.s.next_issue_id, "number": number, "repo": repo,
            "title": form["title"], "body": form.get("body") or "", "user": author,
            "state": "open", "created": now, "updated": now, "closed": None,
            "labels": [], "assignees": [], "locked": False, "due_date": None,
            "content_version": 0, "comment_ids": [], "pull": None,
        }
        self.s.next_issue_id += 1
        for lid in form.get("labels") or []:
            lab = self.s.labels.get(lid) if isinstance(lid, int) else None
            if lab is not None and lab["repo"] is repo and lid not in issue["labels"]:
                issue["labels"].append(lid)
        for a in form.get("assignees") or []:
            u = self.s.users.get(str(a).lower())
            if u is not None and u not in issue["assignees"]:
                issue["assignees"].append(u)
        issue["pull"] = {
            "id": self.s.alloc_pr_id(issue["id"]), "head": head, "base": base,
            "merged": False, "merged_at": None, "merged_by": None,
            "draft": bool(WIP_PREFIX.match(form["title"])),
            "diff": repo["branches"].get(head, {}).get("diff"),
            "allow_maintainer_edit": bool(form.get("allow_maintainer_edit", False)),
        }
        if not issue["pull"]["diff"]:  # the real diff, kept fresh by pushes
            issue["pull"]["git_diff"] = True
            issue["pull"]["diff"] = self.s.git.diff(repo["owner"]["login"], repo["name"],
                                                    base, head) or synth_diff(repo, head, number)
        self.s.git.sync_pull_refs(repo["owner"]["login"], repo["name"], [(number, head)])
        repo["issues"][number] = issue
        self.s.touch(issue, now)
        return jreply(201, self.v.pull(issue))


# ----------------------------------------------------------------- main ----

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        # a client that goes away mid-answer is normal in fault tests
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Stateful Gitea 1.26 test double")
    ap.add_argument("--seed", required=True, help="seed JSON file")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--token-file")
    ap.add_argument("--root-url", help="Gitea ROOT_URL used in every URL it prints")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--max-response-items", type=int, default=50)
    ap.add_argument("--default-paging-num", type=int, default=30)
    ap.add_argument("--generate", action="append", metavar="OWNER/REPO:ISSUES:PULLS:COMMENTS")
    ap.add_argument("--git-dir", help="where the bare repositories go (default: a temp dir "
                                      "removed at exit)")
    args = ap.parse_args(argv)
    if args.max_response_items < 1 or args.default_paging_num < 1:
        ap.error("paging numbers must be positive")
    if args.latency_ms < 0:
        ap.error("--latency-ms must not be negative")
    return args


def main(argv=None):
    args = parse_args(argv if argv is not None else sys.argv[1:])
    try:
        with open(args.seed, encoding="utf-8") as f:
            seed = json.load(f)
        double = Double(args, seed)
    except (OSError, ValueError, SeedError, githttp.GitError) as e:
        sys.stderr.write("gitea_double: %s\n" % e)
        return 2
    try:
        server = Server(("127.0.0.1", args.port), Handler)
    except OSError as e:
        double.git.cleanup()
        sys.stderr.write("gitea_double: %s\n" % e)
        return 2
    server.double = double

    def stop(signum, frame):
        double.stopping.set()
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    sys.stderr.write("gitea_double: listening on 127.0.0.1:%d\n" % port)
    sys.stderr.write("gitea_double: git repositories in %s\n" % double.git.root)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        double.stopping.set()
        server.server_close()
        double.git.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
