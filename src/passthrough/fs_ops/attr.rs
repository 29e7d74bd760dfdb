//! Attributes: GETATTR, SETATTR, STATX, READLINK, STATFS, ACCESS.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use log::debug;
use vm_memory::bitmap::BitmapSlice;

use super::super::credentials::CredentialsGuard;
use super::super::inode_store::InodeData;
use super::super::{FdName, PassthroughFs};
use crate::api::filesystem::{Context, SetattrValid};
use crate::sys;

fn eperm() -> io::Error {
    io::Error::from_raw_os_error(libc::EPERM)
}

/// Clears set-user-ID, and set-group-ID when group execution is allowed, as the kernel does
/// for an unprivileged writer (FUSE_HANDLE_KILLPRIV_V2 leaves this to the server).
pub(crate) fn kill_suidgid(fd: BorrowedFd<'_>) -> io::Result<()> {
    let st = sys::fstat64(fd)?;
    let mode = st.st_mode;
    let mut kill = mode & libc::S_ISUID;
    if mode & (libc::S_ISGID | libc::S_IXGRP) == (libc::S_ISGID | libc::S_IXGRP) {
        kill |= libc::S_ISGID;
    }
    if kill != 0 && mode & libc::S_IFMT == libc::S_IFREG {
        sys::fchmod(fd, mode & 0o7777 & !kill)?;
    }
    Ok(())
}

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
            return Err(io::Error::from_raw_os_error(libc::EISDIR));
        }
        self.reopen(data, libc::O_WRONLY | libc::O_NONBLOCK)
    }

    pub(crate) fn do_setattr(
        &self,
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

        if valid.contains(SetattrValid::MODE) {
            let mode = attr.st_mode & 0o7777;
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
        }

        if valid.contains(SetattrValid::SIZE) {
            let size = u64::try_from(attr.st_size).map_err(|_| super::super::einval())?;
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
                    return Err(eperm());
                }
            }
            if valid.contains(SetattrValid::KILL_SUIDGID) && self.killpriv_v2_enabled() {
                kill_suidgid(file.as_fd())?;
            }
            file.set_len(size)?;
        } else if valid.contains(SetattrValid::KILL_SUIDGID)
            && self.killpriv_v2_enabled()
            && data.is_reg()
        {
            if let Some(h) = &hd {
                kill_suidgid(h.file.as_fd())?;
            }
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
        if data.file_type != libc::S_IFLNK {
            return Err(super::super::einval());
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
            return Err(io::Error::from_raw_os_error(libc::EACCES));
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
        Err(io::Error::from_raw_os_error(libc::EACCES))
    }
}
