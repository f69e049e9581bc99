#!/usr/bin/env bats
# The tools agents edit with (issue 12, item 10): `sed -i`, `perl -pi`,
# Python's mkstemp + os.replace and vim write a temporary file beside the
# target and rename it over. In a directory with writable fields such a
# file is a scratch file: held by the daemon, never sent by itself;
# renaming it onto a field sends its whole content once, like a close().
# Everything runs as the non-root agent on an allow_other mount.

load helpers/common
load helpers/agent

D=forge/alice/dotfiles
I="$D/issues/2"

setup_file() {
	bfs_tmp
	start_double "$REPO_ROOT/tests/double/seed/demo.json"
	start_prism
	mount_bfs_agent --assign alice/dotfiles#2 --cache-ttl 60
}

teardown_file() { leave_shared; }

setup() {
	enter_shared
	ensure_agent_user
	log_reset
}

teardown() { check_shared; }

# stored FIELD: the assigned issue as the double stores it.
stored() {
	double_get /_double/state/alice/dotfiles/issues/2 |
		python3 -c 'import json,sys; j=json.load(sys.stdin); print(j[sys.argv[1]])' "$1"
}
patches() { log_count PATCH '/issues/2$'; }
# agent_py SCRIPT ARGS...: python3 as the agent, bounded.
agent_py() {
	timeout -k 5 60 setpriv --reuid=bfsagent --regid=bfsagent --clear-groups \
		--inh-caps=-all --bounding-set=-all -- env -i PATH=/usr/bin:/bin HOME=/nonexistent \
		python3 -c "$@"
}
# seed FIELD TEXT: the field's content before a test (written the plain
# way), with the request log cleared after it.
seed() {
	printf '%s\n' "$2" >"$MNT/$I/$1"
	[ "$(stored "$1")" = "$2" ]
	log_reset
}
# The item directory lists its fixed files, and nothing else once the
# editors are done.
only_fixed_files() {
	[ "$(ls -A "$MNT/$I" | tr '\n' ' ')" = "author body comments issue.json labels state thread.md title " ]
}

@test "sed -i on body and on title: one PATCH each, read back at once" {
	seed body 'I keep losing commands. Raise `HISTSIZE`.'
	seed title "Bash history is too short"
	run as_agent sed -i 's/HISTSIZE/HISTFILESIZE/' "$MNT/$I/body"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$MNT/$I/body")" = 'I keep losing commands. Raise `HISTFILESIZE`.' ]
	[ "$(stored body)" = 'I keep losing commands. Raise `HISTFILESIZE`.' ]
	[ "$(patches)" -eq 1 ]
	run as_agent sed -i 's/too short/far too short/' "$MNT/$I/title"
	[ "$status" -eq 0 ]
	[ "$(stored title)" = "Bash history is far too short" ]
	[ "$(cat "$MNT/$I/title")" = "Bash history is far too short" ]
	[ "$(patches)" -eq 2 ]
	only_fixed_files
}

@test "perl -pi -e on body: one PATCH" {
	seed body 'I keep losing commands. Raise `HISTFILESIZE`.'
	run as_agent perl -pi -e 's/commands/shell commands/' "$MNT/$I/body"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stored body)" = 'I keep losing shell commands. Raise `HISTFILESIZE`.' ]
	[ "$(cat "$MNT/$I/body")" = 'I keep losing shell commands. Raise `HISTFILESIZE`.' ]
	[ "$(patches)" -eq 1 ]
	only_fixed_files
}

@test "Python's atomic write (mkstemp in the directory, then os.replace) onto title and body" {
	run agent_py '
import os, sys, tempfile
def atomic_write(path, text):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
atomic_write(sys.argv[1] + "/title", "History: raise HISTSIZE")
atomic_write(sys.argv[1] + "/body", "Set HISTSIZE=100000.\n\nAnd HISTFILESIZE.\n")
' "$MNT/$I"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stored title)" = "History: raise HISTSIZE" ]
	[ "$(cat "$MNT/$I/title")" = "History: raise HISTSIZE" ]
	[ "$(stat -c %s "$MNT/$I/title")" -eq 24 ]
	[ "$(stored body)" = $'Set HISTSIZE=100000.\n\nAnd HISTFILESIZE.' ]
	[ "$(patches)" -eq 2 ]
	only_fixed_files
}

@test "vim edits body in place: one PATCH, its swap file leaves nothing behind" {
	# scripts/setup installs vim-tiny (vim.tiny); a full vim does as well.
	vim="$(command -v vim || command -v vim.tiny)" || skip "vim is not installed"
	seed body $'Set HISTSIZE=100000.\n\nAnd HISTFILESIZE.'
	run timeout 60 setpriv --reuid=bfsagent --regid=bfsagent --clear-groups \
		--inh-caps=-all --bounding-set=-all -- env -i PATH=/usr/bin:/bin HOME=/nonexistent TERM=dumb \
		"$vim" -N -u NONE -i NONE -es -c '%s/HISTSIZE/HISTCONTROL/' -c 'wq' "$MNT/$I/body"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stored body)" = $'Set HISTCONTROL=100000.\n\nAnd HISTFILESIZE.' ]
	[ "$(patches)" -eq 1 ]
	only_fixed_files
}

