//! Operations on names: MKNOD, MKDIR, SYMLINK, CREATE, LINK, TMPFILE, UNLINK, RMDIR.
//!
//! New objects go into the upper copy of the parent (copied up first). Where the name
//! holds a whiteout, the object is built in the work directory and renamed over it, so
//! the name never shows the lower object in between: a file replaces the whiteout, a
//! directory is made opaque and exchanged with it (as the kernel does). A directory made
//! in a merged parent is opaque too (the kernel's rule: its lower namesake, if any, must
//! not show through), except with neither index nor redirects (the kernel's "offline
//! changes" mode).
//!
//! Removal leaves a whiteout when a lower layer still has the name: the whiteout is made
//! in the work directory and renamed over the upper entry (exchanged with a directory,
//! which is then emptied of its whiteouts and removed from the work directory).

use std::ffi::{CStr, CString};
use std::io;
use std::sync::Arc;

use super::handles::{HandleKind, OvlHandle, RealHandle};
use super::inode::{NodeRef, OverlayInode, RealInode};
use super::layer_ops::{adopt, dir_mark, set_xattr, DirMark};
use super::lookup::{index_name, Step};
use super::{ctx, OverlayFs};
use crate::api::filesystem::{Context, CreateIn, Entry, OpenOptions, SetattrValid};
use crate::errno::err;

/// What to create.
pub(crate) enum NewKind<'a> {
    File(CreateIn),
    Dir,
    Symlink(&'a CStr),
    Node(u32),
    Link(Arc<RealInode>),
}

/// Refuses names that are not one ordinary path component.
pub(crate) fn check_name(name: &CStr) -> io::Result<()> {
    let b = name.to_bytes();
    if b.is_empty() || b == b"." || b == b".." || b.contains(&b'/') {
        return Err(err(libc::EINVAL));
    }
    Ok(())
}

impl OverlayFs {
    /// The directory node `ino`.
    pub(crate) fn dir_node(&self, ino: u64) -> io::Result<Arc<OverlayInode>> {
        let n = self.inodes.get(ino)?;
        if !n.is_dir() {
            return Err(err(libc::ENOTDIR));
        }
        if n.read().removed {
            return Err(err(libc::ENOENT));
        }
        Ok(n)
    }

    /// Creates `name` in `parent` for the caller `ctx`. Returns the new node (lookup
    /// reference held by the guard) and, for a file, its open upper handle.
    pub(crate) fn create_object(
        &self,
        ctx: &Context,
        parent: &Arc<OverlayInode>,
        name: &CStr,
        mode: u32,
        umask: u32,
        kind: NewKind<'_>,
    ) -> io::Result<(NodeRef<'_>, Option<u64>)> {
        let up = self.upper_layer()?;
        check_name(name)?;
        if self.lookup_child(parent, name)?.is_some() {
            return Err(err(libc::EEXIST));
        }
        self.copy_up_dir(parent)?;
        let pu = parent.upper().ok_or_else(|| err(libc::EIO))?;
        let over_whiteout = match self.step(&pu, name)? {
            Step::Missing => false,
            Step::Whiteout => true,
            Step::Hit(..) => return Err(err(libc::EEXIST)),
        };
        let is_dir = matches!(kind, NewKind::Dir);
        let mut fh = None;
        // Holds the layer inode until the node has its own reference: a layer may
        // forget an inode at count 0 and give the file another number (and the open
        // handle would then belong to a stale one).
        let _made;
        if !over_whiteout {
            let e = match kind {
                NewKind::File(args) => {
                    let (e, h, _, _) = up.create(ctx, pu.ino, name, args)?;
                    fh = h;
                    e
                }
                NewKind::Dir => up.mkdir(ctx, pu.ino, name, mode, umask)?,
                NewKind::Symlink(target) => up.symlink(ctx, target, pu.ino, name)?,
                NewKind::Node(rdev) => up.mknod(ctx, pu.ino, name, mode, rdev, umask)?,
                NewKind::Link(real) => up.link(ctx, real.ino, pu.ino, name)?,
            };
            let (made, _) = adopt(&pu, e);
            // The kernel's rule (only an optimisation when no lower entry exists), which it
            // skips when neither the index nor redirects are on, so that lower layers
            // changed while unmounted show their new entries.
            let offline_changes = !self.config().index && !self.config().redirect_dir;
            if is_dir && parent.is_merged_dir() && !offline_changes {
                let _ = set_xattr(&made, &self.names().opaque, b"y");
            }
            _made = made;
        } else {
            let (made, h) = self.create_over_whiteout(ctx, &pu, name, mode & !umask, kind)?;
            fh = h;
            _made = made;
        }
        let node = self
            .lookup_child(parent, name)?
            .ok_or_else(|| err(libc::EIO))?;
        Ok((node, fh))
    }

