//! The two firmware architectures `cargo xtask` builds and boots.

use crate::cli::{DEFAULT_SMP, DEFAULT_SMP_X86};

/// Which firmware and QEMU a boot uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Arch {
    /// Arm CCA: qemu-system-aarch64 `virt`, EL3 monitor + RMM + NS host.
    #[default]
    Aarch64,
    /// TDX module shim: qemu-system-x86_64 `q35` with `-bios`.
    X86_64,
}

impl Arch {
    pub fn from_name(name: &str) -> Option<Arch> {
        match name {
            "aarch64" => Some(Arch::Aarch64),
            "x86_64" => Some(Arch::X86_64),
            _ => None,
        }
    }

    /// The QEMU system emulator for this architecture.
    pub fn qemu_bin(self) -> &'static str {
        match self {
            Arch::Aarch64 => "qemu-system-aarch64",
            Arch::X86_64 => "qemu-system-x86_64",
        }
    }

    /// `-smp` of `run` when `--smp` is not given.
    pub fn default_smp(self) -> u32 {
        match self {
            Arch::Aarch64 => DEFAULT_SMP,
            Arch::X86_64 => DEFAULT_SMP_X86,
        }
    }
}
