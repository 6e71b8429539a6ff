//! Guest leaves (TDCALL, TDG.*; tdx-module-abi.md §8), called by the image
//! for the vCPU running on an LP.
//!
//! Implemented: TDG.VP.VMCALL (0; the bitmap check, then a TD exit),
//! TDG.VP.INFO (1), TDG.MR.RTMR.EXTEND (2), TDG.VP.VEINFO.GET (3; the shim
//! injects no #VE, so there is never valid information),
//! TDG.MEM.PAGE.ACCEPT (6, in `mem_mgmt.rs` / `mem_2m.rs`), TDG.VM.RD (7)
//! and TDG.VM.WR (8) in `tdg_vm.rs`, and in `tdg_report.rs`
//! TDG.MR.REPORT (4), TDG.MR.VERIFYREPORT (22) and the vendor sealing
//! leaves (0x7F00, 0x7F01). Every other leaf
//! answers TDX_OPERAND_INVALID + RAX, as the module does for an unknown
//! leaf. Guest memory is reached through the TD's Secure EPT only: a GPA
//! must be private (below the shared bit) and mapped by a MAPPED leaf, a
//! 4 KiB page or a 2 MiB page at level 1 (the 4 KiB page inside it is
//! used): PENDING (not yet accepted) and blocked pages are not accessible.

use core::sync::atomic::Ordering;

use crate::enter::{GuestState, TdExit, eeq, gpr};
use crate::mem::{SeptState, state_of};
use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult, err};
use crate::tdr::{self, SEPT_ROOT_TDCX};
use crate::types::{Gpa, Hpa, Level, Lp, PAGE_SIZE, PageType};
use crate::vp::W_VCPU_INDEX;
use crate::{Module, Tdcs};

/// TDCALL leaf numbers (§8).
#[allow(missing_docs)]
pub mod leaf {
    pub const VP_VMCALL: u64 = 0;
    pub const VP_INFO: u64 = 1;
    pub const MR_RTMR_EXTEND: u64 = 2;
    pub const VP_VEINFO_GET: u64 = 3;
    pub const MR_REPORT: u64 = 4;
    pub const MEM_PAGE_ACCEPT: u64 = 6;
    pub const VM_RD: u64 = 7;
    pub const VM_WR: u64 = 8;
    pub const MR_VERIFYREPORT: u64 = 22;
}

/// What the image does after a TDCALL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tdcall {
    /// Resume the guest after the TDCALL (results are in its registers).
    Resume,
    /// TDG.VP.VMCALL: exit to the VMM (`Module::td_exit` with
    /// `TdExit::Vmcall`).
    ExitToVmm,
    /// TDG.MEM.PAGE.ACCEPT found no PENDING page to accept: an EPT
    /// violation TD exit (`Module::td_exit` with this `TdExit`), with the
    /// guest's RIP left on the TDCALL so that it runs again once the VMM
    /// has added the page (`tdg_mem_page_accept.c`, TDACCEPT_VIOLATION).
    EptViolation(crate::enter::TdExit),
}

const HPA_MASK: u64 = 0x000F_FFFF_FFFF_F000;
/// Only MAPPED leaves are TD-accessible (mem.rs SEPT table); PENDING,
/// BLOCKED and PENDING_BLOCKED are not, and NL_BLOCKED stops a walk.
const SEPT_MAPPED: u64 = 2;
const SEPT_NL_MAPPED: u64 = 1;

impl<P: TdxPlatform> Module<P> {
    /// One TDCALL of the vCPU running on `lp`, with its registers.
    pub fn tdcall(&self, lp: Lp, g: &mut GuestState) -> Tdcall {
        let r = self.tdcall_checked(lp, g);
        match r {
            Ok(Tdcall::ExitToVmm) => Tdcall::ExitToVmm,
            Ok(Tdcall::EptViolation(why)) => Tdcall::EptViolation(why),
            Ok(Tdcall::Resume) => {
                g.gprs[gpr::RAX] = Status::SUCCESS.to_raw();
                Tdcall::Resume
            }
            Err(st) => {
                g.gprs[gpr::RAX] = st.to_raw();
                Tdcall::Resume
            }
        }
    }

