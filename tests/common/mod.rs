//! Helpers shared by the real-mount integration tests of the passthrough driver.
//!
//! [`TestMount`] serves a fresh host directory through [`PassthroughFs`], [`Server`] and a
//! [`FuseSession`] on N service threads of this very process, each with its own channel.
//! It also makes a plain directory on the same host filesystem: the differential tests run
//! each system call on the mount and on the plain directory, and the kernel's own
//! filesystem is the oracle.
//!
//! Layout of one test (all under a fresh `TempDir`):
//!
//! ```text
//! BASE/share/src      the shared directory (Config::root_dir)
//! BASE/share/secret   a file next to it, never reachable through the mount
//! BASE/mnt/m          the mount point (its parent is not the source's parent)
//! BASE/plain          the oracle directory
//! ```
//!
//! With `CI=true` a test that cannot mount fails; otherwise it prints `skipping: <why>` and
//! returns.

#![allow(dead_code)]

pub mod ci;
pub mod example;

pub use ci::cannot_run;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::thread;
use std::time::{Duration, Instant};

use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::passthrough::{Config, PassthroughFs};
use fuse_backend_rs::transport::{FuseChannel, FuseSession};
use vmm_sys_util::tempdir::TempDir;

/// How long service threads may take to stop; a guard against hanging the run, never a
/// timing assertion.
pub const EXIT_GRACE: Duration = Duration::from_secs(30);

/// An environment variable parsed as a number, or `default`.
pub fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

/// The full path of `cmd` when it is on `PATH`.
pub fn which(cmd: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(cmd))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.mode_x()))
}

trait ModeX {
    fn mode_x(&self) -> bool;
}

impl ModeX for std::fs::Metadata {
    fn mode_x(&self) -> bool {
        self.permissions().mode() & 0o111 != 0
    }
}

/// Held (shared) while a child process of ours may still have the descriptors it inherited
/// at fork: from `fork` until `exec` (or until it exits, for bare forks). Tearing a mount
/// down takes it exclusively. Without it, a child forked by one test could inherit the
/// `/dev/fuse` descriptors of another test's mount and then, closing that mount's files at
/// `exec`, wait forever for a FLUSH reply that no service thread will send while its own
/// copy of the descriptors keeps the connection alive.
static FORK_LOCK: RwLock<()> = RwLock::new(());

/// See [`FORK_LOCK`]: hold it around a bare `fork()` until the child is reaped.
pub fn fork_guard() -> RwLockReadGuard<'static, ()> {
    FORK_LOCK.read().unwrap_or_else(|e| e.into_inner())
}

/// `cmd.spawn()` under the fork guard (it returns once the child has exec'd).
pub fn spawn(cmd: &mut Command) -> io::Result<Child> {
    let _g = fork_guard();
    cmd.spawn()
}

/// `cmd.status()`, spawning under the fork guard.
pub fn status_of(cmd: &mut Command) -> io::Result<ExitStatus> {
    spawn(cmd)?.wait()
}

/// `cmd.output()`, spawning under the fork guard.
pub fn output_of(cmd: &mut Command) -> io::Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    spawn(cmd)?.wait_with_output()
}

/// How to mount a [`TestMount`].
#[derive(Clone, Debug)]
pub struct MountOptions {
    /// Driver configuration; `root_dir` is filled in with the test's source directory.
    pub cfg: Config,
    /// Service threads, one channel each.
    pub threads: usize,
    pub allow_other: bool,
    pub default_permissions: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            cfg: Config::default(),
            threads: 2,
            allow_other: false,
            default_permissions: false,
        }
    }
}

impl MountOptions {
    pub fn xattr(mut self, on: bool) -> Self {
        self.cfg.xattr = on;
        self
    }

    pub fn file_handles(mut self, on: bool) -> Self {
        self.cfg.inode_file_handles = on;
        self
    }

    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    pub fn allow_other(mut self, on: bool) -> Self {
        self.allow_other = on;
        self
    }

    pub fn default_permissions(mut self, on: bool) -> Self {
        self.default_permissions = on;
        self
    }
}

type Fs = PassthroughFs<()>;

