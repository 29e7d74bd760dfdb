//! Routing of every `FileSystem` method: the right backend gets the call with its own
//! inode numbers and the handle unchanged; replies carry the kernel's numbers.

use super::*;
use crate::abi::fuse_abi::ROOT_ID;
use crate::api::vfs::VFS_INDEX_SHIFT;

const FH: u64 = 0xF00D;
/// Root inode of the backend mounted at "/".
const R_ROOT: u64 = 2;

/// A root backend at "/", `b` at "/b" and `c` at "/c/d".
struct Fixture {
    vfs: Vfs,
    r: (VfsIndex, Arc<FakeState>),
    b: (VfsIndex, Arc<FakeState>),
    c: (VfsIndex, Arc<FakeState>),
}

impl Fixture {
    fn new(opts: VfsOptions) -> Fixture {
        let vfs = Vfs::new(opts);
        let r = mount(&vfs, FakeFs::new().root(R_ROOT), "/");
        let b = mount(&vfs, FakeFs::new(), "/b");
        let c = mount(&vfs, FakeFs::new(), "/c/d");
        Fixture { vfs, r, b, c }
    }

    /// Takes the calls of (r, b, c).
    fn take(&self) -> [Vec<Call>; 3] {
        [self.r.1.take(), self.b.1.take(), self.c.1.take()]
    }

    fn pseudo_c(&self) -> u64 {
        let e = self.vfs.lookup(&ctx(), ROOT_ID, c"c").unwrap();
        assert_eq!(e.inode >> VFS_INDEX_SHIFT, 0);
        e.inode
    }
}

type Op = fn(&Vfs, u64, u64) -> io::Result<()>;

fn attr() -> libc::stat64 {
    // SAFETY: stat64 is plain integers; all-zero is a valid value.
    unsafe { std::mem::zeroed() }
}

fn lock() -> FileLock {
    FileLock {
        start: 0,
        end: 10,
        lock_type: libc::F_RDLCK as u32,
        pid: 1,
    }
}

