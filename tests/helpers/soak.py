#!/usr/bin/env python3
"""soak: readers and writers on a bottlefs mount for a while, checked.

Usage: soak.py MNT BASELINE_JSON OUT_JSON --seconds S --readers R --writers W
               --comment-dir forge/OWNER/REPO/issues/N/comments

BASELINE_JSON maps mount-relative paths to what they must read as (files:
the exact text; directories, with a trailing "/": the sorted entry list),
taken before any fault was injected. The content does not change during
the run, so any read that succeeds must give exactly the baseline, stale or
not. Every operation runs under a per-operation deadline; one that does not
return in time is counted as a hang.

Writers post comments through comments/new, each with a unique body, and
record whether close() returned 0 (acknowledged) or an errno (failed).

OUT_JSON gets the figures and lists: ops, errors by errno, wrong reads,
hangs, the longest operation, and the acknowledged and failed bodies, for
the caller to check against the forge.
"""
import argparse
import errno
import json
import os
import random
import threading
import time
import uuid


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = 0
        self.ok = 0
        self.errors = {}
        self.wrong = []
        self.max_ms = 0.0
        self.acked = []
        self.failed = []

    def op(self, ms, err=None, wrong=None):
        with self.lock:
            self.ops += 1
            self.max_ms = max(self.max_ms, ms)
            if err is not None:
                name = errno.errorcode.get(err, str(err))
                self.errors[name] = self.errors.get(name, 0) + 1
            elif wrong is not None:
                if len(self.wrong) < 20:
                    self.wrong.append(wrong)
            else:
                self.ok += 1


def read_path(mnt, rel):
    p = os.path.join(mnt, rel)
    if rel.endswith("/"):
        return sorted(os.listdir(p))
    with open(p, "rb") as f:
        return f.read().decode("utf-8", "replace")


def reader(mnt, baseline, stop, stats, rng):
    paths = sorted(baseline)
    while not stop.is_set():
        rel = rng.choice(paths)
        t0 = time.monotonic()
        try:
            got = read_path(mnt, rel)
        except OSError as e:
            stats.op((time.monotonic() - t0) * 1000, err=e.errno)
            continue
        ms = (time.monotonic() - t0) * 1000
        if got != baseline[rel]:
            stats.op(ms, wrong={"path": rel, "got": str(got)[:200],
                                "want": str(baseline[rel])[:200]})
        else:
            stats.op(ms)


def writer(mnt, comment_dir, w, stop, stats):
    path = os.path.join(mnt, comment_dir, "new")
    i = 0
    while not stop.is_set():
        i += 1
        body = "soak writer %d write %d %s" % (w, i, uuid.uuid4().hex)
        t0 = time.monotonic()
        err = None
        try:
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.write(fd, body.encode())
            finally:
                os.close(fd)
        except OSError as e:
            err = e.errno
        ms = (time.monotonic() - t0) * 1000
        stats.op(ms, err=err)
        with stats.lock:
            (stats.failed if err is not None else stats.acked).append(body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mnt")
    ap.add_argument("baseline")
    ap.add_argument("out")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--readers", type=int, default=12)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--comment-dir", required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    with open(a.baseline) as f:
        baseline = json.load(f)
    stats, wstats = Stats(), Stats()
    stop = threading.Event()
    threads = [threading.Thread(target=reader, daemon=True,
                                args=(a.mnt, baseline, stop, stats, random.Random(a.seed + k)))
               for k in range(a.readers)]
    threads += [threading.Thread(target=writer, daemon=True,
                                 args=(a.mnt, a.comment_dir, w, stop, wstats))
                for w in range(a.writers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    stop.wait(a.seconds)
    stop.set()
    # A thread still blocked well past the bound after the stop is a hang.
    hung = 0
    for t in threads:
        t.join(timeout=max(0.1, t0 + a.seconds + 15 - time.monotonic()))
        hung += t.is_alive()
    out = {
        "seconds": round(time.monotonic() - t0, 1),
        "read_ops": stats.ops, "read_ok": stats.ok, "read_errors": stats.errors,
        "wrong_reads": stats.wrong, "read_max_ms": round(stats.max_ms),
        "write_ops": wstats.ops, "writes_ok": len(wstats.acked),
        "writes_failed": len(wstats.failed), "write_errors": wstats.errors,
        "write_max_ms": round(wstats.max_ms), "hung_threads": hung,
        "acked": wstats.acked, "failed": wstats.failed,
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
