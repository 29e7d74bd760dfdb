//! `RecFs`: a filesystem that records every call with its arguments and answers from a
//! configurable set of canned results, plus the fixtures the tests compare against.

use std::ffi::CStr;
use std::io;
use std::sync::Mutex;
use std::time::Duration;

use crate::abi::fuse_abi::{Attr, CreateIn, FileLock, FsOptions, OpenOptions, SetattrValid};
use crate::abi::virtio_fs::RemovemappingOne;
use crate::api::filesystem::{
    Context, DirEntry, Entry, FileSystem, GetxattrReply, IoctlData, ListxattrReply,
    ZeroCopyReader, ZeroCopyWriter,
};
use crate::common::{FileReadWriteVolatile, FileVolatileSlice};
use crate::transport::FsCacheReqHandler;

/// One call the server made, with the arguments it passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    Init(FsOptions),
    Destroy,
    Lookup { parent: u64, name: Vec<u8> },
    Forget { ino: u64, count: u64 },
    BatchForget(Vec<(u64, u64)>),
    Getattr { ino: u64, fh: Option<u64> },
    Setattr { ino: u64, valid: u32, fh: Option<u64>, attr: [i64; 10] },
    Readlink(u64),
    Symlink { target: Vec<u8>, parent: u64, name: Vec<u8> },
    Mknod { parent: u64, name: Vec<u8>, mode: u32, rdev: u32, umask: u32 },
    Mkdir { parent: u64, name: Vec<u8>, mode: u32, umask: u32 },
    Unlink { parent: u64, name: Vec<u8> },
    Rmdir { parent: u64, name: Vec<u8> },
    Rename { olddir: u64, oldname: Vec<u8>, newdir: u64, newname: Vec<u8>, flags: u32 },
    Link { ino: u64, newparent: u64, name: Vec<u8> },
    Open { ino: u64, flags: u32, fuse_flags: u32 },
    Create { parent: u64, name: Vec<u8>, args: CreateIn },
    Read { ino: u64, fh: u64, size: u32, offset: u64, lock_owner: Option<u64>, flags: u32 },
    Write {
        ino: u64,
        fh: u64,
        data: Vec<u8>,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        delayed: bool,
        flags: u32,
        fuse_flags: u32,
    },
    Statfs(u64),
    Release {
        ino: u64,
        flags: u32,
        fh: u64,
        flush: bool,
        flock_release: bool,
        lock_owner: Option<u64>,
    },
    Fsync { ino: u64, datasync: bool, fh: u64 },
    Fsyncdir { ino: u64, datasync: bool, fh: u64 },
    Flush { ino: u64, fh: u64, lock_owner: u64 },
    Setxattr { ino: u64, name: Vec<u8>, value: Vec<u8>, flags: u32 },
    Getxattr { ino: u64, name: Vec<u8>, size: u32 },
    Listxattr { ino: u64, size: u32 },
    Removexattr { ino: u64, name: Vec<u8> },
    Opendir { ino: u64, flags: u32 },
    /// `accepted`: how many entries `add_entry` took before it reported a full reply.
    Readdir { ino: u64, fh: u64, size: u32, offset: u64, plus: bool, accepted: usize },
    Releasedir { ino: u64, flags: u32, fh: u64 },
    Access { ino: u64, mask: u32 },
    Getlk { ino: u64, fh: u64, owner: u64, lock: FileLock, flags: u32 },
    Setlk { ino: u64, fh: u64, owner: u64, lock: FileLock, flags: u32, wait: bool },
    Interrupt(u64),
    Bmap { ino: u64, block: u64, blocksize: u32 },
    Ioctl { ino: u64, fh: u64, flags: u32, cmd: u32, arg: u64, input: Vec<u8>, out_size: u32 },
    Poll { ino: u64, fh: u64, kh: u64, flags: u32, events: u32 },
    NotifyReply,
    Fallocate { ino: u64, fh: u64, mode: u32, offset: u64, length: u64 },
    Lseek { ino: u64, fh: u64, offset: u64, whence: u32 },
    CopyFileRange {
        ino_in: u64,
        fh_in: u64,
        off_in: u64,
        ino_out: u64,
        fh_out: u64,
        off_out: u64,
        len: u64,
        flags: u64,
    },
    SetupMapping { ino: u64, fh: u64, foffset: u64, len: u64, flags: u64, moffset: u64 },
    RemoveMapping { ino: u64, requests: Vec<(u64, u64)> },
    Syncfs(u64),
    Tmpfile { parent: u64, args: CreateIn },
    Statx { ino: u64, fh: Option<u64>, flags: u32, mask: u32 },
}

