#!/usr/bin/env bash
# A first minute with the passthrough example: mount a temporary directory with a few
# files, look at it through the mount, write and read back, unmount cleanly.
# Usage: scripts/demo.sh [PATH-TO-PASSTHROUGH-BINARY]
set -euo pipefail
bin=${1:-target/release/examples/passthrough}
[ -x "$bin" ] || { echo "demo: $bin not built (run: cargo build --release --example passthrough)" >&2; exit 2; }

work=$(mktemp -d /tmp/fuse-demo.XXXXXX)
src=$work/source mnt=$work/mnt
mkdir -p "$src/docs" "$mnt"
echo "hello from the host" > "$src/greeting.txt"
printf 'line %s\n' 1 2 3 > "$src/docs/notes.txt"
ln -s greeting.txt "$src/link-to-greeting"

pid=
cleanup() {
    if mountpoint -q "$mnt"; then umount "$mnt" || umount -l "$mnt"; fi
    [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" "$src" "$mnt" &
pid=$!
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
mountpoint -q "$mnt" || { echo "demo: mount did not appear" >&2; exit 1; }

echo "== $src is mounted at $mnt:"
grep " $mnt " /proc/self/mounts
echo "== ls -l through the mount"
ls -l "$mnt" "$mnt/docs"
echo "== write through the mount, read back"
echo "written through FUSE at $(date -u +%T)" > "$mnt/new.txt"
cat "$mnt/new.txt"
echo "== the host sees the same bytes"
cmp "$mnt/new.txt" "$src/new.txt" && echo "identical"
echo "== unmount"
umount "$mnt"
wait "$pid"
echo "daemon exited with status $?"
pid=
