//! The api, persist, passthrough and overlayfs items of fuse-backend-rs 0.14, used the
//! way upstream code uses them: `FileSystem::ioctl` with borrowed `IoctlData`, `poll`
//! with a typed kernel handle, `id_remap`, `FileLock::lock_type`, `ZeroCopyWriter` and
//! `ZeroCopyReader` on `File`, the generic `Layer` and its helpers, `OverlayFs::new`
//! with `BoxedLayer`s, the `Server` notifications on a `FuseDevWriter`, the `Vfs`
//! additions and `persist`, `PassthroughFs::readlinkat_proc_file`.
//!
//! The layer helpers set `trusted.*` attributes, which needs root: outside CI those
//! tests print "skipping: ..." and return; with CI=true they fail.

#![cfg(all(feature = "fusedev", feature = "test-utils"))]

#[path = "common/ci.rs"]
mod ci;

use std::ffi::CStr;
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fuse_backend_rs::abi::fuse_abi::{self, IoctlIn, Opcode, PollIn};
use fuse_backend_rs::api::filesystem::{
    Context, Entry, FileLock, FileSystem, IoctlData, Layer, ZeroCopyReader, ZeroCopyWriter,
};
use fuse_backend_rs::api::server::testing::{init_request, serve, RequestBuilder};
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::api::vfs::{BackendFileSystem, VfsError, VfsInode};
use fuse_backend_rs::api::{BackFileSystem, Vfs, VfsOptions};
use fuse_backend_rs::overlayfs::{
    self, BoxedLayer, Config as OvlConfig, OverlayFs, CURRENT_DIR, MAXBUFSIZE, MAXNAMELEN,
    PARENT_DIR,
};
use fuse_backend_rs::passthrough::{self, InodeData, PassthroughFs};
use fuse_backend_rs::transport::FuseDevWriter;
use vmm_sys_util::tempdir::TempDir;

const ROOT: u64 = 1;

fn root_or_skip(what: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    ci::cannot_run(format!("{what} needs root"));
    false
}

/// A filesystem as upstream code writes one: ioctl, poll and id_remap in upstream's
/// form, recording what it was given.
#[derive(Default)]
struct Upstream {
    out: Vec<u8>,
    seen: Mutex<Vec<String>>,
}

impl FileSystem for Upstream {
    type Inode = u64;
    type Handle = u64;

    fn lookup(&self, ctx: &Context, _parent: u64, _name: &CStr) -> io::Result<Entry> {
        self.seen
            .lock()
            .unwrap()
            .push(format!("lookup uid={}", ctx.uid));
        Err(io::Error::from_raw_os_error(libc::ENOENT))
    }

    fn ioctl(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: u64,
        _flags: u32,
        cmd: u32,
        data: IoctlData,
        _out_size: u32,
    ) -> io::Result<IoctlData<'_>> {
        let input = data.data.map(|d| d.to_vec()).unwrap_or_default();
        self.seen
            .lock()
            .unwrap()
            .push(format!("ioctl {cmd:#x} {input:?}"));
        Ok(IoctlData {
            result: 5,
            data: Some(&self.out),
        })
    }

    fn poll(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: Self::Handle,
        khandle: Self::Handle,
        _flags: u32,
        events: u32,
    ) -> io::Result<u32> {
        self.seen.lock().unwrap().push(format!("poll kh={khandle}"));
        Ok(events)
    }

    fn id_remap(&self, ctx: &mut Context) -> io::Result<()> {
        ctx.uid += 1000;
        Ok(())
    }
}

fn started(fs: Upstream) -> Server<Upstream> {
    let s = Server::new(fs);
    serve(&s, &init_request(31, 0)).0.unwrap();
    s
}

