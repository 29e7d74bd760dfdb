//! [`FuseDevWriter`]: the reply writer of the `/dev/fuse` transport.

use std::fmt;
use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use vm_memory::bitmap::BitmapSlice;
use vm_memory::{ByteValued, VolatileSlice};

use crate::buffer::cursor::{move_exact, IoBuffers, SliceList};
use crate::buffer::writer::{send_reply, DevSink};
use crate::buffer::{Error, FuseBuf, Result, Writer};
use crate::common::FileReadWriteVolatile;
use crate::errno::err;

/// Writes a FUSE message to a `/dev/fuse` descriptor: a reply, or a notification.
///
/// It works in one of two modes, as in fuse-backend-rs 0.14:
///
/// - **direct** (a new writer): each write is sent to the device at once, as one whole
///   message. Write a message with one call (`write_all`, `write_vectored`,
///   [`write_obj`](FuseDevWriter::write_obj)); [`commit`](FuseDevWriter::commit) then has
///   nothing left to send and returns 0.
/// - **buffered** (both halves, once [`split_at`](FuseDevWriter::split_at) was called):
///   writes collect in the buffer and [`commit`](FuseDevWriter::commit) sends the message,
///   with the bytes of the other half, in one `writev(2)`.
///
/// The server takes a [`Writer`]: pass `writer.into()` (or `Writer::FuseDev(writer)`). That
/// conversion always gives a buffered writer, which the server commits once the reply is
/// complete; bytes the writer had already sent directly are not sent again.
///
/// The buffer is the reply area of a [`FuseChannel`](super::FuseChannel), of the session
/// ([`FuseSession::with_writer`](super::FuseSession::with_writer)) or the one given to
/// [`FuseDevWriter::new`]; file data read with
/// [`write_from_at`](FuseDevWriter::write_from_at) lands in it straight from the kernel.
pub struct FuseDevWriter<'a, S: BitmapSlice = ()> {
    /// The space left; `bytes_consumed` counts the bytes written.
    bufs: IoBuffers<'a, S>,
    /// The device and the whole area, whose written prefix is the buffered message.
    sink: DevSink<'a, S>,
    buffered: bool,
}

// SAFETY: the slices point into a buffer that the writer borrows uniquely for 'a (a
// `&'a mut [u8]`, or the channel's or session's buffer borrowed through `&'a mut self`),
// never into shared or guest memory, so moving the writer to another thread is moving
// that unique borrow. The descriptor is a plain integer. The bitmap is sent with it.
unsafe impl<S: BitmapSlice + Send> Send for FuseDevWriter<'_, S> {}
// SAFETY: through `&FuseDevWriter` the buffer is only read (`bytes_written`, `Debug`,
// `PartialEq`); every write needs `&mut self`, so shared references never race with one.
unsafe impl<S: BitmapSlice + Sync> Sync for FuseDevWriter<'_, S> {}

impl<'a, S: BitmapSlice + Default> FuseDevWriter<'a, S> {
    /// A writer that sends messages to the `/dev/fuse` descriptor `fd`, with `data_buf` as
    /// the message buffer. It starts in direct mode (see the type's documentation).
    ///
    /// `fd` must stay open while the writer is used: otherwise writes fail with EBADF, or
    /// go to whatever file took the number.
    ///
    /// # Errors
    /// None at present; the `Result` is fuse-backend-rs 0.14's signature.
    pub fn new(fd: RawFd, data_buf: &'a mut [u8]) -> Result<FuseDevWriter<'a, S>> {
        let area = FuseBuf::new(data_buf).into_volatile_with(S::default());
        Ok(Self::over(fd, area))
    }
}

impl<'a> FuseDevWriter<'a, ()> {
    /// A direct-mode writer on a descriptor the caller keeps open for `'a`.
    pub(crate) fn on_device(fd: BorrowedFd<'a>, buf: &'a mut [u8]) -> Self {
        Self::over(fd.as_raw_fd(), FuseBuf::new(buf).into_volatile())
    }
}

impl<'a, S: BitmapSlice> FuseDevWriter<'a, S> {
    fn over(fd: RawFd, area: VolatileSlice<'a, S>) -> Self {
        let mut list = SliceList::new();
        list.push(area.clone());
        FuseDevWriter {
            bufs: IoBuffers::new(list),
            sink: DevSink { fd, area },
            buffered: false,
        }
    }

