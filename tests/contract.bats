#!/usr/bin/env bats
# The contract check itself: Gitea's description comes from the repository
# (tests/contract/gitea/), the Prism copy is derived from it, the pinned
# Prism runs on this machine's node and still catches an answer outside the
# description, and when Prism cannot start its own words are shown.

load helpers/common

SPEC_SRC="$REPO_ROOT/tests/contract/gitea/swagger.v1.json"

setup() {
	T="$BATS_TEST_TMPDIR/bfs"
	bfs_tmp
}

teardown() {
	stop_all
}

# needs_prism: Prism is a test dependency scripts/setup installs; under
# CI=true its absence is a failure, not a skip.
needs_prism() {
	if [ ! -f "$PRISM_JS" ] || ! command -v node >/dev/null; then
		[ "${CI:-}" = true ] && {
			echo "Prism is not installed at $PRISM_JS (scripts/setup)" >&2
			return 1
		}
		skip "Prism not installed (run scripts/setup)"
	fi
}

@test "Gitea's description is the released 1.26.3 one, with its licence" {
	# The digest its README records: an accidental edit fails here.
	want="$(sed -n 's/^  `\([0-9a-f]\{64\}\)`.*/\1/p' "$REPO_ROOT/tests/contract/gitea/README.md")"
	[ -n "$want" ]
	[ "$(sha256sum "$SPEC_SRC" | cut -d' ' -f1)" = "$want" ]
	grep -q "Permission is hereby granted" "$REPO_ROOT/tests/contract/gitea/LICENSE.gitea"
}

@test "the Prism copy: basePath baked into the paths, response fields nullable" {
	python3 "$REPO_ROOT/tests/contract/derive_prism.py" "$SPEC_SRC" "$T/p.json"
	python3 - "$SPEC_SRC" "$T/p.json" <<'EOF'
import json, sys
src, out = (json.load(open(p)) for p in sys.argv[1:])
assert "basePath" not in out, "basePath kept"
assert sorted(out["paths"]) == sorted("/api/v1" + p for p in src["paths"])
issue = out["definitions"]["Issue"]["properties"]
assert issue["milestone"] == {"anyOf": [{"$ref": "#/definitions/Milestone"}, {"type": "null"}]}, issue["milestone"]
assert issue["closed_at"].get("x-nullable") is True
# request bodies keep their shape
opt = out["definitions"]["CreateIssueOption"]["properties"]
assert "x-nullable" not in opt["title"], opt["title"]
assert out["definitions"]["CreateIssueOption"] == src["definitions"]["CreateIssueOption"]
EOF
}

@test "a description that is not one is refused with a clear error" {
	echo '{"swagger": "2.0"}' >"$T/bad.json"
	run python3 "$REPO_ROOT/tests/contract/derive_prism.py" "$T/bad.json" "$T/out.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is not a Swagger description"* ]]
	[ ! -e "$T/out.json" ]
}

@test "the pinned Prism passes the double's answers and catches one outside the description" {
	needs_prism
	start_double "$REPO_ROOT/tests/double/seed/demo.json"
	start_prism
	[ "$FORGE_URL" != "$DOUBLE_URL" ]
	url="$FORGE_URL$API/repos/alice/dotfiles/issues/1"
	prism_mark
	run curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: token $TOKEN" "$url"
	[ "$output" = 200 ]
	assert_prism_clean

	# The same issue with a number that is a string and a title that is a
	# number: Prism must answer with its own 500 and name both fields (on
	# GitHub too: see github_prism_spec for what kept it from checking).
	# (GitHub's JSON media type spelt as GitHub sends it, so Prism matches it.)
	local ct=''
	forge_is github && ct=', "content_type": "application/json; charset=utf-8"'
	faults "[{\"path\": \"$API/repos/alice/dotfiles/issues/1\", \"status\": 200,
		\"body\": {\"number\": \"one\", \"title\": 7}$ct}]"
	prism_mark
	run curl -sS -D "$T/headers" -H "Authorization: token $TOKEN" "$url"
	grep -q '^HTTP/1.1 500' "$T/headers"
	grep -i '^sl-violations:' "$T/headers" | grep -q '"response","body","number"'
	grep -i '^sl-violations:' "$T/headers" | grep -q '"response","body","title"'
	# ... and the suites' check sees it in Prism's log.
	run assert_prism_clean
	[ "$status" -ne 0 ]
	[[ "$output" == *"Prism reported spec violations"* ]]
}

@test "start_prism prints Prism's own error when Prism does not come up" {
	needs_prism
	start_double "$REPO_ROOT/tests/double/seed/demo.json"
	mkdir -p "$T/broken"
	if forge_is github; then
		echo '{"openapi": "3.0.3", "paths": ' >"$T/broken/api.github.com.prism.json"
		GITHUB_SPEC_DIR="$T/broken" run start_prism
	else
		echo '{"swagger": "2.0", "paths": ' >"$T/broken/swagger.v1.prism.json"
		GITEA_SPEC_DIR="$T/broken" run start_prism
	fi
	[ "$status" -ne 0 ]
	[[ "$output" == *"prism exited"* ]]
	# Prism's own words about the file, not only ours.
	grep -q . "$T/prism.log"
	[[ "$output" == *"$(tail -n 1 "$T/prism.log")"* ]]
	[ ! -f "$T/prism.pid" ]
}
