//! Whole requests through the server over descriptor chains, with the reply checked in
//! guest memory.

use super::*;

/// A file system with one regular file (node 1 is the root, 2 the file) backed by a
/// temporary host file, for whole requests through the server.
struct TinyFs {
    file: File,
}

impl TinyFs {
    fn new(content: &[u8]) -> TinyFs {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .open(std::env::temp_dir())
            .unwrap();
        file.write_all(content).unwrap();
        TinyFs { file }
    }
}

impl FileSystem for TinyFs {
    type Inode = u64;
    type Handle = u64;

    fn getattr(
        &self,
        _ctx: &Context,
        inode: u64,
        _handle: Option<u64>,
    ) -> std::io::Result<(libc::stat64, Duration)> {
        // SAFETY: stat64 is plain data; all-zero is a valid value.
        let mut st: libc::stat64 = unsafe { std::mem::zeroed() };
        st.st_ino = inode;
        st.st_mode = libc::S_IFREG | 0o640;
        st.st_nlink = 1;
        st.st_size = self.file.metadata()?.len() as i64;
        Ok((st, Duration::from_secs(1)))
    }

    fn read(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: u64,
        w: &mut dyn ZeroCopyWriter,
        size: u32,
        offset: u64,
        _lock_owner: Option<u64>,
        _flags: u32,
    ) -> std::io::Result<usize> {
        let mut f = self.file.try_clone()?;
        w.write_up_to_from(&mut f, size as usize, offset)
    }

    fn write(
        &self,
        _ctx: &Context,
        _inode: u64,
        _handle: u64,
        r: &mut dyn ZeroCopyReader,
        size: u32,
        offset: u64,
        _lock_owner: Option<u64>,
        _delayed_write: bool,
        _flags: u32,
        _fuse_flags: u32,
    ) -> std::io::Result<usize> {
        let mut f = self.file.try_clone()?;
        r.read_exact_to(&mut f, size as usize, offset)?;
        Ok(size as usize)
    }
}

/// Places `req` at `at` (split over descriptors of `req_split` bytes) with reply space
/// `reply` (address, length) pairs, serves it, and returns handle_message's result.
fn serve_chain<F: FileSystem + Sync>(
    server: &Server<F>,
    mem: &GuestMemoryMmap<()>,
    req: &[u8],
    req_split: usize,
    reply: &[(u64, u32)],
) -> crate::Result<usize> {
    let q = MockSplitQueue::new(mem, QUEUE_SIZE);
    let mut descs = Vec::new();
    for (i, part) in req.chunks(req_split).enumerate() {
        let addr = 0x1_0000 + 0x1000 * i as u64;
        mem.write_slice(part, GuestAddress(addr)).unwrap();
        descs.push((addr, part.len() as u32, false));
    }
    descs.extend(reply.iter().map(|&(a, l)| (a, l, true)));
    let (r, w) = reader_writer_from_descriptor_chain(mem, chain(&q, &descs)).unwrap();
    server.handle_message(r, w, None, None)
}

fn out_header(mem: &GuestMemoryMmap<()>, at: u64) -> OutHeader {
    mem.read_obj(GuestAddress(at)).unwrap()
}

fn initialized(fs: TinyFs, mem: &GuestMemoryMmap<()>) -> Server<TinyFs> {
    let server = Server::new(fs);
    let n = serve_chain(&server, mem, &init_request(31, 0), 64, &[(0x6_0000, 4096)]).unwrap();
    let oh = out_header(mem, 0x6_0000);
    assert_eq!((oh.error, oh.len as usize), (0, n));
    server
}

#[test]
fn getattr_through_a_chain() {
    let mem = memory();
    let server = initialized(TinyFs::new(b"hello"), &mem);
    let req = RequestBuilder::new(Opcode::Getattr, 2)
        .unique(77)
        .arg(GetattrIn::default())
        .build();
    // Request in 16-byte pieces, reply split over three descriptors.
    let reply = [(0x6_0000, 20), (0x6_1000, 30), (0x6_2000, 200)];
    let n = serve_chain(&server, &mem, &req, 16, &reply).unwrap();
    assert_eq!(n, size_of::<OutHeader>() + size_of::<AttrOut>());
    let mut bytes = vec![0u8; n];
    let mut at = 0;
    for &(addr, len) in &reply {
        let take = (len as usize).min(n - at);
        mem.read_slice(&mut bytes[at..at + take], GuestAddress(addr))
            .unwrap();
        at += take;
    }
    let oh = OutHeader::from_slice(&bytes[..16]).copied().unwrap();
    assert_eq!((oh.len as usize, oh.error, oh.unique), (n, 0, 77));
    let attr = AttrOut::from_slice(&bytes[16..]).copied().unwrap();
    assert_eq!((attr.attr.ino, attr.attr.size), (2, 5));
    assert_eq!(attr.attr.mode, libc::S_IFREG | 0o640);
}

