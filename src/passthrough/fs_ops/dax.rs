//! The virtio-fs DAX window: SETUPMAPPING and REMOVEMAPPING.
//!
//! With DAX the guest maps file ranges straight into a shared memory window of the device
//! instead of copying them through its page cache. The driver cannot map anything into
//! the guest itself: it opens the file and hands the descriptor to the VMM through
//! [`FsCacheReqHandler`], which mmaps it into the window.
//!
//! The guest names the inode and the ranges. Linux sends no file handle with
//! SETUPMAPPING (`fh` is `-1`: mappings belong to the inode and outlive the opens), so the
//! inode is reopened here, read-only or read-write as the mapping needs. Only regular files
//! are mapped; `reopen` refuses devices, FIFOs and sockets, and the host checks the
//! access mode against the file as it does for OPEN. Offsets and lengths are checked for
//! overflow before they reach the VMM, which checks them against the window.

use std::io;
use std::os::fd::AsRawFd;

use log::debug;
use vm_memory::bitmap::BitmapSlice;

use super::super::PassthroughFs;
use crate::abi::virtio_fs::{RemovemappingOne, SetupmappingFlags};
use crate::buffer::FsCacheReqHandler;
use crate::errno::err;

impl<S: BitmapSlice + Send + Sync> PassthroughFs<S> {
    pub(crate) fn do_setupmapping(
        &self,
        inode: u64,
        foffset: u64,
        len: u64,
        flags: u64,
        moffset: u64,
        vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        let end = foffset.checked_add(len).ok_or_else(|| err(libc::EINVAL))?;
        if len == 0 || end > i64::MAX as u64 || moffset.checked_add(len).is_none() {
            debug!("setupmapping of inode {inode}: bad range {foffset}+{len} at {moffset}");
            return Err(err(libc::EINVAL));
        }
        let data = self.inode_data(inode)?;
        if !data.is_reg() {
            debug!("setupmapping of inode {inode}: not a regular file");
            return Err(err(libc::EINVAL));
        }
        let writable =
            SetupmappingFlags::from_bits_truncate(flags).contains(SetupmappingFlags::WRITE);
        let open_flags = if writable {
            libc::O_RDWR
        } else {
            libc::O_RDONLY
        };
        let file = self.reopen(&data, open_flags)?;
        // The VMM receives its own copy of the descriptor; ours closes on return.
        vu_req.map(foffset, moffset, len, flags, file.as_raw_fd())
    }

    pub(crate) fn do_removemapping(
        &self,
        requests: Vec<RemovemappingOne>,
        vu_req: &mut dyn FsCacheReqHandler,
    ) -> io::Result<()> {
        if requests.is_empty() {
            return Ok(());
        }
        vu_req.unmap(requests)
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::RawFd;
    use std::os::unix::fs::MetadataExt;

    use super::super::super::tests::{create_file, ctx, errno, lookup, root, setup};
    use super::*;
    use crate::api::filesystem::FileSystem;

    /// One map request: offsets, length, flags, the (dev, ino) behind the fd, and the
    /// fd's access mode.
    type Map = (u64, u64, u64, u64, (u64, u64), i32);

    /// Records what the driver asks the VMM for.
    #[derive(Default)]
    struct Recorder {
        maps: Vec<Map>,
        unmaps: Vec<Vec<RemovemappingOne>>,
    }

    impl FsCacheReqHandler for Recorder {
        fn map(
            &mut self,
            foffset: u64,
            moffset: u64,
            len: u64,
            flags: u64,
            fd: RawFd,
        ) -> io::Result<()> {
            let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))?;
            let md = std::fs::metadata(link)?;
            // SAFETY: F_GETFL only reads the status flags of `fd`, which is open for the
            // duration of this call (the driver owns it).
            let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
            self.maps.push((
                foffset,
                moffset,
                len,
                flags,
                (md.dev(), md.ino()),
                fl & libc::O_ACCMODE,
            ));
            Ok(())
        }

        fn unmap(&mut self, requests: Vec<RemovemappingOne>) -> io::Result<()> {
            self.unmaps.push(requests);
            Ok(())
        }
    }

    #[test]
    fn setupmapping_hands_the_file_to_the_vmm() {
        let (dir, fs) = setup();
        let (e, _h) = create_file(&fs, root(), "f", 0o644);
        let md = std::fs::metadata(dir.as_path().join("f")).unwrap();
        let mut rec = Recorder::default();
        let r = SetupmappingFlags::READ.bits();
        let rw = (SetupmappingFlags::READ | SetupmappingFlags::WRITE).bits();
        // Linux sends fh = -1.
        fs.setupmapping(&ctx(), e.inode, u64::MAX, 0, 2 << 20, r, 0, &mut rec)
            .unwrap();
        fs.setupmapping(
            &ctx(),
            e.inode,
            u64::MAX,
            2 << 20,
            4096,
            rw,
            4 << 20,
            &mut rec,
        )
        .unwrap();
        assert_eq!(
            rec.maps,
            vec![
                (0, 0, 2 << 20, r, (md.dev(), md.ino()), libc::O_RDONLY),
                (
                    2 << 20,
                    4 << 20,
                    4096,
                    rw,
                    (md.dev(), md.ino()),
                    libc::O_RDWR
                ),
            ]
        );

        let ranges = vec![RemovemappingOne {
            moffset: 4 << 20,
            len: 4096,
        }];
        fs.removemapping(&ctx(), e.inode, ranges.clone(), &mut rec)
            .unwrap();
        assert_eq!(rec.unmaps, vec![ranges]);
    }

    #[test]
    fn setupmapping_refuses_bad_ranges_and_non_files() {
        let (_dir, fs) = setup();
        let (e, _h) = create_file(&fs, root(), "f", 0o644);
        let mut rec = Recorder::default();
        for (foff, len, moff) in [
            (0, 0, 0),
            (u64::MAX - 10, 100, 0),
            (i64::MAX as u64, 2, 0),
            (0, 4096, u64::MAX - 1),
        ] {
            let res = fs.setupmapping(&ctx(), e.inode, u64::MAX, foff, len, 0, moff, &mut rec);
            assert_eq!(errno(res), libc::EINVAL);
        }
        // A directory, and an inode the client never looked up.
        std::fs::create_dir(_dir.as_path().join("d")).unwrap();
        let d = lookup(&fs, root(), "d").unwrap();
        let res = fs.setupmapping(&ctx(), d.inode, u64::MAX, 0, 4096, 0, 0, &mut rec);
        assert_eq!(errno(res), libc::EINVAL);
        let res = fs.setupmapping(&ctx(), 999_999, u64::MAX, 0, 4096, 0, 0, &mut rec);
        assert!(res.is_err());
        assert!(rec.maps.is_empty());
    }
}
