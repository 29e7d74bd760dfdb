//! `abi::fuse_abi` and `abi::virtio_fs` used the way fuse-backend-rs 0.14 code uses them:
//! upstream's field names in struct literals, its loose constants, the libc re-exports,
//! the bitflags 1.x constructor and the `stat64` conversions.

#![cfg(feature = "fusedev")]

use std::mem::size_of;

use fuse_backend_rs::abi::fuse_abi::{
    self, stat64, statvfs64, Attr, CopyFileRangeIn, CreateIn, FsOptions, GetattrIn, InHeader,
    InitIn, InitIn2, InitOut, IoctlFlags, NotifyInvalEntryOut, NotifyOpcode, Notify_Retrieve_Out,
    Opcode, OpenIn, OpenOptions, OpenOut, SetattrIn, SetattrValid, SetxattrIn, WriteIn,
};
use vm_memory::ByteValued;

#[test]
fn libc_reexports_are_libc_items() {
    let off: fuse_abi::off64_t = -1;
    let ino: fuse_abi::ino64_t = 7;
    let mode: fuse_abi::mode_t = libc::S_IFREG | 0o644;
    let nlink: fuse_abi::nlink_t = 2;
    let dev: fuse_abi::dev_t = 0x0801;
    let blksize: fuse_abi::blksize_t = 4096;
    let _: libc::off64_t = off;
    let _: libc::ino64_t = ino;
    let _: libc::mode_t = mode;
    let _: libc::nlink_t = nlink;
    let _: libc::dev_t = dev;
    let _: libc::blksize_t = blksize;
    let _: unsafe extern "C" fn(_, _, _, _) -> _ = fuse_abi::pread64;
    let _: unsafe extern "C" fn(_, _, _, _) -> _ = fuse_abi::pwrite64;
    let _: unsafe extern "C" fn(_, _, _, _) -> _ = fuse_abi::preadv64;
    let _: unsafe extern "C" fn(_, _, _, _) -> _ = fuse_abi::pwritev64;
    assert_eq!(size_of::<stat64>(), size_of::<libc::stat64>());
    assert_eq!(size_of::<statvfs64>(), size_of::<libc::statvfs64>());
}

#[test]
fn loose_constants_match_the_flag_sets() {
    use fuse_abi::*;
    assert_eq!(KERNEL_MINOR_VERSION_INIT_OUT_SIZE, 5);
    assert_eq!(KERNEL_MINOR_VERSION_INIT_22_OUT_SIZE, 23);
    assert_eq!(KERNEL_MINOR_VERSION_LOOKUP_NEGATIVE_ENTRY_ZERO, 4);
    assert_eq!(FATTR_FH, SetattrValid::FH.bits());
    assert_eq!(FATTR_LOCKOWNER, SetattrValid::LOCKOWNER.bits());
    assert_eq!(FOPEN_IN_KILL_SUIDGID, OpenInFlags::KILL_SUIDGID.bits());
    assert_eq!(RELEASE_FLUSH, ReleaseFlags::FLUSH.bits());
    assert_eq!(RELEASE_FLOCK_UNLOCK, ReleaseFlags::FLOCK_UNLOCK.bits());
    assert_eq!(GETATTR_FH, GetattrFlags::FH.bits());
    assert_eq!(LK_FLOCK, LkFlags::FLOCK.bits());
    assert_eq!(WRITE_CACHE, WriteFlags::CACHE.bits());
    assert_eq!(WRITE_LOCKOWNER, WriteFlags::LOCKOWNER.bits());
    assert_eq!(WRITE_KILL_PRIV, WriteFlags::KILL_PRIV.bits());
    assert_eq!(READ_LOCKOWNER, ReadFlags::LOCKOWNER.bits());
    assert_eq!(ATTR_SUBMOUNT, AttrFlags::SUBMOUNT.bits());
    assert_eq!(POLL_SCHEDULE_NOTIFY, PollFlags::SCHEDULE_NOTIFY.bits());
    assert_eq!(FSYNC_FDATASYNC, FsyncFlags::FDATASYNC.bits());
    // Ours is the minor we speak (INIT answers min(ours, kernel's)); upstream had 33.
    assert_eq!(KERNEL_MINOR_VERSION, 45);
}

