//! Load on our overlay: stress-ng for a bounded time, and concurrent copy-ups of the same
//! lower files through several names.
//!
//! Environment: `OVL_STRESS_SECS` (stress-ng run time, default 15), `OVL_RACE_THREADS`
//! (default 8), `OVL_RACE_FILES` (default 24).
//!
//! Needs root, /dev/fuse and stress-ng; with CI=true a test that cannot run fails.

#![cfg(feature = "fusedev")]

mod common;
mod common_overlay;

use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::*;
use common_overlay::*;
use fuse_backend_rs::overlayfs::Config;
use vmm_sys_util::tempdir::TempDir;

/// A fresh layout with two populated lower layers, mounted with our overlay.
fn mounted(prefix: &str, populate: impl FnOnce(&Layout)) -> Option<(TempDir, Layout, FuseOverlay)> {
    if !Path::new("/dev/fuse").exists() {
        cannot_run("/dev/fuse does not exist");
        return None;
    }
    let tmp = TempDir::new_with_prefix(prefix).expect("tempdir");
    let l = Layout::new(tmp.as_path(), 2);
    for d in l.lowers.iter().chain([&l.upper, &l.work, &l.mnt]) {
        std::fs::create_dir_all(d).unwrap();
    }
    populate(&l);
    match FuseOverlay::mount(&l, Config::default(), false) {
        Ok(m) => Some((tmp, l, m)),
        Err(e) => {
            cannot_run(e);
            None
        }
    }
}

#[test]
fn stress_ng_runs_clean() {
    let Some(stress) = which("stress-ng") else {
        cannot_run("stress-ng is not installed");
        return;
    };
    let Some((tmp, l, mut m)) = mounted("/tmp/ovl-stress-", |l| {
        // A lower-only directory to work in (copied up at the first change), next to
        // lower files stress-ng never touches.
        std::fs::create_dir_all(l.lowers[1].join("area/sub")).unwrap();
        std::fs::write(l.lowers[1].join("area/sub/keep"), b"lower data\n").unwrap();
        std::fs::create_dir_all(l.lowers[0].join("area")).unwrap();
        std::fs::write(l.lowers[0].join("area/top"), b"top\n").unwrap();
    }) else {
        return;
    };
    let secs = env_num("OVL_STRESS_SECS", 15u64);
    let area = l.mnt.join("area");
    let mut cmd = Command::new(stress);
    cmd.arg("--temp-path")
        .arg(&area)
        .args([
            "--timeout",
            &format!("{secs}s"),
            "--verify",
            "--metrics-brief",
        ])
        .args(["--hdd", "1", "--hdd-bytes", "8M"])
        .args([
            "--link",
            "1",
            "--symlink",
            "1",
            "--rename",
            "1",
            "--dir",
            "1",
        ])
        .args([
            "--dentry", "1", "--chmod", "1", "--chown", "1", "--fstat", "1",
        ])
        .args([
            "--xattr",
            "1",
            "--filename",
            "1",
            "--lockf",
            "1",
            "--flock",
            "1",
        ])
        .args([
            "--open",
            "1",
            "--copy-file",
            "1",
            "--fallocate",
            "1",
            "--seek",
            "1",
        ])
        .args([
            "--utime", "1", "--mknod", "1", "--fcntl", "1", "--access", "1",
        ])
        .args(["--sync-file", "1", "--io", "1"]);
    let (status, out, err) = run_bounded(&mut cmd, Duration::from_secs(secs + 120), tmp.as_path());
    eprintln!("stress-ng output:\n{out}{err}");
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "stress-ng did not complete successfully"
    );
    assert!(
        !err.contains("unsuccessful") && !out.contains("unsuccessful"),
        "stress-ng reported a failure"
    );
    // The lower data next to the work area is untouched.
    assert_eq!(read_file(&area.join("sub/keep")).unwrap(), b"lower data\n");
    assert_eq!(m.unmount(), 0, "a service thread panicked");
    assert_eq!(
        std::fs::read_dir(l.work.join("work")).unwrap().count(),
        0,
        "work directory not clean"
    );
}

