//! Open files, data, attributes, locks and INIT.

use std::os::unix::fs::MetadataExt;

use super::*;
use crate::abi::fuse_abi::{FsOptions, LkFlags, OpenOptions, SetattrValid};
use crate::api::filesystem::Context;
use crate::api::filesystem::FileLock;
use crate::passthrough::CachePolicy;

fn release(fs: &Fs, inode: u64, h: u64) {
    fs.release(&ctx(), inode, 0, h, false, false, None).unwrap();
}

#[test]
fn create_write_read_roundtrip() {
    let (dir, fs) = setup();
    let (e, h) = create_file(&fs, root(), "f", 0o644);
    assert_eq!(e.attr.st_mode & libc::S_IFMT, libc::S_IFREG);
    assert_eq!(write_all(&fs, e.inode, h, b"hello world", 0), 11);
    assert_eq!(read_all(&fs, e.inode, h, 5, 6), b"world");
    // A read larger than the file stops at the end.
    assert_eq!(read_all(&fs, e.inode, h, 100, 0), b"hello world");
    // A reply buffer smaller than the request is filled, not overrun.
    let mut w = VecWriter::new(3);
    let n = fs
        .read(&ctx(), e.inode, h, &mut w, 100, 0, None, 0)
        .unwrap();
    assert_eq!((n, &w.data[..]), (3, &b"hel"[..]));
    let (st, _) = fs.getattr(&ctx(), e.inode, Some(h)).unwrap();
    assert_eq!(st.st_size, 11);
    fs.flush(&ctx(), e.inode, h, 0).unwrap();
    fs.fsync(&ctx(), e.inode, true, h).unwrap();
    fs.fsync(&ctx(), e.inode, false, h).unwrap();
    release(&fs, e.inode, h);
    assert_eq!(errno(fs.flush(&ctx(), e.inode, h, 0)), libc::EBADF);
    assert_eq!(
        std::fs::read(dir.as_path().join("f")).unwrap(),
        b"hello world"
    );

    let (h2, opts, _) = fs.open(&ctx(), e.inode, libc::O_RDONLY as u32, 0).unwrap();
    let h2 = h2.unwrap();
    assert_eq!(opts, OpenOptions::empty());
    assert_eq!(read_all(&fs, e.inode, h2, 64, 0), b"hello world");
    // A handle only works with the inode it was opened on.
    let mut w = VecWriter::new(8);
    assert_eq!(
        errno(fs.read(&ctx(), root(), h2, &mut w, 8, 0, None, 0)),
        libc::EBADF
    );
    release(&fs, e.inode, h2);

    // O_TRUNC on open; O_EXCL create of an existing name fails.
    let (h3, _, _) = fs
        .open(&ctx(), e.inode, (libc::O_RDWR | libc::O_TRUNC) as u32, 0)
        .unwrap();
    assert_eq!(fs.getattr(&ctx(), e.inode, None).unwrap().0.st_size, 0);
    release(&fs, e.inode, h3.unwrap());
    let args = CreateIn {
        flags: (libc::O_RDWR | libc::O_EXCL) as u32,
        mode: 0o644,
        umask: 0,
        fuse_flags: 0,
    };
    assert_eq!(
        errno(fs.create(&ctx(), root(), &cs("f"), args)),
        libc::EEXIST
    );
    // Without O_EXCL the existing file is opened and its lookup count goes up.
    let before = refcount(&fs, e.inode);
    let args = CreateIn {
        flags: libc::O_RDWR as u32,
        ..args
    };
    let (e2, h4, _, _) = fs.create(&ctx(), root(), &cs("f"), args).unwrap();
    assert_eq!(e2.inode, e.inode);
    assert_eq!(refcount(&fs, e.inode), before + 1);
    release(&fs, e.inode, h4.unwrap());
}

