//! Merged lookup: which layer objects make up the entry `name` of a directory, and the
//! node (and attributes) the client sees for them.
//!
//! The upper directory is asked first, then the parent's lower directories top-down:
//!
//! - a whiteout ends the search with nothing (or with what was found above it);
//! - a non-directory ends it; when it is the first thing found it is the entry. An upper
//!   non-directory carrying our `fbrs.origin` attribute gets the lower object with the
//!   same name and identity as its origin (for a stable `st_ino`);
//! - a directory is merged with the directories below it, until one is opaque or a
//!   non-directory sits under it; a redirect attribute makes the search continue under
//!   the name it holds (relative) or from the lower roots at the path it holds
//!   (absolute), like the kernel's `redirect_dir`, layer by layer (see `redirect.rs`);
//! - a lower file with several links whose copy sits in the index directory gets that
//!   copy as its upper object (see `copy_up.rs`).

use std::ffi::{CStr, CString};
use std::io;
use std::sync::Arc;

use super::inode::{NodeRef, NodeState, OverlayInode, RealInode};
use super::layer_ops::{get_xattr, is_whiteout, layer_lookup};
use super::redirect::Target;
use super::OverlayFs;
use crate::errno::err;

fn is_dir(st: &libc::stat64) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// The result of looking a name up in one layer.
pub(crate) enum Step {
    Missing,
    Whiteout,
    Hit(RealInode, libc::stat64),
}

/// The layer objects behind one merged name.
pub(crate) struct Found {
    pub file_type: u32,
    pub upper: Option<RealInode>,
    /// Directory: the merged lower directories; non-directory: the origin, if any.
    pub lowers: Vec<RealInode>,
    pub st_ino: u64,
    pub opaque: bool,
    pub redirect: Option<Vec<u8>>,
    pub indexed: bool,
    /// Non-directory: a lower file with several links.
    pub shared_lower: bool,
    /// Non-directory: host identity `(dev, ino)` of the lower file it is or came from.
    pub origin: Option<HostId>,
    /// Index copy: visible link count minus upper link count.
    pub nlink_delta: Option<i64>,
}

/// Host identity of a file: `(st_dev, st_ino)`.
pub(crate) type HostId = (u64, u64);

/// The index entry name of a lower file: its host identity.
pub(crate) fn index_name(origin: HostId) -> CString {
    CString::new(format!("{:x}-{:x}", origin.0, origin.1)).unwrap_or_default()
}

/// The value of our origin attribute for a lower file.
pub(crate) fn origin_value(st: &libc::stat64) -> Vec<u8> {
    format!("{:x}:{:x}", st.st_dev, st.st_ino).into_bytes()
}

fn parse_origin(v: &[u8]) -> Option<HostId> {
    let s = std::str::from_utf8(v).ok()?;
    let (d, i) = s.split_once(':')?;
    Some((
        u64::from_str_radix(d, 16).ok()?,
        u64::from_str_radix(i, 16).ok()?,
    ))
}

/// Parses the `nlink` attribute (`U+n`/`U-n`: relative to the upper link count).
pub(crate) fn parse_nlink(v: &[u8]) -> Option<i64> {
    std::str::from_utf8(v.strip_prefix(b"U")?)
        .ok()?
        .parse()
        .ok()
}

impl OverlayFs {
    /// Looks `name` up in the layer directory `dir`, telling whiteouts apart.
    pub(crate) fn step(&self, dir: &RealInode, name: &CStr) -> io::Result<Step> {
        let r = match layer_lookup(dir, name) {
            Ok(r) => r,
            // A lower layer may not allow the name at all.
            Err(e) if e.raw_os_error() == Some(libc::ENAMETOOLONG) && !self.is_upper(dir.idx) => {
                None
            }
            Err(e) => return Err(e),
        };
        Ok(match r {
            None => Step::Missing,
            Some((ri, st)) if is_whiteout(dir, &ri, &st, self.names())? => Step::Whiteout,
            Some((ri, st)) => Step::Hit(ri, st),
        })
    }

