//! FUSE kernel ABI, protocol 7.27 to 7.45.
//!
//! Names follow `include/uapi/linux/fuse.h` with the `fuse_` prefix dropped and
//! CamelCase applied: `struct fuse_setattr_in` is [`SetattrIn`]; the first doc
//! line of each struct names its C struct, so grepping fuse.h finds it. Field
//! names are the C ones (`type` becomes `type_`). Fields and structs added after
//! 7.27, the oldest minor we accept, say "(since 7.xx)".
//!
//! Which fields and messages a peer understands is decided at run time by INIT
//! negotiation ([`InitIn`], [`InitOut`], [`FsOptions`]), never at build time.
//! Structs that grew across minors have `FUSE_COMPAT_*_SIZE` constants giving
//! their older size.

use super::wire;

// ---------------------------------------------------------------------------
// Versions and limits
// ---------------------------------------------------------------------------

/// Major version of the FUSE protocol (`FUSE_KERNEL_VERSION`).
pub const KERNEL_VERSION: u32 = 7;

/// Newest minor version we implement (`FUSE_KERNEL_MINOR_VERSION`).
pub const KERNEL_MINOR_VERSION: u32 = 45;

/// Oldest minor version we accept from the kernel; INIT fails below it.
pub const MIN_KERNEL_MINOR_VERSION: u32 = 27;

/// Node ID of the root inode (`FUSE_ROOT_ID`).
pub const ROOT_ID: u64 = 1;

/// Smallest read buffer the kernel accepts on /dev/fuse (`FUSE_MIN_READ_BUFFER`).
pub const FUSE_MIN_READ_BUFFER: u32 = 8192;

/// Our own cap on the bytes of one name (not counting the NUL) in a request.
pub const FUSE_NAME_MAX: usize = 1024;

/// Bit of `InHeader::unique` marking a request the kernel resent (since 7.40).
pub const FUSE_UNIQUE_RESEND: u64 = 1 << 63;

/// `InHeader` uid/gid value when an idmapped mount has no mapping (since 7.41).
pub const FUSE_INVALID_UIDGID: u32 = u32::MAX;

/// Size of [`EntryOut`] before 7.9 (no `attr.blksize`/`attr.flags`).
pub const FUSE_COMPAT_ENTRY_OUT_SIZE: usize = 120;

/// Size of [`AttrOut`] before 7.9 (no `attr.blksize`/`attr.flags`).
pub const FUSE_COMPAT_ATTR_OUT_SIZE: usize = 96;

/// Size of [`MknodIn`] before 7.12 (no `umask`).
pub const FUSE_COMPAT_MKNOD_IN_SIZE: usize = 8;

/// Size of [`WriteIn`] before 7.9 (no `lock_owner`/`flags`).
pub const FUSE_COMPAT_WRITE_IN_SIZE: usize = 24;

/// Size of [`StatfsOut`] before 7.4 (no `frsize`).
pub const FUSE_COMPAT_STATFS_SIZE: usize = 48;

/// Size of [`InitOut`] before 7.5 (major and minor only).
pub const FUSE_COMPAT_INIT_OUT_SIZE: usize = 8;

/// Size of [`InitOut`] before 7.23 (up to and including `max_write`).
pub const FUSE_COMPAT_22_INIT_OUT_SIZE: usize = 24;

/// Size of [`SetxattrIn`] without FUSE_SETXATTR_EXT (`size` and `flags` only).
pub const FUSE_COMPAT_SETXATTR_IN_SIZE: usize = 8;

/// Size of [`InitIn`] before 7.36 (up to and including `flags`).
pub const FUSE_COMPAT_INIT_IN_SIZE: usize = 16;

/// Most in + out iovecs an unrestricted ioctl may ask for (`FUSE_IOCTL_MAX_IOV`).
pub const FUSE_IOCTL_MAX_IOV: usize = 256;

/// Largest CUSE device info string in `CUSE_INIT` (`CUSE_INIT_INFO_MAX`).
pub const CUSE_INIT_INFO_MAX: usize = 4096;

/// `CuseInitIn::flags`/`CuseInitOut::flags`: unrestricted ioctls (`CUSE_UNRESTRICTED_IOCTL`).
pub const CUSE_UNRESTRICTED_IOCTL: u32 = 1 << 0;

/// Opcode of a byte-swapped `CUSE_INIT` (`CUSE_INIT_BSWAP_RESERVED`): wrong endianness.
pub const CUSE_INIT_BSWAP_RESERVED: u32 = 1_048_576;

/// Opcode of a byte-swapped `FUSE_INIT` (`FUSE_INIT_BSWAP_RESERVED`): wrong endianness.
pub const FUSE_INIT_BSWAP_RESERVED: u32 = 436_207_616;

/// `Attr::flags`: the inode is the root of a submount (since 7.32).
pub const FUSE_ATTR_SUBMOUNT: u32 = 1 << 0;

/// `Attr::flags`: use DAX for this file in per-inode DAX mode (since 7.36).
pub const FUSE_ATTR_DAX: u32 = 1 << 1;

/// `SetupmappingIn::flags`: map the range writable (since 7.31).
pub const FUSE_SETUPMAPPING_FLAG_WRITE: u64 = 1 << 0;

/// `SetupmappingIn::flags`: map the range readable (since 7.31).
pub const FUSE_SETUPMAPPING_FLAG_READ: u64 = 1 << 1;

/// Extension types 0..=31 are `SecctxHeader`s; this is the most contexts one may hold (since 7.38).
pub const FUSE_MAX_NR_SECCTX: u32 = 31;

/// Extension type of a [`SuppGroups`] record (`FUSE_EXT_GROUPS`, since 7.38).
pub const FUSE_EXT_GROUPS: u32 = 32;

/// Bytes reserved for the in/out header in an io_uring entry (since 7.42).
pub const FUSE_URING_IN_OUT_HEADER_SZ: usize = 128;

/// Bytes reserved for the per-opcode argument in an io_uring entry (since 7.42).
pub const FUSE_URING_OP_IN_OUT_SZ: usize = 128;

/// io_uring command: invalid, never sent (`FUSE_IO_URING_CMD_INVALID`, since 7.42).
pub const FUSE_IO_URING_CMD_INVALID: u32 = 0;

/// io_uring command: register an entry and fetch a request (since 7.42).
pub const FUSE_IO_URING_CMD_REGISTER: u32 = 1;

/// io_uring command: commit a reply and fetch the next request (since 7.42).
pub const FUSE_IO_URING_CMD_COMMIT_AND_FETCH: u32 = 2;

