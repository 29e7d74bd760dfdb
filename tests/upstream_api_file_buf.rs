//! `file_buf` and `file_traits` used exactly as code written for upstream fuse-backend-rs
//! 0.14 uses them (nydus-storage 0.7.2 among others): the paths, the `unsafe` calls, a
//! file type that implements only what upstream requires plus its own vectored read, and
//! vm-memory's `Bytes` on a slice.

// Upstream declares `from_mut_slice` unsafe; ours is safe, so callers' `unsafe` blocks
// around it are merely unused.
#![allow(unused_unsafe)]

use std::io::{Error, Result, Seek, SeekFrom};

use fuse_backend_rs::common::file_buf::FileVolatileSlice as CommonPath;
use fuse_backend_rs::file_buf::{Error as BufError, FileVolatileBuf, FileVolatileSlice};
use fuse_backend_rs::file_traits::{FileReadWriteVolatile, FileSetLen};
use vm_memory::{Bytes, VolatileSlice};

/// Shaped like nydus-storage's `BlobDeviceIoVec`: the single-slice reads go through its
/// own vectored read; the writes and the position-based reads are not supported.
struct BlobLike {
    data: Vec<u8>,
}

impl FileReadWriteVolatile for BlobLike {
    fn read_volatile(&mut self, _slice: FileVolatileSlice) -> Result<usize> {
        Err(Error::from_raw_os_error(libc::ENOSYS))
    }

    fn write_volatile(&mut self, _slice: FileVolatileSlice) -> Result<usize> {
        Err(Error::from_raw_os_error(libc::ENOSYS))
    }

    fn read_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> Result<usize> {
        let buffers = [slice];
        self.read_vectored_at_volatile(&buffers, offset)
    }

    fn read_vectored_at_volatile(
        &mut self,
        buffers: &[FileVolatileSlice],
        offset: u64,
    ) -> Result<usize> {
        let mut pos = offset as usize;
        let mut done = 0;
        for b in buffers {
            let n = b.len().min(self.data.len().saturating_sub(pos));
            // What nydus-storage does with a slice: `Bytes::write` at an offset.
            let w = b.write(&self.data[pos..pos + n], 0).unwrap();
            pos += w;
            done += w;
        }
        Ok(done)
    }

    fn write_at_volatile(&mut self, _slice: FileVolatileSlice, _offset: u64) -> Result<usize> {
        Err(Error::from_raw_os_error(libc::ENOSYS))
    }
}

#[test]
fn nydus_style_file_and_slices() {
    let mut dev = BlobLike {
        data: b"0123456789".to_vec(),
    };
    let mut b1 = [0u8; 4];
    let mut b2 = [0u8; 8];
    let s1 = unsafe { FileVolatileSlice::from_raw_ptr(b1.as_mut_ptr(), b1.len()) };
    let s2 = unsafe { FileVolatileSlice::from_raw_ptr(b2.as_mut_ptr(), b2.len()) };
    // The server's path: one vectored call reaches the type's own override.
    let dyn_dev: &mut dyn FileReadWriteVolatile = &mut dev;
    assert_eq!(dyn_dev.read_vectored_at_volatile(&[s1, s2], 2).unwrap(), 8);
    // A provided method built on the required ones.
    dev.read_exact_at_volatile(s1.offset(1).unwrap(), 0)
        .unwrap();
    assert_eq!(&b1, b"2012");
    assert_eq!(&b2[..4], b"6789");
    assert_eq!(
        dev.write_all_volatile(s2).unwrap_err().raw_os_error(),
        Some(libc::ENOSYS)
    );
}

#[test]
fn slice_methods_with_upstream_signatures() {
    let mut buffer = [0u8; 64];
    let s: FileVolatileSlice = unsafe { FileVolatileSlice::from_mut_slice(&mut buffer) };
    let s2: CommonPath = s;
    let vs: VolatileSlice<'_, ()> = s2.as_volatile_slice();
    assert_eq!(FileVolatileSlice::from_volatile_slice(&vs).len(), 64);
    s.store(5u32, 8, std::sync::atomic::Ordering::Release)
        .unwrap();
    let r: std::result::Result<FileVolatileSlice, BufError> = s.offset(65);
    assert!(matches!(r, Err(BufError::OutOfBounds { .. })));
    let tail = s.offset(8).unwrap();
    assert_eq!(
        tail.load::<u32>(0, std::sync::atomic::Ordering::Acquire)
            .unwrap(),
        5
    );

    let buf: FileVolatileBuf = unsafe { s.borrow_as_buf(false) };
    assert_eq!((buf.len(), buf.cap(), buf.is_empty()), (0, 64, true));
    let mut owned = vec![7u8; 16];
    let mut b = unsafe { FileVolatileBuf::new(&mut owned) };
    assert_eq!(b.io_slice_mut().len(), 16);
    unsafe { b.set_size(10) };
    assert_eq!(b.io_slice().len(), 10);
    let b = unsafe { FileVolatileBuf::new_with_data(&mut owned, 3) };
    let c = unsafe { FileVolatileBuf::from_raw_ptr(owned.as_mut_ptr(), 2, 16) };
    assert_eq!((b.len(), c.len(), c.cap()), (3, 2, 16));
}

#[test]
fn file_through_upstream_traits() {
    let mut f = vmm_sys_util::tempfile::TempFile::new().unwrap().into_file();
    let mut data = *b"abcdef";
    let s = unsafe { FileVolatileSlice::from_mut_slice(&mut data) };
    assert_eq!(f.write_volatile(s).unwrap(), 6);
    f.write_all_at_volatile(s, 6).unwrap();
    FileSetLen::set_len(&f, 9).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut out = [0u8; 9];
    let o = unsafe { FileVolatileSlice::from_mut_slice(&mut out) };
    // Through the blanket impl for `&mut T`.
    let mut r = &mut f;
    <&mut std::fs::File as FileReadWriteVolatile>::read_exact_volatile(&mut r, o).unwrap();
    assert_eq!(f.read_volatile(o).unwrap(), 0);
    assert_eq!(&out, b"abcdefabc");
}
