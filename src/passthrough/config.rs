//! Configuration of the passthrough driver: [`Config`] and [`CachePolicy`].

use std::str::FromStr;
use std::time::Duration;

/// How much the client may cache file data and directory contents.
///
/// FUSE gives close-to-open consistency by default: what the client cached of a file is
/// dropped when the file is opened again. The policies loosen or tighten that.
#[derive(Debug, Default, Clone, Copy, Eq, PartialEq)]
pub enum CachePolicy {
    /// No data caching: every open is `FOPEN_DIRECT_IO`, so reads and writes always reach
    /// the host. Pick this when others change the shared directory behind the client.
    Never,
    /// Like `Never` for file data, but directory contents (`FOPEN_CACHE_DIR`) and metadata
    /// are cached as with `Always`. For shares where data changes but the tree does not.
    Metadata,
    /// The kernel's default close-to-open behaviour (no open flags are set).
    #[default]
    Auto,
    /// Keep cached data across opens (`FOPEN_KEEP_CACHE`, `FOPEN_CACHE_DIR`). Only safe
    /// when the client has the directory to itself.
    Always,
}

impl FromStr for CachePolicy {
    type Err = &'static str;

    /// Parses `never`/`none`, `metadata`, `auto` and `always` (any letter case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "never" | "none" => Ok(CachePolicy::Never),
            "metadata" => Ok(CachePolicy::Metadata),
            "auto" => Ok(CachePolicy::Auto),
            "always" => Ok(CachePolicy::Always),
            _ => Err("invalid cache policy: expected never, metadata, auto or always"),
        }
    }
}

