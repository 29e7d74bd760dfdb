//! Protocol tests: request bytes in, reply bytes out.
//!
//! Every test builds a request by hand (the `RequestBuilder` of `testing.rs` or raw
//! little-endian bytes), runs it through a [`Server`] over [`RecFs`] (a filesystem that
//! records each call and answers with canned data), and checks both what the filesystem
//! saw and the exact bytes of the reply.
//!
//! - `recfs.rs`: the recording filesystem and its fixtures.
//! - `entry.rs`, `io.rs`, `dir.rs`, `xattr.rs`, `misc.rs`: one test per opcode.
//! - `init.rs`: INIT negotiation and request extensions.
//! - `notify.rs`: notifications.
//! - `lock_wait.rs`: SETLKW answered late, and FUSE_INTERRUPT of it.
//! - `defaults.rs`: the default `FileSystem` answers ENOSYS; requests before INIT.
//! - `malformed.rs`: malformed requests.

use std::sync::Mutex;

use vm_memory::{ByteValued, VolatileSlice};

use super::{MetricsHook, Server, MAX_BUFFER_SIZE};
use crate::abi::fuse_abi::{
    AccessIn, BatchForgetIn, BmapIn, CopyFileRangeIn, CreateIn, FallocateIn, FileLock, FlushIn,
    ForgetIn, ForgetOne, FsOptions, FsyncIn, GetattrIn, GetxattrIn, InHeader, InterruptIn, IoctlIn,
    LinkIn, LkIn, LseekIn, MkdirIn, MknodIn, Opcode, OpenIn, OutHeader, PollIn, ReadIn, ReleaseIn,
    Rename2In, RenameIn, SetattrIn, SetxattrIn, SetxattrInExt, StatxIn, SyncfsIn, WriteIn,
};
use crate::abi::virtio_fs::{RemovemappingIn, RemovemappingOne, SetupmappingIn};
use crate::api::filesystem::FileSystem;
use crate::api::server::testing::{init_request, Reply, RequestBuilder};
use crate::buffer::{FsCacheReqHandler, FuseBuf, Reader, Writer};

mod defaults;
mod dir;
mod entry;
mod init;
mod io;
mod lock_wait;
mod malformed;
mod misc;
mod notify;
#[cfg(feature = "persist")]
mod persist;
mod recfs;
mod xattr;

pub(super) use recfs::{Call, RecFs};

/// A `unique` with a distinct byte in every position, so byte order mistakes show.
pub(super) const UNIQUE: u64 = 0x0102_0304_0506_0708;

/// The byte the reply buffer is filled with before a request, to catch bytes the server
/// leaves unwritten (padding) or writes beyond the reply.
const FILL: u8 = 0xAA;

/// Size of the reply buffer handed to the server (what a transport would offer).
pub(super) const REPLY_BUF_LEN: usize = MAX_BUFFER_SIZE as usize + 4096;

/// Records the reply header the server reports through the metrics hook.
#[derive(Default)]
struct HookLog {
    collected: Mutex<Vec<InHeader>>,
    released: Mutex<Vec<Option<OutHeader>>>,
}

impl MetricsHook for HookLog {
    fn collect(&self, ih: &InHeader) {
        self.collected.lock().unwrap().push(*ih);
    }

    fn release(&self, oh: Option<&OutHeader>) {
        self.released.lock().unwrap().push(oh.copied());
    }
}

/// Serves `req` with an optional DAX channel, over a reply buffer pre-filled with
/// [`FILL`]. Checks that the server wrote nothing beyond the reply it reports, and that
/// the reply's `len` matches what `handle_message` returned.
pub(super) fn run_with<F: FileSystem + Sync>(
    server: &Server<F>,
    req: &[u8],
    vu: Option<&mut dyn FsCacheReqHandler>,
) -> (crate::Result<usize>, Reply) {
    let mut input = req.to_vec();
    let mut output = vec![FILL; REPLY_BUF_LEN];
    let hook = HookLog::default();
    let res = {
        let r = Reader::from_fuse_buffer(FuseBuf::new(&mut input)).unwrap();
        let slice: VolatileSlice<'_, ()> = FuseBuf::new(&mut output).into_volatile_slice();
        let w = Writer::from_volatile_slices([slice]);
        server.handle_message(r, w, vu, Some(&hook))
    };
    let released = hook.released.into_inner().unwrap();
    let collected = hook.collected.into_inner().unwrap();
    // The hook sees every request that had a header, exactly once.
    if req.len() >= std::mem::size_of::<InHeader>() {
        assert_eq!(collected.len(), 1);
        assert_eq!(released.len(), 1);
        assert_eq!(collected[0].as_slice(), &req[..40]);
    } else {
        assert!(collected.is_empty() && released.is_empty());
    }
    let len = match released.first().copied().flatten() {
        Some(oh) => {
            assert_eq!(oh.as_slice(), &output[..16], "hook and bytes disagree");
            if let Ok(n) = &res {
                assert_eq!(*n, oh.len as usize, "returned length != header len");
            }
            oh.len as usize
        }
        None => {
            if let Ok(n) = &res {
                assert_eq!(*n, 0, "no reply but {n} bytes reported");
            }
            0
        }
    };
    assert!(
        output[len..].iter().all(|&b| b == FILL),
        "server wrote beyond its {len}-byte reply"
    );
    output.truncate(len);
    (res, Reply { bytes: output })
}

