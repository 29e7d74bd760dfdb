//! The request server: decodes a FUSE request from a [`Reader`], calls the matching
//! [`FileSystem`] method, and encodes the reply into a [`Writer`].
//!
//! The same code serves `/dev/fuse` and virtio-fs: a transport hands over one request at a
//! time and many threads may call [`Server::handle_message`] at once (the server keeps no
//! lock on the request path; the negotiated protocol state is read through an `ArcSwap`).
//!
//! Every length in a request is checked against the bytes actually present before it is
//! used. A malformed request whose `unique` could be read is answered with an errno reply
//! (EINVAL, or ENOSYS for an unknown opcode) unless the protocol forbids a reply (FORGET,
//! BATCH_FORGET, NOTIFY_REPLY), and `handle_message` returns an [`Error`] saying what was
//! wrong. Nothing in a request can make the server panic or allocate more than the bytes the
//! request really carries.

use std::mem::size_of;
use std::sync::atomic::{AtomicBool, Ordering};

use arc_swap::ArcSwap;
use vm_memory::bitmap::BitmapSlice;

use crate::abi::fuse_abi::{FsOptions, InHeader, Opcode, OutHeader, KERNEL_MINOR_VERSION};
use crate::api::filesystem::{FileSystem, WaitTable};
use crate::buffer::{FsCacheReqHandler, Reader, Writer};
use crate::{errno_of, Error, InvalidRequest, Result};

mod context;
mod init;
mod notify;
mod ops_dir;
mod ops_entry;
mod ops_io;
mod ops_misc;
mod ops_xattr;
#[cfg(feature = "persist")]
mod persist;
mod validate;
pub use validate::{XATTR_LIST_MAX, XATTR_SIZE_MAX};

#[cfg(any(test, feature = "test-utils"))]
pub mod testing;
#[cfg(test)]
mod tests;

use context::SrvContext;

/// Buffer sizes: defined below the server, where the transports that size their buffers by
/// them can see them too.
pub use crate::buffer::{BUFFER_HEADER_SIZE, MAX_BUFFER_SIZE};
/// Maximum pages per request (MAX_BUFFER_SIZE / 4096).
pub const MAX_REQ_PAGES: u16 = 256;
/// Longest name or symlink target the server accepts in a request (PATH_MAX).
pub const MAX_NAME_LEN: usize = 4096;

/// Size of `struct fuse_in_header`.
const IN_HEADER_LEN: usize = size_of::<InHeader>();
/// Size of `struct fuse_out_header`.
const OUT_HEADER_LEN: usize = size_of::<OutHeader>();

/// Observes every request: `collect` before it is handled, `release` after the reply.
pub trait MetricsHook {
    /// Called with the request header before the request is dispatched.
    fn collect(&self, ih: &InHeader);
    /// Called with the reply header after the reply was sent (`None` when the request gets
    /// no reply).
    fn release(&self, oh: Option<&OutHeader>);
}

/// What INIT negotiated; read by every request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Negotiated {
    /// Protocol minor in use (min of the kernel's and ours).
    pub minor: u32,
    /// Options enabled for this session.
    pub flags: FsOptions,
    /// Largest WRITE payload the kernel may send.
    pub max_write: u32,
    /// Largest READ reply payload we accept to produce.
    pub max_read: u32,
}

impl Default for Negotiated {
    fn default() -> Self {
        Negotiated {
            minor: KERNEL_MINOR_VERSION,
            flags: FsOptions::empty(),
            max_write: MAX_BUFFER_SIZE,
            max_read: MAX_BUFFER_SIZE,
        }
    }
}

/// The FUSE request server for a [`FileSystem`].
pub struct Server<F: FileSystem + Sync> {
    fs: F,
    negotiated: ArcSwap<Negotiated>,
    initialized: AtomicBool,
    max_write: u32,
    /// Blocking lock requests answered later, for FUSE_INTERRUPT.
    waits: std::sync::Arc<WaitTable>,
}

