//! Arbitrary bytes as one FUSE request, served after a plain INIT (no request
//! extensions, compat SETXATTR layout).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::fuzz_one(common::plain_server(), common::PLAIN_FLAGS, data);
});
