//! Blocking lock requests (FUSE_SETLKW) waited for off the service threads.
//!
//! A lock held by someone else is retried without blocking (`LOCK_NB`, `F_OFD_SETLK`) by
//! one waiter thread per filesystem, which exists only while there are waits. It retries
//! at once when the filesystem serves an unlock or a release (the likely moment the lock
//! came free), otherwise after a delay that grows from 1 ms to 50 ms, which bounds how
//! late a lock freed by a host process is noticed. A wait ends with EINTR when the client
//! interrupts it or the connection goes away.
//!
//! At most [`MAX_WAITS`] waits are kept; more get ENOLCK, so a client cannot make the
//! daemon hold unbounded state (each wait keeps its open file).

use std::io;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread;
use std::time::Duration;

use log::{debug, error};

use crate::api::filesystem::LockWaiter;
use crate::errno::err;

/// Most waits in progress at once.
pub(crate) const MAX_WAITS: usize = 4096;
const FIRST_DELAY: Duration = Duration::from_millis(1);
const MAX_DELAY: Duration = Duration::from_millis(50);

/// One try to take the lock: `Ok(true)` taken, `Ok(false)` still held by someone else.
pub(crate) type Attempt = Box<dyn FnMut() -> io::Result<bool> + Send>;

struct Pending {
    waiter: LockWaiter,
    attempt: Attempt,
}

#[derive(Default)]
struct State {
    pending: Vec<Pending>,
    /// The waiter thread exists.
    running: bool,
    /// Something happened that may have freed a lock: retry now.
    kicked: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    cv: Condvar,
}

/// The lock waits of one filesystem.
#[derive(Default)]
pub(crate) struct LockWaits {
    shared: Arc<Shared>,
}

impl LockWaits {
    /// Waits for the lock `attempt` tries to take, answering `waiter` when it is taken,
    /// fails, or is interrupted.
    pub(crate) fn push(&self, waiter: LockWaiter, attempt: Attempt) {
        let weak = Arc::downgrade(&self.shared);
        // Before taking the state lock: the waker runs at once if already interrupted.
        waiter.set_waker(move || kick(&weak));
        let mut st = self.shared.lock();
        if st.pending.len() >= MAX_WAITS {
            drop(st);
            debug!("unique={}: too many lock waits", waiter.unique());
            waiter.complete(Err(err(libc::ENOLCK)));
            return;
        }
        st.pending.push(Pending { waiter, attempt });
        st.kicked = true;
        if !st.running {
            let shared = self.shared.clone();
            let spawned = thread::Builder::new()
                .name("fuse-lock-wait".into())
                .spawn(move || run(&shared));
            match spawned {
                Ok(_) => st.running = true,
                Err(e) => {
                    error!("cannot start the lock waiter thread: {e}");
                    let failed = std::mem::take(&mut st.pending);
                    drop(st);
                    for p in failed {
                        p.waiter.complete(Err(err(libc::ENOLCK)));
                    }
                    return;
                }
            }
        }
        self.shared.cv.notify_one();
    }

    /// Retries the waits now: a lock may have been released.
    pub(crate) fn kick(&self) {
        kick(&Arc::downgrade(&self.shared));
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn kick(shared: &Weak<Shared>) {
    if let Some(shared) = shared.upgrade() {
        let mut st = shared.lock();
        if !st.pending.is_empty() {
            st.kicked = true;
            shared.cv.notify_one();
        }
    }
}

/// The waiter thread: retries every wait until none is left.
fn run(shared: &Shared) {
    let mut delay = FIRST_DELAY;
    loop {
        let batch = {
            let mut st = shared.lock();
            st.kicked = false;
            std::mem::take(&mut st.pending)
        };
        // Attempts run without the state lock, so new waits and kicks never block.
        let mut left = Vec::with_capacity(batch.len());
        for mut p in batch {
            if p.waiter.is_interrupted() {
                p.waiter.complete(Err(err(libc::EINTR)));
                continue;
            }
            match (p.attempt)() {
                Ok(true) => p.waiter.complete(Ok(())),
                Ok(false) => left.push(p),
                Err(e) => p.waiter.complete(Err(e)),
            }
        }
        let mut st = shared.lock();
        let newer = std::mem::replace(&mut st.pending, left);
        st.pending.extend(newer);
        if st.pending.is_empty() {
            st.running = false;
            return;
        }
        if st.kicked {
            delay = FIRST_DELAY;
            continue;
        }
        let (st, _) = shared
            .cv
            .wait_timeout_while(st, delay, |s| !s.kicked)
            .unwrap_or_else(|p| p.into_inner());
        delay = if st.kicked {
            FIRST_DELAY
        } else {
            (delay * 2).min(MAX_DELAY)
        };
    }
}
