//! The virtio-fs writer used as code written for upstream fuse-backend-rs 0.14 uses it:
//! `VirtioFsWriter` is `Clone` there, and a clone writes the same guest buffers from the
//! position the original had when cloned.

#![cfg(feature = "virtiofs")]

use std::io::Write;

use fuse_backend_rs::transport::VirtioFsWriter;
use virtio_queue::desc::split::Descriptor;
use virtio_queue::desc::RawDescriptor;
use virtio_queue::mock::MockSplitQueue;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

const F_WRITE: u16 = 2;
const REPLY_AT: u64 = 0x1_0000;

/// Clones exactly as upstream code would: `Clone::clone` on the writer it got from `new`.
fn upstream_clone<'a, S: vm_memory::bitmap::BitmapSlice>(
    w: &VirtioFsWriter<'a, S>,
) -> VirtioFsWriter<'a, S> {
    w.clone()
}

#[test]
fn virtiofs_writer_clone_writes_from_the_same_position() {
    let mem: GuestMemoryMmap<()> =
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x10_0000)]).unwrap();
    let q = MockSplitQueue::new(&mem, 16);
    let raw = RawDescriptor::from(Descriptor::new(REPLY_AT, 16, F_WRITE, 0));
    let chain = q.build_desc_chain(&[raw]).unwrap();

    let mut w = VirtioFsWriter::new(&mem, chain).unwrap();
    w.write_all(b"abcd").unwrap();
    let mut copy = upstream_clone(&w);
    assert_eq!(copy.available_bytes(), 12);
    assert_eq!(copy.bytes_written(), w.bytes_written());

    copy.write_all(b"wxyz").unwrap();
    // The original keeps its own position: the clone's write does not move it.
    assert_eq!(w.available_bytes(), 12);
    assert_eq!(copy.available_bytes(), 8);

    let mut got = [0u8; 8];
    mem.read_slice(&mut got, GuestAddress(REPLY_AT)).unwrap();
    assert_eq!(&got, b"abcdwxyz");

    // And the original's next write lands where the clone's did.
    w.write_all(b"1234").unwrap();
    mem.read_slice(&mut got, GuestAddress(REPLY_AT)).unwrap();
    assert_eq!(&got, b"abcd1234");
}
