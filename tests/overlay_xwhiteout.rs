//! The unprivileged whiteout form, end to end: our overlay in `userxattr` mode over an
//! upper layer that refuses to make 0/0 devices and `RENAME_WHITEOUT` (as a layer on a
//! filesystem or in a sandbox without that privilege would) leaves `user.overlay.whiteout`
//! files in `user.overlay.opaque=x` directories. Our overlay mounted again, and the
//! kernel's overlay with that upper directory as its top lower layer (what becomes of a
//! container's upper layer when it is committed), must show the same tree.
//!
//! Needs root (for the kernel mount) and /dev/fuse; with CI=true a test that cannot mount
//! fails.

#![cfg(feature = "fusedev")]

mod common;
mod common_overlay;

use std::ffi::CStr;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use common_overlay::*;
use fuse_backend_rs::api::filesystem::{
    Context, CreateIn, DirEntry, Entry, FileLock, FileSystem, GetxattrReply, Layer, ListxattrReply,
    OpenOptions, SetattrValid, ZeroCopyReader, ZeroCopyWriter,
};
use fuse_backend_rs::overlayfs::{Config, DynLayer, OverlayFs};
use vmm_sys_util::tempdir::TempDir;

/// A layer that refuses what needs privilege: character devices and `RENAME_WHITEOUT`.
struct Unprivileged(Arc<DynLayer>);

fn eperm<T>() -> io::Result<T> {
    Err(io::Error::from_raw_os_error(libc::EPERM))
}

impl Layer for Unprivileged {
    fn root_inode(&self) -> u64 {
        self.0.root_inode()
    }
    fn attach_work_dir(&self, path: &Path) -> io::Result<u64> {
        self.0.attach_work_dir(path)
    }
}

#[allow(clippy::too_many_arguments)]
impl FileSystem for Unprivileged {
    type Inode = u64;
    type Handle = u64;

