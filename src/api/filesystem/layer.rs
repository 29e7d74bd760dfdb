//! The [`Layer`] trait: a [`FileSystem`] that can serve as one layer of an
//! [`OverlayFs`](crate::overlayfs::OverlayFs).
//!
//! A layer is an ordinary filesystem driver seen from the inside: the overlay calls its
//! [`FileSystem`] methods directly (with the root [`Context`](super::Context) for its own
//! bookkeeping, with the caller's context for creations the caller asked for), holds one
//! lookup reference per layer inode it remembers and gives it back with `forget`.
//!
//! The trait only adds the mechanisms the overlay cannot build from the `FileSystem`
//! methods. Every overlay *policy* (what a whiteout looks like, which extended attributes
//! mark an opaque or redirected directory, how copy-up goes through the work directory)
//! lives in [`crate::overlayfs`], so that a layer never needs to know it is part of an
//! overlay.

use std::io;
use std::path::Path;

use super::FileSystem;

/// A filesystem usable as an overlay layer: inodes and handles are plain `u64`s.
///
/// The lower layers are only read. The upper layer must support, besides the usual
/// creation and removal operations: `mknod` of a character device 0/0 (a whiteout) or
/// extended attributes in the overlay's namespace, `rename` with `RENAME_EXCHANGE` (and
/// `RENAME_WHITEOUT` when available), `link`, and [`Layer::attach_work_dir`].
pub trait Layer: FileSystem<Inode = u64, Handle = u64> {
    /// The root inode of the layer. The overlay uses it without looking it up and never
    /// forgets it, so it must stay valid for the layer's lifetime.
    fn root_inode(&self) -> u64;

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
    fn attach_work_dir(&self, path: &Path) -> io::Result<u64> {
        let _ = path;
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }
}
