//! The guest's hardware access: stage-1 MMU control, the counter, MMIO and
//! the memory probes whose faults the vector resumes. All of the guest's
//! `unsafe` is in this module.

use core::arch::asm;

use arm_rt::{isb, read_sysreg, write_sysreg};

/// SCTLR_EL1 bits the guest sets on top of the RES1 bits of the reset value
/// (29, 28, 23, 22, 20, 11): M (stage-1 MMU), C (data cacheability),
/// SA (SP alignment check), I (instruction cacheability).
const SCTLR_RES1: u64 = (1 << 29) | (1 << 28) | (1 << 23) | (1 << 22) | (1 << 20) | (1 << 11);
pub const SCTLR_MMU_ON: u64 = SCTLR_RES1 | (1 << 0) | (1 << 2) | (1 << 3) | (1 << 12);

/// Turn the stage-1 MMU and caches on with the tables at `ttbr0`.
///
/// Called once per REC with the MMU off; the tables were written with the
/// MMU off (non-cacheable, so already in memory) and never change after.
pub fn enable_mmu(ttbr0: u64, tcr: u64, mair: u64) {
    write_sysreg!("mair_el1", mair);
    write_sysreg!("tcr_el1", tcr);
    write_sysreg!("ttbr0_el1", ttbr0);
    // SAFETY: barriers and TLB invalidation of this REC's own EL1&0
    // regime only; nothing is translated with the old (empty) state after.
    unsafe {
        asm!(
            "dsb ish",
            "tlbi vmalle1",
            "dsb ish",
            options(nostack, preserves_flags)
        )
    };
    isb();
    write_sysreg!("sctlr_el1", SCTLR_MMU_ON);
    isb();
}

pub fn sctlr() -> u64 {
    read_sysreg!("sctlr_el1")
}

/// REC index: MPIDR_EL1.Aff0.
pub fn rec_index() -> usize {
    (read_sysreg!("mpidr_el1") & 0xFF) as usize
}

/// The virtual counter (CNTVCT_EL0, never trapped at EL1) and its frequency.
pub fn counter() -> u64 {
    isb();
    read_sysreg!("cntvct_el0")
}

pub fn counter_freq() -> u64 {
    read_sysreg!("cntfrq_el0")
}

/// One 8-byte load from `addr` that may fault: the vector resumes after
/// the instruction when the fault was armed (`probe`), leaving x0 as it
/// was, so a faulting probe returns `fallback`.
pub fn probe_load(addr: u64, fallback: u64) -> u64 {
    let mut v = fallback;
    // SAFETY: a single aligned LDR from a realm IPA the caller chose for
    // its RIPAS behaviour; it either completes (the page is mapped RAM) or
    // raises a synchronous abort that the vector, armed by the caller for
    // exactly this address, skips. No Rust-visible memory is written.
    unsafe {
        asm!("ldr {v}, [{a}]", v = inout(reg) v, a = in(reg) addr, options(nostack, readonly))
    };
    v
}

/// One 8-byte store to guest RAM outside any Rust object (test pages).
pub fn poke(addr: u64, v: u64) {
    // SAFETY: `addr` is an 8-byte aligned word of a guest test page
    // (`layout`), which no Rust object occupies.
    unsafe { core::ptr::write_volatile(addr as *mut u64, v) };
}
