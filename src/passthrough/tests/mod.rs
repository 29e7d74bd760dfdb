//! Tests of the passthrough driver against a temporary directory, calling the
//! `FileSystem` methods directly.

use std::ffi::{CStr, CString};
use std::io;
use std::path::Path;

use vmm_sys_util::tempdir::TempDir;

use super::{Config, PassthroughFs};
use crate::abi::fuse_abi::{CreateIn, ROOT_ID};
use crate::api::filesystem::{Context, Entry, FileSystem, ZeroCopyReader, ZeroCopyWriter};
use crate::common::{FileReadWriteVolatile, FileVolatileSlice};

mod dir;
mod entry;
mod io_ops;
#[cfg(feature = "persist")]
mod persist;
mod security;
mod setid;

/// Reply space for READ, filled through `FileReadWriteVolatile` like a transport would.
pub(super) struct VecWriter {
    pub data: Vec<u8>,
    pub cap: usize,
}

impl VecWriter {
    pub fn new(cap: usize) -> Self {
        VecWriter {
            data: Vec::new(),
            cap,
        }
    }
}

impl io::Write for VecWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.cap - self.data.len());
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ZeroCopyWriter for VecWriter {
    fn write_from(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        let mut buf = vec![0u8; count.min(self.available_bytes())];
        let n = f.read_at_volatile(FileVolatileSlice::from_mut_slice(&mut buf), off)?;
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn available_bytes(&self) -> usize {
        self.cap - self.data.len()
    }
}

/// Request data for WRITE.
pub(super) struct VecReader {
    pub data: Vec<u8>,
    pub pos: usize,
}

impl VecReader {
    pub fn new(data: &[u8]) -> Self {
        VecReader {
            data: data.to_vec(),
            pos: 0,
        }
    }
}

impl io::Read for VecReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl ZeroCopyReader for VecReader {
    fn read_to(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        let n = count.min(self.data.len() - self.pos);
        let slice = &mut self.data[self.pos..self.pos + n];
        let done = f.write_at_volatile(FileVolatileSlice::from_mut_slice(slice), off)?;
        self.pos += done;
        Ok(done)
    }
}

pub(super) type Fs = PassthroughFs<()>;

/// A driver over a new temporary directory, configured by `f`.
pub(super) fn setup_with(f: impl FnOnce(&mut Config)) -> (TempDir, Fs) {
    let dir = TempDir::new().unwrap();
    let mut cfg = Config {
        root_dir: dir.as_path().to_str().unwrap().to_string(),
        ..Default::default()
    };
    f(&mut cfg);
    let fs = Fs::new(cfg).unwrap();
    (dir, fs)
}

pub(super) fn setup() -> (TempDir, Fs) {
    setup_with(|_| {})
}

pub(super) fn ctx() -> Context {
    Context::default()
}

pub(super) fn cs(s: &str) -> CString {
    CString::new(s).unwrap()
}

pub(super) fn errno<T: std::fmt::Debug>(r: io::Result<T>) -> i32 {
    r.unwrap_err().raw_os_error().unwrap()
}

/// Open descriptors of this process that point below `dir` (other tests running in
/// parallel open their own descriptors elsewhere, so only these are counted).
pub(super) fn fds_under(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|t| t.starts_with(dir))
        .count()
}

/// CREATE with O_RDWR in `parent`.
pub(super) fn create_file(fs: &Fs, parent: u64, name: &str, mode: u32) -> (Entry, u64) {
    let args = CreateIn {
        flags: libc::O_RDWR as u32,
        mode: libc::S_IFREG | mode,
        umask: 0,
        fuse_flags: 0,
    };
    let (e, h, _, _) = fs.create(&ctx(), parent, &cs(name), args).unwrap();
    (e, h.unwrap())
}

pub(super) fn write_all(fs: &Fs, inode: u64, handle: u64, data: &[u8], off: u64) -> usize {
    let mut r = VecReader::new(data);
    fs.write(
        &ctx(),
        inode,
        handle,
        &mut r,
        data.len() as u32,
        off,
        None,
        false,
        0,
        0,
    )
    .unwrap()
}

pub(super) fn read_all(fs: &Fs, inode: u64, handle: u64, size: u32, off: u64) -> Vec<u8> {
    let mut w = VecWriter::new(size as usize);
    fs.read(&ctx(), inode, handle, &mut w, size, off, None, 0)
        .unwrap();
    w.data
}

pub(super) fn lookup(fs: &Fs, parent: u64, name: &str) -> io::Result<Entry> {
    fs.lookup(&ctx(), parent, &cs(name))
}

pub(super) fn refcount(fs: &Fs, inode: u64) -> u64 {
    fs.inodes.get(inode).map(|d| d.refcount()).unwrap_or(0)
}

pub(super) fn root() -> u64 {
    ROOT_ID
}

pub(super) fn cstr_bytes(c: &CStr) -> &[u8] {
    c.to_bytes()
}
