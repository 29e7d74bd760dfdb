//! The DAX window channel of virtio-fs: the server asks the VMM to map file ranges into
//! the guest-visible cache window (FUSE_SETUPMAPPING) or to remove them
//! (FUSE_REMOVEMAPPING).

use std::io;
use std::os::fd::RawFd;

use crate::abi::virtio_fs::RemovemappingOne;

/// Maps and unmaps file ranges in a virtio-fs DAX window.
///
/// The VMM that owns the window, or the device glue that asks it, implements it. The
/// vhost 0.15 this release line builds on cannot carry these requests over the vhost-user
/// backend channel, so the crate provides no implementation for a vhost type.
pub trait FsCacheReqHandler: Send + Sync + 'static {
    /// Maps `len` bytes of `fd` at `foffset` into the window at `moffset`; `flags` are
    /// [`SetupmappingFlags`](crate::abi::virtio_fs::SetupmappingFlags) bits.
    fn map(
        &mut self,
        foffset: u64,
        moffset: u64,
        len: u64,
        flags: u64,
        fd: RawFd,
    ) -> io::Result<()>;

    /// Removes the given ranges from the window.
    fn unmap(&mut self, requests: Vec<RemovemappingOne>) -> io::Result<()>;
}
