#!/usr/bin/env bats
# bottlefs installs like a Debian tool: `meson install` puts the daemon and
# bottlefs(1) in place, --version and --help answer on stdout and exit 0.

load helpers/common

setup() {
	T="$BATS_TEST_TMPDIR/bfs"
	bfs_tmp
	# The build directory of the binary under test (build/ or build-asan/).
	BUILDDIR="$(cd "$(dirname "$BOTTLEFS")/.." && pwd)"
	VERSION="$(meson introspect --projectinfo "$BUILDDIR" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')"
}

@test "--version prints the project's version and exits 0" {
	run "$BOTTLEFS" --version
	[ "$status" -eq 0 ]
	[ "$output" = "bottlefs $VERSION" ]
	run "$BOTTLEFS" -V
	[ "$status" -eq 0 ]
	[ "$output" = "bottlefs $VERSION" ]
}

@test "--help prints the usage on stdout and exits 0; a wrong option exits 1" {
	"$BOTTLEFS" --help >"$T/out" 2>"$T/err"
	[ ! -s "$T/err" ]
	grep -q '^usage: bottlefs --forge-url URL' "$T/out"
	grep -q -- '--version' "$T/out"
	run "$BOTTLEFS" --no-such-option
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown option '--no-such-option'"* ]]
}

@test "meson install puts bottlefs in bindir and bottlefs(1) in mandir" {
	meson introspect --installed "$BUILDDIR" >"$T/installed.json"
	prefix="$(meson introspect --buildoptions "$BUILDDIR" | python3 -c '
import json, sys
print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')"
	meson install -C "$BUILDDIR" --no-rebuild --quiet --destdir "$T/dest" >"$T/install.log" 2>&1 ||
		{ cat "$T/install.log" >&2; false; }
	# Exactly the daemon and the man page, where Debian tools go.
	python3 - "$T/installed.json" "$prefix" <<'EOF'
import json, sys
inst = sorted(json.load(open(sys.argv[1])).values())
p = sys.argv[2]
want = [p + "/bin/bottlefs", p + "/share/man/man1/bottlefs.1"]
assert inst == want, (inst, want)
EOF
	[ -x "$T/dest$prefix/bin/bottlefs" ]
	run "$T/dest$prefix/bin/bottlefs" --version
	[ "$status" -eq 0 ]
	[ "$output" = "bottlefs $VERSION" ]
	man="$T/dest$prefix/share/man/man1/bottlefs.1"
	grep -q '^\.TH BOTTLEFS 1 .*"bottlefs '"$VERSION"'"' "$man"
	! grep -q '@VERSION@' "$man"
}

@test "bottlefs(1) documents every option --help lists" {
	man="$(dirname "$(dirname "$BOTTLEFS")")/bottlefs.1"
	[ -f "$man" ]
	opts="$("$BOTTLEFS" --help | grep -o -E -- '--[a-z][a-z-]*' | sort -u)"
	[ -n "$opts" ]
	for o in $opts; do
		# roff writes a hyphen as \-
		grep -q -F -- "$(echo "$o" | sed 's/-/\\-/g')" "$man" || {
			echo "bottlefs(1) does not mention $o" >&2
			return 1
		}
	done
}
