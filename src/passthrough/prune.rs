//! The oldest inodes, offered to the kernel for pruning when the driver holds more than
//! `Config::max_inodes` (see [`PassthroughFs::prune_candidates`]).

use std::collections::VecDeque;
use std::sync::Mutex;

use super::inode_store::InodeStore;
use super::PassthroughFs;
use vm_memory::bitmap::BitmapSlice;

/// Node IDs in the order their inodes were added (oldest first). Kept only with a bound,
/// so it costs 8 bytes per inode only when the number of inodes is bounded anyway.
#[derive(Default)]
pub(crate) struct PruneQueue {
    order: Mutex<VecDeque<u64>>,
}

impl PruneQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<u64>> {
        self.order.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records a new inode.
    pub fn push(&self, inode: u64) {
        self.lock().push_back(inode);
    }

    /// Up to `max` of the oldest inodes beyond `bound`, each still known to `store`;
    /// they move to the back of the queue (if the kernel keeps one, because it is in
    /// use, it is offered again only after the others). Node IDs the kernel forgot
    /// meanwhile are dropped.
    pub fn candidates(&self, store: &InodeStore, bound: usize, max: usize) -> Vec<u64> {
        // The root is in the store but never in the queue.
        let held = store.len().saturating_sub(1);
        let want = held.saturating_sub(bound).min(max);
        let mut order = self.lock();
        let mut out = Vec::with_capacity(want);
        let mut seen = 0;
        let len = order.len();
        while out.len() < want && seen < len {
            seen += 1;
            let Some(inode) = order.pop_front() else {
                break;
            };
            if store.get(inode).is_ok() {
                out.push(inode);
                order.push_back(inode);
            }
        }
        // Inodes forgotten without being offered leave stale entries; keep the queue
        // within twice what the store holds.
        if order.len() > 2 * held + 64 {
            order.retain(|&i| store.get(i).is_ok());
        }
        out
    }
}

impl<S: BitmapSlice + Send + Sync> PassthroughFs<S> {
    /// With `Config::max_inodes` set: up to `max` node IDs of the oldest inodes beyond
    /// the bound, to send to the kernel with
    /// [`Server::notify_prune`](crate::api::server::Server::notify_prune) (at most
    /// `Server::MAX_PRUNE_IDS` per message). Empty without a bound or within it. An
    /// inode returned is offered again later if the kernel did not forget it.
    pub fn prune_candidates(&self, max: usize) -> Vec<u64> {
        match self.cfg.max_inodes {
            Some(bound) => self.prune.candidates(&self.inodes, bound, max),
            None => Vec::new(),
        }
    }

    /// Number of inodes the driver holds for the kernel, the root included.
    pub fn inode_count(&self) -> usize {
        self.inodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::passthrough::inode_store::{InodeHandle, InodeId};

    #[test]
    fn oldest_live_inodes_beyond_the_bound() {
        let store = InodeStore::new(2);
        let fd = || InodeHandle::Fd(crate::sys::open(c"/", libc::O_PATH).unwrap());
        store.insert_root(InodeId::new(1, 1, 0), libc::S_IFDIR, fd());
        let q = PruneQueue::default();
        for ino in 10..20 {
            let (d, _) = store.insert_or_ref(InodeId::new(ino, 1, 0), libc::S_IFREG, fd(), None);
            q.push(d.inode);
        }
        // Node IDs 2..=11; one forgotten without being offered.
        assert!(store.forget(2, 1).is_some());
        assert_eq!(q.candidates(&store, 9, 100), Vec::<u64>::new());
        assert_eq!(q.candidates(&store, 5, 100), vec![3, 4, 5, 6]);
        assert_eq!(q.candidates(&store, 5, 2), vec![7, 8]);
        // Offered ones come round again after the others.
        assert_eq!(
            q.candidates(&store, 0, 100),
            vec![9, 10, 11, 3, 4, 5, 6, 7, 8]
        );
    }
}
