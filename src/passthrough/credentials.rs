//! Running file-creating operations as the caller.
//!
//! A file created on the host must belong to the client process that created it, and the
//! host's permission checks must see that process rather than the (usually root) daemon.
//! [`CredentialsGuard`] switches the calling thread's filesystem user and group IDs
//! (`setfsuid`/`setfsgid`, which only affect permission checks and the ownership of new
//! files) and, when the kernel sent one, a supplementary group; it switches back on drop.
//!
//! The raw system calls change only the calling thread; glibc's wrappers would change every
//! thread of the process and so leak one request's identity into the others. While the
//! fsuid is not 0 the kernel also drops the thread's filesystem capabilities
//! (`CAP_DAC_OVERRIDE`, `CAP_FOWNER`, ...), and restores them when it is set back to 0.
//!
//! [`UmaskGuard`] applies the caller's umask. The umask is process-wide unless a thread
//! unshares its filesystem attributes (`unshare(CLONE_FS)`); the guard does that once per
//! thread, the first time the thread creates a file, and then sets the caller's umask for
//! the duration of the operation. Setting the real umask (instead of masking the mode
//! ourselves) keeps the kernel's rule that a directory's default ACL replaces the umask.
//! If the unshare fails, the guard falls back to masking the mode itself.

use std::cell::Cell;
use std::io;

use log::{error, warn};

use crate::errno::err;
use crate::sys;

/// Restores the thread's fsuid, fsgid and supplementary groups on drop.
#[must_use = "the credentials are restored when the guard is dropped"]
pub(crate) struct CredentialsGuard {
    old_uid: Option<libc::uid_t>,
    old_gid: Option<libc::gid_t>,
    old_groups: Option<Vec<libc::gid_t>>,
}

fn privileged() -> bool {
    use std::sync::OnceLock;
    static PRIVILEGED: OnceLock<bool> = OnceLock::new();
    *PRIVILEGED.get_or_init(|| sys::geteuid() == 0)
}

impl CredentialsGuard {
    /// Switches the calling thread to `uid`/`gid` (and `supp_gid` as its only supplementary
    /// group) for filesystem access. A daemon that is not root cannot switch and keeps its
    /// own identity (the guard then does nothing).
    pub fn new(
        uid: libc::uid_t,
        gid: libc::gid_t,
        supp_gid: Option<libc::gid_t>,
    ) -> io::Result<CredentialsGuard> {
        let mut guard = CredentialsGuard {
            old_uid: None,
            old_gid: None,
            old_groups: None,
        };
        if !privileged() {
            return Ok(guard);
        }
        // Groups first: changing them needs CAP_SETGID, which setfsuid does not drop, but
        // doing it while we are still fully root keeps the order obvious.
        if let Some(sgid) = supp_gid {
            let old = sys::getgroups()?;
            sys::setgroups(&[sgid])?;
            guard.old_groups = Some(old);
        }
        let cur_gid = sys::setfsgid(u32::MAX);
        if gid != cur_gid {
            let prev = sys::setfsgid(gid);
            if sys::setfsgid(u32::MAX) != gid {
                return Err(err(libc::EPERM));
            }
            guard.old_gid = Some(prev);
        }
        let cur_uid = sys::setfsuid(u32::MAX);
        if uid != cur_uid {
            let prev = sys::setfsuid(uid);
            if sys::setfsuid(u32::MAX) != uid {
                return Err(err(libc::EPERM));
            }
            guard.old_uid = Some(prev);
        }
        Ok(guard)
    }
}

impl Drop for CredentialsGuard {
    fn drop(&mut self) {
        // Restore the uid first: it gives back the capabilities the others may need.
        if let Some(uid) = self.old_uid {
            sys::setfsuid(uid);
            if sys::setfsuid(u32::MAX) != uid {
                error!("failed to restore fsuid {uid}");
            }
        }
        if let Some(gid) = self.old_gid {
            sys::setfsgid(gid);
            if sys::setfsgid(u32::MAX) != gid {
                error!("failed to restore fsgid {gid}");
            }
        }
        if let Some(groups) = self.old_groups.take() {
            if let Err(e) = sys::setgroups(&groups) {
                error!("failed to restore supplementary groups: {e}");
            }
        }
    }
}

thread_local! {
    /// Whether this thread has its own umask: None = not tried yet.
    static OWN_UMASK: Cell<Option<bool>> = const { Cell::new(None) };
}

fn thread_has_own_umask() -> bool {
    OWN_UMASK.with(|own| {
        if let Some(v) = own.get() {
            return v;
        }
        let ok = match sys::unshare(libc::CLONE_FS) {
            Ok(()) => true,
            Err(e) => {
                warn!("unshare(CLONE_FS) failed, masking modes by hand: {e}");
                false
            }
        };
        own.set(Some(ok));
        ok
    })
}

