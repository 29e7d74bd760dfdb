//! Open files and directories: the handle table and zero-copy I/O on a shared `File`.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::common::file_traits::{preadv_fd, pwritev_fd, readv_fd, writev_fd};
use crate::common::{FileReadWriteVolatile, FileVolatileSlice};

/// One open file or directory.
pub(crate) struct HandleData {
    /// The node ID the handle was opened on.
    pub inode: u64,
    /// The host file (a real descriptor, never `O_PATH`).
    pub file: File,
    /// Directories only: the getdents buffer, whose lock also serialises the seek and
    /// read of one READDIR on this handle.
    pub dir: Option<Mutex<Vec<u8>>>,
}

impl HandleData {
    /// A regular-file handle.
    pub fn file(inode: u64, file: File) -> HandleData {
        HandleData {
            inode,
            file,
            dir: None,
        }
    }

    /// A directory handle.
    pub fn dir(inode: u64, file: File) -> HandleData {
        HandleData {
            inode,
            file,
            dir: Some(Mutex::new(Vec::new())),
        }
    }
}

const SHARDS: usize = 16;

/// Handle number to open file, sharded so that unrelated requests do not contend.
/// Shard locks are held only for map operations, never across a system call.
pub(crate) struct HandleMap {
    shards: Vec<RwLock<HashMap<u64, Arc<HandleData>>>>,
    next: AtomicU64,
    /// Handles restored from a saved state whose file could not be opened again: they
    /// answer ESTALE until released. Read only when a handle is not in the table.
    stale: RwLock<HashSet<u64>>,
}

impl Default for HandleMap {
    fn default() -> Self {
        HandleMap {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            // 0 is what the kernel sends when OPEN was skipped (no_open); never hand it out.
            next: AtomicU64::new(1),
            stale: RwLock::default(),
        }
    }
}

impl HandleMap {
    fn shard(&self, handle: u64) -> &RwLock<HashMap<u64, Arc<HandleData>>> {
        &self.shards[(handle as usize) % SHARDS]
    }

    /// Stores `data` under a new handle number.
    pub fn insert(&self, data: HandleData) -> u64 {
        let h = self.next.fetch_add(1, Ordering::Relaxed);
        self.shard(h)
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(h, Arc::new(data));
        h
    }

    /// The open file `handle`, if it exists and belongs to `inode`.
    pub fn get(&self, handle: u64, inode: u64) -> Option<Arc<HandleData>> {
        let map = self.shard(handle).read().unwrap_or_else(|p| p.into_inner());
        map.get(&handle).filter(|d| d.inode == inode).cloned()
    }

    /// Removes `handle` if it belongs to `inode`; the file closes when the last request
    /// using it finishes.
    pub fn remove(&self, handle: u64, inode: u64) -> Option<Arc<HandleData>> {
        let mut map = self
            .shard(handle)
            .write()
            .unwrap_or_else(|p| p.into_inner());
        match map.get(&handle) {
            Some(d) if d.inode == inode => map.remove(&handle),
            _ => None,
        }
    }

    /// Closes every handle.
    pub fn clear(&self) {
        for s in &self.shards {
            s.write().unwrap_or_else(|p| p.into_inner()).clear();
        }
        self.stale
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Whether `handle` was restored without its file (see [`HandleMap::restore`]).
    pub fn is_stale(&self, handle: u64) -> bool {
        let stale = self.stale.read().unwrap_or_else(|p| p.into_inner());
        !stale.is_empty() && stale.contains(&handle)
    }

    /// Releases a stale handle; false when `handle` is not one.
    pub fn remove_stale(&self, handle: u64) -> bool {
        if !self.is_stale(handle) {
            return false;
        }
        let mut stale = self.stale.write().unwrap_or_else(|p| p.into_inner());
        stale.remove(&handle)
    }
}

#[cfg(feature = "persist")]
impl HandleMap {
    /// Every open handle and the next handle number.
    pub fn snapshot(&self) -> (Vec<(u64, Arc<HandleData>)>, u64) {
        let mut out = Vec::new();
        for s in &self.shards {
            let map = s.read().unwrap_or_else(|p| p.into_inner());
            out.extend(map.iter().map(|(&h, d)| (h, d.clone())));
        }
        out.sort_by_key(|(h, _)| *h);
        (out, self.next.load(Ordering::Relaxed))
    }

    /// Puts saved handles back under their numbers into an empty table, the handles in
    /// `stale` as stale ones, and raises the next number to at least `next`. Fails with
    /// EBUSY (changing nothing) when the table is not empty, or EINVAL for a number that
    /// is 0, at or above `next`, or given twice.
    pub fn restore(
        &self,
        open: Vec<(u64, HandleData)>,
        stale: Vec<u64>,
        next: u64,
    ) -> io::Result<()> {
        let mut seen = HashSet::with_capacity(open.len() + stale.len());
        for &h in open.iter().map(|(h, _)| h).chain(stale.iter()) {
            if h == 0 || h >= next || !seen.insert(h) {
                return Err(io::Error::from_raw_os_error(libc::EINVAL));
            }
        }
        let mut guards: Vec<_> = self
            .shards
            .iter()
            .map(|s| s.write().unwrap_or_else(|p| p.into_inner()))
            .collect();
        let mut stale_set = self.stale.write().unwrap_or_else(|p| p.into_inner());
        if guards.iter().any(|g| !g.is_empty()) || !stale_set.is_empty() {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        for (h, d) in open {
            guards[(h as usize) % SHARDS].insert(h, Arc::new(d));
        }
        stale_set.extend(stale);
        self.next.fetch_max(next, Ordering::Relaxed);
        Ok(())
    }
}

/// Positioned I/O on a `File` shared between requests: `preadv`/`pwritev` need no
/// exclusive access, so a `&File` is enough.
pub(crate) struct SharedFileIo<'a>(pub &'a File);

impl FileReadWriteVolatile for SharedFileIo<'_> {
    fn read_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<usize> {
        readv_fd(self.0.as_raw_fd(), &[slice])
    }

    fn write_volatile(&mut self, slice: FileVolatileSlice) -> io::Result<usize> {
        writev_fd(self.0.as_raw_fd(), &[slice])
    }

    fn read_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        preadv_fd(self.0.as_raw_fd(), &[slice], offset)
    }

    fn write_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        pwritev_fd(self.0.as_raw_fd(), &[slice], offset)
    }

    fn read_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        preadv_fd(self.0.as_raw_fd(), bufs, offset)
    }

    fn write_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        pwritev_fd(self.0.as_raw_fd(), bufs, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_map_checks_inode() {
        let m = HandleMap::default();
        let f = vmm_sys_util::tempfile::TempFile::new().unwrap().into_file();
        let h = m.insert(HandleData::file(7, f));
        assert_ne!(h, 0);
        assert!(m.get(h, 7).is_some());
        assert!(m.get(h, 8).is_none());
        assert!(m.remove(h, 8).is_none());
        assert!(m.remove(h, 7).is_some());
        assert!(m.get(h, 7).is_none());
        m.clear();
    }
}
