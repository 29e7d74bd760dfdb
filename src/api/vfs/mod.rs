//! A virtual filesystem that serves several backends under one FUSE tree.
//!
//! Each mounted backend gets an fs index ([`VfsIndex`], 1..=255) and its inode numbers live
//! in that index's slice of the 64-bit space: the kernel sees `(index << 56) | inode`, so a
//! backend's inodes must stay at or below [`VFS_MAX_INO`]. Index 0 belongs to the pseudo
//! filesystem (the directories leading to mount points). A backend mounted at `/` answers for
//! the FUSE root itself.
//!
//! Backends are attached and detached while requests are in flight: the table of mounted
//! backends is swapped atomically (`ArcSwap`), so the request path takes no lock. A request
//! that already holds a backend finishes on it; later requests for a detached backend's
//! inodes get ENOENT. An fs index is reused only when the kernel has forgotten every inode
//! it learnt through the index's previous owner, so the numbers the kernel sees never
//! refer to two different files.
//!
//! After [`Vfs::umount`], the caller should tell the kernel to drop the mount point's dentry
//! (`Server::notify_inval_entry(parent, name)` with the values `umount` returns).

use std::any::Any;
use std::ffi::{CStr, CString};
use std::io;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::abi::fuse_abi::{FsOptions, ROOT_ID};
use crate::api::filesystem::{Entry, FileSystem};
use crate::api::pseudo_fs::{PseudoChild, PseudoFs};
use crate::errno::err;

mod idmap;
mod ops;
#[cfg(feature = "persist")]
pub mod persist;

/// Index of a backend in the Vfs (0 is the pseudo filesystem).
pub type VfsIndex = u8;

/// Bits of a Vfs inode number that carry the backend's own inode number.
pub const VFS_INDEX_SHIFT: u32 = 56;
/// The largest inode number a backend may use.
pub const VFS_MAX_INO: u64 = (1 << VFS_INDEX_SHIFT) - 1;
/// Fs index of the pseudo filesystem.
pub const PSEUDO_FS_IDX: VfsIndex = 0;
const MAX_BACKENDS: usize = 256;

/// "." as a C string.
pub const CURRENT_DIR_CSTR: &[u8] = b".\0";
/// ".." as a C string.
pub const PARENT_DIR_CSTR: &[u8] = b"..\0";
/// The empty C string.
pub const EMPTY_CSTR: &[u8] = b"\0";
/// "/proc/self/fd" as a C string.
pub const PROC_SELF_FD_CSTR: &[u8] = b"/proc/self/fd\0";
/// The byte '/'.
pub const SLASH_ASCII: u8 = b'/';

