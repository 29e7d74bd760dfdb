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
use std::marker::PhantomData;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use vm_memory::bitmap::BitmapSlice;
use vm_memory::{ByteValued, VolatileSlice};

use crate::common::{FileReadWriteVolatile, FileVolatileSlice};
use crate::errno::err;

mod buffers;
pub mod fs_cache_req_handler;
mod late_reply;

#[cfg(feature = "fusedev")]
pub mod fusedev;
#[cfg(feature = "virtiofs")]
pub mod virtiofs;

pub(crate) use buffers::{IoBuffers, SliceList};
pub use fs_cache_req_handler::FsCacheReqHandler;
#[cfg(feature = "fusedev")]
pub use fusedev::{FuseChannel, FuseDevWriter, FuseSession, FuseSessionExt, DEFAULT_BUSY_POLL};
pub use late_reply::ReplySink;
#[cfg(feature = "virtiofs")]
pub use virtiofs::{reader_writer_from_descriptor_chain, VirtioFsWriter};

/// Errors of the transport layer.
///
/// It has every variant of fuse-backend-rs 0.14's `transport::Error` and a few of its
/// own, so a `match` needs a `_` arm.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The descriptor lengths of a chain add up to more than `usize` holds.
    #[error("descriptor chain length overflows")]
    DescriptorChainOverflow,
    /// No memory region holds a guest address.
    #[error("no memory region for this address range")]
    FindMemoryRegion,
    /// A descriptor chain or buffer list is malformed (too long, overlapping, overflowing).
    /// What is wrong with it is logged at debug level.
    #[error("invalid descriptor chain")]
    InvalidChain,
    /// An argument is out of range.
    #[error("invalid parameter")]
    InvalidParameter,
    /// An I/O error on the transport's file descriptor (reading `/dev/fuse`, polling,
    /// cloning the descriptor).
    #[error("transport i/o failed")]
    IoError(#[source] io::Error),
    /// A volatile memory access failed.
    #[error("failed to access volatile memory")]
    VolatileMemoryError(#[source] vm_memory::VolatileMemoryError),
    /// The FUSE session cannot do what was asked (for instance it is not connected).
    #[cfg(feature = "fusedev")]
    #[error("fuse session failure: {0}")]
    SessionFailure(String),
    /// Guest memory could not be accessed.
    #[cfg(feature = "virtiofs")]
    #[error("failed to access guest memory")]
    GuestMemoryError(#[source] vm_memory::GuestMemoryError),
    /// An indirect descriptor table could not be read.
    #[cfg(feature = "virtiofs")]
    #[error("invalid indirect descriptor")]
    ConvertIndirectDescriptor(#[source] virtio_queue::Error),
    /// Guest memory could not be accessed (with the reason as text).
    #[error("failed to access guest memory: {0}")]
    GuestMemory(String),
    /// Same as [`Error::IoError`], which this crate now returns instead.
    #[deprecated(note = "this crate returns `Error::IoError` instead")]
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
    /// A reader or writer could not be split at the requested offset.
    #[error("failed to split at offset {0}")]
    SplitOutOfBounds(usize),
}

/// Recovers an [`Error`] that a thread panicked with (`std::panic::panic_any(err)`), as
/// returned by `JoinHandle::join`.
///
/// # Panics
/// When the payload is not an [`Error`] (a panic with a message, say): the payload is
/// then passed on with `std::panic::resume_unwind`, so the original panic goes on.
impl From<Box<dyn std::any::Any + Send>> for Error {
    fn from(payload: Box<dyn std::any::Any + Send>) -> Self {
        match payload.downcast::<Error>() {
            Ok(e) => *e,
            Err(other) => std::panic::resume_unwind(other),
        }
    }
}

/// Result type of the transport layer.
pub type Result<T> = std::result::Result<T, Error>;

/// A plain byte buffer that a [`Reader`] or [`Writer`] can be built over.
#[derive(Debug)]
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
        self.into_volatile_with(())
    }

    /// The buffer as a slice tracked by `bitmap` (which plain memory does not need, but a
    /// generic caller may ask for).
    fn into_volatile_with<S: BitmapSlice>(self, bitmap: S) -> VolatileSlice<'a, S> {
        // SAFETY: `self.mem` is a unique borrow of `len` initialised bytes for `'a`; the
        // returned slice takes over that borrow (FuseBuf is consumed), so nothing else
        // accesses the bytes while the slice lives. Plain memory has no mmap info.
        unsafe { VolatileSlice::with_bitmap(self.mem.as_mut_ptr(), self.mem.len(), bitmap, None) }
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
        buffers::move_exact(count, |left| self.read_to(&mut dst, left))
    }

    /// Moves exactly `count` bytes into `dst` starting at `off`, looping over short writes.
    pub fn read_exact_to_at<F: FileReadWriteVolatile>(
        &mut self,
        mut dst: F,
        count: usize,
        mut off: u64,
    ) -> io::Result<()> {
        buffers::move_exact(count, |left| {
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

/// Where a fusedev reply goes when it is committed.
#[derive(Clone)]
struct DevSink<'a, S> {
    /// The `/dev/fuse` descriptor. Raw because upstream's `FuseDevWriter::new` takes a
    /// `RawFd`; the writer's owner keeps it open (a closed one only makes writes fail).
    fd: RawFd,
    /// The whole area this writer writes into; the written prefix is sent on commit.
    area: VolatileSlice<'a, S>,
}

impl<S: BitmapSlice> DevSink<'_, S> {
    /// The sink of the part of the area after `start`.
    fn tail(&self, start: usize) -> Option<Self> {
        let area = self.area.offset(start).ok()?;
        Some(DevSink { fd: self.fd, area })
    }

    /// A descriptor for a late reply: a duplicate of the device descriptor.
    fn dup_fd(&self) -> Option<OwnedFd> {
        // SAFETY: F_DUPFD_CLOEXEC reads no memory; it fails with EBADF on a closed fd.
        let raw = unsafe { libc::fcntl(self.fd, libc::F_DUPFD_CLOEXEC, 0) };
        if raw < 0 {
            return None;
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        Some(unsafe { OwnedFd::from_raw_fd(raw) })
    }
}

/// Sends the first `len` bytes of each area to `fd` as one message (one `writev(2)`).
/// `total` is what to report when the kernel says the request is no longer pending.
fn send_reply<S: BitmapSlice>(
    fd: RawFd,
    parts: &[(&VolatileSlice<'_, S>, usize)],
    total: usize,
) -> io::Result<usize> {
    let mut iov: [libc::iovec; 2] = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; 2];
    let mut n = 0;
    for (area, len) in parts.iter().filter(|(_, len)| *len > 0) {
        if n == iov.len() {
            return Err(err(libc::EINVAL));
        }
        let head = area.subslice(0, *len).map_err(|_| err(libc::EINVAL))?;
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
        // SAFETY: the iovecs point at prefixes of the areas, which the callers borrow for
        // the call; `iov[..n]` is initialised and outlives the call.
        let ret = unsafe { libc::writev(fd, iov.as_ptr(), n as libc::c_int) };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            // The kernel no longer waits for this reply (the request was interrupted or
            // aborted): nothing was lost, so this is not a transport failure.
            Some(libc::ENOENT) => {
                log::debug!("reply dropped by the kernel: request no longer pending");
                return Ok(total);
            }
            _ => return Err(err),
        }
    }
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
    /// Where a reply sent after `handle_message` returned goes (virtio-fs: set by the
    /// queue's owner; `/dev/fuse` makes one on demand).
    late: Option<Box<dyn ReplySink>>,
}

impl<'a> Writer<'a, ()> {
    /// A writer that assembles a reply in `buf` and sends it to the `/dev/fuse` fd on commit.
    pub fn new_fusedev(fd: BorrowedFd<'a>, buf: FuseBuf<'a>) -> Writer<'a, ()> {
        let area = buf.into_volatile();
        let mut list = SliceList::new();
        list.push(area);
        Writer {
            bufs: IoBuffers::new(list),
            sink: Some(DevSink {
                fd: fd.as_raw_fd(),
                area,
            }),
            late: None,
        }
    }
}

/// Constructors named after the variants of fuse-backend-rs 0.14's `Writer` enum, so that
/// `Writer::FuseDev(w)` and its kin compile (a `Writer` here is a struct: see
/// docs/compat.md).
#[allow(non_snake_case)]
impl<'a, S: BitmapSlice> Writer<'a, S> {
    /// The writer for a `/dev/fuse` reply: the same as `Writer::from(w)`.
    #[cfg(feature = "fusedev")]
    pub fn FuseDev(w: FuseDevWriter<'a, S>) -> Writer<'a, S> {
        w.into()
    }

    /// The writer for a virtio-fs reply: the same as `Writer::from(w)`.
    #[cfg(feature = "virtiofs")]
    pub fn VirtioFs(w: VirtioFsWriter<'a, S>) -> Writer<'a, S> {
        w.into()
    }

    /// A writer with no space and nothing behind it: writes take no bytes and `commit`
    /// sends nothing.
    pub fn Noop(_: PhantomData<&'a S>) -> Writer<'a, S> {
        Writer {
            bufs: IoBuffers::empty(),
            sink: None,
            late: None,
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
            late: None,
        }
    }

    /// Writes a plain-data object.
    pub fn write_obj<T: ByteValued>(&mut self, val: T) -> io::Result<()> {
        io::Write::write_all(self, val.as_slice())
    }

    /// Moves up to `count` bytes from `src` at offset `off` into the reply (`preadv` into the
    /// reply buffers), returning how many were read. `src` may be a file or a `&mut` to
    /// one.
    pub fn write_from_at<F: FileReadWriteVolatile>(
        &mut self,
        mut src: F,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        self.bufs
            .consume(count, |bufs| src.read_vectored_at_volatile(bufs, off))
    }

    /// Moves up to `count` bytes into the reply with `f`, which gets the free space as
    /// slices (a readv-like call); for writers over memory with no device behind them.
    #[cfg(feature = "virtiofs")]
    pub(crate) fn consume_from<F>(&mut self, count: usize, f: F) -> io::Result<usize>
    where
        F: FnOnce(&[FileVolatileSlice]) -> io::Result<usize>,
    {
        self.bufs.consume(count, f)
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
                let start = self
                    .bytes_written()
                    .checked_add(offset)
                    .ok_or(Error::SplitOutOfBounds(offset))?;
                Some(s.tail(start).ok_or(Error::SplitOutOfBounds(offset))?)
            }
            None => None,
        };
        Ok(Writer {
            bufs,
            sink,
            late: None,
        })
    }

    /// Lets the server answer this request later, through `sink`, instead of on the
    /// serving thread (see [`ReplySink`]). A request answered through the sink gets no
    /// reply through this writer: `handle_message` returns `Ok(0)` for it, and the caller
    /// must not complete it (for virtio-fs: must not add the chain to the used ring).
    pub fn set_late_reply(&mut self, sink: Box<dyn ReplySink>) {
        self.late = Some(sink);
    }

    /// Takes the sink for a late reply: the one set with
    /// [`set_late_reply`](Writer::set_late_reply), or for `/dev/fuse` a duplicate of the
    /// device descriptor. `None` when the transport cannot answer late.
    pub(crate) fn take_late_reply(&mut self) -> Option<Box<dyn ReplySink>> {
        if let Some(late) = self.late.take() {
            return Some(late);
        }
        let fd = self.sink.as_ref()?.dup_fd()?;
        Some(Box::new(late_reply::FuseDevLateReply::new(fd)))
    }

    /// Finishes the reply: a fusedev writer sends its bytes and those of `other` (a writer
    /// split from it) in one `writev(2)`. Returns the total reply length.
    pub fn commit(&mut self, other: Option<&Writer<'a, S>>) -> io::Result<usize> {
        let total = self.bytes_written() + other.map_or(0, |o| o.bytes_written());
        let Some(sink) = &self.sink else {
            return Ok(total);
        };
        let mine = (&sink.area, self.bytes_written());
        match other.and_then(|o| Some((&o.sink.as_ref()?.area, o.bytes_written()))) {
            Some(theirs) => send_reply(sink.fd, &[mine, theirs], total),
            None => send_reply(sink.fd, &[mine], total),
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

/// The size of a memory page, in bytes (`sysconf(_SC_PAGESIZE)`, read once).
pub fn pagesize() -> usize {
    static PAGESIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGESIZE.get_or_init(|| {
        // SAFETY: sysconf takes an integer and reads no memory of ours.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        // Linux always knows its page size; 4096 is the smallest it uses.
        usize::try_from(n).unwrap_or(4096)
    })
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
        let mut r = Reader::<()>::from_fuse_buffer(FuseBuf::new(&mut raw)).unwrap();
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
