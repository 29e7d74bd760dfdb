#!/bin/sh
# virtiofs-guest-smoke.sh - runs INSIDE the guest (busybox sh) of
# /work/shared/vm/virtiofs-guest.sh, against the virtio-fs share at $VFG_MNT.
#
#   virtiofs-guest.sh --socket S --tag T --test tests/scripts/virtiofs-guest-smoke.sh \
#       --bin setfattr --bin getfattr [-- --mb N]
#
# Exercises, in a fresh directory on the share: create/write/read with md5sum
# (after dropping the guest's caches, so data comes back from the daemon),
# overwrite in place, mkdir/rename/link/symlink/unlink/rmdir, chmod, truncate,
# user xattrs (set/get/list/remove; needs setfattr/getfattr copied in with --bin,
# the daemon started with --xattr), and a dd write + read of N MiB (256) with a
# checksum compare, and flock contention (needs flock copied in
# with --bin). Prints one line per check and exits 1 on any mismatch.
#
# Options: --mb N (size of the dd file, 0 skips it), --no-xattr (skip xattrs:
# for daemons started without --xattr).

MNT=${VFG_MNT:-/mnt}
MB=256
XATTR=1
while [ $# -gt 0 ]; do
    case $1 in
        --mb) MB=$2; shift 2 ;;
        --no-xattr) XATTR=0; shift ;;
        *) echo "virtiofs-guest-smoke.sh: unknown argument $1"; exit 2 ;;
    esac
done

npass=0
nfail=0
pass() { npass=$((npass + 1)); echo "PASS $*"; }
bad() { nfail=$((nfail + 1)); echo "FAIL $*"; }
# t NAME CMD...: CMD must succeed.
t() { name=$1; shift; if "$@" >/dev/null 2>&1; then pass "$name"; else bad "$name"; fi; }
# eq NAME GOT WANT
eq() { if [ "$2" = "$3" ]; then pass "$1"; else bad "$1: got '$2', want '$3'"; fi; }
sum() { md5sum "$1" | cut -d' ' -f1; }
flush() { sync; echo 3 >/proc/sys/vm/drop_caches; }
now() { cut -d' ' -f1 /proc/uptime; }

W=$MNT/smoke.$$.$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
REF=/tmp/smoke-ref
rm -rf "$REF"
mkdir -p "$REF"
t "mkdir work directory" mkdir "$W"
cd "$W" || { bad "cd into $W"; exit 1; }

# --- files: create, write, read back ---------------------------------------
for n in 0 1 511 4096 4097 131072 1000003 3145728; do
    head -c "$n" /dev/urandom >"$REF/f$n"
    cp "$REF/f$n" "f$n"
done
flush
for n in 0 1 511 4096 4097 131072 1000003 3145728; do
    eq "read back f$n (md5)" "$(sum "f$n")" "$(sum "$REF/f$n")"
    eq "size of f$n" "$(stat -c %s "f$n")" "$n"
done
t "create with O_EXCL-like touch" touch created
t "created file exists" test -f created

# Overwrite 5000 bytes at offset 70000 in place, then append.
head -c 5000 /dev/urandom >"$REF/patch"
for d in "$REF" "$W"; do
    dd if="$REF/patch" of="$d/f131072" bs=1000 seek=70 conv=notrunc 2>/dev/null
    printf 'appended\n' >>"$d/f131072"
done
flush
eq "overwrite in place + append (md5)" "$(sum f131072)" "$(sum "$REF/f131072")"

# --- directories and names ---------------------------------------------------
t "mkdir -p a/b/c" mkdir -p a/b/c
t "a/b/c is a directory" test -d a/b/c
echo payload >a/b/c/x
t "rename file across directories" mv a/b/c/x a/y
t "old name is gone" test ! -e a/b/c/x
eq "content follows the rename" "$(cat a/y)" "payload"
t "rename directory" mv a/b a/moved
t "renamed directory keeps children" test -d a/moved/c
echo new >src
echo old >dst
t "rename over an existing file" mv -f src dst
eq "target replaced" "$(cat dst)" "new"
t "rmdir of a non-empty directory fails" sh -c '! rmdir a 2>/dev/null'
t "rmdir a/moved/c" rmdir a/moved/c
t "rmdir a/moved" rmdir a/moved
t "unlink a/y" rm a/y
t "rmdir a" rmdir a
t "unlinked names are gone" test ! -e a

# --- links ---------------------------------------------------------------------
echo "the target" >tgt
t "symlink" ln -s tgt sl
eq "readlink" "$(readlink sl)" "tgt"
eq "read through the symlink" "$(cat sl)" "the target"
t "dangling symlink" ln -s nowhere dl
t "dangling symlink is a link" test -L dl
t "hard link" ln tgt hl
eq "nlink is 2" "$(stat -c %h tgt)" "2"
eq "hard link shares the inode" "$(stat -c %i hl)" "$(stat -c %i tgt)"
echo more >>hl
flush
eq "write through the hard link shows in the target" "$(tail -n 1 tgt)" "more"
t "unlink the hard link" rm hl
eq "nlink back to 1" "$(stat -c %h tgt)" "1"
t "unlink the symlinks" rm sl dl

