#!/usr/bin/env bats
# What the cache saves, counted in forge requests (the double's log): a cold
# read is one round trip, a listing fills every item, a walk takes comments
# in bulk, a revalidation after the TTL is one `since` request per list, a
# restart is warm, and a forge that is down still serves what was read.
# The traffic passes through Prism (the contract check).

load helpers/common

setup_file() {
	bfs_tmp
	# perf/many: 120 issues and 4 pulls, one comment each (3 pages of 50).
	start_double "$REPO_ROOT/tests/double/seed/demo.json" --generate perf/many:120:4:1
	start_prism
}

teardown_file() {
	bfs_tmp
	stop_all
}

setup() {
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	bfs_tmp
	DOUBLE_URL="http://127.0.0.1:$(cat "$T/double.port")"
	TOKEN="$(head -n1 "$T/token")"
	prism_mark
}

teardown() {
	faults_clear || true
	unmount_bfs
	assert_prism_clean
}

# A daemon with an empty cache (and an empty persistent store).
cold_mount() {
	rm -f "$T"/state.db*
	mount_bfs --timeout 5 "$@"
	log_reset
}

# count PATH_REGEX: GET requests since the last log_reset whose path matches.
count() { log_count GET "$1"; }

@test "a cold read of one issue file is exactly one request" {
	python3 "$REPO_ROOT/tests/helpers/api.py" "$DOUBLE_URL" "$TOKEN" \
		/repos/alice/dotfiles/issues/2 'j["body"]' >"$T/want"
	cold_mount --cache-ttl 60
	diff "$T/want" "$MNT/forge/alice/dotfiles/issues/2/body"
	[ "$(count '.')" -eq 1 ]
	[ "$(count "^$API/repos/alice/dotfiles/issues/2$")" -eq 1 ]
}

@test "an item whose comment count is 0 never needs a comment request" {
	# acme/widgets: only every third item has comments.
	local n=1
	[ "$(python3 "$REPO_ROOT/tests/helpers/api.py" "$DOUBLE_URL" "$TOKEN" \
		/repos/acme/widgets/issues/$n 'j["comments"]')" = 0 ]
	cold_mount --cache-ttl 60
	grep -q . "$MNT/forge/acme/widgets/issues/$n/thread.md"
	[ "$(ls "$MNT/forge/acme/widgets/issues/$n/comments")" = new ]
	[ "$(count 'comments')" -eq 0 ]
	[ "$(count '.')" -eq 1 ]
}

