//! Name and inode operations: lookup, forget, attributes, and everything that creates or
//! removes a directory entry.

use std::time::Duration;

use vm_memory::bitmap::BitmapSlice;

use super::context::{SrvContext, NAME_BUF_LEN};
use super::Server;
use crate::abi::fuse_abi::{
    Attr, AttrOut, BatchForgetIn, CreateIn, EntryOut, ForgetIn, ForgetOne, GetattrFlags, GetattrIn,
    LinkIn, MkdirIn, MknodIn, OpenOut, Rename2In, RenameIn, SetattrIn, SetattrValid, Statx,
    StatxIn, StatxOut, SxTime,
};
use crate::api::filesystem::{Entry, FileSystem};
use crate::Result;

impl<F: FileSystem + Sync> Server<F> {
    pub(super) fn lookup<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let mut buf = [0u8; NAME_BUF_LEN];
        let name = c.name(&mut buf)?;
        let res = self.fs.lookup(&c.ctx, c.nodeid().into(), name);
        reply_entry(c, res)
    }

    pub(super) fn forget<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: ForgetIn = c.arg_noreply()?;
        self.fs.forget(&c.ctx, c.nodeid().into(), arg.nlookup);
        Ok(0)
    }

    pub(super) fn batch_forget<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
    ) -> Result<usize> {
        // Checked: all `count` records are present (else dropped: it gets no reply).
        let arg: BatchForgetIn = c.arg_noreply()?;
        let mut requests = Vec::with_capacity(arg.count as usize);
        for _ in 0..arg.count {
            let one: ForgetOne = c.arg_noreply()?;
            requests.push((one.nodeid.into(), one.nlookup));
        }
        self.fs.batch_forget(&c.ctx, requests);
        Ok(0)
    }

    pub(super) fn getattr<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: GetattrIn = c.arg()?;
        let handle = GetattrFlags::from_bits_truncate(arg.getattr_flags())
            .contains(GetattrFlags::FH)
            .then(|| arg.fh.into());
        let res = self.fs.getattr(&c.ctx, c.nodeid().into(), handle);
        reply_attr(c, res)
    }

    pub(super) fn setattr<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: SetattrIn = c.arg()?;
        let valid = SetattrValid::from_bits_truncate(arg.valid);
        let handle = valid.contains(SetattrValid::FH).then(|| arg.fh.into());
        let attr = setattr_to_stat(&arg);
        let res = self
            .fs
            .setattr(&c.ctx, c.nodeid().into(), attr, handle, valid);
        reply_attr(c, res)
    }

    pub(super) fn readlink<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        match self.fs.readlink(&c.ctx, c.nodeid().into()) {
            Ok(target) if target.len() > c.reply_space() => c.reply_error(libc::ENAMETOOLONG),
            Ok(target) => c.reply_parts(&target, &[]),
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn symlink<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let mut buf = [0u8; NAME_BUF_LEN];
        // The kernel sends the new entry's name first, then the link target.
        let (name, target) = c.two_names(&mut buf)?;
        let res = self.fs.symlink(&c.ctx, target, c.nodeid().into(), name);
        reply_entry(c, res)
    }

    pub(super) fn mknod<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: MknodIn = c.arg()?;
        let mut buf = [0u8; NAME_BUF_LEN];
        let name = c.name(&mut buf)?;
        let res = self.fs.mknod(
            &c.ctx,
            c.nodeid().into(),
            name,
            arg.mode,
            arg.rdev,
            arg.umask,
        );
        reply_entry(c, res)
    }

    pub(super) fn mkdir<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: MkdirIn = c.arg()?;
        let mut buf = [0u8; NAME_BUF_LEN];
        let name = c.name(&mut buf)?;
        let res = self
            .fs
            .mkdir(&c.ctx, c.nodeid().into(), name, arg.mode, arg.umask);
        reply_entry(c, res)
    }

    pub(super) fn unlink<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let mut buf = [0u8; NAME_BUF_LEN];
        let name = c.name(&mut buf)?;
        let res = self.fs.unlink(&c.ctx, c.nodeid().into(), name);
        c.reply_empty(res)
    }

    pub(super) fn rmdir<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let mut buf = [0u8; NAME_BUF_LEN];
        let name = c.name(&mut buf)?;
        let res = self.fs.rmdir(&c.ctx, c.nodeid().into(), name);
        c.reply_empty(res)
    }

    pub(super) fn rename<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
        with_flags: bool,
    ) -> Result<usize> {
        let (newdir, flags) = if with_flags {
            let arg: Rename2In = c.arg()?;
            (arg.newdir, arg.flags)
        } else {
            let arg: RenameIn = c.arg()?;
            (arg.newdir, 0)
        };
        let mut buf = [0u8; NAME_BUF_LEN];
        let (oldname, newname) = c.two_names(&mut buf)?;
        let res = self.fs.rename(
            &c.ctx,
            c.nodeid().into(),
            oldname,
            newdir.into(),
            newname,
            flags,
        );
        c.reply_empty(res)
    }

    pub(super) fn link<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: LinkIn = c.arg()?;
        let mut buf = [0u8; NAME_BUF_LEN];
        let name = c.name(&mut buf)?;
        let res = self
            .fs
            .link(&c.ctx, arg.oldnodeid.into(), c.nodeid().into(), name);
        reply_entry(c, res)
    }

    pub(super) fn create<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: CreateIn = c.arg()?;
        let mut buf = [0u8; NAME_BUF_LEN];
        let name = c.name(&mut buf)?;
        match self.fs.create(&c.ctx, c.nodeid().into(), name, arg) {
            Ok((entry, handle, opts, backing)) => {
                let entry_out = EntryOut::from(entry);
                let open_out = OpenOut {
                    fh: handle.map_or(0, Into::into),
                    open_flags: opts.bits(),
                    passthrough: backing.unwrap_or(0),
                };
                c.reply_parts(
                    vm_memory::ByteValued::as_slice(&entry_out),
                    vm_memory::ByteValued::as_slice(&open_out),
                )
            }
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn tmpfile<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: CreateIn = c.arg()?;
        // The kernel also sends a placeholder name, which carries no meaning for O_TMPFILE.
        let mut buf = [0u8; NAME_BUF_LEN];
        let _name = c.name(&mut buf)?;
        match self.fs.tmpfile(&c.ctx, c.nodeid().into(), arg) {
            Ok((entry, handle, opts)) => {
                let entry_out = EntryOut::from(entry);
                let open_out = OpenOut {
                    fh: handle.map_or(0, Into::into),
                    open_flags: opts.bits(),
                    passthrough: 0,
                };
                c.reply_parts(
                    vm_memory::ByteValued::as_slice(&entry_out),
                    vm_memory::ByteValued::as_slice(&open_out),
                )
            }
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn statx<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: StatxIn = c.arg()?;
        let handle = GetattrFlags::from_bits_truncate(arg.getattr_flags)
            .contains(GetattrFlags::FH)
            .then(|| arg.fh.into());
        match self
            .fs
            .statx(&c.ctx, c.nodeid().into(), handle, arg.sx_flags, arg.sx_mask)
        {
            Ok((st, timeout)) => {
                let out = StatxOut {
                    attr_valid: timeout.as_secs(),
                    attr_valid_nsec: timeout.subsec_nanos(),
                    stat: statx_to_abi(&st),
                    ..Default::default()
                };
                c.reply_ok(Some(out), &[])
            }
            Err(e) => c.reply_io_error(&e),
        }
    }
}

