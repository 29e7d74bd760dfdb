//! Copy-up: giving a lower object an upper copy before it is changed.
//!
//! # Atomicity
//!
//! The copy is built completely under a temporary name (`#N`) in `WORKDIR/work`: the
//! object itself, then (regular files) its data, hole by hole, and an fsync, then owner,
//! extended attributes, mode and times. Only then is it renamed into the upper directory
//! with `RENAME_NOREPLACE`. A crash at any point leaves either nothing in the upper layer
//! (the half-built copy stays in `WORKDIR/work`, which [`OverlayFs::import`] empties) or
//! the complete copy: the merged view never shows a partial file.
//!
//! # Hard links
//!
//! A lower non-directory with more than one link is copied to `WORKDIR/index/DEV-INO`
//! (its host identity) and then hard-linked into the upper directory under the name the
//! operation came through. Every other lower name of the file finds the index copy at
//! lookup and so is the same node, showing the new data; when one of those names is
//! itself changed, renamed or removed, it is first linked up from the index too (as the
//! kernel's `index=on` does). The visible link count is the upper inode's count (which
//! includes the index link) plus the `nlink` attribute's correction, kept current at
//! every link-up.
//!
//! An operation on an inode (write, chmod) does not say which name it came through;
//! it is taken to be the last name the node was looked up by. Such files are given an
//! entry timeout of 0, so each path walk of the client is a LOOKUP and that name is
//! the one the client used.

use std::ffi::{CStr, CString};
use std::io;
use std::sync::Arc;

use log::debug;

use super::inode::{OverlayInode, RealInode};
use super::layer_ops::{
    adopt, is_whiteout, layer_lookup, set_xattr, BufSink, BufSource, LayerFile,
};
use super::lookup::{index_name, origin_value};
use super::{ctx, OverlayFs};
use crate::api::filesystem::{CreateIn, Entry, GetxattrReply, ListxattrReply, SetattrValid};
use crate::errno::err;

/// Bytes moved per read/write during a data copy.
const COPY_CHUNK: usize = 1 << 20;

fn file_type(st: &libc::stat64) -> u32 {
    st.st_mode & libc::S_IFMT
}

/// Extended attributes that must be copied even though the upper layer may refuse
/// unknown ones (the kernel's list).
fn must_copy(name: &[u8]) -> bool {
    name.starts_with(b"system.posix_acl_") || name.starts_with(b"security.")
}

impl OverlayFs {
    /// Gives `node` an upper object. A non-directory is copied with its data when `data`
    /// (an open with O_TRUNC needs none) and, when it is indexed, linked up under
    /// `alias`: the name the operation came through, or else where it was last seen.
    pub(crate) fn copy_up(
        &self,
        node: &Arc<OverlayInode>,
        alias: Option<(&Arc<OverlayInode>, &CStr)>,
        data: bool,
    ) -> io::Result<()> {
        if node.is_dir() {
            return self.copy_up_dir(node);
        }
        {
            let s = node.read();
            if s.upper.is_some() && !s.indexed {
                return Ok(());
            }
        }
        let (parent, name) = match alias {
            Some((p, n)) => (p.clone(), n.to_owned()),
            None => node.alias().ok_or_else(|| err(libc::ENOENT))?,
        };
        self.copy_up_dir(&parent)?;
        let _op = node.lock_op();
        let pu = parent.upper().ok_or_else(|| err(libc::EIO))?;
        let (upper, lower, indexed) = {
            let s = node.read();
            (s.upper.clone(), s.lowers.first().cloned(), s.indexed)
        };
        if let Some(up) = upper {
            return if indexed {
                self.link_up(node, &up, &pu, &name)
            } else {
                Ok(())
            };
        }
        let lower = lower.ok_or_else(|| err(libc::ESTALE))?;
        let st = lower.stat()?;
        let old_key = node.key();
        // Another node for the same file (one the store had let go of) may have copied
        // it up already.
        if let Some((ri, ust)) = layer_lookup(&pu, &name)? {
            if file_type(&ust) == node.file_type && !is_whiteout(&pu, &ri, &ust, self.names())? {
                debug!("copy-up of {name:?}: adopting the existing upper entry");
                let key = ri.key();
                node.write().upper = Some(Arc::new(ri));
                self.inodes.rekey(node, old_key, key);
                return Ok(());
            }
            return Err(err(libc::EEXIST));
        }
        let up = self.upper_layer()?;
        let work = self.workdirs()?;
        let pst = pu.stat()?;
        let ri = if indexed {
            let key = index_name((st.st_dev, st.st_ino));
            if let Some((idx, _)) = layer_lookup(&work.index, &key)? {
                // Copied up already (through a node this one did not know about, or
                // before a crash): this name is just linked up.
                let idx = Arc::new(idx);
                {
                    let mut s = node.write();
                    s.upper = Some(idx.clone());
                    s.nlink_delta = None;
                }
                self.inodes.rekey(node, old_key, idx.key());
                return self.link_up(node, &idx, &pu, &name);
            }
            // Linked into the index and under `name`: two upper links.
            let delta = st.st_nlink as i64 - 2;
            let tmp = self.build_copy(&lower, &st, data, Some(delta))?;
            self.move_from_work(&tmp, &work.index, &key)?;
            let idx = layer_lookup(&work.index, &key)?
                .ok_or_else(|| err(libc::EIO))?
                .0;
            let e = up.link(&ctx(), idx.ino, pu.ino, &name)?;
            drop(adopt(&pu, e));
            node.write().nlink_delta = None;
            idx
        } else {
            let tmp = self.build_copy(&lower, &st, data, None)?;
            self.move_from_work(&tmp, &pu, &name)?;
            let (ri, ust) = layer_lookup(&pu, &name)?.ok_or_else(|| err(libc::EIO))?;
            if st.st_nlink > 1 {
                // Split from the lower file's other names: it is a file of its own now.
                node.set_st_ino(self.map_ino(ri.idx, ust.st_ino));
                node.write().shared_lower = false;
            }
            ri
        };
        self.restore_times(&pu, &pst);
        let key = ri.key();
        node.write().upper = Some(Arc::new(ri));
        self.inodes.rekey(node, old_key, key);
        Ok(())
    }

