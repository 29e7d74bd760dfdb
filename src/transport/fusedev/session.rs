//! [`FuseSession`]: one mount and its connection to the kernel.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use log::{debug, error, info};

use super::busy_poll::SpinSlots;
use super::channel::{FuseChannel, WakeSignal};
use super::mntns::in_mount_ns;
use super::mount::{self, MountMethod, MountOptions};
use super::{FuseDevWriter, FuseSessionExt};
use crate::buffer::{Error, Result};
use crate::buffer::{BUFFER_HEADER_SIZE, MAX_BUFFER_SIZE};
use crate::errno::err;

/// The longest busy-poll window channels get unless [`FuseSession::set_busy_poll`] says
/// otherwise: long enough to cover a client's turnaround between a reply and its next
/// request (tens of microseconds, more when the client's CPU went idle meanwhile), short
/// enough that an idle daemon stops polling almost at once.
pub const DEFAULT_BUSY_POLL: Duration = Duration::from_micros(200);

/// A FUSE session: the mount point, its mount options and, once mounted, the connection
/// to the kernel's FUSE driver.
///
/// ```no_run
/// # fn main() -> fuse_backend_rs::transport::Result<()> {
/// use fuse_backend_rs::transport::FuseSession;
///
/// let mut session = FuseSession::new("/mnt/demo".as_ref(), "demo", "", false)?;
/// session.set_allow_other(true);
/// session.mount()?;
/// let mut channel = session.new_channel()?;
/// // ... serve `channel.get_request()` on a thread ...
/// session.umount()?;
/// session.wake()?;
/// # Ok(())
/// # }
/// ```
///
/// Dropping a mounted session unmounts it (errors are logged). It does not wake the
/// channels: a lazily detached mount that is still in use keeps being served until
/// [`FuseSession::wake`] or the kernel ends the connection.
pub struct FuseSession {
    mountpoint: PathBuf,
    fsname: String,
    subtype: String,
    readonly: bool,
    allow_other: bool,
    default_permissions: bool,
    fs_checks_permissions: bool,
    suid: bool,
    dev: bool,
    max_read: Option<u32>,
    blksize: Option<u32>,
    fusermount: String,
    bufsize: usize,
    busy_poll: Duration,
    /// The session's /dev/fuse descriptor, while connected.
    file: Option<File>,
    /// How the mount was made; `Some` exactly while `file` is.
    method: Option<MountMethod>,
    wake: Arc<WakeSignal>,
    spin_slots: Arc<SpinSlots>,
    /// Reply area for notifications ([`FuseSession::with_writer`]), allocated on first use.
    notify_buf: Vec<u8>,
    /// Mount with `fusermount3 -o auto_unmount`.
    auto_unmount: bool,
    /// With `auto_unmount`, the socket whose closing makes `fusermount3` unmount.
    keep_alive: Option<OwnedFd>,
    /// Mount and unmount in the mount namespace of this process.
    target_mntns: Option<libc::pid_t>,
}

impl FuseSession {
    /// A session for `mountpoint`, not mounted yet.
    ///
    /// `fsname` is the mount's source as `mount`/`df` show it (`fuse` when empty);
    /// `subtype` makes the filesystem type `fuse.<subtype>` (plain `fuse` when empty);
    /// `readonly` mounts with MS_RDONLY.
    ///
    /// # Errors
    /// [`Error::Mount`] when `mountpoint` does not exist (ENOENT) or is not a directory
    /// (ENOTDIR); [`Error::IoError`] when the wake-up eventfd cannot be made.
    pub fn new(mountpoint: &Path, fsname: &str, subtype: &str, readonly: bool) -> Result<Self> {
        Self::new_with_autounmount(mountpoint, fsname, subtype, readonly, false)
    }

