//! The `/dev/fuse` transport: mount a filesystem and serve the kernel's requests.
//!
//! A [`FuseSession`] owns one FUSE connection: it mounts the mount point (with
//! `mount(2)` when the process may, through the setuid helper `fusermount3` when it may
//! not), keeps the session's `/dev/fuse` descriptor and unmounts again on
//! [`FuseSession::umount`] or drop.
//!
//! Requests are served through [`FuseChannel`]s, one per service thread. Each channel
//! has its own descriptor cloned from the session's (`FUSE_DEV_IOC_CLONE`), so threads
//! never share a file position or a lock, and its own request and reply buffers,
//! allocated once when the channel is made: the request path allocates nothing.
//!
//! ```text
//!   FuseSession ── mount / umount / wake / with_writer (notifications)
//!        │ new_channel()                 (one per thread)
//!        ├── FuseChannel ── get_request() -> (Reader, FuseDevWriter) -> Server
//!        └── FuseChannel ── ...
//! ```
//!
//! Shutting down: [`FuseSession::umount`] detaches the mount; once nothing uses it any
//! more the kernel ends the connection and every channel's `get_request` returns
//! `Ok(None)`. [`FuseSession::wake`] makes every channel return `Ok(None)` at once,
//! whether the connection has ended or not (a lazily detached mount may stay busy).

mod busy_poll;
mod channel;
mod mntns;
mod mount;
mod mountinfo;
mod session;
mod writer;

use std::fs::File;

pub use channel::FuseChannel;
pub use session::{FuseSession, DEFAULT_BUSY_POLL};
pub use writer::FuseDevWriter;

use crate::buffer::Error;

/// Size of `struct fuse_in_header`, which starts every request the kernel sends.
const IN_HEADER_SIZE: usize = std::mem::size_of::<crate::abi::fuse_abi::InHeader>();

/// What a session offers for writing messages outside a request: notifications.
///
/// The trait of fuse-backend-rs 0.14, implemented by [`FuseSession`] (whose versions
/// reuse one buffer instead of allocating one per call).
pub trait FuseSessionExt {
    /// The session's `/dev/fuse` file, while connected.
    fn file(&self) -> Option<&File>;

    /// The size of a message buffer.
    fn bufsize(&self) -> usize;

    /// Calls `f` with a writer (in direct mode: see [`FuseDevWriter`]) on the session's
    /// descriptor; when the session is not connected, `f` is not called.
    fn with_writer<F>(&mut self, f: F)
    where
        F: FnOnce(FuseDevWriter),
    {
        // The error only says that there was no session to write to.
        let _ = self.try_with_writer(|w| {
            f(w);
            Ok::<(), Error>(())
        });
    }

    /// Calls `f` with a writer (in direct mode: see [`FuseDevWriter`]) on the session's
    /// descriptor and returns what `f` returns.
    ///
    /// # Errors
    /// [`Error::SessionFailure`] (converted into `E`) when the session is not connected;
    /// otherwise `f`'s.
    fn try_with_writer<F, R, E>(&mut self, f: F) -> std::result::Result<R, E>
    where
        F: FnOnce(FuseDevWriter) -> std::result::Result<R, E>,
        E: From<Error>,
    {
        let Some(file) = self.file() else {
            return Err(Error::SessionFailure("the fuse session is not mounted".into()).into());
        };
        let fd = std::os::fd::AsRawFd::as_raw_fd(file);
        let mut buf = vec![0u8; self.bufsize()];
        let res = f(FuseDevWriter::new(fd, &mut buf)?);
        res
    }
}
