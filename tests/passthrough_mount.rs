//! Real-mount differential tests of the passthrough driver.
//!
//! Each test mounts a fresh host directory through `PassthroughFs` (served by threads of
//! this process, see `tests/common/mod.rs`) and runs every system call twice: on the mount
//! and on a plain directory of the same host filesystem. The kernel's own filesystem is the
//! oracle: return values, errnos, contents and attributes must agree. Attributes seen
//! through the mount are also compared with the host file behind them.
//!
//! Needs root and /dev/fuse. Outside CI a test that cannot mount prints "skipping: ..." and
//! returns; with CI=true it fails.

#![cfg(feature = "fusedev")]

mod common;

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

// ---------------------------------------------------------------------------------------
// Descriptor calls.

fn ftruncate(fd: RawFd, len: i64) -> Res<()> {
    // SAFETY: plain values.
    cvt(unsafe { libc::ftruncate64(fd, len) }).map(drop)
}

fn fallocate(fd: RawFd, mode: i32, off: i64, len: i64) -> Res<()> {
    // SAFETY: plain values.
    cvt(unsafe { libc::fallocate64(fd, mode, off, len) }).map(drop)
}

fn lseek(fd: RawFd, off: i64, whence: i32) -> Res<i64> {
    // SAFETY: plain values.
    cvt(unsafe { libc::lseek64(fd, off, whence) })
}

fn copy_file_range(from: RawFd, off_in: i64, to: RawFd, off_out: i64, len: usize) -> Res<usize> {
    let mut a = off_in;
    let mut b = off_out;
    // SAFETY: valid pointers to local offsets.
    cvt(unsafe { libc::copy_file_range(from, &mut a, to, &mut b, len, 0) }).map(|n| n as usize)
}

fn fsync(fd: RawFd) -> Res<()> {
    // SAFETY: plain value.
    cvt(unsafe { libc::fsync(fd) }).map(drop)
}

fn fdatasync(fd: RawFd) -> Res<()> {
    // SAFETY: plain value.
    cvt(unsafe { libc::fdatasync(fd) }).map(drop)
}

fn syncfs(fd: RawFd) -> Res<()> {
    // SAFETY: plain value.
    cvt(unsafe { libc::syncfs(fd) }).map(drop)
}

fn flock(fd: RawFd, op: i32) -> Res<()> {
    // SAFETY: plain values.
    cvt(unsafe { libc::flock(fd, op) }).map(drop)
}

fn lock_arg(typ: i32, start: i64, len: i64) -> libc::flock64 {
    // SAFETY: plain integers.
    let mut l: libc::flock64 = unsafe { std::mem::zeroed() };
    l.l_type = typ as i16;
    l.l_whence = libc::SEEK_SET as i16;
    l.l_start = start;
    l.l_len = len;
    l
}

/// `fcntl(fd, cmd, &lock)`; returns `(type, start, len, pid)` of the lock afterwards
/// (meaningful for the GETLK commands).
fn fcntl_lock(fd: RawFd, cmd: i32, typ: i32, start: i64, len: i64) -> Res<(i16, i64, i64, i32)> {
    let mut l = lock_arg(typ, start, len);
    // SAFETY: a valid flock64 for the lock commands.
    cvt(unsafe { libc::fcntl(fd, cmd, &mut l) })?;
    Ok((l.l_type, l.l_start, l.l_len, l.l_pid))
}

fn utimens(p: &Path, at: (i64, i64), mt: (i64, i64), flags: i32) -> Res<()> {
    let c = cpath(p);
    let ts = [
        libc::timespec {
            tv_sec: at.0,
            tv_nsec: at.1,
        },
        libc::timespec {
            tv_sec: mt.0,
            tv_nsec: mt.1,
        },
    ];
    // SAFETY: a valid C string and two timespecs.
    cvt(unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), flags) }).map(drop)
}

fn statx(p: &Path, flags: i32, mask: u32) -> Res<libc::statx> {
    let c = cpath(p);
    // SAFETY: plain data, filled by the kernel.
    let mut sx: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers.
    cvt(unsafe { libc::statx(libc::AT_FDCWD, c.as_ptr(), flags, mask, &mut sx) })?;
    Ok(sx)
}

fn statvfs(p: &Path) -> Res<libc::statvfs64> {
    let c = cpath(p);
    // SAFETY: plain data, filled by the kernel.
    let mut sv: libc::statvfs64 = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers.
    cvt(unsafe { libc::statvfs64(c.as_ptr(), &mut sv) })?;
    Ok(sv)
}

/// A zeroed buffer aligned to 4096 bytes (for O_DIRECT).
struct AlignedBuf {
    ptr: *mut u8,
    layout: std::alloc::Layout,
}

impl AlignedBuf {
    fn new(len: usize) -> AlignedBuf {
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: a non-zero size.
        let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
        assert!(!ptr.is_null());
        AlignedBuf { ptr, layout }
    }

    fn ptr(&self) -> *const u8 {
        self.ptr
    }

    fn ptr_mut(&mut self) -> *mut u8 {
        self.ptr
    }

    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: `ptr` is valid for `layout.size()` bytes and uniquely borrowed here.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout in `new`.
        unsafe { std::alloc::dealloc(self.ptr, self.layout) };
    }
}

fn mount_or_skip(opts: MountOptions) -> Option<TestMount> {
    if !nix::unistd::geteuid().is_root() {
        cannot_run("these tests need root (mount(2), chown, mknod)");
        return None;
    }
    TestMount::new(opts)
}

