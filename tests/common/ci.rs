//! The one rule for an integration test that cannot run on this machine (no root, no
//! `/dev/fuse`, a missing tool): under CI (`CI=true`) it fails; elsewhere it says
//! `skipping: <why>` on stderr and the caller returns.
//!
//! Test binaries that use [`common`](super) get these through it; the others include
//! this file alone with `#[path = "common/ci.rs"] mod ci;`.

#![allow(dead_code)]

/// Whether we run under CI (`CI=true`), where a test that cannot run must fail.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A test cannot run here: fails under CI, otherwise says so and lets the caller return.
pub fn cannot_run(why: impl std::fmt::Display) {
    if in_ci() {
        panic!("cannot run under CI=true: {why}");
    }
    eprintln!("skipping: {why}");
}
