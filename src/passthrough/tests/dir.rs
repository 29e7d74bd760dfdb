//! Directory listing and extended attributes.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::api::filesystem::{GetxattrReply, ListxattrReply};

/// Reads up to `budget` entries from `offset`; returns (name, offset) pairs.
fn read_some(fs: &Fs, dir: u64, h: u64, offset: u64, budget: usize) -> Vec<(Vec<u8>, u64)> {
    let mut out = Vec::new();
    fs.readdir(&ctx(), dir, h, 4096, offset, &mut |d| {
        if out.len() == budget {
            return Ok(0);
        }
        out.push((d.name.to_vec(), d.offset));
        Ok(1)
    })
    .unwrap();
    out
}

#[test]
fn readdir_offsets_survive_concurrent_changes() {
    let (dir, fs) = setup();
    let p = dir.as_path();
    for i in 0..100 {
        std::fs::write(p.join(format!("f{i:03}")), b"").unwrap();
    }
    let (h, _) = fs.opendir(&ctx(), root(), 0).unwrap();
    let h = h.unwrap();
    let mut seen: Vec<Vec<u8>> = Vec::new();
    let mut offset = 0;
    let mut removed_unseen = HashSet::new();
    let mut round = 0;
    loop {
        let batch = read_some(&fs, root(), h, offset, 7);
        if batch.is_empty() {
            break;
        }
        offset = batch.last().unwrap().1;
        seen.extend(batch.into_iter().map(|(n, _)| n));
        // Change the directory between calls: add names, remove seen and unseen ones.
        round += 1;
        std::fs::write(p.join(format!("new{round}")), b"").unwrap();
        let victim = format!("f{:03}", 99 - round);
        if !seen.contains(&victim.as_bytes().to_vec()) && round % 2 == 0 {
            std::fs::remove_file(p.join(&victim)).unwrap();
            removed_unseen.insert(victim.into_bytes());
        }
        if let Some(first) = seen.iter().find(|n| n.starts_with(b"f")) {
            let _ = std::fs::remove_file(p.join(std::str::from_utf8(first).unwrap()));
        }
    }
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    for n in &seen {
        *counts.entry(n.clone()).or_default() += 1;
    }
    for (n, c) in &counts {
        assert_eq!(*c, 1, "{} repeated", String::from_utf8_lossy(n));
    }
    // Every original entry that stayed in the directory was listed.
    for i in 0..100 {
        let n = format!("f{i:03}").into_bytes();
        if !removed_unseen.contains(&n) {
            assert!(counts.contains_key(&n), "f{i:03} skipped");
        }
    }
    assert!(counts.contains_key(b".".as_slice()) && counts.contains_key(b"..".as_slice()));
    // Reading again from the start lists what is there now.
    let again = read_some(&fs, root(), h, 0, usize::MAX);
    let now = std::fs::read_dir(p).unwrap().count();
    assert_eq!(again.len(), now + 2);
    fs.fsyncdir(&ctx(), root(), false, h).unwrap();
    fs.releasedir(&ctx(), root(), 0, h).unwrap();
    assert_eq!(errno(fs.releasedir(&ctx(), root(), 0, h)), libc::EBADF);
}

#[test]
fn readdirplus_counts_only_accepted_entries() {
    let (dir, fs) = setup();
    for n in ["a", "b", "c"] {
        std::fs::write(dir.as_path().join(n), b"").unwrap();
    }
    let (h, _) = fs.opendir(&ctx(), root(), 0).unwrap();
    let h = h.unwrap();
    let mut accepted = Vec::new();
    fs.readdirplus(&ctx(), root(), h, 4096, 0, &mut |d, e| {
        if d.name == b"." || d.name == b".." {
            assert_eq!(e.inode, 0);
            return Ok(1);
        }
        if accepted.len() == 2 {
            return Ok(0); // full: this entry's lookup must be given back
        }
        assert_eq!(e.attr.st_ino, d.ino);
        accepted.push((d.name.to_vec(), e.inode, d.offset));
        Ok(1)
    })
    .unwrap();
    assert_eq!(accepted.len(), 2);
    for (_, ino, _) in &accepted {
        assert_eq!(refcount(&fs, *ino), 1);
    }
    // root + 2 accepted entries; the rejected third was forgotten again.
    assert_eq!(fs.inodes.len(), 3);
    let last = accepted.last().unwrap().2;
    let mut rest = Vec::new();
    fs.readdirplus(&ctx(), root(), h, 4096, last, &mut |d, e| {
        rest.push((d.name.to_vec(), e.inode));
        Ok(1)
    })
    .unwrap();
    // Only the entry that did not fit is left (besides "." or ".." in hash order).
    rest.retain(|(n, _)| n != b"." && n != b"..");
    assert_eq!(rest.len(), 1);
    assert_eq!(fs.inodes.len(), 4);
    fs.releasedir(&ctx(), root(), 0, h).unwrap();
}

