//! Descriptor chains built with virtio-queue's mock driver: splitting, hostile chains, and
//! whole requests through the server with the reply checked in guest memory.

use std::fs::File;
use std::io::{Read, Write};
use std::mem::size_of;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use virtio_queue::desc::split::Descriptor;
use virtio_queue::desc::RawDescriptor;
use virtio_queue::mock::MockSplitQueue;
use virtio_queue::DescriptorChain;
use vm_memory::bitmap::AtomicBitmap;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use super::*;
use crate::abi::fuse_abi::{AttrOut, GetattrIn, Opcode, OutHeader, ReadIn, WriteIn, WriteOut};
use crate::api::filesystem::{Context, FileSystem, ZeroCopyReader, ZeroCopyWriter};
use crate::api::server::testing::{init_request, RequestBuilder};
use crate::api::server::Server;
use crate::transport::Error;
use vm_memory::ByteValued;

// Descriptor flags (virtio 1.2, 2.7.5).
const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;
const F_INDIRECT: u16 = 4;

/// Guest memory size of the tests: two adjacent regions of 512 KiB.
const MEM_SIZE: u64 = 0x10_0000;
const QUEUE_SIZE: u16 = 16;

fn memory() -> GuestMemoryMmap<()> {
    GuestMemoryMmap::from_ranges(&[
        (GuestAddress(0), (MEM_SIZE / 2) as usize),
        (GuestAddress(MEM_SIZE / 2), (MEM_SIZE / 2) as usize),
    ])
    .unwrap()
}

/// (address, length, writable) in chain order.
type Desc = (u64, u32, bool);

fn raw(addr: u64, len: u32, flags: u16, next: u16) -> RawDescriptor {
    RawDescriptor::from(Descriptor::new(addr, len, flags, next))
}

/// A well-linked chain of `descs` (NEXT flags and indices set by the mock).
fn chain<'q, M: vm_memory::GuestMemory>(
    q: &'q MockSplitQueue<'_, M>,
    descs: &[Desc],
) -> DescriptorChain<&'q M> {
    let raws: Vec<_> = descs
        .iter()
        .map(|&(a, l, w)| raw(a, l, if w { F_WRITE } else { 0 }, 0))
        .collect();
    q.build_desc_chain(&raws).unwrap()
}

fn chain_err<M: vm_memory::GuestMemory>(mem: &M, c: DescriptorChain<&M>) -> Error {
    match reader_writer_from_descriptor_chain(mem, c) {
        Ok(_) => panic!("chain accepted"),
        Err(e) => e,
    }
}

#[test]
fn splits_readable_and_writable_halves() {
    let mem = memory();
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    mem.write_slice(b"0123456789abcdef", GuestAddress(0x1_0000))
        .unwrap();
    mem.write_slice(b"ghijklmn", GuestAddress(0x2_0000))
        .unwrap();
    let descs = [
        (0x1_0000, 16, false),
        (0x2_0000, 8, false),
        (0x3_0000, 10, true),
        (0x4_0000, 64, true),
    ];

    let mut r = Reader::from_descriptor_chain(&mem, chain(&q, &descs)).unwrap();
    assert_eq!(r.available_bytes(), 24);
    let mut all = Vec::new();
    r.read_to_end(&mut all).unwrap();
    assert_eq!(all, b"0123456789abcdefghijklmn");

    let mut w = VirtioFsWriter::new(&mem, chain(&q, &descs)).unwrap();
    assert_eq!(w.available_bytes(), 74);
    w.write_all(b"reply spans two descriptors").unwrap();
    let w: Writer<'_, ()> = w.into();
    assert_eq!(w.bytes_written(), 27);
    let mut got = [0u8; 27];
    mem.read_slice(&mut got[..10], GuestAddress(0x3_0000))
        .unwrap();
    mem.read_slice(&mut got[10..], GuestAddress(0x4_0000))
        .unwrap();
    assert_eq!(&got, b"reply spans two descriptors");

    // One walk for both halves gives the same thing.
    let (r, w) = reader_writer_from_descriptor_chain(&mem, chain(&q, &descs)).unwrap();
    assert_eq!((r.available_bytes(), w.available_bytes()), (24, 74));
}