/// Errors of Vfs management (mount, umount).
#[derive(Debug, thiserror::Error)]
pub enum VfsError {
    /// The operation is not supported.
    #[error("vfs operation not supported")]
    Unsupported,
    /// Mounting failed.
    #[error("failed to mount backend")]
    Mount(#[source] io::Error),
    /// Restoring a mount failed.
    #[error("failed to restore mount")]
    RestoreMount(#[source] io::Error),
    /// An inode number is out of range.
    #[error("invalid inode index: {0}")]
    InodeIndex(String),
    /// No fs index is free.
    #[error("failed to allocate a backend index")]
    FsIndex(#[source] io::Error),
    /// A path is invalid.
    #[error("invalid mount path")]
    PathWalk(#[source] io::Error),
    /// Nothing is mounted at a path.
    #[error("no backend mounted at {0}")]
    NotFound(String),
    /// Initialising a backend failed.
    #[error("failed to initialize backend: {0}")]
    Initialize(String),
    /// Saving or restoring the Vfs state failed (see [`persist`](self#persist)).
    #[error("failed to save or restore the vfs state: {0}")]
    Persist(String),
}

/// Result of Vfs management.
pub type VfsResult<T> = std::result::Result<T, VfsError>;

/// A Vfs inode number: the backend's fs index in the top bits, its inode below
/// ([`VFS_INDEX_SHIFT`]). Converts to and from the `u64` the kernel sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VfsInode(u64);

impl VfsInode {
    /// The fs index the inode belongs to ([`PSEUDO_FS_IDX`] for the pseudo filesystem).
    pub fn fs_idx(&self) -> VfsIndex {
        (self.0 >> VFS_INDEX_SHIFT) as VfsIndex
    }

    /// The backend's own inode number.
    pub fn ino(&self) -> u64 {
        self.0 & VFS_MAX_INO
    }
}

impl From<u64> for VfsInode {
    fn from(v: u64) -> Self {
        VfsInode(v)
    }
}

impl From<VfsInode> for u64 {
    fn from(v: VfsInode) -> Self {
        v.0
    }
}

/// A filesystem that can be mounted in a [`Vfs`]. The Vfs mounts those with `u64`
/// inodes and handles ([`BackFileSystem`]).
pub trait BackendFileSystem: FileSystem {
    /// Prepares to be mounted; returns the backend's root entry and the largest inode
    /// number it will hand out (at most [`VFS_MAX_INO`]). The default fails with ENOSYS.
    fn mount(&self) -> io::Result<(Entry, u64)> {
        Err(err(libc::ENOSYS))
    }

    /// For downcasting to the concrete type.
    fn as_any(&self) -> &dyn Any;
}

/// A boxed backend, as the Vfs stores it.
pub type BackFileSystem = Box<dyn BackendFileSystem<Inode = u64, Handle = u64> + Sync + Send>;

/// Options of a [`Vfs`]: the INIT negotiation defaults; backends can narrow them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VfsOptions {
    /// Ask for FUSE_NO_OPEN_SUPPORT (no OPEN/RELEASE round trips) when the kernel offers it.
    pub no_open: bool,
    /// Ask for FUSE_NO_OPENDIR_SUPPORT.
    pub no_opendir: bool,
    /// Disable the writeback cache even if a backend asks for it.
    pub no_writeback: bool,
    /// Refuse readdir (only lookups by name).
    pub no_readdir: bool,
    /// Refuse size changes (seal the file sizes).
    pub seal_size: bool,
    /// Ask for FUSE_HANDLE_KILLPRIV_V2.
    pub killpriv_v2: bool,
    /// What the kernel offered at INIT (filled in by `init`).
    pub in_opts: FsOptions,
    /// The options the Vfs may enable; intersected with what the kernel offers.
    pub out_opts: FsOptions,
    /// `(internal, external, range)`: the client's user and group ids
    /// `external..external + range` are `internal..` for the backends, and the owners
    /// backends return are mapped back. `range` 0 (the default) maps nothing.
    pub id_mapping: (u32, u32, u32),
}

impl Default for VfsOptions {
    fn default() -> Self {
        VfsOptions {
            no_open: true,
            no_opendir: true,
            no_writeback: false,
            no_readdir: false,
            seal_size: false,
            killpriv_v2: false,
            in_opts: FsOptions::empty(),
            id_mapping: (0, 0, 0),
            out_opts: FsOptions::ASYNC_READ
                | FsOptions::PARALLEL_DIROPS
                | FsOptions::BIG_WRITES
                | FsOptions::ASYNC_DIO
                | FsOptions::AUTO_INVAL_DATA
                | FsOptions::HAS_IOCTL_DIR
                | FsOptions::WRITEBACK_CACHE
                | FsOptions::ZERO_MESSAGE_OPEN
                | FsOptions::MAX_PAGES
                | FsOptions::ATOMIC_O_TRUNC
                | FsOptions::CACHE_SYMLINKS
                | FsOptions::DO_READDIRPLUS
                | FsOptions::READDIRPLUS_AUTO
                | FsOptions::EXPLICIT_INVAL_DATA
                | FsOptions::ZERO_MESSAGE_OPENDIR
                | FsOptions::HANDLE_KILLPRIV_V2
                | FsOptions::PERFILE_DAX,
        }
    }
}

/// Rejects names that are empty, "." or "..", or contain '/'.
pub fn validate_path_component(name: &CStr) -> io::Result<()> {
    let b = name.to_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&SLASH_ASCII) {
        return Err(err(libc::EINVAL));
    }
    Ok(())
}

/// A mounted backend.
pub(crate) struct MountedFs {
    pub(crate) idx: VfsIndex,
    pub(crate) fs: Arc<BackFileSystem>,
    /// The backend's own inode number of its root.
    pub(crate) root_ino: u64,
    /// Pseudo inode of the mount point (ROOT_ID for a mount at "/").
    pub(crate) mountpoint: u64,
}

type Table = Vec<Option<Arc<MountedFs>>>;

/// The union filesystem. See the module documentation.
pub struct Vfs {
    opts: ArcSwap<VfsOptions>,
    initialized: std::sync::atomic::AtomicBool,
    table: ArcSwap<Table>,
    pseudo: PseudoFs,
    /// Lookups the kernel holds per fs index (entries sent minus forgets).
    refs: Vec<AtomicU64>,
    /// Where the search for a free index starts (round robin, so indices are reused late).
    next_idx: AtomicU8,
    /// Serialises mount/umount (never taken on the request path).
    control: Mutex<()>,
    /// Backend root inodes by fs index, from a restored state, until `restore_mount`
    /// re-attaches each backend (only with the `persist` feature).
    restored_roots: Mutex<Vec<(VfsIndex, u64)>>,
}

impl Default for Vfs {
    /// A Vfs with the default options.
    fn default() -> Self {
        Vfs::new(VfsOptions::default())
    }
}

/// Where a Vfs inode number leads.
pub(crate) enum Target {
    Pseudo(u64),
    Backend(Arc<MountedFs>, u64),
}

impl Vfs {
    /// An empty Vfs (only the pseudo root).
    pub fn new(opts: VfsOptions) -> Self {
        Vfs {
            opts: ArcSwap::from_pointee(opts),
            initialized: std::sync::atomic::AtomicBool::new(false),
            table: ArcSwap::from_pointee(vec![None; MAX_BACKENDS]),
            pseudo: PseudoFs::new(),
            refs: (0..MAX_BACKENDS).map(|_| AtomicU64::new(0)).collect(),
            next_idx: AtomicU8::new(1),
            control: Mutex::new(()),
            restored_roots: Mutex::new(Vec::new()),
        }
    }

    /// Asks `umount` to remove the mount point's pseudo directory. This Vfs always does
    /// (with every directory above it that nothing else needs), so the call changes
    /// nothing; kept for code written against fuse-backend-rs 0.14.
    pub fn set_remove_pseudo_root(&mut self) {}

    /// Whether INIT has been negotiated (the state is then worth saving for a restart).
    pub fn initialized(&self) -> bool {
        self.initialized.load(Ordering::Acquire)
    }

    /// The pseudo filesystem: the directories that lead to the mount points.
    pub fn get_root_pseudofs(&self) -> &PseudoFs {
        &self.pseudo
    }

    /// The current options.
    pub fn options(&self) -> VfsOptions {
        **self.opts.load()
    }

    /// Mounts `fs` at `path` (absolute, no `.`/`..`/empty components); returns its index.
    ///
    /// # Errors
    /// [`VfsError::PathWalk`] for an invalid path, [`VfsError::Mount`] with EEXIST when a
    /// backend is already mounted there or the backend's own `mount` fails,
    /// [`VfsError::FsIndex`] when no index is free, [`VfsError::Initialize`] when the backend
    /// refuses the negotiated options.
    pub fn mount(&self, fs: BackFileSystem, path: &str) -> VfsResult<VfsIndex> {
        let components = split_path(path)?;
        let (entry, max_ino) = fs.mount().map_err(VfsError::Mount)?;
        if max_ino > VFS_MAX_INO || entry.inode == 0 || entry.inode > VFS_MAX_INO {
            return Err(VfsError::InodeIndex(format!(
                "backend inode range up to {max_ino:#x} exceeds {VFS_MAX_INO:#x}"
            )));
        }
        let _guard = self.control.lock().map_err(|_| VfsError::Unsupported)?;
        if self.initialized.load(Ordering::Acquire) {
            let opts = self.opts.load();
            // The session's options are settled: the backend learns which of its wishes
            // were granted (what it asks beyond them is not enabled).
            fs.init(opts.out_opts)
                .map_err(|e| VfsError::Initialize(e.to_string()))?;
        }
        let idx = self.alloc_index()?;
        let mountpoint = self
            .pseudo
            .mount(&components, idx)
            .map_err(VfsError::Mount)?;
        let mounted = Arc::new(MountedFs {
            idx,
            fs: Arc::new(fs),
            root_ino: entry.inode,
            mountpoint,
        });
        let mut table: Table = (**self.table.load()).clone();
        table[idx as usize] = Some(mounted);
        self.table.store(Arc::new(table));
        log::info!("vfs: mounted backend {idx} at {path}");
        Ok(idx)
    }

    /// Unmounts the backend at `path`. Returns `(inode, parent)`: the Vfs inode of the
    /// mount point as the kernel knew it and of its parent directory, for
    /// `notify_inval_entry(parent, last path component)`.
    ///
    /// # Errors
    /// [`VfsError::PathWalk`] for an invalid path, [`VfsError::NotFound`] when nothing is
    /// mounted there.
    pub fn umount(&self, path: &str) -> VfsResult<(u64, u64)> {
        let components = split_path(path)?;
        let _guard = self.control.lock().map_err(|_| VfsError::Unsupported)?;
        let (idx, mp, parent) = self
            .pseudo
            .umount(&components)
            .map_err(|_| VfsError::NotFound(path.to_string()))?;
        // A parent directory that is another backend's root is known to the kernel by
        // that backend's number, not by its pseudo inode.
        let parent = match self.pseudo.mount_at(parent) {
            Some(pidx) if parent != ROOT_ID && pidx != idx => {
                self.pseudo_child_ino(PseudoChild::Mount(pidx))
            }
            _ => parent,
        };
        let mut table: Table = (**self.table.load()).clone();
        let old = table[idx as usize].take();
        self.table.store(Arc::new(table));
        let ino = match old {
            Some(m) if m.mountpoint == ROOT_ID => ROOT_ID,
            Some(m) => kernel_ino(idx, m.root_ino),
            None => mp,
        };
        log::info!("vfs: unmounted backend {idx} from {path}");
        Ok((ino, parent))
    }

    /// The backend mounted exactly at `path`, if any, with its fs index.
    pub fn get_rootfs(&self, path: &str) -> VfsResult<Option<(Arc<BackFileSystem>, VfsIndex)>> {
        let components = split_path(path)?;
        let mut cur = ROOT_ID;
        for c in &components {
            match self.pseudo.lookup(cur, c) {
                Ok(PseudoChild::Dir(ino)) => cur = ino,
                Ok(PseudoChild::Mount(idx)) => {
                    cur = self
                        .mounted(idx)
                        .map(|m| m.mountpoint)
                        .ok_or_else(|| VfsError::NotFound(path.to_string()))?;
                }
                Err(_) => return Ok(None),
            }
        }
        Ok(self
            .pseudo
            .mount_at(cur)
            .and_then(|idx| self.mounted(idx))
            .map(|m| (m.fs.clone(), m.idx)))
    }

    /// Picks a free index whose previous owner's inodes the kernel has all forgotten.
    fn alloc_index(&self) -> VfsResult<VfsIndex> {
        let table = self.table.load();
        // Indices of a restored state stay reserved for `restore_mount`.
        let reserved: Vec<VfsIndex> = self
            .restored_roots
            .lock()
            .map(|r| r.iter().map(|&(i, _)| i).collect())
            .unwrap_or_default();
        let start = self.next_idx.load(Ordering::Relaxed).max(1);
        for step in 0..(MAX_BACKENDS - 1) {
            let idx = 1 + ((start as usize - 1 + step) % (MAX_BACKENDS - 1));
            if table[idx].is_none()
                && self.refs[idx].load(Ordering::SeqCst) == 0
                && !reserved.contains(&(idx as VfsIndex))
            {
                let next = if idx == MAX_BACKENDS - 1 { 1 } else { idx + 1 };
                self.next_idx.store(next as u8, Ordering::Relaxed);
                return Ok(idx as VfsIndex);
            }
        }
        Err(VfsError::FsIndex(io::Error::from_raw_os_error(
            libc::ENOSPC,
        )))
    }

    pub(crate) fn mounted(&self, idx: VfsIndex) -> Option<Arc<MountedFs>> {
        self.table.load()[idx as usize].clone()
    }

    /// The backend mounted at "/", if any.
    fn root_mount(&self) -> Option<Arc<MountedFs>> {
        self.pseudo
            .mount_at(ROOT_ID)
            .and_then(|idx| self.mounted(idx))
    }

    /// Where Vfs inode `ino` leads.
    pub(crate) fn route(&self, ino: u64) -> io::Result<Target> {
        if ino == ROOT_ID {
            return Ok(match self.root_mount() {
                Some(m) => {
                    let root = m.root_ino;
                    Target::Backend(m, root)
                }
                None => Target::Pseudo(ROOT_ID),
            });
        }
        let idx = (ino >> VFS_INDEX_SHIFT) as VfsIndex;
        if idx == PSEUDO_FS_IDX {
            return Ok(Target::Pseudo(ino));
        }
        match self.mounted(idx) {
            Some(m) => Ok(Target::Backend(m, ino & VFS_MAX_INO)),
            None => Err(err(libc::ENOENT)),
        }
    }

    /// The Vfs inode of backend `m`'s inode `ino`.
    pub(crate) fn to_kernel(&self, m: &MountedFs, ino: u64) -> io::Result<u64> {
        if ino == m.root_ino && m.mountpoint == ROOT_ID {
            return Ok(ROOT_ID);
        }
        if ino > VFS_MAX_INO {
            log::error!(
                "vfs: backend {} returned inode {ino:#x} beyond VFS_MAX_INO",
                m.idx
            );
            return Err(err(libc::EIO));
        }
        Ok(kernel_ino(m.idx, ino))
    }

    /// Rewrites a backend's entry for the kernel and counts the lookup it grants.
    ///
    /// An entry that cannot reach the kernel (inode out of range, backend detached while
    /// the request ran) is given back to the backend and answered with an error.
    pub(crate) fn convert_entry(&self, m: &MountedFs, mut e: Entry) -> io::Result<Entry> {
        if e.inode == 0 {
            // A negative entry: nothing to count.
            return Ok(e);
        }
        let backend_ino = e.inode;
        e.inode = self
            .to_kernel(m, backend_ino)
            .inspect_err(|_| self.give_back(m, backend_ino))?;
        e.attr.st_ino = e.inode;
        idmap::attr_to_external(&self.options(), &mut e.attr);
        self.count_lookup(m, backend_ino, e.inode)?;
        Ok(e)
    }

    /// Counts one lookup of kernel inode `kino` (backend inode `ino` of `m`); when `m` was
    /// detached meanwhile, gives the backend's lookup back and fails with ENOENT. The
    /// kernel never forgets the root, so `ROOT_ID` is not counted.
    pub(crate) fn count_lookup(&self, m: &MountedFs, ino: u64, kino: u64) -> io::Result<()> {
        if kino == ROOT_ID {
            return Ok(());
        }
        self.hold_index(m).inspect_err(|_| self.give_back(m, ino))
    }

    /// Takes one count on `m`'s index for an entry about to reach the kernel; fails with
    /// ENOENT, counting nothing, when `m` is no longer mounted.
    ///
    /// The count is taken before checking that `m` is still mounted, both SeqCst (and
    /// `ArcSwap` operations are SeqCst too): `alloc_index` hands out an index only when its
    /// count is 0 after the backend left the table, so either it sees this count, or this
    /// check sees the backend gone and the number never reaches the kernel.
    pub(crate) fn hold_index(&self, m: &MountedFs) -> io::Result<()> {
        self.refs[m.idx as usize].fetch_add(1, Ordering::SeqCst);
        let current = self.table.load()[m.idx as usize]
            .as_ref()
            .is_some_and(|cur| std::ptr::eq(Arc::as_ptr(cur), m));
        if !current {
            self.drop_refs(m.idx, 1);
            return Err(err(libc::ENOENT));
        }
        Ok(())
    }

    /// Returns to backend `m` a lookup of `ino` it counted but the kernel never got. The
    /// Vfs answers lookups of a backend's root itself (getattr), so those are not counted
    /// by the backend and not given back (nor forwarded by `forget`).
    pub(crate) fn give_back(&self, m: &MountedFs, ino: u64) {
        if ino != m.root_ino {
            m.fs.forget(&crate::api::filesystem::Context::new(), ino, 1);
        }
    }

    /// The kernel forgot `count` lookups of Vfs inode `ino` of backend `idx`.
    pub(crate) fn drop_refs(&self, idx: VfsIndex, count: u64) {
        let r = &self.refs[idx as usize];
        let mut cur = r.load(Ordering::Acquire);
        loop {
            let new = cur.saturating_sub(count);
            match r.compare_exchange_weak(cur, new, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return,
                Err(v) => cur = v,
            }
        }
    }

    /// Lookups the kernel currently holds through index `idx` (for tests and diagnostics).
    pub fn outstanding_lookups(&self, idx: VfsIndex) -> u64 {
        self.refs[idx as usize].load(Ordering::Acquire)
    }

    /// The Vfs inode of a pseudo child.
    pub(crate) fn pseudo_child_ino(&self, c: PseudoChild) -> u64 {
        match c {
            PseudoChild::Dir(ino) => ino,
            PseudoChild::Mount(idx) => self
                .mounted(idx)
                .map(|m| {
                    if m.mountpoint == ROOT_ID {
                        ROOT_ID
                    } else {
                        kernel_ino(idx, m.root_ino)
                    }
                })
                .unwrap_or(0),
        }
    }

    pub(crate) fn pseudo(&self) -> &PseudoFs {
        &self.pseudo
    }

    pub(crate) fn set_initialized(&self, in_opts: FsOptions, out: FsOptions) {
        let mut o = **self.opts.load();
        o.in_opts = in_opts;
        o.out_opts = out;
        self.opts.store(Arc::new(o));
        self.initialized.store(true, Ordering::Release);
    }

    pub(crate) fn all_mounted(&self) -> Vec<Arc<MountedFs>> {
        self.table.load().iter().flatten().cloned().collect()
    }
}

fn kernel_ino(idx: VfsIndex, ino: u64) -> u64 {
    ((idx as u64) << VFS_INDEX_SHIFT) | ino
}

/// Splits an absolute mount path into validated components ("/" gives none).
fn split_path(path: &str) -> VfsResult<Vec<CString>> {
    let bad = || VfsError::PathWalk(err(libc::EINVAL));
    let rest = path.strip_prefix('/').ok_or_else(bad)?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    rest.split('/')
        .map(|c| {
            let cs = CString::new(c).map_err(|_| bad())?;
            validate_path_component(&cs).map_err(VfsError::PathWalk)?;
            Ok(cs)
        })
        .collect()
}

#[cfg(test)]
mod tests;
