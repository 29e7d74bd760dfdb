//! [`Writer`]: the reply side of a FUSE message, and how a `/dev/fuse` reply leaves it
//! (one `writev(2)` on commit).

use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use vm_memory::bitmap::BitmapSlice;
use vm_memory::{ByteValued, VolatileSlice};

use super::cursor::{IoBuffers, SliceList};
use super::late_reply::{FuseDevLateReply, ReplySink};
use super::{Error, FuseBuf, Result};
use crate::common::{FileReadWriteVolatile, FileVolatileSlice};
use crate::errno::err;

/// Where a fusedev reply goes when it is committed.
#[derive(Clone)]
pub(crate) struct DevSink<'a, S> {
    /// The `/dev/fuse` descriptor. Raw because upstream's `FuseDevWriter::new` takes a
    /// `RawFd`; the writer's owner keeps it open (a closed one only makes writes fail).
    pub(crate) fd: RawFd,
    /// The whole area this writer writes into; the written prefix is sent on commit.
    pub(crate) area: VolatileSlice<'a, S>,
}

impl<S: BitmapSlice> DevSink<'_, S> {
    /// The sink of the part of the area after `start`.
    pub(crate) fn tail(&self, start: usize) -> Option<Self> {
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
pub(crate) fn send_reply<S: BitmapSlice>(
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
    pub(crate) bufs: IoBuffers<'a, S>,
    pub(crate) sink: Option<DevSink<'a, S>>,
    /// Where a reply sent after `handle_message` returned goes (virtio-fs: set by the
    /// queue's owner; `/dev/fuse` makes one on demand).
    pub(crate) late: Option<Box<dyn ReplySink>>,
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

#[allow(non_snake_case)]
impl<'a, S: BitmapSlice> Writer<'a, S> {
    /// A writer with no space and nothing behind it: writes take no bytes and `commit`
    /// sends nothing (a constructor named after a variant of fuse-backend-rs 0.14's
    /// `Writer` enum; `Writer::FuseDev` and `Writer::VirtioFs` sit with their transports).
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
        Some(Box::new(FuseDevLateReply::new(fd)))
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
