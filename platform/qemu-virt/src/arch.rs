//! AArch64 EL3 primitives: system registers, barriers, TLB/cache maintenance
//! and semihosting. Every `unsafe` block of the monitor that touches the CPU
//! lives here, each with the reason it is sound.

use core::arch::asm;

pub use arm_rt::{dsb_ishst, dsb_sy, isb, semihosting_exit, sev};
pub(crate) use arm_rt::{read_sysreg, write_sysreg};

/// Invalidate cached GPT information for all PAs in the Outer Shareable
/// domain (TLBI PAALLOS, FEAT_RME): the broadcast form, so that every CPU
/// observes a granule's new PAS before EL3 reports the change complete.
#[inline(always)]
pub fn tlbi_paallos() {
    // SAFETY: TLB maintenance has no memory-safety effect on EL3 code.
    unsafe {
        asm!(
            ".arch_extension rme",
            "tlbi paallos",
            "dsb sy",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}

/// Local-only GPT invalidation used when the GPT is first enabled.
#[inline(always)]
pub fn tlbi_paall() {
    // SAFETY: TLB maintenance only.
    unsafe {
        asm!(
            ".arch_extension rme",
            "isb",
            "tlbi paall",
            "dsb sy",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}

/// Invalidate all EL3 stage-1 TLB entries of this CPU.
#[inline(always)]
pub fn tlbi_alle3() {
    // SAFETY: TLB maintenance only.
    unsafe {
        asm!(
            "dsb ishst",
            "tlbi alle3",
            "dsb sy",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}

/// Clean and invalidate `[pa, pa + len)` to the Point of Physical Aliasing
/// for the PAS selected by `pas_bits` (Xt[63] = NS, Xt[62] = NSE). Required
/// when a granule changes PAS so that no line tagged with the old PAS is
/// written back later (Arm ARM DDI 0487, DC CIPAPA).
pub fn dc_cipapa_range(pa: u64, len: u64, pas_bits: u64) {
    let line = dcache_line();
    let mut a = pa & !(line - 1);
    while a < pa + len {
        // SAFETY: cache maintenance by PA does not alter memory contents.
        unsafe {
            asm!(".arch_extension rme", "dc cipapa, {0}", in(reg) a | pas_bits, options(nostack, preserves_flags))
        };
        a += line;
    }
    dsb_sy();
}

/// Clean and invalidate `[va, va + len)` to the Point of Coherency, so that a
/// CPU running with its MMU off (the RMM at entry, a CPU in the hold loop)
/// reads what EL3 wrote through its cacheable mapping.
pub fn dc_civac_range(va: u64, len: u64) {
    let line = dcache_line();
    let mut a = va & !(line - 1);
    while a < va + len {
        // SAFETY: cache maintenance by VA of mapped memory; contents unchanged.
        unsafe { asm!("dc civac, {0}", in(reg) a, options(nostack, preserves_flags)) };
        a += line;
    }
    dsb_sy();
}

/// Invalidate the instruction caches (after loading an image).
pub fn ic_iallu() {
    // SAFETY: cache maintenance only.
    unsafe {
        asm!(
            "ic iallu",
            "dsb sy",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}

fn dcache_line() -> u64 {
    let ctr = read_sysreg!("ctr_el0");
    4 << ((ctr >> 16) & 0xF)
}

/// Linear index of the running CPU (QEMU virt: 8 CPUs per cluster).
pub fn cpu_index() -> usize {
    let mpidr = read_sysreg!("mpidr_el1");
    ((mpidr & 0xFF) + ((mpidr >> 8) & 0xFF) * 8) as usize
}

/// Write a 32-bit MMIO register.
pub fn mmio_write32(addr: u64, val: u32) {
    // SAFETY: callers pass device registers of the QEMU virt map (the secure
    // GPIO, the GIC) that EL3 maps as Device memory; the write has no effect
    // on Rust-visible memory.
    unsafe { core::ptr::write_volatile(addr as *mut u32, val) }
}

/// Read a 32-bit MMIO register.
pub fn mmio_read32(addr: u64) -> u32 {
    // SAFETY: as for `mmio_write32`: a Device-memory register of the QEMU
    // virt map (the GIC); reading it has no effect on Rust-visible memory.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

/// Read a 64-bit MMIO register.
pub fn mmio_read64(addr: u64) -> u64 {
    // SAFETY: as for `mmio_read32` (GICR_TYPER is a 64-bit register).
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

/// Copy `dst.len()` bytes from physical (= EL3 virtual) address `src`.
/// Exists for flash offset 0: Rust may not form a reference or pointer read
/// at address 0 (null), but EL3 must measure its own image, which starts
/// there. The loop is plain assembly, so no null dereference happens in Rust.
pub fn copy_from_phys(src: u64, dst: &mut [u8]) {
    // SAFETY: callers pass a range of mapped, readable flash; the asm reads
    // `len` bytes from `src` and writes them to `dst`, which is a valid
    // exclusive buffer of that length.
    unsafe {
        asm!(
            "cbz {len}, 2f",
            "1: ldrb {tmp:w}, [{src}], #1",
            "strb {tmp:w}, [{dst}], #1",
            "subs {len}, {len}, #1",
            "b.ne 1b",
            "2:",
            src = inout(reg) src => _,
            dst = inout(reg) dst.as_mut_ptr() => _,
            len = inout(reg) dst.len() => _,
            tmp = out(reg) _,
            options(nostack),
        );
    }
}

/// EL3 trap controls for the lower worlds, set on every CPU at power-on
/// (their reset values are architecturally UNKNOWN on hardware):
/// CPTR_EL3 = 0, i.e. TFP = 0 so FP/SIMD is usable below EL3 (the RMM's SHA
/// instructions and realms need it; the RMM switches that state between
/// worlds), while EZ = ESM = 0 keep SVE and SME trapped to EL3, where an NS
/// use is answered with an UNDEF (smc.rs) and R-EL2 traps them first for
/// realms. TAM = 0 (AMU not used by anything below).
pub fn init_traps() {
    write_sysreg!("cptr_el3", 0);
    isb();
}
