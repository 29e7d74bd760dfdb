//! The `overlay` example daemon's command line: bad options, missing directories and a
//! work directory on another filesystem fail with one line and exit code 2, with
//! nothing mounted; a good command line serves until SIGTERM or an external umount and
//! then exits 0.
//!
//! The example binary is taken from the target directory (built by `cargo test` for all
//! targets), or built with `cargo build --example overlay` when missing.
//!
//! Needs root and /dev/fuse for the serving cases; with CI=true a test that cannot run
//! fails.

#![cfg(feature = "fusedev")]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use vmm_sys_util::tempdir::TempDir;

/// The example binary, (re)built so that it matches the library under test. Cargo does
/// not hold its build lock while tests run, so a nested build works.
fn example() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("examples/overlay");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--example", "overlay"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if std::env::var_os("CARGO_TARGET_DIR").is_none() {
        build.env("CARGO_TARGET_DIR", exe.parent()?.parent()?.parent()?);
    }
    let built = build.status().map(|s| s.success()).unwrap_or(false);
    if !built {
        eprintln!(
            "cannot build the overlay example; using {} as it is",
            bin.display()
        );
    }
    bin.exists().then_some(bin)
}

fn is_mounted(mnt: &Path) -> bool {
    let want = mnt.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(&*want))
}

struct Dirs {
    _tmp: TempDir,
    lower: PathBuf,
    lower2: PathBuf,
    upper: PathBuf,
    work: PathBuf,
    mnt: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = TempDir::new_with_prefix("/tmp/ovl-cli-").expect("tempdir");
    let b = tmp.as_path().to_path_buf();
    let d = Dirs {
        lower: b.join("l1"),
        lower2: b.join("l:2"),
        upper: b.join("u"),
        work: b.join("w"),
        mnt: b.join("m"),
        _tmp: tmp,
    };
    for p in [&d.lower, &d.lower2, &d.upper, &d.work, &d.mnt] {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(d.lower.join("top"), b"top\n").unwrap();
    std::fs::write(d.lower2.join("bottom"), b"bottom\n").unwrap();
    d
}

fn run(bin: &Path, args: &[&str]) -> Output {
    let mut c = Command::new(bin);
    c.args(args).stdin(Stdio::null());
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("overlay {args:?} did not exit");
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn bad_command_lines_exit_2_with_one_line() {
    let Some(bin) = example() else {
        cannot_run("the overlay example cannot be built");
        return;
    };
    let d = dirs();
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let good_lower = format!("lowerdir={}", s(&d.lower));
    let shm = TempDir::new_with_prefix("/dev/shm/ovl-cli-").expect("tempdir on tmpfs");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![s(&d.mnt)], "no options"),
        (vec!["-o".into(), good_lower.clone()], "no mount point"),
        (
            vec!["-o".into(), "lowerdir=/nonexistent/dir".into(), s(&d.mnt)],
            "missing lowerdir",
        ),
        (
            vec!["-o".into(), format!("{good_lower},frobnicate=1"), s(&d.mnt)],
            "unknown option",
        ),
        (
            vec!["-o".into(), format!("{good_lower},index=maybe"), s(&d.mnt)],
            "bad value",
        ),
        (
            vec!["-o".into(), "upperdir=/tmp".into(), s(&d.mnt)],
            "no lowerdir",
        ),
        (
            vec![
                "-o".into(),
                format!("{good_lower},upperdir={}", s(&d.upper)),
                s(&d.mnt),
            ],
            "upperdir without workdir",
        ),
        (
            vec![
                "-o".into(),
                format!(
                    "{good_lower},upperdir={},workdir={}",
                    s(&d.upper),
                    s(shm.as_path())
                ),
                s(&d.mnt),
            ],
            "workdir on another filesystem",
        ),
        (
            vec![
                "-o".into(),
                format!(
                    "{good_lower},upperdir={},workdir={}",
                    s(&d.upper),
                    s(&d.upper.join("w"))
                ),
                s(&d.mnt),
            ],
            "workdir inside upperdir (missing)",
        ),
        (
            vec![
                "-o".into(),
                format!(
                    "{good_lower},upperdir={},workdir={}",
                    s(&d.upper),
                    s(&d.work)
                ),
                "/nonexistent/mnt".into(),
            ],
            "missing mount point",
        ),
    ];
    std::fs::create_dir_all(d.upper.join("w")).unwrap();
    let mut nested = cases;
    nested.push((
        vec![
            "-o".into(),
            format!(
                "{good_lower},upperdir={},workdir={}",
                s(&d.upper),
                s(&d.upper.join("w"))
            ),
            s(&d.mnt),
        ],
        "workdir inside upperdir",
    ));
    for (args, what) in nested {
        let args: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
        let out = run(&bin, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what}: exit status; stderr {err:?}"
        );
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "{what}: not one line: {err:?}"
        );
        assert!(
            err.starts_with("overlay: ") || err.starts_with("error"),
            "{what}: {err:?}"
        );
        assert!(!is_mounted(&d.mnt), "{what}: something was mounted");
    }
}

