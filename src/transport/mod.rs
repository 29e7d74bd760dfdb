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

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd};

use vm_memory::bitmap::BitmapSlice;
use vm_memory::{ByteValued, VolatileSlice};

use crate::common::{FileReadWriteVolatile, FileVolatileSlice};

mod buffers;
pub mod fs_cache_req_handler;

#[cfg(feature = "fusedev")]
pub mod fusedev;
#[cfg(feature = "virtiofs")]
pub mod virtiofs;

pub(crate) use buffers::{IoBuffers, SliceList};
pub use fs_cache_req_handler::FsCacheReqHandler;
#[cfg(feature = "fusedev")]
pub use fusedev::{FuseChannel, FuseDevWriter, FuseSession, DEFAULT_BUSY_POLL};
#[cfg(feature = "virtiofs")]
pub use virtiofs::{reader_writer_from_descriptor_chain, VirtioFsWriter};

/// Errors of the transport layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A descriptor chain or buffer list is malformed (too long, overlapping, overflowing).
    #[error("invalid descriptor chain: {0}")]
    InvalidChain(&'static str),
    /// Guest memory could not be accessed.
    #[error("failed to access guest memory: {0}")]
    GuestMemory(String),
    /// An I/O error on the transport's file descriptor.
    #[error("transport i/o failed")]
    Io(#[source] io::Error),
    /// The session is not mounted or was shut down.
    #[error("the fuse session is not mounted")]
    SessionNotMounted,
    /// Mounting failed.
    #[error("failed to mount {path}: {source}")]
    Mount {
        /// The mount point.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Unmounting failed.
    #[error("failed to unmount {path}: {source}")]
    Umount {
        /// The mount point.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The requested feature is not available.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// A descriptor could not be split at the requested offset.
    #[error("failed to split writer at offset {0}")]
    SplitOutOfBounds(usize),
}

/// Result type of the transport layer.
pub type Result<T> = std::result::Result<T, Error>;

/// A plain byte buffer that a [`Reader`] or [`Writer`] can be built over.
pub struct FuseBuf<'a> {
    mem: &'a mut [u8],
}

impl<'a> FuseBuf<'a> {
    /// The buffer as a `VolatileSlice`, for building readers and writers over several
    /// buffers.
    pub fn into_volatile_slice(self) -> VolatileSlice<'a, ()> {
        self.into_volatile()
    }

    /// Wraps a byte buffer.
    pub fn new(mem: &'a mut [u8]) -> FuseBuf<'a> {
        FuseBuf { mem }
    }

    /// Length of the buffer.
    pub fn len(&self) -> usize {
        self.mem.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.mem.is_empty()
    }

    fn into_volatile(self) -> VolatileSlice<'a, ()> {
        // SAFETY: `self.mem` is a unique borrow of `len` initialised bytes for `'a`; the
        // returned slice takes over that borrow (FuseBuf is consumed), so nothing else
        // accesses the bytes while the slice lives.
        unsafe { VolatileSlice::new(self.mem.as_mut_ptr(), self.mem.len()) }
    }
}

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

impl<'a> Reader<'a, ()> {
    /// A reader over a request that was read into an ordinary buffer (`/dev/fuse`).
    pub fn from_fuse_buffer(buf: FuseBuf<'a>) -> Result<Reader<'a, ()>> {
        let mut list = SliceList::new();
        list.push(buf.into_volatile());
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
    pub fn read_obj<T: ByteValued + Default>(&mut self) -> io::Result<T> {
        let mut obj = T::default();
        let n = self.bufs.copy_to(obj.as_mut_slice());
        if n != size_of::<T>() {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        Ok(obj)
    }

    /// Moves up to `count` bytes of the request into `dst` at offset `off`
    /// (`pwritev` from the request buffers), returning how many were written.
    pub fn read_to_at<F: FileReadWriteVolatile + ?Sized>(
        &mut self,
        dst: &mut F,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        self.bufs
            .consume(count, |bufs| dst.write_vectored_at_volatile(bufs, off))
    }

    /// Moves exactly `count` bytes into `dst` starting at `off`, looping over short writes.
    pub fn read_exact_to_at<F: FileReadWriteVolatile + ?Sized>(
        &mut self,
        dst: &mut F,
        mut count: usize,
        mut off: u64,
    ) -> io::Result<()> {
        while count > 0 {
            match self.read_to_at(dst, count, off) {
                Ok(0) => return Err(io::Error::from_raw_os_error(libc::EIO)),
                Ok(n) => {
                    count -= n;
                    off += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
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

/// Where a fusedev reply goes when it is committed.
#[derive(Clone)]
struct DevSink<'a, S> {
    fd: BorrowedFd<'a>,
    /// The whole area this writer writes into; the written prefix is sent on commit.
    area: VolatileSlice<'a, S>,
}

/// Builds a FUSE reply: headers with [`Writer::write_obj`], bytes with [`io::Write`],
/// and file data straight from a file with [`Writer::write_from_at`].
///
/// A writer for `/dev/fuse` collects the reply and sends it in one `writev(2)` on
/// [`Writer::commit`]; a virtio-fs writer writes into guest memory directly and `commit`
/// only reports the length.
pub struct Writer<'a, S = ()> {
    bufs: IoBuffers<'a, S>,
    sink: Option<DevSink<'a, S>>,
}

impl<'a> Writer<'a, ()> {
    /// A writer that assembles a reply in `buf` and sends it to the `/dev/fuse` fd on commit.
    pub fn new_fusedev(fd: BorrowedFd<'a>, buf: FuseBuf<'a>) -> Writer<'a, ()> {
        let area = buf.into_volatile();
        let mut list = SliceList::new();
        list.push(area);
        Writer {
            bufs: IoBuffers::new(list),
            sink: Some(DevSink { fd, area }),
        }
    }
}

impl<'a, S: BitmapSlice> Writer<'a, S> {
    /// A writer over memory slices with no device behind them (the writable descriptors
    /// of a virtio chain, or a test buffer): replies land in the slices directly.
    pub fn from_volatile_slices<I>(slices: I) -> Writer<'a, S>
    where
        I: IntoIterator<Item = VolatileSlice<'a, S>>,
    {
        Writer {
            bufs: IoBuffers::new(slices.into_iter().collect()),
            sink: None,
        }
    }

    /// Writes a plain-data object.
    pub fn write_obj<T: ByteValued>(&mut self, val: T) -> io::Result<()> {
        io::Write::write_all(self, val.as_slice())
    }

    /// Moves up to `count` bytes from `src` at offset `off` into the reply (`preadv` into the
    /// reply buffers), returning how many were read.
    pub fn write_from_at<F: FileReadWriteVolatile + ?Sized>(
        &mut self,
        src: &mut F,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        self.bufs
            .consume(count, |bufs| src.read_vectored_at_volatile(bufs, off))
    }

    /// Space left in the reply area.
    pub fn available_bytes(&self) -> usize {
        self.bufs.available_bytes()
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> usize {
        self.bufs.bytes_consumed()
    }

    /// Splits the writer: `self` keeps the first `offset` bytes of space and the returned
    /// writer gets the rest. Used to write a body before its header is known.
    pub fn split_at(&mut self, offset: usize) -> Result<Writer<'a, S>> {
        let bufs = self
            .bufs
            .split_at(offset)
            .map_err(|_| Error::SplitOutOfBounds(offset))?;
        let sink = match &self.sink {
            Some(s) => {
                let written = self.bytes_written();
                let start = written
                    .checked_add(offset)
                    .ok_or(Error::SplitOutOfBounds(offset))?;
                let area = s
                    .area
                    .offset(start)
                    .map_err(|_| Error::SplitOutOfBounds(offset))?;
                Some(DevSink { fd: s.fd, area })
            }
            None => None,
        };
        Ok(Writer { bufs, sink })
    }

    /// Finishes the reply: a fusedev writer sends its bytes and those of `other` (a writer
    /// split from it) in one `writev(2)`. Returns the total reply length.
    pub fn commit(&mut self, other: Option<&Writer<'a, S>>) -> io::Result<usize> {
        let total = self.bytes_written() + other.map_or(0, |o| o.bytes_written());
        let Some(sink) = &self.sink else {
            return Ok(total);
        };
        let mut iov: [libc::iovec; 2] = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; 2];
        let mut n = 0;
        for w in std::iter::once(&*self).chain(other) {
            let len = w.bytes_written();
            if len == 0 {
                continue;
            }
            let Some(s) = &w.sink else { continue };
            let head = s
                .area
                .subslice(0, len)
                .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
            let view = FileVolatileSlice::from_volatile_slice(&head);
            iov[n] = libc::iovec {
                iov_base: view.as_ptr() as *mut libc::c_void,
                iov_len: view.len(),
            };
            n += 1;
        }
        if n == 0 {
            return Ok(0);
        }
        loop {
            // SAFETY: the iovecs point at the written prefixes of the writers' areas, which
            // stay borrowed for `'a`; `iov[..n]` is initialised and outlives the call.
            let ret = unsafe { libc::writev(sink.fd.as_raw_fd(), iov.as_ptr(), n as libc::c_int) };
            if ret >= 0 {
                return Ok(ret as usize);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                // The kernel no longer waits for this reply (the request was interrupted
                // or aborted): nothing was lost, so this is not a transport failure.
                Some(libc::ENOENT) => {
                    log::debug!("reply dropped by the kernel: request no longer pending");
                    return Ok(total);
                }
                _ => return Err(err),
            }
        }
    }

    /// Whether this writer sends its reply to a device on commit.
    pub fn is_fusedev(&self) -> bool {
        self.sink.is_some()
    }
}

impl<S: BitmapSlice> io::Write for Writer<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(self.bufs.copy_from(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn reader_reads_objects_and_bytes() {
        let mut raw = [0u8; 16];
        raw[..8].copy_from_slice(&7u64.to_ne_bytes());
        raw[8..12].copy_from_slice(b"abc\0");
        let mut r = Reader::from_fuse_buffer(FuseBuf::new(&mut raw)).unwrap();
        assert_eq!(r.read_obj::<u64>().unwrap(), 7);
        let mut name = [0u8; 4];
        r.read_exact(&mut name).unwrap();
        assert_eq!(&name, b"abc\0");
        assert_eq!(r.available_bytes(), 4);
        assert_eq!(r.bytes_read(), 12);
        assert!(r.read_obj::<u64>().is_err());
    }

    #[test]
    fn reader_over_several_slices() {
        let mut a = [1u8, 2, 3];
        let mut b = [4u8, 5, 6, 7, 8];
        let mut list = SliceList::new();
        list.push(FuseBuf::new(&mut a).into_volatile());
        list.push(FuseBuf::new(&mut b).into_volatile());
        let mut r = Reader::from_volatile_slices(list);
        let mut rest = r.split_at(2).unwrap();
        assert_eq!(r.available_bytes(), 2);
        assert_eq!(rest.available_bytes(), 6);
        let mut out = Vec::new();
        rest.read_to_end(&mut out).unwrap();
        assert_eq!(out, [3, 4, 5, 6, 7, 8]);
        assert!(r.split_at(3).is_err());
    }

    #[test]
    fn writer_split_and_commit_to_pipe() {
        let (rd, wr) = nix::unistd::pipe().unwrap();
        let mut buf = [0u8; 64];
        let mut w = Writer::new_fusedev(wr.as_fd_borrowed(), FuseBuf::new(&mut buf));
        let mut data = w.split_at(4).unwrap();
        data.write_all(b"payload").unwrap();
        w.write_all(b"HDR!").unwrap();
        assert_eq!(w.commit(Some(&data)).unwrap(), 11);
        let mut got = [0u8; 11];
        nix::unistd::read(&rd, &mut got).unwrap();
        assert_eq!(&got, b"HDR!payload");
    }

    #[test]
    fn writer_is_bounded() {
        let mut buf = [0u8; 4];
        let mut list = SliceList::new();
        list.push(FuseBuf::new(&mut buf).into_volatile());
        let mut w = Writer::from_volatile_slices(list);
        assert_eq!(w.write(b"123456").unwrap(), 4);
        assert!(w.write_all(b"x").is_err());
        assert_eq!(w.commit(None).unwrap(), 4);
    }

    trait AsFdBorrowed {
        fn as_fd_borrowed(&self) -> BorrowedFd<'_>;
    }
    impl AsFdBorrowed for std::os::fd::OwnedFd {
        fn as_fd_borrowed(&self) -> BorrowedFd<'_> {
            std::os::fd::AsFd::as_fd(self)
        }
    }
}
