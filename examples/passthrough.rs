//! Serves a host directory at a mount point over /dev/fuse.
//!
//! ```sh
//! passthrough [OPTIONS] <SOURCE> <MOUNTPOINT>
//! ```
//!
//! Serves until SIGINT/SIGTERM or an external `umount`, then unmounts and exits 0. A bad
//! argument, a missing source or a missing mount point prints one line and exits 2 with
//! nothing mounted.
//!
//! `--attach /PATH=DIR` (repeatable) serves more host directories under the same mount:
//! SOURCE is mounted at `/` of a [`Vfs`] and each DIR at PATH (`--attach /data=/srv/data`
//! shows `/srv/data` at `MOUNTPOINT/data`). PATH is absolute, without `.`, `..` or empty
//! components; directories leading to it that SOURCE lacks are made up (read-only).
//!
//! `--max-inodes N` (without `--attach`) bounds the inodes the daemon holds: a thread
//! asks the kernel to forget the oldest ones beyond N (FUSE_NOTIFY_PRUNE, Linux 6.18+);
//! the kernel forgets those nothing uses.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, ValueEnum};
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::api::{Vfs, VfsOptions};
use fuse_backend_rs::passthrough::{CachePolicy, Config, PassthroughFs};
use fuse_backend_rs::transport::FuseSession;

#[path = "common/daemon.rs"]
mod daemon;
#[path = "common/host_dir.rs"]
mod host_dir;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Cache {
    Never,
    Metadata,
    Auto,
    Always,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FileHandles {
    /// Use file handles when the process may (root): open fds stay bounded.
    Auto,
    /// Always hold one O_PATH fd per inode.
    Never,
    /// Always use file handles.
    Always,
}

/// Serve SOURCE at MOUNTPOINT through FUSE.
#[derive(Debug, Parser)]
#[command(name = "passthrough", version, about)]
struct Cli {
    /// Directory to share.
    source: PathBuf,
    /// Where to mount it.
    mountpoint: PathBuf,
    /// Number of service threads.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,
    /// Kernel caching policy; `never` also makes attributes and names expire at once, so
    /// changes made on the host show immediately.
    #[arg(long, value_enum, default_value_t = Cache::Auto)]
    cache: Cache,
    /// Enable the kernel's writeback cache.
    #[arg(long)]
    writeback: bool,
    /// Support extended attributes (and POSIX ACLs).
    #[arg(long)]
    xattr: bool,
    /// Mount read-only.
    #[arg(long)]
    readonly: bool,
    /// How inodes are held: file handles keep the number of open fds bounded.
    #[arg(long, value_enum, default_value_t = FileHandles::Auto)]
    inode_file_handles: FileHandles,
    /// Let other users access the mount; the kernel checks their permissions against the
    /// file modes (`default_permissions`, always on).
    #[arg(long)]
    allow_other: bool,
    /// Honour set-user-ID and set-group-ID bits on the mount (`suid`; default `nosuid`).
    #[arg(long)]
    suid: bool,
    /// Let device nodes on the mount be opened as devices (`dev`; default `nodev`).
    #[arg(long)]
    dev: bool,
    /// Filesystem name shown in /proc/mounts.
    #[arg(long, default_value = "passthrough")]
    fsname: String,
    /// Longest time, in microseconds, a service thread keeps polling for the next request
    /// before it sleeps; adapted below that to the client (0: sleep at once).
    #[arg(long, value_name = "US", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    busy_poll_us: u64,
    /// Also serve host directory DIR at PATH inside the mount (repeatable).
    #[arg(long, value_name = "/PATH=DIR")]
    attach: Vec<String>,
    /// Ask the kernel to forget the oldest inodes beyond N (NOTIFY_PRUNE; not with
    /// --attach).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_inodes: Option<u64>,
}

/// Every 20 ms, sends the inodes beyond the bound to the kernel for pruning, until the
/// device goes away or the kernel refuses the notification.
fn start_pruner(
    server: Arc<Server<PassthroughFs<()>>>,
    session: &FuseSession,
) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let file = session
        .clone_fuse_file()
        .map_err(|e| format!("--max-inodes: {e}"))?;
    std::thread::Builder::new()
        .name("prune".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 + 8 * Server::<PassthroughFs<()>>::MAX_PRUNE_IDS];
            loop {
                let ids = server
                    .fs()
                    .prune_candidates(Server::<PassthroughFs<()>>::MAX_PRUNE_IDS);
                if ids.is_empty() {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                }
                let sent = fuse_backend_rs::transport::FuseDevWriter::<()>::new(
                    file.as_raw_fd(),
                    &mut buf,
                )
                .map_err(|e| e.to_string())
                .and_then(|w| server.notify_prune(w, &ids).map_err(|e| e.to_string()));
                if let Err(e) = sent {
                    log::warn!("stopping inode pruning: {e}");
                    return;
                }
            }
        })
        .map(drop)
        .map_err(|e| format!("--max-inodes: {e}"))
}

