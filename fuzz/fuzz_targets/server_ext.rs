//! Arbitrary bytes as one FUSE request, served after an INIT that negotiated INIT_EXT,
//! SETXATTR_EXT and CREATE_SUPP_GROUP (16-byte fuse_setxattr_in, supplementary group
//! extensions).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    common::fuzz_one(common::ext_server(), common::EXT_FLAGS, data);
});
