//! A vhost-user-fs backend: serves a host directory to a virtual machine over virtio-fs.
//!
//! ```sh
//! vhost_user_fs --socket-path PATH --shared-dir DIR [--cache auto|always|never|metadata]
//!               [--thread-pool-size N] [--xattr] [--writeback]
//!               [--inode-file-handles never|prefer|mandatory] [--log-level LEVEL]
//! ```
//!
//! The flags are virtiofsd's, so QEMU and libvirt setups can swap this daemon in. It
//! listens on PATH for one vhost-user frontend (QEMU's `vhost-user-fs-pci`), serves the
//! guest until the frontend disconnects, then removes the socket and exits 0. SIGINT and
//! SIGTERM do the same. A bad flag or a missing shared directory prints one line and exits
//! 2; a failure while serving exits 1.
//!
//! Requests are served by the queue's thread (`--thread-pool-size 0`, the default) or by
//! a pool of N worker threads, each completing its own requests. See `docs/virtiofs.md`.

#[path = "common/host_dir.rs"]
mod host_dir;

use std::cell::Cell;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::thread;

use clap::{Parser, ValueEnum};
use fuse_backend_rs::abi::fuse_abi::{InHeader, OutHeader};
use fuse_backend_rs::api::server::{MetricsHook, Server};
use fuse_backend_rs::passthrough::{CachePolicy, Config, PassthroughFs};
use fuse_backend_rs::transport::{reader_writer_from_descriptor_chain, ReplySink};
use log::{debug, error, info, warn};
use vhost::vhost_user::message::{VhostUserProtocolFeatures, VhostUserVirtioFeatures};
use vhost_user_backend::{VhostUserBackend, VhostUserDaemon, VringMutex, VringT};
use virtio_bindings::bindings::virtio_config::VIRTIO_F_VERSION_1;
use virtio_bindings::bindings::virtio_ring::{
    VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
};
use virtio_queue::{DescriptorChain, QueueT};
use vm_memory::{GuestAddressSpace, GuestMemoryAtomic, GuestMemoryMmap};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::event::{
    new_event_consumer_and_notifier, EventConsumer, EventFlag, EventNotifier,
};

/// The high-priority queue (FORGET) and one request queue.
const NUM_QUEUES: usize = 2;
/// Largest queue the frontend may set up.
const MAX_QUEUE_SIZE: usize = 1024;

type GuestMem = GuestMemoryMmap<()>;
type AtomicMem = GuestMemoryAtomic<GuestMem>;
type Vring = VringMutex<AtomicMem>;
type FsServer = Server<PassthroughFs<()>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Cache {
    Never,
    Metadata,
    Auto,
    Always,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum FileHandles {
    /// One O_PATH fd per inode the guest knows.
    Never,
    /// File handles when the host allows them (root), else O_PATH fds.
    Prefer,
    /// File handles (falls back with a warning when the host refuses them).
    Mandatory,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogLevel {
    Off,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// vhost-user-fs backend: share a host directory with a VM over virtio-fs.
#[derive(Debug, Parser)]
#[command(name = "vhost_user_fs", version)]
struct Cli {
    /// vhost-user socket to listen on (replaced if it exists).
    #[arg(long, value_name = "PATH")]
    socket_path: PathBuf,
    /// Directory to share.
    #[arg(long, value_name = "DIR")]
    shared_dir: PathBuf,
    /// Guest caching policy; `never` also makes attributes and names expire at once, so
    /// changes made on the host show immediately.
    #[arg(long, value_enum, default_value_t = Cache::Auto)]
    cache: Cache,
    /// Worker threads serving requests; 0 serves them on the queue's thread.
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u16).range(0..=256))]
    thread_pool_size: u16,
    /// Support extended attributes (and POSIX ACLs).
    #[arg(long)]
    xattr: bool,
    /// Let the guest use its writeback cache.
    #[arg(long)]
    writeback: bool,
    /// How inodes are held.
    #[arg(long, value_enum, default_value_t = FileHandles::Prefer)]
    inode_file_handles: FileHandles,
    /// Log level (RUST_LOG, when set, overrides it).
    #[arg(long, value_enum, default_value_t = LogLevel::Info)]
    log_level: LogLevel,
}

/// Records the length of the reply the server wrote, which is what the used ring must
/// report, also when `handle_message` returns an error after answering the guest.
struct ReplyLen(Cell<u32>);

impl MetricsHook for ReplyLen {
    fn collect(&self, _ih: &InHeader) {}

