//! Extended attributes and access checks.

use crate::abi::wire;

/// The first [`FUSE_COMPAT_SETXATTR_IN_SIZE`](super::FUSE_COMPAT_SETXATTR_IN_SIZE) bytes of `struct fuse_setxattr_in`:
/// the argument of SETXATTR unless the server negotiated [`FsOptions::SETXATTR_EXT`](super::FsOptions::SETXATTR_EXT)
/// (then it is [`SetxattrInExt`]); name and value follow.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct SetxattrIn {
    /// Length of the value.
    pub size: u32,
    /// `XATTR_CREATE`/`XATTR_REPLACE`.
    pub flags: u32,
}

/// `struct fuse_setxattr_in` as of 7.33: the argument of SETXATTR when the server
/// negotiated [`FsOptions::SETXATTR_EXT`](super::FsOptions::SETXATTR_EXT); name and value follow.
///
/// Its first [`FUSE_COMPAT_SETXATTR_IN_SIZE`](super::FUSE_COMPAT_SETXATTR_IN_SIZE) bytes are a [`SetxattrIn`].
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct SetxattrInExt {
    /// Length of the value.
    pub size: u32,
    /// `XATTR_CREATE`/`XATTR_REPLACE`.
    pub flags: u32,
    /// [`SetxattrFlags`](super::SetxattrFlags) bits (since 7.33).
    pub setxattr_flags: u32,
    /// Padding (since 7.33).
    pub padding: u32,
}

impl From<SetxattrIn> for SetxattrInExt {
    /// The extended form of a compat argument: no [`SetxattrFlags`](super::SetxattrFlags).
    fn from(s: SetxattrIn) -> Self {
        SetxattrInExt {
            size: s.size,
            flags: s.flags,
            ..Default::default()
        }
    }
}

/// `struct fuse_getxattr_in`: argument of GETXATTR (name follows) and LISTXATTR.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct GetxattrIn {
    /// Buffer size; 0 asks for the needed size.
    pub size: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_getxattr_out`: reply to a GETXATTR/LISTXATTR size query.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct GetxattrOut {
    /// Size needed for the value or list.
    pub size: u32,
    /// Padding.
    pub padding: u32,
}

/// `struct fuse_access_in`: argument of ACCESS.
#[repr(C)]
#[derive(Debug, Default, Copy, Clone, PartialEq, Eq)]
pub struct AccessIn {
    /// `R_OK`/`W_OK`/`X_OK`/`F_OK` mask.
    pub mask: u32,
    /// Padding.
    pub padding: u32,
}

wire!(SetxattrIn, 8; SetxattrInExt, 16; GetxattrIn, 8; GetxattrOut, 8; AccessIn, 8);
