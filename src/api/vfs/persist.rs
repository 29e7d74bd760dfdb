//! Saving and restoring the state of a [`Vfs`] (feature `persist`), so that a new process
//! can take over a FUSE session and keep answering with the inode numbers the kernel
//! already knows.
//!
//! [`Vfs::save_to_bytes`] records the options (and whether INIT was negotiated), the
//! pseudo directory tree with its inode numbers, the mount table (path, fs index, the
//! backend's root inode) and the lookups the kernel holds per fs index.
//! [`Vfs::restore_from_bytes`] loads them into a fresh Vfs; then
//! [`Vfs::restore_mount`] re-attaches each backend at its old index. A backend's own
//! inode numbers are the backend's to restore (a backend whose numbers come from the
//! host, like the passthrough driver with file handles, gives the same ones again).
//!
//! The bytes are the state serialized with serde and postcard inside this crate's
//! versioned, checksummed envelope (magic `FBRSVFS\0`, format version 2; see
//! `docs/compat.md`). Truncated, corrupted or other-version bytes give
//! [`VfsError::Persist`] saying which, never a panic, and change nothing.
//!
//! A whole takeover also saves the [`Server`](crate::api::server::Server)'s negotiated
//! session and each backend's own tables (for the passthrough driver,
//! [`PassthroughFs::save_to_bytes`](crate::passthrough::PassthroughFs::save_to_bytes));
//! `tests/persist_takeover.rs` does it on a live `/dev/fuse` session.
//!
//! ```
//! # use fuse_backend_rs::api::{Vfs, VfsOptions};
//! let old = Vfs::new(VfsOptions::default());
//! let mut bytes = old.save_to_bytes().unwrap();
//! let new = Vfs::new(VfsOptions::default());
//! new.restore_from_bytes(&mut bytes).unwrap();
//! ```

use std::ffi::CString;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{
    split_path, BackFileSystem, MountedFs, Table, Vfs, VfsError, VfsIndex, VfsOptions, VfsResult,
    MAX_BACKENDS, VFS_MAX_INO,
};
use crate::abi::fuse_abi::FsOptions;
use crate::api::pseudo_fs::SavedNode;
use crate::errno::err;
use crate::persist::{self as envelope, Kind, PersistError};

/// The Vfs state's envelope. Version 1 was this crate's own byte layout (before serde).
const KIND: Kind = Kind {
    name: "vfs",
    magic: b"FBRSVFS\0",
    version: 2,
};

fn persist_err(what: &str) -> VfsError {
    VfsError::Persist(what.to_string())
}

impl From<PersistError> for VfsError {
    fn from(e: PersistError) -> Self {
        VfsError::Persist(e.to_string())
    }
}

/// [`VfsOptions`] as saved.
#[derive(Serialize, Deserialize)]
struct SavedOptions {
    no_open: bool,
    no_opendir: bool,
    no_writeback: bool,
    no_readdir: bool,
    seal_size: bool,
    killpriv_v2: bool,
    in_opts: u64,
    out_opts: u64,
    id_mapping: (u32, u32, u32),
}

impl From<VfsOptions> for SavedOptions {
    fn from(o: VfsOptions) -> Self {
        SavedOptions {
            no_open: o.no_open,
            no_opendir: o.no_opendir,
            no_writeback: o.no_writeback,
            no_readdir: o.no_readdir,
            seal_size: o.seal_size,
            killpriv_v2: o.killpriv_v2,
            in_opts: o.in_opts.bits(),
            out_opts: o.out_opts.bits(),
            id_mapping: o.id_mapping,
        }
    }
}

impl From<SavedOptions> for VfsOptions {
    fn from(o: SavedOptions) -> Self {
        VfsOptions {
            no_open: o.no_open,
            no_opendir: o.no_opendir,
            no_writeback: o.no_writeback,
            no_readdir: o.no_readdir,
            seal_size: o.seal_size,
            killpriv_v2: o.killpriv_v2,
            in_opts: FsOptions::from_bits_retain(o.in_opts),
            out_opts: FsOptions::from_bits_retain(o.out_opts),
            id_mapping: o.id_mapping,
        }
    }
}

/// One pseudo directory as saved.
#[derive(Serialize, Deserialize)]
struct SavedPseudo {
    ino: u64,
    parent: u64,
    name: Vec<u8>,
    /// The fs index mounted on it.
    mount: Option<VfsIndex>,
}

/// One mounted backend as saved.
#[derive(Serialize, Deserialize)]
struct SavedMount {
    idx: VfsIndex,
    /// The backend's root inode.
    root_ino: u64,
    /// The pseudo directory it is mounted on.
    mountpoint: u64,
}

