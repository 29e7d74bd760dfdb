//! Set-group-ID and access ACLs, through the `FileSystem` methods (the mount-level cases
//! are in tests/passthrough_setid.rs).

use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::abi::fuse_abi::{FsOptions, SetxattrFlags};

/// An access ACL that is not equivalent to a mode: owner rw-, user 1001 r--, group r-x,
/// mask r-x, other r-x (so the mode's permission bits become 0655).
fn acl() -> Vec<u8> {
    let mut v = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in [
        (0x01u16, 6u16, u32::MAX),
        (0x02, 4, 1001),
        (0x04, 5, u32::MAX),
        (0x10, 5, u32::MAX),
        (0x20, 5, u32::MAX),
    ] {
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(&perm.to_le_bytes());
        v.extend_from_slice(&id.to_le_bytes());
    }
    v
}

/// [`mode_after_acl`] chowns and acts as other users: root only.
fn root_or_cannot_run() -> bool {
    if crate::sys::geteuid() != 0 {
        crate::cannot_run("chown and ACLs as other users need root");
        return false;
    }
    true
}

/// Sets the ACL on a fresh 2775 file owned by 1000:0 (needs root), as `caller` (uid,
/// gid), with
/// `negotiated` options and `xflags`; returns the mode after it.
fn mode_after_acl(negotiated: Option<FsOptions>, caller: (u32, u32), xflags: SetxattrFlags) -> u32 {
    let (dir, fs) = setup_with(|c| c.xattr = true);
    if let Some(opts) = negotiated {
        fs.init(opts).unwrap();
    }
    let p = dir.as_path().join("f");
    std::fs::write(&p, b"x").unwrap();
    std::os::unix::fs::chown(&p, Some(1000), Some(0)).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o2775)).unwrap();
    let e = lookup(&fs, root(), "f").unwrap();
    let ctx = Context {
        uid: caller.0,
        gid: caller.1,
        ..Context::default()
    };
    let name = cs("system.posix_acl_access");
    fs.setxattr_ext(&ctx, e.inode, &name, &acl(), 0, xflags)
        .unwrap();
    std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn acl_by_owner_outside_the_group_drops_sgid_without_setxattr_ext() {
    if !root_or_cannot_run() {
        return;
    }
    let none = SetxattrFlags::empty();
    // The kernel said nothing (no SETXATTR_EXT): the driver decides from the caller.
    assert_eq!(mode_after_acl(None, (1000, 1000), none), 0o655);
    assert_eq!(mode_after_acl(None, (1000, 0), none), 0o2655);
    assert_eq!(mode_after_acl(None, (0, 0), none), 0o2655);
}

#[test]
fn acl_follows_the_kernels_flag_with_setxattr_ext() {
    if !root_or_cannot_run() {
        return;
    }
    let ext = Some(FsOptions::SETXATTR_EXT | FsOptions::POSIX_ACL);
    let kill = SetxattrFlags::ACL_KILL_SGID;
    assert_eq!(mode_after_acl(ext, (1000, 1000), kill), 0o655);
    // The kernel knows the caller's groups and capabilities: no flag, no clearing.
    assert_eq!(
        mode_after_acl(ext, (1000, 1000), SetxattrFlags::empty()),
        0o2655
    );
}

#[test]
fn setxattr_ext_is_asked_for_with_xattr() {
    let (_d, fs) = setup_with(|c| c.xattr = true);
    let got = fs.init(FsOptions::all()).unwrap();
    assert!(got.contains(FsOptions::SETXATTR_EXT | FsOptions::POSIX_ACL));
    let (_d, fs) = setup();
    assert!(!fs
        .init(FsOptions::all())
        .unwrap()
        .contains(FsOptions::SETXATTR_EXT));
}
