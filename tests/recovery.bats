#!/usr/bin/env bats
# Exactly once across kill -9 (SPEC section 3): a comment journaled but
# never sent, sent but never applied, or applied but never answered ends up
# on the forge exactly once after the next start. Starting again on the
# dead mountpoint just works. And what recovery may claim (issue 12): never
# someone else's pull request or comment, never another assignment's write.

load helpers/common

D=forge/alice/dotfiles

setup() {
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	# Each test has its own state store, mount and double.
	T="$BATS_TEST_TMPDIR/bfs"
	bfs_tmp
	# The double knows two users' tokens; the daemon's token file holds one
	# (alice's unless a test says otherwise). bob/tools: issues 1-11 and a
	# merged PR #12 from gen-12, so the next number there is 13.
	local r
	r="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	printf 'tok-alice-%s alice\ntok-bob-%s bob\n' "$r" "$r" >"$T/users.tokens"
	start_double "$REPO_ROOT/tests/double/seed/demo.json" --token-file "$T/users.tokens" \
		--generate bob/tools:11:1:0
	use_token alice
	start_prism
	mount_bfs --assign alice/dotfiles#2 --timeout 30
	prism_mark
}

# use_token USER: the daemon's next start uses USER's token.
use_token() {
	TOKEN="$(awk -v u="$1" '$2 == u { print $1 }' "$T/users.tokens")"
	printf '%s\n' "$TOKEN" >"$T/token"
	chmod 600 "$T/token"
	export TOKEN
}

# as_user USER METHOD PATH [JSON]: the forge API as USER, past the daemon
# (another person, or another run of the same bot with its own state).
as_user() {
	local tok
	tok="$(awk -v u="$1" '$2 == u { print $1 }' "$T/users.tokens")"
	if [ -n "${4:-}" ]; then
		curl -fsS -X "$2" -H "Authorization: token $tok" -H 'Content-Type: application/json' \
			-d "$4" "$DOUBLE_URL$API$3"
	else
		curl -fsS -X "$2" -H "Authorization: token $tok" "$DOUBLE_URL$API$3"
	fi
}

# open_prs OWNER/REPO HEAD: how many open pull requests have that head.
open_prs() {
	as_user alice GET "/repos/$1/pulls?state=open&limit=50&per_page=100" | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin) if p["head"]["ref"] == sys.argv[1]))' "$2"
}

# journal_of KIND: the newest journal entry of KIND as status|forge_id|assign|answer.
journal_of() {
	"$BOTTLEFS" state journal --state "$T/state.db" | python3 -c '
import json, sys
e = [j for j in map(json.loads, sys.stdin) if j["kind"] == sys.argv[1]][-1]
print("%s|%s|%s|%s" % (e["status"], e.get("forge_id"), e.get("assign"), e["answer"]))' "$1"
}

# write_in_background PATH TEXT: an agent writing PATH; its close() is cut short.
write_in_background() {
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, sys.argv[2].encode())
try:
    os.close(fd)
except OSError:
    pass' "$1" "$2" 3>&- &
	echo $! >"$T/writer.pid"
}

teardown() {
	stop_all
	assert_prism_clean
}

# count_body TEXT: comments on the assigned issue whose body is TEXT.
count_body() {
	double_get /_double/state/alice/dotfiles/issues/2 | python3 -c '
import json, sys
print(sum(1 for c in json.load(sys.stdin)["comments"] if c["body"] == sys.argv[1]))' "$1"
}

# post_in_background TEXT: an agent writing a comment; its close() is cut short.
post_in_background() {
	write_in_background "$MNT/$D/issues/2/comments/new" "$1"
}

# kill_daemon_when_hung: waits until the forge holds the POST, then kill -9.
kill_daemon_when_hung() {
	wait_for 20 bash -c "[ \"\$(curl -fsS $DOUBLE_URL/_double/log | grep -c '\"status\": \"hang\"\|\"status\":\"hang\"')\" -ge 1 ]"
	kill -9 "$(cat "$T/bottlefs.pid")"
	rm -f "$T/bottlefs.pid"
	stop_pid "$T/writer.pid"
}

@test "killed after sending, before the forge applied it: posted once on restart" {
	faults '[{"method": "POST", "path": "/issues/2/comments$", "hang": true, "times": 1}]'
	post_in_background "sent but never applied"
	kill_daemon_when_hung
	[ "$(count_body "sent but never applied")" -eq 0 ]
	faults_clear
	# The mountpoint is now a dead FUSE mount; a new daemon clears it itself.
	mount_bfs --assign alice/dotfiles#2
	[ "$(count_body "sent but never applied")" -eq 1 ]
	grep -q "finished 1 write" "$T/bottlefs.log"
	unmount_bfs
	mount_bfs --assign alice/dotfiles#2
	[ "$(count_body "sent but never applied")" -eq 1 ]
}