    /// Builds the object in the work directory (as the daemon, then given to the caller)
    /// and renames it over the whiteout at `name`.
    fn create_over_whiteout(
        &self,
        ctx: &Context,
        pu: &RealInode,
        name: &CStr,
        mode: u32,
        kind: NewKind<'_>,
    ) -> io::Result<(RealInode, Option<u64>)> {
        let up = self.upper_layer()?;
        let work = self.workdirs()?;
        let tmp = self.temp_name();
        let c = super::ctx();
        let dir = work.tmp.ino;
        let is_dir = matches!(kind, NewKind::Dir);
        let is_link = matches!(kind, NewKind::Link(_));
        let is_symlink = matches!(kind, NewKind::Symlink(_));
        let mut fh = None;
        let e = match kind {
            NewKind::File(args) => {
                let args = CreateIn {
                    mode: mode & 0o7777,
                    umask: 0,
                    ..args
                };
                let (e, h, _, _) = up.create(&c, dir, &tmp, args)?;
                fh = h;
                e
            }
            NewKind::Dir => up.mkdir(&c, dir, &tmp, mode & 0o7777, 0)?,
            NewKind::Symlink(target) => up.symlink(&c, target, dir, &tmp)?,
            NewKind::Node(rdev) => up.mknod(&c, dir, &tmp, mode, rdev, 0)?,
            NewKind::Link(real) => up.link(&c, real.ino, dir, &tmp)?,
        };
        let (made, _) = adopt(&work.tmp, e);
        let r = (|| -> io::Result<()> {
            if !is_link {
                // The owner the caller would have got: their fsuid, and their fsgid unless
                // the directory hands down its group.
                let pst = pu.stat()?;
                let sgid = pst.st_mode & libc::S_ISGID != 0;
                let mut attr = Entry::default().attr;
                attr.st_uid = ctx.uid;
                attr.st_gid = if sgid { pst.st_gid } else { ctx.gid };
                up.setattr(
                    &c,
                    made.ino,
                    attr,
                    None,
                    SetattrValid::UID | SetattrValid::GID,
                )?;
                if !is_symlink {
                    attr.st_mode = mode & 0o7777;
                    if is_dir && sgid {
                        attr.st_mode |= libc::S_ISGID;
                    }
                    up.setattr(&c, made.ino, attr, None, SetattrValid::MODE)?;
                }
            }
            if is_dir {
                set_xattr(&made, &self.names().opaque, b"y")?;
                up.rename(&c, dir, &tmp, pu.ino, name, libc::RENAME_EXCHANGE)?;
                // The whiteout now sits under the temporary name.
                self.remove_tree(&work.tmp, &tmp)
            } else {
                up.rename(&c, dir, &tmp, pu.ino, name, 0)
            }
        })();
        if let Err(e) = r {
            if let Some(h) = fh {
                let _ = up.release(&c, made.ino, 0, h, false, false, None);
            }
            let _ = self.remove_tree(&work.tmp, &tmp);
            return Err(e);
        }
        Ok((made, fh))
    }

    pub(crate) fn do_create_node(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        mode: u32,
        umask: u32,
        kind: NewKind<'_>,
    ) -> io::Result<Entry> {
        let p = self.dir_node(parent)?;
        if mode & libc::S_IFMT == libc::S_IFCHR && matches!(kind, NewKind::Node(0)) {
            // A whiteout cannot be created through the overlay (as in the kernel).
            return Err(err(libc::EPERM));
        }
        let (node, _) = self.create_object(ctx, &p, name, mode, umask, kind)?;
        let st = self.node_stat(&node)?;
        let e = self.entry_for(&node, st);
        node.into_kernel();
        Ok(e)
    }

