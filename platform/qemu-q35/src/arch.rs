//! x86_64 instructions used by the platform: port I/O, MSRs, control
//! registers, descriptor-table loads, MMIO. This is the crate's arch module:
//! each `unsafe` block says why it is sound. Nothing here keeps state.

use core::arch::asm;

/// An I/O port number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(pub u16);

/// An x86 model-specific register number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msr(pub u32);

/// IA32_EFER (SDM Vol. 4, MSR 0xC000_0080).
pub const IA32_EFER: Msr = Msr(0xC000_0080);
/// EFER.NXE: execute-disable bit usable in paging entries (bit 11).
pub const EFER_NXE: u64 = 1 << 11;

/// `IN AL, port`.
#[inline(always)]
pub fn inb(port: Port) -> u8 {
    let v: u8;
    // SAFETY: the platform only names ports of devices it owns (COM1,
    // fw_cfg); an IN has no memory side effect.
    unsafe {
        asm!("in al, dx", out("al") v, in("dx") port.0, options(nomem, nostack, preserves_flags))
    };
    v
}

/// `OUT port, AL`.
#[inline(always)]
pub fn outb(port: Port, v: u8) {
    // SAFETY: as for `inb`; the devices written (COM1, isa-debug-exit,
    // POST port 0x80) touch no guest memory.
    unsafe {
        asm!("out dx, al", in("dx") port.0, in("al") v, options(nomem, nostack, preserves_flags))
    };
}

/// `OUT port, AX`.
#[inline(always)]
pub fn outw(port: Port, v: u16) {
    // SAFETY: as for `outb` (used for the fw_cfg selector).
    unsafe {
        asm!("out dx, ax", in("dx") port.0, in("ax") v, options(nomem, nostack, preserves_flags))
    };
}

/// `RDMSR`.
#[inline(always)]
pub fn rdmsr(msr: Msr) -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: callers read architectural MSRs that exist on every x86_64 CPU
    // (EFER); RDMSR has no memory side effect.
    unsafe {
        asm!("rdmsr", in("ecx") msr.0, out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags))
    };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// CR2: the linear address of the last page fault.
#[inline(always)]
pub fn cr2() -> u64 {
    let v: u64;
    // SAFETY: reading CR2 at CPL 0 has no side effect.
    unsafe { asm!("mov {}, cr2", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// CR3: the current top-level page table.
#[inline(always)]
pub fn cr3() -> u64 {
    let v: u64;
    // SAFETY: reading CR3 at CPL 0 has no side effect.
    unsafe { asm!("mov {}, cr3", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Switches to the page tables at physical `pml4`.
///
/// # Safety
/// `pml4` must be a complete PML4 that maps, for CPL 0, everything the
/// running code, its stack and its data use, at the same addresses.
#[inline(always)]
pub unsafe fn write_cr3(pml4: u64) {
    // SAFETY: the caller guarantees the new tables keep the current code,
    // stack and data mapped identically.
    unsafe { asm!("mov cr3, {}", in(reg) pml4, options(nostack, preserves_flags)) };
}

/// CPUID leaf `leaf`, subleaf 0: (EAX, EBX, ECX, EDX).
#[inline(always)]
pub fn cpuid(leaf: u32) -> [u32; 4] {
    let r = core::arch::x86_64::__cpuid_count(leaf, 0);
    [r.eax, r.ebx, r.ecx, r.edx]
}

/// The initial APIC ID of this CPU (CPUID.01H:EBX[31:24]).
pub fn initial_apic_id() -> u32 {
    cpuid(1)[1] >> 24
}

/// `CLI; HLT` forever.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: stops this CPU; with IF = 0 only NMI/INIT/SMI wake it, and
        // we halt again.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// A 32-bit MMIO register at a physical address (identity mapped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mmio32(pub u64);

impl Mmio32 {
    /// Volatile 32-bit read.
    pub fn read(self) -> u32 {
        // SAFETY: `Mmio32` values are only built for device registers in the
        // identity-mapped UC region (the LAPIC at 0xFEE0_0000); the address
        // is 4-byte aligned.
        unsafe { core::ptr::read_volatile(self.0 as *const u32) }
    }

    /// Volatile 32-bit write.
    pub fn write(self, v: u32) {
        // SAFETY: as for `read`.
        unsafe { core::ptr::write_volatile(self.0 as *mut u32, v) }
    }
}

/// Pseudo-descriptor for LGDT/LIDT.
#[repr(C, packed)]
#[derive(Debug, Clone, Copy)]
pub struct DescriptorPointer {
    pub limit: u16,
    pub base: u64,
}

/// Loads the GDT, reloads CS (far return) and the data segments, then TR.
///
/// # Safety
/// `gdt` must describe a GDT that lives forever, with a 64-bit code segment
/// at `code`, a data segment at `data` and an available 64-bit TSS at `tss`.
pub unsafe fn load_gdt(gdt: &DescriptorPointer, code: u16, data: u16, tss: u16) {
    // SAFETY: the caller guarantees the table; the far return reloads CS
    // with a 64-bit code selector so execution continues at label 2.
    unsafe {
        asm!(
            "lgdt [{gdt}]",
            "push {code}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {data:x}",
            "mov es, {data:x}",
            "mov ss, {data:x}",
            "ltr {tss:x}",
            gdt = in(reg) gdt,
            code = in(reg) u64::from(code),
            data = in(reg) u32::from(data),
            tss = in(reg) u32::from(tss),
            tmp = out(reg) _,
        )
    };
}

/// Loads the IDT.
///
/// # Safety
/// `idt` must describe an IDT that lives forever and whose gates point to
/// valid handlers.
pub unsafe fn load_idt(idt: &DescriptorPointer) {
    // SAFETY: guaranteed by the caller.
    unsafe { asm!("lidt [{}]", in(reg) idt, options(readonly, nostack, preserves_flags)) };
}
