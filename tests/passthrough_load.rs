//! Load proofs of the passthrough driver on real mounts.
//!
//! - `concurrent_clients_keep_data_and_fds_*`: 4 client threads doing mixed operations on
//!   disjoint and shared files of a mount served by 3 channels; the data is exactly what
//!   was written, and the process's descriptor count returns to its baseline after the
//!   kernel forgets the inodes (`echo 2 > /proc/sys/vm/drop_caches`) and after unmounting.
//! - `tree_walk_fd_bound`: `find` over `FD_TEST_FILES` files (default 20000); with file
//!   handles the daemon's open descriptors stay far below the file count; with one
//!   `O_PATH` descriptor per inode the count is printed, and hitting the descriptor limit
//!   must give clean errors, not a hang.
//! - `stress_ng_on_the_mount`, `fio_verify_on_the_mount`: the external tools; with CI=true
//!   a missing tool fails the test.
//!
//! The descriptor counts are of this whole process (the daemon runs in it), so the tests
//! of this file run one at a time (`SERIAL`). Needs root and /dev/fuse.
//!
//! Environment: `FD_TEST_FILES` (default 20000), `LOAD_ITERS` (operations per client
//! thread, default 300), `STRESS_SECS` (default 20), `FIO_SIZE` (default 64m).

#![cfg(feature = "fusedev")]

mod common;

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use common::*;

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn need_root() -> bool {
    if !nix::unistd::geteuid().is_root() {
        cannot_run("needs root (mount(2), drop_caches)");
        return false;
    }
    true
}

/// How long the bounded waits for the kernel to forget inodes may take; a guard, not a
/// timing assertion.
const FORGET_WAIT: Duration = Duration::from_secs(60);

const CLIENTS: usize = 4;
const REGION: usize = 256 * 1024;

/// Deterministic content written by client `t` at step `i`.
fn chunk(t: usize, i: usize, len: usize) -> Vec<u8> {
    let mut rng = XorShift::new(((t as u64) << 32) | i as u64);
    rng.bytes(len)
}

