//! Configuration of the overlay driver: [`Config`] and [`CachePolicy`].

use std::str::FromStr;
use std::time::Duration;

/// How much the client may cache file data and directory contents (as for the
/// passthrough driver).
#[derive(Debug, Default, Clone, Copy, Eq, PartialEq)]
pub enum CachePolicy {
    /// No data caching: every open is `FOPEN_DIRECT_IO`.
    Never,
    /// The kernel's default close-to-open behaviour.
    #[default]
    Auto,
    /// Keep cached data across opens (`FOPEN_KEEP_CACHE`, `FOPEN_CACHE_DIR`). Only safe when
    /// nothing changes the layers behind the overlay's back.
    Always,
}

impl FromStr for CachePolicy {
    type Err = &'static str;

    /// Parses `never`/`none`, `auto` and `always` (any letter case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "never" | "none" => Ok(CachePolicy::Never),
            "auto" => Ok(CachePolicy::Auto),
            "always" => Ok(CachePolicy::Always),
            _ => Err("invalid cache policy: expected never, auto or always"),
        }
    }
}

/// Options of an [`OverlayFs`](super::OverlayFs).
///
/// Build it with struct update syntax from `Config::default()`, so that fields added later
/// keep their defaults. The kernel overlay's mount options map as follows:
/// `workdir=` is [`work`](Config::work), `userxattr` is [`userxattr`](Config::userxattr),
/// `redirect_dir=on|off` is [`redirect_dir`](Config::redirect_dir), `index=on|off` is
/// [`index`](Config::index) and `volatile` is `fsync: false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The mount point, for messages only.
    pub mountpoint: String,
    /// The work directory: a directory on the same host filesystem as the upper layer,
    /// neither inside it nor containing it. Required when there is an upper layer; the
    /// overlay keeps `work/` (files being copied up, removed trees being cleaned) and
    /// `index/` (copied-up hard links) in it.
    pub work: String,
    /// Build the root in [`OverlayFs::new`](super::OverlayFs::new); when `false`, call
    /// [`import`](super::OverlayFs::import) before serving. Default `true`.
    pub do_import: bool,
    /// Ask for the kernel's writeback cache. Default `false`.
    pub writeback: bool,
    /// Accepted for compatibility; the overlay always handles OPEN. Default `false`.
    pub no_open: bool,
    /// Accepted for compatibility; the overlay always handles OPENDIR (its directory
    /// offsets live in the handle). Default `false`.
    pub no_opendir: bool,
    /// Accepted for compatibility; not used. Default `false`.
    pub killpriv_v2: bool,
    /// Make every directory look empty to readdir. Default `false`.
    pub no_readdir: bool,
    /// Accepted for compatibility; not used. Default `false`.
    pub perfile_dax: bool,
    /// Data caching policy. Default [`CachePolicy::Auto`].
    pub cache_policy: CachePolicy,
    /// How long the client may cache attributes. Default 1 s.
    pub attr_timeout: Duration,
    /// How long the client may cache name lookups. Default 1 s. Names of lower files with
    /// several hard links are never cached (see `docs/overlayfs.md`).
    pub entry_timeout: Duration,
    /// Keep the overlay's own extended attributes in `user.overlay.*` instead of
    /// `trusted.overlay.*`, for layers the daemon may not set trusted attributes on (the
    /// kernel's `userxattr`). Whiteouts are still 0/0 character devices when the upper
    /// layer lets the daemon make them, and `user.overlay.whiteout` files otherwise.
    /// Default `false`.
    pub userxattr: bool,
    /// Rename merged and lower directories by recording where their lower part lives in
    /// a redirect attribute (the kernel's `redirect_dir=on`). When `false` such renames
    /// fail with EXDEV, as the kernel's `redirect_dir=off`. Default `true`.
    pub redirect_dir: bool,
    /// Keep a lower file with several hard links one inode after copy-up (the kernel's
    /// `index=on`). When `false`, copying up one name breaks the link. Default `true`.
    pub index: bool,
    /// Sync copied-up data before it becomes visible, so that not even a host crash can
    /// leave a partly copied file. `false` is the kernel's `volatile`. Default `true`.
    pub fsync: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            mountpoint: String::new(),
            work: String::new(),
            do_import: true,
            writeback: false,
            no_open: false,
            no_opendir: false,
            killpriv_v2: false,
            no_readdir: false,
            perfile_dax: false,
            cache_policy: CachePolicy::default(),
            attr_timeout: Duration::from_secs(1),
            entry_timeout: Duration::from_secs(1),
            userxattr: false,
            redirect_dir: true,
            index: true,
            fsync: true,
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
        assert_eq!("Auto".parse(), Ok(CachePolicy::Auto));
        assert_eq!("always".parse(), Ok(CachePolicy::Always));
        assert!("metadata".parse::<CachePolicy>().is_err());
    }

    #[test]
    fn defaults_follow_the_kernel_strong_mode() {
        let c = Config::default();
        assert!(c.do_import && c.redirect_dir && c.index && c.fsync && !c.userxattr);
        assert_eq!(c.entry_timeout, Duration::from_secs(1));
    }
}
