//! The one way this crate builds an [`io::Error`] that answers a request with an errno.
//!
//! A guest-answering path must keep the raw errno (an `io::Error::new(kind, msg)`
//! would reach the client as EIO), so code writes `Err(err(libc::EINVAL))` rather
//! than keeping a local `einval()`-style helper. The reverse mapping, from an
//! `io::Error` to the errno sent back, is the public [`crate::errno_of`].

use std::io;

/// An [`io::Error`] carrying the raw OS error `errno` (a positive `libc::E*` value).
pub(crate) fn err(errno: i32) -> io::Error {
    io::Error::from_raw_os_error(errno)
}
