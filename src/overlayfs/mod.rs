//! A union filesystem with the semantics of the kernel's overlayfs: [`OverlayFs`].
//!
//! One optional writable upper layer over one or more read-only lower layers, each any
//! [`Layer`] (typically a [`PassthroughFs`](crate::passthrough::PassthroughFs)). The design
//! and every difference from the kernel are in `docs/overlayfs.md`; in short:
//!
//! - **Lookup** goes top-down: a whiteout hides the name, a non-directory hides
//!   everything below it, directories merge until an opaque one (or the bottom).
//!   Directories with a redirect attribute continue in the lower layers at the path it
//!   names.
//! - **Copy-up** (on the first write, metadata change or name operation) builds the
//!   complete copy (data, mode, owner, times, extended attributes) under a temporary
//!   name in the work directory, syncs it, and renames it into the upper layer: a crash
//!   leaves either no copy or a complete one, and the work directory is emptied at the
//!   next mount.
//! - **Hard links**: a lower file with several links is copied up once into the index
//!   directory (in the work directory) and linked from there under each name that needs
//!   an upper entry, so all names stay one inode (the kernel's `index=on`).
//! - **Renames** of directories set a redirect attribute, as the kernel's
//!   `redirect_dir=on` does; files are copied up and renamed in the upper layer, leaving
//!   a whiteout where a lower name must stay hidden. `RENAME_NOREPLACE` and
//!   `RENAME_EXCHANGE` are supported.
//! - **Directory listings** are merged once per open handle (at offset 0) and served from
//!   that snapshot, so offsets are stable and no name appears twice.
//!
//! Without an upper layer the overlay is read-only: every change fails with EROFS.
//!
//! # Example
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use fuse_backend_rs::overlayfs::{config::Config, BoxedLayer, OverlayFs};
//! use fuse_backend_rs::passthrough::{self, PassthroughFs};
//!
//! let layer = |dir: &str| -> std::io::Result<Arc<BoxedLayer>> {
//!     let cfg = passthrough::Config { root_dir: dir.into(), xattr: true, ..Default::default() };
//!     Ok(Arc::new(Box::new(PassthroughFs::<()>::new(cfg)?)))
//! };
//! let cfg = Config { work: "/srv/work".into(), ..Default::default() };
//! let fs = OverlayFs::new(Some(layer("/srv/upper")?), vec![layer("/srv/lower")?], cfg)?;
//! # let _ = fs;
//! # Ok(())
//! # }
//! ```

use std::ffi::CString;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use log::{debug, info};

use crate::abi::fuse_abi::ROOT_ID;
use crate::api::filesystem::{Context, Entry, Layer};
use crate::errno::err;

pub mod config;
mod copy_up;
mod dir;
mod entry;
mod handles;
mod inode;
mod io_ops;
pub(crate) mod layer_ops;
mod lookup;
mod redirect;
mod rename;
pub mod sync_io;
#[cfg(test)]
mod tests;

pub use config::{CachePolicy, Config};

/// The overlay's inode numbers (as upstream names them).
pub type Inode = u64;
/// The overlay's handle numbers (as upstream names them).
pub type Handle = u64;
/// The longest file name the overlay accepts, in bytes (with the NUL).
pub const MAXNAMELEN: usize = 256;
/// The name of a directory itself.
pub const CURRENT_DIR: &str = ".";
/// The name of a directory's parent.
pub const PARENT_DIR: &str = "..";
/// The largest buffer the overlay allocates for one copy step, in bytes (1 MiB).
pub const MAXBUFSIZE: usize = 1 << 20;

/// A layer as upstream's [`OverlayFs::new`] takes it: boxed, `u64` inodes and handles.
pub type BoxedLayer = Box<dyn Layer<Inode = Inode, Handle = Handle> + Send + Sync>;
/// A layer as [`OverlayFs::with_layers`] takes it (behind an `Arc`), without the box.
pub type DynLayer = dyn Layer<Inode = Inode, Handle = Handle> + Send + Sync;

