#!/usr/bin/env bash
# bench-passthrough.sh - compare our passthrough example with libfuse's passthrough_ll and
# with the native filesystem.
#
# Usage: scripts/bench-passthrough.sh [--quick] [--rounds N] [--out DIR] [--fsbench PATH]
#                                     [--own] [--ours-args ARGS] [-- EXTRA FSBENCH ARGS]
#
#   --quick        small sizes (a smoke test of the whole pipeline)
#   --rounds N     interleaved rounds over the targets (default 3; fsbench's default)
#   --out DIR      where results go (default target/bench/results-<time>)
#   --fsbench P    the shared benchmark driver (default /work/shared/bench/fsbench.sh,
#                  or $FSBENCH)
#   --own          use the built-in minimal benchmark even when fsbench.sh exists
#   --ours-args A  extra options for our daemon, e.g. "--inode-file-handles never"
#
# Steps:
#   1. cargo build --release --example passthrough
#   2. gcc libfuse's example passthrough_ll.c (from /usr/share/doc/libfuse3-dev/examples,
#      gzipped or not) into target/bench/passthrough_ll
#   3. fsbench.sh with the targets
#        native:none
#        ll:'target/bench/passthrough_ll -f -o source=%SRC% %MNT%'
#        ours:'target/release/examples/passthrough %SRC% %MNT%'
#      and print its table; when fsbench.sh is absent (or with --own), a built-in loop:
#      fio seqwrite/seqread 1M, randread 4k with 1 and 2 jobs, a metadata loop
#      (create/stat/unlink of NFILES files) and a tree (cp -a, find, du, rm -rf),
#      interleaved over the targets, printed as medians and ratios to native.
#
# Needs root (mounts, drop_caches), fio, gcc, pkg-config and libfuse3-dev.
set -euo pipefail

die() { echo "bench-passthrough: $*" >&2; exit 2; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
QUICK=0
ROUNDS=3
OUT=""
FSBENCH=${FSBENCH:-/work/shared/bench/fsbench.sh}
OWN=0
OURS_ARGS=""
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --rounds) ROUNDS=${2:?--rounds needs a number}; shift ;;
    --out) OUT=${2:?--out needs a directory}; shift ;;
    --fsbench) FSBENCH=${2:?--fsbench needs a path}; shift ;;
    --own) OWN=1 ;;
    --ours-args) OURS_ARGS=${2?--ours-args needs a value}; shift ;;
    -h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "--rounds: not a positive number: $ROUNDS"
[ "$(id -u)" = 0 ] || die "needs root (mount, drop_caches)"