/// `n` bytes of a pattern that depends on `seed`.
fn pat(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

// ---------------------------------------------------------------------------------------

#[test]
fn file_io_matches_host() {
    let Some(m) = mount_or_skip(MountOptions::default()) else {
        return;
    };
    let pr = m.pair();
    let rw = libc::O_RDWR;

    // create / open errors
    let f = pr
        .open("create", "f", libc::O_CREAT | libc::O_EXCL | rw, 0o644)
        .unwrap();
    assert_eq!(
        pr.open(
            "create excl twice",
            "f",
            libc::O_CREAT | libc::O_EXCL | rw,
            0o644
        )
        .err(),
        Some(libc::EEXIST)
    );
    assert_eq!(
        pr.open("open missing", "missing", rw, 0).err(),
        Some(libc::ENOENT)
    );
    assert_eq!(
        pr.open(
            "create in missing dir",
            "nodir/x",
            libc::O_CREAT | rw,
            0o644
        )
        .err(),
        Some(libc::ENOENT)
    );
    assert_eq!(
        pr.open(
            "O_DIRECTORY on a file",
            "f",
            libc::O_RDONLY | libc::O_DIRECTORY,
            0
        )
        .err(),
        Some(libc::ENOTDIR)
    );
    assert_eq!(
        pr.open("dir for writing", ".", libc::O_WRONLY, 0).err(),
        Some(libc::EISDIR)
    );
    pr.same("long name", &"n".repeat(256), |p| {
        open(p, libc::O_CREAT | rw, 0o644).map(drop)
    })
    .unwrap_err();
    pr.same("max name", &"n".repeat(255), |p| {
        open(p, libc::O_CREAT | rw, 0o644).map(drop)
    })
    .unwrap();

    // write / pwrite / pread
    pr.fd("write", &f, |fd| write(fd, b"hello world")).unwrap();
    pr.fd("pwrite past eof", &f, |fd| pwrite(fd, b"XYZ", 100))
        .unwrap();
    pr.fd("pread all", &f, |fd| pread(fd, 4096, 0)).unwrap();
    pr.fd("pread middle", &f, |fd| pread(fd, 7, 6)).unwrap();
    pr.fd("pread past eof", &f, |fd| pread(fd, 10, 1000))
        .unwrap();
    pr.fd("lseek end", &f, |fd| lseek(fd, 0, libc::SEEK_END))
        .unwrap();
    pr.fd("lseek negative", &f, |fd| lseek(fd, -1, libc::SEEK_SET))
        .unwrap_err();
    pr.same_node("after writes", "f");
    m.assert_like_source("f");

    // a big write, across several FUSE requests
    let big = pat(3 << 20, 7);
    pr.fd("big pwrite", &f, |fd| pwrite(fd, &big, 4096))
        .unwrap();
    pr.fd("big pread", &f, |fd| {
        pread(fd, 4 << 20, 0).map(|v| fnv64(&v))
    })
    .unwrap();

    // O_APPEND, O_TRUNC, wrong access modes
    let a = pr
        .open("open append", "f", libc::O_WRONLY | libc::O_APPEND, 0)
        .unwrap();
    pr.fd("append", &a, |fd| write(fd, b"tail")).unwrap();
    pr.fd("position after append", &a, |fd| {
        lseek(fd, 0, libc::SEEK_CUR)
    })
    .unwrap();
    pr.fd("read on O_WRONLY", &a, |fd| pread(fd, 4, 0))
        .unwrap_err();
    let r = pr.open("open rdonly", "f", libc::O_RDONLY, 0).unwrap();
    pr.fd("write on O_RDONLY", &r, |fd| write(fd, b"x"))
        .unwrap_err();
    pr.fd("ftruncate on O_RDONLY", &r, |fd| ftruncate(fd, 1))
        .unwrap_err();
    pr.same_node("after append", "f");
    let t = pr
        .open("open trunc", "f", libc::O_RDWR | libc::O_TRUNC, 0)
        .unwrap();
    pr.fd("size after O_TRUNC", &t, |fd| fstat(fd).map(|s| s.st_size))
        .unwrap();
    pr.fd("rewrite", &t, |fd| pwrite(fd, &pat(10000, 1), 0))
        .unwrap();
    drop((a, r, t));

    // truncate / ftruncate
    pr.same("truncate shrink", "f", |p| truncate(p, 5000))
        .unwrap();
    pr.same_node("after truncate shrink", "f");
    pr.same("truncate grow", "f", |p| truncate(p, 9000))
        .unwrap();
    pr.same_node("after truncate grow", "f");
    pr.same("truncate negative", "f", |p| truncate(p, -1))
        .unwrap_err();
    pr.fd("ftruncate", &f, |fd| ftruncate(fd, 3000)).unwrap();
    pr.fd("fstat after ftruncate", &f, |fd| {
        fstat(fd).map(|s| Attr::of(&s))
    })
    .unwrap();
    pr.same_node("after ftruncate", "f");
    m.assert_like_source("f");

    // fallocate
    let g = pr
        .open("create g", "g", libc::O_CREAT | libc::O_EXCL | rw, 0o600)
        .unwrap();
    pr.fd("fallocate extend", &g, |fd| fallocate(fd, 0, 0, 65536))
        .unwrap();
    pr.same_node("after fallocate", "g");
    pr.fd("fallocate keep size", &g, |fd| {
        fallocate(fd, libc::FALLOC_FL_KEEP_SIZE, 65536, 65536)
    })
    .unwrap();
    pr.same_node("after fallocate keep size", "g");
    pr.fd("fill g", &g, |fd| pwrite(fd, &pat(65536, 3), 0))
        .unwrap();
    pr.fd("punch hole", &g, |fd| {
        fallocate(
            fd,
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            8192,
            16384,
        )
    })
    .unwrap();
    pr.same_node("after punch hole", "g");
    pr.fd("punched range reads zeros", &g, |fd| pread(fd, 16384, 8192))
        .map(|v| assert!(v.iter().all(|&b| b == 0)))
        .unwrap();
    pr.fd("punch hole without keep size", &g, |fd| {
        fallocate(fd, libc::FALLOC_FL_PUNCH_HOLE, 0, 4096)
    })
    .unwrap_err();
    pr.fd("zero range", &g, |fd| {
        fallocate(fd, libc::FALLOC_FL_ZERO_RANGE, 40000, 1000)
    })
    .unwrap();
    pr.same_node("after zero range", "g");
    pr.fd("fallocate bad length", &g, |fd| fallocate(fd, 0, 0, 0))
        .unwrap_err();
    pr.fd("seek data after punch", &g, |fd| {
        lseek(fd, 8192, libc::SEEK_DATA)
    })
    .unwrap();
    pr.fd("seek hole after punch", &g, |fd| {
        lseek(fd, 0, libc::SEEK_HOLE)
    })
    .unwrap();
    m.assert_like_source("g");

    // SEEK_DATA / SEEK_HOLE on a sparse file
    let s = pr
        .open("create sparse", "sparse", libc::O_CREAT | rw, 0o644)
        .unwrap();
    pr.fd("sparse write 0", &s, |fd| pwrite(fd, &pat(4096, 9), 0))
        .unwrap();
    pr.fd("sparse write 1M", &s, |fd| {
        pwrite(fd, &pat(4096, 8), 1 << 20)
    })
    .unwrap();
    pr.fd("sparse truncate 2M", &s, |fd| ftruncate(fd, 2 << 20))
        .unwrap();
    for (what, off, whence) in [
        ("SEEK_DATA 0", 0, libc::SEEK_DATA),
        ("SEEK_HOLE 0", 0, libc::SEEK_HOLE),
        ("SEEK_DATA 4096", 4096, libc::SEEK_DATA),
        ("SEEK_DATA 100000", 100_000, libc::SEEK_DATA),
        ("SEEK_HOLE 1M", 1 << 20, libc::SEEK_HOLE),
        ("SEEK_DATA in tail hole", (1 << 20) + 8192, libc::SEEK_DATA),
        ("SEEK_HOLE in tail hole", (1 << 20) + 8192, libc::SEEK_HOLE),
        ("SEEK_DATA at eof", 2 << 20, libc::SEEK_DATA),
        ("SEEK_HOLE past eof", 3 << 20, libc::SEEK_HOLE),
    ] {
        pr.fd(what, &s, |fd| lseek(fd, off, whence)).ok();
    }
    pr.same_node("sparse", "sparse");

    // copy_file_range
    let c = pr
        .open("create copy dst", "copy", libc::O_CREAT | rw, 0o644)
        .unwrap();
    let fds = (
        (f.0.as_raw_fd(), c.0.as_raw_fd()),
        (f.1.as_raw_fd(), c.1.as_raw_fd()),
    );
    let cfr = |(from, to): (RawFd, RawFd), off_in: i64, off_out: i64, len: usize| {
        copy_file_range(from, off_in, to, off_out, len)
    };
    for (what, off_in, off_out, len) in [
        ("copy head", 0i64, 0i64, 1000usize),
        ("copy to a gap", 100, 5000, 2000),
        ("copy past source eof", 2500, 0, 4096),
        ("copy at source eof", 3000, 0, 10),
    ] {
        let a = cfr(fds.0, off_in, off_out, len);
        let b = cfr(fds.1, off_in, off_out, len);
        assert_eq!(a, b, "step `{what}`");
    }
    pr.fd("copy within one file, overlapping", &f, |fd| {
        copy_file_range(fd, 0, fd, 10, 100)
    })
    .unwrap_err();
    pr.same_node("after copies", "copy");
    m.assert_like_source("copy");

    // an unlinked file stays usable through its descriptor
    let u = pr
        .open("create doomed", "doomed", libc::O_CREAT | rw, 0o644)
        .unwrap();
    pr.fd("write doomed", &u, |fd| pwrite(fd, b"still here", 0))
        .unwrap();
    pr.same("unlink open file", "doomed", unlink).unwrap();
    pr.fd("write unlinked", &u, |fd| pwrite(fd, b"after unlink", 5))
        .unwrap();
    pr.fd("read unlinked", &u, |fd| pread(fd, 100, 0)).unwrap();
    pr.fd("fstat unlinked", &u, |fd| fstat(fd).map(|s| Attr::of(&s)))
        .unwrap();
    pr.fd("ftruncate unlinked", &u, |fd| ftruncate(fd, 3))
        .unwrap();
    pr.fd("fstat unlinked again", &u, |fd| {
        fstat(fd).map(|s| Attr::of(&s))
    })
    .unwrap();
    drop(u);

    // far past 4 GiB
    let h = pr
        .open("create huge", "huge", libc::O_CREAT | rw, 0o644)
        .unwrap();
    pr.fd("pwrite at 5 GiB", &h, |fd| pwrite(fd, b"far", 5 << 30))
        .unwrap();
    pr.fd("pread at 5 GiB", &h, |fd| pread(fd, 10, (5 << 30) - 2))
        .unwrap();
    pr.fd("seek data at 5 GiB", &h, |fd| lseek(fd, 0, libc::SEEK_DATA))
        .unwrap();
    pr.same("huge sparse", "huge", |p| lstat(p).map(|s| Attr::of(&s)))
        .unwrap();
    drop(h);

    // attributes through descriptors (SETATTR with a file handle)
    pr.fd("fchmod", &f, |fd| {
        // SAFETY: plain values.
        cvt(unsafe { libc::fchmod(fd, 0o604) }).map(drop)
    })
    .unwrap();
    pr.fd("fchown", &f, |fd| {
        // SAFETY: plain values.
        cvt(unsafe { libc::fchown(fd, 123, 456) }).map(drop)
    })
    .unwrap();
    pr.fd("futimens", &f, |fd| {
        let ts = [
            libc::timespec {
                tv_sec: 77,
                tv_nsec: 7,
            },
            libc::timespec {
                tv_sec: 88,
                tv_nsec: 8,
            },
        ];
        // SAFETY: two valid timespecs.
        cvt(unsafe { libc::futimens(fd, ts.as_ptr()) }).map(drop)
    })
    .unwrap();
    pr.fd("fstat after f*", &f, |fd| {
        fstat(fd).map(|s| (Attr::of(&s), mtime(&s), atime(&s)))
    })
    .unwrap();
    m.assert_like_source("f");

    // syncs
    pr.fd("fsync", &f, fsync).unwrap();
    pr.fd("fdatasync", &f, fdatasync).unwrap();
    pr.fd("syncfs", &f, syncfs).unwrap();
    let d = pr
        .open("open root dir", ".", libc::O_RDONLY | libc::O_DIRECTORY, 0)
        .unwrap();
    pr.fd("fsync dir", &d, fsync).unwrap();
    pr.fd("syncfs on dir", &d, syncfs).unwrap();

    pr.same_node("final listing", ".");
    drop((f, g, s, c, d));
    m.finish();
}

/// O_DIRECT with 4096-aligned buffers and offsets, as databases and `dd iflag=direct`
/// use it, in the default configuration (`allow_direct_io: true`). (Unaligned O_DIRECT
/// I/O is not compared: the FUSE client does not require alignment.)
#[test]
fn o_direct_matches_host() {
    let Some(m) = mount_or_skip(MountOptions::default()) else {
        return;
    };
    let pr = m.pair();
    pr.same("create", "direct", |p| {
        std::fs::write(p, pat(16384, 4)).map_err(|e| io_errno(&e))
    })
    .unwrap();
    let dio = pr
        .open("open O_DIRECT", "direct", libc::O_RDWR | libc::O_DIRECT, 0)
        .unwrap();
    let dread = |fd: RawFd, off: i64| {
        let mut b = AlignedBuf::new(8192);
        // SAFETY: the buffer is valid and 4096-aligned for its length.
        let n = cvt(unsafe { libc::pread64(fd, b.ptr_mut().cast(), 8192, off) })?;
        Ok(fnv64(&b.as_mut()[..n as usize]))
    };
    pr.fd("O_DIRECT pread", &dio, |fd| dread(fd, 4096)).unwrap();
    let mut aligned = AlignedBuf::new(8192);
    aligned.as_mut().copy_from_slice(&pat(8192, 11));
    pr.fd("O_DIRECT pwrite", &dio, |fd| {
        // SAFETY: the buffer is valid and 4096-aligned for its length.
        cvt(unsafe { libc::pwrite64(fd, aligned.ptr().cast(), 8192, 12288) }).map(|n| n as usize)
    })
    .unwrap();
    pr.fd("O_DIRECT pread back", &dio, |fd| dread(fd, 12288))
        .unwrap();
    drop(dio);
    pr.same_node("after O_DIRECT", "direct");
    m.assert_like_source("direct");
    m.finish();
}

#[test]
fn namespace_ops_match_host() {
    let Some(m) = mount_or_skip(MountOptions::default()) else {
        return;
    };
    let pr = m.pair();
    let create = |rel: &str, data: &[u8]| {
        pr.same("create", rel, |p| {
            let fd = open(p, libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC, 0o644)?;
            pwrite(fd.as_raw_fd(), data, 0).map(drop)
        })
        .unwrap();
    };

    // mkdir / rmdir / unlink
    pr.same("mkdir", "d", |p| mkdir(p, 0o755)).unwrap();
    assert_eq!(
        pr.same("mkdir twice", "d", |p| mkdir(p, 0o755)),
        Err(libc::EEXIST)
    );
    pr.same("mkdir odd mode", "d/sub", |p| mkdir(p, 0o3711))
        .unwrap();
    pr.same_node("mkdir odd mode", "d/sub");
    create("d/file", b"in d");
    assert_eq!(pr.same("rmdir non-empty", "d", rmdir), Err(libc::ENOTEMPTY));
    assert_eq!(pr.same("rmdir a file", "d/file", rmdir), Err(libc::ENOTDIR));
    assert_eq!(pr.same("unlink a dir", "d", unlink), Err(libc::EISDIR));
    assert_eq!(pr.same("rmdir missing", "nope", rmdir), Err(libc::ENOENT));
    assert_eq!(pr.same("unlink missing", "nope", unlink), Err(libc::ENOENT));
    assert_eq!(pr.same("rmdir dot", "d/.", rmdir), Err(libc::EINVAL));
    pr.same_node("dir with two entries", "d");
    m.assert_like_source("d");
    pr.same("unlink", "d/file", unlink).unwrap();
    pr.same("rmdir sub", "d/sub", rmdir).unwrap();
    pr.same_node("empty dir", "d");
    m.assert_like_source("d");

    // rename
    let r2 = |step: &str, from: &str, to: &str, flags: u32| {
        pr.same2(step, |root| {
            rename2(&join(root, from), &join(root, to), flags)
        })
    };
    create("a", b"AAAA");
    r2("rename", "a", "b", 0).unwrap();
    pr.same("old name gone", "a", |p| lstat(p).map(drop))
        .unwrap_err();
    pr.same_node("new name", "b");
    create("c", b"CC");
    r2("rename over a file", "b", "c", 0).unwrap();
    pr.same_node("replaced", "c");
    r2("rename missing", "nope", "x", 0).unwrap_err();
    r2("rename into a missing dir", "c", "nodir/c", 0).unwrap_err();
    r2("rename to itself", "c", "c", 0).unwrap();
    create("x", b"x");
    create("y", b"y");
    assert_eq!(
        r2("noreplace onto existing", "x", "y", libc::RENAME_NOREPLACE),
        Err(libc::EEXIST)
    );
    r2("noreplace to a free name", "x", "z", libc::RENAME_NOREPLACE).unwrap();
    pr.same_node("noreplace moved", "z");
    pr.same_node("noreplace kept", "y");

    pr.same("mkdir ed", "ed", |p| mkdir(p, 0o700)).unwrap();
    create("ed/child", b"child");
    create("ef", b"ef-data");
    r2("exchange file and dir", "ef", "ed", libc::RENAME_EXCHANGE).unwrap();
    pr.same_node("exchanged dir", "ef");
    pr.same_node("exchanged dir child", "ef/child");
    pr.same_node("exchanged file", "ed");
    assert_eq!(
        r2(
            "exchange with a missing name",
            "ed",
            "nope",
            libc::RENAME_EXCHANGE
        ),
        Err(libc::ENOENT)
    );
    r2(
        "noreplace and exchange",
        "ed",
        "ef",
        libc::RENAME_EXCHANGE | libc::RENAME_NOREPLACE,
    )
    .unwrap_err();
    m.assert_like_source("ef");
    m.assert_like_source("ed");

    create("w", b"whiteout me");
    r2("whiteout", "w", "w2", libc::RENAME_WHITEOUT).unwrap();
    pr.same_node("whiteout left behind", "w");
    pr.same_node("whiteout target", "w2");
    m.assert_like_source("w");

    pr.same("mkdir p1", "p1", |p| mkdir(p, 0o755)).unwrap();
    pr.same("mkdir p1/p2", "p1/p2", |p| mkdir(p, 0o755))
        .unwrap();
    pr.same("mkdir full", "full", |p| mkdir(p, 0o755)).unwrap();
    create("full/f", b"f");
    pr.same("mkdir empty", "empty", |p| mkdir(p, 0o755))
        .unwrap();
    assert_eq!(
        r2("dir into its own subdir", "p1", "p1/p2/p1", 0),
        Err(libc::EINVAL)
    );
    assert_eq!(r2("file over a dir", "y", "p1", 0), Err(libc::EISDIR));
    assert_eq!(r2("dir over a file", "p1", "y", 0), Err(libc::ENOTDIR));
    r2("dir over a non-empty dir", "p1", "full", 0).unwrap_err();
    r2("dir over an empty dir", "p1", "empty", 0).unwrap();
    pr.same_node("moved dir", "empty");
    pr.same_node("moved dir child", "empty/p2");
    r2("dir across dirs", "empty/p2", "full/p2", 0).unwrap();
    pr.same_node("parent lost a subdir", "empty");
    pr.same_node("parent gained a subdir", "full");
    m.assert_like_source("full");
    m.assert_like_source("empty");

    // link
    create("l1", b"linked");
    pr.same2("link", |r| link(&r.join("l1"), &r.join("l2")))
        .unwrap();
    pr.same_node("link source", "l1");
    pr.same_node("link target", "l2");
    m.assert_like_source("l2");
    pr.same2("link a third", |r| link(&r.join("l2"), &r.join("d/l3")))
        .unwrap();
    pr.same_node("nlink 3", "l1");
    assert_eq!(
        pr.same2("link onto existing", |r| link(&r.join("l1"), &r.join("c"))),
        Err(libc::EEXIST)
    );
    assert_eq!(
        pr.same2("link a dir", |r| link(&r.join("d"), &r.join("dl"))),
        Err(libc::EPERM)
    );
    pr.same("unlink one link", "l1", unlink).unwrap();
    pr.same_node("nlink after unlink", "l2");
    pr.same_node("nlink after unlink (other name)", "d/l3");
    m.assert_like_source("d/l3");

    // symlink / readlink
    pr.same("symlink relative", "sl_rel", |p| symlink("d/l3", p))
        .unwrap();
    pr.same("symlink absolute", "sl_abs", |p| {
        symlink("/nonexistent/abs/target", p)
    })
    .unwrap();
    pr.same("symlink dangling", "sl_dangling", |p| {
        symlink("nope/nope", p)
    })
    .unwrap();
    pr.same("symlink long", "sl_long", |p| {
        symlink(&"t/".repeat(1000), p)
    })
    .unwrap();
    for l in ["sl_rel", "sl_abs", "sl_dangling", "sl_long"] {
        pr.same_node("symlink", l);
        m.assert_like_source(l);
    }
    pr.same("stat through relative symlink", "sl_rel", |p| {
        stat(p).map(|s| Attr::of(&s))
    })
    .unwrap();
    pr.same("read through relative symlink", "sl_rel", |p| {
        open(p, libc::O_RDONLY, 0).and_then(|f| read_all(f.as_raw_fd()))
    })
    .unwrap();
    assert_eq!(
        pr.same("stat through absolute symlink", "sl_abs", |p| stat(p)
            .map(drop)),
        Err(libc::ENOENT)
    );
    assert_eq!(
        pr.same("O_NOFOLLOW on a symlink", "sl_rel", |p| {
            open(p, libc::O_RDONLY | libc::O_NOFOLLOW, 0).map(drop)
        }),
        Err(libc::ELOOP)
    );
    assert_eq!(
        pr.same("symlink onto existing", "c", |p| symlink("x", p)),
        Err(libc::EEXIST)
    );
    assert_eq!(pr.same("readlink a file", "c", readlink), Err(libc::EINVAL));
    pr.same("unlink a symlink", "sl_dangling", unlink).unwrap();

    // FIFO
    pr.same("mkfifo", "fifo", |p| mknod(p, libc::S_IFIFO | 0o640, 0))
        .unwrap();
    pr.same_node("fifo", "fifo");
    m.assert_like_source("fifo");
    assert_eq!(
        pr.same("mkfifo twice", "fifo", |p| mknod(
            p,
            libc::S_IFIFO | 0o640,
            0
        )),
        Err(libc::EEXIST)
    );

    // access()
    create("ax", b"#!/bin/sh\n");
    pr.same("chmod 755", "ax", |p| chmod(p, 0o755)).unwrap();
    for (what, rel, mode) in [
        ("F_OK", "c", libc::F_OK),
        ("R_OK|W_OK", "c", libc::R_OK | libc::W_OK),
        ("X_OK on 0644", "c", libc::X_OK),
        ("X_OK on 0755", "ax", libc::X_OK),
        ("X_OK on a dir", "d", libc::X_OK),
        ("F_OK missing", "nope", libc::F_OK),
        ("X_OK on a fifo", "fifo", libc::X_OK),
    ] {
        pr.same(what, rel, |p| access(p, mode)).ok();
    }

    // rename between two links of one inode does nothing
    create("same1", b"same");
    pr.same2("link same2", |r| link(&r.join("same1"), &r.join("same2")))
        .unwrap();
    r2("rename onto another link of itself", "same1", "same2", 0).unwrap();
    pr.same_node("first link kept", "same1");
    pr.same_node("second link kept", "same2");

    // odd names, and a directory big enough for several READDIR replies
    pr.same("mkdir big", "big", |p| mkdir(p, 0o755)).unwrap();
    let odd = [
        "with space".to_string(),
        "new\nline".to_string(),
        "tab\tand-dash".to_string(),
        "ünïcödé-名前".to_string(),
        "é".repeat(127),
        ".hidden".to_string(),
        "-leading-dash".to_string(),
    ];
    for name in &odd {
        create(&format!("big/{name}"), name.as_bytes());
    }
    for i in 0..600 {
        let name = format!("big/entry-{i:04}-{}", "x".repeat(i % 200));
        if i % 3 == 0 {
            pr.same("mkdir many", &name, |p| mkdir(p, 0o700)).unwrap();
        } else {
            create(&name, b"");
        }
    }
    pr.same_node("big listing", "big");
    for name in &odd {
        pr.same_node("odd name", &format!("big/{name}"));
    }

    // readdir of everything
    for dir in [".", "d", "ef", "full", "full/p2", "empty"] {
        pr.same_node("listing", dir);
    }
    m.finish();
}

#[test]
fn attributes_match_host() {
    let Some(m) = mount_or_skip(MountOptions::default()) else {
        return;
    };
    let pr = m.pair();
    pr.same("create", "f", |p| {
        open(p, libc::O_CREAT | libc::O_WRONLY, 0o644).map(drop)
    })
    .unwrap();
    pr.same("mkdir", "d", |p| mkdir(p, 0o755)).unwrap();
    pr.same("symlink", "sl", |p| symlink("f", p)).unwrap();

    // chmod
    for mode in [0o600, 0o4755, 0o2750, 0o1777, 0o000, 0o644] {
        pr.same(&format!("chmod {mode:o}"), "f", |p| chmod(p, mode))
            .unwrap();
        pr.same_node("after chmod", "f");
    }
    pr.same("chmod dir sticky", "d", |p| chmod(p, 0o1777))
        .unwrap();
    pr.same_node("sticky dir", "d");
    pr.same("chmod through symlink", "sl", |p| chmod(p, 0o640))
        .unwrap();
    pr.same_node("chmod through symlink: target", "f");
    pr.same_node("chmod through symlink: link", "sl");
    m.assert_like_source("f");

    // chown (root): setuid bits of an executable go on chown
    pr.same("chmod 4755", "f", |p| chmod(p, 0o4755)).unwrap();
    pr.same("chown", "f", |p| chown(p, 1000, 1000)).unwrap();
    pr.same_node("after chown", "f");
    pr.same("chown uid only", "f", |p| chown(p, 2000, u32::MAX))
        .unwrap();
    pr.same_node("after chown uid", "f");
    pr.same("chown gid only", "f", |p| chown(p, u32::MAX, 3000))
        .unwrap();
    pr.same_node("after chown gid", "f");
    pr.same("lchown symlink", "sl", |p| lchown(p, 4000, 4000))
        .unwrap();
    pr.same_node("lchown: link", "sl");
    pr.same_node("lchown: target untouched", "f");
    pr.same("chown dir", "d", |p| chown(p, 1000, 50)).unwrap();
    pr.same_node("chowned dir", "d");
    m.assert_like_source("f");
    m.assert_like_source("sl");
    m.assert_like_source("d");

    // utimensat
    let times = |p: &Path| lstat(p).map(|s| (atime(&s), mtime(&s)));
    pr.same("utimensat explicit", "f", |p| {
        utimens(p, (1000, 5), (2000, 7), 0)
    })
    .unwrap();
    assert_eq!(
        pr.same("times after explicit", "f", times),
        Ok(((1000, 5), (2000, 7)))
    );
    pr.same("utimensat omit atime", "f", |p| {
        utimens(p, (0, libc::UTIME_OMIT), (3000, 0), 0)
    })
    .unwrap();
    assert_eq!(
        pr.same("times after omit", "f", times),
        Ok(((1000, 5), (3000, 0)))
    );
    pr.same("utimensat omit both", "f", |p| {
        utimens(p, (0, libc::UTIME_OMIT), (0, libc::UTIME_OMIT), 0)
    })
    .unwrap();
    pr.same("times after omit both", "f", times).unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    pr.same("utimensat now", "f", |p| {
        utimens(p, (0, libc::UTIME_OMIT), (0, libc::UTIME_NOW), 0)
    })
    .unwrap();
    for root in [&pr.m, &pr.p] {
        let (at, mt) = times(&root.join("f")).unwrap();
        assert_eq!(at, (1000, 5), "UTIME_OMIT atime under {}", root.display());
        assert!(
            mt.0 >= before - 1,
            "UTIME_NOW did not set mtime under {}: {mt:?}",
            root.display()
        );
    }
    pr.same("utimensat on a symlink", "sl", |p| {
        utimens(p, (111, 1), (222, 2), libc::AT_SYMLINK_NOFOLLOW)
    })
    .unwrap();
    assert_eq!(
        pr.same("symlink times", "sl", times),
        Ok(((111, 1), (222, 2)))
    );
    pr.same("utimensat dir", "d", |p| utimens(p, (5, 0), (6, 0), 0))
        .unwrap();
    assert_eq!(pr.same("dir times", "d", times), Ok(((5, 0), (6, 0))));
    m.assert_like_source("f");
    m.assert_like_source("sl");
    m.assert_like_source("d");

    // statx
    let sx_view = |sx: &libc::statx| {
        (
            sx.stx_mask & libc::STATX_BASIC_STATS,
            sx.stx_mode,
            sx.stx_nlink,
            sx.stx_uid,
            sx.stx_gid,
            if sx.stx_mode as u32 & libc::S_IFMT == libc::S_IFDIR {
                0
            } else {
                sx.stx_size
            },
            (sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec),
        )
    };
    for rel in ["f", "d", "sl"] {
        pr.same("statx", rel, |p| {
            statx(p, libc::AT_SYMLINK_NOFOLLOW, libc::STATX_ALL).map(|s| sx_view(&s))
        })
        .unwrap();
        // Against the host file: the same inode, and the birth time when reported.
        let a = statx(
            &m.mnt().join(rel),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_ALL | libc::STATX_BTIME,
        )
        .unwrap();
        let b = statx(
            &m.src().join(rel),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_ALL | libc::STATX_BTIME,
        )
        .unwrap();
        assert_eq!(sx_view(&a), sx_view(&b), "statx {rel} vs source");
        assert_eq!(a.stx_ino, b.stx_ino, "statx ino {rel} vs source");
        if a.stx_mask & libc::STATX_BTIME != 0 {
            assert_eq!(
                (a.stx_btime.tv_sec, a.stx_btime.tv_nsec),
                (b.stx_btime.tv_sec, b.stx_btime.tv_nsec),
                "statx btime {rel} vs source"
            );
        }
    }
    pr.same("statx missing", "nope", |p| {
        statx(p, 0, libc::STATX_ALL).map(drop)
    })
    .unwrap_err();

    // statfs: the host filesystem's geometry
    let a = statvfs(m.mnt()).unwrap();
    let b = statvfs(m.src()).unwrap();
    assert_eq!(a.f_bsize, b.f_bsize, "statfs f_bsize");
    assert_eq!(a.f_frsize, b.f_frsize, "statfs f_frsize");
    assert_eq!(a.f_blocks, b.f_blocks, "statfs f_blocks");
    assert_eq!(a.f_files, b.f_files, "statfs f_files");
    assert_eq!(a.f_namemax, b.f_namemax, "statfs f_namemax");
    m.finish();
}

fn getfacl(p: &Path) -> Option<String> {
    let out = output_of(
        Command::new("getfacl")
            .args(["--omit-header", "--numeric", "--absolute-names"])
            .arg(p),
    )
    .ok()?;
    Some(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn setfacl(p: &Path, args: &[&str]) -> i32 {
    status_of(Command::new("setfacl").args(args).arg(p))
        .expect("setfacl runs")
        .code()
        .unwrap_or(-1)
}

#[test]
fn xattrs_and_acls_match_host() {
    let Some(m) = mount_or_skip(MountOptions::default().xattr(true)) else {
        return;
    };
    let pr = m.pair();
    pr.same("create", "f", |p| {
        open(p, libc::O_CREAT | libc::O_WRONLY, 0o644).map(drop)
    })
    .unwrap();
    pr.same("mkdir", "d", |p| mkdir(p, 0o755)).unwrap();
    pr.same("symlink", "sl", |p| symlink("f", p)).unwrap();
    pr.same("mkfifo", "fifo", |p| mknod(p, libc::S_IFIFO | 0o644, 0))
        .unwrap();

    for rel in ["f", "d"] {
        pr.same("set", rel, |p| lsetxattr(p, "user.a", b"value-a", 0))
            .unwrap();
        pr.same("set empty", rel, |p| lsetxattr(p, "user.empty", b"", 0))
            .unwrap();
        pr.same("set binary", rel, |p| {
            lsetxattr(p, "user.bin", &[0, 1, 2, 255, 0], 0)
        })
        .unwrap();
        assert_eq!(
            pr.same("size query", rel, |p| lgetxattr(p, "user.a", 0)
                .map(|v| v.len())),
            Ok(7)
        );
        assert_eq!(
            pr.same("get", rel, |p| lgetxattr(p, "user.a", 100)),
            Ok(b"value-a".to_vec())
        );
        pr.same("get binary", rel, |p| lgetxattr(p, "user.bin", 100))
            .unwrap();
        pr.same("get empty", rel, |p| lgetxattr(p, "user.empty", 100))
            .unwrap();
        assert_eq!(
            pr.same("short buffer", rel, |p| lgetxattr(p, "user.a", 3)),
            Err(libc::ERANGE)
        );
        assert_eq!(
            pr.same("missing", rel, |p| lgetxattr(p, "user.nope", 100)),
            Err(libc::ENODATA)
        );
        assert_eq!(
            pr.same("create existing", rel, |p| {
                lsetxattr(p, "user.a", b"x", libc::XATTR_CREATE)
            }),
            Err(libc::EEXIST)
        );
        assert_eq!(
            pr.same("replace missing", rel, |p| {
                lsetxattr(p, "user.nope", b"x", libc::XATTR_REPLACE)
            }),
            Err(libc::ENODATA)
        );
        pr.same("replace", rel, |p| {
            lsetxattr(p, "user.a", b"second value", libc::XATTR_REPLACE)
        })
        .unwrap();
        pr.same("get replaced", rel, |p| lgetxattr(p, "user.a", 100))
            .unwrap();
        pr.same("large value", rel, |p| {
            lsetxattr(p, "user.large", &pat(3000, 5), 0)
        })
        .unwrap();
        pr.same("get large", rel, |p| lgetxattr(p, "user.large", 4000))
            .unwrap();
        pr.same("value too big", rel, |p| {
            lsetxattr(p, "user.huge", &pat(65537, 5), 0)
        })
        .unwrap_err();
        pr.same("name too long", rel, |p| {
            lsetxattr(p, &format!("user.{}", "n".repeat(251)), b"v", 0)
        })
        .unwrap_err();
        pr.same("trusted namespace", rel, |p| {
            lsetxattr(p, "trusted.t", b"root only", 0)
        })
        .unwrap();
        pr.same("unknown namespace", rel, |p| {
            lsetxattr(p, "bogus.x", b"v", 0)
        })
        .unwrap_err();
        pr.same("list", rel, llistxattr).unwrap();
        pr.same("list size query", rel, |p| {
            llistxattr_raw(p, 0).map(|v| v.len())
        })
        .unwrap();
        assert_eq!(
            pr.same("list short buffer", rel, |p| llistxattr_raw(p, 5).map(drop)),
            Err(libc::ERANGE)
        );
        pr.same("remove", rel, |p| lremovexattr(p, "user.a"))
            .unwrap();
        assert_eq!(
            pr.same("get removed", rel, |p| lgetxattr(p, "user.a", 100)),
            Err(libc::ENODATA)
        );
        assert_eq!(
            pr.same("remove missing", rel, |p| lremovexattr(p, "user.a")),
            Err(libc::ENODATA)
        );
        pr.same("list after remove", rel, llistxattr).unwrap();
        // what reached the host
        assert_eq!(
            user_xattrs(&m.src().join(rel)),
            user_xattrs(&pr.p.join(rel)),
            "user xattrs of the source {rel}"
        );
    }
    // user.* is refused on symlinks and FIFOs by the host filesystem
    assert_eq!(
        pr.same("user xattr on a symlink", "sl", |p| {
            lsetxattr(p, "user.a", b"v", 0)
        }),
        Err(libc::EPERM)
    );
    pr.same("user xattr on a fifo", "fifo", |p| {
        lsetxattr(p, "user.a", b"v", 0)
    })
    .unwrap_err();
    pr.same("get on a symlink", "sl", |p| lgetxattr(p, "user.a", 100))
        .unwrap_err();
    pr.same("list a symlink", "sl", llistxattr).unwrap();
    pr.same("trusted on a symlink", "sl", |p| {
        lsetxattr(p, "trusted.t", b"v", 0)
    })
    .unwrap();
    pr.same("get trusted on a symlink", "sl", |p| {
        lgetxattr(p, "trusted.t", 100)
    })
    .unwrap();
    pr.same("list a fifo", "fifo", llistxattr).unwrap();

    // POSIX ACLs: raw attribute bytes, and setfacl/getfacl when installed
    if which("setfacl").is_some() && which("getfacl").is_some() {
        for root in [&pr.m, &pr.p] {
            assert_eq!(setfacl(&root.join("f"), &["-m", "u:1000:rw-,g:50:r--"]), 0);
            assert_eq!(setfacl(&root.join("d"), &["-d", "-m", "u:1000:rwx"]), 0);
        }
        pr.same_node("mode after setfacl", "f");
        for rel in ["f", "d"] {
            let a = getfacl(&pr.m.join(rel));
            let b = getfacl(&pr.p.join(rel));
            assert_eq!(a, b, "getfacl {rel}");
        }
        pr.same("raw access acl", "f", |p| {
            lgetxattr(p, "system.posix_acl_access", 1000)
        })
        .unwrap();
        pr.same("raw default acl", "d", |p| {
            lgetxattr(p, "system.posix_acl_default", 1000)
        })
        .unwrap();
        // A file created under a default ACL inherits it (the umask does not apply).
        pr.same("create under a default acl", "d/inherit", |p| {
            open(p, libc::O_CREAT | libc::O_WRONLY, 0o666).map(drop)
        })
        .unwrap();
        pr.same("mkdir under a default acl", "d/subdir", |p| mkdir(p, 0o777))
            .unwrap();
        for rel in ["d/inherit", "d/subdir"] {
            pr.same_node("inherited acl", rel);
            assert_eq!(
                getfacl(&pr.m.join(rel)),
                getfacl(&pr.p.join(rel)),
                "getfacl {rel}"
            );
        }
        for root in [&pr.m, &pr.p] {
            assert_eq!(setfacl(&root.join("f"), &["-b"]), 0);
        }
        pr.same_node("after setfacl -b", "f");
        pr.same("acl removed", "f", |p| {
            lgetxattr(p, "system.posix_acl_access", 1000)
        })
        .unwrap_err();
    } else {
        // Without the tools, copy the raw attribute from a host file made by chmod.
        eprintln!("setfacl/getfacl not installed: raw ACL bytes only");
    }
    pr.same("raw acl set", "f", |p| {
        // version 2; USER_OBJ rw, GROUP_OBJ r, OTHER r: equivalent to mode 0644.
        let mut v = 2u32.to_le_bytes().to_vec();
        for (tag, perm) in [(1u16, 6u16), (4, 4), (0x20, 4)] {
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&perm.to_le_bytes());
            v.extend_from_slice(&u32::MAX.to_le_bytes());
        }
        lsetxattr(p, "system.posix_acl_access", &v, 0)
    })
    .unwrap();
    pr.same_node("after raw acl", "f");
    m.assert_like_source("f");
    m.finish();
}

#[test]
fn xattrs_disabled_answer_eopnotsupp() {
    let Some(m) = mount_or_skip(MountOptions::default().xattr(false)) else {
        return;
    };
    let f = m.mnt().join("f");
    std::fs::write(&f, b"x").unwrap();
    assert_eq!(lsetxattr(&f, "user.a", b"v", 0), Err(libc::EOPNOTSUPP));
    assert_eq!(lgetxattr(&f, "user.a", 10), Err(libc::EOPNOTSUPP));
    assert_eq!(lremovexattr(&f, "user.a"), Err(libc::EOPNOTSUPP));
    // listxattr: ENOSYS from the daemon; the kernel answers EOPNOTSUPP (or an empty list).
    match llistxattr(&f) {
        Ok(v) => assert!(v.is_empty(), "{v:?}"),
        Err(e) => assert_eq!(e, libc::EOPNOTSUPP),
    }
    m.finish();
}

/// Forks; the child runs `fcntl(fd, cmd, lock)` and exits with 0 or the errno; for
/// F_GETLK with 100 + the lock type it saw, + 10 when `l_pid` is its parent's pid.
fn lock_in_child(fd: RawFd, cmd: i32, typ: i32, start: i64, len: i64) -> i32 {
    let mut l = lock_arg(typ, start, len);
    let _g = fork_guard();
    // SAFETY: the child only calls fcntl and _exit (async-signal-safe) before exiting.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: see above.
        unsafe {
            let r = libc::fcntl(fd, cmd, &mut l);
            let code = if r < 0 {
                *libc::__errno_location()
            } else if cmd == libc::F_GETLK {
                // The type seen, plus 10 when l_pid names the parent (the holder).
                100 + l.l_type as i32 + if l.l_pid == libc::getppid() { 10 } else { 0 }
            } else {
                0
            };
            libc::_exit(code);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status), "lock child did not exit");
    libc::WEXITSTATUS(status)
}

#[test]
fn tmpfile_and_linkat_match_host() {
    let Some(m) = mount_or_skip(MountOptions::default()) else {
        return;
    };
    let pr = m.pair();
    pr.same("mkdir", "d", |p| mkdir(p, 0o755)).unwrap();

    // O_TMPFILE + linkat through /proc/self/fd
    let t = pr
        .open("O_TMPFILE", "d", libc::O_TMPFILE | libc::O_RDWR, 0o600)
        .unwrap();
    pr.fd("write tmpfile", &t, |fd| pwrite(fd, b"anonymous data", 0))
        .unwrap();
    pr.fd("fstat tmpfile", &t, |fd| fstat(fd).map(|s| Attr::of(&s)))
        .unwrap();
    pr.same("tmpfile invisible", "d", listing).unwrap();
    let link_tmp = |fd: RawFd, to: &Path| {
        let from = cpath(Path::new(&format!("/proc/self/fd/{fd}")));
        let to = cpath(to);
        // SAFETY: valid C strings.
        cvt(unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        })
        .map(drop)
    };
    assert_eq!(
        link_tmp(t.0.as_raw_fd(), &pr.m.join("d/named")),
        link_tmp(t.1.as_raw_fd(), &pr.p.join("d/named")),
        "linkat of an O_TMPFILE"
    );
    pr.same_node("linked tmpfile", "d/named");
    m.assert_like_source("d/named");
    let e = pr
        .open(
            "O_TMPFILE|O_EXCL",
            "d",
            libc::O_TMPFILE | libc::O_RDWR | libc::O_EXCL,
            0o600,
        )
        .unwrap();
    assert_eq!(
        link_tmp(e.0.as_raw_fd(), &pr.m.join("d/never")),
        link_tmp(e.1.as_raw_fd(), &pr.p.join("d/never")),
        "linkat of an O_TMPFILE|O_EXCL"
    );
    assert_eq!(
        pr.open(
            "O_TMPFILE on a file",
            "d/named",
            libc::O_TMPFILE | libc::O_RDWR,
            0o600
        )
        .err(),
        Some(libc::ENOTDIR)
    );
    drop((t, e));
    pr.same_node("dir after tmpfiles", "d");

    m.finish();
}