/// A passthrough mount served by threads of this process, plus its plain twin directory.
///
/// Dropping it (also while a failed assertion unwinds) unmounts lazily, wakes the service
/// threads, waits for them and drops the driver, before the temporary directories go.
pub struct TestMount {
    session: Option<FuseSession>,
    server: Option<Arc<Server<Fs>>>,
    done: mpsc::Receiver<bool>,
    threads: usize,
    /// Service threads that panicked so far.
    panicked: usize,
    mnt: PathBuf,
    src: PathBuf,
    plain: PathBuf,
    secret: PathBuf,
    cfg: Config,
    /// Dropped last, after the unmount.
    base: TempDir,
}

fn mkdir_mode(p: &Path, mode: u32) {
    std::fs::create_dir(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

impl TestMount {
    /// Mounts a fresh source directory; `None` (after saying why) when this machine
    /// cannot mount and we are not in CI.
    pub fn new(opts: MountOptions) -> Option<TestMount> {
        if !Path::new("/dev/fuse").exists() {
            cannot_run("/dev/fuse does not exist");
            return None;
        }
        let base = TempDir::new_with_prefix("/tmp/pt-it-").expect("tempdir");
        let b = base.as_path().to_path_buf();
        // Other users (the non-root tests) must be able to walk down to the mount.
        std::fs::set_permissions(&b, std::fs::Permissions::from_mode(0o755)).unwrap();
        mkdir_mode(&b.join("share"), 0o755);
        mkdir_mode(&b.join("share/src"), 0o755);
        mkdir_mode(&b.join("mnt"), 0o755);
        mkdir_mode(&b.join("mnt/m"), 0o755);
        mkdir_mode(&b.join("plain"), 0o755);
        let secret = b.join("share/secret");
        std::fs::write(&secret, SECRET).unwrap();
        let src = b.join("share/src");
        let mnt = b.join("mnt/m");

        let mut cfg = opts.cfg.clone();
        cfg.root_dir = src.to_string_lossy().into_owned();
        let fs = Fs::new(cfg.clone()).unwrap_or_else(|e| panic!("PassthroughFs::new: {e}"));
        let mut session =
            FuseSession::new(&mnt, "pt-test", "pttest", false).expect("a valid mount point");
        session.set_allow_other(opts.allow_other);
        session.set_default_permissions(opts.default_permissions);
        if let Err(e) = session.mount() {
            cannot_run(format!("cannot mount fuse on {}: {e:?}", mnt.display()));
            return None;
        }
        let server = Arc::new(Server::new(fs));
        let (tx, done) = mpsc::channel();
        let mut m = TestMount {
            session: None,
            server: Some(server.clone()),
            done,
            threads: 0,
            panicked: 0,
            mnt,
            src,
            plain: b.join("plain"),
            secret,
            cfg,
            base,
        };
        for i in 0..opts.threads.max(1) {
            let ch = session.new_channel().expect("new_channel");
            let server = server.clone();
            let tx = tx.clone();
            thread::Builder::new()
                .name(format!("pt-fuse-{i}"))
                .spawn(move || {
                    let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        service_loop(&server, ch)
                    }));
                    drop(server);
                    let _ = tx.send(res.is_ok());
                })
                .expect("spawn a service thread");
            m.threads += 1;
        }
        m.session = Some(session);
        Some(m)
    }

    /// The mount point.
    pub fn mnt(&self) -> &Path {
        &self.mnt
    }

    /// The shared host directory behind the mount.
    pub fn src(&self) -> &Path {
        &self.src
    }

    /// The plain oracle directory (same host filesystem as the source).
    pub fn plain(&self) -> &Path {
        &self.plain
    }

    /// A file next to the source directory, holding [`SECRET`].
    pub fn secret(&self) -> &Path {
        &self.secret
    }

    /// The temporary directory holding everything.
    pub fn base(&self) -> &Path {
        self.base.as_path()
    }

    /// The driver's configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Sends FUSE_NOTIFY_PRUNE for `ids` on the session's descriptor.
    #[allow(dead_code)]
    pub fn notify_prune(&mut self, ids: &[u64]) -> fuse_backend_rs::Result<usize> {
        let server = self.server.clone().expect("still mounted");
        let session = self.session.as_mut().expect("still mounted");
        let mut res = None;
        session.with_writer(|w| res = Some(server.notify_prune(w, ids)));
        res.unwrap_or_else(|| {
            Err(fuse_backend_rs::Error::EncodeMessage(
                io::Error::from_raw_os_error(libc::ENOTCONN),
            ))
        })
    }

    /// The driver.
    pub fn fs(&self) -> &Fs {
        self.server.as_ref().expect("still mounted").fs()
    }

    /// The pair (mount, plain) for differential checks.
    pub fn pair(&self) -> Pair {
        Pair {
            m: self.mnt.clone(),
            p: self.plain.clone(),
        }
    }

    /// Asserts that `rel` seen through the mount has the attributes of the host file
    /// behind it: inode number, type and mode, size, links, owner, device and mtime.
    #[track_caller]
    pub fn assert_like_source(&self, rel: &str) {
        let a = lstat(&join(&self.mnt, rel))
            .unwrap_or_else(|e| panic!("lstat mnt/{rel}: {}", errname(e)));
        let b = lstat(&join(&self.src, rel))
            .unwrap_or_else(|e| panic!("lstat src/{rel}: {}", errname(e)));
        let view = |s: &libc::stat64| {
            (
                s.st_ino,
                s.st_mode,
                if type_char(s.st_mode) == 'd' {
                    0
                } else {
                    s.st_size
                },
                s.st_nlink,
                s.st_uid,
                s.st_gid,
                s.st_rdev,
                mtime(s),
            )
        };
        assert_eq!(
            view(&a),
            view(&b),
            "{rel:?}: (ino, mode, size, nlink, uid, gid, rdev, mtime) through the mount (left) \
             differ from the source (right)"
        );
    }

    /// Unmounts (lazily), wakes the service threads, waits for them and drops the driver.
    /// Idempotent. Returns how many service threads panicked.
    pub fn unmount(&mut self) -> usize {
        if let Some(mut se) = self.session.take() {
            let _no_forks = FORK_LOCK.write().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = se.umount() {
                eprintln!("umount {}: {e:?}", self.mnt.display());
            }
            if let Err(e) = se.wake() {
                eprintln!("wake: {e:?}");
            }
            while self.threads > 0 {
                match self.done.recv_timeout(EXIT_GRACE) {
                    Ok(ok) => {
                        if !ok {
                            self.panicked += 1;
                        }
                        self.threads -= 1;
                    }
                    Err(_) => {
                        eprintln!("{} service thread(s) did not stop", self.threads);
                        break;
                    }
                }
            }
            drop(se);
        }
        self.server = None;
        self.panicked
    }

    /// Unmounts and asserts that no service thread panicked or hung.
    pub fn finish(mut self) {
        let panicked = self.unmount();
        assert_eq!(panicked, 0, "a service thread panicked");
        assert_eq!(self.threads, 0, "a service thread did not stop");
    }
}