/// Every method that takes one inode (and maybe a handle): its name as the fake records
/// it, whether the handle is passed on, and a call through the Vfs.
fn single_inode_ops() -> Vec<(&'static str, bool, Op)> {
    vec![
        op("lookup", false, |v, i, _| {
            v.lookup(&ctx(), i, c"name").map(drop)
        }),
        op("getattr", true, |v, i, h| {
            v.getattr(&ctx(), i, Some(h)).map(drop)
        }),
        op("setattr", true, |v, i, h| {
            v.setattr(&ctx(), i, attr(), Some(h), SetattrValid::MODE)
                .map(drop)
        }),
        op("readlink", false, |v, i, _| v.readlink(&ctx(), i).map(drop)),
        op("symlink", false, |v, i, _| {
            v.symlink(&ctx(), c"t", i, c"s").map(drop)
        }),
        op("mknod", false, |v, i, _| {
            v.mknod(&ctx(), i, c"n", libc::S_IFIFO, 0, 0).map(drop)
        }),
        op("mkdir", false, |v, i, _| {
            v.mkdir(&ctx(), i, c"d", 0o755, 0o22).map(drop)
        }),
        op("unlink", false, |v, i, _| v.unlink(&ctx(), i, c"u")),
        op("rmdir", false, |v, i, _| v.rmdir(&ctx(), i, c"r")),
        op("open", false, |v, i, _| {
            v.open(&ctx(), i, libc::O_RDWR as u32, 0).map(drop)
        }),
        op("create", false, |v, i, _| {
            v.create(&ctx(), i, c"f", CreateIn::default()).map(drop)
        }),
        op("read", true, |v, i, h| {
            v.read(&ctx(), i, h, &mut NullWriter, 8, 0, None, 0)
                .map(drop)
        }),
        op("write", true, |v, i, h| {
            v.write(&ctx(), i, h, &mut EmptyReader, 8, 0, None, false, 0, 0)
                .map(drop)
        }),
        op("statfs", false, |v, i, _| v.statfs(&ctx(), i).map(drop)),
        op("release", true, |v, i, h| {
            v.release(&ctx(), i, 0, h, true, false, Some(3))
        }),
        op("fsync", true, |v, i, h| v.fsync(&ctx(), i, true, h)),
        op("flush", true, |v, i, h| v.flush(&ctx(), i, h, 3)),
        op("setxattr", false, |v, i, _| {
            v.setxattr(&ctx(), i, c"user.a", b"v", 0)
        }),
        op("getxattr", false, |v, i, _| {
            v.getxattr(&ctx(), i, c"user.a", 8).map(drop)
        }),
        op("listxattr", false, |v, i, _| {
            v.listxattr(&ctx(), i, 64).map(drop)
        }),
        op("removexattr", false, |v, i, _| {
            v.removexattr(&ctx(), i, c"user.a")
        }),
        op("opendir", false, |v, i, _| {
            v.opendir(&ctx(), i, 0).map(drop)
        }),
        op("readdir", true, |v, i, h| {
            v.readdir(&ctx(), i, h, 4096, 0, &mut |_| Ok(1))
        }),
        op("readdirplus", true, |v, i, h| {
            v.readdirplus(&ctx(), i, h, 4096, 0, &mut |_, _| Ok(1))
        }),
        op("fsyncdir", true, |v, i, h| v.fsyncdir(&ctx(), i, false, h)),
        op("releasedir", true, |v, i, h| v.releasedir(&ctx(), i, 0, h)),
        op("access", false, |v, i, _| {
            v.access(&ctx(), i, libc::R_OK as u32)
        }),
        op("getlk", true, |v, i, h| {
            v.getlk(&ctx(), i, h, 9, lock(), 0).map(drop)
        }),
        op("setlk", true, |v, i, h| v.setlk(&ctx(), i, h, 9, lock(), 0)),
        op("setlkw", true, |v, i, h| {
            v.setlkw(&ctx(), i, h, 9, lock(), 0)
        }),
        op("bmap", false, |v, i, _| v.bmap(&ctx(), i, 5, 512).map(drop)),
        op("ioctl", true, |v, i, h| {
            v.ioctl_with_arg(&ctx(), i, h, 0, 0x1234, 0, &[], 0)
                .map(drop)
        }),
        op("poll", true, |v, i, h| {
            v.poll(&ctx(), i, h, 77, 0, libc::POLLIN as u32).map(drop)
        }),
        op("fallocate", true, |v, i, h| {
            v.fallocate(&ctx(), i, h, 0, 0, 4096)
        }),
        op("lseek", true, |v, i, h| {
            v.lseek(&ctx(), i, h, 100, libc::SEEK_DATA as u32).map(drop)
        }),
        op("setupmapping", true, |v, i, h| {
            v.setupmapping(&ctx(), i, h, 0, 4096, 0, 0, &mut NoDax)
        }),
        op("removemapping", false, |v, i, _| {
            let one = RemovemappingOne {
                moffset: 0,
                len: 4096,
            };
            v.removemapping(&ctx(), i, vec![one], &mut NoDax)
        }),
        op("syncfs", false, |v, i, _| v.syncfs(&ctx(), i)),
        // The cookie goes where the handle would (the fake records it as one).
        op("notify_retrieve_reply", true, |v, i, h| {
            v.notify_retrieve_reply(&ctx(), h, i, 0, 0, &mut EmptyReader)
        }),
        op("tmpfile", false, |v, i, _| {
            v.tmpfile(&ctx(), i, CreateIn::default()).map(drop)
        }),
        op("statx", true, |v, i, h| {
            v.statx(&ctx(), i, Some(h), 0, libc::STATX_BASIC_STATS)
                .map(drop)
        }),
    ]
}

fn op(name: &'static str, has_fh: bool, f: Op) -> (&'static str, bool, Op) {
    (name, has_fh, f)
}

