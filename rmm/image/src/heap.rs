//! RMM heap for the attestation encoders (COSE/CBOR use `alloc`): 128 KiB
//! in .bss (`static-heap`). Monitor logic never allocates on an RMI path.

use static_heap::{Arena, LockedHeap};

static ARENA: Arena<{ 128 << 10 }> = Arena::new();

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Hand the arena to the allocator (cold boot, after the MMU is on).
pub fn init() {
    ARENA.give_to(&ALLOCATOR);
}