impl Drop for TestMount {
    fn drop(&mut self) {
        self.unmount();
    }
}

/// Serves requests from `ch` until the session ends (also used by `common_overlay`).
pub fn service_loop<F: fuse_backend_rs::api::filesystem::FileSystem + Sync>(
    server: &Server<F>,
    mut ch: FuseChannel,
) {
    loop {
        let (reader, writer) = match ch.get_request() {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) => {
                eprintln!("get_request: {e:?}");
                return;
            }
        };
        match server.handle_message(reader, writer.into(), None, None) {
            Ok(_) => {}
            Err(fuse_backend_rs::Error::EncodeMessage(e))
                if matches!(e.raw_os_error(), Some(libc::ENODEV) | Some(libc::EBADF)) =>
            {
                return;
            }
            Err(_) => {}
        }
    }
}

/// What the file next to the source directory holds.
pub const SECRET: &[u8] = b"top secret: outside the share\n";

/// The number of open descriptors of this process.
pub fn fd_count() -> usize {
    // The directory's own descriptor is listed too.
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
        .saturating_sub(1)
}

/// The descriptors a child process starts with (everything we hold that is not
/// close-on-exec leaks into it).
pub fn child_fd_count() -> usize {
    let out =
        output_of(Command::new("sh").args(["-c", "ls -1 /proc/self/fd | wc -l"])).expect("sh runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a number from wc")
}