    /// Splits the writer: `self` keeps the first `offset` bytes of the space left and the
    /// returned writer gets the rest. Both are buffered from then on; commit the first
    /// with the second as `other` to send the message.
    ///
    /// # Errors
    /// [`Error::SplitOutOfBounds`] when `offset` is beyond the space left.
    pub fn split_at(&mut self, offset: usize) -> Result<FuseDevWriter<'a, S>> {
        self.forget_sent();
        let out_of_bounds = |_| Error::SplitOutOfBounds(offset);
        let start = self
            .bytes_written()
            .checked_add(offset)
            .ok_or(Error::SplitOutOfBounds(offset))?;
        let sink = self
            .sink
            .tail(start)
            .ok_or(Error::SplitOutOfBounds(offset))?;
        let bufs = self.bufs.split_at(offset).map_err(out_of_bounds)?;
        self.buffered = true;
        Ok(FuseDevWriter {
            bufs,
            sink,
            buffered: true,
        })
    }

    /// Sends the buffered message: this writer's bytes followed by those of `other` (the
    /// other half of a split, converted with `.into()`), in one `writev(2)`. Returns the
    /// bytes sent; 0 in direct mode, where writes were sent already.
    ///
    /// A reply the kernel no longer waits for (the request was interrupted) counts as
    /// sent.
    ///
    /// # Errors
    /// The device's errno (ENODEV once the connection ended, EINVAL for a malformed
    /// message).
    pub fn commit(&mut self, other: Option<&Writer<'a, S>>) -> io::Result<usize> {
        if !self.buffered {
            return Ok(0);
        }
        let theirs = other.and_then(|o| Some((&o.sink.as_ref()?.area, o.bytes_written())));
        let total = self.bytes_written() + theirs.map_or(0, |t| t.1);
        let mine = (&self.sink.area, self.bytes_written());
        match theirs {
            Some(theirs) => send_reply(self.sink.fd, &[mine, theirs], total),
            None => send_reply(self.sink.fd, &[mine], total),
        }
    }

    /// Bytes written so far (in direct mode: sent).
    pub fn bytes_written(&self) -> usize {
        self.bufs.bytes_consumed()
    }

    /// Space left in the buffer.
    pub fn available_bytes(&self) -> usize {
        self.bufs.available_bytes()
    }

    /// Writes a plain-data object (in direct mode: sends it as one message).
    ///
    /// # Errors
    /// As [`io::Write::write_all`].
    pub fn write_obj<T: ByteValued>(&mut self, val: T) -> io::Result<()> {
        io::Write::write_all(self, val.as_slice())
    }

    /// Reads up to `count` bytes of `src` at offset `off` into the message (`preadv`
    /// straight into the buffer) and returns how many were read; in direct mode they are
    /// sent at once. `src` may be a file or a `&mut` to one.
    ///
    /// # Errors
    /// `InvalidData` when `count` exceeds [`available_bytes`](Self::available_bytes);
    /// the file's or the device's error.
    pub fn write_from_at<F: FileReadWriteVolatile>(
        &mut self,
        mut src: F,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        self.check_space(count)?;
        let start = self.bytes_written();
        let n = self
            .bufs
            .consume(count, |bufs| src.read_vectored_at_volatile(bufs, off))?;
        self.finish_write(start, n)
    }

