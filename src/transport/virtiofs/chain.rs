//! Walking a descriptor chain the guest handed us, and checking it before any byte of
//! guest memory is touched.
//!
//! The guest writes the descriptor table, so every field is hostile input: addresses,
//! lengths, flags and `next` indices. virtio-queue's iterator already bounds the walk
//! (at most `queue_size` descriptors, or the size of an indirect table, no nested indirect
//! tables, no total above 2^32 bytes), but it reports a violation only by ending the
//! iteration early. This module turns every such early end, and the rules the iterator
//! does not check, into an [`Error`]:
//!
//! - the chain is not empty and was not cut short (the last descriptor yielded has no
//!   `NEXT` flag: a loop, a `next` index beyond the table, an unreadable descriptor or a
//!   nested indirect table all end the walk on a descriptor that still has one);
//! - readable descriptors come before writable ones (virtio 1.2, 2.7.4.2);
//! - the readable and writable totals each fit in a `u32` (checked additions);
//! - every descriptor lies inside guest memory (vm-memory 0.17 has no per-range access
//!   permissions: every region of a `GuestMemory` is readable and writable);
//! - no writable descriptor overlaps another descriptor, so the reply cannot land in the
//!   request while it is being read, nor two parts of the reply in the same bytes.
//!   Readable descriptors may overlap each other: reading the same bytes twice is harmless
//!   (a guest `writev` of one buffer twice produces exactly that).

use std::ops::Deref;

use smallvec::SmallVec;
use virtio_queue::desc::split::Descriptor;
use virtio_queue::DescriptorChain;
use vm_memory::bitmap::{BitmapSlice, WithBitmapSlice};
use vm_memory::{Address, GuestAddress, GuestMemory, GuestMemoryRegion};

use crate::buffer::cursor::SliceList;
use crate::buffer::{Error, Result};

/// Descriptors whose ranges are kept inline for the overlap check before spilling to the
/// heap; a request chain from Linux is usually a handful of descriptors.
const INLINE_RANGES: usize = 16;

/// Which halves of the chain the caller wants as slices. The whole chain is checked
/// either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Want {
    Readable,
    Writable,
    Both,
}

impl Want {
    fn readable(self) -> bool {
        matches!(self, Want::Readable | Want::Both)
    }

    fn writable(self) -> bool {
        matches!(self, Want::Writable | Want::Both)
    }
}

/// The two halves of a checked chain as guest memory slices, in chain order.
pub(super) struct ChainSlices<'a, S> {
    pub readable: SliceList<'a, S>,
    pub writable: SliceList<'a, S>,
    /// Every non-empty descriptor's guest range, both halves, sorted by start.
    pub ranges: Ranges,
}

/// One descriptor's guest-physical range, for the overlap check.
#[derive(Clone, Copy, Debug)]
pub(super) struct Range {
    pub start: u64,
    /// Exclusive; `start < end` (empty descriptors are not recorded).
    pub end: u64,
    pub writable: bool,
}

/// The ranges of one chain.
pub(super) type Ranges = SmallVec<[Range; INLINE_RANGES]>;

/// Checks the whole of `chain` and maps the parts named by `want` into `mem`.
///
/// `mem` is the memory the slices borrow from; it is normally the memory the chain itself
/// was read from (`chain.memory()`), loaded once by the caller so that the slices can
/// outlive the chain.
pub(super) fn walk<'a, M, D, S>(
    mem: &'a M,
    chain: DescriptorChain<D>,
    want: Want,
) -> Result<ChainSlices<'a, S>>
where
    M: GuestMemory + ?Sized,
    <M::R as GuestMemoryRegion>::B: WithBitmapSlice<'a, S = S>,
    S: BitmapSlice,
    D: Deref,
    D::Target: GuestMemory,
{
    // Pass 1: the structure, before any guest memory is mapped.
    let mut descs: SmallVec<[Descriptor; INLINE_RANGES]> = SmallVec::new();
    let mut seen_writable = false;
    let mut readable_total: u32 = 0;
    let mut writable_total: u32 = 0;
    for desc in chain {
        let len = desc.len();
        if desc.is_write_only() {
            seen_writable = true;
            writable_total = writable_total
                .checked_add(len)
                .ok_or_else(|| invalid_chain("writable descriptor lengths overflow"))?;
        } else {
            if seen_writable {
                return Err(invalid_chain("readable descriptor after a writable one"));
            }
            readable_total = readable_total
                .checked_add(len)
                .ok_or_else(|| invalid_chain("readable descriptor lengths overflow"))?;
        }
        descs.push(desc);
    }
    match descs.last() {
        None => return Err(invalid_chain("empty descriptor chain")),
        // The iterator stopped on a descriptor that still points further: the chain is
        // longer than the queue (or loops), `next` is out of the table, a descriptor could
        // not be read, an indirect table is nested, or the total passed 2^32.
        Some(d) if d.has_next() => {
            return Err(invalid_chain(
                "descriptor chain truncated: too long, looping or out of the table",
            ))
        }
        Some(_) => {}
    }

    // Pass 2: where the descriptors point, relative to each other.
    let mut ranges = Ranges::new();
    for d in descs.iter().filter(|d| d.len() > 0) {
        let start = d.addr().raw_value();
        let end = start
            .checked_add(u64::from(d.len()))
            .ok_or_else(|| invalid_chain("descriptor wraps around the address space"))?;
        ranges.push(Range {
            start,
            end,
            writable: d.is_write_only(),
        });
    }
    if overlaps(&mut ranges) {
        return Err(invalid_chain(
            "writable descriptor overlaps another descriptor",
        ));
    }

    // Pass 3: map them. Even the half the caller does not want is checked: an address
    // outside guest memory is an error whichever half it is in.
    let mut out = ChainSlices {
        readable: SliceList::new(),
        writable: SliceList::new(),
        ranges: Ranges::new(),
    };
    for d in descs.iter().filter(|d| d.len() > 0) {
        let (list, keep) = if d.is_write_only() {
            (&mut out.writable, want.writable())
        } else {
            (&mut out.readable, want.readable())
        };
        map_range(mem, d.addr(), d.len() as usize, keep.then_some(list))?;
    }
    out.ranges = ranges;
    Ok(out)
}

