//! Byte ranges that file I/O moves data into and out of, described by pointer and length
//! rather than as Rust slices, because the bytes may be guest memory that the guest changes
//! at any time.
//!
//! [`FileVolatileSlice`] borrows such a range for a lifetime; it drops vm-memory's bitmap
//! type parameter so that [`FileReadWriteVolatile`](crate::file_traits::FileReadWriteVolatile)
//! stays object safe and free of generics (the transports mark dirty pages themselves).
//! [`FileVolatileBuf`] is the same range without a lifetime, with a count of initialised
//! bytes, for I/O engines that take ownership of their buffers until completion.

use std::io::{IoSlice, IoSliceMut};
use std::marker::PhantomData;
use std::sync::atomic::Ordering;

use vm_memory::bitmap::BitmapSlice;
use vm_memory::WriteVolatile;
use vm_memory::{AtomicAccess, Bytes, ReadVolatile, VolatileMemoryError, VolatileSlice};

/// Errors of [`FileVolatileSlice`] arithmetic and access.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The range would start beyond the end of the slice.
    #[error("address {addr:#x} is out of bounds")]
    OutOfBounds {
        /// Start address the operation asked for.
        addr: usize,
    },
    /// Adding `offset` to `base` overflows `usize`.
    #[error("address {base:#x} offset by {offset:#x} would overflow")]
    Overflow {
        /// Start address of the slice.
        base: usize,
        /// The offset that was added.
        offset: usize,
    },
    /// An access through the vm-memory view of the slice failed.
    #[error("volatile slice access failed: {0}")]
    VolatileSlice(#[source] VolatileMemoryError),
}

/// A byte range in memory that is valid for the lifetime `'a` and may be changed by
/// others at any time (guest memory), so it is only ever handed to the kernel as an iovec
/// or accessed with volatile reads and writes.
#[derive(Clone, Copy, Debug)]
pub struct FileVolatileSlice<'a> {
    addr: *mut u8,
    len: usize,
    _borrow: PhantomData<&'a mut [u8]>,
}

// SAFETY: `FileVolatileSlice` is a pointer and length describing memory that the creator
// guaranteed valid for `'a`; it is only passed to the kernel or accessed with volatile
// operations, which tolerate concurrent changes, so sending it to another thread cannot
// create a data race in Rust code.
unsafe impl Send for FileVolatileSlice<'_> {}
// SAFETY: see `Send`: shared references only allow copying out the pointer and length.
unsafe impl Sync for FileVolatileSlice<'_> {}

impl<'a> FileVolatileSlice<'a> {
    /// A slice of `size` bytes at `addr`.
    ///
    /// # Safety
    /// `addr` must point to `size` bytes that stay valid for reads and writes for `'a`,
    /// and every other user of those bytes must access them with volatile operations (or
    /// through the kernel) while the slice is in use.
    pub unsafe fn from_raw_ptr(addr: *mut u8, size: usize) -> Self {
        FileVolatileSlice {
            addr,
            len: size,
            _borrow: PhantomData,
        }
    }

    /// Borrows the memory of a vm-memory `VolatileSlice` for the same lifetime.
    ///
    /// Writing through the result bypasses the slice's dirty bitmap; the transports mark
    /// the bitmap themselves after I/O completes.
    pub fn from_volatile_slice<S: BitmapSlice>(s: &VolatileSlice<'a, S>) -> Self {
        FileVolatileSlice {
            addr: s.ptr_guard_mut().as_ptr(),
            len: s.len(),
            _borrow: PhantomData,
        }
    }

    /// Borrows an ordinary mutable byte slice.
    ///
    /// Safe here (upstream declares it `unsafe`): the exclusive borrow already rules out
    /// any other access for `'a`. Calls written as `unsafe { .. }` still compile.
    pub fn from_mut_slice(buf: &'a mut [u8]) -> Self {
        FileVolatileSlice {
            addr: buf.as_mut_ptr(),
            len: buf.len(),
            _borrow: PhantomData,
        }
    }

