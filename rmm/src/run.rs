//! RMI_REC_ENTER: entering a REC, the run loop and the REC exit
//! (DEN0137 1.0-rel0; RmiRecRun in cca-rmm-abi.md §4.3, entry flags, exit
//! reasons and ESR masking in §8).
//!
//! # Flow
//!
//! 1. Checks in spec order (below), with the one copy of RecRun.enter.
//! 2. The REC is marked running (granule refcount 1) and every lock is
//!    released: the realm runs with no lock held, so its RSI calls may take
//!    the RD and RTT locks in the normal order.
//! 3. The previous exit is completed (host call results, emulated MMIO
//!    read, SEA injection, RIPAS change with RIPAS_RESPONSE).
//! 4. Loop: [`Platform::run_realm`], classify the exit; either handle it in
//!    the RMM and run again, or stop with a REC exit.
//! 5. The REC context is stored back into the REC (and aux 0) **before**
//!    RecRun.exit is written once with `write_ns`. If that write faults the
//!    command returns ERROR_INPUT (as TF-RMM does) but no REC state is lost:
//!    the realm's registers and any pending operation (host call, MMIO
//!    emulation) are in the REC, and the next REC_ENTER completes them. The
//!    exit record itself is lost; an unanswered emulatable abort simply
//!    repeats (the PC was not advanced).
//! 6. The running mark is dropped.
//!
//! # Exit classification (ESR_EL2.EC)
//!
//! * 0x17 SMC64: RSI, PSCI or SMCCC_VERSION (`rsi.rs`). HCR_EL2.TSC traps
//!   the SMC with ELR at the SMC itself, so the PC is advanced by 4 first.
//! * 0x16 HVC64: UNDEF injected, no exit (§8 "HVC from a realm").
//! * 0x24 data abort: see `Rmm::handle_data_abort` (unprotected IPA:
//!   exit for the host to emulate; protected RIPAS EMPTY: SEA injected).
//! * 0x20 instruction abort: SEA injected for an IPA outside the IPA
//!   space, an unprotected IPA (never executable) or RIPAS EMPTY; else
//!   RMI_EXIT_SYNC non-emulatable.
//! * 0x01 WFI/WFE (only trapped when the host asked): RMI_EXIT_SYNC with
//!   ESR = EC + TI, PC advanced.
//! * IRQ / FIQ / SError: RMI_EXIT_IRQ / FIQ / SERROR.
//! * Anything else: UNDEF injected, no exit.
//!
//! # GIC
//!
//! Accepted RecRun.enter GIC state (TF-RMM `gic_validate_state`, ACS
//! "gicv3_hcr valid (RES0)", "gicv3_lrs valid (HW = 0)"):
//! * gicv3_hcr: only UIE, LRENPIE, NPIE, VGrp0EIE, VGrp0DIE, VGrp1EIE,
//!   VGrp1DIE (bits 1..7) and TDIR (14) may be set; EN belongs to the RMM.
//! * each of the first RmiFeatureRegister0.GICV3_NUM_LRS LRs: HW (61) = 0,
//!   pINTID (44:32) zero except EOI (41), RES0 47:45 and 59:56 zero; a
//!   non-invalid LR has a vINTID < 1020 or 8192..2^24, and no two
//!   non-invalid LRs share a vINTID. LRs beyond GICV3_NUM_LRS must be 0.
//!
//! The platform contract has no GIC state yet, so the validated values are
//! kept in the REC and reported back unchanged in every exit (MISR and
//! VMCR read 0).

use core::sync::atomic::Ordering;

use crate::granule::GranuleGuard;
use crate::platform::{
    ExitKind, FpState, GicState, Platform, RealmExit, RealmRegs, RealmSysregs, Slot, Stage2,
};
use crate::realm::{RealmInfo, RealmState};
use crate::rec::{REC_AUX_COUNT, SysReg, layout};
use crate::ripas::RipasChange;
use crate::rmi::Rmm;
use crate::rtt::s2tte::{Ripas, S2tte};
use crate::rtt::{PAGE_LEVEL, level_size};
use crate::timer::TimerMask;
use crate::types::{GranuleState, PhysAddr, RmiStatus};

