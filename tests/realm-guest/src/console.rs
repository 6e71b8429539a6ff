//! Output through the PL011 the host emulates at the unprotected alias
//! `layout::UART_IPA` (mapped Device-nGnRE). Every register access is an
//! emulatable data abort the host completes; the driver is the same one
//! the monitors use on the real UART.

use arm_rt::pl011::Pl011;
use core::fmt;

use crate::layout::UART_IPA;

pub fn print(args: fmt::Arguments<'_>) {
    let _ = fmt::Write::write_fmt(&mut Pl011::new(UART_IPA), args);
}

macro_rules! println {
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
pub(crate) use println;
