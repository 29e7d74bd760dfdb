//! Inodes remembered as file handles (`name_to_handle_at`), and a bounded cache of the
//! `O_PATH` descriptors opened from them.
//!
//! Keeping one `O_PATH` descriptor per inode the client knows makes the number of open
//! descriptors grow with the client's dentry cache: a `find` over a large tree can exhaust
//! the process limit. A file handle is a few bytes that the kernel can turn back into a
//! descriptor (`open_by_handle_at`, which needs `CAP_DAC_READ_SEARCH`), so inodes kept
//! as handles cost no descriptor; [`FdCache`] keeps a bounded number of recently used
//! descriptors open so that consecutive requests on an inode do not reopen it each time.

use std::collections::HashMap;
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::sys;

/// A file handle as returned by `name_to_handle_at`, with the mount it belongs to.
///
/// One is kept per inode the client knows, so the common case is stored inline: ext4
/// and XFS hand out 8-byte handles (`FILEID_INO32_GEN`). Others (btrfs, tmpfs, overlay)
/// take one exactly-sized allocation instead of a `MAX_HANDLE_SZ` buffer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum FileHandle {
    /// A handle of at most [`SMALL_HANDLE`] bytes whose type and mount ID are small.
    Small {
        mnt_id: u32,
        handle_type: u8,
        len: u8,
        bytes: [u8; SMALL_HANDLE],
    },
    /// Any other handle.
    Large(Box<LargeHandle>),
}

/// Longest handle stored inline in a [`FileHandle`].
pub(crate) const SMALL_HANDLE: usize = 8;

/// A handle that does not fit [`FileHandle::Small`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LargeHandle {
    mnt_id: u64,
    handle_type: libc::c_int,
    bytes: Box<[u8]>,
}

const _: () = assert!(std::mem::size_of::<FileHandle>() <= 16);

impl FileHandle {
    fn new(mnt_id: u64, handle_type: libc::c_int, bytes: &[u8]) -> FileHandle {
        match (u32::try_from(mnt_id), u8::try_from(handle_type)) {
            (Ok(mnt_id), Ok(handle_type)) if bytes.len() <= SMALL_HANDLE => {
                let mut buf = [0u8; SMALL_HANDLE];
                buf[..bytes.len()].copy_from_slice(bytes);
                FileHandle::Small {
                    mnt_id,
                    handle_type,
                    len: bytes.len() as u8,
                    bytes: buf,
                }
            }
            _ => FileHandle::Large(Box::new(LargeHandle {
                mnt_id,
                handle_type,
                bytes: bytes.into(),
            })),
        }
    }

    /// The mount ID reported with the handle; selects the descriptor passed as `mount_fd`.
    pub fn mnt_id(&self) -> u64 {
        match self {
            FileHandle::Small { mnt_id, .. } => u64::from(*mnt_id),
            FileHandle::Large(h) => h.mnt_id,
        }
    }

