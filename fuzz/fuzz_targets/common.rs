//! Shared by the fuzz targets and the seed generator: a small in-memory filesystem, the
//! statically built servers, the per-input check, and one valid request per opcode.
#![allow(dead_code)]

use std::ffi::CStr;
use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use fuse_backend_rs::abi::fuse_abi::{
    AccessIn, BatchForgetIn, BmapIn, CopyFileRangeIn, CreateIn, ExtHeader, FallocateIn, FlushIn,
    ForgetIn, ForgetOne, FsOptions, FsyncIn, GetattrIn, GetxattrIn, InterruptIn, IoctlIn, LinkIn,
    LkIn, LseekIn, MkdirIn, MknodIn, Opcode, OpenIn, OpenOptions, PollIn, ReadIn, ReleaseIn,
    Rename2In, RenameIn, SetattrIn, SetattrValid, SetxattrIn, SetxattrInExt, StatxIn, SuppGroups,
    SyncfsIn, WriteIn, FUSE_EXT_GROUPS,
};
use fuse_backend_rs::abi::virtio_fs::{RemovemappingIn, RemovemappingOne, SetupmappingIn};
use fuse_backend_rs::api::filesystem::{
    Context, DirEntry, Entry, FileLock, FileSystem, GetxattrReply, IoctlReply, ListxattrReply,
    ZeroCopyReader, ZeroCopyWriter,
};
use fuse_backend_rs::api::server::testing::{init_request, serve, RequestBuilder};
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::common::{FileReadWriteVolatile, FileVolatileSlice};

/// Length of the one file's contents.
const FILE_LEN: usize = 64 * 1024;

/// A file that reads as a fixed pattern and swallows writes, moving data through the
/// same volatile-slice interface a driver uses with a real file.
struct PatternFile;

impl FileReadWriteVolatile for PatternFile {
    // No file position: only positioned I/O, which is all the server does.
    fn read_volatile(&mut self, _slice: FileVolatileSlice) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::ESPIPE))
    }

    fn write_volatile(&mut self, _slice: FileVolatileSlice) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::ESPIPE))
    }

    fn read_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        self.read_vectored_at_volatile(&[slice], offset)
    }

    fn write_at_volatile(&mut self, slice: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        self.write_vectored_at_volatile(&[slice], offset)
    }

    fn read_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        offset: u64,
    ) -> io::Result<usize> {
        let mut pos = usize::try_from(offset).unwrap_or(FILE_LEN).min(FILE_LEN);
        let start = pos;
        for b in bufs {
            let n = b.len().min(FILE_LEN - pos);
            let chunk: Vec<u8> = (pos..pos + n).map(|i| (i % 251) as u8).collect();
            // SAFETY: `b` describes `b.len()` writable bytes that stay valid while `bufs` is
            // borrowed (the `FileVolatileSlice` contract); `n <= b.len()` and `chunk` is a
            // fresh Vec, so the ranges cannot overlap.
            unsafe { std::ptr::copy_nonoverlapping(chunk.as_ptr(), b.as_ptr(), n) };
            pos += n;
        }
        Ok(pos - start)
    }

    fn write_vectored_at_volatile(
        &mut self,
        bufs: &[FileVolatileSlice],
        _offset: u64,
    ) -> io::Result<usize> {
        let mut sum = 0u64;
        let mut len = 0;
        for b in bufs {
            let mut tmp = vec![0u8; b.len()];
            // SAFETY: `b` describes `b.len()` readable bytes valid while `bufs` is borrowed;
            // `tmp` is a fresh Vec of the same length.
            unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), tmp.as_mut_ptr(), b.len()) };
            sum += tmp.iter().map(|&x| x as u64).sum::<u64>();
            len += b.len();
        }
        std::hint::black_box(sum);
        Ok(len)
    }
}

/// A small in-memory filesystem: one directory of fixed entries and one pattern file.
pub struct MemFs;

