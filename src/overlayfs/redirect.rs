//! Following redirect attributes through the lower layers, as the kernel's
//! `redirect_dir=on` lookup does.
//!
//! What the lower layers are searched for (a [`Target`]) starts as the merged name, looked
//! up in the parent's lower directories. A directory found on the way may carry a
//! redirect, which rewrites the target for the layers *below* the one it was found in:
//!
//! - a relative redirect (one name) replaces the component it was found on;
//! - an absolute one (`/a/b`) replaces the whole path up to that component, and the
//!   search continues from the lower roots.
//!
//! The rest of the path after that component is kept, so a redirect found in one layer
//! on a directory that was itself reached through a redirect leads on correctly: with
//! `/a/dx` in the upper layer and `d` on `a/dx` in the layer below it, the layers under
//! that one are searched at `/a/d`.
//!
//! # Untrusted values
//!
//! Whoever writes the layers controls these attributes. A value the kernel would never
//! write fails the lookup with EINVAL, as in the kernel: empty, a relative value with a
//! `/`, or an absolute one with an empty component (`//`, a trailing `/`, `/` alone).
//! A `.` or `..` component fails it with EACCES, which is what the kernel's own name
//! lookup answers for them; followed, they would make a directory show its parent or a
//! layer root (a loop for `find`, and a way out of the subtree a redirect may name).

use std::ffi::{CStr, CString};
use std::io;
use std::sync::Arc;

use super::inode::RealInode;
use super::layer_ops::{dir_mark, get_xattr, DirMark};
use super::lookup::Step;
use super::OverlayFs;
use crate::errno::err;

fn is_dir(st: &libc::stat64) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// What the lower layers are searched for.
#[derive(Debug)]
pub(crate) struct Target {
    /// One name (relative) or a path from the lower roots (absolute: starts with `/`).
    path: Vec<u8>,
    /// No layer below the current one is to be searched (an opaque directory, a
    /// whiteout or a non-directory on the way).
    pub stop: bool,
    /// An absolute redirect was taken since the caller last cleared this: the layers
    /// below are searched from their roots.
    pub rooted: bool,
}

impl Target {
    pub fn new(name: &CStr) -> Target {
        Target {
            path: name.to_bytes().to_vec(),
            stop: false,
            rooted: false,
        }
    }

    pub fn is_absolute(&self) -> bool {
        self.path.first() == Some(&b'/')
    }

    /// Applies the (checked) redirect `r` found on the component that starts at byte
    /// `start` of the path and is followed by `rest` bytes.
    fn redirect(&mut self, r: &[u8], start: usize, rest: usize) {
        let post = self.path[self.path.len() - rest..].to_vec();
        if r.first() == Some(&b'/') {
            self.path = r.to_vec();
            // As the kernel: an opaque ancestor on the way stops nothing below here.
            self.stop = false;
            self.rooted = true;
        } else {
            self.path.truncate(start);
            self.path.extend_from_slice(r);
        }
        self.path.extend_from_slice(&post);
    }
}

/// Checks a redirect value for the form the kernel writes (see the module doc); EINVAL
/// otherwise.
pub(crate) fn check_redirect(r: &[u8]) -> io::Result<()> {
    let ok = match r.strip_prefix(b"/") {
        _ if r.is_empty() || r.contains(&0) => false,
        Some(abs) => abs.split(|b| *b == b'/').all(|c| !c.is_empty()),
        None => !r.contains(&b'/'),
    };
    if ok {
        Ok(())
    } else {
        Err(err(libc::EINVAL))
    }
}

impl OverlayFs {
    /// The redirect attribute of the layer directory `ri`, checked.
    pub(crate) fn read_redirect(&self, ri: &RealInode) -> io::Result<Option<Vec<u8>>> {
        let Some(r) = get_xattr(&*ri.layer, ri.ino, &self.names().redirect)? else {
            return Ok(None);
        };
        if let Err(e) = check_redirect(&r) {
            log::debug!(
                "invalid redirect {:?} on layer {} inode {}",
                String::from_utf8_lossy(&r),
                ri.idx,
                ri.ino
            );
            return Err(e);
        }
        Ok(Some(r))
    }

