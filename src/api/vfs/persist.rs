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
//! The format is this crate's own: a magic, a format version, then little-endian fields.
//! Malformed bytes give [`VfsError::Persist`], never a panic.
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

use super::{
    split_path, BackFileSystem, MountedFs, Table, Vfs, VfsError, VfsIndex, VfsOptions, VfsResult,
    MAX_BACKENDS, VFS_MAX_INO,
};
use crate::abi::fuse_abi::FsOptions;
use crate::api::pseudo_fs::SavedNode;
use crate::errno::err;

const MAGIC: &[u8; 8] = b"FBRSVFS\0";
const VERSION: u32 = 1;

fn persist_err(what: &str) -> VfsError {
    VfsError::Persist(what.to_string())
}

/// Appends little-endian fields.
#[derive(Default)]
struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bytes(&mut self, b: &[u8]) -> VfsResult<()> {
        let len = u16::try_from(b.len()).map_err(|_| persist_err("name too long"))?;
        self.u16(len);
        self.0.extend_from_slice(b);
        Ok(())
    }
}

/// Reads little-endian fields, failing at the end of the input.
struct Dec<'a>(&'a [u8]);

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> VfsResult<&'a [u8]> {
        if self.0.len() < n {
            return Err(persist_err("truncated state"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> VfsResult<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> VfsResult<u8> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> VfsResult<u16> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> VfsResult<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> VfsResult<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    fn bytes(&mut self) -> VfsResult<&'a [u8]> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    /// A count of records of at least `min` bytes each, checked against what is left.
    fn count(&mut self, n: usize, min: usize) -> VfsResult<usize> {
        if n.saturating_mul(min) > self.0.len() {
            return Err(persist_err("record count beyond the state's length"));
        }
        Ok(n)
    }
}

const OPT_FLAGS: [fn(&mut VfsOptions) -> &mut bool; 6] = [
    |o| &mut o.no_open,
    |o| &mut o.no_opendir,
    |o| &mut o.no_writeback,
    |o| &mut o.no_readdir,
    |o| &mut o.seal_size,
    |o| &mut o.killpriv_v2,
];

fn put_options(e: &mut Enc, mut o: VfsOptions) {
    e.u64(o.in_opts.bits());
    e.u64(o.out_opts.bits());
    let mut flags = 0u8;
    for (bit, f) in OPT_FLAGS.iter().enumerate() {
        if *f(&mut o) {
            flags |= 1 << bit;
        }
    }
    e.u8(flags);
    e.u32(o.id_mapping.0);
    e.u32(o.id_mapping.1);
    e.u32(o.id_mapping.2);
}

fn get_options(d: &mut Dec<'_>) -> VfsResult<VfsOptions> {
    let mut o = VfsOptions {
        in_opts: FsOptions::from_bits_retain(d.u64()?),
        out_opts: FsOptions::from_bits_retain(d.u64()?),
        ..VfsOptions::default()
    };
    let flags = d.u8()?;
    for (bit, f) in OPT_FLAGS.iter().enumerate() {
        *f(&mut o) = flags & (1 << bit) != 0;
    }
    o.id_mapping = (d.u32()?, d.u32()?, d.u32()?);
    Ok(o)
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
    let mut d = Dec(buf);
    if d.take(MAGIC.len())? != MAGIC {
        return Err(persist_err("not a saved vfs state"));
    }
    let version = d.u32()?;
    if version != VERSION {
        return Err(VfsError::Persist(format!(
            "unsupported vfs state version {version}"
        )));
    }
    let opts = get_options(&mut d)?;
    let initialized = d.u8()? != 0;
    let next_idx = d.u8()?;
    let next_ino = d.u64()?;
    let n = d.u32()? as usize;
    let n = d.count(n, 8 + 8 + 2 + 2)?;
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        let ino = d.u64()?;
        let parent = d.u64()?;
        let mount = match (d.u8()?, d.u8()?) {
            (0, _) => None,
            (_, idx) => Some(idx),
        };
        let name = CString::new(d.bytes()?).map_err(|_| persist_err("NUL in a name"))?;
        nodes.push(SavedNode {
            ino,
            parent,
            name,
            mount,
        });
    }
    let n = d.u16()? as usize;
    let n = d.count(n, 1 + 8 + 8)?;
    let mut mounts = Vec::with_capacity(n);
    for _ in 0..n {
        mounts.push((d.u8()?, d.u64()?, d.u64()?));
    }
    let n = d.u16()? as usize;
    let n = d.count(n, 1 + 8)?;
    let mut refs = Vec::with_capacity(n);
    for _ in 0..n {
        refs.push((d.u8()?, d.u64()?));
    }
    if !d.0.is_empty() {
        return Err(persist_err("trailing bytes after the state"));
    }
    // Each mount sits at a pseudo node that names its index, at most once per index.
    let mut seen = [false; MAX_BACKENDS];
    for &(idx, root_ino, mp) in &mounts {
        let at_node = nodes.iter().any(|n| n.ino == mp && n.mount == Some(idx));
        if idx == 0 || seen[idx as usize] || root_ino == 0 || root_ino > VFS_MAX_INO || !at_node {
            return Err(persist_err("inconsistent mount table"));
        }
        seen[idx as usize] = true;
    }
    Ok(State {
        opts,
        initialized,
        next_idx,
        next_ino,
        nodes,
        mounts,
        refs,
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
        let mut e = Enc::default();
        e.0.extend_from_slice(MAGIC);
        e.u32(VERSION);
        put_options(&mut e, self.options());
        e.u8(self.initialized() as u8);
        e.u8(self.next_idx.load(Ordering::Relaxed));
        let (next_ino, nodes) = self
            .pseudo
            .snapshot()
            .map_err(|e| VfsError::Persist(format!("pseudo fs: {e}")))?;
        e.u64(next_ino);
        e.u32(nodes.len() as u32);
        for n in &nodes {
            e.u64(n.ino);
            e.u64(n.parent);
            e.u8(n.mount.is_some() as u8);
            e.u8(n.mount.unwrap_or(0));
            e.bytes(n.name.to_bytes())?;
        }
        // Backends detached since a restore are not mounted here: saving keeps the root
        // inodes still waiting for `restore_mount`.
        let mut mounts: Vec<(VfsIndex, u64, u64)> = self
            .all_mounted()
            .iter()
            .map(|m| (m.idx, m.root_ino, m.mountpoint))
            .collect();
        for &(idx, root) in self
            .restored_roots
            .lock()
            .map_err(|_| persist_err("lock"))?
            .iter()
        {
            if let Some(n) = nodes.iter().find(|n| n.mount == Some(idx)) {
                mounts.push((idx, root, n.ino));
            }
        }
        e.u16(mounts.len() as u16);
        for (idx, root, mp) in mounts {
            e.u8(idx);
            e.u64(root);
            e.u64(mp);
        }
        let refs: Vec<(usize, u64)> = (1..MAX_BACKENDS)
            .map(|i| (i, self.outstanding_lookups(i as VfsIndex)))
            .filter(|&(_, c)| c > 0)
            .collect();
        e.u16(refs.len() as u16);
        for (idx, count) in refs {
            e.u8(idx as u8);
            e.u64(count);
        }
        Ok(e.0)
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
