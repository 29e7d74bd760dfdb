//! The passthrough driver through its public API only: `PassthroughFs` driven by the
//! `FileSystem` trait, as a server (or a Vfs) would, without mounting anything.

use std::ffi::CString;
use std::io;
use std::path::Path;
use std::sync::Arc;

use fuse_backend_rs::abi::fuse_abi::{CreateIn, FsOptions, ROOT_ID};
use fuse_backend_rs::api::filesystem::{Context, FileSystem, ZeroCopyReader, ZeroCopyWriter};
use fuse_backend_rs::api::vfs::{BackendFileSystem, Vfs, VfsOptions};
use fuse_backend_rs::passthrough::{CachePolicy, Config, PassthroughFs};
use fuse_backend_rs::{FileReadWriteVolatile, FileVolatileSlice};
use vmm_sys_util::tempdir::TempDir;

struct Out(Vec<u8>, usize);

impl io::Write for Out {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ZeroCopyWriter for Out {
    fn write_from(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        let mut buf = vec![0u8; count.min(self.available_bytes())];
        let n = f.read_at_volatile(FileVolatileSlice::from_mut_slice(&mut buf), off)?;
        self.0.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn available_bytes(&self) -> usize {
        self.1 - self.0.len()
    }
}

struct In(Vec<u8>, usize);

impl io::Read for In {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        let n = b.len().min(self.0.len() - self.1);
        b[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
        self.1 += n;
        Ok(n)
    }
}

impl ZeroCopyReader for In {
    fn read_to(
        &mut self,
        f: &mut dyn FileReadWriteVolatile,
        count: usize,
        off: u64,
    ) -> io::Result<usize> {
        let n = count.min(self.0.len() - self.1);
        let s = &mut self.0[self.1..self.1 + n];
        let done = f.write_at_volatile(FileVolatileSlice::from_mut_slice(s), off)?;
        self.1 += done;
        Ok(done)
    }
}

fn cs(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn new_fs(dir: &Path, f: impl FnOnce(&mut Config)) -> PassthroughFs {
    let mut cfg = Config {
        root_dir: dir.to_str().unwrap().to_string(),
        ..Default::default()
    };
    f(&mut cfg);
    PassthroughFs::<()>::new(cfg).unwrap()
}

fn fds_under(dir: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter(|t| t.starts_with(dir))
        .count()
}

#[test]
fn passthrough_public_api_roundtrip() {
    let dir = TempDir::new().unwrap();
    let fs = new_fs(dir.as_path(), |c| c.cache_policy = CachePolicy::Auto);
    fs.init(FsOptions::all()).unwrap();
    let ctx = Context::default();
    let args = CreateIn {
        flags: libc::O_RDWR as u32,
        mode: libc::S_IFREG | 0o644,
        umask: 0o022,
        fuse_flags: 0,
    };
    let (e, h, _, _) = fs.create(&ctx, ROOT_ID, &cs("hello"), args).unwrap();
    let h = h.unwrap();
    let mut r = In(b"hello, world".to_vec(), 0);
    assert_eq!(
        fs.write(&ctx, e.inode, h, &mut r, 12, 0, None, false, 0, 0)
            .unwrap(),
        12
    );
    let mut w = Out(Vec::new(), 64);
    fs.read(&ctx, e.inode, h, &mut w, 64, 7, None, 0).unwrap();
    assert_eq!(w.0, b"world");
    fs.release(&ctx, e.inode, 0, h, true, false, None).unwrap();
    assert_eq!(
        std::fs::read(dir.as_path().join("hello")).unwrap(),
        b"hello, world"
    );
    fs.forget(&ctx, e.inode, 1);
    fs.destroy();
}

#[test]
fn passthrough_concurrent_lookup_forget_keeps_counts() {
    let dir = TempDir::new().unwrap();
    for i in 0..8 {
        std::fs::write(dir.as_path().join(format!("f{i}")), b"x").unwrap();
    }
    let fs = Arc::new(new_fs(dir.as_path(), |_| {}));
    let base = fds_under(dir.as_path());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let fs = fs.clone();
            std::thread::spawn(move || {
                let ctx = Context::default();
                for round in 0..500 {
                    let name = cs(&format!("f{}", (round + t) % 8));
                    let e = fs.lookup(&ctx, ROOT_ID, &name).unwrap();
                    fs.getattr(&ctx, e.inode, None).unwrap();
                    fs.forget(&ctx, e.inode, 1);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Every lookup was forgotten: all inode descriptors are closed again.
    assert_eq!(fds_under(dir.as_path()), base);
    let ctx = Context::default();
    let e = fs.lookup(&ctx, ROOT_ID, &cs("f0")).unwrap();
    fs.forget(&ctx, e.inode, u64::MAX);
    assert_eq!(fds_under(dir.as_path()), base);
}

#[test]
fn passthrough_mounts_in_a_vfs() {
    let dir = TempDir::new().unwrap();
    std::fs::write(dir.as_path().join("inside"), b"1").unwrap();
    let fs = new_fs(dir.as_path(), |c| c.do_import = false);
    fs.import().unwrap();
    let (root, max) = fs.mount().unwrap();
    assert_eq!(root.inode, ROOT_ID);
    assert!(max >= 1 << 47);
    let vfs = Vfs::new(VfsOptions::default());
    vfs.mount(Box::new(fs), "/data").unwrap();
    let ctx = Context::default();
    let data = vfs.lookup(&ctx, ROOT_ID, &cs("data")).unwrap();
    let inside = vfs.lookup(&ctx, data.inode, &cs("inside")).unwrap();
    assert_eq!(inside.attr.st_size, 1);
}