#[test]
fn read_and_write_move_file_data_to_and_from_guest_memory() {
    let mem = memory();
    let content: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let server = initialized(TinyFs::new(&content), &mem);

    // READ 6000 bytes at 1000 into three reply descriptors.
    let req = RequestBuilder::new(Opcode::Read, 2)
        .unique(5)
        .arg(ReadIn {
            fh: 1,
            offset: 1000,
            size: 6000,
            ..Default::default()
        })
        .build();
    let reply = [(0x6_0000, 16), (0x7_0000, 4096), (0x7_3000, 4096)];
    let n = serve_chain(&server, &mem, &req, 4096, &reply).unwrap();
    assert_eq!(n, 16 + 6000);
    let oh = out_header(&mem, 0x6_0000);
    assert_eq!((oh.len, oh.error, oh.unique), (6016, 0, 5));
    let mut got = vec![0u8; 6000];
    mem.read_slice(&mut got[..4096], GuestAddress(0x7_0000))
        .unwrap();
    mem.read_slice(&mut got[4096..], GuestAddress(0x7_3000))
        .unwrap();
    assert_eq!(got, content[1000..7000]);

    // WRITE 5000 bytes at 20000, the payload split over 1000-byte descriptors.
    let payload: Vec<u8> = (0..5000u32).map(|i| (i % 13) as u8 + b'a').collect();
    let req = RequestBuilder::new(Opcode::Write, 2)
        .unique(6)
        .arg(WriteIn {
            fh: 1,
            offset: 20_000,
            size: payload.len() as u32,
            ..Default::default()
        })
        .bytes(&payload)
        .build();
    let n = serve_chain(&server, &mem, &req, 1000, &[(0x6_0000, 64)]).unwrap();
    assert_eq!(n, 16 + size_of::<WriteOut>());
    let oh = out_header(&mem, 0x6_0000);
    assert_eq!((oh.error, oh.unique), (0, 6));
    let wo: WriteOut = mem.read_obj(GuestAddress(0x6_0010)).unwrap();
    assert_eq!(wo.size, 5000);
    let mut back = vec![0u8; 5000];
    std::os::unix::fs::FileExt::read_exact_at(&server.fs().file, &mut back, 20_000).unwrap();
    assert_eq!(back, payload);
}

#[test]
fn read_larger_than_the_reply_space_gets_einval() {
    let mem = memory();
    let server = initialized(TinyFs::new(&[7u8; 65536]), &mem);
    // Canary right after the reply area.
    mem.write_slice(&[0xAA; 64], GuestAddress(0x6_0000 + 4096))
        .unwrap();
    let req = RequestBuilder::new(Opcode::Read, 2)
        .unique(9)
        .arg(ReadIn {
            fh: 1,
            offset: 0,
            size: 32768,
            ..Default::default()
        })
        .build();
    let res = serve_chain(&server, &mem, &req, 4096, &[(0x6_0000, 4096)]);
    assert!(res.is_err());
    let oh = out_header(&mem, 0x6_0000);
    assert_eq!((oh.len, oh.error, oh.unique), (16, -libc::EINVAL, 9));
    let mut canary = [0u8; 64];
    mem.read_slice(&mut canary, GuestAddress(0x6_0000 + 4096))
        .unwrap();
    assert_eq!(canary, [0xAA; 64]);
}

