//! Set-user-ID and set-group-ID bits on a passthrough mount, compared with the host.
//!
//! The daemon runs as root, so the host kernel never clears these bits for it: every
//! clearing the kernel does for an unprivileged caller on a local filesystem (xfstests
//! generic/375 and 683-685) has to be done by the driver. Each case runs the same system
//! call as an unprivileged uid in a forked child (no supplementary groups, not in the
//! file's group) on the mount and on a plain directory, and compares the resulting modes.
//! The plain directory's filesystem is the oracle.
//!
//! Needs root and /dev/fuse. Outside CI a test that cannot mount prints "skipping: ..." and
//! returns; with CI=true it fails.

#![cfg(feature = "fusedev")]

mod common;

use std::ffi::CString;
use std::path::Path;

use common::*;

/// The unprivileged caller: not in group 0, which owns the test files.
const USER: u32 = 1000;

/// What the child does, as [`USER`], to the file under test.
#[derive(Clone, Copy, Debug)]
enum Op {
    Write,
    Ftruncate,
    OpenTrunc,
    Fallocate,
    FallocateKeepSize,
    PunchHole,
    ZeroRange,
    CopyFileRange,
    Chmod(u32),
    ChownGroup(u32),
    SetAcl,
}

/// A `system.posix_acl_access` value that is not equivalent to a mode: owner rw-,
/// user 1001 r--, group r-x, mask r-x, other r-x.
fn acl_value() -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 6u16, u32::MAX),
        (0x02, 4, 1001),
        (0x04, 5, u32::MAX),
        (0x10, 5, u32::MAX),
        (0x20, 5, u32::MAX),
    ] {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

/// The body of the child: returns 0 or the errno of the first failing call.
///
/// # Safety
/// Runs in a freshly forked child: only raw system calls, no allocation.
unsafe fn child_op(path: &CString, src: &CString, acl: &[u8], op: Op) -> i32 {
    // SAFETY: plain system calls; the rest is do_op's.
    unsafe {
        // Raw calls: they change this (only) thread, and skip glibc's cross-thread setxid.
        if libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) < 0
            || libc::syscall(libc::SYS_setresgid, USER, USER, USER) < 0
            || libc::syscall(libc::SYS_setresuid, USER, USER, USER) < 0
        {
            return *libc::__errno_location();
        }
        do_op(path, src, acl, op)
    }
}

/// Runs `op` on `path`: returns 0 or the errno of the first failing call. Leaks the
/// descriptors it opens (the caller exits, or they are few).
///
/// # Safety
/// Async-signal-safe: only raw system calls, no allocation.
unsafe fn do_op(path: &CString, src: &CString, acl: &[u8], op: Op) -> i32 {
    // SAFETY: plain system calls on valid C strings and buffers owned by the caller.
    unsafe {
        let fail = || *libc::__errno_location();
        let r = match op {
            Op::Chmod(mode) => libc::chmod(path.as_ptr(), mode),
            Op::ChownGroup(gid) => libc::chown(path.as_ptr(), u32::MAX, gid),
            Op::SetAcl => libc::setxattr(
                path.as_ptr(),
                c"system.posix_acl_access".as_ptr(),
                acl.as_ptr().cast(),
                acl.len(),
                0,
            ),
            Op::OpenTrunc => {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_TRUNC);
                if fd >= 0 {
                    libc::close(fd);
                }
                fd
            }
            _ => {
                let fd = libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
                if fd < 0 {
                    return fail();
                }
                let r = match op {
                    Op::Write => libc::pwrite(fd, b"xyz".as_ptr().cast(), 3, 100) as i32,
                    Op::Ftruncate => libc::ftruncate(fd, 100),
                    Op::Fallocate => libc::fallocate(fd, 0, 0, 65536),
                    Op::FallocateKeepSize => {
                        libc::fallocate(fd, libc::FALLOC_FL_KEEP_SIZE, 0, 65536)
                    }
                    Op::PunchHole => libc::fallocate(
                        fd,
                        libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                        0,
                        4096,
                    ),
                    Op::ZeroRange => libc::fallocate(fd, libc::FALLOC_FL_ZERO_RANGE, 0, 4096),
                    Op::CopyFileRange => {
                        let s = libc::open(src.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                        if s < 0 {
                            return fail();
                        }
                        let mut off_in: i64 = 0;
                        let mut off_out: i64 = 0;
                        let r = libc::copy_file_range(s, &mut off_in, fd, &mut off_out, 4096, 0);
                        libc::close(s);
                        r as i32
                    }
                    _ => unreachable!(),
                };
                libc::close(fd);
                r
            }
        };
        if r < 0 {
            fail()
        } else {
            0
        }
    }
}

/// Forks; the child switches to [`USER`] (group [`USER`], no supplementary groups), runs
/// `op` on `path` and exits with 0 or the errno.
fn as_user(path: &Path, src: &Path, op: Op) -> i32 {
    let path = cpath(path);
    let src = cpath(src);
    let acl = acl_value();
    let _g = fork_guard();
    // SAFETY: the child only makes raw system calls and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: see child_op; _exit never returns.
        unsafe { libc::_exit(child_op(&path, &src, &acl, op)) }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status), "child of {op:?} did not exit");
    libc::WEXITSTATUS(status)
}

/// Runs `op` as this (root) process; returns 0 or the errno.
fn as_root(path: &Path, src: &Path, op: Op) -> i32 {
    let path = cpath(path);
    let src = cpath(src);
    let acl = acl_value();
    // SAFETY: plain system calls on valid buffers, in this process and with its credentials.
    unsafe { do_op(&path, &src, &acl, op) }
}

