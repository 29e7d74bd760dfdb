//! `Vfs::save_to_bytes` / `restore_from_bytes` / `restore_mount` (feature `persist`).

use std::ffi::CString;

use super::*;
use crate::abi::fuse_abi::ROOT_ID;
use crate::api::vfs::VfsError;

/// A Vfs with backends at /a/b (root 1) and /c (root 7), INIT done, one lookup held.
fn populated() -> (Vfs, VfsIndex, VfsIndex) {
    let v = Vfs::new(VfsOptions {
        id_mapping: (0, 1000, 10),
        ..Default::default()
    });
    let (ab, _) = mount(&v, FakeFs::new(), "/a/b");
    let (c, _) = mount(&v, FakeFs::new().root(7), "/c");
    v.init(FsOptions::ASYNC_READ | FsOptions::DO_READDIRPLUS)
        .unwrap();
    let a = v.lookup(&ctx(), ROOT_ID, c"a").unwrap();
    v.lookup(&ctx(), a.inode, c"b").unwrap();
    v.lookup(&ctx(), kino(ab, 1), c"f").unwrap();
    (v, ab, c)
}

#[test]
fn restored_vfs_serves_the_same_inode_numbers() {
    let (old, ab, c) = populated();
    let mut bytes = old.save_to_bytes().unwrap();

    let new = Vfs::default();
    new.restore_from_bytes(&mut bytes).unwrap();
    assert!(new.initialized());
    assert_eq!(new.options(), old.options());
    assert_eq!(new.outstanding_lookups(ab), old.outstanding_lookups(ab));
    // Before the backends are back, their inodes lead nowhere.
    assert_eq!(errno(new.getattr(&ctx(), kino(ab, 42), None)), libc::ENOENT);

    new.restore_mount(Box::new(FakeFs::new()), ab, "/a/b")
        .unwrap();
    new.restore_mount(Box::new(FakeFs::new().root(7)), c, "/c")
        .unwrap();
    for path in ["a", "c"] {
        let name = CString::new(path).unwrap();
        let was = old.lookup(&ctx(), ROOT_ID, &name).unwrap();
        let is = new.lookup(&ctx(), ROOT_ID, &name).unwrap();
        assert_eq!(is.inode, was.inode, "{path}");
    }
    let a = new.lookup(&ctx(), ROOT_ID, c"a").unwrap();
    let b = new.lookup(&ctx(), a.inode, c"b").unwrap();
    assert_eq!(b.inode, kino(ab, 1));
    let f = new.lookup(&ctx(), kino(ab, 1), c"f").unwrap();
    assert_eq!(f.inode, kino(ab, ENTRY_INO));
    assert_eq!(
        new.getattr(&ctx(), f.inode, None).unwrap().0.st_ino,
        f.inode
    );
    assert_eq!(new.get_rootfs("/c").unwrap().map(|(_, i)| i), Some(c));
    // The restored indices stay reserved: a new mount gets another one.
    let (other, _) = mount(&new, FakeFs::new(), "/d");
    assert!(other != ab && other != c);
}

#[test]
fn an_index_waiting_for_restore_mount_is_not_handed_out() {
    let (old, ab, c) = populated();
    let mut bytes = old.save_to_bytes().unwrap();
    let new = Vfs::default();
    new.restore_from_bytes(&mut bytes).unwrap();
    let (idx, _) = mount(&new, FakeFs::new(), "/x");
    assert!(idx != ab && idx != c);
}

#[test]
fn restore_mount_checks_path_and_root() {
    let (old, ab, _) = populated();
    let mut bytes = old.save_to_bytes().unwrap();
    let new = Vfs::default();
    new.restore_from_bytes(&mut bytes).unwrap();
    let e = new
        .restore_mount(Box::new(FakeFs::new()), ab, "/elsewhere")
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    let e = new
        .restore_mount(Box::new(FakeFs::new().root(3)), ab, "/a/b")
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "another root inode");
    new.restore_mount(Box::new(FakeFs::new()), ab, "/a/b")
        .unwrap();
    let e = new
        .restore_mount(Box::new(FakeFs::new()), ab, "/a/b")
        .unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EEXIST));
}

#[test]
fn restore_mount_without_a_saved_state_mounts_at_that_index() {
    let v = Vfs::default();
    v.restore_mount(Box::new(FakeFs::new()), 9, "/n").unwrap();
    let e = v.lookup(&ctx(), ROOT_ID, c"n").unwrap();
    assert_eq!(e.inode, kino(9, 1));
}

#[test]
fn bad_bytes_are_an_error_not_a_panic() {
    let (old, _, _) = populated();
    let good = old.save_to_bytes().unwrap();
    let pristine = Vfs::default().save_to_bytes().unwrap();
    // Every truncation fails, and leaves the Vfs as it was.
    for len in 0..good.len() {
        let mut b = good[..len].to_vec();
        let v = Vfs::default();
        let r = v.restore_from_bytes(&mut b);
        assert!(matches!(r, Err(VfsError::Persist(_))), "len {len}");
        assert_eq!(v.save_to_bytes().unwrap(), pristine, "len {len}: changed");
    }
    // Every single-byte corruption fails with nothing changed: the envelope's magic,
    // version, length and CRC-32 cover every byte.
    let (mut refused, mut restored) = (0, 0);
    for i in 0..good.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut b = good.clone();
            b[i] ^= x;
            let what = format!("byte {i} ^ {x:#04x}");
            let v = Vfs::default();
            match v.restore_from_bytes(&mut b) {
                Err(VfsError::Persist(_)) => {
                    refused += 1;
                    assert_eq!(v.save_to_bytes().unwrap(), pristine, "{what}: changed");
                }
                Err(e) => panic!("{what}: not a persist error: {e:?}"),
                Ok(()) => {
                    restored += 1;
                    let once = v.save_to_bytes().unwrap();
                    let w = Vfs::default();
                    w.restore_from_bytes(&mut once.clone())
                        .unwrap_or_else(|e| panic!("{what}: its own save refused: {e:?}"));
                    assert_eq!(w.save_to_bytes().unwrap(), once, "{what}: not stable");
                }
            }
        }
    }
    assert_eq!(
        (refused, restored),
        (good.len() * 3, 0),
        "every corruption must be refused"
    );
    let mut extra = good.clone();
    extra.push(0);
    assert!(Vfs::default().restore_from_bytes(&mut extra).is_err());
    let mut huge = good[..12].to_vec();
    huge.extend_from_slice(&[0xff; 64]);
    assert!(Vfs::default().restore_from_bytes(&mut huge).is_err());
}

#[test]
fn restore_refuses_a_vfs_with_backends() {
    let (old, _, _) = populated();
    let mut bytes = old.save_to_bytes().unwrap();
    let (busy, _, _) = populated();
    assert!(matches!(
        busy.restore_from_bytes(&mut bytes),
        Err(VfsError::Persist(_))
    ));
}
