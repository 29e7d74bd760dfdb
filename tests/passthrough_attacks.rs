//! Attacks on the `passthrough` example daemon by other local users, each through a real
//! mount, each reproducing a hole that was open once.
//!
//! Needs root and /dev/fuse; with CI=true a test that cannot run fails.

#![cfg(feature = "fusedev")]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::example::{serve, terminate, wait_exit};
use common::*;
use vmm_sys_util::tempdir::TempDir;

/// The unprivileged user the attacks run as.
const NOBODY: u32 = 65534;

fn example() -> Option<PathBuf> {
    common::example::example("passthrough", &[])
}

fn can_mount() -> bool {
    Path::new("/dev/fuse").exists() && nix::unistd::geteuid().is_root()
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// A tempdir that other users may enter, with `src` and `mnt` in it.
fn dirs() -> (TempDir, PathBuf, PathBuf) {
    let tmp = TempDir::new_with_prefix("/tmp/pt-attack-").expect("tempdir");
    std::fs::set_permissions(tmp.as_path(), PermissionsExt::from_mode(0o755)).unwrap();
    let src = tmp.as_path().join("src");
    let mnt = tmp.as_path().join("mnt");
    for p in [&src, &mnt] {
        std::fs::create_dir(p).unwrap();
        std::fs::set_permissions(p, PermissionsExt::from_mode(0o755)).unwrap();
    }
    (tmp, src, mnt)
}

/// Runs a shell command line as uid/gid NOBODY with no supplementary groups.
fn as_nobody(script: &str) -> Output {
    Command::new("sh")
        .args(["-c", script])
        .uid(NOBODY)
        .gid(NOBODY)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Attack A: with `--allow-other`, an unprivileged user must not read a root-only file,
/// change the root directory's mode, or make a set-user-ID root binary in the source.
#[test]
fn allow_other_gives_other_users_no_root_rights() {
    let Some(bin) = example() else {
        cannot_run("the passthrough example cannot be built");
        return;
    };
    if !can_mount() {
        cannot_run("needs root and /dev/fuse");
        return;
    }
    let (_tmp, src, mnt) = dirs();
    std::fs::write(src.join("rootonly"), b"secret\n").unwrap();
    std::fs::set_permissions(src.join("rootonly"), PermissionsExt::from_mode(0o600)).unwrap();
    let public = src.join("public");
    std::fs::create_dir(&public).unwrap();
    std::fs::set_permissions(&public, PermissionsExt::from_mode(0o777)).unwrap();

    let daemon = serve(&bin, &["--allow-other".into(), s(&src), s(&mnt)], &mnt);
    let m = s(&mnt);
    // The mount is reachable for NOBODY at all (otherwise the checks below prove nothing).
    let ls = as_nobody(&format!("ls {m}"));
    assert!(ls.status.success(), "ls as nobody: {ls:?}");
    assert!(String::from_utf8_lossy(&ls.stdout).contains("rootonly"));

    let cat = as_nobody(&format!("cat {m}/rootonly"));
    let chmod = as_nobody(&format!("chmod 777 {m}"));
    let setuid_root = as_nobody(&format!(
        "cp /bin/sh {m}/public/rootsh && chown 0:0 {m}/public/rootsh \
         && chmod 4755 {m}/public/rootsh"
    ));
    let truncate = as_nobody(&format!("truncate -s 0 {m}/rootonly"));
    let unlink = as_nobody(&format!("rm -f {m}/rootonly"));

    terminate(&daemon);
    assert_eq!(wait_exit(daemon), Some(0));

    assert!(!cat.status.success(), "nobody read a 0600 root file");
    assert!(!String::from_utf8_lossy(&cat.stdout).contains("secret"));
    assert!(!chmod.status.success(), "nobody changed the root's mode");
    assert_eq!(std::fs::metadata(&src).unwrap().mode() & 0o7777, 0o755);
    assert!(
        !setuid_root.status.success(),
        "nobody made a root-owned file"
    );
    if let Ok(md) = std::fs::metadata(public.join("rootsh")) {
        assert_eq!(md.uid(), NOBODY, "rootsh belongs to root");
    }
    assert!(!truncate.status.success() && !unlink.status.success());
    assert_eq!(std::fs::read(src.join("rootonly")).unwrap(), b"secret\n");
}

/// `--suid`/`--dev` lift the default nosuid/nodev, as libfuse's `-o suid,dev` do for root.
#[test]
fn suid_and_dev_are_accepted() {
    let Some(bin) = example() else {
        cannot_run("the passthrough example cannot be built");
        return;
    };
    if !can_mount() {
        cannot_run("needs root and /dev/fuse");
        return;
    }
    for (extra, want_nosuid) in [(vec![], true), (vec!["--suid", "--dev"], false)] {
        let (_tmp, src, mnt) = dirs();
        let mut args: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        args.extend([s(&src), s(&mnt)]);
        let daemon = serve(&bin, &args, &mnt);
        let flags = per_mount_flags(&mnt);
        terminate(&daemon);
        assert_eq!(wait_exit(daemon), Some(0));
        assert_eq!(
            flags.contains(&"nosuid".to_string()),
            want_nosuid,
            "{flags:?}"
        );
        assert_eq!(
            flags.contains(&"nodev".to_string()),
            want_nosuid,
            "{flags:?}"
        );
    }
}

fn per_mount_flags(mnt: &Path) -> Vec<String> {
    let want = s(mnt);
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(&*want))
        .and_then(|l| l.split(' ').nth(5))
        .map(|o| o.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

/// Waits up to `secs` for `child`; `None` if it is still running then.
fn wait_for(child: &mut std::process::Child, secs: u64) -> Option<std::process::ExitStatus> {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return Some(st);
        }
        if std::time::Instant::now() > end {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Kills a wedged daemon and detaches its mount, so a failing test does not hang the run.
fn abandon(daemon: &mut std::process::Child, mnt: &Path) -> ! {
    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = nix::mount::umount2(mnt, nix::mount::MntFlags::MNT_DETACH);
    panic!("the mount hung");
}

fn spawn_flock(path: &Path) -> std::process::Child {
    Command::new("flock")
        .args(["-x", &s(path), "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Holds an exclusive flock on `path` (through the mount) until dropped.
fn hold_flock(path: &Path) -> std::fs::File {
    use std::os::fd::AsRawFd;
    let f = std::fs::OpenOptions::new().read(true).open(path).unwrap();
    // SAFETY: `f` is an open descriptor for the duration of the call.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(r, 0, "flock: {}", std::io::Error::last_os_error());
    f
}

/// Attack B: clients waiting for a flock must not take the service threads. With two
/// threads and two waiters, the mount must still answer, the holder's unlock must reach
/// the daemon and wake the waiters, a signal must end a wait (FUSE_INTERRUPT), and
/// SIGTERM must end the daemon while a client waits.
#[test]
fn flock_waiters_do_not_stop_the_mount() {
    let Some(bin) = example() else {
        cannot_run("the passthrough example cannot be built");
        return;
    };
    if !can_mount() {
        cannot_run("needs root and /dev/fuse");
        return;
    }
    let (_tmp, src, mnt) = dirs();
    std::fs::write(src.join("f"), b"").unwrap();
    std::fs::write(src.join("g"), b"").unwrap();
    let mut daemon = serve(
        &bin,
        &["--threads".into(), "2".into(), s(&src), s(&mnt)],
        &mnt,
    );
    let f = mnt.join("f");

    // Two waiters behind our lock; then the mount must still serve other requests.
    let held = hold_flock(&f);
    let mut waiters = [spawn_flock(&f), spawn_flock(&f)];
    for w in &waiters {
        wait_blocked_in(w.id(), libc::SYS_flock, "a waiter sleeps in flock(2)");
    }
    let mut stat = Command::new("stat")
        .arg(mnt.join("g"))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let Some(st) = wait_for(&mut stat, 20) else {
        let _ = stat.kill();
        abandon(&mut daemon, &mnt);
    };
    assert!(st.success(), "stat: {st}");
    for w in &mut waiters {
        assert!(
            w.try_wait().unwrap().is_none(),
            "a waiter got the lock we hold"
        );
    }
    drop(held); // the unlock must be served, and wake the waiters one after the other
    for w in &mut waiters {
        match wait_for(w, 20) {
            Some(st) => assert!(st.success(), "waiter: {st}"),
            None => abandon(&mut daemon, &mnt),
        }
    }

    // A signal ends a wait while the lock is still held.
    let held = hold_flock(&f);
    let mut waiter = spawn_flock(&f);
    wait_blocked_in(
        waiter.id(),
        libc::SYS_flock,
        "the waiter sleeps in flock(2)",
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(waiter.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    match wait_for(&mut waiter, 20) {
        Some(st) => assert!(!st.success(), "the interrupted waiter got the lock"),
        None => abandon(&mut daemon, &mnt),
    }

    // SIGTERM with a client waiting: the daemon exits 0, and the client is let go.
    let mut waiter = spawn_flock(&f);
    wait_blocked_in(
        waiter.id(),
        libc::SYS_flock,
        "the waiter sleeps in flock(2)",
    );
    terminate(&daemon);
    match wait_for(&mut daemon, 20) {
        Some(st) => assert_eq!(st.code(), Some(0), "daemon: {st}"),
        None => abandon(&mut daemon, &mnt),
    }
    drop(held);
    if wait_for(&mut waiter, 20).is_none() {
        let _ = waiter.kill();
        panic!("a waiter hung after the daemon exited");
    }
}
