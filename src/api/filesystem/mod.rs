//! The [`FileSystem`] trait: one method per FUSE operation, called by the
//! [`Server`](crate::api::server::Server) after it has decoded and checked a request.
//!
//! Every method has a default: `ENOSYS` ("not implemented"; the kernel stops sending many
//! operations after the first ENOSYS), or a no-op for `forget`/`batch_forget`/`destroy`.
//! A driver implements what it supports.
//!
//! Methods take `&self`: the server calls them from many threads at once, so drivers use
//! interior mutability. Errors are `io::Error`s carrying a raw errno, which is sent to the
//! client unchanged; an error without one becomes `EIO`.

use std::ffi::CStr;
use std::io;
use std::sync::Arc;
use std::time::Duration;

pub use crate::abi::fuse_abi::{CreateIn, FileLock, FsOptions, OpenOptions, SetattrValid, ROOT_ID};
use crate::abi::virtio_fs::RemovemappingOne;
use crate::transport::FsCacheReqHandler;

pub mod layer;
pub use layer::Layer;

mod types;
pub use types::{
    Context, DirEntry, Entry, GetxattrReply, IoctlData, ListxattrReply, ZeroCopyReader,
    ZeroCopyWriter,
};

fn enosys<T>() -> io::Result<T> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

/// A filesystem served over FUSE. See the module documentation.
///
/// Lookup counts: every successful reply that carries an [`Entry`] with a nonzero inode
/// (lookup, mknod, mkdir, symlink, link, create, tmpfile, and each readdirplus entry) adds
/// one to that inode's count; `forget`/`batch_forget` subtract. The driver may drop an
/// inode when its count reaches zero. The root inode (`ROOT_ID`) is never forgotten.
#[allow(unused_variables, clippy::too_many_arguments, clippy::type_complexity)]
pub trait FileSystem: Send + Sync {
    /// The driver's inode type; the kernel sees it as a `u64` node id.
    type Inode: From<u64> + Into<u64>;
    /// The driver's open-file handle type; the kernel sees it as a `u64`.
    type Handle: From<u64> + Into<u64>;

    /// Called once for FUSE_INIT with the options the kernel offers; returns the subset the
    /// driver wants. The server only enables what both sides support.
    fn init(&self, capable: FsOptions) -> io::Result<FsOptions> {
        Ok(FsOptions::empty())
    }

    /// Called when the session ends (FUSE_DESTROY or unmount). No reply is expected.
    fn destroy(&self) {}

    /// Looks up `name` in `parent`. Lookup count +1 on success.
    fn lookup(&self, ctx: &Context, parent: Self::Inode, name: &CStr) -> io::Result<Entry> {
        enosys()
    }

    /// The kernel dropped `count` references to `inode`. Never answered.
    fn forget(&self, ctx: &Context, inode: Self::Inode, count: u64) {}

    /// FORGET for many inodes at once (FUSE_BATCH_FORGET). Never answered.
    fn batch_forget(&self, ctx: &Context, requests: Vec<(Self::Inode, u64)>) {
        for (inode, count) in requests {
            self.forget(ctx, inode, count);
        }
    }

    /// Attributes of `inode`; `handle` is set when the kernel passed FUSE_GETATTR_FH.
    fn getattr(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Option<Self::Handle>,
    ) -> io::Result<(libc::stat64, Duration)> {
        enosys()
    }

    /// Changes the attributes named by `valid`; `handle` is set for FATTR_FH (e.g.
    /// ftruncate). Returns the new attributes.
    fn setattr(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        attr: libc::stat64,
        handle: Option<Self::Handle>,
        valid: SetattrValid,
    ) -> io::Result<(libc::stat64, Duration)> {
        enosys()
    }

    /// The target of a symbolic link.
    fn readlink(&self, ctx: &Context, inode: Self::Inode) -> io::Result<Vec<u8>> {
        enosys()
    }

    /// Creates symlink `name` in `parent` pointing at `linkname`. Lookup count +1.
    fn symlink(
        &self,
        ctx: &Context,
        linkname: &CStr,
        parent: Self::Inode,
        name: &CStr,
    ) -> io::Result<Entry> {
        enosys()
    }

    /// Creates a file node (regular, FIFO, socket, device). Lookup count +1.
    fn mknod(
        &self,
        ctx: &Context,
        parent: Self::Inode,
        name: &CStr,
        mode: u32,
        rdev: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        enosys()
    }