/// `echo N > /proc/sys/vm/drop_caches`.
pub fn drop_caches(level: u32) -> io::Result<()> {
    std::fs::write("/proc/sys/vm/drop_caches", format!("{level}\n"))
}

/// Waits until process `pid` is blocked in system call `nr` (the first field of
/// `/proc/PID/syscall`), e.g. a client asleep in flock(2) on the mount. The 30 s
/// deadline only keeps a broken test from hanging; nothing depends on how soon it comes.
#[track_caller]
pub fn wait_blocked_in(pid: u32, nr: libc::c_long, what: &str) {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let now = std::fs::read_to_string(format!("/proc/{pid}/syscall"))
            .ok()
            .and_then(|t| t.split_whitespace().next()?.parse::<libc::c_long>().ok());
        if now == Some(nr) {
            return;
        }
        assert!(
            Instant::now() < end,
            "gave up waiting until {what}: pid {pid} is in syscall {now:?}, not {nr}"
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Waits (bounded, re-dropping caches) until `fd_count() <= target`; returns the last count.
pub fn wait_fds_at_most(target: usize, limit: Duration) -> usize {
    let end = Instant::now() + limit;
    loop {
        let n = fd_count();
        if n <= target || Instant::now() >= end {
            return n;
        }
        let _ = drop_caches(2);
        thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `cmd` with stdout/stderr in files, killing it after `limit`. Returns the status
/// (None when it had to be killed: a hang) and its output.
pub fn run_bounded(
    cmd: &mut Command,
    limit: Duration,
    out_dir: &Path,
) -> (Option<ExitStatus>, String, String) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out_path = out_dir.join(format!("cmd-{n}.out"));
    let err_path = out_dir.join(format!("cmd-{n}.err"));
    let out = File::create(&out_path).unwrap();
    let err = File::create(&err_path).unwrap();
    let mut child = spawn(cmd.stdin(Stdio::null()).stdout(out).stderr(err))
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let end = Instant::now() + limit;
    let status = loop {
        match child.try_wait().unwrap() {
            Some(st) => break Some(st),
            None if Instant::now() >= end => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            None => thread::sleep(Duration::from_millis(50)),
        }
    };
    let read = |p: &Path| {
        let mut s = String::new();
        let _ = File::open(p).and_then(|mut f| f.read_to_string(&mut s));
        s
    };
    (status, read(&out_path), read(&err_path))
}

// ---------------------------------------------------------------------------------------
// System calls with errno results.

/// A result whose error is an errno.
pub type Res<T> = Result<T, i32>;

pub fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `-1` becomes `Err(errno)`.
pub fn cvt<T: Copy + PartialOrd + Default>(r: T) -> Res<T> {
    if r < T::default() {
        Err(errno())
    } else {
        Ok(r)
    }
}

pub fn io_errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(-1)
}

pub fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("path without NUL")
}

pub fn open(p: &Path, flags: i32, mode: u32) -> Res<OwnedFd> {
    let c = cpath(p);
    // SAFETY: a valid C string; the returned descriptor is owned by the result.
    let fd = cvt(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
    // SAFETY: a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn lstat(p: &Path) -> Res<libc::stat64> {
    let c = cpath(p);
    // SAFETY: stat64 is plain data; the kernel fills it.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers for the call.
    cvt(unsafe { libc::lstat64(c.as_ptr(), &mut st) })?;
    Ok(st)
}

pub fn stat(p: &Path) -> Res<libc::stat64> {
    let c = cpath(p);
    // SAFETY: as in lstat.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers for the call.
    cvt(unsafe { libc::stat64(c.as_ptr(), &mut st) })?;
    Ok(st)
}

pub fn fstat(fd: RawFd) -> Res<libc::stat64> {
    // SAFETY: as in lstat.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer; a bad fd is an errno.
    cvt(unsafe { libc::fstat64(fd, &mut st) })?;
    Ok(st)
}

pub fn pwrite(fd: RawFd, buf: &[u8], off: i64) -> Res<usize> {
    // SAFETY: buf is valid for its length.
    cvt(unsafe { libc::pwrite64(fd, buf.as_ptr().cast(), buf.len(), off) }).map(|n| n as usize)
}

pub fn pread(fd: RawFd, len: usize, off: i64) -> Res<Vec<u8>> {
    let mut buf = vec![0u8; len];
    // SAFETY: buf is valid for its length.
    let n = cvt(unsafe { libc::pread64(fd, buf.as_mut_ptr().cast(), len, off) })?;
    buf.truncate(n as usize);
    Ok(buf)
}

pub fn write(fd: RawFd, buf: &[u8]) -> Res<usize> {
    // SAFETY: buf is valid for its length.
    cvt(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) }).map(|n| n as usize)
}