    /// Moves up to `count` bytes from `src` at its current position into the message
    /// (`readv` into the buffer), returning how many were read.
    pub fn write_from<F: FileReadWriteVolatile>(
        &mut self,
        mut src: F,
        count: usize,
    ) -> io::Result<usize> {
        self.check_space(count)?;
        let start = self.bytes_written();
        let n = self
            .bufs
            .consume(count, |bufs| src.read_vectored_volatile(bufs))?;
        self.finish_write(start, n)
    }

    /// Moves exactly `count` bytes from `src` at its current position into the message;
    /// EIO when `src` ends first.
    pub fn write_all_from<F: FileReadWriteVolatile>(
        &mut self,
        mut src: F,
        count: usize,
    ) -> io::Result<()> {
        move_exact(count, |left| self.write_from(&mut src, left))
    }

    fn check_space(&self, len: usize) -> io::Result<()> {
        if len > self.available_bytes() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{len} bytes do not fit in the {} bytes left",
                    self.available_bytes()
                ),
            ));
        }
        Ok(())
    }

    /// In direct mode, sends the `n` bytes just written at `start`.
    fn finish_write(&mut self, start: usize, n: usize) -> io::Result<usize> {
        if self.buffered || n == 0 {
            return Ok(n);
        }
        let region = self
            .sink
            .area
            .offset(start)
            .map_err(|_| err(libc::EINVAL))?;
        send_reply(self.sink.fd, &[(&region, n)], n)
    }

    /// Drops bytes already sent in direct mode from the message, so that a later commit
    /// does not send them again.
    fn forget_sent(&mut self) {
        let sent = self.bytes_written();
        if self.buffered || sent == 0 {
            return;
        }
        if let Some(tail) = self.sink.tail(sent) {
            self.sink = tail;
            self.bufs.reset_consumed();
        }
    }

    /// The bytes written so far.
    fn written(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.bytes_written()];
        if let Ok(head) = self.sink.area.subslice(0, out.len()) {
            head.copy_to(&mut out[..]);
        }
        out
    }
}

impl<S: BitmapSlice> io::Write for FuseDevWriter<'_, S> {
    /// Writes all of `data` or nothing: in direct mode `data` is one message.
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check_space(data.len())?;
        let start = self.bytes_written();
        let n = self.bufs.copy_from(data);
        self.finish_write(start, n)
    }

    /// Writes all slices, in direct mode as one message.
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let len = bufs
            .iter()
            .try_fold(0usize, |acc, b| acc.checked_add(b.len()))
            .ok_or_else(|| err(libc::EINVAL))?;
        self.check_space(len)?;
        let start = self.bytes_written();
        let n = bufs.iter().map(|b| self.bufs.copy_from(b)).sum();
        self.finish_write(start, n)
    }

    /// Fails, as in fuse-backend-rs 0.14: a buffered message is sent with
    /// [`commit`](FuseDevWriter::commit), which knows the other half.
    fn flush(&mut self) -> io::Result<()> {
        Err(io::Error::other(
            "FuseDevWriter cannot flush: use commit() to send a buffered message",
        ))
    }
}

/// A constructor named after a variant of fuse-backend-rs 0.14's `Writer` enum, so that
/// `Writer::FuseDev(w)` compiles (a `Writer` here is a struct: see docs/compat.md).
#[allow(non_snake_case)]
impl<'a, S: BitmapSlice> Writer<'a, S> {
    /// The writer for a `/dev/fuse` reply: the same as `Writer::from(w)`.
    pub fn FuseDev(w: FuseDevWriter<'a, S>) -> Writer<'a, S> {
        w.into()
    }
}

impl<'a, S: BitmapSlice> From<FuseDevWriter<'a, S>> for Writer<'a, S> {
    /// A buffered writer over the space `w` has left; bytes `w` sent in direct mode are
    /// not sent again, bytes it buffered are part of the reply.
    fn from(mut w: FuseDevWriter<'a, S>) -> Self {
        w.forget_sent();
        Writer {
            bufs: w.bufs,
            sink: Some(w.sink),
            late: None,
        }
    }
}