fn stat(ino: u64) -> libc::stat64 {
    let mut st = Entry::default().attr;
    st.st_ino = ino;
    st.st_mode = if ino == 1 {
        libc::S_IFDIR | 0o755
    } else {
        libc::S_IFREG | 0o644
    };
    st.st_nlink = 1;
    st.st_size = FILE_LEN as i64;
    st.st_blksize = 4096;
    st
}

fn entry(ino: u64) -> Entry {
    Entry {
        inode: ino,
        generation: 1,
        attr: stat(ino),
        attr_flags: 0,
        attr_timeout: Duration::from_secs(1),
        entry_timeout: Duration::from_millis(1500),
    }
}

fn err<T>(errno: i32) -> io::Result<T> {
    Err(io::Error::from_raw_os_error(errno))
}

const DIR: &[(u64, &[u8])] = &[
    (1, b"."),
    (1, b".."),
    (2, b"file"),
    (3, b"dir"),
    (4, b"a_rather_long_name_that_needs_padding"),
    (5, b"x"),
];

impl MemFs {
    fn list(
        &self,
        offset: u64,
        add: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        for (i, (ino, name)) in DIR.iter().enumerate().skip(offset.min(64) as usize) {
            let d = DirEntry {
                ino: *ino,
                offset: i as u64 + 1,
                type_: if *ino == 1 || *ino == 3 {
                    libc::DT_DIR
                } else {
                    libc::DT_REG
                } as u32,
                name,
            };
            if add(d, entry(*ino))? == 0 {
                break;
            }
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)]
impl FileSystem for MemFs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, capable: FsOptions) -> io::Result<FsOptions> {
        Ok(capable)
    }

    fn lookup(&self, _: &Context, _: u64, name: &CStr) -> io::Result<Entry> {
        match DIR.iter().find(|(_, n)| *n == name.to_bytes()) {
            Some((ino, _)) => Ok(entry(*ino)),
            None => err(libc::ENOENT),
        }
    }

    fn getattr(
        &self,
        _: &Context,
        ino: u64,
        _: Option<u64>,
    ) -> io::Result<(libc::stat64, Duration)> {
        Ok((stat(ino), Duration::from_secs(1)))
    }

    fn setattr(
        &self,
        _: &Context,
        ino: u64,
        attr: libc::stat64,
        _: Option<u64>,
        valid: SetattrValid,
    ) -> io::Result<(libc::stat64, Duration)> {
        let mut st = stat(ino);
        if valid.contains(SetattrValid::SIZE) {
            st.st_size = attr.st_size;
        }
        Ok((st, Duration::ZERO))
    }

    fn readlink(&self, _: &Context, _: u64) -> io::Result<Vec<u8>> {
        Ok(b"file".to_vec())
    }

    fn symlink(&self, _: &Context, _: &CStr, _: u64, _: &CStr) -> io::Result<Entry> {
        Ok(entry(6))
    }

    fn mknod(&self, ctx: &Context, _: u64, _: &CStr, _: u32, _: u32, _: u32) -> io::Result<Entry> {
        let mut e = entry(7);
        e.attr.st_gid = ctx.supp_gid.unwrap_or(ctx.gid);
        Ok(e)
    }

    fn mkdir(&self, _: &Context, _: u64, _: &CStr, _: u32, _: u32) -> io::Result<Entry> {
        Ok(entry(8))
    }

    fn unlink(&self, _: &Context, _: u64, name: &CStr) -> io::Result<()> {
        self.lookup(&Context::default(), 1, name).map(|_| ())
    }

    fn rename(
        &self,
        _: &Context,
        _: u64,
        _: &CStr,
        _: u64,
        _: &CStr,
        flags: u32,
    ) -> io::Result<()> {
        if flags & !7 != 0 {
            return err(libc::EINVAL);
        }
        Ok(())
    }

    fn link(&self, _: &Context, ino: u64, _: u64, _: &CStr) -> io::Result<Entry> {
        Ok(entry(ino))
    }

    fn open(
        &self,
        _: &Context,
        ino: u64,
        _: u32,
        _: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        Ok((Some(ino), OpenOptions::KEEP_CACHE, None))
    }

    fn create(
        &self,
        _: &Context,
        _: u64,
        _: &CStr,
        _: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions, Option<u32>)> {
        Ok((entry(9), Some(9), OpenOptions::empty(), None))
    }

    fn read(
        &self,
        _: &Context,
        _: u64,
        _: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        _: Option<u64>,
        _: u32,
    ) -> io::Result<usize> {
        w.write_up_to_from(&mut PatternFile, size as usize, offset)
    }

    fn write(
        &self,
        _: &Context,
        _: u64,
        _: u64,
        r: &mut dyn ZeroCopyReader,
        size: u32,
        offset: u64,
        _: Option<u64>,
        _: bool,
        _: u32,
        _: u32,
    ) -> io::Result<usize> {
        r.read_exact_to(&mut PatternFile, size as usize, offset)?;
        Ok(size as usize)
    }

    fn statfs(&self, _: &Context, _: u64) -> io::Result<libc::statvfs64> {
        // SAFETY: `statvfs64` is plain integers, for which all-zero bytes are valid.
        let mut st: libc::statvfs64 = unsafe { std::mem::zeroed() };
        st.f_bsize = 4096;
        st.f_namemax = 255;
        Ok(st)
    }

    fn release(
        &self,
        _: &Context,
        _: u64,
        _: u32,
        _: u64,
        _: bool,
        _: bool,
        _: Option<u64>,
    ) -> io::Result<()> {
        Ok(())
    }

    fn flush(&self, _: &Context, _: u64, _: u64, _: u64) -> io::Result<()> {
        Ok(())
    }

    fn setxattr(&self, _: &Context, _: u64, _: &CStr, value: &[u8], _: u32) -> io::Result<()> {
        if value.len() > 1024 {
            return err(libc::ENOSPC);
        }
        Ok(())
    }

    fn getxattr(&self, _: &Context, _: u64, name: &CStr, size: u32) -> io::Result<GetxattrReply> {
        if name.to_bytes().is_empty() {
            return err(libc::ENODATA);
        }
        if size == 0 {
            return Ok(GetxattrReply::Count(5));
        }
        Ok(GetxattrReply::Value(b"value".to_vec()))
    }

    fn listxattr(&self, _: &Context, _: u64, size: u32) -> io::Result<ListxattrReply> {
        if size == 0 {
            return Ok(ListxattrReply::Count(15));
        }
        Ok(ListxattrReply::Names(b"user.a\0user.bb\0".to_vec()))
    }

    fn opendir(&self, _: &Context, ino: u64, _: u32) -> io::Result<(Option<u64>, OpenOptions)> {
        Ok((Some(ino), OpenOptions::CACHE_DIR))
    }

    fn readdir(
        &self,
        _: &Context,
        _: u64,
        _: u64,
        _: u32,
        offset: u64,
        add: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.list(offset, &mut |d, _| add(d))
    }

    fn readdirplus(
        &self,
        _: &Context,
        _: u64,
        _: u64,
        _: u32,
        offset: u64,
        add: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.list(offset, add)
    }

    fn releasedir(&self, _: &Context, _: u64, _: u32, _: u64) -> io::Result<()> {
        Ok(())
    }

    fn access(&self, _: &Context, _: u64, mask: u32) -> io::Result<()> {
        if mask & libc::W_OK as u32 != 0 {
            return err(libc::EACCES);
        }
        Ok(())
    }

    fn getlk(
        &self,
        _: &Context,
        _: u64,
        _: u64,
        _: u64,
        lock: FileLock,
        _: u32,
    ) -> io::Result<FileLock> {
        Ok(lock)
    }

    fn setlk(&self, _: &Context, _: u64, _: u64, _: u64, _: FileLock, _: u32) -> io::Result<()> {
        Ok(())
    }

    fn interrupt(&self, _: &Context, unique: u64) -> io::Result<()> {
        if unique & 1 == 0 {
            Ok(())
        } else {
            err(libc::EAGAIN)
        }
    }

    fn bmap(&self, _: &Context, _: u64, block: u64, _: u32) -> io::Result<u64> {
        Ok(block)
    }

    fn ioctl_with_arg(
        &self,
        _: &Context,
        _: u64,
        _: u64,
        _: u32,
        cmd: u32,
        _: u64,
        data: &[u8],
        _: u32,
    ) -> io::Result<IoctlReply> {
        // Echo the input: longer than `out_size` exercises the EOVERFLOW path.
        Ok(IoctlReply {
            result: cmd as i32,
            data: data.to_vec(),
        })
    }

    fn poll(&self, _: &Context, _: u64, _: u64, _: u64, _: u32, events: u32) -> io::Result<u32> {
        Ok(events & libc::POLLIN as u32)
    }

    fn lseek(&self, _: &Context, _: u64, _: u64, offset: u64, whence: u32) -> io::Result<u64> {
        if whence > 4 {
            return err(libc::EINVAL);
        }
        Ok(offset)
    }

    fn copy_file_range(
        &self,
        _: &Context,
        _: u64,
        _: u64,
        _: u64,
        _: u64,
        _: u64,
        _: u64,
        len: u64,
        _: u64,
    ) -> io::Result<usize> {
        Ok(len.min(FILE_LEN as u64) as usize)
    }

    fn statx(
        &self,
        _: &Context,
        ino: u64,
        _: Option<u64>,
        _: u32,
        mask: u32,
    ) -> io::Result<(libc::statx, Duration)> {
        // SAFETY: `statx` is plain integers, for which all-zero bytes are valid.
        let mut st: libc::statx = unsafe { std::mem::zeroed() };
        st.stx_mask = mask & libc::STATX_BASIC_STATS;
        st.stx_ino = ino;
        Ok((st, Duration::from_secs(1)))
    }
}

