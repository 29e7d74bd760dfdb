//! Unit tests of the [`Vfs`]: a fake in-memory backend records the inode and handle each
//! operation reached it with, so routing and translation can be checked for every
//! `FileSystem` method without a kernel.

use std::any::Any;
use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use super::{kernel_ino, BackendFileSystem, Vfs, VfsIndex, VfsOptions};
use crate::abi::fuse_abi::{CreateIn, FsOptions, OpenOptions, SetattrValid};
use crate::abi::virtio_fs::RemovemappingOne;
use crate::api::filesystem::{
    Context, DirEntry, Entry, FileLock, FileSystem, GetxattrReply, IoctlReply, ListxattrReply,
    ZeroCopyReader, ZeroCopyWriter,
};
use crate::buffer::FsCacheReqHandler;

mod dummies;
mod mapping;
#[cfg(feature = "persist")]
mod persist;
mod pseudo;
mod routing;

use dummies::{EmptyReader, NoDax, NullWriter};

/// The inode every entry-returning operation of a fake hands out unless told otherwise.
const ENTRY_INO: u64 = 42;
/// A second inode, for the second readdirplus entry.
const ENTRY_INO2: u64 = 43;

/// One call a fake backend received, with the backend-side inodes and handle.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Call {
    op: &'static str,
    ino: u64,
    /// The second inode of rename/link/copy_file_range, the count of forget.
    ino2: Option<u64>,
    fh: Option<u64>,
}

fn call(op: &'static str, ino: u64) -> Call {
    Call {
        op,
        ino,
        ino2: None,
        fh: None,
    }
}

fn call_fh(op: &'static str, ino: u64, fh: u64) -> Call {
    Call {
        fh: Some(fh),
        ..call(op, ino)
    }
}

fn call2(op: &'static str, ino: u64, ino2: u64) -> Call {
    Call {
        ino2: Some(ino2),
        ..call(op, ino)
    }
}

/// What a fake backend saw; shared between the boxed backend and the test.
struct FakeState {
    calls: Mutex<Vec<Call>>,
    /// The inode entry-returning operations hand out.
    entry_ino: AtomicU64,
    /// Lookups the fake counted minus forgets, per inode (as a driver keeps them).
    lookups: Mutex<HashMap<u64, i64>>,
    /// When set, the next lookup waits on the first barrier (it has started), then on the
    /// second (the test let it go on).
    gate: Mutex<Option<(Arc<Barrier>, Arc<Barrier>)>>,
    destroyed: AtomicU64,
}

impl FakeState {
    /// The calls recorded since the last `take`.
    fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }

    fn lookups_of(&self, ino: u64) -> i64 {
        self.lookups.lock().unwrap().get(&ino).copied().unwrap_or(0)
    }

    fn total_lookups(&self) -> i64 {
        self.lookups.lock().unwrap().values().sum()
    }
}

/// A backend with no files of its own: every operation succeeds and records its call.
struct FakeFs {
    st: Arc<FakeState>,
    root: u64,
    max_ino: u64,
    wants: FsOptions,
    fail_init: bool,
    fail_mount: bool,
    /// readdirplus gives "." and ".." real entries (as a careless driver might).
    dot_entries: bool,
}

impl FakeFs {
    fn new() -> FakeFs {
        FakeFs {
            st: Arc::new(FakeState {
                calls: Mutex::new(Vec::new()),
                entry_ino: AtomicU64::new(ENTRY_INO),
                lookups: Mutex::new(HashMap::new()),
                gate: Mutex::new(None),
                destroyed: AtomicU64::new(0),
            }),
            root: 1,
            max_ino: 1 << 32,
            wants: FsOptions::empty(),
            fail_init: false,
            fail_mount: false,
            dot_entries: false,
        }
    }

    fn root(mut self, root: u64) -> FakeFs {
        self.root = root;
        self
    }

    fn max_ino(mut self, max: u64) -> FakeFs {
        self.max_ino = max;
        self
    }