/// One directory entry served by readdir/readdirplus: `(ino, off, type, name)`.
pub(crate) type DirItem = (u64, u64, u32, Vec<u8>);

/// What the filesystem answers.
pub(crate) struct Config {
    /// When set, every operation (after recording) fails with this errno.
    pub errno: Option<i32>,
    /// What `init` asks for.
    pub wanted: FsOptions,
    /// Data served by `read` (from offset 0).
    pub data: Vec<u8>,
    /// The value `getxattr` returns (`Count` when asked with size 0).
    pub xattr: Vec<u8>,
    /// The names `listxattr` returns.
    pub xattr_names: Vec<u8>,
    /// Entries of every directory.
    pub dir: Vec<DirItem>,
    /// Error `readdir` returns after offering all entries.
    pub dir_errno_after: Option<i32>,
    /// What `write` reports as written (default: `size`).
    pub write_result: Option<usize>,
    /// What `copy_file_range` reports.
    pub copied: usize,
    /// What `ioctl` returns.
    pub ioctl_out: IoctlData,
    /// What `interrupt` returns (`None` = Ok).
    pub interrupt_errno: Option<i32>,
    /// Returns `GetxattrReply::Value` even for size 0 (a sloppy driver).
    pub xattr_value_for_size0: bool,
}

/// The recording filesystem.
pub(crate) struct RecFs {
    calls: Mutex<Vec<(Context, Call)>>,
    pub cfg: Mutex<Config>,
}

impl RecFs {
    pub(crate) fn new(wanted: FsOptions) -> RecFs {
        RecFs {
            calls: Mutex::new(Vec::new()),
            cfg: Mutex::new(Config {
                errno: None,
                wanted,
                data: (0..=255u8).cycle().take(10_000).collect(),
                xattr: b"value".to_vec(),
                xattr_names: b"user.a\0user.bb\0".to_vec(),
                dir: Vec::new(),
                dir_errno_after: None,
                write_result: None,
                copied: 0,
                ioctl_out: IoctlData::default(),
                interrupt_errno: None,
                xattr_value_for_size0: false,
            }),
        }
    }

    /// Takes the calls recorded so far.
    pub(crate) fn take_calls(&self) -> Vec<(Context, Call)> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    /// Takes the calls recorded so far, without their contexts.
    pub(crate) fn calls(&self) -> Vec<Call> {
        self.take_calls().into_iter().map(|(_, c)| c).collect()
    }

    pub(crate) fn set(&self, f: impl FnOnce(&mut Config)) {
        f(&mut self.cfg.lock().unwrap());
    }

    fn rec(&self, ctx: &Context, call: Call) -> io::Result<()> {
        self.calls.lock().unwrap().push((*ctx, call));
        match self.cfg.lock().unwrap().errno {
            Some(e) => Err(io::Error::from_raw_os_error(e)),
            None => Ok(()),
        }
    }
}

/// A file held in memory, read and written through `FileReadWriteVolatile` the way a
/// driver moves data between a file and the transport buffers.
pub(crate) struct MemFile<'a>(pub &'a mut Vec<u8>);

impl FileReadWriteVolatile for MemFile<'_> {
    fn read_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        let mut pos = offset as usize;
        let mut done = 0;
        for b in bufs {
            let n = b.len().min(self.0.len().saturating_sub(pos));
            // SAFETY: `b` describes `b.len()` writable bytes valid while `bufs` is borrowed
            // (the `FileVolatileSlice` contract); `n <= b.len()`, the source range
            // `pos..pos + n` is inside `self.0`, and the two cannot overlap because the
            // transport buffers are not part of this Vec.
            unsafe { std::ptr::copy_nonoverlapping(self.0.as_ptr().add(pos), b.as_ptr(), n) };
            pos += n;
            done += n;
            if n < b.len() {
                break;
            }
        }
        Ok(done)
    }

    fn write_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        let mut pos = offset as usize;
        for b in bufs {
            let end = pos + b.len();
            if self.0.len() < end {
                self.0.resize(end, 0);
            }
            // SAFETY: `b` describes `b.len()` readable bytes valid while `bufs` is borrowed;
            // the destination `pos..end` is inside `self.0` (resized just above) and does
            // not overlap the transport buffers.
            unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), self.0.as_mut_ptr().add(pos), b.len()) };
            pos = end;
        }
        Ok(pos - offset as usize)
    }
}

fn name(n: &CStr) -> Vec<u8> {
    n.to_bytes().to_vec()
}

