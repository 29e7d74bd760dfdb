#!/usr/bin/env bash
# inode-memory.sh - daemon memory per inode the kernel holds through a passthrough mount.
#
# Usage: scripts/inode-memory.sh [N] [-- extra passthrough options]
#
# Creates N empty files (default 1000000) in 100 directories under a fresh directory in
# $INODE_MEM_BASE (default /tmp, the root disk here; set it to /dev/shm for tmpfs), with
# one Python loop (about 10 s per million on ext4). Mounts that directory with the release
# `passthrough` example (default options: --inode-file-handles auto, so as root inodes are
# kept as file handles and open fds stay bounded), lstat()s every file through the mount
# from one Python loop (a LOOKUP per file; the kernel keeps the dentries, so the daemon
# keeps every inode), and reads the daemon's VmRSS from /proc/PID/status before and
# after. Prints the RSS growth in MB per million inodes and the daemon's open fds, then
# unmounts (SIGTERM: the daemon unmounts itself) and removes the files.
#
# Needs root (mount, and file handles need CAP_DAC_READ_SEARCH) and /dev/fuse. Builds the
# example unless $PASSTHROUGH names a binary.
set -euo pipefail

die() { echo "inode-memory: $*" >&2; exit 2; }

n=1000000
if [ $# -ge 1 ] && [ "$1" != -- ]; then n=$1; shift; fi
[ "${1:-}" = -- ] && shift
[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1000 ] || die "N must be a number >= 1000"
[ "$(id -u)" = 0 ] || die "run as root (mount and file handles)"
[ -e /dev/fuse ] || die "/dev/fuse does not exist"

root=$(cd "$(dirname "$0")/.." && pwd)
bin=${PASSTHROUGH:-}
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --release --example passthrough >&2)
  bin=$root/${CARGO_TARGET_DIR:-target}/release/examples/passthrough
fi
[ -x "$bin" ] || die "no passthrough binary at $bin"

base=${INODE_MEM_BASE:-/tmp}
# An empty file costs one on-disk inode and no data blocks; check both.
free_inodes=$(df --output=iavail "$base" | tail -1 | tr -d ' ')
if [ "$free_inodes" != - ] && [ "$free_inodes" -gt 0 ] && [ "$free_inodes" -lt $((n + 10000)) ]; then
  die "$base has $free_inodes free inodes, $n files need more"
fi
free_kb=$(df --output=avail -k "$base" | tail -1 | tr -d ' ')
[ "$free_kb" -gt $((n / 1024 * 8 + 102400)) ] || die "$base has only ${free_kb} KiB free"

work=$(mktemp -d "$base/inode-mem.XXXXXX")
src=$work/src
mnt=$work/mnt
mkdir -p "$src" "$mnt"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  if mountpoint -q "$mnt"; then umount -l "$mnt" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "creating $n files in $src ($(df --output=fstype "$base" | tail -1 | tr -d ' '))" >&2
python3 - "$src" "$n" <<'EOF'
import os, sys
src, n = sys.argv[1], int(sys.argv[2])
dirs = 100
for d in range(dirs):
    os.mkdir(f"{src}/d{d}")
flags = os.O_CREAT | os.O_WRONLY | os.O_EXCL | os.O_CLOEXEC
for i in range(n):
    os.close(os.open(f"{src}/d{i % dirs}/f{i}", flags, 0o644))
EOF

"$bin" "$@" "$src" "$mnt" >"$work/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  mountpoint -q "$mnt" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/daemon.log" >&2; die "daemon exited"; }
  sleep 0.1
done
mountpoint -q "$mnt" || die "mount did not appear"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }
fds() { find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }

stat -c %i "$mnt" >/dev/null
before=$(rss_kb)
echo "daemon pid $pid: VmRSS before ${before} kB, $(fds) fds; stat'ing $n files" >&2
t0=$(date +%s.%N)
# Names come from the source directory, so the mount sees one LOOKUP per file and no
# READDIR (whose READDIRPLUS would look entries up too, blurring what is measured).
python3 - "$src" "$mnt" <<'EOF'
import os, sys
src, mnt = sys.argv[1], sys.argv[2]
count = 0
for d in sorted(os.listdir(src)):
    for name in os.listdir(f"{src}/{d}"):
        os.lstat(f"{mnt}/{d}/{name}")
        count += 1
print(f"stat'ed {count} files", file=sys.stderr)
EOF
t1=$(date +%s.%N)
after=$(rss_kb)
nfds=$(fds)
echo "VmRSS after ${after} kB, $nfds fds" >&2
python3 - "$before" "$after" "$n" "$nfds" "$t0" "$t1" <<'EOF'
import sys
before, after, n, nfds = (int(x) for x in sys.argv[1:5])
secs = float(sys.argv[6]) - float(sys.argv[5])
per_m = (after - before) / 1024 * 1_000_000 / n
print(f"inodes {n}: RSS {before / 1024:.1f} MB -> {after / 1024:.1f} MB, "
      f"{per_m:.1f} MB per million inodes ({(after - before) * 1024 / n:.0f} bytes each), "
      f"{nfds} open fds, {n / secs:.0f} stats/s")
EOF