    /// The handle of the file `fd` refers to (an `O_PATH` descriptor is fine). `Ok(None)`
    /// when its filesystem cannot produce handles.
    pub fn from_fd(fd: BorrowedFd<'_>) -> io::Result<Option<FileHandle>> {
        match sys::name_to_handle_at(fd, c"", libc::AT_EMPTY_PATH) {
            Ok((handle_type, bytes, mnt_id)) => {
                Ok(Some(FileHandle::new(mnt_id as u64, handle_type, &bytes)))
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP | libc::EOVERFLOW | libc::ENOSYS | libc::EPERM)
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Opens the file with `flags` (`O_CLOEXEC` is added); `mount_fd` is any descriptor on
    /// the same filesystem.
    pub fn open(&self, mount_fd: BorrowedFd<'_>, flags: libc::c_int) -> io::Result<OwnedFd> {
        match self {
            FileHandle::Small {
                handle_type,
                len,
                bytes,
                ..
            } => sys::open_by_handle_at(
                mount_fd,
                libc::c_int::from(*handle_type),
                &bytes[..usize::from(*len)],
                flags,
            ),
            FileHandle::Large(h) => {
                sys::open_by_handle_at(mount_fd, h.handle_type, &h.bytes, flags)
            }
        }
    }
}

#[cfg(feature = "persist")]
impl FileHandle {
    /// The handle's type and bytes, for saving it.
    pub fn parts(&self) -> (libc::c_int, &[u8]) {
        match self {
            FileHandle::Small {
                handle_type,
                len,
                bytes,
                ..
            } => (libc::c_int::from(*handle_type), &bytes[..usize::from(*len)]),
            FileHandle::Large(h) => (h.handle_type, &h.bytes),
        }
    }

    /// A saved handle; `None` when it is empty or longer than `MAX_HANDLE_SZ`.
    pub fn from_parts(mnt_id: u64, handle_type: libc::c_int, bytes: &[u8]) -> Option<FileHandle> {
        if bytes.is_empty() || bytes.len() > libc::MAX_HANDLE_SZ as usize {
            return None;
        }
        Some(FileHandle::new(mnt_id, handle_type, bytes))
    }
}

/// Key of a cached descriptor: (inode number, generation), so that an inode number reused
/// for another file never finds the old file's descriptor.
pub(crate) type FdKey = (u64, u64);

const SHARDS: usize = 16;

/// One cached descriptor.
struct Slot {
    key: FdKey,
    fd: Arc<OwnedFd>,
    /// Set by every hit, cleared by the clock hand as it passes: an entry used since the
    /// hand last passed is spared once.
    referenced: AtomicBool,
}

#[derive(Default)]
struct Shard {
    /// Key to index in `slots`.
    map: HashMap<FdKey, usize>,
    slots: Vec<Slot>,
    /// The clock hand: the next slot considered for eviction.
    hand: usize,
}

/// A sharded cache of `O_PATH` descriptors with second-chance (clock) eviction.
///
/// At most `capacity` descriptors (rounded up to a multiple of the shard count) stay
/// open; an evicted descriptor closes once the last request using it drops its `Arc`.
/// A hit, the common case, takes its shard's lock for reading only and marks the entry
/// used with an atomic flag, so concurrent hits never wait for one another; an insertion
/// takes the write lock and evicts the first entry the clock hand finds unused since it
/// last passed. Locks are held only for map updates, never across a system call.
pub(crate) struct FdCache {
    shards: Vec<RwLock<Shard>>,
    per_shard: usize,
}

impl FdCache {
    /// A cache of about `capacity` descriptors (0 disables caching).
    pub fn new(capacity: usize) -> FdCache {
        FdCache {
            shards: (0..SHARDS).map(|_| RwLock::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS),
        }
    }

    fn shard(&self, key: FdKey) -> &RwLock<Shard> {
        let idx = (key.0 as usize).wrapping_add(key.1 as usize) % SHARDS;
        &self.shards[idx]
    }

    fn read(&self, key: FdKey) -> RwLockReadGuard<'_, Shard> {
        self.shard(key).read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self, key: FdKey) -> RwLockWriteGuard<'_, Shard> {
        self.shard(key).write().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached descriptor for `key`, marking it recently used.
    pub fn get(&self, key: FdKey) -> Option<Arc<OwnedFd>> {
        let shard = self.read(key);
        let slot = &shard.slots[*shard.map.get(&key)?];
        // Only write the flag when it changes, so that hits on a hot entry leave its
        // cache line shared.
        if !slot.referenced.load(Ordering::Relaxed) {
            slot.referenced.store(true, Ordering::Relaxed);
        }
        Some(slot.fd.clone())
    }

    /// Caches `fd` for `key`, evicting an entry not used recently when the shard is full.
    pub fn insert(&self, key: FdKey, fd: Arc<OwnedFd>) {
        if self.per_shard == 0 {
            return;
        }
        // The evicted descriptor is dropped (and maybe closed) after the lock is released.
        let evicted;
        {
            let mut guard = self.write(key);
            let shard = &mut *guard;
            let fresh = Slot {
                key,
                fd,
                referenced: AtomicBool::new(false),
            };
            if let Some(&i) = shard.map.get(&key) {
                evicted = std::mem::replace(&mut shard.slots[i], fresh);
            } else if shard.slots.len() < self.per_shard {
                shard.map.insert(key, shard.slots.len());
                shard.slots.push(fresh);
                return;
            } else {
                // Each pass clears the flags it meets, so this ends within two turns.
                let n = shard.slots.len();
                let mut i = shard.hand % n;
                while shard.slots[i].referenced.swap(false, Ordering::Relaxed) {
                    i = (i + 1) % n;
                }
                shard.hand = (i + 1) % n;
                shard.map.remove(&shard.slots[i].key);
                shard.map.insert(key, i);
                evicted = std::mem::replace(&mut shard.slots[i], fresh);
            }
        }
        drop(evicted);
    }

    /// Drops the descriptor cached for `key`, if any.
    pub fn remove(&self, key: FdKey) {
        let evicted;
        {
            let mut guard = self.write(key);
            let shard = &mut *guard;
            let Some(i) = shard.map.remove(&key) else {
                return;
            };
            evicted = shard.slots.swap_remove(i);
            if let Some(moved) = shard.slots.get(i) {
                shard.map.insert(moved.key, i);
            }
        }
        drop(evicted);
    }

    /// Drops every cached descriptor.
    pub fn clear(&self) {
        for s in &self.shards {
            let mut g = s.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            g.map.clear();
            g.slots.clear();
            g.hand = 0;
        }
    }

    /// Number of cached descriptors.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).slots.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn some_fd() -> Arc<OwnedFd> {
        Arc::new(sys::open(c"/", libc::O_PATH).unwrap())
    }