/// One client: returns the expected content of its own file and of its region of the
/// shared file, and the names it left in `common/`.
fn client(mnt: &Path, t: usize, iters: usize) -> (Vec<u8>, Vec<u8>, Vec<String>) {
    let mut rng = XorShift::new(1000 + t as u64);
    let dir = mnt.join(format!("t{t}"));
    std::fs::create_dir(&dir).unwrap();
    let own_path = dir.join("own");
    let own = open(&own_path, libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
    let shared = open(&mnt.join("shared"), libc::O_RDWR, 0).unwrap();
    let mut own_expect = Vec::new();
    let mut region = vec![0u8; REGION];
    let mut left = Vec::new();
    for i in 0..iters {
        match rng.below(10) {
            0..=2 => {
                // Append to our own file through pwrite at the end.
                let data = chunk(t, i, 1 + rng.below(20000) as usize);
                let off = own_expect.len() as i64;
                assert_eq!(pwrite(own.as_raw_fd(), &data, off), Ok(data.len()));
                own_expect.extend_from_slice(&data);
            }
            3..=4 => {
                // Our region of the shared file.
                let len = 1 + rng.below(8192) as usize;
                let off = rng.below((REGION - len) as u64) as usize;
                let data = chunk(t, i, len);
                let abs = (t * REGION + off) as i64;
                assert_eq!(pwrite(shared.as_raw_fd(), &data, abs), Ok(len));
                region[off..off + len].copy_from_slice(&data);
                let back = pread(shared.as_raw_fd(), len, abs).unwrap();
                assert!(back == data, "client {t}: shared region read back differs");
            }
            5 => {
                // Create, write, rename, read back and maybe unlink a temporary file.
                let tmp = dir.join(format!("tmp{i}"));
                let data = chunk(t, i, rng.below(10000) as usize);
                std::fs::write(&tmp, &data).unwrap();
                let ren = dir.join(format!("ren{i}"));
                std::fs::rename(&tmp, &ren).unwrap();
                assert_eq!(std::fs::read(&ren).unwrap(), data);
                if rng.chance(70) {
                    std::fs::remove_file(&ren).unwrap();
                }
            }
            6 => {
                // Hard links and a directory that comes and goes.
                let l = dir.join(format!("link{i}"));
                std::fs::hard_link(&own_path, &l).unwrap();
                assert_eq!(lstat(&own_path).unwrap().st_nlink, 2);
                std::fs::remove_file(&l).unwrap();
                assert_eq!(lstat(&own_path).unwrap().st_nlink, 1);
                let d = dir.join(format!("dir{i}"));
                std::fs::create_dir(&d).unwrap();
                std::fs::write(d.join("f"), b"x").unwrap();
                std::fs::remove_dir_all(&d).unwrap();
            }
            7 => {
                // The shared directory: everybody adds and lists.
                let name = format!("t{t}-{i}");
                std::fs::write(mnt.join("common").join(&name), name.as_bytes()).unwrap();
                left.push(name);
                let names = listing(&mnt.join("common")).unwrap();
                for n in &left {
                    assert!(
                        names.iter().any(|(x, _)| x == n),
                        "client {t}: {n} missing from common/"
                    );
                }
            }
            8 => {
                // Re-read part of our own file.
                if !own_expect.is_empty() {
                    let off = rng.below(own_expect.len() as u64) as usize;
                    let len = (own_expect.len() - off).min(65536);
                    let got = pread(own.as_raw_fd(), len, off as i64).unwrap();
                    assert!(
                        got == own_expect[off..off + len],
                        "client {t}: own file differs"
                    );
                }
            }
            _ => {
                let st = fstat(own.as_raw_fd()).unwrap();
                assert_eq!(st.st_size as usize, own_expect.len());
                lstat(&mnt.join("shared")).unwrap();
            }
        }
    }
    (own_expect, region, left)
}

fn concurrent_clients(handles: bool) {
    let _g = serial();
    if !need_root() {
        return;
    }
    let iters: usize = env_num("LOAD_ITERS", 300);
    let before_mount = fd_count();
    let child_before = child_fd_count();
    let Some(mut m) = TestMount::new(MountOptions::default().threads(3).file_handles(handles))
    else {
        return;
    };
    let mnt = m.mnt().to_path_buf();
    lstat(&mnt).unwrap();
    let mounted = fd_count();
    std::fs::write(mnt.join("shared"), vec![0u8; CLIENTS * REGION]).unwrap();
    std::fs::create_dir(mnt.join("common")).unwrap();

    let results: Vec<_> = (0..CLIENTS)
        .map(|t| {
            let mnt = mnt.clone();
            thread::Builder::new()
                .name(format!("client-{t}"))
                .spawn(move || client(&mnt, t, iters))
                .unwrap()
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("a client thread failed"))
        .collect();
    let busy = fd_count();
    // None of the daemon's descriptors leak into child processes.
    assert_eq!(
        child_fd_count(),
        child_before,
        "a child process inherits descriptors of the daemon (not O_CLOEXEC)"
    );

    // Exactly what was written: through the mount and on the host.
    let mut shared_expect = Vec::new();
    let mut common_expect = BTreeSet::new();
    for (t, (own, region, left)) in results.iter().enumerate() {
        for root in [&mnt, &m.src().to_path_buf()] {
            let got = std::fs::read(root.join(format!("t{t}/own"))).unwrap();
            assert_eq!(
                (got.len(), fnv64(&got)),
                (own.len(), fnv64(own)),
                "t{t}/own under {}",
                root.display()
            );
        }
        shared_expect.extend_from_slice(region);
        common_expect.extend(left.iter().cloned());
    }
    for root in [&mnt, &m.src().to_path_buf()] {
        let got = std::fs::read(root.join("shared")).unwrap();
        assert_eq!(
            (got.len(), fnv64(&got)),
            (shared_expect.len(), fnv64(&shared_expect)),
            "shared under {}",
            root.display()
        );
        let names: BTreeSet<String> = listing(&root.join("common"))
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, common_expect, "common/ under {}", root.display());
        for n in &common_expect {
            assert_eq!(
                std::fs::read(root.join("common").join(n)).unwrap(),
                n.as_bytes()
            );
        }
    }
    assert_same_tree(
        "mount vs source",
        &snapshot(&mnt, false),
        &snapshot(m.src(), false),
    );

    // The kernel forgets every inode but the root: the daemon's descriptors go with them.
    drop_caches(2).expect("echo 2 > /proc/sys/vm/drop_caches");
    let forgotten = wait_fds_at_most(mounted, FORGET_WAIT);
    let unmounted = {
        let panicked = m.unmount();
        assert_eq!(panicked, 0, "a service thread panicked");
        fd_count()
    };
    eprintln!(
        "fd counts (file handles: {handles}): before mount {before_mount}, mounted \
         {mounted}, after the clients {busy}, after drop_caches {forgotten}, \
         after unmount {unmounted}"
    );
    assert!(
        forgotten <= mounted,
        "descriptors leaked while mounted: {forgotten} after drop_caches, {mounted} right \
         after mounting"
    );
    assert!(
        unmounted <= before_mount,
        "descriptors leaked: {unmounted} after unmount, {before_mount} before mounting"
    );
    m.finish();
}

#[test]
fn concurrent_clients_keep_data_and_fds_opath() {
    concurrent_clients(false);
}

#[test]
fn concurrent_clients_keep_data_and_fds_file_handles() {
    concurrent_clients(true);
}

/// Makes `n` files under `root`, 500 per directory.
fn make_tree(root: &Path, n: usize) {
    let per_dir = 500;
    for i in 0..n {
        let d = root.join(format!("d{:03}", i / per_dir));
        if i % per_dir == 0 {
            std::fs::create_dir(&d).unwrap();
        }
        File::create(d.join(format!("f{i}"))).unwrap();
    }
}

/// Holds a few spare descriptors so that, when the daemon has exhausted the limit, the
/// test can still measure.
fn reserve(n: usize) -> Vec<OwnedFd> {
    (0..n)
        .map(|_| {
            // SAFETY: a valid C string; the descriptor is owned below.
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            assert!(fd >= 0, "open /dev/null");
            // SAFETY: a fresh descriptor.
            unsafe { OwnedFd::from_raw_fd(fd) }
        })
        .collect()
}

/// How a walk looks at the files.
#[derive(Clone, Copy, Debug)]
enum Walk {
    /// `find -type f`: readdir(plus) and the d_type of entries, no stat of files.
    Names,
    /// `find -type f -printf '%s'`: also a stat, hence a LOOKUP, of every file.
    Stat,
}

/// Walks the mount with find; returns (files counted, exit ok, stderr, fds after the
/// walk).
fn walk(m: &TestMount, how: Walk, out_dir: &Path) -> (usize, bool, String, usize) {
    let reserve = reserve(32);
    let mut cmd = Command::new("find");
    cmd.arg(m.mnt()).args(["-type", "f"]);
    if let Walk::Stat = how {
        cmd.args(["-printf", "%s\\n"]);
    }
    let (st, out, err) = run_bounded(&mut cmd, Duration::from_secs(600), out_dir);
    let st = st.expect("find hung on the mount (killed after 600 s)");
    drop(reserve);
    let fds = fd_count();
    (out.lines().count(), st.success(), err, fds)
}

/// Lowers the soft RLIMIT_NOFILE of this process until dropped.
struct NofileLimit(libc::rlimit);

impl NofileLimit {
    fn set_soft(soft: u64) -> NofileLimit {
        // SAFETY: plain data filled by the kernel.
        let mut old: libc::rlimit = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pointer.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) }, 0);
        let new = libc::rlimit {
            rlim_cur: soft.min(old.rlim_max),
            rlim_max: old.rlim_max,
        };
        // SAFETY: a valid rlimit.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &new) }, 0);
        NofileLimit(old)
    }
}