    fn mknod(
        &self,
        c: &Context,
        p: u64,
        n: &CStr,
        mode: u32,
        rdev: u32,
        um: u32,
    ) -> io::Result<Entry> {
        if mode & libc::S_IFMT == libc::S_IFCHR {
            return eperm();
        }
        self.0.mknod(c, p, n, mode, rdev, um)
    }
    fn rename(
        &self,
        c: &Context,
        a: u64,
        an: &CStr,
        b: u64,
        bn: &CStr,
        flags: u32,
    ) -> io::Result<()> {
        if flags & libc::RENAME_WHITEOUT != 0 {
            return eperm();
        }
        self.0.rename(c, a, an, b, bn, flags)
    }
    fn lookup(&self, c: &Context, p: u64, n: &CStr) -> io::Result<Entry> {
        self.0.lookup(c, p, n)
    }
    fn forget(&self, c: &Context, i: u64, n: u64) {
        self.0.forget(c, i, n)
    }
    fn getattr(&self, c: &Context, i: u64, h: Option<u64>) -> io::Result<(libc::stat64, Duration)> {
        self.0.getattr(c, i, h)
    }
    fn setattr(
        &self,
        c: &Context,
        i: u64,
        a: libc::stat64,
        h: Option<u64>,
        v: SetattrValid,
    ) -> io::Result<(libc::stat64, Duration)> {
        self.0.setattr(c, i, a, h, v)
    }
    fn readlink(&self, c: &Context, i: u64) -> io::Result<Vec<u8>> {
        self.0.readlink(c, i)
    }
    fn symlink(&self, c: &Context, l: &CStr, p: u64, n: &CStr) -> io::Result<Entry> {
        self.0.symlink(c, l, p, n)
    }
    fn mkdir(&self, c: &Context, p: u64, n: &CStr, m: u32, um: u32) -> io::Result<Entry> {
        self.0.mkdir(c, p, n, m, um)
    }
    fn unlink(&self, c: &Context, p: u64, n: &CStr) -> io::Result<()> {
        self.0.unlink(c, p, n)
    }
    fn rmdir(&self, c: &Context, p: u64, n: &CStr) -> io::Result<()> {
        self.0.rmdir(c, p, n)
    }
    fn link(&self, c: &Context, i: u64, p: u64, n: &CStr) -> io::Result<Entry> {
        self.0.link(c, i, p, n)
    }
    fn open(
        &self,
        c: &Context,
        i: u64,
        f: u32,
        ff: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        self.0.open(c, i, f, ff)
    }
    fn create(
        &self,
        c: &Context,
        p: u64,
        n: &CStr,
        a: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions, Option<u32>)> {
        self.0.create(c, p, n, a)
    }
    fn read(
        &self,
        c: &Context,
        i: u64,
        h: u64,
        w: &mut dyn ZeroCopyWriter,
        s: u32,
        o: u64,
        l: Option<u64>,
        f: u32,
    ) -> io::Result<usize> {
        self.0.read(c, i, h, w, s, o, l, f)
    }
    fn write(
        &self,
        c: &Context,
        i: u64,
        h: u64,
        r: &mut dyn ZeroCopyReader,
        s: u32,
        o: u64,
        l: Option<u64>,
        d: bool,
        f: u32,
        ff: u32,
    ) -> io::Result<usize> {
        self.0.write(c, i, h, r, s, o, l, d, f, ff)
    }
    fn release(
        &self,
        c: &Context,
        i: u64,
        f: u32,
        h: u64,
        fl: bool,
        fr: bool,
        lo: Option<u64>,
    ) -> io::Result<()> {
        self.0.release(c, i, f, h, fl, fr, lo)
    }
    fn fsync(&self, c: &Context, i: u64, d: bool, h: u64) -> io::Result<()> {
        self.0.fsync(c, i, d, h)
    }
    fn flush(&self, c: &Context, i: u64, h: u64, lo: u64) -> io::Result<()> {
        self.0.flush(c, i, h, lo)
    }
    fn statfs(&self, c: &Context, i: u64) -> io::Result<libc::statvfs64> {
        self.0.statfs(c, i)
    }
    fn setxattr(&self, c: &Context, i: u64, n: &CStr, v: &[u8], f: u32) -> io::Result<()> {
        self.0.setxattr(c, i, n, v, f)
    }
    fn getxattr(&self, c: &Context, i: u64, n: &CStr, s: u32) -> io::Result<GetxattrReply> {
        self.0.getxattr(c, i, n, s)
    }
    fn listxattr(&self, c: &Context, i: u64, s: u32) -> io::Result<ListxattrReply> {
        self.0.listxattr(c, i, s)
    }
    fn removexattr(&self, c: &Context, i: u64, n: &CStr) -> io::Result<()> {
        self.0.removexattr(c, i, n)
    }
    fn opendir(&self, c: &Context, i: u64, f: u32) -> io::Result<(Option<u64>, OpenOptions)> {
        self.0.opendir(c, i, f)
    }
    fn readdir(
        &self,
        c: &Context,
        i: u64,
        h: u64,
        s: u32,
        o: u64,
        add: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.0.readdir(c, i, h, s, o, add)
    }
    fn releasedir(&self, c: &Context, i: u64, f: u32, h: u64) -> io::Result<()> {
        self.0.releasedir(c, i, f, h)
    }
    fn fsyncdir(&self, c: &Context, i: u64, d: bool, h: u64) -> io::Result<()> {
        self.0.fsyncdir(c, i, d, h)
    }
    fn access(&self, c: &Context, i: u64, m: u32) -> io::Result<()> {
        self.0.access(c, i, m)
    }
    fn lseek(&self, c: &Context, i: u64, h: u64, o: u64, w: u32) -> io::Result<u64> {
        self.0.lseek(c, i, h, o, w)
    }
    fn getlk(
        &self,
        c: &Context,
        i: u64,
        h: u64,
        o: u64,
        l: FileLock,
        f: u32,
    ) -> io::Result<FileLock> {
        self.0.getlk(c, i, h, o, l, f)
    }
    fn setlk(&self, c: &Context, i: u64, h: u64, o: u64, l: FileLock, f: u32) -> io::Result<()> {
        self.0.setlk(c, i, h, o, l, f)
    }
}

