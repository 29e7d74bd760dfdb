//! [`LockWaiter`]: a blocking lock request (FUSE_SETLKW) answered after the serving thread
//! moved on, and the server's table of such requests for FUSE_INTERRUPT.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use vm_memory::ByteValued;

use crate::abi::fuse_abi::OutHeader;
use crate::buffer::ReplySink;

/// How many interrupts of requests not (yet) known are remembered. An interrupt can be
/// read by one service thread before another thread has registered the request it names;
/// unique IDs grow and are never reused on a connection, so a short memory is enough.
const EARLY_INTERRUPTS: usize = 64;

/// A FUSE_SETLKW whose reply the filesystem sends when the lock is granted, the wait
/// fails, or the client interrupts it, from any thread
/// ([`FileSystem::setlkw_deferred`](super::FileSystem::setlkw_deferred)).
///
/// The request stays pending in the kernel until [`complete`](LockWaiter::complete) is
/// called. Dropping a waiter without completing it answers ENOLCK, so a client is never
/// left waiting on a lost request.
pub struct LockWaiter {
    shared: Arc<WaitShared>,
    done: bool,
}

struct WaitShared {
    unique: u64,
    sink: Mutex<Option<Box<dyn ReplySink>>>,
    interrupted: AtomicBool,
    waker: Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
    table: Weak<WaitTable>,
}

impl LockWaiter {
    /// The request's unique ID.
    pub fn unique(&self) -> u64 {
        self.shared.unique
    }

    /// Whether the client interrupted the request (FUSE_INTERRUPT, e.g. a signal to the
    /// waiting process) or the connection is gone: the wait should end, with EINTR.
    pub fn is_interrupted(&self) -> bool {
        if self.shared.interrupted.load(Ordering::Acquire) {
            return true;
        }
        let sink = self.shared.sink.lock().unwrap_or_else(|p| p.into_inner());
        sink.as_ref().map_or(true, |s| s.is_closed())
    }

    /// Calls `wake` (once, from the thread serving the interrupt) when the request is
    /// interrupted, so a waiting thread can notice without polling. Called at once when
    /// it already was.
    pub fn set_waker(&self, wake: impl Fn() + Send + Sync + 'static) {
        *self.shared.waker.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(wake));
        if self.shared.interrupted.load(Ordering::Acquire) {
            self.shared.wake();
        }
    }

    /// Answers the request: success, or the errno of `res`.
    pub fn complete(mut self, res: io::Result<()>) {
        self.done = true;
        let errno = match res {
            Ok(()) => 0,
            Err(e) => crate::errno_of(&e),
        };
        self.shared.reply(errno);
    }
}

impl Drop for LockWaiter {
    fn drop(&mut self) {
        if !self.done {
            log::debug!(
                "unique={}: lock wait dropped unanswered",
                self.shared.unique
            );
            self.shared.reply(libc::ENOLCK);
        }
    }
}

impl std::fmt::Debug for LockWaiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockWaiter")
            .field("unique", &self.shared.unique)
            .field(
                "interrupted",
                &self.shared.interrupted.load(Ordering::Relaxed),
            )
            .finish()
    }
}

impl WaitShared {
    fn wake(&self) {
        if let Some(w) = self
            .waker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            w();
        }
    }

    fn reply(&self, errno: i32) {
        if let Some(table) = self.table.upgrade() {
            table.remove(self.unique);
        }
        let Some(sink) = self.sink.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let oh = OutHeader {
            len: std::mem::size_of::<OutHeader>() as u32,
            error: -errno,
            unique: self.unique,
        };
        log::debug!("late reply unique={} error={}", self.unique, errno);
        if let Err(e) = sink.send(oh.as_slice()) {
            log::debug!("unique={}: late reply not sent: {e}", self.unique);
        }
    }
}

/// The lock waits of one server, by unique ID, for FUSE_INTERRUPT.
#[derive(Default)]
pub(crate) struct WaitTable {
    inner: Mutex<TableInner>,
}