impl<S: BitmapSlice + fmt::Debug> fmt::Debug for FuseDevWriter<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FuseDevWriter")
            .field("fd", &self.sink.fd)
            .field("buffered", &self.buffered)
            .field("bytes_written", &self.bytes_written())
            .field("available_bytes", &self.available_bytes())
            .field("bitmap", self.sink.area.bitmap())
            .finish()
    }
}

/// Equal when both write to the same descriptor, in the same mode, have written the same
/// bytes, have the same space left and equal bitmaps.
impl<S: BitmapSlice + PartialEq> PartialEq for FuseDevWriter<'_, S> {
    fn eq(&self, other: &Self) -> bool {
        self.sink.fd == other.sink.fd
            && self.buffered == other.buffered
            && self.available_bytes() == other.available_bytes()
            && self.sink.area.bitmap() == other.sink.area.bitmap()
            && self.written() == other.written()
    }
}

impl<S: BitmapSlice + Eq> Eq for FuseDevWriter<'_, S> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::{AsFd, OwnedFd};

    fn pipe() -> (OwnedFd, OwnedFd) {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK).unwrap()
    }

    fn drain(fd: &OwnedFd) -> Vec<u8> {
        let mut buf = [0u8; 256];
        match nix::unistd::read(fd, &mut buf) {
            Ok(n) => buf[..n].to_vec(),
            Err(nix::errno::Errno::EAGAIN) => Vec::new(),
            Err(e) => panic!("read: {e}"),
        }
    }

    #[test]
    fn direct_mode_sends_each_write() {
        let (rd, wr) = pipe();
        let mut buf = [0u8; 32];
        let mut w = FuseDevWriter::<()>::new(wr.as_raw_fd(), &mut buf).unwrap();
        w.write_all(b"one").unwrap();
        assert_eq!(drain(&rd), b"one");
        let n = w
            .write_vectored(&[IoSlice::new(b"tw"), IoSlice::new(b"o")])
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(drain(&rd), b"two");
        assert_eq!(w.bytes_written(), 6);
        assert_eq!(w.commit(None).unwrap(), 0);
        assert!(drain(&rd).is_empty());
        assert!(w.write_all(&[0u8; 27]).is_err());
        assert!(w.flush().is_err());
    }

    #[test]
    fn split_buffers_until_commit() {
        let (rd, wr) = pipe();
        let mut buf = [0u8; 32];
        let mut w = FuseDevWriter::on_device(wr.as_fd(), &mut buf);
        let mut body = w.split_at(4).unwrap();
        body.write_all(b"body").unwrap();
        w.write_all(b"head").unwrap();
        assert!(drain(&rd).is_empty());
        let body = Writer::from(body);
        assert_eq!(w.commit(Some(&body)).unwrap(), 8);
        assert_eq!(drain(&rd), b"headbody");
    }

    #[test]
    fn conversion_does_not_resend_direct_writes() {
        let (rd, wr) = pipe();
        let mut buf = [0u8; 32];
        let mut w = FuseDevWriter::on_device(wr.as_fd(), &mut buf);
        w.write_all(b"sent").unwrap();
        assert_eq!(drain(&rd), b"sent");
        let mut w: Writer = w.into();
        assert_eq!(w.available_bytes(), 28);
        w.write_all(b"reply").unwrap();
        assert_eq!(w.commit(None).unwrap(), 5);
        assert_eq!(drain(&rd), b"reply");
    }

    #[test]
    fn equality_and_debug() {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        let mut wa = FuseDevWriter::<()>::new(-1, &mut a).unwrap();
        let wb = FuseDevWriter::<()>::new(-1, &mut b).unwrap();
        assert_eq!(wa, wb);
        let _tail = wa.split_at(4).unwrap();
        assert_ne!(wa, wb);
        assert!(format!("{wa:?}").contains("buffered: true"));
    }
}