/// Two descriptors (separate open files) of `rel` on each side.
fn two_opens(pr: &Pair, rel: &str) -> ((OwnedFd, OwnedFd), (OwnedFd, OwnedFd)) {
    pr.same("create lockfile", rel, |p| {
        std::fs::write(p, vec![0u8; 200]).map_err(|e| io_errno(&e))
    })
    .unwrap();
    let f1 = pr.open("open 1", rel, libc::O_RDWR, 0).unwrap();
    let f2 = pr.open("open 2", rel, libc::O_RDWR, 0).unwrap();
    (f1, f2)
}

#[test]
fn flock_and_ofd_locks_match_host() {
    let Some(m) = mount_or_skip(MountOptions::default()) else {
        return;
    };
    let pr = m.pair();
    let (f1, f2) = two_opens(&pr, "lk");

    // flock between two open files
    let both = |step: &str, op1: Option<i32>, op2: Option<i32>| {
        if let Some(op) = op1 {
            pr.fd(step, &f1, |fd| flock(fd, op)).ok();
        }
        if let Some(op) = op2 {
            pr.fd(step, &f2, |fd| flock(fd, op)).ok();
        }
    };
    both("flock ex", Some(libc::LOCK_EX), None);
    both(
        "flock ex conflict",
        None,
        Some(libc::LOCK_EX | libc::LOCK_NB),
    );
    both(
        "flock sh conflict",
        None,
        Some(libc::LOCK_SH | libc::LOCK_NB),
    );
    both("flock unlock", Some(libc::LOCK_UN), None);
    both("flock sh", None, Some(libc::LOCK_SH | libc::LOCK_NB));
    both("flock sh shared", Some(libc::LOCK_SH | libc::LOCK_NB), None);
    both("flock ex vs sh", Some(libc::LOCK_EX | libc::LOCK_NB), None);
    both("flock unlock all", Some(libc::LOCK_UN), Some(libc::LOCK_UN));
    // A forked child shares the open file, hence the flock.
    both("flock ex again", Some(libc::LOCK_EX), None);
    assert_eq!(
        flock_in_child(f2.0.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB),
        flock_in_child(f2.1.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB),
        "flock from a child: mount (left) vs host (right)"
    );
    assert_eq!(
        flock_in_child(f1.0.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB),
        flock_in_child(f1.1.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB),
        "flock from a child on the shared open file: mount (left) vs host (right)"
    );
    both("flock unlock all", Some(libc::LOCK_UN), Some(libc::LOCK_UN));

    // OFD locks between two open files
    let l = |step: &str, fds: &(OwnedFd, OwnedFd), cmd, typ, start, len| {
        pr.fd(step, fds, |fd| fcntl_lock(fd, cmd, typ, start, len))
    };
    let (ofd_set, ofd_get) = (libc::F_OFD_SETLK, libc::F_OFD_GETLK);
    l("ofd wrlck", &f1, ofd_set, libc::F_WRLCK, 0, 10).unwrap();
    assert_eq!(
        l("ofd conflict", &f2, ofd_set, libc::F_WRLCK, 5, 10),
        Err(libc::EAGAIN)
    );
    l("ofd disjoint", &f2, ofd_set, libc::F_WRLCK, 20, 10).unwrap();
    l("ofd getlk", &f2, ofd_get, libc::F_WRLCK, 0, 100).unwrap();
    l("ofd getlk free", &f2, ofd_get, libc::F_RDLCK, 40, 10).unwrap();
    l("ofd getlk own", &f1, ofd_get, libc::F_WRLCK, 0, 10).unwrap();
    l("ofd upgrade own", &f1, ofd_set, libc::F_RDLCK, 0, 10).unwrap();
    l("ofd shared read", &f2, ofd_set, libc::F_RDLCK, 5, 3).unwrap();
    l("ofd whole file", &f2, ofd_set, libc::F_WRLCK, 0, 0).unwrap_err();
    l("ofd unlock", &f1, ofd_set, libc::F_UNLCK, 0, 0).unwrap();
    l("ofd relock", &f2, ofd_set, libc::F_WRLCK, 0, 10).unwrap();
    l("ofd bad range", &f2, ofd_set, libc::F_WRLCK, -5, 10).unwrap_err();
    drop((f1, f2));
    // Closing releases: a fresh open locks the whole file.
    let f3 = pr.open("open 3", "lk", libc::O_RDWR, 0).unwrap();
    l("ofd after close", &f3, ofd_set, libc::F_WRLCK, 0, 0).unwrap();
    drop(f3);
    m.finish();
}