    fn release(&self, oh: Option<&OutHeader>) {
        self.0.set(oh.map_or(0, |h| h.len));
    }
}

/// Who completes a chain: the thread that served it, or, for a request the server answers
/// late (a lock wait), the thread that sends the reply. Exactly one of them does.
#[derive(Default)]
struct Completion(Mutex<Done>);

#[derive(Default)]
enum Done {
    /// `handle_message` is still running.
    #[default]
    Serving,
    /// The late reply came before `handle_message` returned: the server thread completes.
    LateSent(u32),
    /// `handle_message` returned and left the reply to the late sender.
    Deferred,
}

/// The late reply of one chain: writes it into the chain's writable descriptors, then puts
/// the chain on the used ring (unless the serving thread still will).
struct LateChainReply {
    mem: Arc<GuestMem>,
    chain: DescriptorChain<Arc<GuestMem>>,
    vring: Vring,
    event_idx: bool,
    completion: Arc<Completion>,
}

impl ReplySink for LateChainReply {
    fn send(self: Box<Self>, reply: &[u8]) -> io::Result<()> {
        let LateChainReply {
            mem,
            chain,
            vring,
            event_idx,
            completion,
        } = *self;
        let head = chain.head_index();
        // The chain was checked when it was served; a guest that changed it since gets its
        // reply wherever its table now points, never outside its memory.
        let len = match reader_writer_from_descriptor_chain::<_, _, ()>(&*mem, chain) {
            Ok((_, mut w)) => io::Write::write(&mut w, reply).map_or(0, |n| n as u32),
            Err(e) => {
                debug!("descriptor chain {head}: late reply: {e}");
                0
            }
        };
        let mut done = completion.0.lock().unwrap_or_else(|p| p.into_inner());
        match *done {
            Done::Serving => *done = Done::LateSent(len),
            Done::Deferred => {
                drop(done);
                complete(&vring, head, len, event_idx);
            }
            Done::LateSent(_) => {}
        }
        Ok(())
    }
}

/// Serves one descriptor chain; returns the bytes written to its writable part, or `None`
/// when the reply comes later (and completes the chain itself).
///
/// Never fails: a malformed chain or request is logged (at debug level, the guest
/// controls it) and given back with what was written, possibly 0 bytes, so the queue
/// keeps moving.
fn serve_chain(
    server: &FsServer,
    mem: &Arc<GuestMem>,
    chain: DescriptorChain<Arc<GuestMem>>,
    vring: &Vring,
    event_idx: bool,
) -> Option<u32> {
    let head = chain.head_index();
    let late_chain = chain.clone();
    let (reader, mut writer) = match reader_writer_from_descriptor_chain(&**mem, chain) {
        Ok(rw) => rw,
        Err(e) => {
            debug!("descriptor chain {head}: {e}");
            return Some(0);
        }
    };
    let completion = Arc::new(Completion::default());
    writer.set_late_reply(Box::new(LateChainReply {
        mem: mem.clone(),
        chain: late_chain,
        vring: vring.clone(),
        event_idx,
        completion: completion.clone(),
    }));
    let hook = ReplyLen(Cell::new(0));
    // No DAX window: SETUPMAPPING/REMOVEMAPPING get ENOSYS (see `protocol_features`).
    let len = match server.handle_message(reader, writer, None, Some(&hook)) {
        Ok(n) => n as u32,
        Err(e) => {
            debug!("descriptor chain {head}: {e}");
            hook.0.get()
        }
    };
    // The writer (and the late sink, unless the server kept it) is gone now.
    let mut done = completion.0.lock().unwrap_or_else(|p| p.into_inner());
    match *done {
        Done::LateSent(late) => Some(late),
        // Only the server can still hold the sink: it answers later.
        Done::Serving if Arc::strong_count(&completion) > 1 => {
            *done = Done::Deferred;
            None
        }
        _ => Some(len),
    }
}

/// Puts `head` on the used ring and tells the guest when it wants to be told.
fn complete(vring: &Vring, head: u16, len: u32, event_idx: bool) {
    if let Err(e) = vring.add_used(head, len) {
        // The used ring lives in guest memory: a guest can make this fail.
        debug!("failed to return descriptor {head} to the used ring: {e}");
    }
    notify(vring, event_idx);
}