impl<F: FileSystem + Sync> Server<F> {
    /// A server for `fs` that negotiates writes of up to [`MAX_BUFFER_SIZE`] bytes.
    pub fn new(fs: F) -> Server<F> {
        Server {
            fs,
            negotiated: ArcSwap::from_pointee(Negotiated::default()),
            initialized: AtomicBool::new(false),
            max_write: MAX_BUFFER_SIZE,
            waits: Default::default(),
        }
    }

    /// Limits the WRITE/READ payload size offered at INIT (at least 4096, at most
    /// [`MAX_BUFFER_SIZE`]); a transport with smaller buffers must call this before INIT.
    pub fn with_max_write(mut self, max_write: u32) -> Server<F> {
        self.max_write = max_write.clamp(4096, MAX_BUFFER_SIZE);
        self
    }

    /// The filesystem behind the server.
    pub fn fs(&self) -> &F {
        &self.fs
    }

    /// The protocol minor and options negotiated at INIT (defaults before INIT).
    pub fn negotiated_options(&self) -> (u32, FsOptions) {
        let n = self.negotiated.load();
        (n.minor, n.flags)
    }

    /// Serves one request from `r`, writing the reply (if any) to `w`.
    ///
    /// `vu_req` is the DAX window channel for virtio-fs (SETUPMAPPING/REMOVEMAPPING);
    /// `hook` observes the request. Returns the number of reply bytes written: 0 also for
    /// a request that is answered later, through the writer's late-reply sink (a blocking
    /// lock wait; see [`Writer::set_late_reply`]).
    ///
    /// # Errors
    /// A malformed request (after answering it where the protocol allows), or a reply that
    /// could not be written ([`Error::EncodeMessage`]: for `/dev/fuse`, ENODEV or EBADF mean
    /// the session is gone).
    pub fn handle_message<S: BitmapSlice>(
        &self,
        mut r: Reader<'_, S>,
        w: Writer<'_, S>,
        vu_req: Option<&mut dyn FsCacheReqHandler>,
        hook: Option<&dyn MetricsHook>,
    ) -> Result<usize> {
        let present = r.available_bytes();
        if present < IN_HEADER_LEN {
            // Without a header there is no `unique` to answer.
            log::debug!("request of {present} bytes is shorter than its header");
            return Err(Error::InvalidHeaderLength);
        }
        let h: InHeader = r.read_obj().map_err(Error::DecodeMessage)?;
        let mut ctx = SrvContext::new(h, r, w);
        if let Some(hook) = hook {
            hook.collect(&h);
        }
        let res = self.dispatch(&mut ctx, present, vu_req);
        if let Some(hook) = hook {
            hook.release(ctx.out_header());
        }
        res
    }

