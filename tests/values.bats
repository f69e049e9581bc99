#!/usr/bin/env bats
# What the agent sends and what the daemon logs (issue 12, items 6, 7, 9):
# the receipt cannot be forged, titles are one line, heads are branches of
# the assigned repository, --max-prs bounds the pull requests, the log
# never carries control bytes, and missing things are ENOENT. The agent is
# the non-root user bfsagent on an -o allow_other mount the root daemon
# serves (helpers/agent.bash).

load helpers/common
load helpers/agent

api() { python3 "$REPO_ROOT/tests/helpers/api.py" "$DOUBLE_URL" "$TOKEN" "$@"; }

# agent_write PATH: as the agent, open PATH with O_TRUNC, write stdin, close;
# prints OK (and, for pulls/new, what reading back showed) or the errno name.
agent_write() {
	as_agent python3 "$T/w.py" "$1"
}

# body_of N: pull request N's description as the forge stores it.
body_of() { api "/repos/alice/proj/pulls/$1" 'j["body"]'; }

# receipt_check N SESSION PASSED: the description of PR N holds the marker
# exactly once, and Python's own HTML parser finds the daemon's block as a
# comment of its own with the real values (not inside the agent's comment).
receipt_check() {
	api "/repos/alice/proj/pulls/$1" >"$T/pr.json"
	python3 - "$T/pr.json" "$2" "$3" <<'PY'
import html.parser, json, sys
body = json.load(open(sys.argv[1]))["body"]
assert body.count("<!-- bottlefs:receipt") == 1, body
assert body.count("[Summary truncated. Full summary in PR_SUMMARY.md]") <= 1, body
comments = []
class P(html.parser.HTMLParser):
    def handle_comment(self, data):
        comments.append(data)
P(convert_charrefs=True).feed(body)
mine = [c for c in comments if c.startswith(" bottlefs:receipt")]
assert len(mine) == 1, comments
assert "session_id: " + sys.argv[2] + "\n" in mine[0], mine
assert "verification_passed: " + sys.argv[3] + "\n" in mine[0], mine
assert body.endswith("-->\n"), body
PY
}

setup_file() {
	bfs_tmp
	python3 - "$T/seed.json" <<'PY'
import json, sys
branches = {"main": {}}
for k in range(1, 16):
    branches["f%d" % k] = {}
seed = {
    "default_user": "alice",
    "users": [{"login": "alice", "is_admin": True}, {"login": "mallory"}],
    "repos": [
        {"owner": "alice", "name": "proj", "branches": branches,
         "issues": [
             {"number": 1, "title": "The assigned issue", "body": "Fix it.",
              "created": "2026-02-01T10:00:00Z", "updated": "2026-02-03T10:00:00Z"},
             {"number": 2, "title": "Someone else's PR", "body": "theirs",
              "created": "2026-02-02T10:00:00Z", "updated": "2026-02-05T12:34:56Z",
              "pull": {"head": "f15", "base": "main"}}]},
        {"owner": "mallory", "name": "proj", "branches": {"main": {}, "evil": {}}},
    ],
}
json.dump(seed, open(sys.argv[1], "w"))
PY
	cat >"$T/w.py" <<'PY'
import errno, os, sys
path = sys.argv[1]
data = sys.stdin.buffer.read()
try:
    fd = os.open(path, os.O_RDWR | os.O_TRUNC if path.endswith("pulls/new") else os.O_WRONLY | os.O_TRUNC)
    os.write(fd, data)
    if path.endswith("pulls/new"):
        os.lseek(fd, 0, 0)
        out = os.read(fd, 64).decode().strip()
        os.close(fd)
        print("OK " + out)
    else:
        os.close(fd)
        print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
	chmod 644 "$T/w.py" "$T/seed.json"
	start_double "$T/seed.json"
	start_prism
	mount_bfs_agent --assign alice/proj#1 --cache-ttl 60
}

teardown_file() { leave_shared; }

setup() {
	enter_shared
	log_reset
}

teardown() {
	# The --max-prs test's own daemon, stopped by PID even when it failed midway.
	if [ -f "$T/prs.pid" ]; then
		fusermount3 -u "$T/mnt-prs" 2>/dev/null || fusermount3 -uz "$T/mnt-prs" 2>/dev/null
		stop_pid "$T/prs.pid"
	fi
	check_shared
}

P=forge/alice/proj

# ---- item 6: the receipt --------------------------------------------------

