//! The world of the `passthrough` target: a real `PassthroughFs` serving a scratch
//! directory, and a canary directory beside it that no request may change.
//!
//! ```text
//!  <tmp>/fbr-fuzz-passthrough-<pid>/     a private tmpfs (64 MiB) when we can mount one
//!      shared/    served; emptied and repopulated every RESET_EVERY inputs
//!      canary/    outside the share: entries, modes, owners and xattrs must never change
//! ```
//!
//! The tmpfs lives in a mount namespace of the fuzzing thread (`unshare(CLONE_NEWNS)`),
//! so it bounds what the fuzzer can write (FALLOCATE with KEEP_SIZE ignores
//! RLIMIT_FSIZE) and disappears with the process. Without the privilege to mount, the
//! directories sit on the temp directory's filesystem and only the periodic reset bounds
//! them.
#![allow(dead_code)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use fuse_backend_rs::abi::fuse_abi::{FsOptions, Opcode, OpenIn};
use fuse_backend_rs::api::server::testing::{init_request, serve, RequestBuilder};
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::passthrough::{Config, PassthroughFs};

use crate::common;

/// Inputs served between two resets of the scratch directory and the server.
const RESET_EVERY: u32 = 64;

/// INIT flags of the passthrough target (no request extensions).
pub const FLAGS: u64 = common::PLAIN_FLAGS | FsOptions::DO_READDIRPLUS.bits();

/// Node ids and handles of the scratch entries after a reset, for the seeds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ids {
    pub file: u64,
    pub dir: u64,
    pub inner: u64,
    pub link: u64,
    pub escape: u64,
    /// Handle of `file` opened read-write.
    pub file_fh: u64,
    /// Handle of the root directory.
    pub root_fh: u64,
}

/// What must stay equal in a canary entry (not atime: reading is allowed to show).
#[derive(Debug, PartialEq, Eq)]
struct Snap {
    ino: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    size: i64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Used only from the thread that built it: the tmpfs is mounted in that thread's mount
/// namespace (libFuzzer calls the target from its main thread).
pub struct World {
    thread: std::thread::ThreadId,
    base: PathBuf,
    shared: PathBuf,
    canary: Vec<(PathBuf, Snap)>,
    /// `None` only inside `reset`.
    server: Option<Server<PassthroughFs>>,
    pub ids: Ids,
    served: u32,
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap()
}

fn set_xattr(p: &Path, name: &str, value: &[u8]) {
    let n = CString::new(name).unwrap();
    // SAFETY: both strings are NUL-terminated and `value` is valid for its length.
    let rc = unsafe {
        libc::lsetxattr(
            cpath(p).as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        rc,
        0,
        "lsetxattr {p:?}: {}",
        std::io::Error::last_os_error()
    );
}

fn xattrs(p: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let c = cpath(p);
    let mut names = vec![0u8; 4096];
    // SAFETY: `names` is writable for its length.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    assert!(
        n >= 0,
        "llistxattr {p:?}: {}",
        std::io::Error::last_os_error()
    );
    names.truncate(n as usize);
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let cn = CString::new(name).unwrap();
        let mut v = vec![0u8; 4096];
        // SAFETY: `cn` is NUL-terminated and `v` writable for its length.
        let m = unsafe { libc::lgetxattr(c.as_ptr(), cn.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
        v.truncate(m.max(0) as usize);
        out.push((name.to_vec(), v));
    }
    out.sort();
    out
}

fn snap(p: &Path) -> Snap {
    // SAFETY: all-zero bytes are a valid `stat64` (plain integers).
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    // SAFETY: the path is NUL-terminated and `st` is writable.
    let rc = unsafe { libc::lstat64(cpath(p).as_ptr(), &mut st) };
    assert_eq!(
        rc,
        0,
        "canary {p:?} is gone: {}",
        std::io::Error::last_os_error()
    );
    Snap {
        ino: st.st_ino,
        mode: st.st_mode,
        uid: st.st_uid,
        gid: st.st_gid,
        nlink: st.st_nlink,
        size: st.st_size,
        mtime: (st.st_mtime, st.st_mtime_nsec),
        ctime: (st.st_ctime, st.st_ctime_nsec),
        xattrs: xattrs(p),
    }
}

/// Mounts a private tmpfs on `base` in a new mount namespace of this thread. Returns
/// whether it did.
fn private_tmpfs(base: &Path) -> bool {
    // SAFETY: plain syscalls on NUL-terminated strings; a failure changes nothing we rely on.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return false;
        }
        let root = CString::new("/").unwrap();
        // Without this, a shared "/" would propagate our mount back to the host.
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return false;
        }
        let fstype = CString::new("tmpfs").unwrap();
        let opts = CString::new("size=64m,mode=0755").unwrap();
        libc::mount(
            fstype.as_ptr(),
            cpath(base).as_ptr(),
            fstype.as_ptr(),
            0,
            opts.as_ptr().cast(),
        ) == 0
    }
}

