//! Running a REC at R-EL1 (rmm::Platform contract 8).
//!
//! Order of a run: save the host's (NS) EL1 system registers and FP/SIMD
//! registers; load the REC's; program stage 2 and the realm's HCR_EL2; ERET
//! into the realm (asm/realm_run.S); on the first exception to R-EL2 save the
//! REC's state, read the syndrome, and put the host's state back. So neither
//! world's EL1 or FP/SIMD state is ever visible to the other (EL3 does not
//! switch either, rmm-el3-interface.md §4).
//!
//! Not switched yet (the realm cannot use them): PAuth keys (HCR_EL2.API/APK
//! are 0, so PAuth instructions trap and are answered with UNDEF), SVE/SME
//! (CPTR_EL2.TZ/TSM trap them to R-EL2), and debug and PMU registers.
//! Both EL1 timers belong to the realm while it runs (`cnthctl`). The GIC
//! virtual CPU interface is switched by `gic.rs`.

use crate::arch::{self, read_sysreg, write_sysreg};
use rmm::{ExitKind, FpState, GicState, RealmExit, RealmRegs, RealmSysregs, Stage2};

unsafe extern "C" {
    fn rmm_realm_run(regs: *mut RealmRegs) -> u64;
    fn rmm_fp_save(fp: *mut FpState);
    fn rmm_fp_restore(fp: *const FpState);
}

/// HCR_EL2 while a realm runs (Arm ARM D23.2, HCR_EL2).
mod hcr {
    pub const VM: u64 = 1 << 0;
    pub const SWIO: u64 = 1 << 1;
    pub const FMO: u64 = 1 << 3;
    pub const IMO: u64 = 1 << 4;
    pub const AMO: u64 = 1 << 5;
    pub const FB: u64 = 1 << 9;
    pub const BSU_IS: u64 = 1 << 10;
    pub const TWI: u64 = 1 << 13;
    pub const TWE: u64 = 1 << 14;
    pub const TSC: u64 = 1 << 19;
    pub const TIDCP: u64 = 1 << 20;
    pub const TACR: u64 = 1 << 21;
    pub const TSW: u64 = 1 << 22;
    pub const RW: u64 = 1 << 31;
    pub const TEA: u64 = 1 << 37;
    pub const FWB: u64 = 1 << 46;
    /// Stage 2 on (with FWB: the RTT attributes of cca-rmm-abi.md §6.1),
    /// physical interrupts and SErrors to R-EL2, realm SMCs trapped (RSI),
    /// cache maintenance by set/way trapped, AArch64 EL1.
    pub const REALM: u64 =
        VM | SWIO | FMO | IMO | AMO | FB | BSU_IS | TSC | TIDCP | TACR | TSW | RW | TEA | FWB;
}

/// CPTR_EL2 (non-VHE) while a realm runs: RES1 bits, FP/SIMD not trapped
/// (its state is switched here), SVE (TZ, bit 8) and SME (TSM, bit 12)
/// trapped to R-EL2.
const CPTR_REALM: u64 = 0x0000_33FF;

/// VTCR_EL2 for the realm's IPA width and start level (Arm ARM D23.2,
/// VTCR_EL2; 4 KiB granule): T0SZ, SL0, inner/outer WB RA WA walks, inner
/// shareable, PS = the CPU's PA size, VS for 16-bit VMIDs, RES1 bit 31.
fn vtcr(s2: &Stage2) -> u64 {
    let t0sz = 64 - u64::from(s2.s2sz);
    let sl0 = match s2.start_level {
        0 => 2,
        1 => 1,
        _ => 0, // level 2 (level 3 starts are rejected at REALM_CREATE)
    };
    let ps = (read_sysreg!("id_aa64mmfr0_el1") & 0xF).min(5);
    let vs = u64::from((read_sysreg!("id_aa64mmfr1_el1") >> 4) & 0xF == 2);
    (1 << 31)
        | (vs << 19)
        | (ps << 16)
        | (0b11 << 12)
        | (0b01 << 10)
        | (0b01 << 8)
        | (sl0 << 6)
        | t0sz
}

/// CNTHCTL_EL2 (E2H = 0) while a realm runs: EL1PCTEN | EL1PCEN, so the
/// realm uses the physical counter and its EL1 physical timer untrapped
/// (its EL1 timers are switched with the EL1 context below), plus the
/// FEAT_RME masks CNTVMASK (bit 18) / CNTPMASK (bit 19) for timers whose
/// asserted output the host already knows (rmm::timer).
fn cnthctl(s2: &Stage2) -> u64 {
    0b11 | (u64::from(s2.timer_mask.virt) << 18) | (u64::from(s2.timer_mask.phys) << 19)
}

