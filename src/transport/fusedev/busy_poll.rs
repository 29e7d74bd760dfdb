//! Busy polling of an empty device: which channels may poll and for how long (see
//! [`FuseChannel`](super::FuseChannel#busy-polling)).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The session's count of channels busy polling, bounded so that idle channels do not
/// crowd out the threads they wait for (see [Busy polling](super::FuseChannel#busy-polling)).
#[derive(Debug)]
pub(super) struct SpinSlots {
    busy: AtomicUsize,
    max: usize,
}

impl SpinSlots {
    /// At most `max` channels poll at once (at least one).
    pub(super) fn new(max: usize) -> SpinSlots {
        SpinSlots {
            busy: AtomicUsize::new(0),
            max: max.max(1),
        }
    }

    /// One poller per two online CPUs (at least one): a poller takes CPU time from the
    /// clients it waits for, so most CPUs are left to them.
    pub(super) fn for_this_machine() -> SpinSlots {
        SpinSlots::new(std::thread::available_parallelism().map_or(1, |n| n.get() / 2))
    }

    /// Channels polling now.
    #[cfg(test)]
    pub(super) fn busy(&self) -> usize {
        self.busy.load(Ordering::SeqCst)
    }

    /// Takes a slot, or `None` when all are taken. The slot is given back on drop.
    pub(super) fn take(self: &Arc<Self>) -> Option<SpinSlot> {
        let mut busy = self.busy.load(Ordering::Relaxed);
        while busy < self.max {
            match self.busy.compare_exchange_weak(
                busy,
                busy + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(SpinSlot(self.clone())),
                Err(now) => busy = now,
            }
        }
        None
    }
}

/// A channel's busy-poll window, adapted to the gaps between its requests.
///
/// Like KVM's halt polling: a wait that outlasted the window but was shorter than the
/// maximum would have been caught by a longer window, so the window doubles (from
/// [`PollWindow::GROW_START`] when it was off); a wait longer than the maximum could not
/// have been caught, so the window halves, down to off. A client that keeps the daemon
/// busy gets the whole window; an idle or slow one soon costs no polling at all.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct PollWindow {
    max: Duration,
    cur: Duration,
}

impl PollWindow {
    /// Where a window that is off starts growing.
    const GROW_START: Duration = Duration::from_micros(10);

    pub(super) fn new(max: Duration) -> PollWindow {
        PollWindow { max, cur: max }
    }

    /// The longest window.
    pub(super) fn max(&self) -> Duration {
        self.max
    }

    /// The window now.
    #[cfg(test)]
    pub(super) fn current(&self) -> Duration {
        self.cur
    }

    /// Learns from a wait of `waited`, from finding the device empty to the next request.
    fn update(&mut self, waited: Duration) {
        if waited <= self.cur {
            // Caught while polling.
        } else if waited < self.max {
            self.cur = (self.cur * 2).max(Self::GROW_START).min(self.max);
        } else {
            self.cur /= 2;
            if self.cur < Self::GROW_START {
                self.cur = Duration::ZERO;
            }
        }
    }
}

/// A wait for the next request, from the first time the device was found empty.
pub(super) struct Miss {
    start: Instant,
    /// The polling slot, held while polling.
    slot: Option<SpinSlot>,
    /// Whether the wait teaches the window anything: only a channel that got a slot was
    /// free to poll.
    adapt: bool,
}

impl Miss {
    /// Starts a wait: takes a polling slot if polling is enabled and one is free.
    pub(super) fn start(window: &PollWindow, slots: &Arc<SpinSlots>) -> Miss {
        let start = Instant::now();
        if window.max.is_zero() {
            return Miss {
                start,
                slot: None,
                adapt: false,
            };
        }
        let slot = slots.take();
        Miss {
            start,
            adapt: slot.is_some(),
            // With the window at zero the slot is not needed: others may poll.
            slot: slot.filter(|_| !window.cur.is_zero()),
        }
    }

    /// Whether to try the device again rather than sleep.
    pub(super) fn keep_polling(&self, window: &PollWindow) -> bool {
        self.slot.is_some() && self.start.elapsed() < window.cur
    }

    /// Gives the polling slot back before sleeping.
    pub(super) fn stop_polling(&mut self) {
        self.slot = None;
    }

    /// A request came: teaches `window` how long the wait was.
    pub(super) fn finish(self, window: &mut PollWindow) {
        if self.adapt {
            window.update(self.start.elapsed());
        }
    }
}

/// A taken [`SpinSlots`] slot.
pub(super) struct SpinSlot(Arc<SpinSlots>);

impl Drop for SpinSlot {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_window_grows_on_near_misses_and_shrinks_on_long_waits() {
        let us = Duration::from_micros;
        let mut w = PollWindow::new(us(200));
        // Caught while polling: unchanged.
        w.update(us(150));
        assert_eq!(w.cur, us(200));
        // Longer than the maximum: halves, then turns off below the start step.
        for want_ns in [100_000, 50_000, 25_000, 12_500, 0, 0] {
            w.update(us(5000));
            assert_eq!(w.cur, Duration::from_nanos(want_ns));
        }
        // A short wait while off: starts again, then doubles up to the maximum.
        for want in [10, 20, 40, 80, 160, 200, 200] {
            w.update(us(199));
            assert_eq!(w.cur, us(want));
        }
        // A zero maximum never polls.
        let mut off = PollWindow::new(Duration::ZERO);
        off.update(us(1));
        assert_eq!(off.cur, Duration::ZERO);
    }

    #[test]
    fn spin_slots_are_bounded_and_given_back() {
        let slots = Arc::new(SpinSlots::new(2));
        let a = slots.take().expect("first slot");
        let b = slots.take().expect("second slot");
        assert!(slots.take().is_none());
        drop(a);
        let c = slots.take().expect("a slot given back is free again");
        assert!(slots.take().is_none());
        drop((b, c));
        assert_eq!(slots.busy(), 0);
        // A bound of zero still lets one channel poll.
        let one = Arc::new(SpinSlots::new(0));
        let _held = one.take().expect("at least one slot");
        assert!(one.take().is_none());
    }
}