    pub(crate) fn do_create(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions, Option<u32>)> {
        let p = self.dir_node(parent)?;
        if args.flags as i32 & libc::O_EXCL == 0 {
            if let Some(n) = self.lookup_child(&p, name)? {
                // It appeared meanwhile: open it like OPEN would.
                if n.is_dir() {
                    return Err(err(libc::EISDIR));
                }
                let (h, opts, _) = self.do_open(n.ino, args.flags, args.fuse_flags)?;
                let st = self.node_stat(&n)?;
                let e = self.entry_for(&n, st);
                n.into_kernel();
                return Ok((e, h, opts, None));
            }
        }
        let flags = self.host_flags(args.flags);
        let args = CreateIn { flags, ..args };
        let (node, fh) =
            self.create_object(ctx, &p, name, args.mode, args.umask, NewKind::File(args))?;
        let up = node.upper().ok_or_else(|| err(libc::EIO))?;
        let fh = fh.ok_or_else(|| err(libc::EIO))?;
        let handle = self.handles.insert(OvlHandle {
            node: node.arc().clone(),
            flags,
            kind: HandleKind::File(std::sync::RwLock::new(Arc::new(RealHandle::new(
                up, fh, flags,
            )))),
        });
        let st = self.node_stat(&node)?;
        let e = self.entry_for(&node, st);
        node.into_kernel();
        Ok((e, Some(handle), self.open_options(false), None))
    }

    pub(crate) fn do_link(
        &self,
        ctx: &Context,
        inode: u64,
        newparent: u64,
        newname: &CStr,
    ) -> io::Result<Entry> {
        self.upper_layer()?;
        let node = self.inodes.get(inode)?;
        if node.is_dir() {
            return Err(err(libc::EPERM));
        }
        let p = self.dir_node(newparent)?;
        check_name(newname)?;
        if self.lookup_child(&p, newname)?.is_some() {
            return Err(err(libc::EEXIST));
        }
        self.copy_up(&node, None, true)?;
        let up = node.upper().ok_or_else(|| err(libc::EIO))?;
        let (n, _) = self.create_object(ctx, &p, newname, 0, 0, NewKind::Link(up))?;
        let st = self.node_stat(&n)?;
        let e = self.entry_for(&n, st);
        n.into_kernel();
        Ok(e)
    }

    pub(crate) fn do_tmpfile(
        &self,
        ctx: &Context,
        parent: u64,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions)> {
        let up = self.upper_layer()?;
        let p = self.dir_node(parent)?;
        self.copy_up_dir(&p)?;
        let pu = p.upper().ok_or_else(|| err(libc::EIO))?;
        let flags = self.host_flags(args.flags);
        let (e, fh, _) = up.tmpfile(ctx, pu.ino, CreateIn { flags, ..args })?;
        let (ri, st) = adopt(&pu, e);
        let fh = fh.ok_or_else(|| err(libc::EIO))?;
        let ri = Arc::new(ri);
        let node = self.inodes.insert_or_ref(ri.key(), |ino| {
            OverlayInode::new(
                ino,
                libc::S_IFREG,
                self.map_ino(ri.idx, st.st_ino),
                super::inode::NodeState {
                    upper: Some(ri.clone()),
                    lowers: Vec::new(),
                    parent: None,
                    name: CString::default(),
                    opaque: false,
                    redirect: None,
                    indexed: false,
                    shared_lower: false,
                    nlink_delta: None,
                    origin: None,
                    removed: false,
                },
            )
        });
        let handle = self.handles.insert(OvlHandle {
            node: node.clone(),
            flags,
            kind: HandleKind::File(std::sync::RwLock::new(Arc::new(RealHandle::new(
                ri, fh, flags,
            )))),
        });
        let mut st = st;
        self.fix_stat(&node, &mut st)?;
        Ok((
            self.entry_for(&node, st),
            Some(handle),
            self.open_options(false),
        ))
    }

