//! Names and conversions that fuse-backend-rs 0.14 code uses, beside the fuse.h ones.
//!
//! fuse-backend-rs spelled some flags as loose `u32` constants, named a few
//! fields differently from fuse.h, and converted between its structs and
//! `libc::stat64`. Everything here keeps those spellings working; where a field
//! carries the fuse-backend-rs name, an accessor offers the fuse.h name.

use core::mem::offset_of;

use super::{
    Attr, CopyFileRangeIn, CreateIn, FsOptions, GetattrIn, InHeader, InitOut, IoctlFlags,
    NotifyInvalEntryOut, NotifyRetrieveOut, OpenIn, OpenOptions, OpenOut, SetattrIn, SetattrValid,
    WriteIn,
};
use crate::abi::wire;

// ---------------------------------------------------------------------------
// Loose constants (each equals the bit of the matching flag set)
// ---------------------------------------------------------------------------

/// INIT minor below which the reply is [`super::FUSE_COMPAT_INIT_OUT_SIZE`] bytes.
pub const KERNEL_MINOR_VERSION_INIT_OUT_SIZE: u32 = 5;

/// INIT minor below which the reply is [`super::FUSE_COMPAT_22_INIT_OUT_SIZE`] bytes.
pub const KERNEL_MINOR_VERSION_INIT_22_OUT_SIZE: u32 = 23;

/// INIT minor from which a LOOKUP reply with node id 0 caches a negative entry.
pub const KERNEL_MINOR_VERSION_LOOKUP_NEGATIVE_ENTRY_ZERO: u32 = 4;

/// FATTR_FH: [`SetattrValid::FH`] as a `u32`.
pub const FATTR_FH: u32 = 1 << 6;

/// FATTR_LOCKOWNER: [`SetattrValid::LOCKOWNER`] as a `u32`.
pub const FATTR_LOCKOWNER: u32 = 1 << 9;

/// FUSE_OPEN_KILL_SUIDGID: [`super::OpenInFlags::KILL_SUIDGID`] as a `u32`.
pub const FOPEN_IN_KILL_SUIDGID: u32 = 1 << 0;

/// FUSE_RELEASE_FLUSH: [`super::ReleaseFlags::FLUSH`] as a `u32`.
pub const RELEASE_FLUSH: u32 = 1 << 0;

/// FUSE_RELEASE_FLOCK_UNLOCK: [`super::ReleaseFlags::FLOCK_UNLOCK`] as a `u32`.
pub const RELEASE_FLOCK_UNLOCK: u32 = 1 << 1;

/// FUSE_GETATTR_FH: [`super::GetattrFlags::FH`] as a `u32`.
pub const GETATTR_FH: u32 = 1 << 0;

/// FUSE_LK_FLOCK: [`super::LkFlags::FLOCK`] as a `u32`.
pub const LK_FLOCK: u32 = 1 << 0;

/// FUSE_WRITE_CACHE: [`super::WriteFlags::CACHE`] as a `u32`.
pub const WRITE_CACHE: u32 = 1 << 0;

/// FUSE_WRITE_LOCKOWNER: [`super::WriteFlags::LOCKOWNER`] as a `u32`.
pub const WRITE_LOCKOWNER: u32 = 1 << 1;

/// FUSE_WRITE_KILL_PRIV: [`super::WriteFlags::KILL_PRIV`] as a `u32`.
pub const WRITE_KILL_PRIV: u32 = 1 << 2;

/// FUSE_READ_LOCKOWNER: [`super::ReadFlags::LOCKOWNER`] as a `u32`.
pub const READ_LOCKOWNER: u32 = 1 << 1;

/// FUSE_ATTR_SUBMOUNT: [`super::AttrFlags::SUBMOUNT`] as a `u32`.
pub const ATTR_SUBMOUNT: u32 = 1 << 0;

/// FUSE_POLL_SCHEDULE_NOTIFY: [`super::PollFlags::SCHEDULE_NOTIFY`] as a `u32`.
pub const POLL_SCHEDULE_NOTIFY: u32 = 1 << 0;

/// FUSE_FSYNC_FDATASYNC: [`super::FsyncFlags::FDATASYNC`] as a `u32`.
pub const FSYNC_FDATASYNC: u32 = 1 << 0;

// ---------------------------------------------------------------------------
// Structs under fuse-backend-rs's names
// ---------------------------------------------------------------------------

