//! Serves an overlay of host directories at a mount point over /dev/fuse, with the
//! kernel overlay's option syntax.
//!
//! ```sh
//! overlay -o lowerdir=L1:L2,upperdir=U,workdir=W [-o OPTIONS] [--threads N] <MOUNTPOINT>
//! ```
//!
//! `lowerdir` lists the lower layers top first (`\:` and `\\` escape a colon or a
//! backslash in a path). Without `upperdir` (and `workdir`) the mount is read-only.
//! `workdir` must be on the same filesystem as `upperdir`, and neither may contain the
//! other. Other options: `userxattr`, `redirect_dir=on|off`, `index=on|off`, `volatile`,
//! `ro`, `allow_other`, `cache=never|auto|always`, `fsname=NAME`; `metacopy=off`,
//! `xino=off|auto` and `rw` are accepted for compatibility with kernel command lines.
//!
//! Serves until SIGINT/SIGTERM or an external `umount`, then unmounts and exits 0. A bad
//! option, a missing directory or a work directory on another filesystem prints one
//! line and exits 2 with nothing mounted.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::overlayfs::{CachePolicy, Config, DynLayer, OverlayFs};
use fuse_backend_rs::passthrough::{self, PassthroughFs};
use fuse_backend_rs::transport::FuseSession;

#[path = "common/daemon.rs"]
mod daemon;

/// Serve an overlay of host directories at MOUNTPOINT through FUSE.
#[derive(Debug, Parser)]
#[command(name = "overlay", version, about)]
struct Cli {
    /// Mount options, comma separated (repeatable): lowerdir=L1:L2,upperdir=U,workdir=W,...
    #[arg(short = 'o', value_name = "OPTIONS", required = true)]
    options: Vec<String>,
    /// Number of service threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,
    /// Where to mount the overlay.
    mountpoint: PathBuf,
}

/// The parsed `-o` options.
#[derive(Debug, Default)]
struct Opts {
    lower: Vec<PathBuf>,
    upper: Option<PathBuf>,
    work: Option<PathBuf>,
    userxattr: bool,
    redirect_dir: bool,
    index: bool,
    volatile: bool,
    readonly: bool,
    allow_other: Option<bool>,
    cache: CachePolicy,
    fsname: String,
}

/// Splits `lowerdir=` at unescaped colons.
fn split_lower(v: &str) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.push(chars.next().ok_or("lowerdir: trailing backslash")?),
            ':' => out.push(PathBuf::from(std::mem::take(&mut cur))),
            c => cur.push(c),
        }
    }
    out.push(PathBuf::from(cur));
    if out.iter().any(|p| p.as_os_str().is_empty()) {
        return Err(format!("lowerdir={v}: empty layer"));
    }
    Ok(out)
}

fn on_off(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(format!("{key}={v}: expected on or off")),
    }
}

fn parse_options(list: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        redirect_dir: true,
        index: true,
        fsname: "overlay".into(),
        ..Default::default()
    };
    for opt in list
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.is_empty())
    {
        let (key, val) = match opt.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (opt, None),
        };
        match (key, val) {
            ("lowerdir", Some(v)) => o.lower = split_lower(v)?,
            ("upperdir", Some(v)) if !v.is_empty() => o.upper = Some(v.into()),
            ("workdir", Some(v)) if !v.is_empty() => o.work = Some(v.into()),
            ("userxattr", None) => o.userxattr = true,
            ("redirect_dir", Some(v)) => o.redirect_dir = on_off(key, v)?,
            ("index", Some(v)) => o.index = on_off(key, v)?,
            ("volatile", None) => o.volatile = true,
            ("ro", None) => o.readonly = true,
            ("rw", None) => o.readonly = false,
            ("allow_other", None) => o.allow_other = Some(true),
            ("metacopy", Some("off")) | ("xino", Some("off" | "auto")) => {}
            ("cache", Some(v)) => {
                o.cache = v.parse().map_err(|e| format!("cache={v}: {e}"))?;
            }
            ("fsname", Some(v)) if !v.is_empty() => o.fsname = v.into(),
            _ => return Err(format!("unknown or malformed option {opt:?}")),
        }
    }
    if o.lower.is_empty() {
        return Err("missing option lowerdir=".into());
    }
    match (&o.upper, &o.work) {
        (Some(_), None) => return Err("upperdir= needs workdir=".into()),
        (None, Some(_)) => return Err("workdir= needs upperdir=".into()),
        _ => {}
    }
    Ok(o)
}