/// Attributes every entry and getattr reply carries.
pub(crate) fn stat_fixture() -> libc::stat64 {
    let mut st = Entry::default().attr;
    st.st_ino = 42;
    st.st_size = 1000;
    st.st_blocks = 2;
    st.st_atime = 1000;
    st.st_atime_nsec = 11;
    st.st_mtime = 2000;
    st.st_mtime_nsec = 22;
    st.st_ctime = 3000;
    st.st_ctime_nsec = 33;
    st.st_mode = libc::S_IFREG | 0o644;
    st.st_nlink = 1;
    st.st_uid = 1000;
    st.st_gid = 100;
    st.st_rdev = 0x0801;
    st.st_blksize = 4096;
    st
}

/// [`stat_fixture`] as the kernel must see it, written out field by field.
pub(crate) fn attr_fixture(flags: u32) -> Attr {
    Attr {
        ino: 42,
        size: 1000,
        blocks: 2,
        atime: 1000,
        mtime: 2000,
        ctime: 3000,
        atimensec: 11,
        mtimensec: 22,
        ctimensec: 33,
        mode: libc::S_IFREG | 0o644,
        nlink: 1,
        uid: 1000,
        gid: 100,
        rdev: 0x0801,
        blksize: 4096,
        flags,
    }
}

pub(crate) const ATTR_TIMEOUT: Duration = Duration::new(3, 250);
pub(crate) const ENTRY_TIMEOUT: Duration = Duration::new(5, 500_000_000);

/// The entry every lookup-like call returns.
pub(crate) fn entry_fixture(inode: u64) -> Entry {
    Entry {
        inode,
        generation: 7,
        attr: stat_fixture(),
        attr_flags: crate::abi::fuse_abi::FUSE_ATTR_DAX,
        attr_timeout: ATTR_TIMEOUT,
        entry_timeout: ENTRY_TIMEOUT,
    }
}

/// The `fuse_entry_out` bytes for [`entry_fixture`], written out field by field.
pub(crate) fn entry_out_bytes(inode: u64) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&inode.to_le_bytes()); // nodeid
    v.extend_from_slice(&7u64.to_le_bytes()); // generation
    v.extend_from_slice(&5u64.to_le_bytes()); // entry_valid
    v.extend_from_slice(&3u64.to_le_bytes()); // attr_valid
    v.extend_from_slice(&500_000_000u32.to_le_bytes()); // entry_valid_nsec
    v.extend_from_slice(&250u32.to_le_bytes()); // attr_valid_nsec
    v.extend_from_slice(&attr_bytes(2));
    assert_eq!(v.len(), 128);
    v
}

/// The `fuse_attr` bytes for [`stat_fixture`] with `flags`, written out field by field.
pub(crate) fn attr_bytes(flags: u32) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [42u64, 1000, 2, 1000, 2000, 3000] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    let mode = libc::S_IFREG | 0o644;
    for x in [11u32, 22, 33, mode, 1, 1000, 100, 0x0801, 4096, flags] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    assert_eq!(v.len(), 88);
    v
}

