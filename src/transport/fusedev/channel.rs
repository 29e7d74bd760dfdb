//! [`FuseChannel`]: one service thread's view of a FUSE connection.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use log::{debug, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;

use super::{FuseDevWriter, IN_HEADER_SIZE};
use crate::transport::{Error, FuseBuf, Reader, Result, Writer};

const DEV_TOKEN: Token = Token(0);
const WAKE_TOKEN: Token = Token(1);

/// The session's shutdown signal, shared by all its channels.
///
/// An eventfd that [`WakeSignal::wake`] writes once and nobody drains: every channel
/// polls it, so every channel sees it, including channels made later. The flag lets a
/// busy channel notice the signal between requests without a system call.
#[derive(Debug)]
pub(super) struct WakeSignal {
    fd: OwnedFd,
    woken: AtomicBool,
}

impl WakeSignal {
    pub(super) fn new() -> io::Result<WakeSignal> {
        // SAFETY: eventfd takes no pointers; a non-negative return is a new descriptor.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(WakeSignal {
            // SAFETY: `raw` was just returned by eventfd and is owned by nobody else.
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
            woken: AtomicBool::new(false),
        })
    }

    /// Wakes every channel, now and later. Calling it again is harmless.
    pub(super) fn wake(&self) -> io::Result<()> {
        self.woken.store(true, Ordering::SeqCst);
        match nix::unistd::write(&self.fd, &1u64.to_ne_bytes()) {
            // EAGAIN: the counter is full, so the eventfd is readable anyway.
            Ok(_) | Err(Errno::EAGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn is_woken(&self) -> bool {
        self.woken.load(Ordering::SeqCst)
    }
}

/// A FUSE request channel: a descriptor on the session's connection plus the buffers to
/// read one request and build its reply. Make one per service thread with
/// [`FuseSession::new_channel`](super::FuseSession::new_channel).
///
/// The buffers are allocated once, when the channel is made, each as large as the
/// session's [`bufsize`](super::FuseSession::bufsize).
pub struct FuseChannel {
    file: File,
    wake: Arc<WakeSignal>,
    poll: Poll,
    events: Events,
    req_buf: Vec<u8>,
    reply_buf: Vec<u8>,
}

impl FuseChannel {
    /// A channel reading requests from `file` (which must be non-blocking).
    pub(super) fn new(file: File, wake: Arc<WakeSignal>, bufsize: usize) -> Result<FuseChannel> {
        let poll = Poll::new().map_err(Error::Io)?;
        poll.registry()
            .register(
                &mut SourceFd(&file.as_raw_fd()),
                DEV_TOKEN,
                Interest::READABLE,
            )
            .map_err(Error::Io)?;
        poll.registry()
            .register(
                &mut SourceFd(&wake.fd.as_raw_fd()),
                WAKE_TOKEN,
                Interest::READABLE,
            )
            .map_err(Error::Io)?;
        Ok(FuseChannel {
            file,
            wake,
            poll,
            events: Events::with_capacity(4),
            req_buf: vec![0u8; bufsize],
            reply_buf: vec![0u8; bufsize],
        })
    }

    /// Waits for the next request.
    ///
    /// Returns:
    /// - `Ok(Some((reader, writer)))`: `reader` holds one whole request; `writer` builds
    ///   its reply, sent on [`Writer::commit`]. Both borrow the channel's buffers, so the
    ///   request must be handled before the next call.
    /// - `Ok(None)`: the session was woken ([`FuseSession::wake`](super::FuseSession::wake))
    ///   or the connection ended (the filesystem was unmounted, or the connection aborted
    ///   through `/sys/fs/fuse/connections`): the thread should stop. Once woken, every
    ///   later call returns `Ok(None)` at once.
    /// - `Err(_)`: reading the device failed.
    ///
    /// Transient conditions are retried inside: EINTR, EAGAIN (another channel took the
    /// request), ENOENT (the request was interrupted before it was read), and a read
    /// shorter than a request header.
    pub fn get_request(&mut self) -> Result<Option<(Reader<'_>, FuseDevWriter<'_>)>> {
        // Read first and poll only when the device is empty: mio's epoll registration is
        // edge-triggered, so polling first could sleep on requests already queued.
        let len = loop {
            if self.wake.is_woken() {
                return Ok(None);
            }
            match nix::unistd::read(&self.file, &mut self.req_buf) {
                Ok(0) => {
                    debug!("fuse device fd {} reached end of file", self.as_raw_fd());
                    return Ok(None);
                }
                Ok(n) if n < IN_HEADER_SIZE => {
                    warn!("dropping {n}-byte read from the fuse device: shorter than a header");
                }
                Ok(n) => break n,
                Err(Errno::EINTR) | Err(Errno::ENOENT) => {}
                Err(Errno::EAGAIN) => {
                    if self.wait_readable()? {
                        return Ok(None);
                    }
                }
                // ENODEV: unmounted; ECONNABORTED: aborted through fusectl.
                Err(e @ (Errno::ENODEV | Errno::ECONNABORTED)) => {
                    debug!("fuse connection ended (fd {}): {e}", self.as_raw_fd());
                    return Ok(None);
                }
                Err(e) => return Err(Error::Io(e.into())),
            }
        };
        let reader = Reader::from_fuse_buffer(FuseBuf::new(&mut self.req_buf[..len]))?;
        let writer = Writer::new_fusedev(self.file.as_fd(), FuseBuf::new(&mut self.reply_buf));
        Ok(Some((reader, writer)))
    }

    /// Blocks until the device may be readable (`Ok(false)`) or the session was woken
    /// (`Ok(true)`).
    fn wait_readable(&mut self) -> Result<bool> {
        loop {
            match self.poll.poll(&mut self.events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Io(e)),
            }
            let mut readable = false;
            for event in self.events.iter() {
                match event.token() {
                    WAKE_TOKEN => return Ok(true),
                    // Errors and hang-ups count too: the read that follows reports them.
                    DEV_TOKEN => readable = true,
                    _ => {}
                }
            }
            if readable {
                return Ok(false);
            }
        }
    }

    /// The channel's descriptor.
    pub fn get_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsFd for FuseChannel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for FuseChannel {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixDatagram;
    use std::time::Duration;

    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

    /// A channel over one end of a SOCK_SEQPACKET pair, which keeps message boundaries
    /// like /dev/fuse does; the other end plays the kernel.
    fn channel_pair(bufsize: usize) -> (FuseChannel, UnixDatagram, Arc<WakeSignal>) {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        )
        .unwrap();
        let wake = Arc::new(WakeSignal::new().unwrap());
        let ch = FuseChannel::new(File::from(a), wake.clone(), bufsize).unwrap();
        let kernel = UnixDatagram::from(b);
        kernel.set_nonblocking(false).unwrap();
        (ch, kernel, wake)
    }

    fn request(len: usize, tag: u8) -> Vec<u8> {
        let mut req = vec![tag; len];
        req[..4].copy_from_slice(&(len as u32).to_ne_bytes());
        req
    }

    #[test]
    fn channel_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<FuseChannel>();
    }

    #[test]
    fn reads_whole_request_and_replies_through_writer() {
        let (mut ch, kernel, _wake) = channel_pair(4096);
        kernel.send(&request(64, 0xab)).unwrap();
        {
            let (mut r, mut w) = ch.get_request().unwrap().unwrap();
            assert_eq!(r.available_bytes(), 64);
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got, request(64, 0xab));
            w.write_all(b"reply-bytes").unwrap();
            assert_eq!(w.commit(None).unwrap(), 11);
        }
        let mut buf = [0u8; 64];
        let n = kernel.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"reply-bytes");
    }

    #[test]
    fn short_reads_are_dropped_and_the_next_request_served() {
        let (mut ch, kernel, _wake) = channel_pair(4096);
        kernel.send(&[1u8; 10]).unwrap();
        kernel.send(&request(IN_HEADER_SIZE, 7)).unwrap();
        let (r, _w) = ch.get_request().unwrap().unwrap();
        assert_eq!(r.available_bytes(), IN_HEADER_SIZE);
    }

    #[test]
    fn several_queued_requests_are_all_served() {
        // With an edge-triggered poll, a channel that polled before reading would sleep
        // on the second request.
        let (mut ch, kernel, _wake) = channel_pair(4096);
        for tag in 0..3u8 {
            kernel.send(&request(48, tag)).unwrap();
        }
        for tag in 0..3u8 {
            let (mut r, _w) = ch.get_request().unwrap().unwrap();
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            assert_eq!(got[47], tag);
        }
    }

    #[test]
    fn buffers_are_reused_between_requests() {
        let (mut ch, kernel, _wake) = channel_pair(4096);
        let (req_ptr, reply_ptr) = (ch.req_buf.as_ptr(), ch.reply_buf.as_ptr());
        for _ in 0..3 {
            kernel.send(&request(48, 1)).unwrap();
            ch.get_request().unwrap().unwrap();
        }
        assert_eq!(ch.req_buf.as_ptr(), req_ptr);
        assert_eq!(ch.reply_buf.as_ptr(), reply_ptr);
        assert_eq!(ch.req_buf.len(), 4096);
    }

    #[test]
    fn wake_unblocks_a_waiting_channel() {
        let (mut ch, _kernel, wake) = channel_pair(4096);
        let t = std::thread::spawn(move || {
            assert!(ch.get_request().unwrap().is_none());
            // Woken for good: later calls return at once.
            assert!(ch.get_request().unwrap().is_none());
        });
        std::thread::sleep(Duration::from_millis(50));
        wake.wake().unwrap();
        wake.wake().unwrap();
        t.join().unwrap();
    }

    #[test]
    fn wake_reaches_every_channel_and_later_ones() {
        let wake = Arc::new(WakeSignal::new().unwrap());
        let mut threads = Vec::new();
        let mut kernels = Vec::new();
        for _ in 0..3 {
            let (a, b) = socketpair(
                AddressFamily::Unix,
                SockType::SeqPacket,
                None,
                SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            )
            .unwrap();
            kernels.push(b);
            let mut ch = FuseChannel::new(File::from(a), wake.clone(), 4096).unwrap();
            threads.push(std::thread::spawn(move || {
                ch.get_request().unwrap().is_none()
            }));
        }
        std::thread::sleep(Duration::from_millis(50));
        wake.wake().unwrap();
        for t in threads {
            assert!(t.join().unwrap());
        }
        let (a, _b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        )
        .unwrap();
        let mut late = FuseChannel::new(File::from(a), wake, 4096).unwrap();
        assert!(late.get_request().unwrap().is_none());
    }

    #[test]
    fn eventfd_alone_wakes_a_poller() {
        // The flag is a shortcut; the eventfd must wake a thread already asleep in poll
        // on its own.
        let (mut ch, _kernel, wake) = channel_pair(4096);
        let t = std::thread::spawn(move || ch.wait_readable().unwrap());
        std::thread::sleep(Duration::from_millis(50));
        nix::unistd::write(&wake.fd, &1u64.to_ne_bytes()).unwrap();
        assert!(t.join().unwrap());
    }

    #[test]
    fn peer_close_ends_the_channel() {
        let (mut ch, kernel, _wake) = channel_pair(4096);
        drop(kernel);
        assert!(ch.get_request().unwrap().is_none());
    }

    #[test]
    fn read_errors_are_reported() {
        // A write-only pipe end cannot be read: EBADF must come back as an error, not a
        // retry loop or a silent stop.
        let (_r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let wake = Arc::new(WakeSignal::new().unwrap());
        let mut ch = FuseChannel::new(File::from(w), wake, 4096).unwrap();
        match ch.get_request() {
            Err(Error::Io(e)) => assert_eq!(e.raw_os_error(), Some(libc::EBADF)),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("expected an error"),
        };
    }
}
