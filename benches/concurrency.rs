//! Request path under concurrency: 2, 4, 8 and 16 threads each sending GETATTR requests
//! through one `Server::handle_message`, reported as total requests per second.
//!
//! Run with `cargo bench --bench concurrency --features test-utils`.
//!
//! Groups:
//! - `passthrough_fd`: a `PassthroughFs` on a temp dir keeping an `O_PATH` descriptor per
//!   inode; the files are looked up first, then each thread cycles over them (and the root).
//! - `passthrough_handles`: the same with `inode_file_handles`, so every request finds
//!   its descriptor in the fd cache (needs `CAP_DAC_READ_SEARCH`; without it the driver
//!   falls back to `O_PATH` descriptors and the group measures the same as the first).
//! - `vfs_mixed`: a `Vfs` with one `PassthroughFs` at `/` and another at `/sub/mnt`;
//!   GETATTR on the root, the pseudo directory, the second backend's root and files of both.
//! - `vfs_root`: the same Vfs, GETATTR on the root only (the backend mounted at `/`).
//!
//! What is measured is the shared state every request touches (inode table, fd cache,
//! mount table and pseudo tree); each GETATTR also makes one `fstat` system call, so the
//! figures scale with free cores as well as with the locking.

use std::hint::black_box;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use fuse_backend_rs::abi::fuse_abi::{EntryOut, GetattrIn, Opcode, ROOT_ID};
use fuse_backend_rs::api::filesystem::FileSystem;
use fuse_backend_rs::api::server::testing::{init_request, serve, RequestBuilder};
use fuse_backend_rs::api::server::Server;
use fuse_backend_rs::api::vfs::{Vfs, VfsOptions};
use fuse_backend_rs::passthrough::{Config, PassthroughFs};
use fuse_backend_rs::transport::{FuseBuf, Reader, Writer};
use vmm_sys_util::tempdir::TempDir;

/// Files created in each shared directory.
const FILES: usize = 64;
/// Thread counts measured.
const THREADS: [usize; 4] = [2, 4, 8, 16];

fn make_files(dir: &Path, prefix: &str) {
    for i in 0..FILES {
        std::fs::write(dir.join(format!("{prefix}{i}")), b"x").expect("create a file");
    }
}

fn passthrough(dir: &Path, handles: bool) -> PassthroughFs {
    let cfg = Config {
        root_dir: dir.to_str().expect("a UTF-8 temp path").to_string(),
        inode_file_handles: handles,
        ..Config::default()
    };
    PassthroughFs::new(cfg).expect("a passthrough filesystem")
}

fn init<F: FileSystem + Sync>(server: &Server<F>) {
    let (res, reply) = serve(server, &init_request(45, 0));
    res.expect("INIT");
    assert_eq!(reply.error(), 0, "INIT failed");
}

/// LOOKUP `name` in `parent` through the server; the node ID it answers.
fn lookup<F: FileSystem + Sync>(server: &Server<F>, parent: u64, name: &str) -> u64 {
    let req = RequestBuilder::new(Opcode::Lookup, parent)
        .name(name)
        .build();
    let (res, reply) = serve(server, &req);
    res.expect("LOOKUP");
    assert_eq!(reply.error(), 0, "LOOKUP {name} failed");
    let e: EntryOut = reply.body_as().expect("an entry");
    e.nodeid
}

fn getattr(nodeid: u64) -> Vec<u8> {
    RequestBuilder::new(Opcode::Getattr, nodeid)
        .arg(GetattrIn::default())
        .build()
}

/// Runs `iters` rounds in which each of `threads` threads sends one request (cycling over
/// `reqs` from a different start each); returns the wall time of all rounds.
fn run<F: FileSystem + Sync>(
    server: &Server<F>,
    reqs: &[Vec<u8>],
    threads: usize,
    iters: u64,
) -> Duration {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        for t in 0..threads {
            let barrier = &barrier;
            s.spawn(move || {
                let mut inputs: Vec<Vec<u8>> = reqs.to_vec();
                let mut output = vec![0u8; 4096];
                let n = inputs.len();
                let mut k = (t * 7) % n;
                barrier.wait();
                for _ in 0..iters {
                    let r = Reader::from_fuse_buffer(FuseBuf::new(&mut inputs[k])).unwrap();
                    let w = Writer::from_volatile_slices([
                        FuseBuf::new(&mut output).into_volatile_slice()
                    ]);
                    black_box(server.handle_message(r, w, None, None).unwrap());
                    k = if k + 1 == n { 0 } else { k + 1 };
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn bench_group<F: FileSystem + Sync>(
    c: &mut Criterion,
    name: &str,
    server: &Server<F>,
    reqs: &[Vec<u8>],
) {
    // Every request must succeed, or the figures would measure error replies.
    for r in reqs {
        let (res, reply) = serve(server, r);
        res.expect("GETATTR");
        assert_eq!(reply.error(), 0, "{name}: GETATTR failed");
    }
    let mut group = c.benchmark_group(name);
    for threads in THREADS {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_with_input(BenchmarkId::from_parameter(threads), &threads, |b, &t| {
            b.iter_custom(|iters| run(server, reqs, t, iters))
        });
    }
    group.finish();
}

fn passthrough_group(c: &mut Criterion, name: &str, handles: bool) {
    let dir = TempDir::new_with_prefix("/tmp/fbr-bench").expect("a temp dir");
    make_files(dir.as_path(), "f");
    let server = Server::new(passthrough(dir.as_path(), handles));
    init(&server);
    let mut reqs = vec![getattr(ROOT_ID)];
    for i in 0..FILES {
        reqs.push(getattr(lookup(&server, ROOT_ID, &format!("f{i}"))));
    }
    bench_group(c, name, &server, &reqs);
}

fn passthrough_fd(c: &mut Criterion) {
    passthrough_group(c, "passthrough_fd", false);
}

fn passthrough_handles(c: &mut Criterion) {
    passthrough_group(c, "passthrough_handles", true);
}

fn vfs(c: &mut Criterion) {
    let dir = TempDir::new_with_prefix("/tmp/fbr-bench").expect("a temp dir");
    let (root, sub) = (dir.as_path().join("root"), dir.as_path().join("sub"));
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(&sub).unwrap();
    make_files(&root, "f");
    make_files(&sub, "g");
    let vfs = Arc::new(Vfs::new(VfsOptions::default()));
    vfs.mount(Box::new(passthrough(&root, false)), "/").unwrap();
    vfs.mount(Box::new(passthrough(&sub, false)), "/sub/mnt")
        .unwrap();
    let server = Server::new(vfs);
    init(&server);
    let pseudo = lookup(&server, ROOT_ID, "sub");
    let mnt = lookup(&server, pseudo, "mnt");
    let mut reqs = vec![getattr(ROOT_ID), getattr(pseudo), getattr(mnt)];
    for i in 0..FILES / 2 {
        reqs.push(getattr(lookup(&server, ROOT_ID, &format!("f{i}"))));
        reqs.push(getattr(lookup(&server, mnt, &format!("g{i}"))));
    }
    bench_group(c, "vfs_mixed", &server, &reqs);
    bench_group(c, "vfs_root", &server, &[getattr(ROOT_ID)]);
}

criterion_group!(benches, passthrough_fd, passthrough_handles, vfs);
criterion_main!(benches);