/// RmiRecExitReason values (§8).
pub mod exit_reason {
    /// RMI_EXIT_SYNC.
    pub const SYNC: u64 = 0;
    /// RMI_EXIT_IRQ.
    pub const IRQ: u64 = 1;
    /// RMI_EXIT_FIQ.
    pub const FIQ: u64 = 2;
    /// RMI_EXIT_PSCI.
    pub const PSCI: u64 = 3;
    /// RMI_EXIT_RIPAS_CHANGE.
    pub const RIPAS_CHANGE: u64 = 4;
    /// RMI_EXIT_HOST_CALL.
    pub const HOST_CALL: u64 = 5;
    /// RMI_EXIT_SERROR.
    pub const SERROR: u64 = 6;
}

/// RecRun.enter.flags (§4.3).
pub mod enter_flags {
    /// Complete an emulatable data abort.
    pub const EMUL_MMIO: u64 = 1 << 0;
    /// Inject an SEA for the last unprotected data abort.
    pub const INJECT_SEA: u64 = 1 << 1;
    /// Trap WFI.
    pub const TRAP_WFI: u64 = 1 << 2;
    /// Trap WFE.
    pub const TRAP_WFE: u64 = 1 << 3;
    /// Reject the RIPAS change (1) or accept it (0).
    pub const RIPAS_RESPONSE: u64 = 1 << 4;
}

/// ESR_EL2 fields.
pub mod esr {
    /// EC, bits 31:26.
    pub const EC_SHIFT: u32 = 26;
    /// EC mask (in place).
    pub const EC_MASK: u64 = 0x3F << EC_SHIFT;
    /// IL.
    pub const IL: u64 = 1 << 25;
    /// EC: WFI/WFE.
    pub const EC_WFX: u64 = 0x01;
    /// EC: HVC64.
    pub const EC_HVC64: u64 = 0x16;
    /// EC: SMC64.
    pub const EC_SMC64: u64 = 0x17;
    /// EC: instruction abort from a lower EL.
    pub const EC_IABT_LOWER: u64 = 0x20;
    /// EC: instruction abort from the same EL.
    pub const EC_IABT_CUR: u64 = 0x21;
    /// EC: data abort from a lower EL.
    pub const EC_DABT_LOWER: u64 = 0x24;
    /// EC: data abort from the same EL.
    pub const EC_DABT_CUR: u64 = 0x25;
    /// WFx TI bit.
    pub const WFX_TI: u64 = 1 << 0;
    /// ISV.
    pub const ISV: u64 = 1 << 24;
    /// SAS, 23:22.
    pub const SAS_SHIFT: u32 = 22;
    /// SAS mask.
    pub const SAS_MASK: u64 = 0b11 << SAS_SHIFT;
    /// SSE.
    pub const SSE: u64 = 1 << 21;
    /// SRT, 20:16.
    pub const SRT_SHIFT: u32 = 16;
    /// SF.
    pub const SF: u64 = 1 << 15;
    /// SET, 12:11.
    pub const SET_MASK: u64 = 0b11 << 11;
    /// FnV.
    pub const FNV: u64 = 1 << 10;
    /// EA.
    pub const EA: u64 = 1 << 9;
    /// WnR.
    pub const WNR: u64 = 1 << 6;
    /// FSC, 5:0.
    pub const FSC_MASK: u64 = 0x3F;
    /// FSC: synchronous external abort (not on a walk).
    pub const FSC_SEA: u64 = 0x10;
    /// FSC: translation fault at level 0 (+ level).
    pub const FSC_TRANSLATION_L0: u64 = 0x04;
    /// Non-emulatable abort mask (§8): EC, SET, FnV, EA, FSC.
    pub const NON_EMULATABLE_MASK: u64 = EC_MASK | SET_MASK | FNV | EA | FSC_MASK;
    /// Emulatable abort mask (§8): the above plus ISV, SAS, SF, WnR (no
    /// SRT, no SSE).
    pub const EMULATABLE_MASK: u64 = NON_EMULATABLE_MASK | ISV | SAS_MASK | SF | WNR;
}

