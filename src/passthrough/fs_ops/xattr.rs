//! Extended attributes: SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR.
//!
//! All four go through the inode's `/proc/self/fd/N` path, which reaches exactly the
//! inode behind the descriptor (an `O_PATH` one included) without opening it, so FIFOs and
//! device nodes are never opened and symlinks get their own attributes. POSIX ACLs pass
//! through unchanged as `system.posix_acl_access`/`system.posix_acl_default`.
//! With `Config::xattr` off, every operation answers ENOSYS, which tells the kernel to
//! stop asking.

use std::ffi::CStr;
use std::io;
use std::os::fd::AsFd;

use vm_memory::bitmap::BitmapSlice;

use super::super::{FdName, PassthroughFs};
use super::setid;
use crate::api::filesystem::{Context, GetxattrReply, ListxattrReply, SetxattrFlags};
use crate::api::server::{XATTR_LIST_MAX, XATTR_SIZE_MAX};
use crate::errno::err;
use crate::sys;

const ACL_ACCESS: &CStr = c"system.posix_acl_access";

impl<S: BitmapSlice + Send + Sync> PassthroughFs<S> {
    /// Runs `op` with the `/proc/self/fd/N` path of `inode`.
    fn with_proc_path<T>(
        &self,
        inode: u64,
        op: impl FnOnce(&CStr) -> io::Result<T>,
    ) -> io::Result<T> {
        if !self.config().xattr {
            return Err(err(libc::ENOSYS));
        }
        let data = self.inode_data(inode)?;
        let fd = self.inode_fd(&data)?;
        let name = FdName::new(fd.as_fd());
        op(name.absolute())
    }

    /// Sets `name` to `value`. Setting an access ACL for a caller outside the file's
    /// group drops set-group-ID, as `posix_acl_update_mode` does on a local filesystem
    /// (the host, acting for root, keeps it). With SETXATTR_EXT the kernel decides that
    /// (ACL_KILL_SGID); without it the driver does (see `setid`).
    pub(crate) fn do_setxattr(
        &self,
        ctx: &Context,
        inode: u64,
        name: &CStr,
        value: &[u8],
        flags: u32,
        setxattr_flags: SetxattrFlags,
    ) -> io::Result<()> {
        self.with_proc_path(inode, |path| {
            sys::setxattr(path, name, value, flags as libc::c_int)
        })?;
        if name != ACL_ACCESS || value.is_empty() {
            return Ok(());
        }
        let data = self.inode_data(inode)?;
        let fd = self.inode_fd(&data)?;
        let st = sys::fstat64(fd.as_fd())?;
        if st.st_mode & libc::S_ISGID == 0 {
            return Ok(());
        }
        let kill = if self.setxattr_ext_enabled() {
            setxattr_flags.contains(SetxattrFlags::ACL_KILL_SGID)
        } else {
            setid::chmod_mode(st.st_mode, st.st_gid, ctx) != st.st_mode
        };
        if kill {
            let fd_name = FdName::new(fd.as_fd());
            let mode = st.st_mode & 0o7777 & !libc::S_ISGID;
            sys::fchmodat(self.proc_self_fd(), fd_name.relative(), mode, 0)?;
        }
        Ok(())
    }

    pub(crate) fn do_getxattr(
        &self,
        inode: u64,
        name: &CStr,
        size: u32,
    ) -> io::Result<GetxattrReply> {
        self.with_proc_path(inode, |path| {
            if size == 0 {
                let n = sys::getxattr(path, name, &mut [])?;
                return Ok(GetxattrReply::Count(n as u32));
            }
            // The server refuses larger sizes; a direct caller gets no more either.
            let mut buf = vec![0u8; size.min(XATTR_SIZE_MAX) as usize];
            let n = sys::getxattr(path, name, &mut buf)?;
            buf.truncate(n);
            Ok(GetxattrReply::Value(buf))
        })
    }

    pub(crate) fn do_listxattr(&self, inode: u64, size: u32) -> io::Result<ListxattrReply> {
        self.with_proc_path(inode, |path| {
            if size == 0 {
                let n = sys::listxattr(path, &mut [])?;
                return Ok(ListxattrReply::Count(n as u32));
            }
            let mut buf = vec![0u8; size.min(XATTR_LIST_MAX) as usize];
            let n = sys::listxattr(path, &mut buf)?;
            buf.truncate(n);
            Ok(ListxattrReply::Names(buf))
        })
    }

    pub(crate) fn do_removexattr(&self, inode: u64, name: &CStr) -> io::Result<()> {
        self.with_proc_path(inode, |path| sys::removexattr(path, name))
    }
}