/// The methods upstream 0.14 has on `VirtioFsWriter` itself: split into two
/// `VirtioFsWriter`s, write objects and file data at an offset or at the file's position.
#[test]
fn virtiofs_writer_methods_as_upstream() {
    let mem = memory();
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let descs = [(0x1_0000, 16, false), (0x3_0000, 64, true)];
    let mut w = VirtioFsWriter::new(&mem, chain(&q, &descs)).unwrap();
    let mut tail: VirtioFsWriter<'_, ()> = w.split_at(8).unwrap();
    assert_eq!((w.available_bytes(), tail.available_bytes()), (8, 56));
    w.write_obj(0x0102_0304_0506_0708u64).unwrap();

    let dir = vmm_sys_util::tempdir::TempDir::new_with_prefix("/tmp/vfsw-").unwrap();
    let path = dir.as_path().join("f");
    std::fs::write(&path, b"0123456789").unwrap();
    let mut f = File::open(&path).unwrap();
    assert_eq!(tail.write_from_at(&mut f, 4, 6).unwrap(), 4);
    tail.write_all_from(&mut f, 3).unwrap(); // from the file's position: 0
                                             // The rest of the file (7 bytes) is moved before the file ends.
    assert!(
        tail.write_all_from(&mut f, 20).is_err(),
        "the file ends first"
    );
    Write::write_all(&mut tail, b"!").unwrap();
    assert_eq!(tail.bytes_written(), 15);
    let tail: Writer<'_, ()> = tail.into();
    assert_eq!(w.commit(Some(&tail)).unwrap(), 8 + 15);
    let mut got = [0u8; 23];
    mem.read_slice(&mut got, GuestAddress(0x3_0000)).unwrap();
    assert_eq!(&got[..8], &0x0102_0304_0506_0708u64.to_le_bytes());
    assert_eq!(&got[8..], b"67890123456789!");
}

#[test]
fn descriptor_across_two_memory_regions() {
    let mem = memory();
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let boundary = MEM_SIZE / 2;
    let descs = [(0x1_0000, 8, false), (boundary - 8, 16, true)];
    let (_, mut w) = reader_writer_from_descriptor_chain(&mem, chain(&q, &descs)).unwrap();
    assert_eq!(w.available_bytes(), 16);
    w.write_all(b"AAAAAAAABBBBBBBB").unwrap();
    let mut got = [0u8; 16];
    mem.read_slice(&mut got, GuestAddress(boundary - 8))
        .unwrap();
    assert_eq!(&got, b"AAAAAAAABBBBBBBB");
}

#[test]
fn zero_length_descriptors_are_harmless() {
    let mem = memory();
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    // A zero-length descriptor anywhere, even at an absurd address, carries no bytes.
    let descs = [
        (0x1_0000, 8, false),
        (u64::MAX, 0, false),
        (0x2_0000, 8, true),
    ];
    let (r, w) = reader_writer_from_descriptor_chain(&mem, chain(&q, &descs)).unwrap();
    assert_eq!((r.available_bytes(), w.available_bytes()), (8, 8));
}

#[test]
fn writable_before_readable_is_refused() {
    let mem = memory();
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let descs = [(0x1_0000, 16, true), (0x2_0000, 16, false)];
    assert!(matches!(
        chain_err(&mem, chain(&q, &descs)),
        Error::InvalidChain
    ));
    // Each constructor checks the whole chain, not only its half.
    assert!(Reader::from_descriptor_chain(&mem, chain(&q, &descs)).is_err());
    assert!(VirtioFsWriter::new(&mem, chain(&q, &descs)).is_err());
}

#[test]
fn lengths_overflowing_u32_are_refused() {
    let mem = memory();
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    for descs in [
        // Readable total beyond u32::MAX.
        vec![(0x1_0000, u32::MAX, false), (0x2_0000, 2, false)],
        // Writable total beyond u32::MAX.
        vec![
            (0x1_0000, 8, false),
            (0x2_0000, 0x8000_0000, true),
            (0x3_0000, 0x8000_0000, true),
        ],
        // Whole chain beyond 2^32 (virtio 1.2, 2.7.5.2).
        vec![
            (0x1_0000, 0x9000_0000, false),
            (0x2_0000, 0x9000_0000, true),
        ],
    ] {
        // Refused for its structure, before any guest memory is looked at.
        let e = chain_err(&mem, chain(&q, &descs));
        assert!(matches!(e, Error::InvalidChain), "{e}");
    }
}