    /// A session like [`FuseSession::new`]'s that, with `auto_unmount`, is unmounted
    /// when this process ends, however it ends (a crash, SIGKILL), as libfuse's
    /// `auto_unmount` option does.
    ///
    /// With `auto_unmount` the session always mounts through the
    /// [`fusermount`](FuseSession::set_fusermount) helper, even when `mount(2)` is
    /// permitted: `fusermount3 -o auto_unmount` stays behind, watching a socket shared
    /// with the session, and unmounts the filesystem once that socket closes, which
    /// happens when the process exits. [`umount`](FuseSession::umount) and drop still
    /// unmount at once.
    ///
    /// # Errors
    /// As [`FuseSession::new`].
    pub fn new_with_autounmount(
        mountpoint: &Path,
        fsname: &str,
        subtype: &str,
        readonly: bool,
        auto_unmount: bool,
    ) -> Result<Self> {
        let mount_err = |source: io::Error| Error::Mount {
            path: mountpoint.display().to_string(),
            source,
        };
        let dest = mountpoint.canonicalize().map_err(mount_err)?;
        if !dest.metadata().map_err(mount_err)?.is_dir() {
            return Err(mount_err(err(libc::ENOTDIR)));
        }
        Ok(FuseSession {
            mountpoint: dest,
            fsname: fsname.to_string(),
            subtype: subtype.to_string(),
            readonly,
            allow_other: false,
            default_permissions: true,
            fs_checks_permissions: false,
            suid: false,
            dev: false,
            max_read: None,
            blksize: None,
            fusermount: mount::FUSERMOUNT_BIN.to_string(),
            bufsize: (MAX_BUFFER_SIZE + BUFFER_HEADER_SIZE) as usize,
            busy_poll: DEFAULT_BUSY_POLL,
            file: None,
            method: None,
            wake: Arc::new(WakeSignal::new().map_err(Error::IoError)?),
            spin_slots: Arc::new(SpinSlots::for_this_machine()),
            notify_buf: Vec::new(),
            auto_unmount,
            keep_alive: None,
            target_mntns: None,
        })
    }

    /// Mounts (and unmounts) in the mount namespace of process `pid` instead of the
    /// caller's; `None` returns to the caller's. Takes effect on the next
    /// [`mount`](FuseSession::mount).
    ///
    /// The work runs on a helper thread that joins that namespace with `setns(2)` (which
    /// needs CAP_SYS_ADMIN); the calling thread stays where it is. The mount point is
    /// looked up in the target namespace; the session's descriptors work from any
    /// namespace.
    pub fn set_target_mntns(&mut self, pid: Option<libc::pid_t>) {
        self.target_mntns = pid;
    }

    /// Sets the longest busy-poll window of channels made from now on: how long a
    /// channel may keep polling an empty device, yielding the CPU between tries, before
    /// it sleeps; each channel adapts its window below this (see
    /// [`FuseChannel#busy-polling`](FuseChannel#busy-polling)). The default is
    /// [`DEFAULT_BUSY_POLL`]; `Duration::ZERO` turns busy polling off, for daemons that
    /// must not spend any CPU while idle.
    pub fn set_busy_poll(&mut self, window: Duration) {
        self.busy_poll = window;
    }

    /// The busy-poll window given to new channels.
    pub fn busy_poll(&self) -> Duration {
        self.busy_poll
    }

    /// Lets users other than the mounting one access the filesystem (`allow_other`).
    /// Unprivileged users need `user_allow_other` in `/etc/fuse.conf`.
    ///
    /// Such a mount is safe only when someone checks each caller's permissions: by default
    /// the kernel does (`default_permissions`, on unless
    /// [`set_default_permissions`](FuseSession::set_default_permissions) turned it off).
    /// [`mount`](FuseSession::mount) refuses `allow_other` without `default_permissions`
    /// unless [`set_fs_checks_permissions`](FuseSession::set_fs_checks_permissions) says
    /// the filesystem checks them itself.
    pub fn set_allow_other(&mut self, allow_other: bool) {
        self.allow_other = allow_other;
    }

