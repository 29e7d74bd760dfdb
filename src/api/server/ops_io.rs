//! File I/O: open, read, write, locks, and the other operations on an open handle.

use std::io;

use vm_memory::bitmap::BitmapSlice;

use super::context::SrvContext;
use super::Server;
use crate::abi::fuse_abi::{
    CopyFileRangeIn, CopyFileRangeOut, FallocateIn, FlushIn, FsyncFlags, IoctlFlags, IoctlIn,
    IoctlOut, LkIn, LkOut, LseekIn, LseekOut, OpenIn, OpenOut, PollIn, PollOut, ReadFlags, ReadIn,
    ReleaseFlags, ReleaseIn, WriteFlags, WriteIn, WriteOut,
};
use crate::abi::virtio_fs::{RemovemappingIn, RemovemappingOne, SetupmappingIn};
use crate::api::filesystem::{FileSystem, ZeroCopyReader, ZeroCopyWriter};
use crate::buffer::{FsCacheReqHandler, Reader, Writer};
use crate::common::FileReadWriteVolatile;
use crate::{Error, Result};

impl<S: BitmapSlice> ZeroCopyReader for Reader<'_, S> {
    fn read_to(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        self.read_to_at(f, count, off)
    }
}

impl<S: BitmapSlice> ZeroCopyWriter for Writer<'_, S> {
    fn write_from(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        self.write_from_at(f, count, off)
    }

    fn available_bytes(&self) -> usize {
        Writer::available_bytes(self)
    }
}

impl<F: FileSystem + Sync> Server<F> {
    pub(super) fn open<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: OpenIn = c.arg()?;
        match self
            .fs
            .open(&c.ctx, c.nodeid().into(), arg.flags, arg.open_flags())
        {
            Ok((handle, opts, backing)) => {
                let out = OpenOut {
                    fh: handle.map_or(0, Into::into),
                    open_flags: opts.bits(),
                    passthrough: backing.unwrap_or(0),
                };
                c.reply_ok(Some(out), &[])
            }
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn opendir<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: OpenIn = c.arg()?;
        match self.fs.opendir(&c.ctx, c.nodeid().into(), arg.flags) {
            Ok((handle, opts)) => {
                let out = OpenOut {
                    fh: handle.map_or(0, Into::into),
                    open_flags: opts.bits(),
                    passthrough: 0,
                };
                c.reply_ok(Some(out), &[])
            }
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn read<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        // Checked: size within max_read and the reply space, offset an off_t.
        let arg: ReadIn = c.arg()?;
        let lock_owner = ReadFlags::from_bits_truncate(arg.read_flags)
            .contains(ReadFlags::LOCKOWNER)
            .then_some(arg.lock_owner);
        let mut data = c.split_body(0)?;
        // Give the driver room for `size` bytes only: a longer reply is refused by the
        // kernel as a whole.
        let _beyond = data
            .split_at(arg.size as usize)
            .map_err(Error::FailedToSplitWriter)?;
        let res = self.fs.read(
            &c.ctx,
            c.nodeid().into(),
            arg.fh.into(),
            &mut data,
            arg.size,
            arg.offset,
            lock_owner,
            arg.flags,
        );
        match res {
            // A driver cannot write more than the space it was given: `data` holds `size`.
            Ok(_) => c.reply_with_split(&[], &data),
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn write<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        // Checked: size within max_write and equal to the data present, offset + size an
        // off_t.
        let arg: WriteIn = c.arg()?;
        let wflags = WriteFlags::from_bits_truncate(arg.write_flags());
        let lock_owner = wflags
            .contains(WriteFlags::LOCKOWNER)
            .then_some(arg.lock_owner);
        let delayed = wflags.contains(WriteFlags::CACHE);
        let mut data = std::mem::take(&mut c.r);
        let res = self.fs.write(
            &c.ctx,
            c.nodeid().into(),
            arg.fh.into(),
            &mut data,
            arg.size,
            arg.offset,
            lock_owner,
            delayed,
            arg.flags,
            arg.write_flags(),
        );
        match res {
            Ok(n) => {
                let out = WriteOut {
                    size: n.min(arg.size as usize) as u32,
                    padding: 0,
                };
                c.reply_ok(Some(out), &[])
            }
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn release<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: ReleaseIn = c.arg()?;
        let rflags = ReleaseFlags::from_bits_truncate(arg.release_flags);
        let flush = rflags.contains(ReleaseFlags::FLUSH);
        let flock_release = rflags.contains(ReleaseFlags::FLOCK_UNLOCK);
        let lock_owner = (flush || flock_release).then_some(arg.lock_owner);
        let res = self.fs.release(
            &c.ctx,
            c.nodeid().into(),
            arg.flags,
            arg.fh.into(),
            flush,
            flock_release,
            lock_owner,
        );
        c.reply_empty(res)
    }

    pub(super) fn releasedir<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
    ) -> Result<usize> {
        let arg: ReleaseIn = c.arg()?;
        let res = self
            .fs
            .releasedir(&c.ctx, c.nodeid().into(), arg.flags, arg.fh.into());
        c.reply_empty(res)
    }

    pub(super) fn fsync<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
        dir: bool,
    ) -> Result<usize> {
        let arg: crate::abi::fuse_abi::FsyncIn = c.arg()?;
        let datasync =
            FsyncFlags::from_bits_truncate(arg.fsync_flags).contains(FsyncFlags::FDATASYNC);
        let res = if dir {
            self.fs
                .fsyncdir(&c.ctx, c.nodeid().into(), datasync, arg.fh.into())
        } else {
            self.fs
                .fsync(&c.ctx, c.nodeid().into(), datasync, arg.fh.into())
        };
        c.reply_empty(res)
    }

    pub(super) fn flush<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: FlushIn = c.arg()?;
        let res = self
            .fs
            .flush(&c.ctx, c.nodeid().into(), arg.fh.into(), arg.lock_owner);
        c.reply_empty(res)
    }

