//! The GHCI instruction calls and ReportFatalError as the QEMU VMM serves
//! them (td_vmm.rs; tdx-module-abi.md §9): what KVM does in the kernel for
//! a TD's #VE handler.
//!
//! - <Instruction.CPUID> (R11 = 10): R12 = EAX, R13 = ECX in; R12..R15 =
//!   EAX, EBX, ECX, EDX out, the CPU's own CPUID (the VMM passes it
//!   through).
//! - <Instruction.HLT> (R11 = 12): R12 = interrupts-blocked flag. The vCPU
//!   would sleep until an interrupt; the VMM has none to wait for, so it
//!   counts the halt and resumes the vCPU at once, as after a wake-up.
//! - <#VE.RequestMMIO> (R11 = 48): R12 = size (1, 2, 4, 8), R13 = direction
//!   (0 read, 1 write), R14 = GPA, R15 = value to write; R11 = value read.
//!   The GPA must be shared and the access must not cross a page (as KVM
//!   checks). The VMM emulates one device page at [`MMIO_BASE`]: an ID
//!   register at +0 ("CMONMMIO", read-only) and a scratch register at +8;
//!   the rest reads 0 and ignores writes. An access that crosses a
//!   register, or a GPA outside the page, is INVALID_OPERAND.
//! - ReportFatalError (R11 = 0x10003): R12 = error code, R13 = GPA (if R12
//!   bit 63), a 64-byte message in R14, R15, RBX, RDI, RSI, R8, R9, RDX.
//!   The VMM records it and stops running the vCPU (KVM exits to the VMM
//!   user space with a crash event; QEMU stops the guest).

use tdx_module_shim::enter::{Gprs, gpr};

use crate::td_mem::vmcall_status::{INVALID_OPERAND, SUCCESS};
use crate::vmm::PAGE;

pub const CPUID: u64 = 10;
pub const HLT: u64 = 12;
pub const MMIO: u64 = 48;
pub const REPORT_FATAL_ERROR: u64 = 0x10003;

/// The emulated device page (a shared GPA).
pub const MMIO_BASE: u64 = crate::td_mem::SHARED | 0xFE00_0000;
/// The ID register's value.
pub const MMIO_ID: u64 = u64::from_le_bytes(*b"CMONMMIO");

/// A TD's ReportFatalError.
#[derive(Debug, Clone, Copy)]
pub struct Fatal {
    pub code: u64,
    pub gpa: u64,
    pub message: [u8; 64],
}

impl Fatal {
    /// The message up to its first NUL.
    pub fn text(&self) -> &str {
        let n = self.message.iter().position(|&b| b == 0).unwrap_or(64);
        core::str::from_utf8(&self.message[..n]).unwrap_or("?")
    }
}

/// What the VMM keeps for one vCPU's GHCI calls.
#[derive(Debug, Default)]
pub struct Ghci {
    pub scratch: u64,
    pub cpuids: u64,
    pub halts: u64,
    pub mmio: u64,
    pub fatal: Option<Fatal>,
}

/// Whether this module serves GHCI sub-function `sub`.
pub fn serves(sub: u64) -> bool {
    matches!(sub, CPUID | HLT | MMIO | REPORT_FATAL_ERROR)
}

impl Ghci {
    /// Serve `sub` for a vCPU whose TDG.VP.VMCALL registers are `v`:
    /// R10 = status and the outputs. Returns false after ReportFatalError
    /// (the vCPU must not run again).
    pub fn serve(&mut self, sub: u64, v: &mut Gprs) -> bool {
        match sub {
            CPUID => {
                self.cpuids += 1;
                let r = core::arch::x86_64::__cpuid_count(v[gpr::R12] as u32, v[gpr::R13] as u32);
                v[gpr::R12] = u64::from(r.eax);
                v[gpr::R13] = u64::from(r.ebx);
                v[gpr::R14] = u64::from(r.ecx);
                v[gpr::R15] = u64::from(r.edx);
                v[gpr::R10] = SUCCESS;
            }
            HLT => {
                self.halts += 1;
                v[gpr::R10] = SUCCESS;
            }
            MMIO => {
                self.mmio += 1;
                let (size, write, gpa, value) =
                    (v[gpr::R12], v[gpr::R13], v[gpr::R14], v[gpr::R15]);
                match self.mmio_access(size, write, gpa, value) {
                    Some(read) => {
                        v[gpr::R11] = read;
                        v[gpr::R10] = SUCCESS;
                    }
                    None => v[gpr::R10] = INVALID_OPERAND,
                }
            }
            REPORT_FATAL_ERROR => {
                let mut message = [0u8; 64];
                let regs = [
                    gpr::R14,
                    gpr::R15,
                    gpr::RBX,
                    gpr::RDI,
                    gpr::RSI,
                    gpr::R8,
                    gpr::R9,
                    gpr::RDX,
                ];
                for (m, &r) in message.chunks_exact_mut(8).zip(&regs) {
                    m.copy_from_slice(&v[r].to_le_bytes());
                }
                self.fatal = Some(Fatal {
                    code: v[gpr::R12],
                    gpa: v[gpr::R13],
                    message,
                });
                return false;
            }
            _ => v[gpr::R10] = INVALID_OPERAND,
        }
        true
    }

    /// One MMIO access to the device page; the value read (0 for a
    /// write), or `None` if the access is invalid.
    fn mmio_access(&mut self, size: u64, write: u64, gpa: u64, value: u64) -> Option<u64> {
        let shared = crate::td_mem::SHARED;
        let sized = matches!(size, 1 | 2 | 4 | 8) && write <= 1;
        let one_page = gpa
            .checked_add(size - 1)
            .is_some_and(|e| e / PAGE == gpa / PAGE);
        if !sized || gpa & shared == 0 || !one_page {
            return None;
        }
        let off = gpa.checked_sub(MMIO_BASE).filter(|&o| o < PAGE)?;
        let (reg, shift) = (off / 8, 8 * (off % 8));
        if off % 8 + size > 8 {
            return None;
        }
        let mask = if size == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * size)) - 1
        };
        let cur = match reg {
            0 => MMIO_ID,
            1 => self.scratch,
            _ => 0,
        };
        if write == 1 {
            if reg == 1 {
                self.scratch = (cur & !(mask << shift)) | ((value & mask) << shift);
            }
            return Some(0);
        }
        Some((cur >> shift) & mask)
    }
}
