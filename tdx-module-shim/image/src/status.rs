//! TDX module ABI 1.5 constants used by the dispatcher: completion status
//! codes (tdx-module-abi.md §3), operand IDs (§3) and host leaf numbers
//! (§2).

/// A SEAMCALL/TDCALL completion status (RAX on return).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u64);

impl Status {
    pub const SUCCESS: Status = Status(0x0000_0000_0000_0000);
    pub const OPERAND_INVALID: Status = Status(0xC000_0100_0000_0000);
    pub const SYS_INIT_NOT_PENDING: Status = Status(0xC000_0500_0000_0000);
    /// LP.INIT before SYS.INIT. NOT in tdx-module-abi.md §3: taken from the
    /// gap between SYS_INIT_NOT_PENDING (…0500) and SYS_LP_INIT_NOT_DONE
    /// (…0502). Unconfirmed: check `tdx_error_codes_defs.h`.
    pub const SYSINIT_NOT_DONE: Status = Status(0xC000_0501_0000_0000);
    pub const SYS_LP_INIT_DONE: Status = Status(0xC000_0503_0000_0000);
    pub const SYS_NOT_READY: Status = Status(0xC000_0505_0000_0000);

    /// `self` with an operand ID added into bits 31:0 (§3).
    pub const fn with_operand(self, op: Operand) -> Status {
        Status(self.0 + op as u64)
    }
}

/// Operand IDs (§3 table; GPRs 0..15).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Operand {
    Rax = 0,
    Rcx = 1,
}

/// Host (SEAMCALL) leaf numbers used by name (§2).
pub mod leaf {
    pub const TDH_MNG_CREATE: u16 = 9;
    pub const TDH_SYS_INFO: u16 = 32;
    pub const TDH_SYS_INIT: u16 = 33;
    pub const TDH_SYS_LP_INIT: u16 = 35;
    /// A number no TDX module defines.
    pub const UNDEFINED: u16 = 99;
}

/// Guest (TDCALL) leaf numbers used by name (§8).
pub mod guest_leaf {
    pub const TDG_VP_INFO: u16 = 1;
}

/// Leaves legal before SYS_READY (§1): SYS.INFO, SYS.RD, SYS.RDALL,
/// SYS.INIT, SYS.LP.INIT, SYS.CONFIG, SYS.KEY.CONFIG, SYS.LP.SHUTDOWN,
/// SYS.UPDATE.
pub const PRE_READY_LEAVES: [u16; 9] = [32, 34, 37, 33, 35, 45, 31, 44, 53];

/// Leaves that accept a version > 0 (§1): SEPT.ADD, MNG.RD, VP.INIT,
/// PAGE.PROMOTE, VP.RD, SEPT.REMOVE. The highest version is 1.
pub const VERSIONED_LEAVES: [u16; 6] = [3, 11, 22, 23, 26, 30];

/// Whether `leaf` is a host leaf of ABI 1.5 (§2, including the ones the
/// sheet lists as not needed, and the debug leaf 0xFE).
pub fn is_host_leaf(leaf: u16) -> bool {
    matches!(leaf, 0..=45 | 48 | 49 | 52 | 53 | 64..=75 | 80..=87 | 96 | 0xFE)
}
