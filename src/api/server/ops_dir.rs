//! READDIR and READDIRPLUS: entries packed into the reply as the driver produces them.

use std::io::{self, Write};

use vm_memory::bitmap::BitmapSlice;
use vm_memory::ByteValued;

use super::context::SrvContext;
use super::Server;
use crate::abi::fuse_abi::{Dirent, Direntplus, EntryOut, ReadIn, FUSE_NAME_MAX};
use crate::api::filesystem::{DirEntry, Entry, FileSystem};
use crate::buffer::Writer;
use crate::errno::err;
use crate::{Error, Result};

const PADDING: [u8; 8] = [0; 8];

/// Appends one entry (`head` then the name, padded to 8 bytes) if it fits in `budget`;
/// returns the bytes used, or 0 when the reply is full.
fn push_entry<S: BitmapSlice>(
    w: &mut Writer<'_, S>,
    budget: &mut usize,
    head: &[u8],
    name: &[u8],
) -> io::Result<usize> {
    if name.is_empty() || name.len() > FUSE_NAME_MAX || name.contains(&0) || name.contains(&b'/') {
        // A driver bug: never put a malformed name in front of the kernel.
        return Err(err(libc::EIO));
    }
    let unpadded = head.len() + name.len();
    let len = Dirent::align(unpadded);
    if len > *budget {
        return Ok(0);
    }
    w.write_all(head)?;
    w.write_all(name)?;
    w.write_all(&PADDING[..len - unpadded])?;
    *budget -= len;
    Ok(len)
}

impl<F: FileSystem + Sync> Server<F> {
    pub(super) fn readdir<S: BitmapSlice>(
        &self,
        c: &mut SrvContext<'_, '_, S>,
        plus: bool,
    ) -> Result<usize> {
        let arg: ReadIn = c.arg()?;
        if arg.offset > i64::MAX as u64 {
            return c.reject(libc::EINVAL, Error::InvalidMessage(err(libc::EINVAL)));
        }
        let mut budget = (arg.size as usize).min(c.reply_space());
        let mut data = c.split_body(0)?;
        let (inode, fh) = (c.nodeid().into(), arg.fh.into());
        let res = if plus {
            self.fs.readdirplus(
                &c.ctx,
                inode,
                fh,
                arg.size,
                arg.offset,
                &mut |d: DirEntry, e: Entry| {
                    let head = Direntplus {
                        entry_out: EntryOut::from(e),
                        dirent: dirent(&d),
                    };
                    push_entry(&mut data, &mut budget, head.as_slice(), d.name)
                },
            )
        } else {
            self.fs.readdir(
                &c.ctx,
                inode,
                fh,
                arg.size,
                arg.offset,
                &mut |d: DirEntry| {
                    push_entry(&mut data, &mut budget, dirent(&d).as_slice(), d.name)
                },
            )
        };
        match res {
            // Entries already packed are valid even if the driver stopped with an error
            // later: the kernel must see them or it would lose lookup counts.
            Err(e) if data.bytes_written() == 0 => c.reply_io_error(&e),
            _ => c.reply_with_split(&[], &data),
        }
    }
}

fn dirent(d: &DirEntry) -> Dirent {
    Dirent {
        ino: d.ino,
        off: d.offset,
        namelen: d.name.len() as u32,
        type_: d.type_,
    }
}
