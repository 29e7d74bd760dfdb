//! `impl FileSystem for OverlayFs`: INIT/DESTROY and LOOKUP/FORGET here, everything
//! else dispatched to the files for its family (`entry`, `rename`, `dir`, `io_ops`).

use std::ffi::CStr;
use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

use log::info;

use super::entry::NewKind;
use super::{ctx, CachePolicy, OverlayFs};
use crate::api::filesystem::{
    Context, CreateIn, DirEntry, Entry, FileLock, FileSystem, FsOptions, GetxattrReply,
    ListxattrReply, LockWaiter, OpenOptions, SetattrValid, ZeroCopyReader, ZeroCopyWriter,
};
use crate::errno::err;

impl OverlayFs {
    fn wanted_options(&self) -> FsOptions {
        let mut want = FsOptions::ASYNC_READ
            | FsOptions::PARALLEL_DIROPS
            | FsOptions::BIG_WRITES
            | FsOptions::ATOMIC_O_TRUNC
            | FsOptions::MAX_PAGES
            | FsOptions::DO_READDIRPLUS
            | FsOptions::READDIRPLUS_AUTO
            | FsOptions::POSIX_LOCKS
            | FsOptions::FLOCK_LOCKS
            | FsOptions::ASYNC_DIO
            // The upper layer applies the caller's umask (with default ACLs in mind).
            | FsOptions::DONT_MASK
            | FsOptions::CREATE_SUPP_GROUP;
        match self.config().cache_policy {
            CachePolicy::Auto => want |= FsOptions::AUTO_INVAL_DATA,
            CachePolicy::Always => want |= FsOptions::CACHE_SYMLINKS,
            CachePolicy::Never => {}
        }
        if self.config().writeback && self.has_upper {
            want |= FsOptions::WRITEBACK_CACHE;
        }
        want
    }
}

