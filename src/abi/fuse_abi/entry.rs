//! Lookup, attributes, inode lifetime and namespace operations.

use super::{Attr, Statx};
use crate::abi::wire;

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
    /// [`GetattrFlags`](super::GetattrFlags) bits (`getattr_flags` in fuse.h, see [`GetattrIn::getattr_flags`]).
    pub flags: u32,
    /// Padding.
    pub dummy: u32,
    /// Open file handle, valid with [`GetattrFlags::FH`](super::GetattrFlags::FH).
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
    /// [`GetattrFlags`](super::GetattrFlags) bits.
    pub getattr_flags: u32,
    /// Reserved.
    pub reserved: u32,
    /// Open file handle, valid with [`GetattrFlags::FH`](super::GetattrFlags::FH).
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
    /// [`AttrFlags`](super::AttrFlags) bits.
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
    /// [`SetattrValid`](super::SetattrValid) bits naming the fields to apply.
    pub valid: u32,
    /// Padding.
    pub padding: u32,
    /// Open file handle, with [`SetattrValid::FH`](super::SetattrValid::FH).
    pub fh: u64,
    /// New size.
    pub size: u64,
    /// Lock owner, with [`SetattrValid::LOCKOWNER`](super::SetattrValid::LOCKOWNER).
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
