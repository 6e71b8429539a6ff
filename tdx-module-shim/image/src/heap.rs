//! Shim heap: 64 KiB in .bss behind the allocator's own lock. The module
//! logic never allocates; `cmon-evidence` (TD quotes, which return a
//! `Vec`) and `cmon-keys` are `alloc` crates, so the image must provide an
//! allocator for them.

use linked_list_allocator::LockedHeap;

const HEAP_BYTES: usize = 64 << 10;

#[repr(C, align(16))]
struct HeapArena(core::cell::UnsafeCell<[u8; HEAP_BYTES]>);
// SAFETY: handed to the allocator once in `init`, then only reached through
// it (its lock serialises CPUs).
unsafe impl Sync for HeapArena {}
static HEAP_ARENA: HeapArena = HeapArena(core::cell::UnsafeCell::new([0; HEAP_BYTES]));

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Hand the arena to the allocator (BSP, before anything allocates).
pub fn init() {
    // SAFETY: runs once on the BSP before any allocation; the arena is a
    // writable, aligned static that nothing else uses.
    unsafe {
        ALLOCATOR
            .lock()
            .init(HEAP_ARENA.0.get() as *mut u8, HEAP_BYTES)
    };
}
