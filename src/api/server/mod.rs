//! The request server (being written).

/// Largest WRITE/READ payload the server negotiates (1 MiB, 256 pages).
pub const MAX_BUFFER_SIZE: u32 = 1 << 20;
/// Room for the request header and the operation's struct in front of the payload.
pub const BUFFER_HEADER_SIZE: u32 = 0x1000;
/// Maximum pages per request (MAX_BUFFER_SIZE / 4096).
pub const MAX_REQ_PAGES: u16 = 256;
