//! Saving and restoring the tables of a [`PassthroughFs`] (feature `persist`), so that a
//! new process can keep serving the node IDs and file handles the kernel already holds.
//!
//! # What is saved
//!
//! - The root's host identity (device and inode number), checked on restore: the state
//!   only loads into a driver sharing the same directory.
//! - Every inode the kernel knows: node ID, generation, host identity, file type, lookup
//!   count, whether new lookups find it by host identity, and how to reach its file again:
//!   - its **file handle** (`name_to_handle_at` bytes, type and mount ID) for inodes kept
//!     as handles ([`Config::inode_file_handles`](super::Config::inode_file_handles));
//!   - otherwise (`O_PATH` inodes) its **path relative to the shared root**, as the kernel
//!     reports it for the inode's descriptor at save time.
//! - The descriptors of the mounts below the root that file handles need (`mount_fd`),
//!   by mount ID and path relative to the root.
//! - Every open handle: its number, node ID, whether it is a directory, and the open
//!   file's access mode and status flags (`F_GETFL`: `O_APPEND`, `O_NONBLOCK`, ...).
//! - The counters that number new inodes, generations and handles, so numbers are never
//!   handed out twice.
//!
//! # Restoring
//!
//! [`PassthroughFs::restore_from_bytes`] loads the state into a fresh driver, after its
//! root was imported and before it serves. Each inode is opened again, by file handle
//! (`open_by_handle_at`) or by walking its saved path one component at a time with
//! `O_NOFOLLOW`, and is kept only if the file found has the saved device, inode number
//! and type. Each open handle is reopened from its inode with its saved flags (never
//! `O_TRUNC` or `O_CREAT`). An inode whose file cannot be found that way (deleted,
//! replaced, or moved away from its saved path) stays known under its node ID but
//! answers ESTALE until the kernel forgets it, and so do the open handles on it: a saved
//! number never leads to another file.
//!
//! Not carried over: locks held through the old process's descriptors (they went with
//! its files), the descriptors of files deleted on the host that the old process kept
//! reachable (those inodes answer ESTALE), and requests the old process had read but not
//! answered (stop serving only when idle).
//!
//! # Trust
//!
//! The state is the daemon's own, as trusted as its configuration: a file handle in it
//! is opened as given, and may name any file on the shared filesystem. Keep saved states
//! where only the daemon can write them. Malformed bytes are refused before anything is
//! opened; the envelope's checksum catches accidental corruption.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use log::{debug, info};
use serde::{Deserialize, Serialize};
use vm_memory::bitmap::BitmapSlice;

use super::file_handle::FileHandle;
use super::handles::HandleData;
use super::inode_store::{InodeData, InodeHandle, InodeId, InodeRecord};
use super::{FdName, PassthroughFs};
use crate::abi::fuse_abi::ROOT_ID;
use crate::api::vfs::VFS_MAX_INO;
use crate::persist::{self as envelope, Kind, PersistError};
use crate::sys;

const KIND: Kind = Kind {
    name: "passthrough",
    magic: b"FBRSPTFS",
    version: 1,
};

/// Open flags a restored handle keeps; everything else (O_CREAT, O_TRUNC, O_EXCL, ...)
/// acted at the original open only.
const KEPT_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_DSYNC
    | libc::O_SYNC
    | libc::O_NOATIME
    | libc::O_DIRECT
    | libc::O_LARGEFILE;

#[derive(Clone, Copy, Serialize, Deserialize)]
struct SavedId {
    ino: u64,
    dev: u64,
    mnt: u64,
}

/// How a saved inode's file is found again.
#[derive(Serialize, Deserialize)]
enum Reach {
    /// By file handle, opened through the descriptor of mount `mnt_id`.
    Handle {
        mnt_id: u64,
        handle_type: i32,
        bytes: Vec<u8>,
    },
    /// By path relative to the shared root ("a/b/c").
    Path(Vec<u8>),
    /// Not at all: the file was gone at save time.
    Gone,
}

#[derive(Serialize, Deserialize)]
struct SavedInode {
    inode: u64,
    generation: u64,
    id: SavedId,
    file_type: u32,
    refcount: u64,
    indexed: bool,
    reach: Reach,
}

#[derive(Serialize, Deserialize)]
struct SavedHandle {
    handle: u64,
    inode: u64,
    dir: bool,
    flags: i32,
}