#[test]
fn setattr_paths() {
    if crate::sys::geteuid() != 0 {
        crate::cannot_run("SETATTR of uid and gid needs root");
        return;
    }
    let (dir, fs) = setup();
    let (e, h) = create_file(&fs, root(), "f", 0o644);
    write_all(&fs, e.inode, h, b"0123456789", 0);
    let mut attr = crate::sys::zeroed_stat64();

    attr.st_mode = 0o600;
    let (st, _) = fs
        .setattr(&ctx(), e.inode, attr, None, SetattrValid::MODE)
        .unwrap();
    assert_eq!(st.st_mode & 0o7777, 0o600);
    attr.st_mode = 0o640;
    let (st, _) = fs
        .setattr(
            &ctx(),
            e.inode,
            attr,
            Some(h),
            SetattrValid::MODE | SetattrValid::FH,
        )
        .unwrap();
    assert_eq!(st.st_mode & 0o7777, 0o640);

    attr.st_uid = 1000;
    attr.st_gid = 1001;
    let (st, _) = fs
        .setattr(
            &ctx(),
            e.inode,
            attr,
            None,
            SetattrValid::UID | SetattrValid::GID,
        )
        .unwrap();
    assert_eq!((st.st_uid, st.st_gid), (1000, 1001));
    attr.st_gid = 5;
    let (st, _) = fs
        .setattr(&ctx(), e.inode, attr, None, SetattrValid::GID)
        .unwrap();
    assert_eq!((st.st_uid, st.st_gid), (1000, 5));

    attr.st_size = 3;
    let (st, _) = fs
        .setattr(&ctx(), e.inode, attr, None, SetattrValid::SIZE)
        .unwrap();
    assert_eq!(st.st_size, 3);
    attr.st_size = 4096;
    let (st, _) = fs
        .setattr(
            &ctx(),
            e.inode,
            attr,
            Some(h),
            SetattrValid::SIZE | SetattrValid::FH,
        )
        .unwrap();
    assert_eq!(st.st_size, 4096);

    attr.st_atime = 1_000_000;
    attr.st_atime_nsec = 5;
    attr.st_mtime = 2_000_000;
    attr.st_mtime_nsec = 7;
    let (st, _) = fs
        .setattr(
            &ctx(),
            e.inode,
            attr,
            None,
            SetattrValid::ATIME | SetattrValid::MTIME,
        )
        .unwrap();
    assert_eq!((st.st_atime, st.st_atime_nsec), (1_000_000, 5));
    assert_eq!((st.st_mtime, st.st_mtime_nsec), (2_000_000, 7));
    let (st, _) = fs
        .setattr(
            &ctx(),
            e.inode,
            attr,
            Some(h),
            SetattrValid::MTIME | SetattrValid::MTIME_NOW | SetattrValid::FH,
        )
        .unwrap();
    assert!(st.st_mtime > 2_000_000);
    assert_eq!(st.st_atime, 1_000_000, "atime must be left alone");

    // Symlinks: ownership changes the link itself, not its target.
    std::os::unix::fs::symlink("f", dir.as_path().join("s")).unwrap();
    let s = lookup(&fs, root(), "s").unwrap();
    attr.st_uid = 77;
    let (st, _) = fs
        .setattr(&ctx(), s.inode, attr, None, SetattrValid::UID)
        .unwrap();
    assert_eq!(st.st_uid, 77);
    assert_eq!(
        std::fs::metadata(dir.as_path().join("f")).unwrap().uid(),
        1000
    );
    // Truncating a directory is refused.
    attr.st_size = 0;
    assert_eq!(
        errno(fs.setattr(&ctx(), root(), attr, None, SetattrValid::SIZE)),
        libc::EISDIR
    );
}

#[test]
fn killpriv_clears_setid_bits() {
    let (_dir, fs) = setup_with(|c| c.killpriv_v2 = true);
    fs.init(FsOptions::all()).unwrap();
    let (e, h) = create_file(&fs, root(), "f", 0o755);
    let mut attr = crate::sys::zeroed_stat64();
    attr.st_mode = 0o6755;
    fs.setattr(&ctx(), e.inode, attr, None, SetattrValid::MODE)
        .unwrap();
    let mut r = VecReader::new(b"x");
    let kill = crate::abi::fuse_abi::WriteFlags::KILL_SUIDGID.bits();
    fs.write(&ctx(), e.inode, h, &mut r, 1, 0, None, false, 0, kill)
        .unwrap();
    let (st, _) = fs.getattr(&ctx(), e.inode, None).unwrap();
    assert_eq!(st.st_mode & 0o7777, 0o755);
}

#[test]
fn tmpfile_is_unnamed() {
    let (dir, fs) = setup();
    let args = CreateIn {
        flags: libc::O_RDWR as u32,
        mode: libc::S_IFREG | 0o600,
        umask: 0,
        fuse_flags: 0,
    };
    let (e, h, _) = fs.tmpfile(&ctx(), root(), args).unwrap();
    let h = h.unwrap();
    assert_eq!(e.attr.st_nlink, 0);
    write_all(&fs, e.inode, h, b"tmp", 0);
    assert_eq!(read_all(&fs, e.inode, h, 10, 0), b"tmp");
    assert_eq!(std::fs::read_dir(dir.as_path()).unwrap().count(), 0);
    // It can be given a name with LINK.
    let l = fs.link(&ctx(), e.inode, root(), &cs("named")).unwrap();
    assert_eq!(l.inode, e.inode);
    assert_eq!(std::fs::read(dir.as_path().join("named")).unwrap(), b"tmp");
}

