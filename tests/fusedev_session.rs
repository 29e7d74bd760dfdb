//! Real-mount tests of the `/dev/fuse` transport: `FuseSession` mounts a tiny in-test
//! filesystem, `FuseChannel`s serve it through `Server` on two threads, and the session
//! unmounts and wakes them.
//!
//! They need root (or fusermount3) and /dev/fuse. Outside CI a test that cannot mount
//! prints "skipping: ..." and returns; with CI=true it fails.

#![cfg(feature = "fusedev")]

#[path = "common/ci.rs"]
mod ci;

use ci::cannot_run;

use std::ffi::CStr;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use fuse_backend_rs::api::filesystem::{
    Context, Entry, FileSystem, FsOptions, OpenOptions, ZeroCopyWriter,
};
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::transport::{Error, FuseChannel, FuseSession};
use vmm_sys_util::tempdir::TempDir;

const ROOT: u64 = 1;
const HELLO: u64 = 2;
const HELLO_NAME: &[u8] = b"hello";
const CONTENT: &[u8] = b"hello from fusedev\n";
/// How long a service thread may take to notice the end; only a guard against hanging
/// the test run, never a timing assertion.
const EXIT_GRACE: Duration = Duration::from_secs(20);

/// A read-only filesystem with one file, `/hello`.
struct HelloFs;

fn attr(inode: u64) -> libc::stat64 {
    // SAFETY: stat64 is plain integers; all-zero is a valid value.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    st.st_ino = inode;
    st.st_uid = nix::unistd::getuid().as_raw();
    st.st_gid = nix::unistd::getgid().as_raw();
    if inode == ROOT {
        st.st_mode = libc::S_IFDIR | 0o755;
        st.st_nlink = 2;
    } else {
        st.st_mode = libc::S_IFREG | 0o644;
        st.st_nlink = 1;
        st.st_size = CONTENT.len() as i64;
    }
    st
}

impl FileSystem for HelloFs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, _capable: FsOptions) -> io::Result<FsOptions> {
        Ok(FsOptions::empty())
    }

    fn lookup(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        if parent == ROOT && name.to_bytes() == HELLO_NAME {
            return Ok(Entry {
                inode: HELLO,
                generation: 1,
                attr: attr(HELLO),
                attr_flags: 0,
                attr_timeout: Duration::from_secs(1),
                entry_timeout: Duration::from_secs(1),
            });
        }
        Err(io::Error::from_raw_os_error(libc::ENOENT))
    }

    fn getattr(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: Option<u64>,
    ) -> io::Result<(libc::stat64, Duration)> {
        match inode {
            ROOT | HELLO => Ok((attr(inode), Duration::from_secs(1))),
            _ => Err(io::Error::from_raw_os_error(libc::ENOENT)),
        }
    }

    fn open(
        &self,
        _ctx: &Context,
        inode: u64,
        _flags: u32,
        _fuse_flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        if inode != HELLO {
            return Err(io::Error::from_raw_os_error(libc::EISDIR));
        }
        Ok((Some(7), OpenOptions::empty(), None))
    }

    fn read(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        _lock_owner: Option<u64>,
        _flags: u32,
    ) -> io::Result<usize> {
        if inode != HELLO {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        let start = (offset as usize).min(CONTENT.len());
        let end = start.saturating_add(size as usize).min(CONTENT.len());
        w.write_all(&CONTENT[start..end])?;
        Ok(end - start)
    }

    fn release(
        &self,
        _ctx: &Context,
        _inode: u64,
        _flags: u32,
        _handle: u64,
        _flush: bool,
        _flock_release: bool,
        _lock_owner: Option<u64>,
    ) -> io::Result<()> {
        Ok(())
    }
}

/// The mount points of the FUSE mounts in our mount namespace.
fn fuse_mounts() -> Vec<(PathBuf, String, String)> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    table
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut right = right.split(' ');
            let fstype = right.next()?.to_string();
            let source = right.next()?.to_string();
            if !fstype.starts_with("fuse") || fstype == "fusectl" {
                return None;
            }
            let target = left.split(' ').nth(4)?.replace("\\040", " ");
            Some((PathBuf::from(target), fstype, source))
        })
        .collect()
}

