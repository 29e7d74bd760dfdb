//! Notifications: messages the server sends to the kernel without a request (unique 0,
//! the notify code in the `error` field). For /dev/fuse get a writer from
//! `FuseSession::with_writer` or `FuseSessionExt::try_with_writer`; each method takes a
//! `FuseDevWriter` (as in fuse-backend-rs 0.14) or any `Writer`.

use std::ffi::CStr;
use std::io::Write;

use vm_memory::bitmap::BitmapSlice;
use vm_memory::ByteValued;

use super::{Server, OUT_HEADER_LEN};
use crate::abi::fuse_abi::{
    NotifyDeleteOut, NotifyInvalEntryOut, NotifyInvalInodeOut, NotifyOpcode, NotifyPollWakeupOut,
    NotifyPruneOut, NotifyRetrieveOut, NotifyStoreOut, OutHeader,
};
use crate::api::filesystem::FileSystem;
use crate::buffer::Writer;
use crate::{Error, Result};

fn send<S: BitmapSlice>(
    mut w: Writer<'_, S>,
    code: NotifyOpcode,
    parts: &[&[u8]],
) -> Result<usize> {
    let len = OUT_HEADER_LEN + parts.iter().map(|p| p.len()).sum::<usize>();
    let oh = OutHeader {
        len: len as u32,
        error: code as i32,
        unique: 0,
    };
    w.write_all(oh.as_slice()).map_err(Error::EncodeMessage)?;
    for p in parts {
        w.write_all(p).map_err(Error::EncodeMessage)?;
    }
    w.commit(None).map_err(Error::EncodeMessage)
}

fn namelen(name: &CStr) -> u32 {
    name.to_bytes().len() as u32
}