// ---------------------------------------------------------------------------
// /dev/fuse ioctls
// ---------------------------------------------------------------------------

/// Type byte of the /dev/fuse ioctls (`FUSE_DEV_IOC_MAGIC`).
pub const FUSE_DEV_IOC_MAGIC: u8 = 229;

// The asm-generic `_IOC` encoding, used by x86, x86_64, arm, aarch64 and
// riscv: bits 0..8 number, 8..16 type, 16..30 argument size, 30..32 direction.
// powerpc, mips and sparc encode differently and are not covered.
const IOC_NONE: libc::c_ulong = 0;
const IOC_WRITE: libc::c_ulong = 1;
const IOC_READ: libc::c_ulong = 2;

const fn ioc(dir: libc::c_ulong, nr: libc::c_ulong, size: usize) -> libc::c_ulong {
    (dir << 30)
        | ((size as libc::c_ulong) << 16)
        | ((FUSE_DEV_IOC_MAGIC as libc::c_ulong) << 8)
        | nr
}

/// `_IOR(229, 0, uint32_t)`: attach a cloned /dev/fuse fd to a session (0x8004e500).
pub const FUSE_DEV_IOC_CLONE: libc::c_ulong = ioc(IOC_READ, 0, 4);

/// `_IOW(229, 1, struct fuse_backing_map)`: register a passthrough backing file (since 7.40).
pub const FUSE_DEV_IOC_BACKING_OPEN: libc::c_ulong = ioc(IOC_WRITE, 1, 16);

/// `_IOW(229, 2, uint32_t)`: drop a passthrough backing id (since 7.40).
pub const FUSE_DEV_IOC_BACKING_CLOSE: libc::c_ulong = ioc(IOC_WRITE, 2, 4);

/// `_IO(229, 3)`: make FUSE_INIT synchronous with mount(2) (since 7.45).
pub const FUSE_DEV_IOC_SYNC_INIT: libc::c_ulong = ioc(IOC_NONE, 3, 0);

// ---------------------------------------------------------------------------
// Opcodes
// ---------------------------------------------------------------------------