#[test]
fn the_server_calls_upstreams_ioctl_poll_and_id_remap() {
    let s = started(Upstream {
        out: b"reply".to_vec(),
        ..Default::default()
    });
    let ioctl = IoctlIn {
        fh: 3,
        cmd: 0x1234,
        in_size: 3,
        out_size: 16,
        ..Default::default()
    };
    let req = RequestBuilder::new(Opcode::Ioctl, 2)
        .arg(ioctl)
        .bytes(b"abc")
        .build();
    let (res, reply) = serve(&s, &req);
    res.unwrap();
    assert_eq!(reply.error(), 0);
    let body = reply.body();
    assert_eq!(&body[..4], &5i32.to_le_bytes());
    assert_eq!(&body[16..], b"reply");

    let poll = PollIn {
        fh: 3,
        kh: 77,
        flags: 0,
        events: libc::POLLIN as u32,
    };
    let (res, reply) = serve(&s, &RequestBuilder::new(Opcode::Poll, 2).arg(poll).build());
    res.unwrap();
    assert_eq!(reply.error(), 0);

    let req = RequestBuilder::new(Opcode::Lookup, ROOT)
        .caller(7, 7, 1)
        .name("x")
        .build();
    serve(&s, &req).0.unwrap();
    assert_eq!(
        *s.fs().seen.lock().unwrap(),
        ["ioctl 0x1234 [97, 98, 99]", "poll kh=77", "lookup uid=1007"]
    );
}

/// A filesystem need not be `Send` or `Sync` to implement the trait (as upstream).
#[allow(dead_code)]
struct Local(Rc<()>);

impl FileSystem for Local {
    type Inode = u64;
    type Handle = u64;
}

/// The notifications take a `FuseDevWriter` and upstream's argument types.
#[allow(dead_code)]
fn notifications_take_upstreams_arguments<F: FileSystem + Sync>(
    s: &Server<F>,
    w1: FuseDevWriter<'_, ()>,
    w2: FuseDevWriter<'_, ()>,
    w3: FuseDevWriter<'_, ()>,
) -> fuse_backend_rs::Result<()> {
    let off: u64 = 0;
    let len: u64 = 4096;
    s.notify_inval_entry(w1, ROOT, c"name")?;
    s.notify_inval_inode(w2, 2, off, len)?;
    let done: () = s.notify_resend(w3)?;
    Ok(done)
}

#[test]
fn file_lock_has_upstreams_fields_and_conversions() {
    let l = FileLock {
        start: 1,
        end: 9,
        lock_type: libc::F_WRLCK as u32,
        pid: 42,
    };
    let wire: fuse_abi::FileLock = l.into();
    assert_eq!(wire.type_, libc::F_WRLCK as u32);
    let back: FileLock = wire.into();
    assert_eq!(
        (back.start, back.end, back.lock_type, back.pid),
        (1, 9, 1, 42)
    );
}

#[test]
fn files_are_zero_copy_readers_and_writers() {
    let dir = TempDir::new().unwrap();
    let mut src = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.as_path().join("src"))
        .unwrap();
    src.write_all(b"0123456789").unwrap();
    let mut dst = File::create(dir.as_path().join("dst")).unwrap();

    let done: () = dst.write_all_from(&mut src, 4, 2).unwrap();
    assert_eq!(done, ());
    assert_eq!(
        ZeroCopyWriter::copy_to_end(&mut dst, &mut src, 6).unwrap(),
        4
    );
    let e = dst.write_all_from(&mut src, 5, 8).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(fs::read(dir.as_path().join("dst")).unwrap(), b"2345678989");
    assert_eq!(dst.available_bytes(), usize::MAX);

    // As a reader: from the file's position into `f` at an offset.
    let mut input = File::open(dir.as_path().join("src")).unwrap();
    input.seek(SeekFrom::Start(5)).unwrap();
    assert_eq!(input.read_to(&mut src, 3, 0).unwrap(), 3);
    let mut all = String::new();
    src.seek(SeekFrom::Start(0)).unwrap();
    src.read_to_string(&mut all).unwrap();
    assert_eq!(all, "5673456789");
}