    /// Puts back the times of the upper directory `dir` (as `st` had them) after a
    /// copy-up added an entry: copy-up is not a change the client made, so it must not
    /// show (the kernel does the same). Best effort.
    fn restore_times(&self, dir: &RealInode, st: &libc::stat64) {
        let mut attr = Entry::default().attr;
        attr.st_atime = st.st_atime;
        attr.st_atime_nsec = st.st_atime_nsec;
        attr.st_mtime = st.st_mtime;
        attr.st_mtime_nsec = st.st_mtime_nsec;
        let valid = SetattrValid::ATIME | SetattrValid::MTIME;
        if let Err(e) = dir.layer.setattr(&ctx(), dir.ino, attr, None, valid) {
            debug!("copy-up: cannot restore directory times: {e}");
        }
    }

    /// Renames `WORKDIR/work/tmp` to `name` in `dir`, removing the temporary on failure.
    fn move_from_work(&self, tmp: &CStr, dir: &RealInode, name: &CStr) -> io::Result<()> {
        let up = self.upper_layer()?;
        let work = self.workdirs()?;
        let r = up.rename(
            &ctx(),
            work.tmp.ino,
            tmp,
            dir.ino,
            name,
            libc::RENAME_NOREPLACE,
        );
        if r.is_err() {
            let _ = self.remove_tree(&work.tmp, tmp);
        }
        r
    }

    /// Links the upper inode `up` of an indexed node under `name` in `pu`, unless that
    /// name already is it, and lowers the link-count correction by one.
    pub(crate) fn link_up(
        &self,
        node: &OverlayInode,
        up: &RealInode,
        pu: &RealInode,
        name: &CStr,
    ) -> io::Result<()> {
        if let Some((ri, _)) = layer_lookup(pu, name)? {
            if ri.ino == up.ino {
                return Ok(());
            }
            return Err(err(libc::EEXIST));
        }
        let delta = self.nlink_delta(node)?;
        let pst = pu.stat()?;
        let e = up.layer.link(&ctx(), up.ino, pu.ino, name)?;
        drop(adopt(pu, e));
        self.restore_times(pu, &pst);
        self.set_nlink_delta(node, up, delta - 1)
    }

