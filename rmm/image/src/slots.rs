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

/// Zero the 4 KiB page mapped at `va` with DC ZVA.
pub fn zero_page(va: u64) {
    let bs = 4u64 << (arch::read_sysreg!("dczid_el0") & 0xF);
    let mut a = va;
    while a < va + 0x1000 {
        // SAFETY: [va, va + 4 KiB) is a writable Normal mapping of a granule
        // the RMM owns (with_realm_granule), and DC ZVA writes only zeros
        // into the aligned block containing `a`.
        unsafe { core::arch::asm!("dc zva, {0}", in(reg) a, options(nostack, preserves_flags)) };
        a += bs;
    }
}
