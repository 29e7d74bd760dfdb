//! Lookups, lookup counts and operations on names.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::*;
use crate::api::filesystem::Context;

#[test]
fn lookup_forget_refcounts_and_fds_return_to_baseline() {
    let (dir, fs) = setup();
    for i in 0..50 {
        std::fs::write(dir.as_path().join(format!("f{i}")), b"x").unwrap();
    }
    let base = fds_under(dir.as_path());
    let mut inodes = Vec::new();
    for i in 0..50 {
        let a = lookup(&fs, root(), &format!("f{i}")).unwrap();
        let b = lookup(&fs, root(), &format!("f{i}")).unwrap();
        assert_eq!(a.inode, b.inode);
        assert_eq!(refcount(&fs, a.inode), 2);
        inodes.push(a.inode);
    }
    assert_eq!(fds_under(dir.as_path()), base + 50);
    for &i in &inodes {
        fs.forget(&ctx(), i, 1);
        assert_eq!(refcount(&fs, i), 1);
        assert!(fs.getattr(&ctx(), i, None).is_ok());
    }
    // More than held: saturates at 0 and removes the inode, no panic.
    let (first, rest) = inodes.split_first().unwrap();
    fs.forget(&ctx(), *first, 1000);
    fs.batch_forget(&ctx(), rest.iter().map(|&i| (i, 1)).collect());
    for &i in &inodes {
        assert_eq!(errno(fs.getattr(&ctx(), i, None)), libc::EBADF);
    }
    assert_eq!(fds_under(dir.as_path()), base);
    // Unknown inode and the root are ignored.
    fs.forget(&ctx(), 987_654, 3);
    fs.forget(&ctx(), root(), u64::MAX);
    assert!(fs.getattr(&ctx(), root(), None).is_ok());
    assert_eq!(fs.inodes.len(), 1);
    // A new lookup after the forget gets a fresh inode.
    let again = lookup(&fs, root(), "f0").unwrap();
    assert_eq!(refcount(&fs, again.inode), 1);
}

#[test]
fn lookup_of_missing_name_is_enoent() {
    let (_dir, fs) = setup();
    assert_eq!(errno(lookup(&fs, root(), "nope")), libc::ENOENT);
    assert_eq!(errno(lookup(&fs, 424_242, "x")), libc::EBADF);
}

#[test]
fn dot_and_dotdot_never_escape() {
    let (dir, fs) = setup();
    std::fs::create_dir(dir.as_path().join("a")).unwrap();
    let up = lookup(&fs, root(), "..").unwrap();
    assert_eq!(up.inode, root());
    let a = lookup(&fs, root(), "a").unwrap();
    assert_eq!(lookup(&fs, a.inode, "..").unwrap().inode, root());
    assert_eq!(lookup(&fs, a.inode, ".").unwrap().inode, a.inode);
    assert_eq!(lookup(&fs, root(), ".").unwrap().inode, root());
    // The root's ".." reports the root's own attributes, not the host parent's.
    let root_ino = std::fs::metadata(dir.as_path()).unwrap().ino();
    assert_eq!(up.attr.st_ino, root_ino);
    for bad in ["", "a/..", "../x", "/etc", "a/"] {
        assert_eq!(errno(lookup(&fs, root(), bad)), libc::EINVAL, "{bad:?}");
    }
}

#[test]
fn mkdir_rmdir_unlink_and_names_checked() {
    let (dir, fs) = setup();
    let d = fs
        .mkdir(&ctx(), root(), &cs("d"), libc::S_IFDIR | 0o755, 0)
        .unwrap();
    assert_eq!(d.attr.st_mode & libc::S_IFMT, libc::S_IFDIR);
    assert!(dir.as_path().join("d").is_dir());
    let (f, h) = create_file(&fs, d.inode, "f", 0o644);
    fs.release(&ctx(), f.inode, 0, h, false, false, None)
        .unwrap();
    assert_eq!(errno(fs.rmdir(&ctx(), root(), &cs("d"))), libc::ENOTEMPTY);
    fs.unlink(&ctx(), d.inode, &cs("f")).unwrap();
    fs.rmdir(&ctx(), root(), &cs("d")).unwrap();
    assert!(!dir.as_path().join("d").exists());
    for bad in ["", ".", "..", "x/y"] {
        assert_eq!(errno(fs.unlink(&ctx(), root(), &cs(bad))), libc::EINVAL);
        assert_eq!(
            errno(fs.mkdir(&ctx(), root(), &cs(bad), 0o755, 0)),
            libc::EINVAL
        );
    }
}

