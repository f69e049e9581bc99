# The agent as the issues describe it: a non-root user reaching a mount
# that a root daemon serves with -o allow_other. Load after common.bash.
#
#   ensure_agent_user        creates the user bfsagent if missing (idempotent,
#                            safe when several suites race to create it)
#   mount_bfs_agent ARGS...  mount_bfs with -o allow_other, on a mountpoint
#                            whose every ancestor the agent may traverse
#   as_agent CMD...          runs CMD as bfsagent (no groups, no capabilities)
#   agent_errno OP PATH...   fsop.py as the agent: prints OK or the errno name

AGENT_USER=bfsagent

ensure_agent_user() {
	id -u "$AGENT_USER" >/dev/null 2>&1 && return 0
	# A concurrent suite may win the race; then the user exists all the same.
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$AGENT_USER" 2>/dev/null || true
	id -u "$AGENT_USER" >/dev/null 2>&1
}

as_agent() {
	setpriv --reuid="$AGENT_USER" --regid="$AGENT_USER" --clear-groups \
		--inh-caps=-all --bounding-set=-all -- env -i PATH=/usr/bin:/bin HOME=/nonexistent "$@"
}

# agent_reachable DIR: every directory from DIR up to / gains o+x (never o+r
# or o+w), so the agent can reach a mount below DIR but list nothing on the way.
agent_reachable() {
	local d
	d="$(cd "$1" && pwd)"
	while [ "$d" != / ]; do
		chmod o+x "$d"
		d="$(dirname "$d")"
	done
}

mount_bfs_agent() {
	ensure_agent_user || return 1
	bfs_tmp
	agent_reachable "$T"
	mount_bfs -o allow_other "$@"
}

agent_errno() {
	as_agent python3 "$REPO_ROOT/tests/helpers/fsop.py" "$@"
}
