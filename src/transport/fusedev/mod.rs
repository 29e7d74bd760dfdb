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
mod mount;
mod mountinfo;
mod session;

pub use channel::FuseChannel;
pub use session::{FuseSession, DEFAULT_BUSY_POLL};

/// The writer a [`FuseChannel`] hands out for the reply: it assembles the reply in the
/// channel's reply buffer and sends it to the channel's descriptor, in one `writev(2)`,
/// on [`Writer::commit`](crate::transport::Writer::commit).
///
/// It is the transport's plain [`Writer`](crate::transport::Writer), so `writer.into()`
/// (the identity conversion) gives the server what it takes.
pub type FuseDevWriter<'a, S = ()> = crate::transport::Writer<'a, S>;

/// Size of `struct fuse_in_header`, which starts every request the kernel sends.
const IN_HEADER_SIZE: usize = std::mem::size_of::<crate::abi::fuse_abi::InHeader>();
