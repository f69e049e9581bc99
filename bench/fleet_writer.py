#!/usr/bin/env python3
"""fleet_writer: posts N comments through one mount, one after another, and
prints each write's time (open, write, close: journal, send, answer) in
milliseconds, one a line. Used by bench/fleet.

    fleet_writer.py PATH N
"""
import os
import sys
import time


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        os.write(fd, ("bench comment %d from %d" % (i, os.getpid())).encode())
        os.close(fd)
        out.append((time.perf_counter() - t0) * 1000.0)
    print("\n".join("%.3f" % v for v in out))


if __name__ == "__main__":
    main()