macro_rules! opcodes {
    ($($(#[$doc:meta])* $name:ident = $num:literal, since $minor:literal;)+) => {
        /// `enum fuse_opcode`: the operation in `InHeader::opcode`.
        #[repr(u32)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Opcode {
            $($(#[$doc])* $name = $num,)+
        }

        impl Opcode {
            /// Every opcode, in numeric order.
            pub const ALL: &'static [Opcode] = &[$(Opcode::$name),+];

            /// The protocol minor (7.x) that introduced this opcode; 0 for the 7.0 base set.
            pub const fn since_minor(self) -> u32 {
                match self {
                    $(Opcode::$name => $minor,)+
                }
            }
        }

        impl TryFrom<u32> for Opcode {
            type Error = u32;

            /// Maps a raw opcode to [`Opcode`]; an unknown value comes back as the error.
            fn try_from(value: u32) -> Result<Self, Self::Error> {
                match value {
                    $($num => Ok(Opcode::$name),)+
                    other => Err(other),
                }
            }
        }
    };
}

opcodes! {
    /// FUSE_LOOKUP: look up a name in a directory, taking a lookup reference.
    Lookup = 1, since 0;
    /// FUSE_FORGET: drop lookup references; no reply.
    Forget = 2, since 0;
    /// FUSE_GETATTR: read an inode's attributes.
    Getattr = 3, since 0;
    /// FUSE_SETATTR: change an inode's attributes.
    Setattr = 4, since 1;
    /// FUSE_READLINK: read a symlink's target.
    Readlink = 5, since 0;
    /// FUSE_SYMLINK: create a symlink.
    Symlink = 6, since 1;
    /// FUSE_MKNOD: create a file node.
    Mknod = 8, since 1;
    /// FUSE_MKDIR: create a directory.
    Mkdir = 9, since 1;
    /// FUSE_UNLINK: remove a name.
    Unlink = 10, since 1;
    /// FUSE_RMDIR: remove a directory.
    Rmdir = 11, since 1;
    /// FUSE_RENAME: rename a name.
    Rename = 12, since 1;
    /// FUSE_LINK: create a hard link.
    Link = 13, since 1;
    /// FUSE_OPEN: open a file.
    Open = 14, since 1;
    /// FUSE_READ: read from an open file or directory.
    Read = 15, since 1;
    /// FUSE_WRITE: write to an open file.
    Write = 16, since 1;
    /// FUSE_STATFS: file system statistics.
    Statfs = 17, since 0;
    /// FUSE_RELEASE: close an open file.
    Release = 18, since 1;
    /// FUSE_FSYNC: sync an open file.
    Fsync = 20, since 1;
    /// FUSE_SETXATTR: set an extended attribute.
    Setxattr = 21, since 1;
    /// FUSE_GETXATTR: read an extended attribute.
    Getxattr = 22, since 1;
    /// FUSE_LISTXATTR: list extended attribute names.
    Listxattr = 23, since 1;
    /// FUSE_REMOVEXATTR: remove an extended attribute.
    Removexattr = 24, since 1;
    /// FUSE_FLUSH: an fd of an open file was closed.
    Flush = 25, since 1;
    /// FUSE_INIT: version and capability negotiation.
    Init = 26, since 0;
    /// FUSE_OPENDIR: open a directory.
    Opendir = 27, since 1;
    /// FUSE_READDIR: read directory entries.
    Readdir = 28, since 1;
    /// FUSE_RELEASEDIR: close an open directory.
    Releasedir = 29, since 1;
    /// FUSE_FSYNCDIR: sync an open directory.
    Fsyncdir = 30, since 2;
    /// FUSE_GETLK: test for a POSIX lock.
    Getlk = 31, since 7;
    /// FUSE_SETLK: take or release a lock without waiting.
    Setlk = 32, since 7;
    /// FUSE_SETLKW: take a lock, waiting for it.
    Setlkw = 33, since 7;
    /// FUSE_ACCESS: check access permissions.
    Access = 34, since 3;
    /// FUSE_CREATE: create and open a file.
    Create = 35, since 3;
    /// FUSE_INTERRUPT: interrupt a pending request.
    Interrupt = 36, since 7;
    /// FUSE_BMAP: map a file block to a device block.
    Bmap = 37, since 8;
    /// FUSE_DESTROY: the file system is being unmounted.
    Destroy = 38, since 8;
    /// FUSE_IOCTL: an ioctl on an open file.
    Ioctl = 39, since 11;
    /// FUSE_POLL: poll an open file for events.
    Poll = 40, since 11;
    /// FUSE_NOTIFY_REPLY: data answering a NOTIFY_RETRIEVE; no reply.
    NotifyReply = 41, since 15;
    /// FUSE_BATCH_FORGET: drop lookup references on many inodes; no reply.
    BatchForget = 42, since 16;
    /// FUSE_FALLOCATE: allocate or punch file space.
    Fallocate = 43, since 19;
    /// FUSE_READDIRPLUS: read directory entries with their attributes.
    Readdirplus = 44, since 21;
    /// FUSE_RENAME2: rename with `renameat2(2)` flags.
    Rename2 = 45, since 23;
    /// FUSE_LSEEK: find data or holes (SEEK_DATA/SEEK_HOLE).
    Lseek = 46, since 24;
    /// FUSE_COPY_FILE_RANGE: copy between two open files (reply size 32 bits).
    CopyFileRange = 47, since 28;
    /// FUSE_SETUPMAPPING: map file range into the virtio-fs DAX window.
    SetupMapping = 48, since 31;
    /// FUSE_REMOVEMAPPING: unmap ranges of the virtio-fs DAX window.
    RemoveMapping = 49, since 31;
    /// FUSE_SYNCFS: sync the whole file system.
    Syncfs = 50, since 34;
    /// FUSE_TMPFILE: create an unnamed temporary file.
    Tmpfile = 51, since 37;
    /// FUSE_STATX: read an inode's attributes in `statx(2)` form.
    Statx = 52, since 39;
    /// FUSE_COPY_FILE_RANGE_64: copy between open files, 64-bit reply size.
    CopyFileRange64 = 53, since 45;
    /// CUSE_INIT: CUSE negotiation (not supported by our server).
    CuseInit = 4096, since 12;
}

impl From<Opcode> for u32 {
    fn from(op: Opcode) -> u32 {
        op as u32
    }
}

/// `enum fuse_notify_code`: a notification, sent in `OutHeader::error` with `unique == 0`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyOpcode {
    /// FUSE_NOTIFY_POLL: wake up a poll waiter ([`NotifyPollWakeupOut`]).
    Poll = 1,
    /// FUSE_NOTIFY_INVAL_INODE: drop cached data of an inode ([`NotifyInvalInodeOut`]).
    InvalInode = 2,
    /// FUSE_NOTIFY_INVAL_ENTRY: drop a cached name ([`NotifyInvalEntryOut`]).
    InvalEntry = 3,
    /// FUSE_NOTIFY_STORE: push data into the page cache ([`NotifyStoreOut`]).
    Store = 4,
    /// FUSE_NOTIFY_RETRIEVE: ask for page cache data back ([`NotifyRetrieveOut`]).
    Retrieve = 5,
    /// FUSE_NOTIFY_DELETE: a name was deleted ([`NotifyDeleteOut`]).
    Delete = 6,
    /// FUSE_NOTIFY_RESEND: resend all pending requests; no body (since 7.40).
    Resend = 7,
    /// FUSE_NOTIFY_INC_EPOCH: bump the epoch, staling cached dentries; no body (since 7.44).
    IncEpoch = 8,
    /// FUSE_NOTIFY_PRUNE: drop unused cached inodes ([`NotifyPruneOut`], since 7.45).
    Prune = 9,
}

impl NotifyOpcode {
    /// The protocol minor (7.x) that introduced this notification.
    pub const fn since_minor(self) -> u32 {
        match self {
            NotifyOpcode::Poll => 11,
            NotifyOpcode::InvalInode | NotifyOpcode::InvalEntry => 12,
            NotifyOpcode::Store | NotifyOpcode::Retrieve => 15,
            NotifyOpcode::Delete => 18,
            NotifyOpcode::Resend => 40,
            NotifyOpcode::IncEpoch => 44,
            NotifyOpcode::Prune => 45,
        }
    }
}

impl TryFrom<i32> for NotifyOpcode {
    type Error = i32;

    fn try_from(value: i32) -> Result<Self, Self::Error> {
        Ok(match value {
            1 => NotifyOpcode::Poll,
            2 => NotifyOpcode::InvalInode,
            3 => NotifyOpcode::InvalEntry,
            4 => NotifyOpcode::Store,
            5 => NotifyOpcode::Retrieve,
            6 => NotifyOpcode::Delete,
            7 => NotifyOpcode::Resend,
            8 => NotifyOpcode::IncEpoch,
            9 => NotifyOpcode::Prune,
            other => return Err(other),
        })
    }
}

// ---------------------------------------------------------------------------
// Flag sets
// ---------------------------------------------------------------------------

bitflags::bitflags! {
    /// INIT flags (`FUSE_ASYNC_READ`...): `flags | flags2 << 32` of [`InitIn`]/[`InitOut`].
    ///
    /// Bits 32..64 travel in `flags2` and exist only when both sides set
    /// [`FsOptions::INIT_EXT`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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
        /// FUSE_SETXATTR_EXT: the server takes the 16-byte [`SetxattrIn`] (since 7.33).
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
        /// FUSE_HAS_RESEND: the kernel may resend requests, see [`FUSE_UNIQUE_RESEND`] (since 7.40).
        const HAS_RESEND = 1 << 39;
        /// FUSE_ALLOW_IDMAP: idmapped mounts are allowed (since 7.41).
        const ALLOW_IDMAP = 1 << 40;
        /// FUSE_OVER_IO_URING: requests may be served over io_uring (since 7.42).
        const OVER_IO_URING = 1 << 41;
        /// FUSE_REQUEST_TIMEOUT: `InitOut::request_timeout` is valid (since 7.43).
        const REQUEST_TIMEOUT = 1 << 42;
    }

    /// `FOPEN_*`: flags in `OpenOut::open_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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

    /// `FATTR_*`: which fields of [`SetattrIn`] are valid.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ReleaseFlags: u32 {
        /// FUSE_RELEASE_FLUSH: flush before releasing.
        const FLUSH = 1 << 0;
        /// FUSE_RELEASE_FLOCK_UNLOCK: drop flock locks held through this handle.
        const FLOCK_UNLOCK = 1 << 1;
    }

    /// `FUSE_GETATTR_*`: flags in `GetattrIn::getattr_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct GetattrFlags: u32 {
        /// FUSE_GETATTR_FH: `fh` is valid.
        const FH = 1 << 0;
    }

    /// `FUSE_READ_*`: flags in `ReadIn::read_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ReadFlags: u32 {
        /// FUSE_READ_LOCKOWNER: `lock_owner` is valid.
        const LOCKOWNER = 1 << 1;
    }

    /// `FUSE_LK_*`: flags in `LkIn::lk_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct LkFlags: u32 {
        /// FUSE_LK_FLOCK: a BSD flock lock, not a POSIX lock.
        const FLOCK = 1 << 0;
    }

    /// `FUSE_IOCTL_*`: flags in `IoctlIn::flags` and `IoctlOut::flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
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
    }

    /// `FUSE_FSYNC_*`: flags in `FsyncIn::fsync_flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FsyncFlags: u32 {
        /// FUSE_FSYNC_FDATASYNC: sync data only, not metadata.
        const FDATASYNC = 1 << 0;
    }

    /// `FUSE_SETXATTR_*`: flags in `SetxattrIn::setxattr_flags` (since 7.33).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SetxattrFlags: u32 {
        /// FUSE_SETXATTR_ACL_KILL_SGID: clear sgid when setting system.posix_acl_access.
        const ACL_KILL_SGID = 1 << 0;
    }

    /// `FUSE_OPEN_*`: flags in `OpenIn::open_flags`/`CreateIn::open_flags` (since 7.33).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct OpenInFlags: u32 {
        /// FUSE_OPEN_KILL_SUIDGID: clear suid/sgid if the file is executable.
        const KILL_SUIDGID = 1 << 0;
    }

    /// `FUSE_POLL_*`: flags in `PollIn::flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct PollFlags: u32 {
        /// FUSE_POLL_SCHEDULE_NOTIFY: send NOTIFY_POLL when the file becomes ready.
        const SCHEDULE_NOTIFY = 1 << 0;
    }

    /// `FUSE_ATTR_*`: flags in `Attr::flags` (since 7.32).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct AttrFlags: u32 {
        /// FUSE_ATTR_SUBMOUNT: the inode is the root of a submount.
        const SUBMOUNT = FUSE_ATTR_SUBMOUNT;
        /// FUSE_ATTR_DAX: use DAX for this file (since 7.36).
        const DAX = FUSE_ATTR_DAX;
    }

    /// Flags in `NotifyInvalEntryOut::flags` (since 7.38).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct ExpireFlags: u32 {
        /// FUSE_EXPIRE_ONLY: expire the entry's timeout instead of dropping it.
        const EXPIRE_ONLY = 1 << 0;
    }
}

