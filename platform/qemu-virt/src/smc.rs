//! SMC dispatch at EL3: RMI forwarding NS -> RMM and back, the RMM -> EL3
//! services, PSCI and SMCCC for the NS world.

use crate::console::println;
use crate::context::{self, CpuData, GpContext, Phase};
use crate::layout::*;
use crate::{gpt, psci, services};
use core::sync::atomic::{AtomicU8, Ordering};

pub const SMCCC_VERSION: u32 = 0x8000_0000;
const SMCCC_ARCH_FEATURES: u32 = 0x8000_0001;
pub const SMC_UNKNOWN: u64 = u64::MAX;

/// RMM -> EL3 FIDs (rmm-el3-interface.md §5).
pub const RMM_RMI_REQ_COMPLETE: u32 = 0xC400_018F;
pub const RMM_GTSI_DELEGATE: u32 = 0xC400_01B0;
pub const RMM_GTSI_UNDELEGATE: u32 = 0xC400_01B1;
pub const RMM_ATTEST_GET_REALM_KEY: u32 = 0xC400_01B2;
pub const RMM_ATTEST_GET_PLAT_TOKEN: u32 = 0xC400_01B3;
/// Vendor (SiP, OEN 2) sealing service for the RMM (docs/sealing.md).
pub const CMON_SIP_SEALING_VERSIONS: u32 = 0xC200_0010;
pub const CMON_SIP_SEALING_KEY: u32 = 0xC200_0011;
pub const RMM_EL3_FEATURES: u32 = 0xC400_01B4;
pub const RMM_BOOT_COMPLETE: u32 = 0xC400_01CF;

/// E_RMM_* codes returned to the RMM.
pub const E_RMM_OK: u64 = 0;
pub const E_RMM_UNK: u64 = -1i64 as u64;
pub const E_RMM_BAD_ADDR: u64 = -2i64 as u64;
pub const E_RMM_BAD_PAS: u64 = -3i64 as u64;
pub const E_RMM_INVAL: u64 = -5i64 as u64;

/// RMM status as seen by EL3.
const RMM_BOOTING: u8 = 0;
const RMM_ALIVE: u8 = 1;
const RMM_FAILED: u8 = 2;
static RMM_STATE: AtomicU8 = AtomicU8::new(RMM_BOOTING);

/// Whether the RMM booted; after a failed boot every RMI call and every
/// RMM -> EL3 call is answered SMC_UNKNOWN, as TF-A does (§2).
pub fn rmm_failed() -> bool {
    RMM_STATE.load(Ordering::Acquire) == RMM_FAILED
}

/// SVE hint (SMCCC 1.3, bit 16) and the MBZ bits 23:17 (cca-rmm-abi.md §1).
const SVE_HINT: u32 = 1 << 16;
const MBZ_MASK: u32 = 0x00FE_0000;

fn is_rmi(fid: u32) -> bool {
    let f = fid & !SVE_HINT;
    f & MBZ_MASK == 0 && (0xC400_0150..=0xC400_018E).contains(&f)
}

fn is_psci(fid: u32) -> bool {
    let f = fid & !0x4000_0000; // SMC32 and SMC64 forms
    (0x8400_0000..=0x8400_001F).contains(&f)
}

/// Entry of a CPU: the exception handler for SMCs from NS-EL2 and R-EL2.
#[unsafe(no_mangle)]
extern "C" fn el3_handle_lower_sync(ctx: *mut GpContext) -> *mut GpContext {
    let cpu = context::this_cpu();
    let esr = crate::arch::read_sysreg!("esr_el3");
    let from_realm = core::ptr::eq(ctx, &cpu.realm.gp);
    if esr >> 26 != 0x17 {
        if !from_realm {
            // An NS access EL3 traps but does not emulate (FGT or HCRX
            // registers, SME, ...): the NS world gets an UNDEF, as from TF-A.
            // It must never stop the machine.
            return inject_undef(&mut cpu.ns.gp);
        }
        let elr = crate::arch::read_sysreg!("elr_el3");
        crate::fatal(format_args!(
            "unexpected trap from the RMM: ESR_EL3={esr:#x} ELR_EL3={elr:#x}"
        ));
    }
    if from_realm {
        from_rmm(cpu)
    } else {
        from_ns(cpu)
    }
}

