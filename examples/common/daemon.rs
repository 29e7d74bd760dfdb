//! Serving loop shared by the example daemons: service threads, one channel each, until
//! SIGINT/SIGTERM or an external unmount; then a clean unmount.

use std::io;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;

use fuse_backend_rs::api::filesystem::FileSystem;
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::transport::{FuseChannel, FuseSession};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Why serving stopped.
#[derive(Debug)]
enum Stop {
    Signal(i32),
    ThreadExited,
}

fn service_loop<F: FileSystem + Sync>(server: &Server<F>, mut ch: FuseChannel) {
    loop {
        let (reader, writer) = match ch.get_request() {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) => {
                log::error!("failed to read a fuse request: {e}");
                return;
            }
        };
        match server.handle_message(reader, writer.into(), None, None) {
            Ok(_) => {}
            Err(fuse_backend_rs::Error::EncodeMessage(e))
                if matches!(e.raw_os_error(), Some(libc::ENODEV) | Some(libc::EBADF)) =>
            {
                // The connection is gone (unmounted).
                return;
            }
            Err(e) => log::debug!("request failed: {e}"),
        }
    }
}

/// Serves `server` on the mounted `session` with `threads` service threads until a signal
/// or an external unmount, then unmounts.
pub fn serve<F>(server: Arc<Server<F>>, mut session: FuseSession, threads: usize) -> io::Result<()>
where
    F: FileSystem + Sync + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Stop>();
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let sig_handle = signals.handle();
    let sig_tx = tx.clone();
    let sig_thread = thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let _ = sig_tx.send(Stop::Signal(sig));
            }
        })?;

    let mut workers = Vec::with_capacity(threads);
    for i in 0..threads.max(1) {
        let ch = session.new_channel().map_err(io::Error::other)?;
        let server = server.clone();
        let tx = tx.clone();
        workers.push(
            thread::Builder::new()
                .name(format!("fuse-{i}"))
                .spawn(move || {
                    service_loop(&server, ch);
                    let _ = tx.send(Stop::ThreadExited);
                })?,
        );
    }
    drop(tx);

    match rx.recv().unwrap_or(Stop::ThreadExited) {
        Stop::Signal(sig) => log::info!("stopping on signal {sig}"),
        Stop::ThreadExited => log::info!("stopping: the session ended"),
    }
    session.umount().map_err(io::Error::other)?;
    session.wake().map_err(io::Error::other)?;
    for w in workers {
        let _ = w.join();
    }
    sig_handle.close();
    let _ = sig_thread.join();
    Ok(())
}
