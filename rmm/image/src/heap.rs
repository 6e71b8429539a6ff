//! RMM heap for the attestation encoders (COSE/CBOR use `alloc`); 128 KiB
//! in .bss behind the allocator's own lock. Monitor logic never allocates on
//! an RMI path.

use linked_list_allocator::LockedHeap;

const HEAP_BYTES: usize = 128 << 10;

#[repr(C, align(16))]
struct HeapArena(core::cell::UnsafeCell<[u8; HEAP_BYTES]>);
// SAFETY: handed to the allocator once in `init`, then only reached through
// it (its lock serialises CPUs).
unsafe impl Sync for HeapArena {}
static HEAP_ARENA: HeapArena = HeapArena(core::cell::UnsafeCell::new([0; HEAP_BYTES]));

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Hand the arena to the allocator (cold boot, after the MMU is on).
pub fn init() {
    // SAFETY: runs once, before any allocation; the arena is a writable,
    // aligned static that nothing else uses.
    unsafe {
        ALLOCATOR
            .lock()
            .init(HEAP_ARENA.0.get() as *mut u8, HEAP_BYTES)
    };
}
