# Shared setup for the bats suites: the Gitea double, Prism in front of it,
# and a bottlefs mount. Every process started here is recorded by PID and
# stopped in teardown; every wait has a deadline (no bare sleeps).
#
# Environment:
#   BOTTLEFS        the command a user runs (default: build/bottlefs; it runs
#                   the daemon build/bottlefs-mount beside it for a mount)
#   GITEA_SPEC_DIR  a directory holding the swagger.v1.prism.json Prism checks
#                   against (default: .cache/contract/gitea, derived from the
#                   repository's tests/contract/gitea/swagger.v1.json)
#   PRISM_JS        Prism's entry point (default: .cache/prism/node_modules/...)
#   CI              "true": a contract check that cannot run fails the suite
#                   instead of being skipped with a notice
#   BFS_FORGE       gitea (default) or github: which forge every suite runs
#                   against (the double, Prism's spec and --forge follow it)

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BOTTLEFS="${BOTTLEFS:-$REPO_ROOT/build/bottlefs}"
GITEA_SPEC_DERIVED="$REPO_ROOT/.cache/contract/gitea"
GITEA_SPEC_DIR="${GITEA_SPEC_DIR:-$GITEA_SPEC_DERIVED}"
PRISM_JS="${PRISM_JS:-$REPO_ROOT/.cache/prism/node_modules/@stoplight/prism-cli/dist/index.js}"
FSOP="python3 $REPO_ROOT/tests/helpers/fsop.py"
GITHUB_SPEC_DERIVED="$REPO_ROOT/.cache/contract/github"
GITHUB_SPEC_DIR="${GITHUB_SPEC_DIR:-$GITHUB_SPEC_DERIVED}"

# The forge switch. BFS_FORGE picks the double (gitea_double.py or
# github_double.py, one seed format), Prism's description and bottlefs's
# --forge; API is the prefix of the forge's API paths in the double's log
# ("/api/v1" for Gitea, "" for GitHub), so a path regex reads
# "^$API/repos/o/r/issues$" for both.
BFS_FORGE="${BFS_FORGE:-gitea}"
case "$BFS_FORGE" in
gitea) API=/api/v1 ;;
github) API= ;;
*)
	echo "BFS_FORGE must be gitea or github (was '$BFS_FORGE')" >&2
	exit 1
	;;
esac
export BFS_FORGE API

# forge_is NAME: the suites run against NAME. A test of a behaviour that
# truly differs says `forge_is gitea || skip "why"` (SEMANTICS.md says so).
forge_is() { [ "$BFS_FORGE" = "$1" ]; }

# wait_for DEADLINE_S CMD...: polls CMD every 50 ms until it succeeds.
wait_for() {
	local deadline=$(($(date +%s%N) + $1 * 1000000000))
	shift
	until "$@" 2>/dev/null; do
		if [ "$(date +%s%N)" -gt "$deadline" ]; then
			echo "timed out waiting for: $*" >&2
			return 1
		fi
		sleep 0.05
	done
}

# T: the scratch directory (this test file's, unless a suite set its own).
bfs_tmp() {
	T="${T:-${BATS_FILE_TMPDIR:-$BATS_TMPDIR}/bfs}"
	mkdir -p "$T"
}

# start_double SEED [ARGS...]: starts the Gitea double; sets DOUBLE_PORT, DOUBLE_URL.
start_double() {
	bfs_tmp
	local seed="$1"
	shift
	rm -f "$T/double.port"
	printf 'tok-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$T/token"
	chmod 600 "$T/token"
	TOKEN="$(head -n1 "$T/token")"
	python3 "$REPO_ROOT/tests/double/${BFS_FORGE}_double.py" --seed "$seed" --port 0 \
		--port-file "$T/double.port" --token-file "$T/token" "$@" \
		>"$T/double.log" 2>&1 3>&- &
	echo $! >"$T/double.pid"
	wait_for 10 test -s "$T/double.port"
	DOUBLE_PORT="$(cat "$T/double.port")"
	DOUBLE_URL="http://127.0.0.1:$DOUBLE_PORT"
	export DOUBLE_PORT DOUBLE_URL TOKEN
}

# gitea_prism_spec: makes sure $GITEA_SPEC_DIR/swagger.v1.prism.json is
# there. The default one is derived from the repository's copy of Gitea's
# description (tests/contract/gitea/) when missing or older than it; a
# GITEA_SPEC_DIR set by the caller is used as it is.
gitea_prism_spec() {
	local src="$REPO_ROOT/tests/contract/gitea/swagger.v1.json"
	local derive="$REPO_ROOT/tests/contract/derive_prism.py"
	local out="$GITEA_SPEC_DIR/swagger.v1.prism.json"
	if [ "$GITEA_SPEC_DIR" = "$GITEA_SPEC_DERIVED" ] &&
		{ [ ! -f "$out" ] || [ "$src" -nt "$out" ] || [ "$derive" -nt "$out" ]; }; then
		python3 "$derive" "$src" "$out" || return 1
	fi
	[ -f "$out" ]
}

