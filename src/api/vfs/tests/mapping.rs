//! The inode mapping: each backend's slice of the 64-bit space, its boundaries, fs index
//! allocation and reuse, mount paths, and detached backends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use super::*;
use crate::abi::fuse_abi::ROOT_ID;
use crate::api::vfs::{VfsError, PSEUDO_FS_IDX, VFS_INDEX_SHIFT, VFS_MAX_INO};

#[test]
fn backend_inodes_live_in_their_own_slice() {
    let vfs = vfs();
    let (a, sa) = mount(&vfs, FakeFs::new(), "/a");
    let (b, sb) = mount(&vfs, FakeFs::new(), "/b");
    assert_ne!(a, PSEUDO_FS_IDX);
    assert_ne!(a, b);
    let ra = vfs.lookup(&ctx(), ROOT_ID, c"a").unwrap();
    let rb = vfs.lookup(&ctx(), ROOT_ID, c"b").unwrap();
    assert_eq!(ra.inode, (a as u64) << VFS_INDEX_SHIFT | 1);
    assert_eq!(rb.inode, (b as u64) << VFS_INDEX_SHIFT | 1);
    // The same backend inode in two backends: two kernel numbers.
    let fa = vfs.lookup(&ctx(), ra.inode, c"f").unwrap();
    let fb = vfs.lookup(&ctx(), rb.inode, c"f").unwrap();
    assert_eq!(fa.inode, kino(a, ENTRY_INO));
    assert_eq!(fb.inode, kino(b, ENTRY_INO));
    assert_eq!((fa.attr.st_ino, fb.attr.st_ino), (fa.inode, fb.inode));
    assert_eq!(sa.take().last(), Some(&call("lookup", 1)));
    assert_eq!(sb.take().last(), Some(&call("lookup", 1)));
    // And each number leads back to its own backend.
    vfs.getattr(&ctx(), fb.inode, None).unwrap();
    assert_eq!(sb.take(), [call("getattr", ENTRY_INO)]);
    assert!(sa.take().is_empty());
}

#[test]
fn largest_backend_inode_maps_and_one_more_is_eio() {
    let vfs = vfs();
    let fake = FakeFs::new().max_ino(VFS_MAX_INO);
    let (idx, st) = mount(&vfs, fake, "/m");
    let root = kino(idx, 1);

    st.entry_ino.store(VFS_MAX_INO, Ordering::SeqCst);
    let e = vfs.lookup(&ctx(), root, c"big").unwrap();
    assert_eq!(e.inode, (idx as u64) << VFS_INDEX_SHIFT | VFS_MAX_INO);
    assert_eq!(
        e.inode >> VFS_INDEX_SHIFT,
        idx as u64,
        "must not spill into the index"
    );
    st.take();
    vfs.getattr(&ctx(), e.inode, None).unwrap();
    assert_eq!(st.take(), [call("getattr", VFS_MAX_INO)]);
    assert_eq!(vfs.outstanding_lookups(idx), 1);

    // One past the range: EIO, not counted, and the backend gets its lookup back.
    st.entry_ino.store(VFS_MAX_INO + 1, Ordering::SeqCst);
    assert_eq!(errno(vfs.lookup(&ctx(), root, c"bigger")), libc::EIO);
    assert_eq!(vfs.outstanding_lookups(idx), 1);
    assert_eq!(st.lookups_of(VFS_MAX_INO + 1), 0);
    // The same for the other entry-returning operations.
    assert_eq!(errno(vfs.mkdir(&ctx(), root, c"d", 0o755, 0)), libc::EIO);
    assert_eq!(
        errno(vfs.create(&ctx(), root, c"c", CreateIn::default())),
        libc::EIO
    );
    assert_eq!(st.lookups_of(VFS_MAX_INO + 1), 0);
    assert_eq!(vfs.outstanding_lookups(idx), 1);
}