/// Forks; the child tries `flock(fd, op)` and exits with 0 or the errno.
fn flock_in_child(fd: RawFd, op: i32) -> i32 {
    let _g = fork_guard();
    // SAFETY: the child only calls flock and _exit (async-signal-safe).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: see above.
        unsafe {
            let r = libc::flock(fd, op);
            libc::_exit(if r < 0 { *libc::__errno_location() } else { 0 });
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status), "flock child did not exit");
    libc::WEXITSTATUS(status)
}

/// POSIX record locks belong to the process: never in conflict with the process's own
/// locks, whatever descriptor is used; released by closing any descriptor of the file;
/// F_GETLK names the holder's pid; a forked child is another owner.
#[test]
fn posix_record_locks_match_host() {
    let Some(m) = mount_or_skip(MountOptions::default()) else {
        return;
    };
    let pr = m.pair();
    let (f1, f2) = two_opens(&pr, "lk");
    let l = |step: &str, fds: &(OwnedFd, OwnedFd), cmd, typ, start, len| {
        pr.fd(step, fds, |fd| fcntl_lock(fd, cmd, typ, start, len))
    };
    let child = |step: &str, fds: &(OwnedFd, OwnedFd), cmd, typ, start, len| {
        let a = lock_in_child(fds.0.as_raw_fd(), cmd, typ, start, len);
        let b = lock_in_child(fds.1.as_raw_fd(), cmd, typ, start, len);
        assert_eq!(
            a, b,
            "step `{step}` in a child: mount (left) vs host (right)"
        );
        a
    };
    let (set, get) = (libc::F_SETLK, libc::F_GETLK);
    l("rdlck through fd 1", &f1, set, libc::F_RDLCK, 100, 10).unwrap();
    // Another process: conflicts, through either descriptor, and sees our pid.
    assert_eq!(
        child(
            "child setlk, shared open file",
            &f1,
            set,
            libc::F_WRLCK,
            100,
            5
        ),
        libc::EAGAIN
    );
    assert_eq!(
        child(
            "child setlk, other open file",
            &f2,
            set,
            libc::F_WRLCK,
            100,
            5
        ),
        libc::EAGAIN
    );
    assert_eq!(
        child("child getlk", &f2, get, libc::F_WRLCK, 100, 5),
        110 + libc::F_RDLCK
    );
    assert_eq!(
        child("child shared read lock", &f2, set, libc::F_RDLCK, 100, 5),
        0
    );
    // Our own locks never conflict with us, through any descriptor.
    assert_eq!(
        l(
            "getlk own lock through fd 2",
            &f2,
            get,
            libc::F_WRLCK,
            100,
            5
        ),
        Ok((libc::F_UNLCK as i16, 100, 5, 0))
    );
    l(
        "upgrade own lock through fd 2",
        &f2,
        set,
        libc::F_WRLCK,
        100,
        5,
    )
    .unwrap();
    assert_eq!(
        child("child sees the upgrade", &f1, get, libc::F_WRLCK, 100, 5),
        110 + libc::F_WRLCK
    );
    // Closing any descriptor of the file drops all our locks on it.
    drop(f2);
    assert_eq!(
        child("child after close", &f1, set, libc::F_WRLCK, 100, 5),
        0
    );
    // OFD locks and process locks conflict both ways.
    let f3 = pr.open("open 3", "lk", libc::O_RDWR, 0).unwrap();
    l("ofd lock", &f3, libc::F_OFD_SETLK, libc::F_WRLCK, 0, 10).unwrap();
    l("getlk vs ofd", &f1, get, libc::F_WRLCK, 0, 5).unwrap();
    l("setlk vs ofd", &f1, set, libc::F_WRLCK, 0, 5).unwrap_err();
    drop((f1, f3));
    m.finish();
}