/// The part of `struct fuse_init_in` after `flags` (since 7.36), as a struct of its own.
///
/// fuse-backend-rs read INIT in two steps: the 16 bytes every kernel sends,
/// then, with [`FsOptions::INIT_EXT`], this. [`super::InitInExt`] holds both parts.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct InitIn2 {
    /// High 32 bits of the kernel's [`FsOptions`].
    pub flags2: u32,
    /// Reserved.
    pub unused: [u32; 11],
}

wire!(InitIn2, 48);

/// fuse-backend-rs's name for [`NotifyRetrieveOut`] (`struct fuse_notify_retrieve_out`).
#[allow(non_camel_case_types)]
pub type Notify_Retrieve_Out = NotifyRetrieveOut;

// ---------------------------------------------------------------------------
// bitflags 1.x constructor
// ---------------------------------------------------------------------------

macro_rules! from_bits_unchecked {
    ($($t:ty: $bits:ty),+ $(,)?) => {
        $(
            impl $t {
                /// Builds the set from `bits`, keeping bits that name no flag
                /// (the bitflags 1.x constructor; same as `from_bits_retain`).
                ///
                /// # Safety
                ///
                /// None: every bit pattern is a valid value of this type. The
                /// function is `unsafe` only to keep the bitflags 1.x signature
                /// that fuse-backend-rs 0.14 exposed.
                pub const unsafe fn from_bits_unchecked(bits: $bits) -> Self {
                    Self::from_bits_retain(bits)
                }
            }
        )+
    };
}
pub(in crate::abi) use from_bits_unchecked;

from_bits_unchecked!(SetattrValid: u32, OpenOptions: u32, FsOptions: u64, IoctlFlags: u32);

// ---------------------------------------------------------------------------
// fuse.h names of fields that carry fuse-backend-rs's names
// ---------------------------------------------------------------------------

/// The two bytes at the lowest address of `word` (the first `u16` of a C struct
/// that fuse-backend-rs declared as one `u32`).
const fn low_addressed_u16(word: u32) -> u16 {
    let b = word.to_ne_bytes();
    u16::from_ne_bytes([b[0], b[1]])
}

/// `word` with its two lowest-addressed bytes replaced by `half`.
const fn with_low_addressed_u16(word: u32, half: u16) -> u32 {
    let b = word.to_ne_bytes();
    let h = half.to_ne_bytes();
    u32::from_ne_bytes([h[0], h[1], b[2], b[3]])
}

// `InHeader::padding` and `InitOut::unused` start where fuse.h's first field of
// the split word starts; the accessors below rely on it.
const _: () = assert!(offset_of!(InHeader, padding) == 36);
const _: () = assert!(offset_of!(InitOut, unused) == 36);

impl InHeader {
    /// `total_extlen`: length of the extensions after the arguments, in 8-byte units (since 7.38).
    pub const fn total_extlen(&self) -> u16 {
        low_addressed_u16(self.padding)
    }

    /// Sets `total_extlen`, leaving fuse.h's 16-bit `padding` as it is.
    pub fn set_total_extlen(&mut self, units: u16) {
        self.padding = with_low_addressed_u16(self.padding, units);
    }
}

impl InitOut {
    /// `max_stack_depth`: passthrough backing file stacking depth (since 7.40).
    pub const fn max_stack_depth(&self) -> u32 {
        self.unused[0]
    }

    /// Sets `max_stack_depth` (meaningful with [`FsOptions::PASSTHROUGH`]).
    pub fn set_max_stack_depth(&mut self, depth: u32) {
        self.unused[0] = depth;
    }

    /// `request_timeout`: request timeout in seconds (since 7.43).
    pub const fn request_timeout(&self) -> u16 {
        low_addressed_u16(self.unused[1])
    }

    /// Sets `request_timeout` (meaningful with [`FsOptions::REQUEST_TIMEOUT`]).
    pub fn set_request_timeout(&mut self, secs: u16) {
        self.unused[1] = with_low_addressed_u16(self.unused[1], secs);
    }
}

impl GetattrIn {
    /// `getattr_flags`: [`super::GetattrFlags`] bits (the field [`GetattrIn::flags`]).
    pub const fn getattr_flags(&self) -> u32 {
        self.flags
    }
}

