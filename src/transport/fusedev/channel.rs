//! [`FuseChannel`]: one service thread's view of a FUSE connection.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use log::{debug, warn};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;

use super::busy_poll::{Miss, PollWindow, SpinSlots};
use super::{FuseDevWriter, IN_HEADER_SIZE};
use crate::buffer::{Error, FuseBuf, Reader, Result};
use crate::sys;

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
///
/// # Waiting
/// All channels of a session read one kernel queue. A channel sleeping for work is
/// registered with `EPOLLEXCLUSIVE`, so a new request wakes one sleeping channel rather
/// than all of them; a channel drains the device until it is empty before it sleeps, so
/// no request is left waiting for a wake-up that went elsewhere.
///
/// # Busy polling
/// A channel that finds the device empty keeps trying for a short while before it
/// sleeps, yielding the CPU between tries so that runnable threads, the requester's
/// included, go first. A client that sends its next request within that window has it
/// picked up without a sleep and a cross-CPU wake-up, which on virtual machines can cost
/// more than serving the request. At most one channel per two online CPUs (at least one)
/// polls at a time; the others sleep at once.
///
/// The window adapts, between zero and the [maximum](FuseChannel::set_busy_poll), to the
/// gaps the channel sees between requests: it grows while waits are a little longer than
/// the window and shrinks while they are longer than the maximum, so polling costs CPU
/// time only while it pays off.
pub struct FuseChannel {
    file: File,
    wake: Arc<WakeSignal>,
    spin_slots: Arc<SpinSlots>,
    window: PollWindow,
    poll: Poll,
    events: Events,
    req_buf: Vec<u8>,
    reply_buf: Vec<u8>,
}

impl FuseChannel {
    /// A channel reading requests from `file` (which must be non-blocking).
    pub(super) fn new(
        file: File,
        wake: Arc<WakeSignal>,
        spin_slots: Arc<SpinSlots>,
        bufsize: usize,
        busy_poll: Duration,
    ) -> Result<FuseChannel> {
        let poll = Poll::new().map_err(Error::IoError)?;
        // mio cannot ask for EPOLLEXCLUSIVE, so the device goes into mio's epoll set
        // directly, edge-triggered like mio's own registrations and carrying DEV_TOKEN
        // as the event data, which is what mio reports as the token.
        // SAFETY: mio's Poll owns its epoll descriptor and keeps it open while `poll`
        // lives; it is borrowed only for this call.
        let epfd = unsafe { BorrowedFd::borrow_raw(poll.as_raw_fd()) };
        match sys::epoll_add(
            epfd,
            file.as_fd(),
            libc::EPOLLIN | libc::EPOLLET | libc::EPOLLEXCLUSIVE,
            DEV_TOKEN.0 as u64,
        ) {
            Ok(()) => {}
            // Kernels before 4.5 know no EPOLLEXCLUSIVE: every channel wakes instead.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => poll
                .registry()
                .register(
                    &mut SourceFd(&file.as_raw_fd()),
                    DEV_TOKEN,
                    Interest::READABLE,
                )
                .map_err(Error::IoError)?,
            Err(e) => return Err(Error::IoError(e)),
        }
        poll.registry()
            .register(
                &mut SourceFd(&wake.fd.as_raw_fd()),
                WAKE_TOKEN,
                Interest::READABLE,
            )
            .map_err(Error::IoError)?;
        Ok(FuseChannel {
            file,
            wake,
            spin_slots,
            window: PollWindow::new(busy_poll),
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
    ///   its reply (pass `writer.into()` to the server, which commits it). Both borrow
    ///   the channel's buffers, so the request must be handled before the next call.
    /// - `Ok(None)`: the session was woken ([`FuseSession::wake`](super::FuseSession::wake))
    ///   or the connection ended (the filesystem was unmounted, or the connection aborted
    ///   through `/sys/fs/fuse/connections`): the thread should stop. Once woken, every
    ///   later call returns `Ok(None)` at once.
    /// - `Err(_)`: reading the device failed.
    ///
    /// Transient conditions are retried inside: EINTR, EAGAIN (another channel took the
    /// request), ENOENT (the request was interrupted before it was read), and a read
    /// shorter than a request header. An empty device is retried for the
    /// [busy-poll window](FuseChannel::set_busy_poll) before the channel sleeps.
    pub fn get_request(&mut self) -> Result<Option<(Reader<'_>, FuseDevWriter<'_>)>> {
        // Read first and poll only when the device is empty: the epoll registration is
        // edge-triggered, so polling first could sleep on requests already queued.
        let mut miss: Option<Miss> = None;
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
                    let miss =
                        miss.get_or_insert_with(|| Miss::start(&self.window, &self.spin_slots));
                    if miss.keep_polling(&self.window) {
                        // sched_yield cannot fail on Linux; there is nothing to check.
                        let _ = nix::sched::sched_yield();
                        continue;
                    }
                    miss.stop_polling();
                    if self.wait_readable()? {
                        return Ok(None);
                    }
                }
                // ENODEV: unmounted; ECONNABORTED: aborted through fusectl.
                Err(e @ (Errno::ENODEV | Errno::ECONNABORTED)) => {
                    debug!("fuse connection ended (fd {}): {e}", self.as_raw_fd());
                    return Ok(None);
                }
                Err(e) => return Err(Error::IoError(e.into())),
            }
        };
        if let Some(miss) = miss {
            miss.finish(&mut self.window);
        }
        let reader = Reader::from_fuse_buffer(FuseBuf::new(&mut self.req_buf[..len]))?;
        let writer = FuseDevWriter::on_device(self.file.as_fd(), &mut self.reply_buf);
        Ok(Some((reader, writer)))
    }