/// Bytes of RecRun.enter copied in: flags .. gicv3_lrs[15].
const ENTER_LEN: usize = 0x388;
/// RecRun.exit offset and length.
const EXIT_OFFSET: u64 = 0x800;
const EXIT_LEN: usize = 0x800;
/// GICv3 list registers in RecRun.
pub const GIC_LRS: usize = 16;
/// ICH_HCR_EL2 bits the host may set (module docs).
const GIC_HCR_HOST_MASK: u64 = 0xFE | (1 << 14);
/// Exit flags kept in the REC (`layout::EXIT_FLAGS`).
const LAST_EMULATABLE: u64 = 1 << 0;
const LAST_UNPROTECTED: u64 = 1 << 1;
/// PSTATE for an exception taken to EL1: EL1h, DAIF masked.
const PSTATE_EL1H_MASKED: u64 = 0x3C5;
/// VMPIDR_EL2 RES1 bit.
const VMPIDR_RES1: u64 = 1 << 31;

/// RecRun.enter, decoded from the single copy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecEnter {
    pub flags: u64,
    pub gprs: [u64; 31],
    pub gicv3_hcr: u64,
    pub gicv3_lrs: [u64; GIC_LRS],
}

/// RecRun.enter as copied in: little-endian words (aligned, so decoding is
/// a plain load per field on the strict-alignment firmware target).
type EnterWords = [u64; ENTER_LEN / 8];

impl RecEnter {
    fn parse(w: &EnterWords) -> RecEnter {
        let word = |off: usize| u64::from_le(w[off / 8]);
        RecEnter {
            flags: word(0x000),
            gprs: core::array::from_fn(|i| word(0x200 + 8 * i)),
            gicv3_hcr: word(0x300),
            gicv3_lrs: core::array::from_fn(|i| word(0x308 + 8 * i)),
        }
    }
}

/// RecRun.exit, encoded once at the end of REC_ENTER. Every field not set
/// reads 0.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RecExit {
    pub reason: u64,
    pub esr: u64,
    pub far: u64,
    pub hpfar: u64,
    pub gprs: [u64; 31],
    pub gicv3_hcr: u64,
    pub gicv3_lrs: [u64; GIC_LRS],
    pub gicv3_misr: u64,
    pub gicv3_vmcr: u64,
    pub cntp_ctl: u64,
    pub cntp_cval: u64,
    pub cntv_ctl: u64,
    pub cntv_cval: u64,
    pub ripas_base: u64,
    pub ripas_top: u64,
    pub ripas_value: u64,
    pub imm: u64,
    pub pmu_ovf_status: u64,
}

impl RecExit {
    pub(crate) fn with_reason(reason: u64) -> RecExit {
        RecExit {
            reason,
            ..RecExit::default()
        }
    }

    /// RMI_EXIT_SYNC with the given (already masked) syndrome.
    pub(crate) fn sync(esr: u64, far: u64, hpfar: u64) -> RecExit {
        RecExit {
            esr,
            far,
            hpfar,
            ..RecExit::with_reason(exit_reason::SYNC)
        }
    }

    /// The exit half as little-endian words, written with one `write_ns`.
    fn to_words(self) -> [u64; EXIT_LEN / 8] {
        let mut b = [0u64; EXIT_LEN / 8];
        let mut put = |off: usize, v: u64| b[off / 8] = v.to_le();
        put(0x000, self.reason);
        put(0x100, self.esr);
        put(0x108, self.far);
        put(0x110, self.hpfar);
        for (i, &g) in self.gprs.iter().enumerate() {
            put(0x200 + 8 * i, g);
        }
        put(0x300, self.gicv3_hcr);
        for (i, &l) in self.gicv3_lrs.iter().enumerate() {
            put(0x308 + 8 * i, l);
        }
        put(0x388, self.gicv3_misr);
        put(0x390, self.gicv3_vmcr);
        put(0x400, self.cntp_ctl);
        put(0x408, self.cntp_cval);
        put(0x410, self.cntv_ctl);
        put(0x418, self.cntv_cval);
        put(0x500, self.ripas_base);
        put(0x508, self.ripas_top);
        put(0x510, self.ripas_value & 0xFF);
        put(0x600, self.imm);
        put(0x700, self.pmu_ovf_status);
        b
    }
}

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

/// The IPA (page) of HPFAR_EL2.FIPA (bits 43:4 = IPA 55:12).
pub(crate) fn hpfar_ipa(hpfar: u64) -> u64 {
    (hpfar & 0x0000_0FFF_FFFF_FFF0) << 8
}