pub fn read_all(fd: RawFd) -> Res<Vec<u8>> {
    let mut out = Vec::new();
    let mut off = 0i64;
    loop {
        let chunk = pread(fd, 65536, off)?;
        if chunk.is_empty() {
            return Ok(out);
        }
        off += chunk.len() as i64;
        out.extend_from_slice(&chunk);
    }
}

/// The whole content of `p` (read with `open`/`pread`, not following a final symlink).
pub fn read_file(p: &Path) -> Res<Vec<u8>> {
    let fd = open(p, libc::O_RDONLY | libc::O_NOFOLLOW, 0)?;
    read_all(fd.as_raw_fd())
}

pub fn readlink(p: &Path) -> Res<Vec<u8>> {
    std::fs::read_link(p)
        .map(|t| t.as_os_str().as_bytes().to_vec())
        .map_err(|e| io_errno(&e))
}

macro_rules! path_call {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),*) => |$c:ident| $body:expr) => {
        $(#[$doc])*
        pub fn $name(p: &Path $(, $arg: $ty)*) -> Res<()> {
            let $c = cpath(p);
            // SAFETY: a valid C string; the other arguments are plain values.
            cvt(unsafe { $body }).map(drop)
        }
    };
}

path_call!(mkdir(mode: u32) => |c| libc::mkdir(c.as_ptr(), mode));
path_call!(rmdir() => |c| libc::rmdir(c.as_ptr()));
path_call!(unlink() => |c| libc::unlink(c.as_ptr()));
path_call!(truncate(len: i64) => |c| libc::truncate64(c.as_ptr(), len));
path_call!(chmod(mode: u32) => |c| libc::chmod(c.as_ptr(), mode));
path_call!(lchown(uid: u32, gid: u32) => |c| libc::lchown(c.as_ptr(), uid, gid));
path_call!(chown(uid: u32, gid: u32) => |c| libc::chown(c.as_ptr(), uid, gid));
path_call!(mknod(mode: u32, dev: u64) => |c| libc::mknod(c.as_ptr(), mode, dev));
path_call!(access(mode: i32) => |c| libc::access(c.as_ptr(), mode));

/// `renameat2(from, to, flags)`.
pub fn rename2(from: &Path, to: &Path, flags: u32) -> Res<()> {
    let a = cpath(from);
    let b = cpath(to);
    // SAFETY: valid C strings.
    cvt(unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            flags,
        )
    })
    .map(drop)
}

/// `link(from, to)`.
pub fn link(from: &Path, to: &Path) -> Res<()> {
    let a = cpath(from);
    let b = cpath(to);
    // SAFETY: valid C strings.
    cvt(unsafe { libc::link(a.as_ptr(), b.as_ptr()) }).map(drop)
}

/// `symlink(target, at)`: `at` becomes a link to `target` (stored verbatim).
pub fn symlink(target: &str, at: &Path) -> Res<()> {
    let t = CString::new(target).unwrap();
    let b = cpath(at);
    // SAFETY: valid C strings.
    cvt(unsafe { libc::symlink(t.as_ptr(), b.as_ptr()) }).map(drop)
}

