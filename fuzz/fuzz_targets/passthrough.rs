//! Arbitrary bytes as a sequence of FUSE requests to a real `PassthroughFs` serving a
//! scratch directory (see `scratch.rs`); after each input, a canary directory beside the
//! share must be unchanged. Run with `-rss_limit_mb=2048 -malloc_limit_mb=256` (run.sh
//! does) so that a request making the server allocate unboundedly is reported.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
#[path = "scratch.rs"]
mod scratch;

fuzz_target!(|data: &[u8]| {
    scratch::world().fuzz_one(data);
});
