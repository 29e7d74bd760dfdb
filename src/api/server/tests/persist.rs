//! `Server::save_to_bytes` / `restore_from_bytes` (feature `persist`).

use super::*;

struct Empty;

impl FileSystem for Empty {
    type Inode = u64;
    type Handle = u64;
}

#[test]
fn a_restored_server_serves_without_init() {
    let old = Server::new(Empty);
    assert!(old.save_to_bytes().is_err(), "nothing to save before INIT");
    let flags = (FsOptions::ASYNC_READ | FsOptions::BIG_WRITES).bits();
    run(&old, &init_request(36, flags)).0.unwrap();
    let bytes = old.save_to_bytes().unwrap();

    let new = Server::new(Empty);
    // Before the restore a request is refused with EIO...
    let (_, reply) = run(&new, &sample_request(Opcode::Getattr));
    assert_eq!(reply.error(), -libc::EIO);
    new.restore_from_bytes(&bytes).unwrap();
    assert_eq!(new.negotiated_options(), old.negotiated_options());
    // ...after it the filesystem answers (ENOSYS: it implements nothing).
    let (_, reply) = run(&new, &sample_request(Opcode::Getattr));
    assert_eq!(reply.error(), -libc::ENOSYS);
    // Once is enough.
    assert_eq!(
        new.restore_from_bytes(&bytes).unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
}

#[test]
fn bad_session_bytes_change_nothing() {
    let old = Server::new(Empty);
    run(&old, &init_request(45, 0)).0.unwrap();
    let good = old.save_to_bytes().unwrap();
    let new = Server::new(Empty);
    for len in 0..good.len() {
        let e = new.restore_from_bytes(&good[..len]).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "len {len}");
    }
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x41;
        assert!(new.restore_from_bytes(&b).is_err(), "byte {i}");
    }
    let (_, reply) = run(&new, &sample_request(Opcode::Getattr));
    assert_eq!(reply.error(), -libc::EIO, "still not initialized");
    // A server whose buffers are smaller than the session's refuses it.
    let small = Server::new(Empty).with_max_write(4096);
    assert_eq!(
        small.restore_from_bytes(&good).unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
}
