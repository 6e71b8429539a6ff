//! Hardware access of the NS test host: SMC, console, counter, the fault
//! probe and PSCI. All of the host's `unsafe` is in this module.

use arm_rt::pl011::Pl011;
use arm_rt::sync::SpinLock;
use core::arch::asm;
use core::fmt;

pub use arm_rt::smc;

/// Result of a load that may take a synchronous external / GPT fault.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub value: u64,
    /// ESR_EL2 of the fault, or 0 if the load completed.
    pub esr: u64,
    pub far: u64,
}

unsafe extern "C" {
    static ns_secondary_entry: u8;
}

/// Load 8 bytes from `addr`, catching a data abort on that one load.
pub fn probe(addr: u64) -> Probe {
    let (value, esr, far): (u64, u64, u64);
    // SAFETY: probe_read performs one aligned 8-byte load from `addr`; the
    // host's vector turns a fault on exactly that instruction into
    // (0, ESR, FAR) and resumes after it. It clobbers x9/x10 only.
    unsafe {
        asm!("bl probe_read", inout("x0") addr => value, out("x1") esr, out("x2") far,
             out("x9") _, out("x10") _, out("x30") _, options(nostack));
    }
    Probe { value, esr, far }
}

/// Access a register that EL3 traps and does not emulate (HFGRTR_EL2 with
/// SCR_EL3.FGTEn = 0); returns the ESR_EL2 of the exception the host took,
/// or 0 if the access completed (no FEAT_FGT, so nothing traps).
pub fn probe_trapped_sysreg() -> u64 {
    let esr: u64;
    // SAFETY: probe_undef executes one MRS; the host's vector turns an
    // exception on exactly that instruction into x1 = ESR and resumes after
    // it. It clobbers x0, x2, x9, x10 and the link register only.
    unsafe {
        asm!("bl probe_undef", out("x0") _, out("x1") esr, out("x2") _,
             out("x9") _, out("x10") _, out("x30") _, options(nostack));
    }
    esr
}

/// Fill the 4 KiB page at `pa` with `byte` (MMU off: PA = VA).
pub fn fill_page(pa: u64, byte: u8) {
    for off in (0..4096).step_by(8) {
        // SAFETY: callers pass NS DRAM pages reserved for the tests (pool.rs),
        // which the host owns while they are Non-secure.
        unsafe { core::ptr::write_volatile((pa + off) as *mut u64, u64::from_ne_bytes([byte; 8])) };
    }
}

/// Read the 8-byte word at `pa` in a host-owned NS page.
pub fn read_u64(pa: u64) -> u64 {
    // SAFETY: as for `fill_page`; only called on NS-owned pages.
    unsafe { core::ptr::read_volatile(pa as *const u64) }
}

/// Write the 8-byte word at `pa` in a host-owned NS page.
pub fn write_u64(pa: u64, v: u64) {
    // SAFETY: as for `fill_page`; only called on NS-owned pages.
    unsafe { core::ptr::write_volatile(pa as *mut u64, v) }
}

/// Read a 32-bit GIC register (MMIO, NS view; QEMU virt map).
pub fn mmio_read32(pa: u64) -> u32 {
    // SAFETY: callers pass GIC distributor/redistributor registers of the
    // QEMU virt map (0x0800_0000..0x0E00_0000), Device memory with the MMU
    // off; no Rust-visible memory is touched.
    unsafe { core::ptr::read_volatile(pa as *const u32) }
}

/// Write a 32-bit GIC register (as for `mmio_read32`).
pub fn mmio_write32(pa: u64, v: u32) {
    // SAFETY: as for `mmio_read32`.
    unsafe { core::ptr::write_volatile(pa as *mut u32, v) }
}

/// Let this CPU's GIC CPU interface signal Group 1 interrupts of any
/// priority (ICC_PMR_EL1 = 0xFF, ICC_IGRPEN1_EL1 = 1). PSTATE.I stays
/// masked: the host never takes them, it only lets them exit a realm.
pub fn gic_cpu_interface_on() {
    // SAFETY: GIC CPU-interface system registers (ICC_SRE_EL2.SRE is set
    // by EL3); no memory is touched.
    unsafe {
        asm!(
            "msr S3_0_C4_C6_0, {pmr}",
            "msr S3_0_C12_C12_7, {en}",
            "isb",
            pmr = in(reg) 0xFFu64,
            en = in(reg) 1u64,
            options(nomem, nostack, preserves_flags)
        )
    };
}

/// A word in NS memory written by QEMU's `-device loader` (run mode etc.).
pub fn config_word(pa: u64) -> u32 {
    // SAFETY: the config page 0x5FFF_F000 is NS DRAM outside every image.
    unsafe { core::ptr::read_volatile(pa as *const u32) }
}

/// Physical counter (CNTPCT_EL0); under `-icount shift=0` one tick per
/// instruction (qemu-platforms.md §4).
#[inline(always)]
pub fn counter() -> u64 {
    let v: u64;
    // SAFETY: reads the counter; ISB orders it against earlier instructions.
    unsafe { asm!("isb", "mrs {0}, cntpct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Arm the EL2 physical timer (CNTHP, PPI 26) to fire when the counter
/// reaches `cval`; its interrupt stays asserted until `hyp_timer_off`.
pub fn hyp_timer_at(cval: u64) {
    // SAFETY: NS-EL2 owns CNTHP_*; only the timer's state changes.
    unsafe {
        asm!(
            "msr cnthp_cval_el2, {c}",
            "msr cnthp_ctl_el2, {e}",
            "isb",
            c = in(reg) cval,
            e = in(reg) 1u64,
            options(nomem, nostack, preserves_flags)
        )
    };
}

/// Disable the EL2 physical timer (its interrupt deasserts).
pub fn hyp_timer_off() {
    // SAFETY: as for `hyp_timer_at`.
    unsafe {
        asm!(
            "msr cnthp_ctl_el2, xzr",
            "isb",
            options(nomem, nostack, preserves_flags)
        )
    };
}

pub fn mpidr() -> u64 {
    let v: u64;
    // SAFETY: reads an ID register.
    unsafe { asm!("mrs {0}, mpidr_el1", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v & 0xFF_FFFF
}

pub fn secondary_entry() -> u64 {
    // SAFETY: address of the assembly entry symbol.
    unsafe { &ns_secondary_entry as *const u8 as u64 }
}

pub use arm_rt::sev;

// ---- PL011 console (UART0, NS) ----

static CONSOLE: SpinLock<Pl011> = SpinLock::new(Pl011::new(0x0900_0000));

pub fn print(args: fmt::Arguments<'_>) {
    let _ = fmt::Write::write_fmt(&mut *CONSOLE.lock(), args);
}

macro_rules! println {
    ($($arg:tt)*) => { $crate::hw::print(format_args!("{}\n", format_args!($($arg)*))) };
}
pub(crate) use println;

// ---- PSCI (DEN0022) ----

pub const PSCI_VERSION: u64 = 0x8400_0000;
pub const PSCI_CPU_OFF: u64 = 0x8400_0002;
pub const PSCI_CPU_ON: u64 = 0xC400_0003;
pub const PSCI_AFFINITY_INFO: u64 = 0xC400_0004;
pub const PSCI_SYSTEM_OFF: u64 = 0x8400_0008;

/// PSCI SYSTEM_OFF. x1 carries the number of failed checks, which our EL3
/// turns into QEMU's exit status (TF-A ignores it and exits 0).
pub fn system_off(failed: u64) -> ! {
    loop {
        smc([PSCI_SYSTEM_OFF, failed, 0, 0, 0, 0, 0, 0]);
    }
}