fn expected(op: &'static str, ino: u64, has_fh: bool) -> Call {
    Call {
        fh: has_fh.then_some(FH),
        ..call(op, ino)
    }
}

#[test]
fn every_single_inode_op_reaches_the_owning_backend_with_its_own_numbers() {
    let fx = Fixture::new(VfsOptions::default());
    let (b, _) = fx.b;
    let (c, _) = fx.c;
    fx.take();
    for (op, has_fh, f) in single_inode_ops() {
        // An inode of b.
        f(&fx.vfs, kino(b, 7), FH).unwrap_or_else(|e| panic!("{op}: {e}"));
        let [r_calls, b_calls, c_calls] = fx.take();
        assert_eq!(b_calls, [expected(op, 7, has_fh)], "{op}");
        assert!(
            r_calls.is_empty() && c_calls.is_empty(),
            "{op}: {r_calls:?} {c_calls:?}"
        );

        // The FUSE root: the root backend's own root inode.
        f(&fx.vfs, ROOT_ID, FH).unwrap_or_else(|e| panic!("{op} on the root: {e}"));
        let [r_calls, b_calls, c_calls] = fx.take();
        assert_eq!(r_calls, [expected(op, R_ROOT, has_fh)], "{op} on the root");
        assert!(b_calls.is_empty() && c_calls.is_empty(), "{op} on the root");

        // The largest inode of c.
        f(&fx.vfs, kino(c, VFS_MAX_INO_OF_FAKE), FH).unwrap();
        let [_, _, c_calls] = fx.take();
        assert_eq!(
            c_calls,
            [expected(op, VFS_MAX_INO_OF_FAKE, has_fh)],
            "{op} in c"
        );
    }
}

/// The fake's largest inode (`FakeFs::new` allows up to 2^32).
const VFS_MAX_INO_OF_FAKE: u64 = 1 << 32;

#[test]
fn a_detached_backend_answers_every_op_with_enoent() {
    let fx = Fixture::new(VfsOptions::default());
    let (b, _) = fx.b;
    fx.vfs.umount("/b").unwrap();
    fx.take();
    for (op, _, f) in single_inode_ops() {
        let e = f(&fx.vfs, kino(b, 7), FH).expect_err(op);
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{op}");
    }
    for (a, z) in [(kino(b, 7), ROOT_ID), (ROOT_ID, kino(b, 7))] {
        assert_eq!(
            errno(fx.vfs.rename(&ctx(), a, c"x", z, c"y", 0)),
            libc::ENOENT
        );
        assert_eq!(errno(fx.vfs.link(&ctx(), a, z, c"y")), libc::ENOENT);
        assert_eq!(
            errno(fx.vfs.copy_file_range(&ctx(), a, 1, 0, z, 2, 0, 9, 0)),
            libc::ENOENT
        );
    }
    fx.vfs.forget(&ctx(), kino(b, 7), 1);
    fx.vfs.batch_forget(&ctx(), vec![(kino(b, 7), 1)]);
    assert_eq!(fx.take(), [vec![], vec![], vec![]]);
}

