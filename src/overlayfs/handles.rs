//! Open files and directories of the overlay.
//!
//! A file handle wraps one open handle of one layer ([`RealHandle`]). A handle opened on
//! a lower file is swapped for one on the upper copy at the first read after a copy-up,
//! so readers see what writers wrote (as the kernel overlay does since 4.19). A directory
//! handle holds the merged listing (see `dir.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use super::dir::Snapshot;
use super::inode::{OverlayInode, RealInode};
use crate::api::filesystem::Context;
use crate::errno::err;

/// An open handle of a layer; released when dropped unless released explicitly.
pub(crate) struct RealHandle {
    pub real: Arc<RealInode>,
    pub fh: u64,
    pub flags: u32,
    released: AtomicBool,
}

impl RealHandle {
    pub fn new(real: Arc<RealInode>, fh: u64, flags: u32) -> RealHandle {
        RealHandle {
            real,
            fh,
            flags,
            released: AtomicBool::new(false),
        }
    }

    /// RELEASE with the client's arguments (flock release and lock owner matter).
    pub fn release(&self, flush: bool, flock_release: bool, lock_owner: Option<u64>) {
        if !self.released.swap(true, Ordering::AcqRel) {
            let _ = self.real.layer.release(
                &Context::new(),
                self.real.ino,
                self.flags,
                self.fh,
                flush,
                flock_release,
                lock_owner,
            );
        }
    }
}

impl Drop for RealHandle {
    fn drop(&mut self) {
        self.release(false, false, None);
    }
}

pub(crate) enum HandleKind {
    File(RwLock<Arc<RealHandle>>),
    Dir(Mutex<Option<Arc<Snapshot>>>),
}

pub(crate) struct OvlHandle {
    pub node: Arc<OverlayInode>,
    /// The client's open flags.
    pub flags: u32,
    pub kind: HandleKind,
}

impl OvlHandle {
    /// The current layer handle of a file handle.
    pub fn real(&self) -> Option<Arc<RealHandle>> {
        match &self.kind {
            HandleKind::File(r) => Some(r.read().unwrap_or_else(|p| p.into_inner()).clone()),
            HandleKind::Dir(_) => None,
        }
    }

    /// Replaces the layer handle (after a copy-up).
    pub fn set_real(&self, h: Arc<RealHandle>) {
        if let HandleKind::File(r) = &self.kind {
            *r.write().unwrap_or_else(|p| p.into_inner()) = h;
        }
    }
}

/// The handles the client holds.
pub(crate) struct HandleTable {
    map: RwLock<HashMap<u64, Arc<OvlHandle>>>,
    next: AtomicU64,
}

impl HandleTable {
    pub fn new() -> HandleTable {
        HandleTable {
            map: RwLock::new(HashMap::new()),
            next: AtomicU64::new(1),
        }
    }

    pub fn insert(&self, h: OvlHandle) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Arc::new(h));
        id
    }

    /// The handle `id` of node `ino` (EBADF when unknown or of another node).
    pub fn get(&self, id: u64, ino: u64) -> std::io::Result<Arc<OvlHandle>> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
            .filter(|h| h.node.ino == ino)
            .cloned()
            .ok_or_else(|| err(libc::EBADF))
    }

    pub fn remove(&self, id: u64, ino: u64) -> Option<Arc<OvlHandle>> {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        if map.get(&id).is_some_and(|h| h.node.ino == ino) {
            map.remove(&id)
        } else {
            None
        }
    }

    pub fn clear(&self) {
        let all: Vec<_> = self
            .map
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        drop(all);
    }
}