    /// Whether the kernel checks permissions from the file modes itself
    /// (`default_permissions`) instead of leaving it all to the filesystem. On by default,
    /// as in fuse-backend-rs 0.14, which always mounted with it.
    ///
    /// Turn it off only for a filesystem that checks every caller itself. The drivers of
    /// this crate do not: [`PassthroughFs`](crate::passthrough::PassthroughFs) creates
    /// files with the caller's uid, gid and umask and keeps clients inside the shared
    /// directory, but opens, changes and removes existing files with the daemon's own
    /// rights, so without `default_permissions` any user who can reach the mount acts as
    /// the daemon.
    pub fn set_default_permissions(&mut self, default_permissions: bool) {
        self.default_permissions = default_permissions;
    }

    /// Declares that the filesystem checks each caller's permissions itself (in `open`,
    /// `setattr`, `unlink`, ...), which lets [`mount`](FuseSession::mount) accept
    /// `allow_other` without `default_permissions`. Off by default.
    pub fn set_fs_checks_permissions(&mut self, checks: bool) {
        self.fs_checks_permissions = checks;
    }

    /// Honours set-user-ID and set-group-ID bits on the mount (mount option `suid`; the
    /// default is `nosuid`). Only root may mount with it.
    pub fn set_suid(&mut self, suid: bool) {
        self.suid = suid;
    }

    /// Allows device nodes on the mount to be opened as devices (mount option `dev`; the
    /// default is `nodev`). Only root may mount with it.
    pub fn set_dev(&mut self, dev: bool) {
        self.dev = dev;
    }

    /// Caps the size of READ requests (`max_read`).
    pub fn set_max_read(&mut self, max_read: u32) {
        self.max_read = Some(max_read);
    }

    /// Records the block size. The kernel accepts `blksize` only for block-device-backed
    /// (`fuseblk`) mounts, which this session does not make, so the value is kept but not
    /// passed to the kernel.
    pub fn set_blksize(&mut self, blksize: u32) {
        self.blksize = Some(blksize);
    }

    /// The block size set with [`FuseSession::set_blksize`].
    pub fn blksize(&self) -> Option<u32> {
        self.blksize
    }

    /// Sets the helper used when `mount(2)` is not permitted (default `fusermount3`).
    pub fn set_fusermount(&mut self, bin: &str) {
        self.fusermount = bin.to_string();
    }

    /// The helper used when `mount(2)` is not permitted.
    pub fn get_fusermount(&self) -> &str {
        &self.fusermount
    }

    /// The mount point (canonicalized when the session was made).
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// The filesystem name given to [`FuseSession::new`].
    pub fn fsname(&self) -> &str {
        &self.fsname
    }

    /// The subtype given to [`FuseSession::new`].
    pub fn subtype(&self) -> &str {
        &self.subtype
    }

    /// Size of each channel's request and reply buffers: the largest request the server
    /// negotiates (`MAX_BUFFER_SIZE` of data plus `BUFFER_HEADER_SIZE` of headers).
    pub fn bufsize(&self) -> usize {
        self.bufsize
    }

    /// The session's `/dev/fuse` file, while connected.
    pub fn get_fuse_file(&self) -> Option<&File> {
        self.file.as_ref()
    }

    /// Adopts an already connected `/dev/fuse` file, for instance one inherited from a
    /// previous daemon on upgrade. The session then counts as mounted and unmounts
    /// [`mountpoint`](FuseSession::mountpoint) on [`umount`](FuseSession::umount) or drop.
    /// The file is made non-blocking.
    pub fn set_fuse_file(&mut self, file: File) {
        if let Err(e) = mount::set_nonblocking(file.as_fd()) {
            error!("failed to make the adopted fuse fd non-blocking: {e}");
        }
        self.file = Some(file);
        self.method.get_or_insert(MountMethod::Adopted);
    }

    /// Gives up the session's `/dev/fuse` file without unmounting, for handing the live
    /// connection to another session or process ([`set_fuse_file`](Self::set_fuse_file)
    /// there). Afterwards the session is no longer connected: [`umount`](Self::umount)
    /// and drop leave the mount alone. `None` when it was not connected.
    ///
    /// Stop the channels first ([`wake`](Self::wake)); their own descriptors keep
    /// working until they are dropped. With `auto_unmount` the `fusermount3` helper still
    /// unmounts once this session is dropped (it watches a socket the session keeps).
    pub fn detach_fuse_file(&mut self) -> Option<File> {
        self.method = None;
        self.file.take()
    }

