//! Name and inode operations: lookup, forget, attributes, and the calls that create or
//! remove entries.

use super::recfs::{attr_bytes, attr_fixture, entry_fixture, entry_out_bytes, stat_fixture};
use super::*;
use crate::abi::fuse_abi::{Attr, EntryOut, GetattrFlags, SetattrValid, Statx, StatxOut, SxTime};

#[test]
fn fixtures_match_the_wire_layout() {
    // The hand-written bytes and the ABI structs describe the same thing.
    assert_eq!(Attr::from(stat_fixture()), attr_fixture(0));
    assert_eq!(attr_fixture(0).as_slice(), &attr_bytes(0)[..]);
    assert_eq!(
        EntryOut::from(entry_fixture(42)).as_slice(),
        &entry_out_bytes(42)[..]
    );
}

#[test]
fn lookup_from_raw_bytes() {
    let s = server();
    // The whole request written out by hand: header, then "hello\0".
    let mut bytes = raw_header(46, 1, UNIQUE, 1, 1000, 100, 4242, 0);
    bytes.extend_from_slice(b"hello\0");
    let (res, reply) = run(&s, &bytes);
    assert_ok(res, &reply, UNIQUE, &entry_out_bytes(42));
    let calls = s.fs().take_calls();
    assert_eq!(calls.len(), 1);
    let (ctx, call) = &calls[0];
    assert_eq!(
        (ctx.uid, ctx.gid, ctx.pid, ctx.supp_gid),
        (1000, 100, 4242, None)
    );
    assert_eq!(
        *call,
        Call::Lookup {
            parent: 1,
            name: b"hello".to_vec()
        }
    );
}

#[test]
fn lookup_error_from_driver() {
    let s = server();
    s.fs().set(|c| c.errno = Some(libc::ENOENT));
    let (res, reply) = run(&s, &req(Opcode::Lookup, 1).name("missing").build());
    assert_errno(res, &reply, UNIQUE, libc::ENOENT);
}

#[test]
fn forget_gets_no_reply() {
    let s = server();
    let (res, reply) = run(
        &s,
        &req(Opcode::Forget, 42).arg(ForgetIn { nlookup: 3 }).build(),
    );
    assert_eq!(res.unwrap(), 0);
    assert!(reply.is_empty());
    assert_eq!(s.fs().calls(), [Call::Forget { ino: 42, count: 3 }]);
}

#[test]
fn batch_forget_gets_no_reply() {
    let s = server();
    let r = req(Opcode::BatchForget, 0)
        .arg(BatchForgetIn { count: 2, dummy: 0 })
        .arg(ForgetOne {
            nodeid: 10,
            nlookup: 1,
        })
        .arg(ForgetOne {
            nodeid: 11,
            nlookup: u64::MAX,
        })
        .build();
    let (res, reply) = run(&s, &r);
    assert_eq!(res.unwrap(), 0);
    assert!(reply.is_empty());
    assert_eq!(
        s.fs().calls(),
        [Call::BatchForget(vec![(10, 1), (11, u64::MAX)])]
    );
}

#[test]
fn getattr_with_and_without_fh() {
    let s = server();
    let expected_body = cat(&[
        &3u64.to_le_bytes(),
        &250u32.to_le_bytes(),
        &0u32.to_le_bytes(),
        &attr_bytes(0),
    ]);
    let plain = req(Opcode::Getattr, 7)
        .arg(GetattrIn {
            flags: 0,
            dummy: 0,
            fh: 99,
        })
        .build();
    let (res, reply) = run(&s, &plain);
    assert_ok(res, &reply, UNIQUE, &expected_body);
    let with_fh = req(Opcode::Getattr, 7)
        .arg(GetattrIn {
            flags: GetattrFlags::FH.bits(),
            dummy: 0,
            fh: 99,
        })
        .build();
    let (res, reply) = run(&s, &with_fh);
    assert_ok(res, &reply, UNIQUE, &expected_body);
    assert_eq!(
        s.fs().calls(),
        [
            Call::Getattr { ino: 7, fh: None },
            Call::Getattr {
                ino: 7,
                fh: Some(99)
            }
        ]
    );
}