// ---------------------------------------------------------------------------
// Shared building blocks
// ---------------------------------------------------------------------------

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
    /// [`AttrFlags`] bits (since 7.32; padding before).
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

// ---------------------------------------------------------------------------
// Headers
// ---------------------------------------------------------------------------

/// `struct fuse_in_header`: starts every request.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct InHeader {
    /// Length of the request, header included.
    pub len: u32,
    /// Raw [`Opcode`].
    pub opcode: u32,
    /// Request id, echoed in the reply; see [`FUSE_UNIQUE_RESEND`].
    pub unique: u64,
    /// Inode the request is about.
    pub nodeid: u64,
    /// Caller's fsuid.
    pub uid: u32,
    /// Caller's fsgid.
    pub gid: u32,
    /// Caller's thread group id.
    pub pid: u32,
    /// Length of the extensions after the arguments, in 8-byte units (since 7.38).
    pub total_extlen: u16,
    /// Padding.
    pub padding: u16,
}

/// `struct fuse_out_header`: starts every reply and notification.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct OutHeader {
    /// Length of the reply, header included.
    pub len: u32,
    /// Zero or a negated errno; a [`NotifyOpcode`] when `unique` is zero.
    pub error: i32,
    /// The request's `unique`, or zero for a notification.
    pub unique: u64,
}

wire!(InHeader, 40; OutHeader, 16);

// ---------------------------------------------------------------------------
// Lookup, attributes and inode lifetime
// ---------------------------------------------------------------------------

/// `struct fuse_entry_out`: reply to LOOKUP and the create family.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct EntryOut {
    /// Node id of the entry (0 caches a negative entry).
    pub nodeid: u64,
    /// Inode generation; `nodeid` + `generation` are unique for the mount's life.
    pub generation: u64,
    /// Name cache timeout, seconds.
    pub entry_valid: u64,
    /// Attribute cache timeout, seconds.
    pub attr_valid: u64,
    /// Name cache timeout, nanoseconds.
    pub entry_valid_nsec: u32,
    /// Attribute cache timeout, nanoseconds.
    pub attr_valid_nsec: u32,
    /// The entry's attributes.
    pub attr: Attr,
}

/// `struct fuse_forget_in`: argument of FORGET.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct ForgetIn {
    /// Lookup references to drop.
    pub nlookup: u64,
}

/// `struct fuse_forget_one`: one inode in a BATCH_FORGET.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct ForgetOne {
    /// Inode to release.
    pub nodeid: u64,
    /// Lookup references to drop.
    pub nlookup: u64,
}

/// `struct fuse_batch_forget_in`: argument of BATCH_FORGET; `count` [`ForgetOne`] follow.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct BatchForgetIn {
    /// Number of [`ForgetOne`] records that follow.
    pub count: u32,
    /// Padding.
    pub dummy: u32,
}

/// `struct fuse_getattr_in`: argument of GETATTR.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct GetattrIn {
    /// [`GetattrFlags`] bits.
    pub getattr_flags: u32,
    /// Padding.
    pub dummy: u32,
    /// Open file handle, valid with [`GetattrFlags::FH`].
    pub fh: u64,
}

/// `struct fuse_attr_out`: reply to GETATTR and SETATTR.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct AttrOut {
    /// Attribute cache timeout, seconds.
    pub attr_valid: u64,
    /// Attribute cache timeout, nanoseconds.
    pub attr_valid_nsec: u32,
    /// Padding.
    pub dummy: u32,
    /// The attributes.
    pub attr: Attr,
}

/// `struct fuse_statx_in`: argument of STATX (since 7.39).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct StatxIn {
    /// [`GetattrFlags`] bits.
    pub getattr_flags: u32,
    /// Reserved.
    pub reserved: u32,
    /// Open file handle, valid with [`GetattrFlags::FH`].
    pub fh: u64,
    /// `AT_STATX_*` sync flags of the caller.
    pub sx_flags: u32,
    /// `STATX_*` fields the caller wants.
    pub sx_mask: u32,
}