#[test]
fn no_readdir_lists_nothing() {
    let (dir, fs) = setup_with(|c| c.no_readdir = true);
    std::fs::write(dir.as_path().join("a"), b"").unwrap();
    let (h, _) = fs.opendir(&ctx(), root(), 0).unwrap();
    assert!(read_some(&fs, root(), h.unwrap(), 0, 100).is_empty());
}

#[test]
fn opendir_on_file_is_enotdir() {
    let (_dir, fs) = setup();
    let (e, _) = create_file(&fs, root(), "f", 0o644);
    assert_eq!(errno(fs.opendir(&ctx(), e.inode, 0)), libc::ENOTDIR);
}

#[test]
fn xattrs_roundtrip_and_disabled_is_enosys() {
    let (dir, fs) = setup_with(|c| c.xattr = true);
    let (e, _) = create_file(&fs, root(), "f", 0o644);
    let name = cs("user.test");
    if let Err(err) = fs.setxattr(&ctx(), e.inode, &name, b"value", 0) {
        crate::cannot_run(format!("user xattrs unsupported here: {err}"));
        return;
    }
    assert_eq!(
        fs.getxattr(&ctx(), e.inode, &name, 0).unwrap(),
        GetxattrReply::Count(5)
    );
    assert_eq!(
        fs.getxattr(&ctx(), e.inode, &name, 64).unwrap(),
        GetxattrReply::Value(b"value".to_vec())
    );
    assert_eq!(errno(fs.getxattr(&ctx(), e.inode, &name, 2)), libc::ERANGE);
    assert_eq!(
        errno(fs.setxattr(&ctx(), e.inode, &name, b"v", libc::XATTR_CREATE as u32)),
        libc::EEXIST
    );
    match fs.listxattr(&ctx(), e.inode, 0).unwrap() {
        ListxattrReply::Count(n) => assert!(n as usize >= b"user.test\0".len()),
        other => panic!("{other:?}"),
    }
    match fs.listxattr(&ctx(), e.inode, 4096).unwrap() {
        ListxattrReply::Names(v) => {
            assert!(v.split(|b| *b == 0).any(|n| n == b"user.test"))
        }
        other => panic!("{other:?}"),
    }
    fs.removexattr(&ctx(), e.inode, &name).unwrap();
    assert_eq!(
        errno(fs.getxattr(&ctx(), e.inode, &name, 64)),
        libc::ENODATA
    );
    // Directories too, and a FIFO is never opened (this would block if it were).
    fs.setxattr(&ctx(), root(), &name, b"d", 0).unwrap();
    let fifo = fs
        .mknod(&ctx(), root(), &cs("p"), libc::S_IFIFO | 0o644, 0, 0)
        .unwrap();
    assert!(fs.listxattr(&ctx(), fifo.inode, 4096).is_ok());
    // user.* is for files and directories only; trusted.* works on any inode (as root).
    assert_eq!(
        errno(fs.setxattr(&ctx(), fifo.inode, &name, b"p", 0)),
        libc::EPERM
    );
    let trusted = cs("trusted.test");
    if fs.setxattr(&ctx(), fifo.inode, &trusted, b"p", 0).is_ok() {
        assert_eq!(
            fs.getxattr(&ctx(), fifo.inode, &trusted, 8).unwrap(),
            GetxattrReply::Value(b"p".to_vec())
        );
    }
    // POSIX ACLs pass through as system.posix_acl_* attributes (if the fs has ACLs).
    let acl_name = cs("system.posix_acl_access");
    let acl = posix_acl_bytes(0o6, 0o4, 0o4);
    if fs.setxattr(&ctx(), e.inode, &acl_name, &acl, 0).is_ok() {
        let md = std::fs::metadata(dir.as_path().join("f")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(md.mode() & 0o777, 0o644);
    }

    let (_d2, off) = setup();
    let (e2, _) = create_file(&off, root(), "f", 0o644);
    assert_eq!(
        errno(off.getxattr(&ctx(), e2.inode, &name, 0)),
        libc::ENOSYS
    );
    assert_eq!(errno(off.listxattr(&ctx(), e2.inode, 0)), libc::ENOSYS);
    assert_eq!(
        errno(off.setxattr(&ctx(), e2.inode, &name, b"v", 0)),
        libc::ENOSYS
    );
    assert_eq!(
        errno(off.removexattr(&ctx(), e2.inode, &name)),
        libc::ENOSYS
    );
}

/// A minimal access ACL (user::, group::, other::) in the kernel's xattr format.
fn posix_acl_bytes(user: u16, group: u16, other: u16) -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec(); // POSIX_ACL_XATTR_VERSION
    for (tag, perm) in [(0x01u16, user), (0x04, group), (0x20, other)] {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&u32::MAX.to_le_bytes());
    }
    v
}
