//! `impl FileSystem for PassthroughFs`: INIT/DESTROY here, each family of operations in
//! its own file (`entry`, `attr`, `io`, `dir`, `xattr`, `lock`).

use std::ffi::CStr;
use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

use log::info;
use vm_memory::bitmap::BitmapSlice;

use super::{CachePolicy, PassthroughFs};
use crate::api::filesystem::{
    Context, CreateIn, DirEntry, Entry, FileLock, FileSystem, FsOptions, GetxattrReply,
    ListxattrReply, LockWaiter, OpenOptions, SetattrValid, SetxattrFlags, ZeroCopyReader,
    ZeroCopyWriter,
};
use crate::errno::err;

mod attr;
mod dax;
mod dir;
mod entry;
mod io_ops;
mod lock;
mod setid;
mod xattr;

impl<S: BitmapSlice + Send + Sync> PassthroughFs<S> {
    /// The INIT options this configuration wants, before intersecting with the kernel's.
    fn wanted_options(&self) -> FsOptions {
        let cfg = self.config();
        let mut want = FsOptions::ASYNC_READ
            | FsOptions::PARALLEL_DIROPS
            | FsOptions::BIG_WRITES
            | FsOptions::ATOMIC_O_TRUNC
            | FsOptions::MAX_PAGES
            | FsOptions::DO_READDIRPLUS
            | FsOptions::READDIRPLUS_AUTO
            // Not POSIX_LOCKS: a host lock on a shared open file cannot give per-process
            // record-lock semantics (two fds of one process, fork), so the client kernel
            // keeps POSIX locks itself, which is exact for its processes. flock() maps
            // onto the handle's open file, as BSD locks do.
            | FsOptions::FLOCK_LOCKS
            | FsOptions::ASYNC_DIO
            // The caller's umask is applied here (see credentials.rs), so the kernel
            // must not apply it a second time.
            | FsOptions::DONT_MASK
            | FsOptions::CREATE_SUPP_GROUP;
        match cfg.cache_policy {
            CachePolicy::Auto => want |= FsOptions::AUTO_INVAL_DATA,
            CachePolicy::Always => {
                want |= FsOptions::CACHE_SYMLINKS;
                if cfg.no_open {
                    want |= FsOptions::ZERO_MESSAGE_OPEN;
                }
            }
            CachePolicy::Never | CachePolicy::Metadata => {}
        }
        if cfg.no_opendir {
            want |= FsOptions::ZERO_MESSAGE_OPENDIR;
        }
        if cfg.writeback {
            want |= FsOptions::WRITEBACK_CACHE;
        }
        if cfg.killpriv_v2 {
            want |= FsOptions::HANDLE_KILLPRIV_V2;
        }
        if cfg.xattr {
            // SETXATTR_EXT: the kernel then says when setting an ACL must clear
            // set-group-ID (it knows the caller's groups and capabilities; see `setid`).
            want |= FsOptions::POSIX_ACL | FsOptions::SETXATTR_EXT;
        }
        want
    }

    /// FOPEN_* flags for a file (`dir == false`) or directory opened under the policy.
    pub(crate) fn open_options(&self, dir: bool) -> OpenOptions {
        match (self.config().cache_policy, dir) {
            (CachePolicy::Never | CachePolicy::Metadata, false) => {
                OpenOptions::DIRECT_IO | OpenOptions::PARALLEL_DIRECT_WRITES
            }
            (CachePolicy::Never | CachePolicy::Auto, _) => OpenOptions::empty(),
            (CachePolicy::Metadata, true) => OpenOptions::CACHE_DIR | OpenOptions::KEEP_CACHE,
            (CachePolicy::Always, false) => OpenOptions::KEEP_CACHE,
            (CachePolicy::Always, true) => OpenOptions::KEEP_CACHE | OpenOptions::CACHE_DIR,
        }
    }

    pub(crate) fn writeback_enabled(&self) -> bool {
        self.writeback.load(Ordering::Relaxed)
    }

    pub(crate) fn no_open_enabled(&self) -> bool {
        self.no_open.load(Ordering::Relaxed)
    }

    pub(crate) fn no_opendir_enabled(&self) -> bool {
        self.no_opendir.load(Ordering::Relaxed)
    }

    pub(crate) fn killpriv_v2_enabled(&self) -> bool {
        self.killpriv_v2.load(Ordering::Relaxed)
    }

    pub(crate) fn setxattr_ext_enabled(&self) -> bool {
        self.setxattr_ext.load(Ordering::Relaxed)
    }
}

