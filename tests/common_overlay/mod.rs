//! Helpers of the overlay tests: twin layer trees, one mounted with the kernel's own
//! overlayfs (the oracle, in its strongest mode: `index=on,redirect_dir=on`) and one with
//! ours, and comparisons of what the two show and leave in their upper directories.
//!
//! Layout of one test (under a fresh `TempDir` in /tmp, so on one host filesystem):
//!
//! ```text
//! BASE/seed/{l1,l2,u}          the trees as built by the test
//! BASE/k/{l1,l2,u,w,m}         `cp -a` of seed, kernel overlay at m
//! BASE/f/{l1,l2,u,w,m}         `cp -a` of seed, our overlay at m (served in-process)
//! ```
//!
//! With `CI=true` a test that cannot mount fails; otherwise it says `skipping: ...`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::overlayfs::{Config, DynLayer, OverlayFs};
use fuse_backend_rs::passthrough::{self, PassthroughFs};
use fuse_backend_rs::transport::FuseSession;
use vmm_sys_util::tempdir::TempDir;

use crate::common::{
    cannot_run, errname, fnv64, lgetxattr, llistxattr, lstat, read_file, readlink, type_char,
};

/// The kernel overlay options of the oracle.
pub const KERNEL_OPTS: &str = "index=on,redirect_dir=on,metacopy=off,xino=off";

/// The directories of one overlay.
#[derive(Clone, Debug)]
pub struct Layout {
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    pub mnt: PathBuf,
}

impl Layout {
    pub fn new(root: &Path, nlower: usize) -> Layout {
        Layout {
            lowers: (1..=nlower).map(|i| root.join(format!("l{i}"))).collect(),
            upper: root.join("u"),
            work: root.join("w"),
            mnt: root.join("m"),
        }
    }

    fn create(&self) {
        for d in self
            .lowers
            .iter()
            .chain([&self.upper, &self.work, &self.mnt])
        {
            std::fs::create_dir_all(d).unwrap();
        }
    }

    /// `lowerdir=...,upperdir=...,workdir=...` (lower layers top first).
    pub fn option_string(&self) -> String {
        let lowers: Vec<_> = self
            .lowers
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "lowerdir={},upperdir={},workdir={}",
            lowers.join(":"),
            self.upper.display(),
            self.work.display()
        )
    }
}

/// `cp -a from/. to/` (keeps owners, modes, times, hard links, devices, xattrs).
pub fn cp_a(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .expect("run cp");
    assert!(st.success(), "cp -a {} {}", from.display(), to.display());
}

/// The kernel's overlay, unmounted (lazily) on drop.
pub struct KernelOverlay {
    mnt: Option<PathBuf>,
}

impl KernelOverlay {
    pub fn mount(l: &Layout, extra: &str) -> Result<KernelOverlay, String> {
        let mut opts = l.option_string();
        if !extra.is_empty() {
            opts = format!("{opts},{extra}");
        }
        // With index=on the kernel refuses an upper directory another overlay still uses
        // (EBUSY). After our own unmount that happens when another process copied the
        // mount into its own namespace meanwhile (unshare(CLONE_NEWNS) in a concurrent
        // test): it lets go when that process exits, so wait (up to a minute).
        let mut tries = 0;
        loop {
            match nix::mount::mount(
                Some("overlay"),
                &l.mnt,
                Some("overlay"),
                nix::mount::MsFlags::empty(),
                Some(opts.as_str()),
            ) {
                Ok(()) => break,
                Err(nix::errno::Errno::EBUSY) if tries < 300 => {
                    tries += 1;
                    thread::sleep(Duration::from_millis(200));
                }
                Err(e) => {
                    return Err(format!(
                        "mount -t overlay -o {opts}: {e}{}",
                        holders(&l.upper)
                    ))
                }
            }
        }
        Ok(KernelOverlay {
            mnt: Some(l.mnt.clone()),
        })
    }