    fn wants(mut self, wants: FsOptions) -> FakeFs {
        self.wants = wants;
        self
    }

    fn failing_init(mut self) -> FakeFs {
        self.fail_init = true;
        self
    }

    fn failing_mount(mut self) -> FakeFs {
        self.fail_mount = true;
        self
    }

    fn dot_entries(mut self) -> FakeFs {
        self.dot_entries = true;
        self
    }

    fn state(&self) -> Arc<FakeState> {
        self.st.clone()
    }

    fn rec(&self, c: Call) {
        self.st.calls.lock().unwrap().push(c);
    }

    fn attr(&self, ino: u64) -> libc::stat64 {
        // SAFETY: stat64 is plain integers; all-zero is a valid value.
        let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
        st.st_ino = ino;
        st.st_nlink = 1;
        st.st_mode = if ino == self.root {
            libc::S_IFDIR | 0o755
        } else {
            libc::S_IFREG | 0o644
        };
        st
    }

    fn raw_entry(&self, ino: u64) -> Entry {
        Entry {
            inode: ino,
            generation: 1,
            attr: self.attr(ino),
            attr_flags: 0,
            attr_timeout: Duration::from_secs(1),
            entry_timeout: Duration::from_secs(1),
        }
    }

    /// A counted entry of the configured inode.
    fn entry(&self) -> Entry {
        let ino = self.st.entry_ino.load(Ordering::SeqCst);
        self.count(ino, 1);
        self.raw_entry(ino)
    }

    fn count(&self, ino: u64, n: i64) {
        *self.st.lookups.lock().unwrap().entry(ino).or_default() += n;
    }

    fn wait_gate(&self) {
        let gate = self.st.gate.lock().unwrap().take();
        if let Some((started, go)) = gate {
            started.wait();
            go.wait();
        }
    }
}

