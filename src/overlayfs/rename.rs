//! RENAME and RENAME2 (`RENAME_NOREPLACE`, `RENAME_EXCHANGE`).
//!
//! Both names are copied up (a directory only itself, never its tree) and the upper
//! entries are renamed with one `renameat2`, following the kernel's rules:
//!
//! - A directory that has a lower part gets a redirect attribute naming where that part
//!   is: its old name when it stays in the same directory, else its absolute path in
//!   the lower layers (built from its ancestors' names and redirects). Lookup follows
//!   it, so the lower contents move with the directory.
//! - A directory without a lower part moved into a merged directory is made opaque, so
//!   a lower namesake at the new place does not show through.
//! - When a lower layer still has the old name, the old name gets a whiteout in the same
//!   step (`RENAME_WHITEOUT`, or `RENAME_EXCHANGE` with a whiteout at the new name).
//! - A directory that is replaced must be empty in the merged view; whiteouts left in
//!   its upper part are removed first.

use std::ffi::CStr;
use std::io;
use std::sync::Arc;

use super::inode::OverlayInode;
use super::layer_ops::{layer_lookup, set_xattr};
use super::lookup::Step;
use super::{ctx, OverlayFs};
use crate::errno::err;

/// The kernel's `redirect_max`: longer absolute redirects make the rename fail with
/// EXDEV (the client's `mv` then copies).
const REDIRECT_MAX: usize = 256;

