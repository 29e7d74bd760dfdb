//! Values exchanged between the [`Server`](crate::api::server::Server) and a
//! [`FileSystem`](super::FileSystem).

use std::fs::File;
use std::io;
use std::time::Duration;

use crate::abi::fuse_abi::{self, Attr, EntryOut, InHeader};
use crate::common::{FileReadWriteVolatile, FileVolatileSlice};
use crate::errno::err;

/// Who sent a request: the credentials of the calling process in the client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The user ID of the calling process.
    pub uid: libc::uid_t,
    /// The group ID of the calling process.
    pub gid: libc::gid_t,
    /// The thread group ID of the calling process.
    pub pid: libc::pid_t,
    /// A supplementary group of the caller, sent by the kernel with create-like requests
    /// when FUSE_CREATE_SUPP_GROUP was negotiated (since 7.38) and the caller's fsgid is not
    /// the parent directory's group.
    pub supp_gid: Option<libc::gid_t>,
}

impl Context {
    /// An all-zero context (root, pid 0).
    pub fn new() -> Context {
        Context::default()
    }
}

impl From<&InHeader> for Context {
    fn from(h: &InHeader) -> Self {
        Context {
            uid: h.uid,
            gid: h.gid,
            pid: h.pid as libc::pid_t,
            supp_gid: None,
        }
    }
}

/// The reply to a successful lookup-like operation (lookup, mkdir, create, ...).
///
/// Each `Entry` the server sends to the kernel adds one to the inode's lookup count, which
/// the kernel later gives back with FORGET.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Inode number the kernel will use in later requests (0 means a negative entry).
    pub inode: u64,
    /// Generation: (inode, generation) must be unique over the filesystem's lifetime.
    pub generation: u64,
    /// Attributes; `st_ino` is what `stat(2)` on the mount shows.
    pub attr: libc::stat64,
    /// `fuse_attr.flags` (FUSE_ATTR_SUBMOUNT, FUSE_ATTR_DAX).
    pub attr_flags: u32,
    /// How long the kernel may cache `attr`.
    pub attr_timeout: Duration,
    /// How long the kernel may cache the name -> inode mapping.
    pub entry_timeout: Duration,
}

impl Default for Entry {
    fn default() -> Self {
        Entry {
            inode: 0,
            generation: 0,
            // SAFETY: `stat64` is plain integers, for which all-zero bytes are valid.
            attr: unsafe { std::mem::zeroed() },
            attr_flags: 0,
            attr_timeout: Duration::ZERO,
            entry_timeout: Duration::ZERO,
        }
    }
}

impl From<Entry> for EntryOut {
    fn from(e: Entry) -> Self {
        EntryOut {
            nodeid: e.inode,
            generation: e.generation,
            entry_valid: e.entry_timeout.as_secs(),
            attr_valid: e.attr_timeout.as_secs(),
            entry_valid_nsec: e.entry_timeout.subsec_nanos(),
            attr_valid_nsec: e.attr_timeout.subsec_nanos(),
            attr: Attr::from_stat(e.attr, e.attr_flags),
        }
    }
}

/// One directory entry for readdir/readdirplus.
#[derive(Clone, Copy, Debug)]
pub struct DirEntry<'a> {
    /// Inode number shown in `d_ino`.
    pub ino: u64,
    /// Offset the kernel passes back to continue after this entry; must be stable across
    /// calls for an unchanged entry.
    pub offset: u64,
    /// File type, as in `d_type` (`libc::DT_*`).
    pub type_: u32,
    /// The name, without NUL.
    pub name: &'a [u8],
}

/// The reply to GETXATTR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GetxattrReply {
    /// The value (the request's size was large enough).
    Value(Vec<u8>),
    /// The size of the value (the request asked with size 0).
    Count(u32),
}

/// The reply to LISTXATTR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListxattrReply {
    /// NUL-separated names.
    Names(Vec<u8>),
    /// The size of the name list (the request asked with size 0).
    Count(u32),
}

/// Input and output of [`FileSystem::ioctl`](super::FileSystem::ioctl) (upstream's form):
/// the input bytes of the request, and the reply's result and output bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoctlData<'a> {
    /// The `result` field of the reply (the ioctl's return value); 0 in the request.
    pub result: i32,
    /// Input bytes in the request (`None` when there are none), output bytes in the reply.
    pub data: Option<&'a [u8]>,
}

/// The reply of [`FileSystem::ioctl_with_arg`](super::FileSystem::ioctl_with_arg): the
/// ioctl's return value and the output bytes, owned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IoctlReply {
    /// The `result` field of the reply (the ioctl's return value).
    pub result: i32,
    /// Output bytes, at most the request's `out_size`.
    pub data: Vec<u8>,
}