#[test]
fn entries_carry_kernel_numbers_and_are_counted() {
    let fx = Fixture::new(VfsOptions::default());
    let v = &fx.vfs;
    let (r, _) = fx.r;
    let (b, _) = fx.b;
    let bi = kino(b, 7);
    let entries: Vec<(&str, Entry)> = vec![
        ("lookup", v.lookup(&ctx(), bi, c"x").unwrap()),
        ("symlink", v.symlink(&ctx(), c"t", bi, c"s").unwrap()),
        (
            "mknod",
            v.mknod(&ctx(), bi, c"n", libc::S_IFREG, 0, 0).unwrap(),
        ),
        ("mkdir", v.mkdir(&ctx(), bi, c"d", 0o755, 0).unwrap()),
        ("link", v.link(&ctx(), kino(b, 8), bi, c"l").unwrap()),
        ("create", {
            let (e, h, _, _) = v.create(&ctx(), bi, c"c", CreateIn::default()).unwrap();
            assert_eq!(h, Some(0x0C0E), "the handle comes back unchanged");
            e
        }),
        ("tmpfile", {
            let (e, h, _) = v.tmpfile(&ctx(), bi, CreateIn::default()).unwrap();
            assert_eq!(h, Some(0x7E));
            e
        }),
    ];
    for (op, e) in &entries {
        assert_eq!(e.inode, kino(b, ENTRY_INO), "{op}");
        assert_eq!(e.attr.st_ino, e.inode, "{op}: st_ino");
    }
    assert_eq!(v.outstanding_lookups(b), entries.len() as u64);
    assert_eq!(fx.b.1.lookups_of(ENTRY_INO), entries.len() as i64);
    // The same in the root backend: its own slice, not the pseudo one.
    let e = v.mkdir(&ctx(), ROOT_ID, c"d", 0o755, 0).unwrap();
    assert_eq!(e.inode, kino(r, ENTRY_INO));
    assert_eq!(v.outstanding_lookups(r), 1);
    // A negative entry is passed through and not counted.
    assert_eq!(errno(v.lookup(&ctx(), bi, c"missing")), libc::ENOENT);
    assert_eq!(v.outstanding_lookups(b), entries.len() as u64);
}

#[test]
fn attributes_carry_kernel_numbers() {
    let fx = Fixture::new(VfsOptions::default());
    let v = &fx.vfs;
    let (b, _) = fx.b;
    let bi = kino(b, 7);
    assert_eq!(v.getattr(&ctx(), bi, None).unwrap().0.st_ino, bi);
    let set = v
        .setattr(&ctx(), bi, attr(), None, SetattrValid::MODE)
        .unwrap();
    assert_eq!(set.0.st_ino, bi);
    assert_eq!(v.statx(&ctx(), bi, None, 0, 0).unwrap().0.stx_ino, bi);
    // The root backend's root is the FUSE root.
    assert_eq!(v.getattr(&ctx(), ROOT_ID, None).unwrap().0.st_ino, ROOT_ID);
    assert_eq!(
        v.statx(&ctx(), ROOT_ID, None, 0, 0).unwrap().0.stx_ino,
        ROOT_ID
    );
    // getattr with no handle passes none.
    fx.take();
    v.getattr(&ctx(), bi, None).unwrap();
    assert_eq!(fx.b.1.take(), [call("getattr", 7)]);
}

#[test]
fn handles_come_back_unchanged_and_route_with_their_inode() {
    let fx = Fixture::new(VfsOptions::default());
    let v = &fx.vfs;
    let (b, _) = fx.b;
    let (c, _) = fx.c;
    let (hb, _, _) = v.open(&ctx(), kino(b, 5), 0, 0).unwrap();
    let (hc, _, _) = v.open(&ctx(), kino(c, 5), 0, 0).unwrap();
    // Each backend's own handle, equal numbers in both: the inode decides.
    assert_eq!(hb, Some(0x0FE5));
    assert_eq!(hc, Some(0x0FE5));
    let (hd, _) = v.opendir(&ctx(), kino(b, 6), 0).unwrap();
    assert_eq!(hd, Some(0x0D6));
    fx.take();
    v.read(&ctx(), kino(c, 5), 0x0FE5, &mut NullWriter, 10, 0, None, 0)
        .unwrap();
    v.release(&ctx(), kino(b, 5), 0, 0x0FE5, false, false, None)
        .unwrap();
    let [r, bc, cc] = fx.take();
    assert!(r.is_empty());
    assert_eq!(bc, [call_fh("release", 5, 0x0FE5)]);
    assert_eq!(cc, [call_fh("read", 5, 0x0FE5)]);
}