impl OverlayFs {
    pub(crate) fn do_rename(
        &self,
        olddir: u64,
        oldname: &CStr,
        newdir: u64,
        newname: &CStr,
        flags: u32,
    ) -> io::Result<()> {
        let known = libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE;
        if flags & !known != 0 || flags == known {
            return Err(err(libc::EINVAL));
        }
        let up = self.upper_layer()?;
        super::entry::check_name(oldname)?;
        super::entry::check_name(newname)?;
        let exchange = flags & libc::RENAME_EXCHANGE != 0;
        let op = self.dir_node(olddir)?;
        let np = self.dir_node(newdir)?;
        let old = self
            .lookup_child(&op, oldname)?
            .ok_or_else(|| err(libc::ENOENT))?;
        let new = self.lookup_child(&np, newname)?;
        match &new {
            None if exchange => return Err(err(libc::ENOENT)),
            Some(_) if flags & libc::RENAME_NOREPLACE != 0 => return Err(err(libc::EEXIST)),
            Some(n) if Arc::ptr_eq(n.arc(), old.arc()) => return Ok(()),
            _ => {}
        }
        let old_is_dir = old.is_dir();
        let new_is_dir = new.as_ref().is_some_and(|n| n.is_dir());
        // The order of the checks is the kernel's: types (the VFS), then EXDEV, then
        // emptiness.
        if new.is_some() && !exchange && old_is_dir != new_is_dir {
            let e = if old_is_dir {
                libc::ENOTDIR
            } else {
                libc::EISDIR
            };
            return Err(err(e));
        }
        if !self.config().redirect_dir {
            let moves_lower = |n: &OverlayInode| n.is_dir() && !n.lowers().is_empty();
            if moves_lower(&old) || (exchange && new.as_ref().is_some_and(|n| moves_lower(n))) {
                return Err(err(libc::EXDEV));
            }
        }
        if let Some(n) = &new {
            // A target with a lower part must be empty in the merged view. A purely upper
            // one is left to the upper rename, as the kernel does (so the redirect or
            // opaque mark is set first in both).
            if !exchange && new_is_dir && !n.lowers().is_empty() {
                self.check_empty(n)?;
            }
        }
        let samedir = Arc::ptr_eq(&op, &np);

        self.copy_up(&old, Some((&op, oldname)), true)?;
        self.copy_up_dir(&np)?;
        if let Some(n) = &new {
            if exchange || n.read().indexed {
                self.copy_up(n, Some((&np, newname)), true)?;
            }
        }
        let opu = op.upper().ok_or_else(|| err(libc::EIO))?;
        let npu = np.upper().ok_or_else(|| err(libc::EIO))?;
        let new_is_whiteout = new.is_none() && matches!(self.step(&npu, newname)?, Step::Whiteout);

        let mut rflags = flags & libc::RENAME_EXCHANGE;
        let mut cleanup_whiteout = false;
        let mut whiteout_after = false;
        if !exchange {
            if self.lower_positive(&op, oldname) {
                if new_is_whiteout {
                    rflags |= libc::RENAME_EXCHANGE;
                } else {
                    rflags |= libc::RENAME_WHITEOUT;
                }
            } else if old_is_dir && new_is_whiteout {
                rflags |= libc::RENAME_EXCHANGE;
                cleanup_whiteout = true;
            }
            if let Some(n) = &new {
                if new_is_dir && n.upper().is_some() && !n.lowers().is_empty() {
                    self.clear_whiteouts(&npu, newname)?;
                }
            }
        }
        if old_is_dir {
            self.mark_moved_dir(&old, &op, oldname, &np, samedir)?;
        }
        if exchange && new_is_dir {
            if let Some(n) = &new {
                self.mark_moved_dir(n, &np, newname, &op, samedir)?;
            }
        }

        let c = ctx();
        match up.rename(&c, opu.ino, oldname, npu.ino, newname, rflags) {
            Ok(()) => {}
            Err(e)
                if rflags & libc::RENAME_WHITEOUT != 0
                    && matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EPERM)) =>
            {
                // No whiteout support (or privilege) for the rename: whiteout afterwards.
                up.rename(
                    &c,
                    opu.ino,
                    oldname,
                    npu.ino,
                    newname,
                    rflags & !libc::RENAME_WHITEOUT,
                )?;
                whiteout_after = true;
            }
            Err(e) => return Err(e),
        }
        if cleanup_whiteout {
            up.unlink(&c, opu.ino, oldname)?;
        }
        if whiteout_after {
            self.remove_name(&op, oldname, false)?;
        }

        old.set_alias(&np, newname);
        match &new {
            Some(n) if exchange => n.set_alias(&op, oldname),
            Some(n) if new_is_dir => n.write().removed = true,
            Some(n) => self.after_unlink(n)?,
            None => {}
        }
        Ok(())
    }

    /// Sets the redirect or opaque attribute a directory needs before it moves from
    /// `name` in `from` to the directory `to`.
    fn mark_moved_dir(
        &self,
        node: &Arc<OverlayInode>,
        from: &Arc<OverlayInode>,
        name: &CStr,
        to: &Arc<OverlayInode>,
        samedir: bool,
    ) -> io::Result<()> {
        let up = node.upper().ok_or_else(|| err(libc::EIO))?;
        if !node.lowers().is_empty() {
            let cur = node.read().redirect.clone();
            if cur
                .as_ref()
                .is_some_and(|r| samedir || r.first() == Some(&b'/'))
            {
                return Ok(());
            }
            let value = if samedir {
                name.to_bytes().to_vec()
            } else {
                self.absolute_redirect(node, from, name)?
            };
            set_xattr(&up, &self.names().redirect, &value).map_err(|_| err(libc::EXDEV))?;
            node.write().redirect = Some(value);
        } else if !node.read().opaque && to.is_merged_dir() {
            set_xattr(&up, &self.names().opaque, b"y").map_err(|_| err(libc::EXDEV))?;
            node.write().opaque = true;
        }
        Ok(())
    }

    /// The absolute lower path of `node` (named `name` in `parent`): its components are
    /// the names (or, where set, the redirects) of it and its ancestors, up to the root
    /// or the first absolute redirect.
    fn absolute_redirect(
        &self,
        node: &OverlayInode,
        parent: &Arc<OverlayInode>,
        name: &CStr,
    ) -> io::Result<Vec<u8>> {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        let mut comp = node
            .read()
            .redirect
            .clone()
            .unwrap_or_else(|| name.to_bytes().to_vec());
        let mut cur = parent.clone();
        loop {
            let absolute = comp.first() == Some(&b'/');
            parts.push(comp);
            if absolute {
                break;
            }
            let (next, c) = {
                let s = cur.read();
                match &s.parent {
                    None => break,
                    Some(p) => (
                        p.clone(),
                        s.redirect
                            .clone()
                            .unwrap_or_else(|| s.name.to_bytes().to_vec()),
                    ),
                }
            };
            comp = c;
            cur = next;
        }
        let mut out = Vec::new();
        for p in parts.iter().rev() {
            if p.first() != Some(&b'/') {
                out.push(b'/');
            }
            out.extend_from_slice(p);
        }
        if out.len() > REDIRECT_MAX {
            return Err(err(libc::EXDEV));
        }
        Ok(out)
    }

    /// Removes the whiteouts in the upper part of a merged directory about to be
    /// replaced; anything else there means it is not empty after all.
    fn clear_whiteouts(&self, pu: &super::inode::RealInode, name: &CStr) -> io::Result<()> {
        let Some((dir, _)) = layer_lookup(pu, name)? else {
            return Ok(());
        };
        for (child, _, _) in self.read_layer_dir(&dir)? {
            let child = std::ffi::CString::new(child).map_err(|_| err(libc::EIO))?;
            match self.step(&dir, &child)? {
                Step::Whiteout => dir.layer.unlink(&ctx(), dir.ino, &child)?,
                Step::Missing => {}
                Step::Hit(..) => return Err(err(libc::ENOTEMPTY)),
            }
        }
        Ok(())
    }
}
