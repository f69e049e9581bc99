#!/usr/bin/python3
"""Reads every bottles/*/resolved.json of a mount, one open and read each,
from this one process (bench/bottles, issue 13).

Usage: bottles_read.py MOUNTPOINT [--out FILE]

Prints the seconds the listing and the reads took (the interpreter's
start excluded). A bottle whose resolved.json fails with EIO is a failing
bottle (its error file says why). With --out, writes {name: resolved
object or null} in the form bottles_baseline.py writes.
"""
import errno
import json
import os
import sys
import time


def main():
    mnt = sys.argv[1]
    out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else None
    base = os.path.join(mnt, "bottles")
    got = {}
    t0 = time.perf_counter()
    for name in sorted(os.listdir(base)):
        try:
            with open(os.path.join(base, name, "resolved.json"), "rb") as f:
                got[name] = f.read()
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            got[name] = None
    t1 = time.perf_counter()
    print("%.4f" % (t1 - t0))
    if out:
        with open(out, "w") as f:
            json.dump({k: json.loads(v) if v is not None else None for k, v in got.items()}, f)


if __name__ == "__main__":
    main()