@test "echo >, cp, tee and Node's writeFileSync still work: one PATCH each" {
	run as_agent bash -c 'echo "from echo" > "$1"' _ "$MNT/$I/body"
	[ "$status" -eq 0 ]
	[ "$(stored body)" = "from echo" ]
	as_agent bash -c 'printf "from cp\n" > /tmp/bfs-editors-cp.txt'
	run as_agent cp /tmp/bfs-editors-cp.txt "$MNT/$I/body"
	rm -f /tmp/bfs-editors-cp.txt
	[ "$status" -eq 0 ]
	[ "$(stored body)" = "from cp" ]
	run as_agent bash -c 'echo "from tee" | tee "$1" >/dev/null' _ "$MNT/$I/body"
	[ "$status" -eq 0 ]
	[ "$(stored body)" = "from tee" ]
	run as_agent node -e 'require("fs").writeFileSync(process.argv[1], "from node\n")' "$MNT/$I/body"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(stored body)" = "from node" ]
	[ "$(patches)" -eq 4 ]
	# bash closes a dup of the truncated title before it writes: that
	# close is no refusal, and the title is sent once.
	run as_agent bash -c 'echo "Echoed title" > "$1"' _ "$MNT/$I/title"
	[ "$status" -eq 0 ]
	[ "$(stored title)" = "Echoed title" ]
	[ "$(patches)" -eq 5 ]
	! grep -q "/title	EINVAL" "$MNT/.bottlefs/log"
	only_fixed_files
}

@test "a scratch file is a real little file, listed while it exists, never sent" {
	run agent_py '
import os, stat, sys
d = sys.argv[1]
p = d + "/notes.txt"
out = []
a = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
b = os.open(p, os.O_RDWR)
os.write(a, b"hello ")
os.lseek(b, 0, os.SEEK_END)
os.write(b, b"world\n")
out.append(os.pread(a, 100, 0).decode())
c = os.open(p, os.O_WRONLY | os.O_APPEND)
os.write(c, b"again\n")
os.close(c)
st = os.stat(p)
out.append("%d %o" % (st.st_size, stat.S_IMODE(st.st_mode)))
out.append(" ".join(sorted(n for n in os.listdir(d) if n == "notes.txt")))
os.ftruncate(a, 5)
out.append(os.pread(b, 100, 0).decode())
os.chmod(p, 0o600)
os.chown(p, os.getuid(), os.getgid())
os.utime(p, (0, 0))
st = os.stat(p)
out.append("%o %d" % (stat.S_IMODE(st.st_mode), st.st_mtime > 0))
os.close(a)
os.close(b)
fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
os.close(fd)
out.append(str(os.stat(p).st_size))
os.unlink(p)
out.append(str(os.path.exists(p)))
print(repr(out))
' "$MNT/$I"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "['hello world\\n', '18 644', 'notes.txt', 'hello', '644 1', '0', 'False']" ]
	[ "$(log_count POST .)" -eq 0 ] && [ "$(patches)" -eq 0 ]
	only_fixed_files
}

@test "unlink while open: the file lives on for its fds, its name is gone" {
	run agent_py '
import os, sys
p = sys.argv[1] + "/gone-soon"
fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b"still here")
os.unlink(p)
out = [str(os.path.exists(p)), os.pread(fd, 100, 0).decode()]
os.write(fd, b"!")
out.append(os.pread(fd, 100, 0).decode())
os.close(fd)
print(" ".join(out))
' "$MNT/$I"
	echo "$output"
	[ "$output" = "False still here still here!" ]
	only_fixed_files
}

@test "scratch scope: not in comments/, not outside the assignment, no rename of a field or across directories" {
	expect_errno_agent() {
		local want="$1" got
		shift
		got="$(agent_errno "$@")"
		[ "$got" = "$want" ] || {
			echo "$*: expected $want, got $got" >&2
			return 1
		}
	}
	expect_errno_agent EACCES create "$MNT/$I/comments/tmp1"
	expect_errno_agent EACCES create "$MNT/$D/issues/1/tmp1"
	expect_errno_agent EACCES create "$MNT/$D/pulls/tmp1"
	expect_errno_agent EACCES create "$MNT/tmp1"
	expect_errno_agent EEXIST create "$MNT/$I/title"
	expect_errno_agent EACCES mkdir "$MNT/$I/dir"
	expect_errno_agent EACCES symlink "$MNT/$I/link"
	expect_errno_agent OK create "$MNT/$I/a"
	expect_errno_agent OK rename "$MNT/$I/a" "$MNT/$I/b"
	expect_errno_agent ENOENT stat "$MNT/$I/a"
	expect_errno_agent OK stat "$MNT/$I/b"
	expect_errno_agent EACCES rename "$MNT/$I/b" "$MNT/$D/issues/1/title"
	expect_errno_agent EACCES rename "$MNT/$I/b" "$MNT/$I/comments/new"
	expect_errno_agent EACCES rename "$MNT/$I/b" "$MNT/$I/author"
	expect_errno_agent EACCES rename "$MNT/$I/title" "$MNT/$I/c"
	expect_errno_agent EACCES rename "$MNT/$I/body" "$MNT/$I/b"
	expect_errno_agent EACCES unlink "$MNT/$I/title"
	expect_errno_agent OK unlink "$MNT/$I/b"
	[ "$(agent_errno access_w "$MNT/$I")" = OK ]
	[ "$(agent_errno access_w "$MNT/$I/comments")" = NOTWRITABLE ]
	[ "$(log_count POST .)" -eq 0 ] && [ "$(patches)" -eq 0 ]
	only_fixed_files
}