# github_prism_spec: GitHub's derived description (tests/contract/github/)
# in $GITHUB_SPEC_DIR (derived when it is the default one),
# plus POST /graphql, which GitHub describes in GraphQL, not OpenAPI: it
# is declared as any JSON object in and out, so Prism passes the draft
# mutations through (the double's unit tests check their shape). One
# rewrite keeps Prism validating: a schema that says "nullable" beside an
# anyOf/oneOf but no "type" (issue-field-value's value, inside every
# issue) makes Prism's validator refuse the whole schema, and Prism then
# passes every answer of that operation unchecked; the "nullable" moves
# into the typed branches, which says the same.
github_prism_spec() {
	local src="$REPO_ROOT/tests/contract/github/api.github.com.subset.json"
	local out="$GITHUB_SPEC_DIR/api.github.com.prism.json"
	if [ "$GITHUB_SPEC_DIR" = "$GITHUB_SPEC_DERIVED" ] &&
		{ [ ! -f "$out" ] || [ "$src" -nt "$out" ] || [ "${BASH_SOURCE[0]}" -nt "$out" ]; }; then
		mkdir -p "$GITHUB_SPEC_DIR" || return 1
		python3 - "$src" "$out.tmp" <<'PY' || return 1
import json, sys
spec = json.load(open(sys.argv[1]))
anyobj = {"content": {"application/json": {"schema": {"type": "object"}}}}
spec["paths"]["/graphql"] = {"post": {
    "operationId": "graphql", "requestBody": dict(anyobj, required=True),
    "responses": {"200": dict(anyobj, description="data or errors"),
                  "400": dict(anyobj, description="problems parsing JSON"),
                  "401": dict(anyobj, description="requires authentication"),
                  "403": dict(anyobj, description="rate limited")}}}
def typeless_nullable(x):
    if isinstance(x, dict):
        alts = x.get("anyOf") or x.get("oneOf")
        if x.get("nullable") is True and "type" not in x and isinstance(alts, list):
            del x["nullable"]
            for a in alts:
                if isinstance(a, dict) and "type" in a:
                    a["nullable"] = True
        for v in x.values():
            typeless_nullable(v)
    elif isinstance(x, list):
        for v in x:
            typeless_nullable(v)
typeless_nullable(spec)
json.dump(spec, open(sys.argv[2], "w"))
PY
		mv "$out.tmp" "$out"
	fi
	[ -f "$out" ]
}

# prism_spec: the description Prism checks this forge against.
prism_spec() {
	if forge_is github; then
		echo "$GITHUB_SPEC_DIR/api.github.com.prism.json"
	else
		echo "$GITEA_SPEC_DIR/swagger.v1.prism.json"
	fi
}

