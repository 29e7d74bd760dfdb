//! Reading `/proc/thread-self/mountinfo`: is a FUSE filesystem mounted at a path?

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Whether a FUSE filesystem is mounted at `mountpoint` in the calling thread's mount namespace.
pub(super) fn is_fuse_mounted(mountpoint: &Path) -> io::Result<bool> {
    let table = fs::read("/proc/thread-self/mountinfo")?;
    let mounted = fuse_mounts(&table).any(|p| p == mountpoint);
    Ok(mounted)
}

/// The mount points of the FUSE mounts in a `/proc/<pid>/mountinfo` table.
fn fuse_mounts(table: &[u8]) -> impl Iterator<Item = PathBuf> + '_ {
    table.split(|b| *b == b'\n').filter_map(|line| {
        let line = std::str::from_utf8(line).ok()?;
        let (left, right) = line.split_once(" - ")?;
        let fstype = right.split(' ').next()?;
        if fstype != "fuse" && fstype != "fuseblk" && !fstype.starts_with("fuse.") {
            return None;
        }
        let target = left.split(' ').nth(4)?;
        Some(PathBuf::from(unescape_mountinfo(target)))
    })
}

/// Undoes the octal escapes (`\040` for a space) of a mountinfo path.
fn unescape_mountinfo(s: &str) -> OsString {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    OsStr::from_bytes(&out).to_os_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_parsing() {
        let table = b"22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
            40 22 0:50 / /tmp/a\\040b rw,nosuid,nodev - fuse.demo src rw,user_id=0\n\
            41 22 0:51 / /mnt/x rw shared:1 - fuse fuse rw\n\
            42 22 0:52 / /mnt/blk rw - fuseblk dev rw\n\
            43 22 0:53 / /mnt/notfuse rw - fusectl fusectl rw\n";
        let got: Vec<PathBuf> = fuse_mounts(table).collect();
        assert_eq!(
            got,
            [
                PathBuf::from("/tmp/a b"),
                PathBuf::from("/mnt/x"),
                PathBuf::from("/mnt/blk")
            ]
        );
        assert_eq!(unescape_mountinfo("a\\011b\\134"), OsString::from("a\tb\\"));
        assert_eq!(unescape_mountinfo("trail\\04"), OsString::from("trail\\04"));
    }
}
