//! TDMR table and PAMT (tdx-module-abi.md §4, `pamt_manager.h`).
//!
//! # PAMT entry layout (16 bytes, in the VMM-provided PAMT_4K area)
//!
//! | Word | Bits  | Field |
//! |------|-------|-------|
//! | 0    | 15:0  | entry lock: bit 0 exclusive, bits 15:2 reader count (bit 1 host-priority is never set by the shim) |
//! | 0    | 23:16 | page type ([`PageType`]) |
//! | 0    | 63:24 | owner = owner PA >> 12 (40 bits) |
//! | 1    | 63:0  | BEPOCH |
//!
//! An all-zero entry is PT_NDA with no owner, so TDH.SYS.TDMR.INIT only
//! zeroes the PAMT and marks reserved areas PT_RSVD.
//!
//! The shim manages memory at 4 KiB granularity only (it never creates 2 MiB
//! or 1 GiB private mappings), so the PAMT_1G and PAMT_2M arrays are sized,
//! validated, isolated and zeroed like the real module's but their entries
//! stay PT_NDA; the 1G → 2M → 4K walk therefore always ends at PAMT_4K and
//! takes only the leaf lock.
//!
//! Locks are never waited on: a failed compare-and-swap is reported to the
//! caller, which returns `TDX_OPERAND_BUSY` with the operand's ID.

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::platform::TdxPlatform;
use crate::types::{Hpa, PAGE_SIZE, PageType};

/// TDMR_INFO entries accepted by TDH.SYS.CONFIG (§2 leaf 45: count ≤ 64).
pub const MAX_TDMRS: usize = 64;
/// Reserved areas per TDMR (§2 TDMR_INFO: `rsvd_areas[16]`).
pub const MAX_RSVD: usize = 16;
/// PAMT entry size in bytes (§4).
pub const PAMT_ENTRY_SIZE: u64 = 16;

const LOCK_EXCL: u64 = 1;
const LOCK_READER: u64 = 4;
const LOCK_MASK: u64 = 0xFFFF;

/// PAMT level index used in TDMR errors (`page_size_t`: 4K = 0, 2M = 1, 1G = 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PamtLevel {
    /// PAMT_4K.
    P4k = 0,
    /// PAMT_2M.
    P2m = 1,
    /// PAMT_1G.
    P1g = 2,
}

impl PamtLevel {
    /// Bytes of TDMR covered by one entry.
    pub const fn granule(self) -> u64 {
        match self {
            PamtLevel::P4k => PAGE_SIZE,
            PamtLevel::P2m => 1 << 21,
            PamtLevel::P1g => 1 << 30,
        }
    }
}

/// One TDMR_INFO entry as the VMM passes it (§2, 320 bytes used).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TdmrInfo {
    /// TDMR base (1 GiB-aligned).
    pub base: u64,
    /// TDMR size (1 GiB multiple).
    pub size: u64,
    /// PAMT (base, size) indexed by [`PamtLevel`] (4K, 2M, 1G).
    pub pamt: [(u64, u64); 3],
    /// Reserved areas (offset, size); size 0 ends the list.
    pub rsvd: [(u64, u64); MAX_RSVD],
}

impl TdmrInfo {
    /// Bytes of a TDMR_INFO entry that carry fields.
    pub const LEN: usize = 64 + 16 * MAX_RSVD;

    /// Parse the wire layout (little-endian u64s).
    pub fn from_bytes(b: &[u8; Self::LEN]) -> Self {
        let w = |i: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(x)
        };
        let mut t = TdmrInfo {
            base: w(0),
            size: w(1),
            // Wire order is 1G, 2M, 4K.
            pamt: [(w(6), w(7)), (w(4), w(5)), (w(2), w(3))],
            rsvd: [(0, 0); MAX_RSVD],
        };
        for (j, r) in t.rsvd.iter_mut().enumerate() {
            *r = (w(8 + 2 * j), w(9 + 2 * j));
        }
        t
    }

    /// Encode to the wire layout (for VMM-side tooling and tests).
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        let mut put = |i: usize, v: u64| b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        put(0, self.base);
        put(1, self.size);
        put(2, self.pamt[2].0);
        put(3, self.pamt[2].1);
        put(4, self.pamt[1].0);
        put(5, self.pamt[1].1);
        put(6, self.pamt[0].0);
        put(7, self.pamt[0].1);
        for (j, r) in self.rsvd.iter().enumerate() {
            put(8 + 2 * j, r.0);
            put(9 + 2 * j, r.1);
        }
        b
    }

    /// Reserved areas in use (up to the first size-0 entry).
    pub fn rsvd_used(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.rsvd.iter().copied().take_while(|r| r.1 != 0)
    }
}

