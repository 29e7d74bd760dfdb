//! `FileSystem` for [`Vfs`]: each request goes to the backend that owns its inode, with
//! inode numbers translated both ways.

use std::ffi::CStr;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::{MountedFs, Target, Vfs};
use crate::abi::fuse_abi::{CreateIn, FileLock, FsOptions, OpenOptions, SetattrValid};
use crate::abi::virtio_fs::RemovemappingOne;
use crate::api::filesystem::{
    Context, DirEntry, Entry, FileSystem, GetxattrReply, IoctlData, ListxattrReply, ZeroCopyReader,
    ZeroCopyWriter,
};
use crate::api::pseudo_fs::PseudoChild;
use crate::transport::FsCacheReqHandler;

fn err<T>(errno: i32) -> io::Result<T> {
    Err(io::Error::from_raw_os_error(errno))
}

/// Options a backend must implement for them to be safe to enable: enabled only when every
/// backend mounted at INIT asks for them (and the Vfs options do not veto them).
fn backend_sensitive() -> FsOptions {
    FsOptions::WRITEBACK_CACHE
        | FsOptions::ZERO_MESSAGE_OPEN
        | FsOptions::ZERO_MESSAGE_OPENDIR
        | FsOptions::HANDLE_KILLPRIV
        | FsOptions::HANDLE_KILLPRIV_V2
        | FsOptions::POSIX_ACL
        | FsOptions::SETXATTR_EXT
        | FsOptions::CREATE_SUPP_GROUP
        | FsOptions::POSIX_LOCKS
        | FsOptions::FLOCK_LOCKS
        | FsOptions::DO_READDIRPLUS
        | FsOptions::READDIRPLUS_AUTO
}

/// Routes `$ino` to its backend; `$pseudo` answers for pseudo directories.
macro_rules! route {
    ($self:ident, $ino:expr, |$m:ident, $i:ident| $backend:expr, $pseudo:expr) => {
        match $self.route($ino)? {
            Target::Backend($m, $i) => $backend,
            Target::Pseudo(_) => $pseudo,
        }
    };
}

impl Vfs {
    /// Looks up `name` under a backend inode, checking first for mount points below it
    /// (a backend's root can have attached backends as children) and answering ".." of a
    /// backend root with its pseudo parent, so a lookup never crosses into another backend
    /// or the host's namespace.
    fn lookup_in_backend(
        &self,
        ctx: &Context,
        m: &MountedFs,
        ino: u64,
        name: &CStr,
    ) -> io::Result<Entry> {
        if ino == m.root_ino {
            if name.to_bytes() == b".." {
                let parent = self.pseudo().parent(m.mountpoint)?;
                return self.lookup_pseudo(ctx, parent, c"."); // the parent itself
            }
            if self.pseudo().contains(m.mountpoint) {
                if let Ok(child) = self.pseudo().lookup(m.mountpoint, name) {
                    if !matches!(child, PseudoChild::Dir(d) if d == m.mountpoint) {
                        return self.pseudo_child_entry(ctx, child);
                    }
                }
            }
        }
        let e = m.fs.lookup(ctx, ino, name)?;
        self.convert_entry(m, e)
    }

    /// EBUSY when `name` in backend directory `ino` is a mount point or a pseudo directory
    /// leading to one: it shadows the backend's own entry of that name, which the client
    /// cannot see and so must not remove or replace.
    fn not_a_mount_name(&self, m: &MountedFs, ino: u64, name: &CStr) -> io::Result<()> {
        if ino == m.root_ino
            && !matches!(name.to_bytes(), b"." | b"..")
            && self.pseudo().lookup(m.mountpoint, name).is_ok()
        {
            return err(libc::EBUSY);
        }
        Ok(())
    }

    fn pseudo_child_entry(&self, ctx: &Context, child: PseudoChild) -> io::Result<Entry> {
        let (e, owner) = self.pseudo_child_entry_uncounted(ctx, child)?;
        if let Some(m) = owner {
            self.count_lookup(&m, m.root_ino, e.inode)?;
        }
        Ok(e)
    }

