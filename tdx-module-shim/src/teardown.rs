//! TD teardown (tdx-module-abi.md §2 "Teardown", §5 lifecycle and KOT):
//! TDH.MNG.VPFLUSHDONE, TDH.PHYMEM.CACHE.WB, TDH.MNG.KEY.FREEID,
//! TDH.PHYMEM.PAGE.RECLAIM, TDH.PHYMEM.PAGE.WBINVD, and TDH.PHYMEM.PAGE.RDMD
//! (any time). Check orders follow intel/tdx-module `tdh_mng_vpflushdone.c`,
//! `tdh_phymem_cache_wb.c`, `tdh_mng_key_freeid.c`,
//! `tdh_phymem_page_reclaim.c`, `tdh_phymem_page_wbinvd.c`,
//! `tdh_phymem_page_rdmd.c` (TDX_1.5.01). RECLAIM and RDMD walk the PAMT
//! to the entry that describes the page, so they see a 2 MiB page's
//! PAMT_2M entry (`mem_2m.rs`).
//!
//! Lifecycle: KEYS_CONFIGURED (or HKID_ASSIGNED) → VPFLUSHDONE → BLOCKED
//! (KOT entry FLUSHED, its WBINVD bitmap = every package) → CACHE.WB on
//! each package clears that package's bit → FREEID (bitmap 0) → TEARDOWN
//! (KOT entry FREE: the HKID can be reused) → PAGE.RECLAIM of every child
//! page (CHLDCNT − 1 each), then of the TDR (CHLDCNT must be 0).
//!
//! The shim has no KOT lock: KOT entries change by compare-and-swap under
//! the TDR's exclusive PAMT lock, so the KOT BUSY status never occurs.
//! CACHE.WB is never interrupted (caches need no write-back under
//! emulation), so RCX = 1 (resume) always finds no saved session. A
//! reclaimed page is zeroed and given back to the VMM (`release_page`):
//! the real module leaves the zeroing to the VMM (MOVDIR64B), the shim
//! does it so no TD data ever becomes VMM-readable.

use core::sync::atomic::Ordering;

use crate::mem_2m::page_count;
use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult, err};
use crate::tdr;
use crate::types::{KotState, Lifecycle, Lp, OpState, PAGE_SIZE, PageType, VmmRegs};
use crate::{MAX_HKIDS, Module, TryLock};

impl<P: TdxPlatform> Module<P> {
    /// TDH.MNG.VPFLUSHDONE (leaf 19): RCX = TDR.
    pub(crate) fn mng_vpflushdone(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let g = self.lock_page(regs.rcx, OperandId::Rcx, true, PageType::Tdr)?;
        let tdr = g.hpa();
        let hkid = tdr::read(&self.plat, tdr, tdr::W_HKID) as usize % MAX_HKIDS;
        let lc = Lifecycle::from_u64(tdr::read(&self.plat, tdr, tdr::W_LIFECYCLE));
        if !matches!(lc, Lifecycle::KeysConfigured | Lifecycle::HkidAssigned) {
            return Err(Code::LifecycleStateIncorrect.into());
        }
        if tdr::read(&self.plat, tdr, tdr::W_NUM_TDCX) >= tdr::NUM_TDCX as u64 {
            let t = self.tdcs[hkid].try_lock().ok_or(tdr::OP_STATE_BUSY)?;
            if t.op_state != OpState::Uninitialized && t.num_assoc_vcpus != 0 {
                return Err(Code::FlushvpNotDone.into());
            }
        }
        // All checks passed.
        let all = (1u64 << self.cfg.num_packages) - 1;
        self.kot_wbinvd[hkid].store(all, Ordering::Release);
        self.kot[hkid].store(KotState::Flushed as u8, Ordering::Release);
        tdr::write(&self.plat, tdr, tdr::W_LIFECYCLE, Lifecycle::Blocked as u64);
        Ok(Status::SUCCESS)
    }

