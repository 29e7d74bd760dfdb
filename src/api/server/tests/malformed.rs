//! Malformed requests: each is answered with an errno where the protocol allows a reply,
//! comes back as an `Err`, and never reaches the filesystem or panics the server.

use super::*;
use crate::abi::fuse_abi::{ExtHeader, IoctlFlags};
use crate::api::server::testing::serve;
use crate::{Error, InvalidRequest};

fn lookup_body() -> RequestBuilder {
    req(Opcode::Lookup, 1).name("abc")
}

#[track_caller]
fn fs_untouched(s: &Server<RecFs>) {
    assert_eq!(s.fs().calls(), []);
}

#[test]
fn shorter_than_a_header_gets_no_reply() {
    let s = server();
    for n in [0, 1, 16, 39] {
        let bytes = &lookup_body().build()[..n];
        let (res, reply) = run(&s, bytes);
        assert!(reply.is_empty());
        assert!(matches!(res, Err(Error::InvalidHeaderLength)));
        // The public harness agrees.
        let (res, reply) = serve(&s, bytes);
        assert!(res.is_err() && reply.is_empty());
    }
    fs_untouched(&s);
}

#[test]
fn header_len_below_header_size() {
    let s = server();
    for len in [0, 39] {
        let (res, reply) = run(&s, &lookup_body().len(len).build());
        let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
        assert!(matches!(err, Error::InvalidHeaderLength), "{err:?}");
    }
    fs_untouched(&s);
}

#[test]
fn header_len_beyond_the_bytes_present() {
    let s = server();
    for len in [45, 4096, u32::MAX] {
        let (res, reply) = run(&s, &lookup_body().len(len).build());
        let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
        assert!(matches!(err, Error::InvalidHeaderLength), "{err:?}");
    }
    fs_untouched(&s);
}

#[test]
fn bytes_beyond_len_are_ignored() {
    let s = server();
    // len covers "abc\0"; the trailing bytes (a transport's stale buffer) are not read.
    let r = req(Opcode::Lookup, 1)
        .name("abc")
        .bytes(b"zzzz")
        .len(44)
        .build();
    let (res, reply) = run(&s, &r);
    res.unwrap();
    assert_eq!(reply.error(), 0);
    assert_eq!(
        s.fs().calls(),
        [Call::Lookup {
            parent: 1,
            name: b"abc".to_vec()
        }]
    );
    // Without the NUL inside `len` the name is malformed, even though a NUL follows.
    let r = req(Opcode::Lookup, 1).name("abc").len(43).build();
    let (res, reply) = run(&s, &r);
    assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    // A WRITE whose data would run past `len` is refused rather than reading the tail.
    let arg = WriteIn {
        size: 8,
        ..Default::default()
    };
    let r = req(Opcode::Write, 1)
        .arg(arg)
        .bytes(&[1; 8])
        .len(84)
        .build();
    let (res, reply) = run(&s, &r);
    assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    fs_untouched(&s);
}

#[test]
fn body_shorter_than_the_struct() {
    let s = server();
    let cases: [(Opcode, usize); 6] = [
        (Opcode::Getattr, 15),
        (Opcode::Setattr, 87),
        (Opcode::Read, 39),
        (Opcode::Open, 7),
        (Opcode::Getlk, 47),
        (Opcode::CopyFileRange, 55),
    ];
    for (op, n) in cases {
        let r = req(op, 1).bytes(&vec![0; n]).build();
        let (res, reply) = run(&s, &r);
        let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
        assert!(matches!(err, Error::DecodeMessage(_)), "{op:?}: {err:?}");
    }
    fs_untouched(&s);
}

#[test]
fn short_forget_and_interrupt_get_no_reply() {
    let s = server();
    for op in [Opcode::Forget, Opcode::BatchForget, Opcode::Interrupt] {
        let (res, reply) = run(&s, &req(op, 1).bytes(&[0; 7]).build());
        assert!(reply.is_empty(), "{op:?}");
        assert!(matches!(res, Err(Error::DecodeMessage(_))), "{op:?}");
    }
    fs_untouched(&s);
}

#[test]
fn lookup_name_without_nul() {
    let s = server();
    let (res, reply) = run(&s, &req(Opcode::Lookup, 1).bytes(b"abc").build());
    let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    assert!(matches!(err, Error::InvalidCString(_)), "{err:?}");
    // An empty body has no name at all.
    let (res, reply) = run(&s, &req(Opcode::Lookup, 1).build());
    assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    fs_untouched(&s);
}

