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
//!  descriptor chain (guest memory)      this module                        server
//!  [R hdr][R args][R data]...   ──►  reader_writer_from_descriptor_chain ──► handle_message
//!  [W hdr][W data][W data]...   ◄──        (one walk, both halves)       ◄──
//! ```
//!
//! [`reader_writer_from_descriptor_chain`] reads the descriptor table once and checks
//! both halves against each other. Upstream's two calls, [`Reader::from_descriptor_chain`]
//! and [`VirtioFsWriter::new`], are kept with their signatures, but each reads the table
//! again: a guest can rewrite it between the two. Each call returns only its own half, and
//! the second call on the same thread refuses a half that overlaps what the first returned
//! (see `pairing.rs`), so a rewritten table cannot put the reply on the request; prefer the
//! one-walk function all the same.
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
//! [`FsCacheReqHandler`](crate::transport::FsCacheReqHandler), which the device
//! implementation provides. The vhost 0.15 this release line builds on has no backend
//! request for mapping into a device's shared memory (`SHMEM_MAP` came in vhost 0.16), so
//! this crate implements the trait for no vhost type; see `docs/compat.md`.
//!
//! # Example
//!
//! ```
//! use fuse_backend_rs::transport::{reader_writer_from_descriptor_chain, Reader, Writer};
//! use virtio_queue::{Queue, QueueOwnedT, QueueT};
//! use vm_memory::GuestMemoryMmap;
//!
//! # fn serve_queue(queue: &mut Queue, mem: &GuestMemoryMmap) {
//! while let Some(chain) = queue.pop_descriptor_chain(mem) {
//!     let head = chain.head_index();
//!     // One walk of the descriptor table for both halves.
//!     let parts: Result<(Reader<'_, ()>, Writer<'_, ()>), _> =
//!         reader_writer_from_descriptor_chain(mem, chain);
//!     let used = match parts {
//!         Ok((reader, writer)) => {
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

use std::io;
use std::ops::{Deref, DerefMut};

use virtio_queue::DescriptorChain;
use vm_memory::bitmap::{BitmapSlice, WithBitmapSlice};
use vm_memory::{ByteValued, GuestMemory, GuestMemoryRegion};

use crate::buffer::cursor::move_exact;
use crate::buffer::{Reader, Result, Writer};
use crate::common::FileReadWriteVolatile;

mod chain;
mod pairing;

#[cfg(test)]
mod tests;

use chain::Want;
use pairing::{ChainKey, Half};

/// The key under which the two walks of `chain` are paired (see `pairing.rs`).
fn chain_key<D>(chain: &DescriptorChain<D>) -> ChainKey
where
    D: Deref,
    D::Target: GuestMemory,
{
    ChainKey {
        mem: (chain.memory() as *const D::Target).cast::<u8>() as usize,
        head: chain.head_index(),
    }
}