impl<F: FileSystem + Sync> Server<F> {
    /// Asks the kernel to drop cached data of `ino` from byte `off` for `len` bytes
    /// (upstream's form: `len` 0 means to the end; `off` and `len` are passed to the
    /// kernel's signed fields unchanged, so `off` above `i64::MAX` means "attributes
    /// only"). Prefer [`notify_inval_inode_range`](Self::notify_inval_inode_range).
    pub fn notify_inval_inode<'a, S: BitmapSlice>(
        &self,
        w: impl Into<Writer<'a, S>>,
        ino: u64,
        off: u64,
        len: u64,
    ) -> Result<usize> {
        self.notify_inval_inode_range(w, ino, off as i64, len as i64)
    }

    /// Asks the kernel to drop cached data (`off`, `len`; `len` 0 = to the end, negative
    /// `off` = attributes only) of `ino`.
    pub fn notify_inval_inode_range<'a, S: BitmapSlice>(
        &self,
        w: impl Into<Writer<'a, S>>,
        ino: u64,
        off: i64,
        len: i64,
    ) -> Result<usize> {
        let out = NotifyInvalInodeOut { ino, off, len };
        send(w.into(), NotifyOpcode::InvalInode, &[out.as_slice()])
    }

    /// Asks the kernel to drop the dentry `name` in `parent`.
    pub fn notify_inval_entry<'a, S: BitmapSlice>(
        &self,
        w: impl Into<Writer<'a, S>>,
        parent: u64,
        name: &CStr,
    ) -> Result<usize> {
        let out = NotifyInvalEntryOut {
            parent,
            namelen: namelen(name),
            padding: 0,
        };
        send(
            w.into(),
            NotifyOpcode::InvalEntry,
            &[out.as_slice(), name.to_bytes_with_nul()],
        )
    }

    /// Tells the kernel that `name` in `parent` (inode `child`) was deleted.
    pub fn notify_delete<'a, S: BitmapSlice>(
        &self,
        w: impl Into<Writer<'a, S>>,
        parent: u64,
        child: u64,
        name: &CStr,
    ) -> Result<usize> {
        let out = NotifyDeleteOut {
            parent,
            child,
            namelen: namelen(name),
            padding: 0,
        };
        send(
            w.into(),
            NotifyOpcode::Delete,
            &[out.as_slice(), name.to_bytes_with_nul()],
        )
    }

    /// Stores `data` into the kernel's page cache of `ino` at `offset`.
    pub fn notify_store<'a, S: BitmapSlice>(
        &self,
        w: impl Into<Writer<'a, S>>,
        ino: u64,
        offset: u64,
        data: &[u8],
    ) -> Result<usize> {
        let out = NotifyStoreOut {
            nodeid: ino,
            offset,
            size: data.len() as u32,
            padding: 0,
        };
        send(w.into(), NotifyOpcode::Store, &[out.as_slice(), data])
    }

    /// Asks the kernel to send back (as FUSE_NOTIFY_REPLY with `notify_unique`) `size`
    /// bytes of its cache of `ino` at `offset`.
    pub fn notify_retrieve<'a, S: BitmapSlice>(
        &self,
        w: impl Into<Writer<'a, S>>,
        notify_unique: u64,
        ino: u64,
        offset: u64,
        size: u32,
    ) -> Result<usize> {
        let out = NotifyRetrieveOut {
            notify_unique,
            nodeid: ino,
            offset,
            size,
            padding: 0,
        };
        send(w.into(), NotifyOpcode::Retrieve, &[out.as_slice()])
    }

    /// Asks the kernel to resend every request still waiting for a reply (since 7.40;
    /// the kernel honours it only with FUSE_HAS_RESEND).
    pub fn notify_resend<'a, S: BitmapSlice>(&self, w: impl Into<Writer<'a, S>>) -> Result<()> {
        self.notify_resend_len(w).map(drop)
    }

    /// [`notify_resend`](Self::notify_resend), returning the bytes written.
    pub fn notify_resend_len<'a, S: BitmapSlice>(
        &self,
        w: impl Into<Writer<'a, S>>,
    ) -> Result<usize> {
        send(w.into(), NotifyOpcode::Resend, &[])
    }

    /// Wakes a poller registered with `kh` (the `kh` of a FUSE_POLL request).
    pub fn notify_poll_wakeup<'a, S: BitmapSlice>(
        &self,
        w: impl Into<Writer<'a, S>>,
        kh: u64,
    ) -> Result<usize> {
        let out = NotifyPollWakeupOut { kh };
        send(w.into(), NotifyOpcode::Poll, &[out.as_slice()])
    }

    /// Asks the kernel to forget the inodes `nodeids` where it can (since 7.45): each
    /// one nothing uses (no open file, no current directory, no mount) has its cached
    /// dentries dropped, and the kernel then sends FORGET for it as for any evicted
    /// inode. Inodes in use, and node IDs the kernel does not know, are skipped. Kernels
    /// before 7.45 refuse the message (the write fails with EINVAL).
    ///
    /// # Errors
    /// `Error::EncodeMessage` when the message cannot be written: EINVAL from the writer
    /// for more than [`MAX_PRUNE_IDS`](Self::MAX_PRUNE_IDS) node IDs (send several
    /// messages), or the kernel's errno.
    pub fn notify_prune<'a, S: BitmapSlice>(
        &self,
        w: impl Into<Writer<'a, S>>,
        nodeids: &[u64],
    ) -> Result<usize> {
        if nodeids.len() > Self::MAX_PRUNE_IDS {
            return Err(Error::EncodeMessage(std::io::Error::from_raw_os_error(
                libc::EINVAL,
            )));
        }
        let out = NotifyPruneOut {
            count: nodeids.len() as u32,
            padding: 0,
            spare: 0,
        };
        let ids: Vec<u8> = nodeids.iter().flat_map(|id| id.to_ne_bytes()).collect();
        send(w.into(), NotifyOpcode::Prune, &[out.as_slice(), &ids])
    }
}

impl<F: FileSystem + Sync> Server<F> {
    /// Most node IDs in one [`notify_prune`](Self::notify_prune): 4 KiB of IDs, so a
    /// message always fits the smallest buffer the kernel reads notifications into.
    pub const MAX_PRUNE_IDS: usize = 512;
}
