//! Locks: GETLK, SETLK, SETLKW.
//!
//! POSIX locks become open-file-description locks (`F_OFD_*`) on the handle's host file.
//! The daemon is one process, so classic POSIX locks would all belong to it and be dropped
//! by any close; OFD locks belong to the open file instead, and every client open has its
//! own handle and host open file. Two differences from POSIX remain: two opens of a file by
//! the same client process conflict with each other, and a child sharing its parent's open
//! file shares its locks. BSD locks (FUSE_LK_FLOCK) become flock(2) on the handle's file.
//! SETLKW blocks the serving thread until the lock is granted.

use std::io;
use std::os::fd::AsFd;

use vm_memory::bitmap::BitmapSlice;

use super::super::{einval, PassthroughFs};
use crate::abi::fuse_abi::LkFlags;
use crate::api::filesystem::FileLock;
use crate::sys;

/// The kernel's OFFSET_MAX: a lock "to the end of the file".
const OFFSET_MAX: u64 = i64::MAX as u64;

fn to_flock(lock: &FileLock) -> io::Result<libc::flock64> {
    if lock.start > OFFSET_MAX || lock.end < lock.start {
        return Err(einval());
    }
    let len = if lock.end >= OFFSET_MAX {
        0
    } else {
        (lock.end - lock.start + 1) as i64
    };
    let l_type = match lock.type_ as libc::c_int {
        libc::F_RDLCK => libc::F_RDLCK,
        libc::F_WRLCK => libc::F_WRLCK,
        libc::F_UNLCK => libc::F_UNLCK,
        _ => return Err(einval()),
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
            type_: libc::F_UNLCK as u32,
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
        type_: fl.l_type as u32,
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
        if LkFlags::from_bits_truncate(flags).contains(LkFlags::FLOCK) {
            let mut op = match lock.type_ as libc::c_int {
                libc::F_RDLCK => libc::LOCK_SH,
                libc::F_WRLCK => libc::LOCK_EX,
                libc::F_UNLCK => libc::LOCK_UN,
                _ => return Err(einval()),
            };
            if !wait {
                op |= libc::LOCK_NB;
            }
            return sys::flock(h.file.as_fd(), op);
        }
        let mut fl = to_flock(&lock)?;
        let cmd = if wait {
            libc::F_OFD_SETLKW
        } else {
            libc::F_OFD_SETLK
        };
        sys::fcntl_ofd_lock(h.file.as_fd(), cmd, &mut fl)
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
            type_: libc::F_WRLCK as u32,
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
        assert!(to_flock(&FileLock { type_: 99, ..whole }).is_err());
    }
}