# --- chmod, truncate -----------------------------------------------------------
t "chmod 600" chmod 600 tgt
eq "mode 600" "$(stat -c %a tgt)" "600"
t "chmod 2755" chmod 2755 tgt
eq "mode 2755" "$(stat -c %a tgt)" "2755"
t "truncate to 1000" truncate -s 1000 f131072
truncate -s 1000 "$REF/f131072"
flush
eq "size after shrinking" "$(stat -c %s f131072)" "1000"
eq "data kept after shrinking (md5)" "$(sum f131072)" "$(sum "$REF/f131072")"
t "truncate to 8 MiB" truncate -s 8388608 f131072
truncate -s 8388608 "$REF/f131072"
flush
eq "size after extending" "$(stat -c %s f131072)" "8388608"
eq "extended file (md5, zero tail)" "$(sum f131072)" "$(sum "$REF/f131072")"

# --- xattrs ------------------------------------------------------------------------
if [ $XATTR -eq 0 ]; then
    echo "SKIP xattrs: --no-xattr"
elif ! command -v setfattr >/dev/null || ! command -v getfattr >/dev/null; then
    bad "xattrs: setfattr/getfattr missing in the guest (pass --bin setfattr --bin getfattr)"
else
    t "setfattr user.color" setfattr -n user.color -v blue tgt
    eq "getfattr user.color" "$(getfattr --only-values -n user.color tgt 2>&1)" "blue"
    t "setfattr user.big (3000 bytes)" setfattr -n user.big -v "0x$(head -c 3000 /dev/zero | od -An -v -tx1 | tr -d ' \n')" tgt
    eq "getfattr user.big size" "$(getfattr --only-values -n user.big tgt | wc -c)" "3000"
    t "listxattr shows both" sh -c 'getfattr -d tgt | grep -q "^user.color=" && getfattr -d tgt | grep -q "^user.big="'
    t "xattr on a directory" setfattr -n user.d -v 1 "$W"
    eq "getfattr on the directory" "$(getfattr --only-values -n user.d "$W")" "1"
    t "removexattr" setfattr -x user.color tgt
    t "removed xattr is gone" sh -c '! getfattr -n user.color tgt 2>/dev/null'
    t "removing a missing xattr fails" sh -c '! setfattr -x user.none tgt 2>/dev/null'
fi

# --- large file: dd write + read, checksum --------------------------------------
if [ "$MB" -gt 0 ]; then
    # Deterministic content: MB MiB of a 1 MiB random block repeated.
    head -c 1048576 /dev/urandom >"$REF/block"
    want=$(i=0; while [ $i -lt "$MB" ]; do cat "$REF/block"; i=$((i + 1)); done | md5sum | cut -d' ' -f1)
    flush
    a=$(now)
    if (i=0; while [ $i -lt "$MB" ]; do cat "$REF/block"; i=$((i + 1)); done) |
        dd of=big bs=1M conv=fsync 2>/dev/null; then
        pass "dd write $MB MiB"
    else
        bad "dd write $MB MiB"
    fi
    b=$(now)
    eq "size of the big file" "$(stat -c %s big)" "$((MB * 1048576))"
    flush
    c=$(now)
    got=$(dd if=big bs=1M 2>/dev/null | md5sum | cut -d' ' -f1)
    d=$(now)
    eq "dd read $MB MiB back (md5)" "$got" "$want"
    awk -v mb="$MB" -v a="$a" -v b="$b" -v c="$c" -v d="$d" 'BEGIN {
        w = b - a; r = d - c; if (w <= 0) w = 0.01; if (r <= 0) r = 0.01;
        printf "INFO dd %d MiB: write %.2f s, read+md5 %.2f s\n", mb, w, r }'
    t "unlink the big file" rm big
fi

# --- locks: flock waiters must not stop the queue ---------------------------------
# A holder and two waiters: a wait that kept the daemon's queue thread would stop every
# request, the holder's unlock included, for good. (flock is util-linux's, copied in.)
touch lockf lockg
flock -x lockf sleep 3 &
holder=$!
sleep 1
flock -x lockf true &
w1=$!
flock -x lockf true &
w2=$!
sleep 1
t "stat while two flock waiters wait" stat lockg
t "the holder still holds the lock" kill -0 $holder
t "first flock waiter gets the lock" wait $w1
t "second flock waiter gets the lock" wait $w2
wait $holder
# (No interruption check here: Linux's virtio-fs driver does not send FUSE_INTERRUPT, so
# a signalled waiter in a guest waits until the lock comes free, whatever the daemon does.)
t "unlink the lock files" rm lockf lockg

# --- final check of every file, then clean up ------------------------------------
flush
for n in 0 1 511 4096 4097 1000003 3145728; do
    eq "final md5 of f$n" "$(sum "f$n")" "$(sum "$REF/f$n")"
done
cd /
t "remove the work directory" rm -rf "$W"
t "work directory is gone" test ! -e "$W"
rm -rf "$REF"
echo "RESULT $npass passed, $nfail failed"
[ $nfail -eq 0 ]
