//! Transient mappings of granules through per-CPU slot buffers.

use crate::arch;
use crate::mmu::{self, SLOTS_PER_CPU};
use arm_paging::{Access, Attrs, MemType, Pas, Regime, page_descriptor};

/// Slot indices (one access of each kind may be in flight per CPU).
#[derive(Clone, Copy, Debug)]
pub enum Slot {
    /// The granule being delegated / zeroed.
    Delegated = 0,
}

/// Map the granule at `pa` (Realm PAS) into this CPU's `slot`, run `f` on its
/// virtual address, then unmap it.
pub fn with_realm_granule<R>(slot: Slot, pa: u64, f: impl FnOnce(u64) -> R) -> R {
    const _: () = assert!(SLOTS_PER_CPU >= 1);
    let attrs = Attrs {
        mem: MemType::Normal,
        access: Access::ReadWrite,
        exec: false,
        pas: Pas::Realm,
    };
    let (va, desc) = mmu::slot_descriptor(arch::cpu_index(), slot as usize);
    let d = page_descriptor(pa, attrs, Regime::El2).unwrap_or(arm_paging::INVALID);
    // SAFETY: `desc` is this CPU's own slot entry in the live L3 table (only
    // this CPU writes it); `va` maps nothing else, so no other access can be
    // affected. The TLBI makes the new translation visible before use.
    unsafe { desc.write_volatile(d) };
    arch::tlbi_va_local(va);
    let r = f(va);
    // SAFETY: as above; unmapping so the granule is not reachable later.
    unsafe { desc.write_volatile(arm_paging::INVALID) };
    arch::tlbi_va_local(va);
    r
}

unsafe extern "C" {
    fn rmm_zero_page(va: u64, block: u64) -> u64;
}

/// Zero the 4 KiB page mapped at `va` with DC ZVA (two blocks per loop
/// iteration: this is on the DELEGATE path). `Err` if the access aborted
/// (no memory behind the PA); the vector turns that abort into a return.
pub fn zero_page(va: u64) -> Result<(), ()> {
    let block = 4u64 << (arch::read_sysreg!("dczid_el0") & 0xF);
    // SAFETY: [va, va + 4 KiB) is a writable Normal mapping of a granule the
    // RMM owns (with_realm_granule); the routine writes only zeros inside
    // it, and DC ZVA blocks (<= 2 KiB, power of two) tile the page exactly.
    // An abort on it is recovered by the R-EL2 vector (entry.S).
    match unsafe { rmm_zero_page(va, block) } {
        0 => Ok(()),
        _ => Err(()),
    }
}