/// The lock `getlk` returns.
pub(crate) fn lock_fixture() -> FileLock {
    FileLock {
        start: 10,
        end: 20,
        type_: libc::F_WRLCK as u32,
        pid: 77,
    }
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
        self.rec(ctx, Call::Lookup { parent, name: name(n) })?;
        Ok(entry_fixture(42))
    }

    fn forget(&self, ctx: &Context, ino: u64, count: u64) {
        let _ = self.rec(ctx, Call::Forget { ino, count });
    }

    fn batch_forget(&self, ctx: &Context, requests: Vec<(u64, u64)>) {
        let _ = self.rec(ctx, Call::BatchForget(requests));
    }

    fn getattr(
        &self,
        ctx: &Context,
        ino: u64,
        fh: Option<u64>,
    ) -> io::Result<(libc::stat64, Duration)> {
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
    ) -> io::Result<(libc::stat64, Duration)> {
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
        self.rec(ctx, Call::Setattr { ino, valid: valid.bits(), fh, attr })?;
        Ok((stat_fixture(), ATTR_TIMEOUT))
    }

    fn readlink(&self, ctx: &Context, ino: u64) -> io::Result<Vec<u8>> {
        self.rec(ctx, Call::Readlink(ino))?;
        Ok(b"../target/file".to_vec())
    }

    fn symlink(&self, ctx: &Context, target: &CStr, parent: u64, n: &CStr) -> io::Result<Entry> {
        self.rec(ctx, Call::Symlink { target: name(target), parent, name: name(n) })?;
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
        self.rec(ctx, Call::Mknod { parent, name: name(n), mode, rdev, umask })?;
        Ok(entry_fixture(44))
    }

    fn mkdir(&self, ctx: &Context, parent: u64, n: &CStr, mode: u32, umask: u32) -> io::Result<Entry> {
        self.rec(ctx, Call::Mkdir { parent, name: name(n), mode, umask })?;
        Ok(entry_fixture(45))
    }

    fn unlink(&self, ctx: &Context, parent: u64, n: &CStr) -> io::Result<()> {
        self.rec(ctx, Call::Unlink { parent, name: name(n) })
    }

    fn rmdir(&self, ctx: &Context, parent: u64, n: &CStr) -> io::Result<()> {
        self.rec(ctx, Call::Rmdir { parent, name: name(n) })
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
            oldname: name(oldname),
            newdir,
            newname: name(newname),
            flags,
        };
        self.rec(ctx, call)
    }

    fn link(&self, ctx: &Context, ino: u64, newparent: u64, n: &CStr) -> io::Result<Entry> {
        self.rec(ctx, Call::Link { ino, newparent, name: name(n) })?;
        Ok(entry_fixture(ino))
    }

    fn open(
        &self,
        ctx: &Context,
        ino: u64,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        self.rec(ctx, Call::Open { ino, flags, fuse_flags })?;
        Ok((Some(0x1111), OpenOptions::KEEP_CACHE | OpenOptions::PASSTHROUGH, Some(9)))
    }

    fn create(
        &self,
        ctx: &Context,
        parent: u64,
        n: &CStr,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions, Option<u32>)> {
        self.rec(ctx, Call::Create { parent, name: name(n), args })?;
        Ok((entry_fixture(46), Some(0x2222), OpenOptions::DIRECT_IO, None))
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
        self.rec(ctx, Call::Read { ino, fh, size, offset, lock_owner, flags })?;
        let mut data = self.cfg.lock().unwrap().data.clone();
        w.write_all_from(&mut MemFile(&mut data), size as usize, offset)
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
        Ok(self.cfg.lock().unwrap().write_result.unwrap_or(size as usize))
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
        let call = Call::Release { ino, flags, fh, flush, flock_release, lock_owner };
        self.rec(ctx, call)
    }

    fn fsync(&self, ctx: &Context, ino: u64, datasync: bool, fh: u64) -> io::Result<()> {
        self.rec(ctx, Call::Fsync { ino, datasync, fh })
    }

    fn flush(&self, ctx: &Context, ino: u64, fh: u64, lock_owner: u64) -> io::Result<()> {
        self.rec(ctx, Call::Flush { ino, fh, lock_owner })
    }

    fn setxattr(
        &self,
        ctx: &Context,
        ino: u64,
        n: &CStr,
        value: &[u8],
        flags: u32,
    ) -> io::Result<()> {
        self.rec(ctx, Call::Setxattr { ino, name: name(n), value: value.to_vec(), flags })
    }

    fn getxattr(&self, ctx: &Context, ino: u64, n: &CStr, size: u32) -> io::Result<GetxattrReply> {
        self.rec(ctx, Call::Getxattr { ino, name: name(n), size })?;
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
        self.rec(ctx, Call::Removexattr { ino, name: name(n) })
    }

    fn opendir(&self, ctx: &Context, ino: u64, flags: u32) -> io::Result<(Option<u64>, OpenOptions)> {
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
        self.rec(ctx, Call::Getlk { ino, fh, owner, lock, flags })?;
        Ok(lock_fixture())
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
        self.rec(ctx, Call::Setlk { ino, fh, owner, lock, flags, wait: false })
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
        self.rec(ctx, Call::Setlk { ino, fh, owner, lock, flags, wait: true })
    }

    fn interrupt(&self, ctx: &Context, unique: u64) -> io::Result<()> {
        self.rec(ctx, Call::Interrupt(unique))?;
        match self.cfg.lock().unwrap().interrupt_errno {
            Some(e) => Err(io::Error::from_raw_os_error(e)),
            None => Ok(()),
        }
    }

    fn bmap(&self, ctx: &Context, ino: u64, block: u64, blocksize: u32) -> io::Result<u64> {
        self.rec(ctx, Call::Bmap { ino, block, blocksize })?;
        Ok(block * 2 + 1)
    }

    fn ioctl(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        flags: u32,
        cmd: u32,
        arg: u64,
        data: IoctlData,
        out_size: u32,
    ) -> io::Result<IoctlData> {
        let call = Call::Ioctl { ino, fh, flags, cmd, arg, input: data.data, out_size };
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
        self.rec(ctx, Call::Poll { ino, fh, kh, flags, events })?;
        Ok(events & libc::POLLIN as u32)
    }

    fn notify_reply(&self) -> io::Result<()> {
        self.rec(&Context::default(), Call::NotifyReply)
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
        self.rec(ctx, Call::Fallocate { ino, fh, mode, offset, length })
    }

    fn lseek(&self, ctx: &Context, ino: u64, fh: u64, offset: u64, whence: u32) -> io::Result<u64> {
        self.rec(ctx, Call::Lseek { ino, fh, offset, whence })?;
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
        self.rec(ctx, Call::SetupMapping { ino, fh, foffset, len, flags, moffset })?;
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
        self.rec(ctx, Call::RemoveMapping { ino, requests: pairs })?;
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
        self.rec(ctx, Call::Statx { ino, fh, flags, mask })?;
        Ok((statx_fixture(), ATTR_TIMEOUT))
    }
}