    /// The entry of a pseudo child, and the backend whose root it is (whose index must
    /// count the lookup once the entry reaches the kernel).
    fn pseudo_child_entry_uncounted(
        &self,
        ctx: &Context,
        child: PseudoChild,
    ) -> io::Result<(Entry, Option<Arc<MountedFs>>)> {
        let m = match child {
            // A pseudo directory that has a backend mounted on it is that backend's root.
            PseudoChild::Dir(ino) => match self
                .pseudo()
                .mount_at(ino)
                .and_then(|idx| self.mounted(idx))
            {
                Some(m) => m,
                None => return Ok((self.pseudo().entry(ino)?, None)),
            },
            PseudoChild::Mount(idx) => self
                .mounted(idx)
                .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?,
        };
        let (attr, ttl) = m.fs.getattr(ctx, m.root_ino, None)?;
        let mut e = Entry {
            inode: self.to_kernel(&m, m.root_ino)?,
            generation: 0,
            attr,
            attr_flags: 0,
            attr_timeout: ttl,
            entry_timeout: ttl,
        };
        e.attr.st_ino = e.inode;
        Ok((e, Some(m)))
    }

    fn lookup_pseudo(&self, ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        let child = self.pseudo().lookup(parent, name)?;
        self.pseudo_child_entry(ctx, child)
    }

    fn fix_attr(
        &self,
        m: &MountedFs,
        ino: u64,
        res: io::Result<(libc::stat64, Duration)>,
    ) -> io::Result<(libc::stat64, Duration)> {
        let (mut st, ttl) = res?;
        st.st_ino = self.to_kernel(m, ino)?;
        Ok((st, ttl))
    }

    /// Routes two inodes that must be in the same backend (rename, link, copy_file_range).
    fn same_backend(&self, a: u64, b: u64) -> io::Result<(Arc<MountedFs>, u64, u64)> {
        match (self.route(a)?, self.route(b)?) {
            (Target::Backend(m1, i1), Target::Backend(m2, i2)) if m1.idx == m2.idx => {
                Ok((m1, i1, i2))
            }
            (Target::Backend(..), Target::Backend(..)) => err(libc::EXDEV),
            _ => err(libc::EROFS),
        }
    }
}

