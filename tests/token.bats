#!/usr/bin/env bats
# The token stays in the daemon (SPEC section 1): read from a private file
# or the environment, never an argument, and gone from the environment
# block once read.

load helpers/common

setup() {
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	T="$BATS_TEST_TMPDIR/bfs"
	bfs_tmp
	start_double "$REPO_ROOT/tests/double/seed/demo.json"
	FORGE_URL="$DOUBLE_URL"
}

teardown() {
	stop_all
}

@test "a token file others can read is refused with a clear message" {
	chmod 644 "$T/token"
	mkdir -p "$T/mnt"
	run "$BOTTLEFS" --forge "$BFS_FORGE" --forge-url "$FORGE_URL" --token-file "$T/token" --state "$T/s.db" -f "$T/mnt"
	[ "$status" -ne 0 ]
	echo "$output" | grep -q "readable by group or others"
	! echo "$output" | grep -q -F "$TOKEN"
	! mountpoint -q "$T/mnt"
}

@test "the token is never an argument" {
	mkdir -p "$T/mnt"
	run "$BOTTLEFS" --forge "$BFS_FORGE" --forge-url "$FORGE_URL" --token "$TOKEN" -f "$T/mnt"
	[ "$status" -ne 0 ]
	echo "$output" | grep -q "never an argument"
	! echo "$output" | grep -q -F "$TOKEN"
}

@test "BOTTLEFS_TOKEN works and is wiped from the environment block" {
	MNT="$T/mnt"
	mkdir -p "$MNT"
	BOTTLEFS_TOKEN="$TOKEN" "$BOTTLEFS" --forge "$BFS_FORGE" --forge-url "$FORGE_URL" --state "$T/state.db" \
		--queue "$T/queue" -f "$MNT" >"$T/bottlefs.log" 2>&1 3>&- &
	echo $! >"$T/bottlefs.pid"
	wait_for 10 dd if="$MNT/.bottlefs/scope" of=/dev/null status=none
	# The forge accepted it: an authenticated read works.
	[ -n "$(cat "$MNT/forge/alice/dotfiles/issues/1/title")" ]
	pid="$(cat "$T/bottlefs.pid")"
	! grep -a -q -F "$TOKEN" "/proc/$pid/environ"
	! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -F "$TOKEN"
}

@test "a wrong token reads as EACCES, and no message carries it" {
	printf 'not-the-token\n' >"$T/wrong"
	chmod 600 "$T/wrong"
	MNT="$T/mnt"
	mkdir -p "$MNT"
	"$BOTTLEFS" --forge "$BFS_FORGE" --forge-url "$FORGE_URL" --token-file "$T/wrong" --state "$T/state.db" \
		--queue "$T/queue" -f "$MNT" >"$T/bottlefs.log" 2>&1 3>&- &
	echo $! >"$T/bottlefs.pid"
	wait_for 10 dd if="$MNT/.bottlefs/scope" of=/dev/null status=none
	expect_errno EACCES read "$MNT/forge/alice/dotfiles/issues/1/title"
	! grep -q "not-the-token" "$T/bottlefs.log"
}
