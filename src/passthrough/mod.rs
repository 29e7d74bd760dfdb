//! A driver that mirrors a host directory: [`PassthroughFs`].
//!
//! Every FUSE operation becomes the matching system call on the shared directory
//! (`Config::root_dir`). The driver keeps, for each inode the client knows, either an
//! `O_PATH` descriptor or a file handle ([`Config::inode_file_handles`]), and for each open
//! file a real descriptor.
//!
//! # Security boundary
//!
//! The client controls names, node IDs, handles and flags; it must not reach anything
//! outside the shared directory, nor make the daemon open device nodes:
//!
//! - Names come from the client one component at a time. Empty names and names containing
//!   `/` are refused with EINVAL, and so are `.` and `..` everywhere except LOOKUP, where
//!   `.` is the directory itself and `..` resolves only to an inode the client already
//!   reached from the root (the root's `..` is the root).
//! - Every walk is an `*at()` call relative to an inode's descriptor with `O_NOFOLLOW`:
//!   the daemon never follows a symlink. Symlink targets, absolute or relative, are only
//!   stored (SYMLINK) and returned (READLINK); the client resolves them.
//! - Inodes are reopened through `/proc/self/fd/N`, which can only reach the inode the
//!   descriptor already refers to. Only regular files and directories are ever reopened
//!   for I/O: opening a FIFO, socket or device node is refused (ENXIO; a symlink gives
//!   ELOOP), so the daemon never opens a device on the client's behalf (CVE-2020-35517).
//!   xattr and timestamp operations on other file types use the `/proc` path, which does
//!   not open them.
//! - Files are created with the caller's fsuid/fsgid (see `credentials.rs`).
//!
//! # Descriptors
//!
//! With `O_PATH` inodes the daemon holds one descriptor per known inode, released on
//! FORGET. With file handles it holds one descriptor per mount plus a bounded cache of
//! recently used descriptors ([`Config::inode_fd_cache_size`], second-chance eviction),
//! however many inodes the client knows.
//!
//! # Live takeover
//!
//! With feature `persist`, `PassthroughFs::save_to_bytes` saves what a new process needs
//! to keep serving the node IDs and handle numbers the kernel holds, and
//! `PassthroughFs::restore_from_bytes` loads it into a fresh driver (root imported, nothing
//! served yet):
//!
//! - every known inode: node ID, generation, host device and inode number, file type,
//!   lookup count, and its **file handle** (inodes kept as handles) or, for `O_PATH`
//!   inodes, its **path below the shared root** at save time;
//! - the mounts below the root that file handles need, by mount ID and path;
//! - every open handle: number, node ID, and the open file's access mode and status
//!   flags (`F_GETFL`; never `O_TRUNC` or `O_CREAT` again);
//! - the counters numbering new inodes, generations and handles.
//!
//! On restore each inode is reopened by `open_by_handle_at` or by walking its path with
//! `O_NOFOLLOW`, and kept only if the file found has the saved device, inode number and
//! type; each handle is reopened from its inode. An inode whose file is gone, replaced,
//! or (for a path) moved, stays known but answers ESTALE until forgotten, and so do the
//! handles on it: a saved number never leads to another file. Not carried over: locks
//! held through the old process's descriptors, files deleted on the host that only the old
//! process kept open (ESTALE), and requests read but not answered. The state is as
//! trusted as the configuration (a file handle in it is opened as given): keep it where
//! only the daemon can write it. Malformed bytes are refused (`InvalidData`) before
//! anything is opened, and a refused state changes nothing.

use std::collections::HashMap;
use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use log::{debug, warn};
use vm_memory::bitmap::BitmapSlice;

use crate::abi::fuse_abi::ROOT_ID;
use crate::api::filesystem::Entry;
use crate::errno::err;
use crate::sys;

mod config;
mod credentials;
mod file_handle;
mod fs_ops;
mod handles;
mod inode_store;
mod layer;
mod lock_wait;
mod mount_fd;
#[cfg(feature = "persist")]
mod persist;
mod prune;
#[cfg(test)]
mod tests;

