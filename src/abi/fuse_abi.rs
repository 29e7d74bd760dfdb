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

mod attr;
mod dir;
mod entry;
mod ext;
mod flags;
mod header;
mod init;
mod io;
mod ioctl;
mod lock;
mod notify;
mod opcode;
#[cfg(test)]
mod tests;
mod upstream;
mod uring;
mod xattr;

pub use self::attr::*;
pub use self::dir::*;
pub use self::entry::*;
pub use self::ext::*;
pub use self::flags::*;
pub use self::header::*;
pub use self::init::*;
pub use self::io::*;
pub use self::ioctl::*;
pub use self::lock::*;
pub use self::notify::*;
pub use self::opcode::*;
pub use self::uring::*;
pub use self::xattr::*;

pub(in crate::abi) use self::upstream::from_bits_unchecked;
pub use self::upstream::{
    InitIn2, Notify_Retrieve_Out, ATTR_SUBMOUNT, FATTR_FH, FATTR_LOCKOWNER, FOPEN_IN_KILL_SUIDGID,
    FSYNC_FDATASYNC, GETATTR_FH, KERNEL_MINOR_VERSION_INIT_22_OUT_SIZE,
    KERNEL_MINOR_VERSION_INIT_OUT_SIZE, KERNEL_MINOR_VERSION_LOOKUP_NEGATIVE_ENTRY_ZERO, LK_FLOCK,
    POLL_SCHEDULE_NOTIFY, READ_LOCKOWNER, RELEASE_FLOCK_UNLOCK, RELEASE_FLUSH, WRITE_CACHE,
    WRITE_KILL_PRIV, WRITE_LOCKOWNER,
};

/// libc types and functions fuse-backend-rs re-exported from this module.
pub use libc::{
    blksize_t, dev_t, ino64_t, mode_t, nlink_t, off64_t, pread64, preadv64, pwrite64, pwritev64,
    stat64, statvfs64,
};

// ---------------------------------------------------------------------------
// Versions and limits
// ---------------------------------------------------------------------------

/// Major version of the FUSE protocol (`FUSE_KERNEL_VERSION`).
pub const KERNEL_VERSION: u32 = 7;

/// Newest minor version we implement (`FUSE_KERNEL_MINOR_VERSION`).
///
/// fuse-backend-rs 0.14 had 33 here, the minor it spoke; INIT replies with
/// the smaller of this and the kernel's minor (see docs/compat.md).
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

/// Size of [`SetxattrIn`], the SETXATTR argument without FUSE_SETXATTR_EXT (the
/// first two fields of [`SetxattrInExt`]).
pub const FUSE_COMPAT_SETXATTR_IN_SIZE: usize = 8;

/// Size of [`InitIn`], the whole INIT argument of kernels before 7.36 ([`InitInExt`]
/// up to and including `flags`).
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
