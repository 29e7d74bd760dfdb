//! The default `FileSystem` (no methods) and requests that arrive before INIT.

use super::*;
use crate::InvalidRequest;

/// A filesystem that implements nothing.
struct Empty;

impl FileSystem for Empty {
    type Inode = u64;
    type Handle = u64;
}

fn no_reply(op: Opcode) -> bool {
    matches!(
        op,
        Opcode::Forget | Opcode::BatchForget | Opcode::NotifyReply
    )
}

#[test]
fn default_filesystem_answers_enosys() {
    // ENOSYS for everything but FUSE_IOCTL (ENOTTY).
    let s = Server::new(Empty);
    let (res, reply) = run(&s, &init_request(45, 0));
    res.unwrap();
    assert_eq!(reply.error(), 0);
    for &op in Opcode::ALL {
        if matches!(op, Opcode::Init | Opcode::Destroy) {
            continue;
        }
        let (res, reply) = run(&s, &sample_request(op));
        if no_reply(op) || op == Opcode::Interrupt {
            assert_eq!(res.unwrap(), 0, "{op:?}");
            assert!(reply.is_empty(), "{op:?} got a reply");
        } else if op == Opcode::CuseInit {
            let err = assert_rejected(res, &reply, UNIQUE, libc::ENOSYS);
            assert!(err.invalid_request() == Some(InvalidRequest::UnknownOpcode(4096)));
        } else if op == Opcode::Ioctl {
            // As upstream: "no such ioctl", not "no ioctl support".
            assert_eq!(reply.bytes, err_bytes(UNIQUE, libc::ENOTTY), "{op:?}");
            assert_eq!(res.unwrap(), 16, "{op:?}");
        } else {
            assert_eq!(reply.bytes, err_bytes(UNIQUE, libc::ENOSYS), "{op:?}");
            assert_eq!(res.unwrap(), 16, "{op:?}");
        }
    }
    // DESTROY has a no-op default and is answered.
    let (res, reply) = run(&s, &sample_request(Opcode::Destroy));
    assert_ok(res, &reply, UNIQUE, &[]);
}

#[test]
fn default_filesystem_enosys_with_dax_channel() {
    let s = Server::new(Empty);
    run(&s, &init_request(45, 0)).0.unwrap();
    for op in [Opcode::SetupMapping, Opcode::RemoveMapping] {
        let mut dax = super::recfs::MockDax::default();
        let (res, reply) = run_with(&s, &sample_request(op), Some(&mut dax));
        assert_errno(res, &reply, UNIQUE, libc::ENOSYS);
        assert!(dax.maps.is_empty() && dax.unmaps.is_empty());
    }
}

#[test]
fn requests_before_init_get_eio() {
    let s = Server::new(RecFs::new(FsOptions::empty()));
    for &op in Opcode::ALL {
        if op == Opcode::Init {
            continue;
        }
        let (res, reply) = run(&s, &sample_request(op));
        let err = res.expect_err("a request before INIT is an error");
        assert!(
            err.invalid_request() == Some(InvalidRequest::NotInitialized),
            "{op:?}: {err:?}"
        );
        if no_reply(op) {
            assert!(reply.is_empty(), "{op:?} got a reply before INIT");
        } else {
            assert_eq!(reply.bytes, err_bytes(UNIQUE, libc::EIO), "{op:?}");
        }
    }
    assert!(s.fs().calls().is_empty());
}

#[test]
fn forget_before_init_gets_nothing() {
    let s = Server::new(RecFs::new(FsOptions::empty()));
    let r = req(Opcode::Forget, 5).arg(ForgetIn { nlookup: 1 }).build();
    let (res, reply) = run(&s, &r);
    assert!(res.is_err_and(|e| e.invalid_request() == Some(InvalidRequest::NotInitialized)));
    assert!(reply.is_empty());
    assert!(s.fs().calls().is_empty());
}

#[test]
fn unknown_opcode_before_init_is_enosys() {
    let s = Server::new(RecFs::new(FsOptions::empty()));
    let (res, reply) = run(&s, &RequestBuilder::new(9999u32, 1).unique(UNIQUE).build());
    let err = assert_rejected(res, &reply, UNIQUE, libc::ENOSYS);
    assert!(err.invalid_request() == Some(InvalidRequest::UnknownOpcode(9999)));
}