#[test]
fn bitflags_1x_surface() {
    // SAFETY: from_bits_unchecked accepts every bit pattern.
    let v = unsafe { SetattrValid::from_bits_unchecked(0x8000_0001) };
    assert_eq!(v.bits(), 0x8000_0001);
    assert!(v.contains(SetattrValid::MODE));
    const O: OpenOptions = {
        // SAFETY: as above; usable in a const, as in bitflags 1.x.
        unsafe { OpenOptions::from_bits_unchecked(1 << 31) }
    };
    assert_eq!(O.bits(), 1 << 31);
    // SAFETY: as above.
    let f = unsafe { FsOptions::from_bits_unchecked(FsOptions::FD_PASSTHROUGH.bits()) };
    assert_eq!(f, FsOptions::FD_PASSTHROUGH);
    assert_eq!(FsOptions::FD_PASSTHROUGH.bits(), 1 << 63);
    assert!(FsOptions::all().contains(FsOptions::FD_PASSTHROUGH));
    // SAFETY: as above.
    let i = unsafe { IoctlFlags::from_bits_unchecked(3) };
    assert_eq!(i, IoctlFlags::IOCTL_COMPAT | IoctlFlags::IOCTL_UNRESTRICTED);
    assert_eq!(IoctlFlags::IOCTL_RETRY, IoctlFlags::RETRY);
    assert_eq!(IoctlFlags::IOCTL_DIR.bits(), 16);
    assert_eq!(IoctlFlags::IOCTL_COMPAT_X32.bits(), 32);
    assert_eq!(IoctlFlags::IOCTL_32BIT.bits(), 8);
    assert_eq!(IoctlFlags::IOCTL_MAX_IOV.bits(), 256);
    assert_eq!(IoctlFlags::from_bits(256), Some(IoctlFlags::IOCTL_MAX_IOV));

    // Ord and PartialOrd compare the bits as numbers, as bitflags 1.x did.
    assert!(SetattrValid::MODE < SetattrValid::UID);
    assert!(OpenOptions::DIRECT_IO < OpenOptions::KEEP_CACHE);
    assert!(FsOptions::ASYNC_READ < FsOptions::FD_PASSTHROUGH);
    assert_eq!(
        IoctlFlags::DIR.cmp(&IoctlFlags::COMPAT),
        std::cmp::Ordering::Greater
    );
    let mut sorted = vec![SetattrValid::SIZE, SetattrValid::MODE, SetattrValid::GID];
    sorted.sort();
    assert_eq!(
        sorted,
        [SetattrValid::MODE, SetattrValid::GID, SetattrValid::SIZE]
    );
}

#[cfg(feature = "virtiofs")]
#[test]
fn setupmapping_flags_bitflags_1x_surface() {
    use fuse_backend_rs::abi::virtio_fs::SetupmappingFlags;
    // SAFETY: from_bits_unchecked accepts every bit pattern.
    let f = unsafe { SetupmappingFlags::from_bits_unchecked(0b111) };
    assert_eq!(f.bits(), 0b111);
    assert!(f.contains(SetupmappingFlags::READ | SetupmappingFlags::WRITE));
    assert!(SetupmappingFlags::WRITE < SetupmappingFlags::READ);
}

