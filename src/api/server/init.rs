//! FUSE_INIT: protocol version and capability negotiation.
//!
//! Rules (fuse.h, "Protocol negotiation"): a kernel with a newer major gets a reply with
//! only our major and minor and will retry with ours; a major below 7 or a minor below the
//! oldest we support is refused with EPROTO. The minor in use is the smaller of the two.
//! An option is enabled only when the kernel offered it and the filesystem asked for it
//! (plus the few the server itself handles: INIT_EXT, MAX_PAGES, BIG_WRITES).

use std::io::Read;
use std::mem::size_of;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use vm_memory::bitmap::BitmapSlice;
use vm_memory::ByteValued;

use super::context::SrvContext;
use super::{Negotiated, Server};
use crate::abi::fuse_abi::{
    FsOptions, InitIn, InitIn2, InitOut, KERNEL_MINOR_VERSION, KERNEL_VERSION,
    MIN_KERNEL_MINOR_VERSION,
};
use crate::api::filesystem::FileSystem;
use crate::errno::err;
use crate::{Error, Result};

const PAGE_SIZE: u32 = 4096;

/// Options the server implements itself, enabled whenever the kernel offers them.
fn server_options() -> FsOptions {
    FsOptions::INIT_EXT | FsOptions::MAX_PAGES | FsOptions::BIG_WRITES
}

impl<F: FileSystem + Sync> Server<F> {
    pub(super) fn init<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        // The first 16 bytes exist in every version; InitIn2 follows since 7.36.
        let InitIn {
            major,
            minor,
            max_readahead,
            flags,
        } = c.arg()?;
        if major < KERNEL_VERSION {
            log::error!("unsupported fuse protocol {major}.{minor}");
            return c.reject(libc::EPROTO, Error::InvalidMessage(eproto()));
        }
        if major > KERNEL_VERSION {
            // Tell the kernel our major; it sends INIT again with it.
            let out = InitOut {
                major: KERNEL_VERSION,
                minor: KERNEL_MINOR_VERSION,
                ..Default::default()
            };
            return c.reply_ok(Some(out), &[]);
        }
        if minor < MIN_KERNEL_MINOR_VERSION {
            log::error!("fuse protocol 7.{minor} is older than 7.{MIN_KERNEL_MINOR_VERSION}");
            return c.reject(libc::EPROTO, Error::InvalidMessage(eproto()));
        }
        let mut offered = flags as u64;
        // flags2 means something only with INIT_EXT, which kernels offer since 7.36.
        if FsOptions::from_bits_truncate(offered).contains(FsOptions::INIT_EXT) {
            if let Some(InitIn2 { flags2, unused: _ }) = read_init_in2(c)? {
                offered |= (flags2 as u64) << 32;
            }
        }
        // The rest (`InitIn2::unused`, or what a newer kernel adds) carries nothing yet.
        let mut rest = [0u8; 64];
        let _ = c.r.read(&mut rest);
        let capable = FsOptions::from_bits_truncate(offered);

        let wanted = match self.fs.init(capable) {
            Ok(w) => w,
            Err(e) => return c.reply_io_error(&e),
        };
        let enabled = (wanted | server_options()) & capable;
        let max_write = self.max_write;
        let minor = minor.min(KERNEL_MINOR_VERSION);
        let flags2 = if enabled.contains(FsOptions::INIT_EXT) {
            (enabled.bits() >> 32) as u32
        } else {
            0
        };
        let out = InitOut {
            major: KERNEL_VERSION,
            minor,
            max_readahead,
            flags: enabled.bits() as u32,
            max_write,
            time_gran: 1,
            // Rounded down: the kernel sends READs of up to max_pages pages, which must
            // not exceed the max_write we accept them up to.
            max_pages: (max_write / PAGE_SIZE).max(1) as u16,
            flags2,
            ..Default::default()
        };
        self.negotiated.store(Arc::new(Negotiated {
            minor,
            flags: enabled,
            max_write,
            max_read: max_write,
        }));
        self.initialized.store(true, Ordering::Release);
        log::info!(
            "fuse init: protocol 7.{minor}, max_write {max_write}, options {:?}",
            enabled
        );
        c.reply_ok(Some(out), &[])
    }
}

/// Reads the [`InitIn2`] that follows [`InitIn`], or `None` when the body ends before
/// its `flags2`. Kernels since 7.36 send all of it; a shorter tail is taken as far as it
/// goes, the missing fields reading as zero.
fn read_init_in2<S: BitmapSlice>(c: &mut SrvContext<'_, '_, S>) -> Result<Option<InitIn2>> {
    let n = c.r.available_bytes().min(size_of::<InitIn2>());
    if n < size_of::<u32>() {
        return Ok(None);
    }
    let mut ext = InitIn2::default();
    if let Err(e) = c.r.read_exact(&mut ext.as_mut_slice()[..n]) {
        c.reply_error(libc::EINVAL)?;
        return Err(Error::DecodeMessage(e));
    }
    Ok(Some(ext))
}

fn eproto() -> std::io::Error {
    err(libc::EPROTO)
}
