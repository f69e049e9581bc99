#!/usr/bin/env bats
# Read anywhere, write only where assigned (SPEC section 3): every refused
# operation is EACCES and sends nothing; every write in scope lands once.

load helpers/common

api() { python3 "$REPO_ROOT/tests/helpers/api.py" "$DOUBLE_URL" "$TOKEN" "$@"; }
# write_close PATH CONTENT: open, write, close; prints OK or the errno of close().
write_close() {
	python3 - "$1" "$2" <<'PY'
import errno, os, sys
try:
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
    os.write(fd, sys.argv[2].encode())
    os.close(fd)
    print("OK")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}
# stored FIELD: the assigned issue as the double stores it.
stored() {
	double_get /_double/state/alice/dotfiles/issues/2 |
		python3 -c 'import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

setup_file() {
	bfs_tmp
	start_double "$REPO_ROOT/tests/double/seed/demo.json"
	start_prism
	mount_bfs --assign alice/dotfiles#2 --cache-ttl 60 --bottles "$REPO_ROOT/tests/fixtures/bottles"
}

teardown_file() { leave_shared; }

setup() {
	enter_shared
	log_reset
}

teardown() { check_shared; }

D=forge/alice/dotfiles

# no_writes_sent: the forge saw no write request since the test began.
no_writes_sent() {
	[ "$(log_count POST .)" -eq 0 ] && [ "$(log_count PATCH .)" -eq 0 ] &&
		[ "$(log_count PUT .)" -eq 0 ] && [ "$(log_count DELETE .)" -eq 0 ]
}

deny_all() {
	local p="$1"
	expect_errno EACCES open_w "$p"
	expect_errno EACCES open_trunc "$p"
	expect_errno EACCES open_append "$p"
	expect_errno EACCES truncate "$p"
	expect_errno EACCES chmod "$p"
	expect_errno EACCES chown "$p"
	expect_errno EACCES utime "$p"
	expect_errno EACCES setxattr "$p"
	expect_errno EACCES unlink "$p"
	expect_errno EACCES rename "$p" "$p.x"
	expect_errno EACCES link "$p" "$(dirname "$p")/l"
	[ "$($FSOP access_w "$p")" = NOTWRITABLE ]
	[ "$(stat -c %a "$p")" = 444 ]
}

deny_dir() {
	local d="$1"
	# Names no forge object can have, so the kernel asks us to create them.
	expect_errno EACCES create "$d/new file"
	expect_errno EACCES mkdir "$d/new dir"
	expect_errno EACCES symlink "$d/a link"
	expect_errno EACCES rmdir "$d"
	expect_errno EACCES chmod "$d"
	expect_errno EACCES rename "$d" "$d-renamed"
}

@test "another issue of the assigned repository is read-only" {
	for f in title body state labels; do deny_all "$MNT/$D/issues/1/$f"; done
	expect_errno EACCES write "$MNT/$D/issues/1/comments/new" hello
	deny_dir "$MNT/$D/issues/1"
	no_writes_sent
}

@test "the assigned issue's other files are read-only" {
	for f in author issue.json thread.md; do deny_all "$MNT/$D/issues/2/$f"; done
	# Its directory takes scratch files (editors' temporary files, see
	# editors.bats) and nothing else.
	expect_errno OK create "$MNT/$D/issues/2/new file"
	expect_errno OK unlink "$MNT/$D/issues/2/new file"
	expect_errno EACCES mkdir "$MNT/$D/issues/2/new dir"
	expect_errno EACCES symlink "$MNT/$D/issues/2/a link"
	expect_errno EACCES rmdir "$MNT/$D/issues/2"
	expect_errno EACCES chmod "$MNT/$D/issues/2"
	expect_errno EACCES rename "$MNT/$D/issues/2" "$MNT/$D/issues/2-renamed"
	deny_dir "$MNT/$D/issues/2/comments"
	no_writes_sent
}

@test "another repository, bottles/, .bottlefs/ and the tree's directories are read-only" {
	deny_all "$MNT/forge/alice/website/issues/1/body"
	expect_errno EACCES write "$MNT/forge/alice/website/pulls/new" '{}'
	# (rmdir of the mount root itself is EBUSY in the kernel, before us.)
	for d in "$MNT/forge" "$MNT/forge/alice" "$MNT/$D" "$MNT/$D/issues" \
		"$MNT/$D/pulls" "$MNT/bottles" "$MNT/.bottlefs"; do
		deny_dir "$d"
	done
	for f in resolved.json source; do deny_all "$MNT/bottles/base/$f"; done
	deny_dir "$MNT/bottles/base"
	deny_all "$MNT/.bottlefs/scope"
	deny_all "$MNT/.bottlefs/capabilities.json"
	no_writes_sent
}

@test "a pull request not opened through the mount is read-only" {
	deny_all "$MNT/$D/pulls/3/title"
	expect_errno EACCES write "$MNT/$D/pulls/3/comments/new" hi
	no_writes_sent
}

@test "mode bits and access(W_OK) say what is writable" {
	for f in title body state labels; do
		[ "$(stat -c %a "$MNT/$D/issues/2/$f")" = 644 ]
		[ "$($FSOP access_w "$MNT/$D/issues/2/$f")" = OK ]
	done
	[ "$($FSOP access_w "$MNT/$D/issues/2/comments/new")" = OK ]
	[ "$($FSOP access_w "$MNT/$D/pulls/new")" = OK ]
	grep -q "assigned: alice/dotfiles#2" "$MNT/.bottlefs/scope"
}

@test "body, title, state and labels land on the forge once and read back at once" {
	cat "$MNT/$D/issues/2/body" >/dev/null # cached before the write
	[ "$(write_close "$MNT/$D/issues/2/body" $'A new body\n\nwith lines\n')" = OK ]
	[ "$(cat "$MNT/$D/issues/2/body")" = $'A new body\n\nwith lines' ]
	[ "$(stored 'j["body"]')" = $'A new body\n\nwith lines' ]
	[ "$(write_close "$MNT/$D/issues/2/title" $'Renamed by the agent\n')" = OK ]
	[ "$(cat "$MNT/$D/issues/2/title")" = "Renamed by the agent" ]
	[ "$(stat -c %s "$MNT/$D/issues/2/title")" -eq 21 ]
	[ "$(write_close "$MNT/$D/issues/2/labels" $'bug\nenhancement\n')" = OK ]
	[ "$(cat "$MNT/$D/issues/2/labels")" = $'bug\nenhancement' ]
	[ "$(write_close "$MNT/$D/issues/2/state" $'closed\n')" = OK ]
	[ "$(cat "$MNT/$D/issues/2/state")" = closed ]
	[ "$(write_close "$MNT/$D/issues/2/state" $'open\n')" = OK ]
	[ "$(log_count PATCH '/issues/2$')" -eq 4 ]
	[ "$(log_count PUT '/issues/2/labels$')" -eq 1 ]
}

@test "a malformed write is EINVAL at close() and sends nothing" {
	ALLOWED_LOG="^bottlefs: write '/forge/alice/dotfiles/(issues/2/(state|title|comments/new)|pulls/new)': "
	[ "$(write_close "$MNT/$D/issues/2/state" $'reopened\n')" = EINVAL ]
	[ "$(write_close "$MNT/$D/issues/2/title" '')" = EINVAL ]
	[ "$(write_close "$MNT/$D/pulls/new" 'not json')" = EINVAL ]
	[ "$(write_close "$MNT/$D/pulls/new" '{"title":"x","head":"vim-plugins"}')" = EINVAL ]
	[ "$(write_close "$MNT/$D/issues/2/comments/new" $'\n')" = EINVAL ]
	no_writes_sent
}

@test "each comments/new open-write-close posts exactly one comment" {
	before="$(stored 'len(j["comments"])')"
	[ "$(write_close "$MNT/$D/issues/2/comments/new" $'first from the agent\n')" = OK ]
	[ "$(write_close "$MNT/$D/issues/2/comments/new" $'second from the agent\n')" = OK ]
	[ "$(stored 'len(j["comments"])')" -eq $((before + 2)) ]
	[ "$(log_count POST '/issues/2/comments$')" -eq 2 ]
	grep -rqx "first from the agent" "$MNT/$D/issues/2/comments/"
	grep -q "second from the agent" "$MNT/$D/issues/2/thread.md"
}

@test "the forge's refusal reaches close() as EACCES, its failure as EIO" {
	ALLOWED_LOG="^bottlefs: write '/forge/alice/dotfiles/issues/2/comments/new': POST .*: (403 forbidden|500 internal server error)"
	PRISM_ALLOW='Unable to match the returned status code'
	# Gitea refuses with an empty body; GitHub with its JSON error (the double's default).
	if forge_is github; then
		faults '[{"method": "POST", "path": "/issues/2/comments$", "status": 403}]'
	else
		faults '[{"method": "POST", "path": "/issues/2/comments$", "status": 403, "body": ""}]'
	fi
	[ "$(write_close "$MNT/$D/issues/2/comments/new" $'refused\n')" = EACCES ]
	faults '[{"method": "POST", "path": "/issues/2/comments$", "status": 500, "times": 10}]'
	[ "$(write_close "$MNT/$D/issues/2/comments/new" $'broken\n')" = EIO ]
	# What the agent wrote is kept in the journal.
	"$BOTTLEFS" state journal --state "$T/state.db" | grep -q broken
	! stored 'j["comments"]' | grep -q broken
	# A reported failure is never sent again on its own.
	[ "$(log_count POST '/issues/2/comments$')" -eq 2 ]
}

@test "pulls/new opens a PR, reads back its number, and puts it in scope" {
	run python3 - "$MNT/$D/pulls/new" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, b'{"title": "Add vim plugins", "head": "vim-plugins", "base": "main", "body": "Plain body."}')
os.lseek(fd, 0, 0)
print(os.read(fd, 64).decode().strip())
os.close(fd)
PY
	[ "$status" -eq 0 ]
	n="$output"
	[ "$n" -gt 0 ]
	[ "$(api /repos/alice/dotfiles/pulls/$n 'j["body"]')" = "Plain body." ]
	[ "$(cat "$MNT/$D/pulls/$n/head")" = vim-plugins ]
	grep -q "pulls/$n/" "$MNT/.bottlefs/scope"
	[ "$(stat -c %a "$MNT/$D/pulls/$n/title")" = 644 ]
	[ "$(write_close "$MNT/$D/pulls/$n/comments/new" $'on my PR\n')" = OK ]
	[ "$("$BOTTLEFS" state prs alice dotfiles 2 --state "$T/state.db")" = "$n" ]
	echo "$n" >"$T/pr1"
}