/// `struct fuse_statx_out`: reply to STATX (since 7.39).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct StatxOut {
    /// Attribute cache timeout, seconds.
    pub attr_valid: u64,
    /// Attribute cache timeout, nanoseconds.
    pub attr_valid_nsec: u32,
    /// [`AttrFlags`] bits.
    pub flags: u32,
    /// Reserved.
    pub spare: [u64; 2],
    /// The attributes.
    pub stat: Statx,
}

/// `struct fuse_setattr_in`: argument of SETATTR.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct SetattrIn {
    /// [`SetattrValid`] bits naming the fields to apply.
    pub valid: u32,
    /// Padding.
    pub padding: u32,
    /// Open file handle, with [`SetattrValid::FH`].
    pub fh: u64,
    /// New size.
    pub size: u64,
    /// Lock owner, with [`SetattrValid::LOCKOWNER`].
    pub lock_owner: u64,
    /// New access time, seconds.
    pub atime: u64,
    /// New modification time, seconds.
    pub mtime: u64,
    /// New status change time, seconds.
    pub ctime: u64,
    /// New access time, nanoseconds.
    pub atimensec: u32,
    /// New modification time, nanoseconds.
    pub mtimensec: u32,
    /// New status change time, nanoseconds.
    pub ctimensec: u32,
    /// New mode.
    pub mode: u32,
    /// Unused.
    pub unused4: u32,
    /// New owner uid.
    pub uid: u32,
    /// New owner gid.
    pub gid: u32,
    /// Unused.
    pub unused5: u32,
}

wire!(
    EntryOut, 128;
    ForgetIn, 8;
    ForgetOne, 16;
    BatchForgetIn, 8;
    GetattrIn, 16;
    AttrOut, 104;
    StatxIn, 24;
    StatxOut, 288;
    SetattrIn, 88;
);

// ---------------------------------------------------------------------------
// Namespace operations
// ---------------------------------------------------------------------------

/// `struct fuse_mknod_in`: argument of MKNOD; the name follows.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct MknodIn {
    /// File type and permission bits.
    pub mode: u32,
    /// Device number, kernel `new_encode_dev` form.
    pub rdev: u32,
    /// Caller's umask.
    pub umask: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_mkdir_in`: argument of MKDIR; the name follows.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct MkdirIn {
    /// Permission bits.
    pub mode: u32,
    /// Caller's umask.
    pub umask: u32,
}

/// `struct fuse_rename_in`: argument of RENAME; old and new names follow.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct RenameIn {
    /// Node id of the target directory.
    pub newdir: u64,
}

/// `struct fuse_rename2_in`: argument of RENAME2; old and new names follow.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct Rename2In {
    /// Node id of the target directory.
    pub newdir: u64,
    /// `RENAME_*` flags of `renameat2(2)`.
    pub flags: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_link_in`: argument of LINK; the new name follows.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct LinkIn {
    /// Node id of the inode to link.
    pub oldnodeid: u64,
}

wire!(MknodIn, 16; MkdirIn, 8; RenameIn, 8; Rename2In, 16; LinkIn, 8);

// ---------------------------------------------------------------------------
// Open files
// ---------------------------------------------------------------------------

/// `struct fuse_open_in`: argument of OPEN and OPENDIR.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct OpenIn {
    /// `open(2)` flags.
    pub flags: u32,
    /// [`OpenInFlags`] bits (since 7.33; unused before).
    pub open_flags: u32,
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
    /// [`OpenInFlags`] bits (since 7.33; padding before).
    pub open_flags: u32,
}

/// `struct fuse_open_out`: reply to OPEN and OPENDIR, second part of the CREATE reply.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct OpenOut {
    /// File handle chosen by the server.
    pub fh: u64,
    /// [`OpenOptions`] bits.
    pub open_flags: u32,
    /// Backing file id, with [`OpenOptions::PASSTHROUGH`] (since 7.40; padding before).
    pub backing_id: i32,
}

/// `struct fuse_release_in`: argument of RELEASE and RELEASEDIR.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct ReleaseIn {
    /// File handle.
    pub fh: u64,
    /// `open(2)` flags of the handle.
    pub flags: u32,
    /// [`ReleaseFlags`] bits.
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
    /// [`ReadFlags`] bits.
    pub read_flags: u32,
    /// Lock owner, with [`ReadFlags::LOCKOWNER`].
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
    /// [`WriteFlags`] bits.
    pub write_flags: u32,
    /// Lock owner, with [`WriteFlags::LOCKOWNER`].
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
    /// [`FsyncFlags`] bits.
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
    /// Source offset.
    pub off_in: u64,
    /// Destination inode.
    pub nodeid_out: u64,
    /// Destination file handle.
    pub fh_out: u64,
    /// Destination offset.
    pub off_out: u64,
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

// ---------------------------------------------------------------------------
// Extended attributes, access, locks
// ---------------------------------------------------------------------------

/// `struct fuse_setxattr_in`: argument of SETXATTR; name and value follow.
///
/// Only the first [`FUSE_COMPAT_SETXATTR_IN_SIZE`] bytes are sent unless the
/// server negotiated [`FsOptions::SETXATTR_EXT`].
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct SetxattrIn {
    /// Length of the value.
    pub size: u32,
    /// `XATTR_CREATE`/`XATTR_REPLACE`.
    pub flags: u32,
    /// [`SetxattrFlags`] bits (since 7.33, with SETXATTR_EXT).
    pub setxattr_flags: u32,
    /// Padding (since 7.33, with SETXATTR_EXT).
    pub padding: u32,
}