#[test]
fn structs_with_upstream_field_names() {
    let h = InHeader {
        len: 40,
        opcode: Opcode::Lookup as u32,
        unique: 1,
        nodeid: 1,
        uid: 0,
        gid: 0,
        pid: 1,
        padding: 0,
    };
    assert_eq!(h.total_extlen(), 0);
    let mut h2 = h;
    h2.set_total_extlen(3);
    assert_eq!(h2.total_extlen(), 3);
    // fuse.h puts total_extlen first in that word: it is bytes 36..38 of the header.
    assert_eq!(&h2.as_slice()[36..40], &[3, 0, 0, 0]);

    let g = GetattrIn {
        flags: fuse_abi::GETATTR_FH,
        dummy: 0,
        fh: 9,
    };
    assert_eq!(g.getattr_flags(), 1);
    assert_eq!(&g.as_slice()[0..4], &1u32.to_ne_bytes());

    let o = OpenIn {
        flags: libc::O_RDWR as u32,
        fuse_flags: fuse_abi::FOPEN_IN_KILL_SUIDGID,
    };
    assert_eq!(o.open_flags(), 1);
    let c = CreateIn {
        flags: 0,
        mode: 0o644,
        umask: 0o22,
        fuse_flags: fuse_abi::FOPEN_IN_KILL_SUIDGID,
    };
    assert_eq!(c.open_flags(), 1);
    assert_eq!(&c.as_slice()[12..16], &1u32.to_ne_bytes());
    let w = WriteIn {
        fh: 1,
        offset: 0,
        size: 4,
        fuse_flags: fuse_abi::WRITE_KILL_PRIV,
        lock_owner: 0,
        flags: 0,
        padding: 0,
    };
    assert_eq!(w.write_flags(), 4);

    let mut oo = OpenOut {
        fh: 5,
        open_flags: OpenOptions::DIRECT_IO.bits(),
        passthrough: 0,
    };
    oo.set_backing_id(-2);
    assert_eq!(oo.passthrough, u32::MAX - 1);
    assert_eq!(oo.backing_id(), -2);

    let n = NotifyInvalEntryOut {
        parent: 1,
        namelen: 3,
        padding: 1,
    };
    assert_eq!(n.flags(), 1);

    let cfr = CopyFileRangeIn {
        fh_in: 1,
        offset_in: 10,
        nodeid_out: 2,
        fh_out: 3,
        offset_out: 20,
        len: 30,
        flags: 0,
    };
    assert_eq!((cfr.off_in(), cfr.off_out()), (10, 20));
    assert_eq!(&cfr.as_slice()[8..16], &10u64.to_ne_bytes());

    let mut init = InitOut {
        major: 7,
        minor: 33,
        unused: [0; 7],
        ..Default::default()
    };
    init.set_max_stack_depth(2);
    init.set_request_timeout(30);
    assert_eq!((init.max_stack_depth(), init.request_timeout()), (2, 30));
    assert_eq!(&init.as_slice()[36..42], &[2, 0, 0, 0, 30, 0]);
    assert_eq!(size_of::<InitOut>(), 64);

    let in2 = InitIn2 {
        flags2: (FsOptions::HAS_RESEND.bits() >> 32) as u32,
        unused: [0; 11],
    };
    assert_eq!(in2.as_slice().len(), 48);
    assert_eq!(in2.flags2, 1 << 7);

    let r = Notify_Retrieve_Out {
        notify_unique: 1,
        nodeid: 2,
        offset: 3,
        size: 4,
        padding: 0,
    };
    assert_eq!(r.as_slice().len(), 32);
    assert_eq!(size_of::<Notify_Retrieve_Out>(), 32);
}

/// INIT decoded as upstream's server did: the 16-byte `InitIn`, then, with INIT_EXT,
/// the 48-byte `InitIn2`.
#[test]
fn init_in_is_the_16_byte_part() {
    let sent = InitIn {
        major: 7,
        minor: 36,
        max_readahead: 0x20000,
        flags: (FsOptions::INIT_EXT | FsOptions::ASYNC_READ).bits() as u32,
    };
    let ext = InitIn2 {
        flags2: (FsOptions::HAS_RESEND.bits() >> 32) as u32,
        unused: [0; 11],
    };
    assert_eq!(size_of::<InitIn>(), 16);
    assert_eq!(size_of::<InitIn>() + size_of::<InitIn2>(), 64);
    // A 7.36 kernel's 64-byte fuse_init_in.
    let mut body = sent.as_slice().to_vec();
    body.extend_from_slice(ext.as_slice());

    let InitIn {
        major,
        minor,
        max_readahead,
        flags,
    } = *InitIn::from_slice(&body[..size_of::<InitIn>()]).unwrap();
    assert_eq!((major, minor, max_readahead), (7, 36, 0x20000));
    let mut opts = u64::from(flags);
    assert!(FsOptions::from_bits_truncate(opts).contains(FsOptions::INIT_EXT));
    let InitIn2 { flags2, unused: _ } = *InitIn2::from_slice(&body[16..]).unwrap();
    opts |= u64::from(flags2) << 32;
    assert_eq!(
        FsOptions::from_bits_truncate(opts),
        FsOptions::INIT_EXT | FsOptions::ASYNC_READ | FsOptions::HAS_RESEND
    );
}

/// SETXATTR's argument without SETXATTR_EXT, as upstream's server read it.
#[test]
fn setxattr_in_is_the_8_byte_form() {
    let sent = SetxattrIn {
        size: 3,
        flags: libc::XATTR_CREATE as u32,
    };
    assert_eq!(size_of::<SetxattrIn>(), 8);
    let mut body = sent.as_slice().to_vec();
    body.extend_from_slice(b"user.a\0abc");
    let SetxattrIn { size, flags } = *SetxattrIn::from_slice(&body[..8]).unwrap();
    assert_eq!((size, flags), (3, libc::XATTR_CREATE as u32));
    assert_eq!(&body[8..], b"user.a\0abc");
}