BENCH_DIR="$ROOT/target/bench"
mkdir -p "$BENCH_DIR"
OUT=${OUT:-$BENCH_DIR/results-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# ---- 1. our daemon
log "building the passthrough example (release)"
(cd "$ROOT" && cargo build --release --example passthrough) >&2
OURS="$ROOT/target/release/examples/passthrough"
[ -x "$OURS" ] || die "no $OURS after the build"

# ---- 2. libfuse's passthrough_ll
EX=/usr/share/doc/libfuse3-dev/examples
LL="$BENCH_DIR/passthrough_ll"
LLSRC="$BENCH_DIR/ll-src"
mkdir -p "$LLSRC"
for f in passthrough_ll.c passthrough_helpers.h; do
  if [ -f "$EX/$f" ]; then cp "$EX/$f" "$LLSRC/$f"
  elif [ -f "$EX/$f.gz" ]; then zcat "$EX/$f.gz" > "$LLSRC/$f"
  else die "$EX/$f(.gz) not found: install libfuse3-dev"
  fi
done
command -v gcc >/dev/null || die "gcc missing"
command -v pkg-config >/dev/null || die "pkg-config missing"
pkg-config --exists fuse3 || die "pkg-config cannot find fuse3 (libfuse3-dev)"
if [ ! -x "$LL" ] || [ "$LLSRC/passthrough_ll.c" -nt "$LL" ]; then
  log "building passthrough_ll (libfuse $(pkg-config --modversion fuse3))"
  # shellcheck disable=SC2046
  gcc -Wall -O2 -I"$LLSRC" "$LLSRC/passthrough_ll.c" -o "$LL" $(pkg-config fuse3 --cflags --libs)
fi

LL_CMD="$LL -f -o source=%SRC% %MNT%"
OURS_CMD="$OURS${OURS_ARGS:+ $OURS_ARGS} %SRC% %MNT%"
log "targets: native:none | ll:'$LL_CMD' | ours:'$OURS_CMD'"

# ---- 3a. the shared driver
if [ "$OWN" = 0 ] && [ -x "$FSBENCH" ]; then
  args=(--target native:none --target "ll:$LL_CMD" --target "ours:$OURS_CMD"
        --rounds "$ROUNDS" --out "$OUT")
  [ "$QUICK" = 1 ] && args+=(--quick)
  log "running $FSBENCH ${args[*]} ${EXTRA[*]:-}"
  "$FSBENCH" "${args[@]}" "${EXTRA[@]}"
  echo
  echo "== $OUT/table.txt"
  cat "$OUT/table.txt"
  exit 0
fi

# ---- 3b. built-in minimal benchmark
[ "$OWN" = 1 ] || log "$FSBENCH not found: using the built-in benchmark"
command -v fio >/dev/null || die "fio missing"
command -v python3 >/dev/null || die "python3 missing"
if [ "$QUICK" = 1 ]; then
  SIZE=128m; RUNTIME=5; IOSIZE=64m; NFILES=1000; TDIRS=20; TFILES=50
else
  SIZE=1g; RUNTIME=20; IOSIZE=256m; NFILES=5000; TDIRS=100; TFILES=50
fi
WORK=$(mktemp -d /tmp/bench-pt-XXXXXX)
RAW="$OUT/raw.tsv"
printf 'round\ttarget\tworkload\tunit\tvalue\n' > "$RAW"
DAEMON_PID=""
MNT=""

cleanup() {
  if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null || true; fi
  if [ -n "$MNT" ] && grep -q " $MNT " /proc/self/mountinfo; then
    umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
  fi
  if [ -n "$DAEMON_PID" ]; then
    for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$DAEMON_PID" 2>/dev/null || true
    wait "$DAEMON_PID" 2>/dev/null || true
  fi
  DAEMON_PID=""; MNT=""
}
trap 'cleanup; rm -rf "$WORK"' EXIT

drop() { sync; echo 3 > /proc/sys/vm/drop_caches; sleep 0.3; echo 3 > /proc/sys/vm/drop_caches; }
now() { date +%s.%N; }
rec() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >> "$RAW"; }

# A deterministic tree, made once outside the mounts.
TREE="$WORK/tree"
mkdir -p "$TREE"
for d in $(seq 1 "$TDIRS"); do
  mkdir -p "$TREE/d$d"
  for f in $(seq 1 "$TFILES"); do head -c $(( (d * 131 + f * 17) % 8192 )) /dev/zero > "$TREE/d$d/f$f"; done
done

fio_val() { # $1 json, $2 rw (read|write), $3 field (bw_bytes|iops)
  python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(sum(x[sys.argv[2]][sys.argv[3]] for x in j["jobs"]))' "$@"
}

