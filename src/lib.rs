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
pub mod common;
pub mod overlayfs;
pub mod passthrough;
pub(crate) mod sys;
pub mod transport;

pub use common::*;

/// Errors of request handling, returned by
/// [`Server::handle_message`](api::server::Server::handle_message).
///
/// When the request's `unique` could be read, the client has already been answered with
/// an errno reply (or, for FORGET-like requests, deliberately not answered); the error
/// tells the caller what was wrong.
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
    /// The header's `len` disagrees with the bytes present or is below the header size.
    #[error("invalid header length {0}")]
    InvalidHeaderLength(u32),
    /// SETXATTR's `size` does not match the value that follows.
    #[error("setxattr size {0} does not match value length {1}")]
    InvalidXattrSize(u32, usize),
    /// A request the server cannot process.
    #[error("invalid fuse message")]
    InvalidMessage(#[source] io::Error),
    /// An opcode the server does not know.
    #[error("unknown fuse opcode {0}")]
    UnknownOpcode(u32),
    /// Writing to the reply buffer failed.
    #[error("failed to write reply")]
    FailedToWrite(#[source] io::Error),
    /// Splitting the reply writer failed.
    #[error("failed to split writer")]
    FailedToSplitWriter(#[source] transport::Error),
    /// A request arrived before FUSE_INIT completed.
    #[error("request before FUSE_INIT")]
    NotInitialized,
}

/// Result of request handling.
pub type Result<T> = std::result::Result<T, Error>;

/// Interprets `buf` as one NUL-terminated C string (the NUL must be the last byte).
pub fn bytes_to_cstr(buf: &[u8]) -> Result<&CStr> {
    CStr::from_bytes_with_nul(buf).map_err(Error::InvalidCString)
}

/// Maps an `io::Error` to the errno sent to the client: its raw OS error when it has a
/// positive one, EIO otherwise.
pub fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().filter(|n| *n > 0).unwrap_or(libc::EIO)
}
