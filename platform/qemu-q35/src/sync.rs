//! Cross-CPU primitives: a spin lock with a re-entry escape for the
//! console, and per-CPU cells written only by their own CPU.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::MAX_CPUS;

/// A lock that a CPU may take again while it already holds it (a fault
/// while printing must still be able to print). `owner` is CPU index + 1,
/// 0 = free.
#[derive(Debug)]
pub struct ReentrantSpin {
    owner: AtomicUsize,
}

impl ReentrantSpin {
    pub const fn new() -> Self {
        Self {
            owner: AtomicUsize::new(0),
        }
    }

    /// Runs `f` holding the lock on behalf of CPU `cpu`.
    pub fn with<R>(&self, cpu: usize, f: impl FnOnce() -> R) -> R {
        let me = cpu + 1;
        if self.owner.load(Ordering::Relaxed) == me {
            return f();
        }
        while self
            .owner
            .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        let r = f();
        self.owner.store(0, Ordering::Release);
        r
    }
}

impl Default for ReentrantSpin {
    fn default() -> Self {
        Self::new()
    }
}

/// One `T` per CPU. Slot `i` is only ever accessed by CPU `i` (and by the
/// hardware on its behalf), which is what makes handing out `&mut` sound.
pub struct PerCpu<T> {
    slots: [UnsafeCell<T>; MAX_CPUS],
}

// SAFETY: each slot is used by exactly one CPU (see `get_mut`), so no slot
// is shared between threads of execution.
unsafe impl<T: Send> Sync for PerCpu<T> {}

impl<T> core::fmt::Debug for PerCpu<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PerCpu").finish_non_exhaustive()
    }
}

impl<T> PerCpu<T> {
    pub const fn new(slots: [UnsafeCell<T>; MAX_CPUS]) -> Self {
        Self { slots }
    }

    /// Raw pointer to slot `cpu` (for handing addresses to hardware).
    pub fn as_ptr(&self, cpu: usize) -> *mut T {
        self.slots[cpu].get()
    }

    /// The slot of CPU `cpu`.
    ///
    /// # Safety
    /// Only CPU `cpu` may call this, and not while another reference from
    /// an earlier call is still live.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn get_mut(&self, cpu: usize) -> &mut T {
        // SAFETY: the caller is CPU `cpu` and holds no other reference.
        unsafe { &mut *self.slots[cpu].get() }
    }
}
