//! A library for FUSE servers and virtio-fs devices.
//!
//! The crate is layered (see `docs/architecture.md`):
//!
//! - [`abi`]: the `#[repr(C)]` messages of the Linux FUSE protocol (up to 7.45) and the
//!   virtio-fs extensions. Data only.
//! - [`api`]: the [`FileSystem`](api::filesystem::FileSystem) trait that drivers implement
//!   and the [`Server`](api::server::Server) that decodes requests, calls the trait and
//!   encodes replies.
//! - [`transport`]: where requests come from: `/dev/fuse` (feature `fusedev`) or a virtio
//!   queue (feature `virtiofs`), both seen by the server as a
//!   [`Reader`](transport::Reader) and a [`Writer`](transport::Writer).
//! - [`passthrough`]: a driver that mirrors a host directory.
//! - [`api::vfs::Vfs`]: several filesystems under one tree, attached and detached while
//!   serving.
//! - [`overlayfs`]: a union of layers with the kernel overlayfs semantics.
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "fusedev")]
//! # fn main() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use fuse_backend_rs::api::server::Server;
//! use fuse_backend_rs::passthrough::{Config, PassthroughFs};
//! use fuse_backend_rs::transport::FuseSession;
//!
//! let cfg = Config { root_dir: "/srv/data".into(), do_import: true, ..Default::default() };
//! let fs = PassthroughFs::<()>::new(cfg)?;
//! let server = Arc::new(Server::new(fs));
//! let mut session = FuseSession::new("/mnt/data".as_ref(), "data", "", false)
//!     .map_err(std::io::Error::other)?;
//! session.mount().map_err(std::io::Error::other)?;
//! let mut channel = session.new_channel().map_err(std::io::Error::other)?;
//! while let Some((reader, writer)) = channel.get_request().map_err(std::io::Error::other)? {
//!     if let Err(e) = server.handle_message(reader, writer.into(), None, None) {
//!         eprintln!("request failed: {e}");
//!     }
//! }
//! session.umount().map_err(std::io::Error::other)?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "fusedev"))]
//! # fn main() {}
//! ```

#![deny(
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]

#[cfg(not(target_os = "linux"))]
compile_error!("fuse-backend-rs supports Linux only");

use std::ffi::{CStr, FromBytesWithNulError};
use std::io;

pub mod abi;
pub mod api;
mod buffer;
pub mod common;
pub(crate) mod errno;
pub mod overlayfs;
pub mod passthrough;
#[cfg(feature = "persist")]
pub(crate) mod persist;
pub(crate) mod sys;
pub mod transport;

pub use common::*;

