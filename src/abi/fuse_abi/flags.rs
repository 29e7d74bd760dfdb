//! Flag sets carried in request and reply fields, as `bitflags` types.

use super::{FUSE_ATTR_DAX, FUSE_ATTR_SUBMOUNT};

bitflags::bitflags! {
    /// INIT flags (`FUSE_ASYNC_READ`...): `flags | flags2 << 32` of [`InitIn`](super::InitIn)/[`InitOut`](super::InitOut).
    ///
    /// Bits 32..64 travel in `flags2` and exist only when both sides set
    /// [`FsOptions::INIT_EXT`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct FsOptions: u64 {
        /// FUSE_ASYNC_READ: several reads of one file may be in flight.
        const ASYNC_READ = 1 << 0;
        /// FUSE_POSIX_LOCKS: the file system handles POSIX locks.
        const POSIX_LOCKS = 1 << 1;
        /// FUSE_FILE_OPS: file handle for fstat and the like (never implemented).
        const FILE_OPS = 1 << 2;
        /// FUSE_ATOMIC_O_TRUNC: the file system handles O_TRUNC in open.
        const ATOMIC_O_TRUNC = 1 << 3;
        /// FUSE_EXPORT_SUPPORT: the file system handles lookups of "." and "..".
        const EXPORT_SUPPORT = 1 << 4;
        /// FUSE_BIG_WRITES: writes may exceed 4 KiB.
        const BIG_WRITES = 1 << 5;
        /// FUSE_DONT_MASK: the kernel does not apply the umask on create.
        const DONT_MASK = 1 << 6;
        /// FUSE_SPLICE_WRITE: the kernel can splice-write the device.
        const SPLICE_WRITE = 1 << 7;
        /// FUSE_SPLICE_MOVE: the kernel can splice-move on the device.
        const SPLICE_MOVE = 1 << 8;
        /// FUSE_SPLICE_READ: the kernel can splice-read the device.
        const SPLICE_READ = 1 << 9;
        /// FUSE_FLOCK_LOCKS: the file system handles BSD flock locks.
        const FLOCK_LOCKS = 1 << 10;
        /// FUSE_HAS_IOCTL_DIR: ioctls on directories are sent.
        const HAS_IOCTL_DIR = 1 << 11;
        /// FUSE_AUTO_INVAL_DATA: invalidate cached pages when mtime/size change.
        const AUTO_INVAL_DATA = 1 << 12;
        /// FUSE_DO_READDIRPLUS: use READDIRPLUS.
        const DO_READDIRPLUS = 1 << 13;
        /// FUSE_READDIRPLUS_AUTO: choose between READDIR and READDIRPLUS adaptively.
        const READDIRPLUS_AUTO = 1 << 14;
        /// FUSE_ASYNC_DIO: asynchronous direct I/O.
        const ASYNC_DIO = 1 << 15;
        /// FUSE_WRITEBACK_CACHE: writeback caching of buffered writes.
        const WRITEBACK_CACHE = 1 << 16;
        /// FUSE_NO_OPEN_SUPPORT: ENOSYS to OPEN means "no open needed".
        const ZERO_MESSAGE_OPEN = 1 << 17;
        /// FUSE_PARALLEL_DIROPS: lookups and readdir of one directory may run in parallel.
        const PARALLEL_DIROPS = 1 << 18;
        /// FUSE_HANDLE_KILLPRIV: the file system clears suid/sgid/caps on write, chown, truncate.
        const HANDLE_KILLPRIV = 1 << 19;
        /// FUSE_POSIX_ACL: the file system supports POSIX ACLs.
        const POSIX_ACL = 1 << 20;
        /// FUSE_ABORT_ERROR: reading the device after abort gives ECONNABORTED.
        const ABORT_ERROR = 1 << 21;
        /// FUSE_MAX_PAGES: `InitOut::max_pages` is valid (since 7.28).
        const MAX_PAGES = 1 << 22;
        /// FUSE_CACHE_SYMLINKS: cache READLINK replies (since 7.28).
        const CACHE_SYMLINKS = 1 << 23;
        /// FUSE_NO_OPENDIR_SUPPORT: ENOSYS to OPENDIR means "no opendir needed" (since 7.29).
        const ZERO_MESSAGE_OPENDIR = 1 << 24;
        /// FUSE_EXPLICIT_INVAL_DATA: invalidate cached pages only on request (since 7.30).
        const EXPLICIT_INVAL_DATA = 1 << 25;
        /// FUSE_MAP_ALIGNMENT: `InitOut::map_alignment` is valid (since 7.31).
        const MAP_ALIGNMENT = 1 << 26;
        /// FUSE_SUBMOUNTS: the kernel can auto-mount submounts (since 7.32).
        const SUBMOUNTS = 1 << 27;
        /// FUSE_HANDLE_KILLPRIV_V2: killpriv with VFS semantics (since 7.33).
        const HANDLE_KILLPRIV_V2 = 1 << 28;
        /// FUSE_SETXATTR_EXT: the server takes the 16-byte [`SetxattrInExt`](super::SetxattrInExt) (since 7.33).
        const SETXATTR_EXT = 1 << 29;
        /// FUSE_INIT_EXT: `flags2` and the extended INIT structs are valid (since 7.36).
        const INIT_EXT = 1 << 30;
        /// FUSE_INIT_RESERVED: reserved, never set (since 7.36).
        const INIT_RESERVED = 1 << 31;
        /// FUSE_SECURITY_CTX: security contexts come with create requests (since 7.36).
        const SECURITY_CTX = 1 << 32;
        /// FUSE_HAS_INODE_DAX: per-inode DAX (since 7.36).
        const HAS_INODE_DAX = 1 << 33;
        /// Alias of [`FsOptions::HAS_INODE_DAX`] kept for fuse-backend-rs users.
        const PERFILE_DAX = 1 << 33;
        /// FUSE_CREATE_SUPP_GROUP: supplementary group info with create requests (since 7.38).
        const CREATE_SUPP_GROUP = 1 << 34;
        /// FUSE_HAS_EXPIRE_ONLY: the kernel supports expire-only entry invalidation (since 7.38).
        const HAS_EXPIRE_ONLY = 1 << 35;
        /// FUSE_DIRECT_IO_ALLOW_MMAP: shared mmap allowed with FOPEN_DIRECT_IO (since 7.39).
        const DIRECT_IO_ALLOW_MMAP = 1 << 36;
        /// FUSE_DIRECT_IO_RELAX: obsolete alias of [`FsOptions::DIRECT_IO_ALLOW_MMAP`].
        const DIRECT_IO_RELAX = 1 << 36;
        /// FUSE_PASSTHROUGH: passthrough I/O to backing files (since 7.40).
        const PASSTHROUGH = 1 << 37;
        /// FUSE_NO_EXPORT_SUPPORT: explicitly disable NFS export (since 7.40).
        const NO_EXPORT_SUPPORT = 1 << 38;
        /// FUSE_HAS_RESEND: the kernel may resend requests, see [`FUSE_UNIQUE_RESEND`](super::FUSE_UNIQUE_RESEND) (since 7.40).
        const HAS_RESEND = 1 << 39;
        /// FUSE_ALLOW_IDMAP: idmapped mounts are allowed (since 7.41).
        const ALLOW_IDMAP = 1 << 40;
        /// FUSE_OVER_IO_URING: requests may be served over io_uring (since 7.42).
        const OVER_IO_URING = 1 << 41;
        /// FUSE_REQUEST_TIMEOUT: `InitOut::request_timeout` is valid (since 7.43).
        const REQUEST_TIMEOUT = 1 << 42;
        /// fuse-backend-rs's fd passthrough bit, defined by the Anolis kernel only.
        ///
        /// Not in the mainline fuse.h: upstream fuse-backend-rs put it on the top
        /// bit so that it cannot collide with a mainline flag. Mainline kernels
        /// never offer it.
        const FD_PASSTHROUGH = 1 << 63;
    }

    /// `FOPEN_*`: flags in `OpenOut::open_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct OpenOptions: u32 {
        /// FOPEN_DIRECT_IO: bypass the page cache for this open file.
        const DIRECT_IO = 1 << 0;
        /// FOPEN_KEEP_CACHE: keep cached data on open.
        const KEEP_CACHE = 1 << 1;
        /// FOPEN_NONSEEKABLE: the file is not seekable.
        const NONSEEKABLE = 1 << 2;
        /// FOPEN_CACHE_DIR: cache this directory's entries (since 7.28).
        const CACHE_DIR = 1 << 3;
        /// FOPEN_STREAM: stream-like file, no file position.
        const STREAM = 1 << 4;
        /// FOPEN_NOFLUSH: do not flush cached data on close (since 7.35).
        const NOFLUSH = 1 << 5;
        /// FOPEN_PARALLEL_DIRECT_WRITES: parallel direct writes to one inode (since 7.38).
        const PARALLEL_DIRECT_WRITES = 1 << 6;
        /// FOPEN_PASSTHROUGH: passthrough I/O via `OpenOut::backing_id` (since 7.40).
        const PASSTHROUGH = 1 << 7;
    }

    /// `FATTR_*`: which fields of [`SetattrIn`](super::SetattrIn) are valid.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct SetattrValid: u32 {
        /// FATTR_MODE: `mode` is set.
        const MODE = 1 << 0;
        /// FATTR_UID: `uid` is set.
        const UID = 1 << 1;
        /// FATTR_GID: `gid` is set.
        const GID = 1 << 2;
        /// FATTR_SIZE: `size` is set.
        const SIZE = 1 << 3;
        /// FATTR_ATIME: `atime`/`atimensec` are set.
        const ATIME = 1 << 4;
        /// FATTR_MTIME: `mtime`/`mtimensec` are set.
        const MTIME = 1 << 5;
        /// FATTR_FH: `fh` is set.
        const FH = 1 << 6;
        /// FATTR_ATIME_NOW: set atime to the current time.
        const ATIME_NOW = 1 << 7;
        /// FATTR_MTIME_NOW: set mtime to the current time.
        const MTIME_NOW = 1 << 8;
        /// FATTR_LOCKOWNER: `lock_owner` is set.
        const LOCKOWNER = 1 << 9;
        /// FATTR_CTIME: `ctime`/`ctimensec` are set.
        const CTIME = 1 << 10;
        /// FATTR_KILL_SUIDGID: clear suid/sgid (HANDLE_KILLPRIV_V2, since 7.33).
        const KILL_SUIDGID = 1 << 11;
    }

    /// `FUSE_WRITE_*`: flags in `WriteIn::write_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct WriteFlags: u32 {
        /// FUSE_WRITE_CACHE: delayed write from the page cache; `fh` is a guess.
        const CACHE = 1 << 0;
        /// FUSE_WRITE_LOCKOWNER: `lock_owner` is valid.
        const LOCKOWNER = 1 << 1;
        /// FUSE_WRITE_KILL_SUIDGID: clear suid/sgid (since 7.33).
        const KILL_SUIDGID = 1 << 2;
        /// FUSE_WRITE_KILL_PRIV: obsolete alias of [`WriteFlags::KILL_SUIDGID`] (since 7.31).
        const KILL_PRIV = 1 << 2;
    }

    /// `FUSE_RELEASE_*`: flags in `ReleaseIn::release_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct ReleaseFlags: u32 {
        /// FUSE_RELEASE_FLUSH: flush before releasing.
        const FLUSH = 1 << 0;
        /// FUSE_RELEASE_FLOCK_UNLOCK: drop flock locks held through this handle.
        const FLOCK_UNLOCK = 1 << 1;
    }

    /// `FUSE_GETATTR_*`: flags in `GetattrIn::getattr_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct GetattrFlags: u32 {
        /// FUSE_GETATTR_FH: `fh` is valid.
        const FH = 1 << 0;
    }

    /// `FUSE_READ_*`: flags in `ReadIn::read_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct ReadFlags: u32 {
        /// FUSE_READ_LOCKOWNER: `lock_owner` is valid.
        const LOCKOWNER = 1 << 1;
    }

    /// `FUSE_LK_*`: flags in `LkIn::lk_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct LkFlags: u32 {
        /// FUSE_LK_FLOCK: a BSD flock lock, not a POSIX lock.
        const FLOCK = 1 << 0;
    }

    /// `FUSE_IOCTL_*`: flags in `IoctlIn::flags` and `IoctlOut::flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct IoctlFlags: u32 {
        /// FUSE_IOCTL_COMPAT: 32-bit compat ioctl on a 64-bit kernel.
        const COMPAT = 1 << 0;
        /// FUSE_IOCTL_UNRESTRICTED: not restricted to well-formed ioctls; retry allowed.
        const UNRESTRICTED = 1 << 1;
        /// FUSE_IOCTL_RETRY: retry with the iovecs in the reply.
        const RETRY = 1 << 2;
        /// FUSE_IOCTL_32BIT: 32-bit ioctl.
        const IOCTL_32BIT = 1 << 3;
        /// FUSE_IOCTL_DIR: the file is a directory.
        const DIR = 1 << 4;
        /// FUSE_IOCTL_COMPAT_X32: x32 compat ioctl on a 64-bit kernel.
        const COMPAT_X32 = 1 << 5;
        /// Alias of [`IoctlFlags::COMPAT`] (fuse-backend-rs name).
        const IOCTL_COMPAT = 1 << 0;
        /// Alias of [`IoctlFlags::UNRESTRICTED`] (fuse-backend-rs name).
        const IOCTL_UNRESTRICTED = 1 << 1;
        /// Alias of [`IoctlFlags::RETRY`] (fuse-backend-rs name).
        const IOCTL_RETRY = 1 << 2;
        /// Alias of [`IoctlFlags::DIR`] (fuse-backend-rs name).
        const IOCTL_DIR = 1 << 4;
        /// Alias of [`IoctlFlags::COMPAT_X32`] (fuse-backend-rs name).
        const IOCTL_COMPAT_X32 = 1 << 5;
        /// FUSE_IOCTL_MAX_IOV (256) as a flag value, as fuse-backend-rs declares it.
        ///
        /// In fuse.h this is a limit on the iovec count (see [`FUSE_IOCTL_MAX_IOV`](super::FUSE_IOCTL_MAX_IOV)),
        /// not a flag; the kernel never sets this bit. It is declared here, as upstream
        /// did, so `IoctlFlags::all()` and `from_bits` treat bit 8 the same way.
        const IOCTL_MAX_IOV = 1 << 8;
    }

    /// `FUSE_FSYNC_*`: flags in `FsyncIn::fsync_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct FsyncFlags: u32 {
        /// FUSE_FSYNC_FDATASYNC: sync data only, not metadata.
        const FDATASYNC = 1 << 0;
    }

    /// `FUSE_SETXATTR_*`: flags in `SetxattrInExt::setxattr_flags` (since 7.33).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct SetxattrFlags: u32 {
        /// FUSE_SETXATTR_ACL_KILL_SGID: clear sgid when setting system.posix_acl_access.
        const ACL_KILL_SGID = 1 << 0;
    }

    /// `FUSE_OPEN_*`: flags in `OpenIn::open_flags`/`CreateIn::open_flags` (since 7.33).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct OpenInFlags: u32 {
        /// FUSE_OPEN_KILL_SUIDGID: clear suid/sgid if the file is executable.
        const KILL_SUIDGID = 1 << 0;
    }

    /// `FUSE_POLL_*`: flags in `PollIn::flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct PollFlags: u32 {
        /// FUSE_POLL_SCHEDULE_NOTIFY: send NOTIFY_POLL when the file becomes ready.
        const SCHEDULE_NOTIFY = 1 << 0;
    }

    /// `FUSE_ATTR_*`: flags in `Attr::flags` (since 7.32).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct AttrFlags: u32 {
        /// FUSE_ATTR_SUBMOUNT: the inode is the root of a submount.
        const SUBMOUNT = FUSE_ATTR_SUBMOUNT;
        /// FUSE_ATTR_DAX: use DAX for this file (since 7.36).
        const DAX = FUSE_ATTR_DAX;
    }

    /// Flags in `NotifyInvalEntryOut::flags` (since 7.38).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct ExpireFlags: u32 {
        /// FUSE_EXPIRE_ONLY: expire the entry's timeout instead of dropping it.
        const EXPIRE_ONLY = 1 << 0;
    }
}