/// Runs `args` as uid/gid 1000 (no supplementary groups); returns the exit code.
fn as_user(args: &[&str], path: &Path) -> i32 {
    status_of(
        Command::new("setpriv")
            .args(["--reuid=1000", "--regid=1000", "--clear-groups", "--"])
            .args(args)
            .arg(path)
            .stderr(std::process::Stdio::null()),
    )
    .expect("setpriv runs")
    .code()
    .unwrap_or(-1)
}

#[test]
fn non_root_callers_own_what_they_create() {
    if which("setpriv").is_none() {
        cannot_run("setpriv (util-linux) is not installed");
        return;
    }
    let Some(m) = mount_or_skip(
        MountOptions::default()
            .allow_other(true)
            .default_permissions(true),
    ) else {
        return;
    };
    let pr = m.pair();
    pr.same("mkdir pub", "pub", |p| mkdir(p, 0o755)).unwrap();
    pr.same("chmod pub", "pub", |p| chmod(p, 0o1777)).unwrap();
    pr.same("mkdir sgid", "sgid", |p| mkdir(p, 0o755)).unwrap();
    pr.same("chown sgid", "sgid", |p| chown(p, 0, 50)).unwrap();
    pr.same("chmod sgid", "sgid", |p| chmod(p, 0o2777)).unwrap();
    pr.same("mkdir rootonly", "rootonly", |p| mkdir(p, 0o755))
        .unwrap();
    pr.same("root file", "pub/rootfile", |p| {
        std::fs::write(p, b"root").map_err(|e| io_errno(&e))
    })
    .unwrap();
    pr.same("secret file", "private", |p| {
        std::fs::write(p, b"private").map_err(|e| io_errno(&e))
    })
    .unwrap();
    pr.same("chmod private", "private", |p| chmod(p, 0o600))
        .unwrap();

    let user = |step: &str, args: &[&str], rel: &str| {
        let a = as_user(args, &pr.m.join(rel));
        let b = as_user(args, &pr.p.join(rel));
        assert_eq!(
            a, b,
            "step `{step}` as uid 1000: exit code on the mount (left) vs host"
        );
        a
    };
    assert_eq!(user("touch", &["touch"], "pub/u"), 0);
    assert_eq!(user("mkdir", &["mkdir"], "pub/ud"), 0);
    assert_eq!(user("mkfifo", &["mkfifo"], "pub/up"), 0);
    assert_eq!(user("symlink", &["ln", "-s", "u"], "pub/ul"), 0);
    assert_eq!(user("touch in sgid dir", &["touch"], "sgid/g"), 0);
    assert_eq!(user("mkdir in sgid dir", &["mkdir"], "sgid/gd"), 0);
    assert_ne!(user("touch in a root dir", &["touch"], "rootonly/x"), 0);
    assert_ne!(user("read a 0600 root file", &["cat"], "private"), 0);
    assert_ne!(
        user("write a root file", &["truncate", "-s0"], "pub/rootfile"),
        0
    );
    assert_ne!(
        user(
            "remove a root file in a sticky dir",
            &["rm", "-f"],
            "pub/rootfile"
        ),
        0
    );
    assert_eq!(user("remove own file", &["rm", "-f"], "pub/u"), 0);
    assert_eq!(user("touch again", &["touch"], "pub/u"), 0);
    for rel in [
        "pub/u",
        "pub/ud",
        "pub/up",
        "pub/ul",
        "sgid/g",
        "sgid/gd",
        "pub/rootfile",
    ] {
        pr.same_node("owner", rel);
        m.assert_like_source(rel);
        let st = lstat(&m.mnt().join(rel)).unwrap();
        let want_gid = if rel.starts_with("sgid") { 50 } else { 1000 };
        if rel != "pub/rootfile" {
            assert_eq!((st.st_uid, st.st_gid), (1000, want_gid), "owner of {rel}");
        }
    }
    pr.same_node("listing", "pub");
    pr.same_node("listing", "rootonly");
    m.finish();
}

