//! FUSE opcodes: `enum fuse_opcode` and `enum fuse_notify_code`.
macro_rules! opcodes {
    (
        $($(#[$doc:meta])* $name:ident = $num:literal, since $minor:literal;)+
        @reserved
        $($(#[$rdoc:meta])* $rname:ident = $rnum:literal, since $rminor:literal;)+
    ) => {
        /// `enum fuse_opcode`: the operation in `InHeader::opcode`.
        ///
        /// The variants after [`Opcode::CuseInit`] are not operations: they are
        /// names fuse-backend-rs code uses for reserved or unknown values, never
        /// produced by [`Opcode::try_from_u32`] and absent from [`Opcode::ALL`].
        #[repr(u32)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Opcode {
            $($(#[$doc])* $name = $num,)+
            $($(#[$rdoc])* $rname = $rnum,)+
        }

        impl Opcode {
            /// Every operation, in numeric order (the reserved names are left out).
            pub const ALL: &'static [Opcode] = &[$(Opcode::$name),+];

            /// The protocol minor (7.x) that introduced this opcode; 0 for the 7.0 base set.
            pub const fn since_minor(self) -> u32 {
                match self {
                    $(Opcode::$name => $minor,)+
                    $(Opcode::$rname => $rminor,)+
                }
            }
        }

        impl Opcode {
            /// Maps a raw opcode to the operation it names; a value that names no
            /// operation comes back as the error.
            ///
            /// This is the checked decoding; `From<u32>` (kept for fuse-backend-rs
            /// code, and the reason `Opcode` cannot also implement `TryFrom<u32>`)
            /// folds every unknown value into [`Opcode::MaxOpcode`].
            pub const fn try_from_u32(value: u32) -> Result<Opcode, u32> {
                match value {
                    $($num => Ok(Opcode::$name),)+
                    other => Err(other),
                }
            }
        }
    };
}

opcodes! {
    /// FUSE_LOOKUP: look up a name in a directory, taking a lookup reference.
    Lookup = 1, since 0;
    /// FUSE_FORGET: drop lookup references; no reply.
    Forget = 2, since 0;
    /// FUSE_GETATTR: read an inode's attributes.
    Getattr = 3, since 0;
    /// FUSE_SETATTR: change an inode's attributes.
    Setattr = 4, since 1;
    /// FUSE_READLINK: read a symlink's target.
    Readlink = 5, since 0;
    /// FUSE_SYMLINK: create a symlink.
    Symlink = 6, since 1;
    /// FUSE_MKNOD: create a file node.
    Mknod = 8, since 1;
    /// FUSE_MKDIR: create a directory.
    Mkdir = 9, since 1;
    /// FUSE_UNLINK: remove a name.
    Unlink = 10, since 1;
    /// FUSE_RMDIR: remove a directory.
    Rmdir = 11, since 1;
    /// FUSE_RENAME: rename a name.
    Rename = 12, since 1;
    /// FUSE_LINK: create a hard link.
    Link = 13, since 1;
    /// FUSE_OPEN: open a file.
    Open = 14, since 1;
    /// FUSE_READ: read from an open file or directory.
    Read = 15, since 1;
    /// FUSE_WRITE: write to an open file.
    Write = 16, since 1;
    /// FUSE_STATFS: file system statistics.
    Statfs = 17, since 0;
    /// FUSE_RELEASE: close an open file.
    Release = 18, since 1;
    /// FUSE_FSYNC: sync an open file.
    Fsync = 20, since 1;
    /// FUSE_SETXATTR: set an extended attribute.
    Setxattr = 21, since 1;
    /// FUSE_GETXATTR: read an extended attribute.
    Getxattr = 22, since 1;
    /// FUSE_LISTXATTR: list extended attribute names.
    Listxattr = 23, since 1;
    /// FUSE_REMOVEXATTR: remove an extended attribute.
    Removexattr = 24, since 1;
    /// FUSE_FLUSH: an fd of an open file was closed.
    Flush = 25, since 1;
    /// FUSE_INIT: version and capability negotiation.
    Init = 26, since 0;
    /// FUSE_OPENDIR: open a directory.
    Opendir = 27, since 1;
    /// FUSE_READDIR: read directory entries.
    Readdir = 28, since 1;
    /// FUSE_RELEASEDIR: close an open directory.
    Releasedir = 29, since 1;
    /// FUSE_FSYNCDIR: sync an open directory.
    Fsyncdir = 30, since 2;
    /// FUSE_GETLK: test for a POSIX lock.
    Getlk = 31, since 7;
    /// FUSE_SETLK: take or release a lock without waiting.
    Setlk = 32, since 7;
    /// FUSE_SETLKW: take a lock, waiting for it.
    Setlkw = 33, since 7;
    /// FUSE_ACCESS: check access permissions.
    Access = 34, since 3;
    /// FUSE_CREATE: create and open a file.
    Create = 35, since 3;
    /// FUSE_INTERRUPT: interrupt a pending request.
    Interrupt = 36, since 7;
    /// FUSE_BMAP: map a file block to a device block.
    Bmap = 37, since 8;
    /// FUSE_DESTROY: the file system is being unmounted.
    Destroy = 38, since 8;
    /// FUSE_IOCTL: an ioctl on an open file.
    Ioctl = 39, since 11;
    /// FUSE_POLL: poll an open file for events.
    Poll = 40, since 11;
    /// FUSE_NOTIFY_REPLY: data answering a NOTIFY_RETRIEVE; no reply.
    NotifyReply = 41, since 15;
    /// FUSE_BATCH_FORGET: drop lookup references on many inodes; no reply.
    BatchForget = 42, since 16;
    /// FUSE_FALLOCATE: allocate or punch file space.
    Fallocate = 43, since 19;
    /// FUSE_READDIRPLUS: read directory entries with their attributes.
    Readdirplus = 44, since 21;
    /// FUSE_RENAME2: rename with `renameat2(2)` flags.
    Rename2 = 45, since 23;
    /// FUSE_LSEEK: find data or holes (SEEK_DATA/SEEK_HOLE).
    Lseek = 46, since 24;
    /// FUSE_COPY_FILE_RANGE: copy between two open files (reply size 32 bits).
    CopyFileRange = 47, since 28;
    /// FUSE_SETUPMAPPING: map file range into the virtio-fs DAX window.
    SetupMapping = 48, since 31;
    /// FUSE_REMOVEMAPPING: unmap ranges of the virtio-fs DAX window.
    RemoveMapping = 49, since 31;
    /// FUSE_SYNCFS: sync the whole file system.
    Syncfs = 50, since 34;
    /// FUSE_TMPFILE: create an unnamed temporary file.
    Tmpfile = 51, since 37;
    /// FUSE_STATX: read an inode's attributes in `statx(2)` form.
    Statx = 52, since 39;
    /// FUSE_COPY_FILE_RANGE_64: copy between open files, 64-bit reply size.
    CopyFileRange64 = 53, since 45;
    /// CUSE_INIT: CUSE negotiation (not supported by our server).
    CuseInit = 4096, since 12;
    @reserved
    /// [`CUSE_INIT_BSWAP_RESERVED`](super::CUSE_INIT_BSWAP_RESERVED): a CUSE_INIT from a peer of the other endianness.
    CuseInitBswapReserved = 1_048_576, since 12;
    /// [`FUSE_INIT_BSWAP_RESERVED`](super::FUSE_INIT_BSWAP_RESERVED): an INIT from a peer of the other endianness.
    InitBswapReserved = 436_207_616, since 0;
    /// One past the newest operation this crate knows; `From<u32>` maps every
    /// unknown value here (fuse-backend-rs name; its value there was 50).
    MaxOpcode = 54, since 45;
}

impl From<u32> for Opcode {
    /// Maps a raw opcode to [`Opcode`], and every value that names no operation
    /// (holes such as 7 and 19, the byte-swapped INITs, values past the newest
    /// opcode) to [`Opcode::MaxOpcode`]. Prefer [`Opcode::try_from_u32`], which
    /// keeps the unknown value.
    fn from(value: u32) -> Opcode {
        match Opcode::try_from_u32(value) {
            Ok(op) => op,
            Err(_) => Opcode::MaxOpcode,
        }
    }
}

impl From<Opcode> for u32 {
    fn from(op: Opcode) -> u32 {
        op as u32
    }
}

/// `enum fuse_notify_code`: a notification, sent in `OutHeader::error` with `unique == 0`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyOpcode {
    /// FUSE_NOTIFY_POLL: wake up a poll waiter ([`NotifyPollWakeupOut`](super::NotifyPollWakeupOut)).
    Poll = 1,
    /// FUSE_NOTIFY_INVAL_INODE: drop cached data of an inode ([`NotifyInvalInodeOut`](super::NotifyInvalInodeOut)).
    InvalInode = 2,
    /// FUSE_NOTIFY_INVAL_ENTRY: drop a cached name ([`NotifyInvalEntryOut`](super::NotifyInvalEntryOut)).
    InvalEntry = 3,
    /// FUSE_NOTIFY_STORE: push data into the page cache ([`NotifyStoreOut`](super::NotifyStoreOut)).
    Store = 4,
    /// FUSE_NOTIFY_RETRIEVE: ask for page cache data back ([`NotifyRetrieveOut`](super::NotifyRetrieveOut)).
    Retrieve = 5,
    /// FUSE_NOTIFY_DELETE: a name was deleted ([`NotifyDeleteOut`](super::NotifyDeleteOut)).
    Delete = 6,
    /// FUSE_NOTIFY_RESEND: resend all pending requests; no body (since 7.40).
    Resend = 7,
    /// FUSE_NOTIFY_INC_EPOCH: bump the epoch, staling cached dentries; no body (since 7.44).
    IncEpoch = 8,
    /// FUSE_NOTIFY_PRUNE: drop unused cached inodes ([`NotifyPruneOut`](super::NotifyPruneOut), since 7.45).
    Prune = 9,
    /// `FUSE_NOTIFY_CODE_MAX`: one past the newest notification, not a notification
    /// (fuse-backend-rs name; its value there was 8, before INC_EPOCH and PRUNE).
    CodeMax = 10,
}

impl NotifyOpcode {
    /// The protocol minor (7.x) that introduced this notification.
    pub const fn since_minor(self) -> u32 {
        match self {
            NotifyOpcode::Poll => 11,
            NotifyOpcode::InvalInode | NotifyOpcode::InvalEntry => 12,
            NotifyOpcode::Store | NotifyOpcode::Retrieve => 15,
            NotifyOpcode::Delete => 18,
            NotifyOpcode::Resend => 40,
            NotifyOpcode::IncEpoch => 44,
            NotifyOpcode::Prune | NotifyOpcode::CodeMax => 45,
        }
    }
}

impl TryFrom<i32> for NotifyOpcode {
    type Error = i32;

    fn try_from(value: i32) -> Result<Self, Self::Error> {
        Ok(match value {
            1 => NotifyOpcode::Poll,
            2 => NotifyOpcode::InvalInode,
            3 => NotifyOpcode::InvalEntry,
            4 => NotifyOpcode::Store,
            5 => NotifyOpcode::Retrieve,
            6 => NotifyOpcode::Delete,
            7 => NotifyOpcode::Resend,
            8 => NotifyOpcode::IncEpoch,
            9 => NotifyOpcode::Prune,
            other => return Err(other),
        })
    }
}
