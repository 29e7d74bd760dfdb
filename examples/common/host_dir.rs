//! Setup shared by the example daemons that serve a host directory.

use std::time::Duration;

use fuse_backend_rs::passthrough::{CachePolicy, Config};

/// Raises the soft limit on open files to the hard limit, as file servers usually do:
/// a passthrough daemon holds descriptors for the files its clients use. Failure only
/// leaves the limit where it was.
pub fn raise_nofile_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                log::warn!("cannot raise RLIMIT_NOFILE from {soft} to {hard}: {e}");
            }
        }
        Ok(_) => {}
        Err(e) => log::warn!("cannot read RLIMIT_NOFILE: {e}"),
    }
}

/// Attribute and entry timeouts for `policy`: zero for `Never`, so changes made on the
/// host show at once (as virtiofsd does), the driver's defaults otherwise.
pub fn timeouts(policy: CachePolicy) -> (Duration, Duration) {
    let default = Config::default();
    match policy {
        CachePolicy::Never => (Duration::ZERO, Duration::ZERO),
        _ => (default.attr_timeout, default.entry_timeout),
    }
}
