//! EL3 heap for the attestation encoders (COSE/CBOR need `alloc`). Only the
//! platform-token service allocates, under its own lock; 256 KiB in .bss.

use linked_list_allocator::LockedHeap;

const HEAP_SIZE: usize = 256 << 10;

#[repr(C, align(16))]
struct Arena(core::cell::UnsafeCell<[u8; HEAP_SIZE]>);
// SAFETY: the arena is handed to the allocator once (`init`) and from then on
// only accessed through it, which serialises users with its lock.
unsafe impl Sync for Arena {}
static ARENA: Arena = Arena(core::cell::UnsafeCell::new([0; HEAP_SIZE]));

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Give the arena to the allocator (primary CPU, once, MMU on).
pub fn init() {
    // SAFETY: called once before any allocation; the arena is a static,
    // suitably aligned, writable region used by nothing else.
    unsafe { HEAP.lock().init(ARENA.0.get() as *mut u8, HEAP_SIZE) };
}
