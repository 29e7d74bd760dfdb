//! Real-mount tests of the `Vfs`: a passthrough root backend plus two attached host
//! directories under one FUSE mount, served in-process by `Server<Arc<Vfs>>` on two
//! service threads, while backends are detached and attached again.
//!
//! Layout (all under a fresh `TempDir`):
//!
//! ```text
//! BASE/root        served at /          r.txt, a/hidden.txt (shadowed by the mount at /a)
//! BASE/one         attached at /a       one.txt
//! BASE/two         attached at /deep/b  two.txt   (/deep is a pseudo directory)
//! BASE/mnt         the FUSE mount point
//! ```
//!
//! They need root (or fusermount3) and /dev/fuse. Outside CI a test that cannot mount
//! prints "skipping: ..." and returns; with CI=true it fails.

#![cfg(feature = "fusedev")]

#[path = "common/ci.rs"]
mod ci;

use ci::cannot_run;

use std::ffi::CStr;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use fuse_backend_rs::api::filesystem::{Context, FileSystem, ROOT_ID};
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::api::{BackFileSystem, Vfs, VfsOptions};
use fuse_backend_rs::passthrough::{Config, PassthroughFs};
use fuse_backend_rs::transport::{FuseChannel, FuseSession};
use vmm_sys_util::tempdir::TempDir;

/// How long a service thread may take to stop; a guard against hanging the run, never a
/// timing assertion.
const EXIT_GRACE: Duration = Duration::from_secs(30);
const R_TXT: &[u8] = b"in the root backend\n";
const ONE_TXT: &[u8] = b"in the first attached directory\n";
const TWO_TXT: &[u8] = b"in the second attached directory\n";
/// Bits of a Vfs inode number above the backend's own number.
const INDEX_SHIFT: u32 = 56;

/// The fd-count check needs this binary's tests to run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn backend(dir: &Path) -> BackFileSystem {
    let cfg = Config {
        root_dir: dir.to_string_lossy().into_owned(),
        do_import: true,
        ..Default::default()
    };
    Box::new(PassthroughFs::<()>::new(cfg).expect("a passthrough backend"))
}

type Srv = Server<Arc<Vfs>>;

/// The mounted Vfs and its service threads. Dropping it (also while a failed assertion
/// unwinds) unmounts, wakes and joins the threads, then drops the Vfs and its backends,
/// before the temporary directory goes.
struct Mounted {
    session: Option<FuseSession>,
    server: Option<Arc<Srv>>,
    vfs: Option<Arc<Vfs>>,
    done: mpsc::Receiver<()>,
    threads: usize,
    base: PathBuf,
    mnt: PathBuf,
    /// Dropped last.
    _dir: TempDir,
}

