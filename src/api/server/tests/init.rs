//! FUSE_INIT negotiation and request extensions.

use super::*;
use crate::abi::fuse_abi::{ExtHeader, InitIn, InitInExt, InitOut, SuppGroups, FUSE_EXT_GROUPS};
use crate::Error;

/// The bytes of a `fuse_init_out`, written out field by field.
#[allow(clippy::too_many_arguments)]
fn init_out_bytes(
    minor: u32,
    max_readahead: u32,
    flags: u32,
    max_write: u32,
    max_pages: u16,
    flags2: u32,
) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&7u32.to_le_bytes());
    v.extend_from_slice(&minor.to_le_bytes());
    v.extend_from_slice(&max_readahead.to_le_bytes());
    v.extend_from_slice(&flags.to_le_bytes());
    v.extend_from_slice(&[0; 4]); // max_background, congestion_threshold
    v.extend_from_slice(&max_write.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes()); // time_gran
    v.extend_from_slice(&max_pages.to_le_bytes());
    v.extend_from_slice(&[0; 2]); // map_alignment
    v.extend_from_slice(&flags2.to_le_bytes());
    v.extend_from_slice(&[0; 28]); // max_stack_depth, request_timeout, unused
    assert_eq!(v.len(), 64);
    v
}

fn init_req(major: u32, minor: u32, flags: u64) -> Vec<u8> {
    let arg = InitInExt {
        major,
        minor,
        max_readahead: 0x20000,
        flags: flags as u32,
        flags2: (flags >> 32) as u32,
        unused: [0; 11],
    };
    req(Opcode::Init, 0).arg(arg).build()
}

fn lookup_after(s: &Server<RecFs>) -> Reply {
    run(s, &req(Opcode::Lookup, 1).name("x").build()).1
}

#[test]
fn init_from_raw_bytes() {
    let s = Server::new(RecFs::new(FsOptions::ASYNC_READ));
    let mut bytes = raw_header(104, 26, UNIQUE, 0, 0, 0, 0, 0);
    for x in [7u32, 45, 0x1000, FsOptions::ASYNC_READ.bits() as u32, 0] {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.extend_from_slice(&[0; 44]);
    let (res, reply) = run(&s, &bytes);
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &init_out_bytes(45, 0x1000, 1, 1 << 20, 256, 0),
    );
    assert_eq!(s.fs().calls(), [Call::Init(FsOptions::ASYNC_READ)]);
    assert_eq!(s.negotiated_options(), (45, FsOptions::ASYNC_READ));
}

#[test]
fn init_newer_major_gets_our_version_only() {
    let s = Server::new(RecFs::new(FsOptions::empty()));
    let (res, reply) = run(&s, &init_req(8, 0, FsOptions::ASYNC_READ.bits()));
    let expected = InitOut {
        major: 7,
        minor: 45,
        ..Default::default()
    };
    assert_ok(res, &reply, UNIQUE, expected.as_slice());
    // The driver was not asked and the session is not up yet.
    assert!(s.fs().calls().is_empty());
    assert_eq!(lookup_after(&s).error(), -libc::EIO);
    // The kernel retries with major 7.
    let (res, reply) = run(&s, &init_req(7, 45, 0));
    res.unwrap();
    assert_eq!(reply.error(), 0);
    assert_eq!(lookup_after(&s).error(), 0);
}

#[test]
fn init_older_major_is_eproto() {
    let s = Server::new(RecFs::new(FsOptions::empty()));
    let (res, reply) = run(&s, &init_req(6, 45, 0));
    let err = assert_rejected(res, &reply, UNIQUE, libc::EPROTO);
    assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
    assert_eq!(lookup_after(&s).error(), -libc::EIO);
}

#[test]
fn init_too_old_minor_is_eproto() {
    let s = Server::new(RecFs::new(FsOptions::empty()));
    let (res, reply) = run(&s, &init_req(7, 26, 0));
    let err = assert_rejected(res, &reply, UNIQUE, libc::EPROTO);
    assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
    assert!(s.fs().calls().is_empty());
}

#[test]
fn init_older_minor_is_used() {
    let s = Server::new(RecFs::new(FsOptions::empty()));
    // A 7.30 kernel sends the 16-byte (pre-7.36) fuse_init_in... padded to 64 by newer
    // ones; accept both.
    let short = req(Opcode::Init, 0).arg([7u32, 30, 0x8000, 0]).build();
    let (res, reply) = run(&s, &short);
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &init_out_bytes(30, 0x8000, 0, 1 << 20, 256, 0),
    );
    assert_eq!(s.negotiated_options().0, 30);
    let (res, reply) = run(&s, &init_req(7, 30, 0));
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &init_out_bytes(30, 0x20000, 0, 1 << 20, 256, 0),
    );
}

#[test]
fn init_newer_minor_is_capped() {
    let s = Server::new(RecFs::new(FsOptions::empty()));
    let (res, reply) = run(&s, &init_req(7, 99, 0));
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &init_out_bytes(45, 0x20000, 0, 1 << 20, 256, 0),
    );
}