#[test]
fn attribute_whiteouts_are_read_by_the_kernel() {
    if !Path::new("/dev/fuse").exists() || nix::unistd::geteuid().as_raw() != 0 {
        cannot_run("needs root and /dev/fuse");
        return;
    }
    let tmp = TempDir::new_with_prefix("/tmp/ovl-xwh-").expect("tempdir");
    let l = Layout::new(tmp.as_path(), 1);
    for d in l.lowers.iter().chain([&l.upper, &l.work, &l.mnt]) {
        std::fs::create_dir_all(d).unwrap();
    }
    let low = &l.lowers[0];
    for p in ["f", "g", "d/x", "d/y", "e/z", "keep/k"] {
        let p = low.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"lower\n").unwrap();
    }
    let cfg = Config {
        userxattr: true,
        work: l.work.to_string_lossy().into_owned(),
        ..Default::default()
    };
    let upper: Arc<DynLayer> = Arc::new(Unprivileged(layer(&l.upper, false)));
    let fs = OverlayFs::with_layers(Some(upper), vec![layer(low, false)], cfg).expect("overlay");
    let mut ours = match FuseOverlay::serve(fs, &l.mnt, false) {
        Ok(m) => m,
        Err(e) => return cannot_run(e),
    };
    let m = &l.mnt;
    unlink(&m.join("f")).unwrap();
    unlink(&m.join("d/x")).unwrap();
    rename2(&m.join("g"), &m.join("d/g2"), 0).unwrap();
    unlink(&m.join("e/z")).unwrap();
    rmdir(&m.join("e")).unwrap();
    std::fs::write(m.join("new"), b"upper\n").unwrap();
    let before = view(m);
    assert!(!before.contains_key("f") && !before.contains_key("d/x") && !before.contains_key("e"));
    assert_eq!(ours.unmount(), 0, "a service thread panicked");

    // No device whiteouts were made: the attribute form is all there is.
    let st = upper_state(&l.upper, "user.overlay.");
    assert!(!st.values().any(|u| matches!(u, Upper::Whiteout)), "{st:?}");
    assert_eq!(
        lgetxattr(&l.upper.join("f"), "user.overlay.whiteout", 64).map(|_| ()),
        Ok(())
    );
    assert_eq!(
        lgetxattr(&l.upper, "user.overlay.opaque", 64),
        Ok(b"x".to_vec())
    );

    // Our overlay again, and the kernel's, show the same tree.
    let cfg = Config {
        userxattr: true,
        ..Default::default()
    };
    let again = FuseOverlay::mount(&l, cfg, false).expect("remount");
    let ours_view = view(&l.mnt);
    drop(again);
    assert_same("ours before and after remount", &before, &ours_view);
    // The usual fate of a container's upper layer: it becomes a lower layer. The kernel
    // reads attribute whiteouts fully there (in an upper layer, 6.18 hides them from
    // lookups but still lists them in subdirectories).
    let mut ro = l.clone();
    ro.lowers = vec![l.upper.clone(), low.clone()];
    let k = KernelOverlay::mount_lowers_with(&ro, "userxattr").expect("kernel overlay");
    let kernel_view = view(&l.mnt);
    drop(k);
    assert!(kernel_view.contains_key("keep/k") && kernel_view.contains_key("d/g2"));
    for gone in ["f", "g", "e", "d/x"] {
        assert!(!kernel_view.contains_key(gone), "the kernel shows {gone}");
    }
    let strip = |mut v: std::collections::BTreeMap<String, Seen>| {
        // Inode numbers of the two implementations differ (no shared origin format).
        for s in v.values_mut() {
            s.same_as.clear();
        }
        v
    };
    assert_same(
        "kernel (left) and ours (right) over our upper directory",
        &strip(kernel_view),
        &strip(ours_view),
    );
}