    /// The same bytes as a vm-memory `VolatileSlice`, without dirty page tracking.
    pub fn as_volatile_slice(&self) -> VolatileSlice<'a, ()> {
        // SAFETY: every constructor guarantees `len` bytes at `addr`, valid for `'a` and
        // accessed by others only in ways volatile accesses tolerate; the result borrows
        // for no longer than `'a`.
        unsafe { VolatileSlice::new(self.addr, self.len) }
    }

    /// The bytes as a [`FileVolatileBuf`], which has no lifetime; all `len()` bytes count
    /// as data when `inited`, none otherwise.
    ///
    /// # Safety
    /// The caller must not use the result after `'a` ends, and the rules of
    /// [`FileVolatileBuf`] apply to it.
    pub unsafe fn borrow_as_buf(&self, inited: bool) -> FileVolatileBuf {
        FileVolatileBuf {
            addr: self.addr,
            size: if inited { self.len } else { 0 },
            cap: self.len,
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slice is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Start address, for building an iovec.
    pub fn as_ptr(&self) -> *mut u8 {
        self.addr
    }

    /// The rest of the slice after its first `count` bytes; `count == len()` gives an
    /// empty slice.
    ///
    /// # Errors
    /// [`Error::Overflow`] when the new start address overflows, [`Error::OutOfBounds`]
    /// when `count > len()`.
    pub fn offset(&self, count: usize) -> Result<Self, Error> {
        let base = self.addr as usize;
        let start = base.checked_add(count).ok_or(Error::Overflow {
            base,
            offset: count,
        })?;
        let len = self
            .len
            .checked_sub(count)
            .ok_or(Error::OutOfBounds { addr: start })?;
        Ok(FileVolatileSlice {
            // `wrapping_add` keeps the pointer's provenance; `count <= len` was checked,
            // so the result stays inside (or one past) the described range.
            addr: self.addr.wrapping_add(count),
            len,
            _borrow: PhantomData,
        })
    }

    pub(crate) fn as_iovec(&self) -> libc::iovec {
        libc::iovec {
            iov_base: self.addr as *mut libc::c_void,
            iov_len: self.len,
        }
    }
}

/// Byte access at offsets into the slice, as for any vm-memory `VolatileSlice` (so code
/// written against vm-memory's `Bytes`, e.g. `slice.write(buf, 0)`, works unchanged).
impl Bytes<usize> for FileVolatileSlice<'_> {
    type E = VolatileMemoryError;

    fn write(&self, buf: &[u8], addr: usize) -> Result<usize, Self::E> {
        self.as_volatile_slice().write(buf, addr)
    }

    fn read(&self, buf: &mut [u8], addr: usize) -> Result<usize, Self::E> {
        self.as_volatile_slice().read(buf, addr)
    }

    fn write_slice(&self, buf: &[u8], addr: usize) -> Result<(), Self::E> {
        self.as_volatile_slice().write_slice(buf, addr)
    }

    fn read_slice(&self, buf: &mut [u8], addr: usize) -> Result<(), Self::E> {
        self.as_volatile_slice().read_slice(buf, addr)
    }

    fn read_volatile_from<F: ReadVolatile>(
        &self,
        addr: usize,
        src: &mut F,
        count: usize,
    ) -> Result<usize, Self::E> {
        self.as_volatile_slice()
            .read_volatile_from(addr, src, count)
    }

    fn read_exact_volatile_from<F: ReadVolatile>(
        &self,
        addr: usize,
        src: &mut F,
        count: usize,
    ) -> Result<(), Self::E> {
        self.as_volatile_slice()
            .read_exact_volatile_from(addr, src, count)
    }

    fn write_volatile_to<F: WriteVolatile>(
        &self,
        addr: usize,
        dst: &mut F,
        count: usize,
    ) -> Result<usize, Self::E> {
        self.as_volatile_slice().write_volatile_to(addr, dst, count)
    }

    fn write_all_volatile_to<F: WriteVolatile>(
        &self,
        addr: usize,
        dst: &mut F,
        count: usize,
    ) -> Result<(), Self::E> {
        self.as_volatile_slice()
            .write_all_volatile_to(addr, dst, count)
    }

    fn store<T: AtomicAccess>(&self, val: T, addr: usize, order: Ordering) -> Result<(), Self::E> {
        self.as_volatile_slice().store(val, addr, order)
    }

    fn load<T: AtomicAccess>(&self, addr: usize, order: Ordering) -> Result<T, Self::E> {
        self.as_volatile_slice().load(addr, order)
    }
}

/// A buffer of `cap()` bytes whose first `len()` bytes hold data, without a lifetime: for
/// I/O engines (io_uring) that own their buffers until an operation completes.
///
/// Every constructor is `unsafe`: the creator promises that the memory stays valid and in
/// place for as long as the buffer, or a copy of it, is used; that other users access it
/// only with volatile operations or through the kernel; and that no two views of the same
/// bytes obtained from [`io_slice_mut`](Self::io_slice_mut) are alive at once.
#[derive(Clone, Copy, Debug)]
pub struct FileVolatileBuf {
    addr: *mut u8,
    size: usize,
    cap: usize,
}

// SAFETY: a pointer, a length and a capacity; the creator of the buffer guaranteed the
// memory valid while it is used (the constructors' contract), on any thread.
unsafe impl Send for FileVolatileBuf {}
// SAFETY: see `Send`; `&self` methods only read the three fields.
unsafe impl Sync for FileVolatileBuf {}

impl FileVolatileBuf {
    /// An empty buffer over `buf`, whose whole length is the capacity.
    ///
    /// # Safety
    /// See the type's documentation: the buffer must not be used after `buf` is gone.
    pub unsafe fn new(buf: &mut [u8]) -> Self {
        FileVolatileBuf {
            addr: buf.as_mut_ptr(),
            size: 0,
            cap: buf.len(),
        }
    }

