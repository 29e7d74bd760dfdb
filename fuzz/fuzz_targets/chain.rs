//! The virtio-fs target's input format and world: a descriptor chain in guest memory,
//! built from fuzz bytes with virtio-queue's mock driver. Shared by the target and the
//! seed generator.
//!
//! Input layout:
//!
//! ```text
//! byte 0           bits 0-3: descriptors - 1 (1..=16); bit 4: behind an indirect table
//! 6 bytes each     addr/16 (u16 LE), len (u16 LE), flags (u8), next (u8)
//!                  flags bits 0-2: the descriptor's NEXT/WRITE/INDIRECT bits, as given;
//!                  bit 6: len = u32::MAX - len; bit 7: addr near the end of guest memory
//! the rest         written to guest memory at PAYLOAD (the request bytes, usually)
//! ```
//!
//! Every field goes into the table as given: `next` may point anywhere, lengths may
//! overflow, writable descriptors may come first, overlap each other, the payload or the
//! descriptor table itself.
#![allow(dead_code)]

use fuse_backend_rs::abi::fuse_abi::{InHeader, Opcode};
use fuse_backend_rs::transport::{reader_writer_from_descriptor_chain, Reader, Writer};
use virtio_queue::desc::split::Descriptor;
use virtio_queue::desc::RawDescriptor;
use virtio_queue::mock::MockSplitQueue;
use virtio_queue::DescriptorChain;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Guest memory: two adjacent regions, so a descriptor can straddle them.
pub const REGION: u64 = 0x2_0000;
pub const MEM_SIZE: u64 = 2 * REGION;
/// Queue size of the mock (its table and rings sit at guest address 0).
pub const QUEUE_SIZE: u16 = 16;
/// Where the payload goes, and how much of it fits before the indirect table.
pub const PAYLOAD: u64 = 0x1000;
pub const INDIRECT_TABLE: u64 = REGION - 0x1000;
pub const MAX_PAYLOAD: usize = (INDIRECT_TABLE - PAYLOAD) as usize;

pub const F_NEXT: u8 = 1;
pub const F_WRITE: u8 = 2;
pub const F_INDIRECT: u8 = 4;
const F_HUGE_LEN: u8 = 0x40;
const F_HIGH_ADDR: u8 = 0x80;
const DESC_LEN: usize = 6;

/// One descriptor of the input format.
#[derive(Clone, Copy, Debug)]
pub struct Desc {
    pub addr16: u16,
    pub len: u16,
    pub flags: u8,
    pub next: u8,
}

impl Desc {
    /// The descriptor as the guest writes it.
    fn raw(&self) -> (u64, u32, u16, u16) {
        let addr = if self.flags & F_HIGH_ADDR != 0 {
            MEM_SIZE - 0x100 + u64::from(self.addr16 & 0x1ff)
        } else {
            u64::from(self.addr16) * 16
        };
        let len = if self.flags & F_HUGE_LEN != 0 {
            u32::MAX - u32::from(self.len)
        } else {
            u32::from(self.len)
        };
        (addr, len, u16::from(self.flags & 7), u16::from(self.next))
    }
}

/// The guest ranges of device-writable descriptors among (addr, len, flags) entries;
/// indirect entries are followed into their tables, read from `mem` (a snapshot of guest
/// memory from address 0), one level deep as the device does.
fn writable_ranges(entries: &[(u64, u32, u16)], mem: &[u8], depth: u8, out: &mut Vec<(u64, u64)>) {
    for &(addr, len, flags) in entries {
        if flags & u16::from(F_INDIRECT) != 0 {
            if depth > 0 {
                continue;
            }
            let mut table = Vec::new();
            for i in 0..u64::from(len / 16).min(1 << 16) {
                let Some(at) = addr.checked_add(16 * i).map(|a| a as usize) else {
                    break;
                };
                let Some(d) = mem.get(at..at.saturating_add(16)) else {
                    break;
                };
                table.push((
                    u64::from_le_bytes(d[0..8].try_into().unwrap()),
                    u32::from_le_bytes(d[8..12].try_into().unwrap()),
                    u16::from_le_bytes(d[12..14].try_into().unwrap()),
                ));
            }
            writable_ranges(&table, mem, depth + 1, out);
        } else if flags & u16::from(F_WRITE) != 0 {
            out.push((addr, addr.saturating_add(u64::from(len))));
        }
    }
}

/// A decoded input.
pub struct Input<'a> {
    pub indirect: bool,
    pub descs: Vec<Desc>,
    pub payload: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Option<Input<'a>> {
        let (&head, rest) = data.split_first()?;
        let n = usize::from(head & 0x0f) + 1;
        let table = rest.get(..n * DESC_LEN)?;
        let descs = table
            .chunks_exact(DESC_LEN)
            .map(|d| Desc {
                addr16: u16::from_le_bytes([d[0], d[1]]),
                len: u16::from_le_bytes([d[2], d[3]]),
                flags: d[4],
                next: d[5],
            })
            .collect();
        let payload = &rest[n * DESC_LEN..];
        Some(Input {
            indirect: head & 0x10 != 0,
            descs,
            payload: &payload[..payload.len().min(MAX_PAYLOAD)],
        })
    }

    /// Every guest range the device may write for this input: the writable
    /// descriptors, also those reached through indirect tables (read from `mem`, guest
    /// memory as it was when the chain was handed over).
    pub fn writable_ranges(&self, mem: &[u8]) -> Vec<(u64, u64)> {
        let entries: Vec<(u64, u32, u16)> = self
            .descs
            .iter()
            .map(|d| {
                let (a, l, f, _) = d.raw();
                (a, l, f)
            })
            .collect();
        let mut out = Vec::new();
        writable_ranges(&entries, mem, u8::from(self.indirect), &mut out);
        out
    }

    /// The input bytes of `descs` (at most 16) and `payload`.
    pub fn encode(indirect: bool, descs: &[Desc], payload: &[u8]) -> Vec<u8> {
        assert!((1..=16).contains(&descs.len()));
        let mut out = vec![(descs.len() - 1) as u8 | if indirect { 0x10 } else { 0 }];
        for d in descs {
            out.extend_from_slice(&d.addr16.to_le_bytes());
            out.extend_from_slice(&d.len.to_le_bytes());
            out.extend_from_slice(&[d.flags, d.next]);
        }
        out.extend_from_slice(payload);
        out
    }
}

