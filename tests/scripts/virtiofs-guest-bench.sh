#!/bin/sh
# virtiofs-guest-bench.sh - runs INSIDE the guest (busybox sh) of
# /work/shared/vm/virtiofs-guest.sh: a small virtio-fs workload, each part timed.
#
#   virtiofs-guest.sh --socket S --tag T --test tests/scripts/virtiofs-guest-bench.sh \
#       [-- --mb N --files N]
#
# 1. dd write of N MiB (256) from /dev/zero with conv=fsync;
# 2. drop the guest's caches, dd read of the file back;
# 3. a metadata loop over N small files (2000): create (shell redirection, no extra
#    process per file), drop caches (not timed), stat each (the shell's `test -f`, a
#    LOOKUP on the daemon), then remove them all with one rm.
# Prints machine-readable lines, one per measure:
#   BENCH write_mbps <MB/s>     BENCH read_mbps <MB/s>     (MB = 10^6 bytes)
#   BENCH meta_s <seconds>      (create + stat + remove, with the three parts as
#   BENCH meta_create_s / meta_stat_s / meta_remove_s)
# Times come from /proc/uptime (10 ms resolution). Exits non-zero if a step fails.

MNT=${VFG_MNT:-/mnt}
MB=256
FILES=2000
while [ $# -gt 0 ]; do
    case $1 in
        --mb) MB=$2; shift 2 ;;
        --files) FILES=$2; shift 2 ;;
        *) echo "virtiofs-guest-bench.sh: unknown argument $1"; exit 2 ;;
    esac
done

now() { cut -d' ' -f1 /proc/uptime; }
flush() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# secs A B: B - A, at least 0.01
secs() { awk -v a="$1" -v b="$2" 'BEGIN { d = b - a; if (d < 0.01) d = 0.01; printf "%.2f", d }'; }
mbps() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.1f", mb * 1.048576 / s }'; }
die() { echo "BENCH-FAIL $*"; exit 1; }

W=$MNT/bench.$$
mkdir "$W" || die "mkdir $W"

flush
a=$(now)
dd if=/dev/zero of="$W/big" bs=1M count="$MB" conv=fsync 2>/dev/null || die "dd write"
b=$(now)
[ "$(stat -c %s "$W/big")" = "$((MB * 1048576))" ] || die "size of the written file"
s=$(secs "$a" "$b")
echo "BENCH write_s $s"
echo "BENCH write_mbps $(mbps "$MB" "$s")"

flush
a=$(now)
dd if="$W/big" of=/dev/null bs=1M 2>/dev/null || die "dd read"
b=$(now)
s=$(secs "$a" "$b")
echo "BENCH read_s $s"
echo "BENCH read_mbps $(mbps "$MB" "$s")"
rm -f "$W/big"

mkdir "$W/m" || die "mkdir $W/m"
cd "$W/m" || die "cd $W/m"
flush
a=$(now)
i=0
while [ $i -lt "$FILES" ]; do
    echo "$i" >"f$i" || die "create f$i"
    i=$((i + 1))
done
b=$(now)
# Forget the dentries, so that every stat is a LOOKUP on the daemon (not timed).
flush
b2=$(now)
i=0
while [ $i -lt "$FILES" ]; do
    [ -f "f$i" ] || die "stat f$i"
    i=$((i + 1))
done
c=$(now)
rm -f f* || die "rm"
d=$(now)
cd /
[ -z "$(ls -A "$W/m")" ] || die "files left after rm"
echo "BENCH meta_create_s $(secs "$a" "$b")"
create=$(secs "$a" "$b")
stat=$(secs "$b2" "$c")
remove=$(secs "$c" "$d")
echo "BENCH meta_create_s $create"
echo "BENCH meta_stat_s $stat"
echo "BENCH meta_remove_s $remove"
echo "BENCH meta_s $(awk -v x="$create" -v y="$stat" -v z="$remove" 'BEGIN { printf "%.2f", x + y + z }')"
rm -rf "$W"
