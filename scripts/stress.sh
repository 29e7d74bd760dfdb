#!/usr/bin/env bash
# stress.sh - soak the passthrough example daemon with stress-ng and fio verify.
#
# Usage: scripts/stress.sh [--secs N] [--handles auto|never|always] [--threads N]
#                          [--fio-size SIZE] [--keep]
#
# Builds the example (release), mounts a fresh directory with it in a private mount
# namespace, runs stress-ng (dir, dentry, hdd, link, rename, xattr, fallocate; N seconds,
# default 60) and a fio randrw crc32c verify job on the mount, and prints the daemon's
# descriptor counts before, after, and after the kernel forgot the inodes. Exits non-zero
# when a tool fails, the daemon dies, or the descriptors do not come back. Needs root.
set -euo pipefail

die() { echo "stress: $*" >&2; exit 2; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=60; HANDLES=auto; THREADS=4; FIO_SIZE=256m; KEEP=0
ARGS=("$@")
while [ $# -gt 0 ]; do
  case "$1" in
    --secs) SECS=${2:?}; shift ;;
    --handles) HANDLES=${2:?}; shift ;;
    --threads) THREADS=${2:?}; shift ;;
    --fio-size) FIO_SIZE=${2:?}; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
  shift
done
[ "$(id -u)" = 0 ] || die "needs root"
command -v stress-ng >/dev/null || die "stress-ng missing"
command -v fio >/dev/null || die "fio missing"
if [ -z "${STRESS_IN_NS:-}" ]; then
  STRESS_IN_NS=1 exec unshare --mount --propagation private "$BASH" "$0" "${ARGS[@]}"
fi

(cd "$ROOT" && cargo build --release --example passthrough) >&2
BIN="$ROOT/target/release/examples/passthrough"
W=$(mktemp -d /tmp/pt-stress-XXXXXX)
mkdir -p "$W/src" "$W/mnt"
"$BIN" --xattr --threads "$THREADS" --inode-file-handles "$HANDLES" "$W/src" "$W/mnt" \
  > "$W/daemon.log" 2>&1 &
PID=$!
cleanup() {
  kill "$PID" 2>/dev/null || true
  umount -l "$W/mnt" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  [ "$KEEP" = 1 ] && echo "kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
for _ in $(seq 100); do grep -q " $W/mnt " /proc/self/mountinfo && break; sleep 0.1; done
grep -q " $W/mnt " /proc/self/mountinfo || die "mount did not appear: $(cat "$W/daemon.log")"
fds() { ls /proc/"$PID"/fd | wc -l; }
base=$(fds)
log "mounted (handles $HANDLES, $THREADS threads); daemon fds $base"

rc=0
mkdir "$W/mnt/stress"
stress-ng --dir 2 --dentry 2 --hdd 2 --link 2 --rename 2 --xattr 2 --fallocate 2 \
  --timeout "${SECS}s" --temp-path "$W/mnt/stress" --metrics-brief 2>&1 | tee "$W/stress.log" || rc=1
grep -q "successful run completed" "$W/stress.log" || rc=1
grep -E " fail: |unsuccessful" "$W/stress.log" && rc=1
log "stress-ng done (rc so far $rc); daemon fds $(fds)"

mkdir "$W/mnt/fio"
fio --name=verify --directory="$W/mnt/fio" --rw=randrw --verify=crc32c --size="$FIO_SIZE" \
  --bs=4k --numjobs=2 --do_verify=1 --verify_fatal=1 --ioengine=psync --group_reporting \
  > "$W/fio.log" 2>&1 || rc=1
grep -E "err=|verify" "$W/fio.log" | head -5
log "fio done (rc so far $rc); daemon fds $(fds)"

kill -0 "$PID" || die "the daemon died"
rm -rf "$W/mnt/stress" "$W/mnt/fio"
peak=$(fds)
for _ in $(seq 50); do
  sync; echo 2 > /proc/sys/vm/drop_caches
  [ "$(fds)" -le "$base" ] && break
  sleep 0.2
done
after=$(fds)
echo "daemon fds: $base after mount, $peak after the load, $after after drop_caches"
[ "$after" -le "$base" ] || { echo "descriptors did not come back" >&2; rc=1; }
exit $rc
