//! Thin wrappers around the raw Linux system calls the drivers need.
//!
//! This is the only module of the drivers' side of the crate that calls `libc` directly.
//! Every wrapper takes borrowed file descriptors and C strings, returns owned descriptors
//! (always opened with `O_CLOEXEC`), and reports failures as `io::Error`s carrying the
//! errno, so drivers can pass them to the client unchanged. Names follow the system calls.
//!
//! Wrappers that change per-thread credentials (`setfsuid`, `setfsgid`, `setgroups`) use
//! the raw system call on purpose: glibc's wrappers broadcast the change to every thread of
//! the process, which would let one request's credentials leak into other requests.

use crate::errno::err;
use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// Turns a `-1`-on-error return value into an `io::Result`.
fn cvt<T: Copy + PartialOrd + Default>(ret: T) -> io::Result<T> {
    if ret < T::default() {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Retries `f` while it fails with EINTR.
fn retry<T: Copy + PartialOrd + Default>(mut f: impl FnMut() -> T) -> io::Result<T> {
    loop {
        match cvt(f()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Wraps a freshly returned descriptor number.
fn owned(fd: libc::c_int) -> OwnedFd {
    // SAFETY: callers pass only a non-negative descriptor just returned by the kernel,
    // which nothing else owns yet; the OwnedFd becomes its only owner.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// `openat(2)`; `O_CLOEXEC` is always added.
pub(crate) fn openat(
    dir: BorrowedFd<'_>,
    path: &CStr,
    flags: libc::c_int,
    mode: libc::mode_t,
) -> io::Result<OwnedFd> {
    let fd = retry(|| {
        // SAFETY: `path` is a valid NUL-terminated string and `dir` a valid descriptor,
        // both borrowed for the duration of the call; the kernel does not keep them.
        unsafe {
            libc::openat(
                dir.as_raw_fd(),
                path.as_ptr(),
                flags | libc::O_CLOEXEC,
                mode as libc::c_uint,
            )
        }
    })?;
    Ok(owned(fd))
}

/// `open(2)` relative to the current directory (for configured paths only, never for
/// names received from a client); `O_CLOEXEC` is always added.
pub(crate) fn open(path: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    let fd = retry(|| {
        // SAFETY: `path` is a valid NUL-terminated string borrowed for the call.
        unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) }
    })?;
    Ok(owned(fd))
}

/// An all-zero `stat64` (every field is an integer, so this is a valid value).
pub(crate) fn zeroed_stat64() -> libc::stat64 {
    // SAFETY: `stat64` consists only of integer fields; all-zero bytes are a valid value.
    unsafe { MaybeUninit::<libc::stat64>::zeroed().assume_init() }
}

/// `fstatat64(2)`.
pub(crate) fn fstatat64(
    dir: BorrowedFd<'_>,
    path: &CStr,
    flags: libc::c_int,
) -> io::Result<libc::stat64> {
    let mut st = MaybeUninit::<libc::stat64>::zeroed();
    // SAFETY: `st` is valid for writes of a whole `stat64`; `path` and `dir` are valid for
    // the call.
    cvt(unsafe { libc::fstatat64(dir.as_raw_fd(), path.as_ptr(), st.as_mut_ptr(), flags) })?;
    // SAFETY: the call succeeded, so the kernel filled in the struct (and it was zeroed
    // before, so every byte is initialised in any case).
    Ok(unsafe { st.assume_init() })
}

/// `fstat` of any descriptor, including `O_PATH` ones, without following a symlink.
pub(crate) fn fstat64(fd: BorrowedFd<'_>) -> io::Result<libc::stat64> {
    fstatat64(fd, c"", libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW)
}

/// `statx(2)`.
pub(crate) fn statx(
    dir: BorrowedFd<'_>,
    path: &CStr,
    flags: libc::c_int,
    mask: libc::c_uint,
) -> io::Result<libc::statx> {
    let mut stx = MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: `stx` is valid for writes of a whole `statx`; `path` and `dir` are valid for
    // the call. The raw system call is used so that an old libc without a wrapper works.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_statx,
            dir.as_raw_fd(),
            path.as_ptr(),
            flags,
            mask,
            stx.as_mut_ptr(),
        )
    };
    cvt(ret)?;
    // SAFETY: zero-initialised before the call and filled by the kernel on success.
    Ok(unsafe { stx.assume_init() })
}

/// Converts the basic fields of a `statx` into a `stat64`.
pub(crate) fn stat64_from_statx(stx: &libc::statx) -> libc::stat64 {
    let mut st = zeroed_stat64();
    st.st_dev = libc::makedev(stx.stx_dev_major, stx.stx_dev_minor);
    st.st_ino = stx.stx_ino;
    st.st_mode = stx.stx_mode as libc::mode_t;
    st.st_nlink = stx.stx_nlink as _;
    st.st_uid = stx.stx_uid;
    st.st_gid = stx.stx_gid;
    st.st_rdev = libc::makedev(stx.stx_rdev_major, stx.stx_rdev_minor);
    st.st_size = stx.stx_size as _;
    st.st_blksize = stx.stx_blksize as _;
    st.st_blocks = stx.stx_blocks as _;
    st.st_atime = stx.stx_atime.tv_sec;
    st.st_atime_nsec = stx.stx_atime.tv_nsec as _;
    st.st_mtime = stx.stx_mtime.tv_sec;
    st.st_mtime_nsec = stx.stx_mtime.tv_nsec as _;
    st.st_ctime = stx.stx_ctime.tv_sec;
    st.st_ctime_nsec = stx.stx_ctime.tv_nsec as _;
    st
}

/// Storage for a `struct file_handle` of the largest size the kernel hands out.
#[repr(C)]
struct RawFileHandle {
    handle_bytes: libc::c_uint,
    handle_type: libc::c_int,
    f_handle: [u8; libc::MAX_HANDLE_SZ as usize],
}

/// `name_to_handle_at(2)`: returns `(handle_type, handle bytes, mount id)`.
pub(crate) fn name_to_handle_at(
    dir: BorrowedFd<'_>,
    path: &CStr,
    flags: libc::c_int,
) -> io::Result<(libc::c_int, Vec<u8>, libc::c_int)> {
    let mut fh = RawFileHandle {
        handle_bytes: libc::MAX_HANDLE_SZ as libc::c_uint,
        handle_type: 0,
        f_handle: [0; libc::MAX_HANDLE_SZ as usize],
    };
    let mut mount_id: libc::c_int = 0;
    // SAFETY: `fh` is a `struct file_handle` header followed by MAX_HANDLE_SZ bytes, as
    // announced in `handle_bytes`, so the kernel writes within it; `mount_id` is valid for
    // writes; `path` and `dir` are valid for the call.
    cvt(unsafe {
        libc::name_to_handle_at(
            dir.as_raw_fd(),
            path.as_ptr(),
            (&mut fh as *mut RawFileHandle).cast::<libc::file_handle>(),
            &mut mount_id,
            flags,
        )
    })?;
    let len = (fh.handle_bytes as usize).min(fh.f_handle.len());
    Ok((fh.handle_type, fh.f_handle[..len].to_vec(), mount_id))
}

/// `open_by_handle_at(2)` of a handle returned by [`name_to_handle_at`]; `O_CLOEXEC` is
/// always added.
pub(crate) fn open_by_handle_at(
    mount_fd: BorrowedFd<'_>,
    handle_type: libc::c_int,
    handle: &[u8],
    flags: libc::c_int,
) -> io::Result<OwnedFd> {
    if handle.len() > libc::MAX_HANDLE_SZ as usize {
        return Err(err(libc::EINVAL));
    }
    let mut fh = RawFileHandle {
        handle_bytes: handle.len() as libc::c_uint,
        handle_type,
        f_handle: [0; libc::MAX_HANDLE_SZ as usize],
    };
    fh.f_handle[..handle.len()].copy_from_slice(handle);
    let fd = retry(|| {
        // SAFETY: `fh` is a well-formed `struct file_handle` whose `handle_bytes` does not
        // exceed the bytes that follow it; the kernel only reads it.
        unsafe {
            libc::open_by_handle_at(
                mount_fd.as_raw_fd(),
                (&mut fh as *mut RawFileHandle).cast::<libc::file_handle>(),
                flags | libc::O_CLOEXEC,
            )
        }
    })?;
    Ok(owned(fd))
}

/// `renameat2(2)`.
pub(crate) fn renameat2(
    olddir: BorrowedFd<'_>,
    oldname: &CStr,
    newdir: BorrowedFd<'_>,
    newname: &CStr,
    flags: libc::c_uint,
) -> io::Result<()> {
    // SAFETY: the names are valid NUL-terminated strings and the descriptors valid, all
    // borrowed for the call. The raw system call avoids depending on a libc wrapper.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            olddir.as_raw_fd(),
            oldname.as_ptr(),
            newdir.as_raw_fd(),
            newname.as_ptr(),
            flags,
        )
    })?;
    Ok(())
}

