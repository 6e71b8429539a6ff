//! Realm Translation Tables (stage 2, 4 KiB granules; cca-rmm-abi.md §6).
//!
//! * [`s2tte`]: entry encodings (§6.2) and decoding.
//! * [`walk`]: the locked walk from the (concatenated) root to a level.
//! * [`ops`]: RTT_CREATE (with unfold), RTT_DESTROY, RTT_FOLD.
//! * [`entry`]: RTT_READ_ENTRY, RTT_MAP/UNMAP_UNPROTECTED, RTT_INIT_RIPAS.
//!
//! Locks: a walk holds the RD (taken by the caller), then RTT locks parent
//! before child (hand over hand); see the crate docs for the full order.

pub(crate) mod entry;
pub(crate) mod ops;
pub(crate) mod s2tte;
pub(crate) mod walk;

/// Deepest level (4 KiB pages).
pub(crate) const PAGE_LEVEL: i64 = 3;
/// Entries per RTT.
pub(crate) const ENTRIES: usize = 512;
/// Most concatenated root RTTs.
pub(crate) const MAX_ROOTS: usize = 16;

/// log2 of the size mapped by one entry at `level` (-1..=3).
pub(crate) const fn level_shift(level: i64) -> u32 {
    (12 + 9 * (3 - level)) as u32
}

/// Size mapped by one entry at `level`.
pub(crate) const fn level_size(level: i64) -> u64 {
    1 << level_shift(level)
}

/// True if `addr` is aligned to an entry at `level`.
pub(crate) const fn aligned(addr: u64, level: i64) -> bool {
    addr & (level_size(level) - 1) == 0
}

/// `rtt_num_level`: the start level and number of concatenated roots
/// resolve exactly `s2sz` bits (§6.1): the root level holds at least two
/// entries (so the PAR boundary falls on an entry) and at most 16 full
/// tables, and `num_roots` is the number of tables needed.
pub(crate) fn geometry_valid(s2sz: u32, level: i64, num_roots: u64) -> bool {
    if !(0..=PAGE_LEVEL).contains(&level) || !(32..=52).contains(&s2sz) {
        return false;
    }
    let shift = level_shift(level);
    if s2sz <= shift || s2sz > shift + 9 + 4 {
        return false;
    }
    let root_bits = s2sz - shift;
    let needed = if root_bits <= 9 {
        1
    } else {
        1u64 << (root_bits - 9)
    };
    num_roots == needed
}
