//! The API layer between transports and filesystem drivers: the
//! [`FileSystem`](filesystem::FileSystem) trait and the request [`Server`](server::Server).

pub mod filesystem;
pub mod server;