impl Drop for NofileLimit {
    fn drop(&mut self) {
        // SAFETY: restores the limit read in `set_soft`.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &self.0) };
    }
}

#[test]
fn tree_walk_fd_bound() {
    let _g = serial();
    if !need_root() {
        return;
    }
    if which("find").is_none() {
        cannot_run("find is not installed");
        return;
    }
    let n: usize = env_num("FD_TEST_FILES", 20000);
    let soft = {
        // SAFETY: plain data filled by the kernel.
        let mut rl: libc::rlimit = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pointer.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) }, 0);
        rl.rlim_cur
    };
    let out_dir = vmm_sys_util::tempdir::TempDir::new_with_prefix("/tmp/pt-walk-").unwrap();
    let out = out_dir.as_path();
    eprintln!("{n} files (FD_TEST_FILES), RLIMIT_NOFILE {soft}");

    // File handles: bounded, however the tree is walked.
    let Some(m) = TestMount::new(MountOptions::default().file_handles(true)) else {
        return;
    };
    make_tree(m.src(), n);
    lstat(m.mnt()).unwrap();
    let base = fd_count();
    for how in [Walk::Names, Walk::Stat] {
        let (count, ok, err, after) = walk(&m, how, out);
        eprintln!(
            "file handles, {how:?} walk: find counted {count} (ok {ok}); process fds {base} \
             before, {after} after (daemon +{})",
            after.saturating_sub(base)
        );
        assert!(ok, "find failed on the file-handle mount: {err}");
        assert_eq!(count, n);
        // The driver documents one descriptor per mount plus an LRU of
        // `inode_fd_cache_size` O_PATH descriptors.
        let bound = m.config().inode_fd_cache_size + 64;
        assert!(
            after - base < bound,
            "{} descriptors held for {n} files with file handles",
            after - base
        );
    }
    let forgotten = wait_fds_at_most(base, FORGET_WAIT);
    eprintln!("file handles: {forgotten} fds after drop_caches");
    assert!(forgotten <= base, "descriptors kept after drop_caches");
    m.finish();

    // O_PATH descriptors: one per inode the kernel remembers.
    let Some(m) = TestMount::new(MountOptions::default().file_handles(false)) else {
        return;
    };
    make_tree(m.src(), n);
    lstat(m.mnt()).unwrap();
    let base = fd_count();
    for how in [Walk::Names, Walk::Stat] {
        let (count, ok, err, after) = walk(&m, how, out);
        let first = err.lines().next().unwrap_or_default().to_string();
        eprintln!(
            "O_PATH, {how:?} walk: find counted {count} (ok {ok}); process fds {base} before, \
             {after} after (daemon +{}){}",
            after.saturating_sub(base),
            if ok {
                String::new()
            } else {
                format!("; first error: {first}")
            }
        );
        if base as u64 + n as u64 + 200 < soft {
            assert!(ok, "find failed on the O_PATH mount: {err}");
            assert_eq!(count, n);
        } else if !ok {
            // Out of descriptors: errors, not a hang or a dead daemon.
            assert!(
                err.contains("Too many open files"),
                "find errors are not EMFILE: {first}"
            );
        }
        // The kernel forgets, the daemon closes.
        let forgotten = wait_fds_at_most(base, FORGET_WAIT);
        eprintln!("O_PATH: {forgotten} fds after drop_caches");
        assert!(
            forgotten <= base,
            "O_PATH descriptors not released: {forgotten} > {base}"
        );
    }

    // Out of descriptors on purpose: a soft limit 1000 above what is open now. A walk that
    // looks up every file must end with clean EMFILE errors (no hang, no dead daemon), and
    // everything must work again once the kernel forgets.
    let small = (fd_count() + 1000) as u64;
    let restore = NofileLimit::set_soft(small);
    let (count, ok, err, after) = walk(&m, Walk::Stat, out);
    let first = err.lines().next().unwrap_or_default().to_string();
    eprintln!(
        "O_PATH with RLIMIT_NOFILE {small}: find counted {count} of {n} (ok {ok}), process \
         fds {after}; first error: {first}"
    );
    if n as u64 > small {
        assert!(
            !ok && count < n,
            "{count} files stat'ed within {small} descriptors?"
        );
        assert!(
            err.contains("Too many open files"),
            "find errors are not EMFILE: {first}"
        );
    }
    drop(restore);
    let forgotten = wait_fds_at_most(base, FORGET_WAIT);
    assert!(
        forgotten <= base,
        "O_PATH descriptors not released after EMFILE: {forgotten} > {base}"
    );
    let (count, ok, err, _) = walk(&m, Walk::Names, out);
    eprintln!("O_PATH: walk after EMFILE counted {count} (ok {ok})");
    assert!(
        ok && count == n,
        "the mount did not recover after EMFILE: {err}"
    );
    std::fs::write(m.mnt().join("after"), b"still alive").unwrap();
    assert_eq!(
        std::fs::read(m.src().join("after")).unwrap(),
        b"still alive"
    );
    drop_caches(2).unwrap();
    m.finish();
}

