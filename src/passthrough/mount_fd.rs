//! One descriptor per mount, the `mount_fd` argument of `open_by_handle_at`.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Arc, RwLock};

/// A descriptor on each mount seen so far, keyed by mount ID.
///
/// `open_by_handle_at` refuses `O_PATH` descriptors as `mount_fd`, so each entry is a
/// directory of that mount opened read-only: the shared root for the root's mount, and the
/// mount's root directory (the first inode the client reaches on it) for mounts below.
/// File handles only ever come from our own `name_to_handle_at` calls, never from a
/// client, so this descriptor cannot be used to reach files the client could not name.
#[derive(Default)]
pub(crate) struct MountFds {
    map: RwLock<HashMap<u64, Arc<OwnedFd>>>,
}

impl MountFds {
    /// The descriptor for `mnt_id`.
    pub fn get(&self, mnt_id: u64) -> Option<Arc<OwnedFd>> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(&mnt_id).cloned()
    }

    /// Remembers `fd` for `mnt_id` unless a descriptor is known already (a racing thread
    /// may have won; then `fd` is just closed).
    pub fn insert(&self, mnt_id: u64, fd: OwnedFd) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        map.entry(mnt_id).or_insert_with(|| Arc::new(fd));
    }

    /// The descriptors, for [`keep_fds`](super::PassthroughFs::keep_fds).
    pub fn raw_fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.values().map(|fd| fd.as_raw_fd()).collect()
    }

    /// Every mount ID with its descriptor, for saving where the mounts are.
    #[cfg(feature = "persist")]
    pub fn entries(&self) -> Vec<(u64, Arc<OwnedFd>)> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.iter().map(|(&m, fd)| (m, fd.clone())).collect()
    }

    /// Forgets every mount.
    pub fn clear(&self) {
        self.map.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
