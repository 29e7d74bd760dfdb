//! `impl FileSystem for RecFs`: record the call, fail if configured to, else answer
//! with the canned result.

use std::ffi::CStr;
use std::io;
use std::time::Duration;

use super::fixtures::{
    entry_fixture, lock_fixture, stat_fixture, statvfs_fixture, statx_fixture, MemFile,
    ATTR_TIMEOUT,
};
use super::{Call, RecFs};
use crate::abi::fuse_abi::{CreateIn, FsOptions, OpenOptions, SetattrValid};
use crate::abi::virtio_fs::RemovemappingOne;
use crate::api::filesystem::{
    Context, DirEntry, Entry, FileLock, FileSystem, GetxattrReply, IoctlReply, ListxattrReply,
    ZeroCopyReader, ZeroCopyWriter,
};
use crate::buffer::FsCacheReqHandler;

type AttrResult = io::Result<(libc::stat64, Duration)>;
type OpenResult = io::Result<(Option<u64>, OpenOptions, Option<u32>)>;
type CreateResult = io::Result<(Entry, Option<u64>, OpenOptions, Option<u32>)>;

fn bytes(n: &CStr) -> Vec<u8> {
    n.to_bytes().to_vec()
}

impl FileSystem for RecFs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, capable: FsOptions) -> io::Result<FsOptions> {
        self.rec(&Context::default(), Call::Init(capable))?;
        Ok(self.cfg.lock().unwrap().wanted)
    }

    fn destroy(&self) {
        let _ = self.rec(&Context::default(), Call::Destroy);
    }

    fn lookup(&self, ctx: &Context, parent: u64, n: &CStr) -> io::Result<Entry> {
        let name = bytes(n);
        self.rec(ctx, Call::Lookup { parent, name })?;
        Ok(entry_fixture(42))
    }

    fn forget(&self, ctx: &Context, ino: u64, count: u64) {
        let _ = self.rec(ctx, Call::Forget { ino, count });
    }

    fn batch_forget(&self, ctx: &Context, requests: Vec<(u64, u64)>) {
        let _ = self.rec(ctx, Call::BatchForget(requests));
    }

    fn getattr(&self, ctx: &Context, ino: u64, fh: Option<u64>) -> AttrResult {
        self.rec(ctx, Call::Getattr { ino, fh })?;
        Ok((stat_fixture(), ATTR_TIMEOUT))
    }

    fn setattr(
        &self,
        ctx: &Context,
        ino: u64,
        a: libc::stat64,
        fh: Option<u64>,
        valid: SetattrValid,
    ) -> AttrResult {
        let attr = [
            a.st_mode as i64,
            a.st_uid as i64,
            a.st_gid as i64,
            a.st_size,
            a.st_atime,
            a.st_atime_nsec,
            a.st_mtime,
            a.st_mtime_nsec,
            a.st_ctime,
            a.st_ctime_nsec,
        ];
        self.rec(
            ctx,
            Call::Setattr {
                ino,
                valid: valid.bits(),
                fh,
                attr,
            },
        )?;
        Ok((stat_fixture(), ATTR_TIMEOUT))
    }

    fn readlink(&self, ctx: &Context, ino: u64) -> io::Result<Vec<u8>> {
        self.rec(ctx, Call::Readlink(ino))?;
        Ok(b"../target/file".to_vec())
    }

    fn symlink(&self, ctx: &Context, target: &CStr, parent: u64, n: &CStr) -> io::Result<Entry> {
        let name = bytes(n);
        self.rec(
            ctx,
            Call::Symlink {
                target: bytes(target),
                parent,
                name,
            },
        )?;
        Ok(entry_fixture(43))
    }

    fn mknod(
        &self,
        ctx: &Context,
        parent: u64,
        n: &CStr,
        mode: u32,
        rdev: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        let name = bytes(n);
        self.rec(
            ctx,
            Call::Mknod {
                parent,
                name,
                mode,
                rdev,
                umask,
            },
        )?;
        Ok(entry_fixture(44))
    }

    fn mkdir(
        &self,
        ctx: &Context,
        parent: u64,
        n: &CStr,
        mode: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        let name = bytes(n);
        self.rec(
            ctx,
            Call::Mkdir {
                parent,
                name,
                mode,
                umask,
            },
        )?;
        Ok(entry_fixture(45))
    }

    fn unlink(&self, ctx: &Context, parent: u64, n: &CStr) -> io::Result<()> {
        let name = bytes(n);
        self.rec(ctx, Call::Unlink { parent, name })
    }

    fn rmdir(&self, ctx: &Context, parent: u64, n: &CStr) -> io::Result<()> {
        let name = bytes(n);
        self.rec(ctx, Call::Rmdir { parent, name })
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
        let call = Call::Rename {
            olddir,
            oldname: bytes(oldname),
            newdir,
            newname: bytes(newname),
            flags,
        };
        self.rec(ctx, call)
    }

    fn link(&self, ctx: &Context, ino: u64, newparent: u64, n: &CStr) -> io::Result<Entry> {
        let name = bytes(n);
        self.rec(
            ctx,
            Call::Link {
                ino,
                newparent,
                name,
            },
        )?;
        Ok(entry_fixture(ino))
    }

    fn open(&self, ctx: &Context, ino: u64, flags: u32, fuse_flags: u32) -> OpenResult {
        self.rec(
            ctx,
            Call::Open {
                ino,
                flags,
                fuse_flags,
            },
        )?;
        Ok((
            Some(0x1111),
            OpenOptions::KEEP_CACHE | OpenOptions::PASSTHROUGH,
            Some(9),
        ))
    }

    fn create(&self, ctx: &Context, parent: u64, n: &CStr, args: CreateIn) -> CreateResult {
        let name = bytes(n);
        self.rec(ctx, Call::Create { parent, name, args })?;
        Ok((
            entry_fixture(46),
            Some(0x2222),
            OpenOptions::DIRECT_IO,
            None,
        ))
    }

    fn read(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        flags: u32,
    ) -> io::Result<usize> {
        self.rec(
            ctx,
            Call::Read {
                ino,
                fh,
                size,
                offset,
                lock_owner,
                flags,
            },
        )?;
        let (mut data, extra) = {
            let cfg = self.cfg.lock().unwrap();
            (cfg.data.clone(), cfg.read_overrun)
        };
        w.write_up_to_from(&mut MemFile(&mut data), size as usize + extra, offset)
    }

    fn write(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        r: &mut dyn ZeroCopyReader,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        delayed: bool,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<usize> {
        // Half through the zero-copy path, the rest through `io::Read`.
        let mut data = Vec::new();
        let half = size as usize / 2;
        r.read_exact_to(&mut MemFile(&mut data), half, 0)?;
        r.read_to_end(&mut data)?;
        let call = Call::Write {
            ino,
            fh,
            data,
            size,
            offset,
            lock_owner,
            delayed,
            flags,
            fuse_flags,
        };
        self.rec(ctx, call)?;
        Ok(self
            .cfg
            .lock()
            .unwrap()
            .write_result
            .unwrap_or(size as usize))
    }

    fn statfs(&self, ctx: &Context, ino: u64) -> io::Result<libc::statvfs64> {
        self.rec(ctx, Call::Statfs(ino))?;
        Ok(statvfs_fixture())
    }

    fn release(
        &self,
        ctx: &Context,
        ino: u64,
        flags: u32,
        fh: u64,
        flush: bool,
        flock_release: bool,
        lock_owner: Option<u64>,
    ) -> io::Result<()> {
        let call = Call::Release {
            ino,
            flags,
            fh,
            flush,
            flock_release,
            lock_owner,
        };
        self.rec(ctx, call)
    }

    fn fsync(&self, ctx: &Context, ino: u64, datasync: bool, fh: u64) -> io::Result<()> {
        self.rec(ctx, Call::Fsync { ino, datasync, fh })
    }

    fn flush(&self, ctx: &Context, ino: u64, fh: u64, lock_owner: u64) -> io::Result<()> {
        self.rec(
            ctx,
            Call::Flush {
                ino,
                fh,
                lock_owner,
            },
        )
    }

    fn setxattr(
        &self,
        ctx: &Context,
        ino: u64,
        n: &CStr,
        value: &[u8],
        flags: u32,
    ) -> io::Result<()> {
        let name = bytes(n);
        self.rec(
            ctx,
            Call::Setxattr {
                ino,
                name,
                value: value.to_vec(),
                flags,
            },
        )
    }

    fn getxattr(&self, ctx: &Context, ino: u64, n: &CStr, size: u32) -> io::Result<GetxattrReply> {
        let name = bytes(n);
        self.rec(ctx, Call::Getxattr { ino, name, size })?;
        let cfg = self.cfg.lock().unwrap();
        if size == 0 && !cfg.xattr_value_for_size0 {
            return Ok(GetxattrReply::Count(cfg.xattr.len() as u32));
        }
        Ok(GetxattrReply::Value(cfg.xattr.clone()))
    }

    fn listxattr(&self, ctx: &Context, ino: u64, size: u32) -> io::Result<ListxattrReply> {
        self.rec(ctx, Call::Listxattr { ino, size })?;
        let cfg = self.cfg.lock().unwrap();
        if size == 0 && !cfg.xattr_value_for_size0 {
            return Ok(ListxattrReply::Count(cfg.xattr_names.len() as u32));
        }
        Ok(ListxattrReply::Names(cfg.xattr_names.clone()))
    }

    fn removexattr(&self, ctx: &Context, ino: u64, n: &CStr) -> io::Result<()> {
        let name = bytes(n);
        self.rec(ctx, Call::Removexattr { ino, name })
    }

    fn opendir(
        &self,
        ctx: &Context,
        ino: u64,
        flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions)> {
        self.rec(ctx, Call::Opendir { ino, flags })?;
        Ok((Some(0x3333), OpenOptions::CACHE_DIR))
    }

    fn readdir(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.list(ctx, ino, fh, size, offset, false, &mut |d, _| add_entry(d))
    }

    fn readdirplus(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.list(ctx, ino, fh, size, offset, true, add_entry)
    }

    fn fsyncdir(&self, ctx: &Context, ino: u64, datasync: bool, fh: u64) -> io::Result<()> {
        self.rec(ctx, Call::Fsyncdir { ino, datasync, fh })
    }

    fn releasedir(&self, ctx: &Context, ino: u64, flags: u32, fh: u64) -> io::Result<()> {
        self.rec(ctx, Call::Releasedir { ino, flags, fh })
    }

    fn access(&self, ctx: &Context, ino: u64, mask: u32) -> io::Result<()> {
        self.rec(ctx, Call::Access { ino, mask })
    }

    fn getlk(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<FileLock> {
        self.rec(
            ctx,
            Call::Getlk {
                ino,
                fh,
                owner,
                lock,
                flags,
            },
        )?;
        Ok(lock_fixture().into())
    }

    fn setlk(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<()> {
        self.rec(
            ctx,
            Call::Setlk {
                ino,
                fh,
                owner,
                lock,
                flags,
                wait: false,
            },
        )
    }

    fn setlkw(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
    ) -> io::Result<()> {
        self.rec(
            ctx,
            Call::Setlk {
                ino,
                fh,
                owner,
                lock,
                flags,
                wait: true,
            },
        )
    }

    fn interrupt(&self, ctx: &Context, unique: u64) -> io::Result<()> {
        self.rec(ctx, Call::Interrupt(unique))?;
        match self.cfg.lock().unwrap().interrupt_errno {
            Some(e) => Err(io::Error::from_raw_os_error(e)),
            None => Ok(()),
        }
    }

    fn bmap(&self, ctx: &Context, ino: u64, block: u64, blocksize: u32) -> io::Result<u64> {
        self.rec(
            ctx,
            Call::Bmap {
                ino,
                block,
                blocksize,
            },
        )?;
        Ok(block * 2 + 1)
    }

    fn ioctl_with_arg(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        flags: u32,
        cmd: u32,
        arg: u64,
        data: &[u8],
        out_size: u32,
    ) -> io::Result<IoctlReply> {
        let call = Call::Ioctl {
            ino,
            fh,
            flags,
            cmd,
            arg,
            input: data.to_vec(),
            out_size,
        };
        self.rec(ctx, call)?;
        Ok(self.cfg.lock().unwrap().ioctl_out.clone())
    }

    fn poll(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        kh: u64,
        flags: u32,
        events: u32,
    ) -> io::Result<u32> {
        self.rec(
            ctx,
            Call::Poll {
                ino,
                fh,
                kh,
                flags,
                events,
            },
        )?;
        Ok(events & libc::POLLIN as u32)
    }

    fn notify_reply(&self) -> io::Result<()> {
        self.rec(&Context::default(), Call::NotifyReply)
    }

    fn notify_retrieve_reply(
        &self,
        ctx: &Context,
        cookie: u64,
        ino: u64,
        offset: u64,
        size: u32,
        r: &mut dyn ZeroCopyReader,
    ) -> io::Result<()> {
        // Half through the zero-copy path, the rest through `io::Read`, as WRITE does.
        let mut data = Vec::new();
        r.read_exact_to(&mut MemFile(&mut data), size as usize / 2, 0)?;
        r.read_to_end(&mut data)?;
        let call = Call::NotifyRetrieveReply {
            cookie,
            ino,
            offset,
            size,
            data,
        };
        self.rec(ctx, call)
    }

    fn fallocate(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        mode: u32,
        offset: u64,
        length: u64,
    ) -> io::Result<()> {
        self.rec(
            ctx,
            Call::Fallocate {
                ino,
                fh,
                mode,
                offset,
                length,
            },
        )
    }

    fn lseek(&self, ctx: &Context, ino: u64, fh: u64, offset: u64, whence: u32) -> io::Result<u64> {
        self.rec(
            ctx,
            Call::Lseek {
                ino,
                fh,
                offset,
                whence,
            },
        )?;
        Ok(offset + 4096)
    }

    fn copy_file_range(
        &self,
        ctx: &Context,
        ino_in: u64,
        fh_in: u64,
        off_in: u64,
        ino_out: u64,
        fh_out: u64,
        off_out: u64,
        len: u64,
        flags: u64,
    ) -> io::Result<usize> {
        let call = Call::CopyFileRange {
            ino_in,
            fh_in,
            off_in,
            ino_out,
            fh_out,
            off_out,
            len,
            flags,
        };
        self.rec(ctx, call)?;
        Ok(self.cfg.lock().unwrap().copied)
    }

    fn setupmapping(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        foffset: u64,
        len: u64,
        flags: u64,
        moffset: u64,
        vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        self.rec(
            ctx,
            Call::SetupMapping {
                ino,
                fh,
                foffset,
                len,
                flags,
                moffset,
            },
        )?;
        vu_req.map(foffset, moffset, len, flags, 3)
    }

    fn removemapping(
        &self,
        ctx: &Context,
        ino: u64,
        requests: Vec<RemovemappingOne>,
        vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        let pairs = requests.iter().map(|r| (r.moffset, r.len)).collect();
        self.rec(
            ctx,
            Call::RemoveMapping {
                ino,
                requests: pairs,
            },
        )?;
        vu_req.unmap(requests)
    }

    fn syncfs(&self, ctx: &Context, ino: u64) -> io::Result<()> {
        self.rec(ctx, Call::Syncfs(ino))
    }

    fn tmpfile(
        &self,
        ctx: &Context,
        parent: u64,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions)> {
        self.rec(ctx, Call::Tmpfile { parent, args })?;
        Ok((entry_fixture(47), Some(0x4444), OpenOptions::empty()))
    }

    fn statx(
        &self,
        ctx: &Context,
        ino: u64,
        fh: Option<u64>,
        flags: u32,
        mask: u32,
    ) -> io::Result<(libc::statx, Duration)> {
        self.rec(
            ctx,
            Call::Statx {
                ino,
                fh,
                flags,
                mask,
            },
        )?;
        Ok((statx_fixture(), ATTR_TIMEOUT))
    }
}
