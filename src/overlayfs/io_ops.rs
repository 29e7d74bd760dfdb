//! Operations on inodes and open files: OPEN, READ, WRITE, FLUSH, FSYNC, RELEASE,
//! FALLOCATE, LSEEK, COPY_FILE_RANGE, locks, GETATTR, SETATTR, READLINK, STATFS,
//! ACCESS and the extended attribute operations.
//!
//! Reads go to the top object; anything that changes a file copies it up first. An
//! open for writing (or with O_TRUNC) copies up before opening the upper copy, skipping
//! the data when O_TRUNC empties it anyway.

use std::ffi::{CStr, CString};
use std::io;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::handles::{HandleKind, OvlHandle, RealHandle};
use super::inode::OverlayInode;
use super::{ctx, CachePolicy, OverlayFs};
use crate::api::filesystem::{
    Context, FileLock, GetxattrReply, ListxattrReply, OpenOptions, SetattrValid, ZeroCopyReader,
    ZeroCopyWriter,
};
use crate::errno::err;

/// The open(2) flags passed on to the layer.
const PASSED_OPEN_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_TRUNC
    | libc::O_DIRECT
    | libc::O_NONBLOCK
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_NOATIME
    | libc::O_LARGEFILE;

fn wants_write(flags: u32) -> bool {
    let f = flags as i32;
    f & libc::O_ACCMODE != libc::O_RDONLY || f & libc::O_TRUNC != 0
}

impl OverlayFs {
    /// FOPEN_* flags under the cache policy.
    pub(crate) fn open_options(&self, dir: bool) -> OpenOptions {
        match (self.config().cache_policy, dir) {
            (CachePolicy::Never, false) => OpenOptions::DIRECT_IO,
            (CachePolicy::Never | CachePolicy::Auto, _) => OpenOptions::empty(),
            (CachePolicy::Always, false) => OpenOptions::KEEP_CACHE,
            (CachePolicy::Always, true) => OpenOptions::KEEP_CACHE | OpenOptions::CACHE_DIR,
        }
    }

    /// The flags a layer file is opened with: with the writeback cache the kernel reads
    /// pages of write-only files and computes append offsets itself.
    pub(crate) fn host_flags(&self, flags: u32) -> u32 {
        let mut f = flags as i32 & PASSED_OPEN_FLAGS;
        if self.writeback.load(std::sync::atomic::Ordering::Relaxed) {
            if f & libc::O_ACCMODE == libc::O_WRONLY {
                f = (f & !libc::O_ACCMODE) | libc::O_RDWR;
            }
            f &= !libc::O_APPEND;
        }
        f as u32
    }

    pub(crate) fn do_open(
        &self,
        inode: u64,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        let node = self.inodes.get(inode)?;
        if wants_write(flags) {
            if node.is_dir() {
                return Err(err(libc::EISDIR));
            }
            self.upper_layer()?;
            let trunc = flags as i32 & libc::O_TRUNC != 0;
            self.copy_up(&node, None, !trunc)?;
        }
        let real = node.top().ok_or_else(|| err(libc::ESTALE))?;
        let hflags = self.host_flags(flags);
        let (fh, _, _) = real.layer.open(&ctx(), real.ino, hflags, fuse_flags)?;
        let fh = fh.ok_or_else(|| err(libc::EIO))?;
        let dir = node.is_dir();
        let h = self.handles.insert(OvlHandle {
            node,
            flags: hflags,
            kind: HandleKind::File(RwLock::new(Arc::new(RealHandle::new(real, fh, hflags)))),
        });
        Ok((Some(h), self.open_options(dir), None))
    }