@test "killed after the forge applied it, before it answered: not posted again" {
	faults '[{"method": "POST", "path": "/issues/2/comments$", "hang_after_apply": true, "times": 1}]'
	post_in_background "applied but never answered"
	kill_daemon_when_hung
	[ "$(count_body "applied but never answered")" -eq 1 ]
	faults_clear
	mount_bfs --assign alice/dotfiles#2
	[ "$(count_body "applied but never answered")" -eq 1 ]
	"$BOTTLEFS" state journal --state "$T/state.db" | grep "applied but never answered" | grep -q '"status":"done"'
}

@test "killed after journaling, before sending: posted once on restart" {
	unmount_bfs
	# The state a kill leaves between journaling and sending: a pending entry.
	sqlite3 "$T/state.db" "INSERT INTO journal (kind, owner, repo, number, payload, status, created, updated,
		assign_owner, assign_repo, assign_issue)
		VALUES ('comment', 'alice', 'dotfiles', 2, 'journaled never sent', 'pending', strftime('%s','now'), strftime('%s','now'),
		'alice', 'dotfiles', 2);"
	mount_bfs --assign alice/dotfiles#2
	[ "$(count_body "journaled never sent")" -eq 1 ]
	unmount_bfs
	mount_bfs --assign alice/dotfiles#2
	[ "$(count_body "journaled never sent")" -eq 1 ]
}

@test "a restart on a dead mountpoint unmounts it and serves again" {
	kill -9 "$(cat "$T/bottlefs.pid")"
	rm -f "$T/bottlefs.pid"
	expect_errno ENOTCONN stat "$MNT/forge"
	mount_bfs --assign alice/dotfiles#2
	[ -n "$(cat "$MNT/$D/issues/2/title")" ]
	grep -q "dead mount" "$T/bottlefs.log"
}

@test "SIGTERM lets a write in flight finish before the daemon exits" {
	faults '[{"method": "POST", "path": "/issues/2/comments$", "latency_ms": 1500, "times": 1}]'
	post_in_background "finished during shutdown"
	# Journaled and being sent (the forge takes 1.5 s to answer): now stop.
	wait_for 10 bash -c "'$BOTTLEFS' state journal --unfinished --state '$T/state.db' | grep -q 'finished during shutdown'"
	kill -TERM "$(cat "$T/bottlefs.pid")"
	wait_for 15 bash -c "! kill -0 $(cat "$T/bottlefs.pid") 2>/dev/null"
	rm -f "$T/bottlefs.pid"
	[ "$(count_body "finished during shutdown")" -eq 1 ]
	[ -z "$("$BOTTLEFS" state journal --unfinished --state "$T/state.db")" ]
}

@test "unmounting sends what an open file holds, once" {
	python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"written, never closed")
time.sleep(30)' "$MNT/$D/issues/2/comments/new" 3>&- &
	holder=$!
	wait_for 10 bash -c "[ -n \"\$(ls -l /proc/$holder/fd 2>/dev/null | grep comments/new)\" ]"
	kill -TERM "$(cat "$T/bottlefs.pid")"
	wait_for 15 bash -c "! kill -0 $(cat "$T/bottlefs.pid") 2>/dev/null"
	rm -f "$T/bottlefs.pid"
	kill "$holder" 2>/dev/null || true
	[ "$(count_body "written, never closed")" -eq 1 ]
}

# Issue 12, item 2. PR #3 of the demo seed is bob's; the daemon runs as alice.
@test "recovery never hands over someone else's pull request" {
	faults '[{"method": "POST", "path": "/repos/alice/dotfiles/pulls$", "hang": true, "times": 1}]'
	write_in_background "$MNT/$D/pulls/new" \
		'{"title": "Raise bash history limits", "head": "bigger-history", "base": "main", "body": "x"}'
	kill_daemon_when_hung
	faults_clear
	mount_bfs --assign alice/dotfiles#2
	[ "$(grep -c "pulls/3" "$MNT/.bottlefs/scope")" -eq 0 ]
	expect_errno EACCES write "$MNT/$D/pulls/3/body" "mine now"
	[ -z "$("$BOTTLEFS" state prs alice dotfiles 2 --state "$T/state.db")" ]
	run journal_of create_pr
	[[ "$output" == "failed|None|alice/dotfiles#2|not claimed: #3 was opened by 'bob', not by the token's user 'alice'"* ]]
	# Nothing was posted again (the forge would have refused it: 409).
	[ "$(log_count POST '/repos/alice/dotfiles/pulls$')" -eq 1 ]
	[ "$(open_prs alice/dotfiles bigger-history)" -eq 1 ]
}

