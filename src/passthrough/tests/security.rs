//! The security boundary and descriptor usage.

use super::*;

#[test]
fn symlinks_are_never_followed() {
    let (dir, fs) = setup();
    std::os::unix::fs::symlink("/etc", dir.as_path().join("esc")).unwrap();
    std::os::unix::fs::symlink("..", dir.as_path().join("up")).unwrap();
    let esc = lookup(&fs, root(), "esc").unwrap();
    assert_eq!(esc.attr.st_mode & libc::S_IFMT, libc::S_IFLNK);
    assert_eq!(fs.readlink(&ctx(), esc.inode).unwrap(), b"/etc");
    // Walking "through" the symlink fails instead of reaching /etc/passwd.
    assert_eq!(errno(lookup(&fs, esc.inode, "passwd")), libc::ENOTDIR);
    let up = lookup(&fs, root(), "up").unwrap();
    assert_eq!(errno(lookup(&fs, up.inode, "..")), libc::ENOTDIR);
    assert_eq!(errno(fs.opendir(&ctx(), esc.inode, 0)), libc::ENOTDIR);
    assert_eq!(
        errno(fs.open(&ctx(), esc.inode, libc::O_RDONLY as u32, 0)),
        libc::ELOOP
    );
    // CREATE through a symlink name does not create the target.
    let args = CreateIn {
        flags: libc::O_RDWR as u32,
        mode: 0o644,
        umask: 0,
        fuse_flags: 0,
    };
    std::os::unix::fs::symlink(
        dir.as_path().join("outside-target"),
        dir.as_path().join("dangling"),
    )
    .unwrap();
    assert!(fs.create(&ctx(), root(), &cs("dangling"), args).is_err());
    assert!(!dir.as_path().join("outside-target").exists());
}

#[test]
fn special_files_are_never_opened() {
    let (dir, fs) = setup();
    let fifo = fs
        .mknod(&ctx(), root(), &cs("fifo"), libc::S_IFIFO | 0o666, 0, 0)
        .unwrap();
    // Opening a FIFO for reading would block forever; it is refused at once.
    assert_eq!(
        errno(fs.open(&ctx(), fifo.inode, libc::O_RDONLY as u32, 0)),
        libc::ENXIO
    );
    // CREATE without O_EXCL on an existing FIFO is refused too, and gives its lookup back.
    let before = refcount(&fs, fifo.inode);
    let args = CreateIn {
        flags: libc::O_RDWR as u32,
        mode: 0o644,
        umask: 0,
        fuse_flags: 0,
    };
    assert_eq!(
        errno(fs.create(&ctx(), root(), &cs("fifo"), args)),
        libc::ENXIO
    );
    assert_eq!(refcount(&fs, fifo.inode), before);
    // A device node (needs CAP_MKNOD): the daemon never opens it (CVE-2020-35517).
    let dev = libc::makedev(1, 3); // /dev/null
    if fs
        .mknod(
            &ctx(),
            root(),
            &cs("null"),
            libc::S_IFCHR | 0o666,
            dev as u32,
            0,
        )
        .is_ok()
    {
        let n = lookup(&fs, root(), "null").unwrap();
        assert_eq!(
            errno(fs.open(&ctx(), n.inode, libc::O_RDWR as u32, 0)),
            libc::ENXIO
        );
        let mut attr = crate::sys::zeroed_stat64();
        attr.st_size = 0;
        assert_eq!(
            errno(fs.setattr(
                &ctx(),
                n.inode,
                attr,
                None,
                crate::abi::fuse_abi::SetattrValid::SIZE
            )),
            libc::ENXIO
        );
    }
    // getattr and chmod of special files work without opening them.
    let mut attr = crate::sys::zeroed_stat64();
    attr.st_mode = 0o600;
    let (st, _) = fs
        .setattr(
            &ctx(),
            fifo.inode,
            attr,
            None,
            crate::abi::fuse_abi::SetattrValid::MODE,
        )
        .unwrap();
    assert_eq!(st.st_mode & 0o7777, 0o600);
    drop(dir);
}