use handles::HandleTable;
use inode::{InodeStore, NodeState, OverlayInode, RealInode};
use layer_ops::{layer_lookup, XattrNames};

/// Inode numbers seen by the client: each layer's host filesystem gets an index, and
/// with more than one filesystem the index goes into the top bits (like the kernel's
/// `xino`), so that equal host inode numbers on different filesystems stay distinct.
#[derive(Default)]
struct Xino {
    /// Filesystem index of each layer.
    fs_of: Vec<u64>,
    /// Bits the filesystem index is shifted by; 0 when all layers share one filesystem.
    shift: u32,
    /// Host device of each layer.
    devs: Vec<u64>,
}

/// The directories of the work area, all in the upper layer's inode space.
pub(crate) struct WorkDirs {
    /// `WORKDIR/work`: copies being built, trees being removed.
    pub tmp: Arc<RealInode>,
    /// `WORKDIR/index`: copied-up hard links, by lower identity.
    pub index: Arc<RealInode>,
    /// `WORKDIR` itself (pinned for the overlay's lifetime).
    _base: RealInode,
}

/// The union of an optional upper layer and one or more lower layers.
pub struct OverlayFs {
    cfg: Config,
    /// Upper layer first (when there is one), then the lower layers, top first.
    layers: Vec<Arc<DynLayer>>,
    has_upper: bool,
    names: XattrNames,
    inodes: InodeStore,
    handles: HandleTable,
    work: RwLock<Option<Arc<WorkDirs>>>,
    xino: RwLock<Xino>,
    next_tmp: AtomicU64,
    writeback: AtomicBool,
}

fn ctx() -> Context {
    Context::new()
}

impl OverlayFs {
    /// Creates the overlay from boxed layers (upstream's signature); the same as
    /// [`with_layers`](Self::with_layers), to which it hands the layers unchanged.
    ///
    /// # Errors
    ///
    /// As [`with_layers`](Self::with_layers).
    pub fn new(
        upper: Option<Arc<BoxedLayer>>,
        lowers: Vec<Arc<BoxedLayer>>,
        params: Config,
    ) -> io::Result<Self> {
        let upper = upper.map(|l| l as Arc<DynLayer>);
        let lowers = lowers.into_iter().map(|l| l as Arc<DynLayer>).collect();
        Self::with_layers(upper, lowers, params)
    }

    /// Creates the overlay; builds the root right away when `params.do_import`.
    ///
    /// `lowers` are listed top first, as in the kernel's `lowerdir=`. Without `upper` the
    /// overlay is read-only; with one, `params.work` must name the work directory.
    ///
    /// # Errors
    ///
    /// EINVAL without lower layers, or with an upper layer but no work directory; the
    /// errors of [`import`](Self::import).
    pub fn with_layers(
        upper: Option<Arc<DynLayer>>,
        lowers: Vec<Arc<DynLayer>>,
        params: Config,
    ) -> io::Result<OverlayFs> {
        if lowers.is_empty() || (upper.is_some() && params.work.is_empty()) {
            return Err(err(libc::EINVAL));
        }
        let has_upper = upper.is_some();
        let layers: Vec<_> = upper.into_iter().chain(lowers).collect();
        let fs = OverlayFs {
            names: XattrNames::new(params.userxattr),
            cfg: params,
            layers,
            has_upper,
            inodes: InodeStore::new(),
            handles: HandleTable::new(),
            work: RwLock::new(None),
            xino: RwLock::new(Xino::default()),
            next_tmp: AtomicU64::new(1),
            writeback: AtomicBool::new(false),
        };
        if fs.cfg.do_import {
            fs.import()?;
        }
        Ok(fs)
    }

    /// The overlay's root inode ([`ROOT_ID`]).
    pub fn root_inode(&self) -> Inode {
        ROOT_ID
    }

