//! Notifications: unique 0, the notify code in `error`, then the body.

use super::*;
use crate::abi::fuse_abi::NotifyOpcode;

/// Runs `f` with a writer over a Vec-backed buffer and returns what it wrote.
fn capture(f: impl FnOnce(Writer<'_, ()>) -> crate::Result<usize>) -> Vec<u8> {
    let mut buf = vec![FILL; 512];
    let n = {
        let w = Writer::from_volatile_slices([FuseBuf::new(&mut buf).into_volatile_slice()]);
        f(w).unwrap()
    };
    assert!(buf[n..].iter().all(|&b| b == FILL));
    buf.truncate(n);
    buf
}

fn notify_bytes(code: NotifyOpcode, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(16 + body.len() as u32).to_le_bytes());
    v.extend_from_slice(&(code as i32).to_le_bytes());
    v.extend_from_slice(&0u64.to_le_bytes());
    v.extend_from_slice(body);
    v
}

#[test]
fn inval_inode() {
    let s = server();
    let got = capture(|w| s.notify_inval_inode_range(w, 42, -1, 0));
    let body = cat(&[
        &42u64.to_le_bytes(),
        &(-1i64).to_le_bytes(),
        &0i64.to_le_bytes(),
    ]);
    assert_eq!(got, notify_bytes(NotifyOpcode::InvalInode, &body));
    assert_eq!(&got[4..8], &2i32.to_le_bytes());
}

#[test]
fn inval_inode_upstream_form_takes_u64_range() {
    let s = server();
    let got = capture(|w| s.notify_inval_inode(w, 42, 4096, 8192));
    let body = cat(&[
        &42u64.to_le_bytes(),
        &4096i64.to_le_bytes(),
        &8192i64.to_le_bytes(),
    ]);
    assert_eq!(got, notify_bytes(NotifyOpcode::InvalInode, &body));
}

#[test]
fn inval_entry() {
    let s = server();
    let got = capture(|w| s.notify_inval_entry(w, 1, c"name"));
    let body = cat(&[
        &1u64.to_le_bytes(),
        &4u32.to_le_bytes(),
        &0u32.to_le_bytes(),
        b"name\0",
    ]);
    assert_eq!(got, notify_bytes(NotifyOpcode::InvalEntry, &body));
    assert_eq!(got.len(), 16 + 16 + 5);
}

#[test]
fn delete() {
    let s = server();
    let got = capture(|w| s.notify_delete(w, 1, 42, c"gone"));
    let body = cat(&[
        &1u64.to_le_bytes(),
        &42u64.to_le_bytes(),
        &4u32.to_le_bytes(),
        &0u32.to_le_bytes(),
        b"gone\0",
    ]);
    assert_eq!(got, notify_bytes(NotifyOpcode::Delete, &body));
}

#[test]
fn store() {
    let s = server();
    let got = capture(|w| s.notify_store(w, 42, 8192, b"cached"));
    let body = cat(&[
        &42u64.to_le_bytes(),
        &8192u64.to_le_bytes(),
        &6u32.to_le_bytes(),
        &0u32.to_le_bytes(),
        b"cached",
    ]);
    assert_eq!(got, notify_bytes(NotifyOpcode::Store, &body));
}

#[test]
fn retrieve() {
    let s = server();
    let got = capture(|w| s.notify_retrieve(w, 0x99, 42, 4096, 100));
    let body = cat(&[
        &0x99u64.to_le_bytes(),
        &42u64.to_le_bytes(),
        &4096u64.to_le_bytes(),
        &100u32.to_le_bytes(),
        &0u32.to_le_bytes(),
    ]);
    assert_eq!(got, notify_bytes(NotifyOpcode::Retrieve, &body));
}

#[test]
fn resend() {
    let s = server();
    let got = capture(|w| s.notify_resend_len(w));
    assert_eq!(got, notify_bytes(NotifyOpcode::Resend, &[]));
    assert_eq!(got, [16, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn poll_wakeup() {
    let s = server();
    let got = capture(|w| s.notify_poll_wakeup(w, 0xa1));
    assert_eq!(
        got,
        notify_bytes(NotifyOpcode::Poll, &0xa1u64.to_le_bytes())
    );
}

#[test]
fn notification_too_big_for_the_buffer_fails() {
    let s = server();
    let mut buf = vec![0u8; 20];
    let w = Writer::from_volatile_slices([FuseBuf::new(&mut buf).into_volatile_slice()]);
    let err = s.notify_store(w, 1, 0, &[0; 64]).unwrap_err();
    assert!(matches!(err, crate::Error::EncodeMessage(_)), "{err:?}");
}

#[test]
fn notifications_work_before_init() {
    // Notifications do not depend on the session state.
    let s = Server::new(RecFs::new(FsOptions::empty()));
    let got = capture(|w| s.notify_resend(w).map(|()| 16));
    assert_eq!(got.len(), 16);
}

#[test]
fn prune_lists_node_ids_after_count() {
    let s = server();
    let got = capture(|w| s.notify_prune(w, &[5, 0x1122_3344_5566_7788]));
    let body = cat(&[
        &2u32.to_le_bytes(),
        &0u32.to_le_bytes(),
        &0u64.to_le_bytes(),
        &5u64.to_le_bytes(),
        &0x1122_3344_5566_7788u64.to_le_bytes(),
    ]);
    assert_eq!(got, notify_bytes(NotifyOpcode::Prune, &body));
    assert_eq!(&got[4..8], &9i32.to_le_bytes());
    assert_eq!(got.len(), 16 + 16 + 16);
    // An empty list is well formed too (the kernel accepts count 0).
    let got = capture(|w| s.notify_prune(w, &[]));
    assert_eq!(got, notify_bytes(NotifyOpcode::Prune, &[0; 16]));
}

#[test]
fn prune_refuses_more_ids_than_one_message_carries() {
    let s = server();
    let ids = vec![7u64; Server::<RecFs>::MAX_PRUNE_IDS + 1];
    let mut buf = vec![0u8; 8192];
    let w = Writer::from_volatile_slices([FuseBuf::new(&mut buf).into_volatile_slice()]);
    let err = s.notify_prune(w, &ids).unwrap_err();
    assert!(matches!(err, crate::Error::EncodeMessage(_)), "{err:?}");
}