#[test]
fn names_with_slashes_and_dots_are_refused() {
    let (_dir, fs) = setup();
    let (f, _) = create_file(&fs, root(), "f", 0o644);
    // An absolute name (GHSA-2gv2-cffp-j227) must not create anything outside.
    for bad in [
        "a/b",
        "/",
        "..",
        ".",
        "",
        "/tmp/escaped-by-test",
        "../escaped",
    ] {
        let n = cs(bad);
        assert_eq!(
            errno(fs.symlink(&ctx(), &cs("x"), root(), &n)),
            libc::EINVAL,
            "{bad:?}"
        );
        assert_eq!(errno(fs.link(&ctx(), f.inode, root(), &n)), libc::EINVAL);
        assert_eq!(
            errno(fs.mknod(&ctx(), root(), &n, libc::S_IFREG | 0o644, 0, 0)),
            libc::EINVAL
        );
        let args = CreateIn {
            flags: libc::O_RDWR as u32,
            mode: 0o644,
            umask: 0,
            fuse_flags: 0,
        };
        assert_eq!(errno(fs.create(&ctx(), root(), &n, args)), libc::EINVAL);
        assert_eq!(
            errno(fs.rename(&ctx(), root(), &cs("f"), root(), &n, 0)),
            libc::EINVAL
        );
    }
    assert!(!Path::new("/tmp/escaped-by-test").exists());
    assert_eq!(cstr_bytes(&cs("f")), b"f");
}

#[test]
fn dotdot_of_directory_moved_out_does_not_escape() {
    let (dir, fs) = setup();
    let outside = TempDir::new().unwrap();
    std::fs::create_dir(dir.as_path().join("a")).unwrap();
    std::fs::create_dir(dir.as_path().join("a/b")).unwrap();
    let a = lookup(&fs, root(), "a").unwrap();
    let b = lookup(&fs, a.inode, "b").unwrap();
    assert_eq!(lookup(&fs, b.inode, "..").unwrap().inode, a.inode);
    fs.forget(&ctx(), a.inode, 1);
    // A host process moves b out of the share; its ".." is now outside.
    std::fs::rename(dir.as_path().join("a/b"), outside.as_path().join("b")).unwrap();
    assert_eq!(errno(lookup(&fs, b.inode, "..")), libc::ENOENT);
}

#[test]
fn inode_file_handles_keep_descriptors_bounded() {
    let (dir, fs) = setup_with(|c| {
        c.inode_file_handles = true;
        c.inode_fd_cache_size = 32;
    });
    if !fs.use_handles.load(std::sync::atomic::Ordering::Relaxed) {
        crate::cannot_run("file handles unavailable (needs CAP_DAC_READ_SEARCH)");
        return;
    }
    for i in 0..1000 {
        std::fs::write(dir.as_path().join(format!("f{i}")), format!("{i}")).unwrap();
    }
    let base = fds_under(dir.as_path());
    let mut entries = Vec::new();
    for i in 0..1000 {
        entries.push(lookup(&fs, root(), &format!("f{i}")).unwrap());
    }
    let after = fds_under(dir.as_path());
    assert!(
        after <= base + 32 + 16,
        "{after} descriptors open (base {base})"
    );
    // Every inode is still usable: getattr, open and read reopen through the handle.
    for (i, e) in entries.iter().enumerate().step_by(37) {
        let (st, _) = fs.getattr(&ctx(), e.inode, None).unwrap();
        assert_eq!(st.st_ino, e.attr.st_ino);
        let (h, _, _) = fs.open(&ctx(), e.inode, libc::O_RDONLY as u32, 0).unwrap();
        let h = h.unwrap();
        assert_eq!(read_all(&fs, e.inode, h, 16, 0), i.to_string().as_bytes());
        fs.release(&ctx(), e.inode, 0, h, false, false, None)
            .unwrap();
    }
    // Lookups of known files find the same inode by identity.
    assert_eq!(lookup(&fs, root(), "f5").unwrap().inode, entries[5].inode);
    fs.forget(&ctx(), entries[5].inode, 1);
    for e in &entries {
        fs.forget(&ctx(), e.inode, 1);
    }
    assert_eq!(fs.inodes.len(), 1);
    assert!(fs.fd_cache.len() <= 32);
    assert!(fds_under(dir.as_path()) <= base);
}

#[test]
fn o_path_mode_reports_its_descriptors() {
    let (_dir, fs) = setup();
    assert_eq!(fs.keep_fds().len(), 2);
}

