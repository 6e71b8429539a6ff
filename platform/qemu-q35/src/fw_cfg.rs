//! QEMU fw_cfg over I/O ports (QEMU docs/specs/fw_cfg.rst): write a 16-bit
//! key to the selector port 0x510, then read the item byte by byte from the
//! data port 0x511.
//!
//! The CPU count comes from FW_CFG_NB_CPUS (key 0x05, little-endian u16),
//! which QEMU sets to the number of CPUs present at boot (`-smp N`). The
//! ACPI MADT is not used: under `-bios` QEMU only offers ACPI as fw_cfg
//! files plus a loader script (`etc/table-loader`) that firmware must run,
//! so there is no MADT in memory to read.

use crate::arch::{self, Port};

const SELECTOR: Port = Port(0x510);
const DATA: Port = Port(0x511);

/// A fw_cfg item key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key(pub u16);

pub const SIGNATURE: Key = Key(0x0000);
pub const NB_CPUS: Key = Key(0x0005);

/// Reads the first `N` bytes of item `key`.
pub fn read<const N: usize>(key: Key) -> [u8; N] {
    arch::outw(SELECTOR, key.0);
    let mut out = [0u8; N];
    for b in &mut out {
        *b = arch::inb(DATA);
    }
    out
}

/// Whether the fw_cfg device answers with the "QEMU" signature.
pub fn present() -> bool {
    read::<4>(SIGNATURE) == *b"QEMU"
}

/// Number of CPUs QEMU started with, or `None` without fw_cfg.
pub fn cpu_count() -> Option<u16> {
    present().then(|| u16::from_le_bytes(read::<2>(NB_CPUS)))
}