#[test]
fn concurrent_copy_ups_of_shared_files() {
    let threads = env_num("OVL_RACE_THREADS", 8usize);
    let files = env_num("OVL_RACE_FILES", 24usize);
    let orig = |i: usize| XorShift::new(i as u64 + 99).bytes(64 * 1024 + i);
    let Some((_tmp, l, mut m)) = mounted("/tmp/ovl-race-", |l| {
        for i in 0..files {
            let p = l.lowers[1].join(format!("d{}/f{i}", i % 4));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, orig(i)).unwrap();
            // A second name for every other file: both names must stay one file.
            if i % 2 == 0 {
                std::fs::hard_link(&p, l.lowers[1].join(format!("d{}/alias{i}", i % 4))).unwrap();
            }
        }
    }) else {
        return;
    };
    let mnt = Arc::new(l.mnt.clone());
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let mnt = mnt.clone();
            thread::spawn(move || {
                for k in 0..files {
                    let i = (k + t * 5) % files;
                    let name = if i % 2 == 0 && t % 2 == 1 {
                        format!("d{}/alias{i}", i % 4)
                    } else {
                        format!("d{}/f{i}", i % 4)
                    };
                    let p = mnt.join(name);
                    let fd = open(&p, libc::O_WRONLY | libc::O_APPEND, 0)
                        .unwrap_or_else(|e| panic!("open {}: {}", p.display(), errname(e)));
                    write(fd.as_raw_fd(), format!("thread {t:03}\n").as_bytes()).unwrap();
                    // Metadata copy-up paths race with the data ones.
                    chmod(&p, 0o640 + (t as u32 % 2) * 0o4).unwrap();
                    let _ = read_file(&p).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker");
    }
    for i in 0..files {
        let p = l.mnt.join(format!("d{}/f{i}", i % 4));
        let data = read_file(&p).unwrap();
        let o = orig(i);
        assert!(data.starts_with(&o), "f{i}: lower content damaged");
        let mut lines: Vec<&[u8]> = data[o.len()..].split_inclusive(|b| *b == b'\n').collect();
        lines.sort();
        let want: Vec<String> = (0..threads).map(|t| format!("thread {t:03}\n")).collect();
        let want: Vec<&[u8]> = want.iter().map(|s| s.as_bytes()).collect();
        assert_eq!(lines, want, "f{i}: appends lost or duplicated");
        if i % 2 == 0 {
            let a = l.mnt.join(format!("d{}/alias{i}", i % 4));
            assert_eq!(read_file(&a).unwrap(), data, "alias{i} split from f{i}");
            assert_eq!(lstat(&a).unwrap().st_ino, lstat(&p).unwrap().st_ino);
            assert_eq!(lstat(&p).unwrap().st_nlink, 2);
        }
    }
    assert_eq!(m.unmount(), 0, "a service thread panicked");
}

#[test]
fn layer_references_are_given_back_after_forget() {
    let dirs = 20;
    let per_dir = 100;
    let Some((_tmp, l, mut m)) = mounted("/tmp/ovl-fds-", |l| {
        for d in 0..dirs {
            let dir = l.lowers[d % 2].join(format!("d{d}"));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..per_dir {
                std::fs::write(dir.join(format!("f{f}")), b"x").unwrap();
            }
        }
    }) else {
        return;
    };
    let base = fd_count();
    for d in 0..dirs {
        for f in 0..per_dir {
            let p = l.mnt.join(format!("d{d}/f{f}"));
            lstat(&p).unwrap();
            if f % 10 == 0 {
                std::fs::write(&p, b"copied up").unwrap();
            }
        }
        listing(&l.mnt.join(format!("d{d}"))).unwrap();
    }
    rename2(&l.mnt.join("d0"), &l.mnt.join("d0moved"), 0).unwrap();
    let peak = fd_count();
    assert!(
        peak >= base + dirs * per_dir / 2,
        "lookups did not hold layer inodes ({base} -> {peak})"
    );
    // The kernel forgets everything it does not use; each layer inode must go with it.
    let left = wait_fds_at_most(base + 8, Duration::from_secs(30));
    assert!(
        left <= base + 8,
        "descriptors leaked: {base} before, {peak} at the peak, {left} after forget"
    );
    assert_eq!(m.unmount(), 0, "a service thread panicked");
}
