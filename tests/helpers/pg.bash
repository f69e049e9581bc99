# PostgreSQL 15 for the fleet suites: a private server per suite, started
# by the test itself as an unprivileged user in a temporary directory,
# reachable only through a Unix socket in that directory, and stopped by
# PID. Load after common.bash.
#
#   start_pg            initdb + postgres; sets PG_DIR, PG_SOCK, PG_PORT, PG_URL
#                       (postgresql://bfspg@/bottlefs?host=...&port=...)
#   pg_sql SQL          runs SQL with psql against PG_URL, prints rows (-At)
#   stop_pg             stops the server by PID (fast shutdown), waits for it
#   pg_kill             kill -9 the server (a database that goes away)
#
# The server's superuser is the OS user bfspg (trust authentication over the
# socket, which only root and bfspg can reach: the directory is 0700).

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_USER=bfspg

ensure_pg_user() {
	id -u "$PG_USER" >/dev/null 2>&1 && return 0
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$PG_USER" 2>/dev/null || true
	id -u "$PG_USER" >/dev/null 2>&1
}

as_pg() {
	setpriv --reuid="$PG_USER" --regid="$PG_USER" --clear-groups -- \
		env -i PATH=/usr/bin:/bin HOME=/nonexistent LC_ALL=C.UTF-8 "$@"
}

start_pg() {
	bfs_tmp
	[ -x "$PG_BIN/postgres" ] || {
		echo "start_pg: no PostgreSQL 15 server in $PG_BIN (apt-get install postgresql-15)" >&2
		return 1
	}
	ensure_pg_user || return 1
	PG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/bfs-pg.XXXXXX")"
	chown "$PG_USER:" "$PG_DIR"
	chmod 0700 "$PG_DIR"
	PG_SOCK="$PG_DIR"
	PG_PORT="$(free_port)"
	if ! as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --auth=trust \
		--encoding=UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1; then
		cat "$PG_DIR/initdb.log" >&2
		return 1
	fi
	: >"$PG_DIR/postgres.log"
	if ! pg_spawn; then
		cat "$PG_DIR/postgres.log" >&2
		return 1
	fi
	as_pg "$PG_BIN/createdb" -h "$PG_SOCK" -p "$PG_PORT" bottlefs || return 1
	PG_URL="postgresql://$PG_USER@/bottlefs?host=$PG_SOCK&port=$PG_PORT"
	export PG_DIR PG_SOCK PG_PORT PG_URL
}

pg_sql() {
	psql -X -q -At -v ON_ERROR_STOP=1 "$PG_URL" -c "$1"
}

# stop_pg: a fast shutdown by PID; the data directory goes with it.
stop_pg() {
	bfs_tmp
	[ -f "$T/pg.pid" ] || return 0
	local pid
	pid="$(cat "$T/pg.pid")"
	rm -f "$T/pg.pid"
	kill -INT "$pid" 2>/dev/null
	wait_for 20 bash -c "! kill -0 $pid" || kill -9 "$pid" 2>/dev/null
	[ -n "${PG_DIR:-}" ] && rm -rf "$PG_DIR"
	return 0
}

# pg_kill: the database goes away at once (kill -9 of the postmaster and
# its children); start it again with pg_restart.
pg_kill() {
	local pid
	bfs_tmp
	pid="$(cat "$T/pg.pid")"
	pkill -9 -P "$pid" 2>/dev/null
	kill -9 "$pid" 2>/dev/null
	wait_for 10 bash -c "! kill -0 $pid"
}

pg_restart() {
	bfs_tmp
	pg_spawn
}

# pg_spawn: the postmaster in the background, its own PID in $T/pg.pid (setpriv
# and env exec it, so the PID is the server's), then waits until it answers.
# Unix socket only (no TCP), fsync on: the state store relies on commits.
pg_spawn() {
	setpriv --reuid="$PG_USER" --regid="$PG_USER" --clear-groups -- \
		env -i PATH=/usr/bin:/bin HOME=/nonexistent LC_ALL=C.UTF-8 \
		"$PG_BIN/postgres" -D "$PG_DIR/data" -k "$PG_SOCK" -p "$PG_PORT" \
		-c listen_addresses= -c max_connections=200 -c shared_buffers=32MB \
		>>"$PG_DIR/postgres.log" 2>&1 3>&- &
	echo $! >"$T/pg.pid"
	disown
	wait_for 30 as_pg "$PG_BIN/pg_isready" -q -h "$PG_SOCK" -p "$PG_PORT" -d bottlefs -U "$PG_USER"
}
