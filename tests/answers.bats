#!/usr/bin/env bats
# What the forge sends back (issue 12, item 5): answers up to --max-answer
# (64 MiB) are read, JSON as it arrives, so a long thread or a big diff
# never makes an issue unreadable; a diff over the cap is one line saying
# so; a write the forge answered 2xx is done even when its echo is over the
# cap. The daemon talks to the double directly here: Prism would hold each
# multi-megabyte body in memory to validate it, and the contract of these
# endpoints is checked by the other suites.

load helpers/common

api() { python3 "$REPO_ROOT/tests/helpers/api.py" "$DOUBLE_URL" "$TOKEN" "$@"; }

# vm KEY: the daemon's /proc status value in kB (VmHWM: its peak RSS).
vm() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$(cat "$T/bottlefs.pid")/status"; }

# The bound on the daemon's peak RSS in kB: 400 MB, plus the 256 MB an
# AddressSanitizer build keeps in quarantine (freed memory counts in its RSS).
rss_bound() {
	if ldd "$BOTTLEFS" 2>/dev/null | grep -q libasan; then
		echo $((400000 + 262144))
	else
		echo 400000
	fi
}

setup_file() {
	bfs_tmp
	start_double "$REPO_ROOT/tests/double/seed/demo.json"
	FORGE_URL="$DOUBLE_URL"
	export FORGE_URL
	mount_bfs --assign alice/dotfiles#2 --cache-ttl 60
}

teardown_file() { leave_shared; }

setup() {
	enter_shared
	log_reset
}

# The stub test's own daemon and forge, stopped by PID even when it failed midway.
stop_stub() {
	if [ -f "$T/stub-bfs.pid" ]; then
		fusermount3 -u "$T/mnt-stub" 2>/dev/null || fusermount3 -uz "$T/mnt-stub" 2>/dev/null
		stop_pid "$T/stub-bfs.pid"
	fi
	stop_pid "$T/stub.pid"
}

teardown() {
	stop_stub
	check_shared
}

D=forge/alice/dotfiles

