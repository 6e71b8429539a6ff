//! AArch64 stage-1 translation table builder for EL3 and R-EL2.
//!
//! Builds VMSAv8-64 stage-1 tables with the 4 KiB granule and 48-bit output
//! addresses in a caller-provided pool of [`Table`]s (no allocator). The
//! caller — the EL3 monitor or the RMM at R-EL2, both identity mapped — then
//! programs `MAIR_ELx` ([`mair_value`]), `TCR_ELx` ([`tcr_el3`] /
//! [`tcr_el2`]), `TTBR0_ELx` ([`PageTables::root_pa`]) and finally sets the
//! bits from [`sctlr_mmu_on_bits`] in `SCTLR_ELx`.
//!
//! References are to the Arm ARM (DDI 0487 K.a): D8.2 (translation process),
//! D8.3 (descriptor formats), D8.4 (access control) and the `TCR_EL2`,
//! `TCR_EL3`, `MAIR_ELx` and `SCTLR_ELx` register descriptions.
//!
//! Table walks use the attributes programmed in TCR (Normal WB, inner
//! shareable) and the PAS of the regime (Root at EL3, Realm at R-EL2), so the
//! pool must sit in memory whose GPT entry lets that PAS access it.
//!
//! ```
//! use arm_paging::{Access, Attrs, MemType, PageTables, Pas, Regime, Table};
//!
//! let mut pool = [Table::ZERO, Table::ZERO, Table::ZERO];
//! let mut pt = PageTables::new(&mut pool, 0x0E01_0000, Regime::El3, 39)?;
//! let uart = Attrs {
//!     mem: MemType::Device,
//!     access: Access::ReadWrite,
//!     exec: false,
//!     pas: Pas::NonSecure,
//! };
//! pt.map(0x0800_0000, 0x0800_0000, 0x0600_0000, uart)?; // 48 x 2 MiB blocks
//! assert_eq!(pt.translate(0x0900_0004), Some((0x0900_0004, uart, 2)));
//! assert_eq!(arm_paging::tcr_el3(39, 2)?, 0x8082_3519); // then TTBR0_EL3 = pt.root_pa()
//! # Ok::<(), arm_paging::MapError>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]

mod desc;
mod regs;
mod tables;

pub use desc::{INVALID, page_descriptor};
pub use regs::{MAIR_IDX_DEVICE, MAIR_IDX_NORMAL, mair_value, sctlr_mmu_on_bits, tcr_el2, tcr_el3};
pub use tables::PageTables;

/// Number of 64-bit entries in a 4 KiB translation table.
pub const ENTRIES: usize = 512;

/// Size in bytes of one translation table (and of the smallest page).
pub const TABLE_SIZE: u64 = 4096;

/// One 4 KiB translation table: 512 descriptors, 4 KiB aligned as required
/// for a next-level table address (Arm ARM D8.3, table descriptor).
///
/// `repr(C, align(4096))` so callers can declare a pool in `.bss`, e.g.
/// `static mut POOL: [Table; 16] = [Table::ZERO; 16];`.
#[repr(C, align(4096))]
#[derive(Clone, PartialEq, Eq)]
pub struct Table(pub [u64; ENTRIES]);

impl Table {
    /// A table whose entries are all [`INVALID`].
    pub const ZERO: Table = Table([INVALID; ENTRIES]);
}

impl Default for Table {
    fn default() -> Self {
        Self::ZERO
    }
}

impl core::fmt::Debug for Table {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let valid = self.0.iter().filter(|d| **d & 1 != 0).count();
        write!(f, "Table {{ valid_entries: {valid} }}")
    }
}

/// Stage-1 translation regime the tables are built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    /// EL3 regime (`TTBR0_EL3`). With FEAT_RME, descriptor bits {NSE, NS}
    /// select one of four physical address spaces.
    El3,
    /// Non-VHE EL2 regime (`TTBR0_EL2`, `HCR_EL2.E2H == 0`), as used by the
    /// RMM at R-EL2. Only NS exists: Realm or Non-secure PAS.
    El2,
}

/// Memory type, selected through the `MAIR_ELx` index in `AttrIndx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemType {
    /// Normal memory, inner and outer Write-Back Read-Allocate
    /// Write-Allocate non-transient, inner shareable.
    Normal,
    /// Device-nGnRE memory (outer shareable, always execute-never).
    Device,
}

/// Data access permission (`AP[2]`; EL2/EL3 have a single privilege level).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Reads only; writes fault.
    ReadOnly,
    /// Reads and writes.
    ReadWrite,
}

/// Output physical address space of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pas {
    /// Secure PAS ({NSE, NS} = 00, EL3 only).
    Secure,
    /// Non-secure PAS ({NSE, NS} = 01 at EL3; NS = 1 at R-EL2).
    NonSecure,
    /// Root PAS ({NSE, NS} = 10, EL3 only).
    Root,
    /// Realm PAS ({NSE, NS} = 11 at EL3; NS = 0 at R-EL2).
    Realm,
}

/// Attributes of one mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attrs {
    /// Memory type.
    pub mem: MemType,
    /// Data access permission.
    pub access: Access,
    /// Instruction fetch allowed. Ignored (forced off) for [`MemType::Device`];
    /// rejected together with [`Access::ReadWrite`] because
    /// [`sctlr_mmu_on_bits`] sets `WXN`.
    pub exec: bool,
    /// Output physical address space.
    pub pas: Pas,
}

/// Errors from table construction and the register helpers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// `va_bits` outside 32..=48.
    InvalidVaBits(u32),
    /// PA size encoding outside 0..=5 (32..=48 bits; 52-bit needs LPA2).
    InvalidPaSize(u8),
    /// The pool holds no table.
    EmptyPool,
    /// VA, PA or size (or `pool_pa`) is not a multiple of 4 KiB.
    Misaligned,
    /// `size` is zero.
    ZeroSize,
    /// The VA range does not fit in `2^va_bits`.
    VaOutOfRange,
    /// The PA range (or the pool) does not fit in 48 bits.
    PaOutOfRange,
    /// The PAS cannot be expressed in this regime (Secure/Root at EL2).
    InvalidPas,
    /// Writable and executable at once (incompatible with `SCTLR.WXN`).
    WritableExecutable,
    /// Not enough free tables left in the pool; nothing was changed.
    PoolExhausted,
}

impl core::fmt::Display for MapError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            MapError::InvalidVaBits(b) => write!(f, "va_bits {b} not in 32..=48"),
            MapError::InvalidPaSize(p) => write!(f, "PA size encoding {p} not in 0..=5"),
            MapError::EmptyPool => f.write_str("empty table pool"),
            MapError::Misaligned => f.write_str("address or size not 4 KiB aligned"),
            MapError::ZeroSize => f.write_str("zero-sized mapping"),
            MapError::VaOutOfRange => f.write_str("VA range outside the address space"),
            MapError::PaOutOfRange => f.write_str("PA range beyond 48 bits"),
            MapError::InvalidPas => f.write_str("PAS not available in this regime"),
            MapError::WritableExecutable => f.write_str("writable and executable mapping"),
            MapError::PoolExhausted => f.write_str("translation table pool exhausted"),
        }
    }
}

impl core::error::Error for MapError {}
