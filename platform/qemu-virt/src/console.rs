//! PL011 console (UART0, shared with the RMM and the NS world). QEMU's PL011
//! needs no initialisation: poll FR.TXFF and write DR (qemu-platforms.md §2.3).

use crate::arch::{mmio_read32, mmio_write32};
use crate::layout::UART0_BASE;
use crate::sync::SpinLock;
use core::fmt;

const DR: u64 = 0x00;
const FR: u64 = 0x18;
const FR_TXFF: u32 = 1 << 5;

pub struct Uart;

impl Uart {
    fn put(&mut self, b: u8) {
        while mmio_read32(UART0_BASE + FR) & FR_TXFF != 0 {}
        mmio_write32(UART0_BASE + DR, b as u32);
    }
}

impl fmt::Write for Uart {
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

pub static CONSOLE: SpinLock<Uart> = SpinLock::new(Uart);

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
