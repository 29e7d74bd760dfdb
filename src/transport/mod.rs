//! Transports: where FUSE requests come from and where replies go.
//!
//! Both transports hand the [`Server`](crate::api::server::Server) a [`Reader`] over the
//! request bytes and a [`Writer`] over the reply area:
//!
//! - `fusedev` (feature `fusedev`): the request was read from `/dev/fuse` into a buffer
//!   owned by a [`FuseChannel`]; the reply is assembled in a second buffer and sent with one
//!   `writev(2)` on [`Writer::commit`].
//! - `virtiofs` (feature `virtiofs`): the request is the readable part of a descriptor
//!   chain in guest memory and the reply is written straight into its writable part.
//!
//! File data moves between these buffers and files through
//! [`crate::common::FileReadWriteVolatile`] with `preadv`/`pwritev`:
//! one copy, done by the kernel.
//!
//! The buffer types themselves ([`Reader`], [`Writer`], [`FuseBuf`], [`ReplySink`],
//! [`FsCacheReqHandler`], [`Error`]) are defined in a leaf module below the server, so that
//! the server does not depend on the transports nor the transports on the server; they
//! are re-exported here under the paths of fuse-backend-rs 0.14.

pub use crate::buffer::fs_cache_req_handler;
pub use crate::buffer::{
    pagesize, Error, FsCacheReqHandler, FuseBuf, Reader, ReplySink, Result, Writer,
};

#[cfg(feature = "fusedev")]
pub mod fusedev;
#[cfg(feature = "virtiofs")]
pub mod virtiofs;

#[cfg(feature = "fusedev")]
pub use fusedev::{FuseChannel, FuseDevWriter, FuseSession, FuseSessionExt, DEFAULT_BUSY_POLL};
#[cfg(feature = "virtiofs")]
pub use virtiofs::{reader_writer_from_descriptor_chain, VirtioFsWriter};
