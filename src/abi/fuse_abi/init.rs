//! INIT and CUSE_INIT negotiation.

use super::InitIn2;
use crate::abi::wire;

/// The first [`FUSE_COMPAT_INIT_IN_SIZE`](super::FUSE_COMPAT_INIT_IN_SIZE) bytes of `struct fuse_init_in`, the part
/// of the INIT argument every kernel sends.
///
/// Kernels since 7.36 follow it with an [`InitIn2`]; [`InitInExt`] is the whole
/// 64-byte struct.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct InitIn {
    /// Kernel's major version.
    pub major: u32,
    /// Kernel's minor version.
    pub minor: u32,
    /// Largest readahead the kernel will do.
    pub max_readahead: u32,
    /// Low 32 bits of the kernel's [`FsOptions`](super::FsOptions).
    pub flags: u32,
}

/// `struct fuse_init_in` as of 7.36: the whole INIT argument of a kernel that can
/// send [`FsOptions::INIT_EXT`](super::FsOptions::INIT_EXT), that is an [`InitIn`] followed by an [`InitIn2`].
///
/// Kernels before 7.36 send only the first [`FUSE_COMPAT_INIT_IN_SIZE`](super::FUSE_COMPAT_INIT_IN_SIZE) bytes.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct InitInExt {
    /// Kernel's major version.
    pub major: u32,
    /// Kernel's minor version.
    pub minor: u32,
    /// Largest readahead the kernel will do.
    pub max_readahead: u32,
    /// Low 32 bits of the kernel's [`FsOptions`](super::FsOptions).
    pub flags: u32,
    /// High 32 bits of the kernel's [`FsOptions`](super::FsOptions), with INIT_EXT (since 7.36).
    pub flags2: u32,
    /// Reserved (since 7.36).
    pub unused: [u32; 11],
}

impl InitInExt {
    /// Joins the two parts the kernel sends.
    pub fn from_parts(base: InitIn, ext: InitIn2) -> Self {
        InitInExt {
            major: base.major,
            minor: base.minor,
            max_readahead: base.max_readahead,
            flags: base.flags,
            flags2: ext.flags2,
            unused: ext.unused,
        }
    }

    /// The two parts: the 16 bytes every kernel sends and the 7.36 extension.
    pub fn into_parts(self) -> (InitIn, InitIn2) {
        let base = InitIn {
            major: self.major,
            minor: self.minor,
            max_readahead: self.max_readahead,
            flags: self.flags,
        };
        let ext = InitIn2 {
            flags2: self.flags2,
            unused: self.unused,
        };
        (base, ext)
    }

    /// Returns `flags | flags2 << 32`.
    ///
    /// `flags2` is meaningful only when `flags` has [`FsOptions::INIT_EXT`](super::FsOptions::INIT_EXT);
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
    /// Low 32 bits of the accepted [`FsOptions`](super::FsOptions).
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
    /// High 32 bits of the accepted [`FsOptions`](super::FsOptions), with INIT_EXT (since 7.36).
    pub flags2: u32,
    /// The rest of the struct, under fuse-backend-rs's name and type: word 0 is
    /// `max_stack_depth` (since 7.40), the low-addressed half of word 1 is
    /// `request_timeout` (since 7.43), the rest is reserved. Use
    /// [`InitOut::set_max_stack_depth`] and [`InitOut::set_request_timeout`].
    pub unused: [u32; 7],
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
    /// CUSE flags ([`CUSE_UNRESTRICTED_IOCTL`](super::CUSE_UNRESTRICTED_IOCTL)).
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

wire!(InitIn, 16; InitInExt, 64; InitOut, 64; CuseInitIn, 16; CuseInitOut, 72);