/// Every regular file reachable through `root` without following symlinks, with inode.
fn all_files(root: &Path, out: &mut Vec<(PathBuf, u64)>) {
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        let st = lstat(&p).unwrap();
        match type_char(st.st_mode) {
            'd' => all_files(&p, out),
            'f' => out.push((p, st.st_ino)),
            _ => {}
        }
    }
}

#[test]
fn dotdot_and_symlinks_never_leave_the_share() {
    let Some(m) = mount_or_skip(MountOptions::default()) else {
        return;
    };
    let mnt = m.mnt().to_path_buf();
    let src = m.src().to_path_buf();
    let secret = m.secret().to_path_buf();
    let secret_st = lstat(&secret).unwrap();
    std::fs::create_dir_all(src.join("d/e")).unwrap();
    std::fs::write(src.join("d/e/inner"), b"inner").unwrap();
    symlink("../secret", &src.join("rel_link")).unwrap();
    symlink("../../secret", &src.join("d/deep_link")).unwrap();
    symlink("..", &src.join("dir_link")).unwrap();
    symlink(secret.to_str().unwrap(), &src.join("abs_link")).unwrap();

    // `..` of the mount root is the mount point's parent, which the kernel resolves.
    let up = stat(&mnt.join("..")).unwrap();
    let mnt_parent = stat(&m.base().join("mnt")).unwrap();
    let share = stat(&m.base().join("share")).unwrap();
    assert_eq!(
        (up.st_dev, up.st_ino),
        (mnt_parent.st_dev, mnt_parent.st_ino)
    );
    assert_ne!(up.st_ino, share.st_ino);
    for rel in [
        "../secret",
        "d/../../secret",
        "d/e/../../../secret",
        "./../secret",
    ] {
        assert_eq!(
            open(&mnt.join(rel), libc::O_RDONLY, 0).err(),
            Some(libc::ENOENT),
            "{rel} reached something"
        );
    }
    // The same walk with openat from a descriptor of the mount root.
    let root = open(&mnt, libc::O_RDONLY | libc::O_DIRECTORY, 0).unwrap();
    let rel = cpath(Path::new("../secret"));
    // SAFETY: valid C string; the result is closed right away.
    let fd = unsafe { libc::openat(root.as_raw_fd(), rel.as_ptr(), libc::O_RDONLY) };
    if fd >= 0 {
        // SAFETY: our descriptor.
        unsafe { libc::close(fd) };
    }
    assert_eq!(
        (fd, errno()),
        (-1, libc::ENOENT),
        "openat(mnt root, ../secret)"
    );

    // Symlinks are returned verbatim and never followed by the daemon.
    assert_eq!(readlink(&mnt.join("rel_link")), Ok(b"../secret".to_vec()));
    assert_eq!(
        readlink(&mnt.join("d/deep_link")),
        Ok(b"../../secret".to_vec())
    );
    assert_eq!(
        readlink(&mnt.join("abs_link")),
        Ok(secret.to_str().unwrap().as_bytes().to_vec())
    );
    for l in ["rel_link", "d/deep_link", "abs_link", "dir_link"] {
        assert_eq!(type_char(lstat(&mnt.join(l)).unwrap().st_mode), 'l', "{l}");
        assert_eq!(
            open(&mnt.join(l), libc::O_RDONLY | libc::O_NOFOLLOW, 0).err(),
            Some(libc::ELOOP),
            "{l} with O_NOFOLLOW"
        );
    }
    // Relative targets resolve (in the client) under the mount point's parent, where
    // there is no secret.
    for l in ["rel_link", "d/deep_link", "dir_link/secret"] {
        let r = read_file_following(&mnt.join(l));
        assert_eq!(r, Err(libc::ENOENT), "{l} gave something else than ENOENT");
    }
    // An absolute target is resolved by the client kernel, on the host: that is fine.
    assert_eq!(
        read_file_following(&mnt.join("abs_link")),
        Ok(SECRET.to_vec())
    );
    // Changing the link itself leaves the secret alone.
    lchown(&mnt.join("rel_link"), 1000, 1000).unwrap();
    assert_eq!(lstat(&src.join("rel_link")).unwrap().st_uid, 1000);
    assert_eq!(truncate(&mnt.join("rel_link"), 0), Err(libc::ENOENT));
    assert_eq!(chmod(&mnt.join("d/deep_link"), 0o777), Err(libc::ENOENT));
    let after = lstat(&secret).unwrap();
    assert_eq!(
        (after.st_uid, after.st_mode, after.st_size, mtime(&after)),
        (
            secret_st.st_uid,
            secret_st.st_mode,
            secret_st.st_size,
            mtime(&secret_st)
        ),
        "the secret changed"
    );
    assert_eq!(std::fs::read(&secret).unwrap(), SECRET);

    // No file reachable through the mount is the secret.
    let mut files = Vec::new();
    all_files(&mnt, &mut files);
    assert!(!files.is_empty());
    for (p, ino) in files {
        assert_ne!(ino, secret_st.st_ino, "{} is the secret", p.display());
        assert_ne!(
            std::fs::read(&p).unwrap(),
            SECRET,
            "{} holds the secret",
            p.display()
        );
    }
    drop(root);
    m.finish();
}