#[derive(Debug)]
struct TdmrSlot {
    words: [AtomicU64; 8 + 2 * MAX_RSVD],
    /// Next address TDH.SYS.TDMR.INIT will initialise; `base + size` when done.
    next_init: AtomicU64,
    busy: AtomicBool,
}

impl TdmrSlot {
    fn new() -> Self {
        TdmrSlot {
            words: core::array::from_fn(|_| AtomicU64::new(0)),
            next_init: AtomicU64::new(0),
            busy: AtomicBool::new(false),
        }
    }
}

/// The module's TDMR table, written once by TDH.SYS.CONFIG (before the
/// state store that publishes it with `Release`) and read-only afterwards,
/// except for the per-TDMR initialisation progress.
#[derive(Debug)]
pub struct TdmrTable {
    slots: [TdmrSlot; MAX_TDMRS],
    count: AtomicUsize,
}

impl Default for TdmrTable {
    fn default() -> Self {
        Self::new()
    }
}

impl TdmrTable {
    /// An empty table.
    pub fn new() -> Self {
        TdmrTable {
            slots: core::array::from_fn(|_| TdmrSlot::new()),
            count: AtomicUsize::new(0),
        }
    }

    /// Stage entry `i` (only under the module's global lock, before publish).
    pub(crate) fn stage(&self, i: usize, t: &TdmrInfo) {
        let b = t.to_bytes();
        let s = &self.slots[i];
        for (k, w) in s.words.iter().enumerate() {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[k * 8..k * 8 + 8]);
            w.store(u64::from_le_bytes(x), Ordering::Relaxed);
        }
        s.next_init.store(t.base, Ordering::Relaxed);
        s.busy.store(false, Ordering::Relaxed);
    }

    /// Entry `i` (staged or published).
    pub fn get(&self, i: usize) -> TdmrInfo {
        let mut b = [0u8; TdmrInfo::LEN];
        for (k, w) in self.slots[i].words.iter().enumerate() {
            b[k * 8..k * 8 + 8].copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
        }
        TdmrInfo::from_bytes(&b)
    }

    /// Make `count` staged entries visible (the caller then publishes the
    /// new module state with `Release`).
    pub(crate) fn publish(&self, count: usize) {
        self.count.store(count, Ordering::Release);
    }

    /// Number of published TDMRs.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Index of the published TDMR whose base is `base`.
    pub(crate) fn find_base(&self, base: u64) -> Option<usize> {
        (0..self.count()).find(|&i| self.get(i).base == base)
    }

    pub(crate) fn next_init(&self, i: usize) -> u64 {
        self.slots[i].next_init.load(Ordering::Acquire)
    }

    pub(crate) fn set_next_init(&self, i: usize, v: u64) {
        self.slots[i].next_init.store(v, Ordering::Release);
    }

    /// Try to take TDMR `i`'s initialisation lock.
    pub(crate) fn try_busy(&self, i: usize) -> bool {
        self.slots[i]
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    pub(crate) fn unbusy(&self, i: usize) {
        self.slots[i].busy.store(false, Ordering::Release);
    }

    /// HPA of the PAMT_4K entry of `hpa` if `hpa` lies in the initialised
    /// part of a published TDMR.
    pub fn pamt_entry(&self, hpa: Hpa) -> Option<Hpa> {
        let a = hpa.raw();
        for i in 0..self.count() {
            let base = self.slots[i].words[0].load(Ordering::Relaxed);
            if a >= base && a < self.next_init(i) {
                let pamt4k = self.slots[i].words[6].load(Ordering::Relaxed);
                return Some(Hpa(pamt4k + ((a - base) / PAGE_SIZE) * PAMT_ENTRY_SIZE));
            }
        }
        None
    }
}

/// A held PAMT entry lock; released on drop.
pub struct PamtGuard<'a, P: TdxPlatform + 'a> {
    map: P::Mapping<'a>,
    word: usize,
    exclusive: bool,
    hpa: Hpa,
}

impl<P: TdxPlatform> core::fmt::Debug for PamtGuard<'_, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PamtGuard")
            .field("hpa", &self.hpa)
            .field("exclusive", &self.exclusive)
            .finish()
    }
}

