//! Notifications: unique 0, the notify code in `error`, then the body.

use super::*;
use crate::abi::fuse_abi::{NotifyOpcode, NotifyRetrieveIn};

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

/// The kernel's FUSE_NOTIFY_REPLY answering a retrieve sent with `cookie`: the header's
/// `unique` is the cookie, `fuse_notify_retrieve_in` says `size` bytes at `offset`, then
/// `data` follows.
fn retrieve_reply(cookie: u64, nodeid: u64, offset: u64, size: u32, data: &[u8]) -> Vec<u8> {
    RequestBuilder::new(Opcode::NotifyReply, nodeid)
        .unique(cookie)
        .arg(NotifyRetrieveIn {
            offset,
            size,
            ..Default::default()
        })
        .bytes(data)
        .build()
}

#[test]
fn retrieve_reply_hands_cookie_node_offset_and_data_to_the_fs() {
    let s = server();
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    let (res, reply) = run(&s, &retrieve_reply(0x77, 9, 8192, 5000, &data));
    assert_eq!(res.unwrap(), 0);
    assert!(reply.is_empty(), "NOTIFY_REPLY got a reply");
    let want = Call::NotifyRetrieveReply {
        cookie: 0x77,
        ino: 9,
        offset: 8192,
        size: 5000,
        data,
    };
    assert_eq!(s.fs().calls(), [want]);
}

#[test]
fn retrieve_reply_data_over_several_slices() {
    // A virtio-fs request may come in several descriptors; the data is read across them.
    let s = server();
    let mut req = retrieve_reply(5, 3, 0, 6, b"abcdef");
    let (head, tail) = req.split_at_mut(40 + 40 + 2);
    let r = Reader::<()>::from_volatile_slices([
        FuseBuf::new(head).into_volatile_slice(),
        FuseBuf::new(tail).into_volatile_slice(),
    ]);
    let mut out = vec![0u8; 64];
    let w = Writer::from_volatile_slices([FuseBuf::new(&mut out).into_volatile_slice()]);
    assert_eq!(s.handle_message(r, w, None, None).unwrap(), 0);
    let want = Call::NotifyRetrieveReply {
        cookie: 5,
        ino: 3,
        offset: 0,
        size: 6,
        data: b"abcdef".to_vec(),
    };
    assert_eq!(s.fs().calls(), [want]);
}

#[test]
fn retrieve_reply_with_a_driver_error_gets_no_reply() {
    let s = server();
    s.fs().set(|c| c.errno = Some(libc::EIO));
    let (res, reply) = run(&s, &retrieve_reply(1, 2, 0, 3, b"xyz"));
    assert_eq!(res.unwrap(), 0);
    assert!(reply.is_empty());
}

#[test]
fn malformed_retrieve_reply_is_refused_unanswered() {
    let s = server();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // The length lies: 4096 bytes announced, 4 present.
        (
            "size beyond the data",
            retrieve_reply(1, 2, 0, 4096, b"data"),
        ),
        // More data than announced.
        ("size below the data", retrieve_reply(1, 2, 0, 2, b"data")),
        // u32::MAX announced with nothing behind it.
        ("size u32::MAX", retrieve_reply(1, 2, 0, u32::MAX, b"")),
        // offset + size beyond off_t.
        (
            "offset past off_t",
            retrieve_reply(1, 2, i64::MAX as u64, 4, b"data"),
        ),
        // Not even the whole fuse_notify_retrieve_in.
        (
            "short argument",
            req(Opcode::NotifyReply, 2).bytes(&[0; 20]).build(),
        ),
        // The header's len says more than is present.
        (
            "header len lies",
            req(Opcode::NotifyReply, 2)
                .arg(NotifyRetrieveIn {
                    size: 4,
                    ..Default::default()
                })
                .bytes(b"data")
                .len(4096)
                .build(),
        ),
    ];
    for (what, r) in cases {
        let (res, reply) = run(&s, &r);
        assert!(res.is_err(), "{what}: {res:?}");
        assert!(reply.is_empty(), "{what}: got a reply");
    }
    assert_eq!(s.fs().calls(), []);
}

#[test]
fn retrieve_reply_larger_than_max_write_is_refused() {
    // The kernel sends at most max_write bytes; more is refused before any driver sees it.
    let s = Server::new(RecFs::new(FsOptions::empty())).with_max_write(4096);
    let (res, _) = run(&s, &init_request(45, FsOptions::ASYNC_READ.bits()));
    res.unwrap();
    s.fs().take_calls();
    let data = vec![1u8; 4097];
    let (res, reply) = run(&s, &retrieve_reply(1, 2, 0, 4097, &data));
    let err = res.unwrap_err();
    assert!(matches!(err, crate::Error::InvalidMessage(_)), "{err:?}");
    assert!(reply.is_empty());
    let (res, _) = run(&s, &retrieve_reply(1, 2, 0, 4096, &data[..4096]));
    assert_eq!(res.unwrap(), 0);
    assert_eq!(s.fs().calls().len(), 1);
}

/// A filesystem written for fuse-backend-rs 0.14: it knows only `notify_reply`.
#[derive(Default)]
struct OldStyle {
    replies: std::sync::atomic::AtomicUsize,
}

impl FileSystem for OldStyle {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, _capable: FsOptions) -> std::io::Result<FsOptions> {
        Ok(FsOptions::empty())
    }

    fn notify_reply(&self) -> std::io::Result<()> {
        self.replies
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn a_filesystem_with_only_notify_reply_is_still_called() {
    let s = Server::new(OldStyle::default());
    let (res, _) = run(&s, &init_request(45, 0));
    res.unwrap();
    let (res, reply) = run(&s, &retrieve_reply(1, 2, 0, 4, b"data"));
    assert_eq!(res.unwrap(), 0);
    assert!(reply.is_empty());
    assert_eq!(s.fs().replies.load(std::sync::atomic::Ordering::SeqCst), 1);
    // Through an Arc as well (the forwarding impl).
    let s = Server::new(std::sync::Arc::new(OldStyle::default()));
    run(&s, &init_request(45, 0)).0.unwrap();
    run(&s, &retrieve_reply(1, 2, 0, 4, b"data")).0.unwrap();
    assert_eq!(s.fs().replies.load(std::sync::atomic::Ordering::SeqCst), 1);
}
