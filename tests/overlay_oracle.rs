//! Our overlay against the kernel's, scenario by scenario.
//!
//! Each test builds the standard trees (see `common_overlay::build_standard`), mounts the
//! kernel overlay (`index=on,redirect_dir=on`) and ours over identical copies, runs the
//! same system calls on both and requires the same results (values or errnos). Then it
//! compares the merged views (types, modes, owners, link counts, contents, attributes,
//! hard-link classes, no duplicate names), the upper directories (whiteouts, opaque and
//! redirect attributes, copied-up files; see `common_overlay::upper_state`), checks that
//! our work directory is clean, remounts both and compares the views again.
//!
//! Needs root and /dev/fuse; with CI=true a test that cannot mount fails.

#![cfg(feature = "fusedev")]

mod common;
mod common_overlay;

use std::fmt::Debug;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::*;
use common_overlay::*;
use fuse_backend_rs::overlayfs::Config;

fn twins() -> Option<Twins> {
    Twins::new(2, Config::default(), build_standard)
}

/// Runs `f` on both mounts; the results must be equal.
#[track_caller]
fn both<T: PartialEq + Debug>(t: &Twins, what: &str, f: impl Fn(&Path) -> Res<T>) {
    let a = f(&t.k.mnt);
    let b = f(&t.f.mnt);
    assert_eq!(
        a.as_ref().map_err(|e| errname(*e)),
        b.as_ref().map_err(|e| errname(*e)),
        "{what}: kernel (left) and ours (right) differ"
    );
}

fn append(p: &Path, data: &[u8]) -> Res<()> {
    let fd = open(p, libc::O_WRONLY | libc::O_APPEND, 0)?;
    write(fd.as_raw_fd(), data).map(drop)
}

fn put(p: &Path, data: &[u8]) -> Res<()> {
    let fd = open(p, libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC, 0o644)?;
    write(fd.as_raw_fd(), data).map(drop)
}