#[test]
fn seal_size_refuses_size_changes() {
    let (dir, fs) = setup_with(|c| c.seal_size = true);
    std::fs::write(dir.as_path().join("f"), b"0123456789").unwrap();
    let e = lookup(&fs, root(), "f").unwrap();
    let (h, _, _) = fs.open(&ctx(), e.inode, libc::O_RDWR as u32, 0).unwrap();
    let h = h.unwrap();
    assert_eq!(write_all(&fs, e.inode, h, b"ab", 8), 2);
    let mut r = VecReader::new(b"abc");
    let res = fs.write(&ctx(), e.inode, h, &mut r, 3, 8, None, false, 0, 0);
    assert_eq!(errno(res), libc::EPERM);
    let mut attr = crate::sys::zeroed_stat64();
    attr.st_size = 2;
    assert_eq!(
        errno(fs.setattr(&ctx(), e.inode, attr, None, SetattrValid::SIZE)),
        libc::EPERM
    );
    assert_eq!(
        errno(fs.fallocate(&ctx(), e.inode, h, 0, 0, 100)),
        libc::EPERM
    );
    assert_eq!(
        errno(fs.open(&ctx(), e.inode, (libc::O_RDWR | libc::O_TRUNC) as u32, 0)),
        libc::EPERM
    );
    assert_eq!(
        std::fs::read(dir.as_path().join("f")).unwrap(),
        b"01234567ab"
    );
}

#[test]
fn statfs_statx_access() {
    let (dir, fs) = setup();
    let (e, h) = create_file(&fs, root(), "f", 0o600);
    let sv = fs.statfs(&ctx(), root()).unwrap();
    assert!(sv.f_bsize > 0);
    let (stx, _) = fs
        .statx(&ctx(), e.inode, None, 0, libc::STATX_BASIC_STATS)
        .unwrap();
    assert_eq!(stx.stx_ino, e.attr.st_ino);
    let (stx, _) = fs
        .statx(&ctx(), e.inode, Some(h), 0, libc::STATX_SIZE)
        .unwrap();
    assert_eq!(stx.stx_size, 0);

    fs.access(&ctx(), e.inode, libc::R_OK as u32 | libc::W_OK as u32)
        .unwrap();
    // Root needs an execute bit for X_OK on a file.
    assert_eq!(
        errno(fs.access(&ctx(), e.inode, libc::X_OK as u32)),
        libc::EACCES
    );
    if crate::sys::geteuid() == 0 {
        let other = Context {
            uid: 1000,
            gid: 1000,
            pid: 1,
            supp_gid: None,
        };
        assert_eq!(
            errno(fs.access(&other, e.inode, libc::R_OK as u32)),
            libc::EACCES
        );
        std::os::unix::fs::chown(dir.as_path().join("f"), Some(1000), None).unwrap();
        fs.access(&other, e.inode, libc::R_OK as u32).unwrap();
        assert_eq!(crate::sys::setfsuid(u32::MAX), 0);
    } else {
        crate::cannot_run("ACCESS as another user needs root");
    }
    fs.syncfs(&ctx(), e.inode).unwrap();
    fs.syncfs(&ctx(), root()).unwrap();
}

#[test]
fn lseek_fallocate_copy_file_range() {
    let (_dir, fs) = setup();
    let (a, ha) = create_file(&fs, root(), "a", 0o644);
    fs.fallocate(&ctx(), a.inode, ha, 0, 0, 8192).unwrap();
    assert_eq!(fs.getattr(&ctx(), a.inode, None).unwrap().0.st_size, 8192);
    write_all(&fs, a.inode, ha, b"data", 1 << 20);
    let data = fs
        .lseek(&ctx(), a.inode, ha, 8192, libc::SEEK_DATA as u32)
        .unwrap();
    assert!(data <= 1 << 20);
    let hole = fs
        .lseek(&ctx(), a.inode, ha, 0, libc::SEEK_HOLE as u32)
        .unwrap();
    assert!(hole <= (1 << 20) + 4);
    assert_eq!(errno(fs.lseek(&ctx(), a.inode, ha, 0, 77)), libc::EINVAL);
    let (b, hb) = create_file(&fs, root(), "b", 0o644);
    let n = fs
        .copy_file_range(&ctx(), a.inode, ha, 1 << 20, b.inode, hb, 10, 4, 0)
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(read_all(&fs, b.inode, hb, 100, 10), b"data");
}

