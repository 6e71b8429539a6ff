//! AArch64 R-EL2 primitives: system registers, barriers, SMC to EL3,
//! semihosting. The unsafe code of the RMM image lives in this module and
//! in `slots.rs`, `mmu.rs` and `global.rs`, each block with its reason.

use core::arch::asm;

pub use arm_rt::{dsb_sy, isb, semihosting_exit, smc};
pub(crate) use arm_rt::{read_sysreg, write_sysreg};

/// Order a descriptor write before later translations on this CPU.
#[inline(always)]
pub fn dsb_ishst_isb() {
    // SAFETY: barriers only.
    unsafe { asm!("dsb ishst", "isb", options(nostack, preserves_flags)) };
}

/// Invalidate this CPU's stage-1 EL2 TLB entries for the page at `va`.
#[inline(always)]
pub fn tlbi_va_local(va: u64) {
    // SAFETY: TLB maintenance only; the caller updated the descriptor.
    unsafe {
        asm!("dsb ishst", "tlbi vae2, {0}", "dsb nsh", "isb", in(reg) va >> 12, options(nostack, preserves_flags))
    };
}

/// Run `f` with VTTBR_EL2.VMID = `vmid` (TLBI by IPA or VMID uses the
/// current VMID, Arm ARM D8.17), restoring VTTBR_EL2 afterwards. Only the
/// RMM runs at R-EL2 on this CPU, so nothing else observes the change.
fn with_vmid(vmid: u16, f: impl FnOnce()) {
    let saved = read_sysreg!("vttbr_el2");
    write_sysreg!("vttbr_el2", (vmid as u64) << 48);
    isb();
    f();
    write_sysreg!("vttbr_el2", saved);
    isb();
}

/// Invalidate stage-2 entries for `ipa` of realm `vmid` on all CPUs, then
/// combined stage-1+2 entries (which may cache the old translation), as a
/// stage-2 change requires (Arm ARM D8.17, TLB maintenance for stage 2).
pub fn tlbi_s2_ipa(vmid: u16, ipa: u64) {
    with_vmid(vmid, || {
        // SAFETY: TLB maintenance only; completes before returning (DSB).
        unsafe {
            asm!("dsb ishst", "tlbi ipas2e1is, {0}", "dsb ish", "tlbi vmalle1is", "dsb ish",
                in(reg) (ipa >> 12) & ((1 << 36) - 1), options(nostack, preserves_flags))
        };
    });
}

/// Invalidate every stage-1 and stage-2 entry of realm `vmid` on all CPUs.
pub fn tlbi_s2_vmid(vmid: u16) {
    with_vmid(vmid, || {
        // SAFETY: TLB maintenance only; completes before returning (DSB).
        unsafe {
            asm!(
                "dsb ishst",
                "tlbi vmalls12e1is",
                "dsb ish",
                options(nostack, preserves_flags)
            )
        };
    });
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
