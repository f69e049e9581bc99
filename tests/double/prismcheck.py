"""Prism (Stoplight) in proxy mode in front of a double, for contract tests.

    with PrismProxy(spec, "http://127.0.0.1:PORT", tmpdir) as prism:
        ... send requests to prism.port, read r.getheader("sl-violations") ...
        prism.violation_lines()  # what Prism logged as a violation

PrismProxy.available(spec) says whether node, Prism and the spec are there
(PRISM_JS, else the repository's .cache/prism that scripts/setup installs).
require(testcase, spec) skips a test without them, except under CI=true,
where a contract check that cannot run is a failure.  The process is
started on a free port and stopped by its PID.

With --errors, Prism reports a bad answer with an sl-violations header and
a [VALIDATOR] line, but a request outside the description (an unknown
path, a bad body) only as a prism/errors#... line: violation_lines() counts
all of them, like assert_prism_clean in tests/helpers/common.bash.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
_CANDIDATES = [
    os.environ.get("PRISM_JS"),
    os.path.join(HERE, "..", "..", ".cache", "prism", "node_modules", "@stoplight",
                 "prism-cli", "dist", "index.js"),
]
VIOLATION = re.compile(r"VALIDATOR|sl-violations|prism/errors#(VIOLATIONS|UNPROCESSABLE_ENTITY|"
                       r"NO_PATH_MATCHED_ERROR|NO_METHOD_MATCHED_ERROR)")


def prism_js():
    return next((os.path.abspath(c) for c in _CANDIDATES if c and os.path.exists(c)), None)


class PrismProxy:
    def __init__(self, spec, upstream, tmp):
        self.spec, self.upstream = spec, upstream
        self.log_path = os.path.join(tmp, "prism.%d.log" % id(self))
        self.proc = None
        self.port = None

    @staticmethod
    def available(spec):
        return bool(os.path.exists(spec) and prism_js() and shutil.which("node"))

    @staticmethod
    def require(testcase, spec):
        if PrismProxy.available(spec):
            return
        why = "need %s, Prism (PRISM_JS or .cache/prism) and node" % spec
        if os.environ.get("CI") == "true":
            testcase.fail("contract check cannot run: " + why)
        print("\nSKIP prism: " + why, file=sys.stderr)
        testcase.skipTest("prism not available")

    def __enter__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                ["node", prism_js(), "proxy", "--errors", "-h", "127.0.0.1", "-p", str(self.port),
                 self.spec, self.upstream], stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > end or self.proc.poll() is not None:
                    self.__exit__(None, None, None)
                    with open(self.log_path) as f:
                        raise RuntimeError("prism did not start: " + f.read()[-2000:])
                time.sleep(0.2)

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def violation_lines(self, allow=None):
        """Log lines reporting a violation, but those matching allow (a regex)."""
        return [l for l in self.log_text().splitlines()
                if VIOLATION.search(l) and not (allow and re.search(allow, l))]
