//! The transport and crate-root items of fuse-backend-rs 0.14, used the way upstream code
//! uses them: `FuseDevWriter::new`, `Writer::FuseDev`, `FuseSessionExt::try_with_writer`,
//! `transport::Error`'s variants, `crate::Error` matched exhaustively, auto_unmount and
//! the target mount namespace, the last ones on real mounts.
//!
//! Mounting needs root (or fusermount3) and /dev/fuse. Outside CI a test that cannot mount
//! prints "skipping: ..." and returns; with CI=true it fails.

#![cfg(feature = "fusedev")]

#[path = "common/ci.rs"]
mod ci;

use std::ffi::CStr;
use std::fs::File;
use std::io::{self, BufRead, Write};
use std::marker::PhantomData;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use fuse_backend_rs::api::filesystem::{Context, Entry, FileSystem, FsOptions};
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::transport::{
    self, pagesize, Error, FuseBuf, FuseChannel, FuseDevWriter, FuseSession, FuseSessionExt,
    Reader, Writer,
};
use vmm_sys_util::tempdir::TempDir;

const ROOT: u64 = 1;
const FILE: u64 = 2;
/// Only a guard against hanging the run, never a timing assertion.
const GRACE: Duration = Duration::from_secs(30);

/// Fails in CI, says "skipping" elsewhere (through the shared rule).
fn cannot(what: &str, e: impl std::fmt::Debug) {
    ci::cannot_run(format!("cannot {what}: {e:?}"));
}

// ---- compile-level: each item with upstream's signature ----

/// An object without `Default`, which upstream's `read_obj` accepts.
#[derive(Clone, Copy)]
#[repr(C)]
struct NoDefault {
    a: u32,
    b: u32,
}
// SAFETY: two u32 fields, no padding: every byte pattern is a valid value.
unsafe impl vm_memory::ByteValued for NoDefault {}

#[allow(dead_code)]
fn upstream_transport_signatures(fd: std::os::fd::RawFd, file: File) -> transport::Result<()> {
    let mut buf = vec![0u8; 64];
    let mut w: FuseDevWriter<'_, ()> = FuseDevWriter::new(fd, &mut buf)?;
    let mut file = file;
    let _: io::Result<usize> = w.write_from_at(&mut file, 4, 0);
    let rest: FuseDevWriter<'_, ()> = w.split_at(8)?;
    let rest: Writer<'_, ()> = rest.into();
    let _: io::Result<usize> = w.commit(Some(&rest));
    let _: Writer<'_, ()> = Writer::FuseDev(w);
    let _: Writer<'_, ()> = Writer::Noop(PhantomData);
    let mut w: Writer<'_, ()> = Writer::Noop(PhantomData);
    let _: io::Result<usize> = w.write_from_at(&mut file, 4, 0);

    let mut req = vec![0u8; 64];
    let fb = FuseBuf::new(&mut req);
    let _ = format!("{fb:?}");
    let mut r: Reader<'_, ()> = Reader::from_fuse_buffer(fb)?;
    let _: io::Result<NoDefault> = r.read_obj::<NoDefault>();
    let _: io::Result<usize> = r.read_to_at(&mut file, 4, 0);
    let _: io::Result<()> = r.read_exact_to_at(&mut file, 4, 0);
    let _: usize = pagesize();

    let mut se = FuseSession::new_with_autounmount(Path::new("/mnt"), "fs", "sub", false, true)?;
    se.set_target_mntns(Some(1));
    se.set_target_mntns(None);
    let _: Option<&File> = FuseSessionExt::file(&se);
    let _: usize = FuseSessionExt::bufsize(&se);
    FuseSessionExt::with_writer(&mut se, |_w: FuseDevWriter| {});
    let _: Result<(), Error> = se.try_with_writer(|_w| Ok(()));
    Ok(())
}

/// `transport::Error`'s upstream variants and conversions.
#[allow(dead_code, unreachable_patterns)]
fn upstream_transport_error(e: Error) -> String {
    match e {
        Error::DescriptorChainOverflow => "overflow".into(),
        Error::FindMemoryRegion => "region".into(),
        Error::InvalidChain => "chain".into(),
        Error::InvalidParameter => "param".into(),
        Error::IoError(e) => e.to_string(),
        Error::SplitOutOfBounds(n) => n.to_string(),
        Error::VolatileMemoryError(e) => e.to_string(),
        Error::SessionFailure(s) => s,
        _ => "ours".into(),
    }
}

