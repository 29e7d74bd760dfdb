//! The inodes the client knows, with their lookup counts.
//!
//! An inode enters the store on its first lookup with count 1; each further lookup adds
//! one and FORGET subtracts. When the count reaches 0 the inode leaves the store and its
//! descriptor is closed once the last request using it finishes (requests hold an `Arc`).
//! The root is never removed.
//!
//! Locking: one `RwLock` over both maps. Lookups of known inodes and every request take
//! the read lock; counts are atomics changed under the read lock. Insertion and removal
//! take the write lock, and removal re-checks that the count is still 0 under it, so a
//! lookup that revives an inode at count 0 always wins against a concurrent FORGET.

use std::collections::HashMap;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::file_handle::FileHandle;
use crate::abi::fuse_abi::ROOT_ID;
use crate::errno::err;

/// Host identity of an inode: inode number, device and (with `enable_mntid`) mount ID.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub(crate) struct InodeId {
    /// Host inode number.
    pub ino: u64,
    /// Host device.
    pub dev: u64,
    /// Host mount ID, or 0 when mount IDs are not compared.
    pub mnt: u64,
}

/// How an inode is reopened.
pub(crate) enum InodeHandle {
    /// An `O_PATH` descriptor kept for the inode's whole life.
    Fd(OwnedFd),
    /// A file handle, opened on demand.
    Handle(FileHandle),
    /// Restored from a saved state, but its file could not be found again (deleted,
    /// replaced or moved out of the share meanwhile): every request on it fails with
    /// ESTALE until the client forgets it.
    #[cfg_attr(not(feature = "persist"), allow(dead_code))]
    Stale,
}

/// One inode known to the client: its node ID, generation, host identity and the way
/// the driver reaches the file. The fields are the driver's own.
pub struct InodeData {
    /// The FUSE node ID.
    pub(crate) inode: u64,
    /// Generation sent with the node ID; differs when a host inode number is reused.
    pub(crate) generation: u64,
    /// Host identity.
    pub(crate) id: InodeId,
    /// `st_mode & S_IFMT`; a file's type never changes.
    pub(crate) file_type: u32,
    /// How to reach the file.
    pub(crate) handle: InodeHandle,
    /// For an inode kept as a file handle whose file the host deleted while the client
    /// knew it: a descriptor of the file, which can no longer be reopened by handle
    /// (ESTALE). Set at most once; closed with the inode.
    pinned: OnceLock<Arc<OwnedFd>>,
    refcount: AtomicU64,
}

impl std::fmt::Debug for InodeData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InodeData")
            .field("inode", &self.inode)
            .field("generation", &self.generation)
            .field("dev", &self.id.dev)
            .field("ino", &self.id.ino)
            .field("file_type", &self.file_type)
            .finish_non_exhaustive()
    }
}

impl InodeData {
    /// Whether this is a directory.
    pub(crate) fn is_dir(&self) -> bool {
        self.file_type == libc::S_IFDIR
    }

    /// Whether this is a regular file.
    pub(crate) fn is_reg(&self) -> bool {
        self.file_type == libc::S_IFREG
    }

    /// Keeps `fd` as the way to reach this inode's file, deleted on the host (a second
    /// call changes nothing: it is the same file).
    pub(crate) fn pin(&self, fd: Arc<OwnedFd>) {
        let _ = self.pinned.set(fd);
    }

    /// The descriptor given to [`pin`](InodeData::pin).
    pub(crate) fn pinned(&self) -> Option<&Arc<OwnedFd>> {
        self.pinned.get()
    }

    /// The current lookup count.
    #[cfg(test)]
    pub(crate) fn refcount(&self) -> u64 {
        self.refcount.load(Ordering::Acquire)
    }
}

#[derive(Default)]
struct Maps {
    by_inode: HashMap<u64, Arc<InodeData>>,
    by_id: HashMap<InodeId, u64>,
}

/// The inode table (see the module docs for the locking rules).
pub(crate) struct InodeStore {
    maps: RwLock<Maps>,
    next_virtual: AtomicU64,
    next_generation: AtomicU64,
}