impl OpenIn {
    /// `open_flags`: [`super::OpenInFlags`] bits (the field [`OpenIn::fuse_flags`]).
    pub const fn open_flags(&self) -> u32 {
        self.fuse_flags
    }
}

impl CreateIn {
    /// `open_flags`: [`super::OpenInFlags`] bits (the field [`CreateIn::fuse_flags`]).
    pub const fn open_flags(&self) -> u32 {
        self.fuse_flags
    }
}

impl WriteIn {
    /// `write_flags`: [`super::WriteFlags`] bits (the field [`WriteIn::fuse_flags`]).
    pub const fn write_flags(&self) -> u32 {
        self.fuse_flags
    }
}

impl OpenOut {
    /// `backing_id`: the passthrough backing file id (the field [`OpenOut::passthrough`]).
    pub const fn backing_id(&self) -> i32 {
        self.passthrough as i32
    }

    /// Sets `backing_id`.
    pub fn set_backing_id(&mut self, id: i32) {
        self.passthrough = id as u32;
    }
}

impl NotifyInvalEntryOut {
    /// `flags`: [`super::ExpireFlags`] bits (the field [`NotifyInvalEntryOut::padding`]).
    pub const fn flags(&self) -> u32 {
        self.padding
    }
}

impl CopyFileRangeIn {
    /// `off_in`: the source offset (the field [`CopyFileRangeIn::offset_in`]).
    pub const fn off_in(&self) -> u64 {
        self.offset_in
    }

    /// `off_out`: the destination offset (the field [`CopyFileRangeIn::offset_out`]).
    pub const fn off_out(&self) -> u64 {
        self.offset_out
    }
}

// ---------------------------------------------------------------------------
// Conversions to and from libc::stat64
// ---------------------------------------------------------------------------

/// An all-zero `stat64`.
fn zeroed_stat64() -> libc::stat64 {
    // SAFETY: `stat64` is a C struct of integers and integer arrays (its
    // reserved fields included), so the all-zero bit pattern is a valid value.
    unsafe { core::mem::zeroed() }
}

impl Attr {
    /// Builds an [`Attr`] from a host `stat64` with `flags` as [`super::AttrFlags`]
    /// bits (fuse-backend-rs name of [`Attr::from_stat`]).
    pub fn with_flags(st: libc::stat64, flags: u32) -> Attr {
        Attr::from_stat(st, flags)
    }
}

impl From<Attr> for libc::stat64 {
    /// Fills the `stat64` fields [`Attr`] carries and zeroes the others (`st_dev`).
    ///
    /// Times are read back as signed, undoing [`Attr::from_stat`]; `st_rdev`
    /// gets the 32-bit device number as it is.
    fn from(attr: Attr) -> libc::stat64 {
        let mut st = zeroed_stat64();
        st.st_ino = attr.ino as _;
        st.st_size = attr.size as _;
        st.st_blocks = attr.blocks as _;
        st.st_atime = attr.atime as _;
        st.st_mtime = attr.mtime as _;
        st.st_ctime = attr.ctime as _;
        st.st_atime_nsec = attr.atimensec as _;
        st.st_mtime_nsec = attr.mtimensec as _;
        st.st_ctime_nsec = attr.ctimensec as _;
        st.st_mode = attr.mode as _;
        st.st_nlink = attr.nlink as _;
        st.st_uid = attr.uid as _;
        st.st_gid = attr.gid as _;
        st.st_rdev = attr.rdev as _;
        st.st_blksize = attr.blksize as _;
        st
    }
}

impl From<SetattrIn> for libc::stat64 {
    /// Copies mode, owner, size and the three times of a SETATTR into a
    /// zeroed `stat64`, whatever `valid` says; the caller applies `valid`.
    fn from(arg: SetattrIn) -> libc::stat64 {
        let mut st = zeroed_stat64();
        st.st_mode = arg.mode as _;
        st.st_uid = arg.uid as _;
        st.st_gid = arg.gid as _;
        st.st_size = arg.size as _;
        st.st_atime = arg.atime as _;
        st.st_mtime = arg.mtime as _;
        st.st_ctime = arg.ctime as _;
        st.st_atime_nsec = arg.atimensec as _;
        st.st_mtime_nsec = arg.mtimensec as _;
        st.st_ctime_nsec = arg.ctimensec as _;
        st
    }
}
