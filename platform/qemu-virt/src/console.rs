//! PL011 console (UART0, shared with the RMM and the NS world).

use crate::layout::UART0_BASE;
use arm_rt::pl011::Pl011;
use arm_rt::sync::SpinLock;
use core::fmt;

pub static CONSOLE: SpinLock<Pl011> = SpinLock::new(Pl011::new(UART0_BASE));

pub fn print(args: fmt::Arguments<'_>) {
    use fmt::Write;
    let _ = CONSOLE.lock().write_fmt(args);
}

macro_rules! println {
    ($($arg:tt)*) => {
        $crate::console::print(format_args!("EL3: {}\n", format_args!($($arg)*)))
    };
}
pub(crate) use println;
