#!/usr/bin/env bash
# overlay-soak.sh - run the overlay test suite with soak-sized parameters.
#
# Usage: scripts/overlay-soak.sh [--seeds N] [--ops N] [--stress-secs N] [--crash-rounds N]
#                                [--debug]
#
# Defaults: 200 random seeds of 2000 operations each against the kernel overlay,
# 300 s of stress-ng, 20 crash rounds with 8 files of 32 MiB. Prints a summary line per
# test binary and exits non-zero at the first failure. Needs root, /dev/fuse, the
# kernel overlay and stress-ng. Release builds (unless --debug) keep the random run short.
set -euo pipefail

die() { echo "overlay-soak: $*" >&2; exit 2; }
SEEDS=200; OPS=2000; STRESS=300; ROUNDS=20; PROFILE=--release
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) SEEDS=${2:?}; shift 2 ;;
    --ops) OPS=${2:?}; shift 2 ;;
    --stress-secs) STRESS=${2:?}; shift 2 ;;
    --crash-rounds) ROUNDS=${2:?}; shift 2 ;;
    --debug) PROFILE=; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
[ "$(id -u)" = 0 ] || die "needs root"
cd "$(dirname "$0")/.."
export CI=true
export OVL_SEED=$((RANDOM * 65536 + RANDOM)) OVL_SEEDS=$SEEDS OVL_OPS=$OPS
export OVL_STRESS_SECS=$STRESS OVL_CRASH_ROUNDS=$ROUNDS OVL_CRASH_FILES=8 OVL_CRASH_MB=32
echo "overlay-soak: first seed $OVL_SEED (rerun a failure with OVL_SEED=... OVL_SEEDS=1)"
for t in overlay_oracle overlay_random overlay_crash overlay_stress overlay_xwhiteout overlay_cli; do
  cargo test $PROFILE --test "$t" -- --test-threads=1 2>&1 | grep -E "^test |test result|panicked" \
    || die "$t failed"
done
