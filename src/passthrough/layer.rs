//! `impl Layer for PassthroughFs`: a passthrough driver as an overlay layer.
//!
//! The root is [`ROOT_ID`]. The work directory is opened by the path the administrator
//! configured and joins the driver's inode store like any other inode, so the overlay's
//! `rename`/`link` between it and the shared tree are ordinary `renameat2`/`linkat`
//! calls between two descriptors on one host filesystem. The client of the overlay never
//! sees this inode: the overlay hands out its own node IDs.

use std::ffi::CString;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::Ordering;

use vm_memory::bitmap::BitmapSlice;

use super::PassthroughFs;
use crate::abi::fuse_abi::ROOT_ID;
use crate::api::filesystem::Layer;
use crate::errno::err;
use crate::sys;

impl<S: BitmapSlice + Send + Sync> Layer for PassthroughFs<S> {
    fn root_inode(&self) -> u64 {
        ROOT_ID
    }

    /// Opens `path` (trusted: it is the administrator's, so it may contain symlinks) and
    /// adds it to the inode store. Refuses a directory on another device than the shared
    /// root (EXDEV): renames between the two would fail.
    fn attach_work_dir(&self, path: &Path) -> io::Result<u64> {
        self.import()?;
        let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|_| err(libc::EINVAL))?;
        let fd = sys::open(&cpath, libc::O_PATH | libc::O_DIRECTORY)?;
        let (st, _) = self.stat_ext(fd.as_fd())?;
        if st.st_dev != self.root_dev.load(Ordering::Relaxed) {
            return Err(err(libc::EXDEV));
        }
        Ok(self.entry_from_fd(fd)?.inode)
    }
}