#[test]
fn rename_flags() {
    let (dir, fs) = setup();
    let p = dir.as_path();
    std::fs::write(p.join("a"), b"A").unwrap();
    std::fs::write(p.join("b"), b"B").unwrap();
    let r = fs.rename(
        &ctx(),
        root(),
        &cs("a"),
        root(),
        &cs("b"),
        libc::RENAME_NOREPLACE,
    );
    assert_eq!(errno(r), libc::EEXIST);
    fs.rename(
        &ctx(),
        root(),
        &cs("a"),
        root(),
        &cs("b"),
        libc::RENAME_EXCHANGE,
    )
    .unwrap();
    assert_eq!(std::fs::read(p.join("a")).unwrap(), b"B");
    assert_eq!(std::fs::read(p.join("b")).unwrap(), b"A");
    fs.rename(
        &ctx(),
        root(),
        &cs("a"),
        root(),
        &cs("c"),
        libc::RENAME_NOREPLACE,
    )
    .unwrap();
    fs.rename(&ctx(), root(), &cs("c"), root(), &cs("b"), 0)
        .unwrap();
    assert_eq!(std::fs::read(p.join("b")).unwrap(), b"B");
    assert_eq!(
        errno(fs.rename(&ctx(), root(), &cs("b"), root(), &cs("z"), 1 << 20)),
        libc::EINVAL
    );
    assert_eq!(
        errno(fs.rename(&ctx(), root(), &cs("b"), root(), &cs("../z"), 0)),
        libc::EINVAL
    );
    // A whiteout leaves a 0/0 character device behind (needs CAP_MKNOD).
    if fs
        .rename(
            &ctx(),
            root(),
            &cs("b"),
            root(),
            &cs("w"),
            libc::RENAME_WHITEOUT,
        )
        .is_ok()
    {
        let md = std::fs::symlink_metadata(p.join("b")).unwrap();
        assert_eq!(md.mode() & libc::S_IFMT, libc::S_IFCHR);
        assert_eq!(md.rdev(), 0);
    }
}

#[test]
fn link_shares_the_inode() {
    let (dir, fs) = setup();
    std::fs::write(dir.as_path().join("f"), b"data").unwrap();
    let f = lookup(&fs, root(), "f").unwrap();
    let l = fs.link(&ctx(), f.inode, root(), &cs("l")).unwrap();
    assert_eq!(l.inode, f.inode);
    assert_eq!(l.attr.st_ino, f.attr.st_ino);
    assert_eq!(l.attr.st_nlink, 2);
    assert_eq!(refcount(&fs, f.inode), 2);
    assert_eq!(std::fs::read(dir.as_path().join("l")).unwrap(), b"data");
    assert_eq!(
        errno(fs.link(&ctx(), f.inode, root(), &cs("l"))),
        libc::EEXIST
    );
    // Hard links to symlinks link the symlink itself.
    std::os::unix::fs::symlink("/etc/passwd", dir.as_path().join("s")).unwrap();
    let s = lookup(&fs, root(), "s").unwrap();
    let s2 = fs.link(&ctx(), s.inode, root(), &cs("s2")).unwrap();
    assert_eq!(s2.inode, s.inode);
    assert_eq!(
        std::fs::read_link(dir.as_path().join("s2")).unwrap(),
        Path::new("/etc/passwd")
    );
}

#[test]
fn symlink_and_readlink_store_targets_verbatim() {
    let (dir, fs) = setup();
    for (name, target) in [("rel", "../../outside"), ("abs", "/etc/shadow")] {
        let e = fs.symlink(&ctx(), &cs(target), root(), &cs(name)).unwrap();
        assert_eq!(e.attr.st_mode & libc::S_IFMT, libc::S_IFLNK);
        assert_eq!(fs.readlink(&ctx(), e.inode).unwrap(), target.as_bytes());
        assert_eq!(
            std::fs::read_link(dir.as_path().join(name)).unwrap(),
            Path::new(target)
        );
    }
    let f = create_file(&fs, root(), "file", 0o644).0;
    assert_eq!(errno(fs.readlink(&ctx(), f.inode)), libc::EINVAL);
}