#[test]
fn two_inode_ops_stay_in_one_backend() {
    let fx = Fixture::new(VfsOptions::default());
    let v = &fx.vfs;
    let (r, _) = fx.r;
    let (b, _) = fx.b;
    let (c, _) = fx.c;
    fx.take();
    v.rename(&ctx(), kino(b, 3), c"x", kino(b, 4), c"y", 0)
        .unwrap();
    assert_eq!(fx.b.1.take(), [call2("rename", 3, 4)]);
    v.rename(
        &ctx(),
        ROOT_ID,
        c"x",
        kino(r, 4),
        c"y",
        libc::RENAME_NOREPLACE,
    )
    .unwrap();
    assert_eq!(fx.r.1.take(), [call2("rename", R_ROOT, 4)]);
    let e = v.link(&ctx(), kino(c, 3), kino(c, 4), c"l").unwrap();
    assert_eq!(e.inode, kino(c, ENTRY_INO));
    assert_eq!(fx.c.1.take(), [call2("link", 3, 4)]);
    let n = v
        .copy_file_range(&ctx(), kino(b, 3), 0xA, 0, kino(b, 4), 0xB, 0, 99, 0)
        .unwrap();
    assert_eq!(n, 99);
    let copied = fx.b.1.take();
    assert_eq!(
        copied,
        [Call {
            fh: Some(0xA ^ 0xB),
            ..call2("copy_file_range", 3, 4)
        }]
    );

    // Across backends: EXDEV, and neither backend is asked.
    let pairs = [
        (kino(b, 3), kino(c, 4)),
        (ROOT_ID, kino(b, 4)),
        (kino(c, 3), ROOT_ID),
    ];
    for (x, y) in pairs {
        assert_eq!(errno(v.rename(&ctx(), x, c"x", y, c"y", 0)), libc::EXDEV);
        assert_eq!(errno(v.link(&ctx(), x, y, c"l")), libc::EXDEV);
        assert_eq!(
            errno(v.copy_file_range(&ctx(), x, 1, 0, y, 2, 0, 9, 0)),
            libc::EXDEV
        );
    }
    // Into or out of a pseudo directory: read-only.
    let pc = fx.pseudo_c();
    assert_eq!(
        errno(v.rename(&ctx(), kino(b, 3), c"x", pc, c"y", 0)),
        libc::EROFS
    );
    assert_eq!(
        errno(v.rename(&ctx(), pc, c"d", kino(b, 3), c"y", 0)),
        libc::EROFS
    );
    assert_eq!(errno(v.link(&ctx(), kino(b, 3), pc, c"l")), libc::EROFS);
    assert_eq!(fx.take(), [vec![], vec![], vec![]]);
    assert_eq!(v.outstanding_lookups(c), 1);
}

#[test]
fn forgets_reach_the_owner_and_drop_the_count() {
    let fx = Fixture::new(VfsOptions::default());
    let v = &fx.vfs;
    let (r, _) = fx.r;
    let (b, _) = fx.b;
    let fb = v.lookup(&ctx(), kino(b, 7), c"f").unwrap().inode;
    v.lookup(&ctx(), kino(b, 7), c"f").unwrap();
    let fr = v.lookup(&ctx(), ROOT_ID, c"f").unwrap().inode;
    let b_root = v.lookup(&ctx(), ROOT_ID, c"b").unwrap().inode;
    let pc = fx.pseudo_c();
    assert_eq!((v.outstanding_lookups(b), v.outstanding_lookups(r)), (3, 1));
    fx.take();

    v.forget(&ctx(), fb, 2);
    assert_eq!(fx.b.1.take(), [call2("forget", ENTRY_INO, 2)]);
    v.batch_forget(&ctx(), vec![(fr, 1), (ROOT_ID, 1), (pc, 1), (b_root, 1)]);
    let [rc, bc, cc] = fx.take();
    assert_eq!(rc, [call2("forget", ENTRY_INO, 1)]);
    // The Vfs answered the lookup of b's root itself (getattr): b never counted it, so
    // it does not get the forget either. The FUSE root and pseudo numbers are ignored.
    assert!(bc.is_empty() && cc.is_empty(), "{bc:?} {cc:?}");
    assert_eq!((v.outstanding_lookups(b), v.outstanding_lookups(r)), (0, 0));
    assert_eq!(fx.b.1.total_lookups(), 0);
    assert_eq!(fx.r.1.total_lookups(), 0);
}

