//! TDMR table and PAMT (tdx-module-abi.md §4, `pamt_manager.h`).
//!
//! # PAMT entry layout (16 bytes, in the VMM-provided PAMT areas)
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
//! PAMT_2M and PAMT_4K entries share this layout. A 2 MiB TD private page
//! (TDH.MEM.PAGE.AUG at level 1) is described by its PAMT_2M entry alone
//! (PT_REG, owner, BEPOCH) and the 512 PAMT_4K entries under it stay PT_NDA,
//! as in `pamt_manager.c` (`pamt_walk`, `pamt_is_2mb_range_free`).
//!
//! `walk` (in `pamt/walk.rs`) follows the module's `pamt_walk`: the PAMT_2M entry is locked
//! shared; the walk stops there if it is PT_REG (a 2 MiB page) or if the
//! caller asked for a 2 MiB entry (its lock is then promoted to exclusive
//! if needed), else it locks the PAMT_4K leaf and keeps the PAMT_2M entry
//! shared until the guard drops. So a 4 KiB leaf on a page inside a 2 MiB
//! page that is owned as a whole reaches the PAMT_2M entry: a size mismatch
//! (`PAGE_METADATA_INCORRECT`) or, if its lock is held, `OPERAND_BUSY`. The
//! shim has no 1 GiB pages and no 1 GiB promote/demote, so the PAMT_1G
//! entries stay PT_NDA and their lock, only ever taken shared by the
//! module, is not taken (it could never fail).
//!
//! Locks are never waited on: a failed compare-and-swap is reported to the
//! caller, which returns `TDX_OPERAND_BUSY` with the operand's ID.

use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use crate::platform::TdxPlatform;
use crate::types::{Hpa, PAGE_2M, PAGE_SIZE, PageType};

mod walk;
use walk::unlock_word;
pub(crate) use walk::{WalkError, range_2m_free, try_lock, walk};

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

    /// Where the PAMT entries of `hpa` are, if `hpa` lies in the
    /// initialised part of a published TDMR (the module's
    /// `pamt_get_block`; TDMRs and their initialisation are 1 GiB-granular,
    /// so a 2 MiB-aligned range is wholly inside or wholly outside).
    pub fn locate(&self, hpa: Hpa) -> Option<PamtLoc> {
        let a = hpa.raw();
        for i in 0..self.count() {
            let w = &self.slots[i].words;
            let base = w[0].load(Ordering::Relaxed);
            if a >= base && a < self.next_init(i) {
                let off = a - base;
                let pamt4k = w[6].load(Ordering::Relaxed);
                let pamt2m = w[4].load(Ordering::Relaxed);
                return Some(PamtLoc {
                    e4k: Hpa(pamt4k + (off / PAGE_SIZE) * PAMT_ENTRY_SIZE),
                    e2m: Hpa(pamt2m + (off / PAGE_2M) * PAMT_ENTRY_SIZE),
                });
            }
        }
        None
    }

    /// HPA of the PAMT_4K entry of `hpa` (see [`Self::locate`]).
    pub fn pamt_entry(&self, hpa: Hpa) -> Option<Hpa> {
        self.locate(hpa).map(|l| l.e4k)
    }

    /// The PAMT entry describing a page mapped by a leaf of `size` (4 KiB
    /// or 2 MiB) at `hpa`, the module's `pamt_implicit_get`.
    pub fn leaf_entry(&self, hpa: Hpa, size: PamtLevel) -> Option<Hpa> {
        let l = self.locate(hpa)?;
        Some(if size == PamtLevel::P4k { l.e4k } else { l.e2m })
    }
}

/// The PAMT_4K entry of a page and the PAMT_2M entry of its 2 MiB block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PamtLoc {
    /// PAMT_4K entry.
    pub e4k: Hpa,
    /// PAMT_2M entry.
    pub e2m: Hpa,
}

/// A held PAMT entry lock (and, for a 4 KiB leaf, the shared lock of its
/// PAMT_2M entry); released on drop.
pub struct PamtGuard<'a, P: TdxPlatform + 'a> {
    map: P::Mapping<'a>,
    word: usize,
    exclusive: bool,
    hpa: Hpa,
    size: PamtLevel,
    parent: Option<(P::Mapping<'a>, usize)>,
}

impl<P: TdxPlatform> core::fmt::Debug for PamtGuard<'_, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PamtGuard")
            .field("hpa", &self.hpa)
            .field("size", &self.size)
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

impl<P: TdxPlatform> PamtGuard<'_, P> {
    /// The page this entry describes (the address the walk was given).
    pub fn hpa(&self) -> Hpa {
        self.hpa
    }

    /// The size of the page this entry describes.
    pub fn size(&self) -> PamtLevel {
        self.size
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
        unlock_word(&self.map[self.word], self.exclusive);
        if let Some((m, w)) = &self.parent {
            unlock_word(&m[*w], false);
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
