//! The virtio-fs transport: FUSE requests and replies in descriptor chains of a virtio
//! queue, in guest memory.
//!
//! A virtio-fs request is one descriptor chain. Its device-readable descriptors hold the
//! request (`fuse_in_header`, the operation's arguments, WRITE data); its device-writable
//! descriptors are where the reply goes (`fuse_out_header`, the reply body, READ data).
//! This module checks the chain and turns the two halves into the transport's
//! [`Reader`] and [`Writer`], so the same [`Server`](crate::api::server::Server) code serves
//! `/dev/fuse` and virtio-fs:
//!
//! ```text
//!  descriptor chain (guest memory)      this module                 server
//!  [R hdr][R args][R data]...   ──►  Reader::from_descriptor_chain ──►
//!                                                                   handle_message
//!  [W hdr][W data][W data]...   ◄──  VirtioFsWriter::new           ◄──
//! ```
//!
//! The slices point straight into guest memory: file data moves between a file and the
//! guest with one `preadv`/`pwritev` over them, without a bounce buffer. Writes through a
//! [`Writer`] mark the guest's dirty bitmap (when the memory has one), so live migration
//! sees them.
//!
//! # The guest is untrusted
//!
//! The guest writes the descriptor table and may change it, or the request bytes, at any
//! time. Building a reader or writer checks the whole chain first (see `chain.rs`) and
//! fails with [`Error::InvalidChain`](crate::transport::Error::InvalidChain) or
//! [`Error::GuestMemory`](crate::transport::Error::GuestMemory) when it is empty, cut
//! short (longer than the queue, looping, `next` out of the table), has a readable
//! descriptor after a writable one, overflows its lengths, points outside guest memory, or
//! has a writable descriptor overlapping another. Every later access is bounded by the
//! slices built here, never by a length read from the request; the server reads each
//! header once, into a copy. A caller that gets an error should return the chain to the
//! guest with zero bytes used (`add_used(head, 0)`), so the queue never stalls.
//!
//! The DAX window (FUSE_SETUPMAPPING/REMOVEMAPPING) goes through
//! [`FsCacheReqHandler`](crate::transport::FsCacheReqHandler), implemented for the vhost
//! backend request channel with feature `vhost-user-fs`.
//!
//! # Example
//!
//! ```
//! use fuse_backend_rs::transport::{Reader, VirtioFsWriter, Writer};
//! use virtio_queue::{Queue, QueueOwnedT, QueueT};
//! use vm_memory::{GuestAddress, GuestMemoryMmap};
//!
//! # fn serve_queue(queue: &mut Queue, mem: &GuestMemoryMmap) {
//! while let Some(chain) = queue.pop_descriptor_chain(mem) {
//!     let head = chain.head_index();
//!     let parts = Reader::from_descriptor_chain(mem, chain.clone())
//!         .and_then(|r| Ok((r, VirtioFsWriter::new(mem, chain)?)));
//!     let used = match parts {
//!         Ok((reader, writer)) => {
//!             let writer: Writer<'_, ()> = writer.into();
//!             // server.handle_message(reader, writer, None, None).unwrap_or(0)
//!             # let _ = (reader, writer);
//!             0
//!         }
//!         // A malformed chain: give it back empty.
//!         Err(_) => 0,
//!     };
//!     queue.add_used(mem, head, used).unwrap();
//! }
//! # }
//! ```

use std::ops::{Deref, DerefMut};

use virtio_queue::DescriptorChain;
use vm_memory::bitmap::{BitmapSlice, WithBitmapSlice};
use vm_memory::GuestMemory;

use crate::transport::{Reader, Result, Writer};

mod chain;

#[cfg(feature = "vhost-user-fs")]
mod cache;
#[cfg(test)]
mod tests;

use chain::Want;

impl<'a, S: BitmapSlice> Reader<'a, S> {
    /// A reader over the device-readable descriptors of `desc_chain` (the request).
    ///
    /// `mem` is the guest memory the chain refers to; the reader borrows from it, so load it
    /// once (e.g. a `GuestMemoryAtomic` guard) and keep it for the request. The whole chain
    /// is checked, the writable half included.
    ///
    /// # Errors
    /// [`InvalidChain`](crate::transport::Error::InvalidChain) or
    /// [`GuestMemory`](crate::transport::Error::GuestMemory) for a malformed chain (see the
    /// module documentation).
    pub fn from_descriptor_chain<M, D>(mem: &'a M, desc_chain: DescriptorChain<D>) -> Result<Self>
    where
        M: GuestMemory + ?Sized,
        M::Bitmap: WithBitmapSlice<'a, S = S>,
        D: Deref,
        D::Target: GuestMemory,
    {
        let parts = chain::walk(mem, desc_chain, Want::Readable)?;
        Ok(Reader::from_volatile_slices(parts.readable))
    }
}

/// A reply [`Writer`] over the device-writable descriptors of a chain.
///
/// Built with [`VirtioFsWriter::new`] and handed to the server as a [`Writer`]
/// (`writer.into()`); it dereferences to the [`Writer`] as well. Replies land in guest
/// memory directly, so [`Writer::commit`] only reports the length.
pub struct VirtioFsWriter<'a, S = ()> {
    inner: Writer<'a, S>,
}

impl<'a, S: BitmapSlice> VirtioFsWriter<'a, S> {
    /// A writer over the device-writable descriptors of `desc_chain` (the reply area).
    ///
    /// The whole chain is checked, the readable half included; see
    /// [`Reader::from_descriptor_chain`] for `mem`.
    ///
    /// # Errors
    /// [`InvalidChain`](crate::transport::Error::InvalidChain) or
    /// [`GuestMemory`](crate::transport::Error::GuestMemory) for a malformed chain.
    pub fn new<M, D>(mem: &'a M, desc_chain: DescriptorChain<D>) -> Result<Self>
    where
        M: GuestMemory + ?Sized,
        M::Bitmap: WithBitmapSlice<'a, S = S>,
        D: Deref,
        D::Target: GuestMemory,
    {
        let parts = chain::walk(mem, desc_chain, Want::Writable)?;
        Ok(VirtioFsWriter {
            inner: Writer::from_volatile_slices(parts.writable),
        })
    }

    /// The writer itself.
    pub fn into_writer(self) -> Writer<'a, S> {
        self.inner
    }
}

impl<'a, S> From<VirtioFsWriter<'a, S>> for Writer<'a, S> {
    fn from(w: VirtioFsWriter<'a, S>) -> Self {
        w.inner
    }
}

impl<'a, S> Deref for VirtioFsWriter<'a, S> {
    type Target = Writer<'a, S>;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl<S> DerefMut for VirtioFsWriter<'_, S> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

/// The request [`Reader`] and reply [`Writer`] of one chain, checking and walking it once
/// (cheaper than [`Reader::from_descriptor_chain`] plus [`VirtioFsWriter::new`], which
/// each walk the chain).
///
/// # Errors
/// As [`Reader::from_descriptor_chain`].
pub fn reader_writer_from_descriptor_chain<'a, M, D, S>(
    mem: &'a M,
    desc_chain: DescriptorChain<D>,
) -> Result<(Reader<'a, S>, Writer<'a, S>)>
where
    M: GuestMemory + ?Sized,
    M::Bitmap: WithBitmapSlice<'a, S = S>,
    S: BitmapSlice,
    D: Deref,
    D::Target: GuestMemory,
{
    let parts = chain::walk(mem, desc_chain, Want::Both)?;
    Ok((
        Reader::from_volatile_slices(parts.readable),
        Writer::from_volatile_slices(parts.writable),
    ))
}
