#!/usr/bin/env bats
# Exactly once across kill -9 (SPEC section 3): a comment journaled but
# never sent, sent but never applied, or applied but never answered ends up
# on the forge exactly once after the next start. Starting again on the
# dead mountpoint just works.

load helpers/common

D=forge/alice/dotfiles

setup() {
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	# Each test has its own state store, mount and double.
	T="$BATS_TEST_TMPDIR/bfs"
	bfs_tmp
	start_double "$REPO_ROOT/tests/double/seed/demo.json"
	start_prism
	mount_bfs --assign alice/dotfiles#2 --timeout 30
	prism_mark
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
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, sys.argv[2].encode())
try:
    os.close(fd)
except OSError:
    pass' "$MNT/$D/issues/2/comments/new" "$1" 3>&- &
	echo $! >"$T/writer.pid"
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