#[test]
fn creations_run_as_the_caller() {
    if crate::sys::geteuid() != 0 {
        crate::cannot_run("needs root to switch credentials");
        return;
    }
    let (dir, fs) = setup();
    let caller = Context {
        uid: 1000,
        gid: 2000,
        pid: 1,
        supp_gid: None,
    };
    // The temporary root is 0700 root: the caller may not create in it.
    std::fs::set_permissions(dir.as_path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let r = fs.mkdir(&caller, root(), &cs("d"), libc::S_IFDIR | 0o755, 0);
    assert_eq!(errno(r), libc::EACCES);
    std::fs::set_permissions(dir.as_path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let d = fs
        .mkdir(&caller, root(), &cs("d"), libc::S_IFDIR | 0o755, 0)
        .unwrap();
    assert_eq!((d.attr.st_uid, d.attr.st_gid), (1000, 2000));
    let args = CreateIn {
        flags: libc::O_RDWR as u32,
        mode: libc::S_IFREG | 0o640,
        umask: 0,
        fuse_flags: 0,
    };
    let (f, _, _, _) = fs.create(&caller, d.inode, &cs("f"), args).unwrap();
    assert_eq!((f.attr.st_uid, f.attr.st_gid), (1000, 2000));
    let s = fs.symlink(&caller, &cs("t"), d.inode, &cs("s")).unwrap();
    assert_eq!(s.attr.st_uid, 1000);
    let n = fs
        .mknod(&caller, d.inode, &cs("p"), libc::S_IFIFO | 0o600, 0, 0)
        .unwrap();
    assert_eq!(n.attr.st_uid, 1000);
    // A supplementary group lets the caller create in a directory of that group.
    std::fs::create_dir(dir.as_path().join("g")).unwrap();
    std::os::unix::fs::chown(dir.as_path().join("g"), Some(0), Some(3000)).unwrap();
    std::fs::set_permissions(
        dir.as_path().join("g"),
        std::fs::Permissions::from_mode(0o770),
    )
    .unwrap();
    let g = lookup(&fs, root(), "g").unwrap();
    assert_eq!(
        errno(fs.mkdir(&caller, g.inode, &cs("x"), 0o755, 0)),
        libc::EACCES
    );
    let with_group = Context {
        supp_gid: Some(3000),
        ..caller
    };
    fs.mkdir(&with_group, g.inode, &cs("x"), 0o755, 0).unwrap();
    // The thread is root again afterwards.
    assert_eq!(crate::sys::setfsuid(u32::MAX), 0);
    assert_eq!(crate::sys::setfsgid(u32::MAX), 0);
}

#[test]
fn umask_is_applied() {
    let (_dir, fs) = setup();
    let d = fs
        .mkdir(&ctx(), root(), &cs("d"), libc::S_IFDIR | 0o777, 0o022)
        .unwrap();
    assert_eq!(d.attr.st_mode & 0o7777, 0o755);
    let args = CreateIn {
        flags: libc::O_RDWR as u32,
        mode: libc::S_IFREG | 0o666,
        umask: 0o077,
        fuse_flags: 0,
    };
    let (f, _, _, _) = fs.create(&ctx(), root(), &cs("f"), args).unwrap();
    assert_eq!(f.attr.st_mode & 0o7777, 0o600);
    let n = fs
        .mknod(&ctx(), root(), &cs("n"), libc::S_IFREG | 0o666, 0, 0o002)
        .unwrap();
    assert_eq!(n.attr.st_mode & 0o7777, 0o664);
    // Umask 0 gives the exact mode, whatever the process umask is.
    let e = fs
        .mkdir(&ctx(), root(), &cs("e"), libc::S_IFDIR | 0o777, 0)
        .unwrap();
    assert_eq!(e.attr.st_mode & 0o7777, 0o777);
}

#[test]
fn host_inode_numbers_when_asked() {
    let (dir, fs) = setup_with(|c| c.use_host_ino = true);
    std::fs::write(dir.as_path().join("f"), b"").unwrap();
    let e = lookup(&fs, root(), "f").unwrap();
    assert_eq!(e.inode, e.attr.st_ino);
    assert_ne!(e.generation, 0);
    let (_dir2, fs2) = setup();
    let (e2, _) = create_file(&fs2, root(), "g", 0o600);
    assert_eq!(e2.inode, root() + 1);
}