const BASE_PREFIX: &str = "fbr-fuzz-passthrough-";

/// This process's base directory, for the exit handler.
static BASE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Removes the base directory at a normal exit (a crash leaves it for the next run).
extern "C" fn remove_base() {
    if let Some(base) = BASE.get() {
        // SAFETY: NUL-terminated path; failing (nothing mounted) is fine.
        unsafe { libc::umount2(cpath(base).as_ptr(), libc::MNT_DETACH) };
        let _ = std::fs::remove_dir_all(base);
    }
}

/// Removes the base directories of fuzzing processes that no longer run.
fn remove_stale_bases() {
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(BASE_PREFIX) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn populate_canary(canary: &Path) {
    std::fs::create_dir(canary).unwrap();
    std::fs::write(canary.join("file"), b"the canary must not change").unwrap();
    set_xattr(&canary.join("file"), "user.canary", b"tweet");
    std::fs::set_permissions(canary.join("file"), PermissionsExt::from_mode(0o640)).unwrap();
    std::fs::create_dir(canary.join("dir")).unwrap();
    std::fs::write(canary.join("dir/inner"), b"inner").unwrap();
    set_xattr(&canary.join("dir"), "user.canary", b"dir");
    symlink("file", canary.join("link")).unwrap();
}

fn populate_shared(shared: &Path) {
    let pattern: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(shared.join("file"), pattern).unwrap();
    set_xattr(&shared.join("file"), "user.a", b"value");
    set_xattr(&shared.join("file"), "user.bb", b"");
    std::fs::create_dir(shared.join("dir")).unwrap();
    std::fs::write(shared.join("dir/inner"), b"inner").unwrap();
    set_xattr(&shared.join("dir"), "user.d", b"dir");
    symlink("file", shared.join("link")).unwrap();
    // Symlinks that point out of the share: following them on the host is an escape.
    symlink("../canary/file", shared.join("escape")).unwrap();
    symlink("/", shared.join("abs")).unwrap();
}

/// Empties `shared` (whatever the fuzzer made of it) and puts back the initial tree and
/// the root's mode, owner and xattrs.
fn reset_shared(shared: &Path) {
    for e in std::fs::read_dir(shared).unwrap() {
        let p = e.unwrap().path();
        // Directories may have lost their permissions; we are root, so only the type
        // matters.
        let res = if p.symlink_metadata().unwrap().is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        res.unwrap_or_else(|e| panic!("reset of the scratch dir failed at {p:?}: {e}"));
    }
    let c = cpath(shared);
    // SAFETY: NUL-terminated path; restores what SETATTR on the root may have changed.
    unsafe {
        libc::chmod(c.as_ptr(), 0o755);
        libc::chown(c.as_ptr(), 0, 0);
    }
    for (name, _) in xattrs(shared) {
        let n = CString::new(name).unwrap();
        // SAFETY: both strings are NUL-terminated.
        unsafe { libc::lremovexattr(c.as_ptr(), n.as_ptr()) };
    }
    populate_shared(shared);
}

fn entry_id(server: &Server<PassthroughFs>, parent: u64, name: &str) -> u64 {
    let (_, reply) = serve(
        server,
        &RequestBuilder::new(Opcode::Lookup, parent)
            .name(name)
            .build(),
    );
    assert_eq!(reply.error(), 0, "setup lookup of {name}");
    u64::from_le_bytes(reply.body()[..8].try_into().unwrap())
}

fn open_fh(server: &Server<PassthroughFs>, op: Opcode, ino: u64, flags: i32) -> u64 {
    let req = RequestBuilder::new(op, ino)
        .arg(OpenIn {
            flags: flags as u32,
            ..Default::default()
        })
        .build();
    let (_, reply) = serve(server, &req);
    assert_eq!(reply.error(), 0, "setup open of {ino}");
    u64::from_le_bytes(reply.body()[..8].try_into().unwrap())
}

fn new_server(shared: &Path) -> (Server<PassthroughFs>, Ids) {
    let cfg = Config {
        root_dir: shared.to_str().unwrap().to_string(),
        xattr: true,
        ..Default::default()
    };
    let server = Server::new(PassthroughFs::<()>::new(cfg).expect("PassthroughFs::new"));
    let (res, reply) = serve(&server, &init_request(45, FLAGS));
    res.expect("INIT failed");
    assert_eq!(reply.error(), 0);
    let mut ids = Ids {
        file: entry_id(&server, 1, "file"),
        dir: entry_id(&server, 1, "dir"),
        link: entry_id(&server, 1, "link"),
        escape: entry_id(&server, 1, "escape"),
        ..Default::default()
    };
    ids.inner = entry_id(&server, ids.dir, "inner");
    ids.file_fh = open_fh(&server, Opcode::Open, ids.file, libc::O_RDWR);
    ids.root_fh = open_fh(&server, Opcode::Opendir, 1, libc::O_RDONLY);
    (server, ids)
}

impl World {
    fn new() -> World {
        remove_stale_bases();
        let base = std::env::temp_dir().join(format!("{BASE_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        BASE.set(base.clone()).unwrap();
        // SAFETY: `remove_base` is an `extern "C" fn()` that never unwinds.
        unsafe { libc::atexit(remove_base) };
        if !private_tmpfs(&base) {
            eprintln!("passthrough fuzz: no private tmpfs, the scratch dir is on {base:?}'s fs");
        }
        let shared = base.join("shared");
        let canary = base.join("canary");
        std::fs::create_dir(&shared).unwrap();
        populate_canary(&canary);
        populate_shared(&shared);
        let paths = [
            base.clone(),
            canary.clone(),
            canary.join("file"),
            canary.join("dir"),
            canary.join("dir/inner"),
            canary.join("link"),
        ];
        let canary = paths.into_iter().map(|p| {
            let s = snap(&p);
            (p, s)
        });
        let (server, ids) = new_server(&shared);
        World {
            thread: std::thread::current().id(),
            canary: canary.collect(),
            base,
            shared,
            server: Some(server),
            ids,
            served: 0,
        }
    }

    /// Panics (a crash for libFuzzer) when a canary entry changed or the base directory
    /// gained or lost an entry.
    pub fn check_canary(&self) {
        for (p, before) in &self.canary {
            let now = snap(p);
            assert_eq!(&now, before, "canary {p:?} changed");
        }
        let mut names: Vec<_> = std::fs::read_dir(&self.base)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["canary", "shared"],
            "entries appeared beside the share"
        );
    }

    /// The canary directory, for the test that the check notices a change.
    pub fn canary_dir(&self) -> PathBuf {
        self.base.join("canary")
    }

    /// Puts the scratch directory and the server back into their initial state. The old
    /// server's descriptors of removed files stay valid until it is dropped here.
    pub fn reset(&mut self) {
        // Drop the old server first: its descriptors of removed files hold their space.
        self.server = None;
        reset_shared(&self.shared);
        let (server, ids) = new_server(&self.shared);
        (self.server, self.ids) = (Some(server), ids);
        self.served = 0;
    }

    /// Serves `data` as a sequence of requests (each as long as its header says, the
    /// last one taking the rest), checks every reply and then the canary.
    pub fn fuzz_one(&mut self, data: &[u8]) {
        assert_eq!(
            std::thread::current().id(),
            self.thread,
            "world used off its thread"
        );
        let mut rest = data;
        while !rest.is_empty() {
            let len = rest
                .get(..4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize)
                .unwrap_or(0);
            let n = if (40..=rest.len()).contains(&len) {
                len
            } else {
                rest.len()
            };
            let (req, tail) = rest.split_at(n);
            let server = self.server.as_ref().expect("a server outside reset");
            common::fuzz_one(server, FLAGS, req);
            rest = tail;
        }
        self.check_canary();
        self.served += 1;
        if self.served >= RESET_EVERY {
            self.reset();
        }
    }
}

/// The process's world, built on first use.
pub fn world() -> std::sync::MutexGuard<'static, World> {
    static WORLD: std::sync::OnceLock<std::sync::Mutex<World>> = std::sync::OnceLock::new();
    WORLD
        .get_or_init(|| std::sync::Mutex::new(World::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Seeds for the passthrough target: the generic seeds of every opcode, then requests
/// naming the real node ids and handles of the scratch tree (`ids`, from a fresh reset),
/// and a few sequences.
pub fn seed_requests(ids: &Ids) -> Vec<(String, Vec<u8>)> {
    use fuse_backend_rs::abi::fuse_abi::{
        AccessIn, CopyFileRangeIn, CreateIn, FallocateIn, FlushIn, ForgetIn, FsyncIn, GetattrIn,
        GetxattrIn, LinkIn, LseekIn, MkdirIn, MknodIn, ReadIn, ReleaseIn, RenameIn, SetattrIn,
        SetattrValid, StatxIn, WriteIn,
    };
    let b = |op: Opcode, ino: u64| RequestBuilder::new(op, ino);
    let rd = |op: Opcode, ino: u64, fh: u64, size: u32| {
        b(op, ino)
            .arg(ReadIn {
                fh,
                size,
                ..Default::default()
            })
            .build()
    };
    let getx = |ino: u64, size: u32| b(Opcode::Getxattr, ino).arg(GetxattrIn { size, padding: 0 });
    let i = *ids;
    let mut out = common::seed_requests(false);
    let mut add = |name: &str, bytes: Vec<u8>| out.push((format!("pt-{name}"), bytes));
    add("LookupFile", b(Opcode::Lookup, 1).name("file").build());
    add("LookupEscape", b(Opcode::Lookup, 1).name("escape").build());
    add("LookupDotDot", b(Opcode::Lookup, 1).name("..").build());
    add(
        "LookupInner",
        b(Opcode::Lookup, i.dir).name("inner").build(),
    );
    add(
        "Getattr",
        b(Opcode::Getattr, i.file).arg(GetattrIn::default()).build(),
    );
    add(
        "SetattrSize",
        b(Opcode::Setattr, i.file)
            .arg(SetattrIn {
                valid: SetattrValid::SIZE.bits(),
                size: 100,
                ..Default::default()
            })
            .build(),
    );
    add(
        "SetattrModeEscape",
        b(Opcode::Setattr, i.escape)
            .arg(SetattrIn {
                valid: (SetattrValid::MODE | SetattrValid::UID).bits(),
                mode: 0o777,
                uid: 1000,
                ..Default::default()
            })
            .build(),
    );
    add("Readlink", b(Opcode::Readlink, i.link).build());
    add("ReadlinkEscape", b(Opcode::Readlink, i.escape).build());
    add("Read", rd(Opcode::Read, i.file, i.file_fh, 4096));
    add(
        "Write",
        b(Opcode::Write, i.file)
            .arg(WriteIn {
                fh: i.file_fh,
                size: 5,
                offset: 10,
                ..Default::default()
            })
            .bytes(b"hello")
            .build(),
    );
    add("Readdir", rd(Opcode::Readdir, 1, i.root_fh, 4096));
    add("Readdirplus", rd(Opcode::Readdirplus, 1, i.root_fh, 4096));
    add("Getxattr", getx(i.file, 64).name("user.a").build());
    add("GetxattrCount", getx(i.file, 0).name("user.a").build());
    add(
        "GetxattrEscape",
        getx(i.escape, 64).name("user.canary").build(),
    );
    add(
        "Listxattr",
        getx(i.file, 64).build().tap_op(Opcode::Listxattr),
    );
    add(
        "Setxattr",
        b(Opcode::Setxattr, i.file)
            .arg([3u32, 0])
            .name("user.n")
            .bytes(b"abc")
            .build(),
    );
    add(
        "SetxattrEscape",
        b(Opcode::Setxattr, i.escape)
            .arg([3u32, 0])
            .name("user.canary")
            .bytes(b"abc")
            .build(),
    );
    add(
        "Removexattr",
        b(Opcode::Removexattr, i.file).name("user.a").build(),
    );
    add(
        "Mkdir",
        b(Opcode::Mkdir, 1)
            .arg(MkdirIn {
                mode: 0o755,
                umask: 0,
            })
            .name("new")
            .build(),
    );
    let create = b(Opcode::Create, 1)
        .arg(CreateIn {
            flags: libc::O_RDWR as u32,
            mode: libc::S_IFREG | 0o644,
            ..Default::default()
        })
        .name("created")
        .build();
    add("Create", create.clone());
    add(
        "Mknod",
        b(Opcode::Mknod, 1)
            .arg(MknodIn {
                mode: libc::S_IFIFO | 0o644,
                ..Default::default()
            })
            .name("fifo")
            .build(),
    );
    add(
        "SymlinkOut",
        b(Opcode::Symlink, 1)
            .name("sl")
            .name("../canary/file")
            .build(),
    );
    add(
        "Link",
        b(Opcode::Link, i.dir)
            .arg(LinkIn { oldnodeid: i.file })
            .name("hard")
            .build(),
    );
    add(
        "Rename",
        b(Opcode::Rename, 1)
            .arg(RenameIn { newdir: i.dir })
            .name("file")
            .name("moved")
            .build(),
    );
    add(
        "RenameDotDot",
        b(Opcode::Rename, 1)
            .arg(RenameIn { newdir: i.dir })
            .name("link")
            .name("..")
            .build(),
    );
    add("Unlink", b(Opcode::Unlink, 1).name("link").build());
    add("RmdirDir", b(Opcode::Rmdir, 1).name("dir").build());
    add(
        "Fallocate",
        b(Opcode::Fallocate, i.file)
            .arg(FallocateIn {
                fh: i.file_fh,
                length: 65536,
                ..Default::default()
            })
            .build(),
    );
    add(
        "Lseek",
        b(Opcode::Lseek, i.file)
            .arg(LseekIn {
                fh: i.file_fh,
                offset: 1,
                whence: libc::SEEK_DATA as u32,
                ..Default::default()
            })
            .build(),
    );
    add(
        "CopyFileRange",
        b(Opcode::CopyFileRange, i.file)
            .arg(CopyFileRangeIn {
                fh_in: i.file_fh,
                nodeid_out: i.file,
                fh_out: i.file_fh,
                offset_out: 9000,
                len: 100,
                ..Default::default()
            })
            .build(),
    );
    add(
        "Statx",
        b(Opcode::Statx, i.file).arg(StatxIn::default()).build(),
    );
    add(
        "Access",
        b(Opcode::Access, i.file)
            .arg(AccessIn {
                mask: 4,
                padding: 0,
            })
            .build(),
    );
    add(
        "Flush",
        b(Opcode::Flush, i.file)
            .arg(FlushIn {
                fh: i.file_fh,
                ..Default::default()
            })
            .build(),
    );
    add(
        "Fsync",
        b(Opcode::Fsync, i.file)
            .arg(FsyncIn {
                fh: i.file_fh,
                ..Default::default()
            })
            .build(),
    );
    add(
        "Release",
        b(Opcode::Release, i.file)
            .arg(ReleaseIn {
                fh: i.file_fh,
                ..Default::default()
            })
            .build(),
    );
    add(
        "Forget",
        b(Opcode::Forget, i.file)
            .arg(ForgetIn { nlookup: 1 })
            .build(),
    );
    add("Statfs", b(Opcode::Statfs, 1).build());
    add(
        "Tmpfile",
        b(Opcode::Tmpfile, 1)
            .arg(CreateIn {
                flags: libc::O_RDWR as u32,
                mode: libc::S_IFREG | 0o600,
                ..Default::default()
            })
            .name("")
            .build(),
    );
    // Sequences: create then look it up; lookup of the escape then a setattr on it.
    let mut seq = create;
    seq.extend(b(Opcode::Lookup, 1).name("created").build());
    seq.extend(b(Opcode::Unlink, 1).name("created").build());
    add("SeqCreateLookupUnlink", seq);
    out
}

/// Rewrites the opcode of a built request.
trait TapOp {
    fn tap_op(self, op: Opcode) -> Self;
}

impl TapOp for Vec<u8> {
    fn tap_op(mut self, op: Opcode) -> Self {
        self[4..8].copy_from_slice(&(op as u32).to_le_bytes());
        self
    }
}
