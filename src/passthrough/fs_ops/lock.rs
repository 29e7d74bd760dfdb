//! Locks: GETLK, SETLK, SETLKW.
//!
//! POSIX locks become open-file-description locks (`F_OFD_*`) on the handle's host file.
//! The daemon is one process, so classic POSIX locks would all belong to it and be dropped
//! by any close; OFD locks belong to the open file instead, and every client open has its
//! own handle and host open file. Two differences from POSIX remain: two opens of a file by
//! the same client process conflict with each other, and a child sharing its parent's open
//! file shares its locks. BSD locks (FUSE_LK_FLOCK) become flock(2) on the handle's file.
//! SETLKW never blocks a serving thread when the server can answer late: a lock held by
//! someone else is waited for by the lock waiter thread (`lock_wait.rs`).

use std::fs::File;
use std::io;
use std::os::fd::AsFd;

use vm_memory::bitmap::BitmapSlice;

use super::super::PassthroughFs;
use crate::abi::fuse_abi::LkFlags;
use crate::api::filesystem::{FileLock, LockWaiter};
use crate::errno::err;
use crate::sys;

/// The kernel's OFFSET_MAX: a lock "to the end of the file".
const OFFSET_MAX: u64 = i64::MAX as u64;

fn to_flock(lock: &FileLock) -> io::Result<libc::flock64> {
    if lock.start > OFFSET_MAX || lock.end < lock.start {
        return Err(err(libc::EINVAL));
    }
    let len = if lock.end >= OFFSET_MAX {
        0
    } else {
        (lock.end - lock.start + 1) as i64
    };
    let l_type = match lock.lock_type as libc::c_int {
        libc::F_RDLCK => libc::F_RDLCK,
        libc::F_WRLCK => libc::F_WRLCK,
        libc::F_UNLCK => libc::F_UNLCK,
        _ => return Err(err(libc::EINVAL)),
    };
    Ok(libc::flock64 {
        l_type: l_type as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: lock.start as i64,
        l_len: len,
        // Must be 0 for OFD locks.
        l_pid: 0,
    })
}

fn from_flock(fl: &libc::flock64, asked: &FileLock) -> FileLock {
    if fl.l_type == libc::F_UNLCK as libc::c_short {
        return FileLock {
            lock_type: libc::F_UNLCK as u32,
            pid: 0,
            ..*asked
        };
    }
    let start = fl.l_start.max(0) as u64;
    let end = if fl.l_len == 0 {
        OFFSET_MAX
    } else {
        start.saturating_add(fl.l_len as u64 - 1).min(OFFSET_MAX)
    };
    FileLock {
        start,
        end,
        lock_type: fl.l_type as u32,
        // OFD locks have no owning process.
        pid: 0,
    }
}

impl<S: BitmapSlice + Send + Sync> PassthroughFs<S> {
    pub(crate) fn do_getlk(&self, inode: u64, handle: u64, lock: FileLock) -> io::Result<FileLock> {
        let h = self.io_handle(inode, handle, false)?;
        let mut fl = to_flock(&lock)?;
        sys::fcntl_ofd_lock(h.file.as_fd(), libc::F_OFD_GETLK, &mut fl)?;
        Ok(from_flock(&fl, &lock))
    }

    pub(crate) fn do_setlk(
        &self,
        inode: u64,
        handle: u64,
        lock: FileLock,
        flags: u32,
        wait: bool,
    ) -> io::Result<()> {
        let h = self.io_handle(inode, handle, false)?;
        let op = LockOp::new(&lock, flags)?;
        if wait {
            op.wait_on(&h.file)?;
        } else if !op.try_on(&h.file)? {
            return Err(err(libc::EAGAIN));
        }
        if op.unlocks() {
            self.lock_waits.kick();
        }
        Ok(())
    }

