//! Secure EPT and TD build leaves: TDH.MEM.SEPT.ADD, TDH.MEM.PAGE.ADD,
//! TDH.MR.EXTEND, TDH.MR.FINALIZE (tdx-module-abi.md §2, §5, §7).
//!
//! # SEPT entry format (shim-defined; one u64 per entry in SEPT pages)
//!
//! | Bits  | Field |
//! |-------|-------|
//! | 2:0   | RWX: 7 for NL_MAPPED and MAPPED, 0 otherwise (not present) |
//! | 51:12 | HPA of the child table or page |
//! | 54:52 | state ([`SeptState`]) |
//!
//! | State | Value | Level | Meaning |
//! |-------|-------|-------|---------|
//! | FREE | 0 | any | nothing mapped (the whole entry is 0) |
//! | NL_MAPPED | 1 | ≥ 1 | points to a lower-level SEPT page |
//! | MAPPED | 2 | 0, 1 | a private page (4 KiB, or 2 MiB at level 1) the TD can access |
//! | PENDING | 3 | 0, 1 | added by TDH.MEM.PAGE.AUG, waiting for TDG.MEM.PAGE.ACCEPT; the TD cannot access it |
//! | BLOCKED | 4 | 0, 1 | a MAPPED page after TDH.MEM.RANGE.BLOCK |
//! | PENDING_BLOCKED | 5 | 0, 1 | a PENDING page after TDH.MEM.RANGE.BLOCK |
//! | NL_BLOCKED | 6 | ≥ 1 | an NL_MAPPED entry after TDH.MEM.RANGE.BLOCK; walks stop here |
//!
//! MAPPED, PENDING, BLOCKED and PENDING_BLOCKED are the leaf states
//! (`SeptState::is_leaf`, the module's leaf bit): at level 1 they map a
//! 2 MiB page (2 MiB-aligned HPA), which only TDH.MEM.PAGE.AUG creates
//! (`mem_2m.rs`). A walk to a lower level stops at any entry that is not
//! NL_MAPPED, as the module's `secure_ept_walk` stops at a leaf or a
//! non-present entry. TDH.MEM.PAGE.ADD stays 4 KiB only, as in the module
//! (`tdh_mem_page_add.c` takes level 0 only).
//!
//! The names are the module's (§5 "SEPT entry states"); the encoding is the
//! shim's own (the module's uses other bits, `sept_state_lookup.c`). Which
//! leaf accepts which state is re-derived from `sept_state_lookup.c`
//! (TDX_1.5.01) in each leaf. Only NL_MAPPED and MAPPED are walked through
//! by the guest-side lookups (`tdg.rs`), so PENDING and *BLOCKED pages are
//! inaccessible to the TD. The TLB epoch at which an entry was blocked is
//! kept where the module keeps it: in the PAMT BEPOCH of the page the entry
//! points to (`tdh_mem_range_block.c`; see `mem_mgmt.rs`).
//!
//! The root table is TDCX page 2, at level 3 (GPAW 48, 4-level) or 4
//! (GPAW 52, 5-level). Entries change only while the TDR's PAMT entry is
//! held exclusively, which also serialises the SEPT tree (the module's
//! separate SEPT lock is subsumed).
//!
//! Check order follows `tdh_mem_page_add.c`: TDR (RDX), TD state and
//! OP_STATE, GPA|level (RCX), SEPT walk (`EPT_WALK_FAILED` + RCX, with
//! RCX = SEPT entry and RDX = level | state << 8), entry state
//! (`EPT_ENTRY_STATE_INCORRECT` + RCX), source HPA (R9), target page (R8).

use core::sync::atomic::Ordering;

use cmon_measure::tdx::MR_EXTEND_CHUNK;

use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult, err};
use crate::tdr::{self, OP_STATE_BUSY, SEPT_ROOT_TDCX};
use crate::types::{Gpa, Hpa, Level, OpState, PAGE_SIZE, PageType, VmmRegs};
use crate::{MAX_HKIDS, Module, Tdcs, TryLock};

pub(crate) const HPA_MASK: u64 = 0x000F_FFFF_FFFF_F000;
const RWX: u64 = 7;
const STATE_SHIFT: u32 = 52;