@test "a rename onto a field that fails leaves the scratch file and returns the errno" {
	ALLOWED_LOG="^bottlefs: write '/$I/title': (title must be|PATCH .*: 500)"
	PRISM_ALLOW='Unable to match the returned status code'
	run agent_py '
import errno, os, sys
d = sys.argv[1]
def put(name, text):
    with open(d + "/" + name, "w") as f:
        f.write(text)
def replace(name, field):
    try:
        os.replace(d + "/" + name, d + "/" + field)
        return "OK"
    except OSError as e:
        return errno.errorcode[e.errno]
put("t1", "two\nlines\n")
print(replace("t1", "title"), os.path.exists(d + "/t1"), open(d + "/t1").read() == "two\nlines\n")
' "$MNT/$I"
	echo "$output"
	[ "$output" = "EINVAL True True" ]
	faults '[{"method": "PATCH", "path": "/issues/2$", "status": 500, "times": 20}]'
	run agent_py '
import errno, os, sys
d = sys.argv[1]
with open(d + "/t2", "w") as f:
    f.write("Forge is down\n")
try:
    os.replace(d + "/t2", d + "/title")
    r = "OK"
except OSError as e:
    r = errno.errorcode[e.errno]
print(r, os.path.exists(d + "/t2"))
' "$MNT/$I"
	echo "$output"
	[ "$output" = "EIO True" ]
	faults_clear
	[ "$(stored title)" != "Forge is down" ]
	run agent_py '
import os, sys
d = sys.argv[1]
os.replace(d + "/t2", d + "/title")
os.unlink(d + "/t1")
print(open(d + "/title").read(), end="")
' "$MNT/$I"
	echo "$output"
	[ "$output" = "Forge is down" ]
	[ "$(stored title)" = "Forge is down" ]
	grep -E "	/$I/title	EIO	" "$MNT/.bottlefs/log"
	grep -E "	/$I/title	ok	" "$MNT/.bottlefs/log"
	only_fixed_files
}

@test "at most 32 scratch files: the 33rd is ENOSPC, an unlink frees a slot" {
	run agent_py '
import errno, os, sys
d = sys.argv[1]
made, err = 0, None
for i in range(40):
    try:
        os.close(os.open("%s/s%02d" % (d, i), os.O_WRONLY | os.O_CREAT, 0o644))
        made += 1
    except OSError as e:
        err = errno.errorcode[e.errno]
        break
os.unlink(d + "/s00")
os.close(os.open(d + "/again", os.O_WRONLY | os.O_CREAT, 0o644))
os.unlink(d + "/again")
for i in range(1, made):
    os.unlink("%s/s%02d" % (d, i))
print(made, err)
' "$MNT/$I"
	echo "$output"
	[ "$output" = "32 ENOSPC" ]
	only_fixed_files
}

@test "a scratch file holds at most 1 MiB; after EFBIG its rename sends nothing" {
	run agent_py '
import errno, os, sys
d = sys.argv[1]
out = []
fd = os.open(d + "/big", os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, b"a" * (1 << 20))
try:
    os.write(fd, b"a")
    out.append("OK")
except OSError as e:
    out.append(errno.errorcode[e.errno])
os.close(fd)
try:
    os.replace(d + "/big", d + "/body")
    out.append("OK")
except OSError as e:
    out.append(errno.errorcode[e.errno])
os.unlink(d + "/big")
print(" ".join(out))
' "$MNT/$I"
	echo "$output"
	[ "$output" = "EFBIG EFBIG" ]
	[ "$(patches)" -eq 0 ]
	only_fixed_files
}

@test "scratch files are gone after a restart" {
	as_agent bash -c 'echo left > "$1"' _ "$MNT/$I/leftover"
	[ -e "$MNT/$I/leftover" ]
	unmount_bfs
	mount_bfs_agent --assign alice/dotfiles#2 --cache-ttl 60
	[ ! -e "$MNT/$I/leftover" ]
	only_fixed_files
	[ "$(log_count POST .)" -eq 0 ] && [ "$(patches)" -eq 0 ]
}
