//! READDIR and READDIRPLUS of the [`Vfs`]: inode numbers of backend entries are
//! translated, and pseudo directories list their children.

use std::io;

use super::super::{idmap, kernel_ino, Target, Vfs, VFS_MAX_INO};
use crate::api::filesystem::{Context, DirEntry, Entry, FileSystem};
use crate::errno::err;

impl Vfs {
    pub(super) fn routed_readdir(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry) -> io::Result<usize>,
    ) -> io::Result<()> {
        if self.options().no_readdir {
            return Err(err(libc::EPERM));
        }
        match self.route(inode)? {
            Target::Backend(m, i) => {
                let idx = m.idx;
                m.fs.readdir(ctx, i, handle, size, offset, &mut |mut d: DirEntry| {
                    d.ino = kernel_ino(idx, d.ino & VFS_MAX_INO);
                    add_entry(d)
                })
            }
            Target::Pseudo(ino) => {
                self.pseudo()
                    .readdir(ino, offset, &|c| self.pseudo_child_ino(c), add_entry)
            }
        }
    }

    pub(super) fn routed_readdirplus(
        &self,
        ctx: &Context,
        inode: u64,
        handle: u64,
        size: u32,
        offset: u64,
        add_entry: &mut dyn FnMut(DirEntry, Entry) -> io::Result<usize>,
    ) -> io::Result<()> {
        if self.options().no_readdir {
            return Err(err(libc::EPERM));
        }
        match self.route(inode)? {
            Target::Backend(m, i) => {
                m.fs.readdirplus(ctx, i, handle, size, offset, &mut |mut d, e| {
                    // The kernel ignores (and never forgets) entries of "." and "..".
                    if e.inode == 0 || d.name == b"." || d.name == b".." {
                        d.ino = kernel_ino(m.idx, d.ino & VFS_MAX_INO);
                        return add_entry(d, Entry { inode: 0, ..e });
                    }
                    let mut ke = e;
                    ke.inode = self.to_kernel(&m, e.inode)?;
                    ke.attr.st_ino = ke.inode;
                    idmap::attr_to_external(&self.options(), &mut ke.attr);
                    d.ino = ke.inode;
                    // Counted before the entry can reach the kernel (see `count_lookup`); the
                    // backend gives its own count back when the entry is refused or fails.
                    if ke.inode != crate::abi::fuse_abi::ROOT_ID {
                        self.hold_index(&m)?;
                    }
                    let res = add_entry(d, ke);
                    if !matches!(res, Ok(n) if n > 0) && ke.inode != crate::abi::fuse_abi::ROOT_ID {
                        self.drop_refs(m.idx, 1);
                    }
                    res
                })
            }
            Target::Pseudo(ino) => {
                let mut res = Ok(());
                self.pseudo()
                    .readdir(ino, offset, &|c| self.pseudo_child_ino(c), &mut |d| {
                        // "." and ".." carry no entry (the kernel skips them in READDIRPLUS).
                        if d.name == b"." || d.name == b".." {
                            return add_entry(d, Entry::default());
                        }
                        let child = match self.pseudo().lookup(
                            ino,
                            &std::ffi::CString::new(d.name).map_err(|_| err(libc::EIO))?,
                        ) {
                            Ok(c) => c,
                            Err(e) => {
                                res = Err(e);
                                return Ok(0);
                            }
                        };
                        // A backend root counts a lookup only if the kernel takes it.
                        let (e, owner) = self.pseudo_child_entry_uncounted(ctx, child)?;
                        let held = match &owner {
                            Some(m) if e.inode != crate::abi::fuse_abi::ROOT_ID => {
                                if self.hold_index(m).is_err() {
                                    return Ok(0); // detached meanwhile: end this batch
                                }
                                Some(m.idx)
                            }
                            _ => None,
                        };
                        let added = add_entry(d, e);
                        if let Some(idx) = held.filter(|_| !matches!(added, Ok(n) if n > 0)) {
                            self.drop_refs(idx, 1);
                        }
                        added
                    })?;
                res
            }
        }
    }
}