#[allow(clippy::too_many_arguments)]
impl FileSystem for FakeFs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, capable: FsOptions) -> io::Result<FsOptions> {
        self.rec(call("init", capable.bits()));
        if self.fail_init {
            return Err(io::Error::from_raw_os_error(libc::EPROTO));
        }
        Ok(self.wants)
    }

    fn destroy(&self) {
        self.st.destroyed.fetch_add(1, Ordering::SeqCst);
    }

    fn lookup(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        self.rec(call("lookup", parent));
        self.wait_gate();
        if name.to_bytes() == b"missing" {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        Ok(self.entry())
    }

    fn forget(&self, _ctx: &Context, inode: u64, count: u64) {
        self.rec(call2("forget", inode, count));
        self.count(inode, -(count as i64));
    }

    fn getattr(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: Option<u64>,
    ) -> io::Result<(libc::stat64, Duration)> {
        self.rec(Call {
            fh: handle,
            ..call("getattr", inode)
        });
        Ok((self.attr(inode), Duration::from_secs(1)))
    }

    fn setattr(
        &self,
        _ctx: &Context,
        inode: u64,
        _attr: libc::stat64,
        handle: Option<u64>,
        _valid: SetattrValid,
    ) -> io::Result<(libc::stat64, Duration)> {
        self.rec(Call {
            fh: handle,
            ..call("setattr", inode)
        });
        Ok((self.attr(inode), Duration::from_secs(1)))
    }

    fn readlink(&self, _ctx: &Context, inode: u64) -> io::Result<Vec<u8>> {
        self.rec(call("readlink", inode));
        Ok(b"target".to_vec())
    }

    fn symlink(&self, _ctx: &Context, _l: &CStr, parent: u64, _n: &CStr) -> io::Result<Entry> {
        self.rec(call("symlink", parent));
        Ok(self.entry())
    }

    fn mknod(
        &self,
        _ctx: &Context,
        parent: u64,
        _name: &CStr,
        _mode: u32,
        _rdev: u32,
        _umask: u32,
    ) -> io::Result<Entry> {
        self.rec(call("mknod", parent));
        Ok(self.entry())
    }

    fn mkdir(&self, _ctx: &Context, parent: u64, _n: &CStr, _m: u32, _u: u32) -> io::Result<Entry> {
        self.rec(call("mkdir", parent));
        Ok(self.entry())
    }

    fn unlink(&self, _ctx: &Context, parent: u64, _name: &CStr) -> io::Result<()> {
        self.rec(call("unlink", parent));
        Ok(())
    }

    fn rmdir(&self, _ctx: &Context, parent: u64, _name: &CStr) -> io::Result<()> {
        self.rec(call("rmdir", parent));
        Ok(())
    }

    fn rename(
        &self,
        _ctx: &Context,
        olddir: u64,
        _oldname: &CStr,
        newdir: u64,
        _newname: &CStr,
        _flags: u32,
    ) -> io::Result<()> {
        self.rec(call2("rename", olddir, newdir));
        Ok(())
    }

    fn link(&self, _ctx: &Context, inode: u64, newparent: u64, _n: &CStr) -> io::Result<Entry> {
        self.rec(call2("link", inode, newparent));
        Ok(self.entry())
    }

    fn open(
        &self,
        _ctx: &Context,
        inode: u64,
        _flags: u32,
        _fuse_flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        self.rec(call("open", inode));
        Ok((Some(0x0FE0 + inode), OpenOptions::KEEP_CACHE, None))
    }

    fn create(
        &self,
        _ctx: &Context,
        parent: u64,
        _name: &CStr,
        _args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions, Option<u32>)> {
        self.rec(call("create", parent));
        Ok((self.entry(), Some(0x0C0E), OpenOptions::empty(), None))
    }

    fn read(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _w: &mut dyn ZeroCopyWriter,
        size: u32,
        _offset: u64,
        _lock_owner: Option<u64>,
        _flags: u32,
    ) -> io::Result<usize> {
        self.rec(call_fh("read", inode, handle));
        Ok(size as usize / 2)
    }

    fn write(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _r: &mut dyn ZeroCopyReader,
        size: u32,
        _offset: u64,
        _lock_owner: Option<u64>,
        _delayed_write: bool,
        _flags: u32,
        _fuse_flags: u32,
    ) -> io::Result<usize> {
        self.rec(call_fh("write", inode, handle));
        Ok(size as usize)
    }

    fn statfs(&self, _ctx: &Context, inode: u64) -> io::Result<libc::statvfs64> {
        self.rec(call("statfs", inode));
        // SAFETY: statvfs64 is plain integers; all-zero is a valid value.
        let mut st: libc::statvfs64 = unsafe { std::mem::zeroed() };
        st.f_bsize = 512;
        Ok(st)
    }

    fn release(
        &self,
        _ctx: &Context,
        inode: u64,
        _flags: u32,
        handle: u64,
        _flush: bool,
        _flock_release: bool,
        _lock_owner: Option<u64>,
    ) -> io::Result<()> {
        self.rec(call_fh("release", inode, handle));
        Ok(())
    }

    fn fsync(&self, _ctx: &Context, inode: u64, _datasync: bool, handle: u64) -> io::Result<()> {
        self.rec(call_fh("fsync", inode, handle));
        Ok(())
    }

    fn flush(&self, _ctx: &Context, inode: u64, handle: u64, _lock_owner: u64) -> io::Result<()> {
        self.rec(call_fh("flush", inode, handle));
        Ok(())
    }

    fn setxattr(
        &self,
        _ctx: &Context,
        inode: u64,
        _n: &CStr,
        _v: &[u8],
        _f: u32,
    ) -> io::Result<()> {
        self.rec(call("setxattr", inode));
        Ok(())
    }

    fn getxattr(
        &self,
        _ctx: &Context,
        inode: u64,
        _n: &CStr,
        _s: u32,
    ) -> io::Result<GetxattrReply> {
        self.rec(call("getxattr", inode));
        Ok(GetxattrReply::Value(b"v".to_vec()))
    }

    fn listxattr(&self, _ctx: &Context, inode: u64, _size: u32) -> io::Result<ListxattrReply> {
        self.rec(call("listxattr", inode));
        Ok(ListxattrReply::Names(b"user.a\0".to_vec()))
    }

    fn removexattr(&self, _ctx: &Context, inode: u64, _name: &CStr) -> io::Result<()> {
        self.rec(call("removexattr", inode));
        Ok(())
    }

    fn opendir(
        &self,
        _ctx: &Context,
        inode: u64,
        _flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions)> {
        self.rec(call("opendir", inode));
        Ok((Some(0x0D0 + inode), OpenOptions::empty()))
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
        self.rec(call_fh("readdir", inode, handle));
        let all: [(u64, &[u8]); 3] = [(inode, b"."), (self.root, b".."), (ENTRY_INO, b"f")];
        for (i, (ino, name)) in all.into_iter().enumerate().skip(offset as usize) {
            let d = DirEntry {
                ino,
                offset: i as u64 + 1,
                type_: libc::DT_REG as u32,
                name,
            };
            if add_entry(d)? == 0 {
                break;
            }
        }
        Ok(())
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
        self.rec(call_fh("readdirplus", inode, handle));
        let all: [(u64, &[u8]); 4] = [
            (inode, b"."),
            (self.root, b".."),
            (ENTRY_INO, b"f"),
            (ENTRY_INO2, b"g"),
        ];
        for (i, (ino, name)) in all.into_iter().enumerate().skip(offset as usize) {
            let d = DirEntry {
                ino,
                offset: i as u64 + 1,
                type_: libc::DT_REG as u32,
                name,
            };
            let dot = name == b"." || name == b"..";
            let e = match (dot, self.dot_entries) {
                (true, false) => Entry::default(),
                // A careless driver: a real entry for a dot, not counted by the kernel.
                (true, true) => self.raw_entry(ino),
                (false, _) => {
                    self.count(ino, 1);
                    self.raw_entry(ino)
                }
            };
            match add_entry(d, e) {
                Ok(n) if n > 0 => {}
                other => {
                    if !dot {
                        self.count(ino, -1); // not taken: give the lookup back
                    }
                    other?;
                    break;
                }
            }
        }
        Ok(())
    }

    fn fsyncdir(&self, _ctx: &Context, inode: u64, _datasync: bool, handle: u64) -> io::Result<()> {
        self.rec(call_fh("fsyncdir", inode, handle));
        Ok(())
    }

    fn releasedir(&self, _ctx: &Context, inode: u64, _flags: u32, handle: u64) -> io::Result<()> {
        self.rec(call_fh("releasedir", inode, handle));
        Ok(())
    }

    fn access(&self, _ctx: &Context, inode: u64, _mask: u32) -> io::Result<()> {
        self.rec(call("access", inode));
        Ok(())
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
        self.rec(call_fh("getlk", inode, handle));
        Ok(lock)
    }

    fn setlk(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _owner: u64,
        _lock: FileLock,
        _flags: u32,
    ) -> io::Result<()> {
        self.rec(call_fh("setlk", inode, handle));
        Ok(())
    }

    fn setlkw(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _owner: u64,
        _lock: FileLock,
        _flags: u32,
    ) -> io::Result<()> {
        self.rec(call_fh("setlkw", inode, handle));
        Ok(())
    }

    fn bmap(&self, _ctx: &Context, inode: u64, block: u64, _blocksize: u32) -> io::Result<u64> {
        self.rec(call("bmap", inode));
        Ok(block + 1)
    }

    fn ioctl_with_arg(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _flags: u32,
        _cmd: u32,
        _arg: u64,
        data: &[u8],
        _out_size: u32,
    ) -> io::Result<IoctlReply> {
        self.rec(call_fh("ioctl", inode, handle));
        Ok(IoctlReply {
            result: 0,
            data: data.to_vec(),
        })
    }

    /// Records the cookie as the handle, so routing tests see that it comes through.
    fn notify_retrieve_reply(
        &self,
        _ctx: &Context,
        cookie: u64,
        inode: u64,
        _offset: u64,
        _size: u32,
        _data: &mut dyn ZeroCopyReader,
    ) -> io::Result<()> {
        self.rec(call_fh("notify_retrieve_reply", inode, cookie));
        Ok(())
    }

    fn poll(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _khandle: u64,
        _flags: u32,
        events: u32,
    ) -> io::Result<u32> {
        self.rec(call_fh("poll", inode, handle));
        Ok(events)
    }

    fn fallocate(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _mode: u32,
        _offset: u64,
        _length: u64,
    ) -> io::Result<()> {
        self.rec(call_fh("fallocate", inode, handle));
        Ok(())
    }

    fn lseek(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        offset: u64,
        _whence: u32,
    ) -> io::Result<u64> {
        self.rec(call_fh("lseek", inode, handle));
        Ok(offset)
    }

    fn copy_file_range(
        &self,
        _ctx: &Context,
        inode_in: u64,
        handle_in: u64,
        _offset_in: u64,
        inode_out: u64,
        handle_out: u64,
        _offset_out: u64,
        len: u64,
        _flags: u64,
    ) -> io::Result<usize> {
        self.rec(Call {
            op: "copy_file_range",
            ino: inode_in,
            ino2: Some(inode_out),
            fh: Some(handle_in ^ handle_out),
        });
        Ok(len as usize)
    }

    fn setupmapping(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: u64,
        _foffset: u64,
        _len: u64,
        _flags: u64,
        _moffset: u64,
        _vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        self.rec(call_fh("setupmapping", inode, handle));
        Ok(())
    }

    fn removemapping(
        &self,
        _ctx: &Context,
        inode: u64,
        _requests: Vec<RemovemappingOne>,
        _vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        self.rec(call("removemapping", inode));
        Ok(())
    }

    fn syncfs(&self, _ctx: &Context, inode: u64) -> io::Result<()> {
        self.rec(call("syncfs", inode));
        Ok(())
    }

    fn tmpfile(
        &self,
        _ctx: &Context,
        parent: u64,
        _args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions)> {
        self.rec(call("tmpfile", parent));
        Ok((self.entry(), Some(0x7E), OpenOptions::empty()))
    }

    fn statx(
        &self,
        _ctx: &Context,
        inode: u64,
        handle: Option<u64>,
        _flags: u32,
        _mask: u32,
    ) -> io::Result<(libc::statx, Duration)> {
        self.rec(Call {
            fh: handle,
            ..call("statx", inode)
        });
        // SAFETY: statx is plain integers; all-zero is a valid value.
        let mut st: libc::statx = unsafe { std::mem::zeroed() };
        st.stx_ino = inode;
        Ok((st, Duration::from_secs(1)))
    }
}

