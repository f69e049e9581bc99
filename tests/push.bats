#!/usr/bin/env bats
# Delivering commits through the mount (issue 10), as the agent user on an
# allow_other mount: clone from repo.bundle and fetch, push a branch both
# ways git writes a bundle, fast-forward, every refusal with its errno (and
# no git-receive-pack for the policy refusals), a pull request with the
# pushed head, kill -9 in the middle of a push, and the token kept from
# every child but the pushing git, from the logs, the database and the agent.

load helpers/common
load helpers/agent

D=forge/alice/dotfiles
B=$D/branches

setup() {
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	T="$BATS_TEST_TMPDIR/bfs"
	bfs_tmp
	start_double "$REPO_ROOT/tests/double/seed/demo.json"
	# Straight to the double: Prism routes no git, and the API contract is
	# checked by the other suites.
	FORGE_URL="$DOUBLE_URL"
	mount_bfs_agent --assign alice/dotfiles#1 --timeout 20 --push-timeout 20 "${EXTRA_ARGS[@]}"
	# The agent's own directory, where it clones and makes bundles.
	W="$T/agent"
	mkdir -p "$W"
	chown "$AGENT_USER" "$W"
	agent_git clone -q "$MNT/$D/repo.bundle" "$W/work"
}

teardown() {
	stop_all
}

# agent_git ARGS...: git as the agent, with an identity and nothing of root's.
agent_git() {
	as_agent git -c user.name=agent -c user.email=agent@example.invalid \
		-c safe.directory='*' -c init.defaultBranch=main "$@"
}

# commit MESSAGE [FILE SIZE]: a commit in the agent's clone (optionally with
# SIZE random bytes in FILE); prints its id.
commit() {
	if [ -n "${2:-}" ]; then
		as_agent head -c "$3" /dev/urandom >"$W/work/$2.tmp"
		as_agent cp "$W/work/$2.tmp" "$W/work/$2"
		rm -f "$W/work/$2.tmp"
		agent_git -C "$W/work" add "$2"
	fi
	agent_git -C "$W/work" commit -q --allow-empty -m "$1"
	agent_git -C "$W/work" rev-parse HEAD
}

# bundle FILE ARGS...: `git bundle create FILE ARGS` in the agent's clone.
bundle() {
	local f="$1"
	shift
	agent_git -C "$W/work" bundle create -q "$f" "$@"
}

# put FILE DEST: the agent writes FILE's bytes to DEST (created or
# truncated) and closes it: prints OK or the errno of the call that failed.
put() {
	as_agent python3 -c '
import errno, os, sys
try:
    fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
except OSError as e:
    print(errno.errorcode[e.errno]); sys.exit(0)
data = open(sys.argv[1], "rb").read()
try:
    while data:
        data = data[os.write(fd, data):]
except OSError as e:
    print(errno.errorcode[e.errno]); os.close(fd); sys.exit(0)
try:
    os.close(fd)
except OSError as e:
    print(errno.errorcode[e.errno]); sys.exit(0)
print("OK")' "$1" "$2"
}

forge_tip() {
	double_get /_double/git/alice/dotfiles/refs | python3 -c '
import json, sys
print(json.load(sys.stdin).get("refs/heads/" + sys.argv[1], ""))' "$1"
}

receive_packs() { log_count POST 'git-receive-pack$'; }

@test "clone from repo.bundle, then git fetch, with no token" {
	[ "$(agent_git -C "$W/work" rev-parse origin/main)" = "$(forge_tip main)" ]
	[ "$(agent_git -C "$W/work" branch -r | wc -l)" -ge 4 ]
	[ "$(stat -c %s "$MNT/$D/repo.bundle")" -eq "$(as_agent cat "$MNT/$D/repo.bundle" | wc -c)" ]
	# The forge moves main; after the cache TTL the bundle follows and fetch sees it.
	new="$(double_post /_double/git/alice/dotfiles/commit \
		'{"branch": "main", "message": "on the forge", "files": {"x.txt": "x\n"}}' |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
	unmount_bfs
	mount_bfs_agent --assign alice/dotfiles#1
	agent_git -C "$W/work" fetch -q origin
	[ "$(agent_git -C "$W/work" rev-parse origin/main)" = "$new" ]
	# The agent's environment holds no credential at all.
	! as_agent env | grep -q -i token
}

