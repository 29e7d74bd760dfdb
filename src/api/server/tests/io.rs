//! Operations on open files: open, read, write, release, fsync, flush, locks, fallocate,
//! lseek, copy_file_range, ioctl, poll, and the DAX window requests.

use super::recfs::{lock_fixture, MockDax};
use super::*;
use crate::abi::fuse_abi::{FsyncFlags, IoctlFlags, LkFlags, ReadFlags, ReleaseFlags, WriteFlags};
use crate::api::filesystem::IoctlReply;
use crate::Error;

#[test]
fn open_replies_handle_flags_and_backing_id() {
    let s = server();
    let arg = OpenIn {
        flags: libc::O_RDWR as u32,
        fuse_flags: 1,
    };
    let (res, reply) = run(&s, &req(Opcode::Open, 5).arg(arg).build());
    // fh 0x1111, FOPEN_KEEP_CACHE | FOPEN_PASSTHROUGH, backing id 9.
    let body = cat(&[
        &0x1111u64.to_le_bytes(),
        &0x82u32.to_le_bytes(),
        &9i32.to_le_bytes(),
    ]);
    assert_ok(res, &reply, UNIQUE, &body);
    assert_eq!(
        s.fs().calls(),
        [Call::Open {
            ino: 5,
            flags: libc::O_RDWR as u32,
            fuse_flags: 1
        }]
    );
}

#[test]
fn read_replies_the_data() {
    let s = server();
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let arg = ReadIn {
        fh: 0x10,
        offset: 100,
        size: 4096,
        read_flags: ReadFlags::LOCKOWNER.bits(),
        lock_owner: 0xabc,
        flags: libc::O_RDONLY as u32,
        padding: 0,
    };
    let (res, reply) = run(&s, &req(Opcode::Read, 5).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &data[100..4196]);
    assert_eq!(
        s.fs().calls(),
        [Call::Read {
            ino: 5,
            fh: 0x10,
            size: 4096,
            offset: 100,
            lock_owner: Some(0xabc),
            flags: 0
        }]
    );
}

#[test]
fn read_short_at_end_of_file() {
    let s = server();
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let arg = ReadIn {
        offset: 9_000,
        size: 4096,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Read, 5).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &data[9_000..]);
    let arg = ReadIn {
        offset: 20_000,
        size: 4096,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Read, 5).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    let calls = s.fs().calls();
    assert!(matches!(
        calls[0],
        Call::Read {
            lock_owner: None,
            ..
        }
    ));
}

#[test]
fn read_reply_never_exceeds_size() {
    // A driver that writes more than the kernel asked for: the kernel would refuse the
    // whole reply (EIO), so the server gives the driver no room beyond `size`.
    let s = server();
    s.fs().set(|c| c.read_overrun = 100);
    let data: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let arg = ReadIn {
        size: 1000,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Read, 5).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &data[..1000]);
}

#[test]
fn read_error_from_driver() {
    let s = server();
    s.fs().set(|c| c.errno = Some(libc::EBADF));
    let arg = ReadIn {
        size: 10,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Read, 5).arg(arg).build());
    assert_errno(res, &reply, UNIQUE, libc::EBADF);
}

#[test]
fn write_passes_data_and_replies_size() {
    let s = server();
    let payload: Vec<u8> = (0..100u8).collect();
    let arg = WriteIn {
        fh: 0x20,
        offset: 4096,
        size: 100,
        fuse_flags: (WriteFlags::LOCKOWNER | WriteFlags::CACHE).bits(),
        lock_owner: 0xdef,
        flags: libc::O_WRONLY as u32,
        padding: 0,
    };
    let (res, reply) = run(&s, &req(Opcode::Write, 6).arg(arg).bytes(&payload).build());
    assert_ok(res, &reply, UNIQUE, &cat(&[&100u32.to_le_bytes(), &[0; 4]]));
    assert_eq!(
        s.fs().calls(),
        [Call::Write {
            ino: 6,
            fh: 0x20,
            data: payload,
            size: 100,
            offset: 4096,
            lock_owner: Some(0xdef),
            delayed: true,
            flags: libc::O_WRONLY as u32,
            fuse_flags: 3
        }]
    );
}

