//! Saving and restoring what INIT negotiated (feature `persist`), so that a new process
//! can answer a `/dev/fuse` connection whose INIT an earlier one handled: the kernel
//! sends INIT once per connection, and a server that never saw it refuses every request
//! with EIO.
//!
//! The bytes use the crate's versioned, checksummed envelope (magic `FBRSSRV\0`, format
//! version 1) around the state serialized with serde and postcard.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Negotiated, Server, MAX_BUFFER_SIZE};
use crate::abi::fuse_abi::{FsOptions, KERNEL_MINOR_VERSION, MIN_KERNEL_MINOR_VERSION};
use crate::api::filesystem::FileSystem;
use crate::persist::{self as envelope, Kind, PersistError};

const KIND: Kind = Kind {
    name: "server",
    magic: b"FBRSSRV\0",
    version: 1,
};

/// The negotiated session as saved.
#[derive(Serialize, Deserialize)]
struct SavedSession {
    minor: u32,
    flags: u64,
    max_write: u32,
    max_read: u32,
}

impl<F: FileSystem + Sync> Server<F> {
    /// Saves the session INIT negotiated (protocol minor, options, `max_write` and
    /// `max_read`), for [`restore_from_bytes`](Self::restore_from_bytes) in a server
    /// that takes the connection over. The filesystem's state is saved apart (for a
    /// [`Vfs`](crate::api::vfs::Vfs), `Vfs::save_to_bytes`).
    ///
    /// # Errors
    /// `InvalidInput` before INIT: there is nothing to hand over.
    pub fn save_to_bytes(&self) -> io::Result<Vec<u8>> {
        if !self.initialized.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no session to save: INIT has not been negotiated",
            ));
        }
        let n = **self.negotiated.load();
        let saved = SavedSession {
            minor: n.minor,
            flags: n.flags.bits(),
            max_write: n.max_write,
            max_read: n.max_read,
        };
        Ok(envelope::seal(&KIND, &saved)?)
    }

    /// Continues the session saved by [`save_to_bytes`](Self::save_to_bytes): this
    /// server then answers requests as if it had handled the connection's INIT. Call it
    /// before serving, on a server that has not seen INIT.
    ///
    /// # Errors
    /// `InvalidData` for bytes that are not a saved session of this format version
    /// (truncated, corrupted, another version) or that describe an impossible one;
    /// `InvalidInput` when this server already negotiated a session or its buffers
    /// ([`with_max_write`](Self::with_max_write)) are smaller than the saved session's
    /// `max_write`. On error nothing changes.
    pub fn restore_from_bytes(&self, buf: &[u8]) -> io::Result<()> {
        let s: SavedSession = envelope::open(&KIND, buf)?;
        let flags = FsOptions::from_bits(s.flags)
            .ok_or(PersistError::Inconsistent("unknown option bits"))?;
        if !(MIN_KERNEL_MINOR_VERSION..=KERNEL_MINOR_VERSION).contains(&s.minor)
            || !(4096..=MAX_BUFFER_SIZE).contains(&s.max_write)
            || !(4096..=MAX_BUFFER_SIZE).contains(&s.max_read)
        {
            return Err(PersistError::Inconsistent("protocol limits out of range").into());
        }
        if s.max_write > self.max_write || s.max_read > self.max_write {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the saved session moves {} bytes per request, this server's buffers {}",
                    s.max_write.max(s.max_read),
                    self.max_write
                ),
            ));
        }
        if self.initialized.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "this server already negotiated a session",
            ));
        }
        self.negotiated.store(Arc::new(Negotiated {
            minor: s.minor,
            flags,
            max_write: s.max_write,
            max_read: s.max_read,
        }));
        self.initialized.store(true, Ordering::Release);
        log::info!(
            "fuse session restored: protocol 7.{}, max_write {}, options {:?}",
            s.minor,
            s.max_write,
            flags
        );
        Ok(())
    }
}
