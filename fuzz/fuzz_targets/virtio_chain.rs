//! A virtio-fs descriptor chain built from fuzz bytes (see `chain.rs` for the layout),
//! turned into a reader and a writer by the crate's one-walk constructor and served by
//! `Server::handle_message` over the in-memory filesystem of `common.rs`.
//!
//! Checked on every input, beyond "never panics" (`chain::fuzz_one`):
//! - a refused chain leaves guest memory as it was;
//! - the reply of an accepted chain fits its writable half;
//! - serving it changes guest memory only inside descriptors the guest marked writable
//!   (the request is never written to, nor anything outside the chain).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "chain.rs"]
mod chain;
#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    chain::fuzz_one(data);
});