#[test]
fn request_without_reply_space_is_an_error_not_a_panic() {
    let mem = memory();
    let server = Server::new(TinyFs::new(b""));
    // INIT in a single readable descriptor: the reply cannot be written anywhere.
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let req = init_request(31, 0);
    mem.write_slice(&req, GuestAddress(0x1_0000)).unwrap();
    let c = chain(&q, &[(0x1_0000, req.len() as u32, false)]);
    let (r, w) = reader_writer_from_descriptor_chain(&mem, c).unwrap();
    assert_eq!(w.available_bytes(), 0);
    assert!(server.handle_message(r, w, None, None).is_err());

    // A reply area smaller than the reply header.
    let res = serve_chain(&server, &mem, &req, 4096, &[(0x6_0000, 8)]);
    assert!(res.is_err());

    // A chain whose readable part is shorter than a request header.
    let res = serve_chain(&server, &mem, &req[..20], 4096, &[(0x6_0000, 4096)]);
    assert!(res.is_err());
}

#[test]
fn header_length_beyond_the_chain_is_refused() {
    let mem = memory();
    let server = initialized(TinyFs::new(b"x"), &mem);
    // The header claims 4 KiB; the chain carries 56 bytes.
    let req = RequestBuilder::new(Opcode::Getattr, 2)
        .unique(3)
        .arg(GetattrIn::default())
        .len(4096)
        .build();
    let res = serve_chain(&server, &mem, &req, 4096, &[(0x6_0000, 4096)]);
    assert!(res.is_err());
    let oh = out_header(&mem, 0x6_0000);
    assert_eq!((oh.error, oh.unique), (-libc::EINVAL, 3));
}

#[test]
fn replies_mark_the_dirty_bitmap() {
    let mem: GuestMemoryMmap<AtomicBitmap> =
        GuestMemoryMmap::from_ranges(&[(GuestAddress(0), MEM_SIZE as usize)]).unwrap();
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let descs = [(0x1_0000, 16, false), (0x4_2000, 4096, true)];
    let (_, mut w) = reader_writer_from_descriptor_chain(&mem, chain(&q, &descs)).unwrap();
    w.write_all(&[1u8; 100]).unwrap();
    let region = mem.iter().next().unwrap();
    use vm_memory::bitmap::Bitmap;
    use vm_memory::{GuestMemory, GuestMemoryRegion};
    assert!(region.bitmap().dirty_at(0x4_2000));
    assert!(!region.bitmap().dirty_at(0x4_4000));
}

#[test]
fn a_malformed_chain_is_returned_empty_and_the_queue_moves_on() {
    use virtio_queue::{Queue, QueueT};
    use vm_memory::Address;

    let mem = memory();
    let server = initialized(TinyFs::new(b"abc"), &mem);
    let req = RequestBuilder::new(Opcode::Getattr, 2)
        .unique(11)
        .arg(GetattrIn::default())
        .build();
    mem.write_slice(&req, GuestAddress(0x1_0000)).unwrap();
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    q.add_desc_chains(
        &[
            // Chain at 0: writable before readable.
            raw(0x5_0000, 64, F_NEXT | F_WRITE, 1),
            raw(0x1_0000, req.len() as u32, 0, 0),
            // Chain at 2: a good GETATTR.
            raw(0x1_0000, req.len() as u32, F_NEXT, 3),
            raw(0x7_0000, 4096, F_WRITE, 0),
        ],
        0,
    )
    .unwrap();
    let mut queue: Queue = q.create_queue().unwrap();

    // What a daemon does with every chain it pops.
    while let Some(c) = queue.pop_descriptor_chain(&mem) {
        let head = c.head_index();
        let used = match reader_writer_from_descriptor_chain(&mem, c) {
            Ok((r, w)) => server.handle_message(r, w, None, None).unwrap_or(0),
            Err(_) => 0,
        };
        queue.add_used(&mem, head, used as u32).unwrap();
    }

    let used = q.used_addr().raw_value();
    let idx: u16 = mem.read_obj(GuestAddress(used + 2)).unwrap();
    assert_eq!(idx, 2);
    let elem = |i: u64| -> (u32, u32) {
        let at = used + 4 + 8 * i;
        (
            mem.read_obj(GuestAddress(at)).unwrap(),
            mem.read_obj(GuestAddress(at + 4)).unwrap(),
        )
    };
    assert_eq!(elem(0), (0, 0));
    let reply_len = (size_of::<OutHeader>() + size_of::<AttrOut>()) as u32;
    assert_eq!(elem(1), (2, reply_len));
    assert_eq!(out_header(&mem, 0x7_0000).unique, 11);
    // The malformed chain's "reply" area was not touched.
    assert_eq!(out_header(&mem, 0x5_0000).unique, 0);
}

