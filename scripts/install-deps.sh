#!/usr/bin/env bash
# Installs what the tests and benchmarks need: fusermount3 (fuse3), fio, stress-ng,
# getfattr/setfattr (attr), getfacl/setfacl (acl), and libfuse3-dev for the passthrough_ll
# comparison benchmark. Safe to run repeatedly.
set -euo pipefail
need=()
command -v fusermount3 >/dev/null || need+=(fuse3)
command -v fio >/dev/null || need+=(fio)
command -v stress-ng >/dev/null || need+=(stress-ng)
command -v setfattr >/dev/null || need+=(attr)
command -v setfacl >/dev/null || need+=(acl)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v cmake >/dev/null || need+=(cmake)  # libz-sys, for the compat/ downstream build
[ -e /usr/include/fuse3/fuse_lowlevel.h ] || need+=(libfuse3-dev)
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}"
fi
modprobe fuse 2>/dev/null || true
[ -c /dev/fuse ] || { echo "install-deps: /dev/fuse is missing" >&2; exit 1; }