    /// What our attributes say about an upper non-directory: the lower file it was
    /// copied from (for a stable inode number) and, for an index copy, the link-count
    /// correction. An index copy has at least two links (the index and a name).
    fn upper_identity(
        &self,
        ri: &RealInode,
        st: &libc::stat64,
    ) -> io::Result<(Option<HostId>, Option<i64>)> {
        let names = self.names();
        let origin = get_xattr(&*ri.layer, ri.ino, &names.origin)?
            .as_deref()
            .and_then(parse_origin);
        let delta = if origin.is_some() && st.st_nlink > 1 {
            get_xattr(&*ri.layer, ri.ino, &names.nlink)?
                .as_deref()
                .and_then(parse_nlink)
        } else {
            None
        };
        Ok((origin, delta))
    }

    /// A lower file with several links: use its copy in the index, if there is one.
    fn check_index(&self, f: &mut Found, st: &libc::stat64) -> io::Result<()> {
        if st.st_nlink < 2 || is_dir(st) {
            return Ok(());
        }
        f.shared_lower = true;
        // The index copy carries the `nlink` attribute, which `user.*` names allow on
        // regular files only.
        let can_index = !self.config().userxattr || st.st_mode & libc::S_IFMT == libc::S_IFREG;
        if !self.config().index || !self.has_upper || !can_index {
            return Ok(());
        }
        f.indexed = true;
        let work = self.workdirs()?;
        if let Some((ri, ist)) = layer_lookup(&work.index, &index_name((st.st_dev, st.st_ino)))? {
            if ist.st_mode & libc::S_IFMT == st.st_mode & libc::S_IFMT {
                f.nlink_delta = get_xattr(&*ri.layer, ri.ino, &self.names().nlink)?
                    .as_deref()
                    .and_then(parse_nlink);
                f.upper = Some(ri);
            }
        }
        Ok(())
    }

