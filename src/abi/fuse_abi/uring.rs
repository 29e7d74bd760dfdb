//! Passthrough backing files and FUSE over io_uring.

use crate::abi::wire;

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

/// `struct fuse_backing_map`: argument of [`FUSE_DEV_IOC_BACKING_OPEN`](super::FUSE_DEV_IOC_BACKING_OPEN) (since 7.40).
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
    /// [`InHeader`](super::InHeader) on fetch, [`OutHeader`](super::OutHeader) on commit.
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
