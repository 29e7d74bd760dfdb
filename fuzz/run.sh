#!/bin/sh
# Generates the seed corpora and fuzzes one target, or builds every target.
#
#   fuzz/run.sh [TARGET] [SECONDS]   TARGET: a [[bin]] of fuzz/Cargo.toml (default server)
#   fuzz/run.sh --build              build the seeds and every target once
#
# Uses the nightly toolchain when rustup has one; otherwise stable with RUSTC_BOOTSTRAP=1
# (cargo-fuzz needs -Z flags). Installs cargo-fuzz from crates.io when it is missing.
# One process, one job. The memory limits make a request that has the server allocate
# without bound a reported crash, not a slow swap.
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

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

if [ "$target" = --build ]; then
    cargo $toolchain test --test seeds --no-run
    exec cargo $toolchain fuzz build
fi

cargo $toolchain test --test seeds
# Targets without generated seeds (persist) start from an empty corpus.
mkdir -p corpus/"$target"
cargo $toolchain fuzz run "$target" corpus/"$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=256 \
    -print_final_stats=1
