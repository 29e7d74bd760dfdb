//! Writes the seed corpus of both fuzz targets: one valid request per opcode (and a few
//! variants reaching deeper paths) into `corpus/server/` and `corpus/server_ext/`.
//!
//! Run with `cargo test --test seeds` from `fuzz/` (`run.sh` does it). Each seed is also
//! served once here, so a seed that trips a check fails this test instead of the fuzzer.

#[path = "fuzz_targets/common.rs"]
mod common;

use std::path::PathBuf;

fn write_corpus(target: &str, ext: bool) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    let (server, flags) = if ext {
        (common::ext_server(), common::EXT_FLAGS)
    } else {
        (common::plain_server(), common::PLAIN_FLAGS)
    };
    for (name, bytes) in common::seed_requests(ext) {
        common::fuzz_one(server, flags, &bytes);
        std::fs::write(dir.join(format!("seed-{name}")), &bytes).unwrap();
    }
}

#[test]
fn seed_corpus() {
    write_corpus("server", false);
    write_corpus("server_ext", true);
}
