//! The smallest useful filesystem: a read-only root directory holding one file, `hello`.
//!
//! ```sh
//! cargo run --example hello -- /mnt/point
//! cat /mnt/point/hello
//! ```

use std::ffi::CStr;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use fuse_backend_rs::abi::fuse_abi::ROOT_ID;
use fuse_backend_rs::api::filesystem::{
    Context, DirEntry, Entry, FileSystem, FsOptions, OpenOptions, ZeroCopyWriter,
};
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::common::{FileReadWriteVolatile, FileVolatileSlice};
use fuse_backend_rs::transport::FuseSession;

#[path = "common/daemon.rs"]
mod daemon;

const FILE_INO: u64 = 2;
const CONTENT: &[u8] = b"Hello, world!\n";
const TTL: Duration = Duration::from_secs(1);

struct HelloFs;

fn attr(ino: u64) -> libc::stat64 {
    // SAFETY: `stat64` is plain integers; all-zero bytes are a valid value.
    let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
    st.st_ino = ino;
    if ino == ROOT_ID {
        st.st_mode = libc::S_IFDIR | 0o755;
        st.st_nlink = 2;
    } else {
        st.st_mode = libc::S_IFREG | 0o444;
        st.st_nlink = 1;
        st.st_size = CONTENT.len() as i64;
    }
    st
}

fn enoent<T>() -> io::Result<T> {
    Err(io::Error::from_raw_os_error(libc::ENOENT))
}

/// The file's bytes, served through the zero-copy interface like a real file.
struct Content;

impl FileReadWriteVolatile for Content {
    // The four single-slice methods are all a file type must provide; the vectored ones
    // the server uses default to one call per slice.
    fn read_at_volatile(&mut self, buf: FileVolatileSlice, offset: u64) -> io::Result<usize> {
        let off = usize::try_from(offset).map_or(CONTENT.len(), |o| o.min(CONTENT.len()));
        let n = buf.len().min(CONTENT.len() - off);
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes (FileVolatileSlice's
        // contract) and `n <= buf.len()`; the source is a static slice of at least
        // `off + n` bytes; the two cannot overlap.
        unsafe { std::ptr::copy_nonoverlapping(CONTENT[off..].as_ptr(), buf.as_ptr(), n) };
        Ok(n)
    }

    fn write_at_volatile(&mut self, _: FileVolatileSlice, _: u64) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::EROFS))
    }

    // No file position: the server only does positioned I/O.
    fn read_volatile(&mut self, _: FileVolatileSlice) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::ESPIPE))
    }

    fn write_volatile(&mut self, _: FileVolatileSlice) -> io::Result<usize> {
        Err(io::Error::from_raw_os_error(libc::ESPIPE))
    }
}

impl FileSystem for HelloFs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, _capable: FsOptions) -> io::Result<FsOptions> {
        Ok(FsOptions::empty())
    }

    fn lookup(&self, _ctx: &Context, parent: u64, name: &CStr) -> io::Result<Entry> {
        if parent != ROOT_ID || name.to_bytes() != b"hello" {
            return enoent();
        }
        Ok(Entry {
            inode: FILE_INO,
            generation: 0,
            attr: attr(FILE_INO),
            attr_flags: 0,
            attr_timeout: TTL,
            entry_timeout: TTL,
        })
    }

    fn getattr(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: Option<u64>,
    ) -> io::Result<(libc::stat64, Duration)> {
        match inode {
            ROOT_ID | FILE_INO => Ok((attr(inode), TTL)),
            _ => enoent(),
        }
    }

    fn open(
        &self,
        _ctx: &Context,
        inode: u64,
        flags: u32,
        _fuse_flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions, Option<u32>)> {
        if inode != FILE_INO {
            return Err(io::Error::from_raw_os_error(libc::EISDIR));
        }
        if flags as i32 & libc::O_ACCMODE != libc::O_RDONLY {
            return Err(io::Error::from_raw_os_error(libc::EROFS));
        }
        Ok((Some(0), OpenOptions::KEEP_CACHE, None))
    }

    fn read(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        _lock_owner: Option<u64>,
        _flags: u32,
    ) -> io::Result<usize> {
        w.write_from(&mut Content, size as usize, offset)
    }

    fn release(
        &self,
        _ctx: &Context,
        _inode: u64,
        _flags: u32,
        _handle: u64,
        _flush: bool,
        _flock_release: bool,
        _lock_owner: Option<u64>,
    ) -> io::Result<()> {
        Ok(())
    }

    fn opendir(
        &self,
        _ctx: &Context,
        inode: u64,
        _flags: u32,
    ) -> io::Result<(Option<u64>, OpenOptions)> {
        if inode != ROOT_ID {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        Ok((Some(0), OpenOptions::empty()))
    }

    fn readdir(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: u64,
        _size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        let entries: [(u64, u32, &[u8]); 3] = [
            (ROOT_ID, libc::DT_DIR as u32, b"."),
            (ROOT_ID, libc::DT_DIR as u32, b".."),
            (FILE_INO, libc::DT_REG as u32, b"hello"),
        ];
        for (i, (ino, type_, name)) in entries.iter().enumerate().skip(offset as usize) {
            let added = add_entry(DirEntry {
                ino: *ino,
                offset: i as u64 + 1,
                type_: *type_,
                name,
            })?;
            if added == 0 {
                break;
            }
        }
        Ok(())
    }

    fn releasedir(&self, _ctx: &Context, _inode: u64, _flags: u32, _handle: u64) -> io::Result<()> {
        Ok(())
    }
}

fn main() {
    env_logger::init();
    let Some(mountpoint) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("hello: usage: hello <MOUNTPOINT>");
        std::process::exit(2);
    };
    let mut session = match FuseSession::new(&mountpoint, "hello", "", true) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hello: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = session.mount() {
        eprintln!("hello: {e}");
        std::process::exit(1);
    }
    let server = Arc::new(Server::new(HelloFs));
    if let Err(e) = daemon::serve(server, session, 1) {
        eprintln!("hello: {e}");
        std::process::exit(1);
    }
}