/// `crate::Error` matched exhaustively with upstream's variants.
fn upstream_error_kind(e: &fuse_backend_rs::Error) -> &'static str {
    use fuse_backend_rs::Error::*;
    match e {
        DecodeMessage(_) => "decode",
        EncodeMessage(_) => "encode",
        MissingParameter => "missing",
        InvalidCString(_) => "cstring",
        InvalidHeaderLength => "header",
        InvalidXattrSize((_size, _len)) => "xattr",
        InvalidMessage(_) => "message",
        FailedToWrite(_) => "write",
        FailedToSplitWriter(_) => "split",
        FailedToRemapID((_uid, _gid)) => "remap",
    }
}

#[test]
fn crate_error_and_errno_helpers() {
    use fuse_backend_rs::{encode_io_error_kind, Error as FuseError};
    assert_eq!(
        upstream_error_kind(&FuseError::InvalidXattrSize((3, 4))),
        "xattr"
    );
    assert_eq!(
        upstream_error_kind(&FuseError::FailedToRemapID((1, 2))),
        "remap"
    );
    assert_eq!(
        upstream_error_kind(&FuseError::InvalidHeaderLength),
        "header"
    );
    assert_eq!(
        encode_io_error_kind(io::ErrorKind::PermissionDenied),
        libc::EPERM | libc::EACCES
    );
    assert_eq!(encode_io_error_kind(io::ErrorKind::NotFound), libc::ENOENT);
    assert_eq!(
        encode_io_error_kind(io::ErrorKind::Interrupted),
        libc::EINTR
    );
    assert_eq!(
        encode_io_error_kind(io::ErrorKind::AlreadyExists),
        libc::EEXIST
    );
    assert_eq!(
        encode_io_error_kind(io::ErrorKind::WouldBlock),
        libc::EWOULDBLOCK
    );
    assert_eq!(encode_io_error_kind(io::ErrorKind::InvalidInput), libc::EIO);
}

#[test]
fn transport_error_from_a_thread_panic() {
    let joined = thread::spawn(|| -> () {
        std::panic::panic_any(Error::SessionFailure("gone".into()));
    })
    .join();
    let e = Error::from(joined.unwrap_err());
    assert!(
        matches!(e, Error::SessionFailure(ref s) if s == "gone"),
        "{e}"
    );
    assert_eq!(upstream_transport_error(Error::InvalidParameter), "param");
}

#[test]
fn pagesize_is_the_system_page_size() {
    let expected = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .unwrap()
        .unwrap() as usize;
    assert_eq!(pagesize(), expected);
}

#[test]
fn writer_types_are_send_and_sync_like_upstream() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<FuseDevWriter<'static, ()>>();
}

#[test]
fn read_obj_without_default_and_generic_fuse_buffer() {
    let mut raw = [0u8; 8];
    raw[..4].copy_from_slice(&7u32.to_ne_bytes());
    raw[4..].copy_from_slice(&9u32.to_ne_bytes());
    let mut r = Reader::<()>::from_fuse_buffer(FuseBuf::new(&mut raw)).unwrap();
    let v: NoDefault = r.read_obj().unwrap();
    assert_eq!((v.a, v.b), (7, 9));
    assert!(r.read_obj::<NoDefault>().is_err());
}

#[test]
fn try_with_writer_on_an_unmounted_session_is_a_session_failure() {
    let dir = TempDir::new_with_prefix("/tmp/upstream-api").unwrap();
    let mut se = FuseSession::new(dir.as_path(), "x", "", false).unwrap();
    let res: Result<(), Error> = se.try_with_writer(|_| panic!("called without a session"));
    assert!(matches!(res, Err(Error::SessionFailure(_))));
    let mut called = false;
    FuseSessionExt::with_writer(&mut se, |_| called = true);
    assert!(!called);
}

// ---- real mounts ----

/// One file, `/file`, whose lookups are counted: a lookup after an entry notification
/// shows that the kernel got it.
struct CountingFs {
    lookups: AtomicUsize,
}

fn attr(inode: u64) -> libc::stat64 {
    // SAFETY: stat64 is plain integers; all-zero is a valid value.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    st.st_ino = inode;
    st.st_nlink = 1;
    st.st_mode = if inode == ROOT {
        libc::S_IFDIR | 0o755
    } else {
        libc::S_IFREG | 0o644
    };
    st
}

