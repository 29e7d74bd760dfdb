//! [`Reader`]: the request side of a FUSE message.

use std::io;
use std::mem::size_of;

use vm_memory::bitmap::BitmapSlice;
use vm_memory::{ByteValued, VolatileSlice};

use super::cursor::{move_exact, IoBuffers, SliceList};
use super::{Error, FuseBuf, Result};
use crate::common::FileReadWriteVolatile;
use crate::errno::err;

/// Reads a FUSE request: headers with [`Reader::read_obj`], names and values with
/// [`io::Read`], and file data straight into a file with [`Reader::read_to_at`].
#[derive(Clone)]
pub struct Reader<'a, S = ()> {
    bufs: IoBuffers<'a, S>,
}

impl<S: BitmapSlice> Default for Reader<'_, S> {
    fn default() -> Self {
        Reader {
            bufs: IoBuffers::empty(),
        }
    }
}

impl<'a, S: BitmapSlice + Default> Reader<'a, S> {
    /// A reader over a request that was read into an ordinary buffer (`/dev/fuse`). The
    /// bitmap type is free (plain memory needs none); `()` is the usual choice.
    pub fn from_fuse_buffer(buf: FuseBuf<'a>) -> Result<Reader<'a, S>> {
        let mut list = SliceList::new();
        list.push(buf.into_volatile_with(S::default()));
        Ok(Reader {
            bufs: IoBuffers::new(list),
        })
    }
}

impl<'a, S: BitmapSlice> Reader<'a, S> {
    /// A reader over memory slices, in order (e.g. the readable descriptors of a virtio
    /// chain). The caller guarantees the slices are valid for `'a`, which `VolatileSlice`
    /// already encodes.
    pub fn from_volatile_slices<I>(slices: I) -> Reader<'a, S>
    where
        I: IntoIterator<Item = VolatileSlice<'a, S>>,
    {
        Reader {
            bufs: IoBuffers::new(slices.into_iter().collect()),
        }
    }

    /// Reads a plain-data object (a copy: the source may be guest memory that changes).
    pub fn read_obj<T: ByteValued>(&mut self) -> io::Result<T> {
        // SAFETY: `ByteValued` promises that every byte pattern, all zeroes included, is
        // a valid `T`.
        let mut obj: T = unsafe { std::mem::zeroed() };
        let n = self.bufs.copy_to(obj.as_mut_slice());
        if n != size_of::<T>() {
            return Err(err(libc::EINVAL));
        }
        Ok(obj)
    }

    /// Moves up to `count` bytes of the request into `dst` at offset `off`
    /// (`pwritev` from the request buffers), returning how many were written. `dst` may be
    /// a file or a `&mut` to one.
    pub fn read_to_at<F: FileReadWriteVolatile>(
        &mut self,
        mut dst: F,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        self.bufs
            .consume(count, |bufs| dst.write_vectored_at_volatile(bufs, off))
    }

    /// Moves up to `count` bytes into `dst` at its current position (`writev`),
    /// returning how many were written.
    pub fn read_to<F: FileReadWriteVolatile>(
        &mut self,
        mut dst: F,
        count: usize,
    ) -> io::Result<usize> {
        self.bufs
            .consume(count, |bufs| dst.write_vectored_volatile(bufs))
    }

    /// Moves exactly `count` bytes into `dst` at its current position, looping over short
    /// writes; EIO when `dst` takes nothing, or the request holds fewer bytes.
    pub fn read_exact_to<F: FileReadWriteVolatile>(
        &mut self,
        mut dst: F,
        count: usize,
    ) -> io::Result<()> {
        move_exact(count, |left| self.read_to(&mut dst, left))
    }

    /// Moves exactly `count` bytes into `dst` starting at `off`, looping over short writes.
    pub fn read_exact_to_at<F: FileReadWriteVolatile>(
        &mut self,
        mut dst: F,
        count: usize,
        mut off: u64,
    ) -> io::Result<()> {
        move_exact(count, |left| {
            let n = self.read_to_at(&mut dst, left, off)?;
            off += n as u64;
            Ok(n)
        })
    }

    /// Bytes not yet read.
    pub fn available_bytes(&self) -> usize {
        self.bufs.available_bytes()
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> usize {
        self.bufs.bytes_consumed()
    }

    /// Splits the reader: `self` keeps the first `offset` unread bytes and the returned
    /// reader gets the rest.
    pub fn split_at(&mut self, offset: usize) -> Result<Reader<'a, S>> {
        let bufs = self
            .bufs
            .split_at(offset)
            .map_err(|_| Error::SplitOutOfBounds(offset))?;
        Ok(Reader { bufs })
    }
}

impl<S: BitmapSlice> io::Read for Reader<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.bufs.copy_to(buf))
    }
}