/// INIT flags of the plain target: nothing that changes the request layout.
pub const PLAIN_FLAGS: u64 = FsOptions::ASYNC_READ.bits() | FsOptions::MAX_PAGES.bits();

/// INIT flags of the extension target.
pub const EXT_FLAGS: u64 = FsOptions::INIT_EXT.bits()
    | FsOptions::SETXATTR_EXT.bits()
    | FsOptions::CREATE_SUPP_GROUP.bits()
    | FsOptions::MAX_PAGES.bits();

fn initialized(flags: u64) -> Server<MemFs> {
    let server = Server::new(MemFs);
    reinit(&server, flags);
    server
}

/// Puts `server` back into its INITed state (after an INIT or DESTROY input).
pub fn reinit<F: FileSystem + Sync>(server: &Server<F>, flags: u64) {
    let (res, reply) = serve(server, &init_request(45, flags));
    res.expect("INIT failed");
    assert_eq!(reply.error(), 0);
}

/// The server of the plain target, built and INITed once.
pub fn plain_server() -> &'static Server<MemFs> {
    static SERVER: OnceLock<Server<MemFs>> = OnceLock::new();
    SERVER.get_or_init(|| initialized(PLAIN_FLAGS))
}

/// The server of the extension target, built and INITed once.
pub fn ext_server() -> &'static Server<MemFs> {
    static SERVER: OnceLock<Server<MemFs>> = OnceLock::new();
    SERVER.get_or_init(|| {
        let s = initialized(EXT_FLAGS);
        assert!(s.negotiated_options().1.contains(FsOptions::SETXATTR_EXT));
        s
    })
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Serves one input and checks the reply against the protocol:
/// - a reply's `len` is what `handle_message` reported and covers exactly the bytes;
/// - it answers the request's `unique`, with 0 or a negative errno (and then no body);
/// - FORGET, BATCH_FORGET and NOTIFY_REPLY are never answered, nor is anything
///   shorter than a request header.
///
/// INIT and DESTROY change the session; the server is put back into its INITed state
/// after them so every input starts from the same state.
pub fn fuzz_one<F: FileSystem + Sync>(server: &Server<F>, flags: u64, data: &[u8]) {
    let (res, reply) = serve(server, data);
    let opcode = u32_at(data, 4);
    if !reply.is_empty() {
        let h = reply.header();
        assert!(data.len() >= 40, "reply to a request without header");
        assert_eq!(h.len as usize, reply.bytes.len(), "header len != bytes");
        if let Ok(n) = res {
            assert_eq!(n, reply.bytes.len(), "returned len != reply");
        }
        let unique = u64::from_le_bytes(data[8..16].try_into().unwrap());
        assert_eq!(h.unique, unique, "reply to the wrong unique");
        assert!(h.error <= 0 && h.error > -4096, "bad errno {}", h.error);
        if h.error != 0 {
            assert_eq!(h.len, 16, "error reply with a body");
        }
        let silent = [Opcode::Forget, Opcode::BatchForget, Opcode::NotifyReply];
        assert!(
            !silent.iter().any(|&op| opcode == Some(op as u32)),
            "reply to a no-reply opcode {opcode:?}"
        );
    }
    if opcode == Some(Opcode::Init as u32) || opcode == Some(Opcode::Destroy as u32) {
        reinit(server, flags);
    }
}