#[test]
fn setattr_passes_fields_and_replies_attr() {
    let s = server();
    let valid = SetattrValid::MODE | SetattrValid::SIZE | SetattrValid::FH | SetattrValid::MTIME;
    let arg = SetattrIn {
        valid: valid.bits(),
        fh: 0x55,
        size: 4096,
        atime: 1,
        mtime: 2,
        ctime: 3,
        atimensec: 4,
        mtimensec: 5,
        ctimensec: 6,
        mode: 0o600,
        uid: 7,
        gid: 8,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Setattr, 9).arg(arg).build());
    let body = cat(&[
        &3u64.to_le_bytes(),
        &250u32.to_le_bytes(),
        &[0; 4],
        &attr_bytes(0),
    ]);
    assert_ok(res, &reply, UNIQUE, &body);
    assert_eq!(
        s.fs().calls(),
        [Call::Setattr {
            ino: 9,
            valid: valid.bits(),
            fh: Some(0x55),
            attr: [0o600, 7, 8, 4096, 1, 4, 2, 5, 3, 6],
        }]
    );
}

#[test]
fn readlink_replies_target() {
    let s = server();
    let (res, reply) = run(&s, &req(Opcode::Readlink, 12).build());
    assert_ok(res, &reply, UNIQUE, b"../target/file");
    assert_eq!(s.fs().calls(), [Call::Readlink(12)]);
}

#[test]
fn symlink_name_comes_before_target() {
    let s = server();
    let r = req(Opcode::Symlink, 1)
        .name("link")
        .name("/some/target")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &entry_out_bytes(43));
    assert_eq!(
        s.fs().calls(),
        [Call::Symlink {
            target: b"/some/target".to_vec(),
            parent: 1,
            name: b"link".to_vec()
        }]
    );
}

#[test]
fn mknod() {
    let s = server();
    let arg = MknodIn {
        mode: libc::S_IFIFO | 0o640,
        rdev: 0x1234,
        umask: 0o022,
        padding: 0,
    };
    let (res, reply) = run(&s, &req(Opcode::Mknod, 3).arg(arg).name("fifo").build());
    assert_ok(res, &reply, UNIQUE, &entry_out_bytes(44));
    assert_eq!(
        s.fs().calls(),
        [Call::Mknod {
            parent: 3,
            name: b"fifo".to_vec(),
            mode: libc::S_IFIFO | 0o640,
            rdev: 0x1234,
            umask: 0o022
        }]
    );
}

#[test]
fn mkdir() {
    let s = server();
    let arg = MkdirIn {
        mode: 0o755,
        umask: 0o002,
    };
    let (res, reply) = run(&s, &req(Opcode::Mkdir, 3).arg(arg).name("d").build());
    assert_ok(res, &reply, UNIQUE, &entry_out_bytes(45));
    assert_eq!(
        s.fs().calls(),
        [Call::Mkdir {
            parent: 3,
            name: b"d".to_vec(),
            mode: 0o755,
            umask: 0o002
        }]
    );
}

#[test]
fn unlink_and_rmdir() {
    let s = server();
    let (res, reply) = run(&s, &req(Opcode::Unlink, 4).name("f").build());
    assert_ok(res, &reply, UNIQUE, &[]);
    let (res, reply) = run(&s, &req(Opcode::Rmdir, 4).name("d").build());
    assert_ok(res, &reply, UNIQUE, &[]);
    s.fs().set(|c| c.errno = Some(libc::ENOTEMPTY));
    let (res, reply) = run(&s, &req(Opcode::Rmdir, 4).name("d").build());
    assert_errno(res, &reply, UNIQUE, libc::ENOTEMPTY);
    assert_eq!(
        s.fs().calls(),
        [
            Call::Unlink {
                parent: 4,
                name: b"f".to_vec()
            },
            Call::Rmdir {
                parent: 4,
                name: b"d".to_vec()
            },
            Call::Rmdir {
                parent: 4,
                name: b"d".to_vec()
            }
        ]
    );
}

#[test]
fn rename_has_no_flags() {
    let s = server();
    let r = req(Opcode::Rename, 2)
        .arg(RenameIn { newdir: 3 })
        .name("old")
        .name("new")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        s.fs().calls(),
        [Call::Rename {
            olddir: 2,
            oldname: b"old".to_vec(),
            newdir: 3,
            newname: b"new".to_vec(),
            flags: 0
        }]
    );
}

