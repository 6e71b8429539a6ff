//! The firmware images' heap: a fixed arena in .bss, handed once to a
//! [`LockedHeap`] (linked-list allocator behind a spin lock, so CPUs are
//! serialised). Monitor logic never allocates; the encoders of
//! `cmon-evidence` (COSE/CBOR tokens, TD quotes) and `cmon-keys` are
//! `alloc` crates, so every image that links them declares:
//!
//! ```ignore
//! static ARENA: Arena<{ 64 << 10 }> = Arena::new();
//! #[global_allocator]
//! static ALLOCATOR: LockedHeap = LockedHeap::empty();
//! // at boot, before anything allocates:
//! ARENA.give_to(&ALLOCATOR);
//! ```
//!
//! The only `unsafe` is here: [`Arena::give_to`] hands the arena over at
//! most once, so the allocator is the arena's only user.
#![no_std]

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

pub use linked_list_allocator::LockedHeap;

/// `N` bytes for a heap, 16-byte aligned.
#[repr(C, align(16))]
pub struct Arena<const N: usize> {
    bytes: UnsafeCell<[u8; N]>,
    given: AtomicBool,
}

// SAFETY: the bytes are reached only by the allocator `give_to` handed them
// to (at most one, see there), whose lock serialises CPUs; `given` is atomic.
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Arena<N> {
    /// An arena nobody uses yet.
    pub const fn new() -> Self {
        Arena {
            bytes: UnsafeCell::new([0; N]),
            given: AtomicBool::new(false),
        }
    }

    /// Hand the arena to `heap` (an empty allocator). Only the first call
    /// does anything; it returns whether it did.
    pub fn give_to(&'static self, heap: &LockedHeap) -> bool {
        if self.given.swap(true, Ordering::AcqRel) {
            return false;
        }
        // SAFETY: `given` makes this the only hand-over, so `heap` becomes
        // the arena's only user; the arena is a 'static, writable, aligned
        // region of N bytes.
        unsafe { heap.lock().init(self.bytes.get().cast::<u8>(), N) };
        true
    }
}

impl<const N: usize> core::fmt::Debug for Arena<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Arena")
            .field("bytes", &N)
            .field("given", &self.given.load(Ordering::Relaxed))
            .finish()
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use core::alloc::Layout;

    #[test]
    fn the_arena_is_handed_over_once_and_serves_allocations() {
        static ARENA: Arena<4096> = Arena::new();
        let heap = LockedHeap::empty();
        assert!(ARENA.give_to(&heap));
        let other = LockedHeap::empty();
        assert!(!ARENA.give_to(&other), "a second hand-over does nothing");
        let layout = Layout::from_size_align(256, 16).unwrap();
        let p = heap.lock().allocate_first_fit(layout).unwrap();
        let base = ARENA.bytes.get() as usize;
        assert!((base..base + 4096).contains(&(p.as_ptr() as usize)));
        assert!(other.lock().allocate_first_fit(layout).is_err());
    }
}
