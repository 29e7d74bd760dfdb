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

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::file_handle::FileHandle;
use crate::abi::fuse_abi::ROOT_ID;
use crate::errno::err;

/// Host identity of an inode: inode number, device and (with `enable_mntid`) mount ID.
///
/// Kept in 16 bytes, a million of them sit in the inode table: Linux device numbers are
/// 32 bits (12 major, 20 minor; `st_dev` never exceeds `u32`) and so are the mount IDs of
/// `STATX_MNT_ID` and `name_to_handle_at` (an `int` in the kernel).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub(crate) struct InodeId {
    /// Host inode number.
    pub ino: u64,
    /// Host device.
    pub dev: u32,
    /// Host mount ID, or 0 when mount IDs are not compared.
    pub mnt: u32,
}

impl InodeId {
    /// The identity of host inode `ino` on device `dev` in mount `mnt` (see the type's
    /// docs for why the narrowing keeps every value Linux reports).
    pub fn new(ino: u64, dev: u64, mnt: u64) -> InodeId {
        InodeId {
            ino,
            dev: narrow(dev),
            mnt: narrow(mnt),
        }
    }
}

/// `v` as a `u32`; a value Linux never reports folds its high half in rather than being
/// cut off, so that two such values still differ unless they collide after folding.
fn narrow(v: u64) -> u32 {
    u32::try_from(v).unwrap_or((v ^ (v >> 32)) as u32)
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
///
/// Memory: one of these (in an `Arc`) per inode the kernel holds, so it is kept small:
/// 56 bytes with a file handle of up to 8 bytes stored inline (ext4, XFS), 80 bytes per
/// allocation with the `Arc` counts and malloc's header.
pub struct InodeData {
    /// The FUSE node ID.
    pub(crate) inode: u64,
    /// Host identity.
    pub(crate) id: InodeId,
    refcount: AtomicU64,
    /// How to reach the file.
    pub(crate) handle: InodeHandle,
    /// Generation sent with the node ID; differs when a host inode number is reused.
    /// 32 bits, as the kernel's own file handles carry it (`fuse_encode_fh`).
    generation: u32,
    /// `(st_mode & S_IFMT) >> 12`; a file's type never changes.
    file_type: u8,
    /// Whether the driver pinned a descriptor of this inode's file, deleted on the host
    /// while the client knew it (kept by the driver, keyed by node ID and generation).
    pinned: AtomicBool,
}

const _: () = assert!(std::mem::size_of::<InodeData>() <= 56);

impl std::fmt::Debug for InodeData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InodeData")
            .field("inode", &self.inode)
            .field("generation", &self.generation)
            .field("dev", &self.id.dev)
            .field("ino", &self.id.ino)
            .field("file_type", &self.file_type())
            .finish_non_exhaustive()
    }
}

impl InodeData {
    fn new(
        inode: u64,
        generation: u32,
        id: InodeId,
        file_type: u32,
        handle: InodeHandle,
        refs: u64,
    ) -> InodeData {
        InodeData {
            inode,
            id,
            refcount: AtomicU64::new(refs),
            handle,
            generation,
            file_type: ((file_type & libc::S_IFMT) >> 12) as u8,
            pinned: AtomicBool::new(false),
        }
    }

    /// The generation sent with the node ID.
    pub(crate) fn generation(&self) -> u64 {
        u64::from(self.generation)
    }

    /// `st_mode & S_IFMT`.
    pub(crate) fn file_type(&self) -> u32 {
        u32::from(self.file_type) << 12
    }

    /// Whether this is a directory.
    pub(crate) fn is_dir(&self) -> bool {
        self.file_type() == libc::S_IFDIR
    }

    /// Whether this is a regular file.
    pub(crate) fn is_reg(&self) -> bool {
        self.file_type() == libc::S_IFREG
    }

    /// Records that the driver keeps a descriptor of this inode's deleted file; returns
    /// false when that was already so.
    pub(crate) fn mark_pinned(&self) -> bool {
        !self.pinned.swap(true, Ordering::AcqRel)
    }

    /// Whether [`mark_pinned`](InodeData::mark_pinned) was called.
    pub(crate) fn is_pinned(&self) -> bool {
        self.pinned.load(Ordering::Acquire)
    }

    /// The current lookup count.
    #[cfg(test)]
    pub(crate) fn refcount(&self) -> u64 {
        self.refcount.load(Ordering::Acquire)
    }
}

/// An inode in a by-node-ID shard: hashed and compared by node ID, so the set holds
/// just the `Arc` (8 bytes a bucket instead of a key and a value).
struct ByNode(Arc<InodeData>);

impl Hash for ByNode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.inode.hash(state)
    }
}