#[test]
fn init_enables_only_flags_both_sides_want() {
    let wanted = FsOptions::ASYNC_READ | FsOptions::WRITEBACK_CACHE | FsOptions::POSIX_LOCKS;
    let offered = FsOptions::ASYNC_READ
        | FsOptions::POSIX_LOCKS
        | FsOptions::DO_READDIRPLUS
        | FsOptions::BIG_WRITES
        | FsOptions::MAX_PAGES;
    let s = Server::new(RecFs::new(wanted));
    let (res, reply) = run(&s, &init_req(7, 45, offered.bits()));
    // WRITEBACK_CACHE was not offered, DO_READDIRPLUS not wanted; BIG_WRITES and
    // MAX_PAGES the server takes itself.
    let enabled = FsOptions::ASYNC_READ
        | FsOptions::POSIX_LOCKS
        | FsOptions::BIG_WRITES
        | FsOptions::MAX_PAGES;
    let body = init_out_bytes(45, 0x20000, enabled.bits() as u32, 1 << 20, 256, 0);
    assert_ok(res, &reply, UNIQUE, &body);
    assert_eq!(s.fs().calls(), [Call::Init(offered)]);
    assert_eq!(s.negotiated_options().1, enabled);
}

#[test]
fn init_flags2_need_init_ext() {
    let wanted = FsOptions::CREATE_SUPP_GROUP | FsOptions::HAS_EXPIRE_ONLY;
    // With INIT_EXT: flags2 is read and answered.
    let s = Server::new(RecFs::new(wanted));
    let offered = FsOptions::INIT_EXT | FsOptions::CREATE_SUPP_GROUP | FsOptions::PASSTHROUGH;
    let (res, reply) = run(&s, &init_req(7, 45, offered.bits()));
    let flags2 = (FsOptions::CREATE_SUPP_GROUP.bits() >> 32) as u32;
    assert_eq!(flags2, 1 << 2);
    let body = init_out_bytes(45, 0x20000, 1 << 30, 1 << 20, 256, flags2);
    assert_ok(res, &reply, UNIQUE, &body);
    assert_eq!(s.fs().calls(), [Call::Init(offered)]);

    // Without INIT_EXT the same flags2 bits mean nothing.
    let s = Server::new(RecFs::new(wanted));
    let offered = FsOptions::CREATE_SUPP_GROUP | FsOptions::ASYNC_READ;
    let (res, reply) = run(&s, &init_req(7, 45, offered.bits()));
    let body = init_out_bytes(45, 0x20000, 0, 1 << 20, 256, 0);
    assert_ok(res, &reply, UNIQUE, &body);
    assert_eq!(s.fs().calls(), [Call::Init(FsOptions::ASYNC_READ)]);
    assert!(!s
        .negotiated_options()
        .1
        .contains(FsOptions::CREATE_SUPP_GROUP));
}

#[test]
fn init_ext_with_a_short_tail() {
    let wanted = FsOptions::ASYNC_READ | FsOptions::CREATE_SUPP_GROUP;
    let flags = (FsOptions::INIT_EXT | FsOptions::ASYNC_READ).bits() as u32;
    let head = InitIn {
        major: 7,
        minor: 45,
        max_readahead: 0x20000,
        flags,
    };
    // INIT_EXT but only the 16-byte InitIn: no flags2.
    let s = Server::new(RecFs::new(wanted));
    let (res, reply) = run(&s, &req(Opcode::Init, 0).arg(head).build());
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &init_out_bytes(45, 0x20000, flags, 1 << 20, 256, 0),
    );
    let offered = FsOptions::INIT_EXT | FsOptions::ASYNC_READ;
    assert_eq!(s.fs().calls(), [Call::Init(offered)]);

    // InitIn2 cut after flags2: flags2 still counts, the missing rest reads as zero.
    let flags2 = (FsOptions::CREATE_SUPP_GROUP.bits() >> 32) as u32;
    let s = Server::new(RecFs::new(wanted));
    let (res, reply) = run(&s, &req(Opcode::Init, 0).arg(head).arg(flags2).build());
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &init_out_bytes(45, 0x20000, flags, 1 << 20, 256, flags2),
    );
    let offered = offered | FsOptions::CREATE_SUPP_GROUP;
    assert_eq!(s.fs().calls(), [Call::Init(offered)]);
}

