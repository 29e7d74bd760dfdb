//! The request and reply headers.

use crate::abi::wire;

/// `struct fuse_in_header`: starts every request.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct InHeader {
    /// Length of the request, header included.
    pub len: u32,
    /// Raw [`Opcode`](super::Opcode).
    pub opcode: u32,
    /// Request id, echoed in the reply; see [`FUSE_UNIQUE_RESEND`](super::FUSE_UNIQUE_RESEND).
    pub unique: u64,
    /// Inode the request is about.
    pub nodeid: u64,
    /// Caller's fsuid.
    pub uid: u32,
    /// Caller's fsgid.
    pub gid: u32,
    /// Caller's thread group id.
    pub pid: u32,
    /// `total_extlen` (u16, since 7.38) and `padding` (u16) of fuse.h, under
    /// fuse-backend-rs's name; read the former with [`InHeader::total_extlen`].
    pub padding: u32,
}

/// `struct fuse_out_header`: starts every reply and notification.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct OutHeader {
    /// Length of the reply, header included.
    pub len: u32,
    /// Zero or a negated errno; a [`NotifyOpcode`](super::NotifyOpcode) when `unique` is zero.
    pub error: i32,
    /// The request's `unique`, or zero for a notification.
    pub unique: u64,
}

wire!(InHeader, 40; OutHeader, 16);