pub use config::{CachePolicy, Config};

use file_handle::{FdCache, FdKey, FileHandle};
use handles::HandleMap;
pub use inode_store::InodeData;
use inode_store::{InodeHandle, InodeId, InodeStore};
use mount_fd::MountFds;

/// Node IDs from here up are the driver's own when host inode numbers are used.
const VIRTUAL_INO_BASE: u64 = 1 << 47;

/// A filesystem that passes every request through to a host directory.
///
/// `S` is the dirty-bitmap type of the guest memory the transport hands out (`()` when
/// there is none); it only matters for virtio-fs DAX.
///
/// Locking: the inode store shards, the handle table shards, the descriptor cache shards
/// and the mount table each have their own lock, held only for a map operation and never
/// while taking another of them or across a system call (the inode store alone may hold
/// two of its own shards, in the order its docs give). No lock is global: requests on
/// different inodes take different shards, and the common case (a known inode, a cached
/// descriptor) takes only read locks. The one lock held across calls is a
/// directory handle's readdir buffer, taken first: a READDIRPLUS looks entries up (taking
/// the others in turn) while holding it.
pub struct PassthroughFs<S: BitmapSlice + Send + Sync = ()> {
    cfg: Config,
    inodes: InodeStore,
    handles: HandleMap,
    lock_waits: lock_wait::LockWaits,
    mount_fds: MountFds,
    fd_cache: FdCache,
    /// Descriptors of inodes kept as file handles whose files the host deleted while the
    /// client knew them (they can no longer be reopened by handle: ESTALE), by node ID and
    /// generation; flagged in the inode (`InodeData::is_pinned`), so the common case never
    /// takes this lock. An entry goes when the kernel forgets the inode.
    pinned: Mutex<HashMap<FdKey, Arc<OwnedFd>>>,
    /// Inodes in the order they came, with `Config::max_inodes` only.
    prune: prune::PruneQueue,
    /// `/proc/self/fd`, for reopening inodes by descriptor number.
    proc_self_fd: OwnedFd,
    /// Device of the shared root (host inode numbers are used only on it).
    root_dev: AtomicU64,
    /// Inodes are kept as file handles (decided by `import`).
    use_handles: AtomicBool,
    /// Negotiated in INIT.
    no_open: AtomicBool,
    no_opendir: AtomicBool,
    writeback: AtomicBool,
    killpriv_v2: AtomicBool,
    setxattr_ext: AtomicBool,
    _bitmap: PhantomData<S>,
}

/// A descriptor for an inode: borrowed from the inode, or from the cache.
pub(crate) enum InodeFd<'a> {
    Borrowed(BorrowedFd<'a>),
    Cached(Arc<OwnedFd>),
}

impl AsFd for InodeFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            InodeFd::Borrowed(fd) => *fd,
            InodeFd::Cached(fd) => fd.as_fd(),
        }
    }
}

/// A descriptor number as a C string: the name of its entry in `/proc/self/fd`.
pub(crate) struct FdName {
    buf: [u8; 32],
    start: usize,
}

impl FdName {
    const PREFIX: &'static [u8] = b"/proc/self/fd/";

    /// The name for `fd`.
    pub fn new(fd: BorrowedFd<'_>) -> FdName {
        let mut buf = [0u8; 32];
        let mut digits = [0u8; 12];
        let mut n = fd.as_raw_fd() as u32;
        let mut len = 0;
        loop {
            digits[len] = b'0' + (n % 10) as u8;
            len += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let start = Self::PREFIX.len();
        buf[..start].copy_from_slice(Self::PREFIX);
        for i in 0..len {
            buf[start + i] = digits[len - 1 - i];
        }
        FdName { buf, start }
    }

    /// `"N"`, relative to `/proc/self/fd`.
    pub fn relative(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.buf[self.start..]).unwrap_or(c"")
    }

