#!/usr/bin/env bats
# scripts/check-layout keeps the house as built (ARCHITECTURE.md): on a copy
# of the source folders, each kind of breach it must catch is made once and
# the script must fail, naming the rule and where.

load helpers/common

FOLDERS="util forge state manifest cache write tree cli fs bench"

setup() {
	T="$BATS_TEST_TMPDIR/layout"
	mkdir -p "$T/copy"
	for d in $FOLDERS; do
		cp -r "$REPO_ROOT/$d" "$T/copy/"
	done
}

check() {
	run python3 "$REPO_ROOT/scripts/check-layout" "$T/copy"
}

@test "the house as built passes every rule" {
	check
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c '^ok ')" -eq 5 ]
}

@test "an upward include (util/ including state/) fails with the file and line" {
	printf '#include "state/state.h"\n' >>"$T/copy/util/buf.c"
	line=$(wc -l <"$T/copy/util/buf.c")
	check
	[ "$status" -eq 1 ]
	echo "$output" | grep -q '^not ok 1 - every include of another folder follows the arrows'
	echo "$output" | grep -q -F "# util/buf.c:$line: util/ may not include \"state/state.h\""
}

@test "an include circle between folders fails" {
	# state/ reaching up into cache/, which uses state/.
	printf '#include "cache/cache.h"\n' >>"$T/copy/state/db.c"
	check
	[ "$status" -eq 1 ]
	echo "$output" | grep -q '^not ok 3 - no include circle between folders'
	echo "$output" | grep -q -E '^# (cache -> state -> cache|state -> cache -> state)'
}

@test "another folder's internal header fails" {
	printf '#include "cache/internal.h"\n' >>"$T/copy/tree/read.c"
	check
	[ "$status" -eq 1 ]
	echo "$output" | grep -q '^not ok 2 - another folder is reached only through its API header'
	echo "$output" | grep -q -F '"cache/internal.h" is internal to cache/; use cache/cache.h'
}

@test "two .c files of a folder including each other's header fail" {
	for x in a b; do
		printf 'int %s(void);\n' "$x" >"$T/copy/write/$x.h"
	done
	printf '#include "write/b.h"\nint a(void) { return b(); }\n' >"$T/copy/write/a.c"
	printf '#include "write/a.h"\nint b(void) { return a(); }\n' >"$T/copy/write/b.c"
	check
	[ "$status" -eq 1 ]
	echo "$output" | grep -q '^not ok 4 - no include circle between two .c files of a folder'
	echo "$output" | grep -q -F '# write/a.c -> write/b.c -> write/a.c'
}

@test "a source file over 900 lines fails" {
	seq 1 901 | sed 's|^|/* line |; s|$| */|' >>"$T/copy/cache/lists.c"
	check
	[ "$status" -eq 1 ]
	echo "$output" | grep -q '^not ok 5 - no source file over 900 lines'
	echo "$output" | grep -q -E '^# cache/lists.c: [0-9]+ lines \(at most 900\)'
}