    /// The layer handle for I/O on `handle`: a handle on a lower file whose node was
    /// copied up meanwhile is reopened on the copy.
    pub(crate) fn io_handle(&self, inode: u64, handle: u64) -> io::Result<Arc<RealHandle>> {
        let h = self.handles.get(handle, inode)?;
        let real = h.real().ok_or_else(|| err(libc::EISDIR))?;
        if !self.is_upper(real.real.idx) {
            if let Some(up) = h.node.upper() {
                let (fh, _, _) = up.layer.open(&ctx(), up.ino, h.flags, 0)?;
                let fh = fh.ok_or_else(|| err(libc::EIO))?;
                let new = Arc::new(RealHandle::new(up, fh, h.flags));
                h.set_real(new.clone());
                return Ok(new);
            }
        }
        Ok(real)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn do_read(
        &self,
        inode: u64,
        handle: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        flags: u32,
    ) -> io::Result<usize> {
        let r = self.io_handle(inode, handle)?;
        r.real
            .layer
            .read(&ctx(), r.real.ino, r.fh, w, size, offset, lock_owner, flags)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn do_write(
        &self,
        inode: u64,
        handle: u64,
        rd: &mut dyn ZeroCopyReader,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        delayed_write: bool,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<usize> {
        let r = self.io_handle(inode, handle)?;
        r.real.layer.write(
            &ctx(),
            r.real.ino,
            r.fh,
            rd,
            size,
            offset,
            lock_owner,
            delayed_write,
            flags,
            fuse_flags,
        )
    }

    pub(crate) fn do_flush(&self, inode: u64, handle: u64, lock_owner: u64) -> io::Result<()> {
        let r = self.io_handle(inode, handle)?;
        r.real.layer.flush(&ctx(), r.real.ino, r.fh, lock_owner)
    }

    pub(crate) fn do_fsync(&self, inode: u64, datasync: bool, handle: u64) -> io::Result<()> {
        let r = self.io_handle(inode, handle)?;
        r.real.layer.fsync(&ctx(), r.real.ino, datasync, r.fh)
    }

    pub(crate) fn do_release(
        &self,
        inode: u64,
        handle: u64,
        flush: bool,
        flock_release: bool,
        lock_owner: Option<u64>,
    ) -> io::Result<()> {
        let h = self
            .handles
            .remove(handle, inode)
            .ok_or_else(|| err(libc::EBADF))?;
        if let Some(r) = h.real() {
            r.release(flush, flock_release, lock_owner);
        }
        Ok(())
    }

    pub(crate) fn do_fallocate(
        &self,
        inode: u64,
        handle: u64,
        mode: u32,
        offset: u64,
        length: u64,
    ) -> io::Result<()> {
        let r = self.io_handle(inode, handle)?;
        r.real
            .layer
            .fallocate(&ctx(), r.real.ino, r.fh, mode, offset, length)
    }

    pub(crate) fn do_lseek(
        &self,
        inode: u64,
        handle: u64,
        offset: u64,
        whence: u32,
    ) -> io::Result<u64> {
        let r = self.io_handle(inode, handle)?;
        r.real.layer.lseek(&ctx(), r.real.ino, r.fh, offset, whence)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn do_copy_file_range(
        &self,
        inode_in: u64,
        handle_in: u64,
        offset_in: u64,
        inode_out: u64,
        handle_out: u64,
        offset_out: u64,
        len: u64,
        flags: u64,
    ) -> io::Result<usize> {
        let a = self.io_handle(inode_in, handle_in)?;
        let b = self.io_handle(inode_out, handle_out)?;
        if a.real.idx != b.real.idx {
            // Different layers: the kernel falls back to copying through the page cache.
            return Err(err(libc::EXDEV));
        }
        a.real.layer.copy_file_range(
            &ctx(),
            a.real.ino,
            a.fh,
            offset_in,
            b.real.ino,
            b.fh,
            offset_out,
            len,
            flags,
        )
    }

    /// POSIX locks and flocks are taken on the layer file the handle has open.
    pub(crate) fn lock_op<T>(
        &self,
        inode: u64,
        handle: u64,
        f: impl FnOnce(&RealHandle) -> io::Result<T>,
    ) -> io::Result<T> {
        let r = self.io_handle(inode, handle)?;
        f(&r)
    }

    pub(crate) fn do_getlk(
        &self,
        inode: u64,
        handle: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<FileLock> {
        self.lock_op(inode, handle, |r| {
            r.real
                .layer
                .getlk(&ctx(), r.real.ino, r.fh, owner, lock, flags)
        })
    }

    pub(crate) fn do_getattr(&self, inode: u64) -> io::Result<(libc::stat64, Duration)> {
        let node = self.inodes.get(inode)?;
        Ok((self.node_stat(&node)?, self.timeouts(&node).0))
    }

    pub(crate) fn do_setattr(
        &self,
        inode: u64,
        attr: libc::stat64,
        handle: Option<u64>,
        valid: SetattrValid,
    ) -> io::Result<(libc::stat64, Duration)> {
        let node = self.inodes.get(inode)?;
        self.upper_layer()?;
        let data = !(valid.contains(SetattrValid::SIZE) && attr.st_size == 0);
        self.copy_up(&node, None, data)?;
        let up = node.upper().ok_or_else(|| err(libc::EIO))?;
        // The client's handle, if it is open on the upper copy.
        let fh = handle
            .and_then(|h| self.io_handle(inode, h).ok())
            .filter(|r| self.is_upper(r.real.idx))
            .map(|r| r.fh);
        let mut st = up.layer.setattr(&ctx(), up.ino, attr, fh, valid)?.0;
        self.fix_stat(&node, &mut st)?;
        Ok((st, self.timeouts(&node).0))
    }

    pub(crate) fn do_readlink(&self, inode: u64) -> io::Result<Vec<u8>> {
        let node = self.inodes.get(inode)?;
        let real = node.top().ok_or_else(|| err(libc::ESTALE))?;
        real.layer.readlink(&ctx(), real.ino)
    }

    pub(crate) fn do_statfs(&self) -> io::Result<libc::statvfs64> {
        let root = self.root()?;
        let real = root.top().ok_or_else(|| err(libc::ESTALE))?;
        real.layer.statfs(&ctx(), real.ino)
    }

    /// ACCESS (only sent without `default_permissions`). Write access to a lower object
    /// is judged by its mode bits (copy-up will make it writable), and refused on a
    /// read-only overlay.
    pub(crate) fn do_access(&self, c: &Context, inode: u64, mask: u32) -> io::Result<()> {
        let node = self.inodes.get(inode)?;
        let real = node.top().ok_or_else(|| err(libc::ESTALE))?;
        let w = mask & libc::W_OK as u32 != 0;
        if w && !self.has_upper {
            return Err(err(libc::EROFS));
        }
        if !w || self.is_upper(real.idx) {
            return real.layer.access(c, real.ino, mask);
        }
        real.layer
            .access(c, real.ino, mask & !(libc::W_OK as u32))?;
        let st = real.stat()?;
        let bits = if c.uid == 0 {
            0o7
        } else if st.st_uid == c.uid {
            (st.st_mode >> 6) & 7
        } else if st.st_gid == c.gid {
            (st.st_mode >> 3) & 7
        } else {
            st.st_mode & 7
        };
        if bits & 2 == 0 {
            return Err(err(libc::EACCES));
        }
        Ok(())
    }

    pub(crate) fn do_getxattr(
        &self,
        inode: u64,
        name: &CStr,
        size: u32,
    ) -> io::Result<GetxattrReply> {
        let node = self.inodes.get(inode)?;
        let real = node.top().ok_or_else(|| err(libc::ESTALE))?;
        real.layer
            .getxattr(&ctx(), real.ino, &self.names().to_layer(name), size)
    }

    pub(crate) fn do_listxattr(&self, inode: u64, size: u32) -> io::Result<ListxattrReply> {
        let node = self.inodes.get(inode)?;
        let real = node.top().ok_or_else(|| err(libc::ESTALE))?;
        let c = ctx();
        let all = match real.layer.listxattr(&c, real.ino, 0)? {
            ListxattrReply::Count(0) => Vec::new(),
            ListxattrReply::Count(n) => {
                match real
                    .layer
                    .listxattr(&c, real.ino, n.saturating_mul(2).max(256))?
                {
                    ListxattrReply::Names(v) => v,
                    ListxattrReply::Count(_) => return Err(err(libc::EIO)),
                }
            }
            ListxattrReply::Names(v) => v,
        };
        let mut out = Vec::with_capacity(all.len());
        for name in all.split(|b| *b == 0).filter(|n| !n.is_empty()) {
            if let Some(shown) = self.names().to_client(name) {
                out.extend_from_slice(&shown);
                out.push(0);
            }
        }
        if size == 0 {
            return Ok(ListxattrReply::Count(out.len() as u32));
        }
        if out.len() > size as usize {
            return Err(err(libc::ERANGE));
        }
        Ok(ListxattrReply::Names(out))
    }

    pub(crate) fn do_setxattr(
        &self,
        inode: u64,
        name: &CStr,
        value: &[u8],
        flags: u32,
    ) -> io::Result<()> {
        let node = self.change_meta(inode)?;
        let up = node.upper().ok_or_else(|| err(libc::EIO))?;
        up.layer
            .setxattr(&ctx(), up.ino, &self.names().to_layer(name), value, flags)
    }

    pub(crate) fn do_removexattr(&self, inode: u64, name: &CStr) -> io::Result<()> {
        let lname: CString = self.names().to_layer(name);
        let node = self.inodes.get(inode)?;
        // Removing what is not there fails without a copy-up (as in the kernel).
        let real = node.top().ok_or_else(|| err(libc::ESTALE))?;
        real.layer.getxattr(&ctx(), real.ino, &lname, 0)?;
        let node = self.change_meta(inode)?;
        let up = node.upper().ok_or_else(|| err(libc::EIO))?;
        up.layer.removexattr(&ctx(), up.ino, &lname)
    }

    /// Copies `inode` up for an attribute change. A name of an indexed file whose index
    /// copy exists is not linked up for this: the attribute belongs to the inode (the
    /// kernel does the same).
    fn change_meta(&self, inode: u64) -> io::Result<Arc<OverlayInode>> {
        let node = self.inodes.get(inode)?;
        self.upper_layer()?;
        if node.upper().is_none() {
            self.copy_up(&node, None, true)?;
        }
        Ok(node)
    }
}
