//! The two functions a firmware image built on this crate must define
//! (with `#[unsafe(no_mangle)]` and exactly these signatures):
//!
//! ```ignore
//! #[unsafe(no_mangle)]
//! fn q35_image_main(cpu: qemu_q35::CpuIndex) -> !;          // every CPU, after its GDT/IDT
//! #[unsafe(no_mangle)]
//! fn q35_image_trap(frame: &mut qemu_q35::idt::TrapFrame) -> qemu_q35::idt::TrapOutcome;
//! ```

use crate::cpu::CpuIndex;
use crate::idt::{TrapFrame, TrapOutcome};

// SAFETY: the image defines both symbols with these Rust signatures (link
// fails otherwise); they are ordinary safe Rust functions.
unsafe extern "Rust" {
    safe fn q35_image_main(cpu: CpuIndex) -> !;
    safe fn q35_image_trap(frame: &mut TrapFrame) -> TrapOutcome;
}

pub(crate) fn main(cpu: CpuIndex) -> ! {
    q35_image_main(cpu)
}

pub(crate) fn trap(frame: &mut TrapFrame) -> TrapOutcome {
    q35_image_trap(frame)
}