    /// A new descriptor on the session's connection (FUSE_DEV_IOC_CLONE, or `dup` on
    /// kernels without it), non-blocking and close-on-exec.
    ///
    /// # Errors
    /// [`Error::SessionNotMounted`] before [`mount`](FuseSession::mount);
    /// [`Error::IoError`] when no descriptor can be made.
    pub fn clone_fuse_file(&self) -> Result<File> {
        let file = self.file.as_ref().ok_or(Error::SessionNotMounted)?;
        mount::clone_fuse_fd(file).map_err(Error::IoError)
    }

    /// Whether the session is connected (mounted, or given a file with
    /// [`set_fuse_file`](FuseSession::set_fuse_file)) and not unmounted since.
    pub fn is_mounted(&self) -> bool {
        self.file.is_some()
    }

    /// Mounts the filesystem and connects to the kernel.
    ///
    /// Tries `mount(2)` first; when that is not permitted (EPERM, or EACCES on
    /// `/dev/fuse`), runs the [`fusermount`](FuseSession::set_fusermount) helper, which
    /// passes the connection back over a socket.
    ///
    /// # Errors
    /// [`Error::Mount`]: the session is already mounted (EBUSY), the kernel refused the
    /// mount, or the helper failed or is missing.
    pub fn mount(&mut self) -> Result<()> {
        let mount_err = |source: io::Error| Error::Mount {
            path: self.mountpoint.display().to_string(),
            source,
        };
        if self.file.is_some() {
            return Err(mount_err(err(libc::EBUSY)));
        }
        if self.allow_other && !self.default_permissions && !self.fs_checks_permissions {
            // Every user could act with the daemon's rights (see set_default_permissions).
            return Err(mount_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "allow_other without default_permissions lets every user act as the daemon; \
                 keep default_permissions or call set_fs_checks_permissions(true)",
            )));
        }
        let opts = MountOptions {
            fsname: &self.fsname,
            subtype: &self.subtype,
            readonly: self.readonly,
            allow_other: self.allow_other,
            default_permissions: self.default_permissions,
            suid: self.suid,
            dev: self.dev,
            max_read: self.max_read,
            auto_unmount: self.auto_unmount,
        };
        let (mountpoint, helper) = (&self.mountpoint, &self.fusermount);
        let (fd, keep_alive, method) = in_mount_ns(self.target_mntns, || {
            let by_helper = || {
                let m = mount::mount_fusermount(helper, mountpoint, &opts)?;
                Ok((m.fd, m.keep_alive, MountMethod::Fusermount))
            };
            if opts.auto_unmount {
                // Only the helper can watch for our end.
                return by_helper();
            }
            match mount::mount_syscall(mountpoint, &opts) {
                Ok(fd) => Ok((fd, None, MountMethod::Syscall)),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) => {
                    debug!("mount(2) not permitted ({e}), trying {helper}");
                    by_helper()
                }
                Err(e) => Err(e),
            }
        })
        .map_err(mount_err)?;
        info!(
            "mounted {} on {} ({:?})",
            opts.fs_type(),
            self.mountpoint.display(),
            method
        );
        self.file = Some(File::from(fd));
        self.method = Some(method);
        self.keep_alive = keep_alive;
        Ok(())
    }

    /// Unmounts the filesystem (lazily: MNT_DETACH, or `fusermount3 -u -z`) and closes
    /// the session's descriptor. Channels keep working until the kernel ends the
    /// connection, which it does once the detached mount is no longer in use.
    ///
    /// Calling it on a session that is not mounted, or whose mount point was already
    /// unmounted by someone else, succeeds.
    ///
    /// # Errors
    /// [`Error::Umount`] when the kernel or the helper refused; the session then stays
    /// mounted, so the call can be retried.
    pub fn umount(&mut self) -> Result<()> {
        let Some(method) = self.method else {
            self.file = None;
            return Ok(());
        };
        let (mountpoint, helper) = (&self.mountpoint, &self.fusermount);
        in_mount_ns(self.target_mntns, || {
            mount::umount(method, helper, mountpoint)
        })
        .map_err(|source| Error::Umount {
            path: self.mountpoint.display().to_string(),
            source,
        })?;
        info!("unmounted {}", self.mountpoint.display());
        self.method = None;
        self.file = None;
        // With auto_unmount the helper now finds nothing left to unmount, and exits.
        self.keep_alive = None;
        Ok(())
    }

    /// Makes every channel's [`get_request`](FuseChannel::get_request) return `Ok(None)`,
    /// now and from then on, including channels still blocked and channels made later.
    ///
    /// # Errors
    /// [`Error::IoError`] when the wake-up eventfd cannot be written.
    pub fn wake(&self) -> Result<()> {
        self.wake.wake().map_err(Error::IoError)
    }

    /// A channel to serve requests on, with its own descriptor (see
    /// [`clone_fuse_file`](FuseSession::clone_fuse_file)) and its own buffers.
    ///
    /// # Errors
    /// [`Error::SessionNotMounted`] before [`mount`](FuseSession::mount);
    /// [`Error::IoError`] when the descriptor or the poller cannot be made.
    pub fn new_channel(&self) -> Result<FuseChannel> {
        let file = self.clone_fuse_file()?;
        FuseChannel::new(
            file,
            self.wake.clone(),
            self.spin_slots.clone(),
            self.bufsize,
            self.busy_poll,
        )
    }

    /// Calls `f` with a writer on the session's descriptor, for sending notifications
    /// (`Server::notify_*`). The writer's buffer belongs to the session and is reused.
    ///
    /// When the session is not connected, `f` is not called. The same as
    /// [`FuseSessionExt::with_writer`].
    pub fn with_writer<F>(&mut self, f: F)
    where
        F: FnOnce(FuseDevWriter),
    {
        let sent = self.try_with_writer(|w| {
            f(w);
            Ok::<(), Error>(())
        });
        if sent.is_err() {
            debug!("with_writer on an unmounted session: nothing to write to");
        }
    }
}