    /// Copies up `node`'s directory and every ancestor that has no upper part yet,
    /// top-down.
    pub(crate) fn copy_up_dir(&self, node: &Arc<OverlayInode>) -> io::Result<()> {
        let mut chain = Vec::new();
        let mut cur = node.clone();
        while cur.upper().is_none() {
            let parent = cur.read().parent.clone().ok_or_else(|| err(libc::EROFS))?;
            chain.push(cur);
            cur = parent;
        }
        for n in chain.iter().rev() {
            self.copy_up_one_dir(n)?;
        }
        Ok(())
    }

    fn copy_up_one_dir(&self, node: &Arc<OverlayInode>) -> io::Result<()> {
        let _op = node.lock_op();
        if node.upper().is_some() {
            return Ok(());
        }
        let (parent, name) = node.alias().ok_or_else(|| err(libc::ENOENT))?;
        if node.read().removed {
            return Err(err(libc::ENOENT));
        }
        let pu = parent.upper().ok_or_else(|| err(libc::EIO))?;
        let old_key = node.key();
        let ri = match layer_lookup(&pu, &name)? {
            Some((ri, st)) if file_type(&st) == libc::S_IFDIR => ri,
            Some(_) => return Err(err(libc::EEXIST)),
            None => {
                let lower = node
                    .lowers()
                    .first()
                    .cloned()
                    .ok_or_else(|| err(libc::ESTALE))?;
                let st = lower.stat()?;
                let pst = pu.stat()?;
                let tmp = self.build_copy(&lower, &st, false, None)?;
                self.move_from_work(&tmp, &pu, &name)?;
                self.restore_times(&pu, &pst);
                layer_lookup(&pu, &name)?.ok_or_else(|| err(libc::EIO))?.0
            }
        };
        let key = ri.key();
        node.write().upper = Some(Arc::new(ri));
        self.inodes.rekey(node, old_key, key);
        Ok(())
    }

    /// Builds a complete copy of `lower` (attributes `st`) in `WORKDIR/work` and returns
    /// its temporary name. `nlink_delta` is set for an index copy.
    fn build_copy(
        &self,
        lower: &RealInode,
        st: &libc::stat64,
        data: bool,
        nlink_delta: Option<i64>,
    ) -> io::Result<CString> {
        let up = self.upper_layer()?;
        let work = self.workdirs()?;
        let tmp = self.temp_name();
        let c = ctx();
        let dir = work.tmp.ino;
        let made = match file_type(st) {
            libc::S_IFREG => {
                let args = CreateIn {
                    flags: libc::O_RDWR as u32,
                    mode: 0o600,
                    umask: 0,
                    fuse_flags: 0,
                };
                let (e, fh, _, _) = up.create(&c, dir, &tmp, args)?;
                let ri = adopt(&work.tmp, e).0;
                let fh = fh.ok_or_else(|| err(libc::EIO));
                let r = fh.and_then(|fh| {
                    let _f = LayerFile {
                        layer: up,
                        ino: ri.ino,
                        fh,
                    };
                    if data {
                        self.copy_data(lower, &ri, fh, st)?;
                    }
                    if self.cfg.fsync {
                        up.fsync(&c, ri.ino, false, fh)?;
                    }
                    Ok(())
                });
                self.or_cleanup(r, &tmp)?;
                ri
            }
            libc::S_IFDIR => adopt(&work.tmp, up.mkdir(&c, dir, &tmp, 0o700, 0)?).0,
            libc::S_IFLNK => {
                let target = lower.layer.readlink(&c, lower.ino)?;
                let target = CString::new(target).map_err(|_| err(libc::EIO))?;
                adopt(&work.tmp, up.symlink(&c, &target, dir, &tmp)?).0
            }
            t => {
                let rdev = u32::try_from(st.st_rdev).map_err(|_| err(libc::EOVERFLOW))?;
                adopt(&work.tmp, up.mknod(&c, dir, &tmp, t | 0o600, rdev, 0)?).0
            }
        };
        let r = self.finish_copy(lower, &made, st, nlink_delta);
        self.or_cleanup(r, &tmp)?;
        Ok(tmp)
    }