fn raw(addr: u64, len: u32, flags: u16, next: u16) -> RawDescriptor {
    RawDescriptor::from(Descriptor::new(addr, len, flags, next))
}

/// Fresh guest memory with the payload written at [`PAYLOAD`].
pub fn memory(input: &Input<'_>) -> GuestMemoryMmap<()> {
    let mem = GuestMemoryMmap::from_ranges(&[
        (GuestAddress(0), REGION as usize),
        (GuestAddress(REGION), REGION as usize),
    ])
    .expect("guest memory");
    mem.write_slice(input.payload, GuestAddress(PAYLOAD))
        .expect("payload fits");
    mem
}

/// Writes the descriptors (into the queue's table, or an indirect table the head points
/// to) and makes the head available; the chain the device pops, if the mock makes one.
pub fn build<'q>(
    q: &'q MockSplitQueue<'_, GuestMemoryMmap<()>>,
    mem: &GuestMemoryMmap<()>,
    input: &Input<'_>,
) -> Option<DescriptorChain<&'q GuestMemoryMmap<()>>> {
    let raws: Vec<RawDescriptor> = input
        .descs
        .iter()
        .map(|d| {
            let (a, l, f, n) = d.raw();
            raw(a, l, f, n)
        })
        .collect();
    if input.indirect {
        for (i, d) in raws.iter().enumerate() {
            mem.write_obj(*d, GuestAddress(INDIRECT_TABLE + 16 * i as u64))
                .ok()?;
        }
        let len = 16 * raws.len() as u32;
        q.build_multiple_desc_chains(&[raw(INDIRECT_TABLE, len, u16::from(F_INDIRECT), 0)])
            .ok()
    } else {
        q.build_multiple_desc_chains(&raws).ok()
    }
}

/// A well-formed chain for `req`: the request in one readable descriptor, then
/// `reply_descs` writable descriptors of 60 KiB each in the second region.
pub fn seed(indirect: bool, req: &[u8], reply_descs: u8) -> Vec<u8> {
    let mut descs = vec![Desc {
        addr16: (PAYLOAD / 16) as u16,
        len: req.len() as u16,
        flags: F_NEXT,
        next: 1,
    }];
    for i in 0..reply_descs {
        let last = i + 1 == reply_descs;
        descs.push(Desc {
            addr16: ((REGION + u64::from(i) * 0xf000) / 16) as u16,
            len: 0xf000,
            flags: F_WRITE | if last { 0 } else { F_NEXT },
            next: i + 2,
        });
    }
    Input::encode(indirect, &descs, req)
}

fn snapshot(mem: &GuestMemoryMmap<()>) -> Vec<u8> {
    let mut all = vec![0u8; MEM_SIZE as usize];
    mem.read_slice(&mut all, GuestAddress(0)).unwrap();
    all
}

/// Serves one input (see the module documentation) and checks:
/// - a refused chain leaves guest memory as it was;
/// - the reply fits the writable half of an accepted chain;
/// - serving changes guest memory only inside descriptors the guest marked writable
///   (never the request, the tables, or anything outside the chain).
///
/// INIT and DESTROY change the session; the server is put back into its INITed state
/// after them so every input starts from the same state. Returns whether the chain was
/// accepted and served.
pub fn fuzz_one(data: &[u8]) -> bool {
    let Some(input) = Input::parse(data) else {
        return false;
    };
    let mem = memory(&input);
    let q = MockSplitQueue::new(&mem, QUEUE_SIZE);
    let Some(desc_chain) = build(&q, &mem, &input) else {
        return false;
    };
    let server = crate::common::plain_server();
    let before = snapshot(&mem);
    let parts: Result<(Reader<'_, ()>, Writer<'_, ()>), _> =
        reader_writer_from_descriptor_chain(&mem, desc_chain);
    let Ok((r, w)) = parts else {
        assert!(
            snapshot(&mem) == before,
            "a refused chain changed guest memory"
        );
        return false;
    };
    let room = w.available_bytes();
    let opcode = r.clone().read_obj::<InHeader>().ok().map(|h| h.opcode);
    if let Ok(n) = server.handle_message(r, w, None, None) {
        assert!(n <= room, "reply of {n} bytes in {room} bytes of room");
    }
    let after = snapshot(&mem);
    let writable = input.writable_ranges(&before);
    // Whole pages compared first: most of guest memory is untouched.
    const PAGE: usize = 4096;
    for (p, (a, b)) in before.chunks(PAGE).zip(after.chunks(PAGE)).enumerate() {
        if a == b {
            continue;
        }
        for (i, _) in a.iter().zip(b).enumerate().filter(|(_, (x, y))| x != y) {
            let at = (p * PAGE + i) as u64;
            assert!(
                writable.iter().any(|&(s, e)| s <= at && at < e),
                "byte {at:#x} written outside every writable descriptor"
            );
        }
    }
    if opcode == Some(Opcode::Init as u32) || opcode == Some(Opcode::Destroy as u32) {
        crate::common::reinit(server, crate::common::PLAIN_FLAGS);
    }
    true
}
