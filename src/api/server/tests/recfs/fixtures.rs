//! Canned results of `RecFs` and the bytes the kernel must see for them, written out
//! field by field rather than derived from the ABI structs.

use std::io;
use std::time::Duration;

use crate::abi::fuse_abi::{Attr, FileLock};
use crate::api::filesystem::Entry;
use crate::common::{FileReadWriteVolatile, FileVolatileSlice};

/// A file held in memory, read and written through `FileReadWriteVolatile` the way a
/// driver moves data between a file and the transport buffers.
pub(crate) struct MemFile<'a>(pub &'a mut Vec<u8>);

impl FileReadWriteVolatile for MemFile<'_> {
    // No file position: only positioned I/O, which is all the server does.
    fn read_volatile(&mut self, _slice: FileVolatileSlice) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::ESPIPE))
    }

    fn write_volatile(&mut self, _slice: FileVolatileSlice) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::ESPIPE))
    }

    fn read_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        self.read_vectored_at_volatile(&[slice], offset)
    }

    fn write_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        self.write_vectored_at_volatile(&[slice], offset)
    }

    fn read_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        let mut pos = offset as usize;
        let mut done = 0;
        for b in bufs {
            let n = b.len().min(self.0.len().saturating_sub(pos));
            // SAFETY: `b` describes `b.len()` writable bytes valid while `bufs` is borrowed
            // (the `FileVolatileSlice` contract); `n <= b.len()`, the source range
            // `pos..pos + n` is inside `self.0`, and the two cannot overlap because the
            // transport buffers are not part of this Vec.
            unsafe { std::ptr::copy_nonoverlapping(self.0.as_ptr().add(pos), b.as_ptr(), n) };
            pos += n;
            done += n;
            if n < b.len() {
                break;
            }
        }
        Ok(done)
    }

    fn write_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        let mut pos = offset as usize;
        for b in bufs {
            let end = pos + b.len();
            if self.0.len() < end {
                self.0.resize(end, 0);
            }
            // SAFETY: `b` describes `b.len()` readable bytes valid while `bufs` is borrowed;
            // the destination `pos..end` is inside `self.0` (resized just above) and does
            // not overlap the transport buffers.
            unsafe {
                std::ptr::copy_nonoverlapping(b.as_ptr(), self.0.as_mut_ptr().add(pos), b.len())
            };
            pos = end;
        }
        Ok(pos - offset as usize)
    }
}

/// Attributes every entry and getattr reply carries.
pub(crate) fn stat_fixture() -> libc::stat64 {
    let mut st = Entry::default().attr;
    st.st_ino = 42;
    st.st_size = 1000;
    st.st_blocks = 2;
    st.st_atime = 1000;
    st.st_atime_nsec = 11;
    st.st_mtime = 2000;
    st.st_mtime_nsec = 22;
    st.st_ctime = 3000;
    st.st_ctime_nsec = 33;
    st.st_mode = libc::S_IFREG | 0o644;
    st.st_nlink = 1;
    st.st_uid = 1000;
    st.st_gid = 100;
    st.st_rdev = 0x0801;
    st.st_blksize = 4096;
    st
}

/// [`stat_fixture`] as the kernel must see it, written out field by field.
pub(crate) fn attr_fixture(flags: u32) -> Attr {
    Attr {
        ino: 42,
        size: 1000,
        blocks: 2,
        atime: 1000,
        mtime: 2000,
        ctime: 3000,
        atimensec: 11,
        mtimensec: 22,
        ctimensec: 33,
        mode: libc::S_IFREG | 0o644,
        nlink: 1,
        uid: 1000,
        gid: 100,
        rdev: 0x0801,
        blksize: 4096,
        flags,
    }
}

pub(crate) const ATTR_TIMEOUT: Duration = Duration::new(3, 250);
pub(crate) const ENTRY_TIMEOUT: Duration = Duration::new(5, 500_000_000);

/// The entry every lookup-like call returns.
pub(crate) fn entry_fixture(inode: u64) -> Entry {
    Entry {
        inode,
        generation: 7,
        attr: stat_fixture(),
        attr_flags: crate::abi::fuse_abi::FUSE_ATTR_DAX,
        attr_timeout: ATTR_TIMEOUT,
        entry_timeout: ENTRY_TIMEOUT,
    }
}

/// The `fuse_entry_out` bytes for [`entry_fixture`], written out field by field.
pub(crate) fn entry_out_bytes(inode: u64) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&inode.to_le_bytes()); // nodeid
    v.extend_from_slice(&7u64.to_le_bytes()); // generation
    v.extend_from_slice(&5u64.to_le_bytes()); // entry_valid
    v.extend_from_slice(&3u64.to_le_bytes()); // attr_valid
    v.extend_from_slice(&500_000_000u32.to_le_bytes()); // entry_valid_nsec
    v.extend_from_slice(&250u32.to_le_bytes()); // attr_valid_nsec
    v.extend_from_slice(&attr_bytes(2));
    assert_eq!(v.len(), 128);
    v
}

/// The `fuse_attr` bytes for [`stat_fixture`] with `flags`, written out field by field.
pub(crate) fn attr_bytes(flags: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [42u64, 1000, 2, 1000, 2000, 3000] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    let mode = libc::S_IFREG | 0o644;
    for x in [11u32, 22, 33, mode, 1, 1000, 100, 0x0801, 4096, flags] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    assert_eq!(v.len(), 88);
    v
}

/// The lock `getlk` returns.
pub(crate) fn lock_fixture() -> FileLock {
    FileLock {
        start: 10,
        end: 20,
        type_: libc::F_WRLCK as u32,
        pid: 77,
    }
}

/// Statistics `statfs` returns.
pub(crate) fn statvfs_fixture() -> libc::statvfs64 {
    // SAFETY: `statvfs64` is plain integers, for which all-zero bytes are a valid value.
    let mut st: libc::statvfs64 = unsafe { std::mem::zeroed() };
    st.f_blocks = 1000;
    st.f_bfree = 500;
    st.f_bavail = 400;
    st.f_files = 300;
    st.f_ffree = 200;
    st.f_bsize = 4096;
    st.f_namemax = 255;
    st.f_frsize = 512;
    st
}

/// Attributes `statx` returns.
pub(crate) fn statx_fixture() -> libc::statx {
    // SAFETY: `statx` is plain integers, for which all-zero bytes are a valid value.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    st.stx_mask = libc::STATX_BASIC_STATS | libc::STATX_BTIME;
    st.stx_blksize = 4096;
    st.stx_attributes = 0x20;
    st.stx_nlink = 2;
    st.stx_uid = 1000;
    st.stx_gid = 100;
    st.stx_mode = (libc::S_IFDIR | 0o755) as u16;
    st.stx_ino = 42;
    st.stx_size = 4096;
    st.stx_blocks = 8;
    st.stx_attributes_mask = 0xff;
    st.stx_atime.tv_sec = 1;
    st.stx_atime.tv_nsec = 2;
    st.stx_btime.tv_sec = 3;
    st.stx_btime.tv_nsec = 4;
    st.stx_ctime.tv_sec = 5;
    st.stx_ctime.tv_nsec = 6;
    st.stx_mtime.tv_sec = 7;
    st.stx_mtime.tv_nsec = 8;
    st.stx_rdev_major = 9;
    st.stx_rdev_minor = 10;
    st.stx_dev_major = 11;
    st.stx_dev_minor = 12;
    st
}