fn notify(vring: &Vring, event_idx: bool) {
    // With EVENT_IDX the guest says after which used entry it wants an interrupt.
    let wanted = !event_idx || vring.needs_notification().unwrap_or(true);
    if wanted {
        if let Err(e) = vring.signal_used_queue() {
            warn!("failed to signal the guest: {e}");
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs from one channel.
struct Pool {
    tx: Mutex<mpsc::Sender<Job>>,
}

impl Pool {
    fn new(threads: usize) -> io::Result<Pool> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            thread::Builder::new()
                .name(format!("vufs-worker-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for a job, never while running one.
                    let job = match rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })?;
        }
        Ok(Pool { tx: Mutex::new(tx) })
    }

    fn submit(&self, job: Job) {
        if let Ok(tx) = self.tx.lock() {
            let _ = tx.send(job);
        }
    }
}

/// The vhost-user-fs device: its queues go to a [`Server`] over a [`PassthroughFs`].
struct FsBackend {
    server: Arc<FsServer>,
    mem: RwLock<AtomicMem>,
    event_idx: AtomicBool,
    pool: Option<Pool>,
}

impl FsBackend {
    fn process_queue(&self, vring: &Vring) {
        let mem = match self.mem.read() {
            Ok(m) => m.memory().into_inner(),
            Err(_) => return,
        };
        let event_idx = self.event_idx.load(Ordering::Acquire);
        loop {
            if event_idx {
                // Processing anyway: ask the guest not to kick for what it adds meanwhile.
                let _ = vring.disable_notification();
            }
            let served = self.drain(vring, &mem, event_idx);
            if served > 0 && self.pool.is_none() {
                notify(vring, event_idx);
            }
            // Re-enabling tells whether buffers arrived since the last pop.
            if !event_idx || !vring.enable_notification().unwrap_or(false) {
                break;
            }
        }
    }

    /// Pops every available chain and serves it (or hands it to the pool); returns how
    /// many were popped.
    fn drain(&self, vring: &Vring, mem: &Arc<GuestMem>, event_idx: bool) -> usize {
        let mut count = 0;
        loop {
            let chain = vring
                .get_mut()
                .get_queue_mut()
                .pop_descriptor_chain(mem.clone());
            let Some(chain) = chain else { break };
            count += 1;
            let head = chain.head_index();
            match &self.pool {
                None => {
                    let served = serve_chain(&self.server, mem, chain, vring, event_idx);
                    if let Some(len) = served {
                        if let Err(e) = vring.add_used(head, len) {
                            // The used ring lives in guest memory: a guest can make this fail.
                            debug!("failed to return descriptor {head} to the used ring: {e}");
                        }
                    }
                }
                Some(pool) => {
                    let server = self.server.clone();
                    let vring = vring.clone();
                    let mem = mem.clone();
                    pool.submit(Box::new(move || {
                        let served = serve_chain(&server, &mem, chain, &vring, event_idx);
                        if let Some(len) = served {
                            complete(&vring, head, len, event_idx);
                        }
                    }));
                }
            }
        }
        count
    }
}

impl VhostUserBackend for FsBackend {
    type Bitmap = ();
    type Vring = Vring;

    fn num_queues(&self) -> usize {
        NUM_QUEUES
    }

    fn max_queue_size(&self) -> usize {
        MAX_QUEUE_SIZE
    }

    fn features(&self) -> u64 {
        (1 << VIRTIO_F_VERSION_1)
            | (1 << VIRTIO_RING_F_INDIRECT_DESC)
            | (1 << VIRTIO_RING_F_EVENT_IDX)
            | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
    }

    fn protocol_features(&self) -> VhostUserProtocolFeatures {
        // No backend request channel: the only use this daemon would have for it is the
        // DAX window, whose SHMEM_MAP request vhost 0.15 cannot send.
        VhostUserProtocolFeatures::MQ
            | VhostUserProtocolFeatures::REPLY_ACK
            | VhostUserProtocolFeatures::CONFIGURE_MEM_SLOTS
    }

    fn set_event_idx(&self, enabled: bool) {
        self.event_idx.store(enabled, Ordering::Release);
    }

    fn update_memory(&self, mem: AtomicMem) -> io::Result<()> {
        let mut cur = self
            .mem
            .write()
            .map_err(|_| io::Error::other("lock poisoned"))?;
        *cur = mem;
        Ok(())
    }

    fn exit_event(&self, _thread_index: usize) -> Option<(EventConsumer, EventNotifier)> {
        new_event_consumer_and_notifier(EventFlag::NONBLOCK | EventFlag::CLOEXEC).ok()
    }

    fn handle_event(
        &self,
        device_event: u16,
        evset: EventSet,
        vrings: &[Vring],
        _thread_id: usize,
    ) -> io::Result<()> {
        if evset != EventSet::IN {
            debug!("ignoring event set {evset:?} on queue {device_event}");
            return Ok(());
        }
        match vrings.get(device_event as usize) {
            Some(vring) => self.process_queue(vring),
            None => debug!("event for unknown queue {device_event}"),
        }
        // Problems with single requests never stop the event loop.
        Ok(())
    }
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("vhost_user_fs: {msg}");
    ExitCode::from(2)
}

fn shared_dir(p: &Path) -> Result<PathBuf, String> {
    match std::fs::metadata(p) {
        Ok(m) if m.is_dir() => p
            .canonicalize()
            .map_err(|e| format!("shared dir {}: {e}", p.display())),
        Ok(_) => Err(format!("shared dir {} is not a directory", p.display())),
        Err(e) => Err(format!("shared dir {}: {e}", p.display())),
    }
}

fn init_log(level: LogLevel) {
    let filter = match level {
        LogLevel::Off => log::LevelFilter::Off,
        LogLevel::Error => log::LevelFilter::Error,
        LogLevel::Warn => log::LevelFilter::Warn,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Trace => log::LevelFilter::Trace,
    };
    env_logger::Builder::new()
        .filter_level(filter)
        .parse_env("RUST_LOG")
        .init();
}

/// Removes the socket and exits on SIGINT/SIGTERM (the frontend may never connect).
fn handle_signals(socket: PathBuf) -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    thread::Builder::new()
        .name("vufs-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                info!("signal {sig}: shutting down");
                let _ = std::fs::remove_file(&socket);
                std::process::exit(0);
            }
        })?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // --help / --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message up to its first blank line, on one line.
            let text = e.to_string();
            let msg: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            return fail(msg.join(" ").trim_start_matches("error: "));
        }
    };
    init_log(cli.log_level);
    host_dir::raise_nofile_limit();
    let dir = match shared_dir(&cli.shared_dir) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };

    let cache_policy = match cli.cache {
        Cache::Never => CachePolicy::Never,
        Cache::Metadata => CachePolicy::Metadata,
        Cache::Auto => CachePolicy::Auto,
        Cache::Always => CachePolicy::Always,
    };
    let (attr_timeout, entry_timeout) = host_dir::timeouts(cache_policy);
    let cfg = Config {
        root_dir: dir.to_string_lossy().into_owned(),
        cache_policy,
        xattr: cli.xattr,
        writeback: cli.writeback,
        do_import: true,
        inode_file_handles: match cli.inode_file_handles {
            FileHandles::Never => false,
            FileHandles::Prefer => nix::unistd::geteuid().is_root(),
            FileHandles::Mandatory => true,
        },
        attr_timeout,
        entry_timeout,
        ..Default::default()
    };
    let fs = match PassthroughFs::<()>::new(cfg) {
        Ok(fs) => fs,
        Err(e) => return fail(format!("cannot serve {}: {e}", dir.display())),
    };
    let pool = match cli.thread_pool_size {
        0 => None,
        n => match Pool::new(n as usize) {
            Ok(p) => Some(p),
            Err(e) => return fail(format!("cannot start worker threads: {e}")),
        },
    };
    let mem = GuestMemoryAtomic::new(GuestMemoryMmap::new());
    let backend = Arc::new(FsBackend {
        server: Arc::new(Server::new(fs)),
        mem: RwLock::new(mem.clone()),
        event_idx: AtomicBool::new(false),
        pool,
    });
    let mut daemon = match VhostUserDaemon::new("vhost-user-fs".into(), backend, mem) {
        Ok(d) => d,
        Err(e) => return fail(format!("cannot create the vhost-user daemon: {e}")),
    };
    if let Err(e) = handle_signals(cli.socket_path.clone()) {
        return fail(format!("cannot install signal handlers: {e}"));
    }

    info!("serving {} on {}", dir.display(), cli.socket_path.display());
    // Returns when the frontend disconnects; the listener removes the socket on the way
    // out.
    let res = daemon.serve(&cli.socket_path);
    drop(daemon);
    let _ = std::fs::remove_file(&cli.socket_path);
    match res {
        Ok(()) => {
            info!("frontend disconnected, exiting");
            ExitCode::SUCCESS
        }
        Err(e) => {
            error!("vhost-user session failed: {e}");
            eprintln!("vhost_user_fs: {e}");
            ExitCode::from(1)
        }
    }
}