@test "a thread whose comments total 12 MiB stays readable: comments/, thread.md, each comment" {
	local i ids hwm_before hwm
	# Twelve comments of 1 MiB each, posted through the forge's API; GitHub
	# takes at most 65 536 characters a comment: 200 of 64 000 there.
	local n=12 size=$((1 << 20))
	forge_is github && n=200 size=64000
	for i in $(seq 1 $n); do
		python3 - "$DOUBLE_URL" "$TOKEN" "$i" "$size" <<'PY'
import json, os, sys, urllib.request
base, token, i, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
body = ("comment %s " % i) + chr(ord("a") + int(i) % 26) * size
req = urllib.request.Request(base + os.environ["API"] + "/repos/alice/dotfiles/issues/5/comments",
                             data=json.dumps({"body": body}).encode(), method="POST",
                             headers={"Authorization": "token " + token,
                                      "Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=30).read()
PY
	done
	local total=0 page
	if forge_is github; then
		for page in 1 2 3; do
			total=$((total + $(api "/repos/alice/dotfiles/issues/5/comments?per_page=100&page=$page" 'sum(len(c["body"]) for c in j)')))
		done
	else
		total="$(api /repos/alice/dotfiles/issues/5/comments 'sum(len(c["body"]) for c in j)')"
	fi
	[ "$total" -gt $((12 << 20)) ]
	hwm_before="$(vm VmHWM)"
	ids="$(ls "$MNT/$D/issues/5/comments" | grep -v '^new$')"
	[ "$(echo "$ids" | wc -l)" -ge $n ]
	[ "$(stat -c %s "$MNT/$D/issues/5/thread.md")" -gt $((12 << 20)) ]
	grep -c "^## .* commented at" "$MNT/$D/issues/5/thread.md" >"$T/n"
	[ "$(cat "$T/n")" -ge $n ]
	for i in $ids; do
		api "/repos/alice/dotfiles/issues/comments/$i" 'j["body"]' >"$T/want"
		cmp "$T/want" "$MNT/$D/issues/5/comments/$i"
	done
	stat "$MNT/$D/issues/5/comments/new" >/dev/null
	# Reading it all again, many times, does not grow the daemon further.
	for i in 1 2 3; do cat "$MNT/$D/issues/5/thread.md" >/dev/null; done
	hwm="$(vm VmHWM)"
	echo "# daemon peak RSS: $hwm_before kB before, $hwm kB after a 12 MiB thread" >&3
	[ "$hwm" -lt "$(rss_bound)" ]
}

@test "a 20 MiB diff is shown as it is; one over the cap is a one-line notice, the PR stays readable" {
	faults "[{\"method\": \"GET\", $(diff_rule 3), \"big\": 20971520},
		 {\"method\": \"GET\", $(diff_rule 4), \"big\": 67108865}]"
	[ "$(stat -c %s "$MNT/$D/pulls/3/diff")" -eq 20971520 ]
	head -c 10 "$MNT/$D/pulls/3/diff" | grep -q '^\["xxxxxxx'
	# Over the cap: the directory, its files and the diff file all read.
	ls "$MNT/$D/pulls/4" >/dev/null
	cat "$MNT/$D/pulls/4/title" >/dev/null
	ls -l "$MNT/$D/pulls/4/" >/dev/null
	[ "$(wc -l <"$MNT/$D/pulls/4/diff")" -eq 1 ]
	grep -q "^bottlefs: the diff is 67108865 bytes, more than the 67108864 bytes read (--max-answer)$" \
		"$MNT/$D/pulls/4/diff"
	# Remembered like a diff: a second look does not fetch it again.
	cat "$MNT/$D/pulls/4/diff" >/dev/null
	# (On GitHub the path counts the pull request's own GET too.)
	[ "$(log_count GET "$(diff_path 4)")" -eq "$(forge_is github && echo 2 || echo 1)" ]
	echo "# daemon peak RSS after the diffs: $(vm VmHWM) kB" >&3
	[ "$(vm VmHWM)" -lt "$(rss_bound)" ]
}

# A forge stand-in that applies writes and answers them with an echo far
# over --max-answer (8 MiB here), as a Gitea with a huge object would.
start_stub() {
	cat >"$T/stub.py" <<'PY'
import http.server, json, os, sys, threading
API = os.environ.get("API", "/api/v1")
port_file, count_file = sys.argv[1], sys.argv[2]
posts = []
ISSUE = {"id": 1, "number": 1, "title": "t", "body": "b", "state": "open",
         "user": {"login": "alice"}, "labels": [], "comments": 0,
         "updated_at": "2026-01-01T00:00:00Z", "pull_request": None}
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def reply(self, status, head, size):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(head) + size + 2))
        self.end_headers()
        try:
            self.wfile.write(head)
            chunk = b"x" * 65536
            left = size
            while left > 0:
                self.wfile.write(chunk[:left])
                left -= min(left, 65536)
            self.wfile.write(b'"}')
        except OSError:
            pass
    def do_GET(self):
        if self.path == API + "/repos/o/r/issues/1":
            b = json.dumps(ISSUE).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(b)))
            self.end_headers()
            self.wfile.write(b)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        posts.append(self.path)
        open(count_file, "w").write("\n".join(posts) + "\n")
        if self.path == API + "/repos/o/r/issues/1/comments":
            self.reply(201, b'{"id": 4242, "html_url": "x", "body": "', 9 << 20)
        elif self.path == API + "/repos/o/r/pulls":
            self.reply(201, b'{"id": 90, "url": "x", "number": 7, "body": "', 9 << 20)
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(port_file + ".tmp", "w").write(str(s.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
s.serve_forever()
PY
	rm -f "$T/stub.port"
	python3 "$T/stub.py" "$T/stub.port" "$T/stub.posts" >"$T/stub.log" 2>&1 3>&- &
	echo $! >"$T/stub.pid"
	wait_for 10 test -s "$T/stub.port"
}

@test "a comment or pull request answered 201 with an echo over the cap is done, once" {
	local mnt="$T/mnt-stub" out
	start_stub
	mkdir -p "$mnt"
	"$BOTTLEFS" --forge "$BFS_FORGE" --forge-url "http://127.0.0.1:$(cat "$T/stub.port")" --token-file "$T/token" \
		--state "$T/stub.db" --queue "$T/stub-queue" --assign o/r#1 --max-answer 8M \
		-f "$mnt" >"$T/stub-bfs.log" 2>&1 3>&- &
	echo $! >"$T/stub-bfs.pid"
	wait_for 20 dd if="$mnt/.bottlefs/scope" of=/dev/null status=none
	out="$($FSOP write "$mnt/forge/o/r/issues/1/comments/new" "hello")"
	out2="$(python3 - "$mnt/forge/o/r/pulls/new" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, b'{"title": "t", "head": "h", "base": "main"}')
os.lseek(fd, 0, 0)
print(os.read(fd, 64).decode().strip())
os.close(fd)
PY
)"
	journal="$("$BOTTLEFS" state journal --state "$T/stub.db")"
	fusermount3 -u "$mnt"
	stop_pid "$T/stub-bfs.pid"
	stop_pid "$T/stub.pid"
	cat "$T/stub-bfs.log" >&2
	echo "$journal" >&2
	[ "$out" = OK ]
	[ "$out2" = 7 ]
	[ "$(grep -c 'issues/1/comments$' "$T/stub.posts")" -eq 1 ]
	[ "$(grep -c '/pulls$' "$T/stub.posts")" -eq 1 ]
	echo "$journal" | grep -q "comment 4242"
	echo "$journal" | grep -q "pull 7"
	! grep -q "response too large" "$T/stub-bfs.log"
}

@test "--max-answer takes 8M to 1G and refuses anything else at start" {
	for v in 7M 0 2G 10X -1 ""; do
		run "$BOTTLEFS" --forge "$BFS_FORGE" --forge-url "$DOUBLE_URL" --max-answer "$v" "$T/nomount"
		[ "$status" -ne 0 ]
		echo "$output" | grep -q -- "--max-answer must be a size from 8M to 1G"
	done
	run "$BOTTLEFS" --forge "$BFS_FORGE" --forge-url "$DOUBLE_URL" --max-prs 0 "$T/nomount"
	[ "$status" -ne 0 ]
	echo "$output" | grep -q -- "--max-prs must be a whole number from 1 to 10000"
}