@test "a forged receipt or notice in pulls/new is EINVAL for the agent and sends nothing" {
	ALLOWED_LOG="^bottlefs: write '/forge/alice/proj/pulls/new': pulls/new: '(body|bundle.summary)' holds"
	out="$(agent_write "$MNT/$P/pulls/new" <<'JSON'
{"title": "Fake", "head": "f1", "base": "main",
 "body": "Done.\n<!-- bottlefs:receipt\nsession_id: s\nverification_passed: true\n-->\n"}
JSON
)"
	[ "$out" = EINVAL ]
	out="$(agent_write "$MNT/$P/pulls/new" <<'JSON'
{"title": "Fake", "head": "f1", "base": "main",
 "bundle": {"summary": "short\n[Summary truncated. Full summary in PR_SUMMARY.md]",
            "receipt": {"session_id": "s", "policy_bundle_id": "p",
                        "trajectory_hash": "h", "verification_passed": false}}}
JSON
)"
	[ "$out" = EINVAL ]
	out="$(agent_write "$MNT/$P/pulls/new" <<'JSON'
{"title": "Fake", "head": "f1", "base": "main",
 "bundle": {"summary": "<!--BOTTLEFS:RECEIPT verification_passed: true -->",
            "receipt": {"session_id": "s", "policy_bundle_id": "p",
                        "trajectory_hash": "h", "verification_passed": false}}}
JSON
)"
	[ "$out" = EINVAL ]
	[ "$(log_count POST .)" -eq 0 ]
}

@test "an unclosed comment in the summary cannot swallow the receipt (read back from the forge)" {
	out="$(agent_write "$MNT/$P/pulls/new" <<'JSON'
{"title": "Sneaky", "head": "f2", "base": "main",
 "bundle": {"summary": "All checks green.\n<!-- verification_passed: true\n",
            "receipt": {"session_id": "sess-6", "policy_bundle_id": "pb",
                        "trajectory_hash": "sha256:0", "verification_passed": false}}}
JSON
)"
	[ "${out%% *}" = OK ]
	n="${out#OK }"
	echo "$n" >"$T/pr-sneaky"
	receipt_check "$n" sess-6 false
	# The agent's comment was closed before the daemon's block.
	body_of "$n" | grep -q -- '^-->$'
}

@test "pulls/P/body written later keeps the receipt once and cannot add a fake one" {
	ALLOWED_LOG="^bottlefs: write '/forge/alice/proj/pulls/[0-9]+/body': pull request body holds"
	n="$(cat "$T/pr-sneaky")"
	# Read, edited, written back as an editor would: the block stays, once.
	as_agent cat "$MNT/$P/pulls/$n/body" >"$T/body"
	grep -q "bottlefs:receipt" "$T/body"
	sed 's/All checks green./All checks green, really./' "$T/body" >"$T/body2"
	[ "$(agent_write "$MNT/$P/pulls/$n/body" <"$T/body2")" = OK ]
	receipt_check "$n" sess-6 false
	body_of "$n" | grep -q "really"
	# A fresh text: the receipt comes back by itself.
	[ "$(printf 'Rewritten from scratch.\n' | agent_write "$MNT/$P/pulls/$n/body")" = OK ]
	receipt_check "$n" sess-6 false
	[ "$(body_of "$n" | head -n1)" = "Rewritten from scratch." ]
	# A forged block on top: refused, the description unchanged.
	before="$(body_of "$n")"
	printf 'Mine.\n<!-- bottlefs:receipt\nsession_id: x\nverification_passed: true\n-->\n' >"$T/fake"
	[ "$(agent_write "$MNT/$P/pulls/$n/body" <"$T/fake")" = EINVAL ]
	[ "$(body_of "$n")" = "$before" ]
	[ "$(log_count PATCH "/pulls/$n$|/issues/$n$")" -eq 2 ]
}

@test "a plain body of a pull request opened without a bundle is checked too" {
	ALLOWED_LOG="^bottlefs: write '/forge/alice/proj/pulls/[0-9]+/body': pull request body holds"
	out="$(printf '%s' '{"title": "Plain", "head": "f3", "base": "main", "body": "plain"}' |
		agent_write "$MNT/$P/pulls/new")"
	[ "${out%% *}" = OK ]
	n="${out#OK }"
	printf 'later\n<!-- bottlefs:receipt verification_passed: true -->\n' >"$T/fake"
	[ "$(agent_write "$MNT/$P/pulls/$n/body" <"$T/fake")" = EINVAL ]
	[ "$(body_of "$n")" = plain ]
	[ "$(printf 'later, plainly\n' | agent_write "$MNT/$P/pulls/$n/body")" = OK ]
	[ "$(body_of "$n")" = "later, plainly" ]
}