@test "pulls/new with a bundle keeps the receipt and truncates a long summary" {
	# install-script was merged (PR #4): a commit of its own so that GitHub, too,
	# sees something to pull ("No commits between main and install-script" otherwise).
	double_post /_double/git/alice/dotfiles/commit \
		'{"branch": "install-script", "message": "more", "files": {"more.sh": "true\n"}}' >/dev/null
	python3 - "$MNT/$D/pulls/new" >"$T/pr2.out" <<'PY'
import json, os, sys
req = {"title": "Bundle PR", "head": "install-script", "base": "main",
       "bundle": {"summary": "S" * 70000 + " end",
                  "receipt": {"session_id": "sess-1", "policy_bundle_id": "pb-9",
                              "trajectory_hash": "sha256:abc", "verification_passed": True,
                              "confidence": 0.9}}}
fd = os.open(sys.argv[1], os.O_RDWR)
os.write(fd, json.dumps(req).encode())
os.lseek(fd, 0, 0)
print(os.read(fd, 64).decode().strip())
os.close(fd)
PY
	n="$(cat "$T/pr2.out")"
	body="$(api /repos/alice/dotfiles/pulls/$n 'j["body"]')"
	echo "$body" | grep -qF "[Summary truncated. Full summary in PR_SUMMARY.md]"
	echo "$body" | grep -q "session_id: sess-1"
	echo "$body" | grep -q "policy_bundle_id: pb-9"
	echo "$body" | grep -q "trajectory_hash: sha256:abc"
	echo "$body" | grep -q "verification_passed: true"
	[ "$(printf '%s' "$body" | wc -c)" -le 65536 ]
}

