//! Cross-checking the two walks of upstream's two-call API.
//!
//! [`Reader::from_descriptor_chain`](crate::transport::Reader::from_descriptor_chain) and
//! [`VirtioFsWriter::new`](super::VirtioFsWriter::new) each read the descriptor table
//! from guest memory again. Each walk checks its own view of the chain, but the guest can
//! rewrite the table in between: the first walk sees `[R: A][W: C]`, the second
//! `[R: B][W: A]`, both valid, and the writer's slices cover `A`, the bytes the reader
//! still reads. The reply would then land on the request.
//!
//! So each two-call walk leaves a record of its own half's guest ranges on the calling
//! thread, keyed by the chain (the memory its table is read from and its head index).
//! The walk of the other half of the same chain consumes the record and fails with
//! [`Error::InvalidChain`](crate::transport::Error::InvalidChain) when one of its ranges
//! overlaps one of the recorded ones. This covers the pattern the API is used with: both calls on one thread, one after the
//! other, in either order. Calls on different threads, or more than [`MAX_UNPAIRED`]
//! chains walked in between, go unchecked; the one-walk
//! [`reader_writer_from_descriptor_chain`](super::reader_writer_from_descriptor_chain)
//! has no such gap, which is why the documentation uses it.
//!
//! What a guest gains where the check cannot apply is bounded anyway: both halves are its
//! own memory, which its vCPUs may rewrite at any moment, and the server copies every
//! header and argument before checking it. An aliased reply garbles the guest's own
//! request and reply, nothing of the host.

use std::cell::RefCell;

use super::chain::{invalid_chain, overlaps, Range, Ranges};
use crate::buffer::Result;

/// Unpaired walks remembered per thread; the oldest is dropped beyond this.
const MAX_UNPAIRED: usize = 8;

/// Which half of a chain a walk returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Half {
    Readable,
    Writable,
}

/// Identifies a chain between its two walks: the address of the guest memory object its
/// descriptors are read from, and its head index. A head index is reused only after the
/// chain went back to the used ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ChainKey {
    pub mem: usize,
    pub head: u16,
}

struct Walk {
    key: ChainKey,
    half: Half,
    /// The ranges of `half` as this walk saw them.
    ranges: Ranges,
}

thread_local! {
    static UNPAIRED: RefCell<Vec<Walk>> = const { RefCell::new(Vec::new()) };
}

/// Records the walk of `half` of the chain `key` (`ranges`: all the ranges that walk saw),
/// or, when the other half of the same chain was walked before on this thread, checks
/// that no range of `half` overlaps a range that walk returned.
///
/// # Errors
/// [`Error::InvalidChain`](crate::transport::Error::InvalidChain) when they overlap: the guest changed the table between the
/// walks so that the reply would land on the request.
pub(super) fn pair(key: ChainKey, half: Half, ranges: &[Range]) -> Result<()> {
    let mine = ranges
        .iter()
        .filter(|r| r.writable == (half == Half::Writable));
    UNPAIRED.with(|u| {
        let mut u = u.borrow_mut();
        if let Some(i) = u.iter().position(|w| w.key == key && w.half != half) {
            let other = u.remove(i);
            let mut all: Ranges = other.ranges;
            all.extend(mine.copied());
            // One side is all readable, the other all writable, and each side was checked
            // on its own: any overlap left is between the two walks.
            if overlaps(&mut all) {
                return Err(invalid_chain(
                    "descriptor table changed between the two walks: reply over request",
                ));
            }
            return Ok(());
        }
        u.retain(|w| w.key != key);
        if u.len() == MAX_UNPAIRED {
            u.remove(0);
        }
        u.push(Walk {
            key,
            half,
            ranges: mine.copied().collect(),
        });
        Ok(())
    })
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

    const K: ChainKey = ChainKey { mem: 1, head: 3 };

    #[test]
    fn pairs_consume_records_and_refuse_overlaps() {
        // Reader first, writer over its bytes.
        pair(K, Half::Readable, &[r(0, 10, false), r(20, 30, true)]).unwrap();
        assert!(pair(K, Half::Writable, &[r(40, 50, false), r(5, 6, true)]).is_err());
        // The record was used up: the same head pairs afresh.
        pair(K, Half::Writable, &[r(40, 50, false), r(5, 6, true)]).unwrap();
        assert!(pair(K, Half::Readable, &[r(0, 10, false), r(20, 30, true)]).is_err());
        // Only the returned halves count: the writer walk's own readable range may be
        // anything (it was checked against that walk's writable half already).
        pair(K, Half::Readable, &[r(0, 10, false)]).unwrap();
        pair(K, Half::Writable, &[r(0, 10, false), r(10, 20, true)]).unwrap();
        // Another chain's record does not interfere.
        pair(K, Half::Readable, &[r(0, 10, false)]).unwrap();
        let other = ChainKey { mem: 1, head: 4 };
        pair(other, Half::Writable, &[r(0, 10, true)]).unwrap();
        assert!(pair(K, Half::Writable, &[r(0, 10, true)]).is_err());
    }

    #[test]
    fn records_are_bounded() {
        for head in 0..(MAX_UNPAIRED as u16 * 4) {
            pair(ChainKey { mem: 2, head }, Half::Readable, &[r(0, 1, false)]).unwrap();
        }
        UNPAIRED.with(|u| assert_eq!(u.borrow().len(), MAX_UNPAIRED));
    }
}
