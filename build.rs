//! Build script: refuses targets the crate cannot serve, before any code is compiled.

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        println!("cargo:warning=fuse-backend-rs supports Linux only (target_os = {os})");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
