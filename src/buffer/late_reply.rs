//! Replies sent after the request's serving thread has moved on.
//!
//! A request that must wait a long time (a blocking lock, FUSE_SETLKW) should not keep a
//! service thread: with N waiters N threads would be stuck and the request that ends the
//! wait (the holder's unlock) could never be served. The server instead takes a
//! [`ReplySink`] from the request's [`Writer`](super::Writer) and answers through it later,
//! from whatever thread finishes the wait.
//!
//! - `/dev/fuse`: every writer can give one. The reply has to go back through the device
//!   descriptor the request was read from (each cloned descriptor has its own queue of
//!   requests being processed), so the sink owns a duplicate of that descriptor.
//! - virtio-fs: the queue's owner knows how to complete a descriptor chain later (write
//!   the reply into guest memory, add it to the used ring, notify the guest), so it
//!   attaches a sink with [`Writer::set_late_reply`](super::Writer::set_late_reply). A
//!   writer without one makes the server wait on the serving thread, as before.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Where a reply goes when it is sent after `handle_message` returned.
pub trait ReplySink: Send {
    /// Sends `reply`, a whole FUSE reply (`fuse_out_header` and body), and completes the
    /// request.
    ///
    /// # Errors
    /// The transport's error; the request is then lost to the client (as when the session
    /// is gone).
    fn send(self: Box<Self>, reply: &[u8]) -> io::Result<()>;

    /// Whether nobody waits for the reply any more (the connection ended), so a long wait
    /// for it may be abandoned.
    fn is_closed(&self) -> bool {
        false
    }
}

/// The late reply of a `/dev/fuse` request: a duplicate of the descriptor it came from.
pub(crate) struct FuseDevLateReply {
    fd: OwnedFd,
}

impl FuseDevLateReply {
    pub(crate) fn new(fd: OwnedFd) -> Self {
        FuseDevLateReply { fd }
    }
}

impl ReplySink for FuseDevLateReply {
    fn send(self: Box<Self>, reply: &[u8]) -> io::Result<()> {
        match nix::unistd::write(self.fd.as_fd(), reply) {
            Ok(_) => Ok(()),
            // The kernel no longer waits for this reply (interrupted or aborted).
            Err(nix::errno::Errno::ENOENT) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn is_closed(&self) -> bool {
        // The device reports POLLERR once the connection is gone (unmounted or aborted).
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        // SAFETY: `pfd` is one initialised pollfd that outlives the call; timeout 0 means
        // the call only reports and never blocks.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n > 0 && pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0
    }
}
