//! Open files: open, create, read, write, sync, allocate, seek, copy, statfs.

use super::Kstatfs;
use crate::abi::wire;

/// `struct fuse_open_in`: argument of OPEN and OPENDIR.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct OpenIn {
    /// `open(2)` flags.
    pub flags: u32,
    /// [`OpenInFlags`](super::OpenInFlags) bits (`open_flags` in fuse.h, since 7.33; unused before).
    pub fuse_flags: u32,
}

/// `struct fuse_create_in`: argument of CREATE and TMPFILE; the name follows.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct CreateIn {
    /// `open(2)` flags.
    pub flags: u32,
    /// File type and permission bits.
    pub mode: u32,
    /// Caller's umask.
    pub umask: u32,
    /// [`OpenInFlags`](super::OpenInFlags) bits (`open_flags` in fuse.h, since 7.33; padding before).
    pub fuse_flags: u32,
}

/// `struct fuse_open_out`: reply to OPEN and OPENDIR, second part of the CREATE reply.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct OpenOut {
    /// File handle chosen by the server.
    pub fh: u64,
    /// [`OpenOptions`](super::OpenOptions) bits.
    pub open_flags: u32,
    /// Backing file id, with [`OpenOptions::PASSTHROUGH`](super::OpenOptions::PASSTHROUGH) (since 7.40; padding
    /// before): `int32_t backing_id` in fuse.h, see [`OpenOut::backing_id`].
    pub passthrough: u32,
}

/// `struct fuse_release_in`: argument of RELEASE and RELEASEDIR.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct ReleaseIn {
    /// File handle.
    pub fh: u64,
    /// `open(2)` flags of the handle.
    pub flags: u32,
    /// [`ReleaseFlags`](super::ReleaseFlags) bits.
    pub release_flags: u32,
    /// Lock owner.
    pub lock_owner: u64,
}

/// `struct fuse_flush_in`: argument of FLUSH.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct FlushIn {
    /// File handle.
    pub fh: u64,
    /// Unused.
    pub unused: u32,
    /// Padding.
    pub padding: u32,
    /// Lock owner.
    pub lock_owner: u64,
}

/// `struct fuse_read_in`: argument of READ, READDIR and READDIRPLUS.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct ReadIn {
    /// File handle.
    pub fh: u64,
    /// Offset (a directory cookie for READDIR).
    pub offset: u64,
    /// Bytes to read.
    pub size: u32,
    /// [`ReadFlags`](super::ReadFlags) bits.
    pub read_flags: u32,
    /// Lock owner, with [`ReadFlags::LOCKOWNER`](super::ReadFlags::LOCKOWNER).
    pub lock_owner: u64,
    /// `open(2)` flags of the handle.
    pub flags: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_write_in`: argument of WRITE; the data follows.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct WriteIn {
    /// File handle.
    pub fh: u64,
    /// Offset.
    pub offset: u64,
    /// Bytes to write.
    pub size: u32,
    /// [`WriteFlags`](super::WriteFlags) bits (`write_flags` in fuse.h, see [`WriteIn::write_flags`]).
    pub fuse_flags: u32,
    /// Lock owner, with [`WriteFlags::LOCKOWNER`](super::WriteFlags::LOCKOWNER).
    pub lock_owner: u64,
    /// `open(2)` flags of the handle.
    pub flags: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_write_out`: reply to WRITE.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct WriteOut {
    /// Bytes written.
    pub size: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_statfs_out`: reply to STATFS.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct StatfsOut {
    /// The statistics.
    pub st: Kstatfs,
}

/// `struct fuse_fsync_in`: argument of FSYNC and FSYNCDIR.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct FsyncIn {
    /// File handle.
    pub fh: u64,
    /// [`FsyncFlags`](super::FsyncFlags) bits.
    pub fsync_flags: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_fallocate_in`: argument of FALLOCATE.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct FallocateIn {
    /// File handle.
    pub fh: u64,
    /// Start of the range.
    pub offset: u64,
    /// Length of the range.
    pub length: u64,
    /// `FALLOC_FL_*` mode of `fallocate(2)`.
    pub mode: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_lseek_in`: argument of LSEEK.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct LseekIn {
    /// File handle.
    pub fh: u64,
    /// Starting offset.
    pub offset: u64,
    /// `SEEK_DATA` or `SEEK_HOLE` (others are handled by the kernel).
    pub whence: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_lseek_out`: reply to LSEEK.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct LseekOut {
    /// Resulting offset.
    pub offset: u64,
}

/// `struct fuse_copy_file_range_in`: argument of COPY_FILE_RANGE and COPY_FILE_RANGE_64.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct CopyFileRangeIn {
    /// Source file handle (source inode is `InHeader::nodeid`).
    pub fh_in: u64,
    /// Source offset (`off_in` in fuse.h).
    pub offset_in: u64,
    /// Destination inode.
    pub nodeid_out: u64,
    /// Destination file handle.
    pub fh_out: u64,
    /// Destination offset (`off_out` in fuse.h).
    pub offset_out: u64,
    /// Bytes to copy.
    pub len: u64,
    /// `copy_file_range(2)` flags.
    pub flags: u64,
}

/// `struct fuse_copy_file_range_out`: reply to COPY_FILE_RANGE_64 (since 7.45).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct CopyFileRangeOut {
    /// Bytes copied.
    pub bytes_copied: u64,
}

/// `struct fuse_syncfs_in`: argument of SYNCFS (since 7.34).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct SyncfsIn {
    /// Padding.
    pub padding: u64,
}

wire!(
    OpenIn, 8;
    CreateIn, 16;
    OpenOut, 16;
    ReleaseIn, 24;
    FlushIn, 24;
    ReadIn, 40;
    WriteIn, 40;
    WriteOut, 8;
    StatfsOut, 80;
    FsyncIn, 16;
    FallocateIn, 32;
    LseekIn, 24;
    LseekOut, 8;
    CopyFileRangeIn, 56;
    CopyFileRangeOut, 8;
    SyncfsIn, 8;
);