#[test]
fn init_max_write_and_max_pages() {
    let offered = FsOptions::MAX_PAGES.bits();
    let flags = offered as u32;
    let s = Server::new(RecFs::new(FsOptions::empty())).with_max_write(128 * 1024);
    let (res, reply) = run(&s, &init_req(7, 45, offered));
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &init_out_bytes(45, 0x20000, flags, 131072, 32, 0),
    );
    // A READ beyond the negotiated size is refused.
    let big = ReadIn {
        size: 131073,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Read, 2).arg(big).build());
    assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    // Clamped to at least one page and at most MAX_BUFFER_SIZE.
    let s = Server::new(RecFs::new(FsOptions::empty())).with_max_write(1000);
    let (res, reply) = run(&s, &init_req(7, 45, offered));
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &init_out_bytes(45, 0x20000, flags, 4096, 1, 0),
    );
    // Not a page multiple: max_pages rounds down, so the kernel never sends a READ
    // larger than the server accepts.
    let s = Server::new(RecFs::new(FsOptions::empty())).with_max_write(6000);
    let (res, reply) = run(&s, &init_req(7, 45, offered));
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &init_out_bytes(45, 0x20000, flags, 6000, 1, 0),
    );
    let read = ReadIn {
        size: 6000,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Read, 2).arg(read).build());
    res.unwrap();
    assert_eq!(reply.error(), 0);
    let s = Server::new(RecFs::new(FsOptions::empty())).with_max_write(u32::MAX);
    let (res, reply) = run(&s, &init_req(7, 45, offered));
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &init_out_bytes(45, 0x20000, flags, 1 << 20, 256, 0),
    );
}

#[test]
fn init_error_from_driver() {
    let s = Server::new(RecFs::new(FsOptions::empty()));
    s.fs().set(|c| c.errno = Some(libc::ENOMEM));
    let (res, reply) = run(&s, &init_req(7, 45, 0));
    assert_errno(res, &reply, UNIQUE, libc::ENOMEM);
    s.fs().set(|c| c.errno = None);
    assert_eq!(lookup_after(&s).error(), -libc::EIO);
}

#[test]
fn init_short_body_is_einval() {
    let s = Server::new(RecFs::new(FsOptions::empty()));
    let r = req(Opcode::Init, 0).arg([7u32, 45, 0]).build();
    let (res, reply) = run(&s, &r);
    let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    assert!(matches!(err, Error::DecodeMessage(_)), "{err:?}");
}

/// The supplementary group extension: `fuse_ext_header`, `fuse_supp_groups`, one gid.
fn supp_group_ext(gid: u32) -> Vec<u8> {
    cat(&[
        ExtHeader {
            size: 16,
            type_: FUSE_EXT_GROUPS,
        }
        .as_slice(),
        SuppGroups { nr_groups: 1 }.as_slice(),
        &gid.to_le_bytes(),
    ])
}

fn supp_server() -> Server<RecFs> {
    let o = FsOptions::INIT_EXT | FsOptions::CREATE_SUPP_GROUP;
    let s = server_with(o, o);
    assert!(s
        .negotiated_options()
        .1
        .contains(FsOptions::CREATE_SUPP_GROUP));
    s
}

#[test]
fn supp_group_reaches_mknod() {
    let s = supp_server();
    let arg = MknodIn {
        mode: libc::S_IFREG | 0o644,
        ..Default::default()
    };
    let r = req(Opcode::Mknod, 1)
        .caller(1000, 100, 55)
        .total_extlen(2)
        .arg(arg)
        .name("f")
        .bytes(&supp_group_ext(4242))
        .build();
    let (res, reply) = run(&s, &r);
    res.unwrap();
    assert_eq!(reply.error(), 0);
    let calls = s.fs().take_calls();
    let (ctx, call) = &calls[0];
    assert_eq!(
        (ctx.uid, ctx.gid, ctx.pid, ctx.supp_gid),
        (1000, 100, 55, Some(4242))
    );
    // The extension is not part of the name.
    assert!(matches!(call, Call::Mknod { name, .. } if name == b"f"));
}

#[test]
fn supp_group_reaches_create() {
    let s = supp_server();
    let r = req(Opcode::Create, 1)
        .caller(1000, 100, 56)
        .total_extlen(2)
        .arg(CreateIn::default())
        .name("new")
        .bytes(&supp_group_ext(777))
        .build();
    let (res, reply) = run(&s, &r);
    res.unwrap();
    assert_eq!(reply.error(), 0);
    let calls = s.fs().take_calls();
    let (ctx, call) = &calls[0];
    assert_eq!(ctx.supp_gid, Some(777));
    assert!(matches!(call, Call::Create { name, .. } if name == b"new"));
}

#[test]
fn unknown_extension_is_skipped() {
    let s = supp_server();
    let ext = cat(&[
        ExtHeader {
            size: 16,
            type_: 99,
        }
        .as_slice(),
        &[0xff; 8],
    ]);
    let r = req(Opcode::Mkdir, 1)
        .total_extlen(2)
        .arg(MkdirIn::default())
        .name("d")
        .bytes(&ext)
        .build();
    let (res, reply) = run(&s, &r);
    res.unwrap();
    assert_eq!(reply.error(), 0);
    let calls = s.fs().take_calls();
    assert_eq!(calls[0].0.supp_gid, None);
    assert!(matches!(&calls[0].1, Call::Mkdir { name, .. } if name == b"d"));
}

#[test]
fn no_supp_group_without_extension() {
    let s = supp_server();
    let r = req(Opcode::Mknod, 1)
        .arg(MknodIn::default())
        .name("f")
        .build();
    run(&s, &r).0.unwrap();
    assert_eq!(s.fs().take_calls()[0].0.supp_gid, None);
}