impl PartialEq for ByNode {
    fn eq(&self, other: &Self) -> bool {
        self.0.inode == other.0.inode
    }
}

impl Eq for ByNode {}

impl Borrow<u64> for ByNode {
    fn borrow(&self) -> &u64 {
        &self.0.inode
    }
}

/// An inode in a by-host-identity shard, hashed and compared by [`InodeId`].
struct ByHost(Arc<InodeData>);

impl Hash for ByHost {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.id.hash(state)
    }
}

impl PartialEq for ByHost {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for ByHost {}

impl Borrow<InodeId> for ByHost {
    fn borrow(&self) -> &InodeId {
        &self.0.id
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

/// The two indices, each split into [`SHARDS`] shards with a lock of their own: inodes
/// by node ID (sharded by node ID) and inodes by host identity (sharded by a hash of the
/// identity). Both are sets of the inode's `Arc`.
struct Maps {
    by_inode: Box<[Shard<ByInode>]>,
    by_id: Box<[Shard<ById>]>,
}

/// Inodes by node ID.
type ByInode = HashSet<ByNode>;
/// Inodes by host identity.
type ById = HashSet<ByHost>;

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
        let h = (id.ino ^ u64::from(id.dev).rotate_left(29) ^ u64::from(id.mnt).rotate_left(47))
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
/// - A lookup count is raised only under a lock of one of the inode's shards (a lookup
///   by identity holds its identity shard), and an inode is removed only under the write
///   locks of both its shards, after checking there that its count is still 0. So a
///   lookup that raises the count of an inode whose count FORGET just took to 0 keeps it
///   in the store (FORGET sees the count and leaves it), and one that comes after the
///   removal does not find it.
pub(crate) struct InodeStore {
    maps: Maps,
    next_virtual: AtomicU64,
    next_generation: AtomicU32,
}

impl InodeStore {
    /// An empty store whose own inode numbers start at `first_virtual`.
    pub fn new(first_virtual: u64) -> InodeStore {
        InodeStore {
            maps: Maps::default(),
            next_virtual: AtomicU64::new(first_virtual),
            next_generation: AtomicU32::new(1),
        }
    }

    /// The inode with node ID `inode` (EBADF when unknown).
    pub fn get(&self, inode: u64) -> io::Result<Arc<InodeData>> {
        self.maps
            .inode_shard(inode)
            .read()
            .get(&inode)
            .map(|d| d.0.clone())
            .ok_or_else(|| err(libc::EBADF))
    }

    /// The inode with host identity `id`; `raise` adds one to its lookup count.
    fn find(&self, id: &InodeId, raise: bool) -> Option<Arc<InodeData>> {
        // The identity shard holds the inode itself, and removal needs this shard's write
        // lock: the inode found here is still in the store while the lock is held.
        let shard = self.maps.id_shard(id).read();
        let data = &shard.get(id)?.0;
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
        let data = Arc::new(InodeData::new(ROOT_ID, 0, id, file_type, handle, 2));
        let mut ids = self.maps.id_shard(&id).write();
        let mut inodes = self.maps.inode_shard(ROOT_ID).write();
        ids.replace(ByHost(data.clone()));
        inodes.replace(ByNode(data));
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
        if let Some(existing) = ids.get(&id) {
            existing.0.refcount.fetch_add(1, Ordering::AcqRel);
            return (existing.0.clone(), false);
        }
        let new = |inode, generation| {
            Arc::new(InodeData::new(inode, generation, id, file_type, handle, 1))
        };
        if let Some(ino) = host_ino.filter(|&i| i != ROOT_ID) {
            let mut shard = self.maps.inode_shard(ino).write();
            if !shard.contains(&ino) {
                // 0 is left to virtual node IDs, also when the counter wraps.
                let mut g = self.next_generation.fetch_add(1, Ordering::Relaxed);
                if g == 0 {
                    g = self.next_generation.fetch_add(1, Ordering::Relaxed);
                }
                let data = new(ino, g);
                shard.insert(ByNode(data.clone()));
                ids.insert(ByHost(data.clone()));
                return (data, true);
            }
        }
        // Driver-made numbers are never handed out twice: no one else can hold this one.
        let inode = self.next_virtual.fetch_add(1, Ordering::Relaxed);
        let data = new(inode, 0);
        self.maps
            .inode_shard(inode)
            .write()
            .insert(ByNode(data.clone()));
        ids.insert(ByHost(data.clone()));
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
            Some(d) if Arc::ptr_eq(&d.0, &data) => {}
            _ => return None,
        }
        inodes.remove(&inode);
        if ids.get(&data.id).is_some_and(|d| Arc::ptr_eq(&d.0, &data)) {
            ids.remove(&data.id);
        }
        Some(data)
    }

    /// Stops finding node ID `inode` by host identity `id` (the host reused the identity
    /// for another file); the node ID itself stays until the kernel forgets it.
    pub fn retire(&self, id: &InodeId, inode: u64) {
        let mut ids = self.maps.id_shard(id).write();
        if ids.get(id).is_some_and(|d| d.0.inode == inode) {
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
        generation: u32,
        id: InodeId,
        file_type: u32,
        handle: InodeHandle,
    ) -> InodeData {
        InodeData::new(inode, generation, id, file_type, handle, 0)
    }
}

#[cfg(feature = "persist")]
impl InodeStore {
    /// Every inode but the root, with the counters that number new ones. Meant for an
    /// idle store (no request in flight); shards are read one at a time.
    pub fn snapshot(&self) -> (Vec<InodeRecord>, u64, u64) {
        let mut all: Vec<Arc<InodeData>> = Vec::new();
        for s in self.maps.by_inode.iter() {
            all.extend(
                s.read()
                    .iter()
                    .filter(|d| d.0.inode != ROOT_ID)
                    .map(|d| d.0.clone()),
            );
        }
        let mut out: Vec<InodeRecord> = all
            .into_iter()
            .map(|d| InodeRecord {
                refcount: d.refcount.load(Ordering::Acquire),
                indexed: self
                    .maps
                    .id_shard(&d.id)
                    .read()
                    .get(&d.id)
                    .is_some_and(|x| Arc::ptr_eq(&x.0, &d)),
                data: d,
            })
            .collect();
        out.sort_by_key(|r| r.data.inode);
        (
            out,
            self.next_virtual.load(Ordering::Relaxed),
            u64::from(self.next_generation.load(Ordering::Relaxed)),
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
            && inodes[(ROOT_ID as usize) & (SHARDS - 1)].contains(&ROOT_ID);
        if !only_root {
            return Err(err(libc::EBUSY));
        }
        let mut node_ids: HashSet<u64> = HashSet::with_capacity(records.len());
        let mut host_ids: HashSet<InodeId> = HashSet::with_capacity(records.len());
        let mut all = Vec::with_capacity(records.len());
        let id_taken =
            |ids: &[RwLockWriteGuard<'_, ById>], id: &InodeId| ids.iter().any(|m| m.contains(id));
        for r in records {
            let d = r.data;
            if d.inode == ROOT_ID || !node_ids.insert(d.inode) {
                return Err(err(libc::EINVAL));
            }
            let indexed = r.indexed && !matches!(d.handle, InodeHandle::Stale);
            if indexed && (id_taken(&ids, &d.id) || !host_ids.insert(d.id)) {
                return Err(err(libc::EINVAL));
            }
            d.refcount.store(r.refcount, Ordering::Release);
            all.push((d, indexed));
        }
        for (d, indexed) in all {
            if indexed {
                let shard = self.maps.id_shard_index(&d.id);
                ids[shard].insert(ByHost(d.clone()));
            }
            inodes[(d.inode as usize) & (SHARDS - 1)].insert(ByNode(d));
        }
        self.next_virtual.fetch_max(next_virtual, Ordering::Relaxed);
        // Generations are 32 bits; a saved counter past that wraps as the live one does.
        let next_generation = u32::try_from(next_generation).unwrap_or(u32::MAX);
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
        InodeId::new(ino, 7, 0)
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

    #[test]
    fn ids_narrow_without_losing_linux_values() {
        let a = InodeId::new(5, 0x0810_0003, 1234);
        assert_eq!((a.dev, a.mnt), (0x0810_0003, 1234));
        // Values Linux never reports still differ from their low halves.
        assert_ne!(InodeId::new(5, 1 << 32 | 7, 0), InodeId::new(5, 7, 0));
        assert_eq!(std::mem::size_of::<InodeId>(), 16);
    }

    #[test]
    fn retired_identity_finds_the_new_inode_only() {
        let s = InodeStore::new(2);
        let (old, _) = s.insert_or_ref(id(9), libc::S_IFREG, fd(), None);
        s.retire(&id(9), old.inode);
        assert!(s.peek(&id(9)).is_none());
        let (new, fresh) = s.insert_or_ref(id(9), libc::S_IFREG, fd(), None);
        assert!(fresh);
        assert_ne!(new.inode, old.inode);
        // Forgetting the old node ID leaves the new one findable by identity.
        assert!(s.forget(old.inode, 1).is_some());
        assert_eq!(s.peek(&id(9)).unwrap().inode, new.inode);
        assert_eq!(new.file_type(), libc::S_IFREG);
    }
}