/// SEPT entry states the shim creates (see the table above).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum SeptState {
    /// Not mapped.
    Free = 0,
    /// Points to a lower-level SEPT page.
    NlMapped = 1,
    /// Maps a private page (4 KiB, or 2 MiB at level 1).
    Mapped = 2,
    /// A page added by TDH.MEM.PAGE.AUG, not yet accepted.
    Pending = 3,
    /// A MAPPED page blocked by TDH.MEM.RANGE.BLOCK.
    Blocked = 4,
    /// A PENDING page blocked by TDH.MEM.RANGE.BLOCK.
    PendingBlocked = 5,
    /// An NL_MAPPED entry blocked by TDH.MEM.RANGE.BLOCK.
    NlBlocked = 6,
}

impl SeptState {
    /// A leaf state (MAPPED, PENDING, BLOCKED, PENDING_BLOCKED); FREE and
    /// the non-leaf states are not (the module's leaf bit is 0 for them).
    pub(crate) const fn is_leaf(self) -> bool {
        matches!(
            self,
            SeptState::Mapped | SeptState::Pending | SeptState::Blocked | SeptState::PendingBlocked
        )
    }

    /// The state in an entry's bits 54:52 (`None` for the unused value 7).
    pub(crate) const fn of(e: u64) -> Option<SeptState> {
        Some(match state_of(e) {
            0 => SeptState::Free,
            1 => SeptState::NlMapped,
            2 => SeptState::Mapped,
            3 => SeptState::Pending,
            4 => SeptState::Blocked,
            5 => SeptState::PendingBlocked,
            6 => SeptState::NlBlocked,
            _ => return None,
        })
    }
}

pub(crate) const fn state_of(e: u64) -> u64 {
    (e >> STATE_SHIFT) & 7
}

/// An entry for `hpa` in state `st`: present (RWX) only when the TD may
/// walk through or access it.
pub(crate) const fn entry(hpa: Hpa, st: SeptState) -> u64 {
    let rwx = match st {
        SeptState::NlMapped | SeptState::Mapped => RWX,
        _ => 0,
    };
    (hpa.raw() & HPA_MASK) | rwx | (st as u64) << STATE_SHIFT
}

/// The SEPT-entry details of a failed walk or state check
/// (`set_arch_septe_details_in_vmm_regs`): RCX = entry, RDX = level |
/// state << 8.
pub(crate) fn septe_details(regs: &mut VmmRegs, e: u64, lvl: u8) {
    regs.rcx = e;
    regs.rdx = u64::from(lvl) | state_of(e) << 8;
}

/// Decode a GPA|level operand (§1): bits 2:0 level in `min..=max`, bits
/// 11:3 and 63:52 zero, GPA aligned to the level's mapping size.
pub(crate) fn page_info(raw: u64, min: u8, max: u8) -> TdxResult<(Gpa, Level)> {
    let bad = Status::with_operand(Code::OperandInvalid, OperandId::Rcx);
    let lvl = Level::new((raw & 7) as u8).ok_or(bad)?;
    if lvl.get() < min || lvl.get() > max || raw & !(HPA_MASK | 7) != 0 {
        return Err(bad);
    }
    let gpa = raw & HPA_MASK;
    if !gpa.is_multiple_of(lvl.entry_span()) {
        return Err(bad);
    }
    Ok((Gpa(gpa), lvl))
}

/// A held TDCS lock.
pub(crate) type TdcsGuard<'a, P> = <<P as TdxPlatform>::Lock<Tdcs> as TryLock<Tdcs>>::Guard<'a>;

/// The TDR guard and TDCS guard a build leaf holds.
pub(crate) type BuildGuards<'a, P> = (crate::pamt::PamtGuard<'a, P>, TdcsGuard<'a, P>);

impl<P: TdxPlatform> Module<P> {
    /// The TDCS of the TD whose TDR (`tdr`) the caller holds locked: the
    /// §5 checks of a leaf that maps the TDCS ([`tdr::check_tdcs_mappable`]),
    /// then the TDCS lock (`TDX_OPERAND_BUSY` on OP_STATE if it is held).
    /// Returns the TD's HKID (mod [`MAX_HKIDS`]) and the TDCS guard.
    pub(crate) fn lock_tdcs(&self, tdr: Hpa) -> TdxResult<(usize, TdcsGuard<'_, P>)> {
        let hkid = tdr::check_tdcs_mappable(&self.plat, tdr)? % MAX_HKIDS;
        let t = self.tdcs[hkid].try_lock().ok_or(OP_STATE_BUSY)?;
        Ok((hkid, t))
    }

    pub(crate) fn root_level(t: &Tdcs) -> u8 {
        if t.gpaw52 { 4 } else { 3 }
    }

