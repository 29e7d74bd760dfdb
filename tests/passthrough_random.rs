//! Seeded random differential test of the passthrough driver.
//!
//! A small xorshift generator picks operations (create, write, read, truncate, rename with
//! its flags, link, unlink, mkdir, rmdir, symlink, chmod, setxattr, getxattr, removexattr,
//! readdir, stat) over a small name space, so that names collide, directories fill up and
//! empty, links come and go. Each operation runs on the mount and on a plain directory of
//! the same host filesystem; results (values or errnos) must agree. Every `CHECK_EVERY`
//! operations and at the end the whole trees are compared (names, types, modes, sizes,
//! contents, link counts, `user.*` attributes): the mount against the plain directory,
//! and the host directory behind the mount against the plain directory.
//!
//! Environment:
//! - `FUZZ_SEED=<u64>`: the seed (default fixed, so CI is reproducible). Printed on
//!   failure; rerun with it to reproduce.
//! - `RANDOM_OPS=<n>`: operations per configuration (default 3000 for the default
//!   configuration, 2000 for the others).
//!
//! Long mode, for local soak runs (each seed is a fresh mount):
//!
//! ```sh
//! for s in $(seq 1 200); do
//!   FUZZ_SEED=$s RANDOM_OPS=100000 cargo test --release --test passthrough_random || break
//! done
//! ```
//!
//! Needs root and /dev/fuse; with CI=true a test that cannot mount fails.

#![cfg(feature = "fusedev")]

mod common;

use std::collections::VecDeque;
use std::os::fd::AsRawFd;
use std::path::Path;

use common::*;
use fuse_backend_rs::passthrough::CachePolicy;

const DEFAULT_SEED: u64 = 0x5eed_f00d_2024;
const CHECK_EVERY: usize = 50;

/// Paths operations pick from: some nested in others, so directories matter. Names in
/// `DIRS` are mostly made directories, the others mostly files; any op may pick any.
const PATHS: &[&str] = &[
    "x", "y", "z", "a", "b", "a/x", "a/y", "a/c", "a/c/x", "a/c/y", "b/x", "b/y", "b/a", "b/a/x",
];
const DIRS: &[&str] = &["a", "b", "a/c", "b/a"];
const FILES: &[&str] = &[
    "x", "y", "z", "a/x", "a/y", "a/c/x", "a/c/y", "b/x", "b/y", "b/a/x",
];
const XATTRS: &[&str] = &["user.a", "user.b", "user.long_name_for_an_attribute"];

