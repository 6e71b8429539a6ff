//! The RMM console: the first UART of the boot manifest (a PL011 on QEMU and
//! FVP), mapped Device / Non-secure PAS by `mmu.rs`. Only used once the MMU is
//! on (rmm-el3-interface.md §9: no logging before the MMU is on).

use arm_rt::pl011::Pl011;
use arm_rt::sync::SpinLock;
use core::fmt;

static CONSOLE: SpinLock<Option<Pl011>> = SpinLock::new(None);

/// Start printing to the PL011 at `base` (already mapped).
pub fn init(base: u64) {
    *CONSOLE.lock() = Some(Pl011::new(base));
}

pub fn print(args: fmt::Arguments<'_>) {
    if let Some(uart) = CONSOLE.lock().as_mut() {
        let _ = fmt::Write::write_fmt(uart, args);
    }
}

macro_rules! println {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!("RMM: {}\n", format_args!($($arg)*)))
    };
}
pub(crate) use println;
