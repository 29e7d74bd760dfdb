//! Extended attributes.

use vm_memory::bitmap::BitmapSlice;

use super::context::{SrvContext, NAME_BUF_LEN};
use super::{Negotiated, Server};
use crate::abi::fuse_abi::{
    FsOptions, GetxattrIn, GetxattrOut, SetxattrFlags, SetxattrIn, SetxattrInExt,
};
use crate::api::filesystem::{FileSystem, GetxattrReply, ListxattrReply};
use crate::{Error, Result};

impl<F: FileSystem + Sync> Server<F> {
    pub(super) fn setxattr<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
        neg: &Negotiated,
    ) -> Result<usize> {
        // Without SETXATTR_EXT the kernel sends the 8-byte SetxattrIn.
        let arg = if neg.flags.contains(FsOptions::SETXATTR_EXT) {
            c.arg::<SetxattrInExt>()?
        } else {
            SetxattrInExt::from(c.arg::<SetxattrIn>()?)
        };
        // Checked: size <= XATTR_SIZE_MAX and the name before the value <= PATH_MAX, so
        // the body is bounded. Body: name, NUL, value (`size` bytes).
        let avail = c.r.available_bytes();
        let mut body = vec![0u8; avail];
        std::io::Read::read_exact(&mut c.r, &mut body).map_err(Error::DecodeMessage)?;
        let Some(nul) = body.iter().position(|&b| b == 0) else {
            // The name is not NUL-terminated (with no NUL at all, `from_bytes_with_nul`
            // can only fail).
            let e = std::ffi::CStr::from_bytes_with_nul(&body)
                .err()
                .map_or(Error::MissingParameter, Error::InvalidCString);
            return c.reject(libc::EINVAL, e);
        };
        let value = &body[nul + 1..];
        if value.len() != arg.size as usize {
            return c.reject(
                libc::EINVAL,
                Error::InvalidXattrSize((arg.size, value.len())),
            );
        }
        let name = match std::ffi::CStr::from_bytes_with_nul(&body[..=nul]) {
            Ok(n) => n,
            Err(e) => return c.reject(libc::EINVAL, Error::InvalidCString(e)),
        };
        let xflags = SetxattrFlags::from_bits_truncate(arg.setxattr_flags);
        let res = (self.fs).setxattr_ext(&c.ctx, c.nodeid().into(), name, value, arg.flags, xflags);
        c.reply_empty(res)
    }

    pub(super) fn getxattr<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        // Checked: size <= XATTR_SIZE_MAX, so a driver never sizes a buffer beyond it.
        let arg: GetxattrIn = c.arg()?;
        let mut buf = [0u8; NAME_BUF_LEN];
        let name = c.name(&mut buf)?;
        match self.fs.getxattr(&c.ctx, c.nodeid().into(), name, arg.size) {
            // A size query must be answered with fuse_getxattr_out, even by a driver that
            // returned the value itself.
            Ok(GetxattrReply::Value(v)) if arg.size == 0 => c.reply_ok(
                Some(GetxattrOut {
                    size: v.len() as u32,
                    padding: 0,
                }),
                &[],
            ),
            Ok(GetxattrReply::Value(v)) if v.len() > arg.size as usize => {
                c.reply_error(libc::ERANGE)
            }
            Ok(GetxattrReply::Value(v)) if v.len() > c.reply_space() => c.reply_error(libc::E2BIG),
            Ok(GetxattrReply::Value(v)) => c.reply_parts(&v, &[]),
            Ok(GetxattrReply::Count(n)) => c.reply_ok(
                Some(GetxattrOut {
                    size: n,
                    padding: 0,
                }),
                &[],
            ),
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn listxattr<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        // Checked: size <= XATTR_LIST_MAX.
        let arg: GetxattrIn = c.arg()?;
        match self.fs.listxattr(&c.ctx, c.nodeid().into(), arg.size) {
            Ok(ListxattrReply::Names(v)) if arg.size == 0 => c.reply_ok(
                Some(GetxattrOut {
                    size: v.len() as u32,
                    padding: 0,
                }),
                &[],
            ),
            Ok(ListxattrReply::Names(v)) if v.len() > arg.size as usize => {
                c.reply_error(libc::ERANGE)
            }
            Ok(ListxattrReply::Names(v)) if v.len() > c.reply_space() => c.reply_error(libc::E2BIG),
            Ok(ListxattrReply::Names(v)) => c.reply_parts(&v, &[]),
            Ok(ListxattrReply::Count(n)) => c.reply_ok(
                Some(GetxattrOut {
                    size: n,
                    padding: 0,
                }),
                &[],
            ),
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn removexattr<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
    ) -> Result<usize> {
        let mut buf = [0u8; NAME_BUF_LEN];
        let name = c.name(&mut buf)?;
        let res = self.fs.removexattr(&c.ctx, c.nodeid().into(), name);
        c.reply_empty(res)
    }
}