#[test]
fn write_short_count_from_driver() {
    let s = server();
    s.fs().set(|c| c.write_result = Some(7));
    let arg = WriteIn {
        size: 10,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Write, 6).arg(arg).bytes(&[1; 10]).build());
    assert_ok(res, &reply, UNIQUE, &cat(&[&7u32.to_le_bytes(), &[0; 4]]));
    // A driver claiming more than it was given is capped at the request size.
    s.fs().set(|c| c.write_result = Some(1_000));
    let (res, reply) = run(&s, &req(Opcode::Write, 6).arg(arg).bytes(&[1; 10]).build());
    assert_ok(res, &reply, UNIQUE, &cat(&[&10u32.to_le_bytes(), &[0; 4]]));
}

#[test]
fn release_flags() {
    let s = server();
    let arg = ReleaseIn {
        fh: 0x30,
        flags: libc::O_RDWR as u32,
        release_flags: ReleaseFlags::FLUSH.bits(),
        lock_owner: 0x99,
    };
    let (res, reply) = run(&s, &req(Opcode::Release, 7).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    let arg = ReleaseIn {
        fh: 0x31,
        flags: 0,
        release_flags: ReleaseFlags::FLOCK_UNLOCK.bits(),
        lock_owner: 0x98,
    };
    let (res, reply) = run(&s, &req(Opcode::Release, 7).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    let arg = ReleaseIn {
        fh: 0x32,
        lock_owner: 0x97,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Release, 7).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        s.fs().calls(),
        [
            Call::Release {
                ino: 7,
                flags: libc::O_RDWR as u32,
                fh: 0x30,
                flush: true,
                flock_release: false,
                lock_owner: Some(0x99)
            },
            Call::Release {
                ino: 7,
                flags: 0,
                fh: 0x31,
                flush: false,
                flock_release: true,
                lock_owner: Some(0x98)
            },
            Call::Release {
                ino: 7,
                flags: 0,
                fh: 0x32,
                flush: false,
                flock_release: false,
                lock_owner: None
            }
        ]
    );
}

#[test]
fn fsync_datasync() {
    let s = server();
    let arg = FsyncIn {
        fh: 0x40,
        fsync_flags: FsyncFlags::FDATASYNC.bits(),
        padding: 0,
    };
    let (res, reply) = run(&s, &req(Opcode::Fsync, 8).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    let arg = FsyncIn {
        fh: 0x41,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Fsync, 8).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        s.fs().calls(),
        [
            Call::Fsync {
                ino: 8,
                datasync: true,
                fh: 0x40
            },
            Call::Fsync {
                ino: 8,
                datasync: false,
                fh: 0x41
            }
        ]
    );
}

#[test]
fn flush_passes_lock_owner() {
    let s = server();
    let arg = FlushIn {
        fh: 0x50,
        unused: 0,
        padding: 0,
        lock_owner: 0x1234_5678,
    };
    let (res, reply) = run(&s, &req(Opcode::Flush, 9).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        s.fs().calls(),
        [Call::Flush {
            ino: 9,
            fh: 0x50,
            lock_owner: 0x1234_5678
        }]
    );
}

fn lk_in() -> LkIn {
    LkIn {
        fh: 0x60,
        owner: 0x61,
        lk: FileLock {
            start: 0,
            end: u64::MAX,
            type_: libc::F_RDLCK as u32,
            pid: 1234,
        },
        lk_flags: LkFlags::FLOCK.bits(),
        padding: 0,
    }
}

#[test]
fn getlk_replies_lock() {
    let s = server();
    let (res, reply) = run(&s, &req(Opcode::Getlk, 10).arg(lk_in()).build());
    let l = lock_fixture();
    let body = cat(&[
        &l.start.to_le_bytes(),
        &l.end.to_le_bytes(),
        &l.type_.to_le_bytes(),
        &l.pid.to_le_bytes(),
    ]);
    assert_ok(res, &reply, UNIQUE, &body);
    let a = lk_in();
    assert_eq!(
        s.fs().calls(),
        [Call::Getlk {
            ino: 10,
            fh: a.fh,
            owner: a.owner,
            lock: a.lk.into(),
            flags: a.lk_flags
        }]
    );
}

#[test]
fn setlk_and_setlkw() {
    let s = server();
    let (res, reply) = run(&s, &req(Opcode::Setlk, 10).arg(lk_in()).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    let (res, reply) = run(&s, &req(Opcode::Setlkw, 10).arg(lk_in()).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    s.fs().set(|c| c.errno = Some(libc::EAGAIN));
    let (res, reply) = run(&s, &req(Opcode::Setlk, 10).arg(lk_in()).build());
    assert_errno(res, &reply, UNIQUE, libc::EAGAIN);
    let a = lk_in();
    let call = |wait| Call::Setlk {
        ino: 10,
        fh: a.fh,
        owner: a.owner,
        lock: a.lk.into(),
        flags: a.lk_flags,
        wait,
    };
    assert_eq!(s.fs().calls(), [call(false), call(true), call(false)]);
}

#[test]
fn fallocate() {
    let s = server();
    let arg = FallocateIn {
        fh: 0x70,
        offset: 4096,
        length: 1 << 40,
        mode: libc::FALLOC_FL_KEEP_SIZE as u32,
        padding: 0,
    };
    let (res, reply) = run(&s, &req(Opcode::Fallocate, 11).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        s.fs().calls(),
        [Call::Fallocate {
            ino: 11,
            fh: 0x70,
            mode: libc::FALLOC_FL_KEEP_SIZE as u32,
            offset: 4096,
            length: 1 << 40
        }]
    );
}

#[test]
fn lseek_replies_offset() {
    let s = server();
    let arg = LseekIn {
        fh: 0x80,
        offset: 100,
        whence: libc::SEEK_DATA as u32,
        padding: 0,
    };
    let (res, reply) = run(&s, &req(Opcode::Lseek, 12).arg(arg).build());
    assert_ok(res, &reply, UNIQUE, &4196u64.to_le_bytes());
    assert_eq!(
        s.fs().calls(),
        [Call::Lseek {
            ino: 12,
            fh: 0x80,
            offset: 100,
            whence: libc::SEEK_DATA as u32
        }]
    );
}

fn cfr_in(len: u64) -> CopyFileRangeIn {
    CopyFileRangeIn {
        fh_in: 1,
        offset_in: 2,
        nodeid_out: 3,
        fh_out: 4,
        offset_out: 5,
        len,
        flags: 6,
    }
}

fn cfr_call(len: u64) -> Call {
    Call::CopyFileRange {
        ino_in: 13,
        fh_in: 1,
        off_in: 2,
        ino_out: 3,
        fh_out: 4,
        off_out: 5,
        len,
        flags: 6,
    }
}

#[test]
fn copy_file_range_replies_32_bit_size() {
    let s = server();
    s.fs().set(|c| c.copied = 65536);
    let (res, reply) = run(
        &s,
        &req(Opcode::CopyFileRange, 13).arg(cfr_in(1 << 33)).build(),
    );
    assert_ok(
        res,
        &reply,
        UNIQUE,
        &cat(&[&65536u32.to_le_bytes(), &[0; 4]]),
    );
    // The request's 64-bit length is capped at what the 32-bit reply can report.
    assert_eq!(s.fs().calls(), [cfr_call(u32::MAX as u64)]);
}

#[test]
fn copy_file_range_64_replies_64_bit_size() {
    let s = server();
    s.fs().set(|c| c.copied = 5_000_000_000);
    let (res, reply) = run(
        &s,
        &req(Opcode::CopyFileRange64, 13)
            .arg(cfr_in(1 << 33))
            .build(),
    );
    assert_ok(res, &reply, UNIQUE, &5_000_000_000u64.to_le_bytes());
    assert_eq!(s.fs().calls(), [cfr_call(1 << 33)]);
}

#[test]
fn ioctl_passes_input_and_replies_output() {
    let s = server();
    s.fs().set(|c| {
        c.ioctl_out = IoctlReply {
            result: 17,
            data: b"out!".to_vec(),
        }
    });
    let arg = IoctlIn {
        fh: 0x90,
        flags: IoctlFlags::DIR.bits(),
        cmd: 0xc008_6601,
        arg: 0x7fff_0000,
        in_size: 3,
        out_size: 8,
    };
    let (res, reply) = run(&s, &req(Opcode::Ioctl, 14).arg(arg).bytes(b"xyz").build());
    let body = cat(&[&17i32.to_le_bytes(), &[0; 12], b"out!"]);
    assert_ok(res, &reply, UNIQUE, &body);
    assert_eq!(
        s.fs().calls(),
        [Call::Ioctl {
            ino: 14,
            fh: 0x90,
            flags: IoctlFlags::DIR.bits(),
            cmd: 0xc008_6601,
            arg: 0x7fff_0000,
            input: b"xyz".to_vec(),
            out_size: 8
        }]
    );
}

#[test]
fn ioctl_output_larger_than_out_size_is_eoverflow() {
    let s = server();
    s.fs().set(|c| {
        c.ioctl_out = IoctlReply {
            result: 0,
            data: vec![1; 9],
        }
    });
    let arg = IoctlIn {
        out_size: 8,
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Ioctl, 14).arg(arg).build());
    assert_errno(res, &reply, UNIQUE, libc::EOVERFLOW);
}

#[test]
fn ioctl_unrestricted_is_enosys() {
    let s = server();
    let arg = IoctlIn {
        flags: IoctlFlags::UNRESTRICTED.bits(),
        ..Default::default()
    };
    let (res, reply) = run(&s, &req(Opcode::Ioctl, 14).arg(arg).build());
    assert_errno(res, &reply, UNIQUE, libc::ENOSYS);
    assert!(s.fs().calls().is_empty());
}

#[test]
fn poll_replies_revents() {
    let s = server();
    let arg = PollIn {
        fh: 0xa0,
        kh: 0xa1,
        flags: 1,
        events: (libc::POLLIN | libc::POLLOUT) as u32,
    };
    let (res, reply) = run(&s, &req(Opcode::Poll, 15).arg(arg).build());
    let body = cat(&[&(libc::POLLIN as u32).to_le_bytes(), &[0; 4]]);
    assert_ok(res, &reply, UNIQUE, &body);
    assert_eq!(
        s.fs().calls(),
        [Call::Poll {
            ino: 15,
            fh: 0xa0,
            kh: 0xa1,
            flags: 1,
            events: (libc::POLLIN | libc::POLLOUT) as u32
        }]
    );
}

fn setupmapping_req() -> Vec<u8> {
    let arg = SetupmappingIn {
        fh: 0xb0,
        foffset: 0x20_0000,
        len: 0x20_0000,
        flags: 3,
        moffset: 0x40_0000,
    };
    req(Opcode::SetupMapping, 16).arg(arg).build()
}

fn removemapping_req() -> Vec<u8> {
    req(Opcode::RemoveMapping, 16)
        .arg(RemovemappingIn { count: 2 })
        .arg(RemovemappingOne {
            moffset: 0x1000,
            len: 0x2000,
        })
        .arg(RemovemappingOne {
            moffset: 0x9000,
            len: 0x1000,
        })
        .build()
}

#[test]
fn dax_mapping_without_channel_is_enosys() {
    let s = server();
    let (res, reply) = run(&s, &setupmapping_req());
    assert_errno(res, &reply, UNIQUE, libc::ENOSYS);
    let (res, reply) = run(&s, &removemapping_req());
    assert_errno(res, &reply, UNIQUE, libc::ENOSYS);
    assert!(s.fs().calls().is_empty());
}

#[test]
fn setupmapping_through_channel() {
    let s = server();
    let mut dax = MockDax::default();
    let (res, reply) = run_with(&s, &setupmapping_req(), Some(&mut dax));
    assert_ok(res, &reply, UNIQUE, &[]);
    assert_eq!(
        s.fs().calls(),
        [Call::SetupMapping {
            ino: 16,
            fh: 0xb0,
            foffset: 0x20_0000,
            len: 0x20_0000,
            flags: 3,
            moffset: 0x40_0000
        }]
    );
    assert_eq!(dax.maps, [(0x20_0000, 0x40_0000, 0x20_0000, 3, 3)]);
}

#[test]
fn removemapping_through_channel() {
    let s = server();
    let mut dax = MockDax::default();
    let (res, reply) = run_with(&s, &removemapping_req(), Some(&mut dax));
    assert_ok(res, &reply, UNIQUE, &[]);
    let ranges = vec![(0x1000, 0x2000), (0x9000, 0x1000)];
    assert_eq!(
        s.fs().calls(),
        [Call::RemoveMapping {
            ino: 16,
            requests: ranges.clone()
        }]
    );
    assert_eq!(dax.unmaps, [ranges]);
}

#[test]
fn removemapping_with_fewer_records_than_count() {
    let s = server();
    let mut dax = MockDax::default();
    let r = req(Opcode::RemoveMapping, 16)
        .arg(RemovemappingIn { count: 2 })
        .arg(RemovemappingOne::default())
        .build();
    let (res, reply) = run_with(&s, &r, Some(&mut dax));
    let err = assert_rejected(res, &reply, UNIQUE, libc::EINVAL);
    assert!(matches!(err, Error::InvalidMessage(_)), "{err:?}");
    assert!(s.fs().calls().is_empty() && dax.unmaps.is_empty());
}
