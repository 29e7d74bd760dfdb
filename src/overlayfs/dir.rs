//! Merged directories: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR.
//!
//! A listing is merged from the directory's layers, top first: the first layer that has
//! a name decides (a whiteout hides it, anything else shows it), so every name appears
//! once. The merged list is built when a handle reads from offset 0 and kept in the
//! handle; offsets are positions in it. Changes made meanwhile do not move entries
//! around, so a client paging through the listing neither skips nor repeats a name (the
//! kernel overlay caches its merged listings the same way). Rewinding (offset 0)
//! rebuilds the list.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::io;
use std::sync::{Arc, Mutex};

use super::handles::{HandleKind, OvlHandle};
use super::inode::{OverlayInode, RealInode};
use super::layer_ops::{dir_mark, DirMark};
use super::lookup::Step;
use super::{ctx, OverlayFs};
use crate::api::filesystem::{DirEntry, Entry, OpenOptions};
use crate::errno::err;

/// One name of a merged listing.
pub(crate) struct MergedEntry {
    pub name: Vec<u8>,
    pub type_: u32,
    /// `d_ino`, from the layer the name came from.
    pub ino: u64,
    /// A lower layer has the name too: the entry's inode number is looked up when it is
    /// sent, so that `d_ino` matches `st_ino` (which may come from the lower object).
    pub shadowed: bool,
}

/// A merged listing, `.` and `..` first.
pub(crate) struct Snapshot {
    entries: Vec<MergedEntry>,
}

impl OverlayFs {
    /// All entries of one layer directory except `.` and `..`: `(name, d_type, d_ino)`.
    pub(crate) fn read_layer_dir(&self, dir: &RealInode) -> io::Result<Vec<(Vec<u8>, u32, u64)>> {
        let c = ctx();
        let (fh, _) = dir.layer.opendir(&c, dir.ino, libc::O_RDONLY as u32)?;
        let fh = fh.unwrap_or(0);
        let mut out = Vec::new();
        let mut off = 0u64;
        let res = loop {
            let mut next = off;
            let r = dir
                .layer
                .readdir(&c, dir.ino, fh, 64 * 1024, off, &mut |d: DirEntry| {
                    next = d.offset;
                    if d.name != b"." && d.name != b".." {
                        out.push((d.name.to_vec(), d.type_, d.ino));
                    }
                    Ok(1)
                });
            if let Err(e) = r {
                break Err(e);
            }
            if next == off {
                break Ok(());
            }
            off = next;
        };
        let _ = dir.layer.releasedir(&c, dir.ino, 0, fh);
        res.map(|()| out)
    }

    /// The merged entries of `node` (without `.` and `..`).
    pub(crate) fn list_merged(&self, node: &OverlayInode) -> io::Result<Vec<MergedEntry>> {
        let layers: Vec<Arc<RealInode>> = {
            let s = node.read();
            s.upper.iter().chain(s.lowers.iter()).cloned().collect()
        };
        let mut out: Vec<MergedEntry> = Vec::new();
        // Name -> index in `out`, or `None` for a name a whiteout hides.
        let mut seen: HashMap<Vec<u8>, Option<usize>> = HashMap::new();
        for dir in &layers {
            let entries = self.read_layer_dir(dir)?;
            let mut xwhiteouts = None;
            for (name, type_, d_ino) in entries {
                if let Some(prev) = seen.get(&name) {
                    if let Some(i) = prev {
                        out[*i].shadowed = true;
                    }
                    continue;
                }
                let maybe_whiteout = match type_ as u8 {
                    libc::DT_CHR | libc::DT_UNKNOWN => true,
                    libc::DT_REG => *xwhiteouts.get_or_insert_with(|| {
                        dir_mark(dir, self.names()).ok() == Some(DirMark::XWhiteouts)
                    }),
                    _ => false,
                };
                if maybe_whiteout {
                    let cname = CString::new(name.clone()).map_err(|_| err(libc::EIO))?;
                    match self.step(dir, &cname)? {
                        Step::Missing => continue,
                        Step::Whiteout => {
                            seen.insert(name, None);
                            continue;
                        }
                        Step::Hit(..) => {}
                    }
                }
                seen.insert(name.clone(), Some(out.len()));
                out.push(MergedEntry {
                    name,
                    type_,
                    ino: self.map_ino(dir.idx, d_ino),
                    shadowed: false,
                });
            }
        }
        Ok(out)
    }

    /// ENOTEMPTY unless the merged directory has no entries.
    pub(crate) fn check_empty(&self, node: &OverlayInode) -> io::Result<()> {
        if self.list_merged(node)?.is_empty() {
            Ok(())
        } else {
            Err(err(libc::ENOTEMPTY))
        }
    }

    fn snapshot(&self, node: &OverlayInode) -> io::Result<Snapshot> {
        let parent_ino = node
            .read()
            .parent
            .as_ref()
            .map_or(node.st_ino(), |p| p.st_ino());
        let mut entries = vec![
            MergedEntry {
                name: b".".to_vec(),
                type_: u32::from(libc::DT_DIR),
                ino: node.st_ino(),
                shadowed: false,
            },
            MergedEntry {
                name: b"..".to_vec(),
                type_: u32::from(libc::DT_DIR),
                ino: parent_ino,
                shadowed: false,
            },
        ];
        // A removed directory (still open) is empty, whatever its lower parts hold.
        if !self.config().no_readdir && !node.read().removed {
            entries.extend(self.list_merged(node)?);
        }
        Ok(Snapshot { entries })
    }