fn passthrough(dir: &std::path::Path) -> PassthroughFs {
    let cfg = passthrough::Config {
        root_dir: dir.to_string_lossy().into_owned(),
        xattr: true,
        do_import: true,
        ..Default::default()
    };
    PassthroughFs::<()>::new(cfg).unwrap()
}

/// Upstream-style generic use of a layer.
fn whiteout_and_opaque<L: Layer>(l: &L, ctx: &Context) -> io::Result<(bool, bool, bool)> {
    let root = l.root_inode();
    let w = l.create_whiteout(ctx, root, c"gone")?;
    let is_wh = l.is_whiteout(ctx, w.inode.into())?;
    l.delete_whiteout(ctx, l.root_inode(), c"gone")?;
    let d = l.lookup(ctx, l.root_inode(), c"dir")?;
    let before = l.is_opaque(ctx, d.inode.into())?;
    l.set_opaque(ctx, d.inode.into())?;
    let after = l.is_opaque(ctx, d.inode.into())?;
    Ok((is_wh, before, after))
}

#[test]
fn layer_helpers_on_a_passthrough_layer() {
    if !root_or_skip("trusted.overlay.opaque") {
        return;
    }
    let dir = TempDir::new().unwrap();
    fs::create_dir(dir.as_path().join("dir")).unwrap();
    let fs = passthrough(dir.as_path());
    let got = whiteout_and_opaque(&fs, &Context::new()).unwrap();
    assert_eq!(got, (true, false, true));
    assert!(!dir.as_path().join("gone").exists());
    // The overlay reads what set_opaque wrote: "dir" hides a lower "dir/x".
    let lower = TempDir::new().unwrap();
    fs::create_dir_all(lower.as_path().join("dir/x")).unwrap();
    let upper: Arc<BoxedLayer> = Arc::new(Box::new(fs));
    let lower: Arc<BoxedLayer> = Arc::new(Box::new(passthrough(lower.as_path())));
    let ovl = OverlayFs::new(
        None,
        vec![upper, lower],
        OvlConfig {
            do_import: true,
            ..Default::default()
        },
    )
    .unwrap();
    let d = ovl
        .lookup(&Context::new(), ovl.root_inode(), c"dir")
        .unwrap();
    let e = ovl.lookup(&Context::new(), d.inode, c"x").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
}

#[test]
fn overlay_items_have_upstreams_values() {
    #[allow(unused_imports)]
    use overlayfs::sync_io;
    let i: overlayfs::Inode = 1;
    let h: overlayfs::Handle = 2;
    assert_eq!((i, h), (1u64, 2u64));
    assert_eq!(MAXNAMELEN, 256);
    assert_eq!((CURRENT_DIR, PARENT_DIR), (".", ".."));
    assert_eq!(MAXBUFSIZE, 1 << 20);

    let dir = TempDir::new().unwrap();
    fs::write(dir.as_path().join("f"), b"x").unwrap();
    let lower: Arc<BoxedLayer> = Arc::new(Box::new(passthrough(dir.as_path())));
    let ovl = OverlayFs::new(None, vec![lower], OvlConfig::default()).unwrap();
    ovl.import().unwrap();
    assert_eq!(ovl.root_inode(), ROOT);
    let e = ovl.lookup(&Context::new(), ovl.root_inode(), c"f").unwrap();
    assert_eq!(e.attr.st_size, 1);
}

#[test]
fn passthrough_items() {
    fn debug_send_sync<T: std::fmt::Debug + Send + Sync>() {}
    debug_send_sync::<InodeData>();
    let dir = TempDir::new().unwrap();
    fs::write(dir.as_path().join("f"), b"x").unwrap();
    let fs = passthrough(dir.as_path());
    let e = fs.lookup(&Context::new(), ROOT, c"f").unwrap();
    let path = fs.readlinkat_proc_file(e.inode).unwrap();
    assert_eq!(path, dir.as_path().join("f").canonicalize().unwrap());
    // Upstream's non-generic `impl Layer for PassthroughFs`.
    let l: &dyn Layer<Inode = u64, Handle = u64> = &fs;
    assert_eq!(l.root_inode(), ROOT);
    let e = fs.readlinkat_proc_file(12345).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EBADF));
}

