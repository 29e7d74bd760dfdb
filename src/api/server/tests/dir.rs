//! Directory handles and listing: opendir, readdir, readdirplus, releasedir, fsyncdir.

use super::recfs::entry_out_bytes;
use super::*;
use crate::abi::fuse_abi::FsyncFlags;

fn items() -> Vec<(u64, u64, u32, Vec<u8>)> {
    vec![
        // 24 + 1 = 25 -> 32 bytes in READDIR, 152 + 1 -> 160 in READDIRPLUS.
        (10, 1, libc::DT_REG as u32, b"a".to_vec()),
        // 24 + 8 = 32 -> 32 (no padding), 160 -> 160.
        (11, 2, libc::DT_DIR as u32, b"12345678".to_vec()),
        // 24 + 13 = 37 -> 40, 165 -> 168.
        (12, 3, libc::DT_LNK as u32, b"longer_name_x".to_vec()),
    ]
}

/// One READDIR record, written out field by field.
fn dirent_bytes(ino: u64, off: u64, type_: u32, name: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&ino.to_le_bytes());
    v.extend_from_slice(&off.to_le_bytes());
    v.extend_from_slice(&(name.len() as u32).to_le_bytes());
    v.extend_from_slice(&type_.to_le_bytes());
    v.extend_from_slice(name);
    while v.len() % 8 != 0 {
        v.push(0);
    }
    v
}

/// One READDIRPLUS record: the entry of the fixture for `ino`, then the dirent.
fn direntplus_bytes(ino: u64, off: u64, type_: u32, name: &[u8]) -> Vec<u8> {
    cat(&[&entry_out_bytes(ino), &dirent_bytes(ino, off, type_, name)])
}

fn readdir_req(op: Opcode, size: u32, offset: u64) -> Vec<u8> {
    let arg = ReadIn {
        fh: 0x3333,
        offset,
        size,
        ..Default::default()
    };
    req(op, 20).arg(arg).build()
}

fn dir_server() -> Server<RecFs> {
    let s = server();
    s.fs().set(|c| c.dir = items());
    s
}

#[test]
fn opendir_replies_handle() {
    let s = server();
    let arg = OpenIn {
        flags: libc::O_DIRECTORY as u32,
        fuse_flags: 0,
    };
    let (res, reply) = run(&s, &req(Opcode::Opendir, 20).arg(arg).build());
    // FOPEN_CACHE_DIR is bit 3.
    let body = cat(&[&0x3333u64.to_le_bytes(), &8u32.to_le_bytes(), &[0; 4]]);
    assert_ok(res, &reply, UNIQUE, &body);
    assert_eq!(
        s.fs().calls(),
        [Call::Opendir {
            ino: 20,
            flags: libc::O_DIRECTORY as u32
        }]
    );
}

#[test]
fn readdir_packs_all_entries_with_padding() {
    let s = dir_server();
    let (res, reply) = run(&s, &readdir_req(Opcode::Readdir, 4096, 0));
    let body: Vec<u8> = items()
        .iter()
        .flat_map(|(i, o, t, n)| dirent_bytes(*i, *o, *t, n))
        .collect();
    assert_eq!(body.len(), 32 + 32 + 40);
    assert_ok(res, &reply, UNIQUE, &body);
    assert_eq!(
        s.fs().calls(),
        [Call::Readdir {
            ino: 20,
            fh: 0x3333,
            size: 4096,
            offset: 0,
            plus: false,
            accepted: 3
        }]
    );
}

#[test]
fn readdir_stops_at_size() {
    let s = dir_server();
    // 64 bytes hold the first two records exactly; the third (40 bytes) does not fit.
    for size in [64, 103] {
        let (res, reply) = run(&s, &readdir_req(Opcode::Readdir, size, 0));
        let it = items();
        let body = cat(&[
            &dirent_bytes(it[0].0, it[0].1, it[0].2, &it[0].3),
            &dirent_bytes(it[1].0, it[1].1, it[1].2, &it[1].3),
        ]);
        assert_ok(res, &reply, UNIQUE, &body);
        assert!(matches!(
            s.fs().calls()[..],
            [Call::Readdir { accepted: 2, .. }]
        ));
    }
    // Smaller than the first record: an empty reply, not an error.
    let (res, reply) = run(&s, &readdir_req(Opcode::Readdir, 31, 0));
    assert_ok(res, &reply, UNIQUE, &[]);
    assert!(matches!(
        s.fs().calls()[..],
        [Call::Readdir { accepted: 0, .. }]
    ));
}