impl FileSystem for Vfs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, capable: FsOptions) -> io::Result<FsOptions> {
        let opts = self.options();
        let mut wanted_by_all: Option<FsOptions> = None;
        for m in self.all_mounted() {
            let w = m.fs.init(capable)?;
            wanted_by_all = Some(wanted_by_all.map_or(w, |acc| acc & w));
        }
        let mut sensitive = wanted_by_all.unwrap_or(FsOptions::empty()) & backend_sensitive();
        if opts.no_writeback {
            sensitive.remove(FsOptions::WRITEBACK_CACHE);
        }
        if !opts.no_open {
            sensitive.remove(FsOptions::ZERO_MESSAGE_OPEN);
        }
        if !opts.no_opendir {
            sensitive.remove(FsOptions::ZERO_MESSAGE_OPENDIR);
        }
        if !opts.killpriv_v2 {
            sensitive.remove(FsOptions::HANDLE_KILLPRIV_V2);
        }
        let generic = opts.out_opts & !backend_sensitive();
        let enabled = capable & (generic | sensitive);
        // Tell each backend what was finally granted, so none acts on an option the
        // kernel will not use (e.g. dropping O_APPEND for a writeback cache that is off).
        for m in self.all_mounted() {
            m.fs.init(enabled)?;
        }
        self.set_initialized(capable, enabled);
        Ok(enabled)
    }

    fn destroy(&self) {
        for m in self.all_mounted() {
            m.fs.destroy();
        }
    }

    fn lookup(&self, ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        if name.to_bytes().contains(&b'/') {
            return err(libc::EINVAL);
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
        if self.options().seal_size && valid.contains(SetattrValid::SIZE) {
            return err(libc::EPERM);
        }
        route!(
            self,
            inode,
            |m, i| self.fix_attr(&m, i, m.fs.setattr(ctx, i, attr, handle, valid)),
            err(libc::EROFS)
        )
    }

    fn readlink(&self, ctx: &Context, inode: u64) -> io::Result<Vec<u8>> {
        route!(self, inode, |m, i| m.fs.readlink(ctx, i), err(libc::EINVAL))
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
            err(libc::EROFS)
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
            err(libc::EROFS)
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
            err(libc::EROFS)
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
            err(libc::EROFS)
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
            err(libc::EROFS)
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
            err(libc::EISDIR)
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
            err(libc::EROFS)
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
            err(libc::EISDIR)
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
            err(libc::EISDIR)
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
            err(libc::EROFS)
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
            err(libc::ENODATA)
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
            err(libc::EROFS)
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
        if self.options().no_readdir {
            return err(libc::EPERM);
        }
        match self.route(inode)? {
            Target::Backend(m, i) => {
                let idx = m.idx;
                m.fs.readdir(ctx, i, handle, size, offset, &mut |mut d: DirEntry| {
                    d.ino = super::kernel_ino(idx, d.ino & super::VFS_MAX_INO);
                    add_entry(d)
                })
            }
            Target::Pseudo(ino) => {
                self.pseudo()
                    .readdir(ino, offset, &|c| self.pseudo_child_ino(c), add_entry)
            }
        }
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
        if self.options().no_readdir {
            return err(libc::EPERM);
        }
        match self.route(inode)? {
            Target::Backend(m, i) => {
                m.fs.readdirplus(ctx, i, handle, size, offset, &mut |mut d, e| {
                    // The kernel ignores (and never forgets) entries of "." and "..".
                    if e.inode == 0 || d.name == b"." || d.name == b".." {
                        d.ino = super::kernel_ino(m.idx, d.ino & super::VFS_MAX_INO);
                        return add_entry(d, Entry { inode: 0, ..e });
                    }
                    let mut ke = e;
                    ke.inode = self.to_kernel(&m, e.inode)?;
                    ke.attr.st_ino = ke.inode;
                    d.ino = ke.inode;
                    // Counted before the entry can reach the kernel (see `count_lookup`); the
                    // backend gives its own count back when the entry is refused or fails.
                    if ke.inode != crate::abi::fuse_abi::ROOT_ID {
                        self.hold_index(&m)?;
                    }
                    let res = add_entry(d, ke);
                    if !matches!(res, Ok(n) if n > 0) && ke.inode != crate::abi::fuse_abi::ROOT_ID {
                        self.drop_refs(m.idx, 1);
                    }
                    res
                })
            }
            Target::Pseudo(ino) => {
                let mut res = Ok(());
                self.pseudo()
                    .readdir(ino, offset, &|c| self.pseudo_child_ino(c), &mut |d| {
                        // "." and ".." carry no entry (the kernel skips them in READDIRPLUS).
                        if d.name == b"." || d.name == b".." {
                            return add_entry(d, Entry::default());
                        }
                        let child = match self.pseudo().lookup(
                            ino,
                            &std::ffi::CString::new(d.name)
                                .map_err(|_| io::Error::from_raw_os_error(libc::EIO))?,
                        ) {
                            Ok(c) => c,
                            Err(e) => {
                                res = Err(e);
                                return Ok(0);
                            }
                        };
                        // A backend root counts a lookup only if the kernel takes it.
                        let (e, owner) = self.pseudo_child_entry_uncounted(ctx, child)?;
                        let held = match &owner {
                            Some(m) if e.inode != crate::abi::fuse_abi::ROOT_ID => {
                                if self.hold_index(m).is_err() {
                                    return Ok(0); // detached meanwhile: end this batch
                                }
                                Some(m.idx)
                            }
                            _ => None,
                        };
                        let added = add_entry(d, e);
                        if let Some(idx) = held.filter(|_| !matches!(added, Ok(n) if n > 0)) {
                            self.drop_refs(idx, 1);
                        }
                        added
                    })?;
                res
            }
        }
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
                err(libc::EROFS)
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
            err(libc::ENOSYS)
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
            err(libc::ENOSYS)
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
            err(libc::ENOSYS)
        )
    }

    fn bmap(&self, ctx: &Context, inode: u64, block: u64, blocksize: u32) -> io::Result<u64> {
        route!(
            self,
            inode,
            |m, i| m.fs.bmap(ctx, i, block, blocksize),
            err(libc::ENOSYS)
        )
    }

    fn ioctl(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        flags: u32,
        cmd: u32,
        arg: u64,
        data: IoctlData,
        out_size: u32,
    ) -> io::Result<IoctlData> {
        route!(
            self,
            inode,
            |m, i| m.fs.ioctl(ctx, i, handle, flags, cmd, arg, data, out_size),
            err(libc::ENOTTY)
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
            err(libc::ENOSYS)
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
            return err(libc::EPERM);
        }
        route!(
            self,
            inode,
            |m, i| m.fs.fallocate(ctx, i, handle, mode, offset, length),
            err(libc::EISDIR)
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
            err(libc::ENOSYS)
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
            err(libc::EINVAL)
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
            err(libc::EINVAL)
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
            err(libc::EROFS)
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
                Ok((st, ttl))
            },
            err(libc::ENOSYS)
        )
    }
}