    /// Private GPA check (`check_gpa_validity`): below the shared bit (GPAW - 1).
    pub(crate) fn check_private_gpa(t: &Tdcs, gpa: Gpa) -> TdxResult<()> {
        let shared_bit = if t.gpaw52 { 51 } else { 47 };
        if gpa.0 >> shared_bit != 0 {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        Ok(())
    }

    /// Walk from the root to the table of level `target` that holds `gpa`'s
    /// entry; every entry above must be NL_MAPPED.
    pub(crate) fn sept_walk(
        &self,
        tdr: Hpa,
        t: &Tdcs,
        gpa: Gpa,
        target: u8,
        regs: &mut VmmRegs,
    ) -> TdxResult<Hpa> {
        let mut table = Hpa(tdr::read(&self.plat, tdr, tdr::W_TDCX + SEPT_ROOT_TDCX));
        let mut lv = Self::root_level(t);
        while lv > target {
            let l = Level::new(lv).unwrap_or(Level::L0);
            let e = self.plat.map_page(table)[l.index(gpa)].load(Ordering::Acquire);
            if state_of(e) != SeptState::NlMapped as u64 {
                regs.rcx = e;
                regs.rdx = u64::from(lv) | state_of(e) << 8;
                return err(Code::EptWalkFailed, OperandId::Rcx);
            }
            table = Hpa(e & HPA_MASK);
            lv -= 1;
        }
        Ok(table)
    }

    /// Lock the TDR (RDX here, or `op`), check the TD can map its TDCS,
    /// lock the TDCS and check OP_STATE is one of `allowed`.
    fn build_prologue(
        &self,
        raw_tdr: u64,
        op: OperandId,
        allowed: &[OpState],
    ) -> TdxResult<BuildGuards<'_, P>> {
        let g = self.lock_page(raw_tdr, op, true, PageType::Tdr)?;
        let (_, t) = self.lock_tdcs(g.hpa())?;
        if !allowed.contains(&t.op_state) {
            return Err(Code::OpStateIncorrect.into());
        }
        Ok((g, t))
    }

    /// TDH.MEM.SEPT.ADD v0 (leaf 3): RCX = GPA|level (1..=root level),
    /// RDX = TDR, R8 = new SEPT page. OP_STATE INITIALIZED or RUNNABLE.
    pub(crate) fn mem_sept_add(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let (g, t) = self.build_prologue(
            regs.rdx,
            OperandId::Rdx,
            &[OpState::Initialized, OpState::Runnable],
        )?;
        let tdr = g.hpa();
        let (gpa, lvl) = page_info(regs.rcx, 1, Self::root_level(&t))?;
        Self::check_private_gpa(&t, gpa)?;
        let mut out = *regs;
        let table = self
            .sept_walk(tdr, &t, gpa, lvl.get(), &mut out)
            .inspect_err(|_| *regs = out)?;
        let idx = lvl.index(gpa);
        let cur = self.plat.map_page(table)[idx].load(Ordering::Acquire);
        if state_of(cur) != SeptState::Free as u64 {
            regs.rcx = cur;
            regs.rdx = u64::from(lvl.get()) | state_of(cur) << 8;
            return err(Code::EptEntryStateIncorrect, OperandId::Rcx);
        }
        let page = self.lock_page(regs.r8, OperandId::R8, true, PageType::Nda)?;
        // All checks passed.
        self.plat.isolate_page(page.hpa());
        self.plat.zero_page(page.hpa());
        self.plat.map_page(table)[idx]
            .store(entry(page.hpa(), SeptState::NlMapped), Ordering::Release);
        self.inc_chldcnt(tdr);
        page.set(PageType::Ept, tdr);
        Ok(Status::SUCCESS)
    }