/// One valid request per opcode (named by opcode), plus variants that reach deeper paths;
/// `ext` adds the layouts that only exist with SETXATTR_EXT and request extensions.
pub fn seed_requests(ext: bool) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for &op in Opcode::ALL {
        out.push((format!("{op:?}"), sample(op, ext)));
    }
    let rd = |op: Opcode, size, offset| {
        RequestBuilder::new(op, 1)
            .arg(ReadIn {
                size,
                offset,
                ..Default::default()
            })
            .build()
    };
    out.push(("ReaddirSmall".into(), rd(Opcode::Readdir, 60, 0)));
    out.push(("ReaddirplusOffset".into(), rd(Opcode::Readdirplus, 400, 2)));
    out.push(("Read64k".into(), rd(Opcode::Read, 65536, 100)));
    let getx = |size| {
        RequestBuilder::new(Opcode::Getxattr, 2)
            .arg(GetxattrIn { size, padding: 0 })
            .name("user.a")
            .build()
    };
    out.push(("GetxattrCount".into(), getx(0)));
    out.push(("GetxattrErange".into(), getx(2)));
    out.push((
        "IoctlEoverflow".into(),
        RequestBuilder::new(Opcode::Ioctl, 2)
            .arg(IoctlIn {
                in_size: 8,
                out_size: 4,
                ..Default::default()
            })
            .bytes(&[1; 8])
            .build(),
    ));
    out.push((
        "InterruptEagain".into(),
        RequestBuilder::new(Opcode::Interrupt, 0)
            .arg(InterruptIn { unique: 3 })
            .build(),
    ));
    if ext {
        for (name, op) in [("MknodSupp", Opcode::Mknod), ("CreateSupp", Opcode::Create)] {
            let b = RequestBuilder::new(op, 1).total_extlen(2);
            let b = if op == Opcode::Mknod {
                b.arg(MknodIn::default())
            } else {
                b.arg(CreateIn::default())
            };
            let b = b
                .name("f")
                .arg(ExtHeader {
                    size: 16,
                    type_: FUSE_EXT_GROUPS,
                })
                .arg(SuppGroups { nr_groups: 1 })
                .bytes(&4242u32.to_le_bytes());
            out.push((name.into(), b.build()));
        }
    }
    out
}