/// Everything [`Vfs::save_to_bytes`] records.
#[derive(Serialize, Deserialize)]
struct SavedVfs {
    options: SavedOptions,
    initialized: bool,
    next_idx: u8,
    next_ino: u64,
    nodes: Vec<SavedPseudo>,
    mounts: Vec<SavedMount>,
    /// (fs index, lookups the kernel holds through it).
    lookups: Vec<(VfsIndex, u64)>,
}

/// The decoded state, checked before any of it is applied.
struct State {
    opts: VfsOptions,
    initialized: bool,
    next_idx: u8,
    next_ino: u64,
    nodes: Vec<SavedNode>,
    /// (fs index, backend root inode, pseudo inode of the mount point).
    mounts: Vec<(VfsIndex, u64, u64)>,
    refs: Vec<(VfsIndex, u64)>,
}

fn decode(buf: &[u8]) -> VfsResult<State> {
    let saved: SavedVfs = envelope::open(&KIND, buf)?;
    let mut nodes = Vec::with_capacity(saved.nodes.len());
    for n in saved.nodes {
        nodes.push(SavedNode {
            ino: n.ino,
            parent: n.parent,
            name: CString::new(n.name).map_err(|_| persist_err("NUL in a name"))?,
            mount: n.mount,
        });
    }
    let mounts: Vec<(VfsIndex, u64, u64)> = saved
        .mounts
        .iter()
        .map(|m| (m.idx, m.root_ino, m.mountpoint))
        .collect();
    // Each mount sits at a pseudo node that names its index, at most once per index.
    let mut seen = [false; MAX_BACKENDS];
    for &(idx, root_ino, mp) in &mounts {
        let at_node = nodes.iter().any(|n| n.ino == mp && n.mount == Some(idx));
        if idx == 0 || seen[idx as usize] || root_ino == 0 || root_ino > VFS_MAX_INO || !at_node {
            return Err(persist_err("inconsistent mount table"));
        }
        seen[idx as usize] = true;
    }
    let mut counted = [false; MAX_BACKENDS];
    for &(idx, _) in &saved.lookups {
        if idx == 0 || counted[idx as usize] {
            return Err(persist_err("inconsistent lookup counts"));
        }
        counted[idx as usize] = true;
    }
    Ok(State {
        opts: saved.options.into(),
        initialized: saved.initialized,
        next_idx: saved.next_idx,
        next_ino: saved.next_ino,
        nodes,
        mounts,
        refs: saved.lookups,
    })
}

impl Vfs {
    /// Saves the state a new process needs to serve the same inode numbers (see the
    /// [module documentation](self)).
    ///
    /// # Errors
    /// [`VfsError::Persist`] when the state cannot be read or a name is too long.
    pub fn save_to_bytes(&self) -> VfsResult<Vec<u8>> {
        let _guard = self
            .control
            .lock()
            .map_err(|_| persist_err("lock poisoned"))?;
        let (next_ino, nodes) = self
            .pseudo
            .snapshot()
            .map_err(|e| VfsError::Persist(format!("pseudo fs: {e}")))?;
        // Backends detached since a restore are not mounted here: saving keeps the root
        // inodes still waiting for `restore_mount`.
        let mut mounts: Vec<SavedMount> = self
            .all_mounted()
            .iter()
            .map(|m| SavedMount {
                idx: m.idx,
                root_ino: m.root_ino,
                mountpoint: m.mountpoint,
            })
            .collect();
        for &(idx, root_ino) in self
            .restored_roots
            .lock()
            .map_err(|_| persist_err("lock"))?
            .iter()
        {
            if let Some(n) = nodes.iter().find(|n| n.mount == Some(idx)) {
                mounts.push(SavedMount {
                    idx,
                    root_ino,
                    mountpoint: n.ino,
                });
            }
        }
        let lookups: Vec<(VfsIndex, u64)> = (1..MAX_BACKENDS)
            .map(|i| (i as VfsIndex, self.outstanding_lookups(i as VfsIndex)))
            .filter(|&(_, c)| c > 0)
            .collect();
        let saved = SavedVfs {
            options: self.options().into(),
            initialized: self.initialized(),
            next_idx: self.next_idx.load(Ordering::Relaxed),
            next_ino,
            nodes: nodes
                .into_iter()
                .map(|n| SavedPseudo {
                    ino: n.ino,
                    parent: n.parent,
                    name: n.name.into_bytes(),
                    mount: n.mount,
                })
                .collect(),
            mounts,
            lookups,
        };
        Ok(envelope::seal(&KIND, &saved)?)
    }