    /// TDH.PHYMEM.CACHE.WB (leaf 40): RCX = 0 (start) or 1 (resume). For
    /// the LP's package, clears the WBINVD bit of every FLUSHED HKID.
    /// No FLUSHED HKID is the warning `TDX_NO_HKID_READY_TO_WBCACHE`; a
    /// concurrent call on the same package is BUSY + WBCACHE.
    pub(crate) fn phymem_cache_wb(&self, lp: Lp, regs: &mut VmmRegs) -> TdxResult<Status> {
        if regs.rcx > 1 {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        let busy = &self.wbt_busy[lp.package as usize % self.wbt_busy.len()];
        if busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return err(Code::OperandBusy, OperandId::Wbcache);
        }
        let r = self.cache_wb_locked(lp, regs.rcx == 1);
        busy.store(false, Ordering::Release);
        r
    }

    fn cache_wb_locked(&self, lp: Lp, resume: bool) -> TdxResult<Status> {
        if resume {
            return Err(Code::WbcacheResumeError.into());
        }
        let flushed = |h: usize| self.kot[h].load(Ordering::Acquire) == KotState::Flushed as u8;
        if !(0..MAX_HKIDS).any(flushed) {
            return Ok(Code::NoHkidReadyToWbcache.into());
        }
        let bit = 1u64 << lp.package;
        for h in (0..MAX_HKIDS).filter(|&h| flushed(h)) {
            self.kot_wbinvd[h].fetch_and(!bit, Ordering::AcqRel);
        }
        Ok(Status::SUCCESS)
    }

    /// TDH.MNG.KEY.FREEID (leaf 20): RCX = TDR. BLOCKED → TEARDOWN once
    /// CACHE.WB ran on every package; the HKID's KOT entry becomes FREE.
    pub(crate) fn mng_key_freeid(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let g = self.lock_page(regs.rcx, OperandId::Rcx, true, PageType::Tdr)?;
        let tdr = g.hpa();
        let lc = Lifecycle::from_u64(tdr::read(&self.plat, tdr, tdr::W_LIFECYCLE));
        if lc != Lifecycle::Blocked {
            return Err(Code::LifecycleStateIncorrect.into());
        }
        let hkid = tdr::read(&self.plat, tdr, tdr::W_HKID) as usize % MAX_HKIDS;
        if self.kot_wbinvd[hkid].load(Ordering::Acquire) != 0 {
            return Err(Code::WbcacheNotComplete.into());
        }
        // All checks passed.
        tdr::write(
            &self.plat,
            tdr,
            tdr::W_LIFECYCLE,
            Lifecycle::Teardown as u64,
        );
        self.kot[hkid].store(KotState::Free as u8, Ordering::Release);
        Ok(Status::SUCCESS)
    }

    /// The common start of PAGE.RDMD and PAGE.RECLAIM: clear the outputs,
    /// check the 4 KiB page in RCX (alignment and HKID bits, then inside a
    /// TDMR: `OPERAND_ADDR_RANGE_ERROR` + RCX) and walk the PAMT to the
    /// entry that describes it, locked shared or `exclusive`
    /// (`OPERAND_BUSY` + RCX).
    fn walk_rcx_page(
        &self,
        regs: &mut VmmRegs,
        exclusive: bool,
    ) -> TdxResult<(crate::types::Hpa, crate::pamt::PamtGuard<'_, P>)> {
        let raw = regs.rcx;
        (regs.rcx, regs.rdx, regs.r8, regs.r9, regs.r10, regs.r11) = (0, 0, 0, 0, 0, 0);
        let hpa = self.check_hpa(raw, PAGE_SIZE, OperandId::Rcx)?;
        let loc = self.tdmrs.locate(hpa).ok_or(Status::with_operand(
            Code::OperandAddrRangeError,
            OperandId::Rcx,
        ))?;
        let g = crate::pamt::walk(&self.plat, loc, hpa, exclusive, None)
            .map_err(|_| Status::with_operand(Code::OperandBusy, OperandId::Rcx))?;
        Ok((hpa, g))
    }