/// `lgetxattr` with a buffer of `size` bytes (0: ask for the length, returned as zeros).
pub fn lgetxattr(p: &Path, name: &str, size: usize) -> Res<Vec<u8>> {
    let c = cpath(p);
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; size];
    // SAFETY: valid C strings; buf valid for `size` bytes (null when 0).
    let r = cvt(unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            n.as_ptr(),
            if size == 0 {
                std::ptr::null_mut()
            } else {
                buf.as_mut_ptr().cast()
            },
            size,
        )
    })?;
    if size == 0 {
        return Ok(vec![0; r as usize]);
    }
    buf.truncate(r as usize);
    Ok(buf)
}

pub fn lsetxattr(p: &Path, name: &str, value: &[u8], flags: i32) -> Res<()> {
    let c = cpath(p);
    let n = CString::new(name).unwrap();
    // SAFETY: valid C strings and buffer.
    cvt(unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    })
    .map(drop)
}

pub fn lremovexattr(p: &Path, name: &str) -> Res<()> {
    let c = cpath(p);
    let n = CString::new(name).unwrap();
    // SAFETY: valid C strings.
    cvt(unsafe { libc::lremovexattr(c.as_ptr(), n.as_ptr()) }).map(drop)
}

/// `llistxattr` with a buffer of `size` bytes (0: ask for the length).
pub fn llistxattr_raw(p: &Path, size: usize) -> Res<Vec<u8>> {
    let c = cpath(p);
    let mut buf = vec![0u8; size];
    // SAFETY: valid C string; buf valid for `size` bytes (null when 0).
    let r = cvt(unsafe {
        libc::llistxattr(
            c.as_ptr(),
            if size == 0 {
                std::ptr::null_mut()
            } else {
                buf.as_mut_ptr().cast()
            },
            size,
        )
    })?;
    if size == 0 {
        return Ok(vec![0; r as usize]);
    }
    buf.truncate(r as usize);
    Ok(buf)
}

/// The attribute names of `p`, sorted.
pub fn llistxattr(p: &Path) -> Res<Vec<String>> {
    let len = llistxattr_raw(p, 0)?.len();
    let raw = llistxattr_raw(p, len + 256)?;
    let mut names: Vec<String> = raw
        .split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// The `user.*` attributes of `p` with their values.
pub fn user_xattrs(p: &Path) -> Res<BTreeMap<String, Vec<u8>>> {
    let mut out = BTreeMap::new();
    for name in llistxattr(p)? {
        if name.starts_with("user.") {
            out.insert(name.clone(), lgetxattr(p, &name, 65536)?);
        }
    }
    Ok(out)
}

/// Directory entries of `p` (without `.` and `..`) with their type letters, sorted.
pub fn listing(p: &Path) -> Res<Vec<(String, char)>> {
    let rd = std::fs::read_dir(p).map_err(|e| io_errno(&e))?;
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| io_errno(&e))?;
        let t = e.file_type().map_err(|e| io_errno(&e))?;
        out.push((
            e.file_name().to_string_lossy().into_owned(),
            type_char_ft(&t),
        ));
    }
    out.sort();
    Ok(out)
}

fn type_char_ft(t: &std::fs::FileType) -> char {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        'd'
    } else if t.is_file() {
        'f'
    } else if t.is_symlink() {
        'l'
    } else if t.is_fifo() {
        'p'
    } else if t.is_char_device() {
        'c'
    } else if t.is_block_device() {
        'b'
    } else if t.is_socket() {
        's'
    } else {
        '?'
    }
}

/// The type letter of a `st_mode`.
pub fn type_char(mode: u32) -> char {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => 'd',
        libc::S_IFREG => 'f',
        libc::S_IFLNK => 'l',
        libc::S_IFIFO => 'p',
        libc::S_IFCHR => 'c',
        libc::S_IFBLK => 'b',
        libc::S_IFSOCK => 's',
        _ => '?',
    }
}

// ---------------------------------------------------------------------------------------
// Differential checks.

/// Attributes compared between the mount and the plain directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr {
    pub mode: u32,
    pub size: i64,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub rdev: u64,
}

