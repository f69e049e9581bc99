#!/usr/bin/env python3
"""Derive the subset of GitHub's REST API description that the GitHub double
(and the GitHub adapter) use, in a form Prism 5 validates against.

    npm install --prefix DIR @octokit/openapi@23.0.2
    python3 tests/contract/github/derive.py \
        DIR/node_modules/@octokit/openapi/generated/api.github.com.json \
        tests/contract/github/api.github.com.subset.json

What it does (README.md beside this file says why):
  1. keeps only the operations in OPERATIONS, and only the components they
     reference (transitively);
  2. drops every `examples`/`example` (megabytes Prism does not need in
     proxy mode) and the `x-github*` extension keys;
  3. adds `304` (no body) to every kept GET, since conditional requests may
     be answered 304 on any of them;
  4. adds the `application/vnd.github.diff` and `.patch` media types to the
     200 answer of GET /repos/{owner}/{repo}/pulls/{pull_number};
  5. adds `/repositories/{repository_id}/...`, `/user/{account_id}/repos`
     and `/organizations/{org_id}/repos` copies of the paginated lists:
     GitHub's Link headers point at those URLs but the description does
     not list them.
The output is deterministic (sorted keys, two-space indent).
"""

import copy
import json
import sys

OPERATIONS = [
    ("get", "/user"),
    ("get", "/users/{username}"),
    ("get", "/users/{username}/repos"),
    ("get", "/orgs/{org}/repos"),
    ("get", "/rate_limit"),
    ("get", "/repos/{owner}/{repo}"),
    ("get", "/repos/{owner}/{repo}/issues"),
    ("get", "/repos/{owner}/{repo}/issues/comments"),
    ("get", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("patch", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("put", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("get", "/repos/{owner}/{repo}/labels"),
    ("get", "/repos/{owner}/{repo}/pulls"),
    ("post", "/repos/{owner}/{repo}/pulls"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("patch", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("get", "/repos/{owner}/{repo}/branches"),
    ("get", "/repos/{owner}/{repo}/branches/{branch}"),
]

# (alias path, source path, the path parameter the alias takes instead)
ALIASES = [
    ("/repositories/{repository_id}/issues", "/repos/{owner}/{repo}/issues", "repository_id"),
    ("/repositories/{repository_id}/issues/comments", "/repos/{owner}/{repo}/issues/comments",
     "repository_id"),
    ("/repositories/{repository_id}/issues/{issue_number}/comments",
     "/repos/{owner}/{repo}/issues/{issue_number}/comments", "repository_id"),
    ("/repositories/{repository_id}/issues/{issue_number}/labels",
     "/repos/{owner}/{repo}/issues/{issue_number}/labels", "repository_id"),
    ("/repositories/{repository_id}/labels", "/repos/{owner}/{repo}/labels", "repository_id"),
    ("/repositories/{repository_id}/pulls", "/repos/{owner}/{repo}/pulls", "repository_id"),
    ("/repositories/{repository_id}/branches", "/repos/{owner}/{repo}/branches",
     "repository_id"),
    ("/user/{account_id}/repos", "/users/{username}/repos", "account_id"),
    ("/organizations/{org_id}/repos", "/orgs/{org}/repos", "org_id"),
]

REPLACED_PARAMS = {"#/components/parameters/owner", "#/components/parameters/repo",
                   "#/components/parameters/username", "#/components/parameters/org"}


def strip(node):
    """Drop examples and x-github blocks, recursively (in place)."""
    if isinstance(node, dict):
        for k in [k for k in node if k in ("examples", "example") or k.startswith("x-github")]:
            node.pop(k)
        for v in node.values():
            strip(v)
    elif isinstance(node, list):
        for v in node:
            strip(v)


def refs(node, out):
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str) and r.startswith("#/components/"):
            out.add(r)
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: derive.py api.github.com.json OUT.json\n")
        return 2
    with open(argv[1], encoding="utf-8") as f:
        full = json.load(f)
    paths = {}
    for method, path in OPERATIONS:
        op = full["paths"].get(path, {}).get(method)
        if op is None:
            sys.stderr.write("derive.py: %s %s is not in the description\n" % (method, path))
            return 1
        item = paths.setdefault(path, {})
        if "parameters" in full["paths"][path]:
            item["parameters"] = copy.deepcopy(full["paths"][path]["parameters"])
        item[method] = copy.deepcopy(op)
    strip(paths)
    for path, item in paths.items():
        get = item.get("get")
        if get is not None:
            get["responses"].setdefault("304", {"$ref": "#/components/responses/not_modified"})
    pr = paths["/repos/{owner}/{repo}/pulls/{pull_number}"]["get"]["responses"]["200"]
    for media in ("application/vnd.github.diff", "application/vnd.github.patch"):
        pr["content"][media] = {"schema": {"type": "string"}}
    for alias, source, param in ALIASES:
        item = copy.deepcopy(paths[source])
        for method, op in item.items():
            if method == "parameters":
                continue
            op["operationId"] = op["operationId"] + "-by-id"
            op["parameters"] = [{"name": param, "in": "path", "required": True,
                                 "schema": {"type": "integer"}}] + [
                p for p in op.get("parameters", []) if p.get("$ref") not in REPLACED_PARAMS]
        paths[alias] = item
    # the components the kept operations reference, transitively
    want, seen = set(), set()
    refs(paths, want)
    comps = {}
    while want - seen:
        r = sorted(want - seen)[0]
        seen.add(r)
        _, _, kind, name = r.split("/", 3)
        node = copy.deepcopy(full["components"][kind][name])
        strip(node)
        comps.setdefault(kind, {})[name] = node
        found = set()
        refs(node, found)
        want |= found
    out = {
        "openapi": full["openapi"],
        "info": {"title": full["info"]["title"] + " (subset for the bottlefs GitHub double)",
                 "version": full["info"]["version"], "license": full["info"]["license"],
                 "description": "Derived by tests/contract/github/derive.py from "
                                "@octokit/openapi generated/api.github.com.json; see README.md."},
        "servers": full.get("servers", []),
        "paths": paths,
        "components": comps,
    }
    with open(argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    sys.stderr.write("derive.py: %d paths, %d components\n" % (
        len(paths), sum(len(v) for v in comps.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