impl FileSystem for CountingFs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, _capable: FsOptions) -> io::Result<FsOptions> {
        Ok(FsOptions::empty())
    }

    fn lookup(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        if parent != ROOT || name.to_bytes() != b"file" {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        self.lookups.fetch_add(1, Ordering::SeqCst);
        Ok(Entry {
            inode: FILE,
            generation: 1,
            attr: attr(FILE),
            attr_flags: 0,
            // Cached for the whole test: only a notification makes the kernel ask again.
            attr_timeout: Duration::from_secs(3600),
            entry_timeout: Duration::from_secs(3600),
        })
    }

    fn getattr(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: Option<u64>,
    ) -> io::Result<(libc::stat64, Duration)> {
        Ok((attr(inode), Duration::from_secs(3600)))
    }
}

/// A daemon's own error type, as `try_with_writer`'s `E`.
#[derive(Debug)]
#[allow(dead_code)]
enum DaemonError {
    Transport(Error),
    Fuse(fuse_backend_rs::Error),
}

impl From<Error> for DaemonError {
    fn from(e: Error) -> Self {
        DaemonError::Transport(e)
    }
}

fn serve(server: Arc<Server<CountingFs>>, mut ch: FuseChannel) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        while let Ok(Some((r, w))) = ch.get_request() {
            if let Err(fuse_backend_rs::Error::EncodeMessage(_)) =
                server.handle_message(r, w.into(), None, None)
            {
                break;
            }
        }
    })
}

#[test]
fn notifications_through_try_with_writer_and_fusedevwriter_new() {
    let dir = TempDir::new_with_prefix("/tmp/upstream-api").unwrap();
    let mut se = FuseSession::new(dir.as_path(), "upstream-api", "", false).unwrap();
    if let Err(e) = se.mount() {
        return cannot("mount", e);
    }
    let server = Arc::new(Server::new(CountingFs {
        lookups: AtomicUsize::new(0),
    }));
    let worker = serve(server.clone(), se.new_channel().unwrap());
    let file = se.mountpoint().join("file");
    let lookups = || server.fs().lookups.load(Ordering::SeqCst);

    std::fs::metadata(&file).unwrap();
    std::fs::metadata(&file).unwrap();
    assert_eq!(lookups(), 1, "the entry should be cached");

    // As upstream daemons do it: the session's writer, through the extension trait.
    let sent: Result<usize, DaemonError> = se.try_with_writer(|w| {
        server
            .notify_inval_entry(w, ROOT, c"file")
            .map_err(DaemonError::Fuse)
    });
    let sent = sent.unwrap();
    assert_eq!(sent, 16 + 16 + 5);
    std::fs::metadata(&file).unwrap();
    assert_eq!(lookups(), 2, "the kernel did not drop the entry");

    // A writer made with FuseDevWriter::new on the session's descriptor.
    let fd = FuseSessionExt::file(&se).unwrap().as_raw_fd();
    let mut buf = vec![0u8; FuseSessionExt::bufsize(&se)];
    let w = FuseDevWriter::<()>::new(fd, &mut buf).unwrap();
    server.notify_inval_entry(w, ROOT, c"file").unwrap();
    std::fs::metadata(&file).unwrap();
    assert_eq!(lookups(), 3, "the kernel did not drop the entry");

    se.umount().unwrap();
    se.wake().unwrap();
    worker.join().unwrap();
}

/// The mount points of the FUSE mounts in the mount namespace of `pid` ("self" for ours).
fn fuse_mounts_of(pid: &str) -> Vec<PathBuf> {
    let table = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    table
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            if !fstype.starts_with("fuse") || fstype == "fusectl" {
                return None;
            }
            Some(PathBuf::from(left.split(' ').nth(4)?.replace("\\040", " ")))
        })
        .collect()
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < GRACE, "gave up waiting: {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

const AUTO_CHILD_ENV: &str = "UPSTREAM_API_AUTO_UNMOUNT_DIR";

/// Not a test of its own: the process `auto_unmount_ends_with_the_process` starts and
/// kills. It mounts with auto_unmount, says so, and waits to be killed.
#[test]
fn auto_unmount_child_process() {
    let Ok(dir) = std::env::var(AUTO_CHILD_ENV) else {
        return;
    };
    let mut se = FuseSession::new_with_autounmount(Path::new(&dir), "auto", "", false, true)
        .expect("a valid mount point");
    match se.mount() {
        Ok(()) => println!("mounted"),
        Err(e) => println!("failed: {e:?}"),
    }
    io::stdout().flush().unwrap();
    loop {
        thread::park();
    }
}