macro_rules! el1_regs {
    ($m:ident) => {
        $m!(0, "sctlr_el1");
        $m!(1, "tcr_el1");
        $m!(2, "ttbr0_el1");
        $m!(3, "ttbr1_el1");
        $m!(4, "mair_el1");
        $m!(5, "amair_el1");
        $m!(6, "vbar_el1");
        $m!(7, "contextidr_el1");
        $m!(8, "tpidr_el0");
        $m!(9, "tpidrro_el0");
        $m!(10, "tpidr_el1");
        $m!(11, "sp_el0");
        $m!(12, "sp_el1");
        $m!(13, "elr_el1");
        $m!(14, "spsr_el1");
        $m!(15, "esr_el1");
        $m!(16, "far_el1");
        $m!(17, "afsr0_el1");
        $m!(18, "afsr1_el1");
        $m!(19, "par_el1");
        $m!(20, "cpacr_el1");
        $m!(21, "csselr_el1");
        $m!(22, "mdscr_el1");
        $m!(23, "cntkctl_el1");
        $m!(24, "cntv_ctl_el0");
        $m!(25, "cntv_cval_el0");
        $m!(26, "cntp_ctl_el0");
        $m!(27, "cntp_cval_el0");
        // 28 ZCR_EL1: SVE is trapped for realms, so not switched.
    };
}

fn save_el1(r: &mut RealmSysregs) {
    macro_rules! save {
        ($i:expr, $reg:tt) => {
            r[$i] = read_sysreg!($reg);
        };
    }
    el1_regs!(save);
}

fn load_el1(r: &RealmSysregs) {
    macro_rules! load {
        ($i:expr, $reg:tt) => {
            write_sysreg!($reg, r[$i]);
        };
    }
    el1_regs!(load);
}

/// Run the REC until its next exit to R-EL2.
pub fn run(
    regs: &mut RealmRegs,
    sysregs: &mut RealmSysregs,
    fp: &mut FpState,
    gic: &mut GicState,
    s2: &Stage2,
) -> RealmExit {
    let mut host_el1: RealmSysregs = [0; 32];
    let mut host_fp = FpState::default();
    save_el1(&mut host_el1);
    // SAFETY: `host_fp` is a valid, 16-byte aligned FpState (layout shared
    // with asm/realm_run.S); the routines only move FP/SIMD registers.
    unsafe { rmm_fp_save(&mut host_fp) };
    let rmm_hcr = read_sysreg!("hcr_el2");
    let rmm_cptr = read_sysreg!("cptr_el2");

    load_el1(sysregs);
    // SAFETY: as above, loading the REC's FP/SIMD registers.
    unsafe { rmm_fp_restore(fp) };
    let mut hcr = hcr::REALM;
    if s2.trap_wfi {
        hcr |= hcr::TWI;
    }
    if s2.trap_wfe {
        hcr |= hcr::TWE;
    }
    write_sysreg!("vtcr_el2", vtcr(s2));
    write_sysreg!("vttbr_el2", (u64::from(s2.vmid) << 48) | s2.rtt_root.0);
    write_sysreg!("vmpidr_el2", s2.vmpidr);
    write_sysreg!("cnthctl_el2", cnthctl(s2));
    write_sysreg!("cntvoff_el2", 0);
    write_sysreg!("cptr_el2", CPTR_REALM);
    let host_gic = crate::gic::enter(gic);
    write_sysreg!("hcr_el2", hcr);
    // RTT entries written with plain stores must be visible to the stage-2
    // walker before the realm runs (contract 8).
    arch::dsb_sy();
    arch::isb();

    // SAFETY: `regs` is a valid RealmRegs (layout shared with the asm); the
    // routine saves the RMM's callee-saved registers, ERETs into the realm
    // with the stage 2 just programmed (only realm-owned memory is mapped),
    // and returns on the realm's next exception with `regs` updated.
    let kind = unsafe { rmm_realm_run(regs) };
    let exit = RealmExit {
        kind: match kind {
            0 => ExitKind::Sync,
            1 => ExitKind::Irq,
            2 => ExitKind::Fiq,
            _ => ExitKind::SError,
        },
        esr: read_sysreg!("esr_el2"),
        far: read_sysreg!("far_el2"),
        hpfar: read_sysreg!("hpfar_el2"),
    };

    save_el1(sysregs);
    crate::gic::exit(gic, &host_gic);
    // SAFETY: as above, saving the REC's FP/SIMD registers.
    unsafe { rmm_fp_save(fp) };
    write_sysreg!("hcr_el2", rmm_hcr);
    write_sysreg!("cptr_el2", rmm_cptr);
    write_sysreg!("vttbr_el2", 0);
    arch::isb();
    load_el1(&host_el1);
    // SAFETY: as above, restoring the host's FP/SIMD registers.
    unsafe { rmm_fp_restore(&host_fp) };
    exit
}
