//! Overlay policy on top of the plain [`Layer`] mechanisms: what a whiteout is, which
//! extended attributes mark opaque and redirected directories, how the client's view of
//! extended attributes maps to the layer's, and data buffers for copy-up.
//!
//! The overlay's own attributes live under a private prefix, `trusted.overlay.` by
//! default and `user.overlay.` with [`Config::userxattr`](super::Config::userxattr) (the
//! kernel's `userxattr`):
//!
//! | name (after the prefix) | on | meaning |
//! |---|---|---|
//! | `opaque` = `y` | directory | nothing below this layer is merged into it |
//! | `opaque` = `x` | directory | not opaque, but holds `whiteout` files |
//! | `whiteout` | empty regular file in an `x` directory | a whiteout |
//! | `redirect` | directory | its lower part is at this path (absolute) or name |
//! | `nlink` = `U±n` | index inode | visible link count relative to the upper one |
//! | `fbrs.origin` | copied-up non-directory | `dev:ino` of the lower file it came from |
//!
//! A whiteout is also (and, when the daemon may create one, always) a character device
//! 0/0. The client never sees the private attributes: a name under the prefix is escaped
//! to `prefix + "overlay."` in the layer, as the kernel does.

use std::ffi::{CStr, CString};
use std::io;
use std::sync::Arc;

use super::inode::RealInode;
use super::DynLayer;
use crate::api::filesystem::{
    Context, Entry, GetxattrReply, Layer, ZeroCopyReader, ZeroCopyWriter,
};
use crate::common::{FileReadWriteVolatile, FileVolatileSlice};
use crate::errno::err;

/// Whether `e` says "no such attribute" or "no attributes here at all".
fn no_xattr(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENODATA) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP)
    )
}

/// The private attribute names for one prefix.
pub(crate) struct XattrNames {
    pub prefix: &'static [u8],
    pub opaque: CString,
    pub redirect: CString,
    pub whiteout: CString,
    pub nlink: CString,
    pub origin: CString,
}

impl XattrNames {
    pub fn new(user: bool) -> XattrNames {
        let prefix: &'static [u8] = if user {
            b"user.overlay."
        } else {
            b"trusted.overlay."
        };
        let name = |rest: &str| {
            let mut v = prefix.to_vec();
            v.extend_from_slice(rest.as_bytes());
            CString::new(v).unwrap_or_default()
        };
        XattrNames {
            prefix,
            opaque: name("opaque"),
            redirect: name("redirect"),
            whiteout: name("whiteout"),
            nlink: name("nlink"),
            origin: name("fbrs.origin"),
        }
    }

    /// The layer's name for a name the client used: names under the private prefix are
    /// escaped (`trusted.overlay.X` becomes `trusted.overlay.overlay.X`).
    pub fn to_layer(&self, name: &CStr) -> CString {
        let b = name.to_bytes();
        match b.strip_prefix(self.prefix) {
            Some(rest) => {
                let mut v = self.prefix.to_vec();
                v.extend_from_slice(b"overlay.");
                v.extend_from_slice(rest);
                CString::new(v).unwrap_or_default()
            }
            None => name.to_owned(),
        }
    }

    /// The client's name for a layer's attribute, or `None` for a private one.
    pub fn to_client<'a>(&self, name: &'a [u8]) -> Option<std::borrow::Cow<'a, [u8]>> {
        match name.strip_prefix(self.prefix) {
            Some(rest) => rest.strip_prefix(b"overlay.".as_slice()).map(|r| {
                let mut v = self.prefix.to_vec();
                v.extend_from_slice(r);
                std::borrow::Cow::Owned(v)
            }),
            None => Some(std::borrow::Cow::Borrowed(name)),
        }
    }

    /// Whether copy-up leaves the layer attribute `name` behind (the overlay's own).
    pub fn is_private(&self, name: &[u8]) -> bool {
        name.strip_prefix(self.prefix)
            .is_some_and(|rest| !rest.starts_with(b"overlay."))
    }
}

/// A character device 0/0: the classic whiteout.
pub(crate) fn is_whiteout_dev(st: &libc::stat64) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0
}

/// What the opaque attribute of a directory says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DirMark {
    None,
    /// `y`: opaque.
    Opaque,
    /// `x`: not opaque, holds attribute whiteouts.
    XWhiteouts,
}

/// A small attribute's value, `None` when it is not there (or the layer has none).
pub(crate) fn get_xattr(layer: &DynLayer, ino: u64, name: &CStr) -> io::Result<Option<Vec<u8>>> {
    get_xattr_of(layer, &Context::new(), ino, name)
}

