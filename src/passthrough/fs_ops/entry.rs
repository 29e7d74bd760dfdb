//! Operations on names: MKNOD, MKDIR, SYMLINK, LINK, UNLINK, RMDIR, RENAME.
//!
//! Creations run with the caller's fsuid/fsgid (and supplementary group) and umask, then
//! look the new name up to return its entry.

use std::ffi::CStr;
use std::io;
use std::os::fd::AsFd;

use log::debug;
use vm_memory::bitmap::BitmapSlice;

use super::super::credentials::{CredentialsGuard, UmaskGuard};
use super::super::{check_name, FdName, PassthroughFs};
use crate::api::filesystem::{Context, Entry};
use crate::errno::err;
use crate::sys;

impl<S: BitmapSlice + Send + Sync> PassthroughFs<S> {
    /// Runs `op` in `parent` with the caller's credentials and umask, then looks `name` up.
    fn create_entry(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        umask: Option<u32>,
        op: impl FnOnce(std::os::fd::BorrowedFd<'_>, &UmaskGuard) -> io::Result<()>,
    ) -> io::Result<Entry> {
        check_name(name)?;
        let p = self.inode_data(parent)?;
        let pfd = self.inode_fd(&p)?;
        {
            let _creds = CredentialsGuard::new(ctx.uid, ctx.gid, ctx.supp_gid)?;
            let um = UmaskGuard::new(umask.unwrap_or(0));
            op(pfd.as_fd(), &um)?;
        }
        self.do_lookup(parent, name)
    }

    pub(crate) fn do_mknod(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        mode: u32,
        rdev: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        self.create_entry(ctx, parent, name, Some(umask), |pfd, um| {
            sys::mknodat(pfd, name, um.mode(mode), rdev as libc::dev_t)
        })
    }

    pub(crate) fn do_mkdir(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        mode: u32,
        umask: u32,
    ) -> io::Result<Entry> {
        self.create_entry(ctx, parent, name, Some(umask), |pfd, um| {
            sys::mkdirat(pfd, name, um.mode(mode))
        })
    }

    /// The target is stored as given: the daemon never resolves it, the client does.
    pub(crate) fn do_symlink(
        &self,
        ctx: &Context,
        linkname: &CStr,
        parent: u64,
        name: &CStr,
    ) -> io::Result<Entry> {
        if linkname.to_bytes().is_empty() {
            return Err(err(libc::ENOENT));
        }
        self.create_entry(ctx, parent, name, None, |pfd, _| {
            sys::symlinkat(linkname, pfd, name)
        })
    }

    /// Links through `/proc/self/fd/N` with `AT_SYMLINK_FOLLOW`: following that link
    /// reaches exactly the inode (a symlink inode included), never a path the client
    /// chose. Runs as the caller, so `fs.protected_hardlinks` applies to them.
    pub(crate) fn do_link(
        &self,
        ctx: &Context,
        inode: u64,
        newparent: u64,
        newname: &CStr,
    ) -> io::Result<Entry> {
        let data = self.inode_data(inode)?;
        if data.is_dir() {
            return Err(err(libc::EPERM));
        }
        let fd = self.inode_fd(&data)?;
        let fd_name = FdName::new(fd.as_fd());
        self.create_entry(ctx, newparent, newname, None, |pfd, _| {
            sys::linkat(
                self.proc_self_fd(),
                fd_name.relative(),
                pfd,
                newname,
                libc::AT_SYMLINK_FOLLOW,
            )
        })
    }

    pub(crate) fn do_unlink(&self, parent: u64, name: &CStr, flags: libc::c_int) -> io::Result<()> {
        check_name(name)?;
        let p = self.inode_data(parent)?;
        let pfd = self.inode_fd(&p)?;
        let pin = self.prepare_pin(pfd.as_fd(), name);
        sys::unlinkat(pfd.as_fd(), name, flags)?;
        self.pin_removed(pin);
        Ok(())
    }

    pub(crate) fn do_rename(
        &self,
        olddir: u64,
        oldname: &CStr,
        newdir: u64,
        newname: &CStr,
        flags: u32,
    ) -> io::Result<()> {
        check_name(oldname)?;
        check_name(newname)?;
        let known = libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE | libc::RENAME_WHITEOUT;
        if flags & !known != 0 {
            debug!("rename: unknown flags {flags:#x}");
            return Err(err(libc::EINVAL));
        }
        let od = self.inode_data(olddir)?;
        let nd = self.inode_data(newdir)?;
        let ofd = self.inode_fd(&od)?;
        let nfd = self.inode_fd(&nd)?;
        // A rename onto an existing name deletes the file that had it.
        let pin = if flags & (libc::RENAME_EXCHANGE | libc::RENAME_NOREPLACE) == 0 {
            self.prepare_pin(nfd.as_fd(), newname)
        } else {
            None
        };
        sys::renameat2(ofd.as_fd(), oldname, nfd.as_fd(), newname, flags)?;
        self.pin_removed(pin);
        Ok(())
    }
}
