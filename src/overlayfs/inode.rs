//! Overlay inodes: [`RealInode`] (one object in one layer), [`OverlayInode`] (the merged
//! object the client sees) and the [`InodeStore`] that hands out node IDs.
//!
//! An `OverlayInode` owns one lookup reference on each layer inode it remembers and gives
//! it back (layer `forget`) when it is dropped. A node is found again by the identity of
//! its topmost real object (`(layer index, layer inode)`): its upper inode once it has one,
//! else its topmost lower one. Every lower name of a hard-linked file therefore maps to the
//! same node, and so does an upper name linked to the same index inode.
//!
//! Locking: the store's `RwLock` covers both maps; lookup counts are atomics changed under
//! its read lock and removal re-checks the count under its write lock, so a lookup that
//! revives a node always wins against a concurrent FORGET. A node's `state` lock is held
//! only to copy fields in or out, never across a layer call. `op_lock` serialises
//! copy-up of one node and is held across layer calls; a thread holds at most one
//! `op_lock` at a time (parents are copied up before the child's lock is taken).

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use log::debug;

use super::DynLayer;
use crate::api::filesystem::Context;
use crate::errno::err;

/// One object in one layer, with one lookup reference the overlay holds on it.
pub(crate) struct RealInode {
    pub layer: Arc<DynLayer>,
    /// Index into the overlay's layer list (0 is the upper layer when there is one).
    pub idx: usize,
    /// The layer's inode.
    pub ino: u64,
    /// Whether the reference is ours to forget (layer roots and pinned inodes are not).
    owned: bool,
}

impl RealInode {
    /// Takes over the lookup reference a layer operation returned.
    pub fn owned(layer: &Arc<DynLayer>, idx: usize, ino: u64) -> RealInode {
        RealInode {
            layer: layer.clone(),
            idx,
            ino,
            owned: true,
        }
    }

    /// A layer inode the overlay does not hold a reference on (the layer's root).
    pub fn borrowed(layer: &Arc<DynLayer>, idx: usize, ino: u64) -> RealInode {
        RealInode {
            layer: layer.clone(),
            idx,
            ino,
            owned: false,
        }
    }

    /// The identity the store finds nodes by.
    pub fn key(&self) -> (usize, u64) {
        (self.idx, self.ino)
    }

    /// The layer's attributes of this object.
    pub fn stat(&self) -> io::Result<libc::stat64> {
        Ok(self.layer.getattr(&Context::new(), self.ino, None)?.0)
    }
}

impl Drop for RealInode {
    fn drop(&mut self) {
        if self.owned {
            self.layer.forget(&Context::new(), self.ino, 1);
        }
    }
}

/// The mutable part of a node; see [`OverlayInode::read`].
pub(crate) struct NodeState {
    /// The upper object: for a non-directory possibly the index inode, not yet linked
    /// under this node's name.
    pub upper: Option<Arc<RealInode>>,
    /// Directory: the lower directories merged into it, top first. Non-directory: the
    /// lower object it was copied up from (its origin), if any.
    pub lowers: Vec<Arc<RealInode>>,
    /// The directory this node was last seen in (`None` for the root).
    pub parent: Option<Arc<OverlayInode>>,
    /// The name it was last seen under.
    pub name: CString,
    /// Directory: the upper directory hides everything below it.
    pub opaque: bool,
    /// Directory: the redirect attribute of the upper directory (where its lower part is).
    pub redirect: Option<Vec<u8>>,
    /// Non-directory: a lower file with several links, copied up through the index.
    pub indexed: bool,
    /// Non-directory: a lower file with several links (indexed or not): its names must
    /// be looked up at every path walk (see `OverlayFs::timeouts`).
    pub shared_lower: bool,
    /// Indexed and copied up: visible link count minus the upper inode's link count.
    pub nlink_delta: Option<i64>,
    /// Non-directory: host identity `(dev, ino)` of the lower file it is or came from.
    pub origin: Option<(u64, u64)>,
    /// Removed from the namespace (rmdir of a directory).
    pub removed: bool,
}

/// A merged object with its node ID.
pub(crate) struct OverlayInode {
    /// The FUSE node ID.
    pub ino: u64,
    /// `S_IFMT` bits; an object never changes type.
    pub file_type: u32,
    /// The inode number shown in `st_ino`: the origin's when there is one, so that it
    /// does not change at copy-up (see [`OverlayInode::st_ino`]).
    st_ino: AtomicU64,
    lookups: AtomicU64,
    state: RwLock<NodeState>,
    op_lock: Mutex<()>,
}

impl OverlayInode {
    pub fn new(ino: u64, file_type: u32, st_ino: u64, state: NodeState) -> OverlayInode {
        OverlayInode {
            ino,
            file_type,
            st_ino: AtomicU64::new(st_ino),
            lookups: AtomicU64::new(0),
            state: RwLock::new(state),
            op_lock: Mutex::new(()),
        }
    }