fn get_xattr_of<L: Layer + ?Sized>(
    layer: &L,
    ctx: &Context,
    ino: L::Inode,
    name: &CStr,
) -> io::Result<Option<Vec<u8>>> {
    match layer.getxattr(ctx, ino, name, 4096) {
        Ok(GetxattrReply::Value(v)) => Ok(Some(v)),
        Ok(GetxattrReply::Count(_)) => Ok(None),
        Err(e) if no_xattr(&e) => Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ERANGE) => {
            // Longer than any value of ours: not one of ours.
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

pub(crate) fn dir_mark(real: &RealInode, names: &XattrNames) -> io::Result<DirMark> {
    Ok(
        match get_xattr(&*real.layer, real.ino, &names.opaque)?.as_deref() {
            Some(b"y") | Some(b"Y") => DirMark::Opaque,
            Some(b"x") => DirMark::XWhiteouts,
            _ => DirMark::None,
        },
    )
}

/// Whether the object `ri` (attributes `st`) in directory `dir` of the same layer is a
/// whiteout: a 0/0 character device, or an empty regular file with the `whiteout`
/// attribute in a directory marked `x`.
pub(crate) fn is_whiteout(
    dir: &RealInode,
    ri: &RealInode,
    st: &libc::stat64,
    names: &XattrNames,
) -> io::Result<bool> {
    if is_whiteout_dev(st) {
        return Ok(true);
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_size != 0 {
        return Ok(false);
    }
    if dir_mark(dir, names)? != DirMark::XWhiteouts {
        return Ok(false);
    }
    Ok(get_xattr(&*ri.layer, ri.ino, &names.whiteout)?.is_some())
}

/// Looks `name` up in the layer directory `dir`; `None` when it does not exist.
pub(crate) fn layer_lookup(
    dir: &RealInode,
    name: &CStr,
) -> io::Result<Option<(RealInode, libc::stat64)>> {
    match dir.layer.lookup(&Context::new(), dir.ino, name) {
        Ok(e) if e.inode == 0 => Ok(None),
        Ok(e) => Ok(Some((
            RealInode::owned(&dir.layer, dir.idx, e.inode),
            e.attr,
        ))),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Wraps the entry a creating layer operation returned.
pub(crate) fn adopt(dir: &RealInode, e: Entry) -> (RealInode, libc::stat64) {
    (RealInode::owned(&dir.layer, dir.idx, e.inode), e.attr)
}

/// Sets an attribute of ours on a layer object.
pub(crate) fn set_xattr(real: &RealInode, name: &CStr, value: &[u8]) -> io::Result<()> {
    real.layer
        .setxattr(&Context::new(), real.ino, name, value, 0)
}

// The `Layer` helper methods (whiteouts, opaque directories), generic over the layer's
// inode type; the trait's provided methods call these.

fn is_dir(st: &libc::stat64) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// Looks `name` up in `parent`; `None` when it does not exist. Lookup count +1 on `Some`.
fn lookup_opt<L: Layer + ?Sized>(
    l: &L,
    ctx: &Context,
    parent: u64,
    name: &CStr,
) -> io::Result<Option<Entry>> {
    match l.lookup(ctx, parent.into(), name) {
        Ok(e) if e.inode == 0 => Ok(None),
        Ok(e) => Ok(Some(e)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn create_whiteout<L: Layer + ?Sized>(
    l: &L,
    ctx: &Context,
    parent: L::Inode,
    name: &CStr,
) -> io::Result<Entry> {
    let parent: u64 = parent.into();
    if let Some(e) = lookup_opt(l, ctx, parent, name)? {
        if is_whiteout_dev(&e.attr) {
            return Ok(e);
        }
        l.forget(ctx, e.inode.into(), 1);
        return Err(err(libc::EEXIST));
    }
    l.mknod(ctx, parent.into(), name, libc::S_IFCHR, 0, 0)
}

pub(crate) fn delete_whiteout<L: Layer + ?Sized>(
    l: &L,
    ctx: &Context,
    parent: L::Inode,
    name: &CStr,
) -> io::Result<()> {
    let parent: u64 = parent.into();
    let Some(e) = lookup_opt(l, ctx, parent, name)? else {
        return Ok(());
    };
    l.forget(ctx, e.inode.into(), 1);
    if !is_whiteout_dev(&e.attr) {
        return Err(err(libc::EINVAL));
    }
    l.unlink(ctx, parent.into(), name)
}

pub(crate) fn is_whiteout_inode<L: Layer + ?Sized>(
    l: &L,
    ctx: &Context,
    inode: L::Inode,
) -> io::Result<bool> {
    Ok(is_whiteout_dev(&l.getattr(ctx, inode, None)?.0))
}

/// `inode` as a `u64` after checking that it is a directory (ENOTDIR otherwise).
fn dir_ino<L: Layer + ?Sized>(l: &L, ctx: &Context, inode: L::Inode) -> io::Result<u64> {
    let inode: u64 = inode.into();
    if !is_dir(&l.getattr(ctx, inode.into(), None)?.0) {
        return Err(err(libc::ENOTDIR));
    }
    Ok(inode)
}

pub(crate) fn set_opaque<L: Layer + ?Sized>(
    l: &L,
    ctx: &Context,
    inode: L::Inode,
) -> io::Result<()> {
    let inode = dir_ino(l, ctx, inode)?;
    l.setxattr(ctx, inode.into(), &XattrNames::new(false).opaque, b"y", 0)
}

/// fuse-overlayfs's opaque attribute, honoured by [`is_opaque`] (never set).
const FUSE_OVERLAYFS_OPAQUE: &CStr = c"user.fuseoverlayfs.opaque";

pub(crate) fn is_opaque<L: Layer + ?Sized>(
    l: &L,
    ctx: &Context,
    inode: L::Inode,
) -> io::Result<bool> {
    let inode = dir_ino(l, ctx, inode)?;
    let names = [
        XattrNames::new(false).opaque,
        XattrNames::new(true).opaque,
        FUSE_OVERLAYFS_OPAQUE.to_owned(),
    ];
    for name in &names {
        let v = get_xattr_of(l, ctx, inode.into(), name)?;
        if matches!(v.as_deref(), Some(b"y") | Some(b"Y")) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Reads `len` bytes of layer file data into a buffer (the READ side of copy-up).
pub(crate) struct BufSink<'a> {
    pub buf: &'a mut [u8],
    pub len: usize,
}

impl io::Write for BufSink<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ZeroCopyWriter for BufSink<'_> {
    fn write_from(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        let end = self.buf.len().min(self.len.saturating_add(count));
        let slice = FileVolatileSlice::from_mut_slice(&mut self.buf[self.len..end]);
        let n = f.read_at_volatile(slice, off)?;
        self.len += n;
        Ok(n)
    }
    fn available_bytes(&self) -> usize {
        self.buf.len() - self.len
    }
}

/// Writes buffered data into a layer file (the WRITE side of copy-up).
pub(crate) struct BufSource<'a> {
    pub buf: &'a mut [u8],
    pub pos: usize,
}

impl io::Read for BufSource<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl ZeroCopyReader for BufSource<'_> {
    fn read_to(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        let end = self.buf.len().min(self.pos.saturating_add(count));
        let slice = FileVolatileSlice::from_mut_slice(&mut self.buf[self.pos..end]);
        let n = f.write_at_volatile(slice, off)?;
        self.pos += n;
        Ok(n)
    }
}

/// A layer handle together with the layer, for the few places that hold one briefly.
pub(crate) struct LayerFile<'a> {
    pub layer: &'a Arc<DynLayer>,
    pub ino: u64,
    pub fh: u64,
}

impl Drop for LayerFile<'_> {
    fn drop(&mut self) {
        let _ = self
            .layer
            .release(&Context::new(), self.ino, 0, self.fh, false, false, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_names_are_escaped_both_ways() {
        let n = XattrNames::new(false);
        assert_eq!(
            n.to_layer(c"trusted.overlay.opaque").as_bytes(),
            b"trusted.overlay.overlay.opaque"
        );
        assert_eq!(n.to_layer(c"user.x").as_bytes(), b"user.x");
        assert_eq!(n.to_client(b"trusted.overlay.opaque"), None);
        assert_eq!(
            n.to_client(b"trusted.overlay.overlay.foo").as_deref(),
            Some(b"trusted.overlay.foo".as_slice())
        );
        assert_eq!(
            n.to_client(b"user.overlay.opaque").as_deref(),
            Some(b"user.overlay.opaque".as_slice())
        );
        assert!(n.is_private(b"trusted.overlay.redirect"));
        assert!(!n.is_private(b"trusted.overlay.overlay.x"));
        let u = XattrNames::new(true);
        assert_eq!(u.opaque.as_bytes(), b"user.overlay.opaque");
        assert!(u.is_private(b"user.overlay.whiteout"));
        assert!(!u.is_private(b"trusted.overlay.opaque"));
    }

    #[test]
    fn whiteout_devices() {
        let mut st = Entry::default().attr;
        st.st_mode = libc::S_IFCHR;
        assert!(is_whiteout_dev(&st));
        st.st_rdev = libc::makedev(1, 3);
        assert!(!is_whiteout_dev(&st));
        st.st_mode = libc::S_IFREG;
        st.st_rdev = 0;
        assert!(!is_whiteout_dev(&st));
    }
}