    /// A read-only overlay of the lower layers alone.
    pub fn mount_lowers(l: &Layout) -> Result<KernelOverlay, String> {
        Self::mount_lowers_with(l, "")
    }

    /// [`KernelOverlay::mount_lowers`] with more options (e.g. `userxattr`).
    pub fn mount_lowers_with(l: &Layout, extra: &str) -> Result<KernelOverlay, String> {
        let lowers: Vec<_> = l.lowers.iter().map(|p| p.display().to_string()).collect();
        let mut opts = format!("lowerdir={}", lowers.join(":"));
        if !extra.is_empty() {
            opts = format!("{opts},{extra}");
        }
        nix::mount::mount(
            Some("overlay"),
            &l.mnt,
            Some("overlay"),
            nix::mount::MsFlags::MS_RDONLY,
            Some(opts.as_str()),
        )
        .map_err(|e| format!("mount -t overlay -o {opts}: {e}"))?;
        Ok(KernelOverlay {
            mnt: Some(l.mnt.clone()),
        })
    }

    pub fn unmount(&mut self) {
        if let Some(m) = self.mnt.take() {
            if let Err(e) = nix::mount::umount2(&m, nix::mount::MntFlags::empty()) {
                eprintln!("umount {}: {e}; detaching", m.display());
                let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
            }
        }
    }
}

impl Drop for KernelOverlay {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// The processes (other than in our mount namespace) that still have a mount using
/// `dir`, for the message when the kernel says it is busy.
fn holders(dir: &Path) -> String {
    let want = dir.to_string_lossy().into_owned();
    let ours = std::fs::read_link("/proc/self/ns/mnt").ok();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let p = e.path();
        if std::fs::read_link(p.join("ns/mnt")).ok() == ours {
            continue;
        }
        if std::fs::read_to_string(p.join("mountinfo")).is_ok_and(|m| m.contains(&want)) {
            let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
            out.push(format!(
                "{} ({})",
                e.file_name().to_string_lossy(),
                comm.trim()
            ));
        }
    }
    if out.is_empty() {
        String::new()
    } else {
        format!("; still mounted in the namespace of {}", out.join(", "))
    }
}

/// A passthrough layer over `dir`, as the example daemon makes them.
pub fn layer(dir: &Path, handles: bool) -> Arc<DynLayer> {
    let cfg = passthrough::Config {
        root_dir: dir.to_string_lossy().into_owned(),
        xattr: true,
        inode_file_handles: handles,
        ..Default::default()
    };
    Arc::new(PassthroughFs::<()>::new(cfg).expect("passthrough layer"))
}

/// Our overlay of `l`, served by threads of this process; unmounted on drop.
pub struct FuseOverlay {
    session: Option<FuseSession>,
    done: mpsc::Receiver<bool>,
    threads: usize,
    panicked: usize,
    pub mnt: PathBuf,
}

impl FuseOverlay {
    /// Mounts with `cfg` (its `work` is filled in); read-only when `readonly`.
    pub fn mount(l: &Layout, mut cfg: Config, readonly: bool) -> Result<FuseOverlay, String> {
        cfg.work = l.work.to_string_lossy().into_owned();
        cfg.mountpoint = l.mnt.to_string_lossy().into_owned();
        let upper = (!readonly).then(|| layer(&l.upper, false));
        let lowers = l.lowers.iter().map(|d| layer(d, false)).collect();
        let fs = OverlayFs::with_layers(upper, lowers, cfg)
            .map_err(|e| format!("OverlayFs::new: {e}"))?;
        Self::serve(fs, &l.mnt, readonly)
    }

