//! The one check of every request argument against the protocol's limits, before any
//! driver sees it.
//!
//! Whatever a request says about sizes, counts and offsets is checked here, as the
//! argument is decoded ([`SrvContext::arg`](super::context::SrvContext)), against what
//! the protocol allows: the payload sizes INIT negotiated, the bytes really present in the
//! request, the space for the reply, the kernel's xattr limits, and `off_t` (offsets are
//! signed 64-bit in the kernel). A request that fails gets an errno reply and never
//! reaches the filesystem, so nothing a request says can size an allocation or an I/O
//! beyond those limits. The ops then trust the checked values.
//!
//! Structs with nothing to check (handles, modes, flags the driver interprets) implement
//! [`Validate`] with the default, so that forgetting a struct does not compile.

use crate::abi::fuse_abi::{
    AccessIn, BatchForgetIn, BmapIn, CopyFileRangeIn, CreateIn, FallocateIn, FlushIn, ForgetIn,
    ForgetOne, FsyncIn, GetattrIn, GetxattrIn, InitIn, InterruptIn, IoctlIn, LinkIn, LkIn, LseekIn,
    MkdirIn, MknodIn, NotifyRetrieveIn, Opcode, OpenIn, PollIn, ReadIn, ReleaseIn, Rename2In,
    RenameIn, SetattrIn, SetattrValid, SetxattrIn, SetxattrInExt, StatxIn, SyncfsIn, WriteIn,
};
use crate::abi::virtio_fs::{
    RemovemappingIn, RemovemappingOne, SetupmappingIn, FUSE_REMOVEMAPPING_MAX_ENTRY,
};
use crate::errno::err;
use crate::Error;

/// Largest xattr value (the kernel's XATTR_SIZE_MAX); the kernel never asks for more.
pub const XATTR_SIZE_MAX: u32 = 65536;
/// Largest xattr name list (the kernel's XATTR_LIST_MAX).
pub const XATTR_LIST_MAX: u32 = 65536;
/// Largest file offset (`off_t` is signed).
const OFF_MAX: u64 = i64::MAX as u64;

/// What a request is checked against.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// The request's opcode (one struct can serve several).
    pub op: Opcode,
    /// Largest READ payload negotiated.
    pub max_read: u32,
    /// Largest WRITE payload negotiated.
    pub max_write: u32,
    /// Request bytes after the argument.
    pub body: usize,
    /// Room for the reply body.
    pub reply_space: usize,
}

/// Why a request is refused: the errno for the reply and the error `handle_message`
/// returns.
pub(super) type Refusal = (i32, Error);

/// A request argument's check.
pub(super) trait Validate {
    fn validate(&self, _l: &Limits) -> Result<(), Refusal> {
        Ok(())
    }
}

fn check(ok: bool) -> Result<(), Refusal> {
    if ok {
        return Ok(());
    }
    let e = err(libc::EINVAL);
    Err((libc::EINVAL, Error::InvalidMessage(e)))
}

fn xattr_size(ok: bool, size: u32, body: usize) -> Result<(), Refusal> {
    if ok {
        return Ok(());
    }
    Err((libc::E2BIG, Error::InvalidXattrSize((size, body))))
}

/// `off` and `off + len` are valid file offsets.
fn range_ok(off: u64, len: u64) -> bool {
    off <= OFF_MAX && off.checked_add(len).is_some_and(|end| end <= OFF_MAX)
}

impl Validate for ReadIn {
    fn validate(&self, l: &Limits) -> Result<(), Refusal> {
        check(self.size <= l.max_read)?;
        match l.op {
            // READDIR offsets are the filesystem's cookies; the reply is cut to fit.
            Opcode::Readdir | Opcode::Readdirplus => Ok(()),
            _ => check(self.size as usize <= l.reply_space && self.offset <= OFF_MAX),
        }
    }
}

impl Validate for WriteIn {
    fn validate(&self, l: &Limits) -> Result<(), Refusal> {
        check(
            self.size <= l.max_write
                && self.size as usize == l.body
                && range_ok(self.offset, self.size as u64),
        )
    }
}

