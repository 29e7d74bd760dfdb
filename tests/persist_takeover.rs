//! Live takeover of a `/dev/fuse` session (feature `persist`): a `Vfs` with two
//! passthrough backends serves a real mount; a client opens files and looks names up;
//! the service threads stop without unmounting, the `Vfs`, `Server` and backend states
//! are saved, everything is dropped, and fresh ones restored from the bytes serve the
//! same `/dev/fuse` descriptor through a new `FuseSession`. The client's open files,
//! cached names and new lookups must keep working, and the unmount must end cleanly.
//!
//! Layout (all under a fresh `TempDir`):
//!
//! ```text
//! BASE/root    served at /      a.txt, dir/x.txt
//! BASE/sub     served at /sub   b.txt, deep/y.txt
//! BASE/mnt     the FUSE mount point
//! ```
//!
//! Needs root and /dev/fuse; with CI=true a test that cannot mount fails.

#![cfg(all(feature = "fusedev", feature = "persist"))]

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::api::{Vfs, VfsIndex, VfsOptions};
use fuse_backend_rs::passthrough::{CachePolicy, Config, PassthroughFs};
use fuse_backend_rs::transport::{FuseChannel, FuseSession};
use vmm_sys_util::tempdir::TempDir;

#[path = "common/ci.rs"]
mod ci;
use ci::cannot_run;

/// A guard against hanging the run, never a timing assertion.
const EXIT_GRACE: Duration = Duration::from_secs(30);
const BACKENDS: [(&str, &str); 2] = [("root", "/"), ("sub", "/sub")];

/// Mounts in this binary run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

type Srv = Server<Arc<Vfs>>;

fn backend(dir: &Path, handles: bool) -> PassthroughFs {
    PassthroughFs::new(Config {
        root_dir: dir.to_string_lossy().into_owned(),
        inode_file_handles: handles,
        // Every stat reaches the server (GETATTR on the node ID the kernel cached),
        // while the names stay cached; file data is never cached.
        attr_timeout: Duration::ZERO,
        entry_timeout: Duration::from_secs(3600),
        cache_policy: CachePolicy::Never,
        ..Default::default()
    })
    .expect("a passthrough backend")
}

fn service_loop(server: &Srv, mut ch: FuseChannel) {
    loop {
        let (reader, writer) = match ch.get_request() {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) => {
                eprintln!("service thread: {e}");
                return;
            }
        };
        #[allow(clippy::useless_conversion)]
        let res = server.handle_message(reader, writer.into(), None, None);
        if let Err(fuse_backend_rs::Error::EncodeMessage(e)) = res {
            eprintln!("service thread: reply failed: {e}");
            return;
        }
    }
}

/// Service threads on channels of `session`; each sends on `done` when it stops.
fn serve(session: &FuseSession, server: &Arc<Srv>, done: &mpsc::Sender<()>) -> usize {
    for _ in 0..2 {
        let ch = session.new_channel().expect("a channel");
        let (server, done) = (server.clone(), done.clone());
        thread::spawn(move || {
            service_loop(&server, ch);
            // Let go of the server before saying so: the caller checks it is gone.
            drop(server);
            let _ = done.send(());
        });
    }
    2
}

fn join(done: &mpsc::Receiver<()>, n: usize) {
    for _ in 0..n {
        done.recv_timeout(EXIT_GRACE)
            .expect("a service thread did not stop");
    }
}

fn is_mounted(mnt: &Path) -> bool {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let want = mnt.to_string_lossy().into_owned();
    info.lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

fn ino(p: &Path) -> u64 {
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()))
        .ino()
}

