//! The REC context for one REC_ENTER (REC granule layout in `rec.rs`):
//! loaded once, changed by the run and the exit handlers, stored back
//! before the exit is reported; and exceptions injected into the realm.

use core::sync::atomic::Ordering;

use crate::platform::{FpState, Platform, RealmRegs, RealmSysregs, Slot};
use crate::rec::{REC_AUX_COUNT, SysReg, layout};
use crate::ripas::RipasChange;
use crate::types::PhysAddr;

use super::record::{GIC_LRS, esr};

/// Exit flags kept in the REC (`layout::EXIT_FLAGS`).
pub(super) const LAST_EMULATABLE: u64 = 1 << 0;
pub(super) const LAST_UNPROTECTED: u64 = 1 << 1;
/// PSTATE for an exception taken to EL1: EL1h, DAIF masked.
const PSTATE_EL1H_MASKED: u64 = 0x3C5;
/// VMPIDR_EL2 RES1 bit.
const VMPIDR_RES1: u64 = 1 << 31;

/// What the last REC exit left for the next REC_ENTER to complete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LastExit {
    /// Exit reason + 1 (0 = never exited).
    pub reason: u64,
    /// Unmasked ESR_EL2, FAR_EL2, HPFAR_EL2 of a data abort.
    pub esr: u64,
    pub far: u64,
    pub hpfar: u64,
    /// `LAST_*` flags.
    pub flags: u64,
}

/// The REC context for one REC_ENTER, loaded from the REC granule (and aux
/// granule 0) and stored back before the exit is reported.
#[derive(Clone, Debug)]
pub(crate) struct RecCtx {
    pub rec: PhysAddr,
    pub rd: PhysAddr,
    pub mpidr: u64,
    pub runnable: bool,
    pub regs: RealmRegs,
    pub sysregs: RealmSysregs,
    pub fp: FpState,
    pub last: LastExit,
    /// Pending host call: IPA of the RsiHostCall.
    pub host_call: Option<u64>,
    /// Pending PSCI request words (FID + 1, target, context).
    pub psci: [u64; 3],
    /// Pending CPU_ON entry point.
    pub psci_entry: u64,
    /// Pending RIPAS change (RSI_IPA_STATE_SET).
    pub ripas: RipasChange,
    pub gic_hcr: u64,
    pub gic_lrs: [u64; GIC_LRS],
    pub gic_vmcr: u64,
    pub gic_aprs: [u64; 8],
    /// ICH_MISR_EL2 at the last exit (not stored).
    pub gic_misr: u64,
    /// Aux granule 0 (FP state), if the REC has one.
    pub aux0: Option<PhysAddr>,
    /// Aux granules 1 (token state) and 2 (token bytes) for
    /// RSI_ATTEST_TOKEN_* (`rsi/attest_token.rs`).
    pub aux_attest: Option<[PhysAddr; 2]>,
}

impl RecCtx {
    /// Read the context from the REC granule (and aux 0).
    pub(crate) fn load<P: Platform>(platform: &P, rec: PhysAddr) -> RecCtx {
        let m = platform.map_granule(rec, Slot::Rec);
        let w = |i: usize| m[i].load(Ordering::Relaxed);
        let num_aux = (w(layout::NUM_AUX) as usize).min(REC_AUX_COUNT);
        let host_call = w(layout::HOST_CALL);
        let mut ctx = RecCtx {
            rec,
            rd: PhysAddr(w(layout::RD)),
            mpidr: w(layout::MPIDR),
            runnable: w(layout::FLAGS) & 1 != 0,
            regs: RealmRegs {
                gprs: core::array::from_fn(|i| w(layout::GPRS + i)),
                pc: w(layout::PC),
                pstate: w(layout::PSTATE),
            },
            sysregs: core::array::from_fn(|i| w(layout::SYSREGS + i)),
            fp: FpState::default(),
            last: LastExit {
                reason: w(layout::EXIT_REASON),
                esr: w(layout::EXIT_SYNDROME),
                far: w(layout::EXIT_SYNDROME + 1),
                hpfar: w(layout::EXIT_SYNDROME + 2),
                flags: w(layout::EXIT_FLAGS),
            },
            host_call: (host_call & 1 != 0).then_some(host_call & !1),
            psci: core::array::from_fn(|i| w(layout::PSCI + i)),
            psci_entry: w(layout::PSCI_ENTRY),
            ripas: RipasChange::load(&m),
            gic_hcr: w(layout::GIC_HCR),
            gic_lrs: core::array::from_fn(|i| w(layout::GIC_LRS + i)),
            gic_vmcr: w(layout::GIC_VMCR),
            gic_aprs: core::array::from_fn(|i| w(layout::GIC_APRS + i)),
            gic_misr: 0,
            aux0: (num_aux > 0).then(|| PhysAddr(w(layout::AUX))),
            aux_attest: (num_aux > 2)
                .then(|| [PhysAddr(w(layout::AUX + 1)), PhysAddr(w(layout::AUX + 2))]),
        };
        drop(m);
        if let Some(aux) = ctx.aux0 {
            let a = platform.map_granule(aux, Slot::RecAux);
            let w = |i: usize| a[i].load(Ordering::Relaxed);
            ctx.fp = FpState {
                q: core::array::from_fn(|i| u128::from(w(2 * i)) | u128::from(w(2 * i + 1)) << 64),
                fpsr: w(64),
                fpcr: w(65),
            };
        }
        ctx
    }