impl Attr {
    pub fn of(st: &libc::stat64) -> Attr {
        Attr {
            mode: st.st_mode,
            // Directory sizes depend on each directory's history on the host filesystem.
            size: if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                0
            } else {
                st.st_size
            },
            nlink: st.st_nlink,
            uid: st.st_uid,
            gid: st.st_gid,
            rdev: st.st_rdev,
        }
    }
}

/// `(sec, nsec)` of a timestamp.
pub fn mtime(st: &libc::stat64) -> (i64, i64) {
    (st.st_mtime, st.st_mtime_nsec)
}

pub fn atime(st: &libc::stat64) -> (i64, i64) {
    (st.st_atime, st.st_atime_nsec)
}

/// The mount and the plain directory, for running the same call on both.
#[derive(Clone, Debug)]
pub struct Pair {
    pub m: PathBuf,
    pub p: PathBuf,
}

impl Pair {
    /// Runs `f` on the mount's and the plain directory's `rel`, asserts equal results and
    /// returns the mount's.
    #[track_caller]
    pub fn same<T, F>(&self, step: &str, rel: &str, f: F) -> Res<T>
    where
        T: PartialEq + std::fmt::Debug,
        F: Fn(&Path) -> Res<T>,
    {
        let a = f(&join(&self.m, rel));
        let b = f(&join(&self.p, rel));
        assert_eq!(
            a,
            b,
            "step `{step}` on {rel:?}: mount (left) differs from the host (right), errno names: {} vs {}",
            errname_res(&a),
            errname_res(&b)
        );
        a
    }

    /// Runs `f` with both roots, asserts equal results and returns the mount's.
    #[track_caller]
    pub fn same2<T, F>(&self, step: &str, f: F) -> Res<T>
    where
        T: PartialEq + std::fmt::Debug,
        F: Fn(&Path) -> Res<T>,
    {
        let a = f(&self.m);
        let b = f(&self.p);
        assert_eq!(
            a,
            b,
            "step `{step}`: mount (left) differs from the host (right), errno names: {} vs {}",
            errname_res(&a),
            errname_res(&b)
        );
        a
    }

    /// Like [`Pair::same`] for calls that return a descriptor: both must succeed or fail
    /// with the same errno. Returns `(mount fd, plain fd)` on success.
    #[track_caller]
    pub fn open(&self, step: &str, rel: &str, flags: i32, mode: u32) -> Res<(OwnedFd, OwnedFd)> {
        let a = open(&join(&self.m, rel), flags, mode);
        let b = open(&join(&self.p, rel), flags, mode);
        match (a, b) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            (Err(x), Err(y)) if x == y => Err(x),
            (a, b) => panic!(
                "step `{step}` open {rel:?} flags {flags:#o}: mount gave {:?}, host gave {:?}",
                a.as_ref().map(|f| f.as_raw_fd()).map_err(|e| errname(*e)),
                b.as_ref().map(|f| f.as_raw_fd()).map_err(|e| errname(*e)),
            ),
        }
    }

    /// Runs `f` on both descriptors of a pair, asserts equal results.
    #[track_caller]
    pub fn fd<T, F>(&self, step: &str, fds: &(OwnedFd, OwnedFd), f: F) -> Res<T>
    where
        T: PartialEq + std::fmt::Debug,
        F: Fn(RawFd) -> Res<T>,
    {
        let a = f(fds.0.as_raw_fd());
        let b = f(fds.1.as_raw_fd());
        assert_eq!(
            a,
            b,
            "step `{step}` (fd): mount (left) differs from the host (right), errno names: {} vs {}",
            errname_res(&a),
            errname_res(&b)
        );
        a
    }

    /// Asserts that `rel` has the same attributes (and the same content for regular files
    /// and symlinks) on both sides.
    #[track_caller]
    pub fn same_node(&self, step: &str, rel: &str) {
        let st = self.same(step, rel, |p| lstat(p).map(|s| Attr::of(&s)));
        if let Ok(a) = st {
            match a.mode & libc::S_IFMT {
                libc::S_IFREG => {
                    self.same(step, rel, read_file).unwrap();
                }
                libc::S_IFLNK => {
                    self.same(step, rel, readlink).unwrap();
                }
                libc::S_IFDIR => {
                    self.same(step, rel, listing).unwrap();
                }
                _ => {}
            }
        }
    }
}

