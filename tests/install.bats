#!/usr/bin/env bats
# bottlefs installs like a Debian tool: `meson install` puts the command in
# bindir, the daemon it starts for a mount in libexecdir/bottlefs, and
# bottlefs(1) in mandir; --version and --help answer on stdout and exit 0.

load helpers/common

setup() {
	T="$BATS_TEST_TMPDIR/bfs"
	bfs_tmp
	# The build directory of the command under test (build/ or build-asan/).
	BUILDDIR="$(cd "$(dirname "$BOTTLEFS")" && pwd)"
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

# The value of meson option $1 of the build under test.
build_option() {
	meson introspect --buildoptions "$BUILDDIR" | python3 -c '
import json, sys
print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]))' "$1"
}

@test "meson install puts bottlefs in bindir, its daemon in libexecdir and bottlefs(1) in mandir" {
	meson introspect --installed "$BUILDDIR" >"$T/installed.json"
	prefix="$(build_option prefix)"
	libexec="$prefix/$(build_option libexecdir)/bottlefs"
	meson install -C "$BUILDDIR" --no-rebuild --quiet --destdir "$T/dest" >"$T/install.log" 2>&1 ||
		{ cat "$T/install.log" >&2; false; }
	# Exactly the command, the daemon and the man page, where Debian tools go.
	python3 - "$T/installed.json" "$prefix" "$libexec" <<'EOF'
import json, sys
inst = sorted(json.load(open(sys.argv[1])).values())
p, libexec = sys.argv[2], sys.argv[3]
want = sorted([p + "/bin/bottlefs", libexec + "/bottlefs-mount", p + "/share/man/man1/bottlefs.1"])
assert inst == want, (inst, want)
EOF
	[ -x "$T/dest$libexec/bottlefs-mount" ]
	[ -x "$T/dest$prefix/bin/bottlefs" ]
	run "$T/dest$prefix/bin/bottlefs" --version
	[ "$status" -eq 0 ]
	[ "$output" = "bottlefs $VERSION" ]
	man="$T/dest$prefix/share/man/man1/bottlefs.1"
	grep -q '^\.TH BOTTLEFS 1 .*"bottlefs '"$VERSION"'"' "$man"
	! grep -q '@VERSION@' "$man"
}

@test "bottlefs(1) documents every option --help lists" {
	man="$BUILDDIR/bottlefs.1"
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

@test "bottlefs runs the daemon beside it or in libexecdir, never one found on PATH" {
	prefix="$(build_option prefix)"
	libexec="$prefix/$(build_option libexecdir)/bottlefs"
	meson install -C "$BUILDDIR" --no-rebuild --quiet --destdir "$T/dest" >"$T/install.log" 2>&1 ||
		{ cat "$T/install.log" >&2; false; }
	bin="$T/dest$prefix/bin"
	# A bottlefs-mount on PATH that would say so if it ran.
	mkdir -p "$T/path"
	printf '#!/bin/sh\necho impostor ran\n' >"$T/path/bottlefs-mount"
	chmod +x "$T/path/bottlefs-mount"
	# Installed under a destdir, the daemon is not at the configured libexecdir
	# (unless this machine has bottlefs installed there): the command says
	# which daemon it could not start, and runs nothing else.
	if [ ! -e "$libexec/bottlefs-mount" ]; then
		run env PATH="$T/path:$PATH" "$bin/bottlefs" --forge-url http://127.0.0.1:9 "$T/mnt"
		[ "$status" -eq 1 ]
		[[ "$output" == *"cannot start the daemon '$libexec/bottlefs-mount'"* ]]
		[[ "$output" != *impostor* ]]
	fi
	# The daemon beside the command (as in the build directory) is the one run,
	# with the arguments as given: its own answer to a wrong option.
	cp "$T/dest$libexec/bottlefs-mount" "$bin/"
	run env PATH="$T/path:$PATH" "$bin/bottlefs" --no-such-option
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown option '--no-such-option'"* ]]
	[[ "$output" != *impostor* ]]
}

@test "bottlefs and its subcommands link neither FUSE nor libcurl; the daemon does" {
	! ldd "$BOTTLEFS" | grep -E 'libfuse|libcurl'
	ldd "$BUILDDIR/bottlefs-mount" | grep -q libfuse
}
