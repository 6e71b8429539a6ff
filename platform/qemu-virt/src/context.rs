//! Per-CPU, per-world saved state and the world switch.
//!
//! Each CPU has two worlds below EL3: Non-secure (the host at NS-EL2) and
//! Realm (the RMM at R-EL2). While a world runs, SP_EL3 holds the address of
//! its `GpContext` (vectors.S saves the GPRs there on every SMC). A world
//! switch saves the EL2 system registers of the outgoing world and restores
//! those of the incoming one (rmm-el3-interface.md §4).

use crate::arch::{read_sysreg, write_sysreg};
use crate::layout::{MAX_CPUS, STACK_SIZE};
use core::cell::UnsafeCell;

/// SCR_EL3 bits we use (Arm ARM D23.2 SCR_EL3).
pub mod scr {
    pub const NS: u64 = 1 << 0;
    pub const HCE: u64 = 1 << 8;
    pub const RW: u64 = 1 << 10;
    pub const APK: u64 = 1 << 16;
    pub const API: u64 = 1 << 17;
    /// With NS: {NSE, NS} = {1, 1} selects Realm state (qemu-platforms.md §2.5).
    pub const NSE: u64 = 1 << 62;
    /// Both lower worlds: AArch64 EL2, HVC enabled, PAuth keys not trapped.
    /// SCR_EL3.GPF stays 0 so a lower EL's granule protection fault is
    /// reported to that EL (the NS host catches its own GPF).
    pub const NS_WORLD: u64 = NS | HCE | RW | APK | API;
    pub const REALM_WORLD: u64 = NS_WORLD | NSE;
}

/// EL2h with D, A, I, F masked: the entry state TF-A gives the RMM and BL33.
pub const SPSR_EL2H_MASKED: u64 = 0x3C9;
/// SCTLR_EL2 with only its RES1 bits: MMU and caches off.
pub const SCTLR_EL2_RES1: u64 = 0x30C5_0830;
/// CPTR_EL2 (non-VHE) RES1 bits; TFP = TZ = 0 so FP/SVE are not trapped.
const CPTR_EL2_RES1: u64 = 0x0000_32FF;
/// ICC_SRE_EL2: SRE | DFB | DIB | Enable (GICv3 system registers at EL2/EL1).
const ICC_SRE_EL2_INIT: u64 = 0xF;
/// HCR_EL2.RW: EL1 is AArch64.
const HCR_EL2_RW: u64 = 1 << 31;

/// Saved general-purpose state of one world (layout shared with vectors.S).
#[repr(C)]
#[derive(Debug, Default)]
pub struct GpContext {
    pub x: [u64; 31],
    pub sp_el0: u64,
    pub elr: u64,
    pub spsr: u64,
    pub scr: u64,
    /// Top of this CPU's EL3 runtime stack.
    pub rt_sp: u64,
}

/// EL2 system registers of one world (order fixed by el2ctx.S).
#[repr(C, align(16))]
#[derive(Debug)]
pub struct El2Regs(pub [u64; 32]);

impl El2Regs {
    const SCTLR: usize = 0;
    const CPTR: usize = 2;
    const HCR: usize = 3;
    const VPIDR: usize = 22;
    const VMPIDR: usize = 23;
    const CNTHCTL: usize = 24;
    const ICC_SRE: usize = 28;

    /// EL2 state at first entry of a world: MMU off, nothing trapped that the
    /// payload could not configure itself.
    pub fn initial(hcr: u64) -> Self {
        let mut r = [0u64; 32];
        r[Self::SCTLR] = SCTLR_EL2_RES1;
        r[Self::CPTR] = CPTR_EL2_RES1;
        r[Self::HCR] = hcr;
        r[Self::VPIDR] = read_sysreg!("midr_el1");
        r[Self::VMPIDR] = read_sysreg!("mpidr_el1");
        // EL1PCTEN | EL1PCEN: EL1 may use the physical counter and timer.
        r[Self::CNTHCTL] = 0x3;
        r[Self::ICC_SRE] = ICC_SRE_EL2_INIT;
        Self(r)
    }
}

#[derive(Debug)]
pub struct World {
    pub gp: GpContext,
    pub el2: El2Regs,
}

/// Where this CPU is in its boot / RMM protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for RMM_BOOT_COMPLETE of the cold boot; then enter BL33.
    RmmColdBoot,
    /// Waiting for RMM_BOOT_COMPLETE of a warm boot; then enter `entry`.
    RmmWarmBoot { entry: u64, context_id: u64 },
    /// Serving SMCs.
    Running,
}

#[derive(Debug)]
pub struct CpuData {
    pub index: usize,
    pub phase: Phase,
    pub ns: World,
    pub realm: World,
}

impl CpuData {
    const fn empty() -> Self {
        const GP: GpContext = GpContext {
            x: [0; 31],
            sp_el0: 0,
            elr: 0,
            spsr: 0,
            scr: 0,
            rt_sp: 0,
        };
        Self {
            index: 0,
            phase: Phase::Running,
            ns: World {
                gp: GP,
                el2: El2Regs([0; 32]),
            },
            realm: World {
                gp: GP,
                el2: El2Regs([0; 32]),
            },
        }
    }
}

