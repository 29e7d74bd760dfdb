//! Request extensions: security contexts and supplementary groups.

use crate::abi::wire;

/// `struct fuse_secctx`: one security context; its name and label follow (since 7.36).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct Secctx {
    /// Size of the label.
    pub size: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_secctx_header`: starts the security context extension (since 7.36).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct SecctxHeader {
    /// Total size of the contexts, this header included.
    pub size: u32,
    /// Number of contexts, at most [`FUSE_MAX_NR_SECCTX`](super::FUSE_MAX_NR_SECCTX).
    pub nr_secctx: u32,
}

/// `struct fuse_ext_header`: starts one request extension (since 7.38).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct ExtHeader {
    /// Size of the extension, this header included.
    pub size: u32,
    /// Extension type, above [`FUSE_MAX_NR_SECCTX`](super::FUSE_MAX_NR_SECCTX) (`type` in C).
    pub type_: u32,
}

/// `struct fuse_supp_groups`: body of a [`FUSE_EXT_GROUPS`](super::FUSE_EXT_GROUPS) extension; `nr_groups`
/// u32 gids follow (since 7.38).
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct SuppGroups {
    /// Number of gids that follow.
    pub nr_groups: u32,
}

wire!(Secctx, 8; SecctxHeader, 8; ExtHeader, 8; SuppGroups, 4);