/// The data of a FUSE_NOTIFY_REPLY: the kernel sends at most `max_write` bytes and says
/// how many; a `size` that disagrees with the bytes present is refused.
impl Validate for NotifyRetrieveIn {
    fn validate(&self, l: &Limits) -> Result<(), Refusal> {
        check(
            self.size <= l.max_write
                && self.size as usize == l.body
                && range_ok(self.offset, self.size as u64),
        )
    }
}

impl Validate for GetxattrIn {
    fn validate(&self, l: &Limits) -> Result<(), Refusal> {
        let max = match l.op {
            Opcode::Listxattr => XATTR_LIST_MAX,
            _ => XATTR_SIZE_MAX,
        };
        // Not `InvalidXattrSize`, which is about a SETXATTR value: this is the size of the
        // buffer the caller offers for a value or a list.
        if self.size <= max {
            return Ok(());
        }
        Err((libc::E2BIG, Error::InvalidMessage(err(libc::E2BIG))))
    }
}

impl Validate for SetxattrIn {
    fn validate(&self, l: &Limits) -> Result<(), Refusal> {
        // The body is the name (at most PATH_MAX), its NUL and `size` bytes of value.
        let name = l.body.checked_sub(self.size as usize);
        let fits = name.is_some_and(|n| (1..=super::MAX_NAME_LEN + 1).contains(&n));
        xattr_size(self.size <= XATTR_SIZE_MAX && fits, self.size, l.body)
    }
}

/// The SETXATTR argument with SETXATTR_EXT: checked as its first 8 bytes are.
impl Validate for SetxattrInExt {
    fn validate(&self, l: &Limits) -> Result<(), Refusal> {
        SetxattrIn {
            size: self.size,
            flags: self.flags,
        }
        .validate(l)
    }
}

impl Validate for BatchForgetIn {
    fn validate(&self, l: &Limits) -> Result<(), Refusal> {
        let need = (self.count as usize).checked_mul(std::mem::size_of::<ForgetOne>());
        check(need.is_some_and(|n| n <= l.body))
    }
}

impl Validate for RemovemappingIn {
    fn validate(&self, l: &Limits) -> Result<(), Refusal> {
        let count = self.count as usize;
        check(
            count <= FUSE_REMOVEMAPPING_MAX_ENTRY
                && count * std::mem::size_of::<RemovemappingOne>() <= l.body,
        )
    }
}

impl Validate for RemovemappingOne {
    fn validate(&self, _l: &Limits) -> Result<(), Refusal> {
        check(self.moffset.checked_add(self.len).is_some())
    }
}

impl Validate for SetupmappingIn {
    fn validate(&self, _l: &Limits) -> Result<(), Refusal> {
        check(range_ok(self.foffset, self.len) && self.moffset.checked_add(self.len).is_some())
    }
}

impl Validate for IoctlIn {
    fn validate(&self, l: &Limits) -> Result<(), Refusal> {
        check(
            self.in_size as usize == l.body
                && self.out_size <= l.max_read
                && self.out_size as usize <= l.reply_space,
        )
    }
}

impl Validate for FallocateIn {
    fn validate(&self, _l: &Limits) -> Result<(), Refusal> {
        check(range_ok(self.offset, self.length))
    }
}

impl Validate for CopyFileRangeIn {
    fn validate(&self, _l: &Limits) -> Result<(), Refusal> {
        check(self.offset_in <= OFF_MAX && self.offset_out <= OFF_MAX)
    }
}

impl Validate for LkIn {
    fn validate(&self, _l: &Limits) -> Result<(), Refusal> {
        check(self.lk.start <= OFF_MAX && self.lk.start <= self.lk.end)
    }
}

impl Validate for SetattrIn {
    fn validate(&self, _l: &Limits) -> Result<(), Refusal> {
        let sets_size = SetattrValid::from_bits_truncate(self.valid).contains(SetattrValid::SIZE);
        check(!sets_size || self.size <= OFF_MAX)
    }
}