fn serve(bin: &Path, args: &[String], mnt: &Path) -> Child {
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while !is_mounted(mnt) {
        assert!(Instant::now() < end, "overlay did not mount");
        thread::sleep(Duration::from_millis(20));
    }
    child
}

fn wait_exit(mut child: Child) -> Option<i32> {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("overlay did not exit");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serves_until_sigterm_or_umount() {
    if !Path::new("/dev/fuse").exists() || nix::unistd::geteuid().as_raw() != 0 {
        cannot_run("needs root and /dev/fuse");
        return;
    }
    let Some(bin) = example() else {
        cannot_run("the overlay example cannot be built");
        return;
    };
    let d = dirs();
    // The second lower layer's name has a colon: escaped as the kernel wants.
    let lower = format!(
        "{}:{}",
        d.lower.display(),
        d.lower2.display().to_string().replace(':', "\\:")
    );
    let args = vec![
        "-o".to_string(),
        format!(
            "lowerdir={lower},upperdir={},workdir={}",
            d.upper.display(),
            d.work.display()
        ),
        "-o".into(),
        "index=on,redirect_dir=on".into(),
        d.mnt.display().to_string(),
    ];
    let child = serve(&bin, &args, &d.mnt);
    assert_eq!(read_file(&d.mnt.join("bottom")).unwrap(), b"bottom\n");
    std::fs::write(d.mnt.join("bottom"), b"changed\n").unwrap();
    rename2(&d.mnt.join("top"), &d.mnt.join("moved"), 0).unwrap();
    assert_eq!(std::fs::read(d.upper.join("bottom")).unwrap(), b"changed\n");
    assert_eq!(std::fs::read(d.lower2.join("bottom")).unwrap(), b"bottom\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert_eq!(wait_exit(child), Some(0), "exit status after SIGTERM");
    assert!(!is_mounted(&d.mnt), "still mounted after SIGTERM");

    // Again, ended by an external umount; what was done before is still there.
    let child = serve(&bin, &args, &d.mnt);
    assert_eq!(read_file(&d.mnt.join("moved")).unwrap(), b"top\n");
    assert!(lstat(&d.mnt.join("top")).is_err());
    nix::mount::umount2(&d.mnt, nix::mount::MntFlags::empty()).unwrap();
    assert_eq!(wait_exit(child), Some(0), "exit status after umount");

    // Read-only without an upper layer.
    let ro = vec![
        "-o".to_string(),
        format!("lowerdir={lower}"),
        d.mnt.display().to_string(),
    ];
    let child = serve(&bin, &ro, &d.mnt);
    assert_eq!(read_file(&d.mnt.join("top")).unwrap(), b"top\n");
    assert_eq!(
        std::fs::write(d.mnt.join("top"), b"x").map_err(|e| io_errno(&e)),
        Err(libc::EROFS)
    );
    nix::mount::umount2(&d.mnt, nix::mount::MntFlags::empty()).unwrap();
    assert_eq!(wait_exit(child), Some(0));
}