    /// `"/proc/self/fd/N"`.
    pub fn absolute(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"")
    }
}

/// Refuses names that are not a single ordinary path component (see the module docs).
pub(crate) fn check_name(name: &CStr) -> io::Result<()> {
    let b = name.to_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
        debug!("refusing name {:?}", name);
        return Err(err(libc::EINVAL));
    }
    Ok(())
}

impl<S: BitmapSlice + Send + Sync> PassthroughFs<S> {
    /// Creates the driver; opens the shared directory right away when `cfg.do_import`.
    pub fn new(cfg: Config) -> io::Result<Self> {
        let proc_self_fd = sys::open(c"/proc/self/fd", libc::O_PATH | libc::O_DIRECTORY)?;
        let first_virtual = if cfg.use_host_ino {
            VIRTUAL_INO_BASE
        } else {
            ROOT_ID + 1
        };
        let fs = PassthroughFs {
            inodes: InodeStore::new(first_virtual),
            handles: HandleMap::default(),
            lock_waits: Default::default(),
            mount_fds: MountFds::default(),
            fd_cache: FdCache::new(fd_cache_capacity(cfg.inode_fd_cache_size)),
            pinned: Mutex::default(),
            prune: Default::default(),
            proc_self_fd,
            root_dev: AtomicU64::new(0),
            use_handles: AtomicBool::new(false),
            no_open: AtomicBool::new(false),
            no_opendir: AtomicBool::new(false),
            writeback: AtomicBool::new(false),
            killpriv_v2: AtomicBool::new(false),
            setxattr_ext: AtomicBool::new(false),
            cfg,
            _bitmap: PhantomData,
        };
        if fs.cfg.do_import {
            fs.import()?;
        }
        Ok(fs)
    }

    /// Opens the shared directory and makes it the root inode. Does nothing when the root
    /// is already there.
    pub fn import(&self) -> io::Result<()> {
        if self.inodes.get(ROOT_ID).is_ok() {
            return Ok(());
        }
        let path =
            std::ffi::CString::new(self.cfg.root_dir.as_str()).map_err(|_| err(libc::EINVAL))?;
        // The configured path is trusted (it is the administrator's), so it may contain
        // symlinks; everything below it is reached with O_NOFOLLOW.
        let fd = sys::open(&path, libc::O_PATH | libc::O_DIRECTORY)?;
        let (st, mnt_id) = self.stat_ext(fd.as_fd())?;
        let id = self.inode_id(&st, mnt_id);
        self.root_dev.store(st.st_dev, Ordering::Relaxed);

        let mut use_handles = false;
        if self.cfg.inode_file_handles {
            match self.probe_handles(fd.as_fd()) {
                Ok(()) => use_handles = true,
                Err(e) => warn!(
                    "file handles unavailable on {}: {e}; keeping O_PATH descriptors",
                    self.cfg.root_dir
                ),
            }
        }
        self.use_handles.store(use_handles, Ordering::Relaxed);
        self.inodes
            .insert_root(id, st.st_mode & libc::S_IFMT, InodeHandle::Fd(fd));
        Ok(())
    }

    /// Checks that handles of the root can be made and opened again (the latter needs
    /// CAP_DAC_READ_SEARCH), and remembers the root's mount.
    fn probe_handles(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        let h = FileHandle::from_fd(fd)?.ok_or_else(|| err(libc::EOPNOTSUPP))?;
        let dir = self.open_dir_for_mount(fd)?;
        h.open(dir.as_fd(), libc::O_PATH)?;
        self.mount_fds.insert(h.mnt_id(), dir);
        Ok(())
    }