/// Whether two descriptors of this process refer to the same open file (kcmp(2)).
fn same_open_file(a: i32, b: i32) -> bool {
    const KCMP_FILE: libc::c_long = 0;
    let pid = std::process::id() as libc::c_long;
    // SAFETY: kcmp only compares kernel objects of the given pid; no memory is passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            pid,
            pid,
            KCMP_FILE,
            a as libc::c_long,
            b as libc::c_long,
        )
    };
    assert!(r >= 0, "kcmp failed: {}", io::Error::last_os_error());
    r == 0
}

fn is_mounted(path: &Path) -> bool {
    fuse_mounts().iter().any(|(p, _, _)| p == path)
}

/// A mounted test filesystem and its service threads. Dropping it (also while a failed
/// assertion unwinds) unmounts, wakes the threads and waits for them, before the
/// temporary directory goes.
struct Mounted {
    session: Option<FuseSession>,
    done: mpsc::Receiver<thread::Result<usize>>,
    threads: usize,
    /// Dropped last, after the unmount.
    _dir: TempDir,
}

impl Mounted {
    /// Mounts [`HelloFs`]; `None` (after saying so) when this machine cannot mount and
    /// we are not in CI.
    fn new(subtype: &str) -> Option<Mounted> {
        let dir = TempDir::new_with_prefix("/tmp/fusedev-it").unwrap();
        let mut session = FuseSession::new(dir.as_path(), "fusedev-test", subtype, false)
            .expect("a fresh tempdir is a valid mount point");
        if let Err(e) = session.mount() {
            cannot_run(format!(
                "cannot mount fuse on {}: {e:?}",
                dir.as_path().display()
            ));
            return None;
        }
        let (_tx, done) = mpsc::channel();
        Some(Mounted {
            session: Some(session),
            done,
            threads: 0,
            _dir: dir,
        })
    }

    fn session(&mut self) -> &mut FuseSession {
        self.session.as_mut().unwrap()
    }

    fn path(&self) -> PathBuf {
        self.session.as_ref().unwrap().mountpoint().to_path_buf()
    }

    /// Starts `n` service threads, each with its own channel, sharing one server.
    fn serve(&mut self, n: usize) {
        let server = Arc::new(Server::new(HelloFs));
        let (tx, done) = mpsc::channel();
        self.done = done;
        for _ in 0..n {
            let ch = self.session().new_channel().unwrap();
            let server = server.clone();
            let tx = tx.clone();
            thread::spawn(move || {
                let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    service_loop(&server, ch)
                }));
                let _ = tx.send(res);
            });
        }
        self.threads = n;
    }

    /// Waits for every service thread to end; panics if one panicked or hangs.
    fn join(&mut self) -> usize {
        let mut served = 0;
        for _ in 0..self.threads {
            let res = self
                .done
                .recv_timeout(EXIT_GRACE)
                .expect("a service thread did not exit");
            served += res.expect("a service thread panicked");
        }
        self.threads = 0;
        served
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(mut se) = self.session.take() {
            let _ = se.umount();
            let _ = se.wake();
        }
        for _ in 0..self.threads {
            let _ = self.done.recv_timeout(EXIT_GRACE);
        }
    }
}

/// Serves requests until `get_request` says stop; returns how many were handled.
fn service_loop(server: &Server<HelloFs>, mut ch: FuseChannel) -> usize {
    let mut served = 0;
    while let Some((reader, writer)) = ch.get_request().expect("get_request failed") {
        served += 1;
        // `writer.into()` is how fuse-backend-rs users hand the writer over.
        let res = server.handle_message(reader, writer.into(), None, None);
        // The reply could not be sent: the connection is gone.
        if let Err(fuse_backend_rs::Error::EncodeMessage(_)) = res {
            break;
        }
    }
    served
}

#[test]
fn serve_with_two_channels_then_umount_and_wake() {
    let Some(mut m) = Mounted::new("fusedevtest") else {
        return;
    };
    m.serve(2);
    let path = m.path();

    let mounts = fuse_mounts();
    let entry = mounts.iter().find(|(p, _, _)| *p == path);
    let (_, fstype, source) = entry.expect("the mount is in mountinfo");
    assert_eq!(fstype, "fuse.fusedevtest");
    assert_eq!(source, "fusedev-test");

    let md = std::fs::metadata(&path).unwrap();
    assert!(md.is_dir());
    assert_eq!(md.ino(), ROOT);
    assert_eq!(md.mode() & 0o7777, 0o755);

    // Several reads from several threads of ours, so both service threads get work.
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let file = path.join("hello");
            thread::spawn(move || std::fs::read(file).unwrap())
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), CONTENT);
    }
    let md = std::fs::metadata(path.join("hello")).unwrap();
    assert_eq!(md.len(), CONTENT.len() as u64);
    assert_eq!(
        std::fs::metadata(path.join("missing"))
            .unwrap_err()
            .raw_os_error(),
        Some(libc::ENOENT)
    );

    m.session().umount().unwrap();
    assert!(!is_mounted(&path));
    assert!(!m.session().is_mounted());
    m.session().wake().unwrap();
    let served = m.join();
    assert!(served >= 4, "only {served} requests served");
}

