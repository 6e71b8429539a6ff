//! A TD's memory after the build: TDH.MEM.PAGE.AUG (leaf 6),
//! TDH.MEM.RANGE.BLOCK (7), TDH.MEM.TRACK (38), TDH.MEM.RANGE.UNBLOCK (39),
//! TDH.MEM.PAGE.REMOVE (29), TDH.MEM.SEPT.REMOVE (30) and the guest's
//! TDG.MEM.PAGE.ACCEPT (TDCALL leaf 6); tdx-module-abi.md §2, §5, §8.
//!
//! Check orders follow intel/tdx-module `tdh_mem_page_aug.c`,
//! `tdh_mem_range_block.c`, `tdh_mem_track.c`, `tdh_mem_range_unblock.c`,
//! `tdh_mem_page_remove.c`, `tdh_mem_sept_remove.c` and
//! `tdg_mem_page_accept.c`. Every host leaf here: the TDR (shared lock; RDX,
//! or RCX for TRACK), the TD state checks of a leaf that maps the TDCS, the
//! TDCS lock and OP_STATE (INITIALIZED or RUNNABLE for all six,
//! `op_state_lookup.c`), the GPA|level operand (`OPERAND_INVALID` + RCX),
//! the private-GPA check, the SEPT walk (`EPT_WALK_FAILED` + RCX, details
//! in RCX/RDX), then the entry state (`sept_state_lookup.c`). RCX and RDX
//! are outputs that start at 0 ("no extended error code").
//!
//! Shim choices:
//! - Locks: the module's Secure-EPT lock and per-entry host locks are
//!   subsumed by the TDCS try-lock every leaf here holds (contention is
//!   `OPERAND_BUSY` + OP_STATE), as for TDH.MEM.SEPT.ADD.
//! - Page sizes: PAGE.AUG and ACCEPT take levels 0 and 1 (4 KiB and
//!   2 MiB pages, `mem_2m.rs`), BLOCK, UNBLOCK and PAGE.REMOVE work on a
//!   leaf of either size. There are no 1 GiB leaves (the module has none
//!   in 1.5's PAGE.AUG either: `verify_page_info_input` up to LVL_PD).
//! - TLB tracking: TD_EPOCH lives in the TDCS, the two REFCOUNTs in
//!   `Module::epoch_refs`. TDH.VP.ENTER counts the vCPU into the current
//!   epoch and the TD exit counts it out (the image builds the TD's
//!   address space from MAPPED entries at each VP.ENTER, so a vCPU that
//!   entered before a BLOCK may use the old mapping until it exits, like a
//!   stale TLB). TRACK answers `PREVIOUS_TLB_EPOCH_BUSY` while vCPUs run
//!   in the previous epoch, and a blocked page counts as tracked under
//!   the module's `is_tlb_tracked` rule. The IOMMU half of
//!   `is_tlb_and_iotlb_tracked` does not apply (no TDX-IO).
//! - A removed page (PAGE.REMOVE, SEPT.REMOVE) is zeroed and released to
//!   the VMM at once, as PAGE.RECLAIM does (`teardown.rs`). RCX returns
//!   the plain HPA (the 1.5 `tdh_mem_page_remove.c`; later modules OR in
//!   a PAMT_2M page-count hint).
//! - A page is zeroed both when AUG isolates it (no VMM data ever becomes
//!   TD-visible) and when the TD accepts it (`init_sept_4k_page`).
//! - CHLDCNT counts 4 KiB units: ± 512 for a 2 MiB page, as the module's
//!   `1 << (9 * level)`.

use core::sync::atomic::Ordering;

use crate::enter::{GuestState, TdExit, gpr};
use crate::mem::{HPA_MASK, SeptState, entry, page_info, septe_details};
use crate::mem_2m::{leaf_size, page_count};
use crate::pamt::{self, PamtGuard, PamtLevel};
use crate::platform::PAGE_WORDS;
use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult, err};
use crate::tdg::Tdcall;
use crate::tdr;
use crate::types::{Hpa, OpState, PageType, VmmRegs};
use crate::{MAX_HKIDS, Module, Tdcs, TryLock};

