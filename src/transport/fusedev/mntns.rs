//! Running mount and unmount in another process's mount namespace.
//!
//! `setns(2)` into a mount namespace changes the namespace of the calling thread only,
//! and only of a thread that does not share its filesystem attributes (CLONE_FS) with
//! others. So the work runs on a short-lived helper thread that first unshares CLONE_FS,
//! then joins the namespace of `/proc/<pid>/ns/mnt`. Children it spawns (`fusermount3`)
//! start in that namespace too. The calling thread is never moved.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Runs `f` in the mount namespace of `pid`, or on the calling thread when `pid` is
/// `None`.
///
/// # Errors
/// The error of opening `/proc/<pid>/ns/mnt` (ENOENT: no such process), of `unshare` or
/// of `setns` (EPERM without CAP_SYS_ADMIN), or `f`'s.
pub(super) fn in_mount_ns<T, F>(pid: Option<libc::pid_t>, f: F) -> io::Result<T>
where
    T: Send,
    F: FnOnce() -> io::Result<T> + Send,
{
    let Some(pid) = pid else {
        return f();
    };
    let ns = File::open(format!("/proc/{pid}/ns/mnt"))?;
    std::thread::scope(|s| {
        s.spawn(move || {
            crate::sys::unshare(libc::CLONE_FS)?;
            // SAFETY: setns takes a descriptor (open for the call: `ns` lives until the
            // end of this closure) and a flag; it reads no memory of ours.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNS) } < 0 {
                return Err(io::Error::last_os_error());
            }
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}