fn set_times(p: &Path, sec: i64) -> Res<()> {
    let c = cpath(p);
    let ts = [
        libc::timespec {
            tv_sec: sec,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: sec + 7,
            tv_nsec: 500,
        },
    ];
    // SAFETY: a valid C string and two timespecs.
    cvt(unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// The final checks every scenario ends with.
#[track_caller]
fn finish(mut t: Twins, what: &str) {
    t.assert_same_view(what);
    t.assert_work_clean();
    t.unmount();
    if std::env::var_os("OVL_DUMP").is_some() {
        eprintln!(
            "{what}: kernel upper {:#?}",
            upper_state(&t.k.upper, t.prefix)
        );
        eprintln!("{what}: our upper {:#?}", upper_state(&t.f.upper, t.prefix));
    }
    t.assert_same_upper(what);
    t.mount().expect("remount");
    t.assert_same_view(&format!("{what}, after remount"));
    t.unmount();
}

#[test]
fn merged_view_matches_the_kernel() {
    let Some(t) = twins() else { return };
    t.assert_same_view("fresh mount");
    // Spot checks of what the comparison covers.
    let f = &t.f.mnt;
    assert!(
        lstat(&f.join("hidden")).is_err(),
        "a 0/0 whiteout hides the name"
    );
    assert!(lstat(&f.join("del_by_upper")).is_err());
    assert!(
        lstat(&f.join("xw/gone")).is_err(),
        "an attribute whiteout hides the name"
    );
    assert_eq!(read_file(&f.join("xw/kept")).unwrap(), b"kept\n");
    assert!(
        lstat(&f.join("opq/p1")).is_err(),
        "an opaque lower dir hides what is below"
    );
    assert!(
        lstat(&f.join("uopq/p")).is_err(),
        "an opaque upper dir hides the lowers"
    );
    assert_eq!(read_file(&f.join("shadow")).unwrap(), b"from l1\n");
    assert_eq!(
        listing(&f.join("dir_m")).unwrap().len(),
        4,
        "a, b, c, sub merged"
    );
    for p in ["hidden", "xw/gone", "opq/p1"] {
        both(&t, p, |m| lstat(&m.join(p)).map(|st| st.st_mode));
    }
    both(&t, "getxattr private", |m| {
        lgetxattr(&m.join("opq"), "trusted.overlay.opaque", 64)
    });
    both(&t, "getxattr trusted", |m| {
        lgetxattr(&m.join("xa"), "trusted.test", 64)
    });
    finish(t, "fresh mount");
}

#[test]
fn readdir_offsets_are_stable_while_the_directory_changes() {
    let Some(t) = twins() else { return };
    for m in [&t.k.mnt, &t.f.mnt] {
        let dir = m.join("dir_m");
        let mut names = Vec::new();
        let rd = std::fs::read_dir(&dir).unwrap();
        for (i, e) in rd.enumerate() {
            names.push(e.unwrap().file_name());
            // Changes during the listing must not make names repeat.
            if i == 1 {
                put(&dir.join("added"), b"x").unwrap();
                unlink(&dir.join("c")).unwrap();
            }
        }
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(n, names.len(), "{}: a name listed twice", m.display());
    }
    finish(t, "readdir during changes");
}

#[test]
fn copy_up_of_data_and_metadata() {
    let Some(t) = twins() else { return };
    let ino_before = lstat(&t.f.mnt.join("big")).unwrap().st_ino;
    let mtime_before = mtime(&lstat(&t.f.mnt.join("big")).unwrap());
    both(&t, "append", |m| append(&m.join("f2"), b"appended\n"));
    both(&t, "chmod", |m| chmod(&m.join("big"), 0o640));
    both(&t, "chown suid", |m| lchown(&m.join("suid"), 1001, 1002));
    both(&t, "times", |m| set_times(&m.join("sparse"), 1_000_000_000));
    both(&t, "setxattr", |m| {
        lsetxattr(&m.join("xa"), "user.size", b"L", 0)
    });
    both(&t, "removexattr", |m| {
        lremovexattr(&m.join("xa"), "user.color")
    });
    both(&t, "removexattr missing", |m| {
        lremovexattr(&m.join("f1"), "user.none")
    });
    both(&t, "private xattr escapes", |m| {
        lsetxattr(&m.join("shadow"), "trusted.overlay.opaque", b"y", 0)
    });
    both(&t, "truncate", |m| truncate(&m.join("secret"), 3));
    both(&t, "deep copy-up", |m| {
        append(&m.join("deep/a/b/c/f"), b"more\n")
    });
    both(&t, "symlink owner", |m| lchown(&m.join("sym"), 1003, 1003));
    both(&t, "fifo mode", |m| chmod(&m.join("fifo"), 0o600));
    both(&t, "open O_TRUNC", |m| {
        open(&m.join("dir_m/b"), libc::O_WRONLY | libc::O_TRUNC, 0).map(drop)
    });
    both(&t, "read sparse", |m| {
        read_file(&m.join("sparse")).map(|v| fnv64(&v))
    });
    // Copy-up keeps the inode number and the data time of the file.
    let st = lstat(&t.f.mnt.join("big")).unwrap();
    assert_eq!(st.st_ino, ino_before, "st_ino changed at copy-up");
    assert_eq!(mtime(&st), mtime_before, "mtime changed by a chmod copy-up");
    // The sparse file stays sparse in the upper layer.
    let up = lstat(&t.f.upper.join("sparse")).unwrap();
    assert!(
        up.st_blocks * 512 < up.st_size,
        "holes were filled at copy-up"
    );
    finish(t, "copy-up");
}

#[test]
fn whiteouts_and_opaque_directories() {
    let Some(t) = twins() else { return };
    both(&t, "unlink lower", |m| unlink(&m.join("f1")));
    both(&t, "unlink lower again", |m| unlink(&m.join("f1")));
    both(&t, "unlink upper", |m| unlink(&m.join("ufile")));
    both(&t, "unlink shadowing", |m| unlink(&m.join("shadow")));
    both(&t, "shadowed stays hidden", |m| {
        lstat(&m.join("shadow")).map(drop)
    });
    both(&t, "rmdir non-empty", |m| rmdir(&m.join("tree")));
    for p in ["tree/t1", "tree/t2", "tree/sub/t3"] {
        both(&t, p, |m| unlink(&m.join(p)));
    }
    both(&t, "rmdir emptied lower", |m| rmdir(&m.join("tree/sub")));
    both(&t, "rmdir emptied", |m| rmdir(&m.join("tree")));
    both(&t, "mkdir over whiteout", |m| mkdir(&m.join("tree"), 0o755));
    both(&t, "opaque: old content gone", |m| {
        lstat(&m.join("tree/t1")).map(drop)
    });
    both(&t, "file over whiteout", |m| {
        put(&m.join("f1"), b"new f1\n")
    });
    both(&t, "mkdir in merged", |m| {
        mkdir(&m.join("dir_m/newdir"), 0o700)
    });
    both(&t, "mkdir in new", |m| {
        mkdir(&m.join("dir_m/newdir/inner"), 0o700)
    });
    both(&t, "mknod whiteout refused", |m| {
        mknod(&m.join("wh"), libc::S_IFCHR, 0)
    });
    both(&t, "mkfifo", |m| {
        mknod(&m.join("dir_m/pipe"), libc::S_IFIFO | 0o644, 0)
    });
    both(&t, "symlink", |m| symlink("../f2", &m.join("dir_m/ln")));
    both(&t, "rmdir merged with whiteouts", |m| {
        for n in ["a", "b", "c"] {
            unlink(&m.join("dir_m").join(n))?;
        }
        for n in ["newdir/inner", "newdir", "sub/deep/x", "sub/deep", "sub"] {
            rmdir(&m.join("dir_m").join(n))?;
        }
        unlink(&m.join("dir_m/pipe"))?;
        unlink(&m.join("dir_m/ln"))?;
        rmdir(&m.join("dir_m"))
    });
    both(&t, "rmdir opaque upper", |m| {
        unlink(&m.join("uopq/q"))?;
        rmdir(&m.join("uopq"))
    });
    both(&t, "xw: create over attribute whiteout", |m| {
        put(&m.join("xw/gone"), b"back\n")
    });
    finish(t, "whiteouts");
}

#[test]
fn hard_links_stay_one_inode_after_copy_up() {
    let Some(t) = twins() else { return };
    both(&t, "write through one name", |m| {
        append(&m.join("hl/h1"), b"more\n")
    });
    for p in ["hl/h2", "hlo/h3"] {
        both(&t, p, |m| read_file(&m.join(p)));
    }
    let ino = |p: &str| lstat(&t.f.mnt.join(p)).unwrap().st_ino;
    assert_eq!(ino("hl/h1"), ino("hl/h2"));
    assert_eq!(ino("hl/h1"), ino("hlo/h3"));
    both(&t, "nlink", |m| lstat(&m.join("hl/h2")).map(|s| s.st_nlink));
    both(&t, "chmod through another", |m| {
        chmod(&m.join("hlo/h3"), 0o600)
    });
    both(&t, "unlink one name", |m| unlink(&m.join("hl/h2")));
    both(&t, "nlink after unlink", |m| {
        lstat(&m.join("hl/h1")).map(|s| s.st_nlink)
    });
    both(&t, "new link", |m| link(&m.join("hlo/h3"), &m.join("h4")));
    both(&t, "nlink after link", |m| {
        lstat(&m.join("h4")).map(|s| s.st_nlink)
    });
    both(&t, "rename a name", |m| {
        rename2(&m.join("hlo/h3"), &m.join("hl/h5"), 0)
    });
    both(&t, "lower-only pair, unlink", |m| unlink(&m.join("hl1b")));
    both(&t, "pair survivor nlink", |m| {
        lstat(&m.join("hl1")).map(|s| (s.st_nlink, s.st_size))
    });
    both(&t, "link to a lower file", |m| {
        link(&m.join("f2"), &m.join("f2link"))
    });
    both(&t, "link nlink", |m| {
        lstat(&m.join("f2link")).map(|s| s.st_nlink)
    });
    let mut t = t;
    t.remount();
    for p in ["hl/h1", "h4", "hl/h5"] {
        both(&t, p, |m| {
            lstat(&m.join(p)).map(|s| (s.st_nlink, s.st_size))
        });
    }
    let ino = |p: &str| lstat(&t.f.mnt.join(p)).unwrap().st_ino;
    assert_eq!(ino("hl/h1"), ino("h4"), "hard links split after remount");
    both(&t, "unlink all", |m| {
        for p in ["hl/h1", "h4", "hl/h5"] {
            unlink(&m.join(p))?;
        }
        Ok(())
    });
    finish(t, "hard links");
}

#[test]
fn renames_of_files_and_directories() {
    let Some(t) = twins() else { return };
    both(&t, "file to other dir", |m| {
        rename2(&m.join("f2"), &m.join("dir_m/f2"), 0)
    });
    both(&t, "file back over whiteout", |m| {
        rename2(&m.join("dir_m/f2"), &m.join("f2"), 0)
    });
    both(&t, "merged dir, other parent", |m| {
        rename2(&m.join("dir_m"), &m.join("tree/moved"), 0)
    });
    both(&t, "moved content", |m| {
        read_file(&m.join("tree/moved/sub/deep/x"))
    });
    both(&t, "rename again, same dir", |m| {
        rename2(&m.join("tree/moved"), &m.join("tree/moved2"), 0)
    });
    both(&t, "lower dir, same parent", |m| {
        rename2(&m.join("deep"), &m.join("deeper"), 0)
    });
    both(&t, "nested lower dir out", |m| {
        rename2(&m.join("deeper/a/b"), &m.join("b_out"), 0)
    });
    both(&t, "content follows", |m| read_file(&m.join("b_out/c/f")));
    both(&t, "old place is gone", |m| {
        lstat(&m.join("deeper/a/b")).map(drop)
    });
    both(&t, "dir back where it was", |m| {
        rename2(&m.join("deeper"), &m.join("deep"), 0)
    });
    both(&t, "new dir into merged", |m| {
        mkdir(&m.join("nd"), 0o755)?;
        put(&m.join("nd/x"), b"x")?;
        rename2(&m.join("nd"), &m.join("tree/nd"), 0)
    });
    both(&t, "dir over empty dir", |m| {
        mkdir(&m.join("empty"), 0o755)?;
        rename2(&m.join("tree/nd"), &m.join("empty"), 0)
    });
    both(&t, "dir over non-empty", |m| {
        rename2(&m.join("empty"), &m.join("tree"), 0)
    });
    both(&t, "dir over file", |m| {
        rename2(&m.join("empty"), &m.join("f1"), 0)
    });
    both(&t, "file over dir", |m| {
        rename2(&m.join("f1"), &m.join("empty"), 0)
    });
    both(&t, "noreplace", |m| {
        rename2(&m.join("f1"), &m.join("shadow"), libc::RENAME_NOREPLACE)
    });
    both(&t, "noreplace free", |m| {
        rename2(&m.join("f1"), &m.join("f1b"), libc::RENAME_NOREPLACE)
    });
    both(&t, "exchange file and dir", |m| {
        rename2(&m.join("f1b"), &m.join("opq"), libc::RENAME_EXCHANGE)
    });
    both(&t, "exchange lower and upper", |m| {
        rename2(&m.join("xa"), &m.join("ufile"), libc::RENAME_EXCHANGE)
    });
    both(&t, "exchange with missing", |m| {
        rename2(&m.join("xa"), &m.join("nothing"), libc::RENAME_EXCHANGE)
    });
    both(&t, "exchange merged dirs", |m| {
        rename2(&m.join("tree/moved2"), &m.join("xw"), libc::RENAME_EXCHANGE)
    });
    both(&t, "into own subdir", |m| {
        rename2(&m.join("tree"), &m.join("tree/x"), 0)
    });
    both(&t, "hard link onto itself", |m| {
        rename2(&m.join("hl/h1"), &m.join("hl/h2"), 0)
    });
    both(&t, "over a whiteout name", |m| {
        rename2(&m.join("big"), &m.join("hidden"), 0)
    });
    both(&t, "dir over a whiteout name", |m| {
        rename2(&m.join("deep"), &m.join("del_by_upper"), 0)
    });
    both(&t, "create where a dir was", |m| {
        put(&m.join("deep"), b"file now")
    });
    both(&t, "rmdir renamed", |m| {
        for p in ["b_out/c/f", "b_out/c"] {
            if lstat(&m.join(p)).map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)? {
                rmdir(&m.join(p))?;
            } else {
                unlink(&m.join(p))?;
            }
        }
        rmdir(&m.join("b_out"))
    });
    finish(t, "renames");
}

#[test]
fn read_only_without_upper_layer() {
    let Some(mut t) = twins() else { return };
    t.unmount();
    let lowers_only = |l: &Layout| {
        let mut ro = l.clone();
        ro.upper = Default::default();
        ro
    };
    let k = KernelOverlay::mount_lowers(&lowers_only(&t.k)).expect("kernel read-only overlay");
    let f = FuseOverlay::mount(&lowers_only(&t.f), Config::default(), true).expect("ours");
    let a = view(&t.k.mnt);
    let b = view(&t.f.mnt);
    assert_same("read-only view", &a, &b);
    both(&t, "write", |m| {
        open(&m.join("f2"), libc::O_WRONLY, 0).map(drop)
    });
    both(&t, "create", |m| put(&m.join("new"), b"x"));
    both(&t, "unlink", |m| unlink(&m.join("f2")));
    both(&t, "mkdir", |m| mkdir(&m.join("d"), 0o755));
    both(&t, "rename", |m| rename2(&m.join("f1"), &m.join("f9"), 0));
    both(&t, "chmod", |m| chmod(&m.join("f1"), 0o600));
    both(&t, "setxattr", |m| {
        lsetxattr(&m.join("f1"), "user.x", b"1", 0)
    });
    both(&t, "read", |m| read_file(&m.join("big")).map(|v| fnv64(&v)));
    drop(f);
    drop(k);
}

#[test]
fn open_files_follow_copy_up() {
    let Some(t) = twins() else { return };
    both(
        &t,
        "reader opened before the copy-up sees the writer",
        |m| {
            let r = open(&m.join("f2"), libc::O_RDONLY, 0)?;
            let before = pread(r.as_raw_fd(), 64, 0)?;
            append(&m.join("f2"), b"written later\n")?;
            let after = pread(r.as_raw_fd(), 64, 0)?;
            Ok((before, after))
        },
    );
    both(&t, "writer through one name, reader through another", |m| {
        let r = open(&m.join("hl/h2"), libc::O_RDONLY, 0)?;
        let w = open(&m.join("hl/h1"), libc::O_WRONLY, 0)?;
        pwrite(w.as_raw_fd(), b"HARD", 0)?;
        pread(r.as_raw_fd(), 64, 0)
    });
    both(&t, "ftruncate and fchmod through a handle", |m| {
        let w = open(&m.join("big"), libc::O_RDWR, 0)?;
        // SAFETY: a valid descriptor.
        cvt(unsafe { libc::ftruncate(w.as_raw_fd(), 1000) })?;
        // SAFETY: a valid descriptor.
        cvt(unsafe { libc::fchmod(w.as_raw_fd(), 0o600) })?;
        fstat(w.as_raw_fd()).map(|s| (s.st_size, s.st_mode))
    });
    both(&t, "O_TMPFILE then linkat", |m| {
        let fd = open(&m.join("dir_m"), libc::O_TMPFILE | libc::O_RDWR, 0o640)?;
        write(fd.as_raw_fd(), b"anonymous\n")?;
        let src = std::ffi::CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap();
        let dst = cpath(&m.join("dir_m/named"));
        // SAFETY: valid C strings.
        cvt(unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                src.as_ptr(),
                libc::AT_FDCWD,
                dst.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        })?;
        read_file(&m.join("dir_m/named"))
    });
    finish(t, "open files");
}

#[test]
fn removed_directory_reads_empty_while_open() {
    let Some(t) = twins() else { return };
    both(&t, "readdir of an open, removed merged directory", |m| {
        let d = m.join("dir_m");
        let keep = std::fs::File::open(&d).map_err(|e| io_errno(&e))?;
        for n in ["a", "b", "c", "sub/deep/x"] {
            unlink(&d.join(n))?;
        }
        rmdir(&d.join("sub/deep"))?;
        rmdir(&d.join("sub"))?;
        rmdir(&d)?;
        // Through the descriptor opened before the rmdir.
        let fd = std::ffi::CString::new(format!("/proc/self/fd/{}", keep.as_raw_fd())).unwrap();
        let p = Path::new(std::ffi::OsStr::from_bytes(fd.as_bytes()));
        listing(p)
    });
    finish(t, "removed directory");
}
