//! Per-request state: the decoded header, the caller's context, and the reader/writer,
//! with the helpers that decode arguments and encode replies.

use std::ffi::CStr;
use std::io::{self, Read, Write};
use std::mem::size_of;

use vm_memory::bitmap::BitmapSlice;
use vm_memory::ByteValued;

use super::validate::{Limits, Validate};
use super::{Negotiated, OUT_HEADER_LEN};
use crate::abi::fuse_abi::{ExtHeader, InHeader, Opcode, OutHeader, SuppGroups, FUSE_EXT_GROUPS};
use crate::api::filesystem::Context;
use crate::buffer::{Reader, Writer};
use crate::errno::err;
use crate::{errno_of, Error, Result};

/// Room for the names of one request: two NUL-terminated strings of up to PATH_MAX.
pub(super) const NAME_BUF_LEN: usize = 2 * (super::MAX_NAME_LEN + 1);

pub(super) struct SrvContext<'r, 'w, S: BitmapSlice> {
    h: InHeader,
    pub(super) ctx: Context,
    pub(super) r: Reader<'r, S>,
    pub(super) w: Writer<'w, S>,
    out: Option<OutHeader>,
    /// Payload sizes negotiated at INIT, for [`Validate`].
    max_read: u32,
    max_write: u32,
    /// FORGET, BATCH_FORGET and NOTIFY_REPLY are never answered, not even when malformed
    /// (the kernel has no request waiting for them).
    noreply: bool,
}

impl<'r, 'w, S: BitmapSlice> SrvContext<'r, 'w, S> {
    pub(super) fn new(h: InHeader, r: Reader<'r, S>, w: Writer<'w, S>) -> Self {
        let noreply = matches!(
            Opcode::try_from_u32(h.opcode),
            Ok(Opcode::Forget | Opcode::BatchForget | Opcode::NotifyReply)
        );
        SrvContext {
            h,
            ctx: Context::from(&h),
            r,
            w,
            out: None,
            max_read: 0,
            max_write: 0,
            noreply,
        }
    }

    /// Records what INIT negotiated, which arguments are checked against.
    pub(super) fn set_negotiated(&mut self, neg: &Negotiated) {
        self.max_read = neg.max_read;
        self.max_write = neg.max_write;
    }

    fn limits(&self) -> Limits {
        Limits {
            op: Opcode::try_from_u32(self.h.opcode).unwrap_or(Opcode::CuseInit),
            max_read: self.max_read,
            max_write: self.max_write,
            body: self.r.available_bytes(),
            reply_space: self.reply_space(),
        }
    }

    pub(super) fn header(&self) -> InHeader {
        self.h
    }

    pub(super) fn nodeid(&self) -> u64 {
        self.h.nodeid
    }

    pub(super) fn out_header(&self) -> Option<&OutHeader> {
        self.out.as_ref()
    }

    /// Restricts the reader to the `body` bytes that `len` announced.
    pub(super) fn limit_body(&mut self, body: usize) -> Result<()> {
        if self.r.available_bytes() > body {
            // The tail is beyond the request; drop it.
            if let Err(e) = self.r.split_at(body) {
                return self
                    .reject(libc::EINVAL, reader_split_failed(e))
                    .map(|_| ());
            }
        }
        Ok(())
    }

