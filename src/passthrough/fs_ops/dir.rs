//! Directories: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR.
//!
//! Offsets are the host's `d_off` values: each entry carries the position of the next
//! one, and each call seeks the handle's directory descriptor to the offset the kernel
//! sends back. The host filesystem keeps those positions valid while entries are added or
//! removed (hash- or index-based cookies on ext4, xfs, btrfs and tmpfs), so an entry that
//! stays in the directory is returned exactly once even if the directory changes between
//! calls; a buffered snapshot indexed by position would skip or repeat entries instead.

use std::ffi::CStr;
use std::io;
use std::os::fd::AsFd;

use log::debug;
use vm_memory::bitmap::BitmapSlice;

use super::super::handles::HandleData;
use super::super::PassthroughFs;
use crate::api::filesystem::{DirEntry, Entry, OpenOptions};
use crate::errno::err;
use crate::sys;

/// Smallest and largest getdents buffer used for one call.
const MIN_DIRBUF: usize = 1024;
const MAX_DIRBUF: usize = 64 * 1024;

/// Bytes of `struct linux_dirent64` before the name.
const DIRENT64_NAME_OFFSET: usize = 19;

/// One parsed `struct linux_dirent64`.
struct RawDirent<'a> {
    ino: u64,
    off: u64,
    type_: u8,
    name: &'a CStr,
}

/// Parses the record at the start of `buf`; returns it and its length.
fn parse_dirent(buf: &[u8]) -> Option<(RawDirent<'_>, usize)> {
    if buf.len() < DIRENT64_NAME_OFFSET {
        return None;
    }
    let ino = u64::from_ne_bytes(buf[0..8].try_into().ok()?);
    let off = i64::from_ne_bytes(buf[8..16].try_into().ok()?) as u64;
    let reclen = u16::from_ne_bytes(buf[16..18].try_into().ok()?) as usize;
    let type_ = buf[18];
    if reclen < DIRENT64_NAME_OFFSET || reclen > buf.len() {
        return None;
    }
    let name_area = &buf[DIRENT64_NAME_OFFSET..reclen];
    let name = CStr::from_bytes_until_nul(name_area).ok()?;
    Some((
        RawDirent {
            ino,
            off,
            type_,
            name,
        },
        reclen,
    ))
}

impl<S: BitmapSlice + Send + Sync> PassthroughFs<S> {
    pub(crate) fn do_opendir(&self, inode: u64) -> io::Result<(Option<u64>, OpenOptions)> {
        let data = self.inode_data(inode)?;
        if !data.is_dir() {
            return Err(err(libc::ENOTDIR));
        }
        let file = self.reopen(&data, libc::O_RDONLY | libc::O_DIRECTORY)?;
        let handle = self.handles.insert(HandleData::dir(inode, file));
        Ok((Some(handle), self.open_options(true)))
    }

    pub(crate) fn do_releasedir(&self, inode: u64, handle: u64) -> io::Result<()> {
        match self.handles.remove(handle, inode) {
            Some(_) => Ok(()),
            None if self.no_opendir_enabled() => Ok(()),
            None if self.handles.remove_stale(handle) => Ok(()),
            None => Err(super::super::err(libc::EBADF)),
        }
    }

    /// Calls `f` for each entry from `offset` on until it returns `false` or the
    /// directory ends.
    fn for_each_dirent(
        &self,
        inode: u64,
        handle: u64,
        size: u32,
        offset: u64,
        f: &mut dyn FnMut(DirEntry<'_>, &CStr) -> io::Result<bool>,
    ) -> io::Result<()> {
        if self.config().no_readdir {
            return Ok(());
        }
        let h = self.io_handle(inode, handle, false)?;
        let Some(buf_lock) = h.dir.as_ref() else {
            return Err(err(libc::ENOTDIR));
        };
        let offset = i64::try_from(offset).map_err(|_| super::super::err(libc::EINVAL))?;
        // The lock serialises the seek and the reads of concurrent READDIRs on one handle.
        let mut buf = buf_lock.lock().unwrap_or_else(|p| p.into_inner());
        let want = (size as usize).clamp(MIN_DIRBUF, MAX_DIRBUF);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        let fd = h.file.as_fd();
        sys::lseek64(fd, offset, libc::SEEK_SET)?;
        loop {
            let n = sys::getdents64(fd, &mut buf)?;
            if n == 0 {
                return Ok(());
            }
            let mut pos = 0;
            while pos < n {
                let Some((d, len)) = parse_dirent(&buf[pos..n]) else {
                    debug!("malformed dirent from host in inode {inode}");
                    return Err(err(libc::EIO));
                };
                pos += len;
                let entry = DirEntry {
                    ino: d.ino,
                    offset: d.off,
                    type_: u32::from(d.type_),
                    name: d.name.to_bytes(),
                };
                if !f(entry, d.name)? {
                    return Ok(());
                }
            }
        }
    }

    pub(crate) fn do_readdir(
        &self,
        inode: u64,
        handle: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        self.for_each_dirent(inode, handle, size, offset, &mut |d, _| {
            Ok(add_entry(d)? > 0)
        })
    }

    /// Like readdir, with a lookup per entry. `.` and `..` get no lookup (the kernel
    /// ignores their attributes and takes no reference), and an entry that is not accepted
    /// into the reply gives its reference back at once.
    pub(crate) fn do_readdirplus(
        &self,
        inode: u64,
        handle: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        let mut added = 0usize;
        self.for_each_dirent(inode, handle, size, offset, &mut |d, name| {
            if d.name == b"." || d.name == b".." {
                let n = add_entry(d, Entry::default())?;
                added += usize::from(n > 0);
                return Ok(n > 0);
            }
            let entry = match self.do_lookup(inode, name) {
                Ok(e) => e,
                // Removed since getdents: leave it out.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(true),
                Err(_) if added > 0 => return Ok(false),
                Err(e) => return Err(e),
            };
            match add_entry(d, entry) {
                Ok(n) if n > 0 => {
                    added += 1;
                    Ok(true)
                }
                Ok(_) => {
                    self.do_forget(entry.inode, 1);
                    Ok(false)
                }
                Err(e) => {
                    self.do_forget(entry.inode, 1);
                    Err(e)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_dirent_rejects_short_and_bad_reclen() {
        assert!(parse_dirent(&[0u8; 10]).is_none());
        let mut rec = [0u8; 24];
        rec[0..8].copy_from_slice(&5u64.to_ne_bytes());
        rec[8..16].copy_from_slice(&77i64.to_ne_bytes());
        rec[16..18].copy_from_slice(&24u16.to_ne_bytes());
        rec[18] = libc::DT_REG;
        rec[19..22].copy_from_slice(b"abc");
        let (d, len) = parse_dirent(&rec).unwrap();
        assert_eq!((d.ino, d.off, d.type_, len), (5, 77, libc::DT_REG, 24));
        assert_eq!(d.name.to_bytes(), b"abc");
        rec[16..18].copy_from_slice(&200u16.to_ne_bytes());
        assert!(parse_dirent(&rec).is_none());
    }
}
