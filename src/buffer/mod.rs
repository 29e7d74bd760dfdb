//! The I/O buffers of one FUSE message, and the few things the server needs from a
//! transport: the request [`Reader`], the reply [`Writer`], the [`ReplySink`] of a late
//! reply and the [`FsCacheReqHandler`] of the virtio-fs DAX window.
//!
//! This is a leaf of the crate: it uses only `abi`, `common` and `errno` (and std,
//! vm-memory, smallvec, libc). The server (`api`) reads requests and writes replies through
//! these types, and each transport (`transport::fusedev`, `transport::virtiofs`) builds
//! them over its own memory, so neither of the two needs the other. Everything public here
//! is re-exported under its historical path, `crate::transport::*` (the `transport` module
//! documentation says how each transport fills these buffers), and the buffer sizes under
//! `crate::api::server`. `scripts/check-layers.sh` keeps the dependencies pointing down.
//!
//! A request reaches the server as a [`Reader`] over a list of memory slices and the reply
//! is built in a [`Writer`] over another list: one slice (a channel's buffer) for
//! `/dev/fuse`, the descriptors of a chain for virtio-fs. File data moves between those
//! slices and files through [`FileReadWriteVolatile`](crate::common::FileReadWriteVolatile)
//! with `preadv`/`pwritev`: one copy, done by the kernel.

use std::io;

use vm_memory::bitmap::BitmapSlice;
use vm_memory::VolatileSlice;

pub(crate) mod cursor;
pub mod fs_cache_req_handler;
mod late_reply;
mod reader;
pub(crate) mod writer;

pub use fs_cache_req_handler::FsCacheReqHandler;
pub use late_reply::ReplySink;
pub use reader::Reader;
pub use writer::Writer;

/// Largest WRITE/READ payload the server negotiates (1 MiB, 256 pages). Re-exported as
/// `api::server::MAX_BUFFER_SIZE`; a `/dev/fuse` channel's buffer holds this plus
/// [`BUFFER_HEADER_SIZE`].
pub const MAX_BUFFER_SIZE: u32 = 1 << 20;
/// Room for the request header and the operation's struct in front of the payload.
/// Re-exported as `api::server::BUFFER_HEADER_SIZE`.
pub const BUFFER_HEADER_SIZE: u32 = 0x1000;

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

    pub(crate) fn into_volatile(self) -> VolatileSlice<'a, ()> {
        self.into_volatile_with(())
    }

    /// The buffer as a slice tracked by `bitmap` (which plain memory does not need, but a
    /// generic caller may ask for).
    pub(crate) fn into_volatile_with<S: BitmapSlice>(self, bitmap: S) -> VolatileSlice<'a, S> {
        // SAFETY: `self.mem` is a unique borrow of `len` initialised bytes for `'a`; the
        // returned slice takes over that borrow (FuseBuf is consumed), so nothing else
        // accesses the bytes while the slice lives. Plain memory has no mmap info.
        unsafe { VolatileSlice::with_bitmap(self.mem.as_mut_ptr(), self.mem.len(), bitmap, None) }
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
    use super::cursor::SliceList;
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::BorrowedFd;

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
