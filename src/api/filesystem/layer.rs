//! The [`Layer`] trait: a [`FileSystem`] that can serve as one layer of an
//! [`OverlayFs`](crate::overlayfs::OverlayFs).
//!
//! A layer is an ordinary filesystem driver seen from the inside: the overlay calls its
//! [`FileSystem`] methods directly (with the root [`Context`] for its own bookkeeping,
//! with the caller's context for creations the caller asked for), holds one lookup
//! reference per layer inode it remembers and gives it back with `forget`.
//!
//! The trait adds the mechanisms the overlay cannot build from the `FileSystem` methods
//! (the root, the work directory) and, as fuse-backend-rs 0.14 did, helpers for tools that
//! prepare layers (whiteouts, opaque directories). The helpers are provided methods that
//! call the overlay's own implementation in [`crate::overlayfs`], so a layer never needs to
//! know the overlay's formats, and the overlay and the helpers agree on them.

use std::ffi::CStr;
use std::io;
use std::path::Path;

use super::{Context, Entry, FileSystem};
use crate::errno::err;
use crate::overlayfs::layer_ops;

/// A filesystem usable as an overlay layer. [`OverlayFs`](crate::overlayfs::OverlayFs)
/// takes layers whose inodes and handles are `u64`
/// ([`BoxedLayer`](crate::overlayfs::BoxedLayer)).
///
/// The lower layers are only read. The upper layer must support, besides the usual
/// creation and removal operations: `mknod` of a character device 0/0 (a whiteout) or
/// extended attributes in the overlay's namespace, `rename` with `RENAME_EXCHANGE` (and
/// `RENAME_WHITEOUT` when available), `link`, and [`Layer::attach_work_dir`].
pub trait Layer: FileSystem {
    /// The root inode of the layer. The overlay uses it without looking it up and never
    /// forgets it, so it must stay valid for the layer's lifetime.
    fn root_inode(&self) -> Self::Inode;

    /// Makes `path`, a directory outside the layer's tree but on the same host filesystem
    /// as its root, reachable as an inode of this layer, and returns that inode (its
    /// lookup count is raised by one).
    ///
    /// The overlay builds copied-up files in this work directory and renames them into
    /// the layer's tree only once they are complete, so `rename` and `link` between the
    /// returned inode and the layer's own directories must work as they do within one
    /// host filesystem. `path` comes from the administrator's configuration, never from a
    /// client, and the returned inode is never shown to a client.
    ///
    /// # Errors
    ///
    /// `EXDEV` when `path` is on another filesystem than the layer, `ENOTDIR` when it is
    /// not a directory, `ENOSYS` (the default) when the layer cannot reach directories
    /// outside its tree: such a layer can only be a lower layer.
    fn attach_work_dir(&self, path: &Path) -> io::Result<Self::Inode> {
        let _ = path;
        Err(err(libc::ENOSYS))
    }

    /// Creates the whiteout `name` in `parent`: a character device 0/0, the form every
    /// overlay reads. Returns the whiteout already there; fails with EEXIST when `name` is
    /// something else. Lookup count +1 on the returned entry.
    fn create_whiteout(
        &self,
        ctx: &Context,
        parent: Self::Inode,
        name: &CStr,
    ) -> io::Result<Entry> {
        layer_ops::create_whiteout(self, ctx, parent, name)
    }

    /// Removes the whiteout `name` of `parent`. Succeeds when `name` does not exist;
    /// fails with EINVAL when it is not a whiteout.
    fn delete_whiteout(&self, ctx: &Context, parent: Self::Inode, name: &CStr) -> io::Result<()> {
        layer_ops::delete_whiteout(self, ctx, parent, name)
    }

    /// Whether `inode` is a whiteout (a character device 0/0).
    fn is_whiteout(&self, ctx: &Context, inode: Self::Inode) -> io::Result<bool> {
        layer_ops::is_whiteout_inode(self, ctx, inode)
    }

    /// Whether the directory `inode` is opaque (nothing below this layer is merged into
    /// it): an opaque attribute `y` under the privileged (`trusted.overlay.`), the
    /// unprivileged (`user.overlay.`) or fuse-overlayfs's (`user.fuseoverlayfs.`) prefix.
    /// ENOTDIR when `inode` is not a directory.
    fn is_opaque(&self, ctx: &Context, inode: Self::Inode) -> io::Result<bool> {
        layer_ops::is_opaque(self, ctx, inode)
    }

    /// Marks the directory `inode` opaque with `trusted.overlay.opaque` = `y`, the
    /// kernel's format and the overlay's default. ENOTDIR when `inode` is not a directory.
    fn set_opaque(&self, ctx: &Context, inode: Self::Inode) -> io::Result<()> {
        layer_ops::set_opaque(self, ctx, inode)
    }
}

/// A boxed layer is a layer (so `Arc<Box<dyn Layer<..>>>` serves as one).
impl<L: Layer + ?Sized> Layer for Box<L> {
    fn root_inode(&self) -> Self::Inode {
        (**self).root_inode()
    }
    fn attach_work_dir(&self, path: &Path) -> io::Result<Self::Inode> {
        (**self).attach_work_dir(path)
    }
    fn create_whiteout(
        &self,
        ctx: &Context,
        parent: Self::Inode,
        name: &CStr,
    ) -> io::Result<Entry> {
        (**self).create_whiteout(ctx, parent, name)
    }
    fn delete_whiteout(&self, ctx: &Context, parent: Self::Inode, name: &CStr) -> io::Result<()> {
        (**self).delete_whiteout(ctx, parent, name)
    }
    fn is_whiteout(&self, ctx: &Context, inode: Self::Inode) -> io::Result<bool> {
        (**self).is_whiteout(ctx, inode)
    }
    fn is_opaque(&self, ctx: &Context, inode: Self::Inode) -> io::Result<bool> {
        (**self).is_opaque(ctx, inode)
    }
    fn set_opaque(&self, ctx: &Context, inode: Self::Inode) -> io::Result<()> {
        (**self).set_opaque(ctx, inode)
    }
}
