//! Directory redirects against the kernel's overlay: redirects followed layer by layer
//! (a redirect that leads to a directory renamed in a lower layer), and redirect
//! values no overlay writes (`.`/`..` components), which must not expose a parent or a
//! layer root.
//!
//! Needs root and /dev/fuse; with CI=true a test that cannot mount fails.

#![cfg(feature = "fusedev")]

mod common;
mod common_overlay;

use std::fmt::Debug;
use std::path::Path;

use common::*;
use common_overlay::*;
use fuse_backend_rs::overlayfs::Config;

/// Runs `f` on both mounts; the results must be equal.
#[track_caller]
fn both<T: PartialEq + Debug>(t: &Twins, what: &str, f: impl Fn(&Path) -> Res<T>) {
    let _ = same(t, what, f);
}

/// [`both`], returning the (common) result.
#[track_caller]
fn same<T: PartialEq + Debug>(t: &Twins, what: &str, f: impl Fn(&Path) -> Res<T>) -> Res<T> {
    let a = f(&t.k.mnt);
    let b = f(&t.f.mnt);
    assert_eq!(
        a.as_ref().map_err(|e| errname(*e)),
        b.as_ref().map_err(|e| errname(*e)),
        "{what}: kernel (left) and ours (right) differ"
    );
    a
}

/// unionmount-testsuite's rename-move-dir over three layers: `a/d` is renamed to `a/dx`
/// in one upper layer, which then becomes a lower layer of an overlay where `a/dx`
/// moves to `a/e/d`. The new upper's redirect says `/a/dx`, which in the layer below is
/// itself a redirect to `a/d`: the content of the bottom layer's `a/d` must show. Same
/// for `a/dx/s` moved to `a/e/s`, where the redirected `dx` is on the way.
#[test]
fn redirect_to_a_directory_renamed_in_a_lower_layer() {
    let Some(mut t) = Twins::new(1, Config::default(), |l| {
        let low = &l.lowers[0];
        std::fs::create_dir_all(low.join("a/d")).unwrap();
        std::fs::create_dir_all(low.join("a/e")).unwrap();
        std::fs::write(low.join("a/d/f"), b"in d\n").unwrap();
        std::fs::create_dir_all(low.join("a/d/s")).unwrap();
        std::fs::write(low.join("a/d/s/g"), b"in s\n").unwrap();
    }) else {
        return;
    };
    same(&t, "rename a/d a/dx", |m| {
        rename2(&m.join("a/d"), &m.join("a/dx"), 0)
    })
    .unwrap();
    t.assert_same_view("after the first rename");
    t.unmount();
    t.assert_same_upper("first upper layer");

    t.push_upper();
    t.mount().expect("mount over the first upper layer");
    t.assert_same_view("first upper layer as a lower one");
    // Redirected to `/a/dx/s`: `dx` on the way is itself redirected in the layer below.
    same(&t, "mv a/dx/s a/e/s", |m| {
        rename2(&m.join("a/dx/s"), &m.join("a/e/s"), 0)
    })
    .unwrap();
    same(&t, "mv a/dx a/e/d", |m| {
        rename2(&m.join("a/dx"), &m.join("a/e/d"), 0)
    })
    .unwrap();
    both(&t, "ls a/e/d, mounted", |m| listing(&m.join("a/e/d")));
    t.unmount();
    t.assert_same_upper("second upper layer");

    t.mount().expect("remount");
    let seen = same(&t, "ls a/e/d, remounted", |m| listing(&m.join("a/e/d")));
    assert_eq!(seen, Ok(vec![("f".to_string(), 'f')]));
    both(&t, "read a/e/d/f", |m| read_file(&m.join("a/e/d/f")));
    let seen = same(&t, "ls a/e/s, remounted", |m| listing(&m.join("a/e/s")));
    assert_eq!(seen, Ok(vec![("g".to_string(), 'f')]));
    both(&t, "a/dx is gone", |m| lstat(&m.join("a/dx")).map(drop));
    t.assert_same_view("remounted");
    t.unmount();
}

/// The redirect values a layer may carry that name the directory itself, its parent or
/// the layer root.
const DOT_REDIRECTS: [(&str, &[u8]); 4] = [
    ("dot", b"."),
    ("dotdot", b".."),
    ("root_dotdot", b"/.."),
    ("deep_dotdot", b"/../../.."),
];

/// A layer whose upper directories carry redirects with `.` or `..` components: the
/// kernel fails their lookup (EACCES, its answer for such a name); ours must too, and
/// never show the parent or the layer root in their place.
#[test]
fn dot_and_dotdot_redirects_are_refused() {
    let Some(mut t) = Twins::new(1, Config::default(), |l| {
        let low = &l.lowers[0];
        std::fs::create_dir_all(low.join("a/sub")).unwrap();
        std::fs::write(low.join("a/sub/f"), b"lower\n").unwrap();
        std::fs::write(low.join("top"), b"root file\n").unwrap();
        for (name, value) in DOT_REDIRECTS {
            let d = l.upper.join("a").join(name);
            std::fs::create_dir_all(&d).unwrap();
            lsetxattr(&d, "trusted.overlay.redirect", value, 0).unwrap();
        }
        // Well-formed but not the kernel's: EINVAL.
        let d = l.upper.join("a/slashed");
        std::fs::create_dir_all(&d).unwrap();
        lsetxattr(&d, "trusted.overlay.redirect", b"sub/..", 0).unwrap();
    }) else {
        return;
    };
    for (name, _) in DOT_REDIRECTS {
        let rel = format!("a/{name}");
        let r = same(&t, &format!("lstat {rel}"), |m| {
            lstat(&m.join(&rel)).map(|s| type_char(s.st_mode))
        });
        assert_eq!(r.map_err(errname), Err(errname(libc::EACCES)), "{rel}");
        both(&t, &format!("ls {rel}"), |m| listing(&m.join(&rel)));
        both(&t, &format!("{rel}/top"), |m| {
            read_file(&m.join(&rel).join("top"))
        });
        both(&t, &format!("{rel}/sub/f"), |m| {
            read_file(&m.join(&rel).join("sub/f"))
        });
    }
    let r = same(&t, "lstat a/slashed", |m| {
        lstat(&m.join("a/slashed")).map(drop)
    });
    assert_eq!(r.map_err(errname), Err(errname(libc::EINVAL)));
    both(&t, "ls a", |m| listing(&m.join("a")));
    both(&t, "a/sub/f", |m| read_file(&m.join("a/sub/f")));
    t.unmount();
}