#[test]
fn random_descriptor_tables_never_panic() {
    // xorshift64*: deterministic, no dependency.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mem = memory();
    let server = initialized(TinyFs::new(&[3u8; 8192]), &mem);
    // A plausible request somewhere the random descriptors may point to.
    let req = RequestBuilder::new(Opcode::Read, 2)
        .arg(ReadIn {
            size: 4096,
            ..Default::default()
        })
        .build();
    mem.write_slice(&req, GuestAddress(0x1_0000)).unwrap();
    let (mut accepted, mut served) = (0, 0);
    for _ in 0..3000 {
        let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
        let descs: Vec<RawDescriptor> = (0..QUEUE_SIZE)
            .map(|_| {
                let r = next();
                let addr = match r % 6 {
                    0 => 0x1_0000,
                    1 => 0x1_0000 + (next() % 0x6_0000),
                    2 => MEM_SIZE - (next() % 64),
                    3 => next(),
                    4 => 0x8_0000 + 16 * (next() % 8),
                    _ => 0x7_0000,
                };
                let len = match (r >> 8) % 5 {
                    0 => 0,
                    1 => (next() % 128) as u32,
                    2 => req.len() as u32,
                    3 => (next() % 0x2_0000) as u32,
                    _ => next() as u32,
                };
                let flags = ((r >> 16) % 8) as u16; // NEXT | WRITE | INDIRECT
                let nxt = ((r >> 24) % u64::from(QUEUE_SIZE + 4)) as u16;
                raw(addr, len, flags, nxt)
            })
            .collect();
        let mut descs = descs;
        if next() % 2 == 0 {
            // Half the time, start with the real request so that some chains get served.
            descs[0] = raw(0x1_0000, req.len() as u32, F_NEXT, (next() % 16) as u16);
        }
        let c = q.build_multiple_desc_chains(&descs).unwrap();
        if let Ok((r, w)) = reader_writer_from_descriptor_chain(&mem, c) {
            accepted += 1;
            assert!(r.available_bytes() <= u32::MAX as usize);
            assert!(w.available_bytes() <= u32::MAX as usize);
            if server.handle_message(r, w, None, None).is_ok() {
                served += 1;
            }
        }
    }
    // The generator must exercise both outcomes, or the test proves little.
    assert!(accepted > 100, "only {accepted} chains accepted");
    assert!(served > 0, "no request served");
}

#[test]
fn rejected_request_reply_length_reaches_the_metrics_hook() {
    use crate::abi::fuse_abi::InHeader;
    use crate::api::server::MetricsHook;
    use std::cell::Cell;

    // What a daemon uses to fill the used ring when handle_message returns an error
    // after answering the guest.
    struct ReplyLen(Cell<Option<u32>>);
    impl MetricsHook for ReplyLen {
        fn collect(&self, _ih: &InHeader) {}
        fn release(&self, oh: Option<&OutHeader>) {
            self.0.set(oh.map(|h| h.len));
        }
    }

    let mem = memory();
    let server = initialized(TinyFs::new(b"x"), &mem);
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let req = RequestBuilder::new(Opcode::Getattr, 2)
        .arg(GetattrIn::default())
        .len(4096)
        .build();
    mem.write_slice(&req, GuestAddress(0x1_0000)).unwrap();
    let c = chain(
        &q,
        &[(0x1_0000, req.len() as u32, false), (0x6_0000, 4096, true)],
    );
    let (r, w) = reader_writer_from_descriptor_chain(&mem, c).unwrap();
    let hook = ReplyLen(Cell::new(None));
    assert!(server.handle_message(r, w, None, Some(&hook)).is_err());
    assert_eq!(hook.0.get(), Some(size_of::<OutHeader>() as u32));

    // No reply space at all: nothing was written, and the hook says so.
    let c = chain(&q, &[(0x1_0000, req.len() as u32, false)]);
    let (r, w) = reader_writer_from_descriptor_chain(&mem, c).unwrap();
    let hook = ReplyLen(Cell::new(Some(99)));
    assert!(server.handle_message(r, w, None, Some(&hook)).is_err());
    assert_eq!(hook.0.get(), None);
}