impl BackendFileSystem for FakeFs {
    fn mount(&self) -> io::Result<(Entry, u64)> {
        if self.fail_mount {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        Ok((self.raw_entry(self.root), self.max_ino))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn ctx() -> Context {
    Context::new()
}

fn errno<T: std::fmt::Debug>(r: io::Result<T>) -> i32 {
    r.expect_err("expected an error")
        .raw_os_error()
        .expect("an errno")
}

/// Mounts `fs` at `path`; returns its index and its recorder.
fn mount(vfs: &Vfs, fs: FakeFs, path: &str) -> (VfsIndex, Arc<FakeState>) {
    let st = fs.state();
    let idx = vfs.mount(Box::new(fs), path).unwrap();
    (idx, st)
}

fn vfs() -> Vfs {
    Vfs::new(VfsOptions::default())
}

/// The kernel's number for inode `ino` of backend `idx`.
fn kino(idx: VfsIndex, ino: u64) -> u64 {
    kernel_ino(idx, ino)
}

/// Lists `dir` with readdir, returning (d_ino, name).
fn list(vfs: &Vfs, dir: u64, fh: u64) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    vfs.readdir(&ctx(), dir, fh, 4096, 0, &mut |d| {
        out.push((d.ino, String::from_utf8(d.name.to_vec()).unwrap()));
        Ok(1)
    })
    .unwrap();
    out
}