impl<'a, S: BitmapSlice> Reader<'a, S> {
    /// A reader over the device-readable descriptors of `desc_chain` (the request).
    ///
    /// `mem` is the guest memory the chain refers to; the reader borrows from it, so load it
    /// once (e.g. a `GuestMemoryAtomic` guard) and keep it for the request. The whole chain
    /// is checked, the writable half included.
    ///
    /// Prefer [`reader_writer_from_descriptor_chain`], which reads the descriptor table
    /// once. This call and [`VirtioFsWriter::new`] read it once each, and the guest may
    /// change it in between; the later of the two, on the same thread, fails when its half
    /// overlaps the half the earlier one returned.
    ///
    /// # Errors
    /// [`InvalidChain`](crate::transport::Error::InvalidChain) or
    /// [`GuestMemory`](crate::transport::Error::GuestMemory) for a malformed chain (see the
    /// module documentation), and `InvalidChain` when a readable descriptor overlaps the
    /// reply space a [`VirtioFsWriter::new`] of the same chain returned on this thread.
    pub fn from_descriptor_chain<M, D>(mem: &'a M, desc_chain: DescriptorChain<D>) -> Result<Self>
    where
        M: GuestMemory + ?Sized,
        <M::R as GuestMemoryRegion>::B: WithBitmapSlice<'a, S = S>,
        D: Deref,
        D::Target: GuestMemory,
    {
        let key = chain_key(&desc_chain);
        let parts = chain::walk(mem, desc_chain, Want::Readable)?;
        pairing::pair(key, Half::Readable, &parts.ranges)?;
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
    /// [`Reader::from_descriptor_chain`] for `mem` and for why
    /// [`reader_writer_from_descriptor_chain`] is preferable.
    ///
    /// # Errors
    /// [`InvalidChain`](crate::transport::Error::InvalidChain) or
    /// [`GuestMemory`](crate::transport::Error::GuestMemory) for a malformed chain, and
    /// `InvalidChain` when a writable descriptor overlaps the request a
    /// [`Reader::from_descriptor_chain`] of the same chain returned on this thread (the
    /// guest rewrote the table between the two walks).
    pub fn new<M, D>(mem: &'a M, desc_chain: DescriptorChain<D>) -> Result<Self>
    where
        M: GuestMemory + ?Sized,
        <M::R as GuestMemoryRegion>::B: WithBitmapSlice<'a, S = S>,
        D: Deref,
        D::Target: GuestMemory,
    {
        let key = chain_key(&desc_chain);
        let parts = chain::walk(mem, desc_chain, Want::Writable)?;
        pairing::pair(key, Half::Writable, &parts.ranges)?;
        Ok(VirtioFsWriter {
            inner: Writer::from_volatile_slices(parts.writable),
        })
    }

    /// The writer itself.
    pub fn into_writer(self) -> Writer<'a, S> {
        self.inner
    }

    /// Splits the writer: `self` keeps the first `offset` bytes of the space left and the
    /// returned writer gets the rest (see [`Writer::split_at`]).
    ///
    /// # Errors
    /// [`SplitOutOfBounds`](crate::transport::Error::SplitOutOfBounds) beyond the space left.
    pub fn split_at(&mut self, offset: usize) -> Result<Self> {
        Ok(VirtioFsWriter {
            inner: self.inner.split_at(offset)?,
        })
    }

    /// Writes a plain-data object into guest memory.
    pub fn write_obj<T: ByteValued>(&mut self, val: T) -> io::Result<()> {
        self.inner.write_obj(val)
    }

    /// Moves up to `count` bytes from `src` at offset `off` into the reply (`preadv`
    /// straight into guest memory), returning how many were read.
    pub fn write_from_at<F: FileReadWriteVolatile>(
        &mut self,
        src: F,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        self.inner.write_from_at(src, count, off)
    }

    /// Moves up to `count` bytes from `src` at its current position into the reply.
    pub fn write_from<F: FileReadWriteVolatile>(
        &mut self,
        mut src: F,
        count: usize,
    ) -> io::Result<usize> {
        self.inner
            .consume_from(count, |bufs| src.read_vectored_volatile(bufs))
    }

    /// Moves exactly `count` bytes from `src` at its current position into the reply; EIO
    /// when `src` ends first.
    pub fn write_all_from<F: FileReadWriteVolatile>(
        &mut self,
        mut src: F,
        count: usize,
    ) -> io::Result<()> {
        move_exact(count, |left| self.write_from(&mut src, left))
    }

    /// Space left in the reply area.
    pub fn available_bytes(&self) -> usize {
        self.inner.available_bytes()
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> usize {
        self.inner.bytes_written()
    }

    /// The reply length: the bytes written here and in `other` (a writer split from this
    /// one). The bytes are in guest memory already; completing the chain is the caller's.
    pub fn commit(&mut self, other: Option<&Writer<'a, S>>) -> io::Result<usize> {
        self.inner.commit(other)
    }
}

/// Upstream's writer is `Clone`: the clone writes the same guest buffers from the same
/// position, and each keeps its own position afterwards. A sink set with
/// [`Writer::set_late_reply`] is not cloned: it stays with the original.
impl<S: BitmapSlice> Clone for VirtioFsWriter<'_, S> {
    fn clone(&self) -> Self {
        VirtioFsWriter {
            inner: Writer {
                bufs: self.inner.bufs.clone(),
                sink: self.inner.sink.clone(),
                late: None,
            },
        }
    }
}

impl<S: BitmapSlice> io::Write for VirtioFsWriter<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A constructor named after a variant of fuse-backend-rs 0.14's `Writer` enum, so that
/// `Writer::VirtioFs(w)` compiles (a `Writer` here is a struct: see docs/compat.md).
#[allow(non_snake_case)]
impl<'a, S: BitmapSlice> Writer<'a, S> {
    /// The writer for a virtio-fs reply: the same as `Writer::from(w)`.
    pub fn VirtioFs(w: VirtioFsWriter<'a, S>) -> Writer<'a, S> {
        w.into()
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

/// The request [`Reader`] and reply [`Writer`] of one chain, checking and walking it once.
///
/// This is the way to serve a chain: both halves come from one read of the descriptor
/// table, so no writable descriptor can overlap a readable one whatever the guest does to
/// the table meanwhile. [`Reader::from_descriptor_chain`] plus [`VirtioFsWriter::new`]
/// read it twice and are checked against each other only on one thread.
///
/// # Errors
/// As [`Reader::from_descriptor_chain`].
pub fn reader_writer_from_descriptor_chain<'a, M, D, S>(
    mem: &'a M,
    desc_chain: DescriptorChain<D>,
) -> Result<(Reader<'a, S>, Writer<'a, S>)>
where
    M: GuestMemory + ?Sized,
    <M::R as GuestMemoryRegion>::B: WithBitmapSlice<'a, S = S>,
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
