//! Lookup helpers of the [`Vfs`]: routing a name to a backend or the pseudo
//! directory tree, and building the entries and attributes the kernel sees.

use std::ffi::CStr;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::super::{idmap, MountedFs, Target, Vfs};
use crate::api::filesystem::{Context, Entry, FileSystem};
use crate::api::pseudo_fs::PseudoChild;
use crate::errno::err;

impl Vfs {
    /// Looks up `name` under a backend inode, checking first for mount points below it
    /// (a backend's root can have attached backends as children) and answering ".." of a
    /// backend root with its pseudo parent, so a lookup never crosses into another backend
    /// or the host's namespace.
    pub(super) fn lookup_in_backend(
        &self,
        ctx: &Context,
        m: &MountedFs,
        ino: u64,
        name: &CStr,
    ) -> io::Result<Entry> {
        if ino == m.root_ino {
            if name.to_bytes() == b".." {
                let parent = self.pseudo().parent(m.mountpoint)?;
                return self.lookup_pseudo(ctx, parent, c"."); // the parent itself
            }
            if self.pseudo().contains(m.mountpoint) {
                if let Ok(child) = self.pseudo().lookup(m.mountpoint, name) {
                    if !matches!(child, PseudoChild::Dir(d) if d == m.mountpoint) {
                        return self.pseudo_child_entry(ctx, child);
                    }
                }
            }
        }
        let e = m.fs.lookup(ctx, ino, name)?;
        self.convert_entry(m, e)
    }

    /// EBUSY when `name` in backend directory `ino` is a mount point or a pseudo directory
    /// leading to one: it shadows the backend's own entry of that name, which the client
    /// cannot see and so must not remove or replace.
    pub(super) fn not_a_mount_name(&self, m: &MountedFs, ino: u64, name: &CStr) -> io::Result<()> {
        if ino == m.root_ino
            && !matches!(name.to_bytes(), b"." | b"..")
            && self.pseudo().lookup(m.mountpoint, name).is_ok()
        {
            return Err(err(libc::EBUSY));
        }
        Ok(())
    }

    fn pseudo_child_entry(&self, ctx: &Context, child: PseudoChild) -> io::Result<Entry> {
        let (e, owner) = self.pseudo_child_entry_uncounted(ctx, child)?;
        if let Some(m) = owner {
            self.count_lookup(&m, m.root_ino, e.inode)?;
        }
        Ok(e)
    }

    /// The entry of a pseudo child, and the backend whose root it is (whose index must
    /// count the lookup once the entry reaches the kernel).
    pub(super) fn pseudo_child_entry_uncounted(
        &self,
        ctx: &Context,
        child: PseudoChild,
    ) -> io::Result<(Entry, Option<Arc<MountedFs>>)> {
        let m = match child {
            // A pseudo directory that has a backend mounted on it is that backend's root.
            PseudoChild::Dir(ino) => match self
                .pseudo()
                .mount_at(ino)
                .and_then(|idx| self.mounted(idx))
            {
                Some(m) => m,
                None => return Ok((self.pseudo().entry(ino)?, None)),
            },
            PseudoChild::Mount(idx) => self.mounted(idx).ok_or_else(|| err(libc::ENOENT))?,
        };
        let (attr, ttl) = m.fs.getattr(ctx, m.root_ino, None)?;
        let mut e = Entry {
            inode: self.to_kernel(&m, m.root_ino)?,
            generation: 0,
            attr,
            attr_flags: 0,
            attr_timeout: ttl,
            entry_timeout: ttl,
        };
        e.attr.st_ino = e.inode;
        Ok((e, Some(m)))
    }

    pub(super) fn lookup_pseudo(
        &self,
        ctx: &Context,
        parent: u64,
        name: &CStr,
    ) -> io::Result<Entry> {
        let child = self.pseudo().lookup(parent, name)?;
        self.pseudo_child_entry(ctx, child)
    }

    pub(super) fn fix_attr(
        &self,
        m: &MountedFs,
        ino: u64,
        res: io::Result<(libc::stat64, Duration)>,
    ) -> io::Result<(libc::stat64, Duration)> {
        let (mut st, ttl) = res?;
        st.st_ino = self.to_kernel(m, ino)?;
        idmap::attr_to_external(&self.options(), &mut st);
        Ok((st, ttl))
    }

    /// Routes two inodes that must be in the same backend (rename, link, copy_file_range).
    pub(super) fn same_backend(&self, a: u64, b: u64) -> io::Result<(Arc<MountedFs>, u64, u64)> {
        match (self.route(a)?, self.route(b)?) {
            (Target::Backend(m1, i1), Target::Backend(m2, i2)) if m1.idx == m2.idx => {
                Ok((m1, i1, i2))
            }
            (Target::Backend(..), Target::Backend(..)) => Err(err(libc::EXDEV)),
            _ => Err(err(libc::EROFS)),
        }
    }
}