    pub(crate) fn do_opendir(
        &self,
        inode: u64,
        flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions)> {
        let node = self.inodes.get(inode)?;
        if !node.is_dir() {
            return Err(err(libc::ENOTDIR));
        }
        let h = self.handles.insert(OvlHandle {
            node,
            flags,
            kind: HandleKind::Dir(Mutex::new(None)),
        });
        Ok((Some(h), self.open_options(true)))
    }

    pub(crate) fn do_releasedir(&self, inode: u64, handle: u64) -> io::Result<()> {
        self.handles
            .remove(handle, inode)
            .map(drop)
            .ok_or_else(|| err(libc::EBADF))
    }

    /// The listing of `handle`, rebuilt when reading from offset 0.
    fn listing(
        &self,
        inode: u64,
        handle: u64,
        offset: u64,
    ) -> io::Result<(Arc<OvlHandle>, Arc<Snapshot>)> {
        let h = self.handles.get(handle, inode)?;
        let HandleKind::Dir(lock) = &h.kind else {
            return Err(err(libc::ENOTDIR));
        };
        let mut cur = lock.lock().unwrap_or_else(|p| p.into_inner());
        let snap = match &*cur {
            Some(s) if offset != 0 => s.clone(),
            _ => {
                let s = Arc::new(self.snapshot(&h.node)?);
                *cur = Some(s.clone());
                s
            }
        };
        drop(cur);
        Ok((h, snap))
    }

    pub(crate) fn do_readdir(
        &self,
        inode: u64,
        handle: u64,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        let (h, snap) = self.listing(inode, handle, offset)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, e) in snap.entries.iter().enumerate().skip(start) {
            let ino = if e.shadowed {
                self.shown_ino(&h.node, &e.name).unwrap_or(e.ino)
            } else {
                e.ino
            };
            let d = DirEntry {
                ino,
                offset: i as u64 + 1,
                type_: e.type_,
                name: &e.name,
            };
            if add_entry(d)? == 0 {
                break;
            }
        }
        Ok(())
    }

    /// The `st_ino` of entry `name` of `dir`, by a lookup.
    fn shown_ino(&self, dir: &Arc<OverlayInode>, name: &[u8]) -> Option<u64> {
        let cname = CString::new(name).ok()?;
        let n = self.lookup_child(dir, &cname).ok()??;
        Some(n.st_ino())
    }

    pub(crate) fn do_readdirplus(
        &self,
        inode: u64,
        handle: u64,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        let (h, snap) = self.listing(inode, handle, offset)?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let mut added = 0usize;
        for (i, e) in snap.entries.iter().enumerate().skip(start) {
            let mut d = DirEntry {
                ino: e.ino,
                offset: i as u64 + 1,
                type_: e.type_,
                name: &e.name,
            };
            if e.name == b"." || e.name == b".." {
                if add_entry(d, Entry::default())? == 0 {
                    break;
                }
                added += 1;
                continue;
            }
            let cname = CString::new(e.name.clone()).map_err(|_| err(libc::EIO))?;
            let found = self.lookup_child(&h.node, &cname).and_then(|n| match n {
                Some(n) => Ok(Some((self.node_stat(&n)?, n))),
                None => Ok(None),
            });
            let (st, n) = match found {
                Ok(Some(x)) => x,
                // Removed since the listing was made: leave it out.
                Ok(None) => continue,
                Err(_) if added > 0 => break,
                Err(e) => return Err(e),
            };
            d.ino = st.st_ino;
            let entry = self.entry_for(&n, st);
            if add_entry(d, entry)? == 0 {
                break;
            }
            n.into_kernel();
            added += 1;
        }
        Ok(())
    }

    /// Syncs the upper part of a directory, if it has one.
    pub(crate) fn do_fsyncdir(&self, inode: u64, datasync: bool) -> io::Result<()> {
        let node = self.inodes.get(inode)?;
        let Some(up) = node.upper() else {
            return Ok(());
        };
        let c = ctx();
        let (fh, _) = up.layer.opendir(&c, up.ino, libc::O_RDONLY as u32)?;
        let fh = fh.unwrap_or(0);
        let r = up.layer.fsyncdir(&c, up.ino, datasync, fh);
        let _ = up.layer.releasedir(&c, up.ino, 0, fh);
        r
    }

    /// Whether a lower layer of `parent` has a (non-whiteout) entry `name`: removing
    /// or renaming that name must then leave a whiteout.
    pub(crate) fn lower_positive(&self, parent: &OverlayInode, name: &CStr) -> bool {
        for base in parent.lowers() {
            match self.step(&base, name) {
                Ok(Step::Missing) => continue,
                Ok(Step::Whiteout) => return false,
                // Something is there (or we could not tell): keep it hidden.
                Ok(Step::Hit(..)) | Err(_) => return true,
            }
        }
        false
    }
}