#[test]
fn umount_alone_ends_idle_channels() {
    // Nothing uses the mount, so the lazy unmount destroys it at once and the kernel ends
    // the connection: the channels see ENODEV and stop without a wake().
    let Some(mut m) = Mounted::new("") else {
        return;
    };
    m.serve(2);
    let path = m.path();
    std::fs::metadata(&path).unwrap();
    m.session().umount().unwrap();
    assert!(!is_mounted(&path));
    m.join();
}

#[test]
fn wake_stops_channels_while_mounted() {
    let Some(mut m) = Mounted::new("") else {
        return;
    };
    m.serve(2);
    let path = m.path();
    std::fs::metadata(&path).unwrap();
    m.session().wake().unwrap();
    m.join();
    // Waking does not unmount.
    assert!(is_mounted(&path));
    assert!(m.session().is_mounted());
    // A channel made after the wake stops at once too.
    let mut late = m.session().new_channel().unwrap();
    assert!(late.get_request().unwrap().is_none());
    // The channel has its own open file (FUSE_DEV_IOC_CLONE), not a dup of the session's.
    let session_fd = m.session().get_fuse_file().unwrap().as_raw_fd();
    assert!(!same_open_file(session_fd, late.as_raw_fd()));
}

#[test]
fn umount_twice_and_after_external_umount() {
    let Some(mut m) = Mounted::new("") else {
        return;
    };
    let path = m.path();
    m.session().umount().unwrap();
    m.session().umount().unwrap();
    assert!(!is_mounted(&path));

    // Mounted again, then unmounted behind the session's back.
    m.session().mount().unwrap();
    assert!(is_mounted(&path));
    nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH).unwrap();
    m.session().umount().unwrap();
    assert!(!m.session().is_mounted());
}

#[test]
fn mount_twice_is_refused() {
    let Some(mut m) = Mounted::new("") else {
        return;
    };
    match m.session().mount() {
        Err(Error::Mount { source, .. }) => assert_eq!(source.raw_os_error(), Some(libc::EBUSY)),
        other => panic!("second mount gave {:?}", other.map(|_| ())),
    }
}

#[test]
fn dropping_the_session_unmounts() {
    let Some(mut m) = Mounted::new("") else {
        return;
    };
    m.serve(1);
    let path = m.path();
    std::fs::metadata(&path).unwrap();
    let session = m.session.take().unwrap();
    assert!(is_mounted(&path));
    drop(session);
    assert!(!is_mounted(&path));
    // The idle mount is gone, so the connection ended and the thread stopped.
    m.join();
}

#[test]
fn mount_on_missing_dir_is_a_clear_error() {
    let dir = TempDir::new_with_prefix("/tmp/fusedev-it").unwrap();
    let missing = dir.as_path().join("no-such-dir");
    let err = match FuseSession::new(&missing, "x", "", false) {
        Err(e) => e,
        Ok(_) => panic!("a session on a missing directory was created"),
    };
    let text = format!("{err}: {}", std::error::Error::source(&err).unwrap());
    assert!(text.contains("no-such-dir"), "{text}");
    assert!(text.contains("No such file or directory"), "{text}");
    match err {
        Error::Mount { source, .. } => assert_eq!(source.raw_os_error(), Some(libc::ENOENT)),
        e => panic!("unexpected error {e:?}"),
    }
}

#[test]
fn wake_on_an_unmounted_connection_returns_none() {
    // /dev/fuse opened but never mounted: the channel must still stop on wake().
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
    {
        Ok(f) => f,
        Err(e) => {
            cannot_run(format!("cannot open /dev/fuse: {e}"));
            return;
        }
    };
    let dir = TempDir::new_with_prefix("/tmp/fusedev-it").unwrap();
    let mut session = FuseSession::new(dir.as_path(), "x", "", false).unwrap();
    session.set_fuse_file(file);
    let mut ch = session.new_channel().unwrap();
    session.wake().unwrap();
    assert!(ch.get_request().unwrap().is_none());
    session.umount().unwrap();
}

