//! Crash safety of copy-up: the daemon is killed (SIGKILL) while it copies large lower
//! files up, and no partial file may ever become visible.
//!
//! The daemon is this test binary run again as a child (`crash_child_daemon` with
//! `OVL_CRASH_CHILD` set), serving our overlay of a lower layer of large files. The test
//! appends a marker to every file through the mount (each append copies the file up
//! first), watches the work directory on the host and kills the child as soon as a copy
//! is being built there. It then checks, on the host, that every file in the upper
//! directory is complete (the lower content plus whole markers); after all rounds it
//! mounts again and checks the same through the mount, and that the mount emptied the
//! work directory.
//!
//! Environment: `OVL_CRASH_ROUNDS` (default 4), `OVL_CRASH_FILES` (default 4),
//! `OVL_CRASH_MB` (size of each file, default 16).
//!
//! Needs root and /dev/fuse; with CI=true a test that cannot mount fails.

#![cfg(feature = "fusedev")]

mod common;
mod common_overlay;

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::example::is_mounted;
use common::*;
use common_overlay::*;
use fuse_backend_rs::overlayfs::Config;
use vmm_sys_util::tempdir::TempDir;

const CHILD_ENV: &str = "OVL_CRASH_CHILD";

/// The daemon side: serves the overlay of the layout in `$OVL_CRASH_CHILD` until killed.
/// Without the variable (a normal test run) it does nothing.
#[test]
fn crash_child_daemon() {
    let Ok(base) = std::env::var(CHILD_ENV) else {
        return;
    };
    let l = Layout::new(Path::new(&base), 1);
    let _m = FuseOverlay::mount(&l, Config::default(), false).expect("child mount");
    loop {
        thread::sleep(Duration::from_secs(3600));
    }
}

fn spawn_daemon(base: &Path, mnt: &Path) -> std::process::Child {
    let exe = std::env::current_exe().expect("test binary");
    let child = Command::new(exe)
        .args([
            "crash_child_daemon",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, base)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the daemon");
    let end = Instant::now() + Duration::from_secs(30);
    while !is_mounted(mnt) {
        assert!(Instant::now() < end, "the daemon did not mount");
        thread::sleep(Duration::from_millis(20));
    }
    child
}

/// The content of lower file `i`.
fn original(i: usize, len: usize) -> Vec<u8> {
    XorShift::new(0xc0ffee + i as u64).bytes(len)
}

/// Whether `data` is `orig` followed by whole markers only.
fn complete(data: &[u8], orig: &[u8]) -> bool {
    let Some(rest) = data.strip_prefix(orig) else {
        return false;
    };
    rest.split_inclusive(|b| *b == b'\n')
        .all(|m| m.starts_with(b"APPENDED-") && m.ends_with(b"\n"))
}

/// Entries of the work directory with data in them: copies being built.
fn copies_in_progress(work: &Path) -> usize {
    std::fs::read_dir(work)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.metadata().is_ok_and(|m| m.is_file() && m.len() > 0))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn kill_during_copy_up_leaves_no_partial_file() {
    if !Path::new("/dev/fuse").exists() {
        cannot_run("/dev/fuse does not exist");
        return;
    }
    let rounds = env_num("OVL_CRASH_ROUNDS", 4usize);
    let files = env_num("OVL_CRASH_FILES", 4usize);
    let len = env_num("OVL_CRASH_MB", 16usize) << 20;
    let tmp = TempDir::new_with_prefix("/tmp/ovl-crash-").expect("tempdir");
    let base = tmp.as_path().to_path_buf();
    let l = Layout::new(&base, 1);
    for d in l.lowers.iter().chain([&l.upper, &l.work, &l.mnt]) {
        std::fs::create_dir_all(d).unwrap();
    }
    let names: Vec<String> = (0..files).map(|i| format!("big{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        std::fs::write(l.lowers[0].join(n), original(i, len)).unwrap();
    }
    let work_tmp = l.work.join("work");
    let mut caught = 0;
    for round in 0..rounds {
        let mut child = spawn_daemon(&base, &l.mnt);
        let writers: Vec<_> = names
            .iter()
            .map(|n| {
                let p: PathBuf = l.mnt.join(n);
                thread::spawn(move || {
                    // Fails with ENOTCONN once the daemon is gone; that is expected.
                    if let Ok(fd) = open(&p, libc::O_WRONLY | libc::O_APPEND, 0) {
                        let _ = write(fd.as_raw_fd(), format!("APPENDED-{round}\n").as_bytes());
                    }
                })
            })
            .collect();
        // Kill while a copy is being built, once `round` files (at most all but one)
        // have made it to the upper directory: early rounds kill the first copy, later
        // ones kill after others completed.
        let want_done = round.min(files - 1);
        let end = Instant::now() + Duration::from_secs(60);
        let mut in_progress = 0;
        while Instant::now() < end && !writers.iter().all(|w| w.is_finished()) {
            in_progress = copies_in_progress(&work_tmp);
            let done = std::fs::read_dir(&l.upper)
                .map(|rd| rd.count())
                .unwrap_or(0);
            if in_progress > 0 && done >= want_done {
                break;
            }
            thread::sleep(Duration::from_micros(500));
        }
        child.kill().expect("kill the daemon");
        let _ = child.wait();
        for w in writers {
            w.join().expect("writer thread");
        }
        let _ = nix::mount::umount2(&l.mnt, nix::mount::MntFlags::MNT_DETACH);
        let left = copies_in_progress(&work_tmp);
        if in_progress > 0 && left > 0 {
            caught += 1;
        }
        let done = std::fs::read_dir(&l.upper)
            .map(|rd| rd.count())
            .unwrap_or(0);
        eprintln!(
            "round {round}: killed with {in_progress} copy(ies) in progress, {left} left in \
             the work directory, {done} complete in the upper directory"
        );
        // Whatever made it into the upper directory is complete.
        for (i, n) in names.iter().enumerate() {
            if let Ok(data) = std::fs::read(l.upper.join(n)) {
                assert!(
                    complete(&data, &original(i, len)),
                    "round {round}: upper/{n} is a partial copy ({} bytes)",
                    data.len()
                );
            }
        }
    }
    assert!(
        caught > 0,
        "no round killed the daemon in the middle of a copy-up"
    );
    // A fresh mount shows only complete files and clears the work directory.
    let m = FuseOverlay::mount(&l, Config::default(), false).expect("remount");
    for (i, n) in names.iter().enumerate() {
        let data = read_file(&l.mnt.join(n)).expect("read through the mount");
        assert!(
            complete(&data, &original(i, len)),
            "{n} is partial through the mount"
        );
    }
    assert_eq!(
        std::fs::read_dir(&work_tmp).unwrap().count(),
        0,
        "the mount did not clear the work directory"
    );
    drop(m);
}