@test "a new branch pushed through stdout: close() answers, the leaf reads the new commit" {
	c="$(commit "first")"
	as_agent bash -c "cd '$W/work' && git -c safe.directory='*' bundle create -q - main > '$MNT/$B/bottle/1-x'"
	[ "$(forge_tip bottle/1-x)" = "$c" ]
	[ "$(as_agent cat "$MNT/$B/bottle/1-x")" = "$c" ]
	grep -q "branches/bottle/1-x	ok	pushed $c" "$MNT/.bottlefs/log"
	# And the way a program sees it: close() says OK.
	c2="$(commit "second")"
	bundle "$W/b2" main
	[ "$(put "$W/b2" "$MNT/$B/bottle/1-x")" = OK ]
	[ "$(forge_tip bottle/1-x)" = "$c2" ]
	[ "$(receive_packs)" -eq 2 ]
	"$BOTTLEFS" state journal --state "$T/state.db" | grep '"kind":"push"' | grep -q '"status":"done"'
}

@test "a new branch pushed with git bundle create <mount path>: the .lock rename answers" {
	c="$(commit "by lock")"
	bundle "$MNT/$B/bottle/1-y" main
	[ "$(forge_tip bottle/1-y)" = "$c" ]
	[ "$(as_agent cat "$MNT/$B/bottle/1-y")" = "$c" ]
	# No .lock is left behind.
	! ls "$MNT/$B/bottle/" | grep -q lock
	as_agent ls "$MNT/$B/bottle/" | grep -qx 1-y
}

@test "a fast-forward of a pushed branch, sending only the new commits" {
	c1="$(commit "one")"
	bundle "$W/b1" main
	[ "$(put "$W/b1" "$MNT/$B/bottle/1-ff")" = OK ]
	c2="$(commit "two" big.bin 4096)"
	bundle "$W/b2" "$c1..main"
	[ "$(put "$W/b2" "$MNT/$B/bottle/1-ff")" = OK ]
	[ "$(forge_tip bottle/1-ff)" = "$c2" ]
	[ "$(as_agent cat "$MNT/$B/bottle/1-ff")" = "$c2" ]
}

@test "out of policy: EACCES at open(), the reason in the log, nothing sent" {
	commit "x" >/dev/null
	bundle "$W/b" main
	log_reset
	[ "$(put "$W/b" "$MNT/$B/main")" = EACCES ]
	[ "$(put "$W/b" "$MNT/$B/feature")" = EACCES ]
	[ "$(put "$W/b" "$MNT/$B/bottle/2-other-issue")" = EACCES ]
	[ "$(put "$W/b" "$MNT/forge/alice/website/branches/main")" = EACCES ]
	[ "$(agent_errno stat "$MNT/forge/alice/website/branches/bottle")" = ENOENT ]
	# git's own way (create <name>.lock) is refused at its create too.
	[ "$(put "$W/b" "$MNT/$B/feature.lock")" = EACCES ]
	# Never a delete, never a tag (no such path), never repo.bundle.
	[ "$(agent_errno unlink "$MNT/$B/main")" = EACCES ]
	[ "$(agent_errno open_w "$MNT/$D/repo.bundle")" = EACCES ]
	[ "$(agent_errno stat "$MNT/$D/tags")" = ENOENT ]
	[ "$(receive_packs)" -eq 0 ]
	[ "$(log_count '*' 'git-receive-pack')" -eq 0 ]
	grep -q "branches/feature	EACCES	branch 'feature' is outside the push policy" "$MNT/.bottlefs/log"
	grep -q "pushes go only to the assigned repository" "$MNT/.bottlefs/log"
	grep -q "pushable: forge/alice/dotfiles/branches/bottle/1-\*" "$MNT/.bottlefs/scope"
	[ "$(forge_tip main)" != "$(agent_git -C "$W/work" rev-parse main)" ]
}

