//! COM1 (16550 at I/O port 0x3F8) console. QEMU puts it on stdio with
//! `-nographic` and it needs no initialisation: poll LSR (0x3FD) bit 5
//! (THR empty), then write THR (qemu-platforms.md §3.1).

use core::fmt::{self, Write};

use crate::arch::{self, Port};
use crate::sync::ReentrantSpin;

const THR: Port = Port(0x3F8);
const LSR: Port = Port(0x3FD);
const LSR_THR_EMPTY: u8 = 1 << 5;

static LOCK: ReentrantSpin = ReentrantSpin::new();

/// Writes one byte, waiting for the transmitter.
pub fn write_byte(b: u8) {
    while arch::inb(LSR) & LSR_THR_EMPTY == 0 {
        core::hint::spin_loop();
    }
    arch::outb(THR, b);
}

/// The COM1 writer; `\n` becomes `\r\n`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Com1;

impl Write for Com1 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                write_byte(b'\r');
            }
            write_byte(b);
        }
        Ok(())
    }
}

/// Prints `args` as one unit (lines of different CPUs never interleave).
pub fn print(args: fmt::Arguments<'_>) {
    LOCK.with(crate::cpu::current_index(), || {
        let _ = Com1.write_fmt(args);
    });
}

/// `print!` to COM1.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::serial::print(format_args!($($arg)*)) };
}

/// `println!` to COM1.
#[macro_export]
macro_rules! println {
    () => { $crate::serial::print(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::serial::print(format_args!("{}\n", format_args!($($arg)*))) };
}
