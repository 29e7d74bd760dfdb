//! FUSE_NOTIFY_PRUNE on a real mount: with `Config::max_inodes`, the inodes the driver
//! offers (`prune_candidates`) and sends to the kernel (`Server::notify_prune`) are
//! forgotten, so the driver ends holding no more than the bound. Needs root, /dev/fuse
//! and a kernel with FUSE 7.45 (Linux 6.18); under CI=true a kernel that refuses the
//! notification fails the test.

#![cfg(feature = "fusedev")]

mod common;

use std::time::{Duration, Instant};

use common::{cannot_run, MountOptions, TestMount};

const FILES: usize = 1000;
const BOUND: usize = 64;

#[test]
fn prune_brings_the_inode_count_down_to_the_bound() {
    let mut opts = MountOptions::default();
    opts.cfg.max_inodes = Some(BOUND);
    let Some(mut m) = TestMount::new(opts) else {
        return;
    };
    let dir = m.src().join("d");
    std::fs::create_dir(&dir).unwrap();
    for i in 0..FILES {
        std::fs::write(dir.join(format!("f{i}")), b"x").unwrap();
    }
    for i in 0..FILES {
        std::fs::symlink_metadata(m.mnt().join(format!("d/f{i}"))).unwrap();
    }
    // The kernel keeps the dentries: the driver holds every file, "d" and the root.
    assert_eq!(m.fs().inode_count(), FILES + 2);
    assert!(m.fs().prune_candidates(0).is_empty());

    // Send what the driver offers until it is within the bound. The FORGETs come
    // asynchronously; waiting for them is bounded by a deadline, nothing is timed.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sent = 0;
    while m.fs().inode_count() > BOUND + 1 && Instant::now() < deadline {
        let ids = m.fs().prune_candidates(512);
        assert!(ids.len() <= 512);
        assert!(!ids.contains(&1), "the root is never offered");
        if !ids.is_empty() {
            if let Err(e) = m.notify_prune(&ids) {
                cannot_run(format!("the kernel refused FUSE_NOTIFY_PRUNE: {e}"));
                return;
            }
            sent += ids.len();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let left = m.fs().inode_count();
    assert!(
        left <= BOUND + 1,
        "{left} inodes held after offering {sent} for pruning (bound {BOUND} + root)"
    );
    assert!(sent >= FILES + 1 - BOUND);
    assert!(m.fs().prune_candidates(512).is_empty());

    // Pruned files are still there: a new lookup brings each back.
    for i in 0..FILES {
        std::fs::symlink_metadata(m.mnt().join(format!("d/f{i}"))).unwrap();
    }
    assert!(m.fs().inode_count() > BOUND + 1);
    m.finish();
}