/// `root` joined with `rel` ("" or "." is the root itself).
pub fn join(root: &Path, rel: &str) -> PathBuf {
    if rel.is_empty() || rel == "." {
        root.to_path_buf()
    } else {
        root.join(rel)
    }
}

/// The symbolic name of an errno, for messages.
pub fn errname(e: i32) -> String {
    let name = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::EACCES => "EACCES",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::EFBIG => "EFBIG",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::ERANGE => "ERANGE",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::ENODATA => "ENODATA",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENOTCONN => "ENOTCONN",
        libc::EBUSY => "EBUSY",
        libc::ETXTBSY => "ETXTBSY",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

fn errname_res<T>(r: &Res<T>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => errname(*e),
    }
}

// ---------------------------------------------------------------------------------------
// Whole-tree snapshots.

/// The state of one node of a tree, as compared by the differential tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeState {
    pub kind: char,
    pub mode: u32,
    /// 0 for directories.
    pub size: i64,
    pub nlink: u64,
    /// File content or symlink target; empty otherwise.
    pub data: Vec<u8>,
    /// `user.*` attributes (when `with_xattrs`).
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// Every node under `root` (not `root` itself), keyed by relative path.
pub fn snapshot(root: &Path, with_xattrs: bool) -> BTreeMap<String, NodeState> {
    let mut out = BTreeMap::new();
    walk(root, "", with_xattrs, &mut out);
    out
}

fn walk(root: &Path, rel: &str, with_xattrs: bool, out: &mut BTreeMap<String, NodeState>) {
    let dir = join(root, rel);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("readdir {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    for name in names {
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let p = root.join(&r);
        let st = lstat(&p).unwrap_or_else(|e| panic!("lstat {}: {}", p.display(), errname(e)));
        let a = Attr::of(&st);
        let kind = type_char(st.st_mode);
        let data = match kind {
            'f' => read_file(&p).unwrap_or_else(|e| panic!("read {}: {}", p.display(), errname(e))),
            'l' => readlink(&p).unwrap(),
            _ => Vec::new(),
        };
        let xattrs = if with_xattrs && (kind == 'f' || kind == 'd') {
            user_xattrs(&p).unwrap_or_else(|e| panic!("xattrs {}: {}", p.display(), errname(e)))
        } else {
            BTreeMap::new()
        };
        out.insert(
            r.clone(),
            NodeState {
                kind,
                mode: st.st_mode,
                size: a.size,
                nlink: st.st_nlink,
                data,
                xattrs,
            },
        );
        if kind == 'd' {
            walk(root, &r, with_xattrs, out);
        }
    }
}

/// Asserts two snapshots are equal, naming the first difference.
#[track_caller]
pub fn assert_same_tree(
    what: &str,
    a: &BTreeMap<String, NodeState>,
    b: &BTreeMap<String, NodeState>,
) {
    for (k, va) in a {
        match b.get(k) {
            None => panic!("{what}: {k:?} exists only on the left ({va:?})"),
            Some(vb) => assert_eq!(va, vb, "{what}: {k:?} differs"),
        }
    }
    for k in b.keys() {
        assert!(a.contains_key(k), "{what}: {k:?} exists only on the right");
    }
}

// ---------------------------------------------------------------------------------------
// Data.

/// A small xorshift64* generator: deterministic data and choices from a seed.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> XorShift {
        // splitmix64 of the seed, so that close seeds give unrelated streams; zero is a
        // fixed point of xorshift, hence the `| 1`.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        XorShift((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// A copy of one of `xs`.
    pub fn choose<T: Copy>(&mut self, xs: &[T]) -> T {
        *self.pick(xs)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len + 8);
        while v.len() < len {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(len);
        v
    }
}

/// FNV-1a 64 of `data`: a cheap checksum for comparing contents.
pub fn fnv64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}