fn read_file_following(p: &Path) -> Res<Vec<u8>> {
    let fd = open(p, libc::O_RDONLY, 0)?;
    read_all(fd.as_raw_fd())
}

/// Descriptors of this process that refer to `path` and are not O_PATH.
fn real_opens_of(path: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc/self/fd").unwrap() {
        let e = e.unwrap();
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue;
        };
        if target != path {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/self/fdinfo/{}",
            e.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .and_then(|v| i64::from_str_radix(v.trim(), 8).ok())
            .unwrap_or(0);
        if flags & libc::O_PATH as i64 == 0 {
            out.push(format!("fd {:?} flags {flags:o}", e.file_name()));
        }
    }
    out
}

#[test]
fn fifos_and_device_nodes_are_not_opened_by_the_daemon() {
    let Some(m) = mount_or_skip(MountOptions::default()) else {
        return;
    };
    let pr = m.pair();

    // FIFOs: the client kernel handles them; the daemon never opens one.
    pr.same("mkfifo", "fifo", |p| mknod(p, libc::S_IFIFO | 0o644, 0))
        .unwrap();
    let r = pr
        .open(
            "fifo O_RDONLY|O_NONBLOCK",
            "fifo",
            libc::O_RDONLY | libc::O_NONBLOCK,
            0,
        )
        .unwrap();
    pr.fd("fifo read empty", &r, |fd| pread(fd, 10, 0))
        .unwrap_err();
    let w = pr
        .open("fifo writer", "fifo", libc::O_WRONLY | libc::O_NONBLOCK, 0)
        .unwrap();
    pr.fd("fifo write", &w, |fd| write(fd, b"through the pipe"))
        .unwrap();
    let rd = |fd: RawFd| {
        let mut buf = [0u8; 64];
        // SAFETY: buf is valid for its length.
        cvt(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
            .map(|n| buf[..n as usize].to_vec())
    };
    pr.fd("fifo read", &r, rd).unwrap();
    drop((r, w));
    assert_eq!(
        pr.open(
            "fifo writer without reader",
            "fifo",
            libc::O_WRONLY | libc::O_NONBLOCK,
            0
        )
        .err(),
        Some(libc::ENXIO)
    );

    // Device nodes: made through the mount and behind its back.
    let null_dev = libc::makedev(1, 3);
    pr.same("mknod char", "null", |p| {
        mknod(p, libc::S_IFCHR | 0o666, null_dev)
    })
    .unwrap();
    pr.same_node("char device", "null");
    m.assert_like_source("null");
    mknod(
        &m.src().join("zero"),
        libc::S_IFCHR | 0o666,
        libc::makedev(1, 5),
    )
    .unwrap();
    mknod(
        &m.src().join("loop"),
        libc::S_IFBLK | 0o666,
        libc::makedev(7, 0),
    )
    .unwrap();
    for (dev, flags) in [
        ("null", libc::O_RDWR),
        ("null", libc::O_RDONLY | libc::O_NONBLOCK),
        ("zero", libc::O_RDONLY),
        ("loop", libc::O_RDONLY | libc::O_NONBLOCK),
    ] {
        let e = open(&m.mnt().join(dev), flags, 0).map(drop);
        assert!(
            matches!(e, Err(libc::EACCES) | Err(libc::ENXIO) | Err(libc::EPERM)),
            "open {dev} through the nodev mount gave {e:?}"
        );
        let f = open(&m.mnt().join(dev), libc::O_PATH, 0).unwrap();
        let st = fstat(f.as_raw_fd()).unwrap();
        assert_eq!(st.st_rdev, lstat(&m.src().join(dev)).unwrap().st_rdev);
        let host = m.src().join(dev);
        let opened = real_opens_of(&host);
        assert!(
            opened.is_empty(),
            "the daemon opened {}: {opened:?}",
            host.display()
        );
    }
    pr.same("truncate a device", "null", |p| truncate(p, 0))
        .ok();
    pr.same("chmod a device", "null", |p| chmod(p, 0o600))
        .unwrap();
    pr.same_node("device after chmod", "null");
    std::fs::remove_file(m.src().join("zero")).unwrap();
    std::fs::remove_file(m.src().join("loop")).unwrap();
    // The daemon still answers.
    pr.same("create after devices", "after", |p| {
        open(p, libc::O_CREAT | libc::O_RDWR, 0o644).map(drop)
    })
    .unwrap();
    pr.same_node("root listing", ".");
    m.finish();
}

/// A host inode number freed by an unlink and reused by a new file must give a new inode
/// (the host filesystem hands the number out again at once; the kernel may still hold the
/// old inode, here through an `O_PATH` descriptor, so its node ID is not forgotten yet).
/// With file handles nothing pins the old host inode, so this is where a driver that keys
/// its inodes by (device, inode number) alone would hand the new file the old inode and its
/// stale handle.
#[test]
fn reused_host_inode_numbers_are_new_inodes() {
    let Some(m) = mount_or_skip(MountOptions::default().file_handles(true)) else {
        return;
    };
    let mnt = m.mnt().to_path_buf();
    std::fs::create_dir(mnt.join("d")).unwrap();
    // Push what the driver caches out of its descriptor cache.
    let thrash = |round: usize| {
        for i in 0..(m.config().inode_fd_cache_size + 64) {
            std::fs::write(mnt.join(format!("d/fill{round}-{i}")), b"x").unwrap();
        }
    };
    // The host usually hands the number out again at once; other tests running at the
    // same time may take it first, hence a few rounds.
    let mut found = None;
    for round in 0..10 {
        let victim = mnt.join(format!("d/victim{round}"));
        std::fs::write(&victim, b"old").unwrap();
        let ino = lstat(&m.src().join(format!("d/victim{round}")))
            .unwrap()
            .st_ino;
        // The kernel keeps the victim's inode (and node ID) while this is open.
        let keep = open(&victim, libc::O_PATH, 0).unwrap();
        thrash(round);
        std::fs::remove_file(&victim).unwrap();
        for k in 0..50 {
            let p = mnt.join(format!("d/new{round}-{k}"));
            std::fs::write(&p, b"new").unwrap();
            if lstat(&m.src().join(format!("d/new{round}-{k}")))
                .unwrap()
                .st_ino
                == ino
            {
                found = Some((p, ino, keep));
                break;
            }
        }
        if found.is_some() {
            break;
        }
    }
    let Some((p, old_ino, keep)) = found else {
        eprintln!("the host filesystem reused no inode number: nothing to check");
        m.finish();
        return;
    };
    eprintln!("{} reuses host inode {old_ino}", p.display());
    assert_eq!(
        read_file(&p),
        Ok(b"new".to_vec()),
        "content of {}",
        p.display()
    );
    assert_eq!(truncate(&p, 4096), Ok(()), "truncate {}", p.display());
    let f = open(&p, libc::O_RDWR, 0).expect("open the new file");
    assert_eq!(
        ftruncate(f.as_raw_fd(), 8192),
        Ok(()),
        "ftruncate {}",
        p.display()
    );
    drop(f);
    let st = lstat(&p).unwrap();
    assert_eq!((st.st_ino, st.st_size, st.st_nlink), (old_ino, 8192, 1));
    // The old inode is still the unlinked victim.
    let old = fstat(keep.as_raw_fd()).unwrap();
    assert_eq!(
        old.st_nlink, 0,
        "the victim seen through the kept descriptor"
    );
    drop(keep);
    m.finish();
}
