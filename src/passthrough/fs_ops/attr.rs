//! Attributes: GETATTR, SETATTR, STATX, READLINK, STATFS, ACCESS.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use log::debug;
use vm_memory::bitmap::BitmapSlice;

use super::super::credentials::CredentialsGuard;
use super::super::inode_store::InodeData;
use super::super::{FdName, PassthroughFs};
use super::setid;
use crate::api::filesystem::{Context, SetattrValid};
use crate::errno::err;
use crate::sys;

fn time_spec(set: bool, now: bool, sec: i64, nsec: i64) -> libc::timespec {
    let (tv_sec, tv_nsec) = if now {
        (0, libc::UTIME_NOW)
    } else if set {
        (sec, nsec)
    } else {
        (0, libc::UTIME_OMIT)
    };
    libc::timespec { tv_sec, tv_nsec }
}

impl<S: BitmapSlice + Send + Sync> PassthroughFs<S> {
    pub(crate) fn do_getattr(
        &self,
        inode: u64,
        handle: Option<u64>,
    ) -> io::Result<(libc::stat64, Duration)> {
        if let Some(h) = handle.and_then(|h| self.handles.get(h, inode)) {
            let st = sys::fstat64(h.file.as_fd())?;
            return Ok((st, self.attr_timeout(&st)));
        }
        let data = self.inode_data(inode)?;
        let fd = self.inode_fd(&data)?;
        let st = sys::fstat64(fd.as_fd())?;
        Ok((st, self.attr_timeout(&st)))
    }

    /// Opens `data` for writing (for truncation without a handle).
    fn open_for_truncate(&self, data: &InodeData) -> io::Result<std::fs::File> {
        if data.is_dir() {
            return Err(err(libc::EISDIR));
        }
        self.reopen(data, libc::O_WRONLY | libc::O_NONBLOCK)
    }

    pub(crate) fn do_setattr(
        &self,
        ctx: &Context,
        inode: u64,
        attr: libc::stat64,
        handle: Option<u64>,
        valid: SetattrValid,
    ) -> io::Result<(libc::stat64, Duration)> {
        let data = self.inode_data(inode)?;
        // The server passes `handle` only when the kernel set FATTR_FH.
        let hd = handle.and_then(|h| self.handles.get(h, inode));
        let fd = self.inode_fd(&data)?;
        let fd_name = FdName::new(fd.as_fd());

        // The host applies none of the set-ID rules for an unprivileged caller to a root
        // daemon (see `setid`); look at the file once when one of them may apply.
        let unprivileged_setid = !setid::privileged(ctx)
            && (valid.intersects(SetattrValid::UID | SetattrValid::GID)
                || (valid.contains(SetattrValid::MODE) && attr.st_mode & libc::S_ISGID != 0));
        let before = if unprivileged_setid {
            Some(sys::fstat64(fd.as_fd())?)
        } else {
            None
        };

        if valid.contains(SetattrValid::MODE) {
            let mut mode = attr.st_mode & 0o7777;
            if let Some(st) = &before {
                // chmod by a caller outside the file's (new) group drops set-group-ID. The
                // kernel's own suid/sgid clearing without HANDLE_KILLPRIV(_V2) arrives here
                // too, as a MODE computed by an older rule that keeps set-group-ID on files
                // without group execute.
                let group = if valid.contains(SetattrValid::GID) {
                    attr.st_gid
                } else {
                    st.st_gid
                };
                mode = setid::chmod_mode(mode, group, ctx);
            }
            match &hd {
                Some(h) => sys::fchmod(h.file.as_fd(), mode)?,
                // An O_PATH descriptor cannot be fchmod'ed; its /proc link can be, without
                // opening the file.
                None => sys::fchmodat(self.proc_self_fd(), fd_name.relative(), mode, 0)?,
            }
        }

        if valid.intersects(SetattrValid::UID | SetattrValid::GID) {
            let uid = if valid.contains(SetattrValid::UID) {
                attr.st_uid
            } else {
                u32::MAX
            };
            let gid = if valid.contains(SetattrValid::GID) {
                attr.st_gid
            } else {
                u32::MAX
            };
            sys::fchownat(
                fd.as_fd(),
                c"",
                uid,
                gid,
                libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            )?;
            // The host cleared set-user-ID, and set-group-ID if group-executable, as it
            // does for any chown of a non-directory; an unprivileged caller outside the
            // file's old group loses set-group-ID too.
            if let Some(st) = &before {
                let ftype = st.st_mode & libc::S_IFMT;
                if ftype != libc::S_IFDIR
                    && ftype != libc::S_IFLNK
                    && st.st_mode & libc::S_ISGID != 0
                    && !setid::caller_in_group(ctx, st.st_gid)
                {
                    let now = sys::fstat64(fd.as_fd())?.st_mode & 0o7777;
                    sys::fchmodat(
                        self.proc_self_fd(),
                        fd_name.relative(),
                        now & !libc::S_ISGID,
                        0,
                    )?;
                }
            }
        }

        if valid.contains(SetattrValid::SIZE) {
            let size = u64::try_from(attr.st_size).map_err(|_| super::super::err(libc::EINVAL))?;
            let opened;
            let file = match &hd {
                Some(h) => &h.file,
                None => {
                    opened = self.open_for_truncate(&data)?;
                    &opened
                }
            };
            if self.config().seal_size {
                let cur = sys::fstat64(file.as_fd())?.st_size as u64;
                if cur != size {
                    debug!("seal_size: refusing truncate of inode {inode} to {size}");
                    return Err(err(libc::EPERM));
                }
            }
            // With HANDLE_KILLPRIV_V2 the kernel asks for this when the caller lacks
            // CAP_FSETID; without it, it sent a MODE (handled above). The KILL_SUIDGID it
            // adds to a chown is handled with the chown.
            if valid.contains(SetattrValid::KILL_SUIDGID) && self.killpriv_v2_enabled() {
                setid::kill_suidgid(file.as_fd(), ctx, false)?;
            }
            file.set_len(size)?;
        }

        if valid.intersects(
            SetattrValid::ATIME
                | SetattrValid::MTIME
                | SetattrValid::ATIME_NOW
                | SetattrValid::MTIME_NOW,
        ) {
            let times = [
                time_spec(
                    valid.contains(SetattrValid::ATIME),
                    valid.contains(SetattrValid::ATIME_NOW),
                    attr.st_atime,
                    attr.st_atime_nsec,
                ),
                time_spec(
                    valid.contains(SetattrValid::MTIME),
                    valid.contains(SetattrValid::MTIME_NOW),
                    attr.st_mtime,
                    attr.st_mtime_nsec,
                ),
            ];
            match &hd {
                Some(h) => sys::futimens(h.file.as_fd(), &times)?,
                None => sys::utimensat(self.proc_self_fd(), fd_name.relative(), &times, 0)?,
            }
        }

        let st = match &hd {
            Some(h) => sys::fstat64(h.file.as_fd())?,
            None => sys::fstat64(fd.as_fd())?,
        };
        Ok((st, self.attr_timeout(&st)))
    }