fn takeover(handles: bool) {
    let _ = env_logger::builder().is_test(true).try_init();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new_with_prefix("/tmp/persist-takeover-it").unwrap();
    let base = dir.as_path().to_path_buf();
    for d in ["root/dir", "sub/deep", "mnt"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    std::fs::write(base.join("root/a.txt"), b"alpha").unwrap();
    std::fs::write(base.join("root/dir/x.txt"), b"x").unwrap();
    std::fs::write(base.join("sub/b.txt"), b"bravo").unwrap();
    std::fs::write(base.join("sub/deep/y.txt"), b"y").unwrap();
    let mnt: PathBuf = base.join("mnt").canonicalize().unwrap();

    // The first daemon.
    let vfs = Arc::new(Vfs::new(VfsOptions::default()));
    let mut indices: Vec<VfsIndex> = Vec::new();
    for (d, at) in BACKENDS {
        indices.push(
            vfs.mount(Box::new(backend(&base.join(d), handles)), at)
                .unwrap(),
        );
    }
    let mut session = FuseSession::new(&mnt, "persist-test", "persisttest", false).unwrap();
    // The successor's session, made now: `FuseSession::new` stats the mount point, which
    // nobody would answer while the connection changes hands.
    let successor = FuseSession::new(&mnt, "persist-test", "persisttest", false).unwrap();
    if let Err(e) = session.mount() {
        cannot_run(format!("cannot mount fuse on {}: {e:?}", mnt.display()));
        return;
    }
    let server = Arc::new(Server::new(vfs.clone()));
    let (tx, done) = mpsc::channel();
    let n = serve(&session, &server, &tx);

    // The client: two open files (one per backend), an open directory, cached names.
    let a = OpenOptions::new()
        .read(true)
        .write(true)
        .open(mnt.join("a.txt"))
        .unwrap();
    let b = File::open(mnt.join("sub/b.txt")).unwrap();
    let dir_fd = File::open(mnt.join("sub/deep")).unwrap();
    let cached = ["dir/x.txt", "sub/deep/y.txt", "sub", "dir"];
    let inos: Vec<u64> = cached.iter().map(|p| ino(&mnt.join(p))).collect();
    let mut buf = [0u8; 5];
    a.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"alpha");

    // Stop serving, without unmounting; save; hand the descriptor over; drop it all.
    session.wake().unwrap();
    join(&done, n);
    let vfs_bytes = vfs.save_to_bytes().unwrap();
    let server_bytes = server.save_to_bytes().unwrap();
    let mut fs_bytes = Vec::new();
    for (_, at) in BACKENDS {
        let (fs, _) = vfs.get_rootfs(at).unwrap().expect("a backend");
        let pt = fs
            .as_any()
            .downcast_ref::<PassthroughFs>()
            .expect("a passthrough backend");
        fs_bytes.push(pt.save_to_bytes().unwrap());
    }
    let fuse_file = session.detach_fuse_file().expect("a connected session");
    drop(session);
    assert!(is_mounted(&mnt), "dropping a detached session unmounted");
    drop(server);
    let weak = Arc::downgrade(&vfs);
    drop(vfs);
    assert!(weak.upgrade().is_none(), "the old vfs is still alive");

    // The second daemon: fresh objects, restored from the bytes, on the same descriptor.
    let vfs = Arc::new(Vfs::new(VfsOptions::default()));
    vfs.restore_from_bytes(&mut vfs_bytes.clone()).unwrap();
    for (((d, at), idx), bytes) in BACKENDS.iter().zip(&indices).zip(&fs_bytes) {
        let fs = backend(&base.join(d), handles);
        fs.restore_from_bytes(bytes).unwrap();
        vfs.restore_mount(Box::new(fs), *idx, at).unwrap();
    }
    let server = Arc::new(Server::new(vfs.clone()));
    server.restore_from_bytes(&server_bytes).unwrap();
    let mut session = successor;
    session.set_fuse_file(fuse_file);
    let n = serve(&session, &server, &tx);

    // Open files read and write the right data under their old handles.
    a.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"alpha");
    a.write_all_at(b"ALPHA", 0).unwrap();
    assert_eq!(std::fs::read(base.join("root/a.txt")).unwrap(), b"ALPHA");
    b.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"bravo");
    assert!(dir_fd.metadata().unwrap().is_dir());
    // Cached names: the kernel asks for their attributes by the old node IDs.
    for (p, want) in cached.iter().zip(&inos) {
        assert_eq!(ino(&mnt.join(p)), *want, "{p}");
    }
    assert_eq!(std::fs::read(mnt.join("sub/deep/y.txt")).unwrap(), b"y");
    // New lookups, on both backends, and names made after the takeover.
    std::fs::write(base.join("sub/deep/new.txt"), b"new").unwrap();
    assert_eq!(std::fs::read(mnt.join("sub/deep/new.txt")).unwrap(), b"new");
    std::fs::write(mnt.join("dir/made.txt"), b"made").unwrap();
    assert_eq!(
        std::fs::read(base.join("root/dir/made.txt")).unwrap(),
        b"made"
    );
    let mut names: Vec<String> = std::fs::read_dir(mnt.join("sub/deep"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["new.txt", "y.txt"]);
    assert_ne!(ino(&mnt.join("dir/made.txt")), ino(&mnt.join("dir/x.txt")));
    drop((a, b, dir_fd));

    // The unmount ends the session cleanly.
    session.umount().unwrap();
    session.wake().unwrap();
    join(&done, n);
    assert!(!is_mounted(&mnt), "still mounted");
}

#[test]
fn takeover_with_file_handles() {
    takeover(true);
}

#[test]
fn takeover_with_o_path_inodes() {
    takeover(false);
}