    pub(super) fn getlk<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: LkIn = c.arg()?;
        match self.fs.getlk(
            &c.ctx,
            c.nodeid().into(),
            arg.fh.into(),
            arg.owner,
            arg.lk.into(),
            arg.lk_flags,
        ) {
            Ok(lk) => c.reply_ok(Some(LkOut { lk: lk.into() }), &[]),
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn setlk<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
        wait: bool,
    ) -> Result<usize> {
        let arg: LkIn = c.arg()?;
        let (inode, fh) = (c.nodeid().into(), arg.fh.into());
        if wait {
            // A wait must not keep this thread: the unlock that ends it may need it.
            if let Some(sink) = c.w.take_late_reply() {
                let waiter = self.waits.register(c.header().unique, sink);
                self.fs.setlkw_deferred(
                    &c.ctx,
                    inode,
                    fh,
                    arg.owner,
                    arg.lk.into(),
                    arg.lk_flags,
                    waiter,
                );
                return Ok(0);
            }
        }
        let res = if wait {
            self.fs
                .setlkw(&c.ctx, inode, fh, arg.owner, arg.lk.into(), arg.lk_flags)
        } else {
            self.fs
                .setlk(&c.ctx, inode, fh, arg.owner, arg.lk.into(), arg.lk_flags)
        };
        c.reply_empty(res)
    }