    /// Owner, extended attributes, our own attributes, mode and times, in that order:
    /// chown clears set-ID bits and file capabilities, so it comes first.
    fn finish_copy(
        &self,
        lower: &RealInode,
        made: &RealInode,
        st: &libc::stat64,
        nlink_delta: Option<i64>,
    ) -> io::Result<()> {
        let c = ctx();
        let mut attr = Entry::default().attr;
        attr.st_uid = st.st_uid;
        attr.st_gid = st.st_gid;
        made.layer.setattr(
            &c,
            made.ino,
            attr,
            None,
            SetattrValid::UID | SetattrValid::GID,
        )?;
        self.copy_xattrs(lower, made)?;
        // The origin gives the copy the lower file's inode number, unless the copy splits
        // off one name of several (no index): then it is a file of its own.
        if file_type(st) != libc::S_IFDIR && (st.st_nlink == 1 || nlink_delta.is_some()) {
            // Only for a stable inode number: a layer may refuse the attribute on some
            // file types (`user.*` is for regular files and directories only).
            match set_xattr(made, &self.names().origin, &origin_value(st)) {
                Err(e)
                    if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EOPNOTSUPP)) =>
                {
                    debug!("copy-up: no origin attribute on this file type: {e}");
                }
                r => r?,
            }
        }
        if let Some(d) = nlink_delta {
            set_xattr(made, &self.names().nlink, format!("U{d:+}").as_bytes())?;
        }
        if file_type(st) != libc::S_IFLNK {
            attr.st_mode = st.st_mode;
            made.layer
                .setattr(&c, made.ino, attr, None, SetattrValid::MODE)?;
        }
        // Last, as anything before may have touched them. (A layer sets a symlink's own
        // times: the passthrough driver goes through its `/proc/self/fd` entry, which is
        // not followed any further.)
        attr.st_atime = st.st_atime;
        attr.st_atime_nsec = st.st_atime_nsec;
        attr.st_mtime = st.st_mtime;
        attr.st_mtime_nsec = st.st_mtime_nsec;
        made.layer.setattr(
            &c,
            made.ino,
            attr,
            None,
            SetattrValid::ATIME | SetattrValid::MTIME,
        )?;
        Ok(())
    }

    fn or_cleanup<T>(&self, r: io::Result<T>, tmp: &CStr) -> io::Result<T> {
        if r.is_err() {
            if let Ok(work) = self.workdirs() {
                let _ = self.remove_tree(&work.tmp, tmp);
            }
        }
        r
    }

    /// Copies the data of `src` into the open file `dst_fh`, skipping holes, and sets
    /// the size.
    fn copy_data(
        &self,
        src: &RealInode,
        dst: &RealInode,
        dst_fh: u64,
        st: &libc::stat64,
    ) -> io::Result<()> {
        let c = ctx();
        let (fh, _, _) = src.layer.open(&c, src.ino, libc::O_RDONLY as u32, 0)?;
        let fh = fh.ok_or_else(|| err(libc::EIO))?;
        let _src_file = LayerFile {
            layer: &src.layer,
            ino: src.ino,
            fh,
        };
        let size = u64::try_from(st.st_size).map_err(|_| err(libc::EINVAL))?;
        let mut buf = vec![0u8; COPY_CHUNK.min(size.max(1) as usize)];
        let mut off = 0u64;
        let mut sparse = true;
        while off < size {
            let (start, end) = if sparse {
                match src
                    .layer
                    .lseek(&c, src.ino, fh, off, libc::SEEK_DATA as u32)
                {
                    Ok(s) => {
                        let e = src
                            .layer
                            .lseek(&c, src.ino, fh, s, libc::SEEK_HOLE as u32)
                            .unwrap_or(size);
                        (s, e.min(size))
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENXIO) => break,
                    Err(_) => {
                        sparse = false;
                        (off, size)
                    }
                }
            } else {
                (off, size)
            };
            let mut pos = start;
            while pos < end {
                let want = (end - pos).min(buf.len() as u64) as usize;
                let mut sink = BufSink {
                    buf: &mut buf[..want],
                    len: 0,
                };
                let n = src
                    .layer
                    .read(&c, src.ino, fh, &mut sink, want as u32, pos, None, 0)?;
                if n == 0 {
                    break;
                }
                let mut source = BufSource {
                    buf: &mut buf[..n],
                    pos: 0,
                };
                while source.pos < n {
                    let done = source.pos;
                    let w = dst.layer.write(
                        &c,
                        dst.ino,
                        dst_fh,
                        &mut source,
                        (n - done) as u32,
                        pos + done as u64,
                        None,
                        false,
                        0,
                        0,
                    )?;
                    if w == 0 {
                        return Err(err(libc::EIO));
                    }
                    source.pos = done + w;
                }
                pos += n as u64;
            }
            off = end.max(pos);
        }
        let mut attr = Entry::default().attr;
        attr.st_size = st.st_size;
        dst.layer
            .setattr(&c, dst.ino, attr, Some(dst_fh), SetattrValid::SIZE)?;
        Ok(())
    }

    /// Copies the extended attributes of `src` to `dst`, leaving ours behind.
    fn copy_xattrs(&self, src: &RealInode, dst: &RealInode) -> io::Result<()> {
        let c = ctx();
        let list = match src.layer.listxattr(&c, src.ino, 0) {
            Ok(ListxattrReply::Count(0)) => return Ok(()),
            Ok(ListxattrReply::Count(n)) => {
                match src
                    .layer
                    .listxattr(&c, src.ino, n.saturating_mul(2).max(256))?
                {
                    ListxattrReply::Names(v) => v,
                    ListxattrReply::Count(_) => return Ok(()),
                }
            }
            Ok(ListxattrReply::Names(v)) => v,
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP)
                ) =>
            {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        for name in list.split(|b| *b == 0).filter(|n| !n.is_empty()) {
            if self.names().is_private(name) {
                continue;
            }
            let cname = CString::new(name).map_err(|_| err(libc::EIO))?;
            let value = match src.layer.getxattr(&c, src.ino, &cname, 0) {
                Ok(GetxattrReply::Count(0)) => Vec::new(),
                Ok(GetxattrReply::Count(n)) => match src.layer.getxattr(&c, src.ino, &cname, n)? {
                    GetxattrReply::Value(v) => v,
                    GetxattrReply::Count(_) => continue,
                },
                Ok(GetxattrReply::Value(v)) => v,
                Err(e) if e.raw_os_error() == Some(libc::ENODATA) => continue,
                Err(e) => return Err(e),
            };
            match dst.layer.setxattr(&c, dst.ino, &cname, &value, 0) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) && !must_copy(name) => {
                    debug!("copy-up: dropping attribute {cname:?}: {e}");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Removes `name` from the layer directory `dir`, with everything below it.
    pub(crate) fn remove_tree(&self, dir: &RealInode, name: &CStr) -> io::Result<()> {
        let c = ctx();
        let Some((ri, st)) = layer_lookup(dir, name)? else {
            return Ok(());
        };
        if file_type(&st) != libc::S_IFDIR {
            return dir.layer.unlink(&c, dir.ino, name);
        }
        for (child, _, _) in self.read_layer_dir(&ri)? {
            let child = CString::new(child).map_err(|_| err(libc::EIO))?;
            self.remove_tree(&ri, &child)?;
        }
        dir.layer.rmdir(&c, dir.ino, name)
    }

    /// Empties `WORKDIR/work` of what an earlier run left (half-built copies, trees
    /// being removed).
    pub(crate) fn clean_work(&self) -> io::Result<()> {
        let work = self.workdirs()?;
        for (name, _, _) in self.read_layer_dir(&work.tmp)? {
            let name = CString::new(name).map_err(|_| err(libc::EIO))?;
            debug!("removing leftover {name:?} from the work directory");
            self.remove_tree(&work.tmp, &name)?;
        }
        Ok(())
    }

    /// Makes a whiteout in `WORKDIR/work` and returns its name and whether it is the
    /// attribute form (a 0/0 device needs privilege; with `userxattr` an empty file
    /// with the `whiteout` attribute stands in, and its directory must be marked `x`).
    pub(crate) fn work_whiteout(&self) -> io::Result<(CString, bool)> {
        let up = self.upper_layer()?;
        let work = self.workdirs()?;
        let tmp = self.temp_name();
        let c = ctx();
        match up.mknod(&c, work.tmp.ino, &tmp, libc::S_IFCHR, 0, 0) {
            Ok(e) => {
                drop(adopt(&work.tmp, e));
                Ok((tmp, false))
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) && self.cfg.userxattr => {
                let e = up.mknod(&c, work.tmp.ino, &tmp, libc::S_IFREG | 0o600, 0, 0)?;
                let (ri, _) = adopt(&work.tmp, e);
                let r = set_xattr(&ri, &self.names().whiteout, b"y");
                self.or_cleanup(r, &tmp)?;
                Ok((tmp, true))
            }
            Err(e) => Err(e),
        }
    }
}