#[test]
fn readdir_continues_from_offset() {
    let s = dir_server();
    let (res, reply) = run(&s, &readdir_req(Opcode::Readdir, 4096, 2));
    let it = items();
    assert_ok(res, &reply, UNIQUE, &dirent_bytes(12, 3, it[2].2, &it[2].3));
    let (res, reply) = run(&s, &readdir_req(Opcode::Readdir, 4096, 3));
    assert_ok(res, &reply, UNIQUE, &[]);
}

#[test]
fn readdir_error_after_entries_keeps_entries() {
    let s = dir_server();
    s.fs().set(|c| c.dir_errno_after = Some(libc::EIO));
    let (res, reply) = run(&s, &readdir_req(Opcode::Readdir, 4096, 0));
    assert_eq!(reply.error(), 0);
    assert_eq!(reply.body().len(), 104);
    res.unwrap();
    // With nothing packed the error is the reply.
    s.fs().set(|c| c.dir.clear());
    let (res, reply) = run(&s, &readdir_req(Opcode::Readdir, 4096, 0));
    assert_errno(res, &reply, UNIQUE, libc::EIO);
}

#[test]
fn readdir_rejects_bad_names_from_driver() {
    let s = server();
    s.fs().set(|c| c.dir = vec![(1, 1, 0, b"a/b".to_vec())]);
    let (res, reply) = run(&s, &readdir_req(Opcode::Readdir, 4096, 0));
    assert_errno(res, &reply, UNIQUE, libc::EIO);
    s.fs().set(|c| c.dir = vec![(1, 1, 0, Vec::new())]);
    let (res, reply) = run(&s, &readdir_req(Opcode::Readdir, 4096, 0));
    assert_errno(res, &reply, UNIQUE, libc::EIO);
}

#[test]
fn readdirplus_packs_entries() {
    let s = dir_server();
    let (res, reply) = run(&s, &readdir_req(Opcode::Readdirplus, 4096, 0));
    let body: Vec<u8> = items()
        .iter()
        .flat_map(|(i, o, t, n)| direntplus_bytes(*i, *o, *t, n))
        .collect();
    assert_eq!(body.len(), 160 + 160 + 168);
    assert_ok(res, &reply, UNIQUE, &body);
    assert_eq!(
        s.fs().calls(),
        [Call::Readdir {
            ino: 20,
            fh: 0x3333,
            size: 4096,
            offset: 0,
            plus: true,
            accepted: 3
        }]
    );
}

#[test]
fn readdirplus_stops_at_size() {
    let s = dir_server();
    let it = items();
    let (res, reply) = run(&s, &readdir_req(Opcode::Readdirplus, 330, 0));
    let body = cat(&[
        &direntplus_bytes(it[0].0, it[0].1, it[0].2, &it[0].3),
        &direntplus_bytes(it[1].0, it[1].1, it[1].2, &it[1].3),
    ]);
    assert_ok(res, &reply, UNIQUE, &body);
    assert!(matches!(
        s.fs().calls()[..],
        [Call::Readdir {
            plus: true,
            accepted: 2,
            ..
        }]
    ));
}

#[test]
fn releasedir_and_fsyncdir() {
    let s = server();
    let arg = ReleaseIn {
        fh: 0x3333,
        flags: libc::O_DIRECTORY as u32,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Releasedir, 20).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    let arg = FsyncIn {
        fh: 0x3333,
        fsync_flags: FsyncFlags::FDATASYNC.bits(),
        padding: 0,
    };
    let (res, reply) = run(&s, &req(Opcode::Fsyncdir, 20).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        s.fs().calls(),
        [
            Call::Releasedir {
                ino: 20,
                flags: libc::O_DIRECTORY as u32,
                fh: 0x3333
            },
            Call::Fsyncdir {
                ino: 20,
                datasync: true,
                fh: 0x3333
            }
        ]
    );
}