    pub(crate) fn do_statx(
        &self,
        inode: u64,
        handle: Option<u64>,
        flags: u32,
        mask: u32,
    ) -> io::Result<(libc::statx, Duration)> {
        let sync = flags as libc::c_int & libc::AT_STATX_SYNC_TYPE;
        let at = libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW | sync;
        let stx = match handle.and_then(|h| self.handles.get(h, inode)) {
            Some(h) => sys::statx(h.file.as_fd(), c"", at, mask)?,
            None => {
                let data = self.inode_data(inode)?;
                let fd = self.inode_fd(&data)?;
                sys::statx(fd.as_fd(), c"", at, mask)?
            }
        };
        let timeout = self.timeouts(u32::from(stx.stx_mode)).0;
        Ok((stx, timeout))
    }

    pub(crate) fn do_readlink(&self, inode: u64) -> io::Result<Vec<u8>> {
        let data = self.inode_data(inode)?;
        if data.file_type() != libc::S_IFLNK {
            return Err(super::super::err(libc::EINVAL));
        }
        let fd = self.inode_fd(&data)?;
        let mut buf = vec![0u8; libc::PATH_MAX as usize];
        let n = sys::readlinkat(fd.as_fd(), c"", &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    pub(crate) fn do_statfs(&self, inode: u64) -> io::Result<libc::statvfs64> {
        let data = self.inode_data(inode)?;
        let fd = self.inode_fd(&data)?;
        sys::fstatvfs64(fd.as_fd())
    }

    /// Checks `mask` against the file as the caller: the thread's fsuid/fsgid are switched
    /// and `faccessat2(AT_EACCESS)` evaluates permissions with them. A root caller is
    /// checked as root (which still needs an execute bit for X_OK on files).
    pub(crate) fn do_access(&self, ctx: &Context, inode: u64, mask: u32) -> io::Result<()> {
        let data = self.inode_data(inode)?;
        let fd = self.inode_fd(&data)?;
        let mask = mask as libc::c_int & (libc::R_OK | libc::W_OK | libc::X_OK);
        let _creds = CredentialsGuard::new(ctx.uid, ctx.gid, None)?;
        match sys::faccessat2(
            fd.as_fd(),
            c"",
            mask,
            libc::AT_EMPTY_PATH | libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW,
        ) {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                let st = sys::fstat64(fd.as_fd())?;
                emulate_access(&st, ctx, mask)
            }
            other => other,
        }
    }
}

/// Mode-bit permission check for kernels without `faccessat2`.
fn emulate_access(st: &libc::stat64, ctx: &Context, mask: libc::c_int) -> io::Result<()> {
    let mask = mask as u32;
    if mask == 0 {
        return Ok(());
    }
    if ctx.uid == 0 {
        let any_x = st.st_mode & (libc::S_IXUSR | libc::S_IXGRP | libc::S_IXOTH) != 0;
        let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        if mask & libc::X_OK as u32 != 0 && !any_x && !is_dir {
            return Err(err(libc::EACCES));
        }
        return Ok(());
    }
    let bits = if st.st_uid == ctx.uid {
        (st.st_mode >> 6) & 7
    } else if st.st_gid == ctx.gid {
        (st.st_mode >> 3) & 7
    } else {
        st.st_mode & 7
    };
    if bits & mask == mask {
        Ok(())
    } else {
        Err(err(libc::EACCES))
    }
}
