//! SETLKW answered late through the writer's sink, off the serving thread, and ended by
//! FUSE_INTERRUPT.

use std::io;
use std::sync::{mpsc, Mutex};

use vm_memory::VolatileSlice;

use super::*;
use crate::api::filesystem::{Context, FileLock, LockWaiter};
use crate::buffer::ReplySink;

/// Keeps every SETLKW waiting until the test completes it.
#[derive(Default)]
struct HoldFs {
    waits: Mutex<Vec<LockWaiter>>,
}

impl FileSystem for HoldFs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, _capable: FsOptions) -> io::Result<FsOptions> {
        Ok(FsOptions::empty())
    }

    fn setlkw(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: u64,
        _owner: u64,
        _lock: FileLock,
        _flags: u32,
    ) -> io::Result<()> {
        Err(io::Error::from_raw_os_error(libc::EDEADLK))
    }

    fn setlkw_deferred(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: u64,
        _owner: u64,
        _lock: FileLock,
        _flags: u32,
        waiter: LockWaiter,
    ) {
        self.waits.lock().unwrap().push(waiter);
    }
}

struct ChanSink(mpsc::Sender<Vec<u8>>);

impl ReplySink for ChanSink {
    fn send(self: Box<Self>, reply: &[u8]) -> io::Result<()> {
        self.0.send(reply.to_vec()).unwrap();
        Ok(())
    }
}

/// Serves `req` with a writer that can answer late through `tx`; the result and the bytes
/// written through the writer itself.
fn serve_late(s: &Server<HoldFs>, req: &[u8], tx: &mpsc::Sender<Vec<u8>>) -> (usize, Vec<u8>) {
    let mut input = req.to_vec();
    let mut output = vec![0u8; 4096];
    let n = {
        let r = Reader::from_fuse_buffer(FuseBuf::new(&mut input)).unwrap();
        let slice: VolatileSlice<'_, ()> = FuseBuf::new(&mut output).into_volatile_slice();
        let mut w = Writer::from_volatile_slices([slice]);
        w.set_late_reply(Box::new(ChanSink(tx.clone())));
        s.handle_message(r, w, None, None).unwrap()
    };
    output.truncate(n);
    (n, output)
}

fn setlkw(unique: u64) -> Vec<u8> {
    req(Opcode::Setlkw, 10)
        .unique(unique)
        .arg(LkIn::default())
        .build()
}

#[test]
fn setlkw_is_answered_late_and_interrupt_ends_it() {
    let s = Server::new(HoldFs::default());
    run(&s, &init_request(45, 0)).0.unwrap();
    let (tx, rx) = mpsc::channel();

    // Two waits: the serving thread returns at once, with nothing written.
    assert_eq!(serve_late(&s, &setlkw(101), &tx), (0, vec![]));
    assert_eq!(serve_late(&s, &setlkw(102), &tx), (0, vec![]));
    assert_eq!(s.fs().waits.lock().unwrap().len(), 2);
    assert!(
        rx.try_recv().is_err(),
        "answered before the lock was granted"
    );

    // The kernel interrupts 101: no reply to the interrupt itself; the wait sees it.
    let intr = req(Opcode::Interrupt, 0)
        .arg(InterruptIn { unique: 101 })
        .build();
    assert_eq!(serve_late(&s, &intr, &tx), (0, vec![]));
    let mut waits = std::mem::take(&mut *s.fs().waits.lock().unwrap());
    let second = waits.pop().unwrap();
    let first = waits.pop().unwrap();
    assert!(first.is_interrupted() && !second.is_interrupted());
    first.complete(Err(io::Error::from_raw_os_error(libc::EINTR)));
    assert_eq!(rx.try_recv().unwrap(), err_bytes(101, libc::EINTR));
    second.complete(Ok(()));
    assert_eq!(rx.try_recv().unwrap(), ok_bytes(102, &[]));
    assert_eq!(s.waits.len(), 0);

    // An interrupt read before its request was registered is not lost.
    assert_eq!(
        serve_late(
            &s,
            &req(Opcode::Interrupt, 0)
                .arg(InterruptIn { unique: 103 })
                .build(),
            &tx
        ),
        (0, vec![])
    );
    serve_late(&s, &setlkw(103), &tx);
    let w = s.fs().waits.lock().unwrap().pop().unwrap();
    assert!(w.is_interrupted());
    // A waiter the filesystem loses still gets the client an answer.
    drop(w);
    assert_eq!(rx.try_recv().unwrap(), err_bytes(103, libc::ENOLCK));
}

#[test]
fn without_a_late_sink_setlkw_is_served_in_place() {
    let s = Server::new(HoldFs::default());
    run(&s, &init_request(45, 0)).0.unwrap();
    let (res, reply) = run(&s, &setlkw(UNIQUE));
    assert_errno(res, &reply, UNIQUE, libc::EDEADLK);
    assert!(s.fs().waits.lock().unwrap().is_empty());
}
