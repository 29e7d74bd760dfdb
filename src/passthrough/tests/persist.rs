//! `PassthroughFs::save_to_bytes` / `restore_from_bytes` (feature `persist`).

use super::*;

fn fresh(dir: &TempDir, handles: bool) -> Fs {
    Fs::new(Config {
        root_dir: dir.as_path().to_str().unwrap().to_string(),
        inode_file_handles: handles,
        ..Default::default()
    })
    .unwrap()
}

fn round_trip(handles: bool) {
    let (dir, old) = setup_with(|c| c.inode_file_handles = handles);
    let d = old.mkdir(&ctx(), root(), &cs("d"), 0o755, 0).unwrap();
    let (f, fh) = create_file(&old, d.inode, "f", 0o644);
    write_all(&old, f.inode, fh, b"hello", 0);
    lookup(&old, d.inode, "f").unwrap();
    let (gone, gone_fh) = create_file(&old, root(), "gone", 0o644);
    let (moved, _) = create_file(&old, root(), "moved", 0o644);
    let (dh, _) = old.opendir(&ctx(), d.inode, 0).unwrap();
    let bytes = old.save_to_bytes().unwrap();
    let pristine_refs = refcount(&old, f.inode);
    drop(old);
    // Host changes while no one serves: one file deleted, one renamed.
    std::fs::remove_file(dir.as_path().join("gone")).unwrap();
    std::fs::rename(dir.as_path().join("moved"), dir.as_path().join("moved2")).unwrap();

    let new = fresh(&dir, handles);
    new.restore_from_bytes(&bytes).unwrap();
    assert_eq!(refcount(&new, f.inode), pristine_refs);
    // The open handle reads and writes the same file under the same number.
    assert_eq!(read_all(&new, f.inode, fh, 16, 0), b"hello");
    write_all(&new, f.inode, fh, b"J", 0);
    assert_eq!(std::fs::read(dir.as_path().join("d/f")).unwrap(), b"Jello");
    new.getattr(&ctx(), d.inode, None).unwrap();
    assert_eq!(
        new.releasedir(&ctx(), d.inode, 0, dh.unwrap())
            .map(|_| ())
            .ok(),
        Some(())
    );
    // The deleted file answers ESTALE, never another file; its handle too.
    assert_eq!(errno(new.getattr(&ctx(), gone.inode, None)), libc::ESTALE);
    assert_eq!(
        errno(new.fsync(&ctx(), gone.inode, false, gone_fh)),
        libc::ESTALE
    );
    new.release(&ctx(), gone.inode, 0, gone_fh, false, false, None)
        .unwrap();
    // A renamed file: a handle finds it wherever it is; a path does not.
    let r = new.getattr(&ctx(), moved.inode, None);
    if handles {
        r.unwrap();
    } else {
        assert_eq!(errno(r), libc::ESTALE);
    }
    // Lookups find the restored inodes; new ones get new numbers.
    assert_eq!(lookup(&new, d.inode, "f").unwrap().inode, f.inode);
    let (n, _) = create_file(&new, root(), "new", 0o644);
    for old_ino in [d.inode, f.inode, gone.inode, moved.inode] {
        assert_ne!(n.inode, old_ino);
    }
    // A second restore is refused.
    let e = new.restore_from_bytes(&bytes).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn restore_with_o_path_inodes() {
    round_trip(false);
}

#[test]
fn restore_with_file_handles() {
    round_trip(true);
}

#[test]
fn bad_bytes_change_nothing() {
    let (dir, old) = setup();
    let (f, _) = create_file(&old, root(), "f", 0o644);
    let good = old.save_to_bytes().unwrap();
    let new = fresh(&dir, false);
    for len in 0..good.len() {
        let e = new.restore_from_bytes(&good[..len]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "len {len}");
    }
    for i in 0..good.len() {
        let mut b = good.clone();
        b[i] ^= 0x5a;
        assert!(new.restore_from_bytes(&b).is_err(), "byte {i}");
    }
    assert_eq!(errno(new.getattr(&ctx(), f.inode, None)), libc::EBADF);
    // Another shared directory.
    let (_other_dir, other) = setup();
    let e = other.restore_from_bytes(&good).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    new.restore_from_bytes(&good).unwrap();
    new.getattr(&ctx(), f.inode, None).unwrap();
}