    fn tdcall_checked(&self, lp: Lp, g: &mut GuestState) -> TdxResult<Tdcall> {
        let Some(tdvpr) = self.running_vcpu(lp) else {
            return err(Code::OperandInvalid, OperandId::Rax);
        };
        let rax = g.gprs[gpr::RAX];
        // Leaf in bits 15:0, version in 23:16, the rest reserved (§1).
        if rax >> 24 != 0 {
            return err(Code::OperandInvalid, OperandId::Rax);
        }
        let (leaf_no, version) = (rax & 0xFFFF, (rax >> 16) & 0xFF);
        match (leaf_no, version) {
            (leaf::VP_VMCALL, 0) => {
                if !Self::vmcall_bitmap_ok(g.gprs[gpr::RCX]) {
                    return err(Code::OperandInvalid, OperandId::Rcx);
                }
                Ok(Tdcall::ExitToVmm)
            }
            (leaf::VP_INFO, 0) => self.tdg_vp_info(tdvpr, g).map(|()| Tdcall::Resume),
            (leaf::MR_RTMR_EXTEND, 0) => self.tdg_rtmr_extend(tdvpr, g).map(|()| Tdcall::Resume),
            (leaf::VP_VEINFO_GET, 0) => Err(Code::NoValidVeInfo.into()),
            (leaf::MR_REPORT, 0) => self.tdg_mr_report(tdvpr, g).map(|()| Tdcall::Resume),
            (leaf::MEM_PAGE_ACCEPT, 0) => self.tdg_mem_page_accept(tdvpr, g),
            // TDG.VM.RD checks its own version (tdg_vm.rs).
            (leaf::VM_RD, v) => self.tdg_vm_rd(tdvpr, v, g),
            (leaf::VM_WR, 0) => self.tdg_vm_wr(tdvpr, g),
            (leaf::MR_VERIFYREPORT, 0) => {
                self.tdg_mr_verifyreport(tdvpr, g).map(|()| Tdcall::Resume)
            }
            (crate::tdg_report::leaf::CMON_SEAL_VERSIONS, 0)
            | (crate::tdg_report::leaf::CMON_SEAL_KEY, 0) => {
                self.tdg_seal(tdvpr, leaf_no, g).map(|()| Tdcall::Resume)
            }
            _ => err(Code::OperandInvalid, OperandId::Rax),
        }
    }

