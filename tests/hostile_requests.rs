//! Hostile requests (as a virtio-fs guest or a raw /dev/fuse peer can send them) through
//! the server to the real drivers over a scratch directory: nothing a request says may
//! size an allocation beyond the protocol's limits.

#![cfg(feature = "test-utils")]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use fuse_backend_rs::abi::fuse_abi::{EntryOut, GetxattrIn, Opcode};
use fuse_backend_rs::api::filesystem::FileSystem;
use fuse_backend_rs::api::server::testing::{init_request, RequestBuilder};
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::overlayfs::{config::Config as OvlConfig, DynLayer, OverlayFs};
use fuse_backend_rs::passthrough::{Config, PassthroughFs};
use fuse_backend_rs::transport::{FuseBuf, Reader, Writer};
use vm_memory::VolatileSlice;
use vmm_sys_util::tempdir::TempDir;

/// Serves one request, which must be answered (none of these is a FORGET); the reply's
/// errno and body. An `Err` from the server must come with an errno reply, an `Ok` with
/// the reply's length.
fn serve<F: FileSystem<Inode = u64, Handle = u64> + Sync>(
    s: &Server<F>,
    req: &[u8],
) -> (i32, Vec<u8>) {
    let mut input = req.to_vec();
    let mut output = vec![0u8; 1 << 17];
    let res = {
        let r = Reader::from_fuse_buffer(FuseBuf::new(&mut input)).unwrap();
        let slice: VolatileSlice<'_, ()> = FuseBuf::new(&mut output).into_volatile_slice();
        let w = Writer::from_volatile_slices([slice]);
        s.handle_message(r, w, None, None)
    };
    let len = u32::from_le_bytes(output[0..4].try_into().unwrap()) as usize;
    let errno = i32::from_le_bytes(output[4..8].try_into().unwrap());
    assert!(len >= 16, "no reply written ({res:?})");
    assert_eq!(output[8..16], req[8..16], "reply to another unique");
    match &res {
        Ok(n) => assert_eq!(*n, len, "returned length != reply len"),
        Err(e) => assert!(errno < 0, "{e:?} without an errno reply"),
    }
    (errno, output[16..len].to_vec())
}

fn xattr_file(dir: &Path) {
    let f = dir.join("f");
    std::fs::write(&f, b"data").unwrap();
    let path = CString::new(f.as_os_str().as_bytes()).unwrap();
    // SAFETY: both strings are NUL-terminated and the value is 1 byte, as passed.
    let r = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"user.x".as_ptr(),
            b"v".as_ptr().cast(),
            1,
            0,
        )
    };
    assert_eq!(r, 0, "setxattr: {}", std::io::Error::last_os_error());
}

/// GETXATTR and LISTXATTR with a size of almost 4 GiB (attack C): refused with E2BIG
/// before the driver sizes a buffer from it, for `fs`; a legal size still works.
fn huge_xattr_sizes_are_refused<F: FileSystem<Inode = u64, Handle = u64> + Sync>(s: &Server<F>) {
    assert_eq!(serve(s, &init_request(45, 0)).0, 0);
    let (err, body) = serve(s, &RequestBuilder::new(Opcode::Lookup, 1).name("f").build());
    assert_eq!(err, 0, "lookup");
    let entry: EntryOut =
        vm_memory::ByteValued::from_slice(&body[..std::mem::size_of::<EntryOut>()])
            .copied()
            .unwrap();
    let get = |size| {
        RequestBuilder::new(Opcode::Getxattr, entry.nodeid)
            .arg(GetxattrIn { size, padding: 0 })
            .name("user.x")
            .build()
    };
    let list = |size| {
        RequestBuilder::new(Opcode::Listxattr, entry.nodeid)
            .arg(GetxattrIn { size, padding: 0 })
            .build()
    };
    assert_eq!(serve(s, &get(0xffff_ff00)).0, -libc::E2BIG);
    assert_eq!(serve(s, &list(0xffff_ff00)).0, -libc::E2BIG);
    assert_eq!(serve(s, &get(65537)).0, -libc::E2BIG);
    let (err, value) = serve(s, &get(65536));
    assert_eq!((err, value.as_slice()), (0, &b"v"[..]));
    let (err, names) = serve(s, &list(65536));
    assert_eq!(err, 0);
    assert!(names.windows(7).any(|w| w == b"user.x\0"), "{names:?}");
}

fn passthrough(dir: &Path) -> PassthroughFs {
    let cfg = Config {
        root_dir: dir.to_string_lossy().into_owned(),
        xattr: true,
        do_import: true,
        ..Default::default()
    };
    let fs = PassthroughFs::<()>::new(cfg).unwrap();
    fs.import().unwrap();
    fs
}

#[test]
fn passthrough_refuses_huge_xattr_sizes() {
    let tmp = TempDir::new_with_prefix("/tmp/hostile-").unwrap();
    xattr_file(tmp.as_path());
    huge_xattr_sizes_are_refused(&Server::new(passthrough(tmp.as_path())));
}

#[test]
fn overlay_refuses_huge_xattr_sizes() {
    let tmp = TempDir::new_with_prefix("/tmp/hostile-ovl-").unwrap();
    let (lower, upper, work) = (
        tmp.as_path().join("l"),
        tmp.as_path().join("u"),
        tmp.as_path().join("w"),
    );
    for d in [&lower, &upper, &work] {
        std::fs::create_dir(d).unwrap();
    }
    xattr_file(&lower);
    let layer = |d: &Path| -> Arc<DynLayer> { Arc::new(passthrough(d)) };
    let cfg = OvlConfig {
        work: work.to_string_lossy().into_owned(),
        ..Default::default()
    };
    let fs = OverlayFs::with_layers(Some(layer(&upper)), vec![layer(&lower)], cfg).unwrap();
    fs.import().unwrap();
    huge_xattr_sizes_are_refused(&Server::new(fs));
}
