//! The pseudo directories leading to mount points, as the kernel sees them through the
//! Vfs, and ".." of a backend's root.

use super::*;
use crate::abi::fuse_abi::ROOT_ID;
use crate::api::vfs::{PSEUDO_FS_IDX, VFS_INDEX_SHIFT};

fn is_pseudo_dir(vfs: &Vfs, ino: u64) -> bool {
    let (st, _) = vfs.getattr(&ctx(), ino, None).unwrap();
    ino >> VFS_INDEX_SHIFT == PSEUDO_FS_IDX as u64
        && st.st_ino == ino
        && st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

fn names(entries: &[(u64, String)]) -> Vec<&str> {
    entries.iter().map(|(_, n)| n.as_str()).collect()
}

#[test]
fn mounting_deep_creates_the_directories_on_the_way() {
    let vfs = vfs();
    let (idx, st) = mount(&vfs, FakeFs::new().root(3), "/a/b/c");
    let a = vfs.lookup(&ctx(), ROOT_ID, c"a").unwrap();
    assert!(is_pseudo_dir(&vfs, a.inode));
    assert_eq!(a.attr.st_ino, a.inode);
    let b = vfs.lookup(&ctx(), a.inode, c"b").unwrap();
    assert!(is_pseudo_dir(&vfs, b.inode));
    let c = vfs.lookup(&ctx(), b.inode, c"c").unwrap();
    assert_eq!(c.inode, kino(idx, 3));
    assert_eq!(c.attr.st_ino, c.inode);
    assert_eq!(c.attr.st_mode & libc::S_IFMT, libc::S_IFDIR);
    // The mount point's attributes come from the backend (getattr, never a lookup).
    assert_eq!(st.take(), [call("getattr", 3)]);
    assert_eq!(errno(vfs.lookup(&ctx(), b.inode, c"nope")), libc::ENOENT);

    assert_eq!(names(&list(&vfs, ROOT_ID, 0)), [".", "..", "a"]);
    let in_b = list(&vfs, b.inode, 0);
    assert_eq!(names(&in_b), [".", "..", "c"]);
    // d_ino of the mount point is the number lookups give.
    assert_eq!(in_b[2].0, c.inode);
    assert_eq!(in_b[1].0, a.inode);
    // "." and ".." inside the pseudo tree.
    assert_eq!(vfs.lookup(&ctx(), b.inode, c".").unwrap().inode, b.inode);
    assert_eq!(vfs.lookup(&ctx(), b.inode, c"..").unwrap().inode, a.inode);
    assert_eq!(vfs.lookup(&ctx(), ROOT_ID, c"..").unwrap().inode, ROOT_ID);
}

#[test]
fn umount_removes_only_what_nothing_else_needs() {
    let vfs = vfs();
    let (c_idx, _) = mount(&vfs, FakeFs::new(), "/a/b/c");
    mount(&vfs, FakeFs::new(), "/a/x");
    let a = vfs.lookup(&ctx(), ROOT_ID, c"a").unwrap().inode;
    let b = vfs.lookup(&ctx(), a, c"b").unwrap().inode;
    let c = vfs.lookup(&ctx(), b, c"c").unwrap().inode;

    // The values for notify_inval_entry(parent, "c").
    assert_eq!(vfs.umount("/a/b/c").unwrap(), (c, b));
    assert_eq!(errno(vfs.lookup(&ctx(), a, c"b")), libc::ENOENT);
    assert_eq!(errno(vfs.getattr(&ctx(), b, None)), libc::ENOENT);
    assert_eq!(errno(vfs.getattr(&ctx(), c, None)), libc::ENOENT);
    assert!(is_pseudo_dir(&vfs, a), "/a still leads to /a/x");
    assert_eq!(names(&list(&vfs, a, 0)), [".", "..", "x"]);
    vfs.forget(&ctx(), c, 1);
    assert_eq!(vfs.outstanding_lookups(c_idx), 0);

    vfs.umount("/a/x").unwrap();
    assert_eq!(errno(vfs.getattr(&ctx(), a, None)), libc::ENOENT);
    assert_eq!(names(&list(&vfs, ROOT_ID, 0)), [".", ".."]);
    // Mounted again: new directories, new numbers (pseudo numbers are never reused).
    mount(&vfs, FakeFs::new(), "/a/x");
    let a2 = vfs.lookup(&ctx(), ROOT_ID, c"a").unwrap().inode;
    assert!(a2 != a && a2 != b && a2 != c);
}

#[test]
fn a_mount_point_that_is_also_a_directory_on_the_way_stays() {
    let vfs = vfs();
    let (p, _) = mount(&vfs, FakeFs::new(), "/p");
    let (q, _) = mount(&vfs, FakeFs::new(), "/p/q/r");
    let p_root = vfs.lookup(&ctx(), ROOT_ID, c"p").unwrap().inode;
    assert_eq!(p_root, kino(p, 1));
    // /p/q is a pseudo directory inside backend p.
    let pq = vfs.lookup(&ctx(), p_root, c"q").unwrap().inode;
    assert!(is_pseudo_dir(&vfs, pq));
    let r = vfs.lookup(&ctx(), pq, c"r").unwrap().inode;
    assert_eq!(r, kino(q, 1));
    // ".." of r is the pseudo /p/q; ".." of /p/q is p's root as the kernel knows it.
    assert_eq!(vfs.lookup(&ctx(), r, c"..").unwrap().inode, pq);
    assert_eq!(vfs.lookup(&ctx(), pq, c"..").unwrap().inode, p_root);

    // Unmounting /p keeps /p (now a pseudo directory) because /p/q/r needs it.
    let (ino, parent) = vfs.umount("/p").unwrap();
    assert_eq!((ino, parent), (p_root, ROOT_ID));
    let p_dir = vfs.lookup(&ctx(), ROOT_ID, c"p").unwrap().inode;
    assert!(is_pseudo_dir(&vfs, p_dir));
    assert_eq!(vfs.lookup(&ctx(), p_dir, c"q").unwrap().inode, pq);
}

#[test]
fn umount_below_a_backend_names_the_parent_by_its_kernel_number() {
    let vfs = vfs();
    let (p, _) = mount(&vfs, FakeFs::new().root(4), "/p");
    mount(&vfs, FakeFs::new(), "/p/q");
    let (_, parent) = vfs.umount("/p/q").unwrap();
    // The kernel knows /p as backend p's root, not as the pseudo directory under it.
    assert_eq!(parent, kino(p, 4));

    let (root, _) = mount(&vfs, FakeFs::new(), "/");
    mount(&vfs, FakeFs::new(), "/r");
    let (_, parent) = vfs.umount("/r").unwrap();
    assert_eq!(parent, ROOT_ID);
    assert_eq!(vfs.umount("/").unwrap(), (ROOT_ID, ROOT_ID));
    assert_eq!(vfs.outstanding_lookups(root), 0);
}

#[test]
fn dotdot_of_a_backend_root_is_the_pseudo_parent() {
    let vfs = vfs();
    let (idx, st) = mount(&vfs, FakeFs::new(), "/a/b");
    let a = vfs.lookup(&ctx(), ROOT_ID, c"a").unwrap().inode;
    let b = vfs.lookup(&ctx(), a, c"b").unwrap().inode;
    st.take();
    let up = vfs.lookup(&ctx(), b, c"..").unwrap();
    assert_eq!(up.inode, a);
    assert_eq!(up.attr.st_ino, a);
    // The backend never saw a ".." of its root (which would lead into the host).
    assert!(st.take().is_empty());
    // ".." of a directory inside the backend is the backend's business.
    let f = vfs.lookup(&ctx(), b, c"f").unwrap().inode;
    st.take();
    vfs.lookup(&ctx(), f, c"..").unwrap();
    assert_eq!(st.take(), [call("lookup", ENTRY_INO)]);
    assert_eq!(vfs.outstanding_lookups(idx), 3);
}

#[test]
fn dotdot_of_an_attached_root_under_a_root_backend_is_the_fuse_root() {
    let vfs = vfs();
    let (r, rst) = mount(&vfs, FakeFs::new().root(2), "/");
    let (b, bst) = mount(&vfs, FakeFs::new(), "/b");
    let b_root = vfs.lookup(&ctx(), ROOT_ID, c"b").unwrap();
    assert_eq!(b_root.inode, kino(b, 1));
    let up = vfs.lookup(&ctx(), b_root.inode, c"..").unwrap();
    assert_eq!(up.inode, ROOT_ID);
    assert_eq!(up.attr.st_ino, ROOT_ID);
    // ".." of the FUSE root is the root, without asking the root backend.
    assert_eq!(vfs.lookup(&ctx(), ROOT_ID, c"..").unwrap().inode, ROOT_ID);
    let rcalls = rst.take();
    assert!(
        rcalls.iter().all(|c| c.op == "getattr" && c.ino == 2),
        "{rcalls:?}"
    );
    assert!(bst.take().iter().all(|c| c.op == "getattr"));
    // The root is never forgotten, so it is not counted.
    assert_eq!(vfs.outstanding_lookups(r), 0);
    assert_eq!(vfs.outstanding_lookups(b), 1);
    // Other names in the root go to the root backend.
    let f = vfs.lookup(&ctx(), ROOT_ID, c"f").unwrap();
    assert_eq!(f.inode, kino(r, ENTRY_INO));
    assert_eq!(rst.take(), [call("lookup", 2)]);
}

#[test]
fn pseudo_directories_are_read_only() {
    let vfs = vfs();
    mount(&vfs, FakeFs::new(), "/a/b");
    let a = vfs.lookup(&ctx(), ROOT_ID, c"a").unwrap().inode;
    let c = ctx();
    assert_eq!(errno(vfs.mkdir(&c, a, c"d", 0o755, 0)), libc::EROFS);
    assert_eq!(
        errno(vfs.mknod(&c, a, c"n", libc::S_IFREG, 0, 0)),
        libc::EROFS
    );
    assert_eq!(errno(vfs.symlink(&c, c"t", a, c"s")), libc::EROFS);
    assert_eq!(
        errno(vfs.create(&c, a, c"f", CreateIn::default())),
        libc::EROFS
    );
    assert_eq!(errno(vfs.tmpfile(&c, a, CreateIn::default())), libc::EROFS);
    assert_eq!(errno(vfs.unlink(&c, a, c"b")), libc::EROFS);
    assert_eq!(errno(vfs.rmdir(&c, a, c"b")), libc::EROFS);
    assert_eq!(errno(vfs.rename(&c, a, c"b", a, c"z", 0)), libc::EROFS);
    // SAFETY: stat64 is plain integers; all-zero is a valid value.
    let attr: libc::stat64 = unsafe { std::mem::zeroed() };
    assert_eq!(
        errno(vfs.setattr(&c, a, attr, None, SetattrValid::MODE)),
        libc::EROFS
    );
    assert_eq!(errno(vfs.setxattr(&c, a, c"user.x", b"v", 0)), libc::EROFS);
    assert_eq!(errno(vfs.removexattr(&c, a, c"user.x")), libc::EROFS);
    assert_eq!(errno(vfs.getxattr(&c, a, c"user.x", 10)), libc::ENODATA);
    assert_eq!(vfs.listxattr(&c, a, 0).unwrap(), ListxattrReply::Count(0));
    assert_eq!(errno(vfs.access(&c, a, libc::W_OK as u32)), libc::EROFS);
    vfs.access(&c, a, (libc::R_OK | libc::X_OK) as u32).unwrap();
    assert_eq!(errno(vfs.open(&c, a, 0, 0)), libc::EISDIR);
    assert_eq!(errno(vfs.readlink(&c, a)), libc::EINVAL);
    let (fh, _) = vfs.opendir(&c, a, 0).unwrap();
    vfs.releasedir(&c, a, 0, fh.unwrap()).unwrap();
    assert!(vfs.statfs(&c, a).unwrap().f_namemax > 0);
    // Names with '/' are refused everywhere.
    assert_eq!(errno(vfs.lookup(&c, ROOT_ID, c"a/b")), libc::EINVAL);
}

#[test]
fn readdirplus_of_a_pseudo_dir_counts_only_taken_mount_points() {
    let vfs = vfs();
    let (p, pst) = mount(&vfs, FakeFs::new(), "/x/p");
    let (q, _) = mount(&vfs, FakeFs::new(), "/x/q");
    mount(&vfs, FakeFs::new(), "/x/r/deeper");
    let x = vfs.lookup(&ctx(), ROOT_ID, c"x").unwrap().inode;
    pst.take();
    let mut got = Vec::new();
    // Takes ".", "..", "p", then the reply is full.
    vfs.readdirplus(&ctx(), x, 0, 4096, 0, &mut |d, e| {
        if got.len() == 3 {
            return Ok(0);
        }
        got.push((String::from_utf8(d.name.to_vec()).unwrap(), d.ino, e.inode));
        Ok(1)
    })
    .unwrap();
    assert_eq!(got[0], (".".to_string(), x, 0));
    assert_eq!(got[1], ("..".to_string(), ROOT_ID, 0));
    assert_eq!(got[2], ("p".to_string(), kino(p, 1), kino(p, 1)));
    assert_eq!(vfs.outstanding_lookups(p), 1);
    assert_eq!(vfs.outstanding_lookups(q), 0, "a refused entry was counted");
    // The rest, from where it stopped: "r" is a pseudo directory (nothing to count).
    let mut rest = Vec::new();
    vfs.readdirplus(&ctx(), x, 0, 4096, 3, &mut |d, e| {
        rest.push((String::from_utf8(d.name.to_vec()).unwrap(), e.inode));
        Ok(1)
    })
    .unwrap();
    assert_eq!(rest[0], ("q".to_string(), kino(q, 1)));
    assert_eq!(rest[1].0, "r");
    assert_eq!(rest.len(), 2);
    assert_eq!(vfs.outstanding_lookups(q), 1);
    // The backend was asked for attributes only.
    assert_eq!(pst.take(), [call("getattr", 1)]);
}

#[test]
fn mount_point_names_in_a_backend_root_are_busy() {
    let vfs = vfs();
    let (r, rst) = mount(&vfs, FakeFs::new().root(2), "/");
    mount(&vfs, FakeFs::new(), "/a");
    mount(&vfs, FakeFs::new(), "/deep/b");
    rst.take();
    // The root backend's own "a" and "deep" are shadowed: never removed or replaced.
    for name in [c"a", c"deep"] {
        assert_eq!(errno(vfs.unlink(&ctx(), ROOT_ID, name)), libc::EBUSY);
        assert_eq!(errno(vfs.rmdir(&ctx(), ROOT_ID, name)), libc::EBUSY);
        assert_eq!(
            errno(vfs.rename(&ctx(), ROOT_ID, name, ROOT_ID, c"z", 0)),
            libc::EBUSY
        );
        assert_eq!(
            errno(vfs.rename(&ctx(), ROOT_ID, c"z", ROOT_ID, name, 0)),
            libc::EBUSY
        );
    }
    assert!(rst.take().is_empty());
    // Other names, and the same names deeper down, are the backend's.
    vfs.rmdir(&ctx(), ROOT_ID, c"c").unwrap();
    vfs.unlink(&ctx(), kino(r, 9), c"a").unwrap();
    vfs.rename(&ctx(), kino(r, 9), c"deep", ROOT_ID, c"y", 0)
        .unwrap();
    assert_eq!(
        rst.take(),
        [call("rmdir", 2), call("unlink", 9), call2("rename", 9, 2)]
    );
}