impl RecFs {
    #[allow(clippy::too_many_arguments)]
    fn list(
        &self,
        ctx: &Context,
        ino: u64,
        fh: u64,
        size: u32,
        offset: u64,
        plus: bool,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        let (items, errno_after) = {
            let cfg = self.cfg.lock().unwrap();
            (cfg.dir.clone(), cfg.dir_errno_after)
        };
        let mut accepted = 0;
        let mut res = Ok(());
        for (i, off, type_, n) in items.iter().filter(|e| e.1 > offset) {
            let d = DirEntry {
                ino: *i,
                offset: *off,
                type_: *type_,
                name: n,
            };
            match add_entry(d, entry_fixture(*i)) {
                Ok(0) => break,
                Ok(_) => accepted += 1,
                Err(e) => {
                    res = Err(e);
                    break;
                }
            }
        }
        if res.is_ok() && accepted == items.len() {
            if let Some(e) = errno_after {
                res = Err(io::Error::from_raw_os_error(e));
            }
        }
        self.rec(ctx, Call::Readdir { ino, fh, size, offset, plus, accepted })?;
        res
    }
}

/// Statistics `statfs` returns.
pub(crate) fn statvfs_fixture() -> libc::statvfs64 {
    // SAFETY: `statvfs64` is plain integers, for which all-zero bytes are a valid value.
    let mut st: libc::statvfs64 = unsafe { std::mem::zeroed() };
    st.f_blocks = 1000;
    st.f_bfree = 500;
    st.f_bavail = 400;
    st.f_files = 300;
    st.f_ffree = 200;
    st.f_bsize = 4096;
    st.f_namemax = 255;
    st.f_frsize = 512;
    st
}

/// Attributes `statx` returns.
pub(crate) fn statx_fixture() -> libc::statx {
    // SAFETY: `statx` is plain integers, for which all-zero bytes are a valid value.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    st.stx_mask = libc::STATX_BASIC_STATS | libc::STATX_BTIME;
    st.stx_blksize = 4096;
    st.stx_attributes = 0x20;
    st.stx_nlink = 2;
    st.stx_uid = 1000;
    st.stx_gid = 100;
    st.stx_mode = (libc::S_IFDIR | 0o755) as u16;
    st.stx_ino = 42;
    st.stx_size = 4096;
    st.stx_blocks = 8;
    st.stx_attributes_mask = 0xff;
    st.stx_atime.tv_sec = 1;
    st.stx_atime.tv_nsec = 2;
    st.stx_btime.tv_sec = 3;
    st.stx_btime.tv_nsec = 4;
    st.stx_ctime.tv_sec = 5;
    st.stx_ctime.tv_nsec = 6;
    st.stx_mtime.tv_sec = 7;
    st.stx_mtime.tv_nsec = 8;
    st.stx_rdev_major = 9;
    st.stx_rdev_minor = 10;
    st.stx_dev_major = 11;
    st.stx_dev_minor = 12;
    st
}

/// A DAX window channel that records what it was asked to do.
#[derive(Default)]
pub(crate) struct MockDax {
    pub maps: Vec<(u64, u64, u64, u64, i32)>,
    pub unmaps: Vec<Vec<(u64, u64)>>,
}

impl FsCacheReqHandler for MockDax {
    fn map(&mut self, foffset: u64, moffset: u64, len: u64, flags: u64, fd: i32) -> io::Result<()> {
        self.maps.push((foffset, moffset, len, flags, fd));
        Ok(())
    }

    fn unmap(&mut self, requests: Vec<RemovemappingOne>) -> io::Result<()> {
        self.unmaps
            .push(requests.iter().map(|r| (r.moffset, r.len)).collect());
        Ok(())
    }
}