/// `struct fuse_getxattr_in`: argument of GETXATTR (name follows) and LISTXATTR.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct GetxattrIn {
    /// Buffer size; 0 asks for the needed size.
    pub size: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_getxattr_out`: reply to a GETXATTR/LISTXATTR size query.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct GetxattrOut {
    /// Size needed for the value or list.
    pub size: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_access_in`: argument of ACCESS.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct AccessIn {
    /// `R_OK`/`W_OK`/`X_OK`/`F_OK` mask.
    pub mask: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_lk_in`: argument of GETLK, SETLK and SETLKW.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct LkIn {
    /// File handle.
    pub fh: u64,
    /// Lock owner.
    pub owner: u64,
    /// The lock.
    pub lk: FileLock,
    /// [`LkFlags`] bits.
    pub lk_flags: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_lk_out`: reply to GETLK.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct LkOut {
    /// A conflicting lock, or `F_UNLCK`.
    pub lk: FileLock,
}

wire!(SetxattrIn, 16; GetxattrIn, 8; GetxattrOut, 8; AccessIn, 8; LkIn, 48; LkOut, 24);

// ---------------------------------------------------------------------------
// INIT and CUSE_INIT
// ---------------------------------------------------------------------------

/// `struct fuse_init_in`: argument of INIT.
///
/// Kernels before 7.36 send only the first [`FUSE_COMPAT_INIT_IN_SIZE`] bytes.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct InitIn {
    /// Kernel's major version.
    pub major: u32,
    /// Kernel's minor version.
    pub minor: u32,
    /// Largest readahead the kernel will do.
    pub max_readahead: u32,
    /// Low 32 bits of the kernel's [`FsOptions`].
    pub flags: u32,
    /// High 32 bits of the kernel's [`FsOptions`], with INIT_EXT (since 7.36).
    pub flags2: u32,
    /// Reserved (since 7.36).
    pub unused: [u32; 11],
}

impl InitIn {
    /// Returns `flags | flags2 << 32`.
    ///
    /// `flags2` is meaningful only when `flags` has [`FsOptions::INIT_EXT`];
    /// the caller must check that bit (and that the body was long enough to
    /// hold `flags2`) before trusting the high half.
    pub fn flags64(&self) -> u64 {
        u64::from(self.flags) | (u64::from(self.flags2) << 32)
    }
}

/// `struct fuse_init_out`: reply to INIT.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct InitOut {
    /// Server's major version.
    pub major: u32,
    /// Server's minor version.
    pub minor: u32,
    /// Largest readahead the server wants.
    pub max_readahead: u32,
    /// Low 32 bits of the accepted [`FsOptions`].
    pub flags: u32,
    /// Most background requests in flight.
    pub max_background: u16,
    /// Background requests at which the kernel reports congestion.
    pub congestion_threshold: u16,
    /// Largest WRITE payload.
    pub max_write: u32,
    /// Timestamp granularity in nanoseconds.
    pub time_gran: u32,
    /// Most pages in one request, with MAX_PAGES (since 7.28).
    pub max_pages: u16,
    /// log2 of the DAX mapping alignment, with MAP_ALIGNMENT (since 7.31).
    pub map_alignment: u16,
    /// High 32 bits of the accepted [`FsOptions`], with INIT_EXT (since 7.36).
    pub flags2: u32,
    /// Passthrough backing file stacking depth, with PASSTHROUGH (since 7.40).
    pub max_stack_depth: u32,
    /// Request timeout in seconds, with REQUEST_TIMEOUT (since 7.43).
    pub request_timeout: u16,
    /// Reserved.
    pub unused: [u16; 11],
}

/// `struct cuse_init_in`: argument of CUSE_INIT.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct CuseInitIn {
    /// Kernel's major version.
    pub major: u32,
    /// Kernel's minor version.
    pub minor: u32,
    /// Unused.
    pub unused: u32,
    /// CUSE flags ([`CUSE_UNRESTRICTED_IOCTL`]).
    pub flags: u32,
}

/// `struct cuse_init_out`: reply to CUSE_INIT; the device info string follows.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct CuseInitOut {
    /// Server's major version.
    pub major: u32,
    /// Server's minor version.
    pub minor: u32,
    /// Unused.
    pub unused: u32,
    /// CUSE flags.
    pub flags: u32,
    /// Largest read.
    pub max_read: u32,
    /// Largest write.
    pub max_write: u32,
    /// Character device major.
    pub dev_major: u32,
    /// Character device minor.
    pub dev_minor: u32,
    /// Reserved.
    pub spare: [u32; 10],
}

wire!(InitIn, 64; InitOut, 64; CuseInitIn, 16; CuseInitOut, 72);

// ---------------------------------------------------------------------------
// Interrupt, bmap, ioctl, poll
// ---------------------------------------------------------------------------

/// `struct fuse_interrupt_in`: argument of INTERRUPT.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct InterruptIn {
    /// `unique` of the request to interrupt.
    pub unique: u64,
}