    /// Loads a state saved by [`save_to_bytes`](Self::save_to_bytes) into this Vfs,
    /// which must have nothing mounted. The backends are then re-attached with
    /// [`restore_mount`](Self::restore_mount); until then requests for their inodes
    /// fail with ENOENT.
    ///
    /// # Errors
    /// [`VfsError::Persist`] for bytes that are not a valid state (nothing is changed)
    /// or when a backend is mounted.
    #[allow(clippy::ptr_arg)] // upstream's signature
    pub fn restore_from_bytes(&self, buf: &mut Vec<u8>) -> VfsResult<()> {
        let state = decode(buf)?;
        let _guard = self
            .control
            .lock()
            .map_err(|_| persist_err("lock poisoned"))?;
        if !self.all_mounted().is_empty() {
            return Err(persist_err("restore into a vfs with mounted backends"));
        }
        self.pseudo
            .restore(state.next_ino, state.nodes)
            .map_err(|_| persist_err("invalid pseudo directory tree"))?;
        self.opts.store(Arc::new(state.opts));
        self.initialized.store(state.initialized, Ordering::Release);
        self.next_idx
            .store(state.next_idx.max(1), Ordering::Relaxed);
        for r in &self.refs {
            r.store(0, Ordering::SeqCst);
        }
        for (idx, count) in state.refs {
            self.refs[idx as usize].store(count, Ordering::SeqCst);
        }
        let mut roots = self
            .restored_roots
            .lock()
            .map_err(|_| persist_err("lock"))?;
        *roots = state.mounts.iter().map(|&(i, r, _)| (i, r)).collect();
        Ok(())
    }

    /// Attaches `fs` at `path` with fs index `fs_idx`: after
    /// [`restore_from_bytes`](Self::restore_from_bytes), the index and path the backend
    /// had when the state was saved, so the kernel's inode numbers lead to it again.
    /// Without a restored state it mounts `fs` at that index.
    ///
    /// # Errors
    /// EINVAL for an invalid path or index, for a restored mount at another path than
    /// `path`, or when the backend's root inode differs from the saved one; EEXIST when
    /// the index or the path is taken; the errors of the backend's `mount`.
    pub fn restore_mount(
        &self,
        fs: BackFileSystem,
        fs_idx: VfsIndex,
        path: &str,
    ) -> io::Result<()> {
        let components = split_path(path).map_err(|_| err(libc::EINVAL))?;
        if fs_idx == 0 {
            return Err(err(libc::EINVAL));
        }
        let (entry, max_ino) = fs.mount()?;
        if max_ino > VFS_MAX_INO || entry.inode == 0 || entry.inode > VFS_MAX_INO {
            return Err(err(libc::EINVAL));
        }
        let _guard = self.control.lock().map_err(|_| err(libc::EIO))?;
        if self.mounted(fs_idx).is_some() {
            return Err(err(libc::EEXIST));
        }
        let mut roots = self.restored_roots.lock().map_err(|_| err(libc::EIO))?;
        let saved = roots.iter().position(|&(i, _)| i == fs_idx);
        let mountpoint = match saved {
            Some(pos) => {
                if roots[pos].1 != entry.inode {
                    log::error!(
                        "vfs: backend for index {fs_idx} has root {:#x}, saved {:#x}",
                        entry.inode,
                        roots[pos].1
                    );
                    return Err(err(libc::EINVAL));
                }
                let mp = self
                    .pseudo_mountpoint(fs_idx)
                    .ok_or_else(|| err(libc::EINVAL))?;
                if self.pseudo.path_of(mp).as_deref() != Some(canonical(&components).as_str()) {
                    return Err(err(libc::EINVAL));
                }
                mp
            }
            None => self.pseudo.mount(&components, fs_idx)?,
        };
        if self.initialized() {
            fs.init(self.options().out_opts)?;
        }
        if let Some(pos) = saved {
            roots.remove(pos);
        }
        let mounted = Arc::new(MountedFs {
            idx: fs_idx,
            fs: Arc::new(fs),
            root_ino: entry.inode,
            mountpoint,
        });
        let mut table: Table = (**self.table.load()).clone();
        table[fs_idx as usize] = Some(mounted);
        self.table.store(Arc::new(table));
        log::info!("vfs: restored backend {fs_idx} at {path}");
        Ok(())
    }

    /// The pseudo inode where index `idx` is mounted, from the saved tree.
    fn pseudo_mountpoint(&self, idx: VfsIndex) -> Option<u64> {
        let (_, nodes) = self.pseudo.snapshot().ok()?;
        nodes.iter().find(|n| n.mount == Some(idx)).map(|n| n.ino)
    }
}

/// "/a/b" for the components a, b ("/" for none), as `PseudoFs::path_of` writes it.
fn canonical(components: &[CString]) -> String {
    let parts: Vec<String> = components
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    format!("/{}", parts.join("/"))
}