impl InodeStore {
    /// An empty store whose own inode numbers start at `first_virtual`.
    pub fn new(first_virtual: u64) -> InodeStore {
        InodeStore {
            maps: RwLock::new(Maps::default()),
            next_virtual: AtomicU64::new(first_virtual),
            next_generation: AtomicU64::new(1),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Maps> {
        self.maps.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Maps> {
        self.maps.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The inode with node ID `inode` (EBADF when unknown).
    pub fn get(&self, inode: u64) -> io::Result<Arc<InodeData>> {
        self.read()
            .by_inode
            .get(&inode)
            .cloned()
            .ok_or_else(|| err(libc::EBADF))
    }

    /// The inode with host identity `id`, with its lookup count raised by one.
    pub fn lookup_ref(&self, id: &InodeId) -> Option<Arc<InodeData>> {
        let maps = self.read();
        let data = maps.by_inode.get(maps.by_id.get(id)?)?;
        data.refcount.fetch_add(1, Ordering::AcqRel);
        Some(data.clone())
    }

    /// The inode with host identity `id`, without changing its lookup count.
    pub fn peek(&self, id: &InodeId) -> Option<Arc<InodeData>> {
        let maps = self.read();
        maps.by_inode.get(maps.by_id.get(id)?).cloned()
    }

    /// Adds the root inode (node ID `ROOT_ID`), replacing any previous one.
    pub fn insert_root(&self, id: InodeId, file_type: u32, handle: InodeHandle) {
        let data = Arc::new(InodeData {
            inode: ROOT_ID,
            generation: 0,
            id,
            file_type,
            handle,
            pinned: OnceLock::new(),
            refcount: AtomicU64::new(2),
        });
        let mut maps = self.write();
        maps.by_id.insert(id, ROOT_ID);
        maps.by_inode.insert(ROOT_ID, data);
    }

    /// Returns the inode with identity `id` with its count raised by one, or inserts a new
    /// one built from `file_type` and `handle` with count 1. `host_ino` is the node ID to
    /// prefer for a new inode (when using host inode numbers); it is used only if free.
    /// The second value tells whether the inode is new.
    pub fn insert_or_ref(
        &self,
        id: InodeId,
        file_type: u32,
        handle: InodeHandle,
        host_ino: Option<u64>,
    ) -> (Arc<InodeData>, bool) {
        let mut maps = self.write();
        if let Some(existing) = maps.by_id.get(&id).and_then(|i| maps.by_inode.get(i)) {
            existing.refcount.fetch_add(1, Ordering::AcqRel);
            return (existing.clone(), false);
        }
        let (inode, generation) = match host_ino {
            Some(ino) if ino != ROOT_ID && !maps.by_inode.contains_key(&ino) => {
                (ino, self.next_generation.fetch_add(1, Ordering::Relaxed))
            }
            _ => (self.next_virtual.fetch_add(1, Ordering::Relaxed), 0),
        };
        let data = Arc::new(InodeData {
            inode,
            generation,
            id,
            file_type,
            handle,
            pinned: OnceLock::new(),
            refcount: AtomicU64::new(1),
        });
        maps.by_id.insert(id, inode);
        maps.by_inode.insert(inode, data.clone());
        (data, true)
    }

    /// Subtracts `count` from the lookup count of `inode` (saturating at 0) and removes the
    /// inode when it reaches 0, returning it. Unknown inodes and the root are ignored.
    pub fn forget(&self, inode: u64, count: u64) -> Option<Arc<InodeData>> {
        if inode == ROOT_ID {
            return None;
        }
        let data = self.read().by_inode.get(&inode).cloned()?;
        let mut cur = data.refcount.load(Ordering::Acquire);
        loop {
            let new = cur.saturating_sub(count);
            match data
                .refcount
                .compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    cur = new;
                    break;
                }
                Err(actual) => cur = actual,
            }
        }
        if cur != 0 {
            return None;
        }
        let mut maps = self.write();
        // A lookup may have revived the inode before we got the write lock.
        if data.refcount.load(Ordering::Acquire) != 0 {
            return None;
        }
        match maps.by_inode.get(&inode) {
            Some(d) if Arc::ptr_eq(d, &data) => {}
            _ => return None,
        }
        maps.by_inode.remove(&inode);
        if maps.by_id.get(&data.id) == Some(&inode) {
            maps.by_id.remove(&data.id);
        }
        Some(data)
    }

    /// Stops finding node ID `inode` by host identity `id` (the host reused the identity
    /// for another file); the node ID itself stays until the kernel forgets it.
    pub fn retire(&self, id: &InodeId, inode: u64) {
        let mut maps = self.write();
        if maps.by_id.get(id) == Some(&inode) {
            maps.by_id.remove(id);
        }
    }

    /// Removes every inode, the root included.
    pub fn clear(&self) {
        let mut maps = self.write();
        maps.by_inode.clear();
        maps.by_id.clear();
    }

    /// Number of inodes, the root included.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.read().by_inode.len()
    }
}

/// One inode of a saved table: what [`InodeStore::snapshot`] gives and
/// [`InodeStore::restore`] takes.
#[cfg(feature = "persist")]
pub(crate) struct InodeRecord {
    pub data: Arc<InodeData>,
    pub refcount: u64,
    /// Found by host identity (a node ID retired after its identity was reused is not).
    pub indexed: bool,
}

#[cfg(feature = "persist")]
impl InodeData {
    /// An inode as it was saved, with its node ID, generation and lookup count.
    pub(crate) fn restored(
        inode: u64,
        generation: u64,
        id: InodeId,
        file_type: u32,
        handle: InodeHandle,
    ) -> InodeData {
        InodeData {
            inode,
            generation,
            id,
            file_type,
            handle,
            pinned: OnceLock::new(),
            refcount: AtomicU64::new(0),
        }
    }
}

#[cfg(feature = "persist")]
impl InodeStore {
    /// Every inode but the root, with the counters that number new ones.
    pub fn snapshot(&self) -> (Vec<InodeRecord>, u64, u64) {
        let maps = self.read();
        let mut out: Vec<InodeRecord> = maps
            .by_inode
            .values()
            .filter(|d| d.inode != ROOT_ID)
            .map(|d| InodeRecord {
                data: d.clone(),
                refcount: d.refcount.load(Ordering::Acquire),
                indexed: maps.by_id.get(&d.id) == Some(&d.inode),
            })
            .collect();
        out.sort_by_key(|r| r.data.inode);
        (
            out,
            self.next_virtual.load(Ordering::Relaxed),
            self.next_generation.load(Ordering::Relaxed),
        )
    }

