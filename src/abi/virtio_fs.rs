//! virtio-fs DAX window messages: `FUSE_SETUPMAPPING` and `FUSE_REMOVEMAPPING`.
//!
//! A virtio-fs device may expose a shared memory region (the DAX window) that
//! the guest maps file ranges into. These requests (since 7.31) ask the device
//! to map a range of an open file at an offset of that window, or to unmap
//! ranges. Offsets must be aligned to `1 << InitOut::map_alignment` when
//! `FsOptions::MAP_ALIGNMENT` was negotiated.

use super::fuse_abi::{
    from_bits_unchecked, FUSE_SETUPMAPPING_FLAG_READ, FUSE_SETUPMAPPING_FLAG_WRITE,
};
use super::wire;

bitflags::bitflags! {
    /// `FUSE_SETUPMAPPING_FLAG_*`: flags in [`SetupmappingIn::flags`].
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
    pub struct SetupmappingFlags: u64 {
        /// FUSE_SETUPMAPPING_FLAG_WRITE: map the range writable.
        const WRITE = FUSE_SETUPMAPPING_FLAG_WRITE;
        /// FUSE_SETUPMAPPING_FLAG_READ: map the range readable.
        const READ = FUSE_SETUPMAPPING_FLAG_READ;
    }
}

from_bits_unchecked!(SetupmappingFlags: u64);

/// `struct fuse_setupmapping_in`: argument of FUSE_SETUPMAPPING (since 7.31).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct SetupmappingIn {
    /// Handle of an open file.
    pub fh: u64,
    /// Offset in the file where the mapping starts.
    pub foffset: u64,
    /// Length of the mapping.
    pub len: u64,
    /// [`SetupmappingFlags`] bits.
    pub flags: u64,
    /// Offset in the DAX window.
    pub moffset: u64,
}

/// `struct fuse_removemapping_in`: argument of FUSE_REMOVEMAPPING; `count`
/// [`RemovemappingOne`] records follow (since 7.31).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct RemovemappingIn {
    /// Number of [`RemovemappingOne`] records that follow.
    pub count: u32,
}

/// `struct fuse_removemapping_one`: one range to unmap from the DAX window (since 7.31).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct RemovemappingOne {
    /// Offset in the DAX window.
    pub moffset: u64,
    /// Length of the range.
    pub len: u64,
}

/// Most [`RemovemappingOne`] records in one request (`FUSE_REMOVEMAPPING_MAX_ENTRY`).
///
/// The kernel defines it as `PAGE_SIZE / sizeof(struct fuse_removemapping_one)`;
/// this value assumes 4 KiB guest pages.
pub const FUSE_REMOVEMAPPING_MAX_ENTRY: usize = 4096 / core::mem::size_of::<RemovemappingOne>();

wire!(SetupmappingIn, 40; RemovemappingIn, 4; RemovemappingOne, 16);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removemapping_limits() {
        assert_eq!(FUSE_REMOVEMAPPING_MAX_ENTRY, 256);
        assert_eq!(SetupmappingFlags::all().bits(), 0b11);
        assert_eq!(core::mem::offset_of!(SetupmappingIn, moffset), 32);
    }
}
