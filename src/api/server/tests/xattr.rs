//! Extended attributes: setxattr (with and without SETXATTR_EXT), getxattr, listxattr,
//! removexattr.

use super::*;
use crate::Error;

#[test]
fn setxattr_compat_struct() {
    // Without SETXATTR_EXT the kernel sends the 8-byte fuse_setxattr_in.
    let s = server();
    let r = req(Opcode::Setxattr, 30)
        .arg([5u32, libc::XATTR_CREATE as u32])
        .name("user.key")
        .bytes(b"va\0ue")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        s.fs().calls(),
        [Call::Setxattr {
            ino: 30,
            name: b"user.key".to_vec(),
            value: b"va\0ue".to_vec(),
            flags: libc::XATTR_CREATE as u32
        }]
    );
}

#[test]
fn setxattr_ext_struct() {
    let opts = FsOptions::SETXATTR_EXT;
    let s = server_with(opts, opts);
    assert!(s.negotiated_options().1.contains(FsOptions::SETXATTR_EXT));
    let arg = SetxattrInExt {
        size: 3,
        flags: libc::XATTR_REPLACE as u32,
        setxattr_flags: 1,
        padding: 0,
    };
    let r = req(Opcode::Setxattr, 30)
        .arg(arg)
        .name("system.posix_acl_access")
        .bytes(b"abc")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        s.fs().calls(),
        [Call::Setxattr {
            ino: 30,
            name: b"system.posix_acl_access".to_vec(),
            value: b"abc".to_vec(),
            flags: libc::XATTR_REPLACE as u32
        }]
    );
}

#[test]
fn setxattr_ext_struct_misread_as_compat_is_rejected() {
    // A 16-byte struct sent to a server that did not negotiate SETXATTR_EXT: the extra 8
    // bytes are taken as the start of the name, whose value then has the wrong size.
    let s = server();
    let arg = SetxattrInExt {
        size: 3,
        ..Default::default()
    };
    let r = req(Opcode::Setxattr, 30)
        .arg(arg)
        .name("user.a")
        .bytes(b"abc")
        .build();
    let (res, reply) = run(&s, &r);
    let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    assert!(matches!(err, Error::InvalidXattrSize((3, _))), "{err:?}");
    assert!(s.fs().calls().is_empty());
}

#[test]
fn setxattr_empty_value() {
    let s = server();
    let r = req(Opcode::Setxattr, 30)
        .arg([0u32, 0])
        .name("user.empty")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        s.fs().calls(),
        [Call::Setxattr {
            ino: 30,
            name: b"user.empty".to_vec(),
            value: Vec::new(),
            flags: 0
        }]
    );
}

#[test]
fn getxattr_size_zero_replies_count() {
    let s = server();
    let r = req(Opcode::Getxattr, 31)
        .arg(GetxattrIn {
            size: 0,
            padding: 0,
        })
        .name("user.key")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &cat(&[&5u32.to_le_bytes(), &[0; 4]]));
    assert_eq!(
        s.fs().calls(),
        [Call::Getxattr {
            ino: 31,
            name: b"user.key".to_vec(),
            size: 0
        }]
    );
}

#[test]
fn getxattr_value() {
    let s = server();
    let r = req(Opcode::Getxattr, 31)
        .arg(GetxattrIn {
            size: 64,
            padding: 0,
        })
        .name("user.key")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, b"value");
    // Exactly the value's size is enough.
    let r = req(Opcode::Getxattr, 31)
        .arg(GetxattrIn {
            size: 5,
            padding: 0,
        })
        .name("user.key")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, b"value");
}

#[test]
fn getxattr_value_too_big_is_erange() {
    let s = server();
    let r = req(Opcode::Getxattr, 31)
        .arg(GetxattrIn {
            size: 4,
            padding: 0,
        })
        .name("user.key")
        .build();
    let (res, reply) = run(&s, &r);
    assert_errno(res, &reply, UNIQUE, libc::ERANGE);
}

#[test]
fn getxattr_and_listxattr_buffer_over_the_limit() {
    let s = server();
    for (op, size) in [(Opcode::Getxattr, 65537u32), (Opcode::Listxattr, 65537)] {
        let b = req(op, 31).arg(GetxattrIn { size, padding: 0 });
        let b = if op == Opcode::Getxattr {
            b.name("user.key")
        } else {
            b
        };
        let (res, reply) = run(&s, &b.build());
        let err = assert_rejected(res, &reply, UNIQUE, libc::E2BIG);
        // Not InvalidXattrSize: that names a SETXATTR value whose size is wrong.
        assert!(matches!(err, Error::InvalidMessage(_)), "{op:?}: {err:?}");
    }
    assert!(s.fs().calls().is_empty());
}

