//! Shim heap: 64 KiB in .bss (`static-heap`). The module logic never
//! allocates; `cmon-evidence` (TD quotes, which return a `Vec`) and
//! `cmon-keys` are `alloc` crates, so the image must provide an allocator
//! for them.

use static_heap::{Arena, LockedHeap};

static ARENA: Arena<{ 64 << 10 }> = Arena::new();

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Hand the arena to the allocator (BSP, before anything allocates).
pub fn init() {
    ARENA.give_to(&ALLOCATOR);
}