    /// Serves `fs` at `mnt`.
    pub fn serve(fs: OverlayFs, mnt: &Path, readonly: bool) -> Result<FuseOverlay, String> {
        let mut session = FuseSession::new(mnt, "ovl-test", "ovltest", readonly)
            .map_err(|e| format!("FuseSession::new: {e}"))?;
        session.set_allow_other(true);
        session.set_default_permissions(true);
        session
            .mount()
            .map_err(|e| format!("cannot mount fuse on {}: {e:?}", mnt.display()))?;
        let server = Arc::new(Server::new(fs));
        let (tx, done) = mpsc::channel();
        let mut m = FuseOverlay {
            session: None,
            done,
            threads: 0,
            panicked: 0,
            mnt: mnt.to_path_buf(),
        };
        for i in 0..2 {
            let ch = session.new_channel().expect("new_channel");
            let server = server.clone();
            let tx = tx.clone();
            thread::Builder::new()
                .name(format!("ovl-fuse-{i}"))
                .spawn(move || {
                    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        crate::common::service_loop(&server, ch)
                    }));
                    drop(server);
                    let _ = tx.send(res.is_ok());
                })
                .expect("spawn a service thread");
            m.threads += 1;
        }
        m.session = Some(session);
        Ok(m)
    }

    /// Unmounts, waits for the service threads; returns how many panicked.
    pub fn unmount(&mut self) -> usize {
        if let Some(mut se) = self.session.take() {
            if let Err(e) = se.umount() {
                eprintln!("umount {}: {e:?}", self.mnt.display());
            }
            let _ = se.wake();
            while self.threads > 0 {
                match self.done.recv_timeout(Duration::from_secs(30)) {
                    Ok(ok) => {
                        self.panicked += usize::from(!ok);
                        self.threads -= 1;
                    }
                    Err(_) => {
                        eprintln!("{} service thread(s) did not stop", self.threads);
                        break;
                    }
                }
            }
        }
        self.panicked
    }
}

impl Drop for FuseOverlay {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// The kernel overlay and ours over identical copies of one set of trees.
pub struct Twins {
    pub k: Layout,
    pub f: Layout,
    pub cfg: Config,
    /// The kernel overlay's options besides the directories.
    pub kernel_opts: &'static str,
    /// The private attribute prefix (`trusted.overlay.` or `user.overlay.`).
    pub prefix: &'static str,
    pub kernel: Option<KernelOverlay>,
    pub fuse: Option<FuseOverlay>,
    base: TempDir,
}

impl Twins {
    /// Builds the seed trees with `build` (given the seed layout), copies them twice and
    /// mounts both overlays. `None` (after saying why) when this machine cannot.
    pub fn new(nlower: usize, cfg: Config, build: impl FnOnce(&Layout)) -> Option<Twins> {
        Self::with_options(nlower, cfg, KERNEL_OPTS, build)
    }

    /// Like [`Twins::new`], with the kernel overlay mounted with `kernel_opts`; the
    /// private prefix follows `cfg.userxattr`.
    pub fn with_options(
        nlower: usize,
        cfg: Config,
        kernel_opts: &'static str,
        build: impl FnOnce(&Layout),
    ) -> Option<Twins> {
        if !Path::new("/dev/fuse").exists() {
            cannot_run("/dev/fuse does not exist");
            return None;
        }
        if nix::unistd::geteuid().as_raw() != 0 {
            cannot_run("the kernel overlay oracle needs root");
            return None;
        }
        let base = TempDir::new_with_prefix("/tmp/ovl-it-").expect("tempdir");
        let b = base.as_path().to_path_buf();
        let seed = Layout::new(&b.join("seed"), nlower);
        seed.create();
        build(&seed);
        for d in seed.lowers.iter().chain([&seed.upper]) {
            age_tree(d);
        }
        let k = Layout::new(&b.join("k"), nlower);
        let f = Layout::new(&b.join("f"), nlower);
        for l in [&k, &f] {
            l.create();
            for (from, to) in seed.lowers.iter().zip(&l.lowers) {
                cp_a(from, to);
            }
            cp_a(&seed.upper, &l.upper);
        }
        let prefix = if cfg.userxattr {
            "user.overlay."
        } else {
            "trusted.overlay."
        };
        let mut t = Twins {
            k,
            f,
            cfg,
            kernel_opts,
            prefix,
            kernel: None,
            fuse: None,
            base,
        };
        if let Err(e) = t.mount() {
            cannot_run(e);
            return None;
        }
        Some(t)
    }