/// A POSIX or BSD lock as the [`FileSystem`](super::FileSystem) lock methods see it.
///
/// The same range and owner as the wire struct [`fuse_abi::FileLock`], with the type
/// under the name `lock_type`; `From` converts both ways.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileLock {
    /// First byte of the range.
    pub start: u64,
    /// Last byte of the range (inclusive; `OFFSET_MAX` for "to the end").
    pub end: u64,
    /// `F_RDLCK`, `F_WRLCK` or `F_UNLCK`.
    pub lock_type: u32,
    /// Thread group id of the lock holder.
    pub pid: u32,
}

impl From<fuse_abi::FileLock> for FileLock {
    fn from(l: fuse_abi::FileLock) -> Self {
        FileLock {
            start: l.start,
            end: l.end,
            lock_type: l.type_,
            pid: l.pid,
        }
    }
}

impl From<FileLock> for fuse_abi::FileLock {
    fn from(l: FileLock) -> Self {
        fuse_abi::FileLock {
            start: l.start,
            end: l.end,
            type_: l.lock_type,
            pid: l.pid,
        }
    }
}

/// Data of a WRITE request, moved into a file without an intermediate copy.
pub trait ZeroCopyReader: io::Read {
    /// Writes up to `count` bytes of request data into `f` at `off`; returns the bytes moved.
    fn read_to(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<usize>;

    /// Moves exactly `count` bytes, or fails with the first error (EIO on early EOF).
    fn read_exact_to(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        mut count: usize,
        mut off: u64,
    ) -> io::Result<()> {
        while count > 0 {
            match self.read_to(f, count, off) {
                Ok(0) => return Err(err(libc::EIO)),
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

    /// Moves everything that is left; returns the bytes moved.
    fn copy_to_end(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        mut off: u64,
    ) -> io::Result<usize> {
        let mut total = 0;
        loop {
            match self.read_to(f, usize::MAX, off) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    total += n;
                    off += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Space for the data of a READ reply, filled from a file without an intermediate copy.
pub trait ZeroCopyWriter: io::Write {
    /// Reads up to `count` bytes of `f` at `off` into the reply; returns the bytes moved
    /// (0 at end of file).
    fn write_from(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<usize>;

    /// Space left in the reply.
    fn available_bytes(&self) -> usize;

    /// Moves exactly `count` bytes, looping over short reads; fails with
    /// `UnexpectedEof` when `f` ends first (upstream's contract). For "up to `count`
    /// bytes, stop at end of file", use [`write_up_to_from`](Self::write_up_to_from).
    fn write_all_from(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<()> {
        if off.checked_add(count as u64).is_none() {
            return Err(err(libc::EINVAL));
        }
        let n = self.write_up_to_from(f, count, off)?;
        if n < count {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "failed to write whole buffer",
            ));
        }
        Ok(())
    }

    /// Moves up to `count` bytes, looping over short reads until EOF; returns the bytes
    /// moved (fewer than `count` only at end of file).
    fn write_up_to_from(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        mut count: usize,
        mut off: u64,
    ) -> io::Result<usize> {
        let mut total = 0;
        while count > 0 {
            match self.write_from(f, count, off) {
                Ok(0) => break,
                Ok(n) => {
                    total += n;
                    count -= n;
                    off += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    /// Moves everything from `off` to the end of `f` (or until the reply is full);
    /// returns the bytes moved.
    fn copy_to_end(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        mut off: u64,
    ) -> io::Result<usize> {
        let mut total = 0usize;
        loop {
            match self.write_from(f, usize::MAX, off) {
                Ok(0) => return Ok(total),
                Ok(n) => {
                    total = total.saturating_add(n);
                    off = off.saturating_add(n as u64);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Bytes one [`File`] copy step moves at most (the buffer is allocated per call).
const FILE_COPY_CHUNK: usize = 1 << 20;

/// A [`File`] as the source of WRITE data: bytes are read from the file's current
/// position and written to `f` at `off` (through a buffer of at most 1 MiB per call).
impl ZeroCopyReader for File {
    fn read_to(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        let mut buf = vec![0u8; count.min(FILE_COPY_CHUNK)];
        let n = self.read_volatile(FileVolatileSlice::from_mut_slice(&mut buf))?;
        if n == 0 {
            return Ok(0);
        }
        f.write_at_volatile(FileVolatileSlice::from_mut_slice(&mut buf[..n]), off)
    }
}

/// A [`File`] as the destination of READ data: bytes of `f` at `off` are appended at
/// the file's current position (through a buffer of at most 1 MiB per call).
impl ZeroCopyWriter for File {
    fn write_from(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        let mut buf = vec![0u8; count.min(FILE_COPY_CHUNK)];
        let n = f.read_at_volatile(FileVolatileSlice::from_mut_slice(&mut buf), off)?;
        if n == 0 {
            return Ok(0);
        }
        self.write_volatile(FileVolatileSlice::from_mut_slice(&mut buf[..n]))
    }

    fn available_bytes(&self) -> usize {
        usize::MAX
    }
}