    #[test]
    fn fd_cache_spares_recently_used_entries() {
        let cache = FdCache::new(2 * SHARDS); // two per shard
        let key = |i: u64| (i * SHARDS as u64, 0u64); // all in shard 0
        cache.insert(key(0), some_fd());
        cache.insert(key(1), some_fd());
        assert!(cache.get(key(0)).is_some());
        // key(0) was used since insertion, key(1) was not: key(1) goes.
        cache.insert(key(2), some_fd());
        assert!(cache.get(key(1)).is_none());
        assert!(cache.get(key(0)).is_some());
        assert!(cache.get(key(2)).is_some());
        // Replacing a key keeps one entry; removing the first slot keeps the others.
        let fd = some_fd();
        cache.insert(key(2), fd.clone());
        assert_eq!(cache.len(), 2);
        assert!(Arc::ptr_eq(&cache.get(key(2)).unwrap(), &fd));
        cache.remove(key(0));
        assert!(cache.get(key(0)).is_none());
        assert!(Arc::ptr_eq(&cache.get(key(2)).unwrap(), &fd));
        cache.insert(key(3), some_fd());
        cache.insert(key(4), some_fd());
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn fd_cache_is_bounded() {
        let cache = FdCache::new(SHARDS); // one per shard
                                          // Two keys in the same shard: the older one is evicted.
        let a = (0u64, 0u64);
        let b = (SHARDS as u64, 0u64);
        cache.insert(a, some_fd());
        assert!(cache.get(a).is_some());
        cache.insert(b, some_fd());
        assert!(cache.get(a).is_none());
        assert!(cache.get(b).is_some());
        for i in 0..1000u64 {
            cache.insert((i, 1), some_fd());
        }
        assert!(cache.len() <= SHARDS);
        cache.remove(b);
        cache.clear();
        assert_eq!(cache.len(), 0);
        let off = FdCache::new(0);
        off.insert(a, some_fd());
        assert!(off.get(a).is_none());
    }

    #[test]
    fn handle_of_tempdir_opens() {
        let dir = vmm_sys_util::tempdir::TempDir::new().unwrap();
        let p = std::ffi::CString::new(dir.as_path().to_str().unwrap()).unwrap();
        let fd = sys::open(&p, libc::O_PATH).unwrap();
        let Some(h) = FileHandle::from_fd(fd.as_fd()).unwrap() else {
            crate::cannot_run("the temporary directory's filesystem has no file handles");
            return;
        };
        let mount_fd = sys::open(&p, libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
        let fd2 = match h.open(mount_fd.as_fd(), libc::O_PATH) {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                crate::cannot_run("open_by_handle_at needs CAP_DAC_READ_SEARCH");
                return;
            }
            r => r.unwrap(),
        };
        let a = sys::fstat64(fd.as_fd()).unwrap();
        let b = sys::fstat64(fd2.as_fd()).unwrap();
        assert_eq!((a.st_dev, a.st_ino), (b.st_dev, b.st_ino));
    }

    #[test]
    fn small_handles_are_inline_and_others_exact() {
        let small = FileHandle::new(3, 1, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(matches!(small, FileHandle::Small { len: 8, .. }));
        assert_eq!(small.mnt_id(), 3);
        let short = FileHandle::new(3, 1, &[1, 2]);
        assert_ne!(short, FileHandle::new(3, 1, &[1, 2, 0]));
        let long = FileHandle::new(3, 1, &[9; 20]);
        let FileHandle::Large(h) = &long else {
            panic!("a 20-byte handle is not inline")
        };
        assert_eq!(h.bytes.len(), 20);
        // Values that do not fit the inline form are kept whole.
        let big_mnt = FileHandle::new(1 << 40, 1, &[1]);
        assert_eq!(big_mnt.mnt_id(), 1 << 40);
        assert!(matches!(
            FileHandle::new(1, 0x1_0001, &[1]),
            FileHandle::Large(_)
        ));
    }

    #[test]
    fn handle_of_a_tmpfs_file_opens() {
        // tmpfs hands out 12-byte handles: the out-of-line form, on a real filesystem.
        let Ok(dir) = vmm_sys_util::tempdir::TempDir::new_with_prefix("/dev/shm/fh-") else {
            return;
        };
        let p = std::ffi::CString::new(dir.as_path().to_str().unwrap()).unwrap();
        let fd = sys::open(&p, libc::O_PATH).unwrap();
        if let Some(h) = FileHandle::from_fd(fd.as_fd()).unwrap() {
            let mount_fd = sys::open(&p, libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
            let fd2 = h.open(mount_fd.as_fd(), libc::O_PATH).unwrap();
            let a = sys::fstat64(fd.as_fd()).unwrap();
            let b = sys::fstat64(fd2.as_fd()).unwrap();
            assert_eq!((a.st_dev, a.st_ino), (b.st_dev, b.st_ino));
        }
    }
}