    pub fn base(&self) -> &Path {
        self.base.as_path()
    }

    pub fn mount(&mut self) -> Result<(), String> {
        self.kernel = Some(KernelOverlay::mount(&self.k, self.kernel_opts)?);
        self.fuse = Some(FuseOverlay::mount(&self.f, self.cfg.clone(), false)?);
        Ok(())
    }

    /// Unmounts both; asserts our service threads did not panic.
    pub fn unmount(&mut self) {
        if let Some(mut k) = self.kernel.take() {
            k.unmount();
        }
        if let Some(mut f) = self.fuse.take() {
            assert_eq!(f.unmount(), 0, "a service thread panicked");
        }
    }

    pub fn remount(&mut self) {
        self.unmount();
        self.mount().expect("remount");
    }

    /// Stacks another layer on both (unmounted) overlays: the upper directory becomes
    /// the top lower layer, and a fresh upper and work directory (`u<N>`, `w<N>` beside
    /// the others) take its place; mount again with [`Twins::mount`].
    pub fn push_upper(&mut self) {
        assert!(
            self.kernel.is_none() && self.fuse.is_none(),
            "unmount first"
        );
        for l in [&mut self.k, &mut self.f] {
            let n = l.lowers.len() + 1;
            let root = l.mnt.parent().unwrap().to_path_buf();
            let old = std::mem::replace(&mut l.upper, root.join(format!("u{n}")));
            l.lowers.insert(0, old);
            l.work = root.join(format!("w{n}"));
            l.create();
        }
    }

    /// `rel` under the kernel mount and under ours.
    pub fn paths(&self, rel: &str) -> (PathBuf, PathBuf) {
        (
            crate::common::join(&self.k.mnt, rel),
            crate::common::join(&self.f.mnt, rel),
        )
    }

    /// Compares the two merged trees and fails with the first difference.
    #[track_caller]
    pub fn assert_same_view(&self, what: &str) {
        let mut a = view(&self.k.mnt);
        let mut b = view(&self.f.mnt);
        if self.cfg.userxattr {
            // The kernel cannot give a copied-up special file a `user.*` origin; a new
            // hard link to it is then a second overlay inode with its own `st_ino` until
            // remount. Hard-link classes of special files are not compared here.
            for v in a.values_mut().chain(b.values_mut()) {
                if !matches!(v.kind, 'f' | 'd') {
                    v.same_as.clear();
                }
            }
        }
        assert_same(
            &format!("{what}: merged view (kernel left, ours right)"),
            &a,
            &b,
        );
    }

    /// Compares what the two left in their upper directories (see [`upper_state`]).
    #[track_caller]
    pub fn assert_same_upper(&self, what: &str) {
        let a = upper_state(&self.k.upper, self.prefix);
        let b = upper_state(&self.f.upper, self.prefix);
        assert_same(
            &format!("{what}: upper directory (kernel left, ours right)"),
            &a,
            &b,
        );
    }

    /// Our work directory holds nothing in progress.
    #[track_caller]
    pub fn assert_work_clean(&self) {
        let left: Vec<_> = std::fs::read_dir(self.f.work.join("work"))
            .map(|rd| rd.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "left over in WORKDIR/work: {left:?}");
    }
}

impl Drop for Twins {
    fn drop(&mut self) {
        if let Some(mut k) = self.kernel.take() {
            k.unmount();
        }
        if let Some(mut f) = self.fuse.take() {
            f.unmount();
        }
    }
}

/// When the seed trees were last changed (2001-09-09): timestamps before
/// [`OLD_BEFORE`] were never touched by a test (or set explicitly), so both overlays must
/// show them exactly, copied up or not.
pub const SEED_TIME: i64 = 1_000_000_000;
/// 2020-09-13: any timestamp set by the clock during a test is later.
pub const OLD_BEFORE: i64 = 1_600_000_000;

/// Sets the times of everything under `root` (and `root`) to [`SEED_TIME`].
pub fn age_tree(root: &Path) {
    if lstat(root).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR) {
        for e in std::fs::read_dir(root).unwrap() {
            age_tree(&e.unwrap().path());
        }
    }
    let c = crate::common::cpath(root);
    let ts = [libc::timespec {
        tv_sec: SEED_TIME,
        tv_nsec: 0,
    }; 2];
    // SAFETY: a valid C string and two timespecs.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(r, 0, "utimensat {}", root.display());
}