impl FileSystem for OverlayFs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, capable: FsOptions) -> io::Result<FsOptions> {
        // After a DESTROY the state is gone; a new session starts from a fresh import.
        self.import()?;
        let got = self.wanted_options() & capable;
        self.writeback
            .store(got.contains(FsOptions::WRITEBACK_CACHE), Ordering::Relaxed);
        info!("overlay {}: options {:?}", self.config().mountpoint, got);
        Ok(got)
    }

    fn destroy(&self) {
        self.writeback.store(false, Ordering::Relaxed);
        self.clear_state();
    }

    fn lookup(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        let p = self.inodes.get(parent)?;
        if !p.is_dir() {
            return Err(err(libc::ENOTDIR));
        }
        let node = self
            .lookup_child(&p, name)?
            .ok_or_else(|| err(libc::ENOENT))?;
        let st = self.node_stat(&node)?;
        let e = self.entry_for(&node, st);
        node.into_kernel();
        Ok(e)
    }

    fn forget(&self, _ctx: &Context, inode: u64, count: u64) {
        if inode != crate::abi::fuse_abi::ROOT_ID {
            self.inodes.forget(inode, count);
        }
    }

    fn batch_forget(&self, ctx: &Context, requests: Vec<(u64, u64)>) {
        for (inode, count) in requests {
            self.forget(ctx, inode, count);
        }
    }

    fn getattr(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: Option<u64>,
    ) -> io::Result<(libc::stat64, Duration)> {
        self.do_getattr(inode)
    }

    fn setattr(
        &self,
        _ctx: &Context,
        inode: u64,
        attr: libc::stat64,
        handle: Option<u64>,
        valid: SetattrValid,
    ) -> io::Result<(libc::stat64, Duration)> {
        self.do_setattr(inode, attr, handle, valid)
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
        self.do_create_node(
            ctx,
            parent,
            name,
            libc::S_IFLNK | 0o777,
            0,
            NewKind::Symlink(linkname),
        )
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
        self.do_create_node(ctx, parent, name, mode, umask, NewKind::Node(rdev))
    }

    fn mkdir(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        mode: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        let mode = (mode & 0o7777) | libc::S_IFDIR;
        self.do_create_node(ctx, parent, name, mode, umask, NewKind::Dir)
    }

    fn unlink(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<()> {
        self.do_unlink(parent, name)
    }

    fn rmdir(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<()> {
        self.do_rmdir(parent, name)
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
        _ctx: &Context,
        inode: u64,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        self.do_open(inode, flags, fuse_flags)
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
        lock_owner: Option<u64>,
        flags: u32,
    ) -> io::Result<usize> {
        self.do_read(inode, handle, w, size, offset, lock_owner, flags)
    }

    fn write(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        r: &mut dyn ZeroCopyReader,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        delayed_write: bool,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<usize> {
        self.do_write(
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

    fn statfs(&self, _ctx: &Context, _inode: u64) -> io::Result<libc::statvfs64> {
        self.do_statfs()
    }

    fn release(
        &self,
        _ctx: &Context,
        inode: u64,
        _flags: u32,
        handle: u64,
        flush: bool,
        flock_release: bool,
        lock_owner: Option<u64>,
    ) -> io::Result<()> {
        self.do_release(inode, handle, flush, flock_release, lock_owner)
    }

    fn fsync(&self, _ctx: &Context, inode: u64, datasync: bool, handle: u64) -> io::Result<()> {
        self.do_fsync(inode, datasync, handle)
    }

    fn flush(&self, _ctx: &Context, inode: u64, handle: u64, lock_owner: u64) -> io::Result<()> {
        self.do_flush(inode, handle, lock_owner)
    }

    fn setxattr(
        &self,
        _ctx: &Context,
        inode: u64,
        name: &CStr,
        value: &[u8],
        flags: u32,
    ) -> io::Result<()> {
        self.do_setxattr(inode, name, value, flags)
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
        flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions)> {
        self.do_opendir(inode, flags)
    }

    fn readdir(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.do_readdir(inode, handle, offset, add_entry)
    }

    fn readdirplus(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.do_readdirplus(inode, handle, offset, add_entry)
    }

    fn fsyncdir(&self, _ctx: &Context, inode: u64, datasync: bool, _handle: u64) -> io::Result<()> {
        self.do_fsyncdir(inode, datasync)
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
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<FileLock> {
        self.do_getlk(inode, handle, owner, lock, flags)
    }

    fn setlk(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<()> {
        self.lock_op(inode, handle, |r| {
            r.real
                .layer
                .setlk(&ctx(), r.real.ino, r.fh, owner, lock, flags)
        })
    }

    fn setlkw(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<()> {
        self.lock_op(inode, handle, |r| {
            r.real
                .layer
                .setlkw(&ctx(), r.real.ino, r.fh, owner, lock, flags)
        })
    }

    fn setlkw_deferred(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
        waiter: LockWaiter,
    ) {
        // The layer that holds the file waits, so no overlay thread is kept either.
        match self.io_handle(inode, handle) {
            Ok(r) => {
                r.real
                    .layer
                    .setlkw_deferred(&ctx(), r.real.ino, r.fh, owner, lock, flags, waiter)
            }
            Err(e) => waiter.complete(Err(e)),
        }
    }

    fn fallocate(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        mode: u32,
        offset: u64,
        length: u64,
    ) -> io::Result<()> {
        self.do_fallocate(inode, handle, mode, offset, length)
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
        _ctx: &Context,
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
            inode_in, handle_in, offset_in, inode_out, handle_out, offset_out, len, flags,
        )
    }

    fn syncfs(&self, _ctx: &Context, _inode: u64) -> io::Result<()> {
        match self.upper_layer() {
            Ok(up) => up.syncfs(&ctx(), up.root_inode()),
            Err(_) => Ok(()),
        }
    }

    fn tmpfile(
        &self,
        ctx: &Context,
        parent: u64,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions)> {
        self.do_tmpfile(ctx, parent, args)
    }
}
