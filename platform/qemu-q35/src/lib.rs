//! QEMU q35 boot path for x86_64 firmware started with `-bios`
//! (qemu-platforms.md §3).
//!
//! ```text
//! 0xFFFF_FFF0  reset vector (asm/reset16.S), real mode, CS base 0xFFFF_0000
//!   -> LGDT (boot GDT in ROM), CR0.PE, far jump
//! q35_entry32  (asm/entry32.S, ROM) shared flat 32-bit entry: also usable by
//!   a TD vCPU (tdx-module-abi.md §6.3) or a PVH-style loader
//!   -> copy payload ROM -> 1 MiB, zero .bss, identity page tables (4 GiB,
//!      2 MiB pages at 0x1000..0x6FFF), PAE, EFER.LME(+NXE), PG, far jump
//! q35_entry64  (asm/entry64.S, RAM) CPU index + stack -> rust_start
//!   -> per-CPU GDT + TSS, IDT -> image `q35_image_main(cpu)`
//! APs: smp::start_aps -> INIT-SIPI-SIPI -> asm/ap_trampoline.S at 0x8000
//!   -> q35_ap_entry32 -> the same long-mode switch and q35_entry64.
//! ```
//!
//! Physical memory used: 0x1000..0x7000 boot page tables, 0x8000 AP
//! trampoline, 0x10_0000.. payload and .bss (< 6 MiB; linker/q35-bios.ld).
//! An image links with `linker/q35-bios.ld` and `--no-pie` and defines the
//! two hooks in [`image`]. `unsafe` lives in `arch`, `cpu`, `idt`, `smp`,
//! `paging`, `sync`, `tlb`, `user` and the `image` extern block, each with its
//! reason.

#![no_std]
#![cfg(target_arch = "x86_64")]

pub mod arch;
pub mod cpu;
pub mod exit;
pub mod fw_cfg;
pub mod guest_space;
pub mod idt;
pub mod image;
pub mod lapic;
pub mod paging;
pub mod serial;
pub mod smp;
pub mod sync;
pub mod tlb;
pub mod user;

pub use cpu::CpuIndex;

use core::sync::atomic::{AtomicU32, Ordering};

/// CPUs supported (stacks, GDTs); extra APs park in entry64.S.
pub const MAX_CPUS: usize = 8;
/// Kernel stack per CPU. Large because a TDX module instance (~70 KiB) is
/// built by value on the BSP's stack, and traps from CPL 3 run on the
/// same stack below the frames of `enter_user`'s caller.
pub const STACK_SIZE: usize = 192 * 1024;
/// #DF (IST1) stack per CPU.
pub const IST_STACK_SIZE: usize = 8 * 1024;

/// Boot page tables (entry32.S): PML4, PDPT, four PDs.
pub const BOOT_PML4: u32 = 0x1000;
pub const BOOT_PDPT: u32 = 0x2000;
pub const BOOT_PD: u32 = 0x3000;
const BOOT_TABLES_BYTES: u32 = 6 * 0x1000;

/// Next AP index (entry64.S, LOCK XADD); the BSP is 0.
static AP_TICKET: AtomicU32 = AtomicU32::new(1);

core::arch::global_asm!(
    include_str!("asm/reset16.S"),
    include_str!("asm/entry32.S"),
    include_str!("asm/ap_trampoline.S"),
    include_str!("asm/entry64.S"),
    include_str!("asm/traps.S"),
    BOOT_PML4 = const BOOT_PML4,
    BOOT_PDPT = const BOOT_PDPT,
    BOOT_PD = const BOOT_PD,
    BOOT_TABLES_BYTES = const BOOT_TABLES_BYTES,
    MAX_CPUS = const MAX_CPUS,
    STACK_SIZE = const STACK_SIZE,
    USER_CS = const cpu::selector::USER_CODE,
    USER_SS = const cpu::selector::USER_DATA,
    ap_ticket = sym AP_TICKET,
    stacks = sym cpu::STACKS,
    rust_start = sym rust_start,
    trap_rust = sym idt::trap_entry,
    options(att_syntax)
);

/// First Rust code of every CPU (entry64.S), on its own stack.
extern "C" fn rust_start(index: u32) -> ! {
    let cpu = CpuIndex(index);
    if cpu.is_bsp() {
        idt::build();
    }
    cpu::init_tables(cpu);
    idt::load();
    smp::ONLINE.fetch_add(1, Ordering::AcqRel);
    image::main(cpu)
}