fn check_dir(what: &str, p: &Path) -> Result<PathBuf, String> {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => p
            .canonicalize()
            .map_err(|e| format!("{what} {}: {e}", p.display())),
        Ok(_) => Err(format!("{what} {} is not a directory", p.display())),
        Err(e) => Err(format!("{what} {}: {e}", p.display())),
    }
}

/// Upper and work directory must be on one filesystem and apart (as the kernel wants).
fn check_upper_work(upper: &Path, work: &Path) -> Result<(), String> {
    let dev = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.dev())
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    if dev(upper)? != dev(work)? {
        return Err(format!(
            "workdir {} is on another filesystem than upperdir {}",
            work.display(),
            upper.display()
        ));
    }
    if upper.starts_with(work) || work.starts_with(upper) {
        return Err(format!(
            "workdir {} and upperdir {} must not contain each other",
            work.display(),
            upper.display()
        ));
    }
    Ok(())
}

fn layer(dir: &Path) -> Result<Arc<DynLayer>, String> {
    let cfg = passthrough::Config {
        root_dir: dir.to_string_lossy().into_owned(),
        xattr: true,
        do_import: true,
        inode_file_handles: nix::unistd::geteuid().is_root(),
        ..Default::default()
    };
    PassthroughFs::<()>::new(cfg)
        .map(|fs| Arc::new(fs) as Arc<DynLayer>)
        .map_err(|e| format!("cannot serve {}: {e}", dir.display()))
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("overlay: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    env_logger::init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            return fail(first.trim_start_matches("error: "));
        }
    };
    let o = match parse_options(&cli.options) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let dirs = (|| -> Result<_, String> {
        let lower = o
            .lower
            .iter()
            .map(|p| check_dir("lowerdir", p))
            .collect::<Result<Vec<_>, _>>()?;
        let upper = o
            .upper
            .as_deref()
            .map(|p| check_dir("upperdir", p))
            .transpose()?;
        let work = o
            .work
            .as_deref()
            .map(|p| check_dir("workdir", p))
            .transpose()?;
        if let (Some(u), Some(w)) = (&upper, &work) {
            check_upper_work(u, w)?;
        }
        let mnt = check_dir("mount point", &cli.mountpoint)?;
        Ok((lower, upper, work, mnt))
    })();
    let (lower, upper, work, mountpoint) = match dirs {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let layers = (|| -> Result<_, String> {
        let upper = upper.as_deref().map(layer).transpose()?;
        let lowers = lower
            .iter()
            .map(|p| layer(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((upper, lowers))
    })();
    let (upper_layer, lowers) = match layers {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let readonly = o.readonly || upper_layer.is_none();
    let cfg = Config {
        mountpoint: mountpoint.to_string_lossy().into_owned(),
        work: work
            .as_ref()
            .map(|w| w.to_string_lossy().into_owned())
            .unwrap_or_default(),
        userxattr: o.userxattr,
        redirect_dir: o.redirect_dir,
        index: o.index,
        fsync: !o.volatile,
        cache_policy: o.cache,
        ..Default::default()
    };
    let upper_layer = if o.readonly { None } else { upper_layer };
    let fs = match OverlayFs::with_layers(upper_layer, lowers, cfg) {
        Ok(fs) => fs,
        Err(e) => return fail(format!("cannot build the overlay: {e}")),
    };
    let mut session = match FuseSession::new(&mountpoint, &o.fsname, "overlay", readonly) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    // Permissions are checked by the kernel on the merged attributes, as for the
    // kernel overlay; every user may use the mount when the daemon runs as root.
    session.set_default_permissions(true);
    session.set_allow_other(o.allow_other.unwrap_or(nix::unistd::geteuid().is_root()));
    if let Err(e) = session.mount() {
        return fail(format!("mount failed: {e}"));
    }
    log::info!("serving the overlay at {}", mountpoint.display());
    match daemon::serve(Arc::new(Server::new(fs)), session, cli.threads as usize) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("overlay: {e}");
            ExitCode::from(1)
        }
    }
}