#[derive(Default)]
struct TableInner {
    waits: HashMap<u64, Weak<WaitShared>>,
    early: VecDeque<u64>,
}

impl WaitTable {
    /// Registers the wait of request `unique`, answered through `sink`. A wait whose
    /// interrupt arrived first starts interrupted.
    pub(crate) fn register(self: &Arc<Self>, unique: u64, sink: Box<dyn ReplySink>) -> LockWaiter {
        let mut t = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let early = t.early.iter().position(|u| *u == unique);
        if let Some(i) = early {
            t.early.remove(i);
        }
        let shared = Arc::new(WaitShared {
            unique,
            sink: Mutex::new(Some(sink)),
            interrupted: AtomicBool::new(early.is_some()),
            waker: Mutex::new(None),
            table: Arc::downgrade(self),
        });
        t.waits.insert(unique, Arc::downgrade(&shared));
        LockWaiter {
            shared,
            done: false,
        }
    }

    /// Interrupts the wait of request `unique`. Returns whether there was one; when there
    /// was none, remembers `unique` in case its request has not been registered yet.
    pub(crate) fn interrupt(&self, unique: u64) -> bool {
        let mut t = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(shared) = t.waits.get(&unique).and_then(Weak::upgrade) else {
            if t.early.len() == EARLY_INTERRUPTS {
                t.early.pop_front();
            }
            t.early.push_back(unique);
            return false;
        };
        drop(t);
        shared.interrupted.store(true, Ordering::Release);
        shared.wake();
        true
    }

    fn remove(&self, unique: u64) {
        let mut t = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        t.waits.remove(&unique);
    }

    /// Number of waits not answered yet.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner.lock().unwrap().waits.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    struct Chan(mpsc::Sender<Vec<u8>>);
    impl ReplySink for Chan {
        fn send(self: Box<Self>, reply: &[u8]) -> io::Result<()> {
            self.0.send(reply.to_vec()).unwrap();
            Ok(())
        }
    }

    fn error_of(reply: &[u8]) -> (i32, u64) {
        let oh = OutHeader::from_slice(reply).unwrap();
        (oh.error, oh.unique)
    }

    #[test]
    fn complete_interrupt_and_drop_each_answer_once() {
        let table = Arc::new(WaitTable::default());
        let (tx, rx) = mpsc::channel();
        let w = table.register(7, Box::new(Chan(tx.clone())));
        assert!(!w.is_interrupted());
        w.complete(Ok(()));
        assert_eq!(error_of(&rx.try_recv().unwrap()), (0, 7));
        assert_eq!(table.len(), 0);

        let w = table.register(8, Box::new(Chan(tx.clone())));
        let (wtx, wrx) = mpsc::channel();
        w.set_waker(move || wtx.send(()).unwrap());
        assert!(table.interrupt(8));
        wrx.try_recv().expect("woken");
        assert!(w.is_interrupted());
        w.complete(Err(io::Error::from_raw_os_error(libc::EINTR)));
        assert_eq!(error_of(&rx.try_recv().unwrap()), (-libc::EINTR, 8));

        drop(table.register(9, Box::new(Chan(tx.clone()))));
        assert_eq!(error_of(&rx.try_recv().unwrap()), (-libc::ENOLCK, 9));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn an_interrupt_read_before_its_request_is_not_lost() {
        let table = Arc::new(WaitTable::default());
        let (tx, _rx) = mpsc::channel();
        assert!(!table.interrupt(11));
        let w = table.register(11, Box::new(Chan(tx.clone())));
        assert!(w.is_interrupted());
        // Only that request: a later one starts clean, and the memory is bounded.
        for u in 100..100 + 2 * EARLY_INTERRUPTS as u64 {
            table.interrupt(u);
        }
        assert!(!table.register(12, Box::new(Chan(tx))).is_interrupted());
        assert!(table.inner.lock().unwrap().early.len() <= EARLY_INTERRUPTS);
        w.complete(Ok(()));
    }
}