/// Makes `rel` (8 KiB of data) owned by `uid`:`gid` with `mode`.
fn make_file(root: &Path, rel: &str, (uid, gid): (u32, u32), mode: u32) {
    let p = join(root, rel);
    std::fs::write(&p, vec![7u8; 8192]).unwrap();
    chown(&p, uid, gid).unwrap();
    chmod(&p, mode).unwrap();
}

/// Runs `op` as `caller` (root: in this process; otherwise [`USER`], in a child) on a
/// fresh file owned by `owner` with `mode`, on the mount and on the plain directory;
/// returns the modes after it: (mount, plain, the host file behind the mount). Both calls
/// must have had the same result.
fn run_case(m: &TestMount, name: &str, c: &Case) -> (u32, u32, u32) {
    let Case {
        caller,
        owner,
        mode,
        op,
    } = *c;
    let pr = m.pair();
    for root in [&pr.m, &pr.p] {
        make_file(root, name, owner, mode);
        let src = join(root, "copy-src");
        if !src.exists() {
            std::fs::write(&src, vec![1u8; 8192]).unwrap();
            chmod(&src, 0o644).unwrap();
        }
    }
    let run = |root: &Path| {
        let (p, src) = (join(root, name), join(root, "copy-src"));
        if caller == 0 {
            as_root(&p, &src, op)
        } else {
            as_user(&p, &src, op)
        }
    };
    let (a, b) = (run(&pr.m), run(&pr.p));
    assert_eq!(
        a,
        b,
        "{op:?} on a {mode:o} file owned by {owner:?}: mount (left) vs host, errnos {} vs {}",
        errname(a),
        errname(b)
    );
    let mode_of = |p: &Path| stat(p).unwrap().st_mode & 0o7777;
    (
        mode_of(&join(&pr.m, name)),
        mode_of(&join(&pr.p, name)),
        mode_of(&join(m.src(), name)),
    )
}

fn mount(killpriv_v2: bool) -> Option<TestMount> {
    let mut opts = MountOptions::default()
        .xattr(true)
        .allow_other(true)
        .default_permissions(true);
    opts.cfg.killpriv_v2 = killpriv_v2;
    TestMount::new(opts)
}

/// One case: who runs `op` on a file of which owner and mode.
#[derive(Clone, Copy, Debug)]
struct Case {
    caller: u32,
    owner: (u32, u32),
    mode: u32,
    op: Op,
}

/// Every case.
fn cases() -> Vec<Case> {
    let data_ops = [
        Op::Write,
        Op::Ftruncate,
        Op::OpenTrunc,
        Op::Fallocate,
        Op::FallocateKeepSize,
        Op::PunchHole,
        Op::ZeroRange,
        Op::CopyFileRange,
    ];
    let mut v = Vec::new();
    let case = |caller, owner, mode, op| Case {
        caller,
        owner,
        mode,
        op,
    };
    for op in data_ops {
        // Changed by a caller that does not own the file and is not in its group:
        // non-exec (generic/683 test 1), group-exec, user-exec, all-exec.
        for mode in [0o6666, 0o6676, 0o6766, 0o6777] {
            v.push(case(USER, (0, 0), mode, op));
        }
        // By a caller in the file's group: set-group-ID stays without group execute.
        v.push(case(USER, (0, USER), 0o6666, op));
        v.push(case(USER, (0, USER), 0o6676, op));
        // By root (CAP_FSETID): nothing is cleared.
        v.push(case(0, (USER, USER), 0o6777, op));
    }
    // The owner, not in the file's group.
    v.push(case(USER, (USER, 0), 0o2755, Op::Chmod(0o2755)));
    v.push(case(USER, (USER, 0), 0o0755, Op::Chmod(0o6755)));
    v.push(case(USER, (USER, 0), 0o6755, Op::ChownGroup(USER)));
    v.push(case(USER, (USER, 0), 0o6745, Op::ChownGroup(USER)));
    v.push(case(USER, (USER, 0), 0o2775, Op::SetAcl));
    v.push(case(USER, (USER, 0), 0o2765, Op::SetAcl));
    // The owner, in the file's group; and root.
    v.push(case(USER, (USER, USER), 0o0755, Op::Chmod(0o6755)));
    v.push(case(USER, (USER, USER), 0o2765, Op::SetAcl));
    v.push(case(0, (USER, 0), 0o2765, Op::SetAcl));
    v.push(case(0, (USER, 0), 0o6745, Op::ChownGroup(USER)));
    v
}

fn check_all(killpriv_v2: bool) {
    let Some(m) = mount(killpriv_v2) else {
        return;
    };
    let mut bad = Vec::new();
    for (i, c) in cases().iter().enumerate() {
        let (mnt, plain, src) = run_case(&m, &format!("f{i}"), c);
        if mnt != plain || src != plain {
            bad.push(format!(
                "{:?} as uid {} on a {:04o} file owned by {:?}: mount {mnt:04o}, host behind \
                 it {src:04o}, plain directory {plain:04o}",
                c.op, c.caller, c.mode, c.owner
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "killpriv_v2={killpriv_v2}: modes differ from the plain directory:\n{}",
        bad.join("\n")
    );
    m.finish();
}

#[test]
fn unprivileged_callers_clear_setid_bits_like_the_host() {
    check_all(false);
}

#[test]
fn unprivileged_callers_clear_setid_bits_like_the_host_killpriv_v2() {
    check_all(true);
}