# The same user can have opened it: another run of the bot, with a state
# store of its own, a moment before. The clocks cannot tell; the number can.
@test "a pull request the token's user opened before the write is not claimed" {
	unmount_bfs
	use_token bob
	as_user bob POST /repos/alice/dotfiles/pulls \
		'{"title": "Vim plugins", "head": "vim-plugins", "base": "main"}' >/dev/null
	mount_bfs --assign alice/dotfiles#2
	faults '[{"method": "POST", "path": "/repos/alice/dotfiles/pulls$", "hang": true, "times": 1}]'
	write_in_background "$MNT/$D/pulls/new" '{"title": "Vim plugins", "head": "vim-plugins", "base": "main"}'
	kill_daemon_when_hung
	faults_clear
	mount_bfs --assign alice/dotfiles#2
	[ "$(grep -c "pulls/7" "$MNT/.bottlefs/scope")" -eq 0 ]
	expect_errno EACCES write "$MNT/$D/pulls/7/body" "mine now"
	run journal_of create_pr
	[[ "$output" == "failed|None|alice/dotfiles#2|not claimed: #7 existed before this write was sent (the repository had reached #7)"* ]]
	[ "$(open_prs alice/dotfiles vim-plugins)" -eq 1 ]
}

@test "a pull request killed before the forge applied it is opened once on restart" {
	faults '[{"method": "POST", "path": "/repos/alice/dotfiles/pulls$", "hang": true, "times": 1}]'
	write_in_background "$MNT/$D/pulls/new" '{"title": "Vim plugins", "head": "vim-plugins", "base": "main"}'
	kill_daemon_when_hung
	faults_clear
	[ "$(open_prs alice/dotfiles vim-plugins)" -eq 0 ]
	mount_bfs --assign alice/dotfiles#2
	[ "$(open_prs alice/dotfiles vim-plugins)" -eq 1 ]
	grep -q "writable: forge/alice/dotfiles/pulls/7/" "$MNT/.bottlefs/scope"
	run journal_of create_pr
	[ "$output" = "done|7|alice/dotfiles#2|pull 7" ]
	unmount_bfs
	mount_bfs --assign alice/dotfiles#2
	[ "$(open_prs alice/dotfiles vim-plugins)" -eq 1 ]
}

# Issue 12, item 3: two runs on one state database, different assignments.
@test "another assignment's run leaves a write for its own run, which finishes it" {
	unmount_bfs
	mount_bfs --assign bob/tools#1
	# gen-12 was merged: a commit of its own so that GitHub, too, sees something
	# to pull ("No commits between main and gen-12" otherwise).
	double_post /_double/git/bob/tools/commit \
		'{"branch": "gen-12", "message": "more tools", "files": {"more.txt": "more\n"}}' >/dev/null
	faults '[{"method": "POST", "path": "/repos/bob/tools/pulls$", "hang_after_apply": true, "times": 1}]'
	write_in_background "$MNT/forge/bob/tools/pulls/new" '{"title": "Tools", "head": "gen-12", "base": "main"}'
	kill_daemon_when_hung
	faults_clear
	[ "$(open_prs bob/tools gen-12)" -eq 1 ] # #13, applied but never answered
	log_reset
	mount_bfs --assign acme/widgets#2
	# acme/widgets#13 is someone else's pull request: it must stay read-only.
	[ "$(grep -c "pulls/13" "$MNT/.bottlefs/scope")" -eq 0 ]
	expect_errno EACCES write "$MNT/forge/acme/widgets/pulls/13/body" "mine now"
	[ -z "$("$BOTTLEFS" state prs acme widgets 2 --state "$T/state.db")" ]
	run journal_of create_pr
	[ "$output" = "sending|None|bob/tools#1|None" ]
	[ "$(log_count '*' '/repos/bob/tools')" -eq 0 ]
	unmount_bfs
	mount_bfs --assign bob/tools#1
	run journal_of create_pr
	[ "$output" = "done|13|bob/tools#1|pull 13 (found on the forge)" ]
	[ "$("$BOTTLEFS" state prs bob tools 1 --state "$T/state.db")" = 13 ]
	grep -q "writable: forge/bob/tools/pulls/13/" "$MNT/.bottlefs/scope"
	[ "$(open_prs bob/tools gen-12)" -eq 1 ]
	[ "$(log_count POST '/repos/bob/tools/pulls$')" -eq 0 ]
}

@test "a comment with the same body posted by someone else is not claimed" {
	as_user bob POST /repos/alice/dotfiles/issues/2/comments '{"body": "same words"}' >/dev/null
	faults '[{"method": "POST", "path": "/issues/2/comments$", "hang": true, "times": 1}]'
	post_in_background "same words"
	kill_daemon_when_hung
	faults_clear
	[ "$(count_body "same words")" -eq 1 ]
	mount_bfs --assign alice/dotfiles#2
	[ "$(count_body "same words")" -eq 2 ]
	double_get /_double/state/alice/dotfiles/issues/2 | python3 -c '
import json, sys
print(sorted(c["user"] for c in json.load(sys.stdin)["comments"] if c["body"] == "same words"))' |
		grep -qx "\['alice', 'bob'\]"
	run journal_of comment
	[[ "$output" == done\|*\|alice/dotfiles#2\|comment* ]]
}
