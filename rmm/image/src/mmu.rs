//! The RMM's own R-EL2 stage-1 translation (non-VHE EL2 regime).
//!
//! Identity map of the RMM image with per-section permissions, the shared
//! page, and the manifest console (Device, NS PAS). Delegated granules and NS
//! memory are *not* mapped: they are reached only through per-CPU slot
//! buffers, one L3 entry each, rewritten for the duration of one access
//! (`slots.rs`), as TF-RMM does.

use crate::arch::{self, read_sysreg, write_sysreg};
use arm_paging::{Access, Attrs, MapError, MemType, PageTables, Pas, Regime, Table};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

/// 39-bit VA: start level 1; covers QEMU and FVP DRAM identity maps.
const VA_BITS: u32 = 39;
const POOL_TABLES: usize = 24;
/// Slot buffers: the top 2 MiB of the VA space, 8 slots per CPU.
pub const SLOT_BASE: u64 = (1 << VA_BITS) - (2 << 20);
pub const SLOTS_PER_CPU: usize = 8;
pub const MAX_CPUS: usize = 16;
/// Per-CPU RMM stack (must match asm/entry.S and linker/rmm.ld). REC_ENTER
/// call chains need well over 16 KiB.
const STACK_SIZE: u64 = 0x1_0000;
/// Unmapped guard page at the bottom of each stack.
const GUARD_SIZE: u64 = 0x1000;

#[repr(C, align(4096))]
struct Pool(UnsafeCell<[Table; POOL_TABLES]>);
// SAFETY: written only by the cold-boot CPU in `build` before any other CPU
// enters the RMM; afterwards only the slot L3 table is written, each CPU
// writing only its own entries (slots.rs).
unsafe impl Sync for Pool {}
static POOL: Pool = Pool(UnsafeCell::new([Table::ZERO; POOL_TABLES]));

static ROOT: AtomicU64 = AtomicU64::new(0);
/// PA of the L3 table that holds all slot entries.
static SLOT_TABLE: AtomicU64 = AtomicU64::new(0);
/// Index of the first slot entry in that table.
static SLOT_FIRST: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" {
    static __rmm_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __stacks_start: u8;
    static __rmm_end: u8;
}

fn sym(s: &u8) -> u64 {
    s as *const u8 as u64
}

/// `[start, end)` of the RMM image in memory (including .bss and stacks).
pub fn image_range() -> (u64, u64) {
    // SAFETY: taking addresses of linker symbols.
    unsafe { (sym(&__rmm_start), sym(&__rmm_end)) }
}

const fn attrs(mem: MemType, access: Access, exec: bool, pas: Pas) -> Attrs {
    Attrs {
        mem,
        access,
        exec,
        pas,
    }
}

/// Build the tables (cold boot only, MMU off).
pub fn build(shared_page: u64, console: Option<(u64, u64)>) -> Result<(), MapError> {
    let pool_pa = POOL.0.get() as u64;
    // SAFETY: cold boot runs on one CPU before any warm boot (Pool contract).
    let pool = unsafe { &mut *POOL.0.get() };
    let mut pt = PageTables::new(pool, pool_pa, Regime::El2, VA_BITS)?;
    // SAFETY: linker symbol addresses.
    let (start, text_end, ro_end, end) = unsafe {
        (
            sym(&__rmm_start),
            sym(&__text_end),
            sym(&__rodata_end),
            sym(&__rmm_end),
        )
    };
    use Access::*;
    use MemType::*;
    pt.map(
        start,
        start,
        text_end - start,
        attrs(Normal, ReadOnly, true, Pas::Realm),
    )?;
    pt.map(
        text_end,
        text_end,
        ro_end - text_end,
        attrs(Normal, ReadOnly, false, Pas::Realm),
    )?;
    // SAFETY: linker symbol address.
    let stacks = unsafe { sym(&__stacks_start) };
    let rw = attrs(Normal, ReadWrite, false, Pas::Realm);
    pt.map(ro_end, ro_end, stacks - ro_end, rw)?;
    // Per-CPU stacks, each with its lowest page left unmapped: an overflow
    // takes a translation fault (reported as a fatal RMM error) instead of
    // silently corrupting the stack of the CPU below it.
    let mut s = stacks;
    while s + STACK_SIZE <= end {
        pt.map(s + GUARD_SIZE, s + GUARD_SIZE, STACK_SIZE - GUARD_SIZE, rw)?;
        s += STACK_SIZE;
    }
    pt.map(
        shared_page,
        shared_page,
        0x1000,
        attrs(Normal, ReadWrite, false, Pas::Realm),
    )?;
    if let Some((base, pages)) = console {
        pt.map(
            base,
            base,
            pages.max(1) * 0x1000,
            attrs(Device, ReadWrite, false, Pas::NonSecure),
        )?;
    }
    let (t, first) = pt.l3_table_for(SLOT_BASE)?;
    let slot_table = pt.table_pa(t).ok_or(MapError::PoolExhausted)?;
    ROOT.store(pt.root_pa(), Ordering::Relaxed);
    SLOT_TABLE.store(slot_table, Ordering::Relaxed);
    SLOT_FIRST.store(first as u64, Ordering::Relaxed);
    Ok(())
}

/// Address of the L3 descriptor backing slot `slot` of CPU `cpu`.
pub fn slot_descriptor(cpu: usize, slot: usize) -> (u64 /*va*/, *mut u64) {
    let i = cpu * SLOTS_PER_CPU + slot;
    let table = SLOT_TABLE.load(Ordering::Relaxed);
    let first = SLOT_FIRST.load(Ordering::Relaxed) as usize;
    (
        SLOT_BASE + (i as u64) * 0x1000,
        (table + 8 * (first + i) as u64) as *mut u64,
    )
}

/// Turn on this CPU's MMU with the tables from `build`.
pub fn enable_on_this_cpu() {
    // PS = 2 (40-bit PA) matches the GPT's PPS on QEMU; IPS must cover DRAM.
    let parange = (read_sysreg!("id_aa64mmfr0_el1") & 0xF).min(5) as u8;
    write_sysreg!("mair_el2", arm_paging::mair_value());
    write_sysreg!(
        "tcr_el2",
        arm_paging::tcr_el2(VA_BITS, parange).unwrap_or(0)
    );
    write_sysreg!("ttbr0_el2", ROOT.load(Ordering::Relaxed));
    arch::dsb_sy();
    arch::tlbi_alle2();
    let sctlr = read_sysreg!("sctlr_el2") | arm_paging::sctlr_mmu_on_bits();
    // The identity map covers the code being executed, so enabling is safe.
    write_sysreg!("sctlr_el2", sctlr);
    arch::isb();
}
