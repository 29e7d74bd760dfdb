//! Request server cost: decode + dispatch + encode of GETATTR, LOOKUP and a 4 KiB READ
//! through a filesystem that does no work.
//!
//! Run with `cargo bench --bench server --features test-utils`.
//!
//! The request and reply buffers are allocated once, outside the timed loop; each
//! iteration builds a `Reader` and a `Writer` over them and calls `handle_message`, as a
//! transport does for every request it receives.

use std::ffi::CStr;
use std::hint::black_box;
use std::io;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use fuse_backend_rs::abi::fuse_abi::{GetattrIn, Opcode, ReadIn, ROOT_ID};
use fuse_backend_rs::api::filesystem::{Context, Entry, FileSystem, ZeroCopyWriter};
use fuse_backend_rs::api::server::testing::{init_request, serve, RequestBuilder};
use fuse_backend_rs::api::server::{Server, MAX_BUFFER_SIZE};
use fuse_backend_rs::common::{FileReadWriteVolatile, FileVolatileSlice};
use fuse_backend_rs::transport::{FuseBuf, Reader, Writer};

/// Size of the in-memory file the READ benchmark serves from.
const FILE_LEN: usize = 64 * 1024;

/// The contents of that file.
static FILE_DATA: [u8; FILE_LEN] = {
    let mut d = [0u8; FILE_LEN];
    let mut i = 0;
    while i < FILE_LEN {
        d[i] = (i % 251) as u8;
        i += 1;
    }
    d
};

/// A read-only view of [`FILE_DATA`] that copies into the transport buffers the way
/// `preadv` would.
struct StaticFile;

impl FileReadWriteVolatile for StaticFile {
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
            // SAFETY: `b` describes `b.len()` writable bytes that stay valid while `bufs`
            // is borrowed (the `FileVolatileSlice` contract); `n <= b.len()`, the source
            // range `pos..pos + n` lies inside `FILE_DATA`, and a static cannot overlap
            // the transport's reply buffer.
            unsafe { std::ptr::copy_nonoverlapping(FILE_DATA.as_ptr().add(pos), b.as_ptr(), n) };
            pos += n;
            if pos == FILE_LEN {
                break;
            }
        }
        Ok(pos - start)
    }

    fn write_vectored_at_volatile(
        &mut self,
        _bufs: &[FileVolatileSlice],
        _offset: u64,
    ) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::EROFS))
    }
}

/// A filesystem whose operations do no work beyond producing their reply.
struct NoopFs {
    attr: libc::stat64,
}

impl NoopFs {
    fn new() -> NoopFs {
        let mut attr = Entry::default().attr;
        attr.st_ino = 2;
        attr.st_mode = libc::S_IFREG | 0o644;
        attr.st_nlink = 1;
        attr.st_size = FILE_LEN as i64;
        NoopFs { attr }
    }
}

impl FileSystem for NoopFs {
    type Inode = u64;
    type Handle = u64;

    fn lookup(&self, _ctx: &Context, _parent: u64, _name: &CStr) -> io::Result<Entry> {
        Ok(Entry {
            inode: 2,
            generation: 1,
            attr: self.attr,
            attr_flags: 0,
            attr_timeout: Duration::from_secs(1),
            entry_timeout: Duration::from_secs(1),
        })
    }

    fn getattr(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: Option<u64>,
    ) -> io::Result<(libc::stat64, Duration)> {
        Ok((self.attr, Duration::from_secs(1)))
    }

    fn read(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        _lock_owner: Option<u64>,
        _flags: u32,
    ) -> io::Result<usize> {
        w.write_from(&mut StaticFile, size as usize, offset)
    }
}

/// Benchmarks one request: `input` holds its bytes, the reply goes into `output`.
fn bench_request(c: &mut Criterion, name: &str, req: Vec<u8>, reply_len: usize) {
    let server = Server::new(NoopFs::new());
    let (res, reply) = serve(&server, &init_request(45, 0));
    res.expect("INIT");
    assert_eq!(reply.error(), 0);

    let mut input = req;
    let mut output = vec![0u8; MAX_BUFFER_SIZE as usize + 4096];
    // Check the request once, outside the timed loop.
    let (res, reply) = serve(&server, &input);
    assert_eq!(res.expect(name), reply_len);
    assert_eq!(reply.error(), 0);

    let mut group = c.benchmark_group("server");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter(|| {
            let r = Reader::from_fuse_buffer(FuseBuf::new(&mut input)).unwrap();
            let w = Writer::from_volatile_slices([FuseBuf::new(&mut output).into_volatile_slice()]);
            let n = server.handle_message(r, w, None, None).unwrap();
            black_box(n)
        })
    });
    group.finish();
}

fn getattr(c: &mut Criterion) {
    let req = RequestBuilder::new(Opcode::Getattr, 2)
        .arg(GetattrIn::default())
        .build();
    bench_request(c, "getattr", req, 16 + 104);
}

fn lookup(c: &mut Criterion) {
    let req = RequestBuilder::new(Opcode::Lookup, ROOT_ID)
        .name("file.txt")
        .build();
    bench_request(c, "lookup", req, 16 + 128);
}

fn read_4k(c: &mut Criterion) {
    let req = RequestBuilder::new(Opcode::Read, 2)
        .arg(ReadIn {
            fh: 1,
            offset: 8192,
            size: 4096,
            ..Default::default()
        })
        .build();
    bench_request(c, "read_4k", req, 16 + 4096);
}

criterion_group!(benches, getattr, lookup, read_4k);
criterion_main!(benches);