#[test]
fn readdir_translates_d_ino() {
    let fx = Fixture::new(VfsOptions::default());
    let (b, _) = fx.b;
    let (r, _) = fx.r;
    let got = list(&fx.vfs, kino(b, 1), FH);
    let want = [
        (kino(b, 1), ".".to_string()),
        (kino(b, 1), "..".to_string()),
        (kino(b, ENTRY_INO), "f".to_string()),
    ];
    assert_eq!(got, want);
    assert_eq!(fx.b.1.take().last(), Some(&call_fh("readdir", 1, FH)));
    let root = list(&fx.vfs, ROOT_ID, FH);
    assert_eq!(root[2], (kino(r, ENTRY_INO), "f".to_string()));
    // Resuming from an offset goes to the backend unchanged.
    let mut rest = Vec::new();
    fx.vfs
        .readdir(&ctx(), kino(b, 1), FH, 4096, 2, &mut |d| {
            rest.push(d.name.to_vec());
            Ok(1)
        })
        .unwrap();
    assert_eq!(rest, [b"f".to_vec()]);
}

#[test]
fn readdirplus_translates_entries_and_counts_only_taken_ones() {
    let fx = Fixture::new(VfsOptions::default());
    let v = &fx.vfs;
    let (b, st) = fx.b.clone();
    let mut got = Vec::new();
    // Takes ".", "..", "f"; refuses "g" (the reply is full).
    v.readdirplus(&ctx(), kino(b, 1), FH, 4096, 0, &mut |d, e| {
        if got.len() == 3 {
            return Ok(0);
        }
        got.push((
            String::from_utf8(d.name.to_vec()).unwrap(),
            d.ino,
            e.inode,
            e.attr.st_ino,
        ));
        Ok(1)
    })
    .unwrap();
    assert_eq!(got[0], (".".into(), kino(b, 1), 0, 0));
    assert_eq!(got[1], ("..".into(), kino(b, 1), 0, 0));
    let f = kino(b, ENTRY_INO);
    assert_eq!(got[2], ("f".into(), f, f, f));
    assert_eq!(v.outstanding_lookups(b), 1);
    assert_eq!(st.lookups_of(ENTRY_INO), 1);
    assert_eq!(st.lookups_of(ENTRY_INO2), 0);

    // An error from the kernel side: not counted either, and the backend gives it back.
    let res = v.readdirplus(&ctx(), kino(b, 1), FH, 4096, 3, &mut |_, _| {
        Err(io::Error::from_raw_os_error(libc::EFAULT))
    });
    assert_eq!(errno(res), libc::EFAULT);
    assert_eq!(v.outstanding_lookups(b), 1);
    assert_eq!(st.lookups_of(ENTRY_INO2), 0);
}

#[test]
fn readdirplus_never_counts_dot_entries() {
    let vfs = vfs();
    let (idx, _) = mount(&vfs, FakeFs::new().dot_entries(), "/careless");
    let mut got = Vec::new();
    vfs.readdirplus(&ctx(), kino(idx, 1), 0, 4096, 0, &mut |d, e| {
        got.push((d.name.to_vec(), e.inode));
        Ok(1)
    })
    .unwrap();
    // The kernel ignores "." and ".." (and never forgets them): no entry, no count.
    assert_eq!(got[0], (b".".to_vec(), 0));
    assert_eq!(got[1], (b"..".to_vec(), 0));
    assert_eq!(got[2].1, kino(idx, ENTRY_INO));
    assert_eq!(vfs.outstanding_lookups(idx), 2);
}

