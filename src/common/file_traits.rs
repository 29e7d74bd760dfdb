//! Vectored, positioned I/O between files and memory the kernel may not see as ordinary
//! Rust slices (guest memory, a transport's request buffer).
//!
//! Drivers receive a `&mut dyn FileReadWriteVolatile` inside
//! [`ZeroCopyReader::read_to`](crate::api::filesystem::ZeroCopyReader::read_to) and
//! [`ZeroCopyWriter::write_from`](crate::api::filesystem::ZeroCopyWriter::write_from) and move
//! file data straight between the file and the transport buffers with `preadv`/`pwritev`:
//! the one copy the data needs, done by the kernel.

use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, RawFd};

use vm_memory::bitmap::BitmapSlice;
use vm_memory::VolatileSlice;

/// A byte range in memory that is valid for the lifetime `'a` and may be changed by
/// others at any time (guest memory), so it is only ever handed to the kernel as an iovec.
#[derive(Clone, Copy, Debug)]
pub struct FileVolatileSlice<'a> {
    addr: *mut u8,
    len: usize,
    _borrow: PhantomData<&'a mut [u8]>,
}

// SAFETY: `FileVolatileSlice` is a pointer and length describing memory that the creator
// guaranteed valid for `'a`; it is only passed to the kernel, which handles concurrent
// access to the bytes itself, so sending it to another thread cannot create a data race
// in Rust code.
unsafe impl Send for FileVolatileSlice<'_> {}
// SAFETY: see `Send`: shared references only allow copying out the pointer and length.
unsafe impl Sync for FileVolatileSlice<'_> {}

impl<'a> FileVolatileSlice<'a> {
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
    pub fn from_mut_slice(buf: &'a mut [u8]) -> Self {
        FileVolatileSlice {
            addr: buf.as_mut_ptr(),
            len: buf.len(),
            _borrow: PhantomData,
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

    fn as_iovec(&self) -> libc::iovec {
        libc::iovec {
            iov_base: self.addr as *mut libc::c_void,
            iov_len: self.len,
        }
    }
}

/// Positioned vectored I/O into and out of [`FileVolatileSlice`]s.
///
/// Implemented for [`File`] and for anything that gives a raw fd through [`AsRawFd`] via the
/// blanket helpers; drivers may implement it for their own file types.
pub trait FileReadWriteVolatile {
    /// Reads from the file at `offset` into `bufs`, returning the number of bytes read.
    fn read_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize>;

    /// Writes `bufs` to the file at `offset`, returning the number of bytes written.
    fn write_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize>;

    /// Reads into a single slice at `offset`.
    fn read_at_volatile(&mut self, buf: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        self.read_vectored_at_volatile(&[buf], offset)
    }

    /// Writes a single slice at `offset`.
    fn write_at_volatile(&mut self, buf: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        self.write_vectored_at_volatile(&[buf], offset)
    }
}

const IOV_MAX: usize = 1024;

fn iovecs(bufs: &[FileVolatileSlice]) -> smallvec::SmallVec<[libc::iovec; 8]> {
    bufs.iter()
        .take(IOV_MAX)
        .filter(|b| !b.is_empty())
        .map(FileVolatileSlice::as_iovec)
        .collect()
}

fn offset_arg(offset: u64) -> io::Result<libc::off64_t> {
    libc::off64_t::try_from(offset).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `preadv(2)` of the fd into `bufs` at `offset`.
pub(crate) fn preadv_fd(fd: RawFd, bufs: &[FileVolatileSlice], offset: u64) -> io::Result<usize> {
    let iov = iovecs(bufs);
    if iov.is_empty() {
        return Ok(0);
    }
    let off = offset_arg(offset)?;
    loop {
        // SAFETY: every iovec describes memory valid for writes for the slices' lifetime
        // (guaranteed by `FileVolatileSlice`'s constructors); `iov` outlives the call and
        // its length is at most IOV_MAX.
        let ret = unsafe { libc::preadv64(fd, iov.as_ptr(), iov.len() as libc::c_int, off) };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `pwritev(2)` of `bufs` to the fd at `offset`.
pub(crate) fn pwritev_fd(fd: RawFd, bufs: &[FileVolatileSlice], offset: u64) -> io::Result<usize> {
    let iov = iovecs(bufs);
    if iov.is_empty() {
        return Ok(0);
    }
    let off = offset_arg(offset)?;
    loop {
        // SAFETY: every iovec describes memory valid for reads for the slices' lifetime;
        // `iov` outlives the call and its length is at most IOV_MAX.
        let ret = unsafe { libc::pwritev64(fd, iov.as_ptr(), iov.len() as libc::c_int, off) };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

impl FileReadWriteVolatile for File {
    fn read_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        preadv_fd(self.as_raw_fd(), bufs, offset)
    }

    fn write_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        pwritev_fd(self.as_raw_fd(), bufs, offset)
    }
}

impl<T: FileReadWriteVolatile + ?Sized> FileReadWriteVolatile for &mut T {
    fn read_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        (**self).read_vectored_at_volatile(bufs, offset)
    }

    fn write_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        (**self).write_vectored_at_volatile(bufs, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn file_vectored_roundtrip() {
        let mut f = vmm_sys_util::tempfile::TempFile::new().unwrap().into_file();
        let mut a = *b"hello ";
        let mut b = *b"world";
        let bufs = [
            FileVolatileSlice::from_mut_slice(&mut a),
            FileVolatileSlice::from_mut_slice(&mut b),
        ];
        assert_eq!(f.write_vectored_at_volatile(&bufs, 3).unwrap(), 11);
        let mut out = [0u8; 14];
        assert_eq!(
            f.read_at_volatile(FileVolatileSlice::from_mut_slice(&mut out), 0)
                .unwrap(),
            14
        );
        assert_eq!(&out, b"\0\0\0hello world");
        f.seek(SeekFrom::End(0)).unwrap();
        f.write_all(b"!").unwrap();
        let mut big = [0u8; 4];
        let err = f
            .read_at_volatile(FileVolatileSlice::from_mut_slice(&mut big), u64::MAX - 1)
            .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}
