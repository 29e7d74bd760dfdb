#!/bin/sh
# Generates the seed corpora and fuzzes one target.
#
#   fuzz/run.sh [TARGET] [SECONDS]   TARGET: server (default), server_ext, passthrough or persist
#
# Uses the nightly toolchain when rustup has one; otherwise stable with RUSTC_BOOTSTRAP=1
# (cargo-fuzz needs -Z flags). One process, one job. The memory limits make a request
# that has the server allocate without bound a reported crash, not a slow swap.
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
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=256 \
    -print_final_stats=1