@test "refusals after the checks: EINVAL, ENOENT, EPERM, EFBIG, EIO, each with its reason" {
	base="$(agent_git -C "$W/work" rev-parse main)"
	# Malformed: not a bundle at all.
	head -c 3000 /dev/urandom >"$W/garbage"
	chmod 644 "$W/garbage"
	log_reset
	[ "$(put "$W/garbage" "$MNT/$B/bottle/1-bad")" = EINVAL ]
	# Two refs.
	agent_git -C "$W/work" branch other
	c="$(commit "two refs")"
	bundle "$W/two" main other
	[ "$(put "$W/two" "$MNT/$B/bottle/1-bad")" = EINVAL ]
	# A tag.
	agent_git -C "$W/work" tag v1
	bundle "$W/tag" v1
	[ "$(put "$W/tag" "$MNT/$B/bottle/1-bad")" = EINVAL ]
	# A prerequisite the forge does not have.
	c2="$(commit "needs c")"
	bundle "$W/thin" "$c..main"
	[ "$(put "$W/thin" "$MNT/$B/bottle/1-bad")" = ENOENT ]
	[ "$(receive_packs)" -eq 0 ]
	[ "$(forge_tip bottle/1-bad)" = "" ]
	grep -q "bottle/1-bad	EINVAL	.*exactly one" "$MNT/.bottlefs/log"
	grep -q "bottle/1-bad	EINVAL	.*tag" "$MNT/.bottlefs/log"
	grep -q "bottle/1-bad	ENOENT	.*not on the forge" "$MNT/.bottlefs/log"
	# Not a fast-forward: the forge's branch moved elsewhere.
	bundle "$W/good" main
	[ "$(put "$W/good" "$MNT/$B/bottle/1-nff")" = OK ]
	double_post /_double/git/alice/dotfiles/commit \
		'{"branch": "bottle/1-nff", "message": "someone else", "files": {"y.txt": "y\n"}}' >/dev/null
	c3="$(commit "mine")"
	bundle "$W/nff" "$c2..main"
	log_reset
	[ "$(put "$W/nff" "$MNT/$B/bottle/1-nff")" = EPERM ]
	[ "$(receive_packs)" -eq 0 ]
	grep -q "bottle/1-nff	EPERM	.*not a fast-forward" "$MNT/.bottlefs/log"
	# The forge fails the push.
	faults '[{"method": "POST", "path": "git-receive-pack$", "status": 500}]'
	[ "$(put "$W/good" "$MNT/$B/bottle/1-fail")" = EIO ]
	faults_clear
	[ "$(forge_tip bottle/1-fail)" = "" ]
	grep -q "bottle/1-fail	EIO" "$MNT/.bottlefs/log"
}

@test "over --push-max and --push-max-object: EFBIG, nothing sent" {
	unmount_bfs
	mount_bfs_agent --assign alice/dotfiles#1 --push-max 64K --push-max-object 20K
	commit "big" blob.bin 100000 >/dev/null
	bundle "$W/big" main
	log_reset
	[ "$(put "$W/big" "$MNT/$B/bottle/1-big")" = EFBIG ]
	agent_git -C "$W/work" reset -q --hard origin/main
	commit "medium" blob.bin 30000 >/dev/null
	bundle "$W/obj" main
	[ "$(stat -c %s "$W/obj")" -lt 65536 ]
	[ "$(put "$W/obj" "$MNT/$B/bottle/1-big")" = EFBIG ]
	[ "$(receive_packs)" -eq 0 ]
	grep -q "bottle/1-big	EFBIG" "$MNT/.bottlefs/log"
}

@test "a pull request opened through pulls/new with the pushed head; a missing head is refused" {
	c="$(commit "for a pr")"
	bundle "$MNT/$B/bottle/1-pr" main
	[ "$(forge_tip bottle/1-pr)" = "$c" ]
	printf '{"title": "fix", "head": "bottle/1-missing", "base": "main", "body": "b"}' >"$W/missing.json"
	printf '{"title": "fix", "head": "bottle/1-pr", "base": "main", "body": "b"}' >"$W/pr.json"
	chmod 644 "$W/missing.json" "$W/pr.json"
	[ "$(put "$W/missing.json" "$MNT/$D/pulls/new")" != OK ]
	[ "$(put "$W/pr.json" "$MNT/$D/pulls/new")" = OK ]
	# The pull request's number, from the outcome log ("ok	pull N").
	n="$(awk -F'\t' '$2 ~ /pulls\/new$/ && $3 == "ok" { sub(/^pull /, "", $4); print $4 }' \
		"$MNT/.bottlefs/log" | tail -n1)"
	[ -n "$n" ]
	[ "$(as_agent cat "$MNT/$D/pulls/$n/head")" = "bottle/1-pr" ]
}

