//! Ending a QEMU run through `-device isa-debug-exit,iobase=0xf4,iosize=0x04`
//! (qemu-platforms.md §3.4): writing v makes QEMU exit with (v << 1) | 1.
//! The exit is asynchronous, so the CPU halts right after the write.

use crate::arch::{self, Port};

const DEBUG_EXIT: Port = Port(0xF4);

/// Values written to the isa-debug-exit port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Every check passed: QEMU status 33.
    Success = 0x10,
    /// At least one check failed: QEMU status 35.
    Failure = 0x11,
    /// Unexpected exception or panic: QEMU status 37.
    Fatal = 0x12,
}

impl ExitCode {
    /// The exit status QEMU reports for this code.
    pub const fn qemu_status(self) -> i32 {
        ((self as i32) << 1) | 1
    }
}

/// Stops QEMU with `code` and halts this CPU. Without the device (a plain
/// `-bios` boot) this only halts.
pub fn exit(code: ExitCode) -> ! {
    arch::outb(DEBUG_EXIT, code as u8);
    arch::halt_forever()
}