impl FuseSessionExt for FuseSession {
    fn file(&self) -> Option<&File> {
        self.file.as_ref()
    }

    fn bufsize(&self) -> usize {
        self.bufsize
    }

    /// As [`FuseSession::with_writer`].
    fn with_writer<F>(&mut self, f: F)
    where
        F: FnOnce(FuseDevWriter),
    {
        FuseSession::with_writer(self, f)
    }

    /// Calls `f` with a writer on the session's descriptor and returns what it returns;
    /// the writer's buffer belongs to the session and is reused.
    ///
    /// # Errors
    /// [`Error::SessionFailure`] (converted into `E`) when the session is not connected;
    /// otherwise `f`'s.
    fn try_with_writer<F, R, E>(&mut self, f: F) -> std::result::Result<R, E>
    where
        F: FnOnce(FuseDevWriter) -> std::result::Result<R, E>,
        E: From<Error>,
    {
        let Some(file) = self.file.as_ref() else {
            return Err(Error::SessionFailure("the fuse session is not mounted".into()).into());
        };
        if self.notify_buf.is_empty() {
            self.notify_buf = vec![0u8; self.bufsize];
        }
        f(FuseDevWriter::on_device(file.as_fd(), &mut self.notify_buf))
    }
}

impl Drop for FuseSession {
    fn drop(&mut self) {
        if let Err(e) = self.umount() {
            error!("{e}: {}", error_chain(&e));
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = String::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use vmm_sys_util::tempdir::TempDir;

    #[test]
    fn session_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<FuseSession>();
    }

    #[test]
    fn new_checks_the_mountpoint() {
        let dir = TempDir::new_with_prefix("/tmp/fusedev-unit").unwrap();
        let missing = dir.as_path().join("missing");
        match FuseSession::new(&missing, "x", "", false) {
            Err(Error::Mount { path, source }) => {
                assert!(path.ends_with("missing"));
                assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("a missing mount point was accepted"),
        }
        let file = dir.as_path().join("file");
        std::fs::File::create(&file).unwrap();
        match FuseSession::new(&file, "x", "", false) {
            Err(Error::Mount { source, .. }) => {
                assert_eq!(source.raw_os_error(), Some(libc::ENOTDIR))
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("a regular file was accepted as mount point"),
        }
    }

    #[test]
    fn defaults_and_setters() {
        let dir = TempDir::new_with_prefix("/tmp/fusedev-unit").unwrap();
        let mut se = FuseSession::new(dir.as_path(), "name", "sub", true).unwrap();
        assert_eq!(se.mountpoint(), dir.as_path().canonicalize().unwrap());
        assert_eq!(se.fsname(), "name");
        assert_eq!(se.subtype(), "sub");
        assert_eq!(
            se.bufsize(),
            (MAX_BUFFER_SIZE + BUFFER_HEADER_SIZE) as usize
        );
        assert_eq!(se.get_fusermount(), "fusermount3");
        se.set_fusermount("/usr/local/bin/fusermount3");
        assert_eq!(se.get_fusermount(), "/usr/local/bin/fusermount3");
        se.set_blksize(4096);
        assert_eq!(se.blksize(), Some(4096));
        assert!(!se.is_mounted());
        assert!(se.get_fuse_file().is_none());
    }

    #[test]
    fn unmounted_session_refuses_channels_and_umounts_cleanly() {
        let dir = TempDir::new_with_prefix("/tmp/fusedev-unit").unwrap();
        let mut se = FuseSession::new(dir.as_path(), "x", "", false).unwrap();
        assert!(matches!(se.new_channel(), Err(Error::SessionNotMounted)));
        assert!(matches!(
            se.clone_fuse_file(),
            Err(Error::SessionNotMounted)
        ));
        se.umount().unwrap();
        se.umount().unwrap();
        se.wake().unwrap();
        let mut called = false;
        se.with_writer(|_| called = true);
        assert!(!called);
    }

    #[test]
    fn wake_without_mount_returns_none() {
        // A /dev/fuse fd that was never mounted: the clone ioctl fails (no connection), so
        // the channel falls back to a dup; wake must still stop it at once.
        let fd = match mount::open_fuse_device() {
            Ok(fd) => fd,
            Err(e) => {
                crate::cannot_run(format!("cannot open /dev/fuse: {e}"));
                return;
            }
        };
        let dir = TempDir::new_with_prefix("/tmp/fusedev-unit").unwrap();
        let mut se = FuseSession::new(dir.as_path(), "x", "", false).unwrap();
        se.set_fuse_file(File::from(fd));
        assert!(se.is_mounted());
        let mut ch = se.new_channel().unwrap();
        se.wake().unwrap();
        assert!(ch.get_request().unwrap().is_none());
        // Not really mounted: umount finds nothing to undo and is not an error.
        se.umount().unwrap();
        assert!(!se.is_mounted());
    }

    #[test]
    fn with_writer_sends_on_the_session_fd() {
        let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        let dir = TempDir::new_with_prefix("/tmp/fusedev-unit").unwrap();
        let mut se = FuseSession::new(dir.as_path(), "x", "", false).unwrap();
        se.set_fuse_file(File::from(wr));
        se.with_writer(|mut w| {
            // A new writer sends each write at once; commit has nothing left.
            w.write_all(b"notify").unwrap();
            assert_eq!(w.commit(None).unwrap(), 0);
        });
        let mut got = [0u8; 6];
        nix::unistd::read(&rd, &mut got).unwrap();
        assert_eq!(&got, b"notify");
        // Forget the pipe before drop tries to unmount the tempdir (not mounted: no-op).
        se.umount().unwrap();
    }
}
