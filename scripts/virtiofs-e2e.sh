#!/usr/bin/env bash
# virtio-fs end to end: build the vhost_user_fs example daemon, serve a temporary
# directory on a temporary socket, boot a throwaway Linux guest (QEMU, through
# /work/shared/vm/virtiofs-guest.sh) that mounts the share and runs
# tests/scripts/virtiofs-guest-smoke.sh, then check that the daemon exited 0 and
# removed its socket once the guest disconnected.
#
# Usage: scripts/virtiofs-e2e.sh [--no-build] [--mb N] [--keep-log]
#   --no-build   use target/release/examples/vhost_user_fs as it is
#   --mb N       size of the guest's dd file in MiB (default 256)
#   --keep-log   keep the work directory (daemon and console logs) on success too
# Env: VIRTIOFS_GUEST (path of virtiofs-guest.sh), VFG_ARGS (extra arguments for it,
#      e.g. "--accel tcg"), DAEMON_ARGS (extra daemon arguments, e.g.
#      "--thread-pool-size 4"), CARGO.
# Exit status: 0 on success, non-zero on the first failure (with the reason on stderr).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
guest=${VIRTIOFS_GUEST:-$root/../shared/vm/virtiofs-guest.sh}
[ -x "$guest" ] || guest=/work/shared/vm/virtiofs-guest.sh
cargo=${CARGO:-cargo}
bin=$root/target/release/examples/vhost_user_fs
build=1 mb=256 keep=0
while [ $# -gt 0 ]; do
    case $1 in
        --no-build) build=0; shift ;;
        --mb) mb=$2; shift 2 ;;
        --keep-log) keep=1; shift ;;
        *) echo "virtiofs-e2e: unknown argument $1" >&2; exit 2 ;;
    esac
done

log() { echo "virtiofs-e2e: $*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[ -x "$guest" ] || die "$guest not found (set VIRTIOFS_GUEST)"
start=$(date +%s)
if [ $build -eq 1 ]; then
    log "building the daemon"
    "$cargo" build --release --example vhost_user_fs --features vhost-user-fs
fi
[ -x "$bin" ] || die "$bin not built"

work=$(mktemp -d /tmp/virtiofs-e2e.XXXXXX)
share=$work/share sock=$work/vhost-fs.sock
mkdir "$share"
echo "hello from the host" >"$share/host-file"
pid=
ok=0
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [ $ok -eq 1 ] && [ $keep -eq 0 ]; then
        rm -rf "$work"
    else
        log "logs kept in $work"
    fi
}
trap cleanup EXIT

# shellcheck disable=SC2086  # DAEMON_ARGS is a list of words
"$bin" --socket-path "$sock" --shared-dir "$share" --cache auto --xattr ${DAEMON_ARGS:-} \
    >"$work/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { cat "$work/daemon.log" >&2; die "daemon did not create $sock"; }
log "daemon $pid listening on $sock"

rc=0
# shellcheck disable=SC2086  # VFG_ARGS is a list of words
"$guest" --socket "$sock" --tag e2efs --test "$root/tests/scripts/virtiofs-guest-smoke.sh" \
    --bin setfattr --bin getfattr --bin flock --mem 1G --timeout 600 --log "$work/console.log" \
    ${VFG_ARGS:-} -- --mb "$mb" | tee "$work/guest.out" || rc=$?
[ $rc -eq 0 ] || die "guest test failed (status $rc)"
grep -q '^RESULT .* 0 failed$' "$work/guest.out" || die "guest printed no clean RESULT line"

# The guest powered off: the frontend is gone, the daemon must exit 0 by itself.
status=
for _ in $(seq 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
        status=0
        wait "$pid" || status=$?
        break
    fi
    sleep 0.1
done
[ -n "$status" ] || die "daemon still running 20 s after the guest disconnected"
pid=
[ "$status" -eq 0 ] || { cat "$work/daemon.log" >&2; die "daemon exited with status $status"; }
[ ! -e "$sock" ] || die "daemon left its socket $sock behind"
# The guest removed its work directory: only the host's file is left, unchanged.
left=$(cd "$share" && ls -A)
[ "$left" = "host-file" ] || die "unexpected files left in the share: $left"
[ "$(cat "$share/host-file")" = "hello from the host" ] || die "host file changed"

ok=1
log "PASS in $(($(date +%s) - start)) s (daemon exited 0, socket removed)"