    /// Builds the root from the layers' roots, attaches the work directory (creating
    /// `work/` and `index/` in it) and empties `work/` of whatever a crash left there.
    /// Does nothing when the root is already there.
    pub fn import(&self) -> io::Result<()> {
        if self.inodes.get(ROOT_ID).is_ok() {
            return Ok(());
        }
        let mut devs = Vec::with_capacity(self.layers.len());
        let mut roots = Vec::with_capacity(self.layers.len());
        for (idx, layer) in self.layers.iter().enumerate() {
            let root = RealInode::borrowed(layer, idx, layer.root_inode());
            let st = root.stat()?;
            if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                return Err(err(libc::ENOTDIR));
            }
            devs.push(st.st_dev);
            roots.push((Arc::new(root), st));
        }
        self.set_xino(&devs);
        if self.has_upper {
            self.attach_work()?;
            self.clean_work()?;
        }
        let (top, top_st) = roots
            .iter()
            .find(|(r, _)| !self.is_upper(r.idx))
            .or(roots.first())
            .cloned()
            .ok_or_else(|| err(libc::EINVAL))?;
        let st_ino = self.map_ino(top.idx, top_st.st_ino);
        let mut all = roots.into_iter().map(|(r, _)| r);
        let upper = if self.has_upper { all.next() } else { None };
        let state = NodeState {
            upper,
            lowers: all.collect(),
            parent: None,
            name: CString::default(),
            opaque: false,
            redirect: None,
            indexed: false,
            shared_lower: false,
            nlink_delta: None,
            origin: None,
            removed: false,
        };
        self.inodes
            .insert_root(OverlayInode::new(ROOT_ID, libc::S_IFDIR, st_ino, state));
        info!(
            "overlay {}: {} lower layer(s), {}",
            self.cfg.mountpoint,
            self.layers.len() - usize::from(self.has_upper),
            if self.has_upper {
                "writable"
            } else {
                "read-only"
            }
        );
        Ok(())
    }

    fn set_xino(&self, devs: &[u64]) {
        let mut distinct: Vec<u64> = Vec::new();
        let fs_of = devs
            .iter()
            .map(|d| match distinct.iter().position(|x| x == d) {
                Some(i) => i as u64,
                None => {
                    distinct.push(*d);
                    (distinct.len() - 1) as u64
                }
            })
            .collect();
        let shift = if distinct.len() > 1 {
            let bits = u64::BITS - (distinct.len() as u64 - 1).leading_zeros();
            u64::BITS - bits
        } else {
            0
        };
        *self.xino.write().unwrap_or_else(|p| p.into_inner()) = Xino {
            fs_of,
            shift,
            devs: devs.to_vec(),
        };
    }

    /// The inode number the client sees for host inode `ino` of layer `idx`.
    pub(crate) fn map_ino(&self, idx: usize, ino: u64) -> u64 {
        let x = self.xino.read().unwrap_or_else(|p| p.into_inner());
        if x.shift == 0 {
            return ino;
        }
        let fs = x.fs_of.get(idx).copied().unwrap_or(0);
        // Host inode numbers that use the top bits themselves keep only their low bits:
        // distinct files may then share a number (documented).
        (ino & ((1u64 << x.shift) - 1)) | (fs << x.shift)
    }

    /// The inode number the client sees for a lower file known by its host identity
    /// (from our origin attribute); `None` when no lower layer is on that device.
    pub(crate) fn origin_ino(&self, origin: (u64, u64)) -> Option<u64> {
        let idx = {
            let x = self.xino.read().unwrap_or_else(|p| p.into_inner());
            x.devs
                .iter()
                .enumerate()
                .position(|(i, d)| *d == origin.0 && !self.is_upper(i))?
        };
        Some(self.map_ino(idx, origin.1))
    }

    /// Opens `WORKDIR`, `WORKDIR/work` and `WORKDIR/index` in the upper layer.
    fn attach_work(&self) -> io::Result<()> {
        let upper = self.upper_layer()?;
        let base_ino = upper.attach_work_dir(Path::new(&self.cfg.work))?;
        let base = RealInode::owned(upper, 0, base_ino);
        let sub = |name: &std::ffi::CStr| -> io::Result<Arc<RealInode>> {
            let (ri, st) = match layer_lookup(&base, name)? {
                Some(found) => found,
                None => {
                    let e = upper.mkdir(&ctx(), base.ino, name, 0o700, 0)?;
                    layer_ops::adopt(&base, e)
                }
            };
            if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                return Err(err(libc::ENOTDIR));
            }
            Ok(Arc::new(ri))
        };
        let tmp = sub(c"work")?;
        let index = sub(c"index")?;
        *self.work.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(WorkDirs {
            tmp,
            index,
            _base: base,
        }));
        Ok(())
    }

    pub(crate) fn is_upper(&self, idx: usize) -> bool {
        self.has_upper && idx == 0
    }

    /// The upper layer; EROFS for a read-only overlay.
    pub(crate) fn upper_layer(&self) -> io::Result<&Arc<DynLayer>> {
        if !self.has_upper {
            return Err(err(libc::EROFS));
        }
        self.layers.first().ok_or_else(|| err(libc::EROFS))
    }

    pub(crate) fn workdirs(&self) -> io::Result<Arc<WorkDirs>> {
        self.work
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| err(libc::EROFS))
    }

    /// A fresh name in `WORKDIR/work` (the kernel's `#N` style).
    pub(crate) fn temp_name(&self) -> CString {
        let n = self.next_tmp.fetch_add(1, Ordering::Relaxed);
        CString::new(format!("#{n:x}")).unwrap_or_default()
    }

    pub(crate) fn root(&self) -> io::Result<Arc<OverlayInode>> {
        self.inodes.get(ROOT_ID)
    }

    /// The root's lower directories (where absolute redirects start).
    pub(crate) fn root_lowers(&self) -> io::Result<Vec<Arc<RealInode>>> {
        Ok(self.root()?.lowers())
    }

    pub(crate) fn config(&self) -> &Config {
        &self.cfg
    }

    pub(crate) fn names(&self) -> &XattrNames {
        &self.names
    }

    /// `(attr timeout, entry timeout)` for a node.
    pub(crate) fn timeouts(&self, node: &OverlayInode) -> (Duration, Duration) {
        let s = node.read();
        // A directory in one lower layer only shows its real link count; once copied up
        // (for a change below it) it is merged and shows 1, and the client must see that.
        let attr = if node.is_dir() && s.upper.is_none() && s.lowers.len() == 1 {
            Duration::ZERO
        } else {
            self.cfg.attr_timeout
        };
        // Each path walk to a lower file with several links must reach us: to know
        // which name a later write came through (see copy_up.rs on hard links), and,
        // without the index, because copying one name up splits it from the others.
        let entry = if s.indexed || s.shared_lower {
            Duration::ZERO
        } else {
            self.cfg.entry_timeout
        };
        (attr, entry)
    }

    pub(crate) fn entry_for(&self, node: &OverlayInode, st: libc::stat64) -> Entry {
        let (attr_timeout, entry_timeout) = self.timeouts(node);
        Entry {
            inode: node.ino,
            generation: 0,
            attr: st,
            attr_flags: 0,
            attr_timeout,
            entry_timeout,
        }
    }

    fn clear_state(&self) {
        self.handles.clear();
        self.inodes.clear();
        *self.work.write().unwrap_or_else(|p| p.into_inner()) = None;
        debug!("overlay {}: state dropped", self.cfg.mountpoint);
    }
}

/// Lets a [`Vfs`](crate::api::vfs::Vfs) serve the overlay at a mount point.
impl crate::api::vfs::BackendFileSystem for OverlayFs {
    fn mount(&self) -> io::Result<(Entry, u64)> {
        self.import()?;
        let root = self.root()?;
        let st = self.node_stat(&root)?;
        Ok((self.entry_for(&root, st), crate::api::vfs::VFS_MAX_INO))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