/// Serves `req` without a DAX channel.
pub(super) fn run<F: FileSystem + Sync>(
    server: &Server<F>,
    req: &[u8],
) -> (crate::Result<usize>, Reply) {
    run_with(server, req, None)
}

/// A server over [`RecFs`] after an INIT at 7.45 where the kernel offers `offered` and
/// the filesystem wants `wanted`; the INIT call is cleared from the log.
pub(super) fn server_with(offered: FsOptions, wanted: FsOptions) -> Server<RecFs> {
    let server = Server::new(RecFs::new(wanted));
    let (res, reply) = run(&server, &init_request(45, offered.bits()));
    res.unwrap();
    assert_eq!(reply.error(), 0);
    server.fs().take_calls();
    server
}

/// A server over [`RecFs`] after a plain INIT (INIT_EXT and SETXATTR_EXT not negotiated).
pub(super) fn server() -> Server<RecFs> {
    server_with(FsOptions::ASYNC_READ, FsOptions::empty())
}

/// The bytes of a successful reply to `unique` carrying `body`.
pub(super) fn ok_bytes(unique: u64, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(16 + body.len() as u32).to_le_bytes());
    v.extend_from_slice(&0i32.to_le_bytes());
    v.extend_from_slice(&unique.to_le_bytes());
    v.extend_from_slice(body);
    v
}

/// The bytes of an error reply to `unique`.
pub(super) fn err_bytes(unique: u64, errno: i32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&(-errno).to_le_bytes());
    v.extend_from_slice(&unique.to_le_bytes());
    v
}

/// Checks a successful reply: `handle_message` returned its length and the bytes are
/// exactly the header followed by `body`.
#[track_caller]
pub(super) fn assert_ok(res: crate::Result<usize>, reply: &Reply, unique: u64, body: &[u8]) {
    let expected = ok_bytes(unique, body);
    assert_eq!(res.unwrap(), expected.len());
    assert_eq!(reply.bytes, expected);
}

/// Checks an errno reply that `handle_message` reports as `Ok` (the driver's error).
#[track_caller]
pub(super) fn assert_errno(res: crate::Result<usize>, reply: &Reply, unique: u64, errno: i32) {
    assert_eq!(res.unwrap(), 16);
    assert_eq!(reply.bytes, err_bytes(unique, errno));
}

/// Checks an errno reply to a malformed request; returns the `Error` for the caller to
/// match.
#[track_caller]
pub(super) fn assert_rejected(
    res: crate::Result<usize>,
    reply: &Reply,
    unique: u64,
    errno: i32,
) -> crate::Error {
    assert_eq!(reply.bytes, err_bytes(unique, errno));
    res.expect_err("a malformed request must come back as an Err")
}

