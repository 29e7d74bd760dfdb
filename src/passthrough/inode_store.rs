//! The inodes the client knows, with their lookup counts.
//!
//! An inode enters the store on its first lookup with count 1; each further lookup adds
//! one and FORGET subtracts. When the count reaches 0 the inode leaves the store and its
//! descriptor is closed once the last request using it finishes (requests hold an `Arc`).
//! The root is never removed.
//!
//! Locking: both indices are sharded, each shard with its own `RwLock`, so requests on
//! different inodes do not share a lock (see [`InodeStore`] for the rules). Counts are
//! atomics changed under a shard's read lock; removal re-checks under the write locks
//! that the count is still 0, so a lookup that revives an inode at count 0 always wins
//! against a concurrent FORGET.

use std::collections::hash_map::Entry;
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

/// Shards of each index (a power of two): enough that threads working on different
/// inodes seldom meet on one lock.
const SHARD_BITS: u32 = 6;
const SHARDS: usize = 1 << SHARD_BITS;

/// One shard of an index, on cache lines of its own, so that readers of neighbouring
/// shards do not bounce one line between CPUs.
#[repr(align(128))]
#[derive(Default)]
struct Shard<T>(RwLock<T>);

impl<T> Shard<T> {
    fn read(&self) -> RwLockReadGuard<'_, T> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// The two indices, each split into [`SHARDS`] shards with a lock of their own: node ID
/// to inode (sharded by node ID) and host identity to node ID (sharded by a hash of the
/// identity).
struct Maps {
    by_inode: Box<[Shard<ByInode>]>,
    by_id: Box<[Shard<ById>]>,
}

/// Node ID to inode.
type ByInode = HashMap<u64, Arc<InodeData>>;
/// Host identity to node ID.
type ById = HashMap<InodeId, u64>;

impl Default for Maps {
    fn default() -> Self {
        Maps {
            by_inode: (0..SHARDS).map(|_| Shard::default()).collect(),
            by_id: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

impl Maps {
    /// The shard of node ID `inode`: node IDs are mostly handed out in sequence, so the
    /// low bits spread them evenly.
    fn inode_shard(&self, inode: u64) -> &Shard<ByInode> {
        &self.by_inode[(inode as usize) & (SHARDS - 1)]
    }

    /// The shard of host identity `id` (a multiplicative hash, top bits).
    fn id_shard(&self, id: &InodeId) -> &Shard<ById> {
        &self.by_id[self.id_shard_index(id)]
    }

    fn id_shard_index(&self, id: &InodeId) -> usize {
        let h = (id.ino ^ id.dev.rotate_left(29) ^ id.mnt.rotate_left(47))
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> (64 - SHARD_BITS)) as usize
    }
}

/// The inode table.
///
/// Locking: every shard has its own `RwLock`. A request finds its inode under the read
/// lock of one node-ID shard; lookup counts are atomics. The rules that keep the two
/// indices consistent and a count never revived by a lookup that loses to FORGET:
///
/// - Lock order: an identity shard before a node-ID shard, and never two shards of the
///   same index at once.
/// - Adding an inode holds its identity shard's write lock from the search to the
///   insertion, so two lookups of one file never create two node IDs.
/// - A lookup count is raised only under the read lock of the inode's node-ID shard, and
///   an inode is removed only under the write locks of both its shards, after checking
///   there that its count is still 0. So a lookup that raises the count of an inode
///   whose count FORGET just took to 0 keeps it in the store (FORGET sees the count and
///   leaves it), and one that comes after the removal does not find it.
pub(crate) struct InodeStore {
    maps: Maps,
    next_virtual: AtomicU64,
    next_generation: AtomicU64,
}

impl InodeStore {
    /// An empty store whose own inode numbers start at `first_virtual`.
    pub fn new(first_virtual: u64) -> InodeStore {
        InodeStore {
            maps: Maps::default(),
            next_virtual: AtomicU64::new(first_virtual),
            next_generation: AtomicU64::new(1),
        }
    }

    /// The inode with node ID `inode` (EBADF when unknown).
    pub fn get(&self, inode: u64) -> io::Result<Arc<InodeData>> {
        self.maps
            .inode_shard(inode)
            .read()
            .get(&inode)
            .cloned()
            .ok_or_else(|| err(libc::EBADF))
    }

    /// The inode with host identity `id`; `raise` adds one to its lookup count.
    fn find(&self, id: &InodeId, raise: bool) -> Option<Arc<InodeData>> {
        let inode = *self.maps.id_shard(id).read().get(id)?;
        let shard = self.maps.inode_shard(inode).read();
        // The node ID may have been forgotten (and, with host inode numbers, given to
        // another file) since the identity shard was read.
        let data = shard.get(&inode).filter(|d| d.id == *id)?;
        if raise {
            data.refcount.fetch_add(1, Ordering::AcqRel);
        }
        Some(data.clone())
    }

    /// The inode with host identity `id`, with its lookup count raised by one.
    pub fn lookup_ref(&self, id: &InodeId) -> Option<Arc<InodeData>> {
        self.find(id, true)
    }

    /// The inode with host identity `id`, without changing its lookup count.
    pub fn peek(&self, id: &InodeId) -> Option<Arc<InodeData>> {
        self.find(id, false)
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
        let mut ids = self.maps.id_shard(&id).write();
        let mut inodes = self.maps.inode_shard(ROOT_ID).write();
        ids.insert(id, ROOT_ID);
        inodes.insert(ROOT_ID, data);
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
        let mut ids = self.maps.id_shard(&id).write();
        if let Some(&inode) = ids.get(&id) {
            let shard = self.maps.inode_shard(inode).read();
            if let Some(existing) = shard.get(&inode).filter(|d| d.id == id) {
                existing.refcount.fetch_add(1, Ordering::AcqRel);
                return (existing.clone(), false);
            }
        }
        let new = |inode, generation| {
            Arc::new(InodeData {
                inode,
                generation,
                id,
                file_type,
                handle,
                pinned: OnceLock::new(),
                refcount: AtomicU64::new(1),
            })
        };
        if let Some(ino) = host_ino.filter(|&i| i != ROOT_ID) {
            let mut shard = self.maps.inode_shard(ino).write();
            if let Entry::Vacant(slot) = shard.entry(ino) {
                let data = new(ino, self.next_generation.fetch_add(1, Ordering::Relaxed));
                slot.insert(data.clone());
                ids.insert(id, ino);
                return (data, true);
            }
        }
        // Driver-made numbers are never handed out twice: no one else can hold this one.
        let inode = self.next_virtual.fetch_add(1, Ordering::Relaxed);
        let data = new(inode, 0);
        self.maps
            .inode_shard(inode)
            .write()
            .insert(inode, data.clone());
        ids.insert(id, inode);
        (data, true)
    }

    /// Subtracts `count` from the lookup count of `inode` (saturating at 0) and removes the
    /// inode when it reaches 0, returning it. Unknown inodes and the root are ignored.
    pub fn forget(&self, inode: u64, count: u64) -> Option<Arc<InodeData>> {
        if inode == ROOT_ID {
            return None;
        }
        let data = self.get(inode).ok()?;
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
        let mut ids = self.maps.id_shard(&data.id).write();
        let mut inodes = self.maps.inode_shard(inode).write();
        // A lookup may have revived the inode before we got the write locks.
        if data.refcount.load(Ordering::Acquire) != 0 {
            return None;
        }
        match inodes.get(&inode) {
            Some(d) if Arc::ptr_eq(d, &data) => {}
            _ => return None,
        }
        inodes.remove(&inode);
        if ids.get(&data.id) == Some(&inode) {
            ids.remove(&data.id);
        }
        Some(data)
    }

    /// Stops finding node ID `inode` by host identity `id` (the host reused the identity
    /// for another file); the node ID itself stays until the kernel forgets it.
    pub fn retire(&self, id: &InodeId, inode: u64) {
        let mut ids = self.maps.id_shard(id).write();
        if ids.get(id) == Some(&inode) {
            ids.remove(id);
        }
    }

    /// Removes every inode, the root included.
    pub fn clear(&self) {
        for s in self.maps.by_id.iter() {
            s.write().clear();
        }
        for s in self.maps.by_inode.iter() {
            s.write().clear();
        }
    }

    /// Number of inodes, the root included.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.maps.by_inode.iter().map(|s| s.read().len()).sum()
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
    /// Every inode but the root, with the counters that number new ones. Meant for an
    /// idle store (no request in flight); shards are read one at a time.
    pub fn snapshot(&self) -> (Vec<InodeRecord>, u64, u64) {
        let mut all: Vec<Arc<InodeData>> = Vec::new();
        for s in self.maps.by_inode.iter() {
            all.extend(s.read().values().filter(|d| d.inode != ROOT_ID).cloned());
        }
        let mut out: Vec<InodeRecord> = all
            .into_iter()
            .map(|d| InodeRecord {
                refcount: d.refcount.load(Ordering::Acquire),
                indexed: self.maps.id_shard(&d.id).read().get(&d.id) == Some(&d.inode),
                data: d,
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
    ///
    /// Takes every shard's write lock, identity shards first and each index in shard
    /// order, so it cannot deadlock with requests (which hold at most one shard of each).
    pub fn restore(
        &self,
        records: Vec<InodeRecord>,
        next_virtual: u64,
        next_generation: u64,
    ) -> io::Result<()> {
        let mut ids: Vec<_> = self.maps.by_id.iter().map(|s| s.write()).collect();
        let mut inodes: Vec<_> = self.maps.by_inode.iter().map(|s| s.write()).collect();
        let only_root = inodes.iter().map(|m| m.len()).sum::<usize>() == 1
            && inodes[(ROOT_ID as usize) & (SHARDS - 1)].contains_key(&ROOT_ID);
        if !only_root {
            return Err(err(libc::EBUSY));
        }
        let mut by_inode: HashMap<u64, Arc<InodeData>> = HashMap::with_capacity(records.len());
        let mut by_id: HashMap<InodeId, u64> = HashMap::with_capacity(records.len());
        let id_taken = |ids: &[RwLockWriteGuard<'_, ById>], id: &InodeId| {
            ids.iter().any(|m| m.contains_key(id))
        };
        for r in records {
            let d = r.data;
            if d.inode == ROOT_ID || by_inode.contains_key(&d.inode) {
                return Err(err(libc::EINVAL));
            }
            if r.indexed
                && !matches!(d.handle, InodeHandle::Stale)
                && (id_taken(&ids, &d.id) || by_id.insert(d.id, d.inode).is_some())
            {
                return Err(err(libc::EINVAL));
            }
            d.refcount.store(r.refcount, Ordering::Release);
            by_inode.insert(d.inode, d);
        }
        for (inode, d) in by_inode {
            inodes[(inode as usize) & (SHARDS - 1)].insert(inode, d);
        }
        for (id, inode) in by_id {
            let shard = self.maps.id_shard_index(&id);
            ids[shard].insert(id, inode);
        }
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

    /// Lookups and forgets of one file from several threads: while a thread holds a
    /// count the inode stays in the store (a lookup never revives an inode that FORGET
    /// then removes), one identity never has two live node IDs, and when every count is
    /// given back only the root is left.
    #[test]
    fn lookups_racing_forgets_keep_counted_inodes() {
        let s = InodeStore::new(1 << 47);
        s.insert_root(id(100), libc::S_IFDIR, fd());
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let s = &s;
                scope.spawn(move || {
                    for i in 0..500u64 {
                        let data = if (i + t) % 2 == 0 {
                            s.insert_or_ref(id(5), libc::S_IFREG, fd(), Some(42)).0
                        } else if let Some(d) = s.lookup_ref(&id(5)) {
                            d
                        } else {
                            continue;
                        };
                        let now = s.get(data.inode).expect("a counted inode is in the store");
                        assert!(Arc::ptr_eq(&now, &data));
                        let found = s.peek(&id(5)).expect("found by identity");
                        assert!(Arc::ptr_eq(&found, &data));
                        s.forget(data.inode, 1);
                    }
                });
            }
        });
        assert_eq!(s.len(), 1);
        assert!(s.peek(&id(5)).is_none());
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
