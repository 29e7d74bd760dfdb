//! POSIX and BSD lock requests.

use super::FileLock;
use crate::abi::wire;

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
    /// [`LkFlags`](super::LkFlags) bits.
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

wire!(LkIn, 48; LkOut, 24);