#[test]
fn auto_unmount_ends_with_the_process() {
    let dir = TempDir::new_with_prefix("/tmp/upstream-api").unwrap();
    let path = dir.as_path().canonicalize().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "auto_unmount_child_process", "--nocapture"])
        .env(AUTO_CHILD_ENV, &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    for line in io::BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line == "mounted" || line.starts_with("failed") {
            said = line;
            break;
        }
    }
    if said != "mounted" {
        let _ = child.kill();
        let _ = child.wait();
        return cannot("mount with auto_unmount", said);
    }
    let mounted = fuse_mounts_of("self").contains(&path);
    // SIGKILL: the session gets no chance to unmount; only the helper can.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(mounted, "not mounted while the process lived");
    let start = Instant::now();
    while fuse_mounts_of("self").contains(&path) && start.elapsed() < GRACE {
        thread::sleep(Duration::from_millis(20));
    }
    let left = fuse_mounts_of("self").contains(&path);
    if left {
        // Do not leave the dead process's mount behind.
        let _ = nix::mount::umount2(&path, nix::mount::MntFlags::MNT_DETACH);
    }
    assert!(!left, "still mounted after the process died");
}

#[test]
fn set_target_mntns_mounts_in_that_namespace() {
    // A process in a mount namespace of its own (private propagation: nothing leaks back).
    let mut holder = match std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sleep", "600"])
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return cannot("run unshare", e),
    };
    let pid = holder.id() as libc::pid_t;
    let ns = |p: &str| std::fs::read_link(format!("/proc/{p}/ns/mnt")).ok();
    wait_until("unshare to enter its namespace", || {
        ns(&pid.to_string()) != ns("self") || holder.try_wait().unwrap().is_some()
    });
    if let Some(status) = holder.try_wait().unwrap() {
        return cannot("unshare a mount namespace", status);
    }

    let dir = TempDir::new_with_prefix("/tmp/upstream-api").unwrap();
    let path = dir.as_path().canonicalize().unwrap();
    let mut se = FuseSession::new(&path, "mntns", "", false).unwrap();
    se.set_target_mntns(Some(pid));
    let res = se.mount();
    let there = fuse_mounts_of(&pid.to_string()).contains(&path);
    let here = fuse_mounts_of("self").contains(&path);
    let unmounted = se.umount();
    let gone = !fuse_mounts_of(&pid.to_string()).contains(&path);
    let _ = holder.kill();
    let _ = holder.wait();
    if let Err(e) = res {
        return cannot("mount in another namespace", e);
    }
    assert!(there, "not mounted in the target namespace");
    assert!(!here, "mounted in our own namespace");
    unmounted.unwrap();
    assert!(gone, "still mounted in the target namespace after umount");
}

/// `Reader::read_to`/`read_exact_to` and `FuseDevWriter::write_from`/`write_all_from` move
/// bytes at the file's own position, as upstream's do.
#[test]
fn position_less_reads_and_writes_use_the_file_position() {
    use std::io::{Read, Seek, SeekFrom};
    let dir = vmm_sys_util::tempdir::TempDir::new_with_prefix("/tmp/upstream-io-").unwrap();
    let path = dir.as_path().join("f");
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.write_all(b"xx").unwrap(); // the position is now 2

    let mut req = b"hello world".to_vec();
    let mut r: Reader<'_, ()> = Reader::from_fuse_buffer(FuseBuf::new(&mut req)).unwrap();
    assert_eq!(r.read_to(&mut file, 5).unwrap(), 5);
    r.read_exact_to(&mut file, 6).unwrap();
    assert!(
        r.read_exact_to(&mut file, 1).is_err(),
        "nothing left to read"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"xxhello world");

    // A buffered (split) FuseDevWriter collects what it reads from the file's position.
    file.seek(SeekFrom::Start(2)).unwrap();
    let dev = File::open("/dev/null").unwrap();
    let mut buf = vec![0u8; 64];
    let mut w: FuseDevWriter<'_, ()> = FuseDevWriter::new(dev.as_raw_fd(), &mut buf).unwrap();
    let tail = w.split_at(32).unwrap();
    assert_eq!(w.write_from(&mut file, 5).unwrap(), 5);
    w.write_all_from(&mut file, 6).unwrap();
    assert_eq!(w.bytes_written(), 11);
    assert!(w.write_all_from(&mut file, 1).is_err(), "the file ended");
    let mut rest = String::new();
    file.read_to_string(&mut rest).unwrap();
    assert!(rest.is_empty());
    drop((w, tail));
    assert_eq!(&buf[..11], b"hello world");
}