#[test]
fn pseudo_wide_ops() {
    let fx = Fixture::new(VfsOptions::default());
    let v = &fx.vfs;
    let pc = fx.pseudo_c();
    fx.take();
    // syncfs of a pseudo directory syncs every backend through its root.
    v.syncfs(&ctx(), pc).unwrap();
    let [r, b, c] = fx.take();
    assert_eq!(r, [call("syncfs", R_ROOT)]);
    assert_eq!(b, [call("syncfs", 1)]);
    assert_eq!(c, [call("syncfs", 1)]);
    // Ops on a pseudo directory's (non-existent) files.
    assert_eq!(
        errno(v.read(&ctx(), pc, 0, &mut NullWriter, 1, 0, None, 0)),
        libc::EISDIR
    );
    assert_eq!(errno(v.fallocate(&ctx(), pc, 0, 0, 0, 1)), libc::EISDIR);
    v.fsyncdir(&ctx(), pc, false, 0).unwrap();
    v.flush(&ctx(), pc, 0, 0).unwrap();
    v.release(&ctx(), pc, 0, 0, false, false, None).unwrap();
    let mut names = Vec::new();
    v.readdir(&ctx(), pc, 0, 4096, 0, &mut |d| {
        names.push(d.name.to_vec());
        Ok(1)
    })
    .unwrap();
    assert_eq!(names, [b".".to_vec(), b"..".to_vec(), b"d".to_vec()]);
    // destroy reaches every backend once.
    v.destroy();
    for st in [&fx.r.1, &fx.b.1, &fx.c.1] {
        assert_eq!(st.destroyed.load(Ordering::SeqCst), 1);
    }
    assert_eq!(fx.take(), [vec![], vec![], vec![]]);
}

#[test]
fn seal_size_and_no_readdir_options() {
    let opts = VfsOptions {
        seal_size: true,
        no_readdir: true,
        ..VfsOptions::default()
    };
    let fx = Fixture::new(opts);
    let v = &fx.vfs;
    let (b, _) = fx.b;
    fx.take();
    let size = SetattrValid::SIZE | SetattrValid::MODE;
    assert_eq!(
        errno(v.setattr(&ctx(), kino(b, 3), attr(), None, size)),
        libc::EPERM
    );
    assert_eq!(
        errno(v.fallocate(&ctx(), kino(b, 3), FH, 0, 0, 10)),
        libc::EPERM
    );
    assert_eq!(
        errno(v.readdir(&ctx(), kino(b, 1), FH, 4096, 0, &mut |_| Ok(1))),
        libc::EPERM
    );
    let plus = v.readdirplus(&ctx(), ROOT_ID, FH, 4096, 0, &mut |_, _| Ok(1));
    assert_eq!(errno(plus), libc::EPERM);
    assert_eq!(fx.take(), [vec![], vec![], vec![]]);
    // Other attribute changes still go through.
    v.setattr(&ctx(), kino(b, 3), attr(), None, SetattrValid::MODE)
        .unwrap();
    assert_eq!(fx.b.1.take(), [call("setattr", 3)]);
}

const SENSITIVE_ALL: FsOptions = FsOptions::WRITEBACK_CACHE
    .union(FsOptions::DO_READDIRPLUS)
    .union(FsOptions::ZERO_MESSAGE_OPEN)
    .union(FsOptions::ZERO_MESSAGE_OPENDIR)
    .union(FsOptions::HANDLE_KILLPRIV_V2);

