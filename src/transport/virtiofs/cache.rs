//! [`FsCacheReqHandler`] over the vhost-user backend request channel (feature
//! `vhost-user-fs`).
//!
//! The DAX window of a virtio-fs device is a shared memory region of the device, owned by
//! the VMM (the vhost-user frontend). The backend cannot map files into it itself; it asks
//! the frontend with `VHOST_USER_BACKEND_SHMEM_MAP` (passing the file descriptor) and
//! `VHOST_USER_BACKEND_SHMEM_UNMAP` on the backend request channel. vhost 0.18 carries
//! these as [`VhostUserMMap`] messages; the virtio-fs cache window is shared memory region
//! 0 (`VIRTIO_FS_SHMCAP_ID_CACHE`). The channel exists only when the frontend accepted
//! the `BACKEND_REQ`, `BACKEND_SEND_FD` and `SHMEM` protocol features; without them the
//! requests fail and the guest gets an errno reply.

use std::io;
use std::os::fd::RawFd;

use log::debug;
use vhost::vhost_user::message::{VhostUserMMap, VhostUserMMapFlags};
use vhost::vhost_user::{Backend, VhostUserFrontendReqHandler};

use crate::abi::virtio_fs::{RemovemappingOne, SetupmappingFlags};
use crate::transport::FsCacheReqHandler;

/// Shared memory region ID of the virtio-fs DAX window (`VIRTIO_FS_SHMCAP_ID_CACHE`).
pub(crate) const VIRTIO_FS_SHMID_CACHE: u8 = 0;

/// The request for mapping `len` bytes of a file at `foffset` into the window at
/// `moffset`, or `None` when the range is empty or wraps around.
fn mmap_request(foffset: u64, moffset: u64, len: u64, flags: u64) -> Option<VhostUserMMap> {
    if len == 0 || foffset.checked_add(len).is_none() || moffset.checked_add(len).is_none() {
        return None;
    }
    // Mappings are always readable; WRITE makes them writable too.
    let mflags = if SetupmappingFlags::from_bits_truncate(flags).contains(SetupmappingFlags::WRITE)
    {
        VhostUserMMapFlags::WRITABLE
    } else {
        VhostUserMMapFlags::default()
    };
    Some(VhostUserMMap {
        shmid: VIRTIO_FS_SHMID_CACHE,
        padding: [0; 7],
        fd_offset: foffset,
        shm_offset: moffset,
        len,
        flags: mflags.bits(),
    })
}

/// The frontend's answer as an errno the guest can be given: the channel reports most
/// failures without one (a broken socket, a refusal, a feature not negotiated).
fn channel_error(what: &str, e: io::Error) -> io::Error {
    debug!("vhost-user backend request {what} failed: {e}");
    match e.raw_os_error() {
        Some(n) if n > 0 => e,
        _ => io::Error::from_raw_os_error(libc::EIO),
    }
}

impl FsCacheReqHandler for Backend {
    fn map(
        &mut self,
        foffset: u64,
        moffset: u64,
        len: u64,
        flags: u64,
        fd: RawFd,
    ) -> io::Result<()> {
        let req = mmap_request(foffset, moffset, len, flags)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        self.shmem_map(&req, &fd)
            .map(|_| ())
            .map_err(|e| channel_error("SHMEM_MAP", e))
    }

    fn unmap(&mut self, requests: Vec<RemovemappingOne>) -> io::Result<()> {
        for one in requests {
            let req = VhostUserMMap {
                shmid: VIRTIO_FS_SHMID_CACHE,
                shm_offset: one.moffset,
                len: one.len,
                ..Default::default()
            };
            self.shmem_unmap(&req)
                .map_err(|e| channel_error("SHMEM_UNMAP", e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::IoSliceMut;
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::net::UnixStream;

    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use vm_memory::ByteValued;

    use super::*;

    /// vhost-user message header: request, flags, size.
    const HDR_LEN: usize = 12;
    const SHMEM_MAP: u32 = 9;
    const SHMEM_UNMAP: u32 = 10;

    fn recv(sock: &UnixStream) -> (u32, VhostUserMMap, Vec<OwnedFd>) {
        let mut buf = [0u8; HDR_LEN + std::mem::size_of::<VhostUserMMap>()];
        let mut cmsg = nix::cmsg_space!([RawFd; 4]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        )
        .unwrap();
        assert_eq!(msg.bytes, HDR_LEN + std::mem::size_of::<VhostUserMMap>());
        let mut fds = Vec::new();
        for c in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(v) = c {
                for fd in v {
                    // SAFETY: SCM_RIGHTS just installed `fd` in this process; we own it.
                    fds.push(unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) });
                }
            }
        }
        let req = u32::from_le_bytes(buf[0..4].try_into().unwrap());
        let size = u32::from_le_bytes(buf[8..12].try_into().unwrap());
        assert_eq!(size as usize, std::mem::size_of::<VhostUserMMap>());
        let body = VhostUserMMap::from_slice(&buf[HDR_LEN..]).copied().unwrap();
        (req, body, fds)
    }

    #[test]
    fn map_and_unmap_become_shmem_messages() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut backend = Backend::from_stream(ours);
        backend.set_shmem_flag(true);
        let file = std::fs::File::open("/proc/self/exe").unwrap();

        let write = SetupmappingFlags::READ | SetupmappingFlags::WRITE;
        backend
            .map(4096, 2 << 20, 8192, write.bits(), file.as_raw_fd())
            .unwrap();
        let (req, m, fds) = recv(&theirs);
        assert_eq!(req, SHMEM_MAP);
        assert_eq!(
            (m.shmid, { m.fd_offset }, { m.shm_offset }, { m.len }, {
                m.flags
            }),
            (0, 4096, 2 << 20, 8192, VhostUserMMapFlags::WRITABLE.bits())
        );
        assert_eq!(fds.len(), 1);

        backend
            .map(0, 0, 4096, SetupmappingFlags::READ.bits(), file.as_raw_fd())
            .unwrap();
        let (_, m, _) = recv(&theirs);
        assert_eq!({ m.flags }, 0);

        backend
            .unmap(vec![
                RemovemappingOne {
                    moffset: 0,
                    len: 4096,
                },
                RemovemappingOne {
                    moffset: 2 << 20,
                    len: 8192,
                },
            ])
            .unwrap();
        for (off, len) in [(0u64, 4096u64), (2 << 20, 8192)] {
            let (req, m, fds) = recv(&theirs);
            assert_eq!(req, SHMEM_UNMAP);
            assert_eq!(({ m.shm_offset }, { m.len }), (off, len));
            assert!(fds.is_empty());
        }
    }

    #[test]
    fn bad_ranges_and_missing_feature_are_errnos() {
        let (ours, _theirs) = UnixStream::pair().unwrap();
        let mut backend = Backend::from_stream(ours);
        let fd = std::fs::File::open("/proc/self/exe").unwrap();
        // SHMEM not negotiated: refused locally, as an errno.
        let e = backend.map(0, 0, 4096, 0, fd.as_raw_fd()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
        backend.set_shmem_flag(true);
        for (foff, moff, len) in [(0, 0, 0), (u64::MAX, 0, 2), (0, u64::MAX - 1, 4)] {
            let e = backend.map(foff, moff, len, 0, fd.as_raw_fd()).unwrap_err();
            assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
        }
    }
}
