//! vCPU leaves: TDH.VP.CREATE, TDH.VP.ADDCX, TDH.VP.INIT, TDH.VP.FLUSH
//! (tdx-module-abi.md §2 leaves 10, 4, 22, 18; §5 vCPU states; §6.3).
//!
//! Check order follows the 1.5 module source (`tdh_vp_create.c`,
//! `tdh_vp_addcx.c`, `tdh_vp_init.c`, `tdh_vp_flush.c`): the explicit page
//! operand first (VP.CREATE: the TDR), then the implicit TDR through the
//! TDVPR's PAMT owner (operand ID TDR), then the TD state checks of a leaf
//! that maps the TDCS, then the vCPU, then the new page.
//!
//! TDVPS layout (shim-defined; the TDVPS is opaque to the VMM), in the
//! TDVPR page:
//!
//! | Word | Field |
//! |------|-------|
//! | 0 | vCPU state ([`VcpuState`]) |
//! | 1 | number of TDVPS pages (TDVPR + TDCX) |
//! | 2 | associated LP index, or [`NOT_ASSOCIATED`] |
//! | 3 | vCPU index |
//! | 4 | x2APIC ID (VP.INIT v1), or [`NOT_ASSOCIATED`] if not configured |
//! | 5 | TLB-epoch token while inside TDH.VP.ENTER (0 = none; `mem_mgmt.rs`) |
//! | 6 | TD VMCS SHARED_EPT_POINTER (TDH.VP.WR, `md_vp.rs`; 0 = none): bits 51:12 = HPA of the root of the VMM's EPT for shared GPAs, all other bits 0. Memory type (WB) and walk length (the TD's SEPT levels) are not part of the value: the module takes them from the TD's own EPTP |
//! | 8..8+[`TDVPS_PAGES`] | TDVPS page PAs (word 8 = the TDVPR) |
//! | 16.. | initial register state (§6.3), [`init_reg`] order |

use crate::platform::TdxPlatform;
use crate::status::{Code, OperandId, Status, TdxResult};
use crate::tdr::{self, OP_STATE_BUSY};
use crate::types::{Hpa, Lifecycle, Lp, OpState, PageType, VmmRegs};
use crate::{MAX_HKIDS, Module, TryLock};
use core::sync::atomic::Ordering;

/// Pages of a TDVPS: the TDVPR plus five TDCX pages, as reported in
/// TDVPS_BASE_SIZE by TDH.SYS.RD (the 1.5 module's MAX_TDVPS_PAGES without
/// L2 VMs, which the shim does not support).
pub const TDVPS_PAGES: usize = 6;
/// "No LP" / "no x2APIC ID" (the module's `(uint32_t)-1`).
pub const NOT_ASSOCIATED: u64 = 0xFFFF_FFFF;

pub(crate) const W_STATE: usize = 0;
pub(crate) const W_NUM_PAGES: usize = 1;
pub(crate) const W_ASSOC_LP: usize = 2;
pub(crate) const W_VCPU_INDEX: usize = 3;
pub(crate) const W_X2APIC: usize = 4;
pub(crate) const W_EPOCH: usize = 5;
pub(crate) const W_SHARED_EPTP: usize = 6;
pub(crate) const W_PAGES: usize = 8;
pub(crate) const W_INIT: usize = 16;

/// vCPU states (TDVPS.STATE, §5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum VcpuState {
    /// Created, not yet TDH.VP.INIT.
    Uninitialized = 0,
    /// Initialised, not running.
    Ready = 2,
    /// Inside TDH.VP.ENTER.
    Active = 4,
    /// After a non-recoverable error.
    Disabled = 8,
}

/// The initial register state TDH.VP.INIT gives a vCPU (§6.3), in TDVPS
/// word order from [`W_INIT`].
pub mod init_reg {
    /// RIP: the reset vector.
    pub const RIP: usize = 0;
    /// RCX and R8: the VP.INIT RDX value.
    pub const RCX: usize = 1;
    /// CPUID(1).EAX.
    pub const RDX: usize = 2;
    /// GPAW: 52 or 48.
    pub const RBX: usize = 3;
    /// vCPU index.
    pub const RSI: usize = 4;
    /// As RCX.
    pub const R8: usize = 5;
    /// PE | NE: 32-bit protected mode, paging off.
    pub const CR0: usize = 6;
    /// MCE | VMXE.
    pub const CR4: usize = 7;
    /// SCE | LME | NXE.
    pub const EFER: usize = 8;
    /// Bit 1 only.
    pub const RFLAGS: usize = 9;
    /// DR7 reset value.
    pub const DR7: usize = 10;
    /// IA32_PAT reset value.
    pub const PAT: usize = 11;
    /// Number of words.
    pub const COUNT: usize = 12;
}

/// Values of §6.3 that do not depend on the TD or the VMM.
const RIP_RESET: u64 = 0xFFFF_FFF0;
const CR0_INIT: u64 = 0x21;
const CR4_INIT: u64 = 0x2040;
const EFER_INIT: u64 = 0x901;
const RFLAGS_INIT: u64 = 0x2;
const DR7_INIT: u64 = 0x400;
const PAT_INIT: u64 = 0x0007_0406_0007_0406;