    /// SETLKW answered later: tried once here, then by the lock waiter thread.
    pub(crate) fn do_setlkw_deferred(
        &self,
        inode: u64,
        handle: u64,
        lock: FileLock,
        flags: u32,
        waiter: LockWaiter,
    ) {
        let prepared = self
            .io_handle(inode, handle, false)
            .and_then(|h| Ok((h, LockOp::new(&lock, flags)?)));
        let (h, op) = match prepared {
            Ok(p) => p,
            Err(e) => return waiter.complete(Err(e)),
        };
        match op.try_on(&h.file) {
            Ok(true) => {
                if op.unlocks() {
                    self.lock_waits.kick();
                }
                waiter.complete(Ok(()))
            }
            Ok(false) => self
                .lock_waits
                .push(waiter, Box::new(move || op.try_on(&h.file))),
            Err(e) => waiter.complete(Err(e)),
        }
    }

    /// A lock may have come free (a handle was released).
    pub(crate) fn lock_released(&self) {
        self.lock_waits.kick();
    }
}

/// One lock request, ready to apply to a host file.
#[derive(Clone, Copy)]
enum LockOp {
    /// flock(2) with this operation (LOCK_SH, LOCK_EX or LOCK_UN).
    Flock(libc::c_int),
    /// An OFD record lock.
    Record(libc::flock64),
}

impl LockOp {
    fn new(lock: &FileLock, flags: u32) -> io::Result<LockOp> {
        if LkFlags::from_bits_truncate(flags).contains(LkFlags::FLOCK) {
            let op = match lock.lock_type as libc::c_int {
                libc::F_RDLCK => libc::LOCK_SH,
                libc::F_WRLCK => libc::LOCK_EX,
                libc::F_UNLCK => libc::LOCK_UN,
                _ => return Err(err(libc::EINVAL)),
            };
            return Ok(LockOp::Flock(op));
        }
        Ok(LockOp::Record(to_flock(lock)?))
    }

    fn unlocks(&self) -> bool {
        match self {
            LockOp::Flock(op) => *op == libc::LOCK_UN,
            LockOp::Record(fl) => fl.l_type == libc::F_UNLCK as libc::c_short,
        }
    }

    /// Takes the lock if nobody else holds it: `Ok(false)` when someone does.
    fn try_on(&self, file: &File) -> io::Result<bool> {
        let res = match *self {
            LockOp::Flock(op) => sys::flock(file.as_fd(), op | libc::LOCK_NB),
            LockOp::Record(mut fl) => sys::fcntl_ofd_lock(file.as_fd(), libc::F_OFD_SETLK, &mut fl),
        };
        match res {
            Ok(()) => Ok(true),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Takes the lock, blocking the calling thread while someone else holds it.
    fn wait_on(&self, file: &File) -> io::Result<()> {
        match *self {
            LockOp::Flock(op) => sys::flock(file.as_fd(), op),
            LockOp::Record(mut fl) => {
                sys::fcntl_ofd_lock(file.as_fd(), libc::F_OFD_SETLKW, &mut fl)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_ranges_convert() {
        let whole = FileLock {
            start: 0,
            end: OFFSET_MAX,
            lock_type: libc::F_WRLCK as u32,
            pid: 1,
        };
        let fl = to_flock(&whole).unwrap();
        assert_eq!((fl.l_start, fl.l_len), (0, 0));
        assert_eq!(from_flock(&fl, &whole).end, OFFSET_MAX);
        let part = FileLock {
            start: 10,
            end: 19,
            ..whole
        };
        let fl = to_flock(&part).unwrap();
        assert_eq!((fl.l_start, fl.l_len), (10, 10));
        assert_eq!(from_flock(&fl, &part), FileLock { pid: 0, ..part });
        assert!(to_flock(&FileLock {
            start: 5,
            end: 4,
            ..whole
        })
        .is_err());
        assert!(to_flock(&FileLock {
            lock_type: 99,
            ..whole
        })
        .is_err());
    }
}