    /// Splits off the request extensions (`total_extlen`, since 7.38) and applies the ones
    /// we understand (the supplementary group of FUSE_CREATE_SUPP_GROUP).
    pub(super) fn take_extensions(&mut self) -> Result<()> {
        let ext_len = self.h.total_extlen() as usize * 8;
        if ext_len == 0 {
            return Ok(());
        }
        let avail = self.r.available_bytes();
        let Some(args_len) = avail.checked_sub(ext_len) else {
            log::debug!(
                "unique={}: extensions longer than the request (len {})",
                self.h.unique,
                self.h.len
            );
            return self
                .reject(libc::EINVAL, Error::InvalidHeaderLength)
                .map(|_| ());
        };
        let mut ext = match self.r.split_at(args_len) {
            Ok(ext) => ext,
            Err(e) => {
                return self
                    .reject(libc::EINVAL, reader_split_failed(e))
                    .map(|_| ())
            }
        };
        while ext.available_bytes() >= size_of::<ExtHeader>() {
            let eh: ExtHeader = ext.read_obj().map_err(Error::DecodeMessage)?;
            let size = eh.size as usize;
            let Some(payload) = size.checked_sub(size_of::<ExtHeader>()) else {
                return self
                    .reject(libc::EINVAL, Error::DecodeMessage(err(libc::EINVAL)))
                    .map(|_| ());
            };
            if payload > ext.available_bytes() {
                return self
                    .reject(libc::EINVAL, Error::DecodeMessage(err(libc::EINVAL)))
                    .map(|_| ());
            }
            let rest = match ext.split_at(payload) {
                Ok(rest) => rest,
                Err(e) => {
                    return self
                        .reject(libc::EINVAL, reader_split_failed(e))
                        .map(|_| ())
                }
            };
            let mut item = std::mem::replace(&mut ext, rest);
            if eh.type_ == FUSE_EXT_GROUPS && payload >= size_of::<SuppGroups>() + 4 {
                let g: SuppGroups = item.read_obj().map_err(Error::DecodeMessage)?;
                if g.nr_groups >= 1 {
                    let gid: u32 = item.read_obj().map_err(Error::DecodeMessage)?;
                    self.ctx.supp_gid = Some(gid);
                }
            }
        }
        Ok(())
    }

    /// Reads the operation's fixed argument and checks it ([`Validate`]); a short body or
    /// a value beyond the protocol's limits is answered with an errno reply.
    pub(super) fn arg<T: ByteValued + Default + Validate>(&mut self) -> Result<T> {
        let v = match self.r.read_obj::<T>() {
            Ok(v) => v,
            Err(e) => {
                self.reply_error(libc::EINVAL)?;
                return Err(Error::DecodeMessage(e));
            }
        };
        if let Err((errno, err)) = v.validate(&self.limits()) {
            self.reply_error(errno)?;
            return Err(err);
        }
        Ok(v)
    }

    /// Like [`arg`](Self::arg) for requests that must never be answered.
    pub(super) fn arg_noreply<T: ByteValued + Default + Validate>(&mut self) -> Result<T> {
        let v = self.r.read_obj::<T>().map_err(Error::DecodeMessage)?;
        v.validate(&self.limits()).map_err(|(_, err)| err)?;
        Ok(v)
    }