#[test]
fn stress_ng_on_the_mount() {
    let _g = serial();
    if !need_root() {
        return;
    }
    let Some(bin) = which("stress-ng") else {
        cannot_run("stress-ng is not installed");
        return;
    };
    let secs: u64 = env_num("STRESS_SECS", 20);
    // File handles: what the example daemon uses when run as root.
    let opts = MountOptions::default()
        .xattr(true)
        .threads(4)
        .file_handles(true);
    let Some(m) = TestMount::new(opts) else {
        return;
    };
    let work = m.mnt().join("stress");
    std::fs::create_dir(&work).unwrap();
    let mut cmd = Command::new(bin);
    cmd.args([
        "--dir",
        "2",
        "--dentry",
        "2",
        "--hdd",
        "2",
        "--link",
        "2",
        "--rename",
        "2",
        "--xattr",
        "2",
        "--fallocate",
        "2",
    ])
    .arg("--timeout")
    .arg(format!("{secs}s"))
    .arg("--temp-path")
    .arg(&work)
    .arg("--metrics-brief")
    .current_dir(&work);
    let (st, out, err) = run_bounded(&mut cmd, Duration::from_secs(secs * 6 + 120), m.base());
    let all = format!("{out}{err}");
    eprintln!("stress-ng output:\n{all}");
    let st = st.expect("stress-ng hung on the mount");
    assert!(st.success(), "stress-ng failed: {st}");
    // stress-ng 0.15 ends with "successful run completed" and reports problems on
    // "fail:" lines (newer versions also print "passed: N" / "failed: N" summaries).
    assert!(
        all.contains("successful run completed") && !all.contains("unsuccessful run"),
        "stress-ng did not complete successfully"
    );
    for line in all.lines() {
        assert!(
            !line.contains(" fail: ") && !line.contains("FAILED"),
            "stress-ng reports: {line}"
        );
        if let Some(rest) = line.split("failed: ").nth(1) {
            assert!(
                rest.trim_start().starts_with('0'),
                "stress-ng reports: {line}"
            );
        }
    }
    m.finish();
}