/// A backend with only `as_any`: `mount` is provided (ENOSYS).
struct Bare;

impl FileSystem for Bare {
    type Inode = u64;
    type Handle = u64;
}

impl BackendFileSystem for Bare {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn vfs_items() {
    let mut vfs = Vfs::default();
    vfs.set_remove_pseudo_root();
    assert!(!vfs.initialized());
    let _pseudo: &fuse_backend_rs::api::pseudo_fs::PseudoFs = vfs.get_root_pseudofs();
    let bare: BackFileSystem = Box::new(Bare);
    assert!(
        matches!(vfs.mount(bare, "/bare"), Err(VfsError::Mount(e)) if e.raw_os_error() == Some(libc::ENOSYS))
    );

    let dir = TempDir::new().unwrap();
    let idx = vfs
        .mount(Box::new(passthrough(dir.as_path())), "/p")
        .unwrap();
    let (fs, got): (Arc<BackFileSystem>, u8) = vfs.get_rootfs("/p").unwrap().unwrap();
    assert_eq!(got, idx);
    assert!(fs.as_any().downcast_ref::<PassthroughFs>().is_some());

    let ino = VfsInode::from((idx as u64) << 56 | 5);
    assert_eq!(u64::from(ino), (idx as u64) << 56 | 5);
    let e = VfsError::Persist("x".into());
    assert!(e.to_string().contains('x'));

    let opts = VfsOptions {
        id_mapping: (0, 1000, 10),
        ..VfsOptions::default()
    };
    let v = Vfs::new(opts);
    let mut ctx = Context::new();
    ctx.uid = 1003;
    ctx.gid = 20;
    v.id_remap(&mut ctx).unwrap();
    assert_eq!((ctx.uid, ctx.gid), (3, 20));
    let _ = Duration::ZERO;
}

#[cfg(feature = "persist")]
#[test]
fn vfs_state_survives_save_and_restore() {
    use fuse_backend_rs::abi::fuse_abi::FsOptions;
    let a = TempDir::new().unwrap();
    let b = TempDir::new().unwrap();
    let old = Vfs::new(VfsOptions::default());
    let ia = old
        .mount(Box::new(passthrough(a.as_path())), "/x/a")
        .unwrap();
    let ib = old.mount(Box::new(passthrough(b.as_path())), "/b").unwrap();
    old.init(FsOptions::empty()).unwrap();
    let ctx = Context::new();
    let x = old.lookup(&ctx, ROOT, c"x").unwrap();
    let ea = old.lookup(&ctx, x.inode, c"a").unwrap();
    let eb = old.lookup(&ctx, ROOT, c"b").unwrap();

    let mut bytes: Vec<u8> = old.save_to_bytes().unwrap();
    let new = Vfs::new(VfsOptions::default());
    new.restore_from_bytes(&mut bytes).unwrap();
    assert!(new.initialized());
    new.restore_mount(Box::new(passthrough(a.as_path())), ia, "/x/a")
        .unwrap();
    new.restore_mount(Box::new(passthrough(b.as_path())), ib, "/b")
        .unwrap();
    let x2 = new.lookup(&ctx, ROOT, c"x").unwrap();
    assert_eq!(x2.inode, x.inode);
    assert_eq!(new.lookup(&ctx, x2.inode, c"a").unwrap().inode, ea.inode);
    assert_eq!(new.lookup(&ctx, ROOT, c"b").unwrap().inode, eb.inode);

    let mut junk = b"FBRSVFS\0garbage".to_vec();
    assert!(matches!(
        Vfs::default().restore_from_bytes(&mut junk),
        Err(VfsError::Persist(_))
    ));
}
