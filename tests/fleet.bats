#!/usr/bin/env bats
# The fleet (issue 14): the durable records, the lease on each assignment
# and the queue of done signals in one PostgreSQL database many daemons
# share. One private PostgreSQL 15 for the file (tests/helpers/pg.bash), one
# database per test, one Gitea double per test; every daemon is stopped by
# PID.

load helpers/common
load helpers/pg

D=forge/alice/dotfiles

setup_file() {
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	export PGT="$BATS_FILE_TMPDIR/pg"
	T="$PGT" start_pg
	export PG_URL PG_DIR PG_SOCK PG_PORT
}

teardown_file() {
	T="$PGT" stop_pg
}

setup() {
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	T="$BATS_TEST_TMPDIR/bfs"
	bfs_tmp
	DB="t$BATS_TEST_NUMBER"
	pg_sql "CREATE DATABASE $DB"
	URL="${PG_URL/\/bottlefs\?//$DB?}"
	start_double "$REPO_ROOT/tests/double/seed/demo.json"
	FORGE_URL="$DOUBLE_URL"
	export FORGE_URL URL
}

teardown() {
	local f
	# A test that froze the server and failed must not leave it frozen.
	kill -CONT $(pgrep -P "$(cat "$PGT/pg.pid")") "$(cat "$PGT/pg.pid")" 2>/dev/null || true
	for f in "$T"/*.mnt; do
		[ -f "$f" ] || continue
		fusermount3 -u "$(cat "$f")" 2>/dev/null || fusermount3 -uz "$(cat "$f")" 2>/dev/null
	done
	for f in "$T"/*.pid; do
		stop_pid "$f"
	done
}

# daemon NAME ARGS...: a daemon of its own (mountpoint $T/NAME, log
# $T/NAME.log, local cache $T/NAME-cache.db) on the test's database.
daemon() {
	local name="$1" mnt="$T/$1"
	shift
	mkdir -p "$mnt" 2>/dev/null || true
	echo "$mnt" >"$T/$name.mnt"
	"$BOTTLEFS" --forge "$BFS_FORGE" --forge-url "$FORGE_URL" --token-file "$T/token" --state "$URL" \
		--cache "$T/$name-cache.db" --queue "$T/queue" --timeout 3 "$@" -f "$mnt" \
		>>"$T/$name.log" 2>&1 3>&- &
	echo $! >"$T/$name.pid"
	if ! wait_for 20 dd if="$mnt/.bottlefs/scope" of=/dev/null status=none; then
		cat "$T/$name.log" >&2
		return 1
	fi
}

# comments TEXT [ISSUE]: comments on alice/dotfiles#ISSUE (default 2) whose body is TEXT.
comments() {
	double_get "/_double/state/alice/dotfiles/issues/${2:-2}" | python3 -c '
import json, sys
print(sum(1 for c in json.load(sys.stdin)["comments"] if c["body"] == sys.argv[1]))' "$1"
}

# post NAME TEXT [ISSUE]: a comment through daemon NAME's mount; prints OK or the errno.
post() {
	$FSOP write "$T/$1/$D/issues/${3:-2}/comments/new" "$2"
}

# post_in_background NAME TEXT: an agent writing a comment; its close() is cut short.
post_in_background() {
	python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, sys.argv[2].encode())
try:
    os.close(fd)
except OSError:
    pass' "$T/$1/$D/issues/2/comments/new" "$2" 3>&- &
	echo $! >"$T/writer.pid"
}

has_comment() {
	[ "$(comments "$1")" -ge 1 ]
}

hung() {
	[ "$(double_get /_double/log | grep -c '"status": "hang"\|"status":"hang"')" -ge 1 ]
}

@test "two daemons for two assignments share one database" {
	daemon a --assign alice/dotfiles#1
	daemon b --assign alice/dotfiles#2
	grep -q "^lease: held by this mount" "$T/a/.bottlefs/scope"
	grep -q "^lease: held by this mount" "$T/b/.bottlefs/scope"
	[ "$(post a "from a" 1)" = OK ]
	[ "$(post b "from b" 2)" = OK ]
	[ "$(comments "from a" 1)" -eq 1 ]
	[ "$(comments "from b" 2)" -eq 1 ]
	# Both journals are in the one database, each under its assignment.
	run psql -X -q -At "$URL" -c "SELECT assign_issue || ':' || status FROM journal ORDER BY assign_issue"
	[ "${lines[0]}" = "1:done" ]
	[ "${lines[1]}" = "2:done" ]
	[ "$(psql -X -q -At "$URL" -c "SELECT count(*) FROM leases")" -eq 2 ]
	# The local caches are files of their own; the journal is not in them.
	[ "$(sqlite3 "$T/a-cache.db" "SELECT count(*) FROM journal")" -eq 0 ]
	[ "$("$BOTTLEFS" state journal --state "$URL" | grep -c '"status":"done"')" -eq 2 ]
}

@test "kill -9 mid-comment, restarted elsewhere with a fresh cache: posted exactly once" {
	daemon a --assign alice/dotfiles#2 --lease 3
	faults '[{"method": "POST", "path": "/issues/2/comments$", "hang": true, "times": 1}]'
	post_in_background a "across machines"
	wait_for 20 hung
	kill -9 "$(cat "$T/a.pid")"
	rm -f "$T/a.pid"
	stop_pid "$T/writer.pid"
	faults_clear
	[ "$(comments "across machines")" -eq 0 ]
	# Another mountpoint, another local cache: only the database is shared.
	daemon b --assign alice/dotfiles#2 --lease 3
	wait_for 30 has_comment "across machines"
	wait_for 20 grep -q "^lease: held by this mount" "$T/b/.bottlefs/scope"
	[ "$(comments "across machines")" -eq 1 ]
	[ "$(psql -X -q -At "$URL" -c "SELECT status FROM journal WHERE payload = 'across machines'")" = done ]
	# Once is once: a third start finishes nothing more.
	fusermount3 -u "$T/b"
	stop_pid "$T/b.pid"
	daemon c --assign alice/dotfiles#2 --lease 3
	[ "$(comments "across machines")" -eq 1 ]
}

@test "two daemons for one assignment: one writes, the other takes over after the lease" {
	daemon a --assign alice/dotfiles#2 --lease 3
	daemon b --assign alice/dotfiles#2 --lease 3
	grep -q "^lease: held by this mount" "$T/a/.bottlefs/scope"
	grep -q "^read-only: another daemon .* holds the lease on alice/dotfiles#2" "$T/b/.bottlefs/scope"
	# The mode bits and access(W_OK) say so too; the holder's say writable.
	[ "$(stat -c %a "$T/b/$D/issues/2/title")" = 444 ]
	[ "$(stat -c %a "$T/a/$D/issues/2/title")" = 644 ]
	[ "$(python3 -c 'import os, sys; print(os.access(sys.argv[1], os.W_OK))' "$T/b/$D/issues/2/title")" = False ]
	[ "$(python3 -c 'import os, sys; print(os.access(sys.argv[1], os.W_OK))' "$T/a/$D/issues/2/title")" = True ]
	[ "$(post b "from the second")" = EROFS ]
	grep -q "EROFS.*holds the lease" "$T/b/.bottlefs/log"
	[ "$(comments "from the second")" -eq 0 ]
	[ "$(post a "from the first")" = OK ]
	# The first's write goes unanswered, then the first dies.
	faults '[{"method": "POST", "path": "/issues/2/comments$", "hang": true, "times": 1}]'
	post_in_background a "left unanswered"
	wait_for 20 hung
	kill -9 "$(cat "$T/a.pid")"
	rm -f "$T/a.pid"
	stop_pid "$T/writer.pid"
	faults_clear
	# The second takes the lease once it expires and finishes the write.
	wait_for 30 grep -q "^lease: held by this mount" "$T/b/.bottlefs/scope"
	wait_for 30 has_comment "left unanswered"
	[ "$(comments "left unanswered")" -eq 1 ]
	grep -q "lease taken over: finished 1" "$T/b.log"
	[ "$(post b "now from the second")" = OK ]
	[ "$(comments "now from the second")" -eq 1 ]
}

@test "a daemon whose lease was taken stops writing at once" {
	daemon a --assign alice/dotfiles#2 --lease 30
	[ "$(post a "before")" = OK ]
	# Another holder in the database (as after this daemon was thought dead).
	psql -X -q -At "$URL" -c "UPDATE leases SET holder = 'someone else', expires_at = now() + interval '1 hour'"
	[ "$(post a "after")" = EROFS ]
	[ "$(comments "after")" -eq 0 ]
	grep -q "taken over by someone else" "$T/a/.bottlefs/log"
	grep -q "^read-only: the lease on alice/dotfiles#2 was taken over by someone else" "$T/a/.bottlefs/scope"
}

@test "four queue take workers get each of 50 signals exactly once; wait returns on a signal" {
	"$BOTTLEFS" queue list "$URL" >/dev/null
	# wait blocks while the queue is empty and returns when a signal arrives.
	"$BOTTLEFS" queue wait "$URL" --timeout 60 3>&- &
	local waiter=$!
	echo "$waiter" >"$T/waiter.pid"
	daemon a --assign alice/dotfiles#2 --queue "$URL"
	printf 'success\nall done\n' >"$T/a/done"
	wait_for 30 bash -c "! kill -0 $waiter"
	wait "$waiter"
	rm -f "$T/waiter.pid"
	run "$BOTTLEFS" queue take "$URL"
	[ "$status" -eq 0 ]
	echo "$output" | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["issue"] == 2 and j["status"] == "success", j'
	for i in $(seq 1 50); do
		pg_sql_url "INSERT INTO signal_queue (owner, repo, issue, body) VALUES ('o', 'r', $i, '{\"issue\": $i}')"
	done
	local w
	for w in 1 2 3 4; do
		bash -c 'while "$0" queue take "$1" >>"$2"; do :; done' "$BOTTLEFS" "$URL" "$T/worker.$w" 3>&- &
		echo $! >"$T/worker$w.pid"
	done
	for w in 1 2 3 4; do
		wait_for 60 bash -c "! kill -0 $(cat "$T/worker$w.pid")"
		rm -f "$T/worker$w.pid"
	done
	[ "$(cat "$T"/worker.* | wc -l)" -eq 50 ]
	[ "$(cat "$T"/worker.* | sort -u | wc -l)" -eq 50 ]
	[ "$(psql -X -q -At "$URL" -c "SELECT count(*) FROM signal_queue")" -eq 0 ]
	run "$BOTTLEFS" queue take "$URL"
	[ "$status" -eq 1 ]
	[[ "$output" == *"queue empty"* ]]
	run "$BOTTLEFS" queue wait "$URL" --timeout 1
	[ "$status" -eq 1 ]
}

pg_sql_url() {
	psql -X -q -At -v ON_ERROR_STOP=1 "$URL" -c "$1"
}

@test "the database away: reads answered, writes EIO within the bound, nothing lost" {
	daemon a --assign alice/dotfiles#2 --lease 6
	[ "$(post a "before the outage")" = OK ]
	cat "$T/a/$D/issues/2/title" >"$T/title.before"
	T="$PGT" pg_kill
	# Reads: from the forge and the local cache, the database not asked.
	cmp "$T/a/$D/issues/2/title" "$T/title.before"
	ls "$T/a/$D/issues" | grep -qx 2
	# A write fails EIO and returns (never hangs: timeout(1) would say 124).
	run timeout 30 $FSOP write "$T/a/$D/issues/2/comments/new" "during the outage"
	[ "$output" = EIO ]
	grep -q "EIO.*state database" "$T/a/.bottlefs/log"
	[ "$(comments "during the outage")" -eq 0 ]
	# Past the lease by its own clock the daemon is read-only.
	wait_for 30 bash -c "[ \"\$($FSOP write '$T/a/$D/issues/2/comments/new' probe)\" = EROFS ]"
	grep -q "expired while the state database could not be reached" "$T/a/.bottlefs/scope"
	[ "$(comments probe)" -eq 0 ]
	T="$PGT" pg_restart
	# Back: the lease is renewed, writes go out, and what was journaled stands.
	wait_for 30 bash -c "[ \"\$($FSOP write '$T/a/$D/issues/2/comments/new' 'after the outage')\" = OK ]"
	[ "$(comments "after the outage")" -eq 1 ]
	[ "$(comments "before the outage")" -eq 1 ]
	[ "$(pg_sql_url "SELECT count(*) FROM journal WHERE payload = 'before the outage' AND status = 'done'")" -eq 1 ]
}

@test "the state store's contract on PostgreSQL (test_state_pg against this database)" {
	run "$(dirname "$BOTTLEFS")/tests/unit/test_state_pg" "$URL"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"PASSED  ] 6 test(s)"* ]]
}

@test "bottlefs state and bottlefs queue read the same URL; a bad one is a clear error" {
	daemon a --assign alice/dotfiles#2
	[ "$(post a "seen by the cli")" = OK ]
	"$BOTTLEFS" state journal --state "$URL" | grep -q '"payload":"seen by the cli"'
	"$BOTTLEFS" state provenance --state "$URL" | grep -q "comments/new"
	[ "$(pg_sql_url "SELECT version FROM bottlefs_schema")" -eq 4 ]
	run "$BOTTLEFS" state journal --state "postgresql://nobody@/x?host=$T/none&port=1"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot connect to the state database"* ]]
	run "$BOTTLEFS" queue take "postgresql://nobody@/x?host=$T/none&port=1"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot connect to the state database"* ]]
}

# pg_freeze STOP|CONT: the server and its backends stop (or go on) answering.
pg_freeze() {
	local pid
	pid="$(cat "$PGT/pg.pid")"
	kill -"$1" $(pgrep -P "$pid") "$pid"
}

@test "a database that does not answer: concurrent writes each fail EIO, none waits in line" {
	daemon a --assign alice/dotfiles#2 --lease 60 --timeout 2
	[ "$(post a "before the freeze")" = OK ]
	pg_freeze STOP
	local w
	# Twelve at once: in line behind one another they would need 12 x 2 s,
	# past the guard of timeout(1) (which would print nothing and exit 124).
	for w in $(seq 1 12); do
		timeout 10 $FSOP write "$T/a/$D/issues/2/comments/new" "frozen $w" >"$T/w.$w" 3>&- &
		echo $! >"$T/w$w.pid"
	done
	for w in $(seq 1 12); do
		wait_for 30 bash -c "! kill -0 $(cat "$T/w$w.pid")"
		rm -f "$T/w$w.pid"
		[ "$(cat "$T/w.$w")" = EIO ]
	done
	pg_freeze CONT
	[ "$(comments "frozen 1")" -eq 0 ]
	wait_for 30 bash -c "[ \"\$($FSOP write '$T/a/$D/issues/2/comments/new' 'after the freeze')\" = OK ]"
	[ "$(comments "after the freeze")" -eq 1 ]
}

@test "queue wait on a directory returns when a signal is queued; take --loop empties a URL queue" {
	mkdir -p "$T/queue"
	run "$BOTTLEFS" queue wait "$T/queue" --timeout 1
	[ "$status" -eq 1 ]
	[[ "$output" == *"no signal before the timeout"* ]]
	"$BOTTLEFS" queue wait "$T/queue" --timeout 60 3>&- &
	local waiter=$!
	echo "$waiter" >"$T/waiter.pid"
	# A SQLite daemon and a directory queue, as before the fleet.
	"$BOTTLEFS" --forge-url "$FORGE_URL" --token-file "$T/token" --state "$T/s.db" \
		--queue "$T/queue" --assign alice/dotfiles#2 -f "$T/a" >>"$T/a.log" 2>&1 3>&- &
	echo $! >"$T/a.pid"
	mkdir -p "$T/a"
	echo "$T/a" >"$T/a.mnt"
	wait_for 20 dd if="$T/a/.bottlefs/scope" of=/dev/null status=none
	# SQLite: one machine, no lease line, nothing about it in scope.
	! grep -q "lease" "$T/a/.bottlefs/scope"
	printf 'success\n' >"$T/a/done"
	wait_for 30 bash -c "! kill -0 $waiter"
	wait "$waiter"
	rm -f "$T/waiter.pid"
	[ "$(ls "$T/queue" | grep -c '\.json$')" -eq 1 ]
	# The first open of the database creates the schema.
	"$BOTTLEFS" queue list "$URL" >/dev/null
	for i in 1 2 3; do
		pg_sql_url "INSERT INTO signal_queue (owner, repo, issue, body) VALUES ('o', 'r', $i, '{\"issue\": $i}')"
	done
	run "$BOTTLEFS" queue take "$URL" --loop
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = '{"issue":1}' ]
	[ "$(pg_sql_url "SELECT count(*) FROM signal_queue")" -eq 0 ]
	run "$BOTTLEFS" queue wait "$URL" --loop
	[ "$status" -eq 2 ]
}