pub(crate) fn rd<P: TdxPlatform>(plat: &P, tdvpr: Hpa, w: usize) -> u64 {
    plat.map_page(tdvpr)[w].load(Ordering::Acquire)
}

pub(crate) fn wr<P: TdxPlatform>(plat: &P, tdvpr: Hpa, w: usize, v: u64) {
    plat.map_page(tdvpr)[w].store(v, Ordering::Release);
}

impl<P: TdxPlatform> Module<P> {
    /// TDH.VP.CREATE (leaf 10): RCX = new TDVPR page, RDX = TDR.
    pub(crate) fn vp_create(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let g = self.lock_page(regs.rdx, OperandId::Rdx, false, PageType::Tdr)?;
        let tdr = g.hpa();
        let (_, t) = self.lock_tdcs(tdr)?;
        if t.op_state != OpState::Initialized {
            return Err(Code::OpStateIncorrect.into());
        }
        let vp = self.lock_page(regs.rcx, OperandId::Rcx, true, PageType::Nda)?;
        // All checks passed.
        let tdvpr = vp.hpa();
        self.plat.isolate_page(tdvpr);
        self.plat.zero_page(tdvpr);
        wr(&self.plat, tdvpr, W_NUM_PAGES, 1);
        wr(&self.plat, tdvpr, W_ASSOC_LP, NOT_ASSOCIATED);
        wr(&self.plat, tdvpr, W_X2APIC, NOT_ASSOCIATED);
        wr(&self.plat, tdvpr, W_PAGES, tdvpr.raw());
        self.inc_chldcnt(tdr);
        vp.set(PageType::Tdvpr, tdr);
        Ok(Status::SUCCESS)
    }