@test "--push-branches replaces the default; the head of a pull request this mount opened is pushable" {
	unmount_bfs
	mount_bfs_agent --assign alice/dotfiles#1 --push-branches 'agent/*'
	grep -q "pushable: forge/alice/dotfiles/branches/agent/\*" "$MNT/.bottlefs/scope"
	c="$(commit "glob")"
	bundle "$W/b" main
	# bottle/ is still there, but no longer pushable.
	[ -d "$MNT/$B/bottle" ]
	[ "$(put "$W/b" "$MNT/$B/bottle/1-x")" = EACCES ]
	[ "$(put "$W/b" "$MNT/$B/agent/x")" = OK ]
	[ "$(forge_tip agent/x)" = "$c" ]
	# vim-plugins is nobody's business until this mount opens a PR from it.
	agent_git -C "$W/work" checkout -q -b vp origin/vim-plugins
	c2="$(commit "on the pr head")"
	bundle "$W/vp" vp
	log_reset
	[ "$(put "$W/vp" "$MNT/$B/vim-plugins")" = EACCES ]
	[ "$(receive_packs)" -eq 0 ]
	printf '{"title": "plugins", "head": "vim-plugins", "base": "main", "body": "b"}' >"$W/pr.json"
	chmod 644 "$W/pr.json"
	r="$(put "$W/pr.json" "$MNT/$D/pulls/new")"; echo "pr: $r"; cat "$MNT/.bottlefs/log" | tail -3
	[ "$r" = OK ]
	[ "$(put "$W/vp" "$MNT/$B/vim-plugins")" = OK ]
	[ "$(forge_tip vim-plugins)" = "$c2" ]
}

# push_in_background FILE DEST: an agent pushing; its close() is cut short by a kill.
push_in_background() {
	put "$1" "$2" >"$T/put.out" 3>&- &
	echo $! >"$T/writer.pid"
}

kill_daemon_when_hung() {
	wait_for 30 bash -c "curl -fsS $DOUBLE_URL/_double/log | grep -q '\"status\": *\"hang\"'"
	kill -9 "$(cat "$T/bottlefs.pid")"
	rm -f "$T/bottlefs.pid"
	stop_pid "$T/writer.pid"
}

@test "kill -9 after the forge took the push: recorded done on restart, never pushed again" {
	c="$(commit "landed")"
	bundle "$W/b" main
	log_reset
	faults '[{"method": "POST", "path": "git-receive-pack$", "hang_after_apply": true, "times": 1}]'
	push_in_background "$W/b" "$MNT/$B/bottle/1-kill"
	kill_daemon_when_hung
	[ "$(forge_tip bottle/1-kill)" = "$c" ]
	faults_clear
	mount_bfs_agent --assign alice/dotfiles#1 --timeout 20 --push-timeout 20
	grep -q "finished 1 write" "$T/bottlefs.log"
	"$BOTTLEFS" state journal --state "$T/state.db" | grep '"kind":"push"' | grep '"status":"done"' | grep -q "found on the forge"
	[ "$(receive_packs)" -eq 1 ]
	[ "$(as_agent cat "$MNT/$B/bottle/1-kill")" = "$c" ]
}

@test "kill -9 before the forge took the push: the branch stays old, recorded failed, not pushed again" {
	c="$(commit "not landed")"
	bundle "$W/b" main
	log_reset
	faults '[{"method": "POST", "path": "git-receive-pack$", "hang": true, "times": 1}]'
	push_in_background "$W/b" "$MNT/$B/bottle/1-lost"
	kill_daemon_when_hung
	faults_clear
	mount_bfs_agent --assign alice/dotfiles#1 --timeout 20 --push-timeout 20
	grep -q "finished 1 write" "$T/bottlefs.log"
	[ "$(forge_tip bottle/1-lost)" = "" ]
	"$BOTTLEFS" state journal --state "$T/state.db" | grep '"kind":"push"' | grep '"status":"failed"' | grep -q "not pushed"
	[ "$(receive_packs)" -eq 1 ]
	[ "$(agent_errno stat "$MNT/$B/bottle/1-lost")" = ENOENT ]
}