/// Short contents are kept as they are, longer ones as a checksum.
fn data_of(v: Vec<u8>) -> String {
    if v.len() <= 64 {
        String::from_utf8_lossy(&v).into_owned()
    } else {
        format!("{} bytes, fnv {:016x}", v.len(), fnv64(&v))
    }
}

/// One path of a merged view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub kind: char,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub size: i64,
    pub rdev: u64,
    pub data: String,
    /// Every attribute the overlay lists.
    pub xattrs: BTreeMap<String, String>,
    /// Non-directories: the smallest path with the same `st_ino` (hard-link class).
    pub same_as: String,
    /// `st_mtime` when it is older than [`OLD_BEFORE`] (not set by the clock).
    pub old_mtime: Option<(i64, i64)>,
}

/// Every path under `root` (a merged view), with hard-link classes from `st_ino`.
/// Also asserts that no directory lists a name twice.
pub fn view(root: &Path) -> BTreeMap<String, Seen> {
    let mut out = BTreeMap::new();
    let mut inos: BTreeMap<u64, String> = BTreeMap::new();
    let mut ino_of: Vec<(String, u64)> = Vec::new();
    walk(root, "", &mut |rel, p| {
        let st = lstat(p).unwrap_or_else(|e| panic!("lstat {}: {}", p.display(), errname(e)));
        let kind = type_char(st.st_mode);
        let data = match kind {
            'f' => data_of(
                read_file(p).unwrap_or_else(|e| panic!("read {}: {}", p.display(), errname(e))),
            ),
            'l' => data_of(readlink(p).unwrap()),
            _ => String::new(),
        };
        let mut xattrs = BTreeMap::new();
        if kind != 'l' {
            for name in llistxattr(p).unwrap_or_default() {
                let v = lgetxattr(p, &name, 65536)
                    .map(data_of)
                    .unwrap_or_else(errname);
                xattrs.insert(name, v);
            }
        }
        if kind != 'd' {
            let e = inos.entry(st.st_ino).or_insert_with(|| rel.to_string());
            if rel < e.as_str() {
                *e = rel.to_string();
            }
            ino_of.push((rel.to_string(), st.st_ino));
        }
        out.insert(
            rel.to_string(),
            Seen {
                kind,
                mode: st.st_mode,
                uid: st.st_uid,
                gid: st.st_gid,
                nlink: st.st_nlink,
                size: if kind == 'd' { 0 } else { st.st_size },
                rdev: st.st_rdev,
                data,
                xattrs,
                same_as: String::new(),
                old_mtime: (st.st_mtime < OLD_BEFORE).then_some((st.st_mtime, st.st_mtime_nsec)),
            },
        );
    });
    for (rel, ino) in ino_of {
        if let Some(s) = out.get_mut(&rel) {
            s.same_as = inos[&ino].clone();
        }
    }
    out
}

fn walk(root: &Path, rel: &str, f: &mut dyn FnMut(&str, &Path)) {
    let dir = crate::common::join(root, rel);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("readdir {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!(n, names.len(), "{} lists a name twice", dir.display());
    for name in names {
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let p = root.join(&r);
        f(&r, &p);
        if lstat(&p).is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR) {
            walk(root, &r, f);
        }
    }
}

