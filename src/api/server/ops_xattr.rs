//! Extended attributes.

use vm_memory::bitmap::BitmapSlice;

use super::context::{SrvContext, NAME_BUF_LEN};
use super::{Negotiated, Server};
use crate::abi::fuse_abi::{
    FsOptions, GetxattrIn, GetxattrOut, SetxattrIn, FUSE_COMPAT_SETXATTR_IN_SIZE,
};
use crate::api::filesystem::{FileSystem, GetxattrReply, ListxattrReply};
use crate::{Error, Result};

/// Largest xattr value the kernel sends (XATTR_SIZE_MAX).
const XATTR_SIZE_MAX: usize = 65536;

impl<F: FileSystem + Sync> Server<F> {
    pub(super) fn setxattr<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
        neg: &Negotiated,
    ) -> Result<usize> {
        // Without SETXATTR_EXT the kernel sends the 8-byte compat struct.
        let arg = if neg.flags.contains(FsOptions::SETXATTR_EXT) {
            c.arg::<SetxattrIn>()?
        } else {
            let compat: [u32; 2] = c.arg()?;
            debug_assert_eq!(std::mem::size_of_val(&compat), FUSE_COMPAT_SETXATTR_IN_SIZE);
            SetxattrIn {
                size: compat[0],
                flags: compat[1],
                ..Default::default()
            }
        };
        let avail = c.r.available_bytes();
        if avail > NAME_BUF_LEN + XATTR_SIZE_MAX || arg.size as usize > XATTR_SIZE_MAX {
            return c.reject(libc::E2BIG, Error::InvalidXattrSize(arg.size, avail));
        }
        // Body: name, NUL, value (`size` bytes).
        let mut body = vec![0u8; avail];
        std::io::Read::read_exact(&mut c.r, &mut body).map_err(Error::DecodeMessage)?;
        let Some(nul) = body.iter().position(|&b| b == 0) else {
            return c.reject(libc::EINVAL, Error::MissingParameter);
        };
        let value = &body[nul + 1..];
        if value.len() != arg.size as usize {
            return c.reject(libc::EINVAL, Error::InvalidXattrSize(arg.size, value.len()));
        }
        let name = match std::ffi::CStr::from_bytes_with_nul(&body[..=nul]) {
            Ok(n) => n,
            Err(e) => return c.reject(libc::EINVAL, Error::InvalidCString(e)),
        };
        let res = self
            .fs
            .setxattr(&c.ctx, c.nodeid().into(), name, value, arg.flags);
        c.reply_empty(res)
    }

    pub(super) fn getxattr<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
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
