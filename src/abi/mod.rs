//! Wire format of the FUSE protocol, as the Linux kernel speaks it.
//!
//! This module is data only: constants, flag sets and `#[repr(C)]` structs that
//! mirror `include/uapi/linux/fuse.h` (protocol 7.45, Linux 6.18). It holds no
//! decoding logic; the server reads each struct out of a request with
//! `read_obj` (a copy), validates the copy, and never looks at the raw bytes
//! again.
//!
//! - [`fuse_abi`]: opcodes, INIT flags, notification codes and every request
//!   and reply struct of protocol 7.27 to 7.45.
//! - [`virtio_fs`]: the DAX window messages (`FUSE_SETUPMAPPING`,
//!   `FUSE_REMOVEMAPPING`) that only virtio-fs devices use.
//!
//! Every wire struct is declared through the crate-internal `wire!` macro,
//! which checks its size against the number worked out from fuse.h at compile
//! time and is the only place that implements [`vm_memory::ByteValued`].

pub mod fuse_abi;
pub mod virtio_fs;

/// Declares a FUSE wire struct: checks its size at compile time and marks it
/// [`vm_memory::ByteValued`].
///
/// `wire!(T, N)` fails the build unless `size_of::<T>() == N`, where `N` is the
/// size of the matching C struct, counted by hand from fuse.h. Several pairs
/// may be given at once: `wire!(A, 8; B, 16)`.
macro_rules! wire {
    ($($t:ty, $size:expr);+ $(;)?) => {
        $(
            const _: () = assert!(::core::mem::size_of::<$t>() == $size);

            // SAFETY: every type passed to `wire!` is `#[repr(C)]` and has only
            // integer fields, integer arrays, or other `wire!` structs. fuse.h
            // pads each struct explicitly and we copy that padding as named
            // fields, so the layout has no implicit padding bytes: every byte is
            // initialised and any bit pattern is a valid value. The size assert
            // just above stops the build if a field is added, dropped or
            // resized without updating the size taken from fuse.h.
            unsafe impl ::vm_memory::ByteValued for $t {}
        )+
    };
}
pub(crate) use wire;
