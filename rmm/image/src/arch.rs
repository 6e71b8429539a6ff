//! AArch64 R-EL2 primitives: system registers, barriers, SMC to EL3,
//! semihosting. The unsafe code of the RMM image lives in this module and
//! in `slots.rs`, `mmu.rs` and `global.rs`, each block with its reason.

use core::arch::asm;

macro_rules! read_sysreg {
    ($reg:tt) => {{
        let v: u64;
        // SAFETY: reading an ID/config register has no memory side effect
        // and every register named by callers is readable at EL2.
        unsafe { core::arch::asm!(concat!("mrs {0}, ", $reg), out(reg) v, options(nomem, nostack, preserves_flags)) };
        v
    }};
}
macro_rules! write_sysreg {
    ($reg:tt, $val:expr) => {{
        let v: u64 = $val;
        // SAFETY: callers write R-EL2 control registers with values the RMM
        // chose; changes to translation are documented at the call site.
        unsafe { core::arch::asm!(concat!("msr ", $reg, ", {0}"), in(reg) v, options(nostack, preserves_flags)) };
    }};
}
pub(crate) use {read_sysreg, write_sysreg};

#[inline(always)]
pub fn isb() {
    // SAFETY: barrier only.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
}

#[inline(always)]
pub fn dsb_sy() {
    // SAFETY: barrier only.
    unsafe { asm!("dsb sy", options(nostack, preserves_flags)) };
}

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

/// SMC to EL3 with x0..x7 in and out. EL3 preserves x8..x30 and SP_EL2
/// (rmm-el3-interface.md §4).
#[inline(always)]
pub fn smc(r: [u64; 8]) -> [u64; 8] {
    let mut o = r;
    // SAFETY: the SMC goes to our EL3 monitor, which returns to the next
    // instruction (or, for REQ_COMPLETE / BOOT_COMPLETE, delivers the next
    // request here) and touches no RMM memory.
    unsafe {
        asm!("smc #0",
            inout("x0") o[0], inout("x1") o[1], inout("x2") o[2], inout("x3") o[3],
            inout("x4") o[4], inout("x5") o[5], inout("x6") o[6], inout("x7") o[7],
            options(nostack));
    }
    o
}

/// This CPU's linear index (set in TPIDR_EL2 by the entry code).
pub fn cpu_index() -> usize {
    read_sysreg!("tpidr_el2") as usize
}

/// Stop QEMU with `code` through semihosting (development runs only; under
/// TF-A without semihosting the HLT traps and the CPU stays parked).
pub fn semihosting_exit(code: u32) -> ! {
    let block: [u64; 2] = [0x20026, code as u64];
    loop {
        // SAFETY: the semihosting call only reads `block`.
        unsafe { asm!("hlt #0xf000", in("w0") 0x18u32, in("x1") block.as_ptr(), options(nostack)) };
    }
}