    pub fn is_dir(&self) -> bool {
        self.file_type == libc::S_IFDIR
    }

    /// The inode number the client sees. It only changes when copy-up splits a lower
    /// file with several links without the index (the copy is then another file).
    pub fn st_ino(&self) -> u64 {
        self.st_ino.load(Ordering::Relaxed)
    }

    pub fn set_st_ino(&self, ino: u64) {
        self.st_ino.store(ino, Ordering::Relaxed);
    }

    /// The state, for copying fields out. Never hold the guard across a layer call.
    pub fn read(&self) -> RwLockReadGuard<'_, NodeState> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, NodeState> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Serialises copy-up and other changes of this node's layer objects.
    pub fn lock_op(&self) -> MutexGuard<'_, ()> {
        self.op_lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn upper(&self) -> Option<Arc<RealInode>> {
        self.read().upper.clone()
    }

    pub fn lowers(&self) -> Vec<Arc<RealInode>> {
        self.read().lowers.clone()
    }

    /// The object reads go to: the upper one when there is one, else the top lower one.
    pub fn top(&self) -> Option<Arc<RealInode>> {
        let s = self.read();
        s.upper.clone().or_else(|| s.lowers.first().cloned())
    }

    /// Where the node was last seen: `(parent, name)`.
    pub fn alias(&self) -> Option<(Arc<OverlayInode>, CString)> {
        let s = self.read();
        s.parent.clone().map(|p| (p, s.name.clone()))
    }

    pub fn set_alias(&self, parent: &Arc<OverlayInode>, name: &CStr) {
        let mut s = self.write();
        s.parent = Some(parent.clone());
        s.name = name.to_owned();
    }

    /// A directory with both an upper and a lower part, or several lower parts.
    pub fn is_merged_dir(&self) -> bool {
        let s = self.read();
        self.is_dir()
            && (if s.upper.is_some() {
                !s.lowers.is_empty()
            } else {
                s.lowers.len() > 1
            })
    }

    /// The store key: the upper object's when there is one, else the top lower one's.
    pub fn key(&self) -> Option<(usize, u64)> {
        let s = self.read();
        s.upper
            .as_ref()
            .or_else(|| s.lowers.first())
            .map(|r| r.key())
    }
}

struct StoreInner {
    nodes: HashMap<u64, Arc<OverlayInode>>,
    keys: HashMap<(usize, u64), u64>,
}

/// The nodes the client (or an operation in progress) knows, by node ID and by key.
pub(crate) struct InodeStore {
    inner: RwLock<StoreInner>,
    next: AtomicU64,
}

impl InodeStore {
    pub fn new() -> InodeStore {
        InodeStore {
            inner: RwLock::new(StoreInner {
                nodes: HashMap::new(),
                keys: HashMap::new(),
            }),
            next: AtomicU64::new(crate::abi::fuse_abi::ROOT_ID + 1),
        }
    }

    fn rd(&self) -> RwLockReadGuard<'_, StoreInner> {
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn wr(&self) -> RwLockWriteGuard<'_, StoreInner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The node `ino` (EBADF when the client names one it does not know).
    pub fn get(&self, ino: u64) -> io::Result<Arc<OverlayInode>> {
        self.rd().nodes.get(&ino).cloned().ok_or_else(|| {
            debug!("unknown overlay inode {ino}");
            err(libc::EBADF)
        })
    }

    /// The node `ino`, its lookup count raised by one.
    pub fn find_ref_ino(&self, ino: u64) -> io::Result<Arc<OverlayInode>> {
        let inner = self.rd();
        let node = inner.nodes.get(&ino).ok_or_else(|| err(libc::ENOENT))?;
        node.lookups.fetch_add(1, Ordering::AcqRel);
        Ok(node.clone())
    }

    /// The node with `key`, its lookup count raised by one.
    pub fn find_ref(&self, key: (usize, u64)) -> Option<Arc<OverlayInode>> {
        let inner = self.rd();
        let node = inner.keys.get(&key).and_then(|i| inner.nodes.get(i))?;
        node.lookups.fetch_add(1, Ordering::AcqRel);
        Some(node.clone())
    }

    /// Adds the node `make` builds under `key`, unless one appeared meanwhile; either
    /// way the returned node's lookup count is raised by one.
    pub fn insert_or_ref(
        &self,
        key: (usize, u64),
        make: impl FnOnce(u64) -> OverlayInode,
    ) -> Arc<OverlayInode> {
        let mut inner = self.wr();
        if let Some(node) = inner.keys.get(&key).and_then(|i| inner.nodes.get(i)) {
            node.lookups.fetch_add(1, Ordering::AcqRel);
            return node.clone();
        }
        let ino = self.next.fetch_add(1, Ordering::Relaxed);
        let node = Arc::new(make(ino));
        node.lookups.store(1, Ordering::Release);
        inner.nodes.insert(ino, node.clone());
        inner.keys.insert(key, ino);
        node
    }