    /// TDH.PHYMEM.PAGE.RDMD (§2 leaf 24, `tdh_phymem_page_rdmd.c`): RCX =
    /// any 4 KiB page. Outputs start at 0; the walk ends at the entry that
    /// describes the page (a 2 MiB page's PAMT_2M entry): RCX = page type,
    /// RDX = owner, R8 = size (0 = 4 KiB, 1 = 2 MiB), R9 = BEPOCH of a
    /// PT_REG or PT_EPT page (else 0).
    pub(crate) fn phymem_page_rdmd(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let (_, g) = self.walk_rcx_page(regs, false)?;
        let info = g.info();
        regs.rcx = u64::from(info.page_type);
        regs.rdx = info.owner;
        regs.r8 = g.size() as u64;
        if matches!(g.page_type(), Some(PageType::Reg | PageType::Ept)) {
            regs.r9 = info.bepoch;
        }
        Ok(Status::SUCCESS)
    }

    /// TDH.PHYMEM.PAGE.RECLAIM (leaf 28): RCX = page. Outputs RCX = page
    /// type, RDX = owner, R8 = size (0 = 4 KiB, 1 = 2 MiB), set once the
    /// page is locked and typed. The PAMT walk ends at the entry that
    /// describes the page (a 2 MiB page's PAMT_2M entry), and a 2 MiB page
    /// must then be named by its 2 MiB-aligned HPA (`OPERAND_INVALID` +
    /// RCX). A child page (REG, EPT, TDCX, TDVPR) needs its TDR (implicit,
    /// shared, operand TDR) in TEARDOWN and decrements CHLDCNT by its 4 KiB
    /// pages (512 for 2 MiB); the TDR itself needs TEARDOWN and CHLDCNT =
    /// 0 (`TDX_TD_ASSOCIATED_PAGES_EXIST`). The page becomes PT_NDA, is
    /// zeroed and released to the VMM (`tdh_phymem_page_reclaim.c`).
    pub(crate) fn phymem_page_reclaim(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let (hpa, page) = self.walk_rcx_page(regs, true)?;
        let info = page.info();
        let ty = match page.page_type() {
            None | Some(PageType::Nda) | Some(PageType::Rsvd) => {
                return err(Code::PageMetadataIncorrect, OperandId::Rcx);
            }
            Some(t) => t,
        };
        regs.rcx = u64::from(info.page_type);
        regs.rdx = info.owner;
        regs.r8 = page.size() as u64;
        let n = page_count(page.size());
        if !hpa.raw().is_multiple_of(n * PAGE_SIZE) {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        if ty == PageType::Tdr {
            let lc = Lifecycle::from_u64(tdr::read(&self.plat, hpa, tdr::W_LIFECYCLE));
            if lc != Lifecycle::Teardown {
                return Err(Code::LifecycleStateIncorrect.into());
            }
            if tdr::read(&self.plat, hpa, tdr::W_CHLDCNT) != 0 {
                return Err(Code::TdAssociatedPagesExist.into());
            }
        } else {
            let owner = self.lock_page(info.owner, OperandId::Tdr, false, PageType::Tdr)?;
            let lc = Lifecycle::from_u64(tdr::read(&self.plat, owner.hpa(), tdr::W_LIFECYCLE));
            if lc != Lifecycle::Teardown {
                return Err(Code::LifecycleStateIncorrect.into());
            }
            // Shared TDR lock: concurrent reclaims of siblings decrement
            // atomically (`_lock_xadd_64b` in the module source).
            self.plat.map_page(owner.hpa())[tdr::W_CHLDCNT].fetch_sub(n, Ordering::AcqRel);
        }
        // All checks passed.
        self.give_back(page);
        Ok(Status::SUCCESS)
    }

    /// TDH.PHYMEM.PAGE.WBINVD (leaf 41): RCX = page PA with HKID bits (any
    /// HKID; they are stripped first). The page must be PT_NDA (after
    /// PAGE.RECLAIM); a no-op under emulation.
    pub(crate) fn phymem_page_wbinvd(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let mask = (1u64 << self.cfg.hkid_bits) - 1;
        let raw = regs.rcx & !(mask << self.cfg.hkid_shift());
        let _g = self.lock_page(raw, OperandId::Rcx, false, PageType::Nda)?;
        Ok(Status::SUCCESS)
    }
}