#[test]
fn fio_verify_on_the_mount() {
    let _g = serial();
    if !need_root() {
        return;
    }
    let Some(bin) = which("fio") else {
        cannot_run("fio is not installed");
        return;
    };
    let size: String = std::env::var("FIO_SIZE").unwrap_or_else(|_| "64m".into());
    let Some(m) = TestMount::new(MountOptions::default().threads(2).file_handles(true)) else {
        return;
    };
    let dir: PathBuf = m.mnt().join("fio");
    std::fs::create_dir(&dir).unwrap();
    let mut cmd = Command::new(bin);
    cmd.args([
        "--name=verify",
        "--rw=randrw",
        "--verify=crc32c",
        "--bs=4k",
        "--numjobs=2",
        "--do_verify=1",
        "--verify_fatal=1",
        "--verify_state_save=0",
        "--ioengine=psync",
        "--group_reporting",
    ])
    .arg(format!("--size={size}"))
    .arg(format!("--directory={}", dir.display()));
    let (st, out, err) = run_bounded(&mut cmd, Duration::from_secs(900), m.base());
    eprintln!("fio output:\n{out}{err}");
    let st = st.expect("fio hung on the mount");
    assert!(st.success(), "fio failed: {st}\n{err}");
    let all = format!("{out}{err}").to_lowercase();
    assert!(!all.contains("verify failed"), "fio verify errors");
    assert!(!all.contains("bad magic"), "fio verify errors");
    for part in all.split("err=").skip(1) {
        let code: String = part
            .trim_start()
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        assert_eq!(
            code,
            "0",
            "fio reports an error: err={}",
            part.lines().next().unwrap_or("")
        );
    }
    // The data on the host matches what fio verified through the mount.
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let host = m.src().join("fio").join(p.file_name().unwrap());
        assert_eq!(
            fnv64(&std::fs::read(&p).unwrap()),
            fnv64(&std::fs::read(&host).unwrap()),
            "{} differs from the host",
            p.display()
        );
    }
    m.finish();
}
