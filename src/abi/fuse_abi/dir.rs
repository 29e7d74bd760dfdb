//! Directory entries of READDIR and READDIRPLUS.

use super::EntryOut;
use crate::abi::wire;

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
