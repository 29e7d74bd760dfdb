//! Arbitrary bytes to `Vfs::restore_from_bytes` and `PassthroughFs::restore_from_bytes`.
//! Neither may panic, and a refused state must leave the target as it was: saving it
//! again gives the bytes a pristine one gives.
//!
//! The first byte chooses: bit 0, the passthrough driver (else the Vfs); bit 1, wrap the
//! rest in a valid envelope header (magic, version, length, checksum) so that the fuzzer
//! reaches the decoder behind the checksum; otherwise the rest is used as it is.
#![no_main]

use std::sync::OnceLock;

use fuse_backend_rs::api::{Vfs, VfsOptions};
use fuse_backend_rs::passthrough::{Config, PassthroughFs};
use libfuzzer_sys::fuzz_target;

struct World {
    dir: std::path::PathBuf,
    vfs_pristine: Vec<u8>,
    pt_pristine: Vec<u8>,
}

fn passthrough(dir: &std::path::Path) -> PassthroughFs {
    PassthroughFs::new(Config {
        root_dir: dir.to_str().unwrap().to_string(),
        inode_file_handles: true,
        ..Default::default()
    })
    .unwrap()
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("fbr-fuzz-persist-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("d")).unwrap();
        std::fs::write(dir.join("d/f"), b"data").unwrap();
        World {
            vfs_pristine: Vfs::new(VfsOptions::default()).save_to_bytes().unwrap(),
            pt_pristine: passthrough(&dir).save_to_bytes().unwrap(),
            dir,
        }
    })
}

/// CRC-32 (IEEE), as the envelope uses.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

fn envelope(magic: &[u8; 8], version: u32, body: &[u8]) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let w = world();
    if sel & 1 == 0 {
        let mut bytes = if sel & 2 != 0 {
            envelope(b"FBRSVFS\0", 2, rest)
        } else {
            rest.to_vec()
        };
        let vfs = Vfs::new(VfsOptions::default());
        if vfs.restore_from_bytes(&mut bytes).is_err() {
            assert_eq!(vfs.save_to_bytes().unwrap(), w.vfs_pristine);
        }
    } else {
        let bytes = if sel & 2 != 0 {
            envelope(b"FBRSPTFS", 1, rest)
        } else {
            rest.to_vec()
        };
        let fs = passthrough(&w.dir);
        if fs.restore_from_bytes(&bytes).is_err() {
            assert_eq!(fs.save_to_bytes().unwrap(), w.pt_pristine);
        }
    }
});