/// Errors of request handling, returned by
/// [`Server::handle_message`](api::server::Server::handle_message).
///
/// When the request's `unique` could be read, the client has already been answered with
/// an errno reply (or, for FORGET-like requests, deliberately not answered); the error
/// tells the caller what was wrong.
///
/// The variants are exactly those of fuse-backend-rs 0.14, so exhaustive matches written
/// for it compile here. Details that have no variant of their own travel inside
/// [`Error::InvalidMessage`] as an [`InvalidRequest`]: see [`Error::invalid_request`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request could not be decoded (short, inconsistent or out-of-range fields).
    #[error("failed to decode fuse message")]
    DecodeMessage(#[source] io::Error),
    /// The reply could not be encoded or sent.
    #[error("failed to encode fuse message")]
    EncodeMessage(#[source] io::Error),
    /// A required parameter is missing.
    #[error("one or more parameters are missing")]
    MissingParameter,
    /// A name is not a valid NUL-terminated C string.
    #[error("invalid c string in request")]
    InvalidCString(#[source] FromBytesWithNulError),
    /// The header's `len` is below the header size or beyond the bytes present, or its
    /// `total_extlen` is beyond `len` (the values are logged at debug level).
    #[error("invalid header length")]
    InvalidHeaderLength,
    /// SETXATTR's `size` (first) does not match the length of the value that follows
    /// (second), or is beyond XATTR_SIZE_MAX. (An oversized GETXATTR/LISTXATTR buffer is
    /// an [`Error::InvalidMessage`].)
    #[error("setxattr size {} does not match value length {}", .0.0, .0.1)]
    InvalidXattrSize((u32, usize)),
    /// A request the server cannot process. When this crate's server refused it, the
    /// source is an [`InvalidRequest`] saying why (see [`Error::invalid_request`]).
    #[error("invalid fuse message")]
    InvalidMessage(#[source] io::Error),
    /// Writing to the reply buffer failed.
    #[error("failed to write reply")]
    FailedToWrite(#[source] io::Error),
    /// Splitting the reply writer failed. (A request reader that cannot be split where
    /// the request's lengths say is a malformed request: [`Error::DecodeMessage`].)
    #[error("failed to split writer")]
    FailedToSplitWriter(#[source] buffer::Error),
    /// The caller's (uid, gid) could not be mapped to host ids.
    #[error("failed to remap the ids of uid {} gid {}", .0.0, .0.1)]
    FailedToRemapID((u32, u32)),
}

/// Why the server refused a request, for refusals that
/// [`Error`] has no variant of its own for. Carried as the source of
/// [`Error::InvalidMessage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRequest {
    /// An opcode the server does not know (answered with ENOSYS).
    #[error("unknown fuse opcode {0}")]
    UnknownOpcode(u32),
    /// A request arrived before FUSE_INIT completed (answered with EIO, FORGETs are not
    /// answered).
    #[error("request before FUSE_INIT")]
    NotInitialized,
}

impl InvalidRequest {
    /// The [`Error::InvalidMessage`] carrying this reason.
    pub fn into_error(self) -> Error {
        let kind = match self {
            InvalidRequest::UnknownOpcode(_) => io::ErrorKind::Unsupported,
            InvalidRequest::NotInitialized => io::ErrorKind::Other,
        };
        Error::InvalidMessage(io::Error::new(kind, self))
    }
}

impl Error {
    /// Why the server refused the request, when `self` is an [`Error::InvalidMessage`] made
    /// from an [`InvalidRequest`].
    pub fn invalid_request(&self) -> Option<InvalidRequest> {
        match self {
            Error::InvalidMessage(e) => e.get_ref()?.downcast_ref::<InvalidRequest>().copied(),
            _ => None,
        }
    }
}

/// Result of request handling.
pub type Result<T> = std::result::Result<T, Error>;

/// Interprets `buf` as one NUL-terminated C string (the NUL must be the last byte).
pub fn bytes_to_cstr(buf: &[u8]) -> Result<&CStr> {
    CStr::from_bytes_with_nul(buf).map_err(Error::InvalidCString)
}

/// The errno fuse-backend-rs 0.14 derived from an [`io::ErrorKind`]: EACCES, ENOENT,
/// EINTR, EEXIST and EAGAIN for the kinds named after them, EIO for every other kind.
///
/// Kept for compatibility. It loses the real errno (EPERM becomes EACCES, ENOSPC becomes
/// EIO, ...): prefer [`errno_of`], which uses the error's raw errno.
pub fn encode_io_error_kind(kind: io::ErrorKind) -> i32 {
    match kind {
        io::ErrorKind::PermissionDenied => libc::EACCES,
        io::ErrorKind::NotFound => libc::ENOENT,
        io::ErrorKind::Interrupted => libc::EINTR,
        io::ErrorKind::AlreadyExists => libc::EEXIST,
        io::ErrorKind::WouldBlock => libc::EAGAIN,
        _ => libc::EIO,
    }
}

/// Maps an `io::Error` to the errno sent to the client: its raw OS error when it has a
/// positive one, EIO otherwise.
pub fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().filter(|n| *n > 0).unwrap_or(libc::EIO)
}

/// A unit test that cannot run on this machine: under CI (`CI=true`) that is a failure,
/// elsewhere the test says so and returns.
#[cfg(test)]
pub(crate) fn cannot_run(why: impl std::fmt::Display) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("cannot run under CI=true: {why}");
    }
    eprintln!("skipping: {why}");
}