#[derive(Debug, Clone)]
enum Op {
    Create(&'static str, i32, u32),
    /// path, offset, data, append (O_APPEND|O_CREAT instead of pwrite)
    Write(&'static str, i64, Vec<u8>, bool),
    Read(&'static str, i64, usize),
    Truncate(&'static str, i64),
    Rename(&'static str, &'static str, u32),
    Link(&'static str, &'static str),
    Unlink(&'static str),
    Mkdir(&'static str, u32),
    Rmdir(&'static str),
    Symlink(String, &'static str),
    Chmod(&'static str, u32),
    SetXattr(&'static str, &'static str, Vec<u8>, i32),
    GetXattr(&'static str, &'static str),
    RemoveXattr(&'static str, &'static str),
    ListXattr(&'static str),
    Readdir(&'static str),
    Stat(&'static str),
}

/// What an operation returned, compared between the two sides.
#[derive(Debug, PartialEq, Eq)]
enum Out {
    Unit,
    Num(i64),
    Bytes(Vec<u8>),
    Names(Vec<(String, char)>),
    Strs(Vec<String>),
    Attr(Attr),
}

fn gen(rng: &mut XorShift) -> Op {
    let path = |rng: &mut XorShift| {
        if rng.chance(80) {
            *rng.pick(FILES)
        } else {
            *rng.pick(PATHS)
        }
    };
    let dir = |rng: &mut XorShift| {
        if rng.chance(80) {
            *rng.pick(DIRS)
        } else {
            *rng.pick(PATHS)
        }
    };
    match rng.below(100) {
        0..=11 => {
            let flags = *rng.pick(&[
                libc::O_CREAT,
                libc::O_CREAT | libc::O_EXCL,
                libc::O_CREAT | libc::O_TRUNC,
            ]);
            Op::Create(path(rng), flags, *rng.pick(&[0o644, 0o600, 0o755]))
        }
        12..=27 => {
            let off = rng.below(20000) as i64;
            let len = rng.below(5000) as usize;
            let append = rng.chance(25);
            Op::Write(path(rng), off, rng.bytes(len), append)
        }
        28..=35 => Op::Read(path(rng), rng.below(25000) as i64, rng.below(9000) as usize),
        36..=41 => Op::Truncate(path(rng), rng.below(30000) as i64),
        42..=51 => {
            let flags = *rng.pick(&[0, 0, 0, libc::RENAME_NOREPLACE, libc::RENAME_EXCHANGE]);
            if rng.chance(25) {
                Op::Rename(dir(rng), dir(rng), flags)
            } else {
                Op::Rename(path(rng), path(rng), flags)
            }
        }
        52..=57 => Op::Link(path(rng), path(rng)),
        58..=64 => Op::Unlink(path(rng)),
        65..=72 => Op::Mkdir(dir(rng), *rng.pick(&[0o755, 0o700, 0o777])),
        73..=77 => Op::Rmdir(dir(rng)),
        78..=79 => {
            // Relative targets without `..`: wherever a rename moves the link, they resolve
            // inside the tree, the same way on both sides (a `..` could climb out of the
            // tree, to different places for the mount and the plain directory).
            Op::Symlink(path(rng).to_string(), path(rng))
        }
        80..=81 => Op::Chmod(path(rng), *rng.pick(&[0o644, 0o600, 0o755, 0o700])),
        82..=87 => {
            let len = rng.below(300) as usize;
            let flags = *rng.pick(&[0, 0, libc::XATTR_CREATE, libc::XATTR_REPLACE]);
            Op::SetXattr(path(rng), rng.choose(XATTRS), rng.bytes(len), flags)
        }
        88..=89 => Op::GetXattr(path(rng), rng.choose(XATTRS)),
        90..=91 => Op::RemoveXattr(path(rng), rng.choose(XATTRS)),
        92 => Op::ListXattr(path(rng)),
        93..=96 => Op::Readdir(rng.choose(&["", "a", "b", "a/c", "b/a"])),
        _ => Op::Stat(path(rng)),
    }
}

fn apply(root: &Path, op: &Op) -> Res<Out> {
    let j = |rel: &str| join(root, rel);
    Ok(match op {
        Op::Create(p, flags, mode) => {
            open(&j(p), flags | libc::O_WRONLY, *mode)?;
            Out::Unit
        }
        Op::Write(p, off, data, append) => {
            let flags = if *append {
                libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT
            } else {
                libc::O_WRONLY
            };
            let fd = open(&j(p), flags, 0)?;
            let n = if *append {
                write(fd.as_raw_fd(), data)?
            } else {
                pwrite(fd.as_raw_fd(), data, *off)?
            };
            Out::Num(n as i64)
        }
        Op::Read(p, off, len) => {
            let fd = open(&j(p), libc::O_RDONLY, 0)?;
            Out::Bytes(pread(fd.as_raw_fd(), *len, *off)?)
        }
        Op::Truncate(p, len) => {
            truncate(&j(p), *len)?;
            Out::Unit
        }
        Op::Rename(a, b, flags) => {
            rename2(&j(a), &j(b), *flags)?;
            Out::Unit
        }
        Op::Link(a, b) => {
            link(&j(a), &j(b))?;
            Out::Unit
        }
        Op::Unlink(p) => {
            unlink(&j(p))?;
            Out::Unit
        }
        Op::Mkdir(p, mode) => {
            mkdir(&j(p), *mode)?;
            Out::Unit
        }
        Op::Rmdir(p) => {
            rmdir(&j(p))?;
            Out::Unit
        }
        Op::Symlink(target, p) => {
            symlink(target, &j(p))?;
            Out::Unit
        }
        Op::Chmod(p, mode) => {
            chmod(&j(p), *mode)?;
            Out::Unit
        }
        Op::SetXattr(p, name, value, flags) => {
            lsetxattr(&j(p), name, value, *flags)?;
            Out::Unit
        }
        Op::GetXattr(p, name) => Out::Bytes(lgetxattr(&j(p), name, 1000)?),
        Op::RemoveXattr(p, name) => {
            lremovexattr(&j(p), name)?;
            Out::Unit
        }
        Op::ListXattr(p) => Out::Strs(llistxattr(&j(p))?),
        Op::Readdir(p) => Out::Names(listing(&j(p))?),
        Op::Stat(p) => Out::Attr(Attr::of(&lstat(&j(p))?)),
    })
}

/// Short description of an op (without the data bytes).
fn describe(op: &Op) -> String {
    match op {
        Op::Write(p, off, data, append) => {
            format!(
                "Write({p:?}, off {off}, {} bytes, append {append})",
                data.len()
            )
        }
        Op::SetXattr(p, n, v, f) => format!("SetXattr({p:?}, {n:?}, {} bytes, flags {f})", v.len()),
        other => format!("{other:?}"),
    }
}

fn run(name: &str, opts: MountOptions, ops_default: usize, src_in_sync: bool) {
    if !nix::unistd::geteuid().is_root() {
        cannot_run("needs root");
        return;
    }
    let seed: u64 = env_num("FUZZ_SEED", DEFAULT_SEED);
    let n: usize = env_num("RANDOM_OPS", ops_default);
    let Some(m) = TestMount::new(opts) else {
        return;
    };
    eprintln!("{name}: seed {seed} (FUZZ_SEED), {n} ops (RANDOM_OPS)");
    let mut rng = XorShift::new(seed);
    let mut recent: VecDeque<String> = VecDeque::new();
    let fail = |i: usize, recent: &VecDeque<String>, what: String| -> ! {
        let history: Vec<&String> = recent.iter().collect();
        let tree = |root: &Path| {
            let mut out = String::new();
            for (k, v) in snapshot(root, false) {
                let extra = if v.kind == 'l' {
                    format!(" -> {}", String::from_utf8_lossy(&v.data))
                } else {
                    String::new()
                };
                out.push_str(&format!(
                    "  {k} {} {:o} size {} nlink {}{extra}\n",
                    v.kind,
                    v.mode & 0o7777,
                    v.size,
                    v.nlink
                ));
            }
            out
        };
        panic!(
            "{name}: FUZZ_SEED={seed} RANDOM_OPS>{i} failed at op {i}: {what}\n\
             last ops (oldest first):\n{history:#?}\nplain tree now:\n{}mount tree now:\n{}",
            tree(m.plain()),
            tree(m.mnt())
        );
    };
    let check = |i: usize, recent: &VecDeque<String>| {
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let plain = snapshot(m.plain(), true);
            assert_same_tree("mount vs plain", &snapshot(m.mnt(), true), &plain);
            if src_in_sync {
                assert_same_tree("source vs plain", &snapshot(m.src(), true), &plain);
            }
        }));
        if let Err(e) = res {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            fail(i, recent, format!("tree check: {msg}"));
        }
    };
    // (kind, ok) -> count, printed at the end to show what the run exercised.
    let mut stats: std::collections::BTreeMap<(String, bool), usize> = Default::default();
    let mut max_nodes = 0;
    for i in 0..n {
        let op = gen(&mut rng);
        if recent.len() == 20 {
            recent.pop_front();
        }
        recent.push_back(format!("#{i} {}", describe(&op)));
        let a = apply(m.mnt(), &op);
        let b = apply(m.plain(), &op);
        if a != b {
            let show = |r: &Res<Out>| match r {
                Ok(o) => format!("{o:?}"),
                Err(e) => errname(*e),
            };
            fail(
                i,
                &recent,
                format!("mount gave {}, host gave {}", show(&a), show(&b)),
            );
        }
        let kind = describe(&op)
            .split('(')
            .next()
            .unwrap_or_default()
            .to_string();
        *stats.entry((kind, a.is_ok())).or_default() += 1;
        if (i + 1) % CHECK_EVERY == 0 {
            check(i, &recent);
            max_nodes = max_nodes.max(snapshot(m.plain(), false).len());
        }
    }
    check(n, &recent);
    let summary: Vec<String> = stats
        .iter()
        .map(|((k, ok), c)| format!("{k}:{}={c}", if *ok { "ok" } else { "err" }))
        .collect();
    eprintln!("{name}: up to {max_nodes} nodes; {}", summary.join(" "));
    m.finish();
}

#[test]
fn random_ops_match_host() {
    run("default", MountOptions::default().xattr(true), 3000, true);
}

#[test]
fn random_ops_match_host_with_file_handles_and_no_cache() {
    let mut opts = MountOptions::default()
        .xattr(true)
        .file_handles(true)
        .threads(3);
    opts.cfg.cache_policy = CachePolicy::Never;
    run("handles+never", opts, 2000, true);
}

#[test]
fn random_ops_match_host_with_writeback_cache() {
    let mut opts = MountOptions::default().xattr(true);
    opts.cfg.cache_policy = CachePolicy::Always;
    opts.cfg.writeback = true;
    // The host catches up with the client's page cache only on writeback, so only the
    // mount is compared with the plain directory.
    run("always+writeback", opts, 2000, false);
}