#[test]
fn addresses_outside_guest_memory_are_refused() {
    let mem = memory();
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    for (bad, in_memory_check) in [
        ((0xfff0_0000, 16, true), true),   // far beyond the end
        ((MEM_SIZE - 8, 16, true), true),  // straddles the end
        ((MEM_SIZE, 1, false), true),      // starts at the end
        ((u64::MAX - 4, 16, true), false), // wraps around
        ((u64::MAX, 1, false), false),     // ends past the address space
    ] {
        let descs: Vec<Desc> = if bad.2 {
            vec![(0x1_0000, 16, false), bad]
        } else {
            vec![bad, (0x2_0000, 16, true)]
        };
        let e = chain_err(&mem, chain(&q, &descs));
        if in_memory_check {
            assert!(matches!(e, Error::GuestMemory(_)), "{e}");
        } else {
            assert!(matches!(e, Error::InvalidChain), "{e}");
        }
    }
}

#[test]
fn overlapping_descriptors_are_refused() {
    let mem = memory();
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    // The reply would overwrite the request.
    let descs = [(0x1_0000, 64, false), (0x1_0020, 16, true)];
    assert!(matches!(
        chain_err(&mem, chain(&q, &descs)),
        Error::InvalidChain
    ));
    // Two reply descriptors on the same bytes.
    let descs = [
        (0x1_0000, 8, false),
        (0x2_0000, 16, true),
        (0x2_0008, 16, true),
    ];
    assert!(matches!(
        chain_err(&mem, chain(&q, &descs)),
        Error::InvalidChain
    ));
    // Adjacent is fine, and readable descriptors may repeat the same bytes.
    let descs = [
        (0x1_0000, 16, false),
        (0x1_0000, 16, false),
        (0x1_0010, 16, true),
    ];
    assert!(reader_writer_from_descriptor_chain(&mem, chain(&q, &descs)).is_ok());
}

/// The guest rewrites the descriptor table between `Reader::from_descriptor_chain` and
/// `VirtioFsWriter::new`, so that the second walk's writable descriptor is the first
/// walk's readable one. Each walk alone is a valid chain; the writer must still refuse.
#[test]
fn table_rewritten_between_the_two_walks_cannot_alias() {
    let mem = memory();
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let request = 0x1_0000;
    mem.write_slice(b"the request", GuestAddress(request))
        .unwrap();
    let c = chain(&q, &[(request, 11, false), (0x3_0000, 64, true)]);
    let mut r = Reader::from_descriptor_chain(&mem, c.clone()).unwrap();
    // Same head, new table: the request bytes are now the reply space.
    chain(&q, &[(0x2_0000, 8, false), (request, 11, true)]);
    match VirtioFsWriter::new(&mem, c.clone()) {
        Err(e) => assert!(matches!(e, Error::InvalidChain), "{e}"),
        Ok(mut w) => {
            // Before the fix: the reply overwrote the request the reader still reads.
            w.write_all(b"the reply!!").unwrap();
            let mut got = Vec::new();
            r.read_to_end(&mut got).unwrap();
            panic!("writer over the request: reader now reads {got:?}");
        }
    }
    let mut got = Vec::new();
    r.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"the request");

    // The other order: a writer first, then a reader walk that would read the reply.
    let c = chain(&q, &[(0x2_0000, 8, false), (0x4_0000, 32, true)]);
    let _w = VirtioFsWriter::new(&mem, c.clone()).unwrap();
    chain(&q, &[(0x4_0000, 32, false), (0x5_0000, 8, true)]);
    assert!(matches!(
        Reader::from_descriptor_chain(&mem, c.clone()),
        Err(Error::InvalidChain)
    ));

    // A table the guest left alone pairs as before, and the record is used up: the same
    // head's next chain (reusing the request buffer as reply space) is fine.
    let c = chain(&q, &[(request, 11, false), (0x3_0000, 64, true)]);
    Reader::from_descriptor_chain(&mem, c.clone()).unwrap();
    VirtioFsWriter::new(&mem, c).unwrap();
    let c = chain(&q, &[(0x2_0000, 8, false), (request, 11, true)]);
    Reader::from_descriptor_chain(&mem, c.clone()).unwrap();
    VirtioFsWriter::new(&mem, c).unwrap();
}