# open_pull JSON: writes JSON to pulls/new and prints the number read back (or the errno).
open_pull() {
	python3 - "$MNT/$D/pulls/new" "$1" <<'PY'
import errno, os, sys
try:
    fd = os.open(sys.argv[1], os.O_RDWR)
    os.write(fd, sys.argv[2].encode())
    os.lseek(fd, 0, 0)
    print(os.read(fd, 64).decode().strip())
    os.close(fd)
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}

@test "pulls/new with draft opens a draft; its state takes ready and draft and reads them back" {
	ALLOWED_LOG="^bottlefs: write '/forge/alice/dotfiles/(pulls/new|issues/2/state)': (pulls/new: 'draft'|state must be)"
	double_post /_double/git/alice/dotfiles/commit \
		'{"branch": "draft-work", "from": "main", "message": "wip", "files": {"draft.txt": "d\n"}}' >/dev/null
	[ "$(open_pull '{"title": "Half done", "head": "draft-work", "base": "main", "draft": "yes"}')" = EINVAL ]
	n="$(open_pull '{"title": "Half done", "head": "draft-work", "base": "main", "body": "d", "draft": true}')"
	[ "$n" -gt 0 ]
	# The forge holds a draft (GitHub: its draft flag; Gitea: the WIP title prefix).
	if forge_is github; then
		[ "$(api /repos/alice/dotfiles/pulls/$n 'j["draft"]')" = True ]
	else
		[ "$(api /repos/alice/dotfiles/pulls/$n 'j["title"]')" = "WIP: Half done" ]
	fi
	[ "$(cat "$MNT/$D/pulls/$n/state")" = draft ]
	[ "$(write_close "$MNT/$D/pulls/$n/state" $'ready\n')" = OK ]
	[ "$(cat "$MNT/$D/pulls/$n/state")" = open ]
	[ "$(write_close "$MNT/$D/pulls/$n/state" $'draft\n')" = OK ]
	[ "$(cat "$MNT/$D/pulls/$n/state")" = draft ]
	# open on a draft keeps it a draft (it is open); closed closes it.
	[ "$(write_close "$MNT/$D/pulls/$n/state" $'closed\n')" = OK ]
	[ "$(cat "$MNT/$D/pulls/$n/state")" = closed ]
	# An issue's state is open or closed, never a pull request's words.
	[ "$(write_close "$MNT/$D/issues/2/state" $'draft\n')" = EINVAL ]
	[ "$(write_close "$MNT/$D/issues/2/state" $'ready\n')" = EINVAL ]
}