    fn dispatch<S: BitmapSlice>(
        &self,
        ctx: &mut SrvContext<'_, '_, S>,
        present: usize,
        vu_req: Option<&mut dyn FsCacheReqHandler>,
    ) -> Result<usize> {
        let h = ctx.header();
        log::debug!(
            "req unique={} opcode={} nodeid={} len={}",
            h.unique,
            h.opcode,
            h.nodeid,
            h.len
        );
        let len = h.len as usize;
        if len < IN_HEADER_LEN || len > present {
            log::debug!(
                "unique={}: header len {} outside 40..={present}",
                h.unique,
                h.len
            );
            return ctx.reject(libc::EINVAL, Error::InvalidHeaderLength);
        }
        // Ignore bytes beyond `len` (a transport buffer may be larger than the request).
        ctx.limit_body(len - IN_HEADER_LEN)?;
        let op = match Opcode::try_from_u32(h.opcode) {
            Ok(op) => op,
            Err(code) => {
                return ctx.reject(
                    libc::ENOSYS,
                    InvalidRequest::UnknownOpcode(code).into_error(),
                )
            }
        };
        if op != Opcode::Init && !self.initialized.load(Ordering::Acquire) {
            if matches!(op, Opcode::Forget | Opcode::BatchForget) {
                return Err(InvalidRequest::NotInitialized.into_error());
            }
            return ctx.reject(libc::EIO, InvalidRequest::NotInitialized.into_error());
        }
        let neg = **self.negotiated.load();
        ctx.set_negotiated(&neg);
        ctx.take_extensions()?;
        if let Err(e) = self.fs.id_remap(&mut ctx.ctx) {
            let ids = (ctx.ctx.uid, ctx.ctx.gid);
            log::debug!("unique={}: id_remap failed: {e}", h.unique);
            // FORGET and BATCH_FORGET get no reply here either (`noreply`).
            return ctx.reject(errno_of(&e), Error::FailedToRemapID(ids));
        }
        match op {
            Opcode::Init => self.init(ctx),
            Opcode::Lookup => self.lookup(ctx),
            Opcode::Forget => self.forget(ctx),
            Opcode::BatchForget => self.batch_forget(ctx),
            Opcode::Getattr => self.getattr(ctx),
            Opcode::Setattr => self.setattr(ctx),
            Opcode::Readlink => self.readlink(ctx),
            Opcode::Symlink => self.symlink(ctx),
            Opcode::Mknod => self.mknod(ctx),
            Opcode::Mkdir => self.mkdir(ctx),
            Opcode::Unlink => self.unlink(ctx),
            Opcode::Rmdir => self.rmdir(ctx),
            Opcode::Rename => self.rename(ctx, false),
            Opcode::Rename2 => self.rename(ctx, true),
            Opcode::Link => self.link(ctx),
            Opcode::Open => self.open(ctx),
            Opcode::Read => self.read(ctx),
            Opcode::Write => self.write(ctx),
            Opcode::Statfs => self.statfs(ctx),
            Opcode::Release => self.release(ctx),
            Opcode::Fsync => self.fsync(ctx, false),
            Opcode::Setxattr => self.setxattr(ctx, &neg),
            Opcode::Getxattr => self.getxattr(ctx),
            Opcode::Listxattr => self.listxattr(ctx),
            Opcode::Removexattr => self.removexattr(ctx),
            Opcode::Flush => self.flush(ctx),
            Opcode::Opendir => self.opendir(ctx),
            Opcode::Readdir => self.readdir(ctx, false),
            Opcode::Readdirplus => self.readdir(ctx, true),
            Opcode::Releasedir => self.releasedir(ctx),
            Opcode::Fsyncdir => self.fsync(ctx, true),
            Opcode::Getlk => self.getlk(ctx),
            Opcode::Setlk => self.setlk(ctx, false),
            Opcode::Setlkw => self.setlk(ctx, true),
            Opcode::Access => self.access(ctx),
            Opcode::Create => self.create(ctx),
            Opcode::Interrupt => self.interrupt(ctx),
            Opcode::Bmap => self.bmap(ctx),
            Opcode::Destroy => self.destroy(ctx),
            Opcode::Ioctl => self.ioctl(ctx),
            Opcode::Poll => self.poll(ctx),
            Opcode::NotifyReply => self.notify_reply(ctx),
            Opcode::Fallocate => self.fallocate(ctx),
            Opcode::Lseek => self.lseek(ctx),
            Opcode::CopyFileRange => self.copy_file_range(ctx, false),
            Opcode::CopyFileRange64 => self.copy_file_range(ctx, true),
            Opcode::SetupMapping => self.setupmapping(ctx, vu_req),
            Opcode::RemoveMapping => self.removemapping(ctx, vu_req),
            Opcode::Syncfs => self.syncfs(ctx),
            Opcode::Tmpfile => self.tmpfile(ctx),
            Opcode::Statx => self.statx(ctx),
            Opcode::CuseInit
            | Opcode::CuseInitBswapReserved
            | Opcode::InitBswapReserved
            | Opcode::MaxOpcode => ctx.reject(
                libc::ENOSYS,
                InvalidRequest::UnknownOpcode(h.opcode).into_error(),
            ),
        }
    }
}
