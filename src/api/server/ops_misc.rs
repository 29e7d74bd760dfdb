//! Operations on the whole session or filesystem: statfs, access, interrupt, bmap,
//! destroy, syncfs, notify_reply.

use std::sync::atomic::Ordering;

use vm_memory::bitmap::BitmapSlice;

use super::context::SrvContext;
use super::Server;
use crate::abi::fuse_abi::{
    AccessIn, BmapIn, BmapOut, InterruptIn, Kstatfs, NotifyRetrieveIn, StatfsOut, SyncfsIn,
};
use crate::api::filesystem::FileSystem;
use crate::{errno_of, Result};

impl<F: FileSystem + Sync> Server<F> {
    pub(super) fn statfs<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        match self.fs.statfs(&c.ctx, c.nodeid().into()) {
            Ok(st) => c.reply_ok(
                Some(StatfsOut {
                    st: Kstatfs::from(st),
                }),
                &[],
            ),
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn access<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: AccessIn = c.arg()?;
        let res = self.fs.access(&c.ctx, c.nodeid().into(), arg.mask);
        c.reply_empty(res)
    }

    /// FUSE_INTERRUPT: the reply, if any, goes to the interrupt itself. An interrupted
    /// lock wait ends with EINTR; otherwise the driver is asked. Its `Ok` means "no reply"
    /// (the interrupted request answers for itself), EAGAIN asks the kernel to send this
    /// one again; ENOSYS gets no reply (see below).
    pub(super) fn interrupt<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: InterruptIn = c.arg_noreply()?;
        if self.waits.interrupt(arg.unique) {
            // A lock wait of ours: it answers EINTR itself.
            return Ok(0);
        }
        match self.fs.interrupt(&c.ctx, arg.unique) {
            Ok(()) => Ok(0),
            // ENOSYS would make the kernel stop sending interrupts for good, and lock
            // waits could then never be interrupted: say nothing instead.
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => Ok(0),
            Err(e) => c.reply_error(errno_of(&e)),
        }
    }

    pub(super) fn bmap<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let arg: BmapIn = c.arg()?;
        match self
            .fs
            .bmap(&c.ctx, c.nodeid().into(), arg.block, arg.blocksize)
        {
            Ok(block) => c.reply_ok(Some(BmapOut { block }), &[]),
            Err(e) => c.reply_io_error(&e),
        }
    }

    pub(super) fn destroy<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        self.fs.destroy();
        self.initialized.store(false, Ordering::Release);
        log::info!("fuse session destroyed by the client");
        c.reply_ok::<u8>(None, &[])
    }

    pub(super) fn syncfs<S: BitmapSlice>(&self, c: &mut SrvContext<'_, '_, S>) -> Result<usize> {
        let _arg: SyncfsIn = c.arg()?;
        let res = self.fs.syncfs(&c.ctx, c.nodeid().into());
        c.reply_empty(res)
    }

    /// The kernel's data for a NOTIFY_RETRIEVE; it expects no reply, not even to a
    /// malformed one. The header's `unique` is the retrieve's `notify_unique`.
    pub(super) fn notify_reply<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
    ) -> Result<usize> {
        // Checked: size equal to the data present and within max_write, offset + size an
        // off_t. The data is handed over in place: nothing is allocated for it.
        let arg: NotifyRetrieveIn = c.arg()?;
        let cookie = c.header().unique;
        let mut data = std::mem::take(&mut c.r);
        let res = self.fs.notify_retrieve_reply(
            &c.ctx,
            cookie,
            c.nodeid().into(),
            arg.offset,
            arg.size,
            &mut data,
        );
        if let Err(e) = res {
            log::debug!("unique={cookie}: notify_reply failed: {e}");
        }
        Ok(0)
    }
}
