//! Forwarding impls of [`FileSystem`] for the smart pointers a filesystem is shared or
//! boxed through: `Arc<F>` (e.g. `Server::new(Arc::new(vfs))`) and `Box<F>` (e.g. an
//! overlay layer given as `Box<dyn Layer<..>>`). Every method calls the pointee's.

use std::ffi::CStr;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::abi::virtio_fs::RemovemappingOne;
use crate::buffer::FsCacheReqHandler;

macro_rules! forward_filesystem {
    ($ptr:ident) => {
        #[allow(clippy::type_complexity)]
        impl<F: FileSystem + ?Sized> FileSystem for $ptr<F> {
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
            fn setxattr_ext(
                &self,
                ctx: &Context,
                inode: Self::Inode,
                name: &CStr,
                value: &[u8],
                flags: u32,
                setxattr_flags: SetxattrFlags,
            ) -> io::Result<()> {
                (**self).setxattr_ext(ctx, inode, name, value, flags, setxattr_flags)
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
            fn removexattr(
                &self,
                ctx: &Context,
                inode: Self::Inode,
                name: &CStr,
            ) -> io::Result<()> {
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
                (**self).setlkw_deferred(ctx, inode, handle, owner, lock, flags, waiter)
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
                data: IoctlData<'_>,
                out_size: u32,
            ) -> io::Result<IoctlData<'_>> {
                (**self).ioctl(ctx, inode, handle, flags, cmd, data, out_size)
            }
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
                (**self).ioctl_with_arg(ctx, inode, handle, flags, cmd, arg, data, out_size)
            }
            fn poll(
                &self,
                ctx: &Context,
                inode: Self::Inode,
                handle: Self::Handle,
                khandle: Self::Handle,
                flags: u32,
                events: u32,
            ) -> io::Result<u32> {
                (**self).poll(ctx, inode, handle, khandle, flags, events)
            }
            fn notify_reply(&self) -> io::Result<()> {
                (**self).notify_reply()
            }
            fn notify_retrieve_reply(
                &self,
                ctx: &Context,
                cookie: u64,
                inode: Self::Inode,
                offset: u64,
                size: u32,
                data: &mut dyn ZeroCopyReader,
            ) -> io::Result<()> {
                (**self).notify_retrieve_reply(ctx, cookie, inode, offset, size, data)
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
                    ctx, inode_in, handle_in, offset_in, inode_out, handle_out, offset_out, len,
                    flags,
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
            fn id_remap(&self, ctx: &mut Context) -> io::Result<()> {
                (**self).id_remap(ctx)
            }
        }
    };
}

forward_filesystem!(Arc);
forward_filesystem!(Box);