/// Concatenates the bytes of plain-data values.
pub(super) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A request header written field by field in little-endian, independent of `InHeader`.
#[allow(clippy::too_many_arguments)]
pub(super) fn raw_header(
    len: u32,
    opcode: u32,
    unique: u64,
    nodeid: u64,
    uid: u32,
    gid: u32,
    pid: u32,
    total_extlen: u16,
) -> Vec<u8> {
    let mut v = Vec::with_capacity(40);
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(&opcode.to_le_bytes());
    v.extend_from_slice(&unique.to_le_bytes());
    v.extend_from_slice(&nodeid.to_le_bytes());
    v.extend_from_slice(&uid.to_le_bytes());
    v.extend_from_slice(&gid.to_le_bytes());
    v.extend_from_slice(&pid.to_le_bytes());
    v.extend_from_slice(&total_extlen.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v
}

/// A request builder for `op` on `nodeid` with [`UNIQUE`].
pub(super) fn req(op: Opcode, nodeid: u64) -> RequestBuilder {
    RequestBuilder::new(op, nodeid).unique(UNIQUE)
}

/// One well-formed request per opcode (the body a kernel would send), for the tests that
/// sweep every opcode.
pub(super) fn sample_request(op: Opcode) -> Vec<u8> {
    let b = req(op, 5);
    let b = match op {
        Opcode::Init => return init_request(45, 0),
        Opcode::Lookup | Opcode::Unlink | Opcode::Rmdir | Opcode::Removexattr => b.name("n"),
        Opcode::Forget => b.arg(ForgetIn { nlookup: 1 }),
        Opcode::BatchForget => b.arg(BatchForgetIn { count: 1, dummy: 0 }).arg(ForgetOne {
            nodeid: 5,
            nlookup: 1,
        }),
        Opcode::Getattr => b.arg(GetattrIn::default()),
        Opcode::Setattr => b.arg(SetattrIn::default()),
        Opcode::Readlink | Opcode::Statfs | Opcode::Destroy => b,
        // fuse_notify_retrieve_in (offset 0, size 4) and the 4 bytes.
        Opcode::NotifyReply => b.arg([0u64, 0, 4, 0, 0]).bytes(b"data"),
        Opcode::Symlink => b.name("n").name("target"),
        Opcode::Mknod => b.arg(MknodIn::default()).name("n"),
        Opcode::Mkdir => b.arg(MkdirIn::default()).name("n"),
        Opcode::Rename => b.arg(RenameIn { newdir: 1 }).name("a").name("b"),
        Opcode::Rename2 => b.arg(Rename2In::default()).name("a").name("b"),
        Opcode::Link => b.arg(LinkIn { oldnodeid: 6 }).name("n"),
        Opcode::Open | Opcode::Opendir => b.arg(OpenIn::default()),
        Opcode::Read | Opcode::Readdir | Opcode::Readdirplus => b.arg(ReadIn {
            size: 4096,
            ..Default::default()
        }),
        Opcode::Write => b
            .arg(WriteIn {
                size: 3,
                ..Default::default()
            })
            .bytes(b"abc"),
        Opcode::Release | Opcode::Releasedir => b.arg(ReleaseIn::default()),
        Opcode::Fsync | Opcode::Fsyncdir => b.arg(FsyncIn::default()),
        Opcode::Setxattr => b
            .arg(SetxattrIn { size: 1, flags: 0 })
            .name("user.a")
            .bytes(b"v"),
        Opcode::Getxattr => b.arg(GetxattrIn::default()).name("user.a"),
        Opcode::Listxattr => b.arg(GetxattrIn::default()),
        Opcode::Flush => b.arg(FlushIn::default()),
        Opcode::Getlk | Opcode::Setlk | Opcode::Setlkw => b.arg(LkIn::default()),
        Opcode::Access => b.arg(AccessIn::default()),
        Opcode::Create | Opcode::Tmpfile => b.arg(CreateIn::default()).name("n"),
        Opcode::Interrupt => b.arg(InterruptIn { unique: 99 }),
        Opcode::Bmap => b.arg(BmapIn::default()),
        Opcode::Ioctl => b.arg(IoctlIn::default()),
        Opcode::Poll => b.arg(PollIn::default()),
        Opcode::Fallocate => b.arg(FallocateIn::default()),
        Opcode::Lseek => b.arg(LseekIn::default()),
        Opcode::CopyFileRange | Opcode::CopyFileRange64 => b.arg(CopyFileRangeIn::default()),
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

#[test]
fn sample_requests_are_well_formed() {
    for &op in Opcode::ALL {
        let r = sample_request(op);
        assert_eq!(
            u32::from_le_bytes(r[..4].try_into().unwrap()) as usize,
            r.len()
        );
        assert_eq!(u32::from_le_bytes(r[4..8].try_into().unwrap()), op as u32);
    }
}

#[test]
fn metrics_hook_sees_request_and_reply() {
    let s = server();
    let hook = HookLog::default();
    let mut input = req(Opcode::Statfs, 1).build();
    let mut output = vec![0u8; 4096];
    let r = Reader::from_fuse_buffer(FuseBuf::new(&mut input)).unwrap();
    let w = Writer::from_volatile_slices([FuseBuf::new(&mut output).into_volatile_slice()]);
    let n = s.handle_message(r, w, None, Some(&hook)).unwrap();
    assert_eq!(n, 16 + 80);
    let collected = hook.collected.lock().unwrap();
    assert_eq!(collected[0].opcode, Opcode::Statfs as u32);
    let released = hook.released.lock().unwrap();
    let oh = released[0].unwrap();
    assert_eq!((oh.len, oh.error, oh.unique), (96, 0, UNIQUE));
}
