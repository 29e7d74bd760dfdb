//! Notification bodies, sent by the server with `unique == 0`.

use crate::abi::wire;

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
    /// [`ExpireFlags`](super::ExpireFlags) bits (since 7.38; padding before): `flags` in fuse.h,
    /// see [`NotifyInvalEntryOut::flags`].
    pub padding: u32,
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
/// Same size as [`WriteIn`](super::WriteIn); the data follows.
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
