//! INIT negotiation of the [`Vfs`]: which options its backends may enable.

use std::io;

use super::super::Vfs;
use crate::abi::fuse_abi::FsOptions;
use crate::api::filesystem::FileSystem;

/// Options a backend must implement for them to be safe to enable: enabled only when every
/// backend mounted at INIT asks for them (and the Vfs options do not veto them).
fn backend_sensitive() -> FsOptions {
    FsOptions::WRITEBACK_CACHE
        | FsOptions::ZERO_MESSAGE_OPEN
        | FsOptions::ZERO_MESSAGE_OPENDIR
        | FsOptions::HANDLE_KILLPRIV
        | FsOptions::HANDLE_KILLPRIV_V2
        | FsOptions::POSIX_ACL
        | FsOptions::SETXATTR_EXT
        | FsOptions::CREATE_SUPP_GROUP
        | FsOptions::POSIX_LOCKS
        | FsOptions::FLOCK_LOCKS
        | FsOptions::DO_READDIRPLUS
        | FsOptions::READDIRPLUS_AUTO
}

impl Vfs {
    /// Asks every mounted backend what it wants and grants the kernel the options
    /// all of them (and the Vfs options) allow; see [`FileSystem::init`].
    pub(super) fn negotiate_init(&self, capable: FsOptions) -> io::Result<FsOptions> {
        let opts = self.options();
        let mut wanted_by_all: Option<FsOptions> = None;
        for m in self.all_mounted() {
            let w = m.fs.init(capable)?;
            wanted_by_all = Some(wanted_by_all.map_or(w, |acc| acc & w));
        }
        let mut sensitive = wanted_by_all.unwrap_or(FsOptions::empty()) & backend_sensitive();
        if opts.no_writeback {
            sensitive.remove(FsOptions::WRITEBACK_CACHE);
        }
        if !opts.no_open {
            sensitive.remove(FsOptions::ZERO_MESSAGE_OPEN);
        }
        if !opts.no_opendir {
            sensitive.remove(FsOptions::ZERO_MESSAGE_OPENDIR);
        }
        if !opts.killpriv_v2 {
            sensitive.remove(FsOptions::HANDLE_KILLPRIV_V2);
        }
        let generic = opts.out_opts & !backend_sensitive();
        let enabled = capable & (generic | sensitive);
        // Tell each backend what was finally granted, so none acts on an option the
        // kernel will not use (e.g. dropping O_APPEND for a writeback cache that is off).
        for m in self.all_mounted() {
            m.fs.init(enabled)?;
        }
        self.set_initialized(capable, enabled);
        Ok(enabled)
    }
}
