//! Vectored, positioned I/O between files and memory the kernel may not see as ordinary
//! Rust slices (guest memory, a transport's request buffer).
//!
//! Drivers receive a `&mut dyn FileReadWriteVolatile` inside
//! [`ZeroCopyReader::read_to`](crate::api::filesystem::ZeroCopyReader::read_to) and
//! [`ZeroCopyWriter::write_from`](crate::api::filesystem::ZeroCopyWriter::write_from) and move
//! file data straight between the file and the transport buffers with `preadv`/`pwritev`:
//! the one copy the data needs, done by the kernel.

use crate::errno::err;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

pub use super::file_buf::FileVolatileSlice;

/// Files whose length can be set (`ftruncate(2)`).
pub trait FileSetLen {
    /// Sets the file's length to `len` bytes, cutting it or extending it with zeros.
    fn set_len(&self, len: u64) -> io::Result<()>;
}

impl FileSetLen for File {
    fn set_len(&self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }
}

/// Reads and writes between a file and [`FileVolatileSlice`]s, at the file position or at
/// an offset.
///
/// An implementation provides the four single-slice methods; the vectored, exact and
/// `all` variants have defaults built on them. The defaults of the vectored methods go
/// slice by slice; implementations that can do better (one `preadv`/`pwritev` for the
/// whole list, as [`File`] does) override them. The server moves file data through
/// [`read_vectored_at_volatile`](Self::read_vectored_at_volatile) and
/// [`write_vectored_at_volatile`](Self::write_vectored_at_volatile) only.
pub trait FileReadWriteVolatile {
    /// Reads at the file position into `slice`; returns the bytes read (0 at end of file).
    fn read_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<usize>;

    /// Reads at the file position into `bufs` in order; returns the bytes read. The
    /// default reads slice by slice and stops at the first short read.
    fn read_vectored_volatile(&mut self, bufs: &[FileVolatileSlice]) -> io::Result<usize> {
        slice_by_slice(bufs, 0, |s, _| self.read_volatile(s))
    }

    /// Fills `slice` from the file position.
    ///
    /// # Errors
    /// `UnexpectedEof` when the file ends first, or the error of a read.
    fn read_exact_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<()> {
        until_done(slice, 0, io::ErrorKind::UnexpectedEof, |s, _| {
            self.read_volatile(s)
        })
    }

    /// Writes `slice` at the file position; returns the bytes written.
    fn write_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<usize>;

    /// Writes `bufs` in order at the file position; returns the bytes written. The
    /// default writes slice by slice and stops at the first short write.
    fn write_vectored_volatile(&mut self, bufs: &[FileVolatileSlice]) -> io::Result<usize> {
        slice_by_slice(bufs, 0, |s, _| self.write_volatile(s))
    }

    /// Writes all of `slice` at the file position.
    ///
    /// # Errors
    /// `WriteZero` when a write makes no progress, or the error of a write.
    fn write_all_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<()> {
        until_done(slice, 0, io::ErrorKind::WriteZero, |s, _| {
            self.write_volatile(s)
        })
    }

    /// Reads from `offset` into `slice`; returns the bytes read (0 at end of file).
    fn read_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize>;

    /// Reads from `offset` into `bufs` in order; returns the bytes read. The default
    /// reads slice by slice and stops at the first short read.
    fn read_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        slice_by_slice(bufs, offset, |s, off| self.read_at_volatile(s, off))
    }

    /// Fills `slice` from `offset`.
    ///
    /// # Errors
    /// `UnexpectedEof` when the file ends first, EINVAL when the offset overflows, or the
    /// error of a read.
    fn read_exact_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<()> {
        until_done(slice, offset, io::ErrorKind::UnexpectedEof, |s, off| {
            self.read_at_volatile(s, off)
        })
    }

    /// Writes `slice` at `offset`; returns the bytes written.
    fn write_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize>;

    /// Writes `bufs` in order at `offset`; returns the bytes written. The default writes
    /// slice by slice and stops at the first short write.
    fn write_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        slice_by_slice(bufs, offset, |s, off| self.write_at_volatile(s, off))
    }

    /// Writes all of `slice` at `offset`.
    ///
    /// # Errors
    /// `WriteZero` when a write makes no progress, EINVAL when the offset overflows, or
    /// the error of a write.
    fn write_all_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<()> {
        until_done(slice, offset, io::ErrorKind::WriteZero, |s, off| {
            self.write_at_volatile(s, off)
        })
    }
}

