//! The RMM console: the first UART of the boot manifest (a PL011 on QEMU and
//! FVP), mapped Device / Non-secure PAS by `mmu.rs`. Only used once the MMU is
//! on (rmm-el3-interface.md §9: no logging before the MMU is on).

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const DR: u64 = 0x00;
const FR: u64 = 0x18;
const FR_TXFF: u32 = 1 << 5;

static BASE: AtomicU64 = AtomicU64::new(0);
static LOCK: AtomicBool = AtomicBool::new(false);

pub fn init(base: u64) {
    BASE.store(base, Ordering::Release);
}

struct Pl011(u64);

impl fmt::Write for Pl011 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.put(b'\r');
            }
            self.put(b);
        }
        Ok(())
    }
}

impl Pl011 {
    fn put(&self, b: u8) {
        // SAFETY: `self.0` is the manifest console base, mapped as Device
        // memory by mmu.rs before `init` is called; FR and DR are PL011
        // registers within its first page.
        unsafe {
            while core::ptr::read_volatile((self.0 + FR) as *const u32) & FR_TXFF != 0 {}
            core::ptr::write_volatile((self.0 + DR) as *mut u32, b as u32);
        }
    }
}

pub fn print(args: fmt::Arguments<'_>) {
    let base = BASE.load(Ordering::Acquire);
    if base == 0 {
        return;
    }
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    let _ = fmt::Write::write_fmt(&mut Pl011(base), args);
    LOCK.store(false, Ordering::Release);
}

macro_rules! println {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!("RMM: {}\n", format_args!($($arg)*)))
    };
}
pub(crate) use println;