start_target() { # $1 name, $2 cmd template; sets DIR (where to work)
  local name=$1 cmd=$2 src mnt
  src="$WORK/$name-src"; mnt="$WORK/$name-mnt"
  rm -rf "$src"; mkdir -p "$src" "$mnt"
  if [ "$cmd" = none ]; then DIR=$src; return; fi
  cmd=${cmd//%SRC%/$src}; cmd=${cmd//%MNT%/$mnt}
  # shellcheck disable=SC2086
  $cmd > "$OUT/$name-daemon.log" 2>&1 &
  DAEMON_PID=$!; MNT=$mnt
  for _ in $(seq 200); do
    if awk -v m="$mnt" '$5 == m && $0 ~ / - fuse/ {f=1} END {exit !f}' /proc/self/mountinfo; then DIR=$mnt; return; fi
    kill -0 "$DAEMON_PID" 2>/dev/null || die "$name daemon exited: $(cat "$OUT/$name-daemon.log")"
    sleep 0.1
  done
  die "$name: mount did not appear"
}

run_workloads() { # $1 round, $2 target
  local r=$1 t=$2 j s e
  j="$OUT/$t-$r"
  drop
  fio --name=seqwrite --directory="$DIR" --filename=seqfile --rw=write --bs=1M --size="$SIZE" \
      --ioengine=psync --end_fsync=1 --output-format=json --output="$j-seqwrite.json" >/dev/null
  rec "$r" "$t" seqwrite MB/s "$(python3 -c "print($(fio_val "$j-seqwrite.json" write bw_bytes)/1e6)")"
  drop
  fio --name=seqread --directory="$DIR" --filename=seqfile --rw=read --bs=1M --size="$SIZE" \
      --ioengine=psync --output-format=json --output="$j-seqread.json" >/dev/null
  rec "$r" "$t" seqread MB/s "$(python3 -c "print($(fio_val "$j-seqread.json" read bw_bytes)/1e6)")"
  for jobs in 1 2; do
    drop
    fio --name=randread --directory="$DIR" --filename=seqfile --rw=randread --bs=4k --size="$SIZE" \
        --ioengine=psync --numjobs="$jobs" --runtime="$RUNTIME" --time_based=0 --io_size="$IOSIZE" \
        --output-format=json --output="$j-randread$jobs.json" >/dev/null
    rec "$r" "$t" "randread_${jobs}j" IOPS "$(fio_val "$j-randread$jobs.json" read iops)"
  done
  rm -f "$DIR/seqfile"
  # metadata: create / stat / unlink NFILES files, each phase after a cache drop
  mkdir -p "$DIR/meta"
  for phase in create stat unlink; do
    drop
    s=$(now)
    python3 - "$DIR/meta" "$NFILES" "$phase" <<'EOF'
import os, sys
d, n, phase = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    p = os.path.join(d, "f%d" % i)
    if phase == "create":
        os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    elif phase == "stat":
        os.stat(p)
    else:
        os.unlink(p)
EOF
    e=$(now)
    rec "$r" "$t" "meta_$phase" ops/s "$(python3 -c "print($NFILES/($e-$s))")"
  done
  rmdir "$DIR/meta"
  # tree: cp -a, find, du, rm -rf
  drop; s=$(now); cp -a "$TREE" "$DIR/tree"; e=$(now)
  rec "$r" "$t" tree_cp s "$(python3 -c "print($e-$s)")"
  drop; s=$(now); n=$(find "$DIR/tree" -type f | wc -l); e=$(now)
  [ "$n" = $((TDIRS * TFILES)) ] || die "$t: find counted $n files, want $((TDIRS * TFILES))"
  rec "$r" "$t" tree_find s "$(python3 -c "print($e-$s)")"
  drop; s=$(now); du -s "$DIR/tree" >/dev/null; e=$(now)
  rec "$r" "$t" tree_du s "$(python3 -c "print($e-$s)")"
  drop; s=$(now); rm -rf "$DIR/tree"; e=$(now)
  rec "$r" "$t" tree_rm s "$(python3 -c "print($e-$s)")"
}

TARGETS=("native|none" "ll|$LL_CMD" "ours|$OURS_CMD")
for r in $(seq 1 "$ROUNDS"); do
  for spec in "${TARGETS[@]}"; do
    name=${spec%%|*}; cmd=${spec#*|}
    log "round $r: $name"
    start_target "$name" "$cmd"
    run_workloads "$r" "$name"
    cleanup
    rm -rf "$WORK/$name-src"
  done
done

python3 - "$RAW" <<'EOF' | tee "$OUT/table.txt"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
targets, loads, vals = [], [], {}
for r in rows:
    if r["target"] not in targets: targets.append(r["target"])
    key = (r["workload"], r["unit"])
    if key not in loads: loads.append(key)
    vals.setdefault(key, {}).setdefault(r["target"], {})[r["round"]] = float(r["value"])
base = targets[0]
print("%-16s %-6s " % ("workload", "unit") + " ".join("%14s" % t for t in targets) +
      " " + " ".join("%12s" % ("%s/%s" % (t, base)) for t in targets[1:]))
for key in loads:
    wl, unit = key
    med = {t: statistics.median(vals[key][t].values()) for t in targets if t in vals[key]}
    ratios = []
    for t in targets[1:]:
        rs = []
        for rnd, v in vals[key].get(t, {}).items():
            b = vals[key][base].get(rnd)
            if b and v:
                rs.append(b / v if unit == "s" else v / b)
        ratios.append("%12s" % ("%.2f" % statistics.median(rs) if rs else "-"))
    fmt = "%14.3f" if unit == "s" else "%14.1f"
    print("%-16s %-6s " % (wl, unit) + " ".join(fmt % med.get(t, float("nan")) for t in targets) +
          " " + " ".join(ratios))
print("(medians over rounds; ratios >1 mean faster than %s)" % base)
EOF