/// Sets the caller's umask for the calling thread until dropped (see the module docs).
#[must_use = "the umask is restored when the guard is dropped"]
pub(crate) struct UmaskGuard {
    old: Option<libc::mode_t>,
    umask: libc::mode_t,
}

impl UmaskGuard {
    /// Applies `umask` to files the calling thread creates while the guard lives.
    pub fn new(umask: u32) -> UmaskGuard {
        let umask = umask & 0o7777;
        let old = thread_has_own_umask().then(|| sys::umask(umask));
        UmaskGuard { old, umask }
    }

    /// The mode to pass to the creating system call: unchanged when the thread's umask
    /// is the caller's, masked by hand otherwise.
    pub fn mode(&self, mode: u32) -> u32 {
        if self.old.is_some() {
            mode
        } else {
            mode & !self.umask
        }
    }
}

impl Drop for UmaskGuard {
    fn drop(&mut self) {
        if let Some(old) = self.old {
            sys::umask(old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_switches_and_restores_fsuid() {
        std::thread::spawn(|| {
            let uid0 = sys::setfsuid(u32::MAX);
            let gid0 = sys::setfsgid(u32::MAX);
            let groups0 = sys::getgroups().unwrap();
            let inside = {
                let _g = CredentialsGuard::new(1234, 5678, Some(4321)).unwrap();
                (
                    sys::setfsuid(u32::MAX),
                    sys::setfsgid(u32::MAX),
                    sys::getgroups().unwrap(),
                )
            };
            assert_eq!(sys::setfsuid(u32::MAX), uid0);
            assert_eq!(sys::setfsgid(u32::MAX), gid0);
            assert_eq!(sys::getgroups().unwrap(), groups0);
            if privileged() {
                assert_eq!(inside, (1234, 5678, vec![4321]));
            } else {
                // Documented: a daemon that is not root keeps its own identity.
                assert_eq!(inside, (uid0, gid0, groups0));
                crate::cannot_run("switching credentials needs root");
            }
        })
        .join()
        .unwrap();
    }

    /// The thread's umask, read without changing it for longer than the two calls.
    fn current_umask() -> libc::mode_t {
        let cur = sys::umask(0o022);
        sys::umask(cur);
        cur
    }

    #[test]
    fn umask_guard_sets_the_thread_umask_and_restores_it() {
        std::thread::spawn(|| {
            // The first guard unshares the thread's filesystem attributes.
            let first = UmaskGuard::new(0o077);
            if !thread_has_own_umask() {
                // The fallback: the guard masks the mode itself.
                assert_eq!(first.mode(0o777), 0o700);
                crate::cannot_run("unshare(CLONE_FS) refused: no per-thread umask");
                return;
            }
            drop(first);
            // Now the umask is this thread's own: set a known one and wrap it.
            sys::umask(0o022);
            {
                let g = UmaskGuard::new(0o077);
                // The kernel applies the umask: the mode goes through unchanged.
                assert_eq!(g.mode(0o777), 0o777);
                assert_eq!(current_umask(), 0o077);
            }
            assert_eq!(current_umask(), 0o022);
            // Bits beyond 0o7777 are not a umask.
            {
                let _g = UmaskGuard::new(0o1_0000 | 0o027);
                assert_eq!(current_umask(), 0o027);
            }
            assert_eq!(current_umask(), 0o022);
        })
        .join()
        .unwrap();
    }

    /// The umask of the process's main thread, which every thread that never unshared
    /// its filesystem attributes shares (read from procfs, so nothing changes it).
    fn process_umask() -> libc::mode_t {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .expect("/proc/self/status has a Umask line (Linux 4.7+)");
        libc::mode_t::from_str_radix(line.trim(), 8).unwrap()
    }

    #[test]
    fn umask_guard_leaves_other_threads_alone() {
        let before = process_umask();
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            // Not 0o077 by chance: a value the process umask is not.
            let want = if before == 0o067 { 0o077 } else { 0o067 };
            let g = UmaskGuard::new(want);
            tx.send((thread_has_own_umask(), want, current_umask()))
                .unwrap();
            done_rx.recv().unwrap();
            drop(g);
        });
        let (own, want, inside) = rx.recv().unwrap();
        // While the guard lives in the other thread, the process umask is untouched.
        let during = process_umask();
        done_tx.send(()).unwrap();
        t.join().unwrap();
        if !own {
            crate::cannot_run("unshare(CLONE_FS) refused: no per-thread umask");
            return;
        }
        assert_eq!(inside, want);
        assert_eq!(during, before, "the guard changed the process umask");
    }
}
