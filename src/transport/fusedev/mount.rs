//! Mounting and unmounting a FUSE filesystem.
//!
//! Two ways in, tried in this order by the session:
//!
//! 1. `mount(2)` with a `/dev/fuse` descriptor we opened ourselves. It needs
//!    CAP_SYS_ADMIN in the mount namespace.
//! 2. The setuid helper `fusermount3`, for everyone else: it opens `/dev/fuse`, mounts,
//!    and sends the descriptor back over a Unix socket whose number it finds in the
//!    environment variable `_FUSE_COMMFD` (the protocol libfuse uses).

use std::fs::{self, File};
use std::io::{self, IoSliceMut, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use log::debug;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::socket::{
    recvmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use nix::sys::stat::Mode;

use super::mountinfo::is_fuse_mounted;
use crate::abi::fuse_abi::FUSE_DEV_IOC_CLONE;

/// The FUSE character device.
pub(super) const FUSE_DEVICE: &str = "/dev/fuse";
/// The helper used when `mount(2)` is not permitted.
pub(super) const FUSERMOUNT_BIN: &str = "fusermount3";
/// The environment variable that tells `fusermount3` where to send the descriptor.
const COMMFD_ENV: &str = "_FUSE_COMMFD";

/// How a session's mount was made, which decides how it is undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum MountMethod {
    /// We called `mount(2)`.
    Syscall,
    /// `fusermount3` mounted for us.
    Fusermount,
    /// The descriptor was handed to the session (`set_fuse_file`); we do not know how.
    Adopted,
}

/// The user's choices that end up in the mount options.
#[derive(Clone, Debug)]
pub(super) struct MountOptions<'a> {
    pub fsname: &'a str,
    pub subtype: &'a str,
    pub readonly: bool,
    pub allow_other: bool,
    pub default_permissions: bool,
    /// Honour setuid/setgid bits (`suid`); `nosuid` otherwise.
    pub suid: bool,
    /// Allow device nodes (`dev`); `nodev` otherwise.
    pub dev: bool,
    pub max_read: Option<u32>,
    /// Have `fusermount3` unmount when the session's process ends (`auto_unmount`).
    pub auto_unmount: bool,
}

impl MountOptions<'_> {
    /// The `source` of the mount, shown in `/proc/self/mountinfo`.
    pub(super) fn source(&self) -> &str {
        if self.fsname.is_empty() {
            "fuse"
        } else {
            self.fsname
        }
    }

    /// The filesystem type: `fuse`, or `fuse.<subtype>`.
    pub(super) fn fs_type(&self) -> String {
        if self.subtype.is_empty() {
            "fuse".to_string()
        } else {
            format!("fuse.{}", self.subtype)
        }
    }

    /// The data argument of `mount(2)`, parsed by the kernel's fuse module.
    pub(super) fn kernel_data(&self, fd: RawFd, rootmode: u32, uid: u32, gid: u32) -> String {
        let mut data = format!("fd={fd},rootmode={rootmode:o},user_id={uid},group_id={gid}");
        self.push_common(&mut data);
        data
    }

    /// The `-o` argument of `fusermount3`; it adds `fd`, `rootmode`, `user_id` and
    /// `group_id` itself. Commas and backslashes in names are escaped with a backslash,
    /// which `fusermount3` undoes.
    pub(super) fn fusermount_opts(&self) -> String {
        let mut opts = String::from(if self.readonly { "ro" } else { "rw" });
        opts.push_str(if self.suid { ",suid" } else { ",nosuid" });
        opts.push_str(if self.dev { ",dev" } else { ",nodev" });
        opts.push_str(",fsname=");
        push_escaped(&mut opts, self.source());
        if !self.subtype.is_empty() {
            opts.push_str(",subtype=");
            push_escaped(&mut opts, self.subtype);
        }
        self.push_common(&mut opts);
        if self.auto_unmount {
            opts.push_str(",auto_unmount");
        }
        opts
    }

    fn push_common(&self, out: &mut String) {
        if self.allow_other {
            out.push_str(",allow_other");
        }
        if self.default_permissions {
            out.push_str(",default_permissions");
        }
        if let Some(max_read) = self.max_read {
            out.push_str(&format!(",max_read={max_read}"));
        }
    }
}

fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        if c == ',' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
}

/// Opens `/dev/fuse` for reading and writing, close-on-exec and non-blocking.
pub(super) fn open_fuse_device() -> io::Result<OwnedFd> {
    let flags = OFlag::O_RDWR | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    Ok(nix::fcntl::open(FUSE_DEVICE, flags, Mode::empty())?)
}

/// Adds O_NONBLOCK to the file status flags of `fd` (shared with its dups).
pub(super) fn set_nonblocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    if !flags.contains(OFlag::O_NONBLOCK) {
        fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    }
    Ok(())
}

/// Mounts with `mount(2)`; returns the session descriptor (non-blocking).
///
/// # Errors
/// EPERM (or EACCES on the device) when the process lacks the privilege: the caller
/// then tries `fusermount3`. Anything else is final.
pub(super) fn mount_syscall(mountpoint: &Path, opts: &MountOptions<'_>) -> io::Result<OwnedFd> {
    let fd = open_fuse_device()?;
    let rootmode = fs::metadata(mountpoint)?.mode() & libc::S_IFMT;
    let data = opts.kernel_data(
        fd.as_raw_fd(),
        rootmode,
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    let mut flags = MsFlags::empty();
    if !opts.suid {
        flags |= MsFlags::MS_NOSUID;
    }
    if !opts.dev {
        flags |= MsFlags::MS_NODEV;
    }
    if opts.readonly {
        flags |= MsFlags::MS_RDONLY;
    }
    debug!(
        "mount(2) {} on {} type {} data {}",
        opts.source(),
        mountpoint.display(),
        opts.fs_type(),
        data
    );
    mount(
        Some(opts.source()),
        mountpoint,
        Some(opts.fs_type().as_str()),
        flags,
        Some(data.as_str()),
    )?;
    Ok(fd)
}

/// A mount made by `fusermount3`.
pub(super) struct HelperMount {
    /// The session descriptor (non-blocking).
    pub fd: OwnedFd,
    /// With `auto_unmount`: our end of the socket the helper watches. It unmounts once
    /// the socket closes, which at the latest happens when our process ends.
    pub keep_alive: Option<OwnedFd>,
}

/// Mounts through `fusermount3` (or `bin`).
pub(super) fn mount_fusermount(
    bin: &str,
    mountpoint: &Path,
    opts: &MountOptions<'_>,
) -> io::Result<HelperMount> {
    let auto_unmount = opts.auto_unmount;
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    // The helper's end must not land on 0, 1 or 2, which the child's stdio replaces.
    let theirs = if theirs.as_raw_fd() <= 2 {
        let raw = fcntl(&theirs, FcntlArg::F_DUPFD_CLOEXEC(3))?;
        // SAFETY: F_DUPFD_CLOEXEC just returned this new descriptor; nothing else owns it.
        unsafe { OwnedFd::from_raw_fd(raw) }
    } else {
        theirs
    };
    let child_fd = theirs.as_raw_fd();

    let opts = opts.fusermount_opts();
    debug!("{bin} -o {opts} -- {}", mountpoint.display());
    let mut cmd = Command::new(bin);
    cmd.arg("-o")
        .arg(&opts)
        .arg("--")
        .arg(mountpoint)
        .env(COMMFD_ENV, child_fd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let clear_cloexec = move || {
        // SAFETY: fcntl(F_SETFD) is async-signal-safe and touches only the descriptor
        // table of the forked child, where `child_fd` is still open (the parent keeps it
        // open until spawn returns).
        if unsafe { libc::fcntl(child_fd, libc::F_SETFD, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the hook runs between fork and exec; it only calls fcntl (see above),
    // allocates nothing and takes no lock.
    unsafe { cmd.pre_exec(clear_cloexec) };
    let mut child = cmd
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("failed to run {bin}: {e}")))?;
    // Our copy of the helper's end must go, or we would never see EOF if it fails.
    drop(theirs);

    let received = receive_fd(&ours);
    if auto_unmount {
        if let Ok(Some(fd)) = received {
            // The helper stays, watching `ours`, until it unmounts: reap it on a thread.
            std::thread::spawn(move || {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                match child.wait() {
                    Ok(status) => debug!("auto_unmount helper ended ({status}) {stderr}"),
                    Err(e) => debug!("failed to reap the auto_unmount helper: {e}"),
                }
            });
            set_nonblocking(fd.as_fd())?;
            return Ok(HelperMount {
                fd,
                keep_alive: Some(ours),
            });
        }
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    let status = child.wait()?;
    match received {
        Ok(Some(fd)) => {
            set_nonblocking(fd.as_fd())?;
            Ok(HelperMount {
                fd,
                keep_alive: None,
            })
        }
        Ok(None) => Err(io::Error::other(format!(
            "{bin} failed ({status}): {}",
            stderr.trim()
        ))),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("failed to receive the fuse fd from {bin} ({status}): {e}"),
        )),
    }
}

/// Receives one descriptor sent with SCM_RIGHTS; `None` when the peer closed without
/// sending one.
fn receive_fd(sock: &OwnedFd) -> io::Result<Option<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut cmsg = nix::cmsg_space!(RawFd);
    loop {
        let mut iov = [IoSliceMut::new(&mut byte)];
        let msg = match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => msg,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        };
        let mut received = None;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for raw in fds {
                    // SAFETY: the kernel installed `raw` in our table for this message;
                    // nothing else owns it. Extra descriptors are closed on drop.
                    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
                    if received.is_none() {
                        received = Some(fd);
                    }
                }
            }
        }
        return Ok(received);
    }
}