    /// What a directory found in a layer with more layers below it means for them:
    /// opaque stops the search, a redirect rewrites `t` (see [`Target::redirect`]).
    /// Returns the redirect taken, if any.
    pub(crate) fn apply_dir_marks(
        &self,
        ri: &RealInode,
        t: &mut Target,
        start: usize,
        rest: usize,
    ) -> io::Result<Option<Vec<u8>>> {
        if dir_mark(ri, self.names())? == DirMark::Opaque {
            t.stop = true;
            return Ok(None);
        }
        let r = self.read_redirect(ri)?;
        if let Some(r) = &r {
            t.redirect(r, start, rest);
        }
        Ok(r)
    }

    /// Looks a component that came from a target up in the lower directory `dir`.
    fn lower_step(&self, dir: &RealInode, name: &[u8]) -> io::Result<Step> {
        // Only a redirect can bring these here; followed, they would leave the subtree.
        if name == b"." || name == b".." {
            return Err(err(libc::EACCES));
        }
        let name = CString::new(name).map_err(|_| err(libc::EINVAL))?;
        self.step(dir, &name)
    }

    /// Looks the target up in one lower layer: in `base`, the parent's directory of that
    /// layer (relative target) or its root (absolute). Directories on the way and at the
    /// end update `t` for the layers below, unless this is the bottom layer.
    pub(crate) fn lookup_in_layer(
        &self,
        base: &Arc<RealInode>,
        t: &mut Target,
        bottom: bool,
    ) -> io::Result<Step> {
        // The walk goes over the path as it was on entry; redirects met on the way only
        // change what the layers below look for.
        let path = t.path.clone();
        let comps: Vec<(usize, usize)> = if t.is_absolute() {
            let mut v = Vec::new();
            let mut start = 1;
            for c in path[1..].split(|b| *b == b'/') {
                v.push((start, start + c.len()));
                start += c.len() + 1;
            }
            v
        } else {
            vec![(0, path.len())]
        };
        let mut cur: Option<RealInode> = None;
        for (i, &(s, e)) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            let dir = cur.as_ref().unwrap_or(base);
            let step = self.lower_step(dir, &path[s..e])?;
            match step {
                Step::Hit(ri, st) if is_dir(&st) => {
                    if !bottom {
                        // Where this component starts in the target as it is now (an
                        // earlier redirect may have changed what comes before it).
                        let rest = path.len() - e;
                        let start = t.path.len() - rest - (e - s);
                        self.apply_dir_marks(&ri, t, start, rest)?;
                    }
                    if last {
                        return Ok(Step::Hit(ri, st));
                    }
                    cur = Some(ri);
                }
                // The end of the path: the caller decides.
                step if last => return Ok(step),
                // A whiteout or a non-directory on the way hides the rest of the path
                // here and below.
                Step::Hit(..) | Step::Whiteout => {
                    t.stop = true;
                    return Ok(Step::Missing);
                }
                Step::Missing => return Ok(Step::Missing),
            }
        }
        Ok(Step::Missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_values_of_the_kernel_form_pass() {
        for ok in [
            &b"d"[..],
            b"/a",
            b"/a/b/c",
            b".",
            b"..",
            b"/..",
            b"/../../..",
        ] {
            assert!(
                check_redirect(ok).is_ok(),
                "{:?}",
                String::from_utf8_lossy(ok)
            );
        }
    }

    #[test]
    fn malformed_redirect_values_are_einval() {
        for bad in [
            &b""[..],
            b"/",
            b"a/b",
            b"//a",
            b"/a//b",
            b"/a/",
            b"a\0b",
            b"../x",
        ] {
            assert_eq!(
                check_redirect(bad).unwrap_err().raw_os_error(),
                Some(libc::EINVAL),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    fn target(p: &str) -> Target {
        Target::new(&CString::new(p).unwrap())
    }

    #[test]
    fn relative_redirect_replaces_its_component_and_keeps_the_rest() {
        let mut t = target("d");
        t.redirect(b"x", 0, 0);
        assert_eq!(t.path, b"x");
        assert!(!t.rooted);
        // Found on `dx` of `/a/dx/sub`: `/a/` before it, `/sub` after.
        let mut t = target("/a/dx/sub");
        t.redirect(b"d", 3, 4);
        assert_eq!(t.path, b"/a/d/sub");
        let mut t = target("/a/dx");
        t.redirect(b"d", 3, 0);
        assert_eq!(t.path, b"/a/d");
    }

    #[test]
    fn absolute_redirect_replaces_the_prefix_and_clears_stop() {
        let mut t = target("/a/b/c");
        t.stop = true;
        t.redirect(b"/x/y", 3, 2);
        assert_eq!(t.path, b"/x/y/c");
        assert!(t.rooted && !t.stop);
    }
}