/// What the common prologue of a SEPT leaf found.
struct Found<'a, P: TdxPlatform + 'a> {
    tdr: PamtGuard<'a, P>,
    hkid: usize,
    t: <<P as TdxPlatform>::Lock<Tdcs> as TryLock<Tdcs>>::Guard<'a>,
    /// The SEPT table holding the entry.
    table: Hpa,
    idx: usize,
    lvl: u8,
    /// The entry's value.
    e: u64,
}

impl<P: TdxPlatform> Module<P> {
    /// TDR (shared, operand `op`), TDCS checks, TDCS lock, OP_STATE
    /// INITIALIZED or RUNNABLE. Returns the TDR guard, HKID and TDCS guard.
    fn mem_td(&self, raw: u64, op: OperandId) -> TdxResult<Found<'_, P>> {
        let g = self.lock_page(raw, op, false, PageType::Tdr)?;
        let (hkid, t) = self.lock_tdcs(g.hpa())?;
        if !matches!(t.op_state, OpState::Initialized | OpState::Runnable) {
            return Err(Code::OpStateIncorrect.into());
        }
        Ok(Found {
            tdr: g,
            hkid,
            t,
            table: Hpa(0),
            idx: 0,
            lvl: 0,
            e: 0,
        })
    }

    /// The prologue of a SEPT leaf: [`Self::mem_td`] with the TDR in RDX,
    /// then RCX = GPA|level with the level in `min..=max` (`None` = the
    /// root level, the module's EPTP page-walk length), the private-GPA
    /// check and the walk to the entry.
    fn sept_leaf(&self, regs: &mut VmmRegs, min: u8, max: Option<u8>) -> TdxResult<Found<'_, P>> {
        let (rcx, rdx) = (regs.rcx, regs.rdx);
        (regs.rcx, regs.rdx) = (0, 0);
        let mut f = self.mem_td(rdx, OperandId::Rdx)?;
        let max = max.unwrap_or(Self::root_level(&f.t));
        let (gpa, lvl) = page_info(rcx, min, max)?;
        Self::check_private_gpa(&f.t, gpa)?;
        f.table = self.sept_walk(f.tdr.hpa(), &f.t, gpa, lvl.get(), regs)?;
        f.idx = lvl.index(gpa);
        f.lvl = lvl.get();
        f.e = self.plat.map_page(f.table)[f.idx].load(Ordering::Acquire);
        Ok(f)
    }

    fn set_entry(&self, f: &Found<'_, P>, v: u64) {
        self.plat.map_page(f.table)[f.idx].store(v, Ordering::Release);
    }

    /// `EPT_ENTRY_STATE_INCORRECT` + RCX with the entry's details.
    fn bad_state<T>(regs: &mut VmmRegs, f: &Found<'_, P>) -> TdxResult<T> {
        septe_details(regs, f.e, f.lvl);
        err(Code::EptEntryStateIncorrect, OperandId::Rcx)
    }

    /// The module's `is_tlb_tracked`: a page blocked in epoch `bepoch` is
    /// tracked once TD_EPOCH moved past it and no vCPU still runs in it.
    fn tlb_tracked(&self, hkid: usize, t: &Tdcs, bepoch: u64) -> bool {
        if bepoch >> 63 != 0 {
            // Migration epoch flag: never set by the shim.
            return false;
        }
        let refs = &self.epoch_refs[hkid % MAX_HKIDS][(bepoch & 1) as usize];
        if bepoch + 1 == t.td_epoch {
            return refs.load(Ordering::Acquire) == 0;
        }
        bepoch + 1 < t.td_epoch
    }

    /// Exclusive lock of the PAMT entry of a page of `size` the SEPT
    /// points to (`pamt_implicit_get_and_lock`): `OPERAND_BUSY` + RCX.
    fn lock_implicit(&self, hpa: Hpa, size: PamtLevel) -> TdxResult<PamtGuard<'_, P>> {
        let busy = Status::with_operand(Code::OperandBusy, OperandId::Rcx);
        // Pages in the SEPT are inside an initialised TDMR by construction.
        let pe = self.tdmrs.leaf_entry(hpa, size).ok_or(busy)?;
        pamt::try_lock(&self.plat, pe, hpa, size, true).ok_or(busy)
    }

    /// The PAMT entry of what the entry `f.e` points to: the page of a
    /// leaf (PAMT_2M for a level-1 leaf), or a SEPT page.
    fn child_pamt(&self, f: &Found<'_, P>) -> Option<Hpa> {
        let leaf = SeptState::of(f.e).is_some_and(SeptState::is_leaf);
        let size = if leaf {
            leaf_size(f.lvl)
        } else {
            PamtLevel::P4k
        };
        self.tdmrs.leaf_entry(Hpa(f.e & HPA_MASK), size)
    }

    /// A leaf removing a page in a RUNNABLE TD needs its entry *BLOCKED
    /// (`GPA_RANGE_NOT_BLOCKED` + RCX, with details) and tracked
    /// (`TLB_TRACKING_NOT_DONE` + RCX). INITIALIZED needs neither
    /// (`op_state_is_tlb_tracking_required`).
    fn check_removable(
        &self,
        regs: &mut VmmRegs,
        f: &Found<'_, P>,
        blocked: bool,
        bepoch: u64,
    ) -> TdxResult<()> {
        if f.t.op_state != OpState::Runnable {
            return Ok(());
        }
        if !blocked {
            septe_details(regs, f.e, f.lvl);
            return err(Code::GpaRangeNotBlocked, OperandId::Rcx);
        }
        if !self.tlb_tracked(f.hkid, &f.t, bepoch) {
            return err(Code::TlbTrackingNotDone, OperandId::Rcx);
        }
        Ok(())
    }

    /// TDH.MEM.PAGE.AUG (leaf 6): RCX = GPA|level (0 or 1), RDX = TDR,
    /// R8 = the new page (PT_NDA; 2 MiB-aligned and wholly free at level
    /// 1, `mem_2m.rs`). The FREE entry becomes a PENDING leaf.
    pub(crate) fn mem_page_aug(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let f = self.sept_leaf(regs, 0, Some(1))?;
        // AUG is allowed on FREE (and the migration-only REMOVED).
        if SeptState::of(f.e) != Some(SeptState::Free) {
            return Self::bad_state(regs, &f);
        }
        let page = self.lock_free_range(regs.r8, OperandId::R8, f.lvl)?;
        // All checks passed.
        let tdr = f.tdr.hpa();
        self.take_pages(page.hpa(), page.size());
        self.set_entry(&f, entry(page.hpa(), SeptState::Pending));
        // Shared TDR lock: atomic, like the module's `_lock_xadd_64b`.
        self.plat.map_page(tdr)[tdr::W_CHLDCNT]
            .fetch_add(page_count(page.size()), Ordering::AcqRel);
        page.set(PageType::Reg, tdr);
        Ok(Status::SUCCESS)
    }

    /// TDH.MEM.RANGE.BLOCK (leaf 7): RCX = GPA|level (0..=root), RDX =
    /// TDR. NL_MAPPED, MAPPED, PENDING → NL_BLOCKED, BLOCKED,
    /// PENDING_BLOCKED; an already blocked entry is the warning
    /// `GPA_RANGE_ALREADY_BLOCKED` + RCX. The page the entry points to
    /// records TD_EPOCH in its PAMT BEPOCH.
    pub(crate) fn mem_range_block(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let f = self.sept_leaf(regs, 0, None)?;
        let new = match SeptState::of(f.e) {
            Some(SeptState::NlMapped) => SeptState::NlBlocked,
            Some(SeptState::Mapped) => SeptState::Blocked,
            Some(SeptState::Pending) => SeptState::PendingBlocked,
            Some(SeptState::NlBlocked | SeptState::Blocked | SeptState::PendingBlocked) => {
                septe_details(regs, f.e, f.lvl);
                return err(Code::GpaRangeAlreadyBlocked, OperandId::Rcx);
            }
            _ => return Self::bad_state(regs, &f),
        };
        let child = Hpa(f.e & HPA_MASK);
        let Some(pe) = self.child_pamt(&f) else {
            // Cannot happen (SEPT pages and TD pages lie in a TDMR).
            return Self::bad_state(regs, &f);
        };
        // All checks passed. Block first, then sample the epoch (the
        // module's order).
        self.set_entry(&f, entry(child, new));
        pamt::write_bepoch(&self.plat, pe, f.t.td_epoch);
        Ok(Status::SUCCESS)
    }

    /// TDH.MEM.RANGE.UNBLOCK (leaf 39): RCX = GPA|level (0..=root), RDX =
    /// TDR. NL_BLOCKED, BLOCKED, PENDING_BLOCKED → NL_MAPPED, MAPPED,
    /// PENDING; in a RUNNABLE TD only once the block is tracked.
    pub(crate) fn mem_range_unblock(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let f = self.sept_leaf(regs, 0, None)?;
        let new = match SeptState::of(f.e) {
            Some(SeptState::NlBlocked) => SeptState::NlMapped,
            Some(SeptState::Blocked) => SeptState::Mapped,
            Some(SeptState::PendingBlocked) => SeptState::Pending,
            _ => return Self::bad_state(regs, &f),
        };
        let child = Hpa(f.e & HPA_MASK);
        if f.t.op_state == OpState::Runnable {
            let bepoch = self
                .child_pamt(&f)
                .map_or(u64::MAX, |pe| pamt::read_bepoch(&self.plat, pe));
            if !self.tlb_tracked(f.hkid, &f.t, bepoch) {
                return err(Code::TlbTrackingNotDone, OperandId::Rcx);
            }
        }
        // All checks passed.
        self.set_entry(&f, entry(child, new));
        Ok(Status::SUCCESS)
    }

    /// TDH.MEM.TRACK (leaf 38): RCX = TDR. TD_EPOCH + 1, unless a vCPU
    /// still runs in the previous epoch (`PREVIOUS_TLB_EPOCH_BUSY`).
    pub(crate) fn mem_track(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let mut f = self.mem_td(regs.rcx, OperandId::Rcx)?;
        // The module's epoch lock is subsumed by the TDCS lock.
        let prev = (f.t.td_epoch.wrapping_add(1) & 1) as usize;
        if self.epoch_refs[f.hkid][prev].load(Ordering::Acquire) != 0 {
            return Err(Code::PreviousTlbEpochBusy.into());
        }
        // All checks passed. 2^63 TRACKs are out of reach; saturate
        // rather than wrap (the module raises a fatal error there).
        f.t.td_epoch = f.t.td_epoch.saturating_add(1);
        Ok(Status::SUCCESS)
    }

    /// TDH.MEM.PAGE.REMOVE (leaf 29): RCX = GPA|level (0..=2), RDX = TDR.
    /// A leaf entry (4 KiB, or 2 MiB at level 1) MAPPED, PENDING or
    /// *BLOCKED (blocked and tracked in a RUNNABLE TD) becomes FREE; the
    /// page goes back to PT_NDA, CHLDCNT − 1 or 512, RCX = the page's HPA.
    pub(crate) fn mem_page_remove(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let f = self.sept_leaf(regs, 0, Some(2))?;
        let st = SeptState::of(f.e);
        let blocked = matches!(st, Some(SeptState::Blocked | SeptState::PendingBlocked));
        // There are no 1 GiB leaves, so a level-2 entry is never a leaf.
        if !st.is_some_and(SeptState::is_leaf) {
            return Self::bad_state(regs, &f);
        }
        let page = self.lock_implicit(Hpa(f.e & HPA_MASK), leaf_size(f.lvl))?;
        self.check_removable(regs, &f, blocked, page.info().bepoch)?;
        // All checks passed.
        self.set_entry(&f, 0);
        self.free_td_page(f.tdr.hpa(), page, regs);
        Ok(Status::SUCCESS)
    }

    /// TDH.MEM.SEPT.REMOVE v0 (leaf 30): RCX = GPA|level (1..=root), RDX
    /// = TDR. The entry (NL_MAPPED, or NL_BLOCKED and tracked in a
    /// RUNNABLE TD) becomes FREE once every entry of its SEPT page is FREE
    /// (`EPT_PAGE_NOT_FREE` + RCX); the SEPT page goes back to PT_NDA,
    /// CHLDCNT − 1, RCX = its HPA.
    pub(crate) fn mem_sept_remove(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let f = self.sept_leaf(regs, 1, None)?;
        let st = SeptState::of(f.e);
        let blocked = st == Some(SeptState::NlBlocked);
        if !(blocked || st == Some(SeptState::NlMapped)) {
            return Self::bad_state(regs, &f);
        }
        let page = self.lock_implicit(Hpa(f.e & HPA_MASK), PamtLevel::P4k)?;
        self.check_removable(regs, &f, blocked, page.info().bepoch)?;
        let all_free = {
            let m = self.plat.map_page(page.hpa());
            (0..PAGE_WORDS)
                .all(|i| SeptState::of(m[i].load(Ordering::Acquire)) == Some(SeptState::Free))
        };
        if !all_free {
            septe_details(regs, f.e, f.lvl);
            return err(Code::EptPageNotFree, OperandId::Rcx);
        }
        // All checks passed.
        self.set_entry(&f, 0);
        self.free_td_page(f.tdr.hpa(), page, regs);
        Ok(Status::SUCCESS)
    }

    /// The commit of PAGE.REMOVE / SEPT.REMOVE for the locked `page`.
    fn free_td_page(&self, tdr: Hpa, page: PamtGuard<'_, P>, regs: &mut VmmRegs) {
        let n = page_count(page.size());
        self.plat.map_page(tdr)[tdr::W_CHLDCNT].fetch_sub(n, Ordering::AcqRel);
        regs.rcx = page.hpa().raw();
        self.give_back(page);
    }

    /// A vCPU of the TD with `hkid` enters in `t.td_epoch` (TDH.VP.ENTER,
    /// the module's `adjust_tlb_tracking_state`); returns the token the TD
    /// exit gives to [`Self::epoch_exit`].
    pub(crate) fn epoch_enter(&self, hkid: usize, t: &Tdcs) -> u64 {
        let parity = t.td_epoch & 1;
        self.epoch_refs[hkid % MAX_HKIDS][parity as usize].fetch_add(1, Ordering::AcqRel);
        1 + (hkid % MAX_HKIDS) as u64 * 2 + parity
    }

    /// The vCPU that entered with `token` left the TD (0 = none).
    pub(crate) fn epoch_exit(&self, token: u64) {
        let Some(k) = token.checked_sub(1) else {
            return;
        };
        if let Some(r) = self
            .epoch_refs
            .get((k / 2) as usize)
            .map(|p| &p[(k & 1) as usize])
        {
            // Never below 0, even if the token were stale.
            let _ = r.fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| v.checked_sub(1));
        }
    }

    /// TDG.MEM.PAGE.ACCEPT (TDCALL leaf 6): RCX = GPA|level (0..=1). A
    /// PENDING leaf of the requested size (4 KiB, or 2 MiB at level 1) is
    /// zeroed and becomes MAPPED. The other outcomes follow
    /// `check_tdaccept_failure` in `tdg_mem_page_accept.c`:
    /// - the walk stopped above the requested level at a MAPPED leaf (a
    ///   4 KiB ACCEPT inside an accepted 2 MiB page): the warning
    ///   `PAGE_ALREADY_ACCEPTED` + that level;
    /// - a non-leaf entry (NL_MAPPED, NL_BLOCKED) at the requested level:
    ///   `PAGE_SIZE_MISMATCH` + level;
    /// - a MAPPED leaf at the requested level: `PAGE_ALREADY_ACCEPTED` +
    ///   level;
    /// - anything else (the walk stopped above the requested level at a
    ///   non-accessible leaf, e.g. a PENDING 2 MiB page for a 4 KiB
    ///   ACCEPT, or at a FREE or blocked entry; a FREE, BLOCKED or
    ///   PENDING_BLOCKED entry at the requested level) is the module's
    ///   TDACCEPT_VIOLATION: an EPT-violation TD exit to the VMM
    ///   ([`TdExit::EptViolation`], EEQ type ACCEPT), so that the VMM can
    ///   TDH.MEM.PAGE.AUG the page; the guest then runs the same TDCALL
    ///   again.
    pub(crate) fn tdg_mem_page_accept(&self, tdvpr: Hpa, g: &mut GuestState) -> TdxResult<Tdcall> {
        let (gpa, lvl) = page_info(g.gprs[gpr::RCX], 0, 1)?;
        let (tdr, t) = self.td_of(tdvpr)?;
        Self::check_private_gpa(&t, gpa)?;
        let mut scratch = VmmRegs::default();
        let violation = |err_lvl: u8, e: u64| {
            Ok(Tdcall::EptViolation(TdExit::EptViolation {
                gpa,
                qualification: 0,
                ext: accept_eeq(lvl.get(), err_lvl, e),
            }))
        };
        let accepted = |at: u8| Err(Status::with_details(Code::PageAlreadyAccepted, at.into()));
        let table = match self.sept_walk(tdr.hpa(), &t, gpa, lvl.get(), &mut scratch) {
            Ok(table) => table,
            Err(_) => {
                // The walk stopped at the level in RDX[7:0], entry in RCX.
                let (at, e) = ((scratch.rdx & 7) as u8, scratch.rcx);
                if SeptState::of(e) == Some(SeptState::Mapped) {
                    return accepted(at);
                }
                return violation(at, e);
            }
        };
        let idx = lvl.index(gpa);
        let e = self.plat.map_page(table)[idx].load(Ordering::Acquire);
        match SeptState::of(e) {
            Some(SeptState::NlMapped | SeptState::NlBlocked) => Err(Status::with_details(
                Code::PageSizeMismatch,
                lvl.get().into(),
            )),
            Some(SeptState::Mapped) => accepted(lvl.get()),
            Some(SeptState::Pending) => {
                let page = Hpa(e & HPA_MASK);
                // The module's 2 MiB loop (`init_sept_4k_page` with the
                // entry's ACCEPT counter) stops early only for a pending
                // interrupt, which the shim never has: one go.
                self.zero_pages(page, leaf_size(lvl.get()));
                self.plat.map_page(table)[idx]
                    .store(entry(page, SeptState::Mapped), Ordering::Release);
                Ok(Tdcall::Resume)
            }
            _ => violation(lvl.get(), e),
        }
    }
}

/// The extended exit qualification of an ACCEPT violation
/// (`vmx_ext_exit_qual_t` with `tdaccept_vmx_eeq_info_t` in bits 63:32,
/// `async_tdexit_ept_violation`): info bits 2:0 the requested level, 5:3
/// the level where the walk stopped, 13:6 that entry's SEPT state (the
/// shim's encoding, mem.rs), 14 whether it is a leaf (the module's leaf
/// bit: set for MAPPED, PENDING, BLOCKED, PENDING_BLOCKED at any level,
/// clear for FREE and non-leaf entries).
fn accept_eeq(req_lvl: u8, err_lvl: u8, e: u64) -> u64 {
    let leaf = SeptState::of(e).is_some_and(SeptState::is_leaf);
    let info = u64::from(req_lvl & 7)
        | u64::from(err_lvl & 7) << 3
        | crate::mem::state_of(e) << 6
        | u64::from(leaf) << 14;
    crate::enter::eeq::ACCEPT | info << 32
}