/// HPFAR_EL2 for a page IPA.
pub(crate) fn ipa_hpfar(ipa: u64) -> u64 {
    (ipa >> 12) << 4
}

/// Access size in bytes of a data abort with ISV.
fn access_bytes(esr: u64) -> u32 {
    1 << ((esr & esr::SAS_MASK) >> esr::SAS_SHIFT)
}

fn access_mask(esr: u64) -> u64 {
    match access_bytes(esr) {
        8 => u64::MAX,
        n => (1u64 << (8 * n)) - 1,
    }
}

/// RecRun.enter GIC state check (module docs).
fn gic_state_valid(hcr: u64, lrs: &[u64; GIC_LRS], num_lrs: usize) -> bool {
    const HW: u64 = 1 << 61;
    const EOI: u64 = 1 << 41;
    const PINTID: u64 = 0x1FFF << 32;
    const RES0: u64 = (0b111 << 45) | (0b1111 << 56);
    const STATE_SHIFT: u32 = 62;
    if hcr & !GIC_HCR_HOST_MASK != 0 {
        return false;
    }
    for (i, &lr) in lrs.iter().enumerate() {
        if i >= num_lrs {
            if lr != 0 {
                return false;
            }
            continue;
        }
        if lr & HW != 0 || lr & PINTID & !EOI != 0 || lr & RES0 != 0 {
            return false;
        }
        if lr >> STATE_SHIFT == 0 {
            continue;
        }
        let vintid = lr & 0xFFFF_FFFF;
        if !(vintid < 1020 || (8192..1 << 24).contains(&vintid)) {
            return false;
        }
        let dup = lrs[..i.min(num_lrs)]
            .iter()
            .any(|&o| o >> STATE_SHIFT != 0 && o & 0xFFFF_FFFF == vintid);
        if dup {
            return false;
        }
    }
    true
}

/// What one exit handler decided.
#[allow(clippy::large_enum_variant)] // no_std, no alloc: moved once per exit
pub(crate) enum Next {
    /// Run the realm again.
    Resume,
    /// Stop and report this exit to the host.
    Exit(RecExit),
}

impl<'a, P: Platform> Rmm<'a, P> {
    /// Lock a REC (`rec_align`, `rec_bound`, `rec_gran_state`: ERROR_INPUT)
    /// and its RD in lock order: the REC alone to learn its RD, then RD ->
    /// REC, re-checking that the REC still belongs to that RD (host race:
    /// start over). Waiting for a REC under its RD is allowed (crate docs).
    pub(crate) fn lock_rec_and_rd(
        &self,
        rec: u64,
    ) -> Result<(GranuleGuard<'a>, RealmInfo, GranuleGuard<'a>), RmiStatus> {
        let rec_pa = PhysAddr(rec);
        loop {
            let owner = {
                let g = self.lock_granule_in_state(rec_pa, GranuleState::Rec)?;
                self.platform.map_granule(g.pa(), Slot::Rec)[layout::RD].load(Ordering::Relaxed)
            };
            let rd_g = self
                .granules
                .lock(PhysAddr(owner))
                .ok_or(RmiStatus::ErrorInput)?;
            let rec_g = self.granules.lock(rec_pa).ok_or(RmiStatus::ErrorInput)?;
            let same = rec_g.state() == GranuleState::Rec
                && rd_g.state() == GranuleState::Rd
                && self.platform.map_granule(rec_pa, Slot::Rec)[layout::RD].load(Ordering::Relaxed)
                    == owner;
            if !same {
                continue;
            }
            let info = RealmInfo::load(&self.platform.map_granule(rd_g.pa(), Slot::Rd))
                .ok_or(RmiStatus::ErrorInput)?;
            return Ok((rd_g, info, rec_g));
        }
    }