    /// A buffer over `buf` whose first `size` bytes are data.
    ///
    /// # Safety
    /// As [`new`](Self::new).
    ///
    /// # Panics
    /// When `size > buf.len()`.
    pub unsafe fn new_with_data(buf: &mut [u8], size: usize) -> Self {
        assert!(size <= buf.len(), "data size exceeds the buffer");
        FileVolatileBuf {
            addr: buf.as_mut_ptr(),
            size,
            cap: buf.len(),
        }
    }

    /// A buffer of `cap` bytes at `addr` whose first `size` bytes are data.
    ///
    /// # Safety
    /// `addr` must point to `cap` bytes valid for reads and writes for as long as the
    /// buffer is used; see the type's documentation.
    ///
    /// # Panics
    /// When `size > cap`.
    pub unsafe fn from_raw_ptr(addr: *mut u8, size: usize, cap: usize) -> Self {
        assert!(size <= cap, "data size exceeds the capacity");
        FileVolatileBuf { addr, size, cap }
    }

    /// The data bytes (`[0, len())`), to write out.
    pub fn io_slice(&self) -> IoSlice<'_> {
        // SAFETY: the constructors guarantee `cap` valid bytes at `addr` for the buffer's
        // use, and `size <= cap` always holds (checked by constructors and `set_size`).
        // The slice is only handed to the kernel as an iovec.
        IoSlice::new(unsafe { std::slice::from_raw_parts(self.addr, self.size) })
    }

    /// The free bytes after the data (`[len(), cap())`), to read into.
    pub fn io_slice_mut(&self) -> IoSliceMut<'_> {
        // SAFETY: `size <= cap`, so `addr + size .. addr + cap` lies inside the `cap`
        // valid bytes the constructors guarantee; their contract also rules out a second
        // live mutable view of the same bytes.
        let free = unsafe {
            std::slice::from_raw_parts_mut(self.addr.add(self.size), self.cap - self.size)
        };
        IoSliceMut::new(free)
    }

    /// Capacity in bytes.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Whether the buffer holds no data.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Bytes of data.
    pub fn len(&self) -> usize {
        self.size
    }

    /// Sets how many bytes are data (after a read into [`io_slice_mut`](Self::io_slice_mut));
    /// a `size` above the capacity is ignored.
    ///
    /// # Safety
    /// The first `size` bytes must have been written (initialised).
    pub unsafe fn set_size(&mut self, size: usize) {
        if size <= self.cap {
            self.size = size;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_checks_bounds() {
        let mut buf = [0u8; 16];
        let s = FileVolatileSlice::from_mut_slice(&mut buf);
        let tail = s.offset(10).unwrap();
        assert_eq!(tail.len(), 6);
        assert_eq!(tail.as_ptr() as usize, s.as_ptr() as usize + 10);
        assert!(s.offset(16).unwrap().is_empty());
        assert!(matches!(s.offset(17), Err(Error::OutOfBounds { .. })));
        // SAFETY: the slice is only used for address arithmetic, never dereferenced.
        let high = unsafe { FileVolatileSlice::from_raw_ptr(usize::MAX as *mut u8, 1) };
        assert!(matches!(high.offset(2), Err(Error::Overflow { .. })));
    }

    #[test]
    fn bytes_reads_and_writes_the_memory() {
        let mut buf = [0u8; 8];
        let s = FileVolatileSlice::from_mut_slice(&mut buf);
        assert_eq!(s.write(b"abc", 2).unwrap(), 3);
        let mut out = [0u8; 3];
        s.read_slice(&mut out, 2).unwrap();
        assert_eq!(&out, b"abc");
        s.store(7u8, 0, Ordering::Relaxed).unwrap();
        assert_eq!(s.load::<u8>(0, Ordering::Relaxed).unwrap(), 7);
        assert!(s.write_slice(b"x", 8).is_err());
        assert!(s.offset(9).is_err());
        assert_eq!(&buf, b"\x07\0abc\0\0\0");
    }

    #[test]
    fn buf_tracks_data_and_free_space() {
        let mut mem = *b"xyz.....";
        // SAFETY: `mem` outlives `b` and nothing else touches it meanwhile.
        let mut b = unsafe { FileVolatileBuf::new_with_data(&mut mem, 3) };
        assert_eq!((b.len(), b.cap()), (3, 8));
        assert_eq!(&*b.io_slice(), b"xyz");
        b.io_slice_mut()[..2].copy_from_slice(b"12");
        // SAFETY: the two bytes after the data were just written.
        unsafe { b.set_size(5) };
        // SAFETY: a size above the capacity is ignored, as documented.
        unsafe { b.set_size(9) };
        assert_eq!(&*b.io_slice(), b"xyz12");
        let mut mem2 = [0u8; 4];
        let s = FileVolatileSlice::from_mut_slice(&mut mem2);
        // SAFETY: `mem2` outlives both buffers.
        let (empty, full) = unsafe { (s.borrow_as_buf(false), s.borrow_as_buf(true)) };
        assert!(empty.is_empty() && empty.cap() == 4);
        assert_eq!(full.len(), 4);
    }
}