#[test]
fn name_longer_than_path_max() {
    let s = server();
    let long = "x".repeat(3 * 4096);
    let (res, reply) = run(&s, &req(Opcode::Lookup, 1).name(&long).build());
    let err = assert_rejected(res, &reply, UNIQUE, libc::ENAMETOOLONG);
    assert!(matches!(err, Error::DecodeMessage(_)), "{err:?}");
    fs_untouched(&s);
}

#[test]
fn rename_with_only_one_name() {
    let s = server();
    for op in [Opcode::Rename, Opcode::Symlink] {
        let b = req(op, 1);
        let b = if op == Opcode::Rename {
            b.arg(RenameIn { newdir: 2 })
        } else {
            b
        };
        let (res, reply) = run(&s, &b.name("only").build());
        let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
        assert!(matches!(err, Error::MissingParameter), "{op:?}: {err:?}");
    }
    // The second name without its NUL.
    let r = req(Opcode::Rename, 1)
        .arg(RenameIn { newdir: 2 })
        .name("a")
        .bytes(b"b")
        .build();
    let (res, reply) = run(&s, &r);
    assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    fs_untouched(&s);
}

#[test]
fn setxattr_size_not_matching_value() {
    let s = server();
    for (size, value) in [(4u32, &b"abc"[..]), (2, b"abc"), (1, b"")] {
        let r = req(Opcode::Setxattr, 1)
            .arg([size, 0])
            .name("user.a")
            .bytes(value)
            .build();
        let (res, reply) = run(&s, &r);
        let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
        assert!(
            matches!(err, Error::InvalidXattrSize((x, n)) if x == size && n == value.len()),
            "{err:?}"
        );
    }
    // No NUL after the name at all.
    let r = req(Opcode::Setxattr, 1)
        .arg([3u32, 0])
        .bytes(b"user.aabc")
        .build();
    let (res, reply) = run(&s, &r);
    let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    assert!(matches!(err, Error::InvalidCString(_)), "{err:?}");
    fs_untouched(&s);
}

#[test]
fn setxattr_value_larger_than_64k() {
    let s = server();
    let value = vec![7u8; 65537];
    let r = req(Opcode::Setxattr, 1)
        .arg([65537u32, 0])
        .name("user.big")
        .bytes(&value)
        .build();
    let (res, reply) = run(&s, &r);
    let err = assert_rejected(res, &reply, UNIQUE, libc::E2BIG);
    assert!(
        matches!(err, Error::InvalidXattrSize((65537, _))),
        "{err:?}"
    );
    // A size field over the limit with a small body is refused just the same.
    let r = req(Opcode::Setxattr, 1)
        .arg([u32::MAX, 0])
        .name("user.a")
        .build();
    let (res, reply) = run(&s, &r);
    assert_rejected(res, &reply, UNIQUE, libc::E2BIG);
    // Exactly 64 KiB is fine.
    let r = req(Opcode::Setxattr, 1)
        .arg([65536u32, 0])
        .name("user.max")
        .bytes(&value[..65536])
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &[]);
    assert!(matches!(&s.fs().calls()[..], [Call::Setxattr { value, .. }] if value.len() == 65536));
}

#[test]
fn unknown_opcode() {
    let s = server();
    for code in [7u32, 54, 4095, 9999, u32::MAX] {
        let r = RequestBuilder::new(code, 1)
            .unique(UNIQUE)
            .bytes(&[0; 64])
            .build();
        let (res, reply) = run(&s, &r);
        let err = assert_rejected(res, &reply, UNIQUE, libc::ENOSYS);
        assert!(
            err.invalid_request() == Some(InvalidRequest::UnknownOpcode(code)),
            "{err:?}"
        );
    }
    fs_untouched(&s);
}

#[test]
fn batch_forget_count_larger_than_message() {
    let s = server();
    let r = req(Opcode::BatchForget, 0)
        .arg(BatchForgetIn { count: 3, dummy: 0 })
        .arg(ForgetOne {
            nodeid: 1,
            nlookup: 1,
        })
        .arg(ForgetOne {
            nodeid: 2,
            nlookup: 1,
        })
        .build();
    let (res, reply) = run(&s, &r);
    assert!(reply.is_empty());
    assert!(matches!(res, Err(Error::InvalidMessage(_))), "{res:?}");
    fs_untouched(&s);
}

#[test]
fn batch_forget_count_u32_max() {
    let s = server();
    let r = req(Opcode::BatchForget, 0)
        .arg(BatchForgetIn {
            count: u32::MAX,
            dummy: 0,
        })
        .arg(ForgetOne {
            nodeid: 1,
            nlookup: 1,
        })
        .build();
    // Would need 64 GiB of (nodeid, count) pairs if the count were trusted.
    let (res, reply) = run(&s, &r);
    assert!(reply.is_empty());
    assert!(matches!(res, Err(Error::InvalidMessage(_))), "{res:?}");
    fs_untouched(&s);
}

