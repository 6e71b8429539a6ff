//! 2 MiB TD private pages (TDX module 1.5; tdx-module-abi.md §4, §5):
//! the helpers the SEPT leaves share for a page of either size.
//!
//! What each leaf does at level 1 (the leaves live in `mem_mgmt.rs`,
//! `teardown.rs`, `tdg.rs` and `lib.rs`):
//! - TDH.MEM.PAGE.AUG (`tdh_mem_page_aug.c`): RCX = GPA|1, 2 MiB-aligned;
//!   the level-1 entry must be FREE; R8 = a 2 MiB-aligned HPA whose
//!   PAMT_2M entry is PT_NDA and whose 512 PAMT_4K entries are all PT_NDA
//!   (`check_and_lock_free_range_hpa`, so reserved areas and pages in use
//!   are refused with `PAGE_METADATA_INCORRECT` + R8). Each of the 512
//!   pages is isolated and zeroed, the entry becomes a PENDING 2 MiB leaf,
//!   CHLDCNT + 512 (`1 << (9 * level)`), the PAMT_2M entry PT_REG.
//! - TDG.MEM.PAGE.ACCEPT (`tdg_mem_page_accept.c`): a PENDING 2 MiB leaf
//!   is zeroed and becomes MAPPED. The module zeroes it 4 KiB at a time
//!   with an ACCEPT counter in the entry and returns to the guest when an
//!   interrupt is pending; the shim injects no interrupts through the
//!   module, so it always zeroes the 512 pages in one TDCALL.
//! - TDH.MEM.RANGE.BLOCK / UNBLOCK: a 2 MiB leaf blocks and unblocks like
//!   a 4 KiB one; BEPOCH lives in its PAMT_2M entry (`pamt_implicit_get`
//!   at the leaf's size).
//! - TDH.MEM.PAGE.REMOVE (`tdh_mem_page_remove.c`): a 2 MiB leaf goes
//!   FREE, CHLDCNT − 512, the PAMT_2M entry PT_NDA, RCX = the 2 MiB HPA;
//!   the shim zeroes and releases the 512 pages to the VMM.
//! - TDH.PHYMEM.PAGE.RECLAIM (`tdh_phymem_page_reclaim.c`): the PAMT walk
//!   ends at the PAMT_2M entry; R8 = 1; an HPA that is not 2 MiB-aligned
//!   is then `OPERAND_INVALID` + RCX; CHLDCNT − 512; the 512 pages are
//!   zeroed and released. TDH.PHYMEM.PAGE.RDMD of any page inside reports
//!   the PAMT_2M entry with R8 = 1 (`tdh_phymem_page_rdmd.c`).
//! - The guest-side lookups (`tdg.rs`) follow a MAPPED 2 MiB leaf to the
//!   4 KiB page inside it.
//!
//! TDH.MEM.PAGE.ADD stays 4 KiB (level 0 only in `tdh_mem_page_add.c`),
//! and TDH.MEM.PAGE.PROMOTE / DEMOTE are not implemented, so a 2 MiB page
//! exists only through PAGE.AUG and leaves only through PAGE.REMOVE or
//! PAGE.RECLAIM.

use crate::Module;
use crate::pamt::{self, PamtGuard, PamtLevel};
use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, TdxResult, err};
use crate::types::{Hpa, PAGE_2M, PAGE_SIZE, PageType};

/// The PAMT size of a leaf at SEPT level `lvl` (0 = 4 KiB, 1 = 2 MiB).
pub(crate) const fn leaf_size(lvl: u8) -> PamtLevel {
    if lvl == 0 {
        PamtLevel::P4k
    } else {
        PamtLevel::P2m
    }
}

/// 4 KiB pages in a page of `size`: 1 or 512 (the CHLDCNT units).
pub(crate) const fn page_count(size: PamtLevel) -> u64 {
    match size {
        PamtLevel::P4k => 1,
        _ => 512,
    }
}

/// The 4 KiB pages of the page of `size` at `base`.
fn pages(base: Hpa, size: PamtLevel) -> impl Iterator<Item = Hpa> {
    (0..page_count(size)).map(move |i| base.add(i * PAGE_SIZE))
}

impl<P: TdxPlatform> Module<P> {
    /// The new page of TDH.MEM.PAGE.AUG at SEPT level `lvl`, locked
    /// exclusively (`check_and_lock_free_range_hpa`): a 4 KiB page is a
    /// [`Self::lock_page`] of a PT_NDA page; a 2 MiB page needs 2 MiB
    /// alignment and no HKID bits (`OPERAND_INVALID`), an initialised
    /// TDMR (`OPERAND_ADDR_RANGE_ERROR`), its PAMT_2M entry's lock
    /// (`OPERAND_BUSY`), PT_NDA there and in all 512 PAMT_4K entries
    /// (`PAGE_METADATA_INCORRECT`); each plus `op`.
    pub(crate) fn lock_free_range(
        &self,
        raw: u64,
        op: OperandId,
        lvl: u8,
    ) -> TdxResult<PamtGuard<'_, P>> {
        if lvl == 0 {
            return self.lock_page(raw, op, true, PageType::Nda);
        }
        let hpa = self.check_hpa(raw, PAGE_2M, op)?;
        let g = self.lock_at(hpa, op, true, PageType::Nda, PamtLevel::P2m)?;
        let free = self
            .tdmrs
            .pamt_entry(hpa)
            .is_some_and(|first| pamt::range_2m_free(&self.plat, first));
        if !free {
            return err(Code::PageMetadataIncorrect, op);
        }
        Ok(g)
    }

    /// Take the page of `size` at `base` from the VMM: isolate and zero
    /// each 4 KiB page (`isolate_page` is per 4 KiB page).
    pub(crate) fn take_pages(&self, base: Hpa, size: PamtLevel) {
        for p in pages(base, size) {
            self.plat.isolate_page(p);
            self.plat.zero_page(p);
        }
    }

    /// Zero the page of `size` at `base` (TDG.MEM.PAGE.ACCEPT).
    pub(crate) fn zero_pages(&self, base: Hpa, size: PamtLevel) {
        for p in pages(base, size) {
            self.plat.zero_page(p);
        }
    }

    /// Give the page of `size` at `base`, locked in `page`, back to the
    /// VMM: zero it, PT_NDA, release each 4 KiB page.
    pub(crate) fn give_back(&self, page: PamtGuard<'_, P>) {
        let (base, size) = (page.hpa(), page.size());
        self.zero_pages(base, size);
        page.set(PageType::Nda, Hpa(0));
        for p in pages(base, size) {
            self.plat.release_page(p);
        }
    }
}