    /// Reads the rest of the body (names) into `buf`; a body longer than `buf` is answered
    /// with ENAMETOOLONG.
    pub(super) fn rest<'b>(&mut self, buf: &'b mut [u8]) -> Result<&'b [u8]> {
        let n = self.r.available_bytes();
        if n > buf.len() {
            self.reply_error(libc::ENAMETOOLONG)?;
            return Err(Error::DecodeMessage(io::Error::from_raw_os_error(
                libc::ENAMETOOLONG,
            )));
        }
        self.r
            .read_exact(&mut buf[..n])
            .map_err(Error::DecodeMessage)?;
        Ok(&buf[..n])
    }

    /// The single NUL-terminated name that makes up the rest of the body.
    pub(super) fn name<'b>(&mut self, buf: &'b mut [u8]) -> Result<&'b CStr> {
        let body = self.rest(buf)?;
        match first_cstr(body) {
            Some((name, _)) => Ok(name),
            None => self.bad_cstr(body),
        }
    }

    /// Two consecutive NUL-terminated names.
    pub(super) fn two_names<'b>(&mut self, buf: &'b mut [u8]) -> Result<(&'b CStr, &'b CStr)> {
        let body = self.rest(buf)?;
        if let Some((first, rest)) = first_cstr(body) {
            if let Some((second, _)) = first_cstr(rest) {
                return Ok((first, second));
            }
        }
        self.bad_cstr(body)
    }

    fn bad_cstr<T>(&mut self, body: &[u8]) -> Result<T> {
        self.reply_error(libc::EINVAL)?;
        let err = CStr::from_bytes_with_nul(body)
            .err()
            .map(Error::InvalidCString)
            .unwrap_or(Error::MissingParameter);
        Err(err)
    }

    /// Answers with `errno` and returns `err` to the caller of `handle_message`.
    pub(super) fn reject(&mut self, errno: i32, err: Error) -> Result<usize> {
        self.reply_error(errno)?;
        Err(err)
    }

    /// Sends a reply carrying only an error.
    pub(super) fn reply_error(&mut self, errno: i32) -> Result<usize> {
        log::debug!("reply unique={} error={}", self.h.unique, errno);
        let oh = OutHeader {
            len: OUT_HEADER_LEN as u32,
            error: -errno,
            unique: self.h.unique,
        };
        self.send(oh, &[], None)
    }

    /// Sends the errno of `e`.
    pub(super) fn reply_io_error(&mut self, e: &io::Error) -> Result<usize> {
        self.reply_error(errno_of(e))
    }

    /// Sends a successful reply: the header, then `out` (if any), then `data`.
    pub(super) fn reply_ok<T: ByteValued>(&mut self, out: Option<T>, data: &[u8]) -> Result<usize> {
        let body = out.as_ref().map_or(&[][..], |o| o.as_slice());
        self.reply_parts(body, data)
    }

    /// Sends a successful reply made of two byte strings.
    pub(super) fn reply_parts(&mut self, a: &[u8], b: &[u8]) -> Result<usize> {
        let len = OUT_HEADER_LEN + a.len() + b.len();
        let oh = OutHeader {
            len: len as u32,
            error: 0,
            unique: self.h.unique,
        };
        self.send(oh, a, Some(b))
    }

    /// Maps an `io::Result<()>` to an empty reply or an errno reply.
    pub(super) fn reply_empty(&mut self, res: io::Result<()>) -> Result<usize> {
        match res {
            Ok(()) => self.reply_ok::<u8>(None, &[]),
            Err(e) => self.reply_io_error(&e),
        }
    }

    /// Sends the header followed by a body that was already written into `data`, a writer
    /// split from ours at `OUT_HEADER_LEN`.
    pub(super) fn reply_with_split(
        &mut self,
        prefix: &[u8],
        data: &Writer<'w, S>,
    ) -> Result<usize> {
        let len = OUT_HEADER_LEN + prefix.len() + data.bytes_written();
        let oh = OutHeader {
            len: len as u32,
            error: 0,
            unique: self.h.unique,
        };
        self.w
            .write_all(oh.as_slice())
            .and_then(|_| self.w.write_all(prefix))
            .map_err(Error::EncodeMessage)?;
        self.out = Some(oh);
        self.w.commit(Some(data)).map_err(Error::EncodeMessage)
    }

    fn send(&mut self, oh: OutHeader, a: &[u8], b: Option<&[u8]>) -> Result<usize> {
        if self.noreply {
            return Ok(0);
        }
        let w = &mut self.w;
        w.write_all(oh.as_slice()).map_err(Error::EncodeMessage)?;
        w.write_all(a).map_err(Error::EncodeMessage)?;
        if let Some(b) = b {
            w.write_all(b).map_err(Error::EncodeMessage)?;
        }
        self.out = Some(oh);
        w.commit(None).map_err(Error::EncodeMessage)
    }

    /// Splits the writer after the reply header, for bodies of unknown length.
    pub(super) fn split_body(&mut self, after: usize) -> Result<Writer<'w, S>> {
        self.w
            .split_at(OUT_HEADER_LEN + after)
            .map_err(Error::FailedToSplitWriter)
    }

    /// Space for the reply body.
    pub(super) fn reply_space(&self) -> usize {
        self.w.available_bytes().saturating_sub(OUT_HEADER_LEN)
    }
}

/// The error of a request reader that could not be split where the request's own lengths
/// say it can (the request is shorter than announced): a decode failure, not a failure to
/// split the reply writer ([`Error::FailedToSplitWriter`]).
fn reader_split_failed(e: crate::buffer::Error) -> Error {
    Error::DecodeMessage(io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Splits `buf` at its first NUL: the C string up to and including it, and the rest.
fn first_cstr(buf: &[u8]) -> Option<(&CStr, &[u8])> {
    let pos = buf.iter().position(|&b| b == 0)?;
    let s = CStr::from_bytes_with_nul(&buf[..=pos]).ok()?;
    Some((s, &buf[pos + 1..]))
}

#[cfg(test)]
mod tests {
    use super::first_cstr;

    #[test]
    fn cstr_splitting() {
        let (a, rest) = first_cstr(b"ab\0cd\0").unwrap();
        assert_eq!(a.to_bytes(), b"ab");
        let (b, rest) = first_cstr(rest).unwrap();
        assert_eq!(b.to_bytes(), b"cd");
        assert!(rest.is_empty());
        assert!(first_cstr(b"abc").is_none());
        assert_eq!(first_cstr(b"\0").unwrap().0.to_bytes(), b"");
    }
}