#[test]
fn posix_and_flock_locks() {
    let (_dir, fs) = setup();
    let (e, h1) = create_file(&fs, root(), "f", 0o644);
    let (h2, _, _) = fs.open(&ctx(), e.inode, libc::O_RDWR as u32, 0).unwrap();
    let h2 = h2.unwrap();
    let wr = FileLock {
        start: 0,
        end: 99,
        lock_type: libc::F_WRLCK as u32,
        pid: 10,
    };
    fs.setlk(&ctx(), e.inode, h1, 1, wr, 0).unwrap();
    let got = fs.getlk(&ctx(), e.inode, h2, 2, wr, 0).unwrap();
    assert_eq!(got.lock_type, libc::F_WRLCK as u32);
    assert_eq!((got.start, got.end), (0, 99));
    assert_eq!(errno(fs.setlk(&ctx(), e.inode, h2, 2, wr, 0)), libc::EAGAIN);
    let free = FileLock {
        start: 100,
        end: 200,
        ..wr
    };
    fs.setlk(&ctx(), e.inode, h2, 2, free, 0).unwrap();
    let un = FileLock {
        lock_type: libc::F_UNLCK as u32,
        ..wr
    };
    fs.setlk(&ctx(), e.inode, h1, 1, un, 0).unwrap();
    let got = fs.getlk(&ctx(), e.inode, h1, 1, wr, 0).unwrap();
    // h2 still holds 100..=200, which conflicts with nothing in 0..=99.
    assert_eq!(got.lock_type, libc::F_UNLCK as u32);
    // Closing a duplicate (FLUSH) does not drop OFD locks.
    fs.flush(&ctx(), e.inode, h2, 0).unwrap();
    let got = fs.getlk(&ctx(), e.inode, h1, 1, free, 0).unwrap();
    assert_eq!(got.lock_type, libc::F_WRLCK as u32);

    let flock = LkFlags::FLOCK.bits();
    fs.setlk(&ctx(), e.inode, h1, 1, wr, flock).unwrap();
    assert_eq!(
        errno(fs.setlk(&ctx(), e.inode, h2, 2, wr, flock)),
        libc::EWOULDBLOCK
    );
    fs.release(&ctx(), e.inode, 0, h1, false, true, None)
        .unwrap();
    fs.setlkw(&ctx(), e.inode, h2, 2, wr, flock).unwrap();
}

#[test]
fn init_negotiates_only_what_is_configured() {
    let (_d, fs) = setup();
    let got = fs.init(FsOptions::all()).unwrap();
    for f in [
        FsOptions::DO_READDIRPLUS,
        FsOptions::READDIRPLUS_AUTO,
        FsOptions::FLOCK_LOCKS,
        FsOptions::PARALLEL_DIROPS,
        FsOptions::CREATE_SUPP_GROUP,
    ] {
        assert!(got.contains(f), "{f:?}");
    }
    for f in [
        FsOptions::WRITEBACK_CACHE,
        FsOptions::ZERO_MESSAGE_OPEN,
        FsOptions::ZERO_MESSAGE_OPENDIR,
        FsOptions::POSIX_ACL,
        FsOptions::HANDLE_KILLPRIV_V2,
        FsOptions::EXPORT_SUPPORT,
        // POSIX record locks stay in the client kernel (see wanted_options).
        FsOptions::POSIX_LOCKS,
    ] {
        assert!(!got.contains(f), "{f:?}");
    }
    assert!(fs.init(FsOptions::empty()).unwrap().is_empty());

    // no_open only with CachePolicy::Always.
    let (_d, fs) = setup_with(|c| c.no_open = true);
    assert!(!fs
        .init(FsOptions::all())
        .unwrap()
        .contains(FsOptions::ZERO_MESSAGE_OPEN));
    let (dir, fs) = setup_with(|c| {
        c.no_open = true;
        c.no_opendir = true;
        c.xattr = true;
        c.cache_policy = CachePolicy::Always;
    });
    let got = fs.init(FsOptions::all()).unwrap();
    assert!(got.contains(FsOptions::ZERO_MESSAGE_OPEN | FsOptions::ZERO_MESSAGE_OPENDIR));
    assert!(got.contains(FsOptions::POSIX_ACL));
    // With no_open the kernel sends handle 0: I/O opens the inode itself.
    std::fs::write(dir.as_path().join("f"), b"abc").unwrap();
    let e = lookup(&fs, root(), "f").unwrap();
    assert_eq!(read_all(&fs, e.inode, 0, 10, 0), b"abc");
    assert_eq!(write_all(&fs, e.inode, 0, b"Z", 0), 1);
    fs.flush(&ctx(), e.inode, 0, 0).unwrap();
    fs.release(&ctx(), e.inode, 0, 0, false, false, None)
        .unwrap();
    let mut names = Vec::new();
    fs.readdir(&ctx(), root(), 0, 4096, 0, &mut |d| {
        names.push(d.name.to_vec());
        Ok(1)
    })
    .unwrap();
    assert!(names.contains(&b"f".to_vec()));
    assert_eq!(std::fs::read(dir.as_path().join("f")).unwrap(), b"Zbc");
}

