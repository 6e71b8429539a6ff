//! The one `Module` instance of the image. The module logic has no
//! globals; the image keeps the object in this write-once cell (as the Arm
//! RMM image does in rmm/image/src/global.rs). The cell lives in .bss and
//! the module is built in place (`Module::new` runs on the BSP's stack, so
//! the BSP stack must hold one `Module`; main.rs checks the size).

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU8, Ordering};

use tdx_module_shim::Module;

use crate::platform::ShimPlatform;

pub type ShimModule = Module<ShimPlatform>;

const EMPTY: u8 = 0;
const WRITING: u8 = 1;
const READY: u8 = 2;

pub struct Global {
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<ShimModule>>,
}

// SAFETY: `value` is written once, by the CPU that moved `state` from EMPTY
// to WRITING, before READY is published with Release; it is only read
// after READY is observed with Acquire and never written again. The module
// is Sync.
unsafe impl Sync for Global {}

pub static MODULE: Global = Global {
    state: AtomicU8::new(EMPTY),
    value: UnsafeCell::new(MaybeUninit::uninit()),
};

impl Global {
    /// Stores the module (once); `false` if it was already set.
    pub fn set(&'static self, m: ShimModule) -> bool {
        if self
            .state
            .compare_exchange(EMPTY, WRITING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        // SAFETY: the CAS above makes this CPU the only writer, and nothing
        // reads before READY.
        unsafe { (*self.value.get()).write(m) };
        self.state.store(READY, Ordering::Release);
        true
    }

    /// The module, once set.
    pub fn get(&'static self) -> Option<&'static ShimModule> {
        if self.state.load(Ordering::Acquire) != READY {
            return None;
        }
        // SAFETY: published by `set` and never written again.
        Some(unsafe { (*self.value.get()).assume_init_ref() })
    }
}