/// Unmounts `mountpoint` lazily. A mount point that is no longer mounted is not an
/// error.
pub(super) fn umount(method: MountMethod, fusermount: &str, mountpoint: &Path) -> io::Result<()> {
    if method != MountMethod::Fusermount {
        match umount2(mountpoint, MntFlags::MNT_DETACH) {
            Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => return Ok(()),
            Err(Errno::EPERM) => {
                debug!("umount2 not permitted, trying {fusermount}");
            }
            Err(e) => return Err(e.into()),
        }
    }
    umount_fusermount(fusermount, mountpoint)
}

fn umount_fusermount(bin: &str, mountpoint: &Path) -> io::Result<()> {
    let failure = match Command::new(bin)
        .args(["-u", "-z", "--"])
        .arg(mountpoint)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Ok(out) if out.status.success() => return Ok(()),
        Ok(out) => io::Error::other(format!(
            "{bin} -u failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => io::Error::new(e.kind(), format!("failed to run {bin}: {e}")),
    };
    // The helper also fails when there was nothing to unmount, which is fine.
    if is_fuse_mounted(mountpoint)? {
        Err(failure)
    } else {
        debug!("{}: already unmounted ({failure})", mountpoint.display());
        Ok(())
    }
}

/// Opens a new descriptor on the connection of `session` with FUSE_DEV_IOC_CLONE, so a
/// channel reads its own requests without sharing a file with the others. Falls back to
/// `dup` on kernels without the ioctl (before 4.2).
pub(super) fn clone_fuse_fd(session: &File) -> io::Result<File> {
    let cloned = open_fuse_device().and_then(|fd| {
        let old = session.as_raw_fd() as u32;
        // SAFETY: `fd` is an open /dev/fuse descriptor; the kernel reads one u32 from the
        // pointer, which points at `old`, alive for the whole call.
        let ret =
            unsafe { libc::ioctl(fd.as_raw_fd(), FUSE_DEV_IOC_CLONE as _, &old as *const u32) };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(fd)
    });
    match cloned {
        Ok(fd) => Ok(File::from(fd)),
        Err(e) => {
            debug!("FUSE_DEV_IOC_CLONE failed ({e}), sharing the session fd with dup");
            let file = session.try_clone()?;
            set_nonblocking(file.as_fd())?;
            Ok(file)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> MountOptions<'static> {
        MountOptions {
            fsname: "my,fs",
            subtype: "demo",
            readonly: false,
            allow_other: false,
            default_permissions: false,
            suid: false,
            dev: false,
            max_read: None,
            auto_unmount: false,
        }
    }

    #[test]
    fn kernel_data_has_required_fields_in_order() {
        let o = opts();
        assert_eq!(
            o.kernel_data(7, libc::S_IFDIR, 1000, 100),
            "fd=7,rootmode=40000,user_id=1000,group_id=100"
        );
        let o = MountOptions {
            allow_other: true,
            default_permissions: true,
            max_read: Some(131072),
            ..opts()
        };
        assert_eq!(
            o.kernel_data(3, libc::S_IFDIR, 0, 0),
            "fd=3,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions,max_read=131072"
        );
    }

    #[test]
    fn fs_type_and_source() {
        let o = opts();
        assert_eq!(o.fs_type(), "fuse.demo");
        assert_eq!(o.source(), "my,fs");
        let o = MountOptions {
            fsname: "",
            subtype: "",
            ..opts()
        };
        assert_eq!(o.fs_type(), "fuse");
        assert_eq!(o.source(), "fuse");
    }

    #[test]
    fn fusermount_opts_escape_names() {
        let o = MountOptions {
            readonly: true,
            allow_other: true,
            ..opts()
        };
        assert_eq!(
            o.fusermount_opts(),
            "ro,nosuid,nodev,fsname=my\\,fs,subtype=demo,allow_other"
        );
        let o = MountOptions {
            fsname: "a\\b",
            subtype: "",
            ..opts()
        };
        assert_eq!(o.fusermount_opts(), "rw,nosuid,nodev,fsname=a\\\\b");
        let o = MountOptions {
            suid: true,
            dev: true,
            ..opts()
        };
        assert_eq!(
            o.fusermount_opts(),
            "rw,suid,dev,fsname=my\\,fs,subtype=demo"
        );
    }

    #[test]
    fn ioctl_number_is_ior_229_0_u32() {
        assert_eq!(
            nix::request_code_read!(229, 0, std::mem::size_of::<u32>()),
            0x8004_e500
        );
        assert_eq!(FUSE_DEV_IOC_CLONE, 0x8004_e500);
        assert_eq!(
            super::super::IN_HEADER_SIZE,
            40,
            "struct fuse_in_header is 40 bytes"
        );
    }

    #[test]
    fn fusermount_mounts_passes_the_fd_and_unmounts() {
        let dir = vmm_sys_util::tempdir::TempDir::new_with_prefix("/tmp/fusedev-fm").unwrap();
        let target = dir.as_path().canonicalize().unwrap();
        let fd = match mount_fusermount(FUSERMOUNT_BIN, &target, &opts()) {
            Ok(m) => m.fd,
            Err(e) => {
                crate::cannot_run(format!("cannot mount with {FUSERMOUNT_BIN}: {e}"));
                return;
            }
        };
        let mounted = is_fuse_mounted(&target);
        let flags = fcntl(&fd, FcntlArg::F_GETFL).map(OFlag::from_bits_retain);
        let fd_flags = fcntl(&fd, FcntlArg::F_GETFD);
        // Unmount before asserting, so a failure leaves nothing mounted.
        let first = umount(MountMethod::Fusermount, FUSERMOUNT_BIN, &target);
        let gone = is_fuse_mounted(&target);
        let second = umount(MountMethod::Fusermount, FUSERMOUNT_BIN, &target);
        assert!(mounted.unwrap(), "not in mountinfo after fusermount3");
        assert!(flags.unwrap().contains(OFlag::O_NONBLOCK));
        assert_eq!(fd_flags.unwrap() & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        first.unwrap();
        assert!(!gone.unwrap(), "still mounted after fusermount3 -u");
        second.unwrap();
    }

    #[test]
    fn missing_helper_is_a_clear_error() {
        let dir = vmm_sys_util::tempdir::TempDir::new_with_prefix("/tmp/fusedev-fm").unwrap();
        let err = match mount_fusermount("/nonexistent/fusermount3", dir.as_path(), &opts()) {
            Err(e) => e,
            Ok(_) => panic!("a missing helper mounted"),
        };
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(
            err.to_string().contains("/nonexistent/fusermount3"),
            "{err}"
        );
        // Nothing mounted there, so unmounting through a missing helper is still fine.
        umount(
            MountMethod::Fusermount,
            "/nonexistent/fusermount3",
            dir.as_path(),
        )
        .unwrap();
    }
}