@test "ls -l issues/ is the list pages only: no request per issue" {
	cold_mount --cache-ttl 60
	run ls -l "$MNT/forge/perf/many/issues"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c '^d')" -eq 120 ]
	# Gitea: ceil(120/50) pages; GitHub: ceil(124/100), its list holding the
	# pull requests too; and nothing else.
	local pages=3
	forge_is github && pages=2
	[ "$(count "^$API/repos/perf/many/issues$")" -eq $pages ]
	[ "$(count '.')" -eq $pages ]
	# Reading the bodies afterwards costs nothing either.
	cat "$MNT"/forge/perf/many/issues/*/body >/dev/null
	[ "$(count '.')" -eq $pages ]
}

@test "grep -r takes comments in bulk: list pages plus repository-wide comment pages" {
	cold_mount --cache-ttl 60
	run grep -r -l "Comment 1 on item" "$MNT/forge/perf/many"
	[ "$status" -eq 0 ]
	# Every item has a comment: its thread.md and its comment file match.
	[ "$(echo "$output" | grep -c '/thread.md$')" -eq 124 ]
	[ "$(count "^$API/repos/perf/many/issues/[0-9]+/comments$")" -eq 0 ]
	[ "$(count "^$API/repos/perf/many/issues/[0-9]+$")" -eq 0 ]
	if forge_is github; then
		# GitHub: a diff is GET pulls/N in its diff media type (one per pull);
		# 124 comments and 124 items are 2 pages each, and the issue list is read
		# again for the pull requests' comment counts, which /pulls lacks.
		[ "$(count "^$API/repos/perf/many/pulls/[0-9]+$")" -eq 4 ]
		[ "$(count "^$API/repos/perf/many/issues/comments$")" -eq 2 ]
		[ "$(count "^$API/repos/perf/many/issues$")" -eq 4 ]
		[ "$(count "^$API/repos/perf/many/pulls$")" -eq 1 ]
		# branches/ is one list page; repo.bundle is read from the mirror (git).
		[ "$(count "^$API/repos/perf/many/branches$")" -eq 1 ]
		[ "$(count '.')" -eq "$((12 + $(count '^/perf/many\.git/')))" ]
		return 0
	fi
	[ "$(count "^$API/repos/perf/many/pulls/[0-9]+$")" -eq 0 ]
	# 124 comments: 3 pages; issues 3 pages; pulls 1 page (+ diffs are not grepped
	# away: grep reads them, one request per pull).
	[ "$(count "^$API/repos/perf/many/issues/comments$")" -eq 3 ]
	[ "$(count "^$API/repos/perf/many/issues$")" -eq 3 ]
	[ "$(count "^$API/repos/perf/many/pulls$")" -eq 1 ]
	[ "$(count '\.diff$')" -eq 4 ]
	# branches/ is one list page; repo.bundle is read from the daemon's
	# mirror, which git fetches over its own paths (not the API).
	[ "$(count '^/api/v1/repos/perf/many/branches$')" -eq 1 ]
	[ "$(count '^/api/v1/')" -eq 12 ]
	[ "$(count '.')" -eq "$((12 + $(count '^/perf/many\.git/')))" ]
}

@test "after the TTL, a second grep -r with nothing changed is one since request per list" {
	cold_mount --cache-ttl 1 --kernel-ttl 1
	grep -r -q "no such text" "$MNT/forge/perf/many" || true
	sleep 1.5 # let the cache (1 s) and the kernel's attributes (1 s) expire
	log_reset
	grep -r -q "no such text" "$MNT/forge/perf/many" || true
	# The two lists' since requests, and the branch list (which has no since).
	[ "$(count "^$API/repos/perf/many/")" -le 3 ]
	[ "$(log_count GET "^$API/repos/perf/many/issues$" )" -eq 2 ]
	[ "$(log_count GET "^$API/repos/perf/many/branches$" )" -le 1 ]
	double_get /_double/log | python3 -c '
import json, sys
import os
qs = [e["query"] for e in json.load(sys.stdin)
      if e["path"].startswith(os.environ["API"] + "/repos/perf/many/") and not e["path"].endswith("/branches")]
assert all("since=" in q for q in qs), qs'
}

@test "after the TTL, a changed issue is refetched by the since request and shows at once" {
	cold_mount --cache-ttl 1 --kernel-ttl 1
	local f="$MNT/forge/perf/many/issues/7/body"
	ls "$MNT/forge/perf/many/issues" >/dev/null
	grep -q "item 7" "$f"
	curl -fsS -X PATCH -H "Authorization: token $TOKEN" -H 'Content-Type: application/json' \
		-d '{"body":"changed behind our back\n"}' \
		"$DOUBLE_URL$API/repos/perf/many/issues/7" >/dev/null
	sleep 1.5 # the cache and the kernel's attributes expire
	log_reset
	ls "$MNT/forge/perf/many/issues" >/dev/null
	[ "$(cat "$f")" = "changed behind our back" ]
	# The since request of the listing brought the new body: no request for the issue itself.
	[ "$(count "^$API/repos/perf/many/issues/7$")" -eq 0 ]
	[ "$(count '.')" -eq 1 ]
	# An unchanged neighbour is fresh again without a request.
	grep -q "item 8" "$MNT/forge/perf/many/issues/8/body"
	[ "$(count '.')" -eq 1 ]
}

@test "a restarted daemon reads a cached issue without a request" {
	cold_mount --cache-ttl 60
	cat "$MNT/forge/perf/many/issues/9/thread.md" >"$T/before"
	unmount_bfs # the store is written before the daemon exits
	mount_bfs --timeout 5 --cache-ttl 60
	log_reset
	diff "$T/before" "$MNT/forge/perf/many/issues/9/thread.md"
	[ "$(count '.')" -eq 0 ]
}

@test "a forge that is down still serves what was read, after the TTL" {
	cold_mount --cache-ttl 1 --kernel-ttl 1
	PRISM_ALLOW='Unable to match the returned status code'
	ls "$MNT/forge/perf/many/issues" >/dev/null
	cat "$MNT/forge/perf/many/issues/11/thread.md" >"$T/before"
	faults '[{"path": ".*", "status": 503}]'
	sleep 1.5 # the cache and the kernel's attributes expire
	diff "$T/before" "$MNT/forge/perf/many/issues/11/thread.md"
	[ "$(ls "$MNT/forge/perf/many/issues" | wc -l)" -eq 120 ]
	[ "$(log_count GET '.')" -ge 1 ] # it did ask
}
