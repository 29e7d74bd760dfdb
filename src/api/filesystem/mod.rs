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
use std::time::Duration;

pub use crate::abi::fuse_abi::{
    CreateIn, FsOptions, OpenOptions, SetattrValid, SetxattrFlags, ROOT_ID,
};
use crate::abi::virtio_fs::RemovemappingOne;
use crate::buffer::FsCacheReqHandler;
use crate::errno::err;

pub mod layer;
pub use layer::Layer;

mod lock_wait;
pub use lock_wait::LockWaiter;
pub(crate) use lock_wait::WaitTable;
mod types;
pub use types::{
    Context, DirEntry, Entry, FileLock, GetxattrReply, IoctlData, IoctlReply, ListxattrReply,
    ZeroCopyReader, ZeroCopyWriter,
};

/// A filesystem served over FUSE. See the module documentation.
///
/// Lookup counts: every successful reply that carries an [`Entry`] with a nonzero inode
/// (lookup, mknod, mkdir, symlink, link, create, tmpfile, and each readdirplus entry) adds
/// one to that inode's count; `forget`/`batch_forget` subtract. The driver may drop an
/// inode when its count reaches zero. The root inode (`ROOT_ID`) is never forgotten.
#[allow(unused_variables, clippy::too_many_arguments, clippy::type_complexity)]
pub trait FileSystem {
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
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
    }

    /// The target of a symbolic link.
    fn readlink(&self, ctx: &Context, inode: Self::Inode) -> io::Result<Vec<u8>> {
        Err(err(libc::ENOSYS))
    }

    /// Creates symlink `name` in `parent` pointing at `linkname`. Lookup count +1.
    fn symlink(
        &self,
        ctx: &Context,
        linkname: &CStr,
        parent: Self::Inode,
        name: &CStr,
    ) -> io::Result<Entry> {
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
    }

    /// Removes a non-directory.
    fn unlink(&self, ctx: &Context, parent: Self::Inode, name: &CStr) -> io::Result<()> {
        Err(err(libc::ENOSYS))
    }

    /// Removes an empty directory.
    fn rmdir(&self, ctx: &Context, parent: Self::Inode, name: &CStr) -> io::Result<()> {
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
    }

    /// Creates hard link `newname` in `newparent` to `inode`. Lookup count +1.
    fn link(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        newparent: Self::Inode,
        newname: &CStr,
    ) -> io::Result<Entry> {
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
    }

    /// Atomically creates and opens a file. Lookup count +1.
    fn create(
        &self,
        ctx: &Context,
        parent: Self::Inode,
        name: &CStr,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<Self::Handle>, OpenOptions, Option<u32>)> {
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
    }

    /// Filesystem statistics.
    fn statfs(&self, ctx: &Context, inode: Self::Inode) -> io::Result<libc::statvfs64> {
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
    }

    /// Synchronises file contents (only data when `datasync`).
    fn fsync(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        datasync: bool,
        handle: Self::Handle,
    ) -> io::Result<()> {
        Err(err(libc::ENOSYS))
    }

    /// Called on each close(2) of a file descriptor.
    fn flush(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        lock_owner: u64,
    ) -> io::Result<()> {
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
    }

    /// Sets an extended attribute, with the `setxattr_flags` the kernel sends when
    /// FUSE_SETXATTR_EXT was negotiated (since 7.33; empty otherwise). The server calls
    /// this method for every SETXATTR; the default forwards to [`FileSystem::setxattr`]
    /// and ignores `setxattr_flags`, so a filesystem that implements only `setxattr` keeps
    /// working unchanged.
    ///
    /// [`SetxattrFlags::ACL_KILL_SGID`]: the request sets `system.posix_acl_access` for a
    /// caller that is neither in the file's group nor holds `CAP_FSETID`, so the
    /// filesystem must clear set-group-ID from the mode, as the kernel does for local
    /// filesystems. An addition to upstream's API.
    fn setxattr_ext(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        name: &CStr,
        value: &[u8],
        flags: u32,
        setxattr_flags: SetxattrFlags,
    ) -> io::Result<()> {
        let _ = setxattr_flags;
        self.setxattr(ctx, inode, name, value, flags)
    }

    /// Gets an extended attribute; with `size` 0 returns its length.
    fn getxattr(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        name: &CStr,
        size: u32,
    ) -> io::Result<GetxattrReply> {
        Err(err(libc::ENOSYS))
    }

    /// Lists extended attribute names; with `size` 0 returns the list's length.
    fn listxattr(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        size: u32,
    ) -> io::Result<ListxattrReply> {
        Err(err(libc::ENOSYS))
    }

    /// Removes an extended attribute.
    fn removexattr(&self, ctx: &Context, inode: Self::Inode, name: &CStr) -> io::Result<()> {
        Err(err(libc::ENOSYS))
    }

    /// Opens a directory; returns the handle and FOPEN_* options.
    fn opendir(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        flags: u32,
    ) -> io::Result<(Option<Self::Handle>, OpenOptions)> {
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
    }

    /// Synchronises a directory.
    fn fsyncdir(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        datasync: bool,
        handle: Self::Handle,
    ) -> io::Result<()> {
        Err(err(libc::ENOSYS))
    }

    /// Closes a directory.
    fn releasedir(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        flags: u32,
        handle: Self::Handle,
    ) -> io::Result<()> {
        Err(err(libc::ENOSYS))
    }

    /// Checks access permissions (access(2)); `mask` is R_OK/W_OK/X_OK/F_OK.
    fn access(&self, ctx: &Context, inode: Self::Inode, mask: u32) -> io::Result<()> {
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
    }

    /// FUSE_SETLKW without keeping the serving thread while the lock is held by someone
    /// else: answer through `waiter` ([`LockWaiter::complete`]) once the lock is granted or
    /// the wait fails, from any thread, and end the wait with EINTR when
    /// [`LockWaiter::is_interrupted`] says the client gave up (FUSE_INTERRUPT).
    ///
    /// The server calls this instead of [`setlkw`](FileSystem::setlkw) when the transport
    /// can answer late (`/dev/fuse` always; virtio-fs when the queue's owner set a
    /// [`ReplySink`](crate::transport::ReplySink)). A wait that blocks the calling thread
    /// instead lets N waiting clients stop N service threads, and the unlock that would end
    /// the waits can then never be served. The default does just that: it calls `setlkw`
    /// and answers, for filesystems that never wait long.
    #[allow(clippy::too_many_arguments)]
    fn setlkw_deferred(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        owner: u64,
        lock: FileLock,
        flags: u32,
        waiter: LockWaiter,
    ) {
        waiter.complete(self.setlkw(ctx, inode, handle, owner, lock, flags));
    }

    /// FUSE_INTERRUPT for the request `unique`. `Ok` sends no reply (the request will
    /// answer for itself); ENOSYS (the default) tells the kernel to stop sending interrupts;
    /// EAGAIN asks it to send this one again later.
    fn interrupt(&self, ctx: &Context, unique: u64) -> io::Result<()> {
        Err(err(libc::ENOSYS))
    }

    /// Maps a file block to a device block (for block-device backed filesystems).
    fn bmap(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        block: u64,
        blocksize: u32,
    ) -> io::Result<u64> {
        Err(err(libc::ENOSYS))
    }

    /// An ioctl on an open file (upstream's form): `data.data` holds the request's input
    /// bytes (`None` when there are none); the reply may carry at most `out_size` bytes.
    /// The default fails with ENOTTY ("no such ioctl"), as upstream's did.
    ///
    /// The server calls [`ioctl_with_arg`](Self::ioctl_with_arg), whose default calls
    /// this method; implement that one instead to see the ioctl's `arg` or to return
    /// output the filesystem does not keep.
    fn ioctl(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        flags: u32,
        cmd: u32,
        data: IoctlData<'_>,
        out_size: u32,
    ) -> io::Result<IoctlData<'_>> {
        Err(err(libc::ENOTTY))
    }

    /// FUSE_IOCTL with everything the request carries: `arg` is the ioctl's argument as
    /// the client passed it, `data` the `in_size` input bytes. Returns the result and at
    /// most `out_size` output bytes (more is answered with EOVERFLOW).
    ///
    /// The default calls [`ioctl`](Self::ioctl) and copies its output.
    fn ioctl_with_arg(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        flags: u32,
        cmd: u32,
        arg: u64,
        data: &[u8],
        out_size: u32,
    ) -> io::Result<IoctlReply> {
        let input = IoctlData {
            result: 0,
            data: (!data.is_empty()).then_some(data),
        };
        let out = self.ioctl(ctx, inode, handle, flags, cmd, input, out_size)?;
        Ok(IoctlReply {
            result: out.result,
            data: out.data.map(<[u8]>::to_vec).unwrap_or_default(),
        })
    }

    /// Polls for I/O readiness; returns the ready events. `khandle` is the kernel's poll
    /// handle, for [`Server::notify_poll_wakeup`](crate::api::server::Server::notify_poll_wakeup).
    fn poll(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        handle: Self::Handle,
        khandle: Self::Handle,
        flags: u32,
        events: u32,
    ) -> io::Result<u32> {
        Err(err(libc::ENOSYS))
    }

    /// The kernel's answer to a NOTIFY_RETRIEVE (FUSE_NOTIFY_REPLY), without its data:
    /// fuse-backend-rs 0.14's form. The server calls
    /// [`notify_retrieve_reply`](Self::notify_retrieve_reply), whose default calls this.
    fn notify_reply(&self) -> io::Result<()> {
        Err(err(libc::ENOSYS))
    }

    /// The kernel's answer to
    /// [`Server::notify_retrieve`](crate::api::server::Server::notify_retrieve)
    /// (FUSE_NOTIFY_REPLY, ABI 7.15): `size` bytes of its page cache of `inode` from
    /// `offset`, read from `data` (without a copy: `read_to` a file, or `io::Read`).
    /// `cookie` is the `notify_unique` the retrieve was sent with, so the answer can be
    /// matched with its question. The kernel sends it on its own behalf: `ctx` carries no
    /// caller of interest.
    ///
    /// The server has checked that `size` is the number of bytes present, at most the
    /// negotiated `max_write` (the most the kernel sends), and that `offset + size` is a
    /// file offset; `data` holds exactly `size` bytes. A malformed answer never reaches the
    /// filesystem. The kernel expects no reply, so an error is only logged.
    ///
    /// The default calls [`notify_reply`](Self::notify_reply), so a filesystem written for
    /// fuse-backend-rs 0.14 is called as before.
    fn notify_retrieve_reply(
        &self,
        ctx: &Context,
        cookie: u64,
        inode: Self::Inode,
        offset: u64,
        size: u32,
        data: &mut dyn ZeroCopyReader,
    ) -> io::Result<()> {
        self.notify_reply()
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
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
    }

    /// Removes ranges from the virtio-fs DAX window (since 7.31).
    fn removemapping(
        &self,
        ctx: &Context,
        inode: Self::Inode,
        requests: Vec<RemovemappingOne>,
        vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        Err(err(libc::ENOSYS))
    }

    /// Synchronises the whole filesystem (since 7.34).
    fn syncfs(&self, ctx: &Context, inode: Self::Inode) -> io::Result<()> {
        Err(err(libc::ENOSYS))
    }

    /// Creates an unnamed temporary file in `parent` (O_TMPFILE, since 7.37). Lookup count +1.
    fn tmpfile(
        &self,
        ctx: &Context,
        parent: Self::Inode,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<Self::Handle>, OpenOptions)> {
        Err(err(libc::ENOSYS))
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
        Err(err(libc::ENOSYS))
    }

    /// Maps the client's user and group ids in `ctx` to the ids the filesystem uses,
    /// before the request is served (the server calls it for every request). An error
    /// fails the request. The default leaves `ctx` unchanged.
    fn id_remap(&self, ctx: &mut Context) -> io::Result<()> {
        Ok(())
    }
}

mod forward;