/// Resolves `[addr, addr + len)` into host slices, pushing them to `list` when given. A
/// range may span several guest memory regions; every part must be present.
fn map_range<'a, M, S>(
    mem: &'a M,
    addr: GuestAddress,
    len: usize,
    mut list: Option<&mut SliceList<'a, S>>,
) -> Result<()>
where
    M: GuestMemory + ?Sized,
    <M::R as GuestMemoryRegion>::B: WithBitmapSlice<'a, S = S>,
    S: BitmapSlice,
{
    let mut mapped: usize = 0;
    for slice in mem.get_slices(addr, len) {
        let slice = slice.map_err(|e| Error::GuestMemory(e.to_string()))?;
        mapped = mapped
            .checked_add(slice.len())
            .ok_or_else(|| invalid_chain("descriptor length overflows"))?;
        if let Some(list) = list.as_deref_mut() {
            list.push(slice);
        }
    }
    // vm-memory promises the parts add up to `len` when none failed; do not rely on it
    // for bounds.
    if mapped != len {
        return Err(Error::GuestMemory(format!(
            "descriptor at {:#x} (+{len}) is not fully backed by guest memory",
            addr.raw_value()
        )));
    }
    Ok(())
}

/// [`Error::InvalidChain`], with `reason` logged at debug level only: a guest can
/// cause it as often as it likes.
pub(super) fn invalid_chain(reason: &'static str) -> Error {
    log::debug!("invalid descriptor chain: {reason}");
    Error::InvalidChain
}

/// Whether a writable range overlaps any other range. Sorts `ranges` by start.
pub(super) fn overlaps(ranges: &mut [Range]) -> bool {
    ranges.sort_unstable_by_key(|r| r.start);
    // Furthest end among the ranges seen so far, over all of them and over the writable
    // ones: a range overlaps an earlier one exactly when it starts before such an end.
    let mut end_any: u64 = 0;
    let mut end_writable: u64 = 0;
    for r in ranges.iter() {
        let clash = if r.writable {
            r.start < end_any
        } else {
            r.start < end_writable
        };
        if clash {
            return true;
        }
        end_any = end_any.max(r.end);
        if r.writable {
            end_writable = end_writable.max(r.end);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: u64, writable: bool) -> Range {
        Range {
            start,
            end,
            writable,
        }
    }

    #[test]
    fn overlap_rules() {
        // Disjoint, in any order.
        assert!(!overlaps(&mut [r(100, 200, true), r(0, 100, false)]));
        // Readable ranges may overlap each other.
        assert!(!overlaps(&mut [r(0, 100, false), r(50, 150, false)]));
        // A writable range may not overlap a readable one, in either order.
        assert!(overlaps(&mut [r(0, 100, false), r(99, 150, true)]));
        assert!(overlaps(&mut [r(50, 60, false), r(0, 100, true)]));
        // Nor another writable one, even when equal.
        assert!(overlaps(&mut [r(0, 10, true), r(0, 10, true)]));
        // A writable range inside a long readable one, after a short readable one that
        // ends early: the furthest end must be remembered, not the last.
        assert!(overlaps(&mut [
            r(0, 1000, false),
            r(10, 20, false),
            r(500, 510, true)
        ]));
        // Same with a long writable range and a later readable one.
        assert!(overlaps(&mut [
            r(0, 1000, true),
            r(2000, 2001, false),
            r(500, 510, false)
        ]));
    }
}
