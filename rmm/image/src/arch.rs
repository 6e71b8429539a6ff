//! AArch64 R-EL2 primitives: system registers, barriers, SMC to EL3,
//! semihosting. The unsafe code of the RMM image lives in this module and
//! in `slots.rs`, `mmu.rs` and `global.rs`, each block with its reason.

use core::arch::asm;

pub use arm_rt::{dsb_sy, isb, semihosting_exit, smc};
pub(crate) use arm_rt::{read_sysreg, write_sysreg};

/// Invalidate this CPU's stage-1 EL2 TLB entries for the page at `va`.
#[inline(always)]
pub fn tlbi_va_local(va: u64) {
    // SAFETY: TLB maintenance only; the caller updated the descriptor.
    unsafe {
        asm!("dsb ishst", "tlbi vae2, {0}", "dsb nsh", "isb", in(reg) va >> 12, options(nostack, preserves_flags))
    };
}

/// Invalidate all EL2 TLB entries of this CPU.
pub fn tlbi_alle2() {
    // SAFETY: TLB maintenance only.
    unsafe {
        asm!(
            "dsb ishst",
            "tlbi alle2",
            "dsb sy",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}

/// This CPU's linear index (set in TPIDR_EL2 by the entry code).
pub fn cpu_index() -> usize {
    read_sysreg!("tpidr_el2") as usize
}
