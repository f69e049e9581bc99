#!/usr/bin/env bats
# What only GitHub has (issue 11): ETag revalidation (an unchanged
# repository re-read after the TTL costs only 304s), rate limits (waited
# out when the reset is near, EIO naming the reset when it is far, a
# secondary limit's retry-after honoured), a description limit counted in
# characters, an issue list that holds pull requests, Link paging, a diff
# too large for GitHub (406) and a second pull request for one head (422).
# Always against the GitHub double, whatever BFS_FORGE says; the
# rate-limit answers are not in GitHub's description, so those tests talk
# to the double without Prism.

BFS_FORGE=github
load helpers/common

D=forge/alice/dotfiles

setup() {
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	T="$BATS_TEST_TMPDIR/bfs"
	bfs_tmp
	# big/many: 140 issues and 10 pulls, 150 items: two pages of 100.
	start_double "$REPO_ROOT/tests/double/seed/demo.json" --generate big/many:140:10:1
	start_prism
	prism_mark
}

teardown() {
	stop_all
	assert_prism_clean
}

api() { python3 "$REPO_ROOT/tests/helpers/api.py" "$DOUBLE_URL" "$TOKEN" "$@"; }

# statuses: the statuses of the logged requests since log_reset, one a line.
# statuses: the status of each logged request of issues, pull requests and
# comments (the branch list and git's own paths, which repo.bundle and
# branches/ read, are not conditional: see SEMANTICS.md).
statuses() {
	double_get /_double/log | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    if not (e["path"].endswith("/branches") or ".git/" in e["path"]):
        print(e["status"])'
}

# open_pull JSON|@FILE: writes JSON (or FILE's) to pulls/new; prints the number
# read back or the errno.
open_pull() {
	python3 - "$MNT/$D/pulls/new" "$1" <<'PY'
import errno, os, sys
data = open(sys.argv[2][1:], "rb").read() if sys.argv[2][:1] == "@" else sys.argv[2].encode()
try:
    fd = os.open(sys.argv[1], os.O_RDWR)
    os.write(fd, data)
    os.lseek(fd, 0, 0)
    print(os.read(fd, 64).decode().strip())
    os.close(fd)
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}

@test "github: issues/ holds no pull request, and a cold ls of 150 items is at most ceil(150/100)+2 requests" {
	mount_bfs --timeout 10 --cache-ttl 60
	log_reset
	run ls "$MNT/forge/big/many/issues"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | wc -l)" -eq 140 ]
	[ "$(log_count '*' .)" -le 4 ]
	# No number of a pull request among them.
	pulls="$(api '/repos/big/many/pulls?state=all&per_page=100' '[p["number"] for p in j]')"
	[ "$(echo "$pulls" | wc -l)" -eq 10 ]
	[ -z "$(comm -12 <(echo "$output" | sort) <(echo "$pulls" | sort))" ]
	expect_errno ENOENT stat "$MNT/forge/big/many/issues/$(echo "$pulls" | head -n1)"
}

@test "github: an unchanged repository re-read after the TTL costs only 304s" {
	mount_bfs --timeout 10 --cache-ttl 1 --kernel-ttl 1
	grep -r -q "no such text" "$MNT/$D" || true
	sleep 1.5 # the cache (1 s) and the kernel's attributes (1 s) expire
	# The first revalidation of each list asks a new URL (since=): a body.
	grep -r -q "no such text" "$MNT/$D" || true
	sleep 1.5
	log_reset
	grep -r -q "no such text" "$MNT/$D" || true
	run statuses
	echo "$output"
	[ -n "$output" ]
	[ "$(echo "$output" | grep -c -v '^304$')" -eq 0 ]
	# Every one was a since request of a list; the branch list is asked once.
	double_get /_double/log | python3 -c '
import json, sys
log = [e for e in json.load(sys.stdin) if ".git/" not in e["path"]]
qs = [e["query"] for e in log if not e["path"].endswith("/branches")]
assert qs and all("since=" in q for q in qs), qs
assert sum(1 for e in log if e["path"].endswith("/branches")) <= 1, log'
}