#[test]
fn read_size_over_max_write() {
    let s = server();
    let arg = ReadIn {
        size: MAX_BUFFER_SIZE + 1,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Read, 1).arg(arg).build());
    let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
    let arg = ReadIn {
        offset: i64::MAX as u64 + 1,
        size: 1,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Read, 1).arg(arg).build());
    assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    fs_untouched(&s);
}

#[test]
fn read_larger_than_the_reply_buffer() {
    // A transport whose reply buffer is smaller than the negotiated maximum.
    let s = server();
    let mut input = req(Opcode::Read, 1)
        .arg(ReadIn {
            size: 8192,
            ..Default::default()
        })
        .build();
    let mut output = vec![0u8; 4096];
    let r = Reader::from_fuse_buffer(FuseBuf::new(&mut input)).unwrap();
    let w = Writer::from_volatile_slices([FuseBuf::new(&mut output).into_volatile_slice()]);
    let err = s.handle_message(r, w, None, None).unwrap_err();
    assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
    assert_eq!(&output[..16], &err_bytes(UNIQUE, libc::EINVAL)[..]);
    fs_untouched(&s);
}

#[test]
fn write_size_not_matching_data() {
    let s = server();
    for (size, n) in [(10u32, 9usize), (10, 11), (0, 1), (u32::MAX, 4)] {
        let arg = WriteIn {
            size,
            ..Default::default()
        };
        let (res, reply) = run(
            &s,
            &req(Opcode::Write, 1).arg(arg).bytes(&vec![0; n]).build(),
        );
        let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
        assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
    }
    fs_untouched(&s);
}

#[test]
fn write_offset_beyond_i64_max() {
    let s = server();
    for offset in [i64::MAX as u64 + 1, u64::MAX] {
        let arg = WriteIn {
            offset,
            size: 4,
            ..Default::default()
        };
        let (res, reply) = run(&s, &req(Opcode::Write, 1).arg(arg).bytes(b"data").build());
        let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
        assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
    }
    fs_untouched(&s);
}

#[test]
fn offsets_beyond_i64_max_elsewhere() {
    let s = server();
    let big = i64::MAX as u64 + 1;
    let requests = [
        req(Opcode::Fallocate, 1)
            .arg(FallocateIn {
                offset: big,
                ..Default::default()
            })
            .build(),
        req(Opcode::Fallocate, 1)
            .arg(FallocateIn {
                length: big,
                ..Default::default()
            })
            .build(),
        req(Opcode::CopyFileRange, 1)
            .arg(CopyFileRangeIn {
                offset_out: big,
                ..Default::default()
            })
            .build(),
        req(Opcode::Readdir, 1)
            .arg(ReadIn {
                offset: big,
                size: 100,
                ..Default::default()
            })
            .build(),
    ];
    for r in requests {
        let (res, reply) = run(&s, &r);
        assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    }
    fs_untouched(&s);
}

#[test]
fn ioctl_in_size_mismatch() {
    let s = server();
    for (in_size, n) in [(4u32, 3usize), (0, 1), (u32::MAX, 8)] {
        let arg = IoctlIn {
            in_size,
            out_size: 0,
            ..Default::default()
        };
        let (res, reply) = run(
            &s,
            &req(Opcode::Ioctl, 1).arg(arg).bytes(&vec![0; n]).build(),
        );
        let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
        assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
    }
    // out_size larger than a reply may be.
    let arg = IoctlIn {
        flags: IoctlFlags::DIR.bits(),
        out_size: u32::MAX,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Ioctl, 1).arg(arg).build());
    assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    fs_untouched(&s);
}

#[test]
fn removemapping_count_too_large() {
    let s = server();
    for count in [257u32, u32::MAX] {
        let mut b = req(Opcode::RemoveMapping, 1).arg(RemovemappingIn { count });
        for _ in 0..257 {
            b = b.arg(RemovemappingOne::default());
        }
        let mut dax = super::recfs::MockDax::default();
        let (res, reply) = run_with(&s, &b.build(), Some(&mut dax));
        let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
        assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
        assert!(dax.unmaps.is_empty());
    }
    fs_untouched(&s);
}