/// `offset + done`, or EINVAL when it overflows.
fn advance(offset: u64, done: usize) -> io::Result<u64> {
    u64::try_from(done)
        .ok()
        .and_then(|d| offset.checked_add(d))
        .ok_or_else(|| err(libc::EINVAL))
}

/// One call of `one` per non-empty slice, at `offset` plus the bytes moved so far, until
/// a call moves less than its slice. An error after some bytes moved ends the loop with
/// those bytes (the next call will meet the error again), as a short `readv` would.
fn slice_by_slice<F>(bufs: &[FileVolatileSlice], offset: u64, mut one: F) -> io::Result<usize>
where
    F: FnMut(FileVolatileSlice, u64) -> io::Result<usize>,
{
    let mut done = 0usize;
    for b in bufs.iter().filter(|b| !b.is_empty()) {
        let n = match advance(offset, done).and_then(|off| one(*b, off)) {
            Ok(n) if n > b.len() => return Err(err(libc::EIO)),
            Ok(n) => n,
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        };
        done += n;
        if n < b.len() {
            break;
        }
    }
    Ok(done)
}

/// Calls `one` on what is left of `slice` until it is used up; a call that moves nothing
/// fails with `stalled`, an interrupted call is retried.
fn until_done<F>(
    mut slice: FileVolatileSlice,
    mut offset: u64,
    stalled: io::ErrorKind,
    mut one: F,
) -> io::Result<()>
where
    F: FnMut(FileVolatileSlice, u64) -> io::Result<usize>,
{
    while !slice.is_empty() {
        match one(slice, offset) {
            Ok(0) => return Err(stalled.into()),
            Ok(n) => {
                slice = slice.offset(n).map_err(|_| err(libc::EIO))?;
                offset = advance(offset, n)?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

const IOV_MAX: usize = 1024;

/// Which system call moves the bytes.
#[derive(Clone, Copy)]
enum Op {
    Readv,
    Writev,
    Preadv(u64),
    Pwritev(u64),
}

/// `readv`/`writev`/`preadv`/`pwritev` of the fd over `bufs` (at most IOV_MAX of them,
/// empty ones skipped), retried on EINTR.
fn vectored_io(fd: RawFd, bufs: &[FileVolatileSlice], op: Op) -> io::Result<usize> {
    let iov: smallvec::SmallVec<[libc::iovec; 8]> = bufs
        .iter()
        .filter(|b| !b.is_empty())
        .take(IOV_MAX)
        .map(FileVolatileSlice::as_iovec)
        .collect();
    if iov.is_empty() {
        return Ok(0);
    }
    let off = |o: u64| libc::off64_t::try_from(o).map_err(|_| err(libc::EINVAL));
    let (ptr, cnt) = (iov.as_ptr(), iov.len() as libc::c_int);
    loop {
        // SAFETY: every iovec describes memory valid for reads and writes for the
        // slices' lifetime (guaranteed by `FileVolatileSlice`'s constructors) and `bufs`
        // is borrowed for the whole call; `iov` outlives the call and holds at most
        // IOV_MAX entries.
        let ret = unsafe {
            match op {
                Op::Readv => libc::readv(fd, ptr, cnt),
                Op::Writev => libc::writev(fd, ptr, cnt),
                Op::Preadv(o) => libc::preadv64(fd, ptr, cnt, off(o)?),
                Op::Pwritev(o) => libc::pwritev64(fd, ptr, cnt, off(o)?),
            }
        };
        if ret >= 0 {
            return Ok(ret as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `preadv(2)` of the fd into `bufs` at `offset`.
pub(crate) fn preadv_fd(fd: RawFd, bufs: &[FileVolatileSlice], offset: u64) -> io::Result<usize> {
    vectored_io(fd, bufs, Op::Preadv(offset))
}

/// `pwritev(2)` of `bufs` to the fd at `offset`.
pub(crate) fn pwritev_fd(fd: RawFd, bufs: &[FileVolatileSlice], offset: u64) -> io::Result<usize> {
    vectored_io(fd, bufs, Op::Pwritev(offset))
}

/// `readv(2)` of the fd into `bufs` at the file position.
pub(crate) fn readv_fd(fd: RawFd, bufs: &[FileVolatileSlice]) -> io::Result<usize> {
    vectored_io(fd, bufs, Op::Readv)
}

/// `writev(2)` of `bufs` to the fd at the file position.
pub(crate) fn writev_fd(fd: RawFd, bufs: &[FileVolatileSlice]) -> io::Result<usize> {
    vectored_io(fd, bufs, Op::Writev)
}

/// One system call per request, whatever the number of slices.
impl FileReadWriteVolatile for File {
    fn read_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<usize> {
        readv_fd(self.as_raw_fd(), &[slice])
    }

    fn read_vectored_volatile(&mut self, bufs: &[FileVolatileSlice]) -> io::Result<usize> {
        readv_fd(self.as_raw_fd(), bufs)
    }

    fn write_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<usize> {
        writev_fd(self.as_raw_fd(), &[slice])
    }

    fn write_vectored_volatile(&mut self, bufs: &[FileVolatileSlice]) -> io::Result<usize> {
        writev_fd(self.as_raw_fd(), bufs)
    }

    fn read_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        preadv_fd(self.as_raw_fd(), &[slice], offset)
    }

    fn read_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        preadv_fd(self.as_raw_fd(), bufs, offset)
    }

    fn write_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        pwritev_fd(self.as_raw_fd(), &[slice], offset)
    }

    fn write_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        pwritev_fd(self.as_raw_fd(), bufs, offset)
    }
}

/// Forwards every method, so an implementation's own overrides are kept.
impl<T: FileReadWriteVolatile + ?Sized> FileReadWriteVolatile for &mut T {
    fn read_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<usize> {
        (**self).read_volatile(slice)
    }

    fn read_vectored_volatile(&mut self, bufs: &[FileVolatileSlice]) -> io::Result<usize> {
        (**self).read_vectored_volatile(bufs)
    }

    fn read_exact_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<()> {
        (**self).read_exact_volatile(slice)
    }

    fn write_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<usize> {
        (**self).write_volatile(slice)
    }

    fn write_vectored_volatile(&mut self, bufs: &[FileVolatileSlice]) -> io::Result<usize> {
        (**self).write_vectored_volatile(bufs)
    }

    fn write_all_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<()> {
        (**self).write_all_volatile(slice)
    }

    fn read_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        (**self).read_at_volatile(slice, offset)
    }

    fn read_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        (**self).read_vectored_at_volatile(bufs, offset)
    }

    fn read_exact_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<()> {
        (**self).read_exact_at_volatile(slice, offset)
    }

    fn write_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        (**self).write_at_volatile(slice, offset)
    }

    fn write_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        (**self).write_vectored_at_volatile(bufs, offset)
    }

    fn write_all_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<()> {
        (**self).write_all_at_volatile(slice, offset)
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

    /// Implements only the four required methods, over a Vec, moving at most 3 bytes per
    /// call; the first call fails with EINTR when `interrupt` is set, and every call at or
    /// past `fail_at` fails with EIO.
    struct Minimal {
        data: Vec<u8>,
        pos: usize,
        calls: usize,
        interrupt: bool,
        fail_at: usize,
    }

    impl Minimal {
        fn new(data: &[u8]) -> Minimal {
            Minimal {
                data: data.to_vec(),
                pos: 0,
                calls: 0,
                interrupt: false,
                fail_at: usize::MAX,
            }
        }

        fn step(&mut self, off: u64) -> io::Result<usize> {
            self.calls += 1;
            if std::mem::take(&mut self.interrupt) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let off = off as usize;
            if off >= self.fail_at {
                return Err(err(libc::EIO));
            }
            Ok(off)
        }

        fn get(&mut self, s: FileVolatileSlice, off: u64) -> io::Result<usize> {
            let off = self.step(off)?;
            let n = s.len().min(3).min(self.data.len().saturating_sub(off));
            let mut tmp = vec![0u8; n];
            tmp.copy_from_slice(&self.data[off..off + n]);
            vm_memory::Bytes::write_slice(&s, &tmp, 0).unwrap();
            Ok(n)
        }

        fn put(&mut self, s: FileVolatileSlice, off: u64) -> io::Result<usize> {
            let off = self.step(off)?;
            let n = s.len().min(3);
            if self.data.len() < off + n {
                self.data.resize(off + n, 0);
            }
            vm_memory::Bytes::read_slice(&s, &mut self.data[off..off + n], 0).unwrap();
            Ok(n)
        }
    }

    impl FileReadWriteVolatile for Minimal {
        fn read_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<usize> {
            let n = self.get(slice, self.pos as u64)?;
            self.pos += n;
            Ok(n)
        }

        fn write_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<usize> {
            let n = self.put(slice, self.pos as u64)?;
            self.pos += n;
            Ok(n)
        }

        fn read_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize> {
            self.get(slice, offset)
        }

        fn write_at_volatile(
            &mut self,
            slice: FileVolatileSlice,
            offset: u64,
        ) -> io::Result<usize> {
            self.put(slice, offset)
        }
    }

    fn bytes(s: &FileVolatileSlice) -> Vec<u8> {
        let mut v = vec![0u8; s.len()];
        vm_memory::Bytes::read_slice(s, &mut v, 0).unwrap();
        v
    }

    #[test]
    fn vectored_defaults_go_slice_by_slice() {
        let mut m = Minimal::new(b"abcdef");
        let (mut a, mut e, mut b) = ([0u8; 2], [0u8; 0], [0u8; 2]);
        let bufs = [
            FileVolatileSlice::from_mut_slice(&mut a),
            FileVolatileSlice::from_mut_slice(&mut e),
            FileVolatileSlice::from_mut_slice(&mut b),
        ];
        assert_eq!(m.read_vectored_at_volatile(&bufs, 1).unwrap(), 4);
        // The empty slice costs no call.
        assert_eq!(m.calls, 2);
        assert_eq!(
            (bytes(&bufs[0]), bytes(&bufs[2])),
            (b"bc".to_vec(), b"de".to_vec())
        );
        // End of file: the short read of the first slice ends the loop.
        assert_eq!(m.read_vectored_at_volatile(&bufs, 5).unwrap(), 1);
        assert_eq!(m.calls, 3);
        // At the file position, which advances.
        assert_eq!(m.read_vectored_volatile(&bufs).unwrap(), 4);
        assert_eq!(
            (bytes(&bufs[0]), bytes(&bufs[2])),
            (b"ab".to_vec(), b"cd".to_vec())
        );
        assert_eq!(m.read_vectored_volatile(&bufs).unwrap(), 2);
        assert_eq!((bytes(&bufs[0]), m.pos), (b"ef".to_vec(), 6));

        let mut w = Minimal::new(b"");
        let (mut x, mut y) = (*b"1234", *b"56");
        let bufs = [
            FileVolatileSlice::from_mut_slice(&mut x),
            FileVolatileSlice::from_mut_slice(&mut y),
        ];
        // A short write (3 of 4) ends the loop too.
        assert_eq!(w.write_vectored_at_volatile(&bufs, 2).unwrap(), 3);
        assert_eq!(w.data, [0, 0, b'1', b'2', b'3']);
        // An error after some bytes moved reports those bytes; before any, the error.
        let mut f = Minimal::new(b"abcdef");
        f.fail_at = 2;
        let (mut p, mut q) = ([0u8; 2], [0u8; 2]);
        let bufs = [
            FileVolatileSlice::from_mut_slice(&mut p),
            FileVolatileSlice::from_mut_slice(&mut q),
        ];
        assert_eq!(f.read_vectored_at_volatile(&bufs, 0).unwrap(), 2);
        let e = f.read_vectored_at_volatile(&bufs, 2).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
    }

    #[test]
    fn exact_and_all_defaults_loop_until_done() {
        let mut m = Minimal::new(b"abcdefgh");
        m.interrupt = true;
        let mut out = [0u8; 7];
        m.read_exact_at_volatile(FileVolatileSlice::from_mut_slice(&mut out), 1)
            .unwrap();
        assert_eq!(&out, b"bcdefgh");
        // EINTR retried, then 3 + 3 + 1 bytes.
        assert_eq!(m.calls, 4);
        let e = m
            .read_exact_at_volatile(FileVolatileSlice::from_mut_slice(&mut out), 4)
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        let mut out = [0u8; 5];
        m.read_exact_volatile(FileVolatileSlice::from_mut_slice(&mut out))
            .unwrap();
        assert_eq!((&out, m.pos), (b"abcde", 5));

        let mut src = *b"0123456";
        m.write_all_at_volatile(FileVolatileSlice::from_mut_slice(&mut src), 6)
            .unwrap();
        assert_eq!(m.data, b"abcdef0123456");
        m.write_all_volatile(FileVolatileSlice::from_mut_slice(&mut src[..4]))
            .unwrap();
        assert_eq!((&m.data[..], m.pos), (&b"abcde01233456"[..], 9));
    }

    #[test]
    fn write_all_fails_when_no_progress() {
        struct Full;
        impl FileReadWriteVolatile for Full {
            fn read_volatile(&mut self, _: FileVolatileSlice) -> io::Result<usize> {
                Ok(0)
            }
            fn write_volatile(&mut self, _: FileVolatileSlice) -> io::Result<usize> {
                Ok(0)
            }
            fn read_at_volatile(&mut self, _: FileVolatileSlice, _: u64) -> io::Result<usize> {
                Ok(0)
            }
            fn write_at_volatile(&mut self, _: FileVolatileSlice, _: u64) -> io::Result<usize> {
                Ok(0)
            }
        }
        let mut b = [1u8; 4];
        let s = FileVolatileSlice::from_mut_slice(&mut b);
        let e = Full.write_all_volatile(s).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WriteZero);
        let e = Full.write_all_at_volatile(s, 0).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WriteZero);
        let e = Full.read_exact_volatile(s).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        // Empty slices need no call at all.
        Full.write_all_volatile(s.offset(4).unwrap()).unwrap();

        // An offset that would pass u64::MAX is EINVAL, not a wrap or a panic.
        struct OneByte;
        impl FileReadWriteVolatile for OneByte {
            fn read_volatile(&mut self, _: FileVolatileSlice) -> io::Result<usize> {
                Ok(1)
            }
            fn write_volatile(&mut self, _: FileVolatileSlice) -> io::Result<usize> {
                Ok(1)
            }
            fn read_at_volatile(&mut self, _: FileVolatileSlice, _: u64) -> io::Result<usize> {
                Ok(1)
            }
            fn write_at_volatile(&mut self, _: FileVolatileSlice, _: u64) -> io::Result<usize> {
                Ok(1)
            }
        }
        let e = OneByte.write_all_at_volatile(s, u64::MAX).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        let e = OneByte.read_vectored_at_volatile(&[s, s], u64::MAX);
        // The first slice moved 1 of 4 bytes: a short read, the loop stops before the
        // offset of the second is needed.
        assert_eq!(e.unwrap(), 1);
    }

    #[test]
    fn mut_ref_forwards_overrides() {
        struct Vectored(usize);
        impl FileReadWriteVolatile for Vectored {
            fn read_volatile(&mut self, _: FileVolatileSlice) -> io::Result<usize> {
                Ok(0)
            }
            fn write_volatile(&mut self, _: FileVolatileSlice) -> io::Result<usize> {
                Ok(0)
            }
            fn read_at_volatile(&mut self, _: FileVolatileSlice, _: u64) -> io::Result<usize> {
                Ok(0)
            }
            fn write_at_volatile(&mut self, _: FileVolatileSlice, _: u64) -> io::Result<usize> {
                Ok(0)
            }
            fn read_vectored_at_volatile(
                &mut self,
                bufs: &[FileVolatileSlice],
                _: u64,
            ) -> io::Result<usize> {
                self.0 += 1;
                Ok(bufs.iter().map(|b| b.len()).sum())
            }
        }
        let mut v = Vectored(0);
        let mut b = [0u8; 8];
        let bufs = [FileVolatileSlice::from_mut_slice(&mut b)];
        let mut r: &mut dyn FileReadWriteVolatile = &mut v;
        assert_eq!((&mut r).read_vectored_at_volatile(&bufs, 0).unwrap(), 8);
        assert_eq!(v.0, 1);
    }

    #[test]
    fn file_reads_and_writes_at_its_position() {
        let mut f = vmm_sys_util::tempfile::TempFile::new().unwrap().into_file();
        let (mut a, mut b) = (*b"hello ", *b"world");
        let bufs = [
            FileVolatileSlice::from_mut_slice(&mut a),
            FileVolatileSlice::from_mut_slice(&mut b),
        ];
        assert_eq!(f.write_vectored_volatile(&bufs).unwrap(), 11);
        f.write_all_volatile(bufs[1]).unwrap();
        assert_eq!(f.stream_position().unwrap(), 16);
        f.seek(SeekFrom::Start(6)).unwrap();
        let mut out = [0u8; 10];
        f.read_exact_volatile(FileVolatileSlice::from_mut_slice(&mut out))
            .unwrap();
        assert_eq!(&out, b"worldworld");
        assert_eq!(
            f.read_volatile(FileVolatileSlice::from_mut_slice(&mut out))
                .unwrap(),
            0
        );
        FileSetLen::set_len(&f, 5).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 5);
    }
}
