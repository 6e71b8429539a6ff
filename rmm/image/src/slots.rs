//! Transient mappings of granules through per-CPU slot buffers.
//!
//! Each CPU owns `SLOTS_PER_CPU` page-sized VAs whose L3 entries only that
//! CPU rewrites (mmu.rs). A `SlotMapping` maps one granule into one slot and
//! unmaps it on drop, so delegated and NS memory is reachable only while an
//! access is in progress (TF-RMM's "buffer slots").

use crate::arch;
use crate::mmu::{self, MAX_CPUS, SLOTS_PER_CPU};
use arm_paging::{Access, Attrs, MemType, Pas, Regime, page_descriptor};
use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use rmm::{GranuleWords, Slot};

/// Slot used for host (NS) memory, beside the `rmm::Slot` ones.
const NS_SLOT: usize = 7;
const _: () = assert!(NS_SLOT < SLOTS_PER_CPU);

fn slot_index(slot: Slot) -> usize {
    match slot {
        Slot::Delegated => 0,
        Slot::Rd => 1,
        Slot::Rtt => 2,
        Slot::RttParent => 3,
        Slot::Data => 4,
        Slot::Rec => 5,
        Slot::RecAux => 6,
    }
}

/// Bit i set: slot i of that CPU is mapped. Written only by its own CPU.
static BUSY: [AtomicU8; MAX_CPUS] = [const { AtomicU8::new(0) }; MAX_CPUS];

/// A granule mapped into one of this CPU's slots; unmapped on drop. Not
/// `Send`: the mapping exists only in this CPU's slot.
#[derive(Debug)]
pub struct SlotMapping {
    va: u64,
    desc: *mut u64,
    cpu: usize,
    index: usize,
}

fn map(index: usize, pa: u64, pas: Pas) -> Option<SlotMapping> {
    let cpu = arch::cpu_index();
    let bit = 1u8 << index;
    // Mapping a busy slot again would silently retarget the live guard: that
    // is a monitor bug (the logic guarantees one mapping per slot), and
    // continuing could corrupt another granule, so stop.
    if BUSY[cpu].load(Ordering::Relaxed) & bit != 0 {
        crate::fatal(format_args!("slot {index} mapped twice on CPU {cpu}"));
    }
    let attrs = Attrs {
        mem: MemType::Normal,
        access: Access::ReadWrite,
        exec: false,
        pas,
    };
    let d = page_descriptor(pa, attrs, Regime::El2).ok()?;
    let (va, desc) = mmu::slot_descriptor(cpu, index);
    BUSY[cpu].store(BUSY[cpu].load(Ordering::Relaxed) | bit, Ordering::Relaxed);
    // SAFETY: `desc` is this CPU's own, currently unused slot entry in the
    // live L3 table (only this CPU writes it; BUSY checked above), so no
    // other mapping is affected.
    unsafe { desc.write_volatile(d) };
    // Invalid -> valid needs no TLB invalidation (the entry was invalidated
    // when the slot was last unmapped): only make the write visible to the
    // walker before the first access.
    arch::dsb_ishst_isb();
    Some(SlotMapping {
        va,
        desc,
        cpu,
        index,
    })
}

impl Drop for SlotMapping {
    fn drop(&mut self) {
        // SAFETY: as in `map`: this CPU's own slot entry; unmapping makes the
        // granule unreachable again once the TLBI completes.
        unsafe { self.desc.write_volatile(arm_paging::INVALID) };
        arch::tlbi_va_local(self.va);
        let b = &BUSY[self.cpu];
        b.store(
            b.load(Ordering::Relaxed) & !(1 << self.index),
            Ordering::Relaxed,
        );
    }
}

impl core::ops::Deref for SlotMapping {
    type Target = GranuleWords;
    fn deref(&self) -> &GranuleWords {
        // SAFETY: `va` maps a whole 4 KiB granule of RAM read-write for the
        // life of `self`; the view is atomic words, so concurrent mappings of
        // the same granule on other CPUs cannot cause a data race.
        unsafe { &*(self.va as *const [AtomicU64; 512]) }
    }
}

/// Map a Realm-PAS granule the RMM owns.
pub fn map_realm(slot: Slot, pa: u64) -> SlotMapping {
    map(slot_index(slot), pa, Pas::Realm)
        .unwrap_or_else(|| crate::fatal(format_args!("cannot map granule {pa:#x}")))
}

unsafe extern "C" {
    fn rmm_zero_page(va: u64, block: u64) -> u64;
    fn rmm_copy(dst: u64, src: u64, len: u64) -> u64;
}

/// Zero the granule at `pa` (Realm PAS) with DC ZVA. `Err` if the access
/// aborted (no memory behind the PA).
pub fn zero_realm_granule(pa: u64) -> Result<(), ()> {
    let m = map_realm(Slot::Delegated, pa);
    let block = 4u64 << (arch::read_sysreg!("dczid_el0") & 0xF);
    // SAFETY: [va, va + 4 KiB) is a writable Normal mapping of a granule the
    // RMM owns; the routine writes only zeros inside it (DC ZVA blocks of
    // <= 2 KiB tile the page). An abort in it is recovered by the R-EL2
    // vector, which returns 1 (entry.S, recoverable routines).
    let r = unsafe { rmm_zero_page(m.va, block) };
    drop(m);
    if r == 0 { Ok(()) } else { Err(()) }
}

/// Copy between host memory at `pa` (Non-secure PAS) and `buf`. The range
/// must lie in one granule. `Err` on a GPF (the granule is not NS), an
/// external abort (no memory) or an unmappable PA.
fn ns_copy(pa: u64, len: usize, buf: u64, to_ns: bool) -> Result<(), ()> {
    let off = pa & 0xFFF;
    if off + len as u64 > 0x1000 {
        return Err(());
    }
    let m = map(NS_SLOT, pa & !0xFFF, Pas::NonSecure).ok_or(())?;
    let ns = m.va + off;
    let (dst, src) = if to_ns { (ns, buf) } else { (buf, ns) };
    // SAFETY: `ns` is inside the NS mapping just made (range checked), and
    // `buf` is a caller buffer of `len` bytes; the routine touches only
    // these. Any abort on the NS side is recovered by the vector (returns 1).
    let r = unsafe { rmm_copy(dst, src, len as u64) };
    drop(m);
    if r == 0 { Ok(()) } else { Err(()) }
}

/// Copy host memory at `pa` into `buf` (one copy-in; never re-read).
pub fn read_ns(pa: u64, buf: &mut [u8]) -> Result<(), ()> {
    ns_copy(pa, buf.len(), buf.as_mut_ptr() as u64, false)
}

/// Copy `buf` to host memory at `pa`.
pub fn write_ns(pa: u64, buf: &[u8]) -> Result<(), ()> {
    ns_copy(pa, buf.len(), buf.as_ptr() as u64, true)
}