#[test]
fn the_last_index_reaches_the_top_of_the_space() {
    let vfs = vfs();
    let mut last = None;
    for i in 0..255 {
        let fake = FakeFs::new().max_ino(VFS_MAX_INO);
        last = Some(mount(&vfs, fake, &format!("/m{i}")));
    }
    let (idx, st) = last.unwrap();
    assert_eq!(idx, 255);
    st.entry_ino.store(VFS_MAX_INO, Ordering::SeqCst);
    let root = vfs.lookup(&ctx(), ROOT_ID, c"m254").unwrap().inode;
    let e = vfs.lookup(&ctx(), root, c"top").unwrap();
    assert_eq!(e.inode, u64::MAX);
    st.take();
    vfs.getattr(&ctx(), u64::MAX, None).unwrap();
    assert_eq!(st.take(), [call("getattr", VFS_MAX_INO)]);
}

#[test]
fn backend_ranges_beyond_the_slice_are_refused() {
    let vfs = vfs();
    let too_wide = FakeFs::new().max_ino(VFS_MAX_INO + 1);
    assert!(matches!(
        vfs.mount(Box::new(too_wide), "/w"),
        Err(VfsError::InodeIndex(_))
    ));
    let zero_root = FakeFs::new().root(0);
    assert!(matches!(
        vfs.mount(Box::new(zero_root), "/z"),
        Err(VfsError::InodeIndex(_))
    ));
    let failing = FakeFs::new().failing_mount();
    match vfs.mount(Box::new(failing), "/f") {
        Err(VfsError::Mount(e)) => assert_eq!(e.raw_os_error(), Some(libc::ENOTDIR)),
        other => panic!("{:?}", other.map(|_| ())),
    }
    // Nothing of the refused mounts is left in the tree.
    assert_eq!(list(&vfs, ROOT_ID, 0).len(), 2);
    assert_eq!(errno(vfs.lookup(&ctx(), ROOT_ID, c"w")), libc::ENOENT);
}