prism_available() {
	if forge_is github; then github_prism_spec; else gitea_prism_spec; fi &&
		[ -f "$PRISM_JS" ] && command -v node >/dev/null
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# prism_up PID URL: Prism answers URL; fails at once when Prism (PID) exited.
prism_up() {
	kill -0 "$1" 2>/dev/null || return 2
	curl -fsS -o /dev/null -H "Authorization: token $TOKEN" "$2"
}

# start_prism: Prism in proxy mode in front of the double; sets FORGE_URL.
# Without Prism (bats run before scripts/setup installed it) the contract
# check is skipped with a visible notice and bottlefs talks to the double
# directly; under CI=true that is a failure. When Prism does not come up,
# its own output says why, and is printed.
start_prism() {
	local pid deadline rc
	if ! prism_available; then
		echo "# notice: Prism (or node, or $(prism_spec)) not found: contract check skipped; run scripts/setup" >&3
		if [ "${CI:-}" = true ]; then
			echo "the contract check is required under CI=true: PRISM_JS=$PRISM_JS, GITEA_SPEC_DIR=$GITEA_SPEC_DIR, node: $(command -v node || echo none)" >&2
			return 1
		fi
		FORGE_URL="$DOUBLE_URL"
		export FORGE_URL
		return 0
	fi
	PRISM_PORT="$(free_port)"
	node "$PRISM_JS" proxy --errors -h 127.0.0.1 -p "$PRISM_PORT" \
		"$(prism_spec)" "$DOUBLE_URL" >"$T/prism.log" 2>&1 3>&- &
	pid=$!
	echo "$pid" >"$T/prism.pid"
	deadline=$(($(date +%s) + 60))
	local probe=/api/v1/settings/api
	forge_is github && probe=/rate_limit
	until prism_up "$pid" "http://127.0.0.1:$PRISM_PORT$probe" 2>/dev/null; do
		rc=$?
		if [ "$rc" -eq 2 ] || [ "$(date +%s)" -gt "$deadline" ]; then
			if [ "$rc" -eq 2 ]; then
				wait "$pid"
				echo "prism exited ($?) before it answered; its output:" >&2
			else
				echo "prism did not answer within 60 s; its output:" >&2
			fi
			tail -n 40 "$T/prism.log" >&2
			stop_pid "$T/prism.pid"
			return 1
		fi
		sleep 0.05
	done
	FORGE_URL="http://127.0.0.1:$PRISM_PORT"
	export FORGE_URL PRISM_PORT
}

# prism_mark: remember where Prism's log is, so a test checks only its own lines.
prism_mark() {
	[ -f "$T/prism.log" ] && wc -l <"$T/prism.log" >"$T/prism.mark"
	return 0
}

# The contract check: Prism saw no request or response outside the spec
# since prism_mark. A test that injects a status the spec does not declare
# (a 401 on a GET, say) sets PRISM_ALLOW to a regex for that one warning.
# With --errors, Prism logs a violation as a [VALIDATOR] warning, or (for
# an invalid response, an invalid request, a path or method the spec does
# not have) answers its own error instead and logs its errors# type;
# upstream failures (FetchError) are not violations.
PRISM_VIOLATION='VALIDATOR|sl-violations|prism/errors#(VIOLATIONS|UNPROCESSABLE_ENTITY|NO_PATH_MATCHED_ERROR|NO_METHOD_MATCHED_ERROR)'
assert_prism_clean() {
	[ -f "$T/prism.log" ] || return 0
	local from=0 lines
	[ -f "$T/prism.mark" ] && from="$(cat "$T/prism.mark")"
	lines="$(tail -n +"$((from + 1))" "$T/prism.log")"
	if [ -n "${PRISM_ALLOW:-}" ]; then
		lines="$(echo "$lines" | grep -v -E "$PRISM_ALLOW")"
	fi
	if echo "$lines" | grep -E "$PRISM_VIOLATION" >/dev/null; then
		echo "Prism reported spec violations:" >&2
		echo "$lines" | grep -E -B2 -A8 "$PRISM_VIOLATION" | head -60 >&2
		return 1
	fi
}

# mount_bfs [ARGS...]: mounts bottlefs on $MNT in the foreground (background job).
mount_bfs() {
	bfs_tmp
	MNT="$T/mnt"
	# After a kill -9 the mountpoint is dead (ENOTCONN); bottlefs clears it itself.
	mkdir -p "$MNT" 2>/dev/null || true
	: >"$T/bottlefs.log"
	"$BOTTLEFS" --forge "$BFS_FORGE" --forge-url "$FORGE_URL" --token-file "$T/token" \
		--state "$T/state.db" --queue "$T/queue" --mirror-dir "$T/mirrors" \
		${DOUBLE_URL:+--git-url "$DOUBLE_URL"} "$@" -f "$MNT" \
		>>"$T/bottlefs.log" 2>&1 3>&- &
	echo $! >"$T/bottlefs.pid"
	# A dead mount left by kill -9 is a mountpoint too, and answers stat from
	# the kernel's cache: only an open proves the new daemon is serving.
	if ! wait_for 20 dd if="$MNT/.bottlefs/scope" of=/dev/null status=none; then
		cat "$T/bottlefs.log" >&2
		return 1
	fi
	export MNT
}

# stop_pid FILE: stops the process whose PID is in FILE, by PID, with a deadline.
stop_pid() {
	local f="$1" pid
	[ -f "$f" ] || return 0
	pid="$(cat "$f")"
	rm -f "$f"
	kill "$pid" 2>/dev/null || return 0
	wait_for 10 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null
	return 0
}

unmount_bfs() {
	if [ -n "${MNT:-}" ] && { mountpoint -q "$MNT" 2>/dev/null || ! stat "$MNT" >/dev/null 2>&1; }; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
	fi
	stop_pid "$T/bottlefs.pid"
}

stop_all() {
	unmount_bfs
	stop_pid "$T/prism.pid"
	stop_pid "$T/double.pid"
}

# The double's control API (never through Prism).
double_get() { curl -fsS "$DOUBLE_URL$1"; }
double_post() { curl -fsS -X POST -H 'Content-Type: application/json' -d "$2" "$DOUBLE_URL$1"; }
double_delete() { curl -fsS -X DELETE "$DOUBLE_URL$1"; }
log_reset() { double_post /_double/log/reset '{}' >/dev/null; }
# log_count METHOD PATH_REGEX: how many logged requests match.
log_count() {
	double_get /_double/log | python3 -c '
import json, re, sys
m, p = sys.argv[1], re.compile(sys.argv[2])
print(sum(1 for e in json.load(sys.stdin) if (m == "*" or e["method"] == m) and p.search(e["path"])))
' "$1" "$2"
}
faults() { double_post /_double/faults "$1" >/dev/null; }
faults_clear() { double_delete /_double/faults >/dev/null; }

# The daemon logged nothing unexpected since log_mark. A test that provokes
# a failure the daemon must log sets ALLOWED_LOG to a regex for those lines.
log_mark() {
	wc -l <"$T/bottlefs.log" >"$T/log.mark"
}

assert_daemon_log_clean() {
	local from=0 lines
	[ -f "$T/log.mark" ] && from="$(cat "$T/log.mark")"
	lines="$(tail -n +"$((from + 1))" "$T/bottlefs.log")"
	[ -n "${ALLOWED_LOG:-}" ] && lines="$(echo "$lines" | grep -v -E "$ALLOWED_LOG")"
	# The daemon's log limiter (the same line once per 10 s) says how many
	# lines it held back; those were lines this check allowed or would
	# have caught when they were first said.
	lines="$(echo "$lines" | grep -v -E '^bottlefs: [0-9]+ similar log lines suppressed$')"
	if [ -n "$lines" ]; then
		echo "unexpected daemon log:" >&2
		echo "$lines" >&2
		return 1
	fi
}

# Suites that share one double, Prism and mount across their tests (started
# in setup_file) re-enter them in each test's setup with enter_shared, and
# stop them in teardown_file with leave_shared.
enter_shared() {
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	bfs_tmp
	MNT="$T/mnt"
	DOUBLE_URL="http://127.0.0.1:$(cat "$T/double.port")"
	TOKEN="$(head -n1 "$T/token")"
	prism_mark
	log_mark
}

leave_shared() {
	bfs_tmp
	stop_all
}

# After each test of a shared suite: no fault left armed, no spec violation.
check_shared() {
	faults_clear || true
	assert_prism_clean
	assert_daemon_log_clean
}

# expect_errno ERRNO OP PATH [ARG]
expect_errno() {
	local want="$1" got
	shift
	got="$($FSOP "$@")"
	if [ "$got" != "$want" ]; then
		echo "$*: expected $want, got $got" >&2
		return 1
	fi
}

# ---- Truths read from the forge itself, the same for both forges ----

# forge_total OWNER/REPO issues|pulls: how many the forge holds, open and
# closed (Gitea: X-Total-Count; GitHub has none: its issue list, holding
# both, read to the end).
forge_total() {
	python3 - "$DOUBLE_URL" "$TOKEN" "$1" "$2" <<'PY'
import json, os, sys, urllib.request
base, tok, repo, kind = sys.argv[1:5]
def get(path):
    req = urllib.request.Request(base + path, headers={"Authorization": "token " + tok})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read()), r.headers
if os.environ.get("BFS_FORGE") == "github":
    n, page = 0, 1
    while True:
        j, _ = get("/repos/%s/issues?state=all&per_page=100&page=%d" % (repo, page))
        if not j:
            break
        n += sum(1 for i in j if ("pull_request" in i) == (kind == "pulls"))
        page += 1
    print(n)
else:
    q = "issues?state=all&type=issues" if kind == "issues" else "pulls?state=all"
    _, h = get("/api/v1/repos/%s/%s&limit=1" % (repo, q))
    print(h["X-Total-Count"])
PY
}

# forge_diff OWNER/REPO N: the pull request's diff as the forge serves it
# (asked with the query truth=1, which a suite's own count may leave out).
forge_diff() {
	if forge_is github; then
		curl -fsS -H "Authorization: token $TOKEN" -H 'Accept: application/vnd.github.diff' \
			"$DOUBLE_URL/repos/$1/pulls/$2?truth=1"
	else
		curl -fsS -H "Authorization: token $TOKEN" \
			"$DOUBLE_URL/api/v1/repos/$1/pulls/$2.diff?truth=1"
	fi
}

# diff_rule N: the part of a fault rule that matches the request for pull
# request N's diff and nothing else (Gitea: pulls/N.diff; GitHub: pulls/N
# in its diff media type, the pull request itself sharing the path).
diff_rule() {
	if forge_is github; then
		printf '"path": "/pulls/%s$", "accept": "diff"' "$1"
	else
		printf '"path": "/pulls/%s\\\\.diff$"' "$1"
	fi
}

# diff_path N: a log_count regex for pull request N's diff (on GitHub it
# also counts the pull request's own GETs, at the same path).
diff_path() {
	if forge_is github; then printf '/pulls/%s$' "$1"; else printf '/pulls/%s\\.diff$' "$1"; fi
}