@test "the token: only in the pushing git's environment, never in argv, logs, the database, or the agent's reach" {
	c="$(commit "token")"
	bundle "$W/b" main
	faults '[{"method": "POST", "path": "git-receive-pack$", "latency_ms": 1500, "times": 1}]'
	push_in_background "$W/b" "$MNT/$B/bottle/1-tok"
	daemon="$(cat "$T/bottlefs.pid")"
	# While the push runs: every child of the daemon, its argv and environment.
	wait_for 20 bash -c "pgrep -P $daemon -f 'git' >/dev/null"
	saw_push=0
	for pid in $(pgrep -P "$daemon") $(pgrep -g "$(pgrep -P "$daemon" | head -n1)" 2>/dev/null); do
		! tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$TOKEN"
		if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qx push; then
			saw_push=1
		fi
	done
	wait_for 30 bash -c "! kill -0 $(cat "$T/writer.pid") 2>/dev/null"
	rm -f "$T/writer.pid"
	[ "$(cat "$T/put.out")" = OK ]
	[ "$(forge_tip bottle/1-tok)" = "$c" ]
	# Not in the daemon's log, the journal, the database, the mirrors' config.
	! grep -qF "$TOKEN" "$T/bottlefs.log"
	! grep -qF "$TOKEN" "$T/state.db"
	! grep -rqF "$TOKEN" "$T/mirrors" 2>/dev/null
	! grep -qF "$TOKEN" "$MNT/.bottlefs/log"
	# The agent cannot read the daemon's memory, environment or mirrors.
	! as_agent cat "/proc/$daemon/environ" >/dev/null 2>&1
	! as_agent ls "$T/mirrors" >/dev/null 2>&1
	[ "$(stat -c %a "$T/mirrors")" = 700 ]
}

@test "a bundle whose last close comes before its pack is complete pushes nothing, and says so" {
	c="$(commit "cut short")"
	bundle "$W/b" main
	head -c "$(($(stat -c %s "$W/b") - 10))" "$W/b" >"$W/cut"
	chmod 644 "$W/cut"
	log_reset
	# An earlier flush of a bundle still being written is a success.
	[ "$(put "$W/cut" "$MNT/$B/bottle/1-cut")" = OK ]
	wait_for 10 grep -q "bottle/1-cut	EINVAL	the last close came with the bundle incomplete" "$MNT/.bottlefs/log"
	[ "$(receive_packs)" -eq 0 ]
	[ "$(forge_tip bottle/1-cut)" = "" ]
	"$BOTTLEFS" state journal --state "$T/state.db" | grep '"kind":"push"' | grep '"status":"failed"' | grep -q "incomplete"
}

@test "--forge git: a bare git remote shows branches/ and repo.bundle only, and takes pushes" {
	unmount_bfs
	mount_bfs_agent --forge git --assign alice/dotfiles#1
	[ "$(as_agent ls "$MNT/$D" | tr '\n' ' ')" = "branches repo.bundle " ]
	[ "$(agent_errno stat "$MNT/$D/issues")" = ENOENT ]
	[ "$(agent_errno stat "$MNT/$D/pulls/new")" = ENOENT ]
	[ "$(agent_errno stat "$MNT/$D/issues/1/title")" = ENOENT ]
	python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
assert c["name"] == "git" and c["push_branch"] is True, c
assert c["create_pr"] is False and c["post_comment"] is False and c["issues"] is False, c
' "$MNT/.bottlefs/capabilities.json"
	[ "$(as_agent cat "$MNT/$B/main")" = "$(forge_tip main)" ]
	log_reset
	rm -rf "$W/bare"
	agent_git clone -q "$MNT/$D/repo.bundle" "$W/bare"
	agent_git -C "$W/bare" commit -q --allow-empty -m "over bare git"
	c="$(agent_git -C "$W/bare" rev-parse HEAD)"
	agent_git -C "$W/bare" bundle create -q "$MNT/$B/bottle/1-bare" origin/main..HEAD
	[ "$(forge_tip bottle/1-bare)" = "$c" ]
	[ "$(as_agent cat "$MNT/$B/bottle/1-bare")" = "$c" ]
	# No issue API was asked for anything.
	[ "$(log_count '*' '^/api/v1/')" -eq 0 ]
	[ "$(put "$W/bare/.git/HEAD" "$MNT/$B/main")" = EACCES ]
}