/// One path of an upper directory, normalised: the overlay's private attributes (other
/// than `opaque` = `y` and `redirect`), link counts (index links differ), timestamps and
/// the index and work directories are left out; what remains is what the two implementations must
/// agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upper {
    Whiteout,
    Dir {
        mode: u32,
        uid: u32,
        gid: u32,
        opaque: bool,
        redirect: Option<String>,
        xattrs: BTreeMap<String, String>,
    },
    File {
        mode: u32,
        uid: u32,
        gid: u32,
        data: String,
        xattrs: BTreeMap<String, String>,
    },
    Symlink(String),
    Other {
        mode: u32,
        rdev: u64,
    },
}

/// The normalised state of an upper directory whose private attributes start with
/// `prefix`.
pub fn upper_state(upper: &Path, prefix: &str) -> BTreeMap<String, Upper> {
    let escaped = format!("{prefix}overlay.");
    let mut out = BTreeMap::new();
    walk(upper, "", &mut |rel, p| {
        let st = lstat(p).unwrap();
        let user_xattrs = || {
            let mut m = BTreeMap::new();
            for name in llistxattr(p).unwrap_or_default() {
                let private = name.starts_with(prefix) && !name.starts_with(&escaped);
                if !private {
                    let v = lgetxattr(p, &name, 65536)
                        .map(data_of)
                        .unwrap_or_else(errname);
                    m.insert(name, v);
                }
            }
            m
        };
        let xattr = |n: &str| {
            lgetxattr(p, n, 4096)
                .ok()
                .map(|v| String::from_utf8_lossy(&v).into_owned())
        };
        let u = match st.st_mode & libc::S_IFMT {
            libc::S_IFCHR if st.st_rdev == 0 => Upper::Whiteout,
            libc::S_IFDIR => Upper::Dir {
                mode: st.st_mode,
                uid: st.st_uid,
                gid: st.st_gid,
                opaque: xattr(&format!("{prefix}opaque")).as_deref() == Some("y"),
                redirect: xattr(&format!("{prefix}redirect")),
                xattrs: user_xattrs(),
            },
            libc::S_IFREG => Upper::File {
                mode: st.st_mode,
                uid: st.st_uid,
                gid: st.st_gid,
                data: data_of(read_file(p).unwrap()),
                xattrs: user_xattrs(),
            },
            libc::S_IFLNK => Upper::Symlink(data_of(readlink(p).unwrap())),
            _ => Upper::Other {
                mode: st.st_mode,
                rdev: st.st_rdev,
            },
        };
        out.insert(rel.to_string(), u);
    });
    out
}

/// Asserts two path maps are equal, naming the first difference.
#[track_caller]
pub fn assert_same<V: PartialEq + std::fmt::Debug>(
    what: &str,
    a: &BTreeMap<String, V>,
    b: &BTreeMap<String, V>,
) {
    for (k, va) in a {
        match b.get(k) {
            None => panic!("{what}: {k:?} only on the left: {va:?}"),
            Some(vb) => assert_eq!(va, vb, "{what}: {k:?} differs"),
        }
    }
    for (k, vb) in b {
        assert!(a.contains_key(k), "{what}: {k:?} only on the right: {vb:?}");
    }
}

// ---------------------------------------------------------------------------------------
// The standard trees.

