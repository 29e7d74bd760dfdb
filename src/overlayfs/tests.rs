//! Driver tests: an `OverlayFs` over passthrough layers in temporary directories, called
//! through the `FileSystem` methods (no mount). The real-mount comparisons with the
//! kernel's overlay are in `tests/overlay_*.rs`. Root is needed for trusted attributes
//! and whiteout devices; without it these tests say so and return.

use std::ffi::CString;
use std::fs;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vmm_sys_util::tempdir::TempDir;

use super::layer_ops::BufSink;
use super::{Config, DynLayer, OverlayFs};
use crate::abi::fuse_abi::ROOT_ID;
use crate::api::filesystem::{Context, DirEntry, Entry, FileSystem, SetattrValid};
use crate::passthrough::{self, PassthroughFs};

struct Setup {
    _tmp: TempDir,
    lower: PathBuf,
    upper: PathBuf,
    work: PathBuf,
}

fn root() -> bool {
    if crate::sys::geteuid() != 0 {
        crate::cannot_run("overlay driver tests need root");
        return false;
    }
    true
}

fn layer(dir: &Path) -> Arc<DynLayer> {
    let cfg = passthrough::Config {
        root_dir: dir.to_string_lossy().into_owned(),
        xattr: true,
        ..Default::default()
    };
    Arc::new(PassthroughFs::<()>::new(cfg).unwrap())
}

fn setup(build: impl FnOnce(&Path, &Path)) -> Setup {
    let tmp = TempDir::new_with_prefix("/tmp/ovl-unit-").unwrap();
    let b = tmp.as_path().to_path_buf();
    let s = Setup {
        lower: b.join("l"),
        upper: b.join("u"),
        work: b.join("w"),
        _tmp: tmp,
    };
    for d in [&s.lower, &s.upper, &s.work] {
        fs::create_dir(d).unwrap();
    }
    build(&s.lower, &s.upper);
    s
}

fn overlay(s: &Setup) -> OverlayFs {
    let cfg = Config {
        work: s.work.to_string_lossy().into_owned(),
        ..Default::default()
    };
    OverlayFs::with_layers(Some(layer(&s.upper)), vec![layer(&s.lower)], cfg).unwrap()
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn ctx() -> Context {
    Context::new()
}

fn lookup(fs: &OverlayFs, parent: u64, name: &str) -> std::io::Result<Entry> {
    fs.lookup(&ctx(), parent, &c(name))
}

fn names(fs: &OverlayFs, dir: u64) -> Vec<String> {
    let (h, _) = fs.opendir(&ctx(), dir, 0).unwrap();
    let h = h.unwrap();
    let mut out = Vec::new();
    fs.readdir(&ctx(), dir, h, 4096, 0, &mut |d: DirEntry| {
        out.push(String::from_utf8_lossy(d.name).into_owned());
        Ok(1)
    })
    .unwrap();
    fs.releasedir(&ctx(), dir, 0, h).unwrap();
    out.retain(|n| n != "." && n != "..");
    out.sort();
    out
}

fn read_all(fs: &OverlayFs, ino: u64) -> Vec<u8> {
    let (h, _, _) = fs.open(&ctx(), ino, libc::O_RDONLY as u32, 0).unwrap();
    let h = h.unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut sink = BufSink {
        buf: &mut buf,
        len: 0,
    };
    let n = fs
        .read(&ctx(), ino, h, &mut sink, 1 << 16, 0, None, 0)
        .unwrap();
    fs.release(&ctx(), ino, 0, h, false, false, None).unwrap();
    buf.truncate(n);
    buf
}

fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    let path = CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    let mut buf = vec![0u8; 256];
    crate::sys::getxattr(&path, &c(name), &mut buf)
        .ok()
        .map(|n| buf[..n].to_vec())
}