    /// TDH.MEM.PAGE.ADD (leaf 2): RCX = GPA (level 0), RDX = TDR, R8 =
    /// target, R9 = source. OP_STATE INITIALIZED. The source is copied
    /// once, 256 bytes at a time, after the target is isolated; a failed
    /// copy zeroes the target, gives it back and returns OPERAND_INVALID +
    /// R9. MRTD gets the MEM.PAGE.ADD block (§7).
    pub(crate) fn mem_page_add(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let (g, mut t) = self.build_prologue(regs.rdx, OperandId::Rdx, &[OpState::Initialized])?;
        let tdr = g.hpa();
        let (gpa, _) = page_info(regs.rcx, 0, 0)?;
        Self::check_private_gpa(&t, gpa)?;
        let mut out = *regs;
        let table = self
            .sept_walk(tdr, &t, gpa, 0, &mut out)
            .inspect_err(|_| *regs = out)?;
        let idx = Level::L0.index(gpa);
        let cur = self.plat.map_page(table)[idx].load(Ordering::Acquire);
        if state_of(cur) != SeptState::Free as u64 {
            regs.rcx = cur;
            regs.rdx = state_of(cur) << 8;
            return err(Code::EptEntryStateIncorrect, OperandId::Rcx);
        }
        let src = self.check_hpa(regs.r9, PAGE_SIZE, OperandId::R9)?;
        let page = self.lock_page(regs.r8, OperandId::R8, true, PageType::Nda)?;
        let dst = page.hpa();
        self.plat.isolate_page(dst);
        {
            let map = self.plat.map_page(dst);
            let mut chunk = [0u8; MR_EXTEND_CHUNK];
            for c in 0..(PAGE_SIZE as usize / MR_EXTEND_CHUNK) {
                let off = (c * MR_EXTEND_CHUNK) as u64;
                if self
                    .plat
                    .copy_from_vmm(src.raw() + off, &mut chunk)
                    .is_err()
                {
                    drop(map);
                    self.plat.zero_page(dst);
                    self.plat.release_page(dst);
                    return err(Code::OperandInvalid, OperandId::R9);
                }
                for (k, w) in chunk.chunks_exact(8).enumerate() {
                    let mut x = [0u8; 8];
                    x.copy_from_slice(w);
                    map[c * MR_EXTEND_CHUNK / 8 + k]
                        .store(u64::from_le_bytes(x), Ordering::Relaxed);
                }
            }
        }
        let Some(mrtd) = t.mrtd.as_mut() else {
            return Err(Code::OpStateIncorrect.into());
        };
        // GPA is 4 KiB-aligned by page_info, so page_add cannot fail.
        let _ = mrtd.page_add(gpa.0);
        self.plat.map_page(table)[idx].store(entry(dst, SeptState::Mapped), Ordering::Release);
        self.inc_chldcnt(tdr);
        page.set(PageType::Reg, tdr);
        Ok(Status::SUCCESS)
    }

    /// TDH.MR.EXTEND (leaf 16): RCX = GPA (256-byte aligned, MAPPED), RDX
    /// = TDR. MRTD gets the MR.EXTEND block and the 256 bytes (§7).
    pub(crate) fn mr_extend(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let (g, mut t) = self.build_prologue(regs.rdx, OperandId::Rdx, &[OpState::Initialized])?;
        let tdr = g.hpa();
        let gpa = Gpa(regs.rcx);
        if !gpa.0.is_multiple_of(MR_EXTEND_CHUNK as u64) {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        Self::check_private_gpa(&t, gpa)?;
        let mut out = *regs;
        let table = self
            .sept_walk(tdr, &t, gpa, 0, &mut out)
            .inspect_err(|_| *regs = out)?;
        let e = self.plat.map_page(table)[Level::L0.index(gpa)].load(Ordering::Acquire);
        if state_of(e) != SeptState::Mapped as u64 {
            regs.rcx = e;
            regs.rdx = state_of(e) << 8;
            return err(Code::EptEntryStateIncorrect, OperandId::Rcx);
        }
        let mut chunk = [0u8; MR_EXTEND_CHUNK];
        {
            let map = self.plat.map_page(Hpa(e & HPA_MASK));
            let first = (gpa.0 % PAGE_SIZE) as usize / 8;
            for (k, c) in chunk.chunks_exact_mut(8).enumerate() {
                c.copy_from_slice(&map[first + k].load(Ordering::Relaxed).to_le_bytes());
            }
        }
        let Some(mrtd) = t.mrtd.as_mut() else {
            return Err(Code::OpStateIncorrect.into());
        };
        let _ = mrtd.mr_extend(gpa.0, &chunk);
        Ok(Status::SUCCESS)
    }

    /// TDH.MR.FINALIZE (leaf 17): RCX = TDR. MRTD finalised, SERVTD_HASH
    /// stays 0 (no service TDs), OP_STATE INITIALIZED → RUNNABLE.
    pub(crate) fn mr_finalize(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let (_g, mut t) = self.build_prologue(regs.rcx, OperandId::Rcx, &[OpState::Initialized])?;
        let Some(mrtd) = t.mrtd.take() else {
            return Err(Code::OpStateIncorrect.into());
        };
        t.mrtd_final = mrtd.finalize();
        t.op_state = OpState::Runnable;
        Ok(Status::SUCCESS)
    }
}