/// A PAMT entry decoded without its lock bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PamtInfo {
    /// Raw page type byte.
    pub page_type: u8,
    /// Owner PA (0 if none).
    pub owner: u64,
    /// BEPOCH.
    pub bepoch: u64,
}

fn split(entry: Hpa) -> (Hpa, usize) {
    let page = Hpa(entry.raw() & !(PAGE_SIZE - 1));
    (page, ((entry.raw() & (PAGE_SIZE - 1)) / 8) as usize)
}

/// Try to lock the PAMT entry at `entry` (an HPA from
/// [`TdmrTable::pamt_entry`]) for the page `hpa`. `None` if contended.
pub(crate) fn try_lock<P: TdxPlatform>(
    plat: &P,
    entry: Hpa,
    hpa: Hpa,
    exclusive: bool,
) -> Option<PamtGuard<'_, P>> {
    let (page, word) = split(entry);
    let map = plat.map_page(page);
    let w = &map[word];
    let ok = if exclusive {
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
    };
    // Build the guard only on success: dropping it releases the lock.
    if !ok {
        return None;
    }
    Some(PamtGuard {
        map,
        word,
        exclusive,
        hpa,
    })
}

impl<P: TdxPlatform> PamtGuard<'_, P> {
    /// The page this entry describes.
    pub fn hpa(&self) -> Hpa {
        self.hpa
    }

    /// The entry's fields.
    pub fn info(&self) -> PamtInfo {
        let w0 = self.map[self.word].load(Ordering::Relaxed);
        PamtInfo {
            page_type: ((w0 >> 16) & 0xFF) as u8,
            owner: (w0 >> 24) << 12,
            bepoch: self.map[self.word + 1].load(Ordering::Relaxed),
        }
    }

    /// Decoded page type (`None` for an unknown byte).
    pub fn page_type(&self) -> Option<PageType> {
        PageType::from_u8(self.info().page_type)
    }

    /// Set type and owner, BEPOCH = 0. Exclusive holders only.
    pub fn set(&self, ty: PageType, owner: Hpa) {
        debug_assert!(self.exclusive);
        let w0 = ((owner.raw() >> 12) << 24) | ((ty as u64) << 16) | LOCK_EXCL;
        self.map[self.word + 1].store(0, Ordering::Relaxed);
        self.map[self.word].store(w0, Ordering::Relaxed);
    }
}

impl<P: TdxPlatform> Drop for PamtGuard<'_, P> {
    fn drop(&mut self) {
        let w = &self.map[self.word];
        if self.exclusive {
            w.fetch_and(!LOCK_EXCL, Ordering::Release);
        } else {
            w.fetch_sub(LOCK_READER, Ordering::Release);
        }
    }
}

/// Write a PAMT entry with no lock held (TDH.SYS.TDMR.INIT only, before the
/// range becomes visible).
pub(crate) fn init_entry<P: TdxPlatform>(plat: &P, entry: Hpa, ty: PageType) {
    let (page, word) = split(entry);
    let map = plat.map_page(page);
    map[word + 1].store(0, Ordering::Relaxed);
    map[word].store((ty as u64) << 16, Ordering::Relaxed);
}

/// Write the BEPOCH of the PAMT entry at `entry` without taking its lock:
/// TDH.MEM.RANGE.BLOCK records the TD epoch in the blocked page's entry
/// through `pamt_implicit_get` (no lock) in `tdh_mem_range_block.c`. The
/// page belongs to the TD whose TDCS lock the caller holds, and the leaves
/// that take the page's lock (PAGE.REMOVE, SEPT.REMOVE) hold that TDCS
/// lock too, so the word has one writer at a time.
pub(crate) fn write_bepoch<P: TdxPlatform>(plat: &P, entry: Hpa, v: u64) {
    let (page, word) = split(entry);
    plat.map_page(page)[word + 1].store(v, Ordering::Release);
}

/// Read the BEPOCH of the PAMT entry at `entry` without its lock
/// (TDH.MEM.RANGE.UNBLOCK, `tdh_mem_range_unblock.c`).
pub(crate) fn read_bepoch<P: TdxPlatform>(plat: &P, entry: Hpa) -> u64 {
    let (page, word) = split(entry);
    plat.map_page(page)[word + 1].load(Ordering::Acquire)
}
