#!/usr/bin/env python3
"""fsop: run one filesystem call and print OK or the errno name.

bats tests use it to check an exact errno without matching message text:
    run fsop.py mkdir "$MNT/forge/x"   ->  EACCES
Usage: fsop.py OP PATH [ARG]
"""
import errno
import os
import sys


def main():
    op, path = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    try:
        if op == "stat":
            os.stat(path)
        elif op == "read":
            with open(path, "rb") as f:
                f.read()
        elif op == "open_w":
            os.close(os.open(path, os.O_WRONLY))
        elif op == "open_rw":
            os.close(os.open(path, os.O_RDWR))
        elif op == "open_trunc":
            os.close(os.open(path, os.O_WRONLY | os.O_TRUNC))
        elif op == "open_append":
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        elif op == "write":
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, (arg or "x").encode())
            finally:
                os.close(fd)
        elif op == "create":
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        elif op == "mkdir":
            os.mkdir(path)
        elif op == "unlink":
            os.unlink(path)
        elif op == "rmdir":
            os.rmdir(path)
        elif op == "rename":
            os.rename(path, arg)
        elif op == "link":
            os.link(path, arg)
        elif op == "symlink":
            os.symlink(arg or "target", path)
        elif op == "truncate":
            os.truncate(path, int(arg or 0))
        elif op == "chmod":
            os.chmod(path, int(arg or "644", 8))
        elif op == "chown":
            os.chown(path, 0, 0)
        elif op == "utime":
            os.utime(path, (0, 0))
        elif op == "setxattr":
            os.setxattr(path, "user.test", b"1")
        elif op == "removexattr":
            os.removexattr(path, "user.test")
        elif op == "access_w":
            if not os.access(path, os.W_OK):
                print("NOTWRITABLE")
                return 0
        elif op == "access_r":
            if not os.access(path, os.R_OK):
                print("NOTREADABLE")
                return 0
        elif op == "listdir":
            os.listdir(path)
        else:
            print("unknown op " + op, file=sys.stderr)
            return 2
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e.errno)))
        return 0
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