/// Set in the child process of [`unprivileged_mount_goes_through_fusermount3`].
const UNPRIV_ENV: &str = "FUSEDEV_TEST_UNPRIVILEGED_MOUNTPOINT";
const NOBODY: u32 = 65534;

#[test]
fn unprivileged_mount_goes_through_fusermount3() {
    if let Some(mnt) = std::env::var_os(UNPRIV_ENV) {
        unprivileged_child(Path::new(&mnt));
        return;
    }
    let mnt = TempDir::new_with_prefix("/tmp/fusedev-unpriv").unwrap();
    if !nix::unistd::getuid().is_root() {
        // Already unprivileged: exercise the helper path right here.
        unprivileged_child(mnt.as_path());
        return;
    }
    // As root, mount(2) would succeed: run this test again in a child that has dropped
    // to `nobody`. The binary is copied out of the build tree, which `nobody` may not be
    // able to reach.
    let bin_dir = TempDir::new_with_prefix("/tmp/fusedev-unpriv-bin").unwrap();
    let bin = bin_dir.as_path().join("fusedev_session");
    std::fs::copy(std::env::current_exe().unwrap(), &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for p in [bin_dir.as_path(), bin.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    nix::unistd::chown(
        mnt.as_path(),
        Some(nix::unistd::Uid::from_raw(NOBODY)),
        Some(nix::unistd::Gid::from_raw(NOBODY)),
    )
    .unwrap();
    let node_dir = TempDir::new_with_prefix("/tmp/fusedev-unpriv-dev").unwrap();
    let mut cmd = std::process::Command::new(&bin);
    cmd.args([
        "unprivileged_mount_goes_through_fusermount3",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(UNPRIV_ENV, mnt.as_path());
    drop_to_nobody_with_open_fuse_device(&mut cmd, node_dir.as_path());
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Whatever happened, leave nothing mounted behind.
    if is_mounted(&mnt.as_path().canonicalize().unwrap()) {
        let _ = nix::mount::umount2(mnt.as_path(), nix::mount::MntFlags::MNT_DETACH);
    }
    assert!(
        out.status.success(),
        "unprivileged child failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    if stderr.contains("skipping:") {
        eprint!("{stderr}");
    }
}

/// Makes `cmd` run as `nobody` in a private mount namespace where `/dev/fuse` is
/// world-accessible, as distributions set it up. Hosts (like some CI machines) may keep
/// it 0600, where fusermount3 cannot work for anyone but root; the namespace changes
/// that for the child alone and vanishes with it, leaving the host untouched.
fn drop_to_nobody_with_open_fuse_device(cmd: &mut std::process::Command, scratch: &Path) {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileTypeExt;
    use std::os::unix::process::CommandExt;

    let dev = std::fs::metadata("/dev/fuse").unwrap();
    assert!(dev.file_type().is_char_device());
    let rdev = dev.rdev() as libc::dev_t;
    let tmp = CString::new(scratch.as_os_str().as_bytes()).unwrap();
    let node = CString::new(scratch.join("fuse").as_os_str().as_bytes()).unwrap();
    let setup = move || -> io::Result<()> {
        fn check(r: libc::c_int) -> io::Result<()> {
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }
        let null = std::ptr::null::<libc::c_char>();
        // SAFETY: runs in the forked child before exec: only raw system calls on
        // NUL-terminated strings made before the fork (`tmp`, `node`, literals), no
        // allocation and no lock. Mounts happen in the child's new private namespace.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                null,
                c"/".as_ptr(),
                null,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            check(libc::mount(
                c"tmpfs".as_ptr(),
                tmp.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                c"mode=755".as_ptr().cast(),
            ))?;
            check(libc::mknod(node.as_ptr(), libc::S_IFCHR | 0o666, rdev))?;
            check(libc::chmod(node.as_ptr(), 0o666))?;
            check(libc::mount(
                node.as_ptr(),
                c"/dev/fuse".as_ptr(),
                null,
                libc::MS_BIND,
                std::ptr::null(),
            ))?;
            check(libc::setgroups(0, std::ptr::null()))?;
            check(libc::setgid(NOBODY))?;
            check(libc::setuid(NOBODY))?;
        }
        Ok(())
    };
    // SAFETY: see the closure: async-signal-safe system calls only.
    unsafe { cmd.pre_exec(setup) };
}

/// Mounts as an unprivileged user (only fusermount3 can do that), serves a stat and
/// unmounts through `fusermount3 -u`.
fn unprivileged_child(mnt: &Path) {
    assert!(!nix::unistd::getuid().is_root());
    let mut session = FuseSession::new(mnt, "fusedev-unpriv", "unpriv", false).unwrap();
    if let Err(e) = session.mount() {
        cannot_run(format!(
            "cannot mount as uid {}: {e:?}",
            nix::unistd::getuid()
        ));
        return;
    }
    let path = session.mountpoint().to_path_buf();
    assert!(is_mounted(&path));
    let server = Server::new(HelloFs);
    let ch = session.new_channel().unwrap();
    let served = thread::scope(|s| {
        let t = s.spawn(|| service_loop(&server, ch));
        let md = std::fs::metadata(&path);
        let content = std::fs::read(path.join("hello"));
        let umounted = session.umount();
        let mounted_after = is_mounted(&path);
        session.wake().unwrap();
        let served = t.join().unwrap();
        assert_eq!(md.unwrap().ino(), ROOT);
        assert_eq!(content.unwrap(), CONTENT);
        umounted.unwrap();
        assert!(!mounted_after, "still mounted after fusermount3 -u");
        served
    });
    assert!(served >= 2);
    // Nothing left to unmount: a second umount is fine through the helper too.
    session.umount().unwrap();
}

/// The mount options of the FUSE mount at `path`: the per-mount ones and the
/// filesystem's own (`default_permissions`, `allow_other`), as mountinfo shows them.
fn mount_options(path: &Path) -> Option<(String, String)> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let want = path.to_string_lossy();
    table.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut l = left.split(' ');
        if l.nth(4)? != want {
            return None;
        }
        let per_mount = l.next()?.to_string();
        let super_opts = right.split(' ').nth(2)?.to_string();
        Some((per_mount, super_opts))
    })
}