    pub(crate) fn do_unlink(&self, parent: u64, name: &CStr) -> io::Result<()> {
        self.upper_layer()?;
        let p = self.dir_node(parent)?;
        let child = self
            .lookup_child(&p, name)?
            .ok_or_else(|| err(libc::ENOENT))?;
        if child.is_dir() {
            return Err(err(libc::EISDIR));
        }
        self.copy_up_dir(&p)?;
        if child.read().indexed {
            // Keep the link count persistent: the name gets its upper link first.
            self.copy_up(&child, Some((&p, name)), true)?;
        }
        self.remove_name(&p, name, false)?;
        self.after_unlink(&child)
    }

    pub(crate) fn do_rmdir(&self, parent: u64, name: &CStr) -> io::Result<()> {
        self.upper_layer()?;
        let p = self.dir_node(parent)?;
        let child = self
            .lookup_child(&p, name)?
            .ok_or_else(|| err(libc::ENOENT))?;
        if !child.is_dir() {
            return Err(err(libc::ENOTDIR));
        }
        if Arc::ptr_eq(child.arc(), &p) || child.ino == crate::abi::fuse_abi::ROOT_ID {
            return Err(err(libc::EBUSY));
        }
        self.check_empty(&child)?;
        self.copy_up_dir(&p)?;
        let _op = child.lock_op();
        self.remove_name(&p, name, true)?;
        child.write().removed = true;
        Ok(())
    }

    /// Takes `name` out of the merged directory `p` (already copied up): removes the
    /// upper entry, and leaves a whiteout when a lower layer still has the name.
    pub(crate) fn remove_name(
        &self,
        p: &OverlayInode,
        name: &CStr,
        is_dir: bool,
    ) -> io::Result<()> {
        let up = self.upper_layer()?;
        let work = self.workdirs()?;
        let c = ctx();
        let pu = p.upper().ok_or_else(|| err(libc::EIO))?;
        let upper_entry = match self.step(&pu, name)? {
            Step::Hit(_, st) => Some(st.st_mode & libc::S_IFMT == libc::S_IFDIR),
            _ => None,
        };
        if self.lower_positive(p, name) {
            let (wh, xattr_form) = self.work_whiteout()?;
            if xattr_form {
                self.mark_xwhiteouts(&pu)?;
            }
            // A directory is exchanged with the whiteout (it then sits in the work
            // directory, holding at most whiteouts, and is cleared); anything else is
            // replaced by it.
            let flags = if upper_entry == Some(true) {
                libc::RENAME_EXCHANGE
            } else {
                0
            };
            let r = up.rename(&c, work.tmp.ino, &wh, pu.ino, name, flags);
            let cleared = self.remove_tree(&work.tmp, &wh);
            r.and(cleared)
        } else if !is_dir {
            up.unlink(&c, pu.ino, name)
        } else {
            match up.rmdir(&c, pu.ino, name) {
                Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {
                    // Empty when merged, so it holds only whiteouts: move it out of sight
                    // in one step, then clear it.
                    let tmp = self.temp_name();
                    up.rename(&c, pu.ino, name, work.tmp.ino, &tmp, libc::RENAME_NOREPLACE)?;
                    self.remove_tree(&work.tmp, &tmp)
                }
                r => r,
            }
        }
    }

    /// Marks an upper directory as holding attribute whiteouts (`opaque` = `x`).
    pub(crate) fn mark_xwhiteouts(&self, dir: &RealInode) -> io::Result<()> {
        if dir_mark(dir, self.names())? == DirMark::None {
            set_xattr(dir, &self.names().opaque, b"x")?;
        }
        Ok(())
    }

    /// After a name of an indexed file went away: drop the index copy once no name is
    /// left.
    pub(crate) fn after_unlink(&self, node: &OverlayInode) -> io::Result<()> {
        if !node.read().indexed {
            return Ok(());
        }
        let (Some(up), Some(origin)) = (node.upper(), node.read().origin) else {
            return Ok(());
        };
        let mut st = up.stat()?;
        self.fix_stat(node, &mut st)?;
        if st.st_nlink == 0 {
            let work = self.workdirs()?;
            let key = index_name(origin);
            up.layer.unlink(&ctx(), work.index.ino, &key)?;
        }
        Ok(())
    }
}