#[test]
fn looping_and_overlong_chains_are_refused() {
    let mem = memory();
    // A loop: 0 -> 1 -> 0 -> ... The iterator stops after QUEUE_SIZE descriptors.
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let c = q
        .build_multiple_desc_chains(&[
            raw(0x1_0000, 8, F_NEXT, 1),
            raw(0x2_0000, 8, F_NEXT | F_WRITE, 0),
        ])
        .unwrap();
    assert!(matches!(chain_err(&mem, c), Error::InvalidChain));

    // A chain of QUEUE_SIZE + 1 distinct descriptors cannot exist in the table, but one
    // whose last `next` points past the table is cut short the same way.
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let c = q
        .build_multiple_desc_chains(&[
            raw(0x1_0000, 8, F_NEXT, 1),
            raw(0x2_0000, 8, F_NEXT | F_WRITE, QUEUE_SIZE + 3),
        ])
        .unwrap();
    assert!(matches!(chain_err(&mem, c), Error::InvalidChain));

    // A chain exactly as long as the queue is fine.
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let descs: Vec<Desc> = (0..QUEUE_SIZE)
        .map(|i| (0x1_0000 + u64::from(i) * 0x100, 16, i >= QUEUE_SIZE / 2))
        .collect();
    let (r, w) = reader_writer_from_descriptor_chain(&mem, chain(&q, &descs)).unwrap();
    assert_eq!((r.available_bytes(), w.available_bytes()), (128, 128));
}

/// Writes an indirect table at `table` and a head descriptor pointing to it.
fn indirect_chain<'q>(
    q: &'q MockSplitQueue<'_, GuestMemoryMmap<()>>,
    mem: &GuestMemoryMmap<()>,
    table: u64,
    entries: &[RawDescriptor],
) -> DescriptorChain<&'q GuestMemoryMmap<()>> {
    for (i, d) in entries.iter().enumerate() {
        mem.write_obj(*d, GuestAddress(table + 16 * i as u64))
            .unwrap();
    }
    q.build_multiple_desc_chains(&[raw(table, 16 * entries.len() as u32, F_INDIRECT, 0)])
        .unwrap()
}

#[test]
fn indirect_tables() {
    let mem = memory();
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let c = indirect_chain(
        &q,
        &mem,
        0x8_0000,
        &[
            raw(0x1_0000, 24, F_NEXT, 1),
            raw(0x2_0000, 40, F_NEXT | F_WRITE, 2),
            raw(0x3_0000, 8, F_WRITE, 0),
        ],
    );
    let (r, w) = reader_writer_from_descriptor_chain(&mem, c).unwrap();
    assert_eq!((r.available_bytes(), w.available_bytes()), (24, 48));

    // Nested indirect tables are refused (the walk yields nothing: an empty chain).
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let c = indirect_chain(&q, &mem, 0x8_0000, &[raw(0x9_0000, 16, F_INDIRECT, 0)]);
    assert!(matches!(chain_err(&mem, c), Error::InvalidChain));

    // A `next` beyond the indirect table.
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let c = indirect_chain(&q, &mem, 0x8_0000, &[raw(0x1_0000, 8, F_NEXT, 7)]);
    assert!(matches!(chain_err(&mem, c), Error::InvalidChain));

    // A table outside guest memory.
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let c = q
        .build_multiple_desc_chains(&[raw(0xffff_0000, 32, F_INDIRECT, 0)])
        .unwrap();
    assert!(chain_err(&mem, c)
        .to_string()
        .contains("invalid descriptor chain"));
}

mod serve;