fn sample_stat() -> stat64 {
    // SAFETY: stat64 is plain integers; zero is a valid value.
    let mut st: stat64 = unsafe { std::mem::zeroed() };
    st.st_ino = 42;
    st.st_size = 4097;
    st.st_blocks = 16;
    st.st_atime = 1_700_000_000;
    st.st_atime_nsec = 1;
    st.st_mtime = -5;
    st.st_mtime_nsec = 2;
    st.st_ctime = 3;
    st.st_ctime_nsec = 999_999_999;
    st.st_mode = libc::S_IFREG | 0o640;
    st.st_nlink = 3;
    st.st_uid = 1000;
    st.st_gid = 100;
    st.st_rdev = 0x0801;
    st.st_blksize = 4096;
    st
}

#[test]
fn attr_to_and_from_stat64() {
    let st = sample_stat();
    let attr = Attr::with_flags(st, fuse_abi::ATTR_SUBMOUNT);
    assert_eq!(attr.flags, 1);
    assert_eq!(attr.ino, 42);
    assert_eq!(attr.mtime, (-5i64) as u64);
    let back: stat64 = attr.into();
    assert_eq!(back.st_ino, 42);
    assert_eq!(back.st_size, 4097);
    assert_eq!(back.st_blocks, 16);
    assert_eq!(back.st_atime, 1_700_000_000);
    assert_eq!(back.st_atime_nsec, 1);
    assert_eq!(back.st_mtime, -5);
    assert_eq!(back.st_mtime_nsec, 2);
    assert_eq!(back.st_ctime, 3);
    assert_eq!(back.st_ctime_nsec, 999_999_999);
    assert_eq!(back.st_mode, libc::S_IFREG | 0o640);
    assert_eq!(back.st_nlink, 3);
    assert_eq!((back.st_uid, back.st_gid), (1000, 100));
    assert_eq!(back.st_rdev, 0x0801);
    assert_eq!(back.st_blksize, 4096);
    assert_eq!(back.st_dev, 0);
    assert_eq!(Attr::from(back), Attr::with_flags(st, 0));
}

#[test]
fn setattr_in_to_stat64() {
    let arg = SetattrIn {
        valid: (SetattrValid::MODE | SetattrValid::SIZE).bits(),
        size: 123,
        atime: 10,
        atimensec: 11,
        mtime: 20,
        mtimensec: 21,
        ctime: 30,
        ctimensec: 31,
        mode: 0o600,
        uid: 7,
        gid: 8,
        lock_owner: 99,
        ..Default::default()
    };
    let st: stat64 = arg.into();
    assert_eq!(st.st_mode, 0o600);
    assert_eq!((st.st_uid, st.st_gid), (7, 8));
    assert_eq!(st.st_size, 123);
    assert_eq!((st.st_atime, st.st_atime_nsec), (10, 11));
    assert_eq!((st.st_mtime, st.st_mtime_nsec), (20, 21));
    assert_eq!((st.st_ctime, st.st_ctime_nsec), (30, 31));
    assert_eq!((st.st_ino, st.st_nlink, st.st_blocks), (0, 0, 0));
}

#[test]
fn opcode_from_u32_and_reserved_names() {
    assert_eq!(Opcode::from(1), Opcode::Lookup);
    assert_eq!(Opcode::from(49), Opcode::RemoveMapping);
    // Opcodes newer than upstream's still decode to themselves.
    assert_eq!(Opcode::from(50), Opcode::Syncfs);
    assert_eq!(Opcode::from(53), Opcode::CopyFileRange64);
    // Anything that names no operation is MaxOpcode (upstream: every value >= 50).
    for unknown in [0, 7, 19, 54, 1000, 1_048_576, 436_207_616, u32::MAX] {
        assert_eq!(Opcode::from(unknown), Opcode::MaxOpcode, "{unknown}");
    }
    let op: Opcode = 26u32.into();
    assert!(matches!(op, Opcode::Init));
    assert_eq!(Opcode::try_from_u32(7), Err(7));
    assert_eq!(Opcode::CuseInitBswapReserved as u32, 1_048_576);
    assert_eq!(Opcode::InitBswapReserved as u32, 436_207_616);
    assert_eq!(
        Opcode::InitBswapReserved as u32,
        (Opcode::Init as u32).swap_bytes()
    );
    assert_eq!(
        Opcode::CuseInitBswapReserved as u32,
        (Opcode::CuseInit as u32) << 8
    );
    assert_eq!(Opcode::MaxOpcode as u32, 54);
    assert!(!Opcode::ALL.contains(&Opcode::MaxOpcode));
    assert_eq!(NotifyOpcode::CodeMax as i32, 10);
    assert_eq!(NotifyOpcode::try_from(10), Err(10));
}
