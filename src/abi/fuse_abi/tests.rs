//! Layout checks that a size assert alone cannot express.

use super::*;
use core::mem::{offset_of, size_of};
use vm_memory::ByteValued;

#[test]
fn layouts_that_changed_across_minors() {
    assert_eq!(offset_of!(InitInExt, flags2), 16);
    assert_eq!(offset_of!(InitInExt, flags2), FUSE_COMPAT_INIT_IN_SIZE);
    assert_eq!(size_of::<InitIn>(), FUSE_COMPAT_INIT_IN_SIZE);
    assert_eq!(
        size_of::<InitIn>() + size_of::<InitIn2>(),
        size_of::<InitInExt>()
    );
    assert_eq!(offset_of!(InHeader, padding), 36);
    assert_eq!(offset_of!(OpenOut, passthrough), 12);
    assert_eq!(offset_of!(EntryOut, attr), 40);
    assert_eq!(offset_of!(Attr, flags), 84);
    assert_eq!(offset_of!(InitOut, max_pages), 28);
    assert_eq!(offset_of!(InitOut, flags2), 32);
    assert_eq!(offset_of!(InitOut, unused), 36);
    assert_eq!(offset_of!(SetxattrInExt, setxattr_flags), 8);
    assert_eq!(offset_of!(NotifyInvalEntryOut, padding), 12);
    assert_eq!(offset_of!(StatxOut, stat), 32);
    assert_eq!(offset_of!(UringReqHeader, ring_ent_in_out), 256);
}

#[test]
fn compat_sizes_are_prefixes() {
    assert_eq!(FUSE_COMPAT_ENTRY_OUT_SIZE, size_of::<EntryOut>() - 8);
    assert_eq!(FUSE_COMPAT_ATTR_OUT_SIZE, size_of::<AttrOut>() - 8);
    assert_eq!(FUSE_COMPAT_MKNOD_IN_SIZE, offset_of!(MknodIn, umask));
    assert_eq!(FUSE_COMPAT_WRITE_IN_SIZE, offset_of!(WriteIn, lock_owner));
    assert_eq!(FUSE_COMPAT_STATFS_SIZE, offset_of!(Kstatfs, frsize));
    assert_eq!(
        FUSE_COMPAT_INIT_OUT_SIZE,
        offset_of!(InitOut, max_readahead)
    );
    assert_eq!(FUSE_COMPAT_22_INIT_OUT_SIZE, offset_of!(InitOut, time_gran));
    assert_eq!(
        FUSE_COMPAT_SETXATTR_IN_SIZE,
        offset_of!(SetxattrInExt, setxattr_flags)
    );
    assert_eq!(FUSE_COMPAT_SETXATTR_IN_SIZE, size_of::<SetxattrIn>());
    assert_eq!(FUSE_NAME_OFFSET, size_of::<Dirent>());
    assert_eq!(FUSE_NAME_OFFSET_DIRENTPLUS, size_of::<Direntplus>());
    assert_eq!(size_of::<NotifyRetrieveIn>(), size_of::<WriteIn>());
}

#[test]
fn dev_ioctl_numbers() {
    assert_eq!(FUSE_DEV_IOC_CLONE, 0x8004_e500);
    assert_eq!(FUSE_DEV_IOC_BACKING_OPEN, 0x4010_e501);
    assert_eq!(FUSE_DEV_IOC_BACKING_CLOSE, 0x4004_e502);
    assert_eq!(FUSE_DEV_IOC_SYNC_INIT, 0x0000_e503);
}

#[test]
fn opcode_round_trip() {
    for &op in Opcode::ALL {
        assert_eq!(Opcode::try_from_u32(op as u32), Ok(op));
        assert!(op.since_minor() <= KERNEL_MINOR_VERSION);
    }
    assert_eq!(Opcode::ALL.len(), 52);
    assert_eq!(Opcode::try_from_u32(7), Err(7));
    assert_eq!(Opcode::try_from_u32(54), Err(54));
    assert_eq!(
        Opcode::try_from_u32(FUSE_INIT_BSWAP_RESERVED),
        Err(FUSE_INIT_BSWAP_RESERVED)
    );
    assert_eq!(Opcode::CopyFileRange64.since_minor(), 45);
    for code in 1..=9 {
        assert_eq!(NotifyOpcode::try_from(code).map(|n| n as i32), Ok(code));
    }
    assert_eq!(NotifyOpcode::try_from(10), Err(10));
}

#[test]
fn init_flags_split() {
    let init = InitInExt {
        flags: (FsOptions::INIT_EXT | FsOptions::ASYNC_READ).bits() as u32,
        flags2: ((FsOptions::OVER_IO_URING | FsOptions::PASSTHROUGH).bits() >> 32) as u32,
        ..InitInExt::default()
    };
    let (base, ext) = init.into_parts();
    assert_eq!(InitInExt::from_parts(base, ext), init);
    assert_eq!(init.as_slice()[..16], *base.as_slice());
    assert_eq!(init.as_slice()[16..], *ext.as_slice());
    let opts = FsOptions::from_bits_retain(init.flags64());
    assert!(opts.contains(FsOptions::INIT_EXT | FsOptions::OVER_IO_URING));
    assert!(opts.contains(FsOptions::PASSTHROUGH | FsOptions::ASYNC_READ));
    assert_eq!(FsOptions::PERFILE_DAX, FsOptions::HAS_INODE_DAX);
    assert_eq!(FsOptions::REQUEST_TIMEOUT.bits(), 1 << 42);
}

#[test]
fn dirent_align() {
    assert_eq!(Dirent::align(0), 0);
    assert_eq!(Dirent::align(25), 32);
    assert_eq!(Dirent::align(32), 32);
    assert_eq!(Dirent::align(FUSE_NAME_OFFSET + 1), 32);
}
