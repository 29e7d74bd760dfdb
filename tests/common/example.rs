//! Running an example daemon as a child process: build it, wait for its mount, wait for
//! it to exit.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(30);

/// The binary of example `name`, (re)built so that it matches the library under test,
/// with `features` enabled. Cargo does not hold its build lock while tests run, so a
/// nested build works.
pub fn example(name: &str, features: &[&str]) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let bin = exe.parent()?.parent()?.join("examples").join(name);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--example", name]);
    if !features.is_empty() {
        build.args(["--features", &features.join(",")]);
    }
    build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if std::env::var_os("CARGO_TARGET_DIR").is_none() {
        build.env("CARGO_TARGET_DIR", exe.parent()?.parent()?.parent()?);
    }
    if !build.status().map(|s| s.success()).unwrap_or(false) {
        eprintln!(
            "cannot build the {name} example; using {} as it is",
            bin.display()
        );
    }
    bin.exists().then_some(bin)
}

/// Whether something is mounted at `mnt`.
pub fn is_mounted(mnt: &Path) -> bool {
    let want = mnt.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(&*want))
}

/// Runs `bin` with `args` to completion (it must not serve), capturing its output.
pub fn run_to_exit(bin: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            let _ = child.kill();
            panic!("{} {args:?} did not exit", bin.display());
        }
        thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Asserts that `bin` refuses each command line of `cases` (arguments, description):
/// exit code 2, one line on stderr starting with one of `prefixes`, nothing mounted at
/// `mnt`.
pub fn assert_refused(bin: &Path, cases: &[(Vec<String>, &str)], prefixes: &[&str], mnt: &Path) {
    for (args, what) in cases {
        let args: Vec<&str> = args.iter().map(|a| a.as_str()).collect();
        let out = run_to_exit(bin, &args);
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
            prefixes.iter().any(|p| err.starts_with(p)),
            "{what}: {err:?}"
        );
        assert!(!is_mounted(mnt), "{what}: something was mounted");
    }
}

/// Starts `bin` with `args` and waits until it has mounted `mnt`.
pub fn serve(bin: &Path, args: &[String], mnt: &Path) -> Child {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let end = Instant::now() + PATIENCE;
    while !is_mounted(mnt) {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("{} {args:?} exited ({st}) without mounting", bin.display());
        }
        assert!(Instant::now() < end, "{} did not mount", bin.display());
        thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Waits for `child` to exit; its exit code.
pub fn wait_exit(mut child: Child) -> Option<i32> {
    let end = Instant::now() + PATIENCE;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("the daemon did not exit");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGTERM to `child`.
pub fn terminate(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
}