    /// The TDR of the vCPU `tdvpr`, locked shared, and its TDCS.
    pub(crate) fn td_of(&self, tdvpr: Hpa) -> TdxResult<crate::mem::BuildGuards<'_, P>> {
        let vp = self.lock_page(tdvpr.raw(), OperandId::Tdvpr, false, PageType::Tdvpr)?;
        let g = self.lock_page(vp.info().owner, OperandId::Tdr, false, PageType::Tdr)?;
        let (_, t) = self.lock_tdcs(g.hpa())?;
        Ok((g, t))
    }

    /// TDG.VP.INFO (leaf 1): RCX = GPAW, RDX = ATTRIBUTES, R8 =
    /// num_vcpus | max_vcpus << 32, R9 = vCPU index, R10 = 0 (TDG.SYS.RD
    /// is not offered), R11 = 0.
    fn tdg_vp_info(&self, tdvpr: Hpa, g: &mut GuestState) -> TdxResult<()> {
        let (_tdr, t) = self.td_of(tdvpr)?;
        let index = self.plat.map_page(tdvpr)[W_VCPU_INDEX].load(Ordering::Acquire);
        g.gprs[gpr::RCX] = if t.gpaw52 { 52 } else { 48 };
        g.gprs[gpr::RDX] = t.attributes;
        g.gprs[gpr::R8] = u64::from(t.num_vcpus) | u64::from(t.max_vcpus) << 32;
        g.gprs[gpr::R9] = index;
        g.gprs[gpr::R10] = 0;
        g.gprs[gpr::R11] = 0;
        Ok(())
    }

    /// The HPA a private GPA maps to through the TD's Secure EPT (a MAPPED
    /// leaf: a 4 KiB page, or a 2 MiB page at level 1, plus the offset of
    /// `gpa` in it); `None` if it is shared, unmapped or not accessible.
    pub(crate) fn private_hpa(&self, tdr: Hpa, t: &Tdcs, gpa: Gpa) -> Option<Hpa> {
        let (lv, e) = self.private_entry(tdr, t, gpa, 0)?;
        let span = Level::new(lv)?.entry_span();
        (state_of(e) == SEPT_MAPPED && lv <= 1)
            .then_some(Hpa((e & HPA_MASK) | (gpa.0 & (span - 1))))
    }

    /// Walk the Secure EPT for private `gpa` down to level `to` (or the
    /// first entry that is not NL_MAPPED above it); returns that entry's
    /// level and value. `None` for a shared GPA.
    fn private_entry(&self, tdr: Hpa, t: &Tdcs, gpa: Gpa, to: u8) -> Option<(u8, u64)> {
        let shared_bit = if t.gpaw52 { 51 } else { 47 };
        if gpa.0 >> shared_bit != 0 {
            return None;
        }
        let mut table = Hpa(tdr::read(&self.plat, tdr, tdr::W_TDCX + SEPT_ROOT_TDCX));
        let mut lv: u8 = if t.gpaw52 { 4 } else { 3 };
        loop {
            let e = self.plat.map_page(table)[Level::new(lv)?.index(gpa)].load(Ordering::Acquire);
            if lv == to || state_of(e) != SEPT_NL_MAPPED {
                return Some((lv, e));
            }
            table = Hpa(e & HPA_MASK);
            lv = lv.checked_sub(1)?;
        }
    }

    /// The TDR `tdr` locked shared and its TDCS, for the image's lookups
    /// into a running TD; `None` if either is busy or `tdr` is not a
    /// usable TDR.
    fn td_locked(&self, tdr: Hpa) -> Option<crate::mem::BuildGuards<'_, P>> {
        let g = self
            .lock_page(tdr.raw(), OperandId::Tdr, false, PageType::Tdr)
            .ok()?;
        let (_, t) = self.lock_tdcs(g.hpa()).ok()?;
        Some((g, t))
    }

    /// The HPA behind private `gpa` of the TD whose TDR is `tdr` (the image
    /// maps a running TD's pages with it), or `None`. Takes the TDR shared
    /// and the TDCS lock; `None` also if they are busy.
    pub fn gpa_to_hpa(&self, tdr: Hpa, gpa: Gpa) -> Option<Hpa> {
        let (g, t) = self.td_locked(tdr)?;
        self.private_hpa(g.hpa(), &t, gpa)
    }

    /// The TD exit for an access of the TD whose TDR is `tdr` to `gpa`,
    /// which its EPTs do not map (the image takes it as a page fault): an
    /// EPT violation whose extended exit qualification is
    /// PENDING_EPT_VIOLATION when `gpa` is private and its Secure-EPT leaf
    /// is PENDING, and none otherwise (`td_ept_violation.c`). For a
    /// PENDING page the module injects #VE instead unless the TD has
    /// ATTRIBUTES.SEPT_VE_DISABLE; the shim's TDs cannot take a #VE, so
    /// they always exit. `None` while the TD's locks are busy.
    pub fn ept_violation(&self, tdr: Hpa, gpa: Gpa, qualification: u64) -> Option<TdExit> {
        let (g, t) = self.td_locked(tdr)?;
        let pending = self
            .private_entry(g.hpa(), &t, Gpa(gpa.0 & !(PAGE_SIZE - 1)), 0)
            .is_some_and(|(_, e)| SeptState::of(e) == Some(SeptState::Pending));
        Some(TdExit::EptViolation {
            gpa,
            qualification,
            ext: if pending {
                eeq::PENDING_EPT_VIOLATION
            } else {
                eeq::NONE
            },
        })
    }

    /// The private pages mapped in the 2 MiB-aligned range at `base` of
    /// the TD whose TDR is `tdr`: one Secure-EPT walk to the level-1
    /// entry; a MAPPED 2 MiB leaf there gives its 512 pages, an NL_MAPPED
    /// one the MAPPED entries of its level-0 table. Writes `(gpa, hpa)`
    /// pairs (one per 4 KiB page) into `out` and returns how many (0 if
    /// nothing is mapped there), or `None` if the TDR or TDCS lock is busy
    /// (the caller retries) or `tdr` is not a usable TDR.
    pub fn private_pages_2m(&self, tdr: Hpa, base: Gpa, out: &mut [(Gpa, Hpa)]) -> Option<usize> {
        let (g, t) = self.td_locked(tdr)?;
        if !base.0.is_multiple_of(1 << 21) {
            return Some(0);
        }
        let Some((1, e)) = self.private_entry(g.hpa(), &t, base, 1) else {
            return Some(0);
        };
        let page = |i: usize| Gpa(base.0 + ((i as u64) << 12));
        let mut n = 0;
        if state_of(e) == SEPT_MAPPED {
            for (i, slot) in out.iter_mut().take(512).enumerate() {
                *slot = (page(i), Hpa((e & HPA_MASK) + ((i as u64) << 12)));
                n += 1;
            }
            return Some(n);
        }
        if state_of(e) != SEPT_NL_MAPPED {
            return Some(0);
        }
        let m = self.plat.map_page(Hpa(e & HPA_MASK));
        for (i, w) in m.iter().enumerate() {
            let e = w.load(Ordering::Acquire);
            if state_of(e) == SEPT_MAPPED
                && let Some(slot) = out.get_mut(n)
            {
                *slot = (page(i), Hpa(e & HPA_MASK));
                n += 1;
            }
        }
        Some(n)
    }

    /// Copy `out.len()` bytes of private TD memory at `gpa` (within one
    /// page) into `out`.
    pub(crate) fn read_private(&self, tdr: Hpa, t: &Tdcs, gpa: Gpa, out: &mut [u8]) -> bool {
        let off = (gpa.0 % PAGE_SIZE) as usize;
        if off + out.len() > PAGE_SIZE as usize {
            return false;
        }
        let Some(hpa) = self.private_hpa(tdr, t, gpa) else {
            return false;
        };
        let m = self.plat.map_page(Hpa(hpa.raw() & !0xFFF));
        for (i, b) in out.iter_mut().enumerate() {
            let at = off + i;
            *b = (m[at / 8].load(Ordering::Acquire) >> ((at % 8) * 8)) as u8;
        }
        true
    }

    /// TDG.MR.RTMR.EXTEND (leaf 2): RCX = 64-byte-aligned private GPA of 48
    /// bytes, RDX = RTMR index 0..3. RTMR[i] = SHA-384(RTMR[i] || data) (§7).
    fn tdg_rtmr_extend(&self, tdvpr: Hpa, g: &mut GuestState) -> TdxResult<()> {
        let (gpa, index) = (g.gprs[gpr::RCX], g.gprs[gpr::RDX]);
        if !gpa.is_multiple_of(64) {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        if index > 3 {
            return err(Code::OperandInvalid, OperandId::Rdx);
        }
        let (tdr, mut t) = self.td_of(tdvpr)?;
        let mut data = [0u8; 48];
        if !self.read_private(tdr.hpa(), &t, Gpa(gpa), &mut data) {
            return err(Code::OperandInvalid, OperandId::Rcx);
        }
        t.rtmr[index as usize].extend(&data);
        Ok(())
    }
}