#[test]
fn getxattr_size_zero_with_value_from_driver_replies_count() {
    // A driver that answers a size query with the value itself: the kernel expects a
    // fuse_getxattr_out, so the server turns the value into its length.
    let s = server();
    s.fs().set(|c| c.xattr_value_for_size0 = true);
    let r = req(Opcode::Getxattr, 31)
        .arg(GetxattrIn {
            size: 0,
            padding: 0,
        })
        .name("user.key")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &cat(&[&5u32.to_le_bytes(), &[0; 4]]));
    let r = req(Opcode::Listxattr, 31)
        .arg(GetxattrIn {
            size: 0,
            padding: 0,
        })
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &cat(&[&15u32.to_le_bytes(), &[0; 4]]));
}

#[test]
fn listxattr_count_names_and_erange() {
    let s = server();
    let list = |size| {
        req(Opcode::Listxattr, 32)
            .arg(GetxattrIn { size, padding: 0 })
            .build()
    };
    let (res, reply) = run(&s, &list(0));
    assert_ok(res, &reply, UNIQUE, &cat(&[&15u32.to_le_bytes(), &[0; 4]]));
    let (res, reply) = run(&s, &list(100));
    assert_ok(res, &reply, UNIQUE, b"user.a\0user.bb\0");
    let (res, reply) = run(&s, &list(14));
    assert_errno(res, &reply, UNIQUE, libc::ERANGE);
    assert_eq!(
        s.fs().calls(),
        [
            Call::Listxattr { ino: 32, size: 0 },
            Call::Listxattr { ino: 32, size: 100 },
            Call::Listxattr { ino: 32, size: 14 }
        ]
    );
}

#[test]
fn removexattr() {
    let s = server();
    let (res, reply) = run(&s, &req(Opcode::Removexattr, 33).name("user.gone").build());
    assert_ok(res, &reply, UNIQUE, &[]);
    s.fs().set(|c| c.errno = Some(libc::ENODATA));
    let (res, reply) = run(&s, &req(Opcode::Removexattr, 33).name("user.gone").build());
    assert_errno(res, &reply, UNIQUE, libc::ENODATA);
    assert_eq!(
        s.fs().calls(),
        [
            Call::Removexattr {
                ino: 33,
                name: b"user.gone".to_vec()
            },
            Call::Removexattr {
                ino: 33,
                name: b"user.gone".to_vec()
            }
        ]
    );
}

/// Records the `setxattr_flags` that reach [`FileSystem::setxattr_ext`].
#[derive(Default)]
struct ExtFs {
    seen: std::sync::Mutex<Vec<(u32, crate::api::filesystem::SetxattrFlags)>>,
}

impl FileSystem for ExtFs {
    type Inode = u64;
    type Handle = u64;

    fn init(&self, capable: FsOptions) -> std::io::Result<FsOptions> {
        Ok(capable & FsOptions::SETXATTR_EXT)
    }

    fn setxattr_ext(
        &self,
        _ctx: &crate::api::filesystem::Context,
        _inode: u64,
        _name: &std::ffi::CStr,
        _value: &[u8],
        flags: u32,
        setxattr_flags: crate::api::filesystem::SetxattrFlags,
    ) -> std::io::Result<()> {
        self.seen.lock().unwrap().push((flags, setxattr_flags));
        Ok(())
    }
}

fn ext_server(offered: FsOptions) -> Server<ExtFs> {
    let s = Server::new(ExtFs::default());
    let (res, reply) = run(&s, &init_request(45, offered.bits()));
    res.unwrap();
    assert_eq!(reply.error(), 0);
    s
}

#[test]
fn setxattr_ext_flags_reach_the_filesystem() {
    use crate::api::filesystem::SetxattrFlags;
    let s = ext_server(FsOptions::SETXATTR_EXT | FsOptions::INIT_EXT);
    assert!(s.negotiated_options().1.contains(FsOptions::SETXATTR_EXT));
    let arg = SetxattrInExt {
        size: 3,
        flags: libc::XATTR_CREATE as u32,
        // ACL_KILL_SGID and a bit no minor defines yet (dropped).
        setxattr_flags: 1 | 1 << 7,
        padding: 0,
    };
    let r = req(Opcode::Setxattr, 30)
        .arg(arg)
        .name("system.posix_acl_access")
        .bytes(b"abc")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        *s.fs().seen.lock().unwrap(),
        [(libc::XATTR_CREATE as u32, SetxattrFlags::ACL_KILL_SGID)]
    );
}

#[test]
fn setxattr_without_ext_passes_no_flags() {
    let s = ext_server(FsOptions::ASYNC_READ);
    let r = req(Opcode::Setxattr, 30)
        .arg([3u32, 0])
        .name("system.posix_acl_access")
        .bytes(b"abc")
        .build();
    let (res, reply) = run(&s, &r);
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        *s.fs().seen.lock().unwrap(),
        [(0, crate::api::filesystem::SetxattrFlags::empty())]
    );
}