    /// RMI_REC_ENTER(rec, run_ptr). Failure conditions in DEN0137 1.0-rel0
    /// priority order, as generated from the spec into TF-RMM's CBMC
    /// testbench `tb_rmi_rec_enter.c` (ACS `rmi_rec_enter` uses the same
    /// labels):
    ///
    /// 1. `run_align`, `run_bound` (not in a DRAM bank / RMM-owned),
    ///    `run_pas` (the one NS read of RecRun.enter faults) -> ERROR_INPUT
    /// 2. `rec_align`, `rec_bound`, `rec_gran_state` -> ERROR_INPUT
    /// 3. `realm_new` -> ERROR_REALM(0); `system_off` -> ERROR_REALM(1)
    /// 4. `rec_state`: the REC is running on another CPU (refcount 1, TF-RMM)
    ///    -> ERROR_REC
    /// 5. `rec_runnable`: RUNNABLE clear -> ERROR_REC
    /// 6. `rec_mmio`: EMUL_MMIO set but the last exit was not an emulatable
    ///    data abort -> ERROR_REC; likewise INJECT_SEA set but the last exit
    ///    was not a data abort at an unprotected IPA (cca-rmm-abi.md §8;
    ///    same status, so its place among the ERROR_REC rows is not
    ///    observable). The check applies even when INJECT_SEA makes
    ///    EMUL_MMIO ignored.
    /// 7. `rec_gicv3`: GIC state not as accepted (module docs) -> ERROR_REC
    /// 8. `rec_psci`: a PSCI request is pending -> ERROR_REC
    ///
    /// Unknown entry flag bits are ignored (TF-RMM). RIPAS_RESPONSE answers
    /// a pending RIPAS change (`ripas.rs`) and is ignored otherwise. On any
    /// failure nothing changes and RecRun.exit is not written.
    pub(crate) fn rec_enter(&self, rec: u64, run_ptr: u64) -> RmiStatus {
        let run_pa = PhysAddr(run_ptr);
        if !run_pa.is_granule_aligned() {
            return RmiStatus::ErrorInput; // run_align
        }
        if self.granules.is_reserved(run_pa) != Some(false) {
            return RmiStatus::ErrorInput; // run_bound
        }
        // The one and only read of RecRun.enter (no double fetch).
        let mut buf: EnterWords = [0; ENTER_LEN / 8];
        if self
            .platform
            .read_ns(run_pa, bytemuck::bytes_of_mut(&mut buf))
            .is_err()
        {
            return RmiStatus::ErrorInput; // run_pas
        }
        let enter = RecEnter::parse(&buf);
        let (rd_g, realm, mut rec_g) = match self.lock_rec_and_rd(rec) {
            Ok(v) => v, // rec_align, rec_bound, rec_gran_state
            Err(s) => return s,
        };
        match realm.state {
            RealmState::New => return RmiStatus::ErrorRealm(0), // realm_new
            RealmState::SystemOff => return RmiStatus::ErrorRealm(1), // system_off
            RealmState::Active => {}
        }
        if rec_g.refcount() != 0 {
            return RmiStatus::ErrorRec; // rec_state: running
        }
        let mut ctx = RecCtx::load(&self.platform, rec_g.pa());
        if !ctx.runnable {
            return RmiStatus::ErrorRec; // rec_runnable
        }
        if enter.flags & enter_flags::EMUL_MMIO != 0 && ctx.last.flags & LAST_EMULATABLE == 0 {
            return RmiStatus::ErrorRec; // rec_mmio
        }
        if enter.flags & enter_flags::INJECT_SEA != 0 && ctx.last.flags & LAST_UNPROTECTED == 0 {
            return RmiStatus::ErrorRec; // flags inconsistent (§8 INJECT_SEA)
        }
        let num_lrs = usize::from(self.features.gicv3_num_lrs).min(GIC_LRS);
        if !gic_state_valid(enter.gicv3_hcr, &enter.gicv3_lrs, num_lrs) {
            return RmiStatus::ErrorRec; // rec_gicv3
        }
        if ctx.psci[0] != 0 {
            return RmiStatus::ErrorRec; // rec_psci
        }
        if rec_g.inc_ref().is_err() {
            return RmiStatus::ErrorRec; // cannot happen: refcount was 0
        }
        // Running: no lock is held while the realm runs.
        drop(rec_g);
        drop(rd_g);

        let status = self.run_rec(&mut ctx, &enter, &realm, run_pa);

        if let Some(mut g) = self.granules.lock(ctx.rec) {
            let _ = g.dec_ref();
        }
        status
    }

