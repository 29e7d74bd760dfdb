//! Open files: OPEN, CREATE, TMPFILE, READ, WRITE, FLUSH, FSYNC(DIR), RELEASE, FALLOCATE,
//! LSEEK, COPY_FILE_RANGE, SYNCFS.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;

use log::debug;
use vm_memory::bitmap::BitmapSlice;

use super::super::credentials::{CredentialsGuard, UmaskGuard};
use super::super::handles::{HandleData, SharedFileIo};
use super::super::inode_store::InodeData;
use super::super::{check_name, PassthroughFs};
use super::setid;
use crate::abi::fuse_abi::{OpenInFlags, WriteFlags, ROOT_ID};
use crate::api::filesystem::{
    Context, CreateIn, Entry, OpenOptions, ZeroCopyReader, ZeroCopyWriter,
};
use crate::errno::err;
use crate::sys;

/// The open(2) flags a client may pass through. Everything else (O_CREAT, O_EXCL,
/// O_NOFOLLOW, O_PATH, O_TMPFILE, O_NOCTTY, ...) is decided by the driver.
const PASSED_OPEN_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_TRUNC
    | libc::O_DIRECT
    | libc::O_NONBLOCK
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_NOATIME
    | libc::O_LARGEFILE;

fn to_off(v: u64) -> io::Result<i64> {
    i64::try_from(v).map_err(|_| err(libc::EINVAL))
}

impl<S: BitmapSlice + Send + Sync> PassthroughFs<S> {
    /// The host open flags for a client's `flags`.
    ///
    /// With the writeback cache the kernel may read pages of a file the client opened
    /// write-only (to fill partial pages), so such files are opened read-write; and it
    /// computes append offsets itself, so O_APPEND (which would make the host ignore the
    /// offsets of our positioned writes) is dropped.
    fn host_open_flags(&self, flags: u32) -> i32 {
        let mut f = flags as i32 & PASSED_OPEN_FLAGS;
        if self.writeback_enabled() {
            if f & libc::O_ACCMODE == libc::O_WRONLY {
                f = (f & !libc::O_ACCMODE) | libc::O_RDWR;
            }
            f &= !libc::O_APPEND;
        }
        if !self.config().allow_direct_io {
            f &= !libc::O_DIRECT;
        }
        f
    }

    /// Opens an existing inode for OPEN (as the daemon) or for CREATE of an existing name
    /// (as the caller: the kernel did not check permissions for that case). `kill_flag`
    /// is FUSE_OPEN_KILL_SUIDGID.
    fn open_inode_file(
        &self,
        data: &InodeData,
        mut flags: i32,
        kill_flag: bool,
        ctx: &Context,
        as_caller: bool,
    ) -> io::Result<File> {
        let seal_trunc = self.config().seal_size && flags & libc::O_TRUNC != 0;
        if seal_trunc {
            flags &= !libc::O_TRUNC;
        }
        let file = {
            let _creds = if as_caller {
                Some(CredentialsGuard::new(ctx.uid, ctx.gid, ctx.supp_gid)?)
            } else {
                None
            };
            self.reopen(data, flags)?
        };
        if seal_trunc && sys::fstat64(file.as_fd())?.st_size != 0 {
            debug!("seal_size: refusing O_TRUNC of inode {}", data.inode);
            return Err(err(libc::EPERM));
        }
        if flags & libc::O_TRUNC != 0 && data.is_reg() {
            // With HANDLE_KILLPRIV_V2 the kernel says whether the caller lacks
            // CAP_FSETID. Without it, the kernel leaves the truncation to this OPEN
            // (ATOMIC_O_TRUNC) and clears nothing itself.
            if self.killpriv_v2_enabled() {
                if kill_flag {
                    setid::kill_suidgid(file.as_fd(), ctx, false)?;
                }
            } else {
                setid::kill_suidgid(file.as_fd(), ctx, setid::privileged(ctx))?;
            }
        }
        Ok(file)
    }

    pub(crate) fn do_open(
        &self,
        ctx: &Context,
        inode: u64,
        flags: u32,
        fuse_flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        let data = self.inode_data(inode)?;
        let kill = OpenInFlags::from_bits_truncate(fuse_flags).contains(OpenInFlags::KILL_SUIDGID);
        let file = self.open_inode_file(&data, self.host_open_flags(flags), kill, ctx, false)?;
        let hd = if data.is_dir() {
            HandleData::dir(inode, file)
        } else {
            HandleData::file(inode, file)
        };
        let handle = self.handles.insert(hd);
        Ok((Some(handle), self.open_options(data.is_dir()), None))
    }