/// Deliver an Undefined Instruction exception (ESR EC 0, IL 1) to the
/// lower EL that trapped, at the instruction that trapped (Arm ARM D1.3,
/// exception entry): EL2 for traps from EL2, or from EL0 with HCR_EL2.TGE;
/// EL1 otherwise.
fn inject_undef(ctx: &mut GpContext) -> *mut GpContext {
    use crate::arch::write_sysreg;
    const ESR_UNKNOWN_IL: u64 = 1 << 25;
    const HCR_TGE: u64 = 1 << 27;
    let from_el = (ctx.spsr >> 2) & 3;
    let tge = crate::arch::read_sysreg!("hcr_el2") & HCR_TGE != 0;
    let to_el2 = from_el == 2 || (from_el == 0 && tge);
    let to_el = if to_el2 { 2 } else { 1 };
    // Vector offset: same EL with SP_ELx 0x200 (SP_EL0 0x0), lower EL 0x400.
    let offset = match (from_el == to_el, ctx.spsr & 1 != 0) {
        (true, true) => 0x200,
        (true, false) => 0x0,
        (false, _) => 0x400,
    };
    if to_el2 {
        write_sysreg!("esr_el2", ESR_UNKNOWN_IL);
        write_sysreg!("elr_el2", ctx.elr);
        write_sysreg!("spsr_el2", ctx.spsr);
        ctx.elr = crate::arch::read_sysreg!("vbar_el2") + offset;
        ctx.spsr = context::SPSR_EL2H_MASKED;
    } else {
        write_sysreg!("esr_el1", ESR_UNKNOWN_IL);
        write_sysreg!("elr_el1", ctx.elr);
        write_sysreg!("spsr_el1", ctx.spsr);
        ctx.elr = crate::arch::read_sysreg!("vbar_el1") + offset;
        ctx.spsr = SPSR_EL1H_MASKED;
    }
    ctx
}

/// EL1h with D, A, I, F masked.
const SPSR_EL1H_MASKED: u64 = 0x3C5;

fn from_ns(cpu: &mut CpuData) -> *mut GpContext {
    // Only x0..x7 are arguments; copy no more than that (hot path).
    let x: [u64; 8] = cpu.ns.gp.x[..8].try_into().unwrap_or([0; 8]);
    let fid = x[0] as u32;
    if x[0] >> 32 == 0 && is_rmi(fid) {
        if RMM_STATE.load(Ordering::Acquire) != RMM_ALIVE {
            cpu.ns.gp.x[0] = SMC_UNKNOWN;
            return &mut cpu.ns.gp;
        }
        // The RMM sees x0 = FID (SVE hint kept) and x1..x7 as the return of
        // its previous SMC (rmm-el3-interface.md §3).
        cpu.realm.gp.x[..8].copy_from_slice(&x);
        return cpu.switch_ns_to_realm();
    }
    let ret = if x[0] >> 32 != 0 {
        SMC_UNKNOWN
    } else if is_psci(fid) {
        match psci::handle(fid, x[1], x[2], x[3], crate::secondary_entry_addr()) {
            psci::Outcome::Return(v) => v as u64,
            psci::Outcome::CpuOff => crate::cpu_off(cpu),
        }
    } else {
        match fid {
            SMCCC_VERSION => 0x0001_0002,
            SMCCC_ARCH_FEATURES => -1i64 as u64,
            _ => SMC_UNKNOWN,
        }
    };
    cpu.ns.gp.x[0] = ret;
    &mut cpu.ns.gp
}

