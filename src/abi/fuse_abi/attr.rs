//! Attribute blocks shared by many messages: `fuse_attr`, `fuse_statx`,
//! `fuse_kstatfs`, `fuse_file_lock`, and their conversions from libc.

use crate::abi::wire;

/// `struct fuse_attr`: inode attributes, embedded in entry and attr replies.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Allocated 512-byte blocks.
    pub blocks: u64,
    /// Access time, seconds.
    pub atime: u64,
    /// Modification time, seconds.
    pub mtime: u64,
    /// Status change time, seconds.
    pub ctime: u64,
    /// Access time, nanoseconds.
    pub atimensec: u32,
    /// Modification time, nanoseconds.
    pub mtimensec: u32,
    /// Status change time, nanoseconds.
    pub ctimensec: u32,
    /// File type and permission bits.
    pub mode: u32,
    /// Hard link count.
    pub nlink: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Device number, kernel `new_encode_dev` form.
    pub rdev: u32,
    /// Preferred I/O block size.
    pub blksize: u32,
    /// [`AttrFlags`](super::AttrFlags) bits (since 7.32; padding before).
    pub flags: u32,
}

/// `struct fuse_sx_time`: a timestamp in `statx(2)` form (since 7.39).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct SxTime {
    /// Seconds since the epoch.
    pub tv_sec: i64,
    /// Nanoseconds.
    pub tv_nsec: u32,
    /// Reserved, zero.
    pub __reserved: i32,
}

/// `struct fuse_statx`: attributes in `statx(2)` layout (since 7.39).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct Statx {
    /// `STATX_*` bits of the fields filled in.
    pub mask: u32,
    /// Preferred I/O block size.
    pub blksize: u32,
    /// `STATX_ATTR_*` flags.
    pub attributes: u64,
    /// Hard link count.
    pub nlink: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// File type and permission bits.
    pub mode: u16,
    /// Padding.
    pub __spare0: [u16; 1],
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Allocated 512-byte blocks.
    pub blocks: u64,
    /// `STATX_ATTR_*` bits that `attributes` can report.
    pub attributes_mask: u64,
    /// Access time.
    pub atime: SxTime,
    /// Creation time.
    pub btime: SxTime,
    /// Status change time.
    pub ctime: SxTime,
    /// Modification time.
    pub mtime: SxTime,
    /// Major of the device this inode represents.
    pub rdev_major: u32,
    /// Minor of the device this inode represents.
    pub rdev_minor: u32,
    /// Major of the device holding the inode.
    pub dev_major: u32,
    /// Minor of the device holding the inode.
    pub dev_minor: u32,
    /// Reserved, zero.
    pub __spare2: [u64; 14],
}

/// `struct fuse_kstatfs`: file system statistics.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct Kstatfs {
    /// Total blocks, in `frsize` units.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks available to unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Block size.
    pub bsize: u32,
    /// Longest name.
    pub namelen: u32,
    /// Fragment size.
    pub frsize: u32,
    /// Padding.
    pub padding: u32,
    /// Reserved.
    pub spare: [u32; 6],
}

/// `struct fuse_file_lock`: a lock range, in lock requests and replies.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct FileLock {
    /// First byte of the range.
    pub start: u64,
    /// Last byte of the range (inclusive; `OFFSET_MAX` for "to the end").
    pub end: u64,
    /// `F_RDLCK`, `F_WRLCK` or `F_UNLCK`.
    pub type_: u32,
    /// Thread group id of the lock holder.
    pub pid: u32,
}

wire!(Attr, 88; SxTime, 16; Statx, 256; Kstatfs, 80; FileLock, 24);

impl Attr {
    /// Builds an [`Attr`] from a host `stat64`, with `flags` as [`AttrFlags`](super::AttrFlags) bits.
    ///
    /// Times keep their bit pattern (the kernel reads them as signed). `rdev`
    /// keeps its low 32 bits, which match the kernel's 32-bit device encoding
    /// for majors below 4096.
    // Field types of `stat64` differ between x86_64 and aarch64, so some casts
    // are no-ops on one of them.
    #[allow(clippy::unnecessary_cast)]
    pub fn from_stat(st: libc::stat64, flags: u32) -> Attr {
        Attr {
            ino: st.st_ino as u64,
            size: st.st_size as u64,
            blocks: st.st_blocks as u64,
            atime: st.st_atime as u64,
            mtime: st.st_mtime as u64,
            ctime: st.st_ctime as u64,
            atimensec: st.st_atime_nsec as u32,
            mtimensec: st.st_mtime_nsec as u32,
            ctimensec: st.st_ctime_nsec as u32,
            mode: st.st_mode as u32,
            nlink: st.st_nlink as u32,
            uid: st.st_uid as u32,
            gid: st.st_gid as u32,
            rdev: st.st_rdev as u32,
            blksize: st.st_blksize as u32,
            flags,
        }
    }
}

impl From<libc::stat64> for Attr {
    fn from(st: libc::stat64) -> Attr {
        Attr::from_stat(st, 0)
    }
}

impl From<libc::statvfs64> for Kstatfs {
    // `statvfs64` field widths differ between targets, as for `stat64` above.
    #[allow(clippy::unnecessary_cast)]
    fn from(st: libc::statvfs64) -> Kstatfs {
        Kstatfs {
            blocks: st.f_blocks as u64,
            bfree: st.f_bfree as u64,
            bavail: st.f_bavail as u64,
            files: st.f_files as u64,
            ffree: st.f_ffree as u64,
            bsize: st.f_bsize as u32,
            namelen: st.f_namemax as u32,
            frsize: st.f_frsize as u32,
            ..Kstatfs::default()
        }
    }
}