#[test]
fn merged_lookup_readdir_and_whiteouts() {
    if !root() {
        return;
    }
    let s = setup(|l, u| {
        fs::create_dir(l.join("d")).unwrap();
        fs::write(l.join("d/lower"), b"L").unwrap();
        fs::write(l.join("d/gone"), b"G").unwrap();
        fs::create_dir(u.join("d")).unwrap();
        fs::write(u.join("d/upper"), b"U").unwrap();
        let dir = CString::new(u.join("d").as_os_str().as_encoded_bytes()).unwrap();
        let dir = crate::sys::open(&dir, libc::O_PATH | libc::O_DIRECTORY).unwrap();
        crate::sys::mknodat(dir.as_fd(), &c("gone"), libc::S_IFCHR, 0).unwrap();
    });
    let fs = overlay(&s);
    let d = lookup(&fs, ROOT_ID, "d").unwrap();
    assert_eq!(d.attr.st_nlink, 1, "merged directories show one link");
    assert_eq!(names(&fs, d.inode), ["lower", "upper"]);
    assert_eq!(
        lookup(&fs, d.inode, "gone").unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    let l = lookup(&fs, d.inode, "lower").unwrap();
    assert_eq!(read_all(&fs, l.inode), b"L");
    assert_eq!(
        l.attr.st_ino,
        fs::metadata(s.lower.join("d/lower")).unwrap().ino()
    );
}

#[test]
fn copy_up_is_complete_and_leaves_work_empty() {
    if !root() {
        return;
    }
    let s = setup(|l, _| {
        fs::write(l.join("f"), b"lower data").unwrap();
        let p = CString::new(l.join("f").as_os_str().as_encoded_bytes()).unwrap();
        crate::sys::setxattr(&p, &c("user.k"), b"v", 0).unwrap();
        fs::set_permissions(
            l.join("f"),
            std::os::unix::fs::PermissionsExt::from_mode(0o640),
        )
        .unwrap();
    });
    let fs = overlay(&s);
    let f = lookup(&fs, ROOT_ID, "f").unwrap();
    let mtime = fs::metadata(s.lower.join("f")).unwrap().mtime();
    let mut attr = f.attr;
    attr.st_uid = 1234;
    fs.setattr(&ctx(), f.inode, attr, None, SetattrValid::UID)
        .unwrap();
    let up = fs::metadata(s.upper.join("f")).unwrap();
    assert_eq!(fs::read(s.upper.join("f")).unwrap(), b"lower data");
    assert_eq!(
        (up.uid(), up.mode() & 0o7777, up.mtime()),
        (1234, 0o640, mtime)
    );
    assert_eq!(
        xattr(&s.upper.join("f"), "user.k").as_deref(),
        Some(&b"v"[..])
    );
    assert!(xattr(&s.upper.join("f"), "trusted.overlay.fbrs.origin").is_some());
    assert_eq!(fs::read_dir(s.work.join("work")).unwrap().count(), 0);
    // The lower file is untouched and the inode number did not change.
    assert_eq!(fs::metadata(s.lower.join("f")).unwrap().uid(), 0);
    let again = fs.getattr(&ctx(), f.inode, None).unwrap().0;
    assert_eq!(again.st_ino, f.attr.st_ino);
}

#[test]
fn unlink_rmdir_mkdir_leave_the_kernel_markers() {
    if !root() {
        return;
    }
    let s = setup(|l, _| {
        fs::write(l.join("f"), b"x").unwrap();
        fs::create_dir(l.join("d")).unwrap();
        fs::write(l.join("d/in"), b"y").unwrap();
    });
    let fs = overlay(&s);
    fs.unlink(&ctx(), ROOT_ID, &c("f")).unwrap();
    let wh = fs::symlink_metadata(s.upper.join("f")).unwrap();
    assert_eq!((wh.mode() & libc::S_IFMT, wh.rdev()), (libc::S_IFCHR, 0));
    let d = lookup(&fs, ROOT_ID, "d").unwrap();
    assert_eq!(
        fs.rmdir(&ctx(), ROOT_ID, &c("d"))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::ENOTEMPTY)
    );
    fs.unlink(&ctx(), d.inode, &c("in")).unwrap();
    fs.rmdir(&ctx(), ROOT_ID, &c("d")).unwrap();
    let e = fs.mkdir(&ctx(), ROOT_ID, &c("d"), 0o755, 0).unwrap();
    assert_eq!(
        xattr(&s.upper.join("d"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert!(
        names(&fs, e.inode).is_empty(),
        "the lower content shows through"
    );
    assert_eq!(fs::read_dir(s.work.join("work")).unwrap().count(), 0);
}

#[test]
fn directory_rename_uses_a_redirect() {
    if !root() {
        return;
    }
    let s = setup(|l, _| {
        fs::create_dir_all(l.join("a/b")).unwrap();
        fs::write(l.join("a/b/f"), b"deep").unwrap();
        fs::create_dir(l.join("x")).unwrap();
    });
    let fs = overlay(&s);
    let a = lookup(&fs, ROOT_ID, "a").unwrap();
    let x = lookup(&fs, ROOT_ID, "x").unwrap();
    fs.rename(&ctx(), a.inode, &c("b"), x.inode, &c("moved"), 0)
        .unwrap();
    assert_eq!(
        xattr(&s.upper.join("x/moved"), "trusted.overlay.redirect").as_deref(),
        Some(&b"/a/b"[..])
    );
    assert_eq!(names(&fs, a.inode), Vec::<String>::new());
    // A fresh overlay finds the moved content through the redirect.
    drop(fs);
    let fs = overlay(&s);
    let x = lookup(&fs, ROOT_ID, "x").unwrap();
    let m = lookup(&fs, x.inode, "moved").unwrap();
    let f = lookup(&fs, m.inode, "f").unwrap();
    assert_eq!(read_all(&fs, f.inode), b"deep");
    assert_eq!(
        lookup(&fs, lookup(&fs, ROOT_ID, "a").unwrap().inode, "b")
            .unwrap_err()
            .raw_os_error(),
        Some(libc::ENOENT)
    );
}

#[test]
fn readdir_offsets_survive_changes() {
    if !root() {
        return;
    }
    let s = setup(|l, _| {
        for i in 0..50 {
            fs::write(l.join(format!("f{i:02}")), b"").unwrap();
        }
    });
    let fs = overlay(&s);
    let (h, _) = fs.opendir(&ctx(), ROOT_ID, 0).unwrap();
    let h = h.unwrap();
    let mut seen = Vec::new();
    let mut next = 0;
    loop {
        let mut got = 0;
        fs.readdir(&ctx(), ROOT_ID, h, 4096, next, &mut |d: DirEntry| {
            if got == 7 {
                return Ok(0);
            }
            got += 1;
            next = d.offset;
            seen.push(String::from_utf8_lossy(d.name).into_owned());
            Ok(1)
        })
        .unwrap();
        if got == 0 {
            break;
        }
        // Changes between the pages move nothing in the listing being read.
        // The name may be gone already (an earlier page removed it): ENOENT only.
        let gone = fs.unlink(&ctx(), ROOT_ID, &c(&format!("f{:02}", seen.len() % 50)));
        if let Err(e) = gone {
            assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
        }
        fs.mknod(
            &ctx(),
            ROOT_ID,
            &c(&format!("n{}", seen.len())),
            libc::S_IFREG | 0o644,
            0,
            0,
        )
        .unwrap();
    }
    let n = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), n, "a name was listed twice");
    assert_eq!(n, 52, "the listing is the snapshot taken at offset 0");
    fs.releasedir(&ctx(), ROOT_ID, 0, h).unwrap();
}

#[test]
fn forget_gives_layer_references_back() {
    if !root() {
        return;
    }
    let s = setup(|l, _| {
        fs::create_dir(l.join("d")).unwrap();
        fs::write(l.join("d/f"), b"x").unwrap();
    });
    let fs = overlay(&s);
    let d = lookup(&fs, ROOT_ID, "d").unwrap();
    let f = lookup(&fs, d.inode, "f").unwrap();
    let f2 = lookup(&fs, d.inode, "f").unwrap();
    assert_eq!(f.inode, f2.inode);
    assert_eq!(fs.inodes.len(), 3);
    fs.forget(&ctx(), f.inode, 2);
    fs.forget(&ctx(), d.inode, 1);
    assert_eq!(fs.inodes.len(), 1, "only the root is left");
}

#[test]
fn read_only_without_upper() {
    if !root() {
        return;
    }
    let s = setup(|l, _| fs::write(l.join("f"), b"x").unwrap());
    let fs = OverlayFs::with_layers(None, vec![layer(&s.lower)], Config::default()).unwrap();
    let f = lookup(&fs, ROOT_ID, "f").unwrap();
    let erofs = Some(libc::EROFS);
    assert_eq!(
        fs.open(&ctx(), f.inode, libc::O_WRONLY as u32, 0)
            .unwrap_err()
            .raw_os_error(),
        erofs
    );
    assert_eq!(
        fs.unlink(&ctx(), ROOT_ID, &c("f"))
            .unwrap_err()
            .raw_os_error(),
        erofs
    );
    assert_eq!(
        fs.mkdir(&ctx(), ROOT_ID, &c("d"), 0o755, 0)
            .unwrap_err()
            .raw_os_error(),
        erofs
    );
    assert_eq!(read_all(&fs, f.inode), b"x");
    assert!(OverlayFs::with_layers(
        Some(layer(&s.lower)),
        vec![layer(&s.lower)],
        Config::default()
    )
    .is_err());
}

#[test]
fn inode_numbers_of_several_filesystems_stay_apart() {
    if !root() {
        return;
    }
    let shm = TempDir::new_with_prefix("/dev/shm/ovl-unit-").unwrap();
    let s = setup(|_, _| {});
    let cfg = Config {
        work: s.work.to_string_lossy().into_owned(),
        ..Default::default()
    };
    let fs = OverlayFs::with_layers(
        Some(layer(&s.upper)),
        vec![layer(shm.as_path()), layer(&s.lower)],
        cfg,
    )
    .unwrap();
    let (a, b, c) = (fs.map_ino(0, 5), fs.map_ino(1, 5), fs.map_ino(2, 5));
    assert_eq!(a, c, "upper and the second lower share one filesystem");
    assert_ne!(a, b, "equal numbers on different filesystems must differ");
    assert_eq!(a & 0xffff, 5);
}

#[test]
fn layer_helpers_use_the_kernel_formats() {
    if !root() {
        return;
    }
    let s = setup(|l, _| fs::create_dir(l.join("d")).unwrap());
    let l: Arc<DynLayer> = layer(&s.lower);
    let root_ino = l.root_inode();
    let e = l.create_whiteout(&ctx(), root_ino, &c("w")).unwrap();
    assert!(l.is_whiteout(&ctx(), e.inode).unwrap());
    assert_eq!(
        l.create_whiteout(&ctx(), root_ino, &c("d"))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::EEXIST)
    );
    l.delete_whiteout(&ctx(), root_ino, &c("w")).unwrap();
    assert!(fs::symlink_metadata(s.lower.join("w")).is_err());
    let d = l.lookup(&ctx(), root_ino, &c("d")).unwrap();
    assert!(!l.is_opaque(&ctx(), d.inode).unwrap());
    l.set_opaque(&ctx(), d.inode).unwrap();
    assert!(l.is_opaque(&ctx(), d.inode).unwrap());
    assert_eq!(
        xattr(&s.lower.join("d"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
}

#[test]
fn redirects_with_dot_components_fail_the_lookup() {
    if !root() {
        return;
    }
    let values: [&[u8]; 4] = [b".", b"..", b"/..", b"/../../.."];
    let s = setup(|l, u| {
        fs::create_dir_all(l.join("a/sub")).unwrap();
        fs::write(l.join("top"), b"root file").unwrap();
        for (i, v) in values.iter().enumerate() {
            let d = u.join(format!("a/x{i}"));
            fs::create_dir_all(&d).unwrap();
            let p = CString::new(d.as_os_str().as_encoded_bytes()).unwrap();
            crate::sys::setxattr(&p, &c("trusted.overlay.redirect"), v, 0).unwrap();
        }
    });
    let fs = overlay(&s);
    let a = lookup(&fs, ROOT_ID, "a").unwrap();
    for (i, v) in values.iter().enumerate() {
        // Followed, these would make `a/xN` show `a` itself or the layer root.
        let e = lookup(&fs, a.inode, &format!("x{i}"))
            .map(|e| names(&fs, e.inode))
            .unwrap_err();
        assert_eq!(
            e.raw_os_error(),
            Some(libc::EACCES),
            "{:?}",
            String::from_utf8_lossy(v)
        );
    }
    assert_eq!(names(&fs, a.inode), ["sub", "x0", "x1", "x2", "x3"]);
}