fn from_rmm(cpu: &mut CpuData) -> *mut GpContext {
    let x: [u64; 8] = cpu.realm.gp.x[..8].try_into().unwrap_or([0; 8]);
    let fid = x[0] as u32;
    if x[0] >> 32 != 0 || rmm_failed() {
        cpu.realm.gp.x[0] = SMC_UNKNOWN;
        return &mut cpu.realm.gp;
    }
    match fid {
        RMM_RMI_REQ_COMPLETE => {
            // NS x0..x4 = RMM x1..x5; NS x5.. keep the caller's values.
            cpu.ns.gp.x[..5].copy_from_slice(&x[1..6]);
            return cpu.switch_realm_to_ns();
        }
        RMM_BOOT_COMPLETE => return boot_complete(cpu, x[1] as i64),
        CMON_SIP_SEALING_VERSIONS => {
            let g = &mut cpu.realm.gp.x;
            match services::sealing_versions() {
                Some((min, cur)) => g[..3].copy_from_slice(&[E_RMM_OK, min.into(), cur.into()]),
                None => g[..3].copy_from_slice(&[E_RMM_UNK, 0, 0]),
            }
            return &mut cpu.realm.gp;
        }
        CMON_SIP_SEALING_KEY => {
            // x1 policy, x2 version, x3 identity length, x4..x11 identity.
            let g = &mut cpu.realm.gp.x;
            let words: [u64; 8] = core::array::from_fn(|i| g[4 + i]);
            let (status, key) = services::sealing_key(g[1], g[2], g[3], &words);
            g[0] = status;
            g[1..5].copy_from_slice(&key);
            // The key must not linger in registers the RMM does not read.
            g[5..12].fill(0);
            return &mut cpu.realm.gp;
        }
        _ => {}
    }
    let (r0, r1, r2) = match fid {
        RMM_GTSI_DELEGATE | RMM_GTSI_UNDELEGATE => {
            let r = match gpt::transition(x[1], fid == RMM_GTSI_DELEGATE) {
                Ok(()) => E_RMM_OK,
                Err(gpt::GtsiError::BadAddr) => E_RMM_BAD_ADDR,
                Err(gpt::GtsiError::BadPas) => E_RMM_BAD_PAS,
            };
            (r, x[1], x[2])
        }
        RMM_ATTEST_GET_REALM_KEY => {
            let (r, len) = services::get_realm_key(x[1], x[2], x[3]);
            (r, len, x[2])
        }
        RMM_ATTEST_GET_PLAT_TOKEN => services::get_plat_token(x[1], x[2], x[3]),
        // Feature register 0: bit 0 EL3_TOKEN_SIGN is not offered; the RMM
        // signs realm tokens itself with the key EL3 hands out.
        RMM_EL3_FEATURES if x[1] == 0 => (E_RMM_OK, 0, x[2]),
        RMM_EL3_FEATURES => (E_RMM_INVAL, x[1], x[2]),
        _ => (SMC_UNKNOWN, x[1], x[2]),
    };
    cpu.realm.gp.x[0] = r0;
    cpu.realm.gp.x[1] = r1;
    cpu.realm.gp.x[2] = r2;
    &mut cpu.realm.gp
}

/// RMM_BOOT_COMPLETE: the RMM finished its cold or warm boot on this CPU.
fn boot_complete(cpu: &mut CpuData, status: i64) -> *mut GpContext {
    let phase = cpu.phase;
    cpu.phase = Phase::Running;
    if status != 0 {
        RMM_STATE.store(RMM_FAILED, Ordering::Release);
        println!(
            "RMM boot failed on CPU {} with status {status}; RMI disabled",
            cpu.index
        );
    } else if phase == Phase::RmmColdBoot {
        RMM_STATE.store(RMM_ALIVE, Ordering::Release);
        println!("RMM cold boot complete");
    }
    // Keep the RMM's EL2 state (its MMU, vectors, stack) for later RMI calls.
    cpu.save_realm_el2();
    match phase {
        Phase::RmmWarmBoot { entry, context_id } => {
            cpu.prepare_ns_entry(entry, context_id);
            psci::mark_on(cpu.index);
        }
        _ => {
            println!("entering NS host at {NS_ENTRY:#x} (NS-EL2)");
            cpu.prepare_ns_entry(NS_ENTRY, 0);
        }
    }
    cpu.load_ns_el2()
}