#[test]
fn rename2_passes_flags() {
    let s = server();
    let r = req(Opcode::Rename2, 2)
        .arg(Rename2In {
            newdir: 3,
            flags: libc::RENAME_EXCHANGE,
            padding: 0,
        })
        .name("a")
        .name("b")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        s.fs().calls(),
        [Call::Rename {
            olddir: 2,
            oldname: b"a".to_vec(),
            newdir: 3,
            newname: b"b".to_vec(),
            flags: libc::RENAME_EXCHANGE
        }]
    );
}

#[test]
fn link_old_inode_into_new_parent() {
    let s = server();
    let r = req(Opcode::Link, 8)
        .arg(LinkIn { oldnodeid: 42 })
        .name("hard")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &entry_out_bytes(42));
    assert_eq!(
        s.fs().calls(),
        [Call::Link {
            ino: 42,
            newparent: 8,
            name: b"hard".to_vec()
        }]
    );
}

#[test]
fn create_replies_entry_and_open() {
    let s = server();
    let args = CreateIn {
        flags: (libc::O_CREAT | libc::O_RDWR) as u32,
        mode: 0o644,
        umask: 0o022,
        fuse_flags: 1,
    };
    let (res, reply) = run(&s, &req(Opcode::Create, 1).arg(args).name("new").build());
    let open_out = cat(&[
        &0x2222u64.to_le_bytes(),
        &1u32.to_le_bytes(), // FOPEN_DIRECT_IO
        &0i32.to_le_bytes(), // no backing id
    ]);
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &cat(&[&entry_out_bytes(46), &open_out]),
    );
    assert_eq!(
        s.fs().calls(),
        [Call::Create {
            parent: 1,
            name: b"new".to_vec(),
            args
        }]
    );
}

#[test]
fn tmpfile_replies_entry_and_open() {
    let s = server();
    let args = CreateIn {
        flags: (libc::O_TMPFILE | libc::O_RDWR) as u32,
        mode: 0o600,
        umask: 0,
        fuse_flags: 0,
    };
    let (res, reply) = run(&s, &req(Opcode::Tmpfile, 1).arg(args).name("/").build());
    let open_out = cat(&[&0x4444u64.to_le_bytes(), &[0; 8]]);
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &cat(&[&entry_out_bytes(47), &open_out]),
    );
    assert_eq!(s.fs().calls(), [Call::Tmpfile { parent: 1, args }]);
}

#[test]
fn statx_replies_statx_out() {
    let s = server();
    let arg = StatxIn {
        getattr_flags: GetattrFlags::FH.bits(),
        reserved: 0,
        fh: 0x77,
        sx_flags: libc::AT_STATX_DONT_SYNC as u32,
        sx_mask: libc::STATX_BASIC_STATS,
    };
    let (res, reply) = run(&s, &req(Opcode::Statx, 6).arg(arg).build());
    let t = |s, n| SxTime {
        tv_sec: s,
        tv_nsec: n,
        __reserved: 0,
    };
    let expected = StatxOut {
        attr_valid: 3,
        attr_valid_nsec: 250,
        flags: 0,
        spare: [0; 2],
        stat: Statx {
            mask: libc::STATX_BASIC_STATS | libc::STATX_BTIME,
            blksize: 4096,
            attributes: 0x20,
            nlink: 2,
            uid: 1000,
            gid: 100,
            mode: (libc::S_IFDIR | 0o755) as u16,
            __spare0: [0],
            ino: 42,
            size: 4096,
            blocks: 8,
            attributes_mask: 0xff,
            atime: t(1, 2),
            btime: t(3, 4),
            ctime: t(5, 6),
            mtime: t(7, 8),
            rdev_major: 9,
            rdev_minor: 10,
            dev_major: 11,
            dev_minor: 12,
            __spare2: [0; 14],
        },
    };
    assert_ok(res, &reply, UNIQUE, expected.as_slice());
    assert_eq!(
        s.fs().calls(),
        [Call::Statx {
            ino: 6,
            fh: Some(0x77),
            flags: libc::AT_STATX_DONT_SYNC as u32,
            mask: libc::STATX_BASIC_STATS
        }]
    );
}
