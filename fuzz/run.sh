#!/bin/sh
# Generates the seed corpus and fuzzes the request server.
#
#   fuzz/run.sh [TARGET] [SECONDS]      TARGET: server (default) or server_ext
#
# Uses the nightly toolchain when rustup has one; otherwise stable with RUSTC_BOOTSTRAP=1
# (cargo-fuzz needs -Z flags). One process, one job.
set -eu
cd "$(dirname "$0")"
target=${1:-server}
seconds=${2:-600}

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=+nightly
else
    toolchain=
    export RUSTC_BOOTSTRAP=1
fi

cargo $toolchain test --test seeds
cargo $toolchain fuzz run "$target" corpus/"$target" -- \
    -max_total_time="$seconds" -print_final_stats=1