struct PerCpu(UnsafeCell<[CpuData; MAX_CPUS]>);
// SAFETY: slot `i` is only ever accessed by CPU `i` (see `this_cpu`), so
// there is no concurrent access to any slot.
unsafe impl Sync for PerCpu {}

static CPUS: PerCpu = PerCpu(UnsafeCell::new([const { CpuData::empty() }; MAX_CPUS]));

unsafe extern "C" {
    static __stacks_end: u8;
    fn el3_save_el2(regs: *mut El2Regs);
    fn el3_restore_el2(regs: *const El2Regs);
    fn el3_exit_to_ctx(ctx: *mut GpContext) -> !;
}

/// Prepare CPU `index`'s data and make TPIDR_EL3 point at it. Called once
/// per power-on of the CPU, before any other use of `this_cpu`.
pub fn init_this_cpu(index: usize) -> &'static mut CpuData {
    assert!(index < MAX_CPUS && index == crate::arch::cpu_index());
    // SAFETY: `index` is the running CPU (checked above), so this is the
    // only reference to slot `index` (PerCpu contract).
    let cpu = unsafe { &mut (*CPUS.0.get())[index] };
    // SAFETY: taking the address of a linker symbol.
    let stacks_end = unsafe { &__stacks_end as *const u8 as u64 };
    let rt_sp = stacks_end - index as u64 * STACK_SIZE;
    *cpu = CpuData::empty();
    cpu.index = index;
    cpu.ns.gp.rt_sp = rt_sp;
    cpu.realm.gp.rt_sp = rt_sp;
    write_sysreg!("tpidr_el3", cpu as *mut CpuData as u64);
    cpu
}

/// The running CPU's data (TPIDR_EL3 set by `init_this_cpu`).
pub fn this_cpu() -> &'static mut CpuData {
    let p = read_sysreg!("tpidr_el3") as *mut CpuData;
    // SAFETY: TPIDR_EL3 holds this CPU's own slot (init_this_cpu), and EL3
    // handles one exception at a time per CPU, so the reference is unique.
    unsafe { &mut *p }
}

impl CpuData {
    /// Fresh NS EL2 state for a payload entered at `entry` with `x0`.
    pub fn prepare_ns_entry(&mut self, entry: u64, x0: u64) {
        let rt_sp = self.ns.gp.rt_sp;
        self.ns.gp = GpContext {
            rt_sp,
            ..GpContext::default()
        };
        self.ns.gp.x[0] = x0;
        self.ns.gp.elr = entry;
        self.ns.gp.spsr = SPSR_EL2H_MASKED;
        self.ns.gp.scr = scr::NS_WORLD;
        self.ns.el2 = El2Regs::initial(HCR_EL2_RW);
    }

    /// Fresh R-EL2 state for an RMM boot entry with `x0..x3`.
    pub fn prepare_realm_entry(&mut self, entry: u64, args: [u64; 4]) {
        let rt_sp = self.realm.gp.rt_sp;
        self.realm.gp = GpContext {
            rt_sp,
            ..GpContext::default()
        };
        self.realm.gp.x[..4].copy_from_slice(&args);
        self.realm.gp.elr = entry;
        self.realm.gp.spsr = SPSR_EL2H_MASKED;
        self.realm.gp.scr = scr::REALM_WORLD;
        self.realm.el2 = El2Regs::initial(0);
    }

    /// Save the NS EL2 registers and load the Realm ones.
    pub fn switch_ns_to_realm(&mut self) -> *mut GpContext {
        // SAFETY: both pointers are to this CPU's own, properly aligned
        // El2Regs; the routines only move EL2 registers (not used by EL3).
        unsafe {
            el3_save_el2(&mut self.ns.el2);
            el3_restore_el2(&self.realm.el2);
        }
        &mut self.realm.gp
    }

    /// Save the Realm EL2 registers and load the NS ones.
    pub fn switch_realm_to_ns(&mut self) -> *mut GpContext {
        // SAFETY: as in `switch_ns_to_realm`.
        unsafe {
            el3_save_el2(&mut self.realm.el2);
            el3_restore_el2(&self.ns.el2);
        }
        &mut self.ns.gp
    }

    /// Load the EL2 registers of the Realm world without saving (first entry).
    pub fn load_realm_el2(&mut self) -> *mut GpContext {
        // SAFETY: as in `switch_ns_to_realm`.
        unsafe { el3_restore_el2(&self.realm.el2) };
        &mut self.realm.gp
    }

    /// Load the EL2 registers of the NS world without saving (first entry).
    pub fn load_ns_el2(&mut self) -> *mut GpContext {
        // SAFETY: as in `switch_ns_to_realm`.
        unsafe { el3_restore_el2(&self.ns.el2) };
        &mut self.ns.gp
    }

    /// Save the Realm world's EL2 registers (after RMM_BOOT_COMPLETE).
    pub fn save_realm_el2(&mut self) {
        // SAFETY: as in `switch_ns_to_realm`.
        unsafe { el3_save_el2(&mut self.realm.el2) };
    }
}

/// ERET into the world whose context is `ctx` (never returns: the CPU comes
/// back to EL3 through the vectors).
pub fn enter(ctx: *mut GpContext) -> ! {
    // SAFETY: `ctx` points at a fully initialised GpContext of this CPU with
    // its EL2 registers already loaded; el3_exit_to_ctx restores and ERETs.
    unsafe { el3_exit_to_ctx(ctx) }
}
