#!/usr/bin/env bash
# fd-count.sh - open descriptors of a process, split by kind.
#
# Usage: scripts/fd-count.sh PID|NAME [--watch SECONDS]
#
# Prints one line: total, O_PATH descriptors (a passthrough daemon's inodes), other
# regular files and directories, /dev/fuse, sockets/pipes/anon, and the soft limit.
# NAME is matched exactly against /proc/*/comm (the first match is used).
set -euo pipefail

die() { echo "fd-count: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: fd-count.sh PID|NAME [--watch SECONDS]"
target=$1; shift
watch=""
if [ "${1:-}" = --watch ]; then watch=${2:?--watch needs seconds}; fi

pid=""
if [[ "$target" =~ ^[0-9]+$ ]]; then
  pid=$target
else
  for c in /proc/[0-9]*/comm; do
    if [ "$(cat "$c" 2>/dev/null)" = "$target" ]; then pid=${c#/proc/}; pid=${pid%/comm}; break; fi
  done
fi
[ -n "$pid" ] && [ -d "/proc/$pid" ] || die "no process $target"

count() {
  local total=0 opath=0 files=0 fuse=0 other=0 fd link flags
  for fd in /proc/"$pid"/fd/*; do
    [ -e "$fd" ] || [ -L "$fd" ] || continue
    total=$((total + 1))
    link=$(readlink "$fd" 2>/dev/null || true)
    flags=$(awk '/^flags:/ {print $2}' "/proc/$pid/fdinfo/${fd##*/}" 2>/dev/null || echo 0)
    if [ "$link" = /dev/fuse ]; then fuse=$((fuse + 1))
    elif [ $(( 8#${flags:-0} & 8#10000000 )) -ne 0 ]; then opath=$((opath + 1))
    elif [[ "$link" == /* ]]; then files=$((files + 1))
    else other=$((other + 1))
    fi
  done
  local limit
  limit=$(awk '/Max open files/ {print $4}' "/proc/$pid/limits")
  echo "pid $pid: $total fds (O_PATH $opath, files/dirs $files, /dev/fuse $fuse, other $other), soft limit $limit"
}

if [ -n "$watch" ]; then
  while [ -d "/proc/$pid" ]; do count; sleep "$watch"; done
else
  count
fi