/// A library user who only asks for `allow_other` gets `default_permissions` too, so
/// other users cannot act with the daemon's rights; turning the kernel's checks off with
/// `allow_other` is refused unless the filesystem says it checks permissions itself.
#[test]
fn allow_other_never_mounts_without_permission_checks() {
    if !nix::unistd::geteuid().is_root() || !Path::new("/dev/fuse").exists() {
        cannot_run("needs root and /dev/fuse");
        return;
    }
    let dir = TempDir::new_with_prefix("/tmp/fusedev-it").unwrap();
    let mut se = FuseSession::new(dir.as_path(), "perm-test", "", false).unwrap();
    se.set_allow_other(true);
    se.mount().unwrap();
    let (per_mount, super_opts) = mount_options(se.mountpoint()).expect("mounted");
    se.umount().unwrap();
    let opts: Vec<&str> = super_opts.split(',').collect();
    assert!(opts.contains(&"allow_other"), "{super_opts}");
    assert!(opts.contains(&"default_permissions"), "{super_opts}");
    let flags: Vec<&str> = per_mount.split(',').collect();
    assert!(
        flags.contains(&"nosuid") && flags.contains(&"nodev"),
        "{per_mount}"
    );

    let mut se = FuseSession::new(dir.as_path(), "perm-test", "", false).unwrap();
    se.set_allow_other(true);
    se.set_default_permissions(false);
    match se.mount() {
        Err(Error::Mount { source, .. }) => {
            assert_eq!(source.kind(), io::ErrorKind::InvalidInput, "{source}")
        }
        other => panic!("allow_other without checks gave {:?}", other.map(|_| ())),
    }
    assert!(!is_mounted(se.mountpoint()));

    // A filesystem that checks permissions itself may have it, and may ask for suid/dev.
    se.set_fs_checks_permissions(true);
    se.set_suid(true);
    se.set_dev(true);
    se.mount().unwrap();
    let (per_mount, super_opts) = mount_options(se.mountpoint()).expect("mounted");
    se.umount().unwrap();
    assert!(
        !super_opts.split(',').any(|o| o == "default_permissions"),
        "{super_opts}"
    );
    let flags: Vec<&str> = per_mount.split(',').collect();
    assert!(
        !flags.contains(&"nosuid") && !flags.contains(&"nodev"),
        "{per_mount}"
    );
}