#[test]
fn handle_mode_supports_the_usual_operations() {
    let (dir, fs) = setup_with(|c| {
        c.inode_file_handles = true;
        c.inode_fd_cache_size = 0; // every request reopens through the handle
        c.xattr = true;
    });
    let d = fs
        .mkdir(&ctx(), root(), &cs("d"), libc::S_IFDIR | 0o755, 0)
        .unwrap();
    let (f, h) = create_file(&fs, d.inode, "f", 0o644);
    write_all(&fs, f.inode, h, b"abc", 0);
    let s = fs.symlink(&ctx(), &cs("f"), d.inode, &cs("s")).unwrap();
    assert_eq!(fs.readlink(&ctx(), s.inode).unwrap(), b"f");
    let l = fs.link(&ctx(), f.inode, root(), &cs("l")).unwrap();
    assert_eq!(l.inode, f.inode);
    fs.rename(&ctx(), d.inode, &cs("f"), root(), &cs("g"), 0)
        .unwrap();
    let mut attr = crate::sys::zeroed_stat64();
    attr.st_mode = 0o600;
    let (st, _) = fs
        .setattr(
            &ctx(),
            f.inode,
            attr,
            None,
            crate::abi::fuse_abi::SetattrValid::MODE,
        )
        .unwrap();
    assert_eq!(st.st_mode & 0o7777, 0o600);
    if fs.setxattr(&ctx(), f.inode, &cs("user.k"), b"v", 0).is_ok() {
        assert!(fs.getxattr(&ctx(), f.inode, &cs("user.k"), 0).is_ok());
    }
    let (dh, _) = fs.opendir(&ctx(), d.inode, 0).unwrap();
    let mut names = Vec::new();
    fs.readdirplus(&ctx(), d.inode, dh.unwrap(), 4096, 0, &mut |de, e| {
        if e.inode != 0 {
            names.push((de.name.to_vec(), e.inode));
        }
        Ok(1)
    })
    .unwrap();
    assert_eq!(names, vec![(b"s".to_vec(), s.inode)]);
    assert_eq!(read_all(&fs, f.inode, h, 10, 0), b"abc");
    assert!(fs.statfs(&ctx(), d.inode).is_ok());
    fs.access(&ctx(), d.inode, libc::W_OK as u32).unwrap();
    assert_eq!(std::fs::read(dir.as_path().join("g")).unwrap(), b"abc");
}

/// In handle mode a deleted file cannot be reopened by handle; an inode the client still
/// knows must stay usable after its last name goes, and only then.
#[test]
fn handle_mode_keeps_removed_inodes_reachable_until_forgotten() {
    let (_dir, fs) = setup_with(|c| {
        c.inode_file_handles = true;
        c.inode_fd_cache_size = 0; // nothing cached: every request reopens by handle
    });
    if !fs.use_handles.load(std::sync::atomic::Ordering::Relaxed) {
        crate::cannot_run("file handles unavailable (needs CAP_DAC_READ_SEARCH)");
        return;
    }
    // unlink of the last name: pinned.
    let (f, h) = create_file(&fs, root(), "f", 0o644);
    fs.release(&ctx(), f.inode, 0, h, false, false, None)
        .unwrap();
    fs.unlink(&ctx(), root(), &cs("f")).unwrap();
    assert!(pinned(&fs, f.inode));
    let (st, _) = fs.getattr(&ctx(), f.inode, None).unwrap();
    assert_eq!(st.st_nlink, 0);

    // unlink of one of two names: the other name keeps the file, nothing pinned.
    let (g, h) = create_file(&fs, root(), "g", 0o644);
    fs.release(&ctx(), g.inode, 0, h, false, false, None)
        .unwrap();
    fs.link(&ctx(), g.inode, root(), &cs("g2")).unwrap();
    fs.unlink(&ctx(), root(), &cs("g")).unwrap();
    assert!(!pinned(&fs, g.inode));
    assert_eq!(fs.getattr(&ctx(), g.inode, None).unwrap().0.st_nlink, 1);

    // rmdir and rename onto an existing name delete too.
    let d = fs
        .mkdir(&ctx(), root(), &cs("d"), libc::S_IFDIR | 0o755, 0)
        .unwrap();
    fs.rmdir(&ctx(), root(), &cs("d")).unwrap();
    let (t, h) = create_file(&fs, root(), "t", 0o644);
    fs.release(&ctx(), t.inode, 0, h, false, false, None)
        .unwrap();
    fs.rename(&ctx(), root(), &cs("g2"), root(), &cs("t"), 0)
        .unwrap();
    assert!(pinned(&fs, d.inode) && pinned(&fs, t.inode));
    assert!(fs.getattr(&ctx(), d.inode, None).is_ok());
    assert_eq!(fs.getattr(&ctx(), t.inode, None).unwrap().0.st_nlink, 0);

    // Forgetting an inode closes its pinned descriptor with it.
    let pinned_fd = fs.pinned_fd(&fs.inodes.get(f.inode).unwrap()).unwrap();
    let weak = std::sync::Arc::downgrade(&pinned_fd);
    drop(pinned_fd);
    fs.forget(&ctx(), f.inode, 1);
    assert!(fs.inodes.get(f.inode).is_err());
    assert!(
        weak.upgrade().is_none(),
        "the pinned descriptor outlived its inode"
    );
}

fn pinned(fs: &Fs, inode: u64) -> bool {
    fs.pinned_fd(&fs.inodes.get(inode).unwrap()).is_some()
}