/// Parses one `--attach /PATH=DIR`: the mount path and the canonical directory.
fn parse_attach(arg: &str) -> Result<(String, PathBuf), String> {
    let (path, dir) = arg
        .split_once('=')
        .ok_or_else(|| format!("--attach {arg}: expected /PATH=DIR (no '=')"))?;
    if !path.starts_with('/') {
        return Err(format!("--attach {arg}: path {path:?} is not absolute"));
    }
    let inner = path.strip_prefix('/').unwrap_or(path);
    if inner.is_empty() {
        return Err(format!("--attach {arg}: / is where SOURCE is served"));
    }
    for c in inner.split('/') {
        match c {
            ".." => return Err(format!("--attach {arg}: path {path:?} contains '..'")),
            "" | "." => {
                return Err(format!(
                    "--attach {arg}: path {path:?} has an empty or '.' component"
                ))
            }
            _ => {}
        }
    }
    if dir.is_empty() {
        return Err(format!("--attach {arg}: no directory after '='"));
    }
    let dir = check_dir("directory", Path::new(dir)).map_err(|e| format!("--attach {arg}: {e}"))?;
    Ok((path.to_string(), dir))
}

/// What the mount serves: SOURCE alone, or a Vfs with SOURCE at "/" and the attached
/// directories at their paths.
enum Served {
    Plain(Box<PassthroughFs<()>>),
    Union(Vfs),
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("passthrough: {msg}");
    ExitCode::from(2)
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

fn main() -> ExitCode {
    env_logger::init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help / --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message spans lines (the missing arguments follow the first one);
            // keep everything before the usage text, on one line.
            let text = e.to_string();
            let msg = text
                .split("\n\nUsage")
                .next()
                .and_then(|m| m.split("\n\nFor more").next())
                .unwrap_or("invalid arguments");
            let msg: Vec<&str> = msg.split_whitespace().collect();
            return fail(msg.join(" ").trim_start_matches("error: "));
        }
    };
    let source = match check_dir("source", &cli.source) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let mountpoint = match check_dir("mount point", &cli.mountpoint) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };

    let mut attached: Vec<(String, PathBuf)> = Vec::new();
    for arg in &cli.attach {
        match parse_attach(arg) {
            Ok((path, _)) if attached.iter().any(|(p, _)| *p == path) => {
                return fail(format!("--attach {arg}: {path} is attached twice"));
            }
            Ok(a) => attached.push(a),
            Err(e) => return fail(e),
        }
    }

    if cli.max_inodes.is_some() && !attached.is_empty() {
        return fail("--max-inodes cannot be used with --attach");
    }
    let cache_policy = match cli.cache {
        Cache::Never => CachePolicy::Never,
        Cache::Metadata => CachePolicy::Metadata,
        Cache::Auto => CachePolicy::Auto,
        Cache::Always => CachePolicy::Always,
    };
    host_dir::raise_nofile_limit();
    let (attr_timeout, entry_timeout) = host_dir::timeouts(cache_policy);
    let is_root = nix::unistd::geteuid().is_root();
    let cfg = Config {
        root_dir: source.to_string_lossy().into_owned(),
        cache_policy,
        writeback: cli.writeback,
        xattr: cli.xattr,
        do_import: true,
        inode_file_handles: match cli.inode_file_handles {
            FileHandles::Auto => is_root,
            FileHandles::Never => false,
            FileHandles::Always => true,
        },
        attr_timeout,
        entry_timeout,
        max_inodes: cli.max_inodes.map(|n| n as usize),
        ..Default::default()
    };
    let new_fs = |dir: &Path| {
        let cfg = Config {
            root_dir: dir.to_string_lossy().into_owned(),
            ..cfg.clone()
        };
        PassthroughFs::<()>::new(cfg).map_err(|e| format!("cannot serve {}: {e}", dir.display()))
    };
    let fs = match new_fs(&source) {
        Ok(fs) => fs,
        Err(e) => return fail(e),
    };
    // With --attach: SOURCE at "/" of a Vfs, each DIR at its PATH.
    let what = if attached.is_empty() {
        Served::Plain(Box::new(fs))
    } else {
        let vfs = Vfs::new(VfsOptions::default());
        if let Err(e) = vfs.mount(Box::new(fs), "/") {
            return fail(format!("cannot serve {}: {e}", source.display()));
        }
        for (path, dir) in &attached {
            let backend = match new_fs(dir) {
                Ok(b) => b,
                Err(e) => return fail(e),
            };
            if let Err(e) = vfs.mount(Box::new(backend), path) {
                return fail(format!("cannot attach {} at {path}: {e}", dir.display()));
            }
        }
        Served::Union(vfs)
    };
    let mut session = match FuseSession::new(&mountpoint, &cli.fsname, "", cli.readonly) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    session.set_allow_other(cli.allow_other);
    session.set_suid(cli.suid);
    session.set_dev(cli.dev);
    session.set_busy_poll(std::time::Duration::from_micros(cli.busy_poll_us));
    if let Err(e) = session.mount() {
        return fail(format!("mount failed: {e}"));
    }
    log::info!("serving {} at {}", source.display(), mountpoint.display());
    let threads = cli.threads as usize;
    let served = match what {
        Served::Plain(fs) => {
            let server = Arc::new(Server::new(*fs));
            if cli.max_inodes.is_some() {
                if let Err(e) = start_pruner(server.clone(), &session) {
                    return fail(e);
                }
            }
            daemon::serve(server, session, threads)
        }
        Served::Union(vfs) => {
            for (path, dir) in &attached {
                let at = mountpoint.join(path.trim_start_matches('/'));
                log::info!("serving {} at {}", dir.display(), at.display());
            }
            daemon::serve(Arc::new(Server::new(vfs)), session, threads)
        }
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("passthrough: {e}");
            ExitCode::from(1)
        }
    }
}