#[test]
fn open_options_follow_cache_policy() {
    for (policy, file, dir) in [
        (
            CachePolicy::Never,
            OpenOptions::DIRECT_IO | OpenOptions::PARALLEL_DIRECT_WRITES,
            OpenOptions::empty(),
        ),
        (
            CachePolicy::Metadata,
            OpenOptions::DIRECT_IO | OpenOptions::PARALLEL_DIRECT_WRITES,
            OpenOptions::CACHE_DIR | OpenOptions::KEEP_CACHE,
        ),
        (
            CachePolicy::Auto,
            OpenOptions::empty(),
            OpenOptions::empty(),
        ),
        (
            CachePolicy::Always,
            OpenOptions::KEEP_CACHE,
            OpenOptions::KEEP_CACHE | OpenOptions::CACHE_DIR,
        ),
    ] {
        let (_d, fs) = setup_with(|c| c.cache_policy = policy);
        let (e, _) = create_file(&fs, root(), "f", 0o644);
        let (_, o, _) = fs.open(&ctx(), e.inode, 0, 0).unwrap();
        assert_eq!(o, file, "{policy:?}");
        let (_, o) = fs.opendir(&ctx(), root(), 0).unwrap();
        assert_eq!(o, dir, "{policy:?}");
    }
}

#[test]
fn writeback_opens_write_only_files_readable() {
    let (dir, fs) = setup_with(|c| c.writeback = true);
    assert!(fs
        .init(FsOptions::all())
        .unwrap()
        .contains(FsOptions::WRITEBACK_CACHE));
    std::fs::write(dir.as_path().join("f"), b"abc").unwrap();
    let e = lookup(&fs, root(), "f").unwrap();
    let flags = (libc::O_WRONLY | libc::O_APPEND) as u32;
    let (h, _, _) = fs.open(&ctx(), e.inode, flags, 0).unwrap();
    let h = h.unwrap();
    assert_eq!(read_all(&fs, e.inode, h, 10, 0), b"abc");
    // Without O_APPEND on the host, the kernel's offset is honoured.
    write_all(&fs, e.inode, h, b"X", 1);
    assert_eq!(std::fs::read(dir.as_path().join("f")).unwrap(), b"aXc");
}

#[test]
fn destroy_drops_everything_and_init_reimports() {
    let (dir, fs) = setup();
    let (e, _h) = create_file(&fs, root(), "f", 0o644);
    let base_all = fds_under(dir.as_path());
    assert!(base_all >= 3);
    fs.destroy();
    assert_eq!(fds_under(dir.as_path()), 0);
    assert_eq!(errno(fs.getattr(&ctx(), e.inode, None)), libc::EBADF);
    fs.init(FsOptions::all()).unwrap();
    assert!(lookup(&fs, root(), "f").is_ok());
}

#[test]
fn open_handles_outlive_a_forgotten_inode() {
    let (_dir, fs) = setup();
    let (e, h) = create_file(&fs, root(), "f", 0o644);
    write_all(&fs, e.inode, h, b"still here", 0);
    // A misbehaving client forgets the inode while the file is open.
    fs.forget(&ctx(), e.inode, u64::MAX);
    assert_eq!(errno(fs.getattr(&ctx(), e.inode, None)), libc::EBADF);
    assert_eq!(read_all(&fs, e.inode, h, 64, 0), b"still here");
    assert_eq!(fs.getattr(&ctx(), e.inode, Some(h)).unwrap().0.st_size, 10);
    release(&fs, e.inode, h);
    assert_eq!(
        errno(fs.release(&ctx(), e.inode, 0, h, false, false, None)),
        libc::EBADF
    );
}