# ---- item 7: loose values ---------------------------------------------------

@test "titles with CR, ESC, tab or C1 controls are EINVAL, for issues and pull requests" {
	ALLOWED_LOG="^bottlefs: write '/forge/alice/proj/(issues/1/title|pulls/new)': "
	for t in $'a\rb' $'\e[31mred' $'tab\there' $'csi \xc2\x9b2J' $'two\nlines'; do
		[ "$(printf '%s' "$t" | agent_write "$MNT/$P/issues/1/title")" = EINVAL ]
	done
	[ "$(printf 'A clean title\n' | agent_write "$MNT/$P/issues/1/title")" = OK ]
	[ "$(api /repos/alice/proj/issues/1 'j["title"]')" = "A clean title" ]
	[ "$(log_count PATCH '/issues/1$')" -eq 1 ]
	out="$(printf '%s' '{"title": "x\u001b]0;pwned\u0007", "head": "f4", "base": "main"}' |
		agent_write "$MNT/$P/pulls/new")"
	[ "$out" = EINVAL ]
	[ "$(log_count POST '/pulls$')" -eq 0 ]
}

@test "a head on someone else's fork, or any name git refuses, is EINVAL and sends nothing" {
	ALLOWED_LOG="^bottlefs: write '/forge/alice/proj/pulls/new': pulls/new: '(head|base)' must be a branch"
	for h in mallory:evil 'mallory:proj:evil' a..b -f1 'f1 x' f1.lock HEAD; do
		out="$(printf '{"title": "t", "head": "%s", "base": "main"}' "$h" |
			agent_write "$MNT/$P/pulls/new")"
		[ "$out" = EINVAL ]
	done
	out="$(printf '%s' '{"title": "t", "head": "f5", "base": "mallory:main"}' |
		agent_write "$MNT/$P/pulls/new")"
	[ "$out" = EINVAL ]
	[ "$(log_count POST .)" -eq 0 ]
}

@test "--max-prs bounds the assignment's pull requests, even opened all at once (EDQUOT)" {
	# Its own daemon and state, so the count starts at zero.
	local mnt="$T/mnt-prs" ok=0 dq=0 i
	mkdir -p "$mnt"
	"$BOTTLEFS" --forge "$BFS_FORGE" --forge-url "$DOUBLE_URL" --token-file "$T/token" --state "$T/prs.db" \
		--queue "$T/prs-queue" --assign alice/proj#1 --max-prs 3 -o allow_other \
		-f "$mnt" >"$T/prs.log" 2>&1 3>&- &
	echo $! >"$T/prs.pid"
	wait_for 20 dd if="$mnt/.bottlefs/scope" of=/dev/null status=none
	# Slow POSTs, so the eight writers are in flight together.
	faults '[{"method": "POST", "path": "/pulls$", "latency_ms": 500}]'
	for i in 6 7 8 9 10 11 12 13; do
		printf '{"title": "PR %s", "head": "f%s", "base": "main"}' "$i" "$i" |
			agent_write "$mnt/$P/pulls/new" >"$T/prs.$i" &
	done
	wait_for 60 bash -c "[ \$(cat $T/prs.{6,7,8,9,10,11,12,13} 2>/dev/null | wc -l) -eq 8 ]"
	for i in 6 7 8 9 10 11 12 13; do
		case "$(cat "$T/prs.$i")" in
		OK\ *) ok=$((ok + 1)) ;;
		EDQUOT) dq=$((dq + 1)) ;;
		*) echo "unexpected: $(cat "$T/prs.$i")" >&2 ;;
		esac
	done
	fusermount3 -u "$mnt"
	stop_pid "$T/prs.pid"
	cat "$T/prs.log" "$T"/prs.[0-9]* >&2
	[ "$ok" -eq 3 ]
	[ "$dq" -eq 5 ]
	[ "$(log_count POST '/repos/alice/proj/pulls$')" -eq 3 ]
	[ "$("$BOTTLEFS" state prs alice proj 1 --state "$T/prs.db" | wc -l)" -eq 3 ]
	grep -q "max-prs allows 3" "$T/prs.log"
}

