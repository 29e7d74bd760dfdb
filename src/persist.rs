//! The envelope around every saved state of feature `persist` (the `Vfs`, the `Server`'s
//! negotiated session and the `PassthroughFs` tables).
//!
//! The body is the state serialized with serde into [postcard]'s compact format. Around it:
//!
//! ```text
//! offset  size  field
//!      0     8  magic: which state this is (b"FBRSVFS\0", b"FBRSSRV\0", b"FBRSPTFS")
//!      8     4  format version of that state, little-endian
//!     12     4  body length, little-endian
//!     16     4  CRC-32 (IEEE) of the body, little-endian
//!     20     n  body (postcard)
//! ```
//!
//! Opening checks the magic, the version (only the current one is read: a state is
//! handed from one process to its successor, both of this crate's version or one that
//! kept the format), the length and the checksum before decoding, then requires the
//! decoder to consume the body exactly. So truncated, corrupted or foreign bytes are a
//! [`PersistError`] that says which check failed, and the caller has decoded nothing it
//! could apply. Decoding never allocates more than the input can fill: postcard checks
//! every length against the bytes left, and serde caps preallocation for sequences.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Size of the envelope's header.
const HEADER_LEN: usize = 20;

/// Why a saved state could not be made or read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    /// The bytes end before the header or the body does.
    #[error("truncated state: {0} bytes")]
    Truncated(usize),
    /// The bytes are not a state of this kind.
    #[error("not a saved {0} state")]
    Magic(&'static str),
    /// A state of another format version.
    #[error("unsupported {what} state version {found} (this build reads version {supported})")]
    Version {
        what: &'static str,
        found: u32,
        supported: u32,
    },
    /// More bytes than the header announces.
    #[error("{0} trailing bytes after the state")]
    Trailing(usize),
    /// The body does not match its checksum.
    #[error("corrupt state: checksum mismatch")]
    Checksum,
    /// The body passed the checksum but does not decode (or encode).
    #[error("malformed state: {0}")]
    Codec(#[from] postcard::Error),
    /// The body decodes but describes something impossible.
    #[error("inconsistent state: {0}")]
    Inconsistent(&'static str),
}

impl From<PersistError> for std::io::Error {
    fn from(e: PersistError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// What a kind of state is called, its magic and its current version.
pub(crate) struct Kind {
    pub name: &'static str,
    pub magic: &'static [u8; 8],
    pub version: u32,
}

/// Serializes `state` inside the envelope of `kind`.
pub(crate) fn seal<T: Serialize>(kind: &Kind, state: &T) -> Result<Vec<u8>, PersistError> {
    let body = postcard::to_allocvec(state)?;
    let len = u32::try_from(body.len()).map_err(|_| PersistError::Inconsistent("too large"))?;
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(kind.magic);
    out.extend_from_slice(&kind.version.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Checks the envelope of `kind` around `bytes` and decodes the state inside.
pub(crate) fn open<T: DeserializeOwned>(kind: &Kind, bytes: &[u8]) -> Result<T, PersistError> {
    if bytes.len() < HEADER_LEN {
        // A prefix of the magic is still this kind's state, cut short.
        let n = bytes.len().min(kind.magic.len());
        if bytes[..n] != kind.magic[..n] {
            return Err(PersistError::Magic(kind.name));
        }
        return Err(PersistError::Truncated(bytes.len()));
    }
    let field =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    if &bytes[..8] != kind.magic {
        return Err(PersistError::Magic(kind.name));
    }
    let version = field(8);
    if version != kind.version {
        return Err(PersistError::Version {
            what: kind.name,
            found: version,
            supported: kind.version,
        });
    }
    let body = &bytes[HEADER_LEN..];
    let len = field(12) as usize;
    if body.len() < len {
        return Err(PersistError::Truncated(bytes.len()));
    }
    if body.len() > len {
        return Err(PersistError::Trailing(body.len() - len));
    }
    if crc32(body) != field(16) {
        return Err(PersistError::Checksum);
    }
    let (state, rest) = postcard::take_from_bytes::<T>(body)?;
    if !rest.is_empty() {
        return Err(PersistError::Trailing(rest.len()));
    }
    Ok(state)
}

/// The CRC-32 table of the IEEE polynomial (reflected), built at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 (IEEE 802.3, as zlib computes it) of `data`.
fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &b| {
        CRC_TABLE[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: Kind = Kind {
        name: "test",
        magic: b"FBRSTST\0",
        version: 3,
    };

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct S {
        a: u64,
        names: Vec<Vec<u8>>,
    }

    #[test]
    fn crc32_matches_the_reference_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn round_trip_and_every_kind_of_bad_bytes() {
        let s = S {
            a: 1 << 40,
            names: vec![b"x".to_vec(), Vec::new()],
        };
        let good = seal(&K, &s).unwrap();
        assert_eq!(open::<S>(&K, &good).unwrap(), s);
        for len in 0..good.len() {
            assert!(matches!(
                open::<S>(&K, &good[..len]),
                Err(PersistError::Truncated(_))
            ));
        }
        let mut other = good.clone();
        other[0] = b'X';
        assert!(matches!(open::<S>(&K, &other), Err(PersistError::Magic(_))));
        let mut v = good.clone();
        v[8] = 4;
        let e = open::<S>(&K, &v).unwrap_err();
        assert!(matches!(e, PersistError::Version { found: 4, .. }));
        assert!(e.to_string().contains("version 4"), "{e}");
        let mut extra = good.clone();
        extra.push(0);
        assert!(matches!(
            open::<S>(&K, &extra),
            Err(PersistError::Trailing(1))
        ));
        for i in HEADER_LEN..good.len() {
            let mut c = good.clone();
            c[i] ^= 0x10;
            assert!(
                matches!(open::<S>(&K, &c), Err(PersistError::Checksum)),
                "{i}"
            );
        }
        // A body that passes the checksum but does not decode: a count beyond the bytes.
        let body = [1u8, 0xff, 0xff, 0xff, 0x0f];
        let mut forged = K.magic.to_vec();
        forged.extend_from_slice(&3u32.to_le_bytes());
        forged.extend_from_slice(&(body.len() as u32).to_le_bytes());
        forged.extend_from_slice(&crc32(&body).to_le_bytes());
        forged.extend_from_slice(&body);
        assert!(matches!(
            open::<S>(&K, &forged),
            Err(PersistError::Codec(_))
        ));
    }
}