    /// Creates and opens `name`. The file is created with O_EXCL so that the daemon never
    /// opens whatever already sits under the name; when the client did not ask for O_EXCL
    /// and the name exists, it is looked up and opened like OPEN does (regular files and
    /// directories only), as the caller.
    pub(crate) fn do_create(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions, Option<u32>)> {
        check_name(name)?;
        let p = self.inode_data(parent)?;
        let pfd = self.inode_fd(&p)?;
        let flags = self.host_open_flags(args.flags);
        let created = {
            let _creds = CredentialsGuard::new(ctx.uid, ctx.gid, ctx.supp_gid)?;
            let um = UmaskGuard::new(args.umask);
            sys::openat(
                pfd.as_fd(),
                name,
                flags | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
                um.mode(args.mode & 0o7777),
            )
        };
        let (entry, file) = match created {
            Ok(fd) => {
                let file = File::from(fd);
                let entry = self.entry_from_fd(self.path_fd_of(&file)?)?;
                (entry, file)
            }
            Err(e)
                if e.raw_os_error() == Some(libc::EEXIST)
                    && args.flags as i32 & libc::O_EXCL == 0 =>
            {
                let fd = sys::openat(pfd.as_fd(), name, libc::O_PATH | libc::O_NOFOLLOW, 0)?;
                let entry = self.entry_from_fd(fd)?;
                let kill = OpenInFlags::from_bits_truncate(args.fuse_flags)
                    .contains(OpenInFlags::KILL_SUIDGID);
                let opened = self
                    .inode_data(entry.inode)
                    .and_then(|data| self.open_inode_file(&data, flags, kill, ctx, true));
                match opened {
                    Ok(file) => (entry, file),
                    Err(e) => {
                        self.do_forget(entry.inode, 1);
                        return Err(e);
                    }
                }
            }
            Err(e) => return Err(e),
        };
        let is_dir = entry.attr.st_mode & libc::S_IFMT == libc::S_IFDIR;
        let handle = self.handles.insert(HandleData::file(entry.inode, file));
        Ok((entry, Some(handle), self.open_options(is_dir), None))
    }

    pub(crate) fn do_tmpfile(
        &self,
        ctx: &Context,
        parent: u64,
        args: CreateIn,
    ) -> io::Result<(Entry, Option<u64>, OpenOptions)> {
        let p = self.inode_data(parent)?;
        let pfd = self.inode_fd(&p)?;
        let flags = self.host_open_flags(args.flags) & !libc::O_TRUNC;
        let fd = {
            let _creds = CredentialsGuard::new(ctx.uid, ctx.gid, ctx.supp_gid)?;
            let um = UmaskGuard::new(args.umask);
            // "." is our own name here, not the client's.
            sys::openat(
                pfd.as_fd(),
                c".",
                flags | libc::O_TMPFILE,
                um.mode(args.mode & 0o7777),
            )?
        };
        let file = File::from(fd);
        let entry = self.entry_from_fd(self.path_fd_of(&file)?)?;
        let handle = self.handles.insert(HandleData::file(entry.inode, file));
        Ok((entry, Some(handle), self.open_options(false)))
    }

    /// The open file for I/O on `handle`. When OPEN was negotiated away (no_open) the
    /// kernel sends no handle, so the inode is opened for this request only.
    pub(crate) fn io_handle(
        &self,
        inode: u64,
        handle: u64,
        write: bool,
    ) -> io::Result<Arc<HandleData>> {
        if let Some(h) = self.handles.get(handle, inode) {
            return Ok(h);
        }
        let data = self.inode_data(inode)?;
        if data.is_dir() && self.no_opendir_enabled() {
            let file = self.reopen(&data, libc::O_RDONLY | libc::O_DIRECTORY)?;
            return Ok(Arc::new(HandleData::dir(inode, file)));
        }
        if self.no_open_enabled() && !data.is_dir() {
            let flags = if write { libc::O_RDWR } else { libc::O_RDONLY };
            let file = self.reopen(&data, flags)?;
            return Ok(Arc::new(HandleData::file(inode, file)));
        }
        if self.handles.is_stale(handle) {
            return Err(err(libc::ESTALE));
        }
        debug!("unknown handle {handle} for inode {inode}");
        Err(err(libc::EBADF))
    }

