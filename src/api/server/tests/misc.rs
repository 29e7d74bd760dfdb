//! Whole-filesystem and session operations: statfs, access, interrupt, bmap, destroy,
//! syncfs, notify_reply, CUSE_INIT.

use super::*;
use crate::InvalidRequest;

#[test]
fn statfs_replies_kstatfs() {
    let s = server();
    let (res, reply) = run(&s, &req(Opcode::Statfs, 1).build());
    let mut body = Vec::new();
    for x in [1000u64, 500, 400, 300, 200] {
        body.extend_from_slice(&x.to_le_bytes());
    }
    for x in [4096u32, 255, 512, 0] {
        body.extend_from_slice(&x.to_le_bytes());
    }
    body.extend_from_slice(&[0; 24]);
    assert_ok(res, &reply, UNIQUE, &body);
    assert_eq!(s.fs().calls(), [Call::Statfs(1)]);
}

#[test]
fn access_passes_mask() {
    let s = server();
    let arg = AccessIn {
        mask: (libc::R_OK | libc::X_OK) as u32,
        padding: 0,
    };
    let (res, reply) = run(&s, &req(Opcode::Access, 40).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    s.fs().set(|c| c.errno = Some(libc::EACCES));
    let (res, reply) = run(&s, &req(Opcode::Access, 40).arg(arg).build());
    assert_errno(res, &reply, UNIQUE, libc::EACCES);
    let call = Call::Access {
        ino: 40,
        mask: (libc::R_OK | libc::X_OK) as u32,
    };
    assert_eq!(s.fs().calls(), [call.clone(), call]);
}

#[test]
fn interrupt_accepted_gets_no_reply() {
    let s = server();
    let r = req(Opcode::Interrupt, 0)
        .arg(InterruptIn { unique: 77 })
        .build();
    let (res, reply) = run(&s, &r);
    assert_eq!(res.unwrap(), 0);
    assert!(reply.is_empty());
    assert_eq!(s.fs().calls(), [Call::Interrupt(77)]);
}

#[test]
fn interrupt_error_is_answered() {
    let s = server();
    s.fs().set(|c| c.interrupt_errno = Some(libc::EAGAIN));
    let r = req(Opcode::Interrupt, 0)
        .arg(InterruptIn { unique: 78 })
        .build();
    let (res, reply) = run(&s, &r);
    assert_errno(res, &reply, UNIQUE, libc::EAGAIN);
    // ENOSYS would stop the kernel's interrupts for good (lock waits need them): no reply.
    s.fs().set(|c| c.interrupt_errno = Some(libc::ENOSYS));
    let (res, reply) = run(&s, &r);
    assert_eq!(res.unwrap(), 0);
    assert!(reply.is_empty());
    assert_eq!(s.fs().calls(), [Call::Interrupt(78), Call::Interrupt(78)]);
}

#[test]
fn bmap_replies_block() {
    let s = server();
    let arg = BmapIn {
        block: 21,
        blocksize: 512,
        padding: 0,
    };
    let (res, reply) = run(&s, &req(Opcode::Bmap, 41).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &43u64.to_le_bytes());
    assert_eq!(
        s.fs().calls(),
        [Call::Bmap {
            ino: 41,
            block: 21,
            blocksize: 512
        }]
    );
}

#[test]
fn destroy_replies_and_ends_the_session() {
    let s = server();
    let (res, reply) = run(&s, &req(Opcode::Destroy, 0).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(s.fs().calls(), [Call::Destroy]);
    // After DESTROY the session needs a new INIT.
    let (res, reply) = run(&s, &req(Opcode::Statfs, 1).build());
    let err = assert_rejected(res, &reply, UNIQUE, libc::EIO);
    assert!(err.invalid_request() == Some(InvalidRequest::NotInitialized));
    assert!(s.fs().calls().is_empty());
}

#[test]
fn syncfs() {
    let s = server();
    let (res, reply) = run(&s, &req(Opcode::Syncfs, 1).arg(SyncfsIn::default()).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(s.fs().calls(), [Call::Syncfs(1)]);
}

#[test]
fn notify_reply_gets_no_reply() {
    let s = server();
    // The kernel's answer to a NOTIFY_RETRIEVE: fuse_notify_retrieve_in and the data.
    let r = req(Opcode::NotifyReply, 50)
        .arg([0u64, 4096, 4, 0, 0])
        .bytes(b"data")
        .build();
    let (res, reply) = run(&s, &r);
    assert_eq!(res.unwrap(), 0);
    assert!(reply.is_empty());
    // Even when the driver fails.
    s.fs().set(|c| c.errno = Some(libc::EIO));
    let (res, reply) = run(&s, &r);
    assert_eq!(res.unwrap(), 0);
    assert!(reply.is_empty());
    let call = Call::NotifyRetrieveReply {
        cookie: UNIQUE,
        ino: 50,
        offset: 4096,
        size: 4,
        data: b"data".to_vec(),
    };
    assert_eq!(s.fs().calls(), [call.clone(), call]);
}

#[test]
fn cuse_init_is_enosys() {
    let s = server();
    let (res, reply) = run(&s, &sample_request(Opcode::CuseInit));
    let err = assert_rejected(res, &reply, UNIQUE, libc::ENOSYS);
    assert!(
        err.invalid_request() == Some(InvalidRequest::UnknownOpcode(4096)),
        "{err:?}"
    );
    assert!(s.fs().calls().is_empty());
}

#[test]
fn driver_errors_without_errno_become_eio() {
    // An `io::Error` without an OS errno (or a negative one) must still reach the kernel
    // as a valid, negative errno.
    struct Odd;
    impl FileSystem for Odd {
        type Inode = u64;
        type Handle = u64;
        fn statfs(
            &self,
            _: &crate::api::filesystem::Context,
            _: u64,
        ) -> std::io::Result<libc::statvfs64> {
            Err(std::io::Error::other("no errno"))
        }
        fn access(
            &self,
            _: &crate::api::filesystem::Context,
            _: u64,
            _: u32,
        ) -> std::io::Result<()> {
            Err(std::io::Error::from_raw_os_error(-5))
        }
    }
    let s = Server::new(Odd);
    run(&s, &init_request(45, 0)).0.unwrap();
    let (res, reply) = run(&s, &req(Opcode::Statfs, 1).build());
    assert_errno(res, &reply, UNIQUE, libc::EIO);
    let (res, reply) = run(&s, &req(Opcode::Access, 1).arg(AccessIn::default()).build());
    assert_errno(res, &reply, UNIQUE, libc::EIO);
}
