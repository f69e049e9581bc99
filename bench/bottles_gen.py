#!/usr/bin/python3
"""Generates a bottles directory for bench/bottles (issue 13).

Usage: bottles_gen.py DIR N [SEED]

N bottles named b00000.. in four layers (1%, 4%, 20%, 75% of N); each
bottle of a layer extends 1-3 bottles of the layer below (a string for one
parent half the time), so diamonds are common. Even-numbered bottles are
<name>.md files with YAML front matter (block style, as people write them)
and a markdown body; odd-numbered ones live in one manifest.json
(indented; compact past 20 000 bottles, to stay under 16 MiB). Keys:
env, agent_provider, supervise, git-gate (user, repos), egress (routes,
log), and an unknown key now and then.

A few errors are planted, as in a real fleet: undefined parents, invalid
YAML, a self-reference, a two-bottle cycle, a non-string extends, two
routes for one host, env that is a list, a bottle defined twice, and one
broken bottle in the third layer whose children fail with it.

Every plain scalar is one that YAML 1.1 (PyYAML) and bottlefs read the
same way (no yes/no, octal, sexagesimal or dates), so the baseline and
the mount must agree on every bottle.
"""
import json
import os
import random
import sys


def name_of(i):
    return "b%05d" % i


def layers(n):
    l1 = max(n // 100, 1)
    l2 = l1 + max(n * 4 // 100, 1)
    l3 = l2 + max(n * 20 // 100, 1)
    return [0, l1, l2, l3, max(n, l3 + 1)]


def bottle(rng, i, lo, hi):
    b = {}
    if hi > lo:
        ps = sorted({name_of(rng.randrange(lo, hi)) for _ in range(rng.randint(1, 3))})
        b["extends"] = ps[0] if len(ps) == 1 and rng.random() < 0.5 else ps
    env = {}
    for _ in range(rng.randint(1, 4)):
        env["K%d" % rng.randrange(20)] = "v%d-%d" % (i, rng.randrange(100))
    env["OWN_%d" % i] = "x"
    if rng.random() < 0.2:
        env["PORT"] = 8000 + rng.randrange(100)
    b["env"] = env
    if rng.random() < 0.3:
        b["agent_provider"] = "provider-%d" % rng.randrange(4)
    if rng.random() < 0.3:
        b["supervise"] = rng.random() < 0.5
    if rng.random() < 0.5:
        r = rng.randrange(30)
        b["git-gate"] = {
            "user": {"name": "user %d" % i, "email": "" if rng.random() < 0.5 else "u%d@example.com" % i},
            "repos": {"repo%d" % r: {"url": "ssh://git@git.example.com/%d.git" % r, "host_key": "k%d" % rng.randrange(9)}},
        }
    if rng.random() < 0.5:
        h = rng.randrange(50)
        b["egress"] = {"routes": [{"host": "h%d.example.com" % h, "port": 400 + h}]}
        if rng.random() < 0.3:
            b["egress"]["log"] = "full" if rng.random() < 0.5 else "none"
    if rng.random() < 0.1:
        b["x-team"] = "team-%d" % rng.randrange(5)
    return b


def yscalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if v == "" or ":" in v or " " in v or "@" in v:
        return json.dumps(v)
    return v


def yblock(v, indent):
    """YAML block lines for a map of scalars, maps and lists of maps."""
    pad = "  " * indent
    out = []
    for k, x in v.items():
        if isinstance(x, dict):
            out.append("%s%s:" % (pad, k))
            out.extend(yblock(x, indent + 1))
        elif isinstance(x, list) and x and isinstance(x[0], dict):
            out.append("%s%s:" % (pad, k))
            for item in x:
                first = True
                for ik, iv in item.items():
                    out.append("%s%s%s: %s" % (pad, "  - " if first else "    ", ik, yscalar(iv)))
                    first = False
        elif isinstance(x, list):
            out.append("%s%s: [%s]" % (pad, k, ", ".join(yscalar(e) for e in x)))
        else:
            out.append("%s%s: %s" % (pad, k, yscalar(x)))
    return out


def md_text(name, b):
    return "---\n%s\n---\n# Bottle %s\n\nWhat this sandbox is for, for the humans.\n" % (
        "\n".join(yblock(b, 0)), name)


def main():
    d, n = sys.argv[1], int(sys.argv[2])
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 13)
    os.makedirs(d, exist_ok=True)
    ly = layers(n)
    n = ly[4]
    bottles = {}
    for l in range(4):
        for i in range(ly[l], ly[l + 1]):
            bottles[name_of(i)] = bottle(rng, i, ly[l - 1] if l else 0, ly[l] if l else 0)
    raw_md = {}  # name -> text that is not generated from a dict

    leaves = list(range(ly[3], ly[4]))
    rng.shuffle(leaves)
    pick = iter(leaves)
    even = lambda: next(i for i in pick if i % 2 == 0)  # noqa: E731
    anyone = lambda: next(pick)  # noqa: E731
    bottles[name_of(anyone())]["extends"] = ["ghost-%d" % 1, name_of(0)]
    bottles[name_of(anyone())]["extends"] = "ghost-2"
    raw_md[name_of(even())] = "---\nenv: {A: [unclosed\n---\n"
    s = name_of(anyone())
    bottles[s]["extends"] = [s]
    a, b = name_of(anyone()), name_of(anyone())
    bottles[a]["extends"] = [b]
    bottles[b]["extends"] = a
    bottles[name_of(anyone())]["extends"] = 42
    c = name_of(anyone())
    bottles[c]["egress"] = {"routes": [{"host": "dup.example.com", "port": 1}, {"host": "dup.example.com", "port": 2}]}
    bottles[name_of(anyone())]["env"] = ["A=1"]
    twice = name_of(even())
    mid = next(i for i in range(ly[2], ly[3]) if i % 2 == 0)
    raw_md[name_of(mid)] = "---\nenv:\n  A: 1\n   B: 2\n---\n"

    mj = {}
    for name, b in bottles.items():
        i = int(name[1:])
        if name in raw_md:
            text = raw_md[name]
        elif i % 2 == 0:
            text = md_text(name, b)
        else:
            mj[name] = b
            continue
        with open(os.path.join(d, name + ".md"), "w") as f:
            f.write(text)
    mj[twice] = {"env": {"TWICE": "yes"}}
    with open(os.path.join(d, "manifest.json"), "w") as f:
        # Indented as people write it; compact past 20 000 bottles, so that
        # a 100 000-bottle directory stays under the 16 MiB file limit.
        if n <= 20000:
            json.dump({"bottles": mj}, f, indent=1)
        else:
            json.dump({"bottles": mj}, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