    pub(crate) fn do_read(
        &self,
        inode: u64,
        handle: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
    ) -> io::Result<usize> {
        let h = self.io_handle(inode, handle, false)?;
        w.write_up_to_from(&mut SharedFileIo(&h.file), size as usize, offset)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn do_write(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        r: &mut dyn ZeroCopyReader,
        size: u32,
        offset: u64,
        fuse_flags: u32,
    ) -> io::Result<usize> {
        let h = self.io_handle(inode, handle, true)?;
        let size = size as usize;
        if self.config().seal_size {
            let end = offset
                .checked_add(size as u64)
                .ok_or_else(|| err(libc::EINVAL))?;
            if end > sys::fstat64(h.file.as_fd())?.st_size as u64 {
                debug!("seal_size: refusing write past the end of inode {inode}");
                return Err(err(libc::EPERM));
            }
        }
        // Without HANDLE_KILLPRIV_V2 the kernel clears the bits itself before the write,
        // through a SETATTR.
        if self.killpriv_v2_enabled()
            && WriteFlags::from_bits_truncate(fuse_flags).contains(WriteFlags::KILL_SUIDGID)
        {
            setid::kill_suidgid(h.file.as_fd(), ctx, false)?;
        }
        let mut io = SharedFileIo(&h.file);
        let mut done = 0usize;
        while done < size {
            match r.read_to(&mut io, size - done, offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) if done > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    /// Closes a duplicate of the descriptor, which is what close(2) in the client would
    /// do to the host file: e.g. NFS flushes, and POSIX (non-OFD) locks drop.
    pub(crate) fn do_flush(&self, inode: u64, handle: u64) -> io::Result<()> {
        match self.handles.get(handle, inode) {
            Some(h) => {
                drop(h.file.try_clone()?);
                Ok(())
            }
            None if self.no_open_enabled() => Ok(()),
            None if self.handles.is_stale(handle) => Err(err(libc::ESTALE)),
            None => Err(err(libc::EBADF)),
        }
    }

    pub(crate) fn do_fsync(&self, inode: u64, datasync: bool, handle: u64) -> io::Result<()> {
        let h = self.io_handle(inode, handle, false)?;
        if datasync {
            h.file.sync_data()
        } else {
            h.file.sync_all()
        }
    }

    pub(crate) fn do_release(
        &self,
        inode: u64,
        handle: u64,
        flock_release: bool,
    ) -> io::Result<()> {
        match self.handles.remove(handle, inode) {
            Some(h) => {
                if flock_release {
                    // Other references (an in-flight request) could keep the description
                    // and its flock alive past this point; drop the lock now.
                    let _ = sys::flock(h.file.as_fd(), libc::LOCK_UN);
                }
                Ok(())
            }
            None if self.no_open_enabled() => Ok(()),
            None if self.handles.remove_stale(handle) => Ok(()),
            None => Err(err(libc::EBADF)),
        }
    }

    pub(crate) fn do_fallocate(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        mode: u32,
        offset: u64,
        length: u64,
    ) -> io::Result<()> {
        let h = self.io_handle(inode, handle, true)?;
        let mode = mode as libc::c_int;
        if self.config().seal_size && mode & libc::FALLOC_FL_KEEP_SIZE == 0 {
            let end = offset
                .checked_add(length)
                .ok_or_else(|| err(libc::EINVAL))?;
            if end > sys::fstat64(h.file.as_fd())?.st_size as u64 {
                return Err(err(libc::EPERM));
            }
        }
        // Every mode changes the file, so an unprivileged caller loses its set-ID bits
        // first, as file_modified() does on a local filesystem. The kernel sends no flag
        // for it: without HANDLE_KILLPRIV_V2 it sent a SETATTR before (then this finds
        // nothing left to clear), with it the server is in charge.
        setid::kill_suidgid(h.file.as_fd(), ctx, setid::privileged(ctx))?;
        sys::fallocate64(h.file.as_fd(), mode, to_off(offset)?, to_off(length)?)
    }

    pub(crate) fn do_lseek(
        &self,
        inode: u64,
        handle: u64,
        offset: u64,
        whence: u32,
    ) -> io::Result<u64> {
        let whence = whence as libc::c_int;
        if ![
            libc::SEEK_SET,
            libc::SEEK_CUR,
            libc::SEEK_END,
            libc::SEEK_DATA,
            libc::SEEK_HOLE,
        ]
        .contains(&whence)
        {
            return Err(err(libc::EINVAL));
        }
        let h = self.io_handle(inode, handle, false)?;
        // The offset is really signed (SEEK_CUR/SEEK_END may go backwards).
        sys::lseek64(h.file.as_fd(), offset as i64, whence)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn do_copy_file_range(
        &self,
        ctx: &Context,
        inode_in: u64,
        handle_in: u64,
        offset_in: u64,
        inode_out: u64,
        handle_out: u64,
        offset_out: u64,
        len: u64,
        flags: u64,
    ) -> io::Result<usize> {
        let flags = u32::try_from(flags).map_err(|_| err(libc::EINVAL))?;
        let hin = self.io_handle(inode_in, handle_in, false)?;
        let hout = self.io_handle(inode_out, handle_out, true)?;
        if self.config().seal_size {
            let in_size = sys::fstat64(hin.file.as_fd())?.st_size as u64;
            let n = len.min(in_size.saturating_sub(offset_in));
            let end = offset_out.checked_add(n).ok_or_else(|| err(libc::EINVAL))?;
            if end > sys::fstat64(hout.file.as_fd())?.st_size as u64 {
                return Err(err(libc::EPERM));
            }
        }
        // As for fallocate: the destination changes, with no flag from the kernel.
        setid::kill_suidgid(hout.file.as_fd(), ctx, setid::privileged(ctx))?;
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        sys::copy_file_range(
            hin.file.as_fd(),
            to_off(offset_in)?,
            hout.file.as_fd(),
            to_off(offset_out)?,
            len,
            flags,
        )
    }

    /// Syncs the filesystem holding `inode` (if it is a directory) or the shared root.
    /// syncfs(2) refuses `O_PATH` descriptors, so the directory is opened read-only.
    pub(crate) fn do_syncfs(&self, inode: u64) -> io::Result<()> {
        let data = self.inode_data(inode)?;
        let data = if data.is_dir() {
            data
        } else {
            self.inode_data(ROOT_ID)?
        };
        let dir = self.reopen(&data, libc::O_RDONLY | libc::O_DIRECTORY)?;
        sys::syncfs(dir.as_fd())
    }
}