fn sample(op: Opcode, ext: bool) -> Vec<u8> {
    let b = RequestBuilder::new(op, 2).unique(0x100 + op as u64 * 2);
    let b = match op {
        Opcode::Init => return init_request(45, if ext { EXT_FLAGS } else { PLAIN_FLAGS }),
        Opcode::Lookup | Opcode::Unlink | Opcode::Rmdir | Opcode::Removexattr => b.name("file"),
        Opcode::Forget => b.arg(ForgetIn { nlookup: 1 }),
        Opcode::BatchForget => b
            .arg(BatchForgetIn { count: 2, dummy: 0 })
            .arg(ForgetOne {
                nodeid: 2,
                nlookup: 1,
            })
            .arg(ForgetOne {
                nodeid: 3,
                nlookup: 2,
            }),
        Opcode::Getattr => b.arg(GetattrIn::default()),
        Opcode::Setattr => b.arg(SetattrIn {
            valid: SetattrValid::SIZE.bits(),
            size: 100,
            ..Default::default()
        }),
        Opcode::Readlink | Opcode::Statfs | Opcode::Destroy => b,
        Opcode::NotifyReply => b.arg([0u64, 0, 4, 0, 0]).bytes(b"data"),
        Opcode::Symlink => b.name("link").name("file"),
        Opcode::Mknod => b.arg(MknodIn::default()).name("node"),
        Opcode::Mkdir => b.arg(MkdirIn::default()).name("d"),
        Opcode::Rename => b.arg(RenameIn { newdir: 1 }).name("file").name("new"),
        Opcode::Rename2 => b.arg(Rename2In::default()).name("file").name("new"),
        Opcode::Link => b.arg(LinkIn { oldnodeid: 2 }).name("hard"),
        Opcode::Open | Opcode::Opendir => b.arg(OpenIn::default()),
        Opcode::Read | Opcode::Readdir | Opcode::Readdirplus => b.arg(ReadIn {
            size: 4096,
            ..Default::default()
        }),
        Opcode::Write => b
            .arg(WriteIn {
                size: 5,
                ..Default::default()
            })
            .bytes(b"hello"),
        Opcode::Release | Opcode::Releasedir => b.arg(ReleaseIn::default()),
        Opcode::Fsync | Opcode::Fsyncdir => b.arg(FsyncIn::default()),
        Opcode::Setxattr if ext => b
            .arg(SetxattrInExt {
                size: 3,
                ..Default::default()
            })
            .name("user.a")
            .bytes(b"abc"),
        Opcode::Setxattr => b
            .arg(SetxattrIn { size: 3, flags: 0 })
            .name("user.a")
            .bytes(b"abc"),
        Opcode::Getxattr => b
            .arg(GetxattrIn {
                size: 64,
                padding: 0,
            })
            .name("user.a"),
        Opcode::Listxattr => b.arg(GetxattrIn {
            size: 64,
            padding: 0,
        }),
        Opcode::Flush => b.arg(FlushIn::default()),
        Opcode::Getlk | Opcode::Setlk | Opcode::Setlkw => b.arg(LkIn::default()),
        Opcode::Access => b.arg(AccessIn::default()),
        Opcode::Create | Opcode::Tmpfile => b.arg(CreateIn::default()).name("new"),
        Opcode::Interrupt => b.arg(InterruptIn { unique: 2 }),
        Opcode::Bmap => b.arg(BmapIn::default()),
        Opcode::Ioctl => b
            .arg(IoctlIn {
                in_size: 4,
                out_size: 16,
                ..Default::default()
            })
            .bytes(b"ioct"),
        Opcode::Poll => b.arg(PollIn::default()),
        Opcode::Fallocate => b.arg(FallocateIn::default()),
        Opcode::Lseek => b.arg(LseekIn::default()),
        Opcode::CopyFileRange | Opcode::CopyFileRange64 => b.arg(CopyFileRangeIn {
            len: 100,
            ..Default::default()
        }),
        Opcode::SetupMapping => b.arg(SetupmappingIn::default()),
        Opcode::RemoveMapping => b
            .arg(RemovemappingIn { count: 1 })
            .arg(RemovemappingOne::default()),
        Opcode::Syncfs => b.arg(SyncfsIn::default()),
        Opcode::Statx => b.arg(StatxIn::default()),
        Opcode::CuseInit => b.arg([7u32, 45, 0, 0]),
        // Names of reserved or unknown values, not operations: a bare header.
        Opcode::CuseInitBswapReserved | Opcode::InitBswapReserved | Opcode::MaxOpcode => b,
    };
    b.build()
}
