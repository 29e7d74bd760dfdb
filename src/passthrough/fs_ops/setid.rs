//! Clearing set-user-ID and set-group-ID bits the way the kernel does on a local
//! filesystem.
//!
//! The daemon works on the host as root, with `CAP_FSETID`, so the host kernel never clears
//! these bits for it: a write by an unprivileged client would leave a set-ID file set-ID.
//! The driver therefore clears them itself, as the kernel would have for the client. The
//! rules (the kernel's `setattr_should_drop_suidgid`, `setattr_prepare` and
//! `posix_acl_update_mode`):
//!
//! - a change of a regular file's data or size (write, truncate, fallocate of any mode,
//!   copy_file_range) by a caller without `CAP_FSETID` clears set-user-ID, and
//!   set-group-ID when the file is group-executable or the caller is not in its group;
//! - chown of a non-directory clears set-user-ID (the host does that for us) and
//!   set-group-ID when group-executable (likewise) or when an unprivileged caller is not in
//!   the file's group (we do that);
//! - chmod, and setting an access ACL, by an unprivileged caller not in the file's group
//!   (after the change, for chmod) drop set-group-ID from the new mode.
//!
//! Where the kernel tells us (FUSE_WRITE_KILL_SUIDGID, FATTR_KILL_SUIDGID,
//! FUSE_OPEN_KILL_SUIDGID with FUSE_HANDLE_KILLPRIV_V2; FUSE_SETXATTR_ACL_KILL_SGID with
//! FUSE_SETXATTR_EXT) that the caller lacks `CAP_FSETID`, we trust it. Elsewhere a request
//! carries only the caller's uid and gid, and uid 0 stands for "has `CAP_FSETID`".
//! Group membership is the caller's gid, the supplementary group the kernel sent with the
//! request, or, read from `/proc/PID/status`, the supplementary groups of the calling
//! process when that process still has the request's fsuid and fsgid (it may be another
//! process by now, or in another pid namespace such as a virtio-fs guest: then only the
//! gid counts, and set-group-ID is cleared where the caller might have kept it).

use std::io;
use std::os::fd::BorrowedFd;

use crate::api::filesystem::Context;
use crate::sys;

/// Whether the caller of `ctx` counts as privileged (holding `CAP_FSETID`) when the kernel
/// did not say.
pub(crate) fn privileged(ctx: &Context) -> bool {
    ctx.uid == 0
}

/// Whether the caller of `ctx` is a member of group `gid` (see the module docs).
pub(crate) fn caller_in_group(ctx: &Context, gid: libc::gid_t) -> bool {
    if ctx.gid == gid || ctx.supp_gid == Some(gid) {
        return true;
    }
    if ctx.pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{}/status", ctx.pid)) {
        Ok(status) => status_has_group(&status, ctx, gid),
        Err(_) => false,
    }
}

/// Parses a `/proc/PID/status` text: true when its fsuid and fsgid are the caller's and
/// `gid` is among its supplementary groups.
fn status_has_group(status: &str, ctx: &Context, gid: libc::gid_t) -> bool {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|rest| {
                rest.split_whitespace()
                    .filter_map(|n| n.parse::<u32>().ok())
                    .collect::<Vec<u32>>()
            })
    };
    // "Uid:" and "Gid:" list the real, effective, saved and filesystem IDs.
    let same_ids = matches!(field("Uid:"), Some(v) if v.get(3) == Some(&ctx.uid))
        && matches!(field("Gid:"), Some(v) if v.get(3) == Some(&ctx.gid));
    same_ids && field("Groups:").is_some_and(|g| g.contains(&gid))
}

/// The set-ID bits a change of data or size removes from a file of `mode` and group
/// `gid`, done by `ctx` (`privileged`: it holds `CAP_FSETID`).
pub(crate) fn killed_by_write(mode: u32, gid: libc::gid_t, ctx: &Context, privileged: bool) -> u32 {
    if privileged || mode & libc::S_IFMT != libc::S_IFREG {
        return 0;
    }
    let mut kill = mode & libc::S_ISUID;
    if mode & libc::S_ISGID != 0 && (mode & libc::S_IXGRP != 0 || !caller_in_group(ctx, gid)) {
        kill |= libc::S_ISGID;
    }
    kill
}