    /// Write the context back.
    pub(crate) fn store<P: Platform>(&self, platform: &P) {
        {
            let m = platform.map_granule(self.rec, Slot::Rec);
            let set = |i: usize, v: u64| m[i].store(v, Ordering::Relaxed);
            set(layout::FLAGS, u64::from(self.runnable));
            set(layout::PC, self.regs.pc);
            set(layout::PSTATE, self.regs.pstate);
            for (i, &g) in self.regs.gprs.iter().enumerate() {
                set(layout::GPRS + i, g);
            }
            for (i, &r) in self.sysregs.iter().enumerate() {
                set(layout::SYSREGS + i, r);
            }
            set(layout::EXIT_REASON, self.last.reason);
            set(layout::EXIT_SYNDROME, self.last.esr);
            set(layout::EXIT_SYNDROME + 1, self.last.far);
            set(layout::EXIT_SYNDROME + 2, self.last.hpfar);
            set(layout::EXIT_FLAGS, self.last.flags);
            set(layout::HOST_CALL, self.host_call.map_or(0, |ipa| ipa | 1));
            for (i, &p) in self.psci.iter().enumerate() {
                set(layout::PSCI + i, p);
            }
            set(layout::PSCI_ENTRY, self.psci_entry);
            self.ripas.store(&m);
            set(layout::GIC_HCR, self.gic_hcr);
            set(layout::GIC_VMCR, self.gic_vmcr);
            for (i, &a) in self.gic_aprs.iter().enumerate() {
                set(layout::GIC_APRS + i, a);
            }
            for (i, &l) in self.gic_lrs.iter().enumerate() {
                set(layout::GIC_LRS + i, l);
            }
        }
        if let Some(aux) = self.aux0 {
            let a = platform.map_granule(aux, Slot::RecAux);
            for (i, q) in self.fp.q.iter().enumerate() {
                a[2 * i].store(*q as u64, Ordering::Relaxed);
                a[2 * i + 1].store((*q >> 64) as u64, Ordering::Relaxed);
            }
            a[64].store(self.fp.fpsr, Ordering::Relaxed);
            a[65].store(self.fp.fpcr, Ordering::Relaxed);
        }
    }

    /// VMPIDR_EL2 for this REC: the RmiRecMpidr affinity fields
    /// (cca-rmm-abi.md §4.2: Aff0..Aff2 in bits 23:0, Aff3 in 31:24) in
    /// MPIDR_EL1 form (Aff3 in 39:32), RES1 bit 31 set.
    pub(crate) fn vmpidr(&self) -> u64 {
        rec_mpidr_to_arch(self.mpidr) | VMPIDR_RES1
    }

    pub(crate) fn sysreg(&self, r: SysReg) -> u64 {
        self.sysregs[r as usize]
    }

    fn set_sysreg(&mut self, r: SysReg, v: u64) {
        self.sysregs[r as usize] = v;
    }

    /// Take a synchronous exception to the realm's EL1 (AArch64 only):
    /// ESR/ELR/SPSR (and FAR for aborts) of EL1 set, PC = VBAR_EL1 + the
    /// synchronous vector for the current EL and SP (0x000 EL1t, 0x200
    /// EL1h, 0x400 from EL0), PSTATE EL1h with DAIF masked.
    pub(crate) fn inject_sync(&mut self, esr: u64, elr: u64, far: Option<u64>) {
        let offset = match self.regs.pstate & 0xF {
            0b0100 => 0x000,
            0b0101 => 0x200,
            _ => 0x400,
        };
        self.set_sysreg(SysReg::SpsrEl1, self.regs.pstate);
        self.set_sysreg(SysReg::ElrEl1, elr);
        self.set_sysreg(SysReg::EsrEl1, esr);
        if let Some(far) = far {
            self.set_sysreg(SysReg::FarEl1, far);
        }
        self.regs.pc = self.sysreg(SysReg::VbarEl1).wrapping_add(offset);
        self.regs.pstate = PSTATE_EL1H_MASKED;
    }

    /// True if the realm was at EL0 when it trapped.
    fn at_el0(&self) -> bool {
        self.regs.pstate & 0xF == 0
    }

    /// Inject UNDEF for the instruction at `elr` (ESR EC = 0, IL).
    pub(crate) fn inject_undef(&mut self, elr: u64) {
        self.inject_sync(esr::IL, elr, None);
    }

    /// Inject a synchronous external abort (FSC 0x10) for a data access
    /// (or an instruction fetch) at `far`; the faulting instruction is the
    /// current PC.
    pub(crate) fn inject_sea(&mut self, instruction: bool, far: u64) {
        let ec = match (instruction, self.at_el0()) {
            (false, true) => esr::EC_DABT_LOWER,
            (false, false) => esr::EC_DABT_CUR,
            (true, true) => esr::EC_IABT_LOWER,
            (true, false) => esr::EC_IABT_CUR,
        };
        let pc = self.regs.pc;
        self.inject_sync(ec << esr::EC_SHIFT | esr::IL | esr::FSC_SEA, pc, Some(far));
    }
}

/// RmiRecMpidr (Aff3 in 31:24) -> MPIDR_EL1 affinity (Aff3 in 39:32).
pub(crate) fn rec_mpidr_to_arch(mpidr: u64) -> u64 {
    (mpidr & 0xFF_FFFF) | ((mpidr >> 24) & 0xFF) << 32
}

/// MPIDR_EL1 affinity (Aff3 in 39:32) -> RmiRecMpidr (Aff3 in 31:24);
/// other bits (MT, U, RES1) are dropped.
pub(crate) fn arch_mpidr_to_rec(mpidr: u64) -> u64 {
    (mpidr & 0xFF_FFFF) | ((mpidr >> 32) & 0xFF) << 24
}
