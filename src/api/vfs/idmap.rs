//! [`VfsOptions::id_mapping`](super::VfsOptions::id_mapping): one range of user and group
//! ids shifted between the client's view (external) and the backends' (internal).
//!
//! `(internal, external, range)` maps ids `external..external + range` of a request's
//! caller to `internal..internal + range` before a backend sees them, and the owners of
//! attributes the backends return back the other way. `range` 0 turns the mapping off.
//! Ids outside the range pass unchanged, in both directions.

use super::VfsOptions;

/// Moves `id` from the range starting at `from` to the one starting at `to`, when it lies
/// within `range` ids of `from`.
fn shift(id: u32, from: u32, to: u32, range: u32) -> u32 {
    match id.checked_sub(from) {
        Some(delta) if delta < range => to.checked_add(delta).unwrap_or(id),
        _ => id,
    }
}

/// The client's (external) id as the backends see it.
pub(crate) fn to_internal(opts: &VfsOptions, id: u32) -> u32 {
    let (internal, external, range) = opts.id_mapping;
    shift(id, external, internal, range)
}

/// A backend's (internal) id as the client sees it.
pub(crate) fn to_external(opts: &VfsOptions, id: u32) -> u32 {
    let (internal, external, range) = opts.id_mapping;
    shift(id, internal, external, range)
}

/// Rewrites the owner of attributes a backend returned for the client.
pub(crate) fn attr_to_external(opts: &VfsOptions, st: &mut libc::stat64) {
    st.st_uid = to_external(opts, st.st_uid);
    st.st_gid = to_external(opts, st.st_gid);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(m: (u32, u32, u32)) -> VfsOptions {
        VfsOptions {
            id_mapping: m,
            ..Default::default()
        }
    }

    #[test]
    fn ids_inside_the_range_move_and_others_stay() {
        let o = opts((0, 100_000, 65536));
        assert_eq!(to_internal(&o, 100_000), 0);
        assert_eq!(to_internal(&o, 100_000 + 65535), 65535);
        assert_eq!(to_internal(&o, 100_000 + 65536), 165_536);
        assert_eq!(to_internal(&o, 5), 5);
        assert_eq!(to_external(&o, 1000), 101_000);
        assert_eq!(to_external(&o, 70_000), 70_000);
    }

    #[test]
    fn range_zero_is_off_and_overflow_never_panics() {
        assert_eq!(to_internal(&opts((0, 1000, 0)), 1000), 1000);
        let o = opts((u32::MAX - 1, 0, u32::MAX));
        assert_eq!(to_internal(&o, 5), 5, "would overflow: left unchanged");
        assert_eq!(to_internal(&o, 1), u32::MAX);
    }
}