    /// Complete the last exit, run, store the REC, report the exit.
    fn run_rec(
        &self,
        ctx: &mut RecCtx,
        enter: &RecEnter,
        realm: &RealmInfo,
        run_pa: PhysAddr,
    ) -> RmiStatus {
        ctx.gic_hcr = enter.gicv3_hcr;
        ctx.gic_lrs = enter.gicv3_lrs;
        let mut exit = match self.complete_last_exit(ctx, enter, realm) {
            Some(exit) => exit,
            None => self.run_loop(ctx, realm, enter.flags),
        };
        // Fields written on every exit (§8).
        exit.gicv3_hcr = ctx.gic_hcr;
        exit.gicv3_lrs = ctx.gic_lrs;
        exit.gicv3_misr = ctx.gic_misr;
        exit.gicv3_vmcr = ctx.gic_vmcr;
        exit.cntp_ctl = ctx.sysreg(SysReg::CntpCtlEl0);
        exit.cntp_cval = ctx.sysreg(SysReg::CntpCvalEl0);
        exit.cntv_ctl = ctx.sysreg(SysReg::CntvCtlEl0);
        exit.cntv_cval = ctx.sysreg(SysReg::CntvCvalEl0);
        ctx.last.reason = exit.reason + 1;
        // REC state first, so a faulting exit write loses nothing.
        ctx.store(&self.platform);
        let out = exit.to_words();
        match self
            .platform
            .write_ns(PhysAddr(run_pa.0 + EXIT_OFFSET), bytemuck::bytes_of(&out))
        {
            Ok(()) => RmiStatus::Success,
            Err(_) => RmiStatus::ErrorInput,
        }
    }

    /// Act on RecRun.enter for the previous exit: host-call results,
    /// EMUL_MMIO, INJECT_SEA, the RIPAS change (RIPAS_RESPONSE). Returns an exit to report without running the
    /// realm (a host-call structure that is no longer mapped).
    fn complete_last_exit(
        &self,
        ctx: &mut RecCtx,
        enter: &RecEnter,
        realm: &RealmInfo,
    ) -> Option<RecExit> {
        if let Some(ipa) = ctx.host_call {
            match self.host_call_complete(ctx, ipa, &enter.gprs) {
                None => ctx.host_call = None,
                Some(level) => return Some(Self::s2_fault_exit(ipa, level)),
            }
        }
        let last = ctx.last;
        ctx.last = LastExit {
            reason: last.reason,
            ..LastExit::default()
        };
        if enter.flags & enter_flags::INJECT_SEA != 0 {
            // Checked at entry: the last exit was an unprotected data abort.
            ctx.inject_sea(false, last.far);
        } else if enter.flags & enter_flags::EMUL_MMIO != 0 {
            // Checked at entry: the last exit was an emulatable abort.
            if last.esr & esr::WNR == 0 {
                let rt = ((last.esr >> esr::SRT_SHIFT) & 0x1F) as usize;
                let mut v = enter.gprs[0] & access_mask(last.esr);
                let bits = 8 * access_bytes(last.esr);
                if last.esr & esr::SSE != 0 && bits < 64 {
                    let shift = 64 - bits;
                    v = (((v << shift) as i64) >> shift) as u64;
                }
                if last.esr & esr::SF == 0 {
                    v &= 0xFFFF_FFFF;
                }
                if rt < 31 {
                    ctx.regs.gprs[rt] = v;
                }
            }
            ctx.regs.pc = ctx.regs.pc.wrapping_add(4);
        }
        Self::complete_ripas_change(ctx, enter.flags & enter_flags::RIPAS_RESPONSE != 0);
        let _ = realm;
        None
    }

