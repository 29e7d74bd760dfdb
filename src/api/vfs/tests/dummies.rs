//! Stand-ins for the transport's side of READ, WRITE and the DAX window.

use std::io;
use std::os::fd::RawFd;

use crate::abi::virtio_fs::RemovemappingOne;
use crate::api::filesystem::{ZeroCopyReader, ZeroCopyWriter};
use crate::buffer::FsCacheReqHandler;
use crate::common::FileReadWriteVolatile;

/// READ reply space that takes nothing.
pub(super) struct NullWriter;

impl io::Write for NullWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ZeroCopyWriter for NullWriter {
    fn write_from(
        &mut self,
        _f: &mut dyn FileReadWriteVolatile,
        _count: usize,
        _off: u64,
    ) -> io::Result<usize> {
        Ok(0)
    }
    fn available_bytes(&self) -> usize {
        0
    }
}

/// WRITE request data that is empty.
pub(super) struct EmptyReader;

impl io::Read for EmptyReader {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Ok(0)
    }
}

impl ZeroCopyReader for EmptyReader {
    fn read_to(
        &mut self,
        _f: &mut dyn FileReadWriteVolatile,
        _count: usize,
        _off: u64,
    ) -> io::Result<usize> {
        Ok(0)
    }
}

/// A DAX window that accepts everything.
pub(super) struct NoDax;

impl FsCacheReqHandler for NoDax {
    fn map(&mut self, _fo: u64, _mo: u64, _len: u64, _flags: u64, _fd: RawFd) -> io::Result<()> {
        Ok(())
    }
    fn unmap(&mut self, _requests: Vec<RemovemappingOne>) -> io::Result<()> {
        Ok(())
    }
}