/// `fchownat(2)`; `u32::MAX` leaves an ID unchanged.
pub(crate) fn fchownat(
    dir: BorrowedFd<'_>,
    path: &CStr,
    uid: libc::uid_t,
    gid: libc::gid_t,
    flags: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `path` and `dir` are valid for the call.
    cvt(unsafe { libc::fchownat(dir.as_raw_fd(), path.as_ptr(), uid, gid, flags) })?;
    Ok(())
}

/// `fchmod(2)`.
pub(crate) fn fchmod(fd: BorrowedFd<'_>, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: plain integer arguments; `fd` is valid for the call.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode) })?;
    Ok(())
}

/// `fchmodat(2)`.
pub(crate) fn fchmodat(
    dir: BorrowedFd<'_>,
    path: &CStr,
    mode: libc::mode_t,
    flags: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `path` and `dir` are valid for the call.
    cvt(unsafe { libc::fchmodat(dir.as_raw_fd(), path.as_ptr(), mode, flags) })?;
    Ok(())
}

/// `utimensat(2)`.
pub(crate) fn utimensat(
    dir: BorrowedFd<'_>,
    path: &CStr,
    times: &[libc::timespec; 2],
    flags: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `times` points at two timespecs as required; `path` and `dir` are valid.
    cvt(unsafe { libc::utimensat(dir.as_raw_fd(), path.as_ptr(), times.as_ptr(), flags) })?;
    Ok(())
}