/// `struct fuse_bmap_in`: argument of BMAP.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct BmapIn {
    /// File block.
    pub block: u64,
    /// Block size.
    pub blocksize: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_bmap_out`: reply to BMAP.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct BmapOut {
    /// Device block.
    pub block: u64,
}

/// `struct fuse_ioctl_in`: argument of IOCTL; `in_size` bytes of input follow.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct IoctlIn {
    /// File handle.
    pub fh: u64,
    /// [`IoctlFlags`] bits.
    pub flags: u32,
    /// ioctl command.
    pub cmd: u32,
    /// ioctl argument (a caller address for pointer arguments).
    pub arg: u64,
    /// Bytes of input data.
    pub in_size: u32,
    /// Largest output the caller accepts.
    pub out_size: u32,
}

/// `struct fuse_ioctl_iovec`: one iovec of an unrestricted ioctl retry.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct IoctlIovec {
    /// Caller address.
    pub base: u64,
    /// Length.
    pub len: u64,
}

/// `struct fuse_ioctl_out`: reply to IOCTL; iovecs or output data follow.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct IoctlOut {
    /// ioctl return value.
    pub result: i32,
    /// [`IoctlFlags`] bits ([`IoctlFlags::RETRY`] asks for a retry).
    pub flags: u32,
    /// Input iovecs that follow, on retry.
    pub in_iovs: u32,
    /// Output iovecs that follow, on retry.
    pub out_iovs: u32,
}

/// `struct fuse_poll_in`: argument of POLL.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct PollIn {
    /// File handle.
    pub fh: u64,
    /// Kernel handle, echoed by NOTIFY_POLL.
    pub kh: u64,
    /// [`PollFlags`] bits.
    pub flags: u32,
    /// Requested `POLL*` events.
    pub events: u32,
}

/// `struct fuse_poll_out`: reply to POLL.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct PollOut {
    /// Ready `POLL*` events.
    pub revents: u32,
    /// Padding.
    pub padding: u32,
}

wire!(
    InterruptIn, 8;
    BmapIn, 16;
    BmapOut, 8;
    IoctlIn, 32;
    IoctlIovec, 16;
    IoctlOut, 16;
    PollIn, 24;
    PollOut, 8;
);

// ---------------------------------------------------------------------------
// Directory entries
// ---------------------------------------------------------------------------

/// Offset of the name in a [`Dirent`] record (`FUSE_NAME_OFFSET`).
pub const FUSE_NAME_OFFSET: usize = 24;

/// Offset of the name in a [`Direntplus`] record (`FUSE_NAME_OFFSET_DIRENTPLUS`).
pub const FUSE_NAME_OFFSET_DIRENTPLUS: usize = 152;

/// `struct fuse_dirent`: header of one READDIR record; `namelen` name bytes follow,
/// then padding to 8 bytes.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct Dirent {
    /// Inode number.
    pub ino: u64,
    /// Cookie of the next entry.
    pub off: u64,
    /// Length of the name.
    pub namelen: u32,
    /// `DT_*` type (`type` in C).
    pub type_: u32,
}

impl Dirent {
    /// Rounds `len` up to the 8-byte record alignment (`FUSE_DIRENT_ALIGN`).
    ///
    /// `len` is a record size (a header plus a name of at most a few KiB), so
    /// the addition cannot overflow in practice.
    pub const fn align(len: usize) -> usize {
        (len + 7) & !7
    }
}

/// `struct fuse_direntplus`: header of one READDIRPLUS record; the name follows.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct Direntplus {
    /// Entry and attributes, as in a LOOKUP reply.
    pub entry_out: EntryOut,
    /// The directory entry.
    pub dirent: Dirent,
}

wire!(Dirent, 24; Direntplus, 152);

// ---------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------

/// `struct fuse_notify_poll_wakeup_out`: body of NOTIFY_POLL.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct NotifyPollWakeupOut {
    /// `PollIn::kh` of the poll to wake.
    pub kh: u64,
}

/// `struct fuse_notify_inval_inode_out`: body of NOTIFY_INVAL_INODE.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct NotifyInvalInodeOut {
    /// Inode.
    pub ino: u64,
    /// Start of the range; negative invalidates attributes only.
    pub off: i64,
    /// Length of the range; 0 or less means to the end.
    pub len: i64,
}

/// `struct fuse_notify_inval_entry_out`: body of NOTIFY_INVAL_ENTRY; the name follows.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct NotifyInvalEntryOut {
    /// Parent directory.
    pub parent: u64,
    /// Length of the name.
    pub namelen: u32,
    /// [`ExpireFlags`] bits (since 7.38; padding before).
    pub flags: u32,
}

/// `struct fuse_notify_delete_out`: body of NOTIFY_DELETE; the name follows.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct NotifyDeleteOut {
    /// Parent directory.
    pub parent: u64,
    /// Deleted inode.
    pub child: u64,
    /// Length of the name.
    pub namelen: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_notify_store_out`: body of NOTIFY_STORE; `size` data bytes follow.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct NotifyStoreOut {
    /// Inode.
    pub nodeid: u64,
    /// Offset in the file.
    pub offset: u64,
    /// Bytes of data.
    pub size: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_notify_retrieve_out`: body of NOTIFY_RETRIEVE.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct NotifyRetrieveOut {
    /// Id echoed as `unique` of the NOTIFY_REPLY.
    pub notify_unique: u64,
    /// Inode.
    pub nodeid: u64,
    /// Offset in the file.
    pub offset: u64,
    /// Bytes wanted.
    pub size: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_notify_retrieve_in`: argument of the NOTIFY_REPLY answering a retrieve.
///
/// Same size as [`WriteIn`]; the data follows.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct NotifyRetrieveIn {
    /// Unused.
    pub dummy1: u64,
    /// Offset of the data.
    pub offset: u64,
    /// Bytes of data.
    pub size: u32,
    /// Unused.
    pub dummy2: u32,
    /// Unused.
    pub dummy3: u64,
    /// Unused.
    pub dummy4: u64,
}

/// `struct fuse_notify_prune_out`: body of NOTIFY_PRUNE; `count` node ids (u64) follow (since 7.45).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct NotifyPruneOut {
    /// Number of node ids that follow.
    pub count: u32,
    /// Padding.
    pub padding: u32,
    /// Reserved.
    pub spare: u64,
}

wire!(
    NotifyPollWakeupOut, 8;
    NotifyInvalInodeOut, 24;
    NotifyInvalEntryOut, 16;
    NotifyDeleteOut, 24;
    NotifyStoreOut, 24;
    NotifyRetrieveOut, 32;
    NotifyRetrieveIn, 40;
    NotifyPruneOut, 16;
);

// ---------------------------------------------------------------------------
// Request extensions (security contexts, supplementary groups)
// ---------------------------------------------------------------------------

