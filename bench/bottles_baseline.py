#!/usr/bin/python3
"""The baseline of bench/bottles (issue 13): what an orchestrator would
otherwise run. Lists a bottles directory, parses every bottle with PyYAML
and resolves each one with the fold rules of SPEC section 4 (the same
rules as manifest/resolve.c), in one process, memoising within the run.

Usage: bottles_baseline.py DIR [--out FILE] [--loader safe|csafe]

Prints the seconds it took (the interpreter's start and `import yaml`
excluded) and, with --out, writes {name: resolved object or null when the
bottle fails} for bench/bottles to compare with what the mount shows.
--loader csafe uses PyYAML's libyaml-based CSafeLoader instead of the
default pure-Python SafeLoader (the figure bench/bottles shows beside).
"""
import copy
import json
import os
import re
import sys
import time

import yaml

NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}\Z")


class BottleError(Exception):
    pass


def kind(v):
    if isinstance(v, dict):
        return "map"
    if isinstance(v, list):
        return "list"
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    return "null"


def is_fence(line):
    return line.startswith("---") and line[3:].strip(" \t") == ""


class Directory:
    def __init__(self, d, loader):
        self.d = d
        self.loader = loader
        self.md = set()
        for e in os.listdir(d):
            if len(e) > 3 and e.endswith(".md") and NAME.match(e[:-3]) and os.path.isfile(os.path.join(d, e)):
                self.md.add(e[:-3])
        self.mj, self.mj_err = {}, None
        p = os.path.join(d, "manifest.json")
        if os.path.exists(p):
            try:
                with open(p, encoding="utf-8") as f:
                    root = json.load(f)
                if not isinstance(root, dict) or not isinstance(root.get("bottles", {}), dict):
                    raise ValueError("not {\"bottles\": {...}}")
                self.mj = {k: v for k, v in root.get("bottles", {}).items() if NAME.match(k)}
            except ValueError as e:
                self.mj_err = str(e)
        self.raw = {}

    def names(self):
        return sorted(self.md | set(self.mj))

    def get(self, name):
        """The raw bottle, or None when undefined; BottleError when broken."""
        if name in self.raw:
            return self.raw[name]
        if name in self.md:
            if name in self.mj:
                raise BottleError("bottle '%s' is defined twice" % name)
            with open(os.path.join(self.d, name + ".md"), encoding="utf-8") as f:
                text = f.read()
            if text.startswith("\ufeff"):
                text = text[1:]
            lines = text.split("\n")
            if not is_fence(lines[0].rstrip("\r")):
                raise BottleError("bottle '%s' has no front matter" % name)
            for end in range(1, len(lines)):
                if is_fence(lines[end].rstrip("\r")):
                    break
            else:
                raise BottleError("bottle '%s': front matter not closed" % name)
            try:
                v = yaml.load("\n".join(lines[1:end]), Loader=self.loader)
            except yaml.YAMLError as e:
                raise BottleError("bottle '%s': %s" % (name, e))
            if v is None:
                v = {}
            if not isinstance(v, dict):
                raise BottleError("bottle '%s': not a mapping" % name)
        elif self.mj_err is not None:
            raise BottleError("bottle '%s': %s" % (name, self.mj_err))
        elif name in self.mj:
            v = self.mj[name]
            if not isinstance(v, dict):
                raise BottleError("bottle '%s' must be a map (was %s)" % (name, kind(v)))
        else:
            return None
        self.raw[name] = v
        return v


def type_error(b, field, want, v):
    raise BottleError("bottle '%s' %s must be %s (was %s)" % (b, field, want, kind(v)))


def merge_env(acc, v, b):
    if not isinstance(v, dict):
        type_error(b, "env", "a map", v)
    if v:
        acc.setdefault("env", {}).update(copy.deepcopy(v))