@test "done: a bad status is EINVAL and queues nothing" {
	ALLOWED_LOG="^bottlefs: write '/done': done: status must be success, failure or blocked"
	[ "$(write_close "$MNT/done" $'finished\nall good\n')" = EINVAL ]
	[ "$(write_close "$MNT/done" '{"status": "ok"}')" = EINVAL ]
	[ -z "$(ls "$T/queue" 2>/dev/null)" ]
	[ ! -s "$MNT/done" ]
}

@test "done: the first signal stands, is queued durably, and a second fails" {
	[ "$(write_close "$MNT/done" $'success\nFixed the colours.\n')" = OK ]
	run "$BOTTLEFS" queue list "$T/queue"
	[ "$(echo "$output" | wc -l)" -eq 1 ]
	item="$(echo "$output" | cut -f2)"
	echo "$item" | python3 -c '
import json, sys
q = json.load(sys.stdin)
assert q["owner"] == "alice" and q["repo"] == "dotfiles" and q["issue"] == 2, q
assert q["status"] == "success" and q["summary"] == "Fixed the colours.", q
assert len(q["pull_requests"]) >= 1 and q["time"], q'
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"]=="success"' "$MNT/done"
	[ "$(write_close "$MNT/done" '{"status": "failure", "summary": "changed my mind"}')" = EACCES ]
	[ "$("$BOTTLEFS" queue list "$T/queue" | wc -l)" -eq 1 ]
	! ls -a "$T/queue" | grep -q '^\.tmp'
	grep -q success "$MNT/done"
}

@test "the provenance log records every write and never the token" {
	run "$BOTTLEFS" state provenance --state "$T/state.db"
	[ "$status" -eq 0 ]
	echo "$output" | grep -q '"what":"body"'
	echo "$output" | grep -q '"what":"comment"'
	echo "$output" | grep -q '"what":"create_pr"'
	echo "$output" | grep -q '"what":"done"'
}

@test "a restart keeps the opened pull requests in scope and the done signal" {
	n="$(cat "$T/pr1")"
	unmount_bfs
	mount_bfs --assign alice/dotfiles#2 --cache-ttl 60
	grep -q "pulls/$n/" "$MNT/.bottlefs/scope"
	[ "$($FSOP access_w "$MNT/$D/pulls/$n/title")" = OK ]
	grep -q success "$MNT/done"
	[ "$($FSOP access_w "$MNT/done")" = NOTWRITABLE ]
}

@test "the token is nowhere: mount, database, queue, logs" {
	! grep -r -a -F -q "$TOKEN" "$MNT/$D/issues/2" "$MNT/.bottlefs" "$MNT/done"
	! grep -a -F -q "$TOKEN" "$T/state.db" "$T"/state.db-* 2>/dev/null
	! grep -r -a -F -q "$TOKEN" "$T/queue"
	! grep -a -F -q "$TOKEN" "$T/bottlefs.log"
	! "$BOTTLEFS" state provenance --state "$T/state.db" | grep -q -F "$TOKEN"
	! "$BOTTLEFS" state journal --state "$T/state.db" | grep -q -F "$TOKEN"
}

@test "without --assign the whole mount is read-only" {
	unmount_bfs
	mount_bfs --cache-ttl 60
	deny_all "$MNT/$D/issues/2/body"
	expect_errno EACCES write "$MNT/$D/issues/2/comments/new" hi
	expect_errno EACCES write "$MNT/done" success
	grep -q "read-only" "$MNT/.bottlefs/scope"
	no_writes_sent
}
