//! INTERRUPT, BMAP, IOCTL and POLL.

use crate::abi::wire;

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
    /// [`IoctlFlags`](super::IoctlFlags) bits.
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
    /// [`IoctlFlags`](super::IoctlFlags) bits ([`IoctlFlags::RETRY`](super::IoctlFlags::RETRY) asks for a retry).
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
    /// [`PollFlags`](super::PollFlags) bits.
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
