//! `RecFs`: a filesystem that records every call with its arguments and answers from a
//! configurable set of canned results.
//!
//! - `fs.rs`: its `FileSystem` implementation;
//! - `fixtures.rs`: the canned results and their expected wire bytes.

use std::io;
use std::sync::Mutex;

use crate::abi::fuse_abi::{CreateIn, FsOptions};
use crate::abi::virtio_fs::RemovemappingOne;
use crate::api::filesystem::{Context, DirEntry, Entry, FileLock, IoctlReply};
use crate::buffer::FsCacheReqHandler;

mod fixtures;
mod fs;

pub(crate) use fixtures::*;

/// One call the server made, with the arguments it passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Call {
    Init(FsOptions),
    Destroy,
    Lookup {
        parent: u64,
        name: Vec<u8>,
    },
    Forget {
        ino: u64,
        count: u64,
    },
    BatchForget(Vec<(u64, u64)>),
    Getattr {
        ino: u64,
        fh: Option<u64>,
    },
    Setattr {
        ino: u64,
        valid: u32,
        fh: Option<u64>,
        attr: [i64; 10],
    },
    Readlink(u64),
    Symlink {
        target: Vec<u8>,
        parent: u64,
        name: Vec<u8>,
    },
    Mknod {
        parent: u64,
        name: Vec<u8>,
        mode: u32,
        rdev: u32,
        umask: u32,
    },
    Mkdir {
        parent: u64,
        name: Vec<u8>,
        mode: u32,
        umask: u32,
    },
    Unlink {
        parent: u64,
        name: Vec<u8>,
    },
    Rmdir {
        parent: u64,
        name: Vec<u8>,
    },
    Rename {
        olddir: u64,
        oldname: Vec<u8>,
        newdir: u64,
        newname: Vec<u8>,
        flags: u32,
    },
    Link {
        ino: u64,
        newparent: u64,
        name: Vec<u8>,
    },
    Open {
        ino: u64,
        flags: u32,
        fuse_flags: u32,
    },
    Create {
        parent: u64,
        name: Vec<u8>,
        args: CreateIn,
    },
    Read {
        ino: u64,
        fh: u64,
        size: u32,
        offset: u64,
        lock_owner: Option<u64>,
        flags: u32,
    },
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
    Fsync {
        ino: u64,
        datasync: bool,
        fh: u64,
    },
    Fsyncdir {
        ino: u64,
        datasync: bool,
        fh: u64,
    },
    Flush {
        ino: u64,
        fh: u64,
        lock_owner: u64,
    },
    Setxattr {
        ino: u64,
        name: Vec<u8>,
        value: Vec<u8>,
        flags: u32,
    },
    Getxattr {
        ino: u64,
        name: Vec<u8>,
        size: u32,
    },
    Listxattr {
        ino: u64,
        size: u32,
    },
    Removexattr {
        ino: u64,
        name: Vec<u8>,
    },
    Opendir {
        ino: u64,
        flags: u32,
    },
    /// `accepted`: how many entries `add_entry` took before it reported a full reply.
    Readdir {
        ino: u64,
        fh: u64,
        size: u32,
        offset: u64,
        plus: bool,
        accepted: usize,
    },
    Releasedir {
        ino: u64,
        flags: u32,
        fh: u64,
    },
    Access {
        ino: u64,
        mask: u32,
    },
    Getlk {
        ino: u64,
        fh: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
    },
    Setlk {
        ino: u64,
        fh: u64,
        owner: u64,
        lock: FileLock,
        flags: u32,
        wait: bool,
    },
    Interrupt(u64),
    Bmap {
        ino: u64,
        block: u64,
        blocksize: u32,
    },
    Ioctl {
        ino: u64,
        fh: u64,
        flags: u32,
        cmd: u32,
        arg: u64,
        input: Vec<u8>,
        out_size: u32,
    },
    Poll {
        ino: u64,
        fh: u64,
        kh: u64,
        flags: u32,
        events: u32,
    },
    NotifyReply,
    NotifyRetrieveReply {
        cookie: u64,
        ino: u64,
        offset: u64,
        size: u32,
        data: Vec<u8>,
    },
    Fallocate {
        ino: u64,
        fh: u64,
        mode: u32,
        offset: u64,
        length: u64,
    },
    Lseek {
        ino: u64,
        fh: u64,
        offset: u64,
        whence: u32,
    },
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
    SetupMapping {
        ino: u64,
        fh: u64,
        foffset: u64,
        len: u64,
        flags: u64,
        moffset: u64,
    },
    RemoveMapping {
        ino: u64,
        requests: Vec<(u64, u64)>,
    },
    Syncfs(u64),
    Tmpfile {
        parent: u64,
        args: CreateIn,
    },
    Statx {
        ino: u64,
        fh: Option<u64>,
        flags: u32,
        mask: u32,
    },
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
    pub ioctl_out: IoctlReply,
    /// What `interrupt` returns (`None` = Ok).
    pub interrupt_errno: Option<i32>,
    /// Returns `GetxattrReply::Value` even for size 0 (a sloppy driver).
    pub xattr_value_for_size0: bool,
    /// `read` tries to put this many bytes more than asked into the reply.
    pub read_overrun: usize,
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
                ioctl_out: IoctlReply::default(),
                interrupt_errno: None,
                xattr_value_for_size0: false,
                read_overrun: 0,
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
        self.rec(
            ctx,
            Call::Readdir {
                ino,
                fh,
                size,
                offset,
                plus,
                accepted,
            },
        )?;
        res
    }
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
