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

use common::example::{assert_refused, is_mounted, serve, terminate, wait_exit};
use common::*;
use vmm_sys_util::tempdir::TempDir;

fn example() -> Option<PathBuf> {
    common::example::example("overlay", &[])
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
    assert_refused(&bin, &nested, &["overlay: ", "error"], &d.mnt);
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
    terminate(&child);
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
