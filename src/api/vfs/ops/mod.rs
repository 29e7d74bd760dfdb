//! `FileSystem` for [`Vfs`]: each request goes to the backend that owns its inode, with
//! inode numbers translated both ways.

use std::ffi::CStr;
use std::io;
use std::time::Duration;

use super::{idmap, Target, Vfs};
use crate::abi::fuse_abi::{CreateIn, FsOptions, OpenOptions, SetattrValid};
use crate::abi::virtio_fs::RemovemappingOne;
use crate::api::filesystem::{
    Context, DirEntry, Entry, FileLock, FileSystem, GetxattrReply, IoctlReply, ListxattrReply,
    LockWaiter, SetxattrFlags, ZeroCopyReader, ZeroCopyWriter,
};
use crate::buffer::FsCacheReqHandler;
use crate::errno::err;

/// Routes `$ino` to its backend; `$pseudo` answers for pseudo directories.
macro_rules! route {
    ($self:ident, $ino:expr, |$m:ident, $i:ident| $backend:expr, $pseudo:expr) => {
        match $self.route($ino)? {
            Target::Backend($m, $i) => $backend,
            Target::Pseudo(_) => $pseudo,
        }
    };
}

mod dir;
mod entry;
mod init;

impl FileSystem for Vfs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, capable: FsOptions) -> io::Result<FsOptions> {
        self.negotiate_init(capable)
    }

    fn destroy(&self) {
        for m in self.all_mounted() {
            m.fs.destroy();
        }
    }

    fn lookup(&self, ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        if name.to_bytes().contains(&b'/') {
            return Err(err(libc::EINVAL));
        }
        match self.route(parent)? {
            Target::Backend(m, ino) => self.lookup_in_backend(ctx, &m, ino, name),
            Target::Pseudo(ino) => self.lookup_pseudo(ctx, ino, name),
        }
    }

    fn forget(&self, ctx: &Context, inode: u64, count: u64) {
        let idx = (inode >> super::VFS_INDEX_SHIFT) as u8;
        if inode == crate::abi::fuse_abi::ROOT_ID || idx == super::PSEUDO_FS_IDX {
            return;
        }
        self.drop_refs(idx, count);
        if let Some(m) = self.mounted(idx) {
            let ino = inode & super::VFS_MAX_INO;
            // Lookups of a backend's root are answered by the Vfs (see `give_back`).
            if ino != m.root_ino {
                m.fs.forget(ctx, ino, count);
            }
        }
    }

    fn batch_forget(&self, ctx: &Context, requests: Vec<(u64, u64)>) {
        for (inode, count) in requests {
            self.forget(ctx, inode, count);
        }
    }

    fn getattr(
        &self,
        ctx: &Context,
        inode: u64,
        handle: Option<u64>,
    ) -> io::Result<(libc::stat64, Duration)> {
        route!(
            self,
            inode,
            |m, i| self.fix_attr(&m, i, m.fs.getattr(ctx, i, handle)),
            { self.pseudo().getattr(inode) }
        )
    }

    fn setattr(
        &self,
        ctx: &Context,
        inode: u64,
        attr: libc::stat64,
        handle: Option<u64>,
        valid: SetattrValid,
    ) -> io::Result<(libc::stat64, Duration)> {
        let opts = self.options();
        if opts.seal_size && valid.contains(SetattrValid::SIZE) {
            return Err(err(libc::EPERM));
        }
        let mut attr = attr;
        attr.st_uid = idmap::to_internal(&opts, attr.st_uid);
        attr.st_gid = idmap::to_internal(&opts, attr.st_gid);
        route!(
            self,
            inode,
            |m, i| self.fix_attr(&m, i, m.fs.setattr(ctx, i, attr, handle, valid)),
            Err(err(libc::EROFS))
        )
    }

    fn readlink(&self, ctx: &Context, inode: u64) -> io::Result<Vec<u8>> {
        route!(
            self,
            inode,
            |m, i| m.fs.readlink(ctx, i),
            Err(err(libc::EINVAL))
        )
    }

    fn symlink(
        &self,
        ctx: &Context,
        linkname: &CStr,
        parent: u64,
        name: &CStr,
    ) -> io::Result<Entry> {
        route!(
            self,
            parent,
            |m, i| self.convert_entry(&m, m.fs.symlink(ctx, linkname, i, name)?),
            Err(err(libc::EROFS))
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
        route!(
            self,
            parent,
            |m, i| self.convert_entry(&m, m.fs.mknod(ctx, i, name, mode, rdev, umask)?),
            Err(err(libc::EROFS))
        )
    }

    fn mkdir(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        mode: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        route!(
            self,
            parent,
            |m, i| self.convert_entry(&m, m.fs.mkdir(ctx, i, name, mode, umask)?),
            Err(err(libc::EROFS))
        )
    }

    fn unlink(&self, ctx: &Context, parent: u64, name: &CStr) -> io::Result<()> {
        route!(
            self,
            parent,
            |m, i| {
                self.not_a_mount_name(&m, i, name)?;
                m.fs.unlink(ctx, i, name)
            },
            Err(err(libc::EROFS))
        )
    }

    fn rmdir(&self, ctx: &Context, parent: u64, name: &CStr) -> io::Result<()> {
        route!(
            self,
            parent,
            |m, i| {
                self.not_a_mount_name(&m, i, name)?;
                m.fs.rmdir(ctx, i, name)
            },
            Err(err(libc::EROFS))
        )
    }

    fn rename(
        &self,
        ctx: &Context,
        olddir: u64,
        oldname: &CStr,
        newdir: u64,
        newname: &CStr,
        flags: u32,
    ) -> io::Result<()> {
        let (m, o, n) = self.same_backend(olddir, newdir)?;
        self.not_a_mount_name(&m, o, oldname)?;
        self.not_a_mount_name(&m, n, newname)?;
        m.fs.rename(ctx, o, oldname, n, newname, flags)
    }

    fn link(&self, ctx: &Context, inode: u64, newparent: u64, newname: &CStr) -> io::Result<Entry> {
        let (m, i, p) = self.same_backend(inode, newparent)?;
        let e = m.fs.link(ctx, i, p, newname)?;
        self.convert_entry(&m, e)
    }

    fn open(
        &self,
        ctx: &Context,
        inode: u64,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        route!(
            self,
            inode,
            |m, i| m.fs.open(ctx, i, flags, fuse_flags),
            Err(err(libc::EISDIR))
        )
    }

    fn create(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions, Option<u32>)> {
        route!(
            self,
            parent,
            |m, i| {
                let (e, h, o, b) = m.fs.create(ctx, i, name, args)?;
                Ok((self.convert_entry(&m, e)?, h, o, b))
            },
            Err(err(libc::EROFS))
        )
    }

    fn read(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        flags: u32,
    ) -> io::Result<usize> {
        route!(
            self,
            inode,
            |m, i| m
                .fs
                .read(ctx, i, handle, w, size, offset, lock_owner, flags),
            Err(err(libc::EISDIR))
        )
    }

    fn write(
        &self,
        ctx: &Context,
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
        route!(
            self,
            inode,
            |m, i| m.fs.write(
                ctx,
                i,
                handle,
                r,
                size,
                offset,
                lock_owner,
                delayed_write,
                flags,
                fuse_flags
            ),
            Err(err(libc::EISDIR))
        )
    }

    fn statfs(&self, ctx: &Context, inode: u64) -> io::Result<libc::statvfs64> {
        route!(self, inode, |m, i| m.fs.statfs(ctx, i), {
            // SAFETY: `statvfs64` is plain integers, for which zero bytes are valid.
            let mut st: libc::statvfs64 = unsafe { std::mem::zeroed() };
            st.f_bsize = 4096;
            st.f_frsize = 4096;
            st.f_namemax = 255;
            Ok(st)
        })
    }

    fn release(
        &self,
        ctx: &Context,
        inode: u64,
        flags: u32,
        handle: u64,
        flush: bool,
        flock_release: bool,
        lock_owner: Option<u64>,
    ) -> io::Result<()> {
        route!(
            self,
            inode,
            |m, i| m
                .fs
                .release(ctx, i, flags, handle, flush, flock_release, lock_owner),
            Ok(())
        )
    }

    fn fsync(&self, ctx: &Context, inode: u64, datasync: bool, handle: u64) -> io::Result<()> {
        route!(
            self,
            inode,
            |m, i| m.fs.fsync(ctx, i, datasync, handle),
            Ok(())
        )
    }

    fn flush(&self, ctx: &Context, inode: u64, handle: u64, lock_owner: u64) -> io::Result<()> {
        route!(
            self,
            inode,
            |m, i| m.fs.flush(ctx, i, handle, lock_owner),
            Ok(())
        )
    }

    fn setxattr(
        &self,
        ctx: &Context,
        inode: u64,
        name: &CStr,
        value: &[u8],
        flags: u32,
    ) -> io::Result<()> {
        route!(
            self,
            inode,
            |m, i| m.fs.setxattr(ctx, i, name, value, flags),
            Err(err(libc::EROFS))
        )
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
        route!(
            self,
            inode,
            |m, i| m
                .fs
                .setxattr_ext(ctx, i, name, value, flags, setxattr_flags),
            Err(err(libc::EROFS))
        )
    }

    fn getxattr(
        &self,
        ctx: &Context,
        inode: u64,
        name: &CStr,
        size: u32,
    ) -> io::Result<GetxattrReply> {
        route!(
            self,
            inode,
            |m, i| m.fs.getxattr(ctx, i, name, size),
            Err(err(libc::ENODATA))
        )
    }

    fn listxattr(&self, ctx: &Context, inode: u64, size: u32) -> io::Result<ListxattrReply> {
        route!(self, inode, |m, i| m.fs.listxattr(ctx, i, size), {
            if size == 0 {
                Ok(ListxattrReply::Count(0))
            } else {
                Ok(ListxattrReply::Names(Vec::new()))
            }
        })
    }

    fn removexattr(&self, ctx: &Context, inode: u64, name: &CStr) -> io::Result<()> {
        route!(
            self,
            inode,
            |m, i| m.fs.removexattr(ctx, i, name),
            Err(err(libc::EROFS))
        )
    }

    fn opendir(
        &self,
        ctx: &Context,
        inode: u64,
        flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions)> {
        route!(
            self,
            inode,
            |m, i| m.fs.opendir(ctx, i, flags),
            Ok((Some(0), OpenOptions::empty()))
        )
    }

    fn readdir(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.routed_readdir(ctx, inode, handle, size, offset, add_entry)
    }

    fn readdirplus(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.routed_readdirplus(ctx, inode, handle, size, offset, add_entry)
    }

    fn fsyncdir(&self, ctx: &Context, inode: u64, datasync: bool, handle: u64) -> io::Result<()> {
        route!(
            self,
            inode,
            |m, i| m.fs.fsyncdir(ctx, i, datasync, handle),
            Ok(())
        )
    }

    fn releasedir(&self, ctx: &Context, inode: u64, flags: u32, handle: u64) -> io::Result<()> {
        route!(
            self,
            inode,
            |m, i| m.fs.releasedir(ctx, i, flags, handle),
            Ok(())
        )
    }

    fn access(&self, ctx: &Context, inode: u64, mask: u32) -> io::Result<()> {
        route!(self, inode, |m, i| m.fs.access(ctx, i, mask), {
            if mask & libc::W_OK as u32 != 0 {
                Err(err(libc::EROFS))
            } else {
                Ok(())
            }
        })
    }

    fn getlk(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<FileLock> {
        route!(
            self,
            inode,
            |m, i| m.fs.getlk(ctx, i, handle, owner, lock, flags),
            Err(err(libc::ENOSYS))
        )
    }

    fn setlk(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<()> {
        route!(
            self,
            inode,
            |m, i| m.fs.setlk(ctx, i, handle, owner, lock, flags),
            Err(err(libc::ENOSYS))
        )
    }

    fn setlkw(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<()> {
        route!(
            self,
            inode,
            |m, i| m.fs.setlkw(ctx, i, handle, owner, lock, flags),
            Err(err(libc::ENOSYS))
        )
    }

    fn setlkw_deferred(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
        waiter: LockWaiter,
    ) {
        match self.route(inode) {
            Ok(Target::Backend(m, i)) => {
                m.fs.setlkw_deferred(ctx, i, handle, owner, lock, flags, waiter)
            }
            Ok(Target::Pseudo(_)) => waiter.complete(Err(err(libc::ENOSYS))),
            Err(e) => waiter.complete(Err(e)),
        }
    }

    fn bmap(&self, ctx: &Context, inode: u64, block: u64, blocksize: u32) -> io::Result<u64> {
        route!(
            self,
            inode,
            |m, i| m.fs.bmap(ctx, i, block, blocksize),
            Err(err(libc::ENOSYS))
        )
    }

    fn ioctl_with_arg(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        flags: u32,
        cmd: u32,
        arg: u64,
        data: &[u8],
        out_size: u32,
    ) -> io::Result<IoctlReply> {
        route!(
            self,
            inode,
            |m, i| m
                .fs
                .ioctl_with_arg(ctx, i, handle, flags, cmd, arg, data, out_size),
            Err(err(libc::ENOTTY))
        )
    }

    fn poll(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        khandle: u64,
        flags: u32,
        events: u32,
    ) -> io::Result<u32> {
        route!(
            self,
            inode,
            |m, i| m.fs.poll(ctx, i, handle, khandle, flags, events),
            Err(err(libc::ENOSYS))
        )
    }

    /// Routed by inode: the backend that owns `inode` asked for the data. A pseudo-fs
    /// directory has no page cache to retrieve.
    fn notify_retrieve_reply(
        &self,
        ctx: &Context,
        cookie: u64,
        inode: u64,
        offset: u64,
        size: u32,
        data: &mut dyn ZeroCopyReader,
    ) -> io::Result<()> {
        route!(
            self,
            inode,
            |m, i| m
                .fs
                .notify_retrieve_reply(ctx, cookie, i, offset, size, data),
            Err(err(libc::ENOSYS))
        )
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
        if self.options().seal_size {
            return Err(err(libc::EPERM));
        }
        route!(
            self,
            inode,
            |m, i| m.fs.fallocate(ctx, i, handle, mode, offset, length),
            Err(err(libc::EISDIR))
        )
    }

    fn lseek(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        offset: u64,
        whence: u32,
    ) -> io::Result<u64> {
        route!(
            self,
            inode,
            |m, i| m.fs.lseek(ctx, i, handle, offset, whence),
            Err(err(libc::ENOSYS))
        )
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
        let (m, i, o) = self.same_backend(inode_in, inode_out)?;
        m.fs.copy_file_range(
            ctx, i, handle_in, offset_in, o, handle_out, offset_out, len, flags,
        )
    }

    fn setupmapping(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        foffset: u64,
        len: u64,
        flags: u64,
        moffset: u64,
        vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        route!(
            self,
            inode,
            |m, i| m
                .fs
                .setupmapping(ctx, i, handle, foffset, len, flags, moffset, vu_req),
            Err(err(libc::EINVAL))
        )
    }

    fn removemapping(
        &self,
        ctx: &Context,
        inode: u64,
        requests: Vec<RemovemappingOne>,
        vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        route!(
            self,
            inode,
            |m, i| m.fs.removemapping(ctx, i, requests, vu_req),
            Err(err(libc::EINVAL))
        )
    }

    fn syncfs(&self, ctx: &Context, inode: u64) -> io::Result<()> {
        route!(self, inode, |m, i| m.fs.syncfs(ctx, i), {
            for m in self.all_mounted() {
                let _ = m.fs.syncfs(ctx, m.root_ino);
            }
            Ok(())
        })
    }

    fn tmpfile(
        &self,
        ctx: &Context,
        parent: u64,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions)> {
        route!(
            self,
            parent,
            |m, i| {
                let (e, h, o) = m.fs.tmpfile(ctx, i, args)?;
                Ok((self.convert_entry(&m, e)?, h, o))
            },
            Err(err(libc::EROFS))
        )
    }

    fn statx(
        &self,
        ctx: &Context,
        inode: u64,
        handle: Option<u64>,
        flags: u32,
        mask: u32,
    ) -> io::Result<(libc::statx, Duration)> {
        route!(
            self,
            inode,
            |m, i| {
                let (mut st, ttl) = m.fs.statx(ctx, i, handle, flags, mask)?;
                st.stx_ino = self.to_kernel(&m, i)?;
                let opts = self.options();
                st.stx_uid = idmap::to_external(&opts, st.stx_uid);
                st.stx_gid = idmap::to_external(&opts, st.stx_gid);
                Ok((st, ttl))
            },
            Err(err(libc::ENOSYS))
        )
    }

    /// Maps the caller's ids into the backends' range ([`VfsOptions::id_mapping`]).
    ///
    /// [`VfsOptions::id_mapping`]: super::VfsOptions::id_mapping
    fn id_remap(&self, ctx: &mut Context) -> io::Result<()> {
        let opts = self.options();
        ctx.uid = idmap::to_internal(&opts, ctx.uid);
        ctx.gid = idmap::to_internal(&opts, ctx.gid);
        if let Some(g) = ctx.supp_gid {
            ctx.supp_gid = Some(idmap::to_internal(&opts, g));
        }
        Ok(())
    }
}