/// The mode an unprivileged caller not in `gid` gets when setting `mode` on a file of
/// group `gid` (chmod, or an access ACL): without set-group-ID.
pub(crate) fn chmod_mode(mode: u32, gid: libc::gid_t, ctx: &Context) -> u32 {
    if mode & libc::S_ISGID != 0 && !privileged(ctx) && !caller_in_group(ctx, gid) {
        mode & !libc::S_ISGID
    } else {
        mode
    }
}

/// Clears on `fd` (an open descriptor of the file, not `O_PATH`) the bits a change of
/// data by `ctx` removes; see [`killed_by_write`].
pub(crate) fn kill_suidgid(fd: BorrowedFd<'_>, ctx: &Context, privileged: bool) -> io::Result<()> {
    if privileged {
        return Ok(());
    }
    let st = sys::fstat64(fd)?;
    let kill = killed_by_write(st.st_mode, st.st_gid, ctx, false);
    if kill != 0 {
        sys::fchmod(fd, st.st_mode & 0o7777 & !kill)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(uid: u32, gid: u32) -> Context {
        Context {
            uid,
            gid,
            pid: 0,
            supp_gid: None,
        }
    }

    #[test]
    fn writes_clear_like_setattr_should_drop_suidgid() {
        let reg = libc::S_IFREG;
        let user = ctx(1000, 1000);
        // Not in the file's group (0): set-group-ID goes even without group execute.
        assert_eq!(killed_by_write(reg | 0o6666, 0, &user, false), 0o6000);
        // In the group: it stays unless the file is group-executable.
        assert_eq!(killed_by_write(reg | 0o6666, 1000, &user, false), 0o4000);
        assert_eq!(killed_by_write(reg | 0o6676, 1000, &user, false), 0o6000);
        // Privileged callers and non-regular files keep everything.
        assert_eq!(killed_by_write(reg | 0o6777, 0, &user, true), 0);
        assert_eq!(killed_by_write(libc::S_IFDIR | 0o6777, 0, &user, false), 0);
        // The supplementary group the kernel sent counts.
        let supp = Context {
            supp_gid: Some(50),
            ..user
        };
        assert_eq!(killed_by_write(reg | 0o2666, 50, &supp, false), 0);
    }

    #[test]
    fn chmod_drops_sgid_outside_the_group() {
        assert_eq!(chmod_mode(0o2755, 0, &ctx(1000, 1000)), 0o755);
        assert_eq!(chmod_mode(0o2755, 1000, &ctx(1000, 1000)), 0o2755);
        assert_eq!(chmod_mode(0o2755, 0, &ctx(0, 5)), 0o2755);
        assert_eq!(chmod_mode(0o4755, 0, &ctx(1000, 1000)), 0o4755);
    }

    #[test]
    fn proc_status_groups_count_only_for_the_same_ids() {
        let status = "Name:\tx\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\n\
                      Groups:\t4 24 27 \n";
        assert!(status_has_group(status, &ctx(1000, 1000), 24));
        assert!(!status_has_group(status, &ctx(1000, 1000), 25));
        // A process that is not (or no longer) the caller.
        assert!(!status_has_group(status, &ctx(1001, 1000), 24));
        assert!(!status_has_group(status, &ctx(1000, 1001), 24));
    }

    #[test]
    fn own_process_groups_are_found() {
        let me = Context {
            uid: sys::setfsuid(u32::MAX),
            gid: sys::setfsgid(u32::MAX),
            pid: std::process::id() as i32,
            supp_gid: None,
        };
        for g in sys::getgroups().unwrap() {
            assert!(caller_in_group(&me, g), "group {g}");
        }
    }
}
