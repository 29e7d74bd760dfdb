//! Protocol tests: request bytes in, reply bytes out. (More in tests/protocol_*.rs.)