fn put(p: &Path, data: &[u8]) {
    if let Some(d) = p.parent() {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

fn xset(p: &Path, name: &str, v: &[u8]) {
    crate::common::lsetxattr(p, name, v, 0)
        .unwrap_or_else(|e| panic!("setxattr {} {name}: {}", p.display(), errname(e)));
}

fn whiteout_dev(p: &Path) {
    crate::common::mknod(p, libc::S_IFCHR, 0).unwrap();
}

/// Two lower layers and an upper layer exercising every rule of the merged view:
/// merged and opaque directories (by attribute in a lower and in the upper layer),
/// 0/0 and attribute whiteouts, files shadowing files, hard links within and across
/// directories, a sparse and a large file, special files, set-ID bits, attributes.
pub fn build_standard(l: &Layout) {
    build_with_prefix(l, "trusted.overlay.")
}

/// [`build_standard`] with the overlay markers under `prefix`.
pub fn build_with_prefix(l: &Layout, prefix: &str) {
    let marker = |n: &str| format!("{prefix}{n}");
    let (l1, l2, u) = (&l.lowers[0], &l.lowers[1], &l.upper);
    let mut rng = crate::common::XorShift::new(7);
    // Bottom layer.
    put(&l2.join("f2"), b"lower2 f2\n");
    put(&l2.join("big"), &rng.bytes(300 * 1024 + 17));
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(l2.join("sparse")).unwrap();
        f.set_len(3 << 20).unwrap();
        f.write_all_at(b"head", 0).unwrap();
        f.write_all_at(&rng.bytes(8192), 1 << 20).unwrap();
    }
    put(&l2.join("dir_m/b"), b"l2 b\n");
    put(&l2.join("dir_m/sub/deep/x"), b"deep x\n");
    put(&l2.join("shadow"), b"from l2\n");
    put(&l2.join("hidden"), b"should be hidden\n");
    put(&l2.join("opq/p1"), b"p1\n");
    put(&l2.join("xw/gone"), b"gone\n");
    put(&l2.join("xw/kept"), b"kept\n");
    put(&l2.join("tree/t1"), b"t1\n");
    put(&l2.join("tree/t2"), b"t2\n");
    put(&l2.join("tree/sub/t3"), b"t3\n");
    put(&l2.join("hl/h1"), b"hard\n");
    std::fs::create_dir_all(l2.join("hlo")).unwrap();
    std::fs::hard_link(l2.join("hl/h1"), l2.join("hl/h2")).unwrap();
    std::fs::hard_link(l2.join("hl/h1"), l2.join("hlo/h3")).unwrap();
    std::os::unix::fs::symlink("f2", l2.join("sym")).unwrap();
    crate::common::mknod(&l2.join("fifo"), libc::S_IFIFO | 0o640, 0).unwrap();
    put(&l2.join("xa"), b"with attributes\n");
    xset(&l2.join("xa"), "user.color", b"blue");
    xset(&l2.join("xa"), "trusted.test", b"1");
    put(&l2.join("suid"), b"#!/bin/sh\n");
    std::os::unix::fs::lchown(l2.join("suid"), Some(1000), Some(1000)).unwrap();
    crate::common::chmod(&l2.join("suid"), 0o4755).unwrap();
    put(&l2.join("secret"), b"secret\n");
    crate::common::chmod(&l2.join("secret"), 0o600).unwrap();
    put(&l2.join("uopq/p"), b"under opaque\n");
    put(&l2.join("del_by_upper"), b"deleted by the upper layer\n");
    put(&l2.join("deep/a/b/c/f"), b"deep file\n");
    std::os::unix::fs::lchown(l2.join("deep/a"), Some(1000), Some(100)).unwrap();
    crate::common::chmod(&l2.join("deep/a/b"), 0o750).unwrap();
    xset(&l2.join("deep/a/b"), "user.dir", b"attr on a dir");
    // Top lower layer.
    put(&l1.join("f1"), b"lower1 f1\n");
    put(&l1.join("dir_m/a"), b"l1 a\n");
    put(&l1.join("shadow"), b"from l1\n");
    whiteout_dev(&l1.join("hidden"));
    put(&l1.join("opq/o1"), b"o1\n");
    xset(&l1.join("opq"), &marker("opaque"), b"y");
    put(&l1.join("xw/gone"), b"");
    xset(&l1.join("xw/gone"), &marker("whiteout"), b"y");
    xset(&l1.join("xw"), &marker("opaque"), b"x");
    put(&l1.join("hl1"), b"hard in l1\n");
    std::fs::hard_link(l1.join("hl1"), l1.join("hl1b")).unwrap();
    // Upper layer.
    put(&u.join("ufile"), b"upper only\n");
    whiteout_dev(&u.join("del_by_upper"));
    put(&u.join("dir_m/c"), b"upper c\n");
    put(&u.join("uopq/q"), b"q\n");
    xset(&u.join("uopq"), &marker("opaque"), b"y");
}