    pub(super) fn fallocate<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: FallocateIn = c.arg()?;
        let res = self.fs.fallocate(
            &c.ctx,
            c.nodeid().into(),
            arg.fh.into(),
            arg.mode,
            arg.offset,
            arg.length,
        );
        c.reply_empty(res)
    }

    pub(super) fn lseek<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: LseekIn = c.arg()?;
        match self.fs.lseek(
            &c.ctx,
            c.nodeid().into(),
            arg.fh.into(),
            arg.offset,
            arg.whence,
        ) {
            Ok(offset) => c.reply_ok(Some(LseekOut { offset }), &[]),
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn copy_file_range<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
        wide: bool,
    ) -> Result<usize> {
        let arg: CopyFileRangeIn = c.arg()?;
        // The 32-bit reply of COPY_FILE_RANGE cannot report more than u32::MAX bytes.
        let len = if wide {
            arg.len
        } else {
            arg.len.min(u32::MAX as u64)
        };
        match self.fs.copy_file_range(
            &c.ctx,
            c.nodeid().into(),
            arg.fh_in.into(),
            arg.off_in(),
            arg.nodeid_out.into(),
            arg.fh_out.into(),
            arg.off_out(),
            len,
            arg.flags,
        ) {
            Ok(n) if wide => c.reply_ok(
                Some(CopyFileRangeOut {
                    bytes_copied: n as u64,
                }),
                &[],
            ),
            Ok(n) => c.reply_ok(
                Some(WriteOut {
                    size: n.min(u32::MAX as usize) as u32,
                    padding: 0,
                }),
                &[],
            ),
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn ioctl<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: IoctlIn = c.arg()?;
        let flags = IoctlFlags::from_bits_truncate(arg.flags);
        if flags.contains(IoctlFlags::UNRESTRICTED) {
            // Unrestricted ioctls need iovec retries; only CUSE uses them.
            return c.reply_error(libc::ENOSYS);
        }
        // Checked: in_size is the data present, out_size fits max_read and the reply.
        let in_size = arg.in_size as usize;
        let mut input = vec![0u8; in_size];
        std::io::Read::read_exact(&mut c.r, &mut input).map_err(Error::DecodeMessage)?;
        match self.fs.ioctl_with_arg(
            &c.ctx,
            c.nodeid().into(),
            arg.fh.into(),
            arg.flags,
            arg.cmd,
            arg.arg,
            &input,
            arg.out_size,
        ) {
            Ok(out) if out.data.len() > arg.out_size as usize => c.reply_error(libc::EOVERFLOW),
            Ok(out) => {
                let head = IoctlOut {
                    result: out.result,
                    flags: 0,
                    in_iovs: 0,
                    out_iovs: 0,
                };
                c.reply_ok(Some(head), &out.data)
            }
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn poll<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: PollIn = c.arg()?;
        match self.fs.poll(
            &c.ctx,
            c.nodeid().into(),
            arg.fh.into(),
            arg.kh.into(),
            arg.flags,
            arg.events,
        ) {
            Ok(revents) => c.reply_ok(
                Some(PollOut {
                    revents,
                    padding: 0,
                }),
                &[],
            ),
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn setupmapping<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
        vu_req: Option<&mut dyn FsCacheReqHandler>,
    ) -> Result<usize> {
        let arg: SetupmappingIn = c.arg()?;
        let Some(vu_req) = vu_req else {
            return c.reply_error(libc::ENOSYS);
        };
        let res = self.fs.setupmapping(
            &c.ctx,
            c.nodeid().into(),
            arg.fh.into(),
            arg.foffset,
            arg.len,
            arg.flags,
            arg.moffset,
            vu_req,
        );
        c.reply_empty(res)
    }

    pub(super) fn removemapping<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
        vu_req: Option<&mut dyn FsCacheReqHandler>,
    ) -> Result<usize> {
        let arg: RemovemappingIn = c.arg()?;
        // Checked: at most FUSE_REMOVEMAPPING_MAX_ENTRY records, all present.
        let count = arg.count as usize;
        let mut requests = Vec::with_capacity(count);
        for _ in 0..count {
            requests.push(c.arg::<RemovemappingOne>()?);
        }
        let Some(vu_req) = vu_req else {
            return c.reply_error(libc::ENOSYS);
        };
        let res = self
            .fs
            .removemapping(&c.ctx, c.nodeid().into(), requests, vu_req);
        c.reply_empty(res)
    }
}