    /// Opens the directory `fd` refers to read-only, to serve as a `mount_fd`.
    fn open_dir_for_mount(&self, fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
        let name = FdName::new(fd);
        sys::openat(
            self.proc_self_fd.as_fd(),
            name.relative(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NONBLOCK,
            0,
        )
    }

    /// Whether inodes with handle `h` can be reopened: true when a descriptor for their
    /// mount is known, or can be made because `fd` (the inode being added, whose stat is
    /// `st`) is a directory on it (the mount's root).
    fn have_mount_fd(&self, h: &FileHandle, fd: BorrowedFd<'_>, st: &libc::stat64) -> bool {
        if self.mount_fds.get(h.mnt_id()).is_some() {
            return true;
        }
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return false;
        }
        match self.open_dir_for_mount(fd) {
            Ok(dir) => {
                self.mount_fds.insert(h.mnt_id(), dir);
                true
            }
            Err(e) => {
                debug!("cannot open mount {} for handles: {e}", h.mnt_id());
                false
            }
        }
    }

    /// The descriptors the driver keeps open (for a sandbox that closes everything else).
    pub fn keep_fds(&self) -> Vec<std::os::fd::RawFd> {
        let mut fds = vec![self.proc_self_fd.as_raw_fd()];
        if let Ok(root) = self.inodes.get(ROOT_ID) {
            if let InodeHandle::Fd(fd) = &root.handle {
                fds.push(fd.as_raw_fd());
            }
        }
        fds.extend(self.mount_fds.raw_fds());
        fds
    }

    /// `statx` of `fd` with the mount ID (see [`stat_at`]).
    fn stat_ext(&self, fd: BorrowedFd<'_>) -> io::Result<(libc::stat64, u64)> {
        stat_at(fd, c"", libc::AT_EMPTY_PATH)
    }

    fn inode_id(&self, st: &libc::stat64, mnt_id: u64) -> InodeId {
        InodeId::new(
            st.st_ino,
            st.st_dev,
            if self.cfg.enable_mntid { mnt_id } else { 0 },
        )
    }

    /// The inode `inode` (EBADF when the client names one it does not know).
    pub(crate) fn inode_data(&self, inode: u64) -> io::Result<Arc<InodeData>> {
        self.inodes.get(inode).inspect_err(|_| {
            debug!("unknown inode {inode}");
        })
    }

