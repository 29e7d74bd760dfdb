//! Helpers to drive a [`Server`] with hand-built request bytes, for protocol tests, fuzzing
//! and benchmarks (feature `test-utils`).
//!
//! ```
//! use fuse_backend_rs::abi::fuse_abi::{Opcode, ROOT_ID};
//! use fuse_backend_rs::api::filesystem::FileSystem;
//! use fuse_backend_rs::api::server::testing::{init_request, serve, RequestBuilder};
//! use fuse_backend_rs::api::server::Server;
//!
//! struct Empty;
//! impl FileSystem for Empty {
//!     type Inode = u64;
//!     type Handle = u64;
//! }
//! let server = Server::new(Empty);
//! serve(&server, &init_request(45, 0)).0.unwrap();
//! let req = RequestBuilder::new(Opcode::Lookup, ROOT_ID).name("x").build();
//! let (_, reply) = serve(&server, &req);
//! assert_eq!(reply.error(), -libc::ENOSYS);
//! ```

use vm_memory::{ByteValued, VolatileSlice};

use super::{Server, MAX_BUFFER_SIZE};
use crate::abi::fuse_abi::{InHeader, InitIn, InitIn2, Opcode, OutHeader, KERNEL_VERSION};
use crate::api::filesystem::FileSystem;
use crate::buffer::{FuseBuf, Reader, Writer};

/// Builds the bytes of one request.
#[derive(Clone, Debug)]
pub struct RequestBuilder {
    header: InHeader,
    body: Vec<u8>,
    len: Option<u32>,
}

impl RequestBuilder {
    /// A request for `opcode` on `nodeid`, unique 1, uid/gid/pid 0.
    pub fn new(opcode: impl Into<u32>, nodeid: u64) -> Self {
        RequestBuilder {
            header: InHeader {
                opcode: opcode.into(),
                nodeid,
                unique: 1,
                ..Default::default()
            },
            body: Vec::new(),
            len: None,
        }
    }

    /// Sets the request's `unique`.
    pub fn unique(mut self, unique: u64) -> Self {
        self.header.unique = unique;
        self
    }

    /// Sets the caller's uid, gid and pid.
    pub fn caller(mut self, uid: u32, gid: u32, pid: u32) -> Self {
        self.header.uid = uid;
        self.header.gid = gid;
        self.header.pid = pid;
        self
    }

    /// Sets `total_extlen` (in 8-byte units).
    pub fn total_extlen(mut self, n: u16) -> Self {
        self.header.set_total_extlen(n);
        self
    }

    /// Appends a plain-data struct to the body.
    pub fn arg<T: ByteValued>(mut self, v: T) -> Self {
        self.body.extend_from_slice(v.as_slice());
        self
    }

    /// Appends raw bytes to the body.
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.body.extend_from_slice(b);
        self
    }

    /// Appends a name and its NUL.
    pub fn name(mut self, n: &str) -> Self {
        self.body.extend_from_slice(n.as_bytes());
        self.body.push(0);
        self
    }

    /// Overrides the header's `len` (default: the real length).
    pub fn len(mut self, len: u32) -> Self {
        self.len = Some(len);
        self
    }

    /// The request bytes.
    pub fn build(mut self) -> Vec<u8> {
        let real = (std::mem::size_of::<InHeader>() + self.body.len()) as u32;
        self.header.len = self.len.unwrap_or(real);
        let mut out = self.header.as_slice().to_vec();
        out.extend_from_slice(&self.body);
        out
    }
}

/// An INIT request offering protocol 7.`minor` and the INIT flags `flags` (flags2 in the
/// high 32 bits; INIT_EXT must be set in `flags` for them to count).
pub fn init_request(minor: u32, flags: u64) -> Vec<u8> {
    let init = InitIn {
        major: KERNEL_VERSION,
        minor,
        max_readahead: 131072,
        flags: flags as u32,
    };
    let ext = InitIn2 {
        flags2: (flags >> 32) as u32,
        unused: [0; 11],
    };
    RequestBuilder::new(Opcode::Init, 0)
        .arg(init)
        .arg(ext)
        .build()
}

/// The bytes a server wrote in reply to one request (empty when it sent none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// Everything written: header and body.
    pub bytes: Vec<u8>,
}

impl Reply {
    /// Whether a reply was sent at all.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The reply header (zeroed when there was no reply).
    pub fn header(&self) -> OutHeader {
        let mut h = OutHeader::default();
        let n = self.bytes.len().min(std::mem::size_of::<OutHeader>());
        h.as_mut_slice()[..n].copy_from_slice(&self.bytes[..n]);
        h
    }

    /// The header's `error` field (0 for success).
    pub fn error(&self) -> i32 {
        self.header().error
    }

    /// The body after the header.
    pub fn body(&self) -> &[u8] {
        self.bytes
            .get(std::mem::size_of::<OutHeader>()..)
            .unwrap_or(&[])
    }

    /// The body read as a `T` (a copy; `None` when the body is shorter).
    pub fn body_as<T: ByteValued + Default>(&self) -> Option<T> {
        let b = self.body();
        let mut v = T::default();
        let n = std::mem::size_of::<T>();
        if b.len() < n {
            return None;
        }
        v.as_mut_slice().copy_from_slice(&b[..n]);
        Some(v)
    }
}

/// Serves `req` on `server` with a reply buffer of `MAX_BUFFER_SIZE` + 4 KiB, returning
/// `handle_message`'s result and what it wrote.
pub fn serve<F: FileSystem + Sync>(
    server: &Server<F>,
    req: &[u8],
) -> (crate::Result<usize>, Reply) {
    let mut input = req.to_vec();
    let mut output = vec![0u8; MAX_BUFFER_SIZE as usize + 4096];
    let (res, written) = {
        let r = Reader::from_fuse_buffer(FuseBuf::new(&mut input));
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                let e = std::io::Error::new(std::io::ErrorKind::InvalidData, e);
                return (Err(crate::Error::DecodeMessage(e)), Reply::default());
            }
        };
        let slice: VolatileSlice<'_, ()> = FuseBuf::new(&mut output).into_volatile_slice();
        let w = Writer::from_volatile_slices([slice]);
        let res = server.handle_message(r, w, None, None);
        let written = match &res {
            Ok(n) => *n,
            Err(_) => {
                let mut h = OutHeader::default();
                h.as_mut_slice()
                    .copy_from_slice(&output[..std::mem::size_of::<OutHeader>()]);
                (h.len as usize).min(output.len())
            }
        };
        (res, written)
    };
    output.truncate(written);
    (res, Reply { bytes: output })
}