    /// Finds the layer objects behind `name` in `parent`; `None` when the merged
    /// directory has no such entry.
    pub(crate) fn lookup_real(
        &self,
        parent: &OverlayInode,
        name: &CStr,
    ) -> io::Result<Option<Found>> {
        let (pupper, mut stack, removed) = {
            let s = parent.read();
            (s.upper.clone(), s.lowers.clone(), s.removed)
        };
        if removed || !parent.is_dir() {
            return Ok(None);
        }
        let mut found: Option<Found> = None;
        let mut target = Target::new(name);
        let mut last = None;

        if let Some(pu) = &pupper {
            last = Some(pu.idx);
            match self.step(pu, name)? {
                Step::Missing => {}
                Step::Whiteout => return Ok(None),
                Step::Hit(ri, st) if !is_dir(&st) => {
                    let (origin, nlink_delta) = self.upper_identity(&ri, &st)?;
                    let st_ino = origin
                        .and_then(|o| self.origin_ino(o))
                        .unwrap_or_else(|| self.map_ino(ri.idx, st.st_ino));
                    return Ok(Some(Found {
                        file_type: st.st_mode & libc::S_IFMT,
                        upper: Some(ri),
                        lowers: Vec::new(),
                        st_ino,
                        opaque: false,
                        redirect: None,
                        indexed: self.config().index && nlink_delta.is_some(),
                        shared_lower: false,
                        origin,
                        nlink_delta,
                    }));
                }
                Step::Hit(ri, st) => {
                    let redirect = self.apply_dir_marks(&ri, &mut target, 0, 0)?;
                    let opaque = target.stop;
                    if target.rooted {
                        target.rooted = false;
                        stack = self.root_lowers()?;
                    }
                    found = Some(Found {
                        file_type: libc::S_IFDIR,
                        st_ino: self.map_ino(ri.idx, st.st_ino),
                        upper: Some(ri),
                        lowers: Vec::new(),
                        opaque,
                        redirect,
                        indexed: false,
                        shared_lower: false,
                        origin: None,
                        nlink_delta: None,
                    });
                }
            }
        }

        while !target.stop {
            let Some(base) = stack
                .iter()
                .find(|r| last.map_or(true, |l| r.idx > l))
                .cloned()
            else {
                break;
            };
            last = Some(base.idx);
            let is_bottom = base.idx + 1 == self.layers.len();
            // Also takes the opaque mark and redirect of what it finds into `target`.
            let step = self.lookup_in_layer(&base, &mut target, is_bottom)?;
            if target.rooted {
                target.rooted = false;
                stack = self.root_lowers()?;
            }
            let (ri, st) = match step {
                Step::Missing => continue,
                Step::Whiteout => break,
                Step::Hit(ri, st) => (ri, st),
            };
            match &mut found {
                None if !is_dir(&st) => {
                    let mut f = Found {
                        file_type: st.st_mode & libc::S_IFMT,
                        st_ino: self.map_ino(ri.idx, st.st_ino),
                        upper: None,
                        lowers: vec![ri],
                        opaque: false,
                        redirect: None,
                        indexed: false,
                        shared_lower: false,
                        origin: Some((st.st_dev, st.st_ino)),
                        nlink_delta: None,
                    };
                    self.check_index(&mut f, &st)?;
                    return Ok(Some(f));
                }
                None => {
                    found = Some(Found {
                        file_type: libc::S_IFDIR,
                        st_ino: self.map_ino(ri.idx, st.st_ino),
                        upper: None,
                        lowers: Vec::new(),
                        opaque: false,
                        redirect: None,
                        indexed: false,
                        shared_lower: false,
                        origin: None,
                        nlink_delta: None,
                    });
                }
                Some(_) if !is_dir(&st) => break,
                Some(f) => {
                    if f.lowers.is_empty() {
                        // A merged directory shows the inode number of its lower part.
                        f.st_ino = self.map_ino(ri.idx, st.st_ino);
                    }
                }
            }
            if let Some(f) = &mut found {
                f.lowers.push(ri);
            }
        }
        Ok(found)
    }

