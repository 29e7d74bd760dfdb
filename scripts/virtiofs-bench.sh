#!/usr/bin/env bash
# Compare the vhost_user_fs example with virtiofsd on the same guest workload
# (tests/scripts/virtiofs-guest-bench.sh: dd write/read of 256 MiB, and a metadata loop
# over 2000 small files), runs interleaved: ours, virtiofsd, ours, virtiofsd, ...
# Both daemons get `--socket-path S --shared-dir D --cache auto`, a fresh temporary
# share and a fresh guest per run.
#
# Usage: scripts/virtiofs-bench.sh [--rounds N] [--mb N] [--files N] [--no-build]
#   --rounds N   rounds of (ours, virtiofsd) (default 2)
#   --mb N       dd file size in MiB (default 256)
#   --files N    files in the metadata loop (default 2000)
#   --no-build   use target/release/examples/vhost_user_fs as it is
# Env: VIRTIOFSD (default: virtiofsd on PATH or ~/.cargo/bin/virtiofsd; install it with
#      scripts/install-virtiofsd.sh), VIRTIOFS_GUEST, VFG_ARGS (extra arguments for
#      virtiofs-guest.sh), OURS_ARGS / VIRTIOFSD_ARGS (extra daemon arguments).
# Prints one line per run and a summary with the mean per daemon.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$PWD
guest=${VIRTIOFS_GUEST:-$root/../shared/vm/virtiofs-guest.sh}
[ -x "$guest" ] || guest=/work/shared/vm/virtiofs-guest.sh
ours=$root/target/release/examples/vhost_user_fs
vfsd=${VIRTIOFSD:-$(command -v virtiofsd || echo "$HOME/.cargo/bin/virtiofsd")}
rounds=2 mb=256 files=2000 build=1
while [ $# -gt 0 ]; do
    case $1 in
        --rounds) rounds=$2; shift 2 ;;
        --mb) mb=$2; shift 2 ;;
        --files) files=$2; shift 2 ;;
        --no-build) build=0; shift ;;
        *) echo "virtiofs-bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
log() { echo "virtiofs-bench: $*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[ -x "$guest" ] || die "$guest not found (set VIRTIOFS_GUEST)"
[ -x "$vfsd" ] || die "virtiofsd not found (run scripts/install-virtiofsd.sh or set VIRTIOFSD)"
if [ $build -eq 1 ]; then
    cargo build --release --example vhost_user_fs --features vhost-user-fs
fi
[ -x "$ours" ] || die "$ours not built"

work=$(mktemp -d /tmp/virtiofs-bench.XXXXXX)
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
results=$work/results
: >"$results"

# run NAME N: one guest run against a fresh daemon NAME (ours|virtiofsd).
run() {
    local name=$1 n=$2 dir=$work/$1.$2
    local share=$dir/share sock=$dir/sock
    mkdir -p "$share"
    case $name in
        # shellcheck disable=SC2086  # extra argument lists
        ours) "$ours" --socket-path "$sock" --shared-dir "$share" --cache auto \
                  ${OURS_ARGS:-} >"$dir/daemon.log" 2>&1 & ;;
        # shellcheck disable=SC2086
        virtiofsd) "$vfsd" --socket-path "$sock" --shared-dir "$share" --cache auto \
                  ${VIRTIOFSD_ARGS:-} >"$dir/daemon.log" 2>&1 & ;;
    esac
    pid=$!
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
    [ -S "$sock" ] || { cat "$dir/daemon.log" >&2; die "$name did not create its socket"; }
    local rc=0
    # shellcheck disable=SC2086
    "$guest" --socket "$sock" --tag bench --test "$root/tests/scripts/virtiofs-guest-bench.sh" \
        --mem 1G --timeout 900 ${VFG_ARGS:-} -- --mb "$mb" --files "$files" \
        >"$dir/guest.out" 2>"$dir/guest.err" || rc=$?
    [ $rc -eq 0 ] || { cat "$dir/guest.out" "$dir/guest.err" >&2; die "$name run $n failed ($rc)"; }
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
    local line
    line=$(awk -v name="$name" -v n="$n" '$1 == "BENCH" { v[$2] = $3 }
        END { printf "%s %s %s %s %s %s %s %s\n", name, n, v["write_mbps"], v["read_mbps"],
              v["meta_s"], v["meta_create_s"], v["meta_stat_s"], v["meta_remove_s"] }' \
        "$dir/guest.out")
    echo "$line" >>"$results"
    printf '%-10s run %s: write %7s MB/s  read %7s MB/s  meta %6s s (create %s, stat %s, remove %s)\n' \
        $line
    rm -rf "$dir"
}

log "$rounds rounds, $mb MiB dd, $files files; ours=$ours virtiofsd=$vfsd ($("$vfsd" --version 2>/dev/null | head -n1))"
for r in $(seq "$rounds"); do
    run ours "$r"
    run virtiofsd "$r"
done

echo "== mean over $rounds runs (MB = 10^6 bytes)"
awk '{ n[$1]++; w[$1] += $3; r[$1] += $4; m[$1] += $5 }
    END { for (d in n) printf "%-10s write %7.1f MB/s  read %7.1f MB/s  metadata loop %6.2f s\n",
          d, w[d] / n[d], r[d] / n[d], m[d] / n[d] }' "$results" | sort
