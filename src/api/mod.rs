//! The API layer between transports and filesystem drivers: the
//! [`FileSystem`](filesystem::FileSystem) trait and the request [`Server`](server::Server).

pub mod filesystem;
pub mod pseudo_fs;
pub mod server;
pub mod vfs;

pub use vfs::{
    validate_path_component, BackFileSystem, BackendFileSystem, Vfs, VfsIndex, VfsOptions,
    CURRENT_DIR_CSTR, EMPTY_CSTR, PARENT_DIR_CSTR, PROC_SELF_FD_CSTR, SLASH_ASCII, VFS_MAX_INO,
};
