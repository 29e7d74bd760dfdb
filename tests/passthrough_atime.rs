//! Access times on a passthrough mount, compared with the host (see docs/passthrough.md,
//! "Access times", for what cannot match).
//!
//! The FUSE client never updates access times itself (its inodes are `S_NOATIME`), so the
//! atime a client sees is the host file's, moved by the daemon's own reads under the
//! backing filesystem's rules (here `relatime`), or left alone when the client opened the
//! file with `O_NOATIME`, which the driver passes on to the host.
//!
//! Needs root and /dev/fuse. Outside CI a test that cannot mount prints "skipping: ..." and
//! returns; with CI=true it fails.

#![cfg(feature = "fusedev")]

mod common;

use std::os::fd::AsRawFd;
use std::path::Path;

use common::*;

/// Sets `p`'s atime to 1000 s and mtime to 2000 s: an atime older than the mtime, which
/// `relatime` updates on the next read.
fn age(p: &Path) {
    let c = cpath(p);
    let ts = [
        libc::timespec {
            tv_sec: 1000,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: 2000,
            tv_nsec: 0,
        },
    ];
    // SAFETY: a valid C string and two timespecs.
    cvt(unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), 0) }).unwrap();
}

/// Opens `p` with `extra` flags, reads it whole, closes it; returns whether its atime moved
/// from the aged value.
fn read_moves_atime(p: &Path, extra: i32) -> bool {
    age(p);
    let fd = open(p, libc::O_RDONLY | extra, 0).unwrap();
    assert_eq!(read_all(fd.as_raw_fd()).unwrap().len(), 5000);
    drop(fd);
    atime(&stat(p).unwrap()).0 != 1000
}

#[test]
fn reads_move_atime_like_the_host_and_o_noatime_is_honoured() {
    let Some(m) = TestMount::new(MountOptions::default()) else {
        return;
    };
    let pr = m.pair();
    for (i, extra) in [libc::O_NOATIME, 0, libc::O_NOATIME]
        .into_iter()
        .enumerate()
    {
        // A fresh file each time, so that no cached page hides the read from the daemon.
        let rel = format!("f{i}");
        for root in [&pr.m, &pr.p] {
            std::fs::write(join(root, &rel), vec![b'a'; 5000]).unwrap();
        }
        let moved = pr
            .same(&format!("read with flags {extra:#o}"), &rel, |p| {
                Ok(read_moves_atime(p, extra))
            })
            .unwrap();
        assert_eq!(
            moved,
            extra == 0,
            "atime moved on a read with flags {extra:#o}"
        );
        m.assert_like_source(&rel);
        assert_eq!(
            atime(&stat(&join(&pr.m, &rel)).unwrap()),
            atime(&stat(&join(m.src(), &rel)).unwrap()),
            "the mount shows the host file's atime"
        );
    }
    m.finish();
}
