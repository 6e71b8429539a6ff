//! AArch64 bare-metal support shared by the three firmware images (EL3
//! monitor, RMM, NS test host). This is an arch crate: it is where their
//! common `unsafe` lives, each block with the reason it is sound. Nothing
//! here knows about a monitor's logic.

#![no_std]
#![cfg(target_arch = "aarch64")]

pub mod pl011;
pub mod sync;

use core::arch::asm;

/// Read a system register by name (generic `S3_...` names work too; the
/// RME names need no extra directive).
#[macro_export]
macro_rules! read_sysreg {
    ($reg:tt) => {{
        let v: u64;
        // SAFETY: MRS has no memory side effect; callers name registers that
        // are readable at their exception level.
        unsafe {
            core::arch::asm!(concat!(".arch_extension rme\nmrs {0}, ", $reg), out(reg) v,
                options(nomem, nostack, preserves_flags))
        };
        v
    }};
}

/// Write a system register by name.
#[macro_export]
macro_rules! write_sysreg {
    ($reg:tt, $val:expr) => {{
        let v: u64 = $val;
        // SAFETY: callers write registers their exception level owns, with
        // values they chose; any change to translation or control is
        // documented (and followed by the needed barriers) at the call site.
        unsafe {
            core::arch::asm!(concat!(".arch_extension rme\nmsr ", $reg, ", {0}"), in(reg) v,
                options(nostack, preserves_flags))
        };
    }};
}

/// Instruction synchronisation barrier.
#[inline(always)]
pub fn isb() {
    // SAFETY: barrier only.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
}

/// Full-system data synchronisation barrier.
#[inline(always)]
pub fn dsb_sy() {
    // SAFETY: barrier only.
    unsafe { asm!("dsb sy", options(nostack, preserves_flags)) };
}

/// Inner-shareable store barrier (before TLB maintenance).
#[inline(always)]
pub fn dsb_ishst() {
    // SAFETY: barrier only.
    unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
}

/// Send an event to all CPUs (wakes WFE).
#[inline(always)]
pub fn sev() {
    // SAFETY: event signal only.
    unsafe { asm!("sev", options(nomem, nostack, preserves_flags)) };
}

/// SMC with x0..x7 in and out (SMCCC 1.2). x8..x17 are treated as
/// clobbered so the caller may target any SMCCC implementation.
#[inline(always)]
pub fn smc(r: [u64; 8]) -> [u64; 8] {
    let mut o = r;
    // SAFETY: the SMC enters the firmware above us, which by SMCCC touches
    // only registers (x0..x17 at most) and none of our memory; control
    // returns to the next instruction (or, for the RMM's completion calls,
    // the next request arrives here as their return).
    unsafe {
        asm!("smc #0",
            inout("x0") o[0], inout("x1") o[1], inout("x2") o[2], inout("x3") o[3],
            inout("x4") o[4], inout("x5") o[5], inout("x6") o[6], inout("x7") o[7],
            out("x8") _, out("x9") _, out("x10") _, out("x11") _, out("x12") _,
            out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
            options(nostack));
    }
    o
}

/// SMC with x0..x17 in and out (SMCCC 1.2 allows all eighteen as
/// arguments and results).
#[inline(always)]
pub fn smc18(r: [u64; 18]) -> [u64; 18] {
    let mut o = r;
    // SAFETY: as for `smc`: the firmware above touches only x0..x17 and
    // none of our memory, and returns to the next instruction.
    unsafe {
        asm!("smc #0",
            inout("x0") o[0], inout("x1") o[1], inout("x2") o[2], inout("x3") o[3],
            inout("x4") o[4], inout("x5") o[5], inout("x6") o[6], inout("x7") o[7],
            inout("x8") o[8], inout("x9") o[9], inout("x10") o[10], inout("x11") o[11],
            inout("x12") o[12], inout("x13") o[13], inout("x14") o[14], inout("x15") o[15],
            inout("x16") o[16], inout("x17") o[17],
            options(nostack));
    }
    o
}

/// End a QEMU run with `code` through semihosting SYS_EXIT
/// (qemu-platforms.md §2.6: needs `-semihosting`; without it HLT is UNDEF
/// and the caller's vectors report it).
pub fn semihosting_exit(code: u32) -> ! {
    // ADP_Stopped_ApplicationExit, then the status.
    let block: [u64; 2] = [0x20026, code as u64];
    loop {
        // SAFETY: the semihosting call only reads the two-word `block`.
        unsafe { asm!("hlt #0xf000", in("w0") 0x18u32, in("x1") block.as_ptr(), options(nostack)) };
    }
}
