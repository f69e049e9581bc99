#!/usr/bin/env bats
# /bottles on a real mount (SPEC section 4): good and broken bottles, live
# edits, and `bottlefs resolve` with no mount. Expected outputs live in
# tests/fixtures/bottles.expected/.

load helpers/common

EXP="$REPO_ROOT/tests/fixtures/bottles.expected"

setup_file() {
	bfs_tmp
	rm -rf "$T/bottles"
	cp -r "$REPO_ROOT/tests/fixtures/bottles" "$T/bottles"
	start_double "$REPO_ROOT/tests/double/seed/demo.json"
	start_prism
	mount_bfs --bottles "$T/bottles"
}

teardown_file() { leave_shared; }

setup() { enter_shared; }

teardown() { check_shared; }

good="base net dev ci left right diamond"
broken="broken orphan loop-a loop-b selfish conflict"

@test "ls bottles/ lists every bottle, good and broken" {
	run ls "$MNT/bottles"
	[ "$status" -eq 0 ]
	for b in $good $broken; do echo "$output" | grep -qx "$b"; done
}

@test "a good bottle's resolved.json is exact, and it has no error file" {
	for b in $good; do
		diff "$MNT/bottles/$b/resolved.json" "$EXP/$b.json"
		[ "$(stat -c %s "$MNT/bottles/$b/resolved.json")" -eq "$(wc -c <"$EXP/$b.json")" ]
		[ ! -e "$MNT/bottles/$b/error" ]
		! ls "$MNT/bottles/$b" | grep -qx error
	done
}

@test "a broken bottle's resolved.json is EIO and its error file says why" {
	ALLOWED_LOG="^bottlefs: open '/bottles/[a-z-]+/resolved.json': bottle "
	for b in $broken; do
		expect_errno EIO read "$MNT/bottles/$b/resolved.json"
		diff <(cat "$MNT/bottles/$b/error") <(cat "$EXP/$b.error"; [ -n "$(tail -c1 "$EXP/$b.error")" ] && echo)
	done
	grep -q "extends cycle" "$MNT/bottles/loop-a/error"
	grep -q "Available bottles" "$MNT/bottles/orphan/error"
}

@test "source shows the manifest text a bottle came from" {
	diff "$MNT/bottles/base/source" "$T/bottles/base.md"
	grep -q '"extends"' "$MNT/bottles/ci/source"
}

@test "an unknown bottle is ENOENT" {
	expect_errno ENOENT stat "$MNT/bottles/ghost"
	expect_errno ENOENT stat "$MNT/bottles/ghost/resolved.json"
}

@test "an edited manifest is seen on the next read" {
	ALLOWED_LOG="^bottlefs: open '/bottles/dev/resolved.json': bottle 'net': "
	cat "$MNT/bottles/net/resolved.json" >/dev/null
	sed -i 's/^agent_provider:.*$//' "$T/bottles/net.md"
	printf -- '---\nextends: base\nenv: {LIVE_EDIT: "yes"}\n---\nlive\n' >"$T/bottles/net.md"
	grep -q LIVE_EDIT "$MNT/bottles/net/resolved.json"
	grep -q LIVE_EDIT "$MNT/bottles/dev/resolved.json"
	# Breaking a parent breaks the child, and mending it mends the child.
	printf -- '---\nextends: [ghost\n---\n' >"$T/bottles/net.md"
	expect_errno EIO read "$MNT/bottles/dev/resolved.json"
	[ -s "$MNT/bottles/dev/error" ]
	cp "$REPO_ROOT/tests/fixtures/bottles/net.md" "$T/bottles/net.md"
	diff "$MNT/bottles/dev/resolved.json" "$EXP/dev.json"
	# The kernel may keep the name `error` for --kernel-ttl (1 s, SEMANTICS.md).
	wait_for 3 test ! -e "$MNT/bottles/dev/error"
}

# The cache keeps parsed files and answers while every file of the chain
# stats the same (SEMANTICS.md): these edits must all show on the next read.
@test "a parent rewritten in place with the same size is seen on the next read" {
	diff "$MNT/bottles/dev/resolved.json" "$EXP/dev.json"
	# same bytes but one: EDITOR nano -> nanx, in place (same inode, same size)
	sed 's/EDITOR: nano/EDITOR: nanx/' "$T/bottles/net.md" >"$T/net.new"
	[ "$(wc -c <"$T/net.new")" -eq "$(wc -c <"$T/bottles/net.md")" ]
	cat "$T/net.new" >"$T/bottles/net.md"
	grep -q '"EDITOR": "nanx"' "$MNT/bottles/dev/resolved.json"
	cp "$REPO_ROOT/tests/fixtures/bottles/net.md" "$T/bottles/net.md"
	diff "$MNT/bottles/dev/resolved.json" "$EXP/dev.json"
}

@test "a resolved.json that grew is read whole at once, whatever size the kernel remembers" {
	stat "$MNT/bottles/dev/resolved.json" >/dev/null # the kernel keeps this size for --kernel-ttl
	big=$(printf 'X%.0s' $(seq 3000))
	printf -- '---\nenv: {PROXY: "http://proxy:3128", EDITOR: nano, BIG: "%s"}\n---\n' "$big" >"$T/bottles/net.md"
	"$BOTTLEFS" resolve "$T/bottles" dev >"$T/dev.want"
	diff "$MNT/bottles/dev/resolved.json" "$T/dev.want"
	cp "$REPO_ROOT/tests/fixtures/bottles/net.md" "$T/bottles/net.md"
	diff "$MNT/bottles/dev/resolved.json" "$EXP/dev.json"
}

@test "a new bottle is there at once, and a removed one goes" {
	printf -- '---\nextends: base\nenv: {NEWCOMER: "1"}\n---\n' >"$T/bottles/newcomer.md"
	ls "$MNT/bottles" | grep -qx newcomer
	grep -q NEWCOMER "$MNT/bottles/newcomer/resolved.json"
	rm "$T/bottles/newcomer.md"
	# The kernel may keep the name for --kernel-ttl (1 s, SEMANTICS.md).
	wait_for 3 test ! -e "$MNT/bottles/newcomer"
	! ls "$MNT/bottles" | grep -qx newcomer
}

@test "bottlefs resolve prints the bottle or the error, with no mount" {
	run "$BOTTLEFS" resolve "$REPO_ROOT/tests/fixtures/bottles" diamond
	[ "$status" -eq 0 ]
	diff <(echo "$output") "$EXP/diamond.json"
	run "$BOTTLEFS" resolve "$REPO_ROOT/tests/fixtures/bottles" selfish
	[ "$status" -eq 1 ]
	echo "$output" | grep -qF "$(cat "$EXP/selfish.error")"
	run "$BOTTLEFS" resolve "$REPO_ROOT/tests/fixtures/bottles" nobody
	[ "$status" -eq 1 ]
	run "$BOTTLEFS" resolve "$REPO_ROOT/tests/fixtures/bottles"
	[ "$status" -eq 2 ]
}

@test "resolved.json resolves again to itself" {
	mkdir -p "$T/again"
	python3 - "$MNT/bottles/diamond/resolved.json" "$T/again/manifest.json" <<'PY'
import json, sys
json.dump({"bottles": {"diamond": json.load(open(sys.argv[1]))}}, open(sys.argv[2], "w"))
PY
	diff <("$BOTTLEFS" resolve "$T/again" diamond) "$EXP/diamond.json"
}