    /// Puts the root in the store; it is never removed.
    pub fn insert_root(&self, node: OverlayInode) {
        let node = Arc::new(node);
        node.lookups.store(u64::MAX / 2, Ordering::Release);
        let mut inner = self.wr();
        if let Some(k) = node.key() {
            inner.keys.insert(k, node.ino);
        }
        inner.nodes.insert(node.ino, node);
    }

    /// Moves `node` from key `old` to key `new` (after copy-up).
    pub fn rekey(&self, node: &OverlayInode, old: Option<(usize, u64)>, new: (usize, u64)) {
        let mut inner = self.wr();
        if !inner.nodes.contains_key(&node.ino) {
            return;
        }
        if let Some(old) = old {
            if inner.keys.get(&old) == Some(&node.ino) {
                inner.keys.remove(&old);
            }
        }
        inner.keys.insert(new, node.ino);
    }

    /// Drops `count` lookups of `ino`; the node leaves the store at 0.
    pub fn forget(&self, ino: u64, count: u64) {
        let mut inner = self.wr();
        let Some(node) = inner.nodes.get(&ino).cloned() else {
            return;
        };
        let prev = node
            .lookups
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(count))
            })
            .unwrap_or(0);
        if prev > count {
            return;
        }
        inner.nodes.remove(&ino);
        if let Some(k) = node.key() {
            if inner.keys.get(&k) == Some(&ino) {
                inner.keys.remove(&k);
            }
        }
        drop(inner);
        // The node (and the layer references it holds) goes when its last `Arc` does,
        // outside the store lock.
        drop(node);
    }

    pub fn clear(&self) {
        let mut inner = self.wr();
        let nodes: Vec<_> = inner.nodes.drain().map(|(_, n)| n).collect();
        inner.keys.clear();
        drop(inner);
        for n in &nodes {
            let mut s = n.write();
            s.parent = None;
        }
        drop(nodes);
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.rd().nodes.len()
    }
}

/// A node pinned by an operation in progress: one lookup reference, given back on drop
/// unless [`NodeRef::into_kernel`] hands it to the client.
pub(crate) struct NodeRef<'a> {
    store: &'a InodeStore,
    node: Option<Arc<OverlayInode>>,
}

impl<'a> NodeRef<'a> {
    pub fn new(store: &'a InodeStore, node: Arc<OverlayInode>) -> NodeRef<'a> {
        NodeRef {
            store,
            node: Some(node),
        }
    }

    /// Keeps the lookup reference: the client now holds it.
    pub fn into_kernel(mut self) -> Arc<OverlayInode> {
        self.node
            .take()
            .unwrap_or_else(|| unreachable!("taken only here"))
    }

    pub fn arc(&self) -> &Arc<OverlayInode> {
        self.node
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only on consume"))
    }
}

impl std::ops::Deref for NodeRef<'_> {
    type Target = Arc<OverlayInode>;
    fn deref(&self) -> &Arc<OverlayInode> {
        self.arc()
    }
}

impl Drop for NodeRef<'_> {
    fn drop(&mut self) {
        if let Some(n) = self.node.take() {
            self.store.forget(n.ino, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> NodeState {
        NodeState {
            upper: None,
            lowers: Vec::new(),
            parent: None,
            name: CString::default(),
            opaque: false,
            redirect: None,
            indexed: false,
            shared_lower: false,
            nlink_delta: None,
            origin: None,
            removed: false,
        }
    }

    #[test]
    fn insert_dedups_by_key_and_forget_removes_at_zero() {
        let store = InodeStore::new();
        let a = store.insert_or_ref((1, 7), |ino| {
            OverlayInode::new(ino, libc::S_IFREG, 7, state())
        });
        let b = store.insert_or_ref((1, 7), |_| unreachable!("found by key"));
        assert_eq!(a.ino, b.ino);
        assert!(store.find_ref((1, 7)).is_some());
        store.forget(a.ino, 2);
        assert!(store.get(a.ino).is_ok());
        store.forget(a.ino, 1);
        assert!(store.get(a.ino).is_err());
        assert!(store.find_ref((1, 7)).is_none());
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn node_refs_give_their_count_back() {
        let store = InodeStore::new();
        let n = store.insert_or_ref((0, 3), |ino| {
            OverlayInode::new(ino, libc::S_IFDIR, 3, state())
        });
        let r = NodeRef::new(&store, n.clone());
        drop(r);
        assert!(store.get(n.ino).is_err());
        let n = store.insert_or_ref((0, 3), |ino| {
            OverlayInode::new(ino, libc::S_IFDIR, 3, state())
        });
        let kept = NodeRef::new(&store, n.clone()).into_kernel();
        assert!(store.get(kept.ino).is_ok());
    }
}