    /// A descriptor (usually `O_PATH`) for `data`.
    pub(crate) fn inode_fd<'a>(&self, data: &'a InodeData) -> io::Result<InodeFd<'a>> {
        match &data.handle {
            InodeHandle::Fd(fd) => Ok(InodeFd::Borrowed(fd.as_fd())),
            InodeHandle::Handle(h) => {
                let key = (data.inode, data.generation());
                if let Some(fd) = self.fd_cache.get(key) {
                    return Ok(InodeFd::Cached(fd));
                }
                if let Some(fd) = self.pinned_fd(data) {
                    return Ok(InodeFd::Cached(fd));
                }
                // Only a restored inode can lack its mount's descriptor (the mount was not
                // found again): its file cannot be reached any more.
                let mount_fd = self
                    .mount_fds
                    .get(h.mnt_id())
                    .ok_or_else(|| err(libc::ESTALE))?;
                let fd = Arc::new(h.open(mount_fd.as_fd(), libc::O_PATH)?);
                self.fd_cache.insert(key, fd.clone());
                Ok(InodeFd::Cached(fd))
            }
            InodeHandle::Stale => Err(err(libc::ESTALE)),
        }
    }

    /// Opens `data` for I/O through `/proc/self/fd`, as the daemon. Only regular files and
    /// directories are opened (see the module docs); `flags` must already be sanitised,
    /// `O_NOFOLLOW` is dropped because the `/proc` link itself must be followed.
    pub(crate) fn reopen(&self, data: &InodeData, flags: i32) -> io::Result<File> {
        if !data.is_reg() && !data.is_dir() {
            debug!(
                "refusing to open inode {} of type {:o}",
                data.inode,
                data.file_type()
            );
            let errno = if data.file_type() == libc::S_IFLNK {
                libc::ELOOP
            } else {
                libc::ENXIO
            };
            return Err(io::Error::from_raw_os_error(errno));
        }
        let fd = self.inode_fd(data)?;
        let name = FdName::new(fd.as_fd());
        let flags = flags & !(libc::O_NOFOLLOW | libc::O_CREAT | libc::O_EXCL | libc::O_PATH);
        let file = sys::openat(self.proc_self_fd.as_fd(), name.relative(), flags, 0)?;
        Ok(File::from(file))
    }

    /// `(attr timeout, entry timeout)` for a file of the given mode.
    pub(crate) fn timeouts(&self, mode: u32) -> (Duration, Duration) {
        if mode & libc::S_IFMT == libc::S_IFDIR {
            (
                self.cfg.dir_attr_timeout.unwrap_or(self.cfg.attr_timeout),
                self.cfg.dir_entry_timeout.unwrap_or(self.cfg.entry_timeout),
            )
        } else {
            (self.cfg.attr_timeout, self.cfg.entry_timeout)
        }
    }

    pub(crate) fn attr_timeout(&self, st: &libc::stat64) -> Duration {
        self.timeouts(st.st_mode).0
    }

    fn make_entry(&self, data: &InodeData, st: libc::stat64) -> Entry {
        let (attr_timeout, entry_timeout) = self.timeouts(st.st_mode);
        Entry {
            inode: data.inode,
            generation: data.generation(),
            attr: st,
            attr_flags: 0,
            attr_timeout,
            entry_timeout,
        }
    }

    /// Finds or adds the inode `fd` (an `O_PATH` descriptor) refers to and returns its
    /// entry; the inode's lookup count goes up by one.
    pub(crate) fn entry_from_fd(&self, fd: OwnedFd) -> io::Result<Entry> {
        let (st, mnt_id) = self.stat_ext(fd.as_fd())?;
        let id = self.inode_id(&st, mnt_id);
        let new_handle = if self.use_handles.load(Ordering::Relaxed) {
            FileHandle::from_fd(fd.as_fd())?
        } else {
            None
        };
        if let Some(data) = self.inodes.lookup_ref(&id) {
            let same_file = match (&data.handle, &new_handle) {
                // A handle carries the inode's generation: a different handle for the
                // same (dev, ino) means the host deleted the old file and reused its
                // number while the client still holds the old node ID.
                (InodeHandle::Handle(old), Some(new)) => old == new,
                // An O_PATH fd pins the inode, so its number cannot have been reused.
                _ => true,
            };
            if same_file {
                return Ok(self.make_entry(&data, st));
            }
            // Give back the reference just taken and let the old node ID live on for the
            // old file only; the new file gets a node ID of its own below.
            self.inodes.forget(data.inode, 1);
            self.inodes.retire(&id, data.inode);
        }

        let mut cache_fd = None;
        let handle = match new_handle {
            Some(h) if self.have_mount_fd(&h, fd.as_fd(), &st) => {
                cache_fd = Some(fd);
                InodeHandle::Handle(h)
            }
            // No handles on this filesystem (or not enabled), or a file bind-mounted on
            // its own: keep the O_PATH descriptor.
            _ => InodeHandle::Fd(fd),
        };
        let host_ino = (self.cfg.use_host_ino
            && st.st_ino < VIRTUAL_INO_BASE
            && st.st_dev == self.root_dev.load(Ordering::Relaxed))
        .then_some(st.st_ino);
        let (data, new) =
            self.inodes
                .insert_or_ref(id, st.st_mode & libc::S_IFMT, handle, host_ino);
        if new && self.cfg.max_inodes.is_some() {
            self.prune.push(data.inode);
        }
        if let (true, Some(fd)) = (new, cache_fd) {
            self.fd_cache
                .insert((data.inode, data.generation()), Arc::new(fd));
        }
        Ok(self.make_entry(&data, st))
    }

    /// LOOKUP: see the module docs for `.` and `..`.
    pub(crate) fn do_lookup(&self, parent: u64, name: &CStr) -> io::Result<Entry> {
        let p = self.inode_data(parent)?;
        let bytes = name.to_bytes();
        if bytes == b"." || (bytes == b".." && parent == ROOT_ID) {
            let pfd = self.inode_fd(&p)?;
            let (st, _) = self.stat_ext(pfd.as_fd())?;
            let data = self
                .inodes
                .lookup_ref(&p.id)
                .ok_or_else(|| err(libc::EBADF))?;
            return Ok(self.make_entry(&data, st));
        }
        if bytes == b".." {
            // Only an inode the client already reached from the root may be returned:
            // a directory moved out of the share on the host must not lead outside.
            let pfd = self.inode_fd(&p)?;
            let fd = sys::openat(
                pfd.as_fd(),
                c"..",
                libc::O_PATH | libc::O_NOFOLLOW | libc::O_DIRECTORY,
                0,
            )?;
            let (st, mnt_id) = self.stat_ext(fd.as_fd())?;
            let data = self
                .inodes
                .lookup_ref(&self.inode_id(&st, mnt_id))
                .ok_or_else(|| err(libc::ENOENT))?;
            return Ok(self.make_entry(&data, st));
        }
        check_name(name)?;
        let pfd = self.inode_fd(&p)?;
        let fd = sys::openat(pfd.as_fd(), name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        self.entry_from_fd(fd)
    }

    /// Drops `count` lookups of `inode`.
    pub(crate) fn do_forget(&self, inode: u64, count: u64) {
        if let Some(data) = self.inodes.forget(inode, count) {
            if matches!(data.handle, InodeHandle::Handle(_)) {
                let key = (data.inode, data.generation());
                self.fd_cache.remove(key);
                if data.is_pinned() {
                    self.pinned_map().remove(&key);
                }
            }
        }
    }

    /// Before `name` in `dir` is removed or replaced: if the removal may delete an inode
    /// kept as a file handle that the client knows, returns what is needed to keep it
    /// reachable ([`pin_removed`](Self::pin_removed)). One `statx` in the common case;
    /// the descriptor comes from the fd cache when it has one.
    pub(crate) fn prepare_pin(
        &self,
        dir: BorrowedFd<'_>,
        name: &CStr,
    ) -> Option<(Arc<InodeData>, Arc<OwnedFd>)> {
        if !self.use_handles.load(Ordering::Relaxed) {
            return None;
        }
        let (st, mnt_id) = stat_at(dir, name, 0).ok()?;
        // Another name keeps a non-directory alive.
        if st.st_mode & libc::S_IFMT != libc::S_IFDIR && st.st_nlink > 1 {
            return None;
        }
        let data = self.inodes.peek(&self.inode_id(&st, mnt_id))?;
        if !matches!(data.handle, InodeHandle::Handle(_)) {
            return None;
        }
        if data.is_pinned() {
            return None;
        }
        if let Some(fd) = self.fd_cache.get((data.inode, data.generation())) {
            return Some((data, fd));
        }
        let fd = sys::openat(dir, name, libc::O_PATH | libc::O_NOFOLLOW, 0).ok()?;
        // The name may have been given to another file since the statx.
        let (now, _) = self.stat_ext(fd.as_fd()).ok()?;
        (now.st_dev == st.st_dev && now.st_ino == st.st_ino).then(|| (data, Arc::new(fd)))
    }

    /// After a successful removal: keeps the inode prepared by
    /// [`prepare_pin`](Self::prepare_pin) reachable for as long as the client knows it.
    /// (If a link was made meanwhile the file is not deleted; pinning it is harmless.)
    pub(crate) fn pin_removed(&self, prepared: Option<(Arc<InodeData>, Arc<OwnedFd>)>) {
        if let Some((data, fd)) = prepared {
            if data.mark_pinned() {
                self.pinned_map()
                    .insert((data.inode, data.generation()), fd);
            }
        }
    }

    fn pinned_map(&self) -> std::sync::MutexGuard<'_, HashMap<FdKey, Arc<OwnedFd>>> {
        self.pinned.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The descriptor kept by [`pin_removed`](Self::pin_removed) for `data`, if any.
    pub(crate) fn pinned_fd(&self, data: &InodeData) -> Option<Arc<OwnedFd>> {
        if !data.is_pinned() {
            return None;
        }
        self.pinned_map()
            .get(&(data.inode, data.generation()))
            .cloned()
    }

    /// Reopens an `O_PATH` descriptor of the file `file` refers to (for creations that
    /// return an open file, so that the new inode is exactly the created file).
    pub(crate) fn path_fd_of(&self, file: &File) -> io::Result<OwnedFd> {
        let name = FdName::new(file.as_fd());
        sys::openat(self.proc_self_fd.as_fd(), name.relative(), libc::O_PATH, 0)
    }

    /// The host path of `inode` as the kernel reports it for the inode's descriptor
    /// (`readlink("/proc/self/fd/N")`): where the file is now, or the old path with
    /// " (deleted)" for a removed one. For logs and diagnostics; never open it, another
    /// file may have taken the path.
    ///
    /// # Errors
    /// EBADF for an inode the client does not know; the errors of `readlinkat(2)`.
    pub fn readlinkat_proc_file(&self, inode: u64) -> io::Result<PathBuf> {
        let data = self.inode_data(inode)?;
        let fd = self.inode_fd(&data)?;
        let name = FdName::new(fd.as_fd());
        let mut buf = vec![0u8; libc::PATH_MAX as usize];
        let n = sys::readlinkat(self.proc_self_fd.as_fd(), name.relative(), &mut buf)?;
        buf.truncate(n);
        Ok(PathBuf::from(std::ffi::OsString::from_vec(buf)))
    }

    pub(crate) fn proc_self_fd(&self) -> BorrowedFd<'_> {
        self.proc_self_fd.as_fd()
    }

    pub(crate) fn config(&self) -> &Config {
        &self.cfg
    }
}

