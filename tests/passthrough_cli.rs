//! The `passthrough` example daemon's command line: bad arguments and missing
//! directories fail with one line and exit code 2, with nothing mounted; a good command
//! line serves until SIGTERM or an external umount and then exits 0; `--cache never`
//! shows host changes at once.
//!
//! Needs root and /dev/fuse for the serving cases; with CI=true a test that cannot run
//! fails.

#![cfg(feature = "fusedev")]

mod common;

use std::path::{Path, PathBuf};

use common::example::{assert_refused, is_mounted, serve, terminate, wait_exit};
use common::*;
use vmm_sys_util::tempdir::TempDir;

fn example() -> Option<PathBuf> {
    common::example::example("passthrough", &[])
}

fn can_mount() -> bool {
    Path::new("/dev/fuse").exists() && nix::unistd::geteuid().is_root()
}

/// A source directory with one file, an extra directory to attach, and a mount point.
struct Dirs {
    _tmp: TempDir,
    src: PathBuf,
    extra: PathBuf,
    mnt: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = TempDir::new_with_prefix("/tmp/pt-cli-").expect("tempdir");
    let b = tmp.as_path().to_path_buf();
    let d = Dirs {
        src: b.join("src"),
        extra: b.join("extra"),
        mnt: b.join("mnt"),
        _tmp: tmp,
    };
    for p in [&d.src, &d.extra, &d.mnt] {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(d.src.join("hello"), b"hello\n").unwrap();
    std::fs::write(d.extra.join("more"), b"more\n").unwrap();
    d
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn bad_command_lines_exit_2_with_one_line() {
    let Some(bin) = example() else {
        cannot_run("the passthrough example cannot be built");
        return;
    };
    let d = dirs();
    let file = s(&d.src.join("hello"));
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![], "no arguments"),
        (vec![s(&d.src)], "no mount point"),
        (vec!["/nonexistent/src".into(), s(&d.mnt)], "missing source"),
        (vec![file.clone(), s(&d.mnt)], "source is a file"),
        (
            vec![s(&d.src), "/nonexistent/mnt".into()],
            "missing mount point",
        ),
        (vec![s(&d.src), file], "mount point is a file"),
        (
            vec!["--cache".into(), "sometimes".into(), s(&d.src), s(&d.mnt)],
            "bad --cache",
        ),
        (
            vec!["--threads".into(), "0".into(), s(&d.src), s(&d.mnt)],
            "zero threads",
        ),
        (
            vec!["--busy-poll-us".into(), "-5".into(), s(&d.src), s(&d.mnt)],
            "negative busy poll",
        ),
        (
            vec!["--frobnicate".into(), s(&d.src), s(&d.mnt)],
            "unknown option",
        ),
        (
            vec!["--attach".into(), "/x".into(), s(&d.src), s(&d.mnt)],
            "--attach without '='",
        ),
        (
            vec![
                "--attach".into(),
                format!("/x/../y={}", s(&d.extra)),
                s(&d.src),
                s(&d.mnt),
            ],
            "--attach with '..'",
        ),
        (
            vec![
                "--attach".into(),
                "/x=/nonexistent".into(),
                s(&d.src),
                s(&d.mnt),
            ],
            "--attach of a missing directory",
        ),
        (
            vec!["--max-inodes".into(), "0".into(), s(&d.src), s(&d.mnt)],
            "zero --max-inodes",
        ),
        (
            vec![
                "--max-inodes".into(),
                "10".into(),
                "--attach".into(),
                format!("/x={}", s(&d.extra)),
                s(&d.src),
                s(&d.mnt),
            ],
            "--max-inodes with --attach",
        ),
    ];
    assert_refused(&bin, &cases, &["passthrough: "], &d.mnt);
}

#[test]
fn serves_until_sigterm_or_umount() {
    if !can_mount() {
        cannot_run("needs root and /dev/fuse");
        return;
    }
    let Some(bin) = example() else {
        cannot_run("the passthrough example cannot be built");
        return;
    };
    let d = dirs();
    let args = vec![
        "--attach".to_string(),
        format!("/extra={}", s(&d.extra)),
        s(&d.src),
        s(&d.mnt),
    ];
    let child = serve(&bin, &args, &d.mnt);
    assert_eq!(read_file(&d.mnt.join("hello")).unwrap(), b"hello\n");
    assert_eq!(read_file(&d.mnt.join("extra/more")).unwrap(), b"more\n");
    std::fs::write(d.mnt.join("new"), b"written through the mount\n").unwrap();
    assert_eq!(
        std::fs::read(d.src.join("new")).unwrap(),
        b"written through the mount\n"
    );
    terminate(&child);
    assert_eq!(wait_exit(child), Some(0), "exit status after SIGTERM");
    assert!(!is_mounted(&d.mnt), "still mounted after SIGTERM");

    // Again, ended by an external umount.
    let child = serve(&bin, &[s(&d.src), s(&d.mnt)], &d.mnt);
    assert_eq!(read_file(&d.mnt.join("new")).unwrap().len(), 26);
    nix::mount::umount2(&d.mnt, nix::mount::MntFlags::empty()).unwrap();
    assert_eq!(wait_exit(child), Some(0), "exit status after umount");
}

#[test]
fn cache_never_shows_host_changes_at_once() {
    if !can_mount() {
        cannot_run("needs root and /dev/fuse");
        return;
    }
    let Some(bin) = example() else {
        cannot_run("the passthrough example cannot be built");
        return;
    };
    let d = dirs();
    let args = vec!["--cache".to_string(), "never".into(), s(&d.src), s(&d.mnt)];
    let child = serve(&bin, &args, &d.mnt);
    let on_mount = d.mnt.join("hello");
    assert_eq!(lstat(&on_mount).unwrap().st_size, 6);
    // Changed on the host: size, contents and a new name are seen at once.
    std::fs::write(d.src.join("hello"), b"hello, world\n").unwrap();
    std::fs::write(d.src.join("added"), b"x").unwrap();
    assert_eq!(lstat(&on_mount).unwrap().st_size, 13);
    assert_eq!(read_file(&on_mount).unwrap(), b"hello, world\n");
    assert!(lstat(&d.mnt.join("added")).is_ok());
    std::fs::remove_file(d.src.join("added")).unwrap();
    assert!(lstat(&d.mnt.join("added")).is_err());
    terminate(&child);
    assert_eq!(wait_exit(child), Some(0));
}