#[test]
fn two_hundred_fifty_five_backends_then_fs_index_error() {
    let vfs = vfs();
    let mut seen = std::collections::HashSet::new();
    for i in 0..255 {
        let (idx, _) = mount(&vfs, FakeFs::new(), &format!("/m{i}"));
        assert!(seen.insert(idx), "index {idx} handed out twice");
        assert_ne!(idx, PSEUDO_FS_IDX);
    }
    match vfs.mount(Box::new(FakeFs::new()), "/one-too-many") {
        Err(VfsError::FsIndex(_)) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
    // The failed mount left no pseudo directory behind.
    assert_eq!(
        errno(vfs.lookup(&ctx(), ROOT_ID, c"one-too-many")),
        libc::ENOENT
    );
}

#[test]
fn an_index_is_reused_only_after_the_kernel_forgot_it() {
    let vfs = vfs();
    let mut mounted = Vec::new();
    for i in 0..255 {
        mounted.push(mount(&vfs, FakeFs::new(), &format!("/m{i}")));
    }
    let (idx, st) = mounted[9].clone();
    // The kernel holds two lookups through /m9: its root and a file.
    let root = vfs.lookup(&ctx(), ROOT_ID, c"m9").unwrap().inode;
    let file = vfs.lookup(&ctx(), root, c"f").unwrap().inode;
    assert_eq!(vfs.outstanding_lookups(idx), 2);

    let (ino, parent) = vfs.umount("/m9").unwrap();
    assert_eq!((ino, parent), (root, ROOT_ID));
    // The only free index is still known to the kernel: no reuse.
    assert!(matches!(
        vfs.mount(Box::new(FakeFs::new()), "/again"),
        Err(VfsError::FsIndex(_))
    ));
    // The old numbers lead nowhere (they do not reach the detached backend either).
    st.take();
    assert_eq!(errno(vfs.getattr(&ctx(), file, None)), libc::ENOENT);
    vfs.forget(&ctx(), file, 1);
    assert_eq!(vfs.outstanding_lookups(idx), 1);
    assert!(matches!(
        vfs.mount(Box::new(FakeFs::new()), "/again"),
        Err(VfsError::FsIndex(_))
    ));
    vfs.batch_forget(&ctx(), vec![(root, 1)]);
    assert_eq!(vfs.outstanding_lookups(idx), 0);
    assert!(st.take().is_empty(), "a detached backend was called");

    let (again, st2) = mount(&vfs, FakeFs::new(), "/again");
    assert_eq!(again, idx);
    // The reused numbers now mean the new backend.
    vfs.getattr(&ctx(), kino(idx, 5), None).unwrap();
    assert_eq!(st2.take(), [call("getattr", 5)]);
}

#[test]
fn free_indices_are_reused_late() {
    let vfs = vfs();
    let (a, _) = mount(&vfs, FakeFs::new(), "/a");
    vfs.umount("/a").unwrap();
    let (b, _) = mount(&vfs, FakeFs::new(), "/a");
    assert_ne!(a, b, "a path mounted again gets fresh numbers");
    // Same path, new backend: the kernel sees a different inode for the mount point.
    let root = vfs.lookup(&ctx(), ROOT_ID, c"a").unwrap();
    assert_eq!(root.inode, kino(b, 1));
}

#[test]
fn invalid_mount_paths_are_path_walk_errors() {
    let vfs = vfs();
    for p in [
        "", "a/b", "a", "/a/../b", "/..", "/a//b", "//", "/.", "/a/./b", "/a/b/..", "/a\0b",
    ] {
        match vfs.mount(Box::new(FakeFs::new()), p) {
            Err(VfsError::PathWalk(_)) => {}
            other => panic!("mount at {p:?}: {:?}", other.map(|_| ())),
        }
        assert!(
            matches!(vfs.umount(p), Err(VfsError::PathWalk(_))),
            "umount {p:?}"
        );
        assert!(
            matches!(vfs.get_rootfs(p), Err(VfsError::PathWalk(_))),
            "get_rootfs {p:?}"
        );
    }
    // Nothing got created on the way.
    assert_eq!(list(&vfs, ROOT_ID, 0).len(), 2);
    // A trailing slash names the same directory.
    mount(&vfs, FakeFs::new(), "/t/");
    assert!(vfs.get_rootfs("/t").unwrap().is_some());
}

#[test]
fn mounting_twice_at_one_path_is_refused() {
    let vfs = vfs();
    let (idx, st) = mount(&vfs, FakeFs::new(), "/a/b");
    match vfs.mount(Box::new(FakeFs::new()), "/a/b") {
        Err(VfsError::Mount(e)) => assert_eq!(e.raw_os_error(), Some(libc::EEXIST)),
        other => panic!("{:?}", other.map(|_| ())),
    }
    // The first mount is untouched.
    let a = vfs.lookup(&ctx(), ROOT_ID, c"a").unwrap().inode;
    assert_eq!(vfs.lookup(&ctx(), a, c"b").unwrap().inode, kino(idx, 1));
    assert_eq!(st.take(), [call("getattr", 1)]);
    // "/" twice as well.
    mount(&vfs, FakeFs::new(), "/");
    assert!(matches!(
        vfs.mount(Box::new(FakeFs::new()), "/"),
        Err(VfsError::Mount(_))
    ));
}

#[test]
fn umount_of_nothing_is_not_found() {
    let vfs = vfs();
    assert!(matches!(vfs.umount("/nothing"), Err(VfsError::NotFound(_))));
    assert!(matches!(vfs.umount("/"), Err(VfsError::NotFound(_))));
    mount(&vfs, FakeFs::new(), "/a/b");
    // /a exists, but only as a pseudo directory.
    assert!(matches!(vfs.umount("/a"), Err(VfsError::NotFound(_))));
    vfs.umount("/a/b").unwrap();
    assert!(matches!(vfs.umount("/a/b"), Err(VfsError::NotFound(_))));
}

#[test]
fn get_rootfs_finds_the_backend_at_a_path() {
    let vfs = vfs();
    let (idx, _) = mount(&vfs, FakeFs::new().root(7), "/a/b");
    let (fs, got_idx) = vfs.get_rootfs("/a/b").unwrap().expect("mounted");
    assert_eq!(got_idx, idx);
    let fake = fs.as_any().downcast_ref::<FakeFs>().expect("a FakeFs");
    assert_eq!(fake.root, 7);
    assert!(vfs.get_rootfs("/a").unwrap().is_none());
    assert!(vfs.get_rootfs("/zzz").unwrap().is_none());
    assert!(vfs.get_rootfs("/").unwrap().is_none());
    mount(&vfs, FakeFs::new().root(9), "/");
    let (root, _) = vfs.get_rootfs("/").unwrap().unwrap();
    assert_eq!(root.as_any().downcast_ref::<FakeFs>().unwrap().root, 9);
}

#[test]
fn a_detached_backend_answers_enoent_and_is_never_called() {
    let vfs = vfs();
    let (idx, st) = mount(&vfs, FakeFs::new(), "/d");
    let root = vfs.lookup(&ctx(), ROOT_ID, c"d").unwrap().inode;
    let file = vfs.lookup(&ctx(), root, c"f").unwrap().inode;
    let (fh, _, _) = vfs.open(&ctx(), file, libc::O_RDONLY as u32, 0).unwrap();
    let fh = fh.unwrap();
    vfs.umount("/d").unwrap();
    st.take();

    assert_eq!(errno(vfs.getattr(&ctx(), file, None)), libc::ENOENT);
    assert_eq!(errno(vfs.getattr(&ctx(), root, None)), libc::ENOENT);
    assert_eq!(errno(vfs.lookup(&ctx(), root, c"f")), libc::ENOENT);
    let mut w = NullWriter;
    assert_eq!(
        errno(vfs.read(&ctx(), file, fh, &mut w, 10, 0, None, 0)),
        libc::ENOENT
    );
    assert_eq!(
        errno(vfs.release(&ctx(), file, 0, fh, false, false, None)),
        libc::ENOENT
    );
    assert_eq!(errno(vfs.opendir(&ctx(), root, 0)), libc::ENOENT);
    assert_eq!(errno(vfs.statfs(&ctx(), root)), libc::ENOENT);
    assert_eq!(
        errno(vfs.rename(&ctx(), root, c"f", root, c"g", 0)),
        libc::ENOENT
    );
    // Forgets of its numbers, also too many, neither panic nor reach it.
    vfs.forget(&ctx(), file, 1);
    vfs.forget(&ctx(), root, 5);
    vfs.batch_forget(&ctx(), vec![(file, 3), (kino(idx, 12345), 1)]);
    assert_eq!(vfs.outstanding_lookups(idx), 0);
    assert!(st.take().is_empty());
    // The lookup of the mount point is gone too.
    assert_eq!(errno(vfs.lookup(&ctx(), ROOT_ID, c"d")), libc::ENOENT);
}

#[test]
fn unmounted_indices_and_out_of_range_numbers_are_enoent() {
    let vfs = vfs();
    mount(&vfs, FakeFs::new(), "/a");
    assert_eq!(errno(vfs.getattr(&ctx(), kino(200, 1), None)), libc::ENOENT);
    assert_eq!(errno(vfs.getattr(&ctx(), u64::MAX, None)), libc::ENOENT);
    // A pseudo number that was never handed out.
    assert_eq!(errno(vfs.getattr(&ctx(), 999, None)), libc::ENOENT);
    vfs.forget(&ctx(), kino(200, 1), 1);
    vfs.forget(&ctx(), 999, 1);
}

#[test]
fn a_lookup_in_flight_during_umount_never_hands_out_a_stale_number() {
    let vfs = Arc::new(vfs());
    let (idx, st) = mount(&vfs, FakeFs::new(), "/s");
    let root = vfs.lookup(&ctx(), ROOT_ID, c"s").unwrap().inode;
    vfs.forget(&ctx(), root, 1);
    let started = Arc::new(Barrier::new(2));
    let go = Arc::new(Barrier::new(2));
    *st.gate.lock().unwrap() = Some((started.clone(), go.clone()));
    let v = vfs.clone();
    let t = thread::spawn(move || v.lookup(&ctx(), root, c"f"));
    started.wait();
    // The backend is inside lookup; detach it now.
    vfs.umount("/s").unwrap();
    go.wait();
    let res = t.join().unwrap();
    assert_eq!(errno(res), libc::ENOENT);
    // Nothing is held on the index, and the backend got its lookup back.
    assert_eq!(vfs.outstanding_lookups(idx), 0);
    assert_eq!(st.lookups_of(ENTRY_INO), 0);
    assert!(st.take().contains(&call2("forget", ENTRY_INO, 1)));
}

#[test]
fn concurrent_requests_see_clean_errors_while_backends_come_and_go() {
    let vfs = Arc::new(vfs());
    let (_, root_st) = mount(&vfs, FakeFs::new(), "/");
    mount(&vfs, FakeFs::new(), "/stay");
    // Keeps the pseudo /x alive while /x/flip comes and goes.
    mount(&vfs, FakeFs::new(), "/x/keep");
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (vfs, stop) = (vfs.clone(), stop.clone());
            thread::spawn(move || {
                let mut ok = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let x = vfs.lookup(&ctx(), ROOT_ID, c"x").expect("/x stays").inode;
                    let flip = vfs.lookup(&ctx(), x, c"flip");
                    vfs.forget(&ctx(), x, 1);
                    match flip {
                        Ok(e) => {
                            for r in [
                                vfs.getattr(&ctx(), e.inode, None).map(|_| ()),
                                vfs.lookup(&ctx(), e.inode, c"f").map(|f| {
                                    vfs.forget(&ctx(), f.inode, 1);
                                }),
                                readdirplus_and_forget(&vfs, e.inode),
                                vfs.lookup(&ctx(), e.inode, c"..").map(|_| ()),
                            ] {
                                match r {
                                    Ok(()) => ok += 1,
                                    Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOENT)),
                                }
                            }
                            vfs.forget(&ctx(), e.inode, 1);
                        }
                        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOENT)),
                    }
                    let stay = vfs.lookup(&ctx(), ROOT_ID, c"stay").expect("/stay stays");
                    vfs.forget(&ctx(), stay.inode, 1);
                }
                ok
            })
        })
        .collect();
    let mut states = Vec::new();
    for _ in 0..300 {
        let (_, st) = mount(&vfs, FakeFs::new(), "/x/flip");
        states.push(st);
        let (_, parent) = vfs.umount("/x/flip").unwrap();
        assert_ne!(parent, 0);
        thread::yield_now();
    }
    let (_, last) = mount(&vfs, FakeFs::new(), "/x/flip");
    states.push(last);
    stop.store(true, Ordering::SeqCst);
    for r in readers {
        r.join().expect("a reader panicked");
    }
    // Every lookup handed out was forgotten: nothing is held anywhere.
    for idx in 1..=255u8 {
        assert_eq!(vfs.outstanding_lookups(idx), 0, "index {idx}");
    }
    // Backends still mounted got every forget (a detached one is dropped instead).
    assert_eq!(states.last().unwrap().total_lookups(), 0);
    // The root backend never saw a lookup of ".." or of a mount point.
    assert!(root_st.take().iter().all(|c| c.op == "getattr"));
}

/// READDIRPLUS of `dir` taking every entry, then forgetting each one as the kernel would.
fn readdirplus_and_forget(vfs: &Vfs, dir: u64) -> io::Result<()> {
    let mut got = Vec::new();
    let res = vfs.readdirplus(&ctx(), dir, 0, 4096, 0, &mut |_, e| {
        if e.inode != 0 {
            got.push(e.inode);
        }
        Ok(1)
    });
    for ino in got {
        vfs.forget(&ctx(), ino, 1);
    }
    res
}