/// `statx` of `name` in `dir` (symlinks not followed; `flags` may add `AT_EMPTY_PATH`)
/// with the mount ID; falls back to `fstatat` (mount ID 0) on kernels without statx.
fn stat_at(
    dir: BorrowedFd<'_>,
    name: &CStr,
    flags: libc::c_int,
) -> io::Result<(libc::stat64, u64)> {
    let flags = flags | libc::AT_SYMLINK_NOFOLLOW;
    match sys::statx(
        dir,
        name,
        flags,
        libc::STATX_BASIC_STATS | libc::STATX_MNT_ID,
    ) {
        Ok(stx) => {
            let mnt = if stx.stx_mask & libc::STATX_MNT_ID != 0 {
                stx.stx_mnt_id
            } else {
                0
            };
            Ok((sys::stat64_from_statx(&stx), mnt))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            Ok((sys::fstatat64(dir, name, flags)?, 0))
        }
        Err(e) => Err(e),
    }
}

/// `wanted`, lowered to half the soft `RLIMIT_NOFILE` when that is smaller.
fn fd_cache_capacity(wanted: usize) -> usize {
    match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE) {
        Ok((soft, _)) => {
            let half = usize::try_from(soft / 2).unwrap_or(usize::MAX);
            if half < wanted {
                debug!("fd cache: {wanted} descriptors wanted, {half} used (RLIMIT_NOFILE {soft})");
            }
            wanted.min(half)
        }
        Err(_) => wanted,
    }
}

/// Lets a [`Vfs`](crate::api::vfs::Vfs) serve the shared directory at a mount point.
impl<S: BitmapSlice + Send + Sync + 'static> crate::api::vfs::BackendFileSystem
    for PassthroughFs<S>
{
    /// Imports the root if needed and returns its entry. The root's lookup count is not
    /// raised: the root is never forgotten.
    fn mount(&self) -> io::Result<(Entry, u64)> {
        self.import()?;
        let root = self.inode_data(ROOT_ID)?;
        let fd = self.inode_fd(&root)?;
        let (st, _) = self.stat_ext(fd.as_fd())?;
        Ok((self.make_entry(&root, st), crate::api::vfs::VFS_MAX_INO))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