#[test]
fn init_enables_what_every_backend_wants_and_nothing_vetoed() {
    let vfs = vfs();
    let (_, a) = mount(
        &vfs,
        FakeFs::new().wants(SENSITIVE_ALL | FsOptions::POSIX_LOCKS),
        "/a",
    );
    let (_, b) = mount(&vfs, FakeFs::new().wants(SENSITIVE_ALL), "/b");
    let capable = FsOptions::all();
    let got = vfs.init(capable).unwrap();
    // Both backends were asked with what the kernel offers, then told what was granted.
    let asked_then_told = [call("init", capable.bits()), call("init", got.bits())];
    assert_eq!(a.take(), asked_then_told);
    assert_eq!(b.take(), asked_then_told);
    for o in [
        FsOptions::WRITEBACK_CACHE,
        FsOptions::DO_READDIRPLUS,
        FsOptions::ZERO_MESSAGE_OPEN,
        FsOptions::ZERO_MESSAGE_OPENDIR,
        FsOptions::ASYNC_READ,
        FsOptions::PARALLEL_DIROPS,
    ] {
        assert!(got.contains(o), "{o:?} missing from {got:?}");
    }
    // Only a wants POSIX locks: off. killpriv_v2 is off in the default options.
    assert!(!got.contains(FsOptions::POSIX_LOCKS));
    assert!(!got.contains(FsOptions::HANDLE_KILLPRIV_V2));
    // Never more than the Vfs options allow.
    assert!(!got.contains(FsOptions::SPLICE_READ));
    assert_eq!(vfs.options().in_opts, capable);
    assert_eq!(vfs.options().out_opts, got);
}

#[test]
fn init_honours_vetoes_and_what_the_kernel_offers() {
    let opts = VfsOptions {
        no_writeback: true,
        no_open: false,
        killpriv_v2: true,
        ..VfsOptions::default()
    };
    let vfs = Vfs::new(opts);
    mount(&vfs, FakeFs::new().wants(SENSITIVE_ALL), "/a");
    mount(&vfs, FakeFs::new().wants(SENSITIVE_ALL), "/b");
    let capable = FsOptions::all() - FsOptions::ASYNC_READ;
    let got = vfs.init(capable).unwrap();
    assert!(
        !got.contains(FsOptions::WRITEBACK_CACHE),
        "vetoed by no_writeback"
    );
    assert!(
        !got.contains(FsOptions::ZERO_MESSAGE_OPEN),
        "vetoed by !no_open"
    );
    assert!(got.contains(FsOptions::ZERO_MESSAGE_OPENDIR));
    assert!(got.contains(FsOptions::HANDLE_KILLPRIV_V2));
    assert!(
        !got.contains(FsOptions::ASYNC_READ),
        "the kernel did not offer it"
    );
}

#[test]
fn init_without_backends_enables_no_backend_sensitive_option() {
    let vfs = vfs();
    let got = vfs.init(FsOptions::all()).unwrap();
    assert!(!got.intersects(SENSITIVE_ALL));
    assert!(got.contains(FsOptions::ASYNC_READ));
}

#[test]
fn backends_mounted_after_init_are_initialised() {
    let vfs = vfs();
    let capable = FsOptions::ASYNC_READ | FsOptions::DO_READDIRPLUS;
    vfs.init(capable).unwrap();
    let granted = vfs.options().out_opts;
    assert_eq!(
        granted,
        FsOptions::ASYNC_READ,
        "no backend asked for READDIRPLUS"
    );
    // A late backend learns what the session settled on.
    let (_, late) = mount(&vfs, FakeFs::new(), "/late");
    assert_eq!(late.take(), [call("init", granted.bits())]);
    match vfs.mount(Box::new(FakeFs::new().failing_init()), "/bad") {
        Err(crate::api::vfs::VfsError::Initialize(_)) => {}
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(vfs.get_rootfs("/bad").unwrap().is_none());
    assert_eq!(errno(vfs.lookup(&ctx(), ROOT_ID, c"bad")), libc::ENOENT);
}

#[test]
fn init_fails_when_a_backend_fails() {
    let vfs = vfs();
    mount(&vfs, FakeFs::new(), "/a");
    mount(&vfs, FakeFs::new().failing_init(), "/b");
    assert_eq!(errno(vfs.init(FsOptions::all())), libc::EPROTO);
}