    /// Run until an exit that goes to the host.
    fn run_loop(&self, ctx: &mut RecCtx, realm: &RealmInfo, flags: u64) -> RecExit {
        // The timer output levels the host was told at the last exit.
        let reported = TimerMask::of(&ctx.sysregs);
        let mut s2 = Stage2 {
            vmid: realm.vmid,
            rtt_root: PhysAddr(realm.rtt_base),
            s2sz: realm.s2sz as u8,
            start_level: realm.start_level as i8,
            vmpidr: ctx.vmpidr(),
            trap_wfi: flags & enter_flags::TRAP_WFI != 0,
            trap_wfe: flags & enter_flags::TRAP_WFE != 0,
            timer_mask: reported,
        };
        loop {
            // Before every entry: if a timer's output changed since the host
            // last saw it, tell the host (RMI_EXIT_IRQ) instead of running;
            // otherwise mask what is asserted (timer.rs).
            s2.timer_mask = TimerMask::refresh(&mut ctx.sysregs, self.platform.counter());
            if s2.timer_mask != reported {
                return RecExit::with_reason(exit_reason::IRQ);
            }
            let mut gic = GicState {
                hcr: ctx.gic_hcr,
                lrs: ctx.gic_lrs,
                vmcr: ctx.gic_vmcr,
                aprs: ctx.gic_aprs,
                misr: 0,
            };
            let e = self.platform.run_realm(
                &mut ctx.regs,
                &mut ctx.sysregs,
                &mut ctx.fp,
                &mut gic,
                &s2,
            );
            ctx.gic_lrs = gic.lrs;
            ctx.gic_vmcr = gic.vmcr;
            ctx.gic_aprs = gic.aprs;
            ctx.gic_misr = gic.misr;
            if let Next::Exit(exit) = self.handle_exit(ctx, realm, &e) {
                return exit;
            }
        }
    }

    /// Classify one exception taken from the realm (module docs).
    fn handle_exit(&self, ctx: &mut RecCtx, realm: &RealmInfo, e: &RealmExit) -> Next {
        match e.kind {
            ExitKind::Irq => return Next::Exit(RecExit::with_reason(exit_reason::IRQ)),
            ExitKind::Fiq => return Next::Exit(RecExit::with_reason(exit_reason::FIQ)),
            ExitKind::SError => {
                let mut x = RecExit::with_reason(exit_reason::SERROR);
                x.esr = e.esr;
                return Next::Exit(x);
            }
            ExitKind::Sync => {}
        }
        let ec = (e.esr & esr::EC_MASK) >> esr::EC_SHIFT;
        match ec {
            esr::EC_SMC64 => self.handle_smc(ctx, realm),
            esr::EC_HVC64 => {
                // ELR_EL2 is past the HVC; the UNDEF is for the HVC itself.
                let hvc = ctx.regs.pc.wrapping_sub(4);
                ctx.inject_undef(hvc);
                Next::Resume
            }
            esr::EC_DABT_LOWER => self.handle_data_abort(ctx, realm, e),
            esr::EC_IABT_LOWER => self.handle_instruction_abort(ctx, realm, e),
            esr::EC_WFX => {
                ctx.regs.pc = ctx.regs.pc.wrapping_add(4);
                Next::Exit(RecExit::sync(e.esr & (esr::EC_MASK | esr::WFX_TI), 0, 0))
            }
            _ => {
                let pc = ctx.regs.pc;
                ctx.inject_undef(pc);
                Next::Resume
            }
        }
    }

    /// RIPAS of the protected page `ipa`, from a walk of the realm's RTTs
    /// under the RD lock (`None` if the RD or an RTT is inconsistent).
    pub(crate) fn ripas_at(&self, rd: PhysAddr, ipa: u64) -> Option<Ripas> {
        let (_rd_g, realm) = self.lock_rd(rd.0).ok()?;
        let walk = self.rtt_walk(&realm, ipa, PAGE_LEVEL).ok()?;
        Some(
            match S2tte::decode(self.rtt_read(&walk.table, walk.index), walk.level) {
                S2tte::Unassigned(r) | S2tte::AssignedInvalid(r, _) => r,
                S2tte::AssignedRam(_) => Ripas::Ram,
                _ => return None,
            },
        )
    }