/// `futimens(3)`.
pub(crate) fn futimens(fd: BorrowedFd<'_>, times: &[libc::timespec; 2]) -> io::Result<()> {
    // SAFETY: `times` points at two timespecs as required; `fd` is valid.
    cvt(unsafe { libc::futimens(fd.as_raw_fd(), times.as_ptr()) })?;
    Ok(())
}

/// `getdents64(2)`: fills `buf` with `struct linux_dirent64` records; returns the bytes
/// used (0 at the end of the directory).
pub(crate) fn getdents64(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    let n = retry(|| {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes, which the kernel does not
        // exceed.
        unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        }
    })?;
    Ok(n as usize)
}

/// `lseek64(2)`.
pub(crate) fn lseek64(fd: BorrowedFd<'_>, offset: i64, whence: libc::c_int) -> io::Result<u64> {
    // SAFETY: plain integer arguments.
    let off = cvt(unsafe { libc::lseek64(fd.as_raw_fd(), offset, whence) })?;
    Ok(off as u64)
}

/// `setfsuid(2)` of the calling thread; returns the previous fsuid. Passing `u32::MAX`
/// only queries.
pub(crate) fn setfsuid(uid: libc::uid_t) -> libc::uid_t {
    // SAFETY: plain integer argument; affects only the calling thread's credentials.
    unsafe { libc::syscall(libc::SYS_setfsuid, uid) as libc::uid_t }
}

