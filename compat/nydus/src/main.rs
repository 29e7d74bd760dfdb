//! Links the downstream crates so that `cargo build` checks they compile against this
//! crate.
use fuse_backend_rs as _;
use nydus_rafs as _;
use nydus_storage as _;

fn main() {
    println!("nydus-rafs 0.4.1 and nydus-storage 0.7.2 compiled");
}
