//! PAMT entry locks and the module's PAMT walk (`pamt_manager.c`
//! `pamt_walk`, `pamt_implicit_get_and_lock`, `pamt_is_2mb_range_free`);
//! see the parent module's docs.

use core::sync::atomic::{AtomicU64, Ordering};

use super::{
    LOCK_EXCL, LOCK_MASK, LOCK_READER, PAMT_ENTRY_SIZE, PamtGuard, PamtLevel, PamtLoc, split,
};
use crate::platform::TdxPlatform;
use crate::types::{Hpa, PAGE_SIZE, PageType};

/// Take the lock in word `w` (no waiting).
fn lock_word(w: &AtomicU64, exclusive: bool) -> bool {
    if exclusive {
        let cur = w.load(Ordering::Relaxed);
        cur & LOCK_MASK == 0
            && w.compare_exchange(cur, cur | LOCK_EXCL, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    } else {
        w.fetch_update(Ordering::Acquire, Ordering::Relaxed, |cur| {
            let readers = (cur & LOCK_MASK) >> 2;
            (cur & LOCK_EXCL == 0 && readers < 0x3FFF).then_some(cur + LOCK_READER)
        })
        .is_ok()
    }
}

pub(super) fn unlock_word(w: &AtomicU64, exclusive: bool) {
    if exclusive {
        w.fetch_and(!LOCK_EXCL, Ordering::Release);
    } else {
        w.fetch_sub(LOCK_READER, Ordering::Release);
    }
}

/// Turn the caller's shared lock into an exclusive one if it is the only
/// reader (`promote_sharex_lock_hp`).
fn promote_word(w: &AtomicU64) -> bool {
    w.fetch_update(Ordering::Acquire, Ordering::Relaxed, |cur| {
        (cur & LOCK_MASK == LOCK_READER).then_some(cur - LOCK_READER + LOCK_EXCL)
    })
    .is_ok()
}

/// Try to lock the PAMT entry at `entry` (an HPA from
/// [`TdmrTable::leaf_entry`]) for the page `hpa` mapped at `size`, with no
/// walk (`pamt_implicit_get_and_lock`). `None` if contended.
pub(crate) fn try_lock<P: TdxPlatform>(
    plat: &P,
    entry: Hpa,
    hpa: Hpa,
    size: PamtLevel,
    exclusive: bool,
) -> Option<PamtGuard<'_, P>> {
    let (page, word) = split(entry);
    let map = plat.map_page(page);
    // Build the guard only on success (not `then_some`, which builds it
    // anyway): dropping it releases the lock.
    if !lock_word(&map[word], exclusive) {
        return None;
    }
    Some(PamtGuard {
        map,
        word,
        exclusive,
        hpa,
        size,
        parent: None,
    })
}

/// Why a [`walk`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WalkError {
    /// A lock on the way is held (`TDX_OPERAND_BUSY`).
    Busy,
    /// The walk ended at another size than `to` asked for
    /// (`TDX_PAGE_METADATA_INCORRECT`).
    Size,
}

/// The module's `pamt_walk` (see the module docs): lock the PAMT entry
/// describing `hpa` (`exclusive` or shared). `to` = `Some(size)` walks to
/// that size and fails with [`WalkError::Size`] if a 2 MiB page ends the
/// walk earlier (`non_shared_hpa_metadata_check_and_lock`); `None` walks
/// to whatever leaf describes the page (PAGE.RDMD, PAGE.RECLAIM).
pub(crate) fn walk<P: TdxPlatform>(
    plat: &P,
    loc: PamtLoc,
    hpa: Hpa,
    exclusive: bool,
    to: Option<PamtLevel>,
) -> Result<PamtGuard<'_, P>, WalkError> {
    let (page2m, word2m) = split(loc.e2m);
    let map2m = plat.map_page(page2m);
    if !lock_word(&map2m[word2m], false) {
        return Err(WalkError::Busy);
    }
    let is_reg = (map2m[word2m].load(Ordering::Relaxed) >> 16) & 0xFF == PageType::Reg as u64;
    if is_reg || to == Some(PamtLevel::P2m) {
        if exclusive && !promote_word(&map2m[word2m]) {
            unlock_word(&map2m[word2m], false);
            return Err(WalkError::Busy);
        }
        let g = PamtGuard {
            map: map2m,
            word: word2m,
            exclusive,
            hpa,
            size: PamtLevel::P2m,
            parent: None,
        };
        return match to {
            Some(PamtLevel::P4k) => Err(WalkError::Size),
            _ => Ok(g),
        };
    }
    let (page, word) = split(loc.e4k);
    let map = plat.map_page(page);
    if !lock_word(&map[word], exclusive) {
        unlock_word(&map2m[word2m], false);
        return Err(WalkError::Busy);
    }
    Ok(PamtGuard {
        map,
        word,
        exclusive,
        hpa,
        size: PamtLevel::P4k,
        parent: Some((map2m, word2m)),
    })
}

/// Whether the 512 PAMT_4K entries from `first` (the entry of a
/// 2 MiB-aligned page) are all PT_NDA (`pamt_is_2mb_range_free`; their
/// locks are not looked at).
pub(crate) fn range_2m_free<P: TdxPlatform>(plat: &P, first: Hpa) -> bool {
    let per_page = PAGE_SIZE / PAMT_ENTRY_SIZE;
    (0..512 / per_page).all(|k| {
        let m = plat.map_page(Hpa(first.raw() + k * PAGE_SIZE));
        (0..per_page as usize).all(|j| (m[2 * j].load(Ordering::Relaxed) >> 16) & 0xFF == 0)
    })
}