    /// Blocks until the device may be readable (`Ok(false)`) or the session was woken
    /// (`Ok(true)`).
    fn wait_readable(&mut self) -> Result<bool> {
        loop {
            match self.poll.poll(&mut self.events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::IoError(e)),
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

    /// Sets the longest the channel keeps polling an empty device before it sleeps (see
    /// [Busy polling](FuseChannel#busy-polling)); `Duration::ZERO` makes it sleep at
    /// once. The session's [`set_busy_poll`](super::FuseSession::set_busy_poll) gives
    /// the initial value. The adaptive window restarts at this maximum.
    pub fn set_busy_poll(&mut self, max: Duration) {
        self.window = PollWindow::new(max);
    }

    /// The channel's longest busy-poll window.
    pub fn busy_poll(&self) -> Duration {
        self.window.max()
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
    use std::time::{Duration, Instant};

    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};

    /// A channel without busy polling.
    fn test_channel(file: File, wake: Arc<WakeSignal>, bufsize: usize) -> FuseChannel {
        let slots = Arc::new(SpinSlots::new(1));
        FuseChannel::new(file, wake, slots, bufsize, Duration::ZERO).unwrap()
    }

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
        let ch = test_channel(File::from(a), wake.clone(), bufsize);
        let kernel = UnixDatagram::from(b);
        kernel.set_nonblocking(false).unwrap();
        (ch, kernel, wake)
    }

    /// Polls `cond` until it holds. The deadline only keeps a broken test from hanging
    /// the run; nothing depends on how soon the condition comes true.
    #[track_caller]
    fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(30);
        while !cond() {
            assert!(Instant::now() < end, "gave up waiting until {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Whether `nr` is a system call a channel sleeps in (mio's `Poll::poll`).
    fn is_epoll_wait(nr: libc::c_long) -> bool {
        #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
        if nr == libc::SYS_epoll_wait {
            return true;
        }
        nr == libc::SYS_epoll_pwait || nr == libc::SYS_epoll_pwait2
    }

    /// Whether thread `tid` of this process is blocked in epoll_wait: a channel asleep in
    /// `wait_readable`, no longer reading or busy polling. Read from
    /// `/proc/self/task/<tid>/syscall`, whose first field is the system call a blocked
    /// thread is in ("running" otherwise).
    fn asleep_in_epoll(tid: nix::unistd::Pid) -> bool {
        let path = format!("/proc/self/task/{tid}/syscall");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
        let nr = text.split_whitespace().next().and_then(|f| f.parse().ok());
        nr.is_some_and(is_epoll_wait)
    }

    /// Runs `f` on a new thread; returns its handle once the thread's id is known.
    fn spawn_with_tid<T: Send + 'static>(
        f: impl FnOnce() -> T + Send + 'static,
    ) -> (std::thread::JoinHandle<T>, nix::unistd::Pid) {
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            tx.send(nix::unistd::gettid()).unwrap();
            f()
        });
        (t, rx.recv().unwrap())
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
            let (mut r, w) = ch.get_request().unwrap().unwrap();
            // What the server does: a buffered writer, sent on commit.
            let mut w: crate::buffer::Writer = w.into();
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
        let (t, tid) = spawn_with_tid(move || {
            assert!(ch.get_request().unwrap().is_none());
            // Woken for good: later calls return at once.
            assert!(ch.get_request().unwrap().is_none());
        });
        wait_until("the channel sleeps", || asleep_in_epoll(tid));
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
            let mut ch = test_channel(File::from(a), wake.clone(), 4096);
            threads.push(spawn_with_tid(move || ch.get_request().unwrap().is_none()));
        }
        for (_, tid) in &threads {
            wait_until("every channel sleeps", || asleep_in_epoll(*tid));
        }
        wake.wake().unwrap();
        for (t, _) in threads {
            assert!(t.join().unwrap());
        }
        let (a, _b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        )
        .unwrap();
        let mut late = test_channel(File::from(a), wake, 4096);
        assert!(late.get_request().unwrap().is_none());
    }

    #[test]
    fn eventfd_alone_wakes_a_poller() {
        // The flag is a shortcut; the eventfd must wake a thread already asleep in poll
        // on its own.
        let (mut ch, _kernel, wake) = channel_pair(4096);
        let (t, tid) = spawn_with_tid(move || ch.wait_readable().unwrap());
        wait_until("the channel sleeps", || asleep_in_epoll(tid));
        nix::unistd::write(&wake.fd, &1u64.to_ne_bytes()).unwrap();
        assert!(t.join().unwrap());
    }

    #[test]
    fn channel_window_adapts_to_slow_clients() {
        let (mut ch, kernel, _wake) = channel_pair(4096);
        let max = Duration::from_millis(2);
        ch.set_busy_poll(max);
        let me = nix::unistd::gettid();
        for tag in 0..3u8 {
            // Each request comes after the channel gave up polling and then longer than
            // the maximum window: polling could not have caught it.
            let t = std::thread::spawn({
                let kernel = kernel.try_clone().unwrap();
                move || {
                    wait_until("the channel sleeps", || asleep_in_epoll(me));
                    // It polled at most `max` before sleeping; `max` more makes the wait
                    // longer than the maximum, however late this thread runs.
                    std::thread::sleep(max);
                    kernel.send(&request(48, tag)).unwrap();
                }
            });
            let (r, _w) = ch.get_request().unwrap().unwrap();
            assert_eq!(r.available_bytes(), 48);
            t.join().unwrap();
        }
        assert_eq!(ch.window.current(), Duration::from_micros(250));
        assert_eq!(ch.busy_poll(), Duration::from_millis(2));
        assert_eq!(ch.spin_slots.busy(), 0);
    }

    #[test]
    fn busy_polling_channel_serves_requests_and_frees_its_slot() {
        let (mut ch, kernel, _wake) = channel_pair(4096);
        ch.set_busy_poll(Duration::from_millis(20));
        assert_eq!(ch.busy_poll(), Duration::from_millis(20));
        let slots = ch.spin_slots.clone();
        let (t, tid) = spawn_with_tid(move || {
            let mut tags = Vec::new();
            // A window far longer than the test: the first request is caught polling.
            // Then a 1 ms one: the channel soon gives up and sleeps.
            for window in [Duration::from_secs(3600), Duration::from_millis(1)] {
                ch.set_busy_poll(window);
                let (mut r, _w) = ch.get_request().unwrap().unwrap();
                let mut got = Vec::new();
                r.read_to_end(&mut got).unwrap();
                tags.push(got[47]);
            }
            tags
        });
        // One request while the channel polls, one after its window has run out and it
        // sleeps: both must be served, and a sleeping channel holds no polling slot.
        wait_until("the channel polls", || slots.busy() == 1);
        kernel.send(&request(48, 1)).unwrap();
        wait_until("the channel sleeps", || asleep_in_epoll(tid));
        assert_eq!(slots.busy(), 0, "a sleeping channel kept its polling slot");
        kernel.send(&request(48, 2)).unwrap();
        assert_eq!(t.join().unwrap(), vec![1, 2]);
        assert_eq!(slots.busy(), 0);
    }

    #[test]
    fn wake_stops_a_busy_polling_channel() {
        let (mut ch, _kernel, wake) = channel_pair(4096);
        // A window far longer than the test: only the wake-up can end the wait.
        ch.set_busy_poll(Duration::from_secs(3600));
        let slots = ch.spin_slots.clone();
        let t = std::thread::spawn(move || ch.get_request().unwrap().is_none());
        wait_until("the channel polls", || slots.busy() == 1);
        wake.wake().unwrap();
        assert!(t.join().unwrap());
        assert_eq!(slots.busy(), 0);
    }

    #[test]
    fn channels_without_a_free_slot_sleep_instead_of_polling() {
        let (mut ch, kernel, _wake) = channel_pair(4096);
        ch.set_busy_poll(Duration::from_secs(3600));
        let held = ch.spin_slots.take().expect("the only slot");
        let (t, tid) = spawn_with_tid(move || {
            let got = ch.get_request().unwrap().map(|(r, _)| r.available_bytes());
            (got, ch)
        });
        // With an hour's window, a channel that polled would never get here.
        wait_until("the channel sleeps", || asleep_in_epoll(tid));
        kernel.send(&request(48, 9)).unwrap();
        let (got, _ch) = t.join().unwrap();
        assert_eq!(got, Some(48));
        drop(held);
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
        let mut ch = test_channel(File::from(w), wake, 4096);
        match ch.get_request() {
            Err(Error::IoError(e)) => assert_eq!(e.raw_os_error(), Some(libc::EBADF)),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("expected an error"),
        };
    }
}