impl<S: BitmapSlice + Send + Sync> FileSystem for PassthroughFs<S> {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, capable: FsOptions) -> io::Result<FsOptions> {
        // After a DESTROY the root is gone; a new session starts from a fresh import.
        self.import()?;
        let got = self.wanted_options() & capable;
        self.no_open.store(
            got.contains(FsOptions::ZERO_MESSAGE_OPEN),
            Ordering::Relaxed,
        );
        self.no_opendir.store(
            got.contains(FsOptions::ZERO_MESSAGE_OPENDIR),
            Ordering::Relaxed,
        );
        self.writeback
            .store(got.contains(FsOptions::WRITEBACK_CACHE), Ordering::Relaxed);
        self.killpriv_v2.store(
            got.contains(FsOptions::HANDLE_KILLPRIV_V2),
            Ordering::Relaxed,
        );
        self.setxattr_ext
            .store(got.contains(FsOptions::SETXATTR_EXT), Ordering::Relaxed);
        info!("passthrough {}: options {:?}", self.config().root_dir, got);
        Ok(got)
    }

    fn destroy(&self) {
        self.handles.clear();
        self.inodes.clear();
        self.fd_cache.clear();
        self.pinned_map().clear();
        self.mount_fds.clear();
        for flag in [
            &self.no_open,
            &self.no_opendir,
            &self.writeback,
            &self.killpriv_v2,
            &self.setxattr_ext,
        ] {
            flag.store(false, Ordering::Relaxed);
        }
    }

    fn lookup(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        self.do_lookup(parent, name)
    }

    fn forget(&self, _ctx: &Context, inode: u64, count: u64) {
        self.do_forget(inode, count)
    }

    fn batch_forget(&self, _ctx: &Context, requests: Vec<(u64, u64)>) {
        for (inode, count) in requests {
            self.do_forget(inode, count);
        }
    }

    fn getattr(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: Option<u64>,
    ) -> io::Result<(libc::stat64, Duration)> {
        self.do_getattr(inode, handle)
    }

    fn setattr(
        &self,
        ctx: &Context,
        inode: u64,
        attr: libc::stat64,
        handle: Option<u64>,
        valid: SetattrValid,
    ) -> io::Result<(libc::stat64, Duration)> {
        self.do_setattr(ctx, inode, attr, handle, valid)
    }

    fn readlink(&self, _ctx: &Context, inode: u64) -> io::Result<Vec<u8>> {
        self.do_readlink(inode)
    }

    fn symlink(
        &self,
        ctx: &Context,
        linkname: &CStr,
        parent: u64,
        name: &CStr,
    ) -> io::Result<Entry> {
        self.do_symlink(ctx, linkname, parent, name)
    }

    fn mknod(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        mode: u32,
        rdev: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        self.do_mknod(ctx, parent, name, mode, rdev, umask)
    }

    fn mkdir(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        mode: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        self.do_mkdir(ctx, parent, name, mode, umask)
    }

    fn unlink(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<()> {
        self.do_unlink(parent, name, 0)
    }

    fn rmdir(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<()> {
        self.do_unlink(parent, name, libc::AT_REMOVEDIR)
    }

    fn rename(
        &self,
        _ctx: &Context,
        olddir: u64,
        oldname: &CStr,
        newdir: u64,
        newname: &CStr,
        flags: u32,
    ) -> io::Result<()> {
        self.do_rename(olddir, oldname, newdir, newname, flags)
    }

    fn link(&self, ctx: &Context, inode: u64, newparent: u64, newname: &CStr) -> io::Result<Entry> {
        self.do_link(ctx, inode, newparent, newname)
    }

    fn open(
        &self,
        ctx: &Context,
        inode: u64,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        self.do_open(ctx, inode, flags, fuse_flags)
    }

    fn create(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions, Option<u32>)> {
        self.do_create(ctx, parent, name, args)
    }

    fn read(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        _lock_owner: Option<u64>,
        _flags: u32,
    ) -> io::Result<usize> {
        self.do_read(inode, handle, w, size, offset)
    }

    fn write(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        r: &mut dyn ZeroCopyReader,
        size: u32,
        offset: u64,
        _lock_owner: Option<u64>,
        _delayed_write: bool,
        _flags: u32,
        fuse_flags: u32,
    ) -> io::Result<usize> {
        self.do_write(ctx, inode, handle, r, size, offset, fuse_flags)
    }

    fn statfs(&self, _ctx: &Context, inode: u64) -> io::Result<libc::statvfs64> {
        self.do_statfs(inode)
    }

    fn release(
        &self,
        _ctx: &Context,
        inode: u64,
        _flags: u32,
        handle: u64,
        _flush: bool,
        flock_release: bool,
        _lock_owner: Option<u64>,
    ) -> io::Result<()> {
        let res = self.do_release(inode, handle, flock_release);
        self.lock_released();
        res
    }

    fn fsync(&self, _ctx: &Context, inode: u64, datasync: bool, handle: u64) -> io::Result<()> {
        self.do_fsync(inode, datasync, handle)
    }

    fn flush(&self, _ctx: &Context, inode: u64, handle: u64, _lock_owner: u64) -> io::Result<()> {
        self.do_flush(inode, handle)
    }

    fn setxattr(
        &self,
        ctx: &Context,
        inode: u64,
        name: &CStr,
        value: &[u8],
        flags: u32,
    ) -> io::Result<()> {
        self.do_setxattr(ctx, inode, name, value, flags, SetxattrFlags::empty())
    }

    fn setxattr_ext(
        &self,
        ctx: &Context,
        inode: u64,
        name: &CStr,
        value: &[u8],
        flags: u32,
        setxattr_flags: SetxattrFlags,
    ) -> io::Result<()> {
        self.do_setxattr(ctx, inode, name, value, flags, setxattr_flags)
    }

    fn getxattr(
        &self,
        _ctx: &Context,
        inode: u64,
        name: &CStr,
        size: u32,
    ) -> io::Result<GetxattrReply> {
        self.do_getxattr(inode, name, size)
    }

    fn listxattr(&self, _ctx: &Context, inode: u64, size: u32) -> io::Result<ListxattrReply> {
        self.do_listxattr(inode, size)
    }

    fn removexattr(&self, _ctx: &Context, inode: u64, name: &CStr) -> io::Result<()> {
        self.do_removexattr(inode, name)
    }

    fn opendir(
        &self,
        _ctx: &Context,
        inode: u64,
        _flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions)> {
        self.do_opendir(inode)
    }

    fn readdir(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.do_readdir(inode, handle, size, offset, add_entry)
    }

    fn readdirplus(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.do_readdirplus(inode, handle, size, offset, add_entry)
    }

    fn fsyncdir(&self, _ctx: &Context, inode: u64, datasync: bool, handle: u64) -> io::Result<()> {
        self.do_fsync(inode, datasync, handle)
    }

    fn releasedir(&self, _ctx: &Context, inode: u64, _flags: u32, handle: u64) -> io::Result<()> {
        self.do_releasedir(inode, handle)
    }

    fn access(&self, ctx: &Context, inode: u64, mask: u32) -> io::Result<()> {
        self.do_access(ctx, inode, mask)
    }

    fn getlk(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _owner: u64,
        lock: FileLock,
        _flags: u32,
    ) -> io::Result<FileLock> {
        self.do_getlk(inode, handle, lock)
    }

    fn setlk(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<()> {
        self.do_setlk(inode, handle, lock, flags, false)
    }

    fn setlkw(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<()> {
        self.do_setlk(inode, handle, lock, flags, true)
    }

    fn setlkw_deferred(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _owner: u64,
        lock: FileLock,
        flags: u32,
        waiter: LockWaiter,
    ) {
        self.do_setlkw_deferred(inode, handle, lock, flags, waiter)
    }

    fn bmap(&self, _ctx: &Context, _inode: u64, _block: u64, _blocksize: u32) -> io::Result<u64> {
        Err(err(libc::ENOSYS))
    }

    fn fallocate(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        mode: u32,
        offset: u64,
        length: u64,
    ) -> io::Result<()> {
        self.do_fallocate(ctx, inode, handle, mode, offset, length)
    }

    fn lseek(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        offset: u64,
        whence: u32,
    ) -> io::Result<u64> {
        self.do_lseek(inode, handle, offset, whence)
    }

    fn copy_file_range(
        &self,
        ctx: &Context,
        inode_in: u64,
        handle_in: u64,
        offset_in: u64,
        inode_out: u64,
        handle_out: u64,
        offset_out: u64,
        len: u64,
        flags: u64,
    ) -> io::Result<usize> {
        self.do_copy_file_range(
            ctx, inode_in, handle_in, offset_in, inode_out, handle_out, offset_out, len, flags,
        )
    }

    fn syncfs(&self, _ctx: &Context, inode: u64) -> io::Result<()> {
        self.do_syncfs(inode)
    }

    fn tmpfile(
        &self,
        ctx: &Context,
        parent: u64,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions)> {
        self.do_tmpfile(ctx, parent, args)
    }

    fn statx(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: Option<u64>,
        flags: u32,
        mask: u32,
    ) -> io::Result<(libc::statx, Duration)> {
        self.do_statx(inode, handle, flags, mask)
    }

    fn setupmapping(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: u64,
        foffset: u64,
        len: u64,
        flags: u64,
        moffset: u64,
        vu_req: &mut dyn crate::buffer::FsCacheReqHandler,
    ) -> io::Result<()> {
        self.do_setupmapping(inode, foffset, len, flags, moffset, vu_req)
    }

    fn removemapping(
        &self,
        _ctx: &Context,
        _inode: u64,
        requests: Vec<crate::abi::virtio_fs::RemovemappingOne>,
        vu_req: &mut dyn crate::buffer::FsCacheReqHandler,
    ) -> io::Result<()> {
        self.do_removemapping(requests, vu_req)
    }
}