/// `setfsgid(2)` of the calling thread; returns the previous fsgid.
pub(crate) fn setfsgid(gid: libc::gid_t) -> libc::gid_t {
    // SAFETY: plain integer argument; affects only the calling thread's credentials.
    unsafe { libc::syscall(libc::SYS_setfsgid, gid) as libc::gid_t }
}

/// The effective user ID of the process.
pub(crate) fn geteuid() -> libc::uid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::geteuid() }
}

/// The supplementary groups of the calling thread.
pub(crate) fn getgroups() -> io::Result<Vec<libc::gid_t>> {
    // SAFETY: with size 0 the kernel only returns the number of groups.
    let n = cvt(unsafe { libc::syscall(libc::SYS_getgroups, 0, std::ptr::null_mut::<u32>()) })?;
    let mut groups = vec![0 as libc::gid_t; n as usize];
    // SAFETY: `groups` is valid for writes of `groups.len()` gids.
    let n = cvt(unsafe {
        libc::syscall(
            libc::SYS_getgroups,
            groups.len() as libc::c_int,
            groups.as_mut_ptr(),
        )
    })?;
    groups.truncate(n as usize);
    Ok(groups)
}

/// `setgroups(2)` of the calling thread only (the raw system call; see the module docs).
pub(crate) fn setgroups(groups: &[libc::gid_t]) -> io::Result<()> {
    // SAFETY: `groups` is valid for reads of `groups.len()` gids.
    cvt(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })?;
    Ok(())
}

/// `unshare(2)`.
pub(crate) fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: plain integer argument.
    cvt(unsafe { libc::unshare(flags) })?;
    Ok(())
}

/// `umask(2)`; returns the previous mask.
pub(crate) fn umask(mask: libc::mode_t) -> libc::mode_t {
    // SAFETY: plain integer argument, cannot fail.
    unsafe { libc::umask(mask) }
}

/// `mknodat(2)`.
pub(crate) fn mknodat(
    dir: BorrowedFd<'_>,
    path: &CStr,
    mode: libc::mode_t,
    dev: libc::dev_t,
) -> io::Result<()> {
    // SAFETY: `path` and `dir` are valid for the call.
    cvt(unsafe { libc::mknodat(dir.as_raw_fd(), path.as_ptr(), mode, dev) })?;
    Ok(())
}

/// `mkdirat(2)`.
pub(crate) fn mkdirat(dir: BorrowedFd<'_>, path: &CStr, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: `path` and `dir` are valid for the call.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), path.as_ptr(), mode) })?;
    Ok(())
}

/// `symlinkat(2)`: creates `path` in `dir` pointing at `target` (never resolved here).
pub(crate) fn symlinkat(target: &CStr, dir: BorrowedFd<'_>, path: &CStr) -> io::Result<()> {
    // SAFETY: both strings and `dir` are valid for the call.
    cvt(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), path.as_ptr()) })?;
    Ok(())
}

/// `unlinkat(2)`.
pub(crate) fn unlinkat(dir: BorrowedFd<'_>, path: &CStr, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: `path` and `dir` are valid for the call.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), path.as_ptr(), flags) })?;
    Ok(())
}

/// `linkat(2)`.
pub(crate) fn linkat(
    olddir: BorrowedFd<'_>,
    oldpath: &CStr,
    newdir: BorrowedFd<'_>,
    newpath: &CStr,
    flags: libc::c_int,
) -> io::Result<()> {
    // SAFETY: both strings and descriptors are valid for the call.
    cvt(unsafe {
        libc::linkat(
            olddir.as_raw_fd(),
            oldpath.as_ptr(),
            newdir.as_raw_fd(),
            newpath.as_ptr(),
            flags,
        )
    })?;
    Ok(())
}

/// `readlinkat(2)`: returns the number of bytes placed in `buf` (not NUL-terminated).
pub(crate) fn readlinkat(dir: BorrowedFd<'_>, path: &CStr, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; `path` and `dir` are valid.
    let n = cvt(unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            path.as_ptr(),
            buf.as_mut_ptr().cast::<libc::c_char>(),
            buf.len(),
        )
    })?;
    Ok(n as usize)
}

