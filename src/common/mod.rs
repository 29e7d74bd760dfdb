//! Pieces shared by the transports and the drivers.

pub mod file_buf;
pub mod file_traits;

pub use file_buf::FileVolatileSlice;
pub use file_traits::FileReadWriteVolatile;