#[test]
fn total_extlen_larger_than_message() {
    let s = server();
    // 16 bytes of extensions announced, 4 bytes of body present.
    let r = req(Opcode::Lookup, 1).total_extlen(2).name("abc").build();
    let (res, reply) = run(&s, &r);
    let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    assert!(matches!(err, Error::InvalidHeaderLength), "{err:?}");
    let r = req(Opcode::Lookup, 1)
        .total_extlen(u16::MAX)
        .name("abc")
        .build();
    let (res, reply) = run(&s, &r);
    assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    fs_untouched(&s);
}

#[test]
fn extension_header_size_out_of_range() {
    let s = server();
    for size in [0u32, 7, 24, u32::MAX] {
        let ext = ExtHeader { size, type_: 32 };
        let r = req(Opcode::Mkdir, 1)
            .total_extlen(2)
            .arg(MkdirIn::default())
            .name("d")
            .arg(ext)
            .bytes(&[0; 8])
            .build();
        let (res, reply) = run(&s, &r);
        let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
        assert!(
            matches!(err, Error::DecodeMessage(_)),
            "size {size}: {err:?}"
        );
    }
    fs_untouched(&s);
}

#[test]
fn malformed_no_reply_requests_stay_unanswered() {
    // FORGET, BATCH_FORGET and NOTIFY_REPLY must never be answered, even when their
    // header is malformed.
    let s = server();
    for op in [Opcode::Forget, Opcode::BatchForget, Opcode::NotifyReply] {
        let r = req(op, 1)
            .total_extlen(4)
            .arg(ForgetIn { nlookup: 1 })
            .build();
        let (res, reply) = run(&s, &r);
        assert!(reply.is_empty(), "{op:?}");
        assert!(res.is_err(), "{op:?}");
        let r = req(op, 1).arg(ForgetIn { nlookup: 1 }).len(4096).build();
        let (res, reply) = run(&s, &r);
        assert!(reply.is_empty(), "{op:?}");
        assert!(matches!(res, Err(Error::InvalidHeaderLength)), "{op:?}");
    }
    fs_untouched(&s);
}

#[test]
fn reply_buffer_too_small_for_header() {
    let s = server();
    let mut input = req(Opcode::Statfs, 1).build();
    let mut output = vec![0u8; 8];
    let r = Reader::from_fuse_buffer(FuseBuf::new(&mut input)).unwrap();
    let w = Writer::from_volatile_slices([FuseBuf::new(&mut output).into_volatile_slice()]);
    let err = s.handle_message(r, w, None, None).unwrap_err();
    assert!(matches!(err, Error::EncodeMessage(_)), "{err:?}");
}

#[test]
fn every_opcode_with_every_short_body() {
    // Truncating any valid request anywhere (with `len` saying so) leaves it malformed:
    // the server answers with an errno (or nothing, where the protocol wants no reply),
    // returns an Err, and never calls the driver.
    let s = server();
    for &op in Opcode::ALL {
        if matches!(op, Opcode::Init | Opcode::Destroy) {
            continue;
        }
        let full = sample_request(op);
        for cut in 40..full.len() {
            let mut r = full[..cut].to_vec();
            r[..4].copy_from_slice(&(cut as u32).to_le_bytes());
            let (res, reply) = run(&s, &r);
            let what = format!("{op:?} cut to {cut} of {} bytes", full.len());
            match op {
                // No reply: FORGETs and NOTIFY_REPLY never get one; nor does an
                // INTERRUPT the server cannot read (the kernel ignores a reply to an
                // interrupt unless it is EAGAIN or ENOSYS, and ENOSYS would stop
                // interrupts for good).
                Opcode::Forget | Opcode::BatchForget | Opcode::NotifyReply | Opcode::Interrupt => {
                    assert!(reply.is_empty(), "{what}: answered a no-reply request");
                    assert!(res.is_err(), "{what}: accepted");
                }
                // Opcodes the server does not serve: ENOSYS whatever the body.
                Opcode::CuseInit => {
                    let err = assert_rejected(res, &reply, UNIQUE, libc::ENOSYS);
                    assert_eq!(
                        err.invalid_request(),
                        Some(InvalidRequest::UnknownOpcode(op as u32)),
                        "{what}"
                    );
                }
                // A value size the remaining body cannot hold (name and value cut).
                Opcode::Setxattr if reply.error() == -libc::E2BIG => {
                    let err = assert_rejected(res, &reply, UNIQUE, libc::E2BIG);
                    assert!(matches!(err, Error::InvalidXattrSize(_)), "{what}: {err:?}");
                }
                _ => {
                    let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
                    // The request failed, not the transport.
                    assert!(
                        !matches!(err, Error::EncodeMessage(_) | Error::FailedToWrite(_)),
                        "{what}: {err:?}"
                    );
                }
            }
            assert_eq!(s.fs().calls(), [], "{what}: reached the filesystem");
        }
    }
}
