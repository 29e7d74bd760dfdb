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

/// An inode in the by-node-ID set: hashed and compared by node ID, so the set holds
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

/// An inode in the by-host-identity set, hashed and compared by [`InodeId`].
struct ById(Arc<InodeData>);

impl Hash for ById {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.id.hash(state)
    }
}

impl PartialEq for ById {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for ById {}

impl Borrow<InodeId> for ById {
    fn borrow(&self) -> &InodeId {
        &self.0.id
    }
}

#[derive(Default)]
struct Maps {
    by_inode: HashSet<ByNode>,
    by_id: HashSet<ById>,
}

/// The inode table (see the module docs for the locking rules).
pub(crate) struct InodeStore {
    maps: RwLock<Maps>,
    next_virtual: AtomicU64,
    next_generation: AtomicU32,
}

impl InodeStore {
    /// An empty store whose own inode numbers start at `first_virtual`.
    pub fn new(first_virtual: u64) -> InodeStore {
        InodeStore {
            maps: RwLock::new(Maps::default()),
            next_virtual: AtomicU64::new(first_virtual),
            next_generation: AtomicU32::new(1),
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
            .map(|d| d.0.clone())
            .ok_or_else(|| err(libc::EBADF))
    }

    /// The inode with host identity `id`, with its lookup count raised by one.
    pub fn lookup_ref(&self, id: &InodeId) -> Option<Arc<InodeData>> {
        let maps = self.read();
        let data = &maps.by_id.get(id)?.0;
        data.refcount.fetch_add(1, Ordering::AcqRel);
        Some(data.clone())
    }

    /// The inode with host identity `id`, without changing its lookup count.
    pub fn peek(&self, id: &InodeId) -> Option<Arc<InodeData>> {
        self.read().by_id.get(id).map(|d| d.0.clone())
    }

    /// Adds the root inode (node ID `ROOT_ID`), replacing any previous one.
    pub fn insert_root(&self, id: InodeId, file_type: u32, handle: InodeHandle) {
        let data = Arc::new(InodeData::new(ROOT_ID, 0, id, file_type, handle, 2));
        let mut maps = self.write();
        maps.by_id.replace(ById(data.clone()));
        maps.by_inode.replace(ByNode(data));
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
        if let Some(existing) = maps.by_id.get(&id) {
            existing.0.refcount.fetch_add(1, Ordering::AcqRel);
            return (existing.0.clone(), false);
        }
        let (inode, generation) = match host_ino {
            Some(ino) if ino != ROOT_ID && !maps.by_inode.contains(&ino) => {
                // 0 is left to virtual node IDs, also when the counter wraps.
                let mut g = self.next_generation.fetch_add(1, Ordering::Relaxed);
                if g == 0 {
                    g = self.next_generation.fetch_add(1, Ordering::Relaxed);
                }
                (ino, g)
            }
            _ => (self.next_virtual.fetch_add(1, Ordering::Relaxed), 0),
        };
        let data = Arc::new(InodeData::new(inode, generation, id, file_type, handle, 1));
        maps.by_id.insert(ById(data.clone()));
        maps.by_inode.insert(ByNode(data.clone()));
        (data, true)
    }

    /// Subtracts `count` from the lookup count of `inode` (saturating at 0) and removes the
    /// inode when it reaches 0, returning it. Unknown inodes and the root are ignored.
    pub fn forget(&self, inode: u64, count: u64) -> Option<Arc<InodeData>> {
        if inode == ROOT_ID {
            return None;
        }
        let data = self.read().by_inode.get(&inode).map(|d| d.0.clone())?;
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
            Some(d) if Arc::ptr_eq(&d.0, &data) => {}
            _ => return None,
        }
        maps.by_inode.remove(&inode);
        if maps
            .by_id
            .get(&data.id)
            .is_some_and(|d| Arc::ptr_eq(&d.0, &data))
        {
            maps.by_id.remove(&data.id);
        }
        Some(data)
    }

    /// Stops finding node ID `inode` by host identity `id` (the host reused the identity
    /// for another file); the node ID itself stays until the kernel forgets it.
    pub fn retire(&self, id: &InodeId, inode: u64) {
        let mut maps = self.write();
        if maps.by_id.get(id).is_some_and(|d| d.0.inode == inode) {
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
    pub fn len(&self) -> usize {
        self.read().by_inode.len()
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