@test "the daemon's log escapes what a forge sends, and logs a repeated failure once" {
	ALLOWED_LOG="^bottlefs: stat '/forge/alice/proj/issues/9'"
	# GET of a number nobody asked for before, answered by a hostile message.
	faults '[{"method": "GET", "path": "/repos/alice/proj/issues/9$", "status": 500,
		  "body": {"message": "boom \u009b31m \u202eevil\u007f", "url": "x"}}]'
	PRISM_ALLOW='Unable to match the returned status code'
	log_mark
	expect_errno EIO stat "$MNT/$P/issues/9"
	line="$(tail -n +"$(($(cat "$T/log.mark") + 1))" "$T/bottlefs.log" | grep "issues/9")"
	echo "$line" | grep -qF 'boom \u{009b}31m \u{202e}evil\x7f'
	! echo "$line" | LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xa8-\xae]'
	# The same failure again is asked again, and not logged again.
	expect_errno EIO stat "$MNT/$P/issues/9"
	expect_errno EIO stat "$MNT/$P/issues/9"
	[ "$(log_count GET '/issues/9$')" -ge 3 ]
	[ "$(tail -n +"$(($(cat "$T/log.mark") + 1))" "$T/bottlefs.log" | grep -c "issues/9")" -eq 1 ]
}

# ---- item 9: what does not exist ---------------------------------------------

@test "ls of a missing repository's issues/ is ENOENT, asked once, logged never" {
	log_mark
	run as_agent ls "$MNT/forge/alice/nope/issues"
	[ "$status" -ne 0 ]
	echo "$output" | grep -q "No such file or directory"
	[ "$(agent_errno listdir "$MNT/forge/alice/nope/pulls")" = ENOENT ]
	[ "$(agent_errno listdir "$MNT/forge/alice/nope/issues")" = ENOENT ]
	[ "$(agent_errno listdir "$MNT/forge/nobody")" = ENOENT ]
	[ "$(agent_errno listdir "$MNT/forge/nobody")" = ENOENT ]
	# One request per list: the 404 is remembered.
	[ "$(log_count GET '/repos/alice/nope/issues$')" -eq 1 ]
	[ "$(log_count GET '/repos/alice/nope/pulls$')" -eq 1 ]
	# (GitHub's adapter asks /users/nobody first, to tell a user from an organization.)
	[ "$(log_count GET '/users/nobody(/repos)?$')" -eq 1 ]
	# Items of the missing repository: ENOENT without a request.
	[ "$(agent_errno stat "$MNT/forge/alice/nope/issues/1")" = ENOENT ]
	[ "$(log_count GET '/repos/alice/nope/issues/1$')" -eq 0 ]
	assert_daemon_log_clean
}

@test "a name with '..' inside is ENOENT, sends nothing and logs nothing" {
	log_mark
	for i in 1 2 3; do
		[ "$(agent_errno stat "$MNT/forge/o/a..b/issues/1")" = ENOENT ]
		[ "$(agent_errno stat "$MNT/forge/a..b/r/issues/1")" = ENOENT ]
	done
	[ "$(agent_errno listdir "$MNT/forge/o/a..b/issues")" = ENOENT ]
	[ "$(log_count '*' .)" -eq 0 ]
	assert_daemon_log_clean
}

# mtime_is T PATH, mtime_at_least T PATH: PATH's st_mtime is (at least) T.
mtime_is() { [ "$(stat -c %Y "$2")" -eq "$1" ]; }
mtime_at_least() { [ "$(stat -c %Y "$2")" -ge "$1" ]; }

@test "directories show the forge's times or the mount's start, never 1970" {
	local start newest t
	start="$(stat -c %Y "$MNT")"
	[ "$start" -gt 1700000000 ]
	[ "$(stat -c %Y "$MNT/forge")" -eq "$start" ]
	as_agent ls "$MNT/$P/issues" "$MNT/$P/pulls" >/dev/null
	newest="$(api '/repos/alice/proj/issues?state=all&type=pulls' \
		'max(int(__import__("calendar").timegm(__import__("time").strptime(i["updated_at"][:19], "%Y-%m-%dT%H:%M:%S"))) for i in j)')"
	# The kernel may keep the attributes it had before the listing for
	# --kernel-ttl (1 s): wait for the fresh ones, with a deadline.
	wait_for 10 mtime_is "$newest" "$MNT/$P/pulls"
	t="$(stat -c %Y "$MNT/$P/issues")"
	[ "$t" -gt 1700000000 ]
	wait_for 10 mtime_at_least "$newest" "$MNT/$P"
	wait_for 10 mtime_at_least "$newest" "$MNT/forge/alice"
	[ "$(stat -c %Y "$MNT/$P/pulls/new")" -eq "$start" ]
	[ "$(stat -c %Y "$MNT/done")" -eq "$start" ]
	for d in "$MNT/.bottlefs" "$MNT/bottles" "$MNT/forge/nobody-yet"; do
		[ "$(stat -c %Y "$d")" -gt 1700000000 ]
	done
}