/// `struct fuse_secctx`: one security context; its name and label follow (since 7.36).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct Secctx {
    /// Size of the label.
    pub size: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_secctx_header`: starts the security context extension (since 7.36).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct SecctxHeader {
    /// Total size of the contexts, this header included.
    pub size: u32,
    /// Number of contexts, at most [`FUSE_MAX_NR_SECCTX`].
    pub nr_secctx: u32,
}

/// `struct fuse_ext_header`: starts one request extension (since 7.38).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct ExtHeader {
    /// Size of the extension, this header included.
    pub size: u32,
    /// Extension type, above [`FUSE_MAX_NR_SECCTX`] (`type` in C).
    pub type_: u32,
}

/// `struct fuse_supp_groups`: body of a [`FUSE_EXT_GROUPS`] extension; `nr_groups`
/// u32 gids follow (since 7.38).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct SuppGroups {
    /// Number of gids that follow.
    pub nr_groups: u32,
}

wire!(Secctx, 8; SecctxHeader, 8; ExtHeader, 8; SuppGroups, 4);

// ---------------------------------------------------------------------------
// Passthrough and io_uring
// ---------------------------------------------------------------------------

/// `struct fuse_backing_map`: argument of [`FUSE_DEV_IOC_BACKING_OPEN`] (since 7.40).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct BackingMap {
    /// Open fd of the backing file.
    pub fd: i32,
    /// Flags, zero.
    pub flags: u32,
    /// Padding.
    pub padding: u64,
}

/// `struct fuse_uring_ent_in_out`: trailer of a [`UringReqHeader`] (since 7.42).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct UringEntInOut {
    /// Flags.
    pub flags: u64,
    /// Id to echo in `UringCmdReq::commit_id` when committing the reply.
    pub commit_id: u64,
    /// Bytes used in the payload buffer.
    pub payload_sz: u32,
    /// Padding.
    pub padding: u32,
    /// Reserved.
    pub reserved: u64,
}

/// `struct fuse_uring_req_header`: per-entry header buffer of FUSE over io_uring (since 7.42).
#[repr(C)]
#[derive(Debug, Copy, Clone, PartialEq, Eq)]
pub struct UringReqHeader {
    /// [`InHeader`] on fetch, [`OutHeader`] on commit.
    pub in_out: [u8; FUSE_URING_IN_OUT_HEADER_SZ],
    /// The opcode's fixed-size argument.
    pub op_in: [u8; FUSE_URING_OP_IN_OUT_SZ],
    /// Entry bookkeeping.
    pub ring_ent_in_out: UringEntInOut,
}

impl Default for UringReqHeader {
    fn default() -> Self {
        UringReqHeader {
            in_out: [0; FUSE_URING_IN_OUT_HEADER_SZ],
            op_in: [0; FUSE_URING_OP_IN_OUT_SZ],
            ring_ent_in_out: UringEntInOut::default(),
        }
    }
}

/// `struct fuse_uring_cmd_req`: the 80-byte SQE command area of FUSE over io_uring (since 7.42).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct UringCmdReq {
    /// Flags.
    pub flags: u64,
    /// Entry being committed (`UringEntInOut::commit_id`).
    pub commit_id: u64,
    /// Queue index (the CPU the queue serves).
    pub qid: u16,
    /// Padding.
    pub padding: [u8; 6],
}

wire!(BackingMap, 16; UringEntInOut, 32; UringReqHeader, 288; UringCmdReq, 24);

// ---------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------

impl Attr {
    /// Builds an [`Attr`] from a host `stat64`, with `flags` as [`AttrFlags`] bits.
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

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layouts_that_changed_across_minors() {
        assert_eq!(offset_of!(InitIn, flags2), 16);
        assert_eq!(offset_of!(InitIn, flags2), FUSE_COMPAT_INIT_IN_SIZE);
        assert_eq!(offset_of!(InHeader, total_extlen), 36);
        assert_eq!(offset_of!(OpenOut, backing_id), 12);
        assert_eq!(offset_of!(EntryOut, attr), 40);
        assert_eq!(offset_of!(Attr, flags), 84);
        assert_eq!(offset_of!(InitOut, max_pages), 28);
        assert_eq!(offset_of!(InitOut, flags2), 32);
        assert_eq!(offset_of!(InitOut, max_stack_depth), 36);
        assert_eq!(offset_of!(InitOut, request_timeout), 40);
        assert_eq!(offset_of!(SetxattrIn, setxattr_flags), 8);
        assert_eq!(offset_of!(NotifyInvalEntryOut, flags), 12);
        assert_eq!(offset_of!(StatxOut, stat), 32);
        assert_eq!(offset_of!(UringReqHeader, ring_ent_in_out), 256);
    }

    #[test]
    fn compat_sizes_are_prefixes() {
        assert_eq!(FUSE_COMPAT_ENTRY_OUT_SIZE, size_of::<EntryOut>() - 8);
        assert_eq!(FUSE_COMPAT_ATTR_OUT_SIZE, size_of::<AttrOut>() - 8);
        assert_eq!(FUSE_COMPAT_MKNOD_IN_SIZE, offset_of!(MknodIn, umask));
        assert_eq!(FUSE_COMPAT_WRITE_IN_SIZE, offset_of!(WriteIn, lock_owner));
        assert_eq!(FUSE_COMPAT_STATFS_SIZE, offset_of!(Kstatfs, frsize));
        assert_eq!(
            FUSE_COMPAT_INIT_OUT_SIZE,
            offset_of!(InitOut, max_readahead)
        );
        assert_eq!(FUSE_COMPAT_22_INIT_OUT_SIZE, offset_of!(InitOut, time_gran));
        assert_eq!(
            FUSE_COMPAT_SETXATTR_IN_SIZE,
            offset_of!(SetxattrIn, setxattr_flags)
        );
        assert_eq!(FUSE_NAME_OFFSET, size_of::<Dirent>());
        assert_eq!(FUSE_NAME_OFFSET_DIRENTPLUS, size_of::<Direntplus>());
        assert_eq!(size_of::<NotifyRetrieveIn>(), size_of::<WriteIn>());
    }

    #[test]
    fn dev_ioctl_numbers() {
        assert_eq!(FUSE_DEV_IOC_CLONE, 0x8004_e500);
        assert_eq!(FUSE_DEV_IOC_BACKING_OPEN, 0x4010_e501);
        assert_eq!(FUSE_DEV_IOC_BACKING_CLOSE, 0x4004_e502);
        assert_eq!(FUSE_DEV_IOC_SYNC_INIT, 0x0000_e503);
    }

    #[test]
    fn opcode_round_trip() {
        for &op in Opcode::ALL {
            assert_eq!(Opcode::try_from(op as u32), Ok(op));
            assert!(op.since_minor() <= KERNEL_MINOR_VERSION);
        }
        assert_eq!(Opcode::ALL.len(), 52);
        assert_eq!(Opcode::try_from(7), Err(7));
        assert_eq!(Opcode::try_from(54), Err(54));
        assert_eq!(
            Opcode::try_from(FUSE_INIT_BSWAP_RESERVED),
            Err(FUSE_INIT_BSWAP_RESERVED)
        );
        assert_eq!(Opcode::CopyFileRange64.since_minor(), 45);
        for code in 1..=9 {
            assert_eq!(NotifyOpcode::try_from(code).map(|n| n as i32), Ok(code));
        }
        assert_eq!(NotifyOpcode::try_from(10), Err(10));
    }

    #[test]
    fn init_flags_split() {
        let init = InitIn {
            flags: (FsOptions::INIT_EXT | FsOptions::ASYNC_READ).bits() as u32,
            flags2: ((FsOptions::OVER_IO_URING | FsOptions::PASSTHROUGH).bits() >> 32) as u32,
            ..InitIn::default()
        };
        let opts = FsOptions::from_bits_retain(init.flags64());
        assert!(opts.contains(FsOptions::INIT_EXT | FsOptions::OVER_IO_URING));
        assert!(opts.contains(FsOptions::PASSTHROUGH | FsOptions::ASYNC_READ));
        assert_eq!(FsOptions::PERFILE_DAX, FsOptions::HAS_INODE_DAX);
        assert_eq!(FsOptions::REQUEST_TIMEOUT.bits(), 1 << 42);
    }

    #[test]
    fn dirent_align() {
        assert_eq!(Dirent::align(0), 0);
        assert_eq!(Dirent::align(25), 32);
        assert_eq!(Dirent::align(32), 32);
        assert_eq!(Dirent::align(FUSE_NAME_OFFSET + 1), 32);
    }
}