    /// The TDR that owns a locked TDVPR, locked shared as an implicit
    /// operand (operand ID TDR), with the TDCS checks, and its TDCS locked.
    pub(crate) fn vp_owner(&self, owner: Hpa) -> TdxResult<crate::mem::BuildGuards<'_, P>> {
        let g = self.lock_page(owner.raw(), OperandId::Tdr, false, PageType::Tdr)?;
        let (_, t) = self.lock_tdcs(g.hpa())?;
        Ok((g, t))
    }

    /// TDH.VP.ADDCX (leaf 4): RCX = new TDCX page, RDX = TDVPR. The page is
    /// owned by the TDR, not the TDVPR (§4).
    pub(crate) fn vp_add_cx(&self, regs: &mut VmmRegs) -> TdxResult<Status> {
        let vp = self.lock_page(regs.rdx, OperandId::Rdx, true, PageType::Tdvpr)?;
        let (g, t) = self.vp_owner(Hpa(vp.info().owner))?;
        if t.op_state != OpState::Initialized {
            return Err(Code::OpStateIncorrect.into());
        }
        let tdvpr = vp.hpa();
        if rd(&self.plat, tdvpr, W_STATE) != VcpuState::Uninitialized as u64 {
            return Err(Code::VcpuStateIncorrect.into());
        }
        let n = rd(&self.plat, tdvpr, W_NUM_PAGES) as usize;
        if n >= TDVPS_PAGES {
            return Err(Code::TdcxNumIncorrect.into());
        }
        let cx = self.lock_page(regs.rcx, OperandId::Rcx, true, PageType::Nda)?;
        // All checks passed.
        let tdr = g.hpa();
        self.plat.isolate_page(cx.hpa());
        self.plat.zero_page(cx.hpa());
        wr(&self.plat, tdvpr, W_PAGES + n, cx.hpa().raw());
        wr(&self.plat, tdvpr, W_NUM_PAGES, n as u64 + 1);
        self.inc_chldcnt(tdr);
        cx.set(PageType::Tdcx, tdr);
        Ok(Status::SUCCESS)
    }

    /// TDH.VP.INIT (leaf 22): RCX = TDVPR, RDX = initial guest RCX; v1:
    /// R8 = x2APIC ID. Assigns the vCPU index, sets the §6.3 state, marks
    /// the vCPU READY and associates it with this LP (so TDH.VP.FLUSH is
    /// needed before TDH.MNG.VPFLUSHDONE).
    pub(crate) fn vp_init(&self, lp: Lp, version: u8, regs: &mut VmmRegs) -> TdxResult<Status> {
        let vp = self.lock_page(regs.rcx, OperandId::Rcx, true, PageType::Tdvpr)?;
        let (_g, mut t) = self.vp_owner(Hpa(vp.info().owner))?;
        if t.op_state != OpState::Initialized {
            return Err(Code::OpStateIncorrect.into());
        }
        let tdvpr = vp.hpa();
        if rd(&self.plat, tdvpr, W_NUM_PAGES) as usize != TDVPS_PAGES {
            return Err(Code::TdcxNumIncorrect.into());
        }
        if rd(&self.plat, tdvpr, W_STATE) != VcpuState::Uninitialized as u64 {
            return Err(Code::VcpuStateIncorrect.into());
        }
        let index = t.num_vcpus;
        if index >= u32::from(t.max_vcpus) {
            return Err(Code::MaxVcpusExceeded.into());
        }
        let x2apic = if version == 0 {
            None
        } else {
            let id = u32::try_from(regs.r8)
                .map_err(|_| Status::with_operand(Code::OperandInvalid, OperandId::R8))?;
            if let Some(dup) = t.x2apic_ids[..index as usize].iter().find(|&&x| x == id) {
                // The operand field carries the conflicting ID (module source).
                return Err(Status::with_details(Code::X2apicIdNotUnique, *dup));
            }
            Some(id)
        };
        // All checks passed.
        t.num_vcpus = index + 1;
        if let Some(id) = x2apic {
            t.x2apic_ids[index as usize] = id;
        }
        t.num_assoc_vcpus += 1;
        let gpaw = if t.gpaw52 { 52 } else { 48 };
        let mut init = [0u64; init_reg::COUNT];
        init[init_reg::RIP] = RIP_RESET;
        init[init_reg::RCX] = regs.rdx;
        init[init_reg::R8] = regs.rdx;
        init[init_reg::RDX] = u64::from(self.cfg.cpuid1_eax);
        init[init_reg::RBX] = gpaw;
        init[init_reg::RSI] = u64::from(index);
        init[init_reg::CR0] = CR0_INIT;
        init[init_reg::CR4] = CR4_INIT;
        init[init_reg::EFER] = EFER_INIT;
        init[init_reg::RFLAGS] = RFLAGS_INIT;
        init[init_reg::DR7] = DR7_INIT;
        init[init_reg::PAT] = PAT_INIT;
        for (i, v) in init.iter().enumerate() {
            wr(&self.plat, tdvpr, W_INIT + i, *v);
        }
        wr(&self.plat, tdvpr, W_VCPU_INDEX, u64::from(index));
        wr(
            &self.plat,
            tdvpr,
            W_X2APIC,
            x2apic.map_or(NOT_ASSOCIATED, u64::from),
        );
        wr(&self.plat, tdvpr, W_ASSOC_LP, u64::from(lp.index));
        wr(&self.plat, tdvpr, W_STATE, VcpuState::Ready as u64);
        Ok(Status::SUCCESS)
    }

    /// TDH.VP.FLUSH (leaf 18): RCX = TDVPR. Only on the LP the vCPU is
    /// associated with; otherwise (or if none) `TDX_VCPU_NOT_ASSOCIATED`,
    /// which a VMM treats as done. Needs KEYS_CONFIGURED but no OP_STATE
    /// lock (the source maps the TDCS without locking it).
    pub(crate) fn vp_flush(&self, lp: Lp, regs: &mut VmmRegs) -> TdxResult<Status> {
        let vp = self.lock_page(regs.rcx, OperandId::Rcx, true, PageType::Tdvpr)?;
        let g = self.lock_page(
            Hpa(vp.info().owner).raw(),
            OperandId::Tdr,
            false,
            PageType::Tdr,
        )?;
        let tdr = g.hpa();
        let lc = Lifecycle::from_u64(tdr::read(&self.plat, tdr, tdr::W_LIFECYCLE));
        if lc != Lifecycle::KeysConfigured {
            return Err(Code::TdKeysNotConfigured.into());
        }
        let tdvpr = vp.hpa();
        if rd(&self.plat, tdvpr, W_NUM_PAGES) as usize != TDVPS_PAGES {
            return Err(Code::TdcxNumIncorrect.into());
        }
        if rd(&self.plat, tdvpr, W_ASSOC_LP) != u64::from(lp.index) {
            return Err(Code::VcpuNotAssociated.into());
        }
        let hkid = tdr::read(&self.plat, tdr, tdr::W_HKID) as usize;
        let mut t = self.tdcs[hkid % MAX_HKIDS]
            .try_lock()
            .ok_or(OP_STATE_BUSY)?;
        // All checks passed. (No cached VMCS or TLB state to flush: the
        // shim's TD context lives in the TDVPS, and TLBs are flushed on
        // every TD entry.)
        wr(&self.plat, tdvpr, W_ASSOC_LP, NOT_ASSOCIATED);
        t.num_assoc_vcpus = t.num_assoc_vcpus.saturating_sub(1);
        Ok(Status::SUCCESS)
    }

    /// A vCPU's state, index and initial registers (tests and the image's
    /// TD entry path): `(state, vcpu index, init regs)`.
    pub fn vcpu_info(&self, tdvpr: Hpa) -> TdxResult<(u64, u64, [u64; init_reg::COUNT])> {
        let vp = self.lock_page(tdvpr.raw(), OperandId::Rcx, false, PageType::Tdvpr)?;
        let h = vp.hpa();
        let init = core::array::from_fn(|i| rd(&self.plat, h, W_INIT + i));
        Ok((
            rd(&self.plat, h, W_STATE),
            rd(&self.plat, h, W_VCPU_INDEX),
            init,
        ))
    }
}