    /// The node for `name` in `parent`, with one lookup reference held by the returned
    /// guard; `None` when there is no such entry.
    pub(crate) fn lookup_child(
        &self,
        parent: &Arc<OverlayInode>,
        name: &CStr,
    ) -> io::Result<Option<NodeRef<'_>>> {
        let b = name.to_bytes();
        if b == b"." {
            let n = self.inodes.find_ref_ino(parent.ino)?;
            return Ok(Some(NodeRef::new(&self.inodes, n)));
        }
        if b == b".." {
            let p = parent
                .read()
                .parent
                .clone()
                .unwrap_or_else(|| parent.clone());
            let n = self.inodes.find_ref_ino(p.ino)?;
            return Ok(Some(NodeRef::new(&self.inodes, n)));
        }
        let Some(f) = self.lookup_real(parent, name)? else {
            return Ok(None);
        };
        Ok(Some(NodeRef::new(
            &self.inodes,
            self.node_for(f, parent, name),
        )))
    }

    /// Finds or makes the node for `f` (lookup count +1) and records where it was seen.
    fn node_for(&self, f: Found, parent: &Arc<OverlayInode>, name: &CStr) -> Arc<OverlayInode> {
        let top = f.upper.as_ref().or(f.lowers.first());
        let key = top.map(|r| r.key()).unwrap_or((usize::MAX, 0));
        if let Some(n) = self.inodes.find_ref(key) {
            self.refresh(&n, f, parent, name);
            return n;
        }
        if f.upper.is_some() {
            // Copied up by an operation on a node the store no longer had: adopt.
            if let Some(lk) = f.lowers.first().map(|r| r.key()) {
                if let Some(n) = self.inodes.find_ref(lk) {
                    if n.upper().is_none() && n.file_type == f.file_type {
                        self.refresh(&n, f, parent, name);
                        return n;
                    }
                    self.inodes.forget(n.ino, 1);
                }
            }
        }
        let file_type = f.file_type;
        let st_ino = f.st_ino;
        let indexed = f.indexed;
        self.inodes.insert_or_ref(key, move |ino| {
            OverlayInode::new(
                ino,
                file_type,
                st_ino,
                NodeState {
                    upper: f.upper.map(Arc::new),
                    lowers: f.lowers.into_iter().map(Arc::new).collect(),
                    parent: Some(parent.clone()),
                    name: name.to_owned(),
                    opaque: f.opaque,
                    redirect: f.redirect,
                    indexed,
                    shared_lower: f.shared_lower,
                    origin: f.origin,
                    nlink_delta: f.nlink_delta,
                    removed: false,
                },
            )
        })
    }

    /// Brings a known node up to date with what a lookup found.
    fn refresh(&self, n: &Arc<OverlayInode>, f: Found, parent: &Arc<OverlayInode>, name: &CStr) {
        let old_key = n.key();
        let mut s = n.write();
        s.parent = Some(parent.clone());
        s.name = name.to_owned();
        s.indexed |= f.indexed;
        s.shared_lower |= f.shared_lower;
        if s.origin.is_none() {
            s.origin = f.origin;
        }
        if s.upper.is_none() {
            if let Some(u) = f.upper {
                let new_key = u.key();
                s.upper = Some(Arc::new(u));
                s.nlink_delta = f.nlink_delta;
                if n.is_dir() {
                    s.opaque = f.opaque;
                    s.redirect = f.redirect;
                }
                drop(s);
                self.inodes.rekey(n, old_key, new_key);
            }
        }
    }

    /// The client's view of a node's attributes: the top object's, with the node's
    /// inode number and the merged link count.
    pub(crate) fn node_stat(&self, node: &OverlayInode) -> io::Result<libc::stat64> {
        let top = node.top().ok_or_else(|| err(libc::ESTALE))?;
        let mut st = top.stat()?;
        self.fix_stat(node, &mut st)?;
        Ok(st)
    }

    /// Applies the node's identity to attributes read from its top object.
    pub(crate) fn fix_stat(&self, node: &OverlayInode, st: &mut libc::stat64) -> io::Result<()> {
        st.st_ino = node.st_ino();
        if node.is_dir() {
            if node.is_merged_dir() {
                // As the kernel: counting subdirectories over all layers is not worth it,
                // and 1 tells find(1) and friends not to rely on the count.
                st.st_nlink = 1;
            }
        } else if node.read().indexed && node.upper().is_some() {
            let delta = self.nlink_delta(node)?;
            st.st_nlink = (st.st_nlink as i64 + delta).max(0) as u64;
        }
        Ok(())
    }

    /// Visible link count minus upper link count of a copied-up indexed file, from the
    /// `nlink` attribute of its upper inode (`U+n`/`U-n`, the kernel's format).
    pub(crate) fn nlink_delta(&self, node: &OverlayInode) -> io::Result<i64> {
        if let Some(d) = node.read().nlink_delta {
            return Ok(d);
        }
        let Some(up) = node.upper() else {
            return Ok(0);
        };
        let v = get_xattr(&*up.layer, up.ino, &self.names().nlink)?;
        let d = v.as_deref().and_then(parse_nlink).unwrap_or(0);
        node.write().nlink_delta = Some(d);
        Ok(d)
    }

    /// Records a new visible-minus-upper link count on the upper inode.
    pub(crate) fn set_nlink_delta(
        &self,
        node: &OverlayInode,
        up: &RealInode,
        d: i64,
    ) -> io::Result<()> {
        let v = format!("U{d:+}");
        super::layer_ops::set_xattr(up, &self.names().nlink, v.as_bytes())?;
        node.write().nlink_delta = Some(d);
        Ok(())
    }
}