/// Options of a [`PassthroughFs`](super::PassthroughFs).
///
/// Build it with struct update syntax from `Config::default()`, so that fields added later
/// keep their defaults.
#[derive(Debug, Clone, Eq, PartialEq)]
pub struct Config {
    /// How long the client may cache attributes. Default 5 s.
    pub attr_timeout: Duration,
    /// How long the client may cache name lookups. Default 5 s.
    pub entry_timeout: Duration,
    /// Overrides `attr_timeout` for directories when set. Default `None`.
    pub dir_attr_timeout: Option<Duration>,
    /// Overrides `entry_timeout` for directories when set. Default `None`.
    pub dir_entry_timeout: Option<Duration>,
    /// Data caching policy. Default [`CachePolicy::Auto`].
    pub cache_policy: CachePolicy,
    /// Ask for the kernel's writeback cache (FUSE_WRITEBACK_CACHE): the client gathers
    /// writes and may read from files opened write-only, so files are opened read-write
    /// on the host. Only safe when the client has the directory to itself. Default `false`.
    pub writeback: bool,
    /// The host directory to share. Default `/`.
    pub root_dir: String,
    /// Support extended attributes (and POSIX ACLs, passed through as
    /// `system.posix_acl_*` attributes). Without it the xattr operations answer ENOSYS.
    /// Default `false`.
    pub xattr: bool,
    /// Open the root directory in [`PassthroughFs::new`](super::PassthroughFs::new); when
    /// `false`, call [`import`](super::PassthroughFs::import) before serving. Default `true`.
    pub do_import: bool,
    /// Ask the kernel to skip OPEN (FUSE_ZERO_MESSAGE_OPEN). Honoured only together with
    /// [`CachePolicy::Always`], because without OPEN replies the kernel caches file data
    /// as `Always` does. Default `false`.
    pub no_open: bool,
    /// Ask the kernel to skip OPENDIR (FUSE_ZERO_MESSAGE_OPENDIR). Default `false`.
    pub no_opendir: bool,
    /// Ask for FUSE_HANDLE_KILLPRIV_V2: the driver clears set-user-ID and set-group-ID
    /// bits on writes, truncation and chown when the kernel asks. Default `false`.
    pub killpriv_v2: bool,
    /// Remember inodes by file handle (`name_to_handle_at`) instead of keeping an `O_PATH`
    /// descriptor per inode, so the number of open descriptors stays bounded however many
    /// files the client looks up. Needs `CAP_DAC_READ_SEARCH`; falls back to `O_PATH`
    /// descriptors (with a warning) when handles are not available. Default `false`.
    pub inode_file_handles: bool,
    /// Make every directory look empty to readdir. Default `false`.
    pub no_readdir: bool,
    /// Refuse (EPERM) every change of a file's size: writes past the end, truncation,
    /// size-changing fallocate and copies. Default `false`.
    pub seal_size: bool,
    /// Tell inodes apart by mount ID too, so the same file bind-mounted twice shows up as
    /// two inodes. Default `false`.
    pub enable_mntid: bool,
    /// DAX is enabled for files of at least this size (`None`: never). Not used by this
    /// driver yet (no DAX mappings). Default `None`.
    pub dax_file_size: Option<u64>,
    /// Use the host inode number as the FUSE node ID when it is below 2^47 and the file is
    /// on the root directory's device; other files get numbers from 2^47 up. Saves the
    /// client nothing but makes node IDs stable across restarts. Default `false`.
    pub use_host_ino: bool,
    /// Honour O_DIRECT in the host open flags; when `false` it is dropped (the client still
    /// bypasses its own page cache for O_DIRECT opens). Default `false`, unlike upstream:
    /// the transport buffers that file data moves through are not aligned to the host
    /// device's blocks, so O_DIRECT host I/O would fail with EINVAL.
    pub allow_direct_io: bool,
    /// Upper bound on the `O_PATH` descriptors cached for inodes kept as file handles
    /// (see `inode_file_handles`). A request on an inode that is not cached reopens it
    /// (`open_by_handle_at`), so a cache smaller than the client's working set costs a
    /// system call per request. Default 4096; [`PassthroughFs::new`](super::PassthroughFs::new)
    /// lowers it to half the process's soft `RLIMIT_NOFILE` when that is smaller, so the
    /// cache alone never exhausts the descriptors.
    pub inode_fd_cache_size: usize,
    /// Bound on the inodes the kernel holds through this driver (the root aside), or
    /// `None` (the default) for no bound. Beyond it the driver offers the oldest inodes
    /// for pruning through [`PassthroughFs::prune_candidates`](super::PassthroughFs::prune_candidates);
    /// the transport's owner sends them to the kernel with
    /// [`Server::notify_prune`](crate::api::server::Server::notify_prune) (FUSE 7.45),
    /// and the kernel FORGETs those it does not use. So the driver's memory stays near
    /// the bound, but only as far as the kernel honours the requests.
    pub max_inodes: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            attr_timeout: Duration::from_secs(5),
            entry_timeout: Duration::from_secs(5),
            dir_attr_timeout: None,
            dir_entry_timeout: None,
            cache_policy: CachePolicy::default(),
            writeback: false,
            root_dir: String::from("/"),
            xattr: false,
            do_import: true,
            no_open: false,
            no_opendir: false,
            killpriv_v2: false,
            inode_file_handles: false,
            no_readdir: false,
            seal_size: false,
            enable_mntid: false,
            dax_file_size: None,
            use_host_ino: false,
            allow_direct_io: false,
            inode_fd_cache_size: 4096,
            max_inodes: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_policy_parses() {
        assert_eq!("never".parse(), Ok(CachePolicy::Never));
        assert_eq!("NONE".parse(), Ok(CachePolicy::Never));
        assert_eq!("Metadata".parse(), Ok(CachePolicy::Metadata));
        assert_eq!("auto".parse(), Ok(CachePolicy::Auto));
        assert_eq!("ALWAYS".parse(), Ok(CachePolicy::Always));
        assert!("sometimes".parse::<CachePolicy>().is_err());
        assert_eq!(CachePolicy::default(), CachePolicy::Auto);
    }

    #[test]
    fn config_defaults() {
        let c = Config::default();
        assert_eq!(c.attr_timeout, Duration::from_secs(5));
        assert!(c.do_import && !c.allow_direct_io && !c.xattr && !c.inode_file_handles);
        assert_eq!(c.root_dir, "/");
    }
}
