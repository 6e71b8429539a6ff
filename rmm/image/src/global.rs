//! The one `Rmm` instance of the image. The monitor logic has no globals;
//! the arch glue must keep the object somewhere all CPUs can reach, and this
//! write-once cell is that place.

use crate::platform::ArmPlatform;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};
use rmm::Rmm;

pub type Monitor = Rmm<'static, ArmPlatform>;

pub struct Global {
    ready: AtomicBool,
    value: UnsafeCell<MaybeUninit<Monitor>>,
}

// SAFETY: `value` is written once (before `ready` is published with
// Release) and only read after `ready` is observed with Acquire; `Monitor`
// is Sync.
unsafe impl Sync for Global {}

pub static RMM: Global = Global {
    ready: AtomicBool::new(false),
    value: UnsafeCell::new(MaybeUninit::uninit()),
};

impl Global {
    /// Store the monitor (cold boot, once).
    pub fn set(&'static self, m: Monitor) -> &'static Monitor {
        if self.ready.load(Ordering::Acquire) {
            crate::fatal(format_args!("monitor initialised twice"));
        }
        // SAFETY: not yet published, and only the cold-boot CPU runs now.
        unsafe { (*self.value.get()).write(m) };
        self.ready.store(true, Ordering::Release);
        self.get()
            .unwrap_or_else(|| crate::fatal(format_args!("monitor missing")))
    }

    pub fn get(&'static self) -> Option<&'static Monitor> {
        if !self.ready.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: published by `set` and never written again.
        Some(unsafe { (*self.value.get()).assume_init_ref() })
    }
}
