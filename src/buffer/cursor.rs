//! A cursor over a list of memory slices: the request or reply area of one FUSE message.
//!
//! The same type serves /dev/fuse (one slice: the channel's buffer) and virtio-fs (one
//! slice per descriptor of the chain). The list is small and stored inline, so building
//! one allocates nothing for the common case.

use std::cmp::min;
use std::io;

use smallvec::SmallVec;
use vm_memory::bitmap::BitmapSlice;
use vm_memory::VolatileSlice;

use crate::common::FileVolatileSlice;
use crate::errno::err;

/// Slices stored inline before spilling to the heap (a virtio chain rarely has more).
const INLINE_SLICES: usize = 4;

pub(crate) type SliceList<'a, S> = SmallVec<[VolatileSlice<'a, S>; INLINE_SLICES]>;

/// Remaining slices and how far into them we are.
#[derive(Clone)]
pub(crate) struct IoBuffers<'a, S> {
    bufs: SliceList<'a, S>,
    /// Index of the first slice that still has bytes.
    idx: usize,
    /// Bytes handed out so far.
    consumed: usize,
    /// Bytes remaining across `bufs[idx..]`.
    remaining: usize,
}

impl<'a, S: BitmapSlice> IoBuffers<'a, S> {
    /// Builds a cursor; the total length must have been computed with checked arithmetic
    /// by the caller (descriptor lengths come from an untrusted guest).
    pub(crate) fn new(bufs: SliceList<'a, S>) -> Self {
        let remaining = bufs.iter().map(|b| b.len()).sum();
        IoBuffers {
            bufs,
            idx: 0,
            consumed: 0,
            remaining,
        }
    }

    pub(crate) fn empty() -> Self {
        IoBuffers {
            bufs: SmallVec::new(),
            idx: 0,
            consumed: 0,
            remaining: 0,
        }
    }

    pub(crate) fn available_bytes(&self) -> usize {
        self.remaining
    }

    pub(crate) fn bytes_consumed(&self) -> usize {
        self.consumed
    }

    /// Hands up to `count` bytes of the front slices to `f`, then advances by what `f`
    /// reports it used. `f` must not report more than it was given.
    pub(crate) fn consume<F>(&mut self, count: usize, f: F) -> io::Result<usize>
    where
        F: FnOnce(&[FileVolatileSlice]) -> io::Result<usize>,
    {
        let mut views: SmallVec<[FileVolatileSlice; INLINE_SLICES]> = SmallVec::new();
        let mut want = min(count, self.remaining);
        for b in &self.bufs[self.idx..] {
            if want == 0 {
                break;
            }
            let n = min(want, b.len());
            // `subslice(0, n)` cannot fail: n <= b.len().
            if let Ok(part) = b.subslice(0, n) {
                views.push(FileVolatileSlice::from_volatile_slice(&part));
            }
            want -= n;
        }
        if views.is_empty() {
            return Ok(0);
        }
        let given: usize = views.iter().map(|v| v.len()).sum();
        let used = f(&views)?;
        if used > given {
            return Err(err(libc::EIO));
        }
        self.advance(used, true);
        Ok(used)
    }

    /// Forgets how many bytes were consumed: `bytes_consumed` starts again at 0.
    #[cfg_attr(not(feature = "fusedev"), allow(dead_code))]
    pub(crate) fn reset_consumed(&mut self) {
        self.consumed = 0;
    }

    /// Skips `n` bytes (at most what remains); marks them dirty when `dirty` is set.
    fn advance(&mut self, mut n: usize, dirty: bool) {
        n = min(n, self.remaining);
        self.consumed += n;
        self.remaining -= n;
        while n > 0 {
            let b = &self.bufs[self.idx];
            let take = min(n, b.len());
            if dirty {
                b.bitmap().mark_dirty(0, take);
            }
            if take == b.len() {
                self.idx += 1;
            } else if let Ok(rest) = b.offset(take) {
                self.bufs[self.idx] = rest;
            }
            n -= take;
        }
        while self.idx < self.bufs.len() && self.bufs[self.idx].is_empty() {
            self.idx += 1;
        }
    }

    /// Copies out of the front slices into `buf`.
    pub(crate) fn copy_to(&mut self, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() && self.idx < self.bufs.len() {
            let b = &self.bufs[self.idx];
            let n = b.copy_to(&mut buf[done..]);
            self.advance(n, false);
            done += n;
            if n == 0 {
                break;
            }
        }
        done
    }

    /// Copies `buf` into the front slices.
    pub(crate) fn copy_from(&mut self, buf: &[u8]) -> usize {
        let mut done = 0;
        while done < buf.len() && self.idx < self.bufs.len() {
            let b = &self.bufs[self.idx];
            let n = min(b.len(), buf.len() - done);
            b.copy_from(&buf[done..done + n]);
            self.advance(n, true);
            done += n;
            if n == 0 {
                break;
            }
        }
        done
    }

    /// Splits off everything after `offset` bytes into a new cursor; `self` keeps the
    /// first `offset` bytes. Fails with EINVAL when `offset` is beyond what remains.
    pub(crate) fn split_at(&mut self, offset: usize) -> io::Result<IoBuffers<'a, S>> {
        if offset > self.remaining {
            return Err(err(libc::EINVAL));
        }
        let mut front: SliceList<'a, S> = SmallVec::new();
        let mut back: SliceList<'a, S> = SmallVec::new();
        let mut left = offset;
        for b in self.bufs.drain(self.idx..) {
            if left >= b.len() {
                left -= b.len();
                front.push(b);
            } else if left == 0 {
                back.push(b);
            } else {
                let (f, r) = b.split_at(left).map_err(|_| err(libc::EINVAL))?;
                front.push(f);
                back.push(r);
                left = 0;
            }
        }
        let consumed = self.consumed;
        *self = IoBuffers::new(front);
        self.consumed = consumed;
        Ok(IoBuffers::new(back))
    }
}

/// Calls `step` with the number of bytes still to move until `count` bytes have moved,
/// retrying EINTR; EIO when a step moves nothing (the file or the buffer ended first).
pub(crate) fn move_exact(
    mut count: usize,
    mut step: impl FnMut(usize) -> io::Result<usize>,
) -> io::Result<()> {
    while count > 0 {
        match step(count) {
            Ok(0) => return Err(err(libc::EIO)),
            Ok(n) => count -= n.min(count),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
