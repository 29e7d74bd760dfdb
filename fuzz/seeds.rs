//! Writes the seed corpus of both fuzz targets: one valid request per opcode (and a few
//! variants reaching deeper paths) into `corpus/server/` and `corpus/server_ext/`; for the
//! passthrough target, requests on the real inodes of its scratch tree into
//! `corpus/passthrough/`; for the virtio-fs target, the plain seeds as well-formed
//! descriptor chains (direct and through an indirect table) into `corpus/virtio_chain/`.
//!
//! Run with `cargo test --test seeds` from `fuzz/` (`run.sh` does it). Each seed is also
//! served once here, so a seed that trips a check fails this test instead of the fuzzer.

#[path = "fuzz_targets/chain.rs"]
mod chain;
#[path = "fuzz_targets/common.rs"]
mod common;
#[path = "fuzz_targets/scratch.rs"]
mod scratch;

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

/// The passthrough seeds, served on the target's own world (which checks the canary).
fn write_passthrough_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/passthrough");
    std::fs::create_dir_all(&dir).unwrap();
    let mut world = scratch::world();
    for (name, bytes) in scratch::seed_requests(&world.ids) {
        world.reset();
        world.fuzz_one(&bytes);
        std::fs::write(dir.join(format!("seed-{name}")), &bytes).unwrap();
    }
    // The check is not vacuous: a mode change of one canary file is caught.
    let file = world.canary_dir().join("file");
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| world.check_canary()));
    assert!(caught.is_err(), "canary change not detected");
}

/// The plain seeds, each as a chain: one readable descriptor, two writable ones.
fn write_chain_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/virtio_chain");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in common::seed_requests(false) {
        for (indirect, tag) in [(false, "direct"), (true, "indirect")] {
            let input = chain::seed(indirect, &bytes, 2);
            assert!(chain::fuzz_one(&input), "seed {tag}-{name}: chain refused");
            std::fs::write(dir.join(format!("seed-{tag}-{name}")), &input).unwrap();
        }
    }
}

#[test]
fn seed_corpus() {
    write_chain_corpus();
    write_corpus("server", false);
    write_corpus("server_ext", true);
    write_passthrough_corpus();
}