/// Nothing to check: handles, flags and modes are the filesystem's to judge.
macro_rules! nothing_to_check {
    ($($t:ty),* $(,)?) => { $(impl Validate for $t {})* };
}

nothing_to_check!(
    AccessIn,
    BmapIn,
    CreateIn,
    FlushIn,
    ForgetIn,
    ForgetOne,
    FsyncIn,
    GetattrIn,
    InitIn,
    InterruptIn,
    LinkIn,
    LseekIn,
    MkdirIn,
    MknodIn,
    OpenIn,
    PollIn,
    ReleaseIn,
    Rename2In,
    RenameIn,
    StatxIn,
    SyncfsIn,
);
// Raw words some ops read (supplementary groups).
nothing_to_check!(u32, u64);

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(op: Opcode, body: usize) -> Limits {
        Limits {
            op,
            max_read: 4096,
            max_write: 8192,
            body,
            reply_space: 4096,
        }
    }

    #[test]
    fn sizes_counts_and_offsets_are_bounded() {
        let l = limits(Opcode::Getxattr, 5);
        assert_eq!(
            GetxattrIn {
                size: 0xffff_ff00,
                padding: 0
            }
            .validate(&l)
            .unwrap_err()
            .0,
            libc::E2BIG
        );
        assert!(GetxattrIn {
            size: XATTR_SIZE_MAX,
            padding: 0
        }
        .validate(&l)
        .is_ok());
        let l = limits(Opcode::Listxattr, 0);
        assert_eq!(
            GetxattrIn {
                size: XATTR_LIST_MAX + 1,
                padding: 0
            }
            .validate(&l)
            .unwrap_err()
            .0,
            libc::E2BIG
        );

        let read = |size, offset| ReadIn {
            size,
            offset,
            ..Default::default()
        };
        assert!(read(4096, 0).validate(&limits(Opcode::Read, 0)).is_ok());
        assert!(read(4097, 0).validate(&limits(Opcode::Read, 0)).is_err());
        assert!(read(16, 1 << 63)
            .validate(&limits(Opcode::Read, 0))
            .is_err());
        assert!(read(16, 1 << 63)
            .validate(&limits(Opcode::Readdir, 0))
            .is_ok());

        let write = |size, offset| WriteIn {
            size,
            offset,
            ..Default::default()
        };
        assert!(write(10, 0).validate(&limits(Opcode::Write, 10)).is_ok());
        assert!(write(10, 0).validate(&limits(Opcode::Write, 9)).is_err());
        assert!(write(10, OFF_MAX - 5)
            .validate(&limits(Opcode::Write, 10))
            .is_err());

        let forget = BatchForgetIn {
            count: u32::MAX,
            dummy: 0,
        };
        assert!(forget.validate(&limits(Opcode::BatchForget, 64)).is_err());
        let forget = BatchForgetIn { count: 4, dummy: 0 };
        assert!(forget.validate(&limits(Opcode::BatchForget, 64)).is_ok());

        let falloc = FallocateIn {
            offset: OFF_MAX,
            length: 1,
            ..Default::default()
        };
        assert!(falloc.validate(&limits(Opcode::Fallocate, 0)).is_err());
        let ioctl = IoctlIn {
            in_size: 0,
            out_size: 5000,
            ..Default::default()
        };
        assert!(ioctl.validate(&limits(Opcode::Ioctl, 0)).is_err());
        let sx = SetxattrIn { size: 4, flags: 0 };
        assert!(sx.validate(&limits(Opcode::Setxattr, 6)).is_ok());
        assert!(sx.validate(&limits(Opcode::Setxattr, 4)).is_err());
        let sx = SetxattrInExt::from(sx);
        assert!(sx.validate(&limits(Opcode::Setxattr, 6)).is_ok());
        assert!(sx.validate(&limits(Opcode::Setxattr, 4)).is_err());
    }
}