#[derive(Serialize, Deserialize)]
struct SavedMount {
    mnt_id: u64,
    path: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct SavedFs {
    root: SavedId,
    next_virtual: u64,
    next_generation: u64,
    next_handle: u64,
    mounts: Vec<SavedMount>,
    inodes: Vec<SavedInode>,
    handles: Vec<SavedHandle>,
}

fn invalid_input(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

fn inconsistent(what: &'static str) -> io::Error {
    PersistError::Inconsistent(what).into()
}

const FILE_TYPES: [u32; 7] = [
    libc::S_IFREG,
    libc::S_IFDIR,
    libc::S_IFLNK,
    libc::S_IFCHR,
    libc::S_IFBLK,
    libc::S_IFIFO,
    libc::S_IFSOCK,
];

/// The components of a saved relative path, each a single ordinary name.
fn components(path: &[u8]) -> Option<Vec<CString>> {
    if path.is_empty() {
        return Some(Vec::new());
    }
    path.split(|&b| b == b'/')
        .map(|c| {
            let name = CString::new(c).ok()?;
            super::check_name(&name).ok()?;
            Some(name)
        })
        .collect()
}

/// Checks everything that does not need the host: numbering, references, lengths.
fn check(s: &SavedFs) -> io::Result<()> {
    if s.next_virtual > VFS_MAX_INO {
        return Err(inconsistent("inode counter out of range"));
    }
    let mut inodes = HashSet::with_capacity(s.inodes.len());
    for i in &s.inodes {
        if i.inode <= ROOT_ID || i.inode > VFS_MAX_INO || !inodes.insert(i.inode) {
            return Err(inconsistent("invalid or repeated node ID"));
        }
        // Generations are 32 bits (the store never makes larger ones).
        if i.refcount == 0
            || !FILE_TYPES.contains(&i.file_type)
            || u32::try_from(i.generation).is_err()
        {
            return Err(inconsistent("invalid inode record"));
        }
        let ok = match &i.reach {
            Reach::Handle { bytes, .. } => {
                !bytes.is_empty() && bytes.len() <= libc::MAX_HANDLE_SZ as usize
            }
            Reach::Path(p) => components(p).is_some(),
            Reach::Gone => true,
        };
        if !ok {
            return Err(inconsistent("invalid file handle or path"));
        }
    }
    for m in &s.mounts {
        if components(&m.path).is_none() {
            return Err(inconsistent("invalid mount path"));
        }
    }
    let mut handles = HashSet::with_capacity(s.handles.len());
    for h in &s.handles {
        if h.handle == 0 || h.handle >= s.next_handle || !handles.insert(h.handle) {
            return Err(inconsistent("invalid or repeated handle number"));
        }
        if h.inode != ROOT_ID && !inodes.contains(&h.inode) {
            return Err(inconsistent("handle on an unknown inode"));
        }
    }
    Ok(())
}

/// One inode found again (or not), before it is committed.
struct Found {
    data: Arc<InodeData>,
    refcount: u64,
    indexed: bool,
    /// The verified descriptor, for reopening handles and seeding the fd cache.
    fd: Option<Arc<OwnedFd>>,
}

impl<S: BitmapSlice + Send + Sync> PassthroughFs<S> {
    /// Saves the inode and handle tables (see [Live takeover](crate::passthrough#live-takeover)) for
    /// [`restore_from_bytes`](Self::restore_from_bytes) in a driver that takes the FUSE
    /// session over. Call it once the session's requests are no longer served.
    ///
    /// # Errors
    /// EBADF before [`import`](Self::import); the errors of reading an open file's flags
    /// or the root's path.
    pub fn save_to_bytes(&self) -> io::Result<Vec<u8>> {
        let root = self.inode_data(ROOT_ID)?;
        let root_fd = self.inode_fd(&root)?;
        let root_path = self.host_path(root_fd.as_fd())?;
        let (records, next_virtual, next_generation) = self.inodes.snapshot();
        let mut inodes = Vec::with_capacity(records.len());
        for r in records {
            let d = &r.data;
            let reach = match &d.handle {
                InodeHandle::Handle(h) => {
                    let (handle_type, bytes) = h.parts();
                    Reach::Handle {
                        mnt_id: h.mnt_id(),
                        handle_type,
                        bytes: bytes.to_vec(),
                    }
                }
                InodeHandle::Fd(fd) => self.path_reach(fd.as_fd(), &root_path),
                InodeHandle::Stale => Reach::Gone,
            };
            inodes.push(SavedInode {
                inode: d.inode,
                generation: d.generation(),
                id: SavedId {
                    ino: d.id.ino,
                    dev: u64::from(d.id.dev),
                    mnt: u64::from(d.id.mnt),
                },
                file_type: d.file_type(),
                refcount: r.refcount,
                indexed: r.indexed,
                reach,
            });
        }
        let mut mounts = Vec::new();
        for (mnt_id, fd) in self.mount_fds.entries() {
            match self.host_path(fd.as_fd()).map(|p| relative(&p, &root_path)) {
                Ok(Some(path)) => mounts.push(SavedMount { mnt_id, path }),
                _ => debug!("mount {mnt_id} is not below the shared root; not saved"),
            }
        }
        let (open, next_handle) = self.handles.snapshot();
        let mut handles = Vec::with_capacity(open.len());
        for (handle, h) in open {
            handles.push(SavedHandle {
                handle,
                inode: h.inode,
                dir: h.dir.is_some(),
                flags: sys::fcntl_getfl(h.file.as_fd())?,
            });
        }
        let saved = SavedFs {
            root: SavedId {
                ino: root.id.ino,
                dev: u64::from(root.id.dev),
                mnt: u64::from(root.id.mnt),
            },
            next_virtual,
            next_generation,
            next_handle,
            mounts,
            inodes,
            handles,
        };
        Ok(envelope::seal(&KIND, &saved)?)
    }

    /// Loads a state saved by [`save_to_bytes`](Self::save_to_bytes) into this driver,
    /// which must have imported its root (the same host directory as the saved one) and
    /// must not have served anything yet. See [Live takeover](crate::passthrough#live-takeover) for how
    /// inodes and handles are found again, and which answer ESTALE.
    ///
    /// # Errors
    /// `InvalidData` for bytes that are not a saved state of this format version
    /// (truncated, corrupted, another version or kind) or that describe an impossible
    /// table; `InvalidInput` when the state was saved for another root directory, keeps
    /// inodes as file handles and this driver cannot use them, or this driver already
    /// knows inodes or open files; EBADF before [`import`](Self::import). On error
    /// nothing changes.
    pub fn restore_from_bytes(&self, buf: &[u8]) -> io::Result<()> {
        let saved: SavedFs = envelope::open(&KIND, buf)?;
        check(&saved)?;
        let root = self.inode_data(ROOT_ID)?;
        if (root.id.ino, u64::from(root.id.dev)) != (saved.root.ino, saved.root.dev) {
            return Err(invalid_input(
                "the state was saved for another shared directory",
            ));
        }
        let by_handle = saved
            .inodes
            .iter()
            .any(|i| matches!(i.reach, Reach::Handle { .. }));
        if by_handle && !self.use_handles.load(Ordering::Relaxed) {
            return Err(invalid_input(
                "the state keeps inodes as file handles, which this driver cannot use \
                 (Config::inode_file_handles, CAP_DAC_READ_SEARCH)",
            ));
        }
        if !self.inodes.snapshot().0.is_empty() || !self.handles.snapshot().0.is_empty() {
            return Err(invalid_input(
                "restore into a driver that already knows inodes or open files",
            ));
        }
        let root_fd = self.inode_fd(&root)?;

        // Find everything again; nothing is committed until it all is.
        let mut mounts: HashMap<u64, Arc<OwnedFd>> = HashMap::new();
        for m in &saved.mounts {
            if self.mount_fds.get(m.mnt_id).is_some() {
                continue;
            }
            if let Some(fd) = self.find_mount(root_fd.as_fd(), m) {
                mounts.insert(m.mnt_id, Arc::new(fd));
            }
        }
        let mut found: HashMap<u64, Found> = HashMap::with_capacity(saved.inodes.len());
        let (mut max_inode, mut max_gen) = (0, 0);
        for i in saved.inodes {
            max_inode = max_inode.max(i.inode);
            max_gen = max_gen.max(i.generation);
            let (handle, fd, id) = self.find_inode(root_fd.as_fd(), &i, &mounts);
            // `check` refused generations past 32 bits.
            let generation = u32::try_from(i.generation).unwrap_or(u32::MAX);
            let data = InodeData::restored(i.inode, generation, id, i.file_type, handle);
            found.insert(
                i.inode,
                Found {
                    data: Arc::new(data),
                    refcount: i.refcount,
                    indexed: i.indexed,
                    fd,
                },
            );
        }
        let mut open = Vec::new();
        let mut stale = Vec::new();
        for h in &saved.handles {
            match self.reopen_saved(h, &root, &found) {
                Ok(file) => {
                    let hd = if h.dir {
                        HandleData::dir(h.inode, file)
                    } else {
                        HandleData::file(h.inode, file)
                    };
                    open.push((h.handle, hd));
                }
                Err(e) => {
                    debug!("handle {} of inode {} is stale: {e}", h.handle, h.inode);
                    stale.push(h.handle);
                }
            }
        }

        let mut cached = Vec::new();
        let records: Vec<InodeRecord> = found
            .into_values()
            .map(|f| {
                if let (Some(fd), InodeHandle::Handle(_)) = (&f.fd, &f.data.handle) {
                    cached.push(((f.data.inode, f.data.generation()), fd.clone()));
                }
                InodeRecord {
                    data: f.data,
                    refcount: f.refcount,
                    indexed: f.indexed,
                }
            })
            .collect();
        let (inodes, stale_inodes) = (
            records.len(),
            records
                .iter()
                .filter(|r| matches!(r.data.handle, InodeHandle::Stale))
                .count(),
        );
        let next_virtual = saved.next_virtual.max(max_inode.saturating_add(1));
        let next_generation = saved.next_generation.max(max_gen.saturating_add(1));
        self.inodes
            .restore(records, next_virtual, next_generation)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EBUSY) => invalid_input("the driver started serving meanwhile"),
                _ => inconsistent("two inodes with one host identity"),
            })?;
        for (mnt_id, fd) in mounts {
            if let Ok(fd) = Arc::try_unwrap(fd) {
                self.mount_fds.insert(mnt_id, fd);
            }
        }
        for (key, fd) in cached {
            self.fd_cache.insert(key, fd);
        }
        let handles = (open.len(), stale.len());
        self.handles
            .restore(open, stale, saved.next_handle)
            .map_err(|_| invalid_input("the driver started serving meanwhile"))?;
        info!(
            "passthrough: restored {inodes} inodes ({stale_inodes} stale) and {} handles \
             ({} stale)",
            handles.0 + handles.1,
            handles.1
        );
        Ok(())
    }

    /// Where the file `fd` refers to is now, as the kernel reports it.
    fn host_path(&self, fd: BorrowedFd<'_>) -> io::Result<Vec<u8>> {
        let name = FdName::new(fd);
        let mut buf = vec![0u8; libc::PATH_MAX as usize];
        let n = sys::readlinkat(self.proc_self_fd.as_fd(), name.relative(), &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// How to find the `O_PATH` inode `fd` again: its path below the root, unless the
    /// file is deleted or lies elsewhere.
    fn path_reach(&self, fd: BorrowedFd<'_>, root_path: &[u8]) -> Reach {
        match sys::fstat64(fd) {
            Ok(st) if st.st_nlink > 0 => {}
            _ => return Reach::Gone,
        }
        match self.host_path(fd).map(|p| relative(&p, root_path)) {
            Ok(Some(p)) => Reach::Path(p),
            _ => Reach::Gone,
        }
    }

    /// Opens the saved relative `path` below `root` without following symlinks.
    fn walk(&self, root: BorrowedFd<'_>, path: &[u8]) -> io::Result<OwnedFd> {
        let names = components(path).ok_or_else(|| crate::errno::err(libc::EINVAL))?;
        let mut cur = sys::openat(root, c".", libc::O_PATH | libc::O_DIRECTORY, 0)?;
        for name in names {
            cur = sys::openat(cur.as_fd(), &name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
        }
        Ok(cur)
    }

    /// The directory of mount `m` (verified by its mount ID), opened to serve as a
    /// `mount_fd`.
    fn find_mount(&self, root: BorrowedFd<'_>, m: &SavedMount) -> Option<OwnedFd> {
        let fd = self.walk(root, &m.path).ok()?;
        let (st, mnt_id) = self.stat_ext(fd.as_fd()).ok()?;
        if mnt_id != m.mnt_id || st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            debug!("mount {} is no longer at its saved path", m.mnt_id);
            return None;
        }
        self.open_dir_for_mount(fd.as_fd()).ok()
    }

    /// Finds the file of saved inode `i` and checks it is the same one: the way to reach
    /// it (or [`InodeHandle::Stale`]), its verified descriptor and its identity.
    fn find_inode(
        &self,
        root: BorrowedFd<'_>,
        i: &SavedInode,
        mounts: &HashMap<u64, Arc<OwnedFd>>,
    ) -> (InodeHandle, Option<Arc<OwnedFd>>, InodeId) {
        let saved_id = InodeId::new(i.id.ino, i.id.dev, i.id.mnt);
        let opened = match &i.reach {
            Reach::Handle {
                mnt_id,
                handle_type,
                bytes,
            } => FileHandle::from_parts(*mnt_id, *handle_type, bytes).and_then(|h| {
                let mount_fd = mounts
                    .get(mnt_id)
                    .cloned()
                    .or_else(|| self.mount_fds.get(*mnt_id))?;
                let fd = h.open(mount_fd.as_fd(), libc::O_PATH).ok()?;
                Some((Some(h), fd))
            }),
            Reach::Path(p) => self.walk(root, p).ok().map(|fd| (None, fd)),
            Reach::Gone => None,
        };
        let Some((handle, fd)) = opened else {
            debug!("inode {} is stale: its file is gone", i.inode);
            return (InodeHandle::Stale, None, saved_id);
        };
        let same = match self.stat_ext(fd.as_fd()) {
            Ok((st, mnt)) => {
                let same_file = st.st_ino == i.id.ino
                    && st.st_dev == i.id.dev
                    && st.st_mode & libc::S_IFMT == i.file_type;
                same_file.then(|| self.inode_id(&st, mnt))
            }
            Err(_) => None,
        };
        let Some(id) = same else {
            debug!("inode {} is stale: another file took its place", i.inode);
            return (InodeHandle::Stale, None, saved_id);
        };
        match handle {
            Some(h) => (InodeHandle::Handle(h), Some(Arc::new(fd)), id),
            // Found by path: the descriptor itself is how the inode is reached.
            None => (InodeHandle::Fd(fd), None, id),
        }
    }

    /// Reopens saved handle `h` from its inode's verified descriptor, with its saved
    /// flags (regular files and directories only, as [`reopen`](Self::reopen) does).
    fn reopen_saved(
        &self,
        h: &SavedHandle,
        root: &InodeData,
        found: &HashMap<u64, Found>,
    ) -> io::Result<File> {
        let root_fd;
        let (fd, file_type) = if h.inode == ROOT_ID {
            root_fd = self.inode_fd(root)?;
            (root_fd.as_fd(), root.file_type())
        } else {
            let f = found
                .get(&h.inode)
                .ok_or_else(|| crate::errno::err(libc::ESTALE))?;
            let fd = match (&f.data.handle, &f.fd) {
                (InodeHandle::Fd(fd), _) => fd.as_fd(),
                (_, Some(fd)) => fd.as_fd(),
                _ => return Err(crate::errno::err(libc::ESTALE)),
            };
            (fd, f.data.file_type())
        };
        let flags = if h.dir {
            libc::O_RDONLY | libc::O_DIRECTORY
        } else {
            h.flags & KEPT_FLAGS
        };
        if h.dir != (file_type == libc::S_IFDIR)
            || !matches!(file_type, libc::S_IFREG | libc::S_IFDIR)
        {
            return Err(crate::errno::err(libc::ENXIO));
        }
        let flags = if self.config().allow_direct_io {
            flags
        } else {
            flags & !libc::O_DIRECT
        };
        let name = FdName::new(fd);
        let file = sys::openat(self.proc_self_fd.as_fd(), name.relative(), flags, 0)?;
        Ok(File::from(file))
    }
}

/// `path` relative to `root` ("" for the root itself), or `None` when it lies elsewhere.
fn relative(path: &[u8], root: &[u8]) -> Option<Vec<u8>> {
    if path == root {
        return Some(Vec::new());
    }
    let rest = if root == b"/" {
        path.strip_prefix(b"/")?
    } else {
        path.strip_prefix(root)?.strip_prefix(b"/")?
    };
    Some(rest.to_vec())
}