    /// Data abort from the realm (EC 0x24), §7 and §8:
    ///
    /// * synchronous external abort (FSC 0x10, 0x11, 0x14..0x1F): RMI_EXIT_SYNC,
    ///   ESR masked to EC, SET, FnV, EA, FSC; FAR and HPFAR 0;
    /// * IPA >= 2^s2sz: SEA injected, no exit;
    /// * unprotected IPA with ISV: RMI_EXIT_SYNC emulatable: ESR masked to
    ///   EC, SET, FnV, EA, FSC, ISV, SAS, SF, WnR; FAR with bits 11:0
    ///   cleared; HPFAR given; gprs[0] = the written value (x[SRT] masked
    ///   to the access size, 0 for XZR) for a write;
    /// * unprotected IPA without ISV: RMI_EXIT_SYNC non-emulatable (ESR
    ///   masked to EC, SET, FnV, EA, FSC; FAR 0; HPFAR given); INJECT_SEA
    ///   may answer it;
    /// * protected IPA with RIPAS EMPTY: SEA injected, no exit;
    /// * other protected IPA: RMI_EXIT_SYNC non-emulatable.
    fn handle_data_abort(&self, ctx: &mut RecCtx, realm: &RealmInfo, e: &RealmExit) -> Next {
        let fsc = e.esr & esr::FSC_MASK;
        if matches!(fsc, 0x10 | 0x11 | 0x14..=0x1F) {
            return Next::Exit(RecExit::sync(e.esr & esr::NON_EMULATABLE_MASK, 0, 0));
        }
        let ipa = hpfar_ipa(e.hpfar);
        if ipa >= realm.ipa_end() {
            ctx.inject_sea(false, e.far);
            return Next::Resume;
        }
        if ipa >= realm.par_end() {
            ctx.last.esr = e.esr;
            ctx.last.far = e.far;
            ctx.last.hpfar = e.hpfar;
            ctx.last.flags = LAST_UNPROTECTED;
            if e.esr & esr::ISV == 0 {
                return Next::Exit(RecExit::sync(e.esr & esr::NON_EMULATABLE_MASK, 0, e.hpfar));
            }
            ctx.last.flags |= LAST_EMULATABLE;
            let mut x = RecExit::sync(e.esr & esr::EMULATABLE_MASK, e.far & !0xFFF, e.hpfar);
            if e.esr & esr::WNR != 0 {
                let rt = ((e.esr >> esr::SRT_SHIFT) & 0x1F) as usize;
                let v = ctx.regs.gprs.get(rt).copied().unwrap_or(0);
                x.gprs[0] = v & access_mask(e.esr);
            }
            return Next::Exit(x);
        }
        if self.ripas_at(ctx.rd, ipa) == Some(Ripas::Empty) {
            ctx.inject_sea(false, e.far);
            return Next::Resume;
        }
        Next::Exit(RecExit::sync(e.esr & esr::NON_EMULATABLE_MASK, 0, e.hpfar))
    }

    /// Instruction abort from the realm (EC 0x20): SEA injected for an IPA
    /// beyond the IPA space, an unprotected IPA (ASSIGNED_NS is never
    /// executable, XN) or RIPAS EMPTY; anything else exits as a
    /// non-emulatable abort (ESR masked to EC, SET, FnV, EA, FSC; FAR 0;
    /// HPFAR given). External aborts exit with FAR and HPFAR 0.
    fn handle_instruction_abort(&self, ctx: &mut RecCtx, realm: &RealmInfo, e: &RealmExit) -> Next {
        let fsc = e.esr & esr::FSC_MASK;
        if matches!(fsc, 0x10 | 0x11 | 0x14..=0x1F) {
            return Next::Exit(RecExit::sync(e.esr & esr::NON_EMULATABLE_MASK, 0, 0));
        }
        let ipa = hpfar_ipa(e.hpfar);
        if ipa >= realm.par_end() || self.ripas_at(ctx.rd, ipa) == Some(Ripas::Empty) {
            ctx.inject_sea(true, e.far);
            return Next::Resume;
        }
        Next::Exit(RecExit::sync(e.esr & esr::NON_EMULATABLE_MASK, 0, e.hpfar))
    }

    /// The exit the RMM reports when an RSI command names a protected page
    /// with RIPAS RAM that the host has not mapped: a stage-2 translation
    /// fault at the walk `level` for `ipa` (non-emulatable form), so the
    /// host maps the page (DATA_CREATE_UNKNOWN) and re-enters; the realm
    /// repeats the command (TF-RMM's treatment of RSI addresses).
    pub(crate) fn s2_fault_exit(ipa: u64, level: i64) -> RecExit {
        let esr = esr::EC_DABT_LOWER << esr::EC_SHIFT
            | (esr::FSC_TRANSLATION_L0 + level.clamp(0, 3) as u64);
        RecExit::sync(esr, 0, ipa_hpfar(ipa & !(level_size(PAGE_LEVEL) - 1)))
    }
}