def merge_gitgate(acc, v, b):
    if not isinstance(v, dict):
        type_error(b, "git-gate", "a map", v)
    if "git-gate" not in acc and not v:
        return
    gg = acc.setdefault("git-gate", {})
    for k, x in v.items():
        if x is None:
            continue
        if k == "user":
            if not isinstance(x, dict):
                type_error(b, "git-gate.user", "a map", x)
            for uk, ux in x.items():
                if ux is None or ux == "":
                    continue
                gg.setdefault("user", {})[uk] = copy.deepcopy(ux)
        elif k == "repos":
            if not isinstance(x, dict):
                type_error(b, "git-gate.repos", "a map", x)
            for rn, rv in x.items():
                if rv is None:
                    continue
                if not isinstance(rv, dict):
                    type_error(b, "git-gate.repos." + rn, "a map", rv)
                repo = gg.setdefault("repos", {}).setdefault(rn, {})
                for rk, rx in rv.items():
                    if rx is not None:
                        repo[rk] = copy.deepcopy(rx)
        else:
            gg[k] = copy.deepcopy(x)
    if not gg:
        del acc["git-gate"]


def merge_egress(acc, v, b):
    if not isinstance(v, dict):
        type_error(b, "egress", "a map", v)
    if "egress" not in acc and not v:
        return
    eg = acc.setdefault("egress", {})
    for k, x in v.items():
        if x is None:
            continue
        if k != "routes":
            eg[k] = copy.deepcopy(x)
            continue
        if not isinstance(x, list):
            type_error(b, "egress.routes", "a list", x)
        for i, route in enumerate(x):
            if not isinstance(route, dict) or not isinstance(route.get("host"), str):
                raise BottleError("bottle '%s' egress.routes[%d] must be a map with a string host" % (b, i))
            routes = eg.setdefault("routes", [])
            same = [have for have in routes if have["host"] == route["host"]]
            if same and same[0] != route:
                raise BottleError("bottle '%s' has two different routes for host '%s'" % (b, route["host"]))
            if not same:
                routes.append(copy.deepcopy(route))
    if isinstance(eg.get("routes"), list) and not eg["routes"]:
        del eg["routes"]
    if not eg:
        del acc["egress"]


def merge(acc, later, b):
    for k, v in later.items():
        if v is None or k == "extends":
            continue
        if k == "env":
            merge_env(acc, v, b)
        elif k == "git-gate":
            merge_gitgate(acc, v, b)
        elif k == "egress":
            merge_egress(acc, v, b)
        elif k == "agent_provider" and not isinstance(v, str):
            type_error(b, "agent_provider", "a string", v)
        elif k == "supervise" and not isinstance(v, bool):
            type_error(b, "supervise", "true or false", v)
        else:
            acc[k] = copy.deepcopy(v)


def resolve(d, name, memo, stack):
    raw = d.get(name)
    if raw is None:
        raise BottleError("bottle '%s' is not defined" % name)
    ext = raw.get("extends")
    if ext is None:
        parents = []
    elif isinstance(ext, str):
        parents = [ext]
    elif isinstance(ext, list):
        parents = ext
    else:
        type_error(name, "extends", "a string or list of strings", ext)
    for i, p in enumerate(parents):
        if not isinstance(p, str):
            raise BottleError("bottle '%s' extends[%d] must be a string" % (name, i))
    if name in parents:
        raise BottleError("bottle '%s' extends itself" % name)
    stack.add(name)
    for p in parents:
        if p in memo:
            continue
        if p in stack:
            raise BottleError("bottle '%s' is in an extends cycle" % p)
        if not NAME.match(p) or d.get(p) is None:
            raise BottleError("bottle '%s' extends '%s' which is not defined" % (name, p))
        resolve(d, p, memo, stack)
    stack.discard(name)
    acc = {}
    for p in parents:
        merge(acc, memo[p], name)
    merge(acc, raw, name)
    memo[name] = acc
    return acc


def main():
    args = sys.argv[1:]
    out = args[args.index("--out") + 1] if "--out" in args else None
    which = args[args.index("--loader") + 1] if "--loader" in args else "safe"
    loader = yaml.CSafeLoader if which == "csafe" else yaml.SafeLoader
    t0 = time.perf_counter()
    d = Directory(args[0], loader)
    memo, results = {}, {}
    for name in d.names():
        try:
            results[name] = json.dumps(resolve(d, name, memo, set()), indent=2) + "\n"
        except BottleError:
            results[name] = None
    t1 = time.perf_counter()
    print("%.4f" % (t1 - t0))
    if out:
        with open(out, "w") as f:
            json.dump({k: json.loads(v) if v is not None else None for k, v in results.items()}, f)


if __name__ == "__main__":
    main()