impl Mounted {
    /// Builds the layout and mounts it; `None` (after saying so) when this machine cannot
    /// mount and we are not in CI.
    fn new() -> Option<Mounted> {
        let dir = TempDir::new_with_prefix("/tmp/vfs-mount-it").unwrap();
        let base = dir.as_path().to_path_buf();
        for d in ["root/a", "one", "two", "mnt"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        std::fs::write(base.join("root/r.txt"), R_TXT).unwrap();
        std::fs::write(base.join("root/a/hidden.txt"), b"shadowed").unwrap();
        std::fs::write(base.join("one/one.txt"), ONE_TXT).unwrap();
        std::fs::write(base.join("two/two.txt"), TWO_TXT).unwrap();

        let vfs = Arc::new(Vfs::new(VfsOptions::default()));
        vfs.mount(backend(&base.join("root")), "/").unwrap();
        vfs.mount(backend(&base.join("one")), "/a").unwrap();
        vfs.mount(backend(&base.join("two")), "/deep/b").unwrap();

        let mnt = base.join("mnt");
        let mut session = FuseSession::new(&mnt, "vfs-test", "vfstest", false).unwrap();
        if let Err(e) = session.mount() {
            cannot_run(format!("cannot mount fuse on {}: {e:?}", mnt.display()));
            return None;
        }
        let server = Arc::new(Server::new(vfs.clone()));
        let (tx, done) = mpsc::channel();
        let mut m = Mounted {
            session: Some(session),
            server: Some(server.clone()),
            vfs: Some(vfs),
            done,
            threads: 0,
            mnt: session_path(&mnt),
            base,
            _dir: dir,
        };
        for _ in 0..2 {
            let ch = m.session.as_ref().unwrap().new_channel().unwrap();
            let (server, tx) = (server.clone(), tx.clone());
            thread::spawn(move || {
                service_loop(&server, ch);
                let _ = tx.send(());
            });
            m.threads += 1;
        }
        Some(m)
    }

    fn vfs(&self) -> &Arc<Vfs> {
        self.vfs.as_ref().unwrap()
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    /// Tells the kernel to drop its dentry `name` in `parent` (best effort: the kernel
    /// answers ENOENT when it has none).
    fn inval_entry(&mut self, parent: u64, name: &CStr) {
        let server = self.server.clone().unwrap();
        self.session.as_mut().unwrap().with_writer(|w| {
            let _ = server.notify_inval_entry(w, parent, name);
        });
    }

    /// Unmounts, stops the service threads and drops everything but the directory.
    fn shut_down(&mut self) {
        if let Some(mut se) = self.session.take() {
            let _ = se.umount();
            let _ = se.wake();
        }
        for _ in 0..self.threads {
            self.done
                .recv_timeout(EXIT_GRACE)
                .expect("a service thread did not stop");
        }
        self.threads = 0;
        self.server = None;
        self.vfs = None;
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

/// The mount point as the kernel reports it (the tempdir may sit behind a symlink).
fn session_path(p: &Path) -> PathBuf {
    p.canonicalize().unwrap()
}

fn service_loop(server: &Srv, mut ch: FuseChannel) {
    loop {
        let (reader, writer) = match ch.get_request() {
            Ok(Some(req)) => req,
            Ok(None) | Err(_) => return,
        };
        #[allow(clippy::useless_conversion)]
        let res = server.handle_message(reader, writer.into(), None, None);
        if let Err(fuse_backend_rs::Error::EncodeMessage(_)) = res {
            return; // the connection is gone
        }
    }
}

fn ino(p: &Path) -> u64 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
        .ino()
}

#[test]
fn backends_appear_at_their_paths_with_distinct_inodes() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(m) = Mounted::new() else {
        return;
    };
    assert_eq!(std::fs::read(m.path("r.txt")).unwrap(), R_TXT);
    assert_eq!(std::fs::read(m.path("a/one.txt")).unwrap(), ONE_TXT);
    assert_eq!(std::fs::read(m.path("deep/b/two.txt")).unwrap(), TWO_TXT);
    // The attached directory shadows the root backend's own "a".
    let hidden = std::fs::metadata(m.path("a/hidden.txt")).unwrap_err();
    assert_eq!(hidden.raw_os_error(), Some(libc::ENOENT));
    // Nor can it be removed or renamed through the mount point.
    let busy = std::fs::remove_dir(m.path("a")).unwrap_err();
    assert_eq!(busy.raw_os_error(), Some(libc::EBUSY));
    let busy = std::fs::rename(m.path("a"), m.path("z")).unwrap_err();
    assert_eq!(busy.raw_os_error(), Some(libc::EBUSY));
    assert!(m.base.join("root/a/hidden.txt").exists());
    // The pseudo directory lists the mount point under it.
    let names: Vec<String> = std::fs::read_dir(m.path("deep"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["b"]);

    let inos = [
        ino(&m.mnt),
        ino(&m.path("r.txt")),
        ino(&m.path("a")),
        ino(&m.path("a/one.txt")),
        ino(&m.path("deep")),
        ino(&m.path("deep/b")),
        ino(&m.path("deep/b/two.txt")),
    ];
    assert_eq!(inos[0], ROOT_ID);
    for (i, x) in inos.iter().enumerate() {
        for y in &inos[i + 1..] {
            assert_ne!(x, y, "two paths share st_ino: {inos:x?}");
        }
    }
    // Each backend in its own slice; /deep in the pseudo slice (index 0).
    let slice = |i: u64| i >> INDEX_SHIFT;
    assert_ne!(slice(inos[1]), 0);
    assert_ne!(slice(inos[1]), slice(inos[3]));
    assert_ne!(slice(inos[3]), slice(inos[6]));
    assert_eq!(slice(inos[2]), slice(inos[3]));
    assert_eq!(slice(inos[5]), slice(inos[6]));
    assert_eq!(slice(inos[4]), 0);
    // Stable while mounted.
    assert_eq!(ino(&m.path("a/one.txt")), inos[3]);

    // ".." through the kernel's path walk...
    assert_eq!(ino(&m.path("deep/b/..")), inos[4]);
    assert_eq!(ino(&m.path("a/..")), ROOT_ID);
    // ...and the Vfs's own answer for the kernel numbers (the kernel sends LOOKUP ".."
    // only for exported filesystems): the pseudo parent, never the host's parent.
    let vfs = m.vfs();
    let up = vfs.lookup(&Context::new(), inos[5], c"..").unwrap();
    assert_eq!(up.inode, inos[4]);
    let up = vfs.lookup(&Context::new(), inos[2], c"..").unwrap();
    assert_eq!(up.inode, ROOT_ID);
    let up = vfs.lookup(&Context::new(), ROOT_ID, c"..").unwrap();
    assert_eq!(up.inode, ROOT_ID);
}

/// What the reader saw on the path whose backend comes and goes.
#[derive(Debug, Default)]
struct Tally {
    ok: u64,
    enoent: u64,
    estale: u64,
    eio: u64,
}

impl Tally {
    fn add<T>(&mut self, what: &str, r: io::Result<T>) {
        match r {
            Ok(_) => self.ok += 1,
            Err(e) => match e.raw_os_error() {
                Some(libc::ENOENT) => self.enoent += 1,
                Some(libc::ESTALE) => self.estale += 1,
                Some(libc::EIO) => self.eio += 1,
                _ => panic!("{what}: unexpected error {e}"),
            },
        }
    }
}

#[test]
fn a_reader_keeps_working_while_a_backend_is_detached_and_attached() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cycles: usize = std::env::var("VFS_MOUNT_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let baseline = open_fds();
    {
        let Some(mut m) = Mounted::new() else {
            return;
        };
        let stop = Arc::new(AtomicBool::new(false));
        let started = Arc::new(Barrier::new(2));
        let reader = {
            let (stop, started, mnt) = (stop.clone(), started.clone(), m.mnt.clone());
            thread::spawn(move || {
                let mut tally = Tally::default();
                let mut first = true;
                while first || !stop.load(Ordering::SeqCst) {
                    // The other backends never falter.
                    assert_eq!(std::fs::read(mnt.join("r.txt")).unwrap(), R_TXT);
                    assert_eq!(std::fs::read(mnt.join("deep/b/two.txt")).unwrap(), TWO_TXT);
                    // The one that comes and goes: content or a clean error.
                    match std::fs::read(mnt.join("a/one.txt")) {
                        Ok(data) => {
                            assert_eq!(data, ONE_TXT);
                            tally.ok += 1;
                        }
                        Err(e) => tally.add("read a/one.txt", Err::<(), _>(e)),
                    }
                    tally.add("stat a", std::fs::metadata(mnt.join("a")));
                    let list = std::fs::read_dir(mnt.join("a"))
                        .and_then(|d| d.collect::<io::Result<Vec<_>>>());
                    tally.add("list a", list);
                    if first {
                        started.wait();
                        first = false;
                    }
                }
                tally
            })
        };
        started.wait();
        let one = m.base.join("one");
        for _ in 0..cycles {
            let (_, parent) = m.vfs().umount("/a").unwrap();
            assert_eq!(parent, ROOT_ID);
            m.inval_entry(parent, c"a");
            m.vfs().mount(backend(&one), "/a").unwrap();
            // Whatever the kernel looked up meanwhile (the root backend's own "a").
            m.inval_entry(parent, c"a");
        }
        stop.store(true, Ordering::SeqCst);
        let tally = reader.join().expect("the reader failed");
        eprintln!("reader on /a during {cycles} detach/attach cycles: {tally:?}");
        assert!(tally.ok > 0);
        // Attached again: everything as before.
        assert_eq!(std::fs::read(m.path("a/one.txt")).unwrap(), ONE_TXT);
        assert_eq!(std::fs::read(m.path("deep/b/two.txt")).unwrap(), TWO_TXT);
        let names: Vec<_> = std::fs::read_dir(m.path("a"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["one.txt"]);
        m.shut_down();
    }
    assert_eq!(open_fds(), baseline, "descriptors leaked");
}
