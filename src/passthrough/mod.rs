//! Passthrough driver (being written).