    /// Adds saved inodes to a store that holds only its root, and raises the counters to
    /// at least the saved ones. Fails with EBUSY (changing nothing) when the store holds
    /// more than the root, or EINVAL when two inodes share a node ID or an indexed
    /// identity, or one takes the root's.
    pub fn restore(
        &self,
        records: Vec<InodeRecord>,
        next_virtual: u64,
        next_generation: u64,
    ) -> io::Result<()> {
        let mut maps = self.write();
        if maps.by_inode.len() != 1 || !maps.by_inode.contains_key(&ROOT_ID) {
            return Err(err(libc::EBUSY));
        }
        let mut by_inode = HashMap::with_capacity(records.len());
        let mut by_id = HashMap::with_capacity(records.len());
        for r in records {
            let d = r.data;
            if d.inode == ROOT_ID || by_inode.contains_key(&d.inode) {
                return Err(err(libc::EINVAL));
            }
            if r.indexed
                && !matches!(d.handle, InodeHandle::Stale)
                && (maps.by_id.contains_key(&d.id) || by_id.insert(d.id, d.inode).is_some())
            {
                return Err(err(libc::EINVAL));
            }
            d.refcount.store(r.refcount, Ordering::Release);
            by_inode.insert(d.inode, d);
        }
        maps.by_inode.extend(by_inode);
        maps.by_id.extend(by_id);
        self.next_virtual.fetch_max(next_virtual, Ordering::Relaxed);
        self.next_generation
            .fetch_max(next_generation, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd() -> InodeHandle {
        InodeHandle::Fd(crate::sys::open(c"/", libc::O_PATH).unwrap())
    }

    fn id(ino: u64) -> InodeId {
        InodeId {
            ino,
            dev: 7,
            mnt: 0,
        }
    }

    #[test]
    fn refcounts_saturate_and_root_stays() {
        let s = InodeStore::new(2);
        s.insert_root(id(100), libc::S_IFDIR, fd());
        let (a, new) = s.insert_or_ref(id(5), libc::S_IFREG, fd(), None);
        assert!(new);
        assert_eq!(a.inode, 2);
        let (b, new) = s.insert_or_ref(id(5), libc::S_IFREG, fd(), None);
        assert!(!new);
        assert_eq!(b.inode, 2);
        assert_eq!(a.refcount(), 2);
        assert!(s.lookup_ref(&id(5)).is_some());
        assert_eq!(a.refcount(), 3);
        // Forget more than held: saturates, removes, never panics.
        assert!(s.forget(2, 1000).is_some());
        assert_eq!(a.refcount(), 0);
        assert!(s.get(2).is_err());
        assert!(s.lookup_ref(&id(5)).is_none());
        // Unknown inode and root are ignored.
        assert!(s.forget(12345, 1).is_none());
        assert!(s.forget(ROOT_ID, u64::MAX).is_none());
        assert!(s.get(ROOT_ID).is_ok());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn host_numbers_are_used_when_free() {
        let s = InodeStore::new(1 << 47);
        let (a, _) = s.insert_or_ref(id(42), libc::S_IFREG, fd(), Some(42));
        assert_eq!(a.inode, 42);
        let other = InodeId { mnt: 9, ..id(42) };
        let (b, _) = s.insert_or_ref(other, libc::S_IFREG, fd(), Some(42));
        assert_eq!(b.inode, 1 << 47);
        assert_ne!(a.generation, 0);
        s.clear();
        assert_eq!(s.len(), 0);
    }
}