    /// Creates a directory. Lookup count +1.
    fn mkdir(
        &self,
        ctx: &Context,
        parent: Self::Inode,
        name: &CStr,
        mode: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        enosys()
    }

    /// Removes a non-directory.
    fn unlink(&self, ctx: &Context, parent: Self::Inode, name: &CStr) -> io::Result<()> {
        enosys()
    }

    /// Removes an empty directory.
    fn rmdir(&self, ctx: &Context, parent: Self::Inode, name: &CStr) -> io::Result<()> {
        enosys()
    }

    /// Renames; `flags` are `RENAME_NOREPLACE`, `RENAME_EXCHANGE`, `RENAME_WHITEOUT`
    /// (FUSE_RENAME2; 0 for FUSE_RENAME).
    fn rename(
        &self,
        ctx: &Context,
        olddir: Self::Inode,
        oldname: &CStr,
        newdir: Self::Inode,
        newname: &CStr,
        flags: u32,
    ) -> io::Result<()> {
        enosys()
    }

    /// Creates hard link `newname` in `newparent` to `inode`. Lookup count +1.
    fn link(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        newparent: Self::Inode,
        newname: &CStr,
    ) -> io::Result<Entry> {
        enosys()
    }

    /// Opens a file. `flags` are the open(2) flags, `fuse_flags` the FUSE_OPEN_* flags.
    /// Returns the handle (or `None` with no-open), FOPEN_* options, and an optional
    /// passthrough backing id (since 7.40).
    fn open(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<(Option<Self::Handle>, OpenOptions, Option<u32>)> {
        enosys()
    }

    /// Atomically creates and opens a file. Lookup count +1.
    fn create(
        &self,
        ctx: &Context,
        parent: Self::Inode,
        name: &CStr,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<Self::Handle>, OpenOptions, Option<u32>)> {
        enosys()
    }

    /// Reads up to `size` bytes at `offset` into `w`; returns the bytes read (short at EOF).
    fn read(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        flags: u32,
    ) -> io::Result<usize> {
        enosys()
    }

    /// Writes `size` bytes from `r` at `offset`; returns the bytes written.
    /// `delayed_write` is set for writeback-cache writes, `fuse_flags` holds FUSE_WRITE_*.
    fn write(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        r: &mut dyn ZeroCopyReader,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        delayed_write: bool,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<usize> {
        enosys()
    }

    /// Filesystem statistics.
    fn statfs(&self, ctx: &Context, inode: Self::Inode) -> io::Result<libc::statvfs64> {
        enosys()
    }

    /// The last close of an open file.
    fn release(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        flags: u32,
        handle: Self::Handle,
        flush: bool,
        flock_release: bool,
        lock_owner: Option<u64>,
    ) -> io::Result<()> {
        enosys()
    }

    /// Synchronises file contents (only data when `datasync`).
    fn fsync(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        datasync: bool,
        handle: Self::Handle,
    ) -> io::Result<()> {
        enosys()
    }

    /// Called on each close(2) of a file descriptor.
    fn flush(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        lock_owner: u64,
    ) -> io::Result<()> {
        enosys()
    }

    /// Sets an extended attribute; `flags` are XATTR_CREATE/XATTR_REPLACE.
    fn setxattr(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        name: &CStr,
        value: &[u8],
        flags: u32,
    ) -> io::Result<()> {
        enosys()
    }

    /// Gets an extended attribute; with `size` 0 returns its length.
    fn getxattr(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        name: &CStr,
        size: u32,
    ) -> io::Result<GetxattrReply> {
        enosys()
    }

    /// Lists extended attribute names; with `size` 0 returns the list's length.
    fn listxattr(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        size: u32,
    ) -> io::Result<ListxattrReply> {
        enosys()
    }

    /// Removes an extended attribute.
    fn removexattr(&self, ctx: &Context, inode: Self::Inode, name: &CStr) -> io::Result<()> {
        enosys()
    }

    /// Opens a directory; returns the handle and FOPEN_* options.
    fn opendir(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        flags: u32,
    ) -> io::Result<(Option<Self::Handle>, OpenOptions)> {
        enosys()
    }

    /// Lists entries starting after `offset`, calling `add_entry` for each until it
    /// returns 0 (the reply of `size` bytes is full).
    fn readdir(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        enosys()
    }

    /// Like `readdir`, with an [`Entry`] per name. Each entry with a nonzero inode that
    /// `add_entry` accepted (returned > 0) adds one to that inode's lookup count.
    fn readdirplus(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        enosys()
    }

    /// Synchronises a directory.
    fn fsyncdir(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        datasync: bool,
        handle: Self::Handle,
    ) -> io::Result<()> {
        enosys()
    }

    /// Closes a directory.
    fn releasedir(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        flags: u32,
        handle: Self::Handle,
    ) -> io::Result<()> {
        enosys()
    }

    /// Checks access permissions (access(2)); `mask` is R_OK/W_OK/X_OK/F_OK.
    fn access(&self, ctx: &Context, inode: Self::Inode, mask: u32) -> io::Result<()> {
        enosys()
    }

    /// Tests for a POSIX lock.
    fn getlk(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<FileLock> {
        enosys()
    }

    /// Acquires, modifies or releases a POSIX lock (or a flock when `flags` has FUSE_LK_FLOCK).
    fn setlk(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<()> {
        enosys()
    }

    /// Like `setlk`, waiting for a conflicting lock to go away.
    fn setlkw(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<()> {
        enosys()
    }

    /// FUSE_INTERRUPT for the request `unique`. `Ok` sends no reply (the request will
    /// answer for itself); ENOSYS (the default) tells the kernel to stop sending interrupts;
    /// EAGAIN asks it to send this one again later.
    fn interrupt(&self, ctx: &Context, unique: u64) -> io::Result<()> {
        enosys()
    }

    /// Maps a file block to a device block (for block-device backed filesystems).
    fn bmap(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        block: u64,
        blocksize: u32,
    ) -> io::Result<u64> {
        enosys()
    }

    /// An ioctl on an open file; `data.data` holds `in_size` input bytes. The reply may
    /// carry at most `out_size` bytes.
    fn ioctl(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        flags: u32,
        cmd: u32,
        arg: u64,
        data: IoctlData,
        out_size: u32,
    ) -> io::Result<IoctlData> {
        enosys()
    }

    /// Polls for I/O readiness; returns the ready events.
    fn poll(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        khandle: u64,
        flags: u32,
        events: u32,
    ) -> io::Result<u32> {
        enosys()
    }

    /// The kernel's answer to a NOTIFY_RETRIEVE (FUSE_NOTIFY_REPLY).
    fn notify_reply(&self) -> io::Result<()> {
        enosys()
    }

    /// Allocates or punches space (fallocate(2) `mode`).
    fn fallocate(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        mode: u32,
        offset: u64,
        length: u64,
    ) -> io::Result<()> {
        enosys()
    }

    /// Repositions the file offset (SEEK_DATA/SEEK_HOLE among others); returns the result.
    fn lseek(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        offset: u64,
        whence: u32,
    ) -> io::Result<u64> {
        enosys()
    }

    /// Copies a range between open files without passing the data through the client
    /// (since 7.28). Returns the bytes copied.
    fn copy_file_range(
        &self,
        ctx: &Context,
        inode_in: Self::Inode,
        handle_in: Self::Handle,
        offset_in: u64,
        inode_out: Self::Inode,
        handle_out: Self::Handle,
        offset_out: u64,
        len: u64,
        flags: u64,
    ) -> io::Result<usize> {
        enosys()
    }

    /// Maps a file range into the virtio-fs DAX window (since 7.31).
    fn setupmapping(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        foffset: u64,
        len: u64,
        flags: u64,
        moffset: u64,
        vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        enosys()
    }

    /// Removes ranges from the virtio-fs DAX window (since 7.31).
    fn removemapping(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        requests: Vec<RemovemappingOne>,
        vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        enosys()
    }

    /// Synchronises the whole filesystem (since 7.34).
    fn syncfs(&self, ctx: &Context, inode: Self::Inode) -> io::Result<()> {
        enosys()
    }

    /// Creates an unnamed temporary file in `parent` (O_TMPFILE, since 7.37). Lookup count +1.
    fn tmpfile(
        &self,
        ctx: &Context,
        parent: Self::Inode,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<Self::Handle>, OpenOptions)> {
        enosys()
    }

    /// Extended attributes (statx(2), since 7.39); `mask` is the STATX_* fields wanted.
    fn statx(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Option<Self::Handle>,
        flags: u32,
        mask: u32,
    ) -> io::Result<(libc::statx, Duration)> {
        enosys()
    }
}

/// Shares one filesystem between servers (e.g. `Server::new(Arc::new(vfs))`).
#[allow(clippy::type_complexity)]
impl<F: FileSystem + ?Sized> FileSystem for Arc<F> {
    type Inode = F::Inode;
    type Handle = F::Handle;

    fn init(&self, capable: FsOptions) -> io::Result<FsOptions> {
        (**self).init(capable)
    }
    fn destroy(&self) {
        (**self).destroy()
    }
    fn lookup(&self, ctx: &Context, parent: Self::Inode, name: &CStr) -> io::Result<Entry> {
        (**self).lookup(ctx, parent, name)
    }
    fn forget(&self, ctx: &Context, inode: Self::Inode, count: u64) {
        (**self).forget(ctx, inode, count)
    }
    fn batch_forget(&self, ctx: &Context, requests: Vec<(Self::Inode, u64)>) {
        (**self).batch_forget(ctx, requests)
    }
    fn getattr(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Option<Self::Handle>,
    ) -> io::Result<(libc::stat64, Duration)> {
        (**self).getattr(ctx, inode, handle)
    }
    fn setattr(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        attr: libc::stat64,
        handle: Option<Self::Handle>,
        valid: SetattrValid,
    ) -> io::Result<(libc::stat64, Duration)> {
        (**self).setattr(ctx, inode, attr, handle, valid)
    }
    fn readlink(&self, ctx: &Context, inode: Self::Inode) -> io::Result<Vec<u8>> {
        (**self).readlink(ctx, inode)
    }
    fn symlink(
        &self,
        ctx: &Context,
        linkname: &CStr,
        parent: Self::Inode,
        name: &CStr,
    ) -> io::Result<Entry> {
        (**self).symlink(ctx, linkname, parent, name)
    }
    fn mknod(
        &self,
        ctx: &Context,
        parent: Self::Inode,
        name: &CStr,
        mode: u32,
        rdev: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        (**self).mknod(ctx, parent, name, mode, rdev, umask)
    }
    fn mkdir(
        &self,
        ctx: &Context,
        parent: Self::Inode,
        name: &CStr,
        mode: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        (**self).mkdir(ctx, parent, name, mode, umask)
    }
    fn unlink(&self, ctx: &Context, parent: Self::Inode, name: &CStr) -> io::Result<()> {
        (**self).unlink(ctx, parent, name)
    }
    fn rmdir(&self, ctx: &Context, parent: Self::Inode, name: &CStr) -> io::Result<()> {
        (**self).rmdir(ctx, parent, name)
    }
    fn rename(
        &self,
        ctx: &Context,
        olddir: Self::Inode,
        oldname: &CStr,
        newdir: Self::Inode,
        newname: &CStr,
        flags: u32,
    ) -> io::Result<()> {
        (**self).rename(ctx, olddir, oldname, newdir, newname, flags)
    }
    fn link(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        newparent: Self::Inode,
        newname: &CStr,
    ) -> io::Result<Entry> {
        (**self).link(ctx, inode, newparent, newname)
    }
    fn open(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<(Option<Self::Handle>, OpenOptions, Option<u32>)> {
        (**self).open(ctx, inode, flags, fuse_flags)
    }
    fn create(
        &self,
        ctx: &Context,
        parent: Self::Inode,
        name: &CStr,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<Self::Handle>, OpenOptions, Option<u32>)> {
        (**self).create(ctx, parent, name, args)
    }
    fn read(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        flags: u32,
    ) -> io::Result<usize> {
        (**self).read(ctx, inode, handle, w, size, offset, lock_owner, flags)
    }
    fn write(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        r: &mut dyn ZeroCopyReader,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        delayed_write: bool,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<usize> {
        (**self).write(
            ctx,
            inode,
            handle,
            r,
            size,
            offset,
            lock_owner,
            delayed_write,
            flags,
            fuse_flags,
        )
    }
    fn statfs(&self, ctx: &Context, inode: Self::Inode) -> io::Result<libc::statvfs64> {
        (**self).statfs(ctx, inode)
    }
    fn release(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        flags: u32,
        handle: Self::Handle,
        flush: bool,
        flock_release: bool,
        lock_owner: Option<u64>,
    ) -> io::Result<()> {
        (**self).release(ctx, inode, flags, handle, flush, flock_release, lock_owner)
    }
    fn fsync(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        datasync: bool,
        handle: Self::Handle,
    ) -> io::Result<()> {
        (**self).fsync(ctx, inode, datasync, handle)
    }
    fn flush(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        lock_owner: u64,
    ) -> io::Result<()> {
        (**self).flush(ctx, inode, handle, lock_owner)
    }
    fn setxattr(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        name: &CStr,
        value: &[u8],
        flags: u32,
    ) -> io::Result<()> {
        (**self).setxattr(ctx, inode, name, value, flags)
    }
    fn getxattr(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        name: &CStr,
        size: u32,
    ) -> io::Result<GetxattrReply> {
        (**self).getxattr(ctx, inode, name, size)
    }
    fn listxattr(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        size: u32,
    ) -> io::Result<ListxattrReply> {
        (**self).listxattr(ctx, inode, size)
    }
    fn removexattr(&self, ctx: &Context, inode: Self::Inode, name: &CStr) -> io::Result<()> {
        (**self).removexattr(ctx, inode, name)
    }
    fn opendir(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        flags: u32,
    ) -> io::Result<(Option<Self::Handle>, OpenOptions)> {
        (**self).opendir(ctx, inode, flags)
    }
    fn readdir(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        (**self).readdir(ctx, inode, handle, size, offset, add_entry)
    }
    fn readdirplus(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        (**self).readdirplus(ctx, inode, handle, size, offset, add_entry)
    }
    fn fsyncdir(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        datasync: bool,
        handle: Self::Handle,
    ) -> io::Result<()> {
        (**self).fsyncdir(ctx, inode, datasync, handle)
    }
    fn releasedir(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        flags: u32,
        handle: Self::Handle,
    ) -> io::Result<()> {
        (**self).releasedir(ctx, inode, flags, handle)
    }
    fn access(&self, ctx: &Context, inode: Self::Inode, mask: u32) -> io::Result<()> {
        (**self).access(ctx, inode, mask)
    }
    fn getlk(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<FileLock> {
        (**self).getlk(ctx, inode, handle, owner, lock, flags)
    }
    fn setlk(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<()> {
        (**self).setlk(ctx, inode, handle, owner, lock, flags)
    }
    fn setlkw(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<()> {
        (**self).setlkw(ctx, inode, handle, owner, lock, flags)
    }
    fn interrupt(&self, ctx: &Context, unique: u64) -> io::Result<()> {
        (**self).interrupt(ctx, unique)
    }
    fn bmap(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        block: u64,
        blocksize: u32,
    ) -> io::Result<u64> {
        (**self).bmap(ctx, inode, block, blocksize)
    }
    fn ioctl(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        flags: u32,
        cmd: u32,
        arg: u64,
        data: IoctlData,
        out_size: u32,
    ) -> io::Result<IoctlData> {
        (**self).ioctl(ctx, inode, handle, flags, cmd, arg, data, out_size)
    }
    fn poll(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        khandle: u64,
        flags: u32,
        events: u32,
    ) -> io::Result<u32> {
        (**self).poll(ctx, inode, handle, khandle, flags, events)
    }
    fn notify_reply(&self) -> io::Result<()> {
        (**self).notify_reply()
    }
    fn fallocate(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        mode: u32,
        offset: u64,
        length: u64,
    ) -> io::Result<()> {
        (**self).fallocate(ctx, inode, handle, mode, offset, length)
    }
    fn lseek(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        offset: u64,
        whence: u32,
    ) -> io::Result<u64> {
        (**self).lseek(ctx, inode, handle, offset, whence)
    }
    fn copy_file_range(
        &self,
        ctx: &Context,
        inode_in: Self::Inode,
        handle_in: Self::Handle,
        offset_in: u64,
        inode_out: Self::Inode,
        handle_out: Self::Handle,
        offset_out: u64,
        len: u64,
        flags: u64,
    ) -> io::Result<usize> {
        (**self).copy_file_range(
            ctx, inode_in, handle_in, offset_in, inode_out, handle_out, offset_out, len, flags,
        )
    }
    fn setupmapping(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        foffset: u64,
        len: u64,
        flags: u64,
        moffset: u64,
        vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        (**self).setupmapping(ctx, inode, handle, foffset, len, flags, moffset, vu_req)
    }
    fn removemapping(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        requests: Vec<RemovemappingOne>,
        vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        (**self).removemapping(ctx, inode, requests, vu_req)
    }
    fn syncfs(&self, ctx: &Context, inode: Self::Inode) -> io::Result<()> {
        (**self).syncfs(ctx, inode)
    }
    fn tmpfile(
        &self,
        ctx: &Context,
        parent: Self::Inode,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<Self::Handle>, OpenOptions)> {
        (**self).tmpfile(ctx, parent, args)
    }
    fn statx(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Option<Self::Handle>,
        flags: u32,
        mask: u32,
    ) -> io::Result<(libc::statx, Duration)> {
        (**self).statx(ctx, inode, handle, flags, mask)
    }
}
