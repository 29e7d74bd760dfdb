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
use crate::api::filesystem::{GetxattrReply, ListxattrReply};
use crate::sys;

fn enosys() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOSYS)
}

impl<S: BitmapSlice + Send + Sync> PassthroughFs<S> {
    /// Runs `op` with the `/proc/self/fd/N` path of `inode`.
    fn with_proc_path<T>(
        &self,
        inode: u64,
        op: impl FnOnce(&CStr) -> io::Result<T>,
    ) -> io::Result<T> {
        if !self.config().xattr {
            return Err(enosys());
        }
        let data = self.inode_data(inode)?;
        let fd = self.inode_fd(&data)?;
        let name = FdName::new(fd.as_fd());
        op(name.absolute())
    }

    pub(crate) fn do_setxattr(
        &self,
        inode: u64,
        name: &CStr,
        value: &[u8],
        flags: u32,
    ) -> io::Result<()> {
        self.with_proc_path(inode, |path| {
            sys::setxattr(path, name, value, flags as libc::c_int)
        })
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
            let mut buf = vec![0u8; size as usize];
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
            let mut buf = vec![0u8; size as usize];
            let n = sys::listxattr(path, &mut buf)?;
            buf.truncate(n);
            Ok(ListxattrReply::Names(buf))
        })
    }

    pub(crate) fn do_removexattr(&self, inode: u64, name: &CStr) -> io::Result<()> {
        self.with_proc_path(inode, |path| sys::removexattr(path, name))
    }
}