/// Replies with an entry, or the error.
pub(super) fn reply_entry<S: BitmapSlice>(
    c: &mut SrvContext<'_, '_, S>,
    res: std::io::Result<Entry>,
) -> Result<usize> {
    match res {
        Ok(entry) => c.reply_ok(Some(EntryOut::from(entry)), &[]),
        Err(e) => c.reply_io_error(&e),
    }
}

fn reply_attr<S: BitmapSlice>(
    c: &mut SrvContext<'_, '_, S>,
    res: std::io::Result<(libc::stat64, Duration)>,
) -> Result<usize> {
    match res {
        Ok((st, timeout)) => {
            let out = AttrOut {
                attr_valid: timeout.as_secs(),
                attr_valid_nsec: timeout.subsec_nanos(),
                dummy: 0,
                attr: Attr::from(st),
            };
            c.reply_ok(Some(out), &[])
        }
        Err(e) => c.reply_io_error(&e),
    }
}

/// The attributes of a SETATTR request as a `stat64`; only the fields named by `valid` mean
/// anything.
fn setattr_to_stat(arg: &SetattrIn) -> libc::stat64 {
    // SAFETY: `stat64` is plain integers, for which all-zero bytes are a valid value.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    st.st_mode = arg.mode;
    st.st_uid = arg.uid;
    st.st_gid = arg.gid;
    st.st_size = arg.size as i64;
    st.st_atime = arg.atime as i64;
    st.st_atime_nsec = arg.atimensec as i64;
    st.st_mtime = arg.mtime as i64;
    st.st_mtime_nsec = arg.mtimensec as i64;
    st.st_ctime = arg.ctime as i64;
    st.st_ctime_nsec = arg.ctimensec as i64;
    st
}

fn sx_time(t: &libc::statx_timestamp) -> SxTime {
    SxTime {
        tv_sec: t.tv_sec,
        tv_nsec: t.tv_nsec,
        ..Default::default()
    }
}

fn statx_to_abi(st: &libc::statx) -> Statx {
    Statx {
        mask: st.stx_mask,
        blksize: st.stx_blksize,
        attributes: st.stx_attributes,
        nlink: st.stx_nlink,
        uid: st.stx_uid,
        gid: st.stx_gid,
        mode: st.stx_mode,
        ino: st.stx_ino,
        size: st.stx_size,
        blocks: st.stx_blocks,
        attributes_mask: st.stx_attributes_mask,
        atime: sx_time(&st.stx_atime),
        btime: sx_time(&st.stx_btime),
        ctime: sx_time(&st.stx_ctime),
        mtime: sx_time(&st.stx_mtime),
        rdev_major: st.stx_rdev_major,
        rdev_minor: st.stx_rdev_minor,
        dev_major: st.stx_dev_major,
        dev_minor: st.stx_dev_minor,
        ..Default::default()
    }
}