@test "github: a summary of 70 000 multi-byte characters opens a pull request within 65 536 characters, notice and receipt kept" {
	mount_bfs --assign alice/dotfiles#2 --timeout 30
	double_post /_double/git/alice/dotfiles/commit \
		'{"branch": "long-summary", "from": "main", "message": "s", "files": {"s.txt": "s\n"}}' >/dev/null
	python3 -c '
import json
print(json.dumps({"title": "Long summary", "head": "long-summary", "base": "main",
    "bundle": {"summary": "\u00e9\u6f22" * 35000,
               "receipt": {"session_id": "sess-70k", "policy_bundle_id": "pb-1",
                           "trajectory_hash": "sha256:70k", "verification_passed": True}}}))' >"$T/req.json"
	n="$(open_pull "@$T/req.json")"
	[ "$n" -gt 0 ]
	api "/repos/alice/dotfiles/pulls/$n" 'j["body"]' >"$T/body"
	python3 - "$T/body" <<'PY'
import sys
b = open(sys.argv[1], encoding="utf-8").read().rstrip("\n")
assert len(b) <= 65536, len(b)
assert len(b.encode()) > 65536, "counted in bytes, not characters"
assert "[Summary truncated." in b
for f in ("sess-70k", "pb-1", "sha256:70k", "verification_passed"):
    assert f in b, f
assert "\u00e9\u6f22" * 20000 in b
PY
}

@test "github: a diff too large for GitHub (406) is a one-line diff file; the pull request stays readable" {
	mount_bfs --timeout 10 --cache-ttl 60
	double_post /_double/diff-limit '{"lines": 1}' >/dev/null
	ls "$MNT/$D/pulls/3" >/dev/null
	[ -n "$(cat "$MNT/$D/pulls/3/title")" ]
	[ "$(wc -l <"$MNT/$D/pulls/3/diff")" -eq 1 ]
	grep -q "maximum number of lines" "$MNT/$D/pulls/3/diff"
	[ "$(stat -c %s "$MNT/$D/pulls/3/diff")" -eq "$(wc -c <"$MNT/$D/pulls/3/diff")" ]
}

@test "github: a second pull request for the same head and base is EEXIST (422), sent once" {
	ALLOWED_LOG="^bottlefs: write '/forge/alice/dotfiles/pulls/new': POST .*422"
	mount_bfs --assign alice/dotfiles#2 --timeout 30
	log_mark
	# PR #3 (bigger-history -> main) is open.
	[ "$(open_pull '{"title": "Again", "head": "bigger-history", "base": "main", "body": "x"}')" = EEXIST ]
	[ "$(log_count POST '/repos/alice/dotfiles/pulls$')" -eq 1 ]
	grep -q "A pull request already exists" "$T/bottlefs.log"
}

# ---- rate limits: the double's own answers, without Prism ----

mount_direct() {
	FORGE_URL="$DOUBLE_URL"
	mount_bfs --timeout 5 --cache-ttl 60 "$@"
	log_reset
}

@test "github: rate limit exhausted with the reset a second away: waited out, the read succeeds" {
	mount_direct
	double_post /_double/ratelimit '{"remaining": 0, "reset_in": 1}' >/dev/null
	[ -n "$(cat "$MNT/forge/big/many/issues/1/title")" ]
	# The first answer said 403 remaining 0; the read waited and asked again.
	[ "$(statuses | grep -c '^403$')" -ge 1 ]
	[ "$(statuses | tail -n1)" = 200 ]
}

@test "github: rate limit exhausted for an hour: EIO at once, the reset time in the daemon's log, nothing more sent" {
	ALLOWED_LOG="^bottlefs: (stat|list|open) '/forge/big/many/issues/[0-9]+"
	mount_direct
	log_mark
	double_post /_double/ratelimit '{"remaining": 0, "reset_in": 3600}' >/dev/null
	reset="$(date -u -d "@$(double_get /_double/ratelimit | python3 -c '
import json, sys
print(json.load(sys.stdin)["buckets"]["core"]["reset"])')" +%Y-%m-%dT%H:%M)"
	expect_errno EIO stat "$MNT/forge/big/many/issues/2"
	grep "issues/2" "$T/bottlefs.log" | grep -q "rate limit exhausted until $reset"
	# The bucket is known empty: the next read sends nothing.
	log_reset
	expect_errno EIO stat "$MNT/forge/big/many/issues/3"
	[ "$(log_count '*' .)" -eq 0 ]
}

@test "github: a secondary rate limit's retry-after is honoured, then the read succeeds" {
	mount_direct
	double_post /_double/ratelimit '{"secondary": {"times": 1, "retry_after": 1, "status": 403}}' >/dev/null
	[ -n "$(cat "$MNT/forge/big/many/issues/4/title")" ]
	[ "$(statuses | head -n1)" = 403 ]
	[ "$(statuses | tail -n1)" = 200 ]
	[ "$(log_count GET '/issues/4$')" -eq 2 ]
}
