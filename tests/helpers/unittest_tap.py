#!/usr/bin/env python3
"""Runs a directory of Python unittest files and prints TAP, one line per test.

A skipped test is reported as "ok ... # SKIP" and is not counted as passing
by scripts/test (it counts lines starting "ok " only when not skipped).
Usage: unittest_tap.py DIR
"""
import sys
import unittest


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, extra=""):
        self.n += 1
        print("%s %d - %s%s" % ("ok" if ok else "not ok", self.n, test.id(), extra), flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        for l in self._exc_info_to_string(err, test).splitlines():
            print("# " + l)

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        for l in self._exc_info_to_string(err, test).splitlines():
            print("# " + l)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, " # SKIP " + reason)


def main():
    suite = unittest.defaultTestLoader.discover(sys.argv[1])
    result = TapResult()
    suite.run(result)
    print("1..%d" % result.n)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
