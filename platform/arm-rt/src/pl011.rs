//! Transmit-only PL011 UART writer. QEMU's and FVP's PL011 need no set-up
//! for output: poll FR.TXFF, write DR (qemu-platforms.md §2.3).

use core::fmt;

const DR: u64 = 0x00;
const FR: u64 = 0x18;
const FR_TXFF: u32 = 1 << 5;

/// A PL011 at `base`, which the caller has mapped as Device memory (or runs
/// with the MMU off).
#[derive(Debug, Clone, Copy)]
pub struct Pl011 {
    base: u64,
}

impl Pl011 {
    /// A writer for the UART at `base`.
    pub const fn new(base: u64) -> Self {
        Self { base }
    }

    fn put(&self, b: u8) {
        // SAFETY: `base` is a PL011 the caller owns for output (constructor
        // contract); FR and DR are registers in its first page, and volatile
        // MMIO accesses to them have no effect on Rust-visible memory.
        unsafe {
            while core::ptr::read_volatile((self.base + FR) as *const u32) & FR_TXFF != 0 {}
            core::ptr::write_volatile((self.base + DR) as *mut u32, b as u32);
        }
    }
}

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
