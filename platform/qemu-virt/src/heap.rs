//! EL3 heap for the attestation encoders (COSE/CBOR need `alloc`): 256 KiB
//! in .bss (`static-heap`). Only the platform-token service allocates,
//! under its own lock.

use static_heap::{Arena, LockedHeap};

static ARENA: Arena<{ 256 << 10 }> = Arena::new();

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Hand the arena to the allocator (primary CPU, once, MMU on).
pub fn init() {
    ARENA.give_to(&ALLOCATOR);
}