/// `getxattr(2)` (follows a final symlink; callers pass `/proc/self/fd/N` paths). With an
/// empty `buf`, returns the value's size.
pub(crate) fn getxattr(path: &CStr, name: &CStr, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes (with length 0 the kernel
    // does not touch it); the strings are valid for the call.
    let n = cvt(unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            buf.as_mut_ptr().cast::<libc::c_void>(),
            buf.len(),
        )
    })?;
    Ok(n as usize)
}

/// `setxattr(2)`.
pub(crate) fn setxattr(
    path: &CStr,
    name: &CStr,
    value: &[u8],
    flags: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` is valid for reads of `value.len()` bytes; the strings are valid.
    cvt(unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast::<libc::c_void>(),
            value.len(),
            flags,
        )
    })?;
    Ok(())
}

/// `listxattr(2)`. With an empty `buf`, returns the list's size.
pub(crate) fn listxattr(path: &CStr, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; `path` is valid.
    let n = cvt(unsafe {
        libc::listxattr(
            path.as_ptr(),
            buf.as_mut_ptr().cast::<libc::c_char>(),
            buf.len(),
        )
    })?;
    Ok(n as usize)
}

/// `removexattr(2)`.
pub(crate) fn removexattr(path: &CStr, name: &CStr) -> io::Result<()> {
    // SAFETY: the strings are valid for the call.
    cvt(unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) })?;
    Ok(())
}

/// `fstatvfs64(3)`.
pub(crate) fn fstatvfs64(fd: BorrowedFd<'_>) -> io::Result<libc::statvfs64> {
    let mut st = MaybeUninit::<libc::statvfs64>::zeroed();
    // SAFETY: `st` is valid for writes of a whole `statvfs64`.
    cvt(unsafe { libc::fstatvfs64(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: zero-initialised before the call and filled in on success.
    Ok(unsafe { st.assume_init() })
}

/// `syncfs(2)`.
pub(crate) fn syncfs(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: plain integer argument.
    cvt(unsafe { libc::syncfs(fd.as_raw_fd()) })?;
    Ok(())
}

/// `fallocate64(2)`.
pub(crate) fn fallocate64(
    fd: BorrowedFd<'_>,
    mode: libc::c_int,
    offset: i64,
    len: i64,
) -> io::Result<()> {
    retry(|| {
        // SAFETY: plain integer arguments.
        unsafe { libc::fallocate64(fd.as_raw_fd(), mode, offset, len) }
    })?;
    Ok(())
}

/// `copy_file_range(2)` between explicit offsets; returns the bytes copied.
pub(crate) fn copy_file_range(
    fd_in: BorrowedFd<'_>,
    off_in: i64,
    fd_out: BorrowedFd<'_>,
    off_out: i64,
    len: usize,
    flags: libc::c_uint,
) -> io::Result<usize> {
    let mut off_in = off_in;
    let mut off_out = off_out;
    // SAFETY: both offsets are valid for reads and writes for the call; the descriptors
    // are valid. The raw system call avoids depending on a libc wrapper.
    let n = cvt(unsafe {
        libc::syscall(
            libc::SYS_copy_file_range,
            fd_in.as_raw_fd(),
            &mut off_in as *mut i64,
            fd_out.as_raw_fd(),
            &mut off_out as *mut i64,
            len,
            flags,
        )
    })?;
    Ok(n as usize)
}

/// `fcntl(2)` with one of the open-file-description lock commands (`F_OFD_GETLK`,
/// `F_OFD_SETLK`, `F_OFD_SETLKW`).
pub(crate) fn fcntl_ofd_lock(
    fd: BorrowedFd<'_>,
    cmd: libc::c_int,
    lock: &mut libc::flock64,
) -> io::Result<()> {
    if ![libc::F_OFD_GETLK, libc::F_OFD_SETLK, libc::F_OFD_SETLKW].contains(&cmd) {
        return Err(err(libc::EINVAL));
    }
    // SAFETY: `cmd` is a lock command, for which the third argument is a pointer to a
    // `flock64` that is valid for reads and writes during the call.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), cmd, lock as *mut libc::flock64) })?;
    Ok(())
}

/// `fcntl(fd, F_GETFL)`: the access mode and status flags of the open file.
#[cfg(feature = "persist")]
pub(crate) fn fcntl_getfl(fd: BorrowedFd<'_>) -> io::Result<libc::c_int> {
    // SAFETY: F_GETFL takes no argument and writes no memory; `fd` is open for the borrow.
    cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })
}

/// `flock(2)`.
pub(crate) fn flock(fd: BorrowedFd<'_>, operation: libc::c_int) -> io::Result<()> {
    // SAFETY: plain integer arguments.
    cvt(unsafe { libc::flock(fd.as_raw_fd(), operation) })?;
    Ok(())
}

/// `faccessat2(2)` (honours `AT_EACCESS` and `AT_EMPTY_PATH`, unlike the old `faccessat`).
pub(crate) fn faccessat2(
    dir: BorrowedFd<'_>,
    path: &CStr,
    mode: libc::c_int,
    flags: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `path` and `dir` are valid for the call.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_faccessat2,
            dir.as_raw_fd(),
            path.as_ptr(),
            mode,
            flags,
        )
    })?;
    Ok(())
}

/// Adds `fd` to the epoll instance `epfd` with `events` and `data` (EPOLL_CTL_ADD).
#[cfg(feature = "fusedev")]
pub(crate) fn epoll_add(
    epfd: BorrowedFd<'_>,
    fd: BorrowedFd<'_>,
    events: libc::c_int,
    data: u64,
) -> io::Result<()> {
    let mut event = libc::epoll_event {
        events: events as u32,
        u64: data,
    };
    // SAFETY: both descriptors are borrowed, so open for the call; `event` is a valid
    // epoll_event the kernel only reads.
    cvt(unsafe {
        libc::epoll_ctl(
            epfd.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            &mut event,
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn handle_roundtrip_and_stat() {
        let dir = vmm_sys_util::tempdir::TempDir::new().unwrap();
        let path = std::ffi::CString::new(dir.as_path().to_str().unwrap()).unwrap();
        let fd = open(&path, libc::O_PATH | libc::O_DIRECTORY).unwrap();
        let st = fstat64(fd.as_fd()).unwrap();
        let stx = statx(
            fd.as_fd(),
            c"",
            libc::AT_EMPTY_PATH,
            libc::STATX_BASIC_STATS,
        )
        .unwrap();
        let st2 = stat64_from_statx(&stx);
        assert_eq!(st.st_ino, st2.st_ino);
        assert_eq!(st.st_dev, st2.st_dev);
        let (ty, h, _mnt) = match name_to_handle_at(fd.as_fd(), c"", libc::AT_EMPTY_PATH) {
            Ok(got) => got,
            Err(e) => {
                crate::cannot_run(format!("no file handles in the temporary directory: {e}"));
                return;
            }
        };
        // The mount descriptor must not be O_PATH.
        let mfd = open(&path, libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
        assert_eq!(
            open_by_handle_at(fd.as_fd(), ty, &h, libc::O_PATH)
                .unwrap_err()
                .raw_os_error(),
            Some(libc::EBADF)
        );
        let fd2 = match open_by_handle_at(mfd.as_fd(), ty, &h, libc::O_PATH) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                crate::cannot_run("open_by_handle_at needs CAP_DAC_READ_SEARCH");
                return;
            }
            r => r.unwrap(),
        };
        assert_eq!(fstat64(fd2.as_fd()).unwrap().st_ino, st.st_ino);
    }

    #[test]
    fn fsuid_is_per_call_restorable() {
        let old = setfsuid(u32::MAX);
        assert_eq!(setfsuid(old), old);
    }
}
