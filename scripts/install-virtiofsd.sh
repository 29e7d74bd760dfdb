#!/usr/bin/env bash
# Installs virtiofsd, the reference vhost-user-fs daemon, which scripts/virtiofs-bench.sh
# compares the vhost_user_fs example with. Builds it from crates.io with
# `cargo install --locked virtiofsd` (into ~/.cargo/bin) after installing the Debian
# packages it links against (libseccomp-dev, libcap-ng-dev). Nothing of virtiofsd is
# copied into this repository.
#
# Usage: scripts/install-virtiofsd.sh [--force]   (--force rebuilds an installed one)
set -euo pipefail

force=0
[ "${1:-}" = --force ] && force=1
if [ $force -eq 0 ] && command -v virtiofsd >/dev/null 2>&1; then
    echo "install-virtiofsd: $(command -v virtiofsd) is already installed"
    exit 0
fi

sudo=
if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
$sudo apt-get update
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    libseccomp-dev libcap-ng-dev pkg-config
args=()
[ $force -eq 1 ] && args+=(--force)
cargo install --locked "${args[@]}" virtiofsd
echo "install-virtiofsd: installed $(command -v virtiofsd || echo ~/.cargo/bin/virtiofsd)"
